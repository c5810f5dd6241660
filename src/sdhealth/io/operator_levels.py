"""The operator levels the Vensim and XMILE readers share, in PySD's abstract syntax shapes.

Both readers (:mod:`sdhealth.io.mdl_parser`, :mod:`sdhealth.io.xmile_parser`) climb the same
arithmetic levels: a chain of ``+ -`` or ``* /`` operands is one ``ArithmeticStructure`` (a loop,
not recursion, so a sum of thousands of terms costs no stack); ``^`` chains group right to left
and a negated operand wraps the power it starts (``-x^2`` is ``-(x^2)``), as PySD's
``split_arithmetic`` builds them; a minus before a number literal is folded into the number.
A reader mixes :class:`OperatorLevels` in and provides ``at``, ``take`` and ``expr``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sdhealth.io import syntax as syn

__all__ = ["OperatorLevels", "negative"]


def negative(value: Any) -> Any:
    """``-value`` in PySD's shape."""
    return syn.ArithmeticStructure(["negative"], (value,))


class OperatorLevels:
    """``chain``, ``exp_expr`` and ``neg_expr`` over a reader's ``at``/``take``/``expr``."""

    at: Callable[..., bool]
    take: Callable[[], Any]
    expr: Callable[[], Any]

    def chain(self, operand: Callable[[], Any], texts: tuple[str, ...]) -> Any:
        operands = [operand()]
        operators: list[str] = []
        while self.at(*texts):
            operators.append(self.take().text)
            operands.append(operand())
        return syn.ArithmeticStructure(operators, tuple(operands)) if operators else operands[0]

    def exp_expr(self) -> Any:
        """PySD's powers: right to left, a negated operand wrapping the power it starts."""
        operands = [self.neg_expr()]
        operators: list[str] = []
        while self.at("^"):
            operators.append(self.take().text)
            operands.append(self.neg_expr())
        values = [value for value, _ in operands]
        negated = [sign for _, sign in operands]
        if not operators:
            return negative(values[0]) if negated[0] else values[0]
        if not any(negated):
            return syn.ArithmeticStructure(operators, tuple(values))
        current = negative(values[-1]) if negated[-1] else values[-1]
        for value, sign, operator in zip(
            reversed(values[:-1]), reversed(negated[:-1]), reversed(operators), strict=True
        ):
            current = syn.ArithmeticStructure([operator], (value, current))
            if sign:
                current = negative(current)
        return current

    def neg_expr(self) -> tuple[Any, bool]:
        """An operand and whether a ``-`` before it is still to be applied."""
        sign = self.take().text if self.at("+", "-") else ""
        value = self.expr()
        if sign != "-":
            return value, False
        if isinstance(value, (int, float)):
            return -value, False
        return value, True
