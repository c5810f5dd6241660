"""The hand-written causal-loop diagram format: strict reading and exact writing of CLD YAML.

The format is documented in ``docs/cld-format.md``: a diagram's name (``diagram``), an optional
``description``, an optional clock (``time``), its ``nodes`` (name -> kind, sector, units,
reference value, doc, source, optional equation, a stock's initial value) and its ``links`` (a
list of ``{from, to, polarity, delay, derived}`` plus what compilation needs: ``elasticity`` or
``lookup``, and ``delay_time``/``delay_order`` on delayed links).

What compilation needs beyond the diagram itself is kept as graph attributes (the clock as a
:class:`~sdhealth.ir.TimeSpec` in ``graph.graph["time"]``, ``initial`` and ``source`` on nodes,
``elasticity``, ``lookup``, ``delay_time`` and ``delay_order`` on links), set only when written;
:mod:`sdhealth.cld.compile` reads them.

Reading is as strict as the model format (:mod:`sdhealth.io.yaml`): an unknown key (with the
nearest allowed one), a duplicate key or node name (names compare by
:func:`~sdhealth.ir.names.canonical` key), a link to an undeclared node (with the nearest
declared names), a polarity other than ``"+"``/``"-"`` (or ``"?"`` on a derived link), a
duplicate link, a value of the wrong type, an equation that does not parse or reads an
undeclared name, an effect curve that is not monotone in the direction of its link's polarity or
does not pass through (1, 1), or delay settings on a link not marked delayed is a
:class:`~sdhealth.errors.ModelSyntaxError` with the file, line and column of the offending key
or value. Positions come from ruamel.yaml's round-trip loader through
:mod:`sdhealth.io.yaml_nodes`.

Writing gives back what was read: ``cld_from_yaml_text(cld_to_yaml_text(d)) == d`` for every
diagram (derived ones included: their links are written with ``derived: true``), and writing
what was read gives the same text again. Node and link attributes other than the documented ones
are not written.
"""

from __future__ import annotations

import dataclasses
import io
import os
from typing import Any

import networkx as nx
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from sdhealth.cld.compile import DELAY_ORDERS, effect_curve_problem
from sdhealth.cld.diagram import CausalLoopDiagram, Node, NodeKind
from sdhealth.errors import ModelSyntaxError
from sdhealth.io.atomic import write_text_atomic
from sdhealth.io.expressions import parse_equation
from sdhealth.io.yaml_documents import (
    TIME_KEYS,
    parse_yaml_mapping,
    read_text_file,
    read_time_spec,
)
from sdhealth.io.yaml_nodes import (
    Document,
    Position,
    Slot,
    describe,
    is_number,
)
from sdhealth.ir.functions import BUILTIN_SYMBOLS
from sdhealth.ir.model import Equation, TimeSpec
from sdhealth.ir.names import canonical, did_you_mean
from sdhealth.ir.vensim import expr_to_vensim

__all__ = [
    "load_cld",
    "cld_from_yaml_text",
    "dump_cld",
    "cld_to_yaml_text",
    "TOP_LEVEL_KEYS",
    "TIME_KEYS",
    "NODE_KEYS",
    "LINK_KEYS",
]

#: Keys allowed at the top of a diagram file.
TOP_LEVEL_KEYS = ("diagram", "description", "time", "nodes", "links")
#: Keys allowed in a node's definition.
NODE_KEYS = ("kind", "sector", "units", "reference", "initial", "doc", "source", "equation")
#: Keys allowed in a link.
LINK_KEYS = (
    "from", "to", "polarity", "delay", "derived",
    "elasticity", "lookup", "delay_time", "delay_order",
)  # fmt: skip

_POLARITY_OF: dict[object, int] = {"+": 1, "-": -1, 1: 1, -1: -1}
_SIGN_OF = {1: "+", -1: "-", 0: "?"}
_START: Position = (0, 0)


