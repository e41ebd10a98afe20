"""The batch's result file: JSON lines, one final record per scenario key, each line checksummed.

- One writer at a time: an exclusive `flock` on `<out>.lock`, held for the whole batch (the kernel
  drops it when the process dies, so a killed batch leaves no stale lock). A second batch on the
  same output refuses with the holder's pid.
- A line is appended with one `write` and synced before the scenario counts as done. If the write
  fails (a full disk), the file is cut back to its last whole line and the batch stops.
- A torn last line (a kill mid-write) is reported and cut off when the file is opened, and its
  scenario is planned again; a line whose checksum does not match is reported and not trusted.
- Attempts that failed (crashes, dead workers) go to `<out stem>.failures.jsonl`, never to the
  result file, so a key appears there exactly once."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpuopt.errors import OutputError
from gpuopt.files import refuse_symlink
from gpuopt.batch.jobs import FINAL

_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def checksum(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "check"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def encode(record: dict[str, Any]) -> bytes:
    """One line: the record with its checksum, ending in a newline."""
    try:
        line = json.dumps({**record, "check": checksum(record)}, allow_nan=False, default=str)
    except ValueError as e:  # a NaN slipped through: a bug, never a silent 'NaN' in the file
        raise OutputError(f"result for {record.get('key')!r} is not valid JSON: {e}") from None
    return line.encode() + b"\n"


@dataclass
class Contents:
    """What a result file holds: the trusted final records by key, and what was not trusted."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    torn_tail: int = 0  # bytes of a last line cut short
    corrupt_lines: list[int] = field(default_factory=list)  # 1-based line numbers
    duplicate_lines: list[int] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """One row per scenario recorded: its scalar fields (nested ones as JSON text)."""
        return [{k: (json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v) for k, v in rec.items()}
                for rec in self.records.values()]

    def to_pandas(self):
        from gpuopt.estimation.columns import rows_frame

        return rows_frame(self.rows(), "pandas")

    def to_polars(self):
        from gpuopt.estimation.columns import rows_frame

        return rows_frame(self.rows(), "polars")

    def problems(self, path: Path) -> list[str]:
        out = []
        if self.torn_tail:
            out.append(f"{path}: its last line was cut short ({self.torn_tail} bytes, a batch killed while writing); "
                       "dropped, its scenario is planned again")
        if self.corrupt_lines:
            out.append(f"{path}: line(s) {', '.join(map(str, self.corrupt_lines[:10]))} fail their checksum or are not "
                       "JSON; not trusted, their scenarios are planned again")
        if self.duplicate_lines:
            out.append(f"{path}: line(s) {', '.join(map(str, self.duplicate_lines[:10]))} repeat a key already "
                       "recorded; the first record is kept")
        return out


def parse(data: bytes) -> tuple[Contents, int]:
    """The contents of a result file and the length of its whole lines (where a torn tail starts)."""
    c = Contents()
    whole = data.rfind(b"\n") + 1
    c.torn_tail = len(data) - whole
    for number, raw in enumerate(data[:whole].split(b"\n")[:-1], start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
            ok = isinstance(rec, dict) and rec.get("check") == checksum(rec) and rec.get("outcome") in FINAL
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError):
            ok = False
        if not ok:
            c.corrupt_lines.append(number)
        elif rec["key"] in c.records:
            c.duplicate_lines.append(number)
        else:
            c.records[rec["key"]] = rec
    return c, whole


def read_results(path: Path | str) -> Contents:
    """The trusted records of a result file (without locking or changing it)."""
    path = Path(path)
    try:
        return parse(path.read_bytes())[0]
    except FileNotFoundError:
        return Contents()


def failures_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.failures{out.suffix or '.jsonl'}")


class ResultLog:
    """The open result file of one batch (a context manager holding the lock)."""

    def __init__(self, out: Path | str):
        self.path = Path(out)
        self._fds: dict[Path, int] = {}
        self.contents = Contents()

    def __enter__(self) -> "ResultLog":
        try:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise OutputError(f"cannot create {self.path.parent}: {e.strerror}") from None
            self._lock()
            self.contents = self._recover()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, path: Path) -> int:
        if path not in self._fds:
            try:
                dir_fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            except OSError as e:
                raise OutputError(f"cannot open {path}: folder {path.parent}: {e.strerror}") from None
            try:
                refuse_symlink(dir_fd, path.name, path)
                self._fds[path] = os.open(path.name, _APPEND, 0o644, dir_fd=dir_fd)
            except OutputError:
                raise
            except OSError as e:
                raise OutputError(f"cannot open {path}: {e.strerror}") from None
            finally:
                os.close(dir_fd)
        return self._fds[path]

    def _lock(self) -> None:
        lock = self.path.with_name(self.path.name + ".lock")
        fd = self._open(lock)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = lock.read_text(encoding="utf-8", errors="replace").strip() or "unknown"
            except OSError:
                holder = "unknown"
            raise OutputError(f"another batch (pid {holder}) is writing {self.path}; wait for it to finish, "
                              "or give this one another --out") from None
        try:  # who holds it, for the message a second batch gets; the lock works without it
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass

    def _recover(self) -> Contents:
        fd = self._open(self.path)
        try:
            with open(self.path, "rb") as f:
                contents, whole = parse(f.read())
            if contents.torn_tail:
                os.ftruncate(fd, whole)
                os.fsync(fd)
        except OSError as e:
            raise OutputError(f"cannot read back {self.path}: {e.strerror}") from None
        return contents

    def _append(self, path: Path, line: bytes) -> None:
        fd = self._open(path)
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as e:
            try:
                os.ftruncate(fd, start)  # no half line: the file ends where the last whole record did
                os.fsync(fd)
            except OSError:
                pass
            raise OutputError(f"cannot write {path}: {e.strerror}. The batch stopped; "
                              f"{len(self.contents.records)} results are saved whole. "
                              "Free space (or fix the cause) and rerun the same command to go on.") from None

    def record(self, rec: dict[str, Any]) -> None:
        """Appends a final record; the key must not be recorded yet."""
        if rec["key"] in self.contents.records:
            raise OutputError(f"{rec['key']} is already recorded in {self.path}")  # a bug: exactly once
        self._append(self.path, encode(rec))
        self.contents.records[rec["key"]] = rec

    def failure(self, rec: dict[str, Any]) -> None:
        """Appends a failed attempt to the failure log (the scenario stays to be done)."""
        self._append(failures_path(self.path), encode(rec))

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)  # closing the lock file's descriptor releases the lock
        self._fds.clear()


__all__ = ["Contents", "ResultLog", "checksum", "encode", "failures_path", "read_results"]
