"""The documentation of a Vensim ``.mdl`` file as written, line breaks included.

PySD's Vensim translator collapses every run of whitespace in the equation part of a file into
one space before parsing, so a variable's documentation reaches the IR as one line. This
module reads the comment fields straight from the file's text -- an equation is
``left = right ~ units ~ comment |`` (with an optional ``~ :SUPPLEMENTARY`` field) -- so that
:func:`sdhealth.io.mdl.read_mdl` can give the modeller's text back unchanged.

It splits the text on the same delimiters PySD's grammar uses (``~`` and ``|`` outside double
quotes, the sketch after ``\\\\\\---///``) and undoes Vensim's line continuation (a ``\\`` at the
end of a line), nothing more; the reader only uses a comment when it equals PySD's up to
whitespace, so a text this scan misreads is never used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from sdhealth.ir.names import canonical

__all__ = ["metadata_of", "definition_position", "documentation_by_key", "normalise_whitespace"]

_SKETCH = "\\\\\\---///"
_CONTINUATION = re.compile(r"[ \t]*\\\n[ \t]*")
_COMMENT = re.compile(r"\{[^}]*\}")


def normalise_whitespace(text: str) -> str:
    """Text with every run of whitespace made one space, as PySD reads it.

    >>> normalise_whitespace("  Beds\\n\\t in  use ")
    'Beds in use'
    """
    return " ".join(text.split())


_QUOTED_OR = {
    delimiters: re.compile(r'"(?:\\"|[^"])*(?:"|\Z)|[' + re.escape(delimiters) + "]")
    for delimiters in ("|", "~")
}


def _split_outside_quotes(text: str, delimiters: str) -> Iterator[tuple[str, str]]:
    """``(piece, delimiter)`` pairs of ``text`` cut at ``delimiters`` outside double quotes.

    A quoted name runs to its closing quote (``\\"`` inside does not close it), or to the end
    of the text if it has none. One regular-expression scan, not a loop over characters.
    """
    start = 0
    for match in _QUOTED_OR[delimiters].finditer(text):
        found = match.group()
        if found in delimiters and len(found) == 1:
            yield text[start : match.start()], found
            start = match.end()
    yield text[start:], ""


def _entries(text: str) -> Iterator[list[str]]:
    """The ``~``-separated fields of every ``|``-terminated entry of the equation part."""
    for entry, delimiter in _split_outside_quotes(text, "|"):
        if delimiter:
            yield [field for field, _ in _split_outside_quotes(entry, "~")]


def _name(left: str) -> str | None:
    """The variable name on an equation's left-hand side (``None`` for groups and ranges)."""
    left = _COMMENT.sub(" ", left)
    left = re.sub(r":MACRO:.*?\)", " ", left, flags=re.DOTALL)
    left = left.replace(":END OF MACRO:", " ").strip()
    if not left or left.startswith("*"):
        return None
    if left.startswith('"'):
        end = left.find('"', 1)
        while end > 0 and left[end - 1] == "\\":
            end = left.find('"', end + 1)
        return left[1:end] if end > 0 else None
    name = re.split(r"[=\[(:]", left, maxsplit=1)[0]
    return " ".join(name.split()) or None


def _comment(field: str) -> str:
    """A comment field as the modeller wrote it: lines kept, indentation dropped."""
    lines = [line.strip() for line in _CONTINUATION.sub(" ", field).splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def documentation_by_key(text: str) -> dict[str, str]:
    """Each variable's comment field as written, keyed by variable key.

    Only multi-line comments are returned (a one-line comment PySD already reads as written);
    the first equation of a name wins.

    >>> text = '{UTF-8}\\nx = 1\\n\\t~\\tdays\\n\\t~\\tFirst line.\\n\\t\\tSecond.\\n\\t|'
    >>> documentation_by_key(text)
    {'x': 'First line.\\nSecond.'}
    """
    equations = text.split(_SKETCH, 1)[0]
    found: dict[str, str] = {}
    for fields in _entries(equations):
        if len(fields) < 3:
            continue
        name = _name(fields[0])
        comment = _comment(fields[2])
        if name is None or "\n" not in comment:
            continue
        found.setdefault(canonical(name), comment)
    return found


def definition_position(text: str, name: str) -> tuple[int, int] | None:
    """The 1-based (line, column) where ``name`` is defined in ``text``, if it can be found
    (see :func:`definition_positions`; spaces and underscores interchangeable, any case).

    >>> definition_position("{UTF-8}\\n  Bed_occupancy = 1 ~ ~ |", "bed occupancy")
    (2, 3)
    >>> definition_position("x = 1 ~ ~ |", "y") is None
    True
    """
    return definition_positions(text).get(canonical(name))


#: An entry's definition: a name (maybe quoted) after any whitespace and ``{comments}``,
#: then ``=``, ``[`` (subscripts), ``(`` (a lookup) or ``:`` (a range or ``:=``).
_DEFINITION = re.compile(
    r'(?:\s|\{[^}]*\})*(?:"((?:[^"\\\n]|\\.)+)"|([^\s"=\[(:~|{}*\\][^=\[(:~|\n]*?))'
    r"[ \t]*[=\[(:]"
)


def definition_positions(text: str) -> dict[str, tuple[int, int]]:
    """The 1-based (line, column) of the first definition of every name, by key, in one pass.

    Only the start of each ``|``-terminated entry is looked at, so a name in a comment, a
    continuation line or sdhealth's metadata group is never taken for a definition.

    >>> definition_positions('{UTF-8}\\nBeds = 1 ~ ~ |\\n  "G&A beds"[r] = f(x) ~ ~ |')
    {'beds': (2, 1), 'g&a beds': (3, 3)}
    """
    equations = text.split(_SKETCH, 1)[0]
    found: dict[str, tuple[int, int]] = {}
    entry = 0
    counted, lines = 0, 1  # lines counted up to ``counted``: one pass, not one per entry
    while entry < len(equations):
        end = equations.find("|", entry)
        end = len(equations) if end < 0 else end
        match = _DEFINITION.match(equations, entry, end)
        if match is not None:
            name = match.group(1) if match.group(1) is not None else match.group(2)
            key = canonical(name)
            if key and key not in found:
                start = match.start(1) - 1 if match.group(1) is not None else match.start(2)
                lines += equations.count("\n", counted, start)
                counted = start
                found[key] = (lines, start - (equations.rfind("\n", 0, start) + 1) + 1)
        entry = end + 1
    return found


_METADATA = re.compile(r"\*{3,}[ \t]*\n[ \t]*\.sdhealth[ \t]*\n\*{3,}[ \t]*~(.*?)\|", re.DOTALL)


def metadata_of(text: str) -> dict[str, object]:
    """The metadata sdhealth writes in a ``.sdhealth`` Vensim group (empty if none or unreadable).

    See :func:`sdhealth.ir.vensim.model_metadata`. A group a person edited into something that
    is not a JSON object is ignored: the equations are still the model.

    >>> metadata_of('{UTF-8}\\n****\\n\\t.sdhealth\\n****~\\n\\t\\t{"model": "M\\\\u007c"}\\n\\t|')
    {'model': 'M|'}
    """
    found = _METADATA.search(text.split(_SKETCH, 1)[0])
    if found is None:
        return {}
    try:
        metadata = json.loads(found.group(1))
    except ValueError:
        return {}
    return metadata if isinstance(metadata, dict) else {}
