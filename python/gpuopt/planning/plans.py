"""The planner's answer (Plan) and how it is read off a solution of the planning model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gpuopt.planning.model import Solution, layout_name
from gpuopt.planning.scenario import Scenario


class Plan(BaseModel):
    """The planner's answer, and the proof of how good it is."""

    model_config = ConfigDict(frozen=True)
    scenario: str
    status: str = Field(description="optimal, feasible (time limit: not proven optimal), infeasible, or unsolved "
                                    "(the time limit passed before any plan was found)")
    cost_per_hour: float = Field(description="all costs averaged over the cycle of periods, $/hour")
    lower_bound_per_hour: float = Field(description="no plan can cost less: LP relaxation or solver bound")
    gap: float
    fleet: dict[str, dict[str, int]] = Field(default_factory=dict, description="site -> GPU type -> GPUs owned")
    purchases: dict[str, dict[str, int]] = Field(default_factory=dict)
    rentals: dict[str, dict[str, dict[str, int]]] = Field(default_factory=dict, description="site -> type -> period")
    replicas: dict[str, dict[str, list[dict[str, Any]]]] = Field(
        default_factory=dict, description="service -> period -> [{site, gpu, slot, precision, replicas, capacity_rps}]")
    mig_layouts: dict[str, dict[str, dict[str, dict[str, int]]]] = Field(
        default_factory=dict, description="site -> type -> period -> layout ('3g.40gb+4g.40gb') -> GPUs")
    time_sliced: dict[str, dict[str, dict[str, dict[str, int]]]] = Field(
        default_factory=dict, description="site -> type -> period -> 'n-way' -> GPUs")
    training: dict[str, dict[str, Any]] = Field(default_factory=dict)
    cost_breakdown: dict[str, float] = Field(default_factory=dict, description="$/hour by item")
    predicted_slo: dict[str, dict[str, float]] = Field(default_factory=dict, description="worst p95 at capacity")
    utilization: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict,
                                                                 description="site -> type -> period -> GPUs busy share")
    baselines: dict[str, dict[str, Any]] = Field(default_factory=dict)
    infeasibility: list[str] = Field(default_factory=list)
    verification: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, description="service -> period -> simulated p95s and whether the SLO holds")
    capacity_factors: dict[str, float] = Field(default_factory=dict,
                                               description="services whose capacity verification tightened")
    warnings: list[str] = Field(default_factory=list)
    solve_s: float = 0.0
    solver: str = ""

    def to_json(self, **kw) -> str:
        return self.model_dump_json(indent=2, **kw)



def extract(scn: Scenario, sol: Solution) -> dict[str, Any]:
    """The plan's fields from a solution: fleet, purchases, rentals, utilisation, MIG layouts,
    time-sliced GPUs, replicas, training, the worst predicted p95 and the cost per item."""
    x = sol.x
    periods = [p.name for p in scn.periods]
    val = lambda v: int(round(v.solution_value())) if hasattr(v, "solution_value") else int(v)  # noqa: E731
    fleet, purchases, rentals, mig, sliced, util = {}, {}, {}, {}, {}, {}
    busy: dict[tuple, int] = {}  # whole GPUs in use per (site, type, period)
    for (_, sn, _, _, pp), (v, c) in x.replicas.items():
        if c.slot.kind == "gpu":
            busy[(sn, c.gpu, pp)] = busy.get((sn, c.gpu, pp), 0) + c.tp * val(v)
    for kk, v in list(x.mig_layout.items()) + list(x.time_sliced.items()):
        busy[kk[:3]] = busy.get(kk[:3], 0) + val(v)
    for (_, sn, g, pp), v in x.train_gpus.items():
        busy[(sn, g, pp)] = busy.get((sn, g, pp), 0) + val(v)
    for site in scn.sites:
        for o in site.gpus:
            key = (site.name, o.type)
            bought = val(x.buy[key])
            fleet.setdefault(site.name, {})[o.type] = o.owned + bought
            if bought:
                purchases.setdefault(site.name, {})[o.type] = bought
            for p in periods:
                rent = val(x.rent[key + (p,)]) if key + (p,) in x.rent else 0
                if rent:
                    rentals.setdefault(site.name, {}).setdefault(o.type, {})[p] = rent
                used = busy.get(key + (p,), 0)
                avail = o.owned + bought + rent
                util.setdefault(site.name, {}).setdefault(o.type, {})[p] = used / avail if avail else 0.0
    for (sn, g, p, layout), v in x.mig_layout.items():
        if val(v):
            mig.setdefault(sn, {}).setdefault(g, {}).setdefault(p, {})[layout_name(layout)] = val(v)
    for (sn, g, p, n), v in x.time_sliced.items():
        if val(v):
            sliced.setdefault(sn, {}).setdefault(g, {}).setdefault(p, {})[f"{n}-way"] = val(v)
    replicas: dict[str, dict[str, list]] = {}
    slo: dict[str, dict[str, float]] = {}
    for (k, sn, _, _, p), (v, c) in x.replicas.items():
        n = val(v)
        if not n:
            continue
        sv = scn.services[k]
        replicas.setdefault(sv.name, {}).setdefault(p, []).append(
            {"site": sn, "gpu": c.gpu, "slot": c.slot.id, "tp": c.tp, "precision": c.precision, "replicas": n,
             "capacity_rps": round(c.capacity_rps, 4)})
        worst = slo.setdefault(sv.name, {"ttft_p95_ms": 0.0, "tpot_p95_ms": 0.0, "e2e_p95_ms": 0.0})
        for m in worst:
            worst[m] = max(worst[m], getattr(c, m))
    training = {}
    for j, job in enumerate(scn.training):
        runs = {f"{sn}/{g}/{p}": val(v) for (jj, sn, g, p), v in x.train_gpus.items() if jj == j and val(v)}
        b = x.burst.get(j, 0.0)
        burst = b.solution_value() if hasattr(b, "solution_value") else float(b)
        training[job.name] = {"gpus_per_period": runs, "burst_gpu_hours": max(round(burst, 3), 0.0)}
    breakdown = dict(sol.breakdown)
    return dict(fleet=fleet, purchases=purchases, rentals=rentals, replicas=replicas, mig_layouts=mig,
                time_sliced=sliced, training=training, predicted_slo=slo, utilization=util, cost_breakdown=breakdown)


__all__ = ["Plan", "extract"]
