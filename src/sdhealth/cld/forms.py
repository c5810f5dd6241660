"""SD builtins rewritten into sympy maths: the one place that gives them a derivative.

The SD builtins in the IR are opaque sympy functions: sympy cannot differentiate them and
numpy cannot evaluate them. :class:`FormBuilder` rewrites an equation in one of three modes,
with one traversal (:class:`_Rewrite`) and a rule per builtin:

**Surrogate** (:meth:`FormBuilder.surrogate`, for the signs of a diagram's links in
:mod:`sdhealth.cld.derivatives`): a stand-in with the same *local* behaviour at the operating
point, cheap to build on a large model --

- ``LOOKUP(L, u)`` and ``WITH LOOKUP(u, table)``: the tangent line at the input's initial
  value ``u0`` with the slope of the segment under ``u0``, or the table's mean slope in its
  overall direction (:func:`lookup_direction`) where that segment is flat or against it, and 0
  for a non-monotone table;
- time functions count as switched on: ``STEP(h, t)`` and ``RAMP(s, ...)`` act as ``h`` and
  ``s`` times a positive switch, ``PULSE`` and ``PULSE TRAIN`` as the switch itself;
- ``MIN``/``MAX``: stand-ins whose derivative in one argument is a product of unit steps (1
  where that argument is chosen, 1/2 at a tie, else 0) -- sympy's own are slow to rebuild;
- ``ZIDZ(a, b)``/``XIDZ(a, b, x)`` act as ``a/b``;
- builtins without a rule become an opaque symbol (their links get an unknown sign).

**Derivative form** (:meth:`FormBuilder.derivative_form`, for :mod:`sdhealth.analysis.polarity`
and loop dominance): exact and numerically evaluable (:func:`numeric_function`) --

- lookups: the table's interpolation (``np.interp``, end values held, or the end segments
  extended for a ``linear`` lookup); its derivative is the slope of the segment under ``u``;
- ``STEP``, ``PULSE``, ``PULSE TRAIN``: on/off switches with Vensim's half-step rule and a
  zero derivative (``STEP(h, t)`` is ``h`` times its switch); ``RAMP`` a ``Piecewise``;
- ``ZIDZ(a, b)``/``XIDZ(a, b, x)``: ``a/b`` guarded by a ``Piecewise`` where ``|b| < 1e-6``;
- ``MIN``/``MAX``: nested ``Piecewise`` choosing an argument, so a derivative is 1 for the
  chosen argument and 0 for the others;
- builtins without a rule raise :class:`UnsupportedForm`.

**Value form** (:meth:`FormBuilder.value_form`, to prove a variable's sign): as the derivative
form, but stateful builtins become a value between their input and initial value
(:class:`Hull`; ``TREND`` and ``FORECAST`` have none) and ``MIN``/``MAX`` keep sympy's own,
whose sign assumptions are sharper (``MAX(0, x)`` is non-negative).

In every mode ``INTEGER``, ``QUANTUM`` and ``MODULO`` rise with their first argument (slope 1
between their steps), ``INITIAL(x)`` is the number ``x`` is at the initial time, and stateful
builtins (delays, smooths, trends) pass on their *input* outside value forms: in equilibrium
their output moves with their input. Variables become real symbols named by their keys
(:meth:`FormBuilder.real`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

import numpy as np
import sympy
from sympy.core.logic import fuzzy_and, fuzzy_or

from sdhealth.cld.operating_point import (
    STATEFUL_ARGUMENTS,
    StartEvaluator,
    initial_values,
    interpolate,
)
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Extrapolation, Lookup, Model

__all__ = [
    "FormBuilder", "Mode", "UnsupportedForm", "NUMERIC_FUNCTIONS", "Hull", "SWITCH",
    "lookup_direction", "numeric_function",
]  # fmt: skip

#: Vensim's threshold below which ZIDZ and XIDZ treat the divisor as zero.
DIVISOR_EPSILON = 1e-6


class UnsupportedForm(Exception):
    """An equation (part) without a differentiable numeric form; the message says which."""


# ------------------------------------------------------------------ form functions

#: The positive "switched on" factor standing for time functions in surrogates.
SWITCH = sympy.Dummy("switch", positive=True)


class _Step(sympy.Function):
    """The unit step of a ``MIN``/``MAX`` derivative: never negative, flat, cheap to build.

    sympy's own ``Min``, ``Max`` and ``Heaviside`` query the assumption system whenever one is
    built, which made deriving the diagram of a model full of ``MIN`` slow; these stand-ins
    only evaluate on numbers.
    """

    @classmethod
    def eval(cls, x: sympy.Basic) -> sympy.Basic | None:
        if x.is_Number and x.is_extended_real:
            return sympy.S.Half if x == 0 else sympy.S.One if x > 0 else sympy.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return sympy.S.Zero

    def _eval_is_extended_nonnegative(self) -> bool:
        return True

    def _eval_is_extended_real(self) -> bool:
        return True

    def _eval_is_finite(self) -> bool:
        return True


class _Extreme(sympy.Function):
    """A ``MIN`` (``_Least``) or ``MAX`` (``_Most``) whose derivative is a product of steps."""

    pick: Callable[..., sympy.Basic] = min
    direction = -1

    @classmethod
    def eval(cls, *args: sympy.Basic) -> sympy.Basic | None:
        if all(a.is_Number and a.is_extended_real for a in args):
            return cls.pick(args)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        chosen = self.args[argindex - 1]
        return sympy.Mul(
            *(
                _Step(self.direction * (chosen - other))
                for index, other in enumerate(self.args)
                if index != argindex - 1
            )
        )

    def _eval_is_extended_real(self) -> bool | None:
        return fuzzy_and(a.is_extended_real for a in self.args)

    def _eval_is_finite(self) -> bool | None:
        return fuzzy_and(a.is_finite for a in self.args)


class _Least(_Extreme):
    pick = min
    direction = -1

    def _eval_is_extended_nonnegative(self) -> bool | None:
        return fuzzy_and(a.is_extended_nonnegative for a in self.args)

    def _eval_is_extended_nonpositive(self) -> bool | None:
        return fuzzy_or(a.is_extended_nonpositive for a in self.args)


class _Most(_Extreme):
    pick = max
    direction = 1

    def _eval_is_extended_nonnegative(self) -> bool | None:
        return fuzzy_or(a.is_extended_nonnegative for a in self.args)

    def _eval_is_extended_nonpositive(self) -> bool | None:
        return fuzzy_and(a.is_extended_nonpositive for a in self.args)


def lookup_direction(ys: Sequence[float]) -> int:
    """+1 for a table that never falls and rises somewhere, -1 for the reverse, else 0.

    >>> lookup_direction([0, 0.5, 0.5, 1]), lookup_direction([1, 0.2, 0])
    (1, -1)
    >>> lookup_direction([0, 1, 0]), lookup_direction([2, 2])
    (0, 0)
    """
    steps = np.diff(np.asarray(ys, dtype=float))
    if steps.size and (steps >= 0).all() and (steps > 0).any():
        return 1
    if steps.size and (steps <= 0).all() and (steps < 0).any():
        return -1
    return 0


def _local_slope(xs: Sequence[float], ys: Sequence[float], u: float) -> float:
    """The slope of the table's segment under ``u`` (0 outside the table, where ends hold)."""
    if len(xs) < 2 or u < xs[0] or u > xs[-1]:
        return 0.0
    i = min(int(np.searchsorted(xs, u, side="right")) - 1, len(xs) - 2)
    return (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])


