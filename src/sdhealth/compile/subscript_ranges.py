"""Vensim subscript ranges as flattening sees them: elements, subranges and mappings.

:class:`Ranges` resolves a model's subscript ranges -- their elements (a subrange's are its
parent's), the position of an element in its main range, and the mappings between ranges
(``A: a1, a2 -> B``) -- for :mod:`sdhealth.compile.flatten` and the native backend's readers of
external data. :func:`element_name` names one element of a variable as PySD names its columns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sdhealth.ir.model import Model
from sdhealth.ir.names import canonical

__all__ = ["Cell", "Ranges", "Refused", "element_name"]

Cell = tuple[str, ...]

_EXPLICIT_MAPPING = re.compile(r"^\(\s*(?P<range>[^:]+?)\s*:(?P<elements>.*)\)$", re.DOTALL)


class Refused(ValueError):
    """Something flattening cannot resolve (becomes UnsupportedByBackend naming the variable)."""


def element_name(name: str, cell: Cell) -> str:
    """The display name of one element of variable ``name``: ``name[a,b]`` (PySD's columns).

    >>> element_name("Stock A", ("Entry 1", "Column 2"))
    'Stock A[Entry 1,Column 2]'
    """
    return f"{name}[{','.join(cell)}]" if cell else name


@dataclass(frozen=True)
class Ranges:
    """The model's subscript ranges, by key: elements, main ranges and mappings."""

    ranges: Mapping[str, tuple[str, ...]]  # range key -> elements (display), expanded
    spelling: Mapping[str, str]  # element key -> display
    mappings: Mapping[str, tuple[tuple[str, tuple[str, ...] | None], ...]]

    @classmethod
    def of(cls, model: Model) -> Ranges:
        raw = {canonical(s.name): s.elements for s in model.subscripts}
        ranges = {key: _expand(key, raw, frozenset()) for key in raw}
        spelling = {canonical(e): e for elements in ranges.values() for e in elements}
        mappings = {
            canonical(s.name): tuple(_mapping(m) for m in s.mappings) for s in model.subscripts
        }
        return cls(ranges, spelling, mappings)

    def is_range(self, subscript: str) -> bool:
        return canonical(subscript) in self.ranges

    def elements(self, subscript: str) -> tuple[str, ...]:
        """The elements a subscript stands for (a range's elements, or the element itself)."""
        key = canonical(subscript)
        if key in self.ranges:
            return self.ranges[key]
        if key in self.spelling:
            return (self.spelling[key],)
        raise Refused(f"unknown subscript {subscript!r}")

    def position(self, element: str) -> int:
        """An element's position (from 1) in its main range (the largest holding it)."""
        key = canonical(element)
        best: tuple[str, ...] = ()
        for elements in self.ranges.values():
            keys = [canonical(e) for e in elements]
            if key in keys and len(elements) > len(best):
                best = elements
        return [canonical(e) for e in best].index(key) + 1

    def mapped(self, source: str, target: str, element: str) -> str | None:
        """The element of range ``source`` that range ``source``'s mapping to ``target`` pairs
        with ``element`` of ``target`` (``None`` if ``source`` does not map to ``target``)."""
        for name, listed in self.mappings.get(canonical(source), ()):
            if name != canonical(target):
                continue
            targets = [canonical(e) for e in (listed or self.ranges[name])]
            if canonical(element) in targets:
                return self.ranges[canonical(source)][targets.index(canonical(element))]
        return None


def _expand(key: str, raw: Mapping[str, tuple[str, ...]], seen: frozenset[str]) -> tuple[str, ...]:
    """A range's elements with listed subranges replaced by their elements."""
    result: list[str] = []
    for item in raw[key]:
        inner = canonical(item)
        if inner in raw and inner not in seen | {key}:
            result.extend(_expand(inner, raw, seen | {key}))
        else:
            result.append(item)
    return tuple(result)


def _mapping(text: str) -> tuple[str, tuple[str, ...] | None]:
    """``"DimB"`` -> ``("dimb", None)``; ``"(DimB: b2, b1)"`` -> ``("dimb", ("b2", "b1"))``."""
    match = _EXPLICIT_MAPPING.match(text.strip())
    if match is None:
        return canonical(text), None
    elements = tuple(e.strip() for e in match["elements"].split(",") if e.strip())
    return canonical(match["range"]), elements
