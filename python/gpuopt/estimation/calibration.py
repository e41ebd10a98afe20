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
from typing import Iterable, Literal, Optional, Sequence, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from gpuopt import catalog
from gpuopt.catalog import EngineLike
from gpuopt.errors import CheckedModel, InvalidInputError, ModelInputError
from gpuopt.estimation.estimate import estimate_many, max_throughput_many
from gpuopt.schema import EngineProfile
from gpuopt.user_files import load_yaml, read_text

Metric = Literal["out_tok_s_max", "out_tok_s_static", "ttft_ms", "decode_tok_s", "tpot_ms", "e2e_ms"]
FITTED = ("compute_efficiency", "memory_efficiency", "activation_traffic", "step_overhead_ms",
          "request_overhead_ms", "comm_efficiency")
SHARES = {"compute_efficiency", "memory_efficiency", "comm_efficiency"}
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


def _parse(rows: Iterable[dict], origin: str) -> list[Measurement]:
    out = []
    for i, r in enumerate(rows, start=1):
        r = {k: v for k, v in r.items() if v not in ("", None)}
        try:
            out.append(Measurement.model_validate(r))
        except ModelInputError as e:
            raise InvalidInputError(f"{origin}, measurement {i}: {e.problems}") from None
    if not out:
        raise InvalidInputError(f"{origin} holds no measurements")
    return out


def load_measurements(source: Union[str, Path, Sequence[dict], None] = None) -> list[Measurement]:
    """Measurements from a CSV file ('#' lines are comments), a YAML/JSON list, a list of dicts or
    Measurements; None gives the shipped public measurements (data/measured_calibration.csv)."""
    if source is None:
        text = catalog._data_text("measured_calibration.csv")
        origin = "measured_calibration.csv"
    elif isinstance(source, (str, Path)):
        path = Path(source)
        text = read_text(path, "measurements")
        origin = str(path)
        if path.suffix.lower() in (".yaml", ".yml", ".json"):
            data = load_yaml(text, origin)
            if not isinstance(data, list):
                raise InvalidInputError(f"{path} must hold a list of measurements")
            return _parse(data, origin)
    else:
        return [m if isinstance(m, Measurement) else _parse([m], "measurements")[0] for m in source]
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return _parse(csv.DictReader(io.StringIO("\n".join(lines))), origin)


def _metric(row: dict, metric: str) -> float:
    if metric in ("out_tok_s_max", "out_tok_s_static"):
        return row["output_tokens_per_s"]
    if metric == "decode_tok_s":
        return 1000.0 / row["tpot_ms"]
    return row[metric]


