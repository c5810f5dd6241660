"""The model checks behind sd.check (sdhealth.analysis.checks): messages, codes, locations."""

from __future__ import annotations

import pytest
import sympy

from sdhealth.analysis.checks import blocking_issues, check_model
from sdhealth.errors import Severity
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
    Subscript,
    symbol,
)
from sdhealth.ir.names import canonical

S = symbol


def at(line: int, column: int) -> SourceLocation:
    return SourceLocation("m.yaml", line, column)


def eq(expr, text: str | None = None, line: int = 1, column: int = 1, *names: str) -> Equation:
    """An equation as the parser makes it: references located by searching ``text``."""
    refs = []
    if text is not None:
        position = 0
        for name in names:
            offset = text.index(name, position)
            refs.append((canonical(name), offset))
            position = offset + len(name)
    return Equation(expr, text, at(line, column) if text is not None else None, tuple(refs))


def codes(issues) -> list[str]:
    return [issue.code for issue in issues]


def hospital(*extra) -> Model:
    """A clean small model: no issue at all."""
    return Model(
        "hospital",
        path="m.yaml",
        variables=(
            Stock(
                name="Bed occupancy",
                units="patients",
                initial=Equation(S("Capacity") * 0.9),
                inflows=("Admissions",),
                outflows=("Discharges",),
                location=at(2, 3),
            ),
            Flow(
                name="Admissions",
                units="patients/month",
                equation=eq(
                    S("Referrals") * S("Admission share"),
                    "Referrals * Admission share",
                    5,
                    16,
                    "Referrals",
                    "Admission share",
                ),
                location=at(5, 3),
            ),
            Flow(
                name="Discharges",
                units="patients/month",
                equation=eq(
                    S("Bed occupancy") / S("Length of stay"),
                    "Bed occupancy / Length of stay",
                    8,
                    16,
                    "Bed occupancy",
                    "Length of stay",
                ),
                location=at(8, 3),
            ),
            Constant(name="Referrals", value=100.0, units="patients/month", location=at(10, 3)),
            Constant(name="Admission share", value=0.5, units="dmnl", location=at(11, 3)),
            Constant(name="Capacity", value=120.0, units="patients", location=at(12, 3)),
            Auxiliary(
                name="Length of stay",
                units="months",
                equation=eq(
                    fn.LOOKUP(S("Stay effect"), S("Bed occupancy") / S("Capacity")) * 0.25,
                    "Stay effect(Bed occupancy / Capacity) * 0.25",
                    14,
                    16,
                    "Stay effect",
                    "Bed occupancy",
                    "Capacity",
                ),
                location=at(14, 3),
            ),
            Lookup(
                name="Stay effect", xs=(0.0, 1.0), ys=(1.0, 2.0), units="months", location=at(16, 3)
            ),
            *extra,
        ),
    )


def test_a_clean_model_has_no_issues():
    assert check_model(hospital()) == []


def test_unknown_name_is_spelt_as_written_with_a_suggestion_and_exact_location():
    model = hospital(
        Auxiliary(
            name="Pressure",
            equation=eq(
                S("bed occupancy rat") * 2, "2 * Bed_Occupancy   Rat", 20, 16, "Bed_Occupancy   Rat"
            ),
            location=at(20, 3),
        )
    )
    (issue,) = check_model(model, units=False)
    assert issue.code == "unknown-name" and issue.severity is Severity.ERROR
    assert str(issue) == (
        "m.yaml:20:20: unknown name 'Bed_Occupancy   Rat' (did you mean 'Bed occupancy'?)"
    )
    assert issue.variable == "Pressure"


def test_unknown_name_on_a_later_line_of_a_multiline_equation():
    text = "Capacity\n  + Zzzz"
    model = hospital(
        Auxiliary(
            name="Total", equation=eq(S("Capacity") + S("Zzzz"), text, 30, 10, "Capacity", "Zzzz")
        )
    )
    (issue,) = check_model(model, units=False)
    assert str(issue) == "m.yaml:31:5: unknown name 'Zzzz'"


def test_unknown_quoted_name_and_names_without_text():
    model = hospital(
        Auxiliary(name="A", equation=eq(S("g&a bedz"), '"G&A bedz" + 1', 3, 4, '"G&A bedz"')),
        Auxiliary(name="B", equation=Equation(S("capasity")), location=at(40, 3)),
    )
    issues = check_model(model, units=False)
    assert [str(i) for i in issues] == [
        "m.yaml:3:4: unknown name 'G&A bedz'",
        "m.yaml:40:3: unknown name 'capasity' (did you mean 'Capacity'?)",
    ]


def test_builtin_and_subscript_names_are_not_unknown():
    model = hospital(
        Auxiliary(
            name="Clock", equation=eq(fn.TIME * 2, "Time * 2 + region", 1, 1, "Time", "region")
        )
    )
    model = Model(
        model.name,
        variables=model.variables,
        path=model.path,
        subscripts=(Subscript("Region", ("North", "South")),),
    )
    assert check_model(model, units=False) == []


