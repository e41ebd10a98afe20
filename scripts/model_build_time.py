"""Seconds from a synthetic scenario to a model SCIP can start on (candidates excluded), and the
model's size: `python scripts/model_build_time.py [SERVICES]` (default 360: 860,516 variables).
Run it from an older checkout too (e.g. `git worktree add /tmp/old 45c58aa`, with the built
extension copied beside it) to compare with the coefficient-by-coefficient build."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from gpuopt.planning.candidates import allowed_sites, candidates  # noqa: E402
from gpuopt.planning.model import PlanningModel  # noqa: E402
from gpuopt.planning.synthetic import synthetic_fleet  # noqa: E402

services = int(sys.argv[1]) if len(sys.argv) > 1 else 360
scn = synthetic_fleet(services, 12, 24, 20, seed=1)
cands = candidates(scn)
t = time.perf_counter()
model = PlanningModel(scn, relax=False)
model.add_services(cands, allowed_sites)
if hasattr(model, "minimize"):   # the pywraplp build before planning/linear.py
    model.minimize()
    n = model.s.NumVariables()
else:
    model._objective().to_model_builder()
    n = model.m.n_vars
print(f"{n:,} variables: {time.perf_counter() - t:.2f} s")
