"""Subscripted (arrayed) models in the YAML format: ``subscripts:``, ``dims:`` and ``definitions:``.

A YAML model with a ``subscripts:`` section holds Vensim arrays the way Vensim writes them, so
a modeller copies equations between the two unchanged (see ``docs/yaml-format.md``):

- ``subscripts:`` maps each range to its elements -- ``Region: [North, South]`` -- or to
  ``{elements: [...], subranges: [...], mappings: [...]}``;
- an arrayed variable lists its ranges under ``dims:`` and its Vensim equations, one per line
  as Vensim would write them, under ``definitions:`` (``Demand[North] = 10``,
  ``Patients[Region] = INTEG(Arrivals[Region] - Leavers[Region], 100)``,
  ``Effect[Region]((0,1),(1,0.5))``, ``x[Region] :EXCEPT: [North] = 0``).

Every equation of such a model (the scalar ones too: they may sum or pick array elements) is read
by PySD's Vensim parser, the one ``.mdl`` files go through (:func:`sdhealth.io.mdl.read_mdl_text`),
so an array equation means in YAML exactly what it means in Vensim. This module writes the
model's equations as one Vensim text, has PySD read it, maps errors back to the YAML file's line
and column, checks every subscript the equations name against the declared ranges and elements
(with did-you-mean), and gives each variable read by :mod:`sdhealth.io.yaml` its equations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import sympy
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from sympy.core.symbol import Str

from sdhealth.errors import ModelError, ModelSyntaxError
from sdhealth.io.yaml_nodes import Document, Position, Slot, describe, is_number
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Data,
    Equation,
    Flow,
    Lookup,
    Model,
    SourceLocation,
    Stock,
    Subscript,
    Variable,
)
from sdhealth.ir.names import canonical, did_you_mean
from sdhealth.ir.vensim import number_to_vensim, quote_name, subscript_to_vensim

__all__ = ["SUBSCRIPT_KEYS", "PLACEHOLDER", "read_subscripts", "ArrayReader", "mentions"]

#: Keys of a range written in full form.
SUBSCRIPT_KEYS = ("elements", "subranges", "mappings")
#: The expression of an equation PySD has not read yet (replaced by :meth:`ArrayReader.resolve`).
PLACEHOLDER = sympy.Symbol("@unread")
_UNKNOWN_NAME = re.compile(r"cannot import '(.+?)': a reference to unknown name '(.+?)'")


# --------------------------------------------------------------------------- subscripts


def read_subscripts(doc: Document, root: CommentedMap) -> tuple[Subscript, ...]:
    """The ``subscripts:`` section: range name -> elements (list or full form)."""
    mapping = doc.mapping(Slot(root, "subscripts"), "'subscripts' (range names to elements)")
    ranges: list[Subscript] = []
    seen: dict[str, Position] = {}
    for name in mapping:
        slot = Slot(mapping, name)
        if not isinstance(name, str) or not name.strip():
            raise doc.error(f"range names must be text, got {describe(name)}", slot.key_position)
        if canonical(name) in seen:
            line = seen[canonical(name)][0] + 1
            raise doc.error(
                f"duplicate range {name!r} (first written on line {line})", slot.key_position
            )
        seen[canonical(name)] = slot.key_position
        ranges.append(_subscript(doc, slot))
    declared = {canonical(r.name): r.name for r in ranges}
    for subscript, name in zip(ranges, mapping, strict=True):
        _check_related(doc, Slot(mapping, name), subscript, declared)
    return tuple(ranges)


def _subscript(doc: Document, slot: Slot) -> Subscript:
    name = str(slot.key).strip()
    if isinstance(slot.value, CommentedSeq):
        return Subscript(name, _names(doc, slot, "element"))
    fields = doc.mapping(slot, f"range {name!r} (a list of elements or a mapping)")
    doc.check_keys(fields, SUBSCRIPT_KEYS, f"range {name!r}")
    elements = _names(doc, doc.required(fields, "elements", slot, "range"), "element")
    subranges = _names(doc, Slot(fields, "subranges"), "range") if "subranges" in fields else ()
    mappings = _names(doc, Slot(fields, "mappings"), "mapping") if "mappings" in fields else ()
    return Subscript(name, elements, subranges, mappings)


def _names(doc: Document, slot: Slot, what: str) -> tuple[str, ...]:
    """A non-empty list of distinct names (numbers become their text: element ``1``)."""
    items = slot.value
    if not isinstance(items, CommentedSeq) or not items:
        raise doc.error(
            f"expected a list of {what} names, got {describe(items)}", slot.value_position
        )
    names: list[str] = []
    for index, item in enumerate(items):
        position = Slot(items, index).value_position
        if is_number(item) and float(item).is_integer():
            item = str(int(item))
        if not isinstance(item, str) or not item.strip():
            raise doc.error(f"{what} names must be text, got {describe(item)}", position)
        if canonical(item) in {canonical(n) for n in names}:
            raise doc.error(f"{what} {item!r} is listed twice", position)
        names.append(item.strip())
    return tuple(names)


def _check_related(
    doc: Document, slot: Slot, subscript: Subscript, declared: dict[str, str]
) -> None:
    """Subranges and mapped ranges must be declared ranges."""
    if not isinstance(slot.value, CommentedMap):
        return
    for key in ("subranges", "mappings"):
        names = slot.value.get(key)
        if not isinstance(names, CommentedSeq):
            continue
        for index, item in enumerate(names):
            target = str(item).strip()
            if key == "mappings" and target.startswith("("):  # (Range: a, b)
                target = target[1:].split(":", 1)[0]
            if canonical(target) not in declared:
                raise doc.error(
                    f"unknown range {target!r} in the {key} of {subscript.name!r}"
                    f"{did_you_mean(target, declared.values())}",
                    Slot(names, index).value_position,
                )


# --------------------------------------------------------------------------- equations


@dataclass(frozen=True)
class _Written:
    """One equation text of the YAML file and where it is written."""

    slot: Slot
    text: str


@dataclass(frozen=True)
class _Line:
    """A line of the Vensim text given to PySD that holds a YAML text after ``prefix``."""

    number: int
    prefix: int
    written: _Written
    flat: str  # the text on one line
    offsets: tuple[int, ...]  # offset in ``written.text`` of each character of ``flat``


def _one_line(text: str) -> tuple[str, tuple[int, ...]]:
    """``text`` with each run of whitespace one space, and where each character came from."""
    flat: list[str] = []
    offsets: list[int] = []
    for match in re.finditer(r"\S+", text):
        if flat:
            flat.append(" ")
            offsets.append(match.start() - 1)
        flat.extend(match.group())
        offsets.extend(range(match.start(), match.end()))
    return "".join(flat), tuple(offsets)


@dataclass
class ArrayReader:
    """Collects the equations of an arrayed YAML model and has PySD read them all at once.

    :mod:`sdhealth.io.yaml` calls :meth:`defer` for each scalar equation (getting a
    placeholder :class:`Equation` that keeps the text and location) and :meth:`add_definitions`
    for each arrayed variable, then :meth:`resolve` with the variables it built.
    """

    doc: Document
    subscripts: tuple[Subscript, ...]
    scalars: dict[tuple[str, str], _Written] = field(default_factory=dict)
    definitions: dict[str, list[_Written]] = field(default_factory=dict)

    # -- collecting

    def defer(self, slot: Slot, text: str, location: SourceLocation) -> Equation:
        """A placeholder equation for the ``text`` written in ``slot`` at ``location``."""
        equation = Equation(PLACEHOLDER, text, location)
        self.scalars[_where(equation)] = _Written(slot, text)
        return equation

    def add_definitions(self, key: str, slot: Slot, name: str) -> None:
        """The ``definitions:`` list in ``slot`` of variable ``name`` (Vensim equation lines)."""
        items = slot.value
        if not isinstance(items, CommentedSeq) or not items:
            raise self.doc.error(
                f"'definitions' of {name!r} must be a list of Vensim equations, "
                f"got {describe(items)}",
                slot.value_position,
            )
        written = []
        for index, item in enumerate(items):
            item_slot = Slot(items, index)
            if not isinstance(item, str) or not item.strip():
                raise self.doc.error(
                    f"each definition of {name!r} must be a Vensim equation (text), "
                    f"got {describe(item)}",
                    item_slot.value_position,
                )
            text, _ = self.doc.scalar_text(item_slot)
            self._check_left_side(item_slot, text, name)
            written.append(_Written(item_slot, text))
        self.definitions[key] = written

    def _check_left_side(self, slot: Slot, text: str, name: str) -> None:
        match = re.match(r'\s*("(?:[^"\\]|\\.)*"|[^\[(=:]*)', text)
        left = match.group(1).strip().strip('"') if match else ""
        if canonical(left) != canonical(name):
            raise self.doc.error(
                f"a definition of {name!r} must start with its name ({name}[...] = ...), "
                f"got {left!r}",
                self.doc.text_positions(slot, text)[0],
            )

    # -- reading

    def resolve(self, variables: Sequence[Variable], path: str | None) -> list[Variable]:
        """The variables with every equation read by PySD and every subscript checked."""
        text, lines = self._vensim_text(variables)
        folder = Path(path).parent if path else Path.cwd()
        from sdhealth.io.mdl import read_mdl_text  # PySD is slow to import: only when needed

        try:
            converted = read_mdl_text(text, folder / "model.mdl")
        except ModelSyntaxError as error:
            raise self._syntax_error(error, lines) from None
        except ModelError as error:
            raise self._model_error(error, variables) from None
        for variable in variables:
            if variable.key not in converted:  # PySD spells some names its own way
                raise self.doc.error(
                    f"PySD's Vensim parser did not read {variable.name!r}; check its name",
                    _first_position(variable),
                )
        self._check_subscripts(variables, converted)
        return [self._merged(v, converted[v.key]) for v in variables]

    def _vensim_text(self, variables: Sequence[Variable]) -> tuple[str, list[_Line]]:
        chunks = [subscript_to_vensim(s) for s in self.subscripts]
        lines: list[_Line] = []
        number = sum(chunk.count("\n") for chunk in chunks) + 1
        for variable in variables:
            for prefix, written, suffix in self._entries(variable):
                flat, offsets = (written and _one_line(written.text)) or ("", ())
                chunks.append(f"{prefix}{flat}{suffix}\n")
                if written is not None:
                    lines.append(_Line(number, len(prefix), written, flat, offsets))
                number += 1
        return "".join(chunks), lines

    def _entries(self, variable: Variable) -> Iterator[tuple[str, _Written | None, str]]:
        """``(prefix, text, suffix)`` for each Vensim line of ``variable``."""
        name = quote_name(variable.name)
        written = self.definitions.get(variable.key)
        if written:
            for index, item in enumerate(written):
                yield "", item, (" ~ ~ |" if index == len(written) - 1 else " ~~|")
        elif isinstance(variable, Stock):
            flows = " + ".join(quote_name(f) for f in variable.inflows) or "0"
            flows += "".join(f" - {quote_name(f)}" for f in variable.outflows)
            yield f"{name} = INTEG({flows}, ", self.scalars[_where(variable.initial)], ") ~ ~ |"
        elif isinstance(variable, (Flow, Auxiliary)):
            yield f"{name} = ", self.scalars[_where(variable.equation)], " ~ ~ |"
        elif isinstance(variable, Constant):
            yield f"{name} = {number_to_vensim(variable.value)}", None, " ~ ~ |"
        elif isinstance(variable, Lookup):
            points = ",".join(
                f"({number_to_vensim(x)},{number_to_vensim(y)})"
                for x, y in zip(variable.xs, variable.ys, strict=True)
            )
            yield f"{name}({points})", None, " ~ ~ |"

    def _syntax_error(self, error: ModelSyntaxError, lines: list[_Line]) -> ModelSyntaxError:
        for line in lines:
            if line.number == error.line:
                at = min(max((error.column or 1) - 1 - line.prefix, 0), len(line.offsets) - 1)
                offset = line.offsets[at] if line.offsets else 0
                positions = self.doc.text_positions(line.written.slot, line.written.text)
                return self.doc.error(error.message, positions[offset])
        return self.doc.error(error.message, (0, 0))

    def _model_error(self, error: ModelError, variables: Sequence[Variable]) -> ModelSyntaxError:
        message = str(error)
        found = _UNKNOWN_NAME.search(message)
        owner = found.group(1) if found else message.split("'")[1] if "'" in message else ""
        texts = self._texts_of(canonical(owner))
        if found:
            unknown = found.group(2)
            known = [v.name for v in variables]
            for written in texts:
                match = _match_name(written.text, unknown)
                if match is not None:
                    position = self.doc.text_positions(written.slot, written.text)[match.start()]
                    unknown = match.group()
                    return self.doc.error(
                        f"unknown name {unknown!r} in the equation of {owner!r}"
                        f"{did_you_mean(unknown, known)}",
                        position,
                    )
        where = texts[0].slot.value_position if texts else (0, 0)
        return self.doc.error(message, where)

    def _texts_of(self, key: str) -> list[_Written]:
        scalar = [w for (k, _), w in self.scalars.items() if k == key]
        return self.definitions.get(key, []) + scalar

    # -- subscripts

    def _check_subscripts(self, variables: Sequence[Variable], converted: Model) -> None:
        """Every subscript an equation names must be a declared range or element."""
        known = {canonical(s.name) for s in self.subscripts} | {
            canonical(e) for s in self.subscripts for e in s.elements
        }
        choices = [s.name for s in self.subscripts] + [
            e for s in self.subscripts for e in s.elements
        ]
        for variable in variables:
            target = converted[variable.key]
            for name in _subscripts_named(target):
                if canonical(name.rstrip("!")) in known:
                    continue
                position = self._position_of(variable.key, name.rstrip("!"))
                raise self.doc.error(
                    f"unknown subscript {name.rstrip('!')!r} in {variable.name!r}"
                    f"{did_you_mean(name.rstrip('!'), choices)}",
                    position,
                )

    def _position_of(self, key: str, word: str) -> Position:
        texts = self._texts_of(key)
        for written in texts:
            offset = _find_name(written.text, word)
            if offset is not None:
                return self.doc.text_positions(written.slot, written.text)[offset]
        return texts[0].slot.value_position if texts else (0, 0)

    # -- merging

    def _merged(self, variable: Variable, read: Variable) -> Variable:
        """``variable`` (as the YAML file describes it) with the equations PySD read."""
        if variable.key in self.definitions:
            return self._arrayed(variable, read)
        if isinstance(variable, Stock) and isinstance(read, Stock):
            return replace(variable, initial=_kept(variable.initial, read.initial.expr))
        if isinstance(variable, (Flow, Auxiliary)):
            return replace(variable, equation=_kept(variable.equation, _value_of(read)))
        return variable

    def _arrayed(self, variable: Variable, read: Variable) -> Variable:
        definitions = read.definitions
        mismatch = _kind_mismatch(variable, read)
        if mismatch:
            raise self.doc.error(
                f"{variable.name!r}: {mismatch}",
                self.definitions[variable.key][0].slot.value_position,
            )
        if isinstance(variable, Stock) and isinstance(read, Stock):
            return replace(variable, initial=read.initial, definitions=definitions)
        if isinstance(variable, Constant) and isinstance(read, Constant):
            return replace(variable, value=read.value, definitions=definitions)
        if isinstance(variable, Lookup) and isinstance(read, Lookup):
            return replace(variable, xs=read.xs, ys=read.ys, definitions=definitions)
        if isinstance(variable, (Flow, Auxiliary)):
            equation = Equation(_value_of(read))
            if isinstance(read, Data) and not isinstance(variable, Flow):
                fields = {f: getattr(variable, f) for f in _VARIABLE_FIELDS}
                return Data(equation=equation, **{**fields, "definitions": definitions})
            return replace(variable, equation=equation, definitions=definitions)
        return variable


_VARIABLE_FIELDS = (
    "name", "units", "doc", "source", "sector", "dims", "limits", "location", "declared_links",
)  # fmt: skip


def _first_position(variable: Variable) -> Position:
    location = variable.location
    if location is None or location.line is None:
        return (0, 0)
    return (location.line - 1, (location.column or 1) - 1)


def _kind_mismatch(variable: Variable, read: Variable) -> str | None:
    if isinstance(read, Stock) != isinstance(variable, Stock):
        return (
            "definitions by INTEG make a stock: put it under 'stocks'"
            if isinstance(read, Stock)
            else "a stock's definitions must be INTEG(rate, initial value)"
        )
    if isinstance(read, Lookup) != isinstance(variable, Lookup):
        return (
            "definitions by points make a lookup: put it under 'lookups'"
            if isinstance(read, Lookup)
            else "a lookup's definitions must be points: x[a]((0,0),(1,1))"
        )
    if isinstance(variable, Constant) and not isinstance(read, Constant):
        return "a constant's definitions must be numbers; a computed value is an auxiliary"
    return None


def _value_of(read: Variable) -> sympy.Expr:
    if isinstance(read, Constant):
        return sympy.Float(read.value)
    if isinstance(read, (Flow, Auxiliary)):
        return read.equation.expr
    raise ModelError(f"{read.name!r} is a {type(read).__name__}, not an equation")


def _kept(placeholder: Equation, expr: sympy.Expr) -> Equation:
    """The expression PySD read, with the text and location the YAML file gave."""
    return Equation(expr, placeholder.text, placeholder.location)


def _where(equation: Equation) -> tuple[str, str]:
    location = equation.location
    return (str(location), equation.text or "")


def _subscripts_named(variable: Variable) -> Iterator[str]:
    """Every subscript a variable's definitions and references name."""
    for definition in variable.definitions:
        yield from definition.subscripts
        for excepted in definition.excepts:
            yield from excepted
    for equation in variable.equations():
        for call in equation.expr.atoms(fn.SUBSCRIPT):
            yield from (a.name for a in call.args[1:] if isinstance(a, Str))


def _match_name(text: str, name: str) -> re.Match[str] | None:
    """Where ``name`` is written in ``text`` (spaces and underscores alike, any case)."""
    words = [re.escape(w) for w in re.split(r"[\s_]+", name.strip()) if w]
    if not words:
        return None
    pattern = r"(?<![\w])" + r"[\s_]+".join(words) + r"(?![\w])"
    return re.search(pattern, text, flags=re.IGNORECASE)


def _find_name(text: str, name: str) -> int | None:
    match = _match_name(text, name)
    return match.start() if match else None


def mentions(text: str, key: str) -> bool:
    """Whether equation ``text`` names the variable ``key``.

    >>> mentions("Beds * Occupancy_rate[North]", "occupancy rate"), mentions("Beds2", "beds")
    (True, False)
    """
    return _find_name(text, key) is not None
