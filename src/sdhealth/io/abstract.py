"""PySD's AbstractModel -> sdhealth IR: the shared back half of the ``.mdl`` and XMILE readers.

PySD's translators (:class:`pysd.translators.vensim.vensim_file.VensimFile`,
:class:`pysd.translators.xmile.xmile_file.XmileFile`) parse a model file into an
``AbstractModel``: plain dataclasses with one abstract syntax tree per equation. This module
turns that tree straight into sympy (never through text; the expressions are converted by
:mod:`sdhealth.io.abstract_expressions`), following the IR conventions:

- references are ``Symbol(canonical(name))``; a subscripted reference ``x[a, B!]`` is
  ``SUBSCRIPT(Symbol(key), Str("a"), Str("B!"))``;
- ``IF THEN ELSE`` is ``Piecewise``, comparisons are relationals, ``:AND:``/``:OR:``/``:NOT:``
  are sympy logic; lookups and the delay/smooth family are the classes of
  :mod:`sdhealth.ir.functions`;
- Vensim functions without an IR class (array functions, allocation, ``GAME``, ``GET ...
  CONSTANTS``) are kept by name as ``VENSIM_CALL``.

Kinds: an ``INTEG`` equation makes a :class:`Stock`. When its net rate is a signed sum of other
variables these become its inflows/outflows (and :class:`Flow` s); otherwise the rate becomes an
internal flow ``"<stock> net flow"``. A number makes a :class:`Constant`, a lookup definition a
:class:`Lookup`, anything else an :class:`Auxiliary`. A subscripted variable keeps each Vensim
equation as a :class:`~sdhealth.ir.model.Definition` (numeric arrays split per element).

External data keeps its Vensim call with the file's path made absolute: ``GET ... DATA``
equations (``:=``) make a :class:`~sdhealth.ir.model.Data` variable, ``GET ... LOOKUPS`` a
:class:`Lookup` whose definitions hold the call, ``GET ... CONSTANTS`` a ``VENSIM_CALL``.
Macros are inlined (:class:`_Macros`). What the IR cannot hold (macros with several outputs,
data given only at run time, an ``INTEG`` inside an expression, a dynamic clock) raises
:class:`~sdhealth.errors.ModelError` naming the construct and the variable.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sympy
from sympy.core.symbol import Str

from sdhealth.errors import ModelError
from sdhealth.io import syntax as syn
from sdhealth.io.abstract_expressions import (
    TIME_REFERENCES,
    Converter,
    Unsupported,
    lookup_points,
    number,
    reference_key,
    without_module_quotes,
)
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Data,
    DataMode,
    Definition,
    Equation,
    Extrapolation,
    Flow,
    Lookup,
    Model,
    Stock,
    Subscript,
    TimeSpec,
    Variable,
    symbol,
)
from sdhealth.ir.vensim import SOURCE_PREFIX, split_source

__all__ = [
    "TRANSLATION_FAILURES",
    "UnreadableElement",
    "abstract_to_model",
    "describe_failure",
    "failing_element",
    "reference_key",
]

_CONTROL = {"initial time", "final time", "time step", "saveper"}


# --------------------------------------------------------------------------- macros


@dataclass
class _Macros:
    """Vensim macros, inlined: each call becomes internal copies of the macro's variables.

    A call ``M(a, b)`` of ``:MACRO: M(x, y)`` adds the macro's variables once per call, named
    ``"M <n> <variable>"`` with the parameters replaced by the call's arguments, and stands for
    the copy of the variable named like the macro. Every backend and analysis then sees plain
    stocks and auxiliaries; a macro's stocks get their own state per call, as in Vensim.
    """

    sections: Mapping[str, syn.AbstractSection]  # reference key -> macro section
    ranges: _Ranges
    taken: set[str]  # variable keys in use
    made: list[tuple[Variable, sympy.Basic | None]] = field(default_factory=list)
    calls: int = 0

    def inline(self, outer: Converter, name: str, arguments: Sequence[sympy.Expr]) -> sympy.Basic:
        section = self.sections[name]
        if section.returns:
            raise Unsupported(f"macro {section.name!r} with more than one output")
        defaults = getattr(section, "defaults", {})  # XMILE's <parm default="...">
        if len(arguments) < len(section.params):
            arguments = self._defaulted(outer, section, list(arguments), defaults)
        if len(arguments) != len(section.params):
            raise Unsupported(
                f"a call of macro {section.name!r} with {len(arguments)} arguments "
                f"(it takes {len(section.params)})"
            )
        self.calls += 1
        names = {reference_key(e.name): self._fresh(section, e) for e in section.elements}
        keys = {ref: symbol(new).name for ref, new in names.items()}
        lookups = frozenset(keys[reference_key(e.name)] for e in section.elements if _is_lookup(e))
        bindings = {reference_key(p): a for p, a in zip(section.params, arguments, strict=True)}
        inner = Converter(
            keys, lookups, outer.folder, outer.ranges, self, bindings, outer.clock_names
        )
        for element in section.elements:
            renamed = _replace(element, name=names[reference_key(element.name)])
            variable, rate = _element(renamed, inner, self.ranges)
            self.made.append((_internal(variable), rate))
        output = reference_key(section.name)
        if output not in keys:
            raise Unsupported(f"macro {section.name!r} without a variable named like it")
        return sympy.Symbol(keys[output])

    @staticmethod
    def _defaulted(
        outer: Converter,
        section: syn.AbstractSection,
        arguments: list[sympy.Expr],
        defaults: Mapping[str, Any],
    ) -> list[sympy.Expr]:
        """``arguments`` with the missing trailing parameters' defaults, each read with the
        parameters before it bound to the call's values."""
        for param in section.params[len(arguments) :]:
            default = defaults.get(reference_key(param))
            if default is None:
                break
            bound = {reference_key(p): a for p, a in zip(section.params, arguments, strict=False)}
            reader = _replace(outer, bindings={**outer.bindings, **bound})
            arguments.append(reader.number(default))
        return arguments

    def _fresh(self, section: syn.AbstractSection, element: syn.AbstractElement) -> str:
        base = f"{_clean_name(section.name)} {self.calls} {_clean_name(element.name)}"
        name, number = base, 1
        while symbol(name).name in self.taken:
            number += 1
            name = f"{base} {number}"
        self.taken.add(symbol(name).name)
        return name


