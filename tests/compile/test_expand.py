"""Expansion of stateful builtins into internal stocks (sdhealth.compile.expand).

Correctness is checked by integrating the expanded model with a tiny Euler integrator written
here (it only knows stocks, flows and auxiliaries, so it can only run expanded models) and
comparing it with PySD's own implementation of each builtin (``pysd.py_backend.statefuls``),
stepped by hand with the same Euler rule, and with hand-written recurrences.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
import sympy
from pysd.py_backend import functions as pysd_functions
from pysd.py_backend import statefuls

from sdhealth.compile.dependencies import evaluation_order, initialisation_order
from sdhealth.compile.expand import (
    constant_order,
    expand_stateful,
    is_run_constant,
    lowered_order,
)
from sdhealth.errors import ModelError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Equation,
    Flow,
    Model,
    SourceLocation,
    Stock,
    TimeSpec,
    symbol,
)
from sdhealth.ir.names import canonical

DT = 0.25
STOP = 12.0
TIME = fn.TIME
X = symbol("Input")
#: A varying input, the same in the IR model and in the PySD oracle.
INPUT_EXPR = 10 + 5 * sympy.sin(TIME / 2) + TIME


def input_value(t: float) -> float:
    return 10 + 5 * math.sin(t / 2) + t


_NAMESPACE = {
    "ZIDZ": pysd_functions.zidz,
    "Abs": abs,
    "DELAY_FIXED": None,  # never evaluated: the tests only run expanded models without it
}


def _compile(expr: sympy.Expr) -> Callable[[dict[str, float]], float]:
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    function = sympy.lambdify(symbols, expr, modules=[_NAMESPACE, "math"])
    return lambda env: float(function(*(env[s.name] for s in symbols)))


def euler(model: Model) -> dict[str, np.ndarray]:
    """Integrate an expanded model with Euler; every variable at every step, by key."""
    spec = model.time
    steps = int(round((spec.stop - spec.start) / spec.dt))
    env: dict[str, float] = {fn.TIME.name: spec.start, fn.TIME_STEP.name: spec.dt}
    env.update({v.key: v.value for v in model.variables if isinstance(v, Constant)})
    for key in initialisation_order(model):
        variable = model[key]
        equation = variable.initial if isinstance(variable, Stock) else variable.equation
        env[key] = _compile(equation.expr)(env)
    runtime = [(key, _compile(model[key].equation.expr)) for key in evaluation_order(model)]
    stocks = model.stocks
    record: dict[str, list[float]] = {v.key: [] for v in model.variables}
    for step in range(steps + 1):
        env[fn.TIME.name] = spec.start + step * spec.dt
        for key, function in runtime:
            env[key] = function(env)
        for key in record:
            record[key].append(env[key])
        rates = {
            s.key: sum(env[k] for k in map(str.casefold, s.inflows))
            - sum(env[k] for k in map(str.casefold, s.outflows))
            for s in stocks
        }
        for s in stocks:
            env[s.key] += spec.dt * rates[s.key]
    return {key: np.array(values) for key, values in record.items()}


def model_of(*variables, name: str = "m") -> Model:
    return Model(name, time=TimeSpec(0.0, STOP, DT), variables=variables)


def output_of(call: sympy.Expr, *extra) -> np.ndarray:
    """The expanded model's values of ``Output = call`` with ``Input = INPUT_EXPR``."""
    model = model_of(
        Auxiliary(name="Input", equation=Equation(INPUT_EXPR)),
        *extra,
        Auxiliary(name="Output", equation=Equation(call)),
    )
    return euler(expand_stateful(model))["output"]


_CLOCK = [0.0]


def now() -> float:
    """The time of the hand-stepped PySD objects below."""
    return _CLOCK[0]


def pysd_run(make: Callable[[Callable[[], float], Callable[[], float]], object]) -> np.ndarray:
    """Step a PySD stateful object by hand with Euler; its output at every step."""
    _CLOCK[0] = 0.0
    obj = make(lambda: input_value(now()), lambda: DT)
    obj.initialize()
    values = []
    for step in range(int(round(STOP / DT)) + 1):
        _CLOCK[0] = step * DT
        values.append(float(obj()))
        obj.update(obj.state + obj.ddt() * DT)
    return np.array(values)


def const(value: float) -> Callable[[], float]:
    return lambda: value


