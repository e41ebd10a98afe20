"""What the plan is worth against simple ways to buy the same service: no sharing (one replica
per whole GPU), the best single GPU type, and greedy (each service on its cheapest slot per
req/s). Each is solved by the same model with the plan's final capacities (those verification
tightened, tightened alike) and the same limits, so each is a restriction of the plan's model:
its optimum can never be cheaper than the plan's. A baseline the limits make infeasible says which
limit binds and what it would cost with the purchase and rental limits lifted."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional

from gpuopt.planning.candidates import Candidates, allowed_sites, candidates
from gpuopt.planning.diagnose import explain_infeasible
from gpuopt.planning.model import Solution, list_price_per_hour
from gpuopt.planning.plans import extract
from gpuopt.planning.scenario import Scenario
from gpuopt.planning.solve import Budget, found

Solve = Callable[..., Solution]   # (scenario, candidates, time_limit_s, lift_limits=False) -> Solution


@dataclass
class BaselineResult:
    """A baseline's record for the plan, and its solution (which the planner adopts should it be
    cheaper than the solver's plan: a time-limited solve need not be optimal)."""
    record: dict[str, Any]
    scenario: Scenario
    solution: Optional[Solution]


def _infeasible(note: str, binding: str) -> dict[str, Any]:
    """The record of a baseline with no plan: why, and the constraint that binds."""
    return {"cost_per_hour": None, "savings_per_hour": None, "savings": None, "note": note, "binding": binding,
            "status": "infeasible"}


def _unsolved(note: str) -> dict[str, Any]:
    """The record of a baseline whose solve found nothing in its share of the time limit."""
    return {"cost_per_hour": None, "savings_per_hour": None, "savings": None,
            "note": f"{note} - not solved in the time left; raise time_limit_s", "status": "unsolved"}


# Seconds per replica variable that building a baseline's model, its LP bound's hand-over and
# SCIP's presolve take beyond the solve's time limit, before any baseline has been timed: the
# build alone measured 5.7 us per variable (synthetic_fleet(360, 12, 24, 20), README), four times
# that for the rest. At 1,000 services x 24 periods each baseline overran its share by ~20 s and
# the call took 215 s of a 120 s limit.
BUILD_S_PER_VARIABLE = 2e-5


def replica_variables(scn: Scenario, cands: Candidates) -> int:
    """How many replica variables the model of `scn` over `cands` has, at most (candidates x sites
    x periods): what its building time grows with."""
    return len(scn.periods) * len(scn.sites) * sum(len(cs) for cs in cands.by_service.values())


def tightened(cands: Candidates, scn: Scenario, factors: dict[str, float]) -> Candidates:
    """`cands` with each service's simulated capacities scaled by the factor verification gave it
    (measured ones are kept, as the plan keeps them)."""
    out = Candidates(problems=list(cands.problems))
    for k, cs in cands.by_service.items():
        f = factors.get(scn.services[k].name, 1.0)
        out.by_service[k] = [replace(c, capacity_rps=c.capacity_rps * f) if c.source == "simulated" else c for c in cs]
    return out


