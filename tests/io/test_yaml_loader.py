"""The YAML model format: strict loading with exact locations, shorthands, writing, round trips."""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sdhealth.analysis.checks import check_model
from sdhealth.errors import ModelError, ModelSyntaxError
from sdhealth.io.yaml import dump_yaml, load_yaml, model_from_yaml_text, model_to_yaml_text
from sdhealth.ir import functions as fn
from sdhealth.ir.functions import BUILTIN_SYMBOLS
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Equation,
    Extrapolation,
    Flow,
    Lookup,
    Model,
    Sector,
    SourceLocation,
    Stock,
    TimeSpec,
    symbol,
)
from sdhealth.ir.names import canonical

ROOT = Path(__file__).resolve().parents[2]

HEAD = "model: M\ntime: {stop: 10, dt: 1}\n"


def load(text: str) -> Model:
    return model_from_yaml_text(text, path="m.yaml")


def with_head(body: str) -> str:
    """A model file: a name and a clock, then ``body`` (dedented)."""
    return HEAD + textwrap.dedent(body)


def syntax_error(text: str) -> ModelSyntaxError:
    with pytest.raises(ModelSyntaxError) as info:
        load(text)
    return info.value


def docs_example() -> str:
    text = (ROOT / "docs" / "yaml-format.md").read_text()
    found = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert found is not None
    return found.group(1)


def without_locations(model: Model) -> Model:
    def strip(variable):
        changes = {"location": None}
        for field in ("initial", "equation"):
            if hasattr(variable, field):
                changes[field] = replace(getattr(variable, field), location=None)
        return replace(variable, **changes)

    return replace(model, path=None, variables=tuple(strip(v) for v in model.variables))


# ------------------------------------------------------------------------------ loading


def test_minimal_model_and_defaults():
    model = load(
        textwrap.dedent(
            """\
        model: Decay
        time: {stop: 10, dt: 0.5}
        stocks:
          Amount: {initial: 100, outflows: [Loss]}
        flows:
          Loss: Amount / Lifetime
        constants:
          Lifetime: 4
        """
        )
    )
    assert model.name == "Decay"
    assert model.time == TimeSpec(start=0.0, stop=10.0, dt=0.5, saveper=None, units="month")
    assert model.names == ("Amount", "Loss", "Lifetime")
    amount = model["amount"]
    assert isinstance(amount, Stock)
    assert amount.initial.expr == 100
    assert amount.inflows == () and amount.outflows == ("Loss",)
    assert amount.non_negative is False and amount.limits == (None, None)
    loss = model["Loss"]
    assert isinstance(loss, Flow)
    assert loss.equation.expr == symbol("Amount") / symbol("Lifetime")
    assert model["Lifetime"] == Constant(
        name="Lifetime", value=4.0, location=SourceLocation("m.yaml", 8, 3)
    )
    assert model.path == "m.yaml" and model.doc == "" and model.sectors == ()


def test_docs_example_loads_every_field():
    model = model_from_yaml_text(docs_example(), path="ward.yaml")
    assert model.name == "Ward"
    assert model.doc.startswith("One hospital ward.")
    assert model.time == TimeSpec(0, 24, 0.0625, 1, "month")
    assert model.sectors == (
        Sector("ward", "Inpatient beds and admissions"),
        Sector("demand", "Referrals from primary care"),
    )
    assert model.names == (
        "Inpatients", "Admissions", "Discharges", "Occupancy", "Referrals", "Beds",
        "Base referrals", "Referral surge", "Length of stay", "Effect of occupancy on admissions",
    )  # fmt: skip
    stock = model["Inpatients"]
    assert (stock.non_negative, stock.units, stock.sector, stock.limits) == (
        True, "patients", "ward", (0.0, None),
    )  # fmt: skip
    assert stock.inflows == ("Admissions",) and stock.outflows == ("Discharges",)
    assert stock.doc == "Patients in the ward's beds."
    assert model["Discharges"].units == ""  # shorthand: equation only
    referrals = model["Referrals"]
    assert referrals.equation.expr == symbol("Base referrals") * (
        1 + fn.STEP(symbol("Referral surge"), 6)
    )
    beds = model["Beds"]
    assert (beds.value, beds.source) == (25.0, "Ward establishment, 2024 (illustrative)")
    lookup = model["Effect of occupancy on admissions"]
    assert isinstance(lookup, Lookup)
    assert lookup.xs == (0.0, 0.85, 1.0, 1.1) and lookup.ys == (1.0, 1.0, 0.5, 0.0)
    assert lookup.extrapolation is Extrapolation.HOLD and lookup.units == "dmnl"


