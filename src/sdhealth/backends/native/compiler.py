"""Compilation of a model into machine code, with a disk cache keyed by the model's content.

:func:`compile_program` takes the :class:`~sdhealth.compile.compiled.CompiledModel` every
backend receives (external data read, arrays flattened; its ``expanded`` model has the
stateful builtins expanded), prints the expanded model as an LLVM
module (:mod:`sdhealth.backends.native.codegen`), lets LLVM (through ``llvmlite``, numba's own code
generator) turn it into an object file and loads that object into the process.

Why LLVM IR and not generated Python for ``numba.njit`` (measured on this machine, the
1000-stock benchmark chain, ~6,000 statements per step): numba needs about 106 s to compile
the straight-line step function (its typing and SSA passes grow faster than linearly with the
number of statements; chunking it into functions of 200 statements does not help); LLVM at
``-O0`` compiles the same step function in 0.1 s and it runs as fast (1.5 ns per variable per
step). Optimising does not pay (measured on the same chains): LLVM's ``-O2`` instruction
selection and scheduling take 33-40 s on the 1000-stock step function (one huge basic block)
against 0.25 s at ``-O0``, for runs at most ~10% faster; on the 100-stock chain ``-O2`` costs
0.4-0.6 s more for 9%; running the ``-O2`` IR pipeline and emitting at ``-O0`` gains nothing.
A fixed interpreter over an op tape would need no compilation per model but costs several
dispatches per variable per step. So the per-model part is only the straight-line step function
in LLVM IR; everything else (time loop, Runge-Kutta stages, saving, checks, the run dimension
with ``prange``) is one fixed numba kernel compiled once per installation and cached by numba.

Disk cache: ``<cache>/native/<hash>.o`` with ``<hash>.json`` (the layout), where the hash is
SHA-256 of :func:`model_fingerprint` with the llvmlite version and this module's format, and
``<cache>`` is :func:`~sdhealth.backends.base.cache_root`'s folder. A warm load reads the two
files and links the object file without expanding, printing or compiling anything. Files appear
only complete (written to a temporary name, then renamed).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm
import sympy

from sdhealth.backends.base import cache_root
from sdhealth.compile.compiled import CompiledModel as _Lowered
from sdhealth.compile.compiled import compile_model as lowered
from sdhealth.compile.sampling import lower_sampling
from sdhealth.compile.variable_orders import fix_variable_orders
from sdhealth.errors import BackendError
from sdhealth.ir.model import Constant, Lookup, Model, Stock

from .codegen import CLOCK_FUNCTION, EVAL_FUNCTION, INIT_FUNCTION, generate_module
from .layout import Layout

__all__ = [
    "NativeProgram",
    "compile_program",
    "CompiledModel",
    "compile_model",
    "lower_for_native",
    "model_fingerprint",
    "cache_root",
]

_FORMAT = "sdhealth-native-5"  # bump when generated code or expand_stateful changes


@dataclass(frozen=True)
class NativeProgram:
    """Machine code of one model: the entry points and the slot layout.

    ``engine`` keeps the loaded code alive; the addresses are valid while it is.
    ``clock_address`` is that of ``sd_clock``, 0 when the model's clock settings are numbers.
    """

    layout: Layout
    init_address: int
    eval_address: int
    engine: object
    digest: str
    clock_address: int = 0

    @property
    def addresses(self) -> tuple[int, int, int]:
        """``(sd_init, sd_eval, sd_clock)`` as the kernel takes them."""
        return (self.init_address, self.eval_address, self.clock_address)


def _target_machine() -> llvm.TargetMachine:
    """A new target machine: an execution engine owns (and frees) the one it is given."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(opt=0, reloc="pic", codemodel="default")


def _describe(expr: sympy.Basic, memo: dict[sympy.Basic, str]) -> str:
    """A stable text of an expression tree (``srepr`` is several times slower)."""
    known = memo.get(expr)
    if known is not None:
        return known
    if isinstance(expr, sympy.Symbol):
        text = f"${expr.name}$"
    elif expr.is_Number:
        text = repr(float(expr))
    else:
        text = f"{type(expr).__name__}({','.join(_describe(a, memo) for a in expr.args)})"
    memo[expr] = text
    return text


