"""The sign of a causal link, from the equations: partial derivatives at the operating point.

A link ``x -> y`` is positive when raising ``x`` raises ``y`` (all else equal), negative when it
lowers it: the sign of :math:`\\partial y / \\partial x`. :func:`link_signs` finds that sign for
every variable an equation reads. SD builtins have no derivative in sympy, so the equation is
first rewritten into a *surrogate* with the same local behaviour at the operating point
(:meth:`sdhealth.cld.forms.FormBuilder.surrogate`, where every builtin's rule is: lookups as
their tangent line, time functions as switched on, ``MIN``/``MAX`` with unit-step
derivatives ...). Stateful builtins (delays, smooths, trends, forecasts) pass on the polarity
of their *input* and mark the link as delayed: in equilibrium their output moves with their
input. Variables read only by their delay time or order get polarity 0 (whether a longer
delay raises or lowers the output depends on the state) and a delay mark; variables read
only by their initial value are not causal links at all, like a stock's initial value or
``INITIAL(x)``. A link is delayed when *every* mention of ``x`` in ``y`` sits inside a
stateful builtin.

The sign of the surrogate's derivative is then decided in this order, the first answer wins:

1. a derivative that is identically 0 gives 0 (``x`` only chooses a branch of a condition);
2. the sign at the *operating point* -- the constants' values and the values of all
   variables at the initial time (:func:`~sdhealth.cld.operating_point.initial_values`) --
   when it is not 0. A derivative of constants only is decided here, and so are ``ABS``,
   ``IF THEN ELSE`` and a ``MIN``/``MAX`` of terms of different signs;
3. where that is 0 or cannot be computed, the sign sympy proves over the whole declared
   range: every stock declared ``non_negative``, every variable whose ``limits`` start at
   or above 0 and ``TIME`` (when the run starts at or after 0) taken as non-negative, and
   the steps ``MIN``/``MAX`` differentiate to as well. A derivative proven non-negative is
   +1 (non-positive: -1): ``MIN(x, cap)`` rises with ``x`` even while ``cap`` binds, and
   ``r * x`` rises with ``r`` for a non-negative stock ``x`` that starts at 0;
4. anything else gives 0 ("unknown or mixed").

Step 3 would agree with step 2 wherever step 2 gives an answer (the operating point lies in
the declared range), so asking sympy's slower assumption system only where step 2 has no
answer changes no result and keeps deriving the diagram of a large model fast.

The operating point is :func:`sdhealth.cld.operating_point.initial_values`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import sympy

from sdhealth.cld.forms import SWITCH, FormBuilder, lookup_direction
from sdhealth.cld.operating_point import STATEFUL_ARGUMENTS, as_float, initial_values
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Constant, Lookup, Model, Stock, Variable

__all__ = [
    "LinkSign", "bounded_sign", "nonnegative_under", "link_signs", "model_link_signs",
    "lookup_direction",
]  # fmt: skip


@dataclass(frozen=True)
class LinkSign:
    """The derived sign of one link: ``polarity`` is +1, -1 or 0 (unknown or mixed)."""

    polarity: int
    delay: bool


#: Where a variable is mentioned: directly, inside a stateful input, or in a delay time/order.
_DIRECT, _DELAYED, _TIMING = "direct", "delayed", "timing"


def _mentions(expr: sympy.Basic, role: str, found: dict[str, set[str]]) -> None:
    """Collect ``key -> roles`` for the variables ``expr`` reads during a run."""
    if isinstance(expr, sympy.Symbol):
        if not expr.name.startswith("@"):
            found.setdefault(expr.name, set()).add(role)
        return
    if isinstance(expr, fn.INITIAL):
        return  # read once, at the start: not a causal link
    if isinstance(expr, fn.LOOKUP):
        _mentions(expr.args[1], role, found)  # argument 0 names the table
        return
    if isinstance(expr, fn.WITH_LOOKUP):
        _mentions(expr.args[0], role, found)
        return
    spec = STATEFUL_ARGUMENTS.get(type(expr))
    if spec is None:
        for arg in expr.args:
            _mentions(arg, role, found)
        return
    _mentions(expr.args[0], _TIMING if role == _TIMING else _DELAYED, found)
    for index in spec.timing:
        _mentions(expr.args[index], _TIMING, found)


class _Signs:
    """Surrogates of equations and the signs of their derivatives, for one model."""

    def __init__(self, model: Model, values: Mapping[str, float]) -> None:
        self.forms = FormBuilder(model, values)
        self.evaluator = self.forms.evaluator
        self.real = {v.key: self.forms.real(v.key) for v in model.variables}
        # what step 4 puts in: constants' values, and bounded symbols for the rest
        self.bounds: dict[sympy.Basic, sympy.Basic] = {}
        for variable in model.variables:
            if isinstance(variable, Constant):
                self.bounds[self.real[variable.key]] = sympy.Float(variable.value)
            elif _lower_bound(variable) is not None:
                self.bounds[self.real[variable.key]] = _bounded_symbol(variable)
        if model.time.start >= 0:
            self.bounds[fn.TIME] = NONNEGATIVE_TIME
        self.point: dict[sympy.Basic, sympy.Basic] = {
            self.real[k]: sympy.Float(value) for k, value in values.items() if k in self.real
        }
        self.point.update(
            (symbol, number)
            for symbol, number in self.evaluator.numbers.items()
            if symbol.name.startswith("@")
        )
        self.point[SWITCH] = sympy.Integer(1)

    def sign(self, derivative: sympy.Basic) -> int:
        """The sign of a surrogate's derivative (the decision order of the module docstring)."""
        if derivative == 0:
            return 0
        at_start = _number_sign(derivative.xreplace(self.point))
        if at_start != 0:
            return at_start
        return bounded_sign(derivative, self.bounds) or 0


