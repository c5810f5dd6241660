"""Plots of experiments: Monte Carlo fan charts, tornado charts, Sobol bars, Morris scatter.

Every function takes plain results -- an ``xarray.Dataset`` of percentiles, or the
``DataFrame`` tables of :mod:`sdhealth.experiments.sensitivity` -- draws with matplotlib and
returns the Axes (or the Figure for small multiples). Nothing here opens a window, calls
``plt.show()`` or prints; :func:`save_figure` writes a figure atomically and closes it.

Given an ``ax``, a function draws into it; otherwise it makes a new figure. matplotlib runs
headless (Agg) unless the caller already chose a backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from sdhealth.report.plots import check_figure_path, save_figure

__all__ = [
    "plot_fan",
    "plot_fans",
    "plot_tornado",
    "plot_sobol",
    "plot_morris",
    "check_figure_path",
    "save_figure",
]

_BLUE = "#1f5fa8"
_ORANGE = "#d9822b"
_MAX_PANELS = 12


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _axes(ax: Any, size: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    _, new = _pyplot().subplots(figsize=size, layout="constrained")
    return new


def _band_pairs(levels: Sequence[float]) -> list[tuple[float, float]]:
    """Symmetric pairs of percentiles, outermost first: (5, 95), (25, 75)."""
    ordered = sorted(float(level) for level in levels)
    pairs = []
    while len(ordered) >= 2:
        pairs.append((ordered.pop(0), ordered.pop(-1)))
    return pairs


def plot_fan(
    percentiles: xr.Dataset,
    variable: str,
    ax: Any = None,
    *,
    time_units: str = "",
    color: str = _BLUE,
    title: str | None = None,
) -> Any:
    """A fan chart: shaded bands between symmetric percentiles and the median as a line.

    Parameters
    ----------
    percentiles
        Dims ``(percentile, time)``, e.g. from ``MonteCarloResult.percentiles()``.
    variable
        The data variable to draw.
    ax
        Axes to draw into (default: a new figure).
    """
    ax = _axes(ax, (6.0, 3.6))
    bands = percentiles[variable]
    times = bands["time"].to_numpy()
    levels = bands["percentile"].to_numpy().tolist()
    pairs = _band_pairs(levels)
    for depth, (low, high) in enumerate(pairs):
        alpha = 0.18 + 0.22 * depth / max(1, len(pairs) - 1) if len(pairs) > 1 else 0.3
        ax.fill_between(
            times,
            bands.sel(percentile=low).to_numpy(),
            bands.sel(percentile=high).to_numpy(),
            color=color,
            alpha=alpha,
            linewidth=0,
            label=f"{low:g}-{high:g}th percentile",
        )
    if len(levels) % 2 == 1:
        middle = sorted(levels)[len(levels) // 2]
        label = "median" if middle == 50 else f"{middle:g}th percentile"
        ax.plot(times, bands.sel(percentile=middle).to_numpy(), color=color, lw=1.8, label=label)
    ax.set_title(title if title is not None else variable, fontsize=10)
    ax.set_xlabel(f"time ({time_units})" if time_units else "time", fontsize=9)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, loc="best", frameon=False)
    return ax


def plot_fans(
    percentiles: xr.Dataset,
    variables: Sequence[str] | None = None,
    *,
    title: str | None = None,
    time_units: str = "",
) -> Any:
    """One fan chart per variable (small multiples, up to 12); returns the Figure."""
    chosen = list(percentiles.data_vars if variables is None else variables)[:_MAX_PANELS]
    ncols = 1 if len(chosen) == 1 else 2 if len(chosen) <= 4 else 3
    nrows = math.ceil(len(chosen) / ncols)
    fig, axes = _pyplot().subplots(
        nrows, ncols, figsize=(4.6 * ncols, 3.0 * nrows), squeeze=False, layout="constrained"
    )
    for ax, name in zip(axes.flat, chosen, strict=False):
        plot_fan(percentiles, str(name), ax, time_units=time_units)
    for ax in list(axes.flat)[len(chosen) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_tornado(
    table: pd.DataFrame, ax: Any = None, *, output: str = "", base: float | None = None
) -> Any:
    """A tornado chart of one-at-a-time swings, the widest at the top.

    ``table`` has one row per parameter (the index) with columns ``output_low`` and
    ``output_high`` (the output at the parameter's low and high value), as made by
    :func:`sdhealth.experiments.sensitivity.oat`. Bars start at ``base`` (default: the
    table's ``output_base`` column, if any).
    """
    ordered = table.assign(_swing=(table["output_high"] - table["output_low"]).abs())
    ordered = ordered.sort_values("_swing", ascending=True)
    ax = _axes(ax, (6.4, 0.9 + 0.42 * len(ordered)))
    if base is None and "output_base" in table:
        base = float(table["output_base"].iloc[0])
    centre = 0.0 if base is None else base
    rows = np.arange(len(ordered))
    for column, color, label in (
        ("output_low", _BLUE, "parameter at its low value"),
        ("output_high", _ORANGE, "parameter at its high value"),
    ):
        ax.barh(rows, ordered[column] - centre, left=centre, color=color, label=label, height=0.6)
    ax.set_yticks(rows, [str(name) for name in ordered.index], fontsize=8)
    if base is not None:
        ax.axvline(base, color="black", lw=0.8)
    ax.set_xlabel(output or "output", fontsize=9)
    ax.set_title(f"One-at-a-time sensitivity of {output}" if output else "Sensitivity", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", frameon=False)
    return ax


def plot_sobol(table: pd.DataFrame, ax: Any = None, *, output: str = "") -> Any:
    """Grouped bars of first-order (S1) and total (ST) Sobol indices with confidence intervals.

    ``table`` has one row per parameter and columns ``S1``, ``S1_conf``, ``ST``, ``ST_conf``.
    """
    ax = _axes(ax, (max(4.5, 1.0 + 0.9 * len(table)), 3.6))
    rows = np.arange(len(table))
    width = 0.38
    for offset, index, color in ((-width / 2, "S1", _BLUE), (width / 2, "ST", _ORANGE)):
        ax.bar(
            rows + offset,
            table[index],
            width,
            yerr=table[f"{index}_conf"],
            capsize=3,
            color=color,
            label={"S1": "first order (S1)", "ST": "total (ST)"}[index],
        )
    ax.set_xticks(rows, [str(name) for name in table.index], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("Sobol index", fontsize=9)
    ax.set_ylim(bottom=min(0.0, float((table["S1"] - table["S1_conf"]).min())))
    ax.set_title(f"Sobol indices of {output}" if output else "Sobol indices", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    return ax


def plot_morris(table: pd.DataFrame, ax: Any = None, *, output: str = "") -> Any:
    """Morris screening: ``mu_star`` (overall influence) against ``sigma`` (non-linearity).

    ``table`` has one row per parameter and columns ``mu_star``, ``mu_star_conf``, ``sigma``.
    Parameters near the origin hardly matter; far right, they matter; high up, they interact
    or act non-linearly.
    """
    ax = _axes(ax, (5.6, 4.2))
    ax.errorbar(
        table["mu_star"],
        table["sigma"],
        xerr=table["mu_star_conf"],
        fmt="o",
        color=_BLUE,
        ecolor="#8fb0d8",
        capsize=3,
    )
    for name, row in table.iterrows():
        ax.annotate(
            str(name),
            (row["mu_star"], row["sigma"]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
        )
    ax.set_xlabel("mu* (mean absolute elementary effect)", fontsize=9)
    ax.set_ylabel("sigma (spread of elementary effects)", fontsize=9)
    widest = float((table["mu_star"] + table["mu_star_conf"]).max())
    ax.set_xlim(0, 1.35 * widest if widest > 0 else 1.0)  # room for the labels on the right
    ax.set_ylim(bottom=0)
    ax.set_title(f"Morris screening of {output}" if output else "Morris screening", fontsize=10)
    ax.grid(alpha=0.3)
    return ax
