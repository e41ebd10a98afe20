//! An accelerator as the engine sees it: memory, peaks, bandwidths.

use crate::error::{invalid, CoreError};
use crate::precision::Precision;

/// Column order of a GPU row as it crosses the Python boundary. `fp8_tflops` and
/// `interconnect_gb_s` are 0 where the accelerator has none.
pub const GPU_FIELDS: [&str; 5] = ["memory_bytes", "fp16_tflops", "fp8_tflops", "mem_bw_gb_s", "interconnect_gb_s"];

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GpuSpec {
    pub memory_bytes: f64,
    /// Dense fp16/bf16 tensor peak, FLOP/s.
    pub fp16_flops: f64,
    /// Dense fp8 tensor peak, FLOP/s; 0 without fp8 tensor cores.
    pub fp8_flops: f64,
    /// Memory bandwidth, bytes/s.
    pub mem_bw: f64,
    /// GPU-to-GPU bandwidth, bytes/s; 0 when unknown.
    pub link_bw: f64,
}

impl GpuSpec {
    pub fn from_row(row: &[f64]) -> Result<Self, CoreError> {
        if row.len() != GPU_FIELDS.len() {
            return invalid(format!(
                "a gpu row has {} fields, expected {} ({})",
                row.len(),
                GPU_FIELDS.len(),
                GPU_FIELDS.join(", ")
            ));
        }
        for (i, &v) in row.iter().enumerate() {
            let may_be_zero = i == 2 || i == 4;
            if !(v.is_finite() && (v > 0.0 || (may_be_zero && v == 0.0))) {
                return invalid(format!("gpu field {} = {v} must be finite and positive", GPU_FIELDS[i]));
            }
        }
        Ok(GpuSpec {
            memory_bytes: row[0],
            fp16_flops: row[1] * 1e12,
            fp8_flops: row[2] * 1e12,
            mem_bw: row[3] * 1e9,
            link_bw: row[4] * 1e9,
        })
    }

    /// Tensor peak for matrix products at `precision`: fp8 only where the GPU has fp8 tensor
    /// cores; weight-only int8/int4 (and fp8 elsewhere) dequantise and compute at 16 bits.
    pub fn peak_flops(&self, precision: Precision) -> f64 {
        if precision == Precision::Fp8 && self.fp8_flops > 0.0 {
            self.fp8_flops
        } else {
            self.fp16_flops
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp8_peak_only_with_fp8_tensor_cores() {
        let h100 = GpuSpec::from_row(&[80e9, 989.0, 1979.0, 3350.0, 900.0]).unwrap();
        let a100 = GpuSpec::from_row(&[80e9, 312.0, 0.0, 2039.0, 600.0]).unwrap();
        assert_eq!(h100.peak_flops(Precision::Fp8), 1979e12);
        assert_eq!(a100.peak_flops(Precision::Fp8), 312e12);
        assert_eq!(h100.peak_flops(Precision::Int4), 989e12);
    }

    #[test]
    fn rejects_bad_rows() {
        assert!(GpuSpec::from_row(&[80e9, 0.0, 0.0, 1.0, 0.0]).is_err());
        assert!(GpuSpec::from_row(&[f64::NAN, 1.0, 0.0, 1.0, 0.0]).is_err());
        assert!(GpuSpec::from_row(&[1.0, 1.0]).is_err());
    }
}
