"""The one place that maps modellers' names to keys and identifiers.

Modellers write names as they like ("RTT waiting list", "A&E attendances"). Vensim treats names
case-insensitively and takes spaces and underscores as the same character; sdhealth does the
same. Three forms exist, and every other module asks this one for them:

- the *display name*: exactly as written where the variable is defined (kept in the IR);
- the *key* (:func:`canonical`): lower case, runs of spaces/underscores collapsed to one space.
  It is the identity of a variable: the IR's sympy ``Symbol`` for a variable is named by its key;
- the *identifier* (:func:`identifier`): a Python/Vensim-safe token (``rtt_waiting_list``) used
  by code generators and backends. :class:`NameTable` makes identifiers unique within a model.
"""

from __future__ import annotations

import difflib
import functools
import keyword
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["canonical", "identifier", "NameTable", "suggest", "RESERVED_IDENTIFIERS"]

_SEPARATORS = re.compile(r"[\s_]+")
_NOT_IDENT = re.compile(r"[^0-9a-z_]+")

#: Identifiers a generated model must not use for a variable: Python keywords, PySD's and
#: Vensim's control names and the Python names PySD puts in every translated module.
RESERVED_IDENTIFIERS = frozenset(
    set(keyword.kwlist)
    | {
        "time",
        "time_step",
        "initial_time",
        "final_time",
        "saveper",
        "self",
        "np",
        "xr",
        "pd",
        "math",
        "functions",
        "statefuls",
        "lookups",
        "data",
        "external",
        "utils",
        "component",
        "cache",
        "model",
        "integ",
        "step",
        "pulse",
        "ramp",
        "if_then_else",
        "zidz",
        "xidz",
        "integer",
        "modulo",
        "lookup",
        "smooth",
        "delay",
        "trend",
        "forecast",
        "initial",
        "min",
        "max",
        "abs",
        "sum",
        "exp",
        "ln",
        "sqrt",
        "_subscript_dict",
        "_root",
        "_namespace",
        "_dependencies",
        "__data",
    }
    # Vensim/PySD function names: a variable with one of these identifiers is read as the
    # function by PySD's translator (e.g. a variable "pulse train" breaks PULSE TRAIN calls).
    | {
        "active_initial",
        "allocate_available",
        "allocate_by_priority",
        "arccos",
        "arcsin",
        "arctan",
        "arithmetic",
        "call",
        "cos",
        "cosh",
        "delay1",
        "delay1i",
        "delay3",
        "delay3i",
        "delay_fixed",
        "delay_n",
        "elmcount",
        "game",
        "get_data_at_time",
        "get_direct_constants",
        "get_direct_data",
        "get_direct_lookups",
        "get_time_value",
        "get_xls_constants",
        "get_xls_data",
        "get_xls_lookups",
        "invert_matrix",
        "log",
        "logic",
        "lookup_area",
        "lookup_backward",
        "lookup_extrapolate",
        "lookup_forward",
        "lookup_invert",
        "pi",
        "power",
        "prod",
        "pulse_train",
        "quantum",
        "random_0_1",
        "random_exponential",
        "random_normal",
        "random_uniform",
        "reference",
        "sample_if_true",
        "sin",
        "sinh",
        "smooth3",
        "smooth3i",
        "smooth_n",
        "smoothi",
        "subscripts_ref",
        "tabbed_array",
        "tan",
        "tanh",
        "vector_rank",
        "vector_reorder",
        "vector_select",
        "vector_sort_order",
        "vmax",
        "vmin",
        "with_lookup",
    }
)


@functools.lru_cache(maxsize=1 << 16)
def canonical(name: str) -> str:
    """The key of a name: case-folded, whitespace/underscores collapsed, ends trimmed.

    Remembered per name: a check of a model of 3,000 variables asks for about 80,000 keys.

    >>> canonical("  RTT   Waiting_list ")
    'rtt waiting list'
    >>> canonical('"G&A beds"')
    'g&a beds'
    """
    text = name.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    text = unicodedata.normalize("NFC", text)
    return _SEPARATORS.sub(" ", text).strip().casefold()


