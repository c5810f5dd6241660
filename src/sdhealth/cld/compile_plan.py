"""The compilation plan of a causal-loop diagram and its checks.

:func:`plan` reads each node of a diagram into a :class:`Part` (its kind, reference value,
equation and the links into it, with their :class:`~sdhealth.cld.links.LinkSettings`);
:func:`check_plan` finds everything that keeps the diagram from compiling -- a stock without
flows, a formulated node without a reference value, an equation that does not read its links,
an algebraic loop, a generated name that clashes -- and returns them all as
:class:`Problems`, so :mod:`sdhealth.cld.compile` can report them in one error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx

from sdhealth.cld.diagram import CausalLoopDiagram, NodeKind
from sdhealth.cld.links import (
    FORMULATED,
    LinkSettings,
    delay_time_name,
    effect_name,
    has_settings,
    is_number,
    link_settings,
    reference_name,
    settings_problems,
)
from sdhealth.errors import Issue, ModelError, Severity
from sdhealth.ir.model import Equation, TimeSpec
from sdhealth.ir.names import canonical

__all__ = [
    "Input",
    "Part",
    "Problems",
    "check_plan",
    "generated_names",
    "numeric_equation",
    "plan",
    "reference_value",
]

# ------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Input:
    """One link into a node, with how it is formulated."""

    source: str
    polarity: int
    delay: bool
    settings: LinkSettings


@dataclass(frozen=True)
class Part:
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
    inputs: tuple[Input, ...]

    @property
    def standard(self) -> bool:
        """Whether the node gets the standard formulation."""
        return self.kind in FORMULATED and self.equation is None

    @property
    def sources(self) -> tuple[str, ...]:
        """The names of the nodes linked into this one."""
        return tuple(link.source for link in self.inputs)

    @property
    def who(self) -> str:
        return f"{self.name!r} ({self.kind.value})"


@dataclass
class Problems:
    """The problems found so far, one :class:`Issue` each."""

    issues: list[Issue] = field(default_factory=list)

    def add(self, code: str, message: str, variable: str | None = None) -> None:
        self.issues.append(Issue(Severity.ERROR, code, message, variable=variable))

    def raise_if_any(self, cld: CausalLoopDiagram) -> None:
        if self.issues:
            listing = "; ".join(issue.message for issue in self.issues)
            name = f" {cld.name!r}" if cld.name else ""
            raise ModelError(f"cannot compile{name}: {listing}", self.issues)


def plan(cld: CausalLoopDiagram) -> dict[str, Part]:
    graph = cld.graph
    parts: dict[str, Part] = {}
    for name, data in graph.nodes(data=True):
        inputs = tuple(
            Input(
                source,
                graph.edges[source, name]["polarity"],
                graph.edges[source, name]["delay"],
                link_settings(graph.edges[source, name]),
            )
            for source in graph.predecessors(name)
        )
        initial = data.get("initial")
        parts[name] = Part(
            name=name,
            kind=data["kind"],
            reference=data["reference"],
            equation=data["equation"],
            initial=float(initial) if is_number(initial) else None,
            units=data["units"],
            sector=data["sector"],
            doc=data["doc"],
            source=str(data.get("source") or ""),
            inputs=inputs,
        )
    return parts


# ------------------------------------------------------------------------- the checks


def _check_links(cld: CausalLoopDiagram, parts: Mapping[str, Part], found: Problems) -> None:
    """Signs, settings, and links that make no sense for their ends."""
    for source, target, data in cld.graph.edges(data=True):
        link = f"link {source!r} -> {target!r}"
        if data["polarity"] == 0:
            found.add("cld-link", f"{link} has no sign (polarity '?')", target)
        for problem in settings_problems(data, data["polarity"], data["delay"]):
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
            elif data["delay"] or has_settings(data):
                found.add(
                    "cld-link",
                    f"{link}: a flow fills or drains its stock directly, so the link takes no "
                    "delay, elasticity or lookup (put them on a link into the flow)",
                    target,
                )
        elif head.equation is not None and has_settings(data):
            found.add(
                "cld-link",
                f"{link}: its elasticity, lookup or delay time is not used because "
                f"{head.who} has an equation (remove them, or the equation)",
                target,
            )


def _check_node_attributes(cld: CausalLoopDiagram, found: Problems) -> None:
    """``initial`` (stocks only, a number) as a diagram built in code may set it."""
    for name, data in cld.graph.nodes(data=True):
        initial = data.get("initial")
        if initial is None:
            continue
        who = f"{name!r} ({data['kind'].value})"
        if data["kind"] is not NodeKind.STOCK:
            found.add("cld-node", f"{who}: only stocks have an initial value", name)
        elif not is_number(initial):
            found.add("cld-node", f"{who}: initial must be a number, got {initial!r}", name)


def _check_node(part: Part, parts: Mapping[str, Part], found: Problems) -> None:
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


def numeric_equation(part: Part) -> float | None:
    if part.equation is not None and part.equation.expr.is_Number:
        return float(part.equation.expr)
    return None


def _check_constant(part: Part, found: Problems) -> None:
    if part.inputs:
        causes = ", ".join(repr(i.source) for i in part.inputs)
        found.add(
            "cld-link",
            f"{part.who} cannot have causes (links from {causes}): make it an auxiliary",
            part.name,
        )
    if part.equation is not None and numeric_equation(part) is None:
        found.add(
            "cld-equation",
            f"{part.who} has an equation that is not a number: make it an auxiliary",
            part.name,
        )
    elif part.equation is None and part.reference is None:
        found.add("cld-reference", f"{part.who} needs a reference value", part.name)


def _check_stock(part: Part, parts: Mapping[str, Part], found: Problems) -> None:
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


def _check_formulated(part: Part, parts: Mapping[str, Part], found: Problems) -> None:
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


def _targets(part: Part, parts: Mapping[str, Part]) -> list[str]:
    return [
        name for name, other in parts.items() if any(i.source == part.name for i in other.inputs)
    ]


def _check_equation_reads(part: Part, parts: Mapping[str, Part], found: Problems) -> None:
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


def _check_input_references(parts: Mapping[str, Part], found: Problems) -> None:
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
        reference = reference_value(part)
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


def reference_value(part: Part) -> float | None:
    if part.reference is not None:
        return part.reference
    return numeric_equation(part) if part.kind is NodeKind.CONSTANT else None


def _check_generated_names(parts: Mapping[str, Part], found: Problems) -> None:
    taken = {canonical(name): name for name in parts}
    for name in generated_names(parts):
        clash = taken.get(canonical(name))
        if clash is not None:
            found.add(
                "cld-name",
                f"{parts[clash].who}: compilation generates a variable called {name!r}; "
                "rename the node",
                clash,
            )


def generated_names(parts: Mapping[str, Part]) -> list[str]:
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


def _check_instant_loops(cld: CausalLoopDiagram, found: Problems) -> None:
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


def check_plan(
    cld: CausalLoopDiagram, parts: Mapping[str, Part], clock: TimeSpec | None
) -> Problems:
    found = Problems()
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
