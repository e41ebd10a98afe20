//! Errors the engine reports instead of panicking; the bindings map them to Python exceptions.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// A value the caller passed is out of range or inconsistent (message says which and why).
    InvalidInput(String),
    /// The caller asked the work to stop (Ctrl-C; see [`crate::interrupt`]).
    Interrupted,
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::InvalidInput(msg) => write!(f, "{msg}"),
            CoreError::Interrupted => write!(f, "interrupted"),
        }
    }
}

impl std::error::Error for CoreError {}

pub fn invalid<T>(msg: impl Into<String>) -> Result<T, CoreError> {
    Err(CoreError::InvalidInput(msg.into()))
}
