"""Writing a model in sdhealth's YAML format (the reader is :mod:`sdhealth.io.yaml`).

The writer emits the full form of every definition (no shorthands), in the fixed section order
stocks, flows, auxiliaries, constants, lookups -- the order the reader gives variables -- so
that reading the text back gives an equal model. Equations keep the modeller's text; equations
built in code are printed by :func:`sdhealth.ir.vensim.expr_to_vensim`. Compiler-generated
(``internal``) variables are left out. Declared link polarities of flows and auxiliaries are
written as ``links: {Source: "+"}``; a stock's are its flow lists, so none are written for
stocks (or constants and lookups, which nothing links into). Files are written atomically.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

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
    TimeSpec,
    Variable,
)
from sdhealth.ir.vensim import expr_to_vensim

__all__ = ["dump_yaml", "model_to_yaml_text"]


def dump_yaml(model: Model, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` in the YAML format, atomically (temp file + rename).

    Raises
    ------
    ModelError
        The model holds something the YAML format cannot (subscripted variables).
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
    root = CommentedMap()
    root["model"] = model.name
    if model.doc:
        root["description"] = _string(model.doc)
    root["time"] = _time_map(model.time)
    sectors = _sectors(model)
    if sectors:
        root["sectors"] = sectors
    if model.report != Report():
        root["report"] = _report_map(model)

    def name_of(key: str) -> str:
        return model[key].name if key in model else key

    for section, (kind, write) in _WRITERS.items():
        entries = CommentedMap(
            (v.name, write(v, name_of))
            for v in model.variables
            if isinstance(v, kind) and not getattr(v, "internal", False)
        )
        if entries:
            root[section] = entries
    stream = io.StringIO()
    _yaml_writer().dump(root, stream)
    return stream.getvalue()


def _yaml_writer() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 4096  # never fold an equation over lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _check_writable(model: Model) -> None:
    if model.subscripts or any(v.dims for v in model.variables):
        raise ModelError(
            f"model {model.name!r} has subscripted variables, which the YAML format cannot "
            "hold yet; write it as Vensim .mdl instead"
        )
    if model.time.equations:
        raise ModelError(
            f"model {model.name!r} sets its clock by equations, which the YAML format cannot "
            "hold yet; write it as Vensim .mdl instead"
        )
    kinds = tuple(kind for kind, _ in _WRITERS.values())
    for variable in model.variables:
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


def _time_map(time: TimeSpec) -> CommentedMap:
    fields = CommentedMap(start=_number(time.start), stop=_number(time.stop), dt=_number(time.dt))
    if time.saveper is not None:
        fields["saveper"] = _number(time.saveper)
    fields["units"] = _in_flow(time.units)
    fields.fa.set_flow_style()
    return fields


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
    return _string(text)


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
