"""OR-Tools, used one way everywhere: a mixed-integer program solved by SCIP (bundled in OR-Tools'
wheel), with its LP relaxation solved by GLOP for a lower bound. Models solved once are handed over
whole as arrays (gpuopt.planning.linear, OR-Tools' model_builder); models changed between solves
(the decomposition's masters, Mélange) are pywraplp solvers, solved here. Both use the same settings.

Why SCIP through pywraplp: the planner's models are linear with integer fleet counts and
continuous or integer assignments; SCIP proves optimality on Melange-scale models in milliseconds
and reports its dual bound when stopped early; CP-SAT would need every coefficient scaled to
integers. The relative gap is always set explicitly, and a time-limited answer is called
'feasible', never 'optimal'.

SCIP always runs on one thread. OR-Tools (9.15) turns `SetNumThreads(n > 1)` into SCIP's
concurrent solve, which races several settings (so the answer depends on the machine's load) and
segfaults when a model solved that way is freed after a second one was solved (reproduced: the
planner's baselines, `gpuopt plan --threads 2`). gpuopt's `threads` parallelise its own work
instead: the decomposition's periods, each a one-thread solve with the GIL released.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gpuopt.errors import InternalError, InvalidInputError

if TYPE_CHECKING:  # OR-Tools is imported when a model is first built, not with gpuopt
    from ortools.linear_solver import pywraplp

DEFAULT_GAP = 1e-6
MAX_TIME_LIMIT_S = 7 * 86400.0
MAX_THREADS = 1024


def check_limits(time_limit_s: float, relative_gap: float) -> None:
    """Refuses solver settings that would make a plan lie: a time limit that is not a positive
    finite number of seconds (0 ended every solve with no plan, NaN with 'infeasible'), a gap
    outside (0, 1) (a gap of 1 called a plan 50 % above the optimum 'optimal')."""
    if not isinstance(time_limit_s, (int, float)) or not 0 < time_limit_s <= MAX_TIME_LIMIT_S:
        raise InvalidInputError(f"time_limit_s must be seconds in (0, {MAX_TIME_LIMIT_S:g}], got {time_limit_s!r}")
    if not isinstance(relative_gap, (int, float)) or not 0 < relative_gap < 1:
        raise InvalidInputError(f"relative_gap must be in (0, 1) (e.g. 1e-6: proven within 0.0001 %), "
                                f"got {relative_gap!r}")


def check_threads(threads) -> None:
    """`threads`: None (every core) or a whole number from 1 to MAX_THREADS."""
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool)
                                or not 1 <= threads <= MAX_THREADS):
        raise InvalidInputError(f"threads must be a whole number from 1 to {MAX_THREADS} (or None: every core), "
                                f"got {threads!r}")


MIN_SOLVE_S = 0.1   # least time a solve is given, however little of a budget is left


class Budget:
    """The one deadline of a plan() call (`time_limit_s` from its start): each step - the solve,
    each verification round's solve, each baseline, each diagnosis - is given its share of what is
    left, so the whole call ends near the limit however many steps it takes."""

    def __init__(self, seconds: float):
        self.deadline = time.perf_counter() + seconds
        self.least = min(MIN_SOLVE_S, seconds)   # never more than the whole limit asked for

    def left(self) -> float:
        return max(self.deadline - time.perf_counter(), 0.0)

    def share(self, parts: float = 1.0) -> float:
        """Seconds for the next of `parts` steps still to come (never below MIN_SOLVE_S, or the
        whole limit where that is less)."""
        return max(self.left() / max(parts, 1.0), self.least)


FOUND = ("optimal", "feasible")   # statuses that come with a plan


def found(status: str) -> bool:
    """Whether a solve with this status has a solution to read."""
    return status in FOUND


def gap_between(cost: float, bound: float) -> float:
    """Relative gap (cost - bound) / cost of a minimisation, 0 for a plan that costs nothing."""
    return max(0.0, (cost - bound) / cost) if cost > 0 else 0.0


def status_within(cost: float, bound: float, relative_gap: float) -> str:
    """'optimal' where a plan's cost is within `relative_gap` of a lower bound, else 'feasible': the
    verdict on a plan no single solver proved (the decomposition's, a baseline's, the better of two)."""
    return "optimal" if cost - bound <= relative_gap * cost else "feasible"


def best_bound(*bounds: float) -> float:
    """The strongest of several valid lower bounds, ignoring NaN (a bound not computed)."""
    valid = [b for b in bounds if not math.isnan(b)]
    return max(valid) if valid else math.nan


@dataclass
class Solved:
    status: str          # optimal, feasible, infeasible
    objective: float     # nan unless optimal/feasible
    bound: float         # the solver's dual bound (a lower bound for minimisation)
    lp_bound: float      # the LP relaxation's optimum
    gap: float           # (objective - best bound) / objective
    seconds: float
    solver: str


def new_solver(backend: str = "SCIP") -> "pywraplp.Solver":
    from ortools.linear_solver import pywraplp

    s = pywraplp.Solver.CreateSolver(backend)
    if s is None:
        raise InternalError(f"OR-Tools has no {backend} backend in this installation")
    return s


_VERSIONS: dict[str, str] = {}


def solver_version(backend: str) -> str:
    """The version string OR-Tools gives `backend` (e.g. 'SCIP 9.2.2 [LP solver: SoPlex 7.1.4]')."""
    if backend not in _VERSIONS:
        _VERSIONS[backend] = new_solver(backend).SolverVersion()
    return _VERSIONS[backend]


def _lp_bound(solver: "pywraplp.Solver") -> float:
    """Optimum of the LP relaxation of `solver`'s model: exported, integrality dropped, solved by GLOP."""
    from ortools.linear_solver import linear_solver_pb2, pywraplp

    proto = linear_solver_pb2.MPModelProto()
    solver.ExportModelToProto(proto)
    for v in proto.variable:
        v.is_integer = False
    lp = new_solver("GLOP")
    if lp.LoadModelFromProto(proto):
        return float("nan")
    return lp.Objective().Value() if lp.Solve() == pywraplp.Solver.OPTIMAL else float("nan")


