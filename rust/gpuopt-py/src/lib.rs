//! gpuopt._core: thin bindings over gpuopt-core. Arrays cross once per call; long calls release
//! the GIL; engine errors become gpuopt.errors exceptions and panics never reach Python.

mod pool;

use std::panic::{catch_unwind, AssertUnwindSafe};

use gpuopt_core::arch::{ModelArch, MODEL_FIELDS};
use gpuopt_core::error::CoreError;
use gpuopt_core::engine::{EngineMemory, EngineProfile, ENGINE_FIELDS};
use gpuopt_core::estimate::{self, EstimateColumns, EstimateTables, BOUND_NAMES, ESTIMATE_COLUMNS};
use gpuopt_core::fit::{self, FitColumns, FitTables, VERDICT_NAMES};
use gpuopt_core::gpu::{GpuSpec, GPU_FIELDS};
use gpuopt_core::capacity;
use gpuopt_core::cover;
use gpuopt_core::mig;
use gpuopt_core::mixes;
use gpuopt_core::sim;
use gpuopt_core::sweep;
use gpuopt_core::precision::PRECISION_NAMES;
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Builds an instance of the exception class `name` from gpuopt.errors (defined in Python).
fn py_error(py: Python<'_>, name: &str, msg: String) -> PyErr {
    let made = py
        .import("gpuopt.errors")
        .and_then(|m| m.getattr(name))
        .and_then(|cls| cls.call1((msg.clone(),)));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

fn core_error(py: Python<'_>, e: CoreError) -> PyErr {
    match e {
        CoreError::InvalidInput(msg) => py_error(py, "InvalidInputError", msg),
    }
}

/// Runs `f` without the GIL on this process's worker threads (see pool.rs), turning a panic into
/// gpuopt.errors.InternalError.
fn run_detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, CoreError> + Send,
{
    let workers = pool::pool().map_err(|msg| py_error(py, "InternalError", msg))?;
    let outcome = py.detach(|| workers.install(|| catch_unwind(AssertUnwindSafe(f))));
    match outcome {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(core_error(py, e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(py_error(py, "InternalError", format!("gpuopt engine failed: {what}")))
        }
    }
}

fn slice<'a, T: numpy::Element>(py: Python<'_>, name: &str, a: &'a PyReadonlyArray1<'_, T>) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| py_error(py, "InvalidInputError", format!("{name} must be a contiguous 1-D array")))
}

fn rows<'a, T: numpy::Element>(
    py: Python<'_>,
    name: &str,
    a: &'a PyReadonlyArray2<'_, T>,
    width: usize,
) -> PyResult<std::slice::ChunksExact<'a, T>> {
    let cols = a.shape()[1];
    if cols != width {
        return Err(py_error(py, "InvalidInputError", format!("{name} must have {width} columns, got {cols}")));
    }
    let flat = a
        .as_slice()
        .map_err(|_| py_error(py, "InvalidInputError", format!("{name} must be a contiguous 2-D array")))?;
    Ok(flat.chunks_exact(width))
}

fn model_table(py: Python<'_>, models: &PyReadonlyArray2<'_, i64>) -> PyResult<Vec<ModelArch>> {
    rows(py, "models", models, MODEL_FIELDS.len())?
        .map(ModelArch::from_row)
        .collect::<Result<_, _>>()
        .map_err(|e| core_error(py, e))
}

fn engine_table(py: Python<'_>, engines: &PyReadonlyArray2<'_, f64>) -> PyResult<Vec<EngineProfile>> {
    rows(py, "engines", engines, ENGINE_FIELDS.len())?
        .map(EngineProfile::from_row)
        .collect::<Result<_, _>>()
        .map_err(|e| core_error(py, e))
}

fn gpu_table(py: Python<'_>, gpus: &PyReadonlyArray2<'_, f64>) -> PyResult<Vec<GpuSpec>> {
    rows(py, "gpus", gpus, GPU_FIELDS.len())?
        .map(GpuSpec::from_row)
        .collect::<Result<_, _>>()
        .map_err(|e| core_error(py, e))
}

