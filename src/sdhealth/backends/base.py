"""The backend contract and the registry of backends.

A backend integrates an IR model: it takes the model, a :class:`RunSpec` (clock, method,
columns) and parameter values, and returns a :class:`RunResult` of plain arrays with a status.
It knows nothing of YAML or of the user-facing ``sdhealth.Model``; that layer builds the
DataFrame (:meth:`RunResult.to_frame`) and applies policies before calling the backend.

Backends register under a name with :func:`register_backend` and are found with
:func:`get_backend`, which returns one shared instance per name (backends keep caches of
translated or compiled models, so sharing the instance shares the cache).

>>> get_backend("no-such-engine")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sdhealth.errors.BackendError: unknown backend 'no-such-engine'; available: ...pysd...
"""

from __future__ import annotations

import abc
import importlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple, TypedDict, TypeVar

import numpy as np
import pandas as pd

from sdhealth.backends.support import pysd_lacks
from sdhealth.compile.run_size import ensure_run_fits, measure_run
from sdhealth.errors import BackendError, SdhealthWarning, SimulationError, UnsupportedByBackend
from sdhealth.io.caches import cache_root  # re-exported: the backends' caches live under it
from sdhealth.ir.model import Model, TimeSpec

__all__ = [
    "cache_root",
    "Method",
    "RunStatus",
    "RunSpec",
    "RunOptions",
    "RUN_OPTION_NAMES",
    "RunResult",
    "BatchResult",
    "Backend",
    "BackendFallbackWarning",
    "run_with_fallback",
    "register_backend",
    "get_backend",
    "available_backends",
    "METHODS",
]


class Method(StrEnum):
    """An integration method (each backend declares which it supports).

    A ``StrEnum``: ``Method.RK4 == "rk4"``, and a run accepts either spelling.
    """

    EULER = "euler"
    RK2 = "rk2"
    RK4 = "rk4"


class RunStatus(StrEnum):
    """How a run ended: ``OK`` finished; ``FAILED`` stopped early (``message`` says why)."""

    OK = "ok"
    FAILED = "failed"


#: Integration methods a run may ask for, as text (the values of :class:`Method`).
METHODS = tuple(m.value for m in Method)

#: Backends that ship with sdhealth, imported on first use: name -> module.
_BUILTIN_MODULES: dict[str, str] = {
    "pysd": "sdhealth.backends.pysd",
    "native": "sdhealth.backends.native",
}


@dataclass(frozen=True)
class RunSpec:
    """How to run: the one object run options travel in, from the facade to the backend.

    The clock (``start``, ``stop``, ``dt``, ``saveper``; ``saveper`` defaults to ``dt``), the
    integration :class:`Method`, which variables to return (``return_columns``: variable
    keys, or names matched as keys; ``None`` returns every non-internal stock, flow,
    auxiliary and constant), and for the layers above a backend: the ``backend`` to run on
    (``None``: native, falling back to PySD where it must; :func:`run_with_fallback`), a
    ``progress`` bar (``None``: only on a terminal) and an ``executor`` (a
    ``dask.distributed.Client`` for many runs; never pickled with the spec).

    Settings no run can have (non-finite, ``dt <= 0``, ``stop < start``) raise
    :class:`~sdhealth.errors.RunSettingsError`, and more time steps than the limit
    :class:`~sdhealth.errors.RunSizeError` (:mod:`sdhealth.compile.run_size`).

    >>> spec = RunSpec.from_time(TimeSpec(0, 10, 0.5), stop=20, method="rk4")
    >>> spec.stop, spec.method is Method.RK4
    (20, True)
    """

    start: float
    stop: float
    dt: float
    saveper: float | None = None
    method: Method = Method.EULER
    return_columns: tuple[str, ...] | None = None
    backend: str | None = None
    progress: bool | None = field(default=None, compare=False)
    executor: object = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Clock settings no run can have, and more time steps than the limit, are refused
        # here, before any backend allocates anything (sdhealth.compile.run_size).
        ensure_run_fits(measure_run(self.start, self.stop, self.dt, self.saveper, columns=0))
        try:
            object.__setattr__(self, "method", Method(self.method))
        except ValueError:
            raise BackendError(
                f"unknown integration method {self.method!r}; use one of {', '.join(METHODS)}"
            ) from None

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled (for Dask workers) without the executor, which stays with the caller."""
        return (
            RunSpec,
            (self.start, self.stop, self.dt, self.saveper, self.method, self.return_columns,
             self.backend, self.progress),
        )  # fmt: skip

    @classmethod
    def from_time(cls, time: TimeSpec, **overrides: object) -> RunSpec:
        """A spec with a model's clock, changed by any ``overrides`` that are not ``None``."""
        spec = cls(time.start, time.stop, time.dt, time.saveper)
        changes = {k: v for k, v in overrides.items() if v is not None}
        return replace(spec, **changes)  # type: ignore[arg-type]

    @property
    def save_every(self) -> float:
        return self.dt if self.saveper is None else self.saveper


