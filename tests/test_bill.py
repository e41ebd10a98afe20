"""Every dollar of a plan, recomputed from the plan's own fields with the formulas of
docs/formulation.md written out by hand here, and the rules a plan must keep checked from outside
the model: a cost term dropped, a licence not charged, training on rented GPUs, a greedy baseline
that picks the dearest slot, a `measured` capacity ignored, or manifests that size deployments
below the busiest period each fail one of these tests."""

import math
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import gpuopt
from gpuopt.output.documents import markdown
from gpuopt.output.k8s import manifests
from gpuopt.planning.candidates import candidates
from gpuopt.planning.scenario import GpuOffer, Period, Scenario, Service, Site, TrainingJob

ROOT = Path(__file__).resolve().parents[1]
HOURS_PER_YEAR = 8760.0


def _capex(offer) -> float:
    if offer.capex_usd is not None:
        return offer.capex_usd
    return next(p.usd for p in gpuopt.prices() if p.id == offer.type and p.kind == "capex")


def bill(p, scn) -> dict[str, float]:
    """$/hour per item of plan `p`, from its fleet, purchases, rentals, time-sliced GPUs and
    training alone."""
    hours = {per.name: per.hours * per.days_per_week / 7 for per in scn.periods}   # average hours a day
    H = sum(hours.values())
    out = dict.fromkeys(("capex", "power+licences", "cloud", "sharing licences", "training burst", "stability"), 0.0)
    for site in scn.sites:
        for o in site.gpus:
            bought = p.purchases.get(site.name, {}).get(o.type, 0)
            owned = p.fleet.get(site.name, {}).get(o.type, 0)
            assert owned == o.owned + bought
            if bought:
                out["capex"] += bought * _capex(o) / (o.amortization_years * HOURS_PER_YEAR)
            watts = gpuopt.gpu(o.type).tdp_w or 0.0
            running = watts / 1000 * site.load * site.pue * site.usd_per_kwh + site.licence_usd_per_gpu_year / HOURS_PER_YEAR
            out["power+licences"] += owned * running
            for period, n in p.rentals.get(site.name, {}).get(o.type, {}).items():
                out["cloud"] += n * (o.rent_usd_per_hour + site.licence_usd_per_gpu_year / HOURS_PER_YEAR) * hours[period] / H
            for period, ways in p.time_sliced.get(site.name, {}).get(o.type, {}).items():
                out["sharing licences"] += sum(ways.values()) * site.sharing_licence_usd_per_gpu_year / HOURS_PER_YEAR \
                    * hours[period] / H
    for job in scn.training:
        if job.burst_usd_per_gpu_hour is not None:
            out["training burst"] += p.training[job.name].burst_gpu_hours * job.burst_usd_per_gpu_hour \
                / (job.deadline_days * 24.0)
    out["stability"] = _stability(p, scn, H)
    return out


def _stability(p, scn, H: float) -> float:
    """Replicas started and GPUs put into a MIG layout as each period begins, against the period
    listed before it (the cycle repeats), each priced once per day both periods occur."""
    st = scn.stability
    if st is None or len(scn.periods) < 2:
        return 0.0
    total = 0.0
    for j, per in enumerate(scn.periods):
        prev = scn.periods[j - 1]
        times_a_day = min(per.days_per_week, prev.days_per_week) / 7

        def count(name):
            c = {}
            for sv, periods in p.replicas.items():
                for r in periods.get(name, []):
                    c[(sv, r.site, r.slot, r.tp)] = c.get((sv, r.site, r.slot, r.tp), 0) + r.replicas
            return c
        now, before = count(per.name), count(prev.name)
        starts = sum(max(n - before.get(key, 0), 0) for key, n in now.items())
        parts = 0
        for site, types in p.mig_layouts.items():
            for by in types.values():
                a, b = by.get(per.name, {}), by.get(prev.name, {})
                parts += sum(max(n - b.get(layout, 0), 0) for layout, n in a.items())
        total += times_a_day / H * (st.usd_per_replica_start * starts + st.usd_per_mig_repartition * parts)
    return total


def check_bill(p, scn) -> None:
    assert p.has_plan, p.infeasibility
    mine = bill(p, scn)
    for item, value in mine.items():
        assert p.cost_breakdown[item] == pytest.approx(value, rel=1e-6, abs=1e-6), item
    assert p.cost_per_hour == pytest.approx(sum(mine.values()), rel=1e-6, abs=1e-6)
    check_buyers_bill(p, scn)


