//! Capacity the simulator confirms: the largest Poisson rate at which one replica, simulated by
//! [`crate::sim`] (admission queueing, chunked prefill, the request mix drawn request by request),
//! keeps every p95 of the SLO in each of [`SEEDS`]' runs.
//!
//! The closed form of [`crate::capacity`] treats the number in service as Poisson and every
//! request as the class's mean; it overestimates long prompts and mixed buckets by up to a
//! third, because a long prefill holds back every request queued behind it. The closed form is
//! the search's starting point; the simulator decides. Each run holds [`RUN_REQUESTS`] requests,
//! so the p95 is the 95th percentile of thousands of latencies, not of a handful.

use rayon::prelude::*;

use crate::arch::{ModelArch, ParamCounts};
use crate::capacity::{capacity_one, CapacityColumns, CapacityStatus, CapacityTables, RequestClass, Slo};
use crate::columns::{check_lengths, Lookups};
use crate::engine::EngineProfile;
use crate::error::{invalid, CoreError};
use crate::gpu::GpuSpec;
use crate::precision::Precision;
use crate::sim::{simulate, Arrivals, ReplicaModel, Router, SimConfig, SimOutput};

/// Seeds of the confirming runs: a rate is confirmed when every one of them meets the SLO.
pub const SEEDS: [u64; 3] = [1, 2, 3];
/// Requests arriving in each confirming run, at least.
pub const RUN_REQUESTS: f64 = 4000.0;
/// Seconds of arrivals in each confirming run, at least: near saturation the queue takes minutes
/// to build, and SLOs are read over windows of about ten minutes.
pub const RUN_SECONDS: f64 = 600.0;
/// Step of the search for a bracket around the closed form's rate.
const GROW: f64 = 1.25;
/// The search stops when the bracket's ends are within this ratio.
pub const TOLERANCE: f64 = 1.02;
/// The bracket is looked for within this factor of the closed form's rate, either way.
const REACH: f64 = 1024.0;

/// The p95 (nearest rank) of `v`; NaN when empty. Reorders `v`.
fn p95(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let k = ((0.95 * v.len() as f64).ceil() as usize).max(1) - 1;
    *v.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1
}

/// (TTFT, TPOT, e2e) p95s of a run, ms, as gpuopt.estimation.simulate.report computes them.
pub fn run_p95s(out: &SimOutput) -> (f64, f64, f64) {
    let n = out.arrival.len();
    let mut ttft: Vec<f64> = (0..n).map(|i| (out.first_token[i] - out.arrival[i]) * 1e3 + out.fixed_ms).collect();
    let mut e2e: Vec<f64> = (0..n).map(|i| (out.finish[i] - out.arrival[i]) * 1e3 + out.fixed_ms).collect();
    let mut tpot: Vec<f64> = (0..n)
        .filter(|&i| out.output_tokens[i] > 1.0)
        .map(|i| (out.finish[i] - out.first_token[i]) * 1e3 / (out.output_tokens[i] - 1.0))
        .collect();
    (p95(&mut ttft), p95(&mut tpot), p95(&mut e2e))
}

/// Whether a run meets `slo`: nothing rejected, and each p95 the SLO limits within its limit
/// (a limit of infinity says nothing; an empty set of latencies says nothing either).
fn run_meets(out: &SimOutput, slo: &Slo) -> bool {
    if out.rejected > 0 || out.arrival.is_empty() {
        return false;
    }
    let (ttft, tpot, e2e) = run_p95s(out);
    let within = |v: f64, limit: f64| limit == f64::INFINITY || v <= limit || v.is_nan();
    within(ttft, slo.ttft_ms) && within(tpot, slo.tpot_ms) && within(e2e, slo.e2e_ms)
}

/// One replica's confirming runs at one rate.
pub struct Confirmer<'a> {
    pub replica: &'a ReplicaModel,
    pub class: &'a RequestClass,
    pub slo: &'a Slo,
    pub max_batch: f64,
    pub fixed_ms: f64,
}

