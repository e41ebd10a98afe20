"""A batch worker process (gpuopt.batch.pool starts it with its own sys.path and two pipe ends).

Started fresh by the local pool (never forked from a process whose threads would not survive the
fork, and never re-importing the caller's main script), it plans the jobs it is sent one at a time
and answers each with its record. Ctrl-C is the parent's to handle; end of input ends the worker."""

from __future__ import annotations

import signal
from multiprocessing.connection import Connection

from gpuopt.batch.jobs import plan_job


def serve(read_fd: int, write_fd: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    while True:
        try:
            message = inbox.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        try:
            outbox.send(plan_job(*message))
        except (BrokenPipeError, OSError):
            return  # the batch is gone

