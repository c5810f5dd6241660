"""Readers of YAML documents that are not stock-and-flow models, by their top-level key.

A YAML file whose top level names ``diagram:`` (and no ``model:``) is a causal-loop diagram
(``docs/cld-format.md``). Compiling one needs :mod:`sdhealth.cld`, a layer above ``io``, so
``sdhealth.cld`` registers its reader here when it is imported (as ``import sdhealth`` does)
and :mod:`sdhealth.io.yaml` looks it up: ``io`` imports nothing above itself.
"""

from __future__ import annotations

from collections.abc import Callable

from sdhealth.ir.model import Model

__all__ = ["DOCUMENT_READERS"]

#: Top-level key -> ``reader(text, path) -> Model``.
DOCUMENT_READERS: dict[str, Callable[[str, str | None], Model]] = {}
