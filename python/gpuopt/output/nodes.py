"""The plan laid onto servers: which node of each (site, GPU type) carries which MIG layout, which
is time-sliced n ways, and where each tensor-parallel replica and training GPU goes, per period.

The planner counts GPUs; a cluster configures nodes. Two rules of the NVIDIA GPU Operator make the
difference: the device plugin's time-slicing applies to every GPU of a node (so time-shared GPUs
need nodes of their own), and a replica's tensor-parallel GPUs must sit on one node. MIG layouts
are per device (mig-parted lists device indices), so they mix with whole GPUs on one node."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field

from gpuopt.errors import OutputError

EXCLUSIVE = "gpuopt-exclusive"   # device-plugin config of a node whose GPUs are not time-sliced
MIG_OFF = "all-disabled"         # mig-parted config of a node without MIG (the GPU Operator's own name)


def dns_label(text: str) -> str:
    s = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return s[:63].rstrip("-")


@dataclass(frozen=True)
class Node:
    """One server of a GPU type at a site; users label it gpuopt.io/node=<label>."""
    site: str
    gpu: str
    index: int
    gpus: int
    rented: bool

    @property
    def label(self) -> str:
        return dns_label(f"{self.site}-{self.gpu}-{self.index}")


@dataclass
class NodeState:
    """What one node holds in one period."""
    gpus: int                                          # GPUs present (0: a rented node not rented now)
    shared: int = 1                                    # n of its n-way time-slicing (1: none)
    mig: list[str] = field(default_factory=list)       # MIG layout of devices 0, 1, ...
    blocks: list[tuple[int, object]] = field(default_factory=list)  # (GPUs, owner): a replica's tp, a training GPU
    # where each replica runs: (owner, devices) for whole GPUs, (owner, device, profile, k-th such
    # instance on it) for MIG, (owner, device) for a time share
    whole: list[tuple[object, list[int]]] = field(default_factory=list)
    slices: list[tuple[object, int, str, int]] = field(default_factory=list)
    shares: list[tuple[object, int]] = field(default_factory=list)

    @property
    def free(self) -> int:
        return self.gpus - len(self.mig) - sum(b for b, _ in self.blocks)

    def place(self) -> None:
        """Device indices: MIG layouts first (as mig-parted lists them), whole-GPU blocks after."""
        self.mig.sort()
        at = len(self.mig)
        self.whole = []
        for size, owner in self.blocks:
            self.whole.append((owner, list(range(at, at + size))))
            at += size

    def mig_config(self) -> list[dict]:
        """mig-parted's entries for this node: runs of devices with one layout, the rest MIG-off."""
        entries: list[dict] = []
        for i, layout in enumerate(self.mig):
            counts: dict[str, int] = {}
            for profile in layout.split("+"):
                counts[profile] = counts.get(profile, 0) + 1
            if entries and entries[-1]["mig-devices"] == counts:
                entries[-1]["devices"].append(i)
            else:
                entries.append({"devices": [i], "mig-enabled": True, "mig-devices": counts})
        rest = list(range(len(self.mig), max(self.gpus, len(self.mig))))
        if rest:
            entries.append({"devices": rest, "mig-enabled": False})
        return entries

    def mig_config_name(self) -> str:
        if not self.mig:
            return MIG_OFF
        text = json.dumps(self.mig_config(), sort_keys=True)
        return f"gpuopt-mig-{hashlib.sha256(text.encode()).hexdigest()[:8]}"

    def sharing_config_name(self) -> str:
        return EXCLUSIVE if self.shared == 1 else f"gpuopt-{self.shared}-way"


