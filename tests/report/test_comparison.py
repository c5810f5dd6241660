"""``sdhealth compare``: a run beside another tool's export, variable by variable."""

from __future__ import annotations

import io

import pandas as pd
import pytest

import sdhealth as sd
from sdhealth.cli import main
from sdhealth.errors import SdhealthError
from sdhealth.report.comparison import compare_runs, read_reference

STELLA_CSV = '''Months,"a.""module/output""",Hospital_Beds[North],Waiting List
0,1,10,100
1,2,11,110
2,3,12,125
'''


def _run() -> pd.DataFrame:
    return pd.DataFrame(
        {
            'a."module/output"': [1.0, 2.0, 3.0, 4.0],
            "Hospital Beds[North]": [10.0, 11.0, 12.0, 13.0],
            "waiting list": [100.0, 110.0, 120.0, 130.0],
            "Staff": [5.0, 5.0, 5.0, 5.0],
        },
        index=pd.Index([0.0, 1.0, 2.0, 3.0], name="time"),
    )


def test_names_line_up_as_stella_writes_them_and_the_first_difference_is_reported(tmp_path):
    path = tmp_path / "stella.csv"
    path.write_text(STELLA_CSV, encoding="utf-8")
    reference = read_reference(path)
    assert list(reference.index) == [0.0, 1.0, 2.0]  # the first column is time, whatever its title
    result = compare_runs(_run(), reference)
    assert result.times == 3  # time 3 is only in the run
    assert set(result.matched) == {'a."module/output"', "Hospital Beds[North]"}
    (difference,) = result.differ
    assert (difference.name, difference.time, difference.value, difference.reference) == (
        "waiting list",
        2.0,
        120.0,
        125.0,
    )
    assert difference.largest == 5.0
    assert result.only_in_run == ("Staff",) and result.only_in_reference == ()
    assert not result.same
    assert compare_runs(_run(), reference, rtol=0.05).same  # 5 of 125 is within 5%
    lines = result.lines()
    assert lines[0].startswith("3 variables compared at 3 times") and "1 differ" in lines[0]
    assert "waiting list: from time 2, 120 against 125" in lines[1]


def test_spreadsheet_and_tab_exports_read_the_same(tmp_path):
    frame = pd.read_csv(io.StringIO(STELLA_CSV))
    frame.to_excel(tmp_path / "stella.xlsx", index=False)
    frame.to_csv(tmp_path / "vensim.tab", sep="\t", index=False)
    first = read_reference(tmp_path / "stella.xlsx")
    second = read_reference(tmp_path / "vensim.tab")
    assert first.equals(second) and first.shape == (3, 3)
    with pytest.raises(SdhealthError, match="cannot read a reference run from '.json'"):
        read_reference(tmp_path / "x.json")
    with pytest.raises(SdhealthError, match="no such reference file"):
        read_reference(tmp_path / "missing.csv")


def test_the_command_runs_a_model_and_says_where_it_differs(tmp_path):
    model = sd.load("models/teacup.yaml")
    results = tmp_path / "teacup.csv"
    model.run().to_csv(results)
    reference = model.run().reset_index()
    reference.to_csv(tmp_path / "same.csv", index=False)
    out, err = io.StringIO(), io.StringIO()
    assert (
        main(["compare", "models/teacup.yaml", str(tmp_path / "same.csv")], out=out, err=err) == 0
    )
    assert "0 differ" in out.getvalue()
    reference.loc[reference["time"] >= 10, "Teacup Temperature"] += 1.0
    reference.to_csv(tmp_path / "other.csv", index=False)
    out = io.StringIO()
    assert main(["compare", str(results), str(tmp_path / "other.csv")], out=out, err=err) == 1
    assert "Teacup Temperature: from time 10," in out.getvalue()
    err = io.StringIO()
    assert main(["compare", str(results), str(tmp_path / "x.json")], out=out, err=err) == 2
    assert len(err.getvalue().strip().splitlines()) == 1
