"""The result of a calibration: fitted values, uncertainty, goodness of fit, and files out.

:class:`CalibrationResult` is what :func:`sdhealth.experiments.calibration.calibrate` returns:
the fitted parameters (:class:`FittedParameter`, with bounds, standard errors and 95%
intervals), the goodness of fit per series (:class:`SeriesFit`, see
:mod:`sdhealth.experiments.goodness_of_fit`), the runs it took, and views of it -- a run of the
fitted model, a fit-vs-data plot, tables and a text summary. :func:`write_fitted` writes the
fitted values as a scenario file (loadable by :func:`sdhealth.load_scenario`) or a CSV table.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from ruamel.yaml import YAML

from sdhealth.errors import SdhealthError
from sdhealth.experiments.goodness_of_fit import FitStatistics
from sdhealth.io.atomic import write_text_atomic, write_with

if TYPE_CHECKING:
    from sdhealth.experiments.runnable import RunnableModel

__all__ = ["FittedParameter", "SeriesFit", "CalibrationResult", "write_fitted"]


@dataclass(frozen=True)
class FittedParameter:
    """A fitted constant with its bounds and approximate uncertainty (NaN where not valid)."""

    name: str
    value: float
    initial: float
    low: float
    high: float
    standard_error: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    at_bound: bool = False


@dataclass(frozen=True)
class SeriesFit:
    """Goodness of fit of one series at the fitted and at the initial parameters."""

    column: str
    variable: str
    weight: float
    fitted: FitStatistics
    initial: FitStatistics


@dataclass(frozen=True, eq=False)
class CalibrationResult:
    """What :func:`~sdhealth.experiments.calibration.calibrate` found.

    The residuals, cost and uncertainty are defined in :mod:`sdhealth.experiments.calibration`.

    Attributes
    ----------
    parameters : tuple of FittedParameter
    series : tuple of SeriesFit
        Goodness of fit per series (fitted and initial).
    cost, initial_cost : float
        Sum of squared normalised residuals at the fit and at the initial values.
    runs, evaluations : int
        Model runs made (single runs plus every run of the Jacobian sweeps) and residual
        evaluations (single runs).
    success, interrupted : bool
        Whether the optimiser converged; whether Ctrl-C stopped it (the best point is kept).
    message : str
        The optimiser's message, and notes on the uncertainty estimates.
    observed : DataFrame
        The observations used (model time index).
    """

    model: RunnableModel
    parameters: tuple[FittedParameter, ...]
    series: tuple[SeriesFit, ...]
    cost: float
    initial_cost: float
    runs: int
    evaluations: int
    success: bool
    interrupted: bool
    message: str
    observed: pd.DataFrame = field(repr=False)
    run_options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def values(self) -> dict[str, float]:
        """Fitted values by parameter name."""
        return {p.name: p.value for p in self.parameters}

    @property
    def initial_values(self) -> dict[str, float]:
        """Starting values by parameter name."""
        return {p.name: p.initial for p in self.parameters}

    def run(self, **options: Any) -> pd.DataFrame:
        """Run the model with the fitted values (and the calibration's clock unless given)."""
        params = {**self.values, **options.pop("params", {})}
        return self.model.run(params=params, **{**self.run_options, **options})

    def plot(self, path: str | os.PathLike[str] | None = None) -> Any:
        """Fit vs data, one panel per series (a matplotlib Figure); saved to ``path`` if given."""
        from sdhealth.report.calibration_plots import plot_fit, save_fit_plot

        if path is not None:
            save_fit_plot(self, path)
            return None
        return plot_fit(self)

    def summary(self) -> str:
        """A text report: fitted parameters with intervals, and goodness of fit per series."""
        return _summary(self)

    def to_frame(self) -> pd.DataFrame:
        """The fitted parameters: value, initial, bounds, standard error and 95% interval."""
        rows = [
            {
                "parameter": p.name,
                "value": p.value,
                "initial": p.initial,
                "low": p.low,
                "high": p.high,
                "standard_error": p.standard_error,
                "ci_low": p.ci_low,
                "ci_high": p.ci_high,
                "at_bound": p.at_bound,
            }
            for p in self.parameters
        ]
        return pd.DataFrame(rows).set_index("parameter")

    def fit_frame(self) -> pd.DataFrame:
        """Goodness of fit per series (fitted), with the initial RMSE for comparison."""
        rows = []
        for s in self.series:
            stats_ = s.fitted
            rows.append(
                {
                    "series": s.column,
                    "variable": s.variable,
                    "weight": s.weight,
                    "points": stats_.points,
                    "rmse": stats_.rmse,
                    "initial_rmse": s.initial.rmse,
                    "mape": stats_.mape,
                    "r_squared": stats_.r_squared,
                    "theil_um": stats_.theil_um,
                    "theil_us": stats_.theil_us,
                    "theil_uc": stats_.theil_uc,
                }
            )
        return pd.DataFrame(rows).set_index("series")


def _g(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4g}"


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def _summary(result: CalibrationResult) -> str:
    head = (
        f"calibration of {result.model.name}: {result.runs} runs "
        f"({result.evaluations} evaluations), cost {result.cost:.4g} "
        f"(initial {result.initial_cost:.4g})"
    )
    params = [
        [
            p.name,
            _g(p.value),
            _g(p.initial),
            f"[{p.low:g}, {p.high:g}]",
            _g(p.standard_error),
            "-" if math.isnan(p.ci_low) else f"[{p.ci_low:.4g}, {p.ci_high:.4g}]",
            "at bound" if p.at_bound else "",
        ]
        for p in result.parameters
    ]
    header = ["parameter", "value", "initial", "bounds", "std error", "95% interval", ""]
    fits = [
        [
            s.column,
            s.variable,
            str(s.fitted.points),
            _g(s.fitted.rmse),
            _g(s.initial.rmse),
            "-" if math.isnan(s.fitted.mape) else f"{s.fitted.mape:.2%}",
            _g(s.fitted.r_squared),
            _g(s.fitted.theil_um),
            _g(s.fitted.theil_us),
            _g(s.fitted.theil_uc),
        ]
        for s in result.series
    ]
    fit_header = [
        "series",
        "variable",
        "n",
        "RMSE",
        "initial RMSE",
        "MAPE",
        "R^2",
        "U_M",
        "U_S",
        "U_C",
    ]
    return "\n\n".join(
        [
            head + (f"\n{result.message}" if result.message else ""),
            _text_table(header, params),
            _text_table(fit_header, fits),
        ]
    )


def _scenario_text(result: CalibrationResult) -> str:
    header = (
        f"# Fitted by sdhealth calibrate: cost {result.cost:.6g} "
        f"(initial {result.initial_cost:.6g}), {result.runs} runs"
        + (" -- interrupted, best so far" if result.interrupted else "")
        + "\n"
    )
    document = {
        "scenario": f"Calibrated {result.model.name}",
        "description": "Parameter values fitted to observed data by sdhealth calibrate.",
        "params": {p.name: p.value for p in result.parameters},
    }
    stream = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[attr-defined,assignment]
    yaml.dump(document, stream)
    return header + stream.getvalue()


def write_fitted(result: CalibrationResult, path: str | os.PathLike[str]) -> None:
    """Write the fitted values atomically: a scenario YAML (``.yaml``/``.yml``, loadable by
    :func:`sdhealth.load_scenario`) or a CSV table of :meth:`CalibrationResult.to_frame`."""
    suffix = Path(path).suffix.lower()
    if suffix in (".yaml", ".yml"):
        write_text_atomic(path, _scenario_text(result))
    elif suffix == ".csv":
        write_with(path, result.to_frame().to_csv)
    else:
        raise SdhealthError(f"{path}: write fitted values as .yaml (a scenario) or .csv")
