"""Located, typed access to a YAML document read by ruamel.yaml's round-trip loader.

:mod:`sdhealth.io.yaml` decides what a model file must contain; this module owns *where* things
were written and reading typed values (numbers, text, booleans, limits) that report errors there.
ruamel gives 0-based line/column pairs for every mapping key, mapping value and sequence item;
:class:`Document` turns them into 1-based :class:`~sdhealth.ir.SourceLocation` objects and into
:class:`~sdhealth.errors.ModelSyntaxError` pointing at the offending key or value.

It also finds where the *text* of a string scalar begins -- after the opening quote of a quoted
scalar, on the line after the ``|``/``>`` indicator of a block scalar -- and maps every character
of a scalar's value back to the file (:meth:`Document.text_positions`), so an error found at
some offset inside an equation can be reported at the right line and column even when YAML
folded the equation over several lines.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from sdhealth.errors import ModelSyntaxError
from sdhealth.ir.model import Equation, SourceLocation
from sdhealth.ir.names import did_you_mean

__all__ = ["Position", "Slot", "Document", "MISSING", "describe", "is_number"]

#: A 0-based (line, column) pair as ruamel reports it.
Position = tuple[int, int]

#: Marks a required value in :meth:`Document.number`.
MISSING: Any = object()
T = TypeVar("T")

_NUMBER_TOKEN = re.compile(r"[-+]?[0-9A-Za-z_.]+(?:[eE][-+]?[0-9]+)?")


def is_number(value: object) -> bool:
    """Whether a YAML value is a finite number (``true``/``false``, ``.inf``, ``.nan`` are not).

    >>> is_number(3), is_number(0.5), is_number(True), is_number("3"), is_number(float("inf"))
    (True, True, False, False, False)
    >>> is_number(10**400)
    False
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond the range of floats (1.8e308)
        return False


def describe(value: object) -> str:
    """A short description of a YAML value for error messages.

    >>> describe("abc"), describe(None), describe(CommentedSeq([1])), describe(2.5)
    ("'abc'", 'nothing', 'a list', '2.5')
    """
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, int) and not is_number(value):
        digits = str(value).lstrip("-")
        return f"a {len(digits)}-digit number, beyond the largest float (1.8e308)"
    return str(value)


@dataclass(frozen=True)
class Slot:
    """One value inside a YAML mapping (by key) or sequence (by index)."""

    container: CommentedMap | CommentedSeq
    key: Any

    @property
    def value(self) -> Any:
        return self.container[self.key]

    @property
    def key_position(self) -> Position:
        """Where the mapping key is written (for a sequence item: the item)."""
        if isinstance(self.container, CommentedSeq):
            return _pair(self.container.lc.item(self.key))
        return _pair(self.container.lc.key(self.key))

    @property
    def value_position(self) -> Position:
        """Where the value begins; an empty value (``key:``) is reported at its key."""
        if isinstance(self.container, CommentedSeq):
            return _pair(self.container.lc.item(self.key))
        if self.value is None:
            return self.key_position
        return _pair(self.container.lc.value(self.key))


def _pair(raw: Sequence[int]) -> Position:
    return int(raw[0]), int(raw[1])


