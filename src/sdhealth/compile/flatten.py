"""Flattening of subscripted (arrayed) variables into one scalar variable per element.

:func:`flatten` is a pure function from a model with Vensim subscripts to a model without any:
each subscripted variable ``x`` over ranges ``A x B`` becomes one scalar variable per element
combination, named ``x[a,b]`` exactly as the PySD backend names the result columns of ``x``
(elements as the model spells them, joined by ``,`` without spaces). A backend that only knows
scalars (the native one) then compiles arrays with no further work, and its columns line up
with PySD's.

What flattening resolves, following Vensim (and PySD where Vensim is silent):

- which :class:`~sdhealth.ir.model.Definition` defines each element: the elements its left-hand
  side names (ranges, subranges, single elements) less its ``:EXCEPT:`` lists; elements no
  equation defines get no variable (PySD leaves them out of its output too);
- references ``x[...]`` (``SUBSCRIPT``): a single element stays itself; a range is the element
  the equation's left-hand side binds for that range, else the element of a range that maps to
  it (``A: a1, a2 -> B``, by position, or ``-> (B: b2, b1)`` as listed), else the bound element
  of a range that contains or is contained in it (a subrange used against its parent range); a
  reference to an arrayed variable without subscripts takes the variable's own dimensions;
- a range or element used as a number: the element's position (from 1) in its main range;
- array functions over a range marked with ``!`` (XMILE: over the ranges the equation does not
  bind): ``SUM``, ``PROD``, ``VMIN``, ``VMAX`` expand into sums, products, minima and maxima of
  the elements; ``VECTOR SELECT`` into PySD's selection (:meth:`_Rewriter.vector_select`);
  ``INVERT MATRIX`` into the adjugate over the determinant (matrices up to 4 x 4);
  ``VECTOR SORT ORDER``, ``VECTOR RANK`` and ``VECTOR REORDER`` into comparisons of the
  elements; ``ALLOCATE BY PRIORITY`` into PySD's allocation in closed form
  (:mod:`sdhealth.compile.allocation`); ``ELMCOUNT(range)`` is a number. Other array functions
  raise :class:`~sdhealth.errors.UnsupportedByBackend` naming the function and the variable;
- a subscripted stock becomes one stock per element whose net rate is an internal flow
  ``"x[a] net flow"``; a subscripted lookup one lookup per element.

Stateful builtins inside subscripted equations need nothing here: after flattening each element
holds its own scalar call, which :func:`~sdhealth.compile.expand.expand_stateful` turns into that
element's own stocks.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sympy

from sdhealth.compile.allocation import allocate_by_priority
from sdhealth.errors import UnsupportedByBackend
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Data,
    Definition,
    Equation,
    Flow,
    Lookup,
    Model,
    Stock,
    Variable,
)
from sdhealth.ir.names import canonical

__all__ = ["flatten", "is_arrayed", "element_name", "Ranges", "REDUCTIONS"]

Cell = tuple[str, ...]

#: Array functions that reduce over the ``!`` ranges of their argument -> how terms combine.
REDUCTIONS: dict[str, Callable[..., sympy.Expr]] = {
    "SUM": sympy.Add,
    "PROD": sympy.Mul,
    "VMIN": sympy.Min,
    "VMAX": sympy.Max,
    "VMIN XMILE": sympy.Min,
    "VMAX XMILE": sympy.Max,
}

_EXPLICIT_MAPPING = re.compile(r"^\(\s*(?P<range>[^:]+?)\s*:(?P<elements>.*)\)$", re.DOTALL)


class _Refused(ValueError):
    """Something flattening cannot resolve (becomes UnsupportedByBackend naming the variable)."""


def is_arrayed(model: Model) -> bool:
    """Whether ``model`` has subscripted variables."""
    return any(v.dims or v.definitions for v in model.variables)


def element_name(name: str, cell: Cell) -> str:
    """The display name of one element of variable ``name``: ``name[a,b]`` (PySD's columns).

    >>> element_name("Stock A", ("Entry 1", "Column 2"))
    'Stock A[Entry 1,Column 2]'
    """
    return f"{name}[{','.join(cell)}]" if cell else name


# --------------------------------------------------------------------------- ranges


@dataclass(frozen=True)
class Ranges:
    """The model's subscript ranges, by key: elements, main ranges and mappings."""

    ranges: Mapping[str, tuple[str, ...]]  # range key -> elements (display), expanded
    spelling: Mapping[str, str]  # element key -> display
    mappings: Mapping[str, tuple[tuple[str, tuple[str, ...] | None], ...]]

    @classmethod
    def of(cls, model: Model) -> Ranges:
        raw = {canonical(s.name): s.elements for s in model.subscripts}
        ranges = {key: _expand(key, raw, frozenset()) for key in raw}
        spelling = {canonical(e): e for elements in ranges.values() for e in elements}
        mappings = {
            canonical(s.name): tuple(_mapping(m) for m in s.mappings) for s in model.subscripts
        }
        return cls(ranges, spelling, mappings)

    def is_range(self, subscript: str) -> bool:
        return canonical(subscript) in self.ranges

    def elements(self, subscript: str) -> tuple[str, ...]:
        """The elements a subscript stands for (a range's elements, or the element itself)."""
        key = canonical(subscript)
        if key in self.ranges:
            return self.ranges[key]
        if key in self.spelling:
            return (self.spelling[key],)
        raise _Refused(f"unknown subscript {subscript!r}")

    def position(self, element: str) -> int:
        """An element's position (from 1) in its main range (the largest holding it)."""
        key = canonical(element)
        best: tuple[str, ...] = ()
        for elements in self.ranges.values():
            keys = [canonical(e) for e in elements]
            if key in keys and len(elements) > len(best):
                best = elements
        return [canonical(e) for e in best].index(key) + 1

    def mapped(self, source: str, target: str, element: str) -> str | None:
        """The element of range ``source`` that range ``source``'s mapping to ``target`` pairs
        with ``element`` of ``target`` (``None`` if ``source`` does not map to ``target``)."""
        for name, listed in self.mappings.get(canonical(source), ()):
            if name != canonical(target):
                continue
            targets = [canonical(e) for e in (listed or self.ranges[name])]
            if canonical(element) in targets:
                return self.ranges[canonical(source)][targets.index(canonical(element))]
        return None


def _expand(key: str, raw: Mapping[str, tuple[str, ...]], seen: frozenset[str]) -> tuple[str, ...]:
    """A range's elements with listed subranges replaced by their elements."""
    result: list[str] = []
    for item in raw[key]:
        inner = canonical(item)
        if inner in raw and inner not in seen | {key}:
            result.extend(_expand(inner, raw, seen | {key}))
        else:
            result.append(item)
    return tuple(result)


def _mapping(text: str) -> tuple[str, tuple[str, ...] | None]:
    """``"DimB"`` -> ``("dimb", None)``; ``"(DimB: b2, b1)"`` -> ``("dimb", ("b2", "b1"))``."""
    match = _EXPLICIT_MAPPING.match(text.strip())
    if match is None:
        return canonical(text), None
    elements = tuple(e.strip() for e in match["elements"].split(",") if e.strip())
    return canonical(match["range"]), elements


# --------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class _Element:
    """One element of a subscripted variable: its cell, defining equation and bindings."""

    cell: Cell
    definition: Definition
    bindings: tuple[tuple[str, str], ...]  # (subscript key on the left-hand side, element)


def _cells(space: Ranges, subscripts: Sequence[str]) -> list[Cell]:
    return list(itertools.product(*(space.elements(s) for s in subscripts)))


def _elements_of(space: Ranges, variable: Variable) -> list[_Element]:
    """The defined elements of ``variable`` in column order (first dimension slowest)."""
    if not variable.definitions:
        raise _Refused("a subscripted variable without equations (definitions)")
    found: dict[tuple[str, ...], _Element] = {}
    for definition in variable.definitions:
        excepted = {
            tuple(canonical(e) for e in cell)
            for excepts in definition.excepts
            for cell in _cells(space, excepts)
        }
        for cell in _cells(space, definition.subscripts):
            key = tuple(canonical(e) for e in cell)
            if key in excepted or key in found:
                continue
            bindings = tuple(
                (canonical(s), e)
                for s, e in zip(definition.subscripts, cell, strict=True)
                if space.is_range(s)
            )
            found[key] = _Element(cell, definition, bindings)
    order = _cells(space, _column_ranges(space, variable)) if variable.dims else []
    ranked = {tuple(canonical(e) for e in cell): i for i, cell in enumerate(order)}
    return sorted(found.values(), key=lambda e: ranked.get(tuple(map(canonical, e.cell)), -1))


def _column_ranges(space: Ranges, variable: Variable) -> list[str]:
    """The range of each dimension whose element order the columns follow (PySD's rule).

    PySD (``SubscriptManager.make_merge_list``) takes, per dimension, a range of the left-hand
    sides that covers exactly the elements defined, else the first declared range with exactly
    those elements, else the first declared range holding them all.
    """
    lhs = [d.subscripts for d in variable.definitions]
    result: list[str] = []
    for i, dim in enumerate(variable.dims):
        used = {canonical(e) for subscripts in lhs for e in space.elements(subscripts[i])}
        others = {canonical(s) for subscripts in lhs for j, s in enumerate(subscripts) if j != i}
        own = [s[i] for s in lhs if space.is_range(s[i]) and _keys(space.elements(s[i])) == used]
        same = [r for r, e in space.ranges.items() if _keys(e) == used and r not in others]
        wider = [r for r, e in space.ranges.items() if used <= _keys(e) and r not in others]
        result.append((own or same or wider or [dim])[0])
    return result


def _keys(elements: Sequence[str]) -> set[str]:
    return {canonical(e) for e in elements}


# --------------------------------------------------------------------------- expressions


@dataclass
class _Rewriter:
    """Rewrites the expressions of one model's elements into scalar expressions."""

    space: Ranges
    arrays: Mapping[str, Variable]  # key -> subscripted variable
    defined: Mapping[str, frozenset[Cell]]  # key -> its defined cells (canonical)
    bindings: dict[str, str] = field(default_factory=dict)

    def rewrite(self, expr: sympy.Basic) -> sympy.Basic:
        if isinstance(expr, fn.SUBSCRIPT):
            return self.reference(expr.args[0].name, [s.name for s in expr.args[1:]])
        if isinstance(expr, sympy.Symbol):
            if expr.name in self.arrays:
                return self.reference(expr.name, list(self.arrays[expr.name].dims))
            return expr
        if isinstance(expr, fn.VENSIM_CALL):
            return self.call(expr)
        if not expr.args:
            return expr
        args = tuple(self.rewrite(a) for a in expr.args)
        return expr.func(*args) if args != expr.args else expr

    def reference(self, key: str, subscripts: Sequence[str]) -> sympy.Symbol:
        """The symbol of the element of ``key`` that ``subscripts`` name here."""
        if key not in self.arrays:
            raise _Refused(f"{key!r} is subscripted but has no dimensions")
        used: set[str] = set()
        cell = tuple(self.resolve(s, used) for s in subscripts)
        if tuple(canonical(e) for e in cell) not in self.defined[key]:
            raise _Refused(f"{key}[{','.join(cell)}] is not defined by any equation")
        return sympy.Symbol(canonical(element_name(self.arrays[key].name, cell)))

    def resolve(self, subscript: str, used: set[str]) -> str:
        """The element a reference's subscript stands for in the current bindings."""
        key = canonical(subscript)
        if key in self.bindings:
            return self.bindings[key]
        plain = key.rstrip("!")
        if not self.space.is_range(plain):
            return self.space.elements(plain)[0]
        if plain in self.bindings:
            return self.bindings[plain]
        for bound, element in self.bindings.items():  # a range mapped to a bound range
            mapped = self.space.mapped(plain, bound.rstrip("!"), element)
            if mapped is not None and bound not in used:
                used.add(bound)
                return mapped
        members = {canonical(e) for e in self.space.elements(plain)}
        for bound, element in self.bindings.items():  # a subrange or parent of a bound range
            if bound not in used and canonical(element) in members:
                used.add(bound)
                return element
        raise _Refused(f"the subscript {subscript!r} has no element here")

    def call(self, expr: fn.VENSIM_CALL) -> sympy.Basic:
        name, args = expr.args[0].name, expr.args[1:]
        if not name:  # a range or element used as a number
            subscript = args[0].name
            element = self.resolve(subscript, set()) if self.space.is_range(subscript) else None
            return sympy.Integer(self.space.position(element or subscript))
        if name in REDUCTIONS:
            return _combine(REDUCTIONS[name], self.terms(args[0]))
        if name == "VECTOR SELECT":
            return self.vector_select(args)
        if name == "INVERT MATRIX":
            return self.inverse(args[0])
        if name in ("VECTOR SORT ORDER", "VECTOR RANK"):
            return self.sorting(name, args[0], args[1])
        if name == "VECTOR REORDER":
            return self.reorder(args[0], args[1])
        if name == "ALLOCATE BY PRIORITY" and len(args) == 5:
            return self.allocation(*args)
        if name == "ELMCOUNT" and isinstance(args[0], fn.VENSIM_CALL) and not args[0].args[0].name:
            return sympy.Integer(len(self.space.elements(args[0].args[1].name)))
        if _marked_ranges(expr):
            raise _Refused(f"the array function {name}")
        new = tuple(self.rewrite(a) for a in expr.args)
        return expr.func(*new) if new != expr.args else expr

    def vector_select(self, args: Sequence[sympy.Basic]) -> sympy.Basic:
        """``VECTOR SELECT(selection, expression, missing, action, error action)`` as PySD.

        Elements whose selection is 0 are left out; ``action`` 0-4 combines ``selection *
        expression`` by sum, product, min, max or mean, 5 is the product of ``expression ^
        selection``, 6-10 combine ``expression`` as 0-4 do; with no element selected the
        result is ``missing``. The error action (PySD raises) is not checked.
        """
        selection, expression, missing, action = args[:4]
        pair = sympy.Tuple(selection, expression)
        terms = list(zip(*(t.args for t in self.terms(pair)), strict=True))
        chosen = [sympy.Ne(s, 0, evaluate=False) for s in terms[0]]
        action = self.rewrite(action)
        if isinstance(action, sympy.Integer):
            result = _selected(int(action), terms, chosen)
        else:  # an action computed at run time: every action, picked by its number
            result = sympy.Piecewise(
                *(
                    (_selected(a, terms, chosen), sympy.Eq(action, a, evaluate=False))
                    for a in range(11)
                ),
                (sympy.nan, True),
                evaluate=False,
            )
        none = sympy.And(*(sympy.Eq(s, 0, evaluate=False) for s in terms[0]), evaluate=False)
        return sympy.Piecewise((self.rewrite(missing), none), (result, True), evaluate=False)

    def along_last(self, vector: sympy.Basic) -> tuple[list[sympy.Basic], int]:
        """The elements of ``vector`` along its last subscript, and the current position."""
        if not isinstance(vector, fn.SUBSCRIPT):
            raise _Refused("a vector function of anything but a subscripted variable")
        *outer, last = (s.name for s in vector.args[1:])
        elements = self.space.elements(last.rstrip("!"))
        here = canonical(self.resolve(last, set()))
        saved = dict(self.bindings)
        try:
            values = []
            for e in elements:
                self.bindings = saved | {canonical(last): e}
                values.append(self.reference(vector.args[0].name, [*outer, last]))
        finally:
            self.bindings = saved
        return values, [canonical(e) for e in elements].index(here)

    def sorting(self, name: str, vector: sympy.Basic, direction: sympy.Basic) -> sympy.Expr:
        """``VECTOR SORT ORDER``/``VECTOR RANK`` (PySD: a stable ``argsort`` along the last
        subscript, reversed for a direction <= 0; ranks count from 1, orders from 0)."""
        values, k = self.along_last(vector)
        direction = self.rewrite(direction)
        if not direction.is_number:
            raise _Refused(f"{name} with a direction that is not a number")
        n = len(values)
        ranks = [_stable_rank(values, i) for i in range(n)]  # 0-based, ascending
        if name == "VECTOR RANK":
            return ranks[k] + 1 if direction > 0 else n - ranks[k]
        wanted = k if direction > 0 else n - 1 - k
        # ``[rank == wanted]`` as ``1 - MIN(ABS(rank - wanted), 1)`` (ranks are whole numbers):
        # a condition holding sums of IF THEN ELSE makes sympy distribute the logic for minutes
        return sympy.Add(
            *(
                i * (1 - sympy.Min(sympy.Abs(r - wanted, evaluate=False), 1, evaluate=False))
                for i, r in enumerate(ranks)
                if i
            )
        )

    def reorder(self, vector: sympy.Basic, order: sympy.Basic) -> sympy.Expr:
        """``VECTOR REORDER(vector, order)``: the element of ``vector`` at index ``order``."""
        values, _ = self.along_last(vector)
        index = self.rewrite(order)
        pieces = [(v, sympy.Eq(index, i, evaluate=False)) for i, v in enumerate(values)]
        return sympy.Piecewise(*pieces, (sympy.nan, True), evaluate=False)

    def allocation(
        self,
        request: sympy.Basic,
        priority: sympy.Basic,
        size: sympy.Basic,
        width: sympy.Basic,
        supply: sympy.Basic,
    ) -> sympy.Expr:
        """``ALLOCATE BY PRIORITY(request, priority, size, width, supply)``: the current
        element's share along the last subscript of ``request`` and ``priority`` (PySD's
        algorithm in closed form, :func:`~sdhealth.compile.allocation.allocate_by_priority`;
        ``size`` is not used, as in PySD)."""
        requests, k = self.along_last(request)
        priorities, j = self.along_last(priority)
        if len(requests) != len(priorities) or j != k:
            raise _Refused("ALLOCATE BY PRIORITY over request and priority of other ranges")
        try:
            return allocate_by_priority(
                requests, priorities, self.rewrite(width), self.rewrite(supply), k
            )
        except ValueError as error:
            raise _Refused(str(error)) from None

    def inverse(self, matrix: sympy.Basic) -> sympy.Expr:
        """The current element of ``INVERT MATRIX(m[..., rows, columns], n)``.

        The last two subscripts of the reference are the matrix's rows and columns; the
        inverse is the adjugate over the determinant (PySD: ``numpy.linalg.inv``), so only
        small matrices are accepted.
        """
        if not isinstance(matrix, fn.SUBSCRIPT) or len(matrix.args) < 3:
            raise _Refused("INVERT MATRIX of anything but a subscripted variable")
        *outer, rows, columns = (s.name for s in matrix.args[1:])
        size = len(self.space.elements(rows))
        if size != len(self.space.elements(columns)) or size > 4:
            raise _Refused(f"INVERT MATRIX of a {size}-row matrix (at most 4 x 4)")
        row, column = self.resolve(rows, set()), self.resolve(columns, set())
        saved = dict(self.bindings)
        try:
            cells = []
            for r in self.space.elements(rows):
                for c in self.space.elements(columns):
                    self.bindings = saved | {canonical(rows): r, canonical(columns): c}
                    cells.append(self.reference(matrix.args[0].name, [*outer, rows, columns]))
        finally:
            self.bindings = saved
        square = sympy.Matrix(size, size, cells)
        i = [canonical(e) for e in self.space.elements(rows)].index(canonical(row))
        j = [canonical(e) for e in self.space.elements(columns)].index(canonical(column))
        return square.adjugate()[i, j] / square.det()

    def terms(self, argument: sympy.Basic) -> list[sympy.Basic]:
        """``argument`` once per combination of the elements of its ``!`` ranges."""
        marked = [f"{m}!" for m in _marked_ranges(argument)]
        if not marked:  # XMILE's MIN(x[dim]): the ranges the equation does not bind
            marked = [r for r in _ranges_read(argument, self.space) if r not in self.bindings]
        if not marked:
            raise _Refused("an array function without a range to run over")
        saved = dict(self.bindings)
        result = []
        try:
            axes = [self.space.elements(m.rstrip("!")) for m in marked]
            for combination in itertools.product(*axes):
                self.bindings = saved | dict(zip(marked, combination, strict=True))
                result.append(self.rewrite(argument))
        finally:
            self.bindings = saved
        return result


def _combine(how: Callable[..., sympy.Expr], terms: Sequence[sympy.Basic]) -> sympy.Expr:
    """``how(*terms)``; minima and maxima unevaluated (sympy compares every pair otherwise)."""
    if how in (sympy.Min, sympy.Max):
        return terms[0] if len(terms) == 1 else how(*terms, evaluate=False)
    return how(*terms)


def _selected(action: int, terms: list[tuple[sympy.Basic, ...]], chosen: list) -> sympy.Expr:
    """``VECTOR SELECT``'s combination number ``action`` of the selected elements."""
    if not 0 <= action <= 10:
        raise _Refused(f"VECTOR SELECT with action {action}")
    how = action if action < 5 else 1 if action == 5 else action - 6
    pairs = zip(*terms, strict=True)
    if action == 5:
        values = [e**s for s, e in pairs]
    elif action < 5:
        values = [s * e for s, e in pairs]
    else:
        values = list(terms[1])
    neutral = (0, 1, sympy.oo, -sympy.oo, 0)[how]
    kept = [
        sympy.Piecewise((v, c), (neutral, True), evaluate=False)
        for v, c in zip(values, chosen, strict=True)
    ]
    combine = (sympy.Add, sympy.Mul, sympy.Min, sympy.Max, sympy.Add)[how]
    result = _combine(combine, kept)
    if how == 4:
        count = sympy.Add(*(sympy.Piecewise((1, c), (0, True), evaluate=False) for c in chosen))
        result = result / count
    return result


def _stable_rank(values: Sequence[sympy.Basic], i: int) -> sympy.Expr:
    """How many values come before ``values[i]`` in a stable ascending sort."""

    def indicator(condition: sympy.Basic) -> sympy.Expr:
        return sympy.Piecewise((1, condition), (0, True), evaluate=False)

    below = [indicator(sympy.Lt(v, values[i], evaluate=False)) for v in values]
    ties = [indicator(sympy.Eq(v, values[i], evaluate=False)) for v in values[:i]]
    return sympy.Add(*below, *ties)


def _ranges_read(expr: sympy.Basic, space: Ranges) -> list[str]:
    """Keys of the ranges (not elements) named in ``expr``'s references (first-use order)."""
    found: dict[str, None] = {}
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, fn.SUBSCRIPT):
            for s in node.args[1:]:
                if space.is_range(s.name):
                    found.setdefault(canonical(s.name))
    return list(found)


