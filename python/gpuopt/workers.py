"""How many worker threads the Rust engine uses: one per core by default (or RAYON_NUM_THREADS)."""

from __future__ import annotations

import contextlib
from typing import Iterator

from gpuopt import _core
from gpuopt.errors import InvalidInputError


def set_threads(n: int) -> int:
    """Later engine calls (fit_grid, estimate_many, sweep, ...) run on `n` threads (0: one per
    core); returns the previous setting. Results never depend on it, only how long they take."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= _core.MAX_THREADS:
        raise InvalidInputError(f"threads must be a whole number from 0 (one per core) to {_core.MAX_THREADS}, got {n!r}")
    return _core.set_threads(n)


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """`with gpuopt.threads(1): ...` runs the engine calls inside on n threads, then restores the setting."""
    before = set_threads(n)
    try:
        yield
    finally:
        _core.set_threads(before)
