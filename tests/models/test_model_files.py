"""The shipped models load, are documented and sourced, and the teacup is the shared suite's teacup.

Behaviour (running the models) is tested elsewhere; here only what the files say.
"""

from __future__ import annotations

import math
import re
import shutil
import warnings
from pathlib import Path

import pytest
import sympy

from sdhealth.analysis.checks import check_model
from sdhealth.io.expressions import parse_expression
from sdhealth.io.yaml import load_yaml
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Auxiliary, Constant, Flow, Lookup, Model, Stock, symbol

MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = ["teacup.yaml", "sir.yaml", "hospital_flow.yaml"]
TEACUP_MDL = Path("case_sensitive_extension") / "teacup-upper.MDL"


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module", params=SHIPPED)
def shipped(request: pytest.FixtureRequest) -> Model:
    return load_yaml(MODELS / request.param)


def test_every_model_is_described_and_every_parameter_documented(shipped):
    assert len(shipped.doc) > 100
    for variable in shipped.variables:
        assert variable.doc, variable.name
        assert variable.units, variable.name
        if isinstance(variable, Constant | Lookup):
            assert variable.source, variable.name


def test_every_model_passes_the_checks_without_warnings(shipped):
    assert check_model(shipped) == []


def test_every_stock_flow_is_a_flow_of_the_model(shipped):
    flows = {v.key for v in shipped.variables if isinstance(v, Flow)}
    listed = [name for s in shipped.stocks for name in s.inflows + s.outflows]
    assert {shipped[name].key for name in listed} == flows


def test_every_name_an_equation_reads_is_defined(shipped):
    for variable in shipped.variables:
        for equation in variable.equations():
            for key in equation.free_keys:
                assert key in shipped, f"{variable.name} reads undefined {key!r}"


def _mdl_equation(mdl: str, name: str) -> str:
    found = re.search(rf"^{re.escape(name)}\s*=(.*?)~", mdl, re.M | re.S)
    assert found is not None, name
    return found.group(1)