def check_buyers_bill(p, scn) -> None:
    """The report's bill: the upfront capex of what is bought, the cost while each period runs
    (weighed by the periods' hours: the cost per hour), and each period's cost split among the
    services, training jobs and idle GPUs without a cent lost."""
    b = p.bill
    hours = {per.name: per.hours * per.days_per_week / 7 for per in scn.periods}
    upfront = sum(n * _capex(o) for site in scn.sites for o in site.gpus
                  for n in [p.purchases.get(site.name, {}).get(o.type, 0)] if n)
    assert b.upfront_capex_usd == pytest.approx(upfront)
    assert sum(x.gpus for x in b.purchases) == sum(n for t in p.purchases.values() for n in t.values())
    assert sum(hours[q] * v for q, v in b.cost_per_period.items()) / sum(hours.values()) == \
        pytest.approx(p.cost_per_hour, rel=1e-6, abs=1e-6)
    for q, v in b.cost_per_period.items():
        assert sum(per.get(q, 0.0) for per in b.cost_per_service.values()) == pytest.approx(v, rel=1e-6, abs=1e-6)
        assert all(per.get(q, 0.0) >= -1e-9 for per in b.cost_per_service.values())
    served = {(c.service, c.period) for c in b.slo}
    assert served == {(sv, q) for sv, per in p.replicas.items() for q, rows in per.items() if rows}


def check_rules(p, scn) -> None:
    """Demand served, training only on GPUs owned after purchases, within every limit."""
    hours = {per.name: per.hours * per.days_per_week / 7 for per in scn.periods}   # average hours a day
    for sv in scn.services:
        for period in scn.periods:
            rows = p.replicas.get(sv.name, {}).get(period.name, [])
            assert sum(r.replicas * r.capacity_rps for r in rows) >= scn.rate(sv, period.name) * (1 - 1e-9)
    for site in scn.sites:
        for o in site.gpus:
            own = p.fleet[site.name][o.type]
            assert o.max_purchase is None or own - o.owned <= o.max_purchase
            for period in hours:
                on = {job.name: sum(r.gpus for r in p.training[job.name].runs
                                    if (r.site, r.gpu, r.period) == (site.name, o.type, period)) for job in scn.training}
                owned_only = sum(on[job.name] for job in scn.training if not job.rented_gpus)
                training = sum(on.values())
                assert owned_only <= own, "training runs on rented GPUs"
                rented = p.rentals.get(site.name, {}).get(o.type, {}).get(period, 0)
                assert o.max_rent is None or rented <= o.max_rent
                whole = sum(r.replicas * r.tp for _, per, r in p.groups() if r.kind == "gpu"
                            and (r.site, r.gpu, per) == (site.name, o.type, period))
                split = sum(p.mig_layouts.get(site.name, {}).get(o.type, {}).get(period, {}).values()) + \
                    sum(p.time_sliced.get(site.name, {}).get(o.type, {}).get(period, {}).values())
                assert whole + split + training <= own + rented
                used, avail = whole + split + training, own + rented
                assert p.utilization[site.name][o.type][period] == pytest.approx(used / avail if avail else 0.0)
    check_predicted_slo(p, scn)
    for job in scn.training:
        cycles = job.deadline_days * 24.0 / sum(hours.values())
        speed = {o.type: gpuopt.gpu(o.type).fp16_tflops / gpuopt.gpu(job.reference_gpu).fp16_tflops
                 for s in scn.sites for o in s.gpus}
        t = p.training[job.name]
        done = sum(r.gpus * hours[r.period] * cycles * speed[r.gpu] for r in t.runs)
        assert done + t.burst_gpu_hours >= job.gpu_hours * (1 - 1e-6)


def check_predicted_slo(p, scn) -> None:
    """Each service's predicted p95s are the worst of the candidates its replicas run as."""
    cands = candidates(scn)
    for k, sv in enumerate(scn.services):
        by_slot = {(c.slot.id, c.tp, c.precision): c for c in cands.by_service.get(k, [])}
        used = [by_slot[(r.slot, r.tp, r.precision)] for per in p.replicas.get(sv.name, {}).values() for r in per]
        for m in ("ttft_p95_ms", "tpot_p95_ms", "e2e_p95_ms"):
            assert p.predicted_slo[sv.name][m] == pytest.approx(max(getattr(c, m) for c in used)), (sv.name, m)