@dataclass(frozen=True)
class Document:
    """The source of one YAML file: its path (for messages), its text and where lines start."""

    path: str | None
    text: str
    line_offsets: tuple[int, ...]

    @classmethod
    def of(cls, text: str, path: str | None) -> Document:
        """The document for ``text`` (read from ``path``, which may be unknown)."""
        normal = text.replace("\r\n", "\n").replace("\r", "\n")
        offsets = [0] + [match.end() for match in re.finditer("\n", normal)]
        return cls(path, normal, tuple(offsets))

    def location(self, position: Position) -> SourceLocation:
        """The 1-based location of a 0-based position."""
        return SourceLocation(self.path, position[0] + 1, position[1] + 1)

    def error(self, message: str, position: Position) -> ModelSyntaxError:
        """A syntax error at a 0-based position of this document."""
        return ModelSyntaxError(message, self.path, position[0] + 1, position[1] + 1)

    def check_keys(self, mapping: CommentedMap, allowed: Sequence[str], what: str) -> None:
        """Raise on the first key of ``mapping`` that is not in ``allowed``."""
        for key in mapping:
            if not isinstance(key, str) or key not in allowed:
                hint = did_you_mean(str(key), allowed) if isinstance(key, str) else ""
                raise self.error(
                    f"unknown key {key!r} in {what}{hint}", Slot(mapping, key).key_position
                )

    # -- typed values: each raises at the offending key or value ---------------------------

    def mapping(self, slot: Slot, what: str) -> CommentedMap:
        """The mapping held by ``slot``."""
        if not isinstance(slot.value, CommentedMap):
            raise self.error(
                f"{what} must be a mapping, got {describe(slot.value)}", slot.value_position
            )
        return slot.value

    def required(self, fields: CommentedMap, key: str, owner: Slot, kind: str) -> Slot:
        """The slot of ``key``, which the definition ``owner`` (a ``kind``) must have."""
        if key not in fields:
            raise self.error(
                f"{kind} {owner.key!r} is missing required key {key!r}", owner.key_position
            )
        return Slot(fields, key)

    def value_error(self, fields: CommentedMap, key: str, message: str) -> ModelSyntaxError:
        """An error pointing at the value of ``key``."""
        return self.error(message, Slot(fields, key).value_position)

    def number(
        self,
        fields: CommentedMap,
        key: str,
        *,
        owner: str,
        owner_position: Position,
        default: Any = MISSING,
    ) -> Any:
        """The number under ``key`` as a float; ``default`` if absent, else required."""
        if fields.get(key) is None:
            if default is MISSING:
                raise self.error(f"{owner} is missing required key {key!r}", owner_position)
            return default
        value = fields[key]
        if not is_number(value):
            raise self.value_error(fields, key, f"{key!r} must be a number, got {describe(value)}")
        return float(value)

    def text_field(self, fields: CommentedMap, key: str, what: str, default: str = "") -> str:
        """The text under ``key`` (``default`` if absent or empty)."""
        value = fields.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            hint = f" (quote it: '{value}')" if is_number(value) else ""
            raise self.value_error(fields, key, f"{what} must be text, got {describe(value)}{hint}")
        return str(value)

    def boolean(self, fields: CommentedMap, key: str) -> bool:
        """The ``true``/``false`` under ``key`` (false if absent)."""
        value = fields.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.value_error(
                fields, key, f"{key!r} must be true or false, got {describe(value)}"
            )
        return value

    def limits(self, slot: Slot) -> tuple[float | None, float | None]:
        """A ``[min, max]`` pair, ``null`` standing for an open end."""
        value = slot.value
        expected = "'limits' must be [min, max] with numbers or null for an open end"
        if not isinstance(value, CommentedSeq) or len(value) != 2:
            raise self.error(f"{expected}, got {describe(value)}", slot.value_position)
        for index, bound in enumerate(value):
            if bound is not None and not is_number(bound):
                position = Slot(value, index).value_position
                raise self.error(f"{expected}, got {describe(bound)}", position)
        low, high = (None if bound is None else float(bound) for bound in value)
        if low is not None and high is not None and low > high:
            raise self.error(
                f"'limits' minimum {low:g} is above the maximum {high:g}", slot.value_position
            )
        return low, high

    def parse_text(self, slot: Slot, parse: Callable[..., T]) -> T:
        """Run an expression parser on a string scalar, reporting errors where they are.

        ``parse(text, location=...)`` gets the scalar's value -- with YAML's folding, so that
        a name a writer wrapped over two lines (``Surge\\n  duration``) reads as one -- and
        where it starts; a :class:`ModelSyntaxError` it raises is moved to the file position
        of the character it names. An :class:`~sdhealth.ir.model.Equation` it returns keeps
        the text of :meth:`scalar_text` (the same characters, with the line breaks as written),
        so that the names it mentions are located on the right lines.
        """
        written, location = self.scalar_text(slot)
        value = str(slot.value)
        try:
            result = parse(value, location=location)
        except ModelSyntaxError as exc:
            offset = _offset_in(value, location, exc.line, exc.column)
            if offset is None:
                raise
            raise self.error(exc.message, self.text_positions(slot, value)[offset]) from None
        if isinstance(result, Equation) and written != value and len(written) == len(value):
            return replace(result, text=written)  # type: ignore[return-value]
        return result

    # -- positions --------------------------------------------------------------------------

    def number_token(self, slot: Slot) -> str:
        """The text of a numeric scalar as written (``1e3`` stays ``1e3``)."""
        match = _NUMBER_TOKEN.match(self.text, self._offset(slot.value_position))
        if match and _same_number(match.group(), slot.value):
            return match.group()
        return repr(slot.value)

    def scalar_text(self, slot: Slot) -> tuple[str, SourceLocation]:
        """The text of a string scalar and where it starts.

        The text is the scalar's value, except for a plain or ``>`` folded scalar written over
        several lines: each space YAML made of a line break is that line break again, so that
        together with the location's ``indent`` (the column the continuation lines start at)
        every character's offset maps to its line and column in the file. The text has as
        many characters as the value. Literal (``|``) blocks keep their line breaks anyway and
        get the block's indentation as ``indent``.
        """
        value = str(slot.value)
        start = self._text_start(slot)
        if isinstance(slot.value, DoubleQuotedScalarString | SingleQuotedScalarString):
            return value, self.location(start)
        found = [self._position(offset) for offset in _align(value, self.text, self._offset(start))]
        line, column = found[0]
        if isinstance(slot.value, LiteralScalarString):
            return value, replace(self.location((line, column)), indent=column)
        text, indent = _with_line_breaks(value, found)
        return text, replace(self.location((line, column)), indent=indent)

    def text_positions(self, slot: Slot, text: str | None = None) -> list[Position]:
        """The 0-based file position of every character of a string scalar's text.

        ``text`` defaults to the scalar's value. One extra entry at the end stands for the
        position just after the text.
        """
        value = str(slot.value) if text is None else text
        found = _align(value, self.text, self._offset(self._text_start(slot)))
        return [self._position(offset) for offset in found]

    def _text_start(self, slot: Slot) -> Position:
        """Where a string scalar's content begins: after a quote, below a block indicator."""
        line, column = slot.value_position
        if isinstance(slot.value, LiteralScalarString | FoldedScalarString):
            return line + 1, 0
        if isinstance(slot.value, DoubleQuotedScalarString | SingleQuotedScalarString):
            return line, column + 1
        return line, column

    def position_of(self, offset: int) -> Position:
        """The 0-based (line, column) of character ``offset`` of the text (clamped to it)."""
        return self._position(min(max(offset, 0), len(self.text)))

    def _offset(self, position: Position) -> int:
        line, column = position
        if line >= len(self.line_offsets):
            return len(self.text)
        return min(self.line_offsets[line] + column, len(self.text))

    def _position(self, offset: int) -> Position:
        line = bisect.bisect_right(self.line_offsets, offset) - 1
        return line, offset - self.line_offsets[line]


