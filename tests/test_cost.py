import re
import pytest

from gpuopt import InvalidInputError
from gpuopt.cost import HOURS_PER_YEAR, price, tco


def test_seed_004_startup_roi_from_its_inputs():
    a = tco("rtx-4090", 3, capex_usd=1600, usd_per_kwh=0.12, cooling_usd_per_year=500, horizon_years=1)
    assert a.yearly_usd["power"] == pytest.approx(3 * 450 * 0.12 * 8760 / 1000)  # $1,419 ("$1,420")
    assert a.year1_usd == pytest.approx(6720, abs=1)
    b = tco("rtx-4090", 1, capex_usd=1600, usd_per_kwh=0.12, cooling_usd_per_year=167, licence_usd_per_gpu_year=2000,
            horizon_years=1)
    assert b.year1_usd == pytest.approx(4240, abs=1)
    assert a.year1_usd - b.year1_usd == pytest.approx(2480, abs=2)


def test_seed_000_three_year_comparison():
    a100 = tco("a100-sxm-80gb", 4, licence_usd_per_gpu_year=800_000 / 12, usd_per_kwh=0)
    l4 = tco("l4", 8, usd_per_kwh=0)
    assert a100.capex_usd == 300_000 and a100.total_usd == pytest.approx(1_100_000)
    assert l4.capex_usd == 120_000 and l4.total_usd == pytest.approx(120_000)


def test_amortised_hourly_and_token_costs():
    t = tco("h100-sxm", 2, capex_usd=120_000, amortization_years=4, usd_per_kwh=0.10, pue=1.4, load=0.6,
            tokens_per_s=10_000, requests_per_s=20)
    power = 2 * 700 * 0.6 * 1.4 * 0.10 * HOURS_PER_YEAR / 1000
    assert t.yearly_usd["power"] == pytest.approx(power)
    assert t.usd_per_year == pytest.approx(240_000 / 4 + power)
    assert t.usd_per_hour == pytest.approx(t.usd_per_year / HOURS_PER_YEAR)
    assert t.tokens_per_usd == pytest.approx(10_000 * 3600 * HOURS_PER_YEAR / t.usd_per_year)
    assert t.usd_per_million_tokens == pytest.approx(1e6 / t.tokens_per_usd)
    assert t.usd_per_request == pytest.approx(t.usd_per_year / (20 * 3600 * HOURS_PER_YEAR))


def test_cloud_rental_pays_for_hours_used():
    t = tco("a10g", 3, utilization=0.5)
    assert t.capex_usd == 0 and t.yearly_usd["power"] == 0
    assert t.yearly_usd["cloud"] == pytest.approx(3 * 1.01 * HOURS_PER_YEAR * 0.5)
    assert any("cloud price" in a for a in t.assumptions)


def test_catalog_prices_and_overrides():
    assert price("a100-sxm-80gb", "cloud_hour") == 3.67
    assert price("a100-sxm-80gb", "cloud_hour", source="seed document 001") == 4.50
    assert price("l40s", "cloud_hour") is None
    assert tco("l4", capex_usd=9_999, usd_per_kwh=0).capex_usd == 9_999


