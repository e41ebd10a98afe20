"""Seed 004's one-GPU, three-pod case, planned: three pods of a small service at 60 requests/min
each on A100 40GBs rented at $2/hour. Without sharing (phase 2) each pod takes a GPU; the planner
packs all three onto one GPU (MIG or time-slicing) - the seed's 67 % saving.
Scenario file: examples/scenarios/seed004_three_pods.yaml.

Run: python examples/seed004_sharing.py [--json]
"""

import sys
from pathlib import Path

from rich.console import Console

import gpuopt
from gpuopt.output.tables import plan_tables


def run() -> gpuopt.Plan:
    return gpuopt.plan(gpuopt.load_scenario(Path(__file__).parent / "scenarios" / "seed004_three_pods.yaml"), threads=1)


def main() -> int:
    p = run()
    if "--json" in sys.argv:
        print(p.to_json())
        return 0
    for t in plan_tables(p):
        Console().print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
