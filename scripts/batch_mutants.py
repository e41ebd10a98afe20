"""Deliberate faults in the batch, file-writing and export code (and the engine's per-process
thread pool), each run against the tests that guard it: every one must fail a test.

    .venv/bin/python scripts/batch_mutants.py [N ...]     # from the repository root; N: only these

Each fault is put in, its tests run, and the file restored (scripts/faults.py).
A mutant in the Rust bindings rebuilds the extension twice (about a minute each)."""

import subprocess
import sys

import faults

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
 ("python/gpuopt/output/k8s.py", "    return {n: label if len(group) == 1 else dns_label(", "    return {n: label if True else dns_label(", "clean_up_alike"),
 # the export implements the plan (tests/test_export.py)
 ("python/gpuopt/output/schedule.py", "            if twice.size:", "            if False:", "tile_the_week"),
 ("python/gpuopt/output/schedule.py", '        days = "*" if len(self.days) == 7 else', '        days = "*" if len(self.days) >= 2 else', "tile_the_week"),
 ("python/gpuopt/output/schedule.py", "    if gap.size:", "    if False:", "tile_the_week"),
 ("python/gpuopt/output/nodes.py", "            states[i].shared = n\n", "            pass\n", "time_shared or requested_in_every_period"),
 ("python/gpuopt/output/nodes.py", "            if states[i].free >= size:", "            if True:", "fits_no_node"),
 ("python/gpuopt/output/nodes.py", "                entries.append({\"devices\": [i], \"mig-enabled\": True, \"mig-devices\": counts})", "                entries.append({\"devices\": [i, i], \"mig-enabled\": True, \"mig-devices\": counts})", "requested_in_every_period or mig_layouts"),
 ("python/gpuopt/output/nodes.py", '                    want["nvidia.com/mig.config"] = st.mig_config_name()', '                    want["nvidia.com/mig.config"] = MIG_OFF', "mig_layouts"),
 ("python/gpuopt/output/k8s.py", "    down = [g for g in groups if previous is not None and g.replicas[period] < g.replicas[previous]]", "    down = []", "switches_as_each_period"),
 ("python/gpuopt/output/k8s.py", "            by_count.setdefault(g.replicas[period], []).append(g.name)", "            by_count.setdefault(max(g.replicas.values()), []).append(g.name)", "requested_in_every_period"),
 ("python/gpuopt/output/k8s.py", '        out[device.label_key] = f"{device.label_value}-SHARED"', '        out[device.label_key] = device.label_value', "time_shared or requested_in_every_period"),
 ("python/gpuopt/output/k8s.py", "deadline_s=w.minutes * 60 if w else None", "deadline_s=None", "switches_as_each_period"),
 ("python/gpuopt/output/k8s.py", "    return {device.resource: str(r.tp)}", "    return {device.resource: \"1\"}", "requested_in_every_period"),
 ("python/gpuopt/output/engine_args.py", "    return round(get_engine(service.engine).memory_utilization * slot_share, 4)", "    return round(get_engine(service.engine).memory_utilization, 4)", "time_shared"),
 ("python/gpuopt/output/engine_args.py", '"--max-model-len", str(service.longest_request_tokens)', '"--max-model-len", str(get_model(service.model).max_context)', "vllm_flags"),
 ("python/gpuopt/output/engine_args.py", "        if precision in NEEDS_CHECKPOINT:", "        if False:", "int4_without"),
 ("python/gpuopt/output/engine_args.py", '        args += ["--quantization", "fp8"]', '        args += ["--kv-cache-dtype", "fp8"]', "vllm_flags"),
 ("rust/gpuopt-py/src/pool.rs", "        if owned.pid == pid {", "        if true {", "forked_child"),
]


def rebuild(path: str) -> None:
    if path.endswith(".rs"):
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "."], check=True, capture_output=True)


def main(only: list[str]) -> int:
    return faults.run([(path, old, new, ["tests/test_batch.py", "tests/test_export.py", "-k", tests])
                       for path, old, new, tests in M], only, timeout_s=300, after_edit=rebuild)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
