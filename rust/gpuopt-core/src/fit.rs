//! Memory fit: weights + KV cache + activations + runtime overhead per GPU, against the memory
//! the serving engine lets itself use.

use rayon::prelude::*;

use crate::arch::{ModelArch, ParamCounts};
use crate::columns::{check_count, check_lengths, check_rows, Decoded, Lookups};
use crate::engine::EngineMemory;
use crate::error::{invalid, CoreError};
use crate::precision::Precision;
use crate::round;
use rustc_hash::FxHashMap;

/// Verdict names in code order.
pub const VERDICT_NAMES: [&str; 4] = ["fits", "tight", "no-fit", "invalid"];

/// The seeds' guideline: at most 80 % of usable memory leaves room for fragmentation and spikes.
pub const FITS_THRESHOLD: f64 = 0.8;

/// Batches are reported up to this (well inside f64's exact integers).
pub const MAX_BATCH: f64 = 1e15;

/// Activations are held at 16 bits.
const ACTIVATION_BYTES: f64 = 2.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i8)]
pub enum Verdict {
    Fits = 0,
    Tight = 1,
    NoFit = 2,
    /// The configuration cannot be built (tensor parallelism does not divide the heads).
    Invalid = 3,
}

/// One configuration to fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitQuery {
    pub precision: Precision,
    pub kv_precision: Precision,
    pub batch: f64,
    pub context: f64,
    pub tp: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitResult {
    pub weights_bytes: f64,
    pub kv_cache_bytes: f64,
    pub activation_bytes: f64,
    pub overhead_bytes: f64,
    pub total_bytes: f64,
    pub capacity_bytes: f64,
    pub utilization: f64,
    pub verdict: Verdict,
    pub max_batch: i64,
}

/// Per-GPU memory at a fixed context, as a function of the batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryTerms {
    pub weights: f64,
    pub overhead: f64,
    pub kv_per_seq: f64,
    pub act_per_token: f64,
    pub logits_per_seq: f64,
    pub prefill_tokens: f64,
    /// > 0: activations reserved up front for a step of `prefill_tokens` tokens and the logits
    /// of this many sequences (EngineMemory::reserved_seqs).
    pub reserved_seqs: f64,
    pub context: f64,
}

impl MemoryTerms {
    pub fn new(m: &ModelArch, e: &EngineMemory, precision: Precision, kv: Precision, context: f64, tp: f64) -> Self {
        Self::with_params(m, &m.params(), e, precision, kv, context, tp)
    }

    /// As `new`, with the model's parameter counts already computed (sweeps reuse them).
    pub fn with_params(
        m: &ModelArch,
        p: &ParamCounts,
        e: &EngineMemory,
        precision: Precision,
        kv: Precision,
        context: f64,
        tp: f64,
    ) -> Self {
        let weights = (p.quantizable() * precision.weight_bytes() + p.sharded_16bit() * 2.0) / tp
            + p.replicated_16bit() * 2.0;
        let kv_heads = m.kv_heads_per_rank(tp);
        // A sliding window bounds what the cache must hold.
        let cached = if m.sliding_window > 0.0 { context.min(m.sliding_window) } else { context };
        let kv_per_seq = 2.0 * m.layers * kv_heads * m.head_dim * kv.kv_bytes() * cached;
        // Peak live activations per token: residual and normed input, plus the larger of the
        // attention block (q, k, v, output) and the MLP block (gate, up, activated) on this rank.
        let attn = 2.0 * (m.heads / tp) * m.head_dim + 2.0 * kv_heads * m.head_dim;
        let mlp = 3.0 * m.ffn * m.experts_per_token / tp;
        let act_per_token = (2.0 * m.hidden + attn.max(mlp)) * ACTIVATION_BYTES;
        MemoryTerms {
            weights,
            // a tensor-parallel group's communicators hold buffers on every GPU
            overhead: e.overhead_bytes + if tp > 1.0 { e.comm_buffer_bytes } else { 0.0 },
            kv_per_seq,
            act_per_token,
            logits_per_seq: m.vocab * e.logits_bytes_per_entry,
            prefill_tokens: e.max_batched_tokens,
            reserved_seqs: e.reserved_seqs,
            context,
        }
    }

