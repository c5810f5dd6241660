"""The model checks behind ``sd.check``: every finding as an :class:`~sdhealth.errors.Issue`.

:func:`check_model` runs, in this order (each in definition order of the variables):

1. ``unknown-name`` -- a name an equation (or a stock's flow list) uses that the model does not
   define: ``unknown name 'Bed ocupancy' (did you mean 'Bed occupancy'?)``, spelt as written
   and located at the exact line and column of the mention;
2. ``not-a-flow`` -- a stock's inflow or outflow that is not a flow;
3. ``not-a-lookup`` -- a call ``X(...)`` of a variable that is not a lookup;
4. ``lookup-not-called`` -- a lookup used as a value instead of called with an input;
5. ``algebraic-loop`` -- ``algebraic loop with no stock: A -> B -> C -> A``;
6. ``missing-initial`` and ``circular-initial`` -- stocks without an initial value, and initial
   values that depend on themselves;
7. ``lookup-points`` and ``lookup-order`` -- empty lookups and x-values that do not increase
   strictly (named lookups and ``WITH LOOKUP`` tables);
8. ``delay-order`` -- a ``DELAY N``/``SMOOTH N`` order that is not a whole number (an error),
   or that reads a variable (a warning: PySD runs it, the native backend's expansion cannot);
9. ``literal-error`` -- parts of equations made of numbers only that have no finite real
   value (``1/0``, ``LN(0)``, ``SQRT(-1)``, ``EXP(1000)``), and the warning ``divisor-zero`` for
   a divisor of constants that is 0 or can be within their ``limits``
   (:mod:`sdhealth.analysis.arithmetic`);
10. warnings: ``unused`` constants and lookups, and ``unattached-flow`` for flows that no stock
   lists. Auxiliaries that feed nothing are outputs (what a modeller plots) and are not warned
   about;
11. unit findings (:func:`sdhealth.analysis.units.check_units`) when ``units=True``;
12. ``polarity`` -- declared link polarities that the equations contradict
    (:func:`sdhealth.analysis.polarity.check_polarity`) when ``polarity=True``. A link whose
    sign depends on the state is followed along a run when ``simulate=True`` and the checks
    before found no error (a model with errors may not run).

:func:`blocking_issues` keeps the errors a run cannot proceed with: every error except units,
with polarity checked without a run (a proven contradiction blocks; a run is never started
to decide whether a run may start).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import sympy

from sdhealth.analysis.arithmetic import literal_errors, zero_divisors
from sdhealth.analysis.polarity import check_polarity
from sdhealth.analysis.units import check_units
from sdhealth.backends.support import unsupported_functions
from sdhealth.compile.dependencies import (
    algebraic_cycles,
    dependency_graph,
    format_cycle,
    initial_cycles,
)
from sdhealth.compile.expand import ORDER_ARGUMENT, order_is_variable, order_problem
from sdhealth.compile.flatten import flatten
from sdhealth.compile.run_size import run_size_issues
from sdhealth.errors import Issue, Severity
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Caveat,
    Constant,
    Equation,
    Flow,
    Lookup,
    Model,
    SourceLocation,
    Stock,
    Variable,
)
from sdhealth.ir.names import canonical, did_you_mean

__all__ = ["check_model", "blocking_issues", "caveat_issue"]


def _issue(
    model: Model,
    severity: Severity,
    code: str,
    message: str,
    variable: Variable,
    location: SourceLocation | None = None,
) -> Issue:
    where = location or variable.location or SourceLocation()
    return Issue(
        severity, code, message, where.path or model.path, where.line, where.column, variable.name
    )


def _error(
    model: Model,
    code: str,
    message: str,
    variable: Variable,
    location: SourceLocation | None = None,
) -> Issue:
    return _issue(model, Severity.ERROR, code, message, variable, location)


def _warning(model: Model, code: str, message: str, variable: Variable) -> Issue:
    return _issue(model, Severity.WARNING, code, message, variable)


def _equations(variable: Variable) -> Iterator[Equation]:
    """The equations of a variable that exist (a stock may lack its initial value)."""
    for equation in variable.equations():
        if equation is not None and getattr(equation, "expr", None) is not None:
            yield equation


def _as_written(equation: Equation, key: str) -> str:
    """The first mention of ``key`` in the equation's text, spelt as the modeller wrote it.

    >>> _as_written(Equation(sympy.Integer(0), "2 * Bed_Ocupancy  rate", None,
    ...                      (("bed ocupancy rate", 4),)), "bed ocupancy rate")
    'Bed_Ocupancy  rate'
    """
    offsets = [offset for ref, offset in equation.references if ref == key]
    text = equation.text
    if not offsets or text is None:
        return key
    start = position = offsets[0]
    if text.startswith('"', start):
        end = text.find('"', start + 1)
        return text[start + 1 : end] if end > start else key
    for char in key:
        if char == " ":
            run = position
            while run < len(text) and (text[run].isspace() or text[run] == "_"):
                run += 1
            if run == position:
                return key
            position = run
        elif position < len(text) and text[position].casefold() == char:
            position += 1
        else:
            return key
    return text[start:position]


def _unknown_message(model: Model, written: str) -> str:
    known = [v.name for v in model.variables if not v.internal]
    hint = did_you_mean(written, known)
    return f"unknown name '{written}'{hint}"


def _ignored_keys(model: Model) -> frozenset[str]:
    """Names an equation may mention that are not variables: builtins and subscripts."""
    names = set(fn.BUILTIN_SYMBOLS)
    for subscript in model.subscripts:
        names.add(canonical(subscript.name))
        names.update(canonical(element) for element in subscript.elements)
    return frozenset(names)


def _unknown_names(model: Model) -> list[Issue]:
    ignored = _ignored_keys(model)
    issues = []
    for variable in model.variables:
        for equation in _equations(variable):
            keys = dict.fromkeys([ref for ref, _ in equation.references])
            keys.update(dict.fromkeys(sorted(equation.free_keys)))
            for key in keys:
                if key not in model and key not in ignored:
                    message = _unknown_message(model, _as_written(equation, key))
                    where = equation.location_of(key)
                    issues.append(_error(model, "unknown-name", message, variable, where))
        if isinstance(variable, Stock):
            for name in (*variable.inflows, *variable.outflows):
                if name not in model:
                    message = _unknown_message(model, name.strip())
                    issues.append(_error(model, "unknown-name", message, variable))
    return issues


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _not_flows(model: Model) -> list[Issue]:
    issues = []
    for stock in model.stocks:
        for role, names in (("inflow", stock.inflows), ("outflow", stock.outflows)):
            for name in names:
                if name in model and not isinstance(model[name], Flow):
                    found = model[name]
                    kind = _article(type(found).__name__.lower())
                    message = (
                        f"'{found.name}' is listed as {_article(role)} of stock "
                        f"'{stock.name}' but is {kind}, not a flow"
                    )
                    issues.append(_error(model, "not-a-flow", message, stock))
    return issues


def _nodes(expr: sympy.Basic, kind: type) -> Iterator[sympy.Basic]:
    return (node for node in sympy.preorder_traversal(expr) if isinstance(node, kind))


def _called_tables(equation: Equation) -> dict[str, None]:
    """Keys called as lookups (``LOOKUP(table, x)``), in order of appearance."""
    return dict.fromkeys(
        node.args[0].name
        for node in _nodes(equation.expr, fn.LOOKUP)
        if isinstance(node.args[0], sympy.Symbol)
    )


def _not_lookups(model: Model) -> list[Issue]:
    issues = []
    for variable in model.variables:
        for equation in _equations(variable):
            for key in _called_tables(equation):
                if key in model and not isinstance(model[key], Lookup):
                    message = f"'{_as_written(equation, key)}' is not a lookup"
                    issues.append(
                        _error(model, "not-a-lookup", message, variable, equation.location_of(key))
                    )
    return issues


def _values_read(expr: sympy.Basic) -> Iterator[str]:
    """Keys of symbols read as values (not as the table of a lookup call)."""
    if isinstance(expr, sympy.Symbol):
        yield expr.name
    elif isinstance(expr, fn.LOOKUP):
        yield from _values_read(expr.args[1])
    else:
        for arg in expr.args:
            yield from _values_read(arg)


def _lookups_not_called(model: Model) -> list[Issue]:
    issues = []
    for variable in model.variables:
        for equation in _equations(variable):
            for key in dict.fromkeys(_values_read(equation.expr)):
                if key in model and isinstance(model[key], Lookup):
                    name = model[key].name
                    message = f"lookup '{name}' is used without an input; call it like '{name}(x)'"
                    issues.append(
                        _error(
                            model, "lookup-not-called", message, variable, equation.location_of(key)
                        )
                    )
    return issues


def _reading_location(model: Model, reader: str, read: str) -> SourceLocation | None:
    """Where variable ``reader`` mentions ``read`` (its stock initial value or equation)."""
    for equation in _equations(model[reader]):
        if read in equation.free_keys:
            return equation.location_of(read)
    return None


def _element_cycles(model: Model, cycles: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The ``cycles`` that are loops element by element too.

    ``x[South] = x[North] + 1`` reads ``x`` from ``x`` but is no loop: an arrayed model's
    cycles are checked again on its per-element form (:func:`~sdhealth.compile.flatten.flatten`),
    and a cycle stays only if one of its variables has an element on a loop there.
    """
    try:
        flat = flatten(model)
    except Exception:  # a model flatten cannot take: keep the variable-level finding
        return cycles
    looped = {flat[key].name.partition("[")[0] for cycle in algebraic_cycles(flat) for key in cycle}
    return [c for c in cycles if any(model[key].name in looped for key in c)]


