"""scripts/small_fleet_gap.py as a user runs it (issue 19's evidence of where a small fleet's gap
lies): on the plan's purchases, each period no training job uses is solved as its column
generation LP and as its exact MIP, beside what the plan spends there. The LP is a relaxation of
that period's integer problem and the plan one of its solutions, so LP <= MIP optimum <= the
plan's, and the summary adds the periods up."""

import json
import subprocess
import sys

import pytest


def test_each_periods_lp_is_below_its_integer_optimum_and_that_below_the_plans_cost_there():
    out = subprocess.run([sys.executable, "scripts/small_fleet_gap.py", "4", "2", "--plan-seconds", "5",
                          "--period-seconds", "20"], capture_output=True, text=True, timeout=300, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    periods, summary = rows[:-1], rows[-1]
    # synthetic_fleet's training runs at night (before 07:00, after 22:00): 15 hours of the day are free of it
    assert [r["period"] for r in periods] == [f"h{h:02d}" for h in range(7, 22)]
    solved = [r for r in periods if r["status"] == "optimal"]
    assert len(solved) >= 10
    for r in solved:
        assert r["lp"] - 1e-6 * max(1.0, abs(r["lp"])) <= r["mip_bound"] <= r["plan"] + 1e-5, r
    assert any(r["mip_bound"] > r["lp"] + 1e-3 for r in solved)   # here the LP splits what the integers cannot
    lp, mip = sum(r["lp"] for r in periods), sum(r["mip_bound"] for r in periods)
    assert summary["periods_without_training_lp"] == pytest.approx(lp, abs=1e-3) and lp > 0
    assert summary["their_mip_bound"] == pytest.approx(mip, abs=1e-3)
    assert summary["integrality_the_bound_misses"] == pytest.approx(mip - lp, abs=1e-3)
    assert summary["share_of_plan"] == pytest.approx((mip - lp) / summary["plan"], abs=1e-3)
    assert summary["the_plan_there"] == pytest.approx(sum(r["plan"] for r in periods), abs=1e-3)
    assert summary["bound"] <= summary["plan"] + 1e-9
    # those periods' spending is part of the plan's cloud and licence items (and every cost is there)
    assert 0 < summary["the_plan_there"] <= summary["plan"] * (1 - 1e-9)
