//! The discrete-event simulator.

use gpuopt_core::arch::ModelArch;
use gpuopt_core::engine::EngineProfile;
use gpuopt_core::gpu::GpuSpec;
use gpuopt_core::sim;
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::detach::{run_here, run_interruptible};

/// Runs expected to complete at most this many requests (tens of milliseconds) are not interruptible.
const SHORT_RUN_REQUESTS: f64 = 100_000.0;
use crate::errors::{invalid_input, IntoPyResult};

/// Arrival times: a float64 array read in one copy, or any sequence of floats.
fn trace_times(v: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    match v.extract::<PyReadonlyArray1<f64>>() {
        Ok(a) => Ok(a.as_array().to_vec()),
        Err(_) => v.extract(),
    }
}

/// (input, output) tokens per arrival: an n x 2 float64 array read in one pass, or (input, output) pairs.
fn trace_sizes(v: &Bound<'_, PyAny>) -> PyResult<Vec<(f64, f64)>> {
    match v.extract::<PyReadonlyArray2<f64>>() {
        Ok(a) => {
            let a = a.as_array();
            if a.ncols() != 2 {
                return Err(invalid_input(format!("trace sizes must be n x 2 (input, output), got {} columns", a.ncols())));
            }
            Ok(a.rows().into_iter().map(|r| (r[0], r[1])).collect())
        }
        Err(_) => v.extract(),
    }
}

/// Discrete-event simulation of one deployment (every replica on the same model, GPU and engine
/// rows). `arrivals` is ("poisson", rates, period_s, duration_s), ("trace", times, sizes) or
/// ("closed", clients, total[, stagger_s[, think_s]]). Returns per completed request arrays and per replica totals.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn simulate<'py>(
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
    let m = ModelArch::from_row(&model).py()?;
    let g = GpuSpec::from_row(&gpu).py()?;
    let e = EngineProfile::from_row(&engine).py()?;
    let p = gpuopt_core::Precision::from_code(precision).py()?;
    let kv = gpuopt_core::Precision::from_code(kv_precision).py()?;
    if tp < 1 {
        return Err(invalid_input(format!("tp = {tp} must be at least 1")));
    }
    let router = match router {
        "round-robin" => sim::Router::RoundRobin,
        "least-loaded" => sim::Router::LeastLoaded,
        other => return Err(invalid_input(format!("router {other:?} is not round-robin or least-loaded"))),
    };
    let kind: String = arrivals.get_item(0)?.extract()?;
    let arrivals = match kind.as_str() {
        "poisson" => sim::Arrivals::Poisson {
            rates: arrivals.get_item(1)?.extract()?,
            period_s: arrivals.get_item(2)?.extract()?,
            duration_s: arrivals.get_item(3)?.extract()?,
        },
        "trace" => sim::Arrivals::Trace { times: trace_times(&arrivals.get_item(1)?)?, sizes: trace_sizes(&arrivals.get_item(2)?)? },
        "closed" => sim::Arrivals::Closed {
            clients: arrivals.get_item(1)?.extract()?,
            total: arrivals.get_item(2)?.extract()?,
            stagger_s: if arrivals.len() > 3 { arrivals.get_item(3)?.extract()? } else { 0.0 },
            think_s: if arrivals.len() > 4 { arrivals.get_item(4)?.extract()? } else { 0.0 },
        },
        other => return Err(invalid_input(format!("arrivals {other:?} are not poisson, trace or closed"))),
    };
    let cfg = sim::SimConfig { replicas, router, arrivals, sizes, max_batch, fixed_ms, seed };
    let params = m.params();
    let replica = sim::ReplicaModel::new(&m, &params, &g, &e, p, kv, tp as f64).py()?;
    // a run this short ends well before Ctrl-C could matter: it runs on this thread, without the
    // hand-offs to a worker that an interruptible run needs
    let out = if sim::expected_requests(&cfg.arrivals) <= SHORT_RUN_REQUESTS {
        run_here(py, || sim::simulate(&replica, &cfg))?
    } else {
        run_interruptible(py, || sim::simulate(&replica, &cfg))?
    };
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