def _is_lookup(element: syn.AbstractElement) -> bool:
    return bool(element.components) and isinstance(
        element.components[0].ast, (syn.LookupsStructure, syn.GetLookupsStructure)
    )


def unquoted(name: str) -> str:
    """A name without the quotes around it (``"Teacup Temperature"``); a module variable's
    quoted name (Stella's ``a."module/output"``) keeps them, as Stella's exports name it."""
    name = name.strip()
    return name if without_module_quotes(name) != name else name.strip('"')


def _clean_name(name: str) -> str:
    return " ".join(name.strip().strip('"').replace("_", " ").split())


def _internal(variable: Variable) -> Variable:
    """Mark a variable made by compilation/inlining as internal where its kind allows."""
    if isinstance(variable, (Stock, Flow, Auxiliary)):
        return _replace(variable, internal=True)
    return variable


# --------------------------------------------------------------------------- subscripts


@dataclass
class _Ranges:
    """The model's subscript ranges: elements of each range, the range of each element."""

    elements: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def of(self, subscript: str) -> tuple[str, ...]:
        """The elements a left-hand-side subscript stands for (a range or one element)."""
        return self.elements.get(subscript, (subscript,))

    def dimension(self, subscript: str) -> str:
        """The largest range containing ``subscript`` (itself if it is a range)."""
        members = set(self.of(subscript))
        best = subscript if subscript in self.elements else ""
        for name, elements in self.elements.items():
            if members <= set(elements) and len(elements) > len(self.elements.get(best, ())):
                best = name
        return best or subscript


def _mapping_text(mapping: Any) -> str:
    if isinstance(mapping, str):
        return mapping
    if isinstance(mapping, (list, tuple)) and mapping and isinstance(mapping[0], str):
        name, *elements = mapping
        return f"({name}: {', '.join(str(e) for e in elements)})"
    raise Unsupported(f"the subscript mapping {mapping!r}")


