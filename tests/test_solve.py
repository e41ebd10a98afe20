"""The one way gpuopt uses OR-Tools (gpuopt.planning.solve): statuses, the LP bound, the gap, and
the settings it refuses - checked on models small enough to solve by hand."""

import math

import pytest

from gpuopt import InvalidInputError
from gpuopt.planning.solve import (MAX_THREADS, MAX_TIME_LIMIT_S, best_bound, check_limits, check_threads, found,
                                   gap_between, new_solver, solve)


def _tiny(integer: bool = True, rhs: float = 3.0):
    """min x subject to 2x >= rhs, 0 <= x <= 10: x = 2 as an integer (rhs 3), 1.5 relaxed."""
    s = new_solver("SCIP")
    x = s.IntVar(0, 10, "x") if integer else s.NumVar(0, 10, "x")
    row = s.Constraint(rhs, s.infinity(), "need")
    row.SetCoefficient(x, 2.0)
    s.Objective().SetCoefficient(x, 1.0)
    s.Objective().SetMinimization()
    return s


def test_an_integer_optimum_with_its_lp_bound():
    r = solve(_tiny())
    assert (r.status, r.objective, r.lp_bound, r.bound, r.gap) == ("optimal", 2.0, 1.5, 2.0, 0.0)
    assert 0 <= r.seconds < 60 and "SCIP" in r.solver and found(r.status)
    assert math.isnan(solve(_tiny(), lp_bound=False).lp_bound)


def test_an_infeasible_model_has_no_numbers():
    r = solve(_tiny(rhs=30.0))   # 2x >= 30 with x <= 10
    assert r.status == "infeasible" and not found(r.status)
    assert all(math.isnan(v) for v in (r.objective, r.bound, r.gap)) and r.lp_bound != r.lp_bound


def test_gap_and_bounds_by_hand():
    assert gap_between(10.0, 9.0) == pytest.approx(0.1)
    assert gap_between(10.0, 11.0) == 0.0          # a bound above the cost is no gap
    assert gap_between(0.0, -1.0) == 0.0           # a plan that costs nothing is proven
    assert gap_between(0.5, 0.25) == pytest.approx(0.5)
    assert best_bound(1.0, math.nan, 3.0) == 3.0 and best_bound(math.nan, 2.0) == 2.0
    assert math.isnan(best_bound(math.nan, math.nan)) and math.isnan(best_bound())


def test_settings_at_their_limits_are_accepted_and_past_them_refused():
    for ok in (0.5, 1.0, MAX_TIME_LIMIT_S):
        check_limits(ok, 1e-6)
    for bad in (0, -1, MAX_TIME_LIMIT_S * 1.01, math.nan, math.inf, "10"):
        with pytest.raises(InvalidInputError, match="time_limit_s must be seconds in"):
            check_limits(bad, 1e-6)
    for bad in (0, 1, 1.5, -0.1, math.nan):
        with pytest.raises(InvalidInputError, match=r"relative_gap must be in \(0, 1\)"):
            check_limits(10, bad)
    for ok in (None, 1, MAX_THREADS):
        check_threads(ok)
    for bad in (0, MAX_THREADS + 1, True, 2.0, "2"):
        with pytest.raises(InvalidInputError, match="threads must be a whole number from 1 to"):
            check_threads(bad)
