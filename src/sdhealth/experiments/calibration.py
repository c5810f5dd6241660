"""Calibration: fit named constants of a model to observed time series by least squares.

:func:`calibrate` fits constants (each with bounds) so that model variables match observed
series, with :func:`scipy.optimize.least_squares` ("trf" or "dogbox", both honour bounds).

**Residuals.** For series ``s`` with ``n_s`` observations ``y`` at times ``t`` (missing values
left out), the model output is interpolated linearly at ``t`` (the run's saved times need not
match the data) and each residual is::

    r = sqrt(w_s / n_s) * (model(t) - y) / mean(|y|)

Dividing by the series' mean absolute observation makes every residual a relative error, so a
waiting list of millions and an occupancy of 0.93 are comparable; dividing by ``sqrt(n_s)``
makes each series count by its weight ``w_s`` and not by how many points it has (ten monthly
list counts do not outvote one occupancy figure). The cost is the sum of squared residuals.
This is weighted least squares with error variances proportional to ``mean(|y|)**2 n_s / w_s``;
a series of zeros falls back to its standard deviation (or 1) as the scale.

**One batch per Jacobian.** The forward-difference Jacobian needs the model at the current point
and at one step along each of the ``p`` parameters; those ``p + 1`` parameter sets run as one
:meth:`sdhealth.Model.sweep` (one batch-kernel call) instead of ``p + 1`` separate runs. The step
is ``diff_step x (high - low)``, taken backwards at an upper bound.

**Uncertainty.** Approximate standard errors come from the Jacobian at the fit,
``cov = s^2 (J^T J)^-1`` with ``s^2 = cost / (m - p)`` (``m`` residuals), and 95% intervals
from Student's t with ``m - p`` degrees of freedom. They are NaN (with a note) when there are no
more residuals than parameters or ``J`` is rank-deficient (a parameter the data cannot
identify); a parameter at a bound is flagged, as its interval ignores the bound.

**Feedback.** A progress bar counts evaluations with the best cost so far; Ctrl-C
(``KeyboardInterrupt``) stops the search and returns the best parameters found so far with
``interrupted=True``.

The result (:class:`~sdhealth.experiments.calibration_result.CalibrationResult`: values,
intervals, goodness of fit, ``.run()``, ``.plot()``, ``.to_frame()``, ``.summary()``) and
:func:`write_fitted` live in :mod:`sdhealth.experiments.calibration_result`, re-exported here.

Calibration specs for ``sdhealth calibrate`` (YAML) are read by
:mod:`sdhealth.experiments.calibration_spec`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from sdhealth.errors import (
    ModelError,
    SimulationError,
    UnknownNameError,
    UnsupportedByBackend,
)
from sdhealth.experiments.calibration_result import (
    CalibrationResult,
    FittedParameter,
    SeriesFit,
    write_fitted,
)
from sdhealth.experiments.goodness_of_fit import fit_statistics
from sdhealth.experiments.observations import read_observations
from sdhealth.experiments.policies import constant_named
from sdhealth.experiments.progress import Progress, progress_bar
from sdhealth.ir.names import did_you_mean

if TYPE_CHECKING:
    from sdhealth.experiments.runnable import RunnableModel

__all__ = [
    "FitParameter",
    "FitSeries",
    "FittedParameter",
    "SeriesFit",
    "CalibrationResult",
    "calibrate",
    "fit_parameter",
    "write_fitted",
    "METHODS",
]

#: Least-squares methods that honour bounds.
METHODS = ("trf", "dogbox")


@dataclass(frozen=True)
class FitParameter:
    """A constant to fit: its name, starting value and bounds (``low < initial < high``)."""

    name: str
    initial: float
    low: float
    high: float


@dataclass(frozen=True)
class FitSeries:
    """An observed series (a data ``column``) matched to a model ``variable``, with a weight."""

    column: str
    variable: str
    weight: float = 1.0


# -- checking the inputs ---------------------------------------------------------------------


def _number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ModelError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ModelError(f"{what} must be a finite number, got {value!r}")
    return number


def fit_parameter(model: RunnableModel, name: str, spec: Any) -> FitParameter:
    constant = constant_named(model.ir, name)
    if isinstance(spec, FitParameter):
        spec = {"initial": spec.initial, "low": spec.low, "high": spec.high}
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"initial", "low", "high"}
        if unknown or not {"low", "high"} <= set(spec):
            raise ModelError(
                f"parameter {name!r}: give (low, high) or {{initial, low, high}}, got {spec!r}"
            )
        low, high, initial = spec["low"], spec["high"], spec.get("initial", constant.value)
    elif isinstance(spec, Sequence) and not isinstance(spec, str) and len(spec) == 2:
        (low, high), initial = spec, constant.value
    else:
        raise ModelError(f"parameter {name!r}: give (low, high) or {{initial, low, high}}")
    low = _number(low, f"parameter {name!r} low bound")
    high = _number(high, f"parameter {name!r} high bound")
    initial = _number(initial, f"parameter {name!r} initial value")
    if not low < high:
        raise ModelError(f"parameter {name!r}: low bound {low:g} must be below high {high:g}")
    if not low <= initial <= high:
        raise ModelError(
            f"parameter {name!r}: initial value {initial:g} is outside its bounds "
            f"[{low:g}, {high:g}]"
        )
    return FitParameter(constant.name, initial, low, high)


def _fit_parameters(
    model: RunnableModel, parameters: Mapping[str, Any]
) -> tuple[FitParameter, ...]:
    if not parameters:
        raise ModelError("no parameters to fit")
    fitted = tuple(fit_parameter(model, str(name), spec) for name, spec in parameters.items())
    keys = [model.ir[p.name].key for p in fitted]
    if len(set(keys)) < len(keys):
        raise ModelError("a parameter is named twice in the parameters to fit")
    return fitted


def _fit_one_series(model: RunnableModel, column: str, spec: Any, data: pd.DataFrame) -> FitSeries:
    if column not in data.columns:
        hint = did_you_mean(column, [str(c) for c in data.columns], n=3)
        known = ", ".join(repr(str(c)) for c in data.columns)
        raise ModelError(f"data column {column!r} is missing{hint}; the data have {known}")
    if isinstance(spec, str):
        variable, weight = spec, 1.0
    elif isinstance(spec, Mapping) and "variable" in spec and set(spec) <= {"variable", "weight"}:
        variable, weight = str(spec["variable"]), spec.get("weight", 1.0)
    else:
        raise ModelError(f"series {column!r}: give a model variable or {{variable, weight}}")
    if variable not in model.ir:
        hint = did_you_mean(variable, model.ir.names, n=3)
        raise UnknownNameError(f"unknown model variable {variable!r} for series {column!r}{hint}")
    weight = _number(weight, f"series {column!r} weight")
    if not weight > 0:
        raise ModelError(f"series {column!r}: weight must be positive, got {weight:g}")
    return FitSeries(column, model.ir[variable].name, weight)


def _fit_series(
    model: RunnableModel, series: Mapping[str, Any], data: pd.DataFrame
) -> tuple[FitSeries, ...]:
    if not series:
        raise ModelError("no series to fit")
    return tuple(_fit_one_series(model, str(col), spec, data) for col, spec in series.items())


@dataclass(frozen=True, eq=False)
class _Targets:
    """The observations each series is fitted to: times, values and residual factors."""

    series: tuple[FitSeries, ...]
    times: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]
    factors: tuple[float, ...]


def _scale(values: np.ndarray) -> float:
    for scale in (float(np.mean(np.abs(values))), float(np.std(values))):
        if scale > 0:
            return scale
    return 1.0


def _targets(
    data: pd.DataFrame, series: tuple[FitSeries, ...], start: float, stop: float
) -> _Targets:
    times, values, factors = [], [], []
    inside = (data.index >= start) & (data.index <= stop)
    for item in series:
        column = data[item.column].to_numpy(dtype=float)
        keep = inside & np.isfinite(column)
        if not keep.any():
            raise ModelError(
                f"series {item.column!r} has no observations in the run's time "
                f"[{start:g}, {stop:g}] (its times: {data.index.min():g} to {data.index.max():g})"
            )
        times.append(np.asarray(data.index[keep], dtype=float))
        values.append(column[keep])
        factors.append(math.sqrt(item.weight / keep.sum()) / _scale(column[keep]))
    return _Targets(tuple(series), tuple(times), tuple(values), tuple(factors))


# -- the objective: residuals from one run, the Jacobian from one sweep ----------------------


@dataclass(eq=False)
class _Objective:
    model: RunnableModel
    parameters: tuple[FitParameter, ...]
    targets: _Targets
    run_options: dict[str, Any]
    diff_step: float
    bar: Progress
    runs: int = 0
    evaluations: int = 0
    best_cost: float = math.inf
    best_x: np.ndarray | None = None
    history: dict[bytes, tuple[np.ndarray, tuple[np.ndarray, ...]]] = field(default_factory=dict)
    jacobians: dict[bytes, np.ndarray] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def variables(self) -> list[str]:
        return list(dict.fromkeys(s.variable for s in self.targets.series))

    def _predict(
        self, times: np.ndarray, outputs: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, ...]:
        predictions = tuple(
            np.interp(t, times, outputs[s.variable])
            for s, t in zip(self.targets.series, self.targets.times, strict=True)
        )
        for item, values in zip(self.targets.series, predictions, strict=True):
            if not np.all(np.isfinite(values)):
                raise SimulationError(f"{item.variable!r} is not finite at an observed time")
        return predictions

    def _residuals(self, predictions: tuple[np.ndarray, ...]) -> np.ndarray:
        t = self.targets
        parts = [f * (p - y) for f, p, y in zip(t.factors, predictions, t.values, strict=True)]
        return np.concatenate(parts)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """Residuals at ``x`` from one run; each point is run once (cached)."""
        key = np.asarray(x, dtype=float).tobytes()
        if key not in self.history:
            params = dict(zip(self.names, map(float, x), strict=True))
            frame = self.model.run(params=params, return_columns=self.variables, **self.run_options)
            self.runs += 1
            outputs = {v: frame[v].to_numpy(dtype=float) for v in self.variables}
            predictions = self._predict(frame.index.to_numpy(dtype=float), outputs)
            residuals = self._residuals(predictions)
            self.history[key] = (residuals, predictions)
            self._record(np.array(x, dtype=float), residuals)
        return self.history[key][0]

    def _record(self, x: np.ndarray, residuals: np.ndarray) -> None:
        self.evaluations += 1
        cost = float(residuals @ residuals)
        if cost < self.best_cost:
            self.best_cost, self.best_x = cost, x
        self.bar.update(1)
        self.bar.note(f"cost {self.best_cost:.4g}, {self.runs} runs")

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """Forward differences at ``x``: the point and one step per parameter in one sweep."""
        key = np.asarray(x, dtype=float).tobytes()
        if key in self.jacobians:
            return self.jacobians[key]
        steps = np.array([self.diff_step * (p.high - p.low) for p in self.parameters])
        steps = np.where(x + steps > [p.high for p in self.parameters], -steps, steps)
        points = np.repeat(np.asarray(x, dtype=float)[None, :], len(x) + 1, axis=0)
        points[1:] += np.diag(steps)
        rows = [self._residuals(p) for p in self._batch_predictions(points)]
        jacobian = np.column_stack([(rows[j + 1] - rows[0]) / steps[j] for j in range(len(x))])
        self.jacobians[key] = jacobian
        return jacobian

    def _batch_predictions(self, points: np.ndarray) -> list[tuple[np.ndarray, ...]]:
        """Model outputs at the observed times for every row of ``points``, in one sweep.

        A model the native backend cannot batch (it runs on PySD) falls back to single runs.
        """
        sets = pd.DataFrame(points, columns=self.names)
        try:
            dataset = self.model.sweep(
                sets, return_columns=self.variables, progress=False, **self.run_options
            )
        except UnsupportedByBackend:
            frames = [
                self.model.run(params=row, return_columns=self.variables, **self.run_options)
                for row in sets.to_dict("records")
            ]
            self.runs += len(frames)
            return [
                self._predict(f.index.to_numpy(dtype=float), {v: f[v].to_numpy() for v in f})
                for f in frames
            ]
        self.runs += len(points)
        times = dataset["time"].to_numpy().astype(float)
        arrays = {v: dataset[v].to_numpy() for v in self.variables}
        return [
            self._predict(times, {v: a[run] for v, a in arrays.items()})
            for run in range(len(points))
        ]

    def predictions(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        self.residuals(x)
        return self.history[np.asarray(x, dtype=float).tobytes()][1]


def _uncertainty(
    x: np.ndarray, jacobian: np.ndarray | None, cost: float
) -> tuple[np.ndarray, np.ndarray, str]:
    """Standard errors and 95% half-widths from ``J``, or NaN with the reason."""
    p = x.size
    nan = np.full(p, math.nan)
    if jacobian is None:
        return nan, nan, "no Jacobian at the best point (interrupted): no standard errors"
    dof = jacobian.shape[0] - p
    if dof <= 0:
        return nan, nan, "no more observations than parameters: no standard errors"
    if np.linalg.matrix_rank(jacobian) < p:
        return nan, nan, "the data do not identify every parameter (J is rank-deficient)"
    covariance = cost / dof * np.linalg.inv(jacobian.T @ jacobian)
    errors = np.sqrt(np.clip(np.diag(covariance), 0, None))
    return errors, errors * float(stats.t.ppf(0.975, dof)), ""


def _at_bound(value: float, low: float, high: float) -> bool:
    return min(value - low, high - value) <= 1e-6 * (high - low)


def _fitted_parameters(
    parameters: tuple[FitParameter, ...], x: np.ndarray, errors: np.ndarray, half: np.ndarray
) -> tuple[FittedParameter, ...]:
    return tuple(
        FittedParameter(
            name=p.name,
            value=float(v),
            initial=p.initial,
            low=p.low,
            high=p.high,
            standard_error=float(e),
            ci_low=float(v - h),
            ci_high=float(v + h),
            at_bound=_at_bound(float(v), p.low, p.high),
        )
        for p, v, e, h in zip(parameters, x, errors, half, strict=True)
    )


def _series_fits(objective: _Objective, x: np.ndarray, x0: np.ndarray) -> tuple[SeriesFit, ...]:
    fitted, initial = objective.predictions(x), objective.predictions(x0)
    return tuple(
        SeriesFit(s.column, s.variable, s.weight, fit_statistics(f, y), fit_statistics(i, y))
        for s, f, i, y in zip(
            objective.targets.series, fitted, initial, objective.targets.values, strict=True
        )
    )


# -- the entry point ------------------------------------------------------------------------


def calibrate(
    model: RunnableModel,
    data: pd.DataFrame | str | os.PathLike[str],
    parameters: Mapping[str, Any],
    series: Mapping[str, Any],
    *,
    start_date: Any = None,
    time_column: str | None = None,
    method: str = "trf",
    max_evaluations: int = 100,
    tolerance: float = 1e-8,
    diff_step: float = 1e-4,
    start: float | None = None,
    stop: float | None = None,
    dt: float | None = None,
    integration: str | None = None,
    backend: str | None = None,
    progress: bool | None = None,
) -> CalibrationResult:
    """Fit ``parameters`` of ``model`` so its variables match the observed ``series``.

    Parameters
    ----------
    model : sdhealth.Model
    data : DataFrame or CSV path
        Observations with a time column of model times or dates; see
        :func:`sdhealth.experiments.observations.read_observations`. NaN are ignored.
    parameters : mapping
        Constant name -> ``(low, high)`` (starting from the model's value) or
        ``{"initial": ..., "low": ..., "high": ...}``.
    series : mapping
        Data column -> model variable name, or ``{"variable": name, "weight": w}``.
    start_date : date or "YYYY-MM-DD", optional
        The date of model time 0, when the data's times are dates (converted with the
        model's time unit).
    method : {"trf", "dogbox"}
        The :func:`scipy.optimize.least_squares` method.
    max_evaluations : int
        At most this many residual evaluations (single runs; Jacobian sweeps come on top).
    tolerance : float
        ``ftol``, ``xtol`` and ``gtol`` of the optimiser.
    diff_step : float
        Finite-difference step as a fraction of each parameter's bound width.
    start, stop, dt, integration, backend
        Run settings (default: the model's clock and integration method, native backend).
    progress : bool, optional
        Show a progress bar (default: only on a terminal).

    Returns
    -------
    CalibrationResult

    Raises
    ------
    UnknownNameError, ModelError
        Before any run: an unknown parameter or variable (with did-you-mean), bounds that
        are empty or exclude the initial value, a missing data column, data outside the run.
    """
    if method not in METHODS:
        raise ModelError(f"unknown calibration method {method!r} (use {' or '.join(METHODS)})")
    if not (isinstance(max_evaluations, int) and max_evaluations > 0):
        raise ModelError(f"max_evaluations must be a positive whole number, not {max_evaluations}")
    if not 0 < diff_step < 1:
        raise ModelError(f"diff_step must be a fraction of the bounds in (0, 1), not {diff_step}")
    if not tolerance > 0:
        raise ModelError(f"tolerance must be positive, not {tolerance}")
    fit = _fit_parameters(model, parameters)
    observed = read_observations(
        data, time_column=time_column, start_date=start_date, units=model.time.units
    )
    fit_series = _fit_series(model, series, observed)
    options = {"start": start, "stop": stop, "dt": dt, "method": integration}
    options = {k: v for k, v in options.items() if v is not None}
    if backend is not None:
        options["backend"] = backend
    run_start = model.time.start if start is None else float(start)
    run_stop = model.time.stop if stop is None else float(stop)
    targets = _targets(observed, fit_series, run_start, run_stop)
    with progress_bar(max_evaluations, "calibrate", unit="eval", enabled=progress) as bar:
        objective = _Objective(model, fit, targets, options, diff_step, bar)
        return _solve(objective, observed, method, max_evaluations, tolerance)


def _solve(
    objective: _Objective,
    observed: pd.DataFrame,
    method: str,
    max_evaluations: int,
    tolerance: float,
) -> CalibrationResult:
    fit = objective.parameters
    x0 = np.array([p.initial for p in fit])
    low, high = np.array([p.low for p in fit]), np.array([p.high for p in fit])
    interrupted, success, message = False, False, ""
    jacobian: np.ndarray | None = None
    try:
        solution = optimize.least_squares(
            objective.residuals,
            x0,
            jac=objective.jacobian,
            bounds=(low, high),
            method=method,
            x_scale=high - low,
            max_nfev=max_evaluations,
            ftol=tolerance,
            xtol=tolerance,
            gtol=tolerance,
        )
        x, success, message = solution.x, bool(solution.success), str(solution.message)
        x = np.array(objective.best_x if objective.best_cost < _cost(objective, x) else x)
        jacobian = objective.jacobian(x)  # cached when the optimiser evaluated it there
    except KeyboardInterrupt:
        if objective.best_x is None:
            raise
        x, interrupted, message = objective.best_x, True, "interrupted (Ctrl-C): best so far"
        jacobian = objective.jacobians.get(x.tobytes())
    cost = _cost(objective, x)
    errors, half, note = _uncertainty(x, jacobian, cost)
    return CalibrationResult(
        model=objective.model,
        parameters=_fitted_parameters(fit, x, errors, half),
        series=_series_fits(objective, x, x0) if x0.tobytes() in objective.history else (),
        cost=cost,
        initial_cost=_cost(objective, x0) if x0.tobytes() in objective.history else math.nan,
        runs=objective.runs,
        evaluations=objective.evaluations,
        success=success,
        interrupted=interrupted,
        message="; ".join(m for m in (message, note) if m),
        observed=observed,
        run_options=dict(objective.run_options),
    )


def _cost(objective: _Objective, x: np.ndarray) -> float:
    residuals = objective.residuals(np.asarray(x, dtype=float))
    return float(residuals @ residuals)


# -- calibration specs (YAML) and fitted values out -------------------------------------------
