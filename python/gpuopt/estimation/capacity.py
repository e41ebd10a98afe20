"""Capacity under SLO: the largest request rate one replica sustains on a whole GPU, a MIG slice or
a time-sliced fraction while its p95 TTFT / TPOT / end-to-end latencies stay within the SLO.

The model (rust/gpuopt-core/src/capacity.rs): continuous batching with Poisson arrivals; the SLO
is checked at the p95 number of requests in service (mean + 1.645 sqrt(mean)), which memory must
hold; the rate at a mean concurrency B is B / (B x mean prefill + mean decode steps x step(B)).
Capacity is zero when even an unloaded replica misses the SLO (status 'slo-unmet'; the latencies
reported are then the best the configuration reaches) or when one request does not fit ('no-fit').
"""

from __future__ import annotations


from typing import Any, Optional, Sequence, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gpuopt import _core
from gpuopt.catalog import EngineLike, ModelLike, engine as get_engine, engine_on, gpu as get_gpu, model as get_model
from gpuopt.estimation.columns import Categorical, Results, prepare, scalar_count, tables
from gpuopt.errors import CheckedModel, InvalidInputError
from gpuopt.estimation.fit import check_tp
from gpuopt.schema import Accelerator, Precision
from gpuopt.estimation.sharing import Slot

CAPACITY_COLUMNS: tuple[str, ...] = tuple(_core.CAPACITY_COLUMNS)
STATUS: tuple[str, ...] = tuple(_core.CAPACITY_STATUS)
DEFAULT_MAX_BATCH = 256  # running requests per replica: vLLM's max_num_seqs
INPUT_COLUMNS = ("model", "gpu", "engine", "precision", "kv_precision", "tp", "requests", "slo")


MAX_TOKENS = _core.MAX_COUNT  # tokens of one request: the engine's largest count


class Bucket(CheckedModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    input_tokens: int = Field(ge=1, le=MAX_TOKENS)
    output_tokens: int = Field(ge=1, le=MAX_TOKENS)
    weight: float = Field(1.0, ge=0, allow_inf_nan=False)


class RequestClass(CheckedModel):
    """Request sizes: one bucket for fixed sizes, several (with weights) for a histogram."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    buckets: tuple[Bucket, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _some_weight(self):
        if sum(b.weight for b in self.buckets) <= 0:
            raise ValueError("bucket weights must not all be zero")
        return self

    @classmethod
    def fixed(cls, input_tokens: int, output_tokens: int) -> "RequestClass":
        return cls(buckets=(Bucket(input_tokens=input_tokens, output_tokens=output_tokens),))

    def rows(self) -> list[tuple[float, float, float]]:
        return [(float(b.input_tokens), float(b.output_tokens), float(b.weight)) for b in self.buckets]

    @property
    def mean_output_tokens(self) -> float:
        total = sum(b.weight for b in self.buckets)
        return sum(b.weight * b.output_tokens for b in self.buckets) / total


class SLO(CheckedModel):
    """p95 latency limits in ms; None where the SLO says nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    ttft_p95_ms: Optional[float] = Field(None, gt=0, allow_inf_nan=False)
    tpot_p95_ms: Optional[float] = Field(None, gt=0, allow_inf_nan=False)
    e2e_p95_ms: Optional[float] = Field(None, gt=0, allow_inf_nan=False)

    def row(self) -> tuple[float, float, float]:
        inf = float("inf")
        return (self.ttft_p95_ms or inf, self.tpot_p95_ms or inf, self.e2e_p95_ms or inf)


RequestsLike = Union[RequestClass, tuple, dict, Sequence]
SloLike = Union[SLO, dict]


def _requests(value: Any) -> RequestClass:
    if isinstance(value, RequestClass):
        return value
    try:
        if isinstance(value, dict):
            return RequestClass.model_validate(value)
        if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, np.integer))
                                                                         and not isinstance(v, bool) for v in value):
            return RequestClass.fixed(int(value[0]), int(value[1]))
        if isinstance(value, (list, tuple)):
            return RequestClass(buckets=tuple(Bucket(input_tokens=b[0], output_tokens=b[1],
                                                     weight=b[2] if len(b) > 2 else 1.0) for b in value))
    except (TypeError, IndexError, KeyError):   # a bucket that is not a sequence of numbers
        raise InvalidInputError(f"invalid request class {value!r}: each bucket must be (input_tokens, "
                                "output_tokens) or (input_tokens, output_tokens, weight)") from None
    except ValueError as e:
        raise InvalidInputError(f"invalid request class {value!r}: {e}") from None
    raise InvalidInputError(f"requests must be (input_tokens, output_tokens), a list of (input, output, weight) "
                            f"buckets or a RequestClass, got {value!r}")


