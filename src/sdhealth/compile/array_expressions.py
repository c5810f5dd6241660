"""Subscripted expressions rewritten for one element: the expressions half of flattening.

:class:`Rewriter` turns an equation of an arrayed variable, for one element of it, into a scalar
expression (see :mod:`sdhealth.compile.flatten` for the rules: references, ranges used as
numbers, ``SUM``/``PROD``/``VMIN``/``VMAX``, ``VECTOR SELECT``, ``INVERT MATRIX``, the sort and
rank functions and ``ALLOCATE BY PRIORITY``). What it cannot resolve raises
:class:`~sdhealth.compile.subscript_ranges.Refused`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import sympy
from sympy.core.symbol import Str

from sdhealth.compile.allocation import allocate_by_priority
from sdhealth.compile.subscript_ranges import Cell, Ranges, Refused, element_name
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Variable
from sdhealth.ir.names import canonical

__all__ = ["REDUCTIONS", "Rewriter"]

#: Array functions that reduce over the ``!`` ranges of their argument -> how terms combine.
REDUCTIONS: dict[str, Callable[..., sympy.Expr]] = {
    "SUM": sympy.Add,
    "PROD": sympy.Mul,
    "VMIN": sympy.Min,
    "VMAX": sympy.Max,
    "VMIN XMILE": sympy.Min,
    "VMAX XMILE": sympy.Max,
}


@dataclass
class Rewriter:
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
            raise Refused(f"{key!r} is subscripted but has no dimensions")
        used: set[str] = set()
        cell = tuple(self.resolve(s, used) for s in subscripts)
        if tuple(canonical(e) for e in cell) not in self.defined[key]:
            raise Refused(f"{key}[{','.join(cell)}] is not defined by any equation")
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
        raise Refused(f"the subscript {subscript!r} has no element here")

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
        if name == "VECTOR ELM MAP":
            return self.element_map(args[0], args[1])
        if name == "RANK":
            return self.index_of_rank(args[0], args[1])
        if name == "ALLOCATE BY PRIORITY" and len(args) == 5:
            return self.allocation(*args)
        if name == "ELMCOUNT" and isinstance(args[0], fn.VENSIM_CALL) and not args[0].args[0].name:
            return sympy.Integer(len(self.space.elements(args[0].args[1].name)))
        if _marked_ranges(expr):
            raise Refused(f"the array function {name}")
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
        """The elements of ``vector`` along its last subscript, and the current position.

        ``vector`` is a subscripted variable (Vensim's form), or an expression of them (as
        XMILE translations write, ``VECTOR SORT ORDER(a[Region] + b[Region], 1)``): then the
        vector runs along the one range its references name, element by element.
        """
        if isinstance(vector, fn.SUBSCRIPT):
            last = vector.args[-1].name
        else:
            ranges = _ranges_read(vector, self.space)
            if len(ranges) != 1:
                raise Refused("a vector function of an expression over more than one range")
            last = next(
                s.name
                for node in sympy.preorder_traversal(vector)
                if isinstance(node, fn.SUBSCRIPT)
                for s in node.args[1:]
                if canonical(s.name) == ranges[0]
            )
        elements = self.space.elements(last.rstrip("!"))
        here = canonical(self.resolve(last, set()))
        saved = dict(self.bindings)
        try:
            values = []
            for e in elements:
                self.bindings = saved | {canonical(last): e}
                values.append(self.rewrite(vector))
        finally:
            self.bindings = saved
        return values, [canonical(e) for e in elements].index(here)

    def element_map(self, source: sympy.Basic, offset: sympy.Basic) -> sympy.Expr:
        """``VECTOR ELM MAP(source, offset)``: the element ``offset`` places after the one
        ``source`` names, counted over the whole variable in Vensim's order (the last
        subscript fastest); outside it NaN (Vensim's ``:NA:``), which the native backend
        reports as an error naming the element and the time.

        A reference that fixes an element (``b[B1]``, ``d[DimA, B1]``) counts from that
        element (so ``d[A2, B1]`` with offset 1 is ``d[A2, B2]``, as Vensim prints); a whole
        array (every subscript a range of the variable's own, ``x[Region]``) and an
        expression (an XMILE translation's ``a[Region] + b[Region]``, which Vensim refuses)
        count from the first element, as the same values in a variable of their own would.
        """
        index = self.rewrite(offset)
        if isinstance(source, sympy.Symbol) and source.name in self.arrays:
            source = fn.SUBSCRIPT(source, *(Str(d) for d in self.arrays[source.name].dims))
        if isinstance(source, fn.SUBSCRIPT) and source.args[0].name in self.arrays:
            key = source.args[0].name
            dims = list(self.arrays[key].dims)
            written = [s.name.rstrip("!") for s in source.args[1:]]
            cells = list(itertools.product(*(self.space.elements(d) for d in dims)))
            values = [self.reference(key, list(cell)) for cell in cells]
            whole = all(canonical(w) == canonical(d) for w, d in zip(written, dims, strict=True))
            if not whole:
                here = tuple(canonical(self.resolve(s.name, set())) for s in source.args[1:])
                index = index + [tuple(map(canonical, c)) for c in cells].index(here)
        else:
            ranges = _ranges_read(source, self.space)
            if not ranges:
                raise Refused("VECTOR ELM MAP of an expression without subscripts")
            saved = dict(self.bindings)
            values = []
            try:
                for cell in itertools.product(*(self.space.elements(r) for r in ranges)):
                    self.bindings = saved | dict(zip(ranges, cell, strict=True))
                    values.append(self.rewrite(source))
            finally:
                self.bindings = saved
        pieces = [(v, sympy.Eq(index, i, evaluate=False)) for i, v in enumerate(values)]
        return sympy.Piecewise(*pieces, (sympy.nan, True), evaluate=False)

    def sorting(self, name: str, vector: sympy.Basic, direction: sympy.Basic) -> sympy.Expr:
        """``VECTOR SORT ORDER``/``VECTOR RANK`` (PySD: a stable ``argsort`` along the last
        subscript, reversed for a direction <= 0; ranks count from 1, orders from 0)."""
        values, k = self.along_last(vector)
        direction = self.rewrite(direction)
        n = len(values)
        ranks = [_stable_rank(values, i) for i in range(n)]  # 0-based, ascending

        def result(ascending: bool) -> sympy.Expr:
            if name == "VECTOR RANK":
                return ranks[k] + 1 if ascending else n - ranks[k]
            wanted = k if ascending else n - 1 - k
            # ``[rank == wanted]`` as ``1 - MIN(ABS(rank - wanted), 1)`` (ranks are whole
            # numbers): a condition holding sums of IF THEN ELSE makes sympy distribute the
            # logic for minutes
            return sympy.Add(
                *(
                    i * (1 - sympy.Min(sympy.Abs(r - wanted, evaluate=False), 1, evaluate=False))
                    for i, r in enumerate(ranks)
                    if i
                )
            )

        if direction.is_number:
            return result(bool(direction > 0))
        # a direction computed at run time (a constant such as ``ASCENDING == 1``)
        return sympy.Piecewise(
            (result(True), sympy.Gt(direction, 0, evaluate=False)),
            (result(False), True),
            evaluate=False,
        )

    def index_of_rank(self, array: sympy.Basic, k: sympy.Basic) -> sympy.Expr:
        """Stella's ``RANK(array, k)``: the position, from 1, of the ``k``-th smallest element
        (ties in the order of the elements; 0 for a ``k`` outside 1..n)."""
        values = self.terms(array)
        wanted = self.rewrite(k) - 1
        ranks = [_stable_rank(values, i) for i in range(len(values))]
        return sympy.Add(
            *(
                (i + 1) * (1 - sympy.Min(sympy.Abs(r - wanted, evaluate=False), 1, evaluate=False))
                for i, r in enumerate(ranks)
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
            raise Refused("ALLOCATE BY PRIORITY over request and priority of other ranges")
        try:
            return allocate_by_priority(
                requests, priorities, self.rewrite(width), self.rewrite(supply), k
            )
        except ValueError as error:
            raise Refused(str(error)) from None

    def inverse(self, matrix: sympy.Basic) -> sympy.Expr:
        """The current element of ``INVERT MATRIX(m[..., rows, columns], n)``.

        The last two subscripts of the reference are the matrix's rows and columns; the
        inverse is the adjugate over the determinant (PySD: ``numpy.linalg.inv``), so only
        small matrices are accepted.
        """
        if not isinstance(matrix, fn.SUBSCRIPT) or len(matrix.args) < 3:
            raise Refused("INVERT MATRIX of anything but a subscripted variable")
        *outer, rows, columns = (s.name for s in matrix.args[1:])
        size = len(self.space.elements(rows))
        if size != len(self.space.elements(columns)) or size > 4:
            raise Refused(f"INVERT MATRIX of a {size}-row matrix (at most 4 x 4)")
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
            raise Refused("an array function without a range to run over")
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
        raise Refused(f"VECTOR SELECT with action {action}")
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
