"""``sdhealth sweep MODEL SPEC``: in-process, results and plot files, one-line user errors."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
import pytest

from sdhealth import cli
from sdhealth.experiments import batch
from sdhealth.io.results import load_dataset

ROOT = Path(__file__).resolve().parents[1]
TEACUP = str(ROOT / "models" / "teacup.yaml")


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(argv, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture()
def spec(tmp_path) -> Path:
    path = tmp_path / "tea.yaml"
    path.write_text(
        "sweep: Tea\n"
        "parameters:\n"
        "  Room Temperature: {from: 0, to: 100, steps: 5}\n"
        "  Characteristic Time: [5, 10]\n"
        "outputs: [Teacup Temperature]\n"
        "summary: [final, peak, {mean: [0, 10]}]\n"
    )
    return path


def test_sweep_writes_results_and_a_plot(spec, tmp_path) -> None:
    out_file, plot = tmp_path / "tea.nc", tmp_path / "tea.png"
    status, out, err = _main(
        ["sweep", TEACUP, str(spec), "--out", str(out_file), "--plot", str(plot), "--no-progress"]
    )
    assert (status, err) == (0, "")
    assert "Tea: 10 of 10 runs of Teacup (10 run x 3 statistic)" in out
    ds = load_dataset(out_file)
    assert ds["Room Temperature"].values.tolist() == [0, 0, 25, 25, 50, 50, 75, 75, 100, 100]
    assert ds["statistic"].values.tolist() == ["final", "peak", "mean[0,10]"]
    final = ds["Teacup Temperature"].sel(statistic="final").values
    assert np.all(np.diff(final[::2]) > 0)  # a warmer room leaves warmer tea
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_to_csv(spec, tmp_path) -> None:
    target = tmp_path / "tea.csv"
    status, _, _ = _main(["sweep", TEACUP, str(spec), "--out", str(target), "--no-progress"])
    assert status == 0
    lines = target.read_text().splitlines()
    assert lines[0] == "run,statistic,Room Temperature,Characteristic Time,Teacup Temperature"
    assert len(lines) == 1 + 10 * 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("parameters:\n  Room Temprature: [1, 2]\n", "did you mean 'Room Temperature'"),
        ("parameters:\n  Room Temperature: []\n", "tea.yaml:2:3: parameter 'Room Temperature'"),
        ("parameters:\n  Room Temperature: [1]\nsummary: [median]\n", "tea.yaml:3:11: unknown"),
    ],
)
def test_a_bad_spec_is_one_line_and_exit_2(tmp_path, monkeypatch, text, message) -> None:
    monkeypatch.setattr(batch, "run_chunk", lambda chunk: pytest.fail("a run started"))
    path = tmp_path / "tea.yaml"
    path.write_text(text)
    status, out, err = _main(["sweep", TEACUP, str(path), "--no-progress"])
    assert status == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_an_unknown_output_suffix_is_a_user_error(spec, tmp_path) -> None:
    status, _, err = _main(["sweep", TEACUP, str(spec), "--out", str(tmp_path / "x.xlsx")])
    assert status == 2 and "use one of .csv, .nc, .parquet" in err


def test_ctrl_c_saves_the_finished_runs_and_exits_130(tmp_path, ctrl_c_at_chunk) -> None:
    ctrl_c_at_chunk(2)
    path = tmp_path / "many.yaml"
    path.write_text(
        "parameters:\n  Room Temperature: {from: 0, to: 100, steps: 1000}\nsummary: final\n"
    )
    target = tmp_path / "many.nc"
    status, out, _ = _main(["sweep", TEACUP, str(path), "--out", str(target), "--no-progress"])
    assert status == 130
    assert "256 of 1000 runs" in out and "interrupted" in out
    ds = load_dataset(target)
    assert ds.sizes["run"] == 256 and ds.attrs["interrupted"] == 1


def test_dask_address_that_does_not_answer(spec, monkeypatch) -> None:
    pytest.importorskip("dask.distributed")
    from sdhealth.experiments import distributed

    monkeypatch.setattr(distributed, "connect", functools.partial(distributed.connect, timeout=1))
    status, _, err = _main(["sweep", TEACUP, str(spec), "--dask", "tcp://127.0.0.1:9"])
    assert status == 2 and "cannot reach a Dask scheduler" in err
