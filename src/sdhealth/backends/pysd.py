"""The PySD backend: the reference integrator, fed with Vensim text printed from the IR.

A run prints the model with :func:`sdhealth.ir.vensim.model_to_vensim` (identifier names),
translates it with PySD once per distinct text, and runs the translated model. A model
without subscripts is printed as the native backend compiles it: the ``expanded`` model of
:func:`sdhealth.compile.compiled.compile_model` (delays and smooths as their stocks and
flows, ``SAMPLE IF TRUE`` a stock), so both backends integrate the same equations; a model
with subscripts goes to PySD as read, to keep PySD's vectorised arrays.

- **Translation cache.** The text's SHA-256 (with PySD's version and this module's cache
  format) names a folder ``<cache>/pysd/<hash>/`` holding ``model.mdl`` and PySD's
  ``model.py``. ``<cache>`` is ``$SDHEALTH_CACHE_DIR``, else ``$XDG_CACHE_HOME/sdhealth``, else
  ``~/.cache/sdhealth``. A folder appears only complete: translation happens in a temporary
  folder that is then renamed. Loaded models are also kept in memory.
- **No leaks between runs.** PySD's ``run(params=...)`` replaces components for good, so a
  run with parameters uses a freshly loaded copy (a few milliseconds); the cached copy only
  ever runs with the model's own values.
- **Start time.** PySD takes a start time through ``initial_condition=(start, {})``; the clock
  is moved to ``start`` first so initial values are computed at ``start``.
- **Quiet.** PySD's warnings and prints are captured into :attr:`RunResult.warnings`.
- **Checks.** Any NaN or infinity, or a ``non_negative`` stock below ``-1e-9``, is a
  :class:`~sdhealth.errors.SimulationError` naming the variable and the first time.
- **Undefined elements.** Elements of a subscripted variable that none of its equations
  defines (``x[A] = ..``, ``x[C] = ..`` over a range ``A, B, C``) have no value (PySD gives
  NaN); they are left out of the result, as Vensim leaves them out of its output.

PySD integrates with Euler only (``methods``; other methods are refused with
:class:`~sdhealth.errors.UnsupportedByBackend`).
Two Vensim rules PySD 3.14's translator misses are spelt out in the IR before printing
(:func:`~sdhealth.backends.pysd_rewrites.for_pysd`): linear extrapolation of lookups (PySD's
Vensim translator holds the end values of every lookup) and ``PULSE`` with a zero width (one
``TIME STEP`` in Vensim, no pulse in PySD).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import os
import re
import shutil
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

with warnings.catch_warnings():  # PySD's own imports raise deprecation warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    import pysd

from sdhealth.backends.base import Backend, RunResult, RunSpec, cache_root, register_backend
from sdhealth.backends.pysd_rewrites import extrapolate_lookups, for_pysd, widen_zero_pulses
from sdhealth.backends.support import pysd_lacks
from sdhealth.compile.compiled import compile_model
from sdhealth.errors import (
    BackendError,
    ModelError,
    SimulationError,
    UnknownNameError,
    UnsupportedByBackend,
    format_location,
)
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Flow,
    Lookup,
    Model,
    Stock,
    TimeSpec,
    Variable,
)
from sdhealth.ir.names import NameTable, canonical
from sdhealth.ir.vensim import model_to_vensim

__all__ = [
    "PySDBackend",
    "cache_root",
    "for_pysd",
    "extrapolate_lookups",
    "widen_zero_pulses",
    "NEGATIVE_TOLERANCE",
]

#: Bump when the printed text of an unchanged model may translate differently.
_CACHE_FORMAT = "sdhealth-pysd-1"

#: How far below zero a ``non_negative`` stock may go (rounding) before a run fails.
NEGATIVE_TOLERANCE = 1e-9

_MEMORY_CACHE_SIZE = 32

#: Warnings about library internals (pandas deprecations inside PySD): not the user's concern.
_LIBRARY_NOISE = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


# --------------------------------------------------------------------------- checks of input


def _lookup_key(model: Model, name: str, role: str) -> str:
    if name not in model:
        raise UnknownNameError.of(name, model.names, role=role)
    return canonical(name)


def _parameter_values(model: Model, params: Mapping[str, float]) -> dict[str, float]:
    """``params`` by key, each naming a constant of ``model``."""
    values: dict[str, float] = {}
    for name, value in params.items():
        key = _lookup_key(model, name, "parameter")
        if not isinstance(model[key], Constant):
            kind = type(model[key]).__name__.lower()
            raise ModelError(f"parameter {model[key].name!r} is a {kind}, not a constant")
        values[key] = float(value)
    return values


def _output_keys(model: Model, requested: Sequence[str] | None) -> tuple[str, ...]:
    if requested is None:
        return tuple(
            v.key
            for v in model.variables
            if isinstance(v, (Stock, Flow, Auxiliary, Constant)) and not v.internal
        )
    keys = tuple(_lookup_key(model, name, "column") for name in requested)
    for key in keys:
        if isinstance(model[key], Lookup):
            raise ModelError(f"{model[key].name!r} is a lookup: it has no values over time")
    return keys


def _reject_undefined_ranges(model: Model) -> None:
    ranges = {canonical(s.name) for s in model.subscripts}
    for variable in model.variables:
        for dim in variable.dims:
            if canonical(dim) not in ranges:
                raise BackendError(
                    f"subscripted variables need their subscript ranges: {variable.name!r} "
                    f"uses {dim!r}, which the model does not define"
                )


def _reject_arrayed_params(model: Model, params: Mapping[str, float]) -> None:
    for key in params:
        if model[key].dims or model[key].definitions:
            raise BackendError(
                f"the pysd backend cannot set subscripted parameter {model[key].name!r} "
                "to one number"
            )


def _computes_clock(translation: _Translation) -> bool:
    return translation.clock is not None and bool(translation.clock.equations)


def _clock_arguments(translation: _Translation, spec: RunSpec) -> dict[str, Any]:
    """PySD ``run()``'s clock arguments for ``spec``.

    A clock setting the model computes (``FINAL TIME = IF THEN ELSE(..)``) is left to the
    model's equation unless the run asks for another value than the model's stand-in.
    """
    clock = translation.clock or TimeSpec(spec.start, spec.stop, spec.dt, spec.saveper)
    settings = (
        ("final time", "final_time", spec.stop, clock.stop),
        ("time step", "time_step", spec.dt, clock.dt),
        ("saveper", "saveper", spec.save_every, clock.save_every),
    )
    arguments: dict[str, Any] = {
        argument: given
        for setting, argument, given, own in settings
        if clock.equation(setting) is None or given != own
    }
    start_given = clock.equation("initial time") is None or spec.start != clock.start
    arguments["initial_condition"] = (spec.start, {}) if start_given else "original"
    return arguments


def _start_clock(engine: Any, arguments: Mapping[str, Any]) -> None:
    """Move PySD's clock to the run's start time (unless the model computes it)."""
    if arguments["initial_condition"] != "original":
        engine.time.set_control_vars(initial_time=arguments["initial_condition"][0])


def _column_names(model: Model, key: str, ident: str, columns: Sequence[str]) -> list[str]:
    """PySD's columns of variable ``key`` (``ident`` or ``ident[a,b]``) in its output.

    Elements no equation of the variable defines are left out (see :func:`_defined_cells`).

    Raises
    ------
    BackendError
        PySD computed the variable over other subscripts than its definitions (none of its
        cells is one the model defines): an equation that reads a dimension its variable
        does not have and no mapping relates, which PySD broadcasts instead of refusing.
    """
    found = [c for c in columns if c == ident or c.startswith(ident + "[")]
    defined = _defined_cells(model, model[key])
    if defined is None:
        return found
    kept = [c for c in found if c == ident or _cell(c[len(ident) :]) in defined]
    if found and not kept:
        variable = model[key]
        raise BackendError(
            f"{variable.name!r} is defined over {', '.join(variable.dims) or 'no dimension'} "
            f"but its equation gives values over other subscripts ({found[0][len(ident) :]}, "
            f"...): it reads a dimension it does not have, and no mapping relates them"
        )
    return kept


def _cell(brackets: str) -> tuple[str, ...]:
    """``"[a, B]"`` as the canonical element tuple ``("a", "b")``."""
    return tuple(canonical(e) for e in brackets.strip()[1:-1].split(","))


def _defined_cells(model: Model, variable: Variable) -> set[tuple[str, ...]] | None:
    """The element tuples (canonical) the variable's equations define; ``None`` if all are."""
    if not variable.definitions:
        return None
    ranges = {canonical(s.name): s.elements for s in model.subscripts}

    def elements(subscript: str, seen: frozenset[str] = frozenset()) -> list[str]:
        key = canonical(subscript)
        if key not in ranges or key in seen:  # an element (ranges may list subranges)
            return [key]
        return [e for item in ranges[key] for e in elements(item, seen | {key})]

    def cells(subscripts: Sequence[str]) -> set[tuple[str, ...]]:
        return set(itertools.product(*(elements(s) for s in subscripts)))

    defined: set[tuple[str, ...]] = set()
    for definition in variable.definitions:
        covered = cells(definition.subscripts)
        for excepted in definition.excepts:
            covered -= cells(excepted)
        defined |= covered
    return defined


