//! Legal MIG layouts.

use gpuopt_core::mig;
use pyo3::prelude::*;

use crate::detach::run_detached;
use crate::errors::IntoPyResult;

/// Legal MIG layouts as counts per profile; profiles are (compute slices, memory slices,
/// allowed starts, max per GPU). `maximal` keeps only layouts no instance can be added to.
#[pyfunction]
pub fn mig_layouts(py: Python<'_>, profiles: Vec<(u32, u32, Vec<u32>, u32)>, maximal: bool) -> PyResult<Vec<Vec<u32>>> {
    let profiles = profiles
        .iter()
        .map(|(c, m, starts, max)| mig::MigProfile::new(*c, *m, starts, *max))
        .collect::<Result<Vec<_>, _>>()
        .py()?;
    run_detached(py, || Ok(if maximal { mig::maximal_layouts(&profiles) } else { mig::layouts(&profiles) }))
}
