"""Plots of run results: small multiples of time series, saved atomically.

matplotlib runs headless (Agg); nothing here opens a window or prints.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sdhealth.errors import SdhealthError
from sdhealth.io.atomic import atomic_path

__all__ = ["check_figure_path", "plot_run", "save_figure", "save_run_plot"]

#: Most panels in one figure; more columns than this are left out (and said so in the title).
MAX_PANELS = 12


def plot_run(
    results: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    title: str | None = None,
    time_units: str = "",
):  # -> matplotlib Figure
    """A figure with one panel per column (time on x), sharing the time axis.

    Parameters
    ----------
    results : DataFrame
        Output of ``Model.run`` (index = time).
    columns : sequence of str, optional
        Which columns to draw (default: all, up to :data:`MAX_PANELS`).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    chosen = list(results.columns if columns is None else columns)
    left_out = max(0, len(chosen) - MAX_PANELS)
    chosen = chosen[:MAX_PANELS] or list(results.columns[:1])
    ncols = 1 if len(chosen) == 1 else 2 if len(chosen) <= 4 else 3
    nrows = math.ceil(len(chosen) / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(4.2 * ncols, 2.6 * nrows),
        sharex=True,
        squeeze=False,
        layout="constrained",
    )
    for ax, name in zip(axes.flat, chosen, strict=False):
        ax.plot(results.index, results[name], color="#1f5fa8", linewidth=1.6)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(chosen) :]:
        ax.set_visible(False)
    for column in range(ncols):  # label the lowest panel drawn in each column
        shown = [row for row in range(nrows) if row * ncols + column < len(chosen)]
        if shown:
            ax = axes[shown[-1], column]
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel(f"time ({time_units})" if time_units else "time", fontsize=8)
    heading = title or ""
    if left_out:
        heading += f"  ({left_out} more variables not shown)"
    if heading:
        fig.suptitle(heading.strip(), fontsize=11)
    return fig


def save_run_plot(
    results: pd.DataFrame,
    path: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    *,
    title: str | None = None,
    time_units: str = "",
) -> None:
    """Draw :func:`plot_run` and write it to ``path`` (PNG, SVG, PDF by suffix) atomically."""
    check_figure_path(path)
    save_figure(plot_run(results, columns, title=title, time_units=time_units), path)


def check_figure_path(path: str | os.PathLike[str]) -> str:
    """The image format of ``path`` by suffix (``png``, ``svg``, ``pdf``, ...).

    Raises
    ------
    SdhealthError
        The suffix is not a format matplotlib writes.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    kind = Path(path).suffix.lower().lstrip(".")
    known = FigureCanvasBase.get_supported_filetypes()
    if kind not in known:
        raise SdhealthError(
            f"{path}: cannot write a plot as {kind or 'a file without suffix'!r} "
            f"(use one of {', '.join(sorted(known))})"
        )
    return kind


def save_figure(figure: Any, path: str | os.PathLike[str], dpi: int = 120) -> None:
    """Write ``figure`` (or the figure of an Axes) to ``path`` atomically and close it.

    The format comes from the suffix (see :func:`check_figure_path`; nothing is written for
    an unknown one).
    """
    import matplotlib.pyplot as plt

    figure = getattr(figure, "figure", figure)
    try:
        kind = check_figure_path(path)
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=dpi, format=kind)
    finally:
        plt.close(figure)
