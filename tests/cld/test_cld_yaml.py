"""The CLD YAML format: exact round trips and strict errors with line and column."""

from __future__ import annotations

import textwrap
from pathlib import Path

import networkx as nx
import pytest

from sdhealth.analysis.loops import find_loops
from sdhealth.cld import CausalLoopDiagram, NodeKind, causal_graph
from sdhealth.cld.yaml_io import cld_from_yaml_text, cld_to_yaml_text, dump_cld, load_cld
from sdhealth.errors import ModelSyntaxError
from sdhealth.io.yaml import load_yaml

DISCHARGE = textwrap.dedent(
    """\
    diagram: Discharge delays
    description: |
      Social-care capacity limits discharges of medically fit patients,
      who then occupy beds.
    nodes:
      Social care capacity:
        kind: stock
        sector: social care
        units: packages
        reference: 1200
        doc: Home-care packages available.
      Supported discharges:
        kind: flow
        reference: 40.5
        equation: MIN(Delayed patients / 2, Social care capacity / 30)
      Delayed patients: {kind: stock, units: patients, reference: 500}
      Bed occupancy: auxiliary
      Beds: constant
      Commissioning:
    links:
      - {from: Social care capacity, to: Supported discharges, polarity: "+"}
      - {from: Supported discharges, to: Delayed patients, polarity: "-"}
      - {from: Delayed patients, to: Supported discharges, polarity: "+"}
      - {from: Delayed patients, to: Bed occupancy, polarity: "+"}
      - {from: Beds, to: Bed occupancy, polarity: -1}
      - {from: Delayed patients, to: Commissioning, polarity: "+", delay: true}
      - {from: commissioning, to: social_care_capacity, polarity: +1}
    """
)


def test_reading_a_hand_written_diagram() -> None:
    cld = cld_from_yaml_text(DISCHARGE, path="discharge.yaml")
    assert cld.name == "Discharge delays"
    assert cld.doc.startswith("Social-care capacity limits")
    capacity = cld.node("Social care capacity")
    assert (capacity.kind, capacity.sector, capacity.units, capacity.reference) == (
        NodeKind.STOCK, "social care", "packages", 1200.0,
    )  # fmt: skip
    assert capacity.doc == "Home-care packages available."
    assert cld.node("Bed occupancy").kind is NodeKind.AUXILIARY
    assert cld.node("Beds").kind is NodeKind.CONSTANT
    assert cld.node("Commissioning").kind is NodeKind.AUXILIARY
    assert cld.link("Beds", "Bed occupancy").polarity == -1
    assert cld.link("Commissioning", "Social care capacity").polarity == 1  # names resolved
    delayed = cld.link("Delayed patients", "Commissioning")
    assert (delayed.delay, delayed.declared) == (True, True)
    equation = cld.node("Supported discharges").equation
    assert equation is not None
    assert equation.free_keys == {"delayed patients", "social care capacity"}
    assert (equation.location.path, equation.location.line, equation.location.column) == (
        "discharge.yaml", 15, 15,
    )  # fmt: skip
    assert [loop.id for loop in find_loops(cld)] == ["B1", "B2"]


def test_round_trip_is_exact() -> None:
    cld = cld_from_yaml_text(DISCHARGE)
    text = cld_to_yaml_text(cld)
    again = cld_from_yaml_text(text)
    assert again == cld
    assert cld_to_yaml_text(again) == text
    assert '{from: Beds, to: Bed occupancy, polarity: "-"}' in text
    assert 'polarity: "+", delay: true}' in text


def test_round_trip_of_a_derived_diagram_keeps_unknown_signs_and_derived_links() -> None:
    graph = nx.DiGraph(name="Derived")
    graph.add_node("Level", kind="stock", reference=0.30000000000000004, units="people")
    graph.add_node("Shape", kind="lookup", sector="x", doc="line one\nline two\n")
    graph.add_edge("Level", "Shape", polarity=0, delay=True, declared=False)
    graph.add_edge("Shape", "Level", polarity=-1, declared=False)
    cld = CausalLoopDiagram(graph)
    text = cld_to_yaml_text(cld)
    assert 'polarity: "?", delay: true, derived: true' in text
    assert cld_from_yaml_text(text) == cld


