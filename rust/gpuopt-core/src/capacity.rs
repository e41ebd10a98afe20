//! Capacity under an SLO: the largest request rate one replica sustains while its p95 latencies
//! stay within the SLO, for a request class (fixed sizes or a histogram of them).
//!
//! Continuous batching with Poisson arrivals: with a mean of B requests in service, the p95 of
//! the number in service is about B + 1.645 sqrt(B) (Poisson, as in an M/G/infinity system); the
//! SLO is checked at that concurrency and memory must hold it. At concurrency x every request
//! waits its own prefill and one decode step for its first token, and then gets a token per decode
//! step at batch x plus its share of the other requests' prefills. A replica completes B requests
//! per (B x mean prefill + mean decode steps x decode step(B)), so the rate at mean concurrency B is
//! lambda(B) = B / (B p + O d(B)), which grows with B while latencies grow too: the capacity is
//! lambda at the largest B whose p95 latencies meet the SLO (found by bisection).

use rayon::prelude::*;

use crate::arch::{ModelArch, ParamCounts};
use crate::engine::EngineProfile;
use crate::columns::{check_count, check_index, check_lengths, Lookups};
use crate::error::{invalid, CoreError};
use crate::estimate::{buildable, Roofline};
use crate::fit::MemoryTerms;
use crate::gpu::GpuSpec;
use crate::precision::Precision;

/// z of the 95th percentile of a normal approximation to the Poisson number in service.
pub const Z95: f64 = 1.645;
const BISECTIONS: usize = 48;

pub const CAPACITY_COLUMNS: [&str; 9] = [
    "capacity_rps",
    "mean_batch",
    "p95_batch",
    "ttft_p95_ms",
    "tpot_p95_ms",
    "e2e_p95_ms",
    "max_batch",
    "status",
    "utilization",
];

/// `status` names, in the order of [`CapacityStatus`]'s codes.
pub const STATUS_NAMES: [&str; 4] = ["ok", "slo-unmet", "no-fit", "invalid"];

/// Why a configuration has the capacity it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacityStatus {
    /// Serves a positive rate within the SLO.
    Ok = 0,
    /// Fits, but even one request alone misses the SLO.
    SloUnmet = 1,
    /// Not one sequence of the class fits in memory.
    NoFit = 2,
    /// The model cannot be built at this tensor-parallel size on this GPU.
    Invalid = 3,
}

impl CapacityStatus {
    pub fn name(self) -> &'static str {
        STATUS_NAMES[self as usize]
    }
}

/// Request sizes: (input tokens, output tokens, weight) buckets.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestClass {
    pub buckets: Vec<(f64, f64, f64)>,
}

impl RequestClass {
    pub fn new(buckets: Vec<(f64, f64, f64)>) -> Result<Self, CoreError> {
        if buckets.is_empty() {
            return invalid("a request class needs at least one (input, output, weight) bucket");
        }
        let total: f64 = buckets.iter().map(|b| b.2).sum();
        for (i, &(inp, out, w)) in buckets.iter().enumerate() {
            if !(inp >= 1.0 && out >= 1.0 && inp.is_finite() && out.is_finite()) || inp.fract() != 0.0 || out.fract() != 0.0 {
                return invalid(format!("bucket {i}: input and output tokens must be whole numbers >= 1, got {inp}, {out}"));
            }
            if !(w >= 0.0 && w.is_finite()) {
                return invalid(format!("bucket {i}: weight {w} must be finite and >= 0"));
            }
        }
        if !(total > 0.0) {
            return invalid("bucket weights must not all be zero");
        }
        Ok(RequestClass { buckets: buckets.into_iter().map(|(i, o, w)| (i, o, w / total)).collect() })
    }

    fn max_context(&self) -> f64 {
        self.buckets.iter().map(|b| b.0 + b.1).fold(0.0, f64::max)
    }
}

/// p95 limits, ms; infinity where the SLO says nothing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slo {
    pub ttft_ms: f64,
    pub tpot_ms: f64,
    pub e2e_ms: f64,
}

