"""What a run's summary shows: key indicators at report times, readable numbers.

Shared by ``sdhealth run`` (text) and the HTML report (:mod:`sdhealth.report.html_report`):
the indicators are the model's ``report: indicators:`` (else its stocks), shown every
``report: every:`` (else a year for a monthly model of two years or more, else a fifth of the
run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from sdhealth.analysis.dominance import LoopDominance
    from sdhealth.experiments.runnable import RunnableModel

__all__ = [
    "dominance_rows", "format_value", "indicator_table", "indicators", "report_every",
    "report_times",
]  # fmt: skip


def format_value(value: float) -> str:
    """Readable numbers: ``65,000`` for large values, 4 significant digits otherwise.

    >>> format_value(65432.1), format_value(0.92346), format_value(float("nan"))
    ('65,432', '0.9235', 'nan')
    """
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def report_every(model: RunnableModel, length: float) -> float:
    """The period of summaries: the model's report period, a year for monthly models, else 1/5."""
    if model.ir.report.every is not None:
        return float(model.ir.report.every)
    months = model.time.units.strip().lower() in ("month", "months")
    return 12.0 if months and length >= 24 else length / 5


def report_times(model: RunnableModel, times: pd.Index) -> list[float]:
    """The saved times a summary shows: one every :func:`report_every` from the start."""
    clock = model.time
    every = report_every(model, clock.stop - clock.start)
    wanted = [clock.start + k * every for k in range(int((clock.stop - clock.start) / every) + 1)]
    chosen = times[times.get_indexer(wanted, method="nearest")]
    return sorted(set(chosen.tolist()))


def indicators(model: RunnableModel, results: pd.DataFrame) -> list[str]:
    """The model's key indicators present in ``results`` (its stocks if it names none)."""
    return [n for n in (model.ir.report.indicators or model.stocks) if n in results.columns]


def indicator_table(model: RunnableModel, results: pd.DataFrame) -> pd.DataFrame:
    """The indicators (rows) at the report times (columns ``"<units> <t>"``), as text."""
    shown = report_times(model, results.index)
    columns = [f"{model.time.units} {t:g}" for t in shown]
    rows = {
        name: [format_value(results.at[t, name]) for t in shown]
        for name in indicators(model, results)
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def dominance_rows(
    model: RunnableModel, result: LoopDominance, *, every: float | None = None, top: int = 3
) -> tuple[list[str], list[list[str]]]:
    """The header and text rows of a loop-dominance table: the ``top`` loops of each period
    (``every``, default :func:`report_every`) with their mean relative scores."""
    times = result.relative.index
    period = every or report_every(model, float(times[-1] - times[0]))
    table = result.table(period, top=top)
    header = [model.time.units or "time", "rank", "loop", "mean share", "loop"]
    rows = [
        [f"{r['from']:g}-{r['to']:g}", str(r["rank"]), f"{r['loop']} ({r['kind']})",
         f"{r['mean share']:+.3f}", str(r["description"])]
        for _, r in table.iterrows()
    ]  # fmt: skip
    return header, rows
