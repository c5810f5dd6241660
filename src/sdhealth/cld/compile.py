"""Compilation of a causal-loop diagram into a stock-and-flow model (the IR).

:func:`compile_diagram` turns a :class:`~sdhealth.cld.CausalLoopDiagram` whose nodes have
kinds and reference values into an :class:`sdhealth.ir.Model`
(``cld.compile()`` wraps it in a runnable :class:`sdhealth.Model`). Each node becomes one
variable of its kind, by these rules:

- a **stock** integrates its flows: a link ``flow -> stock`` with polarity ``+`` makes the
  flow an inflow, ``-`` an outflow. It starts at the node's ``initial`` value (default: its
  reference value). A stock that is an input of a standard formulation is declared
  ``non_negative`` (a ratio to its reference raised to a power has no meaning below zero);
- a **constant** is a :class:`~sdhealth.ir.Constant` holding its reference value;
- a **flow** or **auxiliary** with an ``equation`` keeps it (it must read exactly the nodes
  linked into it); one without gets the *standard formulation*

  .. math:: y = y_{ref} \\prod_i e_i, \\qquad
            e_i = (x_i / x_{i,ref})^{p_i \\varepsilon_i} \\ \\text{or}\\ f_i(x_i / x_{i,ref})

  -- its reference value times one *effect* per input: a power law of the input relative to
  its reference, whose exponent is the link's polarity ``p`` (+1/-1) times its elasticity
  (positive, default 1), or, when the link has a ``lookup``, that monotone curve of the same
  ratio (a generated :class:`~sdhealth.ir.Lookup` named ``"Effect of X on Y"``). For a
  delay-marked link the input is replaced by ``SMOOTH(x, d)`` (``delay_order`` 1, the
  default) or ``SMOOTH3(x, d)`` (order 3): an information delay whose time ``d`` is a
  generated constant ``"Delay time of X on Y"`` in the model's time unit. A flow or
  auxiliary without inputs stays at its reference value.

The reference values the formulations use are generated constants named ``"Reference X"``,
with the node's units and sector, so a modeller sees and can change them (``params=``). Every
generated variable has a ``doc`` saying how it was formulated. When every node sits at its
reference value the effects are all 1, so a diagram whose references balance each stock's
inflows and outflows starts in equilibrium.

Standard formulations multiply effects, so they need *positive* reference values (of the
node and of each input); with them every effect moves its node in the direction of the
link's polarity, which is what makes the signs come out right. After building, the sign of
every link into a flow or auxiliary is recomputed from the equations
(:func:`sdhealth.cld.derivatives.model_link_signs`) and compared with the declared polarity
and delay mark, so an explicit equation that contradicts its links is an error too. Loop
polarities follow from link polarities, so the compiled model has the diagram's loops.

Everything missing or inconsistent is reported at once: one :class:`~sdhealth.errors.ModelError`
whose message lists what each node needs (``cannot compile 'X': 'Beds' (stock) has no flows;
'Discharges' (flow) needs a reference value; ...``) and whose ``issues`` hold one
:class:`~sdhealth.errors.Issue` per problem. Loops without a stock and without a delayed link
(algebraic loops) are reported the same way.

The clock comes from the diagram (the ``time`` section of the YAML format, held in
``cld.graph.graph["time"]``; see :func:`diagram_clock`) or from ``time=``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import networkx as nx
import numpy as np
import sympy

from sdhealth.cld.derivatives import lookup_direction, model_link_signs
from sdhealth.cld.diagram import CausalLoopDiagram, NodeKind
from sdhealth.errors import Issue, ModelError, Severity
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    DeclaredLink,
    Equation,
    Flow,
    Lookup,
    Model,
    Sector,
    Stock,
    TimeSpec,
    Variable,
    symbol,
)
from sdhealth.ir.names import canonical
from sdhealth.ir.vensim import expr_to_vensim, number_to_vensim, quote_name

__all__ = [
    "DEFAULT_ELASTICITY",
    "DELAY_ORDERS",
    "LinkSettings",
    "compile_diagram",
    "diagram_clock",
    "link_settings",
    "SETTING_KEYS",
    "effect_curve_problem",
    "reference_name",
    "effect_name",
    "delay_time_name",
]

#: The elasticity of a link that does not state one.
DEFAULT_ELASTICITY = 1.0
#: Orders of the information delays a delay-marked link can have (SMOOTH, SMOOTH3).
DELAY_ORDERS = (1, 3)

_SMOOTH_OF_ORDER = {1: fn.SMOOTH, 3: fn.SMOOTH3}
_ORDER_WORD = {1: "first", 3: "third"}
_SIGN = {1: "+", -1: "-", 0: "?"}
_FORMULATED = (NodeKind.FLOW, NodeKind.AUXILIARY)


def reference_name(node: str) -> str:
    """The name of the generated constant holding ``node``'s reference value."""
    return f"Reference {node}"


