"""Large scenarios: each period planned on its own, the periods coordinated by what they share.

The periods share only the GPUs bought (one count per site and type, there in every period) and
the training jobs' work (spread over the periods each job may use). Given those, a period is an
independent problem - a thousand services on one part of the day's fleet - whose Dantzig-Wolfe
relaxation gpuopt.planning.decompose.colgen solves in a fraction of a second. (One master over every period at once
is far slower: measured on 1,000 services x 12 types x 24 periods, 31k rows and 8-19 s per LP
against 0.02 s per period's LP.)

A small coordinating LP (Benders) chooses the purchases b and each job's work per period w. Every
LP a period's column generation solves gives a cut

    theta_p >= z_p + sum of its blocks' most negative reduced costs - pi . (b - b0) + rho . (w - w0)

- its Lagrangian bound at the LP's duals (pi on the rows whose right-hand side b is, rho on the
work rows), a function of b and w that is valid for every b and w. So the coordinator's optimum is
a lower bound on the whole problem at every iteration; the loop stops when the periods' costs at
the coordinator's point are within `tol` of it.

The integer plan: purchases from the coordinator with integer b (a small MIP, still a lower bound
on the integer problem), then each period's replicas and GPUs chosen among its columns by a MIP on
those GPUs (buying more at full cost where it must, which later periods then have); a small
scenario's columns go into one MIP over every period instead.
"""

from __future__ import annotations

import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from gpuopt.planning.decompose import dive, improve
from gpuopt.planning.decompose.colgen import ALTERNATIVES, Blocks, Generation, Master, homogeneous, list_prices
from gpuopt.planning.model import (BENDERS_CUT, COST_ITEMS, PATTERN_CHOICE, SUPPLY_ROWS, TRAINING_WORK, PlanningModel,
                                   Solution, Variables, fleet_cost, indexed_name, job_offers, own_cost_per_hour, replica_key,
                                   training_reach)
from gpuopt.planning.scenario import Scenario
from gpuopt.planning.solve import Solved, found, gap_between, new_solver, solve, solver_version, status_within

log = logging.getLogger(__name__)

BOUND_TOL = 2e-3        # stop when the periods' LP costs are within this of the coordinator's bound
PERIOD_TOL = 1e-3       # each visit to a period's column generation stops within this of its bound
FIRST_TOL = 1e-2        # the same on the first visit, when the purchases are still far off
STABILITY = 0.5         # in-out stabilisation: share of the way back to the best point
FIRST_ROUNDS = 80       # column generation rounds on a period's first visit, and on later ones
LATER_ROUNDS = 8
MAX_ITERATIONS = 200
WHOLE_MIP_COLUMNS = 20_000   # columns up to which the integer plan is one MIP over every period
BOUND_SHARE = 0.6       # of the time limit, for the bound; the integer plan has the rest
MIN_PERIOD_S = 2.0      # least time a period's integer MIP gets, whatever the limit left
FINAL_SOLVE_S = 600.0   # a fallback MIP (the LP's columns, GPUs fitted) is not cut short
ROUND_UP_FROM = 0.05    # a fractional purchase above this many GPUs is rounded up
REPAIR_GAP = 2e-3       # relative gap each integer MIP stops at
COLUMN_MIP_SHARE = 0.5     # of the time left, for the MIP over every period's columns (the local search has the rest)
PERIOD_OPTIMA_SHARE = 0.3   # of the integer plan's time, for each period's own optima as more columns
DIVE_SHARE = 0.8           # of the integer plan's time, by when the dive (gpuopt.planning.decompose.dive) must be done
COLUMN_MIP_UP_TO = 8       # periods up to which the integer plan is the MIP over every period's columns (else a dive)


def workers_for(threads: Optional[int]) -> int:
    """Periods solved side by side: `threads`, or every core."""
    return max(1, threads if threads is not None else (os.cpu_count() or 1))


