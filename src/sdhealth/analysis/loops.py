"""Feedback loops of a causal-loop diagram: enumeration, polarity, R/B and stable ids.

:func:`find_loops` lists the elementary cycles of a :class:`~sdhealth.cld.CausalLoopDiagram`
with networkx (``simple_cycles``; ``all_simple_paths`` back to the node for ``through=``) and
describes each as a :class:`Loop`:

- its **polarity** is the product of its links' polarities: +1 is reinforcing (``R``), -1
  balancing (``B``); a loop with a link of unknown sign (0) has polarity 0 and kind ``?``;
- its **variables** start at the variable with the smallest key
  (:func:`~sdhealth.ir.names.canonical`), so the same loop always reads the same;
- its **id** is stable: loops are sorted by kind (R, B, ?), then length, then their variables'
  keys, and numbered ``R1, R2 ...``, ``B1 ...`` and ``U1 ...`` (undetermined) in that order,
  so the same diagram gives the same ids whatever order its nodes were added in.

Large diagrams (World3 has thousands of loops) get a bounded search: it stops after
``max_loops`` loops -- the generator is never run to exhaustion -- and the result says so
(:attr:`LoopSet.truncated`, :attr:`LoopSet.message`); ``max_length`` bounds loop length. The
search runs over a copy of the graph with nodes and links in key order, so even a truncated
search finds the same loops for the same diagram. Ids number the loops found: when the search
is truncated, a larger ``max_loops`` may find shorter loops and renumber.

The diagram type lives in :mod:`sdhealth.cld` and imports nothing of ``analysis``;
``sd.CausalLoopDiagram.loops()`` (the facade) calls :func:`find_loops`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import networkx as nx
import pandas as pd

from sdhealth.cld.diagram import CausalLoopDiagram
from sdhealth.errors import UnknownNameError
from sdhealth.ir.names import canonical

__all__ = [
    "DEFAULT_MAX_LOOPS", "Loop", "LoopKind", "LoopSet", "find_loops", "find_named_loops",
    "loop_table", "match_named_loops", "trace_loop",
]  # fmt: skip

#: How many loops :func:`find_loops` lists unless told otherwise.
DEFAULT_MAX_LOOPS = 10_000


class LoopKind(StrEnum):
    """Reinforcing (``R``), balancing (``B``) or undetermined (``?``: a link of unknown sign).

    A ``StrEnum``: ``LoopKind.BALANCING == "B"``.
    """

    REINFORCING = "R"
    BALANCING = "B"
    UNDETERMINED = "?"


_KIND_OF_POLARITY = {1: LoopKind.REINFORCING, -1: LoopKind.BALANCING, 0: LoopKind.UNDETERMINED}
_ID_PREFIX = {LoopKind.REINFORCING: "R", LoopKind.BALANCING: "B", LoopKind.UNDETERMINED: "U"}
_KIND_RANK = {kind: rank for rank, kind in enumerate(LoopKind)}
_SIGN = {1: "+", -1: "-", 0: "?"}


@dataclass(frozen=True)
class Loop:
    """One feedback loop. ``links`` are ``(from, to, polarity)``, the last one closing it."""

    id: str
    polarity: int
    kind: LoopKind
    variables: tuple[str, ...]
    stocks: tuple[str, ...]
    links: tuple[tuple[str, str, int], ...]
    length: int
    has_delay: bool

    @property
    def path(self) -> str:
        """``"A -> B -> A"``."""
        return " -> ".join((*self.variables, self.variables[0]))

    def __str__(self) -> str:
        return f"{self.id} ({_SIGN[self.polarity]}): {self.path}"


class LoopSet(tuple[Loop, ...]):
    """The loops :func:`find_loops` found: a tuple of :class:`Loop`, plus whether it is complete.

    >>> empty = LoopSet((), truncated=True, max_loops=5)
    >>> len(empty), empty.truncated, empty.message
    (0, True, 'search stopped after 5 loops; pass max_loops= to see more')
    """

    _truncated: bool
    _max_loops: int

    def __new__(
        cls, loops: Iterable[Loop] = (), *, truncated: bool = False,
        max_loops: int = DEFAULT_MAX_LOOPS,
    ) -> LoopSet:  # fmt: skip
        self = super().__new__(cls, loops)
        self._truncated = truncated
        self._max_loops = max_loops
        return self

    @property
    def truncated(self) -> bool:
        """Whether the search stopped at ``max_loops`` (more loops may exist)."""
        return self._truncated

    @property
    def max_loops(self) -> int:
        return self._max_loops

    @property
    def message(self) -> str:
        """What was left out, or ``""`` when the search was complete."""
        if not self._truncated:
            return ""
        return f"search stopped after {self._max_loops} loops; pass max_loops= to see more"

    def by_id(self, loop_id: str) -> Loop:
        """The loop called ``loop_id`` (``"R1"``)."""
        for loop in self:
            if loop.id == loop_id.strip().upper():
                return loop
        raise UnknownNameError(f"no loop {loop_id!r} (the loops are {_id_range(self)})")

    def to_frame(self) -> pd.DataFrame:
        """One row per loop: id, kind, polarity, length, has_delay, stocks, variables."""
        columns = ["id", "kind", "polarity", "length", "has_delay", "stocks", "variables"]
        rows = [
            (lp.id, str(lp.kind), lp.polarity, lp.length, lp.has_delay, lp.stocks, lp.variables)
            for lp in self
        ]
        return pd.DataFrame(rows, columns=columns)

    def __repr__(self) -> str:
        more = ", truncated" if self._truncated else ""
        return f"LoopSet({len(self)} loops{more}: {_id_range(self)})"


def _id_range(loops: Sequence[Loop]) -> str:
    return ", ".join(loop.id for loop in loops[:10]) + (" ..." if len(loops) > 10 else "") or "none"


def _search_graph(cld: CausalLoopDiagram, keys: Mapping[str, str]) -> nx.DiGraph:
    """The diagram's links with nodes and edges in key order (a deterministic search)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(cld.graph, key=keys.__getitem__))
    graph.add_edges_from(sorted(cld.graph.edges, key=lambda e: (keys[e[0]], keys[e[1]])))
    return graph


