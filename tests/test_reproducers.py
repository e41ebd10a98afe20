"""The reproducers of the fuzzing issue (crashes, hangs, "optimal" that wasn't, non-finite answers),
each in a subprocess under an address-space cap and a time limit: a crash or a hang fails its test,
not the run. The simulator's own reproducers are in test_simulate.py, the YAML alias bomb in
test_user_files.py."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAP_BYTES = 4 << 30
REFUSED = 2  # the exit code of a gpuopt error in these snippets (and of bad input in the CLI)


def run_capped(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Runs `code` with gpuopt imported, under CAP_BYTES of address space: a gpuopt error prints
    its message and exits REFUSED; anything else escaping gives a traceback and exit 1."""
    wrapped = ("import resource, sys\n"
               f"resource.setrlimit(resource.RLIMIT_AS, ({CAP_BYTES}, {CAP_BYTES}))\n"
               "import gpuopt\n"
               "try:\n" + "".join(f"    {line}\n" for line in code.splitlines()) +
               f"except gpuopt.GpuoptError as e:\n    print(e)\n    sys.exit({REFUSED})\n")
    return subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


MIX_TYPES = ("['h100-sxm', 'a100-40gb', 'a100-sxm-80gb', 'l4', 'a10g', 'rtx-4090'], "
             "throughput={'h100-sxm': 10, 'a100-40gb': 5, 'a100-sxm-80gb': 6, 'l4': 2, 'a10g': 2, 'rtx-4090': 3}")


@pytest.mark.parametrize("code, says", [
    # results alone past the machine's memory (aborted from an allocation)
    ("gpuopt.sweep(['llama-2-7b'] * 10, ['h100-sxm'] * 10, batches=list(range(1, 201)), "
     "input_tokens=list(range(1, 201)), output_tokens=list(range(1, 101)))", "exceeds 33,554,432 (2 GiB of results)"),
    ("gpuopt.fit_grid(['llama-2-7b'] * 10, ['h100-sxm'] * 10, batches=list(range(1, 1001)), "
     "contexts=list(range(1, 2001)))", "exceeds 33,038,209 (2 GiB of results)"),
    # tp up to 2^40 ran a Python loop for days
    ("gpuopt.fit('llama-2-7b', 'a100-40gb', tp=2**40)", "valid tp: 1, 2, 4, 8, 16, 32"),
    ("gpuopt.simulate('llama-3-8b', 'h100-sxm', tp=2**31, rate=1e-6)", "valid tp: 1, 2, 4, 8, 16, 32"),
    # mixes counted every combination of 1,024 GPUs (months)
    (f"gpuopt.mixes({MIX_TYPES}, max_gpus=1024)", "more than the 20000000000 one call enumerates"),
    # an answer that was "optimal" with a 99.99 % gap
    ("gpuopt.plan_mix({'a': 1.0}, {'a': [1.0]}, [1.0], 1.0, relative_gap=4.5e34)", "relative_gap must be in (0, 1)"),
    # non-finite costs from denormal rates and prices past any budget
    ("gpuopt.tco('h100-sxm', capex_usd=30000, tokens_per_s=5e-324)", "usd_per_million_tokens overflow"),
    ("gpuopt.tco('h100-sxm', capex_usd=1e308, count=10**6)", "capex_usd must be a finite number"),
    ("gpuopt.tco('h100-sxm', count=10**30)", "count must be a whole number from 1 to 1,000,000"),
    # nonsense interference parameters gave nonsense request delays
    ("gpuopt.fraction('h100-sxm', 2, gpuopt.Interference(switch_ms_per_neighbour=float('inf')))",
     "switch_ms_per_neighbour"),
    ("gpuopt.register_gpu(42)", "a gpu definition must be a mapping"),
    ("gpuopt.mixes(['l4'], throughput=3)", "throughput must be a mapping of gpu -> figure"),
    ("gpuopt.slots('h100-sxm', fractions=0.0)", "fractions must be a whole number"),
    # a verification that would simulate for 30 years, and one of NaN seconds
    ("gpuopt.plan(gpuopt.load_scenario('examples/enterprise.yaml'), verify_duration_s=1e9)", "verify"),
    ("gpuopt.simulate_plan(None, None, duration_s=float('nan'))", "duration_s must be seconds"),
    # found by the thorough fuzz run: a bucket that is a mapping raised a bare KeyError
    ("gpuopt.capacity('llama-2-13b', 'a100-40gb', requests=({}, 1), slo={'ttft_p95_ms': 100})",
     "each bucket must be (input_tokens, output_tokens)"),
    # "optimal" at $39.64/h where the optimum is $26.19: a gap of 100 % proves nothing
    ("gpuopt.plan(gpuopt.load_scenario('examples/enterprise.yaml'), relative_gap=1.0)", "relative_gap must be in (0, 1)"),
])
def test_what_crashed_hung_or_lied_is_refused(code, says):
    p = run_capped(code)
    assert p.returncode == REFUSED, (p.returncode, p.stdout[-500:], p.stderr[-1500:])
    assert says in p.stdout, p.stdout


def test_what_hung_now_answers_in_seconds():
    # 128 GPUs over 6 types: counted (7e9 mixes), answered; a 1/6 time share of an RTX 4090: answered
    t = time.perf_counter()
    p = run_capped(f"r = gpuopt.mixes({MIX_TYPES}, max_gpus=128)\nprint(r.enumerated)\n"
                   "c = gpuopt.capacity('llama-2-7b', gpuopt.fraction('rtx-4090', 6), requests=(512, 128), "
                   "slo={'ttft_p95_ms': 1000, 'tpot_p95_ms': 100})\nprint(c.status)")
    assert p.returncode == 0, p.stderr[-1500:]
    assert p.stdout.split()[0] == "7177979808"
    assert time.perf_counter() - t < 60


