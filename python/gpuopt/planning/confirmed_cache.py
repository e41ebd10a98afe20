"""Simulator-confirmed capacities kept on disk, so a scenario planned again (by another process, a
batch worker, the CLI) does not run the same simulations again.

One JSON line per configuration, `{"key": ..., "rps": ...}`, appended to
`$GPUOPT_CACHE_DIR/confirmed-<engine>.jsonl` (default `$XDG_CACHE_HOME/gpuopt` or `~/.cache/gpuopt`;
`GPUOPT_CACHE_DIR=off` turns it off). `<engine>` fingerprints the compiled Rust core, so a rebuilt
simulator never reads another build's answers. Lines that do not parse are skipped; a cache that
cannot be written is only logged: it saves time, it never changes a plan.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Optional

from gpuopt import _core

log = logging.getLogger(__name__)

MAX_LINES = 200_000   # past this the file is started again


def _engine_fingerprint() -> str:
    st = os.stat(_core.__file__)
    return hashlib.sha256(f"{_core.__version__}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]


def cache_file() -> Optional[Path]:
    """Where confirmed rates are kept, or None when the cache is off."""
    root = os.environ.get("GPUOPT_CACHE_DIR")
    if root is not None and root.strip().lower() in ("", "off", "0", "none"):
        return None
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = str(Path(base) / "gpuopt")
    return Path(root) / f"confirmed-{_engine_fingerprint()}.jsonl"


def key_text(key: tuple) -> str:
    """A configuration's key as a short stable string (its repr is exact for floats)."""
    return hashlib.sha256(repr(key).encode()).hexdigest()


def load() -> dict[str, float]:
    path = cache_file()
    out: dict[str, float] = {}
    if path is None or not path.is_file():
        return out
    try:
        with path.open("r", encoding="utf-8") as f:
            for line in f:
                try:
                    d = json.loads(line)
                    out[str(d["key"])] = float(d["rps"])
                except (ValueError, KeyError, TypeError):
                    continue   # a torn or foreign line
    except OSError as e:
        log.debug("confirmed-capacity cache %s not read: %s", path, e)
    return out


def save(entries: dict[str, float], known: int) -> None:
    """Appends `entries` (one write per line, atomic under O_APPEND); `known`: lines already there."""
    path = cache_file()
    if path is None or not entries:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "w" if known + len(entries) > MAX_LINES else "a"
        with path.open(mode, encoding="utf-8") as f:
            for k, v in entries.items():
                f.write(json.dumps({"key": k, "rps": v}) + "\n")
    except OSError as e:
        log.debug("confirmed-capacity cache %s not written: %s", path, e)


__all__ = ["cache_file", "key_text", "load", "save"]
