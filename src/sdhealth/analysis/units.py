"""Dimensional analysis: unit strings, the units of expressions, and the unit checks.

Unit strings are written Vensim-style (``people/month``, ``1/month``, ``beds*month/patient``,
``(person/month)^2``, ``Degrees Fahrenheit/Minute``, ``dmnl``). :func:`parse_units` turns one
into :class:`Units`, a canonical, hashable mapping ``base unit -> Fraction exponent`` that
compares equal to the plain dict (``parse_units("people/month") == {"person": 1, "month": -1}``).

Normalisation of unit names (each word of a multi-word name on its own):

- case is ignored; ``people``/``persons`` are ``person``; other plurals lose their trailing
  ``s`` (``Months``, ``beds``, ``FTEs``), except words of three letters or fewer and words ending
  in ``ss``, ``us`` or ``is`` (``gas``, ``status``, ``analysis``);
- ``dmnl``, ``dimensionless``, ``unitless``, ``fraction``, ``percent``, ``%`` and ``1`` are
  dimensionless. A percentage is a ratio, so ``%`` is dimensionless; the factor 100 is not
  tracked (neither does Vensim);
- other numbers (``1000*people``) are an error: a scale factor is not a unit;
- an empty string means "not declared" and gives ``None`` (unknown units fit anything);
- a trailing Vensim range (``dmnl [0,1]``) is ignored.

Time units are not converted: ``week`` and ``month`` are different units, as in Vensim.

Inference (:func:`infer_units`): a number fits anything in a sum and is neutral in a product;
variables with unknown units fit anything and make a product unknown; the terms of a sum, the
arguments of MIN/MAX and the branches of IF THEN ELSE must agree; EXP/LN and friends take and
give dimensionless values; the builtins follow Vensim (``STEP(h, t)`` has the units of ``h``,
``RAMP(slope, ...)`` of ``slope*time``, ``TREND`` of ``1/time``; delay, smoothing and averaging
times, step and pulse times must be in the model's time unit); a lookup call has its lookup's
declared units; ``TIME`` and ``TIME STEP`` have the time unit.

:func:`check_units` compares each equation with the declared units of its variable, each flow
with its stocks (a flow must have the stock's units per time unit) and each stock's initial value
with the stock. Unit findings are warnings (code ``units``; ``units-syntax`` for a unit string that
cannot be read): they never stop a run, and ``check`` labels them so -- what ``check`` calls an
error, ``run`` refuses with the same message (:func:`sdhealth.analysis.checks.blocking_issues`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import sympy

from sdhealth.errors import Issue, ModelSyntaxError, Severity
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Flow, Lookup, Model, SourceLocation, Stock, Variable
from sdhealth.ir.names import canonical

__all__ = [
    "Units",
    "DIMENSIONLESS",
    "parse_units",
    "format_units",
    "declared_units",
    "infer_units",
    "check_units",
]


class Units(Mapping[str, Fraction]):
    """Canonical units: base unit name -> non-zero exponent; immutable and hashable.

    >>> speed = Units({"person": 1, "month": -1})
    >>> speed == {"person": 1, "month": -1}, str(speed), str(speed * Units({"month": 1}))
    (True, 'person/month', 'person')
    """

    __slots__ = ("_items",)

    def __init__(self, exponents: Mapping[str, Fraction | int] | None = None) -> None:
        items = {k: Fraction(v) for k, v in (exponents or {}).items() if v != 0}
        self._items: tuple[tuple[str, Fraction], ...] = tuple(sorted(items.items()))

    def __getitem__(self, base: str) -> Fraction:
        return dict(self._items)[base]

    def __iter__(self) -> Iterator[str]:
        return (base for base, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Units):
            return self._items == other._items
        return isinstance(other, Mapping) and dict(self._items) == dict(other.items())

    def __mul__(self, other: Units) -> Units:
        combined = dict(self._items)
        for base, exponent in other._items:
            combined[base] = combined.get(base, Fraction(0)) + exponent
        return Units(combined)

    def __truediv__(self, other: Units) -> Units:
        return self * other**-1

    def __pow__(self, exponent: Fraction | int) -> Units:
        return Units({base: e * Fraction(exponent) for base, e in self._items})

    @property
    def is_dimensionless(self) -> bool:
        return not self._items

    def __str__(self) -> str:
        return format_units(self)

    def __repr__(self) -> str:
        return f"Units({str(self)!r})"


#: The units of a pure number.
DIMENSIONLESS = Units()

_DIMENSIONLESS_WORDS = frozenset(
    {"dmnl", "dimensionless", "unitless", "fraction", "percent", "%", "1"}
)
_SYNONYMS = {"people": "person", "persons": "person", "peoples": "person"}
_TOKEN = re.compile(r"\s*(?:(?P<op>[*/^()])|(?P<word>[^\s*/^()]+))")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_RANGE = re.compile(r"\s*\[[^\]]*\]\s*$")


def _normalise_word(word: str) -> str:
    """One word of a unit name in canonical form: lower case, singular.

    >>> [_normalise_word(w) for w in ("Months", "People", "FTEs", "beds", "status", "gas")]
    ['month', 'person', 'fte', 'bed', 'status', 'gas']
    """
    lowered = word.casefold()
    if lowered in _SYNONYMS:
        return _SYNONYMS[lowered]
    if len(lowered) > 3 and lowered.endswith("s") and not lowered.endswith(("ss", "us", "is")):
        return lowered[:-1]
    return lowered


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """``(kind, value, offset)`` triples; consecutive words form one multi-word name."""
    tokens: list[tuple[str, str, int]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # only trailing whitespace is left
            break
        position = match.end()
        if match.group("op"):
            tokens.append(("op", match.group("op"), match.start("op")))
        elif tokens and tokens[-1][0] == "name" and not _NUMBER.match(match.group("word")):
            kind, value, offset = tokens[-1]
            tokens[-1] = (kind, f"{value} {match.group('word')}", offset)
        else:
            kind = "number" if _NUMBER.match(match.group("word")) else "name"
            tokens.append((kind, match.group("word"), match.start("word")))
    return tokens


@dataclass
class _UnitParser:
    """Recursive descent over ``expr := power (('*'|'/') power)*``, ``power := atom ['^' n]``."""

    text: str
    location: SourceLocation | None
    tokens: list[tuple[str, str, int]] = field(default_factory=list)
    index: int = 0

    def fail(self, what: str) -> ModelSyntaxError:
        where = self.location or SourceLocation()
        if self.index < len(self.tokens):
            token = self.tokens[self.index]
            what = f"{what}, found '{token[1]}' at character {token[2] + 1}"
        else:
            what = f"{what} at the end"
        return ModelSyntaxError(
            f"cannot read units '{self.text}': {what}", where.path, where.line, where.column
        )

    def peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Units:
        self.tokens = _tokens(self.text)
        units = self.product()
        if self.index != len(self.tokens):
            raise self.fail("expected '*', '/' or the end")
        return units

    def product(self) -> Units:
        units = self.power()
        while self.peek() in ("*", "/"):
            operator = self.take()[1]
            right = self.power()
            units = units * right if operator == "*" else units / right
        return units

    def power(self) -> Units:
        units = self.atom()
        if self.peek() == "^":
            self.take()
            units = units ** self.exponent()
        return units

    def atom(self) -> Units:
        if self.index >= len(self.tokens):
            raise self.fail("expected a unit name")
        kind, value, _ = self.tokens[self.index]
        if value == "(":
            self.take()
            units = self.product()
            if self.peek() != ")":
                raise self.fail("expected ')'")
            self.take()
            return units
        if kind == "number" and float(value) == 1:
            self.take()
            return DIMENSIONLESS
        if kind == "number":
            where = self.location or SourceLocation()
            raise ModelSyntaxError(
                f"cannot read units '{self.text}': '{value}' is a scale factor, not a unit "
                "(only 1 may stand alone, as in 1/month)",
                where.path,
                where.line,
                where.column,
            )
        if kind != "name":
            raise self.fail("expected a unit name")
        self.take()
        name = " ".join(_normalise_word(word) for word in value.split())
        return DIMENSIONLESS if name in _DIMENSIONLESS_WORDS else Units({name: 1})

    def exponent(self) -> Fraction:
        bracketed = self.peek() == "("
        if bracketed:
            self.take()
        if self.index >= len(self.tokens) or self.tokens[self.index][0] != "number":
            raise self.fail("expected a number as exponent")
        value = Fraction(self.take()[1])
        if bracketed and self.peek() == "/":
            self.take()
            if self.index >= len(self.tokens) or self.tokens[self.index][0] != "number":
                raise self.fail("expected a number after '/' in the exponent")
            value /= Fraction(self.take()[1])
        if bracketed:
            if self.peek() != ")":
                raise self.fail("expected ')'")
            self.take()
        return value


def parse_units(text: str, location: SourceLocation | None = None) -> Units | None:
    """Read a unit string; ``None`` when it is empty (units not declared).

    Raises
    ------
    ModelSyntaxError
        When the string cannot be read, with ``location`` (the variable's) and the character.

    >>> parse_units("Persons/Months") == {"person": 1, "month": -1}
    True
    >>> str(parse_units("(person/month)^2")), str(parse_units("beds*month/patient"))
    ('person^2/month^2', 'bed*month/patient')
    >>> parse_units("  ") is None, parse_units("dmnl [0,1]")
    (True, Units('dmnl'))
    """
    stripped = _RANGE.sub("", text).strip()
    if not stripped:
        return None
    return _UnitParser(stripped, location).parse()


def _format_power(base: str, exponent: Fraction) -> str:
    if exponent == 1:
        return base
    shown = str(exponent) if exponent.denominator == 1 else f"({exponent})"
    return f"{base}^{shown}"


def format_units(units: Units) -> str:
    """Canonical text for units: ``a*b/(c*d)``, ``1/month``, ``dmnl``.

    >>> format_units(Units({"month": -1})), format_units(Units({"a": 1, "c": -1, "d": -2}))
    ('1/month', 'a/(c*d^2)')
    """
    if units.is_dimensionless:
        return "dmnl"
    above = [_format_power(b, e) for b, e in units.items() if e > 0]
    below = [_format_power(b, -e) for b, e in units.items() if e < 0]
    top = "*".join(above) or "1"
    if not below:
        return top
    bottom = below[0] if len(below) == 1 else f"({'*'.join(below)})"
    return f"{top}/{bottom}"


def declared_units(variable: Variable) -> Units | None:
    """The parsed declared units of a variable (``None`` when not declared).

    Raises
    ------
    ModelSyntaxError
        When its unit string cannot be read (located at the variable's definition).
    """
    return parse_units(variable.units, variable.location)


@dataclass(frozen=True)
class _Inferred:
    """Units found for a subexpression: ``units=None`` is unknown; ``literal`` a pure number."""

    units: Units | None
    literal: bool = False

    @property
    def known(self) -> Units | None:
        """Units that constrain: known and not a bare number."""
        return None if self.literal else self.units


_UNKNOWN = _Inferred(None)
_LITERAL = _Inferred(DIMENSIONLESS, literal=True)
_DMNL = _Inferred(DIMENSIONLESS)


@dataclass
class _Inference:
    """Infers the units of one model's expressions, collecting what does not add up."""

    model: Model
    time: Units | None
    units_of: dict[str, Units | None]
    problems: list[str] = field(default_factory=list)

    def infer(self, expr: sympy.Basic) -> _Inferred:
        if isinstance(expr, sympy.Symbol):
            return self.symbol(expr)
        if isinstance(expr, (sympy.Number, sympy.NumberSymbol, sympy.logic.boolalg.BooleanAtom)):
            return _LITERAL
        for kind, rule in _RULES.items():
            if isinstance(expr, kind):
                return rule(self, expr)
        return _UNKNOWN  # an object no rule knows: claim nothing

    def symbol(self, sym: sympy.Symbol) -> _Inferred:
        if sym.name.startswith("@"):
            return _Inferred(self.time)
        return _Inferred(self.units_of.get(sym.name))

    def model_variable(self, key: str) -> Variable | None:
        return self.model[key] if key in self.model else None

    def agree(self, parts: list[_Inferred], verb: str) -> _Inferred:
        """Parts that must have the same units (sum terms, branches, compared sides)."""
        known = [p.known for p in parts if p.known is not None]
        for other in known[1:]:
            if other != known[0]:
                # sympy orders terms its own way: name the two in a fixed (alphabetical) order
                first, second = sorted((str(known[0]), str(other)))
                self.problems.append(f"cannot {verb} {first} and {second}")
                break
        if known:
            return _Inferred(known[0])
        return _UNKNOWN if any(p.units is None for p in parts) else _LITERAL

    def product(self, parts: list[_Inferred]) -> _Inferred:
        if any(p.units is None for p in parts):
            return _UNKNOWN
        units = DIMENSIONLESS
        for part in parts:
            assert part.units is not None
            units = units * part.units
        return _Inferred(units, literal=all(p.literal for p in parts))

    def require(self, found: _Inferred, expected: Units | None, what: str) -> None:
        if found.known is None or expected is None or found.known == expected:
            return
        if expected.is_dimensionless:
            self.problems.append(f"{what} must be dimensionless, not {found.known}")
        else:
            self.problems.append(f"{what} must be in {expected}, not {found.known}")

    def require_time(self, found: _Inferred, what: str) -> None:
        if found.known is not None and self.time is not None and found.known != self.time:
            self.problems.append(
                f"{what} must be in {self.time} (the model's time unit), not {found.known}"
            )

    def dimensionless_argument(self, expr: sympy.Basic) -> _Inferred:
        name = getattr(expr.func, "vensim", "") or expr.func.__name__.upper()
        for arg in expr.args:
            self.require(self.infer(arg), DIMENSIONLESS, f"the argument of {name}")
        return _DMNL


def _power(inf: _Inference, expr: sympy.Pow) -> _Inferred:
    base, exponent = inf.infer(expr.base), expr.exp
    if isinstance(exponent, sympy.Rational) or isinstance(exponent, sympy.Float):
        power = (
            Fraction(str(exponent))
            if isinstance(exponent, sympy.Float)
            else Fraction(int(exponent.p), int(exponent.q))
        )
        if base.units is None:
            return _UNKNOWN
        return _Inferred(base.units**power, literal=base.literal)
    inf.require(inf.infer(exponent), DIMENSIONLESS, "an exponent")
    inf.require(base, DIMENSIONLESS, "a number raised to a computed power")
    return _UNKNOWN if base.units is None else _Inferred(DIMENSIONLESS, base.literal)


def _piecewise(inf: _Inference, expr: sympy.Piecewise) -> _Inferred:
    values = []
    for value, condition in expr.args:
        inf.infer(condition)
        values.append(inf.infer(value))
    return inf.agree(values, "choose between")


def _relational(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    inf.agree([inf.infer(arg) for arg in expr.args], "compare")
    return _LITERAL


def _boolean(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    for arg in expr.args:
        inf.infer(arg)
    return _LITERAL


def _same_as_first(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    return inf.infer(expr.args[0])


def _ratio(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    """ZIDZ(a, b) and XIDZ(a, b, x): ``a/b``; XIDZ's ``x`` must agree with it."""
    a, b = inf.infer(expr.args[0]), inf.infer(expr.args[1])
    inverse = _UNKNOWN if b.units is None else _Inferred(b.units**-1, b.literal)
    result = inf.product([a, inverse])
    if len(expr.args) == 3:
        return inf.agree([result, inf.infer(expr.args[2])], "choose between")
    return result


def _modulo(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    return inf.agree([inf.infer(arg) for arg in expr.args], "take the remainder of")


def _step(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    inf.require_time(inf.infer(expr.args[1]), "the step time of STEP")
    return inf.infer(expr.args[0])


def _pulse(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    for arg in expr.args:
        inf.require_time(inf.infer(arg), f"every argument of {expr.func.vensim}")
    return _DMNL


def _ramp(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    for arg in expr.args[1:]:
        inf.require_time(inf.infer(arg), "the start and end times of RAMP")
    slope = inf.infer(expr.args[0])
    return inf.product([slope, _Inferred(inf.time)])


def _lookup(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    inf.infer(expr.args[1])
    table = expr.args[0]
    if isinstance(table, sympy.Symbol) and isinstance(inf.model_variable(table.name), Lookup):
        return _Inferred(inf.units_of.get(table.name))
    return _UNKNOWN


def _with_lookup(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    inf.infer(expr.args[0])
    return _UNKNOWN  # the table is bare numbers: the result takes the variable's units


def _delay_or_smooth(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    name = expr.func.vensim
    inf.require_time(inf.infer(expr.args[1]), f"the time of {name}")
    result = inf.infer(expr.args[0])
    if len(expr.args) >= 3:
        initial = inf.infer(expr.args[2])
        inf.require(initial, result.known, f"the initial value of {name}")
        if result.known is None and initial.known is not None:
            result = initial
    if len(expr.args) == 4:
        inf.require(inf.infer(expr.args[3]), DIMENSIONLESS, f"the order of {name}")
    return result


def _trend(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    inf.infer(expr.args[0])
    inf.require_time(inf.infer(expr.args[1]), "the average time of TREND")
    rate = None if inf.time is None else inf.time**-1
    inf.require(inf.infer(expr.args[2]), rate, "the initial trend of TREND")
    return _Inferred(rate)


def _forecast(inf: _Inference, expr: sympy.Basic) -> _Inferred:
    inf.require_time(inf.infer(expr.args[1]), "the average time of FORECAST")
    inf.require_time(inf.infer(expr.args[2]), "the horizon of FORECAST")
    return inf.infer(expr.args[0])


_RULES: dict[type, Callable[[_Inference, sympy.Basic], _Inferred]] = {
    sympy.Add: lambda inf, e: inf.agree([inf.infer(a) for a in e.args], "add"),
    sympy.Mul: lambda inf, e: inf.product([inf.infer(a) for a in e.args]),
    sympy.Pow: _power,
    sympy.Piecewise: _piecewise,
    sympy.Min: lambda inf, e: inf.agree([inf.infer(a) for a in e.args], "compare"),
    sympy.Max: lambda inf, e: inf.agree([inf.infer(a) for a in e.args], "compare"),
    sympy.core.relational.Relational: _relational,
    sympy.logic.boolalg.BooleanFunction: _boolean,
    sympy.Abs: _same_as_first,
    fn.INTEGER: _same_as_first,
    fn.FLOOR: _same_as_first,
    fn.INITIAL: _same_as_first,
    fn.ZIDZ: _ratio,
    fn.XIDZ: _ratio,
    fn.MODULO: _modulo,
    fn.QUANTUM: _modulo,
    fn.STEP: _step,
    fn.PULSE: _pulse,
    fn.PULSE_TRAIN: _pulse,
    fn.RAMP: _ramp,
    fn.LOOKUP: _lookup,
    fn.WITH_LOOKUP: _with_lookup,
    fn.TREND: _trend,
    fn.FORECAST: _forecast,
    **{
        kind: _delay_or_smooth
        for kind in (
            fn.DELAY1,
            fn.DELAY1I,
            fn.DELAY3,
            fn.DELAY3I,
            fn.DELAY_N,
            fn.DELAY_FIXED,
            fn.SMOOTH,
            fn.SMOOTHI,
            fn.SMOOTH3,
            fn.SMOOTH3I,
            fn.SMOOTH_N,
        )
    },
    # plain mathematics: exp, log, trigonometry (sqrt is a Pow)
    sympy.exp: _Inference.dimensionless_argument,
    sympy.log: _Inference.dimensionless_argument,
    sympy.sin: _Inference.dimensionless_argument,
    sympy.cos: _Inference.dimensionless_argument,
    sympy.tan: _Inference.dimensionless_argument,
    sympy.asin: _Inference.dimensionless_argument,
    sympy.acos: _Inference.dimensionless_argument,
    sympy.atan: _Inference.dimensionless_argument,
}


def _declared_or_issue(
    model: Model, variable: Variable, issues: list[Issue]
) -> tuple[bool, Units | None]:
    """``(readable, units)`` for a variable; an unreadable unit string becomes an issue."""
    try:
        return True, declared_units(variable)
    except ModelSyntaxError as error:
        issues.append(_issue(model, variable, "units-syntax", error.message))
        return False, None


def _issue(
    model: Model,
    variable: Variable,
    code: str,
    message: str,
    location: SourceLocation | None = None,
) -> Issue:
    where = location or variable.location or SourceLocation()
    return Issue(
        Severity.WARNING,
        code,
        message,
        where.path or model.path,
        where.line,
        where.column,
        variable.name,
    )


def _time_units(model: Model) -> Units | None:
    try:
        return parse_units(model.time.units)
    except ModelSyntaxError:
        return None


def infer_units(expr: sympy.Basic, model: Model) -> Units | None:
    """The units of an expression of ``model``.

    ``None`` when they cannot be known (they depend on variables without declared units) and
    for a bare number, which has no units of its own and fits anything.

    Inconsistencies inside the expression are not reported here (see :func:`check_units`);
    the result is the best reading of the expression.

    >>> from sdhealth.ir import Constant, Model, symbol
    >>> m = Model("m", variables=(Constant(name="Staff", value=1.0, units="nurses"),
    ...                           Constant(name="Rate", value=1.0, units="1/Months")))
    >>> str(infer_units(2 * symbol("Staff") * symbol("Rate"), m))
    'nurse/month'
    """
    units_of = {}
    for variable in model.variables:
        try:
            units_of[variable.key] = declared_units(variable)
        except ModelSyntaxError:
            units_of[variable.key] = None
    return _Inference(model, _time_units(model), units_of).infer(expr).known


def _flow_issues(
    model: Model, stock: Stock, units_of: Mapping[str, Units | None], time: Units | None
) -> list[Issue]:
    stock_units = units_of.get(stock.key)
    if stock_units is None or time is None:
        return []
    issues = []
    for name in (*stock.inflows, *stock.outflows):
        key = canonical(name)
        flow = model[key] if key in model else None
        flow_units = units_of.get(key)
        if not isinstance(flow, Flow) or flow_units is None:
            continue
        if flow_units != stock_units / time:
            issues.append(
                _issue(
                    model,
                    flow,
                    "units",
                    f"flow '{flow.name}' ({flow.units.strip()}) does not match stock "
                    f"'{stock.name}' ({stock.units.strip()}) per {model.time.units}",
                    flow.location or flow.equation.location,
                )
            )
    return issues


def _equation_issues(
    inference: _Inference, variable: Variable, declared: Units | None
) -> list[Issue]:
    """Problems inside each equation; else a mismatch between equation and declaration."""
    issues = []
    for equation in variable.equations():
        if getattr(equation, "expr", None) is None:  # a stock without initial value
            continue
        where = variable.location or equation.location
        inference.problems = []
        found = inference.infer(equation.expr).known
        for problem in dict.fromkeys(inference.problems):
            message = f"units in '{variable.name}': {problem}"
            issues.append(_issue(inference.model, variable, "units", message, where))
        if inference.problems or declared is None or found is None or found == declared:
            continue
        if isinstance(variable, Stock):
            message = (
                f"the initial value of stock '{variable.name}' is in {found} but the stock "
                f"is declared in {variable.units.strip()}"
            )
        else:
            message = (
                f"'{variable.name}' is declared in {variable.units.strip()} but its equation "
                f"gives {found}"
            )
        issues.append(_issue(inference.model, variable, "units", message, where))
    return issues


def check_units(model: Model) -> list[Issue]:
    """Every unit finding of a model, in definition order.

    Unit strings that cannot be read (``units-syntax``), equations whose units do not add up or
    differ from their variable's declared units, stock initial values in other units than the
    stock, and flows that are not in their stock's units per time unit (code ``units``).
    Variables without declared units are checked only inside their equations.
    """
    issues: list[Issue] = []
    units_of: dict[str, Units | None] = {}
    for variable in model.variables:
        _, units_of[variable.key] = _declared_or_issue(model, variable, issues)
    time = _time_units(model)
    inference = _Inference(model, time, units_of)
    for variable in model.variables:
        issues.extend(_equation_issues(inference, variable, units_of[variable.key]))
        if isinstance(variable, Stock):
            issues.extend(_flow_issues(model, variable, units_of, time))
    return issues
