"""The PySD backend and the backend contract: caching, isolation of runs, columns, errors."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pysd
import pytest
import sympy

from sdhealth.backends import base
from sdhealth.backends.base import (
    Backend,
    RunResult,
    RunSpec,
    get_backend,
    register_backend,
)
from sdhealth.backends.pysd import PySDBackend, cache_root
from sdhealth.errors import BackendError, ModelError, SimulationError, UnknownNameError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Equation,
    Flow,
    Lookup,
    Model,
    Stock,
    TimeSpec,
    symbol,
)


def teacup(**time: float) -> Model:
    """The teacup of the SDXorg suite (``case_sensitive_extension/teacup-upper.MDL``)."""
    return Model(
        "teacup",
        TimeSpec(**({"start": 0, "stop": 30, "dt": 0.125, "units": "Minute"} | time)),
        (
            Constant(name="Characteristic Time", value=10, units="Minutes", limits=(0, None)),
            Flow(
                name="Heat Loss to Room",
                equation=Equation(
                    (symbol("Teacup Temperature") - symbol("Room Temperature"))
                    / symbol("Characteristic Time")
                ),
            ),
            Constant(name="Room Temperature", value=70),
            Stock(
                name="Teacup Temperature",
                initial=Equation.of(180),
                outflows=("Heat Loss to Room",),
                non_negative=True,
            ),
        ),
    )


@pytest.fixture(scope="module")
def backend(tmp_path_factory) -> PySDBackend:
    return PySDBackend(cache_dir=tmp_path_factory.mktemp("pysd-cache"))


def run(
    backend: Backend, model: Model, params: Mapping[str, float] | None = None, **spec: object
) -> pd.DataFrame:
    return backend.run(model, RunSpec.from_time(model.time, **spec), params or {}).to_frame()


# --------------------------------------------------------------------------- results


def test_teacup_matches_vensims_canonical_output(backend, test_models_dir) -> None:
    canonical = test_models_dir / "case_sensitive_extension" / "output.csv"
    expected = pd.read_csv(canonical, index_col=0)
    frame = run(backend, teacup())
    np.testing.assert_allclose(frame.index, expected.index.astype(float))
    for column in ("Teacup Temperature", "Heat Loss to Room"):
        # Vensim integrates in single precision and writes 6 significant digits: its teacup
        # is up to 4.7e-6 (relative) away from the exact double-precision Euler values.
        np.testing.assert_allclose(frame[column], expected[column], rtol=1e-5)


def test_teacup_follows_the_euler_recurrence(backend) -> None:
    frame = run(backend, teacup())
    expected, dt = [180.0], 0.125
    for _ in range(len(frame) - 1):
        expected.append(expected[-1] - dt * (expected[-1] - 70) / 10)
    np.testing.assert_allclose(frame["Teacup Temperature"], expected, rtol=1e-13)


def test_default_columns_are_the_non_internal_variables(backend) -> None:
    model = teacup().with_variables(
        Lookup(name="Curve", xs=(0, 1), ys=(0, 1)),
        Auxiliary(name="Hidden", equation=Equation.of(1), internal=True),
    )
    result = backend.run(model, RunSpec.from_time(model.time), {})
    assert result.columns == (
        "Characteristic Time",
        "Heat Loss to Room",
        "Room Temperature",
        "Teacup Temperature",
    )
    assert result.status == "ok" and result.success
    assert result.values.shape == (241, 4)


def test_return_columns_choose_and_order_the_output(backend) -> None:
    frame = run(backend, teacup(), return_columns=("teacup temperature", "Room Temperature"))
    assert list(frame.columns) == ["Teacup Temperature", "Room Temperature"]
    assert frame["Room Temperature"].eq(70).all()


def test_clock_overrides(backend) -> None:
    frame = run(backend, teacup(), stop=10, dt=0.5, saveper=2)
    np.testing.assert_allclose(frame.index, [0, 2, 4, 6, 8, 10])
    expected = 180.0
    for _ in range(4):  # the stock after 4 Euler steps of 0.5
        expected -= 0.5 * (expected - 70) / 10
    assert frame["Teacup Temperature"].iloc[1] == pytest.approx(expected, rel=1e-13)


def test_start_time_moves_the_clock_and_the_initial_values(backend) -> None:
    model = Model(
        "clock",
        TimeSpec(0, 10, 1),
        (
            Stock(name="Level", initial=Equation(2 * fn.TIME), inflows=("Rate",)),
            Flow(name="Rate", equation=Equation(fn.STEP(1, 6))),
            Auxiliary(name="Start", equation=Equation(fn.INITIAL_TIME)),
        ),
    )
    frame = run(backend, model, start=5)
    np.testing.assert_allclose(frame.index, [5, 6, 7, 8, 9, 10])
    np.testing.assert_allclose(frame["Level"], [10, 10, 11, 12, 13, 14])
    np.testing.assert_allclose(frame["Start"], 5)
    # and the next run is back on the model's own clock
    assert run(backend, model).index[0] == 0


# --------------------------------------------------------------------------- parameters


def test_params_apply_to_one_run_only(backend) -> None:
    model = teacup()
    base_run = run(backend, model)
    warmer = run(backend, model, {"Room Temperature": 100})
    again = run(backend, model)
    pd.testing.assert_frame_equal(again, base_run)
    assert warmer["Heat Loss to Room"].iloc[0] == pytest.approx((180 - 100) / 10)
    assert base_run["Heat Loss to Room"].iloc[0] == pytest.approx((180 - 70) / 10)
    assert model == teacup()  # the IR is untouched


def test_params_are_checked(backend) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'Room Temperature'"):
        run(backend, teacup(), {"Room Temprature": 1})
    with pytest.raises(ModelError, match="'Teacup Temperature' is a stock, not a constant"):
        run(backend, teacup(), {"Teacup Temperature": 1})


def test_unusual_names_round_trip(backend) -> None:
    model = Model(
        "names",
        TimeSpec(0, 2, 1),
        (
            Constant(name="A&E arrivals", value=10),
            Auxiliary(name="4 hour breaches", equation=Equation(symbol("A&E arrivals") / 4)),
            Auxiliary(name="Beds occupied (%)", equation=Equation(symbol("4 hour breaches") + 1)),
            Auxiliary(name="pulse train", equation=Equation(fn.PULSE_TRAIN(0, 1, 2, 10))),
        ),
    )
    frame = run(backend, model, {"A&E arrivals": 20})
    assert list(frame.columns) == [
        "A&E arrivals",
        "4 hour breaches",
        "Beds occupied (%)",
        "pulse train",
    ]
    assert frame.iloc[0].tolist() == [20, 5, 6, 1]


# --------------------------------------------------------------------------- translation cache


def test_translation_is_cached_on_disk_and_in_memory(tmp_path, monkeypatch) -> None:
    calls: list[str] = []
    real_read_vensim = pysd.read_vensim

    def counting_read_vensim(path: str, **kwargs: object) -> object:
        calls.append(path)
        return real_read_vensim(path, **kwargs)

    monkeypatch.setattr(pysd, "read_vensim", counting_read_vensim)
    first = PySDBackend(cache_dir=tmp_path)
    run(first, teacup())
    run(first, teacup(), {"Room Temperature": 80})
    assert len(calls) == 1
    [folder] = [p for p in tmp_path.iterdir()]
    py_file = folder / "model.py"
    stamp = py_file.stat().st_mtime_ns
    assert (folder / "model.mdl").read_text(encoding="utf-8").startswith("{UTF-8}")

    second = PySDBackend(cache_dir=tmp_path)  # a new process, as far as caching goes
    run(second, teacup())
    assert len(calls) == 1 and py_file.stat().st_mtime_ns == stamp

    run(second, teacup(stop=20))  # a different model text: a new translation
    assert len(calls) == 2 and len(list(tmp_path.iterdir())) == 2


def test_failed_translation_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    def broken(path: str, **kwargs: object) -> None:
        Path(path).with_suffix(".py").write_text("half a model")
        raise ValueError("cannot parse")

    monkeypatch.setattr(pysd, "read_vensim", broken)
    with pytest.raises(BackendError, match="PySD could not translate the model: cannot parse"):
        run(PySDBackend(cache_dir=tmp_path), teacup())
    assert list(tmp_path.iterdir()) == []


def test_cache_location_follows_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SDHEALTH_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"
    assert PySDBackend().cache_dir == tmp_path / "mine" / "pysd"
    monkeypatch.delenv("SDHEALTH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "sdhealth"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == Path.home() / ".cache" / "sdhealth"


# --------------------------------------------------------------------------- failures


def test_only_euler(backend) -> None:
    with pytest.raises(
        BackendError, match="the pysd backend integrates with euler only; method='rk4' needs"
    ):
        run(backend, teacup(), method="rk4")


def draining(non_negative: bool = True) -> Model:
    return Model(
        "drain",
        TimeSpec(0, 6, 1),
        (
            Stock(
                name="Water",
                initial=Equation.of(1),
                outflows=("Leak",),
                non_negative=non_negative,
            ),
            Flow(name="Leak", equation=Equation(sympy.Float(0.4))),
            Auxiliary(name="Depth", equation=Equation(sympy.sqrt(symbol("Water")))),
            Auxiliary(name="Double depth", equation=Equation(2 * symbol("Depth"))),
        ),
    )


def test_negative_stock_is_an_error(backend) -> None:
    with pytest.raises(SimulationError, match=r"stock 'Water' went negative \(-0.2\) at time 3$"):
        run(backend, draining())
    try:
        run(backend, draining())
    except SimulationError as error:
        assert (error.variable, error.time) == ("Water", 3)


def test_nan_names_the_variable_where_it_began(backend) -> None:
    with pytest.raises(SimulationError) as caught:
        run(backend, draining(non_negative=False), return_columns=("Double depth",))
    assert str(caught.value) == "'Depth' became not a number (NaN) at time 3"
    assert (caught.value.variable, caught.value.time) == ("Depth", 3)


def test_division_by_zero_names_the_variable(backend) -> None:
    model = Model(
        "ratio",
        TimeSpec(0, 4, 1),
        (
            Constant(name="Cases", value=3),
            Auxiliary(name="Staff", equation=Equation(2 - fn.STEP(2, 2))),
            Auxiliary(name="Cases per staff", equation=Equation(symbol("Cases") / symbol("Staff"))),
        ),
    )
    with pytest.raises(SimulationError) as caught:
        run(backend, model)
    assert str(caught.value).startswith("'Cases per staff' could not be computed at time 2")
    assert (caught.value.variable, caught.value.time) == ("Cases per staff", 2)


def test_pysd_warnings_are_captured_not_shown(backend, recwarn, capfd) -> None:
    model = Model(
        "beyond",
        TimeSpec(0, 3, 1),
        (
            Lookup(name="Curve", xs=(0, 1), ys=(0, 2)),
            Auxiliary(name="Effect", equation=Equation(fn.LOOKUP(symbol("Curve"), fn.TIME))),
        ),
    )
    result = backend.run(model, RunSpec.from_time(model.time), {})
    assert result.values[:, 0].tolist() == [0, 2, 2, 2]
    assert any("extrapolating data above the maximum" in note for note in result.warnings)
    assert len(recwarn) == 0
    assert capfd.readouterr() == ("", "")


def test_a_subscript_range_the_model_does_not_define_is_refused(backend) -> None:
    model = Model("arrays", variables=(Constant(name="Beds", value=1, dims=("Region",)),))
    with pytest.raises(BackendError, match="uses 'Region', which the model does not define"):
        run(backend, model)


def test_columns_are_checked(backend) -> None:
    with pytest.raises(UnknownNameError, match="unknown column 'Tea'"):
        run(backend, teacup(), return_columns=("Tea",))
    model = teacup().with_variables(Lookup(name="Curve", xs=(0, 1), ys=(0, 1)))
    with pytest.raises(ModelError, match="'Curve' is a lookup"):
        run(backend, model, return_columns=("Curve",))


# --------------------------------------------------------------------------- the contract


def test_registry() -> None:
    assert isinstance(get_backend("pysd"), PySDBackend)
    assert get_backend("pysd") is get_backend("pysd")
    with pytest.raises(BackendError, match="^unknown backend 'x'; available: native, pysd$"):
        get_backend("x")


def test_register_a_backend(monkeypatch) -> None:
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    monkeypatch.setattr(base, "_INSTANCES", {})

    @register_backend("constant")
    class ConstantBackend(Backend):
        def run(self, model: Model, spec: RunSpec, params: Mapping[str, float]) -> RunResult:
            times = np.arange(spec.start, spec.stop + spec.save_every / 2, spec.save_every)
            return RunResult(times, np.ones((len(times), 1)), ("one",))

    backend = get_backend("constant")
    assert isinstance(backend, ConstantBackend) and backend.name == "constant"
    frame = backend.run(teacup(), RunSpec(0, 2, 1), {}).to_frame()
    assert frame.index.name == "time" and frame["one"].tolist() == [1, 1, 1]
    assert base.available_backends() == ("constant", "native", "pysd")


def test_run_spec_and_result_validate() -> None:
    spec = RunSpec.from_time(TimeSpec(0, 10, 0.5, saveper=2), stop=20, dt=None)
    assert (spec.start, spec.stop, spec.dt, spec.save_every) == (0, 20, 0.5, 2)
    for bad in ({"dt": 0}, {"stop": -1}, {"saveper": -1}, {"method": "rk45"}):
        with pytest.raises(BackendError):
            RunSpec(**({"start": 0, "stop": 1, "dt": 0.5} | bad))
    with pytest.raises(ValueError, match="expected"):
        RunResult(np.zeros(3), np.zeros((3, 2)), ("one",))


def test_no_warning_escapes_a_normal_run(backend) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(backend, teacup(), {"Room Temperature": 60})


def test_unflattened_output_is_flattened_like_pysd_does() -> None:
    import xarray as xr

    from sdhealth.backends.pysd import _flatten

    coords = {"a": ["x", "y"], "b": ["p", "q", "r"]}
    cells = [xr.DataArray(np.arange(6.0).reshape(2, 3) + t, coords, ["a", "b"]) for t in (0, 10)]
    frame = pd.DataFrame({"v": cells, "s": [1.0, 2.0]}, index=[0.0, 1.0])
    flat = _flatten(frame)
    assert list(flat.columns) == ["v[x,p]", "v[x,q]", "v[x,r]", "v[y,p]", "v[y,q]", "v[y,r]", "s"]
    assert flat["v[y,q]"].tolist() == [4.0, 14.0]
    assert flat["s"].tolist() == [1.0, 2.0]
