"""The estimator against public measurements it ships: Argonne's LLM-Inference-Bench mapped row by
row (nothing dropped without a count), profiles per engine and vendor stack (none borrowed), the
accuracy gates per engine x GPU x source, and the physics every fitted profile must keep."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gpuopt
from gpuopt import catalog
from gpuopt.estimation.calibration import Measurement, calibrate, load_measurements, predict
from gpuopt.estimation.public import (ARGONNE_FILE, ARGONNE_SOURCE, QUANTIZATION_FILE, argonne, argonne_quantization,
                                      memory_bound_tok_s, shipped)

ENGINES = ("vllm", "vllm-rocm", "vllm-rocm-cdna2", "trtllm", "llama.cpp", "llama.cpp-rocm")


def test_argonne_rows_are_mapped_or_counted():
    raw = list(csv.DictReader(io.StringIO(catalog._data_text(ARGONNE_FILE))))
    a = argonne()
    assert len(raw) == 4736
    assert len(a.rows) + sum(a.skipped.values()) == len(raw)   # no row dropped without a count
    assert len(a.rows) == 2589 and a.skipped == {"framework": 499, "hardware": 463, "model": 169, "layers": 999,
                                                 "memory": 17}
    assert "2589 rows used" in a.summary() and "layers split" in a.summary()
    assert {r.model for r in a.rows} >= {"qwen2-7b", "qwen2-72b", "qwen1.5-7b", "llama-7b"}
    # the first row: Mistral-7B on a GH200 with TensorRT-LLM, 128 + 128 tokens, batch 1, 0.688306736946106 s
    first = a.rows[0]
    assert (first.model, first.gpu, first.engine, first.batch, first.isl, first.osl, first.n_gpu) == \
        ("mistral-7b", "gh200", "trtllm", 1, 128, 128, 1)
    assert first.value == pytest.approx(128 / 0.688306736946106) and first.metric == "out_tok_s_static"
    assert first.source == ARGONNE_SOURCE
    # vLLM and llama.cpp on ROCm are builds of their own; the benchmark's Throughput counts input and output tokens
    assert {r.engine for r in a.rows if r.gpu == "mi300x"} == {"vllm-rocm", "llama.cpp-rocm"}
    row = next(r for r in raw if r["Framework"] == "vLLM" and r["Hardware"] == "Nvidia H100 GPU")
    b, n, lat = int(row["Batch Size"]), int(row["Input Output Length"]), float(row["Latency"])
    assert float(row["Throughput"]) == pytest.approx(b * 2 * n / lat, rel=1e-6)


def test_llama_cpp_rows_are_one_sequence_prefilled_in_chunks():
    """llama-bench -pg L,L -b B: one sequence whose prompt goes B tokens per forward pass, then L
    tokens generated; Throughput is 2L / Latency. Over several GPUs (layers split) rows are counted,
    not used; on ROCm they are llama.cpp-rocm's, its own build."""
    raw = [r for r in csv.DictReader(io.StringIO(catalog._data_text(ARGONNE_FILE))) if r["Framework"] == "llama.cpp"]
    a = argonne()
    row = next(r for r in raw if (r["Hardware"], r["Num of Hardware"], r["Model"], r["Input Output Length"],
                                  r["Batch Size"]) == ("Nvidia H100 GPU", "1", "meta-llama/Llama-2-7b-hf", "512", "16"))
    lat = float(row["Latency"])
    assert float(row["Throughput"]) == pytest.approx(2 * 512 / lat, rel=1e-6)
    m = next(r for r in a.rows if (r.engine, r.gpu, r.model, r.isl, r.max_batched_tokens) ==
             ("llama.cpp", "h100-sxm", "llama-2-7b", 512, 16))
    assert (m.batch, m.osl, m.n_gpu, m.metric) == (1, 512, 1, "out_tok_s_static")
    assert m.value == pytest.approx(512 / lat)
    used = [r for r in a.rows if r.engine == "llama.cpp"]
    assert len(used) == 200 and {r.max_batched_tokens for r in used} == {1, 16, 32, 64}
    rocm = [r for r in a.rows if r.engine == "llama.cpp-rocm"]
    assert len(rocm) == 100 and {r.gpu for r in rocm} == {"mi300x"} and {r.batch for r in rocm} == {1}
    # an MI250 is counted as its module: two GCDs, so every llama.cpp row on it splits layers
    several = sum(1 for r in raw if (r["Num of Hardware"] != "1" or r["Hardware"] == "AMD MI250 GPU") and r["Hardware"] in
                  ("Nvidia A100 GPU", "Nvidia H100 GPU", "Nvidia GH200 GPU", "AMD MI300X GPU", "AMD MI250 GPU")
                  and r["Model"] in ("meta-llama/Llama-2-7b-hf", "meta-llama/Meta-Llama-3-8B",
                                     "mistralai/Mistral-7B-v0.1", "meta-llama/Llama-2-70b-hf",
                                     "meta-llama/Meta-Llama-3-70B", "mistralai/Mixtral-8x7B-v0.1",
                                     "Qwen/Qwen2-7B", "Qwen/Qwen2-72B"))
    assert a.skipped["layers"] == several == 999
    # the chunk is what makes a prompt fed one token at a time slow: measured, B = 16 runs the
    # whole llama-2-7b pg test 1.73-1.86x faster than B = 1; the estimate follows within 8 %
    engine = gpuopt.engine("llama.cpp")
    for gpu in ("a100-40gb", "h100-sxm", "gh200"):
        for length in (128, 2048):
            by = {r.max_batched_tokens: r for r in used if (r.gpu, r.model, r.isl) == (gpu, "llama-2-7b", length)}
            est = [gpuopt.estimate("llama-2-7b", gpu, batch=1, input_tokens=length, output_tokens=length,
                                   engine=engine.model_copy(update={"max_batched_tokens": b})).e2e_ms for b in (1, 16)]
            assert est[0] / est[1] == pytest.approx(by[16].value / by[1].value, rel=0.08), (gpu, length)