impl Confirmer<'_> {
    /// Every seed's run at `rate` meets the SLO (an error in a run counts as a miss).
    pub fn meets(&self, rate: f64) -> bool {
        self.meets_with(rate, &SEEDS)
    }

    fn meets_with(&self, rate: f64, seeds: &[u64]) -> bool {
        let duration_s = (RUN_REQUESTS / rate).max(RUN_SECONDS);
        seeds.iter().all(|&seed| {
            let cfg = SimConfig {
                replicas: 1,
                router: Router::LeastLoaded,
                arrivals: Arrivals::Poisson { rates: vec![rate], period_s: 2.0 * duration_s, duration_s },
                sizes: self.class.buckets.clone(),
                max_batch: self.max_batch,
                fixed_ms: self.fixed_ms,
                seed,
            };
            simulate(self.replica, &cfg).map(|out| run_meets(&out, self.slo)).unwrap_or(false)
        })
    }

    /// The largest rate every seed confirms, to within [`TOLERANCE`], searched from `start`
    /// (the closed form's rate): the first seed alone brackets it by steps of [`GROW`] and bisects
    /// the bracket's logarithm, then the rate found steps down by TOLERANCE until every seed
    /// meets the SLO there. 0 when no rate down to start / REACH is confirmed.
    pub fn largest_rate(&self, start: f64) -> f64 {
        let mut r = self.edge(start, &SEEDS[..1]);
        while r > 0.0 && !self.meets(r) {
            r /= TOLERANCE;
            if r <= start / REACH {
                return 0.0;
            }
        }
        r
    }

    /// The largest rate `seeds` confirm, to within TOLERANCE (0: none down to start / REACH).
    fn edge(&self, start: f64, seeds: &[u64]) -> f64 {
        if !(start > 0.0 && start.is_finite()) {
            return 0.0;
        }
        let (mut lo, mut hi);
        if self.meets_with(start, seeds) {
            lo = start;
            hi = start * GROW;
            while self.meets_with(hi, seeds) {
                lo = hi;
                if hi >= start * REACH {
                    return lo;
                }
                hi *= GROW;
            }
        } else {
            hi = start;
            lo = start / GROW;
            while !self.meets_with(lo, seeds) {
                hi = lo;
                if lo <= start / REACH {
                    return 0.0;
                }
                lo /= GROW;
            }
        }
        while hi / lo > TOLERANCE {
            let mid = (lo * hi).sqrt();
            if self.meets_with(mid, seeds) { lo = mid } else { hi = mid }
        }
        lo
    }
}

/// The confirmed rate of one configuration: 0 when the closed form finds none (it does not fit,
/// cannot be built, or misses the SLO alone) or the simulator confirms none.
#[allow(clippy::too_many_arguments)]
pub fn confirmed_one(m: &ModelArch, p: &ParamCounts, gpu: &GpuSpec, e: &EngineProfile, precision: Precision,
                     kv: Precision, tp: f64, class: &RequestClass, slo: &Slo, max_batch: f64) -> f64 {
    let closed = capacity_one(m, p, gpu, e, precision, kv, tp, class, slo);
    if closed.status != CapacityStatus::Ok {
        return 0.0;
    }
    match ReplicaModel::new(m, p, gpu, e, precision, kv, tp) {
        Ok(replica) => Confirmer { replica: &replica, class, slo, max_batch, fixed_ms: e.timing.request_overhead_ms }
            .largest_rate(closed.capacity_rps),
        Err(_) => 0.0,
    }
}

