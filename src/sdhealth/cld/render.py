"""Pictures of causal-loop diagrams: Graphviz DOT text and PNG/SVG/PDF drawings.

:func:`to_dot` writes DOT text itself (no graphviz dependency): stocks are boxes, flows bold
ellipses, auxiliaries ellipses, constants plain text and lookups notes; nodes of one sector are
grouped in a cluster; links are labelled ``+``, ``-`` or ``?``, with ``||`` added on delayed
links; the loops are listed in a legend (the graph's label).

:func:`draw` lays the diagram out with networkx (a seeded spring layout, so the same diagram
gives the same picture, whatever order its nodes were added in) and draws it with matplotlib
-- without pyplot, so no window and no global state -- and writes the file atomically. Each
loop's id (``R1``, ``B1`` ...) is placed at the centroid of its variables.

Both take the loops to show; by default they find them with
:func:`sdhealth.analysis.loops.find_loops` (imported when called, as analysis sits above cld)
and show at most ``max_loops`` of them, shortest first, saying how many were left out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from sdhealth.cld.diagram import CausalLoopDiagram, NodeKind
from sdhealth.errors import SdhealthError
from sdhealth.io.atomic import write_with

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sdhealth.analysis.loops import Loop

__all__ = ["to_dot", "draw", "DRAWING_FORMATS"]

#: File suffixes :func:`draw` can write.
DRAWING_FORMATS = ("png", "svg", "pdf")

_DOT_SHAPES = {
    NodeKind.STOCK: 'shape=box, style="rounded,bold"',
    NodeKind.FLOW: "shape=ellipse, style=bold",
    NodeKind.AUXILIARY: "shape=ellipse",
    NodeKind.CONSTANT: "shape=plaintext",
    NodeKind.LOOKUP: "shape=note",
}
_MARKERS = {
    NodeKind.STOCK: "s",
    NodeKind.FLOW: "h",
    NodeKind.AUXILIARY: "o",
    NodeKind.CONSTANT: "d",
    NodeKind.LOOKUP: "^",
}
_COLOURS = {1: "#1f6f3f", -1: "#b22222", 0: "#777777"}
_SIGN = {1: "+", -1: "-", 0: "?"}
_PICTURE_SIGN = {1: "+", -1: "\u2212", 0: "?"}  # a real minus sign reads better than "-"
_CURVE = "arc3,rad=0.12"


def _quote(text: str) -> str:
    """A DOT double-quoted string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _link_label(polarity: int, delay: bool) -> str:
    return _SIGN[polarity] + (" ||" if delay else "")


def _shown_loops(
    cld: CausalLoopDiagram, loops: Sequence[Loop] | None, max_loops: int
) -> tuple[list[Loop], str]:
    """The loops to show and a note on those left out (``""`` if none)."""
    if loops is None:
        from sdhealth.analysis.loops import find_loops

        loops = find_loops(cld, max_loops=max_loops)
    note = getattr(loops, "message", "")
    shown = list(loops[:max_loops])
    if len(loops) > max_loops:
        note = f"{len(loops) - max_loops} more loops not shown"
    return shown, note


def _legend(loops: Sequence[Loop], note: str) -> str:
    """The DOT label listing the loops (``\\l`` ends a left-justified line)."""
    if not loops:
        return _quote("no feedback loops")
    lines = ["Loops:"] + [str(loop) for loop in loops] + ([note] if note else [])
    return '"' + "".join(_quote(line)[1:-1] + "\\l" for line in lines) + '"'


def to_dot(
    cld: CausalLoopDiagram, *, loops: Sequence[Loop] | None = None, max_loops: int = 30
) -> str:
    """Graphviz DOT text of the diagram (see the module docstring for the notation).

    >>> g = nx.DiGraph()
    >>> g.add_node("Level", kind="stock")
    >>> g.add_edge("Level", "Outflow", polarity=1)
    >>> g.add_edge("Outflow", "Level", polarity=-1, delay=True)
    >>> print(to_dot(CausalLoopDiagram(g, name="Drain")))
    digraph "Drain" {
      graph [rankdir=LR, labelloc=b, labeljust=l, fontname=Helvetica];
      label="Loops:\\lB1 (-): Level -> Outflow -> Level\\l";
      node [fontname=Helvetica];
      edge [fontname=Helvetica];
      "Level" [shape=box, style="rounded,bold"];
      "Outflow" [shape=ellipse];
      "Level" -> "Outflow" [label="+", color="#1f6f3f", fontcolor="#1f6f3f"];
      "Outflow" -> "Level" [label="- ||", color="#b22222", fontcolor="#b22222"];
    }
    """
    shown, note = _shown_loops(cld, loops, max_loops)
    lines = [
        f"digraph {_quote(cld.name or 'causal loop diagram')} {{",
        "  graph [rankdir=LR, labelloc=b, labeljust=l, fontname=Helvetica];",
        f"  label={_legend(shown, note)};",
        "  node [fontname=Helvetica];",
        "  edge [fontname=Helvetica];",
    ]
    lines += _dot_nodes(cld)
    for link in cld.links:
        colour = _quote(_COLOURS[link.polarity])
        label = _quote(_link_label(link.polarity, link.delay))
        lines.append(
            f"  {_quote(link.source)} -> {_quote(link.target)} "
            f"[label={label}, color={colour}, fontcolor={colour}];"
        )
    lines.append("}")
    return "\n".join(lines)