impl Slo {
    pub fn new(ttft_ms: f64, tpot_ms: f64, e2e_ms: f64) -> Result<Self, CoreError> {
        for (name, v) in [("ttft", ttft_ms), ("tpot", tpot_ms), ("e2e", e2e_ms)] {
            if !(v > 0.0) {
                return invalid(format!("SLO {name} p95 = {v} ms must be positive (infinity for none)"));
            }
        }
        Ok(Slo { ttft_ms, tpot_ms, e2e_ms })
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Capacity {
    pub capacity_rps: f64,
    pub mean_batch: f64,
    pub p95_batch: f64,
    pub ttft_p95_ms: f64,
    pub tpot_p95_ms: f64,
    pub e2e_p95_ms: f64,
    pub max_batch: f64,
    pub status: CapacityStatus,
    /// Share of time the replica is busy at the operating point: P(at least one request in
    /// service) = 1 - exp(-mean batch) for a Poisson number in service.
    pub utilization: f64,
}

impl Capacity {
    pub fn to_row(&self) -> [f64; 9] {
        [
            self.capacity_rps,
            self.mean_batch,
            self.p95_batch,
            self.ttft_p95_ms,
            self.tpot_p95_ms,
            self.e2e_p95_ms,
            self.max_batch,
            self.status as u8 as f64,
            self.utilization,
        ]
    }
}

/// Latency model of one replica for one request class.
struct Serving<'a> {
    r: Roofline,
    class: &'a RequestClass,
    /// Prefill time of each bucket's request alone, ms (with the request's fixed costs).
    prefill_ms: Vec<f64>,
    /// Mean prefill ms and mean decode steps per request.
    mean_prefill: f64,
    mean_decode_steps: f64,
    mean_context: f64,
    request_ms: f64,
}

impl<'a> Serving<'a> {
    fn new(r: Roofline, e: &EngineProfile, class: &'a RequestClass) -> Self {
        let prefill_ms: Vec<f64> = class
            .buckets
            .iter()
            .map(|&(inp, _, _)| {
                let chunks = (inp / e.memory.max_batched_tokens).ceil();
                r.step(inp / chunks, 1.0 / chunks, 0.0, inp * (inp + 1.0) / 2.0 / chunks).total() * chunks
            })
            .collect();
        let mean_prefill = class.buckets.iter().zip(&prefill_ms).map(|(b, p)| b.2 * p).sum();
        let mean_decode_steps = class.buckets.iter().map(|b| b.2 * (b.1 - 1.0)).sum();
        let mean_context = class.buckets.iter().map(|b| b.2 * (b.0 + b.1 / 2.0)).sum();
        Serving { r, class, prefill_ms, mean_prefill, mean_decode_steps, mean_context, request_ms: e.timing.request_overhead_ms }
    }

    fn decode_ms(&self, batch: f64) -> f64 {
        let kv = batch * self.mean_context;
        self.r.step(batch, batch, kv, kv).total()
    }

    /// Requests per second at a mean of `batch` requests in service.
    fn rate(&self, batch: f64) -> f64 {
        batch / (batch * self.mean_prefill + self.mean_decode_steps * self.decode_ms(batch)) * 1e3
    }

    fn tpot(&self, batch: f64) -> f64 {
        let others = if self.mean_decode_steps > 0.0 { batch * self.mean_prefill / self.mean_decode_steps } else { 0.0 };
        self.decode_ms(batch) + others
    }