class _Table(sympy.Function):
    """``_Table(u, xs, ys, linear)``: the lookup's value at ``u`` (``linear`` 1 extends ends)."""

    nargs = 4

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return _TableSlope(*self.args) if argindex == 1 else sympy.S.Zero

    def _eval_derivative(self, s: sympy.Symbol) -> sympy.Basic:
        return self.fdiff(1) * sympy.diff(self.args[0], s)  # the table (Tuples) is fixed

    def _eval_is_extended_real(self) -> bool:
        return True

    def _eval_is_extended_nonnegative(self) -> bool | None:
        _, _, ys, linear = self.args  # extended ends may leave the range of the points
        return True if not linear and all(float(y) >= 0 for y in ys) else None

    def _eval_is_extended_nonpositive(self) -> bool | None:
        _, _, ys, linear = self.args
        return True if not linear and all(float(y) <= 0 for y in ys) else None


class _TableSlope(sympy.Function):
    """The slope of the table segment under ``u`` (same arguments as :class:`_Table`)."""

    nargs = 4

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return sympy.S.Zero

    def _eval_derivative(self, s: sympy.Symbol) -> sympy.Basic:
        return sympy.S.Zero

    def _direction(self) -> int:
        return lookup_direction([float(y) for y in self.args[2]])

    def _eval_is_extended_real(self) -> bool:
        return True

    def _eval_is_zero(self) -> bool | None:
        ys = self.args[2]
        return True if all(y == ys[0] for y in ys) else None

    def _eval_is_extended_nonnegative(self) -> bool | None:
        return True if self._direction() > 0 else None

    def _eval_is_extended_nonpositive(self) -> bool | None:
        return True if self._direction() < 0 else None


