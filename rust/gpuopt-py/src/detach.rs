//! Long engine calls run without the GIL on this process's worker threads (pool.rs); an engine
//! error becomes a gpuopt exception and a panic gpuopt.errors.InternalError, never an abort.

use std::panic::{catch_unwind, AssertUnwindSafe};

use gpuopt_core::error::CoreError;
use pyo3::prelude::*;

use crate::errors::{internal, IntoPyResult};
use crate::pool;

pub fn run_detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, CoreError> + Send,
{
    let workers = pool::pool().map_err(internal)?;
    match py.detach(|| workers.install(|| catch_unwind(AssertUnwindSafe(f)))) {
        Ok(result) => result.py(),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(internal(format!("gpuopt engine failed: {what}")))
        }
    }
}
