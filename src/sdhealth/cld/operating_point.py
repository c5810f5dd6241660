"""The operating point of a model: the values of its variables at the initial time.

:func:`initial_values` evaluates a model once at its initial time by substitution in
dependency order: constants, stocks' initial values, then auxiliaries and flows (each strongly
connected group -- an algebraic loop -- is tried once and left out if it cannot be computed).
``STEP``, ``PULSE``, ``RAMP`` and ``PULSE TRAIN`` take their values at the start (Vensim's
half-step rule), delays and smooths their initial output (their input, or their initial-value
argument), ``TREND`` its initial trend, lookups interpolate their table (holding or extending
the end values as the lookup says). Values that cannot be computed (a division by zero, a
missing name) are left out.

:mod:`sdhealth.cld.derivatives` takes link signs at this point; :class:`StartEvaluator` is the
evaluator it shares.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import sympy

from sdhealth.ir import functions as fn
from sdhealth.ir.model import Constant, Extrapolation, Lookup, Model, Stock, Variable

__all__ = [
    "initial_values", "StartEvaluator", "StatefulArguments", "STATEFUL_ARGUMENTS",
    "interpolate", "as_float",
]  # fmt: skip


@dataclass(frozen=True)
class StatefulArguments:
    """Argument roles of a stateful builtin (the input is always argument 0).

    ``timing``: delay time and order; ``initial``: read only at the start; ``start_output``:
    the argument whose value the output has at the start.
    """

    timing: tuple[int, ...]
    initial: tuple[int, ...]
    start_output: int


STATEFUL_ARGUMENTS: dict[type[sympy.Basic], StatefulArguments] = {
    fn.DELAY1: StatefulArguments(timing=(1,), initial=(), start_output=0),
    fn.DELAY3: StatefulArguments(timing=(1,), initial=(), start_output=0),
    fn.DELAY1I: StatefulArguments(timing=(1,), initial=(2,), start_output=2),
    fn.DELAY3I: StatefulArguments(timing=(1,), initial=(2,), start_output=2),
    fn.DELAY_N: StatefulArguments(timing=(1, 3), initial=(2,), start_output=2),
    fn.DELAY_FIXED: StatefulArguments(timing=(1,), initial=(2,), start_output=2),
    fn.SMOOTH: StatefulArguments(timing=(1,), initial=(), start_output=0),
    fn.SMOOTH3: StatefulArguments(timing=(1,), initial=(), start_output=0),
    fn.SMOOTHI: StatefulArguments(timing=(1,), initial=(2,), start_output=2),
    fn.SMOOTH3I: StatefulArguments(timing=(1,), initial=(2,), start_output=2),
    fn.SMOOTH_N: StatefulArguments(timing=(1, 3), initial=(2,), start_output=2),
    fn.TREND: StatefulArguments(timing=(1,), initial=(2,), start_output=2),
    fn.FORECAST: StatefulArguments(timing=(1, 2), initial=(), start_output=0),
}


def interpolate(xs: Sequence[float], ys: Sequence[float], u: float, linear: bool) -> float:
    """The table's value at ``u``: straight lines between points, ends held (or extended)."""
    if linear and len(xs) > 1 and (u < xs[0] or u > xs[-1]):
        i = 0 if u < xs[0] else len(xs) - 2
        return ys[i] + (ys[i + 1] - ys[i]) * (u - xs[i]) / (xs[i + 1] - xs[i])
    return float(np.interp(u, xs, ys))


def as_float(value: sympy.Basic) -> float | None:
    """A finite real number, or None."""
    try:
        number = complex(sympy.N(value))
    except (TypeError, ValueError):
        return None
    if number.imag != 0 or not math.isfinite(number.real):
        return None
    return number.real