def check_baselines(p) -> None:
    """No baseline is cheaper than the plan, and its savings are its own cost less the plan's."""
    assert set(p.baselines) == {"no sharing", "best single GPU type", "greedy"}
    for name, b in p.baselines.items():
        if b.cost_per_hour is None:
            assert b.savings is None and b.savings_per_hour is None and b.note.endswith("infeasible for this scenario")
            continue
        assert b.cost_per_hour >= p.cost_per_hour * (1 - 1e-6), name
        assert b.savings_per_hour == pytest.approx(b.cost_per_hour - p.cost_per_hour, abs=1e-9)
        assert b.savings == pytest.approx(b.savings_per_hour / b.cost_per_hour if b.cost_per_hour else 0.0, abs=1e-12)
    assert p.baselines["no sharing"].note.startswith("whole GPUs only: one replica per GPU")
    assert p.baselines["greedy"].note.startswith("each service on its cheapest $/req/s slot")


EXAMPLES = [ROOT / "examples" / "enterprise.yaml", *sorted((ROOT / "examples" / "scenarios").glob("*.yaml"))]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_bills_as_planned_and_keeps_the_rules(path):
    scn = gpuopt.load_scenario(path)
    p = gpuopt.plan(scn, threads=1, baselines=False)
    check_bill(p, scn)
    check_rules(p, scn)


def _priced_scenario(pue: float, licence: float, sharing_licence: float, rate: float, rent: float,
                     weekly: bool = False, stability=None) -> Scenario:
    periods = [Period(name="peak", hours=6), Period(name="rest", hours=18)]
    if weekly:   # weekdays' peak and rest, and a quiet weekend, weighed by their days
        periods = [Period(name="peak", hours=10, days_per_week=5), Period(name="rest", hours=14, days_per_week=5),
                   Period(name="weekend", hours=24, days_per_week=2)]
    per = {"peak": rate, "rest": rate / 4, "weekend": rate / 8}
    return Scenario(
        name="priced", periods=periods, stability=stability,
        sites=[Site(name="dc", pue=pue, usd_per_kwh=0.2, load=0.5, licence_usd_per_gpu_year=licence,
                    sharing_licence_usd_per_gpu_year=sharing_licence,
                    gpus=[GpuOffer(type="l4", owned=1, max_purchase=3, capex_usd=9000, amortization_years=2.5),
                          GpuOffer(type="a100-sxm-80gb", max_purchase=1, capex_usd=20000)]),
               Site(name="cloud", kind="cloud", licence_usd_per_gpu_year=licence,
                    gpus=[GpuOffer(type="l4", max_purchase=0, rent_usd_per_hour=rent, max_rent=6)])],
        services=[Service(name="chat", model="llama-3-8b", rate={q.name: per[q.name] for q in periods},
                          slo={"ttft_p95_ms": 3000, "tpot_p95_ms": 80}),
                  Service(name="tiny", model="llama-3-8b", rate=0.05, slo={"e2e_p95_ms": 60000}, sites=["dc"])],
        training=[TrainingJob(name="ft", gpu_hours=60, periods=["rest"], sites=["dc"], memory_gb=20,
                              burst_usd_per_gpu_hour=3.0, deadline_days=7)])


@settings(max_examples=12, deadline=None)
@given(pue=st.sampled_from([1.0, 1.6]), licence=st.sampled_from([0.0, 2000.0]),
       sharing_licence=st.sampled_from([0.0, 300.0, 4000.0]), rate=st.sampled_from([0.5, 3.0, 9.0]),
       rent=st.sampled_from([0.4, 0.9]), weekly=st.booleans(),
       stability=st.sampled_from([None, gpuopt.Stability(usd_per_replica_start=2.0, usd_per_mig_repartition=15.0)]))
@example(pue=1.6, licence=2000.0, sharing_licence=300.0, rate=9.0, rent=0.4, weekly=True,
         stability=gpuopt.Stability(usd_per_replica_start=2.0, usd_per_mig_repartition=15.0))
