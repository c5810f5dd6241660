"""The backend contract: enums for kinds, declared methods, a batch for every backend, and
adding a backend of one's own (the example of ``docs/architecture.md``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import sdhealth as sd
from sdhealth.analysis.loops import LoopKind
from sdhealth.backends import base
from sdhealth.backends.base import (
    METHODS,
    Backend,
    BackendFallbackWarning,
    Method,
    RunResult,
    RunSpec,
    RunStatus,
    get_backend,
    register_backend,
)
from sdhealth.cld.forms import FormBuilder, numeric_function
from sdhealth.compile.dependencies import evaluation_order
from sdhealth.errors import (
    BackendError,
    ModelError,
    SdhealthWarning,
    UnknownNameError,
    UnsupportedByBackend,
)
from sdhealth.ir.model import Constant
from sdhealth.ir.model import Model as IRModel
from sdhealth.ir.names import canonical


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


# ------------------------------------------------------------ adding a backend (the docs' example)


class SolveIvpBackend(Backend):
    """A tiny backend: scipy's adaptive ``solve_ivp`` over the model's equations.

    It runs models without builtins (each equation becomes a numpy function through
    :func:`sdhealth.cld.forms.numeric_function`, so no model text becomes code) and declares
    the one method it honours; the base class gives it ``run_batch`` (one run per row).
    """

    methods = frozenset({Method.RK4})

    def run(self, model: IRModel, spec: RunSpec, params) -> RunResult:
        self.check_spec(spec)
        forms = FormBuilder(model)
        given = {canonical(name): value for name, value in params.items()}
        values = {c.key: float(given.get(c.key, c.value)) for c in model.of_type(Constant)}
        stocks = [s for s in model.stocks]
        order = [model[key] for key in evaluation_order(model)]
        compiled = {v.key: numeric_function(forms.derivative_form(v.equations()[0].expr))
                    for v in (*stocks, *order)}  # fmt: skip

        def evaluate(key: str, known: dict) -> float:
            function, names = compiled[key]
            return float(function(*(known[n] for n in names)))

        def state(levels: np.ndarray) -> dict:
            known = {**values, **{s.key: x for s, x in zip(stocks, levels, strict=True)}}
            for variable in order:
                known[variable.key] = evaluate(variable.key, known)
            return known

        def slope(_t: float, levels: np.ndarray) -> list[float]:
            known = state(levels)
            return [sum(known[canonical(f)] for f in s.inflows)
                    - sum(known[canonical(f)] for f in s.outflows) for s in stocks]  # fmt: skip

        times = np.arange(spec.start, spec.stop + spec.save_every / 2, spec.save_every)
        start = [evaluate(s.key, dict(values)) for s in stocks]
        solved = solve_ivp(slope, (spec.start, spec.stop), start, t_eval=times,
                           rtol=1e-10, atol=1e-10)  # fmt: skip
        wanted = spec.return_columns
        shown = [model[key] for key in wanted] if wanted is not None else [*stocks, *order]
        rows = [[state(levels)[v.key] for v in shown] for levels in solved.y.T]
        return RunResult(times, np.array(rows), tuple(v.name for v in shown))


@pytest.fixture
def solve_ivp_backend():
    register_backend("solve_ivp")(SolveIvpBackend)
    yield get_backend("solve_ivp")
    base._REGISTRY.pop("solve_ivp")
    base._INSTANCES.pop("solve_ivp", None)


def test_a_registered_backend_runs_the_teacup_as_the_native_rk4_does(
    solve_ivp_backend, models_dir
) -> None:
    model = sd.load(models_dir / "teacup.yaml")
    columns = ["Teacup Temperature", "Heat Loss to Room"]
    ivp = model.run(backend="solve_ivp", method="rk4", return_columns=columns)
    native = model.run(backend="native", method="rk4", return_columns=columns)
    assert list(ivp.columns) == list(native.columns) == columns
    np.testing.assert_allclose(ivp.to_numpy(), native.to_numpy(), rtol=1e-6)
    # the base class gives every backend a batch, one run per row
    spec = RunSpec.from_time(model.time, method="rk4", return_columns=("teacup temperature",))
    batch = solve_ivp_backend.run_batch(
        model.ir, spec, ["Room Temperature"],
        np.array([[70.0], [20.0]]),
    )  # fmt: skip
    assert batch.values.shape == (2, len(ivp), 1)
    assert batch.values[1, -1, 0] == pytest.approx(20 + 160 * np.exp(-3), rel=1e-6)
    # and it refuses what it did not declare, by name
    with pytest.raises(UnsupportedByBackend, match="solve_ivp backend integrates with rk4 only"):
        model.run(backend="solve_ivp")


def test_the_default_backend_falls_back_to_pysd_in_one_place_and_says_why(models_dir) -> None:
    spec = RunSpec(0, 1, 0.5, method="rk4")
    with pytest.raises(UnsupportedByBackend, match="pysd backend integrates with euler only"):
        get_backend("pysd").check_spec(spec)
    assert issubclass(BackendFallbackWarning, SdhealthWarning)
    assert get_backend("native").methods == frozenset(Method)
    assert get_backend("native").vectorised and not get_backend("pysd").vectorised


# ------------------------------------------------------------------- one RunSpec from the facade


def test_run_settings_travel_as_one_spec(models_dir) -> None:
    model = sd.load(models_dir / "teacup.yaml")
    spec = model.run_spec(stop=10, dt=0.5, method="rk4", return_columns=["teacup temperature"])
    assert (spec.stop, spec.dt, spec.saveper, spec.method) == (10, 0.5, 0.5, Method.RK4)
    assert spec.return_columns == ("teacup temperature",) and spec.backend is None
    by_spec = model.run(spec=spec)
    by_keywords = model.run(stop=10, dt=0.5, method="rk4", return_columns=["Teacup Temperature"])
    assert by_spec.equals(by_keywords) and list(by_spec.columns) == ["Teacup Temperature"]
    swept = model.sweep({"Room Temperature": [20.0, 70.0]}, run_spec=spec)
    assert swept["Teacup Temperature"].shape == (2, 21)
    assert float(swept["Teacup Temperature"][1, -1]) == pytest.approx(by_spec.iloc[-1, 0])
    with pytest.raises(ModelError, match="either as spec= or as keywords, not both \\(stop\\)"):
        model.run(spec=spec, stop=5)
    with pytest.raises(UnknownNameError, match="unknown column 'Teacup Temprature'"):
        model.run_spec(return_columns=["Teacup Temprature"])
