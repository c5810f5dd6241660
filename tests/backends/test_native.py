"""The native backend against the PySD reference, closed forms, its errors and its batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy

import sdhealth as sd
from sdhealth.backends.base import RunSpec, get_backend
from sdhealth.backends.native import NativeBackend, time_grid
from sdhealth.backends.pysd import PySDBackend
from sdhealth.errors import SimulationError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Equation,
    Extrapolation,
    Flow,
    Lookup,
    Model,
    Stock,
    TimeSpec,
    symbol,
)

MODELS = Path(__file__).resolve().parents[2] / "models"
RTOL = 1e-9


@pytest.fixture(scope="module")
def native(tmp_path_factory) -> NativeBackend:
    return NativeBackend(cache_dir=tmp_path_factory.mktemp("native-cache"))


@pytest.fixture(scope="module")
def pysd_backend() -> PySDBackend:
    return get_backend("pysd")  # the user cache: translations persist between test runs


def _agree(native_result, pysd_result) -> None:
    assert native_result.columns == pysd_result.columns
    np.testing.assert_array_equal(native_result.times, pysd_result.times)
    np.testing.assert_allclose(native_result.values, pysd_result.values, rtol=RTOL, atol=1e-12)


def _both(model: Model, native, pysd_backend, params=None, **spec):
    run_spec = RunSpec.from_time(model.time, **spec)
    return (
        native.run(model, run_spec, params or {}),
        pysd_backend.run(model, run_spec, params or {}),
    )


# --------------------------------------------------------------------------- shipped models


def _stock_and_flow_models() -> list[Path]:
    """The shipped ``.yaml`` models (causal-loop diagram files start with ``diagram:``)."""
    return [p for p in sorted(MODELS.glob("*.yaml")) if not p.read_text().startswith("diagram:")]


@pytest.mark.parametrize("path", _stock_and_flow_models(), ids=lambda p: p.stem)
def test_every_shipped_model_matches_pysd(path: Path, native, pysd_backend) -> None:
    model = sd.load(path).ir
    # PySD evaluates lookups through xarray (~0.1 s a step on nhs_england): compare the first
    # 256 steps, which cross every feedback path many times; full horizons are benchmarked.
    stop = min(model.time.stop, model.time.start + 256 * model.time.dt)
    _agree(*_both(model, native, pysd_backend, stop=stop))


def test_registered_as_native() -> None:
    assert isinstance(get_backend("native"), NativeBackend)


# --------------------------------------------------------------------------- builtins

BUILTINS = {
    "input": 3 + fn.STEP(1, 1),
    "growth": 10 * sympy.exp(sympy.Float(0.1) * fn.TIME),
    "step": fn.STEP(5, 2),
    "step off grid": fn.STEP(5, 2.1),
    "pulse": fn.PULSE(1, 0.5),
    "pulse zero width": fn.PULSE(3, 0),
    "pulse train": fn.PULSE_TRAIN(1, 0.5, 2, 6),
    "ramp": fn.RAMP(2, 1, 3),
    "zidz zero": fn.ZIDZ(1, 0),
    "zidz tiny": fn.ZIDZ(1, sympy.Float(1e-7)),
    "zidz": fn.ZIDZ(fn.TIME, 2),
    "xidz zero": fn.XIDZ(1, 0, 7),
    "xidz": fn.XIDZ(3, fn.TIME, 7),
    "integer": fn.INTEGER(fn.TIME - 2.7),
    "modulo": fn.MODULO(fn.TIME - 7, 3),
    "quantum": fn.QUANTUM(fn.TIME * 3, 2),
    "min": sympy.Min(fn.TIME, 3),
    "max": sympy.Max(fn.TIME, 2, 5 - fn.TIME),
    "if": sympy.Piecewise((1, sympy.And(fn.TIME > 2, fn.TIME < 5)), (0, True)),
    "or not": sympy.Piecewise(
        (1, sympy.Or(sympy.Not(fn.TIME >= 1), sympy.Eq(fn.TIME, 6))), (0, True)
    ),
    "maths": sympy.sqrt(fn.TIME + 1)
    + sympy.log(fn.TIME + 2)
    + sympy.Abs(2 - fn.TIME)
    + sympy.sin(fn.TIME)
    + sympy.cos(fn.TIME)
    + sympy.atan(fn.TIME)
    + fn.TIME ** sympy.Float(1.5),
    "looked up": fn.LOOKUP(symbol("table"), fn.TIME - 1),
    "extrapolated": fn.LOOKUP(symbol("linear table"), fn.TIME - 1),
    "with lookup": fn.WITH_LOOKUP(fn.TIME, sympy.Tuple(1, 3), sympy.Tuple(1, 5)),
    "initial": fn.INITIAL(symbol("growth")),
    "delay1": fn.DELAY1(symbol("input"), 2),
    "delay3i": fn.DELAY3I(symbol("input"), 3, 7),
    "delay n": fn.DELAY_N(symbol("input"), 4, 2, 4),
    "delay fixed": fn.DELAY_FIXED(symbol("input"), 1, 9),
    "smooth": fn.SMOOTH(symbol("input"), 2),
    "smooth3i": fn.SMOOTH3I(symbol("input"), 3, 4),
    "trend": fn.TREND(symbol("growth"), 2, 0.1),
    "forecast": fn.FORECAST(symbol("growth"), 2, 3),
}


def builtin_model(saveper: float | None = None) -> Model:
    variables = [Auxiliary(name=n, equation=Equation(e)) for n, e in BUILTINS.items()]
    variables += [
        Lookup(name="table", xs=(0, 2, 4), ys=(0, 4, 5)),
        Lookup(name="linear table", xs=(0, 2, 4), ys=(0, 4, 5), extrapolation=Extrapolation.LINEAR),
    ]
    return Model("builtins", TimeSpec(0, 8, 0.25, saveper), tuple(variables))


def test_every_builtin_matches_pysd(native, pysd_backend) -> None:
    native_result, pysd_result = _both(builtin_model(), native, pysd_backend)
    _agree(native_result, pysd_result)
    column = native_result.columns.index("delay fixed")  # a true shift, not a smooth
    assert native_result.values[:4, column].tolist() == [9.0] * 4
    assert native_result.values[4, column] == 3.0


def test_saveper_gives_pysd_timestamps(native, pysd_backend) -> None:
    native_result, pysd_result = _both(builtin_model(), native, pysd_backend, saveper=0.75)
    _agree(native_result, pysd_result)
    assert native_result.times.tolist()[:3] == [0.0, 0.75, 1.5]


def test_time_grid_with_an_awkward_time_step() -> None:
    times, rows, saved = time_grid(0.0, 1.0, 0.1, 0.3)
    assert len(times) == 11 and saved.tolist() == [0.0, 0.3, 0.6, 0.9]
    assert rows[rows >= 0].tolist() == [0, 1, 2, 3]


# --------------------------------------------------------------------------- teacup, RK4


def teacup(dt: float = 0.125, stop: float = 30) -> Model:
    temperature, room = symbol("Teacup Temperature"), symbol("Room Temperature")
    return Model(
        "teacup",
        TimeSpec(0, stop, dt),
        (
            Constant(name="Characteristic Time", value=10),
            Constant(name="Room Temperature", value=70),
            Flow(
                name="Heat Loss to Room",
                equation=Equation((temperature - room) / symbol("Characteristic Time")),
            ),
            Stock(
                name="Teacup Temperature",
                initial=Equation(sympy.Float(180)),
                outflows=("Heat Loss to Room",),
            ),
        ),
    )


def test_params_apply_to_one_run_only(native, pysd_backend) -> None:
    model = teacup()
    _agree(*_both(model, native, pysd_backend, params={"Room Temperature": 20}))
    again = native.run(model, RunSpec.from_time(model.time), {})
    assert again.values[-1, again.columns.index("Room Temperature")] == 70


def _rk_error(native: NativeBackend, method: str, dt: float) -> float:
    model = teacup(dt, stop=10)
    result = native.run(model, RunSpec.from_time(model.time, method=method), {})
    final = result.values[-1, result.columns.index("Teacup Temperature")]
    return abs(final - (70 + 110 * np.exp(-1.0)))


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("rk2", 2), ("rk4", 4)])
def test_methods_converge_at_their_order(native, method: str, order: int) -> None:
    coarse, fine = _rk_error(native, method, 0.5), _rk_error(native, method, 0.25)
    assert np.log2(coarse / fine) == pytest.approx(order, abs=0.15)
    if method == "rk4":
        assert fine < 1e-5


# --------------------------------------------------------------------------- errors


def test_nan_names_the_variable_and_time(native) -> None:
    model = Model(
        "nan",
        TimeSpec(0, 4, 0.5),
        (
            Auxiliary(name="Falling", equation=Equation(2 - fn.TIME)),
            Auxiliary(name="Root", equation=Equation(sympy.sqrt(symbol("Falling")))),
            Auxiliary(name="Twice root", equation=Equation(2 * symbol("Root"))),
        ),
    )
    with pytest.raises(SimulationError) as caught:
        native.run(model, RunSpec.from_time(model.time), {})
    assert caught.value.variable == "Root" and caught.value.time == 2.5
    assert "NaN" in str(caught.value)


def test_overflow_is_an_error(native) -> None:
    model = Model(
        "boom",
        TimeSpec(0, 10, 1),
        (
            Flow(name="Growth", equation=Equation(symbol("Size") ** 2)),
            Stock(name="Size", initial=Equation(sympy.Float(10)), inflows=("Growth",)),
        ),
    )
    with pytest.raises(SimulationError, match="infinite"):
        native.run(model, RunSpec.from_time(model.time), {})


def test_negative_stock_is_an_error(native) -> None:
    model = Model(
        "drain",
        TimeSpec(0, 10, 1),
        (
            Flow(name="Out", equation=Equation(sympy.Float(3))),
            Stock(
                name="Tank", initial=Equation(sympy.Float(10)), outflows=("Out",), non_negative=True
            ),
        ),
    )
    with pytest.raises(SimulationError) as caught:
        native.run(model, RunSpec.from_time(model.time), {})
    assert caught.value.variable == "Tank" and caught.value.time == 4


# --------------------------------------------------------------------------- batches


def test_batch_equals_a_loop_of_single_runs(native) -> None:
    model = builtin_model()
    model = model.with_variables(Constant(name="k", value=1.0))
    model = model.with_variables(
        Auxiliary(name="scaled", equation=Equation(symbol("k") * symbol("delay3i")))
    )
    spec = RunSpec.from_time(model.time)
    ks = np.linspace(0.5, 2.0, 7)
    times, values, columns = native.run_batch(model, spec, ["k"], ks[:, None])
    assert values.shape == (7, len(times), len(columns))
    for r, k in enumerate(ks):
        single = native.run(model, spec, {"k": k})
        np.testing.assert_array_equal(values[r], single.values)
    picked = native.run_batch(model, spec, ["k"], ks[:, None], return_columns=["scaled"])
    np.testing.assert_array_equal(picked[1][:, :, 0], values[:, :, columns.index("scaled")])


def test_batch_error_names_the_run(native) -> None:
    model = teacup().with_variables(
        Auxiliary(name="Inverse", equation=Equation(1 / (symbol("Room Temperature") - 20)))
    )
    with pytest.raises(SimulationError, match=r"run 1"):
        native.run_batch(model, RunSpec.from_time(model.time), ["Room Temperature"], [[70], [20]])


def test_native_is_the_default_of_model_run(native, pysd_backend) -> None:
    model = sd.load(MODELS / "teacup.yaml")
    default = model.run(method="rk4")  # only the native backend offers RK4
    spec = RunSpec.from_time(model.ir.time, method="rk4")
    direct = get_backend("native").run(model.ir, spec, {})
    np.testing.assert_array_equal(default.to_numpy(), direct.values)
    reference = model.run(backend="pysd")
    np.testing.assert_allclose(model.run().to_numpy(), reference.to_numpy(), rtol=RTOL)


# --------------------------------------------------------------------------- delay order


def short_delays() -> Model:
    """Delays whose order PySD lowers at dt = 0.5 (order*dt > delay time), not at dt = 0.125."""
    source = 5 + 5 * fn.STEP(1, 2) + sympy.sin(fn.TIME)
    return Model(
        "short delays",
        TimeSpec(0.0, 10.0, 0.5),
        (
            Flow(name="Input", equation=Equation(source)),
            Flow(name="D3", equation=Equation(fn.DELAY3(symbol("Input"), 1))),
            Flow(name="DN", equation=Equation(fn.DELAY_N(symbol("Input"), 1.2, 3, 4))),
            Flow(name="D3I", equation=Equation(fn.DELAY3I(symbol("Input"), 0.6, 2))),
        ),
    )


@pytest.mark.parametrize("dt", [0.5, 0.125])
def test_delay_order_is_lowered_per_run_as_pysd_does(native, pysd_backend, dt) -> None:
    ours, theirs = _both(short_delays(), native, pysd_backend, dt=dt)
    _agree(ours, theirs)
    d3 = ours.values[:, ours.columns.index("D3")]
    assert np.ptp(d3) > 5  # the step and the sine come through
