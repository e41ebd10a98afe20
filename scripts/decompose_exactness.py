"""The decomposition against the whole MIP on random small scenarios (issue 19's exactness check).

    python scripts/decompose_exactness.py 0 60

plans gpuopt.planning.synthetic.small_scenario(seed) for each seed in [first, last) twice - the
whole MIP to a 1e-6 gap (the exact reference) and method="decompose" - and prints one JSON line
per scenario, then a summary: how many the decomposition solves within 1 % and within 10 % of
the optimum, and any "infeasible" on a feasible scenario.
"""

from __future__ import annotations

import argparse
import json
import time

import gpuopt
from gpuopt.planning.synthetic import small_scenario


def compare(seed: int, time_limit_s: float = 60.0) -> dict:
    scn = small_scenario(seed)
    out = {"seed": seed}
    for method in ("mip", "decompose"):
        t = time.perf_counter()
        p = gpuopt.plan(scn, method=method, threads=1, time_limit_s=time_limit_s, verify=False, baselines=False,
                        relative_gap=1e-6)
        out[method] = {"status": p.status, "cost": p.cost_per_hour, "bound": p.lower_bound_per_hour,
                       "seconds": round(time.perf_counter() - t, 2)}
    m, d = out["mip"], out["decompose"]
    if m["status"] == "optimal":
        out["excess"] = (d["cost"] / m["cost"] - 1) if d["status"] in ("optimal", "feasible") and m["cost"] > 0 else (
            0.0 if d["status"] in ("optimal", "feasible") else None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", type=int)
    ap.add_argument("last", type=int)
    a = ap.parse_args()
    rows = []
    for seed in range(a.first, a.last):
        r = compare(seed)
        rows.append(r)
        print(json.dumps(r), flush=True)
    feasible = [r for r in rows if r["mip"]["status"] == "optimal"]
    excess = [r["excess"] for r in feasible]
    print(json.dumps({"scenarios": len(rows), "feasible": len(feasible),
                      "within_1pct": sum(1 for e in excess if e is not None and e <= 0.01),
                      "within_10pct": sum(1 for e in excess if e is not None and e <= 0.10),
                      "false_infeasible": sum(1 for e in excess if e is None),
                      "worst": max((e for e in excess if e is not None), default=None)}))


if __name__ == "__main__":
    main()