class StartEvaluator:
    """Values of IR expressions at a model's initial time, given values of some variables.

    >>> from sdhealth.ir import Model, symbol
    >>> evaluator = StartEvaluator(Model("m"), {"beds": 10.0})
    >>> evaluator.value(fn.STEP(symbol("Beds"), 0) + fn.TIME), evaluator.value(symbol("x"))
    (10.0, None)
    """

    def __init__(self, model: Model, values: Mapping[str, float]) -> None:
        clock = model.time
        self.start, self.dt = clock.start, clock.dt
        self.numbers: dict[sympy.Symbol, sympy.Basic] = {
            fn.TIME: sympy.Float(clock.start),
            fn.TIME_STEP: sympy.Float(clock.dt),
            fn.INITIAL_TIME: sympy.Float(clock.start),
            fn.FINAL_TIME: sympy.Float(clock.stop),
            fn.SAVEPER: sympy.Float(clock.save_every),
        }
        self.numbers.update({sympy.Symbol(k): sympy.Float(v) for k, v in values.items()})
        self.lookups = {v.key: v for v in model.variables if isinstance(v, Lookup)}

    def set(self, key: str, value: float) -> None:
        """Record the value of the variable with key ``key``."""
        self.numbers[sympy.Symbol(key)] = sympy.Float(value)

    def value(self, expr: sympy.Basic) -> float | None:
        """The value of ``expr`` at the initial time, or None if it cannot be computed."""
        return as_float(self._evaluate(expr))

    def _evaluate(self, expr: sympy.Basic) -> sympy.Basic:
        if isinstance(expr, sympy.Symbol):
            return self.numbers.get(expr, expr)
        spec = STATEFUL_ARGUMENTS.get(type(expr))
        if spec is not None:
            return self._evaluate(expr.args[spec.start_output])
        rule = _VALUE_RULES.get(type(expr))
        if rule is not None:
            result = rule(self, expr)
            return expr if result is None else sympy.Float(result)
        if not expr.args or isinstance(expr, fn.SDFunction):
            return expr
        return expr.func(*(self._evaluate(arg) for arg in expr.args))

    def arguments(self, expr: sympy.Basic) -> list[float] | None:
        """The values of a call's arguments, or None if one cannot be computed."""
        values = [self.value(arg) for arg in expr.args]
        return None if any(v is None for v in values) else values  # type: ignore[return-value]

    def table(self, expr: sympy.Basic) -> tuple[list[float], list[float], sympy.Basic, bool] | None:
        """``(xs, ys, input, linear extrapolation)`` of a lookup call, or None."""
        if isinstance(expr, fn.WITH_LOOKUP):
            xs, ys = [float(x) for x in expr.args[1]], [float(y) for y in expr.args[2]]
            return xs, ys, expr.args[0], False
        table = expr.args[0]
        lookup = self.lookups.get(table.name) if isinstance(table, sympy.Symbol) else None
        if lookup is None or not lookup.xs:
            return None
        linear = lookup.extrapolation is Extrapolation.LINEAR
        return list(lookup.xs), list(lookup.ys), expr.args[1], linear


def _lookup_value(ev: StartEvaluator, expr: sympy.Basic) -> float | None:
    table = ev.table(expr)
    if table is None:
        return None
    xs, ys, argument, linear = table
    u = ev.value(argument)
    return None if u is None or not xs else interpolate(xs, ys, u, linear)


def _step_value(ev: StartEvaluator, expr: sympy.Basic) -> float | None:
    args = ev.arguments(expr)
    if args is None:
        return None
    height, at = args
    return height if ev.start + ev.dt / 2 > at else 0.0


def _pulse_on(ev: StartEvaluator, start: float, width: float) -> float:
    now = ev.start + ev.dt / 2
    return 1.0 if start <= now < start + (width if width > 0 else ev.dt) else 0.0


def _pulse_value(ev: StartEvaluator, expr: sympy.Basic) -> float | None:
    args = ev.arguments(expr)
    return None if args is None else _pulse_on(ev, args[0], args[1])


def _pulse_train_value(ev: StartEvaluator, expr: sympy.Basic) -> float | None:
    args = ev.arguments(expr)
    if args is None:
        return None
    start, width, _repeat, end = args
    return _pulse_on(ev, start, width) if ev.start <= end else 0.0


