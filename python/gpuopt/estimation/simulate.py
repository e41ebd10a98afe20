"""Verification by discrete-event simulation: queueing, bursts and the KV-cache limit, not averages.

`simulate` runs one deployment - `replicas` replicas of a model on a GPU or slot behind a router -
under Poisson arrivals (one rate, or a rate per period), a trace, or closed-loop clients, and
reports p50/p95/p99 of TTFT, TPOT and end-to-end latency, throughput, utilization, queue length and
rejections, and whether each SLO holds. The event loop is Rust (rust/gpuopt-core/src/sim.rs); its
plain-Python twin is tests/reference.py (simulate).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Literal, Optional, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from gpuopt import _core
from gpuopt.estimation.capacity import DEFAULT_MAX_BATCH, SLO, _requests, _slo
from gpuopt.catalog import EngineLike, ModelLike, engine as get_engine, engine_on, gpu as get_gpu, model as get_model
from gpuopt.catalog import precision as get_precision
from gpuopt.estimation.columns import scalar_count
from gpuopt.errors import InvalidInputError, number
from gpuopt.estimation.fit import check_tp
from gpuopt.estimation.sharing import Slot



class Percentiles(BaseModel):
    """Nearest-rank percentiles and the mean, ms; None where no request completed."""

    model_config = ConfigDict(frozen=True)
    p50: Optional[float]
    p95: Optional[float]
    p99: Optional[float]
    mean: Optional[float]


def percentiles(values: np.ndarray) -> Percentiles:
    """Nearest-rank percentiles (None for no values: nothing to measure, not a number)."""
    v = np.sort(np.asarray(values, dtype=float))
    if v.size == 0:
        return Percentiles(p50=None, p95=None, p99=None, mean=None)
    rank = lambda q: float(v[max(int(math.ceil(q * v.size)) - 1, 0)])  # noqa: E731
    return Percentiles(p50=rank(0.50), p95=rank(0.95), p99=rank(0.99), mean=float(v.mean()))


class SimulationReport(BaseModel):
    """What a simulated deployment delivered. Latencies in ms, throughput per second of the run."""

    def _repr_html_(self) -> str:
        from gpuopt.output.notebook import report

        return report(self)

    model_config = ConfigDict(frozen=True)
    model: str
    slot: str
    engine: str
    replicas: int
    router: str
    requests_completed: int
    requests_rejected: int = Field(description="requests whose KV cache can never fit a replica")
    makespan_s: float = Field(description="time from the first arrival to the last completion")
    throughput_rps: float
    output_tokens_per_s: float
    ttft_ms: Percentiles
    tpot_ms: Percentiles
    e2e_ms: Percentiles
    wait_ms: Percentiles = Field(description="time queued before admission")
    utilization: float = Field(description="mean share of time the replicas were busy")
    queue_mean: float = Field(description="time-averaged waiting requests per replica")
    queue_max: float
    slo: Optional[SLO] = None
    slo_met: dict[str, bool] = Field(default_factory=dict, description="p95 within each limit the SLO sets")
    kv_budget_gb: float = Field(description="KV cache each replica may reserve")
    offered_rps: Optional[float] = Field(None, description="requests arriving per second of the arrival window "
                                                           "(None: too few arrivals to say)")
    overload: Optional[str] = Field(None, description="set when the replicas cannot keep up with the arrivals: "
                                                      "queues grow through the run, so its latencies measure the "
                                                      "backlog, not the deployment")

    @property
    def meets_slo(self) -> bool:
        return all(self.slo_met.values())


def _arrivals(rate, rates, period_s, duration_s, trace, clients, total_requests) -> tuple:
    given = [x is not None for x in (rate, rates, trace, clients)]
    if sum(given) != 1:
        raise InvalidInputError("give exactly one of rate (req/s), rates (one per period), trace, or clients")
    if trace is not None:
        table = _trace_table(trace)
        return ("trace", np.ascontiguousarray(table[:, 0]), np.ascontiguousarray(table[:, 1:]))
    if clients is not None:
        n = scalar_count("clients", clients)
        total = scalar_count("total_requests", total_requests if total_requests is not None else 0) \
            if total_requests is not None else None
        if total is None:
            raise InvalidInputError("closed-loop clients need total_requests")
        return ("closed", n, total)
    duration_s = number("duration_s (seconds)", duration_s, above=True)
    if rate is None and not isinstance(rates, (list, tuple, np.ndarray)):
        raise InvalidInputError(f"rates must be a list of req/s, one per period, got {rates!r}")
    values = [number("rate (req/s)", v) for v in ([rate] if rate is not None else list(rates))]
    if not values:
        raise InvalidInputError("rates needs at least one period")
    if rate is None:
        period_s = number("period_s (seconds)", period_s, above=True)
    return ("poisson", [float(v) for v in values], float(period_s if rate is None else max(duration_s, 1.0) * 2),
            float(duration_s))


def _trace_row(k: int, item: Any) -> None:
    """Raises the error that names what is wrong with trace row k."""
    if not isinstance(item, (tuple, list, np.ndarray)) or len(item) != 3:
        raise InvalidInputError(f"trace[{k}] must be (arrival_s, input_tokens, output_tokens), got {item!r}")
    item = [x.item() if isinstance(x, np.generic) else x for x in item]
    number(f"trace[{k}] arrival_s", item[0], hi=MAX_TRACE_S)
    scalar_count(f"trace[{k}] input_tokens", item[1])
    scalar_count(f"trace[{k}] output_tokens", item[2])


def _trace_table(trace: Any) -> np.ndarray:
    """The trace as an n x 3 float array (arrival_s, input_tokens, output_tokens), checked in bulk:
    a numpy array is used as it is, a list of rows converted once, not row by row; the first bad
    row is named."""
    if isinstance(trace, np.ndarray):
        if trace.dtype == bool or trace.dtype.kind not in "iuf":
            raise InvalidInputError(f"a trace array must hold numbers, got {trace.dtype}")
        rows, table = trace, trace.astype(np.float64, copy=False)
        if table.ndim != 2 or table.shape[1] != 3:
            raise InvalidInputError(f"a trace array must be n x 3 (arrival_s, input_tokens, output_tokens), got shape "
                                    f"{table.shape}")
    else:
        rows = trace if isinstance(trace, (list, tuple)) else list(trace)
        try:
            table = np.asarray(rows, dtype=np.float64)
            # np.asarray takes True for 1: refuse bools as the row check does
            clean = table.ndim == 2 and table.shape[1] == 3 and bool not in set(map(type, itertools.chain.from_iterable(rows)))
        except (ValueError, TypeError):   # text, ragged rows
            clean = False
        if not clean:
            for k, item in enumerate(rows):
                _trace_row(k, item)
            raise InvalidInputError("the trace is empty" if not len(rows) else
                                    "the trace must be rows of (arrival_s, input_tokens, output_tokens)")
    if not len(table):
        raise InvalidInputError("the trace is empty")
    t, sizes = table[:, 0], table[:, 1:]
    bad = ~np.isfinite(t) | (t < 0) | (t > MAX_TRACE_S) | (~np.isfinite(sizes) | (sizes != np.floor(sizes))
                                                           | (sizes < 1) | (sizes > _core.MAX_COUNT)).any(axis=1)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        _trace_row(k, rows[k])
        raise InvalidInputError(f"trace[{k}] = {tuple(table[k])} is not (arrival_s from 0 to {MAX_TRACE_S:g}, "
                                "whole input and output tokens >= 1)")
    return table


def simulate(model: ModelLike, gpu: Any, *, requests: Any = (512, 128), rate: Optional[float] = None,
             rates: Optional[Sequence[float]] = None, period_s: float = 3600.0, duration_s: Optional[float] = 60.0,
             trace: Optional[Sequence[tuple]] = None, clients: Optional[int] = None,
             total_requests: Optional[int] = None, stagger_s: Optional[float] = None, think_time_s: float = 0.0,
             replicas: int = 1,
             router: Literal["least-loaded", "round-robin"] = "least-loaded", precision: str = "fp16",
             kv_precision: Optional[str] = None, tp: int = 1, engine: EngineLike = "vllm",
             max_batch: Optional[int] = None, slo: Any = None, seed: int = 0) -> SimulationReport:
    """Simulates `replicas` replicas of `model` on `gpu` (id, Accelerator or Slot).

    Arrivals: `rate` (Poisson, req/s) for `duration_s`; or `rates` per period of `period_s`,
    cycling; or a `trace` of (arrival_s, input_tokens, output_tokens); or `clients` closed-loop
    clients sending `total_requests` in all, each its next request `think_time_s` after its last
    completes. Client c starts at c x `stagger_s` (default: the end-to-end time of a static batch of
    `clients` requests over `clients`, spreading them over one cycle of the loop as a benchmark's
    clients drift apart; 0: all start at once and stay in lock-step). `requests` sizes Poisson and closed-loop requests:
    (input, output), buckets [(input, output, weight)] or a RequestClass. `max_batch` caps running
    requests per replica (default 256, like vLLM); the KV cache bounds them too."""
    m, e = get_model(model), engine_on(get_engine(engine), gpu)
    delay = 0.0
    if isinstance(gpu, Slot):
        delay, gpu = gpu.request_delay_ms, gpu.gpu
    g = get_gpu(gpu)
    p = get_precision(precision)
    kv = "fp16" if kv_precision is None else get_precision(kv_precision, what="kv_precision")
    tp = scalar_count("tp", tp)
    check_tp(m, tp)
    replicas = scalar_count("replicas", replicas)
    if router not in ("least-loaded", "round-robin"):
        raise InvalidInputError(f"router must be 'least-loaded' or 'round-robin', got {router!r}")
    batch_cap = scalar_count("max_batch", DEFAULT_MAX_BATCH if max_batch is None else max_batch)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInputError(f"seed must be a whole number >= 0, got {seed!r}")
    req = _requests(requests)
    target = _slo(slo) if slo is not None else None
    arrivals = _arrivals(rate, rates, period_s, duration_s, trace, clients, total_requests)
    if arrivals[0] == "closed":
        think = number("think_time_s", think_time_s, hi=86_400.0)
        stagger = _auto_stagger(m, g, e, p, kv, tp, req, arrivals[1]) if stagger_s is None else \
            number("stagger_s", stagger_s, hi=86_400.0)
        arrivals = (*arrivals, stagger, think)
    code = {q: i for i, q in enumerate(_core.PRECISIONS)}
    fixed_ms = e.request_overhead_ms + delay
    raw = _core.simulate(list(m.row()), list(g.row()), list(e.row()), code[p], code[kv], tp, replicas, router,
                         arrivals, req.rows(), float(batch_cap), fixed_ms, seed)
    if raw["kv_budget_bytes"] <= 0:
        raise InvalidInputError(f"{m.id} at {p} over {tp} GPU(s) does not fit on {g.id}: its weights, activations and "
                                f"overhead leave no room for a KV cache ({raw['kv_budget_bytes'] / 1e9:.1f} GB); use "
                                "more tensor-parallel GPUs, a lower precision or a larger GPU")
    return report(raw, m.id, getattr(gpu, "id", g.id), e.id, replicas, router, target)


def _auto_stagger(m, g, e, precision: str, kv: str, tp: int, req, clients: int) -> float:
    """A static batch of `clients` requests' end-to-end time (mean sizes) over the clients: the
    clients spread evenly over one cycle of the loop, the steady state a real benchmark's clients
    drift into, instead of all sending at once and staying in lock-step."""
    from gpuopt.estimation.estimate import estimate

    inp = max(1, round(sum(b.weight * b.input_tokens for b in req.buckets) / sum(b.weight for b in req.buckets)))
    try:
        one = estimate(m, g, precision=precision, kv_precision=kv, batch=clients, input_tokens=inp,
                       output_tokens=max(1, round(req.mean_output_tokens)), tp=tp, engine=e)
    except InvalidInputError:
        return 0.0
    return one.e2e_ms / 1e3 / clients if math.isfinite(one.e2e_ms) else 0.0


OVERLOAD_MIN_REQUESTS = 50
MAX_TRACE_S = 1e9  # arrival times past 30 years are a unit mistake


def overload_of(arrival: np.ndarray, admitted: np.ndarray, completed_rps: float) -> tuple[float, Optional[str]]:
    """(offered req/s, why the run is overloaded or None). Overloaded: the queue wait of the last
    fifth of arrivals exceeds twice the first fifth's by more than a second and is more than 5 %
    of the arrival window - a backlog that grows with the run, which a stable queue does not."""
    n = arrival.size
    if n < OVERLOAD_MIN_REQUESTS:
        return float("nan"), None
    order = np.argsort(arrival, kind="stable")
    window = float(arrival[order[-1]] - arrival[order[0]])
    if not window > 0:
        return float("nan"), None
    offered = n / window
    wait = (admitted - arrival)[order]
    fifth = max(n // 5, 1)
    early, late = float(wait[:fifth].mean()), float(wait[-fifth:].mean())
    if late > 2 * early + 1.0 and late > 0.05 * window:
        return offered, (f"overloaded: {offered:.3g} req/s offered, {completed_rps:.3g} req/s served "
                         f"({offered / completed_rps:.2f}x); the queue wait grows from {early:.3g} s to {late:.3g} s "
                         "through the run, so the latencies measure the backlog; add replicas or lower the rate")
    return offered, None


def report(raw: dict, model: str, slot: str, engine: str, replicas: int, router: str,
           slo: Optional[SLO]) -> SimulationReport:
    """Summarises _core.simulate's (or reference.simulate's) per-request output."""
    arrival, admitted = np.asarray(raw["arrival"]), np.asarray(raw["admitted"])
    first, finish = np.asarray(raw["first_token"]), np.asarray(raw["finish"])
    out_tokens = np.asarray(raw["output_tokens"])
    fixed = raw["fixed_ms"]
    ttft = (first - arrival) * 1e3 + fixed
    e2e = (finish - arrival) * 1e3 + fixed
    multi = out_tokens > 1
    tpot = (finish[multi] - first[multi]) * 1e3 / (out_tokens[multi] - 1)
    span = raw["makespan_s"] - (float(arrival.min()) if arrival.size else 0.0)
    span = span if span > 0 else math.inf   # nothing completed: no throughput
    t, tp_, e2 = percentiles(ttft), percentiles(tpot), percentiles(e2e)
    met = {}
    if slo is not None:
        for name, limit, pct in (("ttft", slo.ttft_p95_ms, t), ("tpot", slo.tpot_p95_ms, tp_),
                                 ("e2e", slo.e2e_p95_ms, e2)):
            if limit is not None:
                met[name] = pct.p95 is not None and bool(pct.p95 <= limit)
    makespan = raw["makespan_s"]
    offered, overload = overload_of(arrival, admitted, arrival.size / span)
    return SimulationReport(
        model=model, slot=slot, engine=engine, replicas=replicas, router=router,
        requests_completed=int(arrival.size), requests_rejected=int(raw["rejected"]), makespan_s=makespan,
        throughput_rps=arrival.size / span, output_tokens_per_s=float(out_tokens.sum()) / span,
        ttft_ms=t, tpot_ms=tp_, e2e_ms=e2, wait_ms=percentiles((admitted - arrival) * 1e3),
        utilization=float(np.mean(raw["busy_s"])) / makespan if makespan > 0 else 0.0,
        queue_mean=float(np.mean(raw["queue_area"])) / makespan if makespan > 0 else 0.0,
        queue_max=float(np.max(raw["queue_max"])), slo=slo, slo_met=met, kv_budget_gb=raw["kv_budget_bytes"] / 1e9,
        offered_rps=None if math.isnan(offered) else offered, overload=overload)


__all__ = ["Percentiles", "SimulationReport", "percentiles", "report", "simulate"]
