"""Timed policies: a parameter that changes during a run (step, ramp, pulse, time table).

A policy is a pure transformation of the IR: the targeted constant becomes an auxiliary whose
equation is its base value plus a Vensim time function (``STEP``, ``RAMP``, ``PULSE``, or a
lookup over ``Time``). Every backend therefore runs a policy the same way, with Vensim's timing
rules (e.g. the half-step rule of ``STEP``), and the original model is never changed.

>>> import sdhealth as sd
>>> sd.step("G&A beds", by=5_000, at=12)
Step(target='G&A beds', at=12, to=None, by=5000)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import sympy

from sdhealth.errors import ModelError, UnknownNameError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Equation,
    Extrapolation,
    Lookup,
    Model,
    symbol,
)

__all__ = [
    "Policy",
    "Step",
    "Ramp",
    "Pulse",
    "Table",
    "step",
    "ramp",
    "pulse",
    "table",
    "apply_policies",
    "constant_named",
]


def constant_named(model: Model, name: str, *, role: str = "parameter") -> Constant:
    """The constant called ``name``, or a clear error naming it (with did-you-mean)."""
    if name not in model:
        raise UnknownNameError.of(name, [v.name for v in model.of_type(Constant)], role=role)
    variable = model[name]
    if not isinstance(variable, Constant):
        kind = type(variable).__name__.lower()
        article = "an" if kind[0] in "aeiou" else "a"
        raise ModelError(
            f"{role} {name!r} is {article} {kind}, not a constant: only constants can be set "
            "per run"
        )
    return variable


def _change(base: float, to: float | None, by: float | None, what: str) -> float:
    if (to is None) == (by is None):
        raise ValueError(f"{what}: give exactly one of to= (new value) or by= (change)")
    return float(to) - base if to is not None else float(by)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Policy:
    """Base of timed policies: ``target`` names a constant of the model."""

    target: str

    def expression(self, base: float) -> sympy.Expr:  # pragma: no cover - abstract
        raise NotImplementedError

    def helper_variables(self, model: Model) -> tuple[Lookup, ...]:
        return ()

    def apply(self, model: Model) -> Model:
        """A copy of ``model`` in which the target follows this policy."""
        constant = constant_named(model, self.target, role="policy target")
        expr = self.expression(constant.value)
        aux = Auxiliary(
            name=constant.name,
            units=constant.units,
            doc=constant.doc,
            source=constant.source,
            sector=constant.sector,
            limits=constant.limits,
            location=constant.location,
            equation=Equation(expr),
        )
        return model.replace_variable(aux).with_variables(*self.helper_variables(model))


@dataclass(frozen=True)
class Step(Policy):
    """From time ``at`` on, the target is ``to`` (or its base value plus ``by``)."""

    at: float
    to: float | None = None
    by: float | None = None

    def expression(self, base: float) -> sympy.Expr:
        height = _change(base, self.to, self.by, f"step of {self.target!r}")
        return sympy.Float(base) + fn.STEP(sympy.Float(height), sympy.Float(self.at))


@dataclass(frozen=True)
class Ramp(Policy):
    """The target changes linearly from time ``start`` to ``end`` by ``by`` (or up to ``to``)."""

    start: float
    end: float
    to: float | None = None
    by: float | None = None

    def expression(self, base: float) -> sympy.Expr:
        change = _change(base, self.to, self.by, f"ramp of {self.target!r}")
        if not self.end > self.start:
            raise ValueError(
                f"ramp of {self.target!r}: end ({self.end}) must be after start ({self.start})"
            )
        slope = change / (self.end - self.start)
        return sympy.Float(base) + fn.RAMP(
            sympy.Float(slope), sympy.Float(self.start), sympy.Float(self.end)
        )


@dataclass(frozen=True)
class Pulse(Policy):
    """The target is raised by ``by`` for ``width`` time units from ``start``."""

    start: float
    width: float
    by: float

    def expression(self, base: float) -> sympy.Expr:
        if not self.width > 0:
            raise ValueError(f"pulse of {self.target!r}: width must be positive")
        return sympy.Float(base) + sympy.Float(self.by) * fn.PULSE(
            sympy.Float(self.start), sympy.Float(self.width)
        )


@dataclass(frozen=True)
class Table(Policy):
    """The target follows a time table of ``(time, value)`` points.

    ``interpolate="linear"`` joins the points with straight lines; ``"step"`` holds each
    value until the next point. Before the first point and after the last, the end values hold.
    """

    points: tuple[tuple[float, float], ...]
    interpolate: str = "linear"

    def __post_init__(self) -> None:
        times = [t for t, _ in self.points]
        if not self.points:
            raise ValueError(f"time table for {self.target!r} is empty")
        if any(b <= a for a, b in zip(times, times[1:], strict=False)):
            raise ValueError(f"time table for {self.target!r}: times must increase")
        if self.interpolate not in ("linear", "step"):
            raise ValueError(
                f"time table for {self.target!r}: interpolate must be "
                f"'linear' or 'step', got {self.interpolate!r}"
            )

    @property
    def _lookup_name(self) -> str:
        return f"{self.target} policy table"

    def expression(self, base: float) -> sympy.Expr:
        if self.interpolate == "linear":
            return fn.LOOKUP(symbol(self._lookup_name), fn.TIME)
        (_, first), *rest = self.points
        expr: sympy.Expr = sympy.Float(first)
        previous = first
        for time, value in rest:
            expr += fn.STEP(sympy.Float(value - previous), sympy.Float(time))
            previous = value
        return expr

    def helper_variables(self, model: Model) -> tuple[Lookup, ...]:
        if self.interpolate != "linear":
            return ()
        return (
            Lookup(
                name=self._lookup_name,
                xs=tuple(float(t) for t, _ in self.points),
                ys=tuple(float(v) for _, v in self.points),
                extrapolation=Extrapolation.HOLD,
                units=model[self.target].units,
                doc=f"time table policy for {self.target}",
            ),
        )


def step(target: str, *, at: float, to: float | None = None, by: float | None = None) -> Step:
    """Change ``target`` to ``to`` (or by ``by``) from time ``at``.

    >>> step("Beds", at=12, by=500).expression(1000.0)
    STEP(500.0, 12.0) + 1000.0
    """
    policy = Step(target, at, to, by)
    _change(0.0, to, by, f"step of {target!r}")
    return policy


def ramp(
    target: str, *, start: float, end: float, to: float | None = None, by: float | None = None
) -> Ramp:
    """Change ``target`` linearly between times ``start`` and ``end``."""
    policy = Ramp(target, start, end, to, by)
    policy.expression(0.0)  # validate now, not at run time
    return policy


def pulse(target: str, *, start: float, width: float, by: float) -> Pulse:
    """Raise ``target`` by ``by`` from ``start`` for ``width`` time units."""
    policy = Pulse(target, start, width, by)
    policy.expression(0.0)
    return policy


def table(
    target: str,
    points: Mapping[float, float] | Iterable[tuple[float, float]],
    *,
    interpolate: str = "linear",
) -> Table:
    """Make ``target`` follow a time table, e.g. ``table("Beds", {0: 100, 12: 110})``."""
    pairs = points.items() if isinstance(points, Mapping) else points
    return Table(target, tuple((float(t), float(v)) for t, v in pairs), interpolate)


def apply_policies(
    model: Model, policies: Iterable[Policy], base_values: Mapping[str, float] | None = None
) -> Model:
    """Apply ``policies`` in order; ``base_values`` (by name) replace targets' values first.

    Two policies on the same target are an error: their combination would be ambiguous.
    """
    seen: set[str] = set()
    for policy in policies:
        target = constant_named(model, policy.target, role="policy target")
        if target.key in seen:
            raise ModelError(
                f"two policies change {target.name!r}; combine them into one time table"
            )
        seen.add(target.key)
        if base_values and target.key in base_values:
            model = model.replace_variable(replace(target, value=base_values[target.key]))
        model = policy.apply(model)
    return model
