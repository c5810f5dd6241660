"""A model report as one self-contained HTML file (``sdhealth report MODEL --out report.html``).

The report puts on one page what a reviewer of a model asks first:

- the model: its description, clock and the scenario or parameters of the run;
- the checks (:func:`sdhealth.check`): problems, or that there are none;
- the key indicators at the report times and their plot over the run;
- the stocks (initial values, units, descriptions) and the parameters with their sources;
- the feedback loops: how many of each polarity, the model's named loops (``report: loops:``)
  traced through the diagram, or its shortest loops, and a causal-loop picture of them;
- loop dominance (:mod:`sdhealth.analysis.dominance`): which loops drive the run in each
  period, with the plot of their relative scores (left out for subscripted models, or with
  ``dominance=False``).

Pictures are PNGs embedded as ``data:`` URIs, so the file can be mailed or archived on its own;
there is no script. Every text from the model is HTML-escaped. The file is written atomically.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import pandas as pd

from sdhealth.errors import SdhealthError
from sdhealth.io.atomic import write_text_atomic
from sdhealth.report.summary import dominance_rows, format_value, indicator_table, indicators
from sdhealth.version import __version__

if TYPE_CHECKING:
    from sdhealth.analysis.loops import Loop
    from sdhealth.experiments.runnable import RunnableModel

__all__ = ["write_report", "report_html", "SHORTEST_LOOPS", "TOP_LOOPS"]

#: Loops listed when the model names none (the shortest ones).
SHORTEST_LOOPS = 12
#: Loops per period in the dominance table.
TOP_LOOPS = 3
#: Diagrams with more variables than this are drawn only through their listed loops.
_DRAW_WHOLE = 40

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { border-bottom: 2px solid #1f4e79; } h2 { color: #1f4e79; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; vertical-align: top; }
th { background: #eef3f8; text-align: left; } td.num { text-align: right; }
img { max-width: 100%; } .note { color: #555; font-size: 0.9em; }
.error { color: #a00; } .warning { color: #a60; } pre { white-space: pre-wrap; }
"""


def write_report(
    model: RunnableModel,
    path: str | os.PathLike[str],
    *,
    params: Mapping[str, float] | None = None,
    scenario: Any = None,
    dominance: bool = True,
) -> None:
    """Write :func:`report_html` to ``path`` (``.html``/``.htm``) atomically."""
    if Path(path).suffix.lower() not in (".html", ".htm"):
        raise SdhealthError(
            f"cannot write a report as {Path(path).suffix or 'no suffix'!r}: use .html"
        )
    text = report_html(model, params=params, scenario=scenario, dominance=dominance)
    write_text_atomic(path, text)


def report_html(
    model: RunnableModel,
    *,
    params: Mapping[str, float] | None = None,
    scenario: Any = None,
    dominance: bool = True,
) -> str:
    """The report of ``model`` (one run with ``params``/``scenario``) as HTML text."""
    results = model.run(params=dict(params or {}), scenario=scenario)
    loops = model.loops()
    sections = [
        _heading(model, params, scenario),
        _checks(model.check()),
        _indicators(model, results),
        _stocks(model),
        _parameters(model),
        _loops(model, loops),
    ]
    if dominance:
        sections.append(_dominance(model, params, scenario))
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    footer = f'<p class="note">Written by sdhealth {_e(__version__)} on {stamp}.</p>'
    body = "\n".join([*sections, footer])
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(model.name)}: model report</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- pieces


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(
    header: Sequence[str], rows: Iterable[Sequence[object]], numeric: set[int] = frozenset()
) -> str:  # type: ignore[assignment]
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(cell)}</td>' if i in numeric else f"<td>{_e(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>\n"
        for row in rows
    )
    return f"<table><tr>{head}</tr>\n{body}</table>"


def _figure_png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return _img(buffer.getvalue(), "figure")


