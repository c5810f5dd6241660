"""Reading a YAML file into ruamel's round-trip tree, with every failure at ``file:line:col``.

Shared by every YAML format sdhealth reads (models, causal-loop diagrams, scenarios): the file
is read as UTF-8, parsed by ruamel.yaml's round-trip loader (which keeps the position of every
key and value), duplicate keys and YAML syntax errors become
:class:`~sdhealth.errors.ModelSyntaxError` with the file, line and column, and the top level
must be a mapping.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from sdhealth.errors import ModelSyntaxError
from sdhealth.io.expressions import parse_equation
from sdhealth.io.yaml_fast import load_fast
from sdhealth.io.yaml_nodes import MISSING, Document, Slot, describe
from sdhealth.ir.model import INTEGRATION_METHODS, Equation, TimeSpec

__all__ = [
    "TIME_KEYS", "read_text_file", "parse_yaml_mapping", "read_yaml_mapping", "read_time_spec",
]  # fmt: skip

_START = (0, 0)

#: Keys allowed in a ``time`` section.
TIME_KEYS = ("start", "stop", "dt", "saveper", "units", "method")
#: Key of the ``time`` section -> the clock setting an equation there computes.
_CLOCK_SETTINGS = {
    "start": "initial time", "stop": "final time", "dt": "time step", "saveper": "saveper",
}  # fmt: skip
#: The numbers a :class:`TimeSpec` holds for settings given by equations.
_CLOCK_STAND_INS = {"start": 0.0, "stop": 100.0, "dt": 1.0, "saveper": None}


def read_text_file(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of ``path``; a missing, unreadable or non-UTF-8 file is a clear error.

    ``what`` names the kind of file in messages ("model", "diagram", "scenario"). Line breaks
    are normalised to ``\\n`` (as :meth:`pathlib.Path.read_text` does). Bytes that are not
    UTF-8 are reported at the line and column of the first one.
    """
    where = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelSyntaxError(f"no such {what} file", where) from None
    except IsADirectoryError:
        raise ModelSyntaxError(f"the {what} file is a directory", where) from None
    except OSError as exc:
        raise ModelSyntaxError(f"cannot read the {what} file ({exc.strerror})", where) from None
    return decode_text(data, where, what)


def decode_text(data: bytes, path: str | None, what: str) -> str:
    """``data`` decoded as UTF-8 (line breaks normalised); a bad byte is a located error.

    >>> decode_text(b"a: 1\\r\\nb: 2", "m.yaml", "model")
    'a: 1\\nb: 2'
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8", errors="replace")) + 1
        message = (
            f"invalid UTF-8 byte 0x{data[exc.start]:02x} (the {what} file is not UTF-8 text; "
            "save it as UTF-8)"
        )
        raise ModelSyntaxError(message, path, line, column) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_yaml_mapping(text: str, document: Document, what: str) -> CommentedMap:
    """Parse ``text`` (the text of ``document``) and return its top-level mapping.

    Every failure of the YAML reader is one :class:`ModelSyntaxError` line at the file, line
    and column it names. A flow mapping whose key ruamel.yaml's own writer folded over two
    lines (``{Supported discharge\\n  capacity: +}``, which YAML forbids and ruamel then
    refuses to read) is read as if the key were written on one line.
    """
    try:
        root = _load_unfolding_keys(document.text)
    except DuplicateKeyError as exc:
        raise _duplicate_key_error(exc, document) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = (mark.line, mark.column) if mark is not None else _START
        raise document.error(
            f"invalid YAML: {_one_line(exc.problem or exc.context)}", position
        ) from None
    except ReaderError as exc:  # a control character or an undecodable byte
        raise document.error(_reader_message(exc), document.position_of(exc.position)) from None
    except YAMLError as exc:
        raise ModelSyntaxError(f"invalid YAML: {_one_line(str(exc))}", document.path) from None
    except RecursionError:
        raise ModelSyntaxError("invalid YAML: nested too deeply", document.path) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date such as 2020-13-45
        raise ModelSyntaxError(
            f"invalid YAML value: {_one_line(str(exc))}", document.path
        ) from None
    if root is None:
        raise document.error(f"the {what} file is empty", _START)
    if not isinstance(root, CommentedMap):
        raise document.error(
            f"a {what} file must be a mapping of keys, got {describe(root)}", _START
        )
    return root


#: How ruamel.yaml refuses a flow-mapping key written over two lines.
_FOLDED_KEY = "expected ',' or '}', but got ':'"


def _load_unfolding_keys(text: str) -> Any:
    """Load ``text`` with ruamel's round-trip loader, unfolding keys its writer folded.

    ruamel.yaml's emitter wraps a long flow mapping at the line width even inside a key
    (``{A: +, Supported discharge\\n    capacity: +}``); YAML allows an implicit key only on
    one line, so the loader then stops at the ``:``. Each time, the folded part of the key
    and its ``:`` are moved to the end of the line above and blanked where they were, so that
    every other character keeps its line and column.

    Most documents are read by libyaml instead (:func:`~sdhealth.io.yaml_fast.load_fast`, the
    same tree in a tenth of the time); ruamel reads the rest, and reports every error.
    """
    fast = load_fast(text)
    if fast is not None:
        return fast
    for _ in range(text.count("\n") + 1):
        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        try:
            return yaml.load(text)
        except MarkedYAMLError as exc:
            unfolded = _unfold_key(text, exc) if exc.problem == _FOLDED_KEY else None
            if unfolded is None:
                raise
            text = unfolded
    return YAML(typ="rt").load(text)


def _unfold_key(text: str, exc: MarkedYAMLError) -> str | None:
    """``text`` with the key fragment before the ``:`` of ``exc`` moved up a line, or None."""
    mark = exc.problem_mark
    lines = text.split("\n")
    if mark is None or not 0 < mark.line < len(lines):
        return None
    line = lines[mark.line]
    indent = len(line) - len(line.lstrip(" "))
    fragment = line[indent : mark.column]
    if not fragment.strip() or any(char in fragment for char in ",[]{}#:'\""):
        return None
    above = lines[mark.line - 1].rstrip()
    lines[mark.line - 1] = f"{above} {fragment.strip()}:"
    lines[mark.line] = " " * (mark.column + 1) + line[mark.column + 1 :]
    return "\n".join(lines)


def _one_line(message: str | None) -> str:
    """A reader message on one line (its words separated by single spaces)."""
    return " ".join((message or "unknown problem").split())


def _reader_message(exc: ReaderError) -> str:
    """ruamel's message for a character YAML does not allow, on one line."""
    character = exc.character
    if isinstance(character, bytes | str):
        character = ord(character[:1] or "?")
    code = f"U+{character:04X}"
    return f"invalid YAML: character {code} is not allowed ({_one_line(exc.reason)})"