def baselines(scn: Scenario, cands: Candidates, solve: Solve, budget: Budget,
              factors: Optional[dict[str, float]] = None) -> dict[str, BaselineResult]:
    """Each baseline's record (its cost, what it buys, or why it has no plan) and solution; the
    planner adds the savings against its final plan. Every solve has its share of the time the
    `budget` has left: a baseline stopped by it says so (status 'feasible' with its gap, or
    'unsolved'), never 'infeasible'."""
    factors = factors or {}
    out: dict[str, BaselineResult] = {}
    types = sorted({o.type for s in scn.sites for o in s.gpus})
    todo = [len(types) + 2]   # baselines still to solve: no sharing, each single type, greedy

    rate = [BUILD_S_PER_VARIABLE]   # seconds per replica variable a solve has taken beyond its share
    given = [0.0]

    def timed(scenario: Scenario, c: Candidates, lift_limits: bool = False) -> Solution:
        given[0] = budget.share(todo[0])
        return solve(scenario, c, given[0], lift_limits=lift_limits)

    def record(name: str, scenario: Scenario, c: Callable[[], Candidates], note: str) -> None:
        """Solves a baseline whose candidates `c()` gives - unless the budget is spent, or less of
        it is left than building its model would take (at scale seconds, which no time limit
        interrupts), when it is unsolved without building anything."""
        if budget.left() <= 0:
            out[name] = BaselineResult(_unsolved(note), scenario, None)
            return
        c = c()
        size = replica_variables(scenario, c)
        if budget.left() < rate[0] * size:
            out[name] = BaselineResult(_unsolved(note), scenario, None)
            return
        t = time.perf_counter()
        sol = timed(scenario, c) if not c.problems else None
        if sol is not None and size:
            rate[0] = max(time.perf_counter() - t - given[0], 0.0) / size
        todo[0] = max(todo[0] - 1, 1)
        if sol is not None and sol.solved.status == "unsolved":
            out[name] = BaselineResult(_unsolved(note), scenario, None)
            return
        if sol is None or not found(sol.solved.status):
            why = explain_infeasible(scenario, c, lambda s, cc, lift_limits=False: timed(s, cc, lift_limits).solved,
                                     time_left=budget.left)
            rec = _infeasible(f"{note} - infeasible for this scenario", "; ".join(why))
            if not c.problems:
                lifted = timed(scenario, c, lift_limits=True)
                if found(lifted.solved.status):
                    rec["cost_with_limits_lifted_per_hour"] = lifted.solved.objective
            out[name] = BaselineResult(rec, scenario, None)
            return
        r = sol.solved
        body = extract(scenario, sol)
        out[name] = BaselineResult({"cost_per_hour": r.objective, "note": note, "purchases": body["purchases"],
                                    "status": r.status, "gap": r.gap}, scenario, sol)

    # One replica per whole GPU, no sharing (seed 004's phase 2).
    ns = scn.model_copy(update={"sharing": "none"})
    record("no sharing", ns, lambda: tightened(candidates(ns), ns, factors), "whole GPUs only: one replica per GPU")
    # The best single GPU type.
    trials: list[BaselineResult] = []
    unsolved: list[str] = []   # types whose baseline its share of the time left did not solve
    for t in types:
        if budget.left() <= 0:
            unsolved.append(t)
            continue
        one = scn.model_copy(update={"sites": [s.model_copy(update={"gpus": [o for o in s.gpus if o.type == t]})
                                               for s in scn.sites if any(o.type == t for o in s.gpus)]})
        c = candidates(one, only_gpu=t)
        if c.problems or any(not c.by_service.get(k) for k in range(len(one.services))):
            todo[0] = max(todo[0] - 1, 1)
            continue
        record("_try", one, lambda: tightened(c, one, factors), f"all on {t}")
        trials.append(out.pop("_try"))
        if trials[-1].record["status"] == "unsolved":
            unsolved.append(t)
    feasible = [b for b in trials if b.solution is not None]
    lifted = [b for b in trials if b.record.get("cost_with_limits_lifted_per_hour") is not None]
    if feasible:
        best = out["best single GPU type"] = min(feasible, key=lambda b: b.record["cost_per_hour"])
        if unsolved:   # one of those might have been cheaper: the best found is not the best there is
            best.record.update(status="feasible", note=f"{best.record['note']} (all on {', '.join(unsolved)}: not "
                                                        "solved in the time left)")
    elif unsolved:
        out["best single GPU type"] = BaselineResult(_unsolved("the best single GPU type"), scn, None)
    elif lifted:   # every type that could serve alone is held back by its limits: the cheapest such
        out["best single GPU type"] = min(lifted, key=lambda b: b.record["cost_with_limits_lifted_per_hour"])
    else:
        out["best single GPU type"] = BaselineResult(
            _infeasible("no single type can serve everything - infeasible for this scenario",
                        "no GPU type offered can serve every service on its own"), scn, None)
    fixed = greedy(scn, cands)
    if fixed is None:
        out["greedy"] = BaselineResult(_infeasible("a service has no slot at a site it may use - infeasible",
                                                   "data locality"), scn, None)
    else:
        record("greedy", scn, lambda: fixed, "each service on its cheapest $/req/s slot, replicas rounded up per period")
    return out


def greedy(scn: Scenario, cands: Candidates) -> Optional[Candidates]:
    """Each service's cheapest slot per unit of capacity (among the plan's own candidates, at their
    final capacities), as a fixed choice the same model then prices (it only chooses how to buy or
    rent the GPUs and rounds replicas up per period); None when a service has no usable slot."""
    fixed = Candidates()
    for k, cs in cands.by_service.items():
        allowed = set(allowed_sites(scn, scn.services[k]))
        offered = {o.type for s in scn.sites if s.name in allowed for o in s.gpus}
        usable = [c for c in cs if c.gpu in offered]
        if not usable:
            return None

        def per_gpu_price(c) -> float:
            return min(list_price_per_hour(s, o) for s in scn.sites if s.name in allowed for o in s.gpus
                       if o.type == c.gpu)

        fixed.by_service[k] = [min(usable, key=lambda c: per_gpu_price(c) * c.slot.share * c.tp / c.capacity_rps)]
    return fixed


__all__ = ["BaselineResult", "baselines", "greedy", "tightened"]
