"""Plan reports as Markdown or self-contained HTML (plots embedded when matplotlib is there)."""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path

from gpuopt.errors import GpuoptError, InvalidInputError
from gpuopt.files import write_atomic
from gpuopt.output import plots
from gpuopt.output.sections import plan_sections


def markdown(p) -> str:
    lines = [f"# Plan for {p.scenario}", ""]
    for sec in plan_sections(p):
        title, header, rows = sec.title, sec.header, sec.rows
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def html_report(p, cost_against_rate=None) -> str:
    """`cost_against_rate`: (scale, $/hour) points (gpuopt.planning.sensitivity) to plot."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Plan for {html.escape(p.scenario)}</title>"
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
             "margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
             "th{background:#f2f2f2}img{max-width:100%}</style></head><body>",
             f"<h1>Plan for {html.escape(p.scenario)}</h1>"]
    parts.append(tables_html(p))
    pictures, missing = _plots(p, cost_against_rate)
    for title, png in pictures:
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' "
                     f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    if missing:
        parts.append(f"<p><i>No plots: {html.escape(missing)}</i></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def tables_html(p) -> str:
    """The plan's sections as HTML tables (the report's body; a plan's display in a notebook)."""
    parts = []
    for sec in plan_sections(p):
        parts.append(f"<h2>{html.escape(sec.title)}</h2>"
                     + table_html(sec.header, sec.rows))
    return "\n".join(parts)


def table_html(header, rows) -> str:
    return ("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
            + "</table>")


def _plots(p, cost_against_rate) -> tuple[list[tuple[str, bytes]], str]:
    """Fleet, utilization and (given its points) cost-against-rate plots, and why there are none
    (matplotlib missing) where that is so: the report says it rather than dropping them silently."""
    out: list[tuple[str, bytes]] = []
    with tempfile.TemporaryDirectory() as d:
        try:
            out.append(("Fleet", plots.fleet_png(p, Path(d) / "fleet.png").read_bytes()))
            out.append(("Utilization", plots.utilization_png(p, Path(d) / "util.png").read_bytes()))
            if cost_against_rate:
                out.append(("Cost against request rate",
                            plots.cost_vs_rate_png(cost_against_rate, Path(d) / "cost.png", p.scenario).read_bytes()))
        except GpuoptError as e:
            return out, str(e)
    return out, ""


def write_report(p, path: str | Path, cost_against_rate=None) -> Path:
    path = Path(path)
    if path.suffix.lower() in (".html", ".htm"):
        text = html_report(p, cost_against_rate)
    elif path.suffix.lower() == ".md":
        text = markdown(p)
    else:
        raise InvalidInputError(f"report {path}: use a .html or .md file name")
    return write_atomic(path, text)


__all__ = ["html_report", "markdown", "table_html", "tables_html", "write_report"]