@pytest.mark.parametrize("work", [
    f"gpuopt.mixes({MIX_TYPES}, max_gpus=140, budget_usd_per_hour=1e9)",
    "gpuopt.simulate('llama-3-8b', 'h100-sxm', rate=2000, duration_s=20000, replicas=64)",
])
def test_ctrl_c_reaches_python_from_long_engine_calls(work):
    p = subprocess.Popen([sys.executable, "-c", f"import gpuopt\nprint('ready', flush=True)\n{work}\nprint('done')"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.5)  # well inside the work (tens of seconds uninterrupted)
    t = time.perf_counter()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert time.perf_counter() - t < 10, "the engine kept running after Ctrl-C"
    assert "done" not in out and "KeyboardInterrupt" in err, (out, err[-800:])


SCENARIO = "sites: [{name: dc, gpus: [{type: l4, owned: 2, rent_usd_per_hour: 1.0}]}]\n"


@pytest.mark.parametrize("service, says", [
    ("{name: a, model: llama-3-8b, rate: .inf}", "services.0.rate: inf is not a finite number"),
    ("{name: a, model: llama-3-8b, rate: 1e300}", "services.0.rate: 1e+300 must be <= 10000000.0"),
    ("{name: a, model: llama-3-8b, rate: .nan}", "services.0.rate: nan is not a finite number"),
    ("{name: a, model: llama-3-8b, rate: 1, measured: {l4: .nan}}", "services.0.measured.l4: nan is not a finite"),
    ("{name: a, model: llama-3-8b, rate: 1, tps: [1e12]}", "services.0.tps.0"),
    ("{name: a, model: llama-3-8b, rate: 1, slo: {}}", "services.0.slo: needs at least one of"),
])
def test_scenarios_that_planned_nonsense_exit_2(run_cli, tmp_path, service, says):
    f = tmp_path / "s.yaml"
    f.write_text(SCENARIO + f"services: [{service}]\n")
    p = run_cli("plan", str(f), "--time-limit", "5")
    assert p.returncode == 2, (p.returncode, p.stdout[-500:], p.stderr[-800:])
    assert says in " ".join(p.stderr.split()), p.stderr


@pytest.mark.parametrize("extra, says", [
    ("periods: [{name: all, hours: .inf}]", "periods.0.hours: inf is not a finite number"),
    ("periods: [{name: all, hours: 30}]", "periods.0.hours: 30 must be <= 24"),
])
def test_periods_past_a_day_exit_2(run_cli, tmp_path, extra, says):
    f = tmp_path / "s.yaml"
    f.write_text(SCENARIO + "services: [{name: a, model: llama-3-8b, rate: 1}]\n" + extra + "\n")
    p = run_cli("plan", str(f))
    assert p.returncode == 2 and says in " ".join(p.stderr.split()), p.stderr


@pytest.mark.parametrize("site, says", [
    ("{name: dc, pue: .inf, gpus: [{type: l4, owned: 2}]}", "sites.0.pue: inf is not a finite number"),
    ("{name: dc, usd_per_kwh: .inf, gpus: [{type: l4, owned: 2}]}", "sites.0.usd_per_kwh: inf is not a finite"),
    ("{name: dc, gpus: [{type: l4, rent_usd_per_hour: .inf}]}", "sites.0.gpus.0.rent_usd_per_hour: inf is not"),
    ("{name: dc, gpus: [{type: l4, owned: 1e30}]}", "sites.0.gpus.0.owned: 1e+30 must be <= 1000000"),
])
def test_infinite_prices_are_bad_input_not_infeasible(run_cli, tmp_path, site, says):
    f = tmp_path / "s.yaml"
    f.write_text(f"sites: [{site}]\nservices: [{{name: a, model: llama-3-8b, rate: 1}}]\n")
    p = run_cli("plan", str(f))
    assert p.returncode == 2 and says in " ".join(p.stderr.split()), p.stderr


def test_cli_reproducers(run_cli):
    p = run_cli("fit", "llama-2-7b", "a100-40gb", "--tp", "1099511627776")
    assert p.returncode == 2 and "valid tp: 1, 2, 4, 8, 16, 32" in p.stderr
    p = run_cli("plan", "examples/enterprise.yaml", "--time-limit", "0")
    assert p.returncode == 2 and "nan" not in p.stdout + p.stderr
    p = run_cli("simulate", "llama-3-8b", "h100-sxm", "--rate", "1000", "--duration", "30")
    assert p.returncode == 0 and "overloaded" in " ".join((p.stdout + p.stderr).split())
    p = run_cli("fit", "llama[bold]-2-7b", "a100-40gb")
    assert p.returncode == 2 and "llama[bold]-2-7b" in p.stderr


def test_a_short_time_limit_bounds_the_whole_plan_at_scale():
    """synthetic_fleet(400, 10, 24, 8) at 5 s took 330 s (a diagnosis LP without a limit) and then
    said "infeasible" of a feasible fleet: now it ends within the limit (2x: a loaded machine
    stretches every step) with no plan yet, or a plan, never a false "infeasible"."""
    import gpuopt
    from gpuopt.planning.synthetic import synthetic_fleet

    scn = synthetic_fleet(400, 10, 24, 8)
    t = time.perf_counter()
    p = gpuopt.plan(scn, time_limit_s=5, threads=1)
    assert time.perf_counter() - t <= 2 * 5
    assert p.status in ("unsolved", "feasible", "optimal"), (p.status, p.infeasibility)
