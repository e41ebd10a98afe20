"""A linear model held as arrays: variables (bounds, integrality, name, objective), rows (bounds,
name) and coefficient triplets, appended one by one or as NumPy arrays, and handed to OR-Tools in
one piece.

Two ways out, one per use:
- `solve`: the whole model at once through OR-Tools' model_builder, which takes the constraint
  matrix as one sparse array (fill_model_from_sparse_data), solved by SCIP (or GLOP, relaxed).
  This is how the monolithic MIP is solved: 850k replica variables are a few NumPy arrays, not
  millions of SetCoefficient calls (those took 10.5 s; gpuopt.planning.solve says why SCIP).
- `to_solver`: a pywraplp solver with the same variables and rows, for models that are changed
  and solved again (the decomposition's masters add columns and move bounds between solves, and
  pywraplp keeps GLOP's basis across them). Those models are small.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from gpuopt.planning.solve import Solved, found, new_solver, solved, solver_version

_EMPTY = np.zeros(0)


class LinearModel:
    """Minimisation; variable and row indices are handed out in order of creation."""

    def __init__(self) -> None:
        self.var_lb: list = []
        self.var_ub: list = []
        self.var_int: list = []
        self.var_names: list[str] = []
        self.row_lb: list[float] = []
        self.row_ub: list[float] = []
        self.row_names: list[str] = []
        self._terms: list[tuple] = []          # (rows, columns, values) arrays
        self._one: tuple[list, list, list] = ([], [], [])   # single terms, kept apart to append cheaply
        self._obj: tuple[list, list] = ([], [])             # (columns, values) single objective terms
        self._obj_many: list[tuple] = []
        self.offset = 0.0
        self._n_vars = 0

    @property
    def n_vars(self) -> int:
        return self._n_vars

    @property
    def n_rows(self) -> int:
        return len(self.row_lb)

    def var(self, lb: float, ub: float, integer: bool, name: str) -> int:
        self.var_lb.append(lb)
        self.var_ub.append(ub)
        self.var_int.append(integer)
        self.var_names.append(name)
        self._n_vars += 1
        return self._n_vars - 1

    def vars(self, lb: float, ub: float, integer: bool, names: Sequence[str]) -> np.ndarray:
        """len(names) variables with the same bounds; their indices."""
        n = len(names)
        self.var_lb.extend([lb] * n)
        self.var_ub.extend([ub] * n)
        self.var_int.extend([integer] * n)
        self.var_names.extend(names)
        first = self._n_vars
        self._n_vars += n
        return np.arange(first, first + n)

    def row(self, lb: float, ub: float, name: str) -> int:
        self.row_lb.append(lb)
        self.row_ub.append(ub)
        self.row_names.append(name)
        return len(self.row_lb) - 1

    def term(self, row: int, col: int, value: float) -> None:
        """Adds `value` to the coefficient of variable `col` in `row`."""
        r, c, v = self._one
        r.append(row)
        c.append(col)
        v.append(value)

    def terms(self, rows, cols, values) -> None:
        """The same for arrays of (row, column, value) (broadcast against each other)."""
        rows, cols, values = np.broadcast_arrays(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
                                                 np.asarray(values, dtype=float))
        self._terms.append((rows.ravel(), cols.ravel(), values.ravel()))

    def cost(self, col, value: float) -> None:
        """Adds `value` to the objective coefficient of `col` (an index or an array of them)."""
        if isinstance(col, np.ndarray):
            self._obj_many.append((col, np.broadcast_to(np.asarray(value, dtype=float), col.shape)))
        else:
            self._obj[0].append(col)
            self._obj[1].append(value)

    # -- arrays ---------------------------------------------------------------------------------

    def objective(self) -> np.ndarray:
        """Objective coefficient per variable, terms of one variable summed."""
        cols = np.concatenate([np.asarray(self._obj[0], dtype=np.int64)] + [c for c, _ in self._obj_many])
        vals = np.concatenate([np.asarray(self._obj[1], dtype=float)] + [v for _, v in self._obj_many])
        return np.bincount(cols, weights=vals, minlength=self._n_vars) if len(cols) else np.zeros(self._n_vars)

    def triplets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r, c, v = self._one
        parts = [(np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64), np.asarray(v, dtype=float))]
        parts += self._terms
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]

    def matrix(self):
        """The constraint matrix (rows x variables, duplicate terms summed) in CSR form."""
        from scipy.sparse import csr_matrix

        rows, cols, vals = self.triplets()
        return csr_matrix((vals, (rows, cols)), shape=(self.n_rows, self._n_vars))

    # -- out --------------------------------------------------------------------------------------

    def to_solver(self, backend: str):
        """A pywraplp solver holding this model; (solver, its variables, its rows) by index."""
        s = new_solver(backend)
        inf = s.infinity()
        cols = [s.IntVar(lb, min(ub, inf), name) if integer else s.NumVar(lb, min(ub, inf), name)
                for lb, ub, integer, name in zip(self.var_lb, self.var_ub, self.var_int, self.var_names)]
        rows = [s.Constraint(max(lb, -inf), min(ub, inf), name)
                for lb, ub, name in zip(self.row_lb, self.row_ub, self.row_names)]
        for r, c, v in zip(*(a.tolist() for a in self.triplets())):
            row, col = rows[r], cols[c]
            row.SetCoefficient(col, row.GetCoefficient(col) + v)
        obj = s.Objective()
        for c, v in enumerate(self.objective().tolist()):
            if v:
                obj.SetCoefficient(cols[c], v)
        obj.SetOffset(self.offset)
        obj.SetMinimization()
        return s, cols, rows

    def _helper(self):
        """The model in OR-Tools' model_builder, every variable continuous (see `solve`)."""
        from ortools.linear_solver.python import model_builder_helper as mbh

        h = mbh.ModelBuilderHelper()
        h.fill_model_from_sparse_data(np.asarray(self.var_lb, dtype=float), np.asarray(self.var_ub, dtype=float),
                                      self.objective(), np.asarray(self.row_lb, dtype=float),
                                      np.asarray(self.row_ub, dtype=float), self.matrix())
        h.set_objective_offset(self.offset)
        name_var, name_row = h.set_var_name, h.set_constraint_name
        for i, name in enumerate(self.var_names):
            name_var(i, name)
        for i, name in enumerate(self.row_names):
            name_row(i, name)
        return h

    def to_model_builder(self):
        """The whole model in OR-Tools' model_builder (a ModelBuilderHelper), integers marked."""
        h = self._helper()
        self._mark_integers(h)
        return h

    def _mark_integers(self, h) -> None:
        integral = h.set_var_integrality
        for i in np.flatnonzero(np.asarray(self.var_int, dtype=bool)).tolist():
            integral(i, True)

    def solve(self, *, time_limit_s: float, seed: int, relative_gap: float, lp_bound: bool = True,
              relax: bool = False, hint: Optional[np.ndarray] = None,
              effort: Optional[Effort] = None) -> tuple[Solved, np.ndarray]:
        """(the solve's result, every variable's value) of the whole model by SCIP on one thread
        (`relax`: its LP relaxation by GLOP), with the LP bound from GLOP unless `lp_bound` is off.
        The same settings as gpuopt.planning.solve.solve: the relative gap, the seed, and the
        tolerances pywraplp gives SCIP by default (feasibility 1e-7). The model is handed over
        once: the LP is solved first, then the integers are marked and SCIP solves it. `hint`: a
        value per variable, a known solution SCIP starts from. `effort`: limits in work (nodes, root
        cut rounds) for a heuristic's solve."""
        from ortools.linear_solver.python import model_builder_helper as mbh

        helper = self._helper()
        if relax:
            t = time.perf_counter()
            objective, _, status, values = _run(mbh, helper, "glop", time_limit_s, "")
            return solved(status, objective, objective, float("nan"), time.perf_counter() - t,
                          solver_version("GLOP"), relative_gap), values
        # one time limit for both: the LP bound at most half of it, SCIP what is left
        deadline = time.perf_counter() + time_limit_s
        lp = _run(mbh, helper, "glop", time_limit_s / 2, "")[0] if lp_bound else float("nan")
        self._mark_integers(helper)
        if hint is not None:
            add = helper.add_hint
            for i, v in enumerate(np.asarray(hint, dtype=float).tolist()):
                add(i, v)
        params = (f"limits/gap = {relative_gap!r}\nnumerics/feastol = 1e-07\n"
                  f"numerics/dualfeastol = 1e-07\nrandomization/randomseedshift = {int(seed)}\n")
        if effort is not None:
            params += effort.scip_params()
        t = time.perf_counter()
        objective, bound, status, values = _run(mbh, helper, "scip", deadline - time.perf_counter(), params)
        return solved(status, objective, bound, lp, time.perf_counter() - t, solver_version("SCIP"),
                      relative_gap), values


