"""Batch jobs over a process pool and a real Dask LocalCluster; killed batches resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import gpuopt
from gpuopt import batch

N = 200


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("scenarios")
    for i in range(N):
        scn = gpuopt.synthetic_fleet(2, 2, 1, 0, seed=i)
        (d / f"s{i:03d}.yaml").write_text(yaml.safe_dump(scn.model_dump(mode="json", exclude_none=True)))
    (d / "broken.yaml").write_text("sites: [{name: dc, gpus: [{type: h100}]}]\n")  # an unknown GPU
    return d


def _load(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {r["key"]: r for r in rows}


def _essence(r: dict) -> tuple:
    cost = r.get("cost_per_hour")
    cost = None if cost is None or cost != cost else round(cost, 9)  # NaN (infeasible) compares as None
    return (r["status"], cost, json.dumps(r.get("fleet"), sort_keys=True))


def test_process_pool_and_dask_agree(scenario_dir, tmp_path):
    from dask.distributed import Client, LocalCluster

    files = batch.scenario_files(scenario_dir)
    local = tmp_path / "local.jsonl"
    counts = batch.run(files, out=local, workers=2, time_limit_s=30)
    assert counts == {"total": N + 1, "skipped": 0, "done": N + 1, "errors": 1}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        remote = tmp_path / "dask.jsonl"
        counts = batch.run(files, out=remote, executor=client.get_executor(), time_limit_s=30)
    assert counts["done"] == N + 1
    a, b = _load(local), _load(remote)
    assert set(a) == set(b) and len(a) == N + 1
    assert all(_essence(a[k]) == _essence(b[k]) for k in a)
    broken = next(r for r in a.values() if r["key"].startswith("broken.yaml"))
    assert broken["status"] == "error" and "unknown gpu 'h100'" in broken["error"]
    assert sum(r["status"] == "optimal" for r in a.values()) >= N * 0.8


def test_killed_batch_resumes_without_redoing(scenario_dir, tmp_path):
    out = tmp_path / "results.jsonl"
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "gpuopt", "batch", str(scenario_dir), "--out", str(out),
                             "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 40):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = out.read_text()
    first = _load(out) if before.strip() else {}
    # whatever was cut short mid-line is dropped and redone; everything finished stays as it was
    kept = [line for line in before.splitlines() if line.strip()]
    assert 40 <= len(first) < N + 1
    counts = batch.run(batch.scenario_files(scenario_dir), out=out, workers=2, time_limit_s=30)
    assert counts["skipped"] == len(first) and counts["done"] == N + 1 - len(first)
    after = _load(out)
    assert len(after) == N + 1
    lines = out.read_text().splitlines()
    assert lines[:len(kept) - 1] == kept[:len(kept) - 1]  # nothing finished was rewritten
    assert len([ln for ln in lines if ln.strip()]) - (len(kept) - len(first)) == N + 1  # nothing redone twice