def bounded_sign(expr: sympy.Basic, bounds: Mapping[sympy.Basic, sympy.Basic]) -> int | None:
    """+1, -1 or 0 where sympy's assumptions prove the sign of ``expr`` once its symbols are
    replaced by ``bounds`` (positive or non-negative surrogates), else None -- also where sympy
    cannot order what the expression holds (``zoo`` from a constant 0 that divides).

    Remembered per expression and the bounds of its own symbols (sympy's assumption system
    is most of the cost of checking a model, and a model loaded again after an edit asks the
    same questions about every equation that did not change).
    """
    relevant = frozenset((s, bounds[s]) for s in expr.free_symbols if s in bounds)
    return _bounded_sign(expr, relevant)


@functools.lru_cache(maxsize=8192)
def _bounded_sign(
    expr: sympy.Basic, bounds: frozenset[tuple[sympy.Basic, sympy.Basic]]
) -> int | None:
    try:
        bounded = expr.xreplace(dict(bounds))
        if bounded.is_zero:
            return 0
        if bounded.is_extended_nonnegative:
            return 1
        if bounded.is_extended_nonpositive:
            return -1
    except (TypeError, ValueError):
        return None
    return None


def nonnegative_under(expr: sympy.Basic, bounds: Mapping[sympy.Basic, sympy.Basic]) -> bool:
    """Whether sympy proves ``expr`` never negative once ``bounds`` are put in (False also
    where it cannot order it): :func:`bounded_sign` is 0 or +1."""
    return bounded_sign(expr, bounds) in (0, 1)


#: What ``TIME`` is replaced by where a run starts at or after 0.
NONNEGATIVE_TIME = sympy.Symbol("time (from a start at or after 0)", nonnegative=True)


def _lower_bound(variable: Variable) -> float | None:
    low = variable.limits[0]
    if isinstance(variable, Stock) and variable.non_negative:
        low = max(low, 0.0) if low is not None else 0.0
    return low if low is not None and low >= 0 else None


def _bounded_symbol(variable: Variable) -> sympy.Symbol:
    # Symbols, not Dummies: the same bound is the same symbol in every load of a model, so
    # bounded_sign's memory finds it again (they only ever replace every occurrence of the
    # variable's own real symbol, so they cannot mix with it).
    low = _lower_bound(variable)
    if low is not None and low > 0:
        return sympy.Symbol(variable.key, positive=True)
    return sympy.Symbol(variable.key, nonnegative=True)


def _number_sign(value: sympy.Basic) -> int:
    number = as_float(value)
    if number is None or number == 0:
        return 0
    return 1 if number > 0 else -1


def _equation_signs(signs: _Signs, known: set[str], expr: sympy.Basic) -> dict[str, LinkSign]:
    found: dict[str, set[str]] = {}
    _mentions(expr, _DIRECT, found)
    surrogate = signs.forms.surrogate(expr)
    result: dict[str, LinkSign] = {}
    for key, roles in found.items():
        if key not in known:
            continue
        if roles == {_TIMING}:
            result[key] = LinkSign(0, delay=True)
            continue
        polarity = signs.sign(sympy.diff(surrogate, signs.real[key]))
        result[key] = LinkSign(polarity, delay=_DIRECT not in roles)
    return result


def _sources(model: Model) -> set[str]:
    return {v.key for v in model.variables if not isinstance(v, Lookup)}


def link_signs(
    model: Model, expr: sympy.Basic, *, values: Mapping[str, float] | None = None
) -> dict[str, LinkSign]:
    """The sign of every causal link into one equation: ``source key -> LinkSign``.

    Parameters
    ----------
    model
        The model the equation belongs to (for constants, lookups, bounds and the clock).
    expr
        The equation of a flow or an auxiliary. Every variable of ``model`` it reads during a
        run is a source (lookup tables are not; names the model lacks are left out).
    values
        The operating point (:func:`initial_values` of ``model`` when not given).

    Examples
    --------
    >>> from sdhealth.ir import Constant, Stock, Equation, symbol
    >>> m = Model("m", variables=(
    ...     Stock(name="Temperature", initial=Equation.of(180)),
    ...     Constant(name="Room", value=70.0), Constant(name="Time", value=10.0)))
    >>> heat_loss = (symbol("Temperature") - symbol("Room")) / symbol("Time")
    >>> {k: s.polarity for k, s in sorted(link_signs(m, heat_loss).items())}
    {'room': -1, 'temperature': 1, 'time': -1}
    """
    signs = _Signs(model, initial_values(model) if values is None else values)
    return _equation_signs(signs, _sources(model), expr)


def model_link_signs(
    model: Model, *, values: Mapping[str, float] | None = None
) -> dict[str, dict[str, LinkSign]]:
    """:func:`link_signs` of every flow and auxiliary: ``target key -> source key -> sign``.

    Stocks are not in the result: their links are their flows (in +1, out -1).
    """
    signs = _Signs(model, initial_values(model) if values is None else values)
    known = _sources(model)
    result: dict[str, dict[str, LinkSign]] = {}
    for variable in model.variables:
        if isinstance(variable, Stock | Constant | Lookup):
            continue
        equations = variable.equations()
        if equations:
            result[variable.key] = _equation_signs(signs, known, equations[0].expr)
    return result
