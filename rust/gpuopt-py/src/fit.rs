//! Memory fit of many configurations, or of a full factorial grid.

use gpuopt_core::engine::EngineMemory;
use gpuopt_core::error::CoreError;
use gpuopt_core::fit::{self, FitColumns, FitTables};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::detach::run_detached;
use crate::tables::{columns_fn, engine_table, gpu_table, model_table, slices};

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
    let models = model_table(&models)?;
    let memory: Vec<f64> = gpu_table(&gpus)?.iter().map(|g| g.memory_bytes).collect();
    let engines: Vec<EngineMemory> = engine_table(&engines)?.iter().map(|e| e.memory).collect();
    let tables = FitTables { models: &models, gpu_memory_bytes: &memory, engines: &engines };
    let s = slices(["model", "gpu", "engine", "precision", "kv_precision", "batch", "context", "tp"], &columns)?;
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
