//! gpuopt._core: thin bindings over gpuopt-core, one file per area. Arrays cross once per call
//! (tables.rs); long calls release the GIL and never let a panic through (detach.rs); engine
//! errors become gpuopt.errors exceptions by one path (errors.rs).

mod arch;
mod capacity;
mod cover;
mod detach;
mod errors;
mod estimate;
mod fit;
mod mig;
mod names;
mod pool;
mod sim;
mod sweep;
mod tables;

use gpuopt_core::arch::MODEL_FIELDS;
use gpuopt_core::capacity::{CAPACITY_COLUMNS, STATUS_NAMES};
use gpuopt_core::engine::ENGINE_FIELDS;
use gpuopt_core::estimate::{BOUND_NAMES, ESTIMATE_COLUMNS};
use gpuopt_core::columns::MAX_RESULT_BYTES;
use gpuopt_core::fit::{FITS_THRESHOLD, FIT_ROW_BYTES, MAX_COUNT, VERDICT_NAMES};
use gpuopt_core::gpu::GPU_FIELDS;
use gpuopt_core::precision::PRECISION_NAMES;
use gpuopt_core::sweep::{SWEEP_COLUMNS, SWEEP_ROW_BYTES};
use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PRECISIONS", PRECISION_NAMES.to_vec())?;
    m.add("MODEL_FIELDS", MODEL_FIELDS.to_vec())?;
    m.add("ENGINE_FIELDS", ENGINE_FIELDS.to_vec())?;
    m.add("GPU_FIELDS", GPU_FIELDS.to_vec())?;
    m.add("ESTIMATE_COLUMNS", ESTIMATE_COLUMNS.to_vec())?;
    m.add("BOUNDS", BOUND_NAMES.to_vec())?;
    m.add("CAPACITY_COLUMNS", CAPACITY_COLUMNS.to_vec())?;
    m.add("CAPACITY_STATUS", STATUS_NAMES.to_vec())?;
    m.add("SWEEP_COLUMNS", SWEEP_COLUMNS.to_vec())?;
    m.add("VERDICTS", VERDICT_NAMES.to_vec())?;
    m.add("FITS_THRESHOLD", FITS_THRESHOLD)?;
    m.add("MAX_COUNT", MAX_COUNT)?;
    m.add("MAX_RESULT_BYTES", MAX_RESULT_BYTES)?;
    m.add("FIT_ROW_BYTES", FIT_ROW_BYTES)?;
    m.add("SWEEP_ROW_BYTES", SWEEP_ROW_BYTES)?;
    m.add("MAX_STREAMED", gpuopt_core::sweep::MAX_STREAMED)?;
    m.add("MAX_KEPT", gpuopt_core::sweep::MAX_KEPT)?;
    m.add_function(wrap_pyfunction!(arch::model_params, m)?)?;
    m.add_function(wrap_pyfunction!(fit::fit_many, m)?)?;
    m.add_function(wrap_pyfunction!(fit::fit_grid, m)?)?;
    m.add_function(wrap_pyfunction!(estimate::estimate_many, m)?)?;
    m.add_function(wrap_pyfunction!(estimate::max_throughput_many, m)?)?;
    m.add_function(wrap_pyfunction!(mig::mig_layouts, m)?)?;
    m.add_function(wrap_pyfunction!(capacity::capacity_many, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::sweep_grid, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::sweep_keep, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::pareto_front, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::mix_front, m)?)?;
    m.add_function(wrap_pyfunction!(cover::cover_min_many, m)?)?;
    m.add_function(wrap_pyfunction!(sim::simulate, m)?)?;
    m.add_function(wrap_pyfunction!(names::encode_names, m)?)?;
    m.add_function(wrap_pyfunction!(pool::set_threads, m)?)?;
    m.add("MAX_THREADS", pool::MAX_THREADS)?;
    Ok(())
}
