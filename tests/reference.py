"""Plain-Python reference of the Rust engine's formulas, operation for operation.

Used by the differential tests (Rust and Python must agree) and by the benchmarks (the speed ratio
of the Rust core over this). Not used by the package at run time. Arithmetic is in floats in the
same order as the Rust code, so results agree to the last bit.
"""

from __future__ import annotations

import bisect
import collections
import heapq
import itertools
import math
from typing import NamedTuple, Optional, Sequence

from gpuopt import _core

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
    reserved_seqs: float = 0.0

    def kv(self, batch: float) -> float:
        return self.kv_per_seq * batch

    def activations(self, batch: float) -> float:
        if self.reserved_seqs > 0.0:   # reserved up front: the worst step, whatever the batch
            return self.prefill_tokens * self.act_per_token + max(batch, self.reserved_seqs) * self.logits_per_seq
        return min(batch * self.context, self.prefill_tokens) * self.act_per_token + batch * self.logits_per_seq

    def activation_floor(self) -> float:
        return self.prefill_tokens * self.act_per_token + self.reserved_seqs * self.logits_per_seq

    def total(self, batch: float) -> float:
        return self.weights + self.kv(batch) + self.activations(batch) + self.overhead

    def max_batch(self, capacity: float) -> float:
        fixed = self.weights + self.overhead
        per_seq = self.kv_per_seq + self.logits_per_seq
        if self.reserved_seqs > 0.0:
            reserved = fixed + self.activation_floor()
            past = float(math.floor((capacity - reserved + self.reserved_seqs * self.logits_per_seq) / per_seq))
            if past >= self.reserved_seqs:
                b = past
            else:
                b = min(float(math.floor((capacity - reserved) / self.kv_per_seq)), self.reserved_seqs - 1.0)
        else:
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
    _util, overhead, max_batched_tokens, logits_bytes, comm_buffers, reserved_seqs = engine[:6]
    if tp > 1.0:   # a tensor-parallel group's communicators hold buffers on every GPU
        overhead = overhead + comm_buffers
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
    return Terms(weights, overhead, kv_per_seq, act_per_token, a.vocab * logits_bytes, max_batched_tokens, context,
                 reserved_seqs)


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


def fit_many(models, gpus, engines, model, gpu, engine, precision, kv_precision,
             batch, context, tp) -> list[tuple]:
    """Same inputs as _core.fit_many (tables, then one list per configuration column)."""
    archs = [Arch.from_row(r) for r in models]
    out = []
    for i in range(len(model)):
        out.append(fit_one(archs[model[i]], float(gpus[gpu[i]][0]), engines[engine[i]],
                           PRECISIONS[precision[i]], PRECISIONS[kv_precision[i]],
                           float(batch[i]), float(context[i]), float(tp[i])))
    return out


# ---------------------------------------------------------------------------------------------
# Estimator (rust/gpuopt-core/src/estimate.rs)

THROUGHPUT_CANDIDATES = 48


class Gpu(NamedTuple):
    memory_bytes: float
    fp16_flops: float
    fp8_flops: float
    mem_bw: float
    link_bw: float

    @classmethod
    def from_row(cls, row: Sequence[float]) -> "Gpu":
        return cls(float(row[0]), row[1] * 1e12, row[2] * 1e12, row[3] * 1e9, row[4] * 1e9)

    def peak_flops(self, precision: str) -> float:
        return self.fp8_flops if precision == "fp8" and self.fp8_flops > 0.0 else self.fp16_flops


class Engine(NamedTuple):
    memory: tuple  # the six memory fields, as memory_terms takes them
    compute_efficiency: float
    memory_efficiency: float
    activation_traffic: float
    step_overhead_ms: float
    request_overhead_ms: float
    comm_efficiency: float
    allreduce_latency_us: float
    attention_efficiency: float
    seq_overhead_us: float
    paged_attention_split_items: float
    unsplit_attention_efficiency: float
    quantized_kv_split_items: float

    @classmethod
    def from_row(cls, row: Sequence[float]) -> "Engine":
        return cls(tuple(row[:6]), *[float(v) for v in row[6:]])


class Step(NamedTuple):
    compute_ms: float
    memory_ms: float
    activation_ms: float
    comm_ms: float
    overhead_ms: float

    def total(self) -> float:
        return max(self.compute_ms, self.memory_ms) + self.activation_ms + self.comm_ms + self.overhead_ms

    def scaled(self, k: float) -> "Step":
        return Step(*(v * k for v in self))


