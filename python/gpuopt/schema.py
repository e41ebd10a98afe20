"""pydantic models for what gpuopt reads and returns: accelerators, models, engines, fit reports."""

from __future__ import annotations

import math

from functools import lru_cache
from typing import Annotated, Literal, Optional

from pydantic import ConfigDict, Field, computed_field, model_validator

from gpuopt import _core
from gpuopt.errors import CheckedModel
from gpuopt.units import GB, MiB

PRECISIONS: tuple[str, ...] = tuple(_core.PRECISIONS)
Precision = Literal["fp16", "bf16", "fp8", "int8", "int4"]
Verdict = Literal["fits", "tight", "no-fit", "invalid"]

# Bounds that reject typos and absurd values with a clear error instead of a wrong number.
MAX_DIM = 2**31
MAX_MEMORY_BYTES = 1e15  # 1 PB: beyond any accelerator
Dim = Annotated[int, Field(ge=1, le=MAX_DIM)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Frozen(CheckedModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Accelerator(_Frozen):
    """One accelerator (or one MIG slice of one). Figures are dense datasheet peaks."""

    id: str = Field(min_length=1)
    name: str = ""
    memory_bytes: Annotated[float, Field(gt=0, le=MAX_MEMORY_BYTES, allow_inf_nan=False)]
    memory_gb: Optional[PositiveFloat] = Field(None, description="marketed size in GB")
    mem_bw_gb_s: PositiveFloat
    fp16_tflops: PositiveFloat
    fp8_tflops: Optional[PositiveFloat] = None
    int8_tops: Optional[PositiveFloat] = None
    int4_tops: Optional[PositiveFloat] = None
    tdp_w: Optional[PositiveFloat] = None
    interconnect: Optional[str] = None
    interconnect_gb_s: Optional[PositiveFloat] = None
    mig: bool = False
    source: str = "user"
    unconfirmed: tuple[str, ...] = Field((), description="figures not confirmed by a primary datasheet")

    @model_validator(mode="before")
    @classmethod
    def _memory_from_gb_or_mib(cls, data):
        """Users may give memory as memory_bytes, memory_mib (as nvidia-smi reports) or memory_gb."""
        if isinstance(data, dict) and data.get("memory_bytes") is None:
            data = dict(data)
            mib = data.pop("memory_mib", None)
            if mib is not None:
                data["memory_bytes"] = float(mib) * MiB
            elif data.get("memory_gb") is not None:
                data["memory_bytes"] = float(data["memory_gb"]) * GB
        elif isinstance(data, dict):
            data = {k: v for k, v in data.items() if k != "memory_mib"}
        if isinstance(data, dict) and not data.get("name"):
            data = {**data, "name": data.get("id", "")}
        return data


    def row(self) -> tuple[float, ...]:
        """The figures the engine uses, in _core.GPU_FIELDS order (0 where absent)."""
        return (float(self.memory_bytes), float(self.fp16_tflops), float(self.fp8_tflops or 0.0),
                float(self.mem_bw_gb_s), float(self.interconnect_gb_s or 0.0))


class ModelSpec(_Frozen):
    """A decoder-only transformer's architecture (Llama/Mistral style, optionally MoE)."""

    id: str = Field(min_length=1)
    name: str = ""
    layers: Dim
    hidden: Dim
    heads: Dim
    kv_heads: Dim
    head_dim: Dim
    ffn: Dim
    vocab: Dim
    tied_embeddings: bool = False
    experts: Dim = 1
    experts_per_token: Dim = 1
    max_context: Dim
    sliding_window: Optional[Dim] = None
    attention_bias: bool = False
    source: str = "user"

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data):
        if isinstance(data, dict):
            data = dict(data)
            if data.get("kv_heads") is None and data.get("heads") is not None:
                data["kv_heads"] = data["heads"]
            if data.get("head_dim") is None and data.get("heads") and data.get("hidden"):
                data["head_dim"] = int(data["hidden"]) // int(data["heads"])
            if not data.get("name"):
                data["name"] = data.get("id", "")
        return data

    @model_validator(mode="after")
    def _consistent(self):
        if self.heads % self.kv_heads:
            raise ValueError(
                f"heads={self.heads} is not a multiple of kv_heads={self.kv_heads}: "
                "grouped-query attention shares each KV head among a whole group of query heads"
            )
        if self.experts_per_token > self.experts:
            raise ValueError(f"experts_per_token={self.experts_per_token} exceeds experts={self.experts}")
        return self

    def row(self) -> tuple[int, ...]:
        """The architecture in _core.MODEL_FIELDS order (booleans as 0/1, no window as 0)."""
        values = {f: getattr(self, f) for f in _core.MODEL_FIELDS}
        values["sliding_window"] = self.sliding_window or 0
        return tuple(int(v) for v in values.values())

    @computed_field
    @property
    def total_params(self) -> int:
        return int(_params(self.row())["total_params"])

    @computed_field
    @property
    def active_params(self) -> int:
        return int(_params(self.row())["active_params"])

    @computed_field
    @property
    def kv_bytes_per_token(self) -> int:
        """KV-cache bytes per token at 16 bits, all layers, keys and values."""
        return int(_params(self.row())["kv_bytes_per_token"])

    def splits(self, tp: int) -> bool:
        """Whether `tp` GPUs split this model's attention heads evenly (KV heads split, or each
        replicated on a whole number of GPUs)."""
        return (1 <= tp <= self.heads and self.heads % tp == 0
                and (self.kv_heads % tp == 0 if self.kv_heads >= tp else tp % self.kv_heads == 0))

    def valid_tp(self, limit: int = 64) -> list[int]:
        """Tensor-parallel degrees up to `limit` that split this model's heads evenly. A valid degree
        divides the head count, so only the divisors are tried (O(sqrt(heads)), any limit)."""
        divisors = {d for k in range(1, math.isqrt(self.heads) + 1) if self.heads % k == 0
                    for d in (k, self.heads // k)}
        return sorted(t for t in divisors if t <= limit and self.splits(t))


@lru_cache(maxsize=4096)
def _params(row: tuple[int, ...]) -> dict:
    return _core.model_params(list(row))


Share = Annotated[float, Field(gt=0, le=1)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class EngineProfile(_Frozen):
    """A serving engine: how it uses memory (data/engines.yaml, with sources) and how close it gets
    to the roofline (fitted to measurements by gpuopt.calibrate(); data/engine_timing.yaml)."""

    id: str
    # memory
    memory_utilization: Share = Field(description="share of GPU memory the engine may use")
    overhead_bytes: Annotated[float, Field(ge=0, le=MAX_MEMORY_BYTES, allow_inf_nan=False)]
    max_batched_tokens: Annotated[int, Field(ge=1)] = Field(description="tokens per forward pass")
    logits_bytes_per_entry: NonNegative
    comm_buffer_bytes: Annotated[float, Field(ge=0, le=MAX_MEMORY_BYTES, allow_inf_nan=False)] = Field(
        0.0, description="communicator buffers per GPU of a tensor-parallel group (tp > 1): NCCL's and the engine's "
                         "own all-reduce buffers, outside the KV cache")
    reserved_seqs: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)] = Field(
        0.0, description="0: activations grow with the batch; > 0: the engine reserves its worst step's activations "
                         "up front (max_batched_tokens tokens and the logits of this many sequences: vLLM's memory "
                         "profile with max_num_seqs), whatever the batch")
    # timing (defaults: generic, uncalibrated values)
    compute_efficiency: Share = 0.5
    memory_efficiency: Share = 0.8
    activation_traffic: NonNegative = Field(40.0, description="elementwise bytes per token and layer, in hidden x 2 B")
    step_overhead_ms: NonNegative = 1.0
    request_overhead_ms: NonNegative = 5.0
    comm_efficiency: Share = 0.7
    allreduce_latency_us: NonNegative = 10.0
    attention_efficiency: Share = Field(0.8, description="share of the memory bandwidth its attention kernels reach "
                                                         "reading the KV cache (default: memory_efficiency)")
    seq_overhead_us: NonNegative = Field(0.0, description="host-side cost per sequence in every step "
                                                          "(scheduling, sampling, detokenising), µs")
    paged_attention_split_items: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)] = Field(
        0.0, description="0: decode attention reads a GQA group's KV once and splits contexts (FlashAttention, "
                         "XQA); > 0: vLLM's PagedAttention kernels, which read the KV once per query head and, past "
                         "this many work items (sequences x query heads per GPU; vLLM: 512), walk whole contexts "
                         "(v1) instead of 512-token partitions (v2)")
    unsplit_attention_efficiency: Share = Field(
        0.8, description="share of the memory bandwidth paged attention's unsplit (v1) kernel reaches reading the "
                         "KV cache (default: attention_efficiency)")
    quantized_kv_split_items: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)] = Field(
        0.0, description="0: a quantized (fp8, int8, int4) KV cache is decoded by the same kernels as a 16-bit "
                         "one; > 0: the engine decodes it with vLLM's PagedAttention (read once per query head), "
                         "whose v1 kernel "
                         "runs past this many work items - vLLM 0.6 on CUDA: FlashAttention-2 takes no fp8 KV cache, "
                         "so it selects XFormers' backend")
    source: str = "user"
    calibration: str = Field("not calibrated: generic defaults", description="where the timing figures come from")

    def paged_split_items(self, kv_precision: str = "fp16") -> float:
        """PagedAttention's v1/v2 switch (work items) for a KV cache of `kv_precision`; 0 where the
        engine decodes it with GQA-aware kernels that split contexts (the core's
        EngineTiming::paged_split_items)."""
        if kv_precision not in ("fp16", "bf16") and self.quantized_kv_split_items > 0:   # fewer than 16 bits
            return self.quantized_kv_split_items
        return self.paged_attention_split_items

    @model_validator(mode="before")
    @classmethod
    def _attention_as_matmuls(cls, data):
        # a profile that says nothing of its attention kernels reads the KV cache as it reads weights
        if isinstance(data, dict) and "attention_efficiency" not in data and "memory_efficiency" in data:
            data = {**data, "attention_efficiency": data["memory_efficiency"]}
        # and one that says nothing of an unsplit path reads as fast on it
        if isinstance(data, dict) and "unsplit_attention_efficiency" not in data and "attention_efficiency" in data:
            data = {**data, "unsplit_attention_efficiency": data["attention_efficiency"]}
        return data

    def row(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, f)) for f in _core.ENGINE_FIELDS)


