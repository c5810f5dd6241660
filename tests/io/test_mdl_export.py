"""Writing Vensim ``.mdl`` files with a diagram (sdhealth.io.mdl_sketch, Model.to_mdl, convert)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sdhealth as sd
from sdhealth.cli import main
from sdhealth.io.mdl import read_mdl
from sdhealth.io.mdl_sketch import model_to_mdl_text, sketch_text
from sdhealth.ir.model import Constant, Equation, Flow, Model, Stock, TimeSpec

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pysd


def _stock_model() -> Model:
    beds, stay = sympy.Symbol("beds"), sympy.Symbol("length of stay")
    return Model(
        "beds",
        TimeSpec(0, 6, 0.5, units="Month"),
        (
            Stock(
                name="Beds",
                initial=Equation.of(100),
                inflows=("Admissions",),
                outflows=("Discharges",),
                units="bed",
                doc="Occupied beds.",
                source="KH03",
            ),
            Flow(name="Admissions", equation=Equation.of(20), units="bed/Month"),
            Flow(name="Discharges", equation=Equation(beds / stay), units="bed/Month"),
            Constant(name="Length of stay", value=4, units="Month", source="HES 2023"),
        ),
    )


def test_sketch_draws_stocks_valves_pipes_and_links() -> None:
    lines = sketch_text(_stock_model()).splitlines()
    assert lines[0].startswith("\\\\\\---/// Sketch information")
    assert lines[-1] == "///---\\\\\\"
    records = [line.split(",") for line in lines[4:-1]]
    stocks = [r for r in records if r[0] == "10" and r[7] == "3"]
    valves = [r for r in records if r[0] == "11"]
    auxiliaries = [r for r in records if r[0] == "10" and r[7] == "8"]
    pipes = [r for r in records if r[0] == "1" and r[7] == "22"]
    links = [r for r in records if r[0] == "1" and r[7] != "22"]
    assert [r[2] for r in stocks] == ["Beds"] and len(valves) == 2
    assert [r[2] for r in auxiliaries] == ["Length of stay"]
    valve_ids = {r[1] for r in valves}
    assert {(r[2] in valve_ids, r[3]) for r in pipes} == {(True, stocks[0][1])}
    # Beds -> Discharges and Length of stay -> Discharges, both drawn to the valve.
    assert len(links) == 2 and all(r[3] in valve_ids for r in links)


def test_to_mdl_is_read_back_by_pysd_with_the_same_results(tmp_path: Path) -> None:
    model = sd.Model(_stock_model()) if hasattr(sd, "Model") else None
    assert model is not None
    path = tmp_path / "beds.mdl"
    model.to_mdl(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pysd.read_vensim(str(path)).run(return_columns=["Beds"])
    ours = model.run(backend="pysd")
    np.testing.assert_allclose(theirs["Beds"].to_numpy(), ours["Beds"].to_numpy(), rtol=1e-12)


def test_suite_model_round_trip_through_mdl_gives_the_same_run(
    tmp_path: Path, test_models_dir: Path
) -> None:
    original = sd.load(
        test_models_dir / "subscript_mapping_vensim" / "test_subscript_mapping_vensim.mdl"
    )
    path = tmp_path / "again.mdl"
    original.to_mdl(path)
    again = sd.load(path)
    first, second = original.run(backend="pysd"), again.run(backend="pysd")
    assert list(first.columns) == list(second.columns)
    np.testing.assert_allclose(first.to_numpy(), second.to_numpy(), rtol=1e-12)


def _floats(expr: sympy.Basic) -> sympy.Basic:
    """``expr`` with every number a float (Vensim text does not tell 1 from 1.0)."""
    return expr.xreplace({n: sympy.Float(n) for n in expr.atoms(sympy.Number)})


def _equations(model: Model) -> dict[str, tuple[object, ...]]:
    described = {}
    for v in model.variables:
        value = getattr(v, "value", None)
        exprs = tuple(_floats(e.expr) for e in v.equations())
        described[v.key] = (
            type(v).__name__,
            value,
            exprs,
            v.units,
            " ".join(v.doc.split()),
            v.source,
            getattr(v, "inflows", ()),
            getattr(v, "outflows", ()),
        )
    return described


def test_yaml_to_mdl_to_ir_keeps_equations_units_docs_and_sources(
    tmp_path: Path, models_dir: Path
) -> None:
    original = sd.load(models_dir / "teacup.yaml")
    path = tmp_path / "teacup.mdl"
    original.to_mdl(path)
    back = read_mdl(path)
    assert _equations(back) == _equations(original.ir)
    assert back.time == original.ir.time
    yaml_path = tmp_path / "teacup.yaml"
    sd.Model(back).to_yaml(yaml_path)
    assert _equations(sd.load(yaml_path).ir) == _equations(original.ir)


def test_convert_command_writes_mdl_and_rejects_unknown_targets(
    tmp_path: Path, models_dir: Path
) -> None:
    target = tmp_path / "sir.mdl"
    assert main(["convert", str(models_dir / "sir.yaml"), str(target)]) == 0
    assert "///---\\\\\\" in target.read_text(encoding="utf-8")
    assert main(["convert", str(models_dir / "sir.yaml"), str(tmp_path / "x.txt")]) == 2


_NAMES = st.from_regex(r"[A-Z][a-z]{2,8}( [a-z]{2,6})?", fullmatch=True)
_NUMBERS = st.floats(min_value=0.01, max_value=1000, allow_nan=False).map(lambda x: round(x, 4))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(_NAMES, min_size=3, max_size=3, unique_by=str.lower),
    values=st.tuples(_NUMBERS, _NUMBERS),
    units=st.sampled_from(["", "person", "bed/Month"]),
)
def test_generated_models_round_trip_through_mdl(
    tmp_path: Path, names: list[str], values: tuple[float, float], units: str
) -> None:
    stock, flow, constant = names
    model = Model(
        "generated",
        TimeSpec(0, 5, 0.25, units="Month"),
        (
            Stock(
                name=stock,
                initial=Equation.of(values[0]),
                outflows=(flow,),
                units=units,
                doc=f"The {stock}.",
            ),
            Flow(
                name=flow,
                equation=Equation(sympy.Symbol(stock.lower()) / sympy.Symbol(constant.lower())),
                units=units,
            ),
            Constant(name=constant, value=values[1], units="Month"),
        ),
    )
    path = tmp_path / (re.sub(r"\W", "_", stock) + ".mdl")
    path.write_text(model_to_mdl_text(model), encoding="utf-8")
    back = read_mdl(path)
    assert _equations(back) == _equations(model)