class _Switch(sympy.Function):
    """A time switch, 0 or 1, with a zero derivative in every argument."""

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return sympy.S.Zero

    def _eval_is_extended_real(self) -> bool:
        return True

    def _eval_is_extended_nonnegative(self) -> bool:
        return True


class _StepOn(_Switch):
    """``_StepOn(time, step time, dt)``: 1 once ``time + dt/2 > step time``."""

    nargs = 3


class _PulseOn(_Switch):
    """``_PulseOn(time, start, width, dt)``: 1 while ``start <= time + dt/2 < start + width``."""

    nargs = 4


class _PulseTrainOn(_Switch):
    """``_PulseTrainOn(time, start, width, repeat, end, dt)``: repeated pulses until ``end``."""

    nargs = 6


class _Rounded(sympy.Function):
    """``INTEGER``/``QUANTUM``/``MODULO``: the sign of their first argument, slope 1 in it."""

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return sympy.S.One if argindex == 1 else sympy.S.Zero

    def _eval_is_extended_real(self) -> bool | None:
        return self.args[0].is_extended_real

    def _eval_is_extended_nonnegative(self) -> bool | None:
        return self.args[0].is_extended_nonnegative

    def _eval_is_extended_nonpositive(self) -> bool | None:
        return self.args[0].is_extended_nonpositive


class _Integer(_Rounded):
    nargs = 1


class _Quantum(_Rounded):
    nargs = 2


class _Modulo(_Rounded):
    nargs = 2


class Hull(sympy.Function):
    """A value between the least and the greatest of its arguments (a delay's output).

    Only used to prove signs (value forms); it is never evaluated or differentiated.
    """

    def _eval_is_extended_real(self) -> bool | None:
        return fuzzy_and(a.is_extended_real for a in self.args)

    def _eval_is_extended_nonnegative(self) -> bool | None:
        return fuzzy_and(a.is_extended_nonnegative for a in self.args)

    def _eval_is_extended_positive(self) -> bool | None:
        return fuzzy_and(a.is_extended_positive for a in self.args)

    def _eval_is_extended_nonpositive(self) -> bool | None:
        return fuzzy_and(a.is_extended_nonpositive for a in self.args)


# ------------------------------------------------------------ numeric implementations


def _table_value(u: Any, xs: tuple[float, ...], ys: tuple[float, ...], linear: int) -> Any:
    u = np.asarray(u, dtype=float)
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    value = np.interp(u, x, y)
    if linear and len(x) > 1:
        below = y[0] + (u - x[0]) * (y[1] - y[0]) / (x[1] - x[0])
        above = y[-1] + (u - x[-1]) * (y[-1] - y[-2]) / (x[-1] - x[-2])
        value = np.where(u < x[0], below, np.where(u > x[-1], above, value))
    return value


def _table_slope(u: Any, xs: tuple[float, ...], ys: tuple[float, ...], linear: int) -> Any:
    u = np.asarray(u, dtype=float)
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if len(x) < 2:
        return np.zeros_like(u)
    index = np.clip(np.searchsorted(x, u, side="right") - 1, 0, len(x) - 2)
    slope = (np.diff(y) / np.diff(x))[index]
    if not linear:
        slope = np.where((u < x[0]) | (u > x[-1]), 0.0, slope)
    return slope


def _step_on(time: Any, at: Any, dt: Any) -> Any:
    return np.where(np.asarray(time) + dt / 2 > at, 1.0, 0.0)


def _pulse_on(time: Any, start: Any, width: Any, dt: Any) -> Any:
    now = np.asarray(time) + dt / 2
    span = np.where(np.asarray(width) > 0, width, dt)
    return np.where((start <= now) & (now < start + span), 1.0, 0.0)


def _pulse_train_on(time: Any, start: Any, width: Any, repeat: Any, end: Any, dt: Any) -> Any:
    now = np.asarray(time) + dt / 2
    span = np.where(np.asarray(width) > 0, width, dt)
    since = np.where(np.asarray(repeat) > 0, np.mod(now - start, repeat), now - start)
    return np.where((start <= now) & (now <= end) & (since < span), 1.0, 0.0)


