"""The one printer from IR expressions to LLVM IR: every equation becomes straight-line SSA code.

:class:`ExpressionPrinter` turns a sympy expression of the IR (after
:func:`~sdhealth.compile.expand.expand_stateful`) into LLVM instructions appended to one basic
block and returns the operand that holds its value. Every node is printed once per function
(a node seen again reuses its register), so shared sub-expressions cost nothing twice.

Vensim's quirks are one small method each, written to give PySD's results bit for bit where
PySD's own arithmetic allows (``pysd.py_backend.functions``):

- ``STEP(h, t0)``: ``h`` when ``TIME + TIME STEP/2 > t0`` (half-step rule), else 0.
- ``PULSE(s, w)``: 1 when ``s - 1e-6 <= TIME < s + w``; a zero width is one ``TIME STEP``.
- ``PULSE TRAIN(s, w, r, e)``: 1 when ``s <= TIME < e`` and ``(TIME - s + 1e-6) mod r < w``.
- ``RAMP(k, s, e)``: ``k*(MIN(e, TIME) - s)`` once ``TIME + 1e-6 > s``, else 0.
- ``ZIDZ``/``XIDZ``: the alternative where ``|b| < 1e-6``; ``INTEGER`` truncates;
  ``QUANTUM(x, q)`` is ``x`` for ``q < 1e-6``; ``MODULO(x, m) = x - QUANTUM(x, m)``.
- Lookups: linear interpolation; outside the x-range the end values are held, or the end
  segments extended for :attr:`~sdhealth.ir.Extrapolation.LINEAR`.

User text never reaches this module: it reads sympy trees only, and only the node types listed
in its dispatch table; anything else is a :class:`~sdhealth.errors.BackendError`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sympy
from sympy.core.relational import Relational
from sympy.logic.boolalg import ITE, BooleanFalse, BooleanTrue

from sdhealth.errors import BackendError, UnsupportedByBackend
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Extrapolation

__all__ = [
    "ExpressionPrinter",
    "LookupTable",
    "double",
    "global_name",
    "SMALL_VENSIM",
    "INTRINSICS",
]

#: What Vensim considers zero (ZIDZ, XIDZ, QUANTUM, PULSE and RAMP edges).
SMALL_VENSIM = 1e-6

#: Functions the generated code calls -> their LLVM declarations.
INTRINSICS: dict[str, str] = {
    name: f"declare double @{name}(double{', double' * (arity - 1)})"
    for name, arity in {
        "llvm.exp.f64": 1,
        "llvm.log.f64": 1,
        "llvm.sin.f64": 1,
        "llvm.cos.f64": 1,
        "llvm.sqrt.f64": 1,
        "llvm.fabs.f64": 1,
        "llvm.trunc.f64": 1,
        "llvm.floor.f64": 1,
        "llvm.round.f64": 1,
        "llvm.pow.f64": 2,
        "tan": 1,
        "asin": 1,
        "acos": 1,
        "atan": 1,
        "sinh": 1,
        "cosh": 1,
        "tanh": 1,
    }.items()
}

_UNARY: dict[type, str] = {
    sympy.exp: "llvm.exp.f64",
    sympy.log: "llvm.log.f64",
    sympy.sin: "llvm.sin.f64",
    sympy.cos: "llvm.cos.f64",
    sympy.tan: "tan",
    sympy.asin: "asin",
    sympy.acos: "acos",
    sympy.atan: "atan",
    sympy.Abs: "llvm.fabs.f64",
    fn.INTEGER: "llvm.trunc.f64",
    fn.FLOOR: "llvm.floor.f64",
}

_COMPARISONS: dict[str, str] = {
    "<": "olt",
    "<=": "ole",
    ">": "ogt",
    ">=": "oge",
    "==": "oeq",
    "!=": "une",
}


def double(value: float) -> str:
    """An exact LLVM literal for a double.

    >>> double(0.5)
    '0x3FE0000000000000'
    """
    return f"0x{struct.unpack('<Q', struct.pack('<d', float(value)))[0]:016X}"


@dataclass(frozen=True)
class LookupTable:
    """A table the generated module holds as two global constant arrays."""

    symbol: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    extrapolation: Extrapolation = Extrapolation.HOLD


class ExpressionPrinter:
    """Prints expressions into one function body (see the module docstring).

    Parameters
    ----------
    resolve
        Variable key -> operand holding its value (loads it on first use).
    tables
        Lookup key -> table; ``WITH LOOKUP`` tables are added to it as they are met.
    stateful
        Prints an ``INITIAL`` or ``DELAY FIXED`` call (differs between initialisation and run).
    """

    def __init__(
        self,
        resolve: Callable[[str], str],
        tables: dict[str, LookupTable],
        stateful: Callable[[ExpressionPrinter, sympy.Basic], str],
    ) -> None:
        self.lines: list[str] = []
        self._resolve = resolve
        self._tables = tables
        self._stateful = stateful
        self._count = 0
        self._done: dict[sympy.Basic, str] = {}
        #: The key of the variable being printed, and whether the model draws random numbers
        #: (then an expression holding a draw is not shared between variables: each variable,
        #: and each element of an array, draws its own numbers).
        self.current = ""
        self.draws = False

    # ------------------------------------------------------------------ instructions

    def emit(self, instruction: str) -> str:
        """Append ``%tN = instruction`` and return ``%tN``."""
        self._count += 1
        register = f"%t{self._count}"
        self.lines.append(f"  {register} = {instruction}")
        return register

    def op(self, name: str, a: str, b: str) -> str:
        return self.emit(f"{name} double {a}, {b}")

    def call(self, function: str, *args: str) -> str:
        return self.emit(f"call double @{function}({', '.join(f'double {a}' for a in args)})")

    def select(self, condition: str, a: str, b: str) -> str:
        return self.emit(f"select i1 {condition}, double {a}, double {b}")

    def compare(self, how: str, a: str, b: str) -> str:
        return self.emit(f"fcmp {how} double {a}, {b}")

    def load(self, array: str, index: int) -> str:
        pointer = self.emit(f"getelementptr double, double* %{array}, i64 {index}")
        return self.emit(f"load double, double* {pointer}")

    def store(self, array: str, index: int, value: str) -> None:
        pointer = self.emit(f"getelementptr double, double* %{array}, i64 {index}")
        self.lines.append(f"  store double {value}, double* {pointer}")

    # ------------------------------------------------------------------ expressions

    def value(self, expr: sympy.Basic) -> str:
        """The operand holding ``expr`` as a double."""
        if isinstance(
            expr, (Relational, sympy.And, sympy.Or, sympy.Not, ITE, BooleanTrue, BooleanFalse)
        ):
            return self.emit(f"uitofp i1 {self.condition(expr)} to double")
        if expr.is_Number or isinstance(expr, sympy.NumberSymbol):
            return double(float(expr))
        memo = (expr, self.current) if self.draws and expr.has(fn.RandomDraw) else expr
        if memo in self._done:
            return self._done[memo]
        printer = _PRINTERS.get(type(expr))
        if printer is None:
            printer = next((p for kind, p in _PRINTERS.items() if isinstance(expr, kind)), None)
        if printer is None:
            raise UnsupportedByBackend(f"the native backend cannot compile {expr}")
        result = printer(self, expr)
        self._done[memo] = result
        return result

    def condition(self, expr: sympy.Basic) -> str:
        """The ``i1`` operand holding a boolean ``expr``."""
        if isinstance(expr, BooleanTrue):
            return "true"
        if isinstance(expr, BooleanFalse):
            return "false"
        if isinstance(expr, Relational):
            how = _COMPARISONS[expr.rel_op]
            return self.compare(how, self.value(expr.lhs), self.value(expr.rhs))
        if isinstance(expr, (sympy.And, sympy.Or)):
            word = "and" if isinstance(expr, sympy.And) else "or"
            parts = [self.condition(arg) for arg in expr.args]
            result = parts[0]
            for part in parts[1:]:
                result = self.emit(f"{word} i1 {result}, {part}")
            return result
        if isinstance(expr, sympy.Not):
            return self.emit(f"xor i1 {self.condition(expr.args[0])}, true")
        if isinstance(expr, ITE):  # sympy's own if-then-else of conditions (from Eq(Piecewise))
            test, then, otherwise = (self.condition(arg) for arg in expr.args)
            return self.emit(f"select i1 {test}, i1 {then}, i1 {otherwise}")
        return self.compare("une", self.value(expr), double(0.0))  # a number as a condition

    def symbol(self, expr: sympy.Symbol) -> str:
        return self._resolve(expr.name)

    def table(self, key: str) -> LookupTable:
        try:
            return self._tables[key]
        except KeyError:
            raise BackendError(f"{key!r} is called as a lookup but is not one") from None

    def new_table(self, xs: sympy.Tuple, ys: sympy.Tuple) -> LookupTable:
        key = f"@with lookup {len(self._tables)}"
        table = LookupTable(key, tuple(map(float, xs)), tuple(map(float, ys)))
        self._tables[key] = table
        return table


# ---------------------------------------------------------------------- node printers


def _add(p: ExpressionPrinter, expr: sympy.Add) -> str:
    plus, minus = [], []
    for term in expr.args:
        coefficient, rest = term.as_coeff_Mul()
        if coefficient.is_negative:
            minus.append(p.value(-coefficient * rest if coefficient != -1 else rest))
        else:
            plus.append(p.value(term))
    result = plus[0] if plus else p.emit(f"fneg double {minus.pop(0)}")
    for operand in plus[1:]:
        result = p.op("fadd", result, operand)
    for operand in minus:
        result = p.op("fsub", result, operand)
    return result


def _product(p: ExpressionPrinter, factors: list[sympy.Basic]) -> str | None:
    result = None
    for factor in factors:
        operand = p.value(factor)
        result = operand if result is None else p.op("fmul", result, operand)
    return result


def _mul(p: ExpressionPrinter, expr: sympy.Mul) -> str:
    numerator, denominator = [], []
    negate = False
    for factor in expr.args:
        if factor == -1:
            negate = not negate
        elif isinstance(factor, sympy.Pow) and factor.exp.is_Integer and factor.exp < 0:
            denominator.append(factor.base ** (-factor.exp))
        elif isinstance(factor, sympy.Rational) and not factor.is_Integer:
            # ``x/100`` divides by 100 (as PySD does): multiplying by 0.01 rounds differently
            negate ^= bool(factor < 0)
            if abs(factor.p) != 1:
                numerator.append(sympy.Integer(abs(factor.p)))
            denominator.append(sympy.Integer(factor.q))
        else:
            numerator.append(factor)
    result = _product(p, numerator) or double(1.0)
    below = _product(p, denominator)
    if below is not None:
        result = p.op("fdiv", result, below)
    return p.emit(f"fneg double {result}") if negate else result


def _pow(p: ExpressionPrinter, expr: sympy.Pow) -> str:
    base, exponent = expr.args
    if exponent == 2:
        operand = p.value(base)
        return p.op("fmul", operand, operand)
    if exponent == sympy.S.Half:
        return p.call("llvm.sqrt.f64", p.value(base))
    if exponent.is_Integer and exponent < 0:
        return p.op("fdiv", double(1.0), p.value(base ** (-exponent)))
    return p.call("llvm.pow.f64", p.value(base), p.value(exponent))


def _unary(p: ExpressionPrinter, expr: sympy.Function) -> str:
    return p.call(_UNARY[type(expr)], p.value(expr.args[0]))


def _extreme(how: str) -> Callable[[ExpressionPrinter, sympy.Basic], str]:
    def print_extreme(p: ExpressionPrinter, expr: sympy.Basic) -> str:
        result = p.value(expr.args[0])
        for arg in expr.args[1:]:
            other = p.value(arg)
            result = p.select(p.compare(how, result, other), result, other)
        return result

    return print_extreme


def _piecewise(p: ExpressionPrinter, expr: sympy.Piecewise) -> str:
    result = double(float("nan"))
    for branch, cond in reversed(expr.args):
        value = p.value(branch)
        result = value if cond is sympy.true else p.select(p.condition(cond), value, result)
    return result


def _time(p: ExpressionPrinter, expr: sympy.Symbol) -> str:
    return p.symbol(expr)


def _step(p: ExpressionPrinter, expr: fn.STEP) -> str:
    height, at = (p.value(a) for a in expr.args)
    half = p.op("fdiv", p.symbol(fn.TIME_STEP), double(2.0))
    on = p.compare("ogt", p.op("fadd", p.symbol(fn.TIME), half), at)
    return p.select(on, height, double(0.0))


def _pulse(p: ExpressionPrinter, expr: fn.PULSE) -> str:
    start, width = (p.value(a) for a in expr.args)
    zero = p.compare("oeq", width, double(0.0))
    width = p.select(zero, p.symbol(fn.TIME_STEP), width)
    return _single_pulse(p, start, width)


def _single_pulse(p: ExpressionPrinter, start: str, width: str) -> str:
    t = p.symbol(fn.TIME)
    after = p.compare("ole", p.op("fsub", start, double(SMALL_VENSIM)), t)
    before = p.compare("olt", t, p.op("fadd", start, width))
    on = p.emit(f"and i1 {after}, {before}")
    return p.select(on, double(1.0), double(0.0))


def _pulse_train(p: ExpressionPrinter, expr: fn.PULSE_TRAIN) -> str:
    start, width, repeat, end = (p.value(a) for a in expr.args)
    t = p.symbol(fn.TIME)
    single = _single_pulse(p, start, width)
    offset = p.op("fadd", p.op("fsub", t, start), double(SMALL_VENSIM))
    remainder = p.op("frem", offset, repeat)  # Python's % for the usual positive operands
    wrong_sign = p.emit(
        f"xor i1 {p.compare('olt', remainder, double(0.0))}, "
        f"{p.compare('olt', repeat, double(0.0))}"
    )
    nonzero = p.compare("une", remainder, double(0.0))
    fix = p.emit(f"and i1 {wrong_sign}, {nonzero}")
    remainder = p.select(fix, p.op("fadd", remainder, repeat), remainder)
    in_window = p.emit(f"and i1 {p.compare('ole', start, t)}, {p.compare('olt', t, end)}")
    pulsing = p.emit(f"and i1 {in_window}, {p.compare('olt', remainder, width)}")
    train = p.select(pulsing, double(1.0), double(0.0))
    return p.select(p.compare("oeq", repeat, double(0.0)), single, train)


def _ramp(p: ExpressionPrinter, expr: fn.RAMP) -> str:
    slope, start, end = (p.value(a) for a in expr.args)
    t = p.symbol(fn.TIME)
    final = p.select(p.compare("olt", end, t), end, t)
    on = p.compare("ogt", p.op("fadd", t, double(SMALL_VENSIM)), start)
    return p.select(on, p.op("fmul", slope, p.op("fsub", final, start)), double(0.0))


def _small(p: ExpressionPrinter, operand: str) -> str:
    return p.compare("olt", p.call("llvm.fabs.f64", operand), double(SMALL_VENSIM))


def _zidz(p: ExpressionPrinter, expr: fn.ZIDZ) -> str:
    a, b = (p.value(arg) for arg in expr.args)
    return p.select(_small(p, b), double(0.0), p.op("fdiv", a, b))


def _xidz(p: ExpressionPrinter, expr: fn.XIDZ) -> str:
    a, b, x = (p.value(arg) for arg in expr.args)
    return p.select(_small(p, b), x, p.op("fdiv", a, b))


def _quantum_of(p: ExpressionPrinter, x: str, q: str) -> str:
    whole = p.call("llvm.trunc.f64", p.op("fdiv", x, q))
    return p.select(p.compare("olt", q, double(SMALL_VENSIM)), x, p.op("fmul", q, whole))


def _quantum(p: ExpressionPrinter, expr: fn.QUANTUM) -> str:
    return _quantum_of(p, *(p.value(a) for a in expr.args))


def _modulo(p: ExpressionPrinter, expr: fn.MODULO) -> str:
    x, m = (p.value(a) for a in expr.args)
    return p.op("fsub", x, _quantum_of(p, x, m))


def _table_call(p: ExpressionPrinter, table: LookupTable, x: str) -> str:
    n = len(table.xs)
    name = global_name(table.symbol)
    xs = f"getelementptr ([{n} x double], [{n} x double]* @{name}.x, i64 0, i64 0)"
    ys = f"getelementptr ([{n} x double], [{n} x double]* @{name}.y, i64 0, i64 0)"
    held = p.emit(f"call double @sd_lookup(double* {xs}, double* {ys}, i64 {n}, double {x})")
    if table.extrapolation is not Extrapolation.LINEAR or n < 2:
        return held
    x0, x1, xm, xn = table.xs[0], table.xs[1], table.xs[-2], table.xs[-1]
    y0, y1, ym, yn = table.ys[0], table.ys[1], table.ys[-2], table.ys[-1]
    low = p.op(
        "fadd", double(y0), p.op("fmul", double((y1 - y0) / (x1 - x0)), p.op("fsub", x, double(x0)))
    )
    high = p.op(
        "fadd", double(yn), p.op("fmul", double((yn - ym) / (xn - xm)), p.op("fsub", x, double(xn)))
    )
    result = p.select(p.compare("ogt", x, double(xn)), high, held)
    return p.select(p.compare("olt", x, double(x0)), low, result)


def _lookup(p: ExpressionPrinter, expr: fn.LOOKUP) -> str:
    return _table_call(p, p.table(expr.args[0].name), p.value(expr.args[1]))


def _with_lookup(p: ExpressionPrinter, expr: fn.WITH_LOOKUP) -> str:
    x, xs, ys = expr.args
    return _table_call(p, p.new_table(xs, ys), p.value(x))


#: Vensim functions kept as ``VENSIM_CALL`` that compile to a C library call.
_LIBRARY_CALLS: dict[str, str] = {"SINH": "sinh", "COSH": "cosh", "TANH": "tanh"}


def _vensim_call(p: ExpressionPrinter, expr: fn.VENSIM_CALL) -> str:
    """``SINH``/``COSH``/``TANH``; ``ACTIVE INITIAL`` (through the function's stateful hook);
    ``GAME(x)`` is ``x`` (no gaming input in a batch run);
    ``GET TIME VALUE(0, offset, 0)`` is ``TIME + offset`` (PySD's only computable case)."""
    name, args = expr.args[0].name, expr.args[1:]
    if name in _LIBRARY_CALLS and len(args) == 1:
        return p.call(_LIBRARY_CALLS[name], p.value(args[0]))
    if name == "ACTIVE INITIAL" and len(args) == 2:
        return p._stateful(p, expr)
    if name == "GAME" and len(args) == 1:
        return p.value(args[0])
    if name == "GET TIME VALUE" and len(args) == 3 and args[0] == 0 and args[2] == 0:
        return p.op("fadd", p.value(fn.TIME), p.value(args[1]))
    raise UnsupportedByBackend(f"the native backend cannot compile {expr}")


def _stateful(p: ExpressionPrinter, expr: sympy.Basic) -> str:
    return p._stateful(p, expr)


def _draw(p: ExpressionPrinter, expr: sympy.Basic) -> str:
    """A :class:`~sdhealth.ir.functions.RandomDraw`: uniforms of the call's stream at counters
    ``2*step`` and ``2*step + 1`` (``step`` counts time steps from the start, so every stage
    of a Runge-Kutta step inside one DT sees the same number), shaped to the distribution."""
    *parameters, seed, _ = expr.args
    own = p.value(seed)
    unseeded = double(float(fn.unseeded_stream(p.current, expr)))
    stream = p.select(p.compare("oge", own, double(0.0)), own, unseeded)
    elapsed = p.op("fsub", p.symbol(fn.TIME), p.symbol(fn.INITIAL_TIME))
    steps = p.op("fadd", p.op("fdiv", elapsed, p.symbol(fn.TIME_STEP)), double(1e-6))
    counter = p.op("fmul", p.call("llvm.floor.f64", steps), double(2.0))
    u = p.emit(f"call double @sd_uniform(double {stream}, double {counter})")
    values = [p.value(a) for a in parameters]
    if isinstance(expr, fn.UNIFORM_DRAW):
        low, high = values
        return p.op("fadd", low, p.op("fmul", p.op("fsub", high, low), u))
    # 1 - u is in (0, 1]: its logarithm is finite
    tail = p.call("llvm.log.f64", p.op("fsub", double(1.0), u))
    if isinstance(expr, fn.EXPONENTIAL_DRAW):
        return p.emit(f"fneg double {p.op('fmul', values[0], tail)}")
    second = p.op("fadd", counter, double(1.0))
    v = p.emit(f"call double @sd_uniform(double {stream}, double {second})")
    radius = p.call("llvm.sqrt.f64", p.op("fmul", double(-2.0), tail))
    angle = p.call("llvm.cos.f64", p.op("fmul", double(2.0 * math.pi), v))
    z = p.op("fmul", radius, angle)
    if isinstance(expr, fn.POISSON_DRAW):
        return p.emit(f"call double @sd_poisson(double {values[0]}, double {u}, double {z})")
    mean, spread = values
    if isinstance(expr, fn.NORMAL_DRAW):
        return p.op("fadd", mean, p.op("fmul", spread, z))
    ratio = p.op("fdiv", spread, mean)  # LOGNORMAL: the values' own mean and spread
    variance = p.call("llvm.log.f64", p.op("fadd", double(1.0), p.op("fmul", ratio, ratio)))
    mu = p.op("fsub", p.call("llvm.log.f64", mean), p.op("fmul", double(0.5), variance))
    exponent = p.op("fadd", mu, p.op("fmul", p.call("llvm.sqrt.f64", variance), z))
    return p.call("llvm.exp.f64", exponent)


def global_name(key: str) -> str:
    """A safe LLVM global name for a table key (keys may hold any character)."""
    return "tab." + "".join(c if c.isalnum() else f"_{ord(c):x}_" for c in key)


_PRINTERS: Mapping[type, Callable[[ExpressionPrinter, sympy.Basic], str]] = {
    sympy.Add: _add,
    sympy.Mul: _mul,
    sympy.Pow: _pow,
    sympy.Min: _extreme("olt"),
    sympy.Max: _extreme("ogt"),
    sympy.Piecewise: _piecewise,
    sympy.Symbol: _time,
    fn.STEP: _step,
    fn.PULSE: _pulse,
    fn.PULSE_TRAIN: _pulse_train,
    fn.RAMP: _ramp,
    fn.ZIDZ: _zidz,
    fn.XIDZ: _xidz,
    fn.QUANTUM: _quantum,
    fn.MODULO: _modulo,
    fn.LOOKUP: _lookup,
    fn.WITH_LOOKUP: _with_lookup,
    fn.INITIAL: _stateful,
    fn.DELAY_FIXED: _stateful,
    fn.VENSIM_CALL: _vensim_call,
    fn.RandomDraw: _draw,
    **{kind: _unary for kind in _UNARY},
}
