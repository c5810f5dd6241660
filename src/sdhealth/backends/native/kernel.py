"""The fixed kernel: time loop, integration methods, saving, checks and the run dimension.

It is the same for every model: the model-specific work is the machine-code functions
``sd_init``/``sd_eval`` (and ``sd_clock``) (:mod:`sdhealth.backends.native.codegen`), called
through their addresses by ``_evaluate``. This module is its source, in the subset of Python
that numba compiles, and imports no numba: :func:`bind` gives the functions to :mod:`.jit`,
which compiles them with numba (once per installation, cached) and calls the machine code
through an intrinsic, and to :mod:`.interpreter`, which runs them as Python for small single
runs and calls the machine code through ctypes. The entry points are ``simulate``,
``diagnose`` and ``trace_clock``, taken from either.

Euler follows Vensim and PySD: at each time of the grid, evaluate, check, save (when the time is
a saving time), then ``state = state + deriv*dt`` and advance each ``DELAY FIXED`` pipeline by
one slot. ``RK2`` is Heun's method (the average of the slopes at both ends of the step), ``RK4``
the classical one; both advance ``DELAY FIXED`` pipelines once per step with the input at the
start of the step.

Status per run: ``status[r] = (code, index, step)`` with code 0 (finished), 1 (a value not
finite: ``index`` into ``values``), 2 (a non-negative stock below ``-tolerance``: ``index``
into ``state``) or 3 (a clock equation gives another value than in the run that traced the
clock with :func:`trace_clock`: ``index`` is the setting); ``step`` is the index into the time
grid. A run stops at its first failure; :func:`diagnose` repeats that one run (runs are
deterministic) and returns the values of the failing step, so the caller can name the variable.
Each run of a batch allocates its own small work arrays, so a batch needs memory for its output
only, whatever the number of runs.

Clock equations (Vensim's ``FINAL TIME = IF THEN ELSE(..)``) are a third generated function,
``sd_clock``, which computes the clock settings from the state at time ``t``. Such a model runs
twice: :func:`trace_clock` finds the times and the clock at each (the grid is not known before
the run), then :func:`simulate` runs on that grid, with the clock of each step.

Measured (100-stock chain, 200 runs, 2 cores): CPU time per run is the same in the serial and
the ``prange`` kernel (0.83 ms), so threads cost nothing extra; on a machine shared with other
work, wall-clock gains from the second core depend on it being free.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["EULER", "RK2", "RK4", "METHOD_CODES", "KERNEL_FUNCTIONS", "ENTRY_POINTS", "bind"]

EULER, RK2, RK4 = 0, 1, 2
METHOD_CODES = {"euler": EULER, "rk2": RK2, "rk4": RK4}

#: The functions numba compiles (name -> whether it runs its loop over runs in parallel).
KERNEL_FUNCTIONS: dict[str, bool] = {}
#: The plain-Python entry points that call them.
ENTRY_POINTS = ("simulate", "diagnose", "trace_clock")

prange = range  # numba's parallel range where compiled (:mod:`.jit`)


def _kernel(parallel: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a function for numba (:mod:`.jit`); it stays plain Python here."""

    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        KERNEL_FUNCTIONS[function.__name__] = parallel
        return function

    return mark


def _evaluate(address, t, clock, state, params, values, deriv, memory, delays):  # type: ignore[no-untyped-def]
    """Call the model's machine code at ``address``: given by :mod:`.jit` or :mod:`.interpreter`."""
    raise RuntimeError("the kernel runs through sdhealth.backends.native.jit or .interpreter")


def bind(
    overrides: dict[str, Any],
    compile_function: Callable[[str, Callable[..., Any]], Any] | None = None,
) -> dict[str, Any]:
    """The kernel's functions re-bound to one new namespace, with ``overrides`` in it.

    ``compile_function(name, function)``, if given, replaces each function of
    :data:`KERNEL_FUNCTIONS` (numba's ``njit``); the functions look each other up in the
    namespace when they run (or when numba compiles them), so they call the replacements.
    Returns the namespace: its ``simulate``, ``diagnose`` and ``trace_clock`` are the entry
    points.
    """
    namespace: dict[str, Any] = dict(globals())
    for name in (*KERNEL_FUNCTIONS, *ENTRY_POINTS):
        source = globals()[name]
        namespace[name] = types.FunctionType(
            source.__code__, namespace, name, source.__defaults__, source.__closure__
        )
    namespace.update(overrides)
    if compile_function is not None:
        for name in KERNEL_FUNCTIONS:
            if name not in overrides:
                namespace[name] = compile_function(name, namespace[name])
    return namespace