def test_random_priced_fleets_bill_as_planned_and_no_baseline_is_cheaper(pue, licence, sharing_licence, rate, rent,
                                                                         weekly, stability):
    scn = _priced_scenario(pue, licence, sharing_licence, rate, rent, weekly, stability)
    p = gpuopt.plan(scn, threads=1)
    check_bill(p, scn)
    check_rules(p, scn)
    assert p.lower_bound_per_hour <= p.cost_per_hour * (1 + 1e-9)
    check_baselines(p)


def test_a_time_sliced_plan_pays_its_sharing_licence():
    scn = Scenario(name="sliced", sites=[Site(name="dc", sharing_licence_usd_per_gpu_year=876.0,
                                              gpus=[GpuOffer(type="mi300x", owned=1, max_purchase=0)])],
                   services=[Service(name=f"s{i}", model="llama-2-7b", rate=0.05, slo={"e2e_p95_ms": 60000})
                             for i in range(3)])
    p = gpuopt.plan(scn, threads=1, baselines=False)   # three services, one GPU without MIG: a 3-way share
    assert p.time_sliced == {"dc": {"mi300x": {"all": {"3-way": 1}}}}
    assert p.cost_breakdown["sharing licences"] == pytest.approx(0.1)   # $876 a year = $0.10 an hour
    check_bill(p, scn)


def test_training_never_runs_on_rented_gpus():
    scn = Scenario(name="rented", capacities="closed-form", sites=[Site(name="cloud", kind="cloud",
                                              gpus=[GpuOffer(type="a100-sxm-80gb", max_purchase=0, rent_usd_per_hour=2.0)])],
                   services=[Service(name="chat", model="llama-3-8b", rate=1.0)],
                   training=[TrainingJob(name="ft", gpu_hours=100)])
    p = gpuopt.plan(scn, threads=1, baselines=False)
    assert p.status == "infeasible" and any("training job 'ft'" in r for r in p.infeasibility)
    burst = scn.model_copy(update={"training": [TrainingJob(name="ft", gpu_hours=100, burst_usd_per_gpu_hour=3.0)]})
    p = gpuopt.plan(burst, threads=1, baselines=False)
    assert p.training["ft"].runs == [] and p.training["ft"].burst_gpu_hours == pytest.approx(100)
    check_bill(p, burst)


def test_greedy_baseline_is_each_services_cheapest_slot_per_request():
    scn = Scenario(name="greedy", sharing="none",
                   sites=[Site(name="cloud", kind="cloud", gpus=[
                       GpuOffer(type="l4", max_purchase=0, rent_usd_per_hour=0.8),
                       GpuOffer(type="h100-sxm", max_purchase=0, rent_usd_per_hour=4.0)])],
                   services=[Service(name="chat", model="llama-3-8b", rate=7.0, tps=[1], min_replicas=1,
                                     slo={"ttft_p95_ms": 2000, "tpot_p95_ms": 100})])
    cands = candidates(scn).by_service[0]
    price = {"l4": 0.8, "h100-sxm": 4.0}
    best = min(cands, key=lambda c: price[c.gpu] / c.capacity_rps)
    expected = max(math.ceil(7.0 / best.capacity_rps - 1e-9), 1) * price[best.gpu]
    dearest = max(cands, key=lambda c: price[c.gpu] / c.capacity_rps)
    assert dearest.gpu != best.gpu   # the test can tell the two apart
    p = gpuopt.plan(scn, threads=1)
    assert p.baselines["greedy"].cost_per_hour == pytest.approx(expected, rel=1e-9)


def test_a_measured_capacity_replaces_the_estimate():
    base = dict(name="measured", sharing="none", sites=[Site(name="dc", gpus=[GpuOffer(type="l40s", capex_usd=9000)])])
    scn = Scenario(**base, services=[Service(name="chat", model="llama-3-8b", rate=10.0, tps=[1],
                                             measured={"l40s": 2.5}, slo={"ttft_p95_ms": 5000})])
    p = gpuopt.plan(scn, threads=1, baselines=False)
    (row,) = p.replicas["chat"]["all"]
    assert (row.capacity_rps, row.replicas) == (2.5, 4)   # 10 req/s at the measured 2.5 req/s per replica
    assert p.fleet["dc"]["l40s"] == 4


