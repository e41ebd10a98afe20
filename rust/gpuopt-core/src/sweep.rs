//! Sweeps: every configuration of a full factorial, fitted, timed and priced in one pass, and
//! Pareto fronts over any objectives.
//!
//! The grid is never materialised: row i is the mixed-radix decoding of i (last axis fastest).
//! The per-(model, slot, engine, precisions, tp) work - the roofline coefficients - is built
//! once per run of rows sharing it, so a row costs little more than its prefill and two decode steps.

use rayon::prelude::*;

use crate::arch::{ModelArch, ParamCounts};
use crate::engine::EngineProfile;
use crate::error::{invalid, CoreError};
use crate::estimate::{buildable, estimate_with, EstimateQuery, Roofline};
use crate::columns::{check_count, check_rows, Lookups};
use crate::fit::{MemoryTerms, Verdict};
use crate::gpu::GpuSpec;
use crate::precision::Precision;

pub const SWEEP_COLUMNS: [&str; 8] = [
    "total_bytes",
    "verdict",
    "ttft_ms",
    "tpot_ms",
    "e2e_ms",
    "output_tokens_per_s",
    "usd_per_hour",
    "tokens_per_usd",
];

/// Slot row: GPU_FIELDS, then $/hour of one slot (NaN when unknown) and the delay sharing adds
/// to every request, ms.
pub const SLOT_EXTRA_FIELDS: [&str; 2] = ["usd_per_hour", "request_delay_ms"];

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepSlot {
    pub gpu: GpuSpec,
    pub usd_per_hour: f64,
    pub request_delay_ms: f64,
}

impl SweepSlot {
    pub fn from_row(row: &[f64]) -> Result<Self, CoreError> {
        let n = crate::gpu::GPU_FIELDS.len();
        if row.len() != n + 2 {
            return invalid(format!("a slot row has {} fields, expected {}", row.len(), n + 2));
        }
        let (usd, delay) = (row[n], row[n + 1]);
        if !(usd.is_nan() || (usd >= 0.0 && usd.is_finite())) {
            return invalid(format!("slot usd_per_hour = {usd} must be >= 0 (NaN when unknown)"));
        }
        if !(delay >= 0.0 && delay.is_finite()) {
            return invalid(format!("slot request_delay_ms = {delay} must be finite and >= 0"));
        }
        Ok(SweepSlot { gpu: GpuSpec::from_row(&row[..n])?, usd_per_hour: usd, request_delay_ms: delay })
    }
}

/// One axis per input; every combination is a row.
pub struct SweepAxes<'a> {
    pub model: &'a [i64],
    pub slot: &'a [i64],
    pub engine: &'a [i64],
    pub precision: &'a [i64],
    pub kv_precision: &'a [i64],
    pub tp: &'a [i64],
    pub batch: &'a [i64],
    pub input: &'a [i64],
    pub output: &'a [i64],
}

/// Bytes of results per swept configuration (one f64 per column).
pub const SWEEP_ROW_BYTES: usize = SWEEP_COLUMNS.len() * 8;
const BLOCK: usize = 2048;

impl SweepAxes<'_> {
    fn lens(&self) -> [usize; 9] {
        [
            self.model.len(), self.slot.len(), self.engine.len(), self.precision.len(), self.kv_precision.len(),
            self.tp.len(), self.batch.len(), self.input.len(), self.output.len(),
        ]
    }
}

/// Per-run state: everything that depends only on the outer six axes.
struct Outer {
    key: usize,
    valid: bool,
    model: usize,
    engine: EngineProfile,
    roofline: Option<Roofline>,
    precision: Precision,
    kv: Precision,
    tp: f64,
    capacity: f64,
    usd_per_hour: f64,
}