def predict(measurements: Sequence[Measurement], engine: EngineLike | None = None) -> np.ndarray:
    """gpuopt's figure for each measurement's metric (with `engine` instead of each row's own)."""
    rows = list(measurements)
    out = np.empty(len(rows))
    for use_max in (True, False):
        idx = [i for i, r in enumerate(rows) if (r.batch == "max") == use_max]
        if not idx:
            continue
        sel = [rows[i] for i in idx]
        kw = dict(
            model=[r.model for r in sel], gpu=[r.gpu for r in sel],
            engine=engine if engine is not None else [r.engine for r in sel],
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


def _prior_of(engine: EngineLike) -> EngineProfile:
    if isinstance(engine, str) and engine.strip().lower() in catalog.engine_priors():
        return catalog.engine_priors()[engine.strip().lower()]
    return catalog.engine(engine)


def calibrate(measurements: Union[Sequence[Measurement], Sequence[dict], str, Path, None], *,
              engine: EngineLike | None = None, fit: Sequence[str] = FITTED, prior_weight: float = PRIOR_WEIGHT,
              start: EngineProfile | None = None, max_iterations: int = 60) -> Calibration:
    """Fits `engine`'s timing figures (those named in `fit`) to the measurements by least squares.

    `engine` is the profile to start from and be pulled towards (its hand-set prior for shipped
    ids); by default the engine all rows name. Returns the fitted profile (same id) with its MAPE.
    """
    rows = load_measurements(measurements) if not isinstance(measurements, list) or not measurements or \
        not isinstance(measurements[0], Measurement) else measurements
    if engine is None:
        names = {r.engine for r in rows}
        if len(names) != 1:
            raise InvalidInputError(f"measurements name several engines ({', '.join(sorted(names))}); "
                                    "calibrate one engine at a time (engine=...)")
        engine = names.pop()
    prior = _prior_of(engine)
    unknown = [f for f in fit if f not in FITTED and f != "allreduce_latency_us"]
    if unknown:
        raise InvalidInputError(f"cannot fit {', '.join(unknown)}; timing figures: {', '.join(FITTED)}, "
                                "allreduce_latency_us")
    measured = np.array([r.value for r in rows])
    x0 = np.array([_to_x(f, getattr(prior, f)) for f in fit])
    base = (start or prior).model_dump()

    def profile(x: np.ndarray) -> EngineProfile:
        values = {f: _from_x(f, v) for f, v in zip(fit, x)}
        return EngineProfile.model_validate({**base, **values})

    def residuals(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            r = np.log(predict(rows, profile(x)) / measured)
        r = np.where(np.isfinite(r), r, 10.0)  # a configuration that cannot run: a large, finite miss
        return np.concatenate([r, prior_weight * (x - x0)])

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
    loo_estimate: Optional[float] = Field(description="with the engine fitted on every other row")
    loo_error: Optional[float]


class Validation(BaseModel):
    model_config = ConfigDict(frozen=True)
    rows: list[ValidationRow]
    mape: float = Field(description="in-sample mean absolute percentage error")
    loo_mape: Optional[float] = Field(description="leave-one-out mean absolute percentage error")
    worst_ratio: float = Field(description="largest max(estimate/measured, measured/estimate), in-sample or LOO")
    profiles: dict[str, EngineProfile]


def validate(measurements: Union[Sequence[Measurement], str, Path, None] = None, *, loo: bool = True) -> Validation:
    """For each measurement: the estimate of the engine profile fitted on all rows of its engine
    (in-sample) and of the one fitted on all its engine's other rows (leave-one-out)."""
    rows = load_measurements(measurements) if not (isinstance(measurements, list) and measurements
                                                  and isinstance(measurements[0], Measurement)) else measurements
    est = np.empty(len(rows))
    loo_est = np.full(len(rows), np.nan)
    profiles = {}
    for name in sorted({r.engine for r in rows}):
        idx = [i for i, r in enumerate(rows) if r.engine == name]
        group = [rows[i] for i in idx]
        full = calibrate(group, engine=name)
        profiles[name] = full.profile
        est[idx] = full.predictions
        if not loo or len(group) < 2:
            continue
        for k, i in enumerate(idx):
            rest = group[:k] + group[k + 1:]
            one = calibrate(rest, engine=name, start=full.profile)
            loo_est[i] = predict([rows[i]], one.profile)[0]
    measured = np.array([r.value for r in rows])
    err, loo_err = est / measured - 1, loo_est / measured - 1
    ratios = np.concatenate([est / measured, loo_est[np.isfinite(loo_est)] / measured[np.isfinite(loo_est)]])
    out_rows = [ValidationRow(measurement=r, estimate=float(est[i]), error=float(err[i]),
                              loo_estimate=None if not np.isfinite(loo_est[i]) else float(loo_est[i]),
                              loo_error=None if not np.isfinite(loo_err[i]) else float(loo_err[i]))
                for i, r in enumerate(rows)]
    has_loo = np.isfinite(loo_err)
    return Validation(rows=out_rows, mape=float(np.mean(np.abs(err))),
                      loo_mape=float(np.mean(np.abs(loo_err[has_loo]))) if has_loo.any() else None,
                      worst_ratio=float(np.max(np.maximum(ratios, 1 / ratios))), profiles=profiles)


__all__ = ["Calibration", "FITTED", "Measurement", "Validation", "ValidationRow", "calibrate", "load_measurements",
           "predict", "validate"]