def test_every_engine_is_fitted_on_its_own_rows():
    for name in ENGINES:
        e = gpuopt.engine(name)
        assert e.calibration.startswith("fitted on") and "borrowed" not in e.calibration, (name, e.calibration)
    assert "Argonne" in gpuopt.engine("vllm").calibration and "Argonne" in gpuopt.engine("vllm-rocm").calibration


def test_engines_run_on_their_gpus_stack():
    vllm = gpuopt.engine("vllm")
    assert catalog.engine_on(vllm, gpuopt.gpu("mi300x")).id == "vllm-rocm"
    assert catalog.engine_on(vllm, gpuopt.gpu("h100-sxm")) is vllm
    assert catalog.engine_on(gpuopt.engine("trtllm"), gpuopt.gpu("mi300x")).id == "trtllm"   # no ROCm build
    assert catalog.engine_on(gpuopt.engine("llama.cpp"), gpuopt.gpu("mi300x")).id == "llama.cpp-rocm"
    assert catalog.engine_on(vllm, gpuopt.fraction("mi300x", 2)).id == "vllm-rocm"   # a slot: its GPU's stack
    assert catalog.engine_on(vllm, "mi300x").id == "vllm-rocm"
    mine = vllm.model_copy(update={"compute_efficiency": 0.3})
    assert catalog.engine_on(mine, gpuopt.gpu("mi300x")) is mine          # the user's profile is the user's word
    on_amd = gpuopt.estimate("llama-3-8b", "mi300x", batch=64, input_tokens=1024, output_tokens=1024)
    assert on_amd.engine == "vllm-rocm"
    many = gpuopt.estimate_many("llama-3-8b", ["h100-sxm", "mi300x"], batch=64, input_tokens=1024, output_tokens=1024)
    assert [many.row(i)["engine"] for i in range(2)] == ["vllm", "vllm-rocm"]
    assert many.row(1)["output_tokens_per_s"] == pytest.approx(on_amd.output_tokens_per_s)
    swept = gpuopt.sweep(["llama-3-8b"], ["h100-sxm", "mi300x"], batches=[64], input_tokens=[1024],
                         output_tokens=[1024])
    assert [swept.row(i)["output_tokens_per_s"] for i in range(2)] == pytest.approx(
        [many.row(0)["output_tokens_per_s"], on_amd.output_tokens_per_s])
    assert gpuopt.capacity("llama-3-8b", "mi300x", requests=(512, 128), slo={"ttft_p95_ms": 2000}).engine == "vllm-rocm"