def _quantum(x: Any, q: Any) -> Any:
    x, q = np.asarray(x, dtype=float), np.asarray(q, dtype=float)
    safe = np.where(q > 0, q, 1.0)
    return np.where(q > 0, safe * np.trunc(x / safe), x)


#: Name printed by :func:`sympy.lambdify` -> numeric implementation, for the form functions.
NUMERIC_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "_Table": _table_value,
    "_TableSlope": _table_slope,
    "_StepOn": _step_on,
    "_PulseOn": _pulse_on,
    "_PulseTrainOn": _pulse_train_on,
    "_Integer": np.trunc,
    "_Quantum": _quantum,
    "_Modulo": lambda x, m: np.asarray(x, dtype=float) - _quantum(x, m),
}


# ------------------------------------------------------------------------ the builder

_NOT_HULLS = (fn.TREND, fn.FORECAST)


class Mode(StrEnum):
    """What a rewrite is for (the module docstring)."""

    SURROGATE = "surrogate"
    DERIVATIVE = "derivative"
    VALUE = "value"


def _least(args: tuple[sympy.Basic, ...]) -> sympy.Basic:
    chosen = args[0]
    for other in args[1:]:
        chosen = sympy.Piecewise((chosen, chosen <= other), (other, True))
    return chosen


def _most(args: tuple[sympy.Basic, ...]) -> sympy.Basic:
    chosen = args[0]
    for other in args[1:]:
        chosen = sympy.Piecewise((chosen, chosen >= other), (other, True))
    return chosen


class FormBuilder:
    """Rewrites one model's equations (module docstring).

    ``values`` is the operating point (variable key -> value at the initial time) that
    surrogates and ``INITIAL`` are taken at; by default the model's
    :func:`~sdhealth.cld.operating_point.initial_values`, computed when first needed.

    >>> from sdhealth.ir import Constant, symbol
    >>> builder = FormBuilder(Model("m", variables=(Constant(name="k", value=2.0),)))
    >>> builder.derivative_form(fn.ZIDZ(symbol("x"), symbol("k")))
    Piecewise((0, Abs(k) < 1.0e-6), (x/k, True))
    >>> builder.surrogate(fn.ZIDZ(symbol("x"), symbol("k")))
    x/k
    """

    def __init__(self, model: Model, values: Mapping[str, float] | None = None) -> None:
        self.model = model
        self.lookups = {v.key: v for v in model.variables if isinstance(v, Lookup)}
        self.keys = frozenset(v.key for v in model.variables)
        self._values = values
        self._symbols: dict[str, sympy.Symbol] = {}
        self._evaluator: StartEvaluator | None = None

    def real(self, key: str) -> sympy.Symbol:
        """The real symbol standing for variable ``key`` in forms."""
        if key not in self._symbols:
            self._symbols[key] = sympy.Symbol(key, real=True)
        return self._symbols[key]

    @property
    def evaluator(self) -> StartEvaluator:
        """Values at the operating point (for surrogates and ``INITIAL``)."""
        if self._evaluator is None:
            values = initial_values(self.model) if self._values is None else self._values
            self._evaluator = StartEvaluator(self.model, values)
        return self._evaluator

    def surrogate(self, expr: sympy.Basic) -> sympy.Basic:
        """The local stand-in whose derivative signs a diagram's links (never raises)."""
        return _Rewrite(self, Mode.SURROGATE).apply(expr)

    def derivative_form(self, expr: sympy.Basic) -> sympy.Basic:
        """The form to differentiate and evaluate (stateful builtins pass on their input)."""
        return _Rewrite(self, Mode.DERIVATIVE).apply(expr)

    def value_form(self, expr: sympy.Basic) -> sympy.Basic:
        """The form whose sign bounds the equation's value (delays as :class:`Hull`)."""
        return _Rewrite(self, Mode.VALUE).apply(expr)

    def start_value(self, expr: sympy.Basic) -> float | None:
        """The value of ``expr`` at the initial time (for ``INITIAL``)."""
        return self.evaluator.value(expr)


Rule = Callable[["_Rewrite", sympy.Basic], sympy.Basic]


