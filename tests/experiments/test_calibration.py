"""Calibration: recovery of known parameters, one-sweep Jacobians, Ctrl-C, errors, the NHS fit."""

from __future__ import annotations

import doctest
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sdhealth as sd
from sdhealth.errors import ModelError, ModelSyntaxError, UnknownNameError
from sdhealth.experiments.calibration import CalibrationResult, calibrate, write_fitted
from sdhealth.experiments.calibration_spec import read_calibration_spec
from sdhealth.model import Model

ROOT = Path(__file__).resolve().parents[2]
SIR = ROOT / "models" / "sir.yaml"
NHS = ROOT / "models" / "nhs_england.yaml"
NHS_SPEC = ROOT / "models" / "nhs_england" / "experiments" / "calibrate_2023_2024.yaml"
TRUTH = {"Contact Rate": 6.0, "Duration of Infectivity": 2.0}
PARAMETERS = {
    "Contact Rate": {"initial": 4.0, "low": 2.0, "high": 10.0},
    "Duration of Infectivity": (1.0, 5.0),
}
SERIES = {"infected": "Infectious", "recovered": {"variable": "Recovered", "weight": 0.5}}


@pytest.fixture(scope="module")
def sir() -> Model:
    return sd.load(SIR)


def _noisy(sir: Model, seed: int) -> pd.DataFrame:
    """Daily counts from the true parameters plus noise of sd 2% of each series' mean."""
    truth = sir.run(params=TRUTH, return_columns=["Infectious", "Recovered"]).loc[::4]
    rng = np.random.default_rng(seed)
    data = truth + 0.02 * truth.mean().to_numpy() * rng.standard_normal(truth.shape)
    return data.rename(columns={"Infectious": "infected", "Recovered": "recovered"})


@pytest.fixture(scope="module")
def observed(sir) -> pd.DataFrame:
    """Noisy daily counts (fixed seed) with one missing value, times in a 'time' column."""
    data = _noisy(sir, seed=0)
    data.iloc[5, 0] = np.nan
    return data.reset_index()


@pytest.fixture(scope="module")
def fitted(sir, observed) -> CalibrationResult:
    return calibrate(sir, observed, PARAMETERS, SERIES, progress=False)


def test_recovers_known_parameters_from_noisy_data(fitted):
    assert fitted.success and not fitted.interrupted
    assert fitted.values["Contact Rate"] == pytest.approx(6.0, rel=0.01)
    assert fitted.values["Duration of Infectivity"] == pytest.approx(2.0, rel=0.01)
    for p in fitted.parameters:  # the 95% intervals hold the truth and are narrow
        assert p.ci_low < TRUTH[p.name] < p.ci_high
        assert 0 < p.standard_error < 0.01 * TRUTH[p.name]
        assert not p.at_bound
    assert fitted.cost < 0.01 * fitted.initial_cost


def test_intervals_cover_the_truth_about_95_percent_of_the_time(sir):
    """20 noisy data sets, 40 intervals: about 38 should hold the true value."""
    covered = 0
    for seed in range(1, 21):
        data = _noisy(sir, seed)
        series = {"infected": "Infectious", "recovered": "Recovered"}
        result = calibrate(sir, data, PARAMETERS, series, progress=False)
        covered += sum(p.ci_low < TRUTH[p.name] < p.ci_high for p in result.parameters)
    assert 34 <= covered <= 40


def test_goodness_of_fit_per_series(fitted):
    infected, recovered = fitted.series
    assert (infected.column, infected.variable, infected.weight) == ("infected", "Infectious", 1)
    assert infected.fitted.points == 30  # 31 days, one missing
    assert recovered.fitted.points == 31
    for s in fitted.series:
        assert s.fitted.rmse < 0.1 * s.initial.rmse
        noise = 0.02 * fitted.observed[s.column].mean()
        assert 0.7 * noise < s.fitted.rmse < 1.3 * noise  # what is left is the noise
        assert s.fitted.r_squared > 0.99
        assert s.fitted.theil_uc > 0.8  # what is left is mostly noise, not bias
        total = s.fitted.theil_um + s.fitted.theil_us + s.fitted.theil_uc
        assert total == pytest.approx(1.0)
    assert recovered.initial.theil_um > 0.5  # the initial guess was mostly biased
    table = fitted.fit_frame()
    assert table.loc["infected", "points"] == 30
    assert table.loc["recovered", "rmse"] == pytest.approx(recovered.fitted.rmse)


