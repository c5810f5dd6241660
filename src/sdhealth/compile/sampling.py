"""``SAMPLE IF TRUE`` for the native backend: one internal stock per call.

``SAMPLE IF TRUE(condition, input, initial)`` is ``input`` while ``condition`` holds and
otherwise the value it last sampled (``initial`` before it ever held). PySD keeps the sample as
a state updated at the end of each step to ``input`` where ``condition`` holds; under Euler the
same state is a stock ``S`` with initial value ``initial`` and net flow ``(input - S)/TIME STEP``
where ``condition`` holds (0 otherwise), and the call is ``IF THEN ELSE(condition, input, S)``.
:func:`lower_sampling` rewrites every call that way (innermost first, before the expansion of
the other stateful builtins). The stock is exact for Euler only: with Runge-Kutta it moves the
sample within a step (PySD runs Euler only, so there is nothing to compare it with).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import sympy

from sdhealth.ir import functions as fn
from sdhealth.ir.model import Auxiliary, Equation, Flow, Model, Stock, Variable, symbol
from sdhealth.ir.names import canonical

__all__ = ["lower_sampling", "SAMPLE_IF_TRUE"]

SAMPLE_IF_TRUE = "SAMPLE IF TRUE"


def _is_sample(node: sympy.Basic) -> bool:
    return isinstance(node, fn.VENSIM_CALL) and node.args[0].name == SAMPLE_IF_TRUE


@dataclass
class _Sampler:
    """Working state of one lowering (never escapes :func:`lower_sampling`)."""

    taken: set[str]
    made: list[Variable] = field(default_factory=list)
    owner: Variable | None = None
    count: int = 0

    def rewrite(self, expr: sympy.Basic) -> sympy.Basic:
        if not expr.args:
            return expr
        args = tuple(self.rewrite(a) for a in expr.args)
        node = expr.func(*args) if args != expr.args else expr
        return self.lower(node) if _is_sample(node) else node

    def lower(self, call: fn.VENSIM_CALL) -> sympy.Expr:
        condition, value, initial = call.args[1:]
        holds = (
            condition
            if isinstance(condition, sympy.logic.boolalg.Boolean)
            else sympy.Ne(condition, 0)
        )
        assert self.owner is not None
        while True:
            self.count += 1
            base = f"{self.owner.name} SAMPLE IF TRUE {self.count}"
            if canonical(base) not in self.taken and canonical(f"{base} change") not in self.taken:
                break
        self.taken.update({canonical(base), canonical(f"{base} change")})
        sample = symbol(base)
        change = sympy.Piecewise(((value - sample) / fn.TIME_STEP, holds), (0, True))
        doc = f"Generated from SAMPLE IF TRUE in '{self.owner.name}'."
        self.made.append(
            Stock(name=base, initial=Equation(initial), inflows=(f"{base} change",),
                  internal=True, doc=doc, sector=self.owner.sector)
        )  # fmt: skip
        self.made.append(
            Flow(name=f"{base} change", equation=Equation(change), internal=True, doc=doc)
        )
        return sympy.Piecewise((value, holds), (sample, True))


def _equation(sampler: _Sampler, equation: Equation) -> Equation:
    expr = sampler.rewrite(equation.expr)
    return equation if expr == equation.expr else Equation(expr, location=equation.location)


def lower_sampling(model: Model) -> Model:
    """A copy of ``model`` in which no equation calls ``SAMPLE IF TRUE`` (module docstring).

    ``model`` must be scalar (flattened); a model without such calls is returned as is.
    """
    if not any(
        _is_sample(node)
        for v in model.variables
        for eq in v.equations()
        for node in sympy.preorder_traversal(eq.expr)
    ):
        return model
    sampler = _Sampler({v.key for v in model.variables})
    variables: list[Variable] = []
    for variable in model.variables:
        sampler.owner, sampler.count = variable, 0
        if isinstance(variable, Stock):
            variable = replace(variable, initial=_equation(sampler, variable.initial))
        elif isinstance(variable, (Flow, Auxiliary)):
            variable = replace(variable, equation=_equation(sampler, variable.equation))
        variables.append(variable)
        variables.extend(sampler.made)
        sampler.made.clear()
    return replace(model, variables=tuple(variables))
