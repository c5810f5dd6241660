"""``sdhealth montecarlo`` and ``sdhealth sensitivity``: spec files, outputs, user errors."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sdhealth as sd
from sdhealth.cli import main
from sdhealth.errors import ModelSyntaxError, UnknownNameError
from sdhealth.experiments import batch
from sdhealth.experiments.distributions import Normal, Triangular
from sdhealth.experiments.experiment_specs import (
    MonteCarloSpec,
    SensitivitySpec,
    read_montecarlo_spec,
    read_sensitivity_spec,
)
from sdhealth.io.results import load_dataset

ROOT = Path(__file__).resolve().parents[1]
TEACUP = str(ROOT / "models" / "teacup.yaml")
SIR = str(ROOT / "models" / "sir.yaml")
NHS = ROOT / "models" / "nhs_england.yaml"
EXAMPLES = ROOT / "models" / "nhs_england" / "experiments"

MONTECARLO = """\
montecarlo: Teacup rooms
distributions:
  Room Temperature: {normal: {mean: 70, sd: 5}}
  Characteristic Time: {triangular: {low: 5, mode: 10, high: 20}}
runs: 200
seed: 7
sampling: lhs
outputs: [Teacup Temperature]
percentiles: [10, 50, 90]
stop: 20
"""

OAT = """\
sensitivity: SIR peak
method: oat
parameters:
  Contact Rate: {low: 4, high: 8}
  Infectivity: {uniform: {low: 0.2, high: 0.3}}
