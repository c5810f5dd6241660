"""CLD -> stock-and-flow compilation: known behaviour through PySD, reproduced signs, errors.

Every compiled model goes through :func:`assert_compiled_faithfully`: ``sd.check`` finds
nothing, every declared link's sign and delay mark is what the equations give back
(``model.cld()``, i.e. :func:`sdhealth.cld.derivatives.model_link_signs`), and the loops of
the compiled model are the diagram's loops with the same ids and polarities.
"""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import sympy

import sdhealth as sd
from sdhealth import CausalLoopDiagram  # the facade: diagrams with .compile() and .loops()
from sdhealth.cld.compile import (
    compile_diagram,
    delay_time_name,
    diagram_clock,
    effect_curve_problem,
    effect_name,
    reference_name,
)
from sdhealth.cld.yaml_io import cld_from_yaml_text, cld_to_yaml_text
from sdhealth.errors import ModelError, ModelSyntaxError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Constant, Lookup, Stock, TimeSpec, symbol


def assert_compiled_faithfully(cld: CausalLoopDiagram, model: sd.Model) -> None:
    """Checks pass, every link's recomputed sign and delay is the declared one, loops agree."""
    assert sd.check(model) == []
    derived = model.cld()
    for link in cld.links:
        found = derived.link(link.source, link.target)
        assert (found.polarity, found.delay) == (link.polarity, link.delay), link
    declared = [(lp.id, lp.polarity, lp.variables, lp.has_delay) for lp in cld.loops()]
    compiled = [(lp.id, lp.polarity, lp.variables, lp.has_delay) for lp in derived.loops()]
    assert compiled == declared


def diagram(name: str, nodes: dict[str, dict], links: list[tuple]) -> CausalLoopDiagram:
    """A diagram from ``{name: attributes}`` and ``(from, to, polarity, attributes...)``."""
    graph = nx.DiGraph()
    for node, attributes in nodes.items():
        graph.add_node(node, **attributes)
    for source, target, polarity, *extra in links:
        graph.add_edge(source, target, polarity=polarity, **(extra[0] if extra else {}))
    return CausalLoopDiagram(graph, name=name)


def goal_seeking() -> CausalLoopDiagram:
    return diagram(
        "Ward",
        {
            "Patients": {"kind": "stock", "reference": 100, "initial": 40, "units": "patients"},
            "Admissions": {"kind": "flow", "reference": 10, "units": "patients/month"},
            "Discharges": {"kind": "flow", "reference": 10, "units": "patients/month"},
        },
        [
            ("Admissions", "Patients", 1),
            ("Patients", "Discharges", 1),
            ("Discharges", "Patients", -1),
        ],
    )


# ----------------------------------------------------------------------- known behaviour


def test_goal_seeking_follows_the_euler_recurrence_and_the_closed_form() -> None:
    cld = goal_seeking()
    model = cld.compile(time=TimeSpec(stop=60, dt=0.25, units="month"))
    assert_compiled_faithfully(cld, model)
    assert [loop.id for loop in model.loops()] == ["B1"]
    run = model.run()
    # dS/dt = 10 - 10 * S / 100: goal 100, time constant 10 months
    expected = [40.0]
    for _ in range(240):
        expected.append(expected[-1] + 0.25 * (10 - expected[-1] / 10))
    np.testing.assert_allclose(run["Patients"].to_numpy(), expected, rtol=1e-9)
    closed = 100 - 60 * np.exp(-run.index.to_numpy() / 10)
    assert np.abs(run["Patients"].to_numpy() - closed).max() < 0.4
    assert run["Patients"].iloc[-1] == pytest.approx(100, abs=0.2)


def test_exponential_growth_at_the_reference_rate() -> None:
    cld = diagram(
        "Growth",
        {
            "Population": {"kind": "stock", "reference": 1000},
            "Births": {"kind": "flow", "reference": 20},
        },
        [("Population", "Births", 1), ("Births", "Population", 1)],
    )
    model = cld.compile(time=TimeSpec(stop=24, dt=0.25))
    assert_compiled_faithfully(cld, model)
    assert [loop.id for loop in model.loops()] == ["R1"]
    run = model.run()
    steps = np.arange(len(run))
    np.testing.assert_allclose(run["Population"], 1000 * (1 + 0.25 * 0.02) ** steps, rtol=1e-9)
    assert run["Population"].iloc[-1] == pytest.approx(1000 * math.exp(0.02 * 24), rel=2e-3)


