"""Checks a file's tree against a JSON Schema generated from gpuopt's pydantic models, so the
loader refuses exactly what the published schema (`gpuopt schema`) refuses, with the key path of
each problem. Covers the keywords pydantic emits; any other keyword is a bug here, not a pass."""

from __future__ import annotations

import math
import re
from typing import Any

# keywords that say nothing about validity
_ANNOTATIONS = {"title", "description", "default", "examples", "$defs", "deprecated", "readOnly", "writeOnly"}
_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    # JSON numbers: a bool is not one; an integer is any number without a fraction
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and math.isfinite(v) and v.is_integer()),
}
MAX_PROBLEMS = 20


def problems(tree: Any, schema: dict) -> list[str]:
    """'path: what is wrong' for each problem of `tree` under `schema` (empty: valid)."""
    out: list[str] = []
    _check(tree, schema, schema, "", out)
    return out[:MAX_PROBLEMS]


def _resolve(node: dict, root: dict) -> dict:
    ref = node["$ref"]
    if not ref.startswith("#/"):
        raise ValueError(f"schema reference {ref!r} is not local")
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    return target


def _where(path: str) -> str:
    return path or "(top level)"


def _check(v: Any, node: dict, root: dict, path: str, out: list[str]) -> None:
    if isinstance(v, float) and not math.isfinite(v):
        out.append(f"{_where(path)}: {v} is not a finite number")
        return
    for key in node:
        if key not in _KEYWORDS and key not in _ANNOTATIONS:
            raise ValueError(f"schema keyword {key!r} at {_where(path)} is not checked")
    if "$ref" in node:
        _check(v, _resolve(node, root), root, path, out)
    if "anyOf" in node:
        branches = []
        for option in node["anyOf"]:
            found: list[str] = []
            _check(v, option, root, path, found)
            if not found:
                break
            branches.append((not _type_ok(v, option, root), len(found), found))
        else:
            out.append(_no_option(v, node["anyOf"], branches, path))
    if "type" in node:
        kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if not any(_TYPES[k](v) for k in kinds):
            out.append(f"{_where(path)}: expected {' or '.join(kinds)}, got {_kind(v)} {_short(v)}")
            return
    if "enum" in node and not any(_same(v, e) for e in node["enum"]):
        out.append(f"{_where(path)}: {_short(v)} is not one of {', '.join(map(repr, node['enum']))}")
    if "const" in node and not _same(v, node["const"]):
        out.append(f"{_where(path)}: must be {node['const']!r}")
    if _TYPES["number"](v):
        for key, ok, says in (("minimum", lambda x, b: x >= b, ">="), ("maximum", lambda x, b: x <= b, "<="),
                              ("exclusiveMinimum", lambda x, b: x > b, ">"),
                              ("exclusiveMaximum", lambda x, b: x < b, "<")):
            if key in node and not ok(v, node[key]):
                out.append(f"{_where(path)}: {v} must be {says} {node[key]}")
    if isinstance(v, str):
        if "pattern" in node and not re.search(node["pattern"], v):
            out.append(f"{_where(path)}: {_short(v)} does not match {node['pattern']}")
        if "minLength" in node and len(v) < node["minLength"]:
            out.append(f"{_where(path)}: needs at least {node['minLength']} characters")
        if "maxLength" in node and len(v) > node["maxLength"]:
            out.append(f"{_where(path)}: takes at most {node['maxLength']} characters")
    if isinstance(v, list):
        _check_array(v, node, root, path, out)
    if isinstance(v, dict):
        _check_object(v, node, root, path, out)


def _check_array(v: list, node: dict, root: dict, path: str, out: list[str]) -> None:
    if "minItems" in node and len(v) < node["minItems"]:
        out.append(f"{_where(path)}: needs at least {node['minItems']} items, got {len(v)}")
    if "maxItems" in node and len(v) > node["maxItems"]:
        out.append(f"{_where(path)}: takes at most {node['maxItems']} items, got {len(v)}")
    prefix = node.get("prefixItems", [])
    for i, item in enumerate(v):
        sub = prefix[i] if i < len(prefix) else node.get("items", {} if not prefix else None)
        if sub is None or sub is False:
            out.append(f"{path}.{i}: no item is allowed here")
        elif sub is not True:
            _check(item, sub, root, f"{path}.{i}" if path else str(i), out)


def _check_object(v: dict, node: dict, root: dict, path: str, out: list[str]) -> None:
    props = node.get("properties", {})
    for key in node.get("required", []):
        if key not in v:
            out.append(f"{_join(path, key)}: required")
    if "minProperties" in node and len(v) < node["minProperties"]:
        out.append(f"{_where(path)}: needs at least {node['minProperties']} keys")
    for key, item in v.items():
        where = _join(path, str(key))
        if not isinstance(key, str):
            out.append(f"{where}: keys must be strings, got {_kind(key)} {key!r}")
            continue
        if "propertyNames" in node:
            _check(key, node["propertyNames"], root, where + " (key)", out)
        if key in props:
            _check(item, props[key], root, where, out)
            continue
        extra = node.get("additionalProperties", True)
        if extra is False:
            out.append(f"{where}: unknown key (known: {', '.join(props) or 'none'})")
        elif extra is not True:
            _check(item, extra, root, where, out)


def _type_ok(v: Any, node: dict, root: dict) -> bool:
    node = _resolve(node, root) if "$ref" in node else node
    kinds = node.get("type")
    return kinds is None or any(_TYPES[k](v) for k in (kinds if isinstance(kinds, list) else [kinds]))


def _no_option(v: Any, options: list[dict], branches: list, path: str) -> str:
    """One message for a value that matches none of the options: 'needs one of' where each
    option only asks for a key; else the problems of the option of the value's type that got
    furthest."""
    if isinstance(v, dict) and all(set(o) <= {"required", "properties"} for o in options):
        keys = [k for o in options for k in o["required"]]
        return f"{_where(path)}: needs at least one of {', '.join(keys)} (a number)"
    if not branches:
        return f"{_where(path)}: matches no option"
    return "; ".join(min(branches, key=lambda b: b[:2])[2])


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _same(a: Any, b: Any) -> bool:
    # JSON equality: 1 == 1.0, but true is not 1
    return type(a) is type(b) and a == b or (_TYPES["number"](a) and _TYPES["number"](b) and a == b)


def _kind(v: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "a boolean", type(None): "null"}.get(
        type(v), "a number" if _TYPES["number"](v) else type(v).__name__)


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


_KEYWORDS = {"$ref", "anyOf", "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
             "pattern", "minLength", "maxLength", "minItems", "maxItems", "items", "prefixItems", "properties",
             "required", "additionalProperties", "propertyNames", "minProperties"}

__all__ = ["problems"]