def test_shorthands_of_every_section():
    model = load(
        with_head(
            """\
        flows:
          Inflow: 3
        auxiliaries:
          Double: 2 * Inflow
        constants:
          Rate: -0.5
        lookups:
          Shape: [[0, 0], [1, 2]]
          Pasted: "([(0,0)-(2,4)],(0,1),(2,4))"
        """
        )
    )
    assert isinstance(model["Inflow"], Flow) and model["Inflow"].equation.expr == 3
    assert model["Inflow"].equation.text == "3"
    assert isinstance(model["Double"], Auxiliary)
    assert model["Double"].equation.expr == 2 * symbol("Inflow")
    assert model["Rate"].value == -0.5
    assert (model["Shape"].xs, model["Shape"].ys) == ((0.0, 1.0), (0.0, 2.0))
    assert (model["Pasted"].xs, model["Pasted"].ys) == ((0.0, 2.0), (1.0, 4.0))


def test_full_form_lookup_with_text_points_and_linear_extrapolation():
    model = load(
        with_head(
            """\
        lookups:
          Effect:
            points: (0, 1), (10, 0.5)
            extrapolation: linear
        """
        )
    )
    assert model["Effect"].xs == (0.0, 10.0)
    assert model["Effect"].extrapolation is Extrapolation.LINEAR


def test_numbers_keep_the_text_written():
    model = load(HEAD + "auxiliaries:\n  A: {equation: 1.5e3}\n  B: 0.125\n")
    assert model["A"].equation.text == "1.5e3" and float(model["A"].equation.expr) == 1500
    assert model["B"].equation.text == "0.125"


@pytest.mark.parametrize(
    ("definition", "text", "location"),
    [
        ("  A: x + y\n", "x + y", (4, 6, 0)),
        ("  A: {equation: x + y}\n", "x + y", (4, 17, 0)),
        ('  A: "x + y"\n', "x + y", (4, 7, 0)),
        ("  A: 'x + y'\n", "x + y", (4, 7, 0)),
        ("  A:\n    equation: x + y\n", "x + y", (5, 15, 0)),
        ("  A:\n    equation: |\n      x +\n        y\n", "x +\n  y\n", (6, 7, 6)),
        ("  A:\n    equation: >-\n      x +\n      y\n", "x +\ny", (6, 7, 6)),
        ("  A:\n    equation: >\n      x + y\n", "x + y\n", (6, 7, 0)),
        ("  A: x\n     +   y\n", "x\n+   y", (4, 6, 5)),
        ("  A: 42\n", "42", (4, 6, 0)),
    ],
)
def test_equation_text_and_where_it_begins(definition, text, location):
    model = load(HEAD + "auxiliaries:\n" + definition + "constants:\n  x: 1\n  y: 2\n")
    equation = model["A"].equation
    assert equation.text == text
    assert equation.expr == symbol("x") + symbol("y") or text == "42"
    assert equation.location == SourceLocation("m.yaml", *location)
    assert model["A"].location == SourceLocation("m.yaml", 4, 3)


@pytest.mark.parametrize(
    "definition",
    [
        "  A: x +\n    2 * Level\n",
        "  A:\n    equation: >-\n      x +\n      2 * Level\n",
        "  A:\n    equation: |\n      x\n      + 2 * Level\n",
        "  A: {equation: x\n  + 2 * Level}\n",
    ],
)
def test_names_on_continuation_lines_are_located_exactly(definition):
    model = load(HEAD + "auxiliaries:\n" + definition)
    source_lines = (HEAD + "auxiliaries:\n" + definition).splitlines()
    where = model["A"].equation.location_of("level")
    assert where is not None and where.line is not None and where.column is not None
    assert source_lines[where.line - 1][where.column - 1 :].startswith("Level")


def test_reference_locations_point_at_names():
    model = load(HEAD + "auxiliaries:\n  A: 'Drain + 2 * Level'\n")
    assert model["A"].equation.location_of("level") == SourceLocation("m.yaml", 4, 19)


