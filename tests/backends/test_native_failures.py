"""NaN and infinity at run time: the error names the variable, the time and its equation's
``file:line`` -- for stocks, flows and auxiliaries, on the native and the PySD backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd
from sdhealth.errors import SimulationError

BACKENDS = ["native", "pysd"]
TEACUP = Path(__file__).resolve().parents[2] / "models" / "teacup.yaml"

COOLING = """\
model: Cooling
time: {start: 0, stop: 10, dt: 0.25}
stocks:
  Heat:
    initial: 100
    outflows: [Loss]
flows:
  Loss:
    equation: Heat / Characteristic Time
auxiliaries:
  Log margin:
    equation: LN(Heat - 50)
constants:
  Characteristic Time: 5
"""


def _write(folder: Path, text: str) -> Path:
    path = folder / "cooling.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_flow_divided_by_a_zero_constant(tmp_path, backend):
    path = _write(tmp_path, COOLING.replace("Characteristic Time: 5", "Characteristic Time: 0"))
    with pytest.raises(SimulationError) as error:
        sd.load(path).run(backend=backend)
    message = str(error.value)
    assert message.startswith(f"{path}:9:15: 'Loss' ")
    assert "at time 0" in message
    assert (error.value.variable, error.value.time) == ("Loss", 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_auxiliary_that_becomes_nan(tmp_path, backend):
    path = _write(tmp_path, COOLING)
    with pytest.raises(SimulationError) as error:
        sd.load(path).run(backend=backend)
    # Heat = 100 * 0.95**k falls below 50 after 14 steps of 0.25
    assert error.value.variable == "Log margin"
    assert error.value.time == pytest.approx(3.5)
    message = str(error.value)
    assert message.startswith(f"{path}:12:15: 'Log margin' ")
    assert "not a number (NaN)" in message or "not finite" in message
    assert "at time 3.5" in message


def test_the_teacup_with_a_zero_characteristic_time(tmp_path):
    text = (
        TEACUP.read_text()
        .replace("value: 10\n", "value: 0\n")
        .replace("limits: [0.1, null]", "limits: [0, null]")
    )
    path = tmp_path / "teacup.yaml"
    path.write_text(text)
    for backend in BACKENDS:
        with pytest.raises(SimulationError) as error:
            sd.load(path).run(backend=backend)
        assert str(error.value).startswith(f"{path}:29:15: 'Heat Loss to Room' ")
        assert "at time 0" in str(error.value)


def test_a_failed_batch_names_the_run_and_the_line(tmp_path):
    path = _write(tmp_path, COOLING.replace("LN(Heat - 50)", "LN(Heat)"))
    model = sd.load(path)
    with pytest.raises(SimulationError) as error:
        model.run(params={"Characteristic Time": np.array([5.0, 0.0])})
    message = str(error.value)
    assert message.startswith(f"{path}:9:15: 'Loss' ")
    assert "(run 1)" in message