def effect_name(source: str, target: str) -> str:
    """The name of the generated lookup of a link's effect curve."""
    return f"Effect of {source} on {target}"


def delay_time_name(source: str, target: str) -> str:
    """The name of the generated constant holding a delayed link's delay time."""
    return f"Delay time of {source} on {target}"


def diagram_clock(cld: CausalLoopDiagram) -> TimeSpec | None:
    """The diagram's clock (its YAML ``time`` section), or None if it has none."""
    clock = cld.graph.graph.get("time")
    return clock if isinstance(clock, TimeSpec) else None


# ----------------------------------------------------------------------- link settings


@dataclass(frozen=True)
class LinkSettings:
    """How a link enters a standard formulation (the link attributes of the YAML format).

    ``elasticity`` is the power law's exponent size (its sign is the polarity); ``lookup``
    the ``(x, y)`` points of an effect curve of the input relative to its reference, used
    instead of the power law; ``delay_time`` and ``delay_order`` the information delay of a
    delay-marked link.
    """

    elasticity: float = DEFAULT_ELASTICITY
    lookup: tuple[tuple[float, float], ...] | None = None
    delay_time: float | None = None
    delay_order: int = 1


#: The link attributes that make up :class:`LinkSettings`.
SETTING_KEYS = ("elasticity", "lookup", "delay_time", "delay_order")


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _positive_number(value: object) -> TypeGuard[float]:
    return _is_number(value) and value > 0


def effect_curve_problem(points: Sequence[Sequence[float]], polarity: int) -> str | None:
    """What is wrong with an effect curve for a link of this polarity, or None.

    An effect curve needs at least two ``(x, y)`` points with x strictly increasing, must be
    monotone in the direction of the polarity (never falling for ``+``, never rising for
    ``-``, and not flat) and must pass through ``(1, 1)``: an input at its reference value
    has no effect.

    >>> effect_curve_problem([(0, 0), (1, 1), (2, 1.5)], +1) is None
    True
    >>> effect_curve_problem([(0, 0), (1, 1), (2, 1.5)], -1)
    "the curve rises, but the link's polarity is '-': it must never rise"
    >>> effect_curve_problem([(0, 2), (2, 0)], -1) is None
    True
    """
    if len(points) < 2:
        return "an effect curve needs at least two [x, y] points"
    xs = np.array([float(x) for x, _ in points])
    ys = np.array([float(y) for _, y in points])
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        return "an effect curve's points must be finite numbers"
    if not (np.diff(xs) > 0).all():
        return "the x-values of an effect curve must increase strictly"
    direction = lookup_direction(ys.tolist())
    if direction != polarity:
        if direction == 0:
            shape = "is flat" if np.ptp(ys) == 0 else "rises and falls"
        else:
            shape = "rises" if direction > 0 else "falls"
        rule = "never fall" if polarity > 0 else "never rise"
        return f"the curve {shape}, but the link's polarity is {_SIGN[polarity]!r}: it must {rule}"
    at_reference = float(np.interp(1.0, xs, ys))
    if abs(at_reference - 1.0) > 1e-9:
        return (
            f"an effect curve must pass through (1, 1) -- an input at its reference value has "
            f"no effect -- but it gives {at_reference:g} at x = 1"
        )
    return None


