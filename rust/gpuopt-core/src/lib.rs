//! gpuopt-core: the numeric engine of gpuopt, free of any Python dependency.
//!
//! - [`arch`]: architecture -> parameter counts, KV bytes per token.
//! - [`fit`]: per-GPU memory of a deployment and its verdict, one or millions at a time.
//! - [`estimate`]: roofline latency and throughput (TTFT, TPOT, end-to-end, tokens/s).

pub mod arch;
pub mod capacity;
pub mod confirm;
pub mod columns;
pub mod cover;
pub mod engine;
pub mod error;
pub mod estimate;
pub mod fit;
pub mod gpu;
pub mod interrupt;
pub mod mig;
pub mod mixes;
pub mod precision;
pub mod round;
pub mod sim;
pub mod sweep;
pub mod tournament;

pub use arch::{ModelArch, ParamCounts, MODEL_FIELDS};
pub use error::CoreError;
pub use engine::{EngineMemory, EngineProfile, EngineTiming};
pub use fit::{fit_grid, fit_many, fit_one, FitColumns, FitQuery, FitResult, FitTables, Verdict};
pub use gpu::GpuSpec;
pub use precision::{Precision, PRECISION_NAMES};
