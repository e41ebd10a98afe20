import json
import math

import pytest

import gpuopt
from gpuopt import InvalidInputError, UnknownNameError, catalog

# Published parameter counts (model cards / papers), in billions.
PUBLISHED = {
    "llama-2-7b": 6.738, "llama-2-13b": 13.016, "llama-2-70b": 68.977, "llama-3-8b": 8.030,
    "llama-3-70b": 70.554, "mistral-7b": 7.242, "mixtral-8x7b": 46.703,
    "qwen2-7b": 7.616, "qwen2-72b": 72.706, "qwen1.5-7b": 7.721, "llama-7b": 6.738,
}
DESIGN_GPU_IDS = ["h100-sxm", "a100-sxm-80gb", "a100-pcie-80gb", "a100-40gb", "l40s", "l4", "t4", "a10g",
                  "rtx-4090", "h100-pcie", "h200", "mi300x"]


@pytest.mark.parametrize("mid,billions", PUBLISHED.items())
def test_published_parameter_counts(mid, billions):
    assert gpuopt.model(mid).total_params / 1e9 == pytest.approx(billions, rel=0.005)


def test_mixtral_active_parameters():
    assert gpuopt.model("mixtral-8x7b").active_params / 1e9 == pytest.approx(12.879, rel=0.005)
    # dense models use every parameter for every token
    assert gpuopt.model("llama-2-70b").active_params == gpuopt.model("llama-2-70b").total_params


def test_llama2_7b_exact_count():
    # 32 layers x (4*4096^2 attention + 3*4096*11008 MLP + 2*4096 norms) + 2*32000*4096 + 4096
    assert gpuopt.model("llama-2-7b").total_params == 6_738_415_616


@pytest.mark.parametrize("mid,kv", [("llama-2-7b", 524_288), ("llama-3-70b", 327_680), ("llama-2-13b", 819_200),
                                    ("mistral-7b", 131_072), ("mixtral-8x7b", 131_072)])
def test_kv_bytes_per_token_exact(mid, kv):
    assert gpuopt.model(mid).kv_bytes_per_token == kv


def test_every_shipped_figure_has_a_source():
    for g in gpuopt.gpus().values():
        assert g.source and g.source != "user"
    for m in gpuopt.models().values():
        assert m.source.startswith("https://huggingface.co/")
    for e in gpuopt.engines().values():
        assert len(e.source) > 40
    assert all(p.source for p in gpuopt.prices())


def test_gpu_catalog_covers_data_and_design_ids():
    ids = set(gpuopt.gpus())
    assert set(DESIGN_GPU_IDS) <= ids
    assert {"tpu-v5e", "inferentia2"} <= ids


