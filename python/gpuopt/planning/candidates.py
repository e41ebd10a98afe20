"""Every way to run one replica of each service: a slot (whole GPU, MIG instance or time-shared
fraction) at a precision and tensor-parallel size, with the request rate it sustains under the
service's p95 SLO (gpuopt.capacity_many, the Rust core), the best precision per slot kept and
dominated candidates pruned before the model sees them; and, for a service with none, why.

A `measured` capacity in the scenario replaces the estimate for whole-GPU tp=1 slots of that GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from gpuopt.catalog import model as get_model
from gpuopt.estimation.capacity import STATUS, capacity_many
from gpuopt.estimation.sharing import Slot, mig_profile, slots as gpu_slots
from gpuopt.planning.scenario import Scenario, Service


@dataclass
class Candidate:
    service: int
    gpu: str
    slot: Slot
    precision: str
    capacity_rps: float
    tp: int
    ttft_p95_ms: float
    tpot_p95_ms: float
    e2e_p95_ms: float


TP_OPTIONS = (1, 2, 4, 8)


@dataclass
class Candidates:
    by_service: dict[int, list[Candidate]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def allowed_sites(scn: Scenario, sv: Service) -> list[str]:
    return sv.sites or [s.name for s in scn.sites]


def candidates(scn: Scenario, sharing: Optional[str] = None, only_gpu: Optional[str] = None) -> Candidates:
    """Every way to run one replica of each service (best precision per slot), with the reasons a
    service has none."""
    sharing = sharing or scn.sharing
    types = sorted({o.type for s in scn.sites for o in s.gpus})
    if only_gpu is not None:
        types = [only_gpu]
    slot_list: list[Slot] = []
    for t in types:
        slot_list += [s for s in gpu_slots(t, fractions=scn.fractions)
                      if sharing == "all" or s.kind == "gpu" or (sharing == "mig" and s.kind == "mig")]
    rows = []
    for k, sv in enumerate(scn.services):
        m = get_model(sv.model)
        for sl in slot_list:
            # Whole GPUs with an interconnect may also split a replica tensor-parallel.
            allowed_tp = sv.tps or TP_OPTIONS
            tps = [t for t in allowed_tp if t in m.valid_tp(max(allowed_tp))] \
                if sl.kind == "gpu" and sl.gpu.interconnect_gb_s else [1]
            rows += [(k, sl, p, t) for p in sv.precisions for t in tps]
    out = Candidates()
    if not rows:
        return out
    res = capacity_many([scn.services[k].model for k, _, _, _ in rows], [sl for _, sl, _, _ in rows],
                        requests=[scn.services[k].requests for k, _, _, _ in rows],
                        slo=[scn.services[k].slo for k, _, _, _ in rows], precision=[p for _, _, p, _ in rows],
                        engine=[scn.services[k].engine for k, _, _, _ in rows], tp=[t for _, _, _, t in rows])
    cap, status = res["capacity_rps"], res["status"]
    best: dict[tuple[int, str], Candidate] = {}
    closest: dict[int, tuple[float, str]] = {}
    for i, (k, sl, p, tp) in enumerate(rows):
        sv = scn.services[k]
        c = float(cap[i])
        if sl.kind == "gpu" and tp == 1 and sv.measured and sl.parent in sv.measured:
            c = float(sv.measured[sl.parent])
        if c <= 0:
            if STATUS[int(status[i])] == "slo-unmet":
                e2e = float(res["e2e_p95_ms"][i])
                if k not in closest or e2e < closest[k][0]:
                    closest[k] = (e2e, f"{sl.id} ({p}): best p95 TTFT {res['ttft_p95_ms'][i]:.0f} ms, TPOT "
                                       f"{res['tpot_p95_ms'][i]:.1f} ms, end-to-end {e2e:.0f} ms")
            continue
        key = (k, sl.id, tp)
        if key not in best or c > best[key].capacity_rps:
            best[key] = Candidate(k, sl.parent, sl, p, c, tp, float(res["ttft_p95_ms"][i]),
                                  float(res["tpot_p95_ms"][i]), float(res["e2e_p95_ms"][i]))
    for (k, _, _), cand in best.items():
        out.by_service.setdefault(k, []).append(cand)
    for k in out.by_service:
        out.by_service[k] = prune_dominated(out.by_service[k])
    for k, sv in enumerate(scn.services):
        if out.by_service.get(k):
            offered = {o.type for s in scn.sites if s.name in allowed_sites(scn, sv) for o in s.gpus}
            if not any(c.gpu in offered for c in out.by_service[k]) and only_gpu is None:
                where = sorted({s.name for s in scn.sites for o in s.gpus if o.type in {c.gpu for c in out.by_service[k]}})
                out.problems.append(f"service {sv.name!r}: data locality (sites {', '.join(allowed_sites(scn, sv))}) "
                                    f"excludes every site with a GPU that can serve it ({', '.join(where)})")
            continue
        if k in closest:
            out.problems.append(f"service {sv.name!r}: no GPU meets its SLO {sv.slo.row()} ms (p95 TTFT, TPOT, e2e); "
                                f"the closest is {closest[k][1]}")
        else:
            out.problems.append(f"service {sv.name!r}: {sv.model} does not fit on any GPU offered "
                                f"({', '.join(types)}) at precisions {', '.join(sv.precisions)}")
    return out


def prune_dominated(cands: list[Candidate]) -> list[Candidate]:
    """Drops candidates another one of the same service and GPU type beats on every count, so the
    model keeps every plan that can be optimal:
    - whole GPUs at tp = t lose to tp = t' dividing t when t/t' replicas of the smaller serve as
      much (same GPUs, at least as many replicas);
    - a MIG profile loses to one holding a subset of its compute and memory slices that serves as
      much (the smaller instance fits wherever the larger was placed)."""
    keep = []
    for c in cands:
        dominated = False
        for d in cands:
            if d is c or d.gpu != c.gpu:
                continue
            if c.slot.kind == d.slot.kind == "gpu" and d.tp < c.tp and c.tp % d.tp == 0:
                dominated = (c.tp // d.tp) * d.capacity_rps >= c.capacity_rps
            elif c.slot.kind == d.slot.kind == "mig" and d.slot.profile != c.slot.profile:
                cp, dp = mig_profile(c.gpu, c.slot.profile), mig_profile(d.gpu, d.slot.profile)
                if dp["compute_slices"] <= cp["compute_slices"] and dp["memory_slices"] <= cp["memory_slices"]:
                    dominated = d.capacity_rps >= c.capacity_rps
            if dominated:
                break
        if not dominated:
            keep.append(c)
    return keep


__all__ = ["Candidate", "Candidates", "TP_OPTIONS", "allowed_sites", "candidates", "prune_dominated"]