def _algebraic_loops(model: Model) -> list[Issue]:
    issues = []
    cycles = algebraic_cycles(model)
    if cycles and model.is_arrayed:
        cycles = _element_cycles(model, cycles)
    for cycle in cycles:
        message = f"algebraic loop with no stock: {format_cycle(model, cycle)}"
        where = _reading_location(model, cycle[0], cycle[-1])
        issues.append(_error(model, "algebraic-loop", message, model[cycle[0]], where))
    return issues


def _initial_values(model: Model) -> list[Issue]:
    issues = []
    for stock in model.stocks:
        if not list(_equations(stock)):
            issues.append(
                _error(
                    model, "missing-initial", f"stock '{stock.name}' has no initial value", stock
                )
            )
    graph = dependency_graph(model)
    for cycle in initial_cycles(model):
        edges = zip(cycle, (*cycle[1:], cycle[0]), strict=True)
        has_stock = any(isinstance(model[key], Stock) for key in cycle)
        if not has_stock and all(graph.edges[edge]["instant"] for edge in edges):
            continue  # an algebraic loop, reported as such
        message = f"circular initial values: {format_cycle(model, cycle)}"
        where = _reading_location(model, cycle[0], cycle[-1])
        issues.append(_error(model, "circular-initial", message, model[cycle[0]], where))
    return issues