@pytest.mark.parametrize(
    ("definition", "line", "column"),
    [
        ("  A: x + * y\n", 4, 10),
        ('  A: "x + * y"\n', 4, 11),
        ("  A:\n    equation: >-\n      x +\n        * y\n", 7, 9),
        ("  A:\n    equation: |\n      x +\n        * y\n", 7, 9),
        ("  A: x\n    + * y\n", 5, 7),
        ("  A: (x + y\n", 4, 12),
    ],
)
def test_equation_syntax_errors_point_at_the_character(definition, line, column):
    error = syntax_error(HEAD + "auxiliaries:\n" + definition)
    assert (error.path, error.line, error.column) == ("m.yaml", line, column)


def test_lookup_text_syntax_error_points_into_the_text():
    error = syntax_error(HEAD + "lookups:\n  L: '(0, 1), (2 3)'\n")
    assert (error.line, error.column) == (4, 18)


# ------------------------------------------------------------------------- strictness

BASE_STOCK = HEAD + "stocks:\n  S:\n    initial: 1\n"


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (
            HEAD + "stock:\n  S: {initial: 1}\n",
            3,
            1,
            "unknown key 'stock' in the model file (did you mean 'stocks'?)",
        ),
        (
            BASE_STOCK + "    inflow: []\n",
            6,
            5,
            "unknown key 'inflow' in stock 'S' (did you mean 'inflows'?)",
        ),
        (
            "model: M\ntime: {stop: 10, dt: 1, step: 2}\n",
            2,
            25,
            "unknown key 'step' in 'time'",
        ),
        (
            HEAD + "constants:\n  K: {value: 1, unit: x}\n",
            4,
            17,
            "unknown key 'unit' in constant 'K' (did you mean 'units'?)",
        ),
        (
            HEAD + "constants:\n  K: 1\n  L: 2\n  K: 3\n",
            6,
            3,
            "duplicate key 'K' (first written on line 4)",
        ),
        (
            HEAD + "constants:\n  Beds: 1\nauxiliaries:\n  beds: 2\n",
            6,
            3,
            "duplicate variable name 'beds' (same as 'Beds' on line 4",
        ),
        (
            HEAD + "constants:\n  Bed_count: 1\n  bed   COUNT: 2\n",
            5,
            3,
            "duplicate variable name 'bed   COUNT' (same as 'Bed_count' on line 4",
        ),
        ("model: M\ntime: {stop: 10, dt: abc}\n", 2, 22, "'dt' must be a number, got 'abc'"),
        ("model: M\ntime: {stop: 10, dt: 0}\n", 2, 22, "'dt' must be positive, got 0"),
        ("model: M\ntime: {stop: 10, dt: -0.5}\n", 2, 22, "'dt' must be positive, got -0.5"),
        (
            "model: M\ntime: {stop: 10, dt: 1, saveper: 0}\n",
            2,
            34,
            "'saveper' must be positive, got 0",
        ),
        (
            "model: M\ntime: {start: 5, stop: 1, dt: 1}\n",
            2,
            24,
            "'stop' (1) must not be before 'start' (5)",
        ),
        (
            "model: M\ntime:\n  dt: 1\n",
            2,
            1,
            "'time' is missing required key 'stop'",
        ),
        ("model: M\ntime: [1, 2]\n", 2, 7, "'time' must be a mapping, got a list"),
        ("time: {stop: 1, dt: 1}\n", 1, 1, "missing required key 'model'"),
        ("model: M\n", 1, 1, "missing required key 'time'"),
        ("model: 12\ntime: {stop: 1, dt: 1}\n", 1, 8, "'model' must be the model's name"),
        (
            HEAD + "stocks:\n  S:\n    outflows: []\n",
            4,
            3,
            "stock 'S' is missing required key 'initial'",
        ),
        (
            HEAD + "stocks:\n  S: 5\n",
            4,
            6,
            "stock 'S' must be a mapping with at least 'initial', got 5",
        ),
        (
            HEAD + "flows:\n  F:\n    units: x\n",
            4,
            3,
            "flow 'F' is missing required key 'equation'",
        ),
        (
            HEAD + "auxiliaries:\n  A: [1, 2]\n",
            4,
            6,
            "the equation of 'A' must be an equation (text or a number), got a list",
        ),
        (
            HEAD + "auxiliaries:\n  A: {equation: true}\n",
            4,
            17,
            "'equation' must be an equation (text or a number), got true",
        ),
        (
            HEAD + "constants:\n  K: {value: '70'}\n",
            4,
            14,
            "'value' must be a number, got '70'",
        ),
        (
            HEAD + "constants:\n  K: ten\n",
            4,
            6,
            "constant 'K' must be a number or a mapping with 'value', got 'ten'",
        ),
        (
            BASE_STOCK + "    non_negative: yes\n",
            6,
            19,
            "'non_negative' must be true or false, got 'yes'",
        ),
        (
            HEAD + "constants:\n  K: {value: 1, units: 1}\n",
            4,
            24,
            "'units' of 'K' must be text, got 1 (quote it: '1')",
        ),
        (
            HEAD + "constants:\n  K: {value: 1, limits: [0]}\n",
            4,
            25,
            "'limits' must be [min, max] with numbers or null for an open end, got a list",
        ),
        (
            HEAD + "constants:\n  K: {value: 1, limits: [0, high]}\n",
            4,
            29,
            "'limits' must be [min, max] with numbers or null for an open end, got 'high'",
        ),
        (
            HEAD + "constants:\n  K: {value: 1, limits: [5, 1]}\n",
            4,
            25,
            "'limits' minimum 5 is above the maximum 1",
        ),
        (
            HEAD + "sectors: {ward: Beds}\nconstants:\n  K: {value: 1, sector: wrd}\n",
            5,
            25,
            "unknown sector 'wrd' (did you mean 'ward'?)",
        ),
        (
            HEAD + "constants:\n  K: {value: 1, sector: ward}\n",
            4,
            25,
            "unknown sector 'ward' (declare it under 'sectors:')",
        ),
        (
            BASE_STOCK + "    inflows: [Admision]\nflows:\n  Admissions: 1\n",
            6,
            15,
            "unknown flow 'Admision' in stock 'S' (did you mean 'Admissions'?)",
        ),
        (
            BASE_STOCK + "    inflows: [A]\nauxiliaries:\n  A: 1\n",
            6,
            15,
            "'A' is an auxiliary, not a flow",
        ),
        (
            BASE_STOCK + "    inflows: [F, f]\nflows:\n  F: 1\n",
            6,
            18,
            "flow 'f' is listed twice in stock 'S'",
        ),
        (
            BASE_STOCK + "    inflows: [F]\n    outflows:\n      - F\nflows:\n  F: 1\n",
            8,
            9,
            "flow 'F' is listed twice in stock 'S'",
        ),
        (
            BASE_STOCK + "    inflows: F\nflows:\n  F: 1\n",
            6,
            14,
            "'inflows' must be a list of flow names, got 'F'",
        ),
        (
            HEAD + "lookups:\n  L: {points: [[0, 1], [2]]}\n",
            4,
            24,
            "the points of lookup 'L' must be a list of [x, y] pairs, got a list",
        ),
        (
            HEAD + "lookups:\n  L: {points: [[0, 1]], extrapolation: linaer}\n",
            4,
            40,
            "'extrapolation' must be one of hold, linear, got 'linaer' (did you mean",
        ),
        (HEAD + "constants:\n  Time: 3\n", 4, 3, "'Time' is a builtin name"),
        (HEAD + "constants:\n  12: 3\n", 4, 3, "variable names must be text, got 12"),
        (HEAD + "stocks: [a, b]\n", 3, 9, "'stocks' (names to definitions) must be a mapping"),
        (HEAD + "constants:\n  K: [1, 2\n", 5, 1, "invalid YAML"),
        ("model: M\n\ttime: 1\n", 2, 1, "invalid YAML"),
        ("model: M\ntime: {stop: .inf, dt: 1}\n", 2, 14, "'stop' must be a number, got inf"),
        ("", 1, 1, "the model file is empty"),
        ("- a\n- b\n", 1, 1, "a model file must be a mapping of keys, got a list"),
    ],
)
def test_strictness_errors_name_line_and_column(text, line, column, message):
    error = syntax_error(text)
    assert message in error.message
    assert (error.path, error.line, error.column) == ("m.yaml", line, column)
    assert str(error).startswith(f"m.yaml:{line}:{column}: ")


