"""Kubernetes objects that implement a plan, built with the official `kubernetes` client models:

- one Deployment per (service, site, slot, tp, precision), each with its own selector, running
  `vllm serve` with the plan's flags (gpuopt.output.engine_args) and asking the device plugin for
  what the plan chose: tp whole GPUs, a MIG instance (`nvidia.com/mig-<profile>`, mixed strategy)
  or one time-sliced replica of a GPU (on nodes GPU Feature Discovery marks `<product>-SHARED`);
- one Service per planned service over all its Deployments;
- per period, a CronJob that switches the cluster to it as the period begins (cron schedule in the
  scenario's time zone): it scales down what shrinks, relabels nodes for the GPU Operator (MIG
  layouts: `nvidia.com/mig.config`; time-slicing: `nvidia.com/device-plugin.config`), then scales
  up the rest, so in every period the GPUs requested are the plan's. CronJobs and kubectl rather
  than an autoscaler, because node labels and replica counts must change together and in order;
  each step is its own container (the kubectl image has no shell);
- the mig-parted config and the device plugin's time-slicing config for the GPU Operator, and the
  RBAC the switching jobs need; training jobs with an image as CronJobs over their windows.

Nodes are found by the labels users put on them (`gpuopt.io/site`, and `gpuopt.io/node` where
their MIG or time-slicing changes): `export_k8s` writes a README.md into the directory saying so."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Optional

import yaml

from gpuopt.errors import InvalidInputError, OutputError
from gpuopt.files import write_atomic
from gpuopt.output import engine_args, nodes as node_layout, schedule
from gpuopt.output.nodes import dns_label

KUBECTL_IMAGE = "registry.k8s.io/kubectl:v1.31.0"
GPU_OPERATOR_NAMESPACE = "gpu-operator"
MIG_CONFIG_MAP = "gpuopt-mig-parted-config"
SHARING_CONFIG_MAP = "gpuopt-device-plugin-config"
SWITCHER = "gpuopt-switch"          # service account and roles of the period jobs
MANAGED = {"app.kubernetes.io/managed-by": "gpuopt"}


@dataclass(frozen=True)
class Device:
    """How an accelerator appears on a node (data/k8s_devices.csv, with sources)."""
    id: str
    resource: str
    label_key: str
    label_value: str
    image: str
    source: str

    @property
    def nvidia(self) -> bool:
        return self.resource == "nvidia.com/gpu"


def devices() -> dict[str, Device]:
    text = resources.files("gpuopt").joinpath("data", "k8s_devices.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO("\n".join(ln for ln in text.splitlines() if ln and not ln.startswith("#"))))
    out = {}
    for r in rows:
        key, _, value = r["label"].partition("=")
        out[r["id"]] = Device(r["id"], r["resource"], key, value, r["image"], r["source"])
    return out


def _client():
    try:
        from kubernetes import client
    except ImportError:
        raise InvalidInputError("the Kubernetes export needs the official client: pip install 'gpuopt[k8s]'") from None
    return client


def _device(gpu: str, images: dict[str, str], overrides: dict[str, Device]) -> Device:
    """The device entry of a GPU type: the user's (`devices=`), else the shipped one; `images`
    replaces just its image."""
    known = {**devices(), **overrides}
    if gpu not in known:
        raise InvalidInputError(f"GPU {gpu!r} has no Kubernetes device entry (resource, node label, image): pass "
                                f"devices={{{gpu!r}: Device(...)}}; shipped: {', '.join(sorted(devices()))}")
    d = known[gpu]
    return Device(d.id, d.resource, d.label_key, d.label_value, images.get(gpu, d.image), d.source)


def _digest(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:6]


def _service_labels(names: list[str]) -> dict[str, str]:
    """One DNS-1123 label per service; names that clean up to the same label (`chat.v1`, `chat_v1`)
    each get a suffix from their own name, so no service's objects overwrite another's."""
    by_label: dict[str, list[str]] = {}
    for n in names:
        by_label.setdefault(dns_label(n), []).append(n)
    return {n: label if len(group) == 1 else dns_label(f"{label[:56]}-{_digest(n)}")
            for label, group in by_label.items() for n in group}


@dataclass
class _Group:
    """One Deployment: a service's replicas on one kind of slot, with their count per period."""
    service: str
    key: tuple
    group: Any                         # a plans.ReplicaGroup (the first period's; counts below)
    replicas: dict[str, int]
    name: str = ""


