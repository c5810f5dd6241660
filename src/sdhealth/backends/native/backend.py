"""The ``"native"`` backend: compiled models, one kernel call per batch of runs.

:class:`NativeBackend` compiles a model once (:func:`~.compiler.compile_program`, cached in
memory and on disk) and runs it with the fixed kernel (:mod:`.kernel`). :meth:`run` is one run;
:meth:`run_batch` runs many parameter sets as the run dimension of one kernel call, spread over
the machine's cores with ``prange``. Subscripted variables run as one scalar per element and
come back as columns ``name[a,b]``, named and ordered as the PySD backend names them; asking
for a subscripted variable's name returns all its elements, and an element is set as a
parameter by its column name (``params={"x[a]": 1.0}``).

The clock follows PySD exactly, so results line up row for row: time advances by repeated
addition of ``dt`` from ``start`` while ``t + dt*1e-5 < stop``; a time is saved when
``(t - start) mod saveper`` (or its negative) is below ``dt*1e-5``; saved times are reported
rounded to ``-int(log10(dt*1e-5))`` decimals. A NaN or infinity anywhere, or a ``non_negative``
stock below ``-1e-9``, stops the run with a :class:`~sdhealth.errors.SimulationError` naming the
variable, the time and the ``file:line`` of its equation (checked at every time step, not only
at saved ones). Before anything is allocated, a batch whose results would pass the run-size
limits is refused (:mod:`sdhealth.compile.run_size`).

Clock settings given by equations (Vensim's ``FINAL TIME = IF THEN ELSE(..)``, which may read
the time, the state and parameters) follow PySD's loop: the model is run once to trace its
clock (``trace_clock`` in :mod:`.kernel`), then on that grid; saving follows :func:`saving_rows`. A
setting the run gives another number than the model's stand-in follows the number, as on the
PySD backend. The runs of one batch share the clock traced with the first run's parameters;
a run whose equations give another clock stops the batch with a ``BackendError``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import numpy as np

from sdhealth.backends.base import (
    Backend,
    BatchResult,
    Method,
    RunResult,
    RunSpec,
    parameter_matrix,
    register_backend,
)
from sdhealth.compile.compiled import compile_model
from sdhealth.compile.limits import located
from sdhealth.compile.run_size import DEFAULT_MAX_STEPS, RunLimits, ensure_run_fits, measure_run
from sdhealth.compile.time_grid import saving_rows, time_grid
from sdhealth.errors import BackendError, ModelError, SimulationError, UnknownNameError
from sdhealth.ir.model import Constant, Lookup, Model
from sdhealth.ir.names import canonical
from sdhealth.tuning import collection_paused

from . import interpreter, kernel
from .compiler import NativeProgram, compile_program
from .layout import Layout

__all__ = ["NativeBackend", "time_grid", "saving_rows", "NEGATIVE_TOLERANCE", "MAX_STEPS"]

#: How far below zero a ``non_negative`` stock may go (rounding) before a run fails.
NEGATIVE_TOLERANCE = 1e-9

_MEMORY_CACHE_SIZE = 32
#: The default of the most time steps a run may take, also one whose clock settings are
#: equations (``SDHEALTH_MAX_STEPS`` changes it; :mod:`sdhealth.compile.run_size`).
MAX_STEPS = DEFAULT_MAX_STEPS
_T = TypeVar("_T")
#: ``(times, save_rows, saved_times, clocks)`` of a traced clock.
_Grid = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _engine(runs: int, steps: int, method: str):  # type: ignore[no-untyped-def]
    """The kernel module, or its interpreted twin, for ``runs`` runs of ``steps`` steps
    (:func:`.interpreter.use_interpreter`)."""
    stages = {"euler": 1, "rk2": 2, "rk4": 4}.get(method, 4)
    if interpreter.use_interpreter(runs, steps, stages):
        return interpreter
    from . import jit  # numba: imported only when a run needs it

    return jit


def _run_clock(model: Model, spec: RunSpec) -> Model:
    """``model`` without the clock equations of settings ``spec`` gives other numbers for.

    As the PySD backend does: a setting computed by an equation follows it unless the run
    asks for another value than the model's stand-in.
    """
    clock = model.time
    if not clock.equations:
        return model
    given = {
        "initial time": (spec.start, clock.start),
        "final time": (spec.stop, clock.stop),
        "time step": (spec.dt, clock.dt),
        "saveper": (spec.save_every, clock.save_every),
    }
    kept = tuple((s, eq) for s, eq in clock.equations if given[s][0] == given[s][1])
    if kept == clock.equations:
        return model
    return replace(model, time=replace(clock, equations=kept))


def _clock_differs(status: np.ndarray, times: np.ndarray, run: int) -> BackendError:
    setting = ("TIME STEP", "INITIAL TIME", "FINAL TIME", "SAVEPER")[int(status[1])]
    return BackendError(
        f"in run {run} the clock equations give another {setting} than in the first run of "
        f"the batch (at time {float(times[int(status[2])]):g}); the runs of one batch share "
        "one clock: run parameter sets that change the clock separately"
    )


def _key_of(model: Model, name: str, role: str) -> str:
    if name not in model:
        raise UnknownNameError.of(name, model.names, role=role)
    return canonical(name)


def _parameter_columns(model: Model, layout: Layout, names: Sequence[str]) -> list[int]:
    index = {k: i for i, k in enumerate(layout.param_keys)}
    columns = []
    for name in names:
        key = _key_of(model, name, "parameter")
        if not isinstance(model[key], Constant):
            kind = type(model[key]).__name__.lower()
            raise ModelError(f"parameter {model[key].name!r} is a {kind}, not a constant")
        columns.append(index[key])
    return columns


def _element_names(model: Model, flat: Model, names: Sequence[str]) -> list[str]:
    """``names`` with each subscripted variable replaced by its elements ``name[a,b]``."""
    result: list[str] = []
    for name in names:
        if name in flat or name not in model or not model[name].definitions:
            result.append(name)
            continue
        prefix = model[name].name + "["
        result.extend(n for n in flat.names if n.startswith(prefix))
    return result


def _output_index(model: Model, layout: Layout, requested: Sequence[str] | None) -> np.ndarray:
    if requested is None:
        return np.array([j for j, hidden in enumerate(layout.internal) if not hidden], np.int64)
    position = {k: j for j, k in enumerate(layout.value_keys)}
    keys = [_key_of(model, name, "column") for name in requested]
    for key in keys:
        if isinstance(model[key], Lookup):
            raise ModelError(f"{model[key].name!r} is a lookup: it has no values over time")
    return np.array([position[k] for k in keys], dtype=np.int64)


def _root(model: Model, layout: Layout, values: np.ndarray) -> int:
    """Of the values that are not finite, the first whose own inputs are all finite."""
    bad = [j for j in range(values.size) if not math.isfinite(values[j])]
    bad_keys = {layout.value_keys[j] for j in bad}
    stocks = set(layout.stock_keys)
    for j in bad:
        key = layout.value_keys[j]
        if key not in model:  # made by compilation (expansion, lowering): not traced further
            continue
        inputs = {k for eq in model[key].equations() for k in eq.free_keys}
        if key in stocks or not inputs & bad_keys:
            return j
    return bad[0]


def _failure(
    model: Model, layout: Layout, code: int, index: int, time: float, values: np.ndarray,
    state: np.ndarray, run: int | None,
) -> SimulationError:  # fmt: skip
    where = "" if run is None else f" (run {run})"
    if code == 2:
        name = (
            model[layout.stock_keys[index]].name
            if layout.stock_keys[index] in model
            else (layout.value_names[layout.stock_values[index]])
        )
        message = f"stock {name!r} went negative ({state[index]:.6g}) at time {time:g}{where}"
        return SimulationError(message, name, time)
    j = _root(model, layout, values)
    name, value = layout.value_names[j], float(values[j])
    what = "not a number (NaN)" if math.isnan(value) else f"infinite ({value})"
    return SimulationError(f"{name!r} became {what} at time {time:g}{where}", name, time)


@register_backend("native")
class NativeBackend(Backend):
    """Compiles IR models to machine code and runs them in a numba kernel (see module doc).

    Parameters
    ----------
    cache_dir
        Where compiled models are kept (default ``cache_root() / "native"``).
    """

    methods = frozenset(Method)
    vectorised = True

    def __init__(self, cache_dir: str | Path | None = None) -> None:
        self._cache_dir = None if cache_dir is None else Path(cache_dir)
        self._compiled: OrderedDict[Model, NativeProgram] = OrderedDict()
        self._same: OrderedDict[int, tuple[Model, NativeProgram]] = OrderedDict()
        self._last_trace: tuple[tuple[object, ...], _Grid] | None = None
        self._output_cache: dict[
            tuple[str, tuple[str, ...] | None], tuple[np.ndarray, tuple[str, ...], np.ndarray]
        ] = {}

    def compile(self, model: Model) -> NativeProgram:
        """The compiled model, from memory, the disk cache, or compiled now."""
        same = self._same.get(id(model))  # by identity first (see compile.identity_cached)
        if same is not None and same[0] is model:
            return same[1]
        self._same[id(model)] = (model, self._compile(model))
        if len(self._same) > _MEMORY_CACHE_SIZE:
            self._same.popitem(last=False)
        return self._same[id(model)][1]

    def _compile(self, model: Model) -> NativeProgram:
        known = self._compiled.get(model)
        if known is not None:
            self._compiled.move_to_end(model)
            return known
        with collection_paused():
            compiled = compile_program(compile_model(model), self._cache_dir)
        self._compiled[model] = compiled
        if len(self._compiled) > _MEMORY_CACHE_SIZE:
            self._compiled.popitem(last=False)
        return compiled

    def _traced_grid(
        self,
        compiled: NativeProgram,
        spec: RunSpec,
        params: np.ndarray,
        sizes: tuple[int, int, int, int],
        *,
        reuse: bool,
    ) -> _Grid:
        """``(times, save_rows, saved_times, clocks)`` of a model with clock equations.

        The clock is traced with the first run's parameters; with ``reuse`` (a later chunk of
        one batch) the trace of the batch's first chunk is used again, so that every run of a
        batch is checked against one clock.
        """
        key = (compiled.digest, spec.start, spec.stop, spec.dt, spec.save_every, spec.method)
        if reuse and self._last_trace is not None and self._last_trace[0] == key:
            return self._last_trace[1]
        method = kernel.METHOD_CODES[spec.method]
        clock = np.array([spec.dt, spec.start, spec.stop, spec.save_every])
        max_steps = RunLimits.from_environment().max_steps
        steps = math.ceil((spec.stop - spec.start) / spec.dt) + 1 if spec.dt > 0 else max_steps
        engine = _engine(1, steps, spec.method)
        times, clocks, code = engine.trace_clock(
            compiled.addresses, method, clock, params, sizes, max_steps
        )
        if code == 1:
            raise ModelError(
                f"TIME STEP, computed by its equation, is {clocks[-1, 0]:g} at time "
                f"{times[-1]:g}: it must be positive"
            )
        if code == 2:
            raise ModelError(
                f"the clock equations give more than {max_steps:,} time steps (FINAL TIME is "
                f"{clocks[-1, 2]:g} at time {times[-1]:g}); raise the limit with "
                "SDHEALTH_MAX_STEPS if that is meant"
            )
        rows, saved = saving_rows(times, clocks[1:])
        for array in (times, rows, saved, clocks):
            array.setflags(write=False)
        grid: _Grid = (times, rows, saved, clocks)
        self._last_trace = (key, grid)
        return grid

    def _outputs(
        self, model: Model, compiled: NativeProgram, requested: Sequence[str] | None
    ) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
        """``(out_index, columns, non_negative)`` of a run, kept per compiled model (0.6 ms
        of Python for the 1000-stock chain, 6% of its run)."""
        key = (compiled.digest, None if requested is None else tuple(requested))
        known = self._output_cache.get(key)
        if known is None:
            layout = compiled.layout
            out_index = _output_index(model, layout, requested)
            out_index.setflags(write=False)
            columns = tuple(map(layout.value_names.__getitem__, out_index.tolist()))
            non_negative = np.array(layout.non_negative, np.int64)
            non_negative.setflags(write=False)
            if len(self._output_cache) >= 4 * _MEMORY_CACHE_SIZE:
                self._output_cache.clear()
            known = self._output_cache[key] = (out_index, columns, non_negative)
        return known

    def run(self, model: Model, spec: RunSpec, params: Mapping[str, float]) -> RunResult:
        """One run of ``model`` with constants (names or keys) set from ``params``."""
        names = list(params)
        matrix = np.array([[float(params[n]) for n in names]], dtype=float).reshape(1, len(names))
        times, values, columns = self.run_batch(
            model, spec, names, matrix, spec.return_columns, parallel=False
        )
        return RunResult(times=times, values=values[0], columns=columns)

    def run_batch(
        self,
        model: Model,
        spec: RunSpec,
        param_names: Sequence[str],
        param_matrix: np.ndarray,
        return_columns: Sequence[str] | None = None,
        *,
        parallel: bool | None = None,
        run_offset: int = 0,
    ) -> BatchResult:
        """Many runs in one kernel call: ``param_matrix[r, i]`` sets ``param_names[i]`` in run r.

        ``run_offset`` is added to run numbers in error messages (for callers that split a
        large batch into chunks). ``return_columns`` (default: the spec's) picks the columns;
        ``parallel`` spreads runs over threads (default: when there is more than one).

        Returns
        -------
        times, values, columns
            ``values[r, i, c]`` is column ``c`` at ``times[i]`` in run ``r``.

        Raises
        ------
        SimulationError
            For the first run (by index) that failed, naming the variable, time and run.
        """
        matrix = parameter_matrix(param_names, param_matrix)
        if return_columns is None:
            return_columns = spec.return_columns
        model = _run_clock(model, spec)
        compiled = self.compile(model)
        layout = compiled.layout
        original, model = model, compile_model(model).flat
        if return_columns is not None:
            return_columns = _element_names(original, model, return_columns)
        full = np.tile(np.array(layout.param_defaults, dtype=float), (matrix.shape[0], 1))
        full[:, _parameter_columns(model, layout, param_names)] = matrix
        out_index, columns, non_negative = self._outputs(model, compiled, return_columns)
        ensure_run_fits(
            measure_run(spec.start, spec.stop, spec.dt, spec.saveper, columns=len(out_index),
                        runs=matrix.shape[0])
        )  # fmt: skip
        sizes = (len(layout.stock_keys), len(layout.value_keys), layout.n_initials, layout.n_delays)
        use_threads = matrix.shape[0] > 1 if parallel is None else parallel
        method = kernel.METHOD_CODES[spec.method]
        addresses = compiled.addresses
        if compiled.clock_address:
            times, rows, saved, clocks = self._traced_grid(
                compiled, spec, full[0], sizes, reuse=run_offset > 0
            )
        else:
            times, rows, saved = time_grid(spec.start, spec.stop, spec.dt, spec.save_every)
            clocks = np.array([[spec.dt, spec.start, spec.stop, spec.save_every]])
        engine = _engine(matrix.shape[0], len(times), spec.method)
        out, status = engine.simulate(
            addresses, method, times, rows, clocks, full, out_index, non_negative, sizes,
            NEGATIVE_TOLERANCE, use_threads,
        )  # fmt: skip
        failed = np.flatnonzero(status[:, 0])
        if failed.size:
            r = int(failed[0])
            if status[r, 0] == 3:
                raise _clock_differs(status[r], times, r + run_offset)
            again, last_values, last_state = engine.diagnose(
                addresses, method, times, rows, clocks, full[r], non_negative, sizes,
                NEGATIVE_TOLERANCE,
            )  # fmt: skip
            code, index, step = (int(x) for x in again)
            run = None if matrix.shape[0] == 1 and run_offset == 0 else r + run_offset
            raise located(
                model,
                _failure(model, layout, code, index, float(times[step]), last_values, last_state,
                         run),
            )  # fmt: skip
        return BatchResult(saved.copy(), out, columns)
