"""The dive (gpuopt.planning.decompose.dive): the integer plan of a small decomposition over many
periods, from the coordinator's LP purchases rounded, each period solved exactly over its cheapest
candidates. Its plans must bill as planned, keep every rule, price as the whole model prices them,
and never cost less than the bound."""

import math

import pytest

import gpuopt
from gpuopt.planning.candidates import allowed_sites, candidates
from gpuopt.planning.decompose import benders, colgen, dive, improve
from gpuopt.planning.linear import LinearModel
from gpuopt.planning.model import PlanningModel, Solution
from gpuopt.planning.plans import extract
from tests.test_bill import check_bill, check_rules


def check_priced_as_the_whole_model(scn, cands, x, breakdown):
    """$/hour per cost item of plan `x` as the whole model prices it, its variables fixed to the
    plan's values: what `breakdown` must say."""
    fm = PlanningModel(scn, relax=False)
    fm.add_services(cands, allowed_sites)
    for item, value in fm.breakdown(improve.start_values(fm, x)).items():
        assert breakdown[item] == pytest.approx(value, rel=1e-9, abs=1e-9), item


@pytest.fixture(scope="module")
def dived():
    scn = gpuopt.synthetic_fleet(6, 4, 12, 2, seed=3)
    cands = candidates(scn)
    co = benders.coordinate(scn, colgen.blocks_of(scn, cands, allowed_sites), time_limit_s=60)
    inc = dive.dive(scn, co, deadline=math.inf, seed=0)
    return scn, cands, co, inc


def test_rounded_purchases_round_from_a_half_for_every_offer():
    scn = gpuopt.synthetic_fleet(2, 3, 2, 0, seed=1)
    keys = [(s.name, o.type) for s in scn.sites for o in s.gpus]
    out = dive.rounded_purchases(scn, {keys[0]: 2.49, keys[1]: 2.5, keys[2]: 1e-9})
    assert out[keys[0]] == 2 and out[keys[1]] == 3 and out[keys[2]] == 0
    assert set(out) == set(keys) and all(out[k] == 0 for k in keys[3:])


def test_each_service_is_offered_its_cheapest_candidates_and_those_the_lp_uses(dived):
    scn, cands, co, _ = dived
    p = co.coordinator.periods[0]
    few = dive.cheapest_candidates(co, [p])
    master = co.generations[p].master
    for b, (k, _) in enumerate(master.blocks.keys):
        offered = {id(c) for c in few.by_service[k]}
        assert 1 <= len(offered) <= len(cands.by_service[k])
        used = {id(master.blocks.items[k][i].cand) for v, counts in master.columns[b] if v.solution_value() > 1e-6
                for i in counts}
        assert used <= offered
    # fewer candidates than the whole model offers, or the dive would be the whole MIP
    assert sum(map(len, few.by_service.values())) < sum(map(len, cands.by_service.values()))


def test_a_dived_plan_bills_as_planned_keeps_every_rule_and_is_priced_as_the_whole_model_prices_it(dived):
    scn, cands, co, inc = dived
    assert inc is not None
    assert inc.cost >= co.bound * (1 - 1e-9)
    p = extract(scn, Solution(None, inc.x, inc.breakdown, co.bound, "dive"))
    check_priced_as_the_whole_model(scn, cands, inc.x, p["cost_breakdown"])
    planned = gpuopt.plan(scn, method="decompose", threads=1, time_limit_s=60, verify=False, baselines=False)
    check_bill(planned, scn)
    check_rules(planned, scn)
    assert planned.cost_per_hour <= inc.cost * (1 + 1e-9)   # the local search only lowers it
    assert planned.lower_bound_per_hour <= planned.cost_per_hour


def test_a_dive_past_its_deadline_gives_no_plan(dived):
    scn, _, co, _ = dived
    assert dive.dive(scn, co, deadline=0.0, seed=0) is None


def test_auto_decomposes_first_over_many_periods_and_keeps_a_valid_bound():
    scn = gpuopt.synthetic_fleet(4, 4, 12, 1, seed=2)
    p = gpuopt.plan(scn, time_limit_s=30, threads=1, verify=False, baselines=False)
    assert p.solver.startswith("Benders over per-period column generation")
    assert p.lower_bound_per_hour <= p.cost_per_hour
    check_bill(p, scn)
    check_rules(p, scn)


def test_auto_over_many_periods_leaves_infeasibility_to_the_mip_to_prove():
    """The decomposition goes first over many periods, but its integers choose among columns: only
    the whole MIP may call a scenario infeasible (here two owned GPUs, none to buy or rent, for
    fifty times the demand)."""
    scn = gpuopt.synthetic_fleet(3, 2, 12, 0, seed=1, demand=50)
    dc = scn.sites[0]
    no_gpus = dc.model_copy(update={"gpus": [o.model_copy(update={"owned": 1, "max_purchase": 0}) for o in dc.gpus]})
    scn = scn.model_copy(update={"sites": [no_gpus]})
    p = gpuopt.plan(scn, time_limit_s=30, threads=1, verify=False, baselines=False)
    assert p.status == "infeasible" and any("max_purchase" in r for r in p.infeasibility), p.infeasibility