def _groups(plan, periods: list[str]) -> list[_Group]:
    by_key: dict[tuple, _Group] = {}
    for sv, period, r in plan.groups():
        key = node_layout.group_key(sv, r)
        g = by_key.setdefault(key, _Group(sv, key, r, {p: 0 for p in periods}))
        g.replicas[period] += r.replicas
    return [by_key[k] for k in sorted(by_key)]


def _name_groups(groups: list[_Group], service_label: dict[str, str]) -> None:
    """Deployment names: service, site, slot, tp; names that coincide (a 63-character cut, a label
    clash) get a suffix from what they stand for; a clash that remains is refused."""
    for g in groups:
        sv, site, _, slot, tp, precision = g.key
        g.name = dns_label("-".join([service_label[sv], site, slot.replace("/", "-"), f"tp{tp}" if tp > 1 else "",
                                     precision]).replace("--", "-"))
    names = [g.name for g in groups]
    for g in groups:
        if names.count(g.name) > 1:
            g.name = dns_label(f"{g.name[:56]}-{_digest(*g.key)}")
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise OutputError(f"Deployments would share the names {sorted({n for n in names if names.count(n) > 1})}: "
                          "rename the services involved")


def _resources(g: _Group, device: Device) -> dict[str, str]:
    """Extended resources of one pod, as Kubernetes quantities."""
    r = g.group
    if r.kind == "mig":
        return {f"nvidia.com/mig-{r.mig_profile}": "1"}
    if r.kind == "fraction":
        return {device.resource: "1"}
    return {device.resource: str(r.tp)}


def _node_selector(g: _Group, device: Device) -> dict[str, str]:
    r = g.group
    out = {"gpuopt.io/site": r.site}
    if r.kind == "fraction":
        if not device.nvidia:
            raise InvalidInputError(f"{r.gpu} is time-sliced in the plan, but only NVIDIA's device plugin time-slices")
        # GFD appends -SHARED to the product on time-sliced nodes and says how many ways
        out[device.label_key] = f"{device.label_value}-SHARED"
        out["nvidia.com/gpu.replicas"] = str(r.fraction)
    else:
        out[device.label_key] = device.label_value
    return out


def _deployment(c, g: _Group, service, service_label: str, device: Device, plan_name: str, first: str):
    r = g.group
    select = {"app.kubernetes.io/name": service_label, "gpuopt.io/deployment": g.name}
    labels = {**select, **MANAGED, "app.kubernetes.io/component": "server"}
    limits = _resources(g, device)
    env = [c.V1EnvVar(name="HUGGING_FACE_HUB_TOKEN", value_from=c.V1EnvVarSource(
        secret_key_ref=c.V1SecretKeySelector(name="hf-token", key="token", optional=True)))]
    env += [c.V1EnvVar(name=k, value=v) for k, v in engine_args.environment(service).items()]
    container = c.V1Container(
        name="vllm", image=device.image, command=["vllm", "serve"], args=engine_args.vllm_args(service, r),
        env=env, ports=[c.V1ContainerPort(container_port=engine_args.PORT, name="http")],
        resources=c.V1ResourceRequirements(limits=limits, requests=dict(limits)),
        readiness_probe=c.V1Probe(http_get=c.V1HTTPGetAction(path="/health", port="http"), period_seconds=10),
        volume_mounts=[c.V1VolumeMount(name="shm", mount_path="/dev/shm")])
    kind = {"mig": f"MIG {r.mig_profile}", "fraction": f"1/{r.fraction} time share"}.get(r.kind, f"{r.tp} whole GPU(s)")
    return c.V1Deployment(
        api_version="apps/v1", kind="Deployment",
        metadata=c.V1ObjectMeta(name=g.name, labels=labels, annotations={
            "gpuopt.io/plan": plan_name, "gpuopt.io/slot": f"{r.slot} ({kind})", "gpuopt.io/precision": r.precision,
            "gpuopt.io/replicas-per-period": ", ".join(f"{p}={n}" for p, n in g.replicas.items()),
            "gpuopt.io/capacity-rps-per-replica": f"{r.capacity_rps:.4g}"}),
        spec=c.V1DeploymentSpec(
            replicas=g.replicas[first], selector=c.V1LabelSelector(match_labels=select),
            template=c.V1PodTemplateSpec(
                metadata=c.V1ObjectMeta(labels=labels),
                spec=c.V1PodSpec(node_selector=_node_selector(g, device), containers=[container],
                                 volumes=[c.V1Volume(name="shm", empty_dir=c.V1EmptyDirVolumeSource(medium="Memory"))]))))


