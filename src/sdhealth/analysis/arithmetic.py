"""Arithmetic a run cannot survive, found before the run: literal errors and zero divisors.

The findings behind two checks of :func:`sdhealth.analysis.checks.check_model` (which turns
them into issues):

``literal-error`` (an error)
    A part of an equation made of numbers only that has no finite real value in floating
    point, as a run would compute it: ``1/0`` and ``0^-1`` (division by zero), ``LN(0)``,
    ``0/0``, ``SQRT(-1)`` and ``LN(-1)`` (not real numbers), ``EXP(1000)`` and
    ``1e308 * 1e308`` (overflow). The parser keeps such text as written (sympy folds ``1/0`` to
    ``zoo``, ``SQRT(-1)`` to ``I``); this check names it, at the line and column where it is
    written, before a run turns it into a NaN.

``divisor-zero`` (a warning)
    A divisor made of constants (directly, or through auxiliaries computed from constants
    only) that is zero at the constants' values, or can be zero for values within their
    declared ``limits`` -- ``Heat Loss = (T - Room) / Characteristic Time`` with
    ``Characteristic Time: 0``, or with ``limits: [0, 20]``. It is a warning, not an error:
    the division may sit in a branch a run never takes.

Numbers are evaluated as the backends compute them: IEEE doubles (:mod:`math`), not sympy's
exact or arbitrary-precision arithmetic, so that ``EXP(1000)`` overflows here as it does in a
run, and no evaluation of user text can take long. Only what is built of numbers is evaluated;
an expression that reads a variable, the time or a function with memory is looked into, never
evaluated.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sympy

from sdhealth.ir import functions as fn
from sdhealth.ir.model import Auxiliary, Constant, Equation, Flow, Model, SourceLocation, Variable

__all__ = ["literal_errors", "zero_divisors", "float_value"]


class Undefined(ArithmeticError):
    """A number expression with no finite real value; ``kind`` is one of :data:`_WRITTEN`."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


#: What each kind of undefined value says, and how to find the text that made it.
_KINDS: dict[str, tuple[str, str]] = {
    "zero-division": ("divides by zero", r"/|\^\s*\(?\s*-|\bLN\s*\(|\bLOG\s*\(|\bMODULO\s*\("),
    "not-a-number": ("is 0/0, not a number", r"/"),
    "complex": (
        "is not a real number (the square root or logarithm of a negative number?)",
        r"\bSQRT\s*\(|\bLN\s*\(|\bLOG\s*\(|\bARCSIN\s*\(|\bARCCOS\s*\(|\^",
    ),
    "overflow": ("overflows floating point (above 1.8e308)", r"\bEXP\s*\(|\^|\*|\d[eE]\+?\d"),
}


# --------------------------------------------------------------------------- float evaluation


def _checked(value: float) -> float:
    if math.isnan(value):
        raise Undefined("not-a-number")
    if math.isinf(value):
        raise Undefined("overflow")
    return value


def _power(base: float, exponent: float) -> float:
    if base == 0 and exponent < 0:
        raise Undefined("zero-division")
    if base < 0 and not float(exponent).is_integer():
        raise Undefined("complex")
    try:
        return _checked(math.pow(base, exponent))
    except OverflowError:
        raise Undefined("overflow") from None


def _log(value: float) -> float:
    if value == 0:
        raise Undefined("zero-division")
    if value < 0:
        raise Undefined("complex")
    return math.log(value)


def _domain(function: Callable[[float], float]) -> Callable[[float], float]:
    def call(value: float) -> float:
        try:
            return _checked(function(value))
        except OverflowError:
            raise Undefined("overflow") from None
        except ValueError:
            raise Undefined("complex") from None

    return call


def _modulo(a: float, b: float) -> float:
    if b == 0:
        raise Undefined("zero-division")
    return math.fmod(a, b) if a * b >= 0 else a - b * math.floor(a / b)


