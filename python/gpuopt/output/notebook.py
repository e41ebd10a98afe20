"""How results display in a notebook (`_repr_html_`): plain HTML tables, no scripts or styles that
a notebook would have to trust."""

from __future__ import annotations

import html
from typing import Any, Iterable, Sequence


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], caption: str = "") -> str:
    out = ["<table>"]
    if caption:
        out.append(f"<caption style='text-align:left'><b>{html.escape(caption)}</b></caption>")
    out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
    out += ["<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows]
    out.append("</table>")
    return "".join(out)


def report(model) -> str:
    """A pydantic report as a field / value table (nested values shown as their text)."""
    data = model.model_dump()
    return table(["field", "value"], [(k, v) for k, v in data.items()], type(model).__name__)


def results(r, head: int = 20) -> str:
    """The first rows of a column result, with how many there are."""
    n = len(r)
    cols = r.frame_columns() if n <= head else {k: v[:head] for k, v in r.frame_columns().items()}
    names = list(cols)
    rows = [[cols[k][i] for k in names] for i in range(min(n, head))]
    more = f" (first {head} shown)" if n > head else ""
    return table(names, rows, f"{type(r).__name__}: {n:,} configurations{more}")


__all__ = ["report", "results", "table"]