def test_growth_rate_is_the_elasticity_times_the_reference_rate() -> None:
    # births balance a fixed emigration at the reference; a small excess then grows at
    # elasticity * (reference births / reference population) = 1.5 * 0.02 per month
    cld = diagram(
        "Growth",
        {
            "Population": {"kind": "stock", "reference": 1000, "initial": 1000.5},
            "Births": {"kind": "flow", "reference": 20},
            "Emigration": {"kind": "flow", "reference": 20},
        },
        [
            ("Population", "Births", 1, {"elasticity": 1.5}),
            ("Births", "Population", 1),
            ("Emigration", "Population", -1),
        ],
    )
    model = cld.compile(time=TimeSpec(stop=24, dt=0.25))
    assert_compiled_faithfully(cld, model)
    excess = model.run()["Population"] - 1000
    rate = math.log(excess.iloc[-1] / excess.iloc[0]) / 24
    assert rate == pytest.approx(math.log(1 + 0.25 * 0.03) / 0.25, rel=1e-3)


def logistic() -> CausalLoopDiagram:
    """Births 0.1 * P, deaths 0.1 * P * crowding, crowding = P / capacity: logistic growth."""
    return diagram(
        "Logistic",
        {
            "Population": {"kind": "stock", "reference": 1000, "initial": 10},
            "Births": {"kind": "flow", "reference": 100},
            "Deaths": {"kind": "flow", "reference": 100},
            "Crowding": {"kind": "auxiliary", "reference": 1},
            "Capacity": {"kind": "constant", "reference": 1000},
        },
        [
            ("Population", "Births", 1),
            ("Births", "Population", 1),
            ("Population", "Deaths", 1),
            ("Deaths", "Population", -1),
            ("Population", "Crowding", 1),
            ("Capacity", "Crowding", -1),
            ("Crowding", "Deaths", 1),
        ],
    )


def test_s_shaped_growth_has_its_inflection_at_half_capacity_and_plateaus_there() -> None:
    cld = logistic()
    model = cld.compile(time=TimeSpec(stop=150, dt=0.125))
    assert_compiled_faithfully(cld, model)
    assert sorted(loop.kind for loop in model.loops()) == ["B", "B", "R"]
    population = model.run()["Population"]
    assert (np.diff(population) > 0).all() and population.max() < 1000
    growth = population.diff()
    inflection = growth.idxmax()
    assert inflection == pytest.approx(math.log(99) / 0.1, abs=1.5)  # 45.95 months
    assert population[inflection] == pytest.approx(500, rel=0.03)
    assert population.iloc[-1] == pytest.approx(1000, rel=1e-3)
    expected = [10.0]
    for _ in range(len(population) - 1):
        level = expected[-1]
        expected.append(level + 0.125 * (0.1 * level - 0.1 * level * level / 1000))
    np.testing.assert_allclose(population, expected, rtol=1e-9)
    closed = 1000 / (1 + 99 * np.exp(-0.1 * population.index.to_numpy()))
    assert np.abs(population.to_numpy() - closed).max() < 10  # Euler's lag, under 1%
    # the generated constants can be changed per run: doubling capacity doubles the plateau
    bigger = model.run(params={"Capacity": 2000})["Population"]
    assert bigger.iloc[-1] == pytest.approx(2000, rel=2e-3)


def test_generated_equations_constants_and_docs() -> None:
    model = logistic().compile(time=TimeSpec(stop=10))
    deaths = model["Deaths"]
    assert deaths.equation.text == (
        "Reference Deaths * (Population / Reference Population) * (Crowding / Reference Crowding)"
    )
    population, crowding = symbol("Population"), symbol("Crowding")
    assert sympy.simplify(
        deaths.equation.expr
        - symbol("Reference Deaths")
        * population / symbol("Reference Population")
        * crowding / symbol("Reference Crowding")
    ) == 0  # fmt: skip
    assert model["Crowding"].equation.text == (
        "Reference Crowding * (Population / Reference Population) "
        "* (Capacity / Reference Capacity)^-1"
    )
    assert "Standard formulation" in deaths.doc and "power law" in deaths.doc
    reference = model[reference_name("Population")]
    assert isinstance(reference, Constant) and reference.value == 1000.0
    assert "measured from" in reference.doc
    stock = model["Population"]
    assert isinstance(stock, Stock)
    assert (stock.inflows, stock.outflows, stock.non_negative) == (("Births",), ("Deaths",), True)
    assert stock.initial.expr == 10
    assert model["Capacity"].value == 1000.0


