"""Kubernetes manifests for a plan: one Deployment per service and slot kind, asking the NVIDIA
device plugin for what the plan chose - whole GPUs (`nvidia.com/gpu`, tp of them), a MIG instance
(`nvidia.com/mig-<profile>`, the plugin's mixed strategy) or a time-sliced share (`nvidia.com/gpu`
advertised n times per GPU by the plugin's time-slicing config, written as a ConfigMap).

Replicas are the plan's peak over its periods; the per-period counts ride along as an annotation
for whatever scales the Deployment by schedule."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from gpuopt.catalog import gpu as get_gpu, model as get_model
from gpuopt.errors import InvalidInputError, OutputError
from gpuopt.files import write_atomic

# Engine flags per precision (vLLM's --quantization / --dtype).
QUANTIZATION = {"fp16": ["--dtype", "float16"], "bf16": ["--dtype", "bfloat16"], "fp8": ["--quantization", "fp8"],
                "int8": ["--quantization", "bitsandbytes"], "int4": ["--quantization", "awq"]}


def _name(*parts: str) -> str:
    """A DNS-1123 name from the parts."""
    s = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return s[:63].rstrip("-")


def _digest(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:6]


def _service_labels(names: list[str]) -> dict[str, str]:
    """One DNS-1123 label per service; names that clean up to the same label (`chat.v1`, `chat_v1`)
    each get a suffix from their own name, so no service's objects overwrite another's."""
    by_label: dict[str, list[str]] = {}
    for n in names:
        by_label.setdefault(_name(n), []).append(n)
    return {n: label if len(group) == 1 else _name(label[:56], _digest(n))
            for label, group in by_label.items() for n in group}


def _unique_names(objects: list[tuple[tuple, dict[str, Any]]]) -> None:
    """Objects whose kind and name coincide (a 63-character cut, or a label clash) get a suffix from
    what they stand for; a clash that remains is refused rather than one object lost."""
    count: dict[tuple[str, str], int] = {}
    for _, obj in objects:
        k = (obj["kind"], obj["metadata"]["name"])
        count[k] = count.get(k, 0) + 1
    for identity, obj in objects:
        if count[(obj["kind"], obj["metadata"]["name"])] > 1:
            obj["metadata"]["name"] = _name(obj["metadata"]["name"][:56], _digest(*identity))
    names = [(obj["kind"], obj["metadata"]["name"]) for _, obj in objects]
    if len(set(names)) != len(names):
        clash = sorted({n for n in names if names.count(n) > 1})
        raise OutputError(f"objects would share the names {clash}: rename the services involved")


def _hf_repo(model_id: str) -> str:
    src = get_model(model_id).source
    m = re.match(r"https://huggingface.co/([^/]+/[^/]+)/", src)
    return m.group(1) if m else model_id


def _product(gpu_id: str) -> str:
    """The GPU Feature Discovery product label for a catalog GPU."""
    return get_gpu(gpu_id).name.replace(" ", "-")


def manifests(plan, scenario) -> list[dict[str, Any]]:
    """The Kubernetes objects for `plan` (from gpuopt.plan(scenario))."""
    if not plan.has_plan:
        raise InvalidInputError(f"plan is {plan.status}: there is nothing to deploy")
    services = {s.name: s for s in scenario.services}
    groups: dict[tuple, tuple[Any, dict[str, int]]] = {}   # one Deployment each: (a replica group, per period)
    for sv, period, r in plan.groups():
        _, per_period = groups.setdefault((sv, r.site, r.gpu, r.slot, r.tp, r.precision), (r, {}))
        per_period[period] = per_period.get(period, 0) + r.replicas
    out: list[dict[str, Any]] = []
    named: list[tuple[tuple, dict[str, Any]]] = []
    service_label = _service_labels(sorted(services))
    sliced: dict[str, int] = {}
    for (sv, site, gpu, slot, tp, precision), (r, per_period) in sorted(groups.items(), key=lambda kv: kv[0]):
        service = services[sv]
        if r.kind == "fraction":
            sliced[gpu] = max(sliced.get(gpu, 1), r.fraction)
            resources, kind = {"nvidia.com/gpu": 1}, f"{r.fraction}-way time share"
        elif r.kind == "mig":
            resources, kind = {f"nvidia.com/mig-{r.mig_profile}": 1}, f"MIG {r.mig_profile}"
        else:
            resources, kind = {"nvidia.com/gpu": tp}, f"{tp} whole GPU(s)"
        name = _name(service_label[sv], site, slot.replace("/", "-"), f"tp{tp}" if tp > 1 else "")
        labels = {"app.kubernetes.io/name": service_label[sv], "app.kubernetes.io/managed-by": "gpuopt"}
        args = ["--model", _hf_repo(service.model), "--tensor-parallel-size", str(tp), *QUANTIZATION[precision]]
        out.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels, "annotations": {
                "gpuopt.io/slot": f"{slot} ({kind})", "gpuopt.io/replicas-per-period":
                    ", ".join(f"{p}={n}" for p, n in per_period.items()), "gpuopt.io/plan": plan.scenario}},
            "spec": {
                "replicas": max(per_period.values()),
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "nodeSelector": {"nvidia.com/gpu.product": _product(gpu), "gpuopt.io/site": site},
                        "containers": [{
                            "name": "server", "image": "vllm/vllm-openai:latest", "args": args,
                            "ports": [{"containerPort": 8000, "name": "http"}],
                            "resources": {"limits": resources, "requests": resources},
                        }],
                    },
                },
            },
        })
        named.append(((sv, site, gpu, slot, tp, precision), out[-1]))
    _unique_names(named)
    if sliced:
        config = {"version": "v1", "sharing": {"timeSlicing": {"resources": [
            {"name": "nvidia.com/gpu", "replicas": max(sliced.values())}]}}}
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "gpuopt-time-slicing", "namespace": "gpu-operator"},
                    "data": {"any": yaml.safe_dump(config, sort_keys=False)}})
    return out


class _NoAliases(yaml.SafeDumper):
    """Manifests spell every value out: no YAML anchors for shared dicts."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def export_k8s(plan, scenario, directory: str | Path) -> list[Path]:
    """Writes one YAML file per object into `directory`; returns their paths. Each file is written
    whole or not at all and never through a symbolic link (gpuopt.files)."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {d}: {e.strerror}") from None
    objects = manifests(plan, scenario)
    files = [f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml" for obj in objects]
    if len(set(files)) != len(files):  # names are unique per kind, so this is a bug, not a user error
        raise OutputError(f"two manifests would share a file name in {d}; nothing was written")
    return [write_atomic(d / f, yaml.dump(obj, Dumper=_NoAliases, sort_keys=False)) for f, obj in zip(files, objects)]


__all__ = ["export_k8s", "manifests"]