class _Rewrite:
    """One rewriting pass in one mode: the traversal every mode shares."""

    def __init__(self, builder: FormBuilder, mode: Mode) -> None:
        self.builder = builder
        self.mode = mode
        self.rules = _SURROGATE_RULES if mode is Mode.SURROGATE else _FORM_RULES

    def apply(self, expr: sympy.Basic) -> sympy.Basic:
        if isinstance(expr, sympy.Symbol):
            return self._symbol(expr)
        rule = self.rules.get(type(expr))
        if rule is not None:
            return rule(self, expr)
        if type(expr) in STATEFUL_ARGUMENTS:
            return self._stateful(expr)
        if isinstance(expr, fn.SDFunction):
            name = type(expr).vensim or type(expr).__name__
            return self.unsupported(f"{name} has no numeric form for polarity checks", expr)
        if not expr.args:
            return expr
        return expr.func(*(self.apply(arg) for arg in expr.args))

    def unsupported(self, why: str, expr: sympy.Basic) -> sympy.Basic:
        """A surrogate stands an opaque symbol in; exact forms raise :class:`UnsupportedForm`."""
        if self.mode is Mode.SURROGATE:
            return sympy.Dummy(type(expr).__name__)
        raise UnsupportedForm(why)

    def _symbol(self, symbol: sympy.Symbol) -> sympy.Basic:
        if symbol.name.startswith("@"):
            return symbol
        if self.mode is Mode.SURROGATE:
            return self.builder.real(symbol.name) if symbol.name in self.builder.keys else symbol
        lookup = self.builder.lookups.get(symbol.name)
        if lookup is not None:
            raise UnsupportedForm(f"lookup '{lookup.name}' is used without an input")
        return self.builder.real(symbol.name)

    def _stateful(self, expr: sympy.Basic) -> sympy.Basic:
        if self.mode is not Mode.VALUE:
            return self.apply(expr.args[0])
        if isinstance(expr, _NOT_HULLS):
            raise UnsupportedForm(f"{type(expr).vensim} has no sign bound")
        spec = STATEFUL_ARGUMENTS[type(expr)]
        return Hull(*(self.apply(expr.args[i]) for i in (0, *spec.initial)))

    def _table(self, expr: sympy.Basic) -> sympy.Basic:
        if isinstance(expr, fn.WITH_LOOKUP):
            argument, xs, ys, linear = expr.args[0], expr.args[1], expr.args[2], 0
        else:
            table, argument = expr.args
            lookup = self.builder.lookups.get(getattr(table, "name", ""))
            if lookup is None or not lookup.xs:
                raise UnsupportedForm(f"'{table}' is not a lookup with points")
            xs, ys = sympy.Tuple(*lookup.xs), sympy.Tuple(*lookup.ys)
            linear = int(lookup.extrapolation is Extrapolation.LINEAR)
        return _Table(self.apply(argument), xs, ys, sympy.Integer(linear))

    def _tangent(self, expr: sympy.Basic) -> sympy.Basic:
        """A lookup's surrogate: the tangent line at its input's value (module docstring)."""
        table = self.builder.evaluator.table(expr)
        if table is None:
            return sympy.Dummy("lookup")
        xs, ys, argument, linear = table
        direction = lookup_direction(ys)
        span = xs[-1] - xs[0] if len(xs) > 1 else 0.0
        mean_slope = abs(ys[-1] - ys[0]) / span if span > 0 else 0.0
        u = self.apply(argument)
        u0 = self.builder.evaluator.value(argument)
        if u0 is None:
            return sympy.Dummy("lookup") + direction * mean_slope * u
        slope = _local_slope(xs, ys, u0)
        if direction == 0:
            slope = 0.0
        elif slope * direction <= 0:
            slope = direction * mean_slope
        return sympy.Float(interpolate(xs, ys, u0, linear)) + sympy.Float(slope) * (u - u0)

    def _initial(self, expr: sympy.Basic) -> sympy.Basic:
        value = self.builder.start_value(expr.args[0])
        if value is None:
            if self.mode is Mode.SURROGATE:
                return sympy.Dummy("initial")
            raise UnsupportedForm("the argument of INITIAL cannot be computed at the start")
        return sympy.Float(value)

    def _args(self, expr: sympy.Basic) -> list[sympy.Basic]:
        return [self.apply(arg) for arg in expr.args]


def _ratio(rw: _Rewrite, expr: sympy.Basic) -> sympy.Basic:
    a, b, *fallback = rw._args(expr)
    zero = fallback[0] if fallback else sympy.S.Zero
    return sympy.Piecewise((zero, sympy.Abs(b) < DIVISOR_EPSILON), (a / b, True))