def _file_elements(subscript: syn.AbstractSubscriptRange, folder: Path) -> tuple[str, ...]:
    """The elements of a ``GET XLS/DIRECT SUBSCRIPT`` range, read from its file now."""
    from pysd.py_backend.external import ExtSubscript

    where = subscript.subscripts
    try:
        elements = ExtSubscript(
            file_name=where["file"],
            tab=where["tab"],
            firstcell=where["firstcell"],
            lastcell=where["lastcell"],
            prefix=where["prefix"],
            root=folder,
        ).subscript
    except (OSError, ValueError, KeyError, IndexError) as error:
        raise ModelError(
            f"cannot import subscript range {subscript.name!r}: reading its elements from "
            f"{where.get('file')!r} failed: {error}"
        ) from error
    if not elements:
        raise ModelError(f"cannot import subscript range {subscript.name!r}: its file gives none")
    return tuple(str(e) for e in elements)


def _subscripts(
    ranges: Sequence[syn.AbstractSubscriptRange], folder: Path
) -> tuple[tuple[Subscript, ...], _Ranges]:
    """The model's ranges; one read from a file (``GET ... SUBSCRIPT``) keeps its elements."""
    known = _Ranges()
    pending = list(ranges)
    for _ in range(len(pending) + 1):  # equivalences (``A <-> B``) may refer forward
        waiting = []
        for subscript in pending:
            if isinstance(subscript.subscripts, list):
                known.elements[subscript.name] = tuple(subscript.subscripts)
            elif isinstance(subscript.subscripts, str) and subscript.subscripts in known.elements:
                known.elements[subscript.name] = known.elements[subscript.subscripts]
            elif isinstance(subscript.subscripts, str):
                waiting.append(subscript)
            elif isinstance(subscript.subscripts, dict):
                known.elements[subscript.name] = _file_elements(subscript, folder)
            else:
                raise ModelError(
                    f"cannot import subscript range {subscript.name!r}: "
                    f"the definition {subscript.subscripts!r} is not supported"
                )
        pending = waiting
    if pending:
        raise ModelError(f"cannot import subscript range {pending[0].name!r}: unknown range")
    result = []
    for subscript in ranges:
        try:
            mappings = tuple(_mapping_text(m) for m in subscript.mapping)
        except Unsupported as error:
            raise ModelError(f"cannot import subscript range {subscript.name!r}: {error}") from None
        result.append(Subscript(subscript.name, known.elements[subscript.name], (), mappings))
    return tuple(result), known


# --------------------------------------------------------------------------- variables


@dataclass(frozen=True)
class _Piece:
    """One converted component: left-hand side and what it defines."""

    subscripts: tuple[str, ...]
    excepts: tuple[tuple[str, ...], ...]
    value: sympy.Basic | None = None
    rate: sympy.Basic | None = None
    initial: sympy.Basic | None = None
    points: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    extrapolation: Extrapolation = Extrapolation.HOLD
    data: DataMode | None = None  # a data equation (``:=``)
    lookup_file: bool = False  # ``value`` is a GET ... LOOKUPS call giving a lookup's points
    checked: bool = False  # a stock whose outflows the reader limits: never below zero

    @property
    def external(self) -> bool:
        return self.data is not None or self.lookup_file


_DATA_MODES = {
    None: DataMode.PLAIN,
    "interpolate": DataMode.INTERPOLATE,
    "look_forward": DataMode.LOOK_FORWARD,
    "hold_backward": DataMode.HOLD_BACKWARD,
    "raw": DataMode.RAW,
}


def _array_pieces(
    lhs: tuple[str, ...], excepts: tuple[tuple[str, ...], ...], values: np.ndarray, ranges: _Ranges
) -> list[_Piece]:
    """A numeric array constant split into one piece per element."""
    axes = [ranges.of(s) for s in lhs]
    shape = tuple(len(a) for a in axes)
    if values.size != int(np.prod(shape)):
        raise Unsupported(f"an array of {values.size} values for subscripts {list(lhs)}")
    values = values.reshape(shape)
    return (
        [
            _Piece(
                tuple(a[i] for a, i in zip(axes, index, strict=True)),
                (),
                value=number(values[index]),
            )
            for index in itertools.product(*(range(n) for n in shape))
        ]
        if not excepts
        else [_Piece(lhs, excepts, value=number(values.flat[0]))]
    )


