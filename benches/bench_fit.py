"""Memory-fit benchmarks and the speed gate: the vectorized Rust fit must be at least 55x the
plain-Python reference (tests/reference.py) per configuration, one core each, timed in one run
(1.12 M configurations in Rust, the first 100,000 in Python)."""

import numpy as np
import pytest

import gpuopt
from tests import reference
from benches.bench_sweep import BENCH_MODELS

GATE_RATIO = 55.0   # measured 96-99x on one core; a 2x slower kernel (48-50x) fails it
REFERENCE_ROWS = 100_000

# 8 models x 14 accelerators x 5 precisions x 25 batches x 20 contexts x 4 tp = 1,120,000 configurations
# the 14 accelerators the gates were set on: a fixed list, so adding one to the catalog keeps the sizes
BENCH_GPUS = ['h100-sxm', 'h100-pcie', 'h200', 'a100-sxm-80gb', 'a100-pcie-80gb', 'a100-40gb', 'l40s', 'l4', 't4', 'a10g', 'rtx-4090', 'mi300x', 'tpu-v5e', 'inferentia2']
AXES = dict(
    precisions=list(gpuopt.PRECISIONS),
    batches=list(range(1, 26)),
    contexts=[2**i for i in range(7, 17)] + [3000 * i for i in range(1, 11)],
    tps=[1, 2, 4, 8],
)


def _grid():
    return gpuopt.fit_grid(BENCH_MODELS, BENCH_GPUS, **AXES)


def _reference_inputs(grid):
    """The same configurations as the grid, as the plain lists the reference takes."""
    models = [gpuopt.model(m).row() for m in grid["model"].values]
    memory = [gpuopt.gpu(g).row() for g in grid["gpu"].values]
    engines = [gpuopt.engine(e).row() for e in grid["engine"].values]
    code = {p: i for i, p in enumerate(gpuopt.PRECISIONS)}
    prec = np.array([code[p] for p in grid["precision"].values])[grid["precision"].codes]
    kv = np.array([code[p] for p in grid["kv_precision"].values])[grid["kv_precision"].codes]
    cols = [grid["model"].codes, grid["gpu"].codes, grid["engine"].codes, prec, kv,
            grid["batch"], grid["context"], grid["tp"]]
    return models, memory, engines, [c.tolist() for c in cols]


@pytest.mark.parametrize("side", ["gpuopt", "reference"])
def test_fit_grid_speed_gate(gate, side):
    g = gate("fit", side)
    if side == "gpuopt":
        with gpuopt.threads(1):
            assert g.run(_grid, work=1_120_000).size == 1_120_000
    else:
        grid = _grid()
        models, memory, engines, cols = _reference_inputs(grid)
        ref = g.run(lambda: reference.fit_many(models, memory, engines, *(c[:REFERENCE_ROWS] for c in cols)),
                    work=REFERENCE_ROWS)
        # Same numbers, not only faster ones: spot-check every 97th configuration.
        idx = np.arange(0, REFERENCE_ROWS, 97)
        np.testing.assert_array_equal(grid["max_batch"][idx], [ref[i][8] for i in idx])
        np.testing.assert_array_equal(grid["total_bytes"][idx], [ref[i][4] for i in idx])
    ratio = g.ratio("gpuopt", "reference")
    assert ratio is None or ratio >= GATE_RATIO, f"Rust fit is only {ratio:.1f}x the Python reference (gate {GATE_RATIO}x)"


def test_bench_fit_grid_1m(benchmark):
    out = benchmark(_grid)
    assert out.size == 1_120_000


def test_bench_scalar_fit(benchmark):
    r = benchmark(gpuopt.fit, "llama-2-13b", "a100-sxm-80gb", batch=16, context=8192)
    assert r.verdict == "no-fit"