pub fn sweep_grid(models: &[ModelArch], slots: &[SweepSlot], engines: &[EngineProfile], a: &SweepAxes) -> Result<Vec<f64>, CoreError> {
    let lens = a.lens();
    let n = check_rows("a sweep", lens.iter().try_fold(1usize, |acc, &l| acc.checked_mul(l)), SWEEP_ROW_BYTES)?;
    let lookups = Lookups { model: a.model, gpu: a.slot, engine: a.engine, precision: a.precision, kv_precision: a.kv_precision };
    let d = lookups.check(models.len(), slots.len(), engines.len(), "slot")?;
    for (name, col) in [("tp", a.tp), ("batch", a.batch), ("input", a.input), ("output", a.output)] {
        check_count(name, col)?;
    }
    let params: Vec<ParamCounts> = models.iter().map(ModelArch::params).collect();
    let inner = lens[6] * lens[7] * lens[8];
    let width = SWEEP_COLUMNS.len();
    let mut out = vec![0.0; n * width];
    let outer_of = |key: usize| -> Outer {
        let mut idx = [0usize; 6];
        let mut rest = key;
        for axis in (0..6).rev() {
            idx[axis] = rest % lens[axis];
            rest /= lens[axis];
        }
        let model = a.model[idx[0]] as usize;
        let slot = &slots[a.slot[idx[1]] as usize];
        let mut engine = engines[a.engine[idx[2]] as usize];
        engine.timing.request_overhead_ms += slot.request_delay_ms;
        let precision = d.precision[idx[3]];
        let kv = d.kv_precision[idx[4]];
        let tp = a.tp[idx[5]] as f64;
        let valid = buildable(&models[model], &slot.gpu, tp);
        let roofline = valid.then(|| Roofline::new(&models[model], &params[model], &slot.gpu, &engine, precision, kv, tp));
        Outer {
            key, valid, model, engine, roofline, precision, kv, tp,
            capacity: slot.gpu.memory_bytes * engine.memory.memory_utilization,
            usd_per_hour: slot.usd_per_hour * tp,
        }
    };
    out.par_chunks_mut(width * BLOCK).enumerate().for_each(|(block, rows)| {
        let mut cur: Option<Outer> = None;
        for (k, row) in rows.chunks_mut(width).enumerate() {
            let i = block * BLOCK + k;
            let key = i / inner;
            if cur.as_ref().is_none_or(|c| c.key != key) {
                cur = Some(outer_of(key));
            }
            let o = cur.as_ref().expect("set above");
            let j = i % inner;
            let batch = a.batch[j / (lens[7] * lens[8])] as f64;
            let input = a.input[(j / lens[8]) % lens[7]] as f64;
            let output = a.output[j % lens[8]] as f64;
            let Some(r) = o.roofline.as_ref().filter(|_| o.valid) else {
                row.copy_from_slice(&[f64::NAN, Verdict::Invalid as i8 as f64, f64::NAN, f64::NAN, f64::NAN, 0.0, o.usd_per_hour, f64::NAN]);
                continue;
            };
            let m = &models[o.model];
            let terms = MemoryTerms::with_params(m, &params[o.model], &o.engine.memory, o.precision, o.kv, input + output, o.tp);
            let q = EstimateQuery { precision: o.precision, kv_precision: o.kv, batch, input, output, tp: o.tp };
            let est = estimate_with(r, &o.engine, &terms, o.capacity, &q);
            row.copy_from_slice(&[
                terms.total(batch),
                est.verdict as i8 as f64,
                est.ttft_ms,
                est.tpot_ms,
                est.e2e_ms,
                est.output_tokens_per_s,
                o.usd_per_hour,
                est.output_tokens_per_s * 3600.0 / o.usd_per_hour,
            ]);
        }
    });
    Ok(out)
}

/// Indices of the rows no other row dominates. `objectives` are columns to minimise (negate one
/// to maximise it); rows where any objective is NaN are left out. Sorted lexicographically, a row
/// can only be dominated by one before it, so one pass against the growing front suffices; with
/// two objectives the front is a staircase and the pass is O(n log n).
pub fn pareto(objectives: &[&[f64]]) -> Result<Vec<usize>, CoreError> {
    let k = objectives.len();
    if k == 0 {
        return invalid("pareto needs at least one objective");
    }
    let n = objectives[0].len();
    if objectives.iter().any(|c| c.len() != n) {
        return invalid("pareto objectives differ in length");
    }
    let mut order: Vec<usize> = (0..n).filter(|&i| objectives.iter().all(|c| !c[i].is_nan())).collect();
    order.par_sort_unstable_by(|&x, &y| {
        for c in objectives {
            match c[x].total_cmp(&c[y]) {
                std::cmp::Ordering::Equal => continue,
                other => return other,
            }
        }
        x.cmp(&y)
    });
    let mut front: Vec<usize> = Vec::new();
    if k == 1 {
        let c = objectives[0];
        return Ok(order.iter().copied().take_while(|&i| Some(c[i]) == order.first().map(|&f| c[f])).collect());
    }
    if k == 2 {
        let (a, b) = (objectives[0], objectives[1]);
        let mut best_b = f64::INFINITY;
        let mut last_a = f64::NAN;
        for &i in &order {
            // Strictly better in b than everything before, or a tie with the previous front row.
            if b[i] < best_b {
                front.push(i);
                best_b = b[i];
                last_a = a[i];
            } else if b[i] == best_b && a[i] == last_a {
                front.push(i);
            }
        }
        return Ok(front);
    }
    for &i in &order {
        let dominated = front.iter().any(|&f| {
            let mut strictly = false;
            for c in objectives {
                if c[f] > c[i] {
                    return false;
                }
                strictly |= c[f] < c[i];
            }
            strictly
        });
        if !dominated {
            front.push(i);
        }
    }
    Ok(front)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_two_objectives() {
        let cost = [3.0, 1.0, 2.0, 2.0, 4.0, 1.0];
        let neg_tput = [-10.0, -1.0, -5.0, -4.0, -10.0, -1.0];
        let mut f = pareto(&[&cost, &neg_tput]).unwrap();
        f.sort();
        assert_eq!(f, vec![0, 1, 2, 5]); // 3 and 4 are dominated; 1 and 5 tie
    }

    #[test]
    fn pareto_three_objectives_and_nan() {
        let a = [1.0, 2.0, 3.0, f64::NAN];
        let b = [3.0, 2.0, 1.0, 0.0];
        let c = [1.0, 1.0, 1.0, 0.0];
        let mut f = pareto(&[&a, &b, &c]).unwrap();
        f.sort();
        assert_eq!(f, vec![0, 1, 2]);
        let d = [2.0, 2.0, 0.5, 0.0];
        assert_eq!(pareto(&[&a, &b, &d]).unwrap().len(), 3);
        assert!(pareto(&[]).is_err());
    }
}
