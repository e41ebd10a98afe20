"""Files users give gpuopt (scenarios, measurements, GPU and model specs), read within limits:
at most MAX_FILE_BYTES, UTF-8, and YAML whose aliases expand to at most MAX_VALUES values - a
few hundred bytes of nested aliases (a "billion laughs") would otherwise grow to gigabytes once
validated. Every refusal is an InvalidInputError naming the file and the fix."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Union

import yaml

from gpuopt.errors import InvalidInputError

MAX_FILE_BYTES = 16 << 20
MAX_VALUES = 1_000_000


def read_bytes(path: Union[str, Path], what: str) -> bytes:
    """The content of `path` (a `what` file), refused past MAX_FILE_BYTES."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise InvalidInputError(f"cannot read {what} {path}: {e.strerror}") from None
    except ValueError:   # a NUL byte in the name: no file can have it
        raise InvalidInputError(f"cannot read {what} {str(path)!r}: a file name cannot hold a NUL byte") from None
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInputError(f"{what} {path} is larger than {MAX_FILE_BYTES >> 20} MiB: split it")
    return data


def decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInputError(f"{source} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}): "
                                "save it as UTF-8") from None


def read_text(path: Union[str, Path], what: str) -> str:
    return decode(read_bytes(path, what), str(path))


def expanded_values(tree: Any) -> float:
    """How many values `tree` holds once every shared (aliased) part is written out (inf when a
    part contains itself); iterative, so deep nesting cannot exhaust the stack, and each shared
    part is sized once."""
    sizes: dict[int, int] = {}
    open_parts: set[int] = set()
    stack: list[tuple[Any, bool]] = [(tree, False)]
    while stack:
        node, children_done = stack.pop()
        if not isinstance(node, (dict, list)) or (id(node) in sizes and not children_done):
            continue
        kids = [k for k in (node.values() if isinstance(node, dict) else node) if isinstance(k, (dict, list))]
        if children_done:
            open_parts.discard(id(node))
            sizes[id(node)] = len(node) + 1 + sum(sizes[id(k)] - 1 for k in kids)
            if sizes[id(node)] > MAX_VALUES:
                return sizes[id(node)]
            continue
        if id(node) in open_parts:
            continue
        open_parts.add(id(node))
        stack.append((node, True))
        for k in kids:
            if id(k) in open_parts:
                return float("inf")  # an alias to a part that holds it: it never ends
            if id(k) not in sizes:
                stack.append((k, False))
    return sizes.get(id(tree), 1)


def _parsed(parse, text: str, source: str, kind: str, errors: tuple) -> Any:
    try:
        return parse(text)
    except errors as e:
        raise InvalidInputError(f"{source} is not valid {kind}: {e}") from None
    except RecursionError:
        raise InvalidInputError(f"{source} is nested too deeply to read") from None


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading numbers as YAML 1.2 (and JSON) do: `rate: 1e3` is 1000.0, where
    YAML 1.1 made it the text '1e3' (a float needed a dot there)."""


_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def load_yaml(text: str, source: str) -> Any:
    """YAML (or JSON, a subset) from `text`, safe-loaded and checked against alias bombs."""
    tree = _parsed(lambda t: yaml.load(t, Loader=_SafeLoader), text, source, "YAML", (yaml.YAMLError,))
    size = expanded_values(tree)
    if size == float("inf"):
        raise InvalidInputError(f"{source}: a YAML alias (*name) refers to a part that contains it; "
                                "write that part out")
    if size > MAX_VALUES:
        raise InvalidInputError(f"{source}: its YAML aliases (*name) expand to more than {MAX_VALUES:,} values; "
                                "write the repeated parts out, or use fewer aliases")
    return tree


def load_tree(data: Union[bytes, str], source: str) -> Any:
    """The content of a file named `source`: JSON if the name ends in .json, else YAML."""
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInputError(f"{source} is larger than {MAX_FILE_BYTES >> 20} MiB: split it")
    text = decode(data, source) if isinstance(data, bytes) else data
    if source.lower().endswith(".json"):
        return _parsed(json.loads, text, source, "JSON", (json.JSONDecodeError,))
    return load_yaml(text, source)


__all__ = ["MAX_FILE_BYTES", "MAX_VALUES", "decode", "expanded_values", "load_tree", "load_yaml", "read_bytes", "read_text"]