class RunOptions(TypedDict, total=False):
    """The run settings an experiment passes on as keywords (``**options``), once: the fields
    of :class:`RunSpec` as ``Model.run_spec`` takes them (``return_columns`` by name)."""

    start: float
    stop: float
    dt: float
    saveper: float
    method: Method | str
    return_columns: Sequence[str]
    backend: str
    progress: bool
    executor: Any


#: The keywords of :class:`RunOptions`.
RUN_OPTION_NAMES = frozenset(RunOptions.__annotations__)


@dataclass(frozen=True, eq=False)
class RunResult:
    """The output of one run: ``values[i, j]`` is column ``j`` at ``times[i]``.

    ``columns`` are the modellers' display names; ``status`` is :attr:`RunStatus.OK` for a
    finished run;
    ``warnings`` holds what the engine reported along the way (captured, never printed).
    """

    times: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]
    status: RunStatus = RunStatus.OK
    message: str = ""
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.values.shape != (len(self.times), len(self.columns)):
            raise ValueError(
                f"values have shape {self.values.shape}, expected "
                f"({len(self.times)}, {len(self.columns)})"
            )

    @property
    def success(self) -> bool:
        return self.status is RunStatus.OK

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame indexed by time (``"time"``) with the display names as columns.

        The frame wraps ``values`` without copying it (backends hand every run a fresh array);
        pandas would otherwise copy and transpose it, which costs more than a small run.
        """
        index = pd.Index(self.times, name="time")
        return pd.DataFrame(self.values, index=index, columns=list(self.columns), copy=False)


class BatchResult(NamedTuple):
    """The output of many runs: ``values[r, i, c]`` is column ``c`` at ``times[i]`` in run r."""

    times: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]


class Backend(abc.ABC):
    """An engine that integrates IR models: the contract every backend keeps.

    In the style of scipy's ``OdeSolver``, a backend declares what it supports and the
    layers above ask it, never probe it:

    ``methods``
        the integration :class:`Method` s it honours (a run asking for another is refused
        by :meth:`check_spec` with :class:`~sdhealth.errors.UnsupportedByBackend`);
    ``vectorised``
        True when :meth:`run_batch` runs all parameter sets in one call (the native kernel);
        otherwise the base class runs them one :meth:`run` after another.

    Subclasses set ``name`` (done by :func:`register_backend`) and implement :meth:`run`.
    ``run`` must not change ``model``, must not let one run's parameters leak into the next,
    and raises :class:`~sdhealth.errors.SimulationError` for numerical failures and
    :class:`~sdhealth.errors.BackendError` for what the engine cannot do
    (:class:`~sdhealth.errors.UnsupportedByBackend` for a model it cannot run at all).
    """

    name: ClassVar[str] = ""
    methods: ClassVar[frozenset[Method]] = frozenset({Method.EULER})
    vectorised: ClassVar[bool] = False

    def check_spec(self, spec: RunSpec) -> None:
        """Refuse a run this backend cannot honour (today: its integration method)."""
        if spec.method not in self.methods:
            known = ", ".join(m.value for m in Method if m in self.methods)
            raise UnsupportedByBackend(
                f"the {self.name} backend integrates with {known} only; "
                f"method={spec.method.value!r} needs another backend"
            )

    @abc.abstractmethod
    def run(self, model: Model, spec: RunSpec, params: Mapping[str, float]) -> RunResult:
        """Integrate ``model`` as ``spec`` says, with constants (by key) set from ``params``."""

    def run_batch(
        self,
        model: Model,
        spec: RunSpec,
        param_names: Sequence[str],
        param_matrix: np.ndarray,
        *,
        run_offset: int = 0,
    ) -> BatchResult:
        """Many runs: ``param_matrix[r, i]`` sets constant ``param_names[i]`` in run ``r``.

        This default runs them one :meth:`run` after another; a vectorised backend overrides
        it. ``run_offset`` is added to run numbers in error messages (for callers that split
        a large batch into chunks).
        """
        matrix = parameter_matrix(param_names, param_matrix)
        results = []
        for r, row in enumerate(matrix.tolist()):
            try:
                results.append(self.run(model, spec, dict(zip(param_names, row, strict=True))))
            except SimulationError as exc:
                raise SimulationError(
                    f"run {r + run_offset}: {exc}", exc.variable, exc.time
                ) from exc
        if not results:
            raise BackendError("a batch needs at least one run")
        first = results[0]
        return BatchResult(first.times, np.stack([r.values for r in results]), first.columns)


def parameter_matrix(param_names: Sequence[str], param_matrix: object) -> np.ndarray:
    """``param_matrix`` as floats of shape ``(runs, len(param_names))``, or a BackendError."""
    matrix = np.asarray(param_matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] != len(param_names):
        raise BackendError(
            f"param_matrix must have shape (runs, {len(param_names)}), got {matrix.shape}"
        )
    return matrix


class BackendFallbackWarning(SdhealthWarning):
    """The default backend could not run a model, so another one did (the message says why)."""


def run_with_fallback(
    model: Model, spec: RunSpec, params: Mapping[str, float], backend: str | None = None
) -> RunResult:
    """Run on ``backend``; by default on the native backend, or on PySD where native cannot
    run the model and PySD honours the run's method -- with a
    :class:`BackendFallbackWarning` that says why. The one place a run changes backend."""
    if backend is not None:
        chosen = get_backend(backend)
        chosen.check_spec(spec)
        return chosen.run(model, spec, params)
    native = get_backend("native")
    try:
        native.check_spec(spec)
        return native.run(model, spec, params)
    except UnsupportedByBackend as exc:
        reference = get_backend("pysd")
        if spec.method not in reference.methods:
            raise
        lacking = pysd_lacks(model)
        if lacking is not None:
            raise UnsupportedByBackend(
                f"{exc}; the PySD backend cannot run it either (it has no function for {lacking})"
            ) from None
        warnings.warn(
            f"{exc}; running it with the PySD backend instead",
            BackendFallbackWarning,
            stacklevel=4,  # the caller of Model.run (via experiments.runner.run_once)
        )
        return reference.run(model, spec, params)


_REGISTRY: dict[str, type[Backend]] = {}
_INSTANCES: dict[str, Backend] = {}

B = TypeVar("B", bound=type[Backend])


def register_backend(name: str) -> Callable[[B], B]:
    """Class decorator: make a :class:`Backend` subclass available as ``name``."""

    def decorate(cls: B) -> B:
        cls.name = name
        _REGISTRY[name] = cls
        _INSTANCES.pop(name, None)
        return cls

    return decorate


def available_backends() -> tuple[str, ...]:
    """Names :func:`get_backend` accepts, sorted."""
    return tuple(sorted(set(_REGISTRY) | set(_BUILTIN_MODULES)))


def get_backend(name: str) -> Backend:
    """The shared instance of the backend registered as ``name``.

    Built-in backends are imported on first use, so asking for one never depends on import
    order. An unknown name is a :class:`~sdhealth.errors.BackendError` listing the known ones.
    """
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    if name not in _REGISTRY:
        known = ", ".join(available_backends())
        raise BackendError(f"unknown backend {name!r}; available: {known}")
    if name not in _INSTANCES:
        _INSTANCES[name] = _REGISTRY[name]()
    return _INSTANCES[name]
