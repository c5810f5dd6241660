"""Clock settings given by equations (Vensim's ``FINAL TIME = ...``) on the native backend.

The reference is the PySD backend, which follows PySD's own loop: the clock equations are
computed at each time from the state, and a run setting a number overrides an equation.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from sdhealth.backends.base import RunSpec, get_backend
from sdhealth.backends.native import NativeBackend
from sdhealth.errors import BackendError, ModelError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Constant, Equation, Flow, Model, Stock, TimeSpec, symbol

LEVEL, RATE, HORIZON = symbol("Level"), symbol("Rate"), symbol("Horizon")


@pytest.fixture(scope="module")
def native(tmp_path_factory) -> NativeBackend:
    return NativeBackend(cache_dir=tmp_path_factory.mktemp("native-clock-cache"))


def growth(*equations: tuple[str, sympy.Expr]) -> Model:
    """``Level`` grows by ``Rate*Level``; stand-in clock 0..100 by 1."""
    clock = TimeSpec(0.0, 100.0, 1.0, equations=tuple((s, Equation(e)) for s, e in equations))
    return Model(
        "growth",
        clock,
        (
            Constant(name="Rate", value=0.2),
            Constant(name="Horizon", value=8.0),
            Stock(name="Level", initial=Equation(sympy.Integer(1)), inflows=("Growth",)),
            Flow(name="Growth", equation=Equation(RATE * LEVEL + fn.TIME_STEP)),
        ),
    )


def level(result) -> np.ndarray:
    return result.values[:, result.columns.index("Level")]


def run_both(model: Model, native: NativeBackend, **overrides):
    spec = RunSpec.from_time(model.time, **overrides)
    ours = native.run(model, spec, {})
    theirs = get_backend("pysd").run(model, spec, {})
    assert ours.columns == theirs.columns
    np.testing.assert_array_equal(ours.times, theirs.times)
    np.testing.assert_allclose(ours.values, theirs.values, rtol=1e-9, atol=1e-12)
    return ours


def test_final_time_from_a_constant(native):
    result = run_both(growth(("final time", HORIZON)), native)
    assert result.times.tolist() == [float(t) for t in range(9)]
    assert level(result)[1] == pytest.approx(1 + 0.2 * 1 + 1)


def test_clock_that_changes_during_the_run_follows_pysd(native):
    # the time step halves at 4, the run stops when Level exceeds 40, saving every 2 later
    model = growth(
        ("time step", sympy.Piecewise((1, fn.TIME < 4), (0.5, True))),
        ("final time", sympy.Piecewise((fn.TIME, LEVEL > 40), (100, True))),
        ("saveper", sympy.Piecewise((fn.TIME_STEP, fn.TIME < 6), (2, True))),
    )
    result = run_both(model, native)
    times = result.times.tolist()
    assert times[:7] == [0.0, 1.0, 2.0, 3.0, 4.0, 4.5, 5.0]
    assert times[-1] < 100 and level(result)[-1] > 40
    assert np.all(np.diff(times[times.index(6.0) :]) == 2)


def test_a_run_setting_the_number_overrides_the_equation(native):
    result = run_both(growth(("final time", HORIZON)), native, stop=3.0)
    assert result.times.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_batch_shares_a_clock_that_its_parameters_do_not_change(native):
    model = growth(("final time", HORIZON))
    spec = RunSpec.from_time(model.time)
    times, values, _ = native.run_batch(model, spec, ["Rate"], np.array([[0.1], [0.3]]))
    assert times.tolist() == [float(t) for t in range(9)]
    single = native.run(model, spec, {"Rate": 0.3})
    np.testing.assert_array_equal(values[1], single.values)


def test_batch_whose_parameters_change_the_clock_is_an_error(native):
    model = growth(("final time", HORIZON))
    spec = RunSpec.from_time(model.time)
    with pytest.raises(BackendError, match="run 1 .*another FINAL TIME"):
        native.run_batch(model, spec, ["Horizon"], np.array([[8.0], [5.0]]))


def test_time_step_that_is_not_positive_is_an_error(native):
    model = growth(("time step", HORIZON - 8))
    with pytest.raises(ModelError, match="TIME STEP, computed by its equation, is 0"):
        native.run(model, RunSpec.from_time(model.time), {})


def test_clock_equations_with_rk4(native):
    model = growth(("final time", HORIZON), ("time step", sympy.Rational(1, 4)))
    result = native.run(model, RunSpec.from_time(model.time, method="rk4"), {})
    assert result.times[-1] == 8.0
    # dLevel/dt = 0.2*Level + 0.25 from 1: Level(8) = (1 + 1.25)*e^1.6 - 1.25
    assert level(result)[-1] == pytest.approx(2.25 * np.exp(1.6) - 1.25, rel=1e-5)