/// Parameter counts of one architecture row (MODEL_FIELDS order).
#[pyfunction]
fn model_params<'py>(py: Python<'py>, row: Vec<i64>) -> PyResult<Bound<'py, PyDict>> {
    let m = ModelArch::from_row(&row).map_err(|e| core_error(py, e))?;
    let p = m.params();
    let d = PyDict::new(py);
    d.set_item("total_params", p.total())?;
    d.set_item("active_params", p.active())?;
    d.set_item("embedding_params", p.embedding + p.lm_head)?;
    d.set_item("attention_params", p.attention + p.attention_bias)?;
    d.set_item("mlp_params", p.mlp)?;
    d.set_item("kv_bytes_per_token", m.kv_bytes_per_token(gpuopt_core::Precision::Fp16))?;
    Ok(d)
}

type FitFn = fn(&FitTables, &FitColumns) -> Result<fit::FitOutput, CoreError>;

#[allow(clippy::too_many_arguments)]
fn fit_call<'py>(
    py: Python<'py>,
    run: FitFn,
    models: PyReadonlyArray2<'py, i64>,
    gpus: PyReadonlyArray2<'py, f64>,
    engines: PyReadonlyArray2<'py, f64>,
    columns: [PyReadonlyArray1<'py, i64>; 8],
) -> PyResult<Bound<'py, PyDict>> {
    let models = model_table(py, &models)?;
    let memory: Vec<f64> = gpu_table(py, &gpus)?.iter().map(|g| g.memory_bytes).collect();
    let engines: Vec<EngineMemory> = engine_table(py, &engines)?.iter().map(|e| e.memory).collect();
    let tables = FitTables { models: &models, gpu_memory_bytes: &memory, engines: &engines };
    let names = ["model", "gpu", "engine", "precision", "kv_precision", "batch", "context", "tp"];
    let mut s: [&[i64]; 8] = [&[]; 8];
    for (k, col) in columns.iter().enumerate() {
        s[k] = slice(py, names[k], col)?;
    }
    let cols = FitColumns {
        model: s[0], gpu: s[1], engine: s[2], precision: s[3], kv_precision: s[4], batch: s[5], context: s[6], tp: s[7],
    };
    let out = run_detached(py, || run(&tables, &cols))?;
    let d = PyDict::new(py);
    d.set_item("weights_bytes", out.weights_bytes.into_pyarray(py))?;
    d.set_item("kv_cache_bytes", out.kv_cache_bytes.into_pyarray(py))?;
    d.set_item("activation_bytes", out.activation_bytes.into_pyarray(py))?;
    d.set_item("overhead_bytes", out.overhead_bytes.into_pyarray(py))?;
    d.set_item("total_bytes", out.total_bytes.into_pyarray(py))?;
    d.set_item("capacity_bytes", out.capacity_bytes.into_pyarray(py))?;
    d.set_item("utilization", out.utilization.into_pyarray(py))?;
    d.set_item("verdict", out.verdict.into_pyarray(py))?;
    d.set_item("max_batch", out.max_batch.into_pyarray(py))?;
    Ok(d)
}

