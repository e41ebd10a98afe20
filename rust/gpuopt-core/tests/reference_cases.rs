//! The core against the plain-Python reference (tests/reference.py): tests/data/reference_cases.txt
//! holds inputs and the reference's answers, written by scripts/core_fixtures.py. Every entry point
//! is checked, so `cargo mutants -p gpuopt-core` sees what the Python differential tests see.

use std::collections::HashMap;

use gpuopt_core::arch::ModelArch;
use gpuopt_core::capacity::{capacity_many, CapacityColumns, CapacityTables, RequestClass, Slo};
use gpuopt_core::cover::cover_min_many;
use gpuopt_core::engine::EngineProfile;
use gpuopt_core::estimate::{estimate_many, max_throughput_many, EstimateColumns, EstimateTables};
use gpuopt_core::gpu::GpuSpec;
use gpuopt_core::mixes::{mixes, MixLimits, MixType};
use gpuopt_core::sim::{simulate, Arrivals, ReplicaModel, Router, SimConfig};
use gpuopt_core::sweep::{sweep_grid, SweepAxes, SweepSlot};
use gpuopt_core::{fit_many, FitColumns, FitTables, Precision, Verdict, MODEL_FIELDS};

struct Fixture(HashMap<String, Vec<f64>>);

impl Fixture {
    fn load() -> Fixture {
        let text = include_str!("data/reference_cases.txt");
        let mut map = HashMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let mut parts = line.split(' ');
            let name = parts.next().unwrap().to_string();
            let values = parts.map(|v| v.parse::<f64>().unwrap_or_else(|_| panic!("{name}: {v}"))).collect();
            map.insert(name, values);
        }
        Fixture(map)
    }

    fn get(&self, name: &str) -> &[f64] {
        self.0.get(name).unwrap_or_else(|| panic!("fixture has no {name}"))
    }

    fn ints(&self, name: &str) -> Vec<i64> {
        self.get(name).iter().map(|&v| v as i64).collect()
    }

    /// The integer columns `case.name` for each name, in order.
    fn columns(&self, case: &str, names: &[&str]) -> Vec<Vec<i64>> {
        names.iter().map(|k| self.ints(&format!("{case}.{k}"))).collect()
    }

    fn models(&self) -> Vec<ModelArch> {
        let rows: Vec<i64> = self.ints("models");
        rows.chunks(MODEL_FIELDS.len()).map(|r| ModelArch::from_row(r).unwrap()).collect()
    }

    fn gpus(&self) -> Vec<GpuSpec> {
        self.get("gpus").chunks(gpuopt_core::gpu::GPU_FIELDS.len()).map(|r| GpuSpec::from_row(r).unwrap()).collect()
    }

    fn engines(&self) -> Vec<EngineProfile> {
        self.get("engines")
            .chunks(gpuopt_core::engine::ENGINE_FIELDS.len())
            .map(|r| EngineProfile::from_row(r).unwrap())
            .collect()
    }
}

/// Equal to 1e-9 relative (NaN matches NaN): the reference does the same arithmetic in the same order.
fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: {} values, expected {}", got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= 1e-9 * w.abs().max(g.abs());
        assert!(ok, "{what}[{i}] = {g}, the reference gives {w}");
    }
}

#[test]
fn parameter_counts_match_the_reference() {
    let f = Fixture::load();
    let models = f.models();
    let mut got = Vec::new();
    let (mut kv, mut tp_ok) = (Vec::new(), Vec::new());
    for m in &models {
        let p = m.params();
        got.extend([p.embedding, p.lm_head, p.attention, p.attention_bias, p.mlp, p.mlp_active, p.router, p.norms,
                    p.total(), p.active()]);
        assert_eq!(p.quantizable(), p.attention + p.mlp);
        assert_eq!(p.sharded_16bit(), p.embedding + p.lm_head + p.attention_bias);
        assert_eq!(p.replicated_16bit(), p.router + p.norms);
        kv.extend([m.kv_bytes_per_token(Precision::Fp16), m.kv_bytes_per_token(Precision::Fp8)]);
        tp_ok.extend((1..=16).map(|tp| m.tp_is_valid(tp as f64) as u8 as f64));
    }
    assert_close("params", &got, f.get("params.expected"));
    assert_close("kv_bytes_per_token", &kv, f.get("params.kv_bytes_per_token"));
    assert_close("tp_is_valid", &tp_ok, f.get("params.tp_is_valid"));
}