#: ``IntegStructure.non_negative`` of a Stella non-negative stock whose outflows the reader has
#: limited (sdhealth's XMILE reader: each outflow takes at most what the stock and its inflows
#: hold, in priority order) and whose inflows are uniflows: the stock is not clamped (it keeps
#: its flows), and sdhealth's check fails a run if it still goes below zero.
OUTFLOWS_LIMITED = "outflows limited"
#: The same for a stock with an inflow that may be negative (a biflow): Stella's documentation
#: leaves open how it is cut, so the stock is also clamped at zero (as PySD does), unchecked.
OUTFLOWS_LIMITED_CLAMPED = "outflows limited, clamped"


def _clamped(rate: sympy.Expr, name: str, lhs: tuple[str, ...]) -> sympy.Expr:
    """A Stella non-negative stock's rate: cut so that one Euler step stops at zero.

    ``MAX(rate, -stock / TIME STEP)`` gives ``max(stock + dt * rate, 0)``, what Stella (and
    PySD's ``NonNegativeInteg``) compute, as a plain equation every backend runs.
    """
    stock: sympy.Expr = symbol(unquoted(name))
    if lhs:
        stock = fn.SUBSCRIPT(stock, *(Str(s) for s in lhs))
    return sympy.Max(rate, -stock / fn.TIME_STEP)


def _pieces(element: syn.AbstractElement, convert: Converter, ranges: _Ranges) -> list[_Piece]:
    pieces: list[_Piece] = []
    for component in element.components:
        lhs = tuple(component.subscripts[0])
        excepts = tuple(tuple(e) for e in component.subscripts[1])
        ast = component.ast
        if isinstance(component, syn.AbstractData):
            if isinstance(ast, syn.DataStructure) or component.keyword not in _DATA_MODES:
                raise Unsupported("a data variable without an equation (data given at run time)")
            mode = _DATA_MODES[component.keyword]
            pieces.append(_Piece(lhs, excepts, value=convert.number(ast), data=mode))
        elif isinstance(ast, syn.GetLookupsStructure):
            pieces.append(_Piece(lhs, excepts, value=convert(ast), lookup_file=True))
        elif isinstance(ast, syn.IntegStructure):
            rate, initial = convert.number(ast.flow), convert.number(ast.initial)
            checked = ast.non_negative == OUTFLOWS_LIMITED
            if ast.non_negative and not checked:
                rate = _clamped(rate, element.name, lhs)
            pieces.append(_Piece(lhs, excepts, rate=rate, initial=initial, checked=checked))
        elif isinstance(ast, syn.LookupsStructure):
            extrapolation = (
                Extrapolation.LINEAR if ast.type == "extrapolate" else Extrapolation.HOLD
            )
            pieces.append(
                _Piece(lhs, excepts, points=lookup_points(ast), extrapolation=extrapolation)
            )
        elif isinstance(ast, np.ndarray):
            pieces.extend(_array_pieces(lhs, excepts, ast, ranges))
        elif isinstance(ast, syn.DataStructure):
            raise Unsupported("a data variable without an equation (data given at run time)")
        else:
            pieces.append(_Piece(lhs, excepts, value=convert.number(ast)))
    return pieces


@dataclass(frozen=True)
class _Common:
    """The fields every kind of variable shares."""

    name: str
    units: str
    doc: str
    source: str
    limits: tuple[float | None, float | None]
    dims: tuple[str, ...]

    def fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "units": self.units,
            "doc": self.doc,
            "source": self.source,
            "limits": self.limits,
            "dims": self.dims,
        }


def _limits(limits: Sequence[Any]) -> tuple[float | None, float | None]:
    """PySD's ``(low, high)`` limits; a missing, NaN or infinite bound is no bound (``None``)."""

    def bound(value: Any) -> float | None:
        return (
            None
            if value is None or (isinstance(value, float) and not np.isfinite(value))
            else float(value)
        )

    low, high = (tuple(limits) + (None, None))[:2]
    return bound(low), bound(high)


def _definition(piece: _Piece) -> Definition:
    equation = piece.rate if piece.rate is not None else piece.value
    return Definition(
        subscripts=piece.subscripts,
        equation=None if equation is None else Equation(equation),
        initial=None if piece.initial is None else Equation(piece.initial),
        points=piece.points,
        excepts=piece.excepts,
        data=piece.data,
    )


