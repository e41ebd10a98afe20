"""Sweep and mix benchmarks and their gates, each measured in one run against the plain-Python
reference of the same computation:
- the sweep evaluates >= 5 million configurations per second and >= 100x the reference's rate;
- all mixes of up to 16 GPUs over 10 types (5.3 million) enumerate and Pareto-filter in < 3 s
  and >= 100x the reference."""

import time

import numpy as np

import gpuopt
from gpuopt import _core
from tests import reference
from gpuopt.estimation.sweep import expand_slots, _slot_row, mixes, sweep

SWEEP_RATE_GATE = 5e6
RATIO_GATE = 100.0
MIX_SECONDS_GATE = 3.0

# the 14 accelerators the gates were set on: a fixed list, so adding one to the catalog keeps the sizes
BENCH_GPUS = ['h100-sxm', 'h100-pcie', 'h200', 'a100-sxm-80gb', 'a100-pcie-80gb', 'a100-40gb', 'l40s', 'l4', 't4', 'a10g', 'rtx-4090', 'mi300x', 'tpu-v5e', 'inferentia2']
AXES = dict(precisions=list(gpuopt.PRECISIONS), tps=[1, 2, 4, 8], batches=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
            input_tokens=[128, 512, 2048, 8192], output_tokens=[16, 128, 512, 1024], sharing="mig")
REFERENCE_ROWS = 60_000


def _sweep():
    return sweep(list(gpuopt.models()), BENCH_GPUS, **AXES)


def test_sweep_speed_gate(report_gate, best_of):
    rust_s, res = best_of(_sweep, 3)
    n = res.size
    rate = n / rust_s
    ms = [gpuopt.model(m).row() for m in gpuopt.models()]
    slots = [_slot_row(s, None) for s in expand_slots(BENCH_GPUS, "mig", 4)]
    es = [gpuopt.engine("vllm").row()]
    code = {p: i for i, p in enumerate(gpuopt.PRECISIONS)}
    axes = [list(range(len(ms))), list(range(len(slots))), [0], [code[p] for p in AXES["precisions"]], [0],
            AXES["tps"], AXES["batches"], AXES["input_tokens"], AXES["output_tokens"]]
    t = time.perf_counter()
    ref = reference.sweep_grid(ms, slots, es, *axes, limit=REFERENCE_ROWS)
    python_rate = len(ref) / (time.perf_counter() - t)
    got = np.stack([res[c][:REFERENCE_ROWS] for c in _core.SWEEP_COLUMNS], axis=1)
    np.testing.assert_array_equal(got, np.array(ref, dtype=float))  # same numbers, not only faster ones
    ratio = rate / python_rate
    report_gate("sweep_gate", configurations=n, rust_s=rust_s, rust_configs_per_s=rate,
                python_configs_per_s=python_rate, ratio=ratio)
    assert rate >= SWEEP_RATE_GATE, f"sweep ran {rate / 1e6:.2f} M configurations/s (gate 5 M/s)"
    assert ratio >= RATIO_GATE, f"sweep is only {ratio:.0f}x the Python reference (gate {RATIO_GATE:.0f}x)"


TEN_TYPES = ["h100-sxm", "h100-pcie", "h200", "a100-sxm-80gb", "a100-pcie-80gb", "a100-40gb", "l40s", "l4", "t4",
             "rtx-4090"]


def _mix_types():
    rng = np.random.default_rng(7)
    return [(float(p), float(m), float(t), float(w)) for p, m, t, w in
            zip(rng.uniform(0.3, 9, 10), rng.uniform(16e9, 141e9, 10), rng.uniform(100, 5000, 10),
                rng.uniform(70, 700, 10))]


def test_mixes_speed_gate(report_gate, best_of):
    types = _mix_types()
    rust_s, (counts, totals, enumerated, feasible) = best_of(
        lambda: _core.mix_front(types, 16, float("inf"), 0.0, 0.0), 3)
    assert enumerated == 5_311_734
    t = time.perf_counter()
    front, ref_enumerated, _ = reference.mix_front(types, 16)
    python_s = time.perf_counter() - t
    assert ref_enumerated == enumerated
    assert [(c, tp) for c, tp, _ in front] == [(row[0], row[2]) for row in totals.tolist()]
    # the public API over ten catalog GPUs, prices and throughputs resolved in Python
    api_s, front_api = best_of(lambda: mixes(TEN_TYPES, max_gpus=16, throughput={g: 1000.0 for g in TEN_TYPES},
                                              usd_per_hour={g: 1.0 + i for i, g in enumerate(TEN_TYPES)}), 1)
    assert front_api.enumerated == 5_311_734
    ratio = python_s / rust_s
    report_gate("mixes_gate", mixes=enumerated, front=len(front), rust_s=rust_s, api_s=api_s, python_s=python_s,
                ratio=ratio)
    assert api_s < MIX_SECONDS_GATE and rust_s < MIX_SECONDS_GATE
    assert ratio >= RATIO_GATE, f"mixes are only {ratio:.0f}x the Python reference (gate {RATIO_GATE:.0f}x)"


def test_bench_sweep(benchmark):
    assert benchmark(_sweep).size == 1_280_000


def test_bench_mixes(benchmark):
    types = _mix_types()
    assert benchmark(_core.mix_front, types, 16, float("inf"), 0.0, 0.0)[2] == 5_311_734
