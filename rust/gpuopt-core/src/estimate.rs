//! Latency and throughput from a roofline per forward step.
//!
//! A step processing `tokens` new tokens for `seqs` sequences costs
//!   max(FLOPs / (peak x compute_efficiency), (weights read + KV read/written) / (bandwidth x memory_efficiency))
//!   + elementwise traffic / (bandwidth x memory_efficiency) + tensor-parallel all-reduces + a fixed step overhead.
//! Prefill is one such step per chunk of the engine's token budget; decode is one step per output
//! token, averaged exactly over the contexts the request passes through. Figures are per GPU of a
//! tensor-parallel group; throughput is the group's.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::arch::{ModelArch, ParamCounts};
use crate::engine::{EngineProfile, EngineTiming};
use crate::columns::{check_count, check_lengths, Decoded, Lookups};
use crate::error::{invalid, CoreError};
use crate::fit::{MemoryTerms, Verdict, FITS_THRESHOLD};
use crate::gpu::GpuSpec;
use crate::precision::Precision;
use crate::round;

/// Output columns, in the order of [`Estimate::to_row`].
pub const ESTIMATE_COLUMNS: [&str; 18] = [
    "ttft_ms",
    "tpot_ms",
    "e2e_ms",
    "output_tokens_per_s",
    "batch",
    "verdict",
    "prefill_bound",
    "decode_bound",
    "prefill_compute_ms",
    "prefill_memory_ms",
    "prefill_activation_ms",
    "prefill_comm_ms",
    "prefill_overhead_ms",
    "decode_compute_ms",
    "decode_memory_ms",
    "decode_activation_ms",
    "decode_comm_ms",
    "decode_overhead_ms",
];

/// `bound` codes: which roofline limb dominates a phase.
pub const BOUND_NAMES: [&str; 2] = ["compute", "memory"];

/// Batches `max_throughput` tries: geometric from 1 to the largest that fits, and that one.
pub const THROUGHPUT_CANDIDATES: usize = 48;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EstimateQuery {
    pub precision: Precision,
    pub kv_precision: Precision,
    pub batch: f64,
    pub input: f64,
    pub output: f64,
    pub tp: f64,
}

/// The parts of one step (or of a phase), ms.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepTime {
    pub compute_ms: f64,
    pub memory_ms: f64,
    pub activation_ms: f64,
    pub comm_ms: f64,
    pub overhead_ms: f64,
}

impl StepTime {
    pub fn total(&self) -> f64 {
        self.compute_ms.max(self.memory_ms) + self.activation_ms + self.comm_ms + self.overhead_ms
    }

