"""`gpuopt schema` and `load_scenario` agree: a generated corpus of scenario files (the examples
and random small scenarios, each mutated at a random key: a wrong type, a bound crossed, a key
removed or unknown) is checked by the reference JSON Schema validator (jsonschema, a test extra)
against the schema that `gpuopt schema` prints, by gpuopt's own schema check, and by the loader.
What the schema refuses the loader refuses, naming the key; what the loader accepts the schema
accepts; rules across keys (names that must exist or be unique, hours a day) are the loader's alone."""

from __future__ import annotations

import copy
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from gpuopt.errors import InvalidInputError
from gpuopt.planning.scenario import parse_scenario, scenario_schema
from gpuopt.planning.synthetic import small_scenario
from gpuopt.schema_check import problems

ROOT = Path(__file__).resolve().parent.parent
WRONG = ["5", "", -1, 0, 0.5, 2.0, 30, 10**12, True, False, None, [], {}, "x", [1, 2], [-5, 10], {"a": 1},
         {"ttft_p95_ms": None}, "all", 1e300]
MUTANTS = 400


@pytest.fixture(scope="module")
def published() -> dict:
    out = subprocess.run([sys.executable, "-m", "gpuopt", "schema"], capture_output=True, text=True, check=True)
    schema = json.loads(out.stdout)
    assert schema == scenario_schema(), "the loader checks against what `gpuopt schema` prints"
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def bases() -> list[dict]:
    trees = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "examples").glob("*.yaml"))]
    trees = [t for t in trees if isinstance(t, dict) and "sites" in t]
    trees += [small_scenario(seed).model_dump(mode="json", exclude_defaults=True) for seed in range(6)]
    return trees


def nodes(tree, path=()):
    yield path
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from nodes(v, path + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from nodes(v, path + (i,))


def mutate(tree: dict, rng: random.Random) -> dict:
    t = copy.deepcopy(tree)
    path = rng.choice([p for p in nodes(t) if p])
    parent = t
    for k in path[:-1]:
        parent = parent[k]
    key, how = path[-1], rng.random()
    if how < 0.12 and isinstance(parent, dict):
        del parent[key]
    elif how < 0.2 and isinstance(parent, dict):
        parent["unknown_key"] = 1
    elif how < 0.35 and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = rng.choice([-parent[key], parent[key] * 1e6, parent[key] + 0.5, 0])
    else:
        parent[key] = copy.deepcopy(rng.choice(WRONG))
    return t


def corpus() -> list[dict]:
    rng = random.Random(20261207)
    trees = bases()
    return trees + [mutate(rng.choice(trees), rng) for _ in range(MUTANTS)]


def loads(tree: dict) -> tuple[bool, str]:
    try:
        parse_scenario(json.dumps(tree), "corpus.json")
        return True, ""
    except InvalidInputError as e:
        return False, str(e)


def test_schema_and_loader_agree_on_a_generated_corpus(published):
    reference = jsonschema.Draft202012Validator(published)
    counts = {"valid": 0, "refused by the schema": 0, "refused by a rule across keys": 0}
    for tree in corpus():
        valid = reference.is_valid(tree)
        ours = problems(tree, published)
        assert valid == (not ours), (tree, ours, [e.message for e in reference.iter_errors(tree)])
        accepted, said = loads(tree)
        if not valid:
            assert not accepted, tree
            # the key the reference blames (for a missing or unknown key: the mapping holding it)
            blamed = [".".join(map(str, e.absolute_path)) for e in reference.iter_errors(tree)]
            assert any(b in said for b in blamed), (blamed, said)
            counts["refused by the schema"] += 1
        elif accepted:
            counts["valid"] += 1
        else:
            # past the schema only rules across keys refuse: never a type or bound the schema has
            assert "Input should be" not in said and "Field required" not in said, said
            counts["refused by a rule across keys"] += 1
    assert min(counts.values()) >= 10, counts


def test_the_schema_check_names_keys_and_refuses_what_json_cannot_hold(published):
    tree = bases()[0]
    bad = copy.deepcopy(tree)
    bad["services"][0]["rate"] = float("nan")
    assert problems(bad, published) == ["services.0.rate: nan is not a finite number"]
    bad = copy.deepcopy(tree)
    bad["services"][0]["slo"] = {}
    assert problems(bad, published) == ["services.0.slo: needs at least one of ttft_p95_ms, tpot_p95_ms, e2e_p95_ms "
                                        "(a number)"]
    bad["services"][0]["requests"] = [-5, 10]
    bad["periods"] = [{"name": "all", "hours": 30}]
    assert sorted(problems(bad, published)) == ["periods.0.hours: 30 must be <= 24", "services.0.requests.0: -5 must be >= 1",
                                                "services.0.slo: needs at least one of ttft_p95_ms, tpot_p95_ms, "
                                                "e2e_p95_ms (a number)"]
    bad = copy.deepcopy(tree)
    bad["sites"][0][7] = 1
    assert "sites.0.7: keys must be strings, got a number 7" in problems(bad, published)


@pytest.mark.parametrize("text, says", [
    ("services: [{name: a, model: llama-3-8b, rate: '5'}]", "services.0.rate: expected number, got text '5'"),
    ("services: [{name: a, model: llama-3-8b, rate: 1, slo: {}}]", "services.0.slo: needs at least one of"),
    ("services: [{name: a, model: llama-3-8b, rate: 1, requests: [-5, 10]}]", "services.0.requests.0: -5 must be >= 1"),
    ("periods: [{name: all, hours: 30}]", "periods.0.hours: 30 must be <= 24"),
    ("services: [{name: a, model: llama-3-8b, rate: 1}, {name: a, model: llama-3-8b, rate: 2}]",
     "services: names must be unique; 'a' appear"),
    ("services: [{name: a, model: llama-3-8b, rate: 1, tps: [1099511627776]}]", "services.0.tps.0: 1099511627776 must be <= 1024"),
    ("sites: [{name: s, gpus: [{type: h100-sxm, owned: 1e30}]}]", "sites.0.gpus.0.owned"),
])
def test_nonsense_the_issue_found_is_refused_with_its_key(text, says):
    base = "sites: [{name: s, gpus: [{type: h100-sxm, owned: 2}]}]\n"
    tree = yaml.safe_load(base)
    tree.update(yaml.safe_load(text))
    with pytest.raises(InvalidInputError, match=None) as e:
        parse_scenario(yaml.safe_dump(tree), "s.yaml")
    assert says in str(e.value), str(e.value)
    assert math.isfinite(len(str(e.value)))