# ----------------------------------------------------------------------- delays and lookups


def smoothing(order: int) -> CausalLoopDiagram:
    return diagram(
        "Perception",
        {
            "Beds": {"kind": "constant", "reference": 1, "units": "beds"},
            "Perceived beds": {"kind": "auxiliary", "reference": 10, "units": "beds"},
        },
        [("Beds", "Perceived beds", 1, {"delay": True, "delay_time": 4, "delay_order": order})],
    )


def test_a_delayed_link_becomes_a_first_order_smooth_with_its_delay_time() -> None:
    cld = smoothing(1)
    model = cld.compile(time=TimeSpec(stop=20, dt=0.25, units="month"))
    assert_compiled_faithfully(cld, model)
    delay = model[delay_time_name("Beds", "Perceived beds")]
    assert (delay.value, delay.units) == (4.0, "month")
    smooths = list(model["Perceived beds"].equation.expr.atoms(fn.SMOOTH))
    assert smooths == [fn.SMOOTH(symbol("Beds"), symbol("Delay time of Beds on Perceived beds"))]
    assert "first-order information delay" in model["Perceived beds"].doc
    run = model.run(policies=[sd.step("Beds", to=2, at=5)])
    smooth, expected = 1.0, []
    for time in run.index:
        expected.append(10 * smooth)
        beds = 2.0 if time + 0.125 > 5 else 1.0  # Vensim's half-step rule for STEP
        smooth += 0.25 * (beds - smooth) / 4
    np.testing.assert_allclose(run["Perceived beds"], expected, rtol=1e-9)


def test_a_third_order_delay_becomes_smooth3_and_responds_later() -> None:
    cld = smoothing(3)
    model = cld.compile(time=TimeSpec(stop=40, dt=0.25))
    assert_compiled_faithfully(cld, model)
    assert model["Perceived beds"].equation.expr.atoms(fn.SMOOTH3)
    assert not model["Perceived beds"].equation.expr.atoms(fn.SMOOTH)
    first = smoothing(1).compile(time=TimeSpec(stop=40, dt=0.25))
    policies = [sd.step("Beds", to=2, at=5)]
    third_run, first_run = model.run(policies=policies), first.run(policies=policies)
    assert third_run.loc[7, "Perceived beds"] < first_run.loc[7, "Perceived beds"]
    assert third_run.loc[40, "Perceived beds"] == pytest.approx(20, rel=1e-3)


def test_a_delayed_link_in_a_loop_keeps_the_loop_delayed() -> None:
    cld = diagram(
        "Ward",
        {
            "Patients": {"kind": "stock", "reference": 100},
            "Admissions": {"kind": "flow", "reference": 10},
            "Discharges": {"kind": "flow", "reference": 10},
        },
        [
            ("Admissions", "Patients", 1),
            ("Patients", "Discharges", 1, {"delay": True, "delay_time": 2}),
            ("Discharges", "Patients", -1),
        ],
    )
    model = cld.compile(time=TimeSpec(stop=30, dt=0.125))
    assert_compiled_faithfully(cld, model)
    assert model.loops()[0].has_delay
    assert model.run()["Patients"].iloc[-1] == pytest.approx(100)


def test_a_lookup_effect_becomes_a_named_lookup_of_the_ratio() -> None:
    cld = diagram(
        "Admissions",
        {
            "Patients": {"kind": "stock", "reference": 100},
            "Admissions": {"kind": "flow", "reference": 10},
            "Discharges": {"kind": "flow", "reference": 10},
            "Beds": {"kind": "constant", "reference": 50},
        },
        [
            ("Admissions", "Patients", 1),
            ("Patients", "Discharges", 1),
            ("Discharges", "Patients", -1),
            ("Patients", "Admissions", -1, {"lookup": [[0, 2], [1, 1], [2, 0.5]]}),
            ("Beds", "Admissions", 1, {"lookup": [[0, 0], [1, 1], [3, 2]]}),
        ],
    )
    model = cld.compile(time=TimeSpec(stop=12, dt=0.25))
    assert_compiled_faithfully(cld, model)
    table = model[effect_name("Beds", "Admissions")]
    assert isinstance(table, Lookup)
    assert (table.xs, table.ys, table.units) == ((0.0, 1.0, 3.0), (0.0, 1.0, 2.0), "dmnl")
    expr = model["Admissions"].equation.expr
    assert fn.LOOKUP(symbol(table.name), symbol("Beds") / symbol("Reference Beds")) in set(
        expr.atoms(fn.LOOKUP)
    )
    # at the start Patients is at its reference; Beds 75 is 1.5 x its reference: 1.25
    run = model.run(params={"Beds": 75})
    assert run["Admissions"].iloc[0] == pytest.approx(10 * 1.25)
    assert run["Patients"].iloc[-1] > 100  # more beds, more patients


