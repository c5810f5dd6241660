"""Subscripted models and computed clocks in the YAML format (sdhealth.io.yaml_arrays).

Reading (``subscripts:``, ``dims:``, ``definitions:``, clock equations), errors with
file:line:col, writing, and round trips: hand-written models, and every SDXorg model that
imports, written as YAML and read back (the IR kept; the check runs in the suite's shared pass,
:func:`sdxorg.yaml_round_trip`), some of them also run through PySD both ways.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy.core.symbol import Str

import sdhealth as sd
from sdhealth.cli import main
from sdhealth.errors import ModelSyntaxError
from sdhealth.io.mdl import read_mdl
from sdhealth.io.yaml import model_from_yaml_text, model_to_yaml_text
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Definition,
    Equation,
    Model,
    Stock,
    Subscript,
    TimeSpec,
)
from sdxorg import VENSIM, XMILE, describe_model, suite_models, suite_outcomes

DOCS = Path(__file__).resolve().parents[2] / "docs" / "yaml-format.md"


def _docs_example() -> str:
    """The arrayed example of ``docs/yaml-format.md`` (the tests keep it true)."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Subscripts (arrays)") :]
    start = section.index("```yaml\n") + len("```yaml\n")
    return section[start : section.index("```\n", start)]


_REGIONS = _docs_example()


def _read(text: str) -> sd.Model:
    return model_from_yaml_text(text, path="regions.yaml")


def _error(text: str) -> str:
    with pytest.raises(ModelSyntaxError) as caught:
        _read(text)
    return str(caught.value)


# --------------------------------------------------------------------------- reading


def test_subscripts_dims_and_definitions_are_read() -> None:
    model = _read(_REGIONS)
    assert model.subscripts == (
        Subscript("Region", ("North", "South", "East")),
        Subscript("Coast", ("North", "South"), (), ("Region",)),
    )
    patients, arrivals, initial = model["Patients"], model["Arrivals"], model["Initial"]
    assert isinstance(patients, Stock) and patients.dims == ("Region",)
    assert patients.units == "patients" and patients.doc == "Patients in care, by region."
    assert [d.subscripts for d in arrivals.definitions] == [("North",), ("South",), ("East",)]
    assert isinstance(arrivals, Auxiliary)
    assert str(arrivals.definitions[0].equation.expr) == "10*LOOKUP(growth, @time)"
    assert isinstance(initial, Constant)
    assert [float(d.equation.expr) for d in initial.definitions] == [1.0, 2.0, 3.0]
    total = model["Total arrivals"].equation
    assert total.expr == fn.VENSIM_CALL(
        Str("SUM"), fn.SUBSCRIPT(sd.ir.symbol("Arrivals"), Str("Region!"))
    )
    assert (total.text, total.location.line, total.location.column) == (
        "SUM(Arrivals[Region!])",
        16,
        19,
    )
    ((setting, stop),) = model.time.equations
    assert setting == "final time" and stop.text == "IF THEN ELSE(Time < 5, 10, 12)"


def test_an_arrayed_model_runs_on_pysd_with_a_computed_final_time() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sd.Model(_read(_REGIONS)).run(backend="pysd")
    assert result.index[-1] == 12.0  # FINAL TIME moved from 10 to 12 at time 5
    assert result.loc[5.0, "Arrivals[North]"] == pytest.approx(15.0)
    assert result.loc[5.0, "Total arrivals"] == pytest.approx(15.0 + 5.0 + 8.0)
    assert result.loc[5.0, "Coastal arrivals[South]"] == pytest.approx(5.0)
    south = 2.0  # Euler: P += dt * (5 - P / 4)
    for _ in range(24):
        south += 0.5 * (5.0 - south / 4.0)
    assert result.loc[12.0, "Patients[South]"] == pytest.approx(south, rel=1e-12)


def test_writing_and_reading_back_keeps_the_arrayed_model() -> None:
    model = _read(_REGIONS)
    text = model_to_yaml_text(model)
    assert "      - Initial[Region] = 1, 2, 3\n" in text
    assert 'stop: "IF THEN ELSE(Time < 5, 10, 12)"' in text
    assert "    mappings: [Region]\n" in text
    assert describe_model(_read(text)) == describe_model(model)


def test_except_subranges_and_arrayed_lookups_round_trip() -> None:
    text = """\
model: Except
time: {stop: 2, dt: 1, saveper: "TIME STEP * 2"}
subscripts:
  Dim: [A, B, C]
  Sub: {elements: [B, C]}
auxiliaries:
  Value:
    dims: [Dim]
    definitions:
      - "Value[Dim] :EXCEPT: [B] = Table[Dim](Time)"   # quoted: ': ' is YAML syntax
      - Value[B] = 0
lookups:
  Table:
    dims: [Dim]
    definitions:
      - Table[A]((0,0),(2,2))
      - Table[Sub]((0,1),(2,3))
"""
    model = _read(text)
    value = model["Value"]
    assert value.definitions[0].excepts == (("B",),)
    assert [d.points for d in model["Table"].definitions] == [
        ((0.0, 2.0), (0.0, 2.0)),
        ((0.0, 2.0), (1.0, 3.0)),
    ]
    assert model.time.equation("saveper").text == "TIME STEP * 2"
    assert describe_model(_read(model_to_yaml_text(model))) == describe_model(model)


