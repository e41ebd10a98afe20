import numpy as np
import pytest

import gpuopt
from gpuopt import InvalidInputError, UnknownNameError

GB = 1e9


def test_seed_002_13b_long_context_does_not_fit_a100_80gb():
    # Seed 002 claims 68.4 GB; the KV cache alone is 2 x 40 layers x 5120 x 2 B x 16 x 8192 = 107.4 GB.
    r = gpuopt.fit("llama-2-13b", "a100-sxm-80gb", precision="fp16", batch=16, context=8192)
    assert r.kv_cache_bytes == 819_200 * 16 * 8192
    assert r.kv_cache_bytes / GB == pytest.approx(107.37, abs=0.01)
    assert r.verdict == "no-fit"
    assert any("exceeds llama-2-13b's trained maximum of 4096" in w for w in r.warnings)


def test_seed_002_7b_fits_a100_40gb_at_18_to_19_gb():
    r = gpuopt.fit("llama-2-7b", "a100-40gb", precision="fp16", batch=4, context=2048)
    assert r.weights_bytes == 2 * 6_738_415_616
    assert r.kv_cache_bytes == 524_288 * 4 * 2048
    assert 18 * GB <= r.total_bytes <= 19 * GB
    assert r.verdict == "fits" and r.warnings == ()
    assert r.total_bytes == r.weights_bytes + r.kv_cache_bytes + r.activation_bytes + r.overhead_bytes
    assert r.capacity_bytes == pytest.approx(0.9 * 40 * 2**30)
    assert r.utilization == pytest.approx(r.total_bytes / r.capacity_bytes)


def test_vllm_reserves_its_worst_step_whatever_the_batch():
    # llama-3-8b: peak live activations per token (2 x 4096 + max(attention 10,240, MLP 3 x 14,336)) x 2 B
    # = 102,400 B, over vLLM's 2,048-token step; logits 128,256 x 8 B for max_num_seqs = 256 sequences
    reserve = 2048 * 102_400 + 256 * 128_256 * 8
    for batch in (1, 16, 256):
        assert gpuopt.fit("llama-3-8b", "h100-sxm", batch=batch, context=1024).activation_bytes == reserve
    assert gpuopt.fit("llama-3-8b", "h100-sxm", batch=300, context=1024).activation_bytes == reserve + 44 * 128_256 * 8
    # TensorRT-LLM's activations grow with the batch (no reserve modelled)
    assert gpuopt.fit("llama-3-8b", "h100-sxm", batch=1, context=16, engine="trtllm").activation_bytes < reserve / 10


def test_vllm_tensor_parallel_kv_gain_matches_its_memory_profile():
    """vLLM's memory profile of Meta-Llama-3-8B on H100 80GB (vllm-project/vllm pull request 10511):
    TP 1 - weights 14.96 GiB, KV cache 53.29 GiB; TP 2 - weights 7.48 GiB, non-torch memory up by
    1.79 GiB (NCCL, custom all-reduce), activation peak the same, so each GPU's KV cache grows by
    71.29 - 7.48 - 3.58 - 1.26 - 53.29 = 5.68 GiB."""
    free = {}
    for tp in (1, 2):
        r = gpuopt.fit("llama-3-8b", "h100-sxm", batch=1, context=1, tp=tp)
        free[tp] = r.capacity_bytes - r.weights_bytes - r.overhead_bytes - r.activation_bytes
    assert (free[2] - free[1]) / 2**30 == pytest.approx(5.68, abs=0.1)
    assert gpuopt.fit("llama-3-8b", "h100-sxm", tp=2).overhead_bytes == pytest.approx(0.8e9 + 1.79 * 2**30)
    assert gpuopt.fit("llama-3-8b", "h100-sxm", tp=2, engine="trtllm").overhead_bytes == pytest.approx(0.6e9)


