"""PySD's abstract syntax trees -> sympy: the expressions half of :mod:`sdhealth.io.abstract`.

:class:`Converter` turns one equation's tree (``pysd.translators.structures.abstract_expressions``)
into a sympy expression by the IR conventions listed in :mod:`sdhealth.io.abstract`: references
are ``Symbol(canonical(name))`` (subscripted ones ``SUBSCRIPT(...)``), ``IF THEN ELSE`` is
``Piecewise``, logic is sympy logic, builtins are the classes of :mod:`sdhealth.ir.functions`
and Vensim functions without one are kept by name (``VENSIM_CALL``). A construct the IR cannot
hold raises :class:`Unsupported`, which the model reader turns into a ``ModelError`` naming the
variable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import sympy
from sympy.core.relational import Relational
from sympy.core.symbol import Str
from sympy.logic.boolalg import BooleanAtom, BooleanFunction

from sdhealth.io import syntax as syn
from sdhealth.ir import functions as fn


class Macros(Protocol):
    """What a :class:`Converter` needs of the model's macros: their sections by reference
    key, and inlining a call (``sdhealth.io.abstract`` provides it; this module does not
    import it, so the two modules import one way)."""

    sections: Mapping[str, Any]

    def inline(self, outer: Converter, name: str, arguments: Sequence[sympy.Expr]) -> sympy.Basic:
        """The expression standing for the call ``name(*arguments)`` met by ``outer``."""
        ...


__all__ = [
    "TIME_REFERENCES",
    "Converter",
    "Unsupported",
    "lookup_points",
    "number",
    "draw_call",
    "reference_key",
    "without_module_quotes",
]

TIME_REFERENCES = {
    "time": fn.TIME,
    "time_step": fn.TIME_STEP,
    "initial_time": fn.INITIAL_TIME,
    "final_time": fn.FINAL_TIME,
    "saveper": fn.SAVEPER,
}
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "=": sympy.Eq,
    "<>": sympy.Ne,
    "<": sympy.Lt,
    "<=": sympy.Le,
    ">": sympy.Gt,
    ">=": sympy.Ge,
}


def reference_key(name: str) -> str:
    """How PySD's abstract syntax trees spell a reference to ``name`` (lower, ``_`` for space).

    >>> reference_key('"Teacup  Temperature"'), reference_key("room_temperature")
    ('teacup_temperature', 'room_temperature')
    >>> reference_key('a."module/output"')
    'a.module/output'
    """
    name = without_module_quotes(name.strip())
    return re.sub(r"[\s_]+", "_", name.strip('"').strip().lower())


def without_module_quotes(name: str) -> str:
    """Stella's ``a."module/output"`` (a module variable's name quoted after the module's) as
    ``a.module/output``; any other name as it is."""
    return _QUOTED_IN_MODULE.sub(r"\1", name)


#: A module variable's quoted name after its module's: ``a."module/output"``.
_QUOTED_IN_MODULE = re.compile(r'(?<=\.)"(.*)"$')


class Unsupported(Exception):
    """A construct the IR cannot hold (becomes a ModelError naming the variable)."""


def number(value: Any) -> sympy.Expr:
    if isinstance(value, (bool, np.bool_)):
        return sympy.Integer(int(value))
    if isinstance(value, (int, np.integer)):
        return sympy.Integer(int(value))
    return sympy.Float(float(value))


def _is_boolean(value: sympy.Basic) -> bool:
    return isinstance(value, (Relational, BooleanFunction, BooleanAtom))


def _as_number(value: sympy.Basic) -> sympy.Expr:
    """A boolean used in arithmetic: ``Piecewise((1, cond), (0, True))``."""
    if value is sympy.true:
        return sympy.Integer(1)
    if value is sympy.false:
        return sympy.Integer(0)
    if _is_boolean(value):
        return sympy.Piecewise((sympy.Integer(1), value), (sympy.Integer(0), True))
    return value  # type: ignore[return-value]


def _as_condition(value: sympy.Basic) -> sympy.Basic:
    return value if _is_boolean(value) else sympy.Ne(value, 0)


def lookup_points(lookup: syn.LookupsStructure) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(float(x) for x in lookup.x), tuple(float(y) for y in lookup.y)


@dataclass
class Converter:
    """Converts the syntax trees of one model, knowing its variables and lookups."""

    keys: Mapping[str, str]  # reference key -> variable key
    lookups: frozenset[str]  # variable keys of lookups
    folder: Path
    ranges: Mapping[str, str] = field(default_factory=dict)  # reference key -> range name
    macros: Macros | None = None
    bindings: Mapping[str, sympy.Basic] = field(default_factory=dict)  # macro parameters
    clock_names: Mapping[str, str] = field(default_factory=dict)  # "dt" -> "time_step"

    def __call__(self, node: Any) -> sympy.Basic:
        if isinstance(node, (int, float, np.number, bool, np.bool_)):
            return number(node)
        if isinstance(node, str):
            return Str(node)
        method = _EXPRESSIONS.get(type(node))
        if method is None:
            raise Unsupported(f"{type(node).__name__.replace('Structure', '')}")
        return method(self, node)

    def number(self, node: Any) -> sympy.Expr:
        return _as_number(self(node))

    def symbol_of(self, reference: str) -> sympy.Symbol:
        key = self.keys.get(reference_key(reference))
        if key is None:
            raise Unsupported(f"a reference to unknown name {reference!r}")
        return sympy.Symbol(key)

    def reference(self, node: syn.ReferenceStructure) -> sympy.Basic:
        name = reference_key(node.reference)
        if name in self.bindings:
            return self.bindings[name]
        if name in self.clock_names and name not in self.keys:
            name = self.clock_names[name]
        if name in TIME_REFERENCES and name not in self.keys:
            return TIME_REFERENCES[name]
        if name not in self.keys and name in self.ranges:  # a range's or element's number
            return fn.VENSIM_CALL(Str(""), Str(self.ranges[name]))
        target = self.symbol_of(node.reference)
        if node.subscripts is None or not node.subscripts.subscripts:
            return target
        return fn.SUBSCRIPT(target, *(Str(s) for s in node.subscripts.subscripts))

    def arithmetic(self, node: syn.ArithmeticStructure) -> sympy.Basic:
        arguments = [self.number(a) for a in node.arguments]
        if node.operators == ["negative"]:
            return -arguments[0]
        if set(node.operators) == {"^"}:
            return _power_chain(node.arguments, arguments)
        # A sum is one n-ary Add: folding ``a + b + c ...`` pairwise re-sorted the sum at every
        # term (8,000 terms took 12 s). Same canonical result. Products stay pairwise: sympy's
        # two-factor Mul distributes a number over a sum (0.1*(s + 1) is 0.1*s + 0.1), an
        # n-ary one does not, and the IR keeps the form it always had.
        if set(node.operators) <= {"+", "-"}:
            pairs = zip(node.operators, arguments[1:], strict=True)
            signed = (a if op == "+" else -a for op, a in pairs)
            return sympy.Add(arguments[0], *signed)
        result = arguments[0]
        for operator, argument in zip(node.operators, arguments[1:], strict=True):
            result = _ARITHMETIC[operator](result, argument)
        return result

    def logic(self, node: syn.LogicStructure) -> sympy.Basic:
        operators = [op.strip().upper() for op in node.operators]
        if operators == [":NOT:"]:
            return sympy.Not(_as_condition(self(node.arguments[0])))
        arguments = [self(a) for a in node.arguments]
        if operators[0] in (":AND:", ":OR:"):
            result = _as_condition(arguments[0])
            for operator, argument in zip(operators, arguments[1:], strict=True):
                join = sympy.And if operator == ":AND:" else sympy.Or
                result = join(result, _as_condition(argument))
            return result
        if len(operators) != 1:
            raise Unsupported("a chain of comparisons")
        left, right = (_as_number(a) for a in arguments)
        compare = _COMPARISONS[operators[0]]
        try:
            return compare(left, right)
        except TypeError:  # sympy will not order what it takes for non-real (INTEGER(x[a]*y[a]))
            return compare(left, right, evaluate=False)

    def call(self, node: syn.CallStructure) -> sympy.Basic:
        name = reference_key(node.function.reference)
        arguments = tuple(node.arguments)
        if name in self.keys and self.keys[name] in self.lookups:
            table = self.reference(node.function)
            if len(arguments) != 1:
                raise Unsupported(f"a call of lookup {node.function.reference!r} with arguments")
            return fn.LOOKUP(table, self.number(arguments[0]))
        if self.macros is not None and name in self.macros.sections:
            return self.macros.inline(self, name, [self.number(a) for a in arguments])
        builder = _CALLS.get(name)
        if builder is not None:
            return builder(self, arguments)
        spaced = name.replace("_", " ")
        if spaced in fn.MATH_FUNCTIONS:
            function, arities = fn.MATH_FUNCTIONS[spaced]
            if len(arguments) in arities:
                return function(*(self.number(a) for a in arguments))  # type: ignore[operator]
        if spaced in fn.BUILTIN_FUNCTIONS:
            cls = fn.BUILTIN_FUNCTIONS[spaced]
            return cls(*(self.number(a) for a in arguments))
        return self.vensim_call(spaced.upper(), arguments)

    def vensim_call(self, name: str, arguments: Sequence[Any]) -> sympy.Basic:
        return fn.VENSIM_CALL(Str(name), *(self.number(a) for a in arguments))

    def if_then_else(self, arguments: Sequence[Any]) -> sympy.Basic:
        condition, then, otherwise = arguments
        value, other = self.number(then), self.number(otherwise)
        test = _as_condition(self(condition))
        floor = fn.floor_of(test, value, other)  # how Vensim text spells XMILE's INT
        return floor if floor is not None else sympy.Piecewise((value, test), (other, True))

    def min_max(self, cls: type, arguments: Sequence[Any]) -> sympy.Basic:
        if len(arguments) == 1:  # Vensim's one-argument MIN/MAX reduce over an array
            return self.vensim_call("VMIN" if cls is sympy.Min else "VMAX", arguments)
        return cls(*(self.number(a) for a in arguments))

    def initial(self, node: syn.InitialStructure) -> sympy.Basic:
        return fn.INITIAL(self.number(node.initial))

    def integ(self, node: syn.IntegStructure) -> sympy.Basic:
        raise Unsupported("INTEG inside an expression")

    def delay(self, node: syn.DelayStructure) -> sympy.Basic:
        x, time, initial = (self.number(a) for a in (node.input, node.delay_time, node.initial))
        order = int(node.order)
        if order not in (1, 3):
            return fn.DELAY_N(x, time, initial, order)
        if initial == x:
            return (fn.DELAY1 if order == 1 else fn.DELAY3)(x, time)
        return (fn.DELAY1I if order == 1 else fn.DELAY3I)(x, time, initial)

    def delay_n(self, node: syn.DelayNStructure) -> sympy.Basic:
        parts = (node.input, node.delay_time, node.initial, node.order)
        return fn.DELAY_N(*(self.number(a) for a in parts))

    def delay_fixed(self, node: syn.DelayFixedStructure) -> sympy.Basic:
        parts = (node.input, node.delay_time, node.initial)
        return fn.DELAY_FIXED(*(self.number(a) for a in parts))

    def smooth(self, node: syn.SmoothStructure) -> sympy.Basic:
        x, time, initial = (self.number(a) for a in (node.input, node.smooth_time, node.initial))
        order = int(node.order)
        if order not in (1, 3):
            return fn.SMOOTH_N(x, time, initial, order)
        if initial == x:
            return (fn.SMOOTH if order == 1 else fn.SMOOTH3)(x, time)
        return (fn.SMOOTHI if order == 1 else fn.SMOOTH3I)(x, time, initial)

    def smooth_n(self, node: syn.SmoothNStructure) -> sympy.Basic:
        parts = (node.input, node.smooth_time, node.initial, node.order)
        return fn.SMOOTH_N(*(self.number(a) for a in parts))

    def trend(self, node: syn.TrendStructure) -> sympy.Basic:
        parts = (node.input, node.average_time, node.initial_trend)
        return fn.TREND(*(self.number(a) for a in parts))

    def forecast(self, node: syn.ForecastStructure) -> sympy.Basic:
        if self.number(node.initial_trend) != 0:
            raise Unsupported("FORECAST with an initial trend")
        parts = (node.input, node.average_time, node.horizon)
        return fn.FORECAST(*(self.number(a) for a in parts))

    def sample_if_true(self, node: syn.SampleIfTrueStructure) -> sympy.Basic:
        condition = _as_number(self(node.condition))
        return fn.VENSIM_CALL(
            Str("SAMPLE IF TRUE"), condition, self.number(node.input), self.number(node.initial)
        )

    def inline_lookup(self, node: syn.InlineLookupsStructure) -> sympy.Basic:
        xs, ys = lookup_points(node.lookups)
        return fn.WITH_LOOKUP(self.number(node.argument), sympy.Tuple(*xs), sympy.Tuple(*ys))

    def game(self, node: syn.GameStructure) -> sympy.Basic:
        return self.vensim_call("GAME", [node.expression])

    def allocate_available(self, node: syn.AllocateAvailableStructure) -> sympy.Basic:
        return self.vensim_call("ALLOCATE AVAILABLE", [node.request, node.pp, node.avail])

    def allocate_by_priority(self, node: syn.AllocateByPriorityStructure) -> sympy.Basic:
        parts = [node.request, node.priority, node.size, node.width, node.supply]
        return self.vensim_call("ALLOCATE BY PRIORITY", parts)

    def external_file(self, file: str) -> Str:
        """A data file's absolute path (the printed model may live in another folder)."""
        if file.startswith("?"):
            raise Unsupported("GET ... with an indirect file name")
        return Str(str((self.folder / file).resolve()))

    def get_constants(self, node: syn.GetConstantsStructure) -> sympy.Basic:
        path = self.external_file(node.file)
        return fn.VENSIM_CALL(Str("GET DIRECT CONSTANTS"), path, Str(node.tab), Str(node.cell))

    def get_data(self, node: syn.GetDataStructure) -> sympy.Basic:
        path = self.external_file(node.file)
        parts = (node.tab, node.time_row_or_col, node.cell)
        return fn.VENSIM_CALL(Str("GET DIRECT DATA"), path, *(Str(p) for p in parts))

    def get_lookups(self, node: syn.GetLookupsStructure) -> sympy.Basic:
        path = self.external_file(node.file)
        parts = (node.tab, node.x_row_or_col, node.cell)
        return fn.VENSIM_CALL(Str("GET DIRECT LOOKUPS"), path, *(Str(p) for p in parts))


