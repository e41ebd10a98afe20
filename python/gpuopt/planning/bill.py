"""What a buyer signs, read off a plan: the GPUs to buy now and their upfront capex; every price,
amortisation, power and licence figure the plan used, with its source; the cost while each period
runs and each service's share of it; and, per service and period, the SLO target beside the p95
the capacities predict and the p95 the simulator measured.

Attribution (cost per service): in each period every GPU of a (site, type) costs the same share
of that pool's $/hour (owned GPUs' running cost, bought ones' capex amortised too, rented ones
their hourly price); a replica is charged the GPUs it occupies - tp whole GPUs, k/7 of a GPU for a
MIG instance of k compute slices, 1/n for a 1/n time share (plus 1/n of that GPU's sharing
licence) - a training job its GPUs and its cloud burst, and what nobody occupies is `idle`. The
charges of a period add up to the plan's cost while that period runs, and those, weighed by the
periods' hours, to the plan's cost per hour.
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from gpuopt.catalog import gpu as get_gpu
from gpuopt.cost import HOURS_PER_YEAR, catalog_price
from gpuopt.estimation.sharing import mig_profile
from gpuopt.planning.candidates import CONFIRMED_SHARE
from gpuopt.planning.model import offer_capex, own_cost_per_hour, rent_cost_per_hour

IDLE = "idle"
MIG_CHANGES = "MIG repartitions"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Assumption(_Part):
    """A figure the plan's cost or capacity rests on."""
    item: str
    value: float
    unit: str
    source: str


class Purchase(_Part):
    """GPUs to buy now at one site."""
    site: str
    gpu: str
    gpus: int
    usd_per_gpu: float
    upfront_usd: float
    amortization_years: float
    source: str


class SloCheck(_Part):
    """A service in one period: its SLO, the p95s its capacities predict (the worst of the slots it
    runs on), the p95s the simulator measured with the plan's replicas (None: not verified)."""
    service: str
    period: str
    headroom: float
    redundancy: str = Field(description="n+1: the replicas left after losing any one still carry the demand")
    target: dict[str, Optional[float]]
    predicted: dict[str, float]
    simulated: Optional[dict[str, Optional[float]]] = None
    meets_slo: Optional[bool] = None


class Bill(_Part):
    purchases: list[Purchase] = Field(default_factory=list)
    upfront_capex_usd: float = 0.0
    assumptions: list[Assumption] = Field(default_factory=list)
    cost_per_period: dict[str, float] = Field(default_factory=dict, description="$/hour while each period runs")
    cost_per_service: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="service (or 'training <job>', 'idle', 'MIG repartitions') -> period -> "
                                          "$/hour while that period runs")
    slo: list[SloCheck] = Field(default_factory=list)


def _given(model: BaseModel, field: str, where: str) -> str:
    return f"scenario: {where}.{field}" if field in model.model_fields_set else f"gpuopt default ({where}.{field})"


def _purchase_price(o, where: str) -> tuple[float, str]:
    """($ per GPU of offer `o` bought, where that price comes from); `where` is the offer's key path."""
    if o.capex_usd is not None:
        return o.capex_usd, _given(o, "capex_usd", where)
    row = catalog_price(o.type, "capex")
    return offer_capex(o), (f"catalog data/prices.csv: {row.source}" if row else "catalog")


