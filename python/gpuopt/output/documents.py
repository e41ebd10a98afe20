"""Plan reports as Markdown or self-contained HTML (plots embedded when matplotlib is there)."""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path

from gpuopt.errors import GpuoptError, InvalidInputError
from gpuopt.files import write_atomic


def _sections(p) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for each part of the report."""
    out = [("Summary", ["", ""], [
        ["status", p.status], ["cost", f"${p.cost_per_hour:,.2f}/hour (${p.cost_per_hour * 8760:,.0f}/year)"],
        ["lower bound", f"${p.lower_bound_per_hour:,.2f}/hour"], ["gap", f"{p.gap:.2%}"]]
        + [[f"vs {name}", b["note"] if b["cost_per_hour"] is None else
            f"${b['cost_per_hour']:,.2f}/hour: saves {max(b['savings'], 0):.1%}"] for name, b in p.baselines.items()])]
    out.append(("Fleet", ["site", "gpu", "owned", "bought", "rented per period"],
                [[s, g, str(n), str(p.purchases.get(s, {}).get(g, 0)),
                  ", ".join(f"{k}: {v}" for k, v in p.rentals.get(s, {}).get(g, {}).items()) or "-"]
                 for s, types in p.fleet.items() for g, n in types.items()
                 if n or p.rentals.get(s, {}).get(g)]))
    out.append(("Replicas", ["service", "period", "replicas"],
                [[sv, period, "; ".join(f"{r['replicas']}x {r['slot']}" + (f" tp{r['tp']}" if r["tp"] > 1 else "")
                                        + f" {r['precision']} @{r['site']}" for r in rows)]
                 for sv, periods in p.replicas.items() for period, rows in periods.items()]))
    out.append(("Predicted p95 latency (ms)", ["service", "TTFT", "TPOT", "end-to-end"],
                [[sv, f"{v['ttft_p95_ms']:,.0f}", f"{v['tpot_p95_ms']:.1f}", f"{v['e2e_p95_ms']:,.0f}"]
                 for sv, v in p.predicted_slo.items()]))
    out.append(("Cost per hour", ["item", "$/hour"], [[k, f"{v:,.3f}"] for k, v in p.cost_breakdown.items() if v]))
    if p.training:
        out.append(("Training", ["job", "GPUs per window", "burst GPU-hours"],
                    [[j, ", ".join(f"{k}: {v}" for k, v in t["gpus_per_period"].items()) or "-",
                      f"{t['burst_gpu_hours']:,.1f}"] for j, t in p.training.items()]))
    if p.infeasibility or p.warnings:
        out.append(("Notes", ["", ""], [["!", x] for x in p.infeasibility + p.warnings]))
    return out


def markdown(p) -> str:
    lines = [f"# Plan for {p.scenario}", ""]
    for title, header, rows in _sections(p):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def html_report(p, scenario=None) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Plan for {html.escape(p.scenario)}</title>"
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
             "margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
             "th{background:#f2f2f2}img{max-width:100%}</style></head><body>",
             f"<h1>Plan for {html.escape(p.scenario)}</h1>"]
    for title, header, rows in _sections(p):
        parts.append(f"<h2>{html.escape(title)}</h2><table><tr>"
                     + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    for title, png in _plots(p, scenario):
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' "
                     f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _plots(p, scenario) -> list[tuple[str, bytes]]:
    """Fleet, utilization and (with the scenario) cost-against-rate plots; none without matplotlib."""
    from gpuopt.output import plots

    out = []
    with tempfile.TemporaryDirectory() as d:
        try:
            out.append(("Fleet", plots.fleet_png(p, Path(d) / "fleet.png").read_bytes()))
            out.append(("Utilization", plots.utilization_png(p, Path(d) / "util.png").read_bytes()))
            if scenario is not None:
                out.append(("Cost against request rate",
                            plots.cost_vs_rate_png(scenario, Path(d) / "cost.png").read_bytes()))
        except GpuoptError:
            return out
    return out


def write_report(p, path: str | Path, scenario=None) -> Path:
    path = Path(path)
    if path.suffix.lower() in (".html", ".htm"):
        text = html_report(p, scenario)
    elif path.suffix.lower() == ".md":
        text = markdown(p)
    else:
        raise InvalidInputError(f"report {path}: use a .html or .md file name")
    return write_atomic(path, text)


__all__ = ["html_report", "markdown", "write_report"]
