"""The Vensim printer: IR equations and models as Vensim ``.mdl`` text.

This module owns the one mapping from sympy expressions to Vensim's expression syntax (the
inverse of the equation parser) and the layout of a ``.mdl`` file's equation part. It is pure:
it reads IR objects and returns strings, and imports nothing of sdhealth outside ``ir`` but
:mod:`sdhealth.errors` (which imports nothing): an expression Vensim has no text for (``1/0``
folded to ``zoo``, an infinity, a complex number) is an :class:`UnwritableExpression` naming
the variable and where its equation is written.

Operator precedence follows the grammar Vensim and PySD share, loosest first::

    :AND: :OR:   (one level, left to right -- the printer parenthesises any mix)
    :NOT:        (applies to one comparison)
    = <> < <= > >=   (non-associative)
    + -
    * /
    ^
    unary -      (binds tighter than ^: ``-x^2`` is ``(-x)^2``, so ``-(x^2)`` keeps its brackets)

A negative literal raised to a power prints as ``(0 - 2)^x``: PySD 3.14 folds the sign into the
literal, drops the brackets of ``(-2)^x`` and computes Python's ``-2**x``.

Numbers are printed with ``repr`` precision so text round trips give the same doubles.
Vensim's ``~`` and ``|`` delimit the fields of an equation and cannot appear inside units or
documentation; the printer replaces them there by the full-width ``～`` and ``｜``. Vensim has
no field for a variable's ``source``; it is kept as a last documentation line starting with
:data:`SOURCE_PREFIX` (see :func:`split_source` for the inverse).

Lookups with linear extrapolation are called through ``LOOKUP EXTRAPOLATE(name, x)``, Vensim's
spelling of linear extrapolation (PySD 3.14 cannot translate it; its backend rewrites such
calls before printing).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Literal

import sympy
from sympy.core.relational import Relational
from sympy.core.symbol import Str
from sympy.logic.boolalg import BooleanAtom, BooleanFunction

from sdhealth.errors import ModelSyntaxError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Definition,
    Extrapolation,
    Flow,
    Lookup,
    Model,
    SourceLocation,
    Stock,
    Subscript,
    Variable,
)
from sdhealth.ir.names import NameTable, canonical, identifier

__all__ = [
    "METADATA_GROUP",
    "SOURCE_PREFIX",
    "UnwritableExpression",
    "definitions_to_vensim",
    "expr_to_vensim",
    "model_metadata",
    "model_to_vensim",
    "number_to_vensim",
    "quote_name",
    "split_source",
    "subscript_to_vensim",
]

#: The documentation line that carries a variable's ``source`` in ``.mdl`` files.
SOURCE_PREFIX = "Source: "

NameOf = Callable[[str], str]

# Precedence levels, loosest first (see the module docstring). Text that starts with a unary
# minus is given level _MUL: it is safe as a term or a comparison operand and is bracketed
# anywhere tighter (a factor, a base, an exponent).
_LOGIC, _NOT, _COMPARE, _ADD, _MUL, _POW, _ATOM = range(1, 8)

_PLAIN_NAME = re.compile(r"[^\W\d][\w ]*", re.UNICODE)

_TIME_NAMES: dict[sympy.Symbol, str] = {
    fn.TIME: "Time",
    fn.TIME_STEP: "TIME STEP",
    fn.INITIAL_TIME: "INITIAL TIME",
    fn.FINAL_TIME: "FINAL TIME",
    fn.SAVEPER: "SAVEPER",
}

_MATH_NAMES: dict[type[sympy.Basic], str] = {
    sympy.Abs: "ABS",
    sympy.exp: "EXP",
    sympy.log: "LN",
    sympy.sin: "SIN",
    sympy.cos: "COS",
    sympy.tan: "TAN",
    sympy.asin: "ARCSIN",
    sympy.acos: "ARCCOS",
    sympy.atan: "ARCTAN",
    sympy.sinh: "SINH",
    sympy.cosh: "COSH",
    sympy.tanh: "TANH",
}

_RELATIONS: dict[str, str] = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


# --------------------------------------------------------------------------- names and numbers


def quote_name(name: str) -> str:
    """A name as Vensim text: plain names stay, others go in double quotes.

    >>> quote_name("Teacup Temperature"), quote_name("A&E attendances"), quote_name("4 hour")
    ('Teacup Temperature', '"A&E attendances"', '"4 hour"')
    """
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return name
    if _PLAIN_NAME.fullmatch(name) and name == name.strip():
        return name
    return '"' + re.sub(r'(?<!\\)"', r'\\"', name) + '"'  # ``\"`` in a name is kept


def number_to_vensim(value: float | int | sympy.Number) -> str:
    """A number as Vensim text, exact to the last bit (integral values without ``.0``).

    >>> number_to_vensim(0.1), number_to_vensim(5.0), number_to_vensim(-1e-06)
    ('0.1', '5', '-1e-06')
    """
    if isinstance(value, sympy.Rational) and value.q != 1:
        return f"{value.p}/{value.q}"
    if isinstance(value, (int, sympy.Integer)):
        return str(int(value))
    number = float(value)
    if not math.isfinite(number):
        raise UnwritableExpression(f"holds the number {number}, which Vensim has no literal for")
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def split_source(doc: str) -> tuple[str, str]:
    """Split ``.mdl`` documentation into ``(doc, source)`` (the inverse of the printer).

    >>> split_source("Beds in England.\\nSource: NHS England KH03")
    ('Beds in England.', 'NHS England KH03')
    >>> split_source("No source here")
    ('No source here', '')
    """
    lines = doc.rstrip().split("\n")
    last = lines[-1].strip()
    if last.startswith(SOURCE_PREFIX):
        return "\n".join(lines[:-1]).strip(), last[len(SOURCE_PREFIX) :].strip()
    return doc.strip(), ""


# --------------------------------------------------------------------------- expressions


class UnwritableExpression(ModelSyntaxError, ValueError):
    """An expression Vensim has no text for, named with its variable and where it is written.

    ``reason`` says what is wrong (``"evaluates to division by zero (zoo)"``). A
    :class:`ValueError` too, for code that caught the printer's former errors.
    """

    def __init__(
        self,
        reason: str,
        variable: str | None = None,
        location: SourceLocation | None = None,
        language: str = "Vensim",
    ) -> None:
        self.reason = reason
        self.variable = variable
        self.language = language
        subject = repr(variable) if variable is not None else "an expression"
        where = location or SourceLocation()
        super().__init__(
            f"{subject} {reason}; it cannot be written as {language}",
            where.path,
            where.line,
            where.column,
        )

    def naming(self, variable: Variable) -> UnwritableExpression:
        """The same error about ``variable`` (at its equation, else where it is defined)."""
        equations = [e for e in variable.equations() if e.location is not None]
        location = equations[0].location if equations else variable.location
        return UnwritableExpression(self.reason, variable.name, location, self.language)


#: Atoms Vensim has no literal for -> what an expression holding one "does".
_UNWRITABLE_ATOMS: tuple[tuple[sympy.Basic, str], ...] = (
    (sympy.zoo, "evaluates to division by zero or LN(0) (zoo)"),
    (sympy.oo, "evaluates to infinity (oo)"),
    (-sympy.oo, "evaluates to minus infinity (-oo)"),
    (sympy.I, "holds a complex number (I)"),
)


def _unwritable_reason(expr: sympy.Basic) -> str | None:
    """Why ``expr`` cannot be Vensim text, if it holds an atom Vensim has no literal for."""
    if not isinstance(expr, sympy.Basic):
        return None
    for atom, reason in _UNWRITABLE_ATOMS:
        if expr.has(atom):
            return f"{reason}, which Vensim has no literal for"
    return None


class _Printer:
    """Turns one expression into Vensim text; each method returns ``(text, level)``.

    :class:`sdhealth.ir.xmile.XmilePrinter` overrides what XMILE spells differently.
    """

    language = "Vensim"

    def __init__(self, name_of: NameOf, extrapolating: Collection[str]) -> None:
        self.name_of = name_of
        self.extrapolating = extrapolating

    def render(self, expr: sympy.Basic) -> str:
        """The Vensim text of a whole expression (the entry point; :meth:`text` recurses).

        Raises :class:`UnwritableExpression` for what Vensim cannot spell: an expression
        sympy folded to ``zoo`` (``1/0``, ``LN(0)``), an infinity, a complex number, or a
        function with no Vensim name.
        """
        reason = _unwritable_reason(expr)
        language = self.language
        if reason is not None:
            raise UnwritableExpression(reason.replace("Vensim", language), language=language)
        try:
            return self.text(expr)
        except UnwritableExpression:
            raise
        except (ValueError, TypeError, AttributeError) as error:
            message = f"uses something {language} cannot spell ({error})"
            raise UnwritableExpression(message, language=language) from None

    def text(self, expr: sympy.Basic) -> str:
        return self.print(expr)[0]

    def wrap(self, expr: sympy.Basic, level: int) -> str:
        """Text of ``expr``, parenthesised if it binds looser than ``level``."""
        text, own = self.print(expr)
        return f"({text})" if own < level else text

    def print(self, expr: sympy.Basic) -> tuple[str, int]:
        for kind, method in _DISPATCH:
            if isinstance(expr, kind):  # by name, so that a subclass's printer is used
                return getattr(self, method.__name__)(expr)
        raise ValueError(f"cannot write {expr!r} ({type(expr).__name__}) as {self.language}")

    def call(self, name: str, args: Iterable[sympy.Basic]) -> tuple[str, int]:
        return f"{name}({', '.join(self.text(a) for a in args)})", _ATOM

    # -- atoms
    def symbol(self, expr: sympy.Symbol) -> tuple[str, int]:
        if expr in _TIME_NAMES:
            return _TIME_NAMES[expr], _ATOM
        return quote_name(self.name_of(expr.name)), _ATOM

    def number(self, expr: sympy.Number) -> tuple[str, int]:
        if expr is sympy.nan:
            return ":NA:", _ATOM
        if expr in (sympy.oo, -sympy.oo, sympy.zoo):
            raise ValueError(f"Vensim has no literal for {expr}")
        text = number_to_vensim(expr)
        return text, _MUL if "/" in text or text.startswith("-") else _ATOM

    def constant(self, expr: sympy.NumberSymbol) -> tuple[str, int]:
        if expr is sympy.E:
            return "EXP(1)", _ATOM
        return self.number(sympy.Float(float(expr)))

    def boolean_atom(self, expr: BooleanAtom) -> tuple[str, int]:
        return ("1" if expr is sympy.true else "0"), _ATOM

    # -- arithmetic
    def add(self, expr: sympy.Add) -> tuple[str, int]:
        # Positive terms first: ``b - a`` rather than ``-a + b``.
        terms = sorted(expr.as_ordered_terms(), key=lambda t: t.could_extract_minus_sign())
        parts = [self.wrap(terms[0], _ADD)]
        for term in terms[1:]:
            if term.could_extract_minus_sign():
                parts.append(" - " + self.wrap(-term, _MUL))
            else:
                parts.append(" + " + self.wrap(term, _MUL))
        return "".join(parts), _ADD

    def mul(self, expr: sympy.Mul) -> tuple[str, int]:
        coefficient, factors = expr.as_coeff_mul()
        negative = coefficient < 0
        coefficient = -coefficient if negative else coefficient
        numerator: list[sympy.Basic] = []
        denominator: list[sympy.Basic] = []
        if isinstance(coefficient, sympy.Rational):
            if coefficient.p != 1:
                numerator.append(sympy.Integer(coefficient.p))
            if coefficient.q != 1:
                denominator.append(sympy.Integer(coefficient.q))
        elif coefficient != 1:
            numerator.append(coefficient)
        for factor in factors:
            base, exponent = factor.as_base_exp()
            if factor.is_Pow and exponent.is_Number and exponent < 0:
                denominator.append(_power(base, -exponent))
            else:
                numerator.append(factor)
        return self._fraction(numerator, denominator, negative)

    def _fraction(
        self, numerator: Sequence[sympy.Basic], denominator: Sequence[sympy.Basic], negative: bool
    ) -> tuple[str, int]:
        """``-a*b/(c*d)``; a leading minus binds tighter than ``^``, so ``-(x^2)``."""
        if len(numerator) == 1 and not denominator and not negative:
            return self.print(numerator[0])
        texts = [self.wrap(f, _POW) for f in numerator] or ["1"]
        if negative and numerator:
            texts[0] = "-" + self.wrap(numerator[0], _ATOM)
        elif negative:
            texts[0] = "-1"
        text = "*".join(texts)
        if denominator:
            below = "*".join(self.wrap(f, _POW) for f in denominator)
            text += "/" + (f"({below})" if len(denominator) > 1 else below)
        return text, _MUL

    def pow(self, expr: sympy.Pow) -> tuple[str, int]:
        base, exponent = expr.args
        if exponent == sympy.S.Half:
            return self.call("SQRT", [base])
        if exponent.is_Number and exponent < 0:
            return self._fraction([], [_power(base, -exponent)], negative=False)
        if base.is_Number and base < 0:
            # ``(0 - 2)^x``, not ``(-2)^x``: PySD 3.14 folds the sign into the literal and
            # drops the brackets, computing ``-2**x`` (Python's ``-(2**x)``).
            below = f"(0 - {number_to_vensim(-base)})"
            return f"{below}^{self.wrap(exponent, _ATOM)}", _POW
        return f"{self.wrap(base, _ATOM)}^{self.wrap(exponent, _ATOM)}", _POW

    # -- logic
    def relational(self, expr: Relational) -> tuple[str, int]:
        operator = _RELATIONS[expr.rel_op]
        lhs, rhs = self.wrap(expr.lhs, _ADD), self.wrap(expr.rhs, _ADD)
        return f"{lhs} {operator} {rhs}", _COMPARE

    def and_or(self, expr: sympy.And | sympy.Or) -> tuple[str, int]:
        operator = " :AND: " if isinstance(expr, sympy.And) else " :OR: "
        return operator.join(self.wrap(a, _NOT) for a in expr.args), _LOGIC

    def not_(self, expr: sympy.Not) -> tuple[str, int]:
        return ":NOT: " + self.wrap(expr.args[0], _COMPARE), _NOT

    def other_boolean(self, expr: BooleanFunction) -> tuple[str, int]:
        """``ITE``, ``Xor``, ``Implies`` ... in negation normal form (And/Or/Not)."""
        normal = expr.to_nnf()
        if isinstance(normal, type(expr)):
            raise ValueError(f"cannot write {expr!r} as {self.language}")
        return self.print(normal)

    def piecewise(self, expr: sympy.Piecewise) -> tuple[str, int]:
        pieces = list(expr.args)
        value, condition = pieces.pop()
        text = self.text(value) if condition is sympy.true else ":NA:"
        if condition is not sympy.true:
            pieces.append((value, condition))
        for value, condition in reversed(pieces):
            text = f"IF THEN ELSE({self.text(condition)}, {self.text(value)}, {text})"
        return text, _ATOM

    # -- functions
    def min_max(self, expr: sympy.Min | sympy.Max) -> tuple[str, int]:
        name = "MIN" if isinstance(expr, sympy.Min) else "MAX"
        args = list(expr.args)
        text = self.text(args.pop())
        for arg in reversed(args):
            text = f"{name}({self.text(arg)}, {text})"
        return text, _ATOM

    def math(self, expr: sympy.Function) -> tuple[str, int]:
        for kind, name in _MATH_NAMES.items():
            if isinstance(expr, kind):
                return self.call(name, expr.args)
        raise ValueError(f"Vensim has no function for {expr.func.__name__}")

    def string(self, expr: Str) -> tuple[str, int]:
        return "'" + expr.name.replace("'", "") + "'", _ATOM

    def subscripted(self, expr: fn.SUBSCRIPT) -> tuple[str, int]:
        table, *subscripts = expr.args
        name = quote_name(self.name_of(table.name))
        return f"{name}[{', '.join(subscript_text(s.name) for s in subscripts)}]", _ATOM

    def builtin(self, expr: fn.SDFunction) -> tuple[str, int]:
        if isinstance(expr, fn.SUBSCRIPT):
            return self.subscripted(expr)
        if isinstance(expr, fn.VENSIM_CALL) and not expr.args[0].name:  # a range's element number
            return subscript_text(expr.args[1].name), _ATOM
        if isinstance(expr, fn.VENSIM_CALL):
            return self.call(expr.args[0].name, expr.args[1:])
        if isinstance(expr, fn.LOOKUP) and isinstance(expr.args[0], fn.SUBSCRIPT):
            table, x = expr.args
            return f"{self.subscripted(table)[0]}({self.text(x)})", _ATOM
        if isinstance(expr, fn.LOOKUP):
            table, x = expr.args
            name = quote_name(self.name_of(table.name))
            if table.name in self.extrapolating:
                return f"LOOKUP EXTRAPOLATE({name}, {self.text(x)})", _ATOM
            return f"{name}({self.text(x)})", _ATOM
        if isinstance(expr, fn.WITH_LOOKUP):
            x, xs, ys = expr.args
            return f"WITH LOOKUP({self.text(x)}, ({_points(xs, ys)}))", _ATOM
        if isinstance(expr, fn.FLOOR):  # XMILE's INT: Vensim has it only as this IF
            x = expr.args[0]
            whole = fn.INTEGER(x)
            below = sympy.Lt(x, whole, evaluate=False)  # as written: x < INTEGER(x)
            return self.piecewise(sympy.Piecewise((whole - 1, below), (whole, True)))
        if isinstance(expr, fn.RandomDraw):
            raise ValueError(
                f"Stella's {expr.stella} has no Vensim function that draws the same numbers"
            )
        if not expr.vensim:
            raise ValueError(f"builtin {type(expr).__name__} has no Vensim spelling")
        return self.call(expr.vensim, expr.args)


_DISPATCH: tuple[tuple[type, Callable[[_Printer, sympy.Basic], tuple[str, int]]], ...] = (
    (sympy.Symbol, _Printer.symbol),
    (Str, _Printer.string),
    (sympy.Number, _Printer.number),
    (sympy.NumberSymbol, _Printer.constant),
    (BooleanAtom, _Printer.boolean_atom),
    (sympy.Add, _Printer.add),
    (sympy.Mul, _Printer.mul),
    (sympy.Pow, _Printer.pow),
    (Relational, _Printer.relational),
    (sympy.And, _Printer.and_or),
    (sympy.Or, _Printer.and_or),
    (sympy.Not, _Printer.not_),
    (BooleanFunction, _Printer.other_boolean),
    (sympy.Piecewise, _Printer.piecewise),
    (sympy.Min, _Printer.min_max),
    (sympy.Max, _Printer.min_max),
    (fn.SDFunction, _Printer.builtin),
    (sympy.Function, _Printer.math),
)


def subscript_text(subscript: str) -> str:
    """A subscript (element or range, maybe with Vensim's ``!``) as Vensim text.

    >>> subscript_text("Entry 1"), subscript_text("dim!"), subscript_text("A&E")
    ('Entry 1', 'dim!', '"A&E"')
    """
    if subscript.endswith("!"):
        return quote_name(subscript[:-1]) + "!"
    return quote_name(subscript)


def _power(base: sympy.Basic, exponent: sympy.Basic) -> sympy.Basic:
    """``base**exponent`` kept as written (``x**1`` is ``x``; ``4**(1/2)`` stays a root)."""
    return base if exponent == 1 else sympy.Pow(base, exponent, evaluate=False)


def _points(xs: Sequence[float | sympy.Basic], ys: Sequence[float | sympy.Basic]) -> str:
    """``[(xmin,ymin)-(xmax,ymax)],(x1,y1),...`` -- the body of a Vensim lookup."""
    x_values = [float(x) for x in xs]
    y_values = [float(y) for y in ys]
    low = f"({number_to_vensim(min(x_values))},{number_to_vensim(min(y_values))})"
    high = f"({number_to_vensim(max(x_values))},{number_to_vensim(max(y_values))})"
    pairs = ",".join(
        f"({number_to_vensim(x)},{number_to_vensim(y)})"
        for x, y in zip(x_values, y_values, strict=True)
    )
    return f"[{low}-{high}],{pairs}"


def expr_to_vensim(
    expr: sympy.Basic, name_of: NameOf, *, extrapolating: Collection[str] = ()
) -> str:
    """Vensim text of an IR expression.

    Parameters
    ----------
    expr
        An IR equation expression (sympy, with builtins from :mod:`sdhealth.ir.functions`).
    name_of
        Maps a variable key to the name to print; names that are not plain Vensim names
        (letters, digits, ``_`` and spaces, not starting with a digit) are double-quoted.
    extrapolating
        Keys of lookups with linear extrapolation: their calls print as
        ``LOOKUP EXTRAPOLATE(name, x)``.

    Examples
    --------
    >>> x, y = sympy.Symbol("x"), sympy.Symbol("a&b")
    >>> expr_to_vensim(sympy.Piecewise((x, x > 1), (-x**2 / y, True)), str)
    'IF THEN ELSE(x > 1, x, -(x^2)/"a&b")'
    """
    return _Printer(name_of, frozenset(extrapolating)).render(expr)


# --------------------------------------------------------------------------- models


def _field(text: str) -> str:
    """Units or documentation made safe for a ``~``-delimited field."""
    return text.replace("~", "～").replace("|", "｜").strip()


def _units(variable: Variable) -> str:
    low, high = variable.limits
    if low is None and high is None:
        return _field(variable.units)
    bounds = ",".join(
        "?" if b is None or not math.isfinite(b) else number_to_vensim(b) for b in (low, high)
    )
    return f"{_field(variable.units)} [{bounds}]".strip()


def _doc(variable: Variable) -> str:
    """The comment field: documentation lines (indented as Vensim does), then the source."""
    doc = _field(variable.doc)
    lines = [line.strip() for line in doc.split("\n")] if doc else []
    if variable.source:
        lines.append(SOURCE_PREFIX + " ".join(_field(variable.source).split()))
    return "\n\t\t".join(lines)


def _block(left: str, right: str, units: str, doc: str) -> str:
    return f"{left}=\n\t{right}\n\t~\t{units}\n\t~\t{doc}\n\t|\n"


class _ModelPrinter:
    """Prints the variables of one model with one naming scheme."""

    def __init__(self, model: Model, names: Literal["identifier", "display"]) -> None:
        self.model = model
        self.table = NameTable.build(model.names) if names == "identifier" else None
        extrapolating = {
            v.key
            for v in model.variables
            if isinstance(v, Lookup) and v.extrapolation is Extrapolation.LINEAR
        }
        self.printer = _Printer(self.name_of, frozenset(extrapolating))

    def name_of(self, key: str) -> str:
        if self.table is not None:
            return self.table.identifier(key) if key in self.table else identifier(key)
        return self.model[key].name if key in self.model else key

    def left(self, variable: Variable) -> str:
        name = quote_name(self.name_of(variable.key))
        return f"{name}[{','.join(variable.dims)}]" if variable.dims else name

    def definition(
        self, variable: Variable, definition: Definition, *, one_line: bool = False
    ) -> str:
        """One equation of a subscripted variable, without units and documentation.

        ``one_line`` writes it on one line (``x[a] = rate``), as the YAML format holds it.
        """
        left = quote_name(self.name_of(variable.key))
        if definition.subscripts:
            left += f"[{','.join(subscript_text(s) for s in definition.subscripts)}]"
        if definition.excepts:
            left += " :EXCEPT: " + ", ".join(
                f"[{','.join(subscript_text(s) for s in excepted)}]"
                for excepted in definition.excepts
            )
        if definition.points is not None:
            body = _points(*definition.points)
            return f"{left}({body})" if one_line else f"{left}(\n\t{body})"
        if definition.equation is None:
            raise ValueError(f"definition of {variable.name!r} has no equation")
        rate = self.printer.render(definition.equation.expr)
        if isinstance(variable, Lookup):  # points read from a file: x(GET DIRECT LOOKUPS(...))
            return f"{left}({rate})" if one_line else f"{left}(\n\t{rate})"
        if definition.data is not None:
            keyword = f":{definition.data.value.upper()}:" if definition.data else ""
            if one_line:
                return " ".join(part for part in (left, keyword, ":=", rate) if part)
            return f"{left}{keyword}:=\n\t{rate}"
        if definition.initial is not None:
            initial = self.printer.render(definition.initial.expr)
            if one_line:
                return f"{left} = INTEG({rate}, {initial})"
            return f"{left}= INTEG (\n\t{rate},\n\t\t{initial})"
        return f"{left} = {rate}" if one_line else f"{left}=\n\t{rate}"

    def definitions(self, variable: Variable, *, one_line: bool = False) -> list[str]:
        """The equations of a subscripted variable; runs of numbers as Vensim array rows.

        Definitions that give one number to each element of a range, in the range's order
        and with the same other subscripts, print as one row ``x[a1, Range] = 1, 2, 3``: the
        compact form Vensim writes (and the only form PySD 3.14 reads correctly when the
        element names repeat across dimensions, ``x[A, A] = 1`` being misread).
        """
        parts, index, definitions = [], 0, variable.definitions
        while index < len(definitions):
            row = _array_row(definitions, index, self.row_ranges(variable))
            if row is None:
                parts.append(self.definition(variable, definitions[index], one_line=one_line))
                index += 1
                continue
            subscripts, values = row
            left = quote_name(self.name_of(variable.key))
            left += f"[{','.join(subscript_text(s) for s in subscripts)}]"
            numbers = ", ".join(number_to_vensim(v) for v in values)
            parts.append(f"{left} = {numbers}" if one_line else f"{left}=\n\t{numbers}")
            index += len(values)
        return parts

    def row_ranges(self, variable: Variable) -> list[tuple[str, tuple[str, ...]]]:
        """Ranges an array row may run over: the variable's last dimension first."""
        ranges = [(s.name, s.elements) for s in self.model.subscripts]
        last = variable.dims[-1] if variable.dims else None
        return sorted(ranges, key=lambda r: r[0] != last)

    def variable(self, variable: Variable) -> str:
        """The Vensim block of ``variable``; an expression Vensim cannot spell names it."""
        try:
            return self._block(variable)
        except UnwritableExpression as error:
            raise error.naming(variable) from None

    def _block(self, variable: Variable) -> str:
        units, doc = _units(variable), _doc(variable)
        left = self.left(variable)
        if variable.definitions:
            parts = self.definitions(variable)
            return " ~~|\n".join(parts) + f"\n\t~\t{units}\n\t~\t{doc}\n\t|\n"
        if isinstance(variable, Lookup):
            body = _points(variable.xs, variable.ys)
            return f"{left}(\n\t{body})\n\t~\t{units}\n\t~\t{doc}\n\t|\n"
        if isinstance(variable, Stock):
            return f"{left}= INTEG (\n\t{self.net_flow(variable)},\n\t\t" + (
                f"{self.printer.render(variable.initial.expr)})\n\t~\t{units}\n\t~\t{doc}\n\t|\n"
            )
        if isinstance(variable, Constant):
            return _block(left, number_to_vensim(variable.value), units, doc)
        if isinstance(variable, (Flow, Auxiliary)):
            return _block(left, self.printer.render(variable.equation.expr), units, doc)
        raise ValueError(f"cannot write a {type(variable).__name__} as Vensim")

    def net_flow(self, stock: Stock) -> str:
        names = [quote_name(self.name_of(canonical(f))) for f in stock.inflows]
        text = " + ".join(names)
        for outflow in stock.outflows:
            name = quote_name(self.name_of(canonical(outflow)))
            text = f"{text} - {name}" if text else f"-{name}"
        return text or "0"


def _number_of(definition: Definition) -> float | None:
    """The number a definition gives its elements, if it is a plain numeric constant."""
    equation = definition.equation
    plain = (
        equation is not None
        and definition.initial is None
        and definition.points is None
        and definition.data is None
        and not definition.excepts
        and definition.subscripts
    )
    if not plain or equation is None or not equation.expr.is_Number:
        return None
    value = float(equation.expr)
    return value if math.isfinite(value) else None


def _array_row(
    definitions: Sequence[Definition], start: int, ranges: Sequence[tuple[str, tuple[str, ...]]]
) -> tuple[tuple[str, ...], list[float]] | None:
    """``(subscripts, values)`` if the definitions from ``start`` number a whole range."""
    head = definitions[start].subscripts
    if any(s in dict(ranges) for s in head[:-1]):
        return None  # a row holds one number per element: ``x[Range, a] = 1`` is a column
    for name, elements in ranges:
        run = definitions[start : start + len(elements)]
        if len(elements) < 2 or len(run) < len(elements):
            continue
        if any(d.subscripts[:-1] != head[:-1] for d in run if d.subscripts):
            continue
        if tuple(d.subscripts[-1] if d.subscripts else "" for d in run) != elements:
            continue
        values = [_number_of(d) for d in run]
        if all(v is not None for v in values):
            return head[:-1] + (name,), [v for v in values if v is not None]
    return None


def subscript_to_vensim(subscript: Subscript) -> str:
    """A subscript range's Vensim definition (``Region: North, South -> Zone`` ... ``|``).

    >>> subscript_to_vensim(Subscript("Region", ("North", "South"))).splitlines()[:2]
    ['Region:', '\\tNorth, South']
    """
    elements = ", ".join(quote_name(e) for e in subscript.elements)
    text = f"{quote_name(subscript.name)}:\n\t{elements}"
    if subscript.mappings:
        text += " -> " + ", ".join(subscript.mappings)
    return text + "\n\t~\t\n\t~\t\n\t|\n"


def _group(name: str, doc: str) -> str:
    bar = "*" * 56
    return f"{bar}\n\t.{_field(name)}\n{bar}~\n\t\t{_field(doc)}\n\t|\n"


def _control(model: Model, printer: _ModelPrinter) -> str:
    time = model.time

    def setting(name: str, number: str) -> str:
        equation = time.equation(name)
        if equation is None:
            return number
        try:
            return printer.printer.render(equation.expr)
        except UnwritableExpression as error:
            raise UnwritableExpression(error.reason, name.upper(), equation.location) from None

    units = _field(time.units)
    saveper = "TIME STEP" if time.saveper is None else number_to_vensim(time.saveper)
    blocks = [
        _group("Control", "Simulation Control Parameters"),
        _block(
            "FINAL TIME ",
            setting("final time", number_to_vensim(time.stop)),
            units,
            "The final time for the simulation.",
        ),
        _block(
            "INITIAL TIME ",
            setting("initial time", number_to_vensim(time.start)),
            units,
            "The initial time for the simulation.",
        ),
        _block(
            "SAVEPER ",
            setting("saveper", saveper),
            f"{units} [0,?]",
            "The frequency with which output is stored.",
        ),
        _block(
            "TIME STEP ",
            setting("time step", number_to_vensim(time.dt)),
            f"{units} [0,?]",
            "The time step for the simulation.",
        ),
    ]
    return "\n".join(blocks)


def _by_sector(model: Model) -> list[tuple[str | None, list[Variable]]]:
    """Variables grouped by sector: unsectored first, then sectors in declaration order."""
    order: list[str | None] = [None] + [s.name for s in model.sectors]
    groups: dict[str | None, list[Variable]] = {}
    for variable in model.variables:
        if variable.sector not in order:
            order.append(variable.sector)
        groups.setdefault(variable.sector, []).append(variable)
    return [(sector, groups[sector]) for sector in order if sector in groups]


def definitions_to_vensim(model: Model, variable: Variable) -> list[str]:
    """The equations of subscripted ``variable`` of ``model``, one line of Vensim text each.

    Modellers' names are printed (quoted where Vensim needs it); numbers that fill a whole
    range in order make one array row (``x[a1, Range] = 1, 2, 3``).

    >>> from sdhealth.ir.model import Equation
    >>> m = Model("m", subscripts=(Subscript("R", ("a", "b")),), variables=(Constant(
    ...     name="x", value=1, dims=("R",), definitions=(
    ...         Definition(("a",), Equation.of(1)), Definition(("b",), Equation.of(2)))),))
    >>> definitions_to_vensim(m, m["x"])
    ['x[R] = 1, 2']
    """
    try:
        return _ModelPrinter(model, "display").definitions(variable, one_line=True)
    except UnwritableExpression as error:
        raise error.naming(variable) from None


#: The name of the Vensim group that holds what Vensim has no place for (see below).
METADATA_GROUP = "sdhealth"


def _metadata_of(variable: Variable) -> dict[str, Any]:
    """What a ``.mdl`` block loses of ``variable``: sector, flags, links, texts, exact doc."""
    found: dict[str, Any] = {}
    if variable.sector:
        found["sector"] = variable.sector
    if getattr(variable, "non_negative", False):
        found["non_negative"] = True
    if variable.internal:
        found["internal"] = True
    if isinstance(variable, Stock):
        found["inflows"], found["outflows"] = list(variable.inflows), list(variable.outflows)
    if variable.declared_links:
        found["links"] = [[link.source, link.polarity] for link in variable.declared_links]
    texts = {
        key: equation.text
        for key in ("equation", "initial")
        if (equation := getattr(variable, key, None)) is not None and equation.text
    }
    if texts:
        found["texts"] = texts
    if "\n".join(line.strip() for line in _field(variable.doc).split("\n")) != variable.doc:
        found["doc"] = variable.doc
    if _field(variable.units) != variable.units:
        found["units"] = variable.units
    return found


def model_metadata(model: Model) -> dict[str, Any]:
    """The model's fields a ``.mdl`` file has no place for, as plain JSON-able data.

    The model's name and description, its sectors (with their exact descriptions), its
    report settings, the order of its variables (the file groups them by sector) and, for
    each variable, what :func:`_metadata_of` keeps. The ``.mdl``
    reader (:func:`sdhealth.io.mdl.read_mdl`) puts them back.
    """
    report = model.report
    return {
        "sdhealth": 1,
        "model": model.name,
        "description": model.doc,
        "sectors": [[sector.name, sector.doc] for sector in model.sectors],
        "report": {
            "indicators": list(report.indicators),
            "every": report.every,
            "loops": [[name, list(variables)] for name, variables in report.loops],
        },
        "order": list(model.names),
        "variables": {v.name: found for v in model.variables if (found := _metadata_of(v))},
    }


def _json_lines(metadata: dict[str, Any]) -> str:
    """``metadata`` as JSON with one line per top-level key and per variable."""

    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["{"] + [f" {dumps(k)}: {dumps(v)}," for k, v in metadata.items() if k != "variables"]
    variables = [f"  {dumps(k)}: {dumps(v)}" for k, v in metadata["variables"].items()]
    return "\n".join([*lines, ' "variables": {', ",\n".join(variables), " }", "}"])


def _metadata_group(model: Model) -> str:
    """A Vensim group named :data:`METADATA_GROUP` whose comment is the model's metadata.

    Vensim and PySD read a group (``****\\n.name\\n****~ comment |``) as a heading and
    otherwise ignore it. The comment is JSON, with every character that could end a Vensim
    field or quoted name (``~``, ``|``, ``\\``, ``"`` inside strings) written as a ``\\u``
    escape, so that any text survives.
    """
    text = _json_lines(model_metadata(model))
    text = re.sub(r'\\(["\\])', lambda m: f"\\u{ord(m.group(1)):04x}", text)
    text = text.replace("~", "\\u007e").replace("|", "\\u007c")
    bar = "*" * 56
    body = "\n\t\t".join(text.splitlines())
    return f"{bar}\n\t.{METADATA_GROUP}\n{bar}~\n\t\t{body}\n\t|\n"


def model_to_vensim(model: Model, *, names: Literal["identifier", "display"] = "display") -> str:
    """The equation part of a Vensim ``.mdl`` file for ``model``.

    One block per variable (``name = equation ~ units [limits] ~ doc |``), grouped by sector
    (Vensim groups), then the ``.Control`` group with the clock; with display names, a first
    ``.sdhealth`` group keeps what Vensim has no place for (:func:`model_metadata`). Stocks are
    ``INTEG(inflows - outflows, initial)``; lookups are Vensim lookup definitions.

    Parameters
    ----------
    model
        The model to print.
    names
        ``"display"`` prints the modellers' names (quoted where Vensim needs it);
        ``"identifier"`` prints the unique identifiers of :class:`~sdhealth.ir.names.NameTable`,
        which every tool reads without quoting (used by the PySD backend).

    Examples
    --------
    >>> from sdhealth.ir.model import Equation, TimeSpec
    >>> m = Model("m", TimeSpec(0, 10, 0.5), (
    ...     Stock(name="Stock", initial=Equation.of(1), inflows=("In",)),
    ...     Flow(name="In", equation=Equation(sympy.Symbol("stock") / 2)),
    ... ))
    >>> text = model_to_vensim(m)
    >>> lines = [line.strip() for line in text.splitlines()]
    >>> lines[:3]
    ['{UTF-8}', '********************************************************', '.sdhealth']
    >>> start = lines.index("Stock= INTEG (")
    >>> lines[start:start + 3]
    ['Stock= INTEG (', 'In,', '1)']
    >>> ".sdhealth" in model_to_vensim(m, names="identifier")  # the PySD backend's text
    False
    """
    printer = _ModelPrinter(model, names)
    sector_docs = {s.name: s.doc for s in model.sectors}
    blocks = [_metadata_group(model)] if names == "display" else []
    blocks += [subscript_to_vensim(s) for s in model.subscripts]
    for sector, variables in _by_sector(model):
        if sector is not None:
            blocks.append(_group(sector, sector_docs.get(sector, "")))
        blocks.extend(printer.variable(v) for v in variables)
    blocks.append(_control(model, printer))
    return "{UTF-8}\n" + "\n".join(blocks)