class Roofline:
    def __init__(self, a: Arch, g: Gpu, e: Engine, precision: str, kv: str, tp: float):
        p = params(a)
        wb = WEIGHT_BYTES[precision]
        q_dim = a.heads * a.head_dim
        self.bw = g.mem_bw * e.memory_efficiency
        self.kv_bw = g.mem_bw * e.attention_efficiency
        self.kv_bw_unsplit = g.mem_bw * e.unsplit_attention_efficiency
        # an 8-bit KV cache may be decoded by another kernel (vLLM 0.6 on CUDA: PagedAttention)
        quantized = KV_BYTES[kv] < 2.0 and e.quantized_kv_split_items > 0.0
        split = e.quantized_kv_split_items if quantized else e.paged_attention_split_items
        self.heads_per_rank, self.paged_split_items = a.heads / tp, split
        lm_head_bytes = a.vocab * a.hidden * 2.0
        moe = a.experts > 1.0
        dense_mlp, self.expert_bytes = (0.0, p["mlp"] * wb / tp) if moe else (p["mlp"] * wb, 0.0)
        allreduces = 2.0 * a.layers
        if tp > 1.0:
            ring = 2.0 * (tp - 1.0) / tp * a.hidden * 2.0 / (g.link_bw * e.comm_efficiency)
            self.comm_per_token, self.comm_fixed = allreduces * ring * 1e3, allreduces * e.allreduce_latency_us * 1e-3
        else:
            self.comm_per_token, self.comm_fixed = 0.0, 0.0
        self.flops_per_token = 2.0 * (p["attention"] + p["mlp_active"] + p["router"]) / tp
        self.flops_per_seq = 2.0 * a.vocab * a.hidden / tp
        self.flops_per_pair = 4.0 * a.layers * q_dim / tp
        self.peak = g.peak_flops(precision) * e.compute_efficiency
        self.dense_bytes = ((p["attention"] * wb + dense_mlp + lm_head_bytes + p["attention_bias"] * 2.0) / tp
                            + (p["router"] + p["norms"]) * 2.0)
        self.experts, self.experts_per_token = a.experts, a.experts_per_token
        kv_heads = max(float(math.ceil(a.kv_heads / tp)), 1.0)
        self.kv_per_token = 2.0 * a.layers * kv_heads * a.head_dim * KV_BYTES[kv]
        # paged attention reads a GQA group's KV once per query head
        paged = split > 0.0
        self.kv_read_per_token = 2.0 * a.layers * (a.heads / tp) * a.head_dim * KV_BYTES[kv] if paged else self.kv_per_token
        self.act_per_token = e.activation_traffic * a.layers * a.hidden * 2.0
        self.step_overhead_ms = e.step_overhead_ms
        self.seq_overhead_us = e.seq_overhead_us

    def kv_read_bw(self, seqs: float) -> float:
        unsplit = self.paged_split_items > 0.0 and seqs * self.heads_per_rank > self.paged_split_items
        return self.kv_bw_unsplit if unsplit else self.kv_bw

    def kv_s(self, tokens: float, seqs: float, kv_read: float) -> float:
        if self.paged_split_items > 0.0:
            return self.kv_per_token * tokens / self.kv_bw + self.kv_read_per_token * kv_read / self.kv_read_bw(seqs)
        return self.kv_per_token * (kv_read + tokens) / self.kv_bw

    def expert_share(self, tokens: float) -> float:
        if self.experts > 1.0:
            return 1.0 - (1.0 - self.experts_per_token / self.experts) ** tokens
        return 0.0

    def step(self, tokens: float, seqs: float, kv_read: float, pairs: float) -> Step:
        flops = self.flops_per_token * tokens + self.flops_per_seq * seqs + self.flops_per_pair * pairs
        weight_bytes = self.dense_bytes + self.expert_bytes * self.expert_share(tokens)
        return Step(flops / self.peak * 1e3,
                    (weight_bytes / self.bw + self.kv_s(tokens, seqs, kv_read)) * 1e3, self.act_per_token * tokens / self.bw * 1e3,
                    self.comm_per_token * tokens + self.comm_fixed, self.step_overhead_ms + self.seq_overhead_us * seqs * 1e-3)


def mean_of_max(a0: float, a1: float, b0: float, b1: float, lo: float, hi: float) -> float:
    def f(c: float) -> float:
        return max(a0 + a1 * c, b0 + b1 * c)

    if hi <= lo:
        return f(lo)
    slope = a1 - b1
    cross = (b0 - a0) / slope if slope != 0.0 else float("nan")
    if lo < cross < hi:
        left = (cross - lo) * (f(lo) + f(cross)) / 2.0
        right = (hi - cross) * (f(cross) + f(hi)) / 2.0
        return (left + right) / (hi - lo)
    return (f(lo) + f(hi)) / 2.0


NAN = float("nan")
INVALID_STEP = Step(NAN, NAN, NAN, NAN, NAN)


def _row(ttft, tpot, e2e, tps, batch, verdict, pre_bound, dec_bound, prefill: Step, decode: Step) -> tuple:
    """A row of _core.ESTIMATE_COLUMNS."""
    return (ttft, tpot, e2e, tps, batch, float(verdict), pre_bound, dec_bound, *prefill, *decode)


