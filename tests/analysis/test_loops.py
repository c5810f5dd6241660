"""Feedback loops: counts and polarities on hand-countable models, stable ids, bounded search."""

from __future__ import annotations

import random
import time

import networkx as nx
import pytest

from sdhealth.analysis.loops import (
    DEFAULT_MAX_LOOPS,
    Loop,
    LoopSet,
    find_loops,
    find_named_loops,
    loop_table,
    trace_loop,
)
from sdhealth.cld import CausalLoopDiagram, NodeKind, causal_graph
from sdhealth.errors import UnknownNameError
from sdhealth.io.yaml import load_yaml
from sdhealth.ir import Constant, Equation, Flow, Model, Stock, symbol


def teacup() -> Model:
    temperature = symbol("Teacup Temperature")
    return Model("Teacup", variables=(
        Stock(name="Teacup Temperature", initial=Equation.of(180), outflows=("Heat Loss",)),
        Flow(name="Heat Loss", equation=Equation(
            (temperature - symbol("Room")) / symbol("Cooling time"))),
        Constant(name="Room", value=70.0),
        Constant(name="Cooling time", value=10.0),
    ))  # fmt: skip


def sir() -> Model:
    s, i, n = symbol("Susceptible"), symbol("Infectious"), symbol("N")
    return Model("SIR", variables=(
        Stock(name="Susceptible", initial=Equation.of(999), outflows=("Infection",),
              non_negative=True),
        Stock(name="Infectious", initial=Equation.of(1), inflows=("Infection",),
              outflows=("Recovery",), non_negative=True),
        Stock(name="Recovered", initial=Equation.of(0), inflows=("Recovery",)),
        Flow(name="Infection", equation=Equation(symbol("c") * s * i / n)),
        Flow(name="Recovery", equation=Equation(i / symbol("d"))),
        Constant(name="N", value=1000.0),
        Constant(name="c", value=0.5),
        Constant(name="d", value=2.0),
    ))  # fmt: skip


def test_teacup_has_one_balancing_loop() -> None:
    loops = find_loops(causal_graph(teacup()))
    assert len(loops) == 1 and not loops.truncated and loops.message == ""
    [loop] = loops
    assert loop == Loop(
        id="B1",
        polarity=-1,
        kind="B",
        variables=("Heat Loss", "Teacup Temperature"),
        stocks=("Teacup Temperature",),
        links=(("Heat Loss", "Teacup Temperature", -1), ("Teacup Temperature", "Heat Loss", 1)),
        length=2,
        has_delay=False,
    )
    assert str(loop) == "B1 (-): Heat Loss -> Teacup Temperature -> Heat Loss"


def test_sir_has_one_reinforcing_and_two_balancing_loops() -> None:
    loops = find_loops(causal_graph(sir()))
    assert [(lp.id, lp.polarity, lp.variables, lp.stocks) for lp in loops] == [
        ("R1", 1, ("Infection", "Infectious"), ("Infectious",)),
        ("B1", -1, ("Infection", "Susceptible"), ("Susceptible",)),
        ("B2", -1, ("Infectious", "Recovery"), ("Infectious",)),
    ]
    assert loops.by_id("b2").variables == ("Infectious", "Recovery")
    with pytest.raises(UnknownNameError, match="no loop 'R7'"):
        loops.by_id("R7")


def shuffled_copy(cld: CausalLoopDiagram, seed: int) -> CausalLoopDiagram:
    rng = random.Random(seed)
    nodes = list(cld.graph.nodes(data=True))
    edges = list(cld.graph.edges(data=True))
    rng.shuffle(nodes)
    rng.shuffle(edges)
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    return CausalLoopDiagram(graph, name=cld.name)


def tangled() -> CausalLoopDiagram:
    """Five nodes with eight loops of lengths 1 to 5 and both polarities."""
    graph = nx.DiGraph()
    graph.add_node("Stock A", kind="stock")
    graph.add_node("stock b", kind="stock")
    links = [
        ("Stock A", "x", 1), ("x", "stock b", -1), ("stock b", "Stock A", 1),
        ("x", "Stock A", 1), ("stock b", "y", 1), ("y", "x", -1), ("y", "z", 1),
        ("z", "Stock A", -1), ("z", "z", -1), ("Stock A", "y", 1),
    ]  # fmt: skip
    for source, target, polarity in links:
        graph.add_edge(source, target, polarity=polarity)
    return CausalLoopDiagram(graph)


