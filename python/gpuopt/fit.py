"""Memory fit: does a model at a precision, batch and context (tensor-parallel over tp) fit on a GPU.

`fit` answers one configuration with an itemised FitReport; `fit_many` and `fit_grid` answer
millions in one call into the Rust engine (GIL released, parallel). All three share one path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import _core
from .catalog import GpuLike, ModelLike, EngineLike, engine as get_engine, gpu as get_gpu
from .catalog import model as get_model, precision as get_precision
from .errors import InvalidInputError
from .schema import FitReport

VERDICTS: tuple[str, ...] = tuple(_core.VERDICTS)
RESULT_COLUMNS = ("weights_bytes", "kv_cache_bytes", "activation_bytes", "overhead_bytes", "total_bytes",
                  "capacity_bytes", "utilization", "verdict", "max_batch")


@dataclass(frozen=True)
class Categorical:
    """A column given as a table of distinct values and one code (index into it) per configuration:
    how sweeps pass millions of configurations without repeating names."""

    values: Sequence[Any]
    codes: np.ndarray

    def __len__(self) -> int:
        return int(np.size(self.codes))

    def __getitem__(self, i: int) -> Any:
        return self.values[int(np.asarray(self.codes).reshape(-1)[i])]

    def decode(self) -> np.ndarray:
        """One value per configuration (materialised; costs memory on large sweeps)."""
        return np.asarray(self.values)[self.codes]


def _whole_numbers(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise InvalidInputError(f"{name} must be whole numbers >= 1, got {arr.dtype} values")
    if arr.ndim > 1:
        raise InvalidInputError(f"{name} must be a scalar or a 1-D array, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.floor(arr)) | (arr < 1) | (arr > _core.MAX_COUNT)
    else:
        bad = (arr < 1) | (arr > _core.MAX_COUNT)
    if bad.any():
        i = int(np.flatnonzero(np.atleast_1d(bad))[0])
        v = np.atleast_1d(arr)[i].item()
        where = f"{name}[{i}]" if arr.ndim else name
        raise InvalidInputError(f"{where} = {v!r}: {name} must be a whole number from 1 to {_core.MAX_COUNT}")
    return arr.astype(np.int64, copy=False)


def _categorical(name: str, value: Any, resolve: Callable[[Any], Any]) -> tuple[list, np.ndarray]:
    """(resolved distinct values, int64 codes) for a scalar, a sequence, or a Categorical."""
    if isinstance(value, Categorical):
        table = [resolve(v) for v in value.values]
        codes = np.asarray(value.codes)
        if codes.dtype.kind not in "iu":
            raise InvalidInputError(f"{name} codes must be integers, got {codes.dtype}")
        if codes.size and (codes.min() < 0 or codes.max() >= len(table)):
            raise InvalidInputError(f"{name} codes must index its {len(table)} values")
        return table, codes.astype(np.int64, copy=False)
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        return [resolve(value)], np.zeros((), dtype=np.int64)
    items = list(value)
    if all(isinstance(v, str) for v in items):
        distinct, codes = np.unique(np.asarray(items, dtype=str), return_inverse=True)
        return [resolve(str(v)) for v in distinct], codes.astype(np.int64, copy=False).reshape(-1)
    table, index, codes = [], {}, np.empty(len(items), dtype=np.int64)
    for i, v in enumerate(items):  # objects or dicts: resolve each once by identity
        key = id(v)
        if key not in index:
            index[key] = len(table)
            table.append(resolve(v))
        codes[i] = index[key]
    return table, codes


def _id_of(obj: Any) -> str:
    return obj if isinstance(obj, str) else obj.id


INPUT_COLUMNS = ("model", "gpu", "engine", "precision", "kv_precision", "batch", "context", "tp")


class FitResults(Mapping):
    """Columns of a fit over many configurations, one entry per configuration.

    RESULT_COLUMNS are numpy arrays (bytes per GPU; `verdict` codes index VERDICTS). The inputs
    (model, gpu, engine, precision, kv_precision as Categorical ids; batch, context, tp as arrays)
    are built on first access, so a large grid costs nothing for columns nobody reads.
    """

    def __init__(self, results: dict[str, np.ndarray], inputs: Callable[[], dict[str, Any]]):
        self._results, self._make_inputs, self._inputs = results, inputs, None

    def __getitem__(self, key: str) -> Any:
        if key in self._results:
            return self._results[key]
        if key not in INPUT_COLUMNS:
            raise KeyError(f"{key!r} is not a fit column; columns: {', '.join(self)}")
        if self._inputs is None:
            self._inputs = self._make_inputs()
        return self._inputs[key]

    def __iter__(self):
        return iter(INPUT_COLUMNS + RESULT_COLUMNS)

    def __len__(self) -> int:
        return len(INPUT_COLUMNS) + len(RESULT_COLUMNS)

    @property
    def size(self) -> int:
        """Number of configurations."""
        return int(self._results["verdict"].shape[0])

    def row(self, i: int) -> dict[str, Any]:
        """Configuration i as plain Python values, verdict by name."""
        out = {k: self[k][i] for k in INPUT_COLUMNS}
        out = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in out.items()}
        out.update({k: self._results[k][i].item() for k in RESULT_COLUMNS})
        out["verdict"] = VERDICTS[out["verdict"]]
        return out

    def verdict_counts(self) -> dict[str, int]:
        counts = np.bincount(self._results["verdict"], minlength=len(VERDICTS))
        return {name: int(c) for name, c in zip(VERDICTS, counts)}


_PRECISION_CODE = {p: i for i, p in enumerate(_core.PRECISIONS)}


def _tables(models: list, gpus: list, engines: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lookup tables _core indexes into, built once per call."""
    return (np.array([m.row() for m in models], dtype=np.int64).reshape(len(models), -1),
            np.array([g.memory_bytes for g in gpus], dtype=np.float64),
            np.array([e.row() for e in engines], dtype=np.float64).reshape(len(engines), -1))


