"""Multi-line documentation survives ``.mdl`` import and export (sdhealth.io.mdl_text)."""

from __future__ import annotations

from pathlib import Path

from sdhealth.io.mdl import read_mdl
from sdhealth.io.mdl_sketch import model_to_mdl_text
from sdhealth.io.mdl_text import documentation_by_key
from sdhealth.ir.model import Constant

_MODEL = """{UTF-8}
Beds= INTEG (
\tAdmissions - Discharges,
\t\t100)
\t~\tbed [0,?]
\t~\tOccupied general and acute beds.
\t\tCounted at midnight; excludes day cases.
\t\t
\t\tSecond paragraph with a long line that Vensim wrapped \\
\tonto the next line.
\t\tSource: NHS England KH03
\t|

Admissions=
\t20 ~\tbed/Month
\t~\tOne line only.
\t|

"Discharges | out"=
\tBeds / 4 ~\tbed/Month
\t~\tFirst line of a quoted name's doc.
\t\tSecond line.
\t|

Discharges=
\t"Discharges | out"
\t~\tbed/Month
\t~\t
\t|

********************************************************
\t.Control
********************************************************~
\t\tSimulation Control Parameters
\t|

FINAL TIME  = 6
\t~\tMonth
\t~\tThe final time
\t\tfor the simulation.
\t|

INITIAL TIME  = 0
\t~\tMonth
\t~\t
\t|

SAVEPER  = TIME STEP
\t~\tMonth [0,?]
\t~\t
\t|

TIME STEP  = 0.5
\t~\tMonth [0,?]
\t~\t
\t|

\\\\\\---/// Sketch information - do not modify anything except names
V300  Do not put anything below this section - it will be ignored
*View 1
///---\\\\\\
"""

_BEDS_DOC = (
    "Occupied general and acute beds.\n"
    "Counted at midnight; excludes day cases.\n"
    "\n"
    "Second paragraph with a long line that Vensim wrapped onto the next line."
)


def _write(tmp_path: Path, text: str, name: str = "beds.mdl") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_scan_finds_multi_line_comments_only() -> None:
    found = documentation_by_key(_MODEL)
    assert found == {
        "beds": _BEDS_DOC + "\nSource: NHS England KH03",
        "discharges | out": "First line of a quoted name's doc.\nSecond line.",
        "final time": "The final time\nfor the simulation.",
    }


def test_import_keeps_line_breaks_and_splits_the_source(tmp_path: Path) -> None:
    model = read_mdl(_write(tmp_path, _MODEL))
    beds = model["Beds"]
    assert (beds.doc, beds.source, beds.units, beds.limits) == (
        _BEDS_DOC,
        "NHS England KH03",
        "bed",
        (0.0, None),
    )
    assert model["Discharges | out"].doc == "First line of a quoted name's doc.\nSecond line."
    assert model["Admissions"].doc == "One line only."


def test_mdl_round_trip_keeps_documentation_exactly(tmp_path: Path) -> None:
    first = read_mdl(_write(tmp_path, _MODEL))
    text = model_to_mdl_text(first)
    assert "\t~\tOccupied general and acute beds.\n\t\tCounted at midnight" in text
    second = read_mdl(_write(tmp_path, text, "again.mdl"))
    for variable in first.variables:
        again = second[variable.name]
        assert (again.doc, again.source, again.units, again.limits) == (
            variable.doc,
            variable.source,
            variable.units,
            variable.limits,
        )


def test_a_comment_that_says_something_else_is_not_used() -> None:
    # The scan is a plain text split; a comment it misreads (here: another text) is ignored.
    from sdhealth.io.mdl import _with_documentation

    beds = Constant(name="Beds", value=1, doc="Occupied beds.", source="KH03")
    kept = _with_documentation(beds, "Occupied\nbeds.\nSource: KH03")
    assert (kept.doc, kept.source) == ("Occupied\nbeds.", "KH03")
    assert _with_documentation(beds, "Empty\nbeds.\nSource: KH03") == beds
    assert _with_documentation(beds, "Occupied\nbeds.\nSource: KH04") == beds


def test_yaml_round_trip_keeps_documentation_exactly(tmp_path: Path) -> None:
    from sdhealth.io.yaml import model_from_yaml_text, model_to_yaml_text

    first = read_mdl(_write(tmp_path, _MODEL))
    second = model_from_yaml_text(model_to_yaml_text(first))
    assert second["Beds"].doc == _BEDS_DOC
    for variable in first.variables:
        assert (second[variable.name].doc, second[variable.name].source) == (
            variable.doc,
            variable.source,
        )