def test_each_deployment_runs_the_plans_replicas_in_each_period(tmp_path):
    scn = gpuopt.load_scenario(ROOT / "examples" / "enterprise.yaml")
    p = gpuopt.plan(scn, threads=1, baselines=False)
    per_group: dict[tuple, dict[str, int]] = {}
    for sv, period, r in p.groups():
        key = (sv, r.site, r.slot, r.tp, r.precision)
        per_group.setdefault(key, dict.fromkeys((q.name for q in scn.periods), 0))[period] += r.replicas
    deployments = [o for o in manifests(p, scn) if o["kind"] == "Deployment"]
    assert len(deployments) == len(per_group)
    first = scn.periods[0].name
    annotated = sorted(d["metadata"]["annotations"]["gpuopt.io/replicas-per-period"] for d in deployments)
    assert annotated == sorted(", ".join(f"{q}={n}" for q, n in v.items()) for v in per_group.values())
    assert sorted(d["spec"]["replicas"] for d in deployments) == sorted(v[first] for v in per_group.values())
    assert any(min(v.values()) < max(v.values()) for v in per_group.values())   # the plan's load does vary


def test_simulated_tpot_is_per_decoded_token():
    # one request alone: its TPOT is its decode time over the tokens after the first
    est = gpuopt.estimate("llama-2-7b", "a100-40gb", batch=1, input_tokens=512, output_tokens=3)
    sim = gpuopt.simulate("llama-2-7b", "a100-40gb", trace=[(0.0, 512, 3)])
    assert sim.tpot_ms.p50 == pytest.approx(est.tpot_ms, rel=0.02)


def test_rented_gpus_pay_the_sites_licence_for_the_hours_rented():
    scn = Scenario(name="rent", periods=[Period(name="peak", hours=6), Period(name="rest", hours=18)], sharing="none",
                   sites=[Site(name="cloud", kind="cloud", licence_usd_per_gpu_year=8760.0,   # $1 per GPU-hour
                               gpus=[GpuOffer(type="l4", max_purchase=0, rent_usd_per_hour=0.5)])],
                   services=[Service(name="chat", model="llama-3-8b", tps=[1], rate={"peak": 3.0, "rest": 0.5},
                                     slo={"ttft_p95_ms": 3000, "tpot_p95_ms": 100})])
    p = gpuopt.plan(scn, threads=1, baselines=False)
    peak, rest = p.rentals["cloud"]["l4"]["peak"], p.rentals["cloud"]["l4"]["rest"]
    assert peak > rest >= 1
    assert p.cost_breakdown["cloud"] == pytest.approx((peak * 6 + rest * 18) / 24 * 1.5)
    check_bill(p, scn)


def test_training_uses_owned_gpus_and_never_rents_the_rest():
    # one owned A100 gives 720 reference GPU-hours in 30 days; the job needs 1,000 and may not
    # burst, and the site rents A100s by the hour: renting one for training would be a plan,
    # but training runs on owned GPUs only
    site = Site(name="dc", gpus=[GpuOffer(type="a100-sxm-80gb", owned=1, max_purchase=0, rent_usd_per_hour=2.0)])
    job = TrainingJob(name="ft", gpu_hours=1000)
    scn = Scenario(name="owned", sites=[site], services=[], training=[job])
    assert gpuopt.plan(scn, threads=1, baselines=False).status == "infeasible"
    # where GPUs may be bought, a night-only job buys one (capex all day) rather than renting one at night
    night = [Period(name="day", hours=16), Period(name="night", hours=8)]
    site = Site(name="dc", gpus=[GpuOffer(type="a100-sxm-80gb", capex_usd=15000, rent_usd_per_hour=0.5)])
    scn = Scenario(name="buys", periods=night, sites=[site], services=[],
                   training=[TrainingJob(name="ft", gpu_hours=200, periods=["night"])])
    p = gpuopt.plan(scn, threads=1, baselines=False)
    assert p.purchases == {"dc": {"a100-sxm-80gb": 1}} and not p.rentals
    assert [(r.gpus, r.period) for r in p.training["ft"].runs] == [(1, "night")]
    check_rules(p, scn)
    check_bill(p, scn)