def _service_object(c, name: str, label: str):
    return c.V1Service(api_version="v1", kind="Service", metadata=c.V1ObjectMeta(
        name=label, labels={"app.kubernetes.io/name": label, **MANAGED}, annotations={"gpuopt.io/service": name}),
        spec=c.V1ServiceSpec(selector={"app.kubernetes.io/name": label},
                             ports=[c.V1ServicePort(name="http", port=engine_args.PORT, target_port="http")]))


def _step(c, i: int, what: str, args: list[str], image: str):
    return c.V1Container(name=dns_label(f"step-{i:02d}-{what}")[:63], image=image, args=args)


def _switch_job(c, period: str, groups: list[_Group], previous: Optional[str], labels: dict[str, dict[str, str]],
                image: str, namespace: str):
    """The pod spec that brings the cluster into `period`: every Deployment gets its count (those
    that shrink first, so freed GPUs can be repartitioned), then the node labels, then the rest."""
    steps: list[tuple[str, list[str]]] = []

    def scale(batch: list[_Group], phase: str) -> None:
        by_count: dict[int, list[str]] = {}
        for g in batch:
            by_count.setdefault(g.replicas[period], []).append(g.name)
        for n, names in sorted(by_count.items()):
            steps.append((f"{phase}-to-{n}", ["scale", "-n", namespace, f"--replicas={n}",
                                              *[f"deployment/{d}" for d in names]]))

    down = [g for g in groups if previous is not None and g.replicas[period] < g.replicas[previous]]
    scale(down, "shrink")
    for node, want in labels.items():
        steps.append((f"label-{node}", ["label", "nodes", "-l", f"gpuopt.io/node={node}", "--overwrite",
                                        *[f"{k}={v}" for k, v in want.items()]]))
    scale([g for g in groups if g not in down], "scale")
    if not steps:
        steps.append(("nothing-to-do", ["version", "--client"]))
    containers = [_step(c, i, what, args, image) for i, (what, args) in enumerate(steps, 1)]
    return c.V1PodSpec(service_account_name=SWITCHER, restart_policy="Never",
                       init_containers=containers[:-1] or None, containers=containers[-1:])


def _job_spec(c, pod, labels: dict[str, str], deadline_s: Optional[int] = None, **kw):
    return c.V1JobSpec(backoff_limit=3, ttl_seconds_after_finished=86400, active_deadline_seconds=deadline_s,
                       template=c.V1PodTemplateSpec(metadata=c.V1ObjectMeta(labels=labels), spec=pod), **kw)


def _rbac(c, namespace: str) -> list:
    meta = lambda **kw: c.V1ObjectMeta(name=SWITCHER, labels=dict(MANAGED), **kw)  # noqa: E731
    subject_cls = getattr(c, "RbacV1Subject", None) or getattr(c, "V1Subject")
    subject = subject_cls(kind="ServiceAccount", name=SWITCHER, namespace=namespace)
    return [
        c.V1ServiceAccount(api_version="v1", kind="ServiceAccount", metadata=meta(namespace=namespace)),
        c.V1Role(api_version="rbac.authorization.k8s.io/v1", kind="Role", metadata=meta(namespace=namespace), rules=[
            c.V1PolicyRule(api_groups=["apps"], resources=["deployments", "deployments/scale"],
                           verbs=["get", "list", "patch", "update"])]),
        c.V1RoleBinding(api_version="rbac.authorization.k8s.io/v1", kind="RoleBinding",
                        metadata=meta(namespace=namespace), subjects=[subject],
                        role_ref=c.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=SWITCHER)),
        c.V1ClusterRole(api_version="rbac.authorization.k8s.io/v1", kind="ClusterRole", metadata=meta(), rules=[
            c.V1PolicyRule(api_groups=[""], resources=["nodes"], verbs=["get", "list", "patch"])]),
        c.V1ClusterRoleBinding(api_version="rbac.authorization.k8s.io/v1", kind="ClusterRoleBinding",
                               metadata=meta(), subjects=[subject],
                               role_ref=c.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole",
                                                    name=SWITCHER)),
    ]


