"""The export implements the plan: manifests that pass the Kubernetes schemas, ask in every period for
exactly the GPUs the plan uses, label nodes the way NVIDIA's GPU Feature Discovery and GPU Operator
do, and run vLLM with flags that vLLM has. Everything here reads the written objects as a cluster
would, not gpuopt's internals."""

import json
import math
import re
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

import gpuopt
from gpuopt import InvalidInputError
from gpuopt.errors import OutputError
from gpuopt.output import schedule
from gpuopt.output.commands import script
from gpuopt.output.k8s import devices, export_k8s, manifests

DATA = Path(__file__).parent / "data"
EXAMPLES = ["examples/enterprise.yaml", *sorted(str(p) for p in Path("examples/scenarios").glob("*.yaml"))]
DEVICE_PLUGIN_RESOURCE = re.compile(r"^(nvidia\.com/(gpu|mig-[1-7]g\.\d+gb)|amd\.com/gpu|google\.com/tpu|"
                                    r"aws\.amazon\.com/neuron|habana\.ai/gaudi)$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
VLLM = yaml.safe_load((DATA / "vllm_v0.6.3.post1_flags.yaml").read_text())
OPERATOR = yaml.safe_load((DATA / "gpu_operator_configs.yaml").read_text())


@cache
def _plan(path):
    scn = gpuopt.load_scenario(path)
    return gpuopt.plan(scn, threads=1, baselines=False), scn


@cache
def _objects(path):
    return manifests(*_plan(path))


def _by_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


@pytest.mark.parametrize("path", EXAMPLES)
def test_every_example_exports_manifests_that_pass_strict_validation(path):
    for o in _objects(path):
        for version in ("1.30.0", "1.37.0"):     # CronJob.timeZone is GA from 1.27
            kubernetes_validate.validate(o, version, strict=True)
        assert LABEL_VALUE.match(o["metadata"]["name"]) and len(o["metadata"]["name"]) <= 63


def _period_counts(objs, periods):
    """Deployment -> period -> replicas, read from the switching jobs' kubectl scale steps (or the
    Deployments themselves where nothing switches)."""
    counts = {d["metadata"]["name"]: {p: d["spec"]["replicas"] for p in periods} for d in _by_kind(objs, "Deployment")}
    for cj in _by_kind(objs, "CronJob"):
        period = cj["metadata"]["annotations"].get("gpuopt.io/period")
        pod = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        if not cj["metadata"]["name"].startswith("gpuopt-enter-"):
            continue
        for c in pod.get("initContainers", []) + pod["containers"]:
            if c["args"][0] == "scale":
                n = int(next(a for a in c["args"] if a.startswith("--replicas=")).split("=")[1])
                for a in c["args"]:
                    if a.startswith("deployment/"):
                        counts[a.split("/", 1)[1]][period] = n
    return counts


def _node_labels(objs, period):
    """gpuopt.io/node -> labels the period's switch sets."""
    out = {}
    for o in _by_kind(objs, "CronJob") + _by_kind(objs, "Job"):
        if o["metadata"]["annotations"].get("gpuopt.io/period") != period or not o["metadata"]["name"].startswith(
                "gpuopt-enter-"):
            continue
        spec = o["spec"]["jobTemplate"]["spec"] if o["kind"] == "CronJob" else o["spec"]
        pod = spec["template"]["spec"]
        for c in pod.get("initContainers", []) + pod["containers"]:
            if c["args"][0] == "label":
                node = c["args"][c["args"].index("-l") + 1].split("=", 1)[1]
                out[node] = dict(a.split("=", 1) for a in c["args"] if "=" in a and not a.startswith("gpuopt.io/"))
    return out


def _product_to_gpu():
    return {d.label_value: d.id for d in devices().values()}


def _plan_usage(p, period):
    """(site, gpu) -> GPUs the plan uses in the period: whole replicas, MIG and time-sliced GPUs, training."""
    used = {}
    for _, per, r in p.groups():
        if per == period and r.kind == "gpu":
            used[(r.site, r.gpu)] = used.get((r.site, r.gpu), 0) + r.tp * r.replicas
    for site, types in p.mig_layouts.items():
        for gpu, per in types.items():
            used[(site, gpu)] = used.get((site, gpu), 0) + sum(per.get(period, {}).values())
    for site, types in p.time_sliced.items():
        for gpu, per in types.items():
            used[(site, gpu)] = used.get((site, gpu), 0) + sum(per.get(period, {}).values())
    for tp in p.training.values():
        for run in tp.runs:
            if run.period == period:
                used[(run.site, run.gpu)] = used.get((run.site, run.gpu), 0) + run.gpus
    return {k: v for k, v in used.items() if v}


@pytest.mark.parametrize("path", EXAMPLES)
def test_gpus_requested_in_every_period_are_the_plans(path):
    p, scn = _plan(path)
    objs = _objects(path)
    periods = [x.name for x in scn.periods]
    counts = _period_counts(objs, periods)
    product = _product_to_gpu()
    mig_configs = {}
    for cm in _by_kind(objs, "ConfigMap"):
        if "config.yaml" in cm["data"]:
            mig_configs = yaml.safe_load(cm["data"]["config.yaml"])["mig-configs"]
    for period in periods:
        whole, mig_requests, shares = {}, {}, {}
        for d in _by_kind(objs, "Deployment"):
            pod = d["spec"]["template"]["spec"]
            sel = pod["nodeSelector"]
            value = sel["nvidia.com/gpu.product"]
            key = (sel["gpuopt.io/site"], product[value.removesuffix("-SHARED")])
            n = counts[d["metadata"]["name"]][period]
            (res, q), = pod["containers"][0]["resources"]["limits"].items()
            if res.startswith("nvidia.com/mig-"):
                mig_requests.setdefault(key, {}).setdefault(res.removeprefix("nvidia.com/mig-"), 0)
                mig_requests[key][res.removeprefix("nvidia.com/mig-")] += n
            elif value.endswith("-SHARED"):
                ways = int(sel["nvidia.com/gpu.replicas"])
                shares[key + (ways,)] = shares.get(key + (ways,), 0) + n
            else:
                whole[key] = whole.get(key, 0) + n * int(q)
        for t in _by_kind(objs, "CronJob") + _by_kind(objs, "Job"):
            if "gpuopt.io/gpus" in t["metadata"].get("annotations", {}) and t["metadata"]["annotations"][
                    "gpuopt.io/period"] == period:
                spec = t["spec"]["jobTemplate"]["spec"] if t["kind"] == "CronJob" else t["spec"]
                sel = spec["template"]["spec"]["nodeSelector"]
                key = (sel["gpuopt.io/site"], product[sel["nvidia.com/gpu.product"]])
                whole[key] = whole.get(key, 0) + spec["parallelism"]
        for job, tp in p.training.items():      # runs the scenario gives no image: GPUs left free for them
            if not next(j for j in scn.training if j.name == job).image:
                for run in tp.runs:
                    if run.period == period:
                        whole[(run.site, run.gpu)] = whole.get((run.site, run.gpu), 0) + run.gpus
        mig_gpus, instances = {}, {}
        nodes = _node_labels(objs, period)
        for node, labels in nodes.items():
            cfg = mig_configs.get(labels.get("nvidia.com/mig.config"), [])
            for entry in cfg:
                if entry["mig-enabled"]:
                    key = tuple(node.rsplit("-", 1)[0].split("-", 1))   # <site>-<gpu>-<k>
                    mig_gpus[key] = mig_gpus.get(key, 0) + len(entry["devices"])
                    for prof, c in entry["mig-devices"].items():
                        instances.setdefault(key, {}).setdefault(prof, 0)
                        instances[key][prof] += c * len(entry["devices"])
        for key, req in mig_requests.items():   # every MIG replica has an instance of its profile
            assert all(n <= instances.get(key, {}).get(prof, 0) for prof, n in req.items()), (period, key)
        requested = dict(whole)
        for key, n in mig_gpus.items():
            requested[key] = requested.get(key, 0) + n
        for (site, gpu, ways), n in shares.items():
            requested[(site, gpu)] = requested.get((site, gpu), 0) + math.ceil(n / ways)
        requested = {k: v for k, v in requested.items() if v}
        assert requested == _plan_usage(p, period), (path, period)


def test_product_labels_are_the_ones_gpu_feature_discovery_writes():
    fixture = yaml.safe_load((DATA / "gfd_product_labels.yaml").read_text())
    ours = devices()
    for gpu, label in fixture["labels"].items():
        assert ours[gpu].label_key == "nvidia.com/gpu.product" and ours[gpu].label_value == label
    for d in ours.values():
        assert LABEL_VALUE.match(d.label_value) and len(d.label_value + fixture["shared_suffix"]) <= 63
        assert d.source and DEVICE_PLUGIN_RESOURCE.match(d.resource)
    assert set(ours) == set(gpuopt.gpus())   # every catalog accelerator can be exported


def test_time_shared_pods_select_shared_nodes_and_the_plugin_config_matches_the_operators():
    objs = _objects("examples/scenarios/seed004_three_pods.yaml")
    (cm,) = [o for o in _by_kind(objs, "ConfigMap") if o["metadata"]["name"] == "gpuopt-device-plugin-config"]
    example = OPERATOR["time_slicing"]["example"]
    three = yaml.safe_load(cm["data"]["gpuopt-3-way"])
    assert set(three) == set(example) and three["sharing"]["timeSlicing"]["resources"] == [
        {"name": "nvidia.com/gpu", "replicas": 3}]
    assert "sharing" not in yaml.safe_load(cm["data"]["gpuopt-exclusive"])
    assert cm["metadata"]["namespace"] == "gpu-operator"
    for d in _by_kind(objs, "Deployment"):
        pod = d["spec"]["template"]["spec"]
        assert pod["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-40GB-SHARED"
        assert pod["nodeSelector"][OPERATOR["time_slicing"]["replicas_label"]] == "3"
        args = pod["containers"][0]["args"]
        assert args[args.index("--gpu-memory-utilization") + 1] == "0.3"   # 0.9 of the GPU, split 3 ways
    labels = _node_labels(objs, "all")
    assert labels == {"cloud-a100-40gb-0": {OPERATOR["time_slicing"]["node_label"]: "gpuopt-3-way"}}


MIG_FLEET = "tests/data/mig_one_period.yaml"


def _mig_periods(p) -> tuple[str, str]:
    """(the period whose plan has a MIG layout, the one without) of the MIG test fleet."""
    with_mig = set(p.mig_layouts["dc"]["a100-sxm-80gb"])
    (on,), (off,) = with_mig, {"day", "night"} - with_mig
    return on, off


def test_mig_layouts_become_mig_parted_configs_and_node_labels():
    p, _ = _plan(MIG_FLEET)
    objs = _objects(MIG_FLEET)
    (cm,) = [o for o in _by_kind(objs, "ConfigMap") if OPERATOR["mig_parted"]["config_map_key"] in o["data"]]
    cfg = yaml.safe_load(cm["data"]["config.yaml"])
    example = OPERATOR["mig_parted"]["example"]
    assert set(cfg) == set(example) and cfg["version"] == example["version"]
    allowed = {k for entry in example["mig-configs"]["custom-config"] for k in entry}
    for entries in cfg["mig-configs"].values():
        for e in entries:
            assert set(e) <= allowed and (e["devices"] == "all" or all(isinstance(i, int) for i in e["devices"]))
    on_period, off_period = _mig_periods(p)
    on_label = _node_labels(objs, on_period)["dc-a100-sxm-80gb-0"][OPERATOR["mig_parted"]["node_label"]]
    off_label = _node_labels(objs, off_period)["dc-a100-sxm-80gb-0"][OPERATOR["mig_parted"]["node_label"]]
    (layout, n), = p.mig_layouts["dc"]["a100-sxm-80gb"][on_period].items()
    on = [e for e in cfg["mig-configs"][on_label] if e["mig-enabled"]]
    assert len(on) == 1 and len(on[0]["devices"]) == n
    want = {}
    for prof in layout.split("+"):
        want[prof] = want.get(prof, 0) + 1
    assert on[0]["mig-devices"] == want
    assert off_label == "all-disabled"   # the other period has no MIG
    mig_pods = [d for d in _by_kind(objs, "Deployment")
                if any(k.startswith("nvidia.com/mig-") for k in d["spec"]["template"]["spec"]["containers"][0][
                    "resources"]["limits"])]
    assert mig_pods and all(d["spec"]["template"]["spec"]["nodeSelector"]["nvidia.com/gpu.product"] ==
                            "NVIDIA-A100-SXM4-80GB" for d in mig_pods)   # mixed strategy: the product stays


@pytest.mark.parametrize("path", EXAMPLES)
def test_vllm_flags_are_vllms_own(path):
    p, scn = _plan(path)
    services = {s.name: s for s in scn.services}
    for d in _by_kind(_objects(path), "Deployment"):
        c = d["spec"]["template"]["spec"]["containers"][0]
        assert c["command"] == ["vllm", "serve"] and c["image"].endswith(VLLM["version"])
        args = c["args"]
        flags = [a for a in args if a.startswith("--")]
        for f in flags:
            assert f in VLLM["flags"], f
            kind = VLLM["flags"][f]
            if kind != "flag":
                value = args[args.index(f) + 1]
                if isinstance(kind, list):
                    assert value in kind, (f, value)
                else:
                    {"int": int, "float": float, "str": str}[kind](value)
        sv = services[args[args.index("--served-model-name") + 1]]
        precision = d["metadata"]["annotations"]["gpuopt.io/precision"]
        assert int(args[args.index("--max-model-len") + 1]) == sv.longest_request_tokens
        assert "--kv-cache-dtype" not in args       # the planner sized the KV cache at 16 bits
        tp = int(args[args.index("--tensor-parallel-size") + 1])
        (q,) = c["resources"]["limits"].values()
        assert tp == (int(q) if "-SHARED" not in d["spec"]["template"]["spec"]["nodeSelector"][
            "nvidia.com/gpu.product"] and not any("mig-" in k for k in c["resources"]["limits"]) else 1)
        if precision in ("int4", "int8"):
            assert "--quantization" not in args and args[0] == sv.checkpoints[precision].split("@")[0]
        elif precision == "fp8":
            assert args[args.index("--quantization") + 1] == "fp8"
        else:
            assert args[args.index("--dtype") + 1] == {"fp16": "float16", "bf16": "bfloat16"}[precision]


def test_int4_without_a_quantized_checkpoint_is_refused_before_solving(run_cli, tmp_path):
    data = yaml.safe_load(open("examples/enterprise.yaml"))
    for s in data["services"]:
        s.pop("checkpoints", None)
    path = tmp_path / "no-checkpoints.yaml"
    path.write_text(yaml.safe_dump(data))
    r = run_cli("plan", str(path), "--export", "k8s", "--out", str(tmp_path / "k8s"))
    assert r.returncode == 2 and "checkpoints: {int4:" in r.stderr and "contracts-assistant" in r.stderr
    assert not (tmp_path / "k8s").exists()


def test_schedule_switches_as_each_period_begins():
    objs = _objects("examples/enterprise.yaml")
    crons = {o["metadata"]["name"]: o["spec"] for o in _by_kind(objs, "CronJob")}
    assert crons["gpuopt-enter-day"]["schedule"] == "0 8 * * *"
    assert crons["gpuopt-enter-night"]["schedule"] == "0 20 * * *"
    assert {c["timeZone"] for c in crons.values()} == {"Europe/Berlin"}
    counts = _period_counts(objs, ["day", "night"])
    p, _ = _plan("examples/enterprise.yaml")
    for name, per in counts.items():   # every deployment runs the plan's replicas in each period
        assert sum(per.values()) > 0, name
    assert sum(sum(per.values()) for per in counts.values()) == sum(
        r.replicas for rows in p.replicas.values() for per in rows.values() for r in per)
    # training runs in its window and stops at its end
    (train,) = [c for n, c in crons.items() if n.startswith("nightly-finetune")]
    assert train["schedule"] == "0 20 * * *" and train["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 12 * 3600
    # shrink before relabelling, grow after: leaving the MIG period, its replicas stop before the GPU
    # leaves MIG; entering it, they start after the GPU is in MIG
    p, _ = _plan(MIG_FLEET)
    on_period, off_period = _mig_periods(p)
    objs = _objects(MIG_FLEET)
    for period in ("day", "night"):
        (job,) = [o for o in _by_kind(objs, "CronJob") if o["metadata"]["name"] == f"gpuopt-enter-{period}"]
        pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        steps = [c["args"] for c in pod["initContainers"] + pod["containers"]]
        label = next(i for i, a in enumerate(steps) if a[0] == "label")
        mig = [i for i, a in enumerate(steps) if a[0] == "scale" and any(re.search(r"\dg-\d+gb", x) for x in a)]
        assert mig, (period, steps)
        assert (max(mig) < label) if period == off_period else (min(mig) > label), (period, steps)


def _periods(*ps):
    return gpuopt.Scenario(periods=ps, sites=[gpuopt.Site(name="dc", gpus=[gpuopt.GpuOffer(type="l4", owned=1)])])


def test_periods_must_tile_the_week():
    P = gpuopt.Period
    w = schedule.windows(_periods(P(name="weekday", hours=24, days_per_week=5, start="00:00"),
                                  P(name="weekend", hours=24, days_per_week=2, start="00:00")))
    assert [x.cron for x in w] == ["0 0 * * 1,2,3,4,5", "0 0 * * 0,6"]
    with pytest.raises(InvalidInputError, match="overlap at"):
        schedule.windows(_periods(P(name="a", hours=12, start="08:00"), P(name="b", hours=12, start="19:00")))
    with pytest.raises(InvalidInputError, match="no period covers Sun 07:00"):
        schedule.windows(_periods(P(name="a", hours=11, start="08:00"), P(name="b", hours=12, start="19:00")))
    with pytest.raises(InvalidInputError, match="no start time"):
        schedule.windows(_periods(P(name="a", hours=12), P(name="b", hours=12)))
    with pytest.raises(InvalidInputError, match="give days"):
        schedule.windows(_periods(P(name="a", hours=24, days_per_week=3, start="00:00")))
    assert schedule.static(_periods(P(name="all", hours=24)))
    with pytest.raises(ValueError, match="unknown time zone"):
        gpuopt.Scenario(timezone="Mars/Olympus", sites=[gpuopt.Site(name="dc", gpus=[gpuopt.GpuOffer(type="l4")])])


def test_a_layout_that_fits_no_node_is_refused_with_the_reason():
    """Tensor-parallel GPUs must share a node: 4 GPUs as nodes of 2 cannot hold a tp=4 replica."""
    data = yaml.safe_load(open("examples/enterprise.yaml"))
    for site in data["sites"]:
        for o in site["gpus"]:
            if o["type"] == "a100-sxm-80gb":
                o["gpus_per_node"] = 2
    scn = gpuopt.Scenario.model_validate(data)
    p, _ = _plan("examples/enterprise.yaml")
    with pytest.raises(OutputError, match="tensor-parallel GPUs finds no node with room.*gpus_per_node"):
        manifests(p, scn)


def test_nothing_to_export_from_an_infeasible_plan():
    scn = gpuopt.Scenario(sites=[gpuopt.Site(name="dc", gpus=[gpuopt.GpuOffer(type="l4")])],
                          services=[gpuopt.Service(name="x", model="llama-3-8b", rate=1, slo={"ttft_p95_ms": 1})])
    with pytest.raises(InvalidInputError, match="nothing to deploy"):
        manifests(gpuopt.plan(scn), scn)


def test_cli_export_writes_manifests_a_readme_and_commands(run_cli, tmp_path):
    r = run_cli("plan", "examples/scenarios/seed004_three_pods.yaml", "--no-verify", "--export", "k8s",
                "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    files = sorted(f.name for f in tmp_path.glob("*.yaml"))
    assert files[0] == "00-namespace-gpuopt.yaml" and len(files) == len(_objects(
        "examples/scenarios/seed004_three_pods.yaml"))
    readme = (tmp_path / "README.md").read_text()
    assert "kubectl apply -f ." in readme and "gpuopt.io/node=cloud-a100-40gb-0" in readme
    assert "devicePlugin" in readme and all(f in readme for f in files)
    r = run_cli("plan", MIG_FLEET, "--no-verify", "--export", "commands", "--out", str(tmp_path / "cmd"))
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "cmd" / "vllm-commands.sh").read_text()
    assert "nvidia-smi mig -i 0 -cgi" in text and re.search(r'"\$\(mig_uuid 0 \dg\.\d+gb \d\)"', text)
    r = run_cli("plan", "examples/scenarios/seed004_three_pods.yaml", "--export", "helm")
    assert r.returncode == 2
    schema = json.loads(run_cli("schema").stdout)
    assert schema["title"] == "Scenario" and "sites" in schema["required"]


def test_commands_are_valid_bash_with_one_port_per_replica(tmp_path):
    import subprocess

    for path in EXAMPLES:
        text = script(*_plan(path))
        f = tmp_path / "c.sh"
        f.write_text(text)
        assert subprocess.run(["bash", "-n", str(f)]).returncode == 0
        for block in text.split(";;"):
            ports = re.findall(r"--port (\d+)", block)
            assert len(ports) == len(set(ports))
    p, scn = _plan("examples/enterprise.yaml")
    text = script(p, scn)
    assert len(re.findall(r" vllm serve \S+ --served-model-name", text)) == sum(r.replicas for _, _, r in p.groups())


def _two_chat_services(tmp_path):
    """The enterprise example with its chat service twice, as `chat.v1` and `chat_v1`."""
    data = yaml.safe_load(open("examples/enterprise.yaml"))
    chat = next(s for s in data["services"] if s["name"] == "chat")
    data["services"] = [s for s in data["services"] if s["name"] != "chat"] + \
        [{**chat, "name": "chat.v1"}, {**chat, "name": "chat_v1", "rate": {"day": 20, "night": 3}}]
    # no time-slicing: a time-shared GPU takes a node of its own, which the 6 rented H100s would not
    # leave room for (the planner counts GPUs, not nodes); the names are what this is about
    data["sharing"] = "mig"
    path = tmp_path / "two-chats.yaml"
    path.write_text(yaml.safe_dump(data))
    return _plan(str(path))


def test_service_names_that_clean_up_alike_export_apart(tmp_path):
    p, scn = _two_chat_services(tmp_path)
    objs = manifests(p, scn)
    names = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert len(set(names)) == len(names)
    by_service: dict[str, set] = {}
    selectors = set()
    for o in _by_kind(objs, "Deployment"):
        by_service.setdefault(o["metadata"]["labels"]["app.kubernetes.io/name"], set()).add(o["metadata"]["name"])
        selectors.add(json.dumps(o["spec"]["selector"], sort_keys=True))
    assert len(selectors) == len(_by_kind(objs, "Deployment"))   # no Deployment adopts another's pods
    chat_labels = [label for label in by_service if label.startswith("chat-v1")]
    assert len(chat_labels) == 2 and all(re.match(r"^chat-v1-[0-9a-f]{6}$", label) for label in chat_labels)
    paths = export_k8s(p, scn, tmp_path / "k8s")
    assert len(paths) == len(objs) == len(set(paths))  # one file per object, none overwritten


def test_a_symlink_planted_in_the_output_folder_is_refused(tmp_path):
    p, scn = _plan("examples/enterprise.yaml")
    out = tmp_path / "k8s"
    out.mkdir()
    victim = tmp_path / "outside.txt"
    victim.write_text("keep me")
    first = manifests(p, scn)[0]
    (out / f"00-{first['kind'].lower()}-{first['metadata']['name']}.yaml").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        export_k8s(p, scn, out)
    assert victim.read_text() == "keep me"
    assert not [f for f in out.iterdir() if f.name.endswith(".tmp")]


def test_files_write_whole_plain_names_only(tmp_path):
    from gpuopt.files import write_atomic

    target = tmp_path / "a.yaml"
    write_atomic(target, "one: 1\n")
    write_atomic(target, b"two: 2\n")
    assert target.read_text() == "two: 2\n" and [f.name for f in tmp_path.iterdir()] == ["a.yaml"]
    with pytest.raises(OutputError, match="plain file name"):
        write_atomic(tmp_path / "..", "x")
    with pytest.raises(OutputError, match="cannot write"):
        write_atomic(tmp_path / "missing" / "a.yaml", "x")


def test_a_users_device_entry_and_image_win_over_the_shipped_ones():
    from gpuopt.output.k8s import Device

    p, scn = _plan("examples/enterprise.yaml")
    mine = Device("l4", "nvidia.com/gpu", "nvidia.com/gpu.product", "NVIDIA-L4-custom", "unused", "our lab's nodes")
    objs = manifests(p, scn, devices={"l4": mine}, images={"l4": "registry.example/vllm:v0.6.3.post1"})
    l4 = [d for d in _by_kind(objs, "Deployment") if "-l4-" in d["metadata"]["name"]]
    assert l4 and all(d["spec"]["template"]["spec"]["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-L4-custom"
                      and d["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/vllm:v0.6.3.post1"
                      for d in l4)
    with pytest.raises(InvalidInputError, match="no Kubernetes device entry.*devices="):
        from gpuopt.output.k8s import _device
        _device("my-npu", {}, {})
