"""Plans that hold: capacities the simulator confirms, headroom and n+1, honest baselines, and
scenario checks (issue "Plans that hold")."""

import glob
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpuopt
from gpuopt import InvalidInputError
from gpuopt.planning import candidates as cand_mod
from gpuopt.planning.candidates import CONFIRMED_SHARE, candidates
from gpuopt.planning.planner import plan, solve_mip
from gpuopt.planning.scenario import GpuOffer, Period, Scenario, Service, Site, load_scenario, parse_scenario

EXAMPLES = ["examples/enterprise.yaml"] + sorted(glob.glob("examples/scenarios/*.yaml"))
SEEDS = (100, 101, 102)   # not the seeds the capacities were confirmed with (1, 2, 3)


def _meets(sv, cd, rate: float) -> bool:
    # a p95 over at least 4,000 requests (and 600 s): a p95 of a few dozen says little
    return all(gpuopt.simulate(sv.model, cd.slot, rate=rate, duration_s=max(600.0, 4000 / rate), requests=sv.requests,
                               slo=sv.slo, precision=cd.precision, tp=cd.tp, engine=sv.engine, seed=s).meets_slo
               for s in SEEDS)


@pytest.mark.parametrize("path", EXAMPLES)
def test_every_candidate_meets_its_slo_at_its_planned_rate_and_is_not_wasteful(path):
    scn = load_scenario(path)
    c = candidates(scn)
    checked = 0
    for k, cs in c.by_service.items():
        sv = scn.services[k]
        for cd in cs:
            assert _meets(sv, cd, cd.capacity_rps), (sv.name, cd.slot.id, cd.tp, cd.capacity_rps)
            # not wasteful: no rate 15 % above the planned one is confirmed (scripts/capacity_margin.py runs
            # this check for other seed triples)
            assert not _meets(sv, cd, cd.capacity_rps * 1.15), (sv.name, cd.slot.id, cd.tp, cd.capacity_rps)
            checked += 1
    assert checked >= 4


def test_the_closed_form_only_starts_the_search():
    # enterprise's summarise (6,000-token prompts) is overestimated by the closed form; simulation corrects it
    scn = load_scenario("examples/enterprise.yaml")
    raw = gpuopt.capacity_many("mistral-7b", ["l40s"], requests=(6000, 300), slo={"e2e_p95_ms": 30000},
                               precision="int8", simulated=True)
    assert 0 < raw["confirmed_rps"][0] < 0.9 * raw["capacity_rps"][0]
    summarise = next(cd for k, cs in candidates(scn).by_service.items() for cd in cs
                     if scn.services[k].name == "summarise" and cd.slot.id == "l40s" and cd.tp == 1)
    assert summarise.capacity_rps == pytest.approx(summarise.confirmed_rps * CONFIRMED_SHARE)


def test_the_main_job_holds_in_simulation_and_its_savings_use_its_capacities():
    scn = load_scenario("examples/enterprise.yaml")
    p = plan(scn, threads=1)
    assert p.status == "optimal" and p.verification
    for seed in (0, 1, 2):
        check = gpuopt.simulate_plan(p, scn, seed=seed)
        assert check.meets_slo, [(c.service, c.period) for c in check.failing]
    for name, b in p.baselines.items():
        if b.cost_per_hour is not None:
            assert b.cost_per_hour >= p.cost_per_hour * (1 - 1e-9), name
            assert b.savings == pytest.approx((b.cost_per_hour - p.cost_per_hour) / b.cost_per_hour, abs=1e-9)
        else:
            assert b.binding
    # the no-sharing baseline, recomputed by hand on the same (final) capacities
    ns = scn.model_copy(update={"sharing": "none"})
    again = solve_mip(ns, cand_mod.candidates(ns), time_limit_s=60, threads=1, seed=0, relative_gap=1e-4).solved
    assert p.baselines["no sharing"].cost_per_hour == pytest.approx(again.objective, rel=1e-4)


def _small(seed_rates, headroom, redundancy):
    return Scenario(
        name="small", periods=[Period(name="day", hours=12), Period(name="night", hours=12)], headroom=headroom,
        sites=[Site(name="dc", gpus=[GpuOffer(type="a100-sxm-80gb", owned=1, max_purchase=6), GpuOffer(type="l4")]),
               Site(name="cloud", kind="cloud", gpus=[GpuOffer(type="l4", max_purchase=0, rent_usd_per_hour=0.7)])],
        services=[Service(name="chat", model="llama-3-8b", rate={"day": seed_rates[0], "night": seed_rates[1]},
                          slo={"ttft_p95_ms": 1500, "tpot_p95_ms": 60}, redundancy=redundancy),
                  Service(name="docs", model="mistral-7b", rate=seed_rates[2], precisions=["fp16", "int8"],
                          requests=[[2048, 256, 1], [512, 128, 3]], slo={"e2e_p95_ms": 30000}, sites=["dc"])])


