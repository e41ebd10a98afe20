"""Where a small fleet's gap lies: the integrality the decomposition's bound cannot see (issue 19).

    python scripts/small_fleet_gap.py 10 2 --plan-seconds 20

plans synthetic_fleet(services, 8, 24, 4, seed) (threads=1, no baselines, no verification), then,
on the plan's own purchases, solves every period no training job may use twice: its column
generation LP (the relaxation the Benders bound is made of, to a 1e-6 tolerance) and its exact MIP
(every candidate, nothing more bought, to a 1e-6 gap or --period-seconds; its dual bound is what
counts), beside what the plan itself spends there (LP <= MIP <= the plan's). Such periods depend
on nothing but the purchases, so the sum of (MIP bound - LP) over them is integrality that the
Benders bound misses even where the purchases are right. Prints one JSON line per period, then a
summary ($/hour).
"""

from __future__ import annotations

import argparse
import json
import time

import gpuopt
from gpuopt.cost import HOURS_PER_YEAR
from gpuopt.planning.candidates import allowed_sites, candidates
from gpuopt.planning.decompose import colgen
from gpuopt.planning.model import PlanningModel, rent_cost_per_hour


def plan_cost_in(scn, plan, period: str) -> float:
    """What `plan` spends in `period` beyond its purchases ($/hour over the cycle): its rentals and
    time-slicing licences there, read from the plan's fields - a solution of that period's MIP, so
    never below its optimum."""
    share = next(p.hours_per_day for p in scn.periods if p.name == period) / scn.cycle_hours
    total = 0.0
    for site in scn.sites:
        for o in site.gpus:
            rented = plan.rentals.get(site.name, {}).get(o.type, {}).get(period, 0)
            sliced = sum(plan.time_sliced.get(site.name, {}).get(o.type, {}).get(period, {}).values())
            total += share * sliced * site.sharing_licence_usd_per_gpu_year / HOURS_PER_YEAR
            if rented:   # (an offer that cannot be rented costs inf per GPU)
                total += share * rented * rent_cost_per_hour(site, o)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("services", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("--plan-seconds", type=float, default=20.0)
    ap.add_argument("--period-seconds", type=float, default=120.0, help="limit of each period's exact MIP")
    a = ap.parse_args()
    scn = gpuopt.synthetic_fleet(a.services, 8, 24, 4, seed=a.seed)
    plan = gpuopt.plan(scn, time_limit_s=a.plan_seconds, threads=1, verify=False, baselines=False)
    buy = {(site, gpu): n for site, per in plan.purchases.items() for gpu, n in per.items()}
    cands = candidates(scn)
    blocks = colgen.blocks_of(scn, cands, allowed_sites)
    trained = {p for job in scn.training for p in (job.periods or [q.name for q in scn.periods])}
    lp_sum = mip_sum = plan_sum = 0.0
    for period in [p.name for p in scn.periods if p.name not in trained]:
        master = colgen.Master(scn, blocks.only(period), periods=[period], work_targets={}, buy_more=False)
        master.fm.set_supply(buy, {})
        gen = colgen.Generation(master, colgen.list_prices(scn, master.row_list))
        gen.run(tol=1e-6, max_rounds=500, deadline=time.perf_counter() + a.period_seconds)
        fm = PlanningModel(scn, relax=False, periods=[period], base_buy=dict(buy), work_targets={}, buy_more=False)
        fm.add_services(cands, allowed_sites)
        r = fm.solve(time_limit_s=a.period_seconds, seed=0, relative_gap=1e-6, lp_bound=False)
        mip = r.bound - sum(fm.offset.values())     # SCIP's dual bound: the period's integer optimum is at least this
        planned = plan_cost_in(scn, plan, period)
        lp_sum += gen.lagrange
        mip_sum += mip
        plan_sum += planned
        print(json.dumps({"period": period, "lp": round(gen.lagrange, 5), "mip_bound": round(mip, 5), "status": r.status,
                          "plan": round(planned, 5)}), flush=True)
    print(json.dumps({"fleet": [a.services, 8, 24, 4], "seed": a.seed, "plan": round(plan.cost_per_hour, 4),
                      "bound": round(plan.lower_bound_per_hour, 4), "purchases": plan.purchases,
                      "periods_without_training_lp": round(lp_sum, 4), "their_mip_bound": round(mip_sum, 4),
                      "the_plan_there": round(plan_sum, 4),
                      "integrality_the_bound_misses": round(mip_sum - lp_sum, 4),
                      "share_of_plan": round((mip_sum - lp_sum) / plan.cost_per_hour, 4)}))


if __name__ == "__main__":
    main()
