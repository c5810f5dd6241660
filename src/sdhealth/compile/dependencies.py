"""Which variable reads which: the dependency graph, algebraic loops and evaluation orders.

:func:`dependency_graph` derives a ``networkx.DiGraph`` from a model's equations (never stored
twice): an edge ``x -> y`` when ``y``'s equation reads ``x``. Nodes are variable keys with the
:class:`~sdhealth.ir.Variable` as node attribute ``variable``. Every edge carries three flags:

``initial``
    the edge exists only because a stock's initial value reads ``x`` (for a stock, the edges
    from its flows have ``initial=False``);
``instant``
    ``y`` needs ``x``'s value of the *same* time step during the run. Flows do not feed their
    stock instantly (a stock integrates), and neither do the arguments of a stateful builtin
    that the builtin only accumulates (see :data:`ARGUMENT_ROLES`);
``at_init``
    ``y`` needs ``x``'s value when the model is initialised.

The argument roles follow the expansion in :mod:`sdhealth.compile.expand`, so a model gives
the same loops before and after expansion: ``SMOOTH`` output is a stock, a ``DELAY`` output is
its last stage divided by the current delay time, ``TREND`` and ``FORECAST`` read their input
directly. ``DELAY FIXED`` and ``INITIAL`` break loops like a stock does; ``ACTIVE INITIAL``
reads its second argument at the start and its first during the run.

References to names that are not variables of the model are left out (the checks report them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx
import sympy

from sdhealth.errors import ModelError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Constant, Lookup, Model, Stock, Variable
from sdhealth.ir.names import canonical

__all__ = [
    "ArgumentRoles",
    "ARGUMENT_ROLES",
    "dependency_graph",
    "algebraic_cycles",
    "initial_cycles",
    "evaluation_order",
    "initialisation_order",
    "format_cycle",
]


@dataclass(frozen=True)
class ArgumentRoles:
    """Which arguments of a builtin with memory its output reads during a step / at the start."""

    run: frozenset[int]
    init: frozenset[int]


def _roles(run: Iterable[int], init: Iterable[int]) -> ArgumentRoles:
    return ArgumentRoles(frozenset(run), frozenset(init))


#: Builtins with memory -> the argument positions their output reads instantly and at init.
ARGUMENT_ROLES: dict[type[fn.SDFunction], ArgumentRoles] = {
    fn.DELAY1: _roles(run=(1,), init=(0, 1)),
    fn.DELAY3: _roles(run=(1,), init=(0, 1)),
    fn.DELAY1I: _roles(run=(1,), init=(1, 2)),
    fn.DELAY3I: _roles(run=(1,), init=(1, 2)),
    fn.DELAY_N: _roles(run=(1,), init=(1, 2, 3)),
    fn.DELAY_FIXED: _roles(run=(), init=(1, 2)),
    fn.SMOOTH: _roles(run=(), init=(0,)),
    fn.SMOOTH3: _roles(run=(), init=(0,)),
    fn.SMOOTHI: _roles(run=(), init=(2,)),
    fn.SMOOTH3I: _roles(run=(), init=(2,)),
    fn.SMOOTH_N: _roles(run=(), init=(2, 3)),
    fn.TREND: _roles(run=(0, 1), init=(0, 1, 2)),
    fn.FORECAST: _roles(run=(0, 1, 2), init=(0, 1, 2)),
    fn.INITIAL: _roles(run=(), init=(0,)),
}

#: Vensim's ``ACTIVE INITIAL(value, initial)`` kept as a ``VENSIM_CALL`` (the name is argument 0).
_ACTIVE_INITIAL = _roles(run=(1,), init=(2,))


def _reads(
    expr: sympy.Basic, instant: bool, at_init: bool, found: dict[str, tuple[bool, bool]]
) -> None:
    """Collect ``key -> (instant, at_init)`` for every variable symbol in ``expr``."""
    if isinstance(expr, sympy.Symbol):
        if not expr.name.startswith("@"):
            was_instant, was_init = found.get(expr.name, (False, False))
            found[expr.name] = (was_instant or instant, was_init or at_init)
        return
    roles = ARGUMENT_ROLES.get(type(expr))
    if isinstance(expr, fn.VENSIM_CALL) and expr.args[0].name == "ACTIVE INITIAL":
        roles = _ACTIVE_INITIAL  # args are (name, run value, initial value)
    for index, arg in enumerate(expr.args):
        if roles is None:
            _reads(arg, instant, at_init, found)
        else:
            _reads(arg, instant and index in roles.run, at_init and index in roles.init, found)


def _add_edge(graph: nx.DiGraph, source: str, target: str, **flags: bool) -> None:
    """Add an edge, merging flags with an existing one (any use that is not initial wins)."""
    if graph.has_edge(source, target):
        old = graph.edges[source, target]
        flags = {
            "initial": old["initial"] and flags["initial"],
            "instant": old["instant"] or flags["instant"],
            "at_init": old["at_init"] or flags["at_init"],
        }
    graph.add_edge(source, target, **flags)


def _add_stock_edges(graph: nx.DiGraph, stock: Stock) -> None:
    for flow in (*stock.inflows, *stock.outflows):
        key = canonical(flow)
        if key in graph:
            _add_edge(graph, key, stock.key, initial=False, instant=False, at_init=False)
    found: dict[str, tuple[bool, bool]] = {}
    initial = getattr(stock.initial, "expr", None)  # a stock may lack it (checks report that)
    if initial is not None:
        _reads(initial, False, True, found)
    for key in found:
        if key in graph:
            _add_edge(graph, key, stock.key, initial=True, instant=False, at_init=True)


def dependency_graph(model: Model) -> nx.DiGraph:
    """The graph of who reads whom (see the module docstring for the edge flags), frozen
    (``nx.freeze``): the checks, the orders and the sketch ask for it of one model several
    times, so the last model's graph is kept (found by identity: hashing a model walks every
    equation).

    >>> import sympy
    >>> from sdhealth.ir import Auxiliary, Constant, Equation, Model, symbol
    >>> m = Model("m", variables=(Constant(name="a", value=1.0),
    ...     Auxiliary(name="b", equation=Equation(symbol("a") * 2))))
    >>> g = dependency_graph(m)
    >>> list(g.edges(data=True))
    [('a', 'b', {'initial': False, 'instant': True, 'at_init': True})]
    """
    last = _LAST_GRAPH[0]
    if last is not None and last[0] is model:
        return last[1]
    graph = _built_graph(model)
    _LAST_GRAPH[0] = (model, nx.freeze(graph))
    return graph


_LAST_GRAPH: list[tuple[Model, nx.DiGraph] | None] = [None]


def _built_graph(model: Model) -> nx.DiGraph:
    graph = nx.DiGraph()
    for variable in model.variables:
        graph.add_node(variable.key, variable=variable)
    for variable in model.variables:
        if isinstance(variable, Stock):
            _add_stock_edges(graph, variable)
            continue
        for equation in variable.equations():
            found: dict[str, tuple[bool, bool]] = {}
            _reads(equation.expr, True, True, found)
            for key, (instant, at_init) in found.items():
                if key in graph:
                    _add_edge(
                        graph, key, variable.key, initial=False, instant=instant, at_init=at_init
                    )
    return graph


def _is_computed(variable: Variable) -> bool:
    """Whether a variable is computed from an equation (not a constant or a lookup table)."""
    return not isinstance(variable, (Constant, Lookup))


def _subgraph(model: Model, flag: str, include_stocks: bool) -> nx.DiGraph:
    graph = dependency_graph(model)
    nodes = [
        key
        for key, data in graph.nodes(data=True)
        if _is_computed(data["variable"])
        and (include_stocks or not isinstance(data["variable"], Stock))
    ]
    sub = nx.DiGraph()
    sub.add_nodes_from(nodes)
    sub.add_edges_from(
        (u, v) for u, v, data in graph.subgraph(nodes).edges(data=True) if data[flag]
    )
    return sub


def _cycles(model: Model, graph: nx.DiGraph) -> list[tuple[str, ...]]:
    """One cycle per strongly connected component, starting at its earliest-defined variable."""
    position = {v.key: i for i, v in enumerate(model.variables)}
    cycles = []
    for component in nx.strongly_connected_components(graph):
        start = min(component, key=position.__getitem__)
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        sub = graph.subgraph(component)
        # the shortest way back to ``start`` from one of the variables that read it
        paths = (
            nx.shortest_path(sub, reader, start)
            for reader in sorted(sub.successors(start), key=position.__getitem__)
        )
        back = min(paths, key=len)
        cycles.append((start, *back[:-1]))
    return sorted(cycles, key=lambda c: position[c[0]])


def algebraic_cycles(model: Model) -> list[tuple[str, ...]]:
    """Loops of instant dependencies among non-stock variables (at most one per knot).

    Each cycle is a tuple of keys ``(a, b, c)`` meaning ``b`` reads ``a``, ``c`` reads ``b``
    and ``a`` reads ``c``; it starts at the earliest-defined variable of its strongly connected
    component, and components are listed in definition order. Stocks, ``DELAY FIXED``,
    ``INITIAL`` and the accumulating arguments of delays and smooths break loops, so the result
    is the same before and after :func:`~sdhealth.compile.expand.expand_stateful`.

    >>> from sdhealth.ir import Auxiliary, Equation, Model, symbol
    >>> m = Model("m", variables=(
    ...     Auxiliary(name="a", equation=Equation(symbol("b") + 1)),
    ...     Auxiliary(name="b", equation=Equation(symbol("a") / 2))))
    >>> algebraic_cycles(m)
    [('a', 'b')]
    """
    return _cycles(model, _subgraph(model, "instant", include_stocks=False))


def initial_cycles(model: Model) -> list[tuple[str, ...]]:
    """Loops among the values needed at initialisation (stocks' initial values included)."""
    return _cycles(model, _subgraph(model, "at_init", include_stocks=True))


def format_cycle(model: Model, cycle: tuple[str, ...]) -> str:
    """``"A -> B -> A"`` with display names.

    >>> from sdhealth.ir import Constant, Model
    >>> format_cycle(Model("m", variables=(Constant(name="Beds", value=1.0),)), ("beds",))
    'Beds -> Beds'
    """
    names = [model[key].name for key in cycle]
    return " -> ".join([*names, names[0]])


def _ordered(model: Model, graph: nx.DiGraph, what: str) -> tuple[str, ...]:
    position = {v.key: i for i, v in enumerate(model.variables)}
    try:
        return tuple(nx.lexicographical_topological_sort(graph, key=position.__getitem__))
    except nx.NetworkXUnfeasible:
        cycle = _cycles(model, graph)[0]
        raise ModelError(f"{what}: {format_cycle(model, cycle)}") from None


def evaluation_order(model: Model) -> tuple[str, ...]:
    """Keys of the auxiliaries and flows in the order one time step computes them.

    Ties are broken by definition order, so the order is stable.

    Raises
    ------
    ModelError
        On an algebraic loop, naming it: ``algebraic loop with no stock: A -> B -> A``.
    """
    return _ordered(
        model,
        _subgraph(model, "instant", include_stocks=False),
        "algebraic loop with no stock",
    )


def initialisation_order(model: Model) -> tuple[str, ...]:
    """Keys of the stocks, auxiliaries and flows in the order initialisation computes them.

    A stock's place is where its initial value can be computed; constants and lookups are
    given and left out.

    Raises
    ------
    ModelError
        On initial values that depend on themselves: ``circular initial values: A -> B -> A``.
    """
    return _ordered(
        model, _subgraph(model, "at_init", include_stocks=True), "circular initial values"
    )