def _assumptions(scn) -> list[Assumption]:
    out: list[Assumption] = []
    for i, site in enumerate(scn.sites):
        w = f"sites[{i}]"
        out += [Assumption(item=f"{site.name}: electricity", value=site.usd_per_kwh, unit="$/kWh",
                           source=_given(site, "usd_per_kwh", w)),
                Assumption(item=f"{site.name}: PUE", value=site.pue, unit="", source=_given(site, "pue", w)),
                Assumption(item=f"{site.name}: power draw", value=site.load, unit="share of TDP",
                           source=_given(site, "load", w))]
        if site.licence_usd_per_gpu_year:
            out.append(Assumption(item=f"{site.name}: licence per GPU", value=site.licence_usd_per_gpu_year,
                                  unit="$/GPU-year", source=_given(site, "licence_usd_per_gpu_year", w)))
        if site.sharing_licence_usd_per_gpu_year:
            out.append(Assumption(item=f"{site.name}: time-slicing licence", value=site.sharing_licence_usd_per_gpu_year,
                                  unit="$/GPU-year", source=_given(site, "sharing_licence_usd_per_gpu_year", w)))
        for j, o in enumerate(site.gpus):
            g, wo = get_gpu(o.type), f"{w}.gpus[{j}]"
            out.append(Assumption(item=f"{o.type}: TDP", value=g.tdp_w or 0.0, unit="W", source=f"catalog: {g.source}"))
            if o.max_purchase != 0:
                usd, source = _purchase_price(o, wo)
                out.append(Assumption(item=f"{site.name}/{o.type}: purchase price", value=usd, unit="$/GPU",
                                      source=source))
                out.append(Assumption(item=f"{site.name}/{o.type}: amortisation", value=o.amortization_years,
                                      unit="years", source=_given(o, "amortization_years", wo)))
            if o.rent_usd_per_hour is not None:
                out.append(Assumption(item=f"{site.name}/{o.type}: rent", value=o.rent_usd_per_hour, unit="$/GPU-hour",
                                      source=_given(o, "rent_usd_per_hour", wo)))
    for j, job in enumerate(scn.training):
        if job.burst_usd_per_gpu_hour is not None:
            out.append(Assumption(item=f"training {job.name}: cloud burst", value=job.burst_usd_per_gpu_hour,
                                  unit="$/reference GPU-hour", source=f"scenario: training[{j}].burst_usd_per_gpu_hour"))
    if scn.stability is not None:
        for field, unit in (("usd_per_replica_start", "$/replica started"), ("usd_per_mig_repartition", "$/GPU repartitioned")):
            out.append(Assumption(item=f"stability: {field}", value=getattr(scn.stability, field), unit=unit,
                                  source=_given(scn.stability, field, "stability")))
    out = list({a.item: a for a in out}.values())   # a GPU type offered at two sites: its TDP once
    out.append(Assumption(item="planned share of the simulator-confirmed rate", value=CONFIRMED_SHARE, unit="",
                          source="gpuopt: docs/formulation.md, Capacities"))
    for k, sv in enumerate(scn.services):
        h = sv.headroom if sv.headroom is not None else scn.headroom
        out.append(Assumption(item=f"{sv.name}: headroom", value=h, unit="share of capacity kept free",
                              source=f"scenario: services[{k}].headroom" if sv.headroom is not None
                              else _given(scn, "headroom", "scenario")))
    return out


def _purchases(p, scn) -> list[Purchase]:
    out = []
    for i, site in enumerate(scn.sites):
        for j, o in enumerate(site.gpus):
            n = p.purchases.get(site.name, {}).get(o.type, 0)
            if n:
                usd, source = _purchase_price(o, f"sites[{i}].gpus[{j}]")
                out.append(Purchase(site=site.name, gpu=o.type, gpus=n, usd_per_gpu=usd, upfront_usd=n * usd,
                                    amortization_years=o.amortization_years, source=source))
    return out


def _occupied(r) -> float:
    """GPUs one replica group occupies."""
    if r.kind == "gpu":
        return float(r.tp * r.replicas)
    if r.kind == "mig":
        return mig_profile(r.gpu, r.mig_profile)["compute_slices"] / 7.0 * r.replicas
    return r.replicas / r.fraction


