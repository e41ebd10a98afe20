"""Files users give gpuopt are read within limits: size, UTF-8, YAML alias expansion, nesting."""

import subprocess
import sys
import textwrap

import pytest
import yaml

import gpuopt
from gpuopt import InvalidInputError
from gpuopt.user_files import MAX_FILE_BYTES, MAX_VALUES, expanded_values, load_yaml


def _bomb(levels: int) -> str:
    """A 'billion laughs': each level nine aliases of the one before (9**levels values)."""
    text = "a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
    for i in range(1, levels):
        text += f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n"
    return text


def test_expanded_values_counts_every_use_of_a_shared_part():
    shared = [1, 2]
    assert expanded_values({"a": [1, 2, {"b": 3}]}) == 6       # the dict, the list, 1, 2, {b}, 3
    assert expanded_values({"p": shared, "q": shared}) == 7    # the shared list written out twice
    assert expanded_values(yaml.safe_load(_bomb(4))) == 1 + sum(1 + sum(9 ** k for k in range(1, j + 1))
                                                                for j in range(1, 5))
    assert expanded_values(42) == 1


def test_alias_bomb_in_a_scenario_is_refused_fast(tmp_path):
    """A 519-byte file of nested aliases under `requests:` grew to 5.6 GB and aborted; now it is
    refused in a subprocess bounded to 1 GiB of memory (a crash would fail this test, not the run)."""
    bomb = tmp_path / "bomb.yaml"
    body = textwrap.indent(_bomb(9), "  ")
    bomb.write_text("name: bomb\nsites: [{name: dc, gpus: [{type: l4, max_purchase: 1}]}]\nx:\n" + body +
                    "services: [{name: s, model: llama-3-8b, rate: 1, requests: *a8}]\n")
    assert len(bomb.read_bytes()) < 1024
    code = ("import resource, sys, gpuopt\n"
            "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "try:\n    gpuopt.load_scenario(sys.argv[1])\n"
            "except gpuopt.InvalidInputError as e:\n    print(e); sys.exit(2)\n")
    p = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr[-1000:]
    assert "aliases" in p.stdout and f"{MAX_VALUES:,}" in p.stdout and len(p.stdout) < 500


def test_self_referring_alias_and_deep_nesting_are_refused():
    with pytest.raises(InvalidInputError, match="refers to a part that contains it"):
        load_yaml("&a [1, *a]", "cycle.yaml")
    with pytest.raises(InvalidInputError, match="nested too deeply"):
        load_yaml("[" * 100_000 + "]" * 100_000, "deep.yaml")
    with pytest.raises(InvalidInputError, match="nested too deeply"):
        gpuopt.planning.scenario.parse_scenario("[" * 100_000 + "]" * 100_000, "deep.json")


def test_a_few_aliases_still_load(tmp_path):
    f = tmp_path / "aliases.yaml"
    f.write_text("name: a\nsites: [{name: dc, gpus: [{type: l4, max_purchase: 4}]}]\n"
                 "services:\n  - {name: s1, model: llama-3-8b, rate: 1, slo: &slo {ttft_p95_ms: 2000}}\n"
                 "  - {name: s2, model: llama-3-8b, rate: 2, slo: *slo}\n")
    scn = gpuopt.load_scenario(f)
    assert scn.services[0].slo == scn.services[1].slo


def test_oversized_and_non_utf8_files_are_refused(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(InvalidInputError, match="larger than 16 MiB"):
        gpuopt.load_scenario(big)
    with pytest.raises(InvalidInputError, match="larger than 16 MiB"):
        gpuopt.register_gpu(big)
    latin1 = tmp_path / "m.yaml"
    latin1.write_bytes(b"- {model: caf\xe9}\n")
    with pytest.raises(InvalidInputError, match="not UTF-8 text .*offset 13"):
        gpuopt.load_measurements(latin1)
    with pytest.raises(InvalidInputError, match="aliases"):
        (tmp_path / "bomb.yaml").write_text(_bomb(8))
        gpuopt.register_gpu(tmp_path / "bomb.yaml")
