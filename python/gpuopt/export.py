"""Kubernetes manifests for a plan: one Deployment per service and slot kind, asking the NVIDIA
device plugin for what the plan chose - whole GPUs (`nvidia.com/gpu`, tp of them), a MIG instance
(`nvidia.com/mig-<profile>`, the plugin's mixed strategy) or a time-sliced share (`nvidia.com/gpu`
advertised n times per GPU by the plugin's time-slicing config, written as a ConfigMap).

Replicas are the plan's peak over its periods; the per-period counts ride along as an annotation
for whatever scales the Deployment by schedule."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .catalog import gpu as get_gpu, model as get_model
from .errors import InvalidInputError

# Engine flags per precision (vLLM's --quantization / --dtype).
QUANTIZATION = {"fp16": ["--dtype", "float16"], "bf16": ["--dtype", "bfloat16"], "fp8": ["--quantization", "fp8"],
                "int8": ["--quantization", "bitsandbytes"], "int4": ["--quantization", "awq"]}


def _name(*parts: str) -> str:
    """A DNS-1123 name from the parts."""
    s = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return s[:63].rstrip("-")


def _hf_repo(model_id: str) -> str:
    src = get_model(model_id).source
    m = re.match(r"https://huggingface.co/([^/]+/[^/]+)/", src)
    return m.group(1) if m else model_id


def _product(gpu_id: str) -> str:
    """The GPU Feature Discovery product label for a catalog GPU."""
    return get_gpu(gpu_id).name.replace(" ", "-")


def manifests(plan, scenario) -> list[dict[str, Any]]:
    """The Kubernetes objects for `plan` (from gpuopt.plan(scenario))."""
    if plan.status not in ("optimal", "feasible"):
        raise InvalidInputError(f"plan is {plan.status}: there is nothing to deploy")
    services = {s.name: s for s in scenario.services}
    groups: dict[tuple, dict[str, int]] = {}
    for sv, periods in plan.replicas.items():
        for period, rows in periods.items():
            for r in rows:
                key = (sv, r["site"], r["gpu"], r["slot"], r["tp"], r["precision"])
                groups.setdefault(key, {})[period] = groups.get(key, {}).get(period, 0) + r["replicas"]
    out: list[dict[str, Any]] = []
    sliced: dict[str, int] = {}
    for (sv, site, gpu, slot, tp, precision), per_period in sorted(groups.items()):
        service = services[sv]
        if "/" in slot and slot.endswith("x"):  # time-sliced share
            n = int(slot.rsplit("/", 1)[1][:-1])
            sliced[gpu] = max(sliced.get(gpu, 1), n)
            resources, kind = {"nvidia.com/gpu": 1}, f"{n}-way time share"
        elif "/" in slot:  # MIG instance
            profile = slot.rsplit("/", 1)[1]
            resources, kind = {f"nvidia.com/mig-{profile}": 1}, f"MIG {profile}"
        else:
            resources, kind = {"nvidia.com/gpu": tp}, f"{tp} whole GPU(s)"
        name = _name(sv, site, slot.replace("/", "-"), f"tp{tp}" if tp > 1 else "")
        labels = {"app.kubernetes.io/name": _name(sv), "app.kubernetes.io/managed-by": "gpuopt"}
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
    """Writes one YAML file per object into `directory`; returns their paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for obj in manifests(plan, scenario):
        p = d / f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        p.write_text(yaml.dump(obj, Dumper=_NoAliases, sort_keys=False))
        paths.append(p)
    return paths


__all__ = ["export_k8s", "manifests"]