def test_effect_curves_must_follow_their_polarity_and_pass_through_one() -> None:
    assert effect_curve_problem([(0, 1.5), (1, 1), (2, 0.8)], -1) is None
    assert "must never fall" in effect_curve_problem([(0, 1.5), (1, 1), (2, 0.8)], 1)
    assert "rises and falls" in effect_curve_problem([(0, 0), (1, 1), (2, 0.5)], 1)
    assert "is flat" in effect_curve_problem([(0, 1), (2, 1)], 1)
    assert "pass through (1, 1)" in effect_curve_problem([(0, 0), (2, 1)], 1)
    assert "increase strictly" in effect_curve_problem([(0, 0), (0, 1), (1, 1)], 1)
    assert "at least two" in effect_curve_problem([(1, 1)], 1)


# ----------------------------------------------------------------------- explicit equations


def occupancy(equation_text: str) -> CausalLoopDiagram:
    from sdhealth.io.expressions import parse_equation

    cld = goal_seeking()
    graph = cld.to_networkx()
    graph.add_node("Beds", kind="constant", reference=120)
    graph.add_node(
        "Occupancy", kind="auxiliary", reference=100 / 120, equation=parse_equation(equation_text)
    )
    graph.add_edge("Patients", "Occupancy", polarity=1)
    graph.add_edge("Beds", "Occupancy", polarity=-1)
    graph.add_edge("Occupancy", "Admissions", polarity=-1)
    return CausalLoopDiagram(graph, name="Ward")


def test_an_explicit_equation_is_kept_and_checked_against_its_links() -> None:
    cld = occupancy("Patients / Beds")
    model = cld.compile(time=TimeSpec(stop=12, dt=0.25))
    assert_compiled_faithfully(cld, model)
    assert model["Occupancy"].equation.text == "Patients / Beds"
    assert "Equation written in the diagram" in model["Occupancy"].doc
    # Occupancy needs a reference as an input of the admissions' standard formulation
    assert model[reference_name("Occupancy")] is not None


def test_an_equation_contradicting_its_declared_polarity_is_an_error() -> None:
    with pytest.raises(ModelError) as caught:
        occupancy("Beds / Patients").compile(time=TimeSpec(stop=12))
    message = str(caught.value)
    assert "link 'Patients' -> 'Occupancy' is declared '+', but the equation" in message
    assert "link 'Beds' -> 'Occupancy' is declared '-'" in message
    assert {issue.code for issue in caught.value.issues} == {"cld-polarity"}


def test_an_equation_must_read_exactly_its_links() -> None:
    with pytest.raises(ModelError) as caught:
        occupancy("Patients / 120").compile(time=TimeSpec(stop=12))
    assert "its equation does not read 'Beds', which links to it" in str(caught.value)


# ----------------------------------------------------------------------- missing information


