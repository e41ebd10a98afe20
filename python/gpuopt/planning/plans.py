"""The planner's answer (Plan) and how it is read off a solution of the planning model."""

from __future__ import annotations

import html
from typing import Any, Iterator, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from gpuopt.estimation.sharing import Slot, fraction, mig_slice, whole
from gpuopt.planning.bill import Bill, replica_starts
from gpuopt.planning.model import Solution, gpus_in_use, layout_name
from gpuopt.planning.scenario import Scenario
from gpuopt.planning.solve import found


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReplicaGroup(_Part):
    """Identical replicas of one service in one period: where, on what, how many."""
    site: str
    gpu: str = Field(description="the physical GPU type")
    slot: str = Field(description="slot id: the GPU, 'gpu/profile' (MIG) or 'gpu/nx' (a 1/n time share)")
    tp: int = Field(description="GPUs of one tensor-parallel replica (whole GPUs only)")
    precision: str
    replicas: int
    capacity_rps: float = Field(description="requests/s one replica serves within the SLO, as planned")
    kind: Literal["gpu", "mig", "fraction"]
    mig_profile: Optional[str] = Field(None, description="MIG profile, for kind 'mig'")
    fraction: Optional[int] = Field(None, description="n of a 1/n time share, for kind 'fraction'")

    def slot_spec(self) -> Slot:
        """The slot one replica runs on (its GPU, MIG instance or time share)."""
        if self.kind == "mig":
            return mig_slice(self.gpu, self.mig_profile)
        if self.kind == "fraction":
            return fraction(self.gpu, self.fraction)
        return whole(self.gpu)

    @classmethod
    def of(cls, site: str, cand, replicas: int) -> "ReplicaGroup":
        sl = cand.slot
        return cls(site=site, gpu=cand.gpu, slot=sl.id, tp=cand.tp, precision=cand.precision, replicas=replicas,
                   capacity_rps=cand.capacity_rps, kind=sl.kind,
                   mig_profile=sl.profile if sl.kind == "mig" else None,
                   fraction=sl.per_gpu if sl.kind == "fraction" else None)


class TrainingRun(_Part):
    """GPUs a training job uses at one site in one period of every cycle."""
    site: str
    gpu: str
    period: str
    gpus: int


class TrainingPlan(_Part):
    runs: list[TrainingRun] = Field(default_factory=list)
    burst_gpu_hours: float = Field(0.0, description="reference GPU-hours bought in the cloud")


class Baseline(_Part):
    """A simple way to buy the same service, solved by the same model."""
    cost_per_hour: Optional[float] = Field(description="None: infeasible for this scenario")
    savings_per_hour: Optional[float] = Field(description="baseline cost - plan cost, $/hour")
    savings: Optional[float] = Field(description="share of the baseline's cost the plan saves")
    note: str
    purchases: dict[str, dict[str, int]] = Field(default_factory=dict, description="site -> GPU type -> GPUs it buys")
    binding: Optional[str] = Field(None, description="infeasible: the constraint that binds")
    cost_with_limits_lifted_per_hour: Optional[float] = Field(
        None, description="infeasible: its cost with purchase and rental limits lifted (not a plan these limits allow)")
    status: str = Field("optimal", description="optimal; feasible (stopped by the time limit: its cost is what it "
                                               "found, `gap` above its bound); infeasible; unsolved (no solution "
                                               "in the time left)")
    gap: Optional[float] = Field(None, description="(cost - bound) / cost of its solve")


class Changes(_Part):
    """What changes as a period begins, against the period listed before it (cyclically)."""
    replica_starts: int = Field(description="replicas started (a group that grows, moves or is new)")
    mig_repartitions: int = Field(description="GPUs put into a MIG layout they did not have")


class Verification(_Part):
    """A service in one period, simulated with the plan's replicas."""
    ttft_p95_ms: Optional[float]
    tpot_p95_ms: Optional[float]
    e2e_p95_ms: Optional[float]
    requests: int
    meets_slo: bool


