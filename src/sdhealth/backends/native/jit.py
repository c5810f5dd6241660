"""The kernel (:mod:`.kernel`) compiled by numba: what batches and long runs use.

Each function the kernel marks is compiled with ``numba.njit(cache=True)`` (``parallel=True``
for the loop over runs, with ``prange``), once per installation: numba keeps the machine code
in its cache, keyed by the kernel's source file. The call of the model's generated code is an
intrinsic that calls the address with a time and seven array pointers, so per time step there
is one call of ``sd_eval`` per integration stage and no Python at all.

Importing this module imports numba (about 0.15 s); the first call of an entry point loads
the compiled kernel from numba's cache (about 0.6 s a process) or compiles it (about 10 s,
once). :mod:`.interpreter` runs the same functions without numba for small single runs.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from . import kernel

__all__ = ["simulate", "diagnose", "trace_clock", "kernel_loaded"]


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


def _compile(name: str, function: Any) -> Any:
    return njit(cache=True, parallel=kernel.KERNEL_FUNCTIONS[name])(function)


_COMPILED = kernel.bind({"_evaluate": _evaluate, "prange": prange}, _compile)
simulate = _COMPILED["simulate"]
diagnose = _COMPILED["diagnose"]
trace_clock = _COMPILED["trace_clock"]


def kernel_loaded() -> bool:
    """Whether this process has the compiled kernel for single runs in memory already."""
    return bool(_COMPILED["_simulate_serial"].overloads)
