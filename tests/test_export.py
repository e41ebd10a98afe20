import json
import re

import pytest
import yaml

import gpuopt
from gpuopt import InvalidInputError
from gpuopt.export import export_k8s, manifests

DEVICE_PLUGIN_RESOURCE = re.compile(r"^nvidia\.com/(gpu|mig-[1-7]g\.\d+gb)$")


def _plan(path):
    scn = gpuopt.load_scenario(path)
    return gpuopt.plan(scn, threads=1, baselines=False), scn


def test_k8s_manifests_load_and_use_device_plugin_resources(tmp_path):
    p, scn = _plan("examples/enterprise.yaml")
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
                total[(sv, period)] = total.get((sv, period), 0) + r["replicas"]
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