/// The confirmed rate of every configuration, in parallel (one rate per row).
pub fn confirmed_many(t: &CapacityTables, c: &CapacityColumns, max_batch: f64) -> Result<Vec<f64>, CoreError> {
    if !(max_batch >= 1.0 && max_batch.is_finite()) {
        return invalid(format!("max_batch = {max_batch} must be a finite number >= 1"));
    }
    let n = check_lengths(&[c.model.len(), c.gpu.len(), c.engine.len(), c.precision.len(), c.kv_precision.len(),
                             c.tp.len(), c.class.len(), c.slo.len()])?;
    let lookups = Lookups { model: c.model, gpu: c.gpu, engine: c.engine, precision: c.precision, kv_precision: c.kv_precision };
    let d = lookups.check(t.models.len(), t.gpus.len(), t.engines.len(), "gpu")?;
    crate::columns::check_index("class", c.class, t.classes.len())?;
    crate::columns::check_index("slo", c.slo, t.slos.len())?;
    crate::columns::check_count("tp", c.tp)?;
    let params: Vec<ParamCounts> = t.models.iter().map(ModelArch::params).collect();
    Ok((0..n)
        .into_par_iter()
        .with_max_len(1)
        .map(|i| {
            let m = c.model[i] as usize;
            confirmed_one(&t.models[m], &params[m], &t.gpus[c.gpu[i] as usize], &t.engines[c.engine[i] as usize],
                          d.precision[i], d.kv_precision[i], c.tp[i] as f64, &t.classes[c.class[i] as usize],
                          &t.slos[c.slo[i] as usize], max_batch)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::tests::llama2_7b;
    use crate::engine::tests::ROW;

    const A100: [f64; 5] = [85.9e9, 312.0, 0.0, 2039.0, 600.0];
    const INF: f64 = f64::INFINITY;

    fn confirmed(class: Vec<(f64, f64, f64)>, slo: Slo) -> (f64, f64) {
        let m = llama2_7b();
        let e = EngineProfile::from_row(&ROW).unwrap();
        let g = GpuSpec::from_row(&A100).unwrap();
        let class = RequestClass::new(class).unwrap();
        let closed = capacity_one(&m, &m.params(), &g, &e, Precision::Fp16, Precision::Fp16, 1.0, &class, &slo);
        (confirmed_one(&m, &m.params(), &g, &e, Precision::Fp16, Precision::Fp16, 1.0, &class, &slo, 256.0),
         closed.capacity_rps)
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        let mut v: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(p95(&mut v), 19.0);
        assert_eq!(p95(&mut [7.0]), 7.0);
        assert!(p95(&mut []).is_nan());
    }

    #[test]
    fn the_rate_found_is_confirmed_and_the_next_step_is_not() {
        let m = llama2_7b();
        let e = EngineProfile::from_row(&ROW).unwrap();
        let g = GpuSpec::from_row(&A100).unwrap();
        let class = RequestClass::new(vec![(2048.0, 256.0, 1.0), (512.0, 128.0, 3.0)]).unwrap();
        let slo = Slo::new(800.0, 40.0, INF).unwrap();
        let replica = ReplicaModel::new(&m, &m.params(), &g, &e, Precision::Fp16, Precision::Fp16, 1.0).unwrap();
        let c = Confirmer { replica: &replica, class: &class, slo: &slo, max_batch: 256.0, fixed_ms: e.timing.request_overhead_ms };
        let closed = capacity_one(&m, &m.params(), &g, &e, Precision::Fp16, Precision::Fp16, 1.0, &class, &slo);
        let r = c.largest_rate(closed.capacity_rps);
        assert!(r > 0.0);
        assert!(c.meets(r));
        assert!(!c.meets(r * TOLERANCE * TOLERANCE), "{r}");
    }

    #[test]
    fn a_tighter_slo_never_confirms_more() {
        let class = vec![(512.0, 128.0, 1.0)];
        let mut last = INF;
        for tpot in [100.0, 40.0, 25.0, 18.0] {
            let (r, _) = confirmed(class.clone(), Slo::new(INF, tpot, INF).unwrap());
            assert!(r <= last * TOLERANCE, "{tpot}: {r} > {last}");
            last = r;
        }
        assert!(last > 0.0);
    }

    #[test]
    fn an_slo_one_request_misses_confirms_nothing() {
        assert_eq!(confirmed(vec![(512.0, 128.0, 1.0)], Slo::new(1.0, INF, INF).unwrap()).0, 0.0);
    }

    #[test]
    fn bad_max_batch_is_refused() {
        let t = CapacityTables { models: &[], gpus: &[], engines: &[], classes: &[], slos: &[] };
        let c = CapacityColumns { model: &[], gpu: &[], engine: &[], precision: &[], kv_precision: &[], tp: &[], class: &[], slo: &[] };
        assert!(confirmed_many(&t, &c, 0.5).is_err());
        assert!(confirmed_many(&t, &c, f64::NAN).is_err());
        assert_eq!(confirmed_many(&t, &c, 256.0).unwrap(), Vec::<f64>::new());
    }
}