#: sympy node -> its float function (arguments already evaluated).
_FUNCTIONS: dict[type, Callable[..., float]] = {
    sympy.exp: _domain(math.exp),
    sympy.log: _log,
    sympy.sin: _domain(math.sin),
    sympy.cos: _domain(math.cos),
    sympy.tan: _domain(math.tan),
    sympy.asin: _domain(math.asin),
    sympy.acos: _domain(math.acos),
    sympy.atan: _domain(math.atan),
    sympy.Abs: abs,
    sympy.Min: min,
    sympy.Max: max,
    sympy.floor: math.floor,
    sympy.ceiling: math.ceil,
    fn.INTEGER: math.trunc,
    fn.FLOOR: math.floor,
    fn.MODULO: _modulo,
    fn.ZIDZ: lambda a, b: 0.0 if abs(b) < 1e-6 else _checked(a / b),
    fn.XIDZ: lambda a, b, x: x if abs(b) < 1e-6 else _checked(a / b),
}

_ATOMS: dict[sympy.Basic, str] = {
    sympy.zoo: "zero-division",
    sympy.nan: "not-a-number",
    sympy.oo: "overflow",
    -sympy.oo: "overflow",
    sympy.I: "complex",
}


def float_value(expr: sympy.Basic) -> float | None:
    """The value of a number expression as a run computes it, or None if it is not one.

    Raises :class:`Undefined` where the value is not a finite real number.

    >>> float_value(sympy.Integer(3) / 4 + sympy.exp(sympy.Integer(0)))
    1.75
    >>> float_value(sympy.Symbol("x") + 1) is None
    True
    >>> float_value(sympy.zoo)
    Traceback (most recent call last):
    ...
    sdhealth.analysis.arithmetic.Undefined: zero-division
    """
    if expr in _ATOMS:
        raise Undefined(_ATOMS[expr])
    if expr.is_Number:
        return _checked(float(expr))
    if expr is sympy.pi or expr is sympy.E:
        return float(expr)
    if expr.is_Add or expr.is_Mul or expr.is_Pow or type(expr) in _FUNCTIONS:
        values = [float_value(arg) for arg in expr.args]
        if any(value is None for value in values):
            return None
        if expr.is_Add:
            return _checked(math.fsum(values))  # type: ignore[arg-type]
        if expr.is_Mul:
            return _checked(math.prod(values))  # type: ignore[arg-type]
        if expr.is_Pow:
            return _power(*values)  # type: ignore[arg-type]
        return float(_FUNCTIONS[type(expr)](*values))
    return None


# --------------------------------------------------------------------------- literal errors


def _undefined_parts(expr: sympy.Basic) -> Iterator[tuple[sympy.Basic, str]]:
    """The largest parts of ``expr`` made of numbers only whose value is undefined."""
    if not expr.free_symbols and not isinstance(expr, sympy.logic.boolalg.Boolean):
        try:
            if float_value(expr) is not None:
                return
        except Undefined as problem:
            yield expr, problem.kind
            return
    for arg in expr.args:
        yield from _undefined_parts(arg)


def _where_written(equation: Equation, kind: str) -> SourceLocation | None:
    """Where in the equation's text the undefined part is likely written (else its start)."""
    text, location = equation.text, equation.location
    if text is None or location is None:
        return location
    found = re.search(_KINDS[kind][1], text, flags=re.IGNORECASE)
    if found is None:
        return location
    return location.shifted(text, found.start())


def _equations(variable: Variable) -> Iterator[Equation]:
    for equation in variable.equations():
        if equation is not None and getattr(equation, "expr", None) is not None:
            yield equation


#: One finding: the variable, what is wrong with it and where (reported by ``checks``).
Finding = tuple[Variable, str, SourceLocation | None]


