"""Model.sweep: grids, tables, scenarios, summaries, chunks and progress, Ctrl-C, saving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import sdhealth as sd
from sdhealth.backends.base import RunSpec
from sdhealth.backends.native import NativeBackend
from sdhealth.errors import ModelError, SdhealthError, UnknownNameError
from sdhealth.experiments import batch
from sdhealth.experiments.summaries import Summary, parse_summaries
from sdhealth.io.results import load_dataset, save_dataset

MODELS = Path(__file__).resolve().parents[2] / "models"
TEMPERATURE = "Teacup Temperature"


@pytest.fixture(scope="module")
def teacup() -> sd.Model:
    return sd.load(MODELS / "teacup.yaml")


def _scenario(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"scenario: {name}\n{text}")
    return path


# --------------------------------------------------------------------------- shapes


def test_grid_is_a_full_factorial_with_parameters_as_coordinates(teacup) -> None:
    ds = teacup.sweep(
        {"Room Temperature": [20, 70], "Characteristic Time": [5, 10, 20]},
        return_columns=[TEMPERATURE],
    )
    assert ds[TEMPERATURE].dims == ("run", "time")
    assert ds.sizes == {"run": 6, "time": 241}
    assert ds["Room Temperature"].values.tolist() == [20.0] * 3 + [70.0] * 3
    assert ds["Characteristic Time"].values.tolist() == [5.0, 10.0, 20.0] * 2
    single = teacup.run(params={"Room Temperature": 70, "Characteristic Time": 20})
    np.testing.assert_array_equal(ds[TEMPERATURE][5], single[TEMPERATURE])
    assert ds.attrs["runs_requested"] == 6 and ds.attrs["interrupted"] == 0


def test_scenarios_alone_are_one_run_each(teacup, tmp_path) -> None:
    cool = _scenario(tmp_path, "cool", "params: {Room Temperature: 10}\n")
    slow = _scenario(
        tmp_path, "slow", "policies:\n  - step: {target: Characteristic Time, to: 40, at: 5}\n"
    )
    ds = teacup.sweep([cool, slow], return_columns=[TEMPERATURE])
    assert ds["scenario"].values.tolist() == ["cool", "slow"]
    assert ds["Room Temperature"].values.tolist() == [10.0, 70.0]  # the model's value for slow
    np.testing.assert_array_equal(
        ds[TEMPERATURE][0], teacup.run(scenario=cool)[TEMPERATURE].to_numpy()
    )
    np.testing.assert_array_equal(
        ds[TEMPERATURE][1], teacup.run(scenario=slow)[TEMPERATURE].to_numpy()
    )


def test_scenarios_times_a_grid(teacup, tmp_path) -> None:
    cool = _scenario(tmp_path, "cool", "params: {Room Temperature: 10}\n")
    slow = _scenario(
        tmp_path, "slow", "policies:\n  - step: {target: Characteristic Time, to: 40, at: 5}\n"
    )
    grid = {"Room Temperature": [30, 50, 90]}
    ds = teacup.sweep(
        grid,
        scenarios=[cool, sd.load_scenario(slow)],
        return_columns=[TEMPERATURE, "Characteristic Time"],
    )
    assert ds["scenario"].values.tolist() == ["cool"] * 3 + ["slow"] * 3
    assert ds["Room Temperature"].values.tolist() == [30.0, 50.0, 90.0] * 2  # grid on top
    expected = teacup.run(params={"Room Temperature": 90}, scenario=slow)[TEMPERATURE]
    np.testing.assert_array_equal(ds[TEMPERATURE][5], expected.to_numpy())
    assert "Characteristic Time" in ds.data_vars  # a policy target stays a variable
    assert ds["Characteristic Time"].values[5, -1] == 40.0


def test_a_table_keeps_its_rows(teacup) -> None:
    table = pd.DataFrame({"Room Temperature": [65.0, 15.0, 40.0]})
    ds = teacup.sweep(table, summary="final", return_columns=[TEMPERATURE])
    finals = ds[TEMPERATURE].sel(statistic="final").values
    assert finals[1] < finals[2] < finals[0]


# --------------------------------------------------------------------------- summaries


def test_peak_trough_their_times_and_a_window(teacup) -> None:
    policy = sd.pulse("Room Temperature", by=200, start=10, width=2)
    ds = teacup.sweep(
        {"Characteristic Time": [5.0, 10.0]},
        [policy],
        return_columns=[TEMPERATURE],
        summary=[
            "peak",
            "time_of_peak",
            "trough",
            "time_of_trough",
            ("mean", 5, 8),
            Summary("max", 20, 30),
            Summary("time_of_peak", 10, 30),
        ],
    )
    full = teacup.sweep(
        {"Characteristic Time": [5.0, 10.0]}, [policy], return_columns=[TEMPERATURE]
    )
    series, times = full[TEMPERATURE].values, full["time"].values
    got = ds[TEMPERATURE]
    assert got["statistic"].values.tolist() == [
        "peak", "time_of_peak", "trough", "time_of_trough", "mean[5,8]", "max[20,30]",
        "time_of_peak[10,30]",
    ]  # fmt: skip
    np.testing.assert_array_equal(got.sel(statistic="peak"), series.max(axis=1))
    np.testing.assert_array_equal(got.sel(statistic="time_of_peak"), times[series.argmax(axis=1)])
    np.testing.assert_array_equal(got.sel(statistic="time_of_trough"), times[series.argmin(axis=1)])
    window = (times >= 5) & (times <= 8)
    np.testing.assert_allclose(
        got.sel(statistic="mean[5,8]"), series[:, window].mean(axis=1), rtol=1e-14
    )
    late = (times >= 20) & (times <= 30)
    np.testing.assert_array_equal(got.sel(statistic="max[20,30]"), series[:, late].max(axis=1))
    # the tea cools from 180, warms in the hot pulse at t=10..12, then cools again to the end
    assert got.sel(statistic="time_of_trough").values.tolist() == [30.0, 30.0]
    after = got.sel(statistic="time_of_peak[10,30]").values
    assert np.all((after > 10) & (after <= 12.125))


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        (["median"], "unknown summary statistic 'median'"),
        ([("mean", 8, 5)], "starts"),
        ([("mean", 40, 50)], "no saved time"),
        ([], "no summary"),
        (["final", "final"], "more than once"),
        ([("mean", "a", 3)], "two numbers"),
    ],
)
def test_bad_summaries_fail_before_any_run(teacup, monkeypatch, summary, message) -> None:
    monkeypatch.setattr(batch, "run_chunk", _refuse)
    with pytest.raises(ModelError, match=message):
        teacup.sweep({"Room Temperature": [1, 2]}, summary=summary)


def _refuse(chunk):
    raise AssertionError("a run started before the spec was checked")


def test_parse_summaries_accepts_one_item_or_many() -> None:
    assert parse_summaries("final") == (Summary("final"),)
    assert parse_summaries(("mean", 1, 2)) == (Summary("mean", 1.0, 2.0),)
    assert [s.label for s in parse_summaries(["peak", ["mean", 0, 12]])] == ["peak", "mean[0,12]"]


def test_many_runs_with_summaries_keep_only_the_summaries(teacup) -> None:
    rooms = np.linspace(0, 100, 40_000)
    ds = teacup.sweep(
        {"Room Temperature": rooms},
        return_columns=[TEMPERATURE, "Heat Loss to Room"],
        summary=["final", "peak", "time_of_peak", ("mean", 5, 10)],
    )
    assert ds[TEMPERATURE].shape == (40_000, 4)
    # runs x summaries x variables, plus the run and parameter coordinates
    assert ds.nbytes <= 40_000 * (4 * 2 + 2) * 8 + 1_000
    final = ds[TEMPERATURE].sel(statistic="final").values
    assert np.all(np.diff(final) > 0)
    assert np.all(ds[TEMPERATURE].sel(statistic="time_of_peak").values[rooms < 180] == 0)


# --------------------------------------------------------------------------- chunks, progress


def test_chunk_size_moves_the_bar_but_keeps_chunks_large() -> None:
    model = sd.load(MODELS / "teacup.yaml").ir
    spec = RunSpec.from_time(model.time)
    assert batch.chunk_size(model, spec, 100_000) == 5_000  # 1/20 of the runs
    assert batch.chunk_size(model, spec, 1_000) == batch.MIN_CHUNK_RUNS
    assert batch.chunk_size(model, spec, 10) == batch.MIN_CHUNK_RUNS  # one chunk
    assert batch.chunk_size(model, spec, 100_000, max_bytes=243 * 4 * 8 * 7) == 7  # memory first


def test_progress_bar_counts_every_run(teacup, capsys) -> None:
    teacup.sweep({"Room Temperature": np.linspace(0, 100, 600)}, summary="final", progress=True)
    err = capsys.readouterr().err
    assert "sweep" in err and "600/600" in err
    teacup.sweep({"Room Temperature": [1.0, 2.0]}, summary="final", progress=False)
    assert capsys.readouterr().err == ""


def test_ctrl_c_keeps_the_finished_runs(teacup, ctrl_c_at_chunk) -> None:
    ctrl_c_at_chunk(3)
    rooms = np.linspace(0, 100, 6_000)
    ds = teacup.sweep({"Room Temperature": rooms}, summary="final", return_columns=[TEMPERATURE])
    assert ds.attrs["interrupted"] == 1 and ds.attrs["runs_requested"] == 6_000
    assert ds.sizes["run"] == 2 * 300 and ds["run"].values.tolist() == list(range(600))
    np.testing.assert_array_equal(ds["Room Temperature"].values, rooms[:600])
    whole = teacup.sweep(
        {"Room Temperature": rooms[:600]}, summary="final", return_columns=[TEMPERATURE]
    )
    np.testing.assert_array_equal(ds[TEMPERATURE].values, whole[TEMPERATURE].values)


def test_ctrl_c_before_any_run_finished_propagates(teacup, monkeypatch) -> None:
    def at_once(chunk):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "run_chunk", at_once)
    with pytest.raises(KeyboardInterrupt):
        teacup.sweep({"Room Temperature": [1.0, 2.0]})


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ({"Room Temprature": [1, 2]}, UnknownNameError, "did you mean 'Room Temperature'"),
        ({"Room Temperature": []}, ModelError, "list of values"),
        ({"Room Temperature": ["warm"]}, ModelError, "must be numbers"),
        (42, ModelError, "dict of lists"),
    ],
)
def test_bad_specs_fail_before_any_run(teacup, monkeypatch, spec, error, message) -> None:
    monkeypatch.setattr(NativeBackend, "run_batch", _refuse)
    with pytest.raises(error, match=message):
        teacup.sweep(spec)


def test_an_unknown_scenario_parameter_names_its_file(teacup, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(NativeBackend, "run_batch", _refuse)
    bad = _scenario(tmp_path, "bad", "params:\n  Room Temprature: 10\n")
    with pytest.raises(UnknownNameError, match=r"bad\.yaml:3:3: .*did you mean"):
        teacup.sweep({"Characteristic Time": [5, 10]}, scenarios=[bad])


# --------------------------------------------------------------------------- saving


@pytest.mark.parametrize("summary", [None, ["final", ("mean", 5, 10)]])
def test_netcdf_round_trip_is_identical(teacup, tmp_path, summary) -> None:
    ds = teacup.sweep({"Room Temperature": [20.0, 30.0]}, summary=summary)
    save_dataset(ds, tmp_path / "sweep.nc")
    back = load_dataset(tmp_path / "sweep.nc")
    xr.testing.assert_identical(back, ds)


def test_table_formats_hold_one_row_per_run_and_statistic(teacup, tmp_path) -> None:
    ds = teacup.sweep(
        {"Room Temperature": [20.0, 30.0]}, summary=["final", "peak"], return_columns=[TEMPERATURE]
    )
    save_dataset(ds, tmp_path / "sweep.csv")
    save_dataset(ds, tmp_path / "sweep.parquet")
    csv = pd.read_csv(tmp_path / "sweep.csv")
    parquet = pd.read_parquet(tmp_path / "sweep.parquet")
    assert list(csv.columns) == ["run", "statistic", "Room Temperature", TEMPERATURE]
    pd.testing.assert_frame_equal(csv, parquet.astype(csv.dtypes.to_dict()))
    assert csv[TEMPERATURE].tolist() == ds[TEMPERATURE].values.reshape(-1).tolist()  # exact


def test_a_failed_save_leaves_the_old_file(teacup, tmp_path) -> None:
    target = tmp_path / "sweep.csv"
    target.write_text("old")
    with pytest.raises(SdhealthError, match="use one of"):
        save_dataset(teacup.sweep({"Room Temperature": [1.0]}), tmp_path / "sweep.xlsx")
    bad = xr.Dataset({"x": (("run",), np.array([object()]))})
    with pytest.raises(Exception):  # noqa: B017 -- whatever the writer raises
        save_dataset(bad, tmp_path / "sweep.nc")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.csv"]
