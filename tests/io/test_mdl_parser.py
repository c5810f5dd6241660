"""sdhealth's own Vensim reader (io/mdl_parser.py) against PySD's translator, and on its own.

The comparison reads every ``.mdl`` file of the SDXorg suite, of ``test-models-more`` (where
present) and of ``models/`` through both front ends and asserts the IR models are equal: same
variables, equations, lookups, subscripts and clock, so any run of them is the same run.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd
from sdhealth.errors import ModelSyntaxError, SdhealthError
from sdhealth.io import syntax as ae
from sdhealth.io.mdl import read_mdl
from sdhealth.io.mdl_parser import parse_mdl

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
HEAD = "{UTF-8}\n"
CLOCK = (
    "INITIAL TIME = 0 ~ Month ~ |\nFINAL TIME = 4 ~ Month ~ |\n"
    "TIME STEP = 1 ~ Month ~ |\nSAVEPER = TIME STEP ~ Month ~ |\n"
)


def shared_test_models() -> Path:
    return Path(os.environ.get("SDHEALTH_TEST_MODELS", ROOT.parent / "shared" / "test-models"))


def _more_models() -> Path:
    default = shared_test_models().parent / "test-models-more"
    return Path(os.environ.get("SDHEALTH_MORE_MODELS", default))


def _files() -> list[Path]:
    files = sorted((shared_test_models() / "tests").glob("*/*.mdl"))
    files += sorted(_more_models().rglob("*.mdl"))
    return files + sorted(MODELS.glob("*.mdl"))


def _read(path: Path, front_end: str) -> sd.Model | str:
    """The model, or the error's class and text when the front end cannot read it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_mdl(path, front_end)
    except (SdhealthError, ValueError) as error:
        return f"{type(error).__name__}: {error}"


def test_both_front_ends_read_every_model_into_the_same_ir() -> None:
    files = _files()
    if len(files) < 100:
        pytest.skip(f"the SDXorg suite is not at {shared_test_models()} (set SDHEALTH_TEST_MODELS)")
    same, only_ours, both_fail, differ, ours_fail = [], [], [], [], []
    for path in files:
        theirs, ours = _read(path, "pysd"), _read(path, "sdhealth")
        if isinstance(theirs, str) and isinstance(ours, str):
            both_fail.append(path)
        elif isinstance(theirs, str):
            only_ours.append(path)
        elif isinstance(ours, str):
            ours_fail.append(f"{path}: {ours}")
        elif theirs != ours:
            pairs = zip(theirs.variables, ours.variables, strict=False)
            names = [a.name for a, b in pairs if a != b]
            differ.append(f"{path}: {names[:3] or 'the clock, subscripts or variable count'}")
        else:
            same.append(path)
    assert ours_fail == [], "PySD reads these, sdhealth's front end does not"
    assert differ == [], "the front ends read these differently"
    assert len(same) >= 140  # the SDXorg suite alone: 143 of its 144 .mdl files both read


def test_a_large_model_is_read_in_linear_time(tmp_path: Path) -> None:
    """A sum of 20,000 terms and 2,000 variables: no recursion per term, no quadratic step,
    neither in the parser nor in building the IR (summing pairwise took 12 s for 8,000 terms)."""
    lines = [f"x{i} = {i} ~ ~ |" for i in range(2000)]
    lines.append("total = " + " + ".join(f"x{i % 2000} * {i}" for i in range(20000)) + " ~ ~ |")
    path = tmp_path / "big.mdl"
    path.write_text(HEAD + "\n".join(lines) + "\n" + CLOCK, encoding="utf-8")
    started = time.perf_counter()
    abstract = parse_mdl(path.read_text(encoding="utf-8"), path)
    total = next(e for e in abstract.sections[0].elements if e.name == "total")
    assert len(total.components[0].ast.arguments) == 20000
    model = read_mdl(path)
    elapsed = time.perf_counter() - started
    assert len(model["total"].equation.expr.args) == 2000  # like terms collected
    assert elapsed < 30.0  # about 4 s on the development machine; generous for CI


def _ast(equation: str) -> object:
    text = HEAD + equation + " ~ ~ |\n" + CLOCK
    abstract = parse_mdl(text, Path("m.mdl"))
    return abstract.sections[0].elements[0].components[0].ast