@pytest.mark.parametrize("kwargs,match", [
    ({"count": 0}, "count"), ({"capex_usd": -1}, "capex_usd"), ({"usd_per_kwh": float("nan")}, "usd_per_kwh"),
    ({"amortization_years": 0}, "amortization_years"), ({"utilization": 1.5}, "utilization"),
])
def test_bad_cost_inputs(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        tco("l4", **kwargs)


def test_gpu_without_any_price():
    with pytest.raises(InvalidInputError, match="no price for tpu-v5e"):
        tco("tpu-v5e")


@pytest.mark.parametrize("arg", ["capex_usd", "cloud_usd_per_hour", "power_w", "load", "pue", "usd_per_kwh",
                                 "licence_usd_per_gpu_year", "cooling_usd_per_year", "operations_usd_per_year",
                                 "tokens_per_s", "requests_per_s"])
@pytest.mark.parametrize("value", [-1.0, float("inf"), True])
def test_every_bad_number_is_refused_by_its_name(arg, value):
    with pytest.raises(InvalidInputError, match=rf"^{arg} must be a finite number >= 0"):
        tco("l4", **{"capex_usd": 5000, arg: value})


@pytest.mark.parametrize("kwargs,message", [
    ({"horizon_years": 0}, "horizon_years must be a finite number > 0 and <= 100, got 0"),
    ({"amortization_years": 0}, "amortization_years must be a finite number > 0 and <= 100, got 0"),
    ({"utilization": 0}, "utilization must be a finite number > 0 and <= 1, got 0"), ({"utilization": None}, "utilization"), ({"count": True}, "count must be a whole number"),
    ({"count": 1.5}, "count must be a whole number"), ({"other_usd_per_year": {"rack": -1}}, "other_usd_per_year['rack']"),
])
def test_bad_settings_name_themselves(kwargs, message):
    with pytest.raises(InvalidInputError) as e:
        tco("l4", capex_usd=5000, **kwargs)
    assert str(e.value).startswith(message)


def test_every_yearly_item_by_hand():
    t = tco("a100-40gb", 2, capex_usd=10_000, power_w=300, load=0.5, pue=1.5, usd_per_kwh=0.2,
            licence_usd_per_gpu_year=100, cooling_usd_per_year=50, operations_usd_per_year=70,
            other_usd_per_year={"rack": 30}, horizon_years=2, amortization_years=4)
    assert t.yearly_usd == pytest.approx({"power": 2 * 300 * 0.5 * 1.5 * 0.2 * 8.76, "cooling": 50, "licences": 200,
                                          "operations": 70, "cloud": 0.0, "rack": 30})
    running = sum(t.yearly_usd.values())
    assert t.usd_per_year == pytest.approx(20_000 / 4 + running)
    assert (t.capex_usd, t.year1_usd, t.total_usd) == pytest.approx((20_000, 20_000 + running, 20_000 + 2 * running))
    assert t.assumptions == ()   # every figure was given
    assert tco("a100-40gb", 1, capex_usd=1, usd_per_kwh=1, load=1).yearly_usd["power"] == pytest.approx(400 * 8.76)
    assert tco("a100-40gb", capex_usd=1).assumptions == ("power 400 W per GPU (TDP)",)


def test_a_gpu_without_a_tdp_draws_no_power_and_says_so():
    import gpuopt

    gpuopt.register_gpu({"id": "no-tdp-gpu", "memory_gb": 48, "mem_bw_gb_s": 960, "fp16_tflops": 180})
    t = tco("no-tdp-gpu", capex_usd=1000, usd_per_kwh=1.0)
    assert t.yearly_usd["power"] == 0.0 and t.assumptions == ("no TDP known for no-tdp-gpu: power 0",)


def test_power_and_amortisation_per_hour():
    from gpuopt.cost import amortised_per_hour, power_per_hour

    assert power_per_hour(700, 0.5, 1.4, 0.1) == pytest.approx(0.049)
    assert amortised_per_hour(26_280, 3) == pytest.approx(1.0)


def test_token_costs_count_only_the_busy_share_of_the_year():
    """At half use an owned GPU serves half the tokens for the same yearly cost."""
    full = tco("l4", capex_usd=8_000, tokens_per_s=1_000, requests_per_s=2)
    half = tco("l4", capex_usd=8_000, tokens_per_s=1_000, requests_per_s=2, utilization=0.5)
    busy_s = HOURS_PER_YEAR * 3600.0 * 0.5
    assert half.usd_per_year == pytest.approx(full.usd_per_year)
    assert half.tokens_per_s == 1_000
    assert half.tokens_per_usd == pytest.approx(1_000 * busy_s / half.usd_per_year)
    assert half.tokens_per_usd == pytest.approx(full.tokens_per_usd / 2)
    assert half.usd_per_million_tokens == pytest.approx(half.usd_per_year / (1_000 * busy_s) * 1e6)
    assert half.usd_per_request == pytest.approx(half.usd_per_year / (2 * busy_s))


def test_token_costs_of_nothing_served_or_nothing_spent_are_not_numbers():
    idle = tco("l4", capex_usd=8_000, tokens_per_s=0)
    assert idle.tokens_per_s == 0 and idle.tokens_per_usd == 0 and idle.usd_per_million_tokens is None
    free = tco("l4", capex_usd=0, usd_per_kwh=0, tokens_per_s=5)
    assert free.usd_per_year == 0 and free.tokens_per_usd is None and free.usd_per_million_tokens == 0


@pytest.mark.parametrize("kwargs,message", [
    ({"amortization_years": -1}, "amortization_years must be a finite number > 0"),
    ({"horizon_years": float("nan")}, "horizon_years must be a finite number > 0"),
    ({"utilization": -0.5}, "utilization must be a finite number > 0"),
    ({"requests_per_s": 5e-324, "utilization": 5e-324}, "these inputs make usd_per_request overflow"),
])
def test_bad_periods_and_use_name_themselves(kwargs, message):
    with pytest.raises(InvalidInputError, match=rf"^{re.escape(message)}"):
        tco("l4", capex_usd=5000, **kwargs)