/// Defines a #[pyfunction] taking the three tables and one int64 column per name, forwarding to
/// `$call(py, $run, tables..., [columns])`: the fit and estimate entry points differ only in that.
macro_rules! columns_fn {
    ($(#[$doc:meta])* $name:ident, $call:ident, $run:path, $out:ty, [$($col:ident),+]) => {
        $(#[$doc])*
        #[pyfunction]
        #[allow(clippy::too_many_arguments)]
        fn $name<'py>(
            py: Python<'py>,
            models: PyReadonlyArray2<'py, i64>,
            gpus: PyReadonlyArray2<'py, f64>,
            engines: PyReadonlyArray2<'py, f64>,
            $($col: PyReadonlyArray1<'py, i64>),+
        ) -> PyResult<$out> {
            $call(py, $run, models, gpus, engines, [$($col),+])
        }
    };
}

columns_fn!(
    /// Memory fit of many configurations: tables, then one equal-length column per input.
    fit_many, fit_call, fit::fit_many, Bound<'py, PyDict>,
    [model, gpu, engine, precision, kv_precision, batch, context, tp]
);
columns_fn!(
    /// Memory fit of the full factorial of the axes (same arguments as fit_many, each an axis),
    /// last axis fastest.
    fit_grid, fit_call, fit::fit_grid, Bound<'py, PyDict>,
    [model, gpu, engine, precision, kv_precision, batch, context, tp]
);

type EstimateFn = fn(&EstimateTables, &EstimateColumns) -> Result<Vec<f64>, CoreError>;

#[allow(clippy::too_many_arguments)]
fn estimate_call<'py>(
    py: Python<'py>,
    run: EstimateFn,
    models: PyReadonlyArray2<'py, i64>,
    gpus: PyReadonlyArray2<'py, f64>,
    engines: PyReadonlyArray2<'py, f64>,
    columns: [PyReadonlyArray1<'py, i64>; 9],
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let models = model_table(py, &models)?;
    let gpus = gpu_table(py, &gpus)?;
    let engines = engine_table(py, &engines)?;
    let tables = EstimateTables { models: &models, gpus: &gpus, engines: &engines };
    let names = ["model", "gpu", "engine", "precision", "kv_precision", "batch", "input", "output", "tp"];
    let mut s: [&[i64]; 9] = [&[]; 9];
    for (k, col) in columns.iter().enumerate() {
        s[k] = slice(py, names[k], col)?;
    }
    let cols = EstimateColumns {
        model: s[0], gpu: s[1], engine: s[2], precision: s[3], kv_precision: s[4], batch: s[5], input: s[6],
        output: s[7], tp: s[8],
    };
    let flat = run_detached(py, || run(&tables, &cols))?;
    let n = cols.model.len();
    flat.into_pyarray(py).reshape([n, ESTIMATE_COLUMNS.len()])
}

columns_fn!(
    /// Latency and throughput of many configurations; an n x len(ESTIMATE_COLUMNS) array.
    estimate_many, estimate_call, estimate::estimate_many, Bound<'py, PyArray2<f64>>,
    [model, gpu, engine, precision, kv_precision, batch, input, output, tp]
);
columns_fn!(
    /// As estimate_many, at the batch with the most output tokens/s that still fits (batch ignored).
    max_throughput_many, estimate_call, estimate::max_throughput_many, Bound<'py, PyArray2<f64>>,
    [model, gpu, engine, precision, kv_precision, batch, input, output, tp]
);

/// Legal MIG layouts as counts per profile; profiles are (compute slices, memory slices,
/// allowed starts, max per GPU). `maximal` keeps only layouts no instance can be added to.
#[pyfunction]
fn mig_layouts(py: Python<'_>, profiles: Vec<(u32, u32, Vec<u32>, u32)>, maximal: bool) -> PyResult<Vec<Vec<u32>>> {
    let profiles = profiles
        .iter()
        .map(|(c, m, starts, max)| mig::MigProfile::new(*c, *m, starts, *max))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| core_error(py, e))?;
    run_detached(py, || Ok(if maximal { mig::maximal_layouts(&profiles) } else { mig::layouts(&profiles) }))
}

/// Capacity under SLO of many configurations: an n x len(CAPACITY_COLUMNS) array. `classes` are
/// lists of (input, output, weight) buckets; `slos` are (ttft, tpot, e2e) p95 limits in ms (inf: none).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn capacity_many<'py>(
    py: Python<'py>,
    models: PyReadonlyArray2<'py, i64>,
    gpus: PyReadonlyArray2<'py, f64>,
    engines: PyReadonlyArray2<'py, f64>,
    classes: Vec<Vec<(f64, f64, f64)>>,
    slos: Vec<(f64, f64, f64)>,
    model: PyReadonlyArray1<'py, i64>,
    gpu: PyReadonlyArray1<'py, i64>,
    engine: PyReadonlyArray1<'py, i64>,
    precision: PyReadonlyArray1<'py, i64>,
    kv_precision: PyReadonlyArray1<'py, i64>,
    tp: PyReadonlyArray1<'py, i64>,
    request_class: PyReadonlyArray1<'py, i64>,
    slo: PyReadonlyArray1<'py, i64>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let models = model_table(py, &models)?;
    let gpus = gpu_table(py, &gpus)?;
    let engines = engine_table(py, &engines)?;
    let classes = classes
        .into_iter()
        .map(capacity::RequestClass::new)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| core_error(py, e))?;
    let slos = slos
        .into_iter()
        .map(|(a, b, c)| capacity::Slo::new(a, b, c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| core_error(py, e))?;
    let tables = capacity::CapacityTables { models: &models, gpus: &gpus, engines: &engines, classes: &classes, slos: &slos };
    let cols = capacity::CapacityColumns {
        model: slice(py, "model", &model)?,
        gpu: slice(py, "gpu", &gpu)?,
        engine: slice(py, "engine", &engine)?,
        precision: slice(py, "precision", &precision)?,
        kv_precision: slice(py, "kv_precision", &kv_precision)?,
        tp: slice(py, "tp", &tp)?,
        class: slice(py, "request_class", &request_class)?,
        slo: slice(py, "slo", &slo)?,
    };
    let flat = run_detached(py, || capacity::capacity_many(&tables, &cols))?;
    let n = cols.model.len();
    flat.into_pyarray(py).reshape([n, capacity::CAPACITY_COLUMNS.len()])
}

