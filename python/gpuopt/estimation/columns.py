"""Columns of many configurations, as they cross into the Rust engine and come back.

Categorical columns (model, gpu, engine, precisions) travel as a small table plus one integer
code per configuration; counts (batch, context, tokens, tp) as int64 arrays. Results come back as
numpy arrays in a lazy Mapping, so a grid of millions costs nothing for columns nobody reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import numpy as np

from gpuopt import _core
from gpuopt.catalog import engine as get_engine, engine_on, gpu as get_gpu, model as get_model, precision as get_precision
from gpuopt.errors import InvalidInputError

VERDICTS: tuple[str, ...] = tuple(_core.VERDICTS)
CATEGORICAL = ("model", "gpu", "engine", "precision", "kv_precision")
_PRECISION_CODE = {p: i for i, p in enumerate(_core.PRECISIONS)}


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


def whole_numbers(name: str, value: Any) -> np.ndarray:
    """An int64 scalar or 1-D array of whole numbers >= 1; any other entry is named in the error."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):   # ragged nesting
        raise InvalidInputError(f"{name} must be a whole number or a flat list of them, got {value!r}"[:300]) from None
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


def scalar_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidInputError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(whole_numbers(name, value))


def _kv(p: Any) -> str:
    return get_precision("fp16" if p is None else p, what="kv_precision")


RESOLVERS: dict[str, Callable[[Any], Any]] = {
    "model": get_model, "gpu": get_gpu, "engine": get_engine, "precision": get_precision, "kv_precision": _kv,
}


def categorical(name: str, value: Any) -> tuple[list, np.ndarray]:
    """(resolved distinct values, int64 codes) for a scalar, a sequence, or a Categorical."""
    resolve = RESOLVERS[name]
    if isinstance(value, Categorical):
        table = [resolve(v) for v in value.values]
        codes = np.asarray(value.codes)
        if codes.dtype.kind not in "iu":
            raise InvalidInputError(f"{name} codes must be integers, got {codes.dtype}")
        if codes.size and (codes.min() < 0 or codes.max() >= len(table)):
            raise InvalidInputError(f"{name} codes must index its {len(table)} values")
        return table, codes.astype(np.int64, copy=False)
    if value is None or isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        return [resolve(value)], np.zeros((), dtype=np.int64)
    items = value if isinstance(value, list) else list(value)
    encoded = _core.encode_names(items)   # names: one pass in Rust, each distinct one resolved once
    if encoded is not None:
        distinct, codes = encoded
        return [resolve(v) for v in distinct], codes
    table, index, codes = [], {}, np.empty(len(items), dtype=np.int64)
    for i, v in enumerate(items):  # objects or dicts: resolve each once by identity
        key = id(v)
        if key not in index:
            index[key] = len(table)
            table.append(resolve(v))
        codes[i] = index[key]
    return table, codes


def id_of(obj: Any) -> str:
    return obj if isinstance(obj, str) else obj.id


