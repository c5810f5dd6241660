"""The teaching models reproduce the behaviour their sources describe.

Each model is small (3-8 stocks), documented and sourced, passes ``sd.check`` and shows its
published finding: Wolstenholme (1999) intermediate care beats extra acute beds; Lane,
Monefeldt & Rosenhead (2000) a bed cut raises elective cancellations, not emergency waits;
Homer (1985) a large enough surge tips a team into a lasting burnout collapse; and a goal-gap
recovery follows its first-order closed form. Runs use the default (native) backend; one test
checks it against PySD.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sdhealth as sd
from sdhealth.ir.model import Constant, Lookup

MODELS = Path(__file__).resolve().parents[2] / "models"
TEACHING = [
    "wolstenholme_patient_flow.yaml",
    "lane_ae_bed_cut.yaml",
    "homer_burnout.yaml",
    "elective_recovery.yaml",
]


@pytest.fixture(scope="module")
def models() -> dict[str, sd.Model]:
    return {name: sd.load(MODELS / name) for name in TEACHING}


# --- every teaching model --------------------------------------------------------------------


@pytest.mark.parametrize("name", TEACHING)
def test_small_documented_sourced_and_clean(models, name):
    model = models[name]
    stocks = [stock for stock in model.ir.stocks if not stock.internal]
    assert 3 <= len(stocks) <= 8
    assert len(model.ir.doc) > 300
    for variable in model.ir.variables:
        assert variable.units, variable.name
        assert variable.doc, variable.name
        if isinstance(variable, Constant | Lookup):
            assert variable.source, variable.name
    assert sd.check(model) == []


@pytest.mark.parametrize("name", TEACHING)
def test_stocks_stay_non_negative_in_the_base_run(models, name):
    model = models[name]
    stocks = [stock.name for stock in model.ir.stocks if not stock.internal]
    run = model.run(return_columns=stocks)
    assert (run.to_numpy() >= 0).all()


def test_the_native_default_agrees_with_pysd():
    model = sd.load(MODELS / "elective_recovery.yaml")  # the cheapest for PySD to run
    params = {"Recovery time": 6.0}
    native = model.run(params=params)
    pysd = model.run(params=params, backend="pysd")
    assert list(native.columns) == list(pysd.columns)
    np.testing.assert_allclose(native.to_numpy(), pysd.to_numpy(), rtol=1e-9, atol=1e-9)


# --- Wolstenholme 1999: intermediate care vs acute beds --------------------------------------


def _patient_days_waited(model: sd.Model, params: dict[str, float]) -> float:
    run = model.run(params=params, return_columns=["Patient days waited"])
    return float(run["Patient days waited"].iloc[-1])


def test_wolstenholme_blocking_fills_acute_beds_and_the_queue_grows(models):
    run = models["wolstenholme_patient_flow.yaml"].run()
    assert run["Bed occupancy"].loc[0] < 0.8
    blocked = run["Patients awaiting placement"]
    assert blocked.loc[180] > 4 * blocked.loc[0]
    waiting = run["Patients waiting for admission"]
    assert waiting.loc[365] > waiting.loc[180] > 5 * waiting.loc[0]


def test_wolstenholme_intermediate_care_cuts_waits_more_than_as_many_extra_beds(models):
    model = models["wolstenholme_patient_flow.yaml"]
    extra = 20
    base = _patient_days_waited(model, {})
    beds = _patient_days_waited(model, {"Acute beds": model["Acute beds"].value + extra})
    places = model["Intermediate care places"].value
    care = _patient_days_waited(model, {"Intermediate care places": places + extra})
    bed_saving, care_saving = 1 - beds / base, 1 - care / base
    assert 0 < bed_saving < 0.3  # extra beds fill with medically fit patients
    assert care_saving > 0.6  # faster turnover downstream unblocks the beds
    assert care_saving > 3 * bed_saving


# --- Lane, Monefeldt & Rosenhead 2000: a bed cut ---------------------------------------------


def _lane_year(model: sd.Model, beds: float) -> tuple[float, float, float]:
    """Mean emergency wait (days), cancelled share of bookings, and the final elective list."""
    run = model.run(params={"Beds": beds})
    second_half = run.loc[182:]
    wait = second_half["Emergency patients awaiting a bed"].mean() / second_half[
        "Decisions to admit"
    ].mean()  # fmt: skip
    days = run.index[-1] - run.index[0]
    cancelled = run["Cancelled elective admissions"].iloc[-1] / (
        model["Elective bookings"].value * days
    )
    return wait, cancelled, run["Elective waiting list"].iloc[-1]


def test_lane_a_bed_cut_barely_changes_emergency_waits_but_cancels_electives(models):
    model = models["lane_ae_bed_cut.yaml"]
    beds = model["Beds"].value
    wait, cancelled, waiting_list = _lane_year(model, beds)
    cut_wait, cut_cancelled, cut_list = _lane_year(model, 0.9 * beds)
    wait_rise = cut_wait / wait - 1
    assert 0 <= wait_rise < 0.15  # emergencies have priority
    assert cancelled < 0.02
    assert cut_cancelled > 0.2  # a sharp rise in cancellations ...
    assert cut_cancelled / cancelled > 10 * (1 + wait_rise)  # ... far above the wait's change
    assert cut_list > 2 * waiting_list


# --- Homer 1985: the burnout spiral ----------------------------------------------------------


def _surge(model: sd.Model, size: float) -> pd.DataFrame:
    return model.run(params={"Surge size": size})


def test_homer_a_small_surge_is_absorbed_and_the_team_recovers(models):
    model = models["homer_burnout.yaml"]
    run = _surge(model, 0.2)
    end = model["Surge start"].value + model["Surge duration"].value
    assert run["Hours worked"].loc[end] > 1.1 * model["Normal hours"].value  # it worked harder
    assert run["Burnout"].loc[end] > 0.1
    assert run["Productivity"].loc[104] > 0.99
    assert run["Backlog"].loc[104] == pytest.approx(run["Backlog"].loc[0], rel=0.01)


def test_homer_a_large_surge_tips_productivity_into_a_lasting_collapse(models):
    model = models["homer_burnout.yaml"]
    run = _surge(model, 0.6)
    end = model["Surge start"].value + model["Surge duration"].value
    after = run.loc[end + 20 :]
    assert (after["Productivity"] < 0.6).all()  # persists long after the surge
    assert (after["Completion capacity"] < model["Normal workload"].value).all()
    assert after["Burnout"].iloc[-1] > 0.9
    backlog = after["Backlog"]
    assert backlog.iloc[-1] > 5 * run["Backlog"].loc[0]
    assert backlog.is_monotonic_increasing  # the spiral does not turn back


def test_homer_the_collapse_has_a_threshold_between_the_two_surges(models):
    model = models["homer_burnout.yaml"]
    final = {size: _surge(model, size)["Productivity"].iloc[-1] for size in (0.2, 0.3, 0.4, 0.6)}
    recovered = [size for size, productivity in final.items() if productivity > 0.95]
    collapsed = [size for size, productivity in final.items() if productivity < 0.6]
    assert recovered and collapsed
    assert max(recovered) < min(collapsed)
    assert len(recovered) + len(collapsed) == len(final)


# --- the goal-gap elective recovery ----------------------------------------------------------


def test_elective_recovery_follows_the_first_order_closed_form(models):
    model = models["elective_recovery.yaml"]
    run = model.run()
    start = model["Initial waiting list"].value
    target = model["Target waiting list"].value
    tau = model["Recovery time"].value
    dt = model.time.dt
    times = run.index.to_numpy()
    waiting = run["Waiting list"].to_numpy()
    # Euler's solution of dL/dt = -(L - L*) / tau is exactly geometric ...
    euler = target + (start - target) * (1 - dt / tau) ** (times / dt)
    np.testing.assert_allclose(waiting, euler, rtol=1e-9)
    # ... and approaches the continuous closed form to within about t dt / (2 tau^2).
    exact = target + (start - target) * np.exp(-times / tau)
    error = np.abs(waiting - exact) / (start - target)
    assert error.max() < 0.005
    gap_at_tau = run["Gap to target"].loc[tau] / (start - target)
    assert gap_at_tau == pytest.approx(math.exp(-1), abs=0.005)


def test_elective_recovery_time_constant_scales_with_the_recovery_time(models):
    model = models["elective_recovery.yaml"]
    start = model["Initial waiting list"].value
    target = model["Target waiting list"].value
    for tau in (9.0, 18.0, 36.0):
        gap = model.run(params={"Recovery time": tau})["Gap to target"] / (start - target)
        one_e = float(gap[gap <= math.exp(-1)].index[0])  # first saved time below 1/e
        assert tau <= one_e <= tau + 0.5 + model.time.dt


def test_elective_recovery_conserves_patients(models):
    model = models["elective_recovery.yaml"]
    run = model.run()
    referred = run["Referrals"].iloc[0] * run.index.to_numpy()
    total = run["Waiting list"] + run["Patients treated"]
    np.testing.assert_allclose(total, run["Waiting list"].iloc[0] + referred, rtol=1e-9)
