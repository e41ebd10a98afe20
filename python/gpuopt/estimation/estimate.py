"""Latency and throughput: TTFT, TPOT, end-to-end, tokens/s, from a calibrated roofline.

`estimate` answers one static batch; `max_throughput` the batch with the most output tokens/s
that still fits (offline serving, as TensorRT-LLM's performance tables measure it). Both explain
themselves: each phase's compute, memory, elementwise, communication and fixed costs, which limb
bounds it, and the memory fit. `estimate_many` / `max_throughput_many` do millions in one call.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from gpuopt import _core
from gpuopt.catalog import EngineLike, GpuLike, ModelLike, engine as get_engine, engine_on, gpu as get_gpu, model as get_model
from gpuopt.catalog import precision as get_precision, timing_borrowed
from gpuopt.estimation.columns import VERDICTS, Results, prepare, scalar_count
from gpuopt.errors import InvalidInputError
from gpuopt.estimation.fit import check_tp, context_warnings, fit
from gpuopt.schema import FitReport, Precision
from gpuopt.estimation.sharing import Slot

INPUT_COLUMNS = ("model", "gpu", "engine", "precision", "kv_precision", "batch", "input_tokens", "output_tokens", "tp")
ESTIMATE_COLUMNS: tuple[str, ...] = tuple(_core.ESTIMATE_COLUMNS)
BOUNDS: tuple[str, ...] = tuple(_core.BOUNDS)
_CODED = ("verdict", "prefill_bound", "decode_bound")


class EstimateResults(Results):
    """Columns of estimates over many configurations (ESTIMATE_COLUMNS and the inputs).
    `verdict` codes index VERDICTS; `prefill_bound`/`decode_bound` index BOUNDS (NaN when invalid)."""

    kind = "estimate"
    decoded = {"verdict": VERDICTS}

    def row(self, i: int) -> dict[str, Any]:
        out = super().row(i)
        for k in ("prefill_bound", "decode_bound"):
            v = out[k]
            out[k] = None if v != v else BOUNDS[int(v)]
        return out


def _results(raw: np.ndarray, prepared) -> EstimateResults:
    cols = {name: raw[:, j] for j, name in enumerate(ESTIMATE_COLUMNS)}
    cols["verdict"] = cols["verdict"].astype(np.int8)
    cols["batch"] = cols["batch"].astype(np.int64)
    inputs = [n for n in INPUT_COLUMNS if n != "batch"]
    return EstimateResults(cols, inputs, prepared.inputs)


def _prepare(model, gpu, engine, precision, kv_precision, batch, input_tokens, output_tokens, tp):
    return prepare({"model": model, "gpu": gpu, "engine": engine, "precision": precision,
                    "kv_precision": kv_precision},
                   {"batch": batch, "input_tokens": input_tokens, "output_tokens": output_tokens, "tp": tp})


def estimate_many(model: Any, gpu: Any, *, precision: Any = "fp16", kv_precision: Any = None, batch: Any = 1,
                  input_tokens: Any, output_tokens: Any, tp: Any = 1, engine: Any = "vllm") -> EstimateResults:
    """Estimates of many configurations in one Rust call (arguments broadcast as in fit_many)."""
    p = _prepare(model, gpu, engine, precision, kv_precision, batch, input_tokens, output_tokens, tp)
    c = p.columns
    raw = _core.estimate_many(*p.core_args(), c["batch"], c["input_tokens"], c["output_tokens"], c["tp"])
    return _results(raw, p)


def max_throughput_many(model: Any, gpu: Any, *, precision: Any = "fp16", kv_precision: Any = None,
                        input_tokens: Any, output_tokens: Any, tp: Any = 1, engine: Any = "vllm") -> EstimateResults:
    """max_throughput of many configurations in one Rust call; the `batch` column is the chosen one."""
    p = _prepare(model, gpu, engine, precision, kv_precision, 1, input_tokens, output_tokens, tp)
    c = p.columns
    raw = _core.max_throughput_many(*p.core_args(), c["batch"], c["input_tokens"], c["output_tokens"], c["tp"])
    return _results(raw, p)


class PhaseTime(BaseModel):
    """Where a phase's time goes, ms: max(compute, memory) + activation + comm + overhead."""

    model_config = ConfigDict(frozen=True)
    compute_ms: float = Field(description="matrix products and attention at the calibrated share of the tensor peak")
    memory_ms: float = Field(description="weights and KV cache read (and written) at the calibrated bandwidth")
    activation_ms: float = Field(description="elementwise traffic beside the matrix products")
    comm_ms: float = Field(description="tensor-parallel all-reduces")
    overhead_ms: float = Field(description="fixed per-step (and, for prefill, per-request) costs")
    bound: Optional[str] = Field(description="'compute' or 'memory': the larger roofline limb")


