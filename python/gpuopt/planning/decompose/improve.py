"""Local search over the periods of a plan (a large-neighbourhood search after the decomposition).

The decomposition's integer plan chooses among the columns its column generation found, so the
cheapest way to combine replicas on shared GPUs can be missing (it rented two A10Gs where one
suffices). Here windows of one or two periods are re-solved exactly - every candidate of every
service, the MIG layouts, time slices and training in those periods - with the rest of the plan
fixed, and a window's answer is kept when it is cheaper.

A window W is the model of docs/formulation.md over W's periods, with
- `base_buy`: the GPUs the periods outside W need bought (what they use beyond what they own and
  rent), free here; more may be bought at full price, and fewer than the plan had are bought if W
  no longer needs them;
- `work_targets`: each training job's work left to W by the periods outside it, its burst decided
  anew.
So the plan outside W stays feasible whatever W chooses, and the plan's own values in W are a
solution of the window (its hint): a window never makes the plan dearer.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np

from gpuopt.planning.candidates import Candidates, allowed_sites
from gpuopt.planning.linear import Effort
from gpuopt.planning.model import PlanningModel, Variables, fleet_cost, gpus_in_use, work_per_gpu
from gpuopt.planning.scenario import Scenario
from gpuopt.planning.solve import found

log = logging.getLogger(__name__)

PERIOD_AT = {"rent": 2, "mig_layout": 2, "time_sliced": 2, "train_gpus": 3, "train_on": 3, "replicas": 4}  # where
# in its index each variable indexed by period has the period
ALL_PAIRS_UP_TO = 8      # periods up to which every pair and triple of periods is a window (else neighbours only)
IMPROVES = 1e-7          # relative saving a window must make to be kept
# A window is a step of a heuristic, not a proof (the plan's bound is the coordination's): it is
# solved to WINDOW_GAP within WINDOW_EFFORT (500 branch-and-bound nodes, 3 rounds of root cuts),
# so one hard window cannot take the time of the others, and the work it gets does not depend on
# the machine's load. Three cut rounds instead of SCIP's default (up to -1: until they stall) let
# 30 services x 24 periods re-solve more windows in 20 s: 3.3 %, 1.7 %, 2.0 % from the bound
# instead of 3.7 %, 1.7 %, 2.5 % (none: 4.3 %, 4.8 %, 3.0 %).
WINDOW_GAP = 1e-3
WINDOW_EFFORT = Effort(nodes=500, cut_rounds=3)


def _number(v) -> float:
    return float(v.solution_value()) if hasattr(v, "solution_value") else float(v)


@dataclass
class Incumbent:
    """A plan as plain numbers (`x`, replicas as (count, candidate)) and its $/hour per cost item."""
    x: Variables
    breakdown: dict[str, float]

    @classmethod
    def of(cls, x: Variables, breakdown: dict[str, float]) -> "Incumbent":
        out = Variables()
        for name in ("buy", "burst", *PERIOD_AT):
            if name != "replicas":
                setattr(out, name, {key: _number(v) for key, v in getattr(x, name).items()})
        out.replicas = {key: (_number(v), c) for key, (v, c) in x.replicas.items()}
        return cls(out, dict(breakdown))

    @property
    def cost(self) -> float:
        return sum(self.breakdown.values())


def _in_use(x: Variables, name: str) -> dict:
    """The entries of `x`'s variable group `name` that are not zero (replicas: by their count)."""
    return {key: v for key, v in getattr(x, name).items() if (v[0] if name == "replicas" else v) > 0.5}


def _base_buy(scn: Scenario, x: Variables, outside: set[str]) -> dict[tuple, int]:
    """GPUs per (site, type) that the periods in `outside` need bought: what they use beyond what
    is owned and rented there (`gpu_supply`), and what their training on owned GPUs uses beyond
    what is owned (`training_owned`)."""
    used = gpus_in_use(x)
    own_used: dict[tuple, float] = {}
    for (j, site, g, p), n in x.train_gpus.items():
        if not scn.training[j].rented_gpus:
            own_used[(site, g, p)] = own_used.get((site, g, p), 0.0) + n
    base: dict[tuple, int] = {}
    for site in scn.sites:
        for o in site.gpus:
            key = (site.name, o.type)
            need = 0.0
            for p in outside:
                need = max(need, used.get(key + (p,), 0.0) - o.owned - x.rent.get(key + (p,), 0.0),
                           own_used.get(key + (p,), 0.0) - o.owned)
            base[key] = int(round(need))
    return base


