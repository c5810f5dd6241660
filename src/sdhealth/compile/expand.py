"""Expansion of stateful builtins (delays, smooths, trends) into explicit internal stocks.

:func:`expand_stateful` is a pure function from a model to a model in which no equation calls a
stateful builtin any more, except ``DELAY FIXED`` (a pipeline is not a finite set of stocks; see
:class:`sdhealth.ir.functions.DELAY_FIXED`). Every backend and every analysis that runs after
compilation therefore sees the same stocks. The structures follow Vensim's definitions and give,
under Euler, the results of PySD's own implementation (``pysd.py_backend.statefuls``):

``DELAY1(u, T)``, ``DELAY1I(u, T, i)``, ``DELAY3``, ``DELAY3I``, ``DELAY N(u, T, i, n)``
    ``n`` stages (1, 3 or the constant ``n``), each a stock ``S_k`` with initial value
    ``i*T/n`` (``i = u`` without an initial argument) drained by ``S_k/(T/n)`` into the next
    stage. The delay's output is the last stage's outflow (for a ``DELAY N`` whose delay time
    changes, see below). PySD keeps ``n*S_k`` as its state,
    which is the same dynamics. For ``n >= 2`` the order may be lowered when the run starts
    (below), and the stages read the stock ``order`` instead of ``n``.
``SMOOTH(u, T)``, ``SMOOTHI``, ``SMOOTH3``, ``SMOOTH3I``, ``SMOOTH N(u, T, i, n)``
    a cascade of ``n`` first-order smooths of ``T/n`` each: stage ``k`` has initial value ``i``
    and changes by ``(target - S_k)/(T/n)`` where the target of stage 1 is ``u`` and the target
    of stage ``k`` is stage ``k-1``. The output is the last stage (PySD's ``Smooth``).
``TREND(u, A, g)``
    a stock ``AV`` with initial value ``u/(1 + g*A)`` changing by ``(u - AV)/A``; the output is
    ``ZIDZ(u - AV, A*ABS(AV))``.
``FORECAST(u, A, h)``
    a stock ``AV`` with initial value ``u`` (PySD: ``u/(1 + 0)``) changing by ``(u - AV)/A``;
    the output is ``u*(1 + ZIDZ(u - AV, A*AV)*h)``.

Order lowering (Vensim's and PySD's rule, one function: :func:`lowered_order`): a material delay
of order ``n >= 2`` whose ``n*TIME STEP`` exceeds its delay time at the start of the run runs with
the largest order ``m`` for which ``m*TIME STEP <= delay time`` (at least 1), fixed for the whole
run (PySD's ``Delay``/``DelayN.initialize``; Vensim's canonical output of the SDXorg
``delay_pipeline`` model shows the same). The time step and the delay time are only known when a
run starts (a run may change ``dt``, a batch may vary the delay time), so the expansion keeps
all ``n`` stages and adds a stock ``order`` without flows (it holds ``m``, computed from the
initial values, like ``INITIAL``); the first ``n - m`` stages are bypassed (they start empty and
pass their inflow straight on) and the others use the stage time ``T/m``. With ``m = n`` this is
the plain cascade. (PySD lowers a delay whose time is below one time step to order 0 and then
fails; sdhealth keeps order 1 there.)

``DELAY N`` with a delay time that changes during the run (PySD's ``DelayN``, whose output Vensim's
canonical output of the SDXorg ``delays`` model matches): PySD keeps an array of ``m`` delay times
that each Euler step shifts by one place before it writes the current delay time first, so the
``i``-th active stage (``i = 1..m``) is drained with the delay time of ``i - 1`` steps earlier (the
initial delay time before the run had that many steps), and the output divides the last stage by
the first entry as it stands when the output is read. PySD reads every saved value before the
step's derivatives, so that entry is the delay time one step earlier. sdhealth builds the same: a
shift register of stocks ``delay time lag j`` changed by ``(lag (j-1) - lag j)/TIME STEP`` (under
Euler the delay time ``j`` steps earlier, up to rounding; ``lag 0`` is the current one; under
RK2/RK4 a lag of about ``j`` steps), stage times chosen from it by the order, and the output an
auxiliary ``order*S_n/lag 1`` (no longer the last stage's outflow). A delay time that reads only
numbers, constants and the run's control values (:func:`is_run_constant`) cannot change, and gets
the plain cascade above (the register would hold the same value). One difference remains, from
PySD's evaluation order and cache rather than its formulas: a value PySD computes *after* the
``DelayN`` object's derivative in the same step (its derivatives run in the alphabetical order of
the objects' names, ``_delayn_...`` before ``_integ_...``) sees the output divided by the *current*
delay time. PySD caches every returned variable when it saves a step, so this happens only when a
stock (or smooth, trend ...) reads the delay's output at a step between two saves (``SAVEPER > TIME
STEP``), or through variables that are not returned (a run with ``return_columns`` that leaves them
out): there PySD's stocks depend on what is saved; sdhealth, with one value per variable and step,
always uses the saved one (PySD's result when every variable is returned at every step). With a
delay time that does not change, all of these coincide.

``DELAY1``/``DELAY3`` (PySD's ``Delay``) keep no such array: every stage and the output use the
current delay time, with or without change, and so does their expansion.

A compiled model's disk cache is keyed by the unexpanded model, so a change to the structures
made here must change the native backend's format string (``backends/native/compiler.py``).

Naming: the parts of a call in variable ``X`` are named ``"X DELAY3 1 stage 2"``,
``"X DELAY3 1 output"``, ``"X SMOOTH 2 stage 1 change"`` ... (the number counts that
function's calls in ``X``, skipping numbers whose names are already taken, so a generated name
never collides with a modeller's). Identical calls (same function, same arguments after inner
calls are expanded) anywhere in the model share one structure. Nested calls are expanded from
the inside out. Generated variables are ``internal=True``, inherit the owner's ``dims`` and
``sector``, have unknown units and are placed right after the variable whose equation made them.

A rewritten equation keeps its location (so errors still point at the modeller's text) but not
its text and references, which describe the unexpanded expression.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import sympy

from sdhealth.errors import Issue, ModelError, Severity
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Equation,
    Flow,
    Model,
    SourceLocation,
    Stock,
    Variable,
    symbol,
)
from sdhealth.ir.names import canonical

__all__ = [
    "expand_stateful",
    "constant_order",
    "order_problem",
    "order_is_variable",
    "ORDER_ARGUMENT",
    "MAX_ORDER",
    "lowered_order",
    "is_run_constant",
]

#: The largest order a ``DELAY N``/``SMOOTH N`` may have (each stage is a stock).
MAX_ORDER = 10_000

#: Stateful builtins whose order is an argument -> the index of that argument.
ORDER_ARGUMENT: dict[type[fn.SDFunction], int] = {fn.DELAY_N: 3, fn.SMOOTH_N: 3}


def constant_order(expr: sympy.Expr, constants: Mapping[str, float]) -> int:
    """The order of a ``DELAY N``/``SMOOTH N`` call, evaluated from numbers and constants.

    Parameters
    ----------
    expr
        The order argument.
    constants
        Constant values by variable key.

    Raises
    ------
    ValueError
        If the order reads anything but numbers and constants, or is not a whole number >= 1.
        The message completes "the order ... must be a constant whole number, but ...".

    >>> constant_order(sympy.Symbol("n") + 1, {"n": 2.0})
    3
    >>> constant_order(sympy.Float(1e308) * sympy.Float(1e308), {})
    Traceback (most recent call last):
    ...
    ValueError: it is 1.00e+616 (no finite real value)
    """
    values = {
        sym: sympy.Float(constants[sym.name])
        for sym in expr.free_symbols
        if isinstance(sym, sympy.Symbol) and sym.name in constants
    }
    value = expr.xreplace(values)
    if not value.is_number:
        names = sorted(s.name for s in value.free_symbols)
        raise ValueError(
            f"it reads {', '.join(repr(n) for n in names)}, which "
            f"{'is' if len(names) == 1 else 'are'} not constant"
        )
    try:
        number = complex(value.evalf())
    except (TypeError, ValueError, OverflowError):  # zoo, nan: no number at all
        raise ValueError(f"it is {value} (no finite real value)") from None
    if not (math.isfinite(number.real) and math.isfinite(number.imag)):
        shown = sympy.sstr(value.evalf(3)) if value.is_extended_real else str(value)
        raise ValueError(f"it is {shown} (no finite real value)")
    if number.imag != 0:
        raise ValueError(f"it is {number}")
    if not math.isfinite(number.real):
        raise ValueError(f"it is {number.real:g} (no finite real value)")
    if number.real != round(number.real) or number.real < 1:
        raise ValueError(f"it is {number.real:g}")
    if number.real > MAX_ORDER:
        raise ValueError(f"it is {number.real:g}, more than the {MAX_ORDER:,} stages allowed")
    return int(round(number.real))


def order_problem(call: sympy.Basic, owner: str, constants: Mapping[str, float]) -> str | None:
    """What is wrong with the order of a ``DELAY N``/``SMOOTH N`` call in ``owner``, if anything.

    >>> order_problem(fn.SMOOTH_N(sympy.Symbol("x"), 4, 0, 2.5), "B", {})
    "the order of SMOOTH N in 'B' must be a constant whole number, but it is 2.5"
    """
    try:
        constant_order(call.args[ORDER_ARGUMENT[type(call)]], constants)
    except ValueError as error:
        return (
            f"the order of {call.func.vensim} in '{owner}' must be a constant whole number, "
            f"but {error}"
        )
    return None


def order_is_variable(call: sympy.Basic, constants: Mapping[str, float]) -> bool:
    """Whether the order of a ``DELAY N``/``SMOOTH N`` call reads a non-constant variable.

    Such an order is legal Vensim (PySD evaluates it once, at the start of the run) but the
    native backend's expansion needs a fixed number of stocks.

    >>> n = sympy.Symbol("n")
    >>> call = fn.DELAY_N(n, 4, 0, n)
    >>> order_is_variable(call, {}), order_is_variable(call, {"n": 3})
    (True, False)
    """
    order = call.args[ORDER_ARGUMENT[type(call)]]
    return any(
        isinstance(s, sympy.Symbol) and not s.name.startswith("@") and s.name not in constants
        for s in order.free_symbols
    )


@dataclass
class _Expander:
    """The mutable working state of one expansion (never escapes :func:`expand_stateful`)."""

    model: Model
    constants: dict[str, float]
    taken: set[str]
    cache: dict[sympy.Basic, sympy.Expr] = field(default_factory=dict)
    counters: dict[tuple[str, str], int] = field(default_factory=dict)
    made: list[Variable] = field(default_factory=list)
    owner: Variable | None = None
    location: SourceLocation | None = None
    doc: str = ""

    def rewrite(self, expr: sympy.Basic) -> sympy.Basic:
        """``expr`` with every stateful call below it replaced, innermost first."""
        if not expr.args:
            return expr
        args = tuple(self.rewrite(arg) for arg in expr.args)
        node = expr.func(*args) if args != expr.args else expr
        if isinstance(node, fn.StatefulFunction) and not isinstance(node, fn.DELAY_FIXED):
            if node not in self.cache:
                self.doc = f"Generated from {node.func.vensim} in '{self._owner().name}'."
                self.cache[node] = _EXPANDERS[type(node)](self, node)
            return self.cache[node]
        return node

    def base_name(self, function: fn.SDFunction, parts: tuple[str, ...]) -> str:
        """``"<owner> <FUNCTION> <k>"`` with the first ``k`` whose parts are all free names."""
        assert self.owner is not None
        counter_key = (self.owner.key, function.vensim)
        k = self.counters.get(counter_key, 0)
        while True:
            k += 1
            base = f"{self.owner.name} {function.vensim} {k}"
            if not any(canonical(f"{base} {part}") in self.taken for part in parts):
                break
        self.counters[counter_key] = k
        self.taken.update(canonical(f"{base} {part}") for part in parts)
        return base

    def equation(self, expr: sympy.Expr) -> Equation:
        return Equation(expr, location=self.location)

    def _add(self, kind: type[Variable], name: str, **fields: object) -> sympy.Symbol:
        """Add an internal variable of ``kind`` (owner's dims and sector) and return its symbol."""
        owner = self._owner()
        self.made.append(
            kind(  # type: ignore[call-arg]
                name=name,
                internal=True,
                doc=self.doc,
                dims=owner.dims,
                sector=owner.sector,
                location=self.location,
                **fields,  # type: ignore[arg-type]
            )
        )
        return symbol(name)

    def stock(
        self,
        name: str,
        initial: sympy.Expr,
        inflows: tuple[str, ...],
        outflows: tuple[str, ...] = (),
    ) -> sympy.Symbol:
        """Add an internal stock and return its symbol."""
        return self._add(
            Stock, name, initial=self.equation(initial), inflows=inflows, outflows=outflows
        )

    def flow(self, name: str, expr: sympy.Expr) -> sympy.Symbol:
        """Add an internal flow and return its symbol."""
        return self._add(Flow, name, equation=self.equation(expr))

    def auxiliary(self, name: str, expr: sympy.Expr) -> sympy.Symbol:
        """Add an internal auxiliary and return its symbol."""
        return self._add(Auxiliary, name, equation=self.equation(expr))

    def _owner(self) -> Variable:
        assert self.owner is not None
        return self.owner

    def order_of(self, call: sympy.Basic) -> int:
        """The constant order of a ``DELAY N``/``SMOOTH N`` call (``ModelError`` otherwise)."""
        problem = order_problem(call, self._owner().name, self.constants)
        if problem is not None and order_is_variable(call, self.constants):
            problem += (
                " (the native backend expands it into a fixed number of stocks; "
                "the PySD backend runs an order read from a variable)"
            )
        if problem is not None:
            where = self.location or SourceLocation()
            path = where.path or self.model.path
            issue = Issue(
                Severity.ERROR,
                "delay-order",
                problem,
                path,
                where.line,
                where.column,
                self._owner().name,
            )
            raise ModelError.from_issues([issue])
        return constant_order(call.args[ORDER_ARGUMENT[type(call)]], self.constants)


@dataclass(frozen=True)
class _Cascade:
    """A delay (material, drained stage to stage) or smooth (information) cascade.

    ``lagged``: the stages of a material delay use the delay time of earlier steps when it
    changes during the run (PySD's ``DelayN``; see the module doc).
    """

    material: bool
    order: int | None  # None: the order is the call's ORDER_ARGUMENT
    has_initial: bool
    lagged: bool = False

    def __call__(self, ex: _Expander, call: sympy.Basic) -> sympy.Expr:
        u, time = call.args[0], call.args[1]
        initial = call.args[2] if self.has_initial else u
        n = self.order if self.order is not None else ex.order_of(call)
        if self.material and self.lagged and not is_run_constant(time, ex.constants):
            return _lagged_delay(ex, call, u, time, initial, n)
        if self.material:
            return _delay(ex, call, u, time, initial, n)
        return _smooth(ex, call, u, time / n, initial, n)


#: Symbols that keep their value for the whole run.
_RUN_CONSTANT_SYMBOLS = frozenset(
    s.name for s in (fn.TIME_STEP, fn.INITIAL_TIME, fn.FINAL_TIME, fn.SAVEPER)
)


def is_run_constant(expr: sympy.Expr, constants: Mapping[str, float]) -> bool:
    """Whether ``expr`` reads only numbers, constants and the run's control values.

    Such an expression keeps its value for the whole run (a batch may vary a constant from
    run to run). Any builtin call counts as changing (``STEP(2, 15)`` reads time unseen).

    >>> is_run_constant(2 * sympy.Symbol("k") + fn.TIME_STEP, {"k": 1.0})
    True
    >>> is_run_constant(fn.STEP(2, 15), {}), is_run_constant(1 + fn.TIME, {})
    (False, False)
    """
    if expr.atoms(fn.SDFunction):
        return False
    return all(
        isinstance(s, sympy.Symbol) and (s.name in constants or s.name in _RUN_CONSTANT_SYMBOLS)
        for s in expr.free_symbols
    )


def lowered_order(order: int, delay_time: sympy.Expr) -> sympy.Expr:
    """The order a material delay of ``order`` runs with: PySD's and Vensim's lowering rule.

    The largest ``m <= order`` with ``m*TIME STEP <= delay_time``, or 1 (see the module doc).

    The test is written ``m*TIME STEP - delay_time <= 0``, which for floats is the same as
    PySD's ``m*TIME STEP <= delay_time``, because sympy would rewrite ``3*dt <= 0.3`` as
    ``dt <= 0.1`` (and ``3*0.1 > 0.3`` in floats while ``0.1 <= 0.1``).

    >>> lowered_order(3, sympy.Symbol("T"))
    Piecewise((3, 3*@time step - T <= 0), (2, 2*@time step - T <= 0), (1, True))
    """
    pieces = [
        (sympy.Integer(m), sympy.Le(m * fn.TIME_STEP - delay_time, 0)) for m in range(order, 1, -1)
    ]
    return sympy.Piecewise(*pieces, (sympy.Integer(1), True))


def _delay(
    ex: _Expander,
    call: sympy.Basic,
    u: sympy.Expr,
    delay_time: sympy.Expr,
    initial: sympy.Expr,
    n: int,
) -> sympy.Expr:
    """``n`` stages drained into each other, ``n >= 2`` with the order lowering rule."""
    stages = [f"stage {k}" for k in range(1, n + 1)]
    outflows = [f"stage {k} outflow" for k in range(1, n)] + ["output"]
    extra = ("order",) if n > 1 else ()
    base = ex.base_name(call, ("inflow", *stages, *outflows, *extra))
    inflow = f"{base} inflow"
    output = ex.flow(inflow, u)
    if n == 1:
        stock = ex.stock(f"{base} stage 1", initial * delay_time, (inflow,), (f"{base} output",))
        return ex.flow(f"{base} output", stock / delay_time)
    order = ex.stock(f"{base} order", lowered_order(n, delay_time), ())
    stage_time = delay_time / order
    for k, (stage, outflow) in enumerate(zip(stages, outflows, strict=True), start=1):
        active = sympy.Gt(order, n - k)  # the last ``order`` stages
        start = sympy.Piecewise((initial * stage_time, active), (0, True))
        stock = ex.stock(f"{base} {stage}", start, (inflow,), (f"{base} {outflow}",))
        drain = sympy.Piecewise((stock / stage_time, active), (symbol(inflow), True))
        output = ex.flow(f"{base} {outflow}", drain)
        inflow = f"{base} {outflow}"
    return output


def _lagged_delay(
    ex: _Expander,
    call: sympy.Basic,
    u: sympy.Expr,
    delay_time: sympy.Expr,
    initial: sympy.Expr,
    n: int,
) -> sympy.Expr:
    """PySD's ``DelayN`` with a changing delay time: stage ``k`` uses the time ``k-1`` steps ago.

    The delay times of earlier steps are a shift register of stocks ``lag j`` (``j = 1 ..
    max(n-1, 1)``) changed by ``(lag (j-1) - lag j)/TIME STEP``, so that under Euler ``lag j``
    holds the delay time ``j`` steps ago (``lag 0`` is the delay time now; all start at the
    initial delay time). With the order lowered to ``m``, the ``i``-th of the ``m`` active
    stages uses ``lag (i-1)``. The output is an auxiliary: the last stage's ``order*S/lag 1``.
    """
    stages = [f"stage {k}" for k in range(1, n + 1)]
    outflows = [f"{stage} outflow" for stage in stages]
    lags = [f"delay time lag {j}" for j in range(1, max(n - 1, 1) + 1)]
    extra = ("order",) if n > 1 else ()
    parts = ("inflow", *stages, *outflows, *lags, *(f"{lag} change" for lag in lags))
    base = ex.base_name(call, (*parts, "output", *extra))
    registers = _lag_registers(ex, base, delay_time, lags)
    inflow = f"{base} inflow"
    ex.flow(inflow, u)
    order = ex.stock(f"{base} order", lowered_order(n, delay_time), ()) if n > 1 else sympy.S.One
    stock: sympy.Expr = sympy.Integer(0)
    for k, (stage, outflow) in enumerate(zip(stages, outflows, strict=True), start=1):
        active = sympy.Gt(order, n - k)  # the last ``order`` stages
        stage_time = _stage_delay_time(k, n, order, delay_time, registers) / order
        start = sympy.Piecewise((initial * stage_time, active), (0, True))
        stock = ex.stock(f"{base} {stage}", start, (inflow,), (f"{base} {outflow}",))
        ex.flow(
            f"{base} {outflow}",
            sympy.Piecewise((stock / stage_time, active), (symbol(inflow), True)),
        )
        inflow = f"{base} {outflow}"
    return ex.auxiliary(f"{base} output", stock / (registers[0] / order))


def _lag_registers(
    ex: _Expander, base: str, delay_time: sympy.Expr, lags: list[str]
) -> list[sympy.Symbol]:
    """The stocks ``lag j`` holding the delay time ``j`` steps ago (under Euler)."""
    registers: list[sympy.Symbol] = []
    previous = delay_time
    for lag in lags:
        register = ex.stock(f"{base} {lag}", delay_time, (f"{base} {lag} change",))
        ex.flow(f"{base} {lag} change", (previous - register) / fn.TIME_STEP)
        registers.append(register)
        previous = register
    return registers


def _stage_delay_time(
    k: int,
    n: int,
    order: sympy.Expr,
    delay_time: sympy.Expr,
    registers: list[sympy.Symbol],
) -> sympy.Expr:
    """The delay time stage ``k`` of ``n`` uses: ``lag (k - 1 - (n - order))``.

    With order ``m`` the stage is the ``(k - n + m)``-th active one; a bypassed stage
    (``k <= n - m``) gets the current delay time, which it never uses.
    """
    pieces = [(registers[k - 1 - n + m - 1], sympy.Ge(order, m)) for m in range(n, n - k + 1, -1)]
    return sympy.Piecewise(*pieces, (delay_time, True))


def _smooth(
    ex: _Expander,
    call: sympy.Basic,
    u: sympy.Expr,
    stage_time: sympy.Expr,
    initial: sympy.Expr,
    n: int,
) -> sympy.Expr:
    stages = [f"stage {k}" for k in range(1, n + 1)]
    base = ex.base_name(call, (*stages, *(f"{s} change" for s in stages)))
    target = u
    for stage in stages:
        change = f"{base} {stage} change"
        stock = ex.stock(f"{base} {stage}", initial, (change,))
        ex.flow(change, (target - stock) / stage_time)
        target = stock
    return target


def _average(
    ex: _Expander,
    call: sympy.Basic,
    u: sympy.Expr,
    average_time: sympy.Expr,
    initial: sympy.Expr,
    output: Callable[[sympy.Symbol], sympy.Expr],
) -> sympy.Expr:
    """The stock ``AV`` that TREND and FORECAST share, and an auxiliary for their output."""
    base = ex.base_name(call, ("average", "average change", "output"))
    average = ex.stock(f"{base} average", initial, (f"{base} average change",))
    ex.flow(f"{base} average change", (u - average) / average_time)
    return ex.auxiliary(f"{base} output", output(average))


def _trend(ex: _Expander, call: sympy.Basic) -> sympy.Expr:
    u, average_time, initial_trend = call.args
    return _average(
        ex,
        call,
        u,
        average_time,
        u / (1 + initial_trend * average_time),
        lambda av: fn.ZIDZ(u - av, average_time * sympy.Abs(av)),
    )


def _forecast(ex: _Expander, call: sympy.Basic) -> sympy.Expr:
    u, average_time, horizon = call.args
    return _average(
        ex,
        call,
        u,
        average_time,
        u,
        lambda av: u * (1 + fn.ZIDZ(u - av, average_time * av) * horizon),
    )


_EXPANDERS: dict[type[fn.SDFunction], Callable[[_Expander, sympy.Basic], sympy.Expr]] = {
    fn.DELAY1: _Cascade(material=True, order=1, has_initial=False),
    fn.DELAY1I: _Cascade(material=True, order=1, has_initial=True),
    fn.DELAY3: _Cascade(material=True, order=3, has_initial=False),
    fn.DELAY3I: _Cascade(material=True, order=3, has_initial=True),
    fn.DELAY_N: _Cascade(material=True, order=None, has_initial=True, lagged=True),
    fn.SMOOTH: _Cascade(material=False, order=1, has_initial=False),
    fn.SMOOTHI: _Cascade(material=False, order=1, has_initial=True),
    fn.SMOOTH3: _Cascade(material=False, order=3, has_initial=False),
    fn.SMOOTH3I: _Cascade(material=False, order=3, has_initial=True),
    fn.SMOOTH_N: _Cascade(material=False, order=None, has_initial=True),
    fn.TREND: _trend,
    fn.FORECAST: _forecast,
}


def _rewrite_equation(ex: _Expander, equation: Equation) -> Equation:
    ex.location = equation.location
    expr = ex.rewrite(equation.expr)
    if expr == equation.expr:
        return equation
    return Equation(expr, location=equation.location)


def _rewrite_variable(ex: _Expander, variable: Variable) -> Variable:
    ex.owner = variable
    if isinstance(variable, Stock):
        return replace(variable, initial=_rewrite_equation(ex, variable.initial))
    if isinstance(variable, (Flow, Auxiliary)):
        return replace(variable, equation=_rewrite_equation(ex, variable.equation))
    return variable


def expand_stateful(model: Model) -> Model:
    """A copy of ``model`` with every stateful builtin call replaced by internal stocks.

    Parameters
    ----------
    model
        Any model; it is not changed.

    Returns
    -------
    Model
        The same model where no equation calls a stateful builtin other than ``DELAY FIXED``;
        the generated stocks, flows and auxiliaries are ``internal=True``. A model without
        stateful calls is returned as is.

    Raises
    ------
    ModelError
        If the order of a ``DELAY N`` or ``SMOOTH N`` is not a constant whole number.

    >>> from sdhealth.ir import Auxiliary, Constant, Equation, Model, symbol
    >>> m = Model("m", variables=(
    ...     Constant(name="x", value=1.0),
    ...     Auxiliary(name="y", equation=Equation(fn.SMOOTH(symbol("x"), 2)))))
    >>> [v.name for v in expand_stateful(m).variables]
    ['x', 'y', 'y SMOOTH 1 stage 1', 'y SMOOTH 1 stage 1 change']
    >>> expand_stateful(m)["y"].equation.expr
    y smooth 1 stage 1
    """
    if not any(fn.is_stateful(eq.expr) for v in model.variables for eq in v.equations()):
        return model
    constants = {v.key: v.value for v in model.variables if isinstance(v, Constant)}
    ex = _Expander(model, constants, {v.key for v in model.variables})
    variables: list[Variable] = []
    for variable in model.variables:
        try:
            variables.append(_rewrite_variable(ex, variable))
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as error:
            raise _no_value_error(model, variable, error) from None
        variables.extend(ex.made)
        ex.made.clear()
    return replace(model, variables=tuple(variables))


def _no_value_error(model: Model, variable: Variable, error: Exception) -> ModelError:
    """The error for an argument sympy cannot compare or convert (``zoo``, ``nan``, ``inf``):
    ``Invalid comparison of non-real zoo`` becomes a message naming the variable and line."""
    location = (
        next(
            (eq.location for eq in variable.equations() if eq.location is not None),
            variable.location,
        )
        or SourceLocation()
    )
    message = (
        f"'{variable.name}': an argument of a stateful builtin (DELAY, SMOOTH, TREND ...) "
        f"has no finite real value ({error}); write the value you mean, e.g. instead of "
        "1/0 or 0^-1"
    )
    issue = Issue(Severity.ERROR, "literal-error", message, location.path or model.path,
                  location.line, location.column, variable.name)  # fmt: skip
    return ModelError.from_issues([issue])