def _power_chain(raw: Sequence[Any], arguments: Sequence[sympy.Expr]) -> sympy.Expr:
    """``a ^ b ^ c`` as Vensim reads it: ``a ^ (b ^ c)``, and ``-2 ^ 2`` is ``-(2 ^ 2)``.

    PySD's parser folds a leading minus into a number literal, so a negative literal base
    is the minus applied to the power, as in Vensim (and in the Python PySD generates).

    >>> _power_chain([-2, 2], [sympy.Integer(-2), sympy.Integer(2)])
    -4
    """
    result = arguments[-1]
    for literal, base in zip(reversed(raw[:-1]), reversed(arguments[:-1]), strict=True):
        negative_literal = isinstance(literal, (int, float, np.number)) and literal < 0
        result = -sympy.Pow(-base, result) if negative_literal else sympy.Pow(base, result)
    return result


def _divide(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    return a / b


_ARITHMETIC: dict[str, Callable[[sympy.Expr, sympy.Expr], sympy.Expr]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "^": lambda a, b: sympy.Pow(a, b),
}

_EXPRESSIONS: dict[type, Callable[[Converter, Any], sympy.Basic]] = {
    syn.ReferenceStructure: Converter.reference,
    syn.ArithmeticStructure: Converter.arithmetic,
    syn.LogicStructure: Converter.logic,
    syn.CallStructure: Converter.call,
    syn.InitialStructure: Converter.initial,
    syn.IntegStructure: Converter.integ,
    syn.DelayStructure: Converter.delay,
    syn.DelayNStructure: Converter.delay_n,
    syn.DelayFixedStructure: Converter.delay_fixed,
    syn.SmoothStructure: Converter.smooth,
    syn.SmoothNStructure: Converter.smooth_n,
    syn.TrendStructure: Converter.trend,
    syn.ForecastStructure: Converter.forecast,
    syn.SampleIfTrueStructure: Converter.sample_if_true,
    syn.InlineLookupsStructure: Converter.inline_lookup,
    syn.GameStructure: Converter.game,
    syn.AllocateAvailableStructure: Converter.allocate_available,
    syn.AllocateByPriorityStructure: Converter.allocate_by_priority,
    syn.GetConstantsStructure: Converter.get_constants,
    syn.GetDataStructure: Converter.get_data,
    syn.GetLookupsStructure: Converter.get_lookups,
}

_CALLS: dict[str, Callable[[Converter, Sequence[Any]], sympy.Basic]] = {
    "if_then_else": Converter.if_then_else,
    "min": lambda c, args: c.min_max(sympy.Min, args),
    "max": lambda c, args: c.min_max(sympy.Max, args),
    "pi": lambda c, args: sympy.pi,
    "floor": lambda c, args: fn.FLOOR(c.number(args[0])),  # XMILE's INT (io/xmile_parser)
    # PySD stores PULSE TRAIN(start, width, interval, end) as (start, interval, width, end)
    "pulse_train": lambda c, args: fn.PULSE_TRAIN(*(c.number(args[i]) for i in (0, 2, 1, 3))),
}


def draw_call(name: str) -> str:
    """The name of the call the XMILE reader writes for Stella's draw ``name`` (``random``)."""
    return f"sdhealth_{name}_draw"


def _draw(kind: type[fn.RandomDraw]) -> Callable[[Converter, Sequence[Any]], sympy.Basic]:
    return lambda c, args: kind(*map(c.number, args))


# Stella's random numbers (io/xmile_parser numbers each call: seed -1 for none, occurrence)
_CALLS.update({draw_call(name): _draw(kind) for name, kind in fn.STELLA_DRAWS.items()})