def test_everything_missing_is_listed_in_one_error() -> None:
    cld = diagram(
        "Broken",
        {
            "Beds": {"kind": "stock", "reference": 100},
            "Patients": {"kind": "stock", "reference": 50},
            "Discharge rate": {"kind": "flow"},
            "Pressure": {"kind": "auxiliary", "reference": 1},
            "Staff": {"kind": "auxiliary"},
            "Target": {"kind": "constant", "reference": 5},
            "Orphan flow": {"kind": "flow", "reference": 2},
            "A": {"kind": "auxiliary", "reference": 1},
            "B": {"kind": "auxiliary", "reference": 1},
        },
        [
            ("Patients", "Discharge rate", 1),
            ("Discharge rate", "Patients", -1),
            ("Staff", "Pressure", -1),
            ("Pressure", "Target", 1),
            ("Patients", "Pressure", 1, {"delay": True}),
            ("A", "B", 1),
            ("B", "A", 1),
        ],
    )
    with pytest.raises(ModelError) as caught:
        cld.compile()
    message = str(caught.value)
    assert message.startswith("cannot compile 'Broken': the diagram has no clock")
    expected = [
        "'Beds' (stock) has no flows",
        "'Discharge rate' (flow) needs a reference value",
        "'Target' (constant) cannot have causes (links from 'Pressure')",
        "'Orphan flow' (flow) fills or drains no stock",
        "'Pressure' (auxiliary) needs a delay time for its delayed input 'Patients'",
        "'Staff' (auxiliary) needs a reference value (or an equation)",
        "the loop 'A' -> 'B' -> 'A' has no stock and no delayed link",
    ]
    for fragment in expected:
        assert fragment in message
    assert len(caught.value.issues) == len(expected) + 1  # and the clock
    assert "it is an input of" not in message  # 'Staff' is not asked twice
    assert {issue.variable for issue in caught.value.issues} >= {"Beds", "Discharge rate", "Staff"}


def test_references_must_be_positive_for_standard_formulations() -> None:
    cld = diagram(
        "Negative",
        {
            "Level": {"kind": "stock", "reference": -5},
            "Outflow": {"kind": "flow", "reference": 0},
        },
        [("Level", "Outflow", 1), ("Outflow", "Level", -1)],
    )
    with pytest.raises(ModelError) as caught:
        cld.compile(time=TimeSpec(stop=1))
    message = str(caught.value)
    assert "'Outflow' (flow) needs a positive reference value for its standard formulation" in (
        message
    )
    assert "'Level' (stock) needs a positive reference value, got -5" in message


def test_links_that_make_no_sense_are_listed() -> None:
    cld = diagram(
        "Odd",
        {
            "Level": {"kind": "stock", "reference": 5},
            "Inflow": {"kind": "flow", "reference": 1},
            "Push": {"kind": "auxiliary", "reference": 1},
            "Curve": {"kind": "lookup"},
            "Reference Push": {"kind": "constant", "reference": 3},
        },
        [
            ("Inflow", "Level", 1, {"delay": True, "delay_time": 2}),
            ("Push", "Level", 1),
            ("Level", "Push", 1, {"lookup": [[0, 2], [1, 1]]}),
            ("Level", "Inflow", 1, {"elasticity": -2}),
        ],
    )
    with pytest.raises(ModelError) as caught:
        cld.compile(time=TimeSpec(stop=1))
    message = str(caught.value)
    for fragment in (
        "a flow fills or drains its stock directly, so the link takes no delay",
        "only flows change a stock, and 'Push' (auxiliary) is not a flow",
        "link 'Level' -> 'Push': the curve falls, but the link's polarity is '+'",
        "link 'Level' -> 'Inflow': elasticity must be a positive number, got -2",
        "'Curve' (lookup): lookup nodes are not compiled",
        "'Reference Push' (constant): compilation generates a variable called 'Reference Push'",
    ):
        assert fragment in message


def test_a_diagram_built_in_code_has_its_attributes_checked_too() -> None:
    cld = diagram(
        "Code",
        {
            "Level": {"kind": "stock", "reference": 5, "initial": "five"},
            "Outflow": {"kind": "flow", "reference": 1, "initial": 2},
        },
        [
            ("Level", "Outflow", 1, {"lookup": [[0, 0], [1]], "delay_order": 2}),
            ("Outflow", "Level", -1),
        ],
    )
    with pytest.raises(ModelError) as caught:
        cld.compile(time=TimeSpec(stop=1))
    message = str(caught.value)
    for fragment in (
        "'Level' (stock): initial must be a number, got 'five'",
        "'Outflow' (flow): only stocks have an initial value",
        "link 'Level' -> 'Outflow': lookup must be a list of [x, y] number pairs",
        "link 'Level' -> 'Outflow': delay_time and delay_order need the link to be marked delayed",
        "link 'Level' -> 'Outflow': delay_order must be 1 or 3, got 2",
    ):
        assert fragment in message


# ----------------------------------------------------------------------- YAML and the clock

