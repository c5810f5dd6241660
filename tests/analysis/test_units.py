"""Dimensional analysis (sdhealth.analysis.units): parsing, inference and the unit checks."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from sdhealth.analysis.units import (
    DIMENSIONLESS,
    Units,
    check_units,
    format_units,
    infer_units,
    parse_units,
)
from sdhealth.errors import ModelSyntaxError, Severity
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Equation,
    Flow,
    Lookup,
    Model,
    SourceLocation,
    Stock,
    TimeSpec,
    symbol,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("people", {"person": 1}),
        ("Persons", {"person": 1}),
        ("person", {"person": 1}),
        ("people/month", {"person": 1, "month": -1}),
        ("People/Months", {"person": 1, "month": -1}),
        ("1/month", {"month": -1}),
        ("Degrees Fahrenheit/Minute", {"degree fahrenheit": 1, "minute": -1}),
        ("beds*month/patient", {"bed": 1, "month": 1, "patient": -1}),
        ("Beds * Months / Patients", {"bed": 1, "month": 1, "patient": -1}),
        ("FTEs/nurses", {"fte": 1, "nurse": -1}),
        ("Days/Week", {"day": 1, "week": -1}),
        ("hours*minutes/years", {"hour": 1, "minute": 1, "year": -1}),
        ("(person/month)^2", {"person": 2, "month": -2}),
        ("month^-1", {"month": -1}),
        ("person^(1/2)", {"person": Fraction(1, 2)}),
        ("$/(widget*Month)", {"$": 1, "widget": -1, "month": -1}),
        ("status", {"status": 1}),
        ("gas", {"gas": 1}),
        ("class", {"class": 1}),
        ("dmnl [0,1]", {}),
    ],
)
def test_parse_units_canonical_form(text, expected):
    assert parse_units(text) == expected


@pytest.mark.parametrize(
    "text", ["dmnl", "Dmnl", "Dimensionless", "fraction", "%", "percent", "1", "unitless"]
)
def test_dimensionless_spellings(text):
    assert parse_units(text) == DIMENSIONLESS
    assert parse_units(text).is_dimensionless


@pytest.mark.parametrize("text", ["", "   ", "[0,1]"])
def test_empty_units_are_unknown(text):
    assert parse_units(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "people//month",
            "cannot read units 'people//month': expected a unit name, found '/' at character 8",
        ),
        ("(people", "cannot read units '(people': expected ')' at the end"),
        (
            "people)",
            "cannot read units 'people)': expected '*', '/' or the end, found ')' at character 7",
        ),
        (
            "people^x",
            "cannot read units 'people^x': expected a number as exponent, found 'x' at character 8",
        ),
        (
            "1000*people",
            "cannot read units '1000*people': '1000' is a scale factor, not a unit "
            "(only 1 may stand alone, as in 1/month)",
        ),
    ],
)
def test_bad_unit_strings_raise_with_location(text, message):
    with pytest.raises(ModelSyntaxError) as caught:
        parse_units(text, SourceLocation("m.yaml", 12, 3))
    assert caught.value.message == message
    assert str(caught.value) == f"m.yaml:12:3: {message}"


def test_units_algebra_and_formatting():
    speed = parse_units("patients/month")
    assert speed * parse_units("months") == {"patient": 1}
    assert speed / speed == DIMENSIONLESS
    assert speed**2 == parse_units("(patient/month)^2")
    assert hash(speed) == hash(parse_units("Patient/Month"))
    assert format_units(speed) == "patient/month"
    assert format_units(parse_units("1/(month*bed)")) == "1/(bed*month)"
    assert format_units(DIMENSIONLESS) == "dmnl"
    assert format_units(parse_units("bed^(1/2)")) == "bed^(1/2)"
    assert repr(Units({"bed": 1})) == "Units('bed')"


def model_of(*variables, time_units: str = "Month") -> Model:
    return Model("m", time=TimeSpec(0, 10, 1, units=time_units), variables=variables, path="m.yaml")


UNITS_MODEL = model_of(
    Constant(name="Staff", value=10.0, units="nurses"),
    Constant(name="Rate", value=0.1, units="1/month"),
    Constant(name="Delay", value=2.0, units="months"),
    Constant(name="Weeks", value=2.0, units="weeks"),
    Constant(name="Mystery", value=2.0),
    Constant(name="Share", value=0.5, units="dmnl"),
    Lookup(name="Effect", xs=(0.0, 1.0), ys=(1.0, 2.0), units="dmnl"),
    Lookup(name="Beds per nurse", xs=(0.0, 1.0), ys=(1.0, 2.0), units="beds/nurse"),
)
S = symbol


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (S("Staff") * S("Rate"), "nurse/month"),
        (2 * S("Staff") * S("Rate") / 12, "nurse/month"),
        (S("Staff") + 5, "nurse"),
        (5 + S("Mystery"), None),
        (S("Staff") * S("Mystery"), None),
        (S("Staff") + S("Mystery"), "nurse"),
        (sympy.Integer(3), None),
        (S("Staff") ** 2 / S("Delay"), "nurse^2/month"),
        (sympy.sqrt(S("Staff")), "nurse^(1/2)"),
        (sympy.exp(-S("Rate") * S("Delay")), "dmnl"),
        (sympy.Max(S("Staff"), 0), "nurse"),
        (sympy.Piecewise((S("Staff"), S("Delay") > 1), (0, True)), "nurse"),
        (fn.TIME, "month"),
        (fn.TIME_STEP * S("Rate"), "dmnl"),
        (fn.STEP(S("Staff"), 3), "nurse"),
        (fn.RAMP(S("Staff") * S("Rate"), 1, 5), "nurse"),
        (fn.PULSE(1, 2), "dmnl"),
        (fn.DELAY3(S("Staff"), S("Delay")), "nurse"),
        (fn.SMOOTH_N(S("Staff"), 2, S("Staff"), 3), "nurse"),
        (fn.TREND(S("Staff"), S("Delay"), 0), "1/month"),
        (fn.FORECAST(S("Staff"), S("Delay"), 3), "nurse"),
        (fn.LOOKUP(S("Beds per nurse"), S("Share")) * S("Staff"), "bed"),
        (fn.LOOKUP(S("Effect"), S("Share")), "dmnl"),
        (fn.WITH_LOOKUP(S("Share"), sympy.Tuple(0, 1), sympy.Tuple(0, 1)), None),
        (fn.ZIDZ(S("Staff"), S("Delay")), "nurse/month"),
        (fn.XIDZ(S("Staff"), S("Delay"), 0), "nurse/month"),
        (fn.INTEGER(S("Staff")), "nurse"),
        (fn.MODULO(S("Delay"), 1), "month"),
        (sympy.Abs(S("Rate")), "1/month"),
        (fn.INITIAL(S("Delay")), "month"),
    ],
)
def test_infer_units(expr, expected):
    found = infer_units(expr, UNITS_MODEL)
    assert (None if found is None else format_units(found)) == expected


def problems_of(expr, declared: str = "") -> list[str]:
    model = UNITS_MODEL.with_variables(
        Auxiliary(
            name="Result",
            units=declared,
            equation=Equation(expr),
            location=SourceLocation("m.yaml", 30, 1),
        )
    )
    return [issue.message for issue in check_units(model)]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (S("Staff") + S("Delay"), "cannot add month and nurse"),
        (sympy.Max(S("Staff"), S("Delay")), "cannot compare month and nurse"),
        (
            sympy.Piecewise((S("Staff"), S("Share") > 0), (S("Delay"), True)),
            "cannot choose between month and nurse",
        ),
        (
            sympy.Piecewise((1, S("Staff") > S("Delay")), (0, True)),
            "cannot compare month and nurse",
        ),
        (sympy.exp(S("Delay")), "the argument of EXP must be dimensionless, not month"),
        (sympy.log(S("Staff")), "the argument of LOG must be dimensionless, not nurse"),
        (
            fn.DELAY3(S("Staff"), S("Weeks")),
            "the time of DELAY3 must be in month (the model's time unit), not week",
        ),
        (
            fn.SMOOTHI(S("Staff"), S("Delay"), S("Delay")),
            "the initial value of SMOOTHI must be in nurse, not month",
        ),
        (
            fn.STEP(S("Staff"), S("Staff")),
            "the step time of STEP must be in month (the model's time unit), not nurse",
        ),
        (
            fn.RAMP(1, S("Weeks"), 5),
            "the start and end times of RAMP must be in month (the model's time unit), not week",
        ),
        (
            fn.PULSE(S("Staff"), 1),
            "every argument of PULSE must be in month (the model's time unit), not nurse",
        ),
        (
            fn.TREND(S("Staff"), S("Delay"), S("Staff")),
            "the initial trend of TREND must be in 1/month, not nurse",
        ),
        (
            fn.FORECAST(S("Staff"), S("Delay"), S("Staff")),
            "the horizon of FORECAST must be in month (the model's time unit), not nurse",
        ),
        (S("Share") ** S("Delay"), "an exponent must be dimensionless, not month"),
        (
            fn.XIDZ(S("Staff"), S("Delay"), S("Delay")),
            "cannot choose between month and nurse/month",
        ),
    ],
)
def test_inconsistent_expressions_are_reported(expr, message):
    assert problems_of(expr) == [f"units in 'Result': {message}"]


def test_consistent_equation_has_no_issue():
    assert problems_of(S("Staff") * S("Rate") + S("Mystery"), "nurses/months") == []
    assert problems_of(1 - S("Share"), "fraction") == []


def test_equation_against_declared_units():
    model = UNITS_MODEL.with_variables(
        Auxiliary(
            name="Hiring",
            units="nurses/week",
            equation=Equation(S("Staff") * S("Rate")),
            location=SourceLocation("m.yaml", 30, 3),
        )
    )
    (issue,) = check_units(model)
    assert issue.severity is Severity.WARNING and issue.code == "units"
    assert issue.message == "'Hiring' is declared in nurses/week but its equation gives nurse/month"
    assert (issue.path, issue.line, issue.column, issue.variable) == ("m.yaml", 30, 3, "Hiring")


def test_a_mismatch_inside_the_equation_is_reported_once():
    assert problems_of(S("Staff") + S("Delay"), "beds") == [
        "units in 'Result': cannot add month and nurse"
    ]


def bed_model(admission_units: str, initial) -> Model:
    return Model(
        "beds",
        time=TimeSpec(units="month"),
        path="beds.yaml",
        variables=(
            Stock(
                name="Beds occupied",
                units="patients",
                initial=Equation(initial, "...", SourceLocation("beds.yaml", 4, 14)),
                inflows=("Admissions",),
                outflows=("Discharges",),
                location=SourceLocation("beds.yaml", 2, 3),
            ),
            Flow(
                name="Admissions",
                units=admission_units,
                equation=Equation(S("Demand")),
                location=SourceLocation("beds.yaml", 8, 3),
            ),
            Flow(
                name="Discharges",
                units="patients/month",
                equation=Equation(S("Beds occupied") / S("Stay")),
                location=SourceLocation("beds.yaml", 12, 3),
            ),
            Auxiliary(name="Demand", equation=Equation(sympy.Integer(3))),
            Constant(name="Stay", value=5.0, units="months"),
            Constant(name="Capacity", value=50.0, units="beds"),
        ),
    )


def test_flow_units_must_be_stock_units_per_time_unit():
    (issue,) = check_units(bed_model("patients/week", S("Stay") * S("Beds occupied") * 0 + 10))
    assert issue.message == (
        "flow 'Admissions' (patients/week) does not match stock 'Beds occupied' (patients) per "
        "month"
    )
    assert (issue.path, issue.line, issue.column, issue.variable) == (
        "beds.yaml",
        8,
        3,
        "Admissions",
    )


def test_matching_flows_and_initial_value_have_no_issue():
    assert check_units(bed_model("Patients/Months", sympy.Integer(10))) == []


def test_stock_initial_value_must_have_the_stocks_units():
    (issue,) = check_units(bed_model("patient/month", S("Capacity")))
    assert issue.message == (
        "the initial value of stock 'Beds occupied' is in bed but the stock is declared in patients"
    )
    assert (issue.line, issue.column) == (2, 3)


def test_an_unreadable_unit_string_is_an_issue_at_the_variable():
    model = model_of(
        Constant(
            name="Budget", value=1.0, units="pounds//year", location=SourceLocation("m.yaml", 9, 3)
        )
    )
    (issue,) = check_units(model)
    assert issue.code == "units-syntax"
    assert str(issue) == (
        "m.yaml:9:3: warning: cannot read units 'pounds//year': expected a unit name, found '/' at "
        "character 8"
    )


def test_time_units_come_from_the_model_clock():
    weekly = model_of(Constant(name="Wait", value=2.0, units="weeks"), time_units="Weeks")
    assert infer_units(fn.TIME, weekly) == {"week": 1}
    assert infer_units(fn.TREND(1, S("Wait"), 0), weekly) == {"week": -1}
