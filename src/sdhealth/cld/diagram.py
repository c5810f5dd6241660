"""Causal-loop diagrams: :class:`CausalLoopDiagram`, a signed ``networkx.DiGraph`` of variables.

Nodes are variables named as the modeller wrote them, with the attributes

``kind``
    a :class:`NodeKind` (stock, flow, auxiliary, constant, lookup);
``sector``, ``units``, ``doc``
    as on the model's variables (``sector`` may be None);
``reference``
    a reference value (float or None): what compilation of a hand-written diagram scales
    effects by; a diagram derived from a model holds each variable's value at the initial time;
``equation``
    an optional :class:`~sdhealth.ir.Equation` written in a hand-made diagram (None when the
    node gets a standard formulation, and always None in a derived diagram -- the model is
    where its equations live).

Links carry ``polarity`` (+1 or -1; 0 means "unknown or mixed" and only appears on derived
links whose sign cannot be decided), ``delay`` (a delay mark) and ``declared`` (True when a
modeller wrote the link, False when it was derived from equations).

:func:`causal_graph` derives the diagram of any model (a pure function; the rules for the sign
of a link are in :mod:`sdhealth.cld.derivatives`). The diagram is data, like a networkx graph:
what is done with it are functions that take it, in the modules that depend on this one --
:func:`sdhealth.cld.yaml_io.load_cld` and :func:`~sdhealth.cld.yaml_io.dump_cld` read and
write the hand-written format, :func:`sdhealth.cld.render.draw` and
:func:`~sdhealth.cld.render.to_dot` draw it, :func:`sdhealth.cld.compile.compile_diagram`
compiles it and :func:`sdhealth.analysis.loops.find_loops` finds its feedback loops. The
facade :class:`sdhealth.CausalLoopDiagram` (in :mod:`sdhealth.model`) is this class with
those functions as methods (``from_yaml``, ``loops()``, ``compile()``, ``draw()`` ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import networkx as nx

from sdhealth.cld.derivatives import LinkSign, model_link_signs
from sdhealth.cld.operating_point import initial_values
from sdhealth.errors import ModelError, UnknownNameError
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Equation,
    Flow,
    Lookup,
    Model,
    Stock,
    Variable,
)
from sdhealth.ir.names import canonical, did_you_mean

if TYPE_CHECKING:
    from typing import Self

__all__ = ["NodeKind", "Node", "Link", "CausalLoopDiagram", "causal_graph"]


class NodeKind(StrEnum):
    """The kind of a variable in a diagram."""

    STOCK = "stock"
    FLOW = "flow"
    AUXILIARY = "auxiliary"
    CONSTANT = "constant"
    LOOKUP = "lookup"


#: IR variable type -> node kind.
KIND_OF_VARIABLE: dict[type[Variable], NodeKind] = {
    Stock: NodeKind.STOCK,
    Flow: NodeKind.FLOW,
    Auxiliary: NodeKind.AUXILIARY,
    Constant: NodeKind.CONSTANT,
    Lookup: NodeKind.LOOKUP,
}

_POLARITIES = (1, -1, 0)


@dataclass(frozen=True)
class Node:
    """One variable of a diagram (a read-only view of the node's attributes)."""

    name: str
    kind: NodeKind = NodeKind.AUXILIARY
    sector: str | None = None
    units: str = ""
    reference: float | None = None
    doc: str = ""
    equation: Equation | None = None


@dataclass(frozen=True)
class Link:
    """One causal link ``source -> target``."""

    source: str
    target: str
    polarity: int
    delay: bool = False
    declared: bool = True

    @property
    def sign(self) -> str:
        """``+``, ``-`` or ``?``."""
        return {1: "+", -1: "-"}.get(self.polarity, "?")


def _node_attributes(name: object, data: Mapping[str, Any]) -> dict[str, Any]:
    """Checked node attributes with defaults filled in (other attributes are kept)."""
    if not isinstance(name, str) or not name.strip():
        raise ModelError(f"diagram nodes must be named by text, got {name!r}")
    kind = data.get("kind", NodeKind.AUXILIARY)
    try:
        kind = NodeKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in NodeKind)
        raise ModelError(f"node {name!r}: kind must be one of {choices}, got {kind!r}") from None
    reference = data.get("reference")
    if reference is not None:
        if isinstance(reference, bool) or not isinstance(reference, int | float):
            raise ModelError(f"node {name!r}: reference must be a number, got {reference!r}")
        reference = float(reference)
    equation = data.get("equation")
    if equation is not None and not isinstance(equation, Equation):
        raise ModelError(f"node {name!r}: equation must be an Equation, got {equation!r}")
    sector = data.get("sector")
    return {
        **data,
        "kind": kind,
        "sector": None if sector is None else str(sector),
        "units": str(data.get("units") or ""),
        "reference": reference,
        "doc": str(data.get("doc") or ""),
        "equation": equation,
    }


