"""Every SD builtin run through the PySD backend against Vensim's documented behaviour.

One model holds every builtin as an auxiliary and runs once (dt = 0.25, t = 0..8). Each test
computes what Vensim's documentation prescribes -- for delays, smooths and trends the exact
Euler recurrence of their stock structure -- and compares it with the run, column by column.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

from sdhealth.backends.base import RunSpec
from sdhealth.backends.pysd import PySDBackend
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Equation,
    Extrapolation,
    Lookup,
    Model,
    TimeSpec,
    symbol,
)

DT = 0.25
TIMES = np.arange(0, 8 + DT / 2, DT)
INPUT = symbol("input")  # 3 + STEP(1, 1): a unit step from t = 1
GROWTH = symbol("growth")  # 10 * EXP(0.1 * Time): constant fractional growth 0.1


def _aux(name: str, expr: sympy.Expr) -> Auxiliary:
    return Auxiliary(name=name, equation=Equation(expr))


BUILTINS = {
    "input": 3 + fn.STEP(1, 1),
    "growth": 10 * sympy.exp(sympy.Float(0.1) * fn.TIME),
    "step": fn.STEP(5, 2),
    "step off grid": fn.STEP(5, 2.1),
    "step later": fn.STEP(5, 2.15),
    "pulse": fn.PULSE(1, 0.5),
    "pulse zero width": fn.PULSE(3, 0),
    "pulse train": fn.PULSE_TRAIN(1, 0.5, 2, 6),
    "ramp": fn.RAMP(2, 1, 3),
    "zidz zero": fn.ZIDZ(1, 0),
    "zidz tiny": fn.ZIDZ(1, sympy.Float(1e-7)),
    "zidz": fn.ZIDZ(3, 2),
    "xidz zero": fn.XIDZ(1, 0, 7),
    "xidz": fn.XIDZ(3, 2, 7),
    "integer negative": fn.INTEGER(-2.7),
    "integer positive": fn.INTEGER(2.7),
    "modulo negative": fn.MODULO(-7, 3),
    "modulo positive": fn.MODULO(7, 3),
    "quantum": fn.QUANTUM(7.5, 2),
    "min": sympy.Min(fn.TIME, 3),
    "max": sympy.Max(fn.TIME, 2, 5 - fn.TIME),
    "if": sympy.Piecewise((1, sympy.And(fn.TIME > 2, fn.TIME < 5)), (0, True)),
    "looked up": fn.LOOKUP(symbol("table"), fn.TIME - 1),
    "extrapolated": fn.LOOKUP(symbol("linear table"), fn.TIME - 1),
    "with lookup": fn.WITH_LOOKUP(fn.TIME, sympy.Tuple(1, 3), sympy.Tuple(1, 5)),
    "initial": fn.INITIAL(GROWTH),
    "delay1": fn.DELAY1(INPUT, 2),
    "delay1i": fn.DELAY1I(INPUT, 2, 7),
    "delay3": fn.DELAY3(INPUT, 3),
    "delay3i": fn.DELAY3I(INPUT, 3, 7),
    "delay n": fn.DELAY_N(INPUT, 4, 2, 4),
    "delay fixed": fn.DELAY_FIXED(INPUT, 1, 9),
    "smooth": fn.SMOOTH(INPUT, 2),
    "smoothi": fn.SMOOTHI(INPUT, 2, 4),
    "smooth3": fn.SMOOTH3(INPUT, 3),
    "smooth3i": fn.SMOOTH3I(INPUT, 3, 4),
    "smooth n": fn.SMOOTH_N(INPUT, 4, 2, 4),
    "trend": fn.TREND(GROWTH, 2, 0.1),
    "forecast": fn.FORECAST(GROWTH, 2, 3),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict[str, np.ndarray]:
    """The whole builtin model run once; column name -> values at TIMES."""
    variables = [_aux(name, expr) for name, expr in BUILTINS.items()]
    variables += [
        Lookup(name="table", xs=(0, 2, 4), ys=(0, 4, 5)),
        Lookup(name="linear table", xs=(0, 2, 4), ys=(0, 4, 5), extrapolation=Extrapolation.LINEAR),
    ]
    model = Model("builtins", TimeSpec(0, 8, DT), tuple(variables))
    backend = PySDBackend(cache_dir=tmp_path_factory.mktemp("pysd-cache"))
    result = backend.run(model, RunSpec.from_time(model.time), {})
    np.testing.assert_allclose(result.times, TIMES)
    return {name: result.values[:, j] for j, name in enumerate(result.columns)}


def _inputs() -> np.ndarray:
    """``3 + STEP(1, 1)`` by Vensim's half-step rule."""
    return 3 + (TIMES + DT / 2 > 1).astype(float)


