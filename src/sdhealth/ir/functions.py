"""System-dynamics builtins as named sympy functions, and the builtin time symbols.

Equations in the IR are sympy expressions. Plain mathematics uses sympy's own objects
(``Add``, ``Mul``, ``Pow``, ``Min``, ``Max``, ``Abs``, ``exp``, ``log``, ``Piecewise`` for
``IF THEN ELSE``, relationals, ``And``/``Or``/``Not``). Everything with Vensim-specific meaning
is one of the unevaluated function classes below: sympy keeps them symbolic, printers turn
them into Vensim text or kernel code, and the expansion pass (:mod:`sdhealth.compile.expand`)
replaces the stateful ones by explicit stocks.

Each class records ``vensim`` (the name as Vensim spells it) and its accepted argument counts.
:data:`BUILTIN_FUNCTIONS` maps the canonical Vensim name to the class and is what the parser
and the printers consult -- one registry, no string ``if/elif`` chains.

Arguments follow Vensim's order exactly, e.g. ``DELAY N(input, delay time, initial, order)``.
"""

from __future__ import annotations

from typing import ClassVar

import sympy

__all__ = [
    "TIME",
    "TIME_STEP",
    "INITIAL_TIME",
    "FINAL_TIME",
    "SAVEPER",
    "BUILTIN_SYMBOLS",
    "SDFunction",
    "StatefulFunction",
    "STEP",
    "PULSE",
    "PULSE_TRAIN",
    "RAMP",
    "ZIDZ",
    "XIDZ",
    "INTEGER",
    "FLOOR",
    "floor_of",
    "RandomDraw",
    "UNIFORM_DRAW",
    "NORMAL_DRAW",
    "EXPONENTIAL_DRAW",
    "LOGNORMAL_DRAW",
    "POISSON_DRAW",
    "STELLA_DRAWS",
    "uniform_draw",
    "unseeded_stream",
    "MODULO",
    "QUANTUM",
    "LOOKUP",
    "WITH_LOOKUP",
    "INITIAL",
    "DELAY1",
    "DELAY1I",
    "DELAY3",
    "DELAY3I",
    "DELAY_N",
    "DELAY_FIXED",
    "SMOOTH",
    "SMOOTHI",
    "SMOOTH3",
    "SMOOTH3I",
    "SMOOTH_N",
    "TREND",
    "FORECAST",
    "SUBSCRIPT",
    "VENSIM_CALL",
    "BUILTIN_FUNCTIONS",
    "MATH_FUNCTIONS",
    "is_stateful",
]

# Builtin symbols. The "@" keeps them apart from any variable key (keys never contain "@"
# at the start because the parser reads "@" as an error).
TIME = sympy.Symbol("@time", real=True)
TIME_STEP = sympy.Symbol("@time step", positive=True)
INITIAL_TIME = sympy.Symbol("@initial time", real=True)
FINAL_TIME = sympy.Symbol("@final time", real=True)
SAVEPER = sympy.Symbol("@saveper", positive=True)

#: Canonical Vensim name -> builtin symbol.
BUILTIN_SYMBOLS: dict[str, sympy.Symbol] = {
    "time": TIME,
    "time step": TIME_STEP,
    "initial time": INITIAL_TIME,
    "final time": FINAL_TIME,
    "saveper": SAVEPER,
}


class SDFunction(sympy.Function):
    """Base of the SD builtins: unevaluated, with the Vensim spelling attached."""

    vensim: ClassVar[str] = ""
    #: Depends on TIME (or TIME STEP) although TIME is not an argument.
    time_dependent: ClassVar[bool] = False


class StatefulFunction(SDFunction):
    """A builtin with memory (delays, smooths, trends): expanded into stocks when compiled."""


class STEP(SDFunction):
    """``STEP(height, step time)``: 0 before ``step time``, ``height`` from then on.

    Vensim's half-step rule: the step is on at time t when ``t + TIME STEP/2 > step time``.
    """

    vensim = "STEP"
    nargs = 2
    time_dependent = True


class PULSE(SDFunction):
    """``PULSE(start, width)``: 1 while ``start <= t < start + width``; a zero width is one dt."""

    vensim = "PULSE"
    nargs = 2
    time_dependent = True


class PULSE_TRAIN(SDFunction):
    """``PULSE TRAIN(start, width, repeat time, end)``: pulses repeating every ``repeat time``."""

    vensim = "PULSE TRAIN"
    nargs = 4
    time_dependent = True


class RAMP(SDFunction):
    """``RAMP(slope, start, end)``: 0 before ``start``, ``slope*(t-start)``, flat after ``end``."""

    vensim = "RAMP"
    nargs = 3
    time_dependent = True


class ZIDZ(SDFunction):
    """``ZIDZ(a, b)``: ``a/b``, or 0 where ``|b|`` is below Vensim's 1e-6."""

    vensim = "ZIDZ"
    nargs = 2