def _link_attributes(source: str, target: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Checked link attributes with defaults filled in (other attributes are kept)."""
    polarity = data.get("polarity")
    if isinstance(polarity, bool) or polarity not in _POLARITIES:
        raise ModelError(
            f"link {source!r} -> {target!r}: polarity must be +1, -1 or 0 (unknown), "
            f"got {polarity!r}"
        )
    flags = {}
    for flag, default in (("delay", False), ("declared", True)):
        value = data.get(flag, default)
        if not isinstance(value, bool):
            raise ModelError(f"link {source!r} -> {target!r}: {flag} must be True or False")
        flags[flag] = value
    return {**data, "polarity": int(polarity), **flags}


def _checked_copy(graph: nx.DiGraph) -> nx.DiGraph:
    if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
        raise ModelError(
            f"a causal-loop diagram needs a networkx.DiGraph, got {type(graph).__name__}"
        )
    copy = nx.DiGraph()
    copy.graph.update(graph.graph)
    seen: dict[str, str] = {}
    for name, data in graph.nodes(data=True):
        attributes = _node_attributes(name, data)
        key = canonical(name)
        if key in seen:
            raise ModelError(
                f"duplicate node {name!r} (same as {seen[key]!r}; names ignore case, spaces "
                "and underscores)"
            )
        seen[key] = name
        copy.add_node(name, **attributes)
    for source, target, data in graph.edges(data=True):
        copy.add_edge(source, target, **_link_attributes(source, target, data))
    return copy


class CausalLoopDiagram:
    """A causal-loop diagram: variables joined by signed links (see the module docstring).

    The diagram never changes and never shares its graph: construction copies ``graph`` (the
    caller's graph is left alone) and :attr:`graph` is a frozen view.

    Parameters
    ----------
    graph
        A ``networkx.DiGraph`` whose nodes are names (text) and whose edges carry at least
        ``polarity``. Missing node attributes get defaults (``kind`` auxiliary); links without
        ``declared`` count as declared.
    name, doc
        The diagram's name and description (default: ``graph.graph["name"]``/``["doc"]``).

    Raises
    ------
    ModelError
        A node that is not named by text, two names with the same key, an unknown kind, a
        polarity other than +1, -1 or 0, or a non-boolean delay mark.

    Examples
    --------
    >>> g = nx.DiGraph()
    >>> g.add_node("Population", kind="stock")
    >>> g.add_edge("Population", "Births", polarity=1)
    >>> g.add_edge("Births", "Population", polarity=1)
    >>> cld = CausalLoopDiagram(g, name="Growth")
    >>> cld.node("births").kind, cld.link("Births", "Population").sign
    (<NodeKind.AUXILIARY: 'auxiliary'>, '+')
    >>> from sdhealth.analysis.loops import find_loops
    >>> [loop.id for loop in find_loops(cld)]
    ['R1']
    """

    def __init__(
        self, graph: nx.DiGraph, *, name: str | None = None, doc: str | None = None
    ) -> None:
        copy = _checked_copy(graph)
        copy.graph["name"] = str(name if name is not None else copy.graph.get("name", ""))
        copy.graph["doc"] = str(doc if doc is not None else copy.graph.get("doc", ""))
        self._graph = nx.freeze(copy)
        self._by_key = {canonical(node): node for node in copy}

    # -- the data ---------------------------------------------------------------------

    @property
    def graph(self) -> nx.DiGraph:
        """The frozen ``networkx.DiGraph`` (use :meth:`to_networkx` for an editable copy)."""
        return self._graph

    @property
    def name(self) -> str:
        return str(self._graph.graph["name"])

    @property
    def doc(self) -> str:
        return str(self._graph.graph["doc"])

    def resolve(self, name: str) -> str:
        """The node's name as written in the diagram (names ignore case, spaces, underscores).

        Raises
        ------
        UnknownNameError
            No node has that name; the message suggests the closest names.
        """
        found = self._by_key.get(canonical(name))
        if found is None:
            hint = did_you_mean(name, self._graph.nodes, n=3)
            raise UnknownNameError(f"no variable {name!r} in the diagram{hint}")
        return found

    def node(self, name: str) -> Node:
        """The node called ``name`` (see :meth:`resolve`)."""
        found = self.resolve(name)
        data = self._graph.nodes[found]
        fields = ("kind", "sector", "units", "reference", "doc", "equation")
        return Node(found, **{field: data[field] for field in fields})

    def link(self, source: str, target: str) -> Link:
        """The link ``source -> target``; :class:`~sdhealth.errors.UnknownNameError` if none."""
        u, v = self.resolve(source), self.resolve(target)
        if not self._graph.has_edge(u, v):
            raise UnknownNameError(f"no link {u!r} -> {v!r} in the diagram")
        return _link(u, v, self._graph.edges[u, v])

    @property
    def nodes(self) -> tuple[Node, ...]:
        """Every node, in insertion order."""
        return tuple(self.node(name) for name in self._graph)

    @property
    def links(self) -> tuple[Link, ...]:
        """Every link, in insertion order."""
        return tuple(_link(u, v, data) for u, v, data in self._graph.edges(data=True))

    @property
    def stocks(self) -> tuple[str, ...]:
        """Names of the stock nodes, in insertion order."""
        return tuple(n for n, kind in self._graph.nodes(data="kind") if kind is NodeKind.STOCK)

    def to_networkx(self) -> nx.DiGraph:
        """An editable copy of the graph (changing it does not change the diagram)."""
        return nx.DiGraph(self._graph)

    def __len__(self) -> int:
        return len(self._graph)

    def __iter__(self) -> Iterator[str]:
        return iter(self._graph)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical(name) in self._by_key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CausalLoopDiagram):
            return NotImplemented
        return _comparable(self) == _comparable(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"CausalLoopDiagram({self.name!r}, {len(self)} variables, "
            f"{self._graph.number_of_edges()} links)"
        )

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_model(cls, model: Model) -> Self:
        """The diagram derived from a model's equations (:func:`causal_graph`)."""
        return cls.adopt(causal_graph(model))

    @classmethod
    def adopt(cls, diagram: CausalLoopDiagram) -> Self:
        """``diagram`` as an instance of ``cls`` (a subclass), sharing its frozen graph.

        The diagram is never copied or checked again: it already holds. This is how
        :class:`sdhealth.CausalLoopDiagram` (the facade, with ``loops()``, ``compile()`` and
        ``draw()``) wraps what the functions of this package return.
        """
        if type(diagram) is cls:
            return diagram
        adopted = cls.__new__(cls)
        adopted._graph = diagram._graph
        adopted._by_key = diagram._by_key
        return adopted


def _comparable(cld: CausalLoopDiagram) -> tuple[object, ...]:
    """What equality compares: equations by their expression and text, not their location."""
    nodes = tuple(
        (n.name, n.kind, n.sector, n.units, n.reference, n.doc,
         None if n.equation is None else (n.equation.expr, n.equation.text))
        for n in cld.nodes
    )  # fmt: skip
    return cld.name, cld.doc, nodes, cld.links


def _link(source: str, target: str, data: Mapping[str, Any]) -> Link:
    return Link(source, target, data["polarity"], data["delay"], data["declared"])


def causal_graph(model: Model) -> CausalLoopDiagram:
    """The causal-loop diagram derived from a model's equations.

    There is a link ``x -> y`` when ``y`` is a flow or auxiliary whose equation reads ``x``
    during a run, and from each flow to the stocks it fills (+1) or drains (-1). Initial values
    (a stock's ``initial``, ``INITIAL(x)``, the initial-output argument of a delay) are not
    causal links. Lookup tables are not nodes: a table is a shape, not a quantity that changes,
    so it lies on no loop; its sign is carried by the link through it. Link signs follow
    :mod:`sdhealth.cld.derivatives`; all links are marked ``declared=False``. Each node's
    ``reference`` is the variable's value at the initial time (None where it cannot be
    computed).

    >>> from sdhealth.ir import Constant, Equation, Flow, Stock, symbol
    >>> teacup = Model("Teacup", variables=(
    ...     Stock(name="Temperature", initial=Equation.of(180), outflows=("Heat loss",)),
    ...     Flow(name="Heat loss", equation=Equation(
    ...         (symbol("Temperature") - symbol("Room")) / symbol("Cooling time"))),
    ...     Constant(name="Room", value=70.0), Constant(name="Cooling time", value=10.0)))
    >>> [(l.source, l.target, l.sign) for l in causal_graph(teacup).links]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('Temperature', 'Heat loss', '+'), ('Heat loss', 'Temperature', '-'),
     ('Room', 'Heat loss', '-'), ('Cooling time', 'Heat loss', '-')]
    """
    values = initial_values(model)
    graph = nx.DiGraph(name=model.name, doc=model.doc)
    for variable in model.variables:
        if isinstance(variable, Lookup):
            continue
        graph.add_node(
            variable.name,
            kind=KIND_OF_VARIABLE.get(type(variable), NodeKind.AUXILIARY),
            sector=variable.sector,
            units=variable.units,
            reference=values.get(variable.key),
            doc=variable.doc,
            equation=None,
        )
    name_of = {v.key: v.name for v in model.variables}
    position = {v.key: i for i, v in enumerate(model.variables)}
    derived = model_link_signs(model, values=values)
    for variable in model.variables:
        if isinstance(variable, Stock):
            incoming = {canonical(f): LinkSign(1, False) for f in variable.inflows}
            incoming.update({canonical(f): LinkSign(-1, False) for f in variable.outflows})
        else:
            incoming = derived.get(variable.key, {})
        for source in sorted(incoming.keys() & name_of.keys(), key=position.__getitem__):
            sign = incoming[source]
            graph.add_edge(
                name_of[source], variable.name,
                polarity=sign.polarity, delay=sign.delay, declared=False,
            )  # fmt: skip
    return CausalLoopDiagram(graph)
