"""Batches of runs: Model.run(params=batch), Model.sweep, chunking and summaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy

import sdhealth as sd
from sdhealth.backends.base import RunSpec
from sdhealth.backends.native import NativeBackend
from sdhealth.errors import ModelError, SimulationError, UnknownNameError
from sdhealth.experiments.batch import (
    ExperimentError,
    full_factorial,
    parameter_sets,
    run_parameter_sets,
)
from sdhealth.ir.model import Auxiliary, Constant, Equation, Flow, Model, Stock, TimeSpec, symbol

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch) -> None:
    monkeypatch.setenv("SDHEALTH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def teacup() -> sd.Model:
    return sd.load(MODELS / "teacup.yaml")


@pytest.fixture(scope="module")
def sir() -> sd.Model:
    return sd.load(MODELS / "sir.yaml")


def _two_constants(model: sd.Model) -> list[str]:
    return list(model.constants)[:2]


def test_batch_equals_a_loop_of_single_runs(sir) -> None:
    first, second = _two_constants(sir)
    base = sir.constants
    table = pd.DataFrame(
        {
            first: base[first] * np.array([0.5, 1.0, 1.7]),
            second: base[second] * np.array([1.3, 1, 0.6]),
        }
    )
    ds = sir.run(params=table)
    assert ds.sizes["run"] == 3
    for r, row in table.iterrows():
        single = sir.run(params=row.to_dict())
        np.testing.assert_array_equal(ds["time"].values, single.index.values)
        for name in single.columns:
            if name in (first, second):
                assert ds[name].values[r] == single[name].iloc[0]  # the coordinate
            else:
                np.testing.assert_array_equal(ds[name].values[r], single[name].values)


def test_dict_of_arrays_broadcasts_scalars(teacup) -> None:
    ds = teacup.run(
        params={"Room Temperature": [20.0, 30.0], "Characteristic Time": 5},
        return_columns=["Teacup Temperature"],
    )
    assert ds["Characteristic Time"].values.tolist() == [5.0, 5.0]
    assert ds["Room Temperature"].dims == ("run",)
    assert list(ds.data_vars) == ["Teacup Temperature"]
    single = teacup.run(params={"Room Temperature": 30.0, "Characteristic Time": 5})
    np.testing.assert_array_equal(ds["Teacup Temperature"][1], single["Teacup Temperature"])


def test_sweep_grid_size_and_coordinates(teacup) -> None:
    ds = teacup.sweep({"Room Temperature": [20, 40, 60], "Characteristic Time": [5, 10]})
    assert ds.sizes == {"run": 6, "time": 241}
    assert ds["Room Temperature"].values.tolist() == [20, 20, 40, 40, 60, 60]
    assert ds["Characteristic Time"].values.tolist() == [5, 10, 5, 10, 5, 10]
    assert "Room Temperature" not in ds.data_vars  # swept constants are coordinates only
    final = ds["Teacup Temperature"].isel(time=-1).values
    # hotter rooms leave hotter tea; a shorter time constant brings it closer to the room
    assert final[0] < final[2] < final[4]
    assert abs(final[0] - 20) < abs(final[1] - 20)


def test_sweep_over_a_dataframe_keeps_its_rows(teacup) -> None:
    sets = pd.DataFrame({"Room Temperature": [65.0, 15.0]})
    ds = teacup.sweep(sets, return_columns=["Teacup Temperature"])
    assert ds["Room Temperature"].values.tolist() == [65.0, 15.0]


def test_summaries_equal_reductions_of_full_results(sir) -> None:
    first, _ = _two_constants(sir)
    values = sir.constants[first] * np.linspace(0.6, 1.4, 5)
    full = sir.sweep({first: values})
    summary = sir.sweep({first: values}, summary=("initial", "final", "min", "max", "mean", "std"))
    assert summary["statistic"].values.tolist() == ["initial", "final", "min", "max", "mean", "std"]
    for name in full.data_vars:
        series = full[name]
        expected = {
            "initial": series.isel(time=0),
            "final": series.isel(time=-1),
            "min": series.min("time"),
            "max": series.max("time"),
            "mean": series.mean("time"),
            "std": series.std("time"),
        }
        for statistic, reduced in expected.items():
            got = summary[name].sel(statistic=statistic).values
            np.testing.assert_allclose(got, reduced.values, rtol=1e-12, atol=0)


def test_chunks_give_the_same_results_as_one_call(teacup) -> None:
    model = teacup.ir
    spec = RunSpec.from_time(model.time, return_columns=("teacup temperature",))
    sets = parameter_sets(model, {"Room Temperature": np.linspace(10, 90, 9)})
    whole = run_parameter_sets(model, spec, sets, summary=["max", "final"])
    tiny = run_parameter_sets(model, spec, sets, summary=["max", "final"], max_chunk_bytes=1)
    np.testing.assert_array_equal(whole["Teacup Temperature"], tiny["Teacup Temperature"])
    full = run_parameter_sets(model, spec, sets, max_chunk_bytes=3 * 241 * 8)  # 3 runs a chunk
    np.testing.assert_array_equal(
        full["Teacup Temperature"].isel(time=-1), whole["Teacup Temperature"].sel(statistic="final")
    )


def test_many_runs_with_a_summary_stay_small(teacup) -> None:
    ds = teacup.sweep(
        {"Room Temperature": np.linspace(0, 100, 20_000).tolist()},
        return_columns=["Teacup Temperature"],
        summary="final",
    )
    assert ds["Teacup Temperature"].shape == (20_000, 1)
    final = ds["Teacup Temperature"].values[:, 0]
    assert np.all(np.diff(final) > 0)


def test_policies_apply_to_every_run(teacup) -> None:
    policy = sd.step("Characteristic Time", to=3, at=10)
    ds = teacup.sweep({"Room Temperature": [20, 50]}, [policy])
    single = teacup.run(params={"Room Temperature": 50}, policies=[policy])
    np.testing.assert_array_equal(ds["Teacup Temperature"][1], single["Teacup Temperature"])


def test_a_policy_target_cannot_be_swept(teacup) -> None:
    with pytest.raises(ModelError, match="policy target"):
        teacup.sweep({"Room Temperature": [20, 50]}, [sd.step("Room Temperature", by=5, at=3)])


def test_pysd_backend_batches_agree_with_native(teacup) -> None:
    grid = {"Room Temperature": [20, 50]}
    native = teacup.sweep(grid, return_columns=["Teacup Temperature"])
    reference = teacup.sweep(grid, return_columns=["Teacup Temperature"], backend="pysd")
    np.testing.assert_allclose(
        native["Teacup Temperature"], reference["Teacup Temperature"], rtol=1e-9
    )


# --------------------------------------------------------------------------- errors


@pytest.fixture()
def no_runs(monkeypatch) -> None:
    """Any run reaching the backend fails the test: errors must come before."""

    def refuse(*args, **kwargs):
        raise AssertionError("a run started before the parameters were checked")

    monkeypatch.setattr(NativeBackend, "run_batch", refuse)
    monkeypatch.setattr(NativeBackend, "run", refuse)


@pytest.mark.usefixtures("no_runs")
@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ({"Room Temprature": [1, 2]}, UnknownNameError, "did you mean 'Room Temperature'"),
        ({"Heat Loss to Room": [1, 2]}, ModelError, "not a constant"),
        ({"Room Temperature": []}, ModelError, "list of values"),
        ({"Room Temperature": ["warm", "hot"]}, ModelError, "must be numbers"),
        ({"Room Temperature": [20, float("nan")]}, ModelError, "finite"),
        ({}, ModelError, "at least one parameter"),
    ],
)
def test_sweep_errors_come_before_any_run(teacup, spec, error, message) -> None:
    with pytest.raises(error, match=message):
        teacup.sweep(spec)


@pytest.mark.usefixtures("no_runs")
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"Room Temperature": [20, 30], "Characteristic Time": [1, 2, 3]}, "same number"),
        ({"Room Temperature": [20, 30], "Characteristic Time": []}, "no values"),
        (pd.DataFrame({"Room Temperature": []}, dtype=float), "no rows"),
        (pd.DataFrame({"Room Temperature": ["a", "b"]}), "must be numbers"),
        ({"Room Temperature": [[1, 2], [3, 4]]}, "one value per run"),
        ({"Room Temperature": [1, 2], "room temperature": [3, 4]}, "more than once"),
    ],
)
def test_run_batch_errors_come_before_any_run(teacup, params, message) -> None:
    with pytest.raises(ModelError, match=message):
        teacup.run(params=params)


def test_unknown_summary_statistic(teacup) -> None:
    with pytest.raises(ModelError, match="median"):
        teacup.sweep({"Room Temperature": [1, 2]}, summary=["median"])


def test_a_failed_run_is_named_across_chunks() -> None:
    model = Model(
        "fragile",
        TimeSpec(0, 4, 1),
        (
            Constant(name="k", value=1.0),
            Flow(name="Inflow", equation=Equation(1 / (symbol("k") - 7))),
            Stock(name="Level", initial=Equation(sympy.Float(0)), inflows=("Inflow",)),
            Auxiliary(name="Double", equation=Equation(2 * symbol("Level"))),
        ),
    )
    sets = parameter_sets(model, {"k": np.arange(10.0)})
    spec = RunSpec.from_time(model.time)
    with pytest.raises(ExperimentError, match=r"run 7") as caught:
        run_parameter_sets(model, spec, sets, max_chunk_bytes=8 * 5 * 4 * 3)
    assert isinstance(caught.value.cause, SimulationError)
    assert caught.value.partial.sizes["run"] > 0


def test_full_factorial_order() -> None:
    grid = full_factorial({"a": [1, 2], "b": [3, 4, 5]})
    assert grid.shape == (6, 2)
    assert grid["a"].tolist() == [1, 1, 1, 2, 2, 2] and grid["b"].tolist() == [3, 4, 5] * 2


def test_a_scenario_applies_to_every_run_of_a_batch(teacup, tmp_path) -> None:
    path = tmp_path / "cool.yaml"
    path.write_text(
        "scenario: Cool room\nparams:\n  Characteristic Time: 5\npolicies:\n"
        "  - step: {target: Room Temperature, to: 50, at: 10}\n"
    )
    sets = pd.DataFrame({"Characteristic Time": [3.0, 8.0]})  # on top of the scenario's 5
    ds = teacup.run(params=sets, scenario=path, return_columns=["Teacup Temperature"])
    assert ds["Characteristic Time"].values.tolist() == [3.0, 8.0]
    single = teacup.run(params={"Characteristic Time": 8.0}, scenario=path)
    np.testing.assert_array_equal(ds["Teacup Temperature"][1], single["Teacup Temperature"])
    unchanged = teacup.run(params={"Characteristic Time": 8.0})
    assert single["Teacup Temperature"].iloc[-1] != unchanged["Teacup Temperature"].iloc[-1]