@dataclass(frozen=True)
class Effort:
    """Limits in work, not seconds, on a solve that is a heuristic's step (the same answer on a
    busy machine): at most `nodes` branch-and-bound nodes (SCIP limits/totalnodes), and at most
    `cut_rounds` rounds of cutting planes at the root (separating/maxroundsroot; a step that starts
    from a known plan needs better plans, not the root's proof)."""
    nodes: int
    cut_rounds: Optional[int] = None

    def scip_params(self) -> str:
        out = f"limits/totalnodes = {int(self.nodes)}\n"
        if self.cut_rounds is not None:
            out += f"separating/maxroundsroot = {int(self.cut_rounds)}\n"
        return out


def _run(mbh, helper, backend: str, time_limit_s: float, params: str):
    """(objective, bound, status, values) of one solve of `helper`'s model by `backend`."""
    solver = mbh.ModelSolverHelper(backend)
    solver.set_time_limit_in_seconds(max(time_limit_s, 0.001))
    if params:
        solver.set_solver_specific_parameters(params)
    solver.solve(helper)
    status = {mbh.SolveStatus.OPTIMAL: "optimal", mbh.SolveStatus.FEASIBLE: "feasible",
              mbh.SolveStatus.INFEASIBLE: "infeasible"}.get(mbh.SolveStatus(solver.status()), "unsolved")
    if not found(status) or not solver.has_solution():
        return float("nan"), float("nan"), status if status != "optimal" else "unsolved", _EMPTY
    return solver.objective_value(), solver.best_objective_bound(), status, solver.variable_values()


__all__ = ["Effort", "LinearModel"]
