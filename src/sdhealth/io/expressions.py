"""Vensim expression syntax -> sympy: the one parser of equation and lookup-table text.

Equations are written in Vensim's expression language so modellers can copy them between Vensim
and sdhealth unchanged. This module owns reading that text: a hand-written tokenizer
(:mod:`sdhealth.io.expression_tokens`) and a recursive-descent parser (one function per
precedence level, each looping over its operators) build the IR's sympy expression directly.
User text never reaches ``eval``, ``exec``, ``sympy.sympify`` or ``sympy.parse_expr``.

Operators, loosest first: ``:OR:``, ``:AND:``, ``:NOT:`` (prefix), comparisons
(``= <> < > <= >=``), binary ``+ -``, ``* /``, unary ``+ -``, then ``^``. ``^`` binds tighter than
unary minus (``-2^2`` is -4), and is right-associative, as Vensim computes it (``2^3^2`` is 512;
the SDXorg suite's canonical output has ``4^3^2`` = 262144) and takes a signed exponent
(``2^-1``). Chains of one operator become one n-ary sympy node, so a sum of thousands of
terms costs neither recursion nor quadratic time.

Names are words of letters, digits, ``_ & ' $`` separated by spaces or underscores (the first word
starts with a letter or an underscore; later words may start with a digit: ``Patients waiting 52
weeks``); anything but a double quote fits between double quotes (``"Beds (G&A)"``). A name's key is
:func:`sdhealth.ir.names.canonical`. A backslash at the end of a line (Vensim's line continuation)
counts as a space.

Calls resolve through registries: ``IF THEN ELSE``, :data:`sdhealth.ir.functions.MATH_FUNCTIONS`,
:data:`sdhealth.ir.functions.BUILTIN_FUNCTIONS` (``WITH LOOKUP`` reads its table argument
specially). Any other ``name(x)`` is a call of the named lookup ``name``, with one rule for
typos: a name written in capitals (``SMOTH(``) whose difflib ratio to a builtin's name is at least
0.8 is reported as a misspelt builtin, because lookups are rarely named in capitals and a silent
lookup call would hide the typo; write such a lookup's name in mixed case or in double quotes. A
lookup call with other than one argument is an unknown function too (did-you-mean at ratio 0.6).
Known Vensim functions sdhealth does not offer (:data:`UNSUPPORTED_FUNCTIONS`) are errors, never
lookup calls.

Booleans and numbers convert where the other is expected (see the common representation rules):
a number used as a condition ``c`` becomes ``Ne(c, 0)``; a condition used as a number becomes
``Piecewise((1, c), (0, True))``; the result of an equation is always a number.

Every syntax error is a :class:`~sdhealth.errors.ModelSyntaxError` pointing at the offending
character (file, line and column of ``location`` shifted into the text; without a location,
line and column count from the start of the text). Arity errors point at the function's name, and an
unexpected end points just after the last token.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NoReturn

import sympy
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.logic.boolalg import Boolean

from sdhealth.errors import ModelSyntaxError
from sdhealth.io.expression_tokens import CONTINUATION, TOKEN_HINTS, Kind, Token, tokenize
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Equation, SourceLocation, symbol
from sdhealth.ir.names import canonical, suggest

__all__ = [
    "parse_expression",
    "parse_equation",
    "parse_lookup_points",
    "MAX_NESTING",
    "UNSUPPORTED_FUNCTIONS",
]

#: Deepest nesting of parentheses and calls accepted (keeps the parser's recursion bounded).
MAX_NESTING = 50

#: Vensim functions the expression language does not offer (yet): a clear error, not a lookup call.
UNSUPPORTED_FUNCTIONS = frozenset(
    canonical(name)
    for name in (
        "A FUNCTION OF|ACTIVE INITIAL|ALLOCATE BY PRIORITY|DELAY CONVEYOR|ELMCOUNT|GAME|"
        "GET DATA AT TIME|GET DIRECT CONSTANTS|GET DIRECT DATA|GET DIRECT LOOKUPS|"
        "GET XLS CONSTANTS|GET XLS DATA|GET XLS LOOKUPS|LOOKUP AREA|LOOKUP BACKWARD|"
        "LOOKUP EXTRAPOLATE|LOOKUP FORWARD|LOOKUP INVERT|NPV|PROD|QUEUE FIFO|RANDOM 0 1|"
        "RANDOM EXPONENTIAL|RANDOM NORMAL|RANDOM POISSON|RANDOM TRIANGULAR|RANDOM UNIFORM|"
        "SAMPLE IF TRUE|SUM|TABBED ARRAY|VECTOR SELECT|VMAX|VMIN"
    ).split("|")
)

# --- booleans and numbers ---------------------------------------------------------------------


def _is_boolean(value: sympy.Basic) -> bool:
    # A sympy Symbol is both an Expr and a Boolean; only non-Expr booleans are conditions.
    return isinstance(value, Boolean) and not isinstance(value, sympy.Expr)


def _as_number(value: sympy.Basic) -> sympy.Expr:
    """A condition used where a number is expected: 1 where true, 0 where false."""
    if value is sympy.true:
        return sympy.Integer(1)
    if value is sympy.false:
        return sympy.Integer(0)
    if _is_boolean(value):
        return _piecewise((sympy.Integer(1), value), (sympy.Integer(0), sympy.true))
    return value


def _as_condition(value: sympy.Basic) -> sympy.Basic:
    """A number used where a condition is expected: true where it is not zero."""
    return value if _is_boolean(value) else _relation(sympy.Ne, value, sympy.Integer(0))


# Relations, conditionals and logic are built unevaluated: sympy would otherwise try to decide
# them on the spot (``Eq(0, SMOOTH(1, 2))`` asks for the real and imaginary parts of the call,
# nested ``Piecewise`` collapse walks every branch again), which on user text can take hours or
# fail with internal errors. What the modeller wrote is kept as written; arithmetic (``Add``,
# ``Mul``, ``Pow``) still folds numbers, which is linear and is how ``1/0`` becomes ``zoo`` for
# the checks to report.


def _piecewise(*pairs: tuple[sympy.Basic, sympy.Basic]) -> sympy.Basic:
    """``Piecewise(*pairs)`` as written: sympy's constructor would fold a condition that holds a
    ``Piecewise`` (``(a >= 2.5) < 1e-6``) and rewrite it, which fails on constant conditions."""
    kept: list[ExprCondPair] = []
    for expr, cond in pairs:
        if cond is sympy.false:
            continue
        if cond is sympy.true and not kept:
            return expr  # a literal condition decides it (``IF THEN ELSE(1 > 0, a, b)``)
        kept.append(sympy.Tuple.__new__(ExprCondPair, expr, cond))
        if cond is sympy.true:
            break
    return sympy.Basic.__new__(sympy.Piecewise, *kept)


def _is_plain_number(value: sympy.Basic) -> bool:
    return isinstance(value, sympy.Number) and value.is_finite is True


def _relation(cls: type[sympy.Basic], left: sympy.Basic, right: sympy.Basic) -> sympy.Basic:
    """A comparison, decided only where both sides are finite numbers (``2 = 2`` is true)."""
    left, right = _as_number(left), _as_number(right)
    if _is_plain_number(left) and _is_plain_number(right):
        return cls(left, right)
    return cls(left, right, evaluate=False)


def _logical(cls: type[sympy.Basic], operands: Iterable[sympy.Basic]) -> sympy.Basic:
    conditions = [_as_condition(o) for o in operands]
    try:
        return cls(*conditions, evaluate=False)
    except TypeError:  # sympy orders the operands even so, and a NaN cannot be ordered
        return sympy.Basic.__new__(cls, *conditions)


def _power(base: sympy.Basic, exponent: sympy.Basic) -> sympy.Expr:
    """``base ^ exponent``; exact rationals with a large integer exponent become floats.

    sympy would otherwise compute ``2^1000000000`` as an exact integer of a billion bits.
    """
    base, exponent = _as_number(base), _as_number(exponent)
    if base.is_Rational and exponent.is_Integer and abs(exponent) > 64 and abs(base) != 1:
        base = sympy.Float(base)
    if base.is_Float or exponent.is_Float:
        return _float_power(base, exponent)
    if not _foldable(base, exponent):
        return sympy.Pow(base, exponent, evaluate=False)
    return _arithmetic(sympy.Pow, base, exponent)


def _float_power(base: sympy.Basic, exponent: sympy.Basic) -> sympy.Expr:
    """A power of (or to) a float, in double precision as a run computes it -- sympy would use
    arbitrary precision (``(-2e308) ^ (-2e308)`` is a complex number of huge precision, a
    chain of them never returned). A power with no finite real value is kept as written, for
    ``sd.check`` to report (``(-1) ^ 0.5``)."""
    if not (base.is_Number and exponent.is_Number):
        return sympy.Pow(base, exponent, evaluate=False)
    try:
        value = float(base) ** float(exponent)
    except (OverflowError, ZeroDivisionError):
        return sympy.Pow(base, exponent, evaluate=False)
    if isinstance(value, complex) or not math.isfinite(value):
        return sympy.Pow(base, exponent, evaluate=False)
    return sympy.Float(value)


def _foldable(base: sympy.Basic, exponent: sympy.Basic) -> bool:
    """Whether sympy may evaluate ``base ** exponent`` at once (``0 ^ -1`` to ``zoo``,
    ``x ^ 1`` to ``x``): when both are numbers, or neither holds a conditional and the
    exponent is a number or the base holds no power.

    Otherwise the power is kept as written: sympy's evaluation asks for the real and imaginary
    parts of every power and branch below it, which grows exponentially along a chain
    ``a ^ b ^ c ^ ...`` of symbolic exponents, and it pushes a power into the branches of a
    conditional, rebuilding it with its conditions evaluated (``a / (0 = SMOOTH(1, 2))``
    never returned). The backends compute a power as it stands.
    """
    if base.is_Number and exponent.is_Number:
        return True
    if base.has(sympy.Piecewise) or exponent.has(sympy.Piecewise):
        return False
    return bool(exponent.is_Number) or not (base.has(sympy.Pow) or exponent.has(sympy.Pow))


def _product(*factors: sympy.Basic) -> sympy.Basic:
    """A product, numbers folded -- but as written where two factors hold conditionals or one
    divides by one: sympy would join them into a power of a conditional, evaluated (see
    :func:`_foldable`)."""
    conditional = [f for f in factors if f.has(sympy.Piecewise)]
    if len(conditional) > 1 or any(f.is_Pow for f in conditional):
        return sympy.Mul(*factors, evaluate=False)
    return _arithmetic(sympy.Mul, *factors)


def _arithmetic(cls: type[sympy.Basic], *operands: sympy.Basic) -> sympy.Basic:
    """A sum, product or power, numbers folded -- or as written where sympy's evaluation fails
    on the operands (a quotient of conditionals comparing ``LN(0)`` raises ``TypeError``,
    ``EXP(1e308) ^ EXP(1e308)`` an ``OverflowError`` for an integer of too many digits)."""
    try:
        return cls(*operands)
    except (TypeError, ValueError, OverflowError):
        return cls(*operands, evaluate=False)


def _if_then_else(condition: sympy.Basic, then: sympy.Expr, otherwise: sympy.Expr) -> sympy.Basic:
    floor = fn.floor_of(condition, then, otherwise)  # how Vensim text spells XMILE's INT
    return floor if floor is not None else _piecewise((then, condition), (otherwise, sympy.true))


def _unevaluated(cls: Callable[..., sympy.Basic]) -> Callable[..., sympy.Basic]:
    """``cls`` called with ``evaluate=False``: the maths functions keep their arguments as
    written (``MIN``/``MAX`` are not reordered, ``EXP(1e308)`` is not computed)."""

    def build(*args: sympy.Basic) -> sympy.Basic:
        return cls(*args, evaluate=False)

    return build


_RELATIONS: dict[str, type[sympy.Basic]] = {
    "=": sympy.Eq,
    "<>": sympy.Ne,
    "<": sympy.Lt,
    ">": sympy.Gt,
    "<=": sympy.Le,
    ">=": sympy.Ge,
}


# --- the function registry --------------------------------------------------------------------


@dataclass(frozen=True)
class _FunctionSpec:
    """How to build one function call: Vensim spelling, accepted argument counts, builder."""

    display: str
    arities: frozenset[int] | None  # None: any number of arguments
    build: Callable[..., sympy.Basic]
    condition_arguments: frozenset[int] = frozenset()


def _arities(nargs: object) -> frozenset[int] | None:
    """Accepted argument counts from an int, a tuple of ints or sympy's ``nargs`` FiniteSet."""
    if isinstance(nargs, int):
        return frozenset({nargs})
    if isinstance(nargs, (tuple, sympy.FiniteSet)):
        return frozenset(int(n) for n in nargs)
    return None