EXTENDED = textwrap.dedent(
    """\
    diagram: Ward
    description: A ward whose discharges depend on staff, seen with a delay.
    time: {start: 0, stop: 24, dt: 0.125, saveper: 1, units: month}
    nodes:
      Patients:
        kind: stock
        units: patients
        reference: 100
        initial: 80
        doc: Patients in the ward.
        source: Ward census, 2024 (illustrative)
      Admissions: {kind: flow, units: patients/month, reference: 10}
      Discharges: {kind: flow, units: patients/month, reference: 10}
      Staff: {kind: constant, units: FTE, reference: 20, source: Rota (illustrative)}
      Occupancy:
        kind: auxiliary
        units: dmnl
        reference: 0.8
        equation: Patients / Beds
      Beds: {kind: constant, units: patients, reference: 125}
    links:
      - {from: Admissions, to: Patients, polarity: "+"}
      - {from: Discharges, to: Patients, polarity: "-"}
      - {from: Patients, to: Discharges, polarity: "+", elasticity: 0.8}
      - {from: Staff, to: Discharges, polarity: "+", delay: true, delay_time: 2, delay_order: 3}
      - {from: Patients, to: Occupancy, polarity: "+"}
      - {from: Beds, to: Occupancy, polarity: "-"}
      - {from: Occupancy, to: Admissions, polarity: "-", lookup: [[0, 1.2], [1, 1], [1.5, 0]]}
    """
)


def test_the_extended_format_round_trips_exactly() -> None:
    cld = cld_from_yaml_text(EXTENDED)
    assert diagram_clock(cld) == TimeSpec(start=0, stop=24, dt=0.125, saveper=1, units="month")
    patients = cld.graph.nodes["Patients"]
    assert (patients["initial"], patients["source"]) == (80.0, "Ward census, 2024 (illustrative)")
    assert cld.graph.edges["Patients", "Discharges"]["elasticity"] == 0.8
    staff = cld.graph.edges["Staff", "Discharges"]
    assert (staff["delay"], staff["delay_time"], staff["delay_order"]) == (True, 2.0, 3)
    assert cld.graph.edges["Occupancy", "Admissions"]["lookup"] == ((0, 1.2), (1, 1), (1.5, 0))
    text = cld_to_yaml_text(cld)
    assert "time: {start: 0, stop: 24, dt: 0.125, saveper: 1, units: month}" in text
    assert "lookup: [[0, 1.2], [1, 1], [1.5, 0]]" in text
    assert "delay: true, delay_time: 2, delay_order: 3}" in text
    again = cld_from_yaml_text(text)
    assert again == cld
    assert cld_to_yaml_text(again) == text
    for name in cld:
        assert dict(again.graph.nodes[name]).keys() == dict(cld.graph.nodes[name]).keys()
    assert list(again.graph.edges(data=True)) == list(cld.graph.edges(data=True))
    assert diagram_clock(again) == diagram_clock(cld)


def test_a_diagram_read_from_yaml_compiles_and_runs_on_its_own_clock(tmp_path) -> None:
    path = tmp_path / "ward.cld.yaml"
    path.write_text(EXTENDED, encoding="utf-8")
    cld = sd.CausalLoopDiagram.from_yaml(path)
    model = cld.compile()
    assert_compiled_faithfully(cld, model)
    assert model.time.stop == 24 and model.time.save_every == 1
    assert model["Patients"].source == "Ward census, 2024 (illustrative)"
    assert model["Reference Staff"].source == "Rota (illustrative)"
    assert model["Occupancy"].equation.location.line == 19
    run = model.run()
    assert list(run.index) == [float(t) for t in range(25)]
    assert run["Patients"].iloc[0] == 80
    assert (run["Patients"].diff().dropna() > 0).all()  # fills back toward its reference
    assert run["Patients"].iloc[-1] < 100
    # the compiled model writes as a model file and reads back with the same equations
    model.to_yaml(tmp_path / "ward.yaml")
    reloaded = sd.load(tmp_path / "ward.yaml")
    assert sorted(reloaded.ir.names) == sorted(model.ir.names)
    for variable in model.ir.variables:
        again = reloaded.ir[variable.name]
        assert type(again) is type(variable)
        for mine, theirs in zip(variable.equations(), again.equations(), strict=True):
            assert sympy.simplify(mine.expr - theirs.expr) == 0, variable.name


