"""Writes rust/gpuopt-core/tests/data/reference_cases.txt: inputs and the answers of the plain-Python
reference (tests/reference.py, which shares no code with the Rust core) for memory fit, estimates,
max throughput, capacity under SLO, sweeps, GPU mixes, covers and the simulator, on catalog models,
GPUs and engines plus hand-made architectures (tied embeddings, attention bias, a sliding window,
experts). `cargo test -p gpuopt-core` checks the core against it (tests/reference_cases.rs), so
`cargo mutants` on gpuopt-core sees what the Python differential tests see.

    python scripts/core_fixtures.py            # rewrites the fixture
    python scripts/core_fixtures.py --check    # exits 1 if the fixture is not what the reference gives

The file is one array per line, `name v1 v2 ...`, floats as Python's repr (exact round trip).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gpuopt  # noqa: E402
from gpuopt.estimation.sweep import _slot_row as slot_row, expand_slots  # noqa: E402
from tests import reference  # noqa: E402

OUT = ROOT / "rust" / "gpuopt-core" / "tests" / "data" / "reference_cases.txt"
# Architectures the catalog lacks: tied embeddings with attention bias (Qwen-like), a sliding
# window over a short context, many small experts. Fields in MODEL_FIELDS order.
HAND_MADE = [
    [28, 3584, 28, 4, 128, 18944, 152064, 1, 1, 1, 32768, 0, 1],
    [32, 4096, 32, 8, 128, 14336, 32000, 0, 1, 1, 8192, 1024, 0],
    [24, 2048, 16, 16, 128, 1408, 102400, 1, 64, 6, 4096, 0, 0],
    [16, 4096, 32, 32, 128, 512, 32000, 0, 1, 1, 4096, 0, 0],   # an MLP narrower than attention
]
PARAM_KEYS = ("embedding", "lm_head", "attention", "attention_bias", "mlp", "mlp_active", "router", "norms", "total",
              "active")
COVER_NODE_LIMIT = 40
COMPUTE_POOR = [80e9, 20.0, 0.0, 3000.0, 0.0]   # a GPU row: memory bytes, fp16 and fp8 TFLOPS, GB/s, link GB/s
GPUS = ["h100-sxm", "a100-40gb", "l4", "t4", "mi300x", "rtx-4090", "inferentia2"]


def _tables():
    models = [list(m.row()) for m in gpuopt.catalog.models().values()] + HAND_MADE
    gpus = [list(gpuopt.gpu(g).row()) for g in GPUS]
    engines = [list(e.row()) for e in gpuopt.catalog.engines().values()]
    return models, gpus, engines


def _columns(rnd: random.Random, n: int, models, gpus, engines, size_name: str, sizes):
    return {
        "model": [rnd.randrange(len(models)) for _ in range(n)],
        "gpu": [rnd.randrange(len(gpus)) for _ in range(n)],
        "engine": [rnd.randrange(len(engines)) for _ in range(n)],
        "precision": [rnd.randrange(5) for _ in range(n)],
        "kv_precision": [rnd.choice([0, 0, 2, 3]) for _ in range(n)],
        "batch": [rnd.choice([1, 2, 7, 32, 64, 256, 1024]) for _ in range(n)],
        size_name: [rnd.choice(sizes) for _ in range(n)],
        "output": [rnd.choice([1, 16, 128, 700, 2048]) for _ in range(n)],
        "tp": [rnd.choice([1, 1, 2, 3, 4, 8]) for _ in range(n)],
    }


def _one_sequence_fits(models, gpus, engines, classes) -> list[tuple]:
    """(model, gpu, engine, precision, kv, tp, class, slo) where exactly one sequence of the class
    fits in memory, a few of them."""
    found = []
    archs = [reference.Arch.from_row(r) for r in models]
    for mi, a in enumerate(archs):
        for gi, g in enumerate(gpus):
            for prec in range(5):
                for ci, cl in enumerate(classes):
                    context = max(i + o for i, o, _ in cl)
                    f = reference.fit_one(a, float(g[0]), engines[0], reference.PRECISIONS[prec], "fp16", 1.0,
                                          float(context), 1.0)
                    if f[8] == 1:
                        found.append((mi, gi, 0, prec, 0, 1, ci, 0))
    return found[:6]


def cases() -> dict[str, list]:
    rnd = random.Random(20261202)
    models, gpus, engines = _tables()
    out: dict[str, list] = {"models": sum(models, []), "gpus": sum(gpus, []), "engines": sum(engines, [])}

    archs = [reference.Arch.from_row(r) for r in models]
    out["params.expected"] = [float(reference.params(a)[k]) for a in archs for k in PARAM_KEYS]
    out["params.kv_bytes_per_token"] = [reference.kv_bytes_per_token(a, kv) for a in archs for kv in ("fp16", "fp8")]
    out["params.tp_is_valid"] = [float(reference.tp_is_valid(a, float(tp))) for a in archs for tp in range(1, 17)]

    c = _columns(rnd, 400, models, gpus, engines, "context", [1, 128, 2048, 8192, 32768, 200000])
    out.update({f"fit.{k}": v for k, v in c.items() if k != "output"})
    rows = reference.fit_many(models, gpus, engines, *[c[k] for k in ("model", "gpu", "engine", "precision",
                                                                     "kv_precision", "batch", "context", "tp")])
    out["fit.expected"] = [float(x) for r in rows for x in r]

    for name, fn, n in (("estimate", reference.estimate_many, 400), ("max_throughput", reference.max_throughput_many, 120)):
        c = _columns(rnd, n, models, gpus, engines, "input", [1, 128, 512, 4096, 16000])
        out.update({f"{name}.{k}": v for k, v in c.items()})
        rows = fn(models, gpus, engines, *[c[k] for k in ("model", "gpu", "engine", "precision", "kv_precision",
                                                         "batch", "input", "output", "tp")])
        out[f"{name}.expected"] = [float(x) for r in rows for x in r]

    # one bucket; a p95 that is the larger bucket; one where it is the smaller (96 %); weights reaching
    # 95 % exactly; one output token (no decode steps); three buckets
    classes = [[(512.0, 128.0, 1.0)], [(256.0, 64.0, 3.0), (4000.0, 400.0, 1.0)], [(2048.0, 16.0, 1.0)],
               [(256.0, 64.0, 0.96), (4000.0, 400.0, 0.04)], [(512.0, 128.0, 19.0), (2048.0, 256.0, 1.0)],
               [(2048.0, 1.0, 1.0)], [(128.0, 32.0, 0.5), (1024.0, 128.0, 0.46), (8000.0, 512.0, 0.04)]]
    slos = [(1000.0, 50.0, math.inf), (math.inf, math.inf, 20000.0), (300.0, 20.0, 5000.0), (5.0, 1.0, 10.0)]
    out["capacity.class_offsets"] = [0]
    for cl in classes:
        out["capacity.class_offsets"].append(out["capacity.class_offsets"][-1] + len(cl))
    out["capacity.buckets"] = [x for cl in classes for b in cl for x in b]
    out["capacity.slos"] = [x for s in slos for x in s]
    n = 200
    c = _columns(rnd, n, models, gpus, engines, "input", [1])
    c["class"] = [rnd.randrange(len(classes)) for _ in range(n)]
    c["slo"] = [rnd.randrange(len(slos)) for _ in range(n)]
    keys = ("model", "gpu", "engine", "precision", "kv_precision", "tp", "class", "slo")
    for row in _one_sequence_fits(models, gpus, engines, classes):   # max_batch exactly 1: the NoFit edge
        for k, v in zip(keys, row):
            c[k].append(v)
    out.update({f"capacity.{k}": c[k] for k in keys})
    rows = reference.capacity_many(models, gpus, engines, classes, slos, *[c[k] for k in keys])
    out["capacity.expected"] = [float(x) for r in rows for x in r]

    slots = [slot_row(s, None) for s in expand_slots(["a100-sxm-80gb", "l4", "h100-sxm"], "all", 3)]
    out["sweep.slots"] = [float(x) for s in slots for x in s]
    axes = {"model": [0, 8], "slot": list(range(len(slots))), "engine": [0, 1], "precision": [0, 4],
            "kv_precision": [2], "tp": [1, 2], "batch": [1, 48], "input": [300, 6000], "output": [90]}
    out.update({f"sweep.{k}": v for k, v in axes.items()})
    rows = reference.sweep_grid(models, slots, engines, *axes.values())
    out["sweep.expected"] = [float(x) for r in rows for x in r]

    mix_cases = [([(0.7, 24e9, 10.0, 72.0), (3.67, 80e9, 60.0, 400.0), (1.01, 24e9, 14.0, 150.0)], 6, math.inf, 0.0, 0.0),
                 ([(0.7, 24e9, 10.0, 72.0), (3.67, 80e9, 60.0, 400.0), (1.01, 24e9, 14.0, 150.0)], 7, 12.0, 100e9, 50.0),
                 ([(2.0, 40e9, 25.0, 300.0), (2.0, 40e9, 30.0, 250.0)], 5, 9.0, 0.0, 70.0)]
    # unconstrained, larger: the walk's shortcuts over dominated runs and its last two types
    for n_types, max_gpus in ((5, 10), (4, 16), (2, 30), (6, 7)):
        types = [(round(rnd.uniform(0.3, 9.0), 2), rnd.choice([16e9, 24e9, 48e9, 80e9]), round(rnd.uniform(1.0, 90.0), 1),
                  float(rnd.randrange(70, 700))) for _ in range(n_types)]
        mix_cases.append((types, max_gpus, math.inf, 0.0, 0.0))
    for i, (types, max_gpus, budget, mem, tput) in enumerate(mix_cases):
        front, enumerated, feasible = reference.mix_front(types, max_gpus, budget, mem, tput)
        out[f"mixes{i}.types"] = [x for t in types for x in t]
        out[f"mixes{i}.limits"] = [float(max_gpus), budget, mem, tput]
        out[f"mixes{i}.expected_counts"] = [float(enumerated), float(feasible)]
        out[f"mixes{i}.expected_front"] = [float(x) for cost, tp, _ in front for x in (cost, tp)]

    blocks = [rnd.randrange(1, 7) for _ in range(60)]
    w = [round(rnd.uniform(0.1, 9.0), 3) for _ in range(sum(blocks))]
    a = [round(rnd.uniform(0.2, 40.0), 3) for _ in range(sum(blocks))]
    r = [round(rnd.uniform(0.0, 120.0), 2) for _ in blocks]
    m = [float(rnd.choice([0, 0, 1, 2])) for _ in blocks]
    offsets = [0]
    for b in blocks:
        offsets.append(offsets[-1] + b)
    cost, lower, counts = reference.cover_min_many(offsets, w, a, r, m, 100_000)
    out.update({"cover.offsets": offsets, "cover.w": w, "cover.a": a, "cover.r": r, "cover.m": m,
                "cover.expected_cost": cost, "cover.expected_lower": lower, "cover.expected_counts": counts})
    # larger blocks, ties in capacity and a node limit that stops most searches: the answers then
    # depend on the order of search and on every pruning rule
    blocks = [rnd.randrange(6, 15) for _ in range(30)]
    w = [float(rnd.randrange(1, 12)) for _ in range(sum(blocks))]
    a = [float(rnd.randrange(1, 9)) for _ in range(sum(blocks))]
    r = [float(rnd.randrange(20, 200)) for _ in blocks]
    m = [float(rnd.choice([0, 1, 3])) for _ in blocks]
    offsets = [0]
    for b in blocks:
        offsets.append(offsets[-1] + b)
    cost, lower, counts = reference.cover_min_many(offsets, w, a, r, m, COVER_NODE_LIMIT)
    out.update({"cover2.offsets": offsets, "cover2.w": w, "cover2.a": a, "cover2.r": r, "cover2.m": m,
                "cover2.expected_cost": cost, "cover2.expected_lower": lower, "cover2.expected_counts": counts})

    sizes = [(512.0, 128.0, 3.0), (2000.0, 50.0, 1.0)]
    # (model, gpu (0: h200), engine, precision, kv precision, tp, replicas, router, arrivals, max_batch,
    #  fixed_ms, seed)
    sims = [(0, 2, 0, 1, 0, 1, 2, "least-loaded", ("poisson", [2.0, 9.0], 20.0, 60.0), 64.0, 3.0, 7),
            # closed loop: staggered starts and a think time issue requests out of time order
            (7, 0, 0, 2, 0, 1, 1, "round-robin", ("closed", 7, 60, 0.35, 0.2), 16.0, 0.0, 11),
            (6, 0, 1, 1, 0, 1, 3, "least-loaded",
             ("trace", [0.0, 0.0, 0.3, 1.0, 1.1], [(100.0, 10.0), (3000.0, 200.0), (5.0, 1.0), (60.0, 60.0), (1.0, 400.0)]),
             2.0, 1.5, 3),
            (1, 0, 0, 0, 2, 2, 3, "least-loaded", ("poisson", [6.0], 1e9, 25.0), 24.0, 0.5, 5),
            # a GPU poor in compute (20 TFLOPS, 3 TB/s): decode steps are compute-bound
            (0, COMPUTE_POOR, 0, 0, 0, 1, 1, "round-robin", ("poisson", [3.0], 1e9, 30.0), 128.0, 0.0, 9)]
    for i, (mi, gi, ei, prec, kv, tp, replicas, router, arrivals, max_batch, fixed_ms, seed) in enumerate(sims):
        gpu_i = gi if isinstance(gi, list) else gpuopt.gpu("h200").row() if gi == 0 else gpus[gi]
        args = (models[mi], list(gpu_i), engines[ei], prec, kv, tp, replicas, router, arrivals, sizes, max_batch,
                fixed_ms, seed)
        res = reference.simulate(*args)
        p = f"sim{i}."
        out[p + "setup"] = [float(mi), float(prec), float(replicas), float(router == "least-loaded"), max_batch,
                            fixed_ms, float(seed), float(kv), float(tp)]
        out[p + "gpu"] = [float(x) for x in gpu_i]
        out[p + "engine"] = engines[ei]
        kind = arrivals[0]
        if kind == "poisson":
            out[p + "poisson"] = [arrivals[2], arrivals[3], *arrivals[1]]
        elif kind == "closed":
            out[p + "closed"] = [float(arrivals[1]), float(arrivals[2]), float(arrivals[3]), float(arrivals[4])]
        else:
            out[p + "trace_times"] = arrivals[1]
            out[p + "trace_sizes"] = [x for s in arrivals[2] for x in s]
        out[p + "sizes"] = [x for s in sizes for x in s]
        for k in ("arrival", "admitted", "first_token", "finish", "output_tokens", "busy_s", "queue_area", "queue_max"):
            out[p + k] = [float(x) for x in res[k]]
        out[p + "totals"] = [float(res["rejected"]), float(res["makespan_s"])]
    return out


def render(data: dict[str, list]) -> str:
    lines = ["# Generated by scripts/core_fixtures.py from tests/reference.py; do not edit."]
    lines += [" ".join([name, *(repr(float(v)) for v in values)]) for name, values in data.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the fixture instead of writing it")
    text = render(cases())
    if ap.parse_args().check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is not what tests/reference.py gives: run python scripts/core_fixtures.py", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(text) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