@_kernel()
def _first_failure(values, state, non_negative, tolerance):  # type: ignore[no-untyped-def]
    """``(code, index)`` of the first failure of a step, ``(0, 0)`` if there is none.

    The common case (no failure) is a branch-free pass that LLVM vectorises: ``x - x`` is 0
    for every finite ``x`` and NaN for NaN and infinities; only a failing step looks for
    which value failed. (An early-exit loop cost ~30% of a 1000-stock chain's step.)
    """
    negative = False
    for i in non_negative:
        negative |= state[i] < -tolerance
    not_finite = False
    for j in range(values.shape[0]):
        not_finite |= (values[j] - values[j]) != 0.0
    if not (negative or not_finite):
        return 0, 0
    for i in non_negative:
        if state[i] < -tolerance:
            return 2, i
    for j in range(values.shape[0]):
        if not np.isfinite(values[j]):
            return 1, j
    return 0, 0


@_kernel()
def _contiguous_start(index):  # type: ignore[no-untyped-def]
    """``index[0]`` when ``index`` is ``index[0], index[0] + 1, ...``, else -1."""
    if index.shape[0] == 0:
        return -1
    for c in range(1, index.shape[0]):
        if index[c] != index[0] + c:
            return -1
    return index[0]


@_kernel()
def _advance(method, address, t, dt, clock, state, params, values, deriv, memory, delays, work):  # type: ignore[no-untyped-def]
    """``state`` one step on from ``t``; ``deriv`` holds the slope at ``t`` on entry."""
    n = state.shape[0]
    if method == EULER:
        for i in range(n):
            state[i] = state[i] + deriv[i] * dt
        return
    start, k1, k2, k3, probe = work[0], work[1], work[2], work[3], work[4]
    start[:] = state
    k1[:] = deriv
    if method == RK2:
        for i in range(n):
            probe[i] = start[i] + dt * k1[i]
        _evaluate(address, t + dt, clock, probe, params, values, deriv, memory, delays)
        for i in range(n):
            state[i] = start[i] + dt / 2 * (k1[i] + deriv[i])
        return
    for i in range(n):
        probe[i] = start[i] + dt / 2 * k1[i]
    _evaluate(address, t + dt / 2, clock, probe, params, values, k2, memory, delays)
    for i in range(n):
        probe[i] = start[i] + dt / 2 * k2[i]
    _evaluate(address, t + dt / 2, clock, probe, params, values, k3, memory, delays)
    for i in range(n):
        probe[i] = start[i] + dt * k3[i]
    _evaluate(address, t + dt, clock, probe, params, values, deriv, memory, delays)
    for i in range(n):
        state[i] = start[i] + dt / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + deriv[i])


@_kernel()
def _start_pipelines(memory, delays, n_initials):  # type: ignore[no-untyped-def]
    """The ``DELAY FIXED`` pipelines after ``sd_init``: ``(pipes, offsets, lengths, pointers)``."""
    n_delays = delays.shape[0]
    lengths = np.empty(n_delays, dtype=np.int64)
    offsets = np.zeros(n_delays + 1, dtype=np.int64)
    for k in range(n_delays):
        lengths[k] = max(int(delays[k]), 1)
        offsets[k + 1] = offsets[k] + lengths[k]
    pipes = np.empty(offsets[n_delays])
    pointers = np.zeros(n_delays, dtype=np.int64)
    for k in range(n_delays):
        pipes[offsets[k] : offsets[k + 1]] = memory[n_initials + k]
    return pipes, offsets, lengths, pointers


@_kernel()
def _shift_pipelines(inputs, memory, n_initials, pipes, offsets, lengths, pointers):  # type: ignore[no-untyped-def]
    """Push each pipeline's input of the step just taken and expose its next output."""
    for k in range(inputs.shape[0]):
        pipes[offsets[k] + pointers[k]] = inputs[k]
        pointers[k] = (pointers[k] + 1) % lengths[k]
        memory[n_initials + k] = pipes[offsets[k] + pointers[k]]


@_kernel()
def _clock_changed(address, t, clock, probe, state, params, values, deriv, memory, delays):  # type: ignore[no-untyped-def]
    """Index (0-3) of the first clock setting whose equation gives another value, or -1."""
    probe[:] = clock
    _evaluate(address, t, probe, state, params, values, deriv, memory, delays)
    for i in range(4):
        if probe[i] != clock[i]:
            return i
    return -1