def test_missing_file_is_a_syntax_error_naming_it(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ModelSyntaxError, match="no such model file") as info:
        load_yaml(missing)
    assert info.value.path == str(missing)


def test_non_utf8_file_is_a_clear_error(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("model: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ModelSyntaxError, match="not UTF-8"):
        load_yaml(path)


# ------------------------------------------------------------------------------ writing


def test_written_text_is_the_full_form():
    model = load(
        with_head(
            """\
        sectors:
          ward:
        stocks:
          S: {initial: 180, outflows: [F], sector: ward, limits: [0, null]}
        flows:
          F: S / 2
        lookups:
          L: [[0, 1], [1, 0.5]]
        """
        )
    )
    assert model_to_yaml_text(model) == textwrap.dedent(
        """\
        model: M
        time: {start: 0, stop: 10, dt: 1, units: month}
        sectors:
          ward:
        stocks:
          S:
            initial: 180
            inflows: []
            outflows: [F]
            non_negative: false
            sector: ward
            limits: [0, null]
        flows:
          F:
            equation: S / 2
        lookups:
          L:
            points:
              - [0, 1]
              - [1, 0.5]
            extrapolation: hold
        """
    )


@pytest.mark.parametrize("name", ["teacup.yaml", "sir.yaml", "hospital_flow.yaml", "docs"])
def test_round_trip_gives_an_equal_model(name):
    if name == "docs":
        original = model_from_yaml_text(docs_example(), path="ward.yaml")
    else:
        original = load_yaml(ROOT / "models" / name)
    again = model_from_yaml_text(model_to_yaml_text(original), path="again.yaml")
    assert without_locations(again) == without_locations(original)
    assert model_to_yaml_text(again) == model_to_yaml_text(original)


def test_round_trip_keeps_multi_line_and_quoted_text():
    original = load(
        with_head(
            """\
        auxiliaries:
          A:
            equation: |
              x
                + 1
            doc: |
              Two
              lines.
          B: {equation: '"x" * 2  ', source: "a: b # c"}
          C: {equation: 1e3}
        constants:
          x: {value: 0.1, units: '1'}
        """
        )
    )
    again = model_from_yaml_text(model_to_yaml_text(original))
    assert without_locations(again) == without_locations(original)
    assert again["A"].equation.text == "x\n  + 1\n" and again["A"].doc == "Two\nlines.\n"
    assert again["C"].equation.text == "1e3" and again["x"].units == "1"


def test_equations_without_text_are_printed_in_vensim_syntax():
    x, level = symbol("Inflow rate"), symbol("G&A beds")
    model = Model(
        "Built",
        TimeSpec(0, 5, 0.25, units="day"),
        (
            Stock(name="G&A beds", initial=Equation.of(3), inflows=("Inflow rate",)),
            Flow(name="Inflow rate", equation=Equation(sympy.Max(0, 10 - level) / 2)),
            Auxiliary(name="Gate", equation=Equation(fn.STEP(x, 2))),
        ),
    )
    text = model_to_yaml_text(model)
    again = model_from_yaml_text(text)
    assert again["G&A beds"].initial.expr == 3
    assert (
        sympy.simplify(again["Inflow rate"].equation.expr - model["Inflow rate"].equation.expr) == 0
    )
    assert again["Gate"].equation.expr == fn.STEP(x, 2)
    assert again.time == model.time


def test_internal_variables_are_never_written():
    model = Model(
        "M",
        TimeSpec(0, 1, 1),
        (
            Stock(name="Level", initial=Equation.of(1)),
            Stock(name="smooth stage", initial=Equation.of(1), internal=True),
            Auxiliary(name="hidden", equation=Equation.of(2), internal=True),
            Flow(name="hidden flow", equation=Equation.of(2), internal=True),
        ),
    )
    text = model_to_yaml_text(model)
    assert "smooth stage" not in text and "hidden" not in text
    assert model_from_yaml_text(text).names == ("Level",)


def test_dump_yaml_writes_atomically_without_leftovers(tmp_path):
    model = load_yaml(ROOT / "models" / "teacup.yaml")
    target = tmp_path / "out.yaml"
    dump_yaml(model, target)
    assert without_locations(load_yaml(target)) == without_locations(replace(model))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.yaml"]


def test_failed_dump_leaves_the_old_file_and_no_temp_files(tmp_path):
    target = tmp_path / "out.yaml"
    target.write_text("model: old\n")
    arrayed = Model("A", variables=(Constant(name="K", value=1.0, dims=("Region",)),))
    with pytest.raises(ModelError, match="subscripted"):
        dump_yaml(arrayed, target)
    assert target.read_text() == "model: old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.yaml"]


DOCUMENTED_ERRORS = [
    ("    inflows: [Admissions]", "    inflow: [Admissions]"),
    ("dt: 0.0625", "dt: abc"),
    ("dt: 0.0625", "dt: 0"),
    ("  Referral surge:", "  beds: 30\n  Referral surge:"),
    ("  Referral surge:", "  Beds: 30\n  Referral surge:"),
    ("    initial: 20\n", ""),
    ("    inflows: [Admissions]", "    inflows: [Admision]"),
    ("    sector: ward\n    limits", "    sector: wrad\n    limits"),
    ("admissions(Occupancy)\n", "admissions(Occupancy\n"),
]


@pytest.mark.parametrize(("old", "new"), DOCUMENTED_ERRORS)
def test_errors_shown_in_the_docs_are_the_real_ones(old, new):
    example = docs_example()
    assert old in example
    with pytest.raises(ModelSyntaxError) as info:
        model_from_yaml_text(example.replace(old, new, 1), path="ward.yaml")
    assert f"| `{info.value}` |" in (ROOT / "docs" / "yaml-format.md").read_text()


# --------------------------------------------------------------------------- properties

_NAME_CHARS = "abcdeXYZ019 _&'$-:#()%,"
_names = st.text(_NAME_CHARS, min_size=1, max_size=12).filter(
    lambda n: n == n.strip() and canonical(n) and canonical(n) not in BUILTIN_SYMBOLS
)
_texts = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x85\u2028\u2029")
    | st.sampled_from("\n\t"),
    max_size=40,
)
_numbers = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@st.composite
def _models(draw: st.DrawFn) -> Model:
    names = draw(st.lists(_names, min_size=3, max_size=6, unique_by=canonical))
    level, rate, *params = names
    terms = [symbol(p) * draw(st.integers(1, 9)) for p in params] or [sympy.Integer(1)]
    variables = (
        Stock(
            name=level,
            initial=Equation.of(draw(st.integers(0, 500))),
            outflows=(rate,),
            non_negative=draw(st.booleans()),
            doc=draw(_texts),
            limits=(draw(st.none() | st.just(0.0)), None),
        ),
        Flow(name=rate, equation=Equation(symbol(level) / sympy.Add(*terms)), units=draw(_texts)),
        *(Constant(name=p, value=draw(_numbers), source=draw(_texts)) for p in params),
    )
    time = TimeSpec(
        0,
        draw(st.integers(1, 100)),
        draw(st.sampled_from([0.25, 1, 0.03125])),
        units=draw(_texts.filter(str.strip)),
    )
    return Model(draw(_names), time, variables, doc=draw(_texts))


