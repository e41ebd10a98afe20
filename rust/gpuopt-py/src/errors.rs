//! One way engine errors become Python exceptions. The classes live in gpuopt.errors (defined in
//! Python, like cryptography's); `import_exception!` looks each up once and keeps it.

use gpuopt_core::error::CoreError;
use pyo3::prelude::*;

pyo3::import_exception!(gpuopt.errors, InvalidInputError);
pyo3::import_exception!(gpuopt.errors, InternalError);

pub fn invalid_input(msg: impl Into<String>) -> PyErr {
    InvalidInputError::new_err(msg.into())
}

pub fn internal(msg: impl Into<String>) -> PyErr {
    InternalError::new_err(msg.into())
}

/// An engine error on its way to Python (a newtype: neither CoreError nor PyErr is ours).
pub struct EngineError(pub CoreError);

impl From<EngineError> for PyErr {
    fn from(e: EngineError) -> PyErr {
        match e.0 {
            CoreError::InvalidInput(msg) => invalid_input(msg),
            CoreError::Interrupted => pyo3::exceptions::PyKeyboardInterrupt::new_err("gpuopt engine work interrupted"),
        }
    }
}

impl From<CoreError> for EngineError {
    fn from(e: CoreError) -> Self {
        EngineError(e)
    }
}

/// `result.py()?`: an engine result as a Python result.
pub trait IntoPyResult<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, CoreError> {
    fn py(self) -> PyResult<T> {
        self.map_err(|e| EngineError(e).into())
    }
}