def _dot_nodes(cld: CausalLoopDiagram) -> list[str]:
    """Node statements, those of a sector inside a ``cluster`` subgraph."""
    by_sector: dict[str | None, list[str]] = {}
    for node in cld.nodes:
        statement = f"{_quote(node.name)} [{_DOT_SHAPES[node.kind]}];"
        by_sector.setdefault(node.sector, []).append(statement)
    lines = [f"  {statement}" for statement in by_sector.pop(None, [])]
    for index, (sector, statements) in enumerate(by_sector.items(), start=1):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_quote(str(sector))}; style=dashed;")
        lines += [f"    {statement}" for statement in statements]
        lines.append("  }")
    return lines


def _format_of(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in DRAWING_FORMATS:
        choices = ", ".join(f".{f}" for f in DRAWING_FORMATS)
        raise SdhealthError(f"cannot draw a diagram to {str(path)!r}: use a {choices} file name")
    return suffix


def draw(
    cld: CausalLoopDiagram,
    path: str | os.PathLike[str],
    *,
    loops: Sequence[Loop] | None = None,
    max_loops: int = 30,
    seed: int = 0,
) -> None:
    """Draw the diagram to a PNG, SVG or PDF file (chosen by the suffix), atomically.

    Raises
    ------
    SdhealthError
        The file name has another suffix.
    """
    file_format = _format_of(path)
    shown, note = _shown_loops(cld, loops, max_loops)
    cld = _in_name_order(cld)
    graph = cld.graph
    size = max(6.0, min(30.0, 1.6 * len(graph) ** 0.5 * 2))
    from matplotlib.figure import Figure  # imported when drawing: 0.3 s off `import sdhealth`

    figure = Figure(figsize=(size, size * 0.75))
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_title(cld.name)
    if len(graph):
        positions = nx.spring_layout(graph, seed=seed, k=2.0 / len(graph) ** 0.5)
        _draw_graph(axes, cld, positions)
        _draw_loop_labels(axes, shown, positions)
    if note:
        axes.text(0.0, -0.02, note, transform=axes.transAxes, fontsize=8, va="top")
    write_with(path, lambda tmp: figure.savefig(tmp, format=file_format, bbox_inches="tight"))


def _in_name_order(cld: CausalLoopDiagram) -> CausalLoopDiagram:
    """The diagram with nodes and links in name order: a seeded layout and the drawing order
    depend on it, and a diagram built from a set of names (a subgraph) has none of its own."""
    ordered = nx.DiGraph()
    ordered.graph.update(cld.graph.graph)
    ordered.add_nodes_from(sorted(cld.graph.nodes(data=True), key=lambda item: item[0]))
    ordered.add_edges_from(sorted(cld.graph.edges(data=True), key=lambda e: (e[0], e[1])))
    return CausalLoopDiagram(ordered, name=cld.name)


def _draw_graph(axes: Axes, cld: CausalLoopDiagram, positions: Mapping[str, Any]) -> None:
    graph = cld.graph
    for kind, marker in _MARKERS.items():
        nodes = [n for n, k in graph.nodes(data="kind") if k is kind]
        if nodes:
            nx.draw_networkx_nodes(
                graph, positions, nodelist=nodes, node_shape=marker, node_size=900,
                node_color="#f4f1e8", edgecolors="#444444", ax=axes,
            )  # fmt: skip
    nx.draw_networkx_labels(graph, positions, font_size=7, ax=axes)
    links = cld.links
    nx.draw_networkx_edges(
        graph, positions, edgelist=[(lk.source, lk.target) for lk in links],
        edge_color=[_COLOURS[lk.polarity] for lk in links], arrowstyle="-|>",
        arrowsize=12, node_size=900, connectionstyle=_CURVE, ax=axes,
    )  # fmt: skip
    for polarity, colour in _COLOURS.items():
        labels = {
            (lk.source, lk.target): _PICTURE_SIGN[polarity] + (" ||" if lk.delay else "")
            for lk in links
            if lk.polarity == polarity
        }
        nx.draw_networkx_edge_labels(
            graph, positions, edge_labels=labels, font_size=10, font_weight="bold",
            font_color=colour, label_pos=0.7, connectionstyle=_CURVE, node_size=900, ax=axes,
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
        )  # fmt: skip


def _draw_loop_labels(axes: Axes, loops: Sequence[Loop], positions: Mapping[str, Any]) -> None:
    for loop in loops:
        xs = [float(positions[v][0]) for v in loop.variables]
        ys = [float(positions[v][1]) for v in loop.variables]
        axes.text(
            sum(xs) / len(xs), sum(ys) / len(ys), loop.id, fontsize=10, fontweight="bold",
            ha="center", va="center", color=_COLOURS[loop.polarity],
            bbox={"boxstyle": "circle,pad=0.3", "fc": "white", "ec": _COLOURS[loop.polarity]},
        )  # fmt: skip
