"""Total cost of ownership: capex amortised, power, cooling, licences, operations, cloud hours;
and what a token, a million tokens and a request cost.

Every price can be given; what is not given comes from the catalog (data/prices.csv) with its
source, and the result says which figures were defaults. Money is USD; running costs per year
unless named per hour.
"""

from __future__ import annotations

import math
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from gpuopt.catalog import GpuLike, Price, gpu as get_gpu, prices
from gpuopt.errors import InvalidInputError, number

HOURS_PER_YEAR = 8760.0
MAX_GPUS = 1_000_000  # GPUs of one kind: past any fleet (a count past it is a typo), far from overflowing a count


def catalog_price(gpu_id: str, kind: str, *, source: Optional[str] = None) -> Optional[Price]:
    """The catalog's row for a GPU's price of `kind` (cloud_hour or capex): the first listed, or the
    first whose source contains `source`; None when the catalog has none."""
    for p in prices():
        if p.id == gpu_id and p.kind == kind and (source is None or source.lower() in p.source.lower()):
            return p
    return None


def price_rows() -> list[dict]:
    """Every catalog price with whether it is the default one for its GPU and kind (the first
    listed); the others are alternatives, chosen with price(..., source=...) or an override."""
    seen: set[tuple[str, str]] = set()
    out = []
    for p in prices():
        default = (p.id, p.kind) not in seen
        seen.add((p.id, p.kind))
        out.append({**p.model_dump(), "default": default})
    return out


def price(gpu_id: str, kind: str, *, source: Optional[str] = None) -> Optional[float]:
    """The usd of catalog_price(gpu_id, kind, source=source); None when the catalog has none."""
    row = catalog_price(gpu_id, kind, source=source)
    return row.usd if row is not None else None


class TCO(BaseModel):
    """What `count` accelerators cost, itemised, over a horizon."""

    model_config = ConfigDict(frozen=True)
    gpu: str
    count: int
    horizon_years: float
    capex_usd: float = Field(description="purchase price of all the GPUs (0 when rented)")
    amortization_years: float
    yearly_usd: dict[str, float] = Field(description="running costs per year by item")
    usd_per_hour: float = Field(description="capex amortised + running costs, per hour of the year")
    usd_per_year: float = Field(description="capex amortised + running costs, per year")
    year1_usd: float = Field(description="cash in year 1: the whole capex plus a year of running costs")
    total_usd: float = Field(description="capex + running costs over the horizon")
    tokens_per_s: Optional[float] = None
    tokens_per_usd: Optional[float] = None
    usd_per_million_tokens: Optional[float] = None
    usd_per_request: Optional[float] = None
    assumptions: tuple[str, ...] = ()


def power_per_hour(watts: float, load: float, pue: float, usd_per_kwh: float) -> float:
    """$/hour of electricity for one GPU: watts x load (share of TDP drawn) x PUE x $/kWh."""
    return watts / 1000.0 * load * pue * usd_per_kwh


def amortised_per_hour(capex_usd: float, years: float) -> float:
    """$/hour of a purchase spread evenly over `years` of 8,760 hours."""
    return capex_usd / (years * HOURS_PER_YEAR)