class Plan(BaseModel):
    """The planner's answer, and the proof of how good it is."""

    model_config = ConfigDict(frozen=True)
    scenario: str
    status: str = Field(description="optimal, feasible (time limit: not proven optimal), infeasible, or unsolved "
                                    "(the time limit passed before any plan was found)")
    cost_per_hour: float = Field(description="all costs averaged over the cycle of periods, $/hour")
    lower_bound_per_hour: float = Field(description="no plan can cost less: LP relaxation or solver bound")
    gap: float
    fleet: dict[str, dict[str, int]] = Field(default_factory=dict, description="site -> GPU type -> GPUs owned")
    purchases: dict[str, dict[str, int]] = Field(default_factory=dict)
    rentals: dict[str, dict[str, dict[str, int]]] = Field(default_factory=dict, description="site -> type -> period")
    replicas: dict[str, dict[str, list[ReplicaGroup]]] = Field(default_factory=dict,
                                                               description="service -> period -> replica groups")
    mig_layouts: dict[str, dict[str, dict[str, dict[str, int]]]] = Field(
        default_factory=dict, description="site -> type -> period -> layout ('3g.40gb+4g.40gb') -> GPUs")
    time_sliced: dict[str, dict[str, dict[str, dict[str, int]]]] = Field(
        default_factory=dict, description="site -> type -> period -> 'n-way' -> GPUs")
    training: dict[str, TrainingPlan] = Field(default_factory=dict)
    cost_breakdown: dict[str, float] = Field(default_factory=dict, description="$/hour by item")
    changes: dict[str, Changes] = Field(default_factory=dict, description="period -> replicas started and GPUs "
                                                                          "repartitioned as it begins (priced where "
                                                                          "the scenario's stability says)")
    predicted_slo: dict[str, dict[str, float]] = Field(default_factory=dict, description="worst p95 at capacity")
    utilization: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict,
                                                                 description="site -> type -> period -> GPUs busy share")
    baselines: dict[str, Baseline] = Field(default_factory=dict)
    infeasibility: list[str] = Field(default_factory=list)
    verification: dict[str, dict[str, Verification]] = Field(
        default_factory=dict, description="service -> period -> simulated p95s and whether the SLO holds")
    capacity_factors: dict[str, float] = Field(default_factory=dict,
                                               description="services whose capacity verification tightened")
    warnings: list[str] = Field(default_factory=list)
    bill: Optional[Bill] = Field(None, description="what to buy now and its capex, every price with its source, cost "
                                                   "per period and per service, SLO target / predicted / simulated")
    solve_s: float = 0.0
    solver: str = ""

    @property
    def has_plan(self) -> bool:
        return found(self.status)

    def groups(self) -> Iterator[tuple[str, str, ReplicaGroup]]:
        """(service, period, replica group) for every group of the plan."""
        for service, periods in self.replicas.items():
            for period, rows in periods.items():
                for r in rows:
                    yield service, period, r

    def to_json(self, **kw) -> str:
        return self.model_dump_json(indent=2, **kw)

    def rows(self) -> list[dict[str, Any]]:
        """One row per replica group: service, period and the group's fields."""
        return [{"service": sv, "period": period, **r.model_dump()} for sv, period, r in self.groups()]

    def to_pandas(self):
        """The replica groups as a pandas DataFrame (pip install 'gpuopt[pandas]')."""
        from gpuopt.estimation.columns import rows_frame

        return rows_frame(self.rows(), "pandas")

    def to_polars(self):
        """The replica groups as a polars DataFrame (pip install 'gpuopt[polars]')."""
        from gpuopt.estimation.columns import rows_frame

        return rows_frame(self.rows(), "polars")

    def _repr_html_(self) -> str:
        from gpuopt.output.documents import tables_html

        return f"<h3>Plan for {html.escape(self.scenario)}: {html.escape(self.status)}</h3>" + tables_html(self)