def _function_registry() -> dict[str, _FunctionSpec]:
    specs = {
        "if then else": _FunctionSpec("IF THEN ELSE", frozenset({3}), _if_then_else, frozenset({0}))
    }
    for key, (build, counts) in fn.MATH_FUNCTIONS.items():
        # Built as written: sympy would evaluate ``EXP(1e308)`` with arbitrary precision (and
        # overflow mpmath) and fold ``LN(0)``; the checks evaluate numbers as a run does.
        build = _unevaluated(build)  # type: ignore[arg-type]
        specs[key] = _FunctionSpec(key.upper(), _arities(counts), build)  # type: ignore[arg-type]
    for key, cls in fn.BUILTIN_FUNCTIONS.items():
        if cls is not fn.WITH_LOOKUP:  # its table argument is parsed by _Parser._with_lookup
            specs[key] = _FunctionSpec(cls.vensim, _arities(cls.nargs), cls)
    return specs


_FUNCTIONS = _function_registry()
_WITH_LOOKUP = canonical(fn.WITH_LOOKUP.vensim)
_FUNCTION_DISPLAY = {key: spec.display for key, spec in _FUNCTIONS.items()}
_FUNCTION_DISPLAY[_WITH_LOOKUP] = fn.WITH_LOOKUP.vensim


