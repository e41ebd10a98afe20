import json
import os
import time
from pathlib import Path

import pytest

RESULTS = Path(os.environ.get("GPUOPT_BENCH_OUT", Path(__file__).parent / ".results"))


@pytest.fixture
def report_gate():
    """Prints a gate's measurement and keeps it in benches/.results/NAME.json for the record."""

    def report(name: str, **figures) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2))
        print(f"\n[{name}] " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                         for k, v in figures.items()))

    return report


@pytest.fixture
def best_of():
    """best_of(fn, repeat) -> (fastest wall seconds of `repeat` calls, the last result)."""

    def run(fn, repeat: int = 3):
        best, out = float("inf"), None
        for _ in range(repeat):
            t = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t)
        return best, out

    return run
