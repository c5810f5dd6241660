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
#: Width and height of one panel's axes, inches.
PANEL_SIZE = (3.5, 1.85)
#: Fixed margins, inches: room for 8-point tick labels of up to 9 characters, 9-point panel
#: titles, the x label and an 11-point heading. Fixed rather than matplotlib's constrained
#: layout, which measured every text several times and took half of the plot's time (0.35 of
#: 0.65 s for the NHS model's seven panels).
PANEL_MARGINS = {
    "left": 0.75,
    "right": 0.2,
    "between columns": 0.75,
    "between rows": 0.45,
    "bottom": 0.5,
    "title": 0.35,
    "heading": 0.4,
}


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
    heading = (title or "") + (f"  ({left_out} more variables not shown)" if left_out else "")
    heading = heading.strip()
    top = PANEL_MARGINS["title"] + (PANEL_MARGINS["heading"] if heading else 0.0)
    width = ncols * PANEL_SIZE[0] + (ncols - 1) * PANEL_MARGINS["between columns"]
    width += PANEL_MARGINS["left"] + PANEL_MARGINS["right"]
    height = nrows * PANEL_SIZE[1] + (nrows - 1) * PANEL_MARGINS["between rows"]
    height += top + PANEL_MARGINS["bottom"]
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(width, height),
        sharex=True,
        squeeze=False,
        gridspec_kw={
            "left": PANEL_MARGINS["left"] / width,
            "right": 1 - PANEL_MARGINS["right"] / width,
            "bottom": PANEL_MARGINS["bottom"] / height,
            "top": 1 - top / height,
            "wspace": PANEL_MARGINS["between columns"] / PANEL_SIZE[0],
            "hspace": PANEL_MARGINS["between rows"] / PANEL_SIZE[1],
        },
    )
    for ax, name in zip(axes.flat, chosen, strict=False):
        ax.plot(results.index, results[name], color="#1f5fa8", linewidth=1.6)
        ax.set_title(name, fontsize=9, y=1.0)  # a fixed place: no tight-bbox search per draw
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
    if heading:
        fig.suptitle(heading, fontsize=11, y=1 - 0.12 / height, va="top")
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
