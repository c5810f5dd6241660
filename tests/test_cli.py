"""The command line, in-process through ``main(argv)`` (one subprocess smoke test at the end)."""

from __future__ import annotations

import io
import subprocess
import sys

import pandas as pd
import pytest

from sdhealth.cli import main


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


MISSPELT = (
    "model: Misspelt\n"
    "time: {start: 0, stop: 10, dt: 1}\n"
    "stocks:\n"
    "  Level:\n"
    "    initial: 10\n"
    "    outflows: [Drain]\n"
    "flows:\n"
    "  Drain:\n"
    "    equation: Level / Drain tme\n"
    "constants:\n"
    "  Drain time: 2\n"
)


def test_run_prints_summary_and_writes_csv_and_plot(models_dir, tmp_path):
    out_csv, out_png = tmp_path / "teacup.csv", tmp_path / "teacup.png"
    status, out, err = run_cli(
        "run", str(models_dir / "teacup.yaml"), "--out", str(out_csv), "--plot", str(out_png)
    )
    assert status == 0, err
    assert "simulated 0 to 30 minute" in out
    assert "Teacup Temperature" in out and "180" in out
    frame = pd.read_csv(out_csv, index_col=0)
    assert frame["Teacup Temperature"].iloc[0] == 180
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp*"))


def test_run_with_param_and_parquet(models_dir, tmp_path):
    target = tmp_path / "r.parquet"
    status, _, err = run_cli(
        "run",
        str(models_dir / "teacup.yaml"),
        "--param",
        "Room Temperature=20",
        "--out",
        str(target),
    )
    assert status == 0, err
    frame = pd.read_parquet(target)
    assert frame["Room Temperature"].iloc[0] == 20


