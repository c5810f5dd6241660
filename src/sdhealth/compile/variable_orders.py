"""``DELAY N``/``SMOOTH N`` orders read from variables, fixed for the native backend.

Vensim and PySD evaluate the order of a ``DELAY N``/``SMOOTH N`` once, when the run starts
(``Order = 2 + STEP(1, 10)`` gives order 2 for the whole run). The native backend expands such a
call into a fixed number of stocks when it compiles the model, before any run. So
:func:`fix_variable_orders` evaluates an order that reads variables at the model's own initial
time and time step, from the model's constants, and writes the number into the call. A run may
start elsewhere or change a constant the order reads; the order it would then have is checked
when that run starts: an internal auxiliary ``"<variable> order check <k>"`` becomes NaN if
the order differs, so the run stops with a :class:`~sdhealth.errors.SimulationError` naming it
instead of running with the wrong number of stages. An order that cannot be evaluated this way
is left alone (the expansion then reports it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import sympy

from sdhealth.compile.expand import ORDER_ARGUMENT, constant_order
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Auxiliary, Constant, Equation, Flow, Model, Stock, Variable

__all__ = ["fix_variable_orders"]


def _at_start(model: Model, expr: sympy.Basic, depth: int = 0) -> sympy.Basic:
    """``expr`` at the model's initial time, variables replaced by their equations."""
    if depth > 50:
        raise ValueError("too deep")
    time = model.time
    clock = {
        fn.TIME: sympy.Float(time.start),
        fn.INITIAL_TIME: sympy.Float(time.start),
        fn.TIME_STEP: sympy.Float(time.dt),
        fn.FINAL_TIME: sympy.Float(time.stop),
        fn.SAVEPER: sympy.Float(time.save_every),
    }
    values: dict[sympy.Basic, sympy.Basic] = {}
    for sym in expr.free_symbols:
        if sym in clock:
            values[sym] = clock[sym]
        elif sym.name in model:
            variable = model[sym.name]
            if isinstance(variable, Constant):
                values[sym] = sympy.Float(variable.value)
            elif isinstance(variable, (Auxiliary, Flow)) and not isinstance(variable, Stock):
                values[sym] = _at_start(model, variable.equation.expr, depth + 1)
            else:
                raise ValueError(f"it reads {variable.name!r}")
    result = expr.xreplace(values)
    return result.replace(
        lambda node: isinstance(node, fn.STEP),
        lambda node: sympy.Piecewise(
            (node.args[0], clock[fn.TIME] + clock[fn.TIME_STEP] / 2 > node.args[1]), (0, True)
        ),
    )


def _needs_fixing(call: sympy.Basic, constants: Mapping[str, float]) -> bool:
    """Whether the order reads more than numbers and constants (variables, ``TIME``, ``STEP``)."""
    try:
        constant_order(call.args[ORDER_ARGUMENT[type(call)]], constants)
    except (ValueError, TypeError):
        return True
    return False


def _fixed(model: Model, call: sympy.Basic) -> int | None:
    try:
        value = _at_start(model, call.args[ORDER_ARGUMENT[type(call)]])
        number = float(value.evalf()) if value.is_number else None
    except (ValueError, TypeError, RecursionError):
        return None
    if number is None or number != round(number) or number < 1:
        return None
    return int(round(number))


def fix_variable_orders(model: Model) -> Model:
    """A copy of ``model`` whose variable ``DELAY N``/``SMOOTH N`` orders are numbers (doc)."""
    constants: Mapping[str, float] = {
        v.key: v.value for v in model.variables if isinstance(v, Constant)
    }
    variables: list[Variable] = []
    changed = False
    for variable in model.variables:
        equation = getattr(variable, "equation", None)
        calls = [
            node
            for node in (() if equation is None else sympy.preorder_traversal(equation.expr))
            if type(node) in ORDER_ARGUMENT and _needs_fixing(node, constants)
        ]
        fixes = {call: _fixed(model, call) for call in calls}
        fixes = {call: n for call, n in fixes.items() if n is not None}
        if not fixes or equation is None or not isinstance(variable, (Auxiliary, Flow)):
            variables.append(variable)
            continue
        changed = True
        index = ORDER_ARGUMENT
        new = equation.expr.xreplace(
            {
                call: call.func(
                    *(n if i == index[type(call)] else a for i, a in enumerate(call.args))
                )
                for call, n in fixes.items()
            }
        )
        variables.append(replace(variable, equation=Equation(new, location=equation.location)))
        for k, (call, n) in enumerate(fixes.items(), start=1):
            order = fn.INITIAL(call.args[ORDER_ARGUMENT[type(call)]])
            check = sympy.Piecewise((0, sympy.Eq(order, n)), (sympy.nan, True))
            variables.append(
                Auxiliary(
                    name=f"{variable.name} order check {k}",
                    equation=Equation(check),
                    internal=True,
                    doc=f"NaN when the run starts with another order than {n} (compiled with).",
                )
            )
    return replace(model, variables=tuple(variables)) if changed else model
