"""Column generation's pricing and its speed gate: the Rust cheapest-cover branch and bound must be
at least 25x the plain-Python reference (tests/reference.py.cover_min_many) on the pricing problems
of a real synthetic fleet at list prices, both measured here."""

import time

import numpy as np

import gpuopt
from gpuopt.planning.decompose import colgen
from tests import reference
from gpuopt.planning.candidates import allowed_sites, candidates

GATE_RATIO = 25.0  # measured 47-56x on 2 noisy cores; most problems end at the dominance filter


def _pricing_problems():
    scn = gpuopt.synthetic_fleet(100, 8, 24, 2, seed=1)
    blocks = colgen.blocks_of(scn, candidates(scn), allowed_sites)
    master = colgen.Master(scn, blocks)
    offsets, w, a = master.pricing_input(colgen.list_prices(scn, master.row_list))
    return offsets, w, a, np.asarray(blocks.rate, dtype=float), np.asarray(blocks.least, dtype=float)


def test_pricing_speed_gate(report_gate, best_of):
    offsets, w, a, r, m = _pricing_problems()
    rust_s, out = best_of(lambda: gpuopt._core.cover_min_many(offsets, w, a, r, m, colgen.NODE_LIMIT), repeat=5)
    t = time.perf_counter()
    ref = reference.cover_min_many(offsets.tolist(), w.tolist(), a.tolist(), r.tolist(), m.tolist(), colgen.NODE_LIMIT)
    python_s = time.perf_counter() - t
    assert list(out[0]) == ref[0] and list(out[2]) == ref[2]  # the same covers, not only faster ones
    ratio = python_s / rust_s
    report_gate("cover_gate", blocks=len(r), items=len(w), rust_s=rust_s, python_s=python_s, ratio=ratio)
    assert ratio >= GATE_RATIO, f"Rust pricing is only {ratio:.1f}x the Python reference (gate {GATE_RATIO}x)"


def test_bench_pricing(benchmark):
    offsets, w, a, r, m = _pricing_problems()
    cost, _, _ = benchmark(gpuopt._core.cover_min_many, offsets, w, a, r, m, colgen.NODE_LIMIT)
    assert np.isfinite(cost).all()
