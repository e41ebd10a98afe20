//! Numeric precisions of weights and of the KV cache, and their storage cost.

use crate::error::{invalid, CoreError};

/// Precision names in code order; the code of a precision is its index here.
pub const PRECISION_NAMES: [&str; 5] = ["fp16", "bf16", "fp8", "int8", "int4"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    Fp16,
    Bf16,
    Fp8,
    Int8,
    Int4,
}

/// int4 weight-only formats (GPTQ, AWQ) store one fp16 scale and one fp16 zero point per group
/// of 128 weights: 4 extra bytes per 128 weights.
pub const INT4_GROUP_OVERHEAD_BYTES: f64 = 4.0 / 128.0;

impl Precision {
    pub fn from_code(code: i64) -> Result<Self, CoreError> {
        match code {
            0 => Ok(Precision::Fp16),
            1 => Ok(Precision::Bf16),
            2 => Ok(Precision::Fp8),
            3 => Ok(Precision::Int8),
            4 => Ok(Precision::Int4),
            _ => invalid(format!(
                "precision code {code} is not one of 0..{} ({})",
                PRECISION_NAMES.len() - 1,
                PRECISION_NAMES.join(", ")
            )),
        }
    }

    pub fn name(self) -> &'static str {
        PRECISION_NAMES[self as usize]
    }

    /// Bytes per stored weight of a quantised linear layer.
    pub fn weight_bytes(self) -> f64 {
        match self {
            Precision::Fp16 | Precision::Bf16 => 2.0,
            Precision::Fp8 | Precision::Int8 => 1.0,
            Precision::Int4 => 0.5 + INT4_GROUP_OVERHEAD_BYTES,
        }
    }

    /// Bytes per KV-cache element (scales of fp8/int8 caches are per tensor: negligible).
    pub fn kv_bytes(self) -> f64 {
        match self {
            Precision::Fp16 | Precision::Bf16 => 2.0,
            Precision::Fp8 | Precision::Int8 => 1.0,
            Precision::Int4 => 0.5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (code, name) in PRECISION_NAMES.iter().enumerate() {
            assert_eq!(Precision::from_code(code as i64).unwrap().name(), *name);
        }
        assert!(Precision::from_code(5).is_err());
        assert!(Precision::from_code(-1).is_err());
    }

    #[test]
    fn int4_carries_group_scales() {
        assert_eq!(Precision::Int4.weight_bytes(), 0.53125);
        assert_eq!(Precision::Int4.kv_bytes(), 0.5);
    }
}