def _settings_problems(data: Mapping[str, Any], polarity: int, delay: bool) -> list[str]:
    problems: list[str] = []
    elasticity = data.get("elasticity")
    if elasticity is not None and not _positive_number(elasticity):
        problems.append(f"elasticity must be a positive number, got {elasticity!r}")
    lookup = data.get("lookup")
    if lookup is not None:
        if elasticity is not None:
            problems.append("give either an elasticity or a lookup, not both")
        if not _is_points(lookup):
            problems.append(f"lookup must be a list of [x, y] number pairs, got {lookup!r}")
        else:
            curve = effect_curve_problem(lookup, polarity) if polarity else None
            problems.extend([curve] if curve else [])
    delay_time, order = data.get("delay_time"), data.get("delay_order")
    if (delay_time is not None or order is not None) and not delay:
        problems.append("delay_time and delay_order need the link to be marked delayed")
    if delay_time is not None and not _positive_number(delay_time):
        problems.append(f"delay_time must be a positive number, got {delay_time!r}")
    if order is not None and (isinstance(order, bool) or order not in DELAY_ORDERS):
        problems.append(f"delay_order must be 1 or 3, got {order!r}")
    return problems


def _is_points(value: object) -> TypeGuard[Sequence[Sequence[float]]]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return False
    return all(
        isinstance(point, Sequence)
        and not isinstance(point, str)
        and len(point) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
        for point in value
    )


def link_settings(data: Mapping[str, Any]) -> LinkSettings:
    """The :class:`LinkSettings` of a link's attributes, defaults filled in.

    Invalid values also give the defaults: compilation reports them before it builds.

    >>> link_settings({"elasticity": 0.5, "delay_time": 3})
    LinkSettings(elasticity=0.5, lookup=None, delay_time=3.0, delay_order=1)
    """
    elasticity, lookup = data.get("elasticity"), data.get("lookup")
    delay_time, order = data.get("delay_time"), data.get("delay_order")
    return LinkSettings(
        elasticity=float(elasticity) if _positive_number(elasticity) else DEFAULT_ELASTICITY,
        lookup=tuple((float(x), float(y)) for x, y in lookup) if _is_points(lookup) else None,
        delay_time=float(delay_time) if _positive_number(delay_time) else None,
        delay_order=order if order in DELAY_ORDERS and not isinstance(order, bool) else 1,
    )


def _has_settings(data: Mapping[str, Any]) -> bool:
    return any(data.get(key) is not None for key in SETTING_KEYS)


# ------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class _Input:
    """One link into a node, with how it is formulated."""

    source: str
    polarity: int
    delay: bool
    settings: LinkSettings


@dataclass(frozen=True)
class _Part:
    """One node as compilation sees it."""

    name: str
    kind: NodeKind
    reference: float | None
    equation: Equation | None
    initial: float | None
    units: str
    sector: str | None
    doc: str
    source: str
    inputs: tuple[_Input, ...]

    @property
    def standard(self) -> bool:
        """Whether the node gets the standard formulation."""
        return self.kind in _FORMULATED and self.equation is None

    @property
    def sources(self) -> tuple[str, ...]:
        """The names of the nodes linked into this one."""
        return tuple(link.source for link in self.inputs)

    @property
    def who(self) -> str:
        return f"{self.name!r} ({self.kind.value})"


@dataclass
class _Problems:
    """The problems found so far, one :class:`Issue` each."""

    issues: list[Issue] = field(default_factory=list)

    def add(self, code: str, message: str, variable: str | None = None) -> None:
        self.issues.append(Issue(Severity.ERROR, code, message, variable=variable))

    def raise_if_any(self, cld: CausalLoopDiagram) -> None:
        if self.issues:
            listing = "; ".join(issue.message for issue in self.issues)
            name = f" {cld.name!r}" if cld.name else ""
            raise ModelError(f"cannot compile{name}: {listing}", self.issues)


def _parts(cld: CausalLoopDiagram) -> dict[str, _Part]:
    graph = cld.graph
    parts: dict[str, _Part] = {}
    for name, data in graph.nodes(data=True):
        inputs = tuple(
            _Input(
                source,
                graph.edges[source, name]["polarity"],
                graph.edges[source, name]["delay"],
                link_settings(graph.edges[source, name]),
            )
            for source in graph.predecessors(name)
        )
        initial = data.get("initial")
        parts[name] = _Part(
            name=name,
            kind=data["kind"],
            reference=data["reference"],
            equation=data["equation"],
            initial=float(initial) if _is_number(initial) else None,
            units=data["units"],
            sector=data["sector"],
            doc=data["doc"],
            source=str(data.get("source") or ""),
            inputs=inputs,
        )
    return parts


# ------------------------------------------------------------------------- the checks


