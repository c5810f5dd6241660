"""The abstract syntax both model readers build: sdhealth's own classes, in PySD's shapes.

sdhealth's Vensim and XMILE readers (:mod:`sdhealth.io.mdl_parser`,
:mod:`sdhealth.io.xmile_parser`) build the same trees as PySD's translators (the classes of
``pysd.translators.structures``: one ``...Structure`` per construct, ``AbstractElement`` s with
``AbstractComponent`` s in ``AbstractSection`` s of an ``AbstractModel``), with the same class
names and fields, so :mod:`sdhealth.io.abstract` turns either front end's result into the IR.
The classes live here rather than being imported from PySD because importing any part of PySD
runs ``pysd/__init__``, which imports xarray and PySD's whole runtime (about 0.5 s): reading a
model must not cost that. :func:`from_pysd` turns PySD's tree (``front_end="pysd"``) into
these classes.

:data:`VENSIM` and :data:`XMILE` map the names of the functions each language's parser meets
to the builders of their trees, as PySD's ``vensim_structures`` and ``xmile_structures`` do
(an XMILE builder of several arities is a dict by argument count).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "VENSIM",
    "XMILE",
    "AbstractComponent",
    "AbstractElement",
    "AbstractModel",
    "AbstractSection",
    "from_pysd",
]


class AbstractSyntax:
    """Any node of an equation's tree."""


@dataclass
class ArithmeticStructure(AbstractSyntax):
    """``arguments[0] operators[0] arguments[1] ...``; ``["negative"]`` is a unary minus."""

    operators: list
    arguments: Any


@dataclass
class LogicStructure(AbstractSyntax):
    """Comparisons and ``:AND:``/``:OR:``/``:NOT:``, in the arithmetic shape."""

    operators: list
    arguments: Any


@dataclass
class SubscriptsReferenceStructure(AbstractSyntax):
    """The subscripts of a reference, ``x[a, B!]``."""

    subscripts: Any


@dataclass
class ReferenceStructure(AbstractSyntax):
    """A name, with its subscripts if it has some."""

    reference: str
    subscripts: SubscriptsReferenceStructure | None = None


@dataclass
class CallStructure(AbstractSyntax):
    """A function call kept by name."""

    function: ReferenceStructure
    arguments: Any


@dataclass
class GameStructure(AbstractSyntax):
    expression: Any


@dataclass
class AllocateAvailableStructure(AbstractSyntax):
    request: Any
    pp: Any
    avail: Any


@dataclass
class AllocateByPriorityStructure(AbstractSyntax):
    request: Any
    priority: Any
    size: Any
    width: Any
    supply: Any


@dataclass
class InitialStructure(AbstractSyntax):
    initial: Any


@dataclass
class IntegStructure(AbstractSyntax):
    flow: Any
    initial: Any
    non_negative: bool | None = False


@dataclass
class DelayStructure(AbstractSyntax):
    input: Any
    delay_time: Any
    initial: Any
    order: Any


@dataclass
class DelayNStructure(AbstractSyntax):
    input: Any
    delay_time: Any
    initial: Any
    order: Any


@dataclass
class DelayFixedStructure(AbstractSyntax):
    input: Any
    delay_time: Any
    initial: Any


@dataclass
class SmoothStructure(AbstractSyntax):
    input: Any
    smooth_time: Any
    initial: Any
    order: Any


@dataclass
class SmoothNStructure(AbstractSyntax):
    input: Any
    smooth_time: Any
    initial: Any
    order: Any


@dataclass
class TrendStructure(AbstractSyntax):
    input: Any
    average_time: Any
    initial_trend: Any


@dataclass
class ForecastStructure(AbstractSyntax):
    input: Any
    average_time: Any
    horizon: Any
    initial_trend: Any


@dataclass
class SampleIfTrueStructure(AbstractSyntax):
    condition: Any
    input: Any
    initial: Any


@dataclass
class LookupsStructure(AbstractSyntax):
    """A table: points, the ranges declared, and ``type`` (``"interpolate"``, ...)."""

    x: tuple
    y: tuple
    x_limits: tuple
    y_limits: tuple
    type: str


