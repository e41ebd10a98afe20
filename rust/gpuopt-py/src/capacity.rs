//! Capacity under SLO of many configurations.

use gpuopt_core::{capacity, confirm};
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::detach::{run_detached, run_interruptible};
use crate::errors::IntoPyResult;
use crate::tables::{engine_table, gpu_table, model_table, slice};

/// Capacity under SLO of many configurations: an n x len(CAPACITY_COLUMNS) array. `classes` are
/// lists of (input, output, weight) buckets; `slos` are (ttft, tpot, e2e) p95 limits in ms (inf: none).
/// With `confirm_max_batch`, an n x 1 array instead: the rate the simulator confirms for each row
/// (gpuopt_core::confirm), at that cap on running requests.
#[pyfunction]
#[pyo3(signature = (models, gpus, engines, classes, slos, model, gpu, engine, precision, kv_precision, tp, request_class, slo, confirm_max_batch=None))]
#[allow(clippy::too_many_arguments)]
pub fn capacity_many<'py>(
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
    confirm_max_batch: Option<f64>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let models = model_table(&models)?;
    let gpus = gpu_table(&gpus)?;
    let engines = engine_table(&engines)?;
    let classes = classes
        .into_iter()
        .map(capacity::RequestClass::new)
        .collect::<Result<Vec<_>, _>>()
        .py()?;
    let slos = slos
        .into_iter()
        .map(|(a, b, c)| capacity::Slo::new(a, b, c))
        .collect::<Result<Vec<_>, _>>()
        .py()?;
    let tables = capacity::CapacityTables { models: &models, gpus: &gpus, engines: &engines, classes: &classes, slos: &slos };
    let cols = capacity::CapacityColumns {
        model: slice("model", &model)?,
        gpu: slice("gpu", &gpu)?,
        engine: slice("engine", &engine)?,
        precision: slice("precision", &precision)?,
        kv_precision: slice("kv_precision", &kv_precision)?,
        tp: slice("tp", &tp)?,
        class: slice("request_class", &request_class)?,
        slo: slice("slo", &slo)?,
    };
    if let Some(max_batch) = confirm_max_batch {
        let rates = run_interruptible(py, || confirm::confirmed_many(&tables, &cols, max_batch))?;
        return rates.into_pyarray(py).reshape([cols.model.len(), 1]);
    }
    let flat = run_detached(py, || capacity::capacity_many(&tables, &cols))?;
    let n = cols.model.len();
    flat.into_pyarray(py).reshape([n, capacity::CAPACITY_COLUMNS.len()])
}
