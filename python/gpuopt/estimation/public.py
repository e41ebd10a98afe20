"""Public benchmark results shipped with gpuopt as Measurements, each row's conditions mapped to
what gpuopt models, and every row it cannot map counted by the reason.

argonne_llm_inference_bench.csv: Argonne's LLM-Inference-Bench (arXiv:2411.00136), repository
argonne-lcf/LLM-Inference-Bench, Plots/All_results.csv at commit 4211f5d (some rows withheld by
whoever shipped it). Each row is one static batch, fp16, input length = output length, timed
after warm-up: its benchmark_throughput.py scripts time `llm.generate` over `Batch Size` prompts
(vLLM, TensorRT-LLM), so `Latency` is the batch's end-to-end seconds and `Throughput` counts
input and output tokens, batch x 2L / Latency. gpuopt's metric is out_tok_s_static = batch x L /
Latency. llama.cpp rows come from `llama-bench -p L -n L -pg L,L -b B -r 1` (llama.cpp/<GPU>/*.sh):
the pg test prefills one sequence's L-token prompt B tokens per forward pass (n_batch = B, and
n_ubatch = min(512, B)), then generates L tokens, and reports 2L / seconds; so `Latency` is that
one sequence's end-to-end seconds, and gpuopt models it as a batch of one with max_batched_tokens
= min(B, 512) (Measurement.max_batched_tokens). Over several GPUs llama.cpp splits the layers
(its default split mode): one sequence passes through them in turn, which is not tensor
parallelism, so those rows are counted, not used.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field

from gpuopt import catalog
from gpuopt.estimation.calibration import Measurement, load_measurements

ARGONNE_FILE = "argonne_llm_inference_bench.csv"
# Plots/Fig_3/A100_H100_quant_all_results.csv at the same commit: the same benchmark with quantized weights
# or KV caches (Llama 3 8B, one GPU). Its fp16-weight, fp16-KV rows are left out of the shipped file: they
# repeat conditions of All_results.csv, some of whose rows were withheld to check gpuopt.
QUANTIZATION_FILE = "argonne_quantization.csv"
ARGONNE_SOURCE = "Argonne LLM-Inference-Bench (arXiv:2411.00136)"

# the benchmark's hardware names -> gpuopt ids, and the vendor stack its frameworks ran on
HARDWARE = {
    "Nvidia A100 GPU": ("a100-40gb", "cuda"),     # ALCF Polaris: A100-SXM4-40GB
    "Nvidia H100 GPU": ("h100-sxm", "cuda"),      # SXM, 80 GB HBM3
    "Nvidia GH200 GPU": ("gh200", "cuda"),        # JLSE GH200, 96 GB HBM3
    "AMD MI300X GPU": ("mi300x", "rocm"),         # vLLM 0.6.1 built from Dockerfile.rocm; llama.cpp with HIP
    "AMD MI250 GPU": ("mi250", "rocm"),           # the same builds for gfx90a; counted in modules (GCDS)
    "Habana Gaudi2": ("gaudi2", "gaudi"),         # DeepSpeed only
}
# GPUs per counted device: the benchmark counts MI250 modules, ROCm (and gpuopt's mi250) each module's
# two GCDs - its scripts run vLLM at --tensor-parallel-size 2, 4, 8 (vLLM/MI250/run-throughput-bench.sh:
# 4 and 8 for its 2 and 4) and llama.cpp on CUDA_VISIBLE_DEVICES "0,1", "0,1,2,3", "0,...,7" for 1, 2, 4;
# a 70B model in fp16 (138 GB) fits on "2" only as four 64 GB GCDs
GCDS = {"AMD MI250 GPU": 2}
# (framework, stack) -> the framework's engine, on the stacks gpuopt has builds of it for; the build
# for the row's GPU is catalog.engine_on's (vllm on an MI300X: vllm-rocm; on an MI250: vllm-rocm-cdna2)
ENGINES = {("vLLM", "cuda"): "vllm", ("vLLM", "rocm"): "vllm", ("TensorRT-LLM", "cuda"): "trtllm",
           ("llama.cpp", "cuda"): "llama.cpp", ("llama.cpp", "rocm"): "llama.cpp"}
BYTES = {"fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}   # per weight or KV element
LLAMA_CPP_UBATCH = 512   # llama.cpp's default n_ubatch: a forward pass takes at most this many tokens
MODELS = {
    "meta-llama/Llama-2-7b-hf": "llama-2-7b", "meta-llama/Llama-2-70b-hf": "llama-2-70b",
    "meta-llama/Meta-Llama-3-8B": "llama-3-8b", "meta-llama/Meta-Llama-3-70B": "llama-3-70b",
    "mistralai/Mistral-7B-v0.1": "mistral-7b", "mistralai/Mixtral-8x7B-v0.1": "mixtral-8x7b",
    "Qwen/Qwen2-7B": "qwen2-7b", "Qwen/Qwen2-72B": "qwen2-72b", "Qwen/Qwen1.5-7B": "qwen1.5-7b",
    "huggyllama/llama-7b": "llama-7b",
}
WHY_NOT = {
    "hardware": "hardware gpuopt has no specification for (Intel PVC and Max 1550, SambaNova SN40L)",
    "framework": "a framework gpuopt has no profile for (DeepSpeed-MII, DeepSpeed, sambaflow)",
    "layers": "llama.cpp over several GPUs (its layers split between them: one sequence passes through each in "
              "turn, which gpuopt does not model)",
    "memory": "faster than the GPUs' memory can feed it (each forward pass must read the weights and the prompts' "
              "KV cache at least once): a failed run timed, e.g. lengths past the model's context or the engine's "
              "build limits (Qwen2 7B at 2,048 + 2,048 tokens on TensorRT-LLM, LLaMA 7B past its 2,048 on vLLM)",
    "fp8 emulated": "an fp8 KV cache on a GPU without fp8 (A100): the engines convert it in software, 2-7x "
                    "slower than fp16 at long contexts, which gpuopt does not model",
    "model": "a model whose architecture gpuopt's catalog does not describe (GPT-J, OPT, BLOOM: a two-matrix MLP "
             "and other position encodings; DeciLM: a different number of KV heads per layer; Aquila)",
}


@dataclass
class PublicRows:
    """Measurements mapped from a public table, and how many rows were left out for each reason."""

    rows: list[Measurement]
    skipped: Counter = field(default_factory=Counter)

    def add(self, row: Measurement) -> None:
        """Keeps `row`, or counts it under 'memory' where it is faster than its GPUs' memory allows."""
        if row.value > memory_bound_tok_s(row):
            self.skipped["memory"] += 1
        else:
            self.rows.append(row)

    def summary(self) -> str:
        left = "; ".join(f"{n} rows: {WHY_NOT[why]}" for why, n in sorted(self.skipped.items()))
        return f"{len(self.rows)} rows used" + (f"; left out {left}" if left else "")


