"""The disk cache of simulator-confirmed capacities: a second process reads what the first
simulated, torn lines are skipped, and turning it off leaves no file."""

import json
import os
import subprocess
import sys

from gpuopt.planning import confirmed_cache

SCRIPT = """
import json
from gpuopt.planning.candidates import candidates
from gpuopt.planning.scenario import GpuOffer, Scenario, Service, Site
scn = Scenario(name="c", sharing="none", sites=[Site(name="dc", gpus=[GpuOffer(type="l4", max_purchase=4)])],
               services=[Service(name="chat", model="llama-3-8b", rate=2.0, tps=[1])])
print(json.dumps([c.confirmed_rps for c in candidates(scn).by_service[0]]))
"""


def _run(cache_dir) -> list[float]:
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "GPUOPT_CACHE_DIR": str(cache_dir)})
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_a_second_process_reads_the_rates_the_first_simulated(tmp_path):
    first = _run(tmp_path)
    (path,) = list(tmp_path.glob("confirmed-*.jsonl"))
    lines = path.read_text().splitlines()
    assert len(lines) == len(first) and all(json.loads(x)["rps"] > 0 for x in lines)
    # the second process answers from the file: doctor the value and it comes back as written
    doctored = [json.dumps({**json.loads(x), "rps": 123.0}) for x in lines]
    path.write_text("{torn\n" + "\n".join(doctored) + "\n")
    assert _run(tmp_path) == [123.0] * len(first)


def test_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUOPT_CACHE_DIR", "off")
    assert confirmed_cache.cache_file() is None
    confirmed_cache.save({"k": 1.0}, 0)
    assert confirmed_cache.load() == {}
    monkeypatch.setenv("GPUOPT_CACHE_DIR", str(tmp_path / "c"))
    confirmed_cache.save({"k": 1.0}, 0)
    assert confirmed_cache.load() == {"k": 1.0}
