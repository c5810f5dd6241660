"""Speed of sdhealth's backends against PySD (and pysimlin where installed), same run, same models.

Usage::

    python benchmarks/run_benchmarks.py [--quick] [--out benchmarks/results.md]

Engines: PySD directly (translate the printed ``.mdl``, load, run), sdhealth's PySD backend,
sdhealth native, and ``pysimlin`` (the Rust engine, from PyPI) if it is importable. Models: the
generated chain of N stocks (N = 10, 100, 1000; ``--quick``: 10 and 100) and the shipped models.
Every ratio in the table is measured in the same process, in the same run of this script.

Where a figure would take minutes it is measured on fewer steps or runs and scaled linearly;
the table says so in its notes column (PySD on the 1000-stock chain runs a 5-month horizon and
is scaled per step; pysimlin loops are measured on up to 200 runs and scaled per run).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sdhealth as sd  # noqa: E402
from models import chain_model, shipped_models  # noqa: E402
from sdhealth.backends.base import RunSpec, get_backend  # noqa: E402
from sdhealth.backends.native import NativeBackend  # noqa: E402
from sdhealth.backends.native.backend import time_grid  # noqa: E402
from sdhealth.backends.native.compiler import compile_model  # noqa: E402
from sdhealth.io.atomic import write_text_atomic  # noqa: E402
from sdhealth.ir.model import Model  # noqa: E402
from sdhealth.ir.vensim import model_to_vensim  # noqa: E402

__all__ = ["benchmark", "main"]

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
    model: str
    engine: str
    figure: str
    seconds: float
    note: str = ""


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
    cold = _timed(lambda: compile_model(model, folder / f"cold-{next(colds)}"), 3)
    rows.append(Row(name, "native", "compile (cold)", cold, "best of 3, empty caches"))
    compile_model(model, cache)
    rows.append(
        Row(
            name, "native", "load (warm, from disk)", _timed(lambda: compile_model(model, cache), 3)
        )
    )
    backend = NativeBackend(cache)
    spec = RunSpec.from_time(model.time)
    backend.run(model, spec, {})
    rows.append(
        Row(
            name,
            "native",
            "one run (kernel, arrays)",
            _timed(lambda: backend.run(model, spec, {}), 9),
        )
    )
    rows.append(
        Row(
            name,
            "native",
            "one run (DataFrame)",
            _timed(lambda: backend.run(model, spec, {}).to_frame(), 9),
        )
    )
    n_vars = len(backend.compile(model).layout.value_keys)
    per = rows[-2].seconds / (n_vars * _steps(model))
    rows.append(Row(name, "native", "per variable per step", per, f"{n_vars} variables"))
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
    handle = sd.Model(model)
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
        seconds = _timed(lambda v=values: [one({ident: float(x)}) for x in v], repeat)
        seconds *= runs / measured
        note = f"{measured} runs scaled x{runs / measured:g}" if measured < runs else ""
        rows.append(Row(name, "pysimlin", f"batch of {runs} (loop)", seconds, note))
    return rows


def benchmark(quick: bool = False) -> list[Row]:
    """Every figure for every model and engine, measured now."""
    sizes = (10, 100) if quick else (10, 100, 1000)
    batches = (1, 100, 1000) if quick else (1, 100, 10_000)
    models: list[tuple[str, Model, Model | None]] = []
    for n in sizes:
        chain = chain_model(n)
        short = replace(chain, time=replace(chain.time, stop=5.0)) if n >= 1000 else None
        models.append((f"chain {n}", chain, short))
    if not quick:
        models += [(stem, sd.load(path).ir, None) for stem, path in shipped_models().items()]
    rows: list[Row] = []
    for name, model, short in models:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            (folder / "pysd").mkdir()
            (folder / "simlin").mkdir()
            rows += _native_rows(name, model, batches, folder)
            rows += _pysd_rows(name, model, short, folder / "pysd")
            if HAS_SIMLIN and name.startswith("chain"):
                try:
                    rows += _simlin_rows(name, model, batches, folder / "simlin")
                except Exception as error:  # a model pysimlin cannot read: say so, go on
                    rows.append(Row(name, "pysimlin", "failed", float("nan"), str(error)[:60]))
    return rows


def _find(rows: list[Row], model: str, engine: str, figure: str) -> float | None:
    for row in rows:
        if (row.model, row.engine, row.figure) == (model, engine, figure):
            return row.seconds
    return None


def _ratio(a: float | None, b: float | None) -> str:
    return (
        ""
        if a is None or b is None or b == 0
        else f"{a / b:,.0f}x"
        if a / b >= 10
        else f"{a / b:.2f}x"
    )


def machine_note() -> str:
    """CPU count and load average: the context every figure was measured in."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load} (1, 5, 15 min)"


