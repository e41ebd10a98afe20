//! Column generation's pricing problems.

use gpuopt_core::cover;
use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::detach::run_detached;
use crate::tables::slice;

/// The cheapest integer cover of each block (column generation's pricing): block b holds items
/// offsets[b] .. offsets[b+1] with prices `w` and capacities `a`, demand r[b] and minimum
/// replicas m[b]. Returns (cost per block, lower bound per block, count per item).
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn cover_min_many<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, u64>,
    w: PyReadonlyArray1<'py, f64>,
    a: PyReadonlyArray1<'py, f64>,
    r: PyReadonlyArray1<'py, f64>,
    m: PyReadonlyArray1<'py, f64>,
    node_limit: u64,
) -> PyResult<(Bound<'py, numpy::PyArray1<f64>>, Bound<'py, numpy::PyArray1<f64>>, Bound<'py, numpy::PyArray1<u64>>)> {
    let offsets: Vec<usize> = slice("offsets", &offsets)?.iter().map(|&o| o as usize).collect();
    let (w, a, r, m) = (slice("w", &w)?, slice("a", &a)?, slice("r", &r)?, slice("m", &m)?);
    let covers = run_detached(py, || cover::cover_min_many(&offsets, w, a, r, m, node_limit))?;
    let cost: Vec<f64> = covers.iter().map(|c| c.cost).collect();
    let lower: Vec<f64> = covers.iter().map(|c| c.lower).collect();
    let counts: Vec<u64> = covers.into_iter().flat_map(|c| c.counts).collect();
    Ok((cost.into_pyarray(py), lower.into_pyarray(py), counts.into_pyarray(py)))
}
