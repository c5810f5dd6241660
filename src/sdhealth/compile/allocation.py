"""Vensim's ``ALLOCATE BY PRIORITY`` as one closed-form scalar expression per element.

``ALLOCATE BY PRIORITY(request, priority, size, width, supply)`` shares ``supply`` among the
elements of ``request`` (the vector along its last subscript). PySD
(``pysd.py_backend.allocation._allocate_by_priority_1d``) hands the supply out in linear
pieces: the highest priority first, the next one joining once the one before has received
``min((p_before - p_next) / width, 1)`` of its request, every active target then receiving
supply in proportion to its request until it is full. That is the same as Vensim's
rectangular priority profile with a common cut-off ``c``: target ``i`` receives

    a_i(c) = r_i * min(max((p_i - c) / width, 0), 1)

and ``c`` is where the total ``T(c) = sum_i a_i(c)`` equals the supply. ``T`` is piecewise
linear and non-increasing in ``c`` with breakpoints at ``p_j`` and ``p_j - width``, so the
cut-off lies between the largest breakpoint ``b_lo`` with ``T(b_lo) >= supply`` and the
smallest ``b_hi`` with ``T(b_hi) <= supply``, and each allocation is the linear interpolation
of ``a_i`` between them (interpolating the allocations, not the cut-off, keeps a narrow width
from magnifying rounding). The expression holds ``2n`` totals of ``n`` terms (``O(n^2)``), fine
for the vectors models allocate over.

As PySD: a supply at least the total request gives every target its request, the ``size``
argument is not used; inputs PySD refuses (a negative request or supply, a width that is not
positive) give NaN. A conditional width or supply (``IF THEN ELSE``) gives one allocation per
branch; conditional requests or priorities inline (not references) raise ``ValueError``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import sympy

__all__ = ["allocate_by_priority"]

#: The smallest positive normal double: the gap between two totals never divides by zero.
_TINIEST = sympy.Float(sys.float_info.min)


def allocate_by_priority(
    requests: Sequence[sympy.Basic],
    priorities: Sequence[sympy.Basic],
    width: sympy.Basic,
    supply: sympy.Basic,
    index: int,
) -> sympy.Expr:
    """The allocation of element ``index`` of ``ALLOCATE BY PRIORITY`` (see the module docs).

    Parameters
    ----------
    requests, priorities
        The request and the priority of every element of the vector, in its order.
    width
        The width of the rectangular priority profile (must be positive).
    supply
        The supply shared among the requests (must not be negative).
    index
        Which element's allocation to return (from 0).

    Returns
    -------
    sympy.Expr
        An expression of the arguments alone (Min, Max, Piecewise and arithmetic).

    Requests 2 and 2 at priorities 3 and 1, width 1, supply 3: the first is filled first.

    >>> r, p = sympy.symbols("r0:2"), sympy.symbols("p0:2")
    >>> shares = [allocate_by_priority(r, p, 1, 3, i) for i in (0, 1)]
    >>> [float(sympy.lambdify([*r, *p], e)(2, 2, 3, 1)) for e in shares]
    [2.0, 1.0]
    """
    if len(requests) != len(priorities) or not requests:
        raise ValueError("requests and priorities must be non-empty and of the same length")
    branches = _branches(width)  # one allocation per branch of a conditional width or supply
    if branches is not None:
        pieces = [
            (allocate_by_priority(requests, priorities, value, supply, index), condition)
            for value, condition in branches
        ]
        return sympy.Piecewise(*pieces, evaluate=False)
    branches = _branches(supply)
    if branches is not None:
        pieces = [
            (allocate_by_priority(requests, priorities, width, value, index), condition)
            for value, condition in branches
        ]
        return sympy.Piecewise(*pieces, evaluate=False)
    if any(sympy.sympify(a).has(sympy.Piecewise) for a in (*requests, *priorities)):
        raise ValueError("ALLOCATE BY PRIORITY of conditional requests or priorities")
    breakpoints = [b for p in priorities for b in (p, _sub(p, width))]
    totals = [_total(requests, priorities, width, b) for b in breakpoints]
    above = [sympy.Ge(t, supply, evaluate=False) for t in totals]  # T(b) >= supply
    below = [sympy.Le(t, supply, evaluate=False) for t in totals]  # T(b) <= supply
    low = _extreme(sympy.Max, breakpoints, above, -sympy.oo)
    high = _extreme(sympy.Min, breakpoints, below, sympy.oo)
    total_low = _extreme(sympy.Min, totals, above, sympy.oo)
    total_high = _extreme(sympy.Max, totals, below, -sympy.oo)
    # where the supply lies between the two totals; 0 when they are equal (then so is supply).
    # Max instead of a Piecewise: a condition holding a Piecewise makes sympy fold it for minutes
    gap = sympy.Max(_sub(total_low, total_high), _TINIEST, evaluate=False)
    step = sympy.Mul(_sub(total_low, supply), sympy.Pow(gap, -1), evaluate=False)
    request, priority = requests[index], priorities[index]
    at_low = _share(request, priority, width, low)
    at_high = _share(request, priority, width, high)
    shared = sympy.Add(at_low, step * _sub(at_high, at_low), evaluate=False)
    invalid = sympy.Or(
        sympy.Le(width, 0, evaluate=False),
        sympy.Lt(supply, 0, evaluate=False),
        *(sympy.Lt(r, 0, evaluate=False) for r in requests),
        evaluate=False,
    )
    return sympy.Piecewise(
        (sympy.nan, invalid),
        (request, sympy.Ge(supply, sympy.Add(*requests, evaluate=False), evaluate=False)),
        (shared, True),
        evaluate=False,
    )


def _branches(argument: sympy.Basic) -> list[tuple[sympy.Basic, sympy.Basic]] | None:
    """The (value, condition) branches of a conditional ``argument``, else ``None``.

    The allocation compares totals holding the width and the supply; sympy folds every
    condition holding a ``Piecewise`` (minutes for a handful of elements), so a conditional
    width or supply is lifted out first and the allocation built once per branch.
    """
    argument = sympy.sympify(argument)
    if not argument.has(sympy.Piecewise):
        return None
    folded = sympy.piecewise_fold(argument)
    if not isinstance(folded, sympy.Piecewise) or any(
        value.has(sympy.Piecewise) for value, _ in folded.args
    ):
        raise ValueError("ALLOCATE BY PRIORITY of a width or supply with a nested condition")
    return [(value, condition) for value, condition in folded.args]


def _sub(a: sympy.Basic, b: sympy.Basic) -> sympy.Expr:
    """``a - b`` without sympy reordering or merging terms."""
    return sympy.Add(a, sympy.Mul(-1, b, evaluate=False), evaluate=False)


def _share(
    request: sympy.Basic, priority: sympy.Basic, width: sympy.Basic, cutoff: sympy.Basic
) -> sympy.Expr:
    """``request * min(max((priority - cutoff) / width, 0), 1)``: one target at a cut-off."""
    fraction = sympy.Mul(_sub(priority, cutoff), sympy.Pow(width, -1), evaluate=False)
    clipped = sympy.Min(sympy.Max(fraction, 0, evaluate=False), 1, evaluate=False)
    return sympy.Mul(request, clipped, evaluate=False)


def _total(
    requests: Sequence[sympy.Basic],
    priorities: Sequence[sympy.Basic],
    width: sympy.Basic,
    cutoff: sympy.Basic,
) -> sympy.Expr:
    """The total allocated at a cut-off."""
    shares = [_share(r, p, width, cutoff) for r, p in zip(requests, priorities, strict=True)]
    return shares[0] if len(shares) == 1 else sympy.Add(*shares, evaluate=False)


def _extreme(
    how: type[sympy.Min] | type[sympy.Max],
    values: Sequence[sympy.Basic],
    conditions: Sequence[sympy.Basic],
    neutral: sympy.Basic,
) -> sympy.Expr:
    """``how`` of the values whose condition holds (``neutral`` stands for the others)."""
    kept = [
        sympy.Piecewise((v, c), (neutral, True), evaluate=False)
        for v, c in zip(values, conditions, strict=True)
    ]
    return how(*kept, evaluate=False)
