"""One chunk of an experiment's runs: what a local loop and a Dask task both run.

A :class:`Chunk` holds the IR model, the clock, the parameter matrix of some runs and the
summaries to keep; :func:`run_chunk` runs it with one backend call. Both
:mod:`sdhealth.experiments.batch` (here, one chunk after another) and
:mod:`sdhealth.experiments.distributed` (as Dask tasks) import this module, which imports
neither of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdhealth.backends.base import RunSpec, get_backend
from sdhealth.experiments.summaries import Summary, reduce_runs
from sdhealth.ir.model import Model

__all__ = ["Chunk", "ChunkResult", "run_chunk"]


@dataclass(frozen=True, eq=False)
class Chunk:
    """One unit of work: the runs ``runs`` of a sweep, one backend call (picklable, for Dask)."""

    model: Model
    spec: RunSpec
    keys: tuple[str, ...]
    matrix: np.ndarray
    runs: np.ndarray
    summaries: tuple[Summary, ...] | None
    backend: str = "native"


ChunkResult = tuple[np.ndarray, np.ndarray, tuple[str, ...]]


def run_chunk(chunk: Chunk) -> ChunkResult:
    """Run ``chunk`` and return ``(times, values, columns)``.

    ``values[r, i, c]`` is column ``c`` in the chunk's run ``r`` at ``times[i]`` -- or, with
    summaries, at summary ``i``. Run numbers in errors are the sweep's.
    """
    backend = get_backend(chunk.backend)
    backend.check_spec(chunk.spec)
    times, values, columns = backend.run_batch(
        chunk.model, chunk.spec, chunk.keys, chunk.matrix, run_offset=int(chunk.runs[0])
    )
    if chunk.summaries is not None:
        values = reduce_runs(chunk.summaries, values, times)
    return times, values, columns