#[test]
fn model_rows_are_checked_field_by_field_at_their_limits() {
    let good: Vec<i64> = vec![32, 4096, 32, 8, 128, 11008, 32000, 0, 8, 2, 4096, 0, 1];
    assert!(ModelArch::from_row(&good).is_ok());
    let max = gpuopt_core::arch::MAX_DIM;
    for i in [0usize, 1, 4, 5, 6, 10] {
        let mut row = good.clone();
        row[i] = max;
        assert!(ModelArch::from_row(&row).is_ok(), "field {i} = MAX_DIM is allowed");
        row[i] = max + 1;
        assert!(ModelArch::from_row(&row).is_err(), "field {i} past MAX_DIM is refused");
        row[i] = 0;
        assert!(ModelArch::from_row(&row).is_err(), "field {i} = 0 is refused");
    }
    let mut row = good.clone();
    row[11] = 0;
    assert!(ModelArch::from_row(&row).is_ok(), "no sliding window");
    row[11] = -1;
    assert!(ModelArch::from_row(&row).is_err());
    for (i, v) in [(7usize, 2i64), (12, -1), (3, 5), (9, 9)] {
        let mut row = good.clone();
        row[i] = v;
        assert!(ModelArch::from_row(&row).is_err(), "field {i} = {v} is refused");
    }
    let mut row = good.clone();
    row[9] = 8;
    assert!(ModelArch::from_row(&row).is_ok(), "every expert per token");
    assert!(ModelArch::from_row(&good[..12]).is_err());
    let m = ModelArch::from_row(&good).unwrap();
    assert!(m.is_moe());
    row = good.clone();
    row[8] = 1;
    row[9] = 1;
    assert!(!ModelArch::from_row(&row).unwrap().is_moe());
}

#[test]
fn fit_matches_the_reference() {
    let f = Fixture::load();
    let models = f.models();
    let memory: Vec<f64> = f.gpus().iter().map(|g| g.memory_bytes).collect();
    let engines: Vec<_> = f.engines().iter().map(|e| e.memory).collect();
    let c = f.columns("fit", &["model", "gpu", "engine", "precision", "kv_precision", "batch", "context", "tp"]);
    let cols = FitColumns { model: &c[0], gpu: &c[1], engine: &c[2], precision: &c[3], kv_precision: &c[4],
                            batch: &c[5], context: &c[6], tp: &c[7] };
    let out = fit_many(&FitTables { models: &models, gpu_memory_bytes: &memory, engines: &engines }, &cols).unwrap();
    let mut got = Vec::new();
    for i in 0..cols.len() {
        let r = out.row(i);
        got.extend([r.weights_bytes, r.kv_cache_bytes, r.activation_bytes, r.overhead_bytes, r.total_bytes,
                    r.capacity_bytes, r.utilization, verdict_code(r.verdict), r.max_batch as f64]);
    }
    assert_close("fit", &got, f.get("fit.expected"));
    assert!(!cols.is_empty());
}

fn verdict_code(v: Verdict) -> f64 {
    match v {
        Verdict::Fits => 0.0,
        Verdict::Tight => 1.0,
        Verdict::NoFit => 2.0,
        Verdict::Invalid => 3.0,
    }
}

fn estimate_case(f: &Fixture, name: &str, many: fn(&EstimateTables, &EstimateColumns) -> Result<Vec<f64>, gpuopt_core::CoreError>) {
    let (models, gpus, engines) = (f.models(), f.gpus(), f.engines());
    let c = f.columns(name, &["model", "gpu", "engine", "precision", "kv_precision", "batch", "input", "output", "tp"]);
    let cols = EstimateColumns { model: &c[0], gpu: &c[1], engine: &c[2], precision: &c[3], kv_precision: &c[4],
                                 batch: &c[5], input: &c[6], output: &c[7], tp: &c[8] };
    let got = many(&EstimateTables { models: &models, gpus: &gpus, engines: &engines }, &cols).unwrap();
    assert_close(name, &got, f.get(&format!("{name}.expected")));
}

