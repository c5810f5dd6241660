"""External data for the native backend: ``GET DIRECT CONSTANTS/LOOKUPS/DATA`` read at compile time.

The IR keeps external data as the Vensim call (``VENSIM_CALL("GET DIRECT DATA", path, tab,
...)``, see :class:`~sdhealth.ir.model.Definition`). :func:`read_external` reads the files once,
with PySD's own readers (``pysd.py_backend.external``, so both backends see the same numbers,
missing values filled the same way) and returns a model in which every such definition is
replaced by one definition per element holding plain values:

- ``GET DIRECT CONSTANTS``: the number;
- ``GET DIRECT LOOKUPS``: the lookup's points;
- ``GET DIRECT DATA``: an equation of ``TIME`` giving PySD's ``Data`` values: ``WITH LOOKUP``
  (linear between the points, the end values held outside) for interpolated data, a chain of
  ``IF THEN ELSE`` for ``:HOLD BACKWARD:``, ``:LOOK FORWARD:`` and ``:RAW:`` (NaN between the
  data times, where the native backend stops the run naming the variable).

A file that cannot be read raises :class:`~sdhealth.errors.UnsupportedByBackend` naming the
variable.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import sympy

from sdhealth.compile.flatten import Ranges
from sdhealth.errors import UnsupportedByBackend
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Constant, Data, Definition, Equation, Lookup, Model, Variable

__all__ = ["read_external", "reads_external_files", "EXTERNAL_CALLS"]

#: The calls this module reads.
EXTERNAL_CALLS = ("GET DIRECT CONSTANTS", "GET DIRECT LOOKUPS", "GET DIRECT DATA")


def _call_of(equation: Equation | None) -> fn.VENSIM_CALL | None:
    expr = None if equation is None else equation.expr
    if isinstance(expr, fn.VENSIM_CALL) and expr.args[0].name in EXTERNAL_CALLS:
        return expr
    return None


def _reads_files(variable: Variable) -> bool:
    equations = [d.equation for d in variable.definitions]
    equations.append(getattr(variable, "equation", None))
    return any(_call_of(e) is not None for e in equations)


def reads_external_files(model: Model) -> bool:
    """Whether any of the model's values come from files (``GET DIRECT ...`` or data)."""
    return any(_reads_files(v) or isinstance(v, Data) for v in model.variables)


def _read(call: fn.VENSIM_CALL, coords: dict[str, list[str]], mode: str, name: str) -> Any:
    """PySD's data array for ``call`` over ``coords`` (dims: ``time``/``lookup_dim`` first)."""
    from pysd.py_backend import external

    kind, path, *parts = (a.name for a in call.args)
    root = Path(path).parent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "GET DIRECT CONSTANTS":
            tab, cell = parts
            reader: Any = external.ExtConstant(path, tab, cell, coords, root, coords, name)
        elif kind == "GET DIRECT LOOKUPS":
            tab, x_row_or_col, cell = parts
            reader = external.ExtLookup(path, tab, x_row_or_col, cell, coords, root, coords, name)
        else:
            tab, time_row_or_col, cell = parts
            reader = external.ExtData(
                path, tab, time_row_or_col, cell, mode, coords, root, coords, name
            )
        reader.initialize()
    return reader.data


def _series_equation(xs: np.ndarray, ys: np.ndarray, mode: str) -> sympy.Expr:
    """PySD's ``Data`` at ``TIME`` as an equation (see the module docstring)."""
    points = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
    if mode == "interpolate":
        return fn.WITH_LOOKUP(
            fn.TIME, sympy.Tuple(*(x for x, _ in points)), sympy.Tuple(*(y for _, y in points))
        )
    if mode == "hold_backward":  # the last point at or before TIME (the first before them all)
        pieces = [(sympy.Float(y), fn.TIME >= x) for x, y in reversed(points[1:])]
        return sympy.Piecewise(*pieces, (sympy.Float(points[0][1]), True))
    if mode == "look_forward":  # the first point at or after TIME (the last after them all)
        pieces = [(sympy.Float(y), fn.TIME <= x) for x, y in points[:-1]]
        return sympy.Piecewise(*pieces, (sympy.Float(points[-1][1]), True))
    if mode == "raw":  # the value at a data time exactly, NaN between them
        pieces = [(sympy.Float(y), sympy.Eq(fn.TIME, x)) for x, y in points]
        return sympy.Piecewise(*pieces, (sympy.nan, True))
    raise ValueError(f"{mode} data")


