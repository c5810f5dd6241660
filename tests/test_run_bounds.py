"""Runs are bounded: absurd clocks and oversized runs are refused before anything is allocated.

Each refusal must be quick (well under a second), a typed ``SdhealthError`` and name the
numbers and what to change (issue 12; :mod:`sdhealth.compile.run_size`).
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd
from sdhealth.backends.base import RunSpec, get_backend
from sdhealth.cli import main
from sdhealth.compile.run_size import (
    RunLimits,
    check_clock,
    ensure_run_fits,
    measure_run,
    output_width,
)
from sdhealth.errors import RunSettingsError, RunSizeError, SdhealthError

TEACUP = Path(__file__).resolve().parents[1] / "models" / "teacup.yaml"
QUICK = 1.0  # seconds: a refusal never runs anything

#: The clocks of issue 12 (and the fuzzer's), and what the message must say.
ABSURD = {
    "stop 1e308": ("{start: 0, stop: 1e308, dt: 0.125}", ["more than 1e308 time steps",
                                                          "stop 1e+308", "dt 0.125"]),
    "dt 1e-300": ("{start: 0, stop: 30, dt: 1e-300}", ["3e+301 time steps", "dt 1e-300"]),
    "dt 1e-9": ("{start: 0, stop: 30, dt: 1e-9}", ["30,000,000,001 time steps", "dt 1e-09"]),
    "stop 1e9": ("{start: 0, stop: 1e9, dt: 0.125}", ["8,000,000,001 time steps"]),
    "start -1e308": ("{start: -1e308, stop: 30, dt: 0.125}", ["more than 1e308 time steps",
                                                             "start -1e+308"]),
}  # fmt: skip


def teacup_with_clock(folder: Path, clock: str) -> Path:
    text = re.sub(r"(?m)^time: \{.*\}$", f"time: {clock}", TEACUP.read_text())
    path = folder / "teacup_clock.yaml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _default_limits(monkeypatch):
    monkeypatch.delenv("SDHEALTH_MAX_STEPS", raising=False)
    monkeypatch.delenv("SDHEALTH_MAX_RESULT_BYTES", raising=False)


@pytest.mark.parametrize("backend", ["native", "pysd"])
@pytest.mark.parametrize("case", list(ABSURD))
def test_absurd_clock_is_refused_quickly_with_the_numbers(tmp_path, case, backend):
    clock, expected = ABSURD[case]
    model = sd.load(teacup_with_clock(tmp_path, clock))
    began = time.perf_counter()
    with pytest.raises(RunSizeError) as error:
        model.run(backend=backend)
    assert time.perf_counter() - began < QUICK
    message = str(error.value)
    for part in expected + ["more than the limit of 10,000,000", "SDHEALTH_MAX_STEPS"]:
        assert part in message
    assert "\n" not in message


@pytest.mark.parametrize("case", list(ABSURD))
def test_check_reports_run_size(tmp_path, case):
    path = teacup_with_clock(tmp_path, ABSURD[case][0])
    began = time.perf_counter()
    issues = [i for i in sd.check(path) if i.code == "run-size"]
    assert time.perf_counter() - began < 5  # check also runs the other checks
    assert len(issues) == 1 and issues[0].is_error
    assert issues[0].path == str(path)
    for part in ABSURD[case][1]:
        assert part in issues[0].message


def test_check_cli_exits_with_user_error(tmp_path):
    path = teacup_with_clock(tmp_path, ABSURD["stop 1e9"][0])
    out, err = io.StringIO(), io.StringIO()
    status = main(["check", str(path)], out=out, err=err)
    assert status != 0
    assert "8,000,000,001 time steps" in out.getvalue()


def test_run_cli_refuses_in_one_line(tmp_path):
    path = teacup_with_clock(tmp_path, ABSURD["dt 1e-9"][0])
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", str(path), "--no-loops"], out=out, err=err) == 2
    assert "30,000,000,001 time steps" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_a_model_too_large_as_written_runs_with_a_shorter_clock(tmp_path):
    model = sd.load(teacup_with_clock(tmp_path, ABSURD["stop 1e9"][0]))
    frame = model.run(stop=10)
    assert frame.index[-1] == 10


@pytest.mark.parametrize(
    ("overrides", "error", "text"),
    [
        ({"stop": 1e9}, RunSizeError, "8,000,000,001 time steps"),
        ({"stop": float("inf")}, RunSettingsError, "stop must be a finite number, got inf"),
        ({"start": float("nan")}, SdhealthError, "nan"),
        ({"dt": 0}, SdhealthError, "dt must be positive, got 0"),
        ({"dt": -1}, SdhealthError, "dt must be positive, got -1"),
        ({"dt": float("nan")}, SdhealthError, "dt must be positive, got nan"),
        ({"start": 40}, SdhealthError, "is before start"),
        ({"saveper": 0}, SdhealthError, "saveper must be positive"),
    ],
)
def test_bad_clock_arguments_are_clean_errors(overrides, error, text):
    model = sd.load(TEACUP)
    began = time.perf_counter()
    with pytest.raises(error) as raised:
        model.run(**overrides)
    assert time.perf_counter() - began < QUICK
    assert text in str(raised.value)


def test_start_equal_to_stop_is_a_run_of_the_initial_values():
    frame = sd.load(TEACUP).run(start=0, stop=0)
    assert frame.index.tolist() == [0.0]


def test_a_clock_that_cannot_move_is_refused():
    with pytest.raises(RunSettingsError, match="too small to move the clock"):
        RunSpec(1e20, 1e20 + 1e6, 1.0)


def test_runspec_refuses_for_every_backend():
    with pytest.raises(RunSizeError, match="3e\\+301 time steps"):
        RunSpec(0, 30, 1e-300)
    with pytest.raises(RunSettingsError, match="finite"):
        RunSpec(0, float("inf"), 1)


@pytest.mark.parametrize("backend", ["native", "pysd"])
def test_result_memory_limit_names_the_numbers(monkeypatch, backend):
    monkeypatch.setenv("SDHEALTH_MAX_RESULT_BYTES", "1000")
    model = sd.load(TEACUP)
    with pytest.raises(RunSizeError) as error:
        model.run(backend=backend)
    message = str(error.value)
    assert "1 run x 241 saved times x 4 variables x 8 bytes" in message
    assert "more than the limit of 1 kB" in message
    for hint in ("saveper", "return_columns", "stop earlier", "SDHEALTH_MAX_RESULT_BYTES"):
        assert hint in message
    frame = model.run(backend=backend, return_columns=["Teacup Temperature"], saveper=1)
    assert frame.shape == (31, 1)  # 31 x 1 x 8 bytes fit


def test_step_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("SDHEALTH_MAX_STEPS", "100")
    with pytest.raises(RunSizeError, match="241 time steps .* limit of 100"):
        sd.load(TEACUP).run()
    monkeypatch.setenv("SDHEALTH_MAX_STEPS", "lots")
    with pytest.raises(RunSettingsError, match="SDHEALTH_MAX_STEPS='lots'"):
        sd.load(TEACUP).run()


def test_sweep_is_measured_as_runs_x_variables_x_times(tmp_path):
    # 8 million steps fit the step limit; 50 runs of them do not fit 2 GB.
    model = sd.load(teacup_with_clock(tmp_path, "{start: 0, stop: 1e6, dt: 0.125}"))
    began = time.perf_counter()
    with pytest.raises(RunSizeError) as error:
        model.sweep({"Room Temperature": list(range(50))})
    assert time.perf_counter() - began < QUICK
    message = str(error.value)
    assert "50 runs x 8,000,001 saved times x 4 variables x 8 bytes" in message
    assert "12.8 TB" not in message and "12.8 GB" in message
    assert "summary=" in message


def test_huge_grid_is_refused_before_its_table_is_built():
    model = sd.load(TEACUP)
    grid = {"Room Temperature": np.arange(100_000.0), "Characteristic Time": np.arange(1, 1e5)}
    began = time.perf_counter()
    with pytest.raises(RunSizeError, match="9,999,900,000 runs"):
        model.sweep(grid)
    assert time.perf_counter() - began < QUICK


def test_summaries_keep_a_large_sweep_small():
    # a sweep keeping statistics is measured by them, not by its time series
    full = measure_run(0, 1e6, 0.125, columns=4, runs=1000)
    summary = measure_run(0, 1e6, 0.125, columns=4, runs=1000, statistics=2)
    with pytest.raises(RunSizeError, match="1,000 runs x 8,000,001 saved times"):
        ensure_run_fits(full)
    ensure_run_fits(summary)
    assert summary.result_bytes == 1000 * 2 * 4 * 8
    dataset = sd.load(TEACUP).sweep({"Room Temperature": [60.0, 70.0]}, summary=["final", "peak"])
    assert dataset.sizes["run"] == 2


def test_batch_run_is_measured(monkeypatch):
    monkeypatch.setenv("SDHEALTH_MAX_RESULT_BYTES", "100000")
    model = sd.load(TEACUP)
    with pytest.raises(RunSizeError, match="30 runs"):
        model.run(params={"Room Temperature": np.linspace(50, 80, 30)})


def test_native_batch_checks_its_exact_output(monkeypatch):
    monkeypatch.setenv("SDHEALTH_MAX_RESULT_BYTES", "10000")
    ir = sd.load(TEACUP).ir
    spec = RunSpec.from_time(ir.time)
    matrix = np.full((10, 1), 70.0)
    with pytest.raises(RunSizeError, match="10 runs x 241 saved times x 4 variables"):
        get_backend("native").run_batch(ir, spec, ["Room Temperature"], matrix)


def test_polarity_grid_is_measured_first(tmp_path):
    from sdhealth.analysis.polarity import _save_grid

    model = sd.load(teacup_with_clock(tmp_path, ABSURD["start -1e308"][0]))
    with pytest.raises(RunSizeError):
        _save_grid(model.ir)


def test_measure_and_limits_directly():
    size = measure_run(0, 10, 0.5, 1, columns=3, runs=2)
    assert (size.steps, size.saved_times, size.result_bytes) == (21, 11, 528)
    ensure_run_fits(size, RunLimits(max_steps=21, max_result_bytes=528))
    with pytest.raises(RunSizeError):
        ensure_run_fits(size, RunLimits(max_steps=20))
    with pytest.raises(RunSettingsError):
        check_clock(0, 1, 1, float("nan"))
    assert output_width(sd.load(TEACUP).ir) == 4
