"""The kernel's time loop run by the Python interpreter: small single runs with no numba wait.

The fixed kernel (:mod:`.kernel`) is compiled by numba once per installation: about 10 s the
first time, and loading it from numba's cache costs about 0.6 s in every new process (numba's
type registries and the BLAS check it makes). For a small model run once (a new user's first
command, a modeller's edit-and-run) that wait is most of the time the user sees, for a
simulation that takes milliseconds. So a single run of a small model runs the very same kernel
functions as plain Python: their source (numba's ``py_func``) is re-bound to a namespace where
the calls of the model's step function go through :mod:`ctypes` to the same machine code
``sd_init``/``sd_eval``/``sd_clock``, and the two per-step passes over every value (the failure
check and the integration step) are numpy array expressions. The arithmetic is the same
operations in the same order on float64, so the numbers are the kernel's, bit for bit
(``tests/backends/test_interpreter.py`` compares both on every integration method, ``DELAY
FIXED``, clock equations and a failing run).

Which one runs is :func:`use_interpreter`'s choice (see its rules); ``SDHEALTH_NATIVE_KERNEL``
(``auto``, ``compiled``, ``interpreted``) overrides it, for benchmarks and tests.

Measured on this machine (the NHS model, 1,537 Euler steps, 2 cores): a warm run through the
interpreter 0.06 s against 0.6 s to load the compiled kernel (then 1.5 ms per run), and 10 s
to compile it with numba's cache empty.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from . import kernel

__all__ = [
    "INTERPRET_BUDGET",
    "INTERPRET_MAX_CALLS",
    "KERNEL_CHOICES",
    "diagnose",
    "kernel_loaded",
    "simulate",
    "trace_clock",
    "use_interpreter",
]

#: Most calls of the step function one interpreted run may make (steps x stages); about
#: 15 microseconds each, so an interpreted run stays under about half a second.
INTERPRET_MAX_CALLS = 30_000
#: Seconds of interpreted runs after which a process loads the compiled kernel: a model run
#: again and again (a loop of ``Model.run``) pays the kernel's load once and then runs at full
#: speed, as a tiered just-in-time compiler does.
INTERPRET_BUDGET = 2.0
#: The values of ``SDHEALTH_NATIVE_KERNEL``.
KERNEL_CHOICES = ("auto", "compiled", "interpreted")

_STEP_FUNCTION = ctypes.CFUNCTYPE(None, ctypes.c_double, *([ctypes.c_void_p] * 7))
_step_functions: dict[int, Callable[..., None]] = {}
_spent = [0.0]  # seconds of interpreted runs in this process


def _evaluate(address, t, clock, state, params, values, deriv, memory, delays):  # type: ignore[no-untyped-def]
    """The kernel's ``_evaluate``: one call of generated machine code, here through ctypes."""
    function = _step_functions.get(address)
    if function is None:
        function = _step_functions[address] = _STEP_FUNCTION(address)
    function(
        t,
        clock.ctypes.data,
        state.ctypes.data,
        params.ctypes.data,
        values.ctypes.data,
        deriv.ctypes.data,
        memory.ctypes.data,
        delays.ctypes.data,
    )


def _first_failure(values, state, non_negative, tolerance):  # type: ignore[no-untyped-def]
    """The kernel's ``_first_failure``, with the pass that finds nothing done by numpy."""
    if np.isfinite(values).all() and not (state[non_negative] < -tolerance).any():
        return 0, 0
    return kernel._first_failure(values, state, non_negative, tolerance)


def _advance(method, address, t, dt, clock, state, params, values, deriv, memory, delays, work):  # type: ignore[no-untyped-def]
    """The kernel's ``_advance`` as array expressions (the same operations in the same order
    for each element, so the same float64 results)."""
    if method == kernel.EULER:
        state[:] = state + deriv * dt
        return
    start, k1, k2, k3, probe = work[0], work[1], work[2], work[3], work[4]
    start[:] = state
    k1[:] = deriv
    if method == kernel.RK2:
        probe[:] = start + dt * k1
        _evaluate(address, t + dt, clock, probe, params, values, deriv, memory, delays)
        state[:] = start + dt / 2 * (k1 + deriv)
        return
    probe[:] = start + dt / 2 * k1
    _evaluate(address, t + dt / 2, clock, probe, params, values, k2, memory, delays)
    probe[:] = start + dt / 2 * k2
    _evaluate(address, t + dt / 2, clock, probe, params, values, k3, memory, delays)
    probe[:] = start + dt * k3
    _evaluate(address, t + dt, clock, probe, params, values, deriv, memory, delays)
    state[:] = start + dt / 6 * (k1 + 2 * k2 + 2 * k3 + deriv)


_TWINS = kernel.bind(
    {"_evaluate": _evaluate, "_first_failure": _first_failure, "_advance": _advance}
)


def _timed(name: str) -> Callable[..., Any]:
    """The twin of the kernel's entry point ``name``, adding its time to the spent budget."""
    twin = _TWINS[name]

    def entry(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return twin(*args)
        finally:
            _spent[0] += time.perf_counter() - started

    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = f"``kernel.{name}`` run by the interpreter (same arguments, same results)."
    return entry


simulate = _timed("simulate")
diagnose = _timed("diagnose")
trace_clock = _timed("trace_clock")


def kernel_loaded() -> bool:
    """Whether this process has the compiled kernel for single runs in memory already
    (without importing numba when it has not been)."""
    jit = sys.modules.get(f"{__package__}.jit")
    loaded = getattr(jit, "kernel_loaded", None)  # None while another thread imports it
    return loaded is not None and loaded()


def kernel_choice() -> str:
    """``SDHEALTH_NATIVE_KERNEL``'s value (``auto`` when unset)."""
    choice = os.environ.get("SDHEALTH_NATIVE_KERNEL", "auto").strip().lower() or "auto"
    if choice not in KERNEL_CHOICES:
        from sdhealth.errors import BackendError

        raise BackendError(
            f"SDHEALTH_NATIVE_KERNEL is {choice!r}; use one of {', '.join(KERNEL_CHOICES)}"
        )
    return choice


def use_interpreter(runs: int, steps: int, stages: int) -> bool:
    """Whether a kernel call of ``runs`` runs of ``steps`` steps (``stages`` evaluations per
    step) runs interpreted.

    With ``SDHEALTH_NATIVE_KERNEL=auto`` (the default): one run, the compiled kernel not yet
    in this process, at most :data:`INTERPRET_MAX_CALLS` calls of the step function, and less
    than :data:`INTERPRET_BUDGET` seconds spent interpreting in this process so far. Batches
    and long runs always use the compiled kernel, whose one-off cost they repay.
    """
    choice = kernel_choice()
    if choice != "auto":
        return choice == "interpreted"
    return (
        runs == 1
        and steps * stages <= INTERPRET_MAX_CALLS
        and _spent[0] < INTERPRET_BUDGET
        and not kernel_loaded()
    )