def test_result_runs_tables_and_plots(fitted, sir):
    run = fitted.run(return_columns=["Infectious"])
    expected = sir.run(params=fitted.values, return_columns=["Infectious"])
    pd.testing.assert_frame_equal(run, expected)
    frame = fitted.to_frame()
    assert list(frame.index) == ["Contact Rate", "Duration of Infectivity"]
    assert (
        frame.loc["Contact Rate", "low"] == 2 and frame.loc["Duration of Infectivity", "high"] == 5
    )
    assert (
        frame.loc["Contact Rate", "initial"] == 4
        and frame.loc["Duration of Infectivity", "initial"] == 2
    )
    figure = fitted.plot()
    assert len([ax for ax in figure.axes if ax.get_visible()]) == 2
    assert "Contact Rate" in fitted.summary() and "U_C" in fitted.summary()


def test_every_jacobian_is_one_sweep_of_p_plus_one_runs(sir, observed, monkeypatch):
    single, sweeps = [], []
    run, sweep = Model.run, Model.sweep

    def counting_run(self, *args, **kwargs):
        single.append(kwargs.get("params"))
        return run(self, *args, **kwargs)

    def counting_sweep(self, spec, *args, **kwargs):
        sweeps.append(len(spec))
        return sweep(self, spec, *args, **kwargs)

    monkeypatch.setattr(Model, "run", counting_run)
    monkeypatch.setattr(Model, "sweep", counting_sweep)
    result = calibrate(sir, observed, PARAMETERS, SERIES, progress=False)
    assert sweeps and set(sweeps) == {3}  # the point and one step per parameter
    assert len(single) == result.evaluations
    assert result.runs == len(single) + 3 * len(sweeps)


def test_a_model_native_cannot_batch_falls_back_to_single_runs(sir, observed, fitted, monkeypatch):
    from sdhealth.errors import UnsupportedByBackend

    def unsupported(*args, **kwargs):
        raise UnsupportedByBackend("not on this backend")

    monkeypatch.setattr(Model, "sweep", unsupported)
    result = calibrate(sir, observed, PARAMETERS, SERIES, progress=False)
    assert result.values == pytest.approx(fitted.values, rel=1e-9)
    assert result.runs == fitted.runs


def test_the_sweep_jacobian_matches_separate_runs(sir, observed):
    from sdhealth.experiments.calibration import _fit_parameters, _fit_series, _Objective, _targets
    from sdhealth.experiments.observations import read_observations
    from sdhealth.experiments.progress import progress_bar

    data = read_observations(observed, units="day")
    fit = _fit_parameters(sir, PARAMETERS)
    targets = _targets(data, _fit_series(sir, SERIES, data), 0.0, 30.0)
    objective = _Objective(sir, fit, targets, {}, 1e-4, progress_bar(None, "", enabled=False))
    x = np.array([5.0, 2.5])
    jacobian = objective.jacobian(x)
    for j, p in enumerate(fit):
        step = np.zeros(2)
        step[j] = 1e-4 * (p.high - p.low)
        by_runs = (objective.residuals(x + step) - objective.residuals(x)) / step[j]
        np.testing.assert_allclose(jacobian[:, j], by_runs, rtol=1e-6, atol=1e-9)


def test_residuals_are_normalised_per_series(sir, observed):
    """Repeating every observation, or rescaling a series, leaves the cost unchanged;
    a weight of 2 doubles that series' share."""

    def initial_cost(data, series):
        return calibrate(
            sir, data, PARAMETERS, series, max_evaluations=1, progress=False
        ).initial_cost

    one = {"infected": "Infectious"}
    base = initial_cost(observed, one)
    twice = pd.concat([observed, observed], ignore_index=True)
    assert initial_cost(twice, one) == pytest.approx(base, rel=1e-12)
    assert initial_cost(observed, {"infected": {"variable": "Infectious", "weight": 2}}) == (
        pytest.approx(2 * base, rel=1e-12)
    )
    both = initial_cost(observed, SERIES)
    only_recovered = initial_cost(observed, {"recovered": SERIES["recovered"]})
    assert both == pytest.approx(base + only_recovered, rel=1e-12)


def test_dates_in_a_csv_with_a_start_date(sir, observed, tmp_path):
    dated = observed.copy()
    dated["time"] = pd.Timestamp("2020-03-01") + pd.to_timedelta(dated["time"], unit="D")
    dated = dated.rename(columns={"time": "date"})
    path = tmp_path / "cases.csv"
    path.write_text("# synthetic SIR counts\n" + dated.to_csv(index=False))
    result = calibrate(sir, path, PARAMETERS, SERIES, start_date="2020-03-01", progress=False)
    assert result.values["Contact Rate"] == pytest.approx(6.0, rel=0.01)
    assert result.observed.index[-1] == 30.0


