"""The dependency graph, algebraic loops and evaluation orders (sdhealth.compile.dependencies)."""

from __future__ import annotations

import pytest
import sympy

from sdhealth.compile.dependencies import (
    algebraic_cycles,
    dependency_graph,
    evaluation_order,
    format_cycle,
    initial_cycles,
    initialisation_order,
)
from sdhealth.compile.expand import expand_stateful
from sdhealth.errors import ModelError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Equation,
    Flow,
    Lookup,
    Model,
    Stock,
    symbol,
)

A, B, C, X = (symbol(n) for n in ("A", "B", "C", "X"))


def aux(name: str, expr) -> Auxiliary:
    return Auxiliary(name=name, equation=Equation(sympy.sympify(expr)))


def model_of(*variables) -> Model:
    return Model("m", variables=variables)


def bathtub() -> Model:
    return model_of(
        Constant(name="Capacity", value=100.0),
        Stock(
            name="Beds",
            initial=Equation(symbol("Capacity") / 2),
            inflows=("Admissions",),
            outflows=("Discharges",),
        ),
        Flow(name="Admissions", equation=Equation(symbol("Capacity") - symbol("Beds"))),
        Flow(name="Discharges", equation=Equation(symbol("Beds") / symbol("Stay"))),
        Lookup(name="Stay table", xs=(0.0, 1.0), ys=(3.0, 5.0)),
        Auxiliary(
            name="Stay", equation=Equation(fn.LOOKUP(symbol("Stay table"), symbol("Occupancy")))
        ),
        Auxiliary(name="Occupancy", equation=Equation(symbol("Beds") / symbol("Capacity"))),
    )


def test_edges_point_from_what_is_read_to_the_reader():
    graph = dependency_graph(bathtub())
    assert set(graph.edges) == {
        ("admissions", "beds"),
        ("discharges", "beds"),
        ("capacity", "beds"),
        ("capacity", "admissions"),
        ("beds", "admissions"),
        ("beds", "discharges"),
        ("stay", "discharges"),
        ("stay table", "stay"),
        ("occupancy", "stay"),
        ("beds", "occupancy"),
        ("capacity", "occupancy"),
    }
    assert graph.nodes["beds"]["variable"] == bathtub()["Beds"]


def test_stock_edges_from_flows_and_from_initial_values_are_flagged_apart():
    graph = dependency_graph(bathtub())
    assert graph.edges["admissions", "beds"] == {
        "initial": False,
        "instant": False,
        "at_init": False,
    }
    assert graph.edges["capacity", "beds"] == {"initial": True, "instant": False, "at_init": True}
    assert graph.edges["beds", "occupancy"] == {"initial": False, "instant": True, "at_init": True}


def test_a_flow_read_by_its_stocks_initial_value_is_not_initial_only():
    model = model_of(
        Stock(name="S", initial=Equation(symbol("F")), inflows=("F",)),
        Flow(name="F", equation=Equation(sympy.Integer(2))),
    )
    assert dependency_graph(model).edges["f", "s"] == {
        "initial": False,
        "instant": False,
        "at_init": True,
    }


@pytest.mark.parametrize(
    ("expr", "instant", "at_init"),
    [
        (fn.SMOOTH(X, 3), False, True),
        (fn.SMOOTHI(X, 3, 1), False, False),
        (fn.DELAY3(X, 3), False, True),
        (fn.DELAY1I(X, 3, 0), False, False),
        (fn.DELAY3(1, X), True, True),
        (fn.TREND(X, 3, 0), True, True),
        (fn.FORECAST(1, 2, X), True, True),
        (fn.DELAY_FIXED(X, 3, 0), False, False),
        (fn.DELAY_FIXED(1, 3, X), False, True),
        (fn.INITIAL(X), False, True),
        (fn.SMOOTH(fn.TREND(X, 2, 0), 3), False, True),
        (X + fn.SMOOTH(X, 3), True, True),
    ],
)
def test_reads_through_builtins_with_memory(expr, instant, at_init):
    model = model_of(Constant(name="X", value=1.0), aux("Y", expr))
    edge = dependency_graph(model).edges["x", "y"]
    assert (edge["instant"], edge["at_init"], edge["initial"]) == (instant, at_init, False)


def test_unknown_names_are_left_out_of_the_graph():
    graph = dependency_graph(model_of(aux("Y", symbol("nowhere") + 1)))
    assert list(graph.nodes) == ["y"] and not graph.edges


