"""Files gpuopt writes: whole or not at all, never through a symbolic link.

Each file is written to a temporary name in its own folder, synced, then renamed over the target,
so a full disk or a kill leaves the old file or none, never half of one. A target that is a
symbolic link is refused (a link planted in an output folder must not redirect a write outside it),
and names must be plain file names inside that folder."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Union

from gpuopt.errors import OutputError

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _plain_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\0" in name or (os.altsep and os.altsep in name):
        raise OutputError(f"refusing to write {name!r}: not a plain file name inside the output folder")


def refuse_symlink(dir_fd: int, name: str, shown: Path) -> None:
    """Raises OutputError when `name` in the folder `dir_fd` is a symbolic link."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(name, dir_fd=dir_fd)
        raise OutputError(f"refusing to write {shown}: it is a symbolic link (to {target}); "
                          "remove the link or choose another output folder")


def write_atomic(path: Union[str, Path], data: Union[bytes, str]) -> Path:
    """Writes `data` (str as UTF-8) to `path`, all of it or nothing; returns the path."""
    path = Path(path)
    _plain_name(path.name)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as e:
        raise OutputError(f"cannot write {path}: folder {path.parent}: {e.strerror}") from None
    tmp = f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        refuse_symlink(dir_fd, path.name, path)
        try:
            fd = os.open(tmp, _FLAGS, 0o644, dir_fd=dir_fd)
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.fsync(dir_fd)
        except OSError as e:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except OSError:
                pass
            raise OutputError(f"cannot write {path}: {e.strerror}; nothing was written there") from None
    finally:
        os.close(dir_fd)
    return path


__all__ = ["refuse_symlink", "write_atomic"]
