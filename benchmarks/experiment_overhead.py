"""Overhead of the experiment layer: ``Model.sweep`` against the bare batch kernel, NHS model.

Usage::

    python benchmarks/experiment_overhead.py [--runs 10000] [--repeats 2] [--large]
        [--out benchmarks/experiment_overhead.md]

The target (issue 7): a 10,000-run sweep of the NHS England model costs at most 2x the bare
batch kernel time. Both sides run the same 10,000 x 3 parameter matrix (three constants, each
within +-10% of its base value, drawn with a fixed seed) on the native backend, compiled before
timing:

- **kernel**: one ``NativeBackend.run_batch`` call over the whole matrix, every variable at
  every saved time (what the kernel produces; 1.5 GB for 10,000 runs);
- **sweep, summaries**: ``model.sweep(table, summary=[final, peak, time_of_peak,
  (mean, 24, 60)])`` -- validation, chunking (a progress bar's worth of chunks), per-chunk
  reductions and the ``Dataset``;
- **sweep, full**: ``model.sweep(table)`` -- every variable at every saved time, as a ``Dataset``.

``--large`` adds one 100,000-run summary sweep and reports its time and the peak memory of the
process (the "100,000 runs fit in memory" figure). Every ratio is measured in the same run of
this script; times are the best of ``--repeats``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

import sdhealth as sd
from sdhealth.backends.base import RunSpec, get_backend
from sdhealth.benchmarks import machine_note
from sdhealth.io.atomic import write_text_atomic

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "nhs_england.yaml"
SWEPT = ("Nurse leaver rate when rested", "Additional beds", "Care capacity expansion")
SUMMARY = ["final", "peak", "time_of_peak", ("mean", 24, 60)]


def _table(model: sd.Model, runs: int, seed: int = 2023) -> pd.DataFrame:
    """``runs`` parameter sets: each swept constant within +-10% of its base (or 0..0.1)."""
    rng = np.random.default_rng(seed)
    columns = {}
    for name in SWEPT:
        base = model.constants[name]
        low, high = (0.9 * base, 1.1 * base) if base else (0.0, 0.1)
        columns[name] = rng.uniform(low, high, runs)
    return pd.DataFrame(columns)


def _best(action: Callable[[], object], repeats: int) -> tuple[float, float]:
    """The least wall-clock and the least CPU time (all threads of the process) of repeats."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def _peak_memory_gib() -> float:
    scale = 2**30 if sys.platform == "darwin" else 2**20  # ru_maxrss: bytes on macOS, else kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def measure(runs: int, repeats: int) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of the kernel and the two sweeps over the same parameter sets."""
    model = sd.load(MODEL)
    table = _table(model, runs)
    backend = get_backend("native")
    spec = RunSpec.from_time(model.ir.time)
    keys = [model.ir[name].key for name in SWEPT]
    matrix = table.to_numpy()
    backend.run_batch(model.ir, spec, keys, matrix[:4], None)  # compile before timing
    model.sweep(table.iloc[:4], summary=SUMMARY, progress=False)
    kernel = _best(lambda: backend.run_batch(model.ir, spec, keys, matrix, None), repeats)
    summary = _best(lambda: model.sweep(table, summary=SUMMARY, progress=False), repeats)
    full = _best(lambda: model.sweep(table, progress=False), repeats)
    return {"kernel": kernel, "sweep, summaries": summary, "sweep, full": full}


def measure_large(runs: int = 100_000) -> tuple[float, float, float]:
    """Seconds, peak memory (GiB) and result size (GiB) of a ``runs``-run summary sweep."""
    model = sd.load(MODEL)
    table = _table(model, runs)
    start = time.perf_counter()
    dataset = model.sweep(table, summary=SUMMARY, progress=False)
    return time.perf_counter() - start, _peak_memory_gib(), dataset.nbytes / 2**30


def _saved_variables() -> int:
    """How many variables a full run of the model returns (the full sweep stores them all)."""
    model = sd.load(MODEL)
    return len(model.run(stop=model.time.start + model.time.dt).columns)


def render(
    runs: int,
    figures: dict[str, tuple[float, float]],
    large: tuple[float, float, float] | None,
    notes: list[str],
) -> str:
    wall0, cpu0 = figures["kernel"]
    lines = [
        "# Experiment-layer overhead (NHS England model)",
        "",
        *(f"- {note}" for note in notes),
        f"- {runs:,} runs of `models/nhs_england.yaml` (96 months, dt 1/16, "
        f"{_saved_variables()} variables saved per run), "
        f"swept: {', '.join(SWEPT)}; summaries: final, peak, time_of_peak, mean[24,60]",
        "- written by `python benchmarks/experiment_overhead.py`; best of the repeats; CPU time",
        "  is that of every thread of the process (the kernel runs on both cores), the steadier",
        "  figure on a shared machine",
        "",
        "| what | wall (s) | x kernel (wall) | CPU (s) | x kernel (CPU) | CPU per run (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for what, (wall, cpu) in figures.items():
        lines.append(
            f"| {what} | {wall:.2f} | {wall / wall0:.2f} | {cpu:.2f} | {cpu / cpu0:.2f} "
            f"| {1000 * cpu / runs:.3f} |"
        )
    worst_wall = max(wall for wall, _ in figures.values()) / wall0
    worst_cpu = max(cpu for _, cpu in figures.values()) / cpu0
    verdict = "met" if max(worst_wall, worst_cpu) <= 2 else "NOT met"
    lines += [
        "",
        f"Target (a sweep costs at most 2x the bare kernel): **{verdict}** "
        f"(worst {worst_wall:.2f}x wall-clock, {worst_cpu:.2f}x CPU).",
    ]
    if large is not None:
        seconds, peak, size = large
        lines += [
            "",
            f"100,000-run summary sweep: {seconds:.1f} s, result {size:.3f} GiB, "
            f"peak memory of the process {peak:.2f} GiB.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--large", action="store_true", help="also a 100,000-run summary sweep")
    parser.add_argument("--out", default=str(Path(__file__).with_name("experiment_overhead.md")))
    args = parser.parse_args(argv)
    before = machine_note()
    large = measure_large() if args.large else None  # first: its peak memory is its own
    figures = measure(args.runs, args.repeats)
    notes = [f"at start: {before}", f"at end: {machine_note()}"]
    text = render(args.runs, figures, large, notes)
    write_text_atomic(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