def literal_errors(model: Model) -> list[Finding]:
    """``literal-error``: number-only parts of equations with no finite real value.

    >>> from sdhealth.io.expressions import parse_equation
    >>> from sdhealth.ir import Auxiliary, Model
    >>> m = Model("m", variables=(Auxiliary(name="a", equation=parse_equation("2 + LN(0)")),))
    >>> [message for _, message, _ in literal_errors(m)]
    ["'a': LN(0) is the logarithm of 0 (minus infinity); write the value you mean"]
    """
    issues = []
    for variable in model.variables:
        for equation in _equations(variable):
            for part, kind in _undefined_parts(equation.expr):
                if kind == "not-a-number" and _marks_missing(equation):
                    continue
                shown = _shown(equation, part, kind)
                reason = _KINDS[kind][0]
                if kind == "zero-division" and re.match(r"(LN|LOG)\b", shown, re.IGNORECASE):
                    reason = "is the logarithm of 0 (minus infinity)"
                message = f"'{variable.name}': {shown} {reason}; write the value you mean" + (
                    ", or guard it with ZIDZ/XIDZ" if "divides" in reason else ""
                )
                where = _where_written(equation, kind)
                issues.append((variable, message, where))
                break  # one finding per equation: the first is where to start
    return issues


def _marks_missing(equation: Equation) -> bool:
    """Whether a NaN is Vensim's ``:NA:`` ("not available"), written on purpose.

    Equations imported through PySD keep no text; their NaN can only be ``:NA:`` (PySD
    reads no ``0/0`` into a number expression).
    """
    return equation.text is None or ":na:" in equation.text.casefold()


def _shown(equation: Equation, part: sympy.Basic, kind: str) -> str:
    """How to name the undefined part: the text as written around it where it can be found."""
    text = equation.text
    if text is not None:
        found = re.search(_KINDS[kind][1], text, flags=re.IGNORECASE)
        call = found and re.match(r"\w+\s*\(", text[found.start() :])
        if call:
            end = _closing(text, found.start() + call.end() - 1)
            if end is not None:
                return text[found.start() : end + 1]
    if part in _ATOMS:
        return "the equation"
    return str(part)


def _closing(text: str, opening: int) -> int | None:
    depth = 0
    for index in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return index
    return None


# --------------------------------------------------------------------------- zero divisors


@dataclass(frozen=True)
class _Range:
    """The values a constant can take: its value and the finite ends of its limits."""

    value: float
    low: float | None
    high: float | None

    def candidates(self) -> tuple[float, ...]:
        return tuple(v for v in (self.value, self.low, self.high) if v is not None)

    def describe(self, name: str) -> str:
        if self.low is None and self.high is None:
            return f"'{name}' is {self.value:g}"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"'{name}' is {self.value:g} with limits [{low}, {high}]"


def _constant_ranges(model: Model) -> dict[str, _Range]:
    return {
        c.key: _Range(float(c.value), *c.limits)
        for c in model.variables
        if isinstance(c, Constant) and not c.dims and isinstance(c.value, (int, float))
    }


def _inlined(model: Model, ranges: dict[str, _Range]) -> dict[str, sympy.Basic]:
    """Scalar auxiliaries and flows computed from constants only, as expressions of them."""
    found: dict[str, sympy.Basic] = {}
    for _ in range(4):  # auxiliaries of auxiliaries, a few levels deep
        for variable in model.variables:
            if variable.key in found or variable.dims or not isinstance(variable, Auxiliary | Flow):
                continue
            equation = variable.equation
            if equation is None or not equation.free_keys:
                continue
            if all(key in ranges or key in found for key in equation.free_keys):
                expr = equation.expr
                if expr.free_symbols <= {sympy.Symbol(k) for k in equation.free_keys}:
                    found[variable.key] = expr.xreplace(
                        {sympy.Symbol(k): found[k] for k in equation.free_keys if k in found}
                    )
    return found


def _divisors(expr: sympy.Basic) -> Iterator[sympy.Basic]:
    """The divisors of ``expr``: the bases of powers with a negative number as exponent."""
    for node in sympy.preorder_traversal(expr):
        if node.is_Pow and node.exp.is_number and node.exp.is_negative:
            yield node.base


