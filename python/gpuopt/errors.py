"""gpuopt's exceptions. Defined in Python so the Rust engine can raise them too."""

from __future__ import annotations


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