def test_verdict_thresholds():
    # capacity 0.9 x memory; pick GPUs so that the same deployment lands in each band
    r = gpuopt.fit("llama-2-7b", "a100-40gb", batch=4, context=2048)
    need = r.total_bytes
    spec = gpuopt.gpu("a100-40gb").model_dump()
    for util, verdict in ((0.5, "fits"), (0.7999, "fits"), (0.8001, "tight"), (0.9999, "tight"), (1.0001, "no-fit")):
        g = {**spec, "id": "probe", "memory_bytes": need / (0.9 * util)}
        got = gpuopt.fit("llama-2-7b", g, batch=4, context=2048)
        assert got.utilization == pytest.approx(util, rel=1e-9)
        assert got.verdict == verdict, (util, got.verdict)


def test_max_batch_is_the_boundary():
    r = gpuopt.fit("llama-2-13b", "a100-sxm-80gb", batch=16, context=8192)
    assert r.max_batch == 7
    assert gpuopt.fit("llama-2-13b", "a100-sxm-80gb", batch=7, context=8192).verdict != "no-fit"
    assert gpuopt.fit("llama-2-13b", "a100-sxm-80gb", batch=8, context=8192).verdict == "no-fit"


def test_max_batch_zero_when_weights_do_not_fit():
    r = gpuopt.fit("llama-2-70b", "l4")
    assert r.verdict == "no-fit" and r.max_batch == 0


def test_tensor_parallel_splits_weights_and_kv():
    one = gpuopt.fit("llama-3-70b", "h100-sxm", precision="fp8", batch=8, context=4096, tp=1)
    two = gpuopt.fit("llama-3-70b", "h100-sxm", precision="fp8", batch=8, context=4096, tp=2)
    assert two.kv_cache_bytes == one.kv_cache_bytes / 2
    assert two.weights_bytes < 0.51 * one.weights_bytes
    # 8 KV heads over 16 GPUs: each keeps one (replicated), so KV stops shrinking at tp=8
    t8 = gpuopt.fit("llama-3-70b", "h100-sxm", batch=8, context=4096, tp=8)
    t16 = gpuopt.fit("llama-3-70b", "h100-sxm", batch=8, context=4096, tp=16)
    assert t16.kv_cache_bytes == t8.kv_cache_bytes


def test_tp_that_does_not_divide_heads_is_explained():
    with pytest.raises(InvalidInputError, match=r"tp=3 cannot split llama-2-7b .*valid tp: 1, 2, 4, 8, 16, 32"):
        gpuopt.fit("llama-2-7b", "a100-40gb", tp=3)


def test_precisions_shrink_weights():
    b = {p: gpuopt.fit("llama-2-70b", "h200", precision=p).weights_bytes for p in gpuopt.PRECISIONS}
    assert b["fp16"] == b["bf16"] == 2 * gpuopt.model("llama-2-70b").total_params
    assert b["fp8"] == b["int8"] < 0.52 * b["fp16"]
    # int4 packs 0.5 B/weight plus group scales; embeddings stay at 16 bits
    assert 0.26 * b["fp16"] < b["int4"] < 0.28 * b["fp16"]


def test_kv_precision_is_separate():
    base = gpuopt.fit("llama-3-8b", "l4", batch=8, context=8192)
    fp8 = gpuopt.fit("llama-3-8b", "l4", batch=8, context=8192, kv_precision="fp8")
    assert fp8.kv_cache_bytes == base.kv_cache_bytes / 2 and fp8.weights_bytes == base.weights_bytes
    assert fp8.max_batch > base.max_batch


def test_sliding_window_bounds_the_cache():
    short = gpuopt.fit("mistral-7b", "a100-sxm-80gb", context=4096)
    long = gpuopt.fit("mistral-7b", "a100-sxm-80gb", context=32768)
    assert long.kv_cache_bytes == short.kv_cache_bytes == 131_072 * 4096


