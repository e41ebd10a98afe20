"""Every way to run one replica of each service: a slot (whole GPU, MIG instance or time-shared
fraction) at a precision and tensor-parallel size, with the request rate it is planned to carry,
the best precision per slot kept and dominated candidates pruned before the model sees them; and,
for a service with none, why.

The planned rate of a candidate (docs/formulation.md, "capacities"):
  capacity = confirmed x CONFIRMED_SHARE x (1 - headroom)
where `confirmed` is the median, over nine seeded runs of 4,000 requests, of the largest Poisson
rate at which one replica, run by the discrete-event simulator, meets every p95 of the service's
SLO (gpuopt.capacity_many(simulated=True); the closed form only starts that search),
CONFIRMED_SHARE keeps the plan below what any three other seeds confirm (a p95 of a few thousand
latencies moves by a few %), and `headroom` is the share of capacity the scenario (or the
service) keeps free.

A `measured` rate replaces `confirmed`: given for a GPU type, it is the whole-GPU tp=1 replica's
rate, and every other slot of that GPU (MIG instances, fractions, tensor-parallel replicas) is
scaled by its simulated rate relative to the whole GPU's; given for a slot id (`a100-sxm-80gb/3g.40gb`,
`h100-sxm@tp2`), it is that slot's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from gpuopt.catalog import engine as get_engine, engine_on, model as get_model
from gpuopt.estimation.capacity import STATUS, capacity_many
from gpuopt.estimation.sharing import Slot, mig_profile, slots as gpu_slots
from gpuopt.planning import confirmed_cache
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
    confirmed_rps: float = 0.0   # the simulator's confirmed rate (before share and headroom)
    source: str = "simulated"    # where capacity_rps comes from: simulated, or a measured figure


TP_OPTIONS = (1, 2, 4, 8)
# of the simulator's confirmed rate. Measured on every candidate of the examples (scripts/capacity_margin.py):
# the rate three other seeds all confirm is, in 99 % of such checks, between 0.90 and 1.035 x the median of
# nine seeds' rates; at 0.90 x the median a plan meets its SLO there and is within 15 % of that rate.
CONFIRMED_SHARE = 0.90

_CONFIRMED: dict[str, float] = {}   # confirmed rates by key_text of everything that determines them
_CONFIRMED_MAX = 200_000
_DISK_READ = [False]


def confirmed_rates(rows: list[tuple[Service, Slot, str, int]]) -> np.ndarray:
    """The simulator-confirmed rate of each (service, slot, precision, tp), each distinct
    configuration simulated once (they are deterministic in their inputs): kept per process and on
    disk (gpuopt.planning.confirmed_cache)."""
    if not _DISK_READ[0]:
        _CONFIRMED.update(confirmed_cache.load())
        _DISK_READ[0] = True
    keys = []
    for sv, sl, p, tp in rows:
        keys.append(confirmed_cache.key_text((get_model(sv.model).row(), tuple(sl.gpu.row()), sl.request_delay_ms,
                                              engine_on(get_engine(sv.engine), sl).row(), p, tp,
                                              tuple(sv.requests.rows()),
                                              sv.slo.row())))
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k not in _CONFIRMED:
            first.setdefault(k, i)
    if first:
        idx = list(first.values())
        res = capacity_many([rows[i][0].model for i in idx], [rows[i][1] for i in idx],
                            requests=[rows[i][0].requests for i in idx], slo=[rows[i][0].slo for i in idx],
                            precision=[rows[i][2] for i in idx], engine=[rows[i][0].engine for i in idx],
                            tp=[rows[i][3] for i in idx], simulated=True)
        known = len(_CONFIRMED)
        if known + len(idx) > _CONFIRMED_MAX:
            _CONFIRMED.clear()
        new = {keys[i]: float(v) for i, v in zip(idx, res["confirmed_rps"])}
        _CONFIRMED.update(new)
        confirmed_cache.save(new, known)
    return np.array([_CONFIRMED[k] for k in keys], dtype=float)


def _tp_key(slot_id: str, tp: int) -> str:
    return slot_id if tp == 1 else f"{slot_id}@tp{tp}"


def planned_rate(sv: Service, scn: Scenario, sl: Slot, tp: int, confirmed: float, whole: float) -> tuple[float, str]:
    """(req/s planned per replica, where it comes from): `whole` is the confirmed rate of the same
    GPU whole at tp=1 (for scaling a measured whole-GPU rate)."""
    keep = 1.0 - (sv.headroom if sv.headroom is not None else scn.headroom)
    measured = sv.measured or {}
    key = _tp_key(sl.id, tp)
    if key in measured:
        return float(measured[key]) * keep, f"measured ({key})"
    if sl.parent in measured and whole > 0:
        return float(measured[sl.parent]) * confirmed / whole * keep, f"measured ({sl.parent}), scaled by simulation"
    return confirmed * CONFIRMED_SHARE * keep, "simulated"


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
            tps = [t for t in allowed_tp if m.splits(t)] \
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
    closest: dict[int, tuple[float, str]] = {}
    # the simulator confirms each slot's best precision by the closed form (one search per slot, not per precision)
    top: dict[tuple[int, str, int], int] = {}
    for i, (k, sl, _, tp) in enumerate(rows):
        if cap[i] > 0 and ((k, sl.id, tp) not in top or cap[i] > cap[top[(k, sl.id, tp)]]):
            top[(k, sl.id, tp)] = i
    ok = sorted(top.values())
    for i, (k, sl, p, tp) in enumerate(rows):
        if cap[i] <= 0 and STATUS[int(status[i])] == "slo-unmet":
            e2e = float(res["e2e_p95_ms"][i])
            if k not in closest or e2e < closest[k][0]:
                closest[k] = (e2e, f"{sl.id} ({p}): best p95 TTFT {res['ttft_p95_ms'][i]:.0f} ms, TPOT "
                                   f"{res['tpot_p95_ms'][i]:.1f} ms, end-to-end {e2e:.0f} ms")
    if scn.capacities == "closed-form":   # the formula's rate stands in for the simulator's, without the share
        conf = np.array([cap[i] / CONFIRMED_SHARE for i in ok])
    else:
        conf = confirmed_rates([(scn.services[rows[i][0]], rows[i][1], rows[i][2], rows[i][3]) for i in ok])
    whole: dict[tuple[int, str], float] = {}
    for i, r in zip(ok, conf):
        k, sl, _, tp = rows[i]
        if sl.kind == "gpu" and tp == 1:
            whole[(k, sl.parent)] = max(whole.get((k, sl.parent), 0.0), float(r))
    best: dict[tuple[int, str, int], Candidate] = {}
    for i, r in zip(ok, conf):
        k, sl, p, tp = rows[i]
        if r <= 0:
            if k not in closest:
                closest[k] = (math.inf, f"{sl.id} ({p}): the closed form's {cap[i]:.3g} req/s, which simulation "
                                        "does not confirm at any rate")
            continue
        c, source = planned_rate(scn.services[k], scn, sl, tp, float(r), whole.get((k, sl.parent), 0.0))
        key = (k, sl.id, tp)
        if key not in best or c > best[key].capacity_rps:
            best[key] = Candidate(k, sl.parent, sl, p, c, tp, float(res["ttft_p95_ms"][i]),
                                  float(res["tpot_p95_ms"][i]), float(res["e2e_p95_ms"][i]), float(r), source)
    for i, (k, sl, p, tp) in enumerate(rows):
        # a rate measured for exactly this slot wins even where the estimator finds none
        sv = scn.services[k]
        key = _tp_key(sl.id, tp)
        if cap[i] <= 0 and STATUS[int(status[i])] == "slo-unmet" and sv.measured and key in sv.measured \
                and (k, sl.id, tp) not in best:
            c, source = planned_rate(sv, scn, sl, tp, 0.0, 0.0)
            best[(k, sl.id, tp)] = Candidate(k, sl.parent, sl, p, c, tp, float(res["ttft_p95_ms"][i]),
                                             float(res["tpot_p95_ms"][i]), float(res["e2e_p95_ms"][i]), 0.0, source)
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
