"""Pictures of diagrams: DOT text and PNG/SVG files."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from sdhealth.analysis.loops import find_loops
from sdhealth.cld import CausalLoopDiagram
from sdhealth.cld.render import draw, to_dot
from sdhealth.errors import SdhealthError


def epidemic() -> CausalLoopDiagram:
    graph = nx.DiGraph(name="SIR")
    graph.add_node("Susceptible", kind="stock", sector="people")
    graph.add_node("Infectious", kind="stock", sector="people")
    graph.add_node("Infection", kind="flow")
    graph.add_node("Recovery", kind="flow")
    graph.add_node('Contacts "per day"', kind="constant")
    for source, target, polarity in [
        ("Susceptible", "Infection", 1), ("Infectious", "Infection", 1),
        ("Infection", "Susceptible", -1), ("Infection", "Infectious", 1),
        ("Infectious", "Recovery", 1), ("Recovery", "Infectious", -1),
        ('Contacts "per day"', "Infection", 1),
    ]:  # fmt: skip
        graph.add_edge(source, target, polarity=polarity, delay=target == "Recovery")
    return CausalLoopDiagram(graph)


def test_dot_text() -> None:
    dot = to_dot(epidemic())
    lines = dot.splitlines()
    assert lines[0] == 'digraph "SIR" {' and lines[-1] == "}"
    assert '    "Susceptible" [shape=box, style="rounded,bold"];' in lines
    assert '  "Infection" [shape=ellipse, style=bold];' in lines
    assert '  "Contacts \\"per day\\"" [shape=plaintext];' in lines
    assert "  subgraph cluster_1 {" in lines and '    label="people"; style=dashed;' in lines
    assert (
        '  "Infection" -> "Susceptible" [label="-", color="#b22222", fontcolor="#b22222"];' in lines
    )
    assert (
        '  "Infectious" -> "Recovery" [label="+ ||", color="#1f6f3f", fontcolor="#1f6f3f"];'
        in lines
    )
    assert (
        'label="Loops:\\lR1 (+): Infection -> Infectious -> Infection\\l'
        "B1 (-): Infection -> Susceptible -> Infection\\l"
        'B2 (-): Infectious -> Recovery -> Infectious\\l";'
    ) in dot
    assert sum(" -> " in line and "[label=" in line for line in lines) == 7


def test_dot_legend_lists_at_most_max_loops() -> None:
    cld = epidemic()
    dot = to_dot(cld, loops=find_loops(cld), max_loops=1)
    assert "R1 (+)" in dot and "B1 (-)" not in dot
    assert "2 more loops not shown" in dot
    assert 'label="no feedback loops"' in to_dot(CausalLoopDiagram(_chain()))


def _chain() -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_edge("a", "b", polarity=1)
    return graph


def test_draw_png(tmp_path: Path) -> None:
    target = tmp_path / "sir.png"
    draw(epidemic(), target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sir.png"]


def test_draw_svg_labels_the_loops(tmp_path: Path) -> None:
    target = tmp_path / "sir.svg"
    draw(epidemic(), target)
    text = target.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for loop_id in ("R1", "B1", "B2"):
        assert f"<!-- {loop_id} -->" in text  # matplotlib names each text element in a comment


def test_draw_an_empty_diagram(tmp_path: Path) -> None:
    target = tmp_path / "empty.png"
    draw(CausalLoopDiagram(nx.DiGraph(), name="Empty"), target)
    assert target.read_bytes()[:4] == b"\x89PNG"


def test_draw_rejects_other_formats_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "sir.bmp"
    with pytest.raises(SdhealthError, match=r"cannot draw a diagram to .*sir\.bmp.*\.png"):
        draw(epidemic(), target)
    assert not target.exists()


def test_the_picture_does_not_depend_on_the_order_nodes_were_added(tmp_path) -> None:
    """A seeded layout depends on node order; the same diagram built in another order (as a
    subgraph of a set of names is, from run to run) must still give the same picture."""
    forward = epidemic()
    backward = nx.DiGraph(name="SIR")
    backward.add_nodes_from(reversed(list(forward.graph.nodes(data=True))))
    backward.add_edges_from(reversed(list(forward.graph.edges(data=True))))
    draw(forward, tmp_path / "a.png")
    draw(CausalLoopDiagram(backward), tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
