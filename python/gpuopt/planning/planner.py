"""The fleet planner: `plan(scenario)` decides, for a horizon split into periods, which GPUs to
own, buy or rent at each site, how to split them (whole, MIG layouts, time-sliced fractions), how
many replicas of each service run on which slot at which precision in each period, and when and
where training runs - at the least cost per hour, under every service's p95 SLO and data
locality (docs/formulation.md writes the model down).

The steps, each in its module: candidates (capacities from the Rust core, dominated ones pruned)
-> the planning model, solved whole (SCIP) or by decomposition (column generation per period,
Benders across periods) -> the Plan -> verification by simulation (optional) -> baselines.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from gpuopt.catalog import model as get_model
from gpuopt.errors import InvalidInputError
from gpuopt.planning.baselines import baselines as baselines_of
from gpuopt.planning.bill import bill_of
from gpuopt.planning.candidates import Candidates, allowed_sites, candidates
from gpuopt.planning.decompose import benders, colgen, dive, improve
from gpuopt.planning.diagnose import explain_infeasible
from gpuopt.planning.model import PlanningModel, Solution, Variables
from gpuopt.planning.plans import Plan, extract
from gpuopt.planning.scenario import Scenario
from gpuopt.planning.solve import (DEFAULT_GAP, Budget, Solved, best_bound, check_limits, check_threads, found,
                                   gap_between, status_within)
from gpuopt.planning.verify import simulate_plan, verification_of

log = logging.getLogger(__name__)

DECOMPOSE_ABOVE = 20_000  # replica variables past which the monolithic MIP gives way to decomposition
VERIFY_TIGHTEN = 0.85     # capacity kept for a service the simulator finds missing its SLO, per round
FIRST_SHARE = 0.5         # 'auto' on a small scenario over few periods: of the solve's time, for the MIP first
DECOMPOSITION_FIRST_SHARE = 0.8   # over many periods: for the decomposition first (the MIP from its plan has the rest)
MIP_FIRST_UP_TO = 8       # periods up to which 'auto' tries the MIP before the decomposition
MIN_SECOND_S = 1.0        # least time left for the second of them to be worth starting
SOLVE_SHARE = 0.6         # of the time left, for each solve of the plan when baselines follow (they have the rest)
MIN_DIAGNOSIS_S = 1.0     # left of the time limit for a diagnosis to start (its model alone takes that at scale)
DIAGNOSIS_PARTS = 3       # an infeasible solve's diagnosis: a share of the time left for each of its solves
MAX_VERIFY_S = 86400.0
MAX_VERIFY_ROUNDS = 20


def solve_mip(scn: Scenario, cands: Candidates, *, time_limit_s: float, threads: Optional[int], seed: int,
              relative_gap: float, lift_limits: bool = False, relax: bool = False,
              start: Optional[Solution] = None) -> Solution:
    """The monolithic MIP (docs/formulation.md), solved by SCIP with its LP bound from GLOP
    (`relax`: only that LP relaxation); `start`: a plan SCIP starts from (its hint).
    `threads` is taken so every planning step gets the same settings; this one MIP runs on one
    SCIP thread (gpuopt.planning.solve says why)."""
    model = PlanningModel(scn, relax=relax, lift_limits=lift_limits)
    model.add_services(cands, allowed_sites)
    hint = improve.start_values(model, improve.Incumbent.of(start.x, start.breakdown).x) if start is not None else None
    r = model.solve(time_limit_s=time_limit_s, seed=seed, relative_gap=relative_gap, lp_bound=not relax, hint=hint)
    if not found(r.status):
        return Solution(r, Variables(), {}, r.lp_bound, r.solver)
    bound = min(r.objective, best_bound(r.bound, r.lp_bound))
    return Solution(r, model.x, model.breakdown(), bound, r.solver)


def _decomposed(scn: Scenario, cands: Candidates, **kw) -> Solution:
    """Each period by column generation over its services' integer covers, the periods coordinated
    by Benders over purchases and training work (the bound), then the integers period by period
    (gpuopt.planning.decompose.benders)."""
    t0 = time.perf_counter()
    blocks = colgen.blocks_of(scn, cands, allowed_sites)
    co = benders.coordinate(scn, blocks, time_limit_s=kw["time_limit_s"] * benders.BOUND_SHARE,
                            workers=benders.workers_for(kw["threads"]))
    name = "Benders over per-period column generation (GLOP)"
    if not found(co.status):
        nan = math.nan
        return Solution(Solved(co.status, nan, nan, nan, nan, co.seconds, name), Variables(), {}, nan, name)
    left = max(kw["time_limit_s"] - (time.perf_counter() - t0), 1.0)
    sol = benders.integer_plan(scn, co, cands=cands, **dict(kw, time_limit_s=left))
    sol.method = f"{name} + {sol.method}"
    if found(sol.solved.status):
        inc = improve.Incumbent.of(sol.x, sol.breakdown)
        # after a dive, windows are offered what the dive's periods were (and what the plan runs)
        offer = (lambda periods: dive.offered(co, inc, periods)) if benders.dived(scn, co) else None
        kept = improve.local_search(scn, cands, inc, deadline=t0 + kw["time_limit_s"], seed=kw["seed"],
                                    relative_gap=kw["relative_gap"], stop_below=sol.bound, offer=offer)
        if kept:
            sol = Solution(sol.solved, inc.x, inc.breakdown, sol.bound, f"{sol.method} + {kept} period windows re-solved")
    sol.solved.seconds = time.perf_counter() - t0
    return sol


def _mip_and_decomposition(scn: Scenario, cands: Candidates, **kw) -> Solution:
    """'auto' on a scenario small enough for one MIP. Over a few periods the MIP goes first, with
    FIRST_SHARE of the time; if it stops short of the gap asked for, the decomposition has the
    rest. Over many (more than MIP_FIRST_UP_TO periods: one SCIP MIP of 10 services x 24 periods
    was 36 % from its bound after 300 s) the decomposition goes first, with
    DECOMPOSITION_FIRST_SHARE, and the MIP, started from its plan, has the rest. The cheaper plan
    is kept, with the better of the two bounds (both are valid)."""
    t0 = time.perf_counter()
    mip_first = len(scn.periods) <= MIP_FIRST_UP_TO
    share = FIRST_SHARE if mip_first else DECOMPOSITION_FIRST_SHARE
    first = (solve_mip if mip_first else _decomposed)(scn, cands, **dict(kw, time_limit_s=kw["time_limit_s"] * share))
    # only the MIP proves a scenario infeasible (the decomposition's integers choose among columns)
    if first.solved.status == "optimal" or (mip_first and first.solved.status == "infeasible"):
        return first
    left = kw["time_limit_s"] - (time.perf_counter() - t0)
    if left < MIN_SECOND_S and (mip_first or found(first.solved.status)):
        return first
    if mip_first:
        second = _decomposed(scn, cands, **dict(kw, time_limit_s=left))
    else:
        second = solve_mip(scn, cands, **dict(kw, time_limit_s=max(left, MIN_SECOND_S)),
                           start=first if found(first.solved.status) else None)
    mip, dec = (first, second) if mip_first else (second, first)
    if not found(dec.solved.status):
        return mip
    if not found(mip.solved.status):
        return dec
    mip_cost, dec_cost = mip.solved.objective, sum(dec.breakdown.values())
    best, cost = (mip, mip_cost) if mip_cost <= dec_cost else (dec, dec_cost)
    name = f"{first.method}, then {second.method}" if best is second else first.method
    bound = min(best_bound(mip.bound, dec.bound), cost)   # NaN only where neither has one
    solved = Solved(status_within(cost, bound, kw["relative_gap"]), cost, bound,
                    mip.solved.lp_bound, gap_between(cost, bound), time.perf_counter() - t0, name)
    return Solution(solved, best.x, best.breakdown, bound, name, best.keep)


def _check_settings(time_limit_s: float, threads: Optional[int], relative_gap: float, verify_duration_s: float,
                    verify_rounds: int) -> None:
    check_limits(time_limit_s, relative_gap)
    check_threads(threads)
    if not isinstance(verify_duration_s, (int, float)) or not 0 < verify_duration_s <= MAX_VERIFY_S:
        raise InvalidInputError(f"verify_duration_s must be seconds of simulated traffic in (0, {MAX_VERIFY_S:g}], "
                                f"got {verify_duration_s!r}")
    if not isinstance(verify_rounds, int) or not 0 <= verify_rounds <= MAX_VERIFY_ROUNDS:
        raise InvalidInputError(f"verify_rounds must be a whole number from 0 to {MAX_VERIFY_ROUNDS}, "
                                f"got {verify_rounds!r}")


def _no_plan(scenario: Scenario, status: str, reasons: list[str], **fields) -> Plan:
    nan = math.nan
    return Plan(scenario=scenario.name, status=status, cost_per_hour=nan, lower_bound_per_hour=fields.pop("bound", nan),
                gap=nan, infeasibility=reasons, **fields)


@dataclass(frozen=True)
class PlanProgress:
    """Where a plan() call is, for a live display: its phase and, once solved, the best cost so far,
    the bound and the gap ($/hour)."""
    phase: str          # capacities, solving, verifying, baselines, bill
    round: int = 0      # verification round (0: the first solve)
    cost_per_hour: Optional[float] = None
    lower_bound_per_hour: Optional[float] = None
    gap: Optional[float] = None


def plan(scenario: Scenario, *, time_limit_s: float = 60.0, threads: Optional[int] = None, seed: int = 0,
         relative_gap: float = DEFAULT_GAP, baselines: bool = True, verify: bool = True,
         verify_duration_s: float = 300.0, verify_rounds: int = 3, method: str = "auto",
         progress: Optional[Callable[[PlanProgress], None]] = None) -> Plan:
    """The cheapest fleet and its use for `scenario`, with its lower bound, gap and baselines.

    With `verify` (the default), every service in every period is simulated (gpuopt.simulate_plan);
    a service whose simulated p95 misses its SLO has its capacities tightened and the plan is solved
    again, up to `verify_rounds` times. The plan's `verification` holds the last simulation, and
    the baselines are solved on the final capacities.

    `method`: 'mip' solves one model; 'decompose' solves each period by column generation over
    its services' integer replica covers, coordinates the periods by Benders over the GPUs bought
    and the training work (the bound), then makes each period's integers on those GPUs
    (gpuopt.planning.decompose.benders; large scenarios; `threads` periods side by side); 'auto'
    picks 'decompose' past DECOMPOSE_ABOVE replica variables. Every SCIP solve runs on one thread
    (gpuopt.planning.solve), so `threads` changes how fast the decomposition goes, never the plan
    of a one-MIP scenario. `progress`, if given, is called as each phase begins (PlanProgress)."""
    best: dict[str, Any] = {}

    def tell(phase: str, round_: int = 0) -> None:
        if progress is not None:
            progress(PlanProgress(phase=phase, round=round_, cost_per_hour=best.get("cost_per_hour"),
                                  lower_bound_per_hour=best.get("lower_bound_per_hour"), gap=best.get("gap")))

    if method not in ("auto", "mip", "decompose"):
        raise InvalidInputError(f"method must be 'auto', 'mip' or 'decompose', got {method!r}")
    if not isinstance(scenario, Scenario):
        raise InvalidInputError("plan() takes a Scenario (see gpuopt.load_scenario)")
    _check_settings(time_limit_s, threads, relative_gap, verify_duration_s, verify_rounds)
    budget = Budget(time_limit_s)
    kw = dict(threads=threads, seed=seed, relative_gap=relative_gap)

    def solved(scn: Scenario, c: Candidates, lift_limits: bool = False) -> Solved:
        return solve_mip(scn, c, lift_limits=lift_limits, time_limit_s=budget.share(DIAGNOSIS_PARTS), **kw).solved

    tell("capacities")
    cands = candidates(scenario)
    if cands.problems:
        return _no_plan(scenario, "infeasible", cands.problems)
    factors: dict[str, float] = {}
    result: dict[str, Any] = {}
    size = len(scenario.periods) * sum(len(c) for c in cands.by_service.values()) * len(scenario.sites)
    whole_only = _whole_model_only(scenario)
    if method == "decompose" and whole_only:
        raise InvalidInputError(f"method='decompose' plans each period apart, so it cannot plan {whole_only}; "
                                "use method='mip' (or 'auto')")
    decompose = method == "decompose" or (method == "auto" and size > DECOMPOSE_ABOVE and not whole_only)
    log.info("planning %s: %d services, %d periods, %d replica variables: %s", scenario.name,
             len(scenario.services), len(scenario.periods), size, "decomposition" if decompose else "one MIP")
    for round_ in range(verify_rounds + 1 if verify else 1):
        tell("solving", round_)
        share = dict(kw, time_limit_s=budget.share(1 / SOLVE_SHARE if baselines else 1))
        if decompose:
            sol = _decomposed(scenario, cands, **share)
        elif method == "auto" and not whole_only:
            sol = _mip_and_decomposition(scenario, cands, **share)
        else:
            sol = solve_mip(scenario, cands, **share)
        r = sol.solved
        if r.status == "unsolved" and not result:
            return _no_plan(scenario, "unsolved", [f"no plan found within the time limit of {time_limit_s:g} s; "
                                                   "raise time_limit_s"], solve_s=r.seconds, solver=sol.method)
        if r.status == "unsolved" and result:   # the time limit came first: keep the last plan
            result["warnings"] = [f"the time limit of {time_limit_s:g} s ended the tightening round {round_}: "
                                  "the plan is the last one found"]
            break
        if not found(r.status):
            why = (explain_infeasible(scenario, cands, solved, time_left=budget.left)
                   if budget.left() >= MIN_DIAGNOSIS_S else
                   [f"the solver proved no plan meets every constraint; the time limit of {time_limit_s:g} s left "
                    "no time to find which one binds: raise time_limit_s for that"])
            if result:  # tightening broke it: keep the last plan, and say what the simulator found
                missing = sorted({s for s, per in result["verification"].items() for v in per.values()
                                  if not v["meets_slo"]})
                result["warnings"] = [f"simulated p95 of {', '.join(missing)} misses the SLO; serving them with "
                                      f"less load per replica makes the scenario infeasible: {'; '.join(why)}"]
                break
            return _no_plan(scenario, "infeasible", why, bound=r.lp_bound, solve_s=r.seconds, solver=sol.method,
                            capacity_factors=factors)
        body = extract(scenario, sol)
        if decompose:   # the decomposition's integers are a heuristic: its status is the gap's verdict
            cost = sum(body["cost_breakdown"].values())
            bound = min(cost, sol.bound)
            gap = gap_between(cost, bound)
            status = status_within(cost, bound, relative_gap)
        else:
            cost, bound, status, gap = r.objective, sol.bound, r.status, r.gap
        result = dict(scenario=scenario.name, status=status, cost_per_hour=cost, lower_bound_per_hour=bound, gap=gap,
                      solve_s=r.seconds, solver=sol.method, capacity_factors=dict(factors), **body)
        best.update(cost_per_hour=cost, lower_bound_per_hour=bound, gap=gap)
        if not verify:
            break
        tell("verifying", round_)
        check = simulate_plan(Plan(**result), scenario, duration_s=verify_duration_s, seed=seed, threads=threads,
                              deadline=_verify_deadline(budget, baselines))
        result["verification"] = verification_of(check)
        failing = {c.service for c in check.failing}
        if check.unchecked:   # the time limit came first: no round after this one
            result["warnings"] = [_unchecked_warning(check, time_limit_s)] + (
                [f"simulated p95 of {', '.join(sorted(failing))} misses the SLO"] if failing else [])
            break
        if failing and round_ == verify_rounds:
            result["warnings"] = [f"simulated p95 of {', '.join(sorted(failing))} still misses the SLO after "
                                  f"{verify_rounds} rounds of tightening"]
        if not failing or round_ == verify_rounds:
            break
        tightened = False
        for k, sv in enumerate(scenario.services):
            simulated = [c for c in cands.by_service.get(k, []) if c.source == "simulated"]
            if sv.name in failing and simulated:   # a measured rate is the user's word, not ours to change
                factors[sv.name] = factors.get(sv.name, 1.0) * VERIFY_TIGHTEN
                tightened = True
                for c in simulated:
                    c.capacity_rps *= VERIFY_TIGHTEN
        if not tightened:
            result["warnings"] = [f"simulated p95 of {', '.join(sorted(failing))} misses the SLO on measured "
                                  "capacities, kept as given; check the measured figures"]
            break
    result.setdefault("warnings", []).extend(_context_warnings(scenario))
    if baselines:
        tell("baselines")
        result = _with_baselines(scenario, result, cands, factors, kw, budget, verify, verify_duration_s, seed)
        best.update(cost_per_hour=result["cost_per_hour"], lower_bound_per_hour=result["lower_bound_per_hour"],
                    gap=result["gap"])
    tell("bill")
    result["bill"] = bill_of(Plan(**result), scenario, cands)
    return Plan(**result)


def _verify_deadline(budget: Budget, baselines: bool) -> float:
    """When a verification round stops starting simulations: the time limit's end, or half of what
    is left when the baselines still follow."""
    return time.perf_counter() + (budget.left() / 2 if baselines else budget.left())


def _unchecked_warning(check, time_limit_s: Optional[float]) -> str:
    pairs = check.unchecked
    services = sorted({s for s, _ in pairs})
    limit = f"the time limit of {time_limit_s:g} s" if time_limit_s is not None else "the time limit"
    return (f"{limit} ended the verification before {len(pairs)} service-period(s) were simulated "
            f"({', '.join(services[:5])}{', ...' if len(services) > 5 else ''}): their capacities are the "
            "confirmed ones, unverified for this plan; raise time_limit_s to verify them")


def _whole_model_only(scn: Scenario) -> str:
    """What in `scn` only the monolithic MIP plans ('' if nothing): n+1 redundancy, and the
    stability prices that tie each period to the one before."""
    what = []
    redundant = [sv.name for sv in scn.services if sv.redundancy == "n+1"]
    if redundant:
        what.append(f"n+1 redundancy ({', '.join(redundant)})")
    st = scn.stability
    if st is not None and (st.usd_per_replica_start or st.usd_per_mig_repartition) and len(scn.periods) > 1:
        what.append("stability prices between periods")
    return " or ".join(what)


def _context_warnings(scn: Scenario) -> list[str]:
    out = []
    for sv in scn.services:
        longest = sv.longest_request_tokens
        trained = get_model(sv.model).max_context
        if longest > trained:
            out.append(f"service {sv.name!r}: requests of up to {longest:,} tokens exceed {sv.model}'s trained context "
                       f"of {trained:,} (planned as asked: beyond_context)")
    return out


def _with_baselines(scenario: Scenario, result: dict[str, Any], cands: Candidates, factors: dict[str, float],
                    kw: dict[str, Any], budget: Budget, verify: bool, verify_duration_s: float,
                    seed: int) -> dict[str, Any]:
    """The baselines, solved on the plan's final capacities in the time the budget has left; should
    one be cheaper than the solver's plan (a time-limited solve is not always optimal), its
    solution - feasible for the same model - becomes the plan."""
    found_ = baselines_of(scenario, cands, lambda scn, c, time_limit_s, lift_limits=False: solve_mip(
        scn, c, lift_limits=lift_limits, time_limit_s=time_limit_s, **kw), budget, factors)
    cheaper = sorted((b.record["cost_per_hour"], name) for name, b in found_.items()
                     if b.solution is not None and b.record["cost_per_hour"] < result["cost_per_hour"] * (1 - 1e-9))
    if cheaper:
        value, name = cheaper[0]
        b = found_[name]
        solver_cost = result["cost_per_hour"]
        result.update(extract(b.scenario, b.solution))
        bound = min(result["lower_bound_per_hour"], value)
        result.update(cost_per_hour=value, lower_bound_per_hour=bound, gap=gap_between(value, bound),
                      status=status_within(value, bound, kw["relative_gap"]))
        result.setdefault("warnings", []).append(
            f"the solver's plan cost ${solver_cost:,.2f}/hour within its time limit; the {name!r} baseline's "
            f"solution, feasible for the same model, costs ${value:,.2f}/hour and is the plan")
        if verify:
            check = simulate_plan(Plan(**result), scenario, duration_s=verify_duration_s, seed=seed, threads=kw["threads"],
                                  deadline=budget.deadline)
            result["verification"] = verification_of(check)
            if check.unchecked:
                result.setdefault("warnings", []).append(_unchecked_warning(check, None))
    cost = result["cost_per_hour"]
    records = {}
    for name, b in found_.items():
        rec = dict(b.record)
        if rec["cost_per_hour"] is not None:
            v = rec["cost_per_hour"]
            saved = max(v - cost, 0.0)   # never negative: a cheaper baseline became the plan
            rec.update(savings_per_hour=saved, savings=saved / v if v > 0 else 0.0)
        records[name] = rec
    result["baselines"] = records
    return result


__all__ = ["DECOMPOSE_ABOVE", "PlanProgress", "plan", "solve_mip"]
