"""Batch runs: many parameter sets in chunks through a backend, as one ``xarray.Dataset``.

This module owns what sits between a user's parameter sets and a backend's arrays:

- :func:`parameter_sets` validates a ``DataFrame`` (one row per run) or a dict of arrays (one
  entry per run; scalars are broadcast) against the model, before anything runs: unknown names,
  variables that are not constants, empty sets, non-numbers and non-finite numbers are errors;
- :func:`full_factorial` turns a dict of lists into every combination (the first name varies
  slowest), the grid of :meth:`sdhealth.Model.sweep`;
- :func:`run_groups` (and :func:`run_parameter_sets`, its one-group form) runs the sets in
  :class:`Chunk` s -- each one kernel call on the native backend (the run dimension inside the
  kernel, over all cores), or a loop of single runs on a backend without batches -- here, or
  on a Dask cluster (:mod:`sdhealth.experiments.distributed`), and builds the ``Dataset``.
  What runs (grids, tables, scenarios) is planned by :mod:`sdhealth.experiments.sweeps`.

The ``Dataset`` has dimensions ``run`` and ``time``, one data variable per returned variable
(named as in the model) and each swept parameter as a coordinate on ``run``. A swept constant
is only a coordinate, never also a data variable (its value is the same at every time).

Chunks (:func:`chunk_size`): at most ``max_chunk_bytes`` of output (64 MiB by default), at most
1/20 of the runs so a progress bar moves, but at least 256 runs so each kernel call keeps the
cores busy. Full results go into one preallocated array (``runs x times x variables x 8``
bytes); with ``summary`` (:mod:`sdhealth.experiments.summaries`) each chunk is reduced as soon
as it is computed and only ``runs x summaries x variables`` values are kept, so 100,000 runs of
a large model fit in memory. ``return_columns`` limits the variables in either case.

Progress and Ctrl-C: a bar over runs (:mod:`sdhealth.experiments.progress`) moves after each
chunk. A ``KeyboardInterrupt`` while chunks run stops the sweep and returns the runs finished
so far (``attrs["interrupted"] = 1``, ``attrs["runs_requested"]``); the ``run`` coordinate
keeps each run's number in the whole sweep.

>>> full_factorial({"a": [1, 2], "b": [10, 20, 30]}).to_numpy().tolist()
[[1.0, 10.0], [1.0, 20.0], [1.0, 30.0], [2.0, 10.0], [2.0, 20.0], [2.0, 30.0]]
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sdhealth.backends.base import RunSpec

if TYPE_CHECKING:  # xarray is imported where a Dataset is made (0.12 s off `import sdhealth`)
    import xarray as xr
from sdhealth.compile.time_grid import time_grid
from sdhealth.errors import ModelError, SdhealthError
from sdhealth.experiments.chunks import Chunk, ChunkResult, run_chunk
from sdhealth.experiments.policies import Policy, apply_policies, constant_named
from sdhealth.experiments.progress import progress_bar
from sdhealth.experiments.summaries import (
    STATISTICS,
    Summary,
    SummarySpec,
    parse_summaries,
)
from sdhealth.ir.model import Model

__all__ = [
    "Chunk",
    "ExperimentError",
    "ParameterSets",
    "RunGroup",
    "STATISTICS",
    "chunk_size",
    "make_chunks",
    "run_chunk",
    "run_groups",
    "parameter_sets",
    "full_factorial",
    "is_batch",
    "run_parameter_sets",
    "apply_policies_to_sets",
]

#: Output bytes one chunk of runs may hold before it is stored or reduced.
MAX_CHUNK_BYTES = 64 * 2**20


@dataclass(frozen=True, eq=False)
class ParameterSets:
    """Validated parameter sets: ``values[r, i]`` is constant ``names[i]`` in run ``r``.

    ``names`` are the modellers' names of the constants, ``keys`` their variable keys.
    """

    names: tuple[str, ...]
    keys: tuple[str, ...]
    values: np.ndarray

    @property
    def runs(self) -> int:
        return int(self.values.shape[0])


def is_batch(params: object) -> bool:
    """Whether ``params`` asks for many runs: a DataFrame, or a mapping with an array value.

    >>> is_batch({"a": 1.0}), is_batch({"a": [1.0, 2.0]}), is_batch(None)
    (False, True, False)
    """
    if isinstance(params, pd.DataFrame):
        return True
    if isinstance(params, Mapping):
        return any(np.ndim(v) > 0 for v in params.values())
    return False


def _numbers(name: str, raw: Any) -> np.ndarray:
    """``raw`` as a 1-d float array, or a clear error (strings are not numbers here)."""
    array = np.asarray(raw)
    numeric = array.dtype.kind in "iuf" or (
        array.dtype.kind == "O"
        and all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in array.flat)
    )
    if not numeric:
        raise ModelError(f"parameter {name!r} must be numbers, got {raw!r}")
    if array.ndim > 1:
        raise ModelError(f"parameter {name!r} must be one value per run, got shape {array.shape}")
    values = array.astype(float).reshape(-1)
    if not np.all(np.isfinite(values)):
        raise ModelError(f"parameter {name!r} must be finite numbers, got {raw!r}")
    return values


def _columns(params: pd.DataFrame | Mapping[str, Any]) -> dict[str, np.ndarray]:
    if isinstance(params, pd.DataFrame):
        if params.shape[0] == 0:
            raise ModelError("no parameter sets: the DataFrame has no rows")
        return {str(name): _numbers(str(name), params[name].to_numpy()) for name in params}
    columns = {name: _numbers(name, value) for name, value in params.items()}
    lengths = {name: v.size for name, v in columns.items() if np.ndim(params[name]) > 0}
    if set(lengths.values()) - {0} and 0 in lengths.values():
        empty = next(name for name, size in lengths.items() if size == 0)
        raise ModelError(f"parameter {empty!r} has no values")
    if set(lengths.values()) == {0}:
        raise ModelError("no parameter sets: every parameter has an empty list of values")
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name!r}: {size}" for name, size in lengths.items())
        raise ModelError(f"parameters need the same number of values per run ({shown})")
    runs = next(iter(lengths.values()), 1)
    return {name: np.broadcast_to(v, (runs,)) for name, v in columns.items()}


def parameter_sets(model: Model, params: pd.DataFrame | Mapping[str, Any]) -> ParameterSets:
    """Check ``params`` against ``model`` and return them as a matrix (see module docstring).

    Raises
    ------
    UnknownNameError
        A name is not a variable of the model (with did-you-mean).
    ModelError
        A name is not a constant, is given twice, or its values are empty, of unequal length,
        not numbers or not finite.
    """
    columns = _columns(params)
    if not columns:
        raise ModelError("no parameter sets: no parameters given")
    constants = [constant_named(model, name) for name in columns]
    keys = [c.key for c in constants]
    if len(set(keys)) < len(keys):
        twice = next(c.name for c in constants if keys.count(c.key) > 1)
        raise ModelError(f"parameter {twice!r} is given more than once")
    values = np.column_stack(list(columns.values())).astype(float)
    return ParameterSets(tuple(c.name for c in constants), tuple(keys), values)


def full_factorial(spec: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """Every combination of the values in ``spec``, one row per run (first name slowest).

    Raises
    ------
    ModelError
        ``spec`` is empty, or a name has no values or values that are not numbers.
    """
    if not spec:
        raise ModelError("a sweep needs at least one parameter")
    axes = {name: _numbers(name, values) for name, values in spec.items()}
    for name, values in axes.items():
        if values.size == 0 or np.ndim(spec[name]) == 0:
            raise ModelError(f"parameter {name!r} needs a list of values, got {spec[name]!r}")
    rows = list(itertools.product(*(v.tolist() for v in axes.values())))
    return pd.DataFrame(rows, columns=list(axes), dtype=float)


#: Chunks of runs are at most this share of a sweep, so a progress bar moves ...
CHUNKS_PER_SWEEP = 20
#: ... but hold at least this many runs, so each kernel call keeps the cores busy.
MIN_CHUNK_RUNS = 256


@dataclass(frozen=True, eq=False)
class RunGroup:
    """Runs that share one model (the same policies): ``values[i, j]`` is ``keys[j]`` in run
    ``runs[i]`` of the sweep."""

    model: Model
    keys: tuple[str, ...]
    values: np.ndarray
    runs: np.ndarray


class ExperimentError(SdhealthError):
    """A run of an experiment failed after other runs had finished: nothing is lost.

    ``partial`` is the ``Dataset`` of the finished runs (``attrs["interrupted"] = 1``),
    ``runs`` the run numbers of the chunk that failed, ``cause`` the run's own error.
    ``str(error)`` says which runs failed and why, in one line.
    """

    def __init__(
        self, message: str, partial: xr.Dataset, runs: Sequence[int], cause: BaseException
    ) -> None:
        super().__init__(message)
        self.partial = partial
        self.runs = tuple(int(r) for r in runs)
        self.cause = cause

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.partial, self.runs, self.cause))


def _failed(error: SdhealthError, chunk: Chunk, partial: xr.Dataset) -> ExperimentError:
    """The error of a failed chunk, keeping the runs that finished before it."""
    runs = chunk.runs
    which = f"run {runs[0]}" if runs.size == 1 else f"one of runs {runs[0]}-{runs[-1]}"
    done, asked = partial.sizes["run"], partial.attrs["runs_requested"]
    return ExperimentError(
        f"{which} failed: {error} ({done} of {asked} runs finished and are kept)",
        partial,
        runs.tolist(),
        error,
    )


def chunk_size(model: Model, spec: RunSpec, runs: int, max_bytes: int = MAX_CHUNK_BYTES) -> int:
    """Runs per chunk: at most ``max_bytes`` of output, at most 1/20 of the runs (the progress
    bar moves) but at least :data:`MIN_CHUNK_RUNS` (the kernel stays efficient).

    >>> from sdhealth.ir.model import TimeSpec
    >>> spec = RunSpec.from_time(TimeSpec(0, 10, 1))
    >>> chunk_size(Model("m", TimeSpec(0, 10, 1), ()), spec, 100_000)
    5000
    """
    times = int((spec.stop - spec.start) / spec.save_every) + 2  # saved times, rounded up
    width = len(spec.return_columns) if spec.return_columns is not None else len(model.variables)
    by_memory = max(1, max_bytes // max(1, times * width * 8))
    by_progress = max(MIN_CHUNK_RUNS, -(-runs // CHUNKS_PER_SWEEP))
    return min(by_memory, by_progress)


def make_chunks(
    groups: Sequence[RunGroup],
    spec: RunSpec,
    size: int,
    summaries: tuple[Summary, ...] | None,
    backend: str,
) -> list[Chunk]:
    """Split every group into chunks of at most ``size`` runs."""
    return [
        Chunk(
            group.model,
            spec,
            group.keys,
            group.values[lo : lo + size],
            group.runs[lo : lo + size],
            summaries,
            backend,
        )  # fmt: skip
        for group in groups
        for lo in range(0, group.runs.size, size)
    ]


def _check_windows(summaries: tuple[Summary, ...] | None, spec: RunSpec) -> None:
    """Every summary window holds a saved time (checked before any run)."""
    if summaries is None:
        return
    saved = time_grid(spec.start, spec.stop, spec.dt, spec.save_every)[2]
    for summary in summaries:
        summary.window(saved)


def _completed(
    chunks: Sequence[Chunk], executor: Any
) -> Generator[tuple[int, ChunkResult], None, None]:
    """``(chunk index, result)`` as chunks finish: here, one by one, or on a Dask cluster."""
    if executor is None:
        for index, chunk in enumerate(chunks):
            yield index, run_chunk(chunk)
        return
    from sdhealth.experiments.distributed import run_chunks

    yield from run_chunks(executor, chunks)


@dataclass
class _Store:
    """Results gathered so far: ``values[run, time or summary, column]`` and which runs are done."""

    runs: int
    values: np.ndarray | None = None
    times: np.ndarray = field(default_factory=lambda: np.empty(0))
    columns: tuple[str, ...] = ()
    done: np.ndarray = field(default_factory=lambda: np.empty(0, bool))

    def add(self, chunk: Chunk, result: ChunkResult) -> None:
        times, values, columns = result
        if self.values is None:
            self.values = np.empty((self.runs, *values.shape[1:]))
            self.times, self.columns = times, columns
            self.done = np.zeros(self.runs, bool)
        elif columns != self.columns:
            values = values[:, :, _reorder(columns, self.columns)]
        self.values[chunk.runs] = values
        self.done[chunk.runs] = True


def _reorder(columns: tuple[str, ...], wanted: tuple[str, ...]) -> list[int]:
    position = {name: i for i, name in enumerate(columns)}
    missing = [name for name in wanted if name not in position]
    if missing:
        raise ModelError(f"runs of the sweep differ in their variables ({missing[0]!r})")
    return [position[name] for name in wanted]


def run_parameter_sets(
    model: Model,
    spec: RunSpec,
    sets: ParameterSets,
    *,
    summary: SummarySpec | None = None,
    backend: str = "native",
    max_chunk_bytes: int = MAX_CHUNK_BYTES,
    progress: bool | None = False,
    executor: Any = None,
) -> xr.Dataset:
    """Run every parameter set of ``sets`` and return one ``Dataset`` (see module docstring).

    Parameters
    ----------
    model
        The IR model (policies already applied).
    spec
        Clock, method and ``return_columns`` (keys) shared by all runs.
    sets
        From :func:`parameter_sets`.
    summary
        Keep only these per-run statistics (dims ``run``, ``statistic``) instead of full time
        series; see :mod:`sdhealth.experiments.summaries`.
    backend
        Registered backend name; ``"native"`` runs each chunk as one kernel call.
    max_chunk_bytes
        Bound on one chunk's output.
    progress
        Show a progress bar over runs (``None``: only on a terminal).
    executor
        A ``dask.distributed.Client``: chunks run as Dask tasks (see
        :mod:`sdhealth.experiments.distributed`); ``None`` runs them here.

    Returns
    -------
    xarray.Dataset
        If interrupted (Ctrl-C), the finished runs only, with ``attrs["interrupted"] = 1``.

    Raises
    ------
    SimulationError
        The first failed run, naming the variable, the time and the run, if no run finished.
    ExperimentError
        A run failed after others finished: ``.partial`` holds the finished runs.
    """
    group = RunGroup(model, sets.keys, sets.values, np.arange(sets.runs))
    return run_groups(
        [group], spec, sets, summary=summary, backend=backend, max_chunk_bytes=max_chunk_bytes,
        progress=progress, executor=executor,
    )  # fmt: skip


def run_groups(
    groups: Sequence[RunGroup],
    spec: RunSpec,
    sets: ParameterSets,
    *,
    labels: Mapping[str, np.ndarray] | None = None,
    summary: SummarySpec | None = None,
    backend: str = "native",
    max_chunk_bytes: int = MAX_CHUNK_BYTES,
    progress: bool | None = False,
    executor: Any = None,
) -> xr.Dataset:
    """Run ``groups`` (together every run of ``sets``) in chunks and build the ``Dataset``.

    ``sets`` gives the parameter coordinates of every run and ``labels`` further coordinates
    on ``run`` (e.g. ``scenario``). Ctrl-C (``KeyboardInterrupt``) while the chunks run stops
    the sweep: the ``Dataset`` of the runs finished so far is returned, with
    ``attrs["interrupted"] = 1``; if no run had finished, the interrupt propagates.
    """
    summaries = parse_summaries(summary)
    _check_windows(summaries, spec)
    size = chunk_size(groups[0].model, spec, sets.runs, max_chunk_bytes)
    chunks = make_chunks(groups, spec, size, summaries, backend)
    store = _Store(sets.runs)
    interrupted = False
    with progress_bar(sets.runs, "sweep", "run", progress) as bar:
        results = _completed(chunks, executor)
        index = 0
        try:
            for index, result in results:
                store.add(chunks[index], result)
                bar.update(chunks[index].runs.size)
        except KeyboardInterrupt:
            if store.values is None:
                raise
            interrupted = True
        except SdhealthError as error:
            if store.values is None:  # nothing finished: the run's own error
                raise
            failed = _failing_chunk(chunks, store, index)
            partial = _dataset(groups[0].model, spec, sets, store, summaries, labels or {}, True)
            raise _failed(error, failed, partial) from error
        finally:
            results.close()
    return _dataset(groups[0].model, spec, sets, store, summaries, labels or {}, interrupted)


def _failing_chunk(chunks: Sequence[Chunk], store: _Store, last: int) -> Chunk:
    """The first chunk with runs not done (chunks run in order here; on Dask, any one)."""
    for chunk in chunks:
        if not store.done[chunk.runs].all():
            return chunk
    return chunks[last]


def _dataset(
    model: Model,
    spec: RunSpec,
    sets: ParameterSets,
    store: _Store,
    summaries: tuple[Summary, ...] | None,
    labels: Mapping[str, np.ndarray],
    interrupted: bool,
) -> xr.Dataset:
    assert store.values is not None  # at least one chunk finished
    done = np.flatnonzero(store.done)
    values = store.values if done.size == sets.runs else store.values[done]
    if summaries is not None:
        second: tuple[str, Any] = ("statistic", [s.label for s in summaries])
    else:
        second = ("time", store.times)
    dims = ("run", second[0])
    swept = set(sets.names)
    data = {
        name: (dims, values[:, :, c]) for c, name in enumerate(store.columns) if name not in swept
    }
    coords: dict[str, Any] = {"run": done, second[0]: second[1]}
    coords.update({name: ("run", sets.values[done, i]) for i, name in enumerate(sets.names)})
    coords.update({name: ("run", np.asarray(label)[done]) for name, label in labels.items()})
    attrs = {
        "model": model.name,
        "method": spec.method,
        "dt": spec.dt,
        "runs_requested": sets.runs,
        "interrupted": int(interrupted),
    }
    import xarray as xr

    return xr.Dataset(data, coords=coords, attrs=attrs)


def apply_policies_to_sets(
    model: Model, sets: ParameterSets, policies: Sequence[Policy]
) -> tuple[Model, ParameterSets]:
    """``model`` with ``policies`` applied, and the sets without the policies' targets.

    A policy's target takes its base value from the sets when that value is the same in every
    run (a scenario's value, broadcast); a target swept over different values is an error,
    since one compiled model serves every run of a batch.
    """
    if not policies:
        return model, sets
    targets = {constant_named(model, p.target, role="policy target").key for p in policies}
    base: dict[str, float] = {}
    for i, key in enumerate(sets.keys):
        if key in targets:
            column = sets.values[:, i]
            if np.any(column != column[0]):
                raise ModelError(
                    f"{sets.names[i]!r} is both a policy target and swept over different "
                    "values; sweep another parameter or put the change in the policy"
                )
            base[key] = float(column[0])
    keep = [i for i, key in enumerate(sets.keys) if key not in targets]
    remaining = ParameterSets(
        tuple(sets.names[i] for i in keep),
        tuple(sets.keys[i] for i in keep),
        sets.values[:, keep],
    )
    return apply_policies(model, policies, base), remaining
