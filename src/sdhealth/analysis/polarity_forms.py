"""Differentiable, numerically evaluable forms of equations, for :mod:`.polarity`.

The SD builtins in the IR are opaque sympy functions: sympy cannot differentiate them and
numpy cannot evaluate them. :class:`FormBuilder` rewrites an equation into a *form* built from
sympy's own maths plus the small functions below, each with a derivative rule, sign
assumptions and a numeric implementation in :data:`NUMERIC_FUNCTIONS`:

- ``LOOKUP(L, u)`` and ``WITH LOOKUP(u, table)``: the table's interpolation (``np.interp``,
  end values held, or the end segments extended for a ``linear`` lookup); its derivative is
  the slope of the segment under ``u`` (0 where a held end applies);
- ``STEP``, ``PULSE``, ``PULSE TRAIN``: on/off switches with Vensim's half-step rule and a
  zero derivative (``STEP(h, t)`` is ``h`` times its switch); ``RAMP`` a ``Piecewise``;
- ``ZIDZ(a, b)``/``XIDZ(a, b, x)``: ``a/b`` guarded by a ``Piecewise`` where ``|b| < 1e-6``;
- ``MIN``/``MAX``: nested ``Piecewise`` choosing an argument, so a derivative is 1 for the
  chosen argument and 0 for the others (value forms keep sympy's ``Min``/``Max``, whose sign
  assumptions are sharper: ``MAX(0, x)`` is non-negative);
- ``INTEGER``, ``QUANTUM``, ``MODULO``: their value, with derivative 1 in their first argument
  (they rise with it between their steps, as in :mod:`sdhealth.cld.derivatives`);
- ``INITIAL(x)``: the number ``x`` is at the initial time;
- stateful builtins (delays, smooths, trends): in the *derivative form* their input, as in
  :mod:`sdhealth.cld.derivatives` (in equilibrium the output moves with the input); in the
  *value form*, used only to prove a variable non-negative, a value between their input and
  initial value (:class:`Hull`), or unknown for ``TREND`` and ``FORECAST``.

Variables become real symbols named by their keys (:meth:`FormBuilder.real`). Anything else
(subscripts, external data ...) raises :class:`UnsupportedForm`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy
from sympy.core.logic import fuzzy_and

from sdhealth.cld.derivatives import lookup_direction
from sdhealth.cld.operating_point import STATEFUL_ARGUMENTS, StartEvaluator, initial_values
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Extrapolation, Lookup, Model

__all__ = ["FormBuilder", "UnsupportedForm", "NUMERIC_FUNCTIONS", "Hull", "numeric_function"]

#: Vensim's threshold below which ZIDZ and XIDZ treat the divisor as zero.
DIVISOR_EPSILON = 1e-6


class UnsupportedForm(Exception):
    """An equation (part) without a differentiable numeric form; the message says which."""


# ------------------------------------------------------------------ form functions


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
    """Rewrites one model's equations into forms (module docstring).

    >>> from sdhealth.ir import Constant, symbol
    >>> builder = FormBuilder(Model("m", variables=(Constant(name="k", value=2.0),)))
    >>> form = builder.derivative_form(fn.ZIDZ(symbol("x"), symbol("k")))
    >>> form
    Piecewise((0, Abs(k) < 1.0e-6), (x/k, True))
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self.lookups = {v.key: v for v in model.variables if isinstance(v, Lookup)}
        self._symbols: dict[str, sympy.Symbol] = {}
        self._evaluator: StartEvaluator | None = None

    def real(self, key: str) -> sympy.Symbol:
        """The real symbol standing for variable ``key`` in forms."""
        if key not in self._symbols:
            self._symbols[key] = sympy.Symbol(key, real=True)
        return self._symbols[key]

    def derivative_form(self, expr: sympy.Basic) -> sympy.Basic:
        """The form to differentiate and evaluate (stateful builtins pass on their input)."""
        return _Rewrite(self, hull=False).apply(expr)

    def value_form(self, expr: sympy.Basic) -> sympy.Basic:
        """The form whose sign bounds the equation's value (delays as :class:`Hull`)."""
        return _Rewrite(self, hull=True).apply(expr)

    def start_value(self, expr: sympy.Basic) -> float | None:
        """The value of ``expr`` at the initial time (for ``INITIAL``)."""
        if self._evaluator is None:
            self._evaluator = StartEvaluator(self.model, initial_values(self.model))
        return self._evaluator.value(expr)


class _Rewrite:
    """One rewriting pass (the rules of the module docstring)."""

    def __init__(self, builder: FormBuilder, *, hull: bool) -> None:
        self.builder = builder
        self.hull = hull

    def apply(self, expr: sympy.Basic) -> sympy.Basic:
        if isinstance(expr, sympy.Symbol):
            return self._symbol(expr)
        rule = _RULES.get(type(expr))
        if rule is not None:
            return rule(self, expr)
        if type(expr) in STATEFUL_ARGUMENTS:
            return self._stateful(expr)
        if isinstance(expr, fn.SDFunction):
            name = type(expr).vensim or type(expr).__name__
            raise UnsupportedForm(f"{name} has no numeric form for polarity checks")
        if not expr.args:
            return expr
        return expr.func(*(self.apply(arg) for arg in expr.args))

    def _symbol(self, symbol: sympy.Symbol) -> sympy.Basic:
        if symbol.name.startswith("@"):
            return symbol
        lookup = self.builder.lookups.get(symbol.name)
        if lookup is not None:
            raise UnsupportedForm(f"lookup '{lookup.name}' is used without an input")
        return self.builder.real(symbol.name)

    def _stateful(self, expr: sympy.Basic) -> sympy.Basic:
        if not self.hull:
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

    def _initial(self, expr: sympy.Basic) -> sympy.Basic:
        value = self.builder.start_value(expr.args[0])
        if value is None:
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


_RULES: dict[type[sympy.Basic], Callable[[_Rewrite, sympy.Basic], sympy.Basic]] = {
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
    fn.QUANTUM: lambda rw, e: _Quantum(*rw._args(e)),
    fn.MODULO: lambda rw, e: _Modulo(*rw._args(e)),
    sympy.Min: lambda rw, e: sympy.Min(*rw._args(e)) if rw.hull else _least(tuple(rw._args(e))),
    sympy.Max: lambda rw, e: sympy.Max(*rw._args(e)) if rw.hull else _most(tuple(rw._args(e))),
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
