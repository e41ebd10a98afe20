"""The planning model of docs/formulation.md, under its names: the fleet side (GPUs bought and
rented, MIG layouts, time-sliced GPUs, training on owned GPUs and cloud burst) and what it costs,
shared by the monolithic MIP and the column generation; `add_services` adds the replicas, the
demand and the minimum replicas of the monolithic MIP.

Every variable and constraint is named `group[index,...]`, the group being the name the document
gives it. Resource rows are keyed `(group, site, type, period[, profile or n])`; replicas enter
them through `resource_row`. Built as arrays (gpuopt.planning.linear), a candidate's replicas
over every period at once, never through Python expression trees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from gpuopt.catalog import gpu as get_gpu
from gpuopt.cost import HOURS_PER_YEAR, amortised_per_hour, power_per_hour, price
from gpuopt.estimation.sharing import mig_layouts
from gpuopt.planning.linear import Effort, LinearModel
from gpuopt.planning.scenario import Scenario
from gpuopt.planning.solve import Solved, found

LP_BACKEND = "GLOP"
COST_ITEMS = ("capex", "power+licences", "cloud", "sharing licences", "training burst", "stability")

# Constraint groups of the monolithic MIP (docs/formulation.md, section "Constraints").
GPU_SUPPLY = "gpu_supply"
MIG_INSTANCES = "mig_instances"
TIME_SHARE = "time_share"
TRAINING_OWNED = "training_owned"
TRAINING_WORK = "training_work"
TRAINING_MIN_GPUS = "training_min_gpus"
TRAINING_MAX_GPUS = "training_max_gpus"
DEMAND = "demand"
MIN_REPLICAS = "min_replicas"
SPARE = "spare"                 # n+1: the spare capacity covers the largest replica in use
REPLICA_USED = "replica_used"   # n+1: a candidate's replicas count only where it is marked in use
REPLICA_START = "replica_start"       # stability: replicas started as a period begins
MIG_REPARTITION = "mig_repartition"   # stability: GPUs put into a MIG layout as a period begins
# The decomposition's own rows (docs/formulation.md, "The decomposition").
PATTERN_CHOICE = "pattern_choice"
BENDERS_CUT = "benders_cut"
MIP_GROUPS = (GPU_SUPPLY, MIG_INSTANCES, TIME_SHARE, TRAINING_OWNED, TRAINING_WORK, TRAINING_MIN_GPUS,
              TRAINING_MAX_GPUS, DEMAND, MIN_REPLICAS, SPARE, REPLICA_USED, REPLICA_START, MIG_REPARTITION)
# Rows whose right-hand side is the GPUs owned and bought (what the coordinator moves).
SUPPLY_ROWS = (GPU_SUPPLY, TRAINING_OWNED)


def offer_capex(offer) -> float:
    """$ per GPU of `offer` bought: its `capex_usd`, else the catalog's purchase price (0 without one:
    the scenario refuses purchases of a GPU without a price)."""
    return offer.capex_usd if offer.capex_usd is not None else (price(offer.type, "capex") or 0.0)


def own_cost_per_hour(site, offer) -> tuple[float, float]:
    """($/hour of a GPU bought now: capex amortised, $/hour of running any owned GPU: power x
    load x PUE at the site's $/kWh, plus its licences per GPU-year)."""
    amortised = amortised_per_hour(offer_capex(offer), offer.amortization_years) if offer.max_purchase != 0 else 0.0
    watts = get_gpu(offer.type).tdp_w or 0.0
    running = power_per_hour(watts, site.load, site.pue, site.usd_per_kwh) + site.licence_usd_per_gpu_year / HOURS_PER_YEAR
    return amortised, running


def fleet_cost(scn: Scenario, buy: dict[tuple, float]) -> tuple[float, float]:
    """($/hour of capex amortised, $/hour of running every GPU owned) with `buy` GPUs bought per
    (site, type): the capex and power+licences items of a plan whose purchases are fixed."""
    capex = power = 0.0
    for site in scn.sites:
        for o in site.gpus:
            amortised, running = own_cost_per_hour(site, o)
            bought = buy.get((site.name, o.type), 0)
            capex += amortised * bought
            power += running * (o.owned + bought)
    return capex, power


def gpus_in_use(x: "Variables", value=float) -> dict[tuple, float]:
    """GPUs busy per (site, type, period) in plan `x` (each variable read by `value`): tp per
    whole-GPU replica, each GPU in a MIG layout or time-sliced, each training GPU (`gpu_supply`'s
    left-hand side)."""
    busy: dict[tuple, float] = {}
    for (_, site, _, _, p), (v, c) in x.replicas.items():
        if c.slot.kind == "gpu":
            busy[(site, c.gpu, p)] = busy.get((site, c.gpu, p), 0) + c.tp * value(v)
    for key, v in list(x.mig_layout.items()) + list(x.time_sliced.items()):
        busy[key[:3]] = busy.get(key[:3], 0) + value(v)
    for (_, site, g, p), v in x.train_gpus.items():
        busy[(site, g, p)] = busy.get((site, g, p), 0) + value(v)
    return busy


def rent_cost_per_hour(site, offer) -> float:
    """$/hour of a rented GPU: its hourly price plus the site's licences per GPU-year (inf where
    it cannot be rented)."""
    if offer.rent_usd_per_hour is None:
        return math.inf
    return offer.rent_usd_per_hour + site.licence_usd_per_gpu_year / HOURS_PER_YEAR


def list_price_per_hour(site, offer) -> float:
    """$/hour of one more GPU of `offer` at list prices: the cheaper of owning one (capex
    amortised plus running; only where it may be bought or is owned) and renting one."""
    amortised, running = own_cost_per_hour(site, offer)
    own = amortised + running if (offer.max_purchase != 0 or offer.owned) else math.inf
    return min(own, rent_cost_per_hour(site, offer))


def speed(gpu_id: str, reference: str) -> float:
    return get_gpu(gpu_id).fp16_tflops / get_gpu(reference).fp16_tflops


def layout_name(layout: tuple[str, ...]) -> str:
    return "+".join(layout)


def work_per_gpu(scn: Scenario, job, gpu_id: str, hours: float) -> float:
    """Reference GPU-hours one GPU of type `gpu_id` gives `job` by its deadline when it runs
    `hours` of every cycle (training_work's coefficient: h_p x cyc_j x v_g)."""
    return hours * job.deadline_days * 24.0 / scn.cycle_hours * speed(gpu_id, job.reference_gpu)


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
    cycle on every GPU it may use (its purchase limit bought, and its rental limit rented where the
    job may run on rented GPUs), ignoring services."""
    cycles = job.deadline_days * 24.0 / scn.cycle_hours
    total = 0.0
    for _, o in job_offers(scn, job):
        gpus = math.inf if o.max_purchase is None else o.owned + o.max_purchase
        if job.rented_gpus and o.rent_usd_per_hour is not None:
            gpus += math.inf if o.max_rent is None else o.max_rent
        total += gpus * window_hours * cycles * speed(o.type, job.reference_gpu)
    return total


def left_to_buy(offer, bought: float, lift_limits: bool = False) -> float:
    """GPUs of `offer` that may still be bought once `bought` are."""
    if offer.max_purchase is None or lift_limits:
        return math.inf
    return max(offer.max_purchase - bought, 0)


def replica_key(k: int, site: str, cand, period: str) -> tuple:
    """The index of replicas[k, s, c, p]: service, site, candidate (slot and tp), period."""
    return (k, site, cand.slot.id, cand.tp, period)


@dataclass
class Variables:
    """The model's decision variables by the document's names (pywraplp variables, or plain
    numbers where a decomposition fixed them). `replicas` maps to (variable, candidate)."""
    buy: dict[tuple, Any] = field(default_factory=dict)           # (site, type)
    rent: dict[tuple, Any] = field(default_factory=dict)          # (site, type, period)
    replicas: dict[tuple, tuple] = field(default_factory=dict)    # replica_key -> (variable, candidate)
    mig_layout: dict[tuple, Any] = field(default_factory=dict)    # (site, type, period, layout)
    time_sliced: dict[tuple, Any] = field(default_factory=dict)   # (site, type, period, n)
    train_gpus: dict[tuple, Any] = field(default_factory=dict)    # (job, site, type, period)
    train_on: dict[tuple, Any] = field(default_factory=dict)      # (job, site, type, period), binary
    burst: dict[int, Any] = field(default_factory=dict)           # job -> reference GPU-hours in the cloud


@dataclass
class Solution:
    """What solving the model (whole, or by decomposition) hands to the plan, the same on every
    path: the solver's result, the variables' values, $/hour per cost item, the lower bound, what
    was run, and the solvers whose variables `x` reads (kept alive while they are read)."""
    solved: Solved
    x: Variables
    breakdown: dict[str, float]
    bound: float
    method: str
    keep: list = field(default_factory=list)


def indexed_name(group: str, *index) -> str:
    """`group[index,...]`: how every variable and constraint of the planning models is named."""
    return f"{group}[{','.join(str(i) for i in index)}]"


class PlanningModel:
    """`relax`: continuous variables (GLOP). `periods`: the periods modelled (one, in a per-period
    repair). `base_buy`: GPUs already decided to buy per (site, type), free here (more may be
    bought at full cost). `work_targets`: each job's work in these periods, given (a shortfall
    bursts to the cloud where the job may). `buy_more`: False buys nothing beyond `base_buy`.
    `lift_limits`: purchase and rental limits dropped (diagnosis).

    The model is built as arrays (`self.m`, a LinearModel), `x`, `rows` and `work_rows` holding
    variable and row indices. Then either `solve` solves it whole (the monolithic MIP), or
    `build_solver` makes it a pywraplp model (`self.s`) that the decomposition changes and solves
    again; from then on `x`, `rows` and `work_rows` hold pywraplp variables and constraints, and
    set_supply moves the GPUs bought and the work targets between solves."""

    def __init__(self, scn: Scenario, *, relax: bool, periods: Optional[list[str]] = None, lift_limits: bool = False,
                 base_buy: Optional[dict] = None, work_targets: Optional[dict] = None, buy_more: bool = True,
                 backend: str = "SCIP"):
        self.scn, self.relax, self.lift_limits, self.backend = scn, relax, lift_limits, backend
        self.m = m = LinearModel()
        self.s = None                    # the pywraplp solver, once built
        self.inf = inf = math.inf
        self.periods = periods or [p.name for p in scn.periods]
        self.hours = {p.name: p.hours_per_day for p in scn.periods}
        self.x = Variables()
        self.cost: dict[str, list] = {name: [] for name in COST_ITEMS}   # (coefficient, variable index)
        self.offset: dict[str, float] = dict.fromkeys(COST_ITEMS, 0.0)   # constant $/hour per item
        self.rows: dict[tuple, Any] = {}
        self.work_rows: dict[int, Any] = {}
        self.layouts: dict[str, list[tuple[str, ...]]] = {}
        self._values: Optional[np.ndarray] = None   # every variable's value, after `solve`
        self._handles: Optional[list] = None        # the pywraplp variables, after `build_solver`
        H = scn.cycle_hours
        base_buy = base_buy or {}
        for site in scn.sites:
            for o in site.gpus:
                key = (site.name, o.type)
                amortised, running = own_cost_per_hour(site, o)
                fixed = o.owned + base_buy.get(key, 0)
                cap_buy = left_to_buy(o, base_buy.get(key, 0), lift_limits) if buy_more else 0
                buy = self._int(0, cap_buy, indexed_name("buy", *key))
                self.x.buy[key] = buy
                self._charge("capex", amortised, buy)
                self._charge("power+licences", running, buy)
                self.offset["power+licences"] += running * fixed
                if o.type not in self.layouts and get_gpu(o.type).mig and scn.sharing in ("mig", "all"):
                    self.layouts[o.type] = mig_layouts(o.type, maximal=True)
                profiles = sorted({prof for L in self.layouts.get(o.type, []) for prof in L})
                for p in self.periods:
                    supply = self._row(-inf, fixed, GPU_SUPPLY, *key, p)
                    m.term(supply, buy, -1.0)
                    if o.rent_usd_per_hour is not None:
                        cap_rent = inf if (o.max_rent is None or lift_limits) else o.max_rent
                        r = self._int(0, cap_rent, indexed_name("rent", *key, p))
                        self.x.rent[key + (p,)] = r
                        self._charge("cloud", rent_cost_per_hour(site, o) * self.hours[p] / H, r)
                        m.term(supply, r, -1.0)
                    instances = {prof: self._row(-inf, 0.0, MIG_INSTANCES, *key, p, prof) for prof in profiles}
                    for L in self.layouts.get(o.type, []):
                        v = self._int(0, inf, indexed_name("mig_layout", *key, p, layout_name(L)))
                        self.x.mig_layout[key + (p, L)] = v
                        m.term(supply, v, 1.0)
                        for prof in set(L):
                            m.term(instances[prof], v, -float(L.count(prof)))
                    if scn.sharing == "all":
                        for n in range(2, scn.fractions + 1):
                            f = self._int(0, inf, indexed_name("time_sliced", *key, p, n))
                            self.x.time_sliced[key + (p, n)] = f
                            self._charge("sharing licences",
                                         site.sharing_licence_usd_per_gpu_year / HOURS_PER_YEAR * self.hours[p] / H, f)
                            m.term(supply, f, 1.0)
                            m.term(self._row(-inf, 0.0, TIME_SHARE, *key, p, n), f, -float(n))
                for L in self.layouts.get(o.type, []):
                    self._changes(MIG_REPARTITION, "repartitions", key + (layout_name(L),),
                                  [self.x.mig_layout[key + (p, L)] for p in self.periods], "usd_per_mig_repartition")
        self._training(work_targets, base_buy)

    def _changes(self, group: str, variable: str, index: tuple, per_period: list, price: str) -> None:
        """Stability (docs/formulation.md): for a count over the cycle's periods (`per_period`, one
        variable each), a change variable per period at least its rise from the period before
        (cyclically), charged the scenario's `price` per change times how often that period begins
        a day. Nothing when the scenario prices no change, or the model holds one period only."""
        if not self._prices_changes(price):
            return
        usd = getattr(self.scn.stability, price)
        m, per_day = self.m, self.scn.transitions_per_day()
        for j, p in enumerate(self.periods):
            rise = m.var(0, self.inf, False, indexed_name(variable, *index, p))
            row = m.row(0, self.inf, indexed_name(group, *index, p))   # rise >= x[p] - x[p - 1]
            m.term(row, rise, 1.0)
            m.term(row, int(per_period[j]), -1.0)
            m.term(row, int(per_period[j - 1]), 1.0)
            self._charge("stability", usd * per_day[j] / self.scn.cycle_hours, rise)

    def _prices_changes(self, price: str) -> bool:
        """Whether the scenario's stability sets `price` and this model holds the whole cycle of two
        periods or more (a one-period repair or column generation has no period before)."""
        st = self.scn.stability
        return bool(st is not None and getattr(st, price)) and len(self.periods) > 1 \
            and len(self.periods) == len(self.scn.periods)

    def _int(self, lb, ub, name) -> int:
        return self.m.var(lb, ub, not self.relax, name)

    def _row(self, lb: float, ub: float, group: str, *index) -> int:
        """A resource row, kept under (group, *index) for the replicas and columns that use it."""
        row = self.rows[(group,) + index] = self.m.row(lb, ub, indexed_name(group, *index))
        return row

    def _training(self, work_targets: Optional[dict], base_buy: dict) -> None:
        scn, m, inf = self.scn, self.m, self.inf
        for j, job in enumerate(scn.training):
            work = m.row(job.gpu_hours if work_targets is None else work_targets.get(j, 0.0), inf,
                         indexed_name(TRAINING_WORK, job.name))
            self.work_rows[j] = work
            for site, o in job_offers(scn, job):
                key = (site.name, o.type)
                big = o.owned + base_buy.get(key, 0) + (o.max_purchase if o.max_purchase is not None else 10_000)
                if job.rented_gpus and o.rent_usd_per_hour is not None:
                    big += o.max_rent if o.max_rent is not None else 10_000
                for p in self.periods:
                    if job.periods and p not in job.periods:
                        continue
                    index = (job.name, site.name, o.type, p)
                    t = self._int(0, big, indexed_name("train_gpus", *index))
                    z = self._int(0, 1, indexed_name("train_on", *index))
                    at_least = m.row(0, inf, indexed_name(TRAINING_MIN_GPUS, *index))   # t >= min_gpus z
                    m.term(at_least, t, 1.0)
                    m.term(at_least, z, -float(job.min_gpus))
                    at_most = m.row(-inf, 0, indexed_name(TRAINING_MAX_GPUS, *index))   # t <= big z
                    m.term(at_most, t, 1.0)
                    m.term(at_most, z, -float(big))
                    self.x.train_gpus[(j, site.name, o.type, p)] = t
                    self.x.train_on[(j, site.name, o.type, p)] = z
                    m.term(work, t, work_per_gpu(scn, job, o.type, self.hours[p]))
                    m.term(self.rows[(GPU_SUPPLY,) + key + (p,)], t, 1.0)   # owned, bought or rented
                    if job.rented_gpus:
                        continue
                    own = self.rows.get((TRAINING_OWNED,) + key + (p,))
                    if own is None:  # this job runs on owned GPUs only, never rented ones
                        own = self._row(-inf, o.owned + base_buy.get(key, 0), TRAINING_OWNED, *key, p)
                        m.term(own, self.x.buy[key], -1.0)
                    m.term(own, t, 1.0)
            if job.burst_usd_per_gpu_hour is not None:
                burst = m.var(0, inf, False, indexed_name("burst", job.name))
                self.x.burst[j] = burst
                self._charge("training burst", job.burst_usd_per_gpu_hour / (job.deadline_days * 24.0), burst)
                m.term(work, burst, 1.0)

    def add_services(self, cands, allowed_sites) -> None:
        """The monolithic MIP's replicas: one integer per (service, site, candidate, period), the
        demand and minimum-replica rows, and each replica's use of its resource row; a service's
        replicas are added as arrays (candidate x period)."""
        scn, m, inf = self.scn, self.m, self.inf
        periods = self.periods
        n_p = len(periods)
        offered = {site.name: {o.type for o in site.gpus} for site in scn.sites}
        resource: dict[tuple, tuple[np.ndarray, float]] = {}   # (site, slot, tp) -> (row per period, use)
        for k, sv in enumerate(scn.services):
            allowed = set(allowed_sites(scn, sv))
            demand = np.array([m.row(scn.rate(sv, p), inf, indexed_name(DEMAND, sv.name, p)) for p in periods])
            # n+1 keeps one replica beyond the minimum, so losing one leaves the minimum running
            fewest = sv.min_replicas + (1 if sv.redundancy == "n+1" and sv.min_replicas else 0)
            least = np.array([m.row(fewest, inf, indexed_name(MIN_REPLICAS, sv.name, p))
                              for p in periods]) if fewest else None
            first, capacity, rows, use, named = m.n_vars, [], [], [], []
            for c in cands.by_service.get(k, []):
                slot, tp = c.slot.id, c.tp
                for site in scn.sites:
                    if site.name not in allowed or c.gpu not in offered[site.name]:
                        continue
                    prefix = f"replicas[{sv.name},{site.name},{slot},tp{tp},"
                    v = m.vars(0, inf, not self.relax, [f"{prefix}{p}]" for p in periods])
                    key = (k, site.name, slot, tp)     # replica_key without its period
                    for p, i in zip(periods, v.tolist()):
                        self.x.replicas[key + (p,)] = (i, c)
                    row = resource.get((site.name, slot, tp))
                    if row is None:
                        keyed = [self.resource_row(site.name, c, p) for p in periods]
                        row = resource[(site.name, slot, tp)] = (
                            np.array([self.rows[key] for key, _ in keyed]), keyed[0][1])
                    capacity.append(c.capacity_rps)
                    named.append((sv.name, site.name, slot, f"tp{tp}"))   # the index in its variables' names
                    rows.append(row[0])
                    use.append(row[1])
            if not capacity:
                continue
            v = np.arange(first, m.n_vars)                 # candidate-major, period-minor
            n_c = len(capacity)
            m.terms(np.tile(demand, n_c), v, np.repeat(capacity, n_p))
            if least is not None:
                m.terms(np.tile(least, n_c), v, 1.0)
            m.terms(np.concatenate(rows), v, np.repeat(use, n_p))
            if sv.redundancy == "n+1":
                self._spare(sv, demand, v.reshape(n_c, n_p), np.asarray(capacity), named)
            if self._prices_changes("usd_per_replica_start"):   # else nothing to add, for any candidate
                for index, per_period in zip(named, v.reshape(n_c, n_p).tolist()):
                    self._changes(REPLICA_START, "starts", index, per_period, "usd_per_replica_start")

    def _spare(self, sv, demand: np.ndarray, v: np.ndarray, capacity: np.ndarray, named: list[tuple]) -> None:
        """n+1 (docs/formulation.md, `spare`): in each period a spare rate spare[k,p] joins the
        demand, and covers the capacity of every candidate in use (used[k,s,c,p] = 1 where it has a
        replica), so losing any one replica leaves the demand served."""
        m, inf = self.m, self.inf
        for j, p in enumerate(self.periods):
            spare = m.var(0, inf, False, indexed_name("spare", sv.name, p))
            m.term(demand[j], spare, -1.0)
            rate = self.scn.rate(sv, p)
            for i in range(v.shape[0]):
                x = int(v[i, j])
                index = (*named[i], p)
                used = m.var(0, 1, not self.relax, indexed_name("used", *index))
                most = math.ceil(rate / capacity[i]) + max(sv.min_replicas, 2) + 1   # replicas it could need
                cover = m.row(0, inf, indexed_name(SPARE, *index))          # spare >= capacity x used
                m.term(cover, spare, 1.0)
                m.term(cover, used, -float(capacity[i]))
                bound = m.row(-inf, 0, indexed_name(REPLICA_USED, *index))  # replicas <= most x used
                m.term(bound, x, 1.0)
                m.term(bound, used, -float(most))

    def build_solver(self):
        """The model as a pywraplp solver (its objective set), for the decomposition to change and
        solve again; `x`, `rows` and `work_rows` then hold its variables and constraints."""
        self.s, handles, rows = self._objective().to_solver(LP_BACKEND if self.relax else self.backend)
        self._handles = handles
        self.x = _mapped(self.x, lambda i: handles[i])
        self.rows = {key: rows[i] for key, i in self.rows.items()}
        self.work_rows = {j: rows[i] for j, i in self.work_rows.items()}
        return self.s

    def solve(self, *, time_limit_s: float, seed: int, relative_gap: float, lp_bound: bool = True,
              hint: Optional[np.ndarray] = None, effort: Optional[Effort] = None) -> Solved:
        """Solves the whole model at once (SCIP, or GLOP when relaxed; gpuopt.planning.linear);
        `x` then holds the values found. `hint`: a known solution (a value per variable index);
        `effort`: limits in work (gpuopt.planning.linear.Effort)."""
        r, values = self._objective().solve(time_limit_s=time_limit_s, seed=seed, relative_gap=relative_gap,
                                            lp_bound=lp_bound, relax=self.relax, hint=hint, effort=effort)
        if found(r.status):
            self._values = values
            self.x = _mapped(self.x, lambda i: float(values[i]))
        return r

    def _charge(self, item: str, coefficient: float, var: int) -> None:
        """`coefficient` $/hour per unit of `var` under cost item `item`, in the objective too."""
        self.cost[item].append((coefficient, var))
        self.m.cost(var, coefficient)

    def _objective(self) -> LinearModel:
        """The arrays with the constant part of the cost (owned GPUs' running cost) as the offset."""
        self.m.offset = sum(self.offset.values())
        return self.m

    def set_supply(self, buy: dict, work: dict) -> None:
        """GPUs bought per (site, type) and each job's work target here: the right-hand sides a
        coordinator moves between solves; the rest of the purchase limit may still be bought here
        at full cost (after build_solver)."""
        inf = self.s.infinity()
        for site in self.scn.sites:
            for o in site.gpus:
                bought = buy.get((site.name, o.type), 0.0)
                have = o.owned + bought
                self.x.buy[(site.name, o.type)].SetUb(min(left_to_buy(o, bought, self.lift_limits), inf))
                for p in self.periods:
                    for group in SUPPLY_ROWS:
                        row = self.rows.get((group, site.name, o.type, p))
                        if row is not None:
                            row.SetUb(have)
        for j, row in self.work_rows.items():
            row.SetLb(work.get(j, 0.0))

    def variable_cost(self) -> float:
        """The objective of the solution found without its constant part (owned GPUs' running cost)."""
        return self.s.Objective().Value() - sum(self.offset.values())

    @staticmethod
    def resource_row(site: str, cand, period: str) -> tuple[tuple, float]:
        """The resource row one replica of `cand` at `site` uses in `period`, and how much of it:
        tp whole GPUs, one instance of its MIG profile, or one 1/n share."""
        if cand.slot.kind == "gpu":
            return (GPU_SUPPLY, site, cand.gpu, period), float(cand.tp)
        if cand.slot.kind == "mig":
            return (MIG_INSTANCES, site, cand.gpu, period, cand.slot.profile), 1.0
        return (TIME_SHARE, site, cand.gpu, period, cand.slot.per_gpu), 1.0

    def breakdown(self, values: Optional[np.ndarray] = None) -> dict[str, float]:
        """$/hour per cost item in the solution found (or at `values`, one per variable index,
        before the model is solved)."""
        if values is not None:
            value = lambda i: float(values[i])  # noqa: E731
        elif self._handles is not None:
            value = lambda i: self._handles[i].solution_value()  # noqa: E731
        else:
            value = lambda i: float(self._values[i])  # noqa: E731
        return {name: self.offset[name] + sum(c * value(v) for c, v in terms)
                for name, terms in self.cost.items()}


def _mapped(x: Variables, f) -> Variables:
    """`x` with every variable index replaced by f(index)."""
    out = Variables()
    for name in ("buy", "rent", "mig_layout", "time_sliced", "train_gpus", "train_on", "burst"):
        setattr(out, name, {key: f(i) for key, i in getattr(x, name).items()})
    out.replicas = {key: (f(i), c) for key, (i, c) in x.replicas.items()}
    return out


__all__ = ["BENDERS_CUT", "COST_ITEMS", "MIG_REPARTITION", "MIP_GROUPS", "REPLICA_START", "offer_capex", "PATTERN_CHOICE", "indexed_name", "PlanningModel", "Solution", "Variables", "job_offers", "layout_name", "left_to_buy",
           "list_price_per_hour", "own_cost_per_hour", "rent_cost_per_hour", "replica_key", "fleet_cost", "gpus_in_use", "speed", "training_reach",
           "work_per_gpu"]