def _mig_config_map(c, layout: node_layout.NodeLayout):
    """mig-parted's config (GPU Operator: migManager.config.name) with every node state's layout."""
    configs: dict[str, list] = {node_layout.MIG_OFF: [{"devices": "all", "mig-enabled": False}]}
    notes: dict[str, str] = {}
    for per in layout.states.values():
        for st in per.values():
            if st.mig:
                configs[st.mig_config_name()] = st.mig_config()
                notes[st.mig_config_name()] = ", ".join(f"GPU {i}: {m}" for i, m in enumerate(st.mig))
    text = "# written by gpuopt: one config per node layout of the plan\n" + "".join(
        f"# {name}: {note}\n" for name, note in sorted(notes.items()))
    text += yaml.safe_dump({"version": "v1", "mig-configs": configs}, sort_keys=False)
    return c.V1ConfigMap(api_version="v1", kind="ConfigMap", data={"config.yaml": text}, metadata=c.V1ObjectMeta(
        name=MIG_CONFIG_MAP, namespace=GPU_OPERATOR_NAMESPACE, labels=dict(MANAGED)))


def _sharing_config_map(c, layout: node_layout.NodeLayout, mig: bool):
    """The device plugin's configs (GPU Operator: devicePlugin.config.name), one per way of sharing:
    n-way time-slicing of nvidia.com/gpu, or none."""
    flags = {"migStrategy": "mixed" if mig else "none"}
    ways = sorted({st.shared for per in layout.states.values() for st in per.values() if st.shared > 1})
    data = {node_layout.EXCLUSIVE: yaml.safe_dump({"version": "v1", "flags": flags}, sort_keys=False)}
    for n in ways:
        data[f"gpuopt-{n}-way"] = yaml.safe_dump({"version": "v1", "flags": flags, "sharing": {"timeSlicing": {
            "resources": [{"name": "nvidia.com/gpu", "replicas": n}]}}}, sort_keys=False)
    return c.V1ConfigMap(api_version="v1", kind="ConfigMap", data=data, metadata=c.V1ObjectMeta(
        name=SHARING_CONFIG_MAP, namespace=GPU_OPERATOR_NAMESPACE, labels=dict(MANAGED)))


def _training(c, plan, scenario, windows: dict[str, schedule.Window], device_of, namespace: str):
    """Each training job with an image, as a CronJob per (site, GPU, period) of its runs: an Indexed
    Job of one pod per GPU (JOB_COMPLETION_INDEX is its rank) that the window's end stops."""
    out, left = [], []
    jobs = {j.name: j for j in scenario.training}
    for name, tp in sorted(plan.training.items()):
        job = jobs[name]
        for run in tp.runs:
            if not job.image:
                left.append(f"{name}: {run.gpus} {run.gpu} at {run.site} in {run.period}")
                continue
            device = device_of(run.gpu)
            label = dns_label(f"{dns_label(name)[:30]}-{run.site}-{run.gpu}-{run.period}")
            labels = {"app.kubernetes.io/name": dns_label(name), "gpuopt.io/training": label, **MANAGED}
            pod = c.V1PodSpec(restart_policy="Never", node_selector={"gpuopt.io/site": run.site,
                                                                     device.label_key: device.label_value},
                              containers=[c.V1Container(name="train", image=job.image, command=job.command,
                                                        resources=c.V1ResourceRequirements(
                                                            limits={device.resource: "1"},
                                                            requests={device.resource: "1"}))])
            w = windows.get(run.period)
            spec = _job_spec(c, pod, labels, deadline_s=w.minutes * 60 if w else None, parallelism=run.gpus,
                             completions=run.gpus, completion_mode="Indexed")
            meta = c.V1ObjectMeta(name=label, namespace=namespace, labels=labels, annotations={
                "gpuopt.io/gpus": str(run.gpus), "gpuopt.io/period": run.period})
            if w is None:
                out.append(c.V1Job(api_version="batch/v1", kind="Job", metadata=meta, spec=spec))
            else:
                out.append(c.V1CronJob(api_version="batch/v1", kind="CronJob", metadata=meta, spec=c.V1CronJobSpec(
                    schedule=w.cron, time_zone=scenario.timezone, concurrency_policy="Forbid",
                    job_template=c.V1JobTemplateSpec(metadata=c.V1ObjectMeta(labels=labels), spec=spec))))
    return out, left


