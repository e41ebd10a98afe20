"""A plan checked by simulation: every service in every period simulated with the replicas the
plan gives it, each group of identical replicas at the share of the service's rate its capacity
carries (the Rust discrete-event simulator, gpuopt.simulate's engine)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from gpuopt import _core
from gpuopt.catalog import engine as get_engine, engine_on, model as get_model
from gpuopt.errors import InvalidInputError
from gpuopt.estimation.simulate import DEFAULT_MAX_BATCH, SimulationReport, report
from gpuopt.planning.solve import check_threads


class ServiceCheck(BaseModel):
    """A service in one period of a plan, simulated."""

    model_config = ConfigDict(frozen=True)
    service: str
    period: str
    rate: float
    report: SimulationReport


class PlanCheck(BaseModel):
    """Every service in every period of a plan, simulated with its replicas and its rate."""

    model_config = ConfigDict(frozen=True)
    checks: list[ServiceCheck]
    unchecked: list[tuple[str, str]] = Field(default_factory=list, description="(service, period) pairs not "
                                             "simulated because the deadline passed first")

    @property
    def failing(self) -> list[ServiceCheck]:
        return [c for c in self.checks if not c.report.meets_slo]

    @property
    def meets_slo(self) -> bool:
        return not self.failing


def _merge(reports_raw: list[tuple[dict, float]], name: str, period_slot: str, engine: str, slo) -> SimulationReport:
    """One report over several replica groups' raw outputs (their requests pooled)."""
    keys = ("arrival", "admitted", "first_token", "finish", "output_tokens")
    pooled: dict = {k: np.concatenate([np.asarray(r[k]) for r, _ in reports_raw]) for k in keys}
    # latency arrays carry each group's own fixed overhead: fold it into the times before pooling
    for k in ("first_token", "finish"):
        pooled[k] = np.concatenate([np.asarray(r[k]) + fixed / 1e3 for r, fixed in reports_raw])
    pooled["fixed_ms"] = 0.0
    pooled["busy_s"] = np.concatenate([np.asarray(r["busy_s"]) for r, _ in reports_raw])
    pooled["queue_area"] = np.concatenate([np.asarray(r["queue_area"]) for r, _ in reports_raw])
    pooled["queue_max"] = np.concatenate([np.asarray(r["queue_max"]) for r, _ in reports_raw])
    pooled["rejected"] = sum(int(r["rejected"]) for r, _ in reports_raw)
    pooled["makespan_s"] = max(r["makespan_s"] for r, _ in reports_raw)
    pooled["kv_budget_bytes"] = min(r["kv_budget_bytes"] for r, _ in reports_raw)
    replicas = sum(len(r["busy_s"]) for r, _ in reports_raw)
    return report(pooled, name, period_slot, engine, replicas, "least-loaded", slo)


MAX_MIN_REQUESTS = 1_000_000


def simulate_plan(plan, scenario, *, duration_s: float = 600.0, seed: int = 0, min_requests: int = 2000,
                  threads: Optional[int] = None, deadline: Optional[float] = None) -> PlanCheck:
    """Simulates every service in every period of `plan` (from gpuopt.plan(scenario)): each group
    of identical replicas gets the share of the service's rate its capacity carries, for
    `duration_s` or as long as `min_requests` arrivals of the service take, whichever is longer (a
    p95 of a few dozen requests says little about the SLO); every group runs that long, so the
    pooled report's throughput is the service's. `threads` simulations run side by side (the
    engine releases the GIL; None: every core); each has its own seed, so the result is the same
    for any number. With a `deadline` (a time.perf_counter() value), the runs not started by then
    are skipped and listed in `unchecked` (plan() passes its time limit's)."""
    if not isinstance(duration_s, (int, float)) or not (0 < duration_s <= 86400 * 7):
        raise InvalidInputError(f"duration_s must be seconds in (0, {86400 * 7}], got {duration_s!r}")
    if isinstance(min_requests, bool) or not isinstance(min_requests, int) or not 0 <= min_requests <= MAX_MIN_REQUESTS:
        raise InvalidInputError(f"min_requests must be a whole number from 0 to {MAX_MIN_REQUESTS:,}, got {min_requests!r}")
    check_threads(threads)
    runs = []   # (service, period, rate, rows, the simulator's arguments per replica group)
    for k, sv in enumerate(scenario.services):
        for period in scenario.periods:
            rows = plan.replicas.get(sv.name, {}).get(period.name, [])
            rate = scenario.rate(sv, period.name)
            total_cap = sum(r.replicas * r.capacity_rps for r in rows)
            if not rows or rate <= 0 or total_cap <= 0:
                continue
            code = {q: j for j, q in enumerate(_core.PRECISIONS)}
            args, builds = [], []
            for i, r in enumerate(rows):
                slot = r.slot_spec()
                e = engine_on(get_engine(sv.engine), slot)
                builds.append(e.id)
                share = rate * r.replicas * r.capacity_rps / total_cap
                run_s = max(float(duration_s), min_requests / rate)
                args.append((list(get_model(sv.model).row()), list(slot.gpu.row()), list(e.row()),
                             code[r.precision], code["fp16"], int(r.tp), int(r.replicas),
                             "least-loaded", ("poisson", [share], 2 * run_s, run_s),
                             sv.requests.rows(), float(DEFAULT_MAX_BATCH), e.request_overhead_ms + slot.request_delay_ms,
                             seed + 7919 * k + 104729 * i))
            # each group's own build (vllm on an AMD GPU is vllm-rocm): all of them named, not the last
            runs.append((sv, period.name, rate, rows, "+".join(dict.fromkeys(builds)), args))

    def simulated(run) -> Optional[ServiceCheck]:
        sv, period, rate, rows, engines, args = run
        if deadline is not None and time.perf_counter() >= deadline:
            return None
        raws = [(raw, raw["fixed_ms"]) for raw in (_core.simulate(*a) for a in args)]
        return ServiceCheck(service=sv.name, period=period, rate=rate,
                            report=_merge(raws, sv.model, "+".join(r.slot for r in rows), engines, sv.slo))

    with ThreadPoolExecutor(max_workers=max(1, min(threads or os.cpu_count() or 1, len(runs)))) as pool:
        done = list(pool.map(simulated, runs))
    return PlanCheck(checks=[c for c in done if c is not None],
                     unchecked=[(run[0].name, run[1]) for run, c in zip(runs, done) if c is None])


def verification_of(check: PlanCheck) -> dict[str, dict[str, dict]]:
    """service -> period -> simulated p95s, requests and whether the SLO holds (the plan's field)."""
    out: dict[str, dict[str, dict]] = {}
    for c in check.checks:
        out.setdefault(c.service, {})[c.period] = {
            "ttft_p95_ms": c.report.ttft_ms.p95, "tpot_p95_ms": c.report.tpot_ms.p95,
            "e2e_p95_ms": c.report.e2e_ms.p95, "requests": c.report.requests_completed,
            "meets_slo": c.report.meets_slo}
    return out


__all__ = ["PlanCheck", "ServiceCheck", "simulate_plan", "verification_of"]
