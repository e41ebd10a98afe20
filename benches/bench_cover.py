"""Column generation's pricing and its speed gate: the Rust cheapest-cover branch and bound must be
at least 25x the plain-Python reference (tests/reference.py.cover_min_many) on the pricing problems
of a real synthetic fleet at list prices, both timed in one run on one core."""

import numpy as np
import pytest

import gpuopt
from gpuopt.planning.decompose import colgen
from tests import reference
from gpuopt.planning.candidates import allowed_sites, candidates

GATE_RATIO = 25.0  # measured 35-36x on one core; a 2x slower kernel (17.5x) fails it


def _pricing_problems():
    scn = gpuopt.synthetic_fleet(100, 8, 24, 2, seed=1)
    blocks = colgen.blocks_of(scn, candidates(scn), allowed_sites)
    master = colgen.Master(scn, blocks)
    offsets, w, a = master.pricing_input(colgen.list_prices(scn, master.row_list))
    return offsets, w, a, np.asarray(blocks.rate, dtype=float), np.asarray(blocks.least, dtype=float)


@pytest.mark.parametrize("side", ["gpuopt", "reference"])
def test_pricing_speed_gate(gate, side):
    offsets, w, a, r, m = _pricing_problems()
    g = gate("cover", side)
    if side == "gpuopt":
        with gpuopt.threads(1):
            g.run(lambda: gpuopt._core.cover_min_many(offsets, w, a, r, m, colgen.NODE_LIMIT), work=len(r))
    else:
        ref = g.run(lambda: reference.cover_min_many(offsets.tolist(), w.tolist(), a.tolist(), r.tolist(), m.tolist(),
                                                     colgen.NODE_LIMIT), work=len(r))
        out = gpuopt._core.cover_min_many(offsets, w, a, r, m, colgen.NODE_LIMIT)
        assert list(out[0]) == ref[0] and list(out[2]) == ref[2]  # the same covers, not only faster ones
    ratio = g.ratio("gpuopt", "reference")
    assert ratio is None or ratio >= GATE_RATIO, f"Rust pricing is only {ratio:.1f}x the Python reference (gate {GATE_RATIO}x)"


def test_bench_pricing(benchmark):
    offsets, w, a, r, m = _pricing_problems()
    cost, _, _ = benchmark(gpuopt._core.cover_min_many, offsets, w, a, r, m, colgen.NODE_LIMIT)
    assert np.isfinite(cost).all()