def check_exportable(scenario) -> None:
    """What can be checked before solving: the schedule tiles the week, every service runs on vLLM
    and names a checkpoint for each ahead-quantized precision it allows."""
    if not schedule.static(scenario):
        schedule.windows(scenario)
    for sv in scenario.services:
        for precision in sv.precisions:
            engine_args.check_service(sv, precision)


@dataclass
class Export:
    objects: list[Any]            # kubernetes client models, in apply order
    layout: node_layout.NodeLayout
    groups: list[_Group]
    training_left: list[str]      # training runs without an image: GPUs left free for them


def build(plan, scenario, *, namespace: str = "gpuopt", kubectl_image: str = KUBECTL_IMAGE,
          images: Optional[dict[str, str]] = None, devices: Optional[dict[str, Device]] = None) -> Export:
    """Everything the export writes, as client models. `images` replaces the server image of a GPU
    type; `devices` gives (or replaces) a GPU type's whole device entry (resource, node label)."""
    if not plan.has_plan:
        raise InvalidInputError(f"plan is {plan.status}: there is nothing to deploy")
    c = _client()
    images, overrides = dict(images or {}), dict(devices or {})
    device_of = lambda gpu: _device(gpu, images, overrides)  # noqa: E731
    periods = [p.name for p in scenario.periods]
    windows = {} if schedule.static(scenario) else {w.period: w for w in schedule.windows(scenario)}
    services = {s.name: s for s in scenario.services}
    service_label = _service_labels(sorted(services))
    groups = _groups(plan, periods)
    _name_groups(groups, service_label)
    layout = node_layout.layout(plan, scenario)
    objects: list[Any] = [c.V1Namespace(api_version="v1", kind="Namespace", metadata=c.V1ObjectMeta(
        name=namespace, labels=dict(MANAGED)))]
    if layout.mig_managed:
        objects.append(_mig_config_map(c, layout))
    if layout.sharing_managed:
        objects.append(_sharing_config_map(c, layout, mig=bool(layout.mig_managed)))
    for sv in sorted({g.service for g in groups}):
        objects.append(_service_object(c, sv, service_label[sv]))
        objects[-1].metadata.namespace = namespace
    for g in groups:
        d = _deployment(c, g, services[g.service], service_label[g.service], device_of(g.group.gpu),
                        plan.scenario, periods[0])
        d.metadata.namespace = namespace
        objects.append(d)
    switching = bool(windows) or layout.mig_managed or layout.sharing_managed
    if switching:
        objects += _rbac(c, namespace)
    for j, p in enumerate(periods):
        previous = periods[j - 1] if len(periods) > 1 else None
        pod = _switch_job(c, p, groups, previous, layout.labels(p), kubectl_image, namespace)
        labels = {"gpuopt.io/period": dns_label(p), **MANAGED}
        name = dns_label(f"gpuopt-enter-{p}")
        meta = c.V1ObjectMeta(name=name, namespace=namespace, labels=labels, annotations={"gpuopt.io/period": p})
        if p in windows:
            objects.append(c.V1CronJob(api_version="batch/v1", kind="CronJob", metadata=meta, spec=c.V1CronJobSpec(
                schedule=windows[p].cron, time_zone=scenario.timezone, concurrency_policy="Forbid",
                starting_deadline_seconds=600,
                job_template=c.V1JobTemplateSpec(metadata=c.V1ObjectMeta(labels=labels),
                                                 spec=_job_spec(c, pod, labels)))))
        elif switching:      # one period: its node labels, applied once
            objects.append(c.V1Job(api_version="batch/v1", kind="Job", metadata=meta, spec=_job_spec(c, pod, labels)))
    training, left = _training(c, plan, scenario, windows, device_of, namespace)
    objects += training
    names = [(o.kind, o.metadata.namespace, o.metadata.name) for o in objects]
    if len(set(names)) != len(names):
        raise OutputError(f"objects would share names: {sorted({n for n in names if names.count(n) > 1})}")
    return Export(objects, layout, groups, left)


def manifests(plan, scenario, **kw) -> list[dict[str, Any]]:
    """The Kubernetes objects for `plan` (from gpuopt.plan(scenario)) as plain dicts."""
    c = _client()
    api = c.ApiClient()
    return [api.sanitize_for_serialization(o) for o in build(plan, scenario, **kw).objects]