def _check_links(cld: CausalLoopDiagram, parts: Mapping[str, _Part], found: _Problems) -> None:
    """Signs, settings, and links that make no sense for their ends."""
    for source, target, data in cld.graph.edges(data=True):
        link = f"link {source!r} -> {target!r}"
        if data["polarity"] == 0:
            found.add("cld-link", f"{link} has no sign (polarity '?')", target)
        for problem in _settings_problems(data, data["polarity"], data["delay"]):
            found.add("cld-link", f"{link}: {problem}", target)
        tail, head = parts[source], parts[target]
        if head.kind is NodeKind.STOCK:
            if tail.kind is not NodeKind.FLOW:
                found.add(
                    "cld-link",
                    f"{link}: only flows change a stock, and {tail.who} is not a flow "
                    "(link it to a flow of the stock instead)",
                    target,
                )
            elif data["delay"] or _has_settings(data):
                found.add(
                    "cld-link",
                    f"{link}: a flow fills or drains its stock directly, so the link takes no "
                    "delay, elasticity or lookup (put them on a link into the flow)",
                    target,
                )
        elif head.equation is not None and _has_settings(data):
            found.add(
                "cld-link",
                f"{link}: its elasticity, lookup or delay time is not used because "
                f"{head.who} has an equation (remove them, or the equation)",
                target,
            )


def _check_node_attributes(cld: CausalLoopDiagram, found: _Problems) -> None:
    """``initial`` (stocks only, a number) as a diagram built in code may set it."""
    for name, data in cld.graph.nodes(data=True):
        initial = data.get("initial")
        if initial is None:
            continue
        who = f"{name!r} ({data['kind'].value})"
        if data["kind"] is not NodeKind.STOCK:
            found.add("cld-node", f"{who}: only stocks have an initial value", name)
        elif not _is_number(initial):
            found.add("cld-node", f"{who}: initial must be a number, got {initial!r}", name)


def _check_node(part: _Part, parts: Mapping[str, _Part], found: _Problems) -> None:
    kind = part.kind
    if kind is NodeKind.LOOKUP:
        found.add(
            "cld-kind",
            f"{part.who}: lookup nodes are not compiled; put the effect curve on the link "
            "it shapes (lookup: [[x, y], ...])",
            part.name,
        )
    elif kind is NodeKind.CONSTANT:
        _check_constant(part, found)
    elif kind is NodeKind.STOCK:
        _check_stock(part, parts, found)
    else:
        _check_formulated(part, parts, found)


def _numeric_equation(part: _Part) -> float | None:
    if part.equation is not None and part.equation.expr.is_Number:
        return float(part.equation.expr)
    return None


def _check_constant(part: _Part, found: _Problems) -> None:
    if part.inputs:
        causes = ", ".join(repr(i.source) for i in part.inputs)
        found.add(
            "cld-link",
            f"{part.who} cannot have causes (links from {causes}): make it an auxiliary",
            part.name,
        )
    if part.equation is not None and _numeric_equation(part) is None:
        found.add(
            "cld-equation",
            f"{part.who} has an equation that is not a number: make it an auxiliary",
            part.name,
        )
    elif part.equation is None and part.reference is None:
        found.add("cld-reference", f"{part.who} needs a reference value", part.name)


def _check_stock(part: _Part, parts: Mapping[str, _Part], found: _Problems) -> None:
    if part.equation is not None:
        found.add(
            "cld-equation",
            f"{part.who} is defined by its flows, not an equation (give its start as 'initial')",
            part.name,
        )
    if not any(parts[i.source].kind is NodeKind.FLOW for i in part.inputs):
        found.add(
            "cld-flows",
            f"{part.who} has no flows (link a flow into it: '+' for an inflow, '-' for an outflow)",
            part.name,
        )
    if part.initial is None and part.reference is None:
        found.add(
            "cld-reference", f"{part.who} needs a reference value (or an initial value)", part.name
        )


def _check_formulated(part: _Part, parts: Mapping[str, _Part], found: _Problems) -> None:
    if part.kind is NodeKind.FLOW and not any(
        parts[target].kind is NodeKind.STOCK for target in _targets(part, parts)
    ):
        found.add(
            "cld-flows",
            f"{part.who} fills or drains no stock (link it to a stock, or make it an auxiliary)",
            part.name,
        )
    if part.equation is not None:
        _check_equation_reads(part, parts, found)
        return
    if part.reference is None:
        found.add(
            "cld-reference",
            f"{part.who} needs a reference value (or an equation): its value when its inputs "
            "are at their reference values",
            part.name,
        )
    elif part.reference <= 0:
        found.add(
            "cld-reference",
            f"{part.who} needs a positive reference value for its standard formulation, got "
            f"{part.reference:g} (or give it an equation)",
            part.name,
        )
    for link in part.inputs:
        if link.delay and link.settings.delay_time is None:
            found.add(
                "cld-delay",
                f"{part.who} needs a delay time for its delayed input {link.source!r} "
                "(delay_time on the link)",
                part.name,
            )


