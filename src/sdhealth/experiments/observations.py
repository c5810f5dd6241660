"""Observed time series for calibration: read from CSV or a DataFrame, on the model's clock.

Observed data come as a table with one time column and one column per series. The time column
holds either model times (numbers in the model's time unit) or calendar dates; dates are turned
into model time with a stated start date (the date of model time 0) and the model's time unit:

- ``month``: whole calendar months between the dates, plus the fraction of the month for the
  day (1 March to 1 April is exactly 1 month; 16 January is about 0.48 months after 1 January);
- ``quarter`` and ``year``: months / 3 and months / 12;
- ``week`` and ``day``: elapsed days / 7 and elapsed days (a fraction for a time of day).

Empty cells and ``NaN`` are missing observations (ignored by calibration); any other text in a
series column is an error naming the column and the time. Lines starting with ``#`` are
comments, so a CSV can carry its sources in a header.

>>> import pandas as pd
>>> dates_to_model_time(pd.to_datetime(["2023-09-01", "2024-01-01"]), "2023-01-01", "month")
array([ 8., 12.])
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from sdhealth.errors import ModelError, ModelSyntaxError

__all__ = ["read_observations", "dates_to_model_time", "TIME_UNITS"]

#: Column names taken as the time column when none is named (compared case-insensitively).
_TIME_COLUMN_NAMES = ("time", "date", "month", "year", "t")

DateLike: TypeAlias = str | dt.date | pd.Timestamp


def _month_position(stamp: pd.Timestamp) -> float:
    """Months since year 0 of a timestamp, with the day (and time of day) as a fraction."""
    days = calendar.monthrange(stamp.year, stamp.month)[1]
    into_month = (stamp.day - 1) + (stamp - stamp.normalize()).total_seconds() / 86_400
    return stamp.year * 12 + (stamp.month - 1) + into_month / days


def _months(dates: pd.DatetimeIndex, start: pd.Timestamp) -> np.ndarray:
    origin = _month_position(start)
    return np.array([_month_position(d) - origin for d in dates], dtype=float)


def _days(dates: pd.DatetimeIndex, start: pd.Timestamp) -> np.ndarray:
    return np.asarray((dates - start).total_seconds(), dtype=float) / 86_400


#: Time unit (singular, lower case) -> dates and start date to model times in that unit.
TIME_UNITS: Mapping[str, Callable[[pd.DatetimeIndex, pd.Timestamp], np.ndarray]] = {
    "month": _months,
    "quarter": lambda dates, start: _months(dates, start) / 3,
    "year": lambda dates, start: _months(dates, start) / 12,
    "week": lambda dates, start: _days(dates, start) / 7,
    "day": _days,
}


def _unit_key(units: str) -> str:
    key = units.strip().lower()
    if key not in TIME_UNITS and key.endswith("s"):
        key = key[:-1]
    if key not in TIME_UNITS:
        known = ", ".join(TIME_UNITS)
        raise ModelError(f"cannot convert dates to model time in {units!r} (known: {known})")
    return key


def _timestamp(value: DateLike, what: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ModelError(f"{what} {value!r} is not a date (use YYYY-MM-DD)") from None
    if stamp is pd.NaT:
        raise ModelError(f"{what} is missing")
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def dates_to_model_time(dates: Any, start_date: DateLike, units: str) -> np.ndarray:
    """Model times (floats in ``units``) of ``dates``, with ``start_date`` at time 0."""
    start = _timestamp(start_date, "start date")
    index = pd.DatetimeIndex(pd.to_datetime(dates))
    return TIME_UNITS[_unit_key(units)](index, start)


def _read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    where = str(path)
    if not Path(path).is_file():
        raise ModelSyntaxError("no such data file", where)
    try:
        return pd.read_csv(path, comment="#", skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelSyntaxError(f"cannot read the data file: {message}", where) from None


def _time_column(table: pd.DataFrame, time_column: str | None, source: str) -> str | None:
    """The name of the time column (``None``: the table's index holds the times)."""
    if time_column is not None:
        if time_column not in table.columns:
            raise ModelError(f"{source}: no time column {time_column!r}")
        return time_column
    for column in table.columns:
        if str(column).strip().lower() in _TIME_COLUMN_NAMES:
            return str(column)
    return None


def _times(raw: pd.Index | pd.Series, start_date: DateLike | None, units: str, source: str):
    values = pd.Series(np.asarray(raw))
    if values.isna().any():
        raise ModelError(f"{source}: a time is missing (row {int(values.isna().argmax()) + 1})")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        times = values.to_numpy(dtype=float)
        if not np.all(np.isfinite(times)):
            raise ModelError(f"{source}: times must be finite numbers")
        return times
    try:
        dates = pd.to_datetime(values.astype(str), format="mixed")
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{source}: times must be numbers or dates ({exc})") from None
    if start_date is None:
        raise ModelError(
            f"{source}: the times are dates; give the start date of model time 0 "
            "(start_date='YYYY-MM-DD')"
        )
    return dates_to_model_time(dates, start_date, units)


def _numeric_column(column: pd.Series, times: np.ndarray, name: str, source: str) -> np.ndarray:
    numbers = pd.to_numeric(column, errors="coerce")
    blank = column.isna() | column.astype(str).str.strip().isin(["", "nan", "NaN", "NA"])
    bad = numbers.isna() & ~blank
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise ModelError(
            f"{source}: column {name!r} at time {times[row]:g} holds {column.iloc[row]!r}, "
            "not a number"
        )
    infinite = np.isinf(numbers.to_numpy(dtype=float))
    if infinite.any():
        row = int(np.argmax(infinite))
        value = column.iloc[row]
        shown = repr(value) if isinstance(value, str) else f"{float(value):g}"
        raise ModelError(
            f"{source}: column {name!r} at time {times[row]:g} holds {shown}, "
            "which is not a finite number"
        )
    return numbers.to_numpy(dtype=float)


def read_observations(
    data: pd.DataFrame | str | os.PathLike[str],
    *,
    time_column: str | None = None,
    start_date: DateLike | None = None,
    units: str = "month",
) -> pd.DataFrame:
    """Observed series as a ``DataFrame`` indexed by model time (float), one column per series.

    Parameters
    ----------
    data : DataFrame or path of a CSV file
        The time column is ``time_column``, else the first column called time/date/month/year,
        else (for a CSV) the first column, or (for a DataFrame) its index.
    time_column : str, optional
        The column holding the times.
    start_date : date or "YYYY-MM-DD", optional
        The date of model time 0; needed when the times are dates.
    units : str
        The model's time unit (``month``, ``quarter``, ``year``, ``week``, ``day``).

    Raises
    ------
    ModelSyntaxError
        The CSV file is missing or unreadable.
    ModelError
        Times that are neither numbers nor dates, dates without ``start_date``, or a value
        that is not a finite number (a blank cell is a missing observation, NaN).
    """
    source = str(data) if not isinstance(data, pd.DataFrame) else "observed data"
    table = _read_csv(data) if not isinstance(data, pd.DataFrame) else data
    column = _time_column(table, time_column, source)
    if column is None and not isinstance(data, pd.DataFrame):
        column = str(table.columns[0]) if len(table.columns) else None
    if column is None:
        times = _times(table.index, start_date, units, source)
        series = table
    else:
        times = _times(table[column], start_date, units, source)
        series = table.drop(columns=[column])
    if series.shape[1] == 0:
        raise ModelError(f"{source}: no data columns besides the time column")
    values = {
        str(name): _numeric_column(series[name].reset_index(drop=True), times, str(name), source)
        for name in series.columns
    }
    frame = pd.DataFrame(values, index=pd.Index(times, name="time"))
    return frame.sort_index(kind="stable")