#[test]
fn estimates_match_the_reference() {
    estimate_case(&Fixture::load(), "estimate", estimate_many);
}

#[test]
fn max_throughput_matches_the_reference() {
    estimate_case(&Fixture::load(), "max_throughput", max_throughput_many);
}

#[test]
fn capacity_matches_the_reference() {
    let f = Fixture::load();
    let (models, gpus, engines) = (f.models(), f.gpus(), f.engines());
    let offsets = f.ints("capacity.class_offsets");
    let buckets: Vec<(f64, f64, f64)> = f.get("capacity.buckets").chunks(3).map(|b| (b[0], b[1], b[2])).collect();
    let classes: Vec<RequestClass> = offsets
        .windows(2)
        .map(|w| RequestClass::new(buckets[w[0] as usize..w[1] as usize].to_vec()).unwrap())
        .collect();
    let slos: Vec<Slo> = f.get("capacity.slos").chunks(3).map(|s| Slo::new(s[0], s[1], s[2]).unwrap()).collect();
    let c = f.columns("capacity", &["model", "gpu", "engine", "precision", "kv_precision", "tp", "class", "slo"]);
    let cols = CapacityColumns { model: &c[0], gpu: &c[1], engine: &c[2], precision: &c[3], kv_precision: &c[4],
                                 tp: &c[5], class: &c[6], slo: &c[7] };
    let tables = CapacityTables { models: &models, gpus: &gpus, engines: &engines, classes: &classes, slos: &slos };
    assert_close("capacity", &capacity_many(&tables, &cols).unwrap(), f.get("capacity.expected"));
}

#[test]
fn sweep_matches_the_reference() {
    let f = Fixture::load();
    let (models, engines) = (f.models(), f.engines());
    let width = gpuopt_core::gpu::GPU_FIELDS.len() + 2;
    let slots: Vec<SweepSlot> = f.get("sweep.slots").chunks(width).map(|r| SweepSlot::from_row(r).unwrap()).collect();
    let a = f.columns("sweep", &["model", "slot", "engine", "precision", "kv_precision", "tp", "batch", "input", "output"]);
    let axes = SweepAxes { model: &a[0], slot: &a[1], engine: &a[2], precision: &a[3], kv_precision: &a[4], tp: &a[5],
                           batch: &a[6], input: &a[7], output: &a[8], slot_engine: None };
    assert_close("sweep", &sweep_grid(&models, &slots, &engines, &axes).unwrap(), f.get("sweep.expected"));
}

#[test]
fn mixes_match_the_reference() {
    let f = Fixture::load();
    for i in 0..7 {
        let types: Vec<MixType> = f
            .get(&format!("mixes{i}.types"))
            .chunks(4)
            .map(|t| MixType { usd_per_hour: t[0], memory_bytes: t[1], throughput: t[2], power_w: t[3] })
            .collect();
        let l = f.get(&format!("mixes{i}.limits"));
        let limits = MixLimits { max_gpus: l[0] as u32, budget: l[1], min_memory_bytes: l[2], min_throughput: l[3] };
        let front = mixes(&types, limits).unwrap();
        let what = format!("mixes{i}");
        assert_close(&what, &[front.enumerated as f64, front.feasible as f64], f.get(&format!("{what}.expected_counts")));
        let got: Vec<f64> = front.front.iter().flat_map(|m| [m.usd_per_hour, m.throughput]).collect();
        assert_close(&what, &got, f.get(&format!("{what}.expected_front")));
        for m in &front.front {   // totals are the counts' sums
            let usd: f64 = m.counts.iter().zip(&types).map(|(&c, t)| c as f64 * t.usd_per_hour).sum();
            let memory: f64 = m.counts.iter().zip(&types).map(|(&c, t)| c as f64 * t.memory_bytes).sum();
            let power: f64 = m.counts.iter().zip(&types).map(|(&c, t)| c as f64 * t.power_w).sum();
            assert_close(&what, &[m.usd_per_hour, m.memory_bytes, m.power_w], &[usd, memory, power]);
            assert!(m.counts.iter().sum::<u32>() <= limits.max_gpus);
        }
    }
}

