import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpuopt
from gpuopt import InvalidInputError, UnknownNameError, _core
from tests import reference
from tests.test_differential import archs, engines, row_of


def test_single_request_report_explains_itself():
    r = gpuopt.estimate("llama-2-7b", "a100-sxm-80gb", batch=1, input_tokens=512, output_tokens=128)
    assert r.bound == {"prefill": "compute", "decode": "memory"}
    assert r.e2e_ms == pytest.approx(r.ttft_ms + 127 * r.tpot_ms)
    assert r.output_tokens_per_s == pytest.approx(128 / (r.e2e_ms / 1e3))
    assert r.requests_per_s == pytest.approx(1 / (r.e2e_ms / 1e3))
    assert r.fit.verdict == "fits" and r.fit.context == 640
    # decode at batch 1 reads every fp16 weight once per token: about 13.5 GB at up to 2039 GB/s
    assert r.tpot_ms > 13.48e9 / 2039e9 * 1e3
    assert "memory-bound" in r.explain() and "fitted on" in r.engine_calibration


def test_tensor_parallel_and_fp8_speed_up():
    one = gpuopt.estimate("llama-3-70b", "h100-sxm", precision="fp8", batch=8, input_tokens=1000, output_tokens=200,
                          tp=2)
    four = gpuopt.estimate("llama-3-70b", "h100-sxm", precision="fp8", batch=8, input_tokens=1000, output_tokens=200,
                           tp=4)
    assert four.tpot_ms < one.tpot_ms and four.decode.comm_ms > 0
    fp16 = gpuopt.estimate("llama-3-8b", "h100-sxm", batch=64, input_tokens=2000, output_tokens=10)
    fp8 = gpuopt.estimate("llama-3-8b", "h100-sxm", precision="fp8", batch=64, input_tokens=2000, output_tokens=10)
    assert fp8.ttft_ms < 0.8 * fp16.ttft_ms
    # A100 has no fp8 tensor cores: fp8 weights save bandwidth, not compute
    a = gpuopt.estimate("llama-3-8b", "a100-sxm-80gb", precision="fp8", batch=64, input_tokens=2000, output_tokens=10)
    assert a.prefill.compute_ms == pytest.approx(
        gpuopt.estimate("llama-3-8b", "a100-sxm-80gb", batch=64, input_tokens=2000, output_tokens=10).prefill.compute_ms)
    assert any("no fp8 tensor cores" in w for w in a.warnings)


def test_moe_decode_reads_only_active_experts():
    mix = gpuopt.estimate("mixtral-8x7b", "h200", batch=1, input_tokens=128, output_tokens=64)
    dense = gpuopt.estimate("llama-2-70b", "h200", batch=1, input_tokens=128, output_tokens=64)
    # 12.9 B active of 46.7 B: decode costs like a 13 B dense model, far below a 70 B one
    assert mix.decode.memory_ms < 0.3 * dense.decode.memory_ms
    big = gpuopt.estimate("mixtral-8x7b", "h200", batch=256, input_tokens=128, output_tokens=64)
    assert big.decode.memory_ms > 2.5 * mix.decode.memory_ms  # a large batch touches every expert


def test_kv_precision_and_gqa_shrink_decode_reads():
    kw = dict(batch=32, input_tokens=4000, output_tokens=100)
    # TensorRT-LLM's XQA reads an fp8 cache as it is: fewer bytes
    base = gpuopt.estimate("llama-3-8b", "l40s", engine="trtllm", **kw)
    fp8kv = gpuopt.estimate("llama-3-8b", "l40s", kv_precision="fp8", engine="trtllm", **kw)
    assert fp8kv.decode.memory_ms < base.decode.memory_ms
    # vLLM 0.6 decodes an fp8 cache with PagedAttention: once per query head (4x for llama-3-8b's GQA), so
    # half-size elements read twice the bytes of its fp16 FlashAttention path (measured slower: test_public_data)
    base = gpuopt.estimate("llama-3-8b", "l40s", **kw)
    fp8kv = gpuopt.estimate("llama-3-8b", "l40s", kv_precision="fp8", **kw)
    assert fp8kv.decode.memory_ms > base.decode.memory_ms
    assert gpuopt.estimate("llama-3-8b", "l40s", kv_precision="int8", **kw).decode_attention.startswith("paged")


