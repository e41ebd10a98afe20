"""Calibration from the files real benchmarks write (vllm bench serve JSON, GenAI-Perf CSV) and
clear errors for bad measurement files."""

from __future__ import annotations

import json

import pytest

import gpuopt
from gpuopt import InvalidInputError
from gpuopt.estimation.calibration import load_measurements

VLLM = {"date": "20250101-120000", "backend": "vllm", "model_id": "meta-llama/Meta-Llama-3-8B",
        "tokenizer_id": "meta-llama/Meta-Llama-3-8B", "num_prompts": 100, "gpu": "h100-sxm", "tp": "1",
        "request_rate": "inf", "burstiness": 1.0, "max_concurrency": 1, "duration": 120.5, "completed": 100,
        "total_input_tokens": 102400, "total_output_tokens": 12800, "request_throughput": 0.83,
        "output_throughput": 106.2, "total_token_throughput": 956.0, "mean_ttft_ms": 40.1, "median_ttft_ms": 39.5,
        "p99_ttft_ms": 45.0, "mean_tpot_ms": 9.3, "median_tpot_ms": 9.2, "p99_tpot_ms": 9.9}
GENAI = """Metric,avg,min,max,p99,p95,p90,p75,p50,p25
Time To First Token (ms),41.20,38.00,50.00,49.00,47.00,45.00,43.00,40.50,39.00
Inter Token Latency (ms),9.40,9.00,10.00,9.90,9.80,9.70,9.50,9.35,9.20
Request Latency (ms),"1,240.00",1200.00,1300.00,1290.00,1280.00,1270.00,1250.00,1235.00,1220.00
Output Sequence Length,128.00,128.00,128.00,128.00,128.00,128.00,128.00,128.00,128.00
Input Sequence Length,1024.00,1024.00,1024.00,1024.00,1024.00,1024.00,1024.00,1024.00,1024.00

Metric,Value
Output Token Throughput (per sec),103.20
Request Throughput (per sec),0.81
"""


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_a_vllm_bench_serve_result_is_read_as_its_tool_defines_it(tmp_path):
    rows = load_measurements(_write(tmp_path, "run.json", VLLM))
    # model from the Hugging Face id, GPU and tp from --metadata; 1,024 / 128 tokens per request on average
    assert [(r.metric, r.batch, r.value) for r in rows] == [("out_tok_s_static", 1, 106.2), ("ttft_ms", 1, 39.5),
                                                              ("tpot_ms", 1, 9.2)]
    assert {(r.model, r.gpu, r.n_gpu, r.isl, r.osl, r.engine) for r in rows} == {("llama-3-8b", "h100-sxm", 1, 1024,
                                                                                 128, "vllm")}
    eight = load_measurements(_write(tmp_path, "c8.json", {**VLLM, "max_concurrency": 8}))
    assert [(r.metric, r.batch) for r in eight] == [("out_tok_s_static", 8)]   # TTFT at batch 1 only from N = 1


@pytest.mark.parametrize("change, says", [
    ({"request_rate": 4.0}, "Poisson run at 4.0 req/s"),
    ({"max_concurrency": None}, "needs a run with --max-concurrency N"),
    ({"output_throughput": -3}, "output_throughput must be a positive number"),
    ({"gpu": "h100"}, "unknown gpu 'h100': did you mean"),
    ({"gpu": None}, "does not say which gpu"),
    ({"model_id": "someone/unknown-model"}, "does not say which model"),
])
def test_bad_vllm_results_say_what_is_wrong(tmp_path, change, says):
    data = {k: v for k, v in {**VLLM, **change}.items() if v is not None}
    with pytest.raises(InvalidInputError, match=None) as e:
        load_measurements(_write(tmp_path, "run.json", data))
    assert says in str(e.value), str(e.value)


def test_a_genai_perf_export_is_read_with_its_concurrency(tmp_path):
    path = _write(tmp_path, "artifacts/llama-3-8b-openai-chat-concurrency4/profile_export_genai_perf.csv", GENAI)
    rows = load_measurements(path, settings={"model": "llama-3-8b", "gpu": "h100-sxm"})
    assert [(r.metric, r.batch, r.value, r.isl, r.osl) for r in rows] == [("out_tok_s_static", 4, 103.2, 1024, 128)]
    plain = _write(tmp_path, "export.csv", GENAI)
    with pytest.raises(InvalidInputError, match="how many concurrent clients"):
        load_measurements(plain, settings={"model": "llama-3-8b", "gpu": "h100-sxm"})
    one = load_measurements(plain, settings={"model": "llama-3-8b", "gpu": "h100-sxm", "concurrency": 1})
    assert [(r.metric, r.value) for r in one] == [("out_tok_s_static", 103.2), ("ttft_ms", 40.5), ("tpot_ms", 9.35)]
    with pytest.raises(InvalidInputError, match="not a GenAI-Perf profile export"):
        load_measurements(_write(tmp_path, "x.csv", "Metric,avg\nSomething,1\n"), settings={"concurrency": 1})


@pytest.mark.parametrize("text, says", [
    ("model,gpu,isl,osl,metric,value,colour\nllama-3-8b,h100-sxm,128,128,ttft_ms,10,red\n", "colour"),
    ("# nothing here\n", "holds no measurements"),
    ("model,gpu,isl,osl,metric,value\nllama-3-8b,h100-sxm,128,128,ttft_ms,-10\n", "measurement 1: value"),
    ("model,gpu,isl,osl,metric,value\nllama-3-8b,h100,128,128,ttft_ms,10\n", "measurement 1: unknown gpu 'h100'"),
])
def test_bad_measurement_files_name_the_row_and_the_fix(tmp_path, text, says):
    with pytest.raises(InvalidInputError) as e:
        load_measurements(_write(tmp_path, "m.csv", text))
    assert says in str(e.value), str(e.value)


def test_calibrate_cli_fits_and_writes_a_profile_to_register(run_cli, tmp_path):
    run = _write(tmp_path, "run.json", VLLM)
    genai = _write(tmp_path, "artifacts/x-concurrency1/profile_export_genai_perf.csv", GENAI)
    out = tmp_path / "mine.yaml"
    p = run_cli("calibrate", str(run), str(genai), "--model", "llama-3-8b", "--gpu", "h100-sxm", "--out", str(out),
                "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["rows"] == 6 and d["mape"] < 0.1 and d["engine"] == "vllm"
    mine = gpuopt.register_engine(str(out))
    r = gpuopt.estimate("llama-3-8b", "h100-sxm", input_tokens=1024, output_tokens=128, engine=mine)
    assert r.ttft_ms == pytest.approx(40, rel=0.15) and r.tpot_ms == pytest.approx(9.3, rel=0.15)
    p = run_cli("calibrate", str(run), "--gpu", "h100")
    assert p.returncode == 2 and "unknown gpu 'h100'" in p.stderr