def _estimate_with(r: Roofline, e: Engine, terms: Terms, capacity: float, batch: float, input_: float,
                   output: float) -> tuple:
    """A static batch; one the KV cache cannot hold at once runs in waves of as many as fit."""
    fits = terms.max_batch(capacity)
    if not (1.0 <= fits < batch):
        return _one_pass(r, e, terms, capacity, batch, input_, output)
    full_waves = float(math.floor(batch / fits))
    rest = batch - full_waves * fits
    wave = _one_pass(r, e, terms, capacity, fits, input_, output)
    last = _one_pass(r, e, terms, capacity, rest, input_, output)[2] if rest > 0.0 else 0.0
    e2e = full_waves * wave[2] + last
    u = terms.total(batch) / capacity
    verdict = 0 if u <= FITS_THRESHOLD else 1 if u <= 1.0 else 2
    return (wave[0], wave[1], e2e, batch * output / (e2e / 1e3), batch, float(verdict), *wave[6:])


def _one_pass(r: Roofline, e: Engine, terms: Terms, capacity: float, batch: float, input_: float,
              output: float) -> tuple:
    b = batch
    tokens = b * input_
    chunks = float(math.ceil(tokens / e.memory[2]))
    pairs = b * input_ * (input_ + 1.0) / 2.0
    chunk = r.step(tokens / chunks, b / chunks, 0.0, pairs / chunks)
    prefill = chunk.scaled(chunks)
    prefill = prefill._replace(overhead_ms=prefill.overhead_ms + e.request_overhead_ms)
    ttft = chunk.total() * chunks + e.request_overhead_ms
    lo = input_ + 1.0
    hi = max(input_ + output - 1.0, lo)
    at_lo = r.step(b, b, b * lo, b * lo)
    at_hi = r.step(b, b, b * hi, b * hi)
    if hi > lo:
        a1 = (at_hi.compute_ms - at_lo.compute_ms) / (hi - lo)
        b1 = (at_hi.memory_ms - at_lo.memory_ms) / (hi - lo)
    else:
        a1, b1 = 0.0, 0.0
    a0 = at_lo.compute_ms - a1 * lo
    b0 = at_lo.memory_ms - b1 * lo
    decode = at_lo._replace(compute_ms=(at_lo.compute_ms + at_hi.compute_ms) / 2.0,
                            memory_ms=(at_lo.memory_ms + at_hi.memory_ms) / 2.0)
    tpot = mean_of_max(a0, a1, b0, b1, lo, hi) + decode.activation_ms + decode.comm_ms + decode.overhead_ms
    e2e = ttft + (output - 1.0) * tpot
    u = terms.total(b) / capacity
    verdict = 0 if u <= FITS_THRESHOLD else 1 if u <= 1.0 else 2
    bound = lambda s: 0.0 if s.compute_ms >= s.memory_ms else 1.0  # noqa: E731
    return _row(ttft, tpot, e2e, b * output / (e2e / 1e3), b, verdict, bound(prefill), bound(decode), prefill, decode)


def _setup(a: Arch, g: Gpu, e: Engine, precision: str, kv: str, input_: float, output: float, tp: float):
    r = Roofline(a, g, e, precision, kv, tp)
    terms = memory_terms(a, e.memory, precision, kv, input_ + output, tp)
    return r, terms, g.memory_bytes * e.memory[0]


def _buildable(a: Arch, g: Gpu, tp: float) -> bool:
    return tp_is_valid(a, tp) and (tp == 1.0 or g.link_bw > 0.0)


def estimate_one(a: Arch, g: Gpu, e: Engine, precision: str, kv: str, batch: float, input_: float, output: float,
                 tp: float) -> tuple:
    if not _buildable(a, g, tp):
        return _row(NAN, NAN, NAN, 0.0, batch, 3, NAN, NAN, INVALID_STEP, INVALID_STEP)
    r, terms, capacity = _setup(a, g, e, precision, kv, input_, output, tp)
    return _estimate_with(r, e, terms, capacity, batch, input_, output)


def throughput_candidates(max_batch: float) -> list[float]:
    out: list[float] = []
    last = float(THROUGHPUT_CANDIDATES - 1)
    for k in range(THROUGHPUT_CANDIDATES):
        b = min(max(float(math.floor(max_batch ** (k / last) + 0.5)), 1.0), max_batch)
        if not out or out[-1] != b:
            out.append(b)
    if out[-1] != max_batch:
        out.append(max_batch)
    return out


def max_throughput_one(a: Arch, g: Gpu, e: Engine, precision: str, kv: str, input_: float, output: float,
                       tp: float) -> tuple:
    if not _buildable(a, g, tp):
        return _row(NAN, NAN, NAN, 0.0, 0.0, 3, NAN, NAN, INVALID_STEP, INVALID_STEP)
    r, terms, capacity = _setup(a, g, e, precision, kv, input_, output, tp)
    max_batch = terms.max_batch(capacity)
    if max_batch < 1.0:
        row = list(_estimate_with(r, e, terms, capacity, 1.0, input_, output))
        row[3], row[4] = 0.0, 0.0
        return tuple(row)
    best = None
    for b in throughput_candidates(max_batch):
        est = _estimate_with(r, e, terms, capacity, b, input_, output)
        if best is None or est[3] > best[3]:
            best = est
    return best