class EstimateReport(BaseModel):
    """One configuration's latency and throughput, with the reasons for them."""

    def _repr_html_(self) -> str:
        from gpuopt.output.notebook import report

        return report(self)

    model_config = ConfigDict(frozen=True)
    model: str
    gpu: str
    engine: str
    precision: Precision
    kv_precision: Precision
    batch: int
    input_tokens: int
    output_tokens: int
    tp: int
    ttft_ms: float = Field(description="time to first token of the batch (prefill + request overhead)")
    tpot_ms: float = Field(description="time per output token after the first (mean decode step)")
    e2e_ms: float = Field(description="ttft + (output_tokens - 1) x tpot")
    output_tokens_per_s: float = Field(description="batch x output_tokens / e2e, over all tp GPUs")
    requests_per_s: float = Field(description="batch / e2e: completed requests per second")
    bound: dict[str, Optional[str]] = Field(description="roofline limb per phase")
    prefill: PhaseTime
    decode: PhaseTime
    fit: FitReport
    engine_calibration: str
    decode_attention: str = Field("", description="how the engine's decode attention reads the KV cache at this "
                                                  "batch (paged attention's kernel and reads per query head)")
    warnings: tuple[str, ...] = ()

    def explain(self) -> str:
        """A few lines saying where the time goes."""
        lines = [f"{self.model} on {self.tp}x {self.gpu} ({self.precision}, {self.engine}), batch {self.batch}, "
                 f"{self.input_tokens} in / {self.output_tokens} out:"]
        for name, ph in (("prefill", self.prefill), ("decode step", self.decode)):
            lines.append(f"  {name}: {ph.bound}-bound; compute {ph.compute_ms:.3f} ms, memory {ph.memory_ms:.3f} ms, "
                         f"elementwise {ph.activation_ms:.3f} ms, comm {ph.comm_ms:.3f} ms, fixed {ph.overhead_ms:.3f} ms")
        lines.append(f"  TTFT {self.ttft_ms:.1f} ms, TPOT {self.tpot_ms:.2f} ms, end-to-end {self.e2e_ms:.0f} ms, "
                     f"{self.output_tokens_per_s:,.0f} output tokens/s; memory {self.fit.verdict} "
                     f"({self.fit.utilization:.0%} of usable)")
        if self.decode_attention:
            lines.append(f"  decode attention: {self.decode_attention}")
        lines.append(f"  engine timing: {self.engine_calibration}")
        return "\n".join(lines + [f"  warning: {w}" for w in self.warnings])


def _phase(row: dict, prefix: str) -> PhaseTime:
    return PhaseTime(bound=row[f"{prefix}_bound"],
                     **{k: row[f"{prefix}_{k}"] for k in ("compute_ms", "memory_ms", "activation_ms", "comm_ms",
                                                          "overhead_ms")})


def decode_attention(m, e, batch: int, tp: int, kv_precision: str = "fp16") -> str:
    """Which decode attention path the roofline's KV reads take (the core's Roofline::kv_s) for a
    step of `batch` sequences over a `kv_precision` cache: for paged attention, the kernel and the
    KV read once per query head; '' for kernels that split contexts and read a GQA group's KV once."""
    limit = e.paged_split_items(kv_precision)
    if limit <= 0:
        return ""
    heads = m.heads / tp
    items = batch * heads
    kernel = (f"v1, a whole context per work item ({batch} sequences x {heads:g} heads = {items:g} > {limit:g}), "
              f"{e.unsplit_attention_efficiency:.0%} of bandwidth" if items > limit else
              f"v2, contexts in partitions ({batch} sequences x {heads:g} heads = {items:g} <= {limit:g}), "
              f"{e.attention_efficiency:.0%} of bandwidth")
    group = m.heads / m.kv_heads
    reads = f"; the KV read once per query head ({group:g}x the cache)" if group > 1 else ""
    return f"paged attention {kernel}{reads}"