def _zero_at(
    divisor: sympy.Basic, keys: list[str], ranges: dict[str, _Range], *, limits: bool
) -> bool:
    """Whether ``divisor`` is zero, or changes sign, over the constants' candidate values.

    ``limits=False`` tries the constants' values only; ``True`` also the ends of their limits.
    """
    if len(keys) > 6:
        return False
    symbols = [sympy.Symbol(key) for key in keys]
    choices = [r.candidates() if limits else (r.value,) for r in (ranges[key] for key in keys)]
    signs = set()
    for values in itertools.product(*choices):
        numbers = dict(zip(symbols, map(sympy.Float, values), strict=True))
        try:
            value = float_value(divisor.xreplace(numbers))
        except Undefined:
            continue
        if value is None:
            return False
        if value == 0:
            return True
        signs.add(value > 0)
    return len(signs) > 1


def _divisor_message(
    model: Model,
    variable: Variable,
    divisor: sympy.Basic,
    written: list[str],
    keys: list[str],
    ranges: dict[str, _Range],
    at_values: bool,
) -> str:
    """``'Loss' divides by 'T', which is 0; ...`` with the facts and a hint."""
    names = [model[key].name for key in written]
    if len(names) == 1 and divisor.is_Symbol:
        divides = f"'{names[0]}'"
    else:
        divides = "an expression of " + ", ".join(f"'{name}'" for name in names)
    simple = divisor.is_Symbol and written == keys and ranges[keys[0]].low is None
    if at_values and simple and ranges[keys[0]].high is None:
        return (
            f"'{variable.name}' divides by {divides}, which is 0; give it another value, "
            "or divide with ZIDZ/XIDZ"
        )
    facts = "; ".join(ranges[key].describe(model[key].name) for key in keys)
    which = "which is 0" if at_values else "which can be 0 within the limits declared"
    return (
        f"'{variable.name}' divides by {divides}, {which} ({facts}); "
        "declare limits that exclude 0, or divide with ZIDZ/XIDZ"
    )


def zero_divisors(model: Model) -> list[Finding]:
    """``divisor-zero``: divisors of constants that are zero, or can be within their limits.

    >>> from sdhealth.io.expressions import parse_equation
    >>> from sdhealth.ir import Constant, Flow, Model
    >>> m = Model("m", variables=(
    ...     Flow(name="Loss", equation=parse_equation("10 / Characteristic Time")),
    ...     Constant(name="Characteristic Time", value=5, limits=(0, None)),
    ... ))
    >>> [message for _, message, _ in zero_divisors(m)]  # doctest: +NORMALIZE_WHITESPACE
    ["'Loss' divides by 'Characteristic Time', which can be 0 within the limits
      declared ('Characteristic Time' is 5 with limits [0, inf]); declare limits that exclude
      0, or divide with ZIDZ/XIDZ"]
    """
    ranges = _constant_ranges(model)
    inlined = _inlined(model, ranges)
    issues = []
    for variable in model.variables:
        for equation in _equations(variable):
            for divisor in dict.fromkeys(_divisors(equation.expr)):
                written = sorted(s.name for s in divisor.free_symbols)
                if not written or not all(k in ranges or k in inlined for k in written):
                    continue
                expanded = divisor.xreplace(
                    {sympy.Symbol(k): inlined[k] for k in written if k in inlined}
                )
                keys = sorted(s.name for s in expanded.free_symbols)
                if not all(key in ranges for key in keys):
                    continue
                at_values = _zero_at(expanded, keys, ranges, limits=False)
                if not at_values and not _zero_at(expanded, keys, ranges, limits=True):
                    continue
                message = _divisor_message(
                    model, variable, divisor, written, keys, ranges, at_values
                )
                where = equation.location_of(written[0])
                issues.append((variable, message, where))
                break
    return issues
