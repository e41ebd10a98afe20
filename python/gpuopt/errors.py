"""gpuopt's exceptions. Defined in Python so the Rust engine can raise them too."""

from __future__ import annotations

import math
import re
from typing import Any, Optional

from pydantic import BaseModel, ValidationError
from pydantic._internal._model_construction import ModelMetaclass


class GpuoptError(Exception):
    """Base of every error gpuopt raises on purpose."""


class InvalidInputError(GpuoptError, ValueError):
    """A value is out of range, malformed or inconsistent; the message says which and the fix."""


class UnknownNameError(InvalidInputError):
    """An id that no catalog holds; `suggestions` are the closest known ids."""

    def __init__(self, kind: str, name: str, known: list[str], suggestions: list[str]):
        self.kind, self.name, self.known, self.suggestions = kind, name, known, suggestions
        if suggestions:
            hint = "did you mean " + ", ".join(suggestions) + "?"
        else:
            hint = "known: " + ", ".join(known)
        super().__init__(f"unknown {kind} {name!r}: {hint}")


class InternalError(GpuoptError, RuntimeError):
    """The engine failed where it should not have: a bug to report, never a user mistake."""


class OutputError(GpuoptError, OSError):
    """A file could not be written (disk full, a refused path, an output another run holds); what
    was written before stays whole and nothing partial is left. The message says what to do."""


# the labels pydantic puts in an error's location for the members of a union, not keys of the file
_UNION_MEMBER = re.compile(r"^(constrained-float|float|int|str|bool|none|(dict|list|tuple|function-\w+)\[.*\])$")


def validation_problems(e: Any, whole: str = "scenario") -> str:
    """One line per wrong key of a pydantic ValidationError: its path and what it expects. Of the
    errors a union gives (a rate is a number or a mapping), those about the value beat those about
    its type."""
    by_key: dict[str, list[dict]] = {}
    for err in e.errors():
        key = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and _UNION_MEMBER.match(p)))
        by_key.setdefault(key or whole, []).append(err)
    lines = []
    for key, errs in by_key.items():
        about_value = [x for x in errs if not x["type"].endswith("_type")] or errs
        lines.append(f"{key}: {' or '.join(dict.fromkeys(x['msg'] for x in about_value))}")
    return "; ".join(lines)


class ModelInputError(InvalidInputError):
    """Fields that do not validate as one of gpuopt's models; `problems` has one 'key: what it
    expects' per wrong key (what file loaders prefix with the file's name)."""

    def __init__(self, model: str, problems: str):
        self.model, self.problems = model, problems
        super().__init__(f"invalid {model}: {problems}")


class _CheckedConstruction(ModelMetaclass):
    # The constructor is wrapped here, not in __init__: pydantic calls a model's own __init__ for
    # nested values too, which would turn their errors into one opaque "value error".
    def __call__(cls, *args: Any, **kwargs: Any):
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as e:
            raise ModelInputError(cls.__name__, validation_problems(e, cls.__name__)) from None


class CheckedModel(BaseModel, metaclass=_CheckedConstruction):
    """A pydantic model whose constructor and model_validate raise ModelInputError (a gpuopt
    InvalidInputError naming each wrong key), never pydantic's ValidationError."""

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any):
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as e:
            raise ModelInputError(cls.__name__, validation_problems(e, cls.__name__)) from None


def number(name: str, v: Any, *, lo: float = 0.0, hi: float = math.inf, above: bool = False,
           none: bool = False) -> Optional[float]:
    """`v` as a float in [lo, hi] (above lo where `above`), or None where `none` allows it; anything
    else (text, None, NaN, infinity, a bool, out of range) is an InvalidInputError naming `name`."""
    if v is None and none:
        return None
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    if ok:
        try:
            x = float(v)
        except OverflowError:   # an int past any float
            ok = False
        else:
            ok = math.isfinite(x) and (x > lo if above else x >= lo) and x <= hi
    if not ok:
        low = f"> {lo:g}" if above else f">= {lo:g}"
        span = low if hi == math.inf else f"{low} and <= {hi:g}"
        raise InvalidInputError(f"{name} must be a finite number {span}, got {v!r}")
    return x
