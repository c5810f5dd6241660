"""CausalLoopDiagram and causal_graph: links and signs derived from hand-countable models."""

from __future__ import annotations

import networkx as nx
import pytest
import sympy

from sdhealth.analysis.loops import find_loops
from sdhealth.cld import CausalLoopDiagram, Link, NodeKind, causal_graph
from sdhealth.cld.forms import lookup_direction
from sdhealth.cld.operating_point import initial_values
from sdhealth.errors import ModelError, UnknownNameError
from sdhealth.io.yaml import load_yaml
from sdhealth.ir import Auxiliary, Constant, Equation, Flow, Lookup, Model, Stock, TimeSpec, symbol
from sdhealth.ir import functions as fn


def teacup() -> Model:
    temperature, room, time = symbol("Teacup Temperature"), symbol("Room"), symbol("Cooling time")
    return Model("Teacup", variables=(
        Stock(name="Teacup Temperature", initial=Equation.of(180), outflows=("Heat Loss",),
              limits=(32.0, 212.0)),
        Flow(name="Heat Loss", equation=Equation((temperature - room) / time)),
        Constant(name="Room", value=70.0),
        Constant(name="Cooling time", value=10.0),
    ))  # fmt: skip


def sir() -> Model:
    s, i, n = symbol("Susceptible"), symbol("Infectious"), symbol("Population")
    c, d = symbol("Contacts"), symbol("Duration")
    return Model("SIR", variables=(
        Stock(name="Susceptible", initial=Equation(n - symbol("Initial infectious")),
              outflows=("Infection",), non_negative=True),
        Stock(name="Infectious", initial=Equation(symbol("Initial infectious")),
              inflows=("Infection",), outflows=("Recovery",), non_negative=True),
        Stock(name="Recovered", initial=Equation.of(0), inflows=("Recovery",), non_negative=True),
        Flow(name="Infection", equation=Equation(c * s * i / n)),
        Flow(name="Recovery", equation=Equation(i / d)),
        Constant(name="Population", value=1000.0),
        Constant(name="Initial infectious", value=1.0),
        Constant(name="Contacts", value=0.5),
        Constant(name="Duration", value=2.0),
    ))  # fmt: skip


def signs(cld: CausalLoopDiagram) -> set[tuple[str, str, int]]:
    return {(link.source, link.target, link.polarity) for link in cld.links}


def one_link(variables: tuple, source: str, target: str) -> Link:
    return causal_graph(Model("m", variables=variables)).link(source, target)


# ----------------------------------------------------------------------------- derived links


def test_teacup_links_and_signs() -> None:
    cld = causal_graph(teacup())
    assert signs(cld) == {
        ("Teacup Temperature", "Heat Loss", 1),
        ("Room", "Heat Loss", -1),
        ("Cooling time", "Heat Loss", -1),
        ("Heat Loss", "Teacup Temperature", -1),
    }
    assert all(not link.declared and not link.delay for link in cld.links)
    assert cld.name == "Teacup"
    assert cld.stocks == ("Teacup Temperature",)
    assert cld.node("heat loss").kind is NodeKind.FLOW
    assert cld.node("Room").kind is NodeKind.CONSTANT


def test_references_are_values_at_the_initial_time() -> None:
    cld = causal_graph(teacup())
    assert cld.node("Teacup Temperature").reference == 180.0
    assert cld.node("Heat Loss").reference == pytest.approx(11.0)
    assert cld.node("Room").reference == 70.0


def test_sir_links_and_signs() -> None:
    cld = causal_graph(sir())
    assert signs(cld) == {
        ("Susceptible", "Infection", 1),
        ("Infectious", "Infection", 1),
        ("Population", "Infection", -1),
        ("Contacts", "Infection", 1),
        ("Infectious", "Recovery", 1),
        ("Duration", "Recovery", -1),
        ("Infection", "Susceptible", -1),
        ("Infection", "Infectious", 1),
        ("Recovery", "Infectious", -1),
        ("Recovery", "Recovered", 1),
    }


def test_initial_values_are_not_causal_links() -> None:
    cld = causal_graph(sir())
    assert not cld.graph.has_edge("Initial infectious", "Infectious")
    assert not cld.graph.has_edge("Population", "Susceptible")
    assert "Initial infectious" in cld  # still a node, just not linked
    model = Model("m", variables=(
        Constant(name="x", value=3.0),
        Auxiliary(name="y", equation=Equation(fn.INITIAL(symbol("x")) * 2)),
    ))  # fmt: skip
    assert causal_graph(model).graph.number_of_edges() == 0


