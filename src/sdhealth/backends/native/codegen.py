"""Lowering of an expanded IR model into one LLVM module: ``sd_init`` and ``sd_eval``.

Both functions have the signature the kernel calls (:mod:`sdhealth.backends.native.kernel`)::

    void f(double t, double* clock, double* state, double* params,
           double* values, double* deriv, double* memory, double* delay_inputs)

``clock`` holds ``[TIME STEP, INITIAL TIME, FINAL TIME, SAVEPER]``; the other arrays follow
:class:`~sdhealth.backends.native.layout.Layout`.

``sd_init`` computes, at the initial time and in initialisation order, every stock's initial
value (into ``state``), every ``INITIAL`` value and every ``DELAY FIXED`` initial output (into
``memory``) and each ``DELAY FIXED`` pipeline length ``round(max(delay/TIME STEP, 1) + 1e-6)``
(into ``delay_inputs``), as PySD does.

``sd_clock`` (only in a model whose clock settings are equations, Vensim's ``FINAL TIME =
IF THEN ELSE(..)``) computes those settings at time ``t`` from the state into ``clock``.

``sd_eval`` computes one time step in Vensim's order: every auxiliary and flow at time ``t``
from ``state`` (stocks), ``params`` (constants) and ``memory`` (``INITIAL``/``DELAY FIXED``),
writes every value of the step to ``values``, each stock's net flow ``in1 + in2 - out1 - out2``
(PySD's order of operations) to ``deriv`` and each ``DELAY FIXED`` input to ``delay_inputs``.
The code is straight-line SSA in one basic block, so there is no Python and no interpretation
per variable per step: one call per step (per Runge-Kutta stage).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import sympy

from sdhealth.compile.dependencies import evaluation_order, initialisation_order
from sdhealth.errors import ModelError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Auxiliary, Flow, Lookup, Model, Stock
from sdhealth.ir.names import canonical

from .layout import Layout, build_layout, stateful_calls
from .printer import INTRINSICS, ExpressionPrinter, LookupTable, double, global_name

__all__ = ["generate_module", "SIGNATURE", "INIT_FUNCTION", "EVAL_FUNCTION", "CLOCK_FUNCTION"]

INIT_FUNCTION, EVAL_FUNCTION, CLOCK_FUNCTION = "sd_init", "sd_eval", "sd_clock"

SIGNATURE = (
    "(double %t, double* %clock, double* %state, double* %params, double* %values, "
    "double* %deriv, double* %memory, double* %delay_inputs)"
)

#: Builtin time symbols -> index in ``clock`` (TIME itself is the argument ``%t``).
_CLOCK = {fn.TIME_STEP.name: 0, fn.INITIAL_TIME.name: 1, fn.FINAL_TIME.name: 2, fn.SAVEPER.name: 3}

#: Hold-extrapolated linear interpolation in a table (PySD's ``Lookups`` on floats).
_LOOKUP_HELPER = """
define private double @sd_lookup(double* %xs, double* %ys, i64 %n, double %x) {
entry:
  %nan = fcmp uno double %x, %x
  br i1 %nan, label %isnan, label %low
isnan:
  ret double %x
low:
  %x0 = load double, double* %xs
  %below = fcmp ole double %x, %x0
  br i1 %below, label %first, label %high
first:
  %y0 = load double, double* %ys
  ret double %y0
high:
  %last = sub i64 %n, 1
  %pxl = getelementptr double, double* %xs, i64 %last
  %xl = load double, double* %pxl
  %above = fcmp oge double %x, %xl
  br i1 %above, label %lastv, label %scan
lastv:
  %pyl = getelementptr double, double* %ys, i64 %last
  %yl = load double, double* %pyl
  ret double %yl
scan:
  %i = phi i64 [1, %high], [%next, %scan]
  %pxi = getelementptr double, double* %xs, i64 %i
  %xi = load double, double* %pxi
  %next = add i64 %i, 1
  %found = fcmp ole double %x, %xi
  br i1 %found, label %interp, label %scan
interp:
  %pyi = getelementptr double, double* %ys, i64 %i
  %yi = load double, double* %pyi
  %exact = fcmp oeq double %x, %xi
  %im = sub i64 %i, 1
  %pxa = getelementptr double, double* %xs, i64 %im
  %xa = load double, double* %pxa
  %pya = getelementptr double, double* %ys, i64 %im
  %ya = load double, double* %pya
  %dy = fsub double %yi, %ya
  %dx = fsub double %xi, %xa
  %slope = fdiv double %dy, %dx
  %off = fsub double %x, %xa
  %rise = fmul double %slope, %off
  %y = fadd double %rise, %ya
  %r = select i1 %exact, double %yi, double %y
  ret double %r
}
"""


#: Counter-based random numbers (``sdhealth.ir.functions.RandomDraw``): SplitMix64's
#: finaliser of the stream, xor the counter, mixed again; the top 53 bits over 2**53.
#: ``sdhealth.ir.functions.uniform_draw`` is the same computation in Python.
_RANDOM_HELPER = """
define private i64 @sd_mix(i64 %x) {
entry:
  %z0 = add i64 %x, -7046029254386353131
  %s1 = lshr i64 %z0, 30
  %x1 = xor i64 %z0, %s1
  %z1 = mul i64 %x1, -4658895280553007687
  %s2 = lshr i64 %z1, 27
  %x2 = xor i64 %z1, %s2
  %z2 = mul i64 %x2, -7723592293110705685
  %s3 = lshr i64 %z2, 31
  %r = xor i64 %z2, %s3
  ret i64 %r
}

