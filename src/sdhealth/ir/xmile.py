"""The XMILE printer: IR expressions as XMILE 1.0 equation text.

The inverse of sdhealth's XMILE reader (:mod:`sdhealth.io.xmile_parser`) for what the IR holds,
written so that the reader, PySD's XMILE translator and Stella read the same meaning back.
It shares its layout with the Vensim printer (:mod:`sdhealth.ir.vensim`: precedence levels,
sums, products, powers, exact numbers) and overrides what XMILE spells differently:

- names: ``Waiting_list`` (spaces as underscores) or, for any other character,
  ``"A&E waits"`` in double quotes;
- the clock: ``TIME``, ``DT``, ``STARTTIME``, ``STOPTIME``;
- ``IF c THEN a ELSE b`` (bracketed wherever it is an operand), ``AND``, ``OR``,
  ``NOT (c)`` (XMILE's ``NOT`` binds as tightly as a unary minus, so its operand is always
  bracketed);
- builtins by XMILE's names and argument orders: ``SMTH1/SMTH3(x, t[, i])``,
  ``SMTHN(x, t, n[, i])``, ``DELAY1/DELAY3(x, t[, i])``, ``DELAYN(x, t, n[, i])``,
  ``DELAY(x, t, i)`` (a fixed delay), ``TREND``, ``FORCST``, ``INIT``, ``STEP``,
  ``RAMP(slope, start, end)``, ``SAFEDIV(a, b[, x])`` for ``ZIDZ``/``XIDZ`` (both readers give
  ``SAFEDIV`` Vensim's rule: the alternative where ``|b| < 1e-6``), lookups called as
  ``table(x)``, array reducers ``SUM``/``PROD``/``MIN``/``MAX`` over ``x[*]``;
- other Vensim functions by their Vensim names with underscores (``PULSE_TRAIN(...)``,
  ``COSH(x)``): sdhealth's and PySD's XMILE readers read them with Vensim's meaning; Stella
  refuses them by name (it has no such functions), never computing something else;
- Vensim functions whose XMILE namesake means something else, written as the expression they
  compute, with the
  constants the native and PySD backends use: ``INTEGER(x)`` (truncation; XMILE's ``INT``
  floors) is ``IF x < 0 THEN -INT(-x) ELSE INT(x)``, and ``PULSE(s, w)`` (1 while
  ``s - 1e-6 <= TIME < s + w``, a zero width being one ``DT``) is the ``IF`` that says so
  (XMILE's ``PULSE`` is a different function: a volume spread over one ``DT``).

What XMILE cannot say (a text argument such as a file name, ``SAVEPER`` in an equation, a
missing value) is an :class:`~sdhealth.ir.vensim.UnwritableExpression`
naming it; :func:`sdhealth.io.xmile_writer.model_to_xmile` adds the variable.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

import sympy
from sympy.core.symbol import Str

from sdhealth.ir import functions as fn
from sdhealth.ir.names import canonical
from sdhealth.ir.vensim import NameOf, _Printer

__all__ = ["XmilePrinter", "expr_to_xmile", "xmile_name"]

_LOGIC, _NOT, _COMPARE, _ADD, _MUL, _POW, _ATOM = range(1, 8)

_PLAIN = re.compile(r"[^\W\d]\w*", re.UNICODE)

_CLOCK: dict[sympy.Symbol, str] = {
    fn.TIME: "TIME",
    fn.TIME_STEP: "DT",
    fn.INITIAL_TIME: "STARTTIME",
    fn.FINAL_TIME: "STOPTIME",
}

#: IR builtins XMILE spells with the same arguments in the same order.
_SAME_ARGUMENTS: dict[type, str] = {
    fn.STEP: "STEP",
    fn.RAMP: "RAMP",
    fn.ZIDZ: "SAFEDIV",
    fn.XIDZ: "SAFEDIV",
    fn.INITIAL: "INIT",
    fn.DELAY1: "DELAY1",
    fn.DELAY1I: "DELAY1",
    fn.DELAY3: "DELAY3",
    fn.DELAY3I: "DELAY3",
    fn.DELAY_FIXED: "DELAY",
    fn.SMOOTH: "SMTH1",
    fn.SMOOTHI: "SMTH1",
    fn.SMOOTH3: "SMTH3",
    fn.SMOOTH3I: "SMTH3",
    fn.TREND: "TREND",
    fn.FORECAST: "FORCST",
}

#: IR builtins ``f(x, t, initial, n)`` that XMILE writes ``F(x, t, n, initial)``.
_ORDER_LAST: dict[type, str] = {fn.DELAY_N: "DELAYN", fn.SMOOTH_N: "SMTHN"}

#: Vensim's array functions (``VENSIM_CALL``) by their XMILE names.
_REDUCERS = {"SUM": "SUM", "PROD": "PROD", "VMIN": "MIN", "VMAX": "MAX", "VMIN XMILE": "MIN",
             "VMAX XMILE": "MAX"}  # fmt: skip

#: XMILE's builtins (and its readers' names for them): a Vensim function of the same name means
#: something else, so it is never written under it.
_XMILE_BUILTINS = frozenset(
    {"pulse", "int", "ramp", "delay", "delay1", "delay3", "delayn", "smth1", "smth3", "smthn",
     "trend", "forcst", "safediv", "init", "min", "max", "mod", "previous", "history", "self",
     "size", "stddev", "mean", "rank", "lookup", "normal", "random", "poisson", "exprnd",
     "lognormal", "if_then_else", "step", "sum", "prod", "dt", "time", "starttime", "stoptime"}
)  # fmt: skip

#: Vensim's threshold below which ``PULSE``'s start counts as reached (PySD and the native
#: backend use the same).
_PULSE_SLACK = sympy.Float(1e-6)


#: Words XMILE's equations reserve: a variable with such a name is written in quotes.
_RESERVED = frozenset({"if", "then", "else", "and", "or", "not", "mod", "time", "dt", "pi",
                       "inf", "self", "starttime", "stoptime", "nan"})  # fmt: skip


def xmile_name(name: str) -> str:
    """A name as XMILE equation text: spaces as underscores, or in double quotes.

    >>> xmile_name("Waiting list"), xmile_name("A&E waits"), xmile_name("4 hour target")
    ('Waiting_list', '"A&E waits"', '"4 hour target"')
    """
    plain = "_".join(name.split())
    if _PLAIN.fullmatch(plain) and plain.lower() not in _RESERVED:
        return plain
    return '"' + re.sub(r'(?<!\\)"', r'\\"', name) + '"'  # ``\"`` in a name is kept


class XmilePrinter(_Printer):
    """Turns one IR expression into XMILE text (see the module docstring)."""

    language = "XMILE"

    def symbol(self, expr: sympy.Symbol) -> tuple[str, int]:
        if expr in _CLOCK:
            return _CLOCK[expr], _ATOM
        if expr is fn.SAVEPER:
            raise ValueError("XMILE has no name for SAVEPER")
        return xmile_name(self.name_of(expr.name)), _ATOM

    def number(self, expr: sympy.Number) -> tuple[str, int]:
        if expr is sympy.nan:
            raise ValueError("XMILE has no literal for a missing value (:NA:)")
        return super().number(expr)

    def and_or(self, expr: sympy.And | sympy.Or) -> tuple[str, int]:
        operator = " AND " if isinstance(expr, sympy.And) else " OR "
        return operator.join(self.wrap(a, _NOT) for a in expr.args), _LOGIC

    def not_(self, expr: sympy.Not) -> tuple[str, int]:
        return f"NOT ({self.text(expr.args[0])})", _ATOM

    def piecewise(self, expr: sympy.Piecewise) -> tuple[str, int]:
        floored = _floor_of(expr)
        if floored is not None:
            return self.call("INT", [floored])
        pieces = list(expr.args)
        value, condition = pieces.pop()
        if condition is not sympy.true:
            raise ValueError("XMILE has no literal for a missing value (an IF without ELSE)")
        text = self.text(value)
        for value, condition in reversed(pieces):
            text = f"IF {self.text(condition)} THEN {self.text(value)} ELSE {text}"
        return text, 0  # bracketed wherever it is an operand

    def string(self, expr: sympy.Basic) -> tuple[str, int]:
        raise ValueError(f"XMILE has no text literals ({expr})")

    #: Set by the model's writer: each variable's dimensions, each range's elements (keys).
    dims_of: Mapping[str, tuple[str, ...]] = {}
    #: How many array reducers the printer is inside (``*`` is allowed only there).
    reducing = 0
    elements_of: Mapping[str, tuple[str, ...]] = {}

    def subscripted(self, expr: fn.SUBSCRIPT) -> tuple[str, int]:
        """``x[north, *]``: an element, ``*`` for Vensim's ``x[Region!]`` (the whole of the
        variable's dimension there), or the dimension's own name."""
        table, *subscripts = expr.args
        dims = self.dims_of.get(table.name, ())
        texts = [self.subscript(s.name, dims[i] if i < len(dims) else None)
                 for i, s in enumerate(subscripts)]  # fmt: skip
        return f"{xmile_name(self.name_of(table.name))}[{', '.join(texts)}]", _ATOM

    def subscript(self, written: str, dim: str | None) -> str:
        name = written.removesuffix("!")
        key = canonical(name)
        if key not in self.elements_of:  # an element
            return xmile_name(name)
        if dim is not None and key == canonical(dim):
            if not written.endswith("!"):
                return xmile_name(name)
            if self.reducing:
                return "*"
            raise ValueError(f"XMILE has no {written} outside SUM, PROD, MIN and MAX")
        raise ValueError(
            f"XMILE names a variable's dimension only as itself ({name} where the variable has "
            f"{dim}): Vensim's subranges and ranges standing for others have no XMILE spelling"
        )

    def builtin(self, expr: fn.SDFunction) -> tuple[str, int]:
        kind = type(expr)
        if isinstance(expr, fn.SUBSCRIPT):
            return self.subscripted(expr)
        if kind in _SAME_ARGUMENTS:
            return self.call(_SAME_ARGUMENTS[kind], expr.args)
        if kind in _ORDER_LAST:
            x, time, initial, order = expr.args
            return self.call(_ORDER_LAST[kind], (x, time, order, initial))
        if isinstance(expr, fn.LOOKUP):
            table, x = expr.args
            return f"{self.text(table)}({self.text(x)})", _ATOM
        if isinstance(expr, fn.INTEGER):
            return self._integer(expr.args[0])
        if isinstance(expr, fn.FLOOR):
            return self.call("INT", expr.args)
        if isinstance(expr, fn.RandomDraw):  # RANDOM(min, max[, seed]), NORMAL(...), ...
            *parameters, seed, _ = expr.args
            written = parameters if seed == -1 else (*parameters, seed)
            return self.call(expr.stella, written)
        if isinstance(expr, fn.PULSE):
            return self._pulse(*expr.args)
        if isinstance(expr, fn.VENSIM_CALL) and expr.args[0].name in _REDUCERS:
            self.reducing += 1
            try:
                return self.call(_REDUCERS[expr.args[0].name], expr.args[1:])
            finally:
                self.reducing -= 1
        if isinstance(expr, fn.VENSIM_CALL):
            name, args = expr.args[0].name, expr.args[1:]
        else:
            name, args = expr.vensim, expr.args
        spelled = "_".join(str(name).split()).upper()
        if not name:  # a range standing for its element's number, ``IF THEN ELSE(Dim = 2...``
            raise ValueError("XMILE has no element numbers of a subscript range")
        if spelled.lower() in _XMILE_BUILTINS or any(isinstance(a, Str) for a in args):
            raise ValueError(f"XMILE has no function for Vensim's {name or type(expr).__name__}")
        return self.call(spelled, args)

    def _integer(self, x: sympy.Basic) -> tuple[str, int]:
        value = self.wrap(x, _ATOM)
        text = f"IF {self.wrap(x, _ADD)} < 0 THEN -INT(-{value}) ELSE INT({self.text(x)})"
        return text, 0

    def _pulse(self, start: sympy.Basic, width: sympy.Basic) -> tuple[str, int]:
        begin = self.wrap(start - _PULSE_SLACK, _ADD)
        if width.is_Number:
            span = self.text(fn.TIME_STEP if width == 0 else width)
        else:
            span = f"(IF {self.wrap(width, _ADD)} = 0 THEN DT ELSE {self.text(width)})"
        end = f"{self.wrap(start, _ADD)} + {span}"
        return f"IF TIME >= {begin} AND TIME < {end} THEN 1 ELSE 0", 0


def _floor_of(expr: sympy.Piecewise) -> sympy.Basic | None:
    """``x`` if ``expr`` is Vensim's spelling of ``FLOOR(x)`` (:func:`fn.floor_of`)."""
    if len(expr.args) != 2 or expr.args[1][1] is not sympy.true:
        return None
    (below, condition), (whole, _) = expr.args
    floor = fn.floor_of(condition, below, whole)
    return None if floor is None else floor.args[0]


def expr_to_xmile(
    expr: sympy.Basic, name_of: NameOf, *, extrapolating: Collection[str] = ()
) -> str:
    """XMILE text of an IR expression (``name_of`` maps a variable key to its name).

    >>> x, y = sympy.Symbol("x"), sympy.Symbol("a&b")
    >>> expr_to_xmile(sympy.Piecewise((x, x > 1), (-x**2 / y, True)), str)
    'IF x > 1 THEN x ELSE -(x^2)/"a&b"'
    >>> expr_to_xmile(2 * sympy.Piecewise((1, sympy.Not((x > 1) & (y < 0))), (0, True)), str)
    '2*(IF NOT (x > 1 AND "a&b" < 0) THEN 1 ELSE 0)'
    """
    return XmilePrinter(name_of, frozenset(extrapolating)).render(expr)
