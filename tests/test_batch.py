"""Batch jobs over real worker processes and a real Dask LocalCluster: results recorded exactly
once, whatever is killed, torn, full or run twice."""

import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

import gpuopt
from gpuopt import batch
from gpuopt.batch import results
from gpuopt.errors import InvalidInputError, OutputError

N = 200


def run(*args, **kw):
    """batch.run without the simulation check: these tests are about the batch machinery
    (test_duplicates_and_scenario_objects runs the default, verified)."""
    return batch.run(*args, **{"verify": False, **kw})


def _write_fleets(d: Path, n: int, shape=(2, 2, 1, 0)) -> None:
    for i in range(n):
        scn = gpuopt.synthetic_fleet(*shape, seed=i)
        (d / f"s{i:03d}.yaml").write_text(yaml.safe_dump(scn.model_dump(mode="json", exclude_none=True)))


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("scenarios")
    _write_fleets(d, N)
    (d / "broken.yaml").write_text("sites: [{name: dc, gpus: [{type: h100}]}]\n")  # an unknown GPU
    (d / "latin1.yaml").write_bytes(b"name: caf\xe9\n")  # not UTF-8: bad input of its own, the rest goes on
    return d


@pytest.fixture(scope="module")
def slower_dir(tmp_path_factory) -> Path:
    """Scenarios that take tens of milliseconds each, so a kill lands while a worker holds one."""
    d = tmp_path_factory.mktemp("slower")
    _write_fleets(d, 40, shape=(8, 4, 2, 1))
    return d


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _exactly_once(path: Path, expected: int) -> dict[str, dict]:
    """Every line whole and checksummed, one per key, `expected` keys."""
    contents = results.read_results(path)
    assert not contents.torn_tail and not contents.corrupt_lines and not contents.duplicate_lines
    rows = _lines(path)
    assert len(rows) == len(contents.records) == expected
    return contents.records


def _essence(r: dict) -> tuple:
    cost = r.get("cost_per_hour")
    return (r["outcome"], r.get("status"), None if cost is None else round(cost, 9),
            json.dumps(r.get("fleet"), sort_keys=True))


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gpuopt", "batch", "--no-verify", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"}, **kw)


def test_process_pool_and_dask_agree_with_relative_paths(scenario_dir, tmp_path, monkeypatch):
    from dask.distributed import Client, LocalCluster

    monkeypatch.chdir(scenario_dir.parent)
    files = batch.scenario_files(scenario_dir.name)  # relative: the Dask workers must not resolve them
    assert not files[0].is_absolute()
    local = tmp_path / "local.jsonl"
    s = run(files, out=local, workers=2, time_limit_s=30)
    assert (s.total, s.skipped, s.done, s.bad_input, s.failed) == (N + 2, 0, N + 2, 2, 0)
    progress = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        remote = tmp_path / "dask.jsonl"
        s = run(files, out=remote, executor=client.get_executor(), time_limit_s=30,
                      on_result=progress.append)
    assert s.done == N + 2 and s.failed == 0 and len(progress) == N + 2
    a, b = _exactly_once(local, N + 2), _exactly_once(remote, N + 2)
    assert set(a) == set(b)
    assert all(_essence(a[k]) == _essence(b[k]) for k in a)
    broken = next(r for r in a.values() if r["key"].startswith("broken.yaml"))
    assert broken["outcome"] == "bad_input" and "unknown gpu 'h100'" in broken["error"]
    latin1 = next(r for r in b.values() if r["key"].startswith("latin1.yaml"))
    assert latin1["outcome"] == "bad_input" and "not UTF-8" in latin1["error"] and "offset 9" in latin1["error"]
    assert sum(r["outcome"] == "planned" for r in a.values()) >= N * 0.8
    expected = {"optimal": "planned", "feasible": "planned", "infeasible": "infeasible", "unsolved": "unsolved"}
    assert all(r["outcome"] == expected[r["status"]] for r in a.values() if r["outcome"] != "bad_input")
    assert s.infeasible == sum(r["outcome"] == "infeasible" for r in b.values()) > 0
    assert {r["pid"] for r in a.values()} - {os.getpid()}  # planned in worker processes