def test_a_job_that_may_rent_trains_on_gpus_rented_by_the_hour():
    # the site owns nothing and may buy nothing: only with rented_gpus does the job find GPUs, 2 A100s
    # rented in its 8-hour night window (8 h x 30 days = 240 GPU-hours each; 400 needed), billed as cloud
    night = [Period(name="day", hours=16), Period(name="night", hours=8)]
    site = Site(name="cloud", kind="cloud", gpus=[GpuOffer(type="a100-sxm-80gb", max_purchase=0, rent_usd_per_hour=2.0)])
    job = TrainingJob(name="ft", gpu_hours=400, periods=["night"])
    scn = Scenario(name="rents", periods=night, sites=[site], services=[], training=[job])
    assert gpuopt.plan(scn, threads=1, baselines=False).status == "infeasible"
    scn = scn.model_copy(update={"training": [job.model_copy(update={"rented_gpus": True})]})
    p = gpuopt.plan(scn, threads=1, baselines=False)
    assert p.status == "optimal" and p.rentals == {"cloud": {"a100-sxm-80gb": {"night": 2}}}
    assert [(r.gpus, r.period) for r in p.training["ft"].runs] == [(2, "night")]
    assert p.cost_breakdown["cloud"] == pytest.approx(2 * 2.0 * 8 / 24)
    check_rules(p, scn)
    check_bill(p, scn)
    # the same job planned by the decomposition rents the same
    d = gpuopt.plan(scn, threads=1, baselines=False, method="decompose")
    assert d.cost_per_hour == pytest.approx(p.cost_per_hour, rel=1e-6)


def test_a_deployment_whose_load_varies_is_scaled_as_each_period_begins():
    scn = Scenario(name="varies", periods=[Period(name="day", hours=12, start="07:30"),
                                           Period(name="night", hours=12, start="19:30")], sharing="none",
                   sites=[Site(name="cloud", kind="cloud", gpus=[GpuOffer(type="l4", max_purchase=0, rent_usd_per_hour=0.8)])],
                   services=[Service(name="chat", model="llama-3-8b", tps=[1], rate={"day": 4.0, "night": 1.0},
                                     slo={"ttft_p95_ms": 3000, "tpot_p95_ms": 100})])
    p = gpuopt.plan(scn, threads=1, baselines=False)
    day, night = (p.replicas["chat"][q][0].replicas for q in ("day", "night"))
    assert day > night
    objs = manifests(p, scn)
    (d,) = [o for o in objs if o["kind"] == "Deployment"]
    assert d["spec"]["replicas"] == day
    assert d["metadata"]["annotations"]["gpuopt.io/replicas-per-period"] == f"day={day}, night={night}"
    for period, n, cron in (("day", day, "30 7 * * *"), ("night", night, "30 19 * * *")):
        (job,) = [o for o in objs if o["kind"] == "CronJob" and o["metadata"]["name"] == f"gpuopt-enter-{period}"]
        assert job["spec"]["schedule"] == cron
        pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        steps = [c["args"] for c in pod.get("initContainers", []) + pod["containers"]]
        assert ["scale", "-n", "gpuopt", f"--replicas={n}", f"deployment/{d['metadata']['name']}"] in steps


def test_the_best_single_type_baseline_names_its_type_or_says_none_serves_all():
    p = gpuopt.plan(_priced_scenario(1.4, 0.0, 0.0, 3.0, 0.9), threads=1)
    best = p.baselines["best single GPU type"]
    assert best.note in ("all on l4", "all on a100-sxm-80gb") and best.cost_per_hour >= p.cost_per_hour
    # two services whose data may not share a site, each site with one type: no single type serves both
    split = Scenario(name="split", capacities="closed-form", sites=[Site(name="a", gpus=[GpuOffer(type="l4", capex_usd=3000)]),
                                          Site(name="b", gpus=[GpuOffer(type="l40s", capex_usd=9000)])],
                     services=[Service(name="x", model="llama-3-8b", rate=0.5, sites=["a"]),
                               Service(name="y", model="llama-3-8b", rate=0.5, sites=["b"])])
    p = gpuopt.plan(split, threads=1)
    check_baselines(p)
    b = p.baselines["best single GPU type"]
    assert b.cost_per_hour is None and b.note == "no single type can serve everything - infeasible for this scenario"


