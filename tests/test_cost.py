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
