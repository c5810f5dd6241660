"""The intermediate representation (IR): frozen dataclasses and sympy equations.

It imports nothing else of sdhealth. See :mod:`sdhealth.ir.model` for the data,
:mod:`sdhealth.ir.functions` for the SD builtins as sympy functions and
:mod:`sdhealth.ir.names` for the mapping between modellers' names and identifiers.
"""

from sdhealth.ir import functions
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Equation,
    Extrapolation,
    Flow,
    Lookup,
    Model,
    Report,
    Sector,
    SourceLocation,
    Stock,
    Subscript,
    TimeSpec,
    Variable,
    key_of,
    symbol,
)
from sdhealth.ir.names import NameTable, canonical, identifier, suggest

__all__ = [
    "Auxiliary",
    "Constant",
    "Equation",
    "Extrapolation",
    "Flow",
    "Lookup",
    "Model",
    "Report",
    "Sector",
    "SourceLocation",
    "Stock",
    "Subscript",
    "TimeSpec",
    "Variable",
    "key_of",
    "symbol",
    "NameTable",
    "canonical",
    "identifier",
    "suggest",
    "functions",
]
