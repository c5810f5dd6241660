"""Scenario files: strict reading, validation against a model, and their effect on runs."""

from __future__ import annotations

import pandas as pd
import pytest

import sdhealth as sd
from sdhealth.cli import main


@pytest.fixture(scope="module")
def teacup(models_dir):
    return sd.load(models_dir / "teacup.yaml")


def write(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


COOL_ROOM = """\
scenario: Cool room
description: The room is cooled from 70 to 50 degrees at minute 10.
params:
  Characteristic Time: 5
policies:
  - step: {target: Room Temperature, to: 50, at: 10}
"""


def test_scenario_file_is_read(tmp_path):
    scenario = sd.load_scenario(write(tmp_path, COOL_ROOM))
    assert scenario.name == "Cool room"
    assert scenario.param_values == {"Characteristic Time": 5.0}
    assert scenario.policies == (sd.step("Room Temperature", to=50, at=10),)


def test_scenario_run_equals_the_same_params_and_policies(teacup, tmp_path):
    path = write(tmp_path, COOL_ROOM)
    by_file = teacup.run(scenario=path)
    by_hand = teacup.run(
        params={"Characteristic Time": 5}, policies=[sd.step("Room Temperature", to=50, at=10)]
    )
    pd.testing.assert_frame_equal(by_file, by_hand)
    assert by_file["Room Temperature"].loc[10.0] == 50
    # and the model is unchanged afterwards
    assert teacup.run()["Room Temperature"].iloc[-1] == 70


def test_explicit_params_override_the_scenario(teacup, tmp_path):
    results = teacup.run(scenario=write(tmp_path, COOL_ROOM), params={"Characteristic Time": 20})
    assert results["Characteristic Time"].iloc[0] == 20


def test_every_policy_kind(tmp_path, teacup):
    text = """\
scenario: All kinds
policies:
  - ramp: {target: Room Temperature, by: -20, start: 5, end: 15}
  - table: {target: Characteristic Time, points: [[0, 10], [30, 20]], interpolate: linear}
"""
    results = teacup.run(scenario=write(tmp_path, text))
    assert results["Room Temperature"].loc[10.0] == pytest.approx(60)
    assert results["Characteristic Time"].loc[15.0] == pytest.approx(15)


def test_unknown_parameter_names_it_with_location(teacup, tmp_path):
    path = write(tmp_path, "scenario: Typo\nparams:\n  Room Temprature: 60\n")
    with pytest.raises(sd.UnknownNameError) as info:
        teacup.run(scenario=path)
    assert str(info.value) == (
        f"{path}:3:3: scenario 'Typo': unknown parameter "
        "'Room Temprature' (did you mean 'Room Temperature'?)"
    )


def test_unknown_policy_target_names_it_with_location(teacup, tmp_path):
    path = write(tmp_path, "scenario: T\npolicies:\n  - step: {target: Rooom, by: 1, at: 2}\n")
    with pytest.raises(
        sd.UnknownNameError,
        match=r":3:\d+: scenario 'T': unknown parameter "
        r"'Rooom'",
    ):
        teacup.run(scenario=path)


@pytest.mark.parametrize(
    "text, line, col, message",
    [
        (
            "scenario: X\nparms: {}\n",
            2,
            1,
            "unknown key 'parms' in a scenario file (did you mean 'params'?)",
        ),
        ("description: no name\n", 1, 1, "needs a 'scenario' name"),
        ("scenario: X\nparams:\n  Beds: lots\n", 3, 9, "parameter 'Beds' must be a number"),
        ("scenario: X\npolicies:\n  - jump: {target: B, at: 1}\n", 3, 5, "unknown key 'jump'"),
        (
            "scenario: X\npolicies:\n  - step: {target: B, by: 1}\n",
            3,
            5,
            "missing required key 'at'",
        ),
        (
            "scenario: X\npolicies:\n  - step: {target: B, at: 1, by: 1, to: 3}\n",
            3,
            5,
            "exactly one of to=",
        ),
        (
            "scenario: X\npolicies:\n  - ramp: {target: B, start: 5, end: 2, by: 1}\n",
            3,
            5,
            "must be after start",
        ),
        (
            "scenario: X\npolicies:\n  - table: {target: B, points: [[0, 1], [0, 2]]}\n",
            3,
            5,
            "times must increase",
        ),
        ("scenario: X\npolicies:\n  - table: {target: B, points: 3}\n", 3, 32, "'points' must be"),
        ("scenario: X\nscenario: Y\n", 2, 1, "duplicate key 'scenario'"),
        ("scenario: [unclosed\n", 2, 1, "invalid YAML"),
    ],
)
def test_malformed_scenarios(tmp_path, text, line, col, message):
    path = write(tmp_path, text)
    with pytest.raises(sd.ModelSyntaxError) as info:
        sd.load_scenario(path)
    assert message in info.value.message
    assert (info.value.path, info.value.line, info.value.column) == (str(path), line, col)


def test_missing_scenario_file(tmp_path):
    with pytest.raises(sd.ModelSyntaxError, match="no such scenario file"):
        sd.load_scenario(tmp_path / "nope.yaml")


def test_cli_run_with_scenario(models_dir, tmp_path):
    import io

    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "r.csv"
    status = main(
        [
            "run",
            str(models_dir / "teacup.yaml"),
            "--scenario",
            str(write(tmp_path, COOL_ROOM)),
            "--out",
            str(target),
        ],
        out=out,
        err=err,
    )
    assert status == 0, err.getvalue()
    assert pd.read_csv(target, index_col=0)["Room Temperature"].iloc[-1] == 50
    bad = write(tmp_path, "scenario: Typo\nparams:\n  Room Temprature: 60\n", "bad.yaml")
    status = main(
        ["run", str(models_dir / "teacup.yaml"), "--scenario", str(bad)],
        out=out,
        err=(err := io.StringIO()),
    )
    assert status == 2
    assert "unknown parameter 'Room Temprature'" in err.getvalue()