TIMING_FIELDS: tuple[str, ...] = ("compute_efficiency", "memory_efficiency", "activation_traffic", "step_overhead_ms",
                                  "request_overhead_ms", "comm_efficiency", "allreduce_latency_us",
                                  "attention_efficiency", "seq_overhead_us", "paged_attention_split_items",
                                  "unsplit_attention_efficiency", "quantized_kv_split_items")


class Price(_Frozen):
    id: str
    kind: Literal["cloud_hour", "capex"]
    usd: PositiveFloat
    source: str


class FitReport(_Frozen):
    """Per-GPU memory of one deployment, itemised, and whether it fits."""

    def _repr_html_(self) -> str:
        from gpuopt.output.notebook import report

        return report(self)

    model: str
    gpu: str
    engine: str
    precision: Precision
    kv_precision: Precision
    batch: int
    context: int
    tp: int
    weights_bytes: float
    kv_cache_bytes: float
    activation_bytes: float
    overhead_bytes: float
    total_bytes: float
    memory_bytes: float = Field(description="the GPU's physical memory")
    capacity_bytes: float = Field(description="memory the engine may use (its reserve rule applied)")
    utilization: float = Field(description="total_bytes / capacity_bytes")
    verdict: Verdict
    max_batch: int = Field(description="largest batch that fits at this context")
    warnings: tuple[str, ...] = ()

    def breakdown(self) -> list[tuple[str, float]]:
        """(item, bytes) per GPU, in the order the report prints them."""
        return [
            ("weights", self.weights_bytes),
            ("kv cache", self.kv_cache_bytes),
            ("activations", self.activation_bytes),
            ("runtime overhead", self.overhead_bytes),
            ("total", self.total_bytes),
            ("usable capacity", self.capacity_bytes),
        ]