def _targets(part: _Part, parts: Mapping[str, _Part]) -> list[str]:
    return [
        name for name, other in parts.items() if any(i.source == part.name for i in other.inputs)
    ]


def _check_equation_reads(part: _Part, parts: Mapping[str, _Part], found: _Problems) -> None:
    assert part.equation is not None
    by_key = {canonical(name): name for name in parts}
    read = part.equation.free_keys
    linked = {canonical(i.source) for i in part.inputs}
    for key in sorted(read - linked):
        if key in by_key:
            message = f"its equation reads {by_key[key]!r}, which has no link to it"
        else:
            message = f"its equation reads {key!r}, which is not a node of the diagram"
        found.add("cld-equation", f"{part.who}: {message}", part.name)
    for link in part.inputs:
        if canonical(link.source) not in read:
            found.add(
                "cld-equation",
                f"{part.who}: its equation does not read {link.source!r}, which links to it",
                part.name,
            )


def _check_input_references(parts: Mapping[str, _Part], found: _Problems) -> None:
    """Every input of a standard formulation needs a positive reference value.

    Nodes whose own checks already asked for a reference value are not reported twice.
    """
    readers: dict[str, list[str]] = {}
    for part in parts.values():
        if part.standard:
            for link in part.inputs:
                readers.setdefault(link.source, []).append(part.name)
    reported = {issue.variable for issue in found.issues if issue.code == "cld-reference"}
    for source, targets in readers.items():
        if source in reported:
            continue
        part = parts[source]
        reference = _reference(part)
        of = ", ".join(repr(t) for t in targets)
        if reference is None:
            found.add(
                "cld-reference",
                f"{part.who} needs a reference value: it is an input of {of}",
                source,
            )
        elif reference <= 0:
            found.add(
                "cld-reference",
                f"{part.who} needs a positive reference value, got {reference:g}: it is an "
                f"input of {of}, whose effects are ratios to it",
                source,
            )


def _reference(part: _Part) -> float | None:
    if part.reference is not None:
        return part.reference
    return _numeric_equation(part) if part.kind is NodeKind.CONSTANT else None


def _check_generated_names(parts: Mapping[str, _Part], found: _Problems) -> None:
    taken = {canonical(name): name for name in parts}
    for name in _generated_names(parts):
        clash = taken.get(canonical(name))
        if clash is not None:
            found.add(
                "cld-name",
                f"{parts[clash].who}: compilation generates a variable called {name!r}; "
                "rename the node",
                clash,
            )


def _generated_names(parts: Mapping[str, _Part]) -> list[str]:
    names: list[str] = []
    for part in parts.values():
        if not part.standard:
            continue
        names.append(reference_name(part.name))
        for link in part.inputs:
            names.append(reference_name(link.source))
            if link.settings.lookup is not None:
                names.append(effect_name(link.source, part.name))
            if link.delay:
                names.append(delay_time_name(link.source, part.name))
    return list(dict.fromkeys(names))


def _check_instant_loops(cld: CausalLoopDiagram, found: _Problems) -> None:
    """Loops with no stock and no delayed link would be algebraic loops."""
    graph = nx.DiGraph()
    stocks = set(cld.stocks)
    graph.add_nodes_from(node for node in cld.graph if node not in stocks)
    graph.add_edges_from(
        (u, v)
        for u, v, delay in cld.graph.edges(data="delay")
        if not delay and u not in stocks and v not in stocks
    )
    for component in nx.strongly_connected_components(graph):
        sub = graph.subgraph(component)
        if len(component) == 1 and not sub.number_of_edges():
            continue
        cycle = [u for u, _ in nx.find_cycle(sub)]
        first = min(range(len(cycle)), key=lambda i: canonical(cycle[i]))
        cycle = cycle[first:] + cycle[:first]
        path = " -> ".join(repr(name) for name in (*cycle, cycle[0]))
        found.add(
            "cld-loop",
            f"the loop {path} has no stock and no delayed link (an algebraic loop): make one "
            "of its variables a stock or mark one of its links delayed",
            cycle[0],
        )