def _marked_ranges(expr: sympy.Basic) -> list[str]:
    """Keys of the ranges marked with ``!`` in ``expr``'s references (first-use order)."""
    marked: dict[str, None] = {}
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, fn.SUBSCRIPT):
            for s in node.args[1:]:
                if s.name.endswith("!"):
                    marked.setdefault(canonical(s.name[:-1]))
    return list(marked)


# --------------------------------------------------------------------------- variables


def _fields(variable: Variable, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "units": variable.units,
        "doc": variable.doc,
        "source": variable.source,
        "sector": variable.sector,
        "limits": variable.limits,
        "location": variable.location,
    }


def _equation(rewriter: _Rewriter, equation: Equation | None, what: str) -> Equation:
    if equation is None:
        raise _Refused(f"an element without {what}")
    expr = rewriter.rewrite(equation.expr)
    return Equation(expr, location=equation.location)


def _flat_element(rewriter: _Rewriter, variable: Variable, element: _Element) -> list[Variable]:
    """The scalar variable(s) of one element of ``variable``."""
    name = element_name(variable.name, element.cell)
    rewriter.bindings = dict(element.bindings)
    definition = element.definition
    fields = _fields(variable, name)
    if isinstance(variable, Lookup):
        if definition.points is None:
            raise _Refused("a lookup read from a file (GET ... LOOKUPS)")
        xs, ys = definition.points
        return [Lookup(xs=xs, ys=ys, extrapolation=variable.extrapolation, **fields)]
    if isinstance(variable, Stock):
        net = f"{name} net flow"
        rate = _equation(rewriter, definition.equation, "a rate")
        stock = Stock(
            initial=_equation(rewriter, definition.initial, "an initial value"),
            inflows=(net,),
            non_negative=variable.non_negative,
            internal=variable.internal,
            **fields,
        )
        return [stock, Flow(name=net, equation=rate, internal=True, sector=variable.sector)]
    equation = _equation(rewriter, definition.equation, "an equation")
    if isinstance(variable, Constant) and equation.expr.is_Number:
        return [Constant(value=float(equation.expr), **fields)]
    internal = bool(getattr(variable, "internal", False))
    kind = Flow if isinstance(variable, Flow) else Data if isinstance(variable, Data) else Auxiliary
    return [kind(equation=equation, internal=internal, **fields)]  # type: ignore[call-arg]


