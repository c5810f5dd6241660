"""The HTML model report: its sections, embedded pictures, escaping and the command."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import sdhealth as sd
from sdhealth.cli import main
from sdhealth.report.html_report import report_html, write_report

MODELS = Path(__file__).resolve().parents[2] / "models"

HOSTILE = """\
model: "<script>alert('x')</script> Ward & co"
description: "A <b>bold</b> claim"
time: {start: 0, stop: 10, dt: 0.5}
stocks:
  Patients: {initial: 50, inflows: [Admissions], outflows: [Discharges]}
flows:
  Admissions: 10
  Discharges: Patients / Stay
constants:
  Stay: {value: 4, units: day, source: "<i>audit</i> 2024"}
"""


def test_the_report_has_every_section_and_its_pictures() -> None:
    text = report_html(sd.load(MODELS / "sir.yaml"))
    for heading in (
        "<h2>Checks</h2>", "<h2>Stocks over the run</h2>", "<h2>Stocks (3)</h2>",
        "<h2>Parameters (", "<h2>Feedback loops</h2>", "<h2>Loop dominance</h2>",
    ):  # fmt: skip
        assert heading in text, heading
    assert text.count('src="data:image/png;base64,') == 3  # indicators, diagram, dominance
    assert "3 feedback loops: 1 reinforcing, 2 balancing." in text
    assert "<td>R1 (R)</td>" in text  # the dominance table
    assert "<script" not in text and "http" not in text.split("<body>")[1]  # self-contained


def test_model_text_is_escaped(tmp_path) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE)
    text = report_html(sd.load(path), dominance=False)
    assert "<script>" not in text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and "&lt;i&gt;audit&lt;/i&gt; 2024" in text
    assert "Ward &amp; co" in text
    assert "<h2>Loop dominance</h2>" not in text


def test_the_run_settings_are_stated_and_named_loops_listed(tmp_path) -> None:
    model = sd.load(MODELS / "nhs_england.yaml")
    scenario = MODELS / "nhs_england" / "scenarios" / "P2_bed_cut.yaml"
    text = report_html(model, params={"Nurse leaver rate when rested": 0.09},
                       scenario=scenario, dominance=False)  # fmt: skip
    assert "P2_bed_cut.yaml" in text and "Nurse leaver rate when rested = 0.09" in text
    assert "<h3>The model&#x27;s named loops</h3>" in text
    assert "<td>R3 Burnout and attrition</td>" in text
    assert "The diagram shows the variables of the loops listed above." in text


def test_write_report_is_atomic_and_refuses_other_suffixes(tmp_path) -> None:
    target = tmp_path / "teacup.html"
    write_report(sd.load(MODELS / "teacup.yaml"), target, dominance=False)
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(sd.SdhealthError, match="use .html"):
        write_report(sd.load(MODELS / "teacup.yaml"), tmp_path / "teacup.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["teacup.html"]


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def test_the_report_command(tmp_path) -> None:
    target = tmp_path / "r.html"
    code, out, err = _cli("report", str(MODELS / "teacup.yaml"), "--out", str(target))
    assert code == 0, err
    assert out.strip() == f"report written to {target}" and target.stat().st_size > 10_000
    code, _, err = _cli("report", str(MODELS / "teacup.yaml"), "--out", str(tmp_path / "r.txt"))
    assert code == 2 and err.count("\n") == 1 and "use one of .html, .htm" in err
    assert not (tmp_path / "r.txt").exists()