    /// These terms (built at a context of one token) at `context`: the same numbers as building
    /// them there, the KV cache per sequence scaled to the tokens it caches (`window` bounds them
    /// where it is > 0). Sweeps build terms once per run of rows, not once per row.
    pub fn at_context(&self, context: f64, window: f64) -> MemoryTerms {
        debug_assert_eq!(self.context, 1.0);
        let cached = if window > 0.0 { context.min(window) } else { context };
        MemoryTerms { kv_per_seq: self.kv_per_seq * cached, context, ..*self }
    }

    #[inline]
    pub fn kv(&self, batch: f64) -> f64 {
        self.kv_per_seq * batch
    }

    #[inline]
    pub fn activations(&self, batch: f64) -> f64 {
        if self.reserved_seqs > 0.0 {
            self.prefill_tokens * self.act_per_token + batch.max(self.reserved_seqs) * self.logits_per_seq
        } else {
            (batch * self.context).min(self.prefill_tokens) * self.act_per_token + batch * self.logits_per_seq
        }
    }

    /// Activation memory no batch can use for its KV cache: the reserve of an engine that
    /// reserves its worst step, else the largest prefill chunk's.
    pub fn activation_floor(&self) -> f64 {
        self.prefill_tokens * self.act_per_token + self.reserved_seqs * self.logits_per_seq
    }

    #[inline]
    pub fn total(&self, batch: f64) -> f64 {
        self.weights + self.kv(batch) + self.activations(batch) + self.overhead
    }

    /// Largest batch whose total fits in `capacity` (0 when not even one sequence does).
    #[inline]
    pub fn max_batch(&self, capacity: f64) -> f64 {
        let fixed = self.weights + self.overhead;
        let per_seq = self.kv_per_seq + self.logits_per_seq;
        let mut b = if self.reserved_seqs > 0.0 {
            // the reserve holds the logits of `reserved_seqs` sequences; more add their own
            let reserved = fixed + self.activation_floor();
            let past = round::floor((capacity - reserved + self.reserved_seqs * self.logits_per_seq) / per_seq);
            if past >= self.reserved_seqs {
                past
            } else {
                round::floor((capacity - reserved) / self.kv_per_seq).min(self.reserved_seqs - 1.0)
            }
        } else {
            // Batches from `first_full` on fill the prefill budget; below it activations grow with the batch.
            let first_full = round::ceil(self.prefill_tokens / self.context);
            let full = round::floor((capacity - fixed - self.prefill_tokens * self.act_per_token) / per_seq);
            if full >= first_full {
                full
            } else {
                let slope = self.context * self.act_per_token + per_seq;
                round::floor((capacity - fixed) / slope).min(first_full - 1.0)
            }
        };
        b = b.max(0.0).min(MAX_BATCH);
        // The closed form can land one off through rounding: settle it against total() itself.
        for _ in 0..3 {
            if b > 0.0 && self.total(b) > capacity {
                b -= 1.0;
            }
        }
        for _ in 0..3 {
            if b < MAX_BATCH && self.total(b + 1.0) <= capacity {
                b += 1.0;
            }
        }
        b
    }
}

pub(crate) fn verdict_of(utilization: f64) -> Verdict {
    if utilization <= FITS_THRESHOLD {
        Verdict::Fits
    } else if utilization <= 1.0 {
        Verdict::Tight
    } else {
        Verdict::NoFit
    }
}

/// Fits one configuration. `memory_bytes` is the GPU's physical memory.
pub fn fit_one(m: &ModelArch, memory_bytes: f64, e: &EngineMemory, q: &FitQuery) -> FitResult {
    fit_with_params(m, &m.params(), memory_bytes, e, q)
}