    /// (TTFT p95, TPOT, e2e p95) at concurrency `x`.
    fn latencies(&self, x: f64) -> (f64, f64, f64) {
        let step = self.decode_ms(x);
        let tpot = self.tpot(x);
        let ttft: Vec<f64> = self.prefill_ms.iter().map(|p| self.request_ms + p + step).collect();
        let e2e: Vec<f64> = ttft.iter().zip(&self.class.buckets).map(|(t, b)| t + (b.1 - 1.0) * tpot).collect();
        (weighted_p95(&ttft, &self.class.buckets), tpot, weighted_p95(&e2e, &self.class.buckets))
    }
}

/// The smallest value whose cumulative bucket weight reaches 95 %.
fn weighted_p95(values: &[f64], buckets: &[(f64, f64, f64)]) -> f64 {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut acc = 0.0;
    for &i in &order {
        acc += buckets[i].2;
        if acc >= 0.95 - 1e-12 {
            return values[i];
        }
    }
    // weights sum to 1 (RequestClass::new), so the loop returns; rounding aside, the largest value
    order.last().map_or(f64::NAN, |&i| values[i])
}

fn p95_concurrency(mean: f64) -> f64 {
    (mean + Z95 * mean.sqrt()).max(1.0)
}

pub fn capacity_one(m: &ModelArch, p: &ParamCounts, gpu: &GpuSpec, e: &EngineProfile, precision: Precision,
                    kv: Precision, tp: f64, class: &RequestClass, slo: &Slo) -> Capacity {
    let nan = f64::NAN;
    if !buildable(m, gpu, tp) {
        return Capacity { capacity_rps: 0.0, mean_batch: 0.0, p95_batch: 0.0, ttft_p95_ms: nan, tpot_p95_ms: nan,
                          e2e_p95_ms: nan, max_batch: 0.0, status: CapacityStatus::Invalid,
                          utilization: 0.0 };
    }
    let terms = MemoryTerms::with_params(m, p, &e.memory, precision, kv, class.max_context(), tp);
    let max_batch = terms.max_batch(gpu.memory_bytes * e.memory.memory_utilization);
    let s = Serving::new(Roofline::new(m, p, gpu, e, precision, kv, tp), e, class);
    let unloaded = s.latencies(1.0);
    let zero = |status| Capacity { capacity_rps: 0.0, mean_batch: 0.0, p95_batch: 1.0, ttft_p95_ms: unloaded.0,
                                   tpot_p95_ms: unloaded.1, e2e_p95_ms: unloaded.2, max_batch, status, utilization: 0.0 };
    if max_batch < 1.0 {
        return zero(CapacityStatus::NoFit);
    }
    let meets = |mean: f64| {
        let (ttft, tpot, e2e) = s.latencies(p95_concurrency(mean));
        ttft <= slo.ttft_ms && tpot <= slo.tpot_ms && e2e <= slo.e2e_ms
    };
    let lowest = 1e-3;
    if !meets(lowest) {
        return zero(CapacityStatus::SloUnmet);
    }
    // The largest mean concurrency whose p95 concurrency still fits in memory.
    let root = (-Z95 + (Z95 * Z95 + 4.0 * max_batch).sqrt()) / 2.0;
    let mut hi = (root * root).max(lowest);
    if !meets(hi) {
        let mut lo = lowest;
        for _ in 0..BISECTIONS {
            let mid = (lo + hi) / 2.0;
            if meets(mid) { lo = mid } else { hi = mid }
        }
        hi = lo;
    }
    let x = p95_concurrency(hi);
    let (ttft, tpot, e2e) = s.latencies(x);
    let rate = s.rate(hi);
    Capacity { capacity_rps: rate, mean_batch: hi, p95_batch: x, ttft_p95_ms: ttft, tpot_p95_ms: tpot, e2e_p95_ms: e2e,
               max_batch, status: CapacityStatus::Ok, utilization: 1.0 - (-hi).exp() }
}

pub struct CapacityTables<'a> {
    pub models: &'a [ModelArch],
    pub gpus: &'a [GpuSpec],
    pub engines: &'a [EngineProfile],
    pub classes: &'a [RequestClass],
    pub slos: &'a [Slo],
}

pub struct CapacityColumns<'a> {
    pub model: &'a [i64],
    pub gpu: &'a [i64],
    pub engine: &'a [i64],
    pub precision: &'a [i64],
    pub kv_precision: &'a [i64],
    pub tp: &'a [i64],
    pub class: &'a [i64],
    pub slo: &'a [i64],
}

