"""sdhealth's YAML model format: strict loading into the IR, and writing the IR back.

The format is documented in ``docs/yaml-format.md``. A file holds the model's name, its clock
(``time``), optional ``sectors``, and one section per kind of variable: ``stocks``, ``flows``,
``auxiliaries``, ``constants`` and ``lookups``. Equations are Vensim expressions, parsed by
:mod:`sdhealth.io.expressions` (never ``eval``).

Loading is strict: an unknown key (with the nearest allowed key), a duplicate key or variable
name (names compare by :func:`~sdhealth.ir.names.canonical` key, so ``Beds`` and ``beds``
collide), a value of the wrong type, a missing required field, a non-positive ``dt``, an
undeclared sector or a stock flow that is not a defined flow is a
:class:`~sdhealth.errors.ModelSyntaxError` carrying the file, line and column (1-based) of the
offending key or value. A flow or auxiliary may declare the polarity of the links into it
(``links: {Care capacity: "+"}``): each source must be a variable its equation mentions, each
polarity ``"+"`` or ``"-"``; the declarations become :class:`~sdhealth.ir.model.DeclaredLink`
objects that :func:`sdhealth.analysis.polarity.check_polarity` checks. Where things were
written is worked out by :mod:`sdhealth.io.yaml_nodes`; writing lives in
:mod:`sdhealth.io.yaml_writer` and is re-exported here.

A model with a ``subscripts:`` section (Vensim arrays: ``dims:`` and ``definitions:`` on
arrayed variables) has every equation read by PySD's Vensim parser through
:mod:`sdhealth.io.yaml_arrays`; so does a model whose equations use Vensim functions
sdhealth's parser does not offer (``ACTIVE INITIAL``, ``:NA:``), after that parser refused them.

Variables are kept in a fixed order -- stocks, flows, auxiliaries, constants, lookups, each in
file order -- so that loading what :func:`model_to_yaml_text` wrote gives back an equal model.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sdhealth.errors import ModelSyntaxError, SdhealthError, SdhealthWarning
from sdhealth.io.document_readers import DOCUMENT_READERS
from sdhealth.io.expressions import parse_equation, parse_lookup_points
from sdhealth.io.yaml_arrays import PLACEHOLDER, ArrayReader, mentions, read_subscripts
from sdhealth.io.yaml_documents import (
    TIME_KEYS,
    parse_yaml_mapping,
    read_text_file,
    read_time_spec,
)
from sdhealth.io.yaml_nodes import (
    Document,
    Position,
    Slot,
    describe,
    is_number,
)
from sdhealth.io.yaml_writer import dump_yaml, model_to_yaml_text
from sdhealth.ir.functions import BUILTIN_SYMBOLS
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    DeclaredLink,
    Equation,
    Extrapolation,
    Flow,
    Lookup,
    Model,
    Report,
    Sector,
    SourceLocation,
    Stock,
    Subscript,
    TimeSpec,
    Variable,
)
from sdhealth.ir.names import canonical, did_you_mean

__all__ = [
    "CompiledDiagramWarning",
    "load_yaml",
    "model_from_yaml_text",
    "dump_yaml",
    "model_to_yaml_text",
    "TOP_LEVEL_KEYS",
    "TIME_KEYS",
    "COMMON_KEYS",
    "DEFINITION_KEYS",
    "ARRAY_KEYS",
]

#: Keys allowed at the top of a model file.
TOP_LEVEL_KEYS = (
    "model", "description", "time", "sectors", "report", "subscripts",
    "stocks", "flows", "auxiliaries", "constants", "lookups",
)  # fmt: skip
#: Keys allowed in ``report``.
REPORT_KEYS = ("indicators", "every", "loops")
#: Keys every variable definition may have.
COMMON_KEYS = ("units", "doc", "source", "sector", "limits")
#: Keys of an arrayed (subscripted) variable, in every section.
ARRAY_KEYS = ("dims", "definitions")
#: Section -> keys of a definition in that section (besides :data:`COMMON_KEYS`).
DEFINITION_KEYS: dict[str, tuple[str, ...]] = {
    "stocks": ("initial", "inflows", "outflows", "non_negative", "internal"),
    "flows": ("equation", "links", "internal"),
    "auxiliaries": ("equation", "links", "internal"),
    "constants": ("value",),
    "lookups": ("points", "extrapolation"),
}
_SINGULAR = {
    "stocks": "stock", "flows": "flow", "auxiliaries": "auxiliary",
    "constants": "constant", "lookups": "lookup",
}  # fmt: skip
_ARTICLE = {"stocks": "a", "flows": "a", "auxiliaries": "an", "constants": "a", "lookups": "a"}
#: A declared polarity as written -> +1/-1 (numbers as in the CLD format).
_POLARITY_OF: dict[object, int] = {"+": 1, "-": -1, 1: 1, -1: -1}
#: Why a section has no ``links`` key.
_NO_LINKS = {
    "stocks": "a stock's links are its inflows (+) and outflows (-)",
    "constants": "nothing links into a constant",
    "lookups": "a lookup is a table, not a variable links point into",
}
_START: Position = (0, 0)
#: sdhealth's equation parser refusing Vensim it does not hold itself (PySD reads it).
_VENSIM_ONLY = re.compile(r"function '.*' is not supported|unknown operator ':NA:'")


# --------------------------------------------------------------------------------- loading


def load_yaml(path: str | os.PathLike[str]) -> Model:
    """Read a model from a YAML file.

    Raises
    ------
    ModelSyntaxError
        The file cannot be read, is not valid YAML, or breaks a rule of the format; the error
        names the file, line and column.
    """
    where = str(path)
    text = read_text_file(path, "model")
    return model_from_yaml_text(text, path=where)


def model_from_yaml_text(text: str, *, path: str | None = None) -> Model:
    """Read a model from YAML text; ``path`` is only used in error messages and locations.

    >>> model = model_from_yaml_text('''
    ... model: Decay
    ... time: {stop: 10, dt: 0.5}
    ... stocks:
    ...   Amount: {initial: 100, outflows: [Loss]}
    ... flows:
    ...   Loss: Amount / Lifetime
    ... constants:
    ...   Lifetime: 4
    ... ''')
    >>> model.names, model.time.dt, model["lifetime"].value
    (('Amount', 'Loss', 'Lifetime'), 0.5, 4.0)
    """
    document = Document.of(text, path)
    root = parse_yaml_mapping(text, document, "model")
    if _is_diagram(root):
        return _compiled_diagram(text, path)
    reader = _ModelReader(document)
    try:
        return reader.read(root)
    except ModelSyntaxError as error:
        if not reader.equation_failed:
            raise
        first = error
    # A Vensim equation sdhealth's parser does not take (``ACTIVE INITIAL``, ``GAME``,
    # ``:NA:``) is still Vensim: PySD reads the model's equations, as for a
    # ``.mdl`` file; if PySD cannot either, sdhealth's error stands.
    try:
        return _ModelReader(document, vensim=True).read(root)
    except SdhealthError:
        raise first from None


class CompiledDiagramWarning(SdhealthWarning):
    """A model file that holds a causal-loop diagram, compiled into a stock-and-flow model."""


def _is_diagram(root: CommentedMap) -> bool:
    """Whether a file is a causal-loop diagram (``docs/cld-format.md``): it names a diagram."""
    return "diagram" in root and "model" not in root


def _compiled_diagram(text: str, path: str | None) -> Model:
    """The stock-and-flow model compiled from the causal-loop diagram written in ``text``
    (the reader ``sdhealth.cld`` registers in :mod:`sdhealth.io.document_readers`)."""
    reader = DOCUMENT_READERS.get("diagram")
    if reader is None:
        where = f"{path}: " if path else ""
        raise ModelSyntaxError(
            f"{where}a causal-loop diagram: import sdhealth.cld to compile it into a model"
        )
    return reader(text, path)


@dataclass(frozen=True)
class _Declared:
    """A variable name as declared: its spelling, section and where its key is written."""

    name: str
    section: str
    position: Position


class _ModelReader:
    """Reads one parsed document into a :class:`Model`, raising on the first broken rule."""

    def __init__(self, document: Document, *, vensim: bool = False) -> None:
        self.doc = document
        self.vensim = vensim  # read every equation with PySD's Vensim parser
        self.equation_failed = False  # sdhealth's equation parser refused an equation
        self.declared: dict[str, _Declared] = {}
        self.sectors: dict[str, str] = {}
        self.arrays: ArrayReader | None = None  # set for a model with subscripts

    def read(self, root: CommentedMap) -> Model:
        self.doc.check_keys(root, TOP_LEVEL_KEYS, "the model file")
        name = self._name(root)
        time = self._time(root)
        sectors = self._sectors(root)
        subscripts: tuple[Subscript, ...] = ()
        if root.get("subscripts") is not None:
            subscripts = read_subscripts(self.doc, root)
        if subscripts or self.vensim or _has_definitions(root):
            self.arrays = ArrayReader(self.doc, subscripts)
        sections = {key: self._section(root, key) for key in DEFINITION_KEYS}
        for section in (key for key in root if key in sections):  # file order
            self._declare(section, sections[section])
        variables: list[Variable] = []
        for section, mapping in sections.items():
            for name_key in mapping:
                variables.append(_BUILDERS[section](self, Slot(mapping, name_key)))
        if self.arrays is not None:
            variables = self.arrays.resolve(variables, self.doc.path)
        description = self.doc.text_field(root, "description", "'description'")
        return Model(
            name=name,
            time=time,
            variables=tuple(variables),
            subscripts=subscripts,
            sectors=sectors,
            doc=description,
            path=self.doc.path,
            report=self._report(root),
        )

    # -- top level ---------------------------------------------------------------------

    def _name(self, root: CommentedMap) -> str:
        if "model" not in root:
            raise self.doc.error("missing required key 'model' (the model's name)", _START)
        name = root["model"]
        if not isinstance(name, str) or not name.strip():
            raise self.doc.error(
                f"'model' must be the model's name (text), got {describe(name)}",
                Slot(root, "model").value_position,
            )
        return str(name).strip()

    def _time(self, root: CommentedMap) -> TimeSpec:
        if "time" not in root:
            raise self.doc.error("missing required key 'time' (with at least stop and dt)", _START)
        return read_time_spec(self.doc, root)

    def _report(self, root: CommentedMap) -> Report:
        """``report: {indicators: [names], every: 12}``: what a run summary shows."""
        if root.get("report") is None:
            return Report()
        fields = self.doc.mapping(Slot(root, "report"), "'report'")
        self.doc.check_keys(fields, REPORT_KEYS, "'report'")
        at = Slot(root, "report").key_position
        every = self.doc.number(fields, "every", owner="'report'", owner_position=at, default=None)
        if every is not None and not every > 0:
            raise self.doc.value_error(fields, "every", f"'every' must be positive, got {every:g}")
        names: tuple[str, ...] = ()
        if fields.get("indicators") is not None:
            names = self._variable_list(fields, "indicators", "indicator")
        loops: list[tuple[str, tuple[str, ...]]] = []
        if fields.get("loops") is not None:
            mapping = self.doc.mapping(Slot(fields, "loops"), "'loops'")
            for loop_name in mapping:
                loops.append((str(loop_name), self._variable_list(mapping, loop_name, "variable")))
        return Report(indicators=names, every=every, loops=tuple(loops))

    def _variable_list(self, fields: CommentedMap, key: str, what: str) -> tuple[str, ...]:
        """A list of declared variable names under ``key`` (display spelling)."""
        items = fields[key]
        if not isinstance(items, CommentedSeq) or not items:
            raise self.doc.value_error(
                fields, key, f"{key!r} must be a list of variable names, got {describe(items)}"
            )
        names = []
        for index, item in enumerate(items):
            slot = Slot(items, index)
            found = self.declared.get(canonical(item)) if isinstance(item, str) else None
            if found is None:
                known = [d.name for d in self.declared.values()]
                hint = did_you_mean(str(item), known) if isinstance(item, str) else ""
                raise self.doc.error(f"unknown {what} {item!r}{hint}", slot.value_position)
            names.append(found.name)
        return tuple(names)

    def _sectors(self, root: CommentedMap) -> tuple[Sector, ...]:
        if root.get("sectors") is None:
            return ()
        mapping = self.doc.mapping(Slot(root, "sectors"), "'sectors'")
        sectors = []
        for name in mapping:
            if not isinstance(name, str) or not name.strip():
                raise self.doc.error(
                    f"sector names must be text, got {describe(name)}",
                    Slot(mapping, name).key_position,
                )
            doc = self.doc.text_field(mapping, name, f"the description of sector {name!r}")
            self.sectors[canonical(name)] = name
            sectors.append(Sector(name, doc))
        return tuple(sectors)

    def _section(self, root: CommentedMap, section: str) -> CommentedMap:
        if root.get(section) is None:
            return CommentedMap()
        return self.doc.mapping(Slot(root, section), f"'{section}' (names to definitions)")

    def _declare(self, section: str, mapping: CommentedMap) -> None:
        for name in mapping:
            position = Slot(mapping, name).key_position
            if not isinstance(name, str) or not name.strip():
                raise self.doc.error(f"variable names must be text, got {describe(name)}", position)
            key = canonical(name)
            if key in BUILTIN_SYMBOLS:
                raise self.doc.error(
                    f"{name!r} is a builtin name and cannot be redefined", position
                )
            if key in self.declared:
                first = self.declared[key]
                raise self.doc.error(
                    f"duplicate variable name {name!r} (same as {first.name!r} on line "
                    f"{first.position[0] + 1}; names ignore case, spaces and underscores)",
                    position,
                )
            self.declared[key] = _Declared(str(name).strip(), section, position)

    # -- definitions ------------------------------------------------------------------

    def _definition(self, slot: Slot, section: str) -> CommentedMap:
        """The mapping of a full-form definition (its keys checked)."""
        what = f"{_SINGULAR[section]} {slot.key!r}"
        fields = self.doc.mapping(slot, what)
        if "links" in fields and section in _NO_LINKS:
            raise self.doc.error(
                f"{what} cannot have 'links': {_NO_LINKS[section]}; declare link polarities "
                "under the flows and auxiliaries they point into",
                Slot(fields, "links").key_position,
            )
        self.doc.check_keys(fields, DEFINITION_KEYS[section] + COMMON_KEYS + ARRAY_KEYS, what)
        if "dims" in fields and "definitions" not in fields:
            raise self.doc.error(
                f"{what} has 'dims' but no 'definitions' (its Vensim equations)",
                Slot(fields, "dims").key_position,
            )
        return fields

    def _arrayed(self, fields: CommentedMap | None, name: str, own: str) -> bool:
        """Whether a definition is arrayed (has ``definitions``), which then replace ``own``."""
        if fields is None or "definitions" not in fields:
            return False
        slot = Slot(fields, "definitions")
        if self.arrays is None:
            raise self.doc.error(
                f"{name!r}: 'definitions' are not readable here", slot.key_position
            )
        if own in fields:
            raise self.doc.error(
                f"{name!r} has both {own!r} and 'definitions': an arrayed variable is given by "
                "its definitions only",
                Slot(fields, own).key_position,
            )
        if "links" in fields:
            raise self.doc.error(
                f"{name!r}: declared link polarities are not supported on arrayed variables",
                Slot(fields, "links").key_position,
            )
        self.arrays.add_definitions(canonical(name), slot, name)
        return True

    def _dims(self, fields: CommentedMap, name: str) -> tuple[str, ...]:
        """The ``dims:`` of an arrayed variable: declared range names."""
        assert self.arrays is not None
        ranges = {canonical(s.name): s.name for s in self.arrays.subscripts}
        if "dims" not in fields:
            return ()  # a scalar defined the Vensim way (data read from a file)
        items = fields["dims"]
        if not isinstance(items, CommentedSeq) or not items:
            raise self.doc.value_error(
                fields, "dims", f"'dims' must be a list of range names, got {describe(items)}"
            )
        dims = []
        for index, item in enumerate(items):
            if not isinstance(item, str) or canonical(item) not in ranges:
                hint = did_you_mean(str(item), ranges.values())
                raise self.doc.error(
                    f"unknown range {str(item)!r} in the dims of {name!r}{hint}",
                    Slot(items, index).value_position,
                )
            dims.append(ranges[canonical(item)])
        return tuple(dims)

    def _common(self, fields: CommentedMap | None, name: str) -> dict[str, Any]:
        """The fields every variable has, read from ``fields`` (a shorthand has none)."""
        common: dict[str, Any] = {"name": name}
        if fields is None:
            return common
        for key in ("units", "doc", "source"):
            common[key] = self.doc.text_field(fields, key, f"'{key}' of {name!r}")
        if fields.get("sector") is not None:
            common["sector"] = self._sector_of(Slot(fields, "sector"))
        if fields.get("limits") is not None:
            common["limits"] = self.doc.limits(Slot(fields, "limits"))
        if "definitions" in fields:
            common["dims"] = self._dims(fields, name)
        return common

    def _location(self, slot: Slot) -> SourceLocation:
        return self.doc.location(slot.key_position)

    def _stock(self, slot: Slot) -> Stock:
        name = self.declared[canonical(slot.key)].name
        if not isinstance(slot.value, dict):
            raise self.doc.error(
                f"stock {name!r} must be a mapping with at least 'initial', "
                f"got {describe(slot.value)}",
                slot.value_position,
            )
        fields = self._definition(slot, "stocks")
        if self._arrayed(fields, name, "initial"):
            initial = Equation(PLACEHOLDER)
        else:
            initial_slot = self.doc.required(fields, "initial", slot, "stock")
            initial = self._equation(initial_slot, "'initial'")
        inflows = self._flow_names(fields, "inflows", name)
        return Stock(
            initial=initial,
            inflows=inflows,
            outflows=self._flow_names(fields, "outflows", name, inflows),
            non_negative=self.doc.boolean(fields, "non_negative"),
            internal=self.doc.boolean(fields, "internal"),
            location=self._location(slot),
            **self._common(fields, name),
        )

    def _rate(self, slot: Slot, section: str) -> tuple[Equation, dict[str, Any]]:
        """The equation and common fields of a flow or auxiliary (full form or shorthand)."""
        name = self.declared[canonical(slot.key)].name
        if not isinstance(slot.value, dict):
            return self._equation(slot, f"the equation of {name!r}"), self._common(None, name)
        fields = self._definition(slot, section)
        internal = {"internal": True} if self.doc.boolean(fields, "internal") else {}
        if self._arrayed(fields, name, "equation"):
            return Equation(PLACEHOLDER), self._common(fields, name) | internal
        equation_slot = self.doc.required(fields, "equation", slot, _SINGULAR[section])
        equation = self._equation(equation_slot, "'equation'")
        common = self._common(fields, name) | internal
        common["declared_links"] = self._declared_links(fields, name, equation)
        return equation, common

    def _flow(self, slot: Slot) -> Flow:
        equation, common = self._rate(slot, "flows")
        return Flow(equation=equation, location=self._location(slot), **common)

    def _auxiliary(self, slot: Slot) -> Auxiliary:
        equation, common = self._rate(slot, "auxiliaries")
        return Auxiliary(equation=equation, location=self._location(slot), **common)

    def _constant(self, slot: Slot) -> Constant:
        name = self.declared[canonical(slot.key)].name
        if is_number(slot.value):
            return Constant(value=float(slot.value), location=self._location(slot), name=name)
        if not isinstance(slot.value, dict):
            raise self.doc.error(
                f"constant {name!r} must be a number or a mapping with 'value', "
                f"got {describe(slot.value)}",
                slot.value_position,
            )
        fields = self._definition(slot, "constants")
        if self._arrayed(fields, name, "value"):
            common = self._common(fields, name)
            return Constant(value=0.0, location=self._location(slot), **common)
        value = self.doc.number(
            fields, "value", owner=f"constant {name!r}", owner_position=slot.key_position
        )
        return Constant(value=value, location=self._location(slot), **self._common(fields, name))

    def _lookup(self, slot: Slot) -> Lookup:
        name = self.declared[canonical(slot.key)].name
        fields: CommentedMap | None = None
        points = slot
        if isinstance(slot.value, dict):
            fields = self._definition(slot, "lookups")
            if self._arrayed(fields, name, "points"):
                extrapolation = Extrapolation.HOLD
                if fields.get("extrapolation") is not None:
                    extrapolation = self._extrapolation(Slot(fields, "extrapolation"))
                return Lookup(
                    xs=(),
                    ys=(),
                    extrapolation=extrapolation,
                    location=self._location(slot),
                    **self._common(fields, name),
                )
            points = self.doc.required(fields, "points", slot, "lookup")
        xs, ys = self._points(points, name)
        extrapolation = Extrapolation.HOLD
        if fields is not None and fields.get("extrapolation") is not None:
            extrapolation = self._extrapolation(Slot(fields, "extrapolation"))
        return Lookup(
            xs=xs,
            ys=ys,
            extrapolation=extrapolation,
            location=self._location(slot),
            **self._common(fields, name),
        )

    # -- declared link polarities ------------------------------------------------------

    def _declared_links(
        self, fields: CommentedMap, target: str, equation: Equation
    ) -> tuple[DeclaredLink, ...]:
        """The ``links`` of a flow or auxiliary: source name -> declared polarity."""
        if fields.get("links") is None:
            return ()
        what = f'\'links\' of {target!r} (source names to "+" or "-")'
        links = self.doc.mapping(Slot(fields, "links"), what)
        mentioned = set(equation.free_keys) | {key for key, _ in equation.references}
        if self.arrays is not None:  # read later, by PySD: names as written in the text
            mentioned = {k for k in self.declared if mentions(equation.text or "", k)}
        declared: list[DeclaredLink] = []
        for source_key in links:
            slot = Slot(links, source_key)
            source = self._link_source(slot, target, mentioned)
            if any(canonical(link.source) == canonical(source) for link in declared):
                raise self.doc.error(
                    f"the link from {source!r} is declared twice in {target!r}", slot.key_position
                )
            polarity = self._polarity(slot, source, target)
            declared.append(DeclaredLink(source, polarity, self.doc.location(slot.key_position)))
        return tuple(declared)

    def _link_source(self, slot: Slot, target: str, mentioned: frozenset[str] | set[str]) -> str:
        """The declared name of a link's source, which ``target``'s equation must mention."""
        name, position = slot.key, slot.key_position
        if not isinstance(name, str) or not name.strip():
            raise self.doc.error(
                f"link sources must be variable names, got {describe(name)}", position
            )
        found = self.declared.get(canonical(name))
        if found is None:
            hint = did_you_mean(name, [d.name for d in self.declared.values()])
            raise self.doc.error(
                f"unknown variable {name.strip()!r} in the links of {target!r}{hint}", position
            )
        if found.section == "lookups":
            raise self.doc.error(
                f"{found.name!r} is a lookup, a table rather than a quantity: declare the link "
                "from the lookup's input instead",
                position,
            )
        if canonical(name) not in mentioned:
            raise self.doc.error(
                f"{found.name!r} does not appear in the equation of {target!r}", position
            )
        return found.name

    def _polarity(self, slot: Slot, source: str, target: str) -> int:
        value = slot.value
        if isinstance(value, str):
            value = value.strip()
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            if value in _POLARITY_OF:
                return _POLARITY_OF[value]
        raise self.doc.error(
            f'the polarity of link {source!r} -> {target!r} must be "+" or "-", '
            f"got {describe(slot.value)}",
            slot.value_position,
        )

    # -- lookups of names ----------------------------------------------------------

    def _sector_of(self, slot: Slot) -> str:
        value = slot.value
        if not isinstance(value, str):
            raise self.doc.error(
                f"'sector' must be text, got {describe(value)}", slot.value_position
            )
        if canonical(value) in self.sectors:
            return self.sectors[canonical(value)]
        if not self.sectors:
            hint = " (declare it under 'sectors:')"
        else:
            hint = did_you_mean(str(value), self.sectors.values())
        raise self.doc.error(f"unknown sector {str(value)!r}{hint}", slot.value_position)

    def _flow_names(
        self, fields: CommentedMap, key: str, stock: str, listed: tuple[str, ...] = ()
    ) -> tuple[str, ...]:
        """The flows under ``key`` of a stock, none of them repeated or among ``listed``."""
        value = fields.get(key)
        if value is None:
            return ()
        if not isinstance(value, CommentedSeq):
            raise self.doc.value_error(
                fields, key, f"{key!r} must be a list of flow names, got {describe(value)}"
            )
        names: list[str] = []
        seen = {canonical(name) for name in listed}
        for index, item in enumerate(value):
            position = Slot(value, index).value_position
            names.append(self._flow_name(item, position, stock))
            if canonical(names[-1]) in seen:
                raise self.doc.error(f"flow {item!r} is listed twice in stock {stock!r}", position)
            seen.add(canonical(names[-1]))
        return tuple(names)

    def _flow_name(self, item: object, position: Position, stock: str) -> str:
        if not isinstance(item, str):
            raise self.doc.error(f"flow names must be text, got {describe(item)}", position)
        found = self.declared.get(canonical(item))
        if found is None:
            flows = [d.name for d in self.declared.values() if d.section == "flows"]
            hint = did_you_mean(item, flows)
            raise self.doc.error(f"unknown flow {str(item)!r} in stock {stock!r}{hint}", position)
        if found.section != "flows":
            kind = f"{_ARTICLE[found.section]} {_SINGULAR[found.section]}"
            raise self.doc.error(
                f"{found.name!r} is {kind}, not a flow; a stock's inflows and outflows must be "
                "defined under 'flows'",
                position,
            )
        return found.name

    def _extrapolation(self, slot: Slot) -> Extrapolation:
        choices = [e.value for e in Extrapolation]
        if isinstance(slot.value, str) and slot.value in choices:
            return Extrapolation(slot.value)
        hint = did_you_mean(slot.value, choices) if isinstance(slot.value, str) else ""
        expected = f"'extrapolation' must be one of {', '.join(choices)}"
        raise self.doc.error(f"{expected}, got {describe(slot.value)}{hint}", slot.value_position)

    # -- equations and lookup points ---------------------------------------------------

    def _equation(self, slot: Slot, what: str) -> Equation:
        value = slot.value
        if is_number(value):
            text = self.doc.number_token(slot)
            location = self.doc.location(slot.value_position)
            if self.arrays is not None:
                return self.arrays.defer(slot, text, location)
            return parse_equation(text, location=location)
        if not isinstance(value, str):
            raise self.doc.error(
                f"{what} must be an equation (text or a number), got {describe(value)}",
                slot.value_position,
            )
        if self.arrays is not None:  # read with the arrays, by PySD
            return self.arrays.defer(slot, *self.doc.scalar_text(slot))
        try:
            return self.doc.parse_text(slot, parse_equation)
        except ModelSyntaxError as error:
            self.equation_failed = _VENSIM_ONLY.search(error.message) is not None
            raise

    def _points(self, slot: Slot, name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
        value = slot.value
        if isinstance(value, str):
            parsed_xs, parsed_ys = self.doc.parse_text(slot, parse_lookup_points)
            return tuple(map(float, parsed_xs)), tuple(map(float, parsed_ys))
        expected = f"the points of lookup {name!r} must be a list of [x, y] pairs"
        if not isinstance(value, CommentedSeq) or not value:
            raise self.doc.error(f"{expected}, got {describe(value)}", slot.value_position)
        xs: list[float] = []
        ys: list[float] = []
        for index, pair in enumerate(value):
            if not (isinstance(pair, list) and len(pair) == 2 and all(map(is_number, pair))):
                raise self.doc.error(
                    f"{expected}, got {describe(pair)}", Slot(value, index).value_position
                )
            xs.append(float(pair[0]))
            ys.append(float(pair[1]))
        return tuple(xs), tuple(ys)


def _has_definitions(root: CommentedMap) -> bool:
    """Whether any variable of the file is given by Vensim ``definitions``."""
    return any(
        isinstance(section, dict)
        and any(isinstance(entry, dict) and "definitions" in entry for entry in section.values())
        for key, section in root.items()
        if key in DEFINITION_KEYS
    )


_BUILDERS: dict[str, Callable[[_ModelReader, Slot], Variable]] = {
    "stocks": _ModelReader._stock,
    "flows": _ModelReader._flow,
    "auxiliaries": _ModelReader._auxiliary,
    "constants": _ModelReader._constant,
    "lookups": _ModelReader._lookup,
}