def _report(m, g, e, p: str, kv: str, row: dict, input_tokens: int, output_tokens: int, tp: int,
            borrowed: Optional[str] = None) -> EstimateReport:
    batch = int(row["batch"])
    fit_report = fit(m, g, precision=p, kv_precision=kv, batch=max(batch, 1), context=input_tokens + output_tokens,
                     tp=tp, engine=e)
    warnings = list(context_warnings(m, input_tokens + output_tokens))
    if fit_report.verdict == "no-fit":
        warnings.append(f"does not fit: {fit_report.total_bytes / 1e9:.1f} GB per GPU needed, "
                        f"{fit_report.capacity_bytes / 1e9:.1f} GB usable; the timing is hypothetical")
    if p == "fp8" and not g.fp8_tflops:
        warnings.append(f"{g.id} has no fp8 tensor cores: fp8 weights are dequantised and computed at 16 bits")
    if kv == "fp8" and not g.fp8_tflops:
        warnings.append(f"{g.id} has no fp8: an fp8 KV cache is converted in software, which this estimate leaves "
                        "out (measured 2-7x slower than an fp16 cache at long contexts on A100 with vLLM and "
                        "TensorRT-LLM, Argonne's LLM-Inference-Bench)")
    if borrowed is not None:
        warnings.append(f"no {e.id} build is fitted on {g.id}'s software ({borrowed}); calibrate it with "
                        "measurements of your own (gpuopt.calibrate)")
    if "fp16_tflops" in g.unconfirmed or "mem_bw_gb_s" in g.unconfirmed:
        warnings.append(f"{g.id}'s peak figures are unconfirmed ({', '.join(g.unconfirmed)})")
    e2e_s = row["e2e_ms"] / 1e3
    return EstimateReport(
        model=m.id, gpu=g.id, engine=e.id, precision=p, kv_precision=kv, batch=batch, input_tokens=input_tokens,
        output_tokens=output_tokens, tp=tp, ttft_ms=row["ttft_ms"], tpot_ms=row["tpot_ms"], e2e_ms=row["e2e_ms"],
        output_tokens_per_s=row["output_tokens_per_s"], requests_per_s=batch / e2e_s if batch else 0.0,
        bound={"prefill": row["prefill_bound"], "decode": row["decode_bound"]},
        prefill=_phase(row, "prefill"), decode=_phase(row, "decode"), fit=fit_report,
        engine_calibration=e.calibration, warnings=tuple(warnings),
        # the first wave's batch, whose steps the report's decode times are
        decode_attention=decode_attention(m, e, min(batch, max(fit_report.max_batch, 1)), tp, kv))


def _scalar_inputs(model, gpu, engine, precision, kv_precision, input_tokens, output_tokens, tp):
    m, e = get_model(model), engine_on(get_engine(engine), gpu)
    borrowed = timing_borrowed(e, gpu)   # before a slot's own delay makes the profile differ from the shipped one
    if isinstance(gpu, Slot):  # a shared GPU: every request also waits for its time slice
        e = e.model_copy(update={"request_overhead_ms": e.request_overhead_ms + gpu.request_delay_ms})
        gpu = gpu.gpu
    g = get_gpu(gpu)
    p = get_precision(precision)
    kv = "fp16" if kv_precision is None else get_precision(kv_precision, what="kv_precision")
    isl, osl, tp = (scalar_count("input_tokens", input_tokens), scalar_count("output_tokens", output_tokens),
                    scalar_count("tp", tp))
    check_tp(m, tp)
    if tp > 1 and not g.interconnect_gb_s:
        raise InvalidInputError(f"{g.id} has no interconnect bandwidth in the catalog, so tp={tp} cannot be timed; "
                                "register the GPU with interconnect_gb_s")
    return m, g, e, p, kv, isl, osl, tp, borrowed


def estimate(model: ModelLike, gpu: GpuLike, *, precision: str = "fp16", kv_precision: str | None = None,
             batch: int = 1, input_tokens: int, output_tokens: int, tp: int = 1,
             engine: EngineLike = "vllm") -> EstimateReport:
    """Latency and throughput of a static batch of `batch` requests of `input_tokens` prompt and
    `output_tokens` generated tokens, tensor-parallel over `tp` GPUs."""
    m, g, e, p, kv, isl, osl, tp, borrowed = _scalar_inputs(model, gpu, engine, precision, kv_precision,
                                                            input_tokens, output_tokens, tp)
    batch = scalar_count("batch", batch)
    row = estimate_many(m, g, precision=p, kv_precision=kv, batch=batch, input_tokens=isl, output_tokens=osl, tp=tp,
                        engine=e).row(0)
    return _report(m, g, e, p, kv, row, isl, osl, tp, borrowed)


def max_throughput(model: ModelLike, gpu: GpuLike, *, precision: str = "fp16", kv_precision: str | None = None,
                   input_tokens: int, output_tokens: int, tp: int = 1, engine: EngineLike = "vllm") -> EstimateReport:
    """The estimate at the batch giving the most output tokens/s that still fits in memory.
    Raises when not even one request fits."""
    m, g, e, p, kv, isl, osl, tp, borrowed = _scalar_inputs(model, gpu, engine, precision, kv_precision,
                                                            input_tokens, output_tokens, tp)
    row = max_throughput_many(m, g, precision=p, kv_precision=kv, input_tokens=isl, output_tokens=osl, tp=tp,
                              engine=e).row(0)
    if row["batch"] < 1:
        one = fit(m, g, precision=p, kv_precision=kv, batch=1, context=isl + osl, tp=tp, engine=e)
        raise InvalidInputError(
            f"{m.id} ({p}) does not fit on {tp}x {g.id} even at batch 1 with {isl + osl} tokens of context: "
            f"{one.total_bytes / 1e9:.1f} GB per GPU needed, {one.capacity_bytes / 1e9:.1f} GB usable; "
            "try more GPUs (tp), a smaller precision or a larger GPU")
    return _report(m, g, e, p, kv, row, isl, osl, tp, borrowed)


__all__ = ["BOUNDS", "ESTIMATE_COLUMNS", "EstimateReport", "EstimateResults", "PhaseTime", "estimate",
           "estimate_many", "max_throughput", "max_throughput_many"]
