"""``sdhealth calibrate MODEL SPEC [--out] [--plot]``, called in-process through ``main``."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sdhealth as sd
from sdhealth.cli import main

ROOT = Path(__file__).resolve().parents[1]
SIR = str(ROOT / "models" / "sir.yaml")

SPEC = """\
calibration: SIR from dated counts
data: cases.csv
start_date: 2020-03-01
parameters:
  Contact Rate: {initial: 4, low: 2, high: 10}
  Duration of Infectivity: [1, 5]
series:
  infected: Infectious
max_evaluations: 30
"""


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory) -> Path:
    """A spec beside a CSV of dated daily counts (true contact rate 6, duration 2)."""
    folder = tmp_path_factory.mktemp("calibrate")
    truth = sd.load(SIR).run(return_columns=["Infectious"]).loc[::4]
    noise = 20 * np.random.default_rng(5).standard_normal(len(truth))
    dates = pd.Timestamp("2020-03-01") + pd.to_timedelta(truth.index, unit="D")
    table = pd.DataFrame(
        {"date": dates.strftime("%Y-%m-%d"), "infected": truth["Infectious"] + noise}
    )
    (folder / "cases.csv").write_text("# synthetic\n" + table.to_csv(index=False))
    (folder / "spec.yaml").write_text(SPEC)
    return folder


def _main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_calibrate_prints_the_fit_and_writes_a_scenario_and_a_plot(spec_dir, tmp_path):
    fitted, plot = tmp_path / "fitted.yaml", tmp_path / "fit.png"
    status, out, err = _main(
        "calibrate", SIR, str(spec_dir / "spec.yaml"), "--out", str(fitted), "--plot", str(plot)
    )
    assert status == 0, err
    assert "Contact Rate" in out and "95% interval" in out and "U_C" in out
    assert f"fitted values written to {fitted}" in out
    scenario = sd.load_scenario(fitted)
    assert scenario.param_values["Contact Rate"] == pytest.approx(6.0, rel=0.02)
    assert scenario.param_values["Duration of Infectivity"] == pytest.approx(2.0, rel=0.02)
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_calibrate_writes_a_csv_table(spec_dir, tmp_path):
    status, _, err = _main(
        "calibrate", SIR, str(spec_dir / "spec.yaml"), "--out", str(tmp_path / "fit.csv")
    )
    assert status == 0, err
    table = pd.read_csv(tmp_path / "fit.csv", index_col="parameter")
    assert list(table.columns[:4]) == ["value", "initial", "low", "high"]
    assert table.loc["Contact Rate", "value"] == pytest.approx(6.0, rel=0.02)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (("Contact Rate:", "Contact Rat:"), r"spec.yaml:5:3: unknown parameter 'Contact Rat'"),
        (("low: 2, high: 10", "low: 12, high: 10"), "low bound 12 must be below high 10"),
        (("infected: Infectious", "infectd: Infectious"), "data column 'infectd' is missing"),
        (("start_date: 2020-03-01\n", ""), "give the start date"),
        (("data: cases.csv", "data: nowhere.csv"), "nowhere.csv: no such data file"),
    ],
)
def test_user_errors_exit_2_with_one_line(spec_dir, tmp_path, edit, match):
    (tmp_path / "cases.csv").write_text((spec_dir / "cases.csv").read_text())
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace(*edit))
    status, out, err = _main("calibrate", SIR, str(spec), "--out", str(tmp_path / "f.yaml"))
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and match in err
    assert not (tmp_path / "f.yaml").exists()


def test_a_bad_output_suffix_is_a_user_error(spec_dir, tmp_path):
    status, _, err = _main(
        "calibrate", SIR, str(spec_dir / "spec.yaml"), "--out", str(tmp_path / "fit.json")
    )
    assert status == 2 and ".yaml" in err


def test_ctrl_c_keeps_the_best_so_far_and_exits_130(spec_dir, tmp_path, monkeypatch):
    from sdhealth.model import Model

    calls = []
    run = Model.run

    def interrupted_run(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return run(self, *args, **kwargs)

    monkeypatch.setattr(Model, "run", interrupted_run)
    fitted = tmp_path / "fitted.yaml"
    status, out, _ = _main("calibrate", SIR, str(spec_dir / "spec.yaml"), "--out", str(fitted))
    assert status == 130
    assert "interrupted" in out
    assert "interrupted, best so far" in fitted.read_text()
    assert set(sd.load_scenario(fitted).param_values) == {"Contact Rate", "Duration of Infectivity"}