def identifier(name: str) -> str:
    """A Python/Vensim-safe identifier for a name (not yet made unique; see :class:`NameTable`).

    >>> identifier("A&E 4-hour performance")
    'a_e_4_hour_performance'
    >>> identifier("4 hour target")
    'v_4_hour_target'
    >>> identifier("Time")
    'time_var'
    """
    ascii_text = unicodedata.normalize("NFKD", canonical(name)).encode("ascii", "ignore").decode()
    ident = _NOT_IDENT.sub("_", ascii_text).strip("_")
    ident = re.sub(r"_+", "_", ident) or "v"
    if ident[0].isdigit():
        ident = "v_" + ident
    if ident in RESERVED_IDENTIFIERS:
        ident += "_var"
    return ident


def suggest(name: str, known: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Known names closest to ``name`` (display names), for "did you mean" messages.

    Names are compared by their :func:`canonical` keys (case, spaces and underscores do not
    count), with :func:`difflib.get_close_matches`.

    >>> suggest("Teacup Temprature", ["Teacup Temperature", "Room Temperature"])
    ['Teacup Temperature', 'Room Temperature']
    """
    by_key: dict[str, str] = {}
    for display in known:
        by_key.setdefault(canonical(display), display)
    matches = difflib.get_close_matches(canonical(name), list(by_key), n=n, cutoff=cutoff)
    return [by_key[m] for m in matches]


def did_you_mean(name: str, known: Iterable[str], *, n: int = 1) -> str:
    """A `` (did you mean 'x'?)`` suffix naming the ``n`` closest known names, or ``""``.

    The one way every message that looks up a user's name suggests what was meant.

    >>> did_you_mean("inflow", ["inflows", "outflows"])
    " (did you mean 'inflows'?)"
    >>> did_you_mean("Teacup Temprature", ["Teacup Temperature", "Room Temperature"], n=3)
    " (did you mean 'Teacup Temperature' or 'Room Temperature'?)"
    >>> did_you_mean("zzz", ["inflows"])
    ''
    """
    close = suggest(name, known, n=n)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


@dataclass(frozen=True)
class NameTable:
    """Unique identifiers for the names of one model, in a stable order.

    >>> table = NameTable.build(["Beds", "beds_", "Time"])
    Traceback (most recent call last):
    ...
    ValueError: duplicate name 'beds_' (same as 'Beds')
    >>> t = NameTable.build(["A-B", "A+B"])
    >>> t.identifier("A+B")
    'a_b_2'
    >>> t.display("a_b")
    'A-B'
    """

    _ident_by_key: Mapping[str, str] = field(default_factory=dict)
    _display_by_key: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, names: Iterable[str]) -> NameTable:
        ident_by_key: dict[str, str] = {}
        display_by_key: dict[str, str] = {}
        used: set[str] = set()
        for name in names:
            key = canonical(name)
            if key in display_by_key:
                raise ValueError(f"duplicate name {name!r} (same as {display_by_key[key]!r})")
            base = identifier(name)
            ident, n = base, 1
            while ident in used:
                n += 1
                ident = f"{base}_{n}"
            used.add(ident)
            ident_by_key[key] = ident
            display_by_key[key] = name
        return cls(ident_by_key, display_by_key)

    def identifier(self, name: str) -> str:
        return self._ident_by_key[canonical(name)]

    def display(self, name_or_identifier: str) -> str:
        key = canonical(name_or_identifier)
        if key in self._display_by_key:
            return self._display_by_key[key]
        for k, ident in self._ident_by_key.items():
            if ident == name_or_identifier:
                return self._display_by_key[k]
        raise KeyError(name_or_identifier)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical(name) in self._ident_by_key

    def __len__(self) -> int:
        return len(self._ident_by_key)