# --------------------------------------------------------------------------------- reading


def load_cld(path: str | os.PathLike[str]) -> CausalLoopDiagram:
    """Read a causal-loop diagram from a YAML file.

    Raises
    ------
    ModelSyntaxError
        The file cannot be read, is not YAML, or breaks a rule of the format (with the file,
        line and column).
    """
    where = str(path)
    text = read_text_file(path, "diagram")
    return cld_from_yaml_text(text, path=where)


def cld_from_yaml_text(text: str, *, path: str | None = None) -> CausalLoopDiagram:
    """Read a causal-loop diagram from YAML text (``path`` is only used in messages).

    >>> cld = cld_from_yaml_text('''
    ... diagram: Growth
    ... nodes:
    ...   Population: {kind: stock, reference: 1000}
    ...   Births: flow
    ... links:
    ...   - {from: Population, to: Births, polarity: "+"}
    ...   - {from: Births, to: Population, polarity: "+", delay: true}
    ... ''')
    >>> cld.node("population").reference, cld.link("Births", "Population").delay
    (1000.0, True)
    >>> cld_from_yaml_text("diagram: X\\nnodes: {A: stok}")
    Traceback (most recent call last):
    ...
    sdhealth.errors.ModelSyntaxError: 2:12: kind of node 'A' must be one of stock, flow, \
auxiliary, constant, lookup, got 'stok' (did you mean 'stock'?)
    """
    document = Document.of(text, path)
    return _Reader(document).read(parse_yaml_mapping(text, document, "diagram"))