class Coordinator:
    """The coordinating LP: purchases b per (site, type), work w per (job, period) and cloud
    burst per job, and theta_p >= every cut of period p."""

    def __init__(self, scn: Scenario):
        self.scn = scn
        self.periods = [p.name for p in scn.periods]
        self.buy: dict[tuple, tuple[float, float]] = {}     # key -> ($/h per GPU bought, most)
        self.constant = 0.0
        for site in scn.sites:
            for o in site.gpus:
                amortised, running = own_cost_per_hour(site, o)
                self.constant += running * o.owned
                if o.max_purchase != 0:
                    most = o.max_purchase if o.max_purchase is not None else math.inf
                    self.buy[(site.name, o.type)] = (amortised + running, most)
        self.work: dict[int, list[str]] = {}                # job -> periods it may use
        self.reach: dict[tuple[int, str], float] = {}       # most work a period can give a job
        hours = {p.name: p.hours_per_day for p in scn.periods}
        self.burst: dict[int, float] = {}                   # job -> $/h per reference GPU-hour of work
        for j, job in enumerate(scn.training):
            if any(True for _ in job_offers(scn, job)):
                self.work[j] = [p for p in self.periods if not job.periods or p in job.periods]
                for p in self.work[j]:
                    self.reach[(j, p)] = training_reach(scn, job, hours[p])
            if job.burst_usd_per_gpu_hour is not None:
                self.burst[j] = job.burst_usd_per_gpu_hour / (job.deadline_days * 24.0)
        # per period: (constant, b coefficients, w coefficients); read in period order, whatever
        # order the threads add them in
        self.cuts: dict[str, list[tuple[float, dict, dict]]] = {p: [] for p in self.periods}

    def start(self) -> tuple[dict, dict, dict]:
        """Nothing bought; each job's work spread evenly over its periods."""
        w = {p: {} for p in self.periods}
        for j, ps in self.work.items():
            for p in ps:
                w[p][j] = self.scn.training[j].gpu_hours / len(ps)
        burst = {j: self.scn.training[j].gpu_hours for j in self.burst if j not in self.work}
        return {key: 0.0 for key in self.buy}, w, burst

    def fixed_cost(self, b: dict, burst: dict) -> float:
        return self.constant + sum(self.buy[k][0] * v for k, v in b.items()) + \
            sum(self.burst[j] * v for j, v in burst.items())

    def add_cut(self, period: str, value: float, b0: dict, w0: dict, slope_b: dict, slope_w: dict) -> None:
        """theta_period >= value - slope_b . (b - b0) + slope_w . (w - w0), stored as a constant and
        coefficients."""
        const = value + sum(slope_b[k] * b0.get(k, 0.0) for k in slope_b) - sum(slope_w[j] * w0.get(j, 0.0) for j in slope_w)
        self.cuts[period].append((const, slope_b, slope_w))

    def solve(self, integer: bool = False, time_limit_s: float = 60.0) -> tuple[float, dict, dict, dict]:
        """(lower bound, b, w per period, burst) at the optimum over every cut so far; with
        `integer`, GPUs are bought whole (SCIP), else the LP (GLOP)."""
        s = new_solver("SCIP" if integer else "GLOP")
        inf = s.infinity()
        obj = s.Objective()
        b = {k: (s.IntVar if integer else s.NumVar)(0, most if math.isfinite(most) else inf, indexed_name("buy", *k))
             for k, (_, most) in self.buy.items()}
        for k, v in b.items():
            obj.SetCoefficient(v, self.buy[k][0])
        w = {(j, p): s.NumVar(0, min(self.reach[(j, p)], inf), indexed_name("work", self.scn.training[j].name, p))
             for j, ps in self.work.items() for p in ps}
        burst = {j: s.NumVar(0, inf, indexed_name("burst", self.scn.training[j].name)) for j in self.burst}
        for j, v in burst.items():
            obj.SetCoefficient(v, self.burst[j])
        for j, job in enumerate(self.scn.training):
            row = s.Constraint(job.gpu_hours, inf, indexed_name(TRAINING_WORK, job.name))
            for p in self.work.get(j, []):
                row.SetCoefficient(w[(j, p)], 1.0)
            if j in burst:
                row.SetCoefficient(burst[j], 1.0)
        theta = {p: s.NumVar(0, inf, indexed_name("theta", p)) for p in self.periods}
        for v in theta.values():
            obj.SetCoefficient(v, 1.0)
        for p, i, (const, slope_b, slope_w) in ((p, i, cut) for p in self.periods for i, cut in enumerate(self.cuts[p])):
            row = s.Constraint(const, inf, indexed_name(BENDERS_CUT, p, i))
            row.SetCoefficient(theta[p], 1.0)
            for k, c in slope_b.items():
                if c and k in b:
                    row.SetCoefficient(b[k], c)
            for j, c in slope_w.items():
                if c and (j, p) in w:
                    row.SetCoefficient(w[(j, p)], -c)
        obj.SetOffset(self.constant)
        obj.SetMinimization()
        r = solve(s, time_limit_s=time_limit_s, relative_gap=1e-6, lp_bound=False)
        if not found(r.status):
            return -math.inf, {}, {}, {}
        bound = r.bound if integer else r.objective
        wp = {p: {} for p in self.periods}
        for (j, p), v in w.items():
            wp[p][j] = max(v.solution_value(), 0.0)
        return (bound, {k: max(v.solution_value(), 0.0) for k, v in b.items()}, wp,
                {j: max(v.solution_value(), 0.0) for j, v in burst.items()})


