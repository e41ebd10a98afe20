"""The integer plan of a small decomposition by diving from the coordinator's LP point.

The MIP over every period's columns chooses among covers priced one service at a time, so replicas
of different services that would share a GPU, a MIG layout or a time-sliced GPU are rarely among
its choices. On small fleets over many periods that costs a lot: on synthetic_fleet(10, 8, 24, 4,
seed=2) it planned $38.25/h against a bound of $24.37/h. Here the coordinator's purchases are
rounded to whole GPUs, its work per period kept, and then each period is solved exactly - the
planning model over that period alone (docs/formulation.md) - on those GPUs, renting what it lacks
and buying more at full price only where it must (the busiest period first; later ones have what
earlier ones bought). Given the purchases and the work, the periods are independent.

To keep each period's MIP small, a service is offered only its candidates that are cheapest at the
period's LP prices (ties broken by list prices: a GPU the LP leaves idle has no price): the
DIVE_CANDIDATES cheapest replicas, the DIVE_CANDIDATES cheapest per request per second, and every
one the LP's columns use. Each period stops within a gap that adds up to DIVE_GAP of the whole
plan's LP cost: the plan's bound is the coordinator's, so a period's own proof buys nothing.
Measured on that fleet (2 cores): $27.3/h in 5.5 s, against $25.85/h in 82 s with every candidate
and each period to a 1e-3 gap.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Optional

import numpy as np

from gpuopt.planning.candidates import Candidates, allowed_sites
from gpuopt.planning.decompose.colgen import list_prices
from gpuopt.planning.decompose.improve import PERIOD_AT, Incumbent, _in_use
from gpuopt.planning.linear import Effort
from gpuopt.planning.model import COST_ITEMS, PlanningModel, Variables, fleet_cost
from gpuopt.planning.scenario import Scenario
from gpuopt.planning.solve import found

DIVE_CANDIDATES = 3    # per service and period: the cheapest replicas, and the cheapest per req/s, at the LP's prices
DIVE_GAP = 3e-2        # the periods' gaps add up to this share of the plan's LP cost
ROUND_FROM = 0.5       # a fractional purchase is rounded up from this many GPUs
MAX_PERIOD_GAP = 0.5   # a period's relative gap, however cheap the period
DIVE_EFFORT = Effort(nodes=500, cut_rounds=3)   # a period's limits in work, not seconds (improve.WINDOW_EFFORT)
TIE_BREAK = 1e-6       # list prices' weight beside the LP's
VARIABLE_ITEMS = ("cloud", "sharing licences", "training burst")   # what a period adds to the fleet's cost

log = logging.getLogger(__name__)


def cheapest_candidates(co, periods: list[str], how_many: int = DIVE_CANDIDATES) -> Candidates:
    """Each service's candidates worth offering in `periods` at their LPs' prices (module doc)."""
    out = Candidates()
    for period in periods:
        gen = co.generations[period]
        master = gen.master
        listed = list_prices(co.coordinator.scn, master.row_list)   # breaks ties among GPUs the LP leaves free
        for b, (k, _) in enumerate(master.blocks.keys):
            items = master.blocks.items[k]
            if not items:
                continue
            rows = master.item_rows[k][:, master.period_index[period]]
            price = master.item_use[k] * (gen.pi[rows] + TIE_BREAK * listed[rows])
            per_rate = price / np.maximum(master.item_cap[k], 1e-12)
            keep = set(np.argsort(price, kind="stable")[:how_many].tolist())
            keep |= set(np.argsort(per_rate, kind="stable")[:how_many].tolist())
            for v, counts in master.columns[b]:
                if v.solution_value() > 1e-6:
                    keep |= set(counts)
            chosen = out.by_service.setdefault(k, [])
            for i in sorted(keep):
                if all(c is not items[i].cand for c in chosen):
                    chosen.append(items[i].cand)
    return out


def offered(co, inc: Incumbent, periods: list[str]) -> Candidates:
    """What the local search offers a window of `periods` after a dive: each service's cheapest
    candidates there (cheapest_candidates) and every candidate the plan runs there, so that the
    plan's own values still solve the window."""
    out = cheapest_candidates(co, periods)
    inside = set(periods)
    for (k, _, _, _, p), (n, c) in inc.x.replicas.items():
        chosen = out.by_service.setdefault(k, [])
        if p in inside and n > 0.5 and all(c is not d for d in chosen):
            chosen.append(c)
    return out


def rounded_purchases(scn: Scenario, buy_lp: dict) -> dict[tuple, int]:
    """The coordinator's purchases as whole GPUs (from ROUND_FROM up), for every offer."""
    out = {(site.name, o.type): 0 for site in scn.sites for o in site.gpus}
    for key, v in buy_lp.items():
        out[key] = int(math.floor(v + 1.0 - ROUND_FROM))
    return out


def dive(scn: Scenario, co, *, deadline: float, seed: int) -> Optional[Incumbent]:
    """The plan on the coordinator's rounded purchases and work per period, each period solved
    exactly over its cheapest candidates (module doc); None when a period cannot be planned so
    (a training job with no burst needs more than its GPUs can give) or the deadline passes."""
    coord = co.coordinator
    _, work, burst = co.point
    buy = rounded_purchases(scn, co.point[0])
    periods = coord.periods
    order = sorted(periods, key=lambda p: -sum(co.masters[p].blocks.rate))
    x = Variables()
    breakdown = dict.fromkeys(COST_ITEMS, 0.0)
    for j, v in burst.items():
        breakdown["training burst"] += coord.burst[j] * v
        x.burst[j] = v
    for n, p in enumerate(order):
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        fm = PlanningModel(scn, relax=False, periods=[p], base_buy=dict(buy), work_targets=work[p])
        fm.add_services(cheapest_candidates(co, [p]), allowed_sites)
        # this period's share of the plan's gap, relative to its own cost (its constant part included)
        own = max(co.generations[p].value + sum(fm.offset.values()), 1e-9)
        gap = min(MAX_PERIOD_GAP, max(DIVE_GAP * co.lp_value / len(periods) / own, 1e-6))
        r = fm.solve(time_limit_s=left / (len(order) - n), seed=seed, relative_gap=gap, lp_bound=False,
                     effort=DIVE_EFFORT)
        log.debug("dive, period %s: %s, gap %.4f of %.4f asked, %.2f s, %d variables", p, r.status, r.gap, gap,
                  r.seconds, fm.m.n_vars)
        if not found(r.status):
            return None
        for name in PERIOD_AT:
            getattr(x, name).update(_in_use(fm.x, name))
        for j, v in fm.x.burst.items():
            x.burst[j] = x.burst.get(j, 0.0) + v
        for key, v in fm.x.buy.items():
            buy[key] += int(round(v))
        part = fm.breakdown()
        for item in VARIABLE_ITEMS:
            breakdown[item] += part[item]
    x.buy = buy
    breakdown["capex"], breakdown["power+licences"] = fleet_cost(scn, buy)
    return Incumbent(x, breakdown)


__all__ = ["cheapest_candidates", "dive", "offered", "rounded_purchases"]
