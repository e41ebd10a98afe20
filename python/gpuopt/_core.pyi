"""Type stubs for gpuopt._core, the Rust engine (rust/gpuopt-py). Keep in step with lib.rs:
tests/test_stubs.py checks that every export is declared here and nothing else."""

import numpy as np
import numpy.typing as npt

__version__: str
PRECISIONS: list[str]
"""Precision names; a precision's code is its index."""
MODEL_FIELDS: list[str]
"""Column order of a model row."""
ENGINE_FIELDS: list[str]
"""Column order of an engine row."""
VERDICTS: list[str]
"""Verdict names; a verdict's code is its index."""
FITS_THRESHOLD: float
MAX_COUNT: int
"""Largest batch, context or tp accepted."""

def model_params(row: list[int]) -> dict[str, float]:
    """Parameter counts of one architecture row: total_params, active_params, embedding_params,
    attention_params, mlp_params, kv_bytes_per_token (16-bit KV)."""

def fit_many(
    models: npt.NDArray[np.int64],
    gpu_memory_bytes: npt.NDArray[np.float64],
    engines: npt.NDArray[np.float64],
    model: npt.NDArray[np.int64],
    gpu: npt.NDArray[np.int64],
    engine: npt.NDArray[np.int64],
    precision: npt.NDArray[np.int64],
    kv_precision: npt.NDArray[np.int64],
    batch: npt.NDArray[np.int64],
    context: npt.NDArray[np.int64],
    tp: npt.NDArray[np.int64],
) -> dict[str, np.ndarray]:
    """Memory fit of many configurations: tables (models n x len(MODEL_FIELDS), GPU memory in
    bytes, engines n x len(ENGINE_FIELDS)), then one equal-length column per input (indices into
    the tables, precision codes, counts). Returns result columns; raises InvalidInputError naming
    the first bad entry."""

def fit_grid(
    models: npt.NDArray[np.int64],
    gpu_memory_bytes: npt.NDArray[np.float64],
    engines: npt.NDArray[np.float64],
    model: npt.NDArray[np.int64],
    gpu: npt.NDArray[np.int64],
    engine: npt.NDArray[np.int64],
    precision: npt.NDArray[np.int64],
    kv_precision: npt.NDArray[np.int64],
    batch: npt.NDArray[np.int64],
    context: npt.NDArray[np.int64],
    tp: npt.NDArray[np.int64],
) -> dict[str, np.ndarray]:
    """As fit_many, but each column is an axis and every combination is fitted (last axis fastest)."""