def _ramp(rw: _Rewrite, expr: sympy.Basic) -> sympy.Basic:
    slope, start, end = rw._args(expr)
    active = slope * (_least((fn.TIME, end)) - start)
    return sympy.Piecewise((sympy.S.Zero, fn.TIME <= start), (active, True))


def _switched(index: int | None) -> Rule:
    """A time function as switched on: ``SWITCH`` (times argument ``index``, if any)."""

    def rule(rw: _Rewrite, expr: sympy.Basic) -> sympy.Basic:
        return SWITCH if index is None else rw.apply(expr.args[index]) * SWITCH

    return rule


def _first_argument(rw: _Rewrite, expr: sympy.Basic) -> sympy.Basic:
    return rw.apply(expr.args[0])


#: The surrogates of :meth:`FormBuilder.surrogate`.
_SURROGATE_RULES: dict[type[sympy.Basic], Rule] = {
    fn.LOOKUP: _Rewrite._tangent,
    fn.WITH_LOOKUP: _Rewrite._tangent,
    fn.STEP: _switched(0),
    fn.RAMP: _switched(0),
    fn.PULSE: _switched(None),
    fn.PULSE_TRAIN: _switched(None),
    fn.ZIDZ: lambda rw, e: rw.apply(e.args[0]) / rw.apply(e.args[1]),
    fn.XIDZ: lambda rw, e: rw.apply(e.args[0]) / rw.apply(e.args[1]),
    fn.INTEGER: _first_argument,
    fn.FLOOR: _first_argument,
    fn.QUANTUM: _first_argument,
    fn.MODULO: _first_argument,
    fn.INITIAL: _Rewrite._initial,
    sympy.Min: lambda rw, e: _Least(*rw._args(e)),
    sympy.Max: lambda rw, e: _Most(*rw._args(e)),
}

#: The exact forms of :meth:`FormBuilder.derivative_form` and :meth:`FormBuilder.value_form`.
_FORM_RULES: dict[type[sympy.Basic], Rule] = {
    fn.LOOKUP: _Rewrite._table,
    fn.WITH_LOOKUP: _Rewrite._table,
    fn.INITIAL: _Rewrite._initial,
    fn.STEP: lambda rw, e: (
        rw.apply(e.args[0]) * _StepOn(fn.TIME, rw.apply(e.args[1]), fn.TIME_STEP)
    ),
    fn.PULSE: lambda rw, e: _PulseOn(fn.TIME, *rw._args(e), fn.TIME_STEP),
    fn.PULSE_TRAIN: lambda rw, e: _PulseTrainOn(fn.TIME, *rw._args(e), fn.TIME_STEP),
    fn.RAMP: _ramp,
    fn.ZIDZ: _ratio,
    fn.XIDZ: _ratio,
    fn.INTEGER: lambda rw, e: _Integer(*rw._args(e)),
    fn.FLOOR: lambda rw, e: _Integer(*rw._args(e)),  # the same sign and slope
    fn.QUANTUM: lambda rw, e: _Quantum(*rw._args(e)),
    fn.MODULO: lambda rw, e: _Modulo(*rw._args(e)),
    sympy.Min: lambda rw, e: (
        sympy.Min(*rw._args(e)) if rw.mode is Mode.VALUE else _least(tuple(rw._args(e)))
    ),
    sympy.Max: lambda rw, e: (
        sympy.Max(*rw._args(e)) if rw.mode is Mode.VALUE else _most(tuple(rw._args(e)))
    ),
}


def numeric_function(form: sympy.Basic) -> tuple[Callable[..., Any], list[str]]:
    """A numpy function of a form and the names of its arguments, in order.

    Every symbol is renamed ``a0, a1 ...`` before :func:`sympy.lambdify` prints the code, so
    no name a modeller wrote reaches the generated source; functions come from
    :data:`NUMERIC_FUNCTIONS` and numpy.

    >>> x, y = sympy.Symbol("beds", real=True), sympy.Symbol("staff; import os", real=True)
    >>> function, names = numeric_function(2 * x + y)
    >>> names, float(function(1.0, 3.0))
    (['beds', 'staff; import os'], 5.0)
    """
    symbols = sorted(form.free_symbols, key=lambda s: s.name)
    safe = [sympy.Symbol(f"a{index}", real=True) for index in range(len(symbols))]
    function = sympy.lambdify(
        safe, form.xreplace(dict(zip(symbols, safe, strict=True))),
        modules=[NUMERIC_FUNCTIONS, "numpy"],
    )  # fmt: skip
    return function, [s.name for s in symbols]