def _slo(value: Any) -> SLO:
    if isinstance(value, SLO):
        return value
    try:
        return SLO.model_validate(value)
    except ValueError as e:
        raise InvalidInputError(f"invalid SLO {value!r}: {e}") from None


def _slot(value: Any) -> Union[Slot, Accelerator]:
    return value if isinstance(value, Slot) else get_gpu(value)


class CapacityResults(Results):
    """Columns of capacity over many configurations (CAPACITY_COLUMNS and the inputs);
    `status` codes index STATUS."""

    kind = "capacity"
    decoded = {"status": STATUS}


def capacity_many(model: Any, gpu: Any, *, requests: Any, slo: Any, precision: Any = "fp16", kv_precision: Any = None,
                  tp: Any = 1, engine: Any = "vllm", simulated: bool = False,
                  max_batch: int = DEFAULT_MAX_BATCH) -> CapacityResults:
    """Capacity of many configurations in one Rust call (arguments broadcast as in fit_many). `gpu`
    entries may be GPU ids, Accelerators or Slots (MIG slices, time-sliced fractions); `requests`
    is one request class for all rows or a list of RequestClass (one per row), `slo` one SLO or a
    list of SLO / dicts.

    `simulated` adds `confirmed_rps`: the median over nine seeded runs of 4,000 requests (600 s at
    least) of the largest Poisson rate at which one replica, run by the discrete-event simulator
    (gpuopt.simulate's engine, `max_batch` running requests at most), meets every p95 of the SLO,
    each to within 0.5 % (rust/gpuopt-core/src/confirm.rs). The closed form starts that search; it can overestimate
    long prompts and mixed request sizes, which the simulator runs request by request."""
    slots, s_codes = _as_categorical(gpu, _slot, (str, Accelerator, Slot))
    classes, c_codes = _as_categorical(requests, _requests, (RequestClass,))
    slos, o_codes = _as_categorical(slo, _slo, (SLO, dict))
    accs = [s.gpu if isinstance(s, Slot) else s for s in slots]
    p = prepare({"model": model, "gpu": Categorical(accs, s_codes), "engine": engine, "precision": precision,
                 "kv_precision": kv_precision}, {"tp": tp, "_class": c_codes + 1, "_slo": o_codes + 1})
    c = p.columns
    # A time-sliced slot delays every request: fold its delay into the engine's request overhead.
    delays = sorted({getattr(s, "request_delay_ms", 0.0) for s in slots})
    slot_delay = np.array([delays.index(getattr(s, "request_delay_ms", 0.0)) for s in slots], dtype=np.int64)
    engines = [e.model_copy(update={"request_overhead_ms": e.request_overhead_ms + d})
               for e in p.tables["engine"] for d in delays]
    engine_codes = c["engine"] * len(delays) + slot_delay[c["gpu"]]
    m_tab, g_tab, e_tab = tables(p.tables["model"], p.tables["gpu"], engines)
    prec = p.core_args()[6:8]
    raw = _core.capacity_many(m_tab, g_tab, e_tab, [r.rows() for r in classes], [s.row() for s in slos],
                              c["model"], c["gpu"], engine_codes, prec[0], prec[1], c["tp"], c["_class"] - 1,
                              c["_slo"] - 1)
    cols = {name: raw[:, j] for j, name in enumerate(CAPACITY_COLUMNS)}
    cols["status"] = cols["status"].astype(np.int8)
    if simulated:
        batch = scalar_count("max_batch", max_batch)
        cols["confirmed_rps"] = _core.capacity_many(
            m_tab, g_tab, e_tab, [r.rows() for r in classes], [s.row() for s in slos], c["model"], c["gpu"],
            engine_codes, prec[0], prec[1], c["tp"], c["_class"] - 1, c["_slo"] - 1, float(batch))[:, 0]

    def inputs() -> dict[str, Any]:
        out = p.inputs()
        out["gpu"] = Categorical(tuple(s.id for s in slots), c["gpu"])
        out["requests"] = Categorical(tuple(classes), c["_class"] - 1)
        out["slo"] = Categorical(tuple(slos), c["_slo"] - 1)
        return out

    return CapacityResults(cols, INPUT_COLUMNS, inputs)


