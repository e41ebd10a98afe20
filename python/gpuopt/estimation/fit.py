"""Memory fit: does a model at a precision, batch and context (tensor-parallel over tp) fit on a GPU.

`fit` answers one configuration with an itemised FitReport; `fit_many` and `fit_grid` answer
millions in one call into the Rust engine (GIL released, parallel). All three share one path.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from gpuopt import _core
from gpuopt.catalog import EngineLike, GpuLike, ModelLike, engine as get_engine, gpu as get_gpu, model as get_model
from gpuopt.catalog import precision as get_precision
from gpuopt.estimation.columns import VERDICTS, Categorical, Results, id_of, precision_codes, prepare, scalar_count, tables
from gpuopt.estimation.columns import GridInputs, whole_numbers
from gpuopt.errors import InvalidInputError
from gpuopt.schema import FitReport

INPUT_COLUMNS = ("model", "gpu", "engine", "precision", "kv_precision", "batch", "context", "tp")
RESULT_COLUMNS = ("weights_bytes", "kv_cache_bytes", "activation_bytes", "overhead_bytes", "total_bytes",
                  "capacity_bytes", "utilization", "verdict", "max_batch")
MAX_GRID = _core.MAX_RESULT_BYTES // _core.FIT_ROW_BYTES  # the core's cap on results (2 GiB): past that, split


class FitResults(Results):
    """Columns of a fit over many configurations: RESULT_COLUMNS (bytes per GPU) and the inputs."""

    kind = "fit"


def fit_many(model: Any, gpu: Any, *, precision: Any = "fp16", kv_precision: Any = None, batch: Any = 1,
             context: Any = 4096, tp: Any = 1, engine: Any = "vllm") -> FitResults:
    """Memory fit of many configurations, one Rust call.

    Each argument is a scalar, a 1-D sequence (one entry per configuration), or a Categorical;
    they broadcast together. `kv_precision=None` means a 16-bit KV cache.
    """
    p = prepare({"model": model, "gpu": gpu, "engine": engine, "precision": precision, "kv_precision": kv_precision},
                {"batch": batch, "context": context, "tp": tp})
    c = p.columns
    out = _core.fit_many(*p.core_args(), c["batch"], c["context"], c["tp"])
    return FitResults(out, INPUT_COLUMNS, p.inputs)


def fit_grid(models: Sequence[ModelLike], gpus: Sequence[GpuLike], *, precisions: Sequence[str] = ("fp16",),
             kv_precisions: Sequence[str | None] = (None,), batches: Sequence[int] = (1,),
             contexts: Sequence[int] = (4096,), tps: Sequence[int] = (1,),
             engines: Sequence[EngineLike] = ("vllm",)) -> FitResults:
    """Every combination of the given values (a full factorial), fitted in one Rust call without
    materialising the configurations. Row order: the last axis (tps) varies fastest."""
    ms, gs, es = [get_model(m) for m in models], [get_gpu(g) for g in gpus], [get_engine(e) for e in engines]
    ps = [get_precision(p) for p in precisions]
    ks = [get_precision("fp16" if k is None else k, what="kv_precision") for k in kv_precisions]
    counts = [whole_numbers(name, v).reshape(-1) for name, v in
              (("batch", batches), ("context", contexts), ("tp", tps))]
    cats = [ms, gs, es, ps, ks]
    sizes = [len(t) for t in cats] + [len(c) for c in counts]
    if 0 in sizes:
        raise InvalidInputError("every axis of a fit grid needs at least one value")
    if math.prod(sizes) > MAX_GRID:
        raise InvalidInputError(f"a fit grid of {math.prod(sizes):,} configurations exceeds {MAX_GRID:,} "
                                f"({_core.MAX_RESULT_BYTES >> 30} GiB of results): split it")
    axes = [np.arange(s, dtype=np.int64) for s in sizes[:3]] + [precision_codes(ps), precision_codes(ks)] + counts
    out = _core.fit_grid(*tables(ms, gs, es), *axes)

    inputs = GridInputs(INPUT_COLUMNS, sizes, [[id_of(x) for x in cat] for cat in cats], counts)
    return FitResults(out, INPUT_COLUMNS, lambda: inputs)


def check_tp(model, tp: int) -> None:
    """Raises a clear error when tp GPUs cannot split the model's heads."""
    if not model.splits(tp):
        raise InvalidInputError(
            f"tp={tp} cannot split {model.id} ({model.heads} attention heads, {model.kv_heads} KV heads); "
            f"valid tp: {', '.join(map(str, model.valid_tp(limit=model.heads)))}"
        )


def context_warnings(model, context: int) -> list[str]:
    if context > model.max_context:
        return [f"context {context} exceeds {model.id}'s trained maximum of {model.max_context} tokens "
                "(it needs RoPE scaling to run that long)"]
    return []


def fit(model: ModelLike, gpu: GpuLike, *, precision: str = "fp16", kv_precision: str | None = None,
        batch: int = 1, context: int = 4096, tp: int = 1, engine: EngineLike = "vllm") -> FitReport:
    """Per-GPU memory of `model` on `gpu`, itemised, with its verdict and the largest batch that fits.

    `context` is tokens per sequence (prompt + output); `tp` GPUs split the model (figures are per
    GPU); `engine` sets the memory reserve rule and runtime overhead (vllm, trtllm, llama.cpp, hf).
    """
    m, g, e = get_model(model), get_gpu(getattr(gpu, "gpu", gpu)), get_engine(engine)  # a Slot fits as its GPU
    p = get_precision(precision)
    kv = "fp16" if kv_precision is None else get_precision(kv_precision, what="kv_precision")
    batch, context, tp = scalar_count("batch", batch), scalar_count("context", context), scalar_count("tp", tp)
    check_tp(m, tp)
    row = fit_many(m, g, precision=p, kv_precision=kv, batch=batch, context=context, tp=tp, engine=e).row(0)
    values = {k: row[k] for k in RESULT_COLUMNS}
    return FitReport(model=m.id, gpu=g.id, engine=e.id, precision=p, kv_precision=kv, batch=batch,
                     context=context, tp=tp, memory_bytes=g.memory_bytes, warnings=tuple(context_warnings(m, context)),
                     **values)


__all__ = ["Categorical", "FitResults", "INPUT_COLUMNS", "RESULT_COLUMNS", "VERDICTS", "fit", "fit_grid", "fit_many"]