def model_fingerprint(model: Model) -> str:
    """A text that changes whenever anything that affects a run changes (not docs or units)."""
    parts = []
    memo: dict[sympy.Basic, str] = {}
    for v in model.variables:
        kind = type(v).__name__
        if isinstance(v, Constant):
            parts.append(f"{kind}|{v.key}|{float(v.value)!r}")
        elif isinstance(v, Lookup):
            parts.append(f"{kind}|{v.key}|{v.xs!r}|{v.ys!r}|{v.extrapolation.value}")
        elif isinstance(v, Stock):
            parts.append(
                f"{kind}|{v.key}|{_describe(v.initial.expr, memo)}|{v.inflows!r}|{v.outflows!r}"
                f"|{v.non_negative}|{v.internal}|{v.name}"
            )
        else:
            equation = v.equations()[0].expr
            parts.append(
                f"{kind}|{v.key}|{_describe(equation, memo)}|{getattr(v, 'internal', False)}"
            )
        parts.append(v.name)
    for setting, equation in model.time.equations:  # the clock numbers are run settings
        parts.append(f"clock|{setting}|{_describe(equation.expr, memo)}")
    return "\n".join(parts)


def _link(obj: bytes, layout: Layout, digest: str) -> NativeProgram:
    machine = _target_machine()
    host = llvm.parse_assembly("")
    host.triple = machine.triple
    engine = llvm.create_mcjit_compiler(host, machine)
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    return NativeProgram(
        layout,
        engine.get_function_address(INIT_FUNCTION),
        engine.get_function_address(EVAL_FUNCTION),
        engine,
        digest,
        engine.get_function_address(CLOCK_FUNCTION) if layout.has_clock else 0,
    )


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(scratch, path)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)


def lower_for_native(model: Model) -> Model:
    """``model`` lowered to scalars, before its stateful builtins are expanded (external data
    read, subscripts flattened, variable orders fixed, ``SAMPLE IF TRUE`` a stock)."""
    return lower_sampling(fix_variable_orders(lowered(model).flat))


def emit_object(model: Model | _Lowered) -> tuple[bytes, Layout]:
    """Print and compile the expanded ``model`` into an object file (no cache)."""
    text, layout = generate_module(lowered(model).expanded)
    try:
        module = llvm.parse_assembly(text)
        module.verify()
    except RuntimeError as error:  # a printer bug, never the user's text
        raise BackendError(f"the native backend produced invalid code: {error}") from error
    return _target_machine().emit_object(module), layout


def compile_program(model: Model | _Lowered, cache_dir: Path | None = None) -> NativeProgram:
    """Machine code for ``model``, from the disk cache when an identical model was compiled.

    Parameters
    ----------
    model
        A :class:`~sdhealth.compile.compiled.CompiledModel`, or an IR model (lowered here).
        The cache key is made of its ``flat`` model, so a cache hit never expands anything.
    cache_dir
        Where object files are kept; ``None`` uses ``cache_root() / "native"``.
    """
    compiled = lowered(model)
    folder = cache_dir if cache_dir is not None else cache_root() / "native"
    key = f"{_FORMAT}\n{llvmlite.__version__}\n{model_fingerprint(compiled.flat)}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    obj_path, layout_path = folder / f"{digest}.o", folder / f"{digest}.json"
    if obj_path.exists() and layout_path.exists():
        try:
            layout = Layout.from_json(layout_path.read_text(encoding="utf-8"))
            return _link(obj_path.read_bytes(), layout, digest)
        except (OSError, ValueError, TypeError, RuntimeError):
            pass  # damaged: compile again
    obj, layout = emit_object(compiled)
    try:
        _write_atomic(obj_path, obj)
        _write_atomic(layout_path, layout.to_json().encode())
    except OSError:
        pass  # a read-only cache only costs the next load a compilation
    return _link(obj, layout, digest)


#: The names this module had before the compile layer's CompiledModel (issue 27).
CompiledModel = NativeProgram
compile_model = compile_program