/// Capacity of every configuration in parallel: n rows of CAPACITY_COLUMNS, flattened.
pub fn capacity_many(t: &CapacityTables, c: &CapacityColumns) -> Result<Vec<f64>, CoreError> {
    let n = check_lengths(&[c.model.len(), c.gpu.len(), c.engine.len(), c.precision.len(), c.kv_precision.len(),
                             c.tp.len(), c.class.len(), c.slo.len()])?;
    let lookups = Lookups { model: c.model, gpu: c.gpu, engine: c.engine, precision: c.precision, kv_precision: c.kv_precision };
    let d = lookups.check(t.models.len(), t.gpus.len(), t.engines.len(), "gpu")?;
    check_index("class", c.class, t.classes.len())?;
    check_index("slo", c.slo, t.slos.len())?;
    check_count("tp", c.tp)?;
    let params: Vec<ParamCounts> = t.models.iter().map(ModelArch::params).collect();
    let width = CAPACITY_COLUMNS.len();
    let mut out = vec![0.0; n * width];
    out.par_chunks_mut(width).with_min_len(64).enumerate().for_each(|(i, row)| {
        let m = c.model[i] as usize;
        let cap = capacity_one(
            &t.models[m], &params[m], &t.gpus[c.gpu[i] as usize], &t.engines[c.engine[i] as usize],
            d.precision[i],
            d.kv_precision[i],
            c.tp[i] as f64, &t.classes[c.class[i] as usize], &t.slos[c.slo[i] as usize],
        );
        row.copy_from_slice(&cap.to_row());
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::tests::llama2_7b;
    use crate::engine::tests::ROW;

    fn run(slo: Slo, gpu: [f64; 5]) -> Capacity {
        let m = llama2_7b();
        let e = EngineProfile::from_row(&ROW).unwrap();
        let class = RequestClass::new(vec![(512.0, 128.0, 1.0)]).unwrap();
        capacity_one(&m, &m.params(), &GpuSpec::from_row(&gpu).unwrap(), &e, Precision::Fp16, Precision::Fp16, 1.0, &class, &slo)
    }

    #[test]
    fn status_codes_and_names_agree() {
        let all = [CapacityStatus::Ok, CapacityStatus::SloUnmet, CapacityStatus::NoFit, CapacityStatus::Invalid];
        assert_eq!(all.map(|s| s.name()), STATUS_NAMES);
        assert_eq!(all.map(|s| s as u8), [0, 1, 2, 3]);
    }

    const A100: [f64; 5] = [85.9e9, 312.0, 0.0, 2039.0, 600.0];
    const INF: f64 = f64::INFINITY;

    #[test]
    fn looser_slo_never_lowers_capacity() {
        let mut last = 0.0;
        for tpot in [10.0, 15.0, 20.0, 30.0, 50.0, 100.0, INF] {
            let c = run(Slo::new(INF, tpot, INF).unwrap(), A100);
            assert!(c.capacity_rps >= last, "{tpot}: {} < {last}", c.capacity_rps);
            assert!(c.status == CapacityStatus::Ok || c.capacity_rps == 0.0);
            if c.status == CapacityStatus::Ok {
                assert!(c.tpot_p95_ms <= tpot);
            }
            last = c.capacity_rps;
        }
        assert!(last > 1.0);
    }

    #[test]
    fn impossible_slo_gives_zero_with_best_latency() {
        let c = run(Slo::new(1.0, INF, INF).unwrap(), A100);
        assert_eq!((c.capacity_rps, c.status), (0.0, CapacityStatus::SloUnmet));
        assert!(c.ttft_p95_ms > 1.0);
    }

    #[test]
    fn bad_classes_and_slos() {
        assert!(RequestClass::new(vec![]).is_err());
        assert!(RequestClass::new(vec![(0.0, 1.0, 1.0)]).is_err());
        assert!(RequestClass::new(vec![(1.0, 1.0, 0.0)]).is_err());
        assert!(Slo::new(0.0, INF, INF).is_err());
        assert!(Slo::new(f64::NAN, INF, INF).is_err());
    }
}
