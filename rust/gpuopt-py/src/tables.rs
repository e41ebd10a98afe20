//! Arrays in: 1-D columns as slices, 2-D tables as rows of the core's field orders.

use gpuopt_core::arch::{ModelArch, MODEL_FIELDS};
use gpuopt_core::engine::{EngineProfile, ENGINE_FIELDS};
use gpuopt_core::gpu::{GpuSpec, GPU_FIELDS};
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::{invalid_input, IntoPyResult};

pub fn slice<'a, T: numpy::Element>(name: &str, a: &'a PyReadonlyArray1<'_, T>) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| invalid_input(format!("{name} must be a contiguous 1-D array")))
}

/// Each column of a fixed list as a slice, named for its error.
pub fn slices<'a, const N: usize>(names: [&str; N], columns: &'a [PyReadonlyArray1<'_, i64>; N]) -> PyResult<[&'a [i64]; N]> {
    let mut out: [&[i64]; N] = [&[]; N];
    for (k, col) in columns.iter().enumerate() {
        out[k] = slice(names[k], col)?;
    }
    Ok(out)
}

pub fn rows<'a, T: numpy::Element>(
    name: &str,
    a: &'a PyReadonlyArray2<'_, T>,
    width: usize,
) -> PyResult<std::slice::ChunksExact<'a, T>> {
    let cols = a.shape()[1];
    if cols != width {
        return Err(invalid_input(format!("{name} must have {width} columns, got {cols}")));
    }
    let flat = a.as_slice().map_err(|_| invalid_input(format!("{name} must be a contiguous 2-D array")))?;
    Ok(flat.chunks_exact(width))
}

pub fn model_table(models: &PyReadonlyArray2<'_, i64>) -> PyResult<Vec<ModelArch>> {
    rows("models", models, MODEL_FIELDS.len())?.map(ModelArch::from_row).collect::<Result<_, _>>().py()
}

pub fn engine_table(engines: &PyReadonlyArray2<'_, f64>) -> PyResult<Vec<EngineProfile>> {
    rows("engines", engines, ENGINE_FIELDS.len())?.map(EngineProfile::from_row).collect::<Result<_, _>>().py()
}

pub fn gpu_table(gpus: &PyReadonlyArray2<'_, f64>) -> PyResult<Vec<GpuSpec>> {
    rows("gpus", gpus, GPU_FIELDS.len())?.map(GpuSpec::from_row).collect::<Result<_, _>>().py()
}

/// Defines a #[pyfunction] taking the three tables and one int64 column per name, forwarding to
/// `$call(py, $run, tables..., [columns])`: the fit and estimate entry points differ only in that.
macro_rules! columns_fn {
    ($(#[$doc:meta])* $name:ident, $call:ident, $run:path, $out:ty, [$($col:ident),+]) => {
        $(#[$doc])*
        #[pyfunction]
        #[allow(clippy::too_many_arguments)]
        pub fn $name<'py>(
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

pub(crate) use columns_fn;
