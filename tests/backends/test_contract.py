"""The backend contract's value types: kinds are enums that still read as their text."""

from __future__ import annotations

import pytest

import sdhealth as sd
from sdhealth.analysis.loops import LoopKind
from sdhealth.backends.base import METHODS, Method, RunSpec, RunStatus, get_backend
from sdhealth.errors import BackendError


def test_a_run_spec_takes_a_method_by_name_or_enum() -> None:
    assert RunSpec(0, 1, 0.5, method="rk4").method is Method.RK4
    assert RunSpec(0, 1, 0.5, method=Method.RK2).method == "rk2"
    assert RunSpec(0, 1, 0.5).method is Method.EULER
    assert METHODS == ("euler", "rk2", "rk4")
    with pytest.raises(BackendError, match="unknown integration method 'rk45'; use one of"):
        RunSpec(0, 1, 0.5, method="rk45")


def test_a_finished_run_has_the_ok_status(models_dir) -> None:
    model = sd.load(models_dir / "teacup.yaml")
    result = get_backend("native").run(model.ir, RunSpec.from_time(model.time), {})
    assert result.status is RunStatus.OK and result.success and result.status == "ok"


def test_loop_kinds_are_an_enum_that_reads_as_r_b_and_question_mark(models_dir) -> None:
    loops = sd.load(models_dir / "sir.yaml").loops()
    assert {loop.kind for loop in loops} == {LoopKind.REINFORCING, LoopKind.BALANCING}
    assert [f"{loop.kind}" for loop in loops] == ["R", "B", "B"]
    assert set(loops.to_frame()["kind"]) == {"R", "B"}