def _order_problem(xs: tuple[float, ...]) -> str | None:
    if not xs:
        return None
    for index in range(1, len(xs)):
        if not xs[index] > xs[index - 1]:
            return (
                f"x-values must increase strictly, but point {index + 1} "
                f"(x={xs[index]:g}) does not come after point {index} (x={xs[index - 1]:g})"
            )
    return None


def _lookup_tables(model: Model) -> list[Issue]:
    issues = []
    for variable in model.variables:
        if isinstance(variable, Lookup):
            if not variable.xs and not variable.definitions:  # definitions may read a file
                issues.append(
                    _error(
                        model, "lookup-points", f"lookup '{variable.name}' has no points", variable
                    )
                )
            problem = _order_problem(variable.xs)
            if problem:
                issues.append(
                    _error(model, "lookup-order", f"lookup '{variable.name}': {problem}", variable)
                )
        for equation in _equations(variable):
            for node in _nodes(equation.expr, fn.WITH_LOOKUP):
                problem = _order_problem(tuple(float(x) for x in node.args[1]))
                if problem:
                    message = f"WITH LOOKUP in '{variable.name}': {problem}"
                    issues.append(
                        _error(model, "lookup-order", message, variable, equation.location)
                    )
    return issues


def _delay_orders(model: Model) -> list[Issue]:
    constants = {v.key: v.value for v in model.variables if isinstance(v, Constant)}
    issues = []
    for variable in model.variables:
        for equation in _equations(variable):
            for node in sympy.preorder_traversal(equation.expr):
                if type(node) in ORDER_ARGUMENT:
                    problem = order_problem(node, variable.name, constants)
                    if problem:
                        # an order read from a variable runs on PySD; only expansion refuses it
                        severity = (
                            Severity.WARNING
                            if order_is_variable(node, constants)
                            else Severity.ERROR
                        )
                        issues.append(
                            _issue(
                                model, severity, "delay-order", problem, variable, equation.location
                            )
                        )
    return issues


