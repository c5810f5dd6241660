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
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, TypeVar

import numpy as np
import pandas as pd

from sdhealth.compile.run_size import ensure_run_fits, measure_run
from sdhealth.errors import BackendError
from sdhealth.ir.model import Model, TimeSpec

__all__ = [
    "cache_root",
    "Method",
    "RunStatus",
    "RunSpec",
    "RunResult",
    "Backend",
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
    """What to run: the clock, the integration method and which variables to return.

    ``saveper`` defaults to ``dt``. ``return_columns`` holds variable keys (or names; they are
    matched as keys); ``None`` returns every non-internal stock, flow, auxiliary and constant.
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

    @classmethod
    def from_time(cls, time: TimeSpec, **overrides: object) -> RunSpec:
        """A spec with a model's clock, changed by any ``overrides`` that are not ``None``."""
        spec = cls(time.start, time.stop, time.dt, time.saveper)
        changes = {k: v for k, v in overrides.items() if v is not None}
        return replace(spec, **changes)  # type: ignore[arg-type]

    @property
    def save_every(self) -> float:
        return self.dt if self.saveper is None else self.saveper


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


class Backend(abc.ABC):
    """An engine that integrates IR models.

    Subclasses set ``name`` (done by :func:`register_backend`) and implement :meth:`run`.
    ``run`` must not change ``model``, must not let one run's parameters leak into the next,
    and raises :class:`~sdhealth.errors.SimulationError` for numerical failures and
    :class:`~sdhealth.errors.BackendError` for what the engine cannot do.
    """

    name: ClassVar[str] = ""

    @abc.abstractmethod
    def run(self, model: Model, spec: RunSpec, params: Mapping[str, float]) -> RunResult:
        """Integrate ``model`` as ``spec`` says, with constants (by key) set from ``params``."""


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


def cache_root() -> Path:
    """The folder for sdhealth's caches (each backend keeps a subfolder: ``pysd``, ``native``).

    ``$SDHEALTH_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/sdhealth``, else
    ``~/.cache/sdhealth``; read at each call so tests and users can redirect it.
    """
    if os.environ.get("SDHEALTH_CACHE_DIR"):
        return Path(os.environ["SDHEALTH_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "sdhealth"
    return Path.home() / ".cache" / "sdhealth"
