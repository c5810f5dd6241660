"""Observed data: CSV or DataFrame, model times or dates, missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdhealth.errors import ModelError, ModelSyntaxError
from sdhealth.experiments.observations import dates_to_model_time, read_observations


@pytest.mark.parametrize(
    ("dates", "units", "expected"),
    [
        (["2023-01-01", "2023-09-01", "2024-01-01"], "month", [0, 8, 12]),
        (["2023-01-16"], "months", [15 / 31]),
        (["2023-04-01", "2025-01-01"], "quarter", [1, 8]),
        (["2024-01-01", "2023-07-01"], "Year", [1, 0.5]),
        (["2023-01-08 00:00", "2023-01-02 12:00"], "day", [7, 1.5]),
        (["2023-01-15"], "week", [2]),
    ],
)
def test_dates_become_model_times(dates, units, expected):
    times = dates_to_model_time(pd.to_datetime(dates), "2023-01-01", units)
    np.testing.assert_allclose(times, expected)


def test_unknown_time_unit_is_an_error():
    with pytest.raises(ModelError, match="fortnight"):
        dates_to_model_time(pd.to_datetime(["2023-01-01"]), "2023-01-01", "fortnight")


def test_csv_with_comment_header_dates_and_gaps(tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text(
        "# source: somewhere\n# second comment line\n"
        "date,list,beds\n2023-03-01,7.5e6,\n2023-01-01,7.2e6,0.93\n2023-02-01,,0.94\n"
    )
    data = read_observations(path, start_date="2023-01-01", units="month")
    assert list(data.columns) == ["list", "beds"]
    assert data.index.tolist() == [0.0, 1.0, 2.0]  # sorted by time
    assert data["list"].tolist()[:1] == [7.2e6]
    assert np.isnan(data.loc[1.0, "list"]) and np.isnan(data.loc[2.0, "beds"])


def test_numeric_times_from_a_named_column_or_the_index():
    frame = pd.DataFrame({"t_model": [3.0, 1.0], "x": [30, 10]})
    data = read_observations(frame, time_column="t_model")
    assert data.index.tolist() == [1.0, 3.0] and data["x"].tolist() == [10.0, 30.0]
    indexed = read_observations(pd.DataFrame({"x": [1.0, 2.0]}, index=[0.5, 1.5]))
    assert indexed.index.tolist() == [0.5, 1.5]


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ModelSyntaxError, match="no such data file"):
        read_observations(tmp_path / "missing.csv")
    dated = pd.DataFrame({"date": ["2023-01-01"], "x": [1.0]})
    with pytest.raises(ModelError, match="start date"):
        read_observations(dated)
    with pytest.raises(ModelError, match=r"column 'x' at time 1 holds 'n/a!'"):
        read_observations(pd.DataFrame({"time": [0.0, 1.0], "x": ["1", "n/a!"]}))
    with pytest.raises(ModelError, match="no time column 'when'"):
        read_observations(dated, time_column="when")
    with pytest.raises(ModelError, match="numbers or dates"):
        read_observations(pd.DataFrame({"time": ["soon"], "x": [1.0]}), start_date="2023-01-01")


def test_a_dataframe_indexed_by_dates():
    frame = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.to_datetime(["2023-03-01", "2023-02-01"]))
    data = read_observations(frame, start_date="2023-01-01", units="month")
    assert data.index.tolist() == [1.0, 2.0] and data["x"].tolist() == [2.0, 1.0]


def test_an_infinite_observation_is_an_error_naming_column_and_time(tmp_path):
    path = tmp_path / "observed.csv"
    path.write_text("month,List\n0,4.6e6\n1,\n2,1e309\n")
    message = r"column 'List' at time 2 holds inf, which is not a finite number"
    with pytest.raises(ModelError, match=message):
        read_observations(path)
    path.write_text("month,List\n0,4.6e6\n1,\n2,4.7e6\n")  # a blank is a missing value
    assert np.isnan(read_observations(path)["List"][1.0])