@settings(max_examples=60, deadline=None)
@given(_models())
@example(
    Model(
        "0",
        TimeSpec(0, 1, 0.25, units="a: b"),
        (
            Stock(name="00", initial=Equation.of(0), outflows=(": 0",)),
            Flow(name=": 0", equation=Equation(symbol("00"))),
        ),
    )
)
def test_any_model_survives_a_round_trip(model):
    first = model_from_yaml_text(model_to_yaml_text(model))
    second = model_from_yaml_text(model_to_yaml_text(first))
    assert without_locations(second) == without_locations(first)
    assert first.names == model.names and first.time == model.time and first.doc == model.doc
    for before, after in zip(model.variables, first.variables, strict=True):
        assert (after.doc, after.units, after.source) == (before.doc, before.units, before.source)
        assert after.limits == before.limits
        for old, new in zip(before.equations(), after.equations(), strict=True):
            assert sympy.simplify(new.expr - old.expr) == 0
    constants = [v for v in model.variables if isinstance(v, Constant)]
    assert [first[c.name].value for c in constants] == [c.value for c in constants]


def test_sectors_used_but_not_declared_are_declared_when_written():
    model = Model("M", variables=(Constant(name="K", value=1.0, sector="ward"),))
    again = model_from_yaml_text(model_to_yaml_text(model))
    assert again.sectors == (Sector("ward", ""),) and again["K"].sector == "ward"