def test_unknown_flow_in_a_stock():
    model = hospital(
        Stock(
            name="Queue",
            initial=Equation(sympy.Integer(0)),
            inflows=("Admisions",),
            location=at(50, 3),
        )
    )
    issues = check_model(model, units=False)
    assert [str(i) for i in issues] == [
        "m.yaml:50:3: unknown name 'Admisions' (did you mean 'Admissions'?)",
    ]


def test_inflow_that_is_not_a_flow():
    model = hospital(
        Stock(
            name="Queue",
            initial=Equation(sympy.Integer(0)),
            inflows=("Referrals", "Admissions"),
            outflows=("Length of stay",),
            location=at(50, 3),
        )
    )
    issues = check_model(model, units=False)
    assert codes(issues) == ["not-a-flow", "not-a-flow"]
    assert [i.message for i in issues] == [
        "'Referrals' is listed as an inflow of stock 'Queue' but is a constant, not a flow",
        "'Length of stay' is listed as an outflow of stock 'Queue' but is an auxiliary, not a flow",
    ]
    assert (issues[0].line, issues[0].column, issues[0].variable) == (50, 3, "Queue")


def test_calling_something_that_is_not_a_lookup():
    model = hospital(
        Auxiliary(
            name="Effect",
            equation=eq(fn.LOOKUP(S("Capacity"), 3), "CAPACITY(3)", 60, 12, "CAPACITY"),
        )
    )
    (issue,) = check_model(model, units=False)
    assert issue.code == "not-a-lookup"
    assert str(issue) == "m.yaml:60:12: 'CAPACITY' is not a lookup"


def test_lookup_used_without_an_input():
    model = hospital(
        Auxiliary(
            name="Effect",
            equation=eq(S("Stay effect") * 2, "Stay effect * 2", 61, 12, "Stay effect"),
        )
    )
    (issue,) = check_model(model, units=False)
    assert issue.code == "lookup-not-called"
    assert str(issue) == (
        "m.yaml:61:12: lookup 'Stay effect' is used without an input; call it like 'Stay effect(x)'"
    )


def test_algebraic_loop_names_the_cycle_and_points_at_the_reading():
    model = hospital(
        Auxiliary(name="A", equation=eq(S("C") + 1, "C + 1", 70, 5, "C")),
        Auxiliary(name="B", equation=eq(S("A") * 2, "A * 2", 71, 5, "A")),
        Auxiliary(
            name="C", equation=eq(S("B") - S("Capacity"), "B - Capacity", 72, 5, "B", "Capacity")
        ),
    )
    (issue,) = check_model(model, units=False)
    assert issue.code == "algebraic-loop"
    assert str(issue) == "m.yaml:70:5: algebraic loop with no stock: A -> B -> C -> A"


def test_a_smoothi_breaks_the_loop_but_a_trend_does_not():
    smooth = hospital(
        Auxiliary(name="A", equation=Equation(fn.SMOOTHI(S("B"), 3, 1))),
        Auxiliary(name="B", equation=Equation(S("A") * 2)),
    )
    assert check_model(smooth, units=False) == []
    trend = hospital(
        Auxiliary(name="A", equation=Equation(fn.TREND(S("B"), 3, 0))),
        Auxiliary(name="B", equation=Equation(S("A") * 2)),
    )
    assert [i.message for i in check_model(trend, units=False)] == [
        "algebraic loop with no stock: A -> B -> A"
    ]


def test_a_smooth_without_initial_value_in_a_loop_has_circular_initial_values():
    # SMOOTH starts at its input, which here depends on the smooth itself (Vensim rejects it too)
    model = hospital(
        Auxiliary(name="A", equation=Equation(fn.SMOOTH(S("B"), 3))),
        Auxiliary(name="B", equation=Equation(S("A") * 2)),
    )
    assert [(i.code, i.message) for i in check_model(model, units=False)] == [
        ("circular-initial", "circular initial values: A -> B -> A")
    ]


def test_stock_without_initial_value():
    model = hospital(Stock(name="Queue", initial=None, location=at(80, 3)))
    (issue,) = check_model(model, units=False)
    assert issue.code == "missing-initial"
    assert str(issue) == "m.yaml:80:3: stock 'Queue' has no initial value"


def test_initial_values_that_depend_on_themselves():
    model = hospital(
        Stock(
            name="Queue",
            initial=eq(S("Outflow") * 4, "Outflow * 4", 90, 14, "Outflow"),
            outflows=("Outflow",),
            location=at(89, 3),
        ),
        Flow(name="Outflow", equation=eq(S("Queue") / 4, "Queue / 4", 92, 14, "Queue")),
    )
    (issue,) = check_model(model, units=False)
    assert issue.code == "circular-initial"
    assert str(issue) == "m.yaml:90:14: circular initial values: Queue -> Outflow -> Queue"


def test_initial_loop_through_initial_is_reported_once():
    model = hospital(
        Auxiliary(name="A", equation=Equation(fn.INITIAL(S("B")))),
        Auxiliary(name="B", equation=Equation(S("A") + 1)),
    )
    assert [i.message for i in check_model(model, units=False)] == [
        "circular initial values: A -> B -> A"
    ]


