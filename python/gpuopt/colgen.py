"""Large scenarios: column generation over each service's integer replica covers, then a
per-period integer repair on the columns found (price-and-branch).

Why: with many small services the plain LP relaxation is weak - it serves a 5 req/s service with a
quarter of an H100 replica - so neither its bound nor its rounding is within a percent of the
optimum. Here each (service, period) chooses one *pattern* (integer replicas per slot and site
that cover its demand and minimum replicas); the LP over patterns (the Dantzig-Wolfe master) has
the convex hull of each service's integer covers, a much stronger relaxation. Its columns are
priced by the Rust core (gpuopt._core.cover_min_many: the cheapest integer cover at the LP's
resource prices, exact branch and bound), and the Lagrangian bound z_LP + sum of the most negative
reduced costs is a valid lower bound at every iteration.

Then the integer plan is chosen among the columns found: as one MIP when they are few, else with
the GPUs the LP buys fixed, period by period (the busiest first), one pattern per service in a
small MIP (SCIP) that buys more at full cost or rents where it must.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from . import _core
from .fleet_model import FleetModel, own_cost_per_hour, speed
from .scenario import Scenario
from .sharing import mig_profile
from .solver import Solved, solve

log = logging.getLogger(__name__)

NODE_LIMIT = 100_000    # branch-and-bound nodes per pricing problem
BOUND_TOL = 1e-3        # column generation stops when the LP is within this of its bound
MAX_ROUNDS = 200
SMOOTHING = 0.5         # weight of the best-bound duals in the smoothed prices
ARTIFICIAL = 10.0       # first price of an artificial column, per $/hour of its block at list prices
ALTERNATIVES = 4        # single-kind covers per block added for the repair
REPAIR_GAP = 2e-3       # relative gap each repair MIP stops at
BOUND_SHARE = 0.6       # of the time limit, for the column generation; the repair has the rest
MIN_PERIOD_S = 2.0      # least time a period's repair MIP gets, whatever the limit left
FINAL_SOLVE_S = 600.0   # the last LP re-solve (with the last columns) is not cut short
GLOP_PARAMS = "use_preprocessing: false"   # measured: 15 s instead of 22 s on 100 services x 8 types


@dataclass
class Item:
    """One way to run a replica of a service: a candidate at a site."""
    site: str
    cand: Any


@dataclass
class Blocks:
    """Every (service, period) that must choose a pattern, with its items and demand."""
    keys: list[tuple[int, str]] = field(default_factory=list)
    items: dict[int, list[Item]] = field(default_factory=dict)       # per service
    rate: list[float] = field(default_factory=list)
    least: list[float] = field(default_factory=list)


def blocks_of(scn: Scenario, cands, allowed_sites) -> Blocks:
    out = Blocks()
    offered = {s.name: {o.type for o in s.gpus} for s in scn.sites}
    for k, sv in enumerate(scn.services):
        allowed = set(allowed_sites(scn, sv))
        out.items[k] = [Item(s.name, c) for c in cands.by_service.get(k, [])
                        for s in scn.sites if s.name in allowed and c.gpu in offered[s.name]]
        for p in scn.periods:
            out.keys.append((k, p.name))
            out.rate.append(scn.rate(sv, p.name))
            out.least.append(float(sv.min_replicas))
    return out


def list_prices(scn: Scenario, rows: list[tuple]) -> np.ndarray:
    """$/hour per unit of each resource row at list prices (the cheaper of owning and renting a
    GPU; a MIG instance its larger share of compute or memory slices; a 1/n share a 1/n of it):
    the prices of the first columns, before the LP has any."""
    per_gpu: dict[tuple, float] = {}
    for site in scn.sites:
        for o in site.gpus:
            amortised, running = own_cost_per_hour(site, o)
            own = amortised + running if (o.max_purchase != 0 or o.owned) else math.inf
            rent = o.rent_usd_per_hour if o.rent_usd_per_hour is not None else math.inf
            per_gpu[(site.name, o.type)] = min(own, rent) if min(own, rent) < math.inf else 1e4
    out = np.zeros(len(rows))
    for i, key in enumerate(rows):
        kind, site, gpu = key[:3]
        if kind == "gpu":
            out[i] = per_gpu[(site, gpu)]
        elif kind == "frac":
            out[i] = per_gpu[(site, gpu)] / key[4]
        elif kind == "mig":
            prof = mig_profile(gpu, key[4])
            out[i] = per_gpu[(site, gpu)] * max(prof["compute_slices"] / 7.0, prof["memory_slices"] / 8.0)
    return out


class Master:
    """The restricted master LP: the fleet model plus one convexity row per block and the pattern
    columns generated so far."""

    def __init__(self, scn: Scenario, blocks: Blocks):
        self.fm = FleetModel(scn, relax=True)
        self.scn, self.blocks = scn, blocks
        s = self.fm.s
        self.convexity = [s.Constraint(1.0, 1.0) for _ in blocks.keys]
        self.columns: list[list] = [[] for _ in blocks.keys]   # per block: [(variable, {item: count})]
        self.row_list = list(self.fm.rows)
        self.row_index = {key: i for i, key in enumerate(self.row_list)}
        # per service: each item's row index in every period, and how much of the row a replica uses
        self.item_rows: dict[int, np.ndarray] = {}
        self.item_use: dict[int, np.ndarray] = {}
        self.item_cap: dict[int, np.ndarray] = {}
        periods = [p.name for p in scn.periods]
        for k, items in blocks.items.items():
            rows = np.zeros((len(items), len(periods)), dtype=np.int64)
            use = np.zeros(len(items))
            for i, it in enumerate(items):
                for j, p in enumerate(periods):
                    key, per = FleetModel.row_key(it.site, it.cand, p)
                    rows[i, j] = self.row_index[key]
                    use[i] = per
            self.item_rows[k], self.item_use[k] = rows, use
            self.item_cap[k] = np.array([it.cand.capacity_rps for it in items], dtype=float)
        self.period_index = {p: j for j, p in enumerate(periods)}
        # the same, block after block: what each pricing round reads
        per_block = [(self.item_rows[k][:, self.period_index[p]], self.item_use[k], self.item_cap[k])
                     for k, p in blocks.keys]
        self.offsets = np.zeros(len(per_block) + 1, dtype=np.uint64)
        np.cumsum([len(c) for _, _, c in per_block], out=self.offsets[1:])
        self.flat_rows = np.concatenate([r for r, _, _ in per_block]) if per_block else np.zeros(0, dtype=np.int64)
        self.flat_use = np.concatenate([u for _, u, _ in per_block]) if per_block else np.zeros(0)
        self.flat_cap = np.concatenate([c for _, _, c in per_block]) if per_block else np.zeros(0)
        self.artificial = []
        self.fm.minimize()

    def add_artificial(self, b: int, cost: float) -> None:
        """A column serving block b from nowhere at a high price: keeps the first LPs feasible. If
        the LP still uses one when no column improves it, its price rises (escalate)."""
        v = self.fm.s.NumVar(0, 1, "")
        self.convexity[b].SetCoefficient(v, 1.0)
        self.fm.s.Objective().SetCoefficient(v, cost)
        self.artificial.append((v, cost))

    def escalate(self) -> bool:
        """Makes every artificial column 100 times dearer; False once they are past any real price."""
        if max(c for _, c in self.artificial) >= 1e9:
            return False
        self.artificial = [(v, c * 100.0) for v, c in self.artificial]
        for v, c in self.artificial:
            self.fm.s.Objective().SetCoefficient(v, c)
        return True

    def add_column(self, b: int, counts: dict[int, int]) -> None:
        k, p = self.blocks.keys[b]
        j = self.period_index[p]
        v = self.fm.s.NumVar(0, self.fm.inf, "")
        self.convexity[b].SetCoefficient(v, 1.0)
        per_row: dict[int, float] = {}
        for i, c in counts.items():
            r = int(self.item_rows[k][i, j])
            per_row[r] = per_row.get(r, 0.0) + c * self.item_use[k][i]
        for r, coef in per_row.items():
            self.fm.rows[self.row_list[r]].SetCoefficient(v, coef)
        self.columns[b].append((v, counts))

    def prices(self) -> tuple[np.ndarray, np.ndarray]:
        """(resource prices >= 0 per row, convexity duals per block) of the LP just solved."""
        pi = np.array([-self.fm.rows[key].dual_value() for key in self.row_list])
        sigma = np.array([c.dual_value() for c in self.convexity])
        return np.maximum(pi, 0.0), sigma

    def weights(self, pi: np.ndarray) -> np.ndarray:
        """Every block's item prices at resource prices `pi`, flattened as cover_min_many takes them."""
        return self.flat_use * pi[self.flat_rows]

    def pricing_input(self, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flattened (offsets, item prices, capacities) of every block, as cover_min_many takes them."""
        return self.offsets, self.weights(pi), self.flat_cap


def price(offsets, w, a, r, m):
    """The cheapest integer cover of every block at prices w (Rust core)."""
    return _core.cover_min_many(offsets, w, a, np.asarray(r, dtype=float), np.asarray(m, dtype=float), NODE_LIMIT)


@dataclass
class ColumnGeneration:
    master: Master
    status: str            # optimal / infeasible / unsolved
    lp_value: float
    bound: float           # Lagrangian lower bound on the integer optimum
    rounds: int
    columns: int
    seconds: float
    extra: dict[int, list[dict[int, int]]] = field(default_factory=dict)  # more columns for the repair only


def column_generation(scn: Scenario, blocks: Blocks, *, time_limit_s: float, tol: float = BOUND_TOL) -> ColumnGeneration:
    """Solves the master LP by column generation. Each round prices every block at the LP's duals
    (for the Lagrangian bound) and at the duals smoothed towards those of the best bound so far
    (Wentges), whose columns converge in fewer rounds; a block gets the smoothed column when it
    improves the LP, the plain one otherwise."""
    t0 = time.perf_counter()
    master = Master(scn, blocks)
    # first columns: each block's cheapest cover, and its cheapest single-kind covers, at list prices
    unit = list_prices(scn, master.row_list)
    offsets, w, a = master.pricing_input(unit)
    cost, _, x = price(offsets, w, a, blocks.rate, blocks.least)
    for b in range(len(blocks.keys)):
        lo, hi = int(offsets[b]), int(offsets[b + 1])
        if math.isfinite(cost[b]):
            master.add_column(b, {i - lo: int(x[i]) for i in range(lo, hi) if x[i]})
        master.add_artificial(b, ARTIFICIAL * (1.0 + cost[b]) if math.isfinite(cost[b]) else 1e9)
    for b, cols in _homogeneous(master, unit, ALTERNATIVES).items():
        for c in cols:
            master.add_column(b, c)
    bound, value, rounds = -math.inf, math.nan, 0
    center: Optional[tuple[np.ndarray, np.ndarray]] = None
    status = "unsolved"
    while rounds < MAX_ROUNDS:
        rounds += 1
        master.fm.s.SetSolverSpecificParametersAsString(GLOP_PARAMS)
        r = solve(master.fm.s, time_limit_s=max(time_limit_s - (time.perf_counter() - t0), 1.0), lp_bound=False)
        if r.status != "optimal":  # only an optimal LP's duals give a valid bound
            status = "feasible" if rounds > 1 else r.status
            _final_solve(master)
            break
        value = r.objective
        pi, sigma = master.prices()
        offsets, w, a = master.pricing_input(pi)
        cost, lower, x = price(offsets, w, a, blocks.rate, blocks.least)
        rc = np.asarray(cost) - sigma
        here = value + float(np.minimum(np.asarray(lower) - sigma, 0.0).sum())
        if here > bound or center is None:
            bound, center = max(bound, here), (pi, sigma)
        improving = rc < -1e-9 * np.maximum(1.0, np.abs(sigma))
        picks = {int(b): {i - int(offsets[b]): int(x[i]) for i in range(int(offsets[b]), int(offsets[b + 1])) if x[i]}
                 for b in np.flatnonzero(improving)}
        if SMOOTHING and improving.any():
            pi_s = SMOOTHING * center[0] + (1 - SMOOTHING) * pi
            _, _, x_s = price(offsets, master.weights(pi_s), a, blocks.rate, blocks.least)
            for b in np.flatnonzero(improving):
                lo, hi = int(offsets[b]), int(offsets[b + 1])
                if float(np.dot(w[lo:hi], x_s[lo:hi])) - sigma[b] < -1e-9 * max(1.0, abs(sigma[b])):
                    picks[int(b)] = {i - lo: int(x_s[i]) for i in range(lo, hi) if x_s[i]}
        for b, col in picks.items():
            master.add_column(b, col)
        status = "optimal"
        log.debug("round %d: LP %.4f, bound %.4f, %d columns added, LP %.2f s, %.1f s in all",
                  rounds, value, bound, len(picks), r.seconds, time.perf_counter() - t0)
        if not picks:
            if any(v.solution_value() > 1e-6 for v, _ in master.artificial) and master.escalate():
                continue
            break
        done = value - bound <= tol * max(abs(value), 1e-9)
        # stop before a round that would end past the limit (the LP grows every round)
        if done or time.perf_counter() - t0 + 1.5 * r.seconds > time_limit_s:
            status = "optimal" if done else "feasible"
            _final_solve(master)
            break
    if status in ("optimal", "feasible") and any(v.solution_value() > 1e-6 for v, _ in master.artificial):
        status = "infeasible"
    out = ColumnGeneration(master, status, value, bound, rounds, sum(len(c) for c in master.columns),
                           time.perf_counter() - t0)
    if status in ("optimal", "feasible"):
        out.extra = _homogeneous(master, master.prices()[0] + 1e-6 * unit, ALTERNATIVES)
    return out


def _final_solve(master: Master) -> None:
    """The LP values the repair reads must belong to the master with every column in it, solved
    to optimality (its columns are all there is to choose from; no time limit binds a re-solve)."""
    master.fm.s.SetSolverSpecificParametersAsString(GLOP_PARAMS)
    solve(master.fm.s, time_limit_s=FINAL_SOLVE_S, lp_bound=False)


def _homogeneous(master: Master, pi: np.ndarray, how_many: int) -> dict[int, list[dict[int, int]]]:
    """Per block, the `how_many` cheapest covers by one kind of replica alone at prices `pi` that
    are not columns yet: room for the integer repair to pack GPUs whole."""
    out: dict[int, list[dict[int, int]]] = {}
    blocks = master.blocks
    for b, (k, p) in enumerate(blocks.keys):
        cap = master.item_cap[k]
        if not len(cap):
            continue
        n = np.maximum(np.ceil(blocks.rate[b] / cap - 1e-9), blocks.least[b])
        n = np.maximum(n, 0)
        w = master.item_use[k] * pi[master.item_rows[k][:, master.period_index[p]]]
        have = [c for _, c in master.columns[b]]
        picks = []
        for i in np.argsort(w * n, kind="stable"):
            col = {int(i): int(n[i])} if n[i] > 0 else {}
            if col not in have and col not in picks:
                picks.append(col)
            if len(picks) == how_many:
                break
        out[b] = picks
    return out


WHOLE_MIP_COLUMNS = 20_000   # restricted masters up to this many columns are solved as one MIP


def _pattern_mip(scn: Scenario, cg: ColumnGeneration, periods: list[str], only_lp_choice: bool = False,
                 **fleet) -> tuple[FleetModel, list]:
    """The restricted master over `periods` as a MIP: one binary per column, one column per block,
    on a FleetModel built with `fleet` (base_buy, work_targets). The LP's choice is the hint; with
    `only_lp_choice` it is the only column, and only the GPUs, layouts and rentals are chosen."""
    master, blocks = cg.master, cg.master.blocks
    fm = FleetModel(scn, relax=False, periods=periods, **fleet)
    s, chosen = fm.s, []
    wanted = set(periods)
    hint_vars, hint_vals = [], []
    for b, (k, p) in enumerate(blocks.keys):
        if p not in wanted:
            continue
        one = s.Constraint(1.0, 1.0)
        opts = []
        columns = master.columns[b] + [(None, c) for c in cg.extra.get(b, [])]
        if only_lp_choice:
            columns = [max(columns, key=lambda col: col[0].solution_value() if col[0] is not None else -1.0)]
        for lp_var, counts in columns:
            v = s.BoolVar("")
            one.SetCoefficient(v, 1.0)
            per_row: dict[tuple, float] = {}
            for i, c in counts.items():
                key, per = FleetModel.row_key(blocks.items[k][i].site, blocks.items[k][i].cand, p)
                per_row[key] = per_row.get(key, 0.0) + c * per
            for key, coef in per_row.items():
                fm.rows[key].SetCoefficient(v, coef)
            opts.append((v, counts, lp_var.solution_value() if lp_var is not None else 0.0))
        best = max(range(len(opts)), key=lambda q: opts[q][2])
        hint_vars += [v for v, _, _ in opts]
        hint_vals += [1.0 if q == best else 0.0 for q in range(len(opts))]
        chosen.append((b, opts))
    fm.minimize()
    s.SetHint(hint_vars, hint_vals)
    return fm, chosen


def _record(blocks: Blocks, chosen: list, merged: dict) -> None:
    """Replicas of the columns the MIP chose."""
    for b, opts in chosen:
        k, p = blocks.keys[b]
        for v, counts, _ in opts:
            if v.solution_value() > 0.5:
                for i, c in counts.items():
                    it = blocks.items[k][i]
                    key = (k, it.site, f"{it.cand.slot.id}@tp{it.cand.tp}", p)
                    merged["R"][key] = (merged["R"].get(key, (0, it.cand))[0] + c, it.cand)


def repair(scn: Scenario, cg: ColumnGeneration, *, time_limit_s: float, threads: Optional[int], seed: int,
           relative_gap: float) -> tuple[Solved, dict, dict]:
    """Integer plan from the columns found: the whole restricted master as one MIP when small;
    otherwise period by period, the busiest first, on the GPUs the LP buys (rounded down), each
    period buying more at full cost where it must - what one period buys, later ones have."""
    master, blocks = cg.master, cg.master.blocks
    merged: dict[str, dict] = {"buy": {}, "rent": {}, "R": {}, "M": {}, "F": {}, "T": {}, "B": {}}
    kw = dict(threads=threads, seed=seed, relative_gap=max(relative_gap, REPAIR_GAP), lp_bound=False)
    if cg.columns <= WHOLE_MIP_COLUMNS:
        fm, chosen = _pattern_mip(scn, cg, [p.name for p in scn.periods])
        r = solve(fm.s, time_limit_s=time_limit_s, **kw)
        if r.status not in ("optimal", "feasible"):
            return r, {}, {}
        _record(blocks, chosen, merged)
        for name in merged:
            merged[name].update(fm.V[name])
        return r, merged, {"model": fm, "mode": "restricted-master MIP"}
    V_lp = master.fm.V
    base = {key: int(math.floor(v.solution_value() + 1e-6)) for key, v in V_lp["buy"].items()}
    H = scn.cycle_hours
    hours = {p.name: p.hours for p in scn.periods}
    targets: dict[str, dict[int, float]] = {}
    for (j, sn, g, p), t in V_lp["T"].items():
        job = scn.training[j]
        work = t.solution_value() * hours[p] * job.deadline_days * 24.0 / H * speed(g, job.reference_gpu)
        targets.setdefault(p, {})[j] = targets.get(p, {}).get(j, 0.0) + work * (1 - 1e-9)
    burst = {j: v.solution_value() for j, v in V_lp["B"].items()}
    merged["B"] = dict(burst)
    breakdown = {"capex": 0.0, "power+licences": 0.0, "cloud": 0.0, "sharing licences": 0.0, "training burst": 0.0}
    keep = [master.fm.s]
    demand = {p.name: 0.0 for p in scn.periods}
    for b, (_, p) in enumerate(blocks.keys):
        demand[p] += blocks.rate[b]
    order = sorted(scn.periods, key=lambda q: -demand[q.name])
    t0 = time.perf_counter()
    last = None
    for n_done, period in enumerate(order):
        left = max(time_limit_s - (time.perf_counter() - t0), 1.0)
        fleet = dict(base_buy=base, work_targets=targets.get(period.name, {}))
        fm, chosen = _pattern_mip(scn, cg, [period.name], **fleet)
        r = solve(fm.s, time_limit_s=max(left / (len(order) - n_done), MIN_PERIOD_S), **kw)
        if r.status == "unsolved":  # no time to choose: keep the LP's column per service, fit GPUs to them
            fm, chosen = _pattern_mip(scn, cg, [period.name], only_lp_choice=True, **fleet)
            r = solve(fm.s, time_limit_s=FINAL_SOLVE_S, **kw)
        if r.status not in ("optimal", "feasible"):
            return r, {}, {}
        last = r
        keep.append(fm.s)
        for name in ("rent", "M", "F", "T"):
            merged[name].update(fm.V[name])
        _record(blocks, chosen, merged)
        for key, v in fm.V["buy"].items():
            base[key] += int(round(v.solution_value()))
        part = fm.breakdown()
        for name in ("cloud", "sharing licences"):
            breakdown[name] += part[name]
    for site in scn.sites:
        for o in site.gpus:
            key = (site.name, o.type)
            merged["buy"][key] = base[key]
            amortised, running = own_cost_per_hour(site, o)
            breakdown["capex"] += amortised * base[key]
            breakdown["power+licences"] += running * (base[key] + o.owned)
    for j, b in burst.items():
        job = scn.training[j]
        breakdown["training burst"] += job.burst_usd_per_gpu_hour / (job.deadline_days * 24.0) * b
    return last, merged, {"breakdown": breakdown, "keep": keep, "mode": "per-period MIPs"}


__all__ = ["Blocks", "ColumnGeneration", "blocks_of", "column_generation", "repair"]