def test_ids_do_not_depend_on_insertion_order() -> None:
    for cld in (causal_graph(sir()), tangled()):
        reference = find_loops(cld)
        assert len(reference) > 0
        for seed in range(8):
            again = find_loops(shuffled_copy(cld, seed))
            assert [(lp.id, lp.variables, lp.links) for lp in again] == [
                (lp.id, lp.variables, lp.links) for lp in reference
            ]


def test_loops_are_sorted_by_kind_then_length_then_names() -> None:
    loops = find_loops(tangled())
    assert len(loops) == len(list(nx.simple_cycles(tangled().graph)))
    kinds = [lp.kind for lp in loops]
    assert kinds == sorted(kinds, key="RB?".index)
    for kind in "RB":
        of_kind = [lp for lp in loops if lp.kind == kind]
        assert [lp.id for lp in of_kind] == [f"{kind}{i}" for i in range(1, len(of_kind) + 1)]
        assert [lp.length for lp in of_kind] == sorted(lp.length for lp in of_kind)
    assert loops.by_id("B1").variables == ("z",)  # the self-loop is the shortest
    for loop in loops:  # every loop starts at its smallest key
        assert loop.variables[0].casefold() == min(v.casefold() for v in loop.variables)
        assert loop.polarity == _product(sign for _, _, sign in loop.links)


def _product(values) -> int:
    result = 1
    for value in values:
        result *= value
    return result


def test_through_filters_to_loops_containing_the_variable() -> None:
    cld = tangled()
    every = find_loops(cld)
    through_z = find_loops(cld, through="Z")
    assert {lp.variables for lp in through_z} == {
        lp.variables for lp in every if "z" in lp.variables
    }
    assert len(through_z) == 3
    assert [lp.id for lp in find_loops(causal_graph(sir()), through="recovery")] == ["B1"]
    short = find_loops(cld, through="stock_a", max_length=2)
    assert sorted(lp.variables for lp in short) == [("Stock A", "x")]


def test_through_an_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(UnknownNameError, match=r"'Infectous'.*did you mean 'Infectious'"):
        find_loops(causal_graph(sir()), through="Infectous")


def test_max_length_bounds_the_search() -> None:
    cld = tangled()
    lengths = [lp.length for lp in find_loops(cld, max_length=2)]
    assert lengths and max(lengths) == 2
    assert len(find_loops(cld, max_length=1)) == 1


def test_a_huge_search_stops_quickly_and_says_so() -> None:
    graph = nx.relabel_nodes(nx.complete_graph(12, create_using=nx.DiGraph), lambda i: f"v{i:02d}")
    nx.set_edge_attributes(graph, -1, "polarity")
    cld = CausalLoopDiagram(graph)
    started = time.perf_counter()
    loops = find_loops(cld, max_loops=2000)
    assert time.perf_counter() - started < 10
    assert len(loops) == 2000 and loops.truncated
    assert loops.message == "search stopped after 2000 loops; pass max_loops= to see more"
    assert "search stopped after 2000 loops" in loop_table(loops)
    assert len(find_loops(cld, through="v03", max_loops=50)) == 50
    # the truncated search is deterministic too
    assert [lp.variables for lp in find_loops(shuffled_copy(cld, 1), max_loops=2000)] == [
        lp.variables for lp in loops
    ]


def test_a_named_loop_is_traced_in_order_even_beyond_the_search_bound() -> None:
    """A complete 12-node digraph has billions of loops; the named one is still found."""
    graph = nx.relabel_nodes(nx.complete_graph(12, create_using=nx.DiGraph), lambda i: f"v{i:02d}")
    nx.set_edge_attributes(graph, 1, "polarity")
    graph.edges["v07", "v03"]["polarity"] = -1
    cld = CausalLoopDiagram(graph)
    loop = trace_loop(cld, ["V03", "v09", "v07"])  # names resolve as everywhere else
    assert loop is not None and loop.variables == ("v03", "v09", "v07")  # direct links
    assert loop.kind == "B" and loop.id == ""
    truncated = find_loops(cld, max_loops=100)
    assert truncated.truncated
    [(name, named)] = find_named_loops(cld, [("B named", ["v03", "v09", "v07"])], truncated)
    assert name == "B named" and named is not None and named.variables == loop.variables
    assert trace_loop(cld, ["v03", "nowhere"]) is None
    assert trace_loop(cld, ["v03", "v03"]) is None  # a variable named twice