@pytest.fixture(scope="module")
def validation():
    return gpuopt.validate(loo="source")


def test_accuracy_per_engine_gpu_and_source(validation):
    """Gates at what the shipped profiles reach (issue 16's targets are stricter for held-out
    sources; vLLM's rows all come from one source, so their held-out figure is the prior's)."""
    v = validation
    assert len(v.rows) == 2654 and v.loo == "source"
    assert v.mape <= 0.10, v.mape   # issue 16: in-sample <= 10 %
    for g in v.groups:
        if g.rows >= 10:
            assert g.mape <= 0.25, g
        if g.engine in ("trtllm", "llama.cpp") and g.rows >= 10:
            # TensorRT-LLM has three sources, llama.cpp two (Argonne's llama-bench and XiongjieDai's)
            assert g.loo_mape is not None and g.loo_mape <= 0.25, g
    # no row of measured_calibration.csv is off by more than 1.5x
    shipped = [r for r in v.rows if r.measurement.source != ARGONNE_SOURCE]
    assert len(shipped) == len(load_measurements())
    assert all(1 / 1.5 <= r.estimate / r.measurement.value <= 1.5 for r in shipped)
    assert max(max(r.estimate / r.measurement.value, r.measurement.value / r.estimate) for r in v.rows) < 3.0


def test_rows_faster_than_memory_allows_are_counted_not_fitted():
    """A static batch cannot beat its GPUs' bandwidth over the bytes each decode step reads. Argonne's
    Qwen2 7B on TensorRT-LLM at 2,048 + 2,048 tokens claims 24,793 tokens/s at batch 1 on one H100
    (the bound is 218): a failed run timed. Such rows are counted under 'memory'; every used row is
    within the bound."""
    raw = [r for r in csv.DictReader(io.StringIO(catalog._data_text(ARGONNE_FILE)))
           if (r["Framework"], r["Hardware"], r["Model"], r["Num of Hardware"], r["Input Output Length"],
               r["Batch Size"]) == ("TensorRT-LLM", "Nvidia H100 GPU", "Qwen/Qwen2-7B", "1", "2048", "1")]
    assert len(raw) == 1 and 2048 / float(raw[0]["Latency"]) == pytest.approx(24793, rel=1e-3)
    m = gpuopt.model("qwen2-7b")
    bound = 3350e9 / (2 * m.total_params + 2048 * m.kv_bytes_per_token)   # H100 SXM: 3,350 GB/s
    assert bound == pytest.approx(218.26, abs=0.01)   # 3.35e12 / (15.231e9 + 2,048 x 57,344) bytes
    a = argonne()
    assert not any((r.engine, r.gpu, r.model, r.isl, r.batch, r.n_gpu) == ("trtllm", "h100-sxm", "qwen2-7b", 2048, 1, 1)
                   for r in a.rows)
    assert all(r.value <= memory_bound_tok_s(r) for r in a.rows)
    # a batch's decode step reads its prompts' KV cache too: llama-2-7b, 64 x 2,048 tokens (524,288 B each)
    row = Measurement(model="llama-2-7b", gpu="h100-sxm", n_gpu=2, precision="fp16", engine="vllm", batch=64,
                      isl=2048, osl=2048, metric="out_tok_s_static", value=1.0, source="by hand")
    assert memory_bound_tok_s(row) == pytest.approx(64 * 2 * 3350e9 / (2 * 6_738_415_616 + 64 * 2048 * 524_288))
    assert a.skipped["memory"] == 17 and "faster than the GPUs' memory" in a.summary()