def test_round_trip_of_the_library_models(models_dir, tmp_path: Path) -> None:
    files = [  # the library's models; causal-loop diagrams there are read by other tests
        path
        for path in sorted(models_dir.glob("*.yaml"))
        if not path.read_text(encoding="utf-8").startswith("diagram:")
    ]
    if not files:
        pytest.skip("no models in the library yet")
    for file in files:
        cld = causal_graph(load_yaml(file))
        target = tmp_path / f"{file.stem}.cld.yaml"
        dump_cld(cld, target)
        assert load_cld(target) == cld
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_to_yaml_replaces_a_file_atomically(tmp_path: Path) -> None:
    target = tmp_path / "out.yaml"
    target.write_text("old")
    dump_cld(cld_from_yaml_text(DISCHARGE), target)
    assert load_cld(target) == cld_from_yaml_text(DISCHARGE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.yaml"]


def error_of(text: str) -> ModelSyntaxError:
    with pytest.raises(ModelSyntaxError) as caught:
        cld_from_yaml_text(textwrap.dedent(text), path="d.yaml")
    return caught.value


BASE = """\
diagram: D
nodes:
  Alpha: stock
  Beta: flow
links:
"""


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (
            "diagram: D\nnode: {}\n",
            2,
            1,
            "unknown key 'node' in the diagram file (did you mean 'nodes'?)",
        ),
        (
            "diagram: D\nnodes:\n  A: {knd: stock}\n",
            3,
            7,
            "unknown key 'knd' in node 'A' (did you mean 'kind'?)",
        ),
        (
            "diagram: D\nnodes:\n  A: {kind: stok}\n",
            3,
            13,
            "must be one of stock, flow, auxiliary, constant, lookup, got 'stok' "
            "(did you mean 'stock'?)",
        ),
        (
            "diagram: D\nnodes:\n  A: {reference: ten}\n",
            3,
            18,
            "'reference' of node 'A' must be a number, got 'ten'",
        ),
        (
            "diagram: D\nnodes:\n  A: {units: 3}\n",
            3,
            14,
            "'units' of node 'A' must be text, got 3 (quote it: '3')",
        ),
        (
            "diagram: D\nnodes:\n  A: [1]\n",
            3,
            6,
            "node 'A' must be a kind (stock, flow ...) or a mapping, got a list",
        ),
        (
            "diagram: D\nnodes:\n  Beds: stock\n  beds: flow\n",
            4,
            3,
            "duplicate node 'beds' (same as 'Beds' on line 3",
        ),
        ("diagram: D\nnodes:\n  Time: stock\n", 3, 3, "'Time' is a builtin name"),
        (
            BASE + "  - {from: Alpha, to: Betta, polarity: '+'}\n",
            6,
            23,
            "link to 'Betta', which is not a declared node (did you mean 'Beta'?)",
        ),
        (
            BASE + "  - {from: Alpha, to: Beta, polarity: plus}\n",
            6,
            39,
            'polarity must be "+" or "-", got \'plus\'',
        ),
        (
            BASE + "  - {from: Alpha, to: Beta, polarity: 2}\n",
            6,
            39,
            'polarity must be "+" or "-", got 2',
        ),
        (
            BASE + "  - {from: Alpha, to: Beta, polarity: '?'}\n",
            6,
            39,
            '"?" is only allowed on derived links',
        ),
        (
            BASE + "  - {from: Alpha, to: Beta, polarity: '+', delay: yes}\n",
            6,
            51,
            "'delay' must be true or false, got 'yes'",
        ),
        (
            BASE + "  - {from: Alpha, to: Beta, polarity: '+', sign: '+'}\n",
            6,
            44,
            "unknown key 'sign' in a link",
        ),
        (BASE + "  - {from: Alpha, to: Beta}\n", 6, 5, "a link is missing required key 'polarity'"),
        (
            BASE
            + "  - {from: Alpha, to: Beta, polarity: '+'}\n"
            + "  - {from: alpha, to: BETA, polarity: '-'}\n",
            7,
            5,
            "duplicate link 'Alpha' -> 'Beta' (first written on line 6)",
        ),
        (BASE + "  - Alpha -> Beta\n", 6, 5, "a link must be a mapping"),
        ("diagram: D\nnodes: {A: stock}\nlinks: {A: B}\n", 3, 8, "'links' must be a list"),
        ("nodes: {A: stock}\n", 1, 1, "missing required key 'diagram'"),
        ("diagram: D\n", 1, 1, "missing required key 'nodes'"),
        ("diagram: D\nnodes: {A: stock, A: flow}\n", 2, 19, "duplicate key 'A'"),
        ("diagram: D\nnodes: [A\n", 3, 1, "invalid YAML"),
        ("model: M\ntime: {stop: 1, dt: 1}\n", 1, 1, "this looks like a model file"),
    ],
)
def test_strict_errors_point_at_the_line_and_column(
    text: str, line: int, column: int, message: str
) -> None:
    error = error_of(text)
    assert (error.path, error.line, error.column) == ("d.yaml", line, column), str(error)
    assert message in error.message


def test_equation_errors_point_into_the_equation() -> None:
    bad_syntax = "diagram: D\nnodes:\n  A: stock\n  B:\n    equation: A * (2 +\n"
    error = error_of(bad_syntax)
    assert (error.line, error.column) == (5, 23)
    unknown = "diagram: D\nnodes:\n  Alpha: stock\n  B:\n    equation: 2 * Alpah\n"
    error = error_of(unknown)
    assert (error.line, error.column) == (5, 19)
    assert "reads 'alpah', which is not a node of the diagram (did you mean 'Alpha'?)" in str(error)
    folded = (
        "diagram: D\nnodes:\n  Alpha: stock\n  B:\n    equation: >-\n      Alpha\n      * Gamma\n"
    )
    error = error_of(folded)
    assert (error.line, error.column) == (7, 9)


def test_missing_file() -> None:
    with pytest.raises(ModelSyntaxError, match="no such diagram file"):
        load_cld("/nonexistent/diagram.yaml")