@dataclass
class Coordination:
    status: str                       # optimal (within tol) / feasible (stopped) / infeasible / unsolved
    bound: float                      # lower bound on the problem's optimum ($/hour)
    lp_value: float                   # the periods' LP costs at the best point found
    coordinator: Coordinator
    masters: dict[str, Master]
    generations: dict[str, Generation]
    iterations: int
    seconds: float
    point: tuple = ()                 # (b, w, burst) of the best LP point
    extra: dict[str, dict] = field(default_factory=dict)   # per period, more columns for the integer plan

    def columns(self) -> int:
        return sum(g.columns() for g in self.generations.values())


def _cut_slopes(master: Master, coord: Coordinator, pi: np.ndarray) -> tuple[dict, dict]:
    """How a period's Lagrangian bound falls per GPU bought, and rises per unit of work asked of
    it (the work rows' duals). A GPU bought is worth the prices of the rows it supplies, but never
    more than its own price: past that the period buys the rest of the limit itself, and every GPU
    the coordinator buys is one fewer the period may."""
    (period,) = master.fm.periods
    slope_b = {}
    for key, (price_of, _) in coord.buy.items():
        total = 0.0
        for group in SUPPLY_ROWS:
            i = master.row_index.get((group,) + key + (period,))
            if i is not None:
                total += pi[i]
        slope_b[key] = min(total, price_of)
    slope_w = {j: max(row.dual_value(), 0.0) for j, row in master.fm.work_rows.items() if j in coord.work}
    return slope_b, slope_w


def _seed_prices(scn: Scenario, master: Master, previous: Optional[tuple[Master, np.ndarray]]) -> np.ndarray:
    """First prices for a period: the neighbouring period's last duals (demand moves slowly through
    the day), else list prices."""
    if previous is None:
        return list_prices(scn, master.row_list)
    prev_master, pi = previous
    (p_prev,) = prev_master.fm.periods
    out = list_prices(scn, master.row_list)
    for i, key in enumerate(master.row_list):
        j = prev_master.row_index.get(key[:3] + (p_prev,) + key[4:])
        if j is not None:
            out[i] = pi[j]
    return out


def _toward(center: tuple, point: tuple, alpha: float) -> tuple:
    """(b, w, burst) a share `alpha` of the way from `point` back to `center` (in-out
    stabilisation: the coordinator's optimum jumps between extremes while its cuts are few; the
    periods are visited nearer the best point so far, and every cut stays valid)."""
    if not all(math.isfinite(v) for v in center[0].values()) or alpha == 0:
        return point
    mix = lambda a, b: {k: alpha * a.get(k, 0.0) + (1 - alpha) * v for k, v in b.items()}  # noqa: E731
    b, w, burst = point
    return mix(center[0], b), {p: mix(center[1][p], w[p]) for p in w}, mix(center[2], burst)


