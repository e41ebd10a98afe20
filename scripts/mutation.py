"""Mutation score of the cost and planning code (mutmut): every mutant of python/gpuopt/cost.py and
python/gpuopt/planning/ run against the in-process tests that cover it ([tool.mutmut] in
pyproject.toml), then the score per module.

    .venv/bin/pip install mutmut && .venv/bin/python scripts/mutation.py        # from the repository root
    .venv/bin/python scripts/mutation.py --survivors   # only the last run's survivors, against today's tests
    .venv/bin/python scripts/mutation.py --report      # the last run's scores

mutmut looks for the package under src/, so a link src -> python is made for the run (and
removed after). `mutmut results` / `mutmut show NAME` then list and show the survivors."""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = [sys.executable, "-m", "mutmut"]


def _statuses() -> dict[str, str]:
    """Every mutant's status in the last run, by name."""
    out = subprocess.run([*MUTMUT, "results", "--all=true"], cwd=ROOT, capture_output=True, text=True, check=True)
    pairs = (line.strip().rpartition(": ") for line in out.stdout.splitlines())
    return {name: status for name, _, status in pairs if name}


def score() -> dict[str, collections.Counter]:
    per: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name, status in _statuses().items():
        # gpuopt.planning.model.xǁPlanningModelǁ__init____mutmut_5, gpuopt.cost.x_tco__mutmut_3
        per[re.split(r"\.x[_ǁ]", name, maxsplit=1)[0]][status] += 1
    return per


def report(per: dict[str, collections.Counter]) -> None:
    total: collections.Counter = collections.Counter()
    for module in sorted(per):
        c = per[module]
        total += c
        tested = sum(c.values()) - c["no tests"] - c["not checked"]
        print(f"{module:34s} {c['killed']:5d} killed of {tested:5d} ({c['killed'] / max(tested, 1):.0%}); "
              f"{c['survived']} survived, {c['no tests']} not covered, {c['timeout']} timed out, "
              f"{c['not checked']} not run")
    tested = sum(total.values()) - total["no tests"] - total["not checked"]
    print(f"{'all':34s} {total['killed']:5d} killed of {tested:5d} ({total['killed'] / max(tested, 1):.0%})")


def main() -> int:
    link = ROOT / "src"
    made = not link.exists()
    if made:
        link.symlink_to("python")
    try:
        if "--survivors" in sys.argv:   # the last run's survivors again, against today's tests
            names = [n for n, status in _statuses().items() if status == "survived"]
            subprocess.run([*MUTMUT, "run", *names], cwd=ROOT, check=False)
        elif "--report" not in sys.argv:   # --report: the last run's scores only
            subprocess.run([*MUTMUT, "run"], cwd=ROOT, check=False)
        per = score()
    finally:
        if made:
            os.unlink(link)
    report(per)
    return 0


if __name__ == "__main__":
    sys.exit(main())
