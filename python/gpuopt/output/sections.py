"""A plan as sections - (title, header, rows) of text - the one rendering of a plan that the
terminal tables, the Markdown and the HTML reports all lay out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Section:
    title: str
    header: list[str]
    rows: list[list[str]]
    numeric_from: int = 99   # columns from this one on are numbers (right-aligned in the terminal)


def _baseline(b) -> str:
    if b.cost_per_hour is None:
        lifted = (f"; ${b.cost_with_limits_lifted_per_hour:,.2f}/hour with purchase and rental limits lifted"
                  if b.cost_with_limits_lifted_per_hour is not None else "")
        return b.note + (f" ({b.binding})" if b.binding else "") + lifted
    buys = ", ".join(f"{n}x {g} @{s}" for s, types in b.purchases.items() for g, n in types.items() if n)
    unproven = f"; not proven optimal: {b.gap:.1%} above its bound" if b.status == "feasible" and b.gap else ""
    return (f"${b.cost_per_hour:,.2f}/hour: saves {max(b.savings, 0.0):.1%} ({b.note}; buys {buys or 'nothing'}"
            f"{unproven})")


def _group(r) -> str:
    return f"{r.replicas}x {r.slot}" + (f" tp{r.tp}" if r.tp > 1 else "") + f" {r.precision} @{r.site}"


def plan_sections(p) -> list[Section]:
    """Summary, fleet, replicas, predicted latency, cost per item, training and notes."""
    out = [Section("Summary", ["", ""], [
        ["status", p.status],
        ["cost", f"${p.cost_per_hour:,.2f}/hour (${p.cost_per_hour * 8760:,.0f}/year)"],
        ["lower bound", f"${p.lower_bound_per_hour:,.2f}/hour"], ["gap", f"{p.gap:.2%}"]]
        + ([["buy now", f"${p.bill.upfront_capex_usd:,.0f} upfront capex"]] if p.bill is not None else [])
        + [[f"vs {name}", _baseline(b)] for name, b in p.baselines.items()], numeric_from=1)]
    out.append(Section("Fleet (GPUs owned after purchases; rentals per period)",
                       ["site", "gpu", "owned", "bought", "rented per period"],
                       [[s, g, str(n), str(p.purchases.get(s, {}).get(g, 0)),
                         ", ".join(f"{k}: {v}" for k, v in p.rentals.get(s, {}).get(g, {}).items()) or "-"]
                        for s, types in p.fleet.items() for g, n in types.items()
                        if n or p.rentals.get(s, {}).get(g)], numeric_from=2))
    out.append(Section("Replicas per period", ["service", "period", "replicas"],
                       [[sv, period, "; ".join(_group(r) for r in rows)]
                        for sv, periods in p.replicas.items() for period, rows in periods.items()]))
    out.append(Section("Predicted p95 latency at planned load (ms)", ["service", "TTFT", "TPOT", "end-to-end"],
                       [[sv, f"{v['ttft_p95_ms']:,.0f}", f"{v['tpot_p95_ms']:.1f}", f"{v['e2e_p95_ms']:,.0f}"]
                        for sv, v in p.predicted_slo.items()], numeric_from=1))
    out.append(Section("Cost per hour by item", ["item", "$/hour"],
                       [[k, f"{v:,.3f}"] for k, v in p.cost_breakdown.items() if v], numeric_from=1))
    if p.bill is not None:
        out += bill_sections(p.bill)
    if p.training:
        out.append(Section("Training", ["job", "GPUs per window (site/gpu/period)", "cloud burst GPU-hours"],
                           [[j, ", ".join(f"{r.site}/{r.gpu}/{r.period}: {r.gpus}" for r in t.runs) or "-",
                             f"{t.burst_gpu_hours:,.1f}"] for j, t in p.training.items()], numeric_from=2))
    if p.infeasibility or p.warnings:
        out.append(Section("Notes", ["", ""], [["!", x] for x in p.infeasibility + p.warnings]))
    return out


def _ms(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def bill_sections(b) -> list[Section]:
    """What to buy and its capex, the prices and assumptions with their sources, the cost per
    period and per service, and each service's SLO beside its predicted and simulated p95s."""
    periods = list(b.cost_per_period)
    out = [Section("Buy now", ["site", "gpu", "GPUs", "$/GPU", "upfront $", "amortised over", "price from"],
                   [[x.site, x.gpu, str(x.gpus), f"{x.usd_per_gpu:,.0f}", f"{x.upfront_usd:,.0f}",
                     f"{x.amortization_years:g} years", x.source] for x in b.purchases], numeric_from=2),
           Section("Prices and assumptions", ["item", "value", "unit", "source"],
                   [[a.item, f"{a.value:,.4g}", a.unit, a.source] for a in b.assumptions]),
           Section("Cost per period and per service ($/hour while the period runs)", ["", *periods],
                   [["total", *(f"{b.cost_per_period[q]:,.2f}" for q in periods)]]
                   + [[who, *(f"{per.get(q, 0.0):,.2f}" for q in periods)] for who, per in b.cost_per_service.items()],
                   numeric_from=1),
           Section("SLO per service and period: target / predicted / simulated p95 (ms)",
                   ["service", "period", "headroom", "redundancy", "TTFT", "TPOT", "end-to-end", "holds"],
                   [[c.service, c.period, f"{c.headroom:.0%}", c.redundancy,
                     *(f"{_ms(c.target[m])} / {_ms(c.predicted[m])} / {_ms(c.simulated[m]) if c.simulated else '-'}"
                       for m in ("ttft_p95_ms", "tpot_p95_ms", "e2e_p95_ms")),
                     "-" if c.meets_slo is None else ("yes" if c.meets_slo else "NO")] for c in b.slo])]
    return out


__all__ = ["Section", "bill_sections", "plan_sections"]
