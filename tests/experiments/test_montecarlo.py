"""Monte Carlo experiments: samples, runs, percentiles, reproducibility, saving and plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sdhealth as sd
from sdhealth.errors import ModelError, SdhealthError, UnknownNameError
from sdhealth.experiments import batch
from sdhealth.experiments.distributions import Normal, Triangular, Uniform
from sdhealth.experiments.montecarlo import draw_samples, monte_carlo
from sdhealth.io.results import load_dataset

MODELS = Path(__file__).resolve().parents[2] / "models"
OUTPUT = "Teacup Temperature"


@pytest.fixture(scope="module")
def teacup() -> sd.Model:
    return sd.load(MODELS / "teacup.yaml")


@pytest.fixture(scope="module")
def uncertain() -> dict:
    return {"Room Temperature": Normal(70.0, 5.0), "Characteristic Time": Triangular(5, 10, 20)}


@pytest.fixture(scope="module")
def result(teacup, uncertain):
    return monte_carlo(teacup, uncertain, runs=300, seed=42, outputs=[OUTPUT], stop=20)


@pytest.fixture
def no_runs(monkeypatch) -> None:
    """Fail the test if any chunk of runs starts."""

    def refuse(chunk):
        raise AssertionError("a run started although the experiment was invalid")

    monkeypatch.setattr(batch, "run_chunk", refuse)


def test_each_run_equals_a_direct_run_with_its_sample(teacup, result) -> None:
    assert result.runs == 300 and list(result.samples.columns) == list(result.distributions)
    for run in (0, 123, 299):
        params = result.samples.loc[run].to_dict()
        direct = teacup.run(params=params, stop=20, return_columns=[OUTPUT])
        np.testing.assert_allclose(result.dataset[OUTPUT].sel(run=run), direct[OUTPUT], rtol=1e-12)
        for name, value in params.items():
            assert float(result.dataset[name].sel(run=run)) == value


def test_only_the_requested_outputs_are_kept(result) -> None:
    assert list(result.dataset.data_vars) == [OUTPUT]
    assert dict(result.dataset[OUTPUT].sizes) == {"run": 300, "time": 161}


def test_same_seed_same_results_other_seed_differs(teacup, uncertain, result) -> None:
    again = monte_carlo(teacup, uncertain, runs=300, seed=42, outputs=[OUTPUT], stop=20)
    np.testing.assert_array_equal(again.dataset[OUTPUT], result.dataset[OUTPUT])
    other = monte_carlo(teacup, uncertain, runs=300, seed=43, outputs=[OUTPUT], stop=20)
    assert not np.array_equal(other.dataset[OUTPUT], result.dataset[OUTPUT])


def test_samples_follow_their_distributions(result) -> None:
    room = result.samples["Room Temperature"]
    assert abs(room.mean() - 70.0) < 4 * 5.0 / np.sqrt(300)
    # Kolmogorov-Smirnov: no evidence against the triangular distribution
    cdf = stats.triang(0.5 / 1.5, loc=5, scale=15).cdf
    assert stats.kstest(result.samples["Characteristic Time"], cdf).pvalue > 0.01


def test_percentiles_are_monotone_and_match_numpy(result) -> None:
    bands = result.percentiles()
    assert list(bands["percentile"].values) == [5, 25, 50, 75, 95]
    values = bands[OUTPUT].values
    assert np.all(np.diff(values, axis=0) >= 0)
    at_end = np.percentile(result.dataset[OUTPUT].isel(time=-1), [5, 25, 50, 75, 95])
    np.testing.assert_allclose(values[:, -1], at_end)
    # spread at the start is zero (every cup starts at 180) and grows as the rooms differ
    assert np.ptp(values[:, 0]) == 0 and np.ptp(values[:, -1]) > 10
    table = result.percentiles_at(levels=(10, 90))
    assert list(table.columns) == ["p10", "p90"]
    assert table.loc[OUTPUT, "p10"] < table.loc[OUTPUT, "p90"]


def test_latin_hypercube_puts_one_run_in_each_stratum(uncertain) -> None:
    samples = draw_samples(uncertain, 50, seed=5, sampling="lhs")
    for name, dist in uncertain.items():
        strata = np.floor(dist.frozen().cdf(samples[name]) * 50).astype(int)
        assert sorted(strata) == list(range(50))
    again = draw_samples(uncertain, 50, seed=5, sampling="lhs")
    pd.testing.assert_frame_equal(samples, again)


def test_a_scenario_fixes_the_parameters_it_sets(teacup, tmp_path) -> None:
    scenario = tmp_path / "cold.yaml"
    scenario.write_text("scenario: Cold room\nparams:\n  Room Temperature: 20\n")
    mc = monte_carlo(
        teacup,
        {"Characteristic Time": Uniform(8, 12)},
        runs=5,
        seed=1,
        outputs=[OUTPUT],
        scenario=scenario,
    )
    assert "Room Temperature" not in mc.dataset.coords
    time_constant = float(mc.samples.loc[2, "Characteristic Time"])
    direct = teacup.run(params={"Room Temperature": 20, "Characteristic Time": time_constant})
    np.testing.assert_allclose(mc.dataset[OUTPUT].sel(run=2), direct[OUTPUT], rtol=1e-12)


@pytest.mark.usefixtures("no_runs")
def test_bad_experiments_fail_before_any_run(teacup) -> None:
    good = {"Room Temperature": Normal(70.0, 5.0)}
    with pytest.raises(UnknownNameError, match="Room Temprature"):
        monte_carlo(teacup, {"Room Temprature": Normal(70.0, 5.0)}, runs=10, seed=1)
    with pytest.raises(ModelError, match="expected a distribution"):
        monte_carlo(teacup, {"Room Temperature": (60, 80)}, runs=10)
    with pytest.raises(ModelError, match="runs must be a positive whole number"):
        monte_carlo(teacup, good, runs=0)
    with pytest.raises(ModelError, match="unknown sampling 'sobol'"):
        monte_carlo(teacup, good, runs=10, sampling="sobol")
    with pytest.raises(ModelError, match="is a sampled parameter"):
        monte_carlo(teacup, good, runs=10, outputs=["Room Temperature"])
    with pytest.raises(UnknownNameError, match="unknown column 'Teacup'"):
        monte_carlo(teacup, good, runs=10, outputs=["Teacup"])
    with pytest.raises(ModelError, match="at least one parameter distribution"):
        monte_carlo(teacup, {}, runs=10)


def test_ctrl_c_keeps_the_finished_runs(teacup, uncertain, ctrl_c_at_chunk) -> None:
    calls = ctrl_c_at_chunk(2)
    mc = monte_carlo(teacup, uncertain, runs=600, seed=3, outputs=[OUTPUT], stop=5)
    finished = calls[0].runs.size
    assert mc.interrupted and mc.runs == finished < 600
    assert list(mc.samples.index) == list(mc.dataset["run"].values)
    assert mc.percentiles()[OUTPUT].sizes["percentile"] == 5


def test_save_netcdf_and_percentile_table(result, tmp_path) -> None:
    result.save(tmp_path / "mc.nc")
    back = load_dataset(tmp_path / "mc.nc")
    np.testing.assert_array_equal(back[OUTPUT].values, result.dataset[OUTPUT].values)
    np.testing.assert_array_equal(
        back["Room Temperature"].values, result.samples["Room Temperature"].values
    )
    assert "Room Temperature" in back.coords
    result.save(tmp_path / "bands.csv", levels=(5, 50, 95))
    table = pd.read_csv(tmp_path / "bands.csv", index_col="time")
    assert list(table.columns) == [f"{OUTPUT} p5", f"{OUTPUT} p50", f"{OUTPUT} p95"]
    assert table.loc[20.0, f"{OUTPUT} p50"] == pytest.approx(
        float(result.percentiles((50,))[OUTPUT].isel(time=-1, percentile=0)), rel=1e-9
    )
    with pytest.raises(SdhealthError, match="cannot write Monte Carlo results as '.txt'"):
        result.save(tmp_path / "mc.txt")


def test_fan_chart_draws_two_bands_and_the_median(result) -> None:
    ax = result.plot(OUTPUT)
    assert len(ax.collections) == 2  # 5-95 and 25-75
    (median,) = ax.lines
    np.testing.assert_allclose(
        median.get_ydata(), result.percentiles((50,))[OUTPUT].sel(percentile=50).values
    )
    with pytest.raises(ModelError, match="not an output"):
        result.plot("Room Temperature")
    figure = result.plot_all(title="teacup")
    assert len([a for a in figure.axes if a.get_visible()]) == 1


def test_a_dask_client_gives_the_same_runs(teacup, uncertain) -> None:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        remote = monte_carlo(
            teacup, uncertain, runs=600, seed=8, outputs=[OUTPUT], stop=5, executor=client
        )
    local = monte_carlo(teacup, uncertain, runs=600, seed=8, outputs=[OUTPUT], stop=5)
    np.testing.assert_array_equal(remote.dataset[OUTPUT], local.dataset[OUTPUT])
    pd.testing.assert_frame_equal(remote.samples, local.samples)