def render(rows: list[Row], notes: Sequence[str] = ()) -> str:
    """The results as Markdown: every figure, then the target ratios."""
    lines = [
        "# sdhealth benchmarks",
        "",
        *(f"- {note}" for note in notes),
        "- times are the best of repeated wall-clock timings (repeats: 9 for one run, 3 for "
        "compiles and small batches, 1 for batches over a million run-variables)",
        "- native one run saves every variable at every step; pysimlin's one run reads one "
        "series; batches return one variable; pysimlin batches are loops of `simulate` (up to "
        "200 runs measured, then scaled); native batches are one kernel call over both cores",
        "",
        "| model | engine | figure | time | notes |",
        "|---|---|---|---:|---|",
    ]
    for row in rows:
        shown = (
            f"{row.seconds * 1e9:.2f} ns"
            if "per variable" in row.figure
            else f"{row.seconds:.4g} s"
        )
        lines.append(f"| {row.model} | {row.engine} | {row.figure} | {shown} | {row.note} |")
    lines += ["", "## Ratios (same run)", "", "| model | ratio | value |", "|---|---|---:|"]
    for model in dict.fromkeys(r.model for r in rows):
        native_run = _find(rows, model, "native", "one run (kernel, arrays)")
        pairs = [
            (
                "PySD one run / native one run",
                _find(rows, model, "PySD", "one run (DataFrame)"),
                native_run,
            ),
            (
                "PySD one run / native one run (both DataFrame)",
                _find(rows, model, "PySD", "one run (DataFrame)"),
                _find(rows, model, "native", "one run (DataFrame)"),
            ),
            (
                "PySD translate / native cold compile",
                _find(rows, model, "PySD", "translate (cold)"),
                _find(rows, model, "native", "compile (cold)"),
            ),
            (
                "native one run / pysimlin one run",
                native_run,
                _find(rows, model, "pysimlin", "one run (one series)"),
            ),
        ]
        for batch in ("100", "10000", "1000"):
            pairs.append(
                (
                    f"pysimlin loop / native batch of {batch}",
                    _find(rows, model, "pysimlin", f"batch of {int(batch)} (loop)"),
                    _find(rows, model, "native", f"batch of {int(batch)}"),
                )
            )
        for label, a, b in pairs:
            if a is not None and b is not None:
                lines.append(f"| {model} | {label} | {_ratio(a, b)} |")
    lines += _targets(rows) + _scaling(rows)
    return "\n".join(lines) + "\n"


#: The issue's targets on the 1000-stock chain: (label, numerator, denominator, bound, at least).
_TARGETS = (
    ("one run: PySD / native >= 1000x", ("PySD", "one run (DataFrame)"),
     ("native", "one run (kernel, arrays)"), 1000.0, True),
    ("one run: native / pysimlin <= 1.5x", ("native", "one run (kernel, arrays)"),
     ("pysimlin", "one run (one series)"), 1.5, False),
    ("10,000 runs: pysimlin loop / native batch > 1x", ("pysimlin", "batch of 10000 (loop)"),
     ("native", "batch of 10000"), 1.0, True),
    ("cold: PySD translate / native compile >= 10x", ("PySD", "translate (cold)"),
     ("native", "compile (cold)"), 10.0, True),
)  # fmt: skip


def _targets(rows: list[Row], model: str = "chain 1000") -> list[str]:
    """The targets of the benchmark issue, met or not, from this run's figures."""
    lines = [
        "",
        f"## Targets ({model}, same run)",
        "",
        "| target | measured | met |",
        "|---|---:|---|",
    ]
    for label, (e1, f1), (e2, f2), bound, at_least in _TARGETS:
        a, b = _find(rows, model, e1, f1), _find(rows, model, e2, f2)
        if a is None or b is None or b == 0:
            continue
        met = a / b >= bound if at_least else a / b <= bound
        lines.append(f"| {label} | {_ratio(a, b)} | {'yes' if met else 'no'} |")
    warm = _find(rows, model, "native", "load (warm, from disk)")
    if warm is not None:
        lines.append(f"| warm load < 0.2 s | {warm:.3f} s | {'yes' if warm < 0.2 else 'no'} |")
    return lines if len(lines) > 5 else []


def _scaling(rows: list[Row]) -> list[str]:
    """How native cost grows with variables (per variable-step) and with runs (per run)."""
    lines = ["", "## Scaling (native)", "", "| model | figure | value |", "|---|---|---:|"]
    for row in rows:
        if row.engine != "native":
            continue
        if row.figure == "per variable per step":
            lines.append(f"| {row.model} | one run, per variable per step ({row.note}) | "
                         f"{row.seconds * 1e9:.2f} ns |")  # fmt: skip
        elif row.figure.startswith("batch of "):
            runs = int(row.figure.split()[-1])
            lines.append(
                f"| {row.model} | {row.figure}, per run | {row.seconds / runs * 1e3:.3f} ms |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small models and batches only")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.md")))
    args = parser.parse_args(argv)
    before = machine_note()
    rows = benchmark(args.quick)
    notes = [f"at start: {before}", f"at end: {machine_note()}"]
    text = render(rows, notes)
    raw = Path(args.out).with_suffix(".json")
    write_text_atomic(raw, json.dumps({"notes": notes, "rows": [asdict(r) for r in rows]}))
    write_text_atomic(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