    fn scaled(&self, k: f64) -> StepTime {
        StepTime {
            compute_ms: self.compute_ms * k,
            memory_ms: self.memory_ms * k,
            activation_ms: self.activation_ms * k,
            comm_ms: self.comm_ms * k,
            overhead_ms: self.overhead_ms * k,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub ttft_ms: f64,
    pub tpot_ms: f64,
    pub e2e_ms: f64,
    pub output_tokens_per_s: f64,
    pub batch: f64,
    pub verdict: Verdict,
    pub prefill_compute_bound: bool,
    pub decode_compute_bound: bool,
    /// Whole prefill (all chunks); `overhead_ms` includes the request overhead.
    pub prefill: StepTime,
    /// One average decode step.
    pub decode: StepTime,
}

impl Estimate {
    fn invalid(batch: f64) -> Estimate {
        let nan = StepTime { compute_ms: f64::NAN, memory_ms: f64::NAN, activation_ms: f64::NAN, comm_ms: f64::NAN, overhead_ms: f64::NAN };
        Estimate {
            ttft_ms: f64::NAN,
            tpot_ms: f64::NAN,
            e2e_ms: f64::NAN,
            output_tokens_per_s: 0.0,
            batch,
            verdict: Verdict::Invalid,
            prefill_compute_bound: false,
            decode_compute_bound: false,
            prefill: nan,
            decode: nan,
        }
    }

    pub fn to_row(&self) -> [f64; 18] {
        let invalid = self.verdict == Verdict::Invalid;
        let bound = |compute: bool| if invalid { f64::NAN } else if compute { 0.0 } else { 1.0 };
        [
            self.ttft_ms,
            self.tpot_ms,
            self.e2e_ms,
            self.output_tokens_per_s,
            self.batch,
            self.verdict as i8 as f64,
            bound(self.prefill_compute_bound),
            bound(self.decode_compute_bound),
            self.prefill.compute_ms,
            self.prefill.memory_ms,
            self.prefill.activation_ms,
            self.prefill.comm_ms,
            self.prefill.overhead_ms,
            self.decode.compute_ms,
            self.decode.memory_ms,
            self.decode.activation_ms,
            self.decode.comm_ms,
            self.decode.overhead_ms,
        ]
    }
}

/// Per-step cost coefficients of one (model, GPU, engine, precisions, tp).
pub struct Roofline {
    /// FLOPs per processed token in matrix products (this rank).
    flops_per_token: f64,
    /// FLOPs per sampled sequence in the LM head (this rank).
    flops_per_seq: f64,
    /// FLOPs per (query, key) pair in attention (this rank).
    flops_per_pair: f64,
    peak: f64,
    /// Weights read every step apart from the routed experts (this rank), bytes.
    dense_bytes: f64,
    /// All routed-expert weights (this rank), bytes; a step reads the share its tokens activate.
    expert_bytes: f64,
    experts: f64,
    experts_per_token: f64,
    /// KV bytes per cached token (this rank).
    kv_per_token: f64,
    act_per_token: f64,
    /// All-reduce time per token and fixed all-reduce latency per step, ms.
    comm_ms_per_token: f64,
    comm_ms_fixed: f64,
    bw: f64,
    /// Bandwidth the attention kernels reach reading and writing the KV cache.
    kv_bw: f64,
    /// Paged attention (EngineTiming::paged_split_items > 0 for this KV precision): KV bytes a step reads per
    /// cached token (once per query head), the bandwidth of the unsplit kernel, and past how many
    /// work items (sequences x `heads_per_rank`) it runs.
    kv_read_per_token: f64,
    kv_bw_unsplit: f64,
    heads_per_rank: f64,
    paged_split_items: f64,
    timing: EngineTiming,
}

impl Roofline {
    pub fn new(m: &ModelArch, p: &ParamCounts, gpu: &GpuSpec, e: &EngineProfile, precision: Precision, kv: Precision, tp: f64) -> Self {
        let t = e.timing;
        let wb = precision.weight_bytes();
        let q_dim = m.heads * m.head_dim;
        let bw = gpu.mem_bw * t.memory_efficiency;
        let lm_head_bytes = m.vocab * m.hidden * 2.0; // read for logits even when tied
        let (dense_mlp, expert_bytes) = if m.is_moe() { (0.0, p.mlp * wb / tp) } else { (p.mlp * wb, 0.0) };
        let allreduces = 2.0 * m.layers;
        let kv_per_token = 2.0 * m.layers * m.kv_heads_per_rank(tp) * m.head_dim * kv.kv_bytes();
        let split_items = t.paged_split_items(kv.kv_bytes());
        let paged = split_items > 0.0;
        let (comm_ms_per_token, comm_ms_fixed) = if tp > 1.0 {
            let ring = 2.0 * (tp - 1.0) / tp * m.hidden * 2.0 / (gpu.link_bw * t.comm_efficiency);
            (allreduces * ring * 1e3, allreduces * t.allreduce_latency_us * 1e-3)
        } else {
            (0.0, 0.0)
        };
        Roofline {
            flops_per_token: 2.0 * (p.attention + p.mlp_active + p.router) / tp,
            flops_per_seq: 2.0 * m.vocab * m.hidden / tp,
            flops_per_pair: 4.0 * m.layers * q_dim / tp,
            peak: gpu.peak_flops(precision) * t.compute_efficiency,
            dense_bytes: (p.attention * wb + dense_mlp + lm_head_bytes + p.attention_bias * 2.0) / tp
                + p.replicated_16bit() * 2.0,
            expert_bytes,
            experts: m.experts,
            experts_per_token: m.experts_per_token,
            kv_per_token,
            act_per_token: t.activation_traffic * m.layers * m.hidden * 2.0,
            comm_ms_per_token,
            comm_ms_fixed,
            bw,
            kv_bw: gpu.mem_bw * t.attention_efficiency,
            kv_read_per_token: if paged { 2.0 * m.layers * (m.heads / tp) * m.head_dim * kv.kv_bytes() } else { kv_per_token },
            kv_bw_unsplit: gpu.mem_bw * t.unsplit_attention_efficiency,
            heads_per_rank: m.heads / tp,
            paged_split_items: split_items,
            timing: t,
        }
    }

    /// Share of the routed experts a step's tokens activate: each token picks k of E, so an
    /// expert stays idle with probability (1 - k/E)^tokens.
    fn expert_share(&self, tokens: f64) -> f64 {
        if self.experts > 1.0 {
            1.0 - (1.0 - self.experts_per_token / self.experts).powf(tokens)
        } else {
            0.0
        }
    }

    /// Bandwidth at which a step of `seqs` sequences reads their cached tokens: paged attention's
    /// unsplit kernel's once sequences x heads exceed its limit.
    fn kv_read_bw(&self, seqs: f64) -> f64 {
        if self.paged_split_items > 0.0 && seqs * self.heads_per_rank > self.paged_split_items {
            self.kv_bw_unsplit
        } else {
            self.kv_bw
        }
    }

    /// Seconds a step's attention spends moving the KV cache: `tokens` written, `kv_read` cached
    /// tokens read by `seqs` sequences. Without paged attention it stays one expression, as it was,
    /// so those engines' figures are unchanged to the last bit.
    fn kv_s(&self, tokens: f64, seqs: f64, kv_read: f64) -> f64 {
        if self.paged_split_items > 0.0 {
            self.kv_per_token * tokens / self.kv_bw + self.kv_read_per_token * kv_read / self.kv_read_bw(seqs)
        } else {
            self.kv_per_token * (kv_read + tokens) / self.kv_bw
        }
    }

    /// A decode step of `batch` sequences attending over `context` cached tokens in all is
    /// max(p0 + p1 context, q0 + q1 context) + rest ms; returns (p0, p1, q0, q1, rest).
    pub fn decode_lines(&self, batch: f64) -> (f64, f64, f64, f64, f64) {
        let p0 = (self.flops_per_token * batch + self.flops_per_seq * batch) / self.peak * 1e3;
        let p1 = self.flops_per_pair / self.peak * 1e3;
        let q0 = ((self.dense_bytes + self.expert_bytes * self.expert_share(batch)) / self.bw
            + self.kv_per_token * batch / self.kv_bw) * 1e3;
        let q1 = self.kv_read_per_token / self.kv_read_bw(batch) * 1e3;
        let rest = self.act_per_token * batch / self.bw * 1e3 + self.comm_ms_per_token * batch + self.comm_ms_fixed
            + self.timing.step_overhead_ms + self.timing.seq_overhead_us * batch * 1e-3;
        (p0, p1, q0, q1, rest)
    }

    /// One step: `tokens` processed, `seqs` sampled, `kv_read` cached tokens read, `pairs`
    /// (query, key) pairs attended.
    #[inline]
    pub fn step(&self, tokens: f64, seqs: f64, kv_read: f64, pairs: f64) -> StepTime {
        let flops = self.flops_per_token * tokens + self.flops_per_seq * seqs + self.flops_per_pair * pairs;
        let weight_bytes = self.dense_bytes + self.expert_bytes * self.expert_share(tokens);
        StepTime {
            compute_ms: flops / self.peak * 1e3,
            memory_ms: (weight_bytes / self.bw + self.kv_s(tokens, seqs, kv_read)) * 1e3,
            activation_ms: self.act_per_token * tokens / self.bw * 1e3,
            comm_ms: self.comm_ms_per_token * tokens + self.comm_ms_fixed,
            overhead_ms: self.timing.step_overhead_ms + self.timing.seq_overhead_us * seqs * 1e-3,
        }
    }
}

/// Mean of max(a0 + a1 c, b0 + b1 c) for c uniform on [lo, hi]: exact, split where the lines cross.
pub fn mean_of_max(a0: f64, a1: f64, b0: f64, b1: f64, lo: f64, hi: f64) -> f64 {
    let f = |c: f64| (a0 + a1 * c).max(b0 + b1 * c);
    if hi <= lo {
        return f(lo);
    }
    let slope = a1 - b1;
    let cross = if slope != 0.0 { (b0 - a0) / slope } else { f64::NAN };
    if cross > lo && cross < hi {
        let left = (cross - lo) * (f(lo) + f(cross)) / 2.0;
        let right = (hi - cross) * (f(cross) + f(hi)) / 2.0;
        (left + right) / (hi - lo)
    } else {
        (f(lo) + f(hi)) / 2.0
    }
}

fn verdict(terms: &MemoryTerms, batch: f64, capacity: f64) -> Verdict {
    let u = terms.total(batch) / capacity;
    if u <= FITS_THRESHOLD {
        Verdict::Fits
    } else if u <= 1.0 {
        Verdict::Tight
    } else {
        Verdict::NoFit
    }
}

/// Whether `q` can be built at all: tp splits the heads, and a multi-GPU group has a link.
pub(crate) fn buildable(m: &ModelArch, gpu: &GpuSpec, tp: f64) -> bool {
    m.tp_is_valid(tp) && (tp == 1.0 || gpu.link_bw > 0.0)
}

/// Latency and throughput of a static batch of `q.batch` requests, each `q.input` prompt tokens
/// and `q.output` generated tokens. A batch the KV cache cannot hold at once runs as engines run
/// it: in waves of as many sequences as fit (the rest wait for the wave before to finish), so its
/// end-to-end time is the waves' sum; TTFT and TPOT are those of the first wave.
pub fn estimate_with(r: &Roofline, e: &EngineProfile, terms: &MemoryTerms, capacity: f64, q: &EstimateQuery) -> Estimate {
    let Some((fits, full_waves, rest)) = waves(terms, capacity, q.batch) else {
        return one_pass(r, e, terms, capacity, q);
    };
    let wave = one_pass(r, e, terms, capacity, &EstimateQuery { batch: fits, ..*q });
    let last = if rest > 0.0 { one_pass(r, e, terms, capacity, &EstimateQuery { batch: rest, ..*q }).e2e_ms } else { 0.0 };
    let e2e = full_waves * wave.e2e_ms + last;
    Estimate {
        e2e_ms: e2e,
        output_tokens_per_s: q.batch * q.output / (e2e / 1e3),
        batch: q.batch,
        verdict: verdict(terms, q.batch, capacity),
        ..wave
    }
}

/// The steps of a static batch run as one, and its times (ms).
struct Pass {
    chunk: StepTime,
    chunks: f64,
    at_lo: StepTime,
    at_hi: StepTime,
    ttft: f64,
    tpot: f64,
    e2e: f64,
}

/// Every sequence prefilled, then decoded side by side; inlined, so a caller that reads only the
/// times (a sweep row) computes only what they need.
#[inline(always)]
fn pass(r: &Roofline, e: &EngineProfile, q: &EstimateQuery) -> Pass {
    let b = q.batch;
    // Prefill: the batch's prompts in chunks of the engine's token budget.
    let tokens = b * q.input;
    let chunks = round::ceil(tokens / e.memory.max_batched_tokens);
    let pairs = b * q.input * (q.input + 1.0) / 2.0;
    let chunk = r.step(tokens / chunks, b / chunks, 0.0, pairs / chunks);
    let ttft = chunk.total() * chunks + e.timing.request_overhead_ms;
    // Decode: one step per further token; contexts run from input+1 to input+output-1.
    let lo = q.input + 1.0;
    let hi = (q.input + q.output - 1.0).max(lo);
    let at_lo = r.step(b, b, b * lo, b * lo);
    let at_hi = r.step(b, b, b * hi, b * hi);
    let (a1, b1) = if hi > lo {
        ((at_hi.compute_ms - at_lo.compute_ms) / (hi - lo), (at_hi.memory_ms - at_lo.memory_ms) / (hi - lo))
    } else {
        (0.0, 0.0)
    };
    let a0 = at_lo.compute_ms - a1 * lo;
    let b0 = at_lo.memory_ms - b1 * lo;
    // the average decode step's activation, comm and overhead are those of every step (at_lo's)
    let tpot = mean_of_max(a0, a1, b0, b1, lo, hi) + at_lo.activation_ms + at_lo.comm_ms + at_lo.overhead_ms;
    let e2e = ttft + (q.output - 1.0) * tpot;
    Pass { chunk, chunks, at_lo, at_hi, ttft, tpot, e2e }
}

/// How a static batch of `batch` sequences runs: None when the KV cache holds it at once (or not
/// even one sequence fits); else (a full wave's batch, the full waves, the last wave's batch).
fn waves(terms: &MemoryTerms, capacity: f64, batch: f64) -> Option<(f64, f64, f64)> {
    let fits = terms.max_batch(capacity);
    if !(fits >= 1.0 && fits < batch) {
        return None;
    }
    let full_waves = round::floor(batch / fits);
    Some((fits, full_waves, batch - full_waves * fits))
}

/// A static batch that runs as one: every sequence prefilled, then decoded side by side.
fn one_pass(r: &Roofline, e: &EngineProfile, terms: &MemoryTerms, capacity: f64, q: &EstimateQuery) -> Estimate {
    let b = q.batch;
    let p = pass(r, e, q);
    let mut prefill = p.chunk.scaled(p.chunks);
    prefill.overhead_ms += e.timing.request_overhead_ms;
    let decode = StepTime {
        compute_ms: (p.at_lo.compute_ms + p.at_hi.compute_ms) / 2.0,
        memory_ms: (p.at_lo.memory_ms + p.at_hi.memory_ms) / 2.0,
        ..p.at_lo
    };
    Estimate {
        ttft_ms: p.ttft,
        tpot_ms: p.tpot,
        e2e_ms: p.e2e,
        output_tokens_per_s: b * q.output / (p.e2e / 1e3),
        batch: b,
        verdict: verdict(terms, b, capacity),
        prefill_compute_bound: prefill.compute_ms >= prefill.memory_ms,
        decode_compute_bound: decode.compute_ms >= decode.memory_ms,
        prefill,
        decode,
    }
}

/// (ttft, tpot, e2e) ms of a static batch, as estimate_with gives them (waves included), without
/// the breakdown: what a sweep row needs.
#[inline]
pub fn batch_times(r: &Roofline, e: &EngineProfile, terms: &MemoryTerms, capacity: f64, q: &EstimateQuery) -> (f64, f64, f64) {
    let Some((fits, full_waves, rest)) = waves(terms, capacity, q.batch) else {
        let p = pass(r, e, q);
        return (p.ttft, p.tpot, p.e2e);
    };
    let wave = pass(r, e, &EstimateQuery { batch: fits, ..*q });
    let last = if rest > 0.0 { pass(r, e, &EstimateQuery { batch: rest, ..*q }).e2e } else { 0.0 };
    (wave.ttft, wave.tpot, full_waves * wave.e2e + last)
}

/// What every configuration of one run (model, GPU, engine, precisions, tp) shares: its roofline,
/// its memory terms at a context of one token (a configuration scales them to its own,
/// `terms_at`) and the memory the engine may use. Batch entry points build one per run, not per row.
pub struct Run {
    pub roofline: Roofline,
    terms: MemoryTerms,
    window: f64,
    pub capacity: f64,
}

impl Run {
    /// None where the run cannot be built (tp does not split the model, or a multi-GPU group has no link).
    pub fn new(m: &ModelArch, p: &ParamCounts, gpu: &GpuSpec, e: &EngineProfile, precision: Precision, kv: Precision, tp: f64) -> Option<Run> {
        buildable(m, gpu, tp).then(|| Run {
            roofline: Roofline::new(m, p, gpu, e, precision, kv, tp),
            terms: MemoryTerms::with_params(m, p, &e.memory, precision, kv, 1.0, tp),
            window: m.sliding_window,
            capacity: gpu.memory_bytes * e.memory.memory_utilization,
        })
    }

    /// The memory terms of a configuration with `context` tokens per sequence.
    #[inline]
    pub fn terms_at(&self, context: f64) -> MemoryTerms {
        self.terms.at_context(context, self.window)
    }
}

pub fn estimate_one(m: &ModelArch, p: &ParamCounts, gpu: &GpuSpec, e: &EngineProfile, q: &EstimateQuery) -> Estimate {
    match Run::new(m, p, gpu, e, q.precision, q.kv_precision, q.tp) {
        Some(run) => estimate_with(&run.roofline, e, &run.terms_at(q.input + q.output), run.capacity, q),
        None => Estimate::invalid(q.batch),
    }
}

/// Batches `max_throughput` evaluates: round(max_batch^(k/47)) for k = 0..47, deduplicated.
pub fn throughput_candidates(max_batch: f64) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::with_capacity(THROUGHPUT_CANDIDATES);
    let last = (THROUGHPUT_CANDIDATES - 1) as f64;
    for k in 0..THROUGHPUT_CANDIDATES {
        let b = (max_batch.powf(k as f64 / last) + 0.5).floor().clamp(1.0, max_batch);
        if out.last() != Some(&b) {
            out.push(b);
        }
    }
    if out.last() != Some(&max_batch) {
        out.push(max_batch);
    }
    out
}

/// The estimate at the batch that gives the most output tokens/s and still fits (offline serving).
/// `q.batch` is ignored; with no batch fitting, the result says no-fit with zero throughput.
pub fn max_throughput_one(m: &ModelArch, p: &ParamCounts, gpu: &GpuSpec, e: &EngineProfile, q: &EstimateQuery) -> Estimate {
    let Some(run) = Run::new(m, p, gpu, e, q.precision, q.kv_precision, q.tp) else {
        return Estimate::invalid(0.0);
    };
    let terms = run.terms_at(q.input + q.output);
    let max_batch = terms.max_batch(run.capacity);
    if max_batch < 1.0 {
        let mut out = estimate_with(&run.roofline, e, &terms, run.capacity, &EstimateQuery { batch: 1.0, ..*q });
        out.output_tokens_per_s = 0.0;
        out.batch = 0.0;
        return out;
    }
    let mut best: Option<Estimate> = None;
    for b in throughput_candidates(max_batch) {
        let est = estimate_with(&run.roofline, e, &terms, run.capacity, &EstimateQuery { batch: b, ..*q });
        if best.is_none_or(|x| est.output_tokens_per_s > x.output_tokens_per_s) {
            best = Some(est);
        }
    }
    best.unwrap_or_else(|| Estimate::invalid(0.0))
}

pub struct EstimateTables<'a> {
    pub models: &'a [ModelArch],
    pub gpus: &'a [GpuSpec],
    pub engines: &'a [EngineProfile],
}