def read_yaml_mapping(path: str | os.PathLike[str], what: str) -> tuple[Document, CommentedMap]:
    """Read and parse the YAML file at ``path``: its :class:`Document` and top-level mapping."""
    text = read_text_file(path, what)
    document = Document.of(text, str(path))
    return document, parse_yaml_mapping(text, document, what)


def _duplicate_key_error(exc: DuplicateKeyError, document: Document) -> ModelSyntaxError:
    found = re.search(r'found duplicate key "(.*)" with value', exc.problem or "")
    key = found.group(1) if found else "?"
    first = f" (first written on line {exc.context_mark.line + 1})" if exc.context_mark else ""
    mark = exc.problem_mark
    position = (mark.line, mark.column) if mark is not None else _START
    return document.error(f"duplicate key {key!r}{first}", position)


def _is_equation(value: object) -> bool:
    """Quoted text in the ``time`` section is a clock equation (plain text is a typo)."""
    return isinstance(value, DoubleQuotedScalarString | SingleQuotedScalarString)


def read_time_spec(document: Document, root: CommentedMap) -> TimeSpec:
    """The ``time:`` section of ``root`` (which must have one) as a :class:`TimeSpec`.

    ``stop`` and ``dt`` are required; ``start`` defaults to 0, ``saveper`` to ``dt``,
    ``units`` to month and ``method`` (the integration method runs use unless told otherwise:
    euler, rk2 or rk4) to euler. Every problem is reported at the offending key or value. A setting
    written as quoted text is an equation the model computes (Vensim's ``FINAL TIME = IF THEN
    ELSE(...)``): it goes to :attr:`TimeSpec.equations` and the number field holds a stand-in
    (start 0, stop 100 or start, dt 1, saveper ``dt``), as for an imported ``.mdl``.
    """
    fields = document.mapping(Slot(root, "time"), "'time'")
    document.check_keys(fields, TIME_KEYS, "'time'")
    at = Slot(root, "time").key_position
    equations: list[tuple[str, Equation]] = []

    def number(key: str, default: Any = MISSING) -> Any:
        if _is_equation(fields.get(key)):  # a clock the model computes: an equation
            equation = document.parse_text(Slot(fields, key), parse_equation)
            equations.append((_CLOCK_SETTINGS[key], equation))
            return _CLOCK_STAND_INS[key]
        return document.number(fields, key, owner="'time'", owner_position=at, default=default)

    start, stop, dt = number("start", 0.0), number("stop"), number("dt")
    saveper = number("saveper", None)
    for key, value in (("dt", dt), ("saveper", saveper)):
        if value is not None and not value > 0:
            raise document.value_error(fields, key, f"'{key}' must be positive, got {value:g}")
    computed = {key for key in _CLOCK_SETTINGS if _is_equation(fields.get(key))}
    if not stop >= start and not computed & {"start", "stop"}:
        raise document.value_error(
            fields, "stop", f"'stop' ({stop:g}) must not be before 'start' ({start:g})"
        )
    stop = max(stop, start)  # a computed stop's stand-in must not precede start
    units = document.text_field(fields, "units", "'units' of time", default="month")
    method = document.text_field(fields, "method", "'method'", default="euler").strip().lower()
    if method not in INTEGRATION_METHODS:
        raise document.value_error(
            fields, "method", f"'method' must be one of {', '.join(INTEGRATION_METHODS)}, "
            f"not {fields['method']!r}",
        )  # fmt: skip
    return TimeSpec(start, stop, dt, saveper, units, equations=tuple(equations), method=method)
