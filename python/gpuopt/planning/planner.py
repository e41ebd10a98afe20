"""The fleet planner: a mixed-integer program (OR-Tools, SCIP) that decides, for a horizon split
into periods, which GPUs to own, buy or rent at each site, how to split them (whole, MIG layouts,
time-sliced fractions), how many replicas of each service run on which slot at which precision in
each period, and when and where training runs (idle owned GPUs in allowed periods, or cloud
burst) - at the least cost per hour, under every service's p95 SLO and data locality.

Candidate deployments and their capacities come from the Rust core (gpuopt.capacity_many); the
best precision per slot is kept and slots that cannot meet a service's SLO are pruned before the
model is built. MIG layouts enter as patterns (the maximal legal layouts) whose counts the MIP
chooses; identical replicas and GPUs are integers, never one binary each.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from gpuopt.estimation.capacity import STATUS, capacity_many
from gpuopt.catalog import model as get_model
from gpuopt.errors import InvalidInputError
from gpuopt.planning.scenario import Scenario, Service
from gpuopt.planning.model import FleetModel, layout_name, own_cost_per_hour, training_reach
from gpuopt.estimation.sharing import Slot, mig_profile, slots as gpu_slots
from gpuopt.planning.solve import DEFAULT_GAP, Solved, check_limits, check_threads, solve

log = logging.getLogger(__name__)


@dataclass
class Candidate:
    service: int
    gpu: str
    slot: Slot
    precision: str
    capacity_rps: float
    tp: int
    ttft_p95_ms: float
    tpot_p95_ms: float
    e2e_p95_ms: float


TP_OPTIONS = (1, 2, 4, 8)


@dataclass
class Candidates:
    by_service: dict[int, list[Candidate]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _allowed_sites(scn: Scenario, sv: Service) -> list[str]:
    return sv.sites or [s.name for s in scn.sites]


def candidates(scn: Scenario, sharing: Optional[str] = None, only_gpu: Optional[str] = None) -> Candidates:
    """Every way to run one replica of each service (best precision per slot), with the reasons a
    service has none."""
    sharing = sharing or scn.sharing
    types = sorted({o.type for s in scn.sites for o in s.gpus})
    if only_gpu is not None:
        types = [only_gpu]
    slot_list: list[Slot] = []
    for t in types:
        slot_list += [s for s in gpu_slots(t, fractions=scn.fractions)
                      if sharing == "all" or s.kind == "gpu" or (sharing == "mig" and s.kind == "mig")]
    rows = []
    for k, sv in enumerate(scn.services):
        m = get_model(sv.model)
        for sl in slot_list:
            # Whole GPUs with an interconnect may also split a replica tensor-parallel.
            allowed_tp = sv.tps or TP_OPTIONS
            tps = [t for t in allowed_tp if t in m.valid_tp(max(allowed_tp))] \
                if sl.kind == "gpu" and sl.gpu.interconnect_gb_s else [1]
            rows += [(k, sl, p, t) for p in sv.precisions for t in tps]
    out = Candidates()
    if not rows:
        return out
    res = capacity_many([scn.services[k].model for k, _, _, _ in rows], [sl for _, sl, _, _ in rows],
                        requests=[scn.services[k].requests for k, _, _, _ in rows],
                        slo=[scn.services[k].slo for k, _, _, _ in rows], precision=[p for _, _, p, _ in rows],
                        engine=[scn.services[k].engine for k, _, _, _ in rows], tp=[t for _, _, _, t in rows])
    cap, status = res["capacity_rps"], res["status"]
    best: dict[tuple[int, str], Candidate] = {}
    closest: dict[int, tuple[float, str]] = {}
    for i, (k, sl, p, tp) in enumerate(rows):
        sv = scn.services[k]
        c = float(cap[i])
        if sl.kind == "gpu" and tp == 1 and sv.measured and sl.parent in sv.measured:
            c = float(sv.measured[sl.parent])
        if c <= 0:
            if STATUS[int(status[i])] == "slo-unmet":
                e2e = float(res["e2e_p95_ms"][i])
                if k not in closest or e2e < closest[k][0]:
                    closest[k] = (e2e, f"{sl.id} ({p}): best p95 TTFT {res['ttft_p95_ms'][i]:.0f} ms, TPOT "
                                       f"{res['tpot_p95_ms'][i]:.1f} ms, end-to-end {e2e:.0f} ms")
            continue
        key = (k, sl.id, tp)
        if key not in best or c > best[key].capacity_rps:
            best[key] = Candidate(k, sl.parent, sl, p, c, tp, float(res["ttft_p95_ms"][i]),
                                  float(res["tpot_p95_ms"][i]), float(res["e2e_p95_ms"][i]))
    for (k, _, _), cand in best.items():
        out.by_service.setdefault(k, []).append(cand)
    for k in out.by_service:
        out.by_service[k] = prune_dominated(out.by_service[k])
    for k, sv in enumerate(scn.services):
        if out.by_service.get(k):
            offered = {o.type for s in scn.sites if s.name in _allowed_sites(scn, sv) for o in s.gpus}
            if not any(c.gpu in offered for c in out.by_service[k]) and only_gpu is None:
                where = sorted({s.name for s in scn.sites for o in s.gpus if o.type in {c.gpu for c in out.by_service[k]}})
                out.problems.append(f"service {sv.name!r}: data locality (sites {', '.join(_allowed_sites(scn, sv))}) "
                                    f"excludes every site with a GPU that can serve it ({', '.join(where)})")
            continue
        if k in closest:
            out.problems.append(f"service {sv.name!r}: no GPU meets its SLO {sv.slo.row()} ms (p95 TTFT, TPOT, e2e); "
                                f"the closest is {closest[k][1]}")
        else:
            out.problems.append(f"service {sv.name!r}: {sv.model} does not fit on any GPU offered "
                                f"({', '.join(types)}) at precisions {', '.join(sv.precisions)}")
    return out


def prune_dominated(cands: list[Candidate]) -> list[Candidate]:
    """Drops candidates another one of the same service and GPU type beats on every count, so the
    model keeps every plan that can be optimal:
    - whole GPUs at tp = t lose to tp = t' dividing t when t/t' replicas of the smaller serve as
      much (same GPUs, at least as many replicas);
    - a MIG profile loses to one holding a subset of its compute and memory slices that serves as
      much (the smaller instance fits wherever the larger was placed)."""
    keep = []
    for c in cands:
        dominated = False
        for d in cands:
            if d is c or d.gpu != c.gpu:
                continue
            if c.slot.kind == d.slot.kind == "gpu" and d.tp < c.tp and c.tp % d.tp == 0:
                dominated = (c.tp // d.tp) * d.capacity_rps >= c.capacity_rps
            elif c.slot.kind == d.slot.kind == "mig" and d.slot.profile != c.slot.profile:
                cp, dp = mig_profile(c.gpu, c.slot.profile), mig_profile(d.gpu, d.slot.profile)
                if dp["compute_slices"] <= cp["compute_slices"] and dp["memory_slices"] <= cp["memory_slices"]:
                    dominated = d.capacity_rps >= c.capacity_rps
            if dominated:
                break
        if not dominated:
            keep.append(c)
    return keep


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


def _solve(scn: Scenario, cands: Candidates, *, time_limit_s: float, threads: Optional[int], seed: int,
           relative_gap: float, lift_limits: bool = False, relax: bool = False, only_period: Optional[str] = None,
           base_buy: Optional[dict] = None, work_targets: Optional[dict] = None) -> tuple[Any, Any, dict]:
    """Builds and solves the planning model with one integer per (service, site, candidate, period):
    replicas. `relax`: its LP relaxation (GLOP). `threads` is taken so every planning step gets the
    same settings; this one MIP runs on one SCIP thread (gpuopt.planning.solve says why)."""
    fm = FleetModel(scn, relax=relax, periods=[only_period] if only_period else None, lift_limits=lift_limits,
                    base_buy=base_buy, work_targets=work_targets)
    s, inf = fm.s, fm.inf
    for k, sv in enumerate(scn.services):
        allowed = set(_allowed_sites(scn, sv))
        demand = {p: s.Constraint(scn.rate(sv, p), inf) for p in fm.periods}
        least = {p: s.Constraint(sv.min_replicas, inf) for p in fm.periods} if sv.min_replicas else {}
        for c in cands.by_service.get(k, []):
            for site in scn.sites:
                if site.name not in allowed or c.gpu not in {o.type for o in site.gpus}:
                    continue
                for p in fm.periods:
                    v = fm._int(0, inf, f"R[{sv.name},{site.name},{c.slot.id},tp{c.tp},{p}]")
                    fm.V["R"][(k, site.name, f"{c.slot.id}@tp{c.tp}", p)] = (v, c)
                    demand[p].SetCoefficient(v, c.capacity_rps)
                    if least:
                        least[p].SetCoefficient(v, 1.0)
                    row, per = fm.row_key(site.name, c, p)
                    fm.rows[row].SetCoefficient(v, per)
    fm.minimize()
    r = solve(s, time_limit_s=time_limit_s, seed=seed, relative_gap=relative_gap,
              lp_bound=not relax and only_period is None)
    # The solver owns the variables: keep it alive as long as they are read.
    return r, fm.V, {"model": fm, "solver": s}


def _extract(scn: Scenario, r, V, extra) -> dict[str, Any]:
    periods = [p.name for p in scn.periods]
    val = lambda v: int(round(v.solution_value())) if hasattr(v, "solution_value") else int(v)  # noqa: E731
    fleet, purchases, rentals, mig, sliced, util = {}, {}, {}, {}, {}, {}
    busy: dict[tuple, int] = {}  # whole GPUs in use per (site, type, period)
    for (_, sn, _, pp), (v, c) in V["R"].items():
        if c.slot.kind == "gpu":
            busy[(sn, c.gpu, pp)] = busy.get((sn, c.gpu, pp), 0) + c.tp * val(v)
    for kk, v in list(V["M"].items()) + list(V["F"].items()):
        busy[kk[:3]] = busy.get(kk[:3], 0) + val(v)
    for (_, sn, g, pp), v in V["T"].items():
        busy[(sn, g, pp)] = busy.get((sn, g, pp), 0) + val(v)
    for site in scn.sites:
        for o in site.gpus:
            key = (site.name, o.type)
            bought = val(V["buy"][key])
            fleet.setdefault(site.name, {})[o.type] = o.owned + bought
            if bought:
                purchases.setdefault(site.name, {})[o.type] = bought
            for p in periods:
                rent = val(V["rent"][key + (p,)]) if key + (p,) in V["rent"] else 0
                if rent:
                    rentals.setdefault(site.name, {}).setdefault(o.type, {})[p] = rent
                used = busy.get(key + (p,), 0)
                avail = o.owned + bought + rent
                util.setdefault(site.name, {}).setdefault(o.type, {})[p] = used / avail if avail else 0.0
    for (sn, g, p, layout), v in V["M"].items():
        if val(v):
            mig.setdefault(sn, {}).setdefault(g, {}).setdefault(p, {})[layout_name(layout)] = val(v)
    for (sn, g, p, n), v in V["F"].items():
        if val(v):
            sliced.setdefault(sn, {}).setdefault(g, {}).setdefault(p, {})[f"{n}-way"] = val(v)
    replicas: dict[str, dict[str, list]] = {}
    slo: dict[str, dict[str, float]] = {}
    for (k, sn, sid, p), (v, c) in V["R"].items():
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
        runs = {f"{sn}/{g}/{p}": val(v) for (jj, sn, g, p), v in V["T"].items() if jj == j and val(v)}
        b = V["B"].get(j, 0.0)
        burst = b.solution_value() if hasattr(b, "solution_value") else float(b)
        training[job.name] = {"gpus_per_period": runs, "burst_gpu_hours": max(round(burst, 3), 0.0)}
    if "breakdown" in extra:
        breakdown = dict(extra["breakdown"])
    else:
        breakdown = extra["model"].breakdown()
    return dict(fleet=fleet, purchases=purchases, rentals=rentals, replicas=replicas, mig_layouts=mig,
                time_sliced=sliced, training=training, predicted_slo=slo, utilization=util, cost_breakdown=breakdown)


def _explain_infeasible(scn: Scenario, cands: Candidates, **kw) -> list[str]:
    reasons = list(cands.problems)
    if reasons:
        return reasons
    for job in scn.training:
        window = sum(p.hours for p in scn.periods if not job.periods or p.name in job.periods)
        reach = training_reach(scn, job, window)
        if job.burst_usd_per_gpu_hour is None and reach < job.gpu_hours:
            reasons.append(f"training job {job.name!r} needs {job.gpu_hours:,.0f} GPU-hours within "
                           f"{job.deadline_days:g} days; its allowed GPUs, sites and periods give at most "
                           f"{reach:,.0f}, and it has no cloud burst price")
    lifted, _, _ = _solve(scn, cands, lift_limits=True, **kw)
    if lifted.status in ("optimal", "feasible"):
        alone = []
        for k, sv in enumerate(scn.services):
            one = scn.model_copy(update={"services": [sv], "training": []})
            r, _, _ = _solve(one, Candidates(by_service={0: cands.by_service.get(k, [])}), **kw)
            if r.status not in ("optimal", "feasible"):
                alone.append(sv.name)
        which = f" (alone, even: {', '.join(alone)})" if alone else " (by the services and jobs together)"
        reasons.append(f"purchase and rental limits bind{which}: with unlimited GPUs a plan exists; raise "
                       "max_purchase or max_rent at the sites they may use")
    return reasons or ["no plan meets every constraint"]


def _decomposed(scn: Scenario, cands: Candidates, **kw) -> tuple[Any, dict, dict, float]:
    """Each period by column generation over its services' integer covers, the periods coordinated
    by Benders over purchases and training work (the bound), then the integers period by period
    (gpuopt.planning.decompose.benders). Returns (status, merged variables, extra, lower bound)."""
    from gpuopt.planning.decompose import benders, colgen

    t0 = time.perf_counter()
    blocks = colgen.blocks_of(scn, cands, _allowed_sites)
    co = benders.coordinate(scn, blocks, time_limit_s=kw["time_limit_s"] * benders.BOUND_SHARE,
                            workers=benders.workers_for(kw["threads"]))
    name = "Benders over per-period column generation (GLOP)"
    if co.status not in ("optimal", "feasible"):
        return Solved(co.status, math.nan, math.nan, math.nan, math.nan, co.seconds, name), {}, {}, math.nan
    left = max(kw["time_limit_s"] - (time.perf_counter() - t0), 1.0)
    r, merged, extra, bound = benders.integer_plan(scn, co, **dict(kw, time_limit_s=left))
    if r.status not in ("optimal", "feasible"):
        return r, {}, {}, bound
    r = Solved(r.status, r.objective, r.bound, r.lp_bound, r.gap, time.perf_counter() - t0,
               f"{name} + {extra['mode']} ({r.solver})")
    return r, merged, extra, bound


DECOMPOSE_ABOVE = 20_000  # replica variables past which the monolithic MIP gives way to decomposition

VERIFY_TIGHTEN = 0.85  # capacity kept for a service the simulator finds missing its SLO, per round


MAX_VERIFY_S = 86400.0
MAX_VERIFY_ROUNDS = 20


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


def plan(scenario: Scenario, *, time_limit_s: float = 60.0, threads: Optional[int] = None, seed: int = 0,
         relative_gap: float = DEFAULT_GAP, baselines: bool = True, verify: bool = False,
         verify_duration_s: float = 300.0, verify_rounds: int = 3, method: str = "auto") -> Plan:
    """The cheapest fleet and its use for `scenario`, with its lower bound, gap and baselines.

    With `verify`, every service in every period is simulated (gpuopt.simulate_plan); a service
    whose simulated p95 misses its SLO has its capacities tightened and the plan is solved again,
    up to `verify_rounds` times. The plan's `verification` holds the last simulation.

    `method`: 'mip' solves one model; 'decompose' solves each period by column generation over
    its services' integer replica covers, coordinates the periods by Benders over the GPUs bought
    and the training work (the bound), then makes each period's integers on those GPUs
    (gpuopt.planning.decompose.benders; large scenarios; `threads` periods side by side); 'auto' picks 'decompose'
    past DECOMPOSE_ABOVE replica variables. Every SCIP solve runs on one thread (gpuopt.planning.solve),
    so `threads` changes how fast the decomposition goes, never the plan of a one-MIP scenario."""
    if method not in ("auto", "mip", "decompose"):
        raise InvalidInputError(f"method must be 'auto', 'mip' or 'decompose', got {method!r}")
    if not isinstance(scenario, Scenario):
        raise InvalidInputError("plan() takes a Scenario (see gpuopt.load_scenario)")
    _check_settings(time_limit_s, threads, relative_gap, verify_duration_s, verify_rounds)
    kw = dict(time_limit_s=time_limit_s, threads=threads, seed=seed, relative_gap=relative_gap)
    cands = candidates(scenario)
    if cands.problems:
        return Plan(scenario=scenario.name, status="infeasible", cost_per_hour=math.nan,
                    lower_bound_per_hour=math.nan, gap=math.nan, infeasibility=cands.problems)
    factors: dict[str, float] = {}
    result: dict[str, Any] = {}
    size = len(scenario.periods) * sum(len(c) for c in cands.by_service.values()) * len(scenario.sites)
    decompose = method == "decompose" or (method == "auto" and size > DECOMPOSE_ABOVE)
    log.info("planning %s: %d services, %d periods, %d replica variables: %s", scenario.name,
             len(scenario.services), len(scenario.periods), size, "decomposition" if decompose else "one MIP")
    for round_ in range(verify_rounds + 1 if verify else 1):
        if decompose:
            r, V, extra, lp_bound = _decomposed(scenario, cands, **kw)
        else:
            r, V, extra = _solve(scenario, cands, **kw)
        if r.status == "unsolved" and not result:
            return Plan(scenario=scenario.name, status="unsolved", cost_per_hour=math.nan,
                        lower_bound_per_hour=math.nan, gap=math.nan, solve_s=r.seconds, solver=r.solver,
                        infeasibility=[f"no plan found within the time limit of {time_limit_s:g} s; raise time_limit_s"])
        if r.status not in ("optimal", "feasible"):
            why = _explain_infeasible(scenario, cands, **kw)
            if result:  # tightening broke it: keep the last plan, and say what the simulator found
                missing = sorted({s for s, per in result["verification"].items() for v in per.values()
                                  if not v["meets_slo"]})
                result["warnings"] = [f"simulated p95 of {', '.join(missing)} misses the SLO; serving them with "
                                      f"less load per replica makes the scenario infeasible: {'; '.join(why)}"]
                break
            return Plan(scenario=scenario.name, status="infeasible", cost_per_hour=math.nan,
                        lower_bound_per_hour=r.lp_bound, gap=math.nan, solve_s=r.seconds, solver=r.solver,
                        infeasibility=why, capacity_factors=factors)
        body = _extract(scenario, r, V, extra)
        if decompose:
            cost = sum(body["cost_breakdown"].values())
            bound = min(cost, lp_bound)
            status, gap = ("optimal" if cost - bound <= relative_gap * cost else "feasible"), (cost - bound) / cost \
                if cost > 0 else 0.0
        else:
            cost = r.objective
            bound = min(cost, max(b for b in (r.bound, r.lp_bound) if b == b))
            status, gap = r.status, r.gap
        result = dict(scenario=scenario.name, status=status, cost_per_hour=cost, lower_bound_per_hour=bound, gap=gap,
                      solve_s=r.seconds, solver=r.solver, capacity_factors=dict(factors), **body)
        if not verify:
            break
        from gpuopt.estimation.simulate import simulate_plan

        check = simulate_plan(Plan(**result), scenario, duration_s=verify_duration_s, seed=seed)
        result["verification"] = {}
        for c in check.checks:
            result["verification"].setdefault(c.service, {})[c.period] = {
                "ttft_p95_ms": c.report.ttft_ms.p95, "tpot_p95_ms": c.report.tpot_ms.p95,
                "e2e_p95_ms": c.report.e2e_ms.p95, "requests": c.report.requests_completed,
                "meets_slo": c.report.meets_slo}
        failing = {c.service for c in check.failing}
        if failing and round_ == verify_rounds:
            result["warnings"] = [f"simulated p95 of {', '.join(sorted(failing))} still misses the SLO after "
                                  f"{verify_rounds} rounds of tightening"]
        if not failing or round_ == verify_rounds:
            break
        for k, sv in enumerate(scenario.services):
            if sv.name in failing:
                factors[sv.name] = factors.get(sv.name, 1.0) * VERIFY_TIGHTEN
                for c in cands.by_service.get(k, []):
                    c.capacity_rps *= VERIFY_TIGHTEN
    if baselines:
        result["baselines"] = _baselines(scenario, cost, cands, **kw)
    return Plan(**result)


def _baselines(scn: Scenario, cost: float, cands: Candidates, **kw) -> dict[str, dict[str, Any]]:
    out = {}

    def record(name: str, value: float, note: str) -> None:
        if not math.isfinite(value):
            out[name] = {"cost_per_hour": None, "savings_per_hour": None, "savings": None,
                         "note": f"{note} - infeasible for this scenario"}
            return
        out[name] = {"cost_per_hour": value, "savings_per_hour": value - cost,
                     "savings": (value - cost) / value if value > 0 else 0.0, "note": note}

    # One replica per whole GPU, no sharing (seed 004's phase 2).
    ns = scn.model_copy(update={"sharing": "none"})
    r, _, _ = _solve(ns, candidates(ns), **kw)
    record("no sharing", r.objective if r.status in ("optimal", "feasible") else math.inf,
           "whole GPUs only: one replica per GPU")
    # The best single GPU type.
    best, best_type = math.inf, None
    for t in sorted({o.type for s in scn.sites for o in s.gpus}):
        one = scn.model_copy(update={"sites": [s.model_copy(update={"gpus": [o for o in s.gpus if o.type == t]})
                                               for s in scn.sites if any(o.type == t for o in s.gpus)]})
        c = candidates(one, only_gpu=t)
        if c.problems or any(not c.by_service.get(k) for k in range(len(one.services))):
            continue
        r, _, _ = _solve(one, c, **kw)
        if r.status in ("optimal", "feasible") and r.objective < best:
            best, best_type = r.objective, t
    record("best single GPU type", best, f"all on {best_type}" if best_type else "no single type can serve everything")
    record("greedy", _greedy(scn, cands, **kw), "each service on its cheapest $/req/s slot, replicas rounded up per period")
    return out


def _greedy(scn: Scenario, cands: Candidates, **kw) -> float:
    """Each service's cheapest slot per unit of capacity (among the plan's own candidates), replicas
    rounded up, as a fixed plan priced by the same model (the MIP then only chooses how to buy or
    rent the GPUs)."""
    fixed = Candidates()
    for k, cs in cands.by_service.items():
        allowed = set(_allowed_sites(scn, scn.services[k]))
        offered = {o.type for s in scn.sites if s.name in allowed for o in s.gpus}
        usable = [c for c in cs if c.gpu in offered]
        if not usable:
            return math.inf
        per_gpu_price = lambda c: min(  # noqa: E731
            sum(own_cost_per_hour(s, o)) if o.max_purchase != 0 or o.owned else
            (o.rent_usd_per_hour or math.inf)
            for s in scn.sites if s.name in allowed for o in s.gpus if o.type == c.gpu)
        fixed.by_service[k] = [min(usable, key=lambda c: per_gpu_price(c) * c.slot.share * c.tp / c.capacity_rps)]
    r, _, _ = _solve(scn, fixed, **kw)
    return r.objective if r.status in ("optimal", "feasible") else math.inf


__all__ = ["Candidate", "Plan", "candidates", "plan"]