class _NoAliases(yaml.SafeDumper):
    """Manifests spell every value out: no YAML anchors for shared dicts."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _readme(ex: Export, scenario, namespace: str, files: list[str]) -> str:
    """What each file does, the labels nodes need, and the order to apply them in."""
    lines = [f"# Kubernetes export of the plan for {scenario.name}", "",
             "Apply with `kubectl apply -f .` (in this directory). What each file is:", ""]
    for f, o in zip(files, ex.objects):
        note = (o.metadata.annotations or {}).get("gpuopt.io/slot") or (o.metadata.annotations or {}).get(
            "gpuopt.io/period", "")
        lines.append(f"- `{f}`: {o.kind} {o.metadata.name}{' (' + note + ')' if note else ''}")
    lines += ["", "## Nodes", "", "Label every GPU node with its site (`gpuopt.io/site=<site>`); the nodes below "
              "also need `gpuopt.io/node=<name>`, since the period jobs relabel them:", ""]
    for (site, gpu), ns in sorted(ex.layout.nodes.items()):
        managed = (site, gpu) in ex.layout.mig_managed or (site, gpu) in ex.layout.sharing_managed
        for n in ns:
            tag = f" gpuopt.io/node={n.label}" if managed else ""
            lines.append(f"- {n.gpus} x {gpu} at {site}{' (rented)' if n.rented else ''}: "
                         f"`kubectl label node <node> gpuopt.io/site={site}{tag}`")
    if ex.layout.mig_managed or ex.layout.sharing_managed:
        lines += ["", "## GPU Operator", "", "Point the ClusterPolicy at the configs this export writes:", ""]
        if ex.layout.mig_managed:
            lines.append(f"- `kubectl patch clusterpolicies.nvidia.com/cluster-policy --type merge -p "
                         f"'{{\"spec\": {{\"mig\": {{\"strategy\": \"mixed\"}}, \"migManager\": {{\"config\": "
                         f"{{\"name\": \"{MIG_CONFIG_MAP}\"}}}}}}}}'`")
        if ex.layout.sharing_managed:
            lines.append(f"- `kubectl patch clusterpolicies.nvidia.com/cluster-policy --type merge -p "
                         f"'{{\"spec\": {{\"devicePlugin\": {{\"config\": {{\"name\": \"{SHARING_CONFIG_MAP}\", "
                         f"\"default\": \"{node_layout.EXCLUSIVE}\"}}}}}}}}'`")
    periods = [p.name for p in scenario.periods]
    if not schedule.static(scenario):
        lines += ["", "## Schedule", "", f"Each `gpuopt-enter-<period>` CronJob switches the cluster as its period "
                  f"begins ({scenario.timezone}). After the first apply, switch to the period now running by hand:",
                  "", f"    kubectl -n {namespace} create job --from=cronjob/gpuopt-enter-<period> gpuopt-now", ""]
        for w in schedule.windows(scenario):
            lines.append(f"- {w.period}: `{w.cron}` for {w.minutes / 60:g} h")
    elif ex.layout.mig_managed or ex.layout.sharing_managed:
        lines += ["", f"The Job gpuopt-enter-{periods[0]} applies the node labels once."]
    if ex.training_left:
        lines += ["", "## Training left to you", "", "These training runs have no image in the scenario; their "
                  "GPUs are left free for them:", ""] + [f"- {t}" for t in ex.training_left]
    return "\n".join(lines) + "\n"


def export_k8s(plan, scenario, directory: str | Path, **kw) -> list[Path]:
    """Writes one YAML file per object into `directory` (numbered in apply order) and a README.md;
    returns the YAML files' paths. Each file is written whole or not at all and never through a
    symbolic link (gpuopt.files)."""
    d = Path(directory)
    ex = build(plan, scenario, **kw)
    api = _client().ApiClient()
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {d}: {e.strerror}") from None
    files = [f"{i:02d}-{o.kind.lower()}-{o.metadata.name}.yaml" for i, o in enumerate(ex.objects)]
    paths = [write_atomic(d / f, yaml.dump(api.sanitize_for_serialization(o), Dumper=_NoAliases, sort_keys=False))
             for f, o in zip(files, ex.objects)]
    write_atomic(d / "README.md", _readme(ex, scenario, kw.get("namespace", "gpuopt"), files))
    return paths


__all__ = ["Device", "Export", "build", "devices", "export_k8s", "manifests"]
