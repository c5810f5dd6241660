"""Sweep spec files: reading, file:line:col errors, validation against a model, running."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sdhealth as sd
from sdhealth.errors import ModelError, ModelSyntaxError, UnknownNameError
from sdhealth.experiments.specs import load_sweep_spec
from sdhealth.experiments.summaries import Summary

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"


@pytest.fixture(scope="module")
def teacup() -> sd.Model:
    return sd.load(MODELS / "teacup.yaml")


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def test_a_full_spec_reads_into_its_parts(tmp_path) -> None:
    (tmp_path / "cool.yaml").write_text("scenario: cool\nparams: {Room Temperature: 10}\n")
    spec = load_sweep_spec(
        _spec(
            tmp_path,
            "sweep: Tea\n"
            "parameters:\n"
            "  Room Temperature: [20, 30]\n"
            "  Characteristic Time: {from: 5, to: 15, steps: 3}\n"
            "scenarios: [cool.yaml]\n"
            "outputs: [Teacup Temperature]\n"
            "summary: [final, {mean: [2, 4]}]\n"
            "stop: 12\n"
            "method: RK4\n",
        )
    )
    assert spec.name == "Tea"
    assert spec.grid == {"Room Temperature": (20.0, 30.0), "Characteristic Time": (5.0, 10.0, 15.0)}
    assert [s.name for s in spec.scenarios] == ["cool"]
    assert spec.outputs == ("Teacup Temperature",)
    assert spec.summary == (Summary("final"), Summary("mean", 2.0, 4.0))
    assert spec.clock == {"stop": 12.0} and spec.method == "rk4"
    assert spec.runs == 6


def test_running_a_spec_equals_the_api_call(teacup, tmp_path) -> None:
    (tmp_path / "runs.csv").write_text("Room Temperature,Characteristic Time\n20,5\n90,12.5\n")
    spec = load_sweep_spec(
        _spec(tmp_path, "table: runs.csv\noutputs: Teacup Temperature\nsummary: peak\nstop: 12\n")
    )
    ds = spec.run(teacup, progress=False)
    direct = teacup.sweep(
        pd.DataFrame({"Room Temperature": [20, 90], "Characteristic Time": [5.0, 12.5]}),
        return_columns=["Teacup Temperature"],
        summary="peak",
        stop=12,
    )
    assert ds.identical(direct)
    assert ds["Characteristic Time"].values.tolist() == [5.0, 12.5]
    assert np.all(ds["Teacup Temperature"].values == 180.0)  # the tea starts at its hottest


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("parameters:\n  Room Temperature: []\n", ":2:3", "empty list"),
        ("parameters:\n  Room Temperature: [20, warm]\n", ":2:26", "must be numbers"),
        ("parameters:\n  Room Temperature: 20\n", ":2:21", "list of values"),
        (
            "parameters:\n  Room Temperature: {from: 1, to: 1, steps: 3}\n",
            ":2:35",
            "range .* is empty",
        ),
        (
            "parameters:\n  Room Temperature: {from: 1, to: 5, steps: 2.5}\n",
            ":2:45",
            "whole number",
        ),
        ("parameters:\n  Room Temperature: {from: 1, upto: 5}\n", ":2:31", "did you mean 'to'"),
        ("parameters: {}\n", ":1:1", "empty"),
        (
            "parameters:\n  Room Temperature: [1]\nsumary: [final]\n",
            ":3:1",
            "did you mean 'summary'",
        ),
        ("parameters:\n  Room Temperature: [1]\nsummary: [final, median]\n", ":3:18", "median"),
        (
            "parameters:\n  Room Temperature: [1]\nsummary: [{mean: [5, 2]}]\n",
            ":3:11",
            "starts",
        ),
        ("parameters:\n  Room Temperature: [1]\nmethod: heun\n", ":3:9", "unknown method"),
        ("parameters:\n  Room Temperature: [1]\ndt: 0\n", ":3:5", "positive"),
        ("parameters:\n  Room Temperature: [1]\ntable: runs.csv\n", ":3:1", "not both"),
        ("outputs: [Teacup Temperature]\n", ":1:1", "needs 'parameters'"),
        ("table: missing.csv\n", ":1:8", "cannot read the table"),
        ("scenarios: [missing.yaml]\n", "missing.yaml", "no such scenario file"),
    ],
)
def test_format_errors_point_at_the_spot(tmp_path, text, where, message) -> None:
    path = _spec(tmp_path, text)
    with pytest.raises(ModelSyntaxError, match=message) as caught:
        load_sweep_spec(path)
    assert where in str(caught.value)


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (
            "parameters:\n  Room Temprature: [1, 2]\n",
            UnknownNameError,
            r"spec\.yaml:2:3: unknown parameter 'Room Temprature' \(did you mean 'Room Temp",
        ),
        (
            "parameters:\n  Heat Loss to Room: [1, 2]\n",
            ModelError,
            r"spec\.yaml:2:3: .*not a constant",
        ),
        (
            "parameters:\n  Room Temperature: [1, 2]\noutputs: [Teacup Temprature]\n",
            UnknownNameError,
            r"spec\.yaml:3:11: unknown output .*did you mean 'Teacup Temperature'",
        ),
    ],
)
def test_names_are_checked_against_the_model(teacup, tmp_path, text, error, message) -> None:
    spec = load_sweep_spec(_spec(tmp_path, text))
    with pytest.raises(error, match=message):
        spec.validate(teacup)


def test_a_table_with_text_is_an_error(tmp_path) -> None:
    (tmp_path / "runs.csv").write_text("Room Temperature\n20\nwarm\n")
    with pytest.raises(ModelSyntaxError, match="runs.csv:1: column 'Room Temperature'"):
        load_sweep_spec(_spec(tmp_path, "table: runs.csv\n"))


def test_the_shipped_example_reads_and_validates() -> None:
    model = sd.load(MODELS / "nhs_england.yaml")
    spec = load_sweep_spec(MODELS / "nhs_england" / "sweeps" / "beds_vs_care.yaml")
    spec.validate(model)
    assert spec.runs == 24 and len(spec.scenarios) == 2
    assert spec.grid is not None and spec.grid["Additional beds"] == (0.0, 5000.0, 10000.0, 15000.0)
