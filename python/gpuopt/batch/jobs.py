"""One scenario of a batch: read once on the client (its content travels to the worker, so a Dask
worker never resolves a path), planned on a worker, answered by one record.

Outcomes: `planned` (optimal or feasible), `infeasible`, `unsolved` (the time limit ended with no
plan), `bad_input` (the scenario itself is wrong: fixing it changes its key) - these are final and
recorded once; `failed` (a crash, a dead worker, a timed-out worker) is never final: it is retried
and, if it still fails, left for the next run."""

from __future__ import annotations

import hashlib
import math
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from gpuopt.errors import GpuoptError
from gpuopt.planning.planner import plan
from gpuopt.planning.scenario import Scenario, parse_scenario
from gpuopt.user_files import MAX_FILE_BYTES

ScenarioLike = Union[str, Path, Scenario]

PLANNED, INFEASIBLE, UNSOLVED, BAD_INPUT, FAILED = "planned", "infeasible", "unsolved", "bad_input", "failed"
FINAL = (PLANNED, INFEASIBLE, UNSOLVED, BAD_INPUT)
OUTCOMES = (*FINAL, FAILED)


@dataclass(frozen=True)
class Job:
    key: str  # name#hash of the content: a changed file is a new job, a renamed one too
    name: str  # the file name, or the Scenario's name
    source: str  # what the caller gave, for messages
    content: Optional[bytes]  # None when the file could not be read
    read_error: Optional[str] = None


def content_key(name: str, content: bytes) -> str:
    return f"{name}#{hashlib.sha256(content).hexdigest()[:16]}"


def make_job(item: ScenarioLike) -> Job:
    """Reads `item` (a path or a Scenario) into a Job; never raises for an unreadable file."""
    if isinstance(item, Scenario):
        content = item.model_dump_json().encode()
        name = f"{item.name}.json"
        return Job(content_key(name, content), name, item.name, content)
    path = Path(item)
    try:
        with open(path, "rb") as f:  # one byte past the cap is enough for the worker to refuse it
            content = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        return Job(f"{path.name}#unreadable", path.name, str(path), None, f"cannot read {path}: {e.strerror}")
    return Job(content_key(path.name, content), path.name, str(path), content)


def _finite(x: float) -> Optional[float]:
    return x if math.isfinite(x) else None  # JSON has no NaN


def plan_job(job: Job, time_limit_s: float, threads: Optional[int] = 1, attempt: int = 1,
             verify: bool = True) -> dict[str, Any]:
    """Plans one job (verified by simulation unless `verify` is false, as gpuopt.plan); never raises. Runs on a worker (a process of the local pool, or Dask's).
    `attempt` is recorded, and makes each retry a distinct task (Dask would reuse a pure one's result)."""
    started = time.time()
    base = {"key": job.key, "source": job.source, "attempt": attempt, "pid": os.getpid()}
    try:
        scn = parse_scenario(job.content, job.name)
        p = plan(scn, time_limit_s=time_limit_s, threads=threads, baselines=False, verify=verify)
        outcome = {"optimal": PLANNED, "feasible": PLANNED, "infeasible": INFEASIBLE}.get(p.status, UNSOLVED)
        return {**base, "outcome": outcome, "scenario": scn.name, "status": p.status,
                "cost_per_hour": _finite(p.cost_per_hour), "lower_bound_per_hour": _finite(p.lower_bound_per_hour),
                "gap": _finite(p.gap), "verified": verify, "fleet": p.fleet, "infeasibility": p.infeasibility,
                "seconds": round(time.time() - started, 3)}
    except GpuoptError as e:
        return {**base, "outcome": BAD_INPUT, "error": str(e), "seconds": round(time.time() - started, 3)}
    except Exception as e:  # noqa: BLE001 - a crash costs this scenario only; the batch retries it
        return {**base, "outcome": FAILED, "error": f"{type(e).__name__}: {e}",
                "traceback": traceback.format_exc(limit=5), "seconds": round(time.time() - started, 3)}


def infrastructure_failure(job: Job, attempt: int, error: str, **extra: Any) -> dict[str, Any]:
    """The record of an attempt that the infrastructure lost (a dead worker, a time-out)."""
    return {"key": job.key, "source": job.source, "attempt": attempt, "outcome": FAILED, "error": error, **extra}


__all__ = ["BAD_INPUT", "FAILED", "FINAL", "INFEASIBLE", "Job", "OUTCOMES", "PLANNED", "UNSOLVED", "content_key",
           "infrastructure_failure", "make_job", "plan_job"]
