"""An experiment stopped by a failed run keeps the finished runs (issue 12, point 9)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd
from sdhealth.backends.base import RunSpec
from sdhealth.cli import main
from sdhealth.errors import SdhealthError
from sdhealth.experiments.batch import ExperimentError, parameter_sets, run_parameter_sets

_MODEL = """model: sq
time: {start: 0, stop: 5, dt: 1}
constants:
  k: {value: 1}
auxiliaries:
  y:
    equation: SQRT(k)
"""


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    path = tmp_path / "sq.yaml"
    path.write_text(_MODEL, encoding="utf-8")
    return path


def test_failed_run_keeps_the_finished_runs(model_path: Path) -> None:
    ir = sd.load(model_path)._ir
    values = [1.0, 4.0, 9.0, -1.0, 16.0]
    sets = parameter_sets(ir, {"k": values})
    with pytest.raises(ExperimentError) as caught:
        run_parameter_sets(ir, RunSpec.from_time(ir.time), sets, max_chunk_bytes=1)
    error = caught.value
    assert isinstance(error, SdhealthError)
    assert error.runs == (3,)
    assert str(error).startswith("run 3 failed: ")
    assert "3 of 5 runs finished" in str(error)
    partial = error.partial
    assert list(partial["run"].values) == [0, 1, 2]
    np.testing.assert_allclose(partial["y"].isel(time=0).values, [1.0, 2.0, 3.0])
    assert partial.attrs["interrupted"] == 1


def test_failure_before_any_run_finishes_is_the_runs_own_error(model_path: Path) -> None:
    ir = sd.load(model_path)._ir
    sets = parameter_sets(ir, {"k": [-1.0, 1.0]})
    with pytest.raises(sd.SimulationError if hasattr(sd, "SimulationError") else SdhealthError):
        run_parameter_sets(ir, RunSpec.from_time(ir.time), sets, max_chunk_bytes=1)


@pytest.mark.parametrize(
    "spec, words",
    [
        ("parameters:\n  nope: [1, 2]\n", "nope"),
        ("parameters:\n  k: []\n", "k"),
        ("parameters:\n  k: [a, b]\n", "k"),
        ("parameters:\n  k: 3\n", "k"),
        ("parameters: 7\n", "parameters"),
        ("", ""),
    ],
)
def test_bad_sweep_specs_are_one_line_and_exit_2(
    model_path: Path, tmp_path: Path, spec: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(spec, encoding="utf-8")
    status = main(["sweep", str(model_path), str(spec_path), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and words in err


def test_missing_spec_file_exits_2(model_path: Path, tmp_path: Path) -> None:
    status = main(["sweep", str(model_path), str(tmp_path / "absent.yaml"), "--no-progress"])
    assert status == 2


def test_cli_sweep_writes_the_finished_runs_and_names_the_failed_one(
    model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import xarray as xr

    from sdhealth.experiments import batch

    monkeypatch.setattr(batch, "chunk_size", lambda *args, **kwargs: 1)
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text("parameters:\n  k: [1, 4, -1, 9]\n", encoding="utf-8")
    out = tmp_path / "runs.nc"
    status = main(["sweep", str(model_path), str(spec_path), "--no-progress", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 2
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("run 2 failed: ")
    assert f"the 2 finished runs written to {out}" in captured.out
    with xr.open_dataset(out) as written:
        assert list(written["run"].values) == [0, 1]


def test_cli_montecarlo_writes_the_finished_runs(
    model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sdhealth.experiments import batch

    monkeypatch.setattr(batch, "chunk_size", lambda *args, **kwargs: 1)
    spec_path = tmp_path / "mc.yaml"
    spec_path.write_text(
        "runs: 40\nseed: 1\noutputs: [y]\ndistributions:\n  k: {normal: {mean: 1, sd: 1}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "mc.csv"
    status = main(
        ["montecarlo", str(model_path), str(spec_path), "--no-progress", "--out", str(out)]
    )
    captured = capsys.readouterr()
    assert status == 2, captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert " failed: " in captured.err and "runs finished and are kept" in captured.err
    assert "finished runs written to" in captured.out
    assert out.exists()
