"""Calibration: fit an engine profile's timing figures to measured results by least squares.

Residuals are log(predicted / measured), so every row weighs by its relative error whatever its
unit; a weak prior pulls each figure towards the engine's hand-set value, so figures the rows do
not inform stay where they were instead of wandering. Levenberg-Marquardt over transformed
parameters (logit for shares, log for the rest) keeps every figure in its valid range.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Optional, Sequence, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from gpuopt import catalog
from gpuopt.catalog import EngineLike
from gpuopt.errors import CheckedModel, InvalidInputError, ModelInputError
from gpuopt.estimation.estimate import estimate_many, max_throughput_many
from gpuopt.schema import EngineProfile
from gpuopt.estimation.bench_files import read_bench_file
from gpuopt.user_files import load_yaml, read_text

MAX_BATCHED_TOKENS = 10_000_000   # a run's tokens per forward pass, capped before any engine is built
Metric = Literal["out_tok_s_max", "out_tok_s_static", "ttft_ms", "decode_tok_s", "tpot_ms", "e2e_ms"]
FITTED = ("compute_efficiency", "memory_efficiency", "activation_traffic", "step_overhead_ms",
          "request_overhead_ms", "comm_efficiency", "allreduce_latency_us", "attention_efficiency",
          "seq_overhead_us", "unsplit_attention_efficiency")
SHARES = {"compute_efficiency", "memory_efficiency", "comm_efficiency", "attention_efficiency",
          "unsplit_attention_efficiency"}
PAGED_ONLY = ("unsplit_attention_efficiency",)  # figures only paged attention uses (for some KV cache)
PRIOR_WEIGHT = 0.1  # a prior residual of 1 (e-fold / logit unit) weighs like a 10 % error on one row


class Measurement(CheckedModel):
    """One measured result. metric: out_tok_s_max (best output tokens/s over batches that fit),
    out_tok_s_static (batch x osl / e2e at a static batch), ttft_ms, decode_tok_s (1000 / TPOT),
    tpot_ms, e2e_ms."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    model: str
    gpu: str
    n_gpu: int = Field(1, ge=1, description="tensor-parallel GPUs")
    precision: str = "fp16"
    kv_precision: Optional[str] = None
    engine: str = "vllm"
    batch: Union[int, Literal["max"]] = 1
    isl: int = Field(ge=1, description="input (prompt) tokens")
    osl: int = Field(ge=1, description="output tokens")
    metric: Metric
    value: float = Field(gt=0, allow_inf_nan=False)
    source: str = "user"
    max_batched_tokens: Optional[int] = Field(
        None, ge=1, le=MAX_BATCHED_TOKENS,
        description="tokens per forward pass in that run where it differs from the engine profile's (llama.cpp's "
                    "-b / n_batch, vLLM's max_num_batched_tokens): the prompt is prefilled in chunks of this many")


def _parse(rows: Iterable[dict], origin: str) -> list[Measurement]:
    out = []
    for i, r in enumerate(rows, start=1):
        r = {k: v for k, v in r.items() if v not in ("", None)}
        try:
            m = Measurement.model_validate(r)
            # ids the catalog does not know fail here, with suggestions, not later inside a fit
            catalog.model(m.model), catalog.gpu(m.gpu), catalog.engine(m.engine)
        except ModelInputError as e:
            raise InvalidInputError(f"{origin}, measurement {i}: {e.problems}") from None
        except InvalidInputError as e:
            raise InvalidInputError(f"{origin}, measurement {i}: {e}") from None
        out.append(m)
    if not out:
        raise InvalidInputError(f"{origin} holds no measurements")
    return out


def load_measurements(source: Union[str, Path, Sequence[dict], None] = None, *,
                      settings: Optional[Mapping[str, Any]] = None) -> list[Measurement]:
    """Measurements from a CSV file of Measurement columns ('#' lines are comments), a YAML/JSON
    list, a list of dicts or Measurements, or the result file of a real benchmark: `vllm bench
    serve --save-result` JSON or GenAI-Perf's profile_export_genai_perf.csv
    (gpuopt.estimation.bench_files; `settings` give what such a file does not say: model, gpu,
    n_gpu, precision, engine, concurrency). None gives the shipped measured_calibration.csv."""
    if source is None:
        text = catalog._data_text("measured_calibration.csv")
        origin = "measured_calibration.csv"
    elif isinstance(source, (str, Path)):
        path = Path(source)
        text = read_text(path, "measurements")
        origin = str(path)
        bench = read_bench_file(path, text, settings or {})
        if bench is not None:
            return _parse(bench, origin)
        if path.suffix.lower() in (".yaml", ".yml", ".json"):
            data = load_yaml(text, origin)
            if not isinstance(data, list):
                raise InvalidInputError(f"{path} must hold a list of measurements")
            return _parse(data, origin)
    else:
        return [m if isinstance(m, Measurement) else _parse([m], "measurements")[0] for m in source]
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return _parse(csv.DictReader(io.StringIO("\n".join(lines))), origin)


