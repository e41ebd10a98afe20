"""The planning model's pieces (gpuopt.planning.model) checked against hand-computed figures:
GPU-hour prices, the GPUs a training job may use and the work it could reach, the rows and names
the model builds, and the supply a coordinator moves."""

import math
from collections import Counter

import pytest

from gpuopt.catalog import gpu as get_gpu
from gpuopt.cost import HOURS_PER_YEAR
from gpuopt.planning.candidates import allowed_sites, candidates
from gpuopt.planning.model import (DEMAND, GPU_SUPPLY, MIN_REPLICAS, TRAINING_OWNED, PlanningModel, job_offers,
                                   layout_name, list_price_per_hour, own_cost_per_hour, rent_cost_per_hour,
                                   training_reach)
from gpuopt.planning.scenario import GpuOffer, Period, Scenario, Service, Site, TrainingJob

SITE = Site(name="dc", gpus=[GpuOffer(type="l4")], usd_per_kwh=0.2, pue=1.5, load=0.5, licence_usd_per_gpu_year=876.0)


def _own(capex: float, years: float) -> tuple[float, float]:
    watts = get_gpu("l4").tdp_w
    return capex / (years * HOURS_PER_YEAR), watts * 0.5 * 1.5 * 0.2 / 1000 + 876.0 / HOURS_PER_YEAR


def test_owning_costs_amortised_capex_plus_power_and_licences():
    offer = GpuOffer(type="l4", capex_usd=8760.0, amortization_years=2.0)
    assert own_cost_per_hour(SITE, offer) == pytest.approx(_own(8760.0, 2.0))
    # a GPU that may not be bought has no capex to amortise; owned ones still draw power
    assert own_cost_per_hour(SITE, GpuOffer(type="l4", owned=2, max_purchase=0, capex_usd=8760.0))[0] == 0.0


def test_renting_costs_the_hour_plus_licences_and_nothing_where_not_rentable():
    assert rent_cost_per_hour(SITE, GpuOffer(type="l4", rent_usd_per_hour=0.8)) == pytest.approx(0.8 + 0.1)
    assert rent_cost_per_hour(SITE, GpuOffer(type="l4")) == math.inf


@pytest.mark.parametrize("offer,expected", [
    (GpuOffer(type="l4", capex_usd=87600.0, amortization_years=1.0, rent_usd_per_hour=0.8), 0.9),      # renting is cheaper
    (GpuOffer(type="l4", capex_usd=876.0, amortization_years=1.0, rent_usd_per_hour=50.0), "own"),     # owning is cheaper
    (GpuOffer(type="l4", max_purchase=0, capex_usd=876.0, rent_usd_per_hour=0.8), 0.9),               # may not buy: rent
    (GpuOffer(type="l4", max_purchase=0, owned=1, capex_usd=876.0, amortization_years=1.0), "running"),  # owned only
    (GpuOffer(type="l4", max_purchase=1, capex_usd=876.0, amortization_years=1.0), "own"),            # one may be bought
    (GpuOffer(type="l4", max_purchase=0), math.inf),                                                  # neither
])
def test_list_price_is_the_cheaper_of_owning_and_renting_where_each_is_allowed(offer, expected):
    amortised, running = own_cost_per_hour(SITE, offer)
    want = {"own": amortised + running, "running": running}.get(expected, expected)
    assert list_price_per_hour(SITE, offer) == pytest.approx(want)


def test_layout_names_join_profiles_with_plus():
    assert layout_name(("3g.40gb", "2g.20gb", "1g.10gb")) == "3g.40gb+2g.20gb+1g.10gb"


def _training_scenario(**job) -> Scenario:
    return Scenario(
        periods=[Period(name="day", hours=16), Period(name="night", hours=8)],
        sites=[Site(name="cloud", kind="cloud", gpus=[GpuOffer(type="h100-sxm", max_purchase=0, rent_usd_per_hour=7.5)]),
               Site(name="dc", gpus=[GpuOffer(type="t4", owned=4), GpuOffer(type="a100-sxm-80gb", owned=2, max_purchase=3),
                                      GpuOffer(type="h100-sxm", owned=1, max_purchase=0)])],
        training=[TrainingJob(name="ft", gpu_hours=100, **job)])


def test_a_job_runs_on_its_sites_and_on_gpus_with_enough_memory():
    scn = _training_scenario(sites=["dc"], memory_gb=40)
    assert [(s.name, o.type) for s, o in job_offers(scn, scn.training[0])] == [("dc", "a100-sxm-80gb"), ("dc", "h100-sxm")]
    scn = _training_scenario(memory_gb=16)   # a T4 has 16 GB (15.8e9 bytes would not be enough)
    offers = [(s.name, o.type) for s, o in job_offers(scn, scn.training[0])]
    assert ("dc", "t4") in offers and ("cloud", "h100-sxm") in offers
    scn = _training_scenario(memory_gb=get_gpu("t4").memory_bytes / 1e9 + 0.001)
    assert ("dc", "t4") not in [(s.name, o.type) for s, o in job_offers(scn, scn.training[0])]