def _variable(common: _Common, pieces: list[_Piece], arrayed: bool) -> Variable:
    """The IR variable for the converted pieces of one element (stock rates resolved later)."""
    first = pieces[0]
    fields = common.fields()
    if arrayed:
        fields["definitions"] = tuple(_definition(p) for p in pieces)
    if first.initial is not None:
        if any(p.initial is None for p in pieces):
            raise Unsupported("a stock with some elements not defined by INTEG")
        checked = any(p.checked for p in pieces)
        return Stock(initial=Equation(first.initial), non_negative=checked, **fields)
    if first.points is not None or first.lookup_file:
        if any(p.points is None and not p.lookup_file for p in pieces):
            raise Unsupported("a lookup with some elements not defined by points")
        xs, ys = first.points if first.points is not None else ((), ())
        return Lookup(xs=xs, ys=ys, extrapolation=first.extrapolation, **fields)
    if any(p.data is not None for p in pieces):
        if any(p.value is None for p in pieces):
            raise Unsupported("a mix of data, INTEG and lookup equations")
        return Data(equation=Equation(first.value), **fields)  # type: ignore[arg-type]
    if all(p.value is not None and p.value.is_Number for p in pieces):
        return Constant(value=float(first.value), **fields)  # type: ignore[arg-type]
    if any(p.value is None for p in pieces):
        raise Unsupported("a mix of INTEG, lookup and ordinary equations")
    return Auxiliary(equation=Equation(first.value), **fields)  # type: ignore[arg-type]


def _doc_and_source(documentation: str) -> tuple[str, str]:
    """Split documentation from its ``Source:`` line (PySD joins the lines with spaces)."""
    head, marker, source = documentation.rpartition(" " + SOURCE_PREFIX)
    if marker:
        return head.strip(), source.strip()
    return split_source(documentation)


#: What converting a PySD element (or PySD's own translation) can raise on odd input.
TRANSLATION_FAILURES = (
    ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError, RecursionError,
)  # fmt: skip


class UnreadableElement(ModelError):
    """A variable whose equation PySD or the conversion into the IR could not translate.

    ``variable`` is its name; the readers add the file and the line it is defined on.
    """

    def __init__(self, variable: str, error: BaseException) -> None:
        self.variable = variable
        super().__init__(f"cannot read {variable!r}: {describe_failure(error)}")


def describe_failure(error: BaseException) -> str:
    """One line saying what a PySD or sympy exception says, with what it failed on.

    parsimonious's ``VisitationError`` carries the original error and the parse tree; only
    the first line (the original error) and the text of the failing node are kept.
    """
    lines = str(error).strip().splitlines() or [type(error).__name__]
    text = " ".join(lines[0].split())
    node = next((line for line in lines if "<-- ***" in line), "")
    matched = node.split('matching "', 1)[1].rsplit('"', 1)[0] if 'matching "' in node else ""
    near = f" near {' '.join(matched.split())!r}" if matched else ""
    kind = getattr(error, "original_class", type(error)).__name__
    if not text.startswith(kind):
        text = f"{kind}: {text}"
    hint = "; check the function's arguments" if "argument" in text or "unpack" in text else ""
    return f"the equation cannot be translated{near} ({text}){hint}"


def failing_element(error: BaseException) -> str | None:
    """The name of the PySD element being translated when ``error`` was raised, if any.

    PySD's exceptions do not say which variable they are about; the innermost frame of the
    traceback whose ``self`` is one of PySD's element objects does.
    """
    found: str | None = None
    trace = error.__traceback__
    while trace is not None:
        owner = trace.tb_frame.f_locals.get("self")
        if type(owner).__module__.startswith("pysd.translators"):
            name = getattr(owner, "name", None)
            equation = getattr(owner, "equation", None)
            if isinstance(name, str) and name.strip():
                found = name
            elif isinstance(equation, str) and equation.strip():
                found = re.split(r"[=\[(:]", equation, maxsplit=1)[0].strip() or found
        trace = trace.tb_next
    return None if found is None else unquoted(found)


