"""Results in notebooks and data frames, a plan's live progress, and the CLI's smaller conventions."""

import html
import json
import sys

import pytest

import gpuopt
from gpuopt.cli import progress_line
from gpuopt.planning.planner import PlanProgress


@pytest.fixture(scope="module")
def grid():
    return gpuopt.fit_grid(["llama-3-8b", "llama-2-7b"], ["h100-sxm", "l4"], batches=[1, 8, 64], contexts=[2048])


def test_results_read_like_a_data_frame(grid):
    assert len(grid) == 2 * 2 * 3 == grid.size          # rows, not columns
    assert list(grid)[:2] == ["model", "gpu"] and "verdict" in grid and "nonsense" not in grid
    df = grid.to_pandas()
    assert df.shape == (len(grid), len(grid.columns))
    assert set(df["verdict"]) <= {"fits", "tight", "no-fit"} and set(df["gpu"]) == {"h100-sxm", "l4"}
    row = grid.row(5)
    assert df.iloc[5]["model"] == row["model"] and df.iloc[5]["verdict"] == row["verdict"]
    assert df.iloc[5]["max_batch"] == row["max_batch"]
    pl = grid.to_polars()
    assert pl.shape == df.shape and pl["verdict"].to_list() == df["verdict"].tolist()
    assert dict(grid.items()).keys() == set(grid.columns)


def test_results_display_in_a_notebook(grid):
    html = grid._repr_html_()
    assert html.startswith("<table>") and f"{len(grid):,} configurations" in html and "<td>llama-3-8b</td>" in html
    big = gpuopt.sweep(["llama-3-8b"], ["h100-sxm", "l4"], batches=list(range(1, 41)))
    assert "first 20 shown" in big._repr_html_() and big._repr_html_().count("<tr>") == 21


def test_reports_plans_and_mixes_become_tables_and_frames():
    fit = gpuopt.fit("llama-3-8b", "l4")
    assert "<td>max_batch</td>" in fit._repr_html_()
    est = gpuopt.estimate("llama-3-8b", "l4", batch=4, input_tokens=512, output_tokens=128)
    assert "EstimateReport" in est._repr_html_()
    m = gpuopt.mixes(["l4", "h100-sxm"], max_gpus=4, throughput={"l4": 1.0, "h100-sxm": 5.0})
    df = m.to_pandas()
    assert list(df.columns[:2]) == ["l4", "h100-sxm"] and len(df) == len(m.mixes)
    assert (df["throughput"] == df["l4"] * 1.0 + df["h100-sxm"] * 5.0).all()   # totals of each mix
    assert "each mix's total" in m.throughput_unit and "totals per mix" in m._repr_html_()
    scn = gpuopt.load_scenario("examples/scenarios/seed004_three_pods.yaml")
    p = gpuopt.plan(scn, baselines=False, verify=False)
    frame = p.to_pandas()
    assert sorted(frame["service"]) == ["pod-1", "pod-2", "pod-3"] and frame["replicas"].sum() == 3
    assert p.to_polars().shape == frame.shape
    html = p._repr_html_()
    assert "Plan for seed004-three-pods: optimal" in html and "<table>" in html


def test_batch_results_become_a_frame(tmp_path):
    from gpuopt.batch import results

    out = tmp_path / "r.jsonl"
    s = gpuopt.batch.run(["examples/scenarios/seed004_three_pods.yaml"], out=out, verify=False, workers=1)
    assert s.planned == 1
    df = results.read_results(out).to_pandas()
    assert len(df) == 1 and df.iloc[0]["outcome"] == "planned"


def test_missing_frame_library_names_the_extra(monkeypatch, grid):
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(gpuopt.InvalidInputError, match=r"pip install 'gpuopt\[polars\]'"):
        grid.to_polars()


def test_plan_reports_its_progress_phase_by_phase():
    seen = []
    scn = gpuopt.load_scenario("examples/scenarios/seed004_three_pods.yaml")
    p = gpuopt.plan(scn, verify=True, verify_duration_s=60, progress=seen.append)
    phases = [s.phase for s in seen]
    assert phases[0] == "capacities" and phases[1] == "solving" and "verifying" in phases
    assert phases[-2:] == ["baselines", "bill"]
    assert seen[0].cost_per_hour is None and seen[-1].cost_per_hour == pytest.approx(p.cost_per_hour)
    line = progress_line("x", PlanProgress("verifying", 1, 39.9, 39.5, 0.01))
    assert line == "planning x: simulating the plan (round 2) | best $39.90/h, bound $39.50/h, gap 1.00%"


def test_html_report_says_why_it_has_no_plots(monkeypatch, tmp_path):
    from gpuopt.output import documents

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    p = gpuopt.plan(gpuopt.load_scenario("examples/scenarios/seed004_three_pods.yaml"), baselines=False,
                    verify=False)
    text = documents.html_report(p)
    assert "<img" not in text
    assert "No plots: plots need matplotlib: pip install 'gpuopt[plots]'" in html.unescape(text)


def test_catalog_prices_say_which_is_the_default(run_cli):
    rows = json.loads(run_cli("catalog", "prices", "--json").stdout)
    h100 = [r for r in rows if r["id"] == "h100-sxm" and r["kind"] == "cloud_hour"]
    assert len(h100) >= 2 and [r["default"] for r in h100].count(True) == 1
    assert h100[[r["default"] for r in h100].index(True)]["usd"] == gpuopt.cost.price("h100-sxm", "cloud_hour")
    table = run_cli("catalog", "prices").stdout
    assert "alternative" in table and "default" in table


def test_mixes_label_totals_as_totals(run_cli):
    r = run_cli("mixes", "l4", "h100-sxm", "--model", "llama-3-8b", "--max-gpus", "3")
    assert r.returncode == 0 and "per GPU" not in r.stdout and "each mix's total" in r.stdout
