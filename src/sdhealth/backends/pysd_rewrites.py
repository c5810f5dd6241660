"""Vensim rules PySD 3.14's translator misses, spelt out in the IR before printing.

:func:`for_pysd` is the model the PySD backend prints: :func:`extrapolate_lookups` (PySD's
Vensim translator holds the end values of every lookup, where Vensim extends a ``linear``
one) and :func:`widen_zero_pulses` (``PULSE`` with a zero width lasts one ``TIME STEP`` in
Vensim and never happens in PySD).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import sympy

from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Equation,
    Extrapolation,
    Flow,
    Lookup,
    Model,
    Stock,
    Variable,
)

__all__ = ["extrapolate_lookups", "for_pysd", "widen_zero_pulses"]


def _extrapolated_call(table: Lookup, x: sympy.Expr, call: sympy.Expr) -> sympy.Expr:
    """``call`` inside the straight lines through the first and the last two points."""
    xs, ys = table.xs, table.ys
    if len(xs) < 2:
        return call
    low_slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
    high_slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    return sympy.Piecewise(
        (ys[0] + low_slope * (x - xs[0]), x < xs[0]),
        (ys[-1] + high_slope * (x - xs[-1]), x > xs[-1]),
        (call, True),
    )


def _map_equations(model: Model, change: Callable[[sympy.Expr], sympy.Expr]) -> Model:
    """``model`` with ``change`` applied to every equation (unchanged ones stay identical)."""

    def apply(equation: Equation) -> Equation:
        expr = change(equation.expr)
        return equation if expr == equation.expr else replace(equation, expr=expr)

    variables: list[Variable] = []
    for variable in model.variables:
        if isinstance(variable, Stock):
            variable = replace(variable, initial=apply(variable.initial))
        elif isinstance(variable, (Flow, Auxiliary)):
            variable = replace(variable, equation=apply(variable.equation))
        variables.append(variable)
    return replace(model, variables=tuple(variables))


def extrapolate_lookups(model: Model) -> Model:
    """``model`` with linear extrapolation of lookups spelt out as ``IF THEN ELSE``.

    PySD's Vensim translator gives every lookup hold extrapolation. Each call ``L(x)`` of a
    lookup with :attr:`Extrapolation.LINEAR` becomes ``IF THEN ELSE(x < x0, y0 + k0*(x - x0),
    IF THEN ELSE(x > xn, yn + kn*(x - xn), L(x)))`` with the slopes of the end segments, and
    the lookup itself is marked hold. Models without such lookups come back unchanged.
    """
    linear = {
        v.key: v
        for v in model.variables
        if isinstance(v, Lookup) and v.extrapolation is Extrapolation.LINEAR
    }
    if not linear:
        return model

    def is_linear_call(node: sympy.Basic) -> bool:
        return isinstance(node, fn.LOOKUP) and getattr(node.args[0], "name", None) in linear

    def extrapolate(node: sympy.Basic) -> sympy.Expr:
        return _extrapolated_call(linear[node.args[0].name], node.args[1], node)

    model = _map_equations(model, lambda expr: expr.replace(is_linear_call, extrapolate))
    variables = tuple(
        replace(v, extrapolation=Extrapolation.HOLD) if isinstance(v, Lookup) else v
        for v in model.variables
    )
    return replace(model, variables=variables)


def widen_zero_pulses(model: Model) -> Model:
    """``model`` with ``PULSE(start, width)`` given one ``TIME STEP`` where ``width`` is 0.

    Vensim treats a zero width as ``TIME STEP``; PySD 3.14 returns no pulse at all. The width
    becomes ``IF THEN ELSE(width = 0, TIME STEP, width)`` (just ``TIME STEP`` for a literal 0).
    """

    def widen(node: sympy.Basic) -> sympy.Expr:
        start, width = node.args
        wide = sympy.Piecewise((fn.TIME_STEP, sympy.Eq(width, 0)), (width, True))
        return fn.PULSE(start, wide) if wide != width else node

    def is_pulse(node: sympy.Basic) -> bool:
        return isinstance(node, fn.PULSE)

    return _map_equations(model, lambda expr: expr.replace(is_pulse, widen))


def for_pysd(model: Model) -> Model:
    """The model PySD is given: Vensim semantics that its translator lacks spelt out."""
    return widen_zero_pulses(extrapolate_lookups(model))