def solve(solver: "pywraplp.Solver", *, time_limit_s: float = 60.0, seed: int = 0,
          relative_gap: float = DEFAULT_GAP, lp_bound: bool = True) -> Solved:
    """Solves a minimisation on one thread; deterministic for a fixed seed (within the time limit)."""
    from ortools.linear_solver import pywraplp

    solver.SetTimeLimit(int(max(time_limit_s, 0.001) * 1000))
    solver.SetNumThreads(1)
    if "SCIP" in solver.SolverVersion():
        solver.SetSolverSpecificParametersAsString(f"randomization/randomseedshift = {int(seed)}\n")
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, relative_gap)
    lp = _lp_bound(solver) if lp_bound else float("nan")
    t = time.perf_counter()
    code = solver.Solve(params)
    seconds = time.perf_counter() - t
    if code == pywraplp.Solver.OPTIMAL:
        status = "optimal"
    elif code == pywraplp.Solver.FEASIBLE:
        status = "feasible"
    elif code == pywraplp.Solver.INFEASIBLE:
        status = "infeasible"
    else:
        status = "unsolved"
    objective, bound = (solver.Objective().Value(), solver.Objective().BestBound()) if found(status) else (0.0, 0.0)
    return solved(status, objective, bound, lp, seconds, solver.SolverVersion(), relative_gap)


def solved(status: str, objective: float, bound: float, lp: float, seconds: float, solver: str,
           relative_gap: float) -> Solved:
    """A solve's result: objective, bound and gap where a solution was found (NaN otherwise),
    'optimal' only within `relative_gap` of the best of the solver's and the LP's bounds."""
    nan = float("nan")
    if not found(status):
        return Solved(status, nan, nan, lp, nan, seconds, solver)
    gap = gap_between(objective, best_bound(bound, lp))
    if status == "optimal" and gap > max(relative_gap, 1e-9) * 1.01:
        status = "feasible"  # the solver stopped at its gap: not proven optimal to ours
    return Solved(status, objective, bound, lp, gap, seconds, solver)
