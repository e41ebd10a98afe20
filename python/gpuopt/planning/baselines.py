"""What the plan is worth against simple ways to buy the same service: no sharing (one replica
per whole GPU), the best single GPU type, and greedy (each service on its cheapest slot per
req/s). Each is solved by the same model with the same candidates' capacities and limits."""

from __future__ import annotations

import math
from typing import Any, Callable

from gpuopt.planning.candidates import Candidates, allowed_sites, candidates
from gpuopt.planning.model import list_price_per_hour
from gpuopt.planning.scenario import Scenario
from gpuopt.planning.solve import found

Solve = Callable[[Scenario, Candidates], Any]   # (scenario, candidates) -> Solved


def baselines(scn: Scenario, cost: float, cands: Candidates, solve: Solve) -> dict[str, dict[str, Any]]:
    out = {}

    def record(name: str, value: float, note: str) -> None:
        if not math.isfinite(value):
            out[name] = {"cost_per_hour": None, "savings_per_hour": None, "savings": None,
                         "note": f"{note} - infeasible for this scenario"}
            return
        out[name] = {"cost_per_hour": value, "savings_per_hour": value - cost,
                     "savings": (value - cost) / value if value > 0 else 0.0, "note": note}

    def cost_of(scenario: Scenario, c: Candidates) -> float:
        r = solve(scenario, c)
        return r.objective if found(r.status) else math.inf

    # One replica per whole GPU, no sharing (seed 004's phase 2).
    ns = scn.model_copy(update={"sharing": "none"})
    record("no sharing", cost_of(ns, candidates(ns)), "whole GPUs only: one replica per GPU")
    # The best single GPU type.
    best, best_type = math.inf, None
    for t in sorted({o.type for s in scn.sites for o in s.gpus}):
        one = scn.model_copy(update={"sites": [s.model_copy(update={"gpus": [o for o in s.gpus if o.type == t]})
                                               for s in scn.sites if any(o.type == t for o in s.gpus)]})
        c = candidates(one, only_gpu=t)
        if c.problems or any(not c.by_service.get(k) for k in range(len(one.services))):
            continue
        value = cost_of(one, c)
        if value < best:
            best, best_type = value, t
    record("best single GPU type", best, f"all on {best_type}" if best_type else "no single type can serve everything")
    record("greedy", greedy(scn, cands, cost_of), "each service on its cheapest $/req/s slot, replicas rounded up per period")
    return out


def greedy(scn: Scenario, cands: Candidates, cost_of) -> float:
    """Each service's cheapest slot per unit of capacity (among the plan's own candidates), replicas
    rounded up, as a fixed plan priced by the same model (the MIP then only chooses how to buy or
    rent the GPUs)."""
    fixed = Candidates()
    for k, cs in cands.by_service.items():
        allowed = set(allowed_sites(scn, scn.services[k]))
        offered = {o.type for s in scn.sites if s.name in allowed for o in s.gpus}
        usable = [c for c in cs if c.gpu in offered]
        if not usable:
            return math.inf

        def per_gpu_price(c) -> float:
            return min(list_price_per_hour(s, o) for s in scn.sites if s.name in allowed for o in s.gpus
                       if o.type == c.gpu)

        fixed.by_service[k] = [min(usable, key=lambda c: per_gpu_price(c) * c.slot.share * c.tp / c.capacity_rps)]
    return cost_of(scn, fixed)


__all__ = ["baselines", "greedy"]