def _unused(model: Model) -> list[Issue]:
    used: set[str] = set()
    attached: set[str] = set()
    for variable in model.variables:
        for equation in _equations(variable):
            used.update(equation.free_keys)
            used.update(ref for ref, _ in equation.references)
        if isinstance(variable, Stock):
            attached.update(canonical(name) for name in (*variable.inflows, *variable.outflows))
    issues = []
    for variable in model.variables:
        if isinstance(variable, (Constant, Lookup)) and variable.key not in used:
            kind = type(variable).__name__.lower()
            message = f"{kind} '{variable.name}' is not used by any equation"
            issues.append(_warning(model, "unused", message, variable))
        if isinstance(variable, Flow) and variable.key not in attached:
            message = f"flow '{variable.name}' is not an inflow or outflow of any stock"
            issues.append(_warning(model, "unattached-flow", message, variable))
    return issues


def _literal_errors(model: Model) -> list[Issue]:
    return [
        _error(model, "literal-error", message, variable, where)
        for variable, message, where in literal_errors(model)
    ]


def _zero_divisors(model: Model) -> list[Issue]:
    return [
        _issue(model, Severity.WARNING, "divisor-zero", message, variable, where)
        for variable, message, where in zero_divisors(model)
    ]


#: What a caveat's warning adds: why it matters and how to run the model anyway.
APPROXIMATION_HINT = (
    "sdhealth does not yet compute it as Stella does, so its numbers would differ: a run "
    "refuses the model unless loaded with approximate=True (sdhealth run --approximate)"
)


def _caveats(model: Model) -> list[Issue]:
    """``approximation`` warnings: constructs of the file sdhealth reads only in part."""
    return [caveat_issue(model, caveat, Severity.WARNING) for caveat in model.caveats]


def caveat_issue(model: Model, caveat: Caveat, severity: Severity) -> Issue:
    """The finding about one caveat: a check warning, or the error that stops a run."""
    where = caveat.location or SourceLocation()
    message = f"{caveat.detail}; {APPROXIMATION_HINT}"
    return Issue(
        severity, "approximation", message, where.path or model.path, where.line, where.column,
        caveat.element,
    )  # fmt: skip


_CHECKS: tuple[Callable[[Model], list[Issue]], ...] = (
    _unknown_names,
    _not_flows,
    _not_lookups,
    _lookups_not_called,
    _algebraic_loops,
    _initial_values,
    _lookup_tables,
    _delay_orders,
    _literal_errors,
    _unused,
    _zero_divisors,
    run_size_issues,
    unsupported_functions,
    _caveats,
)


def check_model(
    model: Model, *, units: bool = True, polarity: bool = True, simulate: bool = True
) -> list[Issue]:
    """Every finding about a model, errors and warnings, in the order of the module docstring.

    Parameters
    ----------
    model
        The model as loaded (before stateful builtins are expanded).
    units
        Also run the unit checks.
    polarity
        Also check declared link polarities against the equations.
    simulate
        Let the polarity check run the model (once, and only if a declared link's sign
        depends on the state and no earlier check found an error).

    >>> from sdhealth.ir import Auxiliary, Equation, Model, symbol
    >>> m = Model("m", variables=(Auxiliary(name="a", equation=Equation(symbol("b"))),))
    >>> [str(issue) for issue in check_model(m)]
    ["unknown name 'b'"]
    """
    issues: list[Issue] = []
    for check in _CHECKS:
        issues.extend(check(model))
    runnable = not any(issue.is_error for issue in issues)
    if units:
        issues.extend(check_units(model))
    if polarity:
        issues.extend(check_polarity(model, simulate=simulate and runnable))
    return issues


def blocking_issues(model: Model) -> list[Issue]:
    """The errors a run cannot proceed with: every error of :func:`check_model` but units.

    Polarity is checked without a run: only contradictions the equations prove block.
    """
    issues = check_model(model, units=False, simulate=False)
    return [issue for issue in issues if issue.is_error]