def _decode_memory_ms(engine, batch, isl=2000, osl=101):
    return gpuopt.estimate("llama-3-8b", "h100-sxm", batch=batch, input_tokens=isl, output_tokens=osl,
                           engine=engine).decode.memory_ms


def test_paged_attention_reads_the_kv_once_per_query_head():
    flash = gpuopt.engine("vllm").model_copy(update={"attention_efficiency": 0.5, "unsplit_attention_efficiency": 0.5})
    paged = flash.model_copy(update={"paged_attention_split_items": 1e9})   # never past the v1 limit
    # llama-3-8b: 32 layers, 32 query heads over 8 KV heads of 128: paged attention reads each cached
    # token's K and V 32 times per layer instead of 8; the mean decode step of 8 sequences attends
    # over contexts 2001..2100, 2050.5 on average; H100 SXM 3350 GB/s at 50 %
    extra_ms = 8 * 2050.5 * 2 * 32 * (32 - 8) * 128 * 2 / (3350e9 * 0.5) * 1e3
    assert _decode_memory_ms(paged, 8) - _decode_memory_ms(flash, 8) == pytest.approx(extra_ms, rel=1e-9)
    # writes of the new tokens are the same: one KV head's worth each
    assert _decode_memory_ms(paged, 8, osl=2) - _decode_memory_ms(flash, 8, osl=2) == pytest.approx(
        8 * 2001 * 2 * 32 * 24 * 128 * 2 / (3350e9 * 0.5) * 1e3, rel=1e-9)


def test_paged_attention_takes_its_unsplit_kernel_past_the_work_item_limit():
    v2 = gpuopt.engine("vllm").model_copy(update={"attention_efficiency": 0.5, "unsplit_attention_efficiency": 0.5,
                                                  "paged_attention_split_items": 512})
    slow_v1 = v2.model_copy(update={"unsplit_attention_efficiency": 0.25})
    # 16 sequences x 32 heads = 512 work items: still v2, the unsplit share plays no part
    assert _decode_memory_ms(slow_v1, 16) == _decode_memory_ms(v2, 16)
    # 17 x 32 > 512: v1, whose reads (once per query head) take twice as long at half the share
    reads_ms = 17 * 2050.5 * 2 * 32 * 32 * 128 * 2 / (3350e9 * 0.5) * 1e3
    assert _decode_memory_ms(slow_v1, 17) - _decode_memory_ms(v2, 17) == pytest.approx(reads_ms, rel=1e-9)
    e = gpuopt.estimate("llama-3-8b", "h100-sxm", batch=17, input_tokens=2000, output_tokens=101, engine=slow_v1)
    assert "paged attention v1" in e.explain() and "17 sequences x 32 heads = 544 > 512" in e.decode_attention
    assert "4x the cache" in e.decode_attention
    at_limit = gpuopt.estimate("llama-3-8b", "h100-sxm", batch=16, input_tokens=2000, output_tokens=101, engine=slow_v1)
    assert "paged attention v2" in at_limit.decode_attention and "= 512 <= 512" in at_limit.decode_attention
    # a profile that names no unsplit share reads as fast on v1 as on v2
    spec = {k: v for k, v in v2.model_dump().items() if k != "unsplit_attention_efficiency"}
    assert gpuopt.EngineProfile.model_validate({**spec, "attention_efficiency": 0.4}).unsplit_attention_efficiency == 0.4
    for bad, says in (({"paged_attention_split_items": -1}, "greater than or equal to 0"),
                      ({"paged_attention_split_items": 1e300}, "less than or equal to"),
                      ({"reserved_seqs": 1e300}, "less than or equal to"),
                      ({"unsplit_attention_efficiency": 0}, "greater than 0"),
                      ({"comm_buffer_bytes": -5}, "greater than or equal to 0")):
        with pytest.raises(InvalidInputError, match=says):
            gpuopt.register_engine({**v2.model_dump(), "id": "probe", **bad})
    assert gpuopt.estimate("llama-3-8b", "h100-sxm", batch=17, input_tokens=2000, output_tokens=101).decode_attention == ""


