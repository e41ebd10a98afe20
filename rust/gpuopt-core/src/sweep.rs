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
use crate::estimate::{batch_times, EstimateQuery, Run};
use crate::columns::{check_count, check_rows, Lookups};
use crate::fit::{verdict_of, Verdict};
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
    /// Where a slot runs its own build of an engine (vllm on an AMD GPU is vllm-rocm): row s of
    /// this slots-table x engine-axis matrix, flattened, gives slot s's engine rows; None, the
    /// engine axis indexes the engine table itself.
    pub slot_engine: Option<&'a [i64]>,
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
    /// None where the run cannot be built.
    run: Option<Run>,
    engine: EngineProfile,
    precision: Precision,
    kv: Precision,
    tp: f64,
    usd_per_hour: f64,
}

/// Evaluates rows of a checked sweep: row i is the mixed-radix decoding of i over the axes.
struct Evaluator<'a> {
    models: &'a [ModelArch],
    slots: &'a [SweepSlot],
    engines: &'a [EngineProfile],
    a: &'a SweepAxes<'a>,
    lens: [usize; 9],
    precision: Vec<Precision>,
    kv_precision: Vec<Precision>,
    params: Vec<ParamCounts>,
    inner: usize,
    rows: usize,
}

impl<'a> Evaluator<'a> {
    fn new(models: &'a [ModelArch], slots: &'a [SweepSlot], engines: &'a [EngineProfile], a: &'a SweepAxes<'a>) -> Result<Self, CoreError> {
        let lens = a.lens();
        let rows = lens.iter().try_fold(1usize, |acc, &l| acc.checked_mul(l));
        let Some(rows) = rows else { return invalid("a sweep's configurations overflow a machine word") };
        let lookups = Lookups { model: a.model, gpu: a.slot, engine: a.engine, precision: a.precision, kv_precision: a.kv_precision };
        let d = lookups.check(models.len(), slots.len(), engines.len(), "slot")?;
        for (name, col) in [("tp", a.tp), ("batch", a.batch), ("input", a.input), ("output", a.output)] {
            check_count(name, col)?;
        }
        if let Some(table) = a.slot_engine {
            if table.len() != slots.len() * a.engine.len() {
                return invalid(format!("slot_engine has {} entries, expected {} slots x {} engines", table.len(), slots.len(), a.engine.len()));
            }
            if let Some(bad) = table.iter().find(|&&e| e < 0 || e as usize >= engines.len()) {
                return invalid(format!("slot_engine entry {bad} does not index the {} engine rows", engines.len()));
            }
        }
        Ok(Evaluator {
            models, slots, engines, a, lens, rows,
            precision: d.precision.to_vec(),
            kv_precision: d.kv_precision.to_vec(),
            params: models.iter().map(ModelArch::params).collect(),
            inner: lens[6] * lens[7] * lens[8],
        })
    }

    fn outer(&self, key: usize) -> Outer {
        let (lens, a) = (&self.lens, self.a);
        let mut idx = [0usize; 6];
        let mut rest = key;
        for axis in (0..6).rev() {
            idx[axis] = rest % lens[axis];
            rest /= lens[axis];
        }
        let model = a.model[idx[0]] as usize;
        let slot_row = a.slot[idx[1]] as usize;
        let slot = &self.slots[slot_row];
        let engine_row = match a.slot_engine {
            Some(table) => table[slot_row * lens[2] + idx[2]],
            None => a.engine[idx[2]],
        };
        let mut engine = self.engines[engine_row as usize];
        engine.timing.request_overhead_ms += slot.request_delay_ms;
        let precision = self.precision[idx[3]];
        let kv = self.kv_precision[idx[4]];
        let tp = a.tp[idx[5]] as f64;
        Outer {
            run: Run::new(&self.models[model], &self.params[model], &slot.gpu, &engine, precision, kv, tp),
            engine, precision, kv, tp,
            usd_per_hour: slot.usd_per_hour * tp,
        }
    }