def _closest_function(key: str, cutoff: float) -> str | None:
    """The Vensim spelling of the builtin function whose name is closest to ``key``, if any."""
    matches = suggest(key, _FUNCTION_DISPLAY.values(), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def _arity_text(arities: Iterable[int]) -> str:
    counts = sorted(arities)
    words = " or ".join(str(n) for n in counts)
    return f"{words} argument" + ("" if counts == [1] else "s")


# --- the parser -------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over one text; collects the variable references it meets."""

    def __init__(self, text: str, location: SourceLocation | None, subject: str) -> None:
        self.text = text
        self.base = location if location is not None else SourceLocation(None, 1, 1)
        self.subject = subject
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0
        self.references: list[tuple[str, int]] = []

    # token stream

    def peek(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is Kind.ERROR:
            self.error(token.message, token.offset)
        return token

    def advance(self) -> Token:
        token = self.peek()
        if token.kind is not Kind.END:
            self.index += 1
        return token

    def accept(self, *texts: str) -> Token | None:
        return self.advance() if self.peek().is_op(*texts) else None

    def follows(self, text: str) -> bool:
        """Whether the token after the current one is operator ``text`` (never raises)."""
        return self.index + 1 < len(self.tokens) and self.tokens[self.index + 1].is_op(text)

    # errors

    def error(self, message: str, offset: int) -> NoReturn:
        where = self.base.shifted(self.text, offset)
        raise ModelSyntaxError(message, where.path, where.line, where.column)

    def describe(self, token: Token) -> str:
        if token.kind is Kind.END:
            return f"end of {self.subject}"
        if token.kind is Kind.OPERATOR:
            return f"'{token.text}'"
        return f"{token.kind.value} '{token.text}'"

    def unexpected(self, token: Token, hint: str = "") -> NoReturn:
        self.error(f"unexpected {self.describe(token)}{hint}", token.offset)

    def opened_at(self, opening: Token, offset: int) -> str:
        here = self.base.shifted(self.text, offset)
        there = self.base.shifted(self.text, opening.offset)
        if there.column is None:
            return f"'{opening.text}'"
        if there.line == here.line:
            return f"'{opening.text}' opened at column {there.column}"
        return f"'{opening.text}' opened at line {there.line}, column {there.column}"

    def close(self, opening: Token, closing: str = ")") -> None:
        token = self.peek()
        if token.is_op(closing):
            self.advance()
            return
        message = f"expected '{closing}' to close {self.opened_at(opening, token.offset)}"
        if token.kind is not Kind.END:
            message += f", found {self.describe(token)}"
        self.error(message, token.offset)

    def enter(self, opening: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.error(
                f"expression nested too deeply (more than {MAX_NESTING} levels)", opening.offset
            )

    def finish(self) -> None:
        token = self.peek()
        if token.kind is Kind.END:
            return
        starts_value = token.kind in (Kind.NUMBER, Kind.NAME) or token.is_op("(")
        self.unexpected(token, " (missing operator?)" if starts_value else "")

    # precedence levels, loosest first

    def expression(self) -> sympy.Basic:
        operands = [self.conjunction()]
        while self.accept(":OR:"):
            operands.append(self.conjunction())
        if len(operands) == 1:
            return operands[0]
        return _logical(sympy.Or, operands)

    def conjunction(self) -> sympy.Basic:
        operands = [self.negation()]
        while self.accept(":AND:"):
            operands.append(self.negation())
        if len(operands) == 1:
            return operands[0]
        return _logical(sympy.And, operands)

    def negation(self) -> sympy.Basic:
        count = 0
        while self.accept(":NOT:"):
            count += 1
        value = self.comparison()
        for _ in range(count):
            value = sympy.Not(_as_condition(value), evaluate=False)
        return value

    def comparison(self) -> sympy.Basic:
        value = self.additive()
        while token := self.accept(*_RELATIONS):
            value = _relation(_RELATIONS[token.text], value, self.additive())
        return value

    def additive(self) -> sympy.Basic:
        first = self.multiplicative()
        terms = [first]
        while token := self.accept("+", "-"):
            term = _as_number(self.multiplicative())
            terms.append(term if token.text == "+" else -term)
        if len(terms) == 1:
            return first
        return _arithmetic(sympy.Add, _as_number(first), *terms[1:])

    def multiplicative(self) -> sympy.Basic:
        first = self.signed(self.power)
        factors = [first]
        while token := self.accept("*", "/"):
            factor = _as_number(self.signed(self.power))
            factors.append(factor if token.text == "*" else _power(factor, sympy.Integer(-1)))
        if len(factors) == 1:
            return first
        return _product(_as_number(first), *factors[1:])

    def signed(self, operand: Callable[[], sympy.Basic]) -> sympy.Basic:
        """Prefix ``+``/``-`` signs (any number) before ``operand``."""
        signs = []
        while token := self.accept("+", "-"):
            signs.append(token.text)
        value = operand()
        if not signs:
            return value
        value = _as_number(value)
        return -value if signs.count("-") % 2 else value

    def power(self) -> sympy.Basic:
        """``a ^ b ^ c`` as Vensim computes it, right to left: ``a ^ (b ^ c)``.

        A sign after ``^`` negates the whole power on its right (``2^-2^-3`` is
        ``2^(-(2^(-3)))``). The chain is read in a loop and folded from the right, so a long
        chain costs no recursion.
        """
        operands = [self.primary()]
        negated: list[bool] = []
        while self.accept("^"):
            signs = 0
            while token := self.accept("+", "-"):
                signs += token.text == "-"
            negated.append(signs % 2 == 1)
            operands.append(self.primary())
        if not negated:
            return operands[0]
        result = _as_number(operands[-1])
        for base, negative in zip(reversed(operands[:-1]), reversed(negated), strict=True):
            result = _power(_as_number(base), -result if negative else result)
        return result

    def primary(self) -> sympy.Basic:
        token = self.peek()
        if token.kind is Kind.NUMBER:
            return self.number(self.advance())
        if token.kind is Kind.NAME:
            return self.name()
        if token.is_op("("):
            opening = self.advance()
            self.enter(opening)
            value = self.expression()
            self.close(opening)
            self.depth -= 1
            return value
        previous = self.tokens[self.index - 1].text if self.index else ""
        self.unexpected(token, TOKEN_HINTS.get((previous, token.text), ""))

    def number(self, token: Token) -> sympy.Expr:
        if token.text.isdigit() and len(token.text) <= 15:
            return sympy.Integer(int(token.text))  # exact: every such integer is a double
        if token.text.isdigit():  # a run computes in doubles; sympy would keep every digit
            return sympy.Float(self.float_of(token))
        return sympy.Float(self.float_of(token))

    def float_of(self, token: Token) -> float:
        value = float(token.text)
        if not math.isfinite(value):
            self.error(f"number '{token.text}' is too large", token.offset)
        return value

    # names and calls

    def name(self) -> sympy.Basic:
        token = self.advance()
        written = " ".join(CONTINUATION.sub(" ", token.text).split())
        key = canonical(written)
        if not key:
            self.error(f"empty name {token.text}", token.offset)
        if key.startswith("@"):
            self.error("a name cannot start with '@'", token.offset)
        following = self.peek()
        if following.is_op("("):
            return self.call(token, key, written)
        if following.is_op("["):
            self.error(
                "subscripted references are not supported in equations yet", following.offset
            )
        if key in fn.BUILTIN_SYMBOLS:
            return fn.BUILTIN_SYMBOLS[key]
        self.references.append((key, token.offset))
        return symbol(key)

    def call(self, token: Token, key: str, written: str) -> sympy.Basic:
        if key in fn.BUILTIN_SYMBOLS:
            self.error(f"'{written}' is not a function", token.offset)
        if key == "integ":
            self.error(
                "INTEG belongs to stocks: give the stock's initial value, inflows and "
                "outflows instead",
                token.offset,
            )
        if key in UNSUPPORTED_FUNCTIONS:
            self.error(f"function '{written.upper()}' is not supported", token.offset)
        if key == _WITH_LOOKUP:
            return self.with_lookup()
        spec = _FUNCTIONS.get(key)
        if spec is None:
            return self.lookup_call(token, key, written)
        args = self.arguments()
        if spec.arities is not None and len(args) not in spec.arities:
            self.error(
                f"'{spec.display}' takes {_arity_text(spec.arities)}, got {len(args)}", token.offset
            )
        converted = [
            _as_condition(arg) if i in spec.condition_arguments else _as_number(arg)
            for i, arg in enumerate(args)
        ]
        try:
            return spec.build(*converted)
        except (TypeError, ValueError) as exc:
            self.error(f"cannot apply '{spec.display}': {exc}", token.offset)

    def lookup_call(self, token: Token, key: str, written: str) -> sympy.Basic:
        capitals = written.upper() == written and any(c.isalpha() for c in written)
        misspelt = _closest_function(key, cutoff=0.8) if capitals and not token.quoted else None
        if misspelt:
            self.error(f"unknown function '{written}' (did you mean '{misspelt}'?)", token.offset)
        self.references.append((key, token.offset))
        args = self.arguments()
        if len(args) != 1:
            near = _closest_function(key, cutoff=0.6)
            if near:
                self.error(f"unknown function '{written}' (did you mean '{near}'?)", token.offset)
            self.error(
                f"'{written}' is not a builtin function, and a lookup call takes "
                f"1 argument, got {len(args)}",
                token.offset,
            )
        return fn.LOOKUP(symbol(key), _as_number(args[0]))

    def arguments(self) -> list[sympy.Basic]:
        opening = self.advance()
        self.enter(opening)
        args: list[sympy.Basic] = []
        if not self.peek().is_op(")"):
            args.append(self.expression())
            while self.accept(","):
                args.append(self.expression())
        self.close(opening)
        self.depth -= 1
        return args

    def with_lookup(self) -> sympy.Basic:
        opening = self.advance()
        self.enter(opening)
        value = _as_number(self.expression())
        if not self.accept(","):
            token = self.peek()
            self.error(
                f"expected ',' and a lookup table after the input of WITH LOOKUP, found "
                f"{self.describe(token)}",
                token.offset,
            )
        xs, ys = self.lookup_table()
        self.close(opening)
        self.depth -= 1
        return fn.WITH_LOOKUP(
            value, sympy.Tuple(*map(sympy.Float, xs)), sympy.Tuple(*map(sympy.Float, ys))
        )

    # lookup tables

    def lookup_table(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``( [range,] (x,y), (x,y) ... )`` -- the range, if any, is skipped."""
        opening = self.expect("(", "a lookup table")
        xs, ys = self.points()
        self.close(opening)
        return xs, ys

    def points(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``[range,] (x,y), (x,y) ...`` up to the first token that does not continue the list."""
        if self.peek().is_op("["):
            self.skip_range()
            self.expect(",", "the first point after the range")
        xs: list[float] = []
        ys: list[float] = []
        while True:
            opening = self.expect("(", "a point '(x, y)'")
            xs.append(self.signed_number())
            self.expect(",", "the point's y value")
            ys.append(self.signed_number())
            self.close(opening)
            if not self.accept(","):
                return tuple(xs), tuple(ys)

    def skip_range(self) -> None:
        """Skip Vensim's ``[(xmin,ymin)-(xmax,ymax)...]`` display range, as PySD does."""
        opening = self.advance()
        while not self.peek().is_op("]"):
            if self.peek().kind is Kind.END:
                self.close(opening, "]")
            self.advance()
        self.advance()

    def signed_number(self) -> float:
        sign = 1.0
        while token := self.accept("+", "-"):
            sign = -sign if token.text == "-" else sign
        token = self.peek()
        if token.kind is not Kind.NUMBER:
            self.error(
                f"expected a number in the lookup table, found {self.describe(token)}", token.offset
            )
        return sign * self.float_of(self.advance())

    def expect(self, text: str, purpose: str) -> Token:
        token = self.peek()
        if not token.is_op(text):
            self.error(
                f"expected '{text}' to start {purpose}, found {self.describe(token)}", token.offset
            )
        return self.advance()


# --- public API -------------------------------------------------------------------------------


def _parse(text: str, location: SourceLocation | None) -> tuple[sympy.Expr, _Parser]:
    parser = _Parser(text, location, "equation")
    if parser.peek().kind is Kind.END:
        parser.error("empty equation", 0)
    value = parser.expression()
    parser.finish()
    return _as_number(value), parser


def parse_expression(text: str, *, location: SourceLocation | None = None) -> sympy.Expr:
    """Parse Vensim equation text into a sympy expression.

    Parameters
    ----------
    text
        The right-hand side of an equation, e.g. ``"Room temperature - Teacup temperature"``.
    location
        Where ``text`` starts in its file; syntax errors are reported relative to it.

    Returns
    -------
    sympy.Expr
        Variables are ``Symbol(key)``; builtins follow :mod:`sdhealth.ir.functions`.

    Raises
    ------
    ModelSyntaxError
        At the file, line and column of the first offending character.

    Examples
    --------
    >>> parse_expression("2 * Room_Temperature - MAX(a, 0)")
    2*room temperature - Max(0, a)
    >>> parse_expression("IF THEN ELSE(Time > 5, 1, 0)")
    Piecewise((1, @time > 5), (0, True))
    >>> parse_expression("(a + b", location=SourceLocation("m.yaml", 3, 12))
    Traceback (most recent call last):
    ...
    sdhealth.errors.ModelSyntaxError: m.yaml:3:18: expected ')' to close '(' opened at column 12
    """
    return parse_equation(text, location=location).expr


def parse_equation(text: str, *, location: SourceLocation | None = None) -> Equation:
    """Parse Vensim equation text into an :class:`~sdhealth.ir.model.Equation`.

    ``references`` holds ``(key, offset)`` for every mention of a variable or named lookup, in
    order of appearance (repeats included); builtin symbols and function names are left out. The
    offset of a quoted name is that of its opening quote.

    Examples
    --------
    >>> eq = parse_equation('Beds * "Occupancy (G&A)" + effect(Time) + beds')
    >>> eq.references
    (('beds', 0), ('occupancy (g&a)', 7), ('effect', 27), ('beds', 42))
    """
    expr, parser = _parse(text, location)
    return Equation(expr, text, location, tuple(parser.references))


def parse_lookup_points(
    text: str, *, location: SourceLocation | None = None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Parse a Vensim lookup table into its x and y values.

    Accepts the full form ``([(0,0)-(10,1)],(0,0),(5,0.5),(10,1))`` (range optional, and ignored)
    and the bare list of points ``(0,0),(5,0.5)``. Whether the x values increase is for checks to
    decide, not the parser.

    Examples
    --------
    >>> parse_lookup_points("([(0,0)-(10,1)],(0,0),(5,0.5),(10,1))")
    ((0.0, 5.0, 10.0), (0.0, 0.5, 1.0))
    >>> parse_lookup_points("(-1, 2), (1e1, -3)")
    ((-1.0, 10.0), (2.0, -3.0))
    """
    parser = _Parser(text, location, "lookup table")
    first = parser.peek()
    if first.kind is Kind.END:
        parser.error("empty lookup table", 0)
    wrapped = first.is_op("(") and (parser.follows("(") or parser.follows("["))
    xs, ys = parser.lookup_table() if wrapped else parser.points()
    parser.finish()
    return xs, ys
