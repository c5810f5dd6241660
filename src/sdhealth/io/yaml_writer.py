"""Writing a model in sdhealth's YAML format (the reader is :mod:`sdhealth.io.yaml`).

The writer emits the full form of every definition (no shorthands), in the fixed section order
stocks, flows, auxiliaries, constants, lookups -- the order the reader gives variables -- so
that reading the text back gives an equal model. Equations keep the modeller's text; equations
built in code are printed by :func:`sdhealth.ir.vensim.expr_to_vensim`. Compiler-generated
(``internal``) variables are left out. Declared link polarities of flows and auxiliaries are
written as ``links: {Source: "+"}``; a stock's are its flow lists, so none are written for
stocks (or constants and lookups, which nothing links into). Files are written atomically.

Subscripted models get a ``subscripts:`` section and, on each arrayed variable, ``dims:`` and
``definitions:`` -- its Vensim equations, one line each, printed by
:func:`sdhealth.ir.vensim.definitions_to_vensim` (read back by :mod:`sdhealth.io.yaml_arrays`).
Clock settings the model computes are written as quoted equations in ``time:``. Internal
variables an import made and the model reads (a stock's ``net flow``, an inlined macro's
variables) are written like any other, marked ``internal: true`` so that they stay hidden
from default output when read back.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.emitter import RoundTripEmitter
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
)

from sdhealth.errors import ModelError
from sdhealth.io.atomic import write_text_atomic
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Equation,
    Flow,
    Lookup,
    Model,
    Report,
    Stock,
    Subscript,
    TimeSpec,
    Variable,
)
from sdhealth.ir.names import canonical
from sdhealth.ir.vensim import definitions_to_vensim, expr_to_vensim

__all__ = ["dump_yaml", "model_to_yaml_text"]


def dump_yaml(model: Model, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` in the YAML format, atomically (temp file + rename).

    Raises
    ------
    ModelError
        The model holds something the YAML format cannot (a variable of a kind it has no
        section for, a subscripted variable without definitions).
    """
    write_text_atomic(path, model_to_yaml_text(model))


def model_to_yaml_text(model: Model) -> str:
    """The YAML text of ``model`` (full form; compiler-generated variables left out).

    Equations keep the text the modeller wrote; equations built in code are printed in
    Vensim syntax.

    >>> print(model_to_yaml_text(Model("M", variables=(Constant(name="Beds", value=5.0),))))
    model: M
    time: {start: 0, stop: 100, dt: 1, units: month}
    constants:
      Beds:
        value: 5
    <BLANKLINE>
    """
    _check_writable(model)

    def name_of(key: str) -> str:
        return model[key].name if key in model else key

    root = CommentedMap()
    root["model"] = model.name
    if model.doc:
        root["description"] = _string(model.doc)
    root["time"] = _time_map(model.time, name_of)
    sectors = _sectors(model)
    if sectors:
        root["sectors"] = sectors
    if model.subscripts:
        root["subscripts"] = _subscripts_map(model.subscripts)
    if model.report != Report():
        root["report"] = _report_map(model)

    needed = _needed_internals(model)
    for section, (kind, write) in _WRITERS.items():
        entries = CommentedMap(
            (v.name, _arrayed(model, v, write(v, name_of)) if v.definitions else write(v, name_of))
            for v in model.variables
            if isinstance(v, kind) and (not v.internal or v.key in needed)
        )
        if entries:
            root[section] = entries
    stream = io.StringIO()
    _yaml_writer().dump(root, stream)
    return stream.getvalue()


def _needed_internals(model: Model) -> set[str]:
    """Keys of internal variables the model's own variables read (import-made, not compiled).

    Importing a ``.mdl`` file makes internal variables that are part of the model: a stock's
    ``net flow`` and the variables of an inlined macro. Compilation's delay stages are read
    only by other internal variables and stay unwritten.
    """
    internal = {v.key for v in model.variables if v.internal}
    needed: set[str] = set()
    frontier = [v for v in model.variables if v.key not in internal]
    while frontier:
        variable = frontier.pop()
        read = {k for e in variable.equations() for k in e.free_keys}
        if isinstance(variable, Stock):
            read |= {canonical(f) for f in (*variable.inflows, *variable.outflows)}
        for key in (read & internal) - needed:
            needed.add(key)
            frontier.append(model[key])
    return needed