    /// Rows `first..` into `out` (SWEEP_COLUMNS.len() values per row).
    fn fill(&self, first: usize, out: &mut [f64]) {
        let width = SWEEP_COLUMNS.len();
        let lens = &self.lens;
        // The row's place on the inner axes, decoded once and then counted up, last axis
        // fastest: integer divisions per row cost more than a row's arithmetic saves.
        let (mut key, j) = (first / self.inner, first % self.inner);
        let (mut bi, mut ii, mut oi) = (j / (lens[7] * lens[8]), (j / lens[8]) % lens[7], j % lens[8]);
        let mut o = self.outer(key);
        for row in out.chunks_mut(width) {
            if oi == lens[8] {
                oi = 0;
                ii += 1;
                if ii == lens[7] {
                    ii = 0;
                    bi += 1;
                    if bi == lens[6] {
                        bi = 0;
                        key += 1;
                        o = self.outer(key);
                    }
                }
            }
            let (batch, input, output) = (self.a.batch[bi] as f64, self.a.input[ii] as f64, self.a.output[oi] as f64);
            oi += 1;
            let Some(run) = o.run.as_ref() else {
                row[..6].fill(f64::NAN);
                row[1] = Verdict::Invalid as i8 as f64;
                row[5] = 0.0;
                row[6] = o.usd_per_hour;
                row[7] = f64::NAN;
                continue;
            };
            let terms = run.terms_at(input + output);
            let q = EstimateQuery { precision: o.precision, kv_precision: o.kv, batch, input, output, tp: o.tp };
            // estimate_with's times and verdict, without the breakdown a row does not keep
            let (ttft, tpot, e2e) = batch_times(&run.roofline, &o.engine, &terms, run.capacity, &q);
            let used = terms.total(batch);
            let tokens_per_s = batch * output / (e2e / 1e3);
            // field by field: a copy of an array literal compiles to a memmove call per row
            row[0] = used;
            row[1] = verdict_of(used / run.capacity) as i8 as f64;
            row[2] = ttft;
            row[3] = tpot;
            row[4] = e2e;
            row[5] = tokens_per_s;
            row[6] = o.usd_per_hour;
            row[7] = tokens_per_s * 3600.0 / o.usd_per_hour;
        }
    }
}

pub fn sweep_grid(models: &[ModelArch], slots: &[SweepSlot], engines: &[EngineProfile], a: &SweepAxes) -> Result<Vec<f64>, CoreError> {
    let n = sweep_rows(a)?;
    let mut out = vec![0.0; n * SWEEP_COLUMNS.len()];
    sweep_grid_into(models, slots, engines, a, &mut out)?;
    Ok(out)
}

/// Configurations in a sweep over these axes, within the cap on results.
pub fn sweep_rows(a: &SweepAxes) -> Result<usize, CoreError> {
    check_rows("a sweep", a.lens().iter().try_fold(1usize, |acc, &l| acc.checked_mul(l)), SWEEP_ROW_BYTES)
}

/// As sweep_grid, into `out` (sweep_rows(a) x SWEEP_COLUMNS.len() values): the caller owns the
/// memory (the bindings hand numpy's, which large arrays back with huge pages).
pub fn sweep_grid_into(models: &[ModelArch], slots: &[SweepSlot], engines: &[EngineProfile], a: &SweepAxes, out: &mut [f64]) -> Result<(), CoreError> {
    let ev = Evaluator::new(models, slots, engines, a)?;
    let width = SWEEP_COLUMNS.len();
    if out.len() != check_rows("a sweep", Some(ev.rows), SWEEP_ROW_BYTES)? * width {
        return invalid(format!("a sweep of {} rows needs {} values of output, got {}", ev.rows, ev.rows * width, out.len()));
    }
    out.par_chunks_mut(width * BLOCK).enumerate().for_each(|(block, rows)| ev.fill(block * BLOCK, rows));
    Ok(())
}

/// What a streamed sweep keeps of its rows.
#[derive(Clone, Debug, PartialEq)]
pub enum Keep {
    /// The rows no other row dominates on these (column, sign) objectives, each minimised after
    /// multiplying by its sign (-1 maximises).
    Pareto(Vec<(usize, f64)>),
    /// The `k` rows smallest in (column x sign), ties to the lower row index.
    Top { column: usize, sign: f64, k: usize },
}