def test_a_vensim_only_function_is_read_by_pysd() -> None:
    text = """\
model: Active
time: {stop: 4, dt: 1}
auxiliaries:
  Level: ACTIVE INITIAL(Time * 2, 45)
"""
    model = _read(text)
    assert model["Level"].equation.expr == fn.VENSIM_CALL(Str("ACTIVE INITIAL"), 2 * fn.TIME, 45)
    assert model["Level"].equation.text == "ACTIVE INITIAL(Time * 2, 45)"


def test_a_typo_keeps_sdhealths_own_error() -> None:
    text = "model: M\ntime: {stop: 4, dt: 1}\nauxiliaries:\n  x: SMOTH(1, 2)\n"
    assert _error(text) == "regions.yaml:4:6: unknown function 'SMOTH' (did you mean 'SMOOTH'?)"


# --------------------------------------------------------------------------- errors


_ERROR_CASES = [
    pytest.param(*case)
    for case in [
        (
            "  Arrivals:\n    dims: [Region]",
            "  Arrivals:\n    dims: [Regoin]",
            "regions.yaml:19:12: unknown range 'Regoin' in the dims of 'Arrivals' "
            "(did you mean 'Region'?)",
        ),
        (
            "Arrivals[South] = 5",
            "Arrivals[Sooth] = 5",
            "regions.yaml:22:18: unknown subscript 'Sooth' in 'Arrivals' (did you mean 'South'?)",
        ),
        (
            "Coastal arrivals[Coast] = Arrivals[Coast]",
            "Coastal arrivals[Coast] = Arrivals[Caost]",
            "regions.yaml:28:44: unknown subscript 'Caost' in 'Coastal arrivals' "
            "(did you mean 'Coast'?)",
        ),
        (
            "Arrivals[East] = 2 * Stay",
            "Arrivals[East] = 2 * Stya",
            "regions.yaml:23:30: unknown name 'Stya' in the equation of 'Arrivals' "
            "(did you mean 'Stay'?)",
        ),
        (
            "Arrivals[East] = 2 * Stay",
            "Arrivals[East] = 2 * (Stay",
            "regions.yaml:23:",
        ),
        (
            "      - Arrivals[South] = 5",
            "      - Arrival[South] = 5",
            "regions.yaml:22:9: a definition of 'Arrivals' must start with its name "
            "(Arrivals[...] = ...), got 'Arrival'",
        ),
        (
            "Region: [North, South, East]",
            "Region: [North, South, North]",
            "regions.yaml:4:26: element 'North' is listed twice",
        ),
        (
            "mappings: [Region]",
            "mappings: [Regions]",
            "regions.yaml:7:16: unknown range 'Regions' in the mappings of 'Coast' "
            "(did you mean 'Region'?)",
        ),
        (
            "    units: patients/month",
            "    units: patients/month\n    equation: 5",
            "regions.yaml:25:5: 'Arrivals' has both 'equation' and 'definitions': an arrayed "
            "variable is given by its definitions only",
        ),
        (
            "      - Arrivals[South] = 5",
            "      - Arrivals[South] = INTEG(1, 5)",
            "regions.yaml:21:9: cannot import 'Arrivals': a mix of INTEG, lookup and ordinary "
            "equations is not supported",
        ),
        (
            "Coastal arrivals[Coast] = Arrivals[Coast]",
            "Coastal arrivals[Coast] = INTEG(Arrivals[Coast], 0)",
            "regions.yaml:28:9: 'Coastal arrivals': definitions by INTEG make a stock: put it "
            "under 'stocks'",
        ),
        (
            "  Stay: 4\n",
            "  Stay: 4\n  Bad:\n    dims: [Region]\n",
            "regions.yaml:32:5: constant 'Bad' has 'dims' but no 'definitions' "
            "(its Vensim equations)",
        ),
    ]
]


@pytest.mark.parametrize(("old", "new", "message"), _ERROR_CASES)
def test_errors_point_at_the_file_line_and_column(old: str, new: str, message: str) -> None:
    assert old in _REGIONS
    assert _error(_REGIONS.replace(old, new, 1)).startswith(message)


def test_the_errors_shown_in_the_docs_are_the_real_ones() -> None:
    text = DOCS.read_text(encoding="utf-8")
    shown = re.findall(r"`(regions\.yaml:\d+:\d+: [^`]*)`", text)
    tested = {case.values[2] for case in _ERROR_CASES}
    assert len(shown) == 7 and set(shown) <= tested