def test_max_throughput_beats_every_fitting_batch():
    best = gpuopt.max_throughput("llama-3.1-8b", "a100-sxm-80gb", input_tokens=128, output_tokens=128, engine="trtllm")
    assert best.fit.verdict != "no-fit" and best.batch > 64
    for b in (1, 16, 64, best.batch // 2):
        r = gpuopt.estimate("llama-3.1-8b", "a100-sxm-80gb", batch=b, input_tokens=128, output_tokens=128,
                            engine="trtllm")
        assert r.output_tokens_per_s <= best.output_tokens_per_s


def test_max_throughput_errors_when_nothing_fits():
    with pytest.raises(InvalidInputError, match="does not fit on 1x l4 even at batch 1"):
        gpuopt.max_throughput("llama-2-70b", "l4", input_tokens=128, output_tokens=128)


def test_estimate_flags_no_fit():
    r = gpuopt.estimate("llama-2-13b", "a100-sxm-80gb", batch=16, input_tokens=8000, output_tokens=192)
    assert r.fit.verdict == "no-fit" and any("hypothetical" in w for w in r.warnings)


@pytest.mark.parametrize("kwargs,match", [
    ({"input_tokens": 0}, "input_tokens"), ({"output_tokens": -1}, "output_tokens"), ({"batch": 0}, "batch"),
    ({"tp": 3}, "valid tp"), ({"precision": "fp4"}, "valid precisions"), ({"engine": "vlm"}, "vllm"),
])
def test_estimate_bad_inputs(kwargs, match):
    args = {"input_tokens": 128, "output_tokens": 128, **kwargs}
    with pytest.raises(InvalidInputError, match=match):
        gpuopt.estimate("llama-2-7b", "a100-40gb", **args)


def test_tp_without_interconnect_figure():
    with pytest.raises(InvalidInputError, match="interconnect"):
        gpuopt.estimate("llama-2-7b", "inferentia2", tp=2, input_tokens=8, output_tokens=8)
    res = gpuopt.estimate_many("llama-2-7b", "inferentia2", tp=[1, 2], input_tokens=8, output_tokens=8)
    assert [gpuopt.VERDICTS[v] for v in res["verdict"]] != ["invalid", "invalid"]
    assert gpuopt.VERDICTS[res["verdict"][1]] == "invalid" and res.row(1)["decode_bound"] is None


def test_unknown_gpu_in_estimate():
    with pytest.raises(UnknownNameError, match="h100-sxm"):
        gpuopt.estimate("llama-2-7b", "h100", input_tokens=8, output_tokens=8)


def test_many_matches_scalar():
    res = gpuopt.estimate_many(["llama-2-7b", "mixtral-8x7b"], "h100-sxm", precision=["fp16", "fp8"], batch=[4, 32],
                               input_tokens=[256, 1024], output_tokens=64, tp=[1, 2])
    for i in range(2):
        row = res.row(i)
        one = gpuopt.estimate(row["model"], "h100-sxm", precision=row["precision"], batch=row["batch"],
                              input_tokens=row["input_tokens"], output_tokens=64, tp=row["tp"])
        assert (row["ttft_ms"], row["tpot_ms"], row["e2e_ms"]) == (one.ttft_ms, one.tpot_ms, one.e2e_ms)
        assert row["decode_bound"] == one.bound["decode"]


# ---- the Rust engine against its plain-Python twin, and physical properties -----------------------

gpu_rows = st.tuples(st.floats(8e9, 300e9), st.floats(10.0, 3000.0), st.sampled_from([0.0, 500.0, 2000.0]),
                     st.floats(100.0, 8000.0), st.sampled_from([0.0, 32.0, 900.0])).map(list)
cfgs = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(1, 512), st.integers(1, 1 << 15),
                          st.integers(1, 4096), st.sampled_from([1, 2, 4, 8])), min_size=1, max_size=12)


def _columns(cfgs, n_models, n_gpus, n_engines, rnd):
    n = len(cfgs)
    return [np.array(c, dtype=np.int64) for c in (
        [rnd.randrange(n_models) for _ in range(n)], [rnd.randrange(n_gpus) for _ in range(n)],
        [rnd.randrange(n_engines) for _ in range(n)], [c[0] for c in cfgs], [c[1] for c in cfgs],
        [c[2] for c in cfgs], [c[3] for c in cfgs], [c[4] for c in cfgs], [c[5] for c in cfgs])]


@settings(max_examples=120, deadline=None)
@given(st.lists(archs(), min_size=1, max_size=3), st.lists(gpu_rows, min_size=1, max_size=3),
       st.lists(engines, min_size=1, max_size=2), cfgs, st.randoms(use_true_random=False))
