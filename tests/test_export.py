import json
import re

import pytest
import yaml

import gpuopt
from gpuopt import InvalidInputError
from gpuopt.output.k8s import export_k8s, manifests

DEVICE_PLUGIN_RESOURCE = re.compile(r"^nvidia\.com/(gpu|mig-[1-7]g\.\d+gb)$")


def _plan(path):
    scn = gpuopt.load_scenario(path)
    return gpuopt.plan(scn, threads=1, baselines=False), scn


def test_k8s_manifests_load_and_use_device_plugin_resources(tmp_path):
    p, scn = _plan("examples/scenarios/seed000_strategy_c.yaml")   # a plan with MIG slices
    assert p.mig_layouts
    paths = export_k8s(p, scn, tmp_path)
    objs = [yaml.safe_load(path.read_text()) for path in paths]
    deployments = [o for o in objs if o["kind"] == "Deployment"]
    assert deployments and all("&id" not in path.read_text() for path in paths)
    kinds = set()
    for d in deployments:
        res = d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert all(DEVICE_PLUGIN_RESOURCE.match(k) for k in res), res
        kinds.update(res)
        assert d["spec"]["replicas"] >= 1 and re.match(r"^[a-z0-9-]{1,63}$", d["metadata"]["name"])
    assert any(k.startswith("nvidia.com/mig-") for k in kinds)  # the plan's MIG slices became MIG resources
    # replicas are the peak over periods of what the plan runs on that slot
    total = {}
    for sv, periods in p.replicas.items():
        for period, rows in periods.items():
            for r in rows:
                total[(sv, period)] = total.get((sv, period), 0) + r.replicas
    assert sum(d["spec"]["replicas"] for d in deployments) >= max(total.values())


def test_time_sliced_plan_writes_the_plugin_config(tmp_path):
    p, scn = _plan("examples/scenarios/seed004_three_pods.yaml")
    objs = manifests(p, scn)
    cm = [o for o in objs if o["kind"] == "ConfigMap"]
    assert cm and yaml.safe_load(cm[0]["data"]["any"])["sharing"]["timeSlicing"]["resources"][0]["replicas"] == 3
    assert all(o["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": 1}
               for o in objs if o["kind"] == "Deployment")


def test_nothing_to_export_from_an_infeasible_plan():
    scn = gpuopt.Scenario(sites=[gpuopt.Site(name="dc", gpus=[gpuopt.GpuOffer(type="l4")])],
                          services=[gpuopt.Service(name="x", model="llama-3-8b", rate=1, slo={"ttft_p95_ms": 1})])
    with pytest.raises(InvalidInputError, match="nothing to deploy"):
        manifests(gpuopt.plan(scn), scn)


def test_cli_export_and_schema(run_cli, tmp_path):
    p = run_cli("plan", "examples/scenarios/seed004_three_pods.yaml", "--export", "k8s", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert len(list(tmp_path.glob("*.yaml"))) == 4
    p = run_cli("plan", "examples/scenarios/seed004_three_pods.yaml", "--export", "helm")
    assert p.returncode == 2
    schema = json.loads(run_cli("schema").stdout)
    assert schema["title"] == "Scenario" and "sites" in schema["required"]


def _two_chat_services(tmp_path):
    """The enterprise example with its chat service twice, as `chat.v1` and `chat_v1`."""
    data = yaml.safe_load(open("examples/enterprise.yaml"))
    chat = next(s for s in data["services"] if s["name"] == "chat")
    data["services"] = [s for s in data["services"] if s["name"] != "chat"] + \
        [{**chat, "name": "chat.v1"}, {**chat, "name": "chat_v1", "rate": {"day": 20, "night": 3}}]
    path = tmp_path / "two-chats.yaml"
    path.write_text(yaml.safe_dump(data))
    return _plan(path)


def test_service_names_that_clean_up_alike_export_apart(tmp_path):
    p, scn = _two_chat_services(tmp_path)
    objs = manifests(p, scn)
    names = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert len(set(names)) == len(names)
    by_service: dict[str, set] = {}
    for o in objs:
        if o["kind"] == "Deployment":
            by_service.setdefault(o["metadata"]["labels"]["app.kubernetes.io/name"], set()).add(o["metadata"]["name"])
    chat_labels = [label for label in by_service if label.startswith("chat-v1")]
    assert len(chat_labels) == 2 and all(re.match(r"^chat-v1-[0-9a-f]{6}$", label) for label in chat_labels)
    paths = export_k8s(p, scn, tmp_path / "k8s")
    assert len(paths) == len(objs) == len(set(paths))  # one file per object, none overwritten
    total = sum(yaml.safe_load(path.read_text()).get("spec", {}).get("replicas", 0) for path in paths)
    assert total == sum(o.get("spec", {}).get("replicas", 0) for o in objs)


def test_a_symlink_planted_in_the_output_folder_is_refused(tmp_path):
    from gpuopt.errors import OutputError

    p, scn = _plan("examples/enterprise.yaml")
    out = tmp_path / "k8s"
    out.mkdir()
    victim = tmp_path / "outside.txt"
    victim.write_text("keep me")
    first = manifests(p, scn)[0]
    (out / f"{first['kind'].lower()}-{first['metadata']['name']}.yaml").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        export_k8s(p, scn, out)
    assert victim.read_text() == "keep me"
    assert not [f for f in out.iterdir() if f.name.endswith(".tmp")]


def test_files_write_whole_plain_names_only(tmp_path):
    from gpuopt.errors import OutputError
    from gpuopt.files import write_atomic

    target = tmp_path / "a.yaml"
    write_atomic(target, "one: 1\n")
    write_atomic(target, b"two: 2\n")
    assert target.read_text() == "two: 2\n" and [f.name for f in tmp_path.iterdir()] == ["a.yaml"]
    with pytest.raises(OutputError, match="plain file name"):
        write_atomic(tmp_path / "..", "x")
    with pytest.raises(OutputError, match="cannot write"):
        write_atomic(tmp_path / "missing" / "a.yaml", "x")