class XIDZ(SDFunction):
    """``XIDZ(a, b, x)``: ``a/b``, or ``x`` where ``|b|`` is below Vensim's 1e-6."""

    vensim = "XIDZ"
    nargs = 3


class INTEGER(SDFunction):
    """``INTEGER(x)``: ``x`` truncated toward zero (Vensim's integer part).

    Declared real: sympy otherwise takes ``INTEGER`` of a product of subscripted references
    for non-real and refuses to compare it (XMILE's ``INT`` is read as a comparison with it).
    """

    vensim = "INTEGER"
    nargs = 1
    is_extended_real = True
    is_real = True


class FLOOR(SDFunction):
    """``FLOOR(x)``: the largest whole number not above ``x`` (XMILE's ``INT``; Vensim has no
    name for it and writes ``IF THEN ELSE(x < INTEGER(x), INTEGER(x) - 1, INTEGER(x))``).

    A builtin of its own, not that ``IF``: sympy folds conditions that hold an ``IF`` (an
    index computed with ``INT(TIME MOD 5)``) through simplify_logic, in exponential time.
    """

    vensim = ""
    nargs = 1
    is_extended_real = True
    is_real = True


def floor_of(condition: sympy.Basic, then: sympy.Basic, otherwise: sympy.Basic) -> FLOOR | None:
    """``FLOOR(x)`` if ``IF THEN ELSE(condition, then, otherwise)`` is how Vensim text spells
    it (``x < INTEGER(x)``, ``INTEGER(x) - 1``, ``INTEGER(x)``: what the printers write for
    ``FLOOR``), else ``None``; readers call it so that a written ``FLOOR`` reads back as one.

    >>> x = sympy.Symbol("x")
    >>> floor_of(x < INTEGER(x), INTEGER(x) - 1, INTEGER(x))
    FLOOR(x)
    """
    if not isinstance(otherwise, INTEGER) or not isinstance(condition, sympy.StrictLessThan):
        return None
    x = otherwise.args[0]
    if then != otherwise - 1:
        return None
    if condition.args != (x, otherwise):  # sympy may have scaled it: a/3 < ... as a < 3*...
        ratio = sympy.cancel((condition.lhs - condition.rhs) / (x - otherwise))
        if not (ratio.is_Number and ratio > 0):
            return None
    return FLOOR(x)


class RandomDraw(SDFunction):
    """A new random number every time step (Stella's ``RANDOM``, ``NORMAL``, ``EXPRND``,
    ``LOGNORMAL``; XMILE 3.5.2). The last two arguments are the ``seed`` (-1: none) and the
    call's ``occurrence`` (its number among identical calls of its equation, from 1), which
    keeps them apart (sympy would otherwise take ``RANDOM(0,1) - RANDOM(0,1)`` for 0).

    The numbers are a counter-based stream, :func:`uniform_draw` ``(stream, 2*step)`` and
    ``(stream, 2*step + 1)``, where ``step`` counts time steps from the start (the DT a time is
    in: under Runge-Kutta the stages at ``t`` and ``t + DT/2`` draw step ``k``'s number, the
    stage at ``t + DT`` step ``k + 1``'s, as a noise input sampled on the grid). A seeded call's
    stream is its seed, so every call with one seed draws the same repeatable sequence; an
    unseeded call's stream is :func:`unseeded_stream` of its (flattened) variable and the call:
    repeatable from run to run, and different for each call and array element.
    Stella's own generator is undocumented (xmile-semantics.md, section 6): the draws follow
    its distributions, not its numbers.
    """

    time_dependent = True
    #: How many distribution parameters come before the seed.
    parameters: ClassVar[int] = 2
    #: Stella's name of the builtin.
    stella: ClassVar[str] = ""


class UNIFORM_DRAW(RandomDraw):
    """``RANDOM(min, max[, seed])``: uniform on ``[min, max)``."""

    nargs = 4
    stella = "RANDOM"


class NORMAL_DRAW(RandomDraw):
    """``NORMAL(mean, sd[, seed])``: normal (Box-Muller on two uniforms)."""

    nargs = 4
    stella = "NORMAL"


class EXPONENTIAL_DRAW(RandomDraw):
    """``EXPRND(mean[, seed])``: exponential with that mean."""

    nargs = 3
    parameters = 1
    stella = "EXPRND"


class LOGNORMAL_DRAW(RandomDraw):
    """``LOGNORMAL(mean, sd[, seed])``: lognormal whose values have that mean and standard
    deviation (the underlying normal has ``sigma^2 = ln(1 + sd^2/mean^2)`` and
    ``mu = ln(mean) - sigma^2/2``)."""

    nargs = 4
    stella = "LOGNORMAL"