def test_a_dive_that_must_buy_more_and_bursts_keeps_every_gpu_supplied_and_every_cost():
    """Purchases the LP did not make (here none at all) are bought by the periods that need them,
    the busiest first, and count for the later ones; the coordinator's cloud burst is billed."""
    from gpuopt.planning.model import gpus_in_use

    base = gpuopt.synthetic_fleet(6, 4, 12, 2, seed=3)
    scn = base.model_copy(update={
        "services": [sv.model_copy(update={"sites": ["dc"]}) for sv in base.services],
        "training": [j.model_copy(update={"burst_usd_per_gpu_hour": 0.05, "gpu_hours": 1e5}) for j in base.training]})
    cands = candidates(scn)
    co = benders.coordinate(scn, colgen.blocks_of(scn, cands, allowed_sites), time_limit_s=60)
    _, work, burst = co.point
    assert sum(burst.values()) > 0   # more work than the nights hold: the LP bursts some
    co.point = ({key: 0.0 for key in co.point[0]}, work, burst)
    inc = dive.dive(scn, co, deadline=math.inf, seed=0)
    assert sum(inc.x.buy.values()) > 0
    owned = {(s.name, o.type): o.owned for s in scn.sites for o in s.gpus}
    for (site, g, p), busy in gpus_in_use(inc.x).items():
        assert busy <= owned[(site, g)] + inc.x.buy[(site, g)] + inc.x.rent.get((site, g, p), 0) + 1e-9
    check_priced_as_the_whole_model(scn, cands, inc.x, inc.breakdown)


def test_windows_after_a_dive_are_offered_the_plans_own_candidates_and_never_make_it_dearer(dived):
    scn, cands, co, inc0 = dived
    inc = improve.Incumbent(inc0.x.__class__(**{k: dict(v) for k, v in vars(inc0.x).items()}), dict(inc0.breakdown))
    window = co.coordinator.periods[:2]
    offered = dive.offered(co, inc, window)
    for (k, _, _, _, p), (n, c) in inc.x.replicas.items():
        if p in window and n > 0.5:
            assert any(c is d for d in offered.by_service[k])
    asked = []

    def offer(periods):
        asked.append(list(periods))
        return dive.offered(co, inc, periods)

    offered_to = []
    real = improve.improve_window

    def window(scn_, cands_, *a, **k):
        offered_to.append(cands_)
        return real(scn_, cands_, *a, **k)

    start = inc.cost
    try:
        improve.improve_window = window
        improve.local_search(scn, cands, inc, deadline=math.inf, seed=0, relative_gap=1e-9, stop_below=co.bound,
                             offer=offer)
    finally:
        improve.improve_window = real
    assert asked and inc.cost <= start * (1 + 1e-12)
    # the small offer first, every candidate once a round of it saves nothing
    assert offered_to[0] is not cands and any(c is cands for c in offered_to)
    check_priced_as_the_whole_model(scn, cands, inc.x, inc.breakdown)


def test_auto_over_many_periods_never_takes_the_decompositions_infeasible_for_a_proof(monkeypatch):
    """The decomposition's integers choose among columns: its 'infeasible' hands over to the MIP,
    which plans this feasible scenario."""
    from gpuopt.planning import planner as P
    from gpuopt.planning.model import Variables
    from gpuopt.planning.solve import Solved

    nan = math.nan
    monkeypatch.setattr(P, "_decomposed", lambda scn, cands, **kw: Solution(
        Solved("infeasible", nan, nan, nan, nan, 0.0, "test"), Variables(), {}, nan, "test"))
    scn = gpuopt.synthetic_fleet(4, 4, 12, 1, seed=2)
    p = gpuopt.plan(scn, time_limit_s=30, threads=1, verify=False, baselines=False)
    assert p.has_plan and p.solver.startswith("SCIP")


def test_windows_and_dive_periods_are_limited_by_work_not_proof(dived, monkeypatch):
    """A window is a heuristic step (the bound is the coordination's): solved to WINDOW_GAP, or the
    plan's own gap where that is looser, within WINDOW_EFFORT; a dive's period within
    DIVE_EFFORT. Limits in work, not seconds: the same work on a busy machine. Checked where the
    settings reach the arrays' solve (LinearModel.solve), through PlanningModel.solve."""
    scn, cands, co, inc0 = dived
    seen, inside = [], []
    solve, real = LinearModel.solve, improve.improve_window

    def spy(self, **k):
        if inside:
            seen.append((k["relative_gap"], k.get("effort")))
        return solve(self, **k)

    def window(*a, **k):
        inside.append(1)
        try:
            return real(*a, **k)
        finally:
            inside.pop()

    monkeypatch.setattr(LinearModel, "solve", spy)
    monkeypatch.setattr(improve, "improve_window", window)
    for asked, expected in ((1e-9, improve.WINDOW_GAP), (0.05, 0.05)):
        seen.clear()
        inc = improve.Incumbent(inc0.x.__class__(**{k: dict(v) for k, v in vars(inc0.x).items()}), dict(inc0.breakdown))
        improve.local_search(scn, cands, inc, deadline=math.inf, seed=0, relative_gap=asked)
        assert seen and set(seen) == {(expected, improve.WINDOW_EFFORT)}
    inside.append(1)
    seen.clear()
    assert dive.dive(scn, co, deadline=math.inf, seed=0) is not None
    assert seen and {limit for _, limit in seen} == {dive.DIVE_EFFORT}
    assert improve.WINDOW_EFFORT.nodes == dive.DIVE_EFFORT.nodes == 500