def test_rust_estimate_matches_reference(models, gpus, engs, cfgs, rnd):
    rows = [row_of(m) for m in models]
    cols = _columns(cfgs, len(rows), len(gpus), len(engs), rnd)
    args = (np.array(rows, dtype=np.int64), np.array(gpus), np.array(engs), *cols)
    for name in ("estimate_many", "max_throughput_many"):
        rust = getattr(_core, name)(*args)
        ref = np.array(getattr(reference, name)(rows, gpus, engs, *[c.tolist() for c in cols]), dtype=float)
        np.testing.assert_array_equal(rust, ref, err_msg=name)


def _one(arch, gpu, eng, prec, batch, isl, osl, fn="estimate_many"):
    z = np.zeros(1, dtype=np.int64)
    out = getattr(_core, fn)(np.array([row_of(arch)], dtype=np.int64), np.array([gpu]), np.array([eng]), z, z, z,
                             z + prec, z, z + batch, z + isl, z + osl, z + 1)
    return dict(zip(_core.ESTIMATE_COLUMNS, out[0]))


@settings(max_examples=150, deadline=None)
@given(archs(), gpu_rows, engines, st.integers(0, 4), st.integers(1, 1 << 14), st.integers(2, 2048))
def test_single_stream_never_beats_the_bandwidth_limit(arch, gpu, eng, prec, isl, osl):
    est = _one(arch, gpu, eng, prec, 1, isl, osl)
    a = reference.Arch.from_row(row_of(arch))
    p = reference.params(a)
    # bytes a token must read at least: the weights on its path at this precision
    active_weights = (p["attention"] + p["mlp_active"]) * reference.WEIGHT_BYTES[reference.PRECISIONS[prec]]
    physical_limit_tok_s = gpu[3] * 1e9 / active_weights
    assert 1000.0 / est["tpot_ms"] <= physical_limit_tok_s


@settings(max_examples=150, deadline=None)
@given(archs(), gpu_rows, engines, st.integers(0, 4), st.integers(1, 256), st.integers(1, 1 << 14),
       st.integers(2, 2048), st.floats(1.0, 10.0))
def test_more_bandwidth_never_slows_decode_and_more_flops_never_slow_prefill(arch, gpu, eng, prec, batch, isl, osl,
                                                                              k):
    base = _one(arch, gpu, eng, prec, batch, isl, osl)
    more_bw = _one(arch, [gpu[0], gpu[1], gpu[2], gpu[3] * k, gpu[4]], eng, prec, batch, isl, osl)
    more_flops = _one(arch, [gpu[0], gpu[1] * k, gpu[2] * k, gpu[3], gpu[4]], eng, prec, batch, isl, osl)
    assert more_bw["tpot_ms"] <= base["tpot_ms"]
    assert more_flops["ttft_ms"] <= base["ttft_ms"]
    assert more_bw["output_tokens_per_s"] >= base["output_tokens_per_s"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["llama-3-8b", "h100-sxm", "", "é-名"]), st.text(max_size=4),
                          st.integers(), st.none()), max_size=30))
def test_names_are_dictionary_encoded_as_the_reference_does(items):
    from gpuopt import _core
    from tests import reference

    got, want = _core.encode_names(items), reference.encode_names(items)
    if want is None:
        assert got is None
    else:
        assert got[0] == want[0] and got[1].tolist() == want[1] and got[1].dtype == np.int64


def test_names_as_a_plain_list_estimate_as_a_categorical_does():
    """The plain-list path (what users pass) gives the same rows as Categorical codes; distinct
    objects with the same text (list(np.array(...)) makes them) share one code."""
    rng = np.random.default_rng(4)
    models, gpus = ["llama-3-8b", "mistral-7b", "llama-2-13b"], ["h100-sxm", "l4", "a100-40gb"]
    mc, gc = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    kw = dict(batch=rng.integers(1, 64, 500), input_tokens=512, output_tokens=128)
    by_codes = gpuopt.estimate_many(gpuopt.Categorical(models, mc), gpuopt.Categorical(gpus, gc), **kw)
    plain = gpuopt.estimate_many([models[i] for i in mc], list(np.array(gpus)[gc]), **kw)
    for col in ("ttft_ms", "tpot_ms", "output_tokens_per_s"):
        np.testing.assert_array_equal(plain[col], by_codes[col])
    assert list(plain["model"].values) == [models[i] for i in dict.fromkeys(mc)]