def _rows_of(measurements) -> list[Measurement]:
    """A list of Measurements as it is; anything else through load_measurements."""
    if isinstance(measurements, list) and measurements and isinstance(measurements[0], Measurement):
        return measurements
    return load_measurements(measurements)


def _metric(row: dict, metric: str) -> float:
    if metric in ("out_tok_s_max", "out_tok_s_static"):
        return row["output_tokens_per_s"]
    if metric == "decode_tok_s":
        return 1000.0 / row["tpot_ms"]
    return row[metric]


def _engines(rows: Sequence[Measurement], engine: EngineLike | None) -> list:
    """Each row's engine (`engine`, else its own), as it ran: a row that gives its own tokens per
    forward pass gets the engine's build for its GPU with that figure (one profile per distinct
    engine and figure)."""
    out, made = [], {}
    for r in rows:
        e = engine if engine is not None else r.engine
        if r.max_batched_tokens is not None:
            key = (e if isinstance(e, str) else id(e), r.gpu, r.max_batched_tokens)
            if key not in made:
                built = catalog.engine_on(catalog.engine(e), catalog.gpu(r.gpu))
                made[key] = built.model_copy(update={"max_batched_tokens": r.max_batched_tokens})
            e = made[key]
        out.append(e)
    return out


def predict(measurements: Sequence[Measurement], engine: EngineLike | None = None) -> np.ndarray:
    """gpuopt's figure for each measurement's metric (with `engine` instead of each row's own)."""
    rows = list(measurements)
    engines = _engines(rows, engine)
    out = np.empty(len(rows))
    for use_max in (True, False):
        idx = [i for i, r in enumerate(rows) if (r.batch == "max") == use_max]
        if not idx:
            continue
        sel = [rows[i] for i in idx]
        kw = dict(
            model=[r.model for r in sel], gpu=[r.gpu for r in sel],
            engine=[engines[i] for i in idx],
            precision=[r.precision for r in sel],
            kv_precision=[r.kv_precision or "fp16" for r in sel],
            input_tokens=[r.isl for r in sel], output_tokens=[r.osl for r in sel], tp=[r.n_gpu for r in sel])
        res = max_throughput_many(**kw) if use_max else estimate_many(batch=[r.batch for r in sel], **kw)
        for k, i in enumerate(idx):
            out[i] = _metric(res.row(k), rows[i].metric)
    return out


class Calibration(BaseModel):
    """A fitted profile and how well it fits the rows it was fitted on."""

    model_config = ConfigDict(frozen=True)
    profile: EngineProfile
    rows: int
    predictions: list[float]
    measured: list[float]
    mape: float = Field(description="mean absolute percentage error on the rows fitted")
    iterations: int


def _to_x(name: str, v: float) -> float:
    if name in SHARES:
        v = min(max(v, 1e-6), 1 - 1e-9)
        return math.log(v / (1 - v))
    return math.log(max(v, 1e-9))


def _from_x(name: str, x: float) -> float:
    if name in SHARES:
        return 1.0 / (1.0 + math.exp(-x))
    return math.exp(min(x, 50.0))


def figures_of(profile: EngineProfile, fit: Sequence[str] = FITTED) -> tuple[str, ...]:
    """The figures of `fit` that `profile`'s estimates depend on: the unsplit kernel's share only
    where the engine decodes with paged attention."""
    paged = profile.paged_attention_split_items > 0 or profile.quantized_kv_split_items > 0
    return tuple(f for f in fit if paged or f not in PAGED_ONLY)


def _prior_of(engine: EngineLike) -> EngineProfile:
    if isinstance(engine, str) and engine.strip().lower() in catalog.engine_priors():
        return catalog.engine_priors()[engine.strip().lower()]
    return catalog.engine(engine)