class _KeyKeepingEmitter(RoundTripEmitter):
    """ruamel.yaml's emitter, but a plain key is never broken over lines, whatever the width.

    ruamel.yaml 0.18-0.19 gives a word that would cross the line width "a line of its own"
    even inside a key, which YAML does not allow to span lines: a name of 60 characters, a few
    columns in, came out as invalid YAML from a dumper at the default 80 columns.
    """

    def write_plain(self, text: Any, split: Any = True) -> None:
        if split:
            return super().write_plain(text, split)
        width, self.best_width = self.best_width, sys.maxsize
        try:
            return super().write_plain(text, split)
        finally:
            self.best_width = width


def _yaml_writer() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Emitter = _KeyKeepingEmitter
    yaml.width = sys.maxsize  # never wrap a line: only line breaks in the text make lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _check_writable(model: Model) -> None:
    kinds = tuple(kind for kind, _ in _WRITERS.values())
    for variable in model.variables:
        if variable.dims and not variable.definitions:
            raise ModelError(
                f"cannot write {variable.name!r}: a subscripted variable is written by its "
                "definitions (one Vensim equation each), and it has none"
            )
        if not isinstance(variable, kinds):
            raise ModelError(
                f"the YAML format cannot hold {variable.name!r} (a {type(variable).__name__})"
            )


def _sectors(model: Model) -> CommentedMap:
    """Declared sectors, then any sector a variable names without declaring it."""
    sectors = CommentedMap((s.name, _string(s.doc) if s.doc else None) for s in model.sectors)
    for variable in model.variables:
        if variable.sector and variable.sector not in sectors:
            sectors[variable.sector] = None
    return sectors


def _report_map(model: Model) -> CommentedMap:
    fields = CommentedMap()
    if model.report.indicators:
        names = CommentedSeq(_in_flow(name) for name in model.report.indicators)
        names.fa.set_flow_style()
        fields["indicators"] = names
    if model.report.every is not None:
        fields["every"] = _number(model.report.every)
    if model.report.loops:
        loops = CommentedMap()
        for name, variables in model.report.loops:
            chain = CommentedSeq(_in_flow(v) for v in variables)
            chain.fa.set_flow_style()
            loops[name] = chain
        fields["loops"] = loops
    return fields


#: Clock setting (as in :attr:`TimeSpec.equations`) -> key of the ``time`` section.
_CLOCK_KEYS = {
    "initial time": "start",
    "final time": "stop",
    "time step": "dt",
    "saveper": "saveper",
}


def _time_map(time: TimeSpec, name_of: Callable[[str], str]) -> CommentedMap:
    fields = CommentedMap(start=_number(time.start), stop=_number(time.stop), dt=_number(time.dt))
    if time.saveper is not None:
        fields["saveper"] = _number(time.saveper)
    for setting, equation in time.equations:  # a clock the model computes
        text = equation.text or expr_to_vensim(equation.expr, name_of)
        fields[_CLOCK_KEYS[setting]] = DoubleQuotedScalarString(" ".join(text.split()))
    fields["units"] = _in_flow(time.units)
    if time.method != "euler":
        fields["method"] = time.method
    fields.fa.set_flow_style()
    return fields


def _subscripts_map(subscripts: tuple[Subscript, ...]) -> CommentedMap:
    """``Range: [elements]``, or the full form when there are subranges or mappings."""
    ranges = CommentedMap()
    for subscript in subscripts:
        elements = _flow_list(subscript.elements)
        if not subscript.subranges and not subscript.mappings:
            ranges[subscript.name] = elements
            continue
        fields = CommentedMap(elements=elements)
        if subscript.subranges:
            fields["subranges"] = _flow_list(subscript.subranges)
        if subscript.mappings:
            fields["mappings"] = _flow_list(subscript.mappings)
        ranges[subscript.name] = fields
    return ranges


#: The field an arrayed variable's ``definitions`` stand in for.
_OWN_FIELDS = ("initial", "equation", "value", "points", "links")


def _arrayed(model: Model, variable: Variable, fields: CommentedMap) -> CommentedMap:
    """A variable's fields with ``dims`` and ``definitions`` in place of its own equation."""
    arrayed = CommentedMap()
    if variable.dims:
        arrayed["dims"] = _flow_list(variable.dims)
    arrayed["definitions"] = CommentedSeq(
        _string(text) for text in definitions_to_vensim(model, variable)
    )
    for key, value in fields.items():
        if key not in _OWN_FIELDS and value not in ([], False):  # no empty flow lists
            arrayed[key] = value
    return arrayed


def _number(value: float) -> int | float:
    """Integral values print without a trailing ``.0``."""
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 1e15 else number


def _string(text: str) -> str:
    return LiteralScalarString(text) if "\n" in text else text


