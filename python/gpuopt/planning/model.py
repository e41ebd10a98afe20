"""The fleet side of the planning model, shared by the monolithic MIP and the column generation:
GPUs bought and rented, MIG layouts, time-sliced GPUs, training on owned GPUs and cloud burst,
what they cost, and one row per resource that replicas use.

Rows (replicas enter them through `use`):
- ("gpu", site, type, period): whole GPUs busy (replicas x tp, MIG-split, time-sliced, training)
  <= owned + bought + rented;
- ("mig", site, type, period, profile): replicas on that MIG profile <= instances the layouts offer;
- ("frac", site, type, period, n): replicas on 1/n shares <= n x GPUs split n ways.

Built coefficient by coefficient (pywraplp's Constraint.SetCoefficient), never through Python
expression trees, so a model with hundreds of thousands of columns builds in seconds.
"""

from __future__ import annotations

import math
from typing import Optional

from gpuopt.catalog import gpu as get_gpu
from gpuopt.cost import HOURS_PER_YEAR, price
from gpuopt.planning.scenario import Scenario
from gpuopt.estimation.sharing import mig_layouts
from gpuopt.planning.solve import new_solver

LP_BACKEND = "GLOP"
COST_ITEMS = ("capex", "power+licences", "cloud", "sharing licences", "training burst")


def own_cost_per_hour(site, offer) -> tuple[float, float]:
    """($/hour of a GPU bought now: capex amortised, $/hour of running any owned GPU)."""
    g = get_gpu(offer.type)
    capex = offer.capex_usd if offer.capex_usd is not None else price(offer.type, "capex")
    amortised = (capex or 0.0) / (offer.amortization_years * HOURS_PER_YEAR) if offer.max_purchase != 0 else 0.0
    running = (g.tdp_w or 0.0) / 1000 * site.load * site.pue * site.usd_per_kwh + site.licence_usd_per_gpu_year / HOURS_PER_YEAR
    return amortised, running


def speed(gpu_id: str, reference: str) -> float:
    return get_gpu(gpu_id).fp16_tflops / get_gpu(reference).fp16_tflops


def layout_name(layout: tuple[str, ...]) -> str:
    return "+".join(layout)


def job_offers(scn: Scenario, job):
    """(site, offer) of every GPU a training job may run on: its sites, enough memory per GPU."""
    for site in scn.sites:
        if job.sites and site.name not in job.sites:
            continue
        for o in site.gpus:
            if get_gpu(o.type).memory_bytes >= job.memory_gb * 1e9:
                yield site, o


def training_reach(scn: Scenario, job, window_hours: float) -> float:
    """Most reference GPU-hours a job could get over its deadline from `window_hours` of each
    cycle on every GPU it may own (its purchase limit bought), ignoring services."""
    cycles = job.deadline_days * 24.0 / scn.cycle_hours
    total = 0.0
    for _, o in job_offers(scn, job):
        gpus = math.inf if o.max_purchase is None else o.owned + o.max_purchase
        total += gpus * window_hours * cycles * speed(o.type, job.reference_gpu)
    return total


def left_to_buy(offer, bought: float, lift_limits: bool = False) -> float:
    """GPUs of `offer` that may still be bought once `bought` are."""
    if offer.max_purchase is None or lift_limits:
        return math.inf
    return max(offer.max_purchase - bought, 0)