def _many(fn, models, gpus, engines, model, gpu, engine, precision, kv_precision, batch, input_, output, tp,
          with_batch: bool) -> list[tuple]:
    archs = [Arch.from_row(r) for r in models]
    gs = [Gpu.from_row(r) for r in gpus]
    es = [Engine.from_row(r) for r in engines]
    out = []
    for i in range(len(model)):
        args = [archs[model[i]], gs[gpu[i]], es[engine[i]], PRECISIONS[precision[i]], PRECISIONS[kv_precision[i]]]
        if with_batch:
            args.append(float(batch[i]))
        out.append(fn(*args, float(input_[i]), float(output[i]), float(tp[i])))
    return out


def estimate_many(*args) -> list[tuple]:
    """Same inputs as _core.estimate_many; one row of _core.ESTIMATE_COLUMNS per configuration."""
    return _many(estimate_one, *args, with_batch=True)


def max_throughput_many(*args) -> list[tuple]:
    """Same inputs as _core.max_throughput_many."""
    return _many(max_throughput_one, *args, with_batch=False)


# ---------------------------------------------------------------------------------------------
# Capacity under SLO (rust/gpuopt-core/src/capacity.rs)

Z95 = 1.645
BISECTIONS = 48


def _weighted_p95(values: list[float], weights: list[float]) -> float:
    order = sorted(range(len(values)), key=lambda i: values[i])
    acc = 0.0
    for i in order:
        acc += weights[i]
        if acc >= 0.95 - 1e-12:
            return values[i]
    return values[order[-1]]


def _p95_concurrency(mean: float) -> float:
    return max(mean + Z95 * math.sqrt(mean), 1.0)


def capacity_one(a: Arch, g: Gpu, e: Engine, precision: str, kv: str, tp: float,
                 buckets: Sequence[tuple[float, float, float]], slo: Sequence[float]) -> tuple:
    """A row of _core.CAPACITY_COLUMNS."""
    nan = float("nan")
    if not _buildable(a, g, tp):
        return (0.0, 0.0, 0.0, nan, nan, nan, 0.0, 3.0, 0.0)
    total_w = sum(b[2] for b in buckets)
    buckets = [(i, o, w / total_w) for i, o, w in buckets]
    weights = [b[2] for b in buckets]
    max_context = 0.0
    for b in buckets:
        max_context = max(max_context, b[0] + b[1])
    terms = memory_terms(a, e.memory, precision, kv, max_context, tp)
    max_batch = terms.max_batch(g.memory_bytes * e.memory[0])
    r = Roofline(a, g, e, precision, kv, tp)
    prefill = []
    for inp, _, _ in buckets:
        chunks = float(math.ceil(inp / e.memory[2]))
        prefill.append(r.step(inp / chunks, 1.0 / chunks, 0.0, inp * (inp + 1.0) / 2.0 / chunks).total() * chunks)
    mean_prefill = sum(b[2] * p for b, p in zip(buckets, prefill))
    mean_steps = sum(b[2] * (b[1] - 1.0) for b in buckets)
    mean_context = sum(b[2] * (b[0] + b[1] / 2.0) for b in buckets)

    def decode_ms(batch: float) -> float:
        kvr = batch * mean_context
        return r.step(batch, batch, kvr, kvr).total()

    def tpot(batch: float) -> float:
        others = batch * mean_prefill / mean_steps if mean_steps > 0.0 else 0.0
        return decode_ms(batch) + others

    def latencies(x: float) -> tuple[float, float, float]:
        step, t = decode_ms(x), tpot(x)
        ttft = [e.request_overhead_ms + p + step for p in prefill]
        e2e = [tt + (b[1] - 1.0) * t for tt, b in zip(ttft, buckets)]
        return _weighted_p95(ttft, weights), t, _weighted_p95(e2e, weights)

    unloaded = latencies(1.0)

    def zero(status: float) -> tuple:
        return (0.0, 0.0, 1.0, *unloaded, max_batch, status, 0.0)

    if max_batch < 1.0:
        return zero(2.0)

    def meets(mean: float) -> bool:
        ttft, t, e2e = latencies(_p95_concurrency(mean))
        return ttft <= slo[0] and t <= slo[1] and e2e <= slo[2]

    lowest = 1e-3
    if not meets(lowest):
        return zero(1.0)
    root = (-Z95 + math.sqrt(Z95 * Z95 + 4.0 * max_batch)) / 2.0
    hi = max(root * root, lowest)
    if not meets(hi):
        lo = lowest
        for _ in range(BISECTIONS):
            mid = (lo + hi) / 2.0
            if meets(mid):
                lo = mid
            else:
                hi = mid
        hi = lo
    x = _p95_concurrency(hi)
    ttft, t, e2e = latencies(x)
    rate = hi / (hi * mean_prefill + mean_steps * decode_ms(hi)) * 1e3
    return (rate, hi, x, ttft, t, e2e, max_batch, 0.0, 1.0 - math.exp(-hi))