def _attribution(p, scn) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """($/hour while each period runs, who it is charged to per period)."""
    hours = {per.name: per.hours_per_day for per in scn.periods}
    per_day = dict(zip(hours, scn.transitions_per_day()))
    during = dict.fromkeys(hours, 0.0)
    charged: dict[str, dict[str, float]] = {}

    def charge(who: str, period: str, usd: float) -> None:
        if usd:
            charged.setdefault(who, dict.fromkeys(hours, 0.0))[period] += usd
            during[period] += usd

    for site in scn.sites:
        for o in site.gpus:
            amortised, running = own_cost_per_hour(site, o)
            bought = p.purchases.get(site.name, {}).get(o.type, 0)
            owned = p.fleet.get(site.name, {}).get(o.type, 0)
            for period in hours:
                rented = p.rentals.get(site.name, {}).get(o.type, {}).get(period, 0)
                pool = owned * running + bought * amortised + (rented * rent_cost_per_hour(site, o) if rented else 0.0)
                gpus = owned + rented
                if not gpus:
                    continue
                unit, left, shares = pool / gpus, float(gpus), 0.0
                licence = site.sharing_licence_usd_per_gpu_year / HOURS_PER_YEAR
                for service, per, r in p.groups():
                    if per == period and (r.site, r.gpu) == (site.name, o.type):
                        used = _occupied(r)
                        left -= used
                        shares += used if r.kind == "fraction" else 0.0
                        charge(service, period, unit * used + (licence * used if r.kind == "fraction" else 0.0))
                for job, t in p.training.items():
                    n = sum(run.gpus for run in t.runs if (run.site, run.gpu, run.period) == (site.name, o.type, period))
                    left -= n
                    charge(f"training {job}", period, unit * n)
                # GPUs split by MIG or time-slicing whose instances or shares nobody uses, and GPUs unused
                sliced = sum(p.time_sliced.get(site.name, {}).get(o.type, {}).get(period, {}).values())
                charge(IDLE, period, unit * max(left, 0.0) + licence * max(sliced - shares, 0.0))
    for j, job in enumerate(scn.training):
        if job.burst_usd_per_gpu_hour is not None:
            burst = p.training[job.name].burst_gpu_hours * job.burst_usd_per_gpu_hour / (job.deadline_days * 24.0)
            for period in hours:
                charge(f"training {job.name}", period, burst)
    st = scn.stability
    if st is not None:
        starts = replica_starts(list(hours), p.replicas)
        for period, ch in p.changes.items():
            f = per_day[period] / hours[period]   # changes a day / hours a day: per hour while it runs
            for service, n in starts.get(period, {}).items():
                charge(service, period, st.usd_per_replica_start * n * f)
            charge(MIG_CHANGES, period, st.usd_per_mig_repartition * ch.mig_repartitions * f)
    return during, charged


def replica_starts(periods: list[str], replicas: dict) -> dict[str, dict[str, int]]:
    """period -> service -> replicas it starts as the period begins: the rise of each of its
    replica groups (site, slot, tp, precision) from the period listed before (cyclically; nothing
    with one period). `replicas`: a plan's service -> period -> replica groups."""
    if len(periods) < 2:
        return {}
    out: dict[str, dict[str, int]] = {p: {} for p in periods}
    for service, per in replicas.items():
        counts: dict[tuple, dict[str, int]] = {}
        for p, rows in per.items():
            for r in rows:
                by = counts.setdefault((r.site, r.slot, r.tp, r.precision), {})
                by[p] = by.get(p, 0) + r.replicas
        for j, p in enumerate(periods):
            out[p][service] = sum(max(c.get(p, 0) - c.get(periods[j - 1], 0), 0) for c in counts.values())
    return out


def _slo_checks(p, scn, cands) -> list[SloCheck]:
    out = []
    for k, sv in enumerate(scn.services):
        by_slot = {(c.slot.id, c.tp, c.precision): c for c in cands.by_service.get(k, [])}
        target = {"ttft_p95_ms": sv.slo.ttft_p95_ms, "tpot_p95_ms": sv.slo.tpot_p95_ms, "e2e_p95_ms": sv.slo.e2e_p95_ms}
        for per in scn.periods:
            rows = p.replicas.get(sv.name, {}).get(per.name, [])
            used = [by_slot[key] for key in ((r.slot, r.tp, r.precision) for r in rows) if key in by_slot]
            if not used:
                continue
            predicted = {m: max(getattr(c, m) for c in used) for m in target}
            v = p.verification.get(sv.name, {}).get(per.name)
            out.append(SloCheck(service=sv.name, period=per.name,
                                headroom=sv.headroom if sv.headroom is not None else scn.headroom,
                                redundancy=sv.redundancy, target=target, predicted=predicted,
                                simulated=None if v is None else {m: getattr(v, m) for m in target},
                                meets_slo=None if v is None else v.meets_slo))
    return out


def bill_of(p, scn, cands) -> Bill:
    """The bill of plan `p` for scenario `scn`, its capacities from `cands` (the final ones)."""
    assumptions = _assumptions(scn)
    purchases = _purchases(p, scn)
    during, charged = _attribution(p, scn)
    return Bill(purchases=purchases, upfront_capex_usd=sum(x.upfront_usd for x in purchases), assumptions=assumptions,
                cost_per_period=during, cost_per_service=charged, slo=_slo_checks(p, scn, cands))


__all__ = ["Assumption", "Bill", "Purchase", "SloCheck", "bill_of", "replica_starts"]