def _growth() -> np.ndarray:
    return 10 * np.exp(0.1 * TIMES)


def _cascade(inputs: np.ndarray, total_time: float, order: int, initial: float) -> np.ndarray:
    """Output of ``order`` first-order stages of ``total_time/order`` each, by Euler.

    A material delay stage (content S, outflow S/tau) and a smoothing stage follow the same
    equation for their output y: dy/dt = (input - y)/tau; both start at ``initial``.
    """
    tau = total_time / order
    stages = [initial] * order
    outputs = []
    for value in inputs:
        outputs.append(stages[-1])
        targets = [value, *stages[:-1]]
        stages = [s + DT * (t - s) / tau for s, t in zip(stages, targets, strict=True)]
    return np.array(outputs)


def _close(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- time functions


def test_step_half_step_rule(run) -> None:
    at = dict(zip(TIMES, run["step"], strict=True))
    assert at[1.75] == 0 and at[2.0] == 5
    _close(run["step"], np.where(TIMES >= 2, 5.0, 0.0))
    # on when t + dt/2 > step time: STEP(5, 2.1) is on at 2.0, STEP(5, 2.15) only at 2.25
    _close(run["step off grid"], np.where(TIMES >= 2, 5.0, 0.0))
    _close(run["step later"], np.where(TIMES >= 2.25, 5.0, 0.0))


def test_pulse_start_and_width(run) -> None:
    _close(run["pulse"], np.where((TIMES >= 1) & (TIMES < 1.5), 1.0, 0.0))
    assert run["pulse"].sum() == 2  # t = 1 and t = 1.25


def test_pulse_of_zero_width_lasts_one_time_step(run) -> None:
    _close(run["pulse zero width"], np.where(TIMES == 3, 1.0, 0.0))


def test_pulse_train_repeats_until_its_end(run) -> None:
    on = np.zeros_like(TIMES)
    for start in (1, 3, 5):  # every 2 from 1, each 0.5 long; the one at 7 is after end = 6
        on[(TIMES >= start) & (TIMES < start + 0.5)] = 1
    _close(run["pulse train"], on)


def test_ramp(run) -> None:
    _close(run["ramp"], 2 * (np.clip(TIMES, 1, 3) - 1))


# --------------------------------------------------------------------------- arithmetic


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("zidz zero", 0.0),
        ("zidz tiny", 0.0),  # |b| below 1e-6 counts as zero
        ("zidz", 1.5),
        ("xidz zero", 7.0),
        ("xidz", 1.5),
        ("integer negative", -2.0),  # truncation toward zero
        ("integer positive", 2.0),
        ("modulo negative", -1.0),  # the sign of x: -7 - 3*INTEGER(-7/3)
        ("modulo positive", 1.0),
        ("quantum", 6.0),
    ],
)
def test_constant_valued_builtins(run, column: str, value: float) -> None:
    _close(run[column], np.full_like(TIMES, value))


def test_min_max_and_if_then_else(run) -> None:
    _close(run["min"], np.minimum(TIMES, 3))
    _close(run["max"], np.maximum(np.maximum(TIMES, 2), 5 - TIMES))
    _close(run["if"], ((TIMES > 2) & (TIMES < 5)).astype(float))


