"""Where every value of a compiled model lives: the slot layout shared by code and kernel.

The generated step functions and the fixed kernel (:mod:`sdhealth.backends.native.kernel`)
exchange plain ``float64`` arrays. :class:`Layout` says which index of which array holds what:

``state``
    one slot per stock (modellers' and the internal stocks of expanded delays and smooths);
``params``
    one slot per constant (a run's parameters overwrite these);
``values``
    one slot per stock, flow, auxiliary and constant, in model order with the internal ones
    (of expanded delays and smooths) last, so that a run's default columns are one contiguous
    block the kernel copies in one go: what a run returns;
``memory``
    one slot per ``INITIAL`` call (its value at the start) and then one per ``DELAY FIXED``
    call (its current output);
``delay_inputs``
    one slot per ``DELAY FIXED`` call: its input at the current time (its pipeline length
    during initialisation).

A layout is plain data (it is stored next to the compiled code in the disk cache).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import sympy

from sdhealth.ir import functions as fn
from sdhealth.ir.model import Auxiliary, Constant, Flow, Model, Stock

__all__ = ["Layout", "build_layout", "stateful_calls"]


@dataclass(frozen=True)
class Layout:
    """Slot indices of a compiled model (see the module docstring).

    ``value_keys[j]`` is the variable in ``values[j]``; ``stock_values[i]`` is the index in
    ``values`` of ``state[i]``; ``non_negative`` lists the state slots that must stay >= 0;
    ``has_clock`` says the code has an ``sd_clock`` function (clock settings are equations).
    """

    value_keys: tuple[str, ...]
    value_names: tuple[str, ...]
    stock_keys: tuple[str, ...]
    stock_values: tuple[int, ...]
    param_keys: tuple[str, ...]
    param_defaults: tuple[float, ...]
    non_negative: tuple[int, ...]
    internal: tuple[bool, ...]
    n_initials: int
    n_delays: int
    has_clock: bool = False

    @property
    def n_memory(self) -> int:
        return self.n_initials + self.n_delays

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Layout:
        data: dict[str, Any] = json.loads(text)
        fields: dict[str, Any] = {}
        for key, value in data.items():
            fields[key] = tuple(value) if isinstance(value, list) else value
        return cls(**fields)


def stateful_calls(model: Model) -> tuple[tuple[sympy.Basic, ...], tuple[sympy.Basic, ...]]:
    """The distinct ``INITIAL`` and ``DELAY FIXED`` calls of ``model``, in first-use order."""
    initials: dict[sympy.Basic, None] = {}
    delays: dict[sympy.Basic, None] = {}
    for variable in model.variables:
        for equation in variable.equations():
            for node in sympy.postorder_traversal(equation.expr):
                if isinstance(node, fn.INITIAL):
                    initials.setdefault(node)
                elif isinstance(node, fn.DELAY_FIXED):
                    delays.setdefault(node)
    return tuple(initials), tuple(delays)


def build_layout(model: Model) -> Layout:
    """The layout of an expanded model (no stateful builtins but ``DELAY FIXED``)."""
    valued = [v for v in model.variables if isinstance(v, (Stock, Flow, Auxiliary, Constant))]
    valued.sort(key=lambda v: v.internal)  # stable: see module doc
    value_keys = tuple(v.key for v in valued)
    position = {key: j for j, key in enumerate(value_keys)}
    stocks = model.stocks
    constants = [v for v in model.variables if isinstance(v, Constant)]
    initials, delays = stateful_calls(model)
    return Layout(
        value_keys=value_keys,
        value_names=tuple(v.name for v in valued),
        stock_keys=tuple(s.key for s in stocks),
        stock_values=tuple(position[s.key] for s in stocks),
        param_keys=tuple(c.key for c in constants),
        param_defaults=tuple(float(c.value) for c in constants),
        non_negative=tuple(i for i, s in enumerate(stocks) if s.non_negative),
        internal=tuple(v.internal for v in valued),
        n_initials=len(initials),
        n_delays=len(delays),
    )