def _flatten(frame: pd.DataFrame) -> pd.DataFrame:
    """PySD's unflattened output (a DataArray per cell) as one float column per element.

    Columns are named as PySD's own flattening names them (``name[a,b]``, the first dimension
    varying slowest), but built with numpy: PySD splits every DataArray of every time step
    through xarray, which took most of a subscripted model's run time.
    """
    columns: dict[str, np.ndarray] = {}
    for column in frame.columns:
        cells = list(frame[column])
        # the first array among the cells (PySD may give a DELAY FIXED's scalar initial value
        # at the start and arrays after): scalars are broadcast to its shape
        first = next((c for c in cells if isinstance(c, xr.DataArray)), None)
        if first is None:
            columns[column] = np.asarray(cells, dtype=float)
            continue
        try:
            stacked = np.stack(
                [np.broadcast_to(np.asarray(c, dtype=float), first.shape) for c in cells]
            )
        except (ValueError, TypeError):  # e.g. an arrayed DELAY FIXED with a scalar start
            raise BackendError(
                f"PySD computed {column!r} as values it cannot give as numbers (arrays inside "
                "arrays: PySD's DELAY FIXED of an array from one initial value); use "
                "backend='native'"
            ) from None
        labels = itertools.product(*(first.coords[d].values for d in first.dims))
        flat = stacked.reshape(len(cells), -1)
        for index, label in enumerate(labels):
            columns[f"{column}[{','.join(str(part) for part in label)}]"] = flat[:, index]
    return pd.DataFrame(columns, index=frame.index)


