import importlib.util
from pathlib import Path

import numpy as np
import pytest
import yaml

import gpuopt
from gpuopt import InvalidInputError
from gpuopt.estimation.calibration import FITTED, PAGED_ONLY, Measurement, load_measurements, predict

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_measurements_load_with_sources():
    rows = load_measurements()
    assert len(rows) == 17 and all(r.source for r in rows)
    assert {r.engine for r in rows} == {"trtllm", "llama.cpp"}


def test_validation_of_a_small_file_leaves_each_row_out():
    v = gpuopt.validate(load_measurements(), loo="row")
    assert v.loo == "row" and v.mape <= 0.15, v.mape
    assert v.loo_mape is not None and v.loo_mape <= 0.25, v.loo_mape
    assert v.worst_ratio < 2.0
    assert len(v.rows) == 17 and all(r.loo_error is not None for r in v.rows)
    with pytest.raises(InvalidInputError, match="loo='row' refits once per row"):
        gpuopt.validate(loo="row")
    with pytest.raises(InvalidInputError, match="loo must be"):
        gpuopt.validate(load_measurements(), loo="sometimes")


def test_shipped_profiles_are_what_the_fit_script_writes():
    spec = importlib.util.spec_from_file_location("fit_script", ROOT / "scripts" / "fit_engine_profiles.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    shipped = yaml.safe_load((Path(gpuopt.__file__).parent / "data" / "engine_timing.yaml").read_text())
    refit = script.fitted_profiles()
    assert refit == shipped   # exactly: the fit is deterministic and the file holds its rounded figures
    for engine in refit:
        assert gpuopt.engine(engine).calibration.startswith("fitted on")
        e = gpuopt.engine(engine)
        paged = e.paged_attention_split_items > 0 or e.quantized_kv_split_items > 0   # for some KV cache
        # every figure the engine's estimates depend on, and none they do not
        assert set(refit[engine]) - {"calibration"} == set(FITTED) - (set() if paged else set(PAGED_ONLY))
    assert gpuopt.engine("vllm-rocm").paged_attention_split_items == 512   # vLLM's PagedAttention v1/v2 rule
    assert gpuopt.engine("vllm").paged_attention_split_items == 0          # the CUDA build: FlashAttention
    assert gpuopt.engine("vllm").quantized_kv_split_items == 512           # but PagedAttention for an fp8 cache


def _synthetic(profile, n=12, seed=0):
    rng = np.random.default_rng(seed)
    models = ["llama-2-7b", "llama-3-8b", "mistral-7b", "llama-2-13b"]
    rows = []
    for i in range(n):
        kind = ("ttft_ms", "decode_tok_s", "out_tok_s_static", "out_tok_s_max")[i % 4]
        rows.append(Measurement(model=models[i % 4], gpu=("a100-sxm-80gb", "h100-sxm", "l40s")[i % 3],
                                precision="fp16", engine=profile.id, batch="max" if kind == "out_tok_s_max" else
                                int(rng.integers(1, 64)) if kind == "out_tok_s_static" else 1,
                                isl=int(rng.integers(64, 2048)), osl=1 if kind == "ttft_ms" else int(rng.integers(16, 512)),
                                metric=kind, value=1.0))
    values = predict(rows, profile)
    return [r.model_copy(update={"value": float(v)}) for r, v in zip(rows, values)]


def test_calibrate_recovers_a_known_profile():
    truth = gpuopt.engine("trtllm").model_copy(update={"id": "mine", "compute_efficiency": 0.45,
                                                       "memory_efficiency": 0.9, "step_overhead_ms": 2.0})
    gpuopt.register_engine(truth.model_copy(update={"compute_efficiency": 0.3, "memory_efficiency": 0.5,
                                                    "step_overhead_ms": 0.5}))
    rows = _synthetic(truth)
    cal = gpuopt.calibrate(rows, engine="mine", fit=("compute_efficiency", "memory_efficiency", "step_overhead_ms"),
                           prior_weight=1e-4)
    assert cal.mape < 0.005
    assert cal.profile.compute_efficiency == pytest.approx(0.45, rel=0.02)
    assert cal.profile.memory_efficiency == pytest.approx(0.9, rel=0.02)
    assert cal.profile.id == "mine" and "fitted on 12 measurements" in cal.profile.calibration


def test_calibrate_from_a_users_csv(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text("# my measurements\nmodel,gpu,n_gpu,precision,engine,batch,isl,osl,metric,value,source\n"
                 "llama-2-7b,l4,1,fp16,vllm,1,1,128,decode_tok_s,18.5,my lab\n"
                 "llama-2-7b,l4,1,fp16,vllm,1,512,1,ttft_ms,95,my lab\n"
                 "llama-3-8b,l4,1,fp8,vllm,1,1,128,decode_tok_s,30.1,my lab\n")
    cal = gpuopt.calibrate(f)
    assert cal.rows == 3 and cal.mape < 0.15
    assert gpuopt.validate(f).loo_mape is not None


def test_a_runs_own_tokens_per_forward_pass_is_what_its_estimate_uses(tmp_path):
    """A measurement may say how many tokens its engine took per forward pass (llama.cpp's -b, vLLM's
    max_num_batched_tokens): its prompt is then prefilled in chunks of that many, not the profile's."""
    f = tmp_path / "chunks.csv"
    f.write_text("model,gpu,engine,batch,isl,osl,metric,value,max_batched_tokens\n"
                 "llama-2-7b,h100-sxm,llama.cpp,1,512,512,out_tok_s_static,24.0,1\n"
                 "llama-2-7b,h100-sxm,llama.cpp,1,512,512,out_tok_s_static,41.0,\n")
    one, default = load_measurements(f)
    assert one.max_batched_tokens == 1 and default.max_batched_tokens is None
    engine = gpuopt.engine("llama.cpp")
    slow, fast = predict([one, default])
    by_hand = [gpuopt.estimate("llama-2-7b", "h100-sxm", batch=1, input_tokens=512, output_tokens=512,
                               engine=engine.model_copy(update={"max_batched_tokens": b})).output_tokens_per_s
               for b in (1, engine.max_batched_tokens)]
    assert [slow, fast] == pytest.approx(by_hand, rel=1e-12)
    # 512 forward passes of one token each instead of one of 512: the weights are read 511 times more
    assert slow < 0.75 * fast
    # a profile given for the fit keeps the row's own figure too
    mine = engine.model_copy(update={"memory_efficiency": 0.5})
    assert predict([one], mine)[0] == pytest.approx(
        gpuopt.estimate("llama-2-7b", "h100-sxm", batch=1, input_tokens=512, output_tokens=512,
                        engine=mine.model_copy(update={"max_batched_tokens": 1})).output_tokens_per_s, rel=1e-12)
    # and the engine's build for the row's GPU: vllm on an MI300X is vllm-rocm, with the row's chunk
    amd = Measurement(model="llama-3-8b", gpu="mi300x", engine="vllm", batch=8, isl=4096, osl=64,
                      metric="out_tok_s_static", value=100.0, max_batched_tokens=256)
    rocm = gpuopt.engine("vllm-rocm").model_copy(update={"max_batched_tokens": 256})
    assert predict([amd])[0] == pytest.approx(
        gpuopt.estimate("llama-3-8b", "mi300x", batch=8, input_tokens=4096, output_tokens=64,
                        engine=rocm).output_tokens_per_s, rel=1e-12)
    for bad in ("0", "-4", "2.5", "100000000"):
        f.write_text("model,gpu,isl,osl,metric,value,max_batched_tokens\n"
                     f"llama-2-7b,l4,512,128,ttft_ms,95,{bad}\n")
        with pytest.raises(InvalidInputError, match="measurement 1: .*max_batched_tokens"):
            load_measurements(f)


def test_bad_measurements_are_explained(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("model,gpu,isl,osl,metric,value\nllama-2-7b,l4,1,128,tokens_per_day,5\n")
    with pytest.raises(InvalidInputError, match="measurement 1: metric"):
        load_measurements(f)
    f.write_text("model,gpu,isl,osl,metric,value\nllama-2-7b,l4,1,128,ttft_ms,-5\n")
    with pytest.raises(InvalidInputError, match="value"):
        load_measurements(f)
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_measurements(tmp_path / "missing.csv")
    rows = load_measurements()
    with pytest.raises(InvalidInputError, match="several engines"):
        gpuopt.calibrate(rows)
    with pytest.raises(InvalidInputError, match="cannot fit"):
        gpuopt.calibrate([r for r in rows if r.engine == "trtllm"], fit=("warp_speed",))
