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
  the elements; ``VECTOR SELECT`` into PySD's selection
  (:meth:`~sdhealth.compile.array_expressions.Rewriter.vector_select`);
  ``INVERT MATRIX`` into the adjugate over the determinant (matrices up to 4 x 4);
  ``VECTOR SORT ORDER``, ``VECTOR RANK`` and ``VECTOR REORDER`` into comparisons of the
  elements; ``ALLOCATE BY PRIORITY`` into PySD's allocation in closed form
  (:mod:`sdhealth.compile.allocation`); ``ELMCOUNT(range)`` is a number. Other array functions
  raise :class:`~sdhealth.errors.UnsupportedByBackend` naming the function and the variable;
- a subscripted stock becomes one stock per element whose net rate is an internal flow
  ``"x[a] net flow"``; a subscripted lookup one lookup per element.

The pieces: :mod:`sdhealth.compile.subscript_ranges` resolves the ranges and names elements,
:mod:`sdhealth.compile.array_expressions` rewrites one element's expression, and this module
decides which definition makes each element and builds the scalar variables.

Stateful builtins inside subscripted equations need nothing here: after flattening each element
holds its own scalar call, which :func:`~sdhealth.compile.expand.expand_stateful` turns into that
element's own stocks.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sdhealth.compile.array_expressions import REDUCTIONS, Rewriter
from sdhealth.compile.subscript_ranges import Cell, Ranges, Refused, element_name
from sdhealth.errors import UnsupportedByBackend
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

__all__ = ["flatten", "element_name", "Ranges", "REDUCTIONS"]


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
        raise Refused("a subscripted variable without equations (definitions)")
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


def _equation(rewriter: Rewriter, equation: Equation | None, what: str) -> Equation:
    if equation is None:
        raise Refused(f"an element without {what}")
    expr = rewriter.rewrite(equation.expr)
    return Equation(expr, location=equation.location)


def _flat_element(rewriter: Rewriter, variable: Variable, element: _Element) -> list[Variable]:
    """The scalar variable(s) of one element of ``variable``."""
    name = element_name(variable.name, element.cell)
    rewriter.bindings = dict(element.bindings)
    definition = element.definition
    fields = _fields(variable, name)
    if isinstance(variable, Lookup):
        if definition.points is None:
            raise Refused("a lookup read from a file (GET ... LOOKUPS)")
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
    internal = variable.internal
    if isinstance(variable, Constant) and equation.expr.is_Number:
        return [Constant(value=float(equation.expr), internal=internal, **fields)]
    kind = Flow if isinstance(variable, Flow) else Data if isinstance(variable, Data) else Auxiliary
    return [kind(equation=equation, internal=internal, **fields)]  # type: ignore[call-arg]


def _scalar(rewriter: Rewriter, variable: Variable) -> Variable:
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

    >>> import sympy
    >>> from sympy.core.symbol import Str
    >>> from sdhealth.ir import functions as fn
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
    if not model.is_arrayed:
        return model
    space = Ranges.of(model)
    arrays = {v.key: v for v in model.variables if v.dims or v.definitions}
    elements: dict[str, list[_Element]] = {}
    for key, variable in arrays.items():
        try:
            elements[key] = _elements_of(space, variable)
        except Refused as error:
            raise _refusal(variable, str(error)) from None
    defined = {
        key: frozenset(tuple(canonical(e) for e in element.cell) for element in found)
        for key, found in elements.items()
    }
    rewriter = Rewriter(space, arrays, defined)
    variables: list[Variable] = []
    for variable in model.variables:
        try:
            if variable.key in arrays:
                for element in elements[variable.key]:
                    variables.extend(_flat_element(rewriter, variable, element))
            else:
                variables.append(_scalar(rewriter, variable))
        except Refused as error:
            raise _refusal(variable, str(error)) from None
    return replace(model, variables=tuple(variables), subscripts=())