# --------------------------------------------------------------------------- PySD plumbing


@contextlib.contextmanager
def _captured() -> Iterator[list[str]]:
    """Collect PySD's warnings and prints instead of letting them reach the terminal."""
    notes: list[str] = []
    printed = io.StringIO()
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(printed),
        contextlib.redirect_stderr(printed),
    ):
        warnings.simplefilter("default")
        try:
            yield notes
        finally:
            lines = [
                " ".join(str(w.message).split())
                for w in caught
                if not issubclass(w.category, _LIBRARY_NOISE)
            ]
            lines += [line.strip() for line in printed.getvalue().splitlines() if line.strip()]
            notes.extend(dict.fromkeys(lines))


@dataclass(frozen=True)
class _Translation:
    """A translated model: where PySD's module lives, the names it uses and the model's clock."""

    py_path: Path
    names: NameTable
    clock: TimeSpec | None = None

    def identifier(self, key: str) -> str:
        return self.names.identifier(key)

    def display(self, identifier: str) -> str | None:
        try:
            return self.names.display(identifier)
        except KeyError:
            return None


def _failing_function(error: BaseException, py_path: Path) -> str | None:
    """The innermost function of the translated module in ``error``'s traceback."""
    name = None
    trace = error.__traceback__
    while trace is not None:
        if Path(trace.tb_frame.f_code.co_filename) == py_path:
            name = trace.tb_frame.f_code.co_name
        trace = trace.tb_next
    return name


def _run_error(error: BaseException, translation: _Translation, time: float) -> SimulationError:
    """A failure inside PySD (``x/0`` raises in Python) named by variable and time."""
    external = _EXTERNAL_OBJECT.match(str(error))
    if external is not None:  # PySD's External objects put their own name on a first line
        name = translation.display(external.group(1))
        detail = " ".join(external.group(2).split())
        if name:
            return SimulationError(f"{name!r}: cannot read its external data: {detail}", name)
    function = _failing_function(error, translation.py_path)
    name = translation.display(function) if function else None
    where = f"{name!r} could not be computed" if name else "the run failed"
    return SimulationError(f"{where} at time {time:g}: {error}", name, time)