def test_initial_values_of_a_model() -> None:
    values = initial_values(sir())
    assert values["susceptible"] == 999.0
    assert values["infection"] == pytest.approx(0.5 * 999 * 1 / 1000)
    assert values["recovery"] == pytest.approx(0.5)


# ----------------------------------------------------------------------------- lookups


def occupancy_model(ys: tuple[float, ...], patients: float = 25.0) -> Model:
    admissions = symbol("Referrals") * fn.LOOKUP(symbol("Effect"), symbol("Occupancy"))
    return Model("ward", variables=(
        Stock(name="Patients", initial=Equation.of(patients), inflows=("Admissions",)),
        Flow(name="Admissions", equation=Equation(admissions)),
        Auxiliary(name="Occupancy", equation=Equation(symbol("Patients") / symbol("Beds"))),
        Constant(name="Referrals", value=10.0),
        Constant(name="Beds", value=100.0),
        Lookup(name="Effect", xs=(0.0, 0.5, 1.0), ys=ys),
    ))  # fmt: skip


def test_a_decreasing_lookup_gives_a_negative_link() -> None:
    cld = causal_graph(occupancy_model((1.0, 0.8, 0.0)))
    assert cld.link("Occupancy", "Admissions").polarity == -1
    assert cld.link("Referrals", "Admissions").polarity == 1
    assert cld.link("Beds", "Occupancy").polarity == -1
    assert "Effect" not in cld  # a table is not a node
    # occupancy 0.25 -> effect 0.9 -> admissions 9
    assert cld.node("Admissions").reference == pytest.approx(9.0)
    loops = find_loops(cld)
    assert [(loop.id, loop.variables) for loop in loops] == [
        ("B1", ("Admissions", "Patients", "Occupancy"))
    ]


def test_a_lookup_flat_at_the_operating_point_keeps_its_overall_direction() -> None:
    cld = causal_graph(occupancy_model((1.0, 1.0, 0.0)))
    assert cld.link("Occupancy", "Admissions").polarity == -1


def test_a_non_monotone_lookup_gives_an_unknown_link() -> None:
    cld = causal_graph(occupancy_model((0.0, 1.0, 0.0)))
    assert cld.link("Occupancy", "Admissions").polarity == 0
    assert [loop.kind for loop in find_loops(cld)] == ["?"]


def test_an_increasing_with_lookup_gives_a_positive_link() -> None:
    table = fn.WITH_LOOKUP(symbol("x"), sympy.Tuple(0, 1, 2), sympy.Tuple(0, 5, 6))
    variables = (
        Constant(name="x", value=0.5),
        Auxiliary(name="y", equation=Equation(10 - table)),
    )
    assert one_link(variables, "x", "y").polarity == -1


def test_lookup_direction() -> None:
    assert lookup_direction([0, 0, 1]) == 1
    assert lookup_direction([2, 1, 1]) == -1
    assert lookup_direction([1, 1, 1]) == 0
    assert lookup_direction([0, 2, 1]) == 0


# ----------------------------------------------------------------------------- stateful builtins


def shipping_model(shipments: sympy.Expr) -> Model:
    return Model("supply", variables=(
        Stock(name="Inventory", initial=Equation.of(100), inflows=("Shipments",),
              outflows=("Sales",)),
        Flow(name="Shipments", equation=Equation(shipments)),
        Flow(name="Sales", equation=Equation.of(10)),
        Auxiliary(name="Orders", equation=Equation(200 - symbol("Inventory"))),
        Constant(name="Delay time", value=3.0),
    ))  # fmt: skip


def test_a_delay3_link_passes_the_input_sign_with_a_delay_mark() -> None:
    cld = causal_graph(shipping_model(fn.DELAY3(symbol("Orders"), symbol("Delay time"))))
    link = cld.link("Orders", "Shipments")
    assert (link.polarity, link.delay) == (1, True)
    timing = cld.link("Delay time", "Shipments")
    assert (timing.polarity, timing.delay) == (0, True)
    orders = cld.link("Inventory", "Orders")
    assert (orders.polarity, orders.delay) == (-1, False)
    [loop] = find_loops(cld)
    assert (loop.id, loop.has_delay, loop.stocks) == ("B1", True, ("Inventory",))


