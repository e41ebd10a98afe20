"""Plans every example scenario and writes what a buyer would act on - status, cost, bound, fleet,
purchases, rentals, replicas, MIG layouts, time-sliced GPUs, training and baselines - as one JSON
document. `tests/test_behaviour.py` compares it with `tests/data/example_plans.json`, the snapshot
taken before the planner was restructured, so a refactor that changes any plan fails CI.

    python scripts/example_plans.py            # prints the document
    python scripts/example_plans.py --write    # refreshes the snapshot (a deliberate change of plans)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import gpuopt

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "tests" / "data" / "example_plans.json"
FILES = sorted([ROOT / "examples" / "enterprise.yaml", *(ROOT / "examples" / "scenarios").glob("*.yaml")])
SYNTHETIC_LIMIT_S = 900.0   # their time limit: far beyond their work (see main)
# Synthetic fleets that reach the decomposition too: (services, GPU types, periods, jobs), method.
SYNTHETIC = [((8, 3, 4, 1), "mip"), ((8, 3, 4, 1), "decompose"), ((12, 4, 6, 2), "decompose")]


def _rounded(x):
    if isinstance(x, float):
        return round(x, 6)
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    return x


def summary(p) -> dict:
    d = json.loads(p.to_json())
    keep = ("status", "cost_per_hour", "lower_bound_per_hour", "fleet", "purchases", "rentals", "replicas",
            "mig_layouts", "time_sliced", "training", "cost_breakdown", "baselines", "infeasibility")
    return _rounded({k: d[k] for k in keep})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="refresh the snapshot")
    a = ap.parse_args()
    doc = {f.relative_to(ROOT).as_posix(): summary(gpuopt.plan(gpuopt.load_scenario(f), threads=1, seed=0))
           for f in FILES}
    for size, method in SYNTHETIC:
        # a limit far beyond the work: the snapshot is what the work limits give, not the clock,
        # so a loaded machine plans the same (at 60 s a busy CI machine stopped one fleet early)
        p = gpuopt.plan(gpuopt.synthetic_fleet(*size, seed=1), threads=1, seed=0, method=method, baselines=False,
                        time_limit_s=SYNTHETIC_LIMIT_S)
        doc[f"synthetic_fleet{size} seed 1, {method}"] = summary(p)
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    if a.write:
        SNAPSHOT.write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