#[test]
fn covers_match_the_reference() {
    let f = Fixture::load();
    // the second case stops most searches at 40 nodes (scripts/core_fixtures.py, COVER_NODE_LIMIT)
    for (case, node_limit) in [("cover", 100_000), ("cover2", 40)] {
        let get = |k: &str| f.get(&format!("{case}.{k}"));
        let offsets: Vec<usize> = get("offsets").iter().map(|&v| v as usize).collect();
        let covers = cover_min_many(&offsets, get("w"), get("a"), get("r"), get("m"), node_limit).unwrap();
        let cost: Vec<f64> = covers.iter().map(|c| c.cost).collect();
        let lower: Vec<f64> = covers.iter().map(|c| c.lower).collect();
        let counts: Vec<f64> = covers.iter().flat_map(|c| c.counts.iter().map(|&x| x as f64)).collect();
        assert_close(&format!("{case} cost"), &cost, get("expected_cost"));
        assert_close(&format!("{case} lower"), &lower, get("expected_lower"));
        assert_close(&format!("{case} counts"), &counts, get("expected_counts"));
    }
}

#[test]
fn simulations_match_the_reference() {
    let f = Fixture::load();
    let models = f.models();
    let sizes: Vec<(f64, f64, f64)> = f.get("sim0.sizes").chunks(3).map(|s| (s[0], s[1], s[2])).collect();
    for i in 0..5 {
        let p = format!("sim{i}.");
        let setup = f.get(&format!("{p}setup"));
        let m = &models[setup[0] as usize];
        let gpu = GpuSpec::from_row(f.get(&format!("{p}gpu"))).unwrap();
        let engine = EngineProfile::from_row(f.get(&format!("{p}engine"))).unwrap();
        let precision = Precision::from_code(setup[1] as i64).unwrap();
        let kv = Precision::from_code(setup[7] as i64).unwrap();
        let replica = ReplicaModel::new(m, &m.params(), &gpu, &engine, precision, kv, setup[8]).unwrap();
        let arrivals = if let Some(v) = f.0.get(&format!("{p}poisson")) {
            Arrivals::Poisson { rates: v[2..].to_vec(), period_s: v[0], duration_s: v[1] }
        } else if let Some(v) = f.0.get(&format!("{p}closed")) {
            Arrivals::Closed { clients: v[0] as usize, total: v[1] as usize, stagger_s: v[2], think_s: v[3] }
        } else {
            let sizes = f.get(&format!("{p}trace_sizes")).chunks(2).map(|s| (s[0], s[1])).collect();
            Arrivals::Trace { times: f.get(&format!("{p}trace_times")).to_vec(), sizes }
        };
        let router = if setup[3] == 1.0 { Router::LeastLoaded } else { Router::RoundRobin };
        let cfg = SimConfig { replicas: setup[2] as usize, router, arrivals, sizes: sizes.clone(), max_batch: setup[4],
                              fixed_ms: setup[5], seed: setup[6] as u64 };
        let out = simulate(&replica, &cfg).unwrap();
        for (k, got) in [("arrival", &out.arrival), ("admitted", &out.admitted), ("first_token", &out.first_token),
                         ("finish", &out.finish), ("output_tokens", &out.output_tokens), ("busy_s", &out.busy_s),
                         ("queue_area", &out.queue_area), ("queue_max", &out.queue_max)] {
            assert_close(&format!("{p}{k}"), got, f.get(&format!("{p}{k}")));
        }
        assert_close(&format!("{p}totals"), &[out.rejected as f64, out.makespan_s], f.get(&format!("{p}totals")));
    }
}