def _cycles_through(graph: nx.DiGraph, node: str, max_length: int | None) -> Iterator[list[str]]:
    """Every elementary cycle through ``node`` (each found once, by its link out of ``node``)."""
    if graph.has_edge(node, node):
        yield [node]
    if max_length is not None and max_length < 2:
        return
    component = next(c for c in nx.strongly_connected_components(graph) if node in c)
    sub = graph.subgraph(component)
    cutoff = None if max_length is None else max_length - 1
    for successor in sub.successors(node):
        if successor == node:
            continue
        for path in nx.all_simple_paths(sub, successor, node, cutoff=cutoff):
            yield [node, *path[:-1]]


@dataclass(frozen=True)
class _Lookups:
    """What describing a loop needs from the diagram, as plain dicts built once per search."""

    keys: Mapping[str, str]
    links: Mapping[tuple[str, str], tuple[int, bool]]
    stocks: frozenset[str]

    @classmethod
    def of(cls, cld: CausalLoopDiagram) -> _Lookups:
        keys = {name: canonical(name) for name in cld.graph}
        links = {
            (u, v): (int(data["polarity"]), bool(data["delay"]))
            for u, v, data in cld.graph.edges(data=True)
        }
        return cls(keys, links, frozenset(cld.stocks))


def _describe(lookups: _Lookups, cycle: Sequence[str]) -> Loop:
    """A loop without its id: rotated to its smallest key, with links, polarity and stocks.

    Written with C-level iteration (``zip``, ``map``, ``filter``): the NHS model has about
    10,000 loops, and this ran for half of their search.
    """
    keys = lookups.keys
    start = min(range(len(cycle)), key=lambda i: keys[cycle[i]])
    variables = (*cycle[start:], *cycle[:start])
    following = (*variables[1:], variables[0])
    signs = list(map(lookups.links.__getitem__, zip(variables, following, strict=True)))
    polarities = [sign for sign, _ in signs]
    polarity = math.prod(polarities)
    return Loop(
        id="",
        polarity=polarity,
        kind=_KIND_OF_POLARITY[polarity],
        variables=variables,
        stocks=tuple(filter(lookups.stocks.__contains__, variables)),
        links=tuple(zip(variables, following, polarities, strict=True)),
        length=len(variables),
        has_delay=any(delay for _, delay in signs),
    )