def test_a_smooth_of_a_negative_input_is_negative() -> None:
    smoothed = fn.SMOOTH(-symbol("Inventory"), symbol("Delay time")) + 300
    link = causal_graph(shipping_model(smoothed)).link("Inventory", "Shipments")
    assert (link.polarity, link.delay) == (-1, True)


def test_a_link_that_is_also_direct_is_not_delayed() -> None:
    orders = symbol("Orders")
    link = causal_graph(shipping_model(orders + fn.SMOOTH(orders, 2))).link("Orders", "Shipments")
    assert (link.polarity, link.delay) == (1, False)


def test_the_initial_argument_of_a_delay_is_not_a_link() -> None:
    model = shipping_model(fn.DELAY1I(symbol("Orders"), 2, symbol("Delay time")))
    assert not causal_graph(model).graph.has_edge("Delay time", "Shipments")


# ----------------------------------------------------------------------------- operating point


def test_a_step_counts_as_switched_on() -> None:
    demand = symbol("Base") * (1 + fn.STEP(symbol("Surge"), 6))
    variables = (
        Constant(name="Base", value=100.0),
        Constant(name="Surge", value=0.2),
        Auxiliary(name="Demand", equation=Equation(demand)),
    )
    assert one_link(variables, "Surge", "Demand").polarity == 1
    assert one_link(variables, "Base", "Demand").polarity == 1


def test_min_rises_with_each_argument_even_where_the_other_binds() -> None:
    variables = (
        Stock(name="Waiting", initial=Equation.of(500), non_negative=True),
        Constant(name="Capacity", value=10.0),
        Constant(name="Time", value=2.0),
        Auxiliary(name="Treated", equation=Equation(
            sympy.Min(symbol("Waiting") / symbol("Time"), symbol("Capacity")))),
    )  # fmt: skip
    assert one_link(variables, "Waiting", "Treated").polarity == 1
    assert one_link(variables, "Capacity", "Treated").polarity == 1
    assert one_link(variables, "Time", "Treated").polarity == -1


@pytest.mark.parametrize(("start", "polarity"), [(-3.0, -1), (3.0, 1), (0.0, 0)])
def test_a_state_dependent_sign_is_taken_at_the_initial_values(start: float, polarity: int) -> None:
    variables = (
        Stock(name="Level", initial=Equation.of(start)),
        Constant(name="Gain", value=2.0),
        Auxiliary(name="Output", equation=Equation(symbol("Gain") * symbol("Level") ** 2)),
    )
    # d/dLevel = 2*Gain*Level: its sign is that of the level at the start (0: unknown)
    assert one_link(variables, "Level", "Output").polarity == polarity


def test_a_non_negative_stock_is_used_over_its_whole_range() -> None:
    variables = (
        Stock(name="Level", initial=Equation.of(0), non_negative=True),
        Constant(name="Rate", value=-2.0),
        Auxiliary(name="Output", equation=Equation(symbol("Rate") * symbol("Level"))),
    )
    # d Output/d Rate = Level >= 0 although the level starts at 0
    assert one_link(variables, "Rate", "Output").polarity == 1
    assert one_link(variables, "Level", "Output").polarity == -1


def test_if_then_else_is_decided_at_the_operating_point() -> None:
    x = symbol("x")
    flip = sympy.Piecewise((x, x > 5), (-2 * x, True))
    for value, polarity in ((10.0, 1), (1.0, -1)):
        variables = (
            Stock(name="x", initial=Equation.of(value)),
            Auxiliary(name="y", equation=Equation(flip)),
        )
        assert one_link(variables, "x", "y").polarity == polarity


def test_time_counts_as_non_negative() -> None:
    growth = symbol("Base") * sympy.exp(symbol("Rate") * fn.TIME)
    variables = (
        Constant(name="Base", value=100.0),
        Constant(name="Rate", value=0.01),
        Auxiliary(name="Demand", equation=Equation(growth)),
    )
    model = Model("m", time=TimeSpec(start=0, stop=10), variables=variables)
    # d/dRate = Base*Time*exp(...) is 0 at time 0 but never negative
    assert causal_graph(model).link("Rate", "Demand").polarity == 1


# ----------------------------------------------------------------------------- the diagram object


