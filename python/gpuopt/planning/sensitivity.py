"""How the plan's cost moves with demand: the scenario planned again with every service's
request rate scaled (what the HTML report's cost-against-rate plot shows)."""

from __future__ import annotations

import math
from typing import Sequence

from gpuopt.planning.planner import plan
from gpuopt.planning.scenario import Scenario

SCALES = (0.25, 0.5, 1.0, 1.5, 2.0)


def cost_against_rate(scenario: Scenario, scales: Sequence[float] = SCALES,
                      time_limit_s: float = 30.0) -> list[tuple[float, float]]:
    """(rate scale, $/hour of the plan at that scale; NaN where no plan exists), baselines off."""
    out = []
    for k in scales:
        services = [s.model_copy(update={"rate": {p: r * k for p, r in s.rate.items()} if isinstance(s.rate, dict)
                                         else s.rate * k}) for s in scenario.services]
        p = plan(scenario.model_copy(update={"services": services}), time_limit_s=time_limit_s, threads=1,
                 baselines=False)
        out.append((float(k), p.cost_per_hour if p.has_plan else math.nan))
    return out


__all__ = ["SCALES", "cost_against_rate"]
