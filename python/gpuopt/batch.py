"""Batch jobs: many scenarios planned in parallel over any concurrent.futures.Executor - a local
process pool by default, a Dask cluster (`Client(...).get_executor()`) beyond one machine.

Each result is appended to a JSON-lines file as soon as it finishes (flushed and synced), so a
batch that is killed loses nothing finished; a rerun skips every scenario already recorded, by a
key made of its name and a hash of its content. A scenario that fails is recorded with its error
and never stops the others.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

from .errors import GpuoptError, InvalidInputError
from .scenario import Scenario, load_scenario

ScenarioLike = Union[str, Path, Scenario]


def scenario_key(item: ScenarioLike) -> str:
    """Stable identity of a scenario: its name (or file name) and the hash of its content."""
    if isinstance(item, Scenario):
        text, name = item.model_dump_json(), item.name
    else:
        path = Path(item)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise InvalidInputError(f"cannot read scenario {path}: {e.strerror}") from None
        name = path.name
    return f"{name}#{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def plan_one(item: ScenarioLike, time_limit_s: float = 60.0, threads: Optional[int] = 1) -> dict[str, Any]:
    """Plans one scenario; never raises - failures come back as {'status': 'error', 'error': ...}."""
    from .planner import plan

    started = time.time()
    key = scenario_key(item) if isinstance(item, Scenario) or Path(item).exists() else str(item)
    try:
        scn = item if isinstance(item, Scenario) else load_scenario(item)
        p = plan(scn, time_limit_s=time_limit_s, threads=threads, baselines=False)
        finite = lambda x: x if x == x else None  # noqa: E731 - JSON has no NaN
        return {"key": key, "scenario": scn.name, "status": p.status, "cost_per_hour": finite(p.cost_per_hour),
                "lower_bound_per_hour": finite(p.lower_bound_per_hour), "gap": finite(p.gap), "fleet": p.fleet,
                "infeasibility": p.infeasibility, "seconds": round(time.time() - started, 3), "pid": os.getpid()}
    except GpuoptError as e:
        return {"key": key, "status": "error", "error": str(e), "seconds": round(time.time() - started, 3)}
    except Exception as e:  # noqa: BLE001 - a batch records every failure and goes on
        return {"key": key, "status": "error", "error": f"{type(e).__name__}: {e}",
                "traceback": traceback.format_exc(limit=5), "seconds": round(time.time() - started, 3)}


def finished_keys(out: Path) -> set[str]:
    """Keys already recorded in `out` (a line cut short by a kill is ignored and redone)."""
    done = set()
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            try:
                done.add(json.loads(line)["key"])
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return done


def _append(out: Path, record: dict[str, Any]) -> None:
    with open(out, "a+", encoding="utf-8") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() > 0:  # make sure a line cut short by a kill does not swallow this one
            f.seek(f.tell() - 1)
            if f.read(1) != "\n":
                f.write("\n")
        f.write(json.dumps(record, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run(scenarios: Iterable[ScenarioLike], *, out: Union[str, Path], executor: Optional[cf.Executor] = None,
        workers: Optional[int] = None, time_limit_s: float = 60.0,
        on_result: Optional[Callable[[dict[str, Any]], None]] = None) -> dict[str, int]:
    """Plans every scenario not already in `out`, appending each result as it finishes.
    Returns counts: total, skipped (already done), done, errors."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    items = list(scenarios)
    keys = [scenario_key(s) if isinstance(s, Scenario) or Path(s).exists() else str(s) for s in items]
    done = finished_keys(out)
    todo = [(k, s) for k, s in zip(keys, items) if k not in done]
    counts = {"total": len(items), "skipped": len(items) - len(todo), "done": 0, "errors": 0}
    own = executor is None
    pool = executor or cf.ProcessPoolExecutor(max_workers=workers)
    try:
        futures = {pool.submit(plan_one, s, time_limit_s): k for k, s in todo}
        for fut in cf.as_completed(futures):
            try:
                record = fut.result()
            except Exception as e:  # noqa: BLE001 - a worker that died: record it and go on
                record = {"key": futures[fut], "status": "error", "error": f"{type(e).__name__}: {e}"}
            _append(out, record)
            counts["done"] += 1
            counts["errors"] += record["status"] == "error"
            if on_result:
                on_result(record)
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
    return counts


def scenario_files(directory: Union[str, Path]) -> list[Path]:
    d = Path(directory)
    if not d.is_dir():
        raise InvalidInputError(f"{d} is not a directory of scenario files")
    return sorted(p for p in d.iterdir() if p.suffix.lower() in (".yaml", ".yml", ".json"))


__all__ = ["finished_keys", "plan_one", "run", "scenario_files", "scenario_key"]