def test_engines_differ_in_reserve_and_overhead():
    v = gpuopt.fit("llama-2-7b", "l4", engine="vllm")
    c = gpuopt.fit("llama-2-7b", "l4", engine="llama.cpp")
    assert v.capacity_bytes == pytest.approx(0.9 * c.capacity_bytes)
    assert c.overhead_bytes < v.overhead_bytes
    custom = gpuopt.register_engine({**gpuopt.engine("vllm").model_dump(), "id": "vllm-95", "memory_utilization": 0.95})
    assert gpuopt.fit("llama-2-7b", "l4", engine=custom).capacity_bytes == pytest.approx(0.95 * c.capacity_bytes)


def test_objects_and_dicts_are_accepted():
    m = gpuopt.model("llama-2-7b")
    g = gpuopt.gpu("a100-40gb")
    assert gpuopt.fit(m, g, batch=4, context=2048) == gpuopt.fit("llama-2-7b", "a100-40gb", batch=4, context=2048)


@pytest.mark.parametrize("kwargs,match", [
    ({"batch": 0}, "batch"), ({"batch": -3}, "batch"), ({"context": 0}, "context"), ({"tp": 0}, "tp"),
    ({"batch": float("nan")}, "batch"), ({"batch": 2.5}, "batch"), ({"batch": True}, "batch"),
    ({"batch": "4"}, "batch"), ({"context": float("inf")}, "context"), ({"batch": 10**15}, "batch"),
    ({"precision": "fp4"}, "valid precisions are fp16, bf16, fp8, int8, int4"),
    ({"kv_precision": "q4"}, "kv_precision"),
])
def test_bad_inputs_give_clear_errors(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        gpuopt.fit("llama-2-7b", "a100-40gb", **kwargs)


def test_unknown_ids():
    with pytest.raises(UnknownNameError, match="h100-sxm"):
        gpuopt.fit("llama-2-7b", "h100")
    with pytest.raises(UnknownNameError):
        gpuopt.fit("llama-7", "h100-sxm")


def test_absurd_sizes_are_no_fit_not_overflow():
    r = gpuopt.fit("llama-2-70b", "t4", batch=10**9, context=10**6)
    assert r.verdict == "no-fit" and np.isfinite(r.total_bytes) and r.max_batch == 0
    huge = gpuopt.fit("llama-2-7b", {"id": "huge", "memory_gb": 900_000, "mem_bw_gb_s": 1, "fp16_tflops": 1}, context=1)
    assert huge.verdict == "fits" and huge.max_batch > 10**7


def test_fit_many_matches_scalar_fit():
    models = ["llama-2-7b", "mixtral-8x7b", "llama-3-70b"]
    res = gpuopt.fit_many(models, "h100-sxm", precision=["fp16", "fp8", "int4"], batch=[1, 8, 32], context=2048)
    assert res.size == 3
    for i, m in enumerate(models):
        row = res.row(i)
        one = gpuopt.fit(m, "h100-sxm", precision=row["precision"], batch=row["batch"], context=2048)
        assert row["model"] == m
        for k in ("weights_bytes", "kv_cache_bytes", "total_bytes", "max_batch", "verdict"):
            assert row[k] == getattr(one, k)


def test_fit_many_flags_invalid_tp_without_raising():
    res = gpuopt.fit_many("llama-2-7b", "h100-sxm", tp=[1, 3])
    assert [gpuopt.VERDICTS[v] for v in res["verdict"]] == ["fits", "invalid"]
    assert np.isnan(res["total_bytes"][1]) and res["max_batch"][1] == 0


def test_fit_many_bad_entries_name_their_index():
    with pytest.raises(InvalidInputError, match=r"batch\[2\] = 0"):
        gpuopt.fit_many("llama-2-7b", "l4", batch=[1, 2, 0])
    with pytest.raises(InvalidInputError, match=r"context\[1\] = nan"):
        gpuopt.fit_many("llama-2-7b", "l4", context=np.array([1.0, np.nan]))
    with pytest.raises(InvalidInputError, match="broadcast"):
        gpuopt.fit_many("llama-2-7b", "l4", batch=[1, 2], context=[1, 2, 3])
    with pytest.raises(UnknownNameError):
        gpuopt.fit_many(["llama-2-7b", "nope"], "l4")


def test_fit_grid_row_order_and_counts():
    g = gpuopt.fit_grid(["llama-2-7b", "llama-3-8b"], ["l4", "a100-40gb"], precisions=["fp16", "int4"],
                        batches=[1, 16], contexts=[1024, 8192], tps=[1, 2])
    assert g.size == 2 * 2 * 2 * 2 * 2 * 2
    assert sum(g.verdict_counts().values()) == g.size
    last = g.row(g.size - 1)
    assert (last["model"], last["gpu"], last["precision"], last["batch"], last["context"], last["tp"]) == \
        ("llama-3-8b", "a100-40gb", "int4", 16, 8192, 2)
    one = gpuopt.fit("llama-3-8b", "a100-40gb", precision="int4", batch=16, context=8192, tp=2)
    assert last["total_bytes"] == one.total_bytes and last["max_batch"] == one.max_batch
    np.testing.assert_array_equal(g["gpu"].decode()[:2], ["l4", "l4"])


def test_fit_grid_rejects_empty_and_oversized_axes():
    with pytest.raises(InvalidInputError, match="at least one value"):
        gpuopt.fit_grid([], ["l4"])
    with pytest.raises(InvalidInputError, match="split it"):
        gpuopt.fit_grid(["llama-2-7b"], ["l4"], batches=range(1, 100_001), contexts=range(1, 10_001))


def test_core_rejects_malformed_tables_without_panicking():
    from gpuopt import _core
    one = np.zeros(1, dtype=np.int64)
    eng = np.array([gpuopt.engine("vllm").row()])
    gpu = np.array([gpuopt.gpu("l4").row()])
    with pytest.raises(InvalidInputError, match="columns"):
        _core.fit_many(np.zeros((1, 3), dtype=np.int64), gpu, eng, *[one] * 8)
    row = np.array([gpuopt.model("llama-2-7b").row()], dtype=np.int64)
    with pytest.raises(InvalidInputError, match="model\\[0\\] = 5"):
        _core.fit_many(row, gpu, eng, one + 5, *[one] * 4, one + 1, one + 1, one + 1)
    with pytest.raises(InvalidInputError, match="memory_bytes"):
        _core.fit_many(row, np.array([[np.nan, 1, 0, 1, 0]]), eng, *[one] * 5, one + 1, one + 1, one + 1)
    with pytest.raises(InvalidInputError, match="differ in length"):
        _core.fit_many(row, gpu, eng, *[one] * 5, one + 1, one + 1, np.ones(2, dtype=np.int64))
    with pytest.raises(InvalidInputError, match="memory_utilization"):
        _core.fit_many(row, gpu, np.array([[1.5, *eng[0, 1:]]]), *[one] * 5, one + 1, one + 1, one + 1)
    with pytest.raises(InvalidInputError, match="contiguous"):
        two = np.zeros(2, dtype=np.int64)
        _core.fit_many(row, gpu, eng, *[two] * 5, two + 1, two + 1, np.ones(4, dtype=np.int64)[::2])


def test_grid_input_columns_decode_row_numbers_as_np_indices_does():
    """Each input column is built on its own when read (8 B a row), not all nine at once: the same
    codes np.indices gives."""
    g = gpuopt.fit_grid(["llama-3-8b", "mistral-7b"], ["l4", "h100-sxm", "a10g"], precisions=["fp16", "fp8"],
                        batches=[1, 2, 3], contexts=[100, 200], tps=[1, 2])
    sizes = [2, 3, 1, 2, 1, 3, 2, 2]
    idx = np.indices(sizes).reshape(len(sizes), -1)
    for k, name in enumerate(["model", "gpu", "engine", "precision", "kv_precision"]):
        np.testing.assert_array_equal(g[name].codes, idx[k], err_msg=name)
    for k, (name, values) in enumerate([("batch", [1, 2, 3]), ("context", [100, 200]), ("tp", [1, 2])]):
        np.testing.assert_array_equal(g[name], np.array(values)[idx[5 + k]], err_msg=name)
