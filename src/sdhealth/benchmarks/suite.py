"""Speed of sdhealth's backends against PySD (and pysimlin where installed), same run, same models.

Engines: PySD directly (translate the printed ``.mdl``, load, run), sdhealth's PySD backend,
sdhealth native, and ``pysimlin`` (the Rust engine, from PyPI) if it is importable. Models: the
generated chain of N stocks (:mod:`sdhealth.benchmarks.chain`) and any models the caller adds
(the repository's ``benchmarks/run_benchmarks.py`` adds the shipped models). Every ratio is
measured in the same process, in the same call of :func:`benchmark`.

Where a figure would take minutes it is measured on fewer steps or runs and scaled linearly;
the row says so in its note (PySD on the 1000-stock chain runs a 5-month horizon and is scaled
per step; pysimlin loops are measured on up to 200 runs and scaled per run).
"""

from __future__ import annotations

import gc
import importlib.util
import os
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sdhealth.backends.base import RunSpec, get_backend
from sdhealth.backends.native import NativeBackend
from sdhealth.backends.native.compiler import compile_program
from sdhealth.compile.time_grid import time_grid
from sdhealth.ir.model import Model
from sdhealth.ir.vensim import model_to_vensim
from sdhealth.model import Model as UserModel

from .chain import chain_model

__all__ = [
    "Row",
    "benchmark",
    "QUICK_SIZES",
    "QUICK_BATCHES",
    "FULL_SIZES",
    "FULL_BATCHES",
    "HAS_SIMLIN",
]

HAS_SIMLIN = importlib.util.find_spec("simlin") is not None