def _as_categorical(value: Any, resolve, row_types: tuple) -> tuple[list, np.ndarray]:
    """(distinct resolved values, codes): a Categorical, a list whose items are all `row_types`
    (one per configuration), or one value for every configuration."""
    if isinstance(value, Categorical):
        return [resolve(v) for v in value.values], np.asarray(value.codes, dtype=np.int64)
    if isinstance(value, (list, np.ndarray)) and len(value) and all(isinstance(v, row_types) for v in value):
        table, index, codes = [], {}, np.empty(len(value), dtype=np.int64)
        for i, v in enumerate(value):
            key = v if isinstance(v, str) else getattr(v, "id", None) or id(v)
            if key not in index:
                index[key] = len(table)
                table.append(resolve(v))
            codes[i] = index[key]
        return table, codes
    return [resolve(value)], np.zeros((), dtype=np.int64)


class CapacityReport(BaseModel):
    """What one replica sustains under an SLO, and the latencies at that load."""

    def _repr_html_(self) -> str:
        from gpuopt.output.notebook import report

        return report(self)

    model_config = ConfigDict(frozen=True)
    model: str
    slot: str
    slot_kind: str
    engine: str
    precision: Precision
    kv_precision: Precision
    tp: int
    requests: RequestClass
    slo: SLO
    capacity_rps: float = Field(description="largest sustained request rate within the SLO (0 when none)")
    output_tokens_per_s: float
    mean_batch: float
    p95_batch: float
    ttft_p95_ms: float
    tpot_p95_ms: float
    e2e_p95_ms: float
    max_batch: int
    status: str = Field(description="ok, slo-unmet (even an idle replica misses it), no-fit, invalid")
    utilization: float

    def explain(self) -> str:
        if self.status == "ok":
            return (f"{self.model} on {self.slot}: {self.capacity_rps:.2f} req/s within the SLO at a mean batch of "
                    f"{self.mean_batch:.1f} (p95 {self.p95_batch:.1f}); p95 TTFT {self.ttft_p95_ms:.0f} ms, "
                    f"TPOT {self.tpot_p95_ms:.1f} ms, end-to-end {self.e2e_p95_ms:.0f} ms")
        if self.status == "slo-unmet":
            return (f"{self.model} on {self.slot} cannot meet the SLO even unloaded: the best it reaches is TTFT "
                    f"{self.ttft_p95_ms:.0f} ms, TPOT {self.tpot_p95_ms:.1f} ms, end-to-end {self.e2e_p95_ms:.0f} ms")
        return f"{self.model} on {self.slot}: {self.status}"


def capacity(model: ModelLike, gpu: Any, *, requests: RequestsLike, slo: SloLike, precision: str = "fp16",
             kv_precision: Optional[str] = None, tp: int = 1, engine: EngineLike = "vllm") -> CapacityReport:
    """Largest request rate one replica of `model` on `gpu` (an id, Accelerator, or Slot from
    gpuopt.mig_slice / gpuopt.fraction) sustains with p95 latencies within `slo`.

    `requests`: (input_tokens, output_tokens), a list of (input, output, weight) buckets, or a
    RequestClass. `slo`: SLO or dict with ttft_p95_ms / tpot_p95_ms / e2e_p95_ms."""
    m, slot = get_model(model), _slot(gpu)
    e = engine_on(get_engine(engine), slot)
    req, s = _requests(requests), _slo(slo)
    tp = scalar_count("tp", tp)
    check_tp(m, tp)
    res = capacity_many(m, [slot], requests=req, slo=s, precision=precision, kv_precision=kv_precision, tp=tp,
                        engine=e)
    row = res.row(0)
    kind = slot.kind if isinstance(slot, Slot) else "gpu"
    values = {k: row[k] for k in CAPACITY_COLUMNS if k != "max_batch"}
    return CapacityReport(model=m.id, slot=row["gpu"], slot_kind=kind, engine=e.id, precision=row["precision"],
                          kv_precision=row["kv_precision"], tp=tp, requests=req, slo=s,
                          output_tokens_per_s=row["capacity_rps"] * req.mean_output_tokens,
                          max_batch=int(row["max_batch"]), **values)


__all__ = ["Bucket", "CAPACITY_COLUMNS", "CapacityReport", "CapacityResults", "RequestClass", "SLO", "STATUS",
           "capacity", "capacity_many"]