class _Reader:
    """Reads one parsed document into a :class:`CausalLoopDiagram`."""

    def __init__(self, document: Document) -> None:
        self.doc = document
        self.names: dict[str, str] = {}  # key -> name as declared
        self.lines: dict[str, int] = {}  # key -> line of the declaration

    def read(self, root: CommentedMap) -> CausalLoopDiagram:
        self._check_top_keys(root)
        name = self._required_text(root, "diagram", "the diagram's name")
        description = self._text(root, "description", "'description'")
        graph = nx.DiGraph()
        if root.get("time") is not None:
            graph.graph["time"] = self._time(root)
        nodes = self._mapping(root, "nodes", required=True)
        for node_name in nodes:
            self._declare(Slot(nodes, node_name))
        for node_name in nodes:
            node, extras = self._node(Slot(nodes, node_name))
            graph.add_node(node.name, **_attributes(node), **extras)
        for source, target, attributes in self._links(root):
            graph.add_edge(source, target, **attributes)
        return CausalLoopDiagram(graph, name=name, doc=description)

    # -- top level and nodes -------------------------------------------------------------

    def _check_top_keys(self, root: CommentedMap) -> None:
        if "model" in root and "diagram" not in root:
            raise self.doc.error(
                "this looks like a model file, not a diagram: load it with sdhealth.load() "
                "and use model.cld()",
                Slot(root, "model").key_position,
            )
        self.doc.check_keys(root, TOP_LEVEL_KEYS, "the diagram file")

    def _declare(self, slot: Slot) -> None:
        name, position = slot.key, slot.key_position
        if not isinstance(name, str) or not name.strip():
            raise self.doc.error(f"node names must be text, got {describe(name)}", position)
        key = canonical(name)
        if key in BUILTIN_SYMBOLS:
            raise self.doc.error(f"{name!r} is a builtin name and cannot be a node", position)
        if key in self.names:
            raise self.doc.error(
                f"duplicate node {name!r} (same as {self.names[key]!r} on line "
                f"{self.lines[key]}; names ignore case, spaces and underscores)",
                position,
            )
        self.names[key] = name.strip()
        self.lines[key] = position[0] + 1

    def _time(self, root: CommentedMap) -> TimeSpec:
        return read_time_spec(self.doc, root)

    def _node(self, slot: Slot) -> tuple[Node, dict[str, Any]]:
        """The node and its compilation attributes (``initial``, ``source``) when written."""
        name = self.names[canonical(slot.key)]
        if slot.value is None:
            return Node(name), {}
        if isinstance(slot.value, str):
            return Node(name, kind=self._kind(slot, name)), {}
        if not isinstance(slot.value, CommentedMap):
            raise self.doc.error(
                f"node {name!r} must be a kind (stock, flow ...) or a mapping, "
                f"got {describe(slot.value)}",
                slot.value_position,
            )
        fields = slot.value
        what = f"node {name!r}"
        self.doc.check_keys(fields, NODE_KEYS, what)
        kind = self._kind(Slot(fields, "kind"), name) if "kind" in fields else NodeKind.AUXILIARY
        sector = self._text(fields, "sector", f"'sector' of {what}") or None
        node = Node(
            name,
            kind=kind,
            sector=sector,
            units=self._text(fields, "units", f"'units' of {what}"),
            reference=self._number(fields, "reference", what),
            doc=self._text(fields, "doc", f"'doc' of {what}"),
            equation=self._equation(Slot(fields, "equation"), what)
            if "equation" in fields
            else None,
        )
        extras: dict[str, Any] = {}
        initial = self._number(fields, "initial", what)
        if initial is not None:
            if kind is not NodeKind.STOCK:
                raise self.doc.error(
                    f"'initial' is only for stocks, and {what} is a {kind.value}",
                    Slot(fields, "initial").key_position,
                )
            extras["initial"] = initial
        source = self._text(fields, "source", f"'source' of {what}")
        if source:
            extras["source"] = source
        return node, extras

    def _kind(self, slot: Slot, name: str) -> NodeKind:
        choices = [kind.value for kind in NodeKind]
        if isinstance(slot.value, str) and slot.value in choices:
            return NodeKind(slot.value)
        hint = did_you_mean(slot.value, choices) if isinstance(slot.value, str) else ""
        raise self.doc.error(
            f"kind of node {name!r} must be one of {', '.join(choices)}, "
            f"got {describe(slot.value)}{hint}",
            slot.value_position,
        )

    def _number(self, fields: CommentedMap, key: str, what: str) -> float | None:
        value = fields.get(key)
        if value is None:
            return None
        if not is_number(value):
            raise self.doc.error(
                f"'{key}' of {what} must be a number, got {describe(value)}",
                Slot(fields, key).value_position,
            )
        return float(value)

    def _equation(self, slot: Slot, what: str) -> Equation | None:
        value = slot.value
        if value is None:
            return None
        if is_number(value):
            text = self.doc.number_token(slot)
            positions = [slot.value_position] * (len(text) + 1)
        elif isinstance(value, str):
            text = str(value)
            positions = self.doc.text_positions(slot)
        else:
            raise self.doc.error(
                f"'equation' of {what} must be text or a number, got {describe(value)}",
                slot.value_position,
            )
        try:
            equation = parse_equation(text)
        except ModelSyntaxError as exc:
            raise self.doc.error(exc.message, positions[_offset(text, exc)]) from None
        for key, offset in equation.references:
            if key not in self.names:
                hint = did_you_mean(key, self.names.values())
                raise self.doc.error(
                    f"equation of {what} reads {key!r}, which is not a node of the diagram{hint}",
                    positions[offset],
                )
        return dataclasses.replace(equation, location=self.doc.location(positions[0]))

    # -- links ---------------------------------------------------------------------------

    def _links(self, root: CommentedMap) -> list[tuple[str, str, dict[str, Any]]]:
        value = root.get("links")
        if value is None:
            return []
        if not isinstance(value, CommentedSeq):
            raise self.doc.error(
                f"'links' must be a list of {{from, to, polarity}} mappings, got {describe(value)}",
                Slot(root, "links").value_position,
            )
        links: list[tuple[str, str, dict[str, Any]]] = []
        first_line: dict[tuple[str, str], int] = {}
        for index in range(len(value)):
            slot = Slot(value, index)
            source, target, attributes = self._link(slot)
            pair = (canonical(source), canonical(target))
            if pair in first_line:
                raise self.doc.error(
                    f"duplicate link {source!r} -> {target!r} (first written on line "
                    f"{first_line[pair]})",
                    slot.value_position,
                )
            first_line[pair] = slot.value_position[0] + 1
            links.append((source, target, attributes))
        return links

    def _link(self, slot: Slot) -> tuple[str, str, dict[str, Any]]:
        fields = slot.value
        if not isinstance(fields, CommentedMap):
            raise self.doc.error(
                f'a link must be a mapping like {{from: A, to: B, polarity: "+"}}, '
                f"got {describe(fields)}",
                slot.value_position,
            )
        self.doc.check_keys(fields, LINK_KEYS, "a link")
        for key in ("from", "to", "polarity"):
            if key not in fields:
                raise self.doc.error(f"a link is missing required key {key!r}", slot.value_position)
        source = self._end(Slot(fields, "from"))
        target = self._end(Slot(fields, "to"))
        derived = self._flag(fields, "derived")
        polarity = self._polarity(Slot(fields, "polarity"), derived)
        delay = self._flag(fields, "delay")
        attributes = {"polarity": polarity, "delay": delay, "declared": not derived}
        attributes.update(self._effect_settings(fields, polarity))
        attributes.update(self._delay_settings(fields, delay))
        return source, target, attributes

    def _effect_settings(self, fields: CommentedMap, polarity: int) -> dict[str, Any]:
        """``elasticity`` (a positive number) or ``lookup`` (a monotone effect curve)."""
        settings: dict[str, Any] = {}
        if fields.get("elasticity") is not None:
            value = fields["elasticity"]
            if not is_number(value) or not value > 0:
                raise self.doc.value_error(
                    fields, "elasticity",
                    f"'elasticity' must be a positive number (the polarity gives its sign), "
                    f"got {describe(value)}",
                )  # fmt: skip
            settings["elasticity"] = float(value)
        if fields.get("lookup") is not None:
            if settings:
                raise self.doc.error(
                    "give either 'elasticity' or 'lookup', not both",
                    Slot(fields, "lookup").key_position,
                )
            settings["lookup"] = self._effect_curve(Slot(fields, "lookup"), polarity)
        return settings

    def _effect_curve(self, slot: Slot, polarity: int) -> tuple[tuple[float, float], ...]:
        expected = "'lookup' must be a list of [x, y] points, like [[0, 0.5], [1, 1], [2, 1.4]]"
        value = slot.value
        if not isinstance(value, CommentedSeq):
            raise self.doc.error(f"{expected}, got {describe(value)}", slot.value_position)
        points = []
        for index, point in enumerate(value):
            if not (
                isinstance(point, CommentedSeq) and len(point) == 2 and all(map(is_number, point))
            ):
                position = Slot(value, index).value_position
                raise self.doc.error(f"{expected}, got {describe(point)}", position)
            points.append((float(point[0]), float(point[1])))
        problem = effect_curve_problem(points, polarity) if polarity else None
        if problem is not None:
            raise self.doc.error(f"'lookup': {problem}", slot.value_position)
        return tuple(points)

    def _delay_settings(self, fields: CommentedMap, delay: bool) -> dict[str, Any]:
        """``delay_time`` (a positive number) and ``delay_order`` (1 or 3) of a delayed link."""
        settings: dict[str, Any] = {}
        for key in ("delay_time", "delay_order"):
            if fields.get(key) is None:
                continue
            if not delay:
                raise self.doc.error(
                    f"'{key}' is only for delayed links (add 'delay: true')",
                    Slot(fields, key).key_position,
                )
            value = fields[key]
            if key == "delay_time" and not (is_number(value) and value > 0):
                raise self.doc.value_error(
                    fields, key, f"'delay_time' must be a positive number, got {describe(value)}"
                )
            if key == "delay_order" and (isinstance(value, bool) or value not in DELAY_ORDERS):
                raise self.doc.value_error(
                    fields, key, f"'delay_order' must be 1 or 3, got {describe(value)}"
                )
            settings[key] = float(value) if key == "delay_time" else int(value)
        return settings

    def _end(self, slot: Slot) -> str:
        value = slot.value
        if not isinstance(value, str):
            raise self.doc.error(
                f"'{slot.key}' must be a node name, got {describe(value)}", slot.value_position
            )
        found = self.names.get(canonical(value))
        if found is None:
            hint = did_you_mean(value, self.names.values(), n=3)
            raise self.doc.error(
                f"link {slot.key} {str(value)!r}, which is not a declared node{hint}",
                slot.value_position,
            )
        return found

    def _polarity(self, slot: Slot, derived: bool) -> int:
        value = slot.value
        if isinstance(value, str):
            value = str(value).strip()
        if not isinstance(value, bool) and value in _POLARITY_OF:
            return _POLARITY_OF[value]
        if derived and value == "?":
            return 0
        unknown = ' ("?" is only allowed on derived links)' if value == "?" else ""
        raise self.doc.error(
            f'polarity must be "+" or "-", got {describe(value)}{unknown}',
            slot.value_position,
        )

    def _flag(self, fields: CommentedMap, key: str) -> bool:
        value = fields.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.doc.error(
                f"'{key}' must be true or false, got {describe(value)}",
                Slot(fields, key).value_position,
            )
        return value

    # -- typed values --------------------------------------------------------------------

    def _mapping(self, root: CommentedMap, key: str, *, required: bool) -> CommentedMap:
        if key not in root:
            if required:
                raise self.doc.error(f"missing required key {key!r}", _START)
            return CommentedMap()
        value = root[key]
        if value is None:
            return CommentedMap()
        if not isinstance(value, CommentedMap):
            raise self.doc.error(
                f"'{key}' must be a mapping of names to definitions, got {describe(value)}",
                Slot(root, key).value_position,
            )
        return value

    def _required_text(self, root: CommentedMap, key: str, what: str) -> str:
        if key not in root:
            raise self.doc.error(f"missing required key {key!r} ({what})", _START)
        value = root[key]
        if not isinstance(value, str) or not value.strip():
            raise self.doc.error(
                f"{key!r} must be {what} (text), got {describe(value)}",
                Slot(root, key).value_position,
            )
        return str(value).strip()

    def _text(self, fields: CommentedMap, key: str, what: str) -> str:
        value = fields.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            hint = f" (quote it: '{value}')" if is_number(value) else ""
            raise self.doc.error(
                f"{what} must be text, got {describe(value)}{hint}",
                Slot(fields, key).value_position,
            )
        return str(value)


