//! gpuopt-core: the numeric engine of gpuopt, free of any Python dependency.
//!
//! - [`arch`]: architecture -> parameter counts, KV bytes per token.
//! - [`fit`]: per-GPU memory of a deployment and its verdict, one or millions at a time.

pub mod arch;
pub mod error;
pub mod fit;
pub mod precision;

pub use arch::{ModelArch, ParamCounts, MODEL_FIELDS};
pub use error::CoreError;
pub use fit::{fit_grid, fit_many, fit_one, EngineMemory, FitColumns, FitQuery, FitResult, FitTables, Verdict};
pub use precision::{Precision, PRECISION_NAMES};
