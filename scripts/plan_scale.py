"""Scale benchmark of the planner on synthetic fleets (a benchmark, not a timed test).

    python scripts/plan_scale.py 1000 12 24 20 --time-limit 120
    python scripts/plan_scale.py 10 8 24 4 --time-limit 20 --threads 1 --baselines --no-verify
    python scripts/plan_scale.py 1000 12 24 20 --time-limit 120 --threads 1 --no-verify --busy 1   # one core kept busy

prints one JSON line: the fleet's size, the plan's status, cost, lower bound, gap and seconds
(candidates included), and the method used.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import gpuopt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("services", type=int)
    ap.add_argument("gpu_types", type=int)
    ap.add_argument("periods", type=int)
    ap.add_argument("training_jobs", type=int)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--method", default="auto", choices=["auto", "mip", "decompose"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="default: every core")
    ap.add_argument("--baselines", action="store_true", help="solve the baselines too (within the time limit)")
    ap.add_argument("--no-verify", action="store_true", help="skip the plan's simulation")
    ap.add_argument("--demand", type=float, default=1.0, help="scale every rate (0.05: tiny demand)")
    ap.add_argument("--busy", type=int, default=0, help="keep this many cores busy meanwhile (another job's load)")
    a = ap.parse_args()
    load = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.busy)]
    try:
        run(a)
    finally:
        for proc in load:
            proc.kill()


def run(a) -> None:
    scn = gpuopt.synthetic_fleet(a.services, a.gpu_types, a.periods, a.training_jobs, seed=a.seed, demand=a.demand)
    t = time.perf_counter()
    p = gpuopt.plan(scn, time_limit_s=a.time_limit, threads=a.threads, baselines=a.baselines, method=a.method,
                    verify=not a.no_verify)
    print(json.dumps({"fleet": [a.services, a.gpu_types, a.periods, a.training_jobs], "status": p.status,
                      "cost_per_hour": round(p.cost_per_hour, 4), "lower_bound_per_hour": round(p.lower_bound_per_hour, 4),
                      "gap": round(p.gap, 5), "seconds": round(time.perf_counter() - t, 1), "solver": p.solver}))


if __name__ == "__main__":
    main()
