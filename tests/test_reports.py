import json

import pytest

import gpuopt
from gpuopt import InvalidInputError
from gpuopt.output import plots
from gpuopt.output.documents import markdown, write_report
from gpuopt.planning.sensitivity import cost_against_rate

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def enterprise():
    scn = gpuopt.load_scenario("examples/enterprise.yaml")
    return gpuopt.plan(scn, threads=1), scn


def test_markdown_report_has_every_section(enterprise):
    p, _ = enterprise
    md = markdown(p)
    for title in ("# Plan for enterprise", "## Summary", "## Fleet", "## Replicas", "## Predicted p95 latency",
                  "## Cost per hour", "## Training", "| lower bound |", "vs no sharing"):
        assert title in md


def test_html_report_is_self_contained_with_plots(enterprise, tmp_path):
    p, scn = enterprise
    path = write_report(p, tmp_path / "plan.html", cost_against_rate(scn, scales=(0.5, 1.0)))
    text = path.read_text()
    assert text.startswith("<!doctype html>") and "<table>" in text
    assert text.count("data:image/png;base64,") == 3 and "http" not in text.split("<body>")[1].split("meta-llama")[0]
    with pytest.raises(InvalidInputError, match=".html or .md"):
        write_report(p, tmp_path / "plan.pdf")


def test_plots_write_pngs(enterprise, tmp_path):
    p, scn = enterprise
    for fn, name in ((plots.fleet_png, "fleet.png"), (plots.utilization_png, "util.png")):
        assert fn(p, tmp_path / name).read_bytes().startswith(PNG)
    r = gpuopt.sweep(["llama-3-8b"], ["l4", "h100-sxm"], precisions=["fp16", "fp8"], batches=[1, 8, 64])
    assert plots.pareto_png(r, r.pareto(), tmp_path / "pareto.png").read_bytes().startswith(PNG)
    assert plots.cost_vs_rate_png([(0.5, 10.0), (1.0, 20.0)], tmp_path / "cost.png", "x").read_bytes().startswith(PNG)


def test_cost_against_rate_is_the_plan_at_each_scale_and_never_falls(enterprise):
    p, scn = enterprise
    points = cost_against_rate(scn, scales=(0.5, 1.0, 1.5))
    assert [k for k, _ in points] == [0.5, 1.0, 1.5]
    assert points[1][1] == pytest.approx(p.cost_per_hour, rel=1e-6)
    # a plan for more demand serves less demand too: cost never falls as demand grows
    assert points[0][1] <= points[1][1] <= points[2][1]


def test_cli_sweep_mixes_simulate_and_reports(run_cli, tmp_path):
    p = run_cli("sweep", "--models", "llama-3-8b,mistral-7b", "--gpus", "l4,h100-sxm", "--precisions", "fp16,fp8",
                "--json", "--plot", str(tmp_path / "front.png"))
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["configurations"] == 2 * 2 * 2 * 4 and d["pareto"] and (tmp_path / "front.png").exists()
    # --stream keeps only the front while evaluating: the same front, the same count, no verdicts
    p = run_cli("sweep", "--models", "llama-3-8b,mistral-7b", "--gpus", "l4,h100-sxm", "--precisions", "fp16,fp8",
                "--json", "--stream")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["configurations"] == d["configurations"] and s["verdicts"] is None and s["pareto"] == d["pareto"]
    p = run_cli("mixes", "l4", "a10g", "--model", "llama-3-8b", "--max-gpus", "4", "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["enumerated"] == 14
    p = run_cli("simulate", "llama-3-8b", "l40s", "--rate", "2", "--duration", "60", "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["requests_completed"] > 60
    p = run_cli("simulate", "llama-3-8b", "l40s", "--rate", "-2")
    assert p.returncode == 2 and "rate (req/s) must be a finite number >= 0, got -2.0" in p.stderr
    p = run_cli("sweep", "--models", "llama-3-8b", "--gpus", "l4", "--batches", "1,x")
    assert p.returncode == 2 and "comma-separated" in p.stderr
    p = run_cli("plan", "examples/scenarios/seed004_three_pods.yaml", "--report", str(tmp_path / "r.md"))
    assert p.returncode == 0 and (tmp_path / "r.md").read_text().startswith("# Plan for seed004-three-pods")


def test_cost_against_rate_scales_a_single_rate_and_plans_it():
    scn = gpuopt.load_scenario("examples/scenarios/seed000_strategy_a.yaml")
    ((k, cost),) = cost_against_rate(scn, scales=(3.0,))
    services = [s.model_copy(update={"rate": s.rate * 3.0}) for s in scn.services]
    direct = gpuopt.plan(scn.model_copy(update={"services": services}), threads=1, baselines=False)
    assert k == 3.0 and isinstance(scn.services[0].rate, float) and cost == pytest.approx(direct.cost_per_hour)
    assert cost > gpuopt.plan(scn, threads=1, baselines=False).cost_per_hour
