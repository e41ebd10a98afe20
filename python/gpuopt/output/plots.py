"""PNG plots with matplotlib (the optional 'plots' extra): a sweep's Pareto front, a plan's fleet,
its utilization per GPU type and period, and its cost against request rate."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from gpuopt.errors import InvalidInputError
from gpuopt.files import write_atomic


def _plt():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InvalidInputError("plots need matplotlib: pip install 'gpuopt[plots]'") from None
    return plt


def _save(plt, fig, path: str | Path) -> Path:
    """The figure as a PNG at `path`, written whole (gpuopt.files)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return write_atomic(path, buf.getvalue())


def pareto_png(results: Mapping[str, Any], front: Sequence[int], path: str | Path,
               x: str = "usd_per_hour", y: str = "output_tokens_per_s") -> Path:
    """Every feasible configuration of a sweep as a point, its Pareto front highlighted."""
    plt = _plt()
    v = np.asarray(results["verdict"])
    ok = v <= 1
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(np.asarray(results[x])[ok], np.asarray(results[y])[ok], s=4, alpha=0.3, label="configurations")
    f = np.asarray(front, dtype=int)
    ax.scatter(np.asarray(results[x])[f], np.asarray(results[y])[f], s=18, color="C3", label="Pareto front")
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    ax.set_title("Sweep: Pareto front")
    ax.legend()
    fig.tight_layout()
    return _save(plt, fig, path)


def validation_png(v, path: str | Path) -> Path:
    """Each validated row's estimate against its measured value, log-log, one colour per engine,
    with the y = x line and the 1.5x band."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 6))
    measured = np.array([r.measurement.value for r in v.rows])
    estimate = np.array([r.estimate for r in v.rows])
    for k, engine in enumerate(sorted({r.measurement.engine for r in v.rows})):
        sel = np.array([r.measurement.engine == engine for r in v.rows])
        ax.scatter(measured[sel], estimate[sel], s=6, alpha=0.5, color=f"C{k}", label=engine)
    lo, hi = float(min(measured.min(), estimate.min())), float(max(measured.max(), estimate.max()))
    line = np.array([lo, hi])
    ax.plot(line, line, color="k", lw=0.8)
    for f in (1.5, 1 / 1.5):
        ax.plot(line, line * f, color="k", lw=0.5, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured (each row's metric)")
    ax.set_ylabel("gpuopt's estimate")
    ax.set_title(f"{len(v.rows)} rows: MAPE {v.mape:.1%} in-sample")
    ax.legend()
    fig.tight_layout()
    return _save(plt, fig, path)


def fleet_png(plan, path: str | Path) -> Path:
    """GPUs owned (bought and already owned) and peak rentals per site and type."""
    plt = _plt()
    labels, owned, rented = [], [], []
    for site, types in plan.fleet.items():
        for g, n in types.items():
            peak_rent = max(plan.rentals.get(site, {}).get(g, {}).values(), default=0)
            if n or peak_rent:
                labels.append(f"{site}\n{g}")
                owned.append(n)
                rented.append(peak_rent)
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(labels)), 4))
    ax.bar(labels, owned, label="owned")
    ax.bar(labels, rented, bottom=owned, label="rented (peak period)")
    ax.set_ylabel("GPUs")
    ax.set_title(f"Fleet of {plan.scenario}: ${plan.cost_per_hour:,.2f}/hour")
    ax.legend()
    fig.tight_layout()
    return _save(plt, fig, path)


def utilization_png(plan, path: str | Path) -> Path:
    """Share of each site's GPUs of each type busy in each period."""
    plt = _plt()
    rows = [(f"{s}/{g}", per) for s, types in plan.utilization.items() for g, per in types.items()
            if any(per.values())]
    if not rows:
        rows = [("-", {"-": 0.0})]
    periods = list(rows[0][1])
    data = np.array([[per.get(p, 0.0) for p in periods] for _, per in rows])
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(periods) + 3), 0.5 * len(rows) + 2))
    im = ax.imshow(data, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(periods)), periods, rotation=90 if len(periods) > 6 else 0)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    fig.colorbar(im, label="GPUs busy")
    ax.set_title("Utilization per GPU type and period")
    fig.tight_layout()
    return _save(plt, fig, path)


def cost_vs_rate_png(points: Sequence[tuple[float, float]], path: str | Path, title: str = "") -> Path:
    """The plan's cost as every service's request rate is scaled: (scale, $/hour) points from
    gpuopt.planning.sensitivity.cost_against_rate."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([k for k, _ in points], [c for _, c in points], marker="o")
    ax.set_xlabel("request rate, x the scenario's")
    ax.set_ylabel("$/hour")
    ax.set_title(f"Cost against request rate: {title}" if title else "Cost against request rate")
    fig.tight_layout()
    return _save(plt, fig, path)


__all__ = ["cost_vs_rate_png", "fleet_png", "pareto_png", "utilization_png"]
