"""Simulator benchmark and gate: at least 1 million simulated requests per second (100 output
tokens each) and at least 50x the plain-Python event loop of the same model, in the same run."""

import time

import gpuopt
from gpuopt import _core
from tests import reference

RATE_GATE = 1e6
RATIO_GATE = 50.0


def _args(total: int):
    # llama-3-8b fp8 on an H100 under closed-loop load deep enough to keep ~500 requests in flight
    return (list(gpuopt.model("llama-3-8b").row()), list(gpuopt.gpu("h100-sxm").row()),
            list(gpuopt.engine("vllm").row()), 2, 2, 1, 1, "least-loaded", ("closed", 512, total),
            [(200.0, 100.0, 1.0)], 512.0, 0.0, 1)


def test_simulator_speed_gate(report_gate, best_of):
    n = 300_000
    best, out = best_of(lambda: _core.simulate(*_args(n)))
    assert len(out["finish"]) == n and all(o == 100 for o in out["output_tokens"][:100])
    m = 20_000
    t = time.perf_counter()
    ref = reference.simulate(*_args(m))
    python_s = time.perf_counter() - t
    assert list(ref["finish"][:1000]) == list(_core.simulate(*_args(m))["finish"][:1000])
    rate, python_rate = n / best, m / python_s
    report_gate("simulate_gate", requests=n, rust_s=best, rust_requests_per_s=rate, python_requests_per_s=python_rate,
                ratio=rate / python_rate)
    assert rate >= RATE_GATE, f"simulated {rate / 1e6:.2f} M requests/s (gate 1 M/s)"
    assert rate / python_rate >= RATIO_GATE, f"only {rate / python_rate:.0f}x the Python event loop (gate 50x)"


def test_bench_simulate(benchmark):
    out = benchmark(_core.simulate, *_args(50_000))
    assert len(out["finish"]) == 50_000
