"""The public SDXorg test suite, shared by the suite tests of the PySD and native backends.

Owns where the suite is (``$SDHEALTH_TEST_MODELS/tests``), which models it holds, how Vensim's
canonical output is read and compared, and :func:`suite_outcomes`: every model imported once
with ``sd.load`` and run on both backends, in a process pool, once per process. Translation
through PySD costs about a second per model and the suite has ~200 models, so the PySD and the
native suite tests share this one pass (the native run adds a few hundredths of a second).
"""

from __future__ import annotations

import functools
import io
import os
import re
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "SUITE",
    "RTOL",
    "ATOL",
    "PARITY_RTOL",
    "PARITY_ATOL",
    "VENSIM",
    "XMILE",
    "Outcome",
    "suite_models",
    "normalise",
    "canonical_output",
    "compare",
    "compare_backends",
    "check_model",
    "suite_outcomes",
]

ROOT = Path(__file__).resolve().parents[1]
_DEFAULT = ROOT.parent / "shared" / "test-models"
SUITE = Path(os.environ.get("SDHEALTH_TEST_MODELS", _DEFAULT)) / "tests"

#: Tolerance against Vensim's canonical output.
RTOL, ATOL = 1e-3, 1e-6
#: Tolerance between the native and the PySD backend (issue 5, point 3).
PARITY_RTOL, PARITY_ATOL = 1e-9, 1e-12
_CONTROL = {"final time", "initial time", "time step", "saveper"}
VENSIM = (".mdl",)
XMILE = (".xmile", ".xml", ".stmx")


@dataclass(frozen=True)
class Outcome:
    """What happened to one suite model: ``None`` means passed / agreed, else the reason.

    ``parity`` is ``None`` also when one of the backends did not run the model (there is
    nothing to compare); ``both_ran`` tells the cases apart.
    """

    pysd: str | None
    native: str | None
    parity: str | None
    both_ran: bool


def suite_models(suffixes: tuple[str, ...]) -> list[str]:
    """Paths (relative to the suite) of the models with these suffixes that have an output."""
    if not SUITE.is_dir():
        return []
    found = []
    for path in sorted(SUITE.rglob("*")):
        if path.suffix.lower() not in suffixes or not path.is_file():
            continue
        folder = path.parent
        if (folder / "output.csv").is_file() or (folder / "output.tab").is_file():
            found.append(str(path.relative_to(SUITE)))
    return found


def normalise(column: str) -> str:
    """A column name compared loosely: case, quotes, spaces and underscores do not matter.

    >>> normalise('"Stock A[Entry 1, Column 1]"') == normalise("stock_a[entry 1,column 1]")
    True
    """
    text = column.strip().strip('"').replace('"', "").lower()
    text = re.sub(r"[\s_]+", " ", text)
    return re.sub(r"\s*([\[\],])\s*", r"\1", text).strip()


def canonical_output(folder: Path) -> pd.DataFrame:
    """Vensim's canonical output for the model in ``folder``: index time, constants filled."""
    csv = folder / "output.csv"
    path, sep = (csv, ",") if csv.is_file() else (folder / "output.tab", "\t")
    text = path.read_bytes().decode("utf-8", errors="replace")  # some files end lines in CR
    frame = pd.read_csv(io.StringIO("\n".join(text.splitlines())), sep=sep, index_col=0)
    frame.index = pd.to_numeric(frame.index, errors="coerce")
    frame = frame[frame.index.notna()]
    frame = frame.apply(pd.to_numeric, errors="coerce")
    return frame.ffill()


def compare(result: pd.DataFrame, canon: pd.DataFrame) -> list[str]:
    """Differences between a run and the canonical output (empty when they agree)."""
    ours = {normalise(c): result[c] for c in result.columns}
    problems = []
    times = result.index.to_numpy(dtype=float)
    for column in canon.columns:
        key = normalise(str(column))
        if key in _CONTROL or key.startswith("unnamed"):
            continue
        if key not in ours:
            problems.append(f"missing column {column!r}")
            continue
        wanted = canon[column]
        rows = np.searchsorted(times, wanted.index.to_numpy(dtype=float))
        rows = np.clip(rows, 0, len(times) - 1)
        if not np.allclose(times[rows], wanted.index, rtol=0, atol=1e-9):
            problems.append(f"times differ for {column!r}")
            continue
        got = ours[key].to_numpy(dtype=float)[rows]
        expected = wanted.to_numpy(dtype=float)
        valid = ~np.isnan(expected)
        if not np.allclose(got[valid], expected[valid], rtol=RTOL, atol=ATOL, equal_nan=True):
            worst = int(np.nanargmax(np.abs(got[valid] - expected[valid])))
            problems.append(
                f"{column!r}: got {float(got[valid][worst])!r}, "
                f"expected {float(expected[valid][worst])!r}"
            )
    return problems


def compare_backends(native: pd.DataFrame, pysd: pd.DataFrame) -> list[str]:
    """Differences between two runs of one model beyond :data:`PARITY_RTOL` (empty if none)."""
    if list(native.columns) != list(pysd.columns):
        extra = sorted(set(native.columns) ^ set(pysd.columns))
        return [f"columns differ: {extra[:3]!r}" if extra else "columns in another order"]
    if not np.array_equal(native.index.to_numpy(float), pysd.index.to_numpy(float)):
        return [f"times differ: {len(native.index)} rows against {len(pysd.index)}"]
    problems = []
    for column in native.columns:
        ours, theirs = native[column].to_numpy(float), pysd[column].to_numpy(float)
        if not np.allclose(ours, theirs, rtol=PARITY_RTOL, atol=PARITY_ATOL, equal_nan=True):
            worst = int(np.nanargmax(np.abs(ours - theirs)))
            problems.append(
                f"{column!r}: native {float(ours[worst])!r}, pysd {float(theirs[worst])!r}"
            )
    return problems


def _reason(error: Exception) -> str:
    last = traceback.format_exception_only(type(error), error)[-1].strip()
    return f"{type(error).__name__}: {last[:300]}"


def _run(model: object, backend: str) -> tuple[pd.DataFrame | None, str | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.run(backend=backend), None  # type: ignore[attr-defined]
    except Exception as error:  # every failure becomes a reason to report
        return None, _reason(error)


def _verdict(result: pd.DataFrame | None, error: str | None, canon: pd.DataFrame) -> str | None:
    if result is None:
        return error
    return "; ".join(compare(result, canon)[:3]) or None


def check_model(relative: str) -> Outcome:
    """Import one model, run it on both backends and compare (see :class:`Outcome`)."""
    import sdhealth as sd

    path = SUITE / relative
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = sd.load(path)
    except Exception as error:
        reason = _reason(error)
        return Outcome(reason, reason, None, both_ran=False)
    pysd, pysd_error = _run(model, "pysd")
    native, native_error = _run(model, "native")
    canon = canonical_output(path.parent)
    parity, both_ran = None, pysd is not None and native is not None
    if pysd is not None and native is not None:
        parity = "; ".join(compare_backends(native, pysd)[:3]) or None
    return Outcome(
        _verdict(pysd, pysd_error, canon), _verdict(native, native_error, canon), parity, both_ran
    )


@functools.cache
def suite_outcomes() -> dict[str, Outcome]:
    """Every suite model checked once per process, two at a time."""
    models = suite_models(VENSIM) + suite_models(XMILE)
    with ProcessPoolExecutor(max_workers=2) as pool:
        return dict(zip(models, pool.map(check_model, models, chunksize=4), strict=True))