def _precision_codes(precs: list[str]) -> np.ndarray:
    return np.array([_PRECISION_CODE[p] for p in precs], dtype=np.int64)


def _kv_arg(kv_precision: Any) -> Any:
    return "fp16" if kv_precision is None else kv_precision


def _get_kv(p: Any) -> str:
    return get_precision(p, what="kv_precision")


def fit_many(model: Any, gpu: Any, *, precision: Any = "fp16", kv_precision: Any = None, batch: Any = 1,
             context: Any = 4096, tp: Any = 1, engine: Any = "vllm") -> FitResults:
    """Memory fit of many configurations, one Rust call.

    Each argument is a scalar, a 1-D sequence (one entry per configuration), or a Categorical;
    they broadcast together. `kv_precision=None` means a 16-bit KV cache.
    """
    models, m_codes = _categorical("model", model, get_model)
    gpus, g_codes = _categorical("gpu", gpu, get_gpu)
    engines, e_codes = _categorical("engine", engine, get_engine)
    precs, p_codes = _categorical("precision", precision, get_precision)
    kv_precs, k_codes = _categorical("kv_precision", _kv_arg(kv_precision), _get_kv)
    columns = [m_codes, g_codes, e_codes, p_codes, k_codes,
               _whole_numbers("batch", batch), _whole_numbers("context", context), _whole_numbers("tp", tp)]
    try:
        columns = [np.ascontiguousarray(c).reshape(-1) for c in np.broadcast_arrays(*columns)]
    except ValueError as e:
        raise InvalidInputError(f"configuration columns do not broadcast together: {e}") from None
    out = _core.fit_many(*_tables(models, gpus, engines), columns[0], columns[1], columns[2],
                         _precision_codes(precs)[columns[3]], _precision_codes(kv_precs)[columns[4]],
                         columns[5], columns[6], columns[7])
    tables = [models, gpus, engines, precs, kv_precs]
    inputs = {name: Categorical(tuple(_id_of(x) for x in table), codes)
              for name, table, codes in zip(INPUT_COLUMNS, tables, columns)}
    inputs.update(zip(INPUT_COLUMNS[5:], columns[5:]))
    return FitResults(out, lambda: inputs)