def _work_left(scn: Scenario, x: Variables, outside: set[str]) -> dict[int, float]:
    """Each job's work (reference GPU-hours) that the periods in `outside` leave to the others."""
    hours = {p.name: p.hours_per_day for p in scn.periods}
    done = [0.0] * len(scn.training)
    for (j, _, g, p), n in x.train_gpus.items():
        if p in outside:
            done[j] += n * work_per_gpu(scn, scn.training[j], g, hours[p])
    return {j: max(job.gpu_hours - done[j], 0.0) for j, job in enumerate(scn.training)}


def start_values(fm: PlanningModel, x: Variables, base: Optional[dict[tuple, int]] = None) -> np.ndarray:
    """A value for every variable of `fm` (built, not yet solved) from the plan `x` (plain numbers):
    its hint. `base`: GPUs per (site, type) `fm` takes as bought already (its `buy` counts the rest)."""
    base = base or {}
    start = np.zeros(fm.m.n_vars)
    for key, i in fm.x.buy.items():
        start[i] = x.buy.get(key, 0.0) - base.get(key, 0)
    for key, i in fm.x.burst.items():
        start[i] = x.burst.get(key, 0.0)
    for name in ("rent", "mig_layout", "time_sliced", "train_gpus"):
        for key, i in getattr(fm.x, name).items():
            start[i] = getattr(x, name).get(key, 0.0)
    for key, i in fm.x.train_on.items():
        start[i] = 1.0 if x.train_gpus.get(key, 0.0) > 0.5 else 0.0
    for key, (i, _) in fm.x.replicas.items():
        start[i] = x.replicas.get(key, (0.0, None))[0]
    return start


def improve_window(scn: Scenario, cands: Candidates, inc: Incumbent, window: list[str], *, time_limit_s: float,
                   seed: int, relative_gap: float, effort: Optional[Effort] = None) -> bool:
    """Re-solves the periods of `window` with the rest of `inc` fixed (to `relative_gap`, within
    the limits of `effort`); updates `inc` and says so when that is cheaper."""
    inside = set(window)
    outside = {p.name for p in scn.periods} - inside
    base = _base_buy(scn, inc.x, outside)
    fm = PlanningModel(scn, relax=False, periods=window, base_buy=base, work_targets=_work_left(scn, inc.x, outside))
    fm.add_services(cands, allowed_sites)
    start = start_values(fm, inc.x, base)
    before = fm.breakdown(start)
    r = fm.solve(time_limit_s=time_limit_s, seed=seed, relative_gap=relative_gap, lp_bound=False, hint=start,
                 effort=effort)
    if not found(r.status):
        return False
    after = fm.breakdown()
    if sum(after.values()) >= sum(before.values()) - IMPROVES * max(inc.cost, 1e-9):
        return False
    x = inc.x
    for name, at in PERIOD_AT.items():
        kept = {key: v for key, v in getattr(x, name).items() if key[at] not in inside}
        kept.update(_in_use(fm.x, name))
        setattr(x, name, kept)
    x.buy = {key: base[key] + round(v) for key, v in fm.x.buy.items()}
    x.burst = dict(fm.x.burst)
    inc.breakdown = {item: inc.breakdown[item] - before[item] + after[item] for item in inc.breakdown}
    return True


def components(scn: Scenario) -> list[list[str]]:
    """The periods in groups such that each training job's periods lie in one group: given the
    GPUs bought, the groups are independent (no job's work is split between them)."""
    names = [p.name for p in scn.periods]
    group = {p: i for i, p in enumerate(names)}
    for job in scn.training:
        touched = {group[p] for p in names if not job.periods or p in job.periods}
        if touched:
            into = min(touched)
            group = {p: into if g in touched else g for p, g in group.items()}
    return [[p for p in names if group[p] == g] for g in sorted(set(group.values()))]


