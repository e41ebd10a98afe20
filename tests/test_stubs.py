"""_core.pyi declares exactly what the compiled module exports, with the same signatures."""

import ast
import inspect
from pathlib import Path

import gpuopt
from gpuopt import _core

STUB = Path(gpuopt.__file__).with_name("_core.pyi")


def _stub_names():
    tree = ast.parse(STUB.read_text())
    funcs = {n.name: [a.arg for a in n.args.args] for n in tree.body if isinstance(n, ast.FunctionDef)}
    names = {n.target.id for n in tree.body if isinstance(n, ast.AnnAssign)}
    return funcs, names


def test_stub_matches_module():
    funcs, names = _stub_names()
    exported = {n for n in dir(_core) if not n.startswith("_") or n == "__version__"}
    exported -= {"_core"}
    assert set(funcs) | names == exported
    for name, args in funcs.items():
        sig = inspect.signature(getattr(_core, name))
        assert list(sig.parameters) == args, name
