//! Every entry point of the core on random and adversarial input (proptest): an answer or an
//! error, never a panic (the bindings catch one, but an abort they cannot), and the answers the
//! Python side checks too: finite, non-negative times, sizes and rates where the row is valid.
//! PROPTEST_CASES raises the number of cases for a longer local run.

use gpuopt_core::arch::ModelArch;
use gpuopt_core::capacity::{capacity_many, CapacityColumns, CapacityTables, RequestClass, Slo};
use gpuopt_core::cover::cover_min_many;
use gpuopt_core::engine::EngineProfile;
use gpuopt_core::estimate::{estimate_many, max_throughput_many, EstimateColumns, EstimateTables};
use gpuopt_core::gpu::GpuSpec;
use gpuopt_core::mixes::{mixes, MixLimits, MixType};
use gpuopt_core::sim::{simulate, Arrivals, ReplicaModel, Router, SimConfig};
use gpuopt_core::sweep::pareto;
use gpuopt_core::{fit_many, FitColumns, FitTables, Precision, Verdict};
use proptest::prelude::*;

const MODEL: [i64; 13] = [32, 4096, 32, 8, 128, 14336, 128256, 0, 1, 1, 8192, 0, 0];
const GPU: [f64; 5] = [80e9, 989.0, 1979.0, 3350.0, 900.0];
const ENGINE: [f64; 18] = [0.9, 0.8e9, 2048.0, 8.0, 1.5e9, 256.0, 0.6, 0.8, 40.0, 0.5, 3.0, 0.7, 10.0, 0.6, 20.0, 512.0, 0.3, 0.0];

fn odd_f64() -> BoxedStrategy<f64> {
    prop_oneof![
        4 => -1e3..1e6f64,
        1 => prop::sample::select(vec![0.0, -0.0, 1.0, f64::MIN_POSITIVE, 5e-324, 1e300, f64::MAX, f64::INFINITY,
                                       f64::NEG_INFINITY, f64::NAN]),
    ]
    .boxed()
}

fn odd_i64() -> BoxedStrategy<i64> {
    prop_oneof![
        4 => -3i64..70_000,
        1 => prop::sample::select(vec![0, 1, -1, 1 << 31, (1 << 31) + 1, 1 << 40, (1 << 40) + 1, i64::MAX, i64::MIN]),
    ]
    .boxed()
}

/// A row near a valid one: one field (or none) replaced by an odd value, sometimes one field short.
fn near<T: Copy + std::fmt::Debug + 'static>(good: &'static [T], odd: BoxedStrategy<T>) -> impl Strategy<Value = Vec<T>> {
    (0..good.len() * 2, odd, prop::bool::weighted(0.05)).prop_map(move |(at, value, short)| {
        let mut row = good.to_vec();
        if at < good.len() {
            row[at] = value;
        }
        if short {
            row.pop();
        }
        row
    })
}