/// Rows a streamed sweep evaluates at a time, per thread.
const STREAM_BLOCK: usize = 1 << 16;
/// Most rows a streamed sweep may return (a front or a top-k larger than this is a mistake).
pub const MAX_KEPT: usize = 10_000_000;
/// Most rows a streamed sweep may evaluate: its memory is flat, its time is not (~1 minute a
/// billion rows per core).
pub const MAX_STREAMED: usize = 10_000_000_000;

/// The sweep, reduced while it is evaluated: each block of rows keeps its own front (or top k),
/// then the blocks' survivors are reduced once more, so memory follows the survivors, not the
/// grid. Rows whose verdict is no-fit or invalid are left out where `feasible_only`, and rows
/// with a NaN objective always. Returns (row indices ascending, their SWEEP_COLUMNS values).
pub fn sweep_keep(models: &[ModelArch], slots: &[SweepSlot], engines: &[EngineProfile], a: &SweepAxes, keep: &Keep,
                  feasible_only: bool) -> Result<(Vec<usize>, Vec<f64>), CoreError> {
    sweep_keep_in_blocks(models, slots, engines, a, keep, feasible_only, STREAM_BLOCK)
}

#[allow(clippy::too_many_arguments)]
fn sweep_keep_in_blocks(models: &[ModelArch], slots: &[SweepSlot], engines: &[EngineProfile], a: &SweepAxes, keep: &Keep,
                        feasible_only: bool, block: usize) -> Result<(Vec<usize>, Vec<f64>), CoreError> {
    let width = SWEEP_COLUMNS.len();
    let columns: Vec<(usize, f64)> = match keep {
        Keep::Pareto(objectives) if objectives.is_empty() => return invalid("a Pareto front needs at least one objective"),
        Keep::Pareto(objectives) => objectives.clone(),
        Keep::Top { k, .. } if *k == 0 || *k > MAX_KEPT => return invalid(format!("top k = {k} must be from 1 to {MAX_KEPT}")),
        Keep::Top { column, sign, .. } => vec![(*column, *sign)],
    };
    if let Some(&(c, s)) = columns.iter().find(|&&(c, s)| c >= width || !(s == 1.0 || s == -1.0)) {
        return invalid(format!("objective (column {c}, sign {s}): columns are 0..{width}, signs 1 or -1"));
    }
    let ev = Evaluator::new(models, slots, engines, a)?;
    if ev.rows > MAX_STREAMED {
        return invalid(format!("a streamed sweep of {} configurations exceeds {MAX_STREAMED}: split it", ev.rows));
    }
    let blocks = ev.rows.div_ceil(block);
    let survivors: Vec<(Vec<usize>, Vec<f64>)> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            crate::interrupt::check()?; // Ctrl-C stops a long stream between blocks
            let first = b * block;
            let n = block.min(ev.rows - first);
            let mut rows = vec![0.0; n * width];
            ev.fill(first, &mut rows);
            let kept = reduce(&rows, &columns, keep, feasible_only);
            let values = kept.iter().flat_map(|&i| rows[i * width..(i + 1) * width].iter().copied()).collect();
            Ok((kept.into_iter().map(|i| first + i).collect(), values))
        })
        .collect::<Result<_, CoreError>>()?;
    let index: Vec<usize> = survivors.iter().flat_map(|s| s.0.iter().copied()).collect();
    let values: Vec<f64> = survivors.into_iter().flat_map(|s| s.1).collect();
    let mut kept = reduce(&values, &columns, keep, false);
    kept.sort_unstable_by_key(|&i| index[i]);
    let out_values = kept.iter().flat_map(|&i| values[i * width..(i + 1) * width].iter().copied()).collect();
    Ok((kept.iter().map(|&i| index[i]).collect(), out_values))
}

