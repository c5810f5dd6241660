"""Batch runs: many parameter sets through one backend call, returned as an ``xarray.Dataset``.

This module owns what sits between a user's parameter sets and a backend's arrays:

- :func:`parameter_sets` validates a ``DataFrame`` (one row per run) or a dict of arrays (one
  entry per run; scalars are broadcast) against the model, before anything runs: unknown names,
  variables that are not constants, empty sets, non-numbers and non-finite numbers are errors;
- :func:`full_factorial` turns a dict of lists into every combination (the first name varies
  slowest), the grid of :meth:`sdhealth.Model.sweep`;
- :func:`run_parameter_sets` runs the sets in chunks of bounded memory -- each chunk is one
  kernel call on the native backend (the run dimension inside the kernel, over all cores), or
  a loop of single runs on a backend without batches -- and builds the ``Dataset``.

The ``Dataset`` has dimensions ``run`` and ``time``, one data variable per returned variable
(named as in the model) and each swept parameter as a coordinate on ``run``. A swept constant
is only a coordinate, never also a data variable (its value is the same at every time).

Memory: each chunk's output is at most ``max_chunk_bytes`` (64 MiB by default). Full results
are written into one preallocated array, so they cost ``runs x times x variables x 8`` bytes;
with ``summary`` only ``runs x statistics x variables`` values are kept (each chunk is reduced
as soon as it is computed), so 100,000 runs of a large model fit in memory. ``return_columns``
limits the variables in either case.

>>> full_factorial({"a": [1, 2], "b": [10, 20, 30]}).to_numpy().tolist()
[[1.0, 10.0], [1.0, 20.0], [1.0, 30.0], [2.0, 10.0], [2.0, 20.0], [2.0, 30.0]]
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from sdhealth.backends.base import Backend, RunSpec, get_backend
from sdhealth.errors import ModelError
from sdhealth.experiments.policies import Policy, apply_policies, constant_named
from sdhealth.ir.model import Model

__all__ = [
    "ParameterSets",
    "STATISTICS",
    "parameter_sets",
    "full_factorial",
    "is_batch",
    "run_parameter_sets",
    "apply_policies_to_sets",
]

#: Per-run statistics over the saved times: name -> reduction of ``values[run, time, var]``.
STATISTICS: Mapping[str, Callable[[np.ndarray], np.ndarray]] = {
    "initial": lambda values: values[:, 0, :],
    "final": lambda values: values[:, -1, :],
    "min": lambda values: values.min(axis=1),
    "max": lambda values: values.max(axis=1),
    "mean": lambda values: values.mean(axis=1),
    "std": lambda values: values.std(axis=1),
}

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


def _statistics(summary: Sequence[str] | None) -> tuple[str, ...] | None:
    if summary is None:
        return None
    names = (summary,) if isinstance(summary, str) else tuple(summary)
    unknown = [s for s in names if s not in STATISTICS]
    if unknown or not names:
        known = ", ".join(STATISTICS)
        raise ModelError(f"unknown summary statistic {unknown or names!r}; use some of {known}")
    return names


ChunkRunner = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray, tuple[str, ...]]]


def _chunk_runner(
    backend: Backend, model: Model, spec: RunSpec, keys: Sequence[str]
) -> ChunkRunner:
    """A function running ``matrix`` (rows = runs) -> ``(times, values[r, t, c], columns)``."""
    batch = getattr(backend, "run_batch", None)
    if batch is not None:

        def run_chunk(matrix: np.ndarray, offset: int) -> Any:
            return batch(model, spec, keys, matrix, spec.return_columns, run_offset=offset)

        return run_chunk

    def loop_chunk(matrix: np.ndarray, offset: int) -> Any:
        results = [
            backend.run(model, spec, dict(zip(keys, row.tolist(), strict=True))) for row in matrix
        ]
        first = results[0]
        return first.times, np.stack([r.values for r in results]), first.columns

    return loop_chunk


def _chunk_size(model: Model, spec: RunSpec, max_bytes: int) -> int:
    times = int((spec.stop - spec.start) / spec.save_every) + 2  # saved times, rounded up
    width = len(spec.return_columns) if spec.return_columns is not None else len(model.variables)
    return max(1, max_bytes // max(1, times * width * 8))


def run_parameter_sets(
    model: Model,
    spec: RunSpec,
    sets: ParameterSets,
    *,
    summary: Sequence[str] | None = None,
    backend: str = "native",
    max_chunk_bytes: int = MAX_CHUNK_BYTES,
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
        Names from :data:`STATISTICS`: keep only these per-run statistics over the saved
        times (dims ``run``, ``statistic``) instead of full time series.
    backend
        Registered backend name; ``"native"`` runs each chunk as one kernel call.
    max_chunk_bytes
        Bound on one chunk's output.

    Raises
    ------
    SimulationError
        The first failed run, naming the variable, the time and the run.
    """
    statistics = _statistics(summary)
    runner = _chunk_runner(get_backend(backend), model, spec, sets.keys)
    size = _chunk_size(model, spec, max_chunk_bytes)
    store: np.ndarray | None = None
    times: np.ndarray = np.empty(0)
    columns: tuple[str, ...] = ()
    for start in range(0, sets.runs, size):
        times, values, columns = runner(sets.values[start : start + size], start)
        if statistics is not None:
            values = np.stack([STATISTICS[s](values) for s in statistics], axis=1)
        if store is None:
            store = np.empty((sets.runs, *values.shape[1:]))
        store[start : start + values.shape[0]] = values
    assert store is not None  # sets.runs >= 1 (parameter_sets guarantees it)
    return _dataset(model, spec, sets, store, times, columns, statistics)


def _dataset(
    model: Model,
    spec: RunSpec,
    sets: ParameterSets,
    store: np.ndarray,
    times: np.ndarray,
    columns: tuple[str, ...],
    statistics: tuple[str, ...] | None,
) -> xr.Dataset:
    second = ("statistic", list(statistics)) if statistics is not None else ("time", times)
    dims = ("run", second[0])
    swept = set(sets.names)
    data = {name: (dims, store[:, :, c]) for c, name in enumerate(columns) if name not in swept}
    coords: dict[str, Any] = {"run": np.arange(sets.runs), second[0]: second[1]}
    coords.update({name: ("run", sets.values[:, i]) for i, name in enumerate(sets.names)})
    attrs = {"model": model.name, "method": spec.method, "dt": spec.dt}
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