/// One entry per configuration (or, for grids, one axis each).
pub struct EstimateColumns<'a> {
    pub model: &'a [i64],
    pub gpu: &'a [i64],
    pub engine: &'a [i64],
    pub precision: &'a [i64],
    pub kv_precision: &'a [i64],
    pub batch: &'a [i64],
    pub input: &'a [i64],
    pub output: &'a [i64],
    pub tp: &'a [i64],
}

impl EstimateColumns<'_> {
    pub fn len(&self) -> usize {
        self.model.len()
    }

    pub fn is_empty(&self) -> bool {
        self.model.is_empty()
    }

    fn query(&self, d: &Decoded, i: usize) -> EstimateQuery {
        EstimateQuery {
            precision: d.precision[i],
            kv_precision: d.kv_precision[i],
            batch: self.batch[i] as f64,
            input: self.input[i] as f64,
            output: self.output[i] as f64,
            tp: self.tp[i] as f64,
        }
    }

    fn validate(&self, t: &EstimateTables, out: &[f64]) -> Result<Decoded, CoreError> {
        check_lengths(&[
            self.model.len(), self.gpu.len(), self.engine.len(), self.precision.len(), self.kv_precision.len(),
            self.batch.len(), self.input.len(), self.output.len(), self.tp.len(),
        ])?;
        let lookups = Lookups { model: self.model, gpu: self.gpu, engine: self.engine, precision: self.precision,
                                kv_precision: self.kv_precision };
        let decoded = lookups.check(t.models.len(), t.gpus.len(), t.engines.len(), "gpu")?;
        for (name, col) in [("batch", self.batch), ("input", self.input), ("output", self.output), ("tp", self.tp)] {
            check_count(name, col)?;
        }
        if out.len() != self.len() * ESTIMATE_COLUMNS.len() {
            return invalid(format!("{} configurations need {} values of output, got {}", self.len(),
                                   self.len() * ESTIMATE_COLUMNS.len(), out.len()));
        }
        Ok(decoded)
    }
}

