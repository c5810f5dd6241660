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
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from sdhealth.errors import ModelSyntaxError
from sdhealth.io.expressions import parse_equation
from sdhealth.io.yaml_nodes import MISSING, Document, Slot, describe
from sdhealth.ir.model import Equation, TimeSpec

__all__ = [
    "TIME_KEYS", "read_text_file", "parse_yaml_mapping", "read_yaml_mapping", "read_time_spec",
]  # fmt: skip

_START = (0, 0)

#: Keys allowed in a ``time`` section.
TIME_KEYS = ("start", "stop", "dt", "saveper", "units")
#: Key of the ``time`` section -> the clock setting an equation there computes.
_CLOCK_SETTINGS = {
    "start": "initial time", "stop": "final time", "dt": "time step", "saveper": "saveper",
}  # fmt: skip
#: The numbers a :class:`TimeSpec` holds for settings given by equations.
_CLOCK_STAND_INS = {"start": 0.0, "stop": 100.0, "dt": 1.0, "saveper": None}


def read_text_file(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of ``path``; a missing or unreadable file is a clear error.

    ``what`` names the kind of file in messages ("model", "diagram", "scenario").
    """
    where = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelSyntaxError(f"no such {what} file", where) from None
    except UnicodeDecodeError:
        raise ModelSyntaxError(f"the {what} file is not UTF-8 text", where) from None
    except OSError as exc:
        raise ModelSyntaxError(f"cannot read the {what} file ({exc.strerror})", where) from None


def parse_yaml_mapping(text: str, document: Document, what: str) -> CommentedMap:
    """Parse ``text`` (the text of ``document``) and return its top-level mapping."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        root = yaml.load(text)
    except DuplicateKeyError as exc:
        raise _duplicate_key_error(exc, document) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = (mark.line, mark.column) if mark is not None else _START
        raise document.error(f"invalid YAML: {exc.problem or exc.context}", position) from None
    except YAMLError as exc:
        raise ModelSyntaxError(f"invalid YAML: {exc}", document.path) from None
    if root is None:
        raise document.error(f"the {what} file is empty", _START)
    if not isinstance(root, CommentedMap):
        raise document.error(
            f"a {what} file must be a mapping of keys, got {describe(root)}", _START
        )
    return root


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

    ``stop`` and ``dt`` are required; ``start`` defaults to 0, ``saveper`` to ``dt`` and
    ``units`` to month. Every problem is reported at the offending key or value. A setting
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
    return TimeSpec(start, stop, dt, saveper, units, equations=tuple(equations))