_PLAIN_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def _equation_value(equation: Equation, name_of: Callable[[str], str]) -> Any:
    """An equation as a YAML value: a bare number if its text is one, else its text."""
    text = equation.text if equation.text is not None else expr_to_vensim(equation.expr, name_of)
    if _PLAIN_NUMBER.fullmatch(text) and repr(_number(float(text))) == text:
        return _number(float(text))
    return _equation_string(text)


#: A line break YAML folding can stand for: one, between two characters that are not blank.
_FOLDABLE_BREAK = re.compile(r"(?<=\S)\n(?=\S)")


def _equation_string(text: str) -> str:
    """An equation's text as a YAML scalar that reads back as the same text.

    Text read from a plain or ``>`` folded scalar over several lines keeps its line breaks
    where YAML folded them into spaces (:meth:`sdhealth.io.yaml_nodes.Document.scalar_text`),
    even inside a name (``Surge\\nduration``); such text is written as a ``>-`` block folded
    at the same places, which the reader turns back into the same text (a literal ``|`` block
    would keep a line break inside a name, which no equation can hold). Other multi-line text
    is a literal block.

    >>> type(_equation_string("a +\\nb")).__name__, type(_equation_string("a\\n  + b")).__name__
    ('FoldedScalarString', 'LiteralScalarString')
    """
    breaks = text.count("\n")
    if not breaks:
        return text
    folds = [match.start() for match in _FOLDABLE_BREAK.finditer(text)]
    if len(folds) != breaks:
        return LiteralScalarString(text)
    folded = FoldedScalarString(text.replace("\n", " "))
    folded.fold_pos = folds  # type: ignore[attr-defined]
    return folded


_FLOW_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ &'$./()+*-]*")


def _in_flow(text: str) -> str:
    """Text for a ``[...]``/``{...}`` collection: double-quoted unless plainly safe.

    ruamel.yaml can emit unreadable flow collections for text such as ``': 0'``; quoting
    anything outside a conservative alphabet avoids that.
    """
    safe = _FLOW_SAFE.fullmatch(text) and text == text.strip() and " #" not in text
    return text if safe else DoubleQuotedScalarString(text)


def _flow_list(names: tuple[str, ...]) -> CommentedSeq:
    seq = CommentedSeq(_in_flow(name) for name in names)
    seq.fa.set_flow_style()
    return seq


def _common_fields(fields: CommentedMap, variable: Variable) -> CommentedMap:
    for key in ("units", "doc", "source", "sector"):
        value = getattr(variable, key)
        if value:
            fields[key] = _string(value)
    if variable.limits != (None, None):
        limits = CommentedSeq(None if b is None else _number(b) for b in variable.limits)
        limits.fa.set_flow_style()
        fields["limits"] = limits
    if variable.internal:
        fields["internal"] = True  # made by an import; hidden from default output
    return fields


def _write_stock(stock: Stock, name_of: Callable[[str], str]) -> CommentedMap:
    fields = CommentedMap(initial=_equation_value(stock.initial, name_of))
    fields["inflows"] = _flow_list(stock.inflows)
    fields["outflows"] = _flow_list(stock.outflows)
    fields["non_negative"] = stock.non_negative
    return _common_fields(fields, stock)


_SIGN = {1: "+", -1: "-"}


def _write_rate(variable: Flow | Auxiliary, name_of: Callable[[str], str]) -> CommentedMap:
    fields = CommentedMap(equation=_equation_value(variable.equation, name_of))
    if variable.declared_links:
        links = CommentedMap(
            (_in_flow(link.source), DoubleQuotedScalarString(_SIGN[link.polarity]))
            for link in variable.declared_links
        )
        links.fa.set_flow_style()
        fields["links"] = links
    return _common_fields(fields, variable)


def _write_constant(constant: Constant, name_of: Callable[[str], str]) -> CommentedMap:
    return _common_fields(CommentedMap(value=_number(constant.value)), constant)


def _write_lookup(lookup: Lookup, name_of: Callable[[str], str]) -> CommentedMap:
    points = CommentedSeq()
    for x, y in zip(lookup.xs, lookup.ys, strict=True):
        pair = CommentedSeq([_number(x), _number(y)])
        pair.fa.set_flow_style()
        points.append(pair)
    fields = CommentedMap(points=points, extrapolation=lookup.extrapolation.value)
    return _common_fields(fields, lookup)


#: Section -> (IR type, writer), in the order sections are written and read.
_WRITERS: dict[str, tuple[type[Variable], Callable[[Any, Callable[[str], str]], CommentedMap]]] = {
    "stocks": (Stock, _write_stock),
    "flows": (Flow, _write_rate),
    "auxiliaries": (Auxiliary, _write_rate),
    "constants": (Constant, _write_constant),
    "lookups": (Lookup, _write_lookup),
}
