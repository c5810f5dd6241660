"""Writing run results (pandas DataFrames) to CSV or Parquet, atomically, chosen by suffix."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sdhealth.errors import SdhealthError
from sdhealth.io.atomic import write_with

__all__ = ["RESULT_WRITERS", "write_results"]


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, float_format="%.10g")


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    try:
        frame.to_parquet(path)
    except ImportError as exc:  # pyarrow is a declared dependency; say so if it went missing
        raise SdhealthError(f"writing {path.suffix} needs pyarrow ({exc})") from None


#: Suffix -> writer.
RESULT_WRITERS: dict[str, Callable[[pd.DataFrame, Path], None]] = {
    ".csv": _write_csv,
    ".parquet": _write_parquet,
}


def write_results(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``frame`` to ``path``; a failure leaves any earlier file untouched.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> write_results(pd.DataFrame({"x": [1.5]}, index=pd.Index([0.0], name="time")), out)
    >>> out.read_text().splitlines()
    ['time,x', '0,1.5']
    """
    target = Path(path)
    writer = RESULT_WRITERS.get(target.suffix.lower())
    if writer is None:
        known = ", ".join(sorted(RESULT_WRITERS))
        raise SdhealthError(
            f"{target}: cannot write results as {target.suffix!r} (use one of {known})"
        )
    write_with(target, lambda tmp: writer(frame, tmp))
