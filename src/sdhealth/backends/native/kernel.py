"""The fixed numba kernel: time loop, integration methods, saving, checks and the run dimension.

It is compiled once per installation (numba ``cache=True``) and is the same for every model:
the model-specific work is the pair of machine-code functions ``sd_init``/``sd_eval``
(:mod:`sdhealth.backends.native.codegen`), called through their addresses. Per time step there
is one call of ``sd_eval`` per integration stage and no Python at all.

Euler follows Vensim and PySD: at each time of the grid, evaluate, check, save (when the time is
a saving time), then ``state = state + deriv*dt`` and advance each ``DELAY FIXED`` pipeline by
one slot. ``RK2`` is Heun's method (the average of the slopes at both ends of the step), ``RK4``
the classical one; both advance ``DELAY FIXED`` pipelines once per step with the input at the
start of the step.

Status per run: ``status[r] = (code, index, step)`` with code 0 (finished), 1 (a value not
finite: ``index`` into ``values``) or 2 (a non-negative stock below ``-tolerance``: ``index``
into ``state``); ``step`` is the index into the time grid. A run stops at its first failure and
its work arrays keep the values of that step, so the caller can name the variable.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

__all__ = ["simulate", "EULER", "RK2", "RK4", "METHOD_CODES"]

EULER, RK2, RK4 = 0, 1, 2
METHOD_CODES = {"euler": EULER, "rk2": RK2, "rk4": RK4}


@intrinsic
def _call(typingctx, address, t, clock, state, params, values, deriv, memory, delays):  # type: ignore[no-untyped-def]
    """Call generated code at ``address`` with a time and seven array addresses."""
    signature = types.void(types.intp, types.float64, *([types.intp] * 7))

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        pointer = ir.DoubleType().as_pointer()
        function_type = ir.FunctionType(ir.VoidType(), [ir.DoubleType()] + [pointer] * 7)
        function = builder.inttoptr(args[0], function_type.as_pointer())
        builder.call(function, [args[1]] + [builder.inttoptr(a, pointer) for a in args[2:]])
        return context.get_dummy_value()

    return signature, codegen


@njit(cache=True)
def _evaluate(address, t, clock, state, params, values, deriv, memory, delays):  # type: ignore[no-untyped-def]
    _call(
        address,
        t,
        clock.ctypes.data,
        state.ctypes.data,
        params.ctypes.data,
        values.ctypes.data,
        deriv.ctypes.data,
        memory.ctypes.data,
        delays.ctypes.data,
    )


@njit(cache=True)
def _first_failure(values, state, non_negative, tolerance):  # type: ignore[no-untyped-def]
    for i in non_negative:
        if state[i] < -tolerance:
            return 2, i
    for j in range(values.shape[0]):
        if not np.isfinite(values[j]):
            return 1, j
    return 0, 0


@njit(cache=True)
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


@njit(cache=True)
def _simulate_one(  # type: ignore[no-untyped-def]
    init_address,
    eval_address,
    method,
    times,
    save_rows,
    clock,
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
    dt = clock[0]
    _evaluate(init_address, times[0], clock, state, params, values, deriv, memory, delays)
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
    inputs = np.empty(n_delays)
    last = times.shape[0] - 1
    for step in range(times.shape[0]):
        t = times[step]
        _evaluate(eval_address, t, clock, state, params, values, deriv, memory, delays)
        code, index = _first_failure(values, state, non_negative, tolerance)
        if code != 0:
            status[0], status[1], status[2] = code, index, step
            return
        row = save_rows[step]
        if row >= 0:
            for c in range(out_index.shape[0]):
                out[row, c] = values[out_index[c]]
        if step == last:
            break
        inputs[:] = delays
        _advance(
            method, eval_address, t, dt, clock, state, params, values, deriv, memory, delays, work
        )
        for k in range(n_delays):
            pipes[offsets[k] + pointers[k]] = inputs[k]
            pointers[k] = (pointers[k] + 1) % lengths[k]
            memory[n_initials + k] = pipes[offsets[k] + pointers[k]]
    status[0] = 0


@njit(cache=True)
def _simulate_serial(  # type: ignore[no-untyped-def]
    init_address, eval_address, method, times, save_rows, clock, params, out_index,
    non_negative, n_initials, tolerance, state, values, deriv, memory, delays, work, out, status,
):  # fmt: skip
    for r in range(params.shape[0]):
        _simulate_one(
            init_address, eval_address, method, times, save_rows, clock, params[r], out_index,
            non_negative, n_initials, tolerance, state[r], values[r], deriv[r], memory[r],
            delays[r], work[r], out[r], status[r],
        )  # fmt: skip


@njit(cache=True, parallel=True)
def _simulate_parallel(  # type: ignore[no-untyped-def]
    init_address, eval_address, method, times, save_rows, clock, params, out_index,
    non_negative, n_initials, tolerance, state, values, deriv, memory, delays, work, out, status,
):  # fmt: skip
    for r in prange(params.shape[0]):
        _simulate_one(
            init_address, eval_address, method, times, save_rows, clock, params[r], out_index,
            non_negative, n_initials, tolerance, state[r], values[r], deriv[r], memory[r],
            delays[r], work[r], out[r], status[r],
        )  # fmt: skip


def simulate(
    init_address: int,
    eval_address: int,
    method: int,
    times: np.ndarray,
    save_rows: np.ndarray,
    clock: np.ndarray,
    params: np.ndarray,
    out_index: np.ndarray,
    non_negative: np.ndarray,
    sizes: tuple[int, int, int, int],
    tolerance: float,
    parallel: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run ``params.shape[0]`` runs; returns ``(out, status, values, state)``.

    ``sizes`` is ``(n_stocks, n_values, n_initials, n_delays)``. ``out[r, i, c]`` is output
    column ``c`` at saved row ``i`` of run ``r``; ``values``/``state`` hold each run's last
    evaluated step (the failing one for a failed run).
    """
    n_stocks, n_values, n_initials, n_delays = sizes
    runs = params.shape[0]
    n_rows = int(save_rows.max()) + 1 if save_rows.size else 0
    out = np.empty((runs, n_rows, out_index.shape[0]))
    status = np.zeros((runs, 3), dtype=np.int64)
    state = np.zeros((runs, n_stocks))
    values = np.zeros((runs, n_values))
    deriv = np.zeros((runs, n_stocks))
    memory = np.zeros((runs, n_initials + n_delays))
    delays = np.zeros((runs, n_delays))
    work = np.zeros((runs, 5, n_stocks))
    kernel = _simulate_parallel if parallel else _simulate_serial
    kernel(
        init_address, eval_address, method, times, save_rows, clock, params, out_index,
        non_negative, n_initials, tolerance, state, values, deriv, memory,
        delays, work, out, status,
    )  # fmt: skip
    return out, status, values, state