def replan_on(scn: Scenario, cands: Union[Candidates, Callable[[list[str]], Candidates]], inc: Incumbent,
              buy: dict[tuple, int], *, deadline: float, seed: int,
              relative_gap: float) -> Optional[Incumbent]:
    """The plan with the GPUs bought set to `buy`: each group of periods (`components`) re-solved
    exactly on them, renting what it lacks, with the whole work of the training jobs that run there
    (or their burst); None when a group cannot be planned so or the deadline passes. `cands`:
    Candidates, or a function giving a group's from its periods."""
    offer = cands if callable(cands) else (lambda periods: cands)
    x = Variables(buy=dict(buy))
    breakdown = dict.fromkeys(inc.breakdown, 0.0)
    breakdown["capex"], breakdown["power+licences"] = fleet_cost(scn, buy)
    for group in components(scn):
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        mine = [j for j, job in enumerate(scn.training) if not job.periods or job.periods[0] in group]
        fm = PlanningModel(scn, relax=False, periods=group, base_buy=buy, buy_more=False,
                           work_targets={j: scn.training[j].gpu_hours for j in mine})
        fm.add_services(offer(group), allowed_sites)
        r = fm.solve(time_limit_s=left, seed=seed, relative_gap=relative_gap, lp_bound=False)
        if not found(r.status):
            return None
        for name in PERIOD_AT:
            getattr(x, name).update(_in_use(fm.x, name))
        x.burst.update({j: fm.x.burst[j] for j in mine if j in fm.x.burst})
        part = fm.breakdown()
        for item in ("cloud", "sharing licences", "training burst"):
            breakdown[item] += part[item]
    return Incumbent(x, breakdown)


SWAP_UP_TO = 3   # a purchase swap trades one GPU bought for up to this many of another type
STEPS = (-1, 1, -2, 2)   # GPUs fewer or more of one type, in the order tried


def purchase_moves(scn: Scenario, inc: Incumbent) -> list[dict[tuple, int]]:
    """Purchases near the plan's: one or two GPUs fewer of a type bought or more of a type that may
    be bought (whole GPUs pack replicas in steps), or none of a type bought; then swaps, one GPU of a
    type bought for 1..SWAP_UP_TO of another type at the same site (an L40S for three T4s)."""
    buy = {key: int(round(v)) for key, v in inc.x.buy.items()}
    room = {(site.name, o.type): (math.inf if o.max_purchase is None else o.max_purchase) - buy[(site.name, o.type)]
            for site in scn.sites for o in site.gpus}
    fewer = [key for key in buy if buy[key] > 0]
    out = [{**buy, key: buy[key] + step} for step in STEPS for key in buy
           if (step < 0 and buy[key] >= -step) or (step > 0 and room[key] >= step)]
    out += [{**buy, key: 0} for key in fewer if buy[key] > 2]   # none of a type: past the local optima of a step
    for a in fewer:
        for b in buy:
            if b != a and b[0] == a[0]:
                out += [{**buy, a: buy[a] - 1, b: buy[b] + n} for n in range(1, SWAP_UP_TO + 1) if room[b] >= n]
    return out