def _scalar(rewriter: _Rewriter, variable: Variable) -> Variable:
    """A scalar variable whose equations may read subscripted ones."""
    rewriter.bindings = {}
    if isinstance(variable, Stock):
        return replace(variable, initial=_equation(rewriter, variable.initial, "initial value"))
    if isinstance(variable, (Flow, Auxiliary)):
        return replace(variable, equation=_equation(rewriter, variable.equation, "an equation"))
    return variable


def _refusal(variable: Variable, reason: str) -> UnsupportedByBackend:
    return UnsupportedByBackend(
        f"the native backend cannot flatten {variable.name!r}: {reason} is not supported "
        "(run this model with backend='pysd')"
    )


def flatten(model: Model) -> Model:
    """A copy of ``model`` in which every subscripted variable is one scalar per element.

    Parameters
    ----------
    model
        Any model (before :func:`~sdhealth.compile.expand.expand_stateful`); not changed.

    Returns
    -------
    Model
        The same model without subscripts (see the module docstring); a model without
        subscripted variables is returned as is.

    Raises
    ------
    UnsupportedByBackend
        For what flattening cannot resolve, naming the variable and the construct.

    >>> from sympy.core.symbol import Str
    >>> from sdhealth.ir.model import Subscript
    >>> m = Model("m", variables=(
    ...     Constant(name="x", dims=("dim",), value=1.0, definitions=(
    ...         Definition(("a",), Equation.of(1)), Definition(("b",), Equation.of(2)))),
    ...     Auxiliary(name="total", equation=Equation(
    ...         fn.VENSIM_CALL(Str("SUM"), fn.SUBSCRIPT(sympy.Symbol("x"), Str("dim!")))))),
    ...     subscripts=(Subscript("dim", ("a", "b")),))
    >>> flat = flatten(m)
    >>> flat.names, flat["total"].equation.expr
    (('x[a]', 'x[b]', 'total'), x[a] + x[b])
    """
    if not is_arrayed(model):
        return model
    space = Ranges.of(model)
    arrays = {v.key: v for v in model.variables if v.dims or v.definitions}
    elements: dict[str, list[_Element]] = {}
    for key, variable in arrays.items():
        try:
            elements[key] = _elements_of(space, variable)
        except _Refused as error:
            raise _refusal(variable, str(error)) from None
    defined = {
        key: frozenset(tuple(canonical(e) for e in element.cell) for element in found)
        for key, found in elements.items()
    }
    rewriter = _Rewriter(space, arrays, defined)
    variables: list[Variable] = []
    for variable in model.variables:
        try:
            if variable.key in arrays:
                for element in elements[variable.key]:
                    variables.extend(_flat_element(rewriter, variable, element))
            else:
                variables.append(_scalar(rewriter, variable))
        except _Refused as error:
            raise _refusal(variable, str(error)) from None
    return replace(model, variables=tuple(variables), subscripts=())
