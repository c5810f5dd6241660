"""The kernel run by the interpreter gives the compiled kernel's numbers, bit for bit.

Each case runs once with ``SDHEALTH_NATIVE_KERNEL=compiled`` and once with ``interpreted``
and compares every saved value exactly (the same operations on float64 in the same order),
and the errors of failing runs word for word.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy
from test_builtins import BUILTINS, DT
from test_native_failures import COOLING

import sdhealth as sd
from sdhealth.backends.base import RunSpec
from sdhealth.backends.native import NativeBackend
from sdhealth.backends.native import interpreter as interp
from sdhealth.errors import BackendError, SimulationError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Equation,
    Extrapolation,
    Flow,
    Lookup,
    Model,
    Stock,
    TimeSpec,
    symbol,
)

MODELS = Path(__file__).parents[2] / "models"
YAML_MODELS = sorted(p.name for p in MODELS.glob("*.yaml") if "cld" not in p.name)


@pytest.fixture(scope="module")
def native(tmp_path_factory) -> NativeBackend:
    return NativeBackend(cache_dir=tmp_path_factory.mktemp("interpreter-cache"))


def both(monkeypatch, run):
    """``run()`` with the compiled kernel and with the interpreter."""
    results = []
    for choice in ("compiled", "interpreted"):
        monkeypatch.setenv("SDHEALTH_NATIVE_KERNEL", choice)
        results.append(run())
    return results


def same(compiled, interpreted) -> None:
    assert compiled.columns == interpreted.columns
    np.testing.assert_array_equal(compiled.times, interpreted.times)
    np.testing.assert_array_equal(compiled.values, interpreted.values)


@pytest.mark.parametrize("name", YAML_MODELS)
def test_the_library_models(monkeypatch, native, name):
    model = sd.load(MODELS / name).ir
    spec = RunSpec.from_time(model.time)
    same(*both(monkeypatch, lambda: native.run(model, spec, {})))


@pytest.mark.parametrize("method", ["euler", "rk2", "rk4"])
def test_every_builtin_in_every_method(monkeypatch, native, method):
    """Delays, smooths, DELAY FIXED pipelines, lookups, pulses, INITIAL."""
    variables = tuple(Auxiliary(name=n, equation=Equation(e)) for n, e in BUILTINS.items())
    variables += (
        Lookup(name="table", xs=(0, 2, 4), ys=(0, 4, 5)),
        Lookup(
            name="linear table", xs=(0, 2, 4), ys=(0, 4, 5), extrapolation=Extrapolation.LINEAR
        ),
    )  # fmt: skip
    model = Model("builtins", TimeSpec(0, 8, DT), variables)
    spec = RunSpec.from_time(model.time, method=method)
    compiled, interpreted = both(monkeypatch, lambda: native.run(model, spec, {}))
    same(compiled, interpreted)
    assert len(compiled.times) == 33 and np.isfinite(compiled.values).all()


def test_clock_equations(monkeypatch, native):
    """``FINAL TIME`` from a stock: the grid is traced by a run of the interpreter too."""
    level = symbol("Level")
    clock = TimeSpec(0.0, 100.0, 1.0, equations=(("final time", Equation(10 - level)),))
    model = Model(
        "growth",
        clock,
        (
            Stock(name="Level", initial=Equation(sympy.Integer(1)), inflows=("Growth",)),
            Flow(name="Growth", equation=Equation(sympy.Float(0.5) + fn.TIME_STEP)),
        ),
    )
    spec = RunSpec.from_time(model.time)
    compiled, interpreted = both(monkeypatch, lambda: native.run(model, spec, {}))
    same(compiled, interpreted)
    # Level = 1 + 1.5 t; a time is kept, and the run goes on while t < 10 - Level = 9 - 1.5 t
    assert compiled.times.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_failing_run_names_the_same_variable_and_time(monkeypatch, tmp_path):
    path = tmp_path / "cooling.yaml"
    path.write_text(COOLING)
    messages = []
    for choice in ("compiled", "interpreted"):
        monkeypatch.setenv("SDHEALTH_NATIVE_KERNEL", choice)
        with pytest.raises(SimulationError) as error:
            sd.load(path).run()
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"{path}:12:15: 'Log margin' ") and "at time 3.5" in messages[0]


def test_which_kernel_runs(monkeypatch):
    monkeypatch.delenv("SDHEALTH_NATIVE_KERNEL", raising=False)
    monkeypatch.setattr(interp, "_spent", [0.0])
    monkeypatch.setattr(interp, "kernel_loaded", lambda: False)
    assert interp.use_interpreter(1, 1537, 1)  # the NHS model's run
    assert not interp.use_interpreter(2, 10, 1)  # a batch repays the compiled kernel
    assert not interp.use_interpreter(1, interp.INTERPRET_MAX_CALLS // 4 + 1, 4)  # a long run
    monkeypatch.setattr(interp, "_spent", [interp.INTERPRET_BUDGET])
    assert not interp.use_interpreter(1, 10, 1)  # a process that runs again and again
    monkeypatch.setattr(interp, "_spent", [0.0])
    monkeypatch.setattr(interp, "kernel_loaded", lambda: True)
    assert not interp.use_interpreter(1, 10, 1)  # already loaded: faster
    monkeypatch.setenv("SDHEALTH_NATIVE_KERNEL", "interpreted")
    assert interp.use_interpreter(100, 10**9, 4)
    monkeypatch.setenv("SDHEALTH_NATIVE_KERNEL", "Compiled ")
    assert not interp.use_interpreter(1, 10, 1)
    monkeypatch.setenv("SDHEALTH_NATIVE_KERNEL", "fast")
    with pytest.raises(BackendError, match="SDHEALTH_NATIVE_KERNEL is 'fast'; use one of auto"):
        interp.use_interpreter(1, 10, 1)


def test_an_interpreted_run_counts_against_the_budget(monkeypatch, native):
    monkeypatch.setenv("SDHEALTH_NATIVE_KERNEL", "interpreted")
    monkeypatch.setattr(interp, "_spent", [0.0])
    model = sd.load(MODELS / "teacup.yaml").ir
    native.run(model, RunSpec.from_time(model.time), {})
    assert 0 < interp._spent[0] < interp.INTERPRET_BUDGET