/// Full-factorial sweep: tables (slots are GPU rows plus $/hour and request delay), then one
/// axis per input; an n x len(SWEEP_COLUMNS) array, last axis fastest.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn sweep_grid<'py>(
    py: Python<'py>,
    models: PyReadonlyArray2<'py, i64>,
    slots: PyReadonlyArray2<'py, f64>,
    engines: PyReadonlyArray2<'py, f64>,
    model: PyReadonlyArray1<'py, i64>,
    slot: PyReadonlyArray1<'py, i64>,
    engine: PyReadonlyArray1<'py, i64>,
    precision: PyReadonlyArray1<'py, i64>,
    kv_precision: PyReadonlyArray1<'py, i64>,
    tp: PyReadonlyArray1<'py, i64>,
    batch: PyReadonlyArray1<'py, i64>,
    input: PyReadonlyArray1<'py, i64>,
    output: PyReadonlyArray1<'py, i64>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let models = model_table(py, &models)?;
    let slots = rows(py, "slots", &slots, GPU_FIELDS.len() + sweep::SLOT_EXTRA_FIELDS.len())?
        .map(sweep::SweepSlot::from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| core_error(py, e))?;
    let engines = engine_table(py, &engines)?;
    let axes = sweep::SweepAxes {
        model: slice(py, "model", &model)?,
        slot: slice(py, "slot", &slot)?,
        engine: slice(py, "engine", &engine)?,
        precision: slice(py, "precision", &precision)?,
        kv_precision: slice(py, "kv_precision", &kv_precision)?,
        tp: slice(py, "tp", &tp)?,
        batch: slice(py, "batch", &batch)?,
        input: slice(py, "input", &input)?,
        output: slice(py, "output", &output)?,
    };
    let flat = run_detached(py, || sweep::sweep_grid(&models, &slots, &engines, &axes))?;
    let n = flat.len() / sweep::SWEEP_COLUMNS.len();
    flat.into_pyarray(py).reshape([n, sweep::SWEEP_COLUMNS.len()])
}

/// Indices of the non-dominated rows; every column is minimised (negate to maximise).
#[pyfunction]
fn pareto_front<'py>(py: Python<'py>, objectives: Vec<PyReadonlyArray1<'py, f64>>) -> PyResult<Bound<'py, numpy::PyArray1<i64>>> {
    let cols: Vec<&[f64]> = objectives.iter().map(|c| slice(py, "objective", c)).collect::<PyResult<_>>()?;
    let front = run_detached(py, || sweep::pareto(&cols))?;
    Ok(front.into_iter().map(|i| i as i64).collect::<Vec<i64>>().into_pyarray(py))
}

