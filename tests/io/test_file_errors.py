"""Bad input files never crash: every failure is an SdhealthError at path:line:col (issue 12)."""

from __future__ import annotations

import warnings

import pytest

import sdhealth as sd
from sdhealth.errors import ModelSyntaxError, SdhealthError
from sdhealth.io.mdl import read_mdl
from sdhealth.io.yaml import load_yaml, model_from_yaml_text
from sdhealth.ir.vensim import UnwritableExpression, model_to_vensim

HEAD = "model: M\ntime: {stop: 10, dt: 1}\n"
MDL_HEAD = (
    "{UTF-8}\nINITIAL TIME = 0 ~ Month ~ |\nFINAL TIME = 10 ~ Month ~ |\n"
    "TIME STEP = 1 ~ Month ~ |\nSAVEPER = TIME STEP ~ Month ~ |\n"
)


def test_invalid_utf8_in_yaml_is_located_at_the_first_bad_byte(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_bytes(b"model: M\ntime: {stop: 10, dt: 1}\nconstants:\n  C\xc3\xa9: 1\n  D\xff: 2\n")
    with pytest.raises(ModelSyntaxError) as caught:
        load_yaml(path)
    error = caught.value
    assert (error.path, error.line, error.column) == (str(path), 5, 4)
    assert error.message.startswith("invalid UTF-8 byte 0xff")


def test_invalid_utf8_in_mdl_is_located_at_the_first_bad_byte(tmp_path):
    path = tmp_path / "m.mdl"
    path.write_bytes(MDL_HEAD.encode() + b"x = 1 ~ ~ |\ny\xfe = 2 ~ ~ |\n")
    with pytest.raises(ModelSyntaxError) as caught:
        read_mdl(path)
    assert (caught.value.line, caught.value.column) == (7, 2)
    assert "invalid UTF-8 byte 0xfe" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        (HEAD + "constants:\n  A\x07: 1\n", 4, 4, "U+0007"),
        (HEAD + "constants:\n  A: [1, 2\n", 5, 1, "expected ',' or ']'"),
        (HEAD + "constants: {A: 1\n", 4, 1, "expected ',' or '}'"),
        (HEAD + "constants:\n  A: b: c\n", 4, 7, "mapping values are not allowed"),
        (HEAD + "constants:\n\tA: 1\n", 4, 1, "found character '\\t'"),
        (HEAD + "constants:\n  A: *nothing\n", 4, 6, "undefined alias"),
    ],
)
def test_yaml_reader_errors_are_one_located_line(text, line, column, words):
    with pytest.raises(ModelSyntaxError) as caught:
        model_from_yaml_text(text, path="m.yaml")
    error = caught.value
    assert (error.path, error.line, error.column) == ("m.yaml", line, column)
    assert words in error.message
    assert "\n" not in str(error)


@pytest.mark.parametrize("text", ["a: " + "[" * 5000 + "]" * 5000 + "\n", "a: 2020-13-45\n"])
def test_yaml_values_the_reader_cannot_build_are_syntax_errors(text):
    with pytest.raises(ModelSyntaxError) as caught:
        model_from_yaml_text(HEAD + text, path="m.yaml")
    assert str(caught.value).startswith("m.yaml: invalid YAML")


# -- .mdl files PySD cannot translate ------------------------------------------------------