def argonne() -> PublicRows:
    """Argonne's LLM-Inference-Bench rows as out_tok_s_static Measurements (source ARGONNE_SOURCE)."""
    out = PublicRows(rows=[])
    for r in csv.DictReader(io.StringIO(catalog._data_text(ARGONNE_FILE))):
        hw = HARDWARE.get(r["Hardware"])
        engine = ENGINES.get((r["Framework"], hw[1])) if hw else None
        model = MODELS.get(r["Model"])
        why = "hardware" if hw is None else "framework" if engine is None else "model" if model is None else None
        if why:
            out.skipped[why] += 1
            continue
        engine = catalog.engine_on(catalog.engine(engine), hw[0]).id
        length, batch, latency_s = int(r["Input Output Length"]), int(r["Batch Size"]), float(r["Latency"])
        n_gpu, chunk = int(r["Num of Hardware"]) * GCDS.get(r["Hardware"], 1), None
        if engine.startswith("llama.cpp"):   # one sequence; Batch Size is its prompt's tokens per forward pass
            if n_gpu > 1:
                out.skipped["layers"] += 1
                continue
            batch, chunk = 1, min(batch, LLAMA_CPP_UBATCH)
        out.add(Measurement(model=model, gpu=hw[0], n_gpu=n_gpu, precision="fp16", engine=engine, batch=batch,
                            isl=length, osl=length, metric="out_tok_s_static", value=batch * length / latency_s,
                            source=ARGONNE_SOURCE, max_batched_tokens=chunk))
    return out


def argonne_quantization() -> PublicRows:
    """Argonne's quantization rows (QUANTIZATION_FILE) as out_tok_s_static Measurements with their
    weight and KV precisions (source ARGONNE_SOURCE: the same benchmark and scripts)."""
    out = PublicRows(rows=[])
    for r in csv.DictReader(io.StringIO(catalog._data_text(QUANTIZATION_FILE))):
        gpu, stack = HARDWARE[r["Hardware"]]
        weights, kv = (part.split("=")[1].strip() for part in r["kv_cache_dtype"].split(","))
        if kv == "fp8" and not catalog.gpu(gpu).fp8_tflops:
            out.skipped["fp8 emulated"] += 1
            continue
        engine = catalog.engine_on(catalog.engine(ENGINES[(r["Framework"], stack)]), gpu).id
        length, batch = int(r["Input Output Length"]), int(r["Batch Size"])
        out.add(Measurement(model=MODELS[r["Model"]], gpu=gpu, n_gpu=int(r["Num of Hardware"]), precision=weights,
                            kv_precision=kv, engine=engine, batch=batch, isl=length, osl=length,
                            metric="out_tok_s_static", value=batch * length / float(r["latency"]),
                            source=ARGONNE_SOURCE))
    return out


def memory_bound_tok_s(row: Measurement) -> float:
    """The most output tokens/s a static batch can reach on its GPUs' datasheet bandwidth: every
    decode step reads the active weights and at least the prompts' KV cache, and the
    prefill only adds time. A measurement above it was not the run it claims to be."""
    m, g = catalog.model(row.model), catalog.gpu(row.gpu)
    kv_bytes = m.kv_bytes_per_token * BYTES[row.kv_precision or "fp16"] / BYTES["fp16"]
    step_bytes = BYTES[row.precision] * m.active_params + row.batch * row.isl * kv_bytes
    return row.batch * row.n_gpu * g.mem_bw_gb_s * 1e9 / step_bytes


def shipped() -> list[Measurement]:
    """Every shipped public measurement gpuopt can model: data/measured_calibration.csv and the
    Argonne rows (what scripts/fit_engine_profiles.py fits the shipped profiles on)."""
    return load_measurements() + argonne().rows + argonne_quantization().rows


__all__ = ["ARGONNE_SOURCE", "PublicRows", "argonne", "argonne_quantization", "memory_bound_tok_s", "shipped"]
