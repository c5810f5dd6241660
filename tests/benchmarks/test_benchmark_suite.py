"""The benchmark suite shipped in the package (sdhealth.benchmarks) and ``sdhealth bench``."""

from __future__ import annotations

import io

import pytest

from sdhealth.backends.base import RunSpec, get_backend
from sdhealth.benchmarks import Row, chain_model, render
from sdhealth.cli import main


def test_chain_model_has_three_variables_per_stage_and_runs():
    model = chain_model(5, stop=2.0, dt=0.5)
    assert len(model.variables) == 3 * 5 + 4
    assert [s.name for s in model.stocks] == [f"Stage {k}" for k in range(1, 6)]
    result = get_backend("native").run(model, RunSpec.from_time(model.time), {})
    frame = result.to_frame()
    # Stage 1 starts at 1 and gains Arrivals - Transfer 2 = 10*50/55 - 1/2*50/52 per month
    arrivals = 10 * 50 / (50 + 5 % 7)
    transfer = 1 / 2 * 50 / (50 + 2)
    assert frame["Stage 1"].iloc[1] == pytest.approx(1 + 0.5 * (arrivals - transfer), rel=1e-12)


def test_chain_needs_a_stock():
    with pytest.raises(ValueError, match="at least one stock"):
        chain_model(0)


def test_render_reports_ratios_and_targets():
    rows = [
        Row("chain 1000", "native", "one run (kernel, arrays)", 0.01),
        Row("chain 1000", "PySD", "one run (DataFrame)", 20.0),
        Row("chain 1000", "pysimlin", "one run (one series)", 0.008),
        Row("chain 1000", "native", "load (warm, from disk)", 0.1),
    ]
    text = render(rows, ["note"])
    assert "| chain 1000 | PySD one run / native one run | 2,000x |" in text
    assert "| one run: native / pysimlin <= 1.5x | 1.25x | yes |" in text
    assert "| warm load < 0.2 s | 0.100 s | yes |" in text


def test_bench_command_runs_the_suite_in_process(tmp_path):
    out = io.StringIO()
    table = tmp_path / "bench.md"
    code = main(["bench", "--sizes", "3", "--batches", "1", "4", "--out", str(table)], out=out)
    assert code == 0
    text = out.getvalue()
    assert text.strip() == table.read_text(encoding="utf-8").strip()
    for engine, figure in [
        ("native", "compile (cold)"),
        ("native", "one run (kernel, arrays)"),
        ("native", "batch of 4"),
        ("PySD", "translate (cold)"),
    ]:
        assert f"| chain 3 | {engine} | {figure} | " in text
    assert "PySD one run / native one run" in text
    kernel_row = next(line for line in text.splitlines() if "one run (kernel, arrays)" in line)
    assert float(kernel_row.split("|")[4].split()[0]) > 0


def test_bench_rejects_a_size_below_one():
    err = io.StringIO()
    assert main(["bench", "--sizes", "0"], out=io.StringIO(), err=err) == 2
    assert "at least 1" in err.getvalue()