def test_killed_batch_resumes_without_redoing(scenario_dir, tmp_path):
    out = tmp_path / "results.jsonl"
    proc = _cli(str(scenario_dir), "--out", str(out), "--workers", "2", start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 40):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    before = results.read_results(out)
    assert 40 <= len(before.records) < N + 2
    kept = out.read_bytes()[:out.read_bytes().rfind(b"\n") + 1]
    s = run(batch.scenario_files(scenario_dir), out=out, workers=2, time_limit_s=30)
    assert s.skipped == len(before.records) and s.done == N + 2 - len(before.records)
    _exactly_once(out, N + 2)
    assert out.read_bytes().startswith(kept)  # nothing finished was rewritten


def test_kill_9_of_a_worker_costs_one_attempt_of_one_scenario(slower_dir, tmp_path):
    out = tmp_path / "results.jsonl"
    proc = _cli(str(slower_dir), "--out", str(out), "--workers", "2")
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 5):
        time.sleep(0.005)
    victim = _lines(out)[-1]["pid"]  # the worker that just answered: alive, holding its next scenario
    os.kill(victim, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    records = _exactly_once(out, 40)
    assert all(r["outcome"] in batch.FINAL for r in records.values())
    failures = _lines(results.failures_path(out))
    assert failures and all(f["will_retry"] for f in failures)
    assert any("SIGKILL" in f["error"] or "died" in f["error"] for f in failures)
    retried = records[failures[0]["key"]]
    assert retried["attempt"] == 2 and retried["earlier_errors"] == [failures[0]["error"]]
    assert victim not in {r["pid"] for r in records.values() if r["key"] == failures[0]["key"]}
    assert "1 retried" in stderr and "failed:" in stderr
    again = _cli(str(slower_dir), "--out", str(out), "--workers", "2")
    _, stderr = again.communicate(timeout=120)
    assert again.returncode == 0 and "0 recorded" in stderr and "40 already done" in stderr
    _exactly_once(out, 40)


class _LosesFirstAttempts(cf.ThreadPoolExecutor):
    """An executor whose first `lose` submissions are lost, as a pool that lost its worker reports."""

    def __init__(self, lose: int):
        super().__init__(max_workers=2)
        self.lose = lose

    def submit(self, fn, *args, **kwargs):
        if self.lose > 0:
            self.lose -= 1
            fut = cf.Future()
            fut.set_exception(cf.process.BrokenProcessPool("a worker died"))
            return fut
        return super().submit(fn, *args, **kwargs)


def test_lost_attempts_are_retried_then_left_for_the_next_run(slower_dir, tmp_path):
    files = batch.scenario_files(slower_dir)[:3]
    out = tmp_path / "r.jsonl"
    with _LosesFirstAttempts(lose=1) as ex:
        s = run(files, out=out, executor=ex, time_limit_s=30, retries=1)
    assert (s.done, s.retried, s.failed) == (3, 1, 0)
    retried = next(r for r in _exactly_once(out, 3).values() if r["attempt"] == 2)
    assert retried["earlier_errors"] == ["BrokenProcessPool: a worker died"]
    out2 = tmp_path / "r2.jsonl"
    with _LosesFirstAttempts(lose=3) as ex:  # every first attempt lost and no retry: nothing recorded
        s = run(files, out=out2, executor=ex, time_limit_s=30, retries=0)
    assert (s.done, s.failed, len(s.failed_keys)) == (0, 3, 3) and "rerun to retry" in s.line()
    assert _lines(out2) == [] and len(_lines(results.failures_path(out2))) == 3
    s = run(files, out=out2, workers=1, time_limit_s=30)  # failures never count as done
    assert (s.skipped, s.done, s.failed) == (0, 3, 0)
    _exactly_once(out2, 3)


def test_a_worker_past_its_time_out_is_stopped_and_the_scenario_not_done(slower_dir, tmp_path):
    out = tmp_path / "r.jsonl"
    # 0.05 s is less than a fresh worker needs to import the planner: every attempt times out
    s = run(batch.scenario_files(slower_dir)[:2], out=out, workers=2, time_limit_s=0.05,
                  job_timeout_s=0.05, retries=1)
    assert (s.done, s.failed, s.retried) == (0, 2, 2)
    failures = _lines(results.failures_path(out))
    assert len(failures) == 4 and all(f["timed_out"] and "worker stopped" in f["error"] for f in failures)


def test_batch_after_a_large_engine_call_in_the_same_process(slower_dir, tmp_path):
    """The engine's threads do not survive fork(): the local pool never forks, and the engine
    rebuilds its thread pool in a forked child (a user's own fork-based executor works too)."""
    script = textwrap.dedent(f"""
        import concurrent.futures as cf, multiprocessing as mp, sys
        import gpuopt
        from gpuopt import batch
        g = gpuopt.fit_grid(gpuopt.models(), gpuopt.gpus(), precisions=gpuopt.PRECISIONS,
                            batches=range(1, 129), contexts=[2048, 4096], tps=[1, 2])
        assert g.size > 100_000
        n = 200_000
        many = gpuopt.fit_many(["llama-2-7b"] * n, ["a100-40gb"] * n, batch=list(range(1, n + 1)), context=2048)
        assert len(many["verdict"]) == n
        files = batch.scenario_files({str(slower_dir)!r})[:6]
        s = batch.run(files, out={str(tmp_path / 'a.jsonl')!r}, workers=2, time_limit_s=30, verify=False)
        assert s.done == 6 and s.failed == 0, s
        with cf.ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
            s = batch.run(files, out={str(tmp_path / 'b.jsonl')!r}, executor=ex, time_limit_s=30, verify=False)
        assert s.done == 6 and s.failed == 0, s
        print("ok")
    """)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]


