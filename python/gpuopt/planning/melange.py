"""Fleet planning with OR-Tools. This module holds the Melange-form entry point `plan_mix`: given
per-bucket measured capacities of each GPU type (request size buckets, as Melange profiles them),
the distribution of requests over buckets and a total rate, the cheapest multiset of GPUs that
serves it all, each bucket cut into `slice_factor` equal slices served wholly by one GPU type.

Identical slices are counted as integers (how many slices of bucket b each GPU type serves)
instead of one binary per slice: the same model, far smaller and faster to solve.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from gpuopt.errors import InvalidInputError
from gpuopt.planning.solve import DEFAULT_GAP, check_limits, check_threads, found, new_solver, solve


class MixPlan(BaseModel):
    """A plan for one pool of GPUs: how many of each type, and which share of each bucket each serves."""

    model_config = ConfigDict(frozen=True)
    status: str = Field(description="optimal, feasible (time limit: not proven optimal) or infeasible")
    cost_per_hour: float
    lower_bound_per_hour: float = Field(description="max of the LP relaxation and the solver's bound")
    gap: float = Field(description="(cost - lower bound) / cost")
    fleet: dict[str, int] = Field(description="GPUs of each type, keyed by the caller's names")
    assignment: dict[str, list[float]] = Field(description="share of each bucket (flattened) served by each type")
    utilization: dict[str, float] = Field(description="load over capacity of each type's GPUs")
    solve_s: float
    solver: str
    explanation: Optional[str] = None


MIN_CAPACITY = 1e-6   # req/s of one GPU on one bucket, where it serves it at all


def _grid(name: str, value, shape: Optional[tuple] = None) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be numbers (a list or nested lists), got {value!r}") from None
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InvalidInputError(f"{name} must be finite and >= 0")
    if shape is not None and arr.shape != shape:
        raise InvalidInputError(f"{name} has shape {arr.shape}, expected {shape} (one entry per bucket)")
    return arr


def plan_mix(gpu_costs: Mapping[str, float], capacities: Mapping[str, Sequence], distribution: Sequence,
             total_rate: float, slice_factor: Optional[int] = 1, *, time_limit_s: float = 60.0,
             threads: Optional[int] = 1, seed: int = 0, relative_gap: float = DEFAULT_GAP) -> MixPlan:
    """Melange's problem: the cheapest GPUs to serve `total_rate` req/s spread over request-size
    buckets by `distribution`, where `capacities[gpu]` holds each bucket's max req/s on one GPU
    (0: that GPU cannot serve the bucket). Each bucket is cut into `slice_factor` equal slices,
    each served wholly by one GPU type; `slice_factor=None` lets buckets split freely.
    `threads` is checked and kept for calls written against earlier versions: the MIP runs on one
    SCIP thread (gpuopt.planning.solve says why)."""
    check_threads(threads)
    check_limits(time_limit_s, relative_gap)
    if not gpu_costs:
        raise InvalidInputError("plan_mix needs at least one GPU type")
    names = list(gpu_costs)
    missing = [n for n in names if n not in capacities]
    if missing:
        raise InvalidInputError(f"no capacities for {', '.join(missing)}")
    dist = _grid("distribution", distribution)
    if dist.sum() <= 0:
        raise InvalidInputError("distribution must put some weight on a bucket")
    if not (isinstance(total_rate, (int, float)) and total_rate >= 0 and math.isfinite(total_rate)):
        raise InvalidInputError(f"total_rate must be a finite number >= 0 req/s, got {total_rate!r}")
    if slice_factor is not None and (isinstance(slice_factor, bool) or not isinstance(slice_factor, int)
                                     or slice_factor < 1):
        raise InvalidInputError(f"slice_factor must be a whole number >= 1 or None, got {slice_factor!r}")
    caps = {n: _grid(f"capacities[{n!r}]", capacities[n], dist.shape).reshape(-1) for n in names}
    for n, c in caps.items():
        tiny = c[(c > 0) & (c < MIN_CAPACITY)]
        if tiny.size:   # a GPU that serves 1e-300 req/s would need 1e300 of itself: a unit slip
            raise InvalidInputError(f"capacities[{n!r}] holds {tiny[0]:g} req/s: a capacity is 0 (cannot serve the "
                                    f"bucket) or at least {MIN_CAPACITY:g} req/s")
    for n in names:
        c = gpu_costs[n]
        if not (isinstance(c, (int, float)) and c >= 0 and math.isfinite(c)):
            raise InvalidInputError(f"gpu_costs[{n!r}] must be a finite number >= 0 $/hour, got {c!r}")
    rates = (dist.reshape(-1) / dist.sum()) * total_rate
    buckets = [b for b in range(rates.size) if rates[b] > 0]
    unserved = [b for b in buckets if all(caps[n][b] <= 0 for n in names)]
    if unserved:
        raise InvalidInputError(f"no GPU type can serve bucket(s) {unserved} (every capacity is 0); "
                                "plan_mix is infeasible")
    s = new_solver("SCIP")
    inf = s.infinity()
    count = {n: s.IntVar(0, inf, f"n[{n}]") for n in names}
    share = {}  # (bucket, type) -> slices (integer) or fraction (continuous)
    for b in buckets:
        row = []
        for n in names:
            if caps[n][b] <= 0:
                continue
            v = s.IntVar(0, slice_factor, f"y[{b},{n}]") if slice_factor else s.NumVar(0, 1, f"f[{b},{n}]")
            share[b, n] = v
            row.append(v)
        s.Add(sum(row) == (slice_factor or 1), f"bucket_served[{b}]")
    for n in names:
        load = [share[b, n] * (rates[b] / (slice_factor or 1) / caps[n][b]) for b in buckets if (b, n) in share]
        if load:
            s.Add(sum(load) <= count[n], f"gpu_load[{n}]")
    s.Minimize(sum(gpu_costs[n] * count[n] for n in names))
    r = solve(s, time_limit_s=time_limit_s, seed=seed, relative_gap=relative_gap)
    if not found(r.status):
        return MixPlan(status="infeasible", cost_per_hour=math.nan, lower_bound_per_hour=r.lp_bound, gap=math.nan,
                       fleet={}, assignment={}, utilization={}, solve_s=r.seconds, solver=r.solver,
                       explanation="the solver found no plan within the time limit" if r.status == "unsolved" else
                       "no combination of the GPU types serves every bucket")
    fleet = {n: int(round(count[n].solution_value())) for n in names}
    per = float(slice_factor or 1)
    assignment = {n: [round(share[b, n].solution_value() / per, 9) if (b, n) in share else 0.0
                      for b in range(rates.size)] for n in names}
    util = {}
    for n in names:
        load = sum(assignment[n][b] * rates[b] / caps[n][b] for b in buckets if caps[n][b] > 0)
        util[n] = load / fleet[n] if fleet[n] else 0.0
    cost = sum(gpu_costs[n] * fleet[n] for n in names)
    return MixPlan(status=r.status, cost_per_hour=cost, lower_bound_per_hour=min(cost, max(r.bound, r.lp_bound)),
                   gap=r.gap, fleet=fleet, assignment=assignment, utilization=util, solve_s=r.seconds, solver=r.solver)


__all__ = ["MixPlan", "plan_mix"]
