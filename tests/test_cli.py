import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import gpuopt

ROOT = Path(__file__).resolve().parents[1]


def test_fit_prints_itemised_breakdown(run_cli):
    p = run_cli("fit", "llama-2-7b", "a100-40gb", "--precision", "fp16", "--batch", "4", "--context", "2048",
                "--tp", "1")
    assert p.returncode == 0, p.stderr
    for item in ("weights", "kv cache", "activations", "runtime overhead", "total", "usable capacity"):
        assert item in p.stdout
    assert "13.48" in p.stdout and "4.29" in p.stdout and "verdict: fits" in p.stdout


def test_fit_no_fit_and_warning(run_cli):
    p = run_cli("fit", "llama-2-13b", "a100-sxm-80gb", "--batch", "16", "--context", "8192")
    assert p.returncode == 0
    assert "verdict: no-fit" in p.stdout and "107.37" in p.stdout
    assert "trained maximum" in p.stderr


def test_fit_json(run_cli):
    p = run_cli("fit", "mixtral-8x7b", "h100-sxm", "--precision", "fp8", "--tp", "2", "--batch", "64", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["model"] == "mixtral-8x7b" and d["tp"] == 2 and d["verdict"] in ("fits", "tight")
    assert d["total_bytes"] == d["weights_bytes"] + d["kv_cache_bytes"] + d["activation_bytes"] + d["overhead_bytes"]


def test_bad_input_exits_2_with_a_fix(run_cli):
    p = run_cli("fit", "llama-2-7b", "h100")
    assert p.returncode == 2 and "did you mean" in p.stderr and "h100-sxm" in p.stderr
    assert "Traceback" not in p.stderr
    p = run_cli("fit", "llama-2-7b", "a100-40gb", "--batch", "0")
    assert p.returncode == 2 and "batch" in p.stderr
    p = run_cli("fit", "llama-2-7b", "a100-40gb", "--precision", "fp4")
    assert p.returncode == 2 and "fp16, bf16, fp8, int8, int4" in p.stderr
    p = run_cli("fit", "llama-2-7b", "a100-40gb", "--tp", "3")
    assert p.returncode == 2 and "valid tp" in p.stderr


def test_catalog(run_cli):
    p = run_cli("catalog", "models")
    assert p.returncode == 0 and "mixtral-8x7b" in p.stdout and "46.703" in p.stdout
    p = run_cli("catalog", "gpus", "--json")
    ids = {g["id"] for g in json.loads(p.stdout)}
    assert {"h100-sxm", "a100-40gb", "mi300x", "rtx-4090"} <= ids
    for kind in ("engines", "prices", "mig"):
        p = run_cli("catalog", kind)
        assert p.returncode == 0 and p.stdout.strip(), kind
    p = run_cli("catalog", "nonsense")
    assert p.returncode == 2


def test_estimate_cli(run_cli):
    p = run_cli("estimate", "llama-2-7b", "a100-40gb", "--batch", "4", "--input", "512", "--output", "128")
    assert p.returncode == 0, p.stderr
    assert "prefill (TTFT)" in p.stdout and "decode step (TPOT)" in p.stdout and "output tokens/s" in p.stdout
    p = run_cli("estimate", "mixtral-8x7b", "h100-sxm", "--precision", "fp8", "--tp", "2", "--max-throughput",
                "--input", "1000", "--output", "1000", "--engine", "trtllm", "--json")
    d = json.loads(p.stdout)
    assert d["batch"] > 1 and d["bound"]["decode"] in ("compute", "memory") and d["fit"]["verdict"] != "no-fit"
    p = run_cli("estimate", "llama-2-70b", "l4", "--max-throughput")
    assert p.returncode == 2 and "does not fit" in p.stderr


def test_validate_cli(run_cli):
    shipped = str(ROOT / "python" / "gpuopt" / "data" / "measured_calibration.csv")
    p = run_cli("validate", shipped, "--loo", "row", "--rows")
    assert p.returncode == 0, p.stderr
    assert "MAPE in-sample" in p.stdout and "leave-one-out" in p.stdout
    d = json.loads(run_cli("validate", shipped, "--loo", "row", "--json").stdout)
    assert d["mape"] <= 0.15 and d["loo_mape"] <= 0.25 and len(d["rows"]) == 17
    p = run_cli("validate", "/nonexistent.csv")
    assert p.returncode == 2 and "cannot read" in p.stderr


def test_plan_cli(run_cli, tmp_path):
    p = run_cli("plan", "examples/enterprise.yaml", "--threads", "1")
    assert p.returncode == 0, p.stderr
    for part in ("Plan for enterprise: optimal", "lower bound", "gap", "vs no sharing", "Fleet", "Replicas per period",
                 "Predicted p95"):
        assert part in p.stdout
    d = json.loads(run_cli("plan", "examples/scenarios/seed004_three_pods.yaml", "--json").stdout)
    assert d["status"] == "optimal" and d["cost_per_hour"] >= d["lower_bound_per_hour"] - 1e-9
    bad = tmp_path / "impossible.yaml"
    bad.write_text("sites: [{name: dc, gpus: [{type: l4}]}]\n"
                   "services: [{name: chat, model: llama-3-8b, rate: 1, slo: {ttft_p95_ms: 1}}]\n")
    p = run_cli("plan", str(bad))
    assert p.returncode == 3 and "no GPU meets its SLO" in p.stderr
    typo = tmp_path / "typo.yaml"
    typo.write_text("sites: [{name: dc, gpus: [{type: l4}]}]\nservices: [{name: chat, model: llama-3-8b, rate: 1, "
                    "slos: {}}]\n")
    p = run_cli("plan", str(typo))
    assert p.returncode == 2 and "services.0.slos" in p.stderr


BAD_SCENARIOS = {
    "unknown key": ("sites: [{name: dc, gpus: [{type: l4, owend: 2}]}]\n", "sites.0.gpus.0.owend"),
    "wrong type": ("sites: [{name: dc, gpus: [{type: l4}]}]\nservices: [{name: a, model: llama-3-8b, "
                   "rate: fast}]\n", "services.0.rate"),
    "negative rate": ("sites: [{name: dc, gpus: [{type: l4}]}]\nservices: [{name: a, model: llama-3-8b, "
                      "rate: -3}]\n", "services.0.rate: -3 must be >= 0"),
    "unknown gpu": ("sites: [{name: dc, gpus: [{type: h100}]}]\n", "sites.0.gpus.0.type: unknown gpu 'h100'; did you "
                                                                  "mean h100-pcie, h100-sxm"),
    "unknown model": ("sites: [{name: dc, gpus: [{type: l4}]}]\nservices: [{name: a, model: lama-3-8b, rate: 1}]\n",
                      "services.0.model: unknown model 'lama-3-8b'"),
    "malformed yaml": ("sites: [{name: dc, gpus: [{type: l4}]\n", "not valid YAML"),
}


@pytest.mark.parametrize("case", BAD_SCENARIOS)
def test_bad_scenario_files_exit_2_with_the_place_and_fix(run_cli, tmp_path, case):
    text, expected = BAD_SCENARIOS[case]
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    p = run_cli("plan", str(f))
    assert p.returncode == 2, (case, p.stdout, p.stderr)
    message = " ".join(p.stderr.split())
    assert expected in message and str(f) in message and "Traceback" not in p.stderr


def test_version_help_and_completion(run_cli, tmp_path):
    p = run_cli("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"gpuopt {gpuopt.__version__}"
    p = run_cli("-h")
    assert p.returncode == 0 and "Usage:" in p.stdout and "--install-completion" in p.stdout
    assert run_cli("plan", "-h").returncode == 0
    # The installed command, run from bash as a user does: typer finds the shell in the process
    # tree (a test runner orphaned from its shell has none there).
    script = shlex.quote(str(Path(sys.executable).parent / "gpuopt"))
    p = subprocess.run(["bash", "-c", f"{script} --show-completion; exit $?"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "_gpuopt_completion" in p.stdout and "complete -o default -F" in p.stdout
    home = tmp_path / "home"
    home.mkdir()
    p = subprocess.run(["bash", "-c", f"{script} --install-completion; exit $?"], capture_output=True, text=True,
                       env={**os.environ, "HOME": str(home), "SHELL": "/bin/bash"}, timeout=60)
    assert p.returncode == 0 and "completion installed" in (p.stdout + p.stderr).lower()
    assert ".bash_completions" in (home / ".bashrc").read_text()


def test_json_errors_are_json_on_stdout(run_cli):
    p = run_cli("fit", "lama-2-7b", "a100-40gb", "--json")
    err = json.loads(p.stdout)["error"]
    assert p.returncode == 2 and err["type"] == "UnknownNameError" and err["exit_code"] == 2
    assert "did you mean llama-2-7b" in err["message"] and p.stderr == ""
    p = run_cli("plan", "examples/enterprise.yaml", "--time-limit", "nan", "--json")
    assert p.returncode == 2 and "time_limit_s" in json.loads(p.stdout)["error"]["message"]


def test_verbosity_flags_set_the_log_level(run_cli):
    p = run_cli("-v", "plan", "examples/scenarios/seed004_three_pods.yaml")
    assert p.returncode == 0 and "INFO gpuopt.planning.planner: planning seed004-three-pods" in p.stderr
    p = run_cli("plan", "examples/scenarios/seed004_three_pods.yaml")
    assert p.returncode == 0 and "INFO" not in p.stderr
    p = run_cli("-q", "-v", "plan", "examples/scenarios/seed004_three_pods.yaml")
    assert p.returncode == 0 and "INFO" not in p.stderr


def test_simulate_warns_when_the_replicas_cannot_keep_up(run_cli):
    p = run_cli("simulate", "llama-3-8b", "l40s", "--rate", "1000", "--duration", "60")
    assert p.returncode == 0, p.stderr
    assert "warning: overloaded: 1e+03 req/s offered" in " ".join(p.stderr.split())
    calm = run_cli("simulate", "llama-3-8b", "l40s", "--rate", "2", "--duration", "120")
    assert calm.returncode == 0 and "overloaded" not in calm.stderr