def _ramp_value(ev: StartEvaluator, expr: sympy.Basic) -> float | None:
    args = ev.arguments(expr)
    if args is None:
        return None
    slope, begin, end = args
    return slope * (min(ev.start, end) - begin) if ev.start > begin else 0.0


def _ratio_value(ev: StartEvaluator, expr: sympy.Basic) -> float | None:
    args = ev.arguments(expr)
    if args is None:
        return None
    fallback = args[2] if len(args) == 3 else 0.0
    return fallback if abs(args[1]) < 1e-6 else args[0] / args[1]


def _quantum(x: float, q: float) -> float:
    return q * math.trunc(x / q) if q > 0 else x


def _integer_value(ev: StartEvaluator, expr: sympy.Basic) -> float | None:
    args = ev.arguments(expr)
    return None if args is None else float(math.trunc(args[0]))


def _floor_value(ev: StartEvaluator, expr: sympy.Basic) -> float | None:
    args = ev.arguments(expr)
    return None if args is None else float(math.floor(args[0]))


def _quantum_value(ev: StartEvaluator, expr: sympy.Basic) -> float | None:
    args = ev.arguments(expr)
    return None if args is None else _quantum(args[0], args[1])


def _modulo_value(ev: StartEvaluator, expr: sympy.Basic) -> float | None:
    args = ev.arguments(expr)
    return None if args is None else args[0] - _quantum(args[0], args[1])


def _initial_value(ev: StartEvaluator, expr: sympy.Basic) -> float | None:
    return ev.value(expr.args[0])


_VALUE_RULES: dict[type[sympy.Basic], Callable[[StartEvaluator, sympy.Basic], float | None]] = {
    fn.LOOKUP: _lookup_value,
    fn.WITH_LOOKUP: _lookup_value,
    fn.STEP: _step_value,
    fn.PULSE: _pulse_value,
    fn.PULSE_TRAIN: _pulse_train_value,
    fn.RAMP: _ramp_value,
    fn.ZIDZ: _ratio_value,
    fn.XIDZ: _ratio_value,
    fn.INTEGER: _integer_value,
    fn.FLOOR: _floor_value,
    fn.QUANTUM: _quantum_value,
    fn.MODULO: _modulo_value,
    fn.INITIAL: _initial_value,
}


def _defining_expression(variable: Variable) -> sympy.Basic | None:
    if isinstance(variable, Stock):
        return getattr(variable.initial, "expr", None)
    equations = variable.equations()
    return equations[0].expr if equations else None


def initial_values(model: Model) -> dict[str, float]:
    """Values of the model's variables at its initial time, by key (lookups left out).

    >>> from sdhealth.ir import Auxiliary, Constant, Equation, Stock, symbol
    >>> m = Model("m", variables=(
    ...     Constant(name="Rate", value=0.5),
    ...     Stock(name="Level", initial=Equation(10 * symbol("Rate"))),
    ...     Auxiliary(name="Out", equation=Equation(symbol("Level") * symbol("Rate")))))
    >>> initial_values(m)
    {'rate': 0.5, 'level': 5.0, 'out': 2.5}
    """
    values = {v.key: v.value for v in model.variables if isinstance(v, Constant)}
    computed = {v.key: v for v in model.variables if not isinstance(v, Constant | Lookup)}
    reads = nx.DiGraph()
    reads.add_nodes_from(computed)
    for key, variable in computed.items():
        expr = _defining_expression(variable)
        names = () if expr is None else (s.name for s in expr.free_symbols)
        reads.add_edges_from((name, key) for name in names if name in computed)
    evaluator = StartEvaluator(model, values)
    position = {key: i for i, key in enumerate(computed)}
    condensed = nx.condensation(reads)
    for component in nx.topological_sort(condensed):
        for key in sorted(condensed.nodes[component]["members"], key=position.__getitem__):
            expr = _defining_expression(computed[key])
            value = None if expr is None else evaluator.value(expr)
            if value is not None:
                values[key] = value
                evaluator.set(key, value)
    return values
