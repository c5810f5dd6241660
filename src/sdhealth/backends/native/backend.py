"""The ``"native"`` backend: compiled models, one kernel call per batch of runs.

:class:`NativeBackend` compiles a model once (:func:`~.compiler.compile_model`, cached in
memory and on disk) and runs it with the fixed kernel (:mod:`.kernel`). :meth:`run` is one run;
:meth:`run_batch` runs many parameter sets as the run dimension of one kernel call, spread over
the machine's cores with ``prange``.

The clock follows PySD exactly, so results line up row for row: time advances by repeated
addition of ``dt`` from ``start`` while ``t + dt*1e-5 < stop``; a time is saved when
``(t - start) mod saveper`` (or its negative) is below ``dt*1e-5``; saved times are reported
rounded to ``-int(log10(dt*1e-5))`` decimals. A NaN or infinity anywhere, or a ``non_negative``
stock below ``-1e-9``, stops the run with a :class:`~sdhealth.errors.SimulationError` naming the
variable and the time (checked at every time step, not only at saved ones).
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from sdhealth.backends.base import Backend, RunResult, RunSpec, register_backend
from sdhealth.errors import BackendError, ModelError, SimulationError, UnknownNameError
from sdhealth.ir.model import Constant, Lookup, Model
from sdhealth.ir.names import canonical, suggest

from . import kernel
from .compiler import CompiledModel, compile_model
from .layout import Layout

__all__ = ["NativeBackend", "time_grid", "NEGATIVE_TOLERANCE"]

#: How far below zero a ``non_negative`` stock may go (rounding) before a run fails.
NEGATIVE_TOLERANCE = 1e-9

_RELATIVE_PRECISION = 1e-5  # PySD's Time.rprec
_MEMORY_CACHE_SIZE = 32


@functools.lru_cache(maxsize=64)
def time_grid(
    start: float, stop: float, dt: float, saveper: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(times, save_rows, saved_times)`` of a run, as PySD's clock makes them.

    ``times`` are every evaluation time; ``save_rows[k]`` is the output row of ``times[k]``
    or -1; ``saved_times`` are the reported (rounded) times of the rows.

    >>> times, rows, saved = time_grid(0.0, 1.0, 0.25, 0.5)
    >>> times.tolist(), rows.tolist(), saved.tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [0, -1, 1, -1, 2], [0.0, 0.5, 1.0])
    """
    precision = dt * _RELATIVE_PRECISION
    count = int((stop - start) / dt) + 3
    steps = np.full(count, dt)
    steps[0] = start
    candidates = np.add.accumulate(steps)  # sequential sums: PySD's t = t + dt
    beyond = np.flatnonzero(candidates + precision >= stop)
    times = candidates[: int(beyond[0]) + 1] if beyond.size else candidates
    rows = np.full(times.size, -1, dtype=np.int64)
    row = 0
    for k, t in enumerate(times.tolist()):
        delay = t - start
        if delay % saveper < precision or -delay % saveper < precision:
            rows[k] = row
            row += 1
    decimals = -int(np.log10(precision))
    saved = np.round(times[rows >= 0], decimals)
    times.setflags(write=False)
    rows.setflags(write=False)
    saved.setflags(write=False)
    return times, rows, saved


def _key_of(model: Model, name: str, role: str) -> str:
    if name not in model:
        close = suggest(name, model.names)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        raise UnknownNameError(f"unknown {role} {name!r}{hint}")
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

    def __init__(self, cache_dir: str | Path | None = None) -> None:
        self._cache_dir = None if cache_dir is None else Path(cache_dir)
        self._compiled: OrderedDict[Model, CompiledModel] = OrderedDict()

    def compile(self, model: Model) -> CompiledModel:
        """The compiled model, from memory, the disk cache, or compiled now."""
        known = self._compiled.get(model)
        if known is not None:
            self._compiled.move_to_end(model)
            return known
        compiled = compile_model(model, self._cache_dir)
        self._compiled[model] = compiled
        if len(self._compiled) > _MEMORY_CACHE_SIZE:
            self._compiled.popitem(last=False)
        return compiled

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
    ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """Many runs in one kernel call: ``param_matrix[r, i]`` sets ``param_names[i]`` in run r.

        ``run_offset`` is added to run numbers in error messages (for callers that split a
        large batch into chunks).

        Returns
        -------
        times, values, columns
            ``values[r, i, c]`` is column ``c`` at ``times[i]`` in run ``r``.

        Raises
        ------
        SimulationError
            For the first run (by index) that failed, naming the variable, time and run.
        """
        matrix = np.asarray(param_matrix, dtype=float)
        if matrix.ndim != 2 or matrix.shape[1] != len(param_names):
            raise BackendError(
                f"param_matrix must have shape (runs, {len(param_names)}), got {matrix.shape}"
            )
        compiled = self.compile(model)
        layout = compiled.layout
        full = np.tile(np.array(layout.param_defaults, dtype=float), (matrix.shape[0], 1))
        full[:, _parameter_columns(model, layout, param_names)] = matrix
        out_index = _output_index(model, layout, return_columns)
        times, rows, saved = time_grid(spec.start, spec.stop, spec.dt, spec.save_every)
        clock = np.array([spec.dt, spec.start, spec.stop, spec.save_every])
        sizes = (len(layout.stock_keys), len(layout.value_keys), layout.n_initials, layout.n_delays)
        use_threads = matrix.shape[0] > 1 if parallel is None else parallel
        method = kernel.METHOD_CODES[spec.method]
        non_negative = np.array(layout.non_negative, np.int64)
        addresses = (compiled.init_address, compiled.eval_address)
        out, status = kernel.simulate(
            *addresses, method, times, rows, clock, full, out_index, non_negative, sizes,
            NEGATIVE_TOLERANCE, use_threads,
        )  # fmt: skip
        failed = np.flatnonzero(status[:, 0])
        if failed.size:
            r = int(failed[0])
            again, last_values, last_state = kernel.diagnose(
                *addresses, method, times, rows, clock, full[r], non_negative, sizes,
                NEGATIVE_TOLERANCE,
            )  # fmt: skip
            code, index, step = (int(x) for x in again)
            run = None if matrix.shape[0] == 1 and run_offset == 0 else r + run_offset
            raise _failure(
                model, layout, code, index, float(times[step]), last_values, last_state, run
            )
        columns = tuple(layout.value_names[j] for j in out_index)
        return saved.copy(), out, columns