@dataclass
class NodeLayout:
    nodes: dict[tuple[str, str], list[Node]]
    states: dict[str, dict[str, NodeState]]            # period -> node label -> state
    mig_managed: set[tuple[str, str]]                  # (site, type) whose nodes get nvidia.com/mig.config
    sharing_managed: set[tuple[str, str]]              # ... and nvidia.com/device-plugin.config

    def labels(self, period: str) -> dict[str, dict[str, str]]:
        """Node label -> the GPU Operator labels it carries in `period`."""
        out: dict[str, dict[str, str]] = {}
        for key, nodes in sorted(self.nodes.items()):
            for n in nodes:
                st = self.states[period][n.label]
                want = {}
                if key in self.mig_managed:
                    want["nvidia.com/mig.config"] = st.mig_config_name()
                if key in self.sharing_managed:
                    want["nvidia.com/device-plugin.config"] = st.sharing_config_name()
                if want:
                    out[n.label] = want
        return out


def _pack(where: str, per_node: int, present: list[int], shared: dict[int, int], mig: list[str],
          blocks: list[tuple[int, object]]) -> list[NodeState]:
    """Time-shared GPUs onto whole nodes first (smallest node that holds the rest, else the
    largest), then MIG GPUs and whole-GPU blocks first-fit by decreasing size."""
    states = [NodeState(gpus=g) for g in present]
    open_ = [i for i, g in enumerate(present) if g > 0]
    for n, count in sorted(shared.items(), reverse=True):
        while count > 0:
            if not open_:
                raise OutputError(f"{where}: {shared[n]} GPUs time-sliced {n} ways need nodes of their own (the "
                                  "device plugin shares every GPU of a node), and no node is left for them")
            fits = [i for i in open_ if present[i] >= count]
            i = min(fits, key=lambda i: present[i]) if fits else max(open_, key=lambda i: present[i])
            states[i].shared = n
            open_.remove(i)
            count -= present[i]
    items = sorted([(b, None, owner) for b, owner in blocks] + [(1, layout, None) for layout in mig],
                   key=lambda t: -t[0])
    for size, layout, owner in items:
        for i in open_:
            if states[i].free >= size:
                (states[i].mig.append(layout) if layout else states[i].blocks.append((size, owner)))
                break
        else:
            what = f"a MIG GPU ({layout})" if layout else f"a replica of {size} tensor-parallel GPUs"
            raise OutputError(f"{where}: {what} finds no node with room: a replica's GPUs must share one node and "
                              "time-shared GPUs take whole nodes. If the servers hold more GPUs, set the offer's "
                              f"gpus_per_node (it is {per_node})")
    for st in states:
        st.place()
    return states


def _assign_slices(where: str, states: list[NodeState], wanted: list[tuple[object, str]]) -> None:
    """Each MIG replica onto a free instance of its profile."""
    free = [(i, d, prof, k) for i, st in enumerate(states) for d, layout in enumerate(st.mig)
            for prof, k in _instances(layout)]
    for owner, profile in wanted:
        hit = next((f for f in free if f[2] == profile), None)
        if hit is None:
            raise OutputError(f"{where}: the plan's MIG layouts hold fewer {profile} instances than its replicas")
        free.remove(hit)
        states[hit[0]].slices.append((owner, hit[1], profile, hit[3]))


def _instances(layout: str) -> list[tuple[str, int]]:
    """(profile, k): the k-th instance of each profile in a layout."""
    seen: dict[str, int] = {}
    out = []
    for prof in layout.split("+"):
        out.append((prof, seen.get(prof, 0)))
        seen[prof] = seen.get(prof, 0) + 1
    return out


def _assign_shares(where: str, states: list[NodeState], wanted: list[tuple[object, int]]) -> None:
    """Each time-shared replica onto a GPU of a node shared that many ways, n per GPU."""
    room = {}
    for i, st in enumerate(states):
        if st.shared > 1:
            for d in range(st.gpus):
                room[(i, d)] = st.shared
    for owner, n in wanted:
        hit = next((k for k, left in room.items() if left > 0 and states[k[0]].shared == n), None)
        if hit is None:
            raise OutputError(f"{where}: the plan's {n}-way time-shared GPUs hold fewer shares than its replicas")
        room[hit] -= 1
        states[hit[0]].shares.append((owner, hit[1]))


