"""A fast path for reading YAML: libyaml's parser events built into ruamel's round-trip tree.

ruamel.yaml's round-trip loader, which every YAML format of sdhealth reads with (it keeps the
line and column of every key, value and item), is pure Python: 0.3-0.5 s for the NHS model's
2,400 lines, most of a warm ``sd.load``. libyaml, the C parser that PyYAML wraps, parses the same
text in about 15 ms. :func:`load_fast` turns libyaml's events into the very tree ruamel builds:
``CommentedMap``/``CommentedSeq`` with the same positions, quoted and block scalars as ruamel's
``*ScalarString`` types, plain scalars resolved by YAML 1.2's core schema as ruamel's loader
resolves them (null, bool, int, float, str).

It returns ``None`` for anything beyond that common subset (anchors and aliases, explicit tags,
merge keys, timestamps, numbers in forms other than plain decimal, empty values, duplicate
keys, several documents, libyaml missing) and for every text libyaml refuses: the caller then
reads the text with ruamel as before, so unusual documents and every error message are
ruamel's, unchanged.
``tests/io/test_yaml_fast.py`` checks that both give equal trees, types and positions for every
YAML file in the repository.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarint import ScalarInt
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

__all__ = ["load_fast"]

_STRING_STYLES = {
    '"': DoubleQuotedScalarString,
    "'": SingleQuotedScalarString,
    "|": LiteralScalarString,
    ">": FoldedScalarString,
}
_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(
    r"[-+]?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
    r"|[-+]?\.[0-9]+(?:[eE][-+][0-9]+)?"
)
#: What ruamel's YAML 1.2 resolver reads as a number, timestamp, merge or value key in forms
#: the fast path does not build (underscores, leading zeros, binary, octal, hex, infinities,
#: NaN): such documents are read by ruamel. The expressions are ruamel's own.
_SPECIAL = re.compile(
    r"""[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN)
    |[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+
    |<<|=
    |[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9]\ *-[0-9][0-9]?\ *-[0-9][0-9]?.*""",
    re.VERBOSE,
)


class _Unsupported(Exception):
    """The document uses something only ruamel's loader builds."""


def load_fast(text: str) -> Any:
    """The tree ruamel's round-trip loader builds from ``text``, or ``None`` (see the module)."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency
        return None
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        return None
    try:
        events = yaml.parse(text, Loader=loader)
        return _Builder(events).document()
    except (_Unsupported, yaml.YAMLError, ValueError, RecursionError):
        return None


def _plain(value: str) -> Any:
    """A plain scalar resolved as ruamel's YAML 1.2 loader resolves it."""
    if _NULL.fullmatch(value):
        return None
    known = _BOOL.get(value)
    if known is not None:
        return known
    if _DECIMAL.fullmatch(value):
        number = int(value)
        return number if number else ScalarInt(0, width=1)  # as ruamel keeps a written 0
    if _FLOAT.fullmatch(value):
        return float(value)
    if _SPECIAL.fullmatch(value):
        raise _Unsupported(value)
    return value


class _Builder:
    def __init__(self, events: Any) -> None:
        self._events = iter(events)

    def _next(self) -> Any:
        return next(self._events)

    def document(self) -> Any:
        kind = type(self._next()).__name__
        if kind != "StreamStartEvent":
            raise _Unsupported(kind)
        event = self._next()
        if type(event).__name__ == "StreamEndEvent":
            return None
        root = self._node(self._next())
        if type(self._next()).__name__ != "DocumentEndEvent":
            raise _Unsupported("document")
        if type(self._next()).__name__ != "StreamEndEvent":
            raise _Unsupported("several documents")
        return root

    def _node(self, event: Any) -> Any:
        kind = type(event).__name__
        if kind == "AliasEvent" or getattr(event, "anchor", None) is not None:
            raise _Unsupported("anchor")
        if getattr(event, "tag", None) is not None:
            raise _Unsupported("tag")
        if kind == "ScalarEvent":
            style = event.style
            if not style:
                if not event.value:  # ruamel places an empty value by the comments around it
                    raise _Unsupported("empty value")
                return _plain(event.value)
            return _STRING_STYLES[style](event.value)
        if kind == "MappingStartEvent":
            return self._mapping(event)
        if kind == "SequenceStartEvent":
            return self._sequence(event)
        raise _Unsupported(kind)

    def _mapping(self, start: Any) -> CommentedMap:
        mapping = CommentedMap()
        mapping._yaml_set_line_col(start.start_mark.line, start.start_mark.column)
        if start.flow_style:
            mapping.fa.set_flow_style()
        else:
            mapping.fa.set_block_style()
        while True:
            event = self._next()
            if type(event).__name__ == "MappingEndEvent":
                return mapping
            key_mark = event.start_mark
            key = self._node(event)
            if isinstance(key, CommentedMap | CommentedSeq) or key in mapping:
                raise _Unsupported("key")  # ruamel builds such keys, or reports the duplicate
            value_event = self._next()
            value_mark = value_event.start_mark
            mapping[key] = self._node(value_event)
            mapping._yaml_set_kv_line_col(
                key, [key_mark.line, key_mark.column, value_mark.line, value_mark.column]
            )

    def _sequence(self, start: Any) -> CommentedSeq:
        sequence = CommentedSeq()
        sequence._yaml_set_line_col(start.start_mark.line, start.start_mark.column)
        if start.flow_style:
            sequence.fa.set_flow_style()
        else:
            sequence.fa.set_block_style()
        while True:
            event = self._next()
            if type(event).__name__ == "SequenceEndEvent":
                return sequence
            mark = event.start_mark
            sequence._yaml_set_idx_line_col(len(sequence), [mark.line, mark.column])
            sequence.append(self._node(event))
