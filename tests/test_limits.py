"""Declared ``limits: [lo, hi]`` are enforced on run results (issue 12; compile/limits.py)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd
from sdhealth.cli import main
from sdhealth.compile.limits import limit_violations, where_written
from sdhealth.errors import LimitsWarning, SdhealthWarning, SimulationError
from sdhealth.ir.model import Auxiliary, Equation, Model

TEACUP = Path(__file__).resolve().parents[1] / "models" / "teacup.yaml"
HOT_ROOM = {"Room Temperature": 300}  # the tea heats past boiling (its limits: [32, 212])
BACKENDS = ["native", "pysd"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_leaving_the_limits_warns_with_variable_time_value_and_limits(backend):
    with pytest.warns(LimitsWarning) as record:
        sd.load(TEACUP).run(params=HOT_ROOM, backend=backend)
    messages = [str(w.message) for w in record if w.category is LimitsWarning]
    assert len(messages) == 1
    assert messages[0] == (
        f"{TEACUP}:13:3: 'Teacup Temperature' is 212.379 at time 3.125, outside its limits "
        "[32, 212]"
    )
    assert record[0].filename == __file__  # points at the caller's run()
    assert issubclass(LimitsWarning, SdhealthWarning)


@pytest.mark.parametrize("backend", BACKENDS)
def test_strict_run_makes_it_a_simulation_error(backend):
    with pytest.raises(SimulationError) as error:
        sd.load(TEACUP).run(params=HOT_ROOM, backend=backend, strict=True)
    assert error.value.variable == "Teacup Temperature"
    assert error.value.time == 3.125
    assert "212.379 at time 3.125, outside its limits [32, 212]" in str(error.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_within_limits_is_silent(backend):
    with warnings.catch_warnings():
        warnings.simplefilter("error", LimitsWarning)
        sd.load(TEACUP).run(backend=backend)


def test_variables_not_returned_are_still_checked_and_not_returned():
    with pytest.warns(LimitsWarning, match="Teacup Temperature"):
        frame = sd.load(TEACUP).run(params=HOT_ROOM, return_columns=["Heat Loss to Room"])
    assert frame.columns.tolist() == ["Heat Loss to Room"]


def test_a_parameter_outside_its_limits_warns():
    with pytest.warns(LimitsWarning) as record:
        sd.load(TEACUP).run(params={"Characteristic Time": 0.05})
    messages = [str(w.message) for w in record]
    assert any("'Characteristic Time' is 0.05 at time 0" in m for m in messages)


def test_cli_strict_exits_with_user_error():
    out, err = io.StringIO(), io.StringIO()
    argv = ["run", str(TEACUP), "--param", "Room Temperature=300", "--no-loops", "--strict"]
    assert main(argv, out=out, err=err) == 2
    assert "outside its limits [32, 212]" in err.getvalue()


def test_violations_are_vectorised_and_ordered_by_time():
    model = Model(
        "m",
        variables=(
            Auxiliary(name="a", equation=Equation.of(1), limits=(0, None)),
            Auxiliary(name="b", equation=Equation.of(1), limits=(None, 1)),
            Auxiliary(name="c", equation=Equation.of(1)),
        ),
    )
    times = np.array([0.0, 1.0, 2.0])
    values = np.array([[0.0, 1.0, 9.0], [0.0, 1.0 + 1e-12, 9.0], [-1.0, 2.0, 9.0]])
    found = limit_violations(model, times, values, ("a", "b", "c"))
    assert [(v.variable, v.time, v.value) for v in found] == [("a", 2.0, -1.0), ("b", 2.0, 2.0)]
    assert str(found[1]) == "'b' is 2 at time 2, outside its limits [null, 1]"


def test_elements_of_subscripted_variables_use_their_variables_limits():
    model = Model("m", variables=(Auxiliary(name="x", equation=Equation.of(1), limits=(0, 1)),))
    found = limit_violations(model, np.array([0.0]), np.array([[5.0]]), ("x[a,b]",))
    assert found[0].variable == "x[a,b]"
    assert where_written(model, "nope") == ""
