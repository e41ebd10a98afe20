import os
import tempfile
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests repeat: the `repeatable` profile (used unless told otherwise) is derandomized with
# no example database, so every run on every machine, CI's included, draws the same inputs.
# HYPOTHESIS_PROFILE=thorough draws fresh random inputs each run (and remembers failures).
settings.register_profile("repeatable", derandomize=True, database=None, deadline=None)
settings.register_profile("thorough", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

ROOT = Path(__file__).resolve().parents[1]

# Simulator-confirmed capacities (gpuopt.planning.confirmed_cache) are shared by this run and the
# CLI and worker processes it starts, in a folder of its own: never the user's cache, never stale.
if "GPUOPT_CACHE_DIR" not in os.environ:
    os.environ["GPUOPT_CACHE_DIR"] = tempfile.mkdtemp(prefix="gpuopt-test-cache-")


@pytest.fixture
def run_cli():
    """Runs `gpuopt ...` as a user would (a subprocess), returning the CompletedProcess."""

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gpuopt", *args], capture_output=True, text=True,
                              cwd=ROOT, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin",
                                                                "GPUOPT_CACHE_DIR": os.environ["GPUOPT_CACHE_DIR"]}, timeout=120)

    return run


@pytest.fixture(autouse=True)
def _isolated_registry():
    """User registrations made by one test never leak into another."""
    from gpuopt import catalog

    saved = (dict(catalog._user_gpus), dict(catalog._user_models), dict(catalog._user_engines))
    yield
    for reg, old in zip((catalog._user_gpus, catalog._user_models, catalog._user_engines), saved):
        reg.clear()
        reg.update(old)