def _non_negative(name: str, v: Optional[float]) -> Optional[float]:
    return number(name, v, hi=1e300, none=True)


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator; infinity where a denormal denominator rounds to 0 (not a
    ZeroDivisionError): _check_finite then names the figure."""
    return numerator / denominator if denominator > 0 else math.inf


def tco(gpu: GpuLike, count: int = 1, *, capex_usd: Optional[float] = None, cloud_usd_per_hour: Optional[float] = None,
        amortization_years: float = 3.0, horizon_years: float = 3.0, power_w: Optional[float] = None,
        load: float = 1.0, pue: float = 1.0, usd_per_kwh: float = 0.12, licence_usd_per_gpu_year: float = 0.0,
        cooling_usd_per_year: float = 0.0, operations_usd_per_year: float = 0.0,
        other_usd_per_year: Optional[dict[str, float]] = None, utilization: float = 1.0,
        tokens_per_s: Optional[float] = None, requests_per_s: Optional[float] = None) -> TCO:
    """Cost of `count` GPUs. Owned GPUs (capex_usd per GPU, default the catalog's price) are
    amortised over `amortization_years`; rented ones (cloud_usd_per_hour per GPU) cost their
    hours. Power = watts (default TDP) x load x PUE x $/kWh; cooling, operations and other items
    are yearly totals for the whole group; licences are per GPU-year. `tokens_per_s` /
    `requests_per_s` (of the whole group, at full use) give tokens per dollar and $ per request,
    scaled by `utilization` (the share of the year the group is busy)."""
    g = get_gpu(gpu)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_GPUS:
        raise InvalidInputError(f"count must be a whole number from 1 to {MAX_GPUS:,}, got {count!r}")
    for name, v in (("amortization_years", amortization_years), ("horizon_years", horizon_years)):
        number(name, v, above=True, hi=100)
    number("utilization", utilization, above=True, hi=1)
    assumptions = []
    capex = _non_negative("capex_usd", capex_usd)
    cloud = _non_negative("cloud_usd_per_hour", cloud_usd_per_hour)
    if capex is None and cloud is None:
        capex = price(g.id, "capex")
        if capex is None:
            cloud = price(g.id, "cloud_hour")
            if cloud is None:
                raise InvalidInputError(f"the catalog has no price for {g.id}: give capex_usd or cloud_usd_per_hour")
            assumptions.append(f"cloud price ${cloud}/h per GPU from the catalog")
        else:
            assumptions.append(f"capex ${capex:,.0f} per GPU from the catalog")
    watts = _non_negative("power_w", power_w)
    if watts is None:
        watts = g.tdp_w or 0.0
        assumptions.append(f"power {watts:.0f} W per GPU (TDP)" if g.tdp_w else f"no TDP known for {g.id}: power 0")
    for name, v in (("load", load), ("pue", pue), ("usd_per_kwh", usd_per_kwh),
                    ("licence_usd_per_gpu_year", licence_usd_per_gpu_year),
                    ("cooling_usd_per_year", cooling_usd_per_year), ("operations_usd_per_year", operations_usd_per_year)):
        number(name, v, hi=1e300)
    if other_usd_per_year is not None and not isinstance(other_usd_per_year, dict):
        raise InvalidInputError(f"other_usd_per_year must be a mapping of item -> $/year, got {other_usd_per_year!r}")
    owned = capex is not None
    yearly = {
        # rented GPUs' power and cooling are in the cloud price
        "power": count * power_per_hour(watts, load, pue, usd_per_kwh) * HOURS_PER_YEAR if owned else 0.0,
        "cooling": float(cooling_usd_per_year),
        "licences": count * float(licence_usd_per_gpu_year),
        "operations": float(operations_usd_per_year),
        "cloud": count * cloud * HOURS_PER_YEAR * utilization if not owned else 0.0,
    }
    for name, v in (other_usd_per_year or {}).items():
        yearly[name] = _non_negative(f"other_usd_per_year[{name!r}]", v)
    capex_total = count * capex if owned else 0.0
    running = sum(yearly.values())
    per_year = capex_total / amortization_years + running
    busy_s = HOURS_PER_YEAR * 3600.0 * utilization
    out = dict(gpu=g.id, count=count, horizon_years=horizon_years, capex_usd=capex_total,
               amortization_years=amortization_years, yearly_usd=yearly, usd_per_hour=per_year / HOURS_PER_YEAR,
               usd_per_year=per_year, year1_usd=capex_total + running, total_usd=capex_total + running * horizon_years,
               assumptions=tuple(assumptions))
    if tokens_per_s is not None:
        tps = _non_negative("tokens_per_s", tokens_per_s)
        out.update(tokens_per_s=tps, tokens_per_usd=_ratio(tps * busy_s, per_year) if per_year else None,
                   usd_per_million_tokens=_ratio(per_year, tps * busy_s) * 1e6 if tps else None)
    if _non_negative("requests_per_s", requests_per_s):
        out["usd_per_request"] = _ratio(per_year, requests_per_s * busy_s)
    _check_finite(out)
    return TCO(**out)


def _check_finite(figures: dict) -> None:
    """Refuses inputs whose figures overflow (or divide by a denormal): a cost is never inf or NaN."""
    flat = {**{k: v for k, v in figures.items() if k != "yearly_usd"},
            **{f"yearly_usd[{k!r}]": v for k, v in figures["yearly_usd"].items()}}
    bad = [k for k, v in flat.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise InvalidInputError(f"these inputs make {', '.join(bad)} overflow (not a finite number): give prices, "
                                "counts and rates of a realistic size")


__all__ = ["HOURS_PER_YEAR", "TCO", "amortised_per_hour", "power_per_hour", "price", "tco"]
