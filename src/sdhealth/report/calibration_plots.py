"""Plots of a calibration: the fitted run against the observed data, one panel per series.

Each panel shows the observations (dots, labelled with their data column), the run with the
fitted values (line) and the run with the initial values (dashed), titled with the model
variable and the fit's RMSE and MAPE. matplotlib runs headless (Agg); nothing here opens a
window or prints.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pandas as pd

from sdhealth.report.plots import check_figure_path, save_figure


class CalibrationResult(Protocol):
    """What a fit plot reads of a calibration result
    (:class:`sdhealth.experiments.calibration.CalibrationResult`; declared here so that this
    module does not import the experiment layer that imports it for ``result.plot()``)."""

    series: Sequence[Any]  # each with .variable and .column
    observed: pd.DataFrame
    initial_values: Mapping[str, float]
    interrupted: bool
    model: Any  # the sdhealth Model: .name, .time.units

    def run(self, **options: Any) -> pd.DataFrame:
        """The model run with the fitted values (``params=`` overrides them)."""
        ...


__all__ = ["plot_fit", "save_fit_plot"]


def _title(variable: str, rmse: float, mape: float) -> str:
    mape_text = "" if math.isnan(mape) else f", MAPE {mape:.1%}"
    size = f"{rmse:,.0f}" if abs(rmse) >= 1e4 else f"{rmse:.4g}"
    return f"{variable}\nRMSE {size}{mape_text}"


def plot_fit(result: CalibrationResult, *, title: str | None = None) -> Any:
    """A matplotlib Figure of fit vs data for every series of ``result``.

    Runs the model twice (fitted and initial values) over the calibration's clock.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    variables = list(dict.fromkeys(s.variable for s in result.series))
    fitted = result.run(return_columns=variables)
    initial = result.run(params=result.initial_values, return_columns=variables)
    count = len(result.series)
    ncols = 1 if count == 1 else 2 if count <= 4 else 3
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.4 * ncols, 2.9 * nrows), squeeze=False, layout="constrained"
    )
    units = result.model.time.units
    for ax, series in zip(axes.flat, result.series, strict=False):
        observed = result.observed[series.column].dropna()
        ax.plot(
            initial.index, initial[series.variable], "--", color="0.55", lw=1.2, label="initial"
        )
        ax.plot(fitted.index, fitted[series.variable], color="#1f5fa8", lw=1.7, label="fitted")
        ax.plot(
            observed.index, observed.to_numpy(), "o", color="#c0392b", ms=4, label=series.column
        )
        ax.set_title(
            _title(series.variable, series.fitted.rmse, series.fitted.mape),
            fontsize=9,
        )
        ax.set_xlabel(f"time ({units})" if units else "time", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    for ax in list(axes.flat)[:count]:
        ax.legend(fontsize=7, loc="best")
    interrupted = " (interrupted: best so far)" if result.interrupted else ""
    fig.suptitle(title or f"{result.model.name}: calibration{interrupted}", fontsize=11)
    return fig


def save_fit_plot(
    result: CalibrationResult, path: str | os.PathLike[str], *, title: str | None = None
) -> None:
    """Draw :func:`plot_fit` and write it to ``path`` (PNG, SVG, PDF by suffix) atomically."""
    check_figure_path(path)
    save_figure(plot_fit(result, title=title), path)