def _timed(action: Callable[[], object], repeat: int = 1) -> float:
    """The best of ``repeat`` wall-clock timings of ``action()`` in seconds."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


@dataclass
class Row:
    """One measured figure: ``seconds`` of ``figure`` for ``engine`` on ``model``."""

    model: str
    engine: str
    figure: str
    seconds: float
    note: str = ""


@contextmanager
def _kernel(choice: str) -> Iterator[None]:
    """``SDHEALTH_NATIVE_KERNEL=choice`` inside the block (see :mod:`.interpreter`)."""
    before = os.environ.get("SDHEALTH_NATIVE_KERNEL")
    os.environ["SDHEALTH_NATIVE_KERNEL"] = choice
    try:
        yield
    finally:
        if before is None:
            del os.environ["SDHEALTH_NATIVE_KERNEL"]
        else:
            os.environ["SDHEALTH_NATIVE_KERNEL"] = before


def _mdl(model: Model, folder: Path) -> Path:
    from sdhealth.backends.pysd import for_pysd

    path = folder / "model.mdl"
    path.write_text(model_to_vensim(for_pysd(model), names="identifier"), encoding="utf-8")
    return path


def _steps(model: Model) -> int:
    t = model.time
    return len(time_grid(t.start, t.stop, t.dt, t.save_every)[0])


def _pysd_rows(name: str, model: Model, short: Model | None, folder: Path) -> list[Row]:
    import pysd

    rows = []
    measured = short or model
    scale = _steps(model) / _steps(measured)
    note = f"run of {_steps(measured)} steps scaled x{scale:.1f}" if short else ""
    mdl = _mdl(measured, folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows.append(
            Row(
                name,
                "PySD",
                "translate (cold)",
                _timed(lambda: pysd.read_vensim(str(mdl), initialize=False)),
            )
        )
        py = mdl.with_suffix(".py")
        rows.append(Row(name, "PySD", "load (warm)", _timed(lambda: pysd.load(str(py)))))
        engine = pysd.load(str(py))
        seconds = _timed(lambda: engine.run(progress=False), repeat=2 if not short else 1)
        rows.append(Row(name, "PySD", "one run (DataFrame)", seconds * scale, note))
        backend = get_backend("pysd")
        spec = RunSpec.from_time(measured.time)
        backend.run(measured, spec, {})
        seconds = _timed(lambda: backend.run(measured, spec, {}), repeat=1)
        rows.append(Row(name, "sdhealth pysd", "one run (arrays)", seconds * scale, note))
    return rows


def _native_rows(name: str, model: Model, batches: tuple[int, ...], folder: Path) -> list[Row]:
    rows = []
    cache = folder / "native"
    colds = iter(range(3))
    cold = _timed(lambda: compile_program(model, folder / f"cold-{next(colds)}"), 3)
    rows.append(Row(name, "native", "compile (cold)", cold, "best of 3, empty caches"))
    compile_program(model, cache)
    rows.append(
        Row(
            name,
            "native",
            "load (warm, from disk)",
            _timed(lambda: compile_program(model, cache), 3),
        )
    )
    backend = NativeBackend(cache)
    spec = RunSpec.from_time(model.time)
    with _kernel("interpreted"):
        backend.run(model, spec, {})
        interpreted = _timed(lambda: backend.run(model, spec, {}), 3)
    with _kernel("compiled"):
        backend.run(model, spec, {})
        kernel = _timed(lambda: backend.run(model, spec, {}), 9)
        frame = _timed(lambda: backend.run(model, spec, {}).to_frame(), 9)
    rows.append(Row(name, "native", "one run (kernel, arrays)", kernel))
    rows.append(Row(name, "native", "one run (DataFrame)", frame))
    n_vars = len(backend.compile(model).layout.value_keys)
    per = kernel / (n_vars * _steps(model))
    rows.append(Row(name, "native", "per variable per step", per, f"{n_vars} variables"))
    rows.append(
        Row(name, "native", "one run (interpreted kernel)", interpreted,
            "no numba: what a small single run uses until the kernel is loaded")
    )  # fmt: skip
    last = model.stocks[-1].name
    constant = next(v.name for v in model.variables if type(v).__name__ == "Constant")
    base = float(model[constant].value)  # type: ignore[attr-defined]
    for runs in batches:
        matrix = np.linspace(0.5 * base, 1.5 * base, runs)[:, None]

        def batch(matrix: np.ndarray = matrix) -> object:
            return backend.run_batch(model, spec, [constant], matrix, return_columns=[last])

        batch()
        tracemalloc.start()
        seconds = _timed(batch, 3 if runs * n_vars <= 1_000_000 else 1)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append(
            Row(name, "native", f"batch of {runs}", seconds, f"peak {peak / 2**20:.1f} MiB")
        )
    rows.append(_sweep_row(name, model, constant, base, batches[-1]))
    return rows


def _sweep_row(name: str, model: Model, constant: str, base: float, runs: int) -> Row:
    """The user-facing ``Model.sweep`` (validation, chunks, ``xarray.Dataset``) on one column."""
    handle = UserModel(model)
    last = model.stocks[-1].name
    values = np.linspace(0.5 * base, 1.5 * base, runs).tolist()
    handle.sweep({constant: values[:2]}, return_columns=[last])  # compiled before timing
    seconds = _timed(lambda: handle.sweep({constant: values}, return_columns=[last]))
    return Row(name, "native", f"Model.sweep of {runs} (Dataset)", seconds, "one variable")


def _simlin_rows(name: str, model: Model, batches: tuple[int, ...], folder: Path) -> list[Row]:
    import simlin

    mdl = _mdl(model, folder)
    rows = [Row(name, "pysimlin", "load (cold)", _timed(lambda: simlin.load(str(mdl))))]
    project = simlin.load(str(mdl))
    last = model.stocks[-1].key.replace(" ", "_")

    def one(overrides: dict[str, float] | None = None) -> np.ndarray:
        with project.simulate(overrides=overrides) as sim:
            sim.run_to_end()
            return sim.get_series(last)

    one()
    rows.append(Row(name, "pysimlin", "one run (one series)", _timed(one, 9)))
    constant = next(v for v in model.variables if type(v).__name__ == "Constant")
    ident = constant.key.replace(" ", "_")
    for runs in batches:
        measured = min(runs, 200)
        values = np.linspace(0.5, 1.5, measured) * float(constant.value)  # type: ignore[attr-defined]
        repeat = 3 if measured * len(model.variables) <= 100_000 else 1

        def loop(v: np.ndarray = values) -> list[np.ndarray]:
            return [one({ident: float(x)}) for x in v]

        seconds = _timed(loop, repeat)
        seconds *= runs / measured
        note = f"{measured} runs scaled x{runs / measured:g}" if measured < runs else ""
        rows.append(Row(name, "pysimlin", f"batch of {runs} (loop)", seconds, note))
    return rows


#: Chain sizes and batch sizes of the quick suite (``sdhealth bench``) and of the full one.
QUICK_SIZES, QUICK_BATCHES = (10, 100), (1, 100, 1000)
FULL_SIZES, FULL_BATCHES = (10, 100, 1000), (1, 100, 10_000)


def benchmark(
    quick: bool = False,
    *,
    sizes: Sequence[int] | None = None,
    batches: Sequence[int] | None = None,
    models: Sequence[tuple[str, Model]] = (),
) -> list[Row]:
    """Every figure for every model and engine, measured now.

    Parameters
    ----------
    quick
        Chains of :data:`QUICK_SIZES` stocks and batches of :data:`QUICK_BATCHES` runs
        (else :data:`FULL_SIZES`, :data:`FULL_BATCHES`).
    sizes, batches
        Override the chain sizes and batch sizes.
    models
        More ``(name, model)`` pairs to measure after the chains (the full suite of the
        repository adds its shipped models).
    """
    sizes = tuple(sizes if sizes is not None else QUICK_SIZES if quick else FULL_SIZES)
    runs = tuple(batches if batches is not None else QUICK_BATCHES if quick else FULL_BATCHES)
    todo: list[tuple[str, Model, Model | None]] = []
    for n in sizes:
        chain = chain_model(n)
        short = replace(chain, time=replace(chain.time, stop=5.0)) if n >= 1000 else None
        todo.append((f"chain {n}", chain, short))
    todo += [(name, model, None) for name, model in models]
    rows: list[Row] = []
    for name, model, short in todo:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            (folder / "pysd").mkdir()
            (folder / "simlin").mkdir()
            rows += _native_rows(name, model, runs, folder)
            rows += _pysd_rows(name, model, short, folder / "pysd")
            if HAS_SIMLIN and name.startswith("chain"):
                try:
                    rows += _simlin_rows(name, model, runs, folder / "simlin")
                except Exception as error:  # a model pysimlin cannot read: say so, go on
                    rows.append(Row(name, "pysimlin", "failed", float("nan"), str(error)[:60]))
    return rows