def capacity_many(models, gpus, engines, classes, slos, model, gpu, engine, precision, kv_precision, tp, class_,
                  slo) -> list[tuple]:
    """Same inputs as _core.capacity_many."""
    archs = [Arch.from_row(r) for r in models]
    gs = [Gpu.from_row(r) for r in gpus]
    es = [Engine.from_row(r) for r in engines]
    return [capacity_one(archs[model[i]], gs[gpu[i]], es[engine[i]], PRECISIONS[precision[i]],
                         PRECISIONS[kv_precision[i]], float(tp[i]), classes[class_[i]], slos[slo[i]])
            for i in range(len(model))]


# ---------------------------------------------------------------------------------------------
# Sweeps, Pareto fronts and GPU mixes (rust/gpuopt-core/src/sweep.rs, mixes.rs)

def sweep_grid(models, slots, engines, model, slot, engine, precision, kv_precision, tp, batch, input_, output,
               limit: Optional[int] = None) -> list[tuple]:
    """Same inputs as _core.sweep_grid; rows of _core.SWEEP_COLUMNS in the same order (the first
    `limit` rows only, when given)."""
    archs = [Arch.from_row(r) for r in models]
    axes = [model, slot, engine, precision, kv_precision, tp, batch, input_, output]
    out = []
    for combo in itertools.product(*axes):
        if limit is not None and len(out) >= limit:
            break
        m_i, s_i, e_i, p_i, k_i, t, b, inp, outp = combo
        srow = slots[s_i]
        g = Gpu.from_row(srow[:5])
        usd, delay = float(srow[5]), float(srow[6])
        e = Engine.from_row(engines[e_i])
        e = e._replace(request_overhead_ms=e.request_overhead_ms + delay)
        a = archs[m_i]
        prec, kv, tp_f = PRECISIONS[p_i], PRECISIONS[k_i], float(t)
        usd_tp = usd * tp_f
        if not _buildable(a, g, tp_f):
            out.append((NAN, 3.0, NAN, NAN, NAN, 0.0, usd_tp, NAN))
            continue
        r, terms, capacity = _setup(a, g, e, prec, kv, float(inp), float(outp), tp_f)
        row = _estimate_with(r, e, terms, capacity, float(b), float(inp), float(outp))
        out.append((terms.total(float(b)), row[5], row[0], row[1], row[2], row[3], usd_tp, row[3] * 3600.0 / usd_tp))
    return out


def pareto(objectives: Sequence[Sequence[float]]) -> list[int]:
    """Indices of rows no other row dominates (all minimised; rows with NaN left out), by the
    definition: O(n^2), for tests on small inputs."""
    n = len(objectives[0])
    ok = [i for i in range(n) if not any(math.isnan(c[i]) for c in objectives)]
    front = []
    for i in ok:
        dominated = False
        for j in ok:
            if all(c[j] <= c[i] for c in objectives) and any(c[j] < c[i] for c in objectives):
                dominated = True
                break
        if not dominated:
            front.append(i)
    return front


def mix_front(types: Sequence[tuple[float, float, float, float]], max_gpus: int, budget: float = math.inf,
              min_memory_bytes: float = 0.0, min_throughput: float = 0.0) -> tuple[list[tuple], int, int]:
    """Every mix enumerated with running totals, and its (min cost, max throughput) staircase:
    ([(cost, throughput, counts), ...] cheapest first, enumerated, feasible)."""
    costs, thr = [], []  # the staircase, sorted by cost; throughput strictly rising
    entries: list[tuple] = []
    k = len(types)
    counts = [0] * k
    stats = [0, 0]

    def offer(cost: float, tput: float) -> None:
        pos = bisect.bisect_right(costs, cost)
        if pos > 0 and thr[pos - 1] >= tput:
            return
        end = pos
        while end < len(costs) and thr[end] <= tput:
            end += 1
        start = pos - 1 if pos > 0 and costs[pos - 1] == cost else pos
        del costs[start:end], thr[start:end], entries[start:end]
        costs.insert(start, cost)
        thr.insert(start, tput)
        entries.insert(start, (cost, tput, tuple(counts)))

    def go(t: int, left: int, cost: float, mem: float, tput: float) -> None:
        if t == k:
            if left == max_gpus:
                return
            stats[0] += 1
            if mem >= min_memory_bytes and tput >= min_throughput:
                stats[1] += 1
                offer(cost, tput)
            return
        usd, mem_t, tput_t, _ = types[t]
        for c in range(left + 1):
            cost_c = cost + c * usd
            if cost_c > budget:
                break
            counts[t] = c
            go(t + 1, left - c, cost_c, mem + c * mem_t, tput + c * tput_t)
        counts[t] = 0

    go(0, max_gpus, 0.0, 0.0, 0.0)
    return entries, stats[0], stats[1]


# ---------------------------------------------------------------------------------------------
# Discrete-event simulation (rust/gpuopt-core/src/sim.rs): the same event loop in plain Python

MASK64 = (1 << 64) - 1


class Rng:
    """splitmix64, as in sim.rs."""

    def __init__(self, seed: int):
        self.state = seed & MASK64

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        return float(self.next_u64() >> 11) * (1.0 / float(1 << 53))

    def exponential(self, rate: float) -> float:
        return -math.log(1.0 - self.uniform()) / rate