def _offset(text: str, error: ModelSyntaxError) -> int:
    """The offset in ``text`` of a parse error reported as 1-based line:column of ``text``."""
    if error.line is None or error.column is None:
        return 0
    start = 0
    for _ in range(error.line - 1):
        newline = text.find("\n", start)
        if newline < 0:
            break
        start = newline + 1
    return min(start + error.column - 1, len(text))


def _attributes(node: Node) -> dict[str, Any]:
    fields = dataclasses.asdict(node)
    fields.pop("name")
    fields["equation"] = node.equation  # asdict would turn it into a dict
    return fields


# --------------------------------------------------------------------------------- writing


def dump_cld(cld: CausalLoopDiagram, path: str | os.PathLike[str]) -> None:
    """Write a diagram to ``path`` in the YAML format, atomically (temp file + rename)."""
    write_text_atomic(path, cld_to_yaml_text(cld))


def cld_to_yaml_text(cld: CausalLoopDiagram) -> str:
    """The YAML text of a diagram.

    >>> g = nx.DiGraph()
    >>> g.add_node("Cases", kind="stock", reference=10)
    >>> g.add_edge("Cases", "New cases", polarity=1)
    >>> g.add_edge("New cases", "Cases", polarity=1, delay=True)
    >>> print(cld_to_yaml_text(CausalLoopDiagram(g, name="Outbreak")))
    diagram: Outbreak
    nodes:
      Cases:
        kind: stock
        reference: 10
      New cases:
        kind: auxiliary
    links:
      - {from: Cases, to: New cases, polarity: "+"}
      - {from: New cases, to: Cases, polarity: "+", delay: true}
    <BLANKLINE>
    """
    root = CommentedMap()
    root["diagram"] = cld.name
    if cld.doc:
        root["description"] = _string(cld.doc)
    clock = cld.graph.graph.get("time")
    if isinstance(clock, TimeSpec):
        root["time"] = _time_map(clock)
    name_of = {canonical(name): name for name in cld}
    root["nodes"] = CommentedMap(
        (node.name, _node_map(node, name_of, cld.graph.nodes[node.name])) for node in cld.nodes
    )
    links = CommentedSeq(
        _link_map(link, cld.graph.edges[link.source, link.target]) for link in cld.links
    )
    if links:
        root["links"] = links
    stream = io.StringIO()
    _writer().dump(root, stream)
    return stream.getvalue()


