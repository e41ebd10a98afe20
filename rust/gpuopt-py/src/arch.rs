//! Parameter counts of one architecture.

use gpuopt_core::arch::ModelArch;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::IntoPyResult;

/// Parameter counts of one architecture row (MODEL_FIELDS order).
#[pyfunction]
pub fn model_params<'py>(py: Python<'py>, row: Vec<i64>) -> PyResult<Bound<'py, PyDict>> {
    let m = ModelArch::from_row(&row).py()?;
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