def add_period_optima(scn: Scenario, cands: Candidates, co, *, deadline: float, seed: int,
                      relative_gap: float) -> int:
    """More columns for the integer MIP over every period (`co.extra`, per period and block): each
    period's exact plan on its own, once on the GPUs owned and what may be rented (nothing
    bought), once buying at full price - so plans that buy nothing, or buy for one period's needs,
    are among the MIP's choices even where the LP's prices never priced their covers out. The
    number of columns added."""
    added = 0
    for p in [q.name for q in scn.periods]:
        blocks = co.generations[p].master.blocks
        block_of = {k: b for b, (k, _) in enumerate(blocks.keys)}
        index = {k: {(it.site, it.cand.slot.id, it.cand.tp): i for i, it in enumerate(items)}
                 for k, items in blocks.items.items()}
        for buy_more in (False, True):
            left = deadline - time.perf_counter()
            if left <= 0:
                return added
            fm = PlanningModel(scn, relax=False, periods=[p], work_targets={}, buy_more=buy_more)
            fm.add_services(cands, allowed_sites)
            r = fm.solve(time_limit_s=left, seed=seed, relative_gap=relative_gap, lp_bound=False)
            if not found(r.status):
                continue
            covers: dict[int, dict[int, int]] = {k: {} for k in block_of}
            for (k, site, slot, tp, _), (n, _) in fm.x.replicas.items():
                if n > 0.5:
                    covers[k][index[k][(site, slot, tp)]] = int(round(n))
            extra = co.extra.setdefault(p, {})
            for k, cover in covers.items():
                b = block_of[k]
                have = [c for _, c in co.generations[p].master.columns[b]] + extra.get(b, [])
                if cover not in have:
                    extra.setdefault(b, []).append(cover)
                    added += 1
    return added


def windows(periods: list[str]) -> list[list[str]]:
    """Each period alone, then pairs and triples: every pair and triple up to ALL_PAIRS_UP_TO
    periods, else neighbours (the cycle's last with its first). A triple moves what pairs cannot:
    a training job's work out of one period into two others (small_scenario(293): 15 % above the
    optimum with pairs only)."""
    singles = [[p] for p in periods]
    if len(periods) < 2:
        return singles
    if len(periods) <= ALL_PAIRS_UP_TO:
        return singles + [list(c) for size in (2, 3) for c in itertools.combinations(periods, size)]
    return singles + [[periods[i], periods[(i + 1) % len(periods)]] for i in range(len(periods))]


def local_search(scn: Scenario, cands: Candidates, inc: Incumbent, *, deadline: float, seed: int,
                 relative_gap: float, stop_below: Optional[float] = None,
                 offer: Optional[Callable[[list[str]], Candidates]] = None) -> int:
    """Windows re-solved in turn (gpuopt.planning.decompose.improve) until a whole round of them
    saves nothing, the deadline passes, or the plan's cost is within `relative_gap` of
    `stop_below` (a lower bound); the number of windows kept. `offer`: a smaller neighbourhood
    first - the candidates a window is offered, given its periods - whose windows are fast; once
    a round of them saves nothing, windows are offered every candidate (`cands`). Purchase moves
    re-plan every period, so they keep to `offer`'s candidates where it is given."""
    levels = [offer, lambda periods: cands] if offer is not None else [lambda periods: cands]
    level, kept, improved = 0, 0, True

    def done() -> bool:
        return time.perf_counter() >= deadline or (
            stop_below is not None and inc.cost - stop_below <= relative_gap * inc.cost)

    while improved:
        improved = False
        for w in windows([p.name for p in scn.periods]):
            if done():
                return kept
            if improve_window(scn, levels[level](w), inc, w, time_limit_s=deadline - time.perf_counter(), seed=seed,
                              relative_gap=max(relative_gap, WINDOW_GAP), effort=WINDOW_EFFORT):
                kept += 1
                improved = True
                log.debug("window %s kept: $%.4f/hour", "+".join(w), inc.cost)
        if improved:
            continue
        if level + 1 < len(levels):
            level, improved = level + 1, True
            continue
        for buy in purchase_moves(scn, inc):
            if done():
                return kept
            moved = replan_on(scn, levels[0], inc, buy, deadline=deadline, seed=seed, relative_gap=relative_gap)
            if moved is not None and moved.cost < inc.cost - IMPROVES * max(inc.cost, 1e-9):
                inc.x, inc.breakdown = moved.x, moved.breakdown
                kept += 1
                improved = True
                level = 0
                log.debug("purchases %s kept: $%.4f/hour", buy, inc.cost)
                break
    return kept


__all__ = ["Incumbent", "add_period_optima", "components", "improve_window", "local_search", "purchase_moves", "replan_on",
           "start_values", "windows"]