class POISSON_DRAW(RandomDraw):
    """``POISSON(mean[, seed])``: a whole number of events with that mean, by inversion of
    the distribution from 0 (a mean above 700, where ``exp(-mean)`` underflows, by the rounded
    normal approximation, which is within 1% of it there); a mean at or below 0 draws 0."""

    nargs = 3
    parameters = 1
    stella = "POISSON"


#: Stella's name (lower case) -> the draw: the XMILE reader and the IR's readers share it.
STELLA_DRAWS: dict[str, type[RandomDraw]] = {
    cls.stella.lower(): cls
    for cls in (UNIFORM_DRAW, NORMAL_DRAW, EXPONENTIAL_DRAW, LOGNORMAL_DRAW, POISSON_DRAW)
}

_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """SplitMix64's finaliser (Steele, Lea and Flood 2014), on 64-bit unsigned integers."""
    z = (x + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def uniform_draw(stream: int, counter: int) -> float:
    """The uniform number in ``[0, 1)`` of ``stream`` at ``counter``: the native backend
    computes the same bits (``sd_uniform`` in its generated code).

    >>> uniform_draw(5, 0) == uniform_draw(5, 0), 0 <= uniform_draw(5, 1) < 1
    (True, True)
    """
    key = _mix(stream & _MASK) ^ (counter & _MASK)
    return (_mix(key) >> 11) * 2.0**-53


def unseeded_stream(key: str, call: RandomDraw) -> int:
    """The stream of an unseeded ``call`` in variable ``key``: above every seed (``2**32`` and
    up), below ``2**52`` (it travels as a double), from a digest of the key, the call's kind
    and parameters, and its occurrence (which only tells identical calls apart, so printing
    an equation in another order keeps every call's stream)."""
    import hashlib

    *parameters, _, occurrence = call.args
    text = f"{key}\n{type(call).__name__}{sympy.srepr(tuple(parameters))}\n{occurrence}"
    digest = hashlib.sha256(text.encode()).digest()
    return (1 << 32) + int.from_bytes(digest[:8], "little") % ((1 << 52) - (1 << 32))


class QUANTUM(SDFunction):
    """``QUANTUM(x, q)``: ``q*INTEGER(x/q)`` for ``q > 0``, else ``x``."""

    vensim = "QUANTUM"
    nargs = 2


class MODULO(SDFunction):
    """``MODULO(x, m)``: ``x - QUANTUM(x, m)``, so the result has the sign of ``x``."""

    vensim = "MODULO"
    nargs = 2


class LOOKUP(SDFunction):
    """A call of a named lookup: ``LOOKUP(Symbol(lookup key), x)``."""

    vensim = ""
    nargs = 2


class WITH_LOOKUP(SDFunction):
    """``WITH LOOKUP(x, ((x1,y1), ...))`` as ``WITH_LOOKUP(x, Tuple(xs), Tuple(ys))``."""

    vensim = "WITH LOOKUP"
    nargs = 3


class INITIAL(SDFunction):
    """``INITIAL(x)``: the value of ``x`` at the initial time, held for the whole run.

    It has memory but no dynamics, so it stays a primitive (not a stock) after compilation.
    """

    vensim = "INITIAL"
    nargs = 1


class DELAY1(StatefulFunction):
    """``DELAY1(input, delay time)``: first-order material delay; starts at equilibrium."""

    vensim = "DELAY1"
    nargs = 2


class DELAY1I(StatefulFunction):
    """``DELAY1I(input, delay time, initial output)``."""

    vensim = "DELAY1I"
    nargs = 3


class DELAY3(StatefulFunction):
    """``DELAY3(input, delay time)``: three first-order stages of ``delay time/3`` each."""

    vensim = "DELAY3"
    nargs = 2


class DELAY3I(StatefulFunction):
    """``DELAY3I(input, delay time, initial output)``."""

    vensim = "DELAY3I"
    nargs = 3


class DELAY_N(StatefulFunction):
    """``DELAY N(input, delay time, initial output, order)``; the order must be a constant."""

    vensim = "DELAY N"
    nargs = 4


class DELAY_FIXED(StatefulFunction):
    """``DELAY FIXED(input, delay time, initial output)``: a pipeline (conveyor) delay.

    A pipeline is not a finite set of ODE stocks, so expansion keeps it as a primitive with a
    buffer of past inputs; it still breaks algebraic loops like a stock does.
    """

    vensim = "DELAY FIXED"
    nargs = 3


class SMOOTH(StatefulFunction):
    """``SMOOTH(input, smoothing time)``: first-order exponential smoothing."""

    vensim = "SMOOTH"
    nargs = 2


class SMOOTHI(StatefulFunction):
    """``SMOOTHI(input, smoothing time, initial value)``."""

    vensim = "SMOOTHI"
    nargs = 3


class SMOOTH3(StatefulFunction):
    """``SMOOTH3(input, smoothing time)``: three cascaded smooths of ``time/3`` each."""

    vensim = "SMOOTH3"
    nargs = 2


class SMOOTH3I(StatefulFunction):
    """``SMOOTH3I(input, smoothing time, initial value)``."""

    vensim = "SMOOTH3I"
    nargs = 3


class SMOOTH_N(StatefulFunction):
    """``SMOOTH N(input, smoothing time, initial value, order)``."""

    vensim = "SMOOTH N"
    nargs = 4


class TREND(StatefulFunction):
    """``TREND(input, average time, initial trend)``: fractional rate of change.

    ``ZIDZ(input - AV, average time * ABS(AV))`` with ``AV = SMOOTHI(input, average time,
    input/(1 + initial trend*average time))``.
    """

    vensim = "TREND"
    nargs = 3


class FORECAST(StatefulFunction):
    """``FORECAST(input, average time, horizon)``: ``input*(1 + TREND(input, time, 0)*horizon)``.

    Follows PySD: ``input*(1 + ZIDZ(input - AV, average time*AV)*horizon)``, ``AV`` a SMOOTH.
    """

    vensim = "FORECAST"
    nargs = 3


class SUBSCRIPT(SDFunction):
    """A subscripted reference ``x[a1, B]`` as ``SUBSCRIPT(Symbol(key of x), Str("a1"), Str("B"))``.

    Each subscript is a :class:`sympy.core.symbol.Str` (an element, a range, or a range with
    Vensim's ``!`` marking the dimension a vector function runs over), so subscripts never
    appear among an equation's free symbols (which are variable keys).
    """

    vensim = ""


class VENSIM_CALL(SDFunction):
    """A Vensim function without its own class, kept by name: ``VENSIM_CALL(Str(name), *args)``.

    Used for the array and allocation functions (``SUM``, ``VMIN``, ``VECTOR SELECT``,
    ``ALLOCATE BY PRIORITY`` ...), ``GAME``, ``SAMPLE IF TRUE`` and external data (``GET XLS
    ...``) when a model is imported: PySD runs them; the native backend expands most of them
    per element (:mod:`sdhealth.compile.flatten`) and reports the rest unsupported.
    String arguments (file names, cells) are :class:`sympy.core.symbol.Str`. An empty name
    with one ``Str`` argument, ``VENSIM_CALL(Str(""), Str("range"))``, is a subscript range
    used as a value (the number of the current element, as in ``IF THEN ELSE(dim = 2, ...)``).
    """

    vensim = ""


#: Canonical Vensim function name -> SD builtin class.
BUILTIN_FUNCTIONS: dict[str, type[SDFunction]] = {
    cls.vensim.lower(): cls
    for cls in (
        STEP,
        PULSE,
        PULSE_TRAIN,
        RAMP,
        ZIDZ,
        XIDZ,
        INTEGER,
        QUANTUM,
        MODULO,
        WITH_LOOKUP,
        INITIAL,
        DELAY1,
        DELAY1I,
        DELAY3,
        DELAY3I,
        DELAY_N,
        DELAY_FIXED,
        SMOOTH,
        SMOOTHI,
        SMOOTH3,
        SMOOTH3I,
        SMOOTH_N,
        TREND,
        FORECAST,
    )
}


def _log(x: sympy.Expr, base: sympy.Expr | None = None, *, evaluate: bool = True) -> sympy.Expr:
    if base is None:
        return sympy.log(x, evaluate=evaluate)
    return sympy.log(x, evaluate=evaluate) / sympy.log(base, evaluate=evaluate)


#: Canonical Vensim name -> (sympy callable, accepted argument counts) for plain maths.
MATH_FUNCTIONS: dict[str, tuple[object, tuple[int, ...]]] = {
    "abs": (sympy.Abs, (1,)),
    "exp": (sympy.exp, (1,)),
    "ln": (sympy.log, (1,)),
    "log": (_log, (2,)),
    "sqrt": (sympy.sqrt, (1,)),
    "sin": (sympy.sin, (1,)),
    "cos": (sympy.cos, (1,)),
    "tan": (sympy.tan, (1,)),
    "arcsin": (sympy.asin, (1,)),
    "arccos": (sympy.acos, (1,)),
    "arctan": (sympy.atan, (1,)),
    "min": (sympy.Min, (2,)),
    "max": (sympy.Max, (2,)),
    "power": (sympy.Pow, (2,)),
}


def is_stateful(expr: sympy.Basic) -> bool:
    """Whether an expression contains a stateful builtin that compilation must expand.

    >>> x = sympy.Symbol("x")
    >>> is_stateful(SMOOTH(x, 3) + 1), is_stateful(STEP(x, 3))
    (True, False)
    """
    return any(isinstance(node, StatefulFunction) for node in sympy.preorder_traversal(expr))
