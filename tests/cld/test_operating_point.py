"""Values at the initial time: the operating point link signs are taken at."""

from __future__ import annotations

import pytest
import sympy

from sdhealth.cld.operating_point import StartEvaluator, initial_values
from sdhealth.ir import (
    Auxiliary,
    Constant,
    Equation,
    Extrapolation,
    Lookup,
    Model,
    Stock,
    TimeSpec,
    symbol,
)
from sdhealth.ir import functions as fn

x = symbol("x")


def value_at_start(expr: sympy.Basic, start: float = 0.0, dt: float = 0.5) -> float | None:
    model = Model(
        "m",
        time=TimeSpec(start=start, stop=start + 10, dt=dt),
        variables=(
            Constant(name="x", value=4.0),
            Lookup(name="Rising", xs=(0.0, 10.0), ys=(0.0, 1.0)),
            Lookup(name="Extended", xs=(0.0, 1.0), ys=(0.0, 2.0),
                   extrapolation=Extrapolation.LINEAR),
        ),
    )  # fmt: skip
    return StartEvaluator(model, {"x": 4.0}).value(expr)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (fn.STEP(x, 0.2), 4.0),  # on: start + dt/2 > step time
        (fn.STEP(x, 0.25), 0.0),  # off at exactly half a step
        (fn.PULSE(0, 1), 1.0),
        (fn.PULSE(2, 1), 0.0),
        (fn.RAMP(x, 0, 5), 0.0),
        (fn.ZIDZ(x, 0), 0.0),
        (fn.XIDZ(x, 0, 7), 7.0),
        (fn.XIDZ(x, 2, 7), 2.0),
        (fn.INTEGER(-x / 3), -1.0),
        (fn.MODULO(x + 3, 5), 2.0),
        (fn.LOOKUP(symbol("Rising"), x), 0.4),
        (fn.LOOKUP(symbol("Rising"), x * 10), 1.0),  # held beyond the last point
        (fn.LOOKUP(symbol("Extended"), x), 8.0),  # extended linearly
        (fn.WITH_LOOKUP(x, sympy.Tuple(0, 8), sympy.Tuple(1, 0)), 0.5),
        (fn.DELAY3(x, 2), 4.0),
        (fn.DELAY1I(x, 2, 9), 9.0),
        (fn.SMOOTH(x * 2, 2), 8.0),
        (fn.TREND(x, 2, 0.1), 0.1),
        (fn.INITIAL(x), 4.0),
        (sympy.Piecewise((x, x > 3), (0, True)), 4.0),
        (sympy.Min(x, 2) + fn.TIME, 2.0),
        (x / 0, None),
        (sympy.sqrt(-x), None),
        (symbol("nowhere") + 1, None),
    ],
)
def test_builtins_at_the_start(expr: sympy.Basic, expected: float | None) -> None:
    assert value_at_start(expr) == (None if expected is None else pytest.approx(expected))


def test_ramp_after_its_start() -> None:
    assert value_at_start(fn.RAMP(x, 1, 2), start=3.0) == pytest.approx(4.0)
    assert value_at_start(fn.RAMP(x, 1, 5), start=3.0) == pytest.approx(8.0)


def test_initial_values_in_dependency_order() -> None:
    model = Model("m", variables=(
        Auxiliary(name="Doubled", equation=Equation(2 * symbol("Level"))),
        Stock(name="Level", initial=Equation(symbol("Rate") * 10)),
        Constant(name="Rate", value=0.5),
        Auxiliary(name="Loop a", equation=Equation(symbol("Loop b") + 1)),
        Auxiliary(name="Loop b", equation=Equation(symbol("Loop a") + 1)),
    ))  # fmt: skip
    values = initial_values(model)
    assert values == {"rate": 0.5, "level": 5.0, "doubled": 10.0}  # the algebraic loop left out
