"""The benchmark results as a Markdown table: every figure, the ratios, the targets, scaling."""

from __future__ import annotations

import os
from collections.abc import Sequence

from .suite import Row

__all__ = ["render", "machine_note"]


def _find(rows: list[Row], model: str, engine: str, figure: str) -> float | None:
    for row in rows:
        if (row.model, row.engine, row.figure) == (model, engine, figure):
            return row.seconds
    return None


def _ratio(a: float | None, b: float | None) -> str:
    return (
        ""
        if a is None or b is None or b == 0
        else f"{a / b:,.0f}x"
        if a / b >= 10
        else f"{a / b:.2f}x"
    )


def machine_note() -> str:
    """CPU count and load average: the context every figure was measured in."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load} (1, 5, 15 min)"


def render(rows: list[Row], notes: Sequence[str] = ()) -> str:
    """The results as Markdown: every figure, then the target ratios."""
    lines = [
        "# sdhealth benchmarks",
        "",
        *(f"- {note}" for note in notes),
        "- times are the best of repeated wall-clock timings (repeats: 9 for one run, 3 for "
        "compiles and small batches, 1 for batches over a million run-variables)",
        "- native one run saves every variable at every step; pysimlin's one run reads one "
        "series; batches return one variable; pysimlin batches are loops of `simulate` (up to "
        "200 runs measured, then scaled); native batches are one kernel call over both cores",
        "",
        "| model | engine | figure | time | notes |",
        "|---|---|---|---:|---|",
    ]
    for row in rows:
        shown = (
            f"{row.seconds * 1e9:.2f} ns"
            if "per variable" in row.figure
            else f"{row.seconds:.4g} s"
        )
        lines.append(f"| {row.model} | {row.engine} | {row.figure} | {shown} | {row.note} |")
    lines += ["", "## Ratios (same run)", "", "| model | ratio | value |", "|---|---|---:|"]
    for model in dict.fromkeys(r.model for r in rows):
        native_run = _find(rows, model, "native", "one run (kernel, arrays)")
        pairs = [
            (
                "PySD one run / native one run",
                _find(rows, model, "PySD", "one run (DataFrame)"),
                native_run,
            ),
            (
                "PySD one run / native one run (both DataFrame)",
                _find(rows, model, "PySD", "one run (DataFrame)"),
                _find(rows, model, "native", "one run (DataFrame)"),
            ),
            (
                "PySD translate / native cold compile",
                _find(rows, model, "PySD", "translate (cold)"),
                _find(rows, model, "native", "compile (cold)"),
            ),
            (
                "native one run / pysimlin one run",
                native_run,
                _find(rows, model, "pysimlin", "one run (one series)"),
            ),
        ]
        pairs += [
            (
                "load .mdl: PySD's translator / sdhealth's front end",
                _find(rows, model, "PySD", "load .mdl through PySD's translator (cold)"),
                _find(rows, model, "sdhealth", "load .mdl (cold)"),
            ),
            (
                "load .mdl + first run: sdhealth / pysimlin",
                _find(rows, model, "sdhealth", "load .mdl + first run (cold)"),
                _find(rows, model, "pysimlin", "load .mdl + first run (cold)"),
            ),
        ]
        for batch in ("100", "10000", "1000"):
            pairs.append(
                (
                    f"pysimlin loop / native batch of {batch}",
                    _find(rows, model, "pysimlin", f"batch of {int(batch)} (loop)"),
                    _find(rows, model, "native", f"batch of {int(batch)}"),
                )
            )
        for label, a, b in pairs:
            if a is not None and b is not None:
                lines.append(f"| {model} | {label} | {_ratio(a, b)} |")
    lines += _targets(rows) + _scaling(rows)
    return "\n".join(lines) + "\n"


#: The issue's targets on the 1000-stock chain: (label, numerator, denominator, bound, at least).
_TARGETS = (
    ("one run: PySD / native >= 1000x", ("PySD", "one run (DataFrame)"),
     ("native", "one run (kernel, arrays)"), 1000.0, True),
    ("one run: native / pysimlin <= 1.5x", ("native", "one run (kernel, arrays)"),
     ("pysimlin", "one run (one series)"), 1.5, False),
    ("10,000 runs: pysimlin loop / native batch > 1x", ("pysimlin", "batch of 10000 (loop)"),
     ("native", "batch of 10000"), 1.0, True),
    ("cold: PySD translate / native compile >= 10x", ("PySD", "translate (cold)"),
     ("native", "compile (cold)"), 10.0, True),
    ("load .mdl: PySD's translator / ours >= 40x",
     ("PySD", "load .mdl through PySD's translator (cold)"), ("sdhealth", "load .mdl (cold)"),
     40.0, True),
    ("load .mdl + first run: sdhealth / pysimlin <= 10x",
     ("sdhealth", "load .mdl + first run (cold)"), ("pysimlin", "load .mdl + first run (cold)"),
     10.0, False),
)  # fmt: skip


def _targets(rows: list[Row], model: str = "chain 1000") -> list[str]:
    """The targets of the benchmark issue, met or not, from this run's figures."""
    lines = [
        "",
        f"## Targets ({model}, same run)",
        "",
        "| target | measured | met |",
        "|---|---:|---|",
    ]
    for label, (e1, f1), (e2, f2), bound, at_least in _TARGETS:
        a, b = _find(rows, model, e1, f1), _find(rows, model, e2, f2)
        if a is None or b is None or b == 0:
            continue
        met = a / b >= bound if at_least else a / b <= bound
        lines.append(f"| {label} | {_ratio(a, b)} | {'yes' if met else 'no'} |")
    warm = _find(rows, model, "native", "load (warm, from disk)")
    if warm is not None:
        lines.append(f"| warm load < 0.2 s | {warm:.3f} s | {'yes' if warm < 0.2 else 'no'} |")
    cold = _find(rows, model, "sdhealth", "load .mdl + first run (cold)")
    if cold is not None:
        met = "yes" if cold <= 0.5 else "no"
        lines.append(f"| cold load .mdl + first run <= 0.5 s | {cold:.2f} s | {met} |")
    return lines if len(lines) > 5 else []


def _scaling(rows: list[Row]) -> list[str]:
    """How native cost grows with variables (per variable-step) and with runs (per run)."""
    lines = ["", "## Scaling (native)", "", "| model | figure | value |", "|---|---|---:|"]
    for row in rows:
        if row.engine != "native":
            continue
        if row.figure == "per variable per step":
            lines.append(f"| {row.model} | one run, per variable per step ({row.note}) | "
                         f"{row.seconds * 1e9:.2f} ns |")  # fmt: skip
        elif row.figure.startswith("batch of "):
            runs = int(row.figure.split()[-1])
            lines.append(
                f"| {row.model} | {row.figure}, per run | {row.seconds / runs * 1e3:.3f} ms |"
            )
    return lines
