"""End-to-end behaviour of ``sd.load(...).run(...)`` on the shipped models."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sdhealth as sd


@pytest.fixture(scope="module")
def teacup(models_dir):
    return sd.load(models_dir / "teacup.yaml")


def _read_canonical(path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    return frame.set_index(frame.columns[0])


def test_teacup_matches_vensim_canonical_output(teacup, test_models_dir):
    canonical = _read_canonical(test_models_dir / "case_sensitive_extension" / "output.csv")
    results = teacup.run()
    assert len(results) == len(canonical) == 241
    np.testing.assert_allclose(results.index.to_numpy(), canonical.index.to_numpy(), rtol=1e-12)
    for column in canonical.columns:
        expected = canonical[column].ffill().to_numpy(dtype=float)
        # Vensim writes output.csv with 6 significant digits (10.72671875 is written 10.7267)
        # from single-precision arithmetic, so agreement is bounded by 5e-6 relative for any
        # engine: PySD on the original .MDL is 4.9e-6 away. rtol=1e-5 is that print precision;
        # the exact Euler recurrence is checked to 1e-12 just below.
        np.testing.assert_allclose(results[column].to_numpy(), expected, rtol=1e-5, err_msg=column)
    exact_euler = 70 + 110 * (1 - 0.125 / 10) ** np.arange(241)
    np.testing.assert_allclose(results["Teacup Temperature"], exact_euler, rtol=1e-12)


def test_columns_are_model_names_and_index_is_time(teacup):
    results = teacup.run()
    assert results.index.name == "time"
    assert set(results.columns) == {
        "Teacup Temperature",
        "Heat Loss to Room",
        "Room Temperature",
        "Characteristic Time",
    }


def test_params_apply_to_one_run_only(teacup):
    base = teacup.run()
    cooler = teacup.run(params={"Room Temperature": 20})
    again = teacup.run()
    pd.testing.assert_frame_equal(base, again)
    assert cooler["Teacup Temperature"].iloc[-1] < base["Teacup Temperature"].iloc[-1] - 30
    assert teacup.constants["Room Temperature"] == 70


def test_params_names_are_case_and_space_insensitive(teacup):
    a = teacup.run(params={"room_temperature": 20})
    b = teacup.run(params={"Room Temperature": 20})
    pd.testing.assert_frame_equal(a, b)


def test_unknown_parameter_suggests_the_nearest_name(teacup):
    with pytest.raises(
        sd.UnknownNameError,
        match=r"'Room Temprature' \(did you mean 'Room "
        r"Temperature'\?\)",
    ):
        teacup.run(params={"Room Temprature": 20})


def test_parameter_must_be_a_constant(teacup):
    with pytest.raises(sd.ModelError, match="is a stock, not a constant"):
        teacup.run(params={"Teacup Temperature": 20})


def test_time_overrides_and_return_columns(teacup):
    results = teacup.run(stop=10, dt=0.5, return_columns=["Teacup Temperature"])
    assert list(results.columns) == ["Teacup Temperature"]
    np.testing.assert_allclose(results.index, np.arange(0, 10.25, 0.5))
    # Euler: T(t+dt) = T - dt*(T-70)/10
    expected = 70 + 110 * (1 - 0.05) ** np.arange(21)
    np.testing.assert_allclose(results["Teacup Temperature"], expected, rtol=1e-12)


def test_exponential_decay_converges_to_closed_form_as_dt_shrinks(teacup):
    exact = 70 + 110 * math.exp(-30 / 10)
    errors = []
    for dt in (1.0, 0.5, 0.25, 0.125):
        final = teacup.run(dt=dt, return_columns=["Teacup Temperature"]).iloc[-1, 0]
        errors.append(abs(final - exact))
    ratios = [a / b for a, b in zip(errors, errors[1:], strict=False)]
    # Euler is first order: halving dt halves the error (ratio -> 2).
    assert all(1.8 < r < 2.2 for r in ratios), ratios
    assert errors[-1] < 0.2


def test_step_policy_changes_the_parameter_from_its_time(teacup):
    results = teacup.run(policies=[sd.step("Room Temperature", to=20, at=10)])
    room = results["Room Temperature"]
    assert room.loc[9.875] == 70 and room.loc[10.0] == 20
    base = teacup.run()
    pd.testing.assert_series_equal(
        results["Teacup Temperature"].loc[:10], base["Teacup Temperature"].loc[:10]
    )
    assert results["Teacup Temperature"].iloc[-1] < base["Teacup Temperature"].iloc[-1]


def test_ramp_pulse_and_table_policies(teacup):
    ramped = teacup.run(policies=[sd.ramp("Room Temperature", by=-20, start=5, end=15)])
    room = ramped["Room Temperature"]
    assert room.loc[5.0] == pytest.approx(70) and room.loc[10.0] == pytest.approx(60)
    assert room.loc[20.0] == pytest.approx(50)
    pulsed = teacup.run(policies=[sd.pulse("Room Temperature", by=10, start=2, width=1)])
    assert pulsed["Room Temperature"].loc[2.5] == pytest.approx(80)
    assert pulsed["Room Temperature"].loc[3.0] == pytest.approx(70)
    tabled = teacup.run(policies=[sd.table("Room Temperature", {0: 70, 10: 50, 20: 50})])
    assert tabled["Room Temperature"].loc[5.0] == pytest.approx(60)
    stepped = teacup.run(
        policies=[sd.table("Room Temperature", {0: 70, 10: 50}, interpolate="step")]
    )
    assert stepped["Room Temperature"].loc[5.0] == pytest.approx(70)
    assert stepped["Room Temperature"].loc[10.0] == pytest.approx(50)


def test_policy_with_params_uses_the_param_as_base(teacup):
    results = teacup.run(
        params={"Room Temperature": 60}, policies=[sd.step("Room Temperature", by=-10, at=5)]
    )
    assert results["Room Temperature"].loc[0.0] == 60
    assert results["Room Temperature"].loc[6.0] == 50


def test_unknown_policy_target_is_a_clear_error(teacup):
    with pytest.raises(sd.UnknownNameError, match="policy target 'Room temp'"):
        teacup.run(policies=[sd.step("Room temp", by=1, at=1)])


def test_unknown_return_column(teacup):
    with pytest.raises(sd.UnknownNameError, match="unknown column 'Teacup'"):
        teacup.run(return_columns=["Teacup"])


def test_sir_conserves_population(models_dir):
    model = sd.load(models_dir / "sir.yaml")
    results = model.run()
    total = results[list(model.stocks)].sum(axis=1)
    np.testing.assert_allclose(total, total.iloc[0], rtol=1e-9)
    infectious = [s for s in model.stocks if s.lower().startswith("infect")][0]
    peak_time = results[infectious].idxmax()
    assert results.index[0] < peak_time < results.index[-1]  # an epidemic curve rises and falls


def test_hospital_flow_runs_with_positive_stocks(models_dir):
    model = sd.load(models_dir / "hospital_flow.yaml")
    results = model.run()
    stocks = results[list(model.stocks)]
    assert (stocks > 0).all().all()
    assert np.isfinite(results.to_numpy()).all()


def test_model_errors_stop_a_run_with_location(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "model: Bad\n"
        "time: {start: 0, stop: 10, dt: 1}\n"
        "stocks:\n"
        "  Level:\n"
        "    initial: 10\n"
        "    outflows: [Drain]\n"
        "flows:\n"
        "  Drain: Levle / Drain time\n"
        "constants:\n"
        "  Drain time: 2\n"
    )
    model = sd.load(path)
    with pytest.raises(sd.ModelError) as info:
        model.run()
    assert str(info.value) == f"{path}:8:10: unknown name 'Levle' (did you mean 'Level'?)"


ARRAYED_MDL = """{UTF-8}
Dim: a, b
	~
	~		|

