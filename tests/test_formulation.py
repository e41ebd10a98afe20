"""docs/formulation.md is the model the code builds: the enterprise example's MIP has exactly the
constraint groups the document names, every constraint and variable is named after a group or
variable it defines, and the column generation's master adds only the pattern rows."""

import re

import pytest
from pathlib import Path

from ortools.linear_solver import linear_solver_pb2

import gpuopt
from gpuopt.planning.candidates import allowed_sites, candidates
from gpuopt.planning.decompose import colgen
from gpuopt.planning.model import MIG_REPARTITION, MIP_GROUPS, REPLICA_START, REPLICA_USED, SPARE, PlanningModel
from gpuopt.planning.scenario import Stability

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "formulation.md").read_text()


def _section(title: str) -> str:
    return DOC.split(f"\n## {title}")[1].split("\n## ")[0]


def _headed(text: str) -> set[str]:
    return set(re.findall(r"^### `(\w+)\[", text, flags=re.M))


def _groups(solver) -> tuple[list[str], list[str]]:
    proto = linear_solver_pb2.MPModelProto()
    solver.ExportModelToProto(proto)
    return [c.name for c in proto.constraint], [v.name for v in proto.variable]


def _group(name: str) -> str:
    assert re.fullmatch(r"\w+\[[^\[\]]*\]", name), f"unnamed or malformed: {name!r}"
    return name.split("[")[0]


def test_the_enterprise_mip_has_exactly_the_documented_groups():
    scn = gpuopt.load_scenario(ROOT / "examples" / "enterprise.yaml")
    model = PlanningModel(scn, relax=False)
    model.add_services(candidates(scn), allowed_sites)
    rows, columns = model.m.row_names, model.m.var_names
    documented = _headed(_section("Constraints"))
    assert documented == set(MIP_GROUPS)
    optional = {SPARE, REPLICA_USED, REPLICA_START, MIG_REPARTITION}   # with n+1, and with stability prices
    assert {_group(r) for r in rows} == documented - optional
    first = scn.services[0].model_copy(update={"redundancy": "n+1"})
    redundant = PlanningModel(scn.model_copy(update={"services": [first, *scn.services[1:]]}), relax=False)
    redundant.add_services(candidates(scn), allowed_sites)
    assert {_group(r) for r in redundant.m.row_names} == documented - {REPLICA_START, MIG_REPARTITION}
    stable = PlanningModel(scn.model_copy(update={"stability": Stability(usd_per_replica_start=2.0,
                                                                         usd_per_mig_repartition=5.0)}), relax=False)
    stable.add_services(candidates(scn), allowed_sites)
    assert {_group(r) for r in stable.m.row_names} == documented - {SPARE, REPLICA_USED}
    variables = set(re.findall(r"^- `(\w+)\[", _section("Decision variables"), flags=re.M)) | \
        set(re.findall(r"and `(\w+)\[", _section("Decision variables")))
    assert variables == {"buy", "rent", "replicas", "mig_layout", "time_sliced", "train_gpus", "train_on", "burst",
                         "spare", "used", "starts", "repartitions"}
    assert {_group(v) for v in columns} == variables - {"spare", "used", "starts", "repartitions"}
    assert {_group(v) for v in redundant.m.var_names} == variables - {"starts", "repartitions"}
    assert {_group(v) for v in stable.m.var_names} == variables - {"spare", "used"}


def test_the_column_generation_master_adds_only_pattern_choice():
    scn = gpuopt.synthetic_fleet(6, 3, 3, 1, seed=2)
    blocks = colgen.blocks_of(scn, candidates(scn), allowed_sites)
    master = colgen.Master(scn, blocks)
    rows, _ = _groups(master.fm.s)
    decomposition = _headed(_section("The decomposition"))
    assert decomposition == {"pattern_choice", "benders_cut"}
    assert {_group(r) for r in rows} - set(MIP_GROUPS) == {"pattern_choice"}
    assert len([r for r in rows if r.startswith("pattern_choice[")]) == len(blocks.keys)


def test_stability_prices_each_change_by_how_often_its_period_begins():
    # weekday day and night, and a weekend: f = min(days) / 7 per average day, H = 24 hours
    scn = gpuopt.load_scenario(ROOT / "examples" / "enterprise.yaml")
    periods = [gpuopt.Period(name="day", hours=12, days_per_week=5), gpuopt.Period(name="night", hours=12, days_per_week=5),
               gpuopt.Period(name="weekend", hours=24, days_per_week=2)]
    services = [sv.model_copy(update={"rate": 1.0}) for sv in scn.services]
    weekly = scn.model_copy(update={"periods": periods, "services": services, "training": [],
                                    "stability": Stability(usd_per_replica_start=2.0, usd_per_mig_repartition=7.0)})
    model = PlanningModel(weekly, relax=False)
    model.add_services(candidates(weekly), allowed_sites)
    cost = model.m.objective()
    f = {"day": 2 / 7, "night": 5 / 7, "weekend": 2 / 7}   # day follows the weekend, night a day, the weekend a night
    seen = set()
    for i, name in enumerate(model.m.var_names):
        group = _group(name)
        if group in ("starts", "repartitions"):
            period = name.rstrip("]").split(",")[-1]
            usd = 2.0 if group == "starts" else 7.0
            assert cost[i] == pytest.approx(usd * f[period] / 24.0), name
            seen.add(group)
    assert seen == {"starts", "repartitions"}