def _fork_child(q):
    q.put(gpuopt.fit_grid(gpuopt.models(), gpuopt.gpus(), batches=range(1, 65), contexts=[2048]).size)


def test_engine_parallel_call_in_a_forked_child():
    gpuopt.fit_grid(gpuopt.models(), gpuopt.gpus(), batches=range(1, 65), contexts=[2048])  # pool up in the parent
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    child = ctx.Process(target=_fork_child, args=(q,))
    child.start()
    child.join(60)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0 and q.get(timeout=5) > 0


def test_two_batches_on_one_output_never_duplicate(slower_dir, tmp_path):
    out = tmp_path / "results.jsonl"
    # a batch that holds the output (another process, kept open until told to finish)
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from gpuopt.batch import ResultLog\n"
                               f"with ResultLog({str(out)!r}):\n    print('held', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    refused = _cli(str(slower_dir), "--out", str(out), "--workers", "1")
    _, stderr = refused.communicate(timeout=120)
    assert refused.returncode == 4 and f"another batch (pid {holder.pid}) is writing" in " ".join(stderr.split())
    with pytest.raises(OutputError, match="another batch"):  # in-process too
        run(batch.scenario_files(slower_dir), out=out, workers=1)
    holder.communicate("", timeout=60)  # released: the lock goes with its holder
    # two real batches started together: one writes, the other refuses or finds everything done
    first = _cli(str(slower_dir), "--out", str(out), "--workers", "1")
    second = _cli(str(slower_dir), "--out", str(out), "--workers", "1")
    (_, err1), (_, err2) = first.communicate(timeout=300), second.communicate(timeout=300)
    runs = [(first.returncode, " ".join(err1.split())), (second.returncode, " ".join(err2.split()))]
    worker = [r for r in runs if r[0] == 0 and "40 recorded" in r[1]]
    other = [r for r in runs if r not in worker]
    assert len(worker) == 1 and len(other) == 1, runs
    assert other[0][0] == 0 and "40 already done" in other[0][1] or \
        other[0][0] == 4 and "another batch" in other[0][1], runs
    _exactly_once(out, 40)


