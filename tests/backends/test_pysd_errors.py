"""PySD fallback failures are SdhealthErrors naming the variable (issue 12, point A)."""

from __future__ import annotations

from pathlib import Path

import pytest

import sdhealth as sd
from sdhealth.backends.base import get_backend
from sdhealth.errors import BackendError, ModelError, SdhealthError

_CONTROL = """
********************************************************
\t.Control
********************************************************~
\t\tSimulation Control Parameters
\t|

FINAL TIME  = 5
\t~\tYear
\t~\t\t|

INITIAL TIME  = 0
\t~\tYear
\t~\t\t|

SAVEPER  = 1
\t~\tYear
\t~\t\t|

TIME STEP  = 1
\t~\tYear
\t~\t\t|
"""


def _mdl(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "m.mdl"
    path.write_text(body + _CONTROL, encoding="utf-8")
    return path


def _yaml(tmp_path: Path, equation: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(
        "model: m\ntime: {start: 0, stop: 5, dt: 1}\n"
        f"auxiliaries:\n  noise:\n    equation: {equation}\n",
        encoding="utf-8",
    )
    return path


def test_npv_is_named_at_check_time(tmp_path: Path) -> None:
    path = _mdl(
        tmp_path,
        "stream=\n\t100\n\t~\t\n\t~\t\t|\n\nvalue=\n\tNPV(stream, 0.05, 0, 1)\n\t~\t\n\t~\t\t|\n",
    )
    issues = [i for i in sd.check(path) if i.code == "unsupported-function"]
    assert len(issues) == 1
    assert issues[0].variable == "value"
    assert "NPV" in issues[0].message and str(issues[0]).startswith(f"{path}:6:1: ")
    assert (issues[0].line, issues[0].column) == (6, 1)  # where 'value' is defined


def test_run_refuses_npv_with_the_same_message(tmp_path: Path) -> None:
    path = _mdl(
        tmp_path,
        "stream=\n\t100\n\t~\t\n\t~\t\t|\n\nvalue=\n\tNPV(stream, 0.05, 0, 1)\n\t~\t\n\t~\t\t|\n",
    )
    model = sd.load(path)
    message = str(next(i for i in model.check() if i.code == "unsupported-function"))
    for backend in (None, "pysd"):
        with pytest.raises(ModelError) as caught:
            model.run(backend=backend)
        assert message in str(caught.value)


def test_lookup_invert_is_named(tmp_path: Path) -> None:
    path = _mdl(
        tmp_path,
        "tab(\n\t(0,0),(1,1),(2,4))\n\t~\t\n\t~\t\t|\n\ninv=\n\tLOOKUP INVERT(tab, 2)\n"
        "\t~\t\n\t~\t\t|\n",
    )
    issues = [i for i in sd.check(path) if i.code == "unsupported-function"]
    assert [i.variable for i in issues] == ["inv"]
    assert "LOOKUP INVERT" in issues[0].message
    assert (issues[0].line, issues[0].column) == (6, 1)


def test_too_few_arguments_located_in_yaml(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "RANDOM NORMAL(0, 1)")
    issues = [i for i in sd.check(path) if i.code == "unsupported-function"]
    assert len(issues) == 1
    assert (issues[0].line, issues[0].column) == (5, 15)
    assert "RANDOM NORMAL needs at least 4 arguments, got 2" in issues[0].message


def test_runnable_pysd_function_is_not_flagged(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "RANDOM UNIFORM(0, 1, 0)")
    assert not [i for i in sd.check(path) if i.code == "unsupported-function"]


def test_translation_failure_names_variable_and_line(tmp_path: Path) -> None:
    model = sd.load(_yaml(tmp_path, "RANDOM NORMAL(0, 1)"))
    backend = get_backend("pysd")
    with pytest.raises(BackendError) as caught:
        backend.translate(model._ir)
    text = str(caught.value)
    assert text.startswith(f"{tmp_path / 'm.yaml'}:4:3: ")
    assert "'noise'" in text and "RANDOM NORMAL" in text and "fewer arguments" in text
    assert "'2'" not in text
    assert isinstance(caught.value, SdhealthError)


def test_an_equation_over_a_dimension_its_variable_lacks_is_refused_not_dropped(tmp_path):
    """PySD broadcasts ``a[DimA] = b[DimB]`` (no mapping relates them) to a DimA x DimB
    array; its cells are none of the variable's, which used to leave ``a`` out of the results
    without a word. Both backends refuse it by name."""
    path = tmp_path / "broadcast.xmile"
    path.write_text(
        """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
  <sim_specs><start>0</start><stop>1</stop><dt>1</dt></sim_specs>
  <dimensions>
    <dim name="DimA"><elem name="A1"/><elem name="A2"/></dim>
    <dim name="DimB"><elem name="B1"/><elem name="B2"/></dim>
  </dimensions>
  <model><variables>
    <aux name="b"><dimensions><dim name="DimB"/></dimensions><eqn>3</eqn></aux>
    <aux name="a"><dimensions><dim name="DimA"/></dimensions><eqn>b[DimB]</eqn></aux>
  </variables></model>
</xmile>
""",
        encoding="utf-8",
    )
    model = sd.load(path)
    with pytest.raises(BackendError, match="'a' is defined over DimA but its equation gives "
                       r"values over other subscripts \(\[A1,B1\], \.\.\.\)"):  # fmt: skip
        model.run(backend="pysd")
    with pytest.raises(SdhealthError, match="'a'"):
        model.run()