def test_operators_are_read_in_pysds_shapes() -> None:
    assert _ast("x = -2^2") == ae.ArithmeticStructure(["^"], (-2, 2))  # a negative literal
    negated = ae.ArithmeticStructure(["negative"], (ae.ArithmeticStructure(["^"], (R("a"), 2)),))
    assert _ast("x = -a^2") == negated
    assert _ast("x = a - b * c") == ae.ArithmeticStructure(
        ["-"], (R("a"), ae.ArithmeticStructure(["*"], (R("b"), R("c"))))
    )
    assert _ast("x = a :AND: b :or: :NOT: c > 1") == ae.LogicStructure(
        [":AND:", ":OR:"],
        (R("a"), R("b"), ae.LogicStructure([":NOT:"], (ae.LogicStructure([">"], (R("c"), 1)),))),
    )
    assert _ast("x = 1.5e3") == 1500.0 and _ast("x = 7") == 7 and isinstance(_ast("x = 7"), int)
    assert np.isnan(_ast("x = :NA:"))


def R(name: str, subscripts: list[str] | None = None) -> ae.ReferenceStructure:  # noqa: N802
    return ae.ReferenceStructure(
        name, ae.SubscriptsReferenceStructure(subscripts) if subscripts else None
    )


def test_names_calls_arrays_and_lookups() -> None:
    assert _ast('x = "Beds (G&A)"[Region !, b] * Stage\\\n\t time') == ae.ArithmeticStructure(
        ["*"], (R('"beds_(g&a)"', ["Region!", "b"]), R("stage_time"))
    )
    assert _ast("x = INTEG(a, 1)") == ae.IntegStructure(R("a"), 1)
    assert _ast("x = SMOOTH3I(a, 2, 0)") == ae.SmoothStructure(R("a"), 2, 0, 3)
    assert _ast("x = MAX(a, 0)") == ae.CallStructure(R("max"), (R("a"), 0))
    array = _ast("x[d] = 1, 2, 3; 4, 5, 6;")
    assert array.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    lookup = _ast("x = WITH LOOKUP(Time, ([(0,0)-(10,5)], (5, 2), (0, 1)))")
    assert lookup.argument == R("time")
    assert lookup.lookups.x == (0.0, 5.0) and lookup.lookups.y == (1.0, 2.0)
    assert lookup.lookups.x_limits == (0.0, 10.0) and lookup.lookups.y_limits == (0.0, 5.0)
    data = parse_mdl(HEAD + "d :INTERPOLATE: ~ ~ |\n" + CLOCK, Path("m.mdl"))
    [component] = data.sections[0].elements[0].components
    assert component.keyword == "interpolate" and isinstance(component.ast, ae.DataStructure)


def test_subscript_ranges_and_macros() -> None:
    text = (
        HEAD
        + ":MACRO: DOUBLE(input)\nDOUBLE = 2 * input ~ ~ |\n:END OF MACRO:\n"
        + "dim: (a1-a3), b -> other ~ ~ |\nsame <-> dim ~ ~ |\n"
        + "x[dim] :EXCEPT: [b] = DOUBLE(1) ~ widgets [0, ?, 1] ~ Twice one. |\n"
        + CLOCK
    )
    abstract = parse_mdl(text, Path("m.mdl"))
    main, macro = abstract.sections
    assert (macro.name, macro.params, macro.returns) == ("double", ["input"], [])
    assert [(r.name, r.subscripts, r.mapping) for r in main.subscripts] == [
        ("dim", ["a1", "a2", "a3", "b"], ["other"]),
        ("same", "dim", []),
    ]
    x = main.elements[0]
    assert (x.units, x.limits, x.documentation) == ("widgets", (0.0, None, 1.0), "Twice one.")
    assert x.components[0].subscripts == (["dim"], [["b"]])


