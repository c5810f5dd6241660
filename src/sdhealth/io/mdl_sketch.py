"""Writing Vensim ``.mdl`` files: equations (:mod:`sdhealth.ir.vensim`) plus a diagram sketch.

Vensim opens a model with a diagram only if the file has a sketch section after the equations::

    \\\\\\---/// Sketch information - do not modify anything except names
    V300  Do not put anything below this section - it will be ignored
    *View 1
    $192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|72,72,100,0
    10,1,Stock,307,235,40,20,3,3,0,0,0,0,0,0          (type 10 shape 3: a stock's box)
    11,2,48,408,235,6,8,34,3,0,0,1,0,0,0              (type 11: a flow's valve)
    10,3,Outflow,408,251,49,8,40,3,0,0,-1,0,0,0       (shape 40: the flow's name under it)
    1,4,2,1,100,0,0,22,0,0,0,-1--1--1,,1|(374,235)|   (type 1 with 22: the pipe)
    10,5,Rate,469,304,49,8,8,3,0,0,0,0,0,0            (shape 8: an auxiliary or constant)
    1,6,5,2,0,0,0,0,0,64,0,-1--1--1,,1|(437,284)|     (type 1: a causal link)
    ///---\\\\\\

Every variable is placed by an automatic layout: :func:`networkx.spring_layout` of the model's
dependency graph with a fixed seed (the same model always gets the same diagram), scaled to a
page. Links into a flow point at its valve, as Vensim draws them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import networkx as nx

from sdhealth.io.atomic import write_text_atomic
from sdhealth.ir.model import Flow, Model, Stock, Variable
from sdhealth.ir.vensim import model_to_vensim, quote_name

__all__ = ["dependency_graph", "layout", "sketch_text", "model_to_mdl_text", "write_mdl"]

_HEADER = (
    "\\\\\\---/// Sketch information - do not modify anything except names\n"
    "V300  Do not put anything below this section - it will be ignored\n"
    "*View 1\n"
    "$192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|72,72,100,0\n"
)
_FOOTER = "///---\\\\\\\n"
_WIDTH, _HEIGHT, _MARGIN = 1200, 800, 100


def _reads(variable: Variable) -> set[str]:
    keys = {k for equation in variable.equations() for k in equation.free_keys}
    for definition in variable.definitions:
        for equation in (definition.equation, definition.initial):
            if equation is not None:
                keys |= equation.free_keys
    return keys


def dependency_graph(model: Model) -> nx.DiGraph:
    """Who reads whom (``x -> y`` when ``y``'s equations mention ``x``), flows -> stocks."""
    graph = nx.DiGraph()
    graph.add_nodes_from(v.key for v in model.variables)
    for variable in model.variables:
        for key in _reads(variable):
            if key in graph and key != variable.key:
                graph.add_edge(key, variable.key)
        if isinstance(variable, Stock):
            for flow in variable.inflows + variable.outflows:
                if flow in model:
                    graph.add_edge(model[flow].key, variable.key)
    return graph


def layout(model: Model) -> dict[str, tuple[int, int]]:
    """Page positions (pixels) of every variable: a seeded spring layout, scaled."""
    graph = dependency_graph(model).to_undirected()
    if len(graph) == 0:
        return {}
    positions = nx.spring_layout(graph, seed=1, k=2 / max(len(graph), 1) ** 0.5)
    xs = [p[0] for p in positions.values()]
    ys = [p[1] for p in positions.values()]
    span_x = (max(xs) - min(xs)) or 1.0
    span_y = (max(ys) - min(ys)) or 1.0
    return {
        key: (
            int(_MARGIN + (x - min(xs)) / span_x * _WIDTH),
            int(_MARGIN + (y - min(ys)) / span_y * _HEIGHT),
        )
        for key, (x, y) in positions.items()
    }


@dataclass
class _Sketch:
    """Sketch lines with Vensim's running object numbers."""

    lines: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)  # variable key -> its (valve's) number
    count: int = 0

    def add(self, text: str) -> int:
        self.count += 1
        self.lines.append(text.format(id=self.count))
        return self.count


def _name(variable: Variable) -> str:
    return quote_name(variable.name)


def sketch_text(model: Model) -> str:
    """The sketch section for ``model`` (see the module docstring for the format)."""
    places = layout(model)
    sketch = _Sketch()
    for variable in model.variables:
        x, y = places[variable.key]
        if isinstance(variable, Stock):
            number = sketch.add(f"10,{{id}},{_name(variable)},{x},{y},40,20,3,3,0,0,0,0,0,0")
        elif isinstance(variable, Flow):
            number = sketch.add(f"11,{{id}},48,{x},{y},6,8,34,3,0,0,1,0,0,0")
            sketch.add(f"10,{{id}},{_name(variable)},{x},{y + 16},49,8,40,3,0,0,-1,0,0,0")
        else:
            number = sketch.add(f"10,{{id}},{_name(variable)},{x},{y},49,8,8,3,0,0,0,0,0,0")
        sketch.ids[variable.key] = number
    _pipes(model, sketch, places)
    _links(model, sketch, places)
    return _HEADER + "\n".join(sketch.lines) + "\n" + _FOOTER


def _middle(places: dict[str, tuple[int, int]], a: str, b: str) -> str:
    (x1, y1), (x2, y2) = places[a], places[b]
    return f"({(x1 + x2) // 2},{(y1 + y2) // 2})"


def _pipes(model: Model, sketch: _Sketch, places: dict[str, tuple[int, int]]) -> None:
    for stock in model.stocks:
        for flow, end in [(f, 4) for f in stock.inflows] + [(f, 100) for f in stock.outflows]:
            if flow not in model:
                continue
            valve = sketch.ids[model[flow].key]
            middle = _middle(places, model[flow].key, stock.key)
            sketch.add(
                f"1,{{id}},{valve},{sketch.ids[stock.key]},{end},0,0,22,0,0,0,-1--1--1,,1|{middle}|"
            )


def _links(model: Model, sketch: _Sketch, places: dict[str, tuple[int, int]]) -> None:
    graph = dependency_graph(model)
    for source, target in graph.edges:
        if isinstance(model[target], Stock):
            continue  # flows reach stocks through pipes
        middle = _middle(places, source, target)
        sketch.add(
            f"1,{{id}},{sketch.ids[source]},{sketch.ids[target]},0,0,0,0,0,64,0,-1--1--1,,1|"
            f"{middle}|"
        )


def model_to_mdl_text(model: Model) -> str:
    """A whole ``.mdl`` file: equations with the modellers' names, then the sketch."""
    return model_to_vensim(model, names="display") + "\n" + sketch_text(model)


def write_mdl(model: Model, path: str | os.PathLike[str]) -> None:
    """Write ``model`` as a Vensim ``.mdl`` file with a diagram, atomically."""
    write_text_atomic(path, model_to_mdl_text(model))
