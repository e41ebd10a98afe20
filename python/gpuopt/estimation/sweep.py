"""Large-scale enumeration: every configuration (whole GPUs, MIG slices and time-sliced fractions)
fitted, timed and priced in one Rust pass; Pareto fronts over any objectives; and every mix of GPU
types up to a count or budget, reduced to its cost/throughput front as it streams.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from gpuopt import _core
from gpuopt.catalog import EngineLike, GpuLike, ModelLike, engine as get_engine, gpu as get_gpu, model as get_model
from gpuopt.catalog import precision as get_precision
from gpuopt.estimation.columns import VERDICTS, GridInputs, Results, precision_codes, rows_frame, stack_builds, whole_numbers
from gpuopt.cost import price, tco
from gpuopt.errors import InvalidInputError, number
from gpuopt.estimation.capacity import capacity_many
from gpuopt.estimation.estimate import max_throughput_many
from gpuopt.schema import Accelerator
from gpuopt.estimation.sharing import Slot, slots as gpu_slots, whole

SWEEP_COLUMNS: tuple[str, ...] = tuple(_core.SWEEP_COLUMNS)
INPUT_COLUMNS = ("model", "slot", "engine", "precision", "kv_precision", "tp", "batch", "input_tokens", "output_tokens")
MAX_SWEEP = _core.MAX_RESULT_BYTES // _core.SWEEP_ROW_BYTES  # the core's cap on results (2 GiB): past that, split
SENSES = ("min", "max")


def gpu_usd_per_hour(g: Accelerator, overrides: Optional[Mapping[str, float]] = None) -> float:
    """$/hour of one whole GPU: the caller's figure, else the catalog's cloud price, else its capex
    amortised over 3 years plus power at TDP and $0.12/kWh (gpuopt.tco's defaults); NaN if none."""
    if overrides and g.id in overrides:
        v = overrides[g.id]
        if not (isinstance(v, (int, float)) and v >= 0 and math.isfinite(v)):
            raise InvalidInputError(f"usd_per_hour[{g.id!r}] = {v!r} must be a finite number >= 0")
        return float(v)
    cloud = price(g.id, "cloud_hour")
    if cloud is not None:
        return cloud
    if price(g.id, "capex") is not None:
        return tco(g).usd_per_hour
    return float("nan")


def _slot_row(s: Slot, usd_per_hour: Mapping[str, float] | None) -> tuple[float, ...]:
    parent_price = gpu_usd_per_hour(get_gpu(s.parent), usd_per_hour)
    return (*s.gpu.row(), parent_price * s.share, s.request_delay_ms)


def expand_slots(gpus: Sequence[Union[GpuLike, Slot]], sharing: str, fractions: int) -> list[Slot]:
    """Slots to sweep: each GPU whole, plus (sharing='mig') its MIG instances, plus (sharing='all')
    time shares 1/2..1/fractions. Slots passed in are kept as they are."""
    if sharing not in ("none", "mig", "all"):
        raise InvalidInputError(f"sharing must be 'none', 'mig' or 'all', got {sharing!r}")
    out: list[Slot] = []
    for g in gpus:
        if isinstance(g, Slot):
            out.append(g)
        elif sharing == "none":
            out.append(whole(g))
        else:
            out += [s for s in gpu_slots(g, fractions=fractions) if sharing == "all" or s.kind != "fraction"]
    return out


class SweepResults(Results):
    """One row per configuration: SWEEP_COLUMNS (total_bytes per GPU, verdict code, latencies ms,
    output tokens/s of one replica, $/hour of its slots, tokens per dollar) and the inputs."""

    kind = "sweep"
    decoded = {"verdict": VERDICTS}
    evaluated: int = 0   # configurations evaluated: every row, or more than were kept (keep=)

    def pareto(self, objectives: Mapping[str, str] | None = None, *, feasible_only: bool = True) -> np.ndarray:
        """Indices of the non-dominated configurations (default: min $/hour, min e2e, max tokens/s)."""
        return pareto(self, objectives, feasible_only=feasible_only)


def sweep(models: Sequence[ModelLike], gpus: Sequence[Union[GpuLike, Slot]], *, precisions: Sequence[str] = ("fp16",),
          kv_precisions: Sequence[Optional[str]] = (None,), tps: Sequence[int] = (1,), batches: Sequence[int] = (1,),
          input_tokens: Sequence[int] = (512,), output_tokens: Sequence[int] = (128,),
          engines: Sequence[EngineLike] = ("vllm",), sharing: str = "none", fractions: int = 4,
          usd_per_hour: Optional[Mapping[str, float]] = None, keep: str = "all",
          objectives: Optional[Mapping[str, str]] = None, top: Optional[int] = None,
          feasible_only: bool = True) -> SweepResults:
    """Every combination of the given axes on every slot, evaluated in Rust in parallel.

    `sharing`: 'none' (whole GPUs), 'mig' (+ each MIG instance), 'all' (+ time shares 1/2..1/fractions).
    `usd_per_hour`: $/hour per whole GPU id, overriding the catalog (see gpu_usd_per_hour).
    `keep`: 'all' rows; 'pareto', only those no other row dominates on `objectives` (default: min
    $/hour, min e2e, max tokens/s); 'top', the `top` best on the one objective given (default max
    tokens per dollar). Kept rows are chosen while the grid is evaluated, block by block, so memory
    stays flat however large the grid; with `feasible_only`, no-fit and invalid rows are never kept.
    Row order: the last axis (output_tokens) varies fastest (kept rows in that order too)."""
    ms, es = [get_model(m) for m in models], [get_engine(e) for e in engines]
    slots = expand_slots(list(gpus), sharing, fractions)
    ps = [get_precision(p) for p in precisions]
    ks = [get_precision("fp16" if k is None else k, what="kv_precision") for k in kv_precisions]
    counts = [whole_numbers(name, v).reshape(-1) for name, v in
              (("tp", tps), ("batch", batches), ("input_tokens", input_tokens), ("output_tokens", output_tokens))]
    cats = [ms, slots, es, ps, ks]
    sizes = [len(c) for c in cats] + [len(c) for c in counts]
    if 0 in sizes:
        raise InvalidInputError("every axis of a sweep needs at least one value")
    reduce = _keep(keep, objectives, top)
    if reduce is None and math.prod(sizes) > MAX_SWEEP:
        raise InvalidInputError(f"a sweep of {math.prod(sizes):,} configurations exceeds {MAX_SWEEP:,} "
                                f"({_core.MAX_RESULT_BYTES >> 30} GiB of results): keep='pareto' or 'top' keeps "
                                "memory flat, or split it")
    if reduce is not None and math.prod(sizes) > _core.MAX_STREAMED:
        raise InvalidInputError(f"a sweep of {math.prod(sizes):,} configurations exceeds {_core.MAX_STREAMED:,} "
                                "(about a minute per billion per core): split it")
    slot_rows = np.array([_slot_row(s, usd_per_hour) for s in slots], dtype=np.float64)
    model_rows = np.array([m.row() for m in ms], dtype=np.int64)
    rest = [precision_codes(ps), precision_codes(ks), *counts]
    # each slot's engines as they run on its stack (vllm on an AMD GPU is vllm-rocm): a table of
    # every build and, per slot, which rows it runs; one Rust call in factorial order
    table, builds = stack_builds(es, slots)
    slot_engine = np.ascontiguousarray(builds.T)
    core_args = (model_rows, slot_rows, np.array([e.row() for e in table], dtype=np.float64),
                 np.arange(len(ms), dtype=np.int64), np.arange(len(slots), dtype=np.int64),
                 np.arange(len(es), dtype=np.int64), *rest)
    ids = [[m.id for m in ms], [s.id for s in slots], [e.id for e in es], ps, ks]
    if reduce is not None:
        index, values = _core.sweep_keep(*core_args[:3], list(core_args[3:]), reduce, feasible_only, slot_engine)
        return _results(values, GridInputs(INPUT_COLUMNS, sizes, ids, counts, index))
    return _results(_core.sweep_grid(*core_args, slot_engine), GridInputs(INPUT_COLUMNS, sizes, ids, counts))


def _results(raw: np.ndarray, inputs: GridInputs) -> SweepResults:
    cols = {name: raw[:, j] for j, name in enumerate(SWEEP_COLUMNS)}
    cols["verdict"] = cols["verdict"].astype(np.int8)
    res = SweepResults(cols, INPUT_COLUMNS, lambda: inputs)
    res.evaluated = math.prod(inputs.sizes)
    return res


DEFAULT_OBJECTIVES = {"usd_per_hour": "min", "e2e_ms": "min", "output_tokens_per_s": "max"}
DEFAULT_TOP = {"tokens_per_usd": "max"}


def _sign(name: str, sense: str) -> float:
    """1.0 for an objective to minimise, -1.0 for one to maximise; any other sense is an error."""
    if sense not in SENSES:
        raise InvalidInputError(f"objective {name!r}: sense must be 'min' or 'max', got {sense!r}")
    return 1.0 if sense == "min" else -1.0


def _keep(keep: str, objectives: Optional[Mapping[str, str]], top: Optional[int]) -> Optional[tuple]:
    """The core's `keep` argument, or None to keep every row."""
    if keep not in ("all", "pareto", "top"):
        raise InvalidInputError(f"keep must be 'all', 'pareto' or 'top', got {keep!r}")
    if keep == "all":
        if objectives is not None or top is not None:
            raise InvalidInputError("objectives and top choose what keep='pareto' or 'top' keeps: give keep too")
        return None
    chosen = dict(objectives or (DEFAULT_OBJECTIVES if keep == "pareto" else DEFAULT_TOP))
    columns = []
    for name, sense in chosen.items():
        if name not in SWEEP_COLUMNS:
            raise InvalidInputError(f"objective {name!r} is not a result column; a kept sweep ranks by "
                                    f"{', '.join(SWEEP_COLUMNS)}")
        columns.append((SWEEP_COLUMNS.index(name), _sign(name, sense)))
    if keep == "pareto":
        return ("pareto", columns)
    if len(columns) != 1:
        raise InvalidInputError(f"keep='top' ranks by one objective, got {len(columns)}")
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= _core.MAX_KEPT:
        raise InvalidInputError(f"keep='top' needs top = how many rows to keep, 1 to {_core.MAX_KEPT:,}, got {top!r}")
    return ("top", *columns[0], top)




def pareto(columns: Mapping[str, Any], objectives: Mapping[str, str] | None = None, *,
           feasible_only: bool = True) -> np.ndarray:
    """Indices of the rows no other row dominates on `objectives` ({column: 'min' | 'max'}).
    With `feasible_only`, rows whose verdict is no-fit or invalid are left out."""
    objectives = dict(objectives or DEFAULT_OBJECTIVES)
    if not objectives:
        raise InvalidInputError("pareto needs at least one objective")
    cols = []
    for name, sense in objectives.items():
        sign = _sign(name, sense)
        try:
            col = np.asarray(columns[name], dtype=np.float64)
        except KeyError:
            raise InvalidInputError(f"no column {name!r} to optimise; columns: {', '.join(columns)}") from None
        cols.append(np.ascontiguousarray(-col if sign < 0 else col))
    if feasible_only and "verdict" in columns:
        bad = np.asarray(columns["verdict"]) >= VERDICTS.index("no-fit")
        cols = [np.where(bad, np.nan, c) for c in cols]
    return _core.pareto_front(cols)


class MixRow(BaseModel):
    model_config = ConfigDict(frozen=True)
    counts: dict[str, int] = Field(description="GPUs of each type in the mix")
    usd_per_hour: float
    memory_gb: float
    throughput: float
    power_w: float


class MixFront(BaseModel):
    """The cost/throughput Pareto front of every mix of GPU types within the limits."""

    model_config = ConfigDict(frozen=True)
    gpus: list[str]
    throughput_unit: str
    mixes: list[MixRow] = Field(description="non-dominated mixes, cheapest first")
    enumerated: int = Field(description="mixes within max_gpus and the budget")
    feasible: int = Field(description="of those, mixes meeting min_memory_gb and min_throughput")

    def cheapest(self, throughput: float) -> Optional[MixRow]:
        """The cheapest mix delivering at least `throughput`."""
        return next((m for m in self.mixes if m.throughput >= throughput), None)

    def rows(self) -> list[dict[str, Any]]:
        """One row per mix: its GPUs of each type (one column each), then its totals."""
        return [{**{g: m.counts.get(g, 0) for g in self.gpus}, "usd_per_hour": m.usd_per_hour,
                 "memory_gb": m.memory_gb, "throughput": m.throughput, "power_w": m.power_w} for m in self.mixes]

    def to_pandas(self):
        return rows_frame(self.rows(), "pandas")

    def to_polars(self):
        return rows_frame(self.rows(), "polars")

    def _repr_html_(self) -> str:
        from gpuopt.output.notebook import table

        rows = self.rows()
        header = list(rows[0]) if rows else [*self.gpus, "usd_per_hour", "memory_gb", "throughput", "power_w"]
        return table(header, [list(r.values()) for r in rows],
                     f"{len(rows)} mixes on the front of {self.enumerated:,} ({self.throughput_unit}; totals per mix)")


def _per_gpu_throughput(gs: list[Accelerator], throughput, model, requests, slo, precision, engine) -> tuple[list[float], str]:
    if throughput is not None:
        if not isinstance(throughput, Mapping):
            raise InvalidInputError(f"throughput must be a mapping of gpu -> figure, got {throughput!r}")
        missing = [g.id for g in gs if g.id not in throughput]
        if missing:
            raise InvalidInputError(f"throughput has no figure for {', '.join(missing)}")
        return ([number(f"throughput[{g.id!r}]", throughput[g.id], hi=1e15) for g in gs],
                "per-GPU figures as given, each mix's total")
    if model is None:
        raise InvalidInputError("mixes need each GPU's throughput: give throughput={gpu: value} or a model "
                                "(with requests and optionally an slo)")

    inp, out = requests if isinstance(requests, tuple) else (512, 128)
    if slo is not None:
        res = capacity_many(model, gs, requests=requests or (inp, out), slo=slo, precision=precision, engine=engine)
        return [float(v) for v in res["capacity_rps"]], "requests/s within the SLO, each mix's total over its GPUs"
    res = max_throughput_many(model, gs, precision=precision, input_tokens=inp, output_tokens=out, engine=engine)
    return [float(v) for v in res["output_tokens_per_s"]], "output tokens/s at each GPU's best batch, each mix's total"


def mixes(gpus: Sequence[GpuLike], *, max_gpus: int = 8, budget_usd_per_hour: Optional[float] = None,
          throughput: Optional[Mapping[str, float]] = None, model: Optional[ModelLike] = None,
          requests: Any = None, slo: Any = None, precision: str = "fp16", engine: EngineLike = "vllm",
          usd_per_hour: Optional[Mapping[str, float]] = None, min_memory_gb: float = 0.0,
          min_throughput: float = 0.0) -> MixFront:
    """Every multiset of the GPU types with 1..max_gpus GPUs (and at most the budget), with total
    memory, throughput capacity, $/hour and power, reduced to the front of min cost / max
    throughput while streaming. Throughput per GPU comes from `throughput`, or from `model`:
    its capacity under `slo` for `requests` (req/s), or its max throughput (tokens/s)."""
    gs = [get_gpu(g) for g in gpus]
    if not gs:
        raise InvalidInputError("mixes need at least one GPU type")
    if len({g.id for g in gs}) != len(gs):
        raise InvalidInputError("each GPU type may be listed once")
    if isinstance(max_gpus, bool) or not isinstance(max_gpus, int) or not 1 <= max_gpus <= 1024:
        raise InvalidInputError(f"max_gpus must be a whole number from 1 to 1024, got {max_gpus!r}")
    tput, unit = _per_gpu_throughput(gs, throughput, model, requests, slo, precision, engine)
    prices = [gpu_usd_per_hour(g, usd_per_hour) for g in gs]
    unpriced = [g.id for g, p in zip(gs, prices) if not math.isfinite(p)]
    if unpriced:
        raise InvalidInputError(f"no price for {', '.join(unpriced)}: give usd_per_hour={{gpu: $/hour}}")
    budget = number("budget_usd_per_hour", budget_usd_per_hour, hi=1e12, none=True)
    budget = float("inf") if budget is None else budget
    min_memory_gb = number("min_memory_gb", min_memory_gb, hi=1e9)
    min_throughput = number("min_throughput", min_throughput, hi=1e15)
    types = [(p, g.memory_bytes, t, g.tdp_w or 0.0) for g, p, t in zip(gs, prices, tput)]
    counts, totals, enumerated, feasible = _core.mix_front(types, max_gpus, budget, min_memory_gb * 1e9,
                                                           float(min_throughput))
    rows = [MixRow(counts={g.id: int(c) for g, c in zip(gs, cs) if c}, usd_per_hour=float(t[0]),
                   memory_gb=float(t[1]) / 1e9, throughput=float(t[2]), power_w=float(t[3]))
            for cs, t in zip(counts, totals)]
    return MixFront(gpus=[g.id for g in gs], throughput_unit=unit, mixes=rows, enumerated=enumerated,
                    feasible=feasible)


__all__ = ["MixFront", "MixRow", "SWEEP_COLUMNS", "SweepResults", "expand_slots", "gpu_usd_per_hour", "mixes",
           "pareto", "sweep"]
