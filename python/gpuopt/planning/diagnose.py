"""Why a scenario has no plan, in the user's terms: a service no slot can serve (with the best
latency any reaches), a locality rule that excludes every capable site, a training job its
windows cannot finish, or purchase and rental limits that bind - the last only once the model
with those limits lifted is solved and has a plan."""

from __future__ import annotations

from typing import Callable, Optional

from gpuopt.planning.candidates import Candidates
from gpuopt.planning.model import training_reach
from gpuopt.planning.scenario import Scenario
from gpuopt.planning.solve import found


def explain_infeasible(scn: Scenario, cands: Candidates, solve: Callable[..., object],
                       time_left: Optional[Callable[[], float]] = None) -> list[str]:
    """`solve(scenario, candidates, lift_limits=False)` -> Solved, with the plan's settings.
    `time_left()`: seconds the caller's budget has left; once none, no more services are solved
    alone (at scale there are thousands, each a solve), and the reason says which were not."""
    reasons = list(cands.problems)
    if reasons:
        return reasons
    for job in scn.training:
        window = sum(p.hours_per_day for p in scn.periods if not job.periods or p.name in job.periods)
        reach = training_reach(scn, job, window)
        if job.burst_usd_per_gpu_hour is None and reach < job.gpu_hours:
            reasons.append(f"training job {job.name!r} needs {job.gpu_hours:,.0f} GPU-hours within "
                           f"{job.deadline_days:g} days; its allowed GPUs, sites and periods give at most "
                           f"{reach:,.0f}, and it has no cloud burst price")
    if found(solve(scn, cands, lift_limits=True).status):
        alone, unchecked = [], 0
        for k, sv in enumerate(scn.services):
            if time_left is not None and time_left() <= 0:
                unchecked = len(scn.services) - k
                break
            one = scn.model_copy(update={"services": [sv], "training": []})
            # only a proof counts: a solve its time cut short says nothing about the service
            if solve(one, Candidates(by_service={0: cands.by_service.get(k, [])})).status == "infeasible":
                alone.append(sv.name)
        if alone:
            which = f" (alone, even: {', '.join(alone)})"
        elif unchecked:
            which = f" ({unchecked} of {len(scn.services)} services not checked alone in the time left)"
        else:
            which = " (by the services and jobs together)"
        reasons.append(f"purchase and rental limits bind{which}: with unlimited GPUs a plan exists; raise "
                       "max_purchase or max_rent at the sites they may use")
    return reasons or ["no plan meets every constraint"]


__all__ = ["explain_infeasible"]