def test_models_the_profiles_were_not_fitted_on():
    """Leave-models-out: each engine fitted without Argonne's Qwen2 7B / 72B, Qwen1.5 7B and LLaMA 7B
    rows predicts them (380 rows: the architectures' own weights, KV heads and biases are all that
    changes) within 12 % (9.5 % measured, 2026-12-07; `gpuopt validate --loo model` holds out
    every model in turn)."""
    new = {"qwen2-7b", "qwen2-72b", "qwen1.5-7b", "llama-7b"}
    rows = shipped()
    errors = []
    for name in ("vllm", "vllm-rocm", "trtllm", "llama.cpp", "llama.cpp-rocm"):   # vllm-rocm-cdna2: test below
        held = [r for r in rows if r.engine == name and r.model in new]
        profile = calibrate([r for r in rows if r.engine == name and r.model not in new], engine=name).profile
        est = predict(held, profile)
        err = np.abs(est / np.array([r.value for r in held]) - 1)
        assert err.mean() <= 0.20, (name, err.mean())
        errors.extend(err)
    assert len(errors) == 380 and np.mean(errors) <= 0.12, np.mean(errors)


def test_mi250_rows_are_modules_of_two_gcds_with_their_own_build():
    """Argonne counts MI250 modules; ROCm and gpuopt's mi250 count GCDs (64 GB each): its vLLM rows run
    at tensor-parallel size 2 per module, on vLLM's ROCm build for CDNA2 (gfx90a), fitted on them alone:
    the MI300X build's figures (6 % of the matrix peak in the GEMMs) predict them 34 % off, too slow."""
    raw = [r for r in csv.DictReader(io.StringIO(catalog._data_text(ARGONNE_FILE)))
           if (r["Framework"], r["Hardware"], r["Model"]) == ("vLLM", "AMD MI250 GPU", "meta-llama/Llama-2-70b-hf")]
    assert {r["Num of Hardware"] for r in raw} == {"2", "4"}     # 138 GB of fp16 weights: never on one module
    rows = [r for r in argonne().rows if r.gpu == "mi250"]
    assert len(rows) == 393 and {r.engine for r in rows} == {"vllm-rocm-cdna2"}
    assert {r.n_gpu for r in rows} == {2, 4, 8} and {r.n_gpu for r in rows if r.model == "llama-2-70b"} == {4, 8}
    assert catalog.engine_on(gpuopt.engine("vllm"), gpuopt.gpu("mi250x")).id == "vllm-rocm-cdna2"
    assert catalog.engine_on(gpuopt.engine("llama.cpp"), gpuopt.gpu("mi250")).id == "llama.cpp-rocm"
    cdna2, cdna3 = gpuopt.engine("vllm-rocm-cdna2"), gpuopt.engine("vllm-rocm")
    assert cdna2.compute_efficiency > 0.5 > 0.1 > cdna3.compute_efficiency
    measured = np.array([r.value for r in rows])
    own = np.abs(predict(rows) / measured - 1).mean()
    borrowed = np.abs(predict(rows, cdna3) / measured - 1).mean()
    assert own <= 0.10 and borrowed > 0.25, (own, borrowed)
    # llama.cpp on an MI250 borrows the MI300X build's figures, and says so
    kw = dict(batch=4, input_tokens=256, output_tokens=64)
    warned = gpuopt.estimate("llama-3-8b", "mi250", engine="llama.cpp", **kw).warnings
    assert any("no llama.cpp-rocm build is fitted on mi250's software (rocm for cdna2" in w for w in warned)
    assert not any("build is fitted" in w for w in gpuopt.estimate("llama-3-8b", "mi250", **kw).warnings)