def _img(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{encoded}">'


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{_e(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def _heading(model: RunnableModel, params: Mapping[str, float] | None, scenario: Any) -> str:
    clock = model.time
    facts = [
        ("file", str(model.path) if model.path else "(built in code)"),
        ("time", f"{clock.start:g} to {clock.stop:g} {clock.units}, dt {clock.dt:g}"),
    ]
    if scenario is not None:
        facts.append(("scenario", str(getattr(scenario, "name", scenario))))
    if params:
        facts.append(("parameters", ", ".join(f"{k} = {v:g}" for k, v in params.items())))
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    return f"<h1>{_e(model.name)}</h1>\n{_paragraphs(model.ir.doc)}\n<table>{rows}</table>"


def _checks(issues: Sequence[Any]) -> str:
    if not issues:
        return (
            "<h2>Checks</h2>\n<p>No problems found (names, algebraic loops, lookups, units, "
            "link polarities).</p>"
        )
    rows = []
    for issue in issues:
        severity = str(getattr(issue.severity, "value", issue.severity))
        where = f"{issue.path}:{issue.line}" if getattr(issue, "line", None) else ""
        rows.append(
            f'<tr><td class="{_e(severity)}">{_e(severity)}</td><td>{_e(issue.code)}</td>'
            f"<td>{_e(issue.message)}</td><td>{_e(where)}</td></tr>"
        )
    header = "<tr><th>severity</th><th>code</th><th>message</th><th>where</th></tr>"
    return (
        f"<h2>Checks</h2>\n<p>{len(issues)} finding(s).</p>\n<table>{header}{''.join(rows)}</table>"
    )


def _indicators(model: RunnableModel, results: pd.DataFrame) -> str:
    from sdhealth.report.plots import plot_run

    table = indicator_table(model, results)
    if table.empty:
        return "<h2>Key indicators</h2>\n<p>The model has no stocks to show.</p>"
    title = "Key indicators" if model.ir.report.indicators else "Stocks over the run"
    rows = [[name, *table.loc[name]] for name in table.index]
    numeric = set(range(1, len(table.columns) + 1))
    figure = plot_run(
        results, indicators(model, results), title=model.name, time_units=model.time.units
    )
    try:
        picture = _figure_png(figure)
    finally:
        _close(figure)
    return f"<h2>{title}</h2>\n{_table(['', *table.columns], rows, numeric)}\n{picture}"


def _stocks(model: RunnableModel) -> str:
    stocks = [v for v in model.ir.stocks if not v.internal]
    rows = [(s.name, s.initial.text, s.units, s.doc) for s in stocks]
    return f"<h2>Stocks ({len(stocks)})</h2>\n" + _table(
        ["stock", "initial", "units", "description"], rows
    )


def _parameters(model: RunnableModel) -> str:
    from sdhealth.ir.model import Constant

    constants = [v for v in model.ir.variables if isinstance(v, Constant)]
    rows = [(c.name, format_value(c.value), c.units, c.source or "", c.doc) for c in constants]
    missing = sum(1 for c in constants if not c.source)
    note = f'<p class="note">{missing} parameter(s) without a source.</p>' if missing else ""
    return f"<h2>Parameters ({len(constants)})</h2>\n{note}" + _table(
        ["parameter", "value", "units", "source", "description"], rows, {1}
    )


def _loops(model: RunnableModel, loops: Any) -> str:
    from sdhealth.analysis.loops import find_named_loops

    kinds = {kind: sum(1 for loop in loops if loop.kind == kind) for kind in ("R", "B", "?")}
    more = "+" if loops.truncated else ""
    counts = (
        f"<p>{len(loops)}{more} feedback loops: {kinds['R']} reinforcing, {kinds['B']} balancing"
        + (f", {kinds['?']} undetermined" if kinds["?"] else "")
        + ".</p>"
    )
    if model.ir.report.loops:
        named = find_named_loops(model.cld(), model.ir.report.loops, loops)
        rows = [
            (name, "not found", "", "", "") if loop is None
            else (name, loop.id or "-", loop.kind, loop.length, loop.path)
            for name, loop in named
        ]  # fmt: skip
        shown = [loop for _, loop in named if loop is not None]
        title = "The model's named loops"
    else:
        shown = sorted(loops, key=lambda lp: (lp.length, lp.id))[:SHORTEST_LOOPS]
        rows = [("", lp.id, lp.kind, lp.length, lp.path) for lp in shown]
        title = f"The {len(shown)} shortest loops"
    table = _table(["name", "id", "polarity", "links", "loop"], rows, {3})
    diagram = _diagram(model, shown)
    return f"<h2>Feedback loops</h2>\n{counts}\n<h3>{_e(title)}</h3>\n{table}\n{diagram}"


def _diagram(model: RunnableModel, shown: Sequence[Loop]) -> str:
    from sdhealth.cld.diagram import CausalLoopDiagram
    from sdhealth.cld.render import draw

    cld = model.cld()
    if len(cld.graph) > _DRAW_WHOLE:
        if not shown:
            return ""
        nodes = {v for loop in shown for v in loop.variables}
        cld = CausalLoopDiagram(nx.DiGraph(cld.graph.subgraph(nodes)), name=cld.name)
        note = '<p class="note">The diagram shows the variables of the loops listed above.</p>'
    else:
        note = ""
    with tempfile.TemporaryDirectory() as folder:
        picture = Path(folder) / "cld.png"
        draw(cld, picture, loops=tuple(shown) or None)
        data = picture.read_bytes()
    return note + _img(data, "causal-loop diagram")


def _dominance(model: RunnableModel, params: Mapping[str, float] | None, scenario: Any) -> str:
    from sdhealth.analysis.dominance import loop_dominance

    heading = "<h2>Loop dominance</h2>"
    if model.ir.is_arrayed:
        return f'{heading}\n<p class="note">Not computed: the model has subscripts.</p>'
    result = loop_dominance(model, params=dict(params or {}), scenario=scenario)
    if not result.loops:
        return f'{heading}\n<p class="note">The model has no feedback loops.</p>'
    header, rows = dominance_rows(model, result, top=TOP_LOOPS)
    figure = result.plot(time_units=model.time.units)
    try:
        picture = _figure_png(figure)
    finally:
        _close(figure)
    explain = (
        "<p>Loops That Matter (Schoenberg, Davidsen &amp; Eberlein 2020): the share of the "
        "change of the stocks each loop explains, averaged over each period (positive: "
        "reinforcing, negative: balancing). Dominant over the whole run (50% of the change): "
        f"{_e(', '.join(result.dominant()) or 'none (the run is at rest)')}.</p>"
    )
    return f"{heading}\n{explain}\n{_table(header, rows, {1, 3})}\n{picture}"


def _close(figure: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(figure)
