"""The one loop of the fault scripts (change_mutants.py, planner_mutants.py, batch_mutants.py):
each fault - (file, text, its faulty version, pytest arguments) - is put in, its tests run, and
the file restored, whatever happens (git status shows it if interrupted). A fault counts as
caught only when a test fails (pytest exit 1): no test collected (5) or an error is NOT RUN."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from typing import Callable, Optional

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(faults: list[tuple[str, str, str, list[str]]], only: list[str], *, timeout_s: int = 600,
        after_edit: Optional[Callable[[str], None]] = None) -> int:
    """Runs the faults whose index is in `only` (all when empty); 0 when every one was caught.
    `after_edit(path)` runs after each edit and each restore (a Rust file needs a rebuild)."""
    chosen = [(i, f) for i, f in enumerate(faults) if not only or str(i) in only]
    caught = 0
    for i, (path, old, new, args) in chosen:
        f = ROOT / path
        src = f.read_text()
        assert src.count(old) == 1, (path, old)
        f.write_text(src.replace(old, new, 1))
        try:
            if after_edit:
                after_edit(path)
            r = subprocess.run(["timeout", str(timeout_s), sys.executable, "-m", "pytest", "-q", "-x",
                                "-p", "no:cacheprovider", *args], capture_output=True, text=True, cwd=ROOT)
        finally:
            f.write_text(src)
            if after_edit:
                after_edit(path)
        caught += r.returncode == 1
        verdict = {0: "SURVIVED", 1: "KILLED"}.get(r.returncode, f"NOT RUN (exit {r.returncode})")
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else f"exit {r.returncode}"
        print(i, path, verdict, old.strip()[:60], "|", last, flush=True)
    print(f"{caught} of {len(chosen)} faults caught")
    return 0 if caught == len(chosen) else 1
