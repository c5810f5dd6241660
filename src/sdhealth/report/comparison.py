"""A run beside another tool's export: which variables differ, from when, by how much.

A modeller moving a model from Stella (or Vensim) checks sdhealth's numbers against the tool's
own table: Stella exports a run as ``.csv`` or ``.xlsx`` (time first, one column per variable,
arrayed variables as ``pop[north]``, module variables as ``hares.birth fraction`` or
``a."module/output"``), Vensim as tab-separated ``.tab``/``.dat``-like tables. sdhealth names
its results the same way, so :func:`compare_runs` lines the two up by name and reports, for
each variable both have, the first time where they differ beyond ``atol + rtol * |reference|``
with both values there, and the names only one of them has. ``sdhealth compare RUN REFERENCE``
prints it (``RUN`` a results file of ``sdhealth run --out`` or a model, run first).

Names are matched as the tools compare them: case, runs of spaces and underscores, a line
break written ``\\n``, and the quotes around a name (or after a module's dot) do not count.
Times are matched to 1e-9 of the run's time step; times only one side has are left out.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sdhealth.errors import SdhealthError
from sdhealth.io.abstract_expressions import without_module_quotes

__all__ = ["Difference", "Comparison", "compare_runs", "read_reference"]

#: What ``read_reference`` reads, by suffix.
REFERENCE_SUFFIXES = (".csv", ".xlsx", ".tab", ".tsv", ".txt")


@dataclass(frozen=True)
class Difference:
    """One variable that differs: where first, with both values there, and the largest gap."""

    name: str
    time: float
    value: float
    reference: float
    largest: float  # the largest absolute difference over the common times


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_runs`."""

    matched: tuple[str, ...]
    differ: tuple[Difference, ...]
    only_in_run: tuple[str, ...]
    only_in_reference: tuple[str, ...]
    times: int  # how many times both have
    rtol: float
    atol: float
    notes: tuple[str, ...] = field(default=())

    @property
    def same(self) -> bool:
        """Every variable both have agrees at every time both have (and there is one)."""
        return not self.differ and bool(self.matched) and self.times > 0

    def lines(self) -> list[str]:
        """The report as lines of text (what ``sdhealth compare`` prints)."""
        found = [
            f"{len(self.matched) + len(self.differ)} variables compared at {self.times} times "
            f"(rtol {self.rtol:g}, atol {self.atol:g}): {len(self.matched)} agree, "
            f"{len(self.differ)} differ"
        ]
        for d in self.differ:
            found.append(
                f"  {d.name}: from time {d.time:g}, {d.value:.6g} against {d.reference:.6g} "
                f"(largest difference {d.largest:.3g})"
            )
        if self.only_in_reference:
            found.append(
                f"only in the reference ({len(self.only_in_reference)}): "
                + ", ".join(self.only_in_reference)
            )
        if self.only_in_run:
            found.append(
                f"only in the run ({len(self.only_in_run)}): " + ", ".join(self.only_in_run)
            )
        found.extend(self.notes)
        return found


def _key(name: object) -> str:
    """A column name as the tools compare names (module docstring)."""
    text = without_module_quotes(str(name).replace("\\n", " ").strip())
    text = text.strip('"').replace('""', '"')
    return re.sub(r"[\s_]+", " ", text).strip().lower().replace(", ", ",")