def _cells(
    ranges: Ranges, subscripts: Sequence[str]
) -> list[tuple[tuple[int, ...], tuple[str, ...]]]:
    axes = [ranges.elements(s) for s in subscripts]
    return [
        (index, tuple(axis[i] for axis, i in zip(axes, index, strict=True)))
        for index in itertools.product(*(range(len(a)) for a in axes))
    ]


def _split(variable: Variable, definition: Definition, ranges: Ranges) -> list[Definition]:
    """One definition per element for a definition that reads a file."""
    call = _call_of(definition.equation)
    assert call is not None
    if definition.excepts:
        raise ValueError("external data with :EXCEPT:")
    coords = {
        f"dimension {i}": list(ranges.elements(s)) for i, s in enumerate(definition.subscripts)
    }
    mode = (definition.data.value if definition.data else "interpolate").replace(" ", "_")
    data = _read(call, coords, mode, variable.name)
    values: Any = np.asarray(data, dtype=float)
    result = []
    for index, cell in _cells(ranges, definition.subscripts):
        if call.args[0].name == "GET DIRECT CONSTANTS":
            value = values[index] if values.ndim else float(values)
            if not np.isfinite(value):
                continue
            result.append(Definition(cell, Equation(sympy.Float(float(value)))))
            continue
        axis = "lookup_dim" if call.args[0].name == "GET DIRECT LOOKUPS" else "time"
        xs = np.asarray(data.coords[axis].values, dtype=float)
        ys = values[(slice(None), *index)]
        keep = np.isfinite(ys) & np.isfinite(xs)
        if not keep.any():
            continue
        if axis == "lookup_dim":
            points = (tuple(map(float, xs[keep])), tuple(map(float, ys[keep])))
            result.append(Definition(cell, points=points))
        else:
            expr = _series_equation(xs[keep], ys[keep], mode)
            result.append(Definition(cell, Equation(expr), data=definition.data))
    return result


def _with_values(variable: Variable, ranges: Ranges) -> Variable:
    if not variable.definitions:  # a scalar ``x = GET DIRECT CONSTANTS(...)``
        definition = Definition((), variable.equation)  # type: ignore[attr-defined]
        (value,) = _split(variable, definition, ranges)
        assert value.equation is not None
        fields = {f: getattr(variable, f) for f in ("name", "units", "doc", "source", "sector")}
        return Constant(value=float(value.equation.expr), limits=variable.limits, **fields)
    definitions: list[Definition] = []
    for definition in variable.definitions:
        if _call_of(definition.equation) is None:
            definitions.append(definition)
        else:
            definitions.extend(_split(variable, definition, ranges))
    if isinstance(variable, Lookup) and any(d.points is None for d in definitions):
        raise ValueError("a lookup with elements not given by points")
    return replace(variable, definitions=tuple(definitions))


def read_external(model: Model) -> Model:
    """A copy of ``model`` with its external data read into plain values (module docstring).

    Raises
    ------
    UnsupportedByBackend
        If a file cannot be read or holds what the native backend cannot run, naming the
        variable.
    """
    readers = [v for v in model.variables if _reads_files(v)]
    if not readers:
        return model
    ranges = Ranges.of(model)
    changed: dict[str, Variable] = {}
    for variable in readers:
        try:
            changed[variable.key] = _with_values(variable, ranges)
        except (ValueError, KeyError, IndexError, OSError, TypeError) as error:
            raise UnsupportedByBackend(
                f"the native backend cannot read the external data of {variable.name!r}: "
                f"{str(error).splitlines()[-1] if str(error) else type(error).__name__}"
            ) from error
    variables = tuple(changed.get(v.key, v) for v in model.variables)
    return replace(model, variables=variables)