def test_gpu_fields():
    h = gpuopt.gpu("h100-sxm")
    assert (h.mem_bw_gb_s, h.fp16_tflops, h.fp8_tflops, h.int8_tops, h.tdp_w) == (3350, 989, 1979, 1979, 700)
    assert h.memory_bytes == 81559 * 2**20 and h.mig
    a = gpuopt.gpu("a100-40gb")
    assert a.fp8_tflops is None and a.memory_bytes == 40 * 2**30
    assert gpuopt.gpu("h200").memory_bytes == 141e9  # no nvidia-smi figure: marketed GB
    assert set(gpuopt.gpu("a10g").unconfirmed) == {"fp16_tflops", "int8_tops", "tdp_w"}
    assert gpuopt.gpu("tpu-v5e").tdp_w is None
    assert not gpuopt.gpu("mi300x").mig
    # the accelerators of Argonne's rows beside the MI300X: an MI250(X) as ROCm counts it (one GCD, half the
    # module's datasheet figures), and Gaudi 2
    x, m, g = gpuopt.gpu("mi250x"), gpuopt.gpu("mi250"), gpuopt.gpu("gaudi2")
    assert (x.memory_bytes, x.mem_bw_gb_s, x.fp16_tflops, x.int8_tops, x.fp8_tflops, x.tdp_w) == (64e9, 1638, 191.5, 191.5, None, 280)
    assert (m.memory_bytes, m.mem_bw_gb_s, m.fp16_tflops, m.int8_tops) == (64e9, 1638, 181, 181)
    assert (g.memory_bytes, g.mem_bw_gb_s, g.tdp_w) == (96e9, 2450, 600) and "fp16_tflops" in g.unconfirmed
    assert catalog.stack_of(x) == catalog.stack_of(m) == "rocm" and not x.mig and not g.mig
    assert gpuopt.estimate("llama-3-8b", "mi250x", batch=8, input_tokens=512, output_tokens=128).engine == "vllm-rocm-cdna2"
    assert catalog.build_target(x) == catalog.build_target(m) == "cdna2" and catalog.build_target(gpuopt.gpu("mi300x")) is None
    # on a stack no engine build was fitted on, an estimate says whose efficiencies it borrows
    kw = dict(batch=4, input_tokens=256, output_tokens=64)
    for where in ("gaudi2", gpuopt.fraction("gaudi2", 2), "tpu-v5e"):
        assert any("no vllm build is fitted on" in w for w in gpuopt.estimate("llama-3-8b", where, **kw).warnings)
    assert catalog.stack_of(g) == "gaudi" and catalog.stack_of(gpuopt.gpu("inferentia2")) == "neuron"
    for where in ("h100-sxm", "mi300x", "mi250"):
        assert not any("build is fitted" in w for w in gpuopt.estimate("llama-3-8b", where, **kw).warnings)
    mine = gpuopt.engine("vllm").model_copy(update={"compute_efficiency": 0.3})   # the user's own figures
    assert not any("build is fitted" in w for w in gpuopt.estimate("llama-3-8b", "gaudi2", engine=mine, **kw).warnings)


def test_mig_profiles_and_prices():
    profiles = {p["profile_id"]: p for p in gpuopt.mig_profiles()}
    assert profiles[9]["allowed_starts"] == (0, 4) and profiles[9]["names"]["a100-80gb/h100"] == "3g.40gb"
    assert profiles[19]["max_per_gpu"] == 7
    melange_a10g = [p for p in gpuopt.prices() if p.id == "a10g" and p.kind == "cloud_hour"]
    assert melange_a10g[0].usd == 1.01


def test_unknown_names_suggest_the_closest():
    with pytest.raises(UnknownNameError) as e:
        gpuopt.gpu("h100")
    assert {"h100-sxm", "h100-pcie"} <= set(e.value.suggestions)
    assert "h100-sxm" in str(e.value)
    with pytest.raises(UnknownNameError) as e:
        gpuopt.model("lama-2-7b")
    assert e.value.suggestions[0] == "llama-2-7b"
    with pytest.raises(UnknownNameError, match="vllm"):
        gpuopt.engine("vlm")


def test_ids_are_case_insensitive():
    assert gpuopt.gpu("H100-SXM").id == "h100-sxm"


def test_register_gpu_from_dict_and_yaml(tmp_path):
    g = gpuopt.register_gpu({"id": "my-gpu", "memory_gb": 48, "mem_bw_gb_s": 960, "fp16_tflops": 180})
    assert g.memory_bytes == 48e9 and gpuopt.gpu("my-gpu") == g and g.source == "user"
    f = tmp_path / "gpu.yaml"
    f.write_text("id: yaml-gpu\nmemory_mib: 24576\nmem_bw_gb_s: 1000\nfp16_tflops: 100\ntdp_w: 300\n")
    assert gpuopt.register_gpu(f).memory_bytes == 24576 * 2**20
    assert gpuopt.fit("llama-2-7b", "yaml-gpu", precision="int8").verdict in ("fits", "tight")


def test_user_override_wins_over_catalog():
    base = gpuopt.gpu("l4").model_dump()
    gpuopt.register_gpu({**base, "memory_bytes": 48e9})
    assert gpuopt.gpu("l4").memory_bytes == 48e9
    assert gpuopt.fit("llama-2-13b", "l4").verdict != "no-fit"