def read_reference(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A tool's exported run: time as the index, one float column per variable.

    ``.csv`` (Stella's export, comma-separated), ``.xlsx`` (its spreadsheet export, first
    sheet), ``.tab``/``.tsv``/``.txt`` (tab-separated, as Vensim writes). The first column is
    time whatever its title (``Time``, ``Months``...); a column that is not numbers is left
    out with a note.

    Raises
    ------
    SdhealthError
        A missing file, an unknown suffix, or a table without a time column and one variable.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in REFERENCE_SUFFIXES:
        raise SdhealthError(
            f"{path}: cannot read a reference run from {suffix or 'a file without suffix'!r} "
            f"(use one of {', '.join(REFERENCE_SUFFIXES)})"
        )
    if not path.is_file():
        raise SdhealthError(f"{path}: no such reference file")
    try:
        if suffix == ".xlsx":
            frame = pd.read_excel(path)
        elif suffix == ".csv":
            frame = pd.read_csv(path)
        else:
            frame = pd.read_csv(path, sep="\t")
    except (ValueError, ImportError, OSError) as error:
        raise SdhealthError(f"{path}: cannot read the reference run: {error}") from None
    return _as_run(frame, str(path))


def _as_run(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    if frame.shape[1] < 2:
        raise SdhealthError(f"{where}: a reference run needs a time column and a variable")
    times = pd.to_numeric(frame.iloc[:, 0], errors="coerce")
    keep = times.notna().to_numpy()
    values = frame.iloc[keep, 1:].apply(pd.to_numeric, errors="coerce")
    values.index = pd.Index(times[keep].to_numpy(dtype=float), name="time")
    return values


def compare_runs(
    run: pd.DataFrame, reference: pd.DataFrame, *, rtol: float = 1e-3, atol: float = 1e-6
) -> Comparison:
    """Line up ``run`` (sdhealth's results) and ``reference`` (another tool's) by variable and
    time and say where they differ (module docstring).

    >>> run = pd.DataFrame({"Stock": [1.0, 2.0, 3.0]}, index=[0.0, 1.0, 2.0])
    >>> ref = pd.DataFrame({"STOCK": [1.0, 2.0, 3.5], "Other": 0.0}, index=[0.0, 1.0, 2.0])
    >>> result = compare_runs(run, ref)
    >>> result.differ[0].name, result.differ[0].time, result.only_in_reference
    ('Stock', 2.0, ('Other',))
    """
    if rtol < 0 or atol < 0 or math.isnan(rtol) or math.isnan(atol):
        raise SdhealthError("rtol and atol must be numbers of at least 0")
    ours = {_key(c): c for c in run.columns}
    theirs = {_key(c): c for c in reference.columns if _key(c) != "time"}
    run_times = np.asarray(run.index, dtype=float)
    ref_times = np.asarray(reference.index, dtype=float)
    step = float(np.min(np.diff(run_times))) if run_times.size > 1 else 1.0
    position = np.searchsorted(run_times, ref_times).clip(0, max(run_times.size - 1, 0))
    nearest = [
        min((p - 1, p), key=lambda i: abs(run_times[i] - t)) if p > 0 else p
        for p, t in zip(position, ref_times, strict=True)
    ]
    both = [
        (i, j)
        for j, i in enumerate(nearest)
        if run_times.size and abs(run_times[i] - ref_times[j]) <= 1e-9 * max(step, 1.0)
    ]
    rows_ours = np.array([i for i, _ in both], dtype=int)
    rows_theirs = np.array([j for _, j in both], dtype=int)
    matched, differ, notes = [], [], []
    for key, column in theirs.items():
        if key not in ours:
            continue
        a = run[ours[key]].to_numpy(dtype=float)[rows_ours]
        b = reference[column].to_numpy(dtype=float)[rows_theirs]
        known = ~np.isnan(b)
        if not known.any():
            notes.append(f"{column!r} has no numbers in the reference: not compared")
            continue
        gap = np.abs(a - b)
        bad = known & ~(gap <= atol + rtol * np.abs(b))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            differ.append(Difference(
                str(ours[key]), float(ref_times[rows_theirs[first]]), float(a[first]),
                float(b[first]), float(np.nanmax(np.where(known, gap, np.nan))),
            ))  # fmt: skip
        else:
            matched.append(str(ours[key]))
    return Comparison(
        matched=tuple(matched),
        differ=tuple(differ),
        only_in_run=tuple(str(c) for k, c in ours.items() if k not in theirs),
        only_in_reference=tuple(str(c) for k, c in theirs.items() if k not in ours),
        times=len(both),
        rtol=rtol,
        atol=atol,
        notes=tuple(notes),
    )