def test_torn_last_line_is_reported_and_redone(slower_dir, tmp_path):
    files = batch.scenario_files(slower_dir)[:4]
    out = tmp_path / "r.jsonl"
    run(files, out=out, workers=2, time_limit_s=30)
    data = out.read_bytes()
    lines = data.splitlines(keepends=True)
    torn_key = json.loads(lines[-1])["key"]
    out.write_bytes(b"".join(lines[:-1]) + lines[-1][:len(lines[-1]) // 2])  # a kill mid-write
    notes = []
    s = run(files, out=out, workers=2, time_limit_s=30, on_start=lambda s: notes.extend(s.notes))
    assert s.skipped == 3 and s.done == 1 and "cut short" in notes[0]
    assert torn_key in _exactly_once(out, 4)
    # a line whose content no longer matches its checksum is not trusted either
    rows = out.read_text().splitlines()
    bad = json.loads(rows[0])
    bad["cost_per_hour"] = 0.01
    out.write_text("\n".join([json.dumps(bad)] + rows[1:]) + "\n")
    assert bad["key"] not in batch.finished_keys(out)
    s = run(files, out=out, workers=1, time_limit_s=30)
    assert s.done == 1 and "checksum" in s.notes[0] and "line(s) 1" in s.notes[0]


class _SmallDisk:
    """A folder on a file system of `kb` KiB: a tmpfs mount (root), else a file-size limit on the
    child process (RLIMIT_FSIZE) where mounting is not allowed."""

    def __init__(self, root: Path, kb: int):
        self.path = root / "disk"
        self.path.mkdir()
        self.limit_bytes = kb * 1024
        self.mounted = not os.environ.get("GPUOPT_TEST_NO_MOUNT") and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kb}k", "tmpfs", str(self.path)], capture_output=True).returncode == 0

    def preexec(self):
        if self.mounted:
            return None
        import resource

        limit = self.limit_bytes
        return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    def grow(self) -> None:
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,size=4m", str(self.path)], check=True)
        else:
            self.limit_bytes = 4 << 20

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    disk = _SmallDisk(tmp_path, 16)
    yield disk
    disk.close()


def test_full_disk_stops_the_batch_with_every_line_whole(slower_dir, small_disk):
    out = small_disk.path / "results.jsonl"
    p = subprocess.run([sys.executable, "-m", "gpuopt", "batch", "--no-verify", str(slower_dir), "--out", str(out),
                        "--workers", "2"], capture_output=True, text=True, timeout=300,
                       preexec_fn=small_disk.preexec(), env={**os.environ, "COLUMNS": "200"})
    message = " ".join(p.stderr.split())
    assert p.returncode == 4, p.stderr
    assert ("No space left on device" in message or "File too large" in message) and "rerun" in message
    contents = results.read_results(out)
    assert contents.records and len(contents.records) < 40
    assert not contents.torn_tail and not contents.corrupt_lines  # every line whole
    small_disk.grow()
    p = subprocess.run([sys.executable, "-m", "gpuopt", "batch", "--no-verify", str(slower_dir), "--out", str(out),
                        "--workers", "2"], capture_output=True, text=True, timeout=300,
                       preexec_fn=small_disk.preexec())
    assert p.returncode == 0, p.stderr
    _exactly_once(out, 40)


def test_full_disk_leaves_no_partial_manifest(small_disk):
    script = textwrap.dedent(f"""
        import sys, gpuopt
        from gpuopt.errors import OutputError
        scn = gpuopt.load_scenario("examples/enterprise.yaml")
        p = gpuopt.plan(scn, threads=1, baselines=False)
        try:
            gpuopt.export_k8s(p, scn, {str(small_disk.path / 'k8s')!r})
        except OutputError as e:
            print(e)
            sys.exit(4)
    """)
    small_disk.limit_bytes = 512  # the RLIMIT fallback: a manifest is cut off past 512 bytes
    if small_disk.mounted:
        subprocess.run(["mount", "-o", "remount,size=8k", str(small_disk.path)], check=True)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                       preexec_fn=small_disk.preexec(), cwd=Path(__file__).resolve().parents[1])
    assert p.returncode == 4 and "nothing was written there" in p.stdout, p.stdout + p.stderr
    for f in (small_disk.path / "k8s").glob("*.yaml"):
        obj = yaml.safe_load(f.read_text())
        assert obj["apiVersion"] and obj["kind"] and obj["metadata"]["name"]  # whole
    assert not list((small_disk.path / "k8s").glob("*.tmp"))


