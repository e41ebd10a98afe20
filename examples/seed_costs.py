"""The seeds' cost examples, reproduced from their own inputs with gpuopt.tco, plus tokens per
dollar for seed 001's GPU table from gpuopt's own throughput estimates.

- seed 004, startup ROI: 3x RTX 4090 ($6,720 in year 1) vs 1x RTX 4090 + fractional-GPU licence ($4,240)
- seed 004, enterprise cloud: 17x A100 ($438K/year) vs 6x A100 + Run:AI ($205K/year)
- seed 000, 3 years: 4x A100 + NVIDIA AI Enterprise ($1.1M) vs 8x L4 + vLLM ($120K hardware)
- seed 001: tokens/s, $/hour and tokens per dollar for LLaMA-7B on RTX 4090, A100 40/80GB, H100

Run: python examples/seed_costs.py [--json]
"""

import json
import sys

from rich.console import Console

import gpuopt
from gpuopt.cost import tco
from gpuopt.output.tables import new_table


def seed_cases() -> list[dict]:
    startup = dict(capex_usd=1600, usd_per_kwh=0.12, horizon_years=1)  # seed 004: 450 W, $0.12/kWh, 24x365
    cases = [
        ("seed 004: 3x RTX 4090, one pod per GPU", 6720, "year1_usd",
         tco("rtx-4090", 3, cooling_usd_per_year=500, **startup)),
        ("seed 004: 1x RTX 4090, three pods + Run:AI licence", 4240, "year1_usd",
         tco("rtx-4090", 1, cooling_usd_per_year=167, licence_usd_per_gpu_year=2000, **startup)),
        ("seed 004: 17x A100 cloud, no sharing", 438_000, "usd_per_year",
         tco("a100-sxm-80gb", 17, cloud_usd_per_hour=2.94)),
        ("seed 004: 6x A100 cloud + Run:AI Enterprise", 205_000, "usd_per_year",
         tco("a100-sxm-80gb", 6, cloud_usd_per_hour=2.94, other_usd_per_year={"run:ai enterprise": 50_000})),
        # seed 000 counts hardware and licences only: no power
        ("seed 000: 4x A100 80GB + NVIDIA AI Enterprise, 3 years", 1_100_000, "total_usd",
         tco("a100-sxm-80gb", 4, licence_usd_per_gpu_year=800_000 / (4 * 3), usd_per_kwh=0)),
        ("seed 000: 8x L4 + vLLM, 3 years (hardware)", 120_000, "total_usd", tco("l4", 8, usd_per_kwh=0)),
    ]
    return [{"case": name, "seed_usd": seed, "measure": measure, "gpuopt_usd": round(getattr(t, measure), 2),
             "agrees": abs(getattr(t, measure) / seed - 1) < 0.005, "assumptions": list(t.assumptions)}
            for name, seed, measure, t in cases]


# seed 001's GPU table: (gpu, seed tokens/s range, seed $/hour, seed "tokens/$/hour" range)
SEED_001 = [("rtx-4090", (150, 200), 0.50, (300, 400)), ("a100-40gb", (300, 400), 3.00, (100, 130)),
            ("a100-sxm-80gb", (400, 600), 4.50, (90, 130)), ("h100-sxm", (800, 1200), 8.00, (100, 150))]


def tokens_per_dollar() -> list[dict]:
    rows = []
    for gpu, seed_tps, usd_h, seed_metric in SEED_001:
        shape = dict(input_tokens=512, output_tokens=128)
        single = gpuopt.estimate("llama-2-7b", gpu, batch=1, **shape).output_tokens_per_s
        best = gpuopt.max_throughput("llama-2-7b", gpu, **shape).output_tokens_per_s
        t = tco(gpu, 1, cloud_usd_per_hour=usd_h, tokens_per_s=best)
        rows.append({"gpu": gpu, "usd_per_hour": usd_h, "seed_tokens_per_s": list(seed_tps),
                     "single_stream_tokens_per_s": round(single, 1), "max_batch_tokens_per_s": round(best),
                     "seed_tokens_per_s_per_usd_hour": list(seed_metric),
                     "tokens_per_s_per_usd_hour": round(best / usd_h, 1),
                     "tokens_per_usd": round(t.tokens_per_usd), "usd_per_million_tokens": round(t.usd_per_million_tokens, 3)})
    return rows


def main() -> int:
    cases, tpd = seed_cases(), tokens_per_dollar()
    if "--json" in sys.argv:
        print(json.dumps({"costs": cases, "tokens_per_dollar": tpd}, indent=2))
        return 0
    c = Console()
    t = new_table("The seeds' cost examples from their own inputs (gpuopt.tco)")
    for col in ("case", "seed $", "gpuopt $", "agrees"):
        t.add_column(col, justify="left" if col == "case" else "right")
    for r in cases:
        t.add_row(r["case"], f"{r['seed_usd']:,.0f}", f"{r['gpuopt_usd']:,.0f}", "yes" if r["agrees"] else "NO")
    c.print(t)
    t = new_table("Seed 001: LLaMA-7B fp16 (vLLM, 512 in / 128 out) tokens per dollar")
    for col in ("gpu", "$/h", "seed tok/s", "gpuopt tok/s 1 / max", "tok/s per $/h seed / ours", "tokens/$",
                "$/M tokens"):
        t.add_column(col, justify="left" if col == "gpu" else "right")
    for r in tpd:
        t.add_row(r["gpu"], f"{r['usd_per_hour']:.2f}", "-".join(map(str, r["seed_tokens_per_s"])),
                  f"{r['single_stream_tokens_per_s']:.0f} / {r['max_batch_tokens_per_s']:,}",
                  f"{'-'.join(map(str, r['seed_tokens_per_s_per_usd_hour']))} / {r['tokens_per_s_per_usd_hour']:,.0f}",
                  f"{r['tokens_per_usd']:,}", f"{r['usd_per_million_tokens']:.3f}")
    t.caption = ("seed 001 targets > 1,000 tokens/$; its 'tokens/$/hour' is tokens/s divided by $/hour. "
                 "gpuopt's tokens/$ use the max-batch throughput.")
    c.print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