def _line_sum(a: float, b: float, lo: float, hi: float) -> float:
    return a * (hi - lo) + b * (hi * (hi - 1.0) / 2.0 - lo * (lo - 1.0) / 2.0)


def sum_of_max(a0: float, a1: float, b0: float, b1: float, k: float) -> float:
    if a1 == b1:
        return _line_sum(max(a0, b0), a1, 0.0, k)
    cross = (b0 - a0) / (a1 - b1)
    if a1 > b1:
        s = min(max(float(math.ceil(cross)), 0.0), k)
        return _line_sum(b0, b1, 0.0, s) + _line_sum(a0, a1, s, k)
    s = min(max(float(math.floor(cross)) + 1.0, 0.0), k)
    return _line_sum(a0, a1, 0.0, s) + _line_sum(b0, b1, s, k)


class ReplicaModel:
    def __init__(self, a: Arch, g: Gpu, e: Engine, precision: str, kv: str, tp: float):
        self.r = Roofline(a, g, e, precision, kv, tp)
        terms = memory_terms(a, e.memory, precision, kv, 1.0, tp)
        capacity = g.memory_bytes * e.memory[0]
        self.kv_budget = capacity - terms.weights - terms.overhead - terms.activation_floor()
        self.max_batched_tokens = e.memory[2]
        self.kv_per_token = terms.kv_per_seq
        self.window = a.sliding_window
        p = params(a)
        self.decode_coeffs = (p, a)

    def kv_need(self, inp: float, out: float) -> float:
        ctx = inp + out
        return self.kv_per_token * (min(ctx, self.window) if self.window > 0.0 else ctx)

    def prefill_s(self, tokens: float, seqs: float, pairs: float) -> float:
        chunks = float(math.ceil(tokens / self.max_batched_tokens))
        return self.r.step(tokens / chunks, seqs / chunks, 0.0, pairs / chunks).total() * chunks / 1e3

    def decode_lines(self, batch: float):
        r = self.r
        p0 = (r.flops_per_token * batch + r.flops_per_seq * batch) / r.peak * 1e3
        p1 = r.flops_per_pair / r.peak * 1e3
        q0 = ((r.dense_bytes + r.expert_bytes * r.expert_share(batch)) / r.bw + r.kv_per_token * batch / r.kv_bw) * 1e3
        q1 = r.kv_read_per_token / r.kv_read_bw(batch) * 1e3
        rest = (r.act_per_token * batch / r.bw * 1e3 + r.comm_per_token * batch + r.comm_fixed + r.step_overhead_ms
                + r.seq_overhead_us * batch * 1e-3)
        return p0, p1, q0, q1, rest

    def decode_s(self, batch: float, context: float, k: float) -> float:
        p0, p1, q0, q1, rest = self.decode_lines(batch)
        return (sum_of_max(p0 + p1 * context, p1 * batch, q0 + q1 * context, q1 * batch, k) + rest * k) / 1e3