growth[Dim] = 2
	~	people/Month
	~		|

level[Dim] = INTEG(growth[Dim], 0)
	~	people
	~		|

Row: r1, r2, r3, r4, r5
	~
	~		|

Column: c1, c2, c3, c4, c5
	~
	~		|

matrix[Row, Column] = 2, 0, 0, 0, 1; 0, 2, 0, 0, 0; 0, 0, 2, 0, 0; 0, 0, 0, 2, 0; 0, 0, 0, 0, 4
	~	dmnl
	~		|

inverse[Row, Column] = INVERT MATRIX(matrix[Row, Column], 5)
	~	dmnl
	~		|

INITIAL TIME = 0
	~	Month
	~		|

FINAL TIME = 3
	~	Month
	~		|

TIME STEP = 1
	~	Month
	~		|

SAVEPER = TIME STEP
	~	Month
	~		|
"""


def test_default_backend_falls_back_to_pysd_for_what_native_cannot_compile(tmp_path):
    path = tmp_path / "arrayed.mdl"
    path.write_text(ARRAYED_MDL)
    model = sd.load(path)
    # the native backend inverts matrices up to 4 x 4 only (adjugate over determinant)
    with pytest.warns(UserWarning, match="INVERT MATRIX.*PySD backend instead"):
        results = model.run()
    np.testing.assert_allclose(results["level[b]"], [0, 2, 4, 6])
    np.testing.assert_allclose(results["inverse[r1,c1]"], [0.5] * 4)
    np.testing.assert_allclose(results["inverse[r1,c5]"], [-0.125] * 4)
    np.testing.assert_allclose(results["inverse[r5,c5]"], [0.25] * 4)
    with pytest.raises(sd.BackendError, match="INVERT MATRIX of a 5-row matrix"):
        model.run(backend="native")


def test_experiments_integrate_with_the_models_method(tmp_path):
    """A model that asks for RK4 is swept with RK4 too, not only run with it."""
    path = tmp_path / "growth.yaml"
    path.write_text(
        "model: Growth\ntime: {start: 0, stop: 1, dt: 1, method: rk4}\n"
        "stocks:\n  Level:\n    initial: 1\n    inflows: [Growth]\n"
        "flows:\n  Growth:\n    equation: Level * rate\nconstants:\n  rate: 1\n",
        encoding="utf-8",
    )
    model = sd.load(path)
    swept = model.sweep({"rate": [1.0, 2.0]}, return_columns=["Level"])
    final = swept["Level"].isel(time=-1).values.ravel().tolist()
    # one RK4 step of dx/dt = r x from 1: 1 + r + r^2/2 + r^3/6 + r^4/24
    assert final == pytest.approx([65 / 24, 7.0])
