"""Sweeps on a Dask LocalCluster (loopback): the same Dataset bit for bit, lost workers."""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd
from sdhealth.backends.base import RunSpec
from sdhealth.errors import SdhealthError, SimulationError
from sdhealth.experiments import batch

distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] not installed")

from sdhealth.experiments.distributed import connect, run_chunks, submit_chunks  # noqa: E402

MODELS = Path(__file__).resolve().parents[2] / "models"
GRID = {"Room Temperature": np.linspace(0, 100, 1_200), "Characteristic Time": [5.0, 10.0]}


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on loopback, with sdhealth imported."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    client = distributed.Client(cluster)
    client.run(lambda: __import__("sdhealth.experiments.batch"))
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def teacup() -> sd.Model:
    return sd.load(MODELS / "teacup.yaml")


@pytest.mark.parametrize("summary", [None, ["final", "peak", "time_of_peak", ("mean", 5, 10)]])
def test_a_dask_sweep_is_identical_to_a_local_one(client, teacup, summary) -> None:
    local = teacup.sweep(GRID, summary=summary)
    remote = teacup.sweep(GRID, summary=summary, executor=client)
    assert remote.sizes["run"] == 2_400
    assert remote.identical(local)
    for name in local.data_vars:
        assert np.array_equal(remote[name].values, local[name].values)


def test_scenarios_run_on_dask_too(client, teacup, tmp_path) -> None:
    slow = tmp_path / "slow.yaml"
    slow.write_text(
        "scenario: slow\npolicies:\n  - step: {target: Characteristic Time, to: 40, at: 5}\n"
    )
    grid = {"Room Temperature": [20.0, 50.0]}
    local = teacup.sweep(grid, scenarios=[slow], summary="final")
    assert teacup.sweep(grid, scenarios=[slow], summary="final", executor=client).identical(local)


def test_a_failed_run_in_a_worker_is_named(client) -> None:
    from sdhealth.ir.model import Constant, Equation, Flow, Model, Stock, TimeSpec, symbol

    model = Model(
        "fragile",
        TimeSpec(0, 4, 1),
        (
            Constant(name="k", value=1.0),
            Flow(name="Inflow", equation=Equation(1 / (symbol("k") - 7))),
            Stock(name="Level", initial=Equation(0 * symbol("k")), inflows=("Inflow",)),
        ),
    )
    sets = batch.parameter_sets(model, {"k": np.arange(10.0)})
    group = batch.RunGroup(model, sets.keys, sets.values, np.arange(sets.runs))
    chunks = batch.make_chunks([group], RunSpec.from_time(model.time), 3, None, "native")
    with pytest.raises(SimulationError, match="run 7"):
        list(run_chunks(client, chunks))


def test_the_cli_runs_a_spec_on_a_scheduler(client, teacup, tmp_path) -> None:
    from sdhealth import cli
    from sdhealth.io.results import load_dataset

    spec = tmp_path / "tea.yaml"
    spec.write_text(
        "parameters:\n  Room Temperature: {from: 0, to: 100, steps: 300}\nsummary: [final, peak]\n"
    )
    out, err, target = io.StringIO(), io.StringIO(), tmp_path / "tea.nc"
    argv = ["sweep", str(MODELS / "teacup.yaml"), str(spec), "--dask", client.scheduler.address]
    status = cli.main([*argv, "--out", str(target), "--no-progress"], out=out, err=err)
    assert (status, err.getvalue()) == (0, "")
    local = teacup.sweep({"Room Temperature": np.linspace(0, 100, 300)}, summary=["final", "peak"])
    assert load_dataset(target).identical(local)


def test_executor_must_be_a_client(teacup) -> None:
    with pytest.raises(SdhealthError, match="dask.distributed.Client"):
        teacup.sweep({"Room Temperature": [1.0]}, executor="tcp://127.0.0.1:1")


def test_connect_to_nothing_is_a_clear_error() -> None:
    with pytest.raises(SdhealthError, match="cannot reach a Dask scheduler"):
        connect("tcp://127.0.0.1:9", timeout=1)


# Last: the killed worker restarts in the background; no other test waits for it.
def test_a_lost_worker_costs_only_its_chunks(client, teacup) -> None:
    model = teacup.ir
    spec = RunSpec.from_time(model.time)
    sets = batch.parameter_sets(model, {"Room Temperature": np.linspace(0, 100, 4_000)})
    group = batch.RunGroup(model, sets.keys, sets.values, np.arange(sets.runs))
    chunks = batch.make_chunks([group], spec, 250, None, "native")
    expected = [batch.run_chunk(chunk) for chunk in chunks]
    pids = client.run(os.getpid)
    futures = submit_chunks(client, chunks)
    victim = next(iter(pids))
    os.kill(pids[victim], signal.SIGKILL)  # the worker dies with its chunks in flight
    results = client.gather(futures)
    assert victim not in client.scheduler_info()["workers"]  # it really died
    assert len(results) == len(chunks) == 16
    for (times, values, columns), (times0, values0, columns0) in zip(
        results, expected, strict=True
    ):
        assert columns == columns0
        assert np.array_equal(times, times0) and np.array_equal(values, values0)