def _with_line_breaks(value: str, positions: Sequence[Position]) -> tuple[str, int]:
    """``value`` with each folded space that stands for a line break made one again.

    ``positions`` holds the file position of each character of ``value`` (and one more).
    Returns the text and the column the continuation lines start at (the smallest, if they
    differ; 0 for a single line).

    >>> _with_line_breaks("a + b", [(0, 5), (0, 6), (0, 7), (0, 8), (1, 4), (1, 5)])
    ('a +\\nb', 4)
    """
    chars = list(value)
    columns: list[int] = []
    for index, char in enumerate(value):
        following = positions[index + 1]
        if char in " \n" and index + 1 < len(value) and following[0] > positions[index][0]:
            chars[index] = "\n"
            columns.append(following[1])
    return "".join(chars), min(columns, default=0)


def _same_number(token: str, value: object) -> bool:
    try:
        return float(token) == float(value)  # type: ignore[arg-type]
    except ValueError:
        return False


def _align(value: str, source: str, cursor: int) -> list[int]:
    """Match the characters of a scalar's value to the file text that spells it.

    Equal characters are matched; whitespace the value folded (a newline read as a space) or
    indentation the value does not contain is skipped in the file, as are escape characters
    of quoted scalars. Characters that cannot be matched get the last matched offset. The
    result has one more entry than ``value``: the offset just after the text.
    """
    found: list[int] = []
    for char in value:
        while cursor < len(source) and not _matches(char, source[cursor]):
            if not (source[cursor].isspace() or source[cursor] in "\\'"):
                break
            cursor += 1
        if cursor < len(source) and _matches(char, source[cursor]):
            found.append(cursor)
            cursor += 1
        else:
            found.append(found[-1] if found else cursor)
    found.append(min(cursor, len(source)))
    return found


def _matches(char: str, source_char: str) -> bool:
    return char == source_char or (char in " \n" and source_char in " \t\n")


def _offset_in(
    text: str, start: SourceLocation, line: int | None, column: int | None
) -> int | None:
    """The offset in ``text`` that a parser reported as ``line:column``.

    The inverse of :meth:`SourceLocation.shifted` for a text starting at ``start``.
    """
    if line is None or column is None or start.line is None or start.column is None:
        return None
    newlines = line - start.line
    if newlines < 0:
        return None
    if newlines == 0:
        offset = column - start.column
    else:
        newline = -1
        for _ in range(newlines):
            newline = text.find("\n", newline + 1)
            if newline < 0:
                return None
        offset = newline + column - start.indent
    return offset if 0 <= offset <= len(text) else None
