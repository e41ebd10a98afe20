"""Deliberate faults in the batch, file-writing and export code (and the engine's per-process
thread pool), each run against the tests that guard it: every one must fail a test.

    .venv/bin/python scripts/batch_mutants.py [N ...]     # from the repository root; N: only these

Each fault is put in, its tests run, and the file restored (git status shows it if interrupted).
A mutant in the Rust bindings rebuilds the extension twice (about a minute each)."""

import pathlib
import subprocess
import sys

# (file, text, its faulty version, the tests that must catch it: a pytest -k expression)
M = [
 ("python/gpuopt/batch/results.py", 'ok = isinstance(rec, dict) and rec.get("check") == checksum(rec) and rec.get("outcome") in FINAL', 'ok = isinstance(rec, dict) and rec.get("outcome") in FINAL', "torn"),
 ("python/gpuopt/batch/results.py", "            if contents.torn_tail:\n                os.ftruncate(fd, whole)", "            if False:\n                os.ftruncate(fd, whole)", "torn"),
 ("python/gpuopt/batch/results.py", "                os.ftruncate(fd, start)  # no half line", "                pass  # no half line", "full_disk_stops"),
 ("python/gpuopt/batch/results.py", "fcntl.LOCK_EX | fcntl.LOCK_NB", "fcntl.LOCK_SH | fcntl.LOCK_NB", "two_batches"),
 ("python/gpuopt/batch/__init__.py", 'failed(job, record, retry=record.get("attempt", 1) <= retries)', 'failed(job, record, retry=record.get("attempt", 1) < retries)', "lost_attempts"),
 ("python/gpuopt/batch/__init__.py", "            if job.key in log.contents.records:\n                summary.skipped += 1", "            if False:\n                summary.skipped += 1", "killed_batch_resumes"),
 ("python/gpuopt/batch/__init__.py", "                if record.get(\"outcome\") not in FINAL:", "                if record.get(\"outcome\") not in OUTCOMES:", "lost_attempts"),
 ("python/gpuopt/batch/__init__.py", "            elif job.key in seen:\n                summary.duplicates += 1", "            elif False:\n                summary.duplicates += 1", "duplicates"),
 ("python/gpuopt/batch/jobs.py", 'outcome = {"optimal": PLANNED, "feasible": PLANNED, "infeasible": INFEASIBLE}.get(p.status, UNSOLVED)', 'outcome = {"optimal": PLANNED, "feasible": PLANNED}.get(p.status, UNSOLVED)', "dask_agree"),
 ("python/gpuopt/batch/jobs.py", 'return f"{name}#{hashlib.sha256(content).hexdigest()[:16]}"', 'return f"{name}"', "edited"),
 ("python/gpuopt/batch/pool.py", "                elif now >= w.deadline:", "                elif now >= w.deadline + 1e9:", "time_out"),
 ("python/gpuopt/batch/pool.py", "                        self.workers.remove(w)\n                        code = w.stop()", "                        code = w.stop()", "kill_9"),
 ("python/gpuopt/files.py", "        refuse_symlink(dir_fd, path.name, path)\n        try:", "        try:", "symlink"),
 ("python/gpuopt/files.py", "            os.unlink(tmp, dir_fd=dir_fd)", "            pass", "no_partial_manifest"),
 ("python/gpuopt/output/k8s.py", "    return {n: label if len(group) == 1 else _name(label[:56], _digest(n))", "    return {n: label if True else _name(label[:56], _digest(n))", "clean_up_alike"),
 ("rust/gpuopt-py/src/pool.rs", "        if owned.pid == pid {", "        if true {", "forked_child"),
]


def rebuild() -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "."], check=True, capture_output=True)


def main(only: list[str]) -> int:
    chosen = [(i, m) for i, m in enumerate(M) if not only or str(i) in only]
    killed = 0
    for i, (path, old, new, tests) in chosen:
        f = pathlib.Path(path)
        src = f.read_text()
        assert old in src, (path, old)
        f.write_text(src.replace(old, new, 1))
        try:
            if path.endswith(".rs"):
                rebuild()
            r = subprocess.run(["timeout", "300", sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                                "tests/test_batch.py", "tests/test_export.py", "-k", tests],
                               capture_output=True, text=True)
            killed += r.returncode != 0
            last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else f"exit {r.returncode}"
            print(i, path, "KILLED" if r.returncode != 0 else "SURVIVED", last, flush=True)
        finally:
            f.write_text(src)
            if path.endswith(".rs"):
                rebuild()
    print(f"{killed} of {len(chosen)} mutants killed")
    return 0 if killed == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