fn fit_with_params(m: &ModelArch, p: &ParamCounts, memory_bytes: f64, e: &EngineMemory, q: &FitQuery) -> FitResult {
    fit_with_terms(run_terms(m, p, e, q).as_ref(), m.sliding_window, memory_bytes, e, q)
}

/// The memory terms every configuration of q's run (model, engine, precisions, tp) shares, at a
/// context of one token; None where tp cannot split the model.
fn run_terms(m: &ModelArch, p: &ParamCounts, e: &EngineMemory, q: &FitQuery) -> Option<MemoryTerms> {
    m.tp_is_valid(q.tp).then(|| MemoryTerms::with_params(m, p, e, q.precision, q.kv_precision, 1.0, q.tp))
}

/// A fit from the run's memory terms at a context of one token (None: tp cannot split the model).
#[inline]
fn fit_with_terms(base: Option<&MemoryTerms>, window: f64, memory_bytes: f64, e: &EngineMemory, q: &FitQuery) -> FitResult {
    let capacity = memory_bytes * e.memory_utilization;
    let Some(base) = base else {
        return FitResult {
            weights_bytes: f64::NAN,
            kv_cache_bytes: f64::NAN,
            activation_bytes: f64::NAN,
            overhead_bytes: f64::NAN,
            total_bytes: f64::NAN,
            capacity_bytes: capacity,
            utilization: f64::NAN,
            verdict: Verdict::Invalid,
            max_batch: 0,
        };
    };
    let t = base.at_context(q.context, window);
    let total = t.total(q.batch);
    let utilization = total / capacity;
    FitResult {
        weights_bytes: t.weights,
        kv_cache_bytes: t.kv(q.batch),
        activation_bytes: t.activations(q.batch),
        overhead_bytes: t.overhead,
        total_bytes: total,
        capacity_bytes: capacity,
        utilization,
        verdict: verdict_of(utilization),
        max_batch: t.max_batch(capacity) as i64,
    }
}

/// Lookup tables the configuration columns index into.
pub struct FitTables<'a> {
    pub models: &'a [ModelArch],
    pub gpu_memory_bytes: &'a [f64],
    pub engines: &'a [EngineMemory],
}

/// One entry per configuration; all columns have the same length.
pub struct FitColumns<'a> {
    pub model: &'a [i64],
    pub gpu: &'a [i64],
    pub engine: &'a [i64],
    pub precision: &'a [i64],
    pub kv_precision: &'a [i64],
    pub batch: &'a [i64],
    pub context: &'a [i64],
    pub tp: &'a [i64],
}

pub use crate::columns::MAX_COUNT;

impl FitTables<'_> {
    fn validate(&self) -> Result<(), CoreError> {
        if let Some((i, v)) =
            self.gpu_memory_bytes.iter().enumerate().find(|(_, &v)| !(v > 0.0 && v.is_finite()))
        {
            return invalid(format!("gpu memory_bytes[{i}] = {v} must be finite and positive"));
        }
        Ok(())
    }
}

impl FitColumns<'_> {
    pub fn len(&self) -> usize {
        self.model.len()
    }

    pub fn is_empty(&self) -> bool {
        self.model.is_empty()
    }

    fn lens(&self) -> [usize; 8] {
        [
            self.model.len(),
            self.gpu.len(),
            self.engine.len(),
            self.precision.len(),
            self.kv_precision.len(),
            self.batch.len(),
            self.context.len(),
            self.tp.len(),
        ]
    }

    /// Every entry in range (says which entry is not), precisions decoded.
    fn validate_entries(&self, t: &FitTables) -> Result<Decoded, CoreError> {
        let lookups = Lookups { model: self.model, gpu: self.gpu, engine: self.engine, precision: self.precision,
                                kv_precision: self.kv_precision };
        let decoded = lookups.check(t.models.len(), t.gpu_memory_bytes.len(), t.engines.len(), "gpu")?;
        check_count("batch", self.batch)?;
        check_count("context", self.context)?;
        check_count("tp", self.tp)?;
        Ok(decoded)
    }

    fn query(&self, d: &Decoded, i: [usize; 8]) -> (usize, usize, usize, FitQuery) {
        let q = FitQuery {
            precision: d.precision[i[3]],
            kv_precision: d.kv_precision[i[4]],
            batch: self.batch[i[5]] as f64,
            context: self.context[i[6]] as f64,
            tp: self.tp[i[7]] as f64,
        };
        (self.model[i[0]] as usize, self.gpu[i[1]] as usize, self.engine[i[2]] as usize, q)
    }
}

