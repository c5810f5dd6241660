"""One name resolver: every "did you mean" comes from :mod:`sdhealth.ir.names`."""

from __future__ import annotations

from pathlib import Path

import pytest

import sdhealth as sd
from sdhealth.errors import UnknownNameError
from sdhealth.ir.names import canonical, did_you_mean, suggest

SRC = Path(__file__).resolve().parents[2] / "src" / "sdhealth"


def test_suggestions_ignore_case_spaces_and_underscores() -> None:
    known = ["Teacup Temperature", "Room Temperature", "Heat Loss to Room"]
    assert suggest("teacup_temprature", known) == ["Teacup Temperature", "Room Temperature"]
    assert suggest("TEACUP   TEMPERATUR", known, n=1) == ["Teacup Temperature"]
    assert suggest("zzz", known) == []
    assert suggest("heat loss", known, cutoff=0.95) == []


def test_did_you_mean_names_up_to_n_candidates_or_nothing() -> None:
    known = ["Beds", "Bed occupancy", "Bed days", "Bad day"]
    assert did_you_mean("Bed ocupancy", known) == " (did you mean 'Bed occupancy'?)"
    three = " (did you mean 'Bed days' or 'Bad day' or 'Bed occupancy'?)"
    assert did_you_mean("Bed day", known, n=3) == three
    assert did_you_mean("Nurses", known) == ""


def test_unknown_name_error_is_a_key_error_with_the_closest_names() -> None:
    error = UnknownNameError.of("Room temp", ["Room Temperature", "Teacup"], role="parameter")
    assert isinstance(error, KeyError)
    assert str(error) == "unknown parameter 'Room temp' (did you mean 'Room Temperature'?)"


def test_the_facade_looks_up_variables_with_the_resolver(models_dir) -> None:
    model = sd.load(models_dir / "teacup.yaml")
    assert model["teacup_temperature"].name == "Teacup Temperature"
    with pytest.raises(UnknownNameError, match=r"did you mean 'Teacup Temperature'"):
        model["Teacup Temprature"]
    with pytest.raises(UnknownNameError, match=r"unknown parameter 'Room Temprature'.*'Room"):
        model.run(params={"Room Temprature": 20})


def test_no_module_matches_names_by_hand() -> None:
    """difflib is used in one place: a new "did you mean" goes through did_you_mean/suggest."""
    users = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "import difflib" in path.read_text(encoding="utf-8")
    )
    assert users == ["ir/names.py"]
    assert canonical(" Bed_Days ") == "bed days"
