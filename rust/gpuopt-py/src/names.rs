//! Dictionary encoding of the name lists users pass (`model=["llama-3-8b", ...]`): one pass over
//! the list in Rust instead of sorting a million strings with np.unique.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use rustc_hash::FxHashMap;

/// Objects whose code is remembered by identity; past this, by text only (a list of fresh
/// objects, e.g. from a numpy string array, would otherwise grow the map by one per item).
const IDENTITY_CACHE: usize = 4096;

/// (distinct names in first-seen order, one int64 code per item), or None when an item is not a
/// str (the caller then resolves objects one by one). Items a list holds twice are usually the
/// same object, so most look-ups are by pointer, without reading the text.
#[pyfunction]
pub fn encode_names<'py>(py: Python<'py>, items: &Bound<'py, PyList>) -> PyResult<Option<(Vec<String>, Bound<'py, PyArray1<i64>>)>> {
    let mut by_object: FxHashMap<usize, i64> = FxHashMap::default();
    let mut by_text: FxHashMap<String, i64> = FxHashMap::default();
    let mut names: Vec<String> = Vec::new();
    let mut codes: Vec<i64> = Vec::with_capacity(items.len());
    for item in items.iter() {
        // The list holds every item for the whole loop, so an address names one object throughout.
        let address = item.as_ptr() as usize;
        if let Some(&code) = by_object.get(&address) {
            codes.push(code);
            continue;
        }
        let Ok(text) = item.cast::<PyString>() else { return Ok(None) };
        let text = text.to_str()?;
        let code = match by_text.get(text) {
            Some(&code) => code,
            None => {
                let code = names.len() as i64;
                names.push(text.to_owned());
                by_text.insert(text.to_owned(), code);
                code
            }
        };
        if by_object.len() < IDENTITY_CACHE {
            by_object.insert(address, code);
        }
        codes.push(code);
    }
    Ok(Some((names, codes.into_pyarray(py))))
}