def test_training_reach_sums_every_gpu_it_may_own_at_its_speed():
    scn = _training_scenario(sites=["dc"], memory_gb=40, deadline_days=2.0)
    job = scn.training[0]
    a100, h100 = get_gpu("a100-sxm-80gb").fp16_tflops, get_gpu("h100-sxm").fp16_tflops
    cycles = 2.0 * 24 / 24
    want = (2 + 3) * 8 * cycles * 1.0 + 1 * 8 * cycles * h100 / a100
    assert training_reach(scn, job, 8.0) == pytest.approx(want)
    unlimited = scn.model_copy(update={"sites": [s.model_copy(update={"gpus": [GpuOffer(type="a100-sxm-80gb", owned=1)]})
                                                 for s in scn.sites if s.name == "dc"]})
    assert training_reach(unlimited, job, 8.0) == math.inf


def _names(model: PlanningModel) -> list[str]:
    return model.m.row_names + model.m.var_names


def test_every_row_and_variable_has_its_own_name():
    scn = Scenario(periods=[Period(name="day", hours=12), Period(name="night", hours=12)],
                   sites=[Site(name="dc", gpus=[GpuOffer(type="a100-sxm-80gb", owned=1), GpuOffer(type="l4")])],
                   services=[Service(name="chat", model="llama-3-8b", rate={"day": 8, "night": 2}, min_replicas=2,
                                     slo={"ttft_p95_ms": 2000, "tpot_p95_ms": 80}),
                             Service(name="batch", model="mistral-7b", rate=1, min_replicas=0,
                                     slo={"e2e_p95_ms": 60000})],
                   training=[TrainingJob(name="ft", gpu_hours=10, periods=["night"])])
    model = PlanningModel(scn, relax=False)
    model.add_services(candidates(scn), allowed_sites)
    names = _names(model)
    assert len(names) == len(set(names)), [n for n, c in Counter(names).items() if c > 1][:5]
    rows = model.m.row_names
    assert [r for r in rows if r.startswith(DEMAND)] == ["demand[chat,day]", "demand[chat,night]",
                                                         "demand[batch,day]", "demand[batch,night]"]
    assert [r for r in rows if r.startswith(MIN_REPLICAS)] == ["min_replicas[chat,day]", "min_replicas[chat,night]"]
    assert "training_owned[dc,a100-sxm-80gb,night]" in rows and f"{GPU_SUPPLY}[dc,l4,day]" in rows
    assert not any(r.startswith(f"{TRAINING_OWNED}[dc,a100-sxm-80gb,day]") for r in rows)   # the job runs at night
    # a demand row's right-hand side is the service's rate in that period
    lb = dict(zip(rows, model.m.row_lb))
    assert (lb["demand[chat,day]"], lb["demand[chat,night]"], lb["min_replicas[chat,day]"]) == (8, 2, 2)


def test_the_supply_a_coordinator_moves():
    scn = _training_scenario(sites=["dc"], memory_gb=40)
    model = PlanningModel(scn, relax=True, lift_limits=False)
    model.build_solver()
    model.set_supply({("dc", "a100-sxm-80gb"): 2}, {0: 55.0})
    assert model.x.buy[("dc", "a100-sxm-80gb")].ub() == 1           # 3 may be bought, 2 are
    assert model.rows[(GPU_SUPPLY, "dc", "a100-sxm-80gb", "day")].ub() == 4   # 2 owned + 2 bought
    assert model.rows[(TRAINING_OWNED, "dc", "a100-sxm-80gb", "night")].ub() == 4
    assert model.work_rows[0].lb() == 55.0
    model.set_supply({}, {})
    assert model.work_rows[0].lb() == 0.0 and model.x.buy[("dc", "a100-sxm-80gb")].ub() == 3
    lifted = PlanningModel(scn, relax=True, lift_limits=True)
    lifted.build_solver()
    lifted.set_supply({("dc", "a100-sxm-80gb"): 2}, {})
    assert lifted.x.buy[("dc", "a100-sxm-80gb")].ub() >= 1e30


def test_mig_sharing_offers_mig_layouts_and_no_time_slices():
    scn = Scenario(sites=[Site(name="dc", gpus=[GpuOffer(type="a100-sxm-80gb")])], sharing="mig",
                   services=[Service(name="chat", model="llama-3-8b", rate=0.5, slo={"tpot_p95_ms": 100})])
    model = PlanningModel(scn, relax=False)
    groups = {name.split("[")[0] for name in model.m.var_names}
    assert "mig_layout" in groups and "time_sliced" not in groups
    assert len(model.x.mig_layout) == len(mig_layouts_of("a100-sxm-80gb"))
    none = PlanningModel(scn.model_copy(update={"sharing": "none"}), relax=False)
    assert not none.x.mig_layout and not none.x.time_sliced


def mig_layouts_of(gpu: str):
    from gpuopt.estimation.sharing import mig_layouts

    return mig_layouts(gpu, maximal=True)
