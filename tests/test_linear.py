"""The planning model's array form (gpuopt.planning.linear): both ways out hold the same model and
give the same optimum, hand-computed here."""

import math

import numpy as np
import pytest

from gpuopt.planning.linear import Effort, LinearModel
from gpuopt.planning.solve import solve


def _knapsack_cover() -> LinearModel:
    """min 3a + 5b + 1 (offset), 2a + 3b >= 7, a, b integer >= 0, b <= 2: optimum a=2, b=1 (11 + 1);
    its LP relaxation b = 7/3 is cut by b <= 2, so a = 1.5, b = 2: 14.5 + 1, or a = 3.5: 10.5 + 1."""
    m = LinearModel()
    a = m.var(0, math.inf, True, "a[x]")
    b = m.var(0, 2, True, "b[y]")
    row = m.row(7, math.inf, "cover[1]")
    m.term(row, a, 1.0)
    m.terms([row], [a], [1.0])        # the second half of a's coefficient 2: terms add up
    m.term(row, b, 3.0)
    m.cost(a, 2.0)
    m.cost(np.array([a, b]), np.array([1.0, 5.0]))
    m.offset = 1.0
    return m


def test_arrays_sum_duplicate_terms_and_costs():
    m = _knapsack_cover()
    assert m.n_vars == 2 and m.n_rows == 1
    assert m.objective().tolist() == [3.0, 5.0]
    assert m.matrix().toarray().tolist() == [[2.0, 3.0]]


def test_bulk_solve_finds_the_hand_computed_optimum_and_bounds():
    r, x = _knapsack_cover().solve(time_limit_s=10, seed=0, relative_gap=1e-9)
    assert r.status == "optimal" and r.objective == pytest.approx(12.0)
    assert x.tolist() == pytest.approx([2.0, 1.0])
    assert r.lp_bound == pytest.approx(10.5 + 1.0) and r.lp_bound <= r.bound + 1e-9 <= r.objective + 1e-9
    assert r.gap == pytest.approx(0.0) and r.solver.startswith("SCIP")


def test_relaxed_solve_is_the_lp_optimum():
    r, x = _knapsack_cover().solve(time_limit_s=10, seed=0, relative_gap=1e-6, relax=True)
    assert r.status == "optimal" and r.objective == pytest.approx(11.5) and r.bound == r.objective
    assert 2 * x[0] + 3 * x[1] == pytest.approx(7.0)


def test_pywraplp_form_holds_the_same_model():
    m = _knapsack_cover()
    s, cols, rows = m.to_solver("SCIP")
    assert [c.name() for c in cols] == ["a[x]", "b[y]"] and rows[0].name() == "cover[1]"
    assert rows[0].GetCoefficient(cols[0]) == 2.0 and cols[1].ub() == 2 and cols[0].integer()
    r = solve(s, time_limit_s=10, relative_gap=1e-9)
    assert r.status == "optimal" and r.objective == pytest.approx(12.0)
    assert [c.solution_value() for c in cols] == pytest.approx([2.0, 1.0])


def test_the_bulk_model_carries_the_names():
    m = _knapsack_cover()
    lp = m._helper().export_to_lp_string()
    assert "a[x]" in lp and "b[y]" in lp and "cover[1]" in lp


def test_infeasible_model_says_so_with_nothing_to_read():
    m = LinearModel()
    v = m.var(0, 1, True, "v[0]")
    m.term(m.row(2, math.inf, "need[0]"), v, 1.0)
    r, x = m.solve(time_limit_s=10, seed=0, relative_gap=1e-6)
    assert r.status == "infeasible" and math.isnan(r.objective) and len(x) == 0


def test_without_the_lp_bound_only_the_solvers_bound_is_kept():
    r, _ = _knapsack_cover().solve(time_limit_s=10, seed=0, relative_gap=1e-9, lp_bound=False)
    assert r.status == "optimal" and math.isnan(r.lp_bound) and r.bound == pytest.approx(12.0)
    assert 0 <= r.seconds < 10
    relaxed, _ = _knapsack_cover().solve(time_limit_s=10, seed=0, relative_gap=1e-6, relax=True)
    assert math.isnan(relaxed.lp_bound) and relaxed.solver.startswith("Glop")


def _hard_cover(n: int = 40) -> LinearModel:
    """A set-cover-like MIP with many near-equal items: SCIP needs more than one node to prove it."""
    rng = np.random.default_rng(3)
    m = LinearModel()
    cols = m.vars(0, 3, True, [f"x[{i}]" for i in range(n)])
    m.cost(cols, rng.uniform(10, 11, n))
    for j in range(25):
        row = m.row(float(rng.integers(20, 60)), math.inf, f"need[{j}]")
        m.terms(row, cols, rng.integers(1, 9, n).astype(float))
    return m


def test_a_solve_stopped_by_its_work_limit_is_feasible_with_a_bound_below_it():
    from ortools.linear_solver.python import model_builder_helper as mbh

    from gpuopt.planning.linear import _run

    m = _hard_cover()
    helper = m._helper()
    m._mark_integers(helper)
    objective, bound, status, values = _run(mbh, helper, "scip", 60, "limits/nodes = 1\n")
    assert status == "feasible" and len(values) == m.n_vars and bound < objective


def test_a_node_limit_stops_scip_by_work_and_repeats():
    """Effort(nodes=n) is SCIP's limits/totalnodes: on a model that needs many nodes the solve stops
    short of its proof (feasible, a bound below it), and two solves give the same answer, whatever
    the machine's load (no clock in the limit)."""
    full, _ = _hard_cover().solve(time_limit_s=60, seed=0, relative_gap=1e-9, lp_bound=False)
    cut = [_hard_cover().solve(time_limit_s=60, seed=0, relative_gap=1e-9, lp_bound=False, effort=Effort(nodes=2))
           for _ in range(2)]
    assert full.status == "optimal"
    for r, values in cut:
        assert r.status == "feasible" and r.bound < r.objective and len(values) == 40
    assert cut[0][0].objective == cut[1][0].objective and np.array_equal(cut[0][1], cut[1][1])
    assert cut[0][0].objective >= full.objective - 1e-9


def test_effort_is_scips_node_limit_and_root_cut_rounds():
    assert Effort(nodes=500).scip_params() == "limits/totalnodes = 500\n"
    assert Effort(nodes=500, cut_rounds=3).scip_params() == ("limits/totalnodes = 500\n"
                                                             "separating/maxroundsroot = 3\n")
    # no cut round at the root: the root bound stays the LP's, below what SCIP's cuts give it
    m = _hard_cover()
    bare, _ = m.solve(time_limit_s=60, seed=0, relative_gap=1e-9, lp_bound=False, effort=Effort(nodes=1, cut_rounds=0))
    cut, _ = m.solve(time_limit_s=60, seed=0, relative_gap=1e-9, lp_bound=False, effort=Effort(nodes=1))
    assert bare.bound < cut.bound