def extract(scn: Scenario, sol: Solution) -> dict[str, Any]:
    """The plan's fields from a solution: fleet, purchases, rentals, utilisation, MIG layouts,
    time-sliced GPUs, replicas, training, the worst predicted p95 and the cost per item."""
    x = sol.x
    periods = [p.name for p in scn.periods]
    val = lambda v: int(round(v.solution_value() if hasattr(v, "solution_value") else v))  # noqa: E731
    fleet, purchases, rentals, mig, sliced, util = {}, {}, {}, {}, {}, {}
    busy = gpus_in_use(x, val)  # whole GPUs in use per (site, type, period)
    for site in scn.sites:
        for o in site.gpus:
            key = (site.name, o.type)
            bought = val(x.buy[key])
            fleet.setdefault(site.name, {})[o.type] = o.owned + bought
            if bought:
                purchases.setdefault(site.name, {})[o.type] = bought
            for p in periods:
                rent = val(x.rent[key + (p,)]) if key + (p,) in x.rent else 0
                if rent:
                    rentals.setdefault(site.name, {}).setdefault(o.type, {})[p] = rent
                used = busy.get(key + (p,), 0)
                avail = o.owned + bought + rent
                util.setdefault(site.name, {}).setdefault(o.type, {})[p] = used / avail if avail else 0.0
    for (sn, g, p, layout), v in x.mig_layout.items():
        if val(v):
            mig.setdefault(sn, {}).setdefault(g, {}).setdefault(p, {})[layout_name(layout)] = val(v)
    for (sn, g, p, n), v in x.time_sliced.items():
        if val(v):
            sliced.setdefault(sn, {}).setdefault(g, {}).setdefault(p, {})[f"{n}-way"] = val(v)
    replicas: dict[str, dict[str, list]] = {}
    slo: dict[str, dict[str, float]] = {}
    for (k, sn, _, _, p), (v, c) in x.replicas.items():
        n = val(v)
        if not n:
            continue
        sv = scn.services[k]
        replicas.setdefault(sv.name, {}).setdefault(p, []).append(ReplicaGroup.of(sn, c, n))
        worst = slo.setdefault(sv.name, {"ttft_p95_ms": 0.0, "tpot_p95_ms": 0.0, "e2e_p95_ms": 0.0})
        for m in worst:
            worst[m] = max(worst[m], getattr(c, m))
    training = {}
    for j, job in enumerate(scn.training):
        runs = [TrainingRun(site=sn, gpu=g, period=p, gpus=val(v)) for (jj, sn, g, p), v in x.train_gpus.items()
                if jj == j and val(v)]
        b = x.burst.get(j, 0.0)
        burst = b.solution_value() if hasattr(b, "solution_value") else float(b)
        training[job.name] = TrainingPlan(runs=runs, burst_gpu_hours=max(burst, 0.0))
    breakdown = dict(sol.breakdown)
    return dict(fleet=fleet, purchases=purchases, rentals=rentals, replicas=replicas, mig_layouts=mig,
                time_sliced=sliced, training=training, predicted_slo=slo, utilization=util, cost_breakdown=breakdown,
                changes=changes_between_periods(periods, replicas, mig))


def changes_between_periods(periods: list[str], replicas: dict, mig: dict) -> dict[str, Changes]:
    """Each period's replica starts and MIG repartitions against the period before it
    (cyclically; none with one period), from the plan's replica groups and layouts."""
    if len(periods) < 2:
        return {}
    starts = replica_starts(periods, replicas)
    layouts = {(s, g, name): {p: n for p, by in per.items() for nm, n in by.items() if nm == name}
               for s, types in mig.items() for g, per in types.items()
               for name in {nm for by in per.values() for nm in by}}
    rise = lambda counts, j: max(counts.get(periods[j], 0) - counts.get(periods[j - 1], 0), 0)  # noqa: E731
    return {p: Changes(replica_starts=sum(starts[p].values()),
                       mig_repartitions=sum(rise(c, j) for c in layouts.values()))
            for j, p in enumerate(periods)}


__all__ = ["Baseline", "Changes", "Plan", "ReplicaGroup", "TrainingPlan", "TrainingRun", "Verification", "extract"]