def test_quantized_rows_and_vllms_fp8_kv_kernel():
    """Argonne's quantization file: Llama 3 8B with fp8 or int8 weights and KV caches (its fp16 / fp16
    rows are not shipped: they repeat All_results.csv's conditions, some of whose rows were withheld).
    vLLM 0.6 on CUDA decodes an fp8 KV cache with PagedAttention (FlashAttention-2 takes none), reading
    a GQA group's KV once per query head: measured, an H100 at batch 64 and 2,048 + 2,048 tokens makes
    2,001 tokens/s with an fp8 cache and 2,570 with an fp16 one (the same file). The estimate follows;
    TensorRT-LLM's XQA reads an 8-bit cache as it is, so there it stays faster. On an A100 (no fp8)
    the cache is converted in software: counted, not fitted, and the estimate says so."""
    raw = list(csv.DictReader(io.StringIO(catalog._data_text(QUANTIZATION_FILE))))
    assert len(raw) == 76 and not any(r["kv_cache_dtype"] == "Weight = fp16, KV Cache = fp16" for r in raw)
    q = argonne_quantization()
    assert len(q.rows) == 48 and q.skipped == {"fp8 emulated": 28}
    assert {(r.engine, r.gpu, r.precision, r.kv_precision) for r in q.rows} == {
        ("vllm", "h100-sxm", "fp16", "fp8"), ("vllm", "h100-sxm", "fp8", "fp8"),
        ("trtllm", "a100-40gb", "fp16", "int8"), ("trtllm", "a100-40gb", "int8", "int8")}
    kw = dict(batch=64, input_tokens=2048, output_tokens=2048)
    fp8 = gpuopt.estimate("llama-3-8b", "h100-sxm", kv_precision="fp8", **kw)
    fp16 = gpuopt.estimate("llama-3-8b", "h100-sxm", **kw)
    measured = next(r.value for r in q.rows if (r.precision, r.kv_precision, r.batch, r.isl) == ("fp16", "fp8", 64, 2048))
    assert measured == pytest.approx(64 * 2048 / 65.51213897718117)
    assert fp8.output_tokens_per_s < fp16.output_tokens_per_s
    assert fp8.output_tokens_per_s == pytest.approx(measured, rel=0.1)
    assert fp8.decode_attention.startswith("paged attention v1") and fp16.decode_attention == ""
    xqa = [gpuopt.estimate("llama-3-8b", "h100-sxm", kv_precision=kv, engine="trtllm", **kw).output_tokens_per_s
           for kv in ("fp8", "fp16")]
    assert xqa[0] > xqa[1]
    est = predict(q.rows)
    err = np.abs(est / np.array([r.value for r in q.rows]) - 1)
    assert err.mean() <= 0.10 and err.max() <= 0.25, (err.mean(), err.max())
    warned = gpuopt.estimate("llama-3-8b", "a100-40gb", kv_precision="fp8", **kw).warnings
    assert any("fp8 KV cache is converted in software" in w for w in warned)


def test_validate_holds_out_models():
    rows = [r for r in shipped() if r.engine == "llama.cpp" and r.gpu == "gh200"]
    v = gpuopt.validate(rows, loo="model")
    assert v.loo == "model" and {r.measurement.model for r in v.rows} >= {"qwen2-7b", "llama-2-7b"}
    # each model's estimate comes from a fit on the other models' rows only
    qwen = [r for r in rows if r.model == "qwen2-7b"]
    profile = calibrate([r for r in rows if r.model != "qwen2-7b"], engine="llama.cpp").profile
    assert [r.loo_estimate for r in v.rows if r.measurement.model == "qwen2-7b"] == pytest.approx(
        list(predict(qwen, profile)))
    with pytest.raises(gpuopt.InvalidInputError, match="'model'"):
        gpuopt.validate(rows, loo="gpu")


def test_vllm_on_rocm_slows_where_paged_attention_switches_kernels():
    """Argonne's MI300X rows: llama-3-8b, TP 1, 2048 in / 2048 out takes 17.4 ms per output token at
    batch 16 and 54.0 ms at batch 32 (3.1x): past 16 sequences x 32 heads = 512 work items vLLM's
    PagedAttention leaves v2 for v1. The estimate follows the jump; without paged attention's terms
    (the CUDA build's FlashAttention) it could not."""
    rows = {r.batch: r for r in argonne().rows if (r.engine, r.model, r.n_gpu, r.isl) == ("vllm-rocm", "llama-3-8b", 1, 2048)}
    measured = {b: rows[b].batch / rows[b].value for b in (16, 32)}   # seconds per output token of the batch
    assert measured[32] / measured[16] == pytest.approx(3.1, abs=0.05)
    est = {b: 1 / gpuopt.estimate("llama-3-8b", "mi300x", batch=b, input_tokens=2048, output_tokens=2048)
           .output_tokens_per_s * b for b in (16, 32)}
    assert est[32] / est[16] > 2.5
    for b in (16, 32):
        assert est[b] == pytest.approx(measured[b], rel=0.1)
    flash = gpuopt.engine("vllm-rocm").model_copy(update={"paged_attention_split_items": 0})
    flat = {b: 1 / gpuopt.estimate("llama-3-8b", "mi300x", batch=b, input_tokens=2048, output_tokens=2048,
                                   engine=flash).output_tokens_per_s * b for b in (16, 32)}
    assert flat[32] / flat[16] < 1.5