/// Results of `fit_many`, one column per field of [`FitResult`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FitOutput {
    pub weights_bytes: Vec<f64>,
    pub kv_cache_bytes: Vec<f64>,
    pub activation_bytes: Vec<f64>,
    pub overhead_bytes: Vec<f64>,
    pub total_bytes: Vec<f64>,
    pub capacity_bytes: Vec<f64>,
    pub utilization: Vec<f64>,
    pub verdict: Vec<i8>,
    pub max_batch: Vec<i64>,
}

impl FitOutput {
    fn zeros(n: usize) -> Self {
        FitOutput {
            weights_bytes: vec![0.0; n],
            kv_cache_bytes: vec![0.0; n],
            activation_bytes: vec![0.0; n],
            overhead_bytes: vec![0.0; n],
            total_bytes: vec![0.0; n],
            capacity_bytes: vec![0.0; n],
            utilization: vec![0.0; n],
            verdict: vec![0; n],
            max_batch: vec![0; n],
        }
    }

    pub fn row(&self, i: usize) -> FitResult {
        let verdict = match self.verdict[i] {
            0 => Verdict::Fits,
            1 => Verdict::Tight,
            2 => Verdict::NoFit,
            _ => Verdict::Invalid,
        };
        FitResult {
            weights_bytes: self.weights_bytes[i],
            kv_cache_bytes: self.kv_cache_bytes[i],
            activation_bytes: self.activation_bytes[i],
            overhead_bytes: self.overhead_bytes[i],
            total_bytes: self.total_bytes[i],
            capacity_bytes: self.capacity_bytes[i],
            utilization: self.utilization[i],
            verdict,
            max_batch: self.max_batch[i],
        }
    }
}

/// Configurations per parallel work item: large enough to amortise scheduling.
const BLOCK: usize = 4096;

/// Fits every configuration in parallel. Inputs are validated first, so a bad entry gives an
/// error naming it instead of a wrong number.
pub fn fit_many(t: &FitTables, c: &FitColumns) -> Result<FitOutput, CoreError> {
    t.validate()?;
    let n = check_rows("a fit", Some(check_lengths(&c.lens())?), FIT_ROW_BYTES)?;
    let d = c.validate_entries(t)?;
    Ok(fill(t, n, |i| c.query(&d, [i; 8])))
}

/// Fits the full factorial of the axes in `g` (each column an axis of distinct values), without
/// materialising the configurations: row i is the mixed-radix decoding of i, last axis fastest.
pub fn fit_grid(t: &FitTables, g: &FitColumns) -> Result<FitOutput, CoreError> {
    t.validate()?;
    let lens = g.lens();
    let n = check_rows("a fit grid", lens.iter().try_fold(1usize, |acc, &l| acc.checked_mul(l)), FIT_ROW_BYTES)?;
    let d = g.validate_entries(t)?;
    Ok(fill(t, n, |mut i| {
        let mut idx = [0usize; 8];
        for axis in (0..8).rev() {
            idx[axis] = i % lens[axis];
            i /= lens[axis];
        }
        g.query(&d, idx)
    }))
}

/// Bytes of results per fitted configuration: seven f64 columns, the verdict (i8), max_batch (i64).
pub const FIT_ROW_BYTES: usize = 7 * 8 + 1 + 8;