@pytest.fixture(scope="module")
def teacup_pysd(tmp_path_factory, test_models_dir):
    """The suite's teacup as PySD reads it (translated in a temp copy, not in the suite)."""
    pysd = pytest.importorskip("pysd")
    copy = tmp_path_factory.mktemp("teacup") / "teacup-upper.mdl"
    shutil.copy(test_models_dir / TEACUP_MDL, copy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pysd.read_vensim(str(copy))


def test_teacup_numbers_units_and_limits_are_the_mdl_s(teacup_pysd):
    teacup = load_yaml(MODELS / "teacup.yaml")
    time = teacup_pysd.time
    assert (teacup.time.start, teacup.time.stop) == (time.initial_time(), time.final_time())
    assert (teacup.time.dt, teacup.time.save_every) == (time.time_step(), time.saveper())
    assert teacup.time.units == "minute"
    assert float(teacup["Teacup Temperature"].initial.expr) == teacup_pysd["Teacup Temperature"]
    for name in ("Characteristic Time", "Room Temperature"):
        assert teacup[name].value == teacup_pysd[name]
    rows = {row["Real Name"]: row for row in teacup_pysd.doc.to_dict("records")}
    for variable in teacup.variables:
        row = rows[variable.name]
        assert variable.units == row["Units"]
        assert words(variable.doc) == words(row["Comment"])
        expected = tuple(None if math.isnan(b) else b for b in row["Limits"])
        if variable.name == "Characteristic Time":  # the one deliberate change: it divides
            assert expected == (0, None)
            expected = (0.1, None)
        assert variable.limits == expected, variable.name


def test_teacup_equations_are_the_mdl_s(test_models_dir):
    mdl = (test_models_dir / TEACUP_MDL).read_text()
    teacup = load_yaml(MODELS / "teacup.yaml")
    heat_loss = teacup["Heat Loss to Room"]
    assert isinstance(heat_loss, Flow)
    assert heat_loss.equation.expr == parse_expression(_mdl_equation(mdl, "Heat Loss to Room"))
    # Teacup Temperature= INTEG(-Heat Loss to Room, 180): one outflow, no inflow.
    stock = teacup["Teacup Temperature"]
    assert (stock.inflows, stock.outflows) == ((), ("Heat Loss to Room",))
    assert [v.name for v in teacup.variables] == [
        "Teacup Temperature", "Heat Loss to Room", "Characteristic Time", "Room Temperature",
    ]  # fmt: skip


def test_sir_structure():
    sir = load_yaml(MODELS / "sir.yaml")
    s, i, r = symbol("Susceptible"), symbol("Infectious"), symbol("Recovered")
    assert [v.name for v in sir.stocks] == ["Susceptible", "Infectious", "Recovered"]
    assert all(stock.non_negative for stock in sir.stocks)
    assert sir.time.units == "Day"
    infection = sir["Infection Rate"].equation.expr
    c, inf, n = symbol("Contact Rate"), symbol("Infectivity"), symbol("Total Population")
    assert sympy.simplify(infection - c * inf * s * i / n) == 0
    assert sir["Recovery Rate"].equation.expr == i / symbol("Duration of Infectivity")
    assert (sir["Infectious"].inflows, sir["Infectious"].outflows) == (
        ("Infection Rate",), ("Recovery Rate",),
    )  # fmt: skip
    assert sir["Recovered"].outflows == () and sir["Susceptible"].inflows == ()
    assert not any(isinstance(v, Auxiliary) for v in sir.variables)  # N is a constant
    r0 = sir["Contact Rate"].value * sir["Infectivity"].value
    assert r0 * sir["Duration of Infectivity"].value == pytest.approx(3.0)
    assert r not in infection.free_symbols


def test_hospital_flow_structure():
    model = load_yaml(MODELS / "hospital_flow.yaml")
    assert 4 <= len(model.stocks) <= 6
    assert all(stock.non_negative for stock in model.stocks)
    assert model.time.units == "month"
    sectors = {sector.name for sector in model.sectors}
    assert len(sectors) >= 2
    assert all(v.sector in sectors for v in model.variables if v.name != "Days per month")
    assert "Medically fit patients awaiting discharge" in model
    assert any(isinstance(v, Lookup) for v in model.variables)
    exprs = [eq.expr for v in model.variables for eq in v.equations()]
    assert any(fn.is_stateful(expr) for expr in exprs)
    assert any(expr.has(fn.LOOKUP) for expr in exprs)
    assert model["G&A beds"].value == 100_000
    assert model["Reference delayed discharges"].value == 13_000
    assert float(model["Medically fit patients awaiting discharge"].initial.expr) == 13_000
    # stocks start consistent with occupancy about 93% (Health Foundation, NHS Confederation)
    occupied = (
        sum(
            float(model[name].initial.expr)
            for name in ("Emergency inpatients", "Medically fit patients awaiting discharge")
        )
        + model["Elective inpatients"].value
    )
    assert occupied / model["G&A beds"].value == pytest.approx(0.93)


def test_hospital_flow_lookup_throttles_admissions_only_above_85_percent():
    lookup = load_yaml(MODELS / "hospital_flow.yaml")["Effect of occupancy on admissions"]
    assert isinstance(lookup, Lookup)
    assert all(b > a for a, b in zip(lookup.xs, lookup.xs[1:], strict=False))
    assert all(b <= a for a, b in zip(lookup.ys, lookup.ys[1:], strict=False))
    below = [y for x, y in zip(lookup.xs, lookup.ys, strict=True) if x <= 0.85]
    assert below and set(below) == {1.0}
    assert lookup.ys[-1] == 0.0


def test_stock_names_are_the_expected_ones():
    assert [s.name for s in load_yaml(MODELS / "hospital_flow.yaml").stocks] == [
        "Emergency inpatients",
        "Medically fit patients awaiting discharge",
        "Patients in care after discharge",
        "Care capacity",
    ]
    assert isinstance(load_yaml(MODELS / "teacup.yaml")["Teacup Temperature"], Stock)
