"""Sensitivity analysis: OAT swings, Sobol indices with known answers, Morris screening."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sdhealth as sd
from sdhealth.errors import ModelError, SdhealthError
from sdhealth.experiments import batch
from sdhealth.experiments.distributions import Normal
from sdhealth.experiments.sensitivity import (
    SENSITIVITY_METHODS,
    IncompleteAnalysis,
    morris,
    oat,
    parameter_distributions,
    sobol,
)

MODELS = Path(__file__).resolve().parents[2] / "models"

# One step of dt = 1 from 0 to 1: the final Total is exactly 2 x1 + x2 (x3 does nothing), so
# for independent x1, x2 ~ U(0, 1): S1(x1) = 4 / 5, S1(x2) = 1 / 5 and no interactions.
LINEAR = """\
model: Linear test
time: {start: 0, stop: 1, dt: 1}
stocks:
  Total: {initial: 0, inflows: [Growth], outflows: []}
flows:
  Growth: {equation: A * X1 + B * X2 + 0 * X3}
constants:
  A: {value: 2}
  B: {value: 1}
  X1: {value: 0.5}
  X2: {value: 0.5}
  X3: {value: 0.5}
"""
UNIT = {"X1": (0.0, 1.0), "X2": (0.0, 1.0), "X3": (0.0, 1.0)}


@pytest.fixture(scope="module")
def linear(tmp_path_factory) -> sd.Model:
    path = tmp_path_factory.mktemp("models") / "linear.yaml"
    path.write_text(LINEAR)
    return sd.load(path)


@pytest.fixture(scope="module")
def sir() -> sd.Model:
    return sd.load(MODELS / "sir.yaml")


@pytest.fixture
def no_runs(monkeypatch) -> None:
    def refuse(chunk):
        raise AssertionError("a run started although the analysis was invalid")

    monkeypatch.setattr(batch, "run_chunk", refuse)


def test_oat_swing_is_the_difference_of_two_direct_runs(sir) -> None:
    ranges = {
        "Contact Rate": (4.0, 8.0),
        "Infectivity": (0.2, 0.3),
        "Duration of Infectivity": (1.5, 2.5),
    }
    result = oat(sir, ranges, "Infectious", "peak")
    assert result.runs == 7 and result.statistic == "peak"
    for name, (low, high) in ranges.items():
        at_low = sir.run(params={name: low})["Infectious"].max()
        at_high = sir.run(params={name: high})["Infectious"].max()
        row = result.table.loc[name]
        assert row["output_low"] == pytest.approx(at_low, rel=1e-12)
        assert row["output_high"] == pytest.approx(at_high, rel=1e-12)
        assert row["swing"] == pytest.approx(abs(at_high - at_low), rel=1e-12)
        assert row["base"] == sir.constants[name]
    assert result.table["output_base"].iloc[0] == pytest.approx(sir.run()["Infectious"].max())
    assert list(result.table["swing"]) == sorted(result.table["swing"], reverse=True)


def test_oat_over_a_window_and_with_a_distribution(sir) -> None:
    result = oat(sir, {"Contact Rate": Normal(6.0, 1.0)}, "Infectious", ("mean", 5, 10))
    low, high = result.table.loc["Contact Rate", ["low", "high"]]
    assert (low, high) == pytest.approx((6 - 1.959964, 6 + 1.959964))
    direct = sir.run(params={"Contact Rate": high})["Infectious"]
    window = direct[(direct.index >= 5) & (direct.index <= 10)]
    assert result.table.loc["Contact Rate", "output_high"] == pytest.approx(window.mean())
    assert result.statistic == "mean[5,10]"


def test_sobol_indices_of_a_linear_model_match_the_analytic_answer(linear) -> None:
    result = sobol(linear, UNIT, "Total", samples=1024, seed=2, second_order=True)
    assert result.runs == 1024 * (2 * 3 + 2)
    table = result.table
    assert list(table.index) == ["X1", "X2", "X3"]  # sorted by ST
    assert table.loc["X1", "S1"] == pytest.approx(0.8, abs=0.03)
    assert table.loc["X2", "S1"] == pytest.approx(0.2, abs=0.03)
    assert table.loc["X1", "ST"] == pytest.approx(0.8, abs=0.03)
    assert table.loc["X2", "ST"] == pytest.approx(0.2, abs=0.03)
    assert abs(table.loc["X3", "S1"]) < 1e-9 and abs(table.loc["X3", "ST"]) < 1e-9
    assert (table["S1_conf"] >= 0).all() and table.loc["X1", "S1_conf"] < 0.1
    assert result.second_order.shape == (3, 3)
    assert abs(result.second_order.loc["X1", "X2"]) < 0.05  # additive: no interaction


def test_sobol_maps_a_distribution_by_its_quantiles(linear) -> None:
    result = sobol(linear, {"X1": Normal(10.0, 2.0), "X2": (0.0, 1.0)}, "Total", samples=256)
    x1 = result.design["X1"]
    assert x1.min() >= 10 - 1.96 * 2 - 1e-9 and x1.max() <= 10 + 1.96 * 2 + 1e-9
    assert x1.mean() == pytest.approx(10.0, abs=0.1)
    # the statistic of every run is kept beside its parameters: Total = 2 X1 + X2
    np.testing.assert_allclose(result.values, 2 * x1 + result.design["X2"], rtol=1e-12)


def test_sobol_is_reproducible_with_a_seed(linear) -> None:
    first = sobol(linear, UNIT, "Total", samples=64, seed=11)
    again = sobol(linear, UNIT, "Total", samples=64, seed=11)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert first.runs == 64 * 5


def test_morris_ranks_the_irrelevant_parameter_last(linear) -> None:
    result = morris(linear, UNIT, "Total", trajectories=10, seed=4)
    assert result.runs == 10 * 4
    assert list(result.table.index) == ["X1", "X2", "X3"]
    # linear: every elementary effect is the coefficient times the whole range
    assert result.table.loc["X1", "mu_star"] == pytest.approx(2.0)
    assert result.table.loc["X2", "mu_star"] == pytest.approx(1.0)
    assert result.table.loc["X3", "mu_star"] == 0.0
    assert result.table["sigma"].max() < 1e-9


def test_morris_on_a_nonlinear_model(sir) -> None:
    ranges = {
        "Contact Rate": (4.0, 8.0),
        "Infectivity": (0.2, 0.3),
        "Total Population": (9999, 10001),
    }
    result = morris(sir, ranges, "Recovered", trajectories=12, seed=1)
    assert result.table.index[-1] == "Total Population"
    assert result.table.loc["Contact Rate", "sigma"] > 0  # non-linear effects vary


@pytest.mark.usefixtures("no_runs")
def test_bad_analyses_fail_before_any_run(linear) -> None:
    with pytest.raises(ModelError, match="power of two"):
        sobol(linear, UNIT, "Total", samples=1000)
    with pytest.raises(ModelError, match="levels must be an even number"):
        morris(linear, UNIT, "Total", levels=3)
    with pytest.raises(ModelError, match="range 'low' \\(1\\) must be below 'high' \\(0\\)"):
        oat(linear, {"X1": (1.0, 0.0)}, "Total")
    with pytest.raises(ModelError, match="give a \\(low, high\\) range"):
        oat(linear, {"X1": 3.0}, "Total")
    with pytest.raises(ModelError, match="is a parameter of the analysis"):
        oat(linear, UNIT, "X1")
    with pytest.raises(ModelError, match="unknown summary statistic 'median'"):
        oat(linear, UNIT, "Total", "median")
    with pytest.raises(ModelError, match="not a constant|unknown"):
        sobol(linear, {"Growth": (0, 1)}, "Total", samples=8)
    with pytest.raises(ModelError, match="confidence"):
        morris(linear, UNIT, "Total", confidence=95)
    with pytest.raises(TypeError, match="'stopp'"):
        oat(linear, UNIT, "Total", stopp=3)


def test_an_output_that_never_changes_is_an_error(linear) -> None:
    with pytest.raises(ModelError, match="no parameter changes it"):
        sobol(linear, {"X3": (0.0, 1.0)}, "Total", samples=8)


def test_tables_save_and_charts_draw(linear, sir, tmp_path) -> None:
    results = {
        "oat": oat(sir, {"Contact Rate": (4.0, 8.0), "Infectivity": (0.2, 0.3)}, "Infectious"),
        "sobol": sobol(linear, UNIT, "Total", samples=32, seed=1),
        "morris": morris(linear, UNIT, "Total", trajectories=4, seed=1),
    }
    assert set(results) == set(SENSITIVITY_METHODS)
    for method, result in results.items():
        assert result.method == method
        result.save(tmp_path / f"{method}.csv")
        back = pd.read_csv(tmp_path / f"{method}.csv", index_col="parameter")
        np.testing.assert_allclose(back.to_numpy(), result.table.to_numpy(), rtol=1e-9)
        ax = result.plot()
        assert result.output in ax.get_title() or result.output in ax.get_xlabel()
    assert len(results["sobol"].plot().patches) == 2 * 3  # S1 and ST bars
    assert len(results["oat"].plot().patches) == 2 * 2  # low and high bars
    with pytest.raises(SdhealthError, match="cannot write a sensitivity table as '.xlsx'"):
        results["oat"].save(tmp_path / "table.xlsx")


def test_ranges_become_uniform_distributions() -> None:
    dists = parameter_distributions({"a": (1, 3), "b": Normal(0, 1)})
    assert dists["a"].describe() == "uniform(low=1, high=3)"
    assert dists["b"] == Normal(0.0, 1.0)
    with pytest.raises(ModelError, match="at least one parameter"):
        parameter_distributions({})


def test_ctrl_c_stops_an_analysis_with_a_clear_message_and_no_result(
    linear, ctrl_c_at_chunk
) -> None:
    calls = ctrl_c_at_chunk(2)
    with pytest.raises(IncompleteAnalysis) as stopped:
        sobol(linear, UNIT, "Total", "final", samples=2048, seed=1)
    assert len(calls) == 2 and stopped.value.finished == calls[0].runs.size
    assert stopped.value.requested == 2048 * (len(UNIT) + 2)
    assert str(stopped.value).startswith(f"interrupted after {calls[0].runs.size} of 10240 runs")
    assert "the sobol analysis needs every run" in str(stopped.value)


def test_the_progress_bar_is_named_after_the_analysis(linear, monkeypatch) -> None:
    real, labels = batch.progress_bar, []

    def record(*args, **kwargs):
        bar = real(*args, **kwargs)
        labels.append(bar.desc)
        return bar

    monkeypatch.setattr(batch, "progress_bar", record)
    sobol(linear, UNIT, "Total", "final", samples=64, seed=1)
    morris(linear, UNIT, "Total", "final", trajectories=4, seed=1)
    oat(linear, UNIT, "Total", "final")
    sd.monte_carlo(linear, {"X1": Normal(0.5, 0.1)}, runs=8, seed=1)
    assert labels == ["sobol", "morris", "one at a time", "monte carlo"]
    linear.sweep({"X1": [0.0, 1.0]}, summary="final")
    assert labels[-1] == "sweep"