def coordinate(scn: Scenario, blocks: Blocks, *, time_limit_s: float, tol: float = BOUND_TOL,
               workers: int = 1) -> Coordination:
    """The lower bound and LP point of the whole problem by Benders over purchases and training
    work, each period's LP by column generation. The periods are split into `workers` runs of
    consecutive periods solved side by side (the solvers release the GIL); each period's first
    prices are its predecessor's last duals in the same run."""
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    coord = Coordinator(scn)
    periods = coord.periods
    masters = {p: Master(scn, blocks.only(p), periods=[p], work_targets={}) for p in periods}
    gens: dict[str, Generation] = {}
    b, w, burst = coord.start()
    best = (math.inf, (b, w, burst))
    bound, status, it = -math.inf, "unsolved", 0
    workers = max(1, min(workers, len(periods)))
    runs = [periods[len(periods) * i // workers:len(periods) * (i + 1) // workers] for i in range(workers)]

    def visit(run: list[str]) -> Optional[str]:
        """Column generation on each period of `run` at the current point; a failed status, or None."""
        previous = None
        for p in run:
            m = masters[p]
            m.fm.set_supply(b, w[p])
            first = p not in gens
            if first:
                gens[p] = Generation(m, _seed_prices(scn, m, previous))

            def on_duals(value, rc_sum, pi, m=m, p=p):
                slope_b, slope_w = _cut_slopes(m, coord, pi)
                coord.add_cut(p, value + rc_sum, b, w[p], slope_b, slope_w)

            st = gens[p].run(tol=FIRST_TOL if first else PERIOD_TOL, max_rounds=FIRST_ROUNDS if first else LATER_ROUNDS,
                             deadline=deadline, on_duals=on_duals)
            if not found(st):
                return st
            previous = (m, gens[p].pi)
        return None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        while it < MAX_ITERATIONS:
            it += 1
            failed = [st for st in pool.map(visit, runs) if st is not None]
            if failed:
                return Coordination(failed[0], -math.inf, math.nan, coord, masters, gens, it, time.perf_counter() - t0)
            ub = coord.fixed_cost(b, burst) + sum(gens[p].value for p in periods)
            if ub < best[0]:
                best = (ub, (b, w, burst))
            lb, *point = coord.solve()
            b, w, burst = _toward(best[1], tuple(point), STABILITY)
            bound = max(bound, lb)
            log.debug("iteration %d: periods' LP %.4f (best %.4f), bound %.4f, %.1f s",
                      it, ub, best[0], bound, time.perf_counter() - t0)
            if best[0] - bound <= tol * max(abs(best[0]), 1e-9):
                status = "optimal"
                break
            if time.perf_counter() > deadline:
                status = "feasible"
                break
    return Coordination(status, bound, best[0], coord, masters, gens, it, time.perf_counter() - t0, best[1])


KEEP_COLUMNS = 6   # per block, the columns of least reduced cost the integer MIP may choose (besides the LP's)


def _elastic(scn: Scenario) -> set[tuple[str, str]]:
    """(site, type) that may be rented without limit: replicas there never lack a GPU."""
    return {(s.name, o.type) for s in scn.sites for o in s.gpus if o.rent_usd_per_hour is not None and o.max_rent is None}


def _options(gen: Generation, b: int, extra: list[dict[int, int]], settled: Optional[set]) -> list[tuple[object, dict, float]]:
    """A block's columns for the integer MIP: those the LP uses, the KEEP_COLUMNS cheapest at its
    last prices, and `extra` ones: (LP variable or None, counts, LP value). A block the LP serves
    whole with one column on `settled` (site, type) only keeps just that one."""
    master = gen.master
    k, p = master.blocks.keys[b]
    cols = master.columns[b]
    if settled:
        items = master.blocks.items[k]
        whole = [(v, c, v.solution_value()) for v, c in cols if v.solution_value() > 1 - 1e-6
                 and all((items[i].site, items[i].cand.gpu) in settled for i in c)]
        if whole:
            return whole[:1]
    w = master.item_use[k] * gen.pi[master.item_rows[k][:, master.period_index[p]]]
    price_of = [sum(c * w[i] for i, c in counts.items()) for _, counts in cols]
    ranked = sorted(range(len(cols)), key=lambda q: price_of[q])
    keep = set(ranked[:KEEP_COLUMNS]) | {q for q, (v, _) in enumerate(cols) if v.solution_value() > 1e-6}
    out = [(cols[q][0], cols[q][1], cols[q][0].solution_value()) for q in sorted(keep)]
    return out + [(None, c, 0.0) for c in extra]


def _pattern_mip(scn: Scenario, co: Coordination, periods: list[str], only_lp_choice: bool = False,
                 settled: Optional[set] = None, **fleet) -> tuple[PlanningModel, list]:
    """The columns of `periods` as a MIP: one binary per column, one column per block, on a
    PlanningModel built with `fleet` (base_buy, work_targets). The LP's choice is the hint; with
    `only_lp_choice` it is the only column, and only the GPUs, layouts and rentals are chosen;
    so it is for a block the LP serves whole with one column on `settled` (site, type) only."""
    fm = PlanningModel(scn, relax=False, periods=periods, **fleet)
    s, chosen = fm.build_solver(), []
    hint_vars, hint_vals = [], []
    for p in periods:
        gen = co.generations[p]
        blocks = gen.master.blocks
        extra = co.extra.get(p, {})
        for b, (k, _) in enumerate(blocks.keys):
            opts = _options(gen, b, extra.get(b, []), settled)
            if only_lp_choice:
                opts = [max(opts, key=lambda o: o[2])]
            one = s.Constraint(1.0, 1.0, indexed_name(PATTERN_CHOICE, scn.services[k].name, p))
            made = []
            for _, counts, lp in opts:
                v = s.BoolVar("")
                one.SetCoefficient(v, 1.0)
                per_row: dict[tuple, float] = {}
                for i, c in counts.items():
                    key, per = PlanningModel.resource_row(blocks.items[k][i].site, blocks.items[k][i].cand, p)
                    per_row[key] = per_row.get(key, 0.0) + c * per
                for key, coef in per_row.items():
                    fm.rows[key].SetCoefficient(v, coef)
                made.append((v, counts, lp))
            top = max(range(len(made)), key=lambda q: made[q][2])
            hint_vars += [v for v, _, _ in made]
            hint_vals += [1.0 if q == top else 0.0 for q in range(len(made))]
            chosen.append((blocks, b, made))
    s.SetHint(hint_vars, hint_vals)
    return fm, chosen


def _record(chosen: list, merged: Variables) -> None:
    """Replicas of the columns the MIP chose."""
    for blocks, b, made in chosen:
        k, p = blocks.keys[b]
        for v, counts, _ in made:
            if v.solution_value() > 0.5:
                for i, c in counts.items():
                    it = blocks.items[k][i]
                    key = replica_key(k, it.site, it.cand, p)
                    merged.replicas[key] = (merged.replicas.get(key, (0, it.cand))[0] + c, it.cand)


def dived(scn: Scenario, co: Coordination) -> bool:
    """Whether the integer plan from `co` is a dive: a small decomposition (up to
    WHOLE_MIP_COLUMNS columns) over more than COLUMN_MIP_UP_TO periods."""
    return len(scn.periods) > COLUMN_MIP_UP_TO and co.columns() <= WHOLE_MIP_COLUMNS


def _dived(inc: improve.Incumbent, bound: float, seconds: float, relative_gap: float) -> Solution:
    """The dive's plan (gpuopt.planning.decompose.dive) as the integer plan, with the coordination's bound."""
    name = f"a dive from the LP's purchases, each period exact ({solver_version('SCIP')})"
    solved = Solved(status_within(inc.cost, bound, relative_gap), inc.cost, bound, math.nan,
                    gap_between(inc.cost, bound), seconds, name)
    return Solution(solved, inc.x, inc.breakdown, bound, name)


def integer_plan(scn: Scenario, co: Coordination, *, time_limit_s: float, threads: Optional[int], seed: int,
                 relative_gap: float, cands=None) -> Solution:
    """The integer plan from the coordination, as a Solution whose bound is the coordination's.
    Small scenarios: one MIP over every period's columns; over more than COLUMN_MIP_UP_TO periods,
    a dive (gpuopt.planning.decompose.dive), that MIP only where the dive finds no plan. Large ones:
    the coordinator's purchases made whole; each period's columns re-priced on them and chosen by
    a MIP that rents what it lacks (periods side by side, `threads` at a time); a period that
    cannot do without buying more then buys at full cost, the busiest first, and later ones have
    what earlier ones bought."""
    t0 = time.perf_counter()
    coord = co.coordinator
    kw = dict(seed=seed, relative_gap=max(relative_gap, REPAIR_GAP), lp_bound=False)
    merged = Variables()
    periods = coord.periods
    for p, gen in co.generations.items():
        co.extra[p] = homogeneous(gen.master, gen.pi + 1e-6 * list_prices(scn, gen.master.row_list), ALTERNATIVES)
    if co.columns() <= WHOLE_MIP_COLUMNS:
        if cands is not None and dived(scn, co):
            inc = dive.dive(scn, co, deadline=t0 + time_limit_s * DIVE_SHARE, seed=seed)
            if inc is not None:
                return _dived(inc, co.bound, time.perf_counter() - t0, kw["relative_gap"])
        if cands is not None:
            improve.add_period_optima(scn, cands, co, deadline=t0 + time_limit_s * PERIOD_OPTIMA_SHARE, seed=seed,
                                      relative_gap=kw["relative_gap"])
        fm, chosen = _pattern_mip(scn, co, periods)
        left = max(time_limit_s - (time.perf_counter() - t0), MIN_PERIOD_S)
        r = solve(fm.s, time_limit_s=left * (COLUMN_MIP_SHARE if cands is not None else 1.0), **kw)
        if not found(r.status):
            return Solution(r, merged, {}, co.bound, "one MIP over the columns")
        _record(chosen, merged)
        for name in ("buy", "rent", "mig_layout", "time_sliced", "train_gpus", "train_on", "burst"):
            getattr(merged, name).update(getattr(fm.x, name))
        return Solution(r, merged, fm.breakdown(), co.bound, f"one MIP over the columns ({r.solver})", [fm.s])
    # the bound with GPUs bought whole; the purchases themselves: the LP's rounded up, whose slack
    # absorbs what whole MIG layouts and replicas need beyond the LP at the peak
    bound, _, _, _ = coord.solve(integer=True, time_limit_s=max(time_limit_s / 10, 1.0))
    bound = max(bound, co.bound)
    b_lp, w, burst = co.point
    base = {key: int(math.ceil(v - ROUND_UP_FROM)) for key, v in b_lp.items()}
    breakdown = dict.fromkeys(COST_ITEMS, 0.0)
    for j, v in burst.items():
        breakdown["training burst"] += coord.burst[j] * v
        merged.burst[j] = v
    demand = {p: sum(co.masters[p].blocks.rate) for p in periods}
    order = sorted(periods, key=lambda p: -demand[p])
    settled = _elastic(scn)
    workers = workers_for(threads)

    def period_mip(p: str, base: dict, share: float, buy_more: bool):
        """Period p's columns re-priced on the GPUs bought, then its integers (a MIP)."""
        gen = co.generations[p]
        gen.master.fm.set_supply(base, w[p])
        gen.run(tol=PERIOD_TOL, max_rounds=LATER_ROUNDS, deadline=time.perf_counter() + share / 3)
        fleet = dict(base_buy=dict(base), work_targets=w[p])
        fm, chosen = _pattern_mip(scn, co, [p], settled=settled, buy_more=buy_more, **fleet)
        r = solve(fm.s, time_limit_s=share, **kw)
        if buy_more and r.status == "unsolved":  # no time to choose: the LP's columns, GPUs fitted to them
            fm, chosen = _pattern_mip(scn, co, [p], only_lp_choice=True, **fleet)
            r = solve(fm.s, time_limit_s=FINAL_SOLVE_S, **kw)
        log.debug("period %s: LP %.4f, MIP %.4f (%s, gap %.4f, %.1f s, %d binaries), %.1f s in all", p, gen.value,
                  fm.variable_cost() if found(r.status) else math.nan, r.status, r.gap, r.seconds,
                  sum(len(m) for _, _, m in chosen), time.perf_counter() - t0)
        return r, fm, chosen

    # every period on the GPUs the coordinator buys (independent: `workers` at a time); a period that
    # cannot do without more then buys them at full cost, the busiest first, and later ones have them
    left = max(time_limit_s - (time.perf_counter() - t0), 1.0)
    share = max(0.8 * left * workers / len(order), MIN_PERIOD_S)
    base0 = dict(base)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = dict(zip(order, pool.map(lambda p: period_mip(p, base0, share, False), order)))
    tried = {p: dict(base0) for p in order}    # the purchases each period was last solved on
    for p in order:
        while not found(done[p][0].status):
            left = max(time_limit_s - (time.perf_counter() - t0), 1.0)
            pending = sum(1 for q in order if not found(done[q][0].status))
            more = tried[p] == base     # nothing new bought since it last failed: it may buy now
            tried[p] = dict(base)
            done[p] = period_mip(p, base, max(left / pending, MIN_PERIOD_S), more)
            if more and not found(done[p][0].status):
                return Solution(done[p][0], merged, {}, bound, "per-period MIPs")
        for key, v in done[p][1].x.buy.items():
            base[key] = base.get(key, 0) + int(round(v.solution_value()))
    keep, last = [], None
    for p in order:
        r, fm, chosen = done[p]
        last = r
        keep.append(fm.s)
        for name in ("rent", "mig_layout", "time_sliced", "train_gpus", "train_on"):
            getattr(merged, name).update(getattr(fm.x, name))
        for j, v in fm.x.burst.items():
            merged.burst[j] = merged.burst.get(j, 0.0) + v.solution_value()
        _record(chosen, merged)
        part = fm.breakdown()
        for name in ("cloud", "sharing licences", "training burst"):
            breakdown[name] += part[name]
    merged.buy = {(site.name, o.type): base.get((site.name, o.type), 0) for site in scn.sites for o in site.gpus}
    breakdown["capex"], breakdown["power+licences"] = fleet_cost(scn, merged.buy)
    return Solution(last, merged, breakdown, bound, f"per-period MIPs ({last.solver})", keep)


__all__ = ["Coordination", "Coordinator", "coordinate", "integer_plan", "workers_for"]