def fit_grid(models: Sequence[ModelLike], gpus: Sequence[GpuLike], *, precisions: Sequence[str] = ("fp16",),
             kv_precisions: Sequence[str | None] = (None,), batches: Sequence[int] = (1,),
             contexts: Sequence[int] = (4096,), tps: Sequence[int] = (1,),
             engines: Sequence[EngineLike] = ("vllm",)) -> FitResults:
    """Every combination of the given values (a full factorial), fitted in one Rust call without
    materialising the configurations. Row order: the last axis (tps) varies fastest."""
    ms, gs, es = [get_model(m) for m in models], [get_gpu(g) for g in gpus], [get_engine(e) for e in engines]
    ps, ks = [get_precision(p) for p in precisions], [_get_kv(_kv_arg(k)) for k in kv_precisions]
    counts = [_whole_numbers(name, np.asarray(v).reshape(-1)) for name, v in
              (("batch", batches), ("context", contexts), ("tp", tps))]
    tables = [ms, gs, es, ps, ks]
    sizes = [len(t) for t in tables] + [len(c) for c in counts]
    if 0 in sizes:
        raise InvalidInputError("every axis of a fit grid needs at least one value")
    if math.prod(sizes) > MAX_GRID:
        raise InvalidInputError(f"a grid of {math.prod(sizes):,} configurations exceeds {MAX_GRID:,}; split it")
    axes = [np.arange(s, dtype=np.int64) for s in sizes[:3]] + [_precision_codes(ps), _precision_codes(ks)] + counts
    out = _core.fit_grid(*_tables(ms, gs, es), *axes)

    def inputs() -> dict[str, Any]:
        idx = np.indices(sizes, dtype=np.int64).reshape(len(sizes), -1)
        cols: dict[str, Any] = {name: Categorical(tuple(_id_of(x) for x in table), idx[k])
                                for k, (name, table) in enumerate(zip(INPUT_COLUMNS, tables))}
        cols.update({name: counts[k][idx[5 + k]] for k, name in enumerate(INPUT_COLUMNS[5:])})
        return cols

    return FitResults(out, inputs)


MAX_GRID = 200_000_000  # about 14 GB of results: past that, split the grid


def _scalar_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidInputError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(_whole_numbers(name, value))


def fit(model: ModelLike, gpu: GpuLike, *, precision: str = "fp16", kv_precision: str | None = None,
        batch: int = 1, context: int = 4096, tp: int = 1, engine: EngineLike = "vllm") -> FitReport:
    """Per-GPU memory of `model` on `gpu`, itemised, with its verdict and the largest batch that fits.

    `context` is tokens per sequence (prompt + output); `tp` GPUs split the model (figures are per
    GPU); `engine` sets the memory reserve rule and runtime overhead (vllm, trtllm, llama.cpp, hf).
    """
    m, g, e = get_model(model), get_gpu(gpu), get_engine(engine)
    p = get_precision(precision)
    kv = "fp16" if kv_precision is None else get_precision(kv_precision, what="kv_precision")
    batch, context, tp = (_scalar_count("batch", batch), _scalar_count("context", context),
                          _scalar_count("tp", tp))
    if tp not in m.valid_tp(limit=tp):
        raise InvalidInputError(
            f"tp={tp} cannot split {m.id} ({m.heads} attention heads, {m.kv_heads} KV heads); "
            f"valid tp: {', '.join(map(str, m.valid_tp(limit=max(64, tp))))}"
        )
    warnings = []
    if context > m.max_context:
        warnings.append(f"context {context} exceeds {m.id}'s trained maximum of {m.max_context} tokens "
                        "(it needs RoPE scaling to run that long)")
    row = fit_many(m, g, precision=p, kv_precision=kv, batch=batch, context=context, tp=tp, engine=e).row(0)
    values = {k: row[k] for k in RESULT_COLUMNS}
    return FitReport(model=m.id, gpu=g.id, engine=e.id, precision=p, kv_precision=kv, batch=batch,
                     context=context, tp=tp, memory_bytes=g.memory_bytes, warnings=tuple(warnings), **values)


__all__ = ["Categorical", "FitResults", "INPUT_COLUMNS", "RESULT_COLUMNS", "VERDICTS", "fit", "fit_grid", "fit_many"]