def test_the_bill_names_each_price_and_where_it_comes_from():
    scn = _priced_scenario(1.6, 2000.0, 300.0, 9.0, 0.4)
    p = gpuopt.plan(scn, threads=1, baselines=False)
    src = {a.item: (a.value, a.source) for a in p.bill.assumptions}
    assert src["dc/l4: purchase price"] == (9000, "scenario: sites[0].gpus[0].capex_usd")
    assert src["dc/l4: amortisation"] == (2.5, "scenario: sites[0].gpus[0].amortization_years")
    assert src["dc/a100-sxm-80gb: amortisation"][1].startswith("gpuopt default")
    assert src["dc: PUE"] == (1.6, "scenario: sites[0].pue")
    assert src["cloud: PUE"] == (1.4, "gpuopt default (sites[1].pue)")
    assert src["cloud/l4: rent"] == (0.4, "scenario: sites[1].gpus[0].rent_usd_per_hour")
    assert src["l4: TDP"][0] == 72.0 and "datasheet" in src["l4: TDP"][1]
    assert src["training ft: cloud burst"][0] == 3.0
    default = _priced_scenario(1.0, 0.0, 0.0, 3.0, 0.4)
    bought = default.model_copy(update={"sites": [default.sites[0].model_copy(update={"gpus": [
        GpuOffer(type="l4", max_purchase=3), GpuOffer(type="a100-sxm-80gb", max_purchase=1)]})]})
    listed = {a.item: a for a in gpuopt.plan(bought, threads=1, baselines=False, verify=False).bill.assumptions}
    assert listed["dc/l4: purchase price"].value == 15000.0   # data/prices.csv
    assert listed["dc/l4: purchase price"].source.startswith("catalog data/prices.csv")
    text = markdown(p)
    for title in ("Buy now", "Prices and assumptions", "Cost per period and per service",
                  "SLO per service and period: target / predicted / simulated p95"):
        assert title in text
    assert "| dc | l4 |" in text or p.bill.purchases == []


def test_each_service_pays_for_the_share_of_a_gpu_it_occupies():
    from gpuopt.planning.bill import bill_of
    from gpuopt.planning.candidates import Candidates
    from gpuopt.planning.plans import Plan, ReplicaGroup
    scn = Scenario(sites=[Site(name="dc", usd_per_kwh=0.12, pue=1.4, load=0.7, sharing_licence_usd_per_gpu_year=876.0,
                               gpus=[GpuOffer(type="a100-sxm-80gb", owned=1, max_purchase=0),
                                     GpuOffer(type="l4", owned=1, max_purchase=0)])],
                   services=[Service(name=n, model="llama-3-8b", rate=0.1) for n in ("a", "b", "c")])

    def group(kind, gpu, slot, n, **kw):
        return ReplicaGroup(site="dc", gpu=gpu, slot=slot, tp=1, precision="fp16", replicas=n, capacity_rps=1.0,
                            kind=kind, **kw)
    p = Plan(scenario="s", status="optimal", cost_per_hour=0.0, lower_bound_per_hour=0.0, gap=0.0,
             fleet={"dc": {"a100-sxm-80gb": 1, "l4": 1}},
             replicas={"a": {"all": [group("mig", "a100-sxm-80gb", "a100-sxm-80gb/3g.40gb", 1, mig_profile="3g.40gb")]},
                       "b": {"all": [group("mig", "a100-sxm-80gb", "a100-sxm-80gb/4g.40gb", 1, mig_profile="4g.40gb")]},
                       "c": {"all": [group("fraction", "l4", "l4/3x", 2, fraction=3)]}},
             mig_layouts={"dc": {"a100-sxm-80gb": {"all": {"3g.40gb+4g.40gb": 1}}}},
             time_sliced={"dc": {"l4": {"all": {"3-way": 1}}}})
    b = bill_of(p, scn, Candidates())
    a100 = 400 / 1000 * 0.7 * 1.4 * 0.12       # $/hour of running an owned A100 (TDP 400 W)
    l4 = 72 / 1000 * 0.7 * 1.4 * 0.12          # an owned L4 (72 W)
    licence = 876.0 / HOURS_PER_YEAR           # its time-slicing licence, $/hour
    got = {who: per["all"] for who, per in b.cost_per_service.items()}
    assert got["a"] == pytest.approx(3 / 7 * a100)            # 3 of the A100's 7 compute slices
    assert got["b"] == pytest.approx(4 / 7 * a100)
    assert got["c"] == pytest.approx(2 / 3 * (l4 + licence))  # 2 of the L4's 3 shares, and of its licence
    assert got["idle"] == pytest.approx(1 / 3 * (l4 + licence))
    assert b.cost_per_period["all"] == pytest.approx(a100 + l4 + licence)
