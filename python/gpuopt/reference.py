"""Plain-Python reference of the Rust engine's formulas, operation for operation.

Used by the differential tests (Rust and Python must agree) and by the benchmarks (the speed ratio
of the Rust core over this). Not used by the package at run time. Arithmetic is in floats in the
same order as the Rust code, so results agree to the last bit.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

from . import _core

WEIGHT_BYTES = {"fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5 + 4.0 / 128.0}
KV_BYTES = {"fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
PRECISIONS = tuple(_core.PRECISIONS)
FITS_THRESHOLD = 0.8
MAX_BATCH = 1e15
ACTIVATION_BYTES = 2.0


class Arch(NamedTuple):
    layers: float
    hidden: float
    heads: float
    kv_heads: float
    head_dim: float
    ffn: float
    vocab: float
    tied_embeddings: bool
    experts: float
    experts_per_token: float
    max_context: float
    sliding_window: float
    attention_bias: bool

    @classmethod
    def from_row(cls, row: Sequence[int]) -> "Arch":
        f = [float(v) for v in row]
        f[7], f[12] = bool(row[7]), bool(row[12])
        return cls(*f)


def params(a: Arch) -> dict[str, float]:
    q_dim = a.heads * a.head_dim
    kv_dim = a.kv_heads * a.head_dim
    l = a.layers
    per_expert = 3.0 * a.hidden * a.ffn
    p = {
        "embedding": a.vocab * a.hidden,
        "lm_head": 0.0 if a.tied_embeddings else a.vocab * a.hidden,
        "attention": l * (a.hidden * (q_dim + 2.0 * kv_dim) + q_dim * a.hidden),
        "attention_bias": l * (q_dim + 2.0 * kv_dim) if a.attention_bias else 0.0,
        "mlp": l * a.experts * per_expert,
        "mlp_active": l * a.experts_per_token * per_expert,
        "router": l * a.hidden * a.experts if a.experts > 1.0 else 0.0,
        "norms": (2.0 * l + 1.0) * a.hidden,
    }
    p["total"] = (p["embedding"] + p["lm_head"] + p["attention"] + p["attention_bias"] + p["mlp"]
                  + p["router"] + p["norms"])
    p["active"] = (p["embedding"] + p["lm_head"] + p["attention"] + p["attention_bias"]
                   + p["mlp_active"] + p["router"] + p["norms"])
    return p


def kv_bytes_per_token(a: Arch, kv: str = "fp16") -> float:
    return 2.0 * a.layers * a.kv_heads * a.head_dim * KV_BYTES[kv]


def tp_is_valid(a: Arch, tp: float) -> bool:
    heads_ok = a.heads % tp == 0.0
    kv_ok = a.kv_heads % tp == 0.0 if a.kv_heads >= tp else tp % a.kv_heads == 0.0
    return heads_ok and kv_ok


class Terms(NamedTuple):
    weights: float
    overhead: float
    kv_per_seq: float
    act_per_token: float
    logits_per_seq: float
    prefill_tokens: float
    context: float

    def kv(self, batch: float) -> float:
        return self.kv_per_seq * batch

    def activations(self, batch: float) -> float:
        return min(batch * self.context, self.prefill_tokens) * self.act_per_token + batch * self.logits_per_seq

    def total(self, batch: float) -> float:
        return self.weights + self.kv(batch) + self.activations(batch) + self.overhead

    def max_batch(self, capacity: float) -> float:
        fixed = self.weights + self.overhead
        per_seq = self.kv_per_seq + self.logits_per_seq
        first_full = float(math.ceil(self.prefill_tokens / self.context))
        full = float(math.floor((capacity - fixed - self.prefill_tokens * self.act_per_token) / per_seq))
        if full >= first_full:
            b = full
        else:
            slope = self.context * self.act_per_token + per_seq
            b = min(float(math.floor((capacity - fixed) / slope)), first_full - 1.0)
        b = min(max(b, 0.0), MAX_BATCH)
        for _ in range(3):
            if b > 0.0 and self.total(b) > capacity:
                b -= 1.0
        for _ in range(3):
            if b < MAX_BATCH and self.total(b + 1.0) <= capacity:
                b += 1.0
        return b


def memory_terms(a: Arch, engine: Sequence[float], precision: str, kv: str, context: float, tp: float) -> Terms:
    _util, overhead, max_batched_tokens, logits_bytes = engine
    p = params(a)
    quantizable = p["attention"] + p["mlp"]
    sharded = p["embedding"] + p["lm_head"] + p["attention_bias"]
    replicated = p["router"] + p["norms"]
    weights = (quantizable * WEIGHT_BYTES[precision] + sharded * 2.0) / tp + replicated * 2.0
    kv_heads = max(float(math.ceil(a.kv_heads / tp)), 1.0)
    cached = min(context, a.sliding_window) if a.sliding_window > 0.0 else context
    kv_per_seq = 2.0 * a.layers * kv_heads * a.head_dim * KV_BYTES[kv] * cached
    attn = 2.0 * (a.heads / tp) * a.head_dim + 2.0 * kv_heads * a.head_dim
    mlp = 3.0 * a.ffn * a.experts_per_token / tp
    act_per_token = (2.0 * a.hidden + max(attn, mlp)) * ACTIVATION_BYTES
    return Terms(weights, overhead, kv_per_seq, act_per_token, a.vocab * logits_bytes, max_batched_tokens, context)


def fit_one(a: Arch, memory_bytes: float, engine: Sequence[float], precision: str, kv: str,
            batch: float, context: float, tp: float) -> tuple:
    """(weights, kv, activations, overhead, total, capacity, utilization, verdict code, max_batch)."""
    capacity = memory_bytes * engine[0]
    if not tp_is_valid(a, tp):
        nan = float("nan")
        return (nan, nan, nan, nan, nan, capacity, nan, 3, 0)
    t = memory_terms(a, engine, precision, kv, context, tp)
    total = t.total(batch)
    u = total / capacity
    verdict = 0 if u <= FITS_THRESHOLD else 1 if u <= 1.0 else 2
    return (t.weights, t.kv(batch), t.activations(batch), t.overhead, total, capacity, u, verdict,
            int(t.max_batch(capacity)))


def fit_many(models, gpu_memory_bytes, engines, model, gpu, engine, precision, kv_precision,
             batch, context, tp) -> list[tuple]:
    """Same inputs as _core.fit_many (tables, then one list per configuration column)."""
    archs = [Arch.from_row(r) for r in models]
    out = []
    for i in range(len(model)):
        out.append(fit_one(archs[model[i]], float(gpu_memory_bytes[gpu[i]]), engines[engine[i]],
                           PRECISIONS[precision[i]], PRECISIONS[kv_precision[i]],
                           float(batch[i]), float(context[i]), float(tp[i])))
    return out
