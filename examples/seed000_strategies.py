"""Seed 000's three strategies, planned and compared: (A) inference only on right-sized GPUs,
(B) plus quarterly fine-tuning burst to the cloud, (C) plus monthly fine-tuning on premises at
night. Scenario files: examples/scenarios/seed000_strategy_{a,b,c}.yaml.

Run: python examples/seed000_strategies.py [--json]
"""

import json
import sys
from pathlib import Path

from rich.console import Console

import gpuopt
from gpuopt.output.tables import new_table

HERE = Path(__file__).parent / "scenarios"


def run() -> list[dict]:
    rows = []
    for letter in "abc":
        scn = gpuopt.load_scenario(HERE / f"seed000_strategy_{letter}.yaml")
        p = gpuopt.plan(scn, threads=1)
        rows.append({"strategy": scn.name, "status": p.status, "usd_per_hour": round(p.cost_per_hour, 3),
                     "usd_3_years": round(p.cost_per_hour * 8760 * 3), "gap": p.gap, "fleet": p.fleet,
                     "training": p.model_dump()["training"], "breakdown": {k: round(v, 3) for k, v in p.cost_breakdown.items() if v}})
    return rows


def main() -> int:
    rows = run()
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=2))
        return 0
    t = new_table("Seed 000 strategies, planned (3-year cost at the plan's $/hour)")
    for col in ("strategy", "$/hour", "3 years", "fleet", "where the money goes"):
        t.add_column(col, justify="right" if "$" in col or "years" in col else "left")
    for r in rows:
        fleet = ", ".join(f"{n}x {g}" for site in r["fleet"].values() for g, n in site.items() if n)
        t.add_row(r["strategy"], f"{r['usd_per_hour']:.2f}", f"${r['usd_3_years']:,}", fleet,
                  ", ".join(f"{k} {v:.2f}" for k, v in r["breakdown"].items()))
    Console().print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
