"""Plots of sweep results (``xarray.Dataset`` from ``Model.sweep``), saved atomically.

One panel per variable (up to :data:`~sdhealth.report.plots.MAX_PANELS`):

- **time series** (dims ``run``, ``time``): every run's line -- coloured, with a legend of
  the swept values, for a few runs; thin grey lines with the median and the 5-95% band for
  many;
- **summaries** (dims ``run``, ``statistic``): one statistic (the first, unless chosen) against
  the first swept parameter, one line per combination of the other parameters and scenario; a
  bar per run when nothing numeric is swept.

matplotlib runs headless (Agg); nothing here opens a window or prints.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from sdhealth.report.plots import MAX_PANELS, check_figure_path, save_figure

__all__ = ["plot_sweep", "save_sweep_plot", "FEW_RUNS"]

#: Up to this many runs, each run is its own coloured line with a legend entry.
FEW_RUNS = 10


def _panels(variables: Sequence[str]) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ncols = 1 if len(variables) == 1 else 2 if len(variables) <= 4 else 3
    nrows = math.ceil(len(variables) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.4 * ncols, 2.8 * nrows), squeeze=False, layout="constrained"
    )
    for ax in list(axes.flat)[len(variables) :]:
        ax.set_visible(False)
    return fig, list(axes.flat)[: len(variables)]


def _run_coordinates(dataset: Any) -> list[str]:
    """The per-run coordinates that vary: what was swept (a value every run shares -- one a
    scenario file sets, say -- is no axis and no label)."""
    names = [str(c) for c in dataset.coords if c not in dataset.dims and "run" in dataset[c].dims]
    return [n for n in names if len(np.unique(dataset[n].values)) > 1]


def _run_label(dataset: Any, run: int, names: Sequence[str]) -> str:
    parts = []
    for name in names:
        value = dataset[name].values[run]
        parts.append(f"{name}={value:g}" if isinstance(value, float) else str(value))
    return ", ".join(parts) or f"run {int(dataset['run'].values[run])}"


def _time_series(ax: Any, dataset: Any, name: str, names: Sequence[str]) -> None:
    values = dataset[name].values
    times = dataset["time"].values
    if values.shape[0] <= FEW_RUNS:
        for run in range(values.shape[0]):
            ax.plot(times, values[run], linewidth=1.4, label=_run_label(dataset, run, names))
        return
    ax.plot(times, values.T, color="0.75", linewidth=0.4, alpha=0.5)
    low, median, high = np.percentile(values, [5, 50, 95], axis=0)
    ax.fill_between(times, low, high, color="#1f5fa8", alpha=0.25, label="5-95%")
    ax.plot(times, median, color="#1f5fa8", linewidth=1.8, label="median")


def _summary(ax: Any, dataset: Any, name: str, statistic: str, names: Sequence[str]) -> None:
    values = dataset[name].sel(statistic=statistic).values
    numeric = [n for n in names if dataset[n].dtype.kind == "f"]
    if not numeric:
        labels = [_run_label(dataset, run, names) for run in range(values.size)]
        ax.bar(range(values.size), values, color="#1f5fa8")
        ax.set_xticks(range(values.size), labels, rotation=30, ha="right", fontsize=7)
        return
    x_name = numeric[0]
    others = [n for n in names if n != x_name]
    x = dataset[x_name].values
    keys = [tuple(dataset[n].values[run] for n in others) for run in range(values.size)]
    for key in dict.fromkeys(keys):
        mask = np.array([k == key for k in keys])
        order = np.argsort(x[mask], kind="stable")
        label = ", ".join(
            f"{n}={v:g}" if isinstance(v, float) else str(v)
            for n, v in zip(others, key, strict=True)
        )
        ax.plot(x[mask][order], values[mask][order], marker="o", markersize=3,
                linewidth=1.3, label=label or None)  # fmt: skip
    ax.set_xlabel(x_name, fontsize=8)


def plot_sweep(
    dataset: Any,
    variables: Sequence[str] | None = None,
    *,
    statistic: str | None = None,
    title: str | None = None,
    time_units: str = "",
) -> Any:  # -> matplotlib Figure
    """A figure with one panel per variable of a sweep (see the module docstring).

    Parameters
    ----------
    dataset
        The ``Dataset`` of ``Model.sweep``.
    variables
        Which data variables to draw (default: those that vary, up to ``MAX_PANELS``).
    statistic
        For summaries: which one (default: the first).
    """
    if variables is None:  # by default, leave out variables with one value throughout
        varying = [n for n in dataset.data_vars if np.ptp(dataset[n].values) > 0]
        variables = varying or list(dataset.data_vars)
    chosen = [str(name) for name in variables][:MAX_PANELS]
    names = _run_coordinates(dataset)
    summaries = "statistic" in dataset.dims
    which = statistic or (str(dataset["statistic"].values[0]) if summaries else None)
    fig, axes = _panels(chosen)
    for ax, name in zip(axes, chosen, strict=True):
        if summaries:
            _summary(ax, dataset, name, which, names)  # type: ignore[arg-type]
            ax.set_title(f"{name}: {which}", fontsize=9)
        else:
            _time_series(ax, dataset, name, names)
            ax.set_title(name, fontsize=9)
            ax.set_xlabel(f"time ({time_units})" if time_units else "time", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    if labels:
        fig.legend(
            handles, labels, loc="outside lower center", fontsize=7, ncols=min(3, len(labels))
        )
    runs = dataset.sizes["run"]
    fig.suptitle(f"{title or 'sweep'} ({runs} run{'s' * (runs != 1)})", fontsize=11)
    return fig


def save_sweep_plot(
    dataset: Any,
    path: str | os.PathLike[str],
    variables: Sequence[str] | None = None,
    *,
    statistic: str | None = None,
    title: str | None = None,
    time_units: str = "",
) -> None:
    """Draw :func:`plot_sweep` and write it to ``path`` (PNG, SVG, PDF by suffix) atomically."""
    check_figure_path(path)
    save_figure(
        plot_sweep(dataset, variables, statistic=statistic, title=title, time_units=time_units),
        path,
    )