@_kernel()
def _simulate_one(  # type: ignore[no-untyped-def]
    addresses,
    method,
    times,
    save_rows,
    clocks,
    params,
    out_index,
    non_negative,
    n_initials,
    tolerance,
    state,
    values,
    deriv,
    memory,
    delays,
    work,
    out,
    status,
):
    """One run on a given time grid with ``clocks`` as :func:`simulate` describes them.

    With a clock function (``addresses[2] != 0``) every step checks that the model's clock
    equations give ``clocks[k]`` again in this run (status code 3 otherwise).
    """
    init_address, eval_address, clock_address = addresses[0], addresses[1], addresses[2]
    out_first = _contiguous_start(out_index)
    varying = clocks.shape[0] > 1
    probe = np.empty(4)
    clock = clocks[0]  # the clock of initialisation
    _evaluate(init_address, times[0], clock, state, params, values, deriv, memory, delays)
    pipes, offsets, lengths, pointers = _start_pipelines(memory, delays, n_initials)
    inputs = np.empty(delays.shape[0])
    last = times.shape[0] - 1
    for step in range(times.shape[0]):
        t = times[step]
        if varying:
            clock = clocks[step + 1]
        if clock_address != 0:
            changed = _clock_changed(
                clock_address, t, clock, probe, state, params, values, deriv, memory, delays
            )
            if changed >= 0:
                status[0], status[1], status[2] = 3, changed, step
                return
        _evaluate(eval_address, t, clock, state, params, values, deriv, memory, delays)
        code, index = _first_failure(values, state, non_negative, tolerance)
        if code != 0:
            status[0], status[1], status[2] = code, index, step
            return
        row = save_rows[step]
        if row >= 0:
            if out_first >= 0:  # the columns are one contiguous run of values: a plain copy
                out[row, :] = values[out_first : out_first + out.shape[1]]
            else:
                for c in range(out_index.shape[0]):
                    out[row, c] = values[out_index[c]]
        if step == last:
            break
        inputs[:] = delays
        _advance(
            method, eval_address, t, clock[0], clock, state, params, values, deriv, memory,
            delays, work,
        )  # fmt: skip
        _shift_pipelines(inputs, memory, n_initials, pipes, offsets, lengths, pointers)
    status[0] = 0


@_kernel()
def _simulate_fresh(  # type: ignore[no-untyped-def]
    addresses, method, times, save_rows, clocks, params, out_index, non_negative, n_initials,
    tolerance, n_stocks, n_values, n_delays, out, status,
):  # fmt: skip
    """One run with its own work arrays (a few KiB, so memory does not grow with runs)."""
    state = np.zeros(n_stocks)
    values = np.zeros(n_values)
    deriv = np.zeros(n_stocks)
    memory = np.zeros(n_initials + n_delays)
    delays = np.zeros(n_delays)
    work = np.zeros((5, n_stocks))
    _simulate_one(
        addresses, method, times, save_rows, clocks, params, out_index, non_negative,
        n_initials, tolerance, state, values, deriv, memory, delays, work, out, status,
    )  # fmt: skip


@_kernel()
def _simulate_serial(  # type: ignore[no-untyped-def]
    addresses, method, times, save_rows, clocks, params, out_index, non_negative, n_initials,
    tolerance, n_stocks, n_values, n_delays, out, status,
):  # fmt: skip
    for r in range(params.shape[0]):
        _simulate_fresh(
            addresses, method, times, save_rows, clocks, params[r], out_index, non_negative,
            n_initials, tolerance, n_stocks, n_values, n_delays, out[r], status[r],
        )  # fmt: skip


@_kernel(parallel=True)
def _simulate_parallel(  # type: ignore[no-untyped-def]
    addresses, method, times, save_rows, clocks, params, out_index, non_negative, n_initials,
    tolerance, n_stocks, n_values, n_delays, out, status,
):  # fmt: skip
    for r in prange(params.shape[0]):
        _simulate_fresh(
            addresses, method, times, save_rows, clocks, params[r], out_index, non_negative,
            n_initials, tolerance, n_stocks, n_values, n_delays, out[r], status[r],
        )  # fmt: skip