output: Infectious
statistic: peak
"""


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def no_runs(monkeypatch) -> None:
    def refuse(chunk):
        raise AssertionError("a run started although the command was invalid")

    monkeypatch.setattr(batch, "run_chunk", refuse)


def test_montecarlo_writes_runs_percentiles_and_a_fan_chart(tmp_path) -> None:
    spec = write(tmp_path, "mc.yaml", MONTECARLO)
    code, out, err = cli(
        "montecarlo",
        TEACUP,
        spec,
        "--out",
        str(tmp_path / "mc.nc"),
        "--plot",
        str(tmp_path / "fan.png"),
    )
    assert code == 0, err
    assert out.startswith("Teacup rooms: 200 runs of Teacup")
    assert "p10" in out and "p90" in out and "Teacup Temperature" in out
    runs = load_dataset(tmp_path / "mc.nc")
    assert dict(runs["Teacup Temperature"].sizes) == {"run": 200, "time": 161}
    assert (tmp_path / "fan.png").stat().st_size > 10_000
    # the same spec through the API gives the same runs (same seed)
    api = read_montecarlo_spec(spec).run(sd.load(TEACUP))
    np.testing.assert_array_equal(api.dataset["Teacup Temperature"], runs["Teacup Temperature"])
    code, _, err = cli("montecarlo", TEACUP, spec, "--out", str(tmp_path / "bands.csv"))
    assert code == 0, err
    bands = pd.read_csv(tmp_path / "bands.csv", index_col="time")
    assert list(bands.columns) == [f"Teacup Temperature p{p}" for p in (10, 50, 90)]
    assert (bands.diff(axis=1).iloc[:, 1:] >= 0).all().all()


def test_sensitivity_oat_writes_the_table_and_a_tornado(tmp_path) -> None:
    spec = write(tmp_path, "oat.yaml", OAT)
    code, out, err = cli(
        "sensitivity",
        SIR,
        spec,
        "--out",
        str(tmp_path / "oat.csv"),
        "--plot",
        str(tmp_path / "tornado.svg"),
    )
    assert code == 0, err
    assert out.startswith("SIR peak: oat of peak Infectious (5 runs)")
    table = pd.read_csv(tmp_path / "oat.csv", index_col="parameter")
    assert list(table.index) == ["Contact Rate", "Infectivity"]
    model = sd.load(SIR)
    at_high = model.run(params={"Contact Rate": 8})["Infectious"].max()
    assert table.loc["Contact Rate", "output_high"] == pytest.approx(at_high, rel=1e-9)
    assert (tmp_path / "tornado.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    ("extra", "columns"),
    [
        ("method: sobol\nsamples: 16\nseed: 1\n", ["S1", "S1_conf", "ST", "ST_conf"]),
        ("method: morris\nsamples: 6\nseed: 1\n", ["mu", "mu_star", "sigma", "mu_star_conf"]),
    ],
)
def test_sensitivity_global_methods(tmp_path, extra, columns) -> None:
    spec = write(tmp_path, "global.yaml", OAT.replace("method: oat\n", extra))
    code, out, err = cli(
        "sensitivity",
        SIR,
        spec,
        "--out",
        str(tmp_path / "t.csv"),
        "--plot",
        str(tmp_path / "t.png"),
    )
    assert code == 0, err
    table = pd.read_csv(tmp_path / "t.csv", index_col="parameter")
    assert list(table.columns) == columns
    assert (tmp_path / "t.png").exists()


@pytest.mark.usefixtures("no_runs")
@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (MONTECARLO.replace("sd: 5", "sd: -5"), ":3:21: ", "'sd' must be positive, got -5"),
        (MONTECARLO.replace("mode: 10", "mode: 30"), ":4:24: ", "'mode' (30) must lie in"),
        (MONTECARLO.replace("normal:", "gaussian:"), ":3:21: ", "unknown distribution"),
        (MONTECARLO.replace("runs: 200", "runs: -1"), ":5:7: ", "'runs' must be a whole number"),
        (MONTECARLO.replace("seed: 7", "seeds: 7"), ":6:1: ", "unknown key 'seeds'"),
        (MONTECARLO.replace("lhs", "sobol"), ":7:11: ", "'sampling' must be one of random, lhs"),
        (MONTECARLO.replace("Room Temperature:", "Room Temp:"), ":3:3: ", "Room Temp"),
        (MONTECARLO.replace("[Teacup Temperature]", "[Teacup]"), ":8:11: ", "unknown output"),
        (MONTECARLO + "dt: 0\n", ":11:5: ", "'dt' must be positive, got 0"),
        (MONTECARLO.replace("stop", "start: 30\nstop"), ":11:7: ", "'stop' must not be before"),
        (MONTECARLO + "integration: rk3\n", ":11:14: ", "unknown method 'rk3'; use one of"),
    ],
)
def test_montecarlo_spec_errors_are_one_line_at_file_line_col(tmp_path, text, where, message):
    spec = write(tmp_path, "mc.yaml", text)
    code, out, err = cli("montecarlo", TEACUP, spec, "--out", str(tmp_path / "mc.nc"))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(spec + where), err
    assert message in err
    assert not (tmp_path / "mc.nc").exists()


@pytest.mark.usefixtures("no_runs")
@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (OAT.replace("method: oat", "method: fast"), ":2:9: ", "must be one of oat, sobol, morris"),
        (OAT.replace("low: 4", "low: 9"), ":4:17: ", "'low' (9) must be below 'high' (8)"),
        (OAT.replace("peak", "median"), ":7:12: ", "unknown summary statistic 'median'"),
        (OAT + "samples: 16\n", ":8:1: ", "'samples' does not apply to the oat method"),
        (OAT.replace("oat", "sobol") + "samples: 100\n", ":8:10: ", "power of two"),
        (OAT.replace("Infectious", "Infected"), ":6:9: ", "unknown output variable 'Infected'"),
        (OAT.replace("Contact Rate:", "Contact:"), ":4:3: ", "Contact"),
        (OAT + "window: [5]\n", ":8:9: ", "'window' must be [start, end]"),
    ],
)
def test_sensitivity_spec_errors_are_one_line_at_file_line_col(tmp_path, text, where, message):
    spec = write(tmp_path, "oat.yaml", text)
    code, out, err = cli("sensitivity", SIR, spec)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(spec + where), err
    assert message in err


@pytest.mark.usefixtures("no_runs")
def test_bad_output_files_are_refused_before_running(tmp_path) -> None:
    spec = write(tmp_path, "oat.yaml", OAT)
    code, _, err = cli("sensitivity", SIR, spec, "--plot", str(tmp_path / "t.docx"))
    assert code == 2 and "cannot write a plot as 'docx'" in err
    code, _, err = cli("sensitivity", SIR, spec, "--out", str(tmp_path / "t.json"))
    assert code == 2 and "cannot write a sensitivity table as '.json'" in err
    mc = write(tmp_path, "mc.yaml", MONTECARLO)
    code, _, err = cli("montecarlo", TEACUP, mc, "--out", str(tmp_path / "t.xlsx"))
    assert code == 2 and "cannot write Monte Carlo results" in err


def test_spec_readers_build_the_experiment(tmp_path) -> None:
    spec = read_montecarlo_spec(write(tmp_path, "mc.yaml", MONTECARLO))
    assert spec.distributions == {
        "Room Temperature": Normal(70.0, 5.0),
        "Characteristic Time": Triangular(5.0, 10.0, 20.0),
    }
    assert (spec.runs, spec.seed, spec.sampling, spec.percentiles) == (200, 7, "lhs", (10, 50, 90))
    assert spec.run_options == {"stop": 20.0}
    assert MonteCarloSpec.from_yaml(tmp_path / "mc.yaml") == spec
    open_ended = MONTECARLO.replace(
        "{normal: {mean: 70, sd: 5}}", "{truncated_normal: {mean: 70, sd: 5, low: 60, high: .inf}}"
    )
    room = read_montecarlo_spec(write(tmp_path, "open.yaml", open_ended)).distributions
    assert room["Room Temperature"].support == (60.0, math.inf)
    window = OAT.replace("statistic: peak", "statistic: mean\nwindow: [5, 10]")
    sens = SensitivitySpec.from_yaml(write(tmp_path, "s.yaml", window))
    assert sens.statistic == ("mean", 5.0, 10.0) and sens.method == "oat"


def test_shipped_example_specs_match_the_nhs_model() -> None:
    model = sd.load(NHS)
    mc = read_montecarlo_spec(EXAMPLES / "montecarlo_workforce.yaml")
    mc.validate(model)
    assert mc.runs >= 100 and mc.seed is not None and len(mc.distributions) >= 5
    methods = set()
    for path in sorted(EXAMPLES.glob("sensitivity_*.yaml")):
        spec = read_sensitivity_spec(path)
        spec.validate(model)
        methods.add(spec.method)
        for name, dist in spec.parameters.items():
            low, high = dist.bounds()
            assert low <= model.constants[name] <= high  # the base value lies in the range
    assert methods == {"oat", "sobol", "morris"}


def test_shipped_oat_example_runs(tmp_path) -> None:
    path = EXAMPLES / "sensitivity_waiting_list_oat.yaml"
    code, out, err = cli("sensitivity", str(NHS), str(path), "--out", str(tmp_path / "o.csv"))
    assert code == 0, err
    table = pd.read_csv(tmp_path / "o.csv", index_col="parameter")
    # more elective capacity growth -> a shorter list; more demand growth -> a longer one
    growth = table.loc["Elective capacity growth"]
    assert growth["output_high"] < growth["output_base"] < growth["output_low"]
    demand = table.loc["Elective demand growth"]
    assert demand["output_low"] < demand["output_base"] < demand["output_high"]


def test_unknown_parameter_error_keeps_its_type(tmp_path) -> None:
    spec = read_sensitivity_spec(
        write(tmp_path, "s.yaml", OAT.replace("Contact Rate:", "Contact:"))
    )
    with pytest.raises(UnknownNameError, match="s.yaml:4:3: "):
        spec.validate(sd.load(SIR))
    with pytest.raises(ModelSyntaxError, match="no such sensitivity spec file"):
        read_sensitivity_spec(tmp_path / "missing.yaml")


def test_ctrl_c_in_a_sobol_analysis_is_one_line_and_writes_nothing(tmp_path, ctrl_c_at_chunk):
    ctrl_c_at_chunk(2)
    spec = write(tmp_path, "sobol.yaml", OAT.replace("oat", "sobol") + "samples: 4096\n")
    code, out, err = cli("sensitivity", SIR, spec, "--out", str(tmp_path / "s.csv"))
    assert code == 130
    assert err.count("\n") == 1 and err.startswith("sdhealth: interrupted after "), err
    assert "the sobol analysis needs every run" in err
    assert not (tmp_path / "s.csv").exists()