@settings(max_examples=6, deadline=None)
@given(st.tuples(st.floats(0.2, 12), st.floats(0.0, 4), st.floats(0.05, 2)), st.sampled_from([0.0, 0.2, 0.5]),
       st.sampled_from(["none", "n+1"]))
def test_random_small_plans_serve_demand_with_headroom_and_beat_every_baseline(rates, headroom, redundancy):
    scn = _small(rates, headroom, redundancy)
    p = plan(scn, threads=1, time_limit_s=30, verify=False)
    assert p.status == "optimal"
    confirmed = {(scn.services[k].name, cd.slot.id, cd.tp): cd.confirmed_rps
                 for k, cs in candidates(scn.model_copy(update={"headroom": 0.0})).by_service.items() for cd in cs}
    for sv in scn.services:
        for period in scn.periods:
            rows = p.replicas.get(sv.name, {}).get(period.name, [])
            full = [confirmed[(sv.name, r.slot, r.tp)] * CONFIRMED_SHARE for r in rows for _ in range(r.replicas)]
            rate = scn.rate(sv, period.name)
            # every replica carries at most (1 - headroom) of what it sustains
            assert sum(full) * (1 - headroom) >= rate * (1 - 1e-6)
            shown = next(c for c in p.bill.slo if (c.service, c.period) == (sv.name, period.name))
            assert (shown.headroom, shown.redundancy) == (headroom, sv.redundancy)   # what the report prints
            if sv.redundancy == "n+1":
                assert len(full) >= 2
                assert (sum(full) - max(full)) * (1 - headroom) >= rate * (1 - 1e-6)
    for name, b in p.baselines.items():
        if b.cost_per_hour is not None:
            assert b.cost_per_hour >= p.cost_per_hour * (1 - 1e-6), name
    # the simple ways to buy it, restricted here by hand (not by gpuopt.planning.baselines) and solved
    # to optimality: none is cheaper than the plan
    for simple in _simple_ways(scn):
        c = candidates(simple)
        if c.problems or any(not c.by_service.get(k) for k in range(len(simple.services))):
            continue
        r = solve_mip(simple, c, time_limit_s=30, threads=1, seed=0, relative_gap=1e-9).solved
        if r.status == "optimal":
            assert r.objective >= p.cost_per_hour * (1 - 1e-6), simple.name


def _simple_ways(scn: Scenario) -> list[Scenario]:
    """No sharing (whole GPUs), and each GPU type alone."""
    out = [scn.model_copy(update={"sharing": "none", "name": "no sharing"})]
    for t in sorted({o.type for s in scn.sites for o in s.gpus}):
        sites = [s.model_copy(update={"gpus": [o for o in s.gpus if o.type == t]}) for s in scn.sites
                 if any(o.type == t for o in s.gpus)]
        services = [sv.model_copy(update={"sites": [x for x in sv.sites if x in {s.name for s in sites}]})
                    if sv.sites else sv for sv in scn.services]
        if all(sv.sites is None or sv.sites for sv in services):
            out.append(scn.model_copy(update={"sites": sites, "services": services, "name": f"all on {t}"}))
    return out


def test_n_plus_one_costs_at_least_as_much_and_keeps_a_spare():
    scn = _small((8.0, 2.0, 0.5), 0.0, "none")
    base = plan(scn, threads=1, baselines=False, verify=False)
    n1 = plan(_small((8.0, 2.0, 0.5), 0.0, "n+1"), threads=1, baselines=False, verify=False)
    assert n1.cost_per_hour >= base.cost_per_hour - 1e-9
    for period in ("day", "night"):
        rows = n1.replicas["chat"][period]
        caps = [r.capacity_rps for r in rows for _ in range(r.replicas)]
        assert sum(caps) - max(caps) >= (8.0 if period == "day" else 2.0) * (1 - 1e-9)


def test_headroom_scales_every_capacity():
    scn = _small((4.0, 1.0, 0.5), 0.0, "none")
    free = {(cd.service, cd.slot.id, cd.tp): cd.capacity_rps for cs in candidates(scn).by_service.values() for cd in cs}
    tight = candidates(scn.model_copy(update={"headroom": 0.25}))
    for cs in tight.by_service.values():
        for cd in cs:
            assert cd.capacity_rps == pytest.approx(0.75 * free[(cd.service, cd.slot.id, cd.tp)])