def small_graph() -> nx.DiGraph:
    graph = nx.DiGraph(name="Growth")
    graph.add_node("Population", kind=NodeKind.STOCK, reference=100)
    graph.add_node("Births", kind="flow")
    graph.add_edge("Population", "Births", polarity=1)
    graph.add_edge("Births", "Population", polarity=1, delay=True)
    return graph


def test_construction_copies_and_never_mutates_the_input() -> None:
    graph = small_graph()
    before = (dict(graph.nodes(data=True)), list(graph.edges(data=True)))
    cld = CausalLoopDiagram(graph)
    assert (dict(graph.nodes(data=True)), list(graph.edges(data=True))) == before
    assert graph.nodes["Births"] == {"kind": "flow"}  # no defaults written into the input
    graph.add_edge("Births", "Deaths", polarity=-1)
    graph.nodes["Population"]["units"] = "people"
    assert "Deaths" not in cld and cld.node("Population").units == ""


def test_the_graph_is_frozen_and_to_networkx_is_an_editable_copy() -> None:
    cld = CausalLoopDiagram(small_graph())
    with pytest.raises(nx.NetworkXError):
        cld.graph.add_edge("Population", "Deaths", polarity=-1)
    copy = cld.to_networkx()
    copy.add_edge("Population", "Deaths", polarity=-1)
    assert "Deaths" in copy and "Deaths" not in cld
    assert copy.nodes["Population"]["kind"] is NodeKind.STOCK


def test_defaults_and_accessors() -> None:
    cld = CausalLoopDiagram(small_graph())
    population = cld.node("POPULATION")
    assert (population.kind, population.reference, population.sector) == (
        NodeKind.STOCK, 100.0, None,
    )  # fmt: skip
    assert cld.node("Births").kind is NodeKind.FLOW
    assert cld.link("births", "population") == Link("Births", "Population", 1, True, True)
    assert cld.link("Births", "Population").sign == "+"
    assert [n.name for n in cld.nodes] == ["Population", "Births"]
    assert len(cld) == 2 and list(cld) == ["Population", "Births"]
    assert cld.name == "Growth"
    assert CausalLoopDiagram(small_graph()) == cld
    assert repr(cld) == "CausalLoopDiagram('Growth', 2 variables, 2 links)"


def test_unknown_names_suggest_close_ones() -> None:
    cld = CausalLoopDiagram(small_graph())
    with pytest.raises(UnknownNameError, match="'Populaton'.*did you mean 'Population'"):
        cld.node("Populaton")
    with pytest.raises(UnknownNameError, match="no link 'Population' -> 'Population'"):
        cld.link("Population", "Population")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda g: g.add_edge("Births", "Population", polarity=2), "polarity must be"),
        (lambda g: g.add_edge("Births", "Population", polarity=True), "polarity must be"),
        (lambda g: g.add_edge("Population", "Deaths"), "polarity must be"),
        (lambda g: g.add_node("births", kind="flow"), "duplicate node 'births'"),
        (lambda g: g.add_node("Births", kind="stok"), "kind must be one of"),
        (lambda g: g.add_node("Births", reference="ten"), "reference must be a number"),
        (lambda g: g.add_edge("Births", "Population", delay="yes"), "delay must be True"),
        (lambda g: g.add_node(3), "named by text"),
    ],
)
def test_invalid_diagrams_are_errors(change, message: str) -> None:
    graph = small_graph()
    change(graph)
    with pytest.raises(ModelError, match=message):
        CausalLoopDiagram(graph)


# ----------------------------------------------------------------------------- library models


def test_library_teacup_and_sir(models_dir) -> None:
    teacup_file, sir_file = models_dir / "teacup.yaml", models_dir / "sir.yaml"
    if not (teacup_file.exists() and sir_file.exists()):
        pytest.skip("models/teacup.yaml or models/sir.yaml not written yet")
    cup = causal_graph(load_yaml(teacup_file))
    assert cup.link("Teacup Temperature", "Heat Loss to Room").polarity == 1
    assert cup.link("Heat Loss to Room", "Teacup Temperature").polarity == -1
    epidemic = causal_graph(load_yaml(sir_file))
    assert epidemic.link("Total Population", "Infection Rate").polarity == -1
    assert epidemic.link("Infection Rate", "Susceptible").polarity == -1