def source_weights(rows: Sequence[Measurement]) -> np.ndarray:
    """A weight per row such that every source weighs as much as every other in all (a table of
    thousands of static batches must not drown a vendor's dozen rows of another regime); the
    weights sum to the number of rows."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.source] = counts.get(r.source, 0) + 1
    return np.array([len(rows) / (len(counts) * counts[r.source]) for r in rows])


def calibrate(measurements: Union[Sequence[Measurement], Sequence[dict], str, Path, None], *,
              engine: EngineLike | None = None, fit: Sequence[str] = FITTED, prior_weight: float = PRIOR_WEIGHT,
              start: EngineProfile | None = None, max_iterations: int = 60) -> Calibration:
    """Fits `engine`'s timing figures (those named in `fit`) to the measurements by least squares.

    `engine` is the profile to start from and be pulled towards (its hand-set prior for shipped
    ids); by default the engine all rows name. Returns the fitted profile (same id) with its MAPE.
    """
    rows = _rows_of(measurements)
    if engine is None:
        names = {r.engine for r in rows}
        if len(names) != 1:
            raise InvalidInputError(f"measurements name several engines ({', '.join(sorted(names))}); "
                                    "calibrate one engine at a time (engine=...)")
        engine = names.pop()
    prior = _prior_of(engine)
    unknown = [f for f in fit if f not in FITTED]
    if unknown:
        raise InvalidInputError(f"cannot fit {', '.join(unknown)}; timing figures: {', '.join(FITTED)}")
    measured = np.array([r.value for r in rows])
    fit = figures_of(start or prior, fit)
    x0 = np.array([_to_x(f, getattr(prior, f)) for f in fit])
    base = (start or prior).model_dump()

    def profile(x: np.ndarray) -> EngineProfile:
        values = {f: _from_x(f, v) for f, v in zip(fit, x)}
        return EngineProfile.model_validate({**base, **values})

    weight = np.sqrt(source_weights(rows))

    def residuals(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            r = np.log(predict(rows, profile(x)) / measured)
        r = np.where(np.isfinite(r), r, 10.0)  # a configuration that cannot run: a large, finite miss
        return np.concatenate([weight * r, prior_weight * (x - x0)])

    x = np.array([_to_x(f, base[f]) for f in fit])
    r = residuals(x)
    cost, lam, it = float(r @ r), 1e-2, 0
    for it in range(1, max_iterations + 1):
        jac = np.empty((r.size, x.size))
        for k in range(x.size):
            dx = x.copy()
            dx[k] += 1e-5
            jac[:, k] = (residuals(dx) - r) / 1e-5
        g, h = jac.T @ r, jac.T @ jac
        improved = False
        for _ in range(8):
            step = np.linalg.solve(h + lam * np.diag(np.diag(h) + 1e-9), -g)
            r_new = residuals(x + step)
            c_new = float(r_new @ r_new)
            if c_new < cost:
                x, r, lam, improved = x + step, r_new, max(lam / 3, 1e-9), True
                converged = cost - c_new < 1e-12 * max(cost, 1e-12) or np.max(np.abs(step)) < 1e-7
                cost = c_new
                break
            lam *= 4
        if not improved or converged:
            break
    fitted = profile(x)
    pred = predict(rows, fitted)
    mape = float(np.mean(np.abs(pred / measured - 1)))
    fitted = fitted.model_copy(update={"calibration": f"fitted on {len(rows)} measurements by least squares "
                                                      f"(in-sample MAPE {mape:.1%})"})
    return Calibration(profile=fitted, rows=len(rows), predictions=pred.tolist(), measured=measured.tolist(),
                       mape=mape, iterations=it)


class ValidationRow(BaseModel):
    model_config = ConfigDict(frozen=True)
    measurement: Measurement
    estimate: float
    error: float = Field(description="estimate / measured - 1")
    loo_estimate: Optional[float] = Field(description="with the engine fitted without this row (loo='row') or "
                                                      "without this row's source (loo='source')")
    loo_error: Optional[float]


class ValidationGroup(BaseModel):
    """One engine x GPU x source: how many rows, and their MAPE in-sample and held out."""

    model_config = ConfigDict(frozen=True)
    engine: str
    gpu: str
    source: str
    rows: int
    mape: float
    loo_mape: Optional[float]


class Validation(BaseModel):
    model_config = ConfigDict(frozen=True)
    rows: list[ValidationRow]
    mape: float = Field(description="in-sample mean absolute percentage error")
    loo: str = Field(description="what each held-out estimate was fitted without: 'source', 'model', 'row' or 'none'")
    loo_mape: Optional[float] = Field(description="mean absolute percentage error of the held-out estimates")
    worst_ratio: float = Field(description="largest max(estimate/measured, measured/estimate), in-sample or held out")
    groups: list[ValidationGroup] = Field(default_factory=list, description="per engine x GPU x source")
    profiles: dict[str, EngineProfile]


MAX_LOO_ROWS = 200   # loo='row' refits once per row: past this many rows, hold out sources instead


def validate(measurements: Union[Sequence[Measurement], str, Path, None] = None, *,
             loo: Union[bool, str] = "source") -> Validation:
    """For each measurement: the estimate of the engine profile fitted on all rows of its engine
    (in-sample) and a held-out one: fitted on the engine's rows from every other source
    (loo='source' or True: leave-one-source-out, the engine's hand-set prior where no other
    source has rows), on its rows of every other model (loo='model': leave-one-model-out, what a
    model nobody has benchmarked on that engine gets), or on every other row (loo='row', up to
    MAX_LOO_ROWS rows); loo=False: none.
    None validates every shipped public row (gpuopt.estimation.public.shipped)."""
    if measurements is None:
        from gpuopt.estimation.public import shipped
        rows = shipped()
    else:
        rows = _rows_of(measurements)
    mode = ("source" if loo else "none") if isinstance(loo, bool) else loo
    if mode not in ("source", "model", "row", "none"):
        raise InvalidInputError(f"loo must be 'source', 'model', 'row', True or False, got {loo!r}")
    if mode == "row" and len(rows) > MAX_LOO_ROWS:
        raise InvalidInputError(f"loo='row' refits once per row: {len(rows)} rows is more than {MAX_LOO_ROWS}; "
                                "use loo='source'")
    est = np.empty(len(rows))
    held = np.full(len(rows), np.nan)
    profiles = {}
    for name in sorted({r.engine for r in rows}):
        idx = [i for i, r in enumerate(rows) if r.engine == name]
        group = [rows[i] for i in idx]
        full = calibrate(group, engine=name)
        profiles[name] = full.profile
        est[idx] = full.predictions
        if mode == "row" and len(group) > 1:
            for k, i in enumerate(idx):
                one = calibrate(group[:k] + group[k + 1:], engine=name, start=full.profile)
                held[i] = predict([rows[i]], one.profile)[0]
        elif mode in ("source", "model"):
            key = (lambda r: r.source) if mode == "source" else (lambda r: r.model)
            for value in sorted({key(r) for r in group}):
                out_idx = [i for i in idx if key(rows[i]) == value]
                rest = [r for r in group if key(r) != value]
                profile = calibrate(rest, engine=name).profile if rest else _prior_of(name)
                held[out_idx] = predict([rows[i] for i in out_idx], profile)
    measured = np.array([r.value for r in rows])
    err, held_err = est / measured - 1, held / measured - 1
    has = np.isfinite(held_err)
    ratios = np.concatenate([est / measured, held[has] / measured[has]])
    out_rows = [ValidationRow(measurement=r, estimate=float(est[i]), error=float(err[i]),
                              loo_estimate=float(held[i]) if has[i] else None,
                              loo_error=float(held_err[i]) if has[i] else None)
                for i, r in enumerate(rows)]
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r.engine, r.gpu, r.source), []).append(i)
    summary = [ValidationGroup(engine=e, gpu=g, source=src, rows=len(ix), mape=float(np.mean(np.abs(err[ix]))),
                               loo_mape=float(np.mean(np.abs(held_err[ix]))) if has[ix].all() else None)
               for (e, g, src), ix in sorted(groups.items())]
    return Validation(rows=out_rows, mape=float(np.mean(np.abs(err))), loo=mode,
                      loo_mape=float(np.mean(np.abs(held_err[has]))) if has.any() else None,
                      worst_ratio=float(np.max(np.maximum(ratios, 1 / ratios))), groups=summary, profiles=profiles)


__all__ = ["Calibration", "FITTED", "figures_of", "Measurement", "source_weights", "Validation", "ValidationGroup",
           "ValidationRow", "calibrate", "load_measurements", "predict", "validate"]