def test_docs_example_passes_the_checks():
    model = model_from_yaml_text(docs_example(), path="ward.yaml")
    assert list(check_model(model)) == []


# ---------------------------------------------------------------- declared link polarities

LINKED = """\
stocks:
  Queue: {initial: 5, inflows: [Arrivals], outflows: [Served]}
flows:
  Arrivals: 10
  Served:
    equation: MIN(Queue / Wait, Capacity)
    links: {queue: "+", Capacity: +, Wait: -1}
constants:
  Wait: 2
  Capacity: 4
"""


def test_links_are_read_as_declared_links_with_their_locations():
    from sdhealth.ir.model import DeclaredLink

    served = load(with_head(LINKED))["Served"]
    assert served.declared_links == (
        DeclaredLink("Queue", 1), DeclaredLink("Capacity", 1), DeclaredLink("Wait", -1),
    )  # fmt: skip
    assert [link.location for link in served.declared_links] == [
        SourceLocation("m.yaml", 9, 13),
        SourceLocation("m.yaml", 9, 25),
        SourceLocation("m.yaml", 9, 38),
    ]
    assert load(with_head(LINKED))["Arrivals"].declared_links == ()


@pytest.mark.parametrize(
    ("links", "column", "message"),
    [
        (
            "{Queue: up}",
            20,
            "the polarity of link 'Queue' -> 'Served' must be \"+\" or \"-\", got 'up'",
        ),
        (
            "{Queue: 2}",
            20,
            "the polarity of link 'Queue' -> 'Served' must be \"+\" or \"-\", got 2",
        ),
        ("{Queue: [1]}", 20, 'must be "+" or "-", got a list'),
        ("{Queue: }", 13, 'must be "+" or "-", got nothing'),
        (
            "{Qeue: +}",
            13,
            "unknown variable 'Qeue' in the links of 'Served' (did you mean 'Queue'?)",
        ),
        ("{Arrivals: +}", 13, "'Arrivals' does not appear in the equation of 'Served'"),
        ("{Shape: +}", 13, "'Shape' is a lookup, a table rather than a quantity"),
        ('{Queue: +, queue: "-"}', 23, "the link from 'Queue' is declared twice in 'Served'"),
        ("[Queue]", 12, "'links' of 'Served' (source names to \"+\" or \"-\") must be a mapping"),
    ],
)
def test_link_errors_name_line_and_column(links, column, message):
    text = with_head(LINKED).replace('{queue: "+", Capacity: +, Wait: -1}', links)
    error = syntax_error(text + "lookups:\n  Shape: [[0, 0], [1, 1]]\n")
    assert message in error.message
    assert (error.line, error.column) == (9, column)


