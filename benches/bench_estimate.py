"""Estimator benchmarks and the speed gate: the vectorized Rust estimate must be at least 50x the
plain-Python reference (tests/reference.py) on one million configurations, both measured here."""

import time

import numpy as np

import gpuopt
from tests import reference
from gpuopt.estimation.columns import Categorical, precision_codes, tables

GATE_RATIO = 50.0
N = 1_000_000


def _configs(n: int = N, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    models, gpus = list(gpuopt.models()), [g for g in gpuopt.gpus()]
    return dict(
        model=Categorical(models, rng.integers(0, len(models), n)),
        gpu=Categorical(gpus, rng.integers(0, len(gpus), n)),
        precision=Categorical(list(gpuopt.PRECISIONS), rng.integers(0, 5, n)),
        batch=rng.integers(1, 257, n), input_tokens=rng.integers(1, 8193, n), output_tokens=rng.integers(1, 1025, n),
        tp=rng.choice([1, 2, 4, 8], n),
    )


def _rust(cfg: dict):
    return gpuopt.estimate_many(**cfg)


def _reference(cfg: dict) -> list:
    ms = [gpuopt.model(m) for m in cfg["model"].values]
    gs = [gpuopt.gpu(g) for g in cfg["gpu"].values]
    # each GPU's build of vllm (vllm-rocm on AMD GPUs), as gpuopt picks it
    on = [gpuopt.catalog.engine_on(gpuopt.engine("vllm"), g) for g in gs]
    es = list({e.id: e for e in on}.values())
    engine_of_gpu = np.array([[e.id for e in es].index(e.id) for e in on], dtype=np.int64)
    m_rows, g_rows, e_rows = (t.tolist() for t in tables(ms, gs, es))
    n = len(cfg["batch"])
    cols = [cfg["model"].codes, cfg["gpu"].codes, engine_of_gpu[np.asarray(cfg["gpu"].codes)],
            precision_codes(cfg["precision"].values)[cfg["precision"].codes], np.zeros(n, dtype=np.int64),
            cfg["batch"], cfg["input_tokens"], cfg["output_tokens"], cfg["tp"]]
    lists = [c.tolist() for c in cols]
    t = time.perf_counter()
    out = reference.estimate_many(m_rows, g_rows, e_rows, *lists)
    return out, time.perf_counter() - t


def test_estimate_speed_gate(report_gate, best_of):
    cfg = _configs()
    rust_s, res = best_of(lambda: _rust(cfg))
    ref, python_s = _reference(cfg)
    idx = np.arange(0, N, 997)
    np.testing.assert_array_equal(res["tpot_ms"][idx], [ref[i][1] for i in idx])
    np.testing.assert_array_equal(res["ttft_ms"][idx], [ref[i][0] for i in idx])
    ratio = python_s / rust_s
    report_gate("estimate_gate", configurations=N, rust_s=rust_s, python_s=python_s, ratio=ratio,
                rust_configs_per_s=N / rust_s)
    assert ratio >= GATE_RATIO, f"Rust estimate is only {ratio:.1f}x the Python reference (gate {GATE_RATIO}x)"


def test_bench_estimate_many_100k(benchmark):
    cfg = _configs(100_000, seed=1)
    assert benchmark(_rust, cfg).size == 100_000


def test_bench_max_throughput(benchmark):
    r = benchmark(gpuopt.max_throughput, "llama-3-70b", "h100-sxm", precision="fp8", input_tokens=1000,
                  output_tokens=1000, tp=2, engine="trtllm")
    assert r.batch > 1
