"""The generated benchmark model: a chain of N stocks with nonlinear flows and feedback.

The chain is a pipeline of ``N`` stocks ``Stage k``. Each flow into a stage is throttled by how
full that stage already is (a nonlinear balancing loop per stage), and arrivals into the first
stage fall as the last stage fills up (a long balancing loop through the whole chain)::

    Arrivals = Base arrivals * Capacity / (Capacity + Stage N)
    Congestion k = Capacity / (Capacity + Stage k)
    Transfer k  = Stage k-1 / Stage time * Congestion k         (k = 2..N)
    Exits       = Stage N / Stage time

Every stage has three variables (stock, congestion auxiliary, flow), so the model has ``3N + 4``
variables; ``N = 10, 100, 1000`` are the sizes the suite reports.
"""

from __future__ import annotations

import sympy

from sdhealth.ir.model import Auxiliary, Constant, Equation, Flow, Model, Stock, TimeSpec, symbol

__all__ = ["chain_model"]


def _stage(k: int) -> str:
    return f"Stage {k}"


def _transfer(k: int) -> str:
    return f"Transfer {k}"


def chain_model(n: int, stop: float = 100.0, dt: float = 0.125) -> Model:
    """A chain of ``n`` stocks with nonlinear flows and feedback (see the module docstring).

    >>> len(chain_model(10).variables)
    34
    """
    if n < 1:
        raise ValueError("a chain needs at least one stock")
    capacity, stage_time = symbol("Capacity"), symbol("Stage time")
    variables: list = [
        Constant(name="Base arrivals", value=10.0),
        Constant(name="Capacity", value=50.0),
        Constant(name="Stage time", value=2.0),
        Flow(
            name="Arrivals",
            equation=Equation(symbol("Base arrivals") * capacity / (capacity + symbol(_stage(n)))),
        ),
    ]
    for k in range(1, n + 1):
        inflow = "Arrivals" if k == 1 else _transfer(k)
        outflow = "Exits" if k == n else _transfer(k + 1)
        variables.append(
            Stock(
                name=_stage(k),
                initial=Equation(sympy.Float(k % 7)),
                inflows=(inflow,),
                outflows=(outflow,),
                non_negative=True,
            )
        )
        variables.append(
            Auxiliary(
                name=f"Congestion {k}",
                equation=Equation(capacity / (capacity + symbol(_stage(k)))),
            )
        )
        if k > 1:
            variables.append(
                Flow(
                    name=_transfer(k),
                    equation=Equation(
                        symbol(_stage(k - 1)) / stage_time * symbol(f"Congestion {k}")
                    ),
                )
            )
    variables.append(Flow(name="Exits", equation=Equation(symbol(_stage(n)) / stage_time)))
    return Model(f"chain {n}", TimeSpec(0.0, stop, dt), tuple(variables))
