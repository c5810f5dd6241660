"""The tokenizer of the Vensim expression language (:mod:`sdhealth.io.expressions` parses).

:func:`tokenize` splits an equation's text into :class:`Token` s -- numbers, names (quoted or
not, spanning spaces and line continuations as Vensim names do), operators and the logical
keywords ``:AND:``, ``:OR:``, ``:NOT:`` -- each with its offsets in the text, so every error
can point at a line and column. A lexical error becomes a final ``ERROR`` token carrying a
message with a hint (``'**'``: write ``'^'`` for a power), raised only when the parser reaches
it, so the first error in reading order is the one reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

__all__ = ["CONTINUATION", "Kind", "TOKEN_HINTS", "Token", "tokenize"]

_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[^\W\d][\w&'$]*(?:(?:[ \t]|\\[ \t]*\r?\n)+[\w&'$]+)*")
_SPACE = re.compile(r"(?:\s|\\[ \t]*\r?\n)+")
CONTINUATION = re.compile(r"\\[ \t]*\r?\n")
_KEYWORD = re.compile(r":([A-Za-z]+):")
_CLOSING_QUOTE = re.compile(r'(?<!\\)"')
_OPERATORS = ("<=", ">=", "<>", "+", "-", "*", "/", "^", "(", ")", ",", "=", "<", ">", "[", "]")
_LOGICAL = {"AND", "OR", "NOT"}
_CHARACTER_HINTS = {
    "!": " (write '<>' for 'not equal' and :NOT: for negation)",
    "&": " (write :AND: for 'and')",
    "|": " (write :OR: for 'or')",
    "%": " (write MODULO(a, b) for a remainder)",
    "'": " (put names in double quotes)",
}
TOKEN_HINTS = {
    ("*", "*"): " (write '^' for a power)",
    ("=", "="): " (write a single '=' to compare)",
    ("=", "<"): " (write '<=')",
    ("=", ">"): " (write '>=')",
}


class Kind(Enum):
    NUMBER = "number"
    NAME = "name"
    OPERATOR = "operator"
    END = "end"
    ERROR = "error"


@dataclass(frozen=True)
class Token:
    """One token: ``text`` as written (logical operators upper-cased), ``[offset, end)``."""

    kind: Kind
    text: str
    offset: int
    end: int
    quoted: bool = False
    message: str = ""

    def is_op(self, *texts: str) -> bool:
        return self.kind is Kind.OPERATOR and self.text in texts


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text``; a lexical error becomes a final ERROR token.

    The parser raises an ERROR token only when it reaches it, so the first error in reading order
    is the one reported.
    """
    tokens: list[Token] = []
    pos = 0
    while True:
        space = _SPACE.match(text, pos)
        if space:
            pos = space.end()
        if pos >= len(text):
            end = tokens[-1].end if tokens else 0
            tokens.append(Token(Kind.END, "", end, end))
            return tokens
        token = _next_token(text, pos)
        tokens.append(token)
        if token.kind is Kind.ERROR:
            return tokens
        pos = token.end


def _next_token(text: str, pos: int) -> Token:
    char = text[pos]
    if char == '"':  # a quoted name; ``\"`` inside is a quote (kept, as Vensim and PySD do)
        found = _CLOSING_QUOTE.search(text, pos + 1)
        if found is None:
            return Token(Kind.ERROR, char, pos, pos + 1, message="unterminated quoted name")
        close = found.start()
        return Token(Kind.NAME, text[pos : close + 1], pos, close + 1, quoted=True)
    for kind, pattern in ((Kind.NUMBER, _NUMBER), (Kind.NAME, _NAME)):
        match = pattern.match(text, pos)
        if match:
            return Token(kind, match.group(), pos, match.end())
    if char == ":":
        return _colon_token(text, pos)
    for op in _OPERATORS:
        if text.startswith(op, pos):
            return Token(Kind.OPERATOR, op, pos, pos + len(op))
    hint = _CHARACTER_HINTS.get(char, "")
    return Token(Kind.ERROR, char, pos, pos + 1, message=f"unexpected character {char!r}{hint}")


def _colon_token(text: str, pos: int) -> Token:
    if text.startswith(":=", pos):
        message = "unexpected ':=' (write only the right-hand side of the equation)"
        return Token(Kind.ERROR, ":=", pos, pos + 2, message=message)
    match = _KEYWORD.match(text, pos)
    if match and match.group(1).upper() in _LOGICAL:
        return Token(Kind.OPERATOR, f":{match.group(1).upper()}:", pos, match.end())
    if match:
        message = f"unknown operator {match.group()!r} (expected :AND:, :OR: or :NOT:)"
        return Token(Kind.ERROR, match.group(), pos, match.end(), message=message)
    return Token(Kind.ERROR, ":", pos, pos + 1, message="unexpected character ':'")