def _check(cld: CausalLoopDiagram, parts: Mapping[str, _Part], clock: TimeSpec | None) -> _Problems:
    found = _Problems()
    if clock is None:
        found.add("cld-clock", "the diagram has no clock (add a 'time' section or pass time=)")
    _check_links(cld, parts, found)
    _check_node_attributes(cld, found)
    for part in parts.values():
        _check_node(part, parts, found)
    _check_input_references(parts, found)
    _check_generated_names(parts, found)
    _check_instant_loops(cld, found)
    return found


# ------------------------------------------------------------------------- building


def _number(value: float) -> sympy.Number:
    return sympy.Integer(int(value)) if float(value).is_integer() else sympy.Float(value)


def _joined(*paragraphs: str) -> str:
    return "\n\n".join(p.strip() for p in paragraphs if p.strip())


@dataclass
class _Builder:
    """Builds the variables of one diagram (the plan has been checked)."""

    cld: CausalLoopDiagram
    parts: Mapping[str, _Part]
    clock: TimeSpec
    references: dict[str, None] = field(default_factory=dict)  # nodes needing "Reference X"
    names: dict[str, str] = field(default_factory=dict)  # key -> name, for printing

    def __post_init__(self) -> None:
        for part in self.parts.values():
            if part.standard:
                self.references[part.name] = None
                self.references.update((link.source, None) for link in part.inputs)
        self.names = {canonical(name): name for name in self._all_names()}

    @property
    def origin(self) -> str:
        name = f" {self.cld.name!r}" if self.cld.name else ""
        return f"compiled from the causal-loop diagram{name}"

    def variables(self) -> tuple[Variable, ...]:
        built: list[Variable] = []
        for part in self.parts.values():
            built.append(self._variable(part))
            if part.name in self.references:
                built.append(self._reference_constant(part))
            if part.standard:
                built.extend(self._link_helpers(part))
        return tuple(built)

    def _common(self, part: _Part) -> dict[str, Any]:
        return {"name": part.name, "units": part.units, "sector": part.sector}

    def _variable(self, part: _Part) -> Variable:
        if part.kind is NodeKind.STOCK:
            return self._stock(part)
        if part.kind is NodeKind.CONSTANT:
            value = _numeric_equation(part)
            value = part.reference if value is None else value
            assert value is not None  # checked
            doc = _joined(part.doc, f"Constant ({self.origin}).")
            return Constant(**self._common(part), value=float(value), doc=doc, source=part.source)
        kind = Flow if part.kind is NodeKind.FLOW else Auxiliary
        if part.equation is not None:
            doc = _joined(part.doc, f"Equation written in the diagram ({self.origin}).")
            equation = part.equation
        else:
            equation, how = self._standard(part)
            doc = _joined(part.doc, how)
        declared = tuple(DeclaredLink(link.source, link.polarity) for link in part.inputs)
        return kind(
            **self._common(part),
            equation=equation,
            doc=doc,
            source=part.source,
            declared_links=declared,
        )

    def _stock(self, part: _Part) -> Stock:
        flows = [
            (link.source, link.polarity)
            for link in part.inputs
            if self.parts[link.source].kind is NodeKind.FLOW
        ]
        inflows = tuple(name for name, polarity in flows if polarity > 0)
        outflows = tuple(name for name, polarity in flows if polarity < 0)
        start = part.reference if part.initial is None else part.initial
        assert start is not None
        origin = "the diagram's initial value" if part.initial is not None else "its reference"
        change = _balance(inflows, outflows)
        how = f"Stock ({self.origin}): changes by {change}; starts at {start:g} ({origin})."
        return Stock(
            **self._common(part),
            initial=Equation.of(_number(start)),
            inflows=inflows,
            outflows=outflows,
            non_negative=part.name in self._formulation_inputs(),
            doc=_joined(part.doc, how),
            source=part.source,
        )

    def _formulation_inputs(self) -> set[str]:
        return {
            link.source for part in self.parts.values() if part.standard for link in part.inputs
        }

    def _standard(self, part: _Part) -> tuple[Equation, str]:
        """The standard formulation of a flow or auxiliary, and the doc that explains it.

        The text is written factor by factor (reference first, effects in link order), which
        reads better than sympy's canonical order of the same product.
        """
        scale = symbol(reference_name(part.name))
        factors: list[sympy.Expr] = [scale]
        texts = [self._text(scale)]
        effects: list[str] = []
        for link in part.inputs:
            factor, text, effect = self._effect(part, link)
            factors.append(factor)
            texts.append(text)
            effects.append(effect)
        head = f"Standard formulation ({self.origin}): {reference_name(part.name)}"
        equation = Equation(sympy.Mul(*factors), text=" * ".join(texts))
        if not effects:
            return equation, f"{head}; it has no inputs, so it stays at its reference value."
        how = (
            f"{head} times the effect of each input relative to its reference value: "
            f"{'; '.join(effects)}."
        )
        return equation, how

    def _effect(self, part: _Part, link: _Input) -> tuple[sympy.Expr, str, str]:
        """One effect: its expression, its text and a description for the doc."""
        value: sympy.Expr = symbol(link.source)
        what = repr(link.source)
        if link.delay:
            order, delay_time = link.settings.delay_order, link.settings.delay_time
            smooth = _SMOOTH_OF_ORDER[order]
            value = smooth(value, symbol(delay_time_name(link.source, part.name)))
            what += (
                f" smoothed over {delay_time:g} {self.clock.units} "
                f"({_ORDER_WORD[order]}-order information delay, {smooth.__name__})"
            )
        reference = symbol(reference_name(link.source))
        ratio = value / reference
        ratio_text = f"{self._text(value)} / {self._text(reference)}"
        sign = _SIGN[link.polarity]
        if link.settings.lookup is not None:
            table = effect_name(link.source, part.name)
            text = f"{quote_name(table)}({ratio_text})"
            return fn.LOOKUP(symbol(table), ratio), text, f"{what} through {table!r} ({sign})"
        exponent = _number(link.polarity * link.settings.elasticity)
        text = f"({ratio_text})" + ("" if exponent == 1 else f"^{number_to_vensim(exponent)}")
        described = f"{what} as a power law with exponent {float(exponent):g} ({sign})"
        return ratio**exponent, text, described

    def _text(self, expr: sympy.Basic) -> str:
        return expr_to_vensim(expr, lambda key: self.names.get(key, key))

    def _all_names(self) -> Iterable[str]:
        yield from self.parts
        yield from (reference_name(name) for name in self.references)
        for part in self.parts.values():
            for link in part.inputs:
                yield effect_name(link.source, part.name)
                yield delay_time_name(link.source, part.name)

    def _reference_constant(self, part: _Part) -> Constant:
        value = _reference(part)
        assert value is not None
        roles = []
        if part.standard:
            roles.append(f"the value of {part.name} when its inputs are at their reference values")
        readers = [p.name for p in self.parts.values() if p.standard and part.name in p.sources]
        if readers:
            roles.append(
                f"the value the effects of {part.name} on {', '.join(readers)} are measured from"
            )
        doc = (
            f"Reference value of {part.name} ({self.origin}): {'; and '.join(roles)}. Change it "
            "to move that operating point."
        )
        source = part.source or f"reference value in the causal-loop diagram {self.cld.name!r}"
        return Constant(**self._common(part) | {"name": reference_name(part.name)},
                        value=value, doc=doc, source=source)  # fmt: skip

    def _link_helpers(self, part: _Part) -> list[Variable]:
        helpers: list[Variable] = []
        for link in part.inputs:
            if link.settings.lookup is not None:
                helpers.append(self._effect_lookup(part, link))
            if link.delay:
                helpers.append(self._delay_constant(part, link))
        return helpers

    def _effect_lookup(self, part: _Part, link: _Input) -> Lookup:
        assert link.settings.lookup is not None
        xs, ys = zip(*link.settings.lookup, strict=True)
        doc = (
            f"Effect of {link.source} on {part.name} ({self.origin}): a multiplier on "
            f"{part.name} as a function of {link.source} relative to its reference value "
            f"(1 at the reference; polarity {_SIGN[link.polarity]})."
        )
        return Lookup(
            name=effect_name(link.source, part.name), xs=tuple(xs), ys=tuple(ys),
            units="dmnl", sector=part.sector, doc=doc, source=f"link {link.source!r} -> "
            f"{part.name!r} of the causal-loop diagram {self.cld.name!r}",
        )  # fmt: skip

    def _delay_constant(self, part: _Part, link: _Input) -> Constant:
        assert link.settings.delay_time is not None
        order = _ORDER_WORD[link.settings.delay_order]
        doc = (
            f"Delay time of the information link {link.source} -> {part.name} ({self.origin}): "
            f"{part.name} responds to {link.source} through a {order}-order smooth over this time."
        )
        return Constant(
            name=delay_time_name(link.source, part.name), value=link.settings.delay_time,
            units=self.clock.units, sector=part.sector, doc=doc,
            source=f"link {link.source!r} -> {part.name!r} of the causal-loop diagram "
            f"{self.cld.name!r}",
        )  # fmt: skip


