"""Column generation: its pricing (Rust vs the Python reference vs brute force) and its bound."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpuopt
from gpuopt import InvalidInputError, _core
from gpuopt.planning.decompose.benders import BOUND_TOL, REPAIR_GAP
from gpuopt.planning.candidates import candidates
from gpuopt.planning.planner import plan, solve_mip
from tests.reference import cover_min, cover_min_many

from .test_planner import rented_scenario

items = st.lists(st.tuples(st.floats(0, 10), st.floats(0.05, 20)), min_size=0, max_size=6)


def _brute(w, a, r, m):
    best, limit = math.inf, int(r / min(a)) + m + 2
    for x in itertools.product(range(limit), repeat=len(w)):
        if sum(x) >= m and sum(c * k for c, k in zip(x, a)) >= r - 1e-9 * max(1.0, r):
            best = min(best, sum(c * p for c, p in zip(x, w)))
    return best


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(items, st.floats(0, 40), st.integers(0, 4)), min_size=1, max_size=5),
       st.sampled_from([3, 50, 100_000]))
def test_rust_pricing_matches_reference(blocks, node_limit):
    offsets, w, a, r, m = [0], [], [], [], []
    for its, rate, least in blocks:
        w += [x for x, _ in its]
        a += [y for _, y in its]
        offsets.append(len(w))
        r.append(rate)
        m.append(float(least))
    rust = _core.cover_min_many(np.array(offsets, dtype=np.uint64), np.array(w, dtype=float), np.array(a, dtype=float),
                                np.array(r), np.array(m), node_limit)
    ref = cover_min_many(offsets, w, a, r, m, node_limit)
    assert list(rust[0]) == ref[0] and list(rust[1]) == ref[1] and list(rust[2]) == ref[2]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.1, 5), st.floats(0.5, 6)), min_size=1, max_size=3), st.floats(0, 20),
       st.integers(0, 3))
def test_pricing_is_exact(its, rate, least):
    w, a = [x for x, _ in its], [y for _, y in its]
    cost, lower, x = cover_min(w, a, rate, least)
    assert cost == pytest.approx(_brute(w, a, rate, least), rel=1e-9, abs=1e-12)
    assert lower == cost
    assert sum(x) >= least and sum(c * k for c, k in zip(x, a)) >= rate - 1e-9 * max(1.0, rate)
    assert sum(c * p for c, p in zip(x, w)) == pytest.approx(cost)


def test_pricing_rejects_bad_input():
    with pytest.raises(InvalidInputError, match="offsets"):
        _core.cover_min_many(np.array([0, 2], dtype=np.uint64), np.ones(1), np.ones(1), np.ones(1), np.ones(1), 10)
    with pytest.raises(InvalidInputError, match="capacity"):
        _core.cover_min_many(np.array([0, 1], dtype=np.uint64), np.ones(1), np.zeros(1), np.ones(1), np.ones(1), 10)


@settings(max_examples=12, deadline=None)
@given(st.floats(0.5, 30), st.integers(0, 3), st.sampled_from([("l4", "a10g"), ("l4", "l40s"), ("a10g", "h100-sxm")]))
def test_bound_of_one_rented_service_is_its_integer_optimum(rate, min_replicas, types):
    # one block priced by the hour: the convex hull of its integer covers has the integer optimum
    # at a vertex, so the column generation bound is exact where the plain LP's is not
    scn = rented_scenario(rate, min_replicas, types)
    mip = plan(scn, threads=1, baselines=False, method="mip", verify=False)   # the same capacities for both
    dec = plan(scn, threads=1, baselines=False, method="decompose", verify=False)
    # within each algorithm's own stopping rule: the coordination stops within BOUND_TOL of its
    # bound, the integer MIP over the columns at REPAIR_GAP
    assert mip.cost_per_hour * (1 - BOUND_TOL) <= dec.lower_bound_per_hour <= mip.cost_per_hour * (1 + 1e-9)
    assert mip.cost_per_hour * (1 - 1e-9) <= dec.cost_per_hour <= mip.cost_per_hour * (1 + REPAIR_GAP)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bound_is_valid_and_stronger_than_the_lp(seed):
    scn = gpuopt.synthetic_fleet(8, 3, 3, 1, seed=seed)
    mip = plan(scn, threads=1, baselines=False, method="mip", verify=False)   # the same capacities for both
    dec = plan(scn, threads=1, baselines=False, method="decompose", verify=False)
    assert mip.status == "optimal"
    assert dec.lower_bound_per_hour <= mip.cost_per_hour * (1 + 1e-6)     # a true bound...
    assert dec.cost_per_hour >= mip.cost_per_hour * (1 - 1e-6)            # ...and a true plan
    r = solve_mip(scn, candidates(scn), relax=True, time_limit_s=30, threads=1, seed=0, relative_gap=1e-6).solved
    assert dec.lower_bound_per_hour >= r.objective - 1e-6                     # at least the plain LP's
    assert sum(dec.cost_breakdown.values()) == pytest.approx(dec.cost_per_hour)
