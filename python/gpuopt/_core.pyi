"""Type stubs for gpuopt._core, the Rust engine (rust/gpuopt-py). Keep in step with lib.rs:
tests/test_stubs.py checks that every export is declared here and nothing else."""

from typing import Any, Optional

import numpy as np
import numpy.typing as npt

__version__: str
PRECISIONS: list[str]
"""Precision names; a precision's code is its index."""
MODEL_FIELDS: list[str]
"""Column order of a model row."""
ENGINE_FIELDS: list[str]
"""Column order of an engine row (memory, then timing figures)."""
GPU_FIELDS: list[str]
"""Column order of a GPU row (fp8_tflops and interconnect_gb_s 0 where absent)."""
ESTIMATE_COLUMNS: list[str]
"""Columns of estimate_many / max_throughput_many results."""
BOUNDS: list[str]
"""Roofline limb names; a bound code is its index."""
CAPACITY_COLUMNS: list[str]
"""Columns of capacity_many results."""
SWEEP_COLUMNS: list[str]
"""Columns of sweep_grid results."""
CAPACITY_STATUS: list[str]
"""Capacity status names (ok, slo-unmet, no-fit, invalid); a status code is its index."""
VERDICTS: list[str]
"""Verdict names; a verdict's code is its index."""
FITS_THRESHOLD: float
MAX_COUNT: int
"""Largest batch, context or tp accepted."""
MAX_RESULT_BYTES: int
"""Most bytes of results one fit grid or sweep may allocate (refused before allocating)."""
FIT_ROW_BYTES: int
"""Bytes of results per fitted configuration."""
SWEEP_ROW_BYTES: int
"""Bytes of results per swept configuration."""

def model_params(row: list[int]) -> dict[str, float]:
    """Parameter counts of one architecture row: total_params, active_params, embedding_params,
    attention_params, mlp_params, kv_bytes_per_token (16-bit KV)."""