@dataclass
class InlineLookupsStructure(AbstractSyntax):
    """A table applied to ``argument`` where it is defined (``WITH LOOKUP``, a ``<gf>``)."""

    argument: Any
    lookups: LookupsStructure


@dataclass
class DataStructure(AbstractSyntax):
    """Data given at run time (a ``:=`` equation without a source)."""


@dataclass
class GetLookupsStructure(AbstractSyntax):
    file: str
    tab: str
    x_row_or_col: str
    cell: str


@dataclass
class GetDataStructure(AbstractSyntax):
    file: str
    tab: str
    time_row_or_col: str
    cell: str


@dataclass
class GetConstantsStructure(AbstractSyntax):
    file: str
    tab: str
    cell: str


@dataclass
class AbstractComponent:
    """One equation of an element: its subscripts ``(dims, exceptions)`` and tree."""

    subscripts: tuple
    ast: object
    type: str = "Auxiliary"
    subtype: str = "Normal"


@dataclass
class AbstractUnchangeableConstant(AbstractComponent):
    type: str = "Constant"
    subtype: str = "Unchangeable"


@dataclass
class AbstractLookup(AbstractComponent):
    type: str = "Lookup"
    subtype: str = "Hardcoded"
    arguments: str = "x"


@dataclass
class AbstractData(AbstractComponent):
    type: str = "Data"
    subtype: str = "Normal"
    keyword: str | None = None


@dataclass
class AbstractElement:
    """A variable: its equations, units, range and documentation."""

    name: str
    components: list
    units: str = ""
    limits: tuple = (None, None)
    documentation: str = ""


@dataclass
class AbstractControlElement(AbstractElement):
    """``INITIAL TIME``, ``FINAL TIME``, ``TIME STEP``, ``SAVEPER``."""


@dataclass
class AbstractSubscriptRange:
    name: str
    subscripts: Any
    mapping: list


@dataclass
class AbstractConstraint:
    name: str
    subscripts: Any
    expression: str


@dataclass
class AbstractTestInput:
    name: str
    subscripts: Any
    expression: str


@dataclass
class AbstractSection:
    """The model or a macro: its parameters, results, ranges and elements."""

    name: str
    path: Path
    type: str
    params: list
    returns: list
    subscripts: tuple
    elements: tuple
    constraints: tuple
    test_inputs: tuple
    split: bool
    views_dict: dict | None


@dataclass
class AbstractModel:
    original_path: Path
    sections: tuple = field(default_factory=tuple)


def _call(name: str, *arguments: Any) -> CallStructure:
    return CallStructure(ReferenceStructure(name), arguments)


#: Vensim function names (as the parser spells them) -> the builders of their trees.
VENSIM: dict[str, Any] = {
    "reference": ReferenceStructure,
    "subscripts_ref": SubscriptsReferenceStructure,
    "arithmetic": ArithmeticStructure,
    "logic": LogicStructure,
    "with_lookup": InlineLookupsStructure,
    "call": CallStructure,
    "game": GameStructure,
    "allocate_available": AllocateAvailableStructure,
    "allocate_by_priority": AllocateByPriorityStructure,
    "get_xls_lookups": GetLookupsStructure,
    "get_direct_lookups": GetLookupsStructure,
    "get_xls_data": GetDataStructure,
    "get_direct_data": GetDataStructure,
    "get_xls_constants": GetConstantsStructure,
    "get_direct_constants": GetConstantsStructure,
    "initial": InitialStructure,
    "integ": IntegStructure,
    "delay1": lambda x, y: DelayStructure(x, y, x, 1),
    "delay1i": lambda x, y, z: DelayStructure(x, y, z, 1),
    "delay3": lambda x, y: DelayStructure(x, y, x, 3),
    "delay3i": lambda x, y, z: DelayStructure(x, y, z, 3),
    "delay_n": DelayNStructure,
    "delay_fixed": DelayFixedStructure,
    "smooth": lambda x, y: SmoothStructure(x, y, x, 1),
    "smoothi": lambda x, y, z: SmoothStructure(x, y, z, 1),
    "smooth3": lambda x, y: SmoothStructure(x, y, x, 3),
    "smooth3i": lambda x, y, z: SmoothStructure(x, y, z, 3),
    "smooth_n": SmoothNStructure,
    "trend": TrendStructure,
    "forecast": lambda x, y, z: ForecastStructure(x, y, z, 0),
    "sample_if_true": SampleIfTrueStructure,
    "lookup": LookupsStructure,
    "data": DataStructure,
    "pulse_train": lambda start, width, interval, end: _call(
        "pulse_train", start, interval, width, end
    ),
}


