"""Where a batch's jobs run: the local pool of worker processes, or any concurrent.futures
Executor (a Dask `Client(...).get_executor()` beyond one machine). Both take jobs with `submit`
and give back (job, record) pairs from `results()` until nothing is left; a job lost by the
infrastructure comes back as a `failed` record, so the batch decides whether to retry it."""

from __future__ import annotations

import collections
import concurrent.futures as cf
import json
import os
import signal
import subprocess
import sys
import time
from multiprocessing.connection import Connection, wait
from typing import Any, Iterator, Optional

from gpuopt.batch.jobs import Job, infrastructure_failure, plan_job

# A worker imports gpuopt from where this process did: the same sys.path, as multiprocessing's spawn does.
_BOOT = ("import json, sys; sys.path[:] = json.loads(sys.argv[3]); "
         "from gpuopt.batch.worker import serve; serve(int(sys.argv[1]), int(sys.argv[2]))")


def _died(code: Optional[int]) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _Worker:
    """One worker process and the job it holds."""

    def __init__(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(to_child_r), str(from_child_w), json.dumps(sys.path)],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.inbox = Connection(from_child_r, writable=False)
        self.outbox = Connection(to_child_w, readable=False)
        self.job: Optional[Job] = None
        self.attempt = 0
        self.deadline = float("inf")

    def give(self, job: Job, attempt: int, message: tuple, timeout_s: float) -> bool:
        try:
            self.outbox.send(message)
        except OSError:
            return False
        self.job, self.attempt, self.deadline = job, attempt, time.monotonic() + timeout_s
        return True

    def stop(self) -> Optional[int]:
        for conn in (self.outbox, self.inbox):
            conn.close()
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait()


class LocalPool:
    """`workers` worker processes on this machine, each a fresh interpreter (gpuopt.batch.worker). A
    worker that dies or passes its job's time-out costs that job one attempt and is replaced."""

    def __init__(self, workers: int, time_limit_s: float, threads: Optional[int], job_timeout_s: float,
                 verify: bool = True):
        self.size, self.message_args, self.verify = workers, (time_limit_s, threads), verify
        self.job_timeout_s = job_timeout_s
        self.queue: collections.deque[tuple[Job, int]] = collections.deque()
        self.workers: list[_Worker] = []

    def submit(self, job: Job, attempt: int) -> None:
        self.queue.append((job, attempt))

    def _dispatch(self) -> list[tuple[Job, dict[str, Any]]]:
        lost = []
        while self.queue:
            idle = next((w for w in self.workers if w.job is None), None)
            if idle is None:
                if len(self.workers) >= self.size:
                    break
                idle = _Worker()
                self.workers.append(idle)
            job, attempt = self.queue.popleft()
            if not idle.give(job, attempt, (job, *self.message_args, attempt, self.verify), self.job_timeout_s):
                self.workers.remove(idle)
                code = idle.stop()
                lost.append((job, infrastructure_failure(job, attempt,
                                                         f"worker process died before its job ({_died(code)})")))
        return lost

    def results(self) -> Iterator[tuple[Job, dict[str, Any]]]:
        while True:
            yield from self._dispatch()
            busy = [w for w in self.workers if w.job is not None]
            if not busy:
                if not self.queue:
                    return
                continue
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = set(wait([w.inbox for w in busy], timeout=timeout))
            now = time.monotonic()
            for w in busy:
                job = w.job
                assert job is not None
                if w.inbox in ready:
                    try:
                        record = w.inbox.recv()
                    except (EOFError, OSError):
                        self.workers.remove(w)
                        code = w.stop()
                        yield job, infrastructure_failure(
                            job, w.attempt, f"worker process died while planning ({_died(code)})", exit_code=code)
                        continue
                    w.job, w.deadline = None, float("inf")
                    yield job, record
                elif now >= w.deadline:
                    self.workers.remove(w)
                    w.stop()
                    yield job, infrastructure_failure(
                        job, w.attempt, f"no result after {self.job_timeout_s:g} s (the solver's limit is "
                             f"{self.message_args[0]:g} s): worker stopped", timed_out=True)

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        self.workers.clear()


class ExecutorPool:
    """Jobs on a concurrent.futures Executor (Dask's included). An exception from the executor (a
    worker lost, a pool broken, a cancelled task) is a failed attempt of that job."""

    def __init__(self, executor: cf.Executor, time_limit_s: float, threads: Optional[int], verify: bool = True):
        self.executor, self.args, self.verify = executor, (time_limit_s, threads), verify
        self.futures: dict[cf.Future, tuple[Job, int]] = {}

    def submit(self, job: Job, attempt: int) -> None:
        try:
            fut = self.executor.submit(plan_job, job, *self.args, attempt, self.verify)
        except Exception as e:  # noqa: BLE001 - e.g. a broken pool refusing new work
            fut = cf.Future()
            fut.set_exception(e)
        self.futures[fut] = (job, attempt)

    def results(self) -> Iterator[tuple[Job, dict[str, Any]]]:
        while self.futures:
            done, _ = cf.wait(list(self.futures), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                job, attempt = self.futures.pop(fut)
                try:
                    record = fut.result()
                except BaseException as e:  # noqa: BLE001 - CancelledError is a BaseException
                    if isinstance(e, (KeyboardInterrupt, SystemExit)):
                        raise
                    record = infrastructure_failure(job, attempt, f"{type(e).__name__}: {e}")
                yield job, record

    def close(self) -> None:
        for fut in self.futures:
            fut.cancel()
        self.futures.clear()


__all__ = ["ExecutorPool", "LocalPool"]