def test_tracing_avoids_the_other_named_variables() -> None:
    """a -> b is direct, but b -> c must not run back through a (that would not be a loop)."""
    graph = nx.DiGraph()
    graph.add_edges_from(
        [("a", "b"), ("b", "a"), ("a", "c"), ("b", "x"), ("x", "c"), ("c", "a")], polarity=1
    )
    loop = trace_loop(CausalLoopDiagram(graph), ["a", "b", "c"])
    assert loop is not None and loop.variables == ("a", "b", "x", "c")
    assert trace_loop(CausalLoopDiagram(graph), ["b", "c", "x"]) is None  # c never reaches x


def test_the_default_bound() -> None:
    assert DEFAULT_MAX_LOOPS == 10_000
    graph = nx.relabel_nodes(nx.complete_graph(9, create_using=nx.DiGraph), str)
    nx.set_edge_attributes(graph, 1, "polarity")
    loops = find_loops(CausalLoopDiagram(graph))
    assert loops.truncated and len(loops) == 10_000


def test_bad_bounds_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_loops"):
        find_loops(tangled(), max_loops=0)
    with pytest.raises(ValueError, match="max_length"):
        find_loops(tangled(), max_length=0)


def test_unknown_link_signs_give_undetermined_loops() -> None:
    graph = nx.DiGraph()
    graph.add_edge("a", "b", polarity=0)
    graph.add_edge("b", "a", polarity=-1, delay=True)
    [loop] = find_loops(CausalLoopDiagram(graph))
    assert (loop.id, loop.kind, loop.polarity, loop.has_delay) == ("U1", "?", 0, True)


def test_to_frame() -> None:
    frame = find_loops(causal_graph(sir())).to_frame()
    assert list(frame.columns) == [
        "id",
        "kind",
        "polarity",
        "length",
        "has_delay",
        "stocks",
        "variables",
    ]
    assert frame["id"].tolist() == ["R1", "B1", "B2"]
    assert frame["polarity"].tolist() == [1, -1, -1]
    assert frame.loc[2, "variables"] == ("Infectious", "Recovery")


def test_loop_table() -> None:
    text = loop_table(find_loops(causal_graph(sir())))
    assert text.splitlines() == [
        "id  polarity  length  delay  stocks       loop",
        "R1  +         2              Infectious   Infection -> Infectious -> Infection",
        "B1  -         2              Susceptible  Infection -> Susceptible -> Infection",
        "B2  -         2              Infectious   Infectious -> Recovery -> Infectious",
    ]
    assert loop_table(LoopSet()) == "no feedback loops"


def test_stocks_follow_the_node_kind() -> None:
    graph = nx.DiGraph()
    graph.add_node("Level", kind=NodeKind.STOCK)
    graph.add_edge("Level", "Rate", polarity=1)
    graph.add_edge("Rate", "Level", polarity=1)
    [loop] = find_loops(CausalLoopDiagram(graph))
    assert (loop.id, loop.stocks) == ("R1", ("Level",))


def test_library_models(models_dir) -> None:
    teacup_file, sir_file = models_dir / "teacup.yaml", models_dir / "sir.yaml"
    if not (teacup_file.exists() and sir_file.exists()):
        pytest.skip("models/teacup.yaml or models/sir.yaml not written yet")
    cup = find_loops(causal_graph(load_yaml(teacup_file)))
    assert [(lp.id, lp.variables) for lp in cup] == [
        ("B1", ("Heat Loss to Room", "Teacup Temperature"))
    ]
    epidemic = find_loops(causal_graph(load_yaml(sir_file)))
    assert [(lp.id, lp.variables) for lp in epidemic] == [
        ("R1", ("Infection Rate", "Infectious")),
        ("B1", ("Infection Rate", "Susceptible")),
        ("B2", ("Infectious", "Recovery Rate")),
    ]
