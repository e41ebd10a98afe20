"""Mutation score of the cost and planning code (mutmut): every mutant of python/gpuopt/cost.py and
python/gpuopt/planning/ run against the in-process tests that cover it ([tool.mutmut] in
pyproject.toml), then the score per module.

    .venv/bin/pip install mutmut && .venv/bin/python scripts/mutation.py        # from the repository root

mutmut looks for the package under src/, so a link src -> python is made for the run (and
removed after). `mutmut results` / `mutmut show NAME` then list and show the survivors."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = [sys.executable, "-m", "mutmut"]


def score() -> dict[str, collections.Counter]:
    out = subprocess.run([*MUTMUT, "results", "--all=true"], cwd=ROOT, capture_output=True, text=True, check=True)
    per: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for line in out.stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            per[name.split(".x")[0].rsplit(".", 1)[0] if ".x" in name else name][status] += 1
    return per


def main() -> int:
    link = ROOT / "src"
    made = not link.exists()
    if made:
        link.symlink_to("python")
    try:
        subprocess.run([*MUTMUT, "run"], cwd=ROOT, check=False)
        per = score()
    finally:
        if made:
            os.unlink(link)
    total = collections.Counter()
    for module in sorted(per):
        c = per[module]
        total += c
        tested = sum(c.values()) - c["no tests"]
        print(f"{module:45s} {c['killed']:5d} killed of {tested:5d} tested ({c['killed'] / max(tested, 1):.0%}); "
              f"{c['survived']} survived, {c['no tests']} not covered, {c['timeout']} timed out")
    tested = sum(total.values()) - total["no tests"]
    print(f"{'all':45s} {total['killed']:5d} killed of {tested:5d} tested ({total['killed'] / max(tested, 1):.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