def test_bad_gpu_definitions_are_explained():
    with pytest.raises(InvalidInputError, match="memory_bytes"):
        gpuopt.gpu({"id": "x", "memory_gb": -1, "mem_bw_gb_s": 1, "fp16_tflops": 1})
    with pytest.raises(InvalidInputError, match="mem_bw_gb_s"):
        gpuopt.gpu({"id": "x", "memory_gb": 10, "mem_bw_gb_s": float("nan"), "fp16_tflops": 1})
    with pytest.raises(InvalidInputError, match="bogus"):
        gpuopt.gpu({"id": "x", "memory_gb": 10, "mem_bw_gb_s": 1, "fp16_tflops": 1, "bogus": 2})
    with pytest.raises(InvalidInputError, match="memory_bytes"):
        gpuopt.gpu({"id": "x", "memory_gb": 1e12, "mem_bw_gb_s": 1, "fp16_tflops": 1})


def test_bad_model_definitions_are_explained():
    base = gpuopt.model("llama-3-8b").model_dump(exclude={"total_params", "active_params", "kv_bytes_per_token"})
    with pytest.raises(InvalidInputError, match="kv_heads"):
        gpuopt.model({**base, "id": "x", "kv_heads": 5})
    with pytest.raises(InvalidInputError, match="experts_per_token"):
        gpuopt.model({**base, "id": "x", "experts": 2, "experts_per_token": 3})
    with pytest.raises(InvalidInputError, match="layers"):
        gpuopt.model({**base, "id": "x", "layers": 0})


LLAMA2_7B_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32, "vocab_size": 32000,
    "max_position_embeddings": 4096, "rms_norm_eps": 1e-05, "tie_word_embeddings": False,
    "_name_or_path": "meta-llama/Llama-2-7b-hf", "torch_dtype": "float16",
}
MIXTRAL_CONFIG = {
    "model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 32000, "max_position_embeddings": 32768,
    "num_local_experts": 8, "num_experts_per_tok": 2, "sliding_window": None, "tie_word_embeddings": False,
}
QWEN2_05B_CONFIG = {  # Qwen/Qwen2-0.5B: tied embeddings and q/k/v biases; 494 M parameters
    "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_attention_heads": 14,
    "num_hidden_layers": 24, "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 131072,
    "tie_word_embeddings": True, "use_sliding_window": False, "sliding_window": 131072,
}


def test_model_from_hf_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(LLAMA2_7B_CONFIG))
    m = gpuopt.model_from_hf_config(tmp_path)
    assert m.id == "llama-2-7b-hf" and m.total_params == gpuopt.model("llama-2-7b").total_params
    assert gpuopt.model("llama-2-7b-hf") == m  # registered
    f = tmp_path / "mixtral.json"
    f.write_text(json.dumps(MIXTRAL_CONFIG))
    mx = gpuopt.model_from_hf_config(f, id="my-mixtral")
    assert (mx.total_params, mx.active_params) == (gpuopt.model("mixtral-8x7b").total_params,
                                                  gpuopt.model("mixtral-8x7b").active_params)
    f.write_text(json.dumps(QWEN2_05B_CONFIG))
    q = gpuopt.model_from_hf_config(f, id="qwen2-0.5b")
    assert q.total_params / 1e9 == pytest.approx(0.494, rel=0.005)
    assert q.sliding_window is None and q.attention_bias and q.tied_embeddings


def test_bad_hf_configs(tmp_path):
    with pytest.raises(InvalidInputError, match="cannot read"):
        gpuopt.model_from_hf_config(tmp_path / "missing.json")
    f = tmp_path / "config.json"
    f.write_text("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        gpuopt.model_from_hf_config(f)
    f.write_text(json.dumps({**LLAMA2_7B_CONFIG, "model_type": "deepseek_v3"}))
    with pytest.raises(InvalidInputError, match="not supported"):
        gpuopt.model_from_hf_config(f)
    cfg = dict(LLAMA2_7B_CONFIG)
    del cfg["vocab_size"]
    f.write_text(json.dumps(cfg))
    with pytest.raises(InvalidInputError, match="vocab_size"):
        gpuopt.model_from_hf_config(f)


def test_model_dump_includes_counts():
    d = gpuopt.model("llama-3-8b").model_dump()
    assert d["total_params"] == 8_030_261_248 and d["kv_bytes_per_token"] == 131_072
    assert math.isclose(d["active_params"], d["total_params"])