def _numbered(loops: Iterable[Loop], keys: Mapping[str, str]) -> list[Loop]:
    """Loops sorted by (kind, length, keys) and given the ids R1.., B1.., U1.."""
    ordered = sorted(
        loops,
        key=lambda lp: (_KIND_RANK[lp.kind], lp.length, tuple(map(keys.__getitem__, lp.variables))),
    )
    counters = dict.fromkeys(_ID_PREFIX, 0)
    numbered = []
    for loop in ordered:
        counters[loop.kind] += 1
        loop_id = f"{_ID_PREFIX[loop.kind]}{counters[loop.kind]}"
        numbered.append(dataclasses.replace(loop, id=loop_id))
    return numbered


def find_loops(
    cld: CausalLoopDiagram,
    *,
    through: str | None = None,
    max_loops: int = DEFAULT_MAX_LOOPS,
    max_length: int | None = None,
) -> LoopSet:
    """The feedback loops of a diagram, with stable ids (see the module docstring).

    Parameters
    ----------
    cld
        The diagram.
    through
        Only loops through this variable (names ignore case, spaces and underscores).
    max_loops
        Stop after this many loops; the result is then marked ``truncated``.
    max_length
        Only loops of at most this many links.

    Raises
    ------
    UnknownNameError
        ``through`` is not a variable of the diagram (the message suggests close names).
    ValueError
        ``max_loops`` or ``max_length`` below 1.

    Examples
    --------
    >>> g = nx.DiGraph()
    >>> g.add_edges_from([("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")], polarity=1)
    >>> g.edges["c", "b"]["polarity"] = -1
    >>> [str(loop) for loop in find_loops(CausalLoopDiagram(g))]
    ['R1 (+): a -> b -> a', 'B1 (-): b -> c -> b']
    >>> [loop.id for loop in find_loops(CausalLoopDiagram(g), through="C")]
    ['B1']
    """
    if max_loops < 1:
        raise ValueError(f"max_loops must be at least 1, got {max_loops}")
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    lookups = _Lookups.of(cld)
    graph = _search_graph(cld, lookups.keys)
    if through is None:
        cycles: Iterator[list[str]] = nx.simple_cycles(graph, length_bound=max_length)
    else:
        cycles = _cycles_through(graph, cld.resolve(through), max_length)
    found = list(itertools.islice(cycles, max_loops + 1))
    truncated = len(found) > max_loops
    loops = _numbered((_describe(lookups, cycle) for cycle in found[:max_loops]), lookups.keys)
    return LoopSet(loops, truncated=truncated, max_loops=max_loops)


def loop_table(loops: Sequence[Loop]) -> str:
    """A plain-text table of loops, one per line (for ``sdhealth loops``).

    A truncated :class:`LoopSet` ends with its message.

    >>> g = nx.DiGraph()
    >>> g.add_node("Level", kind="stock")
    >>> g.add_edge("Level", "Outflow", polarity=1)
    >>> g.add_edge("Outflow", "Level", polarity=-1, delay=True)
    >>> print(loop_table(find_loops(CausalLoopDiagram(g))))
    id  polarity  length  delay  stocks  loop
    B1  -         2       yes    Level   Level -> Outflow -> Level
    """
    if not loops:
        lines = ["no feedback loops"]
    else:
        header = ("id", "polarity", "length", "delay", "stocks", "loop")
        rows = [header] + [
            (lp.id, _SIGN[lp.polarity], str(lp.length), "yes" if lp.has_delay else "",
             ", ".join(lp.stocks) or "-", lp.path)
            for lp in loops
        ]  # fmt: skip
        widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  " + row[-1]
            for row in rows
        ]  # fmt: skip
    message = getattr(loops, "message", "")
    return "\n".join(lines + ([message] if message else []))