def test_ctrl_c_returns_the_best_so_far(sir, observed, monkeypatch):
    calls = []
    run = Model.run

    def interrupted_run(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return run(self, *args, **kwargs)

    monkeypatch.setattr(Model, "run", interrupted_run)
    result = calibrate(sir, observed, PARAMETERS, SERIES, progress=False)
    assert result.interrupted and not result.success
    assert result.evaluations == 3
    assert result.cost <= result.initial_cost
    assert "interrupted" in result.message
    for p in result.parameters:
        assert p.low <= p.value <= p.high
    assert result.series[0].fitted.points == 30  # goodness of fit without another run


def test_ctrl_c_before_any_evaluation_propagates(sir, observed, monkeypatch):
    def interrupted_run(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Model, "run", interrupted_run)
    with pytest.raises(KeyboardInterrupt):
        calibrate(sir, observed, PARAMETERS, SERIES, progress=False)


def test_progress_bar_shows_evaluations_and_cost(sir, observed, capsys):
    calibrate(sir, observed, PARAMETERS, SERIES, max_evaluations=5, progress=True)
    err = capsys.readouterr().err
    assert "calibrate" in err and "eval" in err and "cost" in err


@pytest.mark.parametrize(
    ("parameters", "series", "options", "error", "match"),
    [
        ({"Contact Rat": (2, 10)}, SERIES, {}, UnknownNameError, "did you mean 'Contact Rate'"),
        ({"Infectious": (0, 1)}, SERIES, {}, ModelError, "not a constant"),
        ({"Contact Rate": (10, 2)}, SERIES, {}, ModelError, "low bound 10 must be below"),
        ({"Contact Rate": (3, 3)}, SERIES, {}, ModelError, "must be below high"),
        ({"Contact Rate": {"initial": 1, "low": 2, "high": 10}}, SERIES, {}, ModelError,
         r"initial value 1 is outside its bounds \[2, 10\]"),
        ({"Contact Rate": (7, 10)}, SERIES, {}, ModelError, "initial value 6 is outside"),
        ({"Contact Rate": (2, float("inf"))}, SERIES, {}, ModelError, "finite"),
        ({"Contact Rate": (1, 2, 3)}, SERIES, {}, ModelError, "give"),
        ({}, SERIES, {}, ModelError, "no parameters"),
        (PARAMETERS, {"infectd": "Infectious"}, {}, ModelError,
         "data column 'infectd' is missing \\(did you mean 'infected'"),
        (PARAMETERS, {"infected": "Infectous"}, {}, UnknownNameError, "did you mean 'Infectious'"),
        (PARAMETERS, {"infected": {"variable": "Infectious", "weight": 0}}, {}, ModelError,
         "weight must be positive"),
        (PARAMETERS, {}, {}, ModelError, "no series"),
        (PARAMETERS, SERIES, {"start": 40, "stop": 50}, ModelError, "no observations in the run"),
        (PARAMETERS, SERIES, {"method": "lm"}, ModelError, "trf or dogbox"),
        (PARAMETERS, SERIES, {"max_evaluations": 0}, ModelError, "positive whole number"),
        (PARAMETERS, SERIES, {"diff_step": 0}, ModelError, "diff_step"),
        (PARAMETERS, SERIES, {"tolerance": -1}, ModelError, "tolerance must be positive"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error_before_any_run(
    sir, observed, monkeypatch, parameters, series, options, error, match
):
    def no_run(*args, **kwargs):
        raise AssertionError("a run started")

    monkeypatch.setattr(Model, "run", no_run)
    monkeypatch.setattr(Model, "sweep", no_run)
    with pytest.raises(error, match=match):
        calibrate(sir, observed, parameters, series, progress=False, **options)


def test_dates_without_a_start_date_are_an_error(sir, observed):
    dated = observed.assign(
        time=pd.Timestamp("2020-03-01") + pd.to_timedelta(observed["time"], "D")
    )
    with pytest.raises(ModelError, match="start date"):
        calibrate(sir, dated, PARAMETERS, SERIES, progress=False)


# -- specs and fitted-value files -------------------------------------------------------------


def _write_spec(tmp_path: Path, observed: pd.DataFrame, body: str) -> Path:
    observed.to_csv(tmp_path / "cases.csv", index=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(body)
    return spec


SPEC = """\
calibration: SIR recovery
data: cases.csv
parameters:
  Contact Rate: {initial: 4, low: 2, high: 10}
  Duration of Infectivity: [1, 5]
series:
  infected: Infectious
  recovered: {variable: Recovered, weight: 0.5}
max_evaluations: 30
"""


def test_spec_round_trip_to_a_loadable_scenario(sir, observed, tmp_path):
    spec = read_calibration_spec(_write_spec(tmp_path, observed, SPEC))
    assert spec.name == "SIR recovery" and spec.data == tmp_path / "cases.csv"
    assert spec.parameters["Duration of Infectivity"] == (1.0, 5.0)
    result = spec.calibrate(sir, progress=False)
    assert result.values["Contact Rate"] == pytest.approx(6.0, rel=0.01)
    write_fitted(result, tmp_path / "fitted.yaml")
    scenario = sd.load_scenario(tmp_path / "fitted.yaml")
    assert scenario.param_values == pytest.approx(result.values)
    from_scenario = sir.run(scenario=tmp_path / "fitted.yaml", return_columns=["Infectious"])
    pd.testing.assert_frame_equal(from_scenario, result.run(return_columns=["Infectious"]))
    write_fitted(result, tmp_path / "fitted.csv")
    table = pd.read_csv(tmp_path / "fitted.csv", index_col="parameter")
    assert table.loc["Contact Rate", "value"] == pytest.approx(result.values["Contact Rate"])
    with pytest.raises(sd.SdhealthError, match=r"\.yaml .* or \.csv"):
        write_fitted(result, tmp_path / "fitted.json")


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (("max_evaluations: 30", "max_evaluation: 30"), r"yaml:9:1: unknown key 'max_evaluation'"),
        (("Duration of Infectivity: [1, 5]", "Duration of Infectivity: 3"),
         r"yaml:5:28: parameter"),
        (("Duration of Infectivity: [1, 5]", "Duration of Infectvity: [1, 5]"),
         r"yaml:5:3: unknown parameter 'Duration of Infectvity' \(did you mean"),
        (("infected: Infectious", "infected: Infectous"), r"yaml:7:13: unknown model variable"),
        (("max_evaluations: 30", "max_evaluations: many"), r"yaml:9:18: 'max_evaluations'"),
        (("max_evaluations: 30", "method: lm"), r"yaml:9:9: 'method' must be trf or dogbox"),
        (("weight: 0.5", "weight: -1"), r"yaml:8:44: 'weight' must be positive"),
        (("data: cases.csv\n", ""), r"needs 'data'"),
    ],
)  # fmt: skip
def test_spec_errors_point_at_the_file(sir, observed, tmp_path, edit, match):
    path = _write_spec(tmp_path, observed, SPEC.replace(*edit))
    with pytest.raises((ModelSyntaxError, ModelError), match=match):
        read_calibration_spec(path).calibrate(sir, progress=False)


# -- the worked example: the NHS model and the brief's figures -------------------------------


def test_nhs_calibration_fits_at_least_as_well_as_the_base_within_the_brief():
    model = sd.load(NHS)
    spec = read_calibration_spec(NHS_SPEC)
    began = time.perf_counter()
    result = spec.calibrate(model, progress=False)
    elapsed = time.perf_counter() - began
    assert elapsed < 60  # about 10 s with compilation on a 2-core machine
    assert result.success
    base = model.constants
    assert all(p.initial == base[p.name] for p in result.parameters)  # starts from the base run
    assert result.cost <= result.initial_cost
    fits = {s.column: s for s in result.series}
    assert fits["rtt_waiting_list"].fitted.rmse <= fits["rtt_waiting_list"].initial.rmse
    assert fits["twelve_hour_waits_dta"].fitted.rmse <= fits["twelve_hour_waits_dta"].initial.rmse
    for p in result.parameters:
        assert p.low < p.value < p.high and not p.at_bound
    values = result.values
    assert 0.019 <= values["Removal fraction"] <= 0.025  # 245k-275k a month on ~7.6m (weighted)
    assert 1.0 <= values["Time to admit at low occupancy"] <= 3.0
    assert 0.15 <= values["Share needing supported discharge"] <= 0.25
    fitted = result.run(return_columns=["RTT waiting list", "Bed occupancy"])
    assert 7.6e6 <= fitted["RTT waiting list"].loc[6:10].max() <= 7.85e6  # the H2 2023 peak
    assert fitted["Bed occupancy"].loc[0:24].between(0.92, 0.95).all()


def test_the_quick_example_in_the_docs_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    outcome = doctest.testfile(str(ROOT / "docs" / "calibration.md"), module_relative=False)
    assert outcome.attempted > 5 and outcome.failed == 0