@pytest.mark.parametrize(
    ("equation", "line", "column", "words"),
    [
        ("x = 1 +\n  * 2", 3, 3, "in 'x': expected a number, a name or '(', found '*'"),
        ("x = (1 + 2", 2, 11, "expected ')', found the end of the equation"),
        ("x = a # b", 2, 7, "unexpected character '#'"),
        ("x = INTEG(1)", 2, 5, "INTEG takes 2 to 3 arguments, not 1"),
        ("x = " + "(" * 3000 + "1" + ")" * 3000, 2, 55, "nested too deeply"),
        ("dim: (a3-a1) ~ ~ |", 2, 6, "must count upwards"),
        ("x + 1 ~ ~ |", 2, 3, "expected '=', '==', ':=', '(' or ':' after the name"),
    ],
)
def test_errors_name_the_file_line_and_column(
    tmp_path: Path, equation: str, line: int, column: int, words: str
) -> None:
    path = tmp_path / "bad.mdl"
    body = equation if equation.endswith("|") else equation + " ~ ~ |"
    path.write_text(HEAD + body + "\n" + CLOCK, encoding="utf-8")
    with pytest.raises(ModelSyntaxError) as caught:
        sd.load(path)
    error = caught.value
    assert (error.path, error.line, error.column) == (str(path), line, column), error
    assert words in error.message


def test_the_pysd_front_end_stays_available(tmp_path: Path) -> None:
    path = tmp_path / "m.mdl"
    path.write_text(HEAD + "x = 2 * Time ~ ~ |\n" + CLOCK, encoding="utf-8")
    ours, theirs = sd.load(path), sd.load(path, front_end="pysd")
    assert ours.ir == theirs.ir
    assert ours.run()["x"].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    with pytest.raises(SdhealthError, match="applies to Vensim and XMILE files"):
        sd.load(MODELS / "nhs_england.yaml", front_end="pysd")
    with pytest.raises(ValueError, match="front_end must be one of"):
        sd.load(path, front_end="vensim")


def test_comments_in_braces_are_white_space_and_may_nest(tmp_path: Path) -> None:
    """Vensim's ``{comments}`` (PySD cannot read them; SDEverywhere's ``comments`` model)."""
    path = tmp_path / "comments.mdl"
    path.write_text(
        HEAD
        + "DimA: A1, A2, A3 ~~|\n"
        + "a[DimA] = 0, {first} 1, {second ~ | with separators} 2 ~ ~ |\n"
        + "d = 8760 {\n  IF THEN ELSE(x, 8784 {leap year}, 8760 {normal})\n} ~ hours ~ |\n"
        + "e = 41 {first part} + 1 {second part} ~ ~ |\n"
        + CLOCK,
        encoding="utf-8",
    )
    row = sd.load(path).run().iloc[0]
    assert row.to_dict() == {"a[A1]": 0, "a[A2]": 1, "a[A3]": 2, "d": 8760, "e": 42}


def test_an_unclosed_comment_is_a_located_error_found_in_linear_time(tmp_path: Path) -> None:
    path = tmp_path / "bad.mdl"
    path.write_text(HEAD + "x = 1 {never closed ~ ~ |\n" + CLOCK, encoding="utf-8")
    with pytest.raises(ModelSyntaxError, match="without its closing") as caught:
        sd.load(path)
    assert (caught.value.line, caught.value.column) == (2, 7)
    started = time.perf_counter()
    with pytest.raises(ModelSyntaxError):
        parse_mdl(HEAD + "x = " + "{" * 200_000 + " ~ ~ |\n", path)
    with pytest.raises(ModelSyntaxError):
        parse_mdl(HEAD + "x = 1 " + "{}" * 200_000 + "+ ~ ~ |\n", path)
    assert time.perf_counter() - started < 5.0  # each brace is looked at once


def test_a_variable_without_an_equation_is_data_given_at_run_time(tmp_path: Path) -> None:
    """Vensim reads ``x ~~|`` as data from a run-time file; sdhealth names what it cannot run."""
    path = tmp_path / "data.mdl"
    path.write_text(HEAD + "Values[DimA\\\n  ]\n  ~~|\nDimA: A1, A2 ~~|\n" + CLOCK)
    abstract = parse_mdl(path.read_text(), path)
    [values] = [e for e in abstract.sections[0].elements if e.name == "Values"]
    assert isinstance(values.components[0].ast, ae.DataStructure)
    with pytest.raises(sd.ModelError, match="'Values'.*data given at run time"):
        sd.load(path)