def test_algebraic_cycles_name_each_knot_once_from_its_first_variable():
    model = model_of(
        aux("A", C + 1),
        aux("B", A * 2),
        aux("C", B - 1),
        aux("D", symbol("D") / 2),
        aux("E", A),
    )
    assert algebraic_cycles(model) == [("a", "b", "c"), ("d",)]
    assert format_cycle(model, ("a", "b", "c")) == "A -> B -> C -> A"


def test_the_cycle_reported_is_the_shortest_way_back():
    # A feeds B and C; C feeds A directly, B reaches A only through C
    model = model_of(aux("A", C), aux("B", A), aux("C", A + B))
    assert algebraic_cycles(model) == [("a", "c")]


@pytest.mark.parametrize(
    "breaker",
    [
        fn.SMOOTH(C, 2),
        fn.DELAY3(C, 2),
        fn.DELAY_FIXED(C, 2, 0),
        fn.INITIAL(C),
        fn.SMOOTH3I(C, 2, 1),
    ],
)
def test_builtins_with_memory_break_algebraic_loops(breaker):
    model = model_of(aux("A", breaker), aux("B", A), aux("C", B))
    assert algebraic_cycles(model) == []


@pytest.mark.parametrize("joiner", [fn.TREND(C, 2, 0), fn.FORECAST(C, 2, 1), fn.DELAY1(1, C)])
def test_builtins_that_read_their_input_at_once_do_not_break_loops(joiner):
    model = model_of(aux("A", joiner), aux("B", A), aux("C", B + 1))
    assert algebraic_cycles(model) == [("a", "b", "c")]
    expanded = expand_stateful(model)
    cycles = algebraic_cycles(expanded)
    assert len(cycles) == 1 and {"a", "b", "c"} <= set(cycles[0])


def test_stocks_break_loops():
    assert algebraic_cycles(bathtub()) == []


def test_evaluation_order_is_topological_with_definition_order_for_ties():
    assert evaluation_order(bathtub()) == ("admissions", "occupancy", "stay", "discharges")


def test_evaluation_order_names_an_algebraic_loop():
    model = model_of(aux("Bed gap", symbol("Target") - 1), aux("Target", symbol("Bed gap") * 2))
    with pytest.raises(
        ModelError,
        match=r"^algebraic loop with no stock: Bed gap -> Target -> "
        r"Bed gap$",
    ):
        evaluation_order(model)


def test_initialisation_order_places_stocks_where_their_initial_values_can_be_computed():
    model = model_of(
        Stock(name="S", initial=Equation(symbol("Half")), inflows=("F",)),
        Flow(name="F", equation=Equation(symbol("S") / 4)),
        Auxiliary(name="Half", equation=Equation(symbol("Total") / 2)),
        Constant(name="Total", value=8.0),
    )
    assert initialisation_order(model) == ("half", "s", "f")


def test_circular_initial_values_are_an_error_and_a_cycle():
    model = model_of(
        Stock(name="S", initial=Equation(symbol("F") * 2), inflows=("F",)),
        Flow(name="F", equation=Equation(symbol("S") / 4)),
    )
    assert algebraic_cycles(model) == []
    assert initial_cycles(model) == [("s", "f")]
    with pytest.raises(ModelError, match=r"^circular initial values: S -> F -> S$"):
        initialisation_order(model)


def test_initialisation_of_expanded_delays_follows_their_stages():
    model = model_of(Constant(name="X", value=1.0), aux("Y", fn.DELAY3(X, 3)))
    order = initialisation_order(expand_stateful(model))
    assert order.index("y delay3 1 stage 3") < order.index("y delay3 1 output") < order.index("y")


def test_active_initial_reads_its_initial_argument_only_at_the_start() -> None:
    from sympy.core.symbol import Str

    active = fn.VENSIM_CALL(Str("ACTIVE INITIAL"), B + 1, C)
    model = Model(
        "m",
        variables=(
            Auxiliary(name="A", equation=Equation(active)),
            Auxiliary(name="B", equation=Equation(fn.SMOOTH(A, 2))),
            Constant(name="C", value=1.0),
        ),
    )
    assert initial_cycles(model) == []
    graph = dependency_graph(model)
    assert graph.edges["b", "a"]["at_init"] is False and graph.edges["b", "a"]["instant"]
    assert graph.edges["c", "a"]["at_init"] is True and not graph.edges["c", "a"]["instant"]