fn tables() -> impl Strategy<Value = (Vec<i64>, Vec<f64>, Vec<f64>)> {
    (near(&MODEL, odd_i64()), near(&GPU, odd_f64()), near(&ENGINE, odd_f64()))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn rows_fits_estimates_and_capacities(t in tables(), n in 1usize..6, seed in any::<u64>()) {
        let (m, g, e) = (ModelArch::from_row(&t.0), GpuSpec::from_row(&t.1), EngineProfile::from_row(&t.2));
        let (Ok(m), Ok(g), Ok(e)) = (m, g, e) else { return Ok(()) };
        let mut state = seed;
        let mut next = move || {   // splitmix64: the columns' values, drawn from the case's seed
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let z = (state ^ (state >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let mut col = |lo: i64, hi: i64| -> Vec<i64> { (0..n).map(|_| lo + (next() % (hi - lo + 1) as u64) as i64).collect() };
        let (model, gpu, engine) = (col(0, 1), col(0, 1), col(0, 1));   // index 1 is past each table
        let (precision, kv) = (col(-1, 5), col(-1, 5));
        let (batch, context, tp) = (col(0, 4096), col(0, 1 << 20), col(0, 64));
        let models = [m];
        let memory = [g.memory_bytes];
        let fit = fit_many(&FitTables { models: &models, gpu_memory_bytes: &memory, engines: &[e.memory] },
                           &FitColumns { model: &model, gpu: &gpu, engine: &engine, precision: &precision,
                                         kv_precision: &kv, batch: &batch, context: &context, tp: &tp });
        if let Ok(out) = fit {
            for i in 0..n {
                let r = out.row(i);
                if r.verdict != Verdict::Invalid {
                    prop_assert!(r.total_bytes.is_finite() && r.total_bytes >= 0.0, "{r:?}");
                }
            }
        }
        let (input, output) = (col(0, 1 << 16), col(0, 1 << 14));
        let cols = EstimateColumns { model: &model, gpu: &gpu, engine: &engine, precision: &precision, kv_precision: &kv,
                                     batch: &batch, input: &input, output: &output, tp: &tp };
        let gpus = [g];
        let engines = [e];
        let t = EstimateTables { models: &models, gpus: &gpus, engines: &engines };
        let _ = estimate_many(&t, &cols);
        let _ = max_throughput_many(&t, &cols);
        let classes = [RequestClass::new(vec![(512.0, 128.0, 1.0), (4096.0, 16.0, 0.5)]).expect("valid")];
        let slos = [Slo::new(500.0, 50.0, f64::INFINITY).expect("valid")];
        let (class, slo) = (col(0, 1), col(0, 1));
        let cap = capacity_many(&CapacityTables { models: &models, gpus: &gpus, engines: &engines, classes: &classes, slos: &slos },
                                &CapacityColumns { model: &model, gpu: &gpu, engine: &engine, precision: &precision,
                                                   kv_precision: &kv, tp: &tp, class: &class, slo: &slo });
        if let Ok(flat) = cap {
            prop_assert!(flat.iter().all(|v| v.is_nan() || *v >= 0.0), "{flat:?}");
        }
    }

    #[test]
    fn the_simulator(t in tables(), replicas in 0usize..4, rate in odd_f64(), duration in odd_f64(),
                     sizes in prop::collection::vec((odd_f64(), odd_f64(), odd_f64()), 0..3),
                     max_batch in odd_f64(), kind in 0u8..3, seed in any::<u64>(), tp in 1i64..4) {
        let (m, g, e) = (ModelArch::from_row(&t.0), GpuSpec::from_row(&t.1), EngineProfile::from_row(&t.2));
        let (Ok(m), Ok(g), Ok(e)) = (m, g, e) else { return Ok(()) };
        let p = m.params();
        let Ok(replica) = ReplicaModel::new(&m, &p, &g, &e, Precision::Fp16, Precision::Fp16, tp as f64) else { return Ok(()) };
        // bounded: at most ~2,000 requests, so a case takes milliseconds
        let arrivals = match kind {
            0 => Arrivals::Poisson { rates: vec![rate.clamp(-1.0, 50.0)], period_s: duration, duration_s: duration.min(40.0) },
            1 => Arrivals::Trace { times: vec![0.0, rate.clamp(-1.0, 5.0), 1.0], sizes: vec![(128.0, 16.0), (duration, 4.0), (1.0, 1.0)] },
            _ => Arrivals::Closed { clients: replicas * 3, total: 50, stagger_s: rate.clamp(-1.0, 2.0), think_s: duration.clamp(-1.0, 1.0) },
        };
        let cfg = SimConfig { replicas, router: Router::LeastLoaded, arrivals, sizes, max_batch, fixed_ms: 0.0, seed };
        if let Ok(out) = simulate(&replica, &cfg) {
            prop_assert!(out.makespan_s.is_finite() && out.makespan_s >= 0.0);
            prop_assert!(out.busy_s.iter().all(|b| b.is_finite() && *b >= 0.0 && *b <= out.makespan_s * (1.0 + 1e-9) + 1e-9));
        }
    }

    #[test]
    fn mixes_pareto_and_covers(types in prop::collection::vec((odd_f64(), odd_f64(), odd_f64(), odd_f64()), 0..4),
                               max_gpus in 0u32..10, budget in odd_f64(),
                               a in prop::collection::vec(odd_f64(), 0..20), b in prop::collection::vec(odd_f64(), 0..20),
                               node_limit in 0u64..10_000) {
        let types: Vec<MixType> = types.into_iter()
            .map(|(usd_per_hour, memory_bytes, throughput, power_w)| MixType { usd_per_hour, memory_bytes, throughput, power_w })
            .collect();
        if let Ok(front) = mixes(&types, MixLimits { max_gpus, budget, min_memory_bytes: 0.0, min_throughput: 0.0 }) {
            prop_assert!(front.feasible <= front.enumerated);
            prop_assert!(front.front.windows(2).all(|w| w[0].usd_per_hour <= w[1].usd_per_hour));
        }
        let n = a.len().min(b.len());
        if let Ok(idx) = pareto(&[&a[..n], &b[..n]]) {
            prop_assert!(idx.iter().all(|&i| i < n));
        }
        let _ = pareto(&[&a, &b]);   // lengths may differ: an error, never an out-of-bounds index
        let k = a.len().min(b.len()).min(6);
        let offsets = [0, k / 2, k];
        let _ = cover_min_many(&offsets, &a[..k], &b[..k], &[1.0, 2.0], &[0.0, 1.0], node_limit);
        let _ = cover_min_many(&[0, k + 5], &a[..k], &b[..k], &[1.0], &[0.0], node_limit);
    }
}