/// Runs `f` on every configuration in parallel into `out`: rows of ESTIMATE_COLUMNS, flattened.
fn run_many(
    t: &EstimateTables,
    c: &EstimateColumns,
    out: &mut [f64],
    f: fn(&ModelArch, &ParamCounts, &GpuSpec, &EngineProfile, &EstimateQuery) -> Estimate,
) -> Result<(), CoreError> {
    let d = c.validate(t, out)?;
    let params: Vec<ParamCounts> = t.models.iter().map(ModelArch::params).collect();
    let width = ESTIMATE_COLUMNS.len();
    out.par_chunks_mut(width).with_min_len(256).enumerate().for_each(|(i, row)| {
        let q = c.query(&d, i);
        let m = c.model[i] as usize;
        let est = f(&t.models[m], &params[m], &t.gpus[c.gpu[i] as usize], &t.engines[c.engine[i] as usize], &q);
        row.copy_from_slice(&est.to_row());
    });
    Ok(())
}

/// Rows one worker estimates with its own cache of runs: large enough that a run (model, GPU,
/// engine, precisions, tp) recurs within it, as it does across a user's table of configurations.
const CACHED_BLOCK: usize = 1 << 16;

/// Estimates every configuration into `out` (n rows of ESTIMATE_COLUMNS, flattened row-major):
/// estimate_one's numbers, with the roofline and memory terms built once per run, not per row.
pub fn estimate_many_into(t: &EstimateTables, c: &EstimateColumns, out: &mut [f64]) -> Result<(), CoreError> {
    let d = c.validate(t, out)?;
    let params: Vec<ParamCounts> = t.models.iter().map(ModelArch::params).collect();
    let width = ESTIMATE_COLUMNS.len();
    out.par_chunks_mut(width * CACHED_BLOCK).enumerate().for_each(|(block, rows)| {
        let mut runs: FxHashMap<(i64, i64, i64, Precision, Precision, i64), Option<Run>> = FxHashMap::default();
        for (k, row) in rows.chunks_mut(width).enumerate() {
            let i = block * CACHED_BLOCK + k;
            let q = c.query(&d, i);
            let (m, gpu, e) = (&t.models[c.model[i] as usize], &t.gpus[c.gpu[i] as usize], &t.engines[c.engine[i] as usize]);
            let key = (c.model[i], c.gpu[i], c.engine[i], q.precision, q.kv_precision, c.tp[i]);
            let run = runs
                .entry(key)
                .or_insert_with(|| Run::new(m, &params[c.model[i] as usize], gpu, e, q.precision, q.kv_precision, q.tp));
            let est = match run {
                Some(run) => estimate_with(&run.roofline, e, &run.terms_at(q.input + q.output), run.capacity, &q),
                None => Estimate::invalid(q.batch),
            };
            row.copy_from_slice(&est.to_row());
        }
    });
    Ok(())
}