class FleetModel:
    """`relax`: continuous variables (GLOP). `periods`: the periods modelled (one, in a per-period
    repair). `base_buy`: GPUs already decided to buy per (site, type), free here (more may be
    bought at full cost). `work_targets`: each job's work in these periods, given (a shortfall
    bursts to the cloud where the job may). `buy_more`: False buys nothing beyond `base_buy`.
    `lift_limits`: purchase and rental limits dropped (diagnosis). set_supply moves the GPUs
    bought and the work targets after the model is built."""

    def __init__(self, scn: Scenario, *, relax: bool, periods: Optional[list[str]] = None, lift_limits: bool = False,
                 base_buy: Optional[dict] = None, work_targets: Optional[dict] = None, buy_more: bool = True,
                 backend: str = "SCIP"):
        self.scn, self.relax, self.lift_limits = scn, relax, lift_limits
        self.s = s = new_solver(LP_BACKEND if relax else backend)
        self.inf = inf = s.infinity()
        self.periods = periods or [p.name for p in scn.periods]
        self.hours = {p.name: p.hours for p in scn.periods}
        self.V: dict[str, dict] = {"buy": {}, "rent": {}, "R": {}, "M": {}, "F": {}, "T": {}, "B": {}}
        self.cost: dict[str, list] = {name: [] for name in COST_ITEMS}   # (coefficient, variable)
        self.offset: dict[str, float] = dict.fromkeys(COST_ITEMS, 0.0)   # constant $/hour per item
        self.rows: dict[tuple, object] = {}
        self.work_rows: dict[int, object] = {}
        self.layouts: dict[str, list[tuple[str, ...]]] = {}
        H = scn.cycle_hours
        base_buy = base_buy or {}
        for site in scn.sites:
            for o in site.gpus:
                key = (site.name, o.type)
                amortised, running = own_cost_per_hour(site, o)
                fixed = o.owned + base_buy.get(key, 0)
                cap_buy = min(left_to_buy(o, base_buy.get(key, 0), lift_limits), inf) if buy_more else 0
                buy = self._int(0, cap_buy, f"buy[{site.name},{o.type}]")
                self.V["buy"][key] = buy
                self.cost["capex"].append((amortised, buy))
                self.cost["power+licences"].append((running, buy))
                self.offset["power+licences"] += running * fixed
                if o.type not in self.layouts and get_gpu(o.type).mig and scn.sharing in ("mig", "all"):
                    self.layouts[o.type] = mig_layouts(o.type, maximal=True)
                profiles = sorted({prof for L in self.layouts.get(o.type, []) for prof in L})
                for p in self.periods:
                    gpu_row = s.Constraint(-inf, fixed)
                    self.rows[("gpu",) + key + (p,)] = gpu_row
                    gpu_row.SetCoefficient(buy, -1.0)
                    if o.rent_usd_per_hour is not None:
                        cap_rent = inf if (o.max_rent is None or lift_limits) else o.max_rent
                        r = self._int(0, cap_rent, f"rent[{site.name},{o.type},{p}]")
                        self.V["rent"][key + (p,)] = r
                        per = o.rent_usd_per_hour + site.licence_usd_per_gpu_year / HOURS_PER_YEAR
                        self.cost["cloud"].append((per * self.hours[p] / H, r))
                        gpu_row.SetCoefficient(r, -1.0)
                    mig_rows = {prof: s.Constraint(-inf, 0.0) for prof in profiles}
                    for prof, row in mig_rows.items():
                        self.rows[("mig",) + key + (p, prof)] = row
                    for L in self.layouts.get(o.type, []):
                        m = self._int(0, inf, f"M[{site.name},{o.type},{p},{layout_name(L)}]")
                        self.V["M"][key + (p, L)] = m
                        gpu_row.SetCoefficient(m, 1.0)
                        for prof in set(L):
                            mig_rows[prof].SetCoefficient(m, -float(L.count(prof)))
                    if scn.sharing == "all":
                        for n in range(2, scn.fractions + 1):
                            f = self._int(0, inf, f"F[{site.name},{o.type},{p},{n}]")
                            self.V["F"][key + (p, n)] = f
                            self.cost["sharing licences"].append(
                                (site.sharing_licence_usd_per_gpu_year / HOURS_PER_YEAR * self.hours[p] / H, f))
                            gpu_row.SetCoefficient(f, 1.0)
                            frac_row = s.Constraint(-inf, 0.0)
                            frac_row.SetCoefficient(f, -float(n))
                            self.rows[("frac",) + key + (p, n)] = frac_row
        self._training(work_targets, base_buy)

    def _int(self, lb, ub, name):
        return self.s.NumVar(lb, ub, name) if self.relax else self.s.IntVar(lb, ub, name)

    def _training(self, work_targets: Optional[dict], base_buy: dict) -> None:
        scn, s, inf = self.scn, self.s, self.inf
        for j, job in enumerate(scn.training):
            cycles = job.deadline_days * 24.0 / scn.cycle_hours
            work = s.Constraint(job.gpu_hours if work_targets is None else work_targets.get(j, 0.0), inf)
            self.work_rows[j] = work
            for site, o in job_offers(scn, job):
                key = (site.name, o.type)
                big = o.owned + base_buy.get(key, 0) + (o.max_purchase if o.max_purchase is not None else 10_000)
                for p in self.periods:
                    if job.periods and p not in job.periods:
                        continue
                    t = self._int(0, big, f"T[{job.name},{site.name},{o.type},{p}]")
                    z = s.NumVar(0, 1, "") if self.relax else s.BoolVar(f"z[{job.name},{site.name},{o.type},{p}]")
                    at_least = s.Constraint(0, inf)   # t >= min_gpus z
                    at_least.SetCoefficient(t, 1.0)
                    at_least.SetCoefficient(z, -float(job.min_gpus))
                    at_most = s.Constraint(-inf, 0)   # t <= big z
                    at_most.SetCoefficient(t, 1.0)
                    at_most.SetCoefficient(z, -float(big))
                    self.V["T"][(j, site.name, o.type, p)] = t
                    work.SetCoefficient(t, self.hours[p] * cycles * speed(o.type, job.reference_gpu))
                    self.rows[("gpu",) + key + (p,)].SetCoefficient(t, 1.0)
                    own = self.rows.get(("train",) + key + (p,))
                    if own is None:  # training runs on owned GPUs only, never rented ones
                        own = self.rows[("train",) + key + (p,)] = s.Constraint(-inf, o.owned + base_buy.get(key, 0))
                        own.SetCoefficient(self.V["buy"][key], -1.0)
                    own.SetCoefficient(t, 1.0)
            if job.burst_usd_per_gpu_hour is not None:
                burst = s.NumVar(0, inf, f"burst[{job.name}]")
                self.V["B"][j] = burst
                self.cost["training burst"].append((job.burst_usd_per_gpu_hour / (job.deadline_days * 24.0), burst))
                work.SetCoefficient(burst, 1.0)

    def set_supply(self, buy: dict, work: dict) -> None:
        """GPUs bought per (site, type) and each job's work target here: the right-hand sides a
        coordinator moves between solves; the rest of the purchase limit may still be bought here
        at full cost."""
        for site in self.scn.sites:
            for o in site.gpus:
                bought = buy.get((site.name, o.type), 0.0)
                have = o.owned + bought
                self.V["buy"][(site.name, o.type)].SetUb(min(left_to_buy(o, bought, self.lift_limits), self.inf))
                for p in self.periods:
                    for kind in ("gpu", "train"):
                        row = self.rows.get((kind, site.name, o.type, p))
                        if row is not None:
                            row.SetUb(have)
        for j, row in self.work_rows.items():
            row.SetLb(work.get(j, 0.0))

    def variable_cost(self) -> float:
        """The objective of the solution found without its constant part (owned GPUs' running cost)."""
        return self.s.Objective().Value() - sum(self.offset.values())

    @staticmethod
    def row_key(site: str, cand, period: str) -> tuple[tuple, float]:
        """The resource row one replica of `cand` at `site` uses in `period`, and how much of it."""
        if cand.slot.kind == "gpu":
            return ("gpu", site, cand.gpu, period), float(cand.tp)
        if cand.slot.kind == "mig":
            return ("mig", site, cand.gpu, period, cand.slot.profile), 1.0
        return ("frac", site, cand.gpu, period, cand.slot.per_gpu), 1.0

    def minimize(self) -> None:
        """Sets the objective: every cost item, coefficients of a variable summed."""
        obj = self.s.Objective()
        coef: dict[int, list] = {}
        for terms in self.cost.values():
            for c, v in terms:
                slot = coef.setdefault(v.index(), [0.0, v])
                slot[0] += c
        for c, v in coef.values():
            obj.SetCoefficient(v, c)
        obj.SetOffset(sum(self.offset.values()))
        obj.SetMinimization()

    def breakdown(self) -> dict[str, float]:
        """$/hour per cost item in the solution found."""
        return {name: self.offset[name] + sum(c * v.solution_value() for c, v in terms)
                for name, terms in self.cost.items()}


__all__ = ["FleetModel", "COST_ITEMS", "job_offers", "layout_name", "left_to_buy", "own_cost_per_hour", "speed",
           "training_reach"]