def _writer() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 4096  # never fold an equation over lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _string(text: str) -> str:
    return LiteralScalarString(text) if "\n" in text else text


def _number(value: float) -> int | float:
    """Integral values print without a trailing ``.0``."""
    return int(value) if value.is_integer() and abs(value) < 1e15 else value


def _time_map(clock: TimeSpec) -> CommentedMap:
    fields = CommentedMap(start=_number(clock.start), stop=_number(clock.stop))
    fields["dt"] = _number(clock.dt)
    if clock.saveper is not None:
        fields["saveper"] = _number(clock.saveper)
    fields["units"] = clock.units
    fields.fa.set_flow_style()
    return fields


def _node_map(node: Node, name_of: dict[str, str], extras: dict[str, Any]) -> CommentedMap:
    fields = CommentedMap(kind=node.kind.value)
    for key in ("sector", "units"):
        if getattr(node, key):
            fields[key] = _string(getattr(node, key))
    if node.reference is not None:
        fields["reference"] = _number(node.reference)
    if extras.get("initial") is not None:
        fields["initial"] = _number(float(extras["initial"]))
    if node.doc:
        fields["doc"] = _string(node.doc)
    if extras.get("source"):
        fields["source"] = _string(str(extras["source"]))
    if node.equation is not None:
        text = node.equation.text
        if text is None:
            text = expr_to_vensim(node.equation.expr, lambda key: name_of.get(key, key))
        fields["equation"] = _string(text)
    return fields


def _link_map(link: Any, data: dict[str, Any]) -> CommentedMap:
    fields = CommentedMap()
    fields["from"] = link.source
    fields["to"] = link.target
    fields["polarity"] = DoubleQuotedScalarString(_SIGN_OF[link.polarity])
    if data.get("elasticity") is not None:
        fields["elasticity"] = _number(float(data["elasticity"]))
    if data.get("lookup") is not None:
        fields["lookup"] = _points_seq(data["lookup"])
    if link.delay:
        fields["delay"] = True
    for key in ("delay_time", "delay_order"):
        if data.get(key) is not None:
            fields[key] = _number(float(data[key]))
    if not link.declared:
        fields["derived"] = True
    fields.fa.set_flow_style()
    return fields


def _points_seq(points: Any) -> CommentedSeq:
    seq = CommentedSeq()
    for x, y in points:
        point = CommentedSeq([_number(float(x)), _number(float(y))])
        point.fa.set_flow_style()
        seq.append(point)
    seq.fa.set_flow_style()
    return seq