def _balance(inflows: Sequence[str], outflows: Sequence[str]) -> str:
    """``"In1 + In2 - Out1"`` (``"-Out"`` for a stock that only drains)."""
    text = " + ".join(inflows)
    if outflows:
        text = (f"{text} - " if text else "-") + " - ".join(outflows)
    return text


def _sectors(parts: Mapping[str, _Part]) -> tuple[Sector, ...]:
    names = dict.fromkeys(part.sector for part in parts.values() if part.sector)
    return tuple(Sector(name) for name in names if name is not None)


# ------------------------------------------------------------------------- verifying


def _disagreements(cld: CausalLoopDiagram, model: Model) -> _Problems:
    """Links into flows and auxiliaries whose recomputed sign or delay differs from the diagram."""
    found = _Problems()
    signs = model_link_signs(model)
    for link in cld.links:
        if cld.graph.nodes[link.target]["kind"] not in _FORMULATED:
            continue
        derived = signs.get(canonical(link.target), {}).get(canonical(link.source))
        where = f"link {link.source!r} -> {link.target!r}"
        if derived is None:
            found.add("cld-polarity", f"{where}: the equation does not read it", link.target)
        elif derived.polarity != link.polarity:
            found.add(
                "cld-polarity",
                f"{where} is declared {link.sign!r}, but the equation of {link.target!r} makes "
                f"it {_SIGN[derived.polarity]!r}",
                link.target,
            )
        elif derived.delay != link.delay:
            marked = "is marked delayed, but" if link.delay else "is not marked delayed, but"
            reads = "reads it directly" if link.delay else "reads it through a delay"
            found.add(
                "cld-polarity",
                f"{where} {marked} the equation of {link.target!r} {reads}",
                link.target,
            )
    return found