def test_misspelt_name_is_one_line_with_location_and_exit_2(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(MISSPELT)
    status, out, err = run_cli("run", str(path))
    assert status == 2
    assert err.strip() == f"{path}:9:23: unknown name 'Drain tme' (did you mean 'Drain time'?)"
    assert "Traceback" not in err + out


def test_check_lists_issues_and_exits_2_on_errors(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(MISSPELT)
    status, out, _ = run_cli("check", str(path))
    assert status == 2
    assert f"{path}:9:23: unknown name 'Drain tme' (did you mean 'Drain time'?)" in out
    assert "1 error" in out


def test_check_clean_model_exits_0(models_dir):
    status, out, _ = run_cli("check", str(models_dir / "teacup.yaml"))
    assert status == 0, out


@pytest.mark.parametrize(
    "argv, message",
    [
        (("run", "nope.yaml"), "no such model file"),
        (("run", "model.txt"), "unknown model format"),
        (("run", "{models}/teacup.yaml", "--param", "Room Temperature"), "NAME=VALUE"),
        (("run", "{models}/teacup.yaml", "--param", "Room Temperature=warm"), "not a number"),
        (("run", "{models}/teacup.yaml", "--param", "Room Temprature=3"), "did you mean"),
        (("run", "{models}/teacup.yaml", "--out", "{tmp}/r.xlsx"), "cannot write results"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_user_errors_exit_2_with_one_line(argv, message, models_dir, tmp_path):
    args = [a.format(models=models_dir, tmp=tmp_path) for a in argv]
    status, _, err = run_cli(*args)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_syntax_error_in_equation_points_at_the_column(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(MISSPELT.replace("Level / Drain tme", "(Level / Drain time"))
    status, _, err = run_cli("run", str(path))
    assert status == 2
    assert err.startswith(f"{path}:9:")
    assert "Traceback" not in err


def test_failed_run_leaves_previous_results_untouched(tmp_path, models_dir):
    good = tmp_path / "r.csv"
    good.write_text("previous results\n")
    path = tmp_path / "m.yaml"
    path.write_text(MISSPELT)
    status, _, _ = run_cli("run", str(path), "--out", str(good))
    assert status == 2
    assert good.read_text() == "previous results\n"


def test_python_dash_m_smoke(models_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "sdhealth", "run", str(models_dir / "teacup.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Teacup Temperature" in proc.stdout


def test_loops_lists_sir_loops_with_polarity(models_dir, tmp_path):
    picture = tmp_path / "sir.png"
    status, out, err = run_cli("loops", str(models_dir / "sir.yaml"), "--plot", str(picture))
    assert status == 0, err
    assert "3 feedback loops" in out
    rows = [line.split()[:2] for line in out.splitlines()[2:5]]
    assert sorted(rows) == [["B1", "-"], ["B2", "-"], ["R1", "+"]]
    assert picture.read_bytes()[:4] == b"\x89PNG"


def test_loops_through_unknown_name_is_one_line(models_dir):
    status, _, err = run_cli("loops", str(models_dir / "sir.yaml"), "--through", "Infectd")
    assert status == 2
    assert "did you mean 'Infectious'" in err and len(err.strip().splitlines()) == 1


def test_teacup_has_one_balancing_loop_via_api(models_dir):
    import sdhealth as sd

    loops = sd.load(models_dir / "teacup.yaml").loops()
    assert [(lp.id, lp.polarity) for lp in loops] == [("B1", -1)]


REPORTED = """\
model: Decay
time: {stop: 24, dt: 1, units: month}
report:
  indicators: [Level, Drain]
  every: 12
  loops:
    B1 Draining: [Level, Drain]
    Missing: [Drain time, Level]
stocks:
  Level: {initial: 100, outflows: [Drain]}
flows:
  Drain: Level / Drain time
constants:
  Drain time: 4
"""


def test_run_prints_indicators_at_report_times_and_named_loops(tmp_path):
    path = tmp_path / "decay.yaml"
    path.write_text(REPORTED)
    status, out, err = run_cli("run", str(path))
    assert status == 0, err
    lines = out.splitlines()
    header = next(line for line in lines if "month 0" in line)
    assert header.split() == ["month", "0", "month", "12", "month", "24"]
    level = next(line for line in lines if line.startswith("Level"))
    # Euler: Level(t) = 100 * 0.75^t
    assert level.split()[1:] == ["100", f"{100 * 0.75**12:.4g}", f"{100 * 0.75**24:.4g}"]
    assert any(line.split()[:5] == ["B1", "Draining", "B", "(-)", "2"] for line in lines)
    assert any(line.split()[:3] == ["Missing", "not", "found"] for line in lines)


def test_run_without_loops_and_with_pysd_backend(tmp_path):
    path = tmp_path / "decay.yaml"
    path.write_text(REPORTED)
    status, out, err = run_cli("run", str(path), "--no-loops", "--backend", "pysd")
    assert status == 0, err
    assert "feedback loops" not in out


def test_loops_ends_with_the_models_named_loops(models_dir):
    """The NHS model has thousands of loops; its report's eight are traced and labelled."""
    status, out, err = run_cli("loops", str(models_dir / "nhs_england.yaml"))
    assert status == 0, err
    named = out.split("the model's named loops (report: loops):")[1].splitlines()
    rows = {line.split()[0]: line.split() for line in named[2:] if line.strip()}
    assert set(rows) == {"B1", "B2", "B3", "B4", "R1", "R2", "R3", "R4"}
    for key, row in rows.items():
        assert f"{key[0]} ({'-' if key[0] == 'B' else '+'})" in " ".join(row)
        assert row[-1].startswith(key[0]) and row[-1][1:].isdigit()  # its id in the listing


def test_dominance_prints_the_strongest_loops_per_period(models_dir, tmp_path):
    status, out, err = run_cli(
        "dominance", str(models_dir / "teacup.yaml"), "--every", "10",
        "--out", str(tmp_path / "d.csv"), "--plot", str(tmp_path / "d.png"),
    )  # fmt: skip
    assert status == 0, err
    rows = [line.split() for line in out.splitlines() if "B1 (B)" in line]
    assert [row[0] for row in rows] == ["0-10", "10-20", "20-30"]
    assert all(row[4] == "-1.000" for row in rows)  # an isolated balancing loop
    assert "dominant over the whole run (>= 50% of the change): B1" in out
    written = pd.read_csv(tmp_path / "d.csv", index_col=0)
    assert list(written.columns) == ["B1"] and written["B1"].iloc[1:].eq(-1).all()
    assert (tmp_path / "d.png").stat().st_size > 0


def test_dominance_errors_are_one_line(models_dir, tmp_path):
    status, _, err = run_cli("dominance", str(models_dir / "teacup.yaml"), "--top", "0")
    assert status == 2 and err.strip() == "--top must be at least 1"
    arrayed = tmp_path / "arrayed.yaml"
    arrayed.write_text(
        "model: A\ntime: {start: 0, stop: 2, dt: 1}\nsubscripts:\n  R: [a, b]\n"
        "constants:\n  K:\n    dims: [R]\n    definitions: ['K[R] = 1, 2']\n"
    )
    status, _, err = run_cli("dominance", str(arrayed))
    assert status == 2 and err.count("\n") == 1 and "without subscripts" in err


def test_dominance_of_a_model_without_loops_says_so(tmp_path):
    path = tmp_path / "open.yaml"
    path.write_text(
        "model: Open\ntime: {start: 0, stop: 4, dt: 1}\n"
        "stocks:\n  Level: {initial: 0, inflows: [Inflow], outflows: []}\nflows:\n  Inflow: 5\n"
    )
    status, out, err = run_cli("dominance", str(path), "--plot", str(tmp_path / "d.png"))
    assert status == 0, err
    assert out.strip() == "Open: no feedback loops, so no loop dominance (nothing written)"
    assert not (tmp_path / "d.png").exists()


def test_front_end_chooses_the_reader_of_vensim_files(models_dir, tmp_path):
    mdl = tmp_path / "teacup.mdl"
    code, _, _ = run_cli("convert", str(models_dir / "teacup.yaml"), str(mdl))
    assert code == 0
    ours = run_cli("run", str(mdl), "--out", str(tmp_path / "ours.csv"))
    theirs = run_cli("run", str(mdl), "--front-end", "pysd", "--out", str(tmp_path / "pysd.csv"))
    assert ours[0] == theirs[0] == 0
    assert pd.read_csv(tmp_path / "ours.csv").equals(pd.read_csv(tmp_path / "pysd.csv"))
    assert run_cli("check", str(mdl), "--front-end", "pysd")[0] == 0
    code, out, err = run_cli("run", str(models_dir / "teacup.yaml"), "--front-end", "pysd")
    assert code == 2
    assert "front_end='pysd' applies to Vensim and XMILE files" in out + err
    assert len((out + err).strip().splitlines()) == 1


def test_run_method_overrides_the_models_and_pysd_refuses_rk4_in_one_line(tmp_path):
    model = tmp_path / "growth.yaml"
    model.write_text(
        "model: Growth\ntime: {start: 0, stop: 1, dt: 1, method: rk4}\n"
        "stocks:\n  Level:\n    initial: 1\n    inflows: [Growth]\n"
        "flows:\n  Growth:\n    equation: Level\n",
        encoding="utf-8",
    )
    out_csv = tmp_path / "r.csv"
    status, _, err = run_cli("run", str(model), "--no-loops", "--out", str(out_csv))
    assert status == 0, err
    assert pd.read_csv(out_csv, index_col=0)["Level"].iloc[-1] == pytest.approx(65 / 24)
    status, _, err = run_cli(
        "run", str(model), "--no-loops", "--method", "euler", "--out", str(out_csv)
    )
    assert status == 0, err
    assert pd.read_csv(out_csv, index_col=0)["Level"].iloc[-1] == 2.0
    status, _, err = run_cli("run", str(model), "--no-loops", "--backend", "pysd")
    assert status == 2 and "method='rk4'" in err and len(err.strip().splitlines()) == 1