def _ordered(kind: type, order: int | None = None) -> dict[int, Any]:
    """XMILE's ``DELAY1/3(x, t[, i])``, ``SMTH1/3(x, t[, i])`` (``order`` given) and
    ``DELAYN/SMTHN(x, t, n[, i])`` (``order=None``): the initial value, when not given, is the
    input's."""
    if order is not None:
        return {
            2: lambda x, t: kind(x, t, x, order),
            3: lambda x, t, i: kind(x, t, i, order),
        }
    return {3: lambda x, t, n: kind(x, t, x, n), 4: lambda x, t, n, i: kind(x, t, i, n)}


#: XMILE function names (lower case) -> builders; a dict of builders by argument count where
#: one name has several forms.
XMILE: dict[str, Any] = {
    "reference": ReferenceStructure,
    "subscripts_ref": SubscriptsReferenceStructure,
    "arithmetic": ArithmeticStructure,
    "logic": LogicStructure,
    "inline_lookup": InlineLookupsStructure,
    "lookup": LookupsStructure,
    "call": CallStructure,
    "init": InitialStructure,
    "stock": IntegStructure,
    "delay": {
        2: lambda x, y: DelayFixedStructure(x, y, x),
        3: DelayFixedStructure,
    },
    "delay1": _ordered(DelayStructure, 1),
    "delay3": _ordered(DelayStructure, 3),
    "delayn": _ordered(DelayNStructure),
    "smth1": _ordered(SmoothStructure, 1),
    "smth3": _ordered(SmoothStructure, 3),
    "smthn": _ordered(SmoothNStructure),
    "trend": {
        2: lambda x, y: TrendStructure(x, y, 0),
        3: TrendStructure,
    },
    "forcst": {
        3: lambda x, y, z: ForecastStructure(x, y, z, 0),
        4: ForecastStructure,
    },
    "safediv": {
        2: lambda x, y: _call("zidz", x, y),
        3: lambda x, y, z: _call("xidz", x, y, z),
    },
    "if_then_else": lambda x, y, z: _call("if_then_else", x, y, z),
    "ramp": {
        2: lambda x, y: _call("Xramp", x, y),
        3: lambda x, y, z: _call("ramp", x, y, z),
    },
    "pulse": {
        2: lambda magnitude, start: _call("Xpulse", start, magnitude),
        3: lambda magnitude, start, interval: _call("Xpulse_train", start, interval, magnitude),
    },
    "max": {1: lambda x: _call("vmax_xmile", x), 2: lambda x, y: _call("max", x, y)},
    "min": {1: lambda x: _call("vmin_xmile", x), 2: lambda x, y: _call("min", x, y)},
    "negative": lambda x: ArithmeticStructure(["negative"], (x,)),
    "int": lambda x: _call("integer", x),
}

_OURS = {
    name: value
    for name, value in dict(globals()).items()
    if isinstance(value, type) and dataclasses.is_dataclass(value)
}
_PYSD_PACKAGE = "pysd.translators.structures."


def from_pysd(value: Any) -> Any:
    """PySD's abstract syntax (``front_end="pysd"``) as this module's classes, recursively.

    >>> from_pysd(AbstractModel(Path("m.mdl"))) == AbstractModel(Path("m.mdl"))
    True
    """
    kind = type(value)
    if kind.__module__.startswith(_PYSD_PACKAGE):
        ours = _OURS[kind.__name__]
        return ours(**{f.name: from_pysd(getattr(value, f.name)) for f in dataclasses.fields(ours)})
    if kind is tuple or kind is list:
        return kind(from_pysd(item) for item in value)
    if kind is dict:
        return {key: from_pysd(item) for key, item in value.items()}
    return value
