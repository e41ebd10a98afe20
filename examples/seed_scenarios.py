"""Seed 002 ("LLM Inference Scenario Analysis"): its nine configurations, the seed's claimed memory,
generation speed and latency beside gpuopt's, with a one-line verdict each.

Reading of the seed: multi-GPU rows are tensor-parallel over the listed GPUs; "generation speed"
is tokens/s per user (1000 / TPOT); "latency" is time to first token for chatbots and end-to-end
time of the batch for summarization and classification. Requests fill the sequence length with a
prompt plus 256 (chatbot), 512 (summary) or 16 (classification) generated tokens. Engine: vLLM.

Run: python examples/seed_scenarios.py [--json]
"""

import json
import sys

from rich.console import Console

import gpuopt
from gpuopt.output.tables import new_table

OUTPUT = {"chatbot": 256, "summarize": 512, "classify": 16}

# (scenario, model, gpu, gpus, precision, batch, sequence length, seed GB/GPU, seed tok/s per user, seed latency s)
SEED_002 = [
    ("chatbot / budget", "llama-2-7b", "t4", 1, "int8", 2, 2048, 8.2, 12.3, 0.68),
    ("chatbot / recommended", "llama-2-7b", "a100-40gb", 1, "fp16", 4, 2048, 18.7, 24.1, 0.45),
    ("chatbot / high-end", "llama-2-13b", "a100-sxm-80gb", 1, "fp16", 8, 4096, 45.2, 18.6, 0.62),
    ("summarize / balanced", "llama-2-13b", "a100-sxm-80gb", 1, "fp16", 16, 8192, 68.4, 14.2, 3.2),
    ("summarize / multi-GPU", "llama-2-7b", "a100-40gb", 2, "fp16", 32, 8192, 31.6, 19.8, 2.8),
    ("summarize / premium", "mixtral-8x7b", "h100-sxm", 1, "fp16", 24, 16384, 52.1, 28.7, 2.1),
    ("classify / volume", "llama-2-7b", "a100-40gb", 4, "int8", 64, 512, 9.8, 156.0, 8.2),
    ("classify / balanced", "llama-2-13b", "a100-sxm-80gb", 2, "int8", 48, 1024, 18.9, 89.0, 12.4),
    ("classify / budget", "llama-2-7b", "t4", 8, "int4", 32, 512, 4.2, 67.0, 15.8),
]


def ratio(ours: float, theirs: float) -> str:
    r = ours / theirs
    return f"{r:.1f}x" if r >= 1 else f"1/{1 / r:.1f}"


def judge(r: gpuopt.EstimateReport, seed_gb: float, seed_speed: float, seed_latency_s: float, latency_s: float) -> str:
    fit = r.fit
    speed = 1000.0 / r.tpot_ms
    if fit.verdict == "no-fit":
        return (f"impossible as stated: needs {fit.total_bytes / 1e9:.0f} GB per GPU (seed {seed_gb}), "
                f"{fit.capacity_bytes / 1e9:.0f} GB usable; largest batch that fits is {fit.max_batch}")
    mem = "memory as claimed" if abs(fit.total_bytes / 1e9 / seed_gb - 1) <= 0.15 else \
        f"memory {fit.total_bytes / 1e9:.1f} GB, not {seed_gb}"
    return (f"{fit.verdict}; {mem}; speed {ratio(speed, seed_speed)} the seed's, "
            f"latency {ratio(latency_s, seed_latency_s)} the seed's")


def main() -> int:
    rows = []
    for scenario, model, gpu, n, precision, batch, seq, seed_gb, seed_speed, seed_latency in SEED_002:
        out_tokens = OUTPUT[scenario.split(" /")[0]]
        r = gpuopt.estimate(model, gpu, precision=precision, batch=batch, input_tokens=seq - out_tokens,
                            output_tokens=out_tokens, tp=n)
        latency_s = (r.ttft_ms if scenario.startswith("chatbot") else r.e2e_ms) / 1e3
        rows.append({
            "scenario": scenario, "config": f"{model} {precision}, {n}x {gpu}, batch {batch}, {seq} tokens",
            "seed_gb": seed_gb, "gb": round(r.fit.total_bytes / 1e9, 1), "verdict": r.fit.verdict,
            "seed_tok_s_per_user": seed_speed, "tok_s_per_user": round(1000.0 / r.tpot_ms, 1),
            "seed_latency_s": seed_latency, "latency_s": round(latency_s, 2),
            "judgement": judge(r, seed_gb, seed_speed, seed_latency, latency_s),
        })
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=2))
        return 0
    t = new_table("Seed 002: the seed's claims beside gpuopt (per GPU memory; tokens/s per user; latency s)")
    t.add_column("scenario")
    for col in ("GB seed/ours", "tok/s seed/ours", "latency seed/ours"):
        t.add_column(col, justify="right")
    t.add_column("verdict")
    for row in rows:
        t.add_row(f"{row['scenario']}\n[dim]{row['config']}[/]", f"{row['seed_gb']} / {row['gb']}",
                  f"{row['seed_tok_s_per_user']} / {row['tok_s_per_user']}",
                  f"{row['seed_latency_s']} / {row['latency_s']}", row["judgement"])
    Console().print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
