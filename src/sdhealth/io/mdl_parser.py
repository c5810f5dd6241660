"""sdhealth's own reader of Vensim ``.mdl`` text: file -> sections -> elements -> equations.

PySD's translator reads a ``.mdl`` file with parsimonious grammars, which took about three
quarters of a cold ``sd.load`` (4-5 s for a chain of 1,000 stocks). This module reads the same
text in one linear pass and builds the same thing PySD's ``VensimFile.get_abstract_model()``
builds: PySD's ``AbstractModel`` (plain dataclasses, one abstract syntax tree per equation, in
the shapes PySD's visitors give them), so :func:`sdhealth.io.abstract.abstract_to_model` turns
either into the IR and a test reads the SDXorg suite through both front ends and compares the
models (``tests/io/test_mdl_parser.py``). PySD's reader stays available:
``read_mdl(path, front_end="pysd")``.

The stages, each linear in the text:

1. **Sections.** The sketch (after ``\\\\\\---///``) is set aside; ``:MACRO: name(params :
   returns) ... :END OF MACRO:`` blocks become macro sections, the rest is the main section.
2. **Elements.** A section is a run of ``equation ~ units ~ documentation [~ flags] |``
   entries (``~`` and ``|`` inside double-quoted names and inside an equation's
   ``{comments}`` do not count) and ``title ~ comment |`` group headers, which are skipped.
   As in PySD, text after the last entry is ignored. Vensim's ``{comments}`` in equations,
   which may nest, are white space (PySD's reader stops at them).
3. **Equations.** One tokenizer (a compiled regular expression over the raw text, so every
   token knows its offset) and a precedence-climbing parser that loops over the operators of
   each level, so a sum of thousands of terms costs neither recursion nor quadratic time.
   Nesting (parentheses, calls) is bounded by
   :data:`sdhealth.io.expressions.MAX_NESTING`.

Where PySD's reader evaluates text with Python's ``eval`` (numbers, strings, lookup points),
this one converts the tokens; no user text reaches ``eval``. Every error is a
:class:`~sdhealth.errors.ModelSyntaxError` with the file's line and column.

Kept from PySD, on purpose, so both front ends read a file the same way: PySD's shapes for
operators (a negated name wraps the power it starts, ``-x^2`` is ``-(x^2)``; a negative number
literal stays one number, which :mod:`sdhealth.io.abstract_expressions` turns into the minus of
the power, ``-2^2`` is -4, as Vensim computes; ``^`` chains are right to left); ``:AND:`` and
``:OR:`` share one level; one comparison per level.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from sdhealth.errors import ModelSyntaxError
from sdhealth.io import syntax as syn
from sdhealth.io.expressions import MAX_NESTING
from sdhealth.io.operator_levels import OperatorLevels

__all__ = ["parse_mdl"]

_SKETCH = "\\\\\\---///"
_MACRO = ":MACRO:"
_END_MACRO = ":END OF MACRO:"
_MACRO_HEAD = re.compile(r":MACRO:\s*(?P<name>[^(]*?)\s*\((?P<args>[^)]*)\)")
_ENCODING = re.compile(r"\s*\{[^}]*\}")
_QUOTED_SEPARATOR = re.compile(r'"(?:\\"|[^"])*"|[~|]')
#: In an equation quoted names and ``{comments}`` (which may nest) hide separators.
_EQUATION_SEPARATOR = re.compile(r'"(?:\\"|[^"])*"|[{~|]')
_BRACE = re.compile(r"[{}]")
_PLAIN_SEPARATOR = re.compile(r"[~|]")
_CONTROL = ("initial_time", "final_time", "time_step", "saveper")

_TOKEN = re.compile(
    r"""
     (?P<space>[\s\\]+)
    |(?P<number>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
    |(?P<name>[^\W\d][\w'$]*(?:(?:\s|\\(?=\s))+[\w'$]+)*)
    |(?P<qname>"(?:\\"|[^"])*")
    |(?P<string>'[^']*')
    |(?P<keyword>:[A-Za-z][A-Za-z ]*:)
    |(?P<op><->|->|:=|==|<>|<=|>=|[-+*/^(),\[\]=<>!;:])
    """,
    re.VERBOSE,
)
_LOGIC = (":AND:", ":OR:")
_COMPARISON = ("=", "<>", "<=", "<", ">=", ">")
_DATA_KEYWORDS = {":INTERPOLATE:", ":RAW:", ":HOLD BACKWARD:", ":LOOK FORWARD:"}


def _clean(text: str) -> str:
    """Text as PySD sees it: line continuations and runs of white space made one space."""
    return re.sub(r"[\n\t\s]+", " ", re.sub(r"\\\n\t", " ", text)).strip()


@dataclass(frozen=True)
class _Token:
    kind: str  # number, name, qname, string, keyword, op, end
    text: str  # as written (op and keyword upper-cased)
    start: int  # offset in the file's text
    end: int


class _Source:
    """The file's text and path: turns an offset into ``line, column`` for errors."""

    def __init__(self, text: str, path: Path) -> None:
        self.text = text
        self.path = path

    def error(self, message: str, offset: int) -> NoReturn:
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        raise ModelSyntaxError(message, str(self.path), line, column)

    def comment_end(self, start: int, end: int) -> int:
        """Just after the ``}`` closing the comment opened at ``start`` (comments nest)."""
        depth = 0
        for brace in _BRACE.finditer(self.text, start, end):
            depth += 1 if brace.group() == "{" else -1
            if depth == 0:
                return brace.end()
        self.error("Vensim syntax error: a comment '{' without its closing '}'", start)

    def tokens(self, start: int, end: int) -> list[_Token]:
        """The tokens of ``text[start:end]``, then an ``end`` token."""
        found: list[_Token] = []
        text, pos = self.text, start
        while pos < end:
            if text[pos] == "{":  # a comment, as white space
                pos = self.comment_end(pos, end)
                continue
            match = _TOKEN.match(text, pos, end)
            if match is None:
                self.error(f"Vensim syntax error: unexpected character {text[pos]!r}", pos)
            kind = match.lastgroup
            assert kind is not None
            if kind != "space":
                word = match.group()
                if kind in ("op", "keyword"):
                    word = " ".join(word.upper().split())
                found.append(_Token(kind, word, pos, match.end()))
            pos = match.end()
        last = found[-1].end if found else start  # an unexpected end points just after
        found.append(_Token("end", "", last, last))
        return found


def _name(token: _Token) -> str:
    """A name as PySD's cleaned text has it (white space runs made one space)."""
    return (
        " ".join(token.text.replace("\\", " ").split())
        if token.kind == "name"
        else _clean(token.text)
    )


def _key(name: str) -> str:
    return name.lower().replace(" ", "_")


def _number(text: str) -> int | float:
    """A number literal as Python reads it (PySD evaluates them): integers stay integers."""
    return int(text) if text.isdigit() else float(text)


# --------------------------------------------------------------------------- equations


class _Equation(OperatorLevels):
    """Recursive descent over one element's tokens (the left-hand side, then the right)."""

    def __init__(self, source: _Source, tokens: list[_Token]) -> None:
        self.source = source
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.variable = ""  # the element's name, once read: errors name it

    # ---- token helpers
    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def at(self, *texts: str) -> bool:
        token = self.token
        return token.kind in ("op", "keyword") and token.text in texts

    def take(self) -> _Token:
        token = self.token
        if token.kind != "end":
            self.index += 1
        return token

    def expect(self, text: str, what: str = "") -> _Token:
        if not self.at(text):
            self.fail(f"expected {what or repr(text)}")
        return self.take()

    def fail(self, message: str, token: _Token | None = None) -> NoReturn:
        token = token or self.token
        found = "the end of the equation" if token.kind == "end" else repr(token.text)
        self.error(f"{message}, found {found}", token.start)

    def error(self, message: str, offset: int) -> NoReturn:
        where = f" in {self.variable!r}" if self.variable else ""
        self.source.error(f"Vensim syntax error{where}: {message}", offset)

    def nested(self, opening: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.error(
                f"expression nested too deeply (more than {MAX_NESTING} levels)", opening.start
            )

    # ---- names and subscripts
    def name(self, what: str = "a name") -> str:
        if self.token.kind not in ("name", "qname"):
            self.fail(f"expected {what}")
        return _name(self.take())

    def subscript_list(self, allow_bang: bool) -> list[str]:
        self.expect("[")
        names: list[str] = []
        while True:
            item = self.name("a subscript")
            if allow_bang and self.at("!"):
                self.take()
                item += "!"
            names.append(item)
            if self.at("]"):
                self.take()
                return names
            if not allow_bang:
                self.expect(",", "',' or ']'")
            elif self.at(","):
                self.take()

    # ---- right-hand side: PySD's components grammar
    def right_side(self) -> Any:
        if self.token.kind == "name" and _name(self.token) == "TABBED ARRAY":
            return self.tabbed_array()
        array = self.number_array()
        if array is not None:
            return array
        value = self.final_expr()
        if self.token.kind != "end":
            self.fail("expected an operator")
        return value

    def tabbed_array(self) -> Any:
        self.take()
        self.expect("(")
        values = []
        while not self.at(")"):
            values.append(self.signed_number("a number"))
        self.take()
        if self.token.kind != "end":
            self.fail("expected the end of the equation")
        return np.array(values, dtype=float)

    def signed_number(self, what: str) -> int | float:
        sign = -1 if self.at("-") else 1
        if self.at("+", "-"):
            self.take()
        if self.token.kind != "number":
            self.fail(f"expected {what}")
        value = _number(self.take().text)
        return -value if sign < 0 else value

    def number_array(self) -> Any:
        """``1, 2; 3, 4`` (or one number) when the whole right-hand side is numbers."""
        tokens = self.tokens[self.index :]
        if not all(t.kind == "number" or t.text in "+-,;" for t in tokens[:-1]) or not any(
            t.kind == "number" for t in tokens
        ):
            return None
        rows: list[list[int | float]] = [[]]
        separated = False
        while self.token.kind != "end":
            if self.at(";"):
                self.take()
                rows.append([])
                separated = True
            elif self.at(","):
                self.take()
                separated = True
            else:
                rows[-1].append(self.signed_number("a number"))
        rows = [row for row in rows if row] or rows
        if not separated and len(rows[0]) != 1:  # ``1 + 2``: an expression after all
            self.index = len(self.tokens) - len(tokens)
            return None
        if not separated:
            return rows[0][0]
        if len({len(row) for row in rows}) != 1:
            self.error("rows of different lengths", tokens[0].start)
        return np.squeeze(np.array(rows, dtype=float))

    def final_expr(self) -> Any:
        operands = [self.logic_expr()]
        operators: list[str] = []
        while self.at(*_LOGIC):
            operators.append(self.take().text)
            operands.append(self.logic_expr())
        return syn.LogicStructure(operators, tuple(operands)) if operators else operands[0]

    def logic_expr(self) -> Any:
        if self.at(":NOT:"):
            self.take()
            return syn.LogicStructure([":NOT:"], (self.comp_expr(),))
        return self.comp_expr()

    def comp_expr(self) -> Any:
        left = self.add_expr()
        if self.at(*_COMPARISON):
            operator = self.take().text
            return syn.LogicStructure([operator], (left, self.add_expr()))
        return left

    def add_expr(self) -> Any:
        return self.chain(self.prod_expr, ("+", "-"))

    def prod_expr(self) -> Any:
        return self.chain(self.exp_expr, ("*", "/"))

    def expr(self) -> Any:
        token = self.token
        if token.kind == "number":
            return _number(self.take().text)
        if token.kind == "keyword" and token.text == ":NA:":
            self.take()
            return np.nan
        if self.at("("):
            opening = self.take()
            self.nested(opening)
            value = self.final_expr()
            self.expect(")", "')'")
            self.depth -= 1
            return value
        if token.kind == "name" and _name(token).upper() == "WITH LOOKUP" and self.next_is("("):
            return self.with_lookup()
        if token.kind in ("name", "qname"):
            return self.reference_or_call()
        if token.kind == "string":
            self.fail("a text in quotes is only an argument of a GET function")
        self.fail("expected a number, a name or '('")

    def next_is(self, text: str) -> bool:
        following = self.tokens[self.index + 1]
        return following.kind == "op" and following.text == text

    def reference_or_call(self) -> Any:
        token = self.token
        name = self.name()
        subscripts = None
        if self.at("["):
            subscripts = syn.SubscriptsReferenceStructure(self.subscript_list(allow_bang=True))
        reference = syn.ReferenceStructure(_key(name), subscripts)
        if not self.at("("):
            return reference
        opening = self.take()
        self.nested(opening)
        arguments = self.arguments()
        self.depth -= 1
        if reference.reference in syn.VENSIM:
            build = syn.VENSIM[reference.reference]
            low, high = _arity(build)
            if not low <= len(arguments) <= high:
                wanted = str(low) if low == high else f"{low} to {high}"
                self.error(f"{name} takes {wanted} arguments, not {len(arguments)}", token.start)
            return build(*arguments)
        return syn.CallStructure(reference, arguments)

    def arguments(self) -> tuple[Any, ...]:
        values: list[Any] = []
        while not self.at(")"):
            if self.token.kind == "end":
                self.fail("expected ')'")
            if self.token.kind == "string":
                values.append(self.take().text[1:-1])
            else:
                values.append(self.final_expr())
            if self.at(","):
                self.take()
        self.take()
        return tuple(values)

    def with_lookup(self) -> Any:
        self.take()
        opening = self.expect("(")
        self.nested(opening)
        argument = self.final_expr()
        self.expect(",", "',' and the lookup's points")
        self.expect("(", "'(' before the lookup's points")
        table = self.lookup_points()
        self.expect(")", "')'")
        self.depth -= 1
        return syn.InlineLookupsStructure(argument, table)

    def lookup_points(self) -> Any:
        """``[limits], (x, y), ...)``: the points and limits as PySD's LookupsStructure."""
        limits = None
        if self.at("["):
            limits = self.limits()
        points = self.points(",")
        if not points:
            self.fail("expected the lookup's points '(x, y)'")
        self.expect(")", "')'")
        values = np.array(points, dtype=float)
        values = values[np.argsort(values[:, 0])]
        xy = np.array(limits, dtype=float) if limits else np.full((2, 2), np.nan)
        return syn.VENSIM["lookup"](
            x=tuple(values[:, 0]),
            y=tuple(values[:, 1]),
            x_limits=tuple(xy[:, 0]),
            y_limits=tuple(xy[:, 1]),
            type="interpolate",
        )

    def limits(self) -> list[tuple[float, float]]:
        """``[(0,0)-(10,10)]``, then the ``,`` after it."""
        self.take()
        pairs = self.points("-", ",")
        self.expect("]", "']'")
        if self.at(","):
            self.take()
        return pairs

    def points(self, *separators: str) -> list[tuple[int | float, int | float]]:
        """``(x, y)`` pairs, each followed by an optional separator."""
        pairs = []
        while self.at("("):
            self.take()
            x = self.signed_number("a number")
            self.expect(",", "','")
            y = self.signed_number("a number")
            self.expect(")", "')'")
            pairs.append((x, y))
            if self.at(*separators):
                self.take()
        return pairs

    def texts(self) -> list[str]:
        """Texts in single quotes, separated by optional commas."""
        found = []
        while self.token.kind == "string":
            found.append(self.take().text[1:-1])
            if self.at(","):
                self.take()
        return found

    def lookup_definition(self) -> Any:
        """The right-hand side of ``name(...)``: points or ``GET XLS/DIRECT LOOKUPS(...)``."""
        self.expect("(")
        token = self.token
        if token.kind == "name" and re.fullmatch(
            r"GET[ _](XLS|DIRECT)[ _]LOOKUPS", _name(token), re.IGNORECASE
        ):
            self.take()
            self.expect("(")
            texts = self.texts()
            self.expect(")", "')'")
            self.expect(")", "')'")
            if len(texts) != 4:
                self.fail("GET LOOKUPS takes four texts in quotes", token)
            value = syn.VENSIM["get_xls_lookups"](*texts)
        else:
            value = self.lookup_points()
        if self.token.kind != "end":
            self.fail("expected the end of the lookup")
        return value


def _arity(build: Callable[..., Any]) -> tuple[int, int]:
    """How many arguments a builder of PySD's structures takes: ``(required, at most)``."""
    parameters = inspect.signature(build).parameters.values()
    required = sum(p.default is inspect.Parameter.empty for p in parameters)
    return required, len(parameters)


# --------------------------------------------------------------------------- elements


@dataclass
class _Component:
    """One parsed equation: what PySD's ``Component`` classes hold after ``parse()``."""

    name: str
    abstract: Any  # an AbstractComponent (or constraint, test input)
    units: str
    limits: tuple[float | None, ...] | None
    documentation: str


def _units(text: str, source: _Source, offset: int) -> tuple[str, tuple | None]:
    """Units and the ``[min, max, step]`` range after them, as PySD's Element splits them."""
    if not text.endswith("]") or "[" not in text:
        return text, None
    units, bracket = text.rsplit("[", 1)
    try:
        limits = tuple(
            float(x) if x.strip() != "?" else None for x in bracket.strip("]").split(",")
        )
    except ValueError:
        source.error(
            f"Vensim syntax error: a units range of numbers or '?' expected in {text!r}", offset
        )
    return units.strip(), limits


def _element(
    source: _Source, start: int, end: int, units: str, documentation: str, units_at: int
) -> _Component | syn.AbstractSubscriptRange:
    """One entry's equation: a subscript range, or a component with its AST."""
    tokens = source.tokens(start, end)
    parser = _Equation(source, tokens)
    if tokens[0].kind == "end":
        source.error("Vensim syntax error: an entry without an equation", start)
    units, limits = _units(units, source, units_at)
    name = parser.name("the name of a variable")
    parser.variable = name
    subscripts: list[str] = []
    excepts: list[list[str]] = []
    if parser.at("["):
        subscripts = parser.subscript_list(allow_bang=False)
        if parser.at(":EXCEPT:"):
            parser.take()
            excepts.append(parser.subscript_list(allow_bang=False))
            while parser.at(","):
                parser.take()
                excepts.append(parser.subscript_list(allow_bang=False))
    both = (subscripts, excepts)

    def component(abstract: Any) -> _Component:
        return _Component(name, abstract, units, limits, documentation)

    if parser.at(":THE CONDITION:", ":TEST INPUT:"):
        kind = parser.take()
        text = _clean(source.text[kind.end : end])
        made = syn.AbstractConstraint if kind.text == ":THE CONDITION:" else syn.AbstractTestInput
        return component(made(name=name, subscripts=subscripts, expression=text))
    if parser.at("=="):
        parser.take()
        return component(syn.AbstractUnchangeableConstant(subscripts=both, ast=parser.right_side()))
    if parser.at("="):
        parser.take()
        ast = parser.right_side()
        if isinstance(ast, syn.GetLookupsStructure):
            return component(syn.AbstractLookup(subscripts=both, ast=ast))
        return component(syn.AbstractComponent(subscripts=both, ast=ast))
    if parser.at("("):
        return component(syn.AbstractLookup(subscripts=both, ast=parser.lookup_definition()))
    if parser.token.kind == "end":  # no equation: Vensim's data variable, given at run time
        return component(syn.AbstractData(subscripts=both, ast=syn.VENSIM["data"](), keyword=None))
    if parser.at(":=") or (parser.token.kind == "keyword" and parser.token.text in _DATA_KEYWORDS):
        keyword = None
        if parser.token.kind == "keyword":
            keyword = parser.take().text[1:-1].lower().replace(" ", "_")
        if parser.token.kind == "end":
            ast = syn.VENSIM["data"]()
        else:
            parser.expect(":=", "':='")
            ast = parser.right_side()
        return component(syn.AbstractData(subscripts=both, ast=ast, keyword=keyword))
    if parser.at(":") and not subscripts:
        parser.take()
        return _subscript_range(parser, name)
    if parser.at("<->") and not subscripts:
        parser.take()
        other = parser.name("the name of a subscript range")
        if parser.token.kind != "end":
            parser.fail("expected the end of the equation")
        return syn.AbstractSubscriptRange(name=name, subscripts=other, mapping=[])
    parser.fail("expected '=', '==', ':=', '(' or ':' after the name")


def _subscript_range(parser: _Equation, name: str) -> syn.AbstractSubscriptRange:
    """``name: a, b, (c1-c3) -> mapping, (other: x, y)`` or ``name: GET ... SUBSCRIPT(...)``."""
    token = parser.token
    if token.kind == "name" and parser.next_is("("):
        parser.take()
        parser.take()
        texts = parser.texts()
        parser.expect(")", "')'")
        if len(texts) != 5:
            parser.fail("a subscript range read from a file takes five texts in quotes", token)
        keys = ("file", "tab", "firstcell", "lastcell", "prefix")
        definition: Any = dict(zip(keys, texts, strict=True))
    else:
        definition = []
        while True:
            if parser.at("("):
                definition.extend(_numbered_range(parser))
            else:
                definition.append(parser.name("a subscript"))
            if not parser.at(","):
                break
            parser.take()
    mapping: list[str] = []
    if parser.at("->"):
        parser.take()
        while True:
            if parser.at("("):
                parser.take()
                mapping.append(parser.name("a subscript range"))
                parser.expect(":", "':'")
                parser.name("a subscript")
                while parser.at(","):
                    parser.take()
                    parser.name("a subscript")
                parser.expect(")", "')'")
            else:
                mapping.append(parser.name("a subscript range"))
            if not parser.at(","):
                break
            parser.take()
    if parser.token.kind != "end":
        parser.fail("expected ',' or the end of the subscript range")
    return syn.AbstractSubscriptRange(name=name, subscripts=definition, mapping=mapping)


def _numbered_range(parser: _Equation) -> list[str]:
    """``(a1-a5)``: ``a1, a2, a3, a4, a5``."""
    opening = parser.take()
    first = parser.name("a subscript")
    parser.expect("-", "'-'")
    last = parser.name("a subscript")
    parser.expect(")", "')'")
    head, tail = re.fullmatch(r"(.*?)(\d+)", first), re.fullmatch(r"(.*?)(\d+)", last)
    if not head or not tail or not head.group(1) or head.group(1) != tail.group(1):
        parser.error(
            "a numbered range joins names with one prefix and a number "
            f"(a1-a5), not {first!r}-{last!r}",
            opening.start,
        )
    low, high = int(head.group(2)), int(tail.group(2))
    if low >= high:
        parser.error(f"the range {first}-{last} must count upwards", opening.start)
    return [f"{head.group(1)}{i}" for i in range(low, high + 1)]


# --------------------------------------------------------------------------- sections


def _separator(source: _Source, pos: int, end: int, part: int) -> int:
    """The next ``~`` or ``|`` in ``text[pos:end]`` that ends entry part number ``part``.

    In the equation (part 0) separators inside double-quoted names and ``{comments}`` do not
    count; in the units and flags, inside quoted names; the documentation (part 2) is read
    as PySD reads it, to its first separator.
    """
    text = source.text
    if part == 2:
        match = _PLAIN_SEPARATOR.search(text, pos, end)
        return match.start() if match else -1
    pattern = _EQUATION_SEPARATOR if part == 0 else _QUOTED_SEPARATOR
    while True:
        match = pattern.search(text, pos, end)
        if match is None:
            return -1
        found = match.group()
        if found in ("~", "|"):
            return match.start()
        pos = source.comment_end(match.start(), end) if found == "{" else match.end()


def _entries(source: _Source, start: int, end: int) -> list[Any]:
    """The elements of one section's text ``[start, end)``, in order."""
    text = source.text
    found: list[Any] = []
    pos = start
    while True:
        parts: list[tuple[int, int]] = []
        cursor = pos
        while True:
            at = _separator(source, cursor, end, len(parts))
            if at < 0:
                return found  # the rest is not an entry: ignored, as PySD ignores it
            parts.append((cursor, at))
            cursor = at + 1
            if text[at] == "|":
                break
        pos = cursor
        if len(parts) == 2:
            continue  # a group header: "title ~ comment |"
        if len(parts) not in (3, 4):
            return found
        (eq_start, eq_end), units, doc = parts[0], parts[1], parts[2]
        units_text = _clean(text[units[0] : units[1]])
        doc_text = _clean(text[doc[0] : doc[1]])
        found.append(_element(source, eq_start, eq_end, units_text, doc_text, units[0]))


def _section(
    source: _Source,
    spans: Sequence[tuple[int, int]],
    name: str,
    path: Path,
    kind: str,
    params: list[str],
    returns: list[str],
) -> syn.AbstractSection:
    items = [item for start, end in spans for item in _entries(source, start, end)]
    ranges = [i for i in items if isinstance(i, syn.AbstractSubscriptRange)]
    components = [i for i in items if isinstance(i, _Component)]
    merged: dict[str, syn.AbstractElement] = {}
    constraints, test_inputs = [], []
    for component in components:
        if isinstance(component.abstract, syn.AbstractConstraint):
            constraints.append(component.abstract)
            continue
        if isinstance(component.abstract, syn.AbstractTestInput):
            test_inputs.append(component.abstract)
            continue
        key = _key(component.name)
        if key not in merged:
            made = syn.AbstractControlElement if key in _CONTROL else syn.AbstractElement
            merged[key] = made(name=component.name, components=[])
        element = merged[key]
        if component.units:
            element.units = component.units
        if component.limits:
            element.limits = component.limits
        if component.documentation:
            element.documentation = component.documentation
        element.components.append(component.abstract)
    return syn.AbstractSection(
        name=name,
        path=path,
        type=kind,
        params=params,
        returns=returns,
        subscripts=ranges,
        elements=list(merged.values()),
        constraints=constraints,
        test_inputs=test_inputs,
        split=False,
        views_dict=None,
    )


def _macro_names(text: str) -> list[str]:
    return [" ".join(x.split()) for x in text.split(",") if x.strip()]


def parse_expression(text: str, path: Path) -> Any:
    """One Vensim right-hand side (``text`` alone) as PySD's syntax tree; errors name ``path``
    and the line and column in ``text``."""
    source = _Source(text, path)
    return _Equation(source, source.tokens(0, len(text))).right_side()


def parse_mdl(text: str, path: Path) -> syn.AbstractModel:
    """Read Vensim ``.mdl`` ``text`` (the file ``path``) into PySD's ``AbstractModel``.

    Raises
    ------
    ModelSyntaxError
        For malformed text, with the file's line and column.
    """
    source = _Source(text, path)
    sketch = text.find(_SKETCH)
    stop = len(text) if sketch < 0 else sketch
    encoding = _ENCODING.match(text, 0, stop)
    pos = encoding.end() if encoding else 0
    main: list[tuple[int, int]] = []
    macros: list[syn.AbstractSection] = []
    while True:
        at = text.find(_MACRO, pos, stop)
        if at < 0:
            main.append((pos, stop))
            break
        main.append((pos, at))
        head = _MACRO_HEAD.match(text, at, stop)
        close = text.find(_END_MACRO, at, stop)
        if head is None or close < 0:
            source.error(
                "Vensim syntax error: a macro is ':MACRO: name(inputs) ... :END OF MACRO:'", at
            )
        name = _clean(head.group("name"))
        inputs, _, outputs = head.group("args").partition(":")
        folder_name = re.sub(r"[\W]+", "", name.replace(" ", "_")).lstrip("0123456789")
        macros.append(
            _section(
                source,
                [(head.end(), close)],
                _key(name),
                path.parent / f"{folder_name}.py",
                "macro",
                _macro_names(_clean(inputs)),
                _macro_names(_clean(outputs)),
            )
        )
        pos = close + len(_END_MACRO)
    first = _section(source, main, "__main__", path.with_suffix(".py"), "main", [], [])
    return syn.AbstractModel(original_path=path, sections=(first, *macros))