fn fill<F>(t: &FitTables, n: usize, query: F) -> FitOutput
where
    F: Fn(usize) -> (usize, usize, usize, FitQuery) + Sync,
{
    let params: Vec<ParamCounts> = t.models.iter().map(ModelArch::params).collect();
    let mut out = FitOutput::zeros(n);
    (
        out.weights_bytes.par_chunks_mut(BLOCK),
        out.kv_cache_bytes.par_chunks_mut(BLOCK),
        out.activation_bytes.par_chunks_mut(BLOCK),
        out.overhead_bytes.par_chunks_mut(BLOCK),
        out.total_bytes.par_chunks_mut(BLOCK),
        out.capacity_bytes.par_chunks_mut(BLOCK),
        out.utilization.par_chunks_mut(BLOCK),
        out.verdict.par_chunks_mut(BLOCK),
        out.max_batch.par_chunks_mut(BLOCK),
    )
        .into_par_iter()
        .enumerate()
        .for_each(|(block, (w, kv, act, ovh, tot, cap, util, verdict, maxb))| {
            // each run's memory terms built once per block, not once per row (a row scales the KV
            // cache to its context)
            let mut runs: FxHashMap<(usize, usize, Precision, Precision, u64), Option<MemoryTerms>> = FxHashMap::default();
            for k in 0..w.len() {
                let (m, g, e, q) = query(block * BLOCK + k);
                let (model, engine) = (&t.models[m], &t.engines[e]);
                let base = runs
                    .entry((m, e, q.precision, q.kv_precision, q.tp.to_bits()))
                    .or_insert_with(|| run_terms(model, &params[m], engine, &q));
                let r = fit_with_terms(base.as_ref(), model.sliding_window, t.gpu_memory_bytes[g], engine, &q);
                w[k] = r.weights_bytes;
                kv[k] = r.kv_cache_bytes;
                act[k] = r.activation_bytes;
                ovh[k] = r.overhead_bytes;
                tot[k] = r.total_bytes;
                cap[k] = r.capacity_bytes;
                util[k] = r.utilization;
                verdict[k] = r.verdict as i8;
                maxb[k] = r.max_batch;
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::tests::{llama2_7b, mixtral};

    const VLLM: EngineMemory = EngineMemory {
        memory_utilization: 0.9,
        overhead_bytes: 0.8e9,
        max_batched_tokens: 2048.0,
        logits_bytes_per_entry: 8.0,
        comm_buffer_bytes: 1.92e9,
        reserved_seqs: 0.0,
    };
    const A100_40GB: f64 = 40960.0 * 1048576.0;

    fn q(batch: f64, context: f64, tp: f64) -> FitQuery {
        FitQuery { precision: Precision::Fp16, kv_precision: Precision::Fp16, batch, context, tp }
    }

    #[test]
    fn seed_llama2_7b_on_a100_40gb() {
        let r = fit_one(&llama2_7b(), A100_40GB, &VLLM, &q(4.0, 2048.0, 1.0));
        assert_eq!(r.weights_bytes, 6_738_415_616.0 * 2.0);
        assert_eq!(r.kv_cache_bytes, 524_288.0 * 4.0 * 2048.0);
        assert!(r.total_bytes > 18e9 && r.total_bytes < 19e9, "{}", r.total_bytes);
        assert_eq!(r.verdict, Verdict::Fits);
    }

    #[test]
    fn a_tensor_parallel_group_holds_communicator_buffers() {
        let one = fit_one(&llama2_7b(), A100_40GB, &VLLM, &q(4.0, 2048.0, 1.0));
        let two = fit_one(&llama2_7b(), A100_40GB, &VLLM, &q(4.0, 2048.0, 2.0));
        assert_eq!(one.overhead_bytes, 0.8e9);
        assert_eq!(two.overhead_bytes, 0.8e9 + 1.92e9);
    }

    #[test]
    fn max_batch_is_exact_boundary() {
        let reserving = EngineMemory { reserved_seqs: 256.0, ..VLLM };
        for (e, ctx) in [VLLM, reserving].iter().flat_map(|e| [1.0, 100.0, 2048.0, 4096.0, 32768.0, 1e6].map(|c| (e, c))) {
            let m = mixtral();
            let t = MemoryTerms::new(&m, e, Precision::Fp8, Precision::Fp8, ctx, 2.0);
            let cap = 81920.0 * 1048576.0 * 0.9;
            let b = t.max_batch(cap);
            assert!(b == 0.0 || t.total(b) <= cap);
            assert!(t.total(b + 1.0) > cap);
        }
        // reserved: the worst step's activations whatever the batch, and more logits past 256 sequences
        let t = MemoryTerms::new(&llama2_7b(), &reserving, Precision::Fp16, Precision::Fp16, 512.0, 1.0);
        assert_eq!(t.activations(1.0), t.activations(256.0));
        assert_eq!(t.activations(1.0), 2048.0 * t.act_per_token + 256.0 * t.logits_per_seq);
        assert_eq!(t.activations(300.0) - t.activations(256.0), 44.0 * t.logits_per_seq);
    }

    #[test]
    fn invalid_tp_is_flagged() {
        let r = fit_one(&llama2_7b(), A100_40GB, &VLLM, &q(1.0, 128.0, 3.0));
        assert_eq!(r.verdict, Verdict::Invalid);
        assert_eq!(r.max_batch, 0);
    }

    #[test]
    fn fit_many_rejects_bad_columns() {
        let models = [llama2_7b()];
        let t = FitTables { models: &models, gpu_memory_bytes: &[A100_40GB], engines: &[VLLM] };
        let ok = [0i64];
        let bad = [0i64];
        let c = FitColumns {
            model: &ok, gpu: &ok, engine: &ok, precision: &ok, kv_precision: &ok,
            batch: &bad, context: &[2048], tp: &[1],
        };
        let err = fit_many(&t, &c).unwrap_err();
        assert!(err.to_string().contains("batch[0] = 0"), "{err}");
        let c = FitColumns {
            model: &[1], gpu: &ok, engine: &ok, precision: &ok, kv_precision: &ok,
            batch: &[1], context: &[2048], tp: &[1],
        };
        assert!(fit_many(&t, &c).unwrap_err().to_string().contains("model[0] = 1"));
        let c = FitColumns {
            model: &ok, gpu: &ok, engine: &ok, precision: &[9], kv_precision: &ok,
            batch: &[1], context: &[2048], tp: &[1],
        };
        assert!(fit_many(&t, &c).unwrap_err().to_string().contains("precision[0]"));
    }

    #[test]
    fn grid_matches_explicit_columns() {
        let models = [llama2_7b(), mixtral()];
        let mem = [A100_40GB, 80e9];
        let t = FitTables { models: &models, gpu_memory_bytes: &mem, engines: &[VLLM] };
        let g = FitColumns {
            model: &[0, 1], gpu: &[0, 1], engine: &[0], precision: &[0, 2], kv_precision: &[0],
            batch: &[1, 8, 64], context: &[512, 4096], tp: &[1, 2],
        };
        let out = fit_grid(&t, &g).unwrap();
        assert_eq!(out.total_bytes.len(), 2 * 2 * 2 * 3 * 2 * 2);
        // Row 0 is the first value of every axis; the last row the last of every axis.
        for (row, pick) in [(0usize, 0usize), (out.total_bytes.len() - 1, 1)] {
            let last = |a: &[i64]| if pick == 0 { a[0] } else { a[a.len() - 1] };
            let c = FitColumns {
                model: &[last(g.model)], gpu: &[last(g.gpu)], engine: &[0], precision: &[last(g.precision)],
                kv_precision: &[0], batch: &[last(g.batch)], context: &[last(g.context)], tp: &[last(g.tp)],
            };
            assert_eq!(fit_many(&t, &c).unwrap().row(0), out.row(row));
        }
    }

    #[test]
    fn more_memory_never_breaks_a_fit() {
        let m = llama2_7b();
        let mut last = Verdict::NoFit as i8;
        for gb in [8.0, 16.0, 24.0, 40.0, 80.0, 141.0] {
            let r = fit_one(&m, gb * 1e9, &VLLM, &q(8.0, 4096.0, 1.0));
            assert!(r.verdict as i8 <= last);
            last = r.verdict as i8;
        }
    }
}
