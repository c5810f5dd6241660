"""Declared ``limits: [lo, hi]`` checked on run results, and where a variable is written.

A variable's ``limits`` (:attr:`sdhealth.ir.Variable.limits`) state the range in which the
model is valid (the teacup's temperature between freezing and boiling). After every
``Model.run`` -- on either backend -- :func:`enforce_limits` looks at every saved time of every
variable with limits, vectorised over the results (one comparison per value): a value outside
them warns with :class:`~sdhealth.errors.LimitsWarning` naming the variable, the first time
and value and the limits; with ``strict=True`` the first of them (by time) is a
:class:`~sdhealth.errors.SimulationError` instead. A bound is crossed when the value is beyond
it by more than ``1e-9`` relative (rounding is not a violation); NaN is left to the backends'
NaN checks.

It lives beside :mod:`sdhealth.compile.run_size` because both are the run checks every backend
shares; it only reads the IR and numpy arrays. :func:`where_written` gives the ``path:line``
of a variable's equation, for run-time error messages.

>>> import numpy as np
>>> from sdhealth.ir.model import Auxiliary, Equation, Model
>>> m = Model("m", variables=(Auxiliary(name="x", equation=Equation.of(1), limits=(0, 10)),))
>>> [str(v) for v in limit_violations(m, np.array([0.0, 1.0]), np.array([[5.0], [12.0]]), ("x",))]
["'x' is 12 at time 1, outside its limits [0, 10]"]
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sdhealth.errors import LimitsWarning, SimulationError, format_location
from sdhealth.ir.model import Model, Stock, Variable

__all__ = ["LimitViolation", "limit_violations", "enforce_limits", "where_written", "located"]

_TOLERANCE = 1e-9
_ELEMENT = re.compile(r"^(?P<name>.*?)\[[^\[\]]*\]$")


@dataclass(frozen=True)
class LimitViolation:
    """The first time a variable's value left its declared limits."""

    variable: str
    time: float
    value: float
    limits: tuple[float | None, float | None]
    where: str = ""

    def __str__(self) -> str:
        low, high = ("null" if b is None else f"{b:g}" for b in self.limits)
        text = (
            f"{self.variable!r} is {self.value:g} at time {self.time:g}, outside its limits "
            f"[{low}, {high}]"
        )
        return f"{self.where}: {text}" if self.where else text


def _variable_of(model: Model, column: str) -> Variable | None:
    if column in model:
        return model[column]
    match = _ELEMENT.match(column)  # an element "name[a,b]" has its variable's limits
    if match and match["name"] in model:
        return model[match["name"]]
    return None


def where_written(model: Model, name: str) -> str:
    """``path:line`` (or ``path:line:col``) of variable ``name``'s equation, or ``""``.

    >>> from sdhealth.ir.model import Auxiliary, Equation, Model, SourceLocation
    >>> eq = Equation.of(1)
    >>> loc = SourceLocation("m.yaml", 7, 15)
    >>> aux = Auxiliary(name="x", equation=Equation(eq.expr, "1", loc))
    >>> where_written(Model("m", variables=(aux,)), "x")
    'm.yaml:7:15'
    """
    variable = _variable_of(model, name)
    if variable is None:
        return ""
    candidates = [eq.location for eq in variable.equations()] + [variable.location]
    if isinstance(variable, Stock):  # a stock is written where it is named, not its initial
        candidates.insert(0, variable.location)
    for location in candidates:
        if location is not None and location.line is not None:
            path = location.path if location.path is not None else model.path
            return format_location(path, location.line, location.column)
    return ""


def located(model: Model, error: SimulationError) -> SimulationError:
    """``error`` with the ``path:line`` of its variable's equation in front, if known and not
    there already (backends name the variable and time; this adds where to look)."""
    if error.variable is None:
        return error
    where = where_written(model, error.variable)
    message = str(error)
    if not where or message.startswith(where):
        return error
    located_error = SimulationError(f"{where}: {message}", error.variable, error.time)
    located_error.__cause__ = error.__cause__
    return located_error


def limit_violations(
    model: Model, times: np.ndarray, values: np.ndarray, columns: Sequence[str]
) -> list[LimitViolation]:
    """The first violation of each limited column of ``values[time, column]``, by time."""
    found: list[LimitViolation] = []
    for j, column in enumerate(columns):
        variable = _variable_of(model, column)
        if variable is None or variable.limits == (None, None):
            continue
        low, high = variable.limits
        series = values[:, j]
        outside = np.zeros(series.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            if low is not None:
                outside |= series < low - _TOLERANCE * max(1.0, abs(low))
            if high is not None:
                outside |= series > high + _TOLERANCE * max(1.0, abs(high))
        rows = np.flatnonzero(outside)
        if rows.size:
            row = int(rows[0])
            found.append(
                LimitViolation(column, float(times[row]), float(series[row]),
                               variable.limits, where_written(model, column))
            )  # fmt: skip
    return sorted(found, key=lambda v: v.time)


def enforce_limits(
    model: Model,
    times: np.ndarray,
    values: np.ndarray,
    columns: Sequence[str],
    *,
    strict: bool = False,
    stacklevel: int = 4,
) -> None:
    """Warn (:class:`LimitsWarning`) for every limited column that leaves its limits, or with
    ``strict`` raise a :class:`SimulationError` for the earliest. ``stacklevel`` is passed
    to :func:`warnings.warn` (the default points at the caller of ``Model.run``)."""
    violations = limit_violations(model, times, values, columns)
    if strict and violations:
        first = violations[0]
        raise SimulationError(
            f"{first} (strict run: limits are errors)", first.variable, first.time
        )
    for violation in violations:
        warnings.warn(str(violation), LimitsWarning, stacklevel=stacklevel)
