"""The native backend: models compiled to machine code, thousands of runs per kernel call.

Importing this package registers the backend as ``"native"``. The pieces:

- :mod:`.layout` -- which slot of which array holds each value (plain data);
- :mod:`.printer` -- the one printer from IR expressions to LLVM IR;
- :mod:`.codegen` -- an expanded model as an LLVM module (``sd_init``, ``sd_eval``, ``sd_clock``);
- :mod:`.compiler` -- LLVM object code (:class:`NativeProgram`) of the expanded model of a
  :class:`sdhealth.compile.compiled.CompiledModel`, cached on disk by model content;
- :mod:`.kernel` -- the fixed numba kernel (time loop, Euler/RK2/RK4, checks, runs in parallel);
- :mod:`.backend` -- :class:`NativeBackend` (``run``, ``run_batch``).
"""

from sdhealth.backends.native.backend import NativeBackend, time_grid
from sdhealth.backends.native.compiler import (
    CompiledModel,  # the old name of NativeProgram
    NativeProgram,
    compile_model,  # the old name of compile_program
    compile_program,
    model_fingerprint,
)

__all__ = [
    "NativeBackend", "NativeProgram", "compile_program", "CompiledModel", "compile_model",
    "model_fingerprint", "time_grid",
]  # fmt: skip