def match_named_loops(
    loops: Sequence[Loop], named: Sequence[tuple[str, Sequence[str]]]
) -> list[tuple[str, Loop | None]]:
    """For each ``(name, variables)``, the shortest loop running through all ``variables``.

    This is how a model's ``report: loops:`` (e.g. the brief's "R3 burnout and attrition")
    are found among the enumerated loops; ``None`` where no loop runs through them all.
    Names are compared ignoring case, spaces and underscores.

    >>> g = nx.DiGraph()
    >>> g.add_edges_from([("a", "b"), ("b", "a"), ("b", "c"), ("c", "a")], polarity=1)
    >>> [(name, loop and loop.path) for name, loop in
    ...  match_named_loops(find_loops(CausalLoopDiagram(g)), [("R long", ["a", "c"]),
    ...                                                        ("none", ["c", "x"])])]
    [('R long', 'a -> b -> c -> a'), ('none', None)]
    """
    found: list[tuple[str, Loop | None]] = []
    for name, variables in named:
        wanted = {canonical(v) for v in variables}
        candidates = [loop for loop in loops if wanted <= {canonical(v) for v in loop.variables}]
        best = min(candidates, key=lambda loop: (loop.length, loop.id), default=None)
        found.append((name, best))
    return found


def trace_loop(cld: CausalLoopDiagram, variables: Sequence[str]) -> Loop | None:
    """The loop that runs through ``variables`` in that order, by shortest paths; or None.

    Each step from one named variable to the next takes the shortest path that avoids the
    variables already on the loop, so the result is an elementary loop visiting them in the
    order given (a modeller's "occupancy -> cancellations -> elective inpatients ->
    occupancy"). It needs no enumeration of the diagram's loops, so it works on diagrams
    with far more loops than :func:`find_loops` would list. The loop has no id.

    >>> g = nx.DiGraph()
    >>> g.add_edges_from([("a", "b"), ("b", "c"), ("c", "a"), ("b", "a")], polarity=1)
    >>> g.edges["c", "a"]["polarity"] = -1
    >>> str(trace_loop(CausalLoopDiagram(g), ["a", "c"]))
    ' (-): a -> b -> c -> a'
    >>> trace_loop(CausalLoopDiagram(g), ["c", "b", "x"]) is None
    True
    """
    lookups = _Lookups.of(cld)
    try:
        named = [cld.resolve(v) for v in variables]
    except UnknownNameError:
        return None
    if not named or len(set(named)) != len(named):
        return None
    graph = _search_graph(cld, lookups.keys)
    cycle: list[str] = []
    used = set(named)
    for source, target in zip(named, named[1:] + named[:1], strict=True):
        allowed = graph.subgraph(n for n in graph if n not in used or n in (source, target))
        try:
            path = nx.shortest_path(allowed, source, target)
        except nx.NetworkXNoPath:
            return None
        if len(named) == 1 and len(path) == 1:  # a self-loop
            if not graph.has_edge(source, source):
                return None
            path = [source, source]
        cycle.extend(path[:-1])
        used.update(path)
    return _describe(lookups, cycle)


def find_named_loops(
    cld: CausalLoopDiagram, named: Sequence[tuple[str, Sequence[str]]], loops: Sequence[Loop]
) -> list[tuple[str, Loop | None]]:
    """Each named loop of a model's ``report: loops:``, found whatever the diagram's size.

    A named loop is its variables in causal order: :func:`trace_loop` follows them; where
    that finds nothing, the shortest of ``loops`` through them all is taken
    (:func:`match_named_loops`). A loop keeps its id from ``loops`` when it is among them.

    >>> g = nx.DiGraph()
    >>> g.add_edges_from([("a", "b"), ("b", "a"), ("b", "c"), ("c", "a")], polarity=1)
    >>> cld = CausalLoopDiagram(g)
    >>> [(name, loop.path, loop.id) for name, loop in
    ...  find_named_loops(cld, [("R long", ["a", "c"])], find_loops(cld))]
    [('R long', 'a -> b -> c -> a', 'R2')]
    """
    ids = {loop.variables: loop.id for loop in loops}
    found: list[tuple[str, Loop | None]] = []
    for name, variables in named:
        traced = trace_loop(cld, variables)
        if traced is None:
            found.extend(match_named_loops(loops, [(name, variables)]))
        else:
            found.append((name, dataclasses.replace(traced, id=ids.get(traced.variables, ""))))
    return found