/// Positions (in `rows`, SWEEP_COLUMNS.len() values each) of the rows `keep` keeps.
fn reduce(rows: &[f64], columns: &[(usize, f64)], keep: &Keep, feasible_only: bool) -> Vec<usize> {
    let width = SWEEP_COLUMNS.len();
    let n = rows.len() / width;
    let infeasible = |i: usize| feasible_only && rows[i * width + 1] >= Verdict::NoFit as i8 as f64;
    let objectives: Vec<Vec<f64>> = columns
        .iter()
        .map(|&(c, sign)| (0..n).map(|i| if infeasible(i) { f64::NAN } else { rows[i * width + c] * sign }).collect())
        .collect();
    match keep {
        Keep::Pareto(_) => {
            let cols: Vec<&[f64]> = objectives.iter().map(Vec::as_slice).collect();
            pareto(&cols).unwrap_or_default()
        }
        Keep::Top { k, .. } => {
            let key = &objectives[0];
            let mut order: Vec<usize> = (0..n).filter(|&i| !key[i].is_nan()).collect();
            let k = (*k).min(order.len());
            let by = |x: &usize, y: &usize| key[*x].total_cmp(&key[*y]).then(x.cmp(y));
            if k < order.len() {
                order.select_nth_unstable_by(k, by);
                order.truncate(k);
            }
            order.sort_unstable_by(by);
            order
        }
    }
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
    fn a_streamed_sweep_keeps_what_the_full_one_would() {
        let m = crate::arch::tests::llama2_7b();
        let slot = SweepSlot::from_row(&[85.9e9, 312.0, 0.0, 2039.0, 600.0, 2.5, 0.0]).unwrap();
        let cheap = SweepSlot::from_row(&[24e9, 121.0, 242.0, 300.0, 0.0, 0.8, 0.0]).unwrap();
        let e = EngineProfile::from_row(&crate::engine::tests::ROW).unwrap();
        let batch: Vec<i64> = (1..=300).collect();
        let a = SweepAxes { model: &[0], slot: &[0, 1], engine: &[0], precision: &[0, 2], kv_precision: &[0], tp: &[1, 2],
                            batch: &batch, input: &[128, 2048], output: &[64, 512], slot_engine: None };
        let (models, slots, engines) = ([m], [slot, cheap], [e]);
        let full = sweep_grid(&models, &slots, &engines, &a).unwrap();
        let w = SWEEP_COLUMNS.len();
        let n = full.len() / w;
        let col = |c: usize, sign: f64| -> Vec<f64> {
            (0..n).map(|i| if full[i * w + 1] >= 2.0 { f64::NAN } else { full[i * w + c] * sign }).collect()
        };
        let (cost, e2e, tput) = (col(6, 1.0), col(4, 1.0), col(5, -1.0));
        let mut want = pareto(&[&cost, &e2e, &tput]).unwrap();
        want.sort_unstable();
        let front = Keep::Pareto(vec![(6, 1.0), (4, 1.0), (5, -1.0)]);
        let (got, values) = sweep_keep(&models, &slots, &engines, &a, &front, true).unwrap();
        assert_eq!(got, want);
        // in blocks of 1,000 rows (ten blocks, one short), each reduced before the merge: the same rows
        assert_eq!(sweep_keep_in_blocks(&models, &slots, &engines, &a, &front, true, 1000).unwrap().0, want);
        assert_eq!(values, got.iter().flat_map(|&i| full[i * w..(i + 1) * w].to_vec()).collect::<Vec<f64>>());
        let five = Keep::Top { column: 7, sign: -1.0, k: 5 };
        let (top, _) = sweep_keep(&models, &slots, &engines, &a, &five, true).unwrap();
        assert_eq!(sweep_keep_in_blocks(&models, &slots, &engines, &a, &five, true, 999).unwrap().0, top);
        let mut order: Vec<usize> = (0..n).filter(|&i| full[i * w + 1] < 2.0 && !full[i * w + 7].is_nan()).collect();
        order.sort_by(|&x, &y| full[y * w + 7].total_cmp(&full[x * w + 7]).then(x.cmp(&y)));
        let mut best5 = order[..5].to_vec();
        best5.sort_unstable();
        assert_eq!(top, best5);
        assert!(sweep_keep(&models, &slots, &engines, &a, &Keep::Top { column: 7, sign: 1.0, k: 0 }, true).is_err());
        assert!(sweep_keep(&models, &slots, &engines, &a, &Keep::Pareto(vec![(9, 1.0)]), true).is_err());
    }

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