define private double @sd_uniform(double %stream, double %counter) {
entry:
  %si = fptosi double %stream to i64
  %ci = fptosi double %counter to i64
  %h1 = call i64 @sd_mix(i64 %si)
  %k = xor i64 %h1, %ci
  %h2 = call i64 @sd_mix(i64 %k)
  %m = lshr i64 %h2, 11
  %f = uitofp i64 %m to double
  %u = fmul double %f, 0x3CA0000000000000
  ret double %u
}

define private double @sd_poisson(double %mean, double %u, double %z) {
entry:
  %none = fcmp ole double %mean, 0.0
  br i1 %none, label %zero, label %size
zero:
  ret double 0.0
size:
  %large = fcmp ogt double %mean, 700.0
  br i1 %large, label %normal, label %start
normal:
  %root = call double @llvm.sqrt.f64(double %mean)
  %spread = fmul double %root, %z
  %approx = fadd double %mean, %spread
  %rounded = call double @llvm.round.f64(double %approx)
  %negative = fcmp olt double %rounded, 0.0
  %clipped = select i1 %negative, double 0.0, double %rounded
  ret double %clipped
start:
  %minus = fneg double %mean
  %p0 = call double @llvm.exp.f64(double %minus)
  br label %loop
loop:
  %k = phi double [0.0, %start], [%k1, %next]
  %p = phi double [%p0, %start], [%p1, %next]
  %cdf = phi double [%p0, %start], [%cdf1, %next]
  %found = fcmp olt double %u, %cdf
  br i1 %found, label %done, label %next
next:
  %k1 = fadd double %k, 1.0
  %ratio = fdiv double %mean, %k1
  %p1 = fmul double %p, %ratio
  %cdf1 = fadd double %cdf, %p1
  %beyond = fcmp ogt double %k1, 2000.0
  br i1 %beyond, label %done, label %loop
done:
  %result = phi double [%k, %loop], [%k1, %next]
  ret double %result
}
"""


class _Function:
    """One generated function: its printer, the registers of variables, the stateful slots."""

    def __init__(
        self,
        model: Model,
        layout: Layout,
        tables: dict[str, LookupTable],
        initials: dict[sympy.Basic, int],
        delays: dict[sympy.Basic, int],
        initialising: bool,
    ) -> None:
        self.model = model
        self.layout = layout
        self.initials = initials
        self.delays = delays
        self.initialising = initialising
        self.registers: dict[str, str] = {}
        self.stock_index = {k: i for i, k in enumerate(layout.stock_keys)}
        self.param_index = {k: i for i, k in enumerate(layout.param_keys)}
        self.started: set[sympy.Basic] = set()
        self.p = ExpressionPrinter(self.resolve, tables, self.stateful)

    def resolve(self, key: str) -> str:
        if key == fn.TIME.name:
            return "%t"
        if key not in self.registers:
            self.registers[key] = self._load(key)
        return self.registers[key]

    def _load(self, key: str) -> str:
        if key in _CLOCK:
            return self.p.load("clock", _CLOCK[key])
        if key in self.param_index:
            return self.p.load("params", self.param_index[key])
        if key in self.stock_index and not self.initialising:
            return self.p.load("state", self.stock_index[key])
        raise KeyError(f"{key!r} is read before it is computed")

    def stateful(self, p: ExpressionPrinter, call: sympy.Basic) -> str:
        """``INITIAL``/``DELAY FIXED``: computed and stored at init, read from memory after.

        ``ACTIVE INITIAL(value, initial)`` is ``initial`` at init and ``value`` after.
        """
        if isinstance(call, fn.VENSIM_CALL):
            return p.value(call.args[2] if self.initialising else call.args[1])
        if isinstance(call, fn.INITIAL):
            slot = self.initials[call]
        else:
            slot = self.layout.n_initials + self.delays[call]
        if not self.initialising:
            return p.load("memory", slot)
        self.started.add(call)
        if isinstance(call, fn.INITIAL):
            value = p.value(call.args[0])
        else:
            value = p.value(call.args[2])
            steps = p.op("fdiv", p.value(call.args[1]), p.symbol(fn.TIME_STEP))
            steps = p.select(p.compare("olt", steps, double(1.0)), double(1.0), steps)
            order = p.call("llvm.round.f64", p.op("fadd", steps, double(1e-6)))
            p.store("delay_inputs", self.delays[call], order)
        p.store("memory", slot, value)
        return value

    def text(self, name: str) -> str:
        body = "\n".join(self.p.lines)
        return f"define void @{name}{SIGNATURE} {{\nentry:\n{body}\n  ret void\n}}\n"


def _equation(variable: object) -> sympy.Expr:
    if isinstance(variable, Stock):
        return variable.initial.expr
    return variable.equation.expr  # type: ignore[attr-defined]


def _init_function(model: Model, make: Callable[[bool], _Function]) -> str:
    f = make(True)
    for key in initialisation_order(model):
        variable = model[key]
        f.p.current = key
        register = f.p.value(_equation(variable))
        f.registers[key] = register
        if isinstance(variable, Stock):
            f.p.store("state", f.stock_index[key], register)
    pending = [c for c in (*f.initials, *f.delays) if c not in f.started]
    while pending:  # calls nested where initialisation does not look (a DELAY FIXED input)
        f.stateful(f.p, pending[0])
        pending = [c for c in (*f.initials, *f.delays) if c not in f.started]
    return f.text(INIT_FUNCTION)


def _net_flow(f: _Function, stock: Stock) -> str:
    inflows = [f.resolve(canonical(name)) for name in stock.inflows]
    outflows = [f.resolve(canonical(name)) for name in stock.outflows]
    if inflows:
        total = inflows[0]
        for operand in inflows[1:]:
            total = f.p.op("fadd", total, operand)
    elif outflows:
        total = f.p.emit(f"fneg double {outflows.pop(0)}")
    else:
        return double(0.0)
    for operand in outflows:
        total = f.p.op("fsub", total, operand)
    return total


def _eval_function(model: Model, layout: Layout, make: Callable[[bool], _Function]) -> str:
    f = make(False)
    for key in evaluation_order(model):
        f.p.current = key
        f.registers[key] = f.p.value(model[key].equation.expr)  # type: ignore[attr-defined]
    for j, key in enumerate(layout.value_keys):
        f.p.store("values", j, f.resolve(key))
    for i, stock in enumerate(model.stocks):
        f.p.store("deriv", i, _net_flow(f, stock))
    for call, k in f.delays.items():
        f.p.store("delay_inputs", k, f.p.value(call.args[0]))
    return f.text(EVAL_FUNCTION)


def _clock_settings(model: Model) -> list[tuple[str, sympy.Expr]]:
    """The clock equations as ``(builtin symbol name, expression)``, each after those it reads.

    Raises
    ------
    ModelError
        If clock settings read each other in a circle.
    """
    equations = {fn.BUILTIN_SYMBOLS[s].name: eq.expr for s, eq in model.time.equations}
    order: list[tuple[str, sympy.Expr]] = []
    pending = dict(equations)
    while pending:
        ready = [
            name
            for name, expr in pending.items()
            if not any(s.name in pending and s.name != name for s in expr.free_symbols)
        ]
        if not ready:
            names = ", ".join(n.lstrip("@").upper() for n in pending)
            raise ModelError(f"the clock settings {names} are computed from each other")
        for name in ready:
            order.append((name, pending.pop(name)))
    return order


def _reads(model: Model, exprs: list[sympy.Expr]) -> set[str]:
    """Keys of the auxiliaries and flows ``exprs`` read, directly or through others."""
    found: set[str] = set()
    todo = [s.name for e in exprs for s in e.free_symbols]
    while todo:
        key = todo.pop()
        if key in found or key not in model:
            continue
        variable = model[key]
        if isinstance(variable, (Auxiliary, Flow)):
            found.add(key)
            todo.extend(s.name for s in variable.equation.expr.free_symbols)
    return found


def _clock_function(model: Model, make: Callable[[bool], _Function]) -> str:
    """``sd_clock``: each clock setting given by an equation, at time ``t``, into ``clock``.

    It computes the auxiliaries and flows the clock equations read (from the state at ``t``),
    then each setting (settings reading another come after it) and stores it in its slot.
    An auxiliary that itself reads a clock setting sees the clock of the previous step.
    """
    f = make(False)
    settings = _clock_settings(model)
    needed = _reads(model, [expr for _, expr in settings])
    for key in evaluation_order(model):
        if key in needed:
            f.p.current = key
            f.registers[key] = f.p.value(model[key].equation.expr)  # type: ignore[attr-defined]
    for name, expr in settings:
        value = f.p.value(expr)
        f.p.store("clock", _CLOCK[name], value)
        f.registers[name] = value
    return f.text(CLOCK_FUNCTION)


def _table_globals(tables: dict[str, LookupTable]) -> str:
    lines = []
    for table in tables.values():
        name, n = global_name(table.symbol), len(table.xs)
        for suffix, data in (("x", table.xs), ("y", table.ys)):
            items = ", ".join(f"double {double(v)}" for v in data)
            lines.append(f"@{name}.{suffix} = private constant [{n} x double] [{items}]")
    return "\n".join(lines)


def generate_module(model: Model) -> tuple[str, Layout]:
    """The LLVM IR text of an expanded model and its slot layout.

    Parameters
    ----------
    model
        A model after :func:`~sdhealth.compile.expand.expand_stateful` (stocks, flows,
        auxiliaries, constants, lookups; ``INITIAL`` and ``DELAY FIXED`` as calls).
    """
    layout = replace(build_layout(model), has_clock=bool(model.time.equations))
    initial_calls, delay_calls = stateful_calls(model)
    initials = {c: i for i, c in enumerate(initial_calls)}
    delays = {c: i for i, c in enumerate(delay_calls)}
    tables = {
        v.key: LookupTable(v.key, tuple(map(float, v.xs)), tuple(map(float, v.ys)), v.extrapolation)
        for v in model.variables
        if isinstance(v, Lookup)
    }

    draws = any(
        v.equations() and any(e.expr.has(fn.RandomDraw) for e in v.equations())
        for v in model.variables
        if not isinstance(v, Lookup)
    )

    def make(initialising: bool) -> _Function:
        made = _Function(model, layout, tables, initials, delays, initialising)
        made.p.draws = draws
        return made

    functions = [_init_function(model, make), _eval_function(model, layout, make)]
    if model.time.equations:
        functions.append(_clock_function(model, make))
    declarations = "\n".join(INTRINSICS.values())
    helpers = [_LOOKUP_HELPER, _RANDOM_HELPER] if draws else [_LOOKUP_HELPER]
    text = "\n".join([declarations, *helpers, *functions, _table_globals(tables)])
    return text, layout
