"""Literal errors and zero divisors found by check, and refused by run with the same words."""

from __future__ import annotations

from pathlib import Path

import pytest

import sdhealth as sd
from sdhealth.analysis.arithmetic import Undefined, float_value
from sdhealth.analysis.checks import check_model
from sdhealth.errors import ModelError, Severity
from sdhealth.io.expressions import parse_expression
from sdhealth.io.yaml import model_from_yaml_text

TEMPLATE = """\
model: Literal
time: {{start: 0, stop: 4, dt: 1}}
stocks:
  Stock:
    initial: 1
    inflows: [Inflow]
flows:
  Inflow:
    equation: {equation}
constants:
  Time constant: {constant}
"""


def issues_of(model, code: str) -> list:
    return [i for i in check_model(model, units=False, polarity=False) if i.code == code]


def literal_model(equation: str, constant: str = "2") -> str:
    return TEMPLATE.format(equation=equation, constant=constant)


@pytest.mark.parametrize(
    ("equation", "column", "words"),
    [
        ("Stock * 2 + 1/0", 28, "divides by zero"),
        ("Stock / (1 - 1)", 21, "divides by zero"),
        ("0 ^ -1 + Stock", 17, "divides by zero"),
        ("Stock + LN(0)", 23, "LN(0) is the logarithm of 0"),
        ("Stock + SQRT(-1)", 23, "SQRT(-1) is not a real number"),
        ("LN(-1) * Stock", 15, "LN(-1) is not a real number"),
        ("Stock + EXP(1000)", 23, "EXP(1000) overflows floating point"),
        ("Stock + 1e308 * 1e308", 23, "overflows floating point"),
        ("XIDZ(Stock, 0, 1/0)", 31, "divides by zero"),
        ("IF THEN ELSE(Time > 2, 1/0, Stock)", 39, "divides by zero"),
    ],
)
def test_a_literal_error_is_an_error_at_its_line_and_column(
    equation: str, column: int, words: str
) -> None:
    model = model_from_yaml_text(literal_model(equation), path="m.yaml")
    (issue,) = issues_of(model, "literal-error")
    assert issue.severity is Severity.ERROR and issue.code == "literal-error"
    assert (issue.path, issue.line, issue.column) == ("m.yaml", 9, column)
    assert words in issue.message and issue.message.startswith("'Inflow': ")


@pytest.mark.parametrize(
    "equation",
    [
        "Stock * 2 + 1",
        "ZIDZ(Stock, 0)",
        "XIDZ(1, 0, 5)",
        "Stock / Time constant",
        "MODULO(Stock, 3) + SQRT(4) + LN(1) + EXP(700)",
        "IF THEN ELSE(Stock > 1e300, 0, 1)",
        "SMOOTH(Stock, 2) / 1e-300",
    ],
)
def test_well_defined_numbers_are_no_literal_error(equation: str) -> None:
    model = model_from_yaml_text(literal_model(equation), path="m.yaml")
    assert issues_of(model, "literal-error") == []


def test_run_refuses_a_literal_error_with_the_message_check_gives(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(literal_model("Stock + LN(0)"))
    model = sd.load(path)
    (issue,) = [i for i in sd.check(path) if i.is_error]
    with pytest.raises(ModelError) as raised:
        model.run()
    assert str(issue) in str(raised.value)
    assert f"{path}:9:23:" in str(issue)


def test_every_error_check_reports_stops_run_and_units_findings_are_warnings(
    tmp_path: Path,
) -> None:
    """``check`` and ``run`` agree: units findings do not stop a run, so they are warnings."""
    text = literal_model("Stock / Time constant").replace(
        "  Time constant: 2", "  Time constant: {value: 2, units: people}"
    )
    path = tmp_path / "m.yaml"
    text = text.replace("    inflows: [Inflow]", "    inflows: [Inflow]\n    units: beds")
    path.write_text(text.replace("    equation: Stock", "    units: people\n    equation: Stock"))
    issues = sd.check(path)
    assert issues and all(not issue.is_error for issue in issues)
    assert {issue.code for issue in issues} == {"units"}
    assert all(str(issue).split(": ", 2)[1] == "warning" for issue in issues)
    assert len(sd.load(path).run()) == 5


@pytest.mark.parametrize(
    ("constant", "words"),
    [
        ("0", "'Inflow' divides by 'Time constant', which is 0; give it another value"),
        (
            "{value: 5, limits: [0, 10]}",
            "which can be 0 within the limits declared ('Time constant' is 5 with limits [0, 10])",
        ),
        (
            "{value: 5, limits: [-1, null]}",
            "within the limits declared ('Time constant' is 5 with limits [-1, inf])",
        ),
    ],
)
def test_a_divisor_that_can_be_zero_is_a_warning_at_its_mention(constant: str, words: str) -> None:
    text = literal_model("Stock / Time constant", constant)
    model = model_from_yaml_text(text, path="m.yaml")
    (issue,) = issues_of(model, "divisor-zero")
    assert issue.severity is Severity.WARNING and issue.code == "divisor-zero"
    assert (issue.line, issue.column) == (9, 23)
    assert words in issue.message


@pytest.mark.parametrize(
    "constant", ["5", "{value: 5, limits: [0.5, 10]}", "{value: -5, limits: [null, -1]}"]
)
def test_a_divisor_kept_away_from_zero_is_not_warned_about(constant: str) -> None:
    model = model_from_yaml_text(literal_model("Stock / Time constant", constant), path="m.yaml")
    assert issues_of(model, "divisor-zero") == []


def test_a_divisor_computed_from_constants_is_followed_through_auxiliaries() -> None:
    text = (
        literal_model("Stock / Gap", "3")
        + "  Other: 3\nauxiliaries:\n  Gap: Time constant - Other\n"
    )
    model = model_from_yaml_text(text, path="m.yaml")
    (issue,) = issues_of(model, "divisor-zero")
    assert "divides by 'Gap', which is 0 ('Other' is 3; 'Time constant' is 3)" in issue.message


def test_a_divisor_that_reads_a_stock_is_left_to_the_run() -> None:
    model = model_from_yaml_text(literal_model("1 / (Stock - 1)"), path="m.yaml")
    assert issues_of(model, "divisor-zero") == []


def test_a_zero_characteristic_time_is_named_by_check_before_the_run_fails(tmp_path: Path) -> None:
    teacup = Path(__file__).parents[2] / "models" / "teacup.yaml"
    text = teacup.read_text().replace("    value: 10\n", "    value: 0\n", 1)
    path = tmp_path / "teacup.yaml"
    path.write_text(text)
    (issue,) = sd.check(path)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "/ Characteristic Time" in t)
    assert str(issue).startswith(f"{path}:{line}:")
    assert "'Heat Loss to Room' divides by 'Characteristic Time', which is 0" in str(issue)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2 ^ 10", 1024.0), ("ABS(-3) + MIN(1, 2)", 4.0), ("MODULO(-7, 3)", 2.0), ("ZIDZ(1, 0)", 0)],
)
def test_number_expressions_evaluate_as_a_run_does(text: str, expected: float) -> None:
    assert float_value(parse_expression(text)) == expected


@pytest.mark.parametrize(
    ("text", "kind"),
    [("EXP(710)", "overflow"), ("1e200 * 1e200", "overflow"), ("(-8) ^ 0.5", "complex")],
)
def test_number_expressions_that_fail_in_doubles_are_undefined(text: str, kind: str) -> None:
    with pytest.raises(Undefined) as raised:
        float_value(parse_expression(text))
    assert raised.value.kind == kind