def test_validate_cli_prints_groups_and_plots(run_cli, tmp_path):
    p = run_cli("validate", "--loo", "none", "--plot", str(tmp_path / "v.png"))
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    assert "per engine x GPU x source" in text and "vllm-rocm" in text and "2654 rows" in text
    assert (tmp_path / "v.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_batch_the_kv_cache_cannot_hold_runs_in_waves():
    # llama-2-70b on 4 x A100 40GB: a few sequences of 4,096 tokens fit beside the weights
    fit = gpuopt.fit("llama-2-70b", "a100-40gb", tp=4, batch=1, context=4096, engine="trtllm")
    fits = fit.max_batch
    assert 1 <= fits < 64
    kw = dict(input_tokens=2048, output_tokens=2048, tp=4, engine="trtllm")
    one = gpuopt.estimate("llama-2-70b", "a100-40gb", batch=fits, **kw)
    all64 = gpuopt.estimate("llama-2-70b", "a100-40gb", batch=64, **kw)
    rest = 64 - (64 // fits) * fits
    last = gpuopt.estimate("llama-2-70b", "a100-40gb", batch=rest, **kw).e2e_ms if rest else 0.0
    assert all64.e2e_ms == pytest.approx((64 // fits) * one.e2e_ms + last)
    assert all64.output_tokens_per_s == pytest.approx(64 * 2048 / (all64.e2e_ms / 1e3))
    assert all64.ttft_ms == pytest.approx(one.ttft_ms) and all64.fit.verdict == "no-fit"


MODELS = ["llama-2-7b", "llama-3-8b", "mistral-7b", "llama-2-70b", "mixtral-8x7b"]


@given(st.sampled_from(ENGINES), st.sampled_from(["a100-40gb", "h100-sxm", "mi300x", "mi250", "gh200", "l40s"]),
       st.sampled_from(MODELS), st.sampled_from([1, 2, 4, 8]), st.sampled_from([1, 128, 2048]))
@settings(max_examples=60)
def test_physics_holds_for_every_profile(engine, gpu, model, tp, context):
    """Batch-1 decode never beats the TP group's aggregate bandwidth over the bytes each token
    reads (all weights once); more bandwidth never slows decode."""
    m, g = gpuopt.model(model), gpuopt.gpu(gpu)
    if not m.splits(tp) or (tp > 1 and not g.interconnect_gb_s):
        return
    e = catalog.engine_on(gpuopt.engine(engine), g)
    r = gpuopt.estimate(model, gpu, batch=1, input_tokens=context, output_tokens=128, tp=tp, engine=e)
    if r.fit.verdict == "no-fit":
        return
    weight_bytes = 2.0 * m.active_params if m.experts > 1 else 2.0 * m.total_params
    floor_ms = weight_bytes / (tp * g.mem_bw_gb_s * 1e9) * 1e3
    assert r.tpot_ms >= floor_ms * (1 - 1e-9), (r.tpot_ms, floor_ms)
    faster = g.model_copy(update={"id": f"{gpu}-2x", "mem_bw_gb_s": 2 * g.mem_bw_gb_s})
    r2 = gpuopt.estimate(model, faster, batch=1, input_tokens=context, output_tokens=128, tp=tp, engine=e)
    assert r2.tpot_ms <= r.tpot_ms * (1 + 1e-12)
    if tp > 1 and m.splits(tp // 2):
        half = gpuopt.estimate(model, gpu, batch=1, input_tokens=context, output_tokens=128, tp=tp // 2, engine=e)
        if half.fit.verdict != "no-fit":
            # twice the GPUs at most halve the time of the bandwidth-bound part
            assert r.tpot_ms >= half.tpot_ms / 2 * (1 - 1e-9)
