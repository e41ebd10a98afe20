"""Column generation over each service's integer replica covers: the relaxation of one period
(gpuopt.planning.decompose.benders coordinates the periods).

Why: with many small services the plain LP relaxation is weak - it serves a 5 req/s service with a
quarter of an H100 replica - so neither its bound nor its rounding is within a percent of the
optimum. Here each (service, period) chooses one *pattern* (integer replicas per slot and site
that cover its demand and minimum replicas); the LP over patterns (the Dantzig-Wolfe master) has
the convex hull of each service's integer covers, a much stronger relaxation. Its columns are
priced by the Rust core (gpuopt._core.cover_min_many: the cheapest integer cover at the LP's
resource prices, exact branch and bound), and the Lagrangian bound z_LP + sum of the most negative
reduced costs is a valid lower bound at every round.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from gpuopt import _core
from gpuopt.planning.model import (GPU_SUPPLY, MIG_INSTANCES, PATTERN_CHOICE, TIME_SHARE, PlanningModel, indexed_name,
                                   list_price_per_hour)
from gpuopt.planning.scenario import Scenario
from gpuopt.estimation.sharing import mig_profile
from gpuopt.planning.solve import solve

log = logging.getLogger(__name__)

NODE_LIMIT = 100_000    # branch-and-bound nodes per pricing problem
SMOOTHING = 0.5         # weight of the best-bound duals in the smoothed prices
ARTIFICIAL = 10.0       # first price of an artificial column, per $/hour of its block at list prices
ALTERNATIVES = 4        # single-kind covers per block added for the repair
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

    def only(self, period: str) -> "Blocks":
        """The blocks of one period."""
        keep = [b for b, (_, p) in enumerate(self.keys) if p == period]
        return Blocks([self.keys[b] for b in keep], self.items, [self.rate[b] for b in keep],
                      [self.least[b] for b in keep])


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
            listed = list_price_per_hour(site, o)
            per_gpu[(site.name, o.type)] = listed if listed < math.inf else 1e4
    out = np.zeros(len(rows))
    for i, key in enumerate(rows):
        group, site, gpu = key[:3]
        if group == GPU_SUPPLY:
            out[i] = per_gpu[(site, gpu)]
        elif group == TIME_SHARE:
            out[i] = per_gpu[(site, gpu)] / key[4]
        elif group == MIG_INSTANCES:
            prof = mig_profile(gpu, key[4])
            out[i] = per_gpu[(site, gpu)] * max(prof["compute_slices"] / 7.0, prof["memory_slices"] / 8.0)
    return out


class Master:
    """The restricted master LP: the fleet side of the planning model plus one pattern_choice row
    per block (sum of its pattern columns = 1) and the pattern columns generated so far."""

    def __init__(self, scn: Scenario, blocks: Blocks, periods: Optional[list[str]] = None, **fleet):
        self.fm = PlanningModel(scn, relax=True, periods=periods, **fleet)
        self.scn, self.blocks = scn, blocks
        s = self.fm.build_solver()
        self.convexity = [s.Constraint(1.0, 1.0, indexed_name(PATTERN_CHOICE, scn.services[k].name, p)) for k, p in blocks.keys]
        self.columns: list[list] = [[] for _ in blocks.keys]   # per block: [(variable, {item: count})]
        self.row_list = list(self.fm.rows)
        self.row_index = {key: i for i, key in enumerate(self.row_list)}
        # per service: each item's row index in every period, and how much of the row a replica uses
        self.item_rows: dict[int, np.ndarray] = {}
        self.item_use: dict[int, np.ndarray] = {}
        self.item_cap: dict[int, np.ndarray] = {}
        periods = self.fm.periods
        for k, items in blocks.items.items():
            rows = np.zeros((len(items), len(periods)), dtype=np.int64)
            use = np.zeros(len(items))
            for i, it in enumerate(items):
                for j, p in enumerate(periods):
                    key, per = PlanningModel.resource_row(it.site, it.cand, p)
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


class Generation:
    """Column generation on one master. Each round prices every block at the LP's duals (for the
    Lagrangian bound) and at the duals smoothed towards those of the best bound so far (Wentges),
    whose columns converge in fewer rounds; a block gets the smoothed column when it improves the
    LP, the plain one otherwise. The first columns are each block's cheapest cover at `start`
    prices, its cheapest single-kind covers, and an artificial column."""

    def __init__(self, master: Master, start: np.ndarray):
        self.master = master
        blocks = master.blocks
        offsets, w, a = master.pricing_input(start)
        cost, _, x = price(offsets, w, a, blocks.rate, blocks.least)
        for b in range(len(blocks.keys)):
            lo, hi = int(offsets[b]), int(offsets[b + 1])
            if math.isfinite(cost[b]):
                master.add_column(b, {i - lo: int(x[i]) for i in range(lo, hi) if x[i]})
            master.add_artificial(b, ARTIFICIAL * (1.0 + cost[b]) if math.isfinite(cost[b]) else 1e9)
        for b, cols in homogeneous(master, start, ALTERNATIVES).items():
            for c in cols:
                master.add_column(b, c)
        self.status = "unsolved"
        self.value = math.nan          # the restricted master's optimum, without its constant part
        self.lagrange = -math.inf      # best Lagrangian bound of the same, this run
        self.pi = start                # resource prices of the last optimal LP
        self.rounds = 0

    def run(self, *, tol: float, max_rounds: int, deadline: float, on_duals=None) -> str:
        """Rounds until the LP is within `tol` of its bound, `max_rounds`, or `deadline`
        (perf_counter). `on_duals(value, reduced_cost_sum, pi)` sees every optimal LP's duals
        before columns are added. Leaves the LP solved with every column in it."""
        master = self.master
        blocks = master.blocks
        center: Optional[tuple[np.ndarray, np.ndarray]] = None
        self.lagrange = -math.inf
        fresh = True    # the LP has no columns it was not solved with
        converged = False   # the LP reached its bound with no column left to add
        for _ in range(max_rounds):
            self.rounds += 1
            master.fm.s.SetSolverSpecificParametersAsString(GLOP_PARAMS)
            r = solve(master.fm.s, time_limit_s=max(deadline - time.perf_counter(), 1.0), lp_bound=False)
            fresh = True
            if r.status != "optimal":   # only an optimal LP's duals give a valid bound
                self.status = r.status if self.status == "unsolved" else "feasible"
                return self.status
            self.value = master.fm.variable_cost()
            pi, sigma = master.prices()
            self.pi = pi
            offsets, w, a = master.pricing_input(pi)
            cost, lower, x = price(offsets, w, a, blocks.rate, blocks.least)
            rc_sum = float(np.minimum(np.asarray(lower) - sigma, 0.0).sum())
            if on_duals is not None:
                on_duals(self.value, rc_sum, pi)
            here = self.value + rc_sum
            if here > self.lagrange or center is None:
                self.lagrange, center = max(self.lagrange, here), (pi, sigma)
            self.status = "optimal"
            if self.value - self.lagrange <= tol * max(abs(self.value), 1e-9):
                # converged - unless an artificial column is still cheaper than what it stands
                # for: the LP was optimal for the wrong problem; price them higher and go on
                if self._artificial_used() and master.escalate():
                    fresh = False
                    continue
                converged = True
                break
            rc = np.asarray(cost) - sigma
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
            if not picks:
                if self._artificial_used() and master.escalate():
                    fresh = False
                    continue
                converged = True
                break
            for b, col in picks.items():
                master.add_column(b, col)
            fresh = False
            if time.perf_counter() > deadline:
                self.status = "feasible"
                break
        if not fresh:   # the values read next must belong to the LP with every column in it
            master.fm.s.SetSolverSpecificParametersAsString(GLOP_PARAMS)
            solve(master.fm.s, time_limit_s=FINAL_SOLVE_S, lp_bound=False)
            self.value = master.fm.variable_cost()
        if self._artificial_used():
            # proven only where the LP converged with its artificial columns at their highest
            # price; stopped earlier (deadline, rounds), it has simply not found a point yet
            self.status = "infeasible" if converged else "unsolved"
        return self.status

    def _artificial_used(self) -> bool:
        return any(v.solution_value() > 1e-6 for v, _ in self.master.artificial)

    def columns(self) -> int:
        return sum(len(c) for c in self.master.columns)


def homogeneous(master: Master, pi: np.ndarray, how_many: int) -> dict[int, list[dict[int, int]]]:
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




__all__ = ["Blocks", "Generation", "Master", "blocks_of", "homogeneous", "list_prices", "price"]
