"""Batch jobs: many scenarios planned in parallel, each result recorded exactly once.

Where they run: a local pool of worker processes started fresh (gpuopt.batch.worker,
never a fork of a process whose engine threads would not survive it), or any concurrent.futures
Executor - a Dask cluster (`Client(...).get_executor()`) beyond one machine. Scenarios are read
on the caller's side and travel as content, so workers never resolve a path.

What survives what:
- A worker that dies (kill -9, a segfault) or passes its job's time-out costs that scenario one
  attempt; it is retried up to `retries` times with every error kept, the other scenarios go on.
  A scenario still failing is not recorded as done: the next run tries it again.
- Each final record (planned, infeasible, unsolved, bad_input) is one checksummed, synced line
  of `out`; a batch killed at any moment loses only what was running. A rerun skips every scenario
  already recorded, by a key made of its file name and the hash of its content.
- Two batches cannot write one `out`: the second refuses (see gpuopt.batch.results).
- A full disk stops the batch with a clear error and leaves every line whole."""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

from gpuopt.errors import InvalidInputError
from gpuopt.planning.solve import DEFAULT_GAP, check_limits, check_threads
from gpuopt.batch.jobs import BAD_INPUT, FAILED, FINAL, INFEASIBLE, OUTCOMES, PLANNED, UNSOLVED, Job, ScenarioLike, make_job
from gpuopt.batch.pool import ExecutorPool, LocalPool
from gpuopt.batch.results import Contents, ResultLog, failures_path, read_results

MAX_WORKERS = 1024
MAX_RETRIES = 10


@dataclass
class Summary:
    """What one `run` did. `failed` scenarios stay to be done: rerun the same call."""

    out: str
    total: int = 0  # scenarios given
    skipped: int = 0  # already recorded in `out`
    duplicates: int = 0  # given twice in this call (same name and content): planned once
    todo: int = 0
    done: int = 0  # recorded by this run (each final outcome below)
    planned: int = 0
    infeasible: int = 0
    unsolved: int = 0
    bad_input: int = 0
    failed: int = 0  # every attempt failed; not recorded, retried on the next run
    retried: int = 0  # attempts repeated after a failure
    notes: list[str] = field(default_factory=list)  # what was found in `out` and not trusted
    failed_keys: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def line(self) -> str:
        parts = [f"{self.done} recorded ({self.planned} planned, {self.infeasible} infeasible, "
                 f"{self.unsolved} unsolved, {self.bad_input} bad input)", f"{self.skipped} already done"]
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicates")
        if self.retried:
            parts.append(f"{self.retried} retried")
        if self.failed:
            parts.append(f"{self.failed} failed - rerun to retry them (errors in {failures_path(Path(self.out))})")
        return "; ".join(parts) + f"; results in {self.out}"


