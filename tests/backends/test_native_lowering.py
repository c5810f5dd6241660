"""What the native backend lowers before compiling, checked against the PySD backend.

``SAMPLE IF TRUE`` (compile/sampling.py), orders of ``SMOOTH N`` read from variables
(compile/variable_orders.py), ``ACTIVE INITIAL``, ``GAME``, ``SINH``/``COSH``/``TANH``,
``GET TIME VALUE`` and exact division by rational coefficients (backends/native/printer.py).
Each small model is run on both backends; results must agree to 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from sympy.core.symbol import Str

from sdhealth.backends.base import RunSpec, get_backend
from sdhealth.compile.sampling import lower_sampling
from sdhealth.compile.variable_orders import fix_variable_orders
from sdhealth.errors import SimulationError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Auxiliary, Constant, Equation, Flow, Model, Stock, TimeSpec, symbol

SPEC = RunSpec(start=0.0, stop=12.0, dt=0.5)


def call(name: str, *args: sympy.Basic) -> fn.VENSIM_CALL:
    return fn.VENSIM_CALL(Str(name), *args)


def aux(name: str, expr: sympy.Basic) -> Auxiliary:
    return Auxiliary(name=name, equation=Equation(sympy.sympify(expr)))


def model(*variables) -> Model:
    return Model("lowering", TimeSpec(0.0, 12.0, 0.5), variables)


def assert_agree(m: Model) -> dict[str, np.ndarray]:
    native = get_backend("native").run(m, SPEC, {})
    pysd = get_backend("pysd").run(m, SPEC, {})
    assert native.columns == pysd.columns
    np.testing.assert_allclose(native.values, pysd.values, rtol=1e-9, atol=1e-12)
    return {c: native.values[:, j] for j, c in enumerate(native.columns)}


def test_sample_if_true_holds_the_last_sample() -> None:
    condition = sympy.Piecewise((1, sympy.sin(fn.TIME) > 0), (0, True))
    m = model(aux("sampled", call("SAMPLE IF TRUE", condition, 2 * fn.TIME, 5)))
    lowered = lower_sampling(m)
    assert [v.name for v in lowered.stocks] == ["sampled SAMPLE IF TRUE 1"]
    values = assert_agree(m)
    t = np.arange(0, 12.5, 0.5)
    held = values["sampled"][np.sin(t) <= 0]
    assert held[0] == 5.0 and 6.0 in held  # before any sample, then the sample at t = 3


def test_active_initial_game_trigonometry_and_time_value() -> None:
    m = model(
        aux("active", call("ACTIVE INITIAL", 3 * fn.TIME, 45)),
        Stock(name="level", initial=Equation(symbol("active")), inflows=("inflow",)),
        Flow(name="inflow", equation=Equation(call("GAME", symbol("active") / 10))),
        aux("waves", call("SINH", fn.TIME / 8) + call("COSH", 0.1) * call("TANH", fn.TIME)),
        aux("later", call("GET TIME VALUE", 0, 2, 0)),
    )
    values = assert_agree(m)
    assert values["level"][0] == 45.0
    np.testing.assert_allclose(values["later"], np.arange(0, 12.5, 0.5) + 2)


def test_division_by_a_rational_coefficient_is_a_division() -> None:
    # 70*0.01 - 1 and 70/100 - 1 differ in the last bit, and INTEGER shows it (3/-0.3).
    m = model(
        Constant(name="c", value=70.0),
        aux("ratio", fn.INTEGER(3 / (symbol("c") / 100 - 1))),
    )
    values = assert_agree(m)
    assert values["ratio"][0] == -9.0  # 3/(70/100 - 1) = -9.999999999999998


def test_smooth_n_order_read_from_a_variable_is_fixed_at_the_start() -> None:
    m = model(
        Constant(name="base order", value=2.0),
        aux("order", symbol("base order") * 0 + 2 + fn.STEP(1, 4)),
        aux("smoothed", fn.SMOOTH_N(fn.STEP(10, 1), 3, 0, symbol("order"))),
    )
    fixed = fix_variable_orders(m)
    assert fixed["smoothed"].equation.expr.args[3] == 2
    values = assert_agree(m)
    assert 0 < values["smoothed"][-1] < 10


def test_a_run_that_would_change_a_fixed_order_fails_naming_it() -> None:
    m = model(
        Constant(name="base order", value=2.0),
        aux("smoothed", fn.SMOOTH_N(fn.STEP(10, 1), 3, 0, symbol("base order") + fn.STEP(1, 4))),
    )
    assert get_backend("native").run(m, SPEC, {}).values.shape[0] == 25
    with pytest.raises(SimulationError, match="order check"):
        get_backend("native").run(m, RunSpec(start=5.0, stop=12.0, dt=0.5), {})