def simulate(
    addresses: tuple[int, int, int],
    method: int,
    times: np.ndarray,
    save_rows: np.ndarray,
    clocks: np.ndarray,
    params: np.ndarray,
    out_index: np.ndarray,
    non_negative: np.ndarray,
    sizes: tuple[int, int, int, int],
    tolerance: float,
    parallel: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``params.shape[0]`` runs; returns ``(out, status)``.

    ``addresses`` are those of ``sd_init``, ``sd_eval`` and ``sd_clock`` (0: the model has no
    clock equations). ``clocks`` is ``[[TIME STEP, INITIAL TIME, FINAL TIME, SAVEPER]]`` for a
    fixed clock, or (clock equations, :func:`trace_clock`) the clock of initialisation and
    then one row per time of ``times``.
    ``sizes`` is ``(n_stocks, n_values, n_initials, n_delays)``. ``out[r, i, c]`` is output
    column ``c`` at saved row ``i`` of run ``r``. Memory is ``out`` plus a few KiB per thread:
    each run allocates its own work arrays. :func:`diagnose` repeats one run to see the
    values of its failing step.
    """
    n_stocks, n_values, n_initials, n_delays = sizes
    runs = params.shape[0]
    n_rows = int(save_rows.max()) + 1 if save_rows.size else 0
    out = np.empty((runs, n_rows, out_index.shape[0]))
    status = np.zeros((runs, 3), dtype=np.int64)
    kernel = _simulate_parallel if parallel else _simulate_serial
    kernel(
        addresses, method, times, save_rows, clocks, params, out_index, non_negative,
        n_initials, tolerance, n_stocks, n_values, n_delays, out, status,
    )  # fmt: skip
    return out, status


def diagnose(
    addresses: tuple[int, int, int],
    method: int,
    times: np.ndarray,
    save_rows: np.ndarray,
    clocks: np.ndarray,
    params: np.ndarray,
    non_negative: np.ndarray,
    sizes: tuple[int, int, int, int],
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repeat one run (``params`` is one parameter vector): ``(status, values, state)``.

    Runs are deterministic, so a failed run stops at the same step again, and ``values`` and
    ``state`` are those of that step (for naming the variable that failed).
    """
    n_stocks, n_values, n_initials, n_delays = sizes
    n_rows = int(save_rows.max()) + 1 if save_rows.size else 0
    out = np.empty((n_rows, 0))
    status = np.zeros(3, dtype=np.int64)
    state = np.zeros(n_stocks)
    values = np.zeros(n_values)
    memory = np.zeros(n_initials + n_delays)
    _simulate_one(
        addresses, method, times, save_rows, clocks, params, np.zeros(0, dtype=np.int64),
        non_negative, n_initials, tolerance, state, values, np.zeros(n_stocks), memory,
        np.zeros(n_delays), np.zeros((5, n_stocks)), out, status,
    )  # fmt: skip
    return status, values, state


@_kernel()
def _trace(  # type: ignore[no-untyped-def]
    addresses, method, clock, params, n_initials, n_stocks, n_values, n_delays, max_steps
):
    """The times and clocks of a run whose clock settings are equations (see trace_clock)."""
    init_address, eval_address, clock_address = addresses[0], addresses[1], addresses[2]
    state = np.zeros(n_stocks)
    values = np.zeros(n_values)
    deriv = np.zeros(n_stocks)
    memory = np.zeros(n_initials + n_delays)
    delays = np.zeros(n_delays)
    work = np.zeros((5, n_stocks))
    _evaluate(clock_address, clock[1], clock, state, params, values, deriv, memory, delays)
    t = clock[1]
    _evaluate(init_address, t, clock, state, params, values, deriv, memory, delays)
    pipes, offsets, lengths, pointers = _start_pipelines(memory, delays, n_initials)
    inputs = np.empty(n_delays)
    times = np.empty(1024)
    clocks = np.empty((1025, 4))
    clocks[0] = clock
    n = 0
    while True:
        _evaluate(clock_address, t, clock, state, params, values, deriv, memory, delays)
        if n == times.shape[0]:
            times = np.concatenate((times, np.empty(n)))
            clocks = np.concatenate((clocks, np.empty((n, 4))))
        times[n] = t
        clocks[n + 1] = clock
        n += 1
        dt = clock[0]
        if not t + dt * 1e-5 < clock[2]:
            return times[:n], clocks[: n + 1], 0
        if not dt > 0:
            return times[:n], clocks[: n + 1], 1
        if n >= max_steps:
            return times[:n], clocks[: n + 1], 2
        _evaluate(eval_address, t, clock, state, params, values, deriv, memory, delays)
        inputs[:] = delays
        _advance(
            method, eval_address, t, dt, clock, state, params, values, deriv, memory, delays, work
        )
        _shift_pipelines(inputs, memory, n_initials, pipes, offsets, lengths, pointers)
        t = t + dt


def trace_clock(
    addresses: tuple[int, int, int],
    method: int,
    clock: np.ndarray,
    params: np.ndarray,
    sizes: tuple[int, int, int, int],
    max_steps: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Run once to find the clock of a model whose clock settings are equations.

    Follows PySD's loop: ``INITIAL TIME`` is computed once, before initialisation (from the
    constants: stocks are still zero); then at each time ``t`` the clock equations are
    computed from the current state, ``t`` is kept, and the run goes on to
    ``t + TIME STEP`` while ``t + TIME STEP*1e-5 < FINAL TIME``. Returns ``(times, clocks,
    code)``: ``clocks[0]`` is ``[TIME STEP, INITIAL TIME, FINAL TIME, SAVEPER]`` used by
    initialisation, ``clocks[k + 1]`` the clock at ``times[k]``; ``code`` is 0 (finished),
    1 (a time step that is not positive: the last row shows it) or 2 (more than ``max_steps``
    times).
    """
    n_stocks, n_values, n_initials, n_delays = sizes
    times, clocks, code = _trace(
        addresses, method, clock.copy(), params, n_initials, n_stocks, n_values, n_delays,
        max_steps,
    )  # fmt: skip
    return times, clocks, int(code)