def _check(time_limit_s: float, threads: Optional[int], workers: Optional[int], retries: int,
           job_timeout_s: Optional[float]) -> float:
    check_limits(time_limit_s, DEFAULT_GAP)  # the planner's own rules, before any scenario runs
    check_threads(threads)
    if workers is not None and (not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS):
        raise InvalidInputError(f"workers must be a whole number from 1 to {MAX_WORKERS}, got {workers!r}")
    if not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise InvalidInputError(f"retries must be a whole number from 0 to {MAX_RETRIES}, got {retries!r}")
    if job_timeout_s is None:
        return max(10 * time_limit_s, time_limit_s + 120)
    if not isinstance(job_timeout_s, (int, float)) or not math.isfinite(job_timeout_s) or job_timeout_s < time_limit_s:
        raise InvalidInputError(f"job_timeout_s must be finite and at least time_limit_s ({time_limit_s:g} s), "
                                f"got {job_timeout_s!r}")
    return float(job_timeout_s)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run(scenarios: Iterable[ScenarioLike], *, out: Union[str, Path], executor: Optional[cf.Executor] = None,
        workers: Optional[int] = None, time_limit_s: float = 60.0, threads: Optional[int] = 1, retries: int = 2,
        job_timeout_s: Optional[float] = None, verify: bool = True, on_start: Optional[Callable[[Summary], None]] = None,
        on_result: Optional[Callable[[dict[str, Any]], None]] = None) -> Summary:
    """Plans every scenario (file paths or Scenario objects) not yet recorded in `out`.

    `executor`: run on it (e.g. Dask's) instead of `workers` local processes (default: one per
    core). `retries`: attempts repeated after a failure. `job_timeout_s`: a local worker with no
    answer by then is stopped (default: 10 x the time limit, at least the limit + 120 s).
    `verify`: each plan checked by simulation and tightened until it holds (gpuopt.plan's default).
    `on_start(summary)` is called once `out` is read (summary.todo, summary.notes);
    `on_result(record)` after every attempt, failed ones included (they carry `will_retry`)."""
    timeout = _check(time_limit_s, threads, workers, retries, job_timeout_s)
    if not isinstance(verify, bool):
        raise InvalidInputError(f"verify must be True or False, got {verify!r}")
    jobs = [make_job(s) for s in scenarios]
    summary = Summary(out=str(out), total=len(jobs))
    with ResultLog(out) as log:
        summary.notes = log.contents.problems(log.path)
        todo: list[Job] = []
        seen: set[str] = set()
        for job in jobs:
            if job.key in log.contents.records:
                summary.skipped += 1
            elif job.key in seen:
                summary.duplicates += 1
            else:
                seen.add(job.key)
                todo.append(job)
        summary.todo = len(todo)
        if on_start:
            on_start(summary)
        pool = ExecutorPool(executor, time_limit_s, threads, verify) if executor is not None else \
            LocalPool(min(workers or _cores(), max(len(todo), 1)), time_limit_s, threads, timeout, verify)
        errors: dict[str, list[str]] = {}

        def failed(job: Job, record: dict[str, Any], retry: bool) -> None:
            record = {**record, "will_retry": retry}
            log.failure(record)
            errors.setdefault(job.key, []).append(record["error"])
            if retry:
                summary.retried += 1
                pool.submit(job, record["attempt"] + 1)
            else:
                summary.failed += 1
                summary.failed_keys.append(job.key)
            if on_result:
                on_result(record)

        try:
            for job in todo:
                if job.content is None:  # unreadable: nothing to retry until the file is fixed
                    failed(job, {"key": job.key, "source": job.source, "attempt": 1, "outcome": FAILED,
                                 "error": job.read_error}, retry=False)
                else:
                    pool.submit(job, 1)
            for job, record in pool.results():
                if record.get("outcome") not in FINAL:
                    failed(job, record, retry=record.get("attempt", 1) <= retries)
                    continue
                if job.key in errors:
                    record = {**record, "earlier_errors": errors[job.key]}
                log.record(record)
                summary.done += 1
                setattr(summary, record["outcome"], getattr(summary, record["outcome"]) + 1)
                if on_result:
                    on_result(record)
        finally:
            pool.close()
    return summary


def finished_keys(out: Union[str, Path]) -> set[str]:
    """Keys recorded in `out` (lines that fail their checksum or were cut short are not)."""
    return set(read_results(out).records)


def scenario_key(item: ScenarioLike) -> str:
    """Stable identity of a scenario: its file name (or name) and the hash of its content."""
    return make_job(item).key


def scenario_files(directory: Union[str, Path]) -> list[Path]:
    d = Path(directory)
    if not d.is_dir():
        raise InvalidInputError(f"{d} is not a directory of scenario files")
    return sorted(p for p in d.iterdir() if p.suffix.lower() in (".yaml", ".yml", ".json") and p.is_file())


__all__ = ["BAD_INPUT", "Contents", "FAILED", "ResultLog", "FINAL", "INFEASIBLE", "OUTCOMES", "PLANNED", "Summary", "UNSOLVED",
           "failures_path", "finished_keys", "read_results", "run", "scenario_files", "scenario_key"]
