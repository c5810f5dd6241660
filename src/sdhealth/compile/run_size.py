"""How big a run is, before it runs: clock checks, time steps and result memory, and their limits.

Every way of running a model asks this module first -- :class:`~sdhealth.backends.base.RunSpec`
(every backend, every run), ``Model.run``, ``Model.sweep`` (and so Monte Carlo, sensitivity
and calibration, which sweep), the native backend's batches and the ``run-size`` check of
``sdhealth check`` -- so a run that cannot finish is refused with one clear line instead of
hanging, overflowing or asking numpy for terabytes:

- :func:`check_clock`: ``start``, ``stop``, ``dt`` and ``saveper`` must be finite numbers,
  ``dt`` and ``saveper`` positive, ``stop`` not before ``start`` (``stop == start`` is a run of
  one time, the initial values), and ``dt`` large enough to move the clock at those times
  (``1e20 + 1`` is ``1e20`` in floating point: such a clock would never reach ``stop``;
  checked for runs of fewer than 1e12 steps, as more are refused by the step limit).
  Failures are :class:`~sdhealth.errors.RunSettingsError`.
- :func:`measure_run`: the number of time steps, of saved times, the columns and runs, and the
  bytes of the results (``runs x saved times x columns x 8``), all computed in floating point
  so that ``stop: 1e308`` or ``dt: 1e-300`` give a (huge) number, never an ``OverflowError``.
- :func:`ensure_run_fits`: a :class:`~sdhealth.errors.RunSizeError` when the run needs more
  than :class:`RunLimits` allow, naming the numbers and what to change.

The limits default to 10 million time steps per run and 2 GB of results; the environment
variables ``SDHEALTH_MAX_STEPS`` and ``SDHEALTH_MAX_RESULT_BYTES`` change them (read at each
run, so a session or a test may set them). Neither limit is a promise that a smaller run fits
the machine's memory; they stop the absurd, not the merely large.

>>> size = measure_run(0, 30, 0.125, 0.125, columns=3)
>>> size.steps, size.saved_times, size.result_bytes
(241, 241, 5784)
>>> ensure_run_fits(measure_run(0, 1e9, 0.125, 1.0, columns=3))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sdhealth.errors.RunSizeError: the run needs 8,000,000,001 time steps ...: use a larger dt ...
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from sdhealth.errors import Issue, RunSettingsError, RunSizeError, SdhealthError, Severity
from sdhealth.ir.model import Auxiliary, Constant, Flow, Model, Stock

__all__ = [
    "DEFAULT_MAX_STEPS",
    "DEFAULT_MAX_RESULT_BYTES",
    "RunLimits",
    "RunSize",
    "check_clock",
    "measure_run",
    "ensure_run_fits",
    "output_width",
    "run_size_issues",
]

#: Time steps one run may take unless ``SDHEALTH_MAX_STEPS`` says otherwise.
DEFAULT_MAX_STEPS = 10_000_000
#: Bytes the results of one run or sweep may take unless ``SDHEALTH_MAX_RESULT_BYTES`` says so.
DEFAULT_MAX_RESULT_BYTES = 2_000_000_000

_STEPS_VARIABLE = "SDHEALTH_MAX_STEPS"
_BYTES_VARIABLE = "SDHEALTH_MAX_RESULT_BYTES"
_RELATIVE_PRECISION = 1e-5  # the clock's tolerance (PySD's Time.rprec), relative to dt
_BYTES_PER_VALUE = 8


def _limit_from(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip().replace("_", "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 1):
        raise RunSettingsError(
            f"environment variable {variable}={os.environ[variable]!r} must be a whole number "
            "of at least 1; unset it for the default"
        )
    return int(value)


@dataclass(frozen=True)
class RunLimits:
    """The most time steps a run may take and the most bytes its results may hold.

    >>> RunLimits().max_steps
    10000000
    """

    max_steps: int = DEFAULT_MAX_STEPS
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES

    @classmethod
    def from_environment(cls) -> RunLimits:
        """The limits set by ``SDHEALTH_MAX_STEPS`` / ``SDHEALTH_MAX_RESULT_BYTES`` (or the
        defaults); a value that is not a whole number >= 1 is a ``RunSettingsError``."""
        return cls(
            _limit_from(_STEPS_VARIABLE, DEFAULT_MAX_STEPS),
            _limit_from(_BYTES_VARIABLE, DEFAULT_MAX_RESULT_BYTES),
        )


def check_clock(start: float, stop: float, dt: float, saveper: float | None = None) -> None:
    """Raise :class:`~sdhealth.errors.RunSettingsError` for settings no run can have.

    >>> check_clock(0, 10, 0.5)
    >>> check_clock(0, float("inf"), 1)
    Traceback (most recent call last):
    ...
    sdhealth.errors.RunSettingsError: stop must be a finite number, got inf
    >>> check_clock(1e20, 1e20 + 1e6, 1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sdhealth.errors.RunSettingsError: time step dt 1 is too small to move the clock at ... 1e+20 ...
    """
    for label, value in (("start", start), ("stop", stop), ("dt", dt), ("saveper", saveper)):
        if value is not None and not (isinstance(value, int | float) and math.isfinite(value)):
            raise RunSettingsError(f"{label} must be a finite number, got {value!r}")
    if not dt > 0:
        raise RunSettingsError(f"time step dt must be positive, got {dt}")
    if not stop >= start:
        raise RunSettingsError(f"stop ({stop}) is before start ({start})")
    if saveper is not None and not saveper > 0:
        raise RunSettingsError(f"saveper must be positive, got {saveper}")
    largest = max(abs(start), abs(stop))
    if (stop - start) / dt < 1e12 and math.ulp(largest) > dt * _RELATIVE_PRECISION:
        # (far more steps than that are refused by the step limit, with a better message)
        raise RunSettingsError(
            f"time step dt {dt:g} is too small to move the clock at times near {largest:g} "
            "(floating point): use a larger dt, or start and stop nearer 0"
        )


@dataclass(frozen=True)
class RunSize:
    """What a run (or a batch of ``runs``) needs: evaluation times, saved times, bytes.

    Counts are floats where they may be astronomically large (``stop: 1e308``), so that
    measuring never overflows; :attr:`steps` and :attr:`result_bytes` round them for display.
    """

    start: float
    stop: float
    dt: float
    saveper: float
    step_count: float
    saved_count: float
    columns: int
    runs: int = 1
    statistics: int | None = None

    @property
    def steps(self) -> int | float:
        """Evaluation times of one run (a float when it is too large to be an int)."""
        return _whole(self.step_count)

    @property
    def saved_times(self) -> int | float:
        """Rows of one run's results (saved times, or statistics with summaries)."""
        rows = self.saved_count if self.statistics is None else self.statistics
        return _whole(rows)

    @property
    def result_bytes(self) -> int | float:
        return _whole(float(self.runs) * self.saved_times * self.columns * _BYTES_PER_VALUE)


def _floor(value: float) -> float:
    """``math.floor`` as a float, for any float (``1e308 / 1e-300`` is infinite)."""
    return float(math.floor(value)) if value < 2.0**62 else value


def _whole(value: float) -> int | float:
    return int(value) if value < 2.0**62 else value


def _count(value: int | float) -> str:
    if math.isinf(value):
        return "more than 1e308"
    return f"{value:,}" if isinstance(value, int) else f"{value:.3g}"


def _bytes(value: int | float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:g} bytes"


def measure_run(
    start: float,
    stop: float,
    dt: float,
    saveper: float | None = None,
    *,
    columns: int,
    runs: int = 1,
    statistics: int | None = None,
) -> RunSize:
    """The size of ``runs`` runs over this clock returning ``columns`` variables.

    ``statistics`` is the number of per-run statistics kept instead of time series (a sweep's
    ``summary=``). The clock is checked first (:func:`check_clock`).

    >>> measure_run(0, 1e308, 1, columns=1).steps
    1e+308
    >>> measure_run(-1e308, 1e308, 1e-300, columns=1).steps
    inf
    >>> measure_run(0, 10, 1, 2.5, columns=4, runs=1000).result_bytes
    160000
    """
    check_clock(start, stop, dt, saveper)
    every = dt if saveper is None else saveper
    span = float(stop) - float(start)  # finite: both are below 1.8e308 in size
    steps = _floor(span / dt + _RELATIVE_PRECISION) + 1.0
    saved = min(steps, _floor(span / every + _RELATIVE_PRECISION) + 1.0)
    return RunSize(start, stop, dt, every, steps, saved, columns, runs, statistics)


def ensure_run_fits(size: RunSize, limits: RunLimits | None = None) -> None:
    """Raise :class:`~sdhealth.errors.RunSizeError` if ``size`` is beyond ``limits``.

    ``limits`` defaults to :meth:`RunLimits.from_environment`.
    """
    limits = RunLimits.from_environment() if limits is None else limits
    if size.step_count > limits.max_steps:
        raise RunSizeError(
            f"the run needs {_count(size.steps)} time steps ((stop {size.stop:g} - start "
            f"{size.start:g}) / dt {size.dt:g}), more than the limit of {limits.max_steps:,}: "
            f"use a larger dt or an earlier stop, or raise the limit with {_STEPS_VARIABLE}",
            steps=size.steps,  # type: ignore[arg-type]
            result_bytes=size.result_bytes,  # type: ignore[arg-type]
        )
    if size.result_bytes > limits.max_result_bytes:
        runs = f"{size.runs:,} run{'s' if size.runs != 1 else ''}"
        rows = "statistics" if size.statistics is not None else "saved times"
        summaries = "" if size.statistics is not None else ", keep summaries (summary=) in sweeps"
        raise RunSizeError(
            f"the results would take {_bytes(size.result_bytes)} ({runs} x "
            f"{_count(size.saved_times)} {rows} x {size.columns:,} variables x 8 bytes), more "
            f"than the limit of {_bytes(limits.max_result_bytes)}: save fewer times (a larger "
            f"saveper than {size.saveper:g}), return fewer variables (return_columns), stop "
            f"earlier{summaries}, or raise the limit with {_BYTES_VARIABLE}",
            steps=size.steps,  # type: ignore[arg-type]
            result_bytes=size.result_bytes,  # type: ignore[arg-type]
        )


def _elements(model: Model, dims: tuple[str, ...]) -> int:
    if not dims:
        return 1
    from sdhealth.compile.subscript_ranges import Ranges, Refused

    ranges = Ranges.of(model)
    count = 1
    for dim in dims:
        try:
            count *= max(1, len(ranges.elements(dim)))
        except Refused:
            pass
    return count


def output_width(model: Model, keys: tuple[str, ...] | None = None) -> int:
    """Columns a run returns: those of ``keys`` (variable keys or names), or by default every
    non-internal stock, flow, auxiliary and constant -- a subscripted one once per element."""
    if keys is not None:
        chosen = [model[k] for k in keys if k in model]
        return sum(_elements(model, v.dims) for v in chosen) + (len(keys) - len(chosen))
    kinds = (Stock, Flow, Auxiliary, Constant)
    return sum(
        _elements(model, v.dims) for v in model.variables if isinstance(v, kinds) and not v.internal
    )


def run_size_issues(model: Model) -> list[Issue]:
    """The ``run-size`` check: the model's own clock must be valid and its run within limits.

    >>> from sdhealth.ir.model import TimeSpec
    >>> [i.code for i in run_size_issues(Model("m", TimeSpec(0, 1e9, 0.125), ()))]
    ['run-size']
    """
    clock = model.time
    try:
        ensure_run_fits(
            measure_run(clock.start, clock.stop, clock.dt, clock.saveper,
                        columns=output_width(model))
        )  # fmt: skip
    except SdhealthError as exc:
        return [Issue(Severity.ERROR, "run-size", f"time settings: {exc}", model.path)]
    return []
