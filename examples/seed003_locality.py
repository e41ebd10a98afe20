"""Seed 003's four locality scenarios as planning constraints on one fleet: an on-premises site
(owns two A100s, may buy L40S) and a cloud region (rents H100s; burst training at $4.60/GPU-hour).

1. local serving, local inference      - the service may only run on premises
2. training in the public cloud        - the fine-tune may only burst to the cloud
3. local training and serving          - both stay on premises
4. serving in the cloud, local data    - the service runs in the cloud only

Run: python examples/seed003_locality.py [--json]
"""

import json
import sys

from rich.console import Console

import gpuopt
from gpuopt import GpuOffer, Period, Scenario, Service, Site, TrainingJob
from gpuopt.output.tables import new_table

SITES = [Site(name="premises", gpus=[GpuOffer(type="a100-sxm-80gb", owned=2, max_purchase=2),
                                     GpuOffer(type="l40s", max_purchase=8)]),
         Site(name="cloud", kind="cloud", gpus=[GpuOffer(type="h100-sxm", max_purchase=0, rent_usd_per_hour=7.516)])]
PERIODS = [Period(name="day", hours=12), Period(name="night", hours=12)]


def scenario(name: str, serve_at: list, train_at: list, burst: bool) -> Scenario:
    service = Service(name="assistant", model="llama-3-8b", precisions=["fp16", "fp8"], rate={"day": 12, "night": 3},
                      requests=(1024, 256), slo={"ttft_p95_ms": 1500, "tpot_p95_ms": 60}, sites=serve_at)
    job = TrainingJob(name="finetune", gpu_hours=300, memory_gb=60, periods=["night"], sites=train_at,
                      burst_usd_per_gpu_hour=4.60 if burst else None)
    return Scenario(name=name, periods=PERIODS, sites=SITES, services=[service], training=[job])


CASES = [
    scenario("1 local serving + local inference", ["premises"], ["premises"], burst=False),
    scenario("2 training in the public cloud", ["premises"], ["cloud"], burst=True),
    scenario("3 local training and serving", ["premises"], ["premises"], burst=False),
    scenario("4 serving in the cloud, local data", ["cloud"], ["premises"], burst=False),
]


def run() -> list[dict]:
    rows = []
    for scn in CASES:
        p = gpuopt.plan(scn, threads=1)
        rows.append({"scenario": scn.name, "status": p.status, "usd_per_hour": p.cost_per_hour,
                     "fleet": p.fleet, "rentals": p.rentals, "training": p.model_dump()["training"], "why_not": p.infeasibility})
    return rows


def _runs(runs: list[dict]) -> str:
    return ", ".join(f"{r['gpus']}x {r['gpu']}@{r['site']}/{r['period']}" for r in runs)


def main() -> int:
    rows = run()
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    t = new_table("Seed 003 locality scenarios, planned")
    for col in ("scenario", "status", "$/hour", "serving and training"):
        t.add_column(col, justify="right" if col == "$/hour" else "left")
    for r in rows:
        gpus = ", ".join(f"{n}x {g}@{s}" for s, types in r["fleet"].items() for g, n in types.items() if n)
        rent = ", ".join(f"{g}@{s} {per}" for s, types in r["rentals"].items() for g, per in types.items())
        train = "; ".join(f"{j}: {_runs(v['runs'])} burst {v['burst_gpu_hours']:.0f} h" for j, v in r["training"].items())
        t.add_row(r["scenario"], r["status"], f"{r['usd_per_hour']:.2f}", "; ".join(x for x in (gpus, rent, train) if x))
    Console().print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