def _element(
    element: syn.AbstractElement, convert: Converter, ranges: _Ranges
) -> tuple[Variable, sympy.Basic | None]:
    """One element as a variable, plus a scalar stock's net rate (``None`` otherwise)."""
    doc, source = _doc_and_source(element.documentation or "")
    try:
        pieces = _pieces(element, convert, ranges)
        if not pieces:
            raise Unsupported("an element without equations")
        arrayed = any(p.subscripts or p.external for p in pieces) or len(pieces) > 1
        lhs = pieces[0].subscripts
        common = _Common(
            name=unquoted(element.name),
            units=(element.units or "").strip(),
            doc=doc,
            source=source,
            limits=_limits(element.limits),
            dims=tuple(ranges.dimension(s) for s in lhs),
        )
        variable = _variable(common, pieces, arrayed)
    except Unsupported as error:
        raise ModelError(
            f"cannot import {element.name.strip()!r}: {error} is not supported"
        ) from None
    except ModelError:
        raise
    except TRANSLATION_FAILURES as error:  # e.g. STEP(1, 2, 3): sympy refuses the arity
        raise UnreadableElement(unquoted(element.name), error) from None
    rate = pieces[0].rate if isinstance(variable, Stock) and not arrayed else None
    return variable, rate


# --------------------------------------------------------------------------- stocks and flows


def _signed_terms(rate: sympy.Basic) -> list[tuple[int, sympy.Symbol]] | None:
    """``rate`` as ``[(+1, inflow), (-1, outflow), ...]`` if it is a signed sum of symbols."""
    terms = sympy.Add.make_args(rate)
    result: list[tuple[int, sympy.Symbol]] = []
    for term in terms:
        if isinstance(term, sympy.Symbol) and not term.name.startswith("@"):
            result.append((1, term))
        elif (
            isinstance(term, sympy.Mul)
            and len(term.args) == 2
            and term.args[0] == -1
            and isinstance(term.args[1], sympy.Symbol)
            and not term.args[1].name.startswith("@")
        ):
            result.append((-1, term.args[1]))
        else:
            return None
    return result


def _wire_stocks(variables: list[Variable], rates: Mapping[str, sympy.Basic]) -> list[Variable]:
    """Give scalar stocks their inflows/outflows, turning rate variables into flows."""
    by_key = {v.key: v for v in variables}
    flows: set[str] = set()
    wiring: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    extra: list[Variable] = []
    for key, rate in rates.items():
        terms = _signed_terms(rate)
        usable = terms is not None and all(
            isinstance(by_key.get(s.name), (Auxiliary, Flow, Constant))
            and not by_key[s.name].dims
            and not by_key[s.name].definitions
            for _, s in terms
        )
        stock = by_key[key]
        if usable and terms is not None:
            flows.update(s.name for _, s in terms)
            inflows = tuple(by_key[s.name].name for sign, s in terms if sign > 0)
            outflows = tuple(by_key[s.name].name for sign, s in terms if sign < 0)
            wiring[key] = (inflows, outflows)
        else:
            net = Flow(name=f"{stock.name} net flow", equation=Equation(rate), internal=True)
            extra.append(net)
            wiring[key] = ((net.name,), ())
    result: list[Variable] = []
    for variable in variables:
        if variable.key in wiring:
            inflows, outflows = wiring[variable.key]
            variable = _replace(variable, inflows=inflows, outflows=outflows)
        elif variable.key in flows and isinstance(variable, (Auxiliary, Constant)):
            fields = {f: getattr(variable, f) for f in _VARIABLE_FIELDS}
            equation = (
                variable.equation
                if isinstance(variable, Auxiliary)
                else Equation(sympy.Float(variable.value))
            )
            variable = Flow(equation=equation, **fields)
        result.append(variable)
    return result + extra


_VARIABLE_FIELDS = (
    "name",
    "units",
    "doc",
    "source",
    "sector",
    "dims",
    "limits",
    "location",
    "definitions",
)


def _replace(variable: Variable, **changes: Any) -> Variable:
    from dataclasses import replace

    return replace(variable, **changes)


# --------------------------------------------------------------------------- the model


def _clock_value(element: syn.AbstractElement, values: Mapping[str, float]) -> float | None:
    """A clock setting's number, or ``None`` if the model computes it."""
    convert = Converter({}, frozenset(), Path.cwd())
    try:
        expr = convert.number(element.components[0].ast)
    except Unsupported:
        return None
    known = {symbol: values[name] for name, symbol in TIME_REFERENCES.items() if name in values}
    value = expr.subs(known)
    if isinstance(value, sympy.Number) and value.is_finite:
        return float(value)
    return None


def _clock_equation(element: syn.AbstractElement, convert: Converter) -> Equation:
    try:
        return Equation(convert.number(element.components[0].ast))
    except Unsupported as error:
        raise ModelError(
            f"cannot import {element.name.strip()!r}: {error} in a clock setting is not supported"
        ) from error


