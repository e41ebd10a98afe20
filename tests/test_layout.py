"""The package's shape: OR-Tools loads only when a plan is asked for, no module shares a name
with a function gpuopt exports, and the plain-Python reference stays out of the package."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import gpuopt

ROOT = Path(__file__).resolve().parents[1]


def _loaded_after(code: str) -> set[str]:
    p = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


def test_ortools_is_imported_only_when_a_plan_is_asked_for():
    fitted = _loaded_after("import gpuopt; gpuopt.fit('llama-2-7b', 'a100-40gb'); import gpuopt.cli")
    assert not any(m.split(".")[0] == "ortools" for m in fitted)
    planned = _loaded_after("import gpuopt; gpuopt.plan(gpuopt.load_scenario('examples/scenarios/seed004_three_pods.yaml'),"
                            " baselines=False)")
    assert "ortools.linear_solver.pywraplp" in planned


def test_the_fit_command_does_not_load_the_solver():
    code = ("import sys, runpy; sys.argv = ['gpuopt', 'fit', 'llama-2-7b', 'a100-40gb']\n"
            "try:\n    runpy.run_module('gpuopt', run_name='__main__')\nexcept SystemExit:\n    pass\n")
    assert not any(m.split(".")[0] == "ortools" for m in _loaded_after(code))


def test_no_module_shares_a_name_with_an_exported_function():
    modules = {m.name.rsplit(".", 1)[-1] for m in pkgutil.walk_packages(gpuopt.__path__, "gpuopt.")}
    functions = {n for n in gpuopt.__all__ if callable(getattr(gpuopt, n)) and not isinstance(getattr(gpuopt, n), type)}
    top = {m.name for m in pkgutil.iter_modules(gpuopt.__path__)}
    assert not (top & functions), top & functions
    assert "reference" not in modules and not (ROOT / "python" / "gpuopt" / "reference.py").exists()