#: The message of a failing PySD ``External`` object: its name (``_ext_constant_d``), a new
#: line, what went wrong.
_EXTERNAL_OBJECT = re.compile(r"_ext_(?:constant|data|lookup)_(\w+)\s*\n(.*)", re.DOTALL)


def _pysd_frames(error: BaseException) -> Iterator[Any]:
    """The ``self`` of every PySD frame in ``error``'s traceback, outermost first."""
    trace = error.__traceback__
    while trace is not None:
        owner = trace.tb_frame.f_locals.get("self")
        if owner is not None and type(owner).__module__.startswith("pysd."):
            yield owner
        trace = trace.tb_next


def _failed_element(error: BaseException) -> str | None:
    """The identifier of the innermost model element PySD was translating, if any."""
    name = None
    for owner in _pysd_frames(error):
        if type(owner).__name__ in ("ElementBuilder", "Element") and isinstance(
            getattr(owner, "name", None), str
        ):
            name = owner.name
    return name


def _failure_reason(error: BaseException) -> str:
    """Why PySD's translation failed, in plain words."""
    functions = [getattr(o, "function", None) for o in _pysd_frames(error)]
    function = next((f for f in reversed(functions) if isinstance(f, str)), None)
    if function is not None and isinstance(error, (KeyError, IndexError)):
        return f"{function.upper().replace('_', ' ')} is given fewer arguments than PySD needs"
    return str(error).strip() or type(error).__name__


def _translation_error(error: BaseException, model: Model | None) -> BackendError:
    """``error`` from PySD's translator as one line naming the variable and where it is."""
    reason = _failure_reason(error)
    ident = _failed_element(error)
    if ident is None or model is None:
        return BackendError(f"PySD could not translate the model: {reason}")
    try:
        variable = model[NameTable.build(model.names).display(ident)]
    except KeyError:
        return BackendError(f"PySD could not translate {ident!r}: {reason}")
    where = variable.location
    prefix = (
        f"{format_location(where.path or model.path, where.line, where.column)}: "
        if where is not None
        else (f"{model.path}: " if model.path else "")
    )
    return BackendError(
        f"{prefix}PySD could not translate the equation of {variable.name!r}: {reason}"
    )