# (IR call, PySD object factory taking (input, time step))
CASES = {
    "DELAY1": (fn.DELAY1(X, 2), lambda u, dt: statefuls.Delay(u, const(2), u, const(1), dt, "d")),
    "DELAY1I": (
        fn.DELAY1I(X, 2, 7),
        lambda u, dt: statefuls.Delay(u, const(2), const(7), const(1), dt, "d"),
    ),
    "DELAY3": (fn.DELAY3(X, 3), lambda u, dt: statefuls.Delay(u, const(3), u, const(3), dt, "d")),
    "DELAY3I": (
        fn.DELAY3I(X, 3, 4),
        lambda u, dt: statefuls.Delay(u, const(3), const(4), const(3), dt, "d"),
    ),
    "DELAY N": (
        fn.DELAY_N(X, 4, 6, symbol("Order")),
        lambda u, dt: statefuls.DelayN(u, const(4), const(6), const(5), dt, "d"),
    ),
    "SMOOTH": (fn.SMOOTH(X, 2), lambda u, dt: statefuls.Smooth(u, const(2), u, const(1), "s")),
    "SMOOTHI": (
        fn.SMOOTHI(X, 2, 3),
        lambda u, dt: statefuls.Smooth(u, const(2), const(3), const(1), "s"),
    ),
    "SMOOTH3": (fn.SMOOTH3(X, 3), lambda u, dt: statefuls.Smooth(u, const(3), u, const(3), "s")),
    "SMOOTH3I": (
        fn.SMOOTH3I(X, 3, 20),
        lambda u, dt: statefuls.Smooth(u, const(3), const(20), const(3), "s"),
    ),
    "SMOOTH N": (
        fn.SMOOTH_N(X, 4, 2, symbol("Order")),
        lambda u, dt: statefuls.Smooth(u, const(4), const(2), const(5), "s"),
    ),
    "TREND": (
        fn.TREND(X, 3, 0.1),
        lambda u, dt: statefuls.Trend(u, const(3), const(0.1), "t"),
    ),
    "FORECAST": (
        fn.FORECAST(X, 3, 2),
        lambda u, dt: statefuls.Forecast(u, const(3), const(2), const(0), "f"),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_expanded_builtin_matches_pysd_statefuls(name):
    call, make = CASES[name]
    ours = output_of(call, Constant(name="Order", value=5.0))
    theirs = pysd_run(make)
    assert len(ours) == 49
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert np.ptp(ours) > 0.1 * np.abs(ours).max()  # a moving signal, not a flat line


def test_delay3_with_varying_delay_time_matches_pysd():
    ours = output_of(fn.DELAY3(X, 2 + 0.25 * TIME))
    theirs = pysd_run(
        lambda u, dt: statefuls.Delay(u, lambda: 2 + 0.25 * now(), u, const(3), dt, "d")
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_delay1_follows_the_hand_recurrence():
    # S(0) = u(0)*T, S' = u - S/T, output S/T
    ours = output_of(fn.DELAY1(X, 2))
    stock, expected = input_value(0) * 2, []
    for step in range(49):
        t = step * DT
        expected.append(stock / 2)
        stock += DT * (input_value(t) - stock / 2)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


def test_smooth_of_a_delay3_matches_chained_pysd_objects():
    ours = output_of(fn.SMOOTH(fn.DELAY3(X, 3), 2))
    _CLOCK[0] = 0.0
    delay = statefuls.Delay(
        lambda: input_value(now()), const(3), lambda: input_value(now()), const(3), const(DT), "d"
    )
    smooth = statefuls.Smooth(delay, const(2), delay, const(1), "s")
    delay.initialize()
    smooth.initialize()
    theirs = []
    for step in range(49):
        _CLOCK[0] = step * DT
        theirs.append(float(smooth()))
        rates = delay.ddt(), smooth.ddt()
        delay.update(delay.state + rates[0] * DT)
        smooth.update(smooth.state + rates[1] * DT)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_trend_output_is_zidz_of_input_and_average():
    # a constant input: AV starts at u/(1 + g*A) and the trend decays from g towards 0
    model = model_of(Auxiliary(name="Output", equation=Equation(fn.TREND(8, 4, 0.05))))
    out = euler(expand_stateful(model))["output"]
    assert out[0] == pytest.approx((8 - 8 / 1.2) / (4 * 8 / 1.2))
    assert out[0] == pytest.approx(0.05)
    assert 0 < out[-1] < out[0]


def test_delay3_structure_names_and_equations():
    location = SourceLocation("m.yaml", 4, 3)
    beds = Auxiliary(
        name="Beds in use",
        equation=Equation(
            fn.DELAY3(X, symbol("T")), "DELAY3(Input, T)", location, (("input", 7), ("t", 14))
        ),
    )
    model = model_of(Constant(name="Input", value=6.0), Constant(name="T", value=9.0), beds)
    expanded = expand_stateful(model)
    assert [v.name for v in expanded.variables] == [
        "Input",
        "T",
        "Beds in use",
        "Beds in use DELAY3 1 inflow",
        "Beds in use DELAY3 1 order",
        "Beds in use DELAY3 1 stage 1",
        "Beds in use DELAY3 1 stage 1 outflow",
        "Beds in use DELAY3 1 stage 2",
        "Beds in use DELAY3 1 stage 2 outflow",
        "Beds in use DELAY3 1 stage 3",
        "Beds in use DELAY3 1 output",
    ]
    stage2 = expanded["Beds in use DELAY3 1 stage 2"]
    assert isinstance(stage2, Stock) and stage2.internal
    assert stage2.inflows == ("Beds in use DELAY3 1 stage 1 outflow",)
    assert stage2.outflows == ("Beds in use DELAY3 1 stage 2 outflow",)
    order = symbol("Beds in use DELAY3 1 order")
    assert stage2.initial.expr == sympy.Piecewise((X * symbol("T") / order, order > 1), (0, True))
    assert stage2.initial.location == location
    assert expanded["Beds in use DELAY3 1 order"].initial.expr == lowered_order(3, symbol("T"))
    output = expanded["Beds in use DELAY3 1 output"]
    assert isinstance(output, Flow) and output.internal
    stage3 = symbol("Beds in use DELAY3 1 stage 3")
    assert output.equation.expr == sympy.Piecewise(
        (order * stage3 / symbol("T"), order > 0),
        (symbol("Beds in use DELAY3 1 stage 2 outflow"), True),
    )
    rewritten = expanded["Beds in use"].equation
    assert rewritten.expr == symbol("Beds in use DELAY3 1 output")
    assert rewritten.location == location and rewritten.text is None
    assert not expanded["Beds in use"].internal
    assert model["Beds in use"].equation.expr == fn.DELAY3(X, symbol("T"))  # input untouched


def test_trend_and_forecast_structures():
    model = model_of(
        Constant(name="Input", value=2.0),
        Auxiliary(name="F", equation=Equation(fn.FORECAST(X, 3, 5))),
        Auxiliary(name="G", equation=Equation(fn.TREND(X, 3, 0.5))),
    )
    expanded = expand_stateful(model)
    av = symbol("F FORECAST 1 average")
    assert expanded["F FORECAST 1 average"].initial.expr == X
    assert expanded["F FORECAST 1 average change"].equation.expr == (X - av) / 3
    assert expanded["F FORECAST 1 output"].equation.expr == X * (1 + fn.ZIDZ(X - av, 3 * av) * 5)
    assert isinstance(expanded["F FORECAST 1 output"], Auxiliary)
    trend_av = symbol("G TREND 1 average")
    assert expanded["G TREND 1 average"].initial.expr == X / (1 + sympy.Float(0.5) * 3)
    assert expanded["G TREND 1 output"].equation.expr == fn.ZIDZ(
        X - trend_av, 3 * sympy.Abs(trend_av)
    )


def test_identical_calls_share_one_structure_and_different_calls_do_not():
    model = model_of(
        Constant(name="Input", value=1.0),
        Auxiliary(name="A", equation=Equation(fn.SMOOTH(X, 2) + fn.SMOOTH(X, 3))),
        Auxiliary(name="B", equation=Equation(2 * fn.SMOOTH(X, 2))),
    )
    expanded = expand_stateful(model)
    stocks = [s.name for s in expanded.stocks]
    assert stocks == ["A SMOOTH 1 stage 1", "A SMOOTH 2 stage 1"]
    assert expanded["B"].equation.expr == 2 * symbol("A SMOOTH 1 stage 1")


def test_generated_names_never_collide_with_modellers_names():
    taken = Auxiliary(name="y smooth 1 stage 1", equation=Equation(sympy.Integer(1)))
    model = model_of(
        Constant(name="Input", value=1.0),
        taken,
        Auxiliary(name="y", equation=Equation(fn.SMOOTH(X, 2))),
    )
    expanded = expand_stateful(model)
    assert [s.name for s in expanded.stocks] == ["y SMOOTH 2 stage 1"]
    assert expanded["y smooth 1 stage 1"] == taken


def test_calls_in_stock_initial_values_and_flows_are_expanded():
    model = model_of(
        Auxiliary(name="Input", equation=Equation(INPUT_EXPR)),
        Stock(name="Level", initial=Equation(fn.SMOOTHI(X, 2, 4)), inflows=("Fill",)),
        Flow(name="Fill", equation=Equation(fn.DELAY1(X, 2))),
    )
    expanded = expand_stateful(model)
    assert expanded["Level"].initial.expr == symbol("Level SMOOTHI 1 stage 1")
    assert expanded["Fill"].equation.expr == symbol("Fill DELAY1 1 output")
    result = euler(expanded)
    assert result["level"][0] == pytest.approx(4.0)  # SMOOTHI's initial value
    assert result["fill"][0] == pytest.approx(input_value(0))


def test_delay1i_initial_value_may_read_other_variables():
    model = model_of(
        Auxiliary(name="Input", equation=Equation(INPUT_EXPR)),
        Auxiliary(name="Start", equation=Equation(2 * X)),
        Auxiliary(name="Output", equation=Equation(fn.DELAY1I(X, 2, symbol("Start")))),
    )
    result = euler(expand_stateful(model))
    assert result["output"][0] == pytest.approx(2 * input_value(0))


def test_delay_fixed_stays_but_its_arguments_are_expanded():
    call = fn.DELAY_FIXED(fn.SMOOTH(X, 2), 3, 0)
    model = model_of(
        Constant(name="Input", value=1.0), Auxiliary(name="P", equation=Equation(call))
    )
    expanded = expand_stateful(model)
    assert expanded["P"].equation.expr == fn.DELAY_FIXED(symbol("P SMOOTH 1 stage 1"), 3, 0)


def test_model_without_stateful_calls_is_returned_unchanged():
    model = model_of(
        Constant(name="Input", value=1.0), Auxiliary(name="A", equation=Equation(fn.STEP(X, 2)))
    )
    assert expand_stateful(model) is model


def test_order_of_delay_n_may_be_an_expression_of_constants():
    model = model_of(
        Constant(name="Input", value=1.0),
        Constant(name="K", value=2.0),
        Auxiliary(name="D", equation=Equation(fn.DELAY_N(X, 4, 1, symbol("K") + 1))),
    )
    assert len(expand_stateful(model).stocks) == 4  # three stages and the order


def delay_output(call: sympy.Expr, dt: float) -> np.ndarray:
    """``Output = call`` of the expanded model run with time step ``dt`` (this file's Euler)."""
    model = model_of(
        Auxiliary(name="Input", equation=Equation(INPUT_EXPR)),
        Auxiliary(name="Output", equation=Equation(call)),
    )
    return euler(replace(expand_stateful(model), time=TimeSpec(0.0, STOP, dt)))["output"]


@pytest.mark.parametrize(
    ("order", "delay_time", "dt", "lowered"),
    [(3, 1.0, 0.5, 2), (5, 1.0, 0.25, 4), (3, 0.3, 0.1, 2), (4, 0.6, 0.5, 1), (3, 1.5, 0.5, 3)],
)
def test_delay_order_is_lowered_as_pysd_does(order, delay_time, dt, lowered):
    # PySD's DelayN lowers the order while order*dt > delay time (3*0.1 > 0.3 in floats)
    call = fn.DELAY_N(X, delay_time, 6, order)
    model = model_of(
        Auxiliary(name="Input", equation=Equation(INPUT_EXPR)),
        Auxiliary(name="Output", equation=Equation(call)),
    )
    expanded = replace(expand_stateful(model), time=TimeSpec(0.0, STOP, dt))
    run = euler(expanded)
    assert run["output delay n 1 order"][0] == lowered
    _CLOCK[0] = 0.0
    steps = int(round(STOP / dt))
    obj = statefuls.DelayN(
        lambda: input_value(now()), const(delay_time), const(6), const(order), const(dt), "d"
    )
    with pytest.warns(UserWarning) if lowered < order else contextlib.nullcontext():
        obj.initialize()
    assert obj.order == lowered
    theirs = []
    for step in range(steps + 1):
        _CLOCK[0] = step * dt
        theirs.append(float(obj()))
        obj.update(obj.state + obj.ddt() * dt)
    np.testing.assert_allclose(run["output"], theirs, rtol=1e-9, atol=1e-12)
    assert np.ptp(theirs) > 1


def test_delay3_order_follows_the_delay_time_at_the_start():
    # DELAY3 of a time growing from 1 (order 2 at dt=0.5) keeps order 2 for the whole run
    out = delay_output(fn.DELAY3(X, 1 + 0.5 * TIME), 0.5)
    obj = statefuls.Delay(
        lambda: input_value(now()), lambda: 1 + 0.5 * now(), lambda: input_value(now()),
        const(3), const(0.5), "d",
    )  # fmt: skip
    _CLOCK[0] = 0.0
    with pytest.warns(UserWarning, match="casting delay order"):
        obj.initialize()
    theirs = []
    for step in range(int(STOP / 0.5) + 1):
        _CLOCK[0] = step * 0.5
        theirs.append(float(obj()))
        obj.update(obj.state + obj.ddt() * 0.5)
    np.testing.assert_allclose(out, theirs, rtol=1e-9)


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (
            symbol("Input"),
            "it reads 'input', which is not constant (the native backend expands it into a "
            "fixed number of stocks; the PySD backend runs an order read from a variable)",
        ),
        (sympy.Float(2.5), "it is 2.5"),
        (sympy.Integer(0), "it is 0"),
    ],
)
def test_order_that_is_not_a_constant_whole_number_is_a_model_error(order, reason):
    location = SourceLocation("m.yaml", 7, 5)
    model = model_of(
        Auxiliary(name="Input", equation=Equation(INPUT_EXPR)),
        Auxiliary(name="Backlog", equation=Equation(fn.SMOOTH_N(X, 4, 1, order), "...", location)),
    )
    with pytest.raises(ModelError) as caught:
        expand_stateful(model)
    assert str(caught.value) == (
        "m.yaml:7:5: the order of SMOOTH N in 'Backlog' must be a constant whole number, but "
        + reason
    )
    assert caught.value.issues[0].code == "delay-order"
    assert caught.value.issues[0].variable == "Backlog"


def test_constant_order_reads_constants_only():
    assert constant_order(sympy.Integer(4), {}) == 4
    assert constant_order(symbol("n") * 2, {"n": 1.5}) == 3
    with pytest.raises(ValueError, match="'m', which is not constant"):
        constant_order(symbol("m"), {"n": 1.0})


# ------------------------------------------------------------- through the PySD backend

PYSD_CASES = {
    **{name: call for name, (call, _) in CASES.items()},
    "DELAY3 varying time": fn.DELAY3(X, 2 + 0.25 * TIME),
    "DELAY1I varying time": fn.DELAY1I(X, 2 + sympy.sin(TIME), 3),
    "DELAY N varying time": fn.DELAY_N(X, 2 + 0.25 * TIME, 6, symbol("Order")),
    "DELAY N stepped time": fn.DELAY_N(X, sympy.Piecewise((5, TIME >= 4), (3, True)), 2, 3),
    "SMOOTH of DELAY3": fn.SMOOTH(fn.DELAY3(X, 3), 2),
    "TREND of SMOOTH3I": fn.TREND(fn.SMOOTH3I(X, 2, 5), 3, 0.2),
}


def all_cases_model() -> Model:
    """One model with an output per case, so PySD translates only twice."""
    outputs = [
        Auxiliary(name=f"Output {name}", equation=Equation(call))
        for name, call in PYSD_CASES.items()
    ]
    return model_of(
        Auxiliary(name="Input", equation=Equation(INPUT_EXPR)),
        Constant(name="Order", value=5.0),
        *outputs,
    )


@pytest.fixture(scope="module")
def pysd_runs(tmp_path_factory):
    """(unexpanded, expanded) results of :func:`all_cases_model` through the PySD backend."""
    backend_module = pytest.importorskip("sdhealth.backends.pysd")
    from sdhealth.backends.base import RunSpec

    backend = backend_module.PySDBackend(cache_dir=tmp_path_factory.mktemp("pysd-cache"))
    model = all_cases_model()
    columns = tuple(canonical(f"Output {name}") for name in PYSD_CASES)
    spec = RunSpec.from_time(model.time, return_columns=columns)
    unexpanded = backend.run(model, spec, {}).to_frame()
    expanded = backend.run(expand_stateful(model), spec, {}).to_frame()
    return unexpanded, expanded


@pytest.mark.parametrize("name", list(PYSD_CASES))
def test_expanded_equals_unexpanded_through_pysd(name, pysd_runs):
    unexpanded, expanded = pysd_runs
    column = f"Output {name}"
    assert len(unexpanded[column]) == 49
    np.testing.assert_allclose(expanded[column], unexpanded[column], rtol=1e-9, atol=1e-12)
    # and both agree with this file's integrator
    ours = output_of(PYSD_CASES[name], Constant(name="Order", value=5.0))
    np.testing.assert_allclose(ours, unexpanded[column], rtol=1e-9, atol=1e-12)


# ------------------------------------------------- DELAY N with a changing delay time

#: A delay time that steps from 3 to 5 at time 4 (a Piecewise: this file's Euler knows no STEP).
STEPPED = sympy.Piecewise((5, TIME >= 4), (3, True))


def pysd_delay_n(
    delay_time, order: int, dt: float, initial: float = 6.0, kind=statefuls.DelayN
) -> np.ndarray:
    """PySD's ``DelayN`` stepped by hand: its output at every step, read before ``ddt``."""
    _CLOCK[0] = 0.0
    time_of = sympy.lambdify([TIME], delay_time, modules="math")
    obj = kind(
        lambda: input_value(now()),
        lambda: float(time_of(now())),
        const(initial),
        const(order),
        const(dt),
        "d",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an order lowered at the start
        obj.initialize()
    values = []
    for step in range(int(round(STOP / dt)) + 1):
        _CLOCK[0] = step * dt
        values.append(float(obj()))
        obj.update(obj.state + obj.ddt() * dt)
    return np.array(values)


@pytest.mark.parametrize(
    ("delay_time", "order", "dt"),
    [
        (2 + 0.25 * TIME, 3, 0.25),
        (STEPPED, 4, 0.25),
        (STEPPED, 1, 0.5),
        (8 - 0.5 * TIME, 5, 0.25),
        (2 + sympy.sin(TIME), 2, 0.25),
        (1 + 0.5 * TIME, 3, 0.5),  # order lowered to 2 at the start
        (0.6 + 0.5 * TIME, 4, 0.5),  # lowered to 1
    ],
    ids=["ramp", "step", "step order 1", "falling", "sine", "lowered to 2", "lowered to 1"],
)
def test_delay_n_with_a_changing_delay_time_matches_pysd(delay_time, order, dt):
    ours = delay_output(fn.DELAY_N(X, delay_time, 6, order), dt)
    theirs = pysd_delay_n(delay_time, order, dt)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    # PySD's Delay (DELAY3's class) uses the current delay time everywhere: not the same
    current = pysd_delay_n(delay_time, order, dt, kind=statefuls.Delay)
    assert np.abs(current - theirs).max() > 1e-3


def test_delay_n_lag_registers_hold_the_delay_time_of_earlier_steps():
    model = model_of(
        Auxiliary(name="Input", equation=Equation(INPUT_EXPR)),
        Auxiliary(name="Output", equation=Equation(fn.DELAY_N(X, 2 + TIME, 1, 3))),
    )
    run = euler(expand_stateful(model))
    times = np.arange(49) * DT
    lag2 = run["output delay n 1 delay time lag 2"]
    np.testing.assert_allclose(lag2[2:], 2 + times[:-2], rtol=1e-12)
    assert lag2[:2].tolist() == [2.0, 2.0]  # the initial delay time before two steps have run


def test_delay_n_structure_with_a_changing_delay_time():
    delay_time = symbol("T")
    model = model_of(
        Constant(name="Input", value=6.0),
        Auxiliary(name="T", equation=Equation(4 + TIME)),
        Auxiliary(name="D", equation=Equation(fn.DELAY_N(X, delay_time, 1, 3))),
    )
    expanded = expand_stateful(model)
    base = "D DELAY N 1"
    assert [v.name for v in expanded.variables][3:] == [
        f"{base} delay time lag 1",
        f"{base} delay time lag 1 change",
        f"{base} delay time lag 2",
        f"{base} delay time lag 2 change",
        f"{base} inflow",
        f"{base} order",
        *(f"{base} stage {k}{part}" for k in (1, 2, 3) for part in ("", " outflow")),
        f"{base} output",
    ]
    lag1, lag2 = symbol(f"{base} delay time lag 1"), symbol(f"{base} delay time lag 2")
    order = symbol(f"{base} order")
    assert expanded[f"{base} delay time lag 2"].initial.expr == delay_time
    assert expanded[f"{base} delay time lag 2 change"].equation.expr == (lag1 - lag2) / (
        fn.TIME_STEP
    )
    stage3 = symbol(f"{base} stage 3")
    time3 = sympy.Piecewise((lag2, order >= 3), (lag1, order >= 2), (delay_time, True))
    assert expanded[f"{base} stage 3 outflow"].equation.expr == sympy.Piecewise(
        (stage3 / (time3 / order), order > 0), (symbol(f"{base} stage 2 outflow"), True)
    )
    output = expanded[f"{base} output"]
    assert isinstance(output, Auxiliary) and output.internal
    assert output.equation.expr == stage3 / (lag1 / order)
    assert expanded["D"].equation.expr == symbol(f"{base} output")


def test_delay_n_with_a_constant_delay_time_keeps_the_plain_cascade():
    # a constant (which a batch may vary per run) cannot change during a run: no register
    model = model_of(
        Auxiliary(name="Input", equation=Equation(INPUT_EXPR)),
        Constant(name="T", value=4.0),
        Auxiliary(name="D", equation=Equation(fn.DELAY_N(X, 2 * symbol("T") + fn.TIME_STEP, 1, 3))),
    )
    expanded = expand_stateful(model)
    assert len(expanded.stocks) == 4  # three stages and the order
    assert isinstance(expanded["D DELAY N 1 output"], Flow)


def test_delay_n_register_with_an_unchanging_delay_time_gives_the_plain_results():
    # an auxiliary that never changes takes the register path; the numbers are the same
    def run(time_variable):
        model = model_of(
            Auxiliary(name="Input", equation=Equation(INPUT_EXPR)),
            time_variable,
            Auxiliary(name="Output", equation=Equation(fn.DELAY_N(X, symbol("T"), 6, 4))),
        )
        return euler(expand_stateful(model))

    lagged = run(Auxiliary(name="T", equation=Equation(sympy.Integer(3) + 0 * TIME)))
    plain = run(Constant(name="T", value=3.0))
    assert "output delay n 1 delay time lag 3" in lagged
    assert "output delay n 1 delay time lag 1" not in plain
    np.testing.assert_allclose(lagged["output"], plain["output"], rtol=1e-14)  # rounding only
    np.testing.assert_allclose(plain["output"], pysd_delay_n(sympy.Integer(3), 4, DT), rtol=1e-9)


@pytest.mark.parametrize(
    ("expr", "constant"),
    [
        (sympy.Integer(3), True),
        (symbol("k") * fn.TIME_STEP + fn.INITIAL_TIME, True),
        (symbol("k") + fn.TIME, False),
        (symbol("aux"), False),
        (fn.STEP(2, 15), False),
    ],
)
def test_is_run_constant(expr, constant):
    assert is_run_constant(expr, {"k": 2.0}) is constant


def test_delay_n_with_a_changing_delay_time_on_the_native_backend_matches_pysd(tmp_path):
    backends = pytest.importorskip("sdhealth.backends.native")
    from sdhealth.backends.base import RunSpec
    from sdhealth.backends.pysd import PySDBackend

    delay_time = 3 + 2 * fn.STEP(1, 4) + fn.RAMP(0.25, 6, 9)
    model = model_of(
        Auxiliary(name="Input", equation=Equation(INPUT_EXPR)),
        Auxiliary(name="Output", equation=Equation(fn.DELAY_N(X, delay_time, 6, 4))),
    )
    spec = RunSpec.from_time(model.time)
    native = backends.NativeBackend(cache_dir=tmp_path / "native").run(model, spec, {})
    pysd = PySDBackend(cache_dir=tmp_path / "pysd").run(model, spec, {})
    np.testing.assert_allclose(native.values, pysd.values, rtol=1e-9, atol=1e-12)
    assert np.ptp(native.values) > 5
    rk4 = backends.NativeBackend(cache_dir=tmp_path / "native").run(
        model, RunSpec.from_time(model.time, method="rk4"), {}
    )
    assert np.isfinite(rk4.values).all()
    np.testing.assert_allclose(rk4.values, native.values, rtol=0.2)