/// Estimates every configuration; returns n rows of ESTIMATE_COLUMNS, flattened row-major.
pub fn estimate_many(t: &EstimateTables, c: &EstimateColumns) -> Result<Vec<f64>, CoreError> {
    let mut out = vec![0.0; c.len() * ESTIMATE_COLUMNS.len()];
    estimate_many_into(t, c, &mut out)?;
    Ok(out)
}

/// `max_throughput_one` for every configuration (the batch column is ignored), into `out`.
pub fn max_throughput_many_into(t: &EstimateTables, c: &EstimateColumns, out: &mut [f64]) -> Result<(), CoreError> {
    run_many(t, c, out, max_throughput_one)
}

/// `max_throughput_one` for every configuration (the batch column is ignored).
pub fn max_throughput_many(t: &EstimateTables, c: &EstimateColumns) -> Result<Vec<f64>, CoreError> {
    let mut out = vec![0.0; c.len() * ESTIMATE_COLUMNS.len()];
    max_throughput_many_into(t, c, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::tests::{llama2_7b, mixtral};
    use crate::engine::tests::ROW;

    fn a100() -> GpuSpec {
        GpuSpec::from_row(&[85.9e9, 312.0, 0.0, 2039.0, 600.0]).unwrap()
    }

    fn q(batch: f64, input: f64, output: f64, tp: f64) -> EstimateQuery {
        EstimateQuery { precision: Precision::Fp16, kv_precision: Precision::Fp16, batch, input, output, tp }
    }

    #[test]
    fn cached_runs_estimate_as_estimate_one_does() {
        // random rows over two models (one MoE), two GPUs (one without a link), every precision,
        // tp 1-8 (some not buildable): the per-run cache gives estimate_one's numbers, bit for bit
        let mut windowed = llama2_7b();
        windowed.sliding_window = 300.0;
        let models = [llama2_7b(), mixtral(), windowed];
        let gpus = [a100(), GpuSpec::from_row(&[24e9, 121.0, 242.0, 300.0, 0.0]).unwrap()];
        let engines = [EngineProfile::from_row(&ROW).unwrap()];
        let t = EstimateTables { models: &models, gpus: &gpus, engines: &engines };
        let mut rng = crate::sim::Rng::new(11);
        let n = 3 * CACHED_BLOCK / 2; // a block and a half: two caches
        let mut cols: Vec<Vec<i64>> = vec![Vec::with_capacity(n); 9];
        let ranges: [(i64, i64); 9] = [(0, 3), (0, 2), (0, 1), (0, 5), (0, 5), (1, 300), (1, 4000), (1, 600), (1, 9)];
        for _ in 0..n {
            for (col, &(lo, hi)) in cols.iter_mut().zip(&ranges) {
                col.push(lo + (rng.next_u64() % (hi - lo) as u64) as i64);
            }
        }
        let c = EstimateColumns { model: &cols[0], gpu: &cols[1], engine: &cols[2], precision: &cols[3], kv_precision: &cols[4],
                                  batch: &cols[5], input: &cols[6], output: &cols[7], tp: &cols[8] };
        let cached = estimate_many(&t, &c).unwrap();
        let mut one_by_one = vec![0.0; cached.len()];
        run_many(&t, &c, &mut one_by_one, estimate_one).unwrap();
        let same = cached.iter().zip(&one_by_one).all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
        assert!(same);
        assert!(cached.chunks(ESTIMATE_COLUMNS.len()).any(|r| r[5] == Verdict::Invalid as i8 as f64));
        assert!(estimate_many_into(&t, &c, &mut one_by_one[1..]).is_err());
    }

    #[test]
    fn mean_of_max_is_exact() {
        // max(c, 10 - c) on [0, 10]: mean 7.5
        assert!((mean_of_max(0.0, 1.0, 10.0, -1.0, 0.0, 10.0) - 7.5).abs() < 1e-12);
        assert_eq!(mean_of_max(1.0, 0.0, 0.0, 0.0, 3.0, 3.0), 1.0);
        assert!((mean_of_max(0.0, 1.0, 100.0, 0.0, 0.0, 10.0) - 100.0).abs() < 1e-12);
    }

    #[test]
    fn single_stream_decode_is_bandwidth_bound() {
        let m = llama2_7b();
        let e = EngineProfile::from_row(&ROW).unwrap();
        let est = estimate_one(&m, &m.params(), &a100(), &e, &q(1.0, 128.0, 128.0, 1.0));
        assert!(!est.decode_compute_bound);
        // Never faster than reading the weights once per token at full bandwidth.
        let floor_ms = 2.0 * m.params().total() / 2039e9 * 1e3;
        assert!(est.tpot_ms > floor_ms);
        assert!(est.e2e_ms > est.ttft_ms);
    }

    #[test]
    fn moe_reads_fewer_experts_at_batch_one() {
        let m = mixtral();
        let e = EngineProfile::from_row(&ROW).unwrap();
        let gpu = GpuSpec::from_row(&[160e9, 989.0, 1979.0, 3350.0, 900.0]).unwrap();
        let r = Roofline::new(&m, &m.params(), &gpu, &e, Precision::Fp16, Precision::Fp16, 1.0);
        let one = r.step(1.0, 1.0, 0.0, 0.0).memory_ms;
        let many = r.step(4096.0, 1.0, 0.0, 0.0).memory_ms;
        assert!(one < 0.35 * many, "{one} vs {many}");
    }

    #[test]
    fn max_throughput_picks_a_fitting_batch() {
        let m = llama2_7b();
        let e = EngineProfile::from_row(&ROW).unwrap();
        let best = max_throughput_one(&m, &m.params(), &a100(), &e, &q(1.0, 128.0, 128.0, 1.0));
        assert!(best.batch > 1.0 && best.verdict != Verdict::NoFit);
        for b in [1.0, 8.0, 64.0] {
            let est = estimate_one(&m, &m.params(), &a100(), &e, &q(b, 128.0, 128.0, 1.0));
            assert!(est.output_tokens_per_s <= best.output_tokens_per_s);
        }
    }

    #[test]
    fn candidates_cover_one_to_max() {
        let c = throughput_candidates(1000.0);
        assert_eq!((c[0], *c.last().unwrap()), (1.0, 1000.0));
        assert!(c.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(throughput_candidates(1.0), vec![1.0]);
    }

    #[test]
    fn a_quantized_kv_cache_switches_to_paged_attention_where_the_engine_says() {
        // vLLM 0.6 on CUDA decodes an fp8 KV cache with PagedAttention: a GQA group's KV (mixtral: 32
        // query heads over 8 KV heads) is read once per query head, 4x what FlashAttention reads
        let m = mixtral();
        let gpu = GpuSpec::from_row(&[85.9e9, 989.0, 1979.0, 3350.0, 900.0]).unwrap();
        let flash = EngineProfile::from_row(&ROW).unwrap();
        let mut row = ROW;
        row[17] = 512.0;
        let paged = EngineProfile::from_row(&row).unwrap();
        let q1 = |e: &EngineProfile, kv: Precision| Roofline::new(&m, &m.params(), &gpu, e, Precision::Fp16, kv, 1.0).decode_lines(1.0).3;
        assert!((q1(&paged, Precision::Fp8) / q1(&flash, Precision::Fp8) - 4.0).abs() < 1e-12);
        assert_eq!(q1(&paged, Precision::Fp16), q1(&flash, Precision::Fp16));   // a 16-bit cache keeps its kernel
        assert_eq!((paged.timing.paged_split_items(1.0), paged.timing.paged_split_items(2.0)), (512.0, 0.0));
        assert_eq!(flash.timing.paged_split_items(1.0), 0.0);
    }

    #[test]
    fn tp_without_a_link_is_invalid() {
        let m = llama2_7b();
        let e = EngineProfile::from_row(&ROW).unwrap();
        let no_link = GpuSpec::from_row(&[32e9, 190.0, 190.0, 820.0, 0.0]).unwrap();
        assert_eq!(estimate_one(&m, &m.params(), &no_link, &e, &q(1.0, 8.0, 8.0, 2.0)).verdict, Verdict::Invalid);
        assert_ne!(estimate_one(&m, &m.params(), &no_link, &e, &q(1.0, 8.0, 8.0, 1.0)).verdict, Verdict::Invalid);
    }
}
