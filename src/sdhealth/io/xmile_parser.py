"""sdhealth's own reader of XMILE files (``.xmile``, ``.xml``, ``.stmx``): XML -> equations.

PySD's XMILE translator parses each equation with a parsimonious grammar and reports failures in
parser jargon that names only the file ("Rule 'expr_type' matched in its entirety, but it didn't
consume all the text"). This module reads the same files into the same thing PySD's
``XmileFile.get_abstract_model()`` builds (PySD's ``AbstractModel``, one abstract syntax tree
per equation, in the shapes PySD's visitor gives them), so
:func:`sdhealth.io.abstract.abstract_to_model` turns either into the IR, and
``tests/io/test_xmile_parser.py`` reads the SDXorg suite and the other XMILE corpora through
both and compares the models. PySD's reader stays available:
``sd.load(path, front_end="pysd")``.

The XML is read by lxml; a file that is not well-formed is an error at its line (not a model
with parts missing), except for ``isee:`` elements whose prefix Stella leaves undeclared and
``--`` in comments.
Elements are found by their local names in the XMILE 1.0 namespace, the pre-standard one or
none; a file in another namespace reads as empty, which
:func:`sdhealth.io.xmile_scan.ensure_model_content` then refuses, naming the namespace. As PySD
does, the variables of every ``<model>`` are read into one namespace (the modules that collide
are the model's caveats) and ``SAVEPER`` is the time step.

Equations: one tokenizer (a compiled regular expression; every token knows its offset in the
equation, and the equation its line in the file) and a precedence-climbing parser with PySD's
levels, loosest first: ``IF c THEN a ELSE b``; ``AND``/``OR`` (one level); ``NOT``; one
comparison (``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``); ``+``/``-``; ``MOD``; ``*``/``/``;
``^`` (chains right to left, a negated operand wrapping the power it starts, as in PySD);
unary ``-``/``+``. Keywords are words in any case. It reads a little more than PySD's grammar:
``ELSE IF`` chains, several ``MOD`` in a row, ``DT``, ``STARTTIME``, ``STOPTIME``, ``PI`` and
``INF``, ``PREVIOUS(x[, i])`` (Vensim's ``DELAY FIXED`` by one time step) with ``SELF``,
``PULSE(v, first[, interval])`` and ``RAMP(s, t0)`` without an end (PySD leaves both as
functions nothing runs), and ``LOOKUP(name, x)`` (a graphical function
called by name, which PySD fails on): the call ``name(x)`` of a ``<gf>``, or the graphical
function of an ``<aux>``/``<flow>`` applied to ``x``. No user text reaches ``eval``;
every error is a :class:`~sdhealth.errors.ModelSyntaxError` with the file, line and column and
the variable's name. Where PySD's reader gives Vensim's meaning to a Stella builtin, this one
gives Stella's: ``INT`` floors (``INT(-19.875)`` is -20, Vensim's ``INTEGER`` truncates) and
``MOD`` has the sign of the divisor (``-7 MOD 3`` is 2, Vensim's ``MODULO`` gives -1).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from lxml import etree

from sdhealth.errors import ModelSyntaxError
from sdhealth.io import syntax as syn
from sdhealth.io.abstract import OUTFLOWS_LIMITED, OUTFLOWS_LIMITED_CLAMPED
from sdhealth.io.abstract_expressions import draw_call, without_module_quotes
from sdhealth.io.expressions import MAX_NESTING
from sdhealth.io.mdl_parser import parse_expression
from sdhealth.io.operator_levels import OperatorLevels
from sdhealth.io.xmile_scan import (
    _SPECIAL_STOCKS,
    XMILE_NAMESPACES,
    belt_amounts,
    leak_text,
    plain_conveyor,
)
from sdhealth.ir import functions as fn

__all__ = ["parse_xmile"]

_TOKEN = re.compile(
    r"""
     (?P<space>\s+)
    |(?P<number>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
    |(?P<name>[^\W\d][\w'$]*(?:\.(?:[\w'$]+|"(?:\\"|[^"])*"))*)
    |(?P<qname>"(?:\\"|[^"])*")
    |(?P<op><>|<=|>=|[-+*/^(),\[\]=<>!;:])
    """,
    re.VERBOSE,
)
#: libxml2's errors that lose nothing: Stella's ``isee:`` elements with their prefix left
#: undeclared, and ``--`` inside a comment (the comment is skipped whole either way).
_HARMLESS_XML_ERRORS = frozenset({"NS_ERR_UNDEFINED_NAMESPACE", "ERR_HYPHEN_IN_COMMENT"})
_KEYWORDS = frozenset({"and", "or", "not", "mod", "if", "then", "else"})
#: xmutil's translation of a Vensim data function: ``0{GET_DIRECT_CONSTANTS(...)}``.
_VENSIM_DATA_CALL = re.compile(
    r"\s*0\s*\{\s*(GET_(?:DIRECT|XLS|123)_[A-Z_]+\s*\(.*\))\s*\}\s*", re.DOTALL | re.IGNORECASE
)
_COMPARISON = ("=", "<>", "<=", "<", ">=", ">")
_CONTROL = ("initial_time", "final_time", "time_step", "saveper")
_INTERPOLATION = {"continuous": "interpolate", "extrapolate": "extrapolate",
                  "discrete": "hold_backward"}  # fmt: skip
#: Names of PySD's structures that are not XMILE functions: a call of one is a plain call.
_NOT_FUNCTIONS = frozenset(
    {"reference", "subscripts_ref", "arithmetic", "logic", "inline_lookup", "lookup", "call",
     "stock", "negative"}
)  # fmt: skip


@dataclass(frozen=True)
class _Text:
    """Stands for an XML element whose text is ``text`` (a name given to ``flow_name``)."""

    text: str
    sourceline: int | None = None


@dataclass(frozen=True)
class _Index:
    """A subscript written as an expression: the element's position from 1."""

    expr: Any
    token: Any  # where it ends, for errors


@dataclass(frozen=True)
class _Token:
    kind: str  # number, name, qname, keyword, op, end
    text: str  # as written (keywords lower-cased)
    start: int  # offset in the equation's text
    end: int


class _Where:
    """The file, the variable and the XML element an equation came from, for errors.

    ``source`` is the file's text; with it an offset into the element's text becomes the line
    and column in the file (character references such as ``&lt;`` count as one character).
    """

    def __init__(self, path: Path, variable: str, element: Any, source: str = "") -> None:
        self.path = path
        self.variable = variable
        self.element = element
        self.source = source

    def error(self, message: str, text: str = "", offset: int | None = None) -> NoReturn:
        line, column = getattr(self.element, "sourceline", None), None
        if offset is not None and line is not None:
            line, column = self._position(line, offset)
        where = f" in {self.variable!r}" if self.variable else ""
        raise ModelSyntaxError(f"XMILE equation error{where}: {message}", str(self.path), line,
                               column)  # fmt: skip

    def _position(self, line: int, offset: int) -> tuple[int, int | None]:
        """File line and column of character ``offset`` of the element's text."""
        source = self.source
        start = 0
        for _ in range(line - 1):
            start = source.find("\n", start) + 1
            if start == 0:
                return line, None
        tag = re.compile(rf"<(?:[\w.-]+:)?{re.escape(_local(self.element))}\b[^>]*>")
        found = tag.search(source, start)
        if found is None:
            return line, None
        position, decoded = found.end(), 0
        while decoded < offset and position < len(source):
            if source[position] == "&":
                end = source.find(";", position)
                position = end + 1 if end > 0 else position + 1
            else:
                position += 1
            decoded += 1
        line = source.count("\n", 0, position) + 1
        return line, position - (source.rfind("\n", 0, position) + 1) + 1


def _tokens(text: str, where: _Where) -> list[_Token]:
    """The equation's tokens, then an ``end`` token. ``{comments}`` are white space (XMILE
    3.3.4); names written with spaces before a ``(`` (``VECTOR SORT ORDER(``) are one name."""
    found: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "{":
            close = text.find("}", pos)
            if close < 0:
                where.error("a comment '{' without its closing '}'", text, pos)
            pos = close + 1
            continue
        match = _TOKEN.match(text, pos)
        if match is None:
            where.error(f"unexpected character {text[pos]!r}", text, pos)
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            word = match.group()
            if kind == "name" and word.lower() in _KEYWORDS:
                kind, word = "keyword", word.lower()
            found.append(_Token(kind, word, pos, match.end()))
        pos = match.end()
    last = found[-1].end if found else 0
    found.append(_Token("end", "", last, last))
    return _join_spaced_names(found, text)


#: Vensim's function names written with spaces, as translated models use them.
_SPACED_FUNCTIONS = frozenset(
    {"vector sort order", "vector rank", "vector select", "vector reorder", "vector elm map",
     "vector lookup", "allocate by priority", "allocate available", "delay fixed",
     "sample if true", "pulse train", "with lookup", "active initial", "get time value"}
)  # fmt: skip


def _join_spaced_names(tokens: list[_Token], text: str) -> list[_Token]:
    """A run of names followed by ``(`` that spells one of :data:`_SPACED_FUNCTIONS` made one
    name (two names in a row are otherwise never valid, so this reads nothing that was not an
    error; an unknown spaced name stays the syntax error it is)."""
    joined: list[_Token] = []
    index = 0
    while index < len(tokens):
        end = index
        while end < len(tokens) and tokens[end].kind == "name" and "." not in tokens[end].text:
            end += 1
        following = tokens[end] if end < len(tokens) else None
        words = " ".join(t.text for t in tokens[index:end])
        if (
            end - index > 1
            and following is not None
            and following.text == "("
            and words.lower() in _SPACED_FUNCTIONS
        ):
            joined.append(_Token("name", words, tokens[index].start, tokens[end - 1].end))
            index = end
            continue
        joined.append(tokens[index])
        index += 1
    return joined


def _reference_name(token: _Token) -> str:
    """A name as PySD keys it: lower case, spaces as ``_``, quotes dropped (runs of white
    space in a quoted name count as one space, as PySD's reader sees them). A quoted name's
    ``\\"`` is a quote in the name; a module variable's quoted name, ``a."module/output"``,
    is keyed without its quotes."""
    text = token.text
    if token.kind == "qname" and len(text) > 1 and text[0] == text[-1] == '"':
        text = text[1:-1].replace('\\"', '"')
    text = without_module_quotes(text)
    return " ".join(text.split()).lower().replace(" ", "_").strip('"')


def _key(name: str) -> str:
    """A name compared as Stella compares names: case, spaces and underscores ignored."""
    return " ".join(name.replace("_", " ").split()).lower()


#: Stella's array builtins: the sum, product, extremes, mean, count, spread of an array.
_ARRAY_FUNCTIONS = frozenset({"sum", "prod", "mean", "size", "stddev"})


@dataclass
class _Arrays:
    """What equations need to know of the whole file: dimensions and their elements (by
    :func:`_key`), each variable's dimensions (by reference name) and the graphical functions
    of auxes and flows (by reference name)."""

    dimensions: dict[str, list[str]] = field(default_factory=dict)
    dims: dict[str, list[str]] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    #: Module instances (by :func:`_key`) -> the prefix of their variables' references.
    modules: dict[str, str] = field(default_factory=dict)
    #: While a module's equations are read: its prefix and its own variables' references.
    scope: tuple[str, frozenset[str]] | None = None


def _subscripts_in(node: Any) -> list[str]:
    """Every subscript of every reference in an abstract syntax tree, in order, once each."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, syn.SubscriptsReferenceStructure):
            found.extend(name for name in item.subscripts if name not in found)
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif hasattr(item, "__dataclass_fields__"):
            stack.extend(reversed([getattr(item, f) for f in item.__dataclass_fields__]))
    return found


def _summed_dimensions(node: Any) -> list[str]:
    """The dimensions marked ``!`` anywhere in an abstract syntax tree, in order."""
    return [name[:-1] for name in _subscripts_in(node) if name.endswith("!")]


def _named_dimensions(node: Any) -> list[str]:
    """The subscripts of every reference in an abstract syntax tree that carry no ``!``."""
    return [name for name in _subscripts_in(node) if not name.endswith("!")]


def _qualified(prefix: str | None, name: str) -> str:
    """A module variable's name as Stella exports it: ``hares.birth fraction``, and quoted
    after the module's name where it holds more than letters, digits, spaces and
    underscores (``a."module/output"``), as in Stella's equations."""
    if not prefix:
        return name
    return f'{prefix}."{name}"' if _NEEDS_QUOTES.search(name) else f"{prefix}.{name}"


_NEEDS_QUOTES = re.compile(r"[^\w ]")


def _reference_key(name: str) -> str:
    """A variable's display name as equations refer to it (PySD's key)."""
    return " ".join(name.split()).lower().replace(" ", "_")


#: Stella's names for the clock and its constants (no parentheses), in PySD's terms.
_CONSTANTS: dict[str, Any] = {
    "dt": syn.ReferenceStructure("time_step"),
    "starttime": syn.ReferenceStructure("initial_time"),
    "stoptime": syn.ReferenceStructure("final_time"),
    "pi": math.pi,
    "inf": math.inf,
}


def _number(text: str) -> int | float:
    return int(text) if text.isdigit() else float(text)


class _Equation(OperatorLevels):
    """Precedence climbing over one equation's tokens (see the module docstring)."""

    def __init__(self, text: str, where: _Where, arrays: _Arrays | None = None) -> None:
        self.text = text
        self.where = where
        self.arrays = arrays or _Arrays()
        self.tables = self.arrays.tables
        self.reducing = 0  # inside an array function: ``[*]`` is a whole dimension
        self.draws: list[Any] = []  # the random-number calls read so far in this equation
        self.tokens = _tokens(text, where)
        self.index = 0
        self.depth = 0

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
        self.where.error(f"{message}, found {found}", self.text, token.start)

    def nested(self, opening: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.where.error(
                f"expression nested too deeply (more than {MAX_NESTING} levels)",
                self.text, opening.start,
            )  # fmt: skip

    # ---- the equation
    def parse(self) -> Any:
        array = self.number_array()
        if array is not None:
            return array
        value = self.final_expr()
        if self.token.kind != "end":
            self.fail("expected an operator")
        return value

    def signed_number(self) -> int | float:
        sign = -1 if self.at("-") else 1
        if self.at("+", "-"):
            self.take()
        if self.token.kind != "number":
            self.fail("expected a number")
        value = _number(self.take().text)
        return -value if sign < 0 else value

    def number_array(self) -> Any:
        """``1, 2; 3, 4`` (or one number) when the whole equation is numbers."""
        tokens = self.tokens
        if not all(t.kind == "number" or t.text in ("+", "-", ",", ";") for t in tokens[:-1]):
            return None
        if not any(t.kind == "number" for t in tokens):
            return None
        rows: list[list[int | float]] = [[]]
        separated = False
        while self.token.kind != "end":
            if self.at(";", ","):
                rows.append([]) if self.take().text == ";" else None
                separated = True
            else:
                rows[-1].append(self.signed_number())
        rows = [row for row in rows if row] or rows
        if not separated and len(rows[0]) != 1:  # ``1 - 2``: an expression after all
            self.index = 0
            return None
        if not separated:
            return rows[0][0]
        if len({len(row) for row in rows}) != 1:
            self.where.error("rows of different lengths", self.text, tokens[0].start)
        return np.squeeze(np.array(rows, dtype=float))

    def final_expr(self) -> Any:
        if self.at("if"):
            opening = self.take()
            self.nested(opening)
            condition = self.logic2_expr()
            self.expect("then", "THEN")
            then = self.final_expr()
            self.expect("else", "ELSE")
            otherwise = self.final_expr()
            self.depth -= 1
            return syn.XMILE["if_then_else"](condition, then, otherwise)
        return self.logic2_expr()

    def logic2_expr(self) -> Any:
        operands = [self.logic_expr()]
        operators: list[str] = []
        while self.at("and", "or"):
            operators.append(f":{self.take().text.upper()}:")
            operands.append(self.logic_expr())
        return syn.LogicStructure(operators, tuple(operands)) if operators else operands[0]

    def logic_expr(self) -> Any:
        if self.at("not"):
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
        return self.chain(self.mod_expr, ("+", "-"))

    def mod_expr(self) -> Any:
        value = self.prod_expr()
        while self.at("mod"):
            self.take()
            value = _modulo(value, self.prod_expr())
        return value

    def prod_expr(self) -> Any:
        return self.chain(self.exp_expr, ("*", "/"))

    def expr(self) -> Any:
        token = self.token
        if token.kind == "number":
            return _number(self.take().text)
        if self.at("("):
            opening = self.take()
            self.nested(opening)
            value = self.final_expr()
            self.expect(")", "')'")
            self.depth -= 1
            return value
        if token.kind in ("name", "qname"):
            return self.reference_or_call()
        if token.kind == "keyword":
            self.fail(f"{token.text.upper()} where a value was expected")
        self.fail("expected a number, a name or '('")

    def simple_subscript(self) -> bool:
        """Whether the subscript here is a name or a number alone (else an expression)."""
        following = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else None
        return (
            self.token.kind in ("name", "qname", "number")
            and following is not None
            and (following.text in (",", "]", "!"))
        )

    def subscripts(self, variable: str) -> list[Any]:
        """``[a, b!, *]``: ``*`` is the variable's dimension at that place (summed over inside
        an array function; ``*:Sub`` its subrange ``Sub``), ``Dim.elem`` the element
        ``elem``; any other expression is the element's position from 1 (an
        :class:`_Index`)."""
        opening = self.expect("[")
        names: list[Any] = []
        while not self.at("]"):
            if not self.at("*") and not self.simple_subscript():
                item = _Index(self.final_expr(), self.token)
            elif self.at("*"):
                star = self.take()
                dims = self.arrays.dims.get(variable)
                if dims is None or len(names) >= len(dims):
                    self.fail(f"'*' needs the dimensions of {variable!r}, which has "
                              f"{len(dims or ())}", star)  # fmt: skip
                item = dims[len(names)]
                if self.at(":"):  # ``*:Sub``: every element of the subrange Sub of it
                    self.take()
                    if self.token.kind not in ("name", "qname"):
                        self.fail("expected a dimension after '*:'")
                    item = self.take().text.strip('"').replace("_", " ")
                    if _key(item) not in self.arrays.dimensions:
                        self.fail(f"{item!r} is not a dimension", star)
                item += "!" if self.reducing else ""
            elif self.token.kind in ("name", "qname", "number"):
                token = self.take()
                item = token.text.strip('"')
                if "." in item and token.kind == "name":
                    item = self.element_of(token)[1]
                item = item.replace("_", " ")
                if self.at("!"):
                    self.take()
                    item += "!"
            else:
                self.fail("expected a dimension or an element")
            names.append(item)
            if self.at(","):
                self.take()
        self.take()
        if not names:
            self.fail("expected a dimension or an element", opening)
        return names

    def selected(self, name: str, written: list[Any]) -> Any:
        """``x[i + 1]``: the element at a computed position from 1, as ``IF i + 1 = 1 THEN
        x[a] ELSE IF ... ELSE 0`` (an index out of range is 0, as XMILE says)."""
        dims = self.arrays.dims.get(name)
        if dims is None or len(dims) != len(written):
            at = next(item.token for item in written if isinstance(item, _Index))
            self.fail(f"a computed subscript needs the dimensions of {name!r}", at)
        choices = []
        for place, item in enumerate(written):
            elements = self.arrays.dimensions.get(_key(dims[place]), [])
            if isinstance(item, _Index):
                choices.append([(item.expr, k + 1, e) for k, e in enumerate(elements)])
            else:
                choices.append([(None, None, item)])
        result: Any = 0
        for combination in reversed(list(itertools.product(*choices))):
            tests = [
                syn.LogicStructure(["="], (expr, position))
                for expr, position, _ in combination
                if expr is not None
            ]
            reference = syn.ReferenceStructure(
                name, syn.SubscriptsReferenceStructure([e for _, _, e in combination])
            )
            condition = tests[0] if len(tests) == 1 else syn.LogicStructure(
                [":AND:"] * (len(tests) - 1), tuple(tests))  # fmt: skip
            result = syn.XMILE["if_then_else"](condition, reference, result)
        return result

    def element_of(self, token: _Token) -> tuple[int, str]:
        """``Dim.elem``: the element's position (from 1) in its dimension and its name."""
        dimension, _, element = token.text.partition(".")
        elements = self.arrays.dimensions.get(_key(dimension))
        if elements is None:
            self.where.error(
                f"{token.text!r}: {dimension!r} is neither a dimension nor a module",
                self.text, token.start,
            )  # fmt: skip
        keys = [_key(e) for e in elements]
        if _key(element) not in keys:
            self.where.error(
                f"{token.text!r}: {dimension!r} has no element {element!r} "
                f"(it has {', '.join(elements)})", self.text, token.start,
            )  # fmt: skip
        index = keys.index(_key(element))
        return index + 1, elements[index]

    def reference_or_call(self) -> Any:
        token = self.take()
        if token.kind == "name" and "." in token.text:
            module, _, variable = token.text.partition(".")
            prefix = self.arrays.modules.get(_key(module))
            if prefix is None:
                return self.element_of(token)[0]  # ``Dim.elem`` as a number: its position
            variable = variable.strip('"')  # Stella quotes a."module/output"
            name = f"{prefix}.{_reference_key(variable.replace('_', ' '))}"  # a module's output
        else:
            name = _reference_name(token)
            scope = self.arrays.scope
            if scope is not None and name in scope[1]:
                name = f"{scope[0]}.{name}"  # a variable of the module being read
        if name in _CONSTANTS and not self.at("(", "["):
            return _CONSTANTS[name]
        if name == "self" and self.where.variable and not self.at("(", "["):
            name = _reference_key(self.where.variable)  # the variable being defined
        subscripts = None
        if self.at("["):
            written = self.subscripts(name)
            if any(isinstance(item, _Index) for item in written):
                return self.selected(name, written)
            subscripts = syn.SubscriptsReferenceStructure(written)
        reference = syn.ReferenceStructure(name, subscripts)
        if not self.at("("):
            if self.reducing and subscripts is None and name in self.arrays.dims:
                whole = [f"{d}!" for d in self.arrays.dims[name]]  # SUM(x): all of x
                return syn.ReferenceStructure(name, syn.SubscriptsReferenceStructure(whole))
            return reference
        opening = self.take()
        self.nested(opening)
        reducer = name in _ARRAY_FUNCTIONS or (name in ("min", "max") and self.one_argument())
        reducer = reducer or name == "rank"
        self.reducing += reducer
        arguments = self.arguments()
        self.reducing -= reducer
        self.depth -= 1
        if name == "rank":
            return self.rank(token, arguments)
        if reducer:
            return self.array_function(token, name, arguments)
        if (
            name == "lookup"
            and len(arguments) == 2
            and isinstance(arguments[0], syn.ReferenceStructure)
        ):
            table, argument = arguments  # a graphical function called by name
            if table.reference in self.tables:  # an aux's or flow's: its table applied to x
                return syn.XMILE["inline_lookup"](argument, self.tables[table.reference])
            if table.subscripts is not None:  # one element's own table: LOOKUP(name[a], x)
                where = ",".join(_key(s) for s in table.subscripts.subscripts)
                found = self.tables.get(f"{table.reference}[{where}]")
                if found is not None:
                    return syn.XMILE["inline_lookup"](argument, found)
            return syn.CallStructure(table, (argument,))
        if name == "int" and len(arguments) == 1:
            return _floor(arguments[0])
        if name == "ramp" and len(arguments) == 2:  # no end time: rising to the end of the run
            return syn.CallStructure(syn.ReferenceStructure("ramp"), (*arguments, _FINAL_TIME))
        if name == "pulse" and len(arguments) in (2, 3):
            return _pulse(*arguments)
        if name == "pulse_train" and len(arguments) == 4:
            # Vensim's PULSE TRAIN(start, width, interval, end), kept in the order PySD's
            # Vensim translator stores it (start, interval, width, end), as the .mdl reader does
            start, width, interval, end = arguments
            return syn.CallStructure(reference, (start, interval, width, end))
        if name == "previous" and len(arguments) in (1, 2):
            # the value one DT earlier (the initial value ``i``, default 0, in the first DT):
            # Vensim's DELAY FIXED by one time step. The default is the reference outputs'
            # (test-models-more/xmile/vector_snapshot_operand: PREVIOUS(vals) is 0 at the start)
            value = arguments[0]
            initial = arguments[1] if len(arguments) == 2 else 0
            return syn.DelayFixedStructure(value, syn.ReferenceStructure("time_step"), initial)
        if name in fn.STELLA_DRAWS:
            return self.draw(token, name, arguments)
        build = None if name in _NOT_FUNCTIONS else syn.XMILE.get(name)
        if build is None:
            return syn.CallStructure(reference, arguments)
        if isinstance(build, dict):
            if len(arguments) not in build:
                counts = sorted(build)
                wanted = " or ".join(map(str, counts))
                self.where.error(
                    f"{token.text.upper()} takes {wanted} arguments, not {len(arguments)}",
                    self.text, token.start,
                )  # fmt: skip
            return build[len(arguments)](*arguments)
        try:
            return build(*arguments)
        except TypeError:
            self.where.error(
                f"{token.text.upper()} cannot take {len(arguments)} arguments",
                self.text, token.start,
            )  # fmt: skip

    def draw(self, token: _Token, name: str, arguments: tuple[Any, ...]) -> Any:
        """``RANDOM(min, max[, seed])``, ``NORMAL(mean, sd[, seed])``, ``EXPRND(mean[, seed])``,
        ``LOGNORMAL(mean, sd[, seed])`` (XMILE 3.5.2): the IR's draw with seed -1 for none and
        the call's number in this equation (:class:`sdhealth.ir.functions.RandomDraw`)."""
        count = fn.STELLA_DRAWS[name].parameters
        if len(arguments) not in (count, count + 1):
            self.where.error(
                f"{token.text.upper()} takes {count} or {count + 1} arguments (the last a seed), "
                f"not {len(arguments)}", self.text, token.start,
            )  # fmt: skip
        seed = arguments[count] if len(arguments) > count else -1
        written = (name, arguments[:count], seed)
        self.draws.append(written)
        occurrence = self.draws.count(written)  # among identical calls (RandomDraw)
        call = syn.ReferenceStructure(draw_call(name))
        return syn.CallStructure(call, (*arguments[:count], seed, occurrence))

    def one_argument(self) -> bool:
        """Whether the call whose ``(`` was just read has one argument (MIN/MAX of an array)."""
        depth = 0
        for token in self.tokens[self.index :]:
            if token.kind == "end":
                return True
            if token.text in ("(", "["):
                depth += 1
            elif token.text in (")", "]"):
                if depth == 0:
                    return True
                depth -= 1
            elif token.text == "," and depth == 0:
                return False
        return True

    def rank(self, token: _Token, arguments: tuple[Any, ...]) -> Any:
        """``RANK(array, k)``: Stella's (XMILE 3.7.1.3) index, from 1, of the ``k``-th smallest
        element of a whole array (``x[*]``, ``x``, a dimension the variable does not have);
        over the equation's own dimension (``RANK(a[Region] + b[Region], 1)`` in an equation
        of ``Region``, as xmutil translates Vensim's ``VECTOR RANK``) each element's rank,
        from 1, as Vensim's ``VECTOR RANK`` gives it."""
        if len(arguments) != 2:
            self.where.error(
                "RANK with a tie-breaking array (a third argument) is not supported yet"
                if len(arguments) == 3 else f"RANK takes 2 arguments, not {len(arguments)}",
                self.text, token.start,
            )  # fmt: skip
        array, k = arguments
        function = "rank" if self.ranged_over(array) else "vector_rank"
        return syn.CallStructure(syn.ReferenceStructure(function), (array, k))

    def ranged_over(self, argument: Any) -> list[str]:
        """The dimensions an array function of ``argument`` runs over: those marked ``[*]``,
        then those its references name that the equation's variable does not have
        (``MIN(x[Dim])`` on a variable without ``Dim``: all of ``Dim``)."""
        marked = _summed_dimensions(argument)
        own = {_key(d) for d in self.arrays.dims.get(_reference_key(self.where.variable), ())}
        return marked + [
            name for name in _named_dimensions(argument)
            if _key(name) in self.arrays.dimensions and _key(name) not in own
            and name not in marked
        ]  # fmt: skip

    def array_function(self, token: _Token, name: str, arguments: tuple[Any, ...]) -> Any:
        """Stella's array builtins over the dimensions marked ``!`` in their argument."""
        if len(arguments) > 1 and name in ("sum", "mean"):  # a list of values, not an array
            total = syn.ArithmeticStructure(["+"] * (len(arguments) - 1), arguments)
            return (
                total if name == "sum" else syn.ArithmeticStructure(["/"], (total, len(arguments)))
            )
        if len(arguments) != 1:
            self.where.error(
                f"{token.text.upper()} of an array takes one argument, not {len(arguments)}",
                self.text, token.start,
            )  # fmt: skip
        (argument,) = arguments
        if name == "size" and isinstance(argument, syn.ReferenceStructure):
            elements = self.arrays.dimensions.get(_key(argument.reference))
            if elements is not None and argument.subscripts is None:
                return len(elements)  # SIZE(Dim): how many elements Dim has
        marked = _summed_dimensions(argument)
        summed = self.ranged_over(argument)
        if not summed:
            self.where.error(
                f"{token.text.upper()} needs an array: write its dimensions as [*]",
                self.text, token.start,
            )  # fmt: skip
        size = 1
        for dimension in summed:
            size *= len(self.arrays.dimensions.get(_key(dimension), ()))
        if name == "size":
            return size
        if name == "mean":
            total = syn.CallStructure(syn.ReferenceStructure("sum"), (argument,))
            return syn.ArithmeticStructure(["/"], (total, size))
        if name == "stddev":
            # the population standard deviation (divided by n, not n - 1): the open-source
            # engine that matches Stella's exports does so; xmile-semantics.md lists it Open
            def total(of: Any) -> Any:
                return syn.CallStructure(syn.ReferenceStructure("sum"), (of,))

            squares = total(syn.ArithmeticStructure(["^"], (argument, 2)))
            mean = syn.ArithmeticStructure(["/"], (total(argument), size))
            variance = syn.ArithmeticStructure(
                ["/", "-"], (squares, size, syn.ArithmeticStructure(["^"], (mean, 2)))
            )
            return syn.CallStructure(syn.ReferenceStructure("sqrt"), (variance,))
        vensim = {"min": "vmin", "max": "vmax"}.get(name, name)
        if name in ("min", "max") and not marked:
            vensim += "_xmile"  # PySD's form for a range left unmarked: the same reduction
        return syn.CallStructure(syn.ReferenceStructure(vensim), (argument,))

    def arguments(self) -> tuple[Any, ...]:
        values: list[Any] = []
        while not self.at(")"):
            if self.token.kind == "end":
                self.fail("expected ')'")
            values.append(self.final_expr())
            if self.at(","):
                self.take()
        self.take()
        return tuple(values)


def _constant(node: Any) -> float | None:
    """The value of an expression of numbers alone (``-7 / 3``), else None."""
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return float(node)
    if not isinstance(node, syn.ArithmeticStructure):
        return None
    values = [_constant(a) for a in node.arguments]
    if any(v is None for v in values):
        return None
    if node.operators == ["negative"]:
        return -values[0]  # type: ignore[operator]
    result = values[0]
    try:
        for operator, value in zip(node.operators, values[1:], strict=True):
            result = _OPERATIONS[operator](result, value)
    except (ZeroDivisionError, OverflowError, KeyError):
        return None
    return result


_OPERATIONS: dict[str, Callable[[Any, Any], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}


def _floor(value: Any) -> Any:
    """Stella's ``INT(x)``: the largest integer not above ``x`` (``INT(-19.875)`` is -20;
    Vensim's ``INTEGER`` truncates toward zero): the IR's ``FLOOR``, or the number itself for
    a constant."""
    constant = _constant(value)
    if constant is not None:
        return math.floor(constant)
    return syn.CallStructure(syn.ReferenceStructure("floor"), (value,))


def _modulo(a: Any, b: Any) -> Any:
    """Stella's ``a MOD b``: ``a - b*INT(a/b)``, with the sign of ``b`` (``-7 MOD 3`` is 2;
    Vensim's ``MODULO`` has the sign of ``a`` and gives -1)."""
    x, y = _constant(a), _constant(b)
    if x is not None and y:
        return x % y  # Python's % is this floored modulus
    quotient = syn.ArithmeticStructure(["/"], (a, b))
    return syn.ArithmeticStructure(
        ["-"], (a, syn.ArithmeticStructure(["*"], (b, _floor(quotient))))
    )


_TIME_STEP = syn.ReferenceStructure("time_step")
_FINAL_TIME = syn.ReferenceStructure("final_time")


def _pulse(volume: Any, first: Any, interval: Any = 0) -> Any:
    """Stella's ``PULSE(v, first[, interval])``: ``v/DT`` during one DT at ``first`` and then
    every ``interval`` (none, or 0, is one pulse), so a stock it flows into gains ``v`` each
    time: Vensim's ``PULSE(first, DT)`` or ``PULSE TRAIN(first, DT, interval, FINAL TIME)``
    scaled by ``v/DT`` (PySD stores a train's arguments as start, interval, width, end)."""
    if _constant(interval) == 0:
        shape = syn.CallStructure(syn.ReferenceStructure("pulse"), (first, _TIME_STEP))
    else:
        shape = syn.CallStructure(
            syn.ReferenceStructure("pulse_train"), (first, interval, _TIME_STEP, _FINAL_TIME)
        )
    return syn.ArithmeticStructure(["/", "*"], (volume, _TIME_STEP, shape))


# --------------------------------------------------------------------------- the XML


def _local(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _Document:
    """The XML tree, read in the namespaces sdhealth reads."""

    def __init__(self, root: Any, path: Path, source: str) -> None:
        self.root = root
        self.path = path
        self.source = source
        self.arrays = _Arrays()
        tag = root.tag if isinstance(root.tag, str) else ""
        namespace = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
        self.readable = namespace in ("", *XMILE_NAMESPACES)

    def children(self, element: Any, name: str) -> list[Any]:
        if not self.readable:
            return []
        return [child for child in element if _local(child) == name]

    def child(self, element: Any, name: str) -> Any | None:
        found = self.children(element, name)
        return found[0] if found else None

    def text(self, element: Any, name: str) -> str | None:
        found = self.child(element, name)
        return None if found is None else found.text

    def where(self, variable: str, element: Any) -> _Where:
        return _Where(self.path, variable, element, self.source)

    def equation(self, text: str | None, variable: str, element: Any) -> Any:
        where = self.where(variable, element)
        if text is None or not text.strip():
            where.error("the equation is empty")
        data = _VENSIM_DATA_CALL.fullmatch(text)
        if data is not None:
            return self.vensim_data_call(data.group(1), where)
        return _Equation(text, where, self.arrays).parse()

    def vensim_data_call(self, call: str, where: _Where) -> Any:
        """xmutil's ``0{GET_DIRECT_CONSTANTS('b.csv', ',', 'B2*')}``: the Vensim call it could
        not translate, in a comment after a stand-in 0. Stella would run the 0; the call says
        what the modeller meant (the data of a file beside the model), so it is read as the
        ``.mdl`` reader reads it, with xmutil's underscores for spaces (outside quotes)."""
        parts = re.split(r"('[^']*')", call)
        text = "".join(p if p.startswith("'") else p.replace("_", " ") for p in parts)
        try:
            return parse_expression(text, self.path)
        except ModelSyntaxError as error:
            where.error(f"in the Vensim call xmutil left in a comment: {error.message}", text, 0)


def _non_negative(doc: _Document, element: Any, default: bool) -> bool:
    flag = doc.child(element, "non_negative")
    if flag is None:
        return default
    return "false" not in (flag.text or "").lower()


def _behaviours(doc: _Document) -> tuple[bool, bool]:
    """``(stocks, flows)`` non-negative by default (the file's ``<behavior>``)."""
    behavior = doc.child(doc.root, "behavior")
    if behavior is None:
        return False, False
    if doc.child(behavior, "non_negative") is not None:
        return True, True
    stock, flow = doc.child(behavior, "stock"), doc.child(behavior, "flow")
    return (
        stock is not None and doc.child(stock, "non_negative") is not None,
        flow is not None and doc.child(flow, "non_negative") is not None,
    )


def _numbers(doc: _Document, element: Any, what: str, variable: str) -> np.ndarray:
    text = element.text or ""
    separator = element.get("sep", ",")
    try:
        values = [float(part) for part in text.split(separator) if part.strip()]
    except ValueError:
        doc.where(variable, element).error(
            f"the {what} of the graphical function are not numbers separated by {separator!r}"
        )
    return np.array(values, dtype=float)


def _lookup(doc: _Document, gf: Any, variable: str) -> Any:
    where = doc.where(variable, gf)
    ypts = doc.child(gf, "ypts")
    if ypts is None:
        where.error("the graphical function has no <ypts>")
    ys = _numbers(doc, ypts, "y points", variable)
    xscale = doc.child(gf, "xscale")
    if xscale is not None:
        try:
            xs = np.linspace(float(xscale.get("min")), float(xscale.get("max")), len(ys))
        except (TypeError, ValueError):
            where.error("the graphical function's <xscale> needs numbers min and max")
    else:
        xpts = doc.child(gf, "xpts")
        if xpts is None:
            where.error("the graphical function has neither <xscale> nor <xpts>")
        xs = _numbers(doc, xpts, "x points", variable)
    if len(xs) != len(ys) or not len(ys):
        where.error(f"the graphical function has {len(xs)} x points and {len(ys)} y points")
    kind = gf.get("type", "continuous")
    if kind not in _INTERPOLATION:
        where.error(f"unknown graphical function type {kind!r} (continuous, extrapolate, discrete)")
    order = np.argsort(xs)
    return syn.XMILE["lookup"](
        x=tuple(xs[order]),
        y=tuple(ys[order]),
        x_limits=(np.min(xs), np.max(xs)),
        y_limits=(np.min(ys), np.max(ys)),
        type=_INTERPOLATION[kind],
    )


def _limits(doc: _Document, element: Any, tag: str) -> tuple[float | None, float | None]:
    found = doc.child(element, tag)
    if found is None:
        return (None, None)
    return tuple(  # type: ignore[return-value]
        float(found.get(side)) if found.get(side) is not None else None for side in ("min", "max")
    )


def _name(element: Any) -> str:
    return str(element.get("name", "")).replace("\\n", " ")


class _Reader:
    def __init__(self, doc: _Document) -> None:
        self.doc = doc
        self.stocks_non_negative, self.flows_non_negative = _behaviours(doc)
        #: (module key or None, flow key) -> (the non-negative stock it drains, its priority)
        self.limited: dict[tuple[str | None, str], tuple[Any, int]] = {}
        #: id of a stock whose outflows are limited -> how (``abstract.OUTFLOWS_LIMITED...``)
        self.stocks: dict[int, str] = {}
        #: (module key or None, flow key) -> the plain conveyor whose outflow it is
        self.belts: dict[tuple[str | None, str], Any] = {}
        #: (module key or None, flow key) -> (the plain conveyor it leaks from, the leak flow)
        self.leaks: dict[tuple[str | None, str], tuple[Any, Any]] = {}
        #: id of a leaking conveyor -> its leak flows (:meth:`fraction`)
        self.belt_leaks: dict[int, list[Any]] = {}
        #: (module key or None, flow key) -> (the plain conveyor it feeds, its priority)
        self.admitted: dict[tuple[str | None, str], tuple[Any, int]] = {}
        #: elements the reader adds (a leaking conveyor's no-leak pipeline), all internal
        self.extra: list[Any] = []
        self.prefix: str | None = None  # the module of the element being read

    def plan_stocks(self, placed: list[tuple[Any, str, str | None]]) -> None:
        """Note the flows of Stella's special stocks before any equation is read: the outflow,
        leak and inflows of each plain conveyor (:func:`~sdhealth.io.xmile_scan.plain_conveyor`)
        and each outflow of a non-negative stock (xmile-semantics.md 1.3: a plain stock, not a
        conveyor, queue or oven, whose ``<non_negative/>`` limits its outflows)."""
        doc = self.doc
        drains: dict[tuple[str | None, str], int] = {}  # flow -> how many stocks it drains
        flows: dict[tuple[str | None, str], Any] = {}  # and auxes (constant transit times)
        for node, kind, prefix in placed:
            module = None if prefix is None else _key(prefix)
            if kind in ("flow", "aux"):
                flows[(module, _key(_name(node)))] = node
            for outflow in doc.children(node, "outflow") if kind == "stock" else ():
                key = (module, _key(outflow.text or ""))
                drains[key] = drains.get(key, 0) + 1
        by_module: dict[str | None, dict[str, Any]] = {}
        for (module, key), flow in flows.items():
            by_module.setdefault(module, {})[key] = flow
        for node, kind, prefix in placed:
            module = None if prefix is None else _key(prefix)
            if kind == "stock" and plain_conveyor(node, by_module.get(module, {})):
                outflow, *leaks = doc.children(node, "outflow")
                self.belts[(module, _key(outflow.text or ""))] = node
                for priority, inflow in enumerate(doc.children(node, "inflow")):
                    self.admitted[(module, _key(inflow.text or ""))] = (node, priority)
                for leak in leaks:
                    key = (module, _key(leak.text or ""))
                    self.leaks[key] = (node, flows[key])
                    self.belt_leaks.setdefault(id(node), []).append(flows[key])
        for node, kind, prefix in placed:
            if kind != "stock" or not _non_negative(doc, node, self.stocks_non_negative):
                continue
            if any(doc.child(node, special) is not None for special in _SPECIAL_STOCKS):
                continue
            module = None if prefix is None else _key(prefix)
            outflows = [(module, _key(o.text or "")) for o in doc.children(node, "outflow")]
            if any(drains.get(key, 0) != 1 for key in outflows):
                continue  # a flow out of two stocks (not Stella's): the stock is clamped
            for priority, key in enumerate(outflows):
                self.limited[key] = (node, priority)
            inflows = [
                flows.get((module, _key(i.text or ""))) for i in doc.children(node, "inflow")
            ]
            biflows = any(
                flow is None or not _non_negative(doc, flow, self.flows_non_negative)
                for flow in inflows
            )
            self.stocks[id(node)] = OUTFLOWS_LIMITED_CLAMPED if biflows else OUTFLOWS_LIMITED

    def delivered(self, belt: Any) -> Any:
        """The main outflow of a plain conveyor (:func:`~sdhealth.io.xmile_scan.plain_conveyor`,
        xmile-semantics.md 2.2-2.4): everything entering in one DT is one slat that leaves
        ``len`` later, less what leaked on the way; Stella's placeholder ``<eqn>`` is ignored.

        The initial contents lie on the belt as if a constant inflow ``q`` had filled it (the
        steady-state profile of 2.3), so before the first entry arrives the belt delivers what
        ``q`` would: ``(1 - f) DELAY FIXED(inflows, len, q)`` for a linear leak of fraction
        ``f`` (0 without leak), with ``q = contents / (len - f (len - DT) / 2)``;
        ``(1 - f DT)^(len/DT) DELAY FIXED(inflows, len, q)`` for an exponential one, with
        ``q = contents f / (1 - (1 - f DT)^(len/DT))``.
        """
        amounts = belt_amounts(belt)
        if amounts is not None:
            return self.unloaded(belt, amounts)
        length, entering, q = self.belt_terms(belt)
        arrived = syn.DelayFixedStructure(entering, length, q)
        fraction = self.fraction(belt)
        if fraction is None:
            return arrived
        if self.exponential(belt):
            kept = syn.ArithmeticStructure(["^"], (self.kept_per_dt(fraction), self.slats(length)))
        else:
            kept = syn.ArithmeticStructure(["-"], (1, fraction))
        return syn.ArithmeticStructure(["*"], (kept, arrived))

    def fraction(self, belt: Any, leak: Any = None) -> Any:
        """The fraction of ``leak`` (a leak flow's element), or of all the belt's leaks (linear
        fractions add, as do exponential rates: xmile-semantics.md 2.4), as an expression;
        None for a belt without leaks. A number or a constant's name (``xmile_scan.
        constant_value``), read where the conveyor is, so a run's parameters reach it."""
        leaks = [leak] if leak is not None else self.belt_leaks.get(id(belt), [])
        if not leaks:
            return None
        fractions = []
        for flow in leaks:
            text, holder = leak_text(flow)
            fractions.append(self.doc.equation(text, _name(flow), holder))
        if len(fractions) == 1:
            return fractions[0]
        return syn.ArithmeticStructure(["+"] * (len(fractions) - 1), tuple(fractions))

    def length(self, belt: Any) -> Any:
        """A conveyor's transit time ``<len>``: a number or a constant's name."""
        node = self.doc.child(self.doc.child(belt, "conveyor"), "len")
        return self.doc.equation(node.text, _name(belt), node)

    def unloaded(self, belt: Any, amounts: list[float]) -> Any:
        """The outflow of a conveyor whose initial value lists the amounts leaving in each
        time unit (xmile-semantics.md 2.3: ``1,2,3,4`` on a belt of 4 delivers 1 per time unit
        on [0, 1), 2 on [1, 2) ...): those, then what entered ``len`` earlier."""
        length, entering, _ = self.belt_terms(belt, with_q=False)
        time = syn.ReferenceStructure("time")
        half_dt = syn.ArithmeticStructure(["/"], (syn.ReferenceStructure("time_step"), 2))

        def before(units: float) -> Any:  # TIME < STARTTIME + units, by half a DT
            bound = syn.ArithmeticStructure(
                ["+", "-"], (syn.ReferenceStructure("initial_time"), units, half_dt)
            )
            return syn.LogicStructure(["<"], (time, bound))

        result: Any = syn.DelayFixedStructure(entering, length, 0)
        for unit in reversed(range(len(amounts))):
            result = syn.XMILE["if_then_else"](before(unit + 1), amounts[unit], result)
        return result

    def admit(self, ast: Any, flow: str, belt: Any, priority: int) -> Any:
        """An inflow of a conveyor with a capacity or an inflow limit (xmile-semantics.md 2.6):
        ``MIN(requested, in_limit, (capacity - contents)/DT + outflow - inflows before it)``,
        inflows admitted in the order of the conveyor's ``<inflow>`` elements; the inflow limit
        does not apply to what another conveyor delivers. What is refused stays upstream."""
        doc = self.doc
        conveyor = doc.child(belt, "conveyor")
        name = _name(belt)
        bounds = [ast]
        limit = doc.child(conveyor, "in_limit")
        if limit is not None and (self.prefix, flow) not in self.belts:
            bounds.append(doc.equation(limit.text, name, limit))
        capacity = doc.child(conveyor, "capacity")
        if capacity is not None:
            level = self.flow_name(_Text(name), name)
            room = syn.ArithmeticStructure(
                ["-"], (doc.equation(capacity.text, name, capacity), level)
            )
            outflow = doc.children(belt, "outflow")[0]
            space: Any = syn.ArithmeticStructure(
                ["/", "+"],
                (room, syn.ReferenceStructure("time_step"), self.flow_name(outflow, name)),
            )
            for earlier in doc.children(belt, "inflow")[:priority]:
                taken = self.flow_name(earlier, name)
                space = syn.ArithmeticStructure(["-"], (space, taken))
            bounds.append(space)
        if len(bounds) == 1:
            return ast
        return syn.CallStructure(syn.ReferenceStructure("min"), tuple(bounds))

    def leaked(self, belt: Any, leak: Any) -> Any:
        """A conveyor's leak flow of fraction ``f`` (2.4): exponential, ``f`` times the
        contents; linear, every slat on the belt loses ``f/N`` of what entered in it each DT
        (the exiting one too), so the leak is ``f / len`` times what the belt would hold
        without leaks -- an internal stock fed by the inflows and emptied by ``DELAY
        FIXED(inflows, len, q)``, which starts at ``len q`` (:meth:`delivered`). With several
        leaks each takes its own fraction of every slat; the belt's profile follows their
        sum."""
        f = self.fraction(belt, leak)
        name = _name(belt)
        if self.exponential(belt):
            level = self.flow_name(_Text(name), name)
            return syn.ArithmeticStructure(["*"], (f, level))
        length, entering, q = self.belt_terms(belt)
        pipeline = f"{name} without leaks"
        flows = syn.ArithmeticStructure(
            ["-"], (entering, syn.DelayFixedStructure(entering, length, q))
        )
        start = syn.ArithmeticStructure(["*"], (length, q))
        holder = self.doc.child(belt, "dimensions")
        dims = (
            [str(d.get("name")) for d in self.doc.children(holder, "dim")]
            if holder is not None
            else []
        )
        if all(element.name != pipeline for element in self.extra):
            self.add_stock(pipeline, dims, flows, start)
        scope = self.doc.arrays.scope
        key = _reference_key(pipeline)
        reference = f"{scope[0]}.{key}" if scope is not None else key
        return syn.ArithmeticStructure(["*", "/"], (f, syn.ReferenceStructure(reference), length))

    def add_stock(self, name: str, dims: list[str], flows: Any, start: Any) -> None:
        """An internal stock the reader adds to the model (``XmileModel.internal``)."""
        self.extra.append(syn.AbstractElement(
            name=name, units="", limits=(None, None), documentation="",
            components=[syn.AbstractComponent(
                subscripts=(dims, []), ast=syn.XMILE["stock"](flows, start, False))],
        ))  # fmt: skip

    def belt_terms(self, belt: Any, with_q: bool = True) -> tuple[Any, Any, Any]:
        """``(len, the inflows' sum, q)``: ``q`` the inflow that would have filled the belt
        with its initial contents (:meth:`delivered`; None without ``with_q``)."""
        doc = self.doc
        name = _name(belt)
        length = self.length(belt)
        inflows = [self.flow_name(i, name) for i in doc.children(belt, "inflow")]
        entering: Any = (
            syn.ArithmeticStructure(["+"] * (len(inflows) - 1), tuple(inflows))
            if len(inflows) > 1
            else (inflows[0] if inflows else 0)
        )
        if not with_q:
            return length, entering, None
        eqn = doc.child(belt, "eqn")
        contents = doc.equation(eqn.text, name, eqn)
        fraction = self.fraction(belt)
        if fraction is None:
            return length, entering, syn.ArithmeticStructure(["/"], (contents, length))
        if self.exponential(belt):
            full = syn.ArithmeticStructure(["^"], (self.kept_per_dt(fraction), self.slats(length)))
            spread = syn.ArithmeticStructure(["*"], (contents, fraction))
            emptied = syn.ArithmeticStructure(["-"], (1, full))
            return length, entering, syn.ArithmeticStructure(["/"], (spread, emptied))
        dt = syn.ReferenceStructure("time_step")
        shortened = syn.ArithmeticStructure(
            ["*", "/"], (fraction, syn.ArithmeticStructure(["-"], (length, dt)), 2)
        )
        span = syn.ArithmeticStructure(["-"], (length, shortened))
        return length, entering, syn.ArithmeticStructure(["/"], (contents, span))

    def exponential(self, belt: Any) -> bool:
        conveyor = self.doc.child(belt, "conveyor")
        return str(conveyor.get("exponential_leak", "false")).lower() == "true"

    @staticmethod
    def kept_per_dt(fraction: Any) -> Any:
        dt = syn.ReferenceStructure("time_step")
        return syn.ArithmeticStructure(["-"], (1, syn.ArithmeticStructure(["*"], (fraction, dt))))

    @staticmethod
    def slats(length: Any) -> Any:
        return syn.ArithmeticStructure(["/"], (length, syn.ReferenceStructure("time_step")))

    def limit(self, ast: Any, holder: Any, stock: Any, priority: int) -> Any:
        """``MIN(outflow, stock/DT + inflows - outflows before it)``: Stella's rule for the
        outflows of a non-negative stock under Euler (xmile-semantics.md 1.3), served in the
        order of its ``<outflow>`` elements; an inflow counts with what it adds (its positive
        part). An ``<element>``'s own equation reads that element of each."""
        doc = self.doc
        written = str(holder.get("subscript", "")) if holder is not stock else ""
        at = [part.strip() for part in written.split(",")] if written.strip() else None

        def ref(name_ast: Any) -> Any:
            if at is None:
                return name_ast
            return syn.ReferenceStructure(name_ast.reference, syn.SubscriptsReferenceStructure(at))

        name = _name(stock)
        level = ref(self.flow_name(_Text(name), name))
        available: Any = syn.ArithmeticStructure(
            ["/"], (level, syn.ReferenceStructure("time_step"))
        )
        for inflow in doc.children(stock, "inflow"):
            added = syn.CallStructure(
                syn.ReferenceStructure("max"), (ref(self.flow_name(inflow, name)), 0)
            )
            available = syn.ArithmeticStructure(["+"], (available, added))
        for earlier in doc.children(stock, "outflow")[:priority]:
            taken = ref(self.flow_name(earlier, name))
            available = syn.ArithmeticStructure(["-"], (available, taken))
        return syn.CallStructure(syn.ReferenceStructure("min"), (ast, available))

    def element(self, node: Any, kind: str, display: str | None = None) -> Any:
        doc = self.doc
        name = display or _name(node)
        if not name:
            doc.where("", node).error(f"a <{kind}> without a name")
        units = doc.text(node, "units") or ""
        documentation = doc.text(node, "doc") or ""
        limits = _limits(doc, node, "yscale" if kind == "gf" else "range")
        components = []
        elements = doc.children(node, "element")
        if elements:
            for sub in elements:
                subscripts = [part.strip() for part in str(sub.get("subscript", "")).split(",")]
                components.append(((subscripts, []), self.component(node, sub, kind, name)[0]))
        else:
            holder = doc.child(node, "dimensions")
            dims = (
                [str(d.get("name")) for d in doc.children(holder, "dim")]
                if holder is not None
                else []
            )
            parsed = self.component(node, node, kind, name)
            if len(parsed) == 1:
                components = [((dims, []), parsed[0])]
            else:
                elements_of = doc.arrays.dimensions.get(_key(dims[0]), []) if dims else []
                components = [
                    (([sub], []), ast) for sub, ast in zip(elements_of, parsed, strict=False)
                ]
        if kind == "gf":
            built = [syn.AbstractLookup(subscripts=s, ast=a) for s, a in components]
        else:
            built = [syn.AbstractComponent(subscripts=s, ast=a) for s, a in components]
        return syn.AbstractElement(
            name=name, units=units, limits=limits, documentation=documentation,
            components=built,
        )  # fmt: skip

    def component(self, node: Any, holder: Any, kind: str, name: str) -> list[Any]:
        doc = self.doc
        if kind == "gf":
            return [_lookup(doc, node, name)]
        if kind == "stock":
            return [self.stock(node, holder, name)]
        asts = []
        gf = doc.child(holder, "gf") if holder is not node else None
        gf = doc.child(node, "gf") if gf is None else gf  # an element's own table, or the node's
        init = doc.child(holder, "init_eqn")
        init = doc.child(node, "init_eqn") if init is None else init
        for eqn in doc.children(holder, "eqn"):
            ast = doc.equation(eqn.text, name, eqn)
            if gf is not None:
                ast = syn.XMILE["inline_lookup"](ast, _lookup(doc, gf, name))
            if init is not None:  # xmutil's ACTIVE INITIAL: this value at the start
                start = doc.equation(init.text, name, init)
                ast = syn.CallStructure(syn.ReferenceStructure("active_initial"), (ast, start))
            asts.append(ast)
        if not asts:
            doc.where(name, node).error(f"the <{kind}> has no <eqn>")
        if kind == "flow" and _non_negative(doc, node, self.flows_non_negative):
            asts = [syn.CallStructure(syn.ReferenceStructure("max"), (ast, 0)) for ast in asts]
        if kind == "flow":
            asts = self.stella_flow(asts, node, holder)
        return asts

    def stella_flow(self, asts: list[Any], node: Any, holder: Any) -> list[Any]:
        """A flow's equations under Stella's stock rules: a conveyor's outflow or leak is the
        conveyor's; an inflow admitted to a conveyor, an outflow limited by a non-negative
        stock."""
        key = (self.prefix, _key(_name(node)))
        if key in self.belts:
            asts = [self.delivered(self.belts[key])]
        if key in self.leaks:
            asts = [self.leaked(*self.leaks[key])]
        if key in self.admitted:
            asts = [self.admit(ast, key[1], *self.admitted[key]) for ast in asts]
        if key in self.limited:
            asts = [self.limit(ast, holder, *self.limited[key]) for ast in asts]
        return asts

    def stock(self, node: Any, holder: Any, name: str) -> Any:
        """The stock's INTEG; ``holder`` is the node or one ``<element>`` of it, whose own
        ``<eqn>`` is that element's initial value."""
        doc = self.doc
        inflows = [self.flow_name(f, name) for f in doc.children(node, "inflow")]
        outflows = [self.flow_name(f, name) for f in doc.children(node, "outflow")]
        if inflows:
            operators = ["+"] * (len(inflows) - 1) + ["-"] * len(outflows)
        elif outflows:
            outflows[0] = syn.XMILE["negative"](outflows[0])
            operators = ["-"] * (len(outflows) - 1)
        else:
            operators, inflows = [], [0]
        flows = (
            syn.XMILE["arithmetic"](operators, inflows + outflows)
            if operators
            else (inflows[0] if inflows else outflows[0])
        )
        eqn = doc.child(holder, "eqn")
        if eqn is None:
            doc.where(name, holder).error("the <stock> has no initial value <eqn>")
        amounts = belt_amounts(node) if doc.child(node, "conveyor") is not None else None
        if amounts is not None:  # a conveyor's amounts per time unit: it holds their sum
            initial: Any = sum(amounts)
        else:
            initial = doc.equation(eqn.text, name, eqn)
        non_negative: Any = _non_negative(doc, node, self.stocks_non_negative)
        if non_negative:  # its outflows limited (``limit``), or the stock clamped
            non_negative = self.stocks.get(id(node), True)
        return syn.XMILE["stock"](flows, initial, non_negative)

    def flow_name(self, element: Any, stock: str) -> Any:
        """The flow an ``<inflow>``/``<outflow>`` names. XMILE puts a name there, never an
        expression, so the whole text is one name, quoted or not (some exports leave
        ``Flow*with_a_few^arithmetic_+_characters`` unquoted)."""
        text = " ".join((element.text or "").split())
        if not text:
            self.doc.where(stock, element).error("an empty <inflow> or <outflow>")
        name = _reference_name(_Token("qname", text.replace("_", " "), 0, len(text)))
        scope = self.doc.arrays.scope
        if scope is not None and name in scope[1]:
            name = f"{scope[0]}.{name}"
        return syn.ReferenceStructure(name, None)

    def variables(self) -> list[tuple[Any, str, str | None]]:
        """Every variable node with its kind and the module it belongs to (None: the model).

        A file without ``<module>`` elements is read as PySD reads it: the variables of every
        ``<model>`` in one namespace. With modules (XMILE 4.7), the unnamed ``<model>`` is the
        main one and each ``<module name="M">`` instantiates ``<model name="M">``: its
        variables are named ``M.name`` (as Stella exports them), its equations refer to its own
        variables first, and a ``<connect to="M.input" from="X.output">`` makes that input read
        the other variable (``.name`` is the main model's).
        """
        doc = self.doc
        models = doc.children(doc.root, "model")

        def contents(model: Any) -> list[Any]:
            # the variables, or (as some files have them) the model's own children
            return [n for holder in doc.children(model, "variables") or [model] for n in holder]

        kinds = ("aux", "flow", "gf", "stock")
        if not any(_local(n) == "module" for model in models for n in contents(model)):
            return [(n, _local(n), None) for m in models for n in contents(m) if _local(n) in kinds]
        submodels = {_key(str(m.get("name"))): m for m in models if m.get("name")}
        main = [m for m in models if not m.get("name")] or models[:1]
        placed: list[tuple[Any, str, str | None]] = []
        self.connections: dict[tuple[str, str], str] = {}
        self.locals: dict[str, frozenset[str]] = {}
        pending: list[tuple[Any, str | None]] = [(m, None) for m in main]
        seen: set[str] = set()
        while pending:
            model, prefix = pending.pop(0)
            names = []
            for node in contents(model):
                kind = _local(node)
                if kind in kinds:
                    placed.append((node, kind, prefix))
                    names.append(_reference_key(_name(node)))
                elif kind == "module":
                    module = str(node.get("name", ""))
                    submodel = submodels.get(_key(module))
                    if submodel is None:
                        doc.where(module, node).error(f"the module {module!r} has no <model>")
                    for connect in doc.children(node, "connect"):
                        target, source = str(connect.get("to", "")), str(connect.get("from", ""))
                        where, _, variable = target.rpartition(".")
                        variable = variable.strip('"').replace("_", " ")
                        self.connections[(_key(where or module), _reference_key(variable))] = source
                    if _key(module) not in seen:
                        seen.add(_key(module))
                        doc.arrays.modules[_key(module)] = _reference_key(module)
                        pending.append((submodel, module))
            if prefix is not None:
                self.locals[prefix] = frozenset(names)
        return placed

    def placed_element(self, node: Any, kind: str, prefix: str | None) -> Any:
        """The element of ``node``, read in its module's scope (a connected input reads the
        variable connected to it)."""
        doc = self.doc
        self.prefix = None if prefix is None else _key(prefix)
        display = _qualified(prefix, _name(node))
        if prefix is None:
            doc.arrays.scope = None
            return self.element(node, kind, display)
        doc.arrays.scope = (_reference_key(prefix), self.locals[prefix])
        source = self.connections.get((_key(prefix), _reference_key(_name(node))))
        if node.get("access") == "input" and source is not None:
            module, _, variable = source.rpartition(".")
            variable = _reference_key(variable.strip('"').replace("_", " "))
            where = doc.arrays.modules.get(_key(module)) if module else None
            reference = f"{where}.{variable}" if where else variable
            return syn.AbstractElement(
                name=display, units=doc.text(node, "units") or "", limits=(None, None),
                documentation=doc.text(node, "doc") or "",
                components=[syn.AbstractComponent(subscripts=([], []),
                                                 ast=syn.ReferenceStructure(reference))],
            )  # fmt: skip
        return self.element(node, kind, display)

    def control(self) -> list[Any]:
        doc = self.doc
        specs = doc.child(doc.root, "sim_specs")
        where = doc.where("", doc.root)
        if specs is None:
            where.error("the XMILE file has no <sim_specs> (start, stop and dt of the run)")
        units = specs.get("time_units", "")

        def setting(tag: str) -> tuple[str, Any]:
            found = doc.child(specs, tag)
            if found is None:
                doc.where("", specs).error(f"<sim_specs> has no <{tag}>")
            return found.text or "", found

        start, start_node = setting("start")
        stop, stop_node = setting("stop")
        dt, dt_node = setting("dt")
        if dt_node.get("reciprocal", "").lower() == "true":
            dt = f"1/({dt})"
        settings = [
            ("INITIAL TIME", "The initial time for the simulation.", start, start_node),
            ("FINAL TIME", "The final time for the simulation.", stop, stop_node),
            ("TIME STEP", "The time step for the simulation.", dt, dt_node),
            ("SAVEPER", "The save time step for the simulation.", "time_step", specs),
        ]
        return [
            syn.AbstractControlElement(
                name=name,
                units=units,
                limits=(None, None),
                documentation=doc_text,
                components=[
                    syn.AbstractComponent(subscripts=([], []), ast=doc.equation(text, name, node))
                ],
            )  # fmt: skip
            for name, doc_text, text, node in settings
        ]

    def macros(self) -> list[MacroSection]:
        """Each ``<macro name="M">`` (XMILE 3.6.2, 4.8): ``<parm>`` parameters (with an
        optional ``default``), the value ``<eqn>`` and its own ``<variables>`` (stocks get
        their own state per call), read as Vensim macros are: inlined at each call."""
        doc = self.doc
        doc.arrays.scope = None
        self.prefix = "\0macro"  # no flow of a macro is one of the model's (``stella_flow``)
        sections = []
        for node in doc.children(doc.root, "macro"):
            name = _name(node)
            if not name:
                doc.where("", node).error("a <macro> without a name")
            params, defaults = [], {}
            for parm in doc.children(node, "parm"):
                parm_name = " ".join((parm.text or "").split())
                if not parm_name:
                    doc.where(name, parm).error("a <parm> without a name")
                params.append(parm_name)
                default = parm.get("default")
                if default is not None:
                    defaults[_reference_name(_Token("name", parm_name, 0, 0))] = doc.equation(
                        default, name, parm
                    )
            eqn = doc.child(node, "eqn")
            if eqn is None:
                doc.where(name, node).error("the <macro> has no <eqn> (its value)")
            elements = [syn.AbstractElement(
                name=name, units="", limits=(None, None), documentation="",
                components=[syn.AbstractComponent(
                    subscripts=([], []), ast=doc.equation(eqn.text, name, eqn))],
            )]  # fmt: skip
            for holder in doc.children(node, "variables"):
                for child in holder:
                    kind = _local(child)
                    if kind in ("aux", "flow", "stock", "gf"):
                        elements.append(self.element(child, kind))
                    elif kind in ("module", "group") or kind in _SPECIAL_STOCKS:
                        doc.where(_name(child), child).error(
                            f"a <{kind}> inside a <macro> is not supported"
                        )
            sections.append(MacroSection(
                name=name, path=doc.path.with_suffix(".py"), type="macro", params=params,
                returns=[], subscripts=[], elements=elements, constraints=[], test_inputs=[],
                split=False, views_dict=None, defaults=defaults,
            ))  # fmt: skip
        return sections

    def section(self) -> Any:
        doc = self.doc
        subscripts = []
        dimensions = doc.child(doc.root, "dimensions")
        for dim in doc.children(dimensions, "dim") if dimensions is not None else []:
            elements = [str(e.get("name")) for e in doc.children(dim, "elem")]
            doc.arrays.dimensions[_key(str(dim.get("name")))] = elements
            subscripts.append(syn.AbstractSubscriptRange(
                name=str(dim.get("name")), subscripts=elements, mapping=[]
            ))  # fmt: skip
        placed = self.variables()
        self.plan_stocks(placed)
        for node, kind, prefix in placed:  # what equations need to know of other variables
            key = _reference_key(_qualified(prefix, _name(node)))
            holder = doc.child(node, "dimensions")
            if holder is not None:
                doc.arrays.dims[key] = [str(d.get("name")) for d in doc.children(holder, "dim")]
            gf = doc.child(node, "gf")
            if gf is not None and kind in ("aux", "flow"):  # the table LOOKUP(name, x) uses
                doc.arrays.tables[key] = _lookup(doc, gf, _name(node))
            for element in doc.children(node, "element") if kind in ("aux", "flow") else ():
                gf = doc.child(element, "gf")  # one element's table: LOOKUP(name[a], x)
                if gf is not None:
                    where = ",".join(_key(p) for p in str(element.get("subscript", "")).split(","))
                    doc.arrays.tables[f"{key}[{where}]"] = _lookup(doc, gf, _name(node))
        elements = []
        for kind in ("aux", "flow", "gf", "stock"):
            for node, found, prefix in placed:
                if found != kind or (
                    prefix is None
                    and kind in ("aux", "flow")
                    and _name(node).lower().replace(" ", "_") in _CONTROL
                ):
                    continue
                elements.append(self.placed_element(node, kind, prefix))
        doc.arrays.scope = None
        elements += self.extra
        if doc.readable:  # else nothing is read, which ensure_model_content reports
            elements += self.control()
        return syn.AbstractSection(
            name="__main__", path=doc.path.with_suffix(".py"), type="main", params=[],
            returns=[], subscripts=subscripts, elements=elements, constraints=[],
            test_inputs=[], split=False, views_dict=None,
        )  # fmt: skip


@dataclass
class XmileModel(syn.AbstractModel):  # type: ignore[misc]
    """PySD's ``AbstractModel`` with the names of the variables the reader added (``internal``:
    not in the file, kept out of results)."""

    internal: tuple[str, ...] = ()


@dataclass
class MacroSection(syn.AbstractSection):  # type: ignore[misc]
    """An XMILE ``<macro>`` as a macro section: ``defaults`` holds the syntax tree of each
    ``<parm default="...">`` (it may read the parameters before it)."""

    defaults: dict[str, Any] = field(default_factory=dict)


def parse_xmile(path: Path) -> tuple[Any, Any]:
    """The file's PySD ``AbstractModel`` and its XML root element.

    Raises
    ------
    ModelSyntaxError
        For XML that is not well formed (at its line) and for an equation that cannot be read
        (at its line and column, naming the variable).
    """
    path = Path(path)
    parser = etree.XMLParser(encoding="utf-8", recover=True, resolve_entities=False,
                             no_network=True)  # fmt: skip
    try:
        tree = etree.parse(str(path), parser=parser)
    except etree.XMLSyntaxError as error:  # nothing to recover
        line = error.position[0] if error.position else None
        raise ModelSyntaxError(f"XML syntax error: {error.msg}", str(path), line) from None
    except OSError as error:
        raise ModelSyntaxError(f"cannot read the XMILE file ({error})", str(path)) from None
    for problem in parser.error_log:
        # Any error but the harmless ones would leave parts of the file unread: it stops here.
        if problem.type_name not in _HARMLESS_XML_ERRORS and problem.level >= 2:
            raise ModelSyntaxError(
                f"XML syntax error: {problem.message}", str(path), problem.line, problem.column
            )
    if tree.getroot() is None:
        raise ModelSyntaxError("XML syntax error: no root element", str(path))
    root = tree.getroot()
    source = path.read_bytes().decode("utf-8", errors="replace")
    doc = _Document(root, path, source)
    reader = _Reader(doc)
    section = reader.section()
    macros = reader.macros()
    internal = tuple(element.name for element in reader.extra)
    return XmileModel(original_path=path, sections=(section, *macros), internal=internal), root