# --------------------------------------------------------------------------- the SDXorg suite


def _suite_cases() -> list[object]:
    return [pytest.param(r, id=r) for r in suite_models(VENSIM) + suite_models(XMILE)]


@pytest.mark.parametrize("relative", _suite_cases())
def test_suite_model_survives_a_yaml_round_trip(relative: str, test_models_dir: Path) -> None:
    outcome = suite_outcomes()[relative]
    if outcome.pysd is not None and outcome.yaml == "not imported":
        pytest.skip(f"does not import: {outcome.pysd}")
    assert outcome.yaml is None, f"{relative}: {outcome.yaml}"


@pytest.mark.parametrize(
    "relative",
    [
        "subscript_2d_arrays/test_subscript_2d_arrays.mdl",
        "except/test_except.mdl",
        "subscript_mapping_simple/test_subscript_mapping_simple.mdl",
        "control_vars/test_control_vars.mdl",
    ],
)
def test_mdl_to_yaml_runs_as_the_mdl_on_pysd(
    relative: str, test_models_dir: Path, tmp_path: Path
) -> None:
    source = test_models_dir / relative
    folder = tmp_path / "model"
    shutil.copytree(source.parent, folder)
    target = folder / "converted.yaml"
    assert main(["convert", str(folder / source.name), str(target)]) == 0
    assert ("subscripts:" in target.read_text()) == ("control_vars" not in relative)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = sd.load(folder / source.name).run(backend="pysd")
        converted = sd.load(target).run(backend="pysd")
    assert sorted(converted.columns) == sorted(original.columns)  # YAML groups by kind
    converted = converted[original.columns]
    np.testing.assert_allclose(converted.to_numpy(), original.to_numpy(), rtol=1e-12)
    assert describe_model(read_mdl(folder / source.name)) == describe_model(sd.load(target).ir)


# --------------------------------------------------------------------------- properties

_ELEMENT = st.sampled_from(["North", "South", "East", "West", "Far North"])
_NUMBER = st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3))


@st.composite
def _arrayed_models(draw: st.DrawFn) -> Model:
    """A small arrayed model: a constant array, an auxiliary by element, an arrayed stock."""
    elements = tuple(draw(st.lists(_ELEMENT, min_size=1, max_size=4, unique=True)))
    region = Subscript("Region", elements)
    values = draw(st.lists(_NUMBER, min_size=len(elements), max_size=len(elements)))
    factor = _NUMBER.filter(lambda x: x not in (0.0, 1.0, -1.0))  # sympy folds 1.0*x to x
    factors = draw(st.lists(factor, min_size=len(elements), max_size=len(elements)))
    base = sd.ir.symbol("Base")
    constant = Constant(
        name="Base",
        value=values[0],
        dims=("Region",),
        definitions=tuple(
            Definition((e,), Equation.of(v)) for e, v in zip(elements, values, strict=True)
        ),
    )
    rate = [
        Definition((e,), Equation(f * fn.SUBSCRIPT(base, Str(e)) + fn.TIME))
        for e, f in zip(elements, factors, strict=True)
    ]
    auxiliary = Auxiliary(
        name="Rate", equation=rate[0].equation, dims=("Region",), definitions=tuple(rate)
    )
    level = fn.SUBSCRIPT(sd.ir.symbol("Rate"), Str("Region"))
    stock = Stock(
        name="Level",
        initial=Equation.of(draw(_NUMBER)),
        dims=("Region",),
        units=draw(st.sampled_from(["", "patients"])),
        definitions=(Definition(("Region",), Equation(level), Equation.of(1.5)),),
    )
    return Model("Arrays", TimeSpec(0, 4, 1), (stock, auxiliary, constant), (region,))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_arrayed_models())
def test_any_arrayed_model_survives_a_round_trip(model: Model) -> None:
    text = model_to_yaml_text(model)
    first = model_from_yaml_text(text)
    assert model_to_yaml_text(first) == text
    again = describe_model(first)
    expected = describe_model(model)
    assert again.pop("level")[:-1] == expected.pop("level")[:-1]  # the initial value: 1.5
    assert again == expected


def test_links_are_declared_on_scalars_of_an_arrayed_model() -> None:
    text = _REGIONS.replace(
        "  Total arrivals: SUM(Arrivals[Region!])",
        '  Total arrivals:\n    equation: SUM(Arrivals[Region!])\n    links: {Arrivals: "+"}',
    )
    (link,) = _read(text)["Total arrivals"].declared_links
    assert (link.source, link.polarity) == ("Arrivals", 1)
    wrong = text.replace('links: {Arrivals: "+"}', 'links: {Stay: "+"}')
    assert _error(wrong).endswith("'Stay' does not appear in the equation of 'Total arrivals'")