def group_key(service: str, r) -> tuple:
    """What makes replicas one Deployment: service, site, GPU, slot, tp, precision."""
    return (service, r.site, r.gpu, r.slot, r.tp, r.precision)


def layout(plan, scenario) -> NodeLayout:
    """Every (site, GPU type)'s nodes and what each holds in each period."""
    periods = [p.name for p in scenario.periods]
    blocks: dict[tuple, list[tuple[int, object]]] = {}
    slices: dict[tuple, list[tuple[object, str]]] = {}
    shares: dict[tuple, list[tuple[object, int]]] = {}
    for sv, period, r in plan.groups():
        owner = group_key(sv, r)
        if r.kind == "gpu":
            blocks.setdefault((r.site, r.gpu, period), []).extend([(r.tp, owner)] * r.replicas)
        elif r.kind == "mig":
            slices.setdefault((r.site, r.gpu, period), []).extend([(owner, r.mig_profile)] * r.replicas)
        else:
            shares.setdefault((r.site, r.gpu, period), []).extend([(owner, r.fraction)] * r.replicas)
    for name, tp in plan.training.items():
        for run in tp.runs:
            blocks.setdefault((run.site, run.gpu, run.period), []).extend([(1, ("training", name))] * run.gpus)
    nodes: dict[tuple[str, str], list[Node]] = {}
    states: dict[str, dict[str, NodeState]] = {p: {} for p in periods}
    mig_managed, sharing_managed = set(), set()
    for site in scenario.sites:
        for offer in site.gpus:
            key = (site.name, offer.type)
            owned = plan.fleet.get(site.name, {}).get(offer.type, 0)
            rented = plan.rentals.get(site.name, {}).get(offer.type, {})
            if owned + max(rented.values(), default=0) == 0:
                continue
            per = offer.gpus_per_node
            built: list[Node] = []    # owned and bought nodes, then the rented ones (present while rented)
            for k in range(math.ceil(owned / per)):
                built.append(Node(site.name, offer.type, k, min(per, owned - k * per), rented=False))
            top = max(rented.values(), default=0)
            for k in range(math.ceil(top / per)):
                built.append(Node(site.name, offer.type, len(built), min(per, top - k * per), rented=True))
            nodes[key] = built
            mig_by_p = plan.mig_layouts.get(site.name, {}).get(offer.type, {})
            ts_by_p = plan.time_sliced.get(site.name, {}).get(offer.type, {})
            if any(mig_by_p.values()):
                mig_managed.add(key)
            if any(ts_by_p.values()):
                sharing_managed.add(key)
            for p in periods:
                left = rented.get(p, 0)
                present = []
                for n in built:
                    if n.rented:
                        present.append(min(n.gpus, left))
                        left -= present[-1]
                    else:
                        present.append(n.gpus)
                mig = [name for name, c in sorted(mig_by_p.get(p, {}).items()) for _ in range(c)]
                shared = {int(k.split("-")[0]): c for k, c in ts_by_p.get(p, {}).items()}
                where = f"period {p!r}, {offer.type} at {site.name}"
                packed = _pack(where, per, present, shared, mig, blocks.get(key + (p,), []))
                _assign_slices(where, packed, slices.get(key + (p,), []))
                _assign_shares(where, packed, shares.get(key + (p,), []))
                for n, st in zip(built, packed):
                    states[p][n.label] = st
    labels = [n.label for ns in nodes.values() for n in ns]
    if len(set(labels)) != len(labels):
        raise OutputError("two nodes would share a gpuopt.io/node label: rename the sites involved")
    return NodeLayout(nodes, states, mig_managed, sharing_managed)


__all__ = ["EXCLUSIVE", "MIG_OFF", "Node", "NodeLayout", "NodeState", "dns_label", "group_key", "layout"]