#: Stand-ins for clock settings the model computes (TimeSpec needs numbers).
_CLOCK_DEFAULTS = {"initial_time": 0.0, "final_time": 100.0, "time_step": 1.0}


def _time_spec(controls: Mapping[str, syn.AbstractElement], convert: Converter) -> TimeSpec:
    values: dict[str, float] = {}
    equations: list[tuple[str, Equation]] = []
    for name in ("initial time", "final time", "time step", "saveper"):
        if name in controls:
            value = _clock_value(controls[name], values)
            if value is None:
                equations.append((name, _clock_equation(controls[name], convert)))
            else:
                values[name.replace(" ", "_")] = value
    units = ""
    for name in ("time step", "final time", "initial time"):
        if name in controls and controls[name].units:
            units = controls[name].units.strip()
            break
    start = values.get("initial_time", _CLOCK_DEFAULTS["initial_time"])
    dt = values.get("time_step", _CLOCK_DEFAULTS["time_step"])
    saveper = values.get("saveper")
    if "saveper" in controls and isinstance(
        controls["saveper"].components[0].ast, syn.ReferenceStructure
    ):
        saveper = None  # SAVEPER = TIME STEP: follows dt
    return TimeSpec(
        start=start,
        stop=values.get("final_time", max(start, _CLOCK_DEFAULTS["final_time"])),
        dt=dt,
        saveper=saveper,
        units=units or "month",
        equations=tuple(equations),
    )


def _main_section(abstract: syn.AbstractModel) -> syn.AbstractSection:
    for section in abstract.sections:
        if section.type == "main":
            return section
    raise ModelError("the model has no main section")


def _macro_sections(abstract: syn.AbstractModel) -> dict[str, syn.AbstractSection]:
    return {
        reference_key(section.name): section
        for section in abstract.sections
        if section.type == "macro"
    }


def abstract_to_model(
    abstract: syn.AbstractModel,
    name: str,
    path: Path | None = None,
    clock_names: Mapping[str, str] | None = None,
) -> Model:
    """Convert PySD's ``AbstractModel`` into an IR :class:`~sdhealth.ir.model.Model`.

    Parameters
    ----------
    abstract
        What ``VensimFile(...).get_abstract_model()`` or ``XmileFile(...)`` returns.
    name
        The model's name (usually the file's stem).
    path
        The model file: external files are found relative to it.
    clock_names
        Other names of the clock's references (``{"dt": "time_step"}``: XMILE's ``DT``, which
        PySD's XMILE translator leaves as a plain name) where no variable has the name.

    Raises
    ------
    ModelError
        For a construct the IR cannot hold, naming it and the variable.
    """
    section = _main_section(abstract)
    folder = (path.parent if path is not None else Path.cwd()).resolve()
    subscripts, ranges = _subscripts(section.subscripts, folder)
    controls = {}
    elements = []
    for element in section.elements:
        clean = reference_key(element.name).replace("_", " ")  # "TIME_STEP" is TIME STEP
        if clean in _CONTROL:
            controls[clean] = element
        else:
            elements.append(element)
    keys = {reference_key(e.name): symbol(unquoted(e.name)).name for e in elements}
    lookups = frozenset(keys[reference_key(e.name)] for e in elements if _is_lookup(e))
    range_keys = {  # a range or element named in an equation (``IF THEN ELSE(dimA = B, ..)``)
        reference_key(item): item
        for r in subscripts
        for item in (*ranges.elements.get(r.name, ()), r.name)
    }
    macros = _Macros(_macro_sections(abstract), ranges, set(keys.values()))
    convert = Converter(keys, lookups, folder, range_keys, macros, clock_names=clock_names or {})
    variables: list[Variable] = []
    rates: dict[str, sympy.Basic] = {}
    for element in elements:
        variable, rate = _element(element, convert, ranges)
        variables.append(variable)
        if rate is not None:
            rates[variable.key] = rate
    for variable, rate in macros.made:
        variables.append(variable)
        if rate is not None:
            rates[variable.key] = rate
    return Model(
        name=name,
        time=_time_spec(controls, convert),
        variables=tuple(_wire_stocks(variables, rates)),
        subscripts=subscripts,
        path=None if path is None else str(path),
    )