def tables(models: list, gpus: list, engines: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lookup tables _core indexes into, built once per call."""
    return (np.array([m.row() for m in models], dtype=np.int64).reshape(len(models), -1),
            np.array([g.row() for g in gpus], dtype=np.float64).reshape(len(gpus), -1),
            np.array([e.row() for e in engines], dtype=np.float64).reshape(len(engines), -1))


def precision_codes(precs: Iterable[str]) -> np.ndarray:
    return np.array([_PRECISION_CODE[p] for p in precs], dtype=np.int64)


@dataclass
class Prepared:
    """Validated configuration columns, ready for _core."""

    tables: dict[str, list]          # resolved distinct values per categorical column
    columns: dict[str, np.ndarray]   # one contiguous int64 array per column, all the same length

    def core_args(self) -> list[np.ndarray]:
        t = self.tables
        c = self.columns
        return [*tables(t["model"], t["gpu"], t["engine"]), c["model"], c["gpu"], c["engine"],
                precision_codes(t["precision"])[c["precision"]], precision_codes(t["kv_precision"])[c["kv_precision"]]]

    def inputs(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: Categorical(tuple(id_of(x) for x in self.tables[name]), self.columns[name])
                               for name in CATEGORICAL}
        out.update({k: v for k, v in self.columns.items() if k not in CATEGORICAL})
        return out


def prepare(categoricals: dict[str, Any], counts: dict[str, Any]) -> Prepared:
    """Resolves, validates and broadcasts per-configuration columns (scalars, sequences, Categoricals)."""
    resolved = {name: categorical(name, categoricals[name]) for name in CATEGORICAL}
    arrays = [codes for _, codes in resolved.values()] + [whole_numbers(k, v) for k, v in counts.items()]
    try:
        arrays = [np.ascontiguousarray(a).reshape(-1) for a in np.broadcast_arrays(*arrays)]
    except ValueError as e:
        raise InvalidInputError(f"configuration columns do not broadcast together: {e}") from None
    if arrays and arrays[0].size == 0:
        raise InvalidInputError("no configurations: give at least one value per column")
    names = list(CATEGORICAL) + list(counts)
    prepared = Prepared({k: t for k, (t, _) in resolved.items()}, dict(zip(names, arrays)))
    _on_stacks(prepared)
    return prepared


def stack_builds(engines: Sequence, gpus: Sequence) -> tuple[list, np.ndarray]:
    """Each engine as it runs on each GPU's (or slot's) software stack (catalog.engine_on: vllm
    on an AMD GPU is vllm-rocm): the distinct builds, and an engines x gpus array of their rows."""
    on = [[engine_on(e, g) for g in gpus] for e in engines]
    table: list = []
    index: dict[int, int] = {}
    rows = np.empty((len(engines), len(gpus)), dtype=np.int64)
    for i, row in enumerate(on):
        for j, x in enumerate(row):
            rows[i, j] = index.setdefault(id(x), len(table))
            if len(table) < len(index):
                table.append(x)
    return table, rows


def _on_stacks(p: Prepared) -> None:
    """Each row's engine as it runs on its GPU's software stack, the engine table and codes
    rewritten where any row changes."""
    engines, gpus = p.tables["engine"], p.tables["gpu"]
    table, rows = stack_builds(engines, gpus)
    if all(table[rows[i, j]] is e for i, e in enumerate(engines) for j in range(len(gpus))):
        return
    p.columns["engine"] = rows.reshape(-1)[p.columns["engine"] * len(gpus) + p.columns["gpu"]]
    p.tables["engine"] = table


class GridInputs:
    """Input columns of a full factorial over `sizes` (of its rows at `index`, when given): the
    first len(ids) categorical (codes into ids[k]), the rest counts. Each column is built when first
    read: 8 bytes a row for a column read, not np.indices' 8 per axis for all of them at once."""

    def __init__(self, names: Sequence[str], sizes: Sequence[int], ids: list, counts: list,
                 index: Optional[np.ndarray] = None):
        self.names, self.sizes, self.ids, self.counts, self.index = tuple(names), list(sizes), ids, counts, index
        self.built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.built:
            k = self.names.index(name)
            if self.index is None:
                inner, outer = math.prod(self.sizes[k + 1:]), math.prod(self.sizes[:k])
                codes = np.tile(np.repeat(np.arange(self.sizes[k], dtype=np.int64), inner), outer)
            else:
                codes = (self.index // math.prod(self.sizes[k + 1:])) % self.sizes[k]
            n = len(self.ids)
            self.built[name] = Categorical(tuple(self.ids[k]), codes) if k < n else self.counts[k - n][codes]
        return self.built[name]


class Results:
    """Columns over many configurations, one entry per configuration, read like a data frame:
    `len(r)` is the number of configurations, iterating gives the column names, `r[name]` a column.

    Result columns are numpy arrays; `verdict` codes index VERDICTS. Input columns (categoricals as
    Categorical ids, counts as arrays) are built on first access. `to_pandas()` / `to_polars()`
    (the optional extras) give a data frame with coded columns by name.
    """

    kind = "result"
    decoded: dict[str, tuple[str, ...]] = {"verdict": VERDICTS}

    def __init__(self, results: Mapping[str, np.ndarray], input_names: Sequence[str],
                 inputs: Callable[[], dict[str, Any]]):
        self._results, self._input_names = dict(results), tuple(input_names)
        self._make_inputs, self._inputs = inputs, None

    def __getitem__(self, key: str) -> Any:
        if key in self._results:
            return self._results[key]
        if key not in self._input_names:
            raise KeyError(f"{key!r} is not a {self.kind} column; columns: {', '.join(self)}")
        if self._inputs is None:
            self._inputs = self._make_inputs()
        return self._inputs[key]

    def __iter__(self):
        return iter(self.columns)

    def __contains__(self, key: object) -> bool:
        return key in self._results or key in self._input_names

    def __len__(self) -> int:
        """Number of configurations (as a data frame's length is its rows)."""
        return self.size

    @property
    def columns(self) -> tuple[str, ...]:
        return self._input_names + tuple(self._results)

    def keys(self) -> tuple[str, ...]:
        return self.columns

    def values(self) -> list[Any]:
        return [self[k] for k in self.columns]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self[k]) for k in self.columns]

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    @property
    def size(self) -> int:
        """Number of configurations."""
        return int(next(iter(self._results.values())).shape[0])

    def frame_columns(self) -> dict[str, Any]:
        """Every column as a plain array, coded columns (verdict, status) by name."""
        out = {}
        for k in self.columns:
            v = self[k]
            if k in self.decoded:
                v = np.asarray(self.decoded[k], dtype=object)[np.asarray(v, dtype=np.int64)]
            elif isinstance(v, Categorical):     # its value per row
                v = np.asarray(list(v.values), dtype=object)[np.asarray(v.codes).reshape(-1)]
            out[k] = np.asarray(v)
        return out

    def to_pandas(self):
        """A pandas DataFrame, one row per configuration (pip install 'gpuopt[pandas]')."""
        return frame("pandas").DataFrame(self.frame_columns())

    def to_polars(self):
        """A polars DataFrame, one row per configuration (pip install 'gpuopt[polars]')."""
        cols = {k: (v.astype(str) if v.dtype == object else v) for k, v in self.frame_columns().items()}
        return frame("polars").DataFrame(cols)

    def _repr_html_(self) -> str:
        from gpuopt.output.notebook import results

        return results(self)

    def row(self, i: int) -> dict[str, Any]:
        """Configuration i as plain Python values, coded columns by name."""
        out = {k: self[k][i] for k in self._input_names}
        out.update({k: v[i] for k, v in self._results.items()})
        out = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in out.items()}
        for k, names in self.decoded.items():
            if k in out:
                out[k] = names[int(out[k])]
        return out

    def verdict_counts(self) -> dict[str, int]:
        counts = np.bincount(np.asarray(self._results["verdict"], dtype=np.int64), minlength=len(VERDICTS))
        return {name: int(c) for name, c in zip(VERDICTS, counts)}


def frame(library: str):
    """pandas or polars, or a clear error naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(library)
    except ImportError:
        raise InvalidInputError(f"{library} is not installed: pip install 'gpuopt[{library}]'") from None


def rows_frame(rows: list[dict[str, Any]], library: str):
    """A data frame of plain row dicts (plans, mixes, batch results)."""
    lib = frame(library)
    return lib.DataFrame(rows) if library == "pandas" else lib.DataFrame(rows, infer_schema_length=None)