def test_measured_scales_to_every_slot_of_that_gpu():
    def scn(measured):
        return Scenario(sites=[Site(name="dc", gpus=[GpuOffer(type="a100-sxm-80gb", owned=4)])],
                        services=[Service(name="chat", model="llama-3-8b", rate=1.0, measured=measured,
                                          slo={"ttft_p95_ms": 1500, "tpot_p95_ms": 60})])
    est = {(cd.slot.id, cd.tp): cd for cd in candidates(scn(None)).by_service[0]}
    got = {(cd.slot.id, cd.tp): cd for cd in candidates(scn({"a100-sxm-80gb": 3.0})).by_service[0]}
    whole = est[("a100-sxm-80gb", 1)].confirmed_rps
    assert got[("a100-sxm-80gb", 1)].capacity_rps == pytest.approx(3.0)
    for key, cd in got.items():
        assert cd.capacity_rps == pytest.approx(3.0 * est[key].confirmed_rps / whole), key
        assert cd.source.startswith("measured")
    mig = "a100-sxm-80gb/3g.40gb"
    one = {(cd.slot.id, cd.tp): cd for cd in candidates(scn({mig: 4.0})).by_service[0]}
    assert one[(mig, 1)].capacity_rps == pytest.approx(4.0)
    assert one[("a100-sxm-80gb", 1)].source == "simulated"


ONE_SITE = "sites: [{name: dc, gpus: [{type: l4, owned: 1, max_purchase: 0}]}]\n"


@pytest.mark.parametrize("text, key, fix", [
    ("headroom: 1.0\n" + ONE_SITE, "headroom", "1.0 must be < 1"),
    ("headroom: -0.1\n" + ONE_SITE, "headroom", "-0.1 must be >= 0"),
    (ONE_SITE + "services: [{name: a, model: llama-3-8b, rate: 1, headroom: 1.5}]\n", "services.0.headroom", "1.5 must be < 1"),
    (ONE_SITE + "services: [{name: a, model: llama-3-8b, rate: 1, redundancy: n+1}]\n", "services.0.redundancy",
     "allow another site"),
    ("periods: [{name: wd, hours: 12, days_per_week: 0}]\n" + ONE_SITE, "days_per_week", "0 must be > 0"),
    ("periods: [{name: a, hours: 16}, {name: b, hours: 12}]\n" + ONE_SITE, "periods", "shorten the periods"),
    (ONE_SITE + "services: [{name: a, model: llama-2-13b, rate: 1, requests: [8000, 400]}]\n", "services.0.requests",
     "beyond_context: true"),
])
def test_bad_scenarios_name_the_key_and_the_fix(text, key, fix):
    with pytest.raises(InvalidInputError) as e:
        parse_scenario(text, "s.yaml")
    assert key in str(e.value) and fix in str(e.value), str(e.value)


def test_weekly_periods_weigh_by_their_days():
    sites = [Site(name="cloud", kind="cloud", gpus=[GpuOffer(type="l4", max_purchase=0, rent_usd_per_hour=1.0)])]
    svc = Service(name="a", model="llama-3-8b", rate={"weekday": 4.0, "weekend": 0.1},
                  slo={"ttft_p95_ms": 1500, "tpot_p95_ms": 60}, min_replicas=0)
    scn = Scenario(periods=[Period(name="weekday", hours=24, days_per_week=5),
                            Period(name="weekend", hours=24, days_per_week=2)], sites=sites, services=[svc])
    p = plan(scn, threads=1, baselines=False, verify=False)
    rented = {per: n for per, n in p.rentals["cloud"]["l4"].items()}
    expected = (5 * rented.get("weekday", 0) + 2 * rented.get("weekend", 0)) / 7 * 1.0
    assert p.cost_breakdown["cloud"] == pytest.approx(expected)
    assert rented.get("weekday", 0) > rented.get("weekend", 0)


def test_a_request_beyond_the_trained_context_is_planned_only_when_asked_and_then_warned():
    text = ("sites: [{name: dc, gpus: [{type: a100-sxm-80gb, owned: 2}]}]\n"
            "services: [{name: a, model: llama-2-13b, rate: 0.1, requests: [8000, 400], beyond_context: true}]\n")
    p = plan(parse_scenario(text, "s.yaml"), threads=1, baselines=False, verify=False)
    assert any("trained context" in w for w in p.warnings)