def test_lookup_x_values_must_increase_strictly():
    model = hospital(
        Lookup(name="Bad", xs=(0.0, 2.0, 2.0, 3.0), ys=(0.0, 1.0, 2.0, 3.0), location=at(95, 3)),
        Lookup(name="Empty", xs=(), ys=(), location=at(96, 3)),
        Auxiliary(
            name="Use",
            equation=eq(
                fn.LOOKUP(S("Bad"), 1)
                + fn.LOOKUP(S("Empty"), 1)
                + fn.WITH_LOOKUP(1, sympy.Tuple(0, 5, 4), sympy.Tuple(0, 1, 2)),
                "...",
                97,
                10,
            ),
        ),
    )
    issues = check_model(model, units=False)
    assert [str(i) for i in issues] == [
        "m.yaml:95:3: lookup 'Bad': x-values must increase strictly, but point 3 (x=2) does "
        "not come after point 2 (x=2)",
        "m.yaml:96:3: lookup 'Empty' has no points",
        "m.yaml:97:10: WITH LOOKUP in 'Use': x-values must increase strictly, but point 3 "
        "(x=4) does not come after point 2 (x=5)",
    ]
    assert codes(issues) == ["lookup-order", "lookup-points", "lookup-order"]


def test_delay_n_order_read_from_a_variable_is_a_warning():
    # PySD runs it; only the native backend's expansion needs a constant order
    model = hospital(
        Auxiliary(
            name="Delayed",
            equation=eq(fn.DELAY_N(S("Referrals"), 3, 0, S("Bed occupancy")), "...", 99, 12),
        )
    )
    (issue,) = check_model(model, units=False)
    assert issue.code == "delay-order"
    assert issue.severity is Severity.WARNING
    assert str(issue) == (
        "m.yaml:99:12: warning: the order of DELAY N in 'Delayed' must be a constant whole "
        "number, but it reads 'bed occupancy', which is not constant"
    )


def test_delay_n_order_from_a_constant_is_fine():
    model = hospital(
        Constant(name="Order", value=4.0),
        Auxiliary(name="Delayed", equation=Equation(fn.DELAY_N(S("Referrals"), 3, 0, S("Order")))),
    )
    assert check_model(model, units=False) == []


def test_unused_constants_and_lookups_and_unattached_flows_are_warnings():
    model = hospital(
        Constant(name="Spare beds", value=3.0, location=at(100, 3)),
        Lookup(name="Old table", xs=(0.0,), ys=(1.0,), location=at(101, 3)),
        Flow(name="Transfers", equation=Equation(sympy.Integer(1)), location=at(102, 3)),
        Auxiliary(name="Report only", equation=Equation(S("Capacity") * 2)),
    )
    issues = check_model(model, units=False)
    assert [str(i) for i in issues] == [
        "m.yaml:100:3: warning: constant 'Spare beds' is not used by any equation",
        "m.yaml:101:3: warning: lookup 'Old table' is not used by any equation",
        "m.yaml:102:3: warning: flow 'Transfers' is not an inflow or outflow of any stock",
    ]
    assert codes(issues) == ["unused", "unused", "unattached-flow"]
    assert all(i.severity is Severity.WARNING for i in issues)
    assert blocking_issues(model) == []


def test_unit_issues_come_last_and_do_not_block():
    model = hospital(
        Constant(name="Spare beds", value=3.0, units="beds", location=at(100, 3)),
        Auxiliary(
            name="Spare", units="patients", equation=Equation(S("Spare beds")), location=at(104, 3)
        ),
        Auxiliary(name="Broken", equation=Equation(S("Nowhere"))),
    )
    issues = check_model(model)
    assert codes(issues) == ["unknown-name", "units"]
    assert issues[1].message == "'Spare' is declared in patients but its equation gives bed"
    assert codes(check_model(model, units=False)) == ["unknown-name"]
    assert codes(blocking_issues(model)) == ["unknown-name"]


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ((Auxiliary(name="A", equation=Equation(S("A") + 1)),), "algebraic-loop"),
        ((Stock(name="Q", initial=None),), "missing-initial"),
        (
            (
                Lookup(name="L", xs=(1.0, 0.0), ys=(0.0, 0.0)),
                Auxiliary(name="U", equation=Equation(fn.LOOKUP(S("L"), 0))),
            ),
            "lookup-order",
        ),
    ],
)
def test_errors_block_a_run(extra, code):
    assert codes(blocking_issues(hospital(*extra))) == [code]


def test_delay_n_order_that_is_not_whole_is_an_error():
    model = hospital(
        Auxiliary(
            name="Delayed",
            equation=eq(fn.DELAY_N(S("Referrals"), 3, 0, 2.5), "...", 99, 12),
        )
    )
    (issue,) = check_model(model, units=False)
    assert (issue.code, issue.severity) == ("delay-order", Severity.ERROR)
    assert "must be a constant whole number, but it is 2.5" in issue.message