def test_links_are_refused_where_nothing_declares_them():
    error = syntax_error(with_head(LINKED).replace("outflows: [Served]}", "links: {Wait: +}}"))
    assert error.message == (
        "stock 'Queue' cannot have 'links': a stock's links are its inflows (+) and outflows "
        "(-); declare link polarities under the flows and auxiliaries they point into"
    )
    assert (error.line, error.column) == (4, 44)
    error = syntax_error(with_head(LINKED).replace("  Wait: 2", "  Wait: {value: 2, links: {}}"))
    assert "constant 'Wait' cannot have 'links': nothing links into a constant" in error.message


def test_links_are_written_and_read_back():
    model = load(with_head(LINKED))
    text = model_to_yaml_text(model)
    assert '    links: {Queue: "+", Capacity: "+", Wait: "-"}\n' in text
    again = model_from_yaml_text(text)
    assert again["Served"].declared_links == model["Served"].declared_links
    assert without_locations(again) == without_locations(model)
    assert model_to_yaml_text(again) == text


def test_shipped_models_keep_their_declared_links_through_a_round_trip():
    for name in ("sir.yaml", "hospital_flow.yaml"):
        original = load_yaml(ROOT / "models" / name)
        again = model_from_yaml_text(model_to_yaml_text(original))
        declared = [(v.name, v.declared_links) for v in original.variables if v.declared_links]
        assert declared and declared == [
            (v.name, v.declared_links) for v in again.variables if v.declared_links
        ]