def fit_many(
    models: npt.NDArray[np.int64],
    gpus: npt.NDArray[np.float64],
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
    """Memory fit of many configurations: tables (models n x len(MODEL_FIELDS), gpus n x
    len(GPU_FIELDS), engines n x len(ENGINE_FIELDS)), then one equal-length column per input (indices into
    the tables, precision codes, counts). Returns result columns; raises InvalidInputError naming
    the first bad entry."""

def fit_grid(
    models: npt.NDArray[np.int64],
    gpus: npt.NDArray[np.float64],
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

def estimate_many(
    models: npt.NDArray[np.int64],
    gpus: npt.NDArray[np.float64],
    engines: npt.NDArray[np.float64],
    model: npt.NDArray[np.int64],
    gpu: npt.NDArray[np.int64],
    engine: npt.NDArray[np.int64],
    precision: npt.NDArray[np.int64],
    kv_precision: npt.NDArray[np.int64],
    batch: npt.NDArray[np.int64],
    input: npt.NDArray[np.int64],
    output: npt.NDArray[np.int64],
    tp: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Latency and throughput of static batches: an n x len(ESTIMATE_COLUMNS) array (verdict and
    bound columns hold codes; NaN where the configuration is invalid)."""

def max_throughput_many(
    models: npt.NDArray[np.int64],
    gpus: npt.NDArray[np.float64],
    engines: npt.NDArray[np.float64],
    model: npt.NDArray[np.int64],
    gpu: npt.NDArray[np.int64],
    engine: npt.NDArray[np.int64],
    precision: npt.NDArray[np.int64],
    kv_precision: npt.NDArray[np.int64],
    batch: npt.NDArray[np.int64],
    input: npt.NDArray[np.int64],
    output: npt.NDArray[np.int64],
    tp: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """As estimate_many at the batch with the most output tokens/s that fits (batch ignored; the
    batch column holds the choice, 0 when nothing fits)."""

def mig_layouts(profiles: list[tuple[int, int, list[int], int]], maximal: bool) -> list[list[int]]:
    """Legal MIG layouts as counts per profile. Profiles: (compute slices, memory slices, allowed
    start slices, max per GPU). `maximal` keeps layouts no further instance fits into."""

def capacity_many(
    models: npt.NDArray[np.int64],
    gpus: npt.NDArray[np.float64],
    engines: npt.NDArray[np.float64],
    classes: list[list[tuple[float, float, float]]],
    slos: list[tuple[float, float, float]],
    model: npt.NDArray[np.int64],
    gpu: npt.NDArray[np.int64],
    engine: npt.NDArray[np.int64],
    precision: npt.NDArray[np.int64],
    kv_precision: npt.NDArray[np.int64],
    tp: npt.NDArray[np.int64],
    request_class: npt.NDArray[np.int64],
    slo: npt.NDArray[np.int64],
    confirm_max_batch: Optional[float] = None,
) -> npt.NDArray[np.float64]:
    """Largest request rate per replica under p95 SLOs: an n x len(CAPACITY_COLUMNS) array.
    classes: (input, output, weight) buckets each; slos: (ttft, tpot, e2e) p95 ms, inf for none.
    With confirm_max_batch: an n x 1 array of the rates the simulator confirms (at that cap on
    running requests per replica)."""

def sweep_grid(
    models: npt.NDArray[np.int64],
    slots: npt.NDArray[np.float64],
    engines: npt.NDArray[np.float64],
    model: npt.NDArray[np.int64],
    slot: npt.NDArray[np.int64],
    engine: npt.NDArray[np.int64],
    precision: npt.NDArray[np.int64],
    kv_precision: npt.NDArray[np.int64],
    tp: npt.NDArray[np.int64],
    batch: npt.NDArray[np.int64],
    input: npt.NDArray[np.int64],
    output: npt.NDArray[np.int64],
    slot_engine: Optional[npt.NDArray[np.int64]] = None,
) -> npt.NDArray[np.float64]:
    """Every combination of the axes fitted, timed and priced: an n x len(SWEEP_COLUMNS) array.
    Slot rows are GPU_FIELDS then usd_per_hour (NaN when unknown) and request_delay_ms.
    slot_engine (slots x engine axis): the engine row each slot runs for each engine value."""

def sweep_keep(
    models: npt.NDArray[np.int64],
    slots: npt.NDArray[np.float64],
    engines: npt.NDArray[np.float64],
    axes: list[npt.NDArray[np.int64]],
    keep: tuple,
    feasible_only: bool,
    slot_engine: Optional[npt.NDArray[np.int64]] = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """As sweep_grid (axes: its nine axis arrays, in order), reduced block by block while evaluated
    (memory flat): keep is ("pareto", [(column, sign), ...]) or ("top", column, sign, k), sign 1
    minimising and -1 maximising; rows with verdict no-fit or invalid are left out where
    feasible_only. Returns (row indices ascending, their n x len(SWEEP_COLUMNS) values)."""

MAX_STREAMED: int
MAX_KEPT: int

def pareto_front(objectives: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.int64]:
    """Indices of rows no other row dominates, every objective minimised; rows with NaN left out."""

def mix_front(
    types: list[tuple[float, float, float, float]],
    max_gpus: int,
    budget: float,
    min_memory_bytes: float,
    min_throughput: float,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.float64], int, int]:
    """Pareto front (min $/hour, max throughput) of every mix of up to max_gpus GPUs. types:
    (usd_per_hour, memory_bytes, throughput, power_w) per GPU type. Returns (counts per type,
    totals (usd_per_hour, memory_bytes, throughput, power_w), mixes enumerated, mixes feasible)."""

def cover_min_many(
    offsets: npt.NDArray[np.uint64],
    w: npt.NDArray[np.float64],
    a: npt.NDArray[np.float64],
    r: npt.NDArray[np.float64],
    m: npt.NDArray[np.float64],
    node_limit: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.uint64]]:
    """Cheapest integer cover per block: min sum w x s.t. sum a x >= r[b], sum x >= m[b], x integer
    >= 0, over items offsets[b] .. offsets[b+1]. Returns (cost per block, lower bound per block
    (the cost unless node_limit stopped the search), count per item)."""

def simulate(
    model: list[int],
    gpu: list[float],
    engine: list[float],
    precision: int,
    kv_precision: int,
    tp: int,
    replicas: int,
    router: str,
    arrivals: tuple,
    sizes: list[tuple[float, float, float]],
    max_batch: float,
    fixed_ms: float,
    seed: int,
) -> dict:
    """Discrete-event simulation of continuous batching on `replicas` identical replicas.
    arrivals: ("poisson", rates, period_s, duration_s) | ("trace", times, sizes) (times a float64
    array or list, sizes an n x 2 float64 array or (input, output) pairs) | ("closed",
    clients, total[, stagger_s[, think_s]]) (client c starts at c x stagger_s; each sends its next
    request think_s after its last completes; both 0 when left out). Returns per completed request arrays (arrival, admitted, first_token, finish,
    output_tokens; seconds), per replica busy_s, queue_area, queue_max, and rejected, makespan_s,
    fixed_ms, kv_budget_bytes."""

def encode_names(items: list[Any]) -> Optional[tuple[list[str], npt.NDArray[np.int64]]]:
    """Dictionary encoding of a list of names: (distinct names in first-seen order, one code per
    item), or None when an item is not a str."""

MAX_THREADS: int

def set_threads(threads: int) -> int:
    """Worker threads for later engine calls (0: RAYON_NUM_THREADS or one per core); returns the
    previous setting."""
