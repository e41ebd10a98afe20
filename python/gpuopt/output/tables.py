"""Human-readable renderings (rich tables) of gpuopt's results, shared by the CLI and scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from gpuopt.estimation.calibration import Validation
from gpuopt.estimation.estimate import EstimateReport
from gpuopt.output.sections import plan_sections
from gpuopt.schema import Accelerator, FitReport, ModelSpec
from gpuopt.units import gb

if TYPE_CHECKING:
    from gpuopt.planning.plans import Plan


def new_table(title: str) -> Table:
    """A compact table that fits an 80-column terminal."""
    return Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)


def fit_table(r: FitReport) -> Table:
    t = new_table(f"{r.model} on {r.gpu} ({r.precision} weights, {r.kv_precision} KV, batch {r.batch}, "
                    f"context {r.context}, tp {r.tp}, {r.engine})")
    t.add_column("per GPU")
    t.add_column("GB", justify="right")
    t.add_column("share of usable", justify="right")
    for name, n in r.breakdown():
        t.add_row(name, f"{gb(n):.2f}", f"{n / r.capacity_bytes:.1%}")
    t.caption = (f"verdict: {r.verdict} ({r.utilization:.1%} of {gb(r.capacity_bytes):.1f} GB usable, "
                 f"{gb(r.memory_bytes):.1f} GB physical); max batch at this context: {r.max_batch}")
    return t


def _fmt(x, spec: str = ",.0f") -> str:
    return "-" if x is None else format(x, spec)


def gpu_table(gpus: list[Accelerator]) -> Table:
    t = new_table("Accelerators (dense peaks, TF = TFLOPS; * unconfirmed)")
    t.add_column("id", no_wrap=True)
    for col in ("mem GB", "GB/s", "fp16 TF", "fp8 TF", "int8 TOPS", "TDP W", "MIG"):
        t.add_column(col, justify="right", min_width=len(col))
    for g in gpus:
        star = lambda f: "*" if f in g.unconfirmed else ""
        t.add_row(g.id, f"{gb(g.memory_bytes):.1f}", _fmt(g.mem_bw_gb_s) + star("mem_bw_gb_s"),
                  _fmt(g.fp16_tflops) + star("fp16_tflops"), _fmt(g.fp8_tflops) + star("fp8_tflops"),
                  _fmt(g.int8_tops) + star("int8_tops"), _fmt(g.tdp_w) + star("tdp_w"), "yes" if g.mig else "no")
    return t


def model_table(models: list[ModelSpec]) -> Table:
    t = new_table("Models (params in billions; KV per token at 16 bits)")
    t.add_column("id", no_wrap=True)
    for col in ("params", "active", "layers", "heads/kv", "experts", "KV KiB", "max ctx"):
        t.add_column(col, justify="right", min_width=len(col))
    for m in models:
        t.add_row(m.id, f"{m.total_params / 1e9:.3f}", f"{m.active_params / 1e9:.3f}", str(m.layers),
                  f"{m.heads}/{m.kv_heads}", f"{m.experts_per_token}/{m.experts}" if m.experts > 1 else "-",
                  f"{m.kv_bytes_per_token / 1024:.0f}", str(m.max_context))
    return t


def estimate_table(r: EstimateReport) -> Table:
    t = new_table(f"{r.model} on {r.tp}x {r.gpu} ({r.precision} weights, {r.kv_precision} KV, {r.engine}): "
                  f"batch {r.batch}, {r.input_tokens} in / {r.output_tokens} out")
    t.add_column("ms")
    for col in ("compute", "memory", "elementwise", "comm", "fixed", "total", "bound"):
        t.add_column(col, justify="right")
    for name, ph, total in (("prefill (TTFT)", r.prefill, r.ttft_ms), ("decode step (TPOT)", r.decode, r.tpot_ms)):
        t.add_row(name, f"{ph.compute_ms:.3f}", f"{ph.memory_ms:.3f}", f"{ph.activation_ms:.3f}", f"{ph.comm_ms:.3f}",
                  f"{ph.overhead_ms:.3f}", f"{total:.3f}", ph.bound or "-")
    t.caption = (f"end-to-end {r.e2e_ms:,.0f} ms; {r.output_tokens_per_s:,.0f} output tokens/s, "
                 f"{r.requests_per_s:.2f} requests/s; memory {r.fit.verdict} ({r.fit.utilization:.0%} of "
                 f"{gb(r.fit.capacity_bytes):.1f} GB usable per GPU)\nengine timing: {r.engine_calibration}")
    return t


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def validation_table(v: Validation, *, rows: bool = False) -> Table:
    """Per engine x GPU x source: rows, MAPE in-sample and held out; with `rows`, every row too."""
    held = {"source": "leave-one-source-out", "model": "leave-one-model-out", "row": "leave-one-out",
            "none": "none"}[v.loo]
    if rows:
        t = new_table("Estimates against public measurements (error = estimate / measured - 1)")
        t.add_column("configuration")
        for col in ("metric", "measured", "estimate", "error", "held-out est.", "held-out err."):
            t.add_column(col, justify="right", min_width=len(col))
        for row in v.rows:
            m = row.measurement
            batch = "max batch" if m.batch == "max" else f"batch {m.batch}"
            t.add_row(f"{m.model} {m.precision} {m.n_gpu}x {m.gpu} {m.engine}, {batch}, {m.isl}/{m.osl}", m.metric,
                      _num(m.value), _num(row.estimate), f"{row.error:+.1%}",
                      "-" if row.loo_estimate is None else _num(row.loo_estimate),
                      "-" if row.loo_error is None else f"{row.loo_error:+.1%}")
    else:
        t = new_table("Estimates against public measurements, per engine x GPU x source")
        for col in ("engine", "gpu", "source"):
            t.add_column(col)
        for col in ("rows", "MAPE", f"{held} MAPE"):
            t.add_column(col, justify="right")
        for g in v.groups:
            t.add_row(g.engine, g.gpu, g.source, str(g.rows), f"{g.mape:.1%}",
                      "-" if g.loo_mape is None else f"{g.loo_mape:.1%}")
    loo = "-" if v.loo_mape is None else f"{v.loo_mape:.1%}"
    t.caption = (f"{len(v.rows)} rows: MAPE in-sample {v.mape:.1%}, {held} {loo}; "
                 f"worst row off by {v.worst_ratio:.2f}x")
    return t


def plan_tables(p: "Plan") -> list[Table]:
    """The plan for people (gpuopt.output.sections), as terminal tables."""
    out = []
    for sec in plan_sections(p):
        t = new_table(f"Plan for {p.scenario}: {p.status}" if sec.title == "Summary" else sec.title)
        t.show_header = any(sec.header)
        for i, col in enumerate(sec.header):
            t.add_column(col, justify="right" if i >= sec.numeric_from else "left")
        for row in sec.rows:
            t.add_row(*row)
        out.append(t)
    return out
