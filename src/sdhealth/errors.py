"""Typed errors and check findings: everything sdhealth raises derives from :class:`SdhealthError`.

Library code never prints or exits; it raises one of these (or returns :class:`Issue` objects
from checks).  The CLI turns any ``SdhealthError`` into one readable line and exit status 2.

Every error that points into a file carries ``path``, ``line`` and ``column`` (1-based) and
renders as ``path:line:col: message`` -- the form editors and terminals make clickable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "SdhealthError",
    "ModelSyntaxError",
    "ModelError",
    "UnknownNameError",
    "SimulationError",
    "BackendError",
    "UnsupportedByBackend",
    "RunSettingsError",
    "RunSizeError",
    "SdhealthWarning",
    "LimitsWarning",
    "ApproximationWarning",
    "Severity",
    "Issue",
    "format_location",
]


def format_location(path: str | None, line: int | None, column: int | None) -> str:
    """Render ``path:line:col`` leaving out the parts that are unknown.

    >>> format_location("m.yaml", 3, 7)
    'm.yaml:3:7'
    >>> format_location(None, None, None)
    ''
    """
    parts = [str(p) for p in (path, line, column) if p is not None]
    return ":".join(parts)


def _with_location(message: str, path: str | None, line: int | None, column: int | None) -> str:
    where = format_location(path, line, column)
    return f"{where}: {message}" if where else message


class SdhealthError(Exception):
    """Base class of every error sdhealth raises on purpose."""


class ModelSyntaxError(SdhealthError):
    """Text that cannot be parsed: an equation, a YAML document, a unit string.

    ``str(error)`` is ``path:line:col: message``.
    """

    def __init__(
        self,
        message: str,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        super().__init__(_with_location(message, path, line, column))


class ModelError(SdhealthError):
    """A model that parses but cannot be run: undefined names, algebraic loops, bad lookups ...

    ``issues`` holds every blocking finding; the message shows the first one (and how many more).
    """

    def __init__(self, message: str, issues: Sequence[Issue] = ()) -> None:
        self.issues = tuple(issues)
        super().__init__(message)

    @classmethod
    def from_issues(cls, issues: Sequence[Issue]) -> ModelError:
        first = str(issues[0])
        more = len(issues) - 1
        suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
        return cls(first + suffix, issues)


class UnknownNameError(ModelError, KeyError):
    """A name that the model does not define (a parameter, a policy target, a column)."""

    @classmethod
    def of(cls, name: str, known: Iterable[str], *, role: str = "name") -> UnknownNameError:
        """``unknown <role> '<name>' (did you mean ...?)``, suggesting up to three ``known``.

        >>> str(UnknownNameError.of("Room temp", ["Room Temperature"], role="parameter"))
        "unknown parameter 'Room temp' (did you mean 'Room Temperature'?)"
        """
        from sdhealth.ir.names import did_you_mean

        return cls(f"unknown {role} {name!r}{did_you_mean(name, known, n=3)}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class SimulationError(SdhealthError):
    """A numerical failure during a run, naming the variable and the time."""

    def __init__(self, message: str, variable: str | None = None, time: float | None = None):
        self.variable = variable
        self.time = time
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the variable and time when the error crosses a process (Dask workers).
        return (type(self), (self.args[0], self.variable, self.time))


class BackendError(SdhealthError):
    """A backend that is missing, misconfigured, or asked for something it cannot do."""


class UnsupportedByBackend(BackendError):
    """A model that a backend cannot run (e.g. subscripts on the native backend).

    ``Model.run`` with the default backend falls back to PySD on this error.
    """


class RunSettingsError(BackendError):
    """Clock settings no run can have: a time step that is not positive, a stop before the
    start, a time that is not finite, or a time step too small to move the clock.

    A :class:`BackendError` (as these settings always were) raised before anything runs.
    """


class RunSizeError(SdhealthError):
    """A run (or a sweep) that would take more time steps or more memory than allowed.

    ``steps`` and ``result_bytes`` are what the run would need; the message names the limits
    and how to change them (see :mod:`sdhealth.compile.run_size`). Raised before anything
    is allocated.
    """

    def __init__(self, message: str, steps: int = 0, result_bytes: int = 0) -> None:
        self.steps = steps
        self.result_bytes = result_bytes
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.steps, self.result_bytes))


class SdhealthWarning(UserWarning):
    """Base class of the warnings sdhealth issues (filter them with this class)."""


class LimitsWarning(SdhealthWarning):
    """A variable left the range its ``limits: [lo, hi]`` declare during a run.

    ``Model.run(strict=True)`` makes it a :class:`SimulationError` instead.
    """


class ApproximationWarning(SdhealthWarning):
    """A model runs as an approximation: its file holds constructs sdhealth does not yet
    compute as their tool does (``sd.load(path, approximate=True)``)."""


class Severity(StrEnum):
    """How serious a check finding is: errors stop a run, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    """One finding of :func:`sdhealth.check`.

    ``code`` is a stable machine-readable tag (``unknown-name``, ``algebraic-loop``,
    ``units`` ...); ``variable`` is the model name the finding is about, if any.
    """

    severity: Severity
    code: str
    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    variable: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        text = self.message if self.is_error else f"warning: {self.message}"
        return _with_location(text, self.path, self.line, self.column)
