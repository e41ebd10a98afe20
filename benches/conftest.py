"""Speed gates through pytest-benchmark. A gate compares two sides of the same computation measured
in one run (gpuopt's Rust core against the plain-Python reference, or two gpuopt paths): each side
is one test case timed by `benchmark.pedantic` with the same rounds (a fast side's round repeats
its call to last MIN_ROUND_S), and the gate is the ratio of their minimum times per call and unit
of work (per configuration, per request), checked by whichever side runs second. Rust sides run on one thread (`gpuopt.threads(1)`), as the Python reference does, so
a ratio means the same on a 2-core and a 64-core machine.

Saved runs: `pytest benches --benchmark-autosave` keeps each run's timings (and every gate's
ratio, in extra_info) under .benchmarks/; `pytest benches --benchmark-compare
--benchmark-compare-fail=min:100%` then fails any benchmark twice as slow as the last saved run on
this machine."""

import json
import math
import os
import time
from pathlib import Path

import pytest

RESULTS = Path(os.environ.get("GPUOPT_BENCH_OUT", Path(__file__).parent / ".results"))
GATE_ROUNDS = 5
MIN_ROUND_S = 0.05   # a round of a fast side repeats its call to last this long; its time is per call

# gate -> side -> (min seconds per unit of work, units)
_SIDES: dict[str, dict[str, tuple[float, float]]] = {}


def _report(name: str, **figures) -> None:
    """Prints a gate's measurement and keeps it in benches/.results/NAME.json for the record."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2))
    print(f"\n[{name}] " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))


class Gate:
    """One side of a gate: `run(fn, work=units)` times fn through benchmark.pedantic and returns
    its result; `ratio(fast, slow)` is slow's time per unit over fast's, or None until both ran."""

    def __init__(self, benchmark, name: str, side: str):
        self.benchmark, self.name, self.side = benchmark, name, side
        benchmark.group = name

    def run(self, fn, *, work: float = 1.0):
        if self.benchmark.disabled:
            pytest.skip("speed gates need timings: run without --benchmark-disable")
        t = time.perf_counter()
        fn()   # the warm-up call also sizes a round: calls of a fast side are repeated to fill one
        iterations = max(1, math.ceil(MIN_ROUND_S / max(time.perf_counter() - t, 1e-9)))
        out = self.benchmark.pedantic(fn, rounds=GATE_ROUNDS, iterations=iterations)
        best = self.benchmark.stats.stats.min
        _SIDES.setdefault(self.name, {})[self.side] = (best / work, work)
        self.benchmark.extra_info.update(gate=self.name, side=self.side, work=work, s_per_unit=best / work)
        return out

    def ratio(self, fast: str, slow: str) -> float | None:
        sides = _SIDES.get(self.name, {})
        if fast not in sides or slow not in sides:
            return None
        r = sides[slow][0] / sides[fast][0]
        self.benchmark.extra_info["ratio"] = r
        _report(self.name, **{f"{s}_s_per_unit": v[0] for s, v in sides.items()},
                **{f"{s}_units": v[1] for s, v in sides.items()}, ratio=r)
        return r


@pytest.fixture
def gate(benchmark):
    """gate(name, side) -> Gate; one side per test case."""
    return lambda name, side: Gate(benchmark, name, side)
