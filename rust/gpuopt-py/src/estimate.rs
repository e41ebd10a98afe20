//! Latency and throughput of many configurations, or at each one's best batch.

use gpuopt_core::error::CoreError;
use gpuopt_core::estimate::{self, EstimateColumns, EstimateTables, ESTIMATE_COLUMNS};
use numpy::{PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::detach::filled_array;
use crate::tables::{columns_fn, engine_table, gpu_table, model_table, slices};

type EstimateFn = fn(&EstimateTables, &EstimateColumns, &mut [f64]) -> Result<(), CoreError>;

#[allow(clippy::too_many_arguments)]
fn estimate_call<'py>(
    py: Python<'py>,
    run: EstimateFn,
    models: PyReadonlyArray2<'py, i64>,
    gpus: PyReadonlyArray2<'py, f64>,
    engines: PyReadonlyArray2<'py, f64>,
    columns: [PyReadonlyArray1<'py, i64>; 9],
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let models = model_table(&models)?;
    let gpus = gpu_table(&gpus)?;
    let engines = engine_table(&engines)?;
    let tables = EstimateTables { models: &models, gpus: &gpus, engines: &engines };
    let s = slices(["model", "gpu", "engine", "precision", "kv_precision", "batch", "input", "output", "tp"], &columns)?;
    let cols = EstimateColumns {
        model: s[0], gpu: s[1], engine: s[2], precision: s[3], kv_precision: s[4], batch: s[5], input: s[6],
        output: s[7], tp: s[8],
    };
    filled_array(py, cols.len(), ESTIMATE_COLUMNS.len(), |flat| run(&tables, &cols, flat))
}

columns_fn!(
    /// Latency and throughput of many configurations; an n x len(ESTIMATE_COLUMNS) array.
    estimate_many, estimate_call, estimate::estimate_many_into, Bound<'py, PyArray2<f64>>,
    [model, gpu, engine, precision, kv_precision, batch, input, output, tp]
);
columns_fn!(
    /// As estimate_many, at the batch with the most output tokens/s that still fits (batch ignored).
    max_throughput_many, estimate_call, estimate::max_throughput_many_into, Bound<'py, PyArray2<f64>>,
    [model, gpu, engine, precision, kv_precision, batch, input, output, tp]
);
