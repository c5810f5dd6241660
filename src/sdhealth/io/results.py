"""Writing results atomically, in a format chosen by the file's suffix.

- :func:`write_results`: one run's ``DataFrame`` (index ``time``) to ``.csv`` or ``.parquet``;
- :func:`save_dataset`: a sweep's ``xarray.Dataset`` to ``.nc`` (netCDF-4, every dimension,
  coordinate and attribute kept), or flattened to a table -- one row per run and time (or
  statistic), the parameters and the ``scenario`` as columns -- in ``.parquet`` or ``.csv``.

Either way a failed write leaves any earlier file untouched (:mod:`sdhealth.io.atomic`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sdhealth.errors import SdhealthError
from sdhealth.io.atomic import write_with

__all__ = [
    "DATASET_WRITERS",
    "RESULT_WRITERS",
    "dataset_table",
    "load_dataset",
    "save_dataset",
    "write_results",
]


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


def dataset_table(dataset: Any) -> pd.DataFrame:
    """A sweep's ``Dataset`` as one table: a row per run and time (or statistic).

    The dimensions become the first columns, then the coordinates on ``run`` (parameters,
    ``scenario``), then the data variables.
    """
    frame = dataset.to_dataframe().reset_index()
    dims = list(dataset.dims)
    coords = [c for c in dataset.coords if c not in dims]
    return frame[dims + coords + [str(name) for name in dataset.data_vars]]


#: The attribute listing the coordinates a netCDF file keeps as data variables.
COORDINATES_ATTRIBUTE = "sdhealth_coordinates"


def _netcdf_ready(dataset: Any) -> Any:
    """``dataset`` as netCDF can store it.

    netCDF marks coordinates in a space-separated attribute, so coordinates whose names have
    spaces (most parameter names) are stored as data variables and listed, as JSON, in the
    attribute :data:`COORDINATES_ATTRIBUTE`; :func:`load_dataset` restores them. Booleans in
    attributes become 0/1 and ``None`` attributes are dropped.
    """
    extra = [str(name) for name in dataset.coords if name not in dataset.dims]
    attrs = {
        key: int(value) if isinstance(value, bool) else value
        for key, value in dataset.attrs.items()
        if value is not None
    }
    attrs[COORDINATES_ATTRIBUTE] = json.dumps(extra)
    ready = dataset.reset_coords(extra)
    ready.attrs = attrs
    return ready


def _save_netcdf(dataset: Any, path: Path) -> None:
    try:
        _netcdf_ready(dataset).to_netcdf(path, engine="netcdf4")
    except ImportError as exc:  # netCDF4 is a declared dependency; say so if it went missing
        raise SdhealthError(f"writing {path.suffix} needs netCDF4 ({exc})") from None
    except ValueError as exc:  # e.g. a variable name netCDF cannot hold
        raise SdhealthError(f"{path}: cannot write the results as netCDF: {exc}") from None


#: Suffix -> writer of an ``xarray.Dataset``.
DATASET_WRITERS: dict[str, Callable[[Any, Path], None]] = {
    ".nc": _save_netcdf,
    ".csv": lambda dataset, path: dataset_table(dataset).to_csv(
        path, index=False, float_format="%.17g"
    ),
    ".parquet": lambda dataset, path: _write_parquet(dataset_table(dataset), path),
}


def load_dataset(path: str | os.PathLike[str]) -> Any:
    """Read a ``.nc`` file written by :func:`save_dataset` back into memory, as it was saved.

    Raises
    ------
    SdhealthError
        The file is missing or is not netCDF.
    """
    import xarray as xr

    try:
        with xr.open_dataset(path, engine="netcdf4") as opened:
            dataset = opened.load()
    except (OSError, ValueError) as exc:
        raise SdhealthError(f"{path}: cannot read sweep results: {exc}") from None
    names = json.loads(dataset.attrs.pop(COORDINATES_ATTRIBUTE, "[]"))
    return dataset.set_coords(names)


def save_dataset(dataset: Any, path: str | os.PathLike[str]) -> None:
    """Write a sweep's ``dataset`` to ``path`` (``.nc``, ``.parquet`` or ``.csv``), atomically.

    ``.nc`` keeps the ``Dataset`` as it is (read it back with ``xarray.open_dataset``);
    ``.parquet`` and ``.csv`` hold :func:`dataset_table`. CSV keeps 17 significant digits, so
    numbers read back exactly.

    Raises
    ------
    SdhealthError
        An unknown suffix, or a dataset the format cannot hold.
    """
    target = Path(path)
    writer = DATASET_WRITERS.get(target.suffix.lower())
    if writer is None:
        known = ", ".join(sorted(DATASET_WRITERS))
        raise SdhealthError(
            f"{target}: cannot write sweep results as {target.suffix!r} (use one of {known})"
        )
    write_with(target, lambda tmp: writer(dataset, tmp))