def simulate(model_row, gpu_row, engine_row, precision: int, kv_precision: int, tp: int, replicas: int, router: str,
             arrivals: tuple, sizes, max_batch: float, fixed_ms: float, seed: int) -> dict:
    """Same inputs and outputs as _core.simulate."""
    a, g, e = Arch.from_row(model_row), Gpu.from_row(gpu_row), Engine.from_row(engine_row)
    outputs = [s[1] for s in arrivals[2]] if arrivals[0] == "trace" else [s[1] for s in sizes]
    if max(outputs, default=1.0) > float(1 << 20):
        raise ValueError("requests of more than 1048576 output tokens are not simulated")
    model = ReplicaModel(a, g, e, PRECISIONS[precision], PRECISIONS[kv_precision], float(tp))
    rng = Rng(seed)
    total_w = sum(s[2] for s in sizes)

    def draw() -> tuple[float, float]:
        u = rng.uniform() * total_w
        for i, o, w in sizes:
            if u < w:
                return i, o
            u -= w
        last = next((s for s in reversed(sizes) if s[2] > 0.0), sizes[0])
        return last[0], last[1]

    requests: list[list] = []  # [input, output, kv, client]
    pending: list = []  # closed-loop arrivals: a heap of (time, order issued, request)
    kind = arrivals[0]
    state = {"poisson_t": 0.0, "trace_i": 0, "issued": 0}
    stagger = arrivals[3] if kind == "closed" and len(arrivals) > 3 else 0.0
    think = arrivals[4] if kind == "closed" and len(arrivals) > 4 else 0.0
    order = itertools.count()
    if kind == "closed":
        clients, total = arrivals[1], arrivals[2]
        for c in range(min(clients, total)):
            i, o = draw()
            requests.append([i, o, model.kv_need(i, o), c])
            heapq.heappush(pending, (c * stagger, next(order), len(requests) - 1))
            state["issued"] += 1

    def next_open():
        if kind == "poisson":
            rates, period_s, duration_s = arrivals[1], arrivals[2], arrivals[3]
            while True:
                t0 = state["poisson_t"]
                period = int(math.floor(t0 / period_s)) % len(rates)
                rate = rates[period]
                boundary = (math.floor(t0 / period_s) + 1.0) * period_s
                t = t0 + rng.exponential(rate) if rate > 0.0 else math.inf
                if t >= boundary:
                    state["poisson_t"] = boundary
                    if boundary >= duration_s:
                        return None
                    continue
                if t >= duration_s:
                    return None
                state["poisson_t"] = t
                i, o = draw()
                requests.append([i, o, model.kv_need(i, o), None])
                return t, len(requests) - 1
        if kind == "trace":
            times, tsizes = arrivals[1], arrivals[2]
            k = state["trace_i"]
            if k >= len(times):
                return None
            state["trace_i"] = k + 1
            i, o = tsizes[k]
            requests.append([float(i), float(o), model.kv_need(float(i), float(o)), None])
            return times[k], len(requests) - 1
        return None

    def issue_next(client, at):
        if state["issued"] >= arrivals[2]:
            return
        state["issued"] += 1
        i, o = draw()
        requests.append([i, o, model.kv_need(i, o), client])
        heapq.heappush(pending, (at + think, next(order), len(requests) - 1))

    out = {"arrival": [], "admitted": [], "first_token": [], "finish": [], "output_tokens": [], "rejected": 0}
    rec = {}  # id -> [arrival, admitted, first]
    reps = [{"queue": collections.deque(), "admitting": [], "running": [], "step": 0, "context": 0.0, "kv_used": 0.0,
             "phase": None, "busy": 0.0, "queue_area": 0.0, "queue_max": 0.0, "last": 0.0} for _ in range(replicas)]

    def note_queue(r, now):
        r["queue_area"] += len(r["queue"]) * (now - r["last"])
        r["last"] = now
        r["queue_max"] = max(r["queue_max"], float(len(r["queue"])))

    def finish(rid, end, output):
        arr, adm, first = rec[rid]
        out["arrival"].append(arr)
        out["admitted"].append(adm)
        out["first_token"].append(first)
        out["finish"].append(end)
        out["output_tokens"].append(output)

    def start_next(r, now):
        tokens = pairs = 0.0
        while r["queue"]:
            rid = r["queue"][0]
            req = requests[rid]
            batch = float(len(r["running"]) + len(r["admitting"]))
            fits = batch + 1.0 <= max_batch and r["kv_used"] + req[2] <= model.kv_budget
            budget_ok = not r["admitting"] or tokens + req[0] <= model.max_batched_tokens
            if not fits or not budget_ok:
                break
            r["queue"].popleft()
            r["kv_used"] += req[2]
            tokens += req[0]
            pairs += req[0] * (req[0] + 1.0) / 2.0
            rec[rid][1] = now
            r["admitting"].append(rid)
        if r["admitting"]:
            note_queue(r, now)
            d = model.prefill_s(tokens, float(len(r["admitting"])), pairs)
            r["phase"] = ("prefill", now, now + d)
            return
        if r["running"]:
            fs = r["running"][0][0]
            steps = fs - r["step"]
            d = model.decode_s(float(len(r["running"])), r["context"], float(steps))
            r["phase"] = ("decode", now, now + d, steps)
        else:
            r["phase"] = None

    upcoming = next_open()
    rr = 0
    now = 0.0
    closed = kind == "closed"
    while True:
        t_open = upcoming[0] if upcoming else math.inf
        t_closed = pending[0][0] if pending else math.inf
        t_arr = min(t_open, t_closed)
        r_idx, t_rep = 0, math.inf
        for i, r in enumerate(reps):
            ph = r["phase"]
            t = math.inf if ph is None else ph[1] if ph[0] == "ready" else ph[2]
            if t < t_rep:
                r_idx, t_rep = i, t
        if t_arr == math.inf and t_rep == math.inf:
            break
        if t_arr <= t_rep:
            now = t_arr
            if t_open <= t_closed:
                rid = upcoming[1]
                upcoming = next_open()
            else:
                rid = heapq.heappop(pending)[2]
            rec[rid] = [now, math.nan, math.nan]
            req = requests[rid]
            if req[2] > model.kv_budget:
                out["rejected"] += 1
                if closed:
                    issue_next(req[3], now)
                continue
            if router == "round-robin":
                rr = (rr + 1) % replicas
                target = (rr + replicas - 1) % replicas
            else:
                target = min(range(replicas), key=lambda i: len(reps[i]["queue"]) + len(reps[i]["admitting"])
                             + len(reps[i]["running"]))
            r = reps[target]
            note_queue(r, now)
            r["queue"].append(rid)
            ph = r["phase"]
            if ph is None:
                start_next(r, now)
            elif ph[0] == "decode":
                _, start, end, steps = ph
                batch = float(len(r["running"]))
                lo, hi = 1, steps
                while lo < hi:
                    mid = lo + (hi - lo) // 2
                    if start + model.decode_s(batch, r["context"], float(mid)) >= now:
                        hi = mid
                    else:
                        lo = mid + 1
                if lo < steps:
                    cut_end = start + model.decode_s(batch, r["context"], float(lo))
                    if cut_end < end:
                        r["phase"] = ("decode", start, cut_end, lo)
            continue
        now = t_rep
        r = reps[r_idx]
        ph = r["phase"]
        if ph[0] == "ready":  # arrivals at this instant have joined the queue: schedule the next step
            r["phase"] = None
            note_queue(r, now)
            start_next(r, now)
            continue
        if ph[0] == "prefill":
            _, start, end = ph
            r["busy"] += end - start
            admitting, r["admitting"] = r["admitting"], []
            for rid in admitting:
                rec[rid][2] = end
                req = requests[rid]
                if req[1] <= 1.0:
                    finish(rid, end, req[1])
                    r["kv_used"] -= req[2]
                    if closed:
                        issue_next(req[3], end)
                else:
                    r["context"] += req[0] + 1.0
                    heapq.heappush(r["running"], (r["step"] + int(req[1] - 1.0), rid))
        else:
            _, start, end, steps = ph
            r["busy"] += end - start
            batch = float(len(r["running"]))
            r["step"] += steps
            r["context"] += batch * float(steps)
            while r["running"] and r["running"][0][0] <= r["step"]:
                _, rid = heapq.heappop(r["running"])
                req = requests[rid]
                r["context"] -= req[0] + req[1]
                r["kv_used"] -= req[2]
                finish(rid, end, req[1])
                if closed:
                    issue_next(req[3], end)
        r["phase"] = ("ready", now)
    for r in reps:
        note_queue(r, now)
    out.update(busy_s=[r["busy"] for r in reps], queue_area=[r["queue_area"] for r in reps],
               queue_max=[r["queue_max"] for r in reps], makespan_s=now, fixed_ms=fixed_ms,
               kv_budget_bytes=model.kv_budget)
    return out