def _day_night(usd_per_start: float) -> Scenario:
    """Rented L4s only, no sharing: 3 replicas by day, 1 by night (capacities from the closed form)."""
    base = Scenario(periods=[Period(name="day", hours=12), Period(name="night", hours=12)], sharing="none",
                    capacities="closed-form",
                    sites=[Site(name="cloud", kind="cloud", gpus=[GpuOffer(type="l4", max_purchase=0, rent_usd_per_hour=1.0)])],
                    services=[Service(name="chat", model="llama-3-8b", rate=1.0, tps=[1], precisions=["int8"],
                                      slo={"ttft_p95_ms": 1500, "tpot_p95_ms": 60})])
    cap = candidates(base).by_service[0][0].capacity_rps
    svc = base.services[0].model_copy(update={"rate": {"day": 2.5 * cap, "night": 0.5 * cap}})
    return base.model_copy(update={"services": [svc], "stability": gpuopt.Stability(usd_per_replica_start=usd_per_start)})


@pytest.mark.parametrize("usd, rented, stability", [
    (0.0, {"day": 3, "night": 1}, 0.0),
    # 2 starts a day at $6 = $0.50/hour, less than keeping 2 more L4s all night ($1/hour)
    (6.0, {"day": 3, "night": 1}, 0.5),
    # 2 starts at $24 = $2/hour: keeping 3 L4s all day ($1/hour more) is cheaper
    (24.0, {"day": 3, "night": 3}, 0.0),
])
def test_a_price_per_replica_start_keeps_replicas_where_moving_them_costs_more(usd, rented, stability):
    scn = _day_night(usd)
    p = plan(scn, threads=1, baselines=False, verify=False)
    assert p.status == "optimal"
    assert p.rentals["cloud"]["l4"] == rented
    assert p.cost_breakdown["stability"] == pytest.approx(stability)
    assert p.cost_per_hour == pytest.approx((rented["day"] + rented["night"]) / 2 + stability)
    assert p.changes["day"].replica_starts == rented["day"] - rented["night"]
    assert p.changes["night"].replica_starts == 0


def test_stability_is_charged_for_what_changes_and_never_makes_a_plan_cheaper():
    scn = load_scenario("examples/enterprise.yaml")
    free = plan(scn, threads=1, baselines=False, verify=False)
    st_ = gpuopt.Stability(usd_per_replica_start=3.0, usd_per_mig_repartition=20.0)
    p = plan(scn.model_copy(update={"stability": st_}), threads=1, baselines=False, verify=False)
    assert p.has_plan and p.cost_per_hour >= free.cost_per_hour * (1 - 1e-4) - 1e-6
    per_day = scn.transitions_per_day()
    expected = sum(f / scn.cycle_hours * (3.0 * p.changes[per.name].replica_starts
                                          + 20.0 * p.changes[per.name].mig_repartitions)
                   for f, per in zip(per_day, scn.periods))
    assert p.cost_breakdown["stability"] == pytest.approx(expected, abs=1e-6)
    # repartitions: a layout's count rising from the period before, summed
    for j, per in enumerate(scn.periods):
        prev = scn.periods[j - 1].name
        rises = 0
        for site, types in p.mig_layouts.items():
            for g, by in types.items():
                for name in set(by.get(per.name, {})) | set(by.get(prev, {})):
                    rises += max(by.get(per.name, {}).get(name, 0) - by.get(prev, {}).get(name, 0), 0)
        assert p.changes[per.name].mig_repartitions == rises


def test_the_decomposition_refuses_stability_and_auto_solves_it_whole():
    scn = _day_night(6.0)
    with pytest.raises(InvalidInputError, match="stability"):
        plan(scn, method="decompose", verify=False)
    assert plan(scn, method="auto", threads=1, baselines=False, verify=False).status == "optimal"


def test_verification_keeps_a_measured_capacity_and_says_it_misses():
    # a measured figure 3x what one L4 sustains: the simulator finds the SLO missed; the figure is the
    # user's, so it is kept (not tightened) and the plan says so
    def scn(measured):
        return Scenario(sites=[Site(name="cloud", kind="cloud", gpus=[GpuOffer(type="l4", max_purchase=0,
                                                                                 rent_usd_per_hour=1.0)])],
                        sharing="none",
                        services=[Service(name="chat", model="llama-3-8b", rate=2.0, precisions=["int8"], tps=[1],
                                          measured=measured, slo={"ttft_p95_ms": 1500, "tpot_p95_ms": 60})])
    sustained = candidates(scn(None)).by_service[0][0].confirmed_rps
    p = plan(scn({"l4": 3 * sustained}), threads=1, baselines=False)
    assert p.has_plan
    assert all(r.capacity_rps == pytest.approx(3 * sustained) for _, _, r in p.groups())
    assert p.capacity_factors == {}
    assert any("measured" in w for w in p.warnings), p.warnings
