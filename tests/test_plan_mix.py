import itertools
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuopt import InvalidInputError
from gpuopt.planning.melange import plan_mix

MELANGE = dict(gpu_costs={"A10G": 1.01, "A100-80GB": 3.67},
               capacities={"A10G": [[2, 1], [5, 2]], "A100-80GB": [[20, 20], [40, 20]]},
               distribution=[[0.2, 0.1], [0.5, 0.2]], total_rate=30)


def test_melange_published_example_slice_factor_1():
    p = plan_mix(**MELANGE, slice_factor=1)
    assert p.status == "optimal" and p.fleet == {"A10G": 3, "A100-80GB": 1}
    assert p.cost_per_hour == pytest.approx(6.70)
    assert p.lower_bound_per_hour == pytest.approx(6.70) and p.gap == pytest.approx(0, abs=1e-9)


def test_melange_published_example_slice_factor_8():
    p = plan_mix(**MELANGE, slice_factor=8)
    assert p.status == "optimal" and p.fleet == {"A10G": 2, "A100-80GB": 1}
    assert p.cost_per_hour == pytest.approx(5.69)
    for b in range(4):  # every bucket fully served, in eighths
        shares = [p.assignment[n][b] for n in p.fleet]
        assert sum(shares) == pytest.approx(1) and all(abs(s * 8 - round(s * 8)) < 1e-6 for s in shares)
    assert all(u <= 1 + 1e-9 for u in p.utilization.values())


def test_free_split_is_never_dearer():
    assert plan_mix(**MELANGE, slice_factor=None).cost_per_hour <= plan_mix(**MELANGE, slice_factor=8).cost_per_hour


def test_melange_scale_instance_solves_to_optimality_in_under_a_second():
    rng = np.random.default_rng(0)
    types = {"L4": 0.70, "A10G": 1.01, "A100": 3.67, "H100": 7.516}
    speed = {"L4": 1.0, "A10G": 1.5, "A100": 6.0, "H100": 12.0}
    sizes = np.geomspace(1, 30, 60)  # request-size buckets: bigger requests, lower capacity
    caps = {t: (speed[t] * 40 / sizes * rng.uniform(0.8, 1.2, 60)).reshape(6, 10).tolist() for t in types}
    dist = rng.dirichlet(np.ones(60)).reshape(6, 10).tolist()
    t = time.perf_counter()
    p = plan_mix(types, caps, dist, 200.0, slice_factor=8)
    wall = time.perf_counter() - t
    assert p.status == "optimal" and wall < 1.0, wall
    assert p.cost_per_hour >= p.lower_bound_per_hour - 1e-9


def _brute_force(costs, caps, rates):
    names = list(costs)
    best = math.inf
    for choice in itertools.product(range(len(names)), repeat=len(rates)):
        load = [0.0] * len(names)
        ok = True
        for b, t in enumerate(choice):
            if rates[b] == 0:
                continue
            c = caps[names[t]][b]
            if c <= 0:
                ok = False
                break
            load[t] += rates[b] / c
        if ok:
            best = min(best, sum(costs[n] * math.ceil(load[i] - 1e-9) for i, n in enumerate(names)))
    return best


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 3), st.integers(1, 5), st.data())
def test_plan_mix_matches_brute_force(n_types, n_buckets, data):
    costs = {f"g{i}": data.draw(st.floats(0.2, 10)) for i in range(n_types)}
    caps = {n: [data.draw(st.sampled_from([0.0, 1.0, 2.5, 7.0, 20.0])) for _ in range(n_buckets)] for n in costs}
    dist = [data.draw(st.floats(0.05, 1)) for _ in range(n_buckets)]
    if any(all(caps[n][b] == 0 for n in costs) for b in range(n_buckets)):
        with pytest.raises(InvalidInputError, match="no GPU type can serve"):
            plan_mix(costs, caps, dist, 10.0)
        return
    p = plan_mix(costs, caps, dist, 10.0, slice_factor=1)
    rates = [10.0 * d / sum(dist) for d in dist]
    assert p.status == "optimal"
    assert p.cost_per_hour == pytest.approx(_brute_force(costs, caps, rates), rel=1e-6)
    assert p.cost_per_hour >= p.lower_bound_per_hour - 1e-6


@pytest.mark.parametrize("kwargs,match", [
    ({"gpu_costs": {}}, "at least one"), ({"capacities": {"A10G": [[2, 1], [5, 2]]}}, "no capacities"),
    ({"distribution": [[0.2, 0.1]]}, "shape"), ({"total_rate": -1}, "total_rate"), ({"slice_factor": 0}, "slice_factor"),
    ({"gpu_costs": {"A10G": float("nan"), "A100-80GB": 3.67}}, "gpu_costs"),
])
def test_plan_mix_bad_inputs(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        plan_mix(**{**MELANGE, **kwargs})