@pytest.mark.parametrize(
    ("equation", "column", "words"),
    [
        ("x = ACTIVE INITIAL(FORECAST(), 1)", 20, "FORECAST takes 3 arguments, not 0"),
        ("x = INTEG(1)", 5, "INTEG takes 2 to 3 arguments, not 1"),  # too few arguments
        ("x = DELAY N(1, 2)", 5, "DELAY N takes 4 arguments, not 2"),
        ("x = STEP(1, 2, 3, 4)", 1, "STEP takes exactly 2 arguments"),  # too many arguments
        ("x = IF THEN ELSE(1, 2)", 1, "not enough values to unpack"),
    ],
)
def test_mdl_equations_that_cannot_be_read_name_the_variable(tmp_path, equation, column, words):
    path = tmp_path / "m.mdl"
    path.write_text(MDL_HEAD + "y = 1 ~ ~ |\n" + equation + " ~ ~ |\n")
    with pytest.raises(ModelSyntaxError) as caught:
        sd.load(path)
    error = caught.value
    assert (error.path, error.line, error.column) == (str(path), 7, column)
    assert "'x'" in error.message and words in error.message
    issues = sd.check(path)
    assert [(i.severity, i.code, i.line) for i in issues] == [(sd.Severity.ERROR, "syntax", 7)]


@pytest.mark.parametrize(
    "body",
    [
        MDL_HEAD + "x = (1 + 2 ~ ~ |\n",  # unbalanced parentheses
        MDL_HEAD + "x = 1 + ~ ~ |\n",
        MDL_HEAD + "x = 1 ~ ~ |\ny = INTEG(x, ",  # a truncated file
        "\x00\x01\x02 garbage ~~ | ~ \x7f",
    ],
)
def test_broken_mdl_text_is_a_located_syntax_error(tmp_path, body):
    path = tmp_path / "m.mdl"
    path.write_text(body)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SdhealthError) as caught:
            sd.load(path)
        issues = sd.check(path)
    assert str(path) in str(caught.value)
    assert issues and issues[0].is_error


def test_a_truncated_mdl_file_is_not_silently_shortened(tmp_path):
    path = tmp_path / "m.mdl"
    path.write_text(MDL_HEAD + "x = 1 ~ ~ |\ny = INTEG(x, ")
    with pytest.raises(ModelSyntaxError, match="ends inside an equation") as caught:
        sd.load(path)
    assert (caught.value.line, caught.value.column) == (7, 1)


# -- expressions Vensim has no text for ----------------------------------------------------


@pytest.mark.parametrize(
    ("equation", "reason"),
    [
        ("1/0", "evaluates to division by zero or LN(0) (zoo)"),
        ("0 ^ -1", "evaluates to division by zero or LN(0) (zoo)"),
        ("(1/0) * Time", "evaluates to division by zero or LN(0) (zoo)"),
    ],
)
def test_unwritable_expression_names_the_variable_and_its_line(equation, reason):
    text = (
        HEAD + f"stocks:\n  S: {{initial: 1, outflows: [Outflow]}}\nflows:\n  Outflow: {equation}\n"
    )
    model = model_from_yaml_text(text, path="m.yaml")
    with pytest.raises(UnwritableExpression) as caught:
        model_to_vensim(model)
    assert str(caught.value) == (
        f"m.yaml:6:12: 'Outflow' {reason}, which Vensim has no literal for;"
        " it cannot be written as Vensim"
    )
    assert isinstance(caught.value, SdhealthError)


@pytest.mark.parametrize(
    ("equation", "vensim"),
    [("LN(0)", "LN(0)"), ("SQRT(0 - 1)", "SQRT(-1)"), ("EXP(1e308)", "EXP(1e+308)")],
)
def test_maths_functions_of_bad_literals_are_written_as_written(equation, vensim):
    """The parser keeps ``LN(0)`` as written (``sd.check`` reports it, see
    tests/analysis/test_arithmetic.py), so Vensim gets the modeller's own text back."""
    text = HEAD + f"auxiliaries:\n  A: {equation}\n"
    written = model_to_vensim(model_from_yaml_text(text, path="m.yaml"))
    assert f"\nA=\n\t{vensim}\n" in written


def test_writing_an_unwritable_model_leaves_no_file(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(HEAD + "auxiliaries:\n  A: 1/0\n")
    target = tmp_path / "m.mdl"
    with pytest.raises(UnwritableExpression, match="4:6: 'A' evaluates to division by zero"):
        sd.load(path).to_mdl(target)
    assert not target.exists()