def cover_min(w: Sequence[float], a: Sequence[float], r: float, m: float,
              node_limit: int = 100_000) -> tuple[float, float, list[int]]:
    """min sum w_i x_i  s.t.  sum a_i x_i >= r, sum x_i >= m, x_i in {0, 1, 2, ...}: the cheapest
    replicas covering a demand (column generation's pricing). Returns (cost, lower bound, x); the
    bound equals the cost unless the search stopped at `node_limit` nodes."""
    n = len(w)
    order = sorted(range(n), key=lambda i: (w[i], -a[i], i))
    keep: list[int] = []
    best_a = -math.inf
    for i in order:  # drop items another is no dearer and no smaller than
        if a[i] > best_a:
            keep.append(i)
            best_a = a[i]
    items = keep[::-1]  # largest capacity first
    k = len(items)
    min_ratio = [math.inf] * (k + 1)
    for t in range(k - 1, -1, -1):
        min_ratio[t] = min(min_ratio[t + 1], w[items[t]] / a[items[t]])
    tol = 1e-9 * max(1.0, r)
    x = [0] * n
    state = {"best": math.inf, "nodes": 0, "hit": False, "x": [0] * n}

    def bound(t: int, r_rem: float, m_rem: float) -> float:
        if t == k:
            return math.inf
        return max(max(r_rem, 0.0) * min_ratio[t], max(m_rem, 0.0) * w[items[k - 1]])

    def dfs(t: int, r_rem: float, m_rem: float, cost: float) -> None:
        state["nodes"] += 1
        if state["nodes"] > node_limit:
            state["hit"] = True
            return
        if r_rem <= tol and m_rem <= 0:
            if cost < state["best"]:
                state["best"] = cost
                state["x"] = list(x)
            return
        if cost + bound(t, r_rem, m_rem) >= state["best"]:
            return
        i = items[t]
        x_max = max(m_rem, math.ceil((r_rem - tol) / a[i]), 0)
        x_min = x_max if t == k - 1 else 0
        for c in range(int(x_max), int(x_min) - 1, -1):
            x[i] = c
            dfs(t + 1, r_rem - c * a[i], m_rem - c, cost + c * w[i])
            if state["hit"]:
                break
        x[i] = 0

    dfs(0, r, m, 0.0)
    lower = state["best"] if not state["hit"] else min(state["best"], bound(0, r, m))
    return state["best"], lower, state["x"]


def cover_min_many(offsets: Sequence[int], w: Sequence[float], a: Sequence[float], r: Sequence[float],
                   m: Sequence[float], node_limit: int = 100_000) -> tuple[list[float], list[float], list[int]]:
    """cover_min for blocks of items: block b holds items offsets[b] .. offsets[b+1]."""
    costs, lowers, x = [], [], []
    for b in range(len(offsets) - 1):
        lo, hi = offsets[b], offsets[b + 1]
        c, low, xb = cover_min(w[lo:hi], a[lo:hi], r[b], m[b], node_limit)
        costs.append(c)
        lowers.append(low)
        x += xb
    return costs, lowers, x


def encode_names(items: Sequence) -> Optional[tuple[list[str], list[int]]]:
    """(distinct names in first-seen order, code per item), or None when an item is not a str."""
    index: dict[str, int] = {}
    codes = []
    for v in items:
        if not isinstance(v, str):
            return None
        codes.append(index.setdefault(v, len(index)))
    return list(index), codes