def test_lookup_holds_its_end_values(run) -> None:
    _close(run["looked up"], np.interp(TIMES - 1, [0, 2, 4], [0, 4, 5]))
    assert run["looked up"][0] == 0 and run["looked up"][-1] == 5


def test_lookup_with_linear_extrapolation(run) -> None:
    x = TIMES - 1
    expected = np.interp(x, [0, 2, 4], [0, 4, 5])
    expected = np.where(x < 0, 2 * x, np.where(x > 4, 5 + 0.5 * (x - 4), expected))
    _close(run["extrapolated"], expected)
    assert run["extrapolated"][-1] == pytest.approx(6.5)


def test_with_lookup(run) -> None:
    _close(run["with lookup"], np.interp(TIMES, [1, 3], [1, 5]))


def test_initial_holds_the_first_value(run) -> None:
    _close(run["initial"], np.full_like(TIMES, 10.0))


# --------------------------------------------------------------------------- delays


def test_delay1_starts_in_equilibrium_then_responds_first_order(run) -> None:
    expected = _cascade(_inputs(), 2, 1, initial=3)
    _close(run["delay1"], expected)
    assert run["delay1"][0] == 3
    # one Euler step after the step input: y = 3 + dt/T
    step_index = int(np.argmax(_inputs() > 3))
    assert run["delay1"][step_index + 1] == pytest.approx(3 + DT / 2)


def test_delay1i(run) -> None:
    _close(run["delay1i"], _cascade(_inputs(), 2, 1, initial=7))


def test_delay3(run) -> None:
    expected = _cascade(_inputs(), 3, 3, initial=3)
    _close(run["delay3"], expected)
    # third order: the output moves two steps later than a first-order delay's
    step_index = int(np.argmax(_inputs() > 3))
    assert run["delay3"][step_index + 2] == 3 and run["delay3"][step_index + 3] > 3


def test_delay3i(run) -> None:
    _close(run["delay3i"], _cascade(_inputs(), 3, 3, initial=7))


def test_delay_n(run) -> None:
    _close(run["delay n"], _cascade(_inputs(), 4, 4, initial=2))


def test_delay_fixed_is_an_exact_shift(run) -> None:
    shifted = np.concatenate([np.full(4, 9.0), _inputs()[:-4]])  # 1 time unit = 4 steps
    np.testing.assert_array_equal(run["delay fixed"], shifted)


# --------------------------------------------------------------------------- smooths, trends


def test_smooth(run) -> None:
    _close(run["smooth"], _cascade(_inputs(), 2, 1, initial=3))


def test_smoothi(run) -> None:
    _close(run["smoothi"], _cascade(_inputs(), 2, 1, initial=4))


def test_smooth3(run) -> None:
    _close(run["smooth3"], _cascade(_inputs(), 3, 3, initial=3))


def test_smooth3i(run) -> None:
    _close(run["smooth3i"], _cascade(_inputs(), 3, 3, initial=4))


def test_smooth_n(run) -> None:
    _close(run["smooth n"], _cascade(_inputs(), 4, 4, initial=2))


def _average(inputs: np.ndarray, average_time: float, initial: float) -> np.ndarray:
    return _cascade(inputs, average_time, 1, initial)


def test_trend_of_constant_growth_approaches_the_growth_rate(run) -> None:
    growth = _growth()
    average = _average(growth, 2, initial=growth[0] / (1 + 0.1 * 2))
    expected = (growth - average) / (2 * np.abs(average))
    _close(run["trend"], expected)
    assert run["trend"][0] == pytest.approx(0.1)  # the initial trend given
    assert math.isclose(run["trend"][-1], 0.1, rel_tol=0.1)


def test_forecast(run) -> None:
    growth = _growth()
    average = _average(growth, 2, initial=growth[0])
    expected = growth * (1 + (growth - average) / (2 * average) * 3)
    _close(run["forecast"], expected)
    assert run["forecast"][0] == pytest.approx(10)
    # extrapolating a growing input: the forecast runs ahead of the input
    assert np.all(run["forecast"][1:] > growth[1:])