def compile_diagram(cld: CausalLoopDiagram, *, time: TimeSpec | None = None) -> Model:
    """A stock-and-flow model (IR) from a causal-loop diagram (see the module docstring).

    Parameters
    ----------
    cld
        The diagram: nodes with kinds and reference values, signed links (with optional
        ``elasticity``, ``lookup``, ``delay_time`` and ``delay_order`` attributes).
    time
        The clock; by default the diagram's own (:func:`diagram_clock`).

    Raises
    ------
    ModelError
        Anything missing or inconsistent, all listed in one message (``issues`` holds each),
        or compiled equations whose link signs differ from the declared ones.

    Examples
    --------
    >>> g = nx.DiGraph()
    >>> g.add_node("Patients", kind="stock", reference=100)
    >>> g.add_node("Discharges", kind="flow", reference=10)
    >>> g.add_edge("Patients", "Discharges", polarity=1)
    >>> g.add_edge("Discharges", "Patients", polarity=-1)
    >>> model = compile_diagram(CausalLoopDiagram(g, name="Ward"), time=TimeSpec(stop=12))
    >>> model["Discharges"].equation.text
    'Reference Discharges * (Patients / Reference Patients)'
    >>> model["Patients"].outflows, model["Reference Patients"].value
    (('Discharges',), 100.0)
    """
    clock = diagram_clock(cld) if time is None else time
    parts = _parts(cld)
    _check(cld, parts, clock).raise_if_any(cld)
    assert clock is not None
    builder = _Builder(cld, parts, clock)
    doc = _joined(cld.doc, f"Stock-and-flow model {builder.origin}.")
    model = Model(
        name=cld.name or "Compiled diagram",
        time=clock,
        variables=builder.variables(),
        sectors=_sectors(parts),
        doc=doc,
    )
    _disagreements(cld, model).raise_if_any(cld)
    return model