@pytest.mark.parametrize(
    ("link", "where", "message"),
    [
        (
            '{from: A, to: B, polarity: "+", lookup: [[0, 0.5], [1, 1], [2, 0.5]]}',
            "6:45",
            "'lookup': the curve rises and falls, but the link's polarity is '+'",
        ),
        (
            '{from: A, to: B, polarity: "-", lookup: [[0, 3], [2, 1]]}',
            "6:45",
            "'lookup': an effect curve must pass through (1, 1) -- an input at its reference "
            "value has no effect -- but it gives 2 at x = 1",
        ),
        (
            '{from: A, to: B, polarity: "+", lookup: [[0, 1], [1]]}',
            "6:54",
            "'lookup' must be a list of [x, y] points, like [[0, 0.5], [1, 1], [2, 1.4]], "
            "got a list",
        ),
        (
            '{from: A, to: B, polarity: "+", delay_time: 3}',
            "6:37",
            "'delay_time' is only for delayed links (add 'delay: true')",
        ),
        (
            '{from: A, to: B, polarity: "+", delay: true, delay_order: 2}',
            "6:63",
            "'delay_order' must be 1 or 3, got 2",
        ),
        (
            '{from: A, to: B, polarity: "+", elasticity: -0.5}',
            "6:49",
            "'elasticity' must be a positive number (the polarity gives its sign), got -0.5",
        ),
        (
            '{from: A, to: B, polarity: "+", elasticity: 1, lookup: [[0, 0], [1, 1]]}',
            "6:52",
            "give either 'elasticity' or 'lookup', not both",
        ),
    ],
)
def test_link_settings_are_strict_with_line_and_column(link: str, where: str, message: str) -> None:
    text = (
        f"diagram: X\nnodes:\n  A: {{kind: stock, reference: 1}}\n  B: flow\nlinks:\n  - {link}\n"
    )
    with pytest.raises(ModelSyntaxError) as caught:
        cld_from_yaml_text(text, path="x.yaml")
    assert str(caught.value).startswith(f"x.yaml:{where}: {message}")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("time: {stop: 10}\n", "1:1", "'time' is missing required key 'dt'"),
        ("time: {stop: 10, dt: 0}\n", "1:22", "'dt' must be positive, got 0"),
        ("time: {stop: 10, dt: 1, unit: month}\n", "1:25", "unknown key 'unit' in 'time'"),
        (
            "nodes:\n  A: {kind: flow, initial: 3}\n",
            "2:19",
            "'initial' is only for stocks, and node 'A' is a flow",
        ),
        (
            "nodes:\n  A: {kind: stock, initial: lots}\n",
            "2:29",
            "'initial' of node 'A' must be a number, got 'lots'",
        ),
    ],
)
def test_clock_and_initial_values_are_strict(text: str, where: str, message: str) -> None:
    source = "diagram: X\n" + text + ("nodes: {A: stock}\n" if "nodes" not in text else "")
    with pytest.raises(ModelSyntaxError) as caught:
        cld_from_yaml_text(source, path="x.yaml")
    line, column = where.split(":")
    expected_line = int(line) + 1  # after the "diagram:" line
    assert str(caught.value).startswith(f"x.yaml:{expected_line}:{column}: ")
    assert message in str(caught.value)


def test_the_time_argument_overrides_the_diagram_clock() -> None:
    cld = cld_from_yaml_text(EXTENDED)
    model = compile_diagram(cld, time=TimeSpec(stop=6, dt=0.5))
    assert (model.time.stop, model.time.dt) == (6, 0.5)


def test_the_derived_diagram_of_a_model_compiles_to_a_model_with_the_same_loops() -> None:
    teacup = sd.load("models/teacup.yaml")
    derived = teacup.cld()
    compiled = derived.compile(time=teacup.time)
    assert_compiled_faithfully(derived, compiled)
    run = compiled.run()
    assert run["Teacup Temperature"].iloc[0] == 180
    assert run["Teacup Temperature"].is_monotonic_decreasing


def test_the_compilation_example_of_the_format_page_compiles_as_documented() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "cld-format.md").read_text("utf-8")
    section = page.split("## Compiling a diagram", 1)[1]
    text = re.search(r"```yaml\n(.*?)```", section, flags=re.DOTALL).group(1)
    cld = CausalLoopDiagram.adopt(cld_from_yaml_text(text))
    model = cld.compile()
    assert_compiled_faithfully(cld, model)
    equations = re.search(r"compile to\n\n```\n(.*?)```", section, flags=re.DOTALL).group(1)
    for line in equations.strip().splitlines():
        name, equation = line.split(" = ", 1)
        assert model[name].equation.text == equation
    assert model.run()["Patients"].iloc[-1] > 80
