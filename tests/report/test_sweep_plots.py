"""Plots of sweeps: which panels, which lines, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd
from sdhealth.report.sweep_plots import FEW_RUNS, plot_sweep, save_sweep_plot

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def teacup() -> sd.Model:
    return sd.load(MODELS / "teacup.yaml")


def _titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_visible()]


def test_a_few_runs_are_one_line_each_and_constants_are_left_out(teacup) -> None:
    ds = teacup.sweep({"Room Temperature": [20.0, 50.0, 80.0]})
    fig = plot_sweep(ds, title="tea")
    assert _titles(fig) == ["Teacup Temperature", "Heat Loss to Room"]  # not Characteristic Time
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["Room Temperature=20", "Room Temperature=50", "Room Temperature=80"]
    assert fig._suptitle.get_text() == "tea (3 runs)"


def test_many_runs_show_the_median_and_band(teacup) -> None:
    ds = teacup.sweep({"Room Temperature": np.linspace(0, 100, FEW_RUNS + 5)})
    fig = plot_sweep(ds, ["Teacup Temperature"])
    median = [line for line in fig.axes[0].get_lines() if line.get_label() == "median"]
    np.testing.assert_allclose(
        median[0].get_ydata(), np.median(ds["Teacup Temperature"].values, axis=0)
    )


def test_summaries_are_drawn_against_the_first_parameter(teacup, tmp_path) -> None:
    ds = teacup.sweep(
        {"Room Temperature": [20.0, 50.0], "Characteristic Time": [5.0, 10.0]},
        summary=["final", "peak"],
        return_columns=["Teacup Temperature"],
    )
    fig = plot_sweep(ds, statistic="final")
    assert _titles(fig) == ["Teacup Temperature: final"]
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == [
        "Characteristic Time=5", "Characteristic Time=10",
    ]  # fmt: skip
    np.testing.assert_array_equal(lines[0].get_xdata(), [20.0, 50.0])
    np.testing.assert_array_equal(
        lines[0].get_ydata(), ds["Teacup Temperature"].sel(statistic="final").values[[0, 2]]
    )
    save_sweep_plot(ds, tmp_path / "s.svg")
    assert (tmp_path / "s.svg").read_text().lstrip().startswith("<?xml")


def test_a_value_every_run_shares_is_not_the_x_axis(teacup, tmp_path) -> None:
    """A scenario file's fixed value is a run coordinate too; the swept parameter is the axis."""
    scenario = tmp_path / "warm.yaml"
    scenario.write_text("scenario: warm room\nparams:\n  Characteristic Time: 12\n")
    ds = teacup.sweep(
        {"Room Temperature": [20.0, 50.0, 80.0]},
        scenarios=[sd.load_scenario(scenario)],
        summary="final",
        return_columns=["Teacup Temperature"],
    )
    assert "Characteristic Time" in ds.coords  # fixed by the scenario, first in the coords
    fig = plot_sweep(ds)
    [line] = fig.axes[0].get_lines()
    assert fig.axes[0].get_xlabel() == "Room Temperature"
    np.testing.assert_array_equal(line.get_xdata(), [20.0, 50.0, 80.0])
    assert line.get_label().startswith("_")  # one combination: no legend entry
