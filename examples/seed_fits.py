"""Memory fit of the nine configurations in seed 002 ("LLM Inference Scenario Analysis"), with the
seed's claimed memory beside gpuopt's itemised figure and a one-line verdict each.

Multi-GPU rows are read as tensor parallelism over the listed GPUs (figures are per GPU).
Run: python examples/seed_fits.py [--json]
"""

import json
import sys

from rich.console import Console

import gpuopt
from gpuopt.output.tables import new_table

# (scenario, model, gpu, gpus, precision, batch, context, seed's claimed GB per GPU)
SEED_002 = [
    ("chatbot / budget", "llama-2-7b", "t4", 1, "int8", 2, 2048, 8.2),
    ("chatbot / recommended", "llama-2-7b", "a100-40gb", 1, "fp16", 4, 2048, 18.7),
    ("chatbot / high-end", "llama-2-13b", "a100-sxm-80gb", 1, "fp16", 8, 4096, 45.2),
    ("summarize / balanced", "llama-2-13b", "a100-sxm-80gb", 1, "fp16", 16, 8192, 68.4),
    ("summarize / multi-GPU", "llama-2-7b", "a100-40gb", 2, "fp16", 32, 8192, 31.6),
    ("summarize / premium", "mixtral-8x7b", "h100-sxm", 1, "fp16", 24, 16384, 52.1),
    ("classify / volume", "llama-2-7b", "a100-40gb", 4, "int8", 64, 512, 9.8),
    ("classify / balanced", "llama-2-13b", "a100-sxm-80gb", 2, "int8", 48, 1024, 18.9),
    ("classify / budget", "llama-2-7b", "t4", 8, "int4", 32, 512, 4.2),
]


def judge(claimed_gb: float, r: gpuopt.FitReport) -> str:
    ours = r.total_bytes / 1e9
    if r.verdict == "no-fit":
        return (f"does not fit: needs {ours:.1f} GB per GPU (KV cache {r.kv_cache_bytes / 1e9:.1f} GB) of "
                f"{r.capacity_bytes / 1e9:.1f} GB usable; seed's {claimed_gb} GB is wrong; max batch {r.max_batch}")
    off = ours / claimed_gb - 1
    if abs(off) <= 0.15:
        return f"{r.verdict}; seed's {claimed_gb} GB agrees within {abs(off):.0%}"
    return f"{r.verdict}; seed's {claimed_gb} GB is {'under' if off > 0 else 'over'}stated ({ours:.1f} GB by gpuopt)"


def main() -> int:
    rows = []
    for scenario, model, gpu, n, precision, batch, context, claimed in SEED_002:
        r = gpuopt.fit(model, gpu, precision=precision, batch=batch, context=context, tp=n)
        rows.append({"scenario": scenario, "config": f"{model} {precision} on {n}x {gpu}, batch {batch}, ctx {context}",
                     "claimed_gb": claimed, "gpuopt_gb": round(r.total_bytes / 1e9, 2), "verdict": r.verdict,
                     "max_batch": r.max_batch, "judgement": judge(claimed, r)})
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=2))
        return 0
    t = new_table("Seed 002 scenarios: memory per GPU, seed vs gpuopt (vLLM reserve rule)")
    for col in ("scenario", "seed GB", "gpuopt GB", "judgement"):
        t.add_column(col, justify="right" if "GB" in col else "left")
    for row in rows:
        t.add_row(f"{row['scenario']}\n[dim]{row['config']}[/]", f"{row['claimed_gb']}", f"{row['gpuopt_gb']}",
                  row["judgement"])
    Console().print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