/// The cheapest integer cover of each block (column generation's pricing): block b holds items
/// offsets[b] .. offsets[b+1] with prices `w` and capacities `a`, demand r[b] and minimum
/// replicas m[b]. Returns (cost per block, lower bound per block, count per item).
#[pyfunction]
#[allow(clippy::type_complexity)]
fn cover_min_many<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, u64>,
    w: PyReadonlyArray1<'py, f64>,
    a: PyReadonlyArray1<'py, f64>,
    r: PyReadonlyArray1<'py, f64>,
    m: PyReadonlyArray1<'py, f64>,
    node_limit: u64,
) -> PyResult<(Bound<'py, numpy::PyArray1<f64>>, Bound<'py, numpy::PyArray1<f64>>, Bound<'py, numpy::PyArray1<u64>>)> {
    let offsets: Vec<usize> = slice(py, "offsets", &offsets)?.iter().map(|&o| o as usize).collect();
    let (w, a, r, m) = (slice(py, "w", &w)?, slice(py, "a", &a)?, slice(py, "r", &r)?, slice(py, "m", &m)?);
    let covers = run_detached(py, || cover::cover_min_many(&offsets, w, a, r, m, node_limit))?;
    let cost: Vec<f64> = covers.iter().map(|c| c.cost).collect();
    let lower: Vec<f64> = covers.iter().map(|c| c.lower).collect();
    let counts: Vec<u64> = covers.into_iter().flat_map(|c| c.counts).collect();
    Ok((cost.into_pyarray(py), lower.into_pyarray(py), counts.into_pyarray(py)))
}

/// Pareto front (min $/hour, max throughput) of every mix of GPU types. `types` rows are
/// (usd_per_hour, memory_bytes, throughput, power_w). Returns (counts, totals, enumerated, feasible)
/// with totals rows (usd_per_hour, memory_bytes, throughput, power_w).
#[pyfunction]
#[allow(clippy::type_complexity)]
fn mix_front<'py>(
    py: Python<'py>,
    types: Vec<(f64, f64, f64, f64)>,
    max_gpus: u32,
    budget: f64,
    min_memory_bytes: f64,
    min_throughput: f64,
) -> PyResult<(Bound<'py, PyArray2<u32>>, Bound<'py, PyArray2<f64>>, u64, u64)> {
    let types: Vec<mixes::MixType> = types
        .into_iter()
        .map(|(usd_per_hour, memory_bytes, throughput, power_w)| mixes::MixType { usd_per_hour, memory_bytes, throughput, power_w })
        .collect();
    let limits = mixes::MixLimits { max_gpus, budget, min_memory_bytes, min_throughput };
    let k = types.len();
    let r = run_detached(py, || mixes::mixes(&types, limits))?;
    let n = r.front.len();
    let counts: Vec<u32> = r.front.iter().flat_map(|m| m.counts.iter().copied()).collect();
    let totals: Vec<f64> = r.front.iter().flat_map(|m| [m.usd_per_hour, m.memory_bytes, m.throughput, m.power_w]).collect();
    Ok((counts.into_pyarray(py).reshape([n, k])?, totals.into_pyarray(py).reshape([n, 4])?, r.enumerated, r.feasible))
}