def test_batch_parameters_are_checked_before_anything_runs(tmp_path):
    for kw, msg in [(dict(time_limit_s=float("nan")), "time_limit_s"), (dict(time_limit_s=0), "time_limit_s"),
                    (dict(workers=0), "workers"), (dict(retries=-1), "retries"), (dict(threads=0), "threads"),
                    (dict(time_limit_s=10, job_timeout_s=5), "job_timeout_s"), (dict(verify="yes"), "verify")]:
        with pytest.raises(InvalidInputError, match=msg):
            run([], out=tmp_path / "r.jsonl", **kw)
    assert not (tmp_path / "r.jsonl").exists()
    p = _cli(str(tmp_path), "--time-limit", "nan")
    _, stderr = p.communicate(timeout=60)
    assert p.returncode == 2 and "time_limit_s must be seconds in (0," in stderr


def test_an_edited_file_is_planned_again_an_unchanged_one_is_not(slower_dir, tmp_path):
    d = tmp_path / "scenarios"
    d.mkdir()
    for f in batch.scenario_files(slower_dir)[:3]:
        (d / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "r.jsonl"
    assert run(batch.scenario_files(d), out=out, workers=1).done == 3
    edited = batch.scenario_files(d)[1]
    data = yaml.safe_load(edited.read_text())
    data["services"][0]["rate"] = 0.5
    edited.write_text(yaml.safe_dump(data))
    s = run(batch.scenario_files(d), out=out, workers=1)
    assert (s.skipped, s.done) == (2, 1)
    keys = [k for k in _exactly_once(out, 4) if k.startswith(edited.name + "#")]
    assert len(keys) == 2 and batch.scenario_key(edited) in keys  # both versions' results kept, by content


def test_duplicates_and_scenario_objects(tmp_path):
    scn = gpuopt.synthetic_fleet(4, 3, 2, 0, seed=1)
    s = batch.run([scn, scn], out=tmp_path / "r.jsonl", workers=1, time_limit_s=30)
    assert (s.total, s.duplicates, s.done, s.failed) == (2, 1, 1, 0)
    assert batch.scenario_key(scn) in batch.finished_keys(tmp_path / "r.jsonl")
    (record,) = _lines(tmp_path / "r.jsonl")
    direct = gpuopt.plan(scn, time_limit_s=30, threads=1, baselines=False)   # verified, as the batch's default
    assert record["verified"] is True and record["cost_per_hour"] == pytest.approx(direct.cost_per_hour, rel=1e-9)


def test_cli_on_a_dask_scheduler_with_a_relative_folder(slower_dir, tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        p = subprocess.run([sys.executable, "-m", "gpuopt", "batch", "--no-verify", slower_dir.name, "--out", str(tmp_path / "r.jsonl"),
                            "--scheduler", cluster.scheduler_address], cwd=slower_dir.parent, capture_output=True,
                           text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    records = _exactly_once(tmp_path / "r.jsonl", 40)
    assert all(r["outcome"] in batch.FINAL and r["source"].startswith(slower_dir.name) for r in records.values())
    assert "40 recorded" in p.stderr


def test_cli_names_an_unreachable_scheduler(tmp_path):
    p = _cli(str(tmp_path), "--scheduler", "tcp://127.0.0.1:9")
    _, stderr = p.communicate(timeout=120)
    assert p.returncode == 2 and "cannot reach a Dask scheduler" in stderr


def test_a_symlinked_result_file_is_refused(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "r.jsonl").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        run([gpuopt.synthetic_fleet(2, 2, 1, 0, seed=1)], out=tmp_path / "out" / "r.jsonl", workers=1)
    assert victim.read_text() == "keep me"
