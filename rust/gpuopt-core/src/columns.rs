//! Checks of the configuration columns every batch entry point takes (fit, estimate, capacity,
//! sweep): indices into the tables, precision codes decoded once, counts in range. Each check
//! names the column and the entry that fails it.

use crate::error::{invalid, CoreError};
use crate::precision::Precision;

/// Largest batch, context, token count or tp accepted: beyond any deployment, exact in f64.
pub const MAX_COUNT: i64 = 1 << 40;

/// Most bytes of results one batch call (a grid, a sweep, columns) may allocate: beyond it the
/// call is refused before anything is allocated, with the size and the cap.
pub const MAX_RESULT_BYTES: usize = 2 << 30;

/// `n` rows of `bytes_per_row`, or an error naming the rows, their size and the cap.
pub fn check_rows(what: &str, n: Option<usize>, bytes_per_row: usize) -> Result<usize, CoreError> {
    match n {
        Some(n) if n.checked_mul(bytes_per_row).is_some_and(|b| b <= MAX_RESULT_BYTES) => Ok(n),
        _ => {
            let rows = n.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string());
            invalid(format!(
                "{what} of {rows} configurations would need {bytes_per_row} bytes each, more than the cap of {} GiB \
                 of results ({} configurations): split it",
                MAX_RESULT_BYTES >> 30,
                MAX_RESULT_BYTES / bytes_per_row
            ))
        }
    }
}

pub fn check_index(name: &str, column: &[i64], len: usize) -> Result<(), CoreError> {
    if let Some((i, v)) = column.iter().enumerate().find(|(_, &v)| v < 0 || v as usize >= len) {
        return invalid(format!("{name}[{i}] = {v} is not an index into a table of {len}"));
    }
    Ok(())
}

pub fn check_count(name: &str, column: &[i64]) -> Result<(), CoreError> {
    if let Some((i, v)) = column.iter().enumerate().find(|(_, &v)| !(1..=MAX_COUNT).contains(&v)) {
        return invalid(format!("{name}[{i}] = {v} must be a whole number from 1 to {MAX_COUNT}"));
    }
    Ok(())
}

/// Every code of `column` as a precision, or which entry is not one.
pub fn precisions(name: &str, column: &[i64]) -> Result<Vec<Precision>, CoreError> {
    column
        .iter()
        .enumerate()
        .map(|(i, &v)| Precision::from_code(v).map_err(|e| CoreError::InvalidInput(format!("{name}[{i}]: {e}"))))
        .collect()
}

/// Columns of equal length (one entry per configuration), or the lengths that differ.
pub fn check_lengths(lens: &[usize]) -> Result<usize, CoreError> {
    let n = lens.first().copied().unwrap_or(0);
    if lens.iter().any(|&l| l != n) {
        return invalid(format!("configuration columns differ in length: {lens:?}"));
    }
    Ok(n)
}

/// The columns that pick a model, a GPU (or slot) and an engine from their tables, and the
/// weight and KV-cache precisions.
pub struct Lookups<'a> {
    pub model: &'a [i64],
    pub gpu: &'a [i64],
    pub engine: &'a [i64],
    pub precision: &'a [i64],
    pub kv_precision: &'a [i64],
}

/// The precisions of [`Lookups`], decoded.
#[derive(Debug)]
pub struct Decoded {
    pub precision: Vec<Precision>,
    pub kv_precision: Vec<Precision>,
}

impl Lookups<'_> {
    /// Indices within tables of `models`, `gpus` and `engines` rows (the GPU column called
    /// `gpu_name`), precisions decoded.
    pub fn check(&self, models: usize, gpus: usize, engines: usize, gpu_name: &str) -> Result<Decoded, CoreError> {
        check_index("model", self.model, models)?;
        check_index(gpu_name, self.gpu, gpus)?;
        check_index("engine", self.engine, engines)?;
        Ok(Decoded { precision: precisions("precision", self.precision)?, kv_precision: precisions("kv_precision", self.kv_precision)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_names_the_entry_that_fails() {
        assert!(check_index("gpu", &[0, 2], 2).unwrap_err().to_string().contains("gpu[1] = 2"));
        assert!(check_index("gpu", &[-1], 2).is_err());
        assert!(check_count("tp", &[1, 0]).unwrap_err().to_string().contains("tp[1] = 0"));
        assert!(check_count("tp", &[MAX_COUNT + 1]).is_err());
        assert!(check_count("tp", &[MAX_COUNT]).is_ok());
        assert_eq!(precisions("precision", &[0, 2]).unwrap(), vec![Precision::from_code(0).unwrap(), Precision::from_code(2).unwrap()]);
        assert!(precisions("kv_precision", &[0, 9]).unwrap_err().to_string().contains("kv_precision[1]"));
        assert_eq!(check_lengths(&[3, 3, 3]).unwrap(), 3);
        assert!(check_lengths(&[3, 2]).is_err());
        let l = Lookups { model: &[0], gpu: &[1], engine: &[0], precision: &[1], kv_precision: &[0] };
        assert!(l.check(1, 2, 1, "slot").is_ok());
        assert!(l.check(1, 1, 1, "slot").unwrap_err().to_string().contains("slot[0] = 1"));
    }
}