/// Discrete-event simulation of one deployment (every replica on the same model, GPU and engine
/// rows). `arrivals` is ("poisson", rates, period_s, duration_s), ("trace", times, sizes) or
/// ("closed", clients, total). Returns per completed request arrays and per replica totals.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn simulate<'py>(
    py: Python<'py>,
    model: Vec<i64>,
    gpu: Vec<f64>,
    engine: Vec<f64>,
    precision: i64,
    kv_precision: i64,
    tp: i64,
    replicas: usize,
    router: &str,
    arrivals: &Bound<'py, pyo3::types::PyTuple>,
    sizes: Vec<(f64, f64, f64)>,
    max_batch: f64,
    fixed_ms: f64,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let err = |e: CoreError| core_error(py, e);
    let m = ModelArch::from_row(&model).map_err(err)?;
    let g = GpuSpec::from_row(&gpu).map_err(err)?;
    let e = EngineProfile::from_row(&engine).map_err(err)?;
    let p = gpuopt_core::Precision::from_code(precision).map_err(err)?;
    let kv = gpuopt_core::Precision::from_code(kv_precision).map_err(err)?;
    if tp < 1 {
        return Err(py_error(py, "InvalidInputError", format!("tp = {tp} must be at least 1")));
    }
    let router = match router {
        "round-robin" => sim::Router::RoundRobin,
        "least-loaded" => sim::Router::LeastLoaded,
        other => return Err(py_error(py, "InvalidInputError", format!("router {other:?} is not round-robin or least-loaded"))),
    };
    let kind: String = arrivals.get_item(0)?.extract()?;
    let arrivals = match kind.as_str() {
        "poisson" => sim::Arrivals::Poisson {
            rates: arrivals.get_item(1)?.extract()?,
            period_s: arrivals.get_item(2)?.extract()?,
            duration_s: arrivals.get_item(3)?.extract()?,
        },
        "trace" => sim::Arrivals::Trace { times: arrivals.get_item(1)?.extract()?, sizes: arrivals.get_item(2)?.extract()? },
        "closed" => sim::Arrivals::Closed { clients: arrivals.get_item(1)?.extract()?, total: arrivals.get_item(2)?.extract()? },
        other => return Err(py_error(py, "InvalidInputError", format!("arrivals {other:?} are not poisson, trace or closed"))),
    };
    let cfg = sim::SimConfig { replicas, router, arrivals, sizes, max_batch, fixed_ms, seed };
    let params = m.params();
    let replica = sim::ReplicaModel::new(&m, &params, &g, &e, p, kv, tp as f64).map_err(err)?;
    let out = run_detached(py, || sim::simulate(&replica, &cfg))?;
    let d = PyDict::new(py);
    d.set_item("arrival", out.arrival.into_pyarray(py))?;
    d.set_item("admitted", out.admitted.into_pyarray(py))?;
    d.set_item("first_token", out.first_token.into_pyarray(py))?;
    d.set_item("finish", out.finish.into_pyarray(py))?;
    d.set_item("output_tokens", out.output_tokens.into_pyarray(py))?;
    d.set_item("busy_s", out.busy_s.into_pyarray(py))?;
    d.set_item("queue_area", out.queue_area.into_pyarray(py))?;
    d.set_item("queue_max", out.queue_max.into_pyarray(py))?;
    d.set_item("rejected", out.rejected)?;
    d.set_item("makespan_s", out.makespan_s)?;
    d.set_item("fixed_ms", out.fixed_ms)?;
    d.set_item("kv_budget_bytes", replica.kv_budget_bytes())?;
    Ok(d)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PRECISIONS", PRECISION_NAMES.to_vec())?;
    m.add("MODEL_FIELDS", MODEL_FIELDS.to_vec())?;
    m.add("ENGINE_FIELDS", ENGINE_FIELDS.to_vec())?;
    m.add("GPU_FIELDS", GPU_FIELDS.to_vec())?;
    m.add("ESTIMATE_COLUMNS", ESTIMATE_COLUMNS.to_vec())?;
    m.add("BOUNDS", BOUND_NAMES.to_vec())?;
    m.add("CAPACITY_COLUMNS", capacity::CAPACITY_COLUMNS.to_vec())?;
    m.add("CAPACITY_STATUS", capacity::STATUS_NAMES.to_vec())?;
    m.add("SWEEP_COLUMNS", sweep::SWEEP_COLUMNS.to_vec())?;
    m.add("VERDICTS", VERDICT_NAMES.to_vec())?;
    m.add("FITS_THRESHOLD", fit::FITS_THRESHOLD)?;
    m.add("MAX_COUNT", fit::MAX_COUNT)?;
    m.add_function(wrap_pyfunction!(model_params, m)?)?;
    m.add_function(wrap_pyfunction!(fit_many, m)?)?;
    m.add_function(wrap_pyfunction!(fit_grid, m)?)?;
    m.add_function(wrap_pyfunction!(estimate_many, m)?)?;
    m.add_function(wrap_pyfunction!(max_throughput_many, m)?)?;
    m.add_function(wrap_pyfunction!(mig_layouts, m)?)?;
    m.add_function(wrap_pyfunction!(capacity_many, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_grid, m)?)?;
    m.add_function(wrap_pyfunction!(pareto_front, m)?)?;
    m.add_function(wrap_pyfunction!(mix_front, m)?)?;
    m.add_function(wrap_pyfunction!(cover_min_many, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    Ok(())
}