def _translate(text: str, folder: Path, model: Model | None = None) -> None:
    """Translate ``text`` into ``folder`` (``model.mdl`` + ``model.py``), all or nothing.

    A failure is a :class:`BackendError` naming the variable of ``model`` whose equation
    PySD could not translate, and why.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        mdl = scratch / "model.mdl"
        mdl.write_text(text, encoding="utf-8")
        try:
            pysd.read_vensim(str(mdl), initialize=False)
        except Exception as error:  # PySD raises many kinds; all mean "cannot translate"
            raise _translation_error(error, model) from error
        try:
            os.rename(scratch, folder)
        except OSError:  # another process finished the same translation first
            if not (folder / "model.py").exists():
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)


def _load(py_path: Path) -> Any:
    try:
        return pysd.load(str(py_path), initialize=False)
    except Exception as error:
        raise BackendError(f"PySD could not load the translated model: {error}") from error


# --------------------------------------------------------------------------- results


def _first_bad_row(bad: np.ndarray) -> int | None:
    rows = np.flatnonzero(bad.any(axis=1))
    return int(rows[0]) if rows.size else None


def _root_of(model: Model, bad_keys: Sequence[str]) -> str:
    """Of the variables that went bad together, the first whose own inputs are fine."""
    bad = set(bad_keys)
    for key in bad_keys:
        variable = model[key]
        inputs = {k for eq in variable.equations() for k in eq.free_keys}
        if isinstance(variable, Stock) or not inputs & bad:
            return key
    return bad_keys[0]


def _non_finite(
    model: Model, times: np.ndarray, values: np.ndarray, keys: Sequence[str]
) -> tuple[str, float, float] | None:
    """``(key, time, value)`` of the first NaN or infinity, or ``None``."""
    bad = ~np.isfinite(values)
    row = _first_bad_row(bad)
    if row is None:
        return None
    bad_keys = [keys[int(j)] for j in np.flatnonzero(bad[row])]
    key = _root_of(model, bad_keys)
    return key, float(times[row]), float(values[row, keys.index(key)])


def _negative_stock(
    model: Model, times: np.ndarray, values: np.ndarray, keys: Sequence[str]
) -> tuple[str, float, float] | None:
    """``(key, time, value)`` of the first ``non_negative`` stock below zero, or ``None``."""
    columns = [
        j for j, k in enumerate(keys) if isinstance(stock := model[k], Stock) and stock.non_negative
    ]
    if not columns:
        return None
    with np.errstate(invalid="ignore"):
        bad = values[:, columns] < -NEGATIVE_TOLERANCE
    row = _first_bad_row(bad)
    if row is None:
        return None
    j = columns[int(np.flatnonzero(bad[row])[0])]
    return keys[j], float(times[row]), float(values[row, j])


def _number_error(model: Model, key: str, time: float, value: float) -> SimulationError:
    name = model[key].name
    what = "not a number (NaN)" if np.isnan(value) else f"infinite ({value})"
    return SimulationError(f"{name!r} became {what} at time {time:g}", name, time)


def _negative_error(model: Model, key: str, time: float, value: float) -> SimulationError:
    name = model[key].name
    return SimulationError(
        f"stock {name!r} went negative ({value:.6g}) at time {time:g}", name, time
    )


# --------------------------------------------------------------------------- the backend


@register_backend("pysd")
class PySDBackend(Backend):
    """Runs IR models through PySD (Euler, Vensim semantics); the reference backend.

    Parameters
    ----------
    cache_dir
        Where translations are kept (default: ``cache_root() / "pysd"``, read at each run so
        ``SDHEALTH_CACHE_DIR`` may change between runs).
    """

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self._cache_dir = None if cache_dir is None else Path(cache_dir)
        self._loaded: OrderedDict[Path, Any] = OrderedDict()
        self._translated: OrderedDict[tuple[Path, Model], _Translation] = OrderedDict()

    @property
    def cache_dir(self) -> Path:
        return self._cache_dir if self._cache_dir is not None else cache_root() / "pysd"

    def translate(self, model: Model) -> _Translation:
        """Print and translate ``model`` unless an identical text was translated before."""
        memo = (self.cache_dir, model)
        known = self._translated.get(memo)
        if known is not None and known.py_path.exists():
            return known
        translation = self._translate(model)
        self._translated[memo] = translation
        if len(self._translated) > _MEMORY_CACHE_SIZE:
            self._translated.popitem(last=False)
        return translation

    def _translate(self, model: Model) -> _Translation:
        lacking = pysd_lacks(model)
        if lacking is not None:  # PySD would translate it into a NotImplementedError
            raise UnsupportedByBackend(f"the PySD backend has no function for {lacking}")
        printable = for_pysd(model)
        text = model_to_vensim(printable, names="identifier")
        digest = hashlib.sha256(f"{_CACHE_FORMAT}\n{pysd.__version__}\n{text}".encode()).hexdigest()
        folder = self.cache_dir / digest
        py_path = folder / "model.py"
        if not py_path.exists():
            if folder.exists():  # damaged by hand: start again
                shutil.rmtree(folder, ignore_errors=True)
            _translate(text, folder, model)
        return _Translation(py_path, NameTable.build(model.names), model.time)

    def _cached_model(self, py_path: Path) -> Any:
        if py_path in self._loaded:
            self._loaded.move_to_end(py_path)
            return self._loaded[py_path]
        loaded = _load(py_path)
        self._loaded[py_path] = loaded
        if len(self._loaded) > _MEMORY_CACHE_SIZE:
            self._loaded.popitem(last=False)
        return loaded

    def run(self, model: Model, spec: RunSpec, params: Mapping[str, float]) -> RunResult:
        """Run ``model`` through PySD; see the module docstring for the rules."""
        self.check_spec(spec)
        values_by_key = _parameter_values(model, params)
        if model.is_arrayed:
            _reject_undefined_ranges(model)
            _reject_arrayed_params(model, values_by_key)
            return self._run_arrayed(model, spec, values_by_key)
        model = compile_model(model).expanded  # the model the native backend compiles
        keys = _output_keys(model, spec.return_columns)
        watched = tuple(dict.fromkeys(keys + tuple(s.key for s in model.stocks)))
        with _captured() as notes:
            translation = self.translate(model)
            times, values = self._simulate(translation, spec, values_by_key, watched)
        self._check(model, translation, spec, values_by_key, times, values, watched)
        chosen = [watched.index(k) for k in keys]
        return RunResult(
            times=times,
            values=values[:, chosen],
            columns=tuple(model[k].name for k in keys),
            warnings=tuple(notes),
        )

    def _run_arrayed(
        self, model: Model, spec: RunSpec, values_by_key: Mapping[str, float]
    ) -> RunResult:
        """Run a subscripted model: one column per element, named ``name[a,b]``."""
        keys = _output_keys(model, spec.return_columns)
        with _captured() as notes:
            translation = self.translate(model)
            engine = self._engine(translation, values_by_key)
            frame = self._frame(engine, translation, spec, values_by_key, keys)
        names: list[str] = []
        columns: list[str] = []
        for key in keys:
            ident = translation.identifier(key)
            for column in _column_names(model, key, ident, list(frame.columns)):
                columns.append(column)
                names.append(model[key].name + column[len(ident) :])
        times = frame.index.to_numpy(dtype=float)
        values = frame[columns].to_numpy(dtype=float) if columns else np.empty((len(times), 0))
        bad = ~np.isfinite(values)
        row = _first_bad_row(bad)
        if row is not None:
            name = names[int(np.flatnonzero(bad[row])[0])]
            time = float(times[row])
            raise SimulationError(f"{name!r} became not finite at time {time:g}", name, time)
        return RunResult(times=times, values=values, columns=tuple(names), warnings=tuple(notes))

    def _engine(self, translation: _Translation, values_by_key: Mapping[str, float]) -> Any:
        if values_by_key or _computes_clock(translation):
            return _load(translation.py_path)  # a private copy: params and clock stay in this run
        return self._cached_model(translation.py_path)

    def _frame(
        self,
        engine: Any,
        translation: _Translation,
        spec: RunSpec,
        values_by_key: Mapping[str, float],
        keys: Sequence[str],
    ) -> Any:
        """PySD's output frame for ``keys`` (raises a SimulationError on a failed run)."""
        idents = [translation.identifier(k) for k in keys]
        params = {translation.identifier(k): v for k, v in values_by_key.items()}
        clock = _clock_arguments(translation, spec)
        _start_clock(engine, clock)
        try:
            frame = engine.run(
                params=params or None,
                return_columns=idents,
                progress=False,
                flatten_output=False,
                **clock,
            )
        except (ArithmeticError, ValueError, TypeError, KeyError, IndexError) as error:
            raise _run_error(error, translation, engine.time()) from error
        except RecursionError:
            # PySD computes a variable as a whole: x[b] = x[a] + 1 calls x() from x().
            raise BackendError(
                "PySD cannot run this model: a variable reads its own elements (e.g. "
                "x[b] = x[a] + 1), which PySD evaluates recursively; use backend='native'"
            ) from None
        return _flatten(frame)

    def _simulate(
        self,
        translation: _Translation,
        spec: RunSpec,
        values_by_key: Mapping[str, float],
        keys: Sequence[str],
    ) -> tuple[np.ndarray, np.ndarray]:
        """One run of a scalar model: ``(times, values)`` with a column per key."""
        engine = self._engine(translation, values_by_key)
        frame = self._frame(engine, translation, spec, values_by_key, keys)
        idents = [translation.identifier(k) for k in keys]
        times = frame.index.to_numpy(dtype=float)
        values = frame[idents].to_numpy(dtype=float) if idents else np.empty((len(times), 0))
        return times, values

    def _check(
        self,
        model: Model,
        translation: _Translation,
        spec: RunSpec,
        values_by_key: Mapping[str, float],
        times: np.ndarray,
        values: np.ndarray,
        keys: Sequence[str],
    ) -> None:
        """Raise for NaN/infinity or a negative ``non_negative`` stock, whichever is first.

        At the same time the negative stock wins: it is usually why a square root or a
        logarithm became NaN.
        """
        number = _non_finite(model, times, values, keys)
        negative = _negative_stock(model, times, values, keys)
        if negative is not None and (number is None or negative[1] <= number[1]):
            raise _negative_error(model, *negative)
        if number is None:
            return
        everything = tuple(
            v.key for v in model.variables if isinstance(v, (Stock, Flow, Auxiliary, Constant))
        )
        if set(everything) - set(keys):  # look at every variable to name where it began
            with _captured():
                times, values = self._simulate(translation, spec, values_by_key, everything)
            number = _non_finite(model, times, values, everything) or number
        raise _number_error(model, *number)
