"""The NHS England reference model: structure, loops, calibration, numerics and policy behaviour.

Bands come from the brief (shared/health/REFERENCE_MODEL.md) and its published sources; they
are listed with sources in docs/models/nhs_england.md. Long runs use the native backend (a
96-month PySD run of this model takes minutes); one test checks that PySD gives the same
numbers over the first months, so the PySD oracle still stands behind every result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd
from sdhealth.ir.model import Constant, Lookup, Stock

MODELS = Path(__file__).resolve().parents[2] / "models"
MODEL = MODELS / "nhs_england.yaml"
SCENARIOS = MODELS / "nhs_england" / "scenarios"
BACKEND = "native"

KEY = [
    "RTT waiting list", "Bed occupancy", "Emergency bed occupancy",
    "Medically fit patients awaiting discharge", "Mean discharge delay",
    "Delayed discharges awaiting social care", "Time to admit", "Handover hours lost",
    "Elective overnight admissions", "Elective admissions forgone", "Nurse FTE",
    "Nurse leaver rate", "Staff fatigue", "Sickness absence", "Care vacancy rate",
    "Share waiting under 18 weeks", "Twelve hour waits from decision to admit",
    "Waiting over 52 weeks", "Share leaving the list untreated",
]  # fmt: skip

#: The brief's loops: polarity and variables every matching loop must contain.
LOOPS = {
    "B1 elective throttling": (-1, [
        "Bed occupancy", "Bed pressure", "Elective overnight admissions", "Elective inpatients"]),
    "B2 discharge pull through social care": (-1, [
        "Medically fit awaiting supported discharge", "Perceived supported discharge delays",
        "Care posts required", "Social care workforce", "Care capacity adequacy",
        "Supported discharges"]),
    "B3 recruitment and training": (-1, [
        "Nurse vacancy rate", "Perceived nurse vacancy rate", "Training intake",
        "Nurse course completions", "Nurse FTE"]),
    "B4 waiting-time rationing and supply response": (-1, [
        "RTT waiting list", "Mean RTT wait", "Perceived RTT wait",
        "Waiting list initiative share", "Elective capacity multiplier"]),
    "R1 exit-block gridlock": (1, [
        "Bed occupancy", "ED patients awaiting a bed", "ED crowding", "Handover time",
        "Ambulance handover queue", "Cat 2 mean response time", "Emergency inpatients"]),
    "R2 premature discharge and readmission": (1, [
        "Bed occupancy", "Early discharge pressure", "Readmissions",
        "ED patients awaiting a bed", "Emergency inpatients"]),
    "R3 burnout and attrition": (1, [
        "Nurse FTE", "Available nurse FTE", "Workload pressure", "Staff fatigue",
        "Nurse leavers"]),
    "R4 untreated elective need becomes emergency demand": (1, [
        "RTT waiting list", "Deterioration to emergency admission", "Emergency inpatients",
        "Bed occupancy", "Elective overnight admissions"]),
}  # fmt: skip


@pytest.fixture(scope="module")
def model() -> sd.Model:
    return sd.load(MODEL)


@pytest.fixture(scope="module")
def base(model):
    return model.run(backend=BACKEND, return_columns=KEY)


@pytest.fixture(scope="module")
def runs(model):
    """Every scenario file, run once."""
    return {
        path.stem: model.run(backend=BACKEND, scenario=path, return_columns=KEY)
        for path in sorted(SCENARIOS.glob("P*.yaml"))
    }


# --- structure -------------------------------------------------------------------------------


def test_model_checks_clean_and_every_parameter_is_sourced(model):
    assert sd.check(model) == []  # about 110 s today: the declared-link polarity check is slow
    for variable in model.ir.variables:
        assert variable.units, variable.name
        assert variable.doc, variable.name
        if isinstance(variable, Constant | Lookup):
            assert variable.source, variable.name


def test_the_brief_stocks_are_there_and_non_negative(model):
    stocks = [s for s in model.ir.stocks if not s.internal]
    assert len(stocks) >= 12
    for name in [
        "RTT waiting list", "Deferred elective need", "Elective inpatients",
        "Ambulance handover queue", "ED patients awaiting a bed", "Emergency inpatients",
        "Medically fit awaiting supported discharge", "Social care packages in use",
        "Social care workforce", "Nurse FTE", "Nurses in training", "Staff fatigue",
    ]:  # fmt: skip
        assert isinstance(model[name], Stock) and model[name].non_negative, name
    assert (model.time.start, model.time.stop) == (0, 96)


@pytest.mark.parametrize("name", list(LOOPS))
def test_the_brief_loops_exist_with_their_polarity(model, name):
    polarity, chain = LOOPS[name]
    loops = model.loops()
    assert not loops.truncated
    matching = [loop for loop in loops if set(chain) <= set(loop.variables)]
    assert any(loop.polarity == polarity for loop in matching), (name, len(matching))


def test_the_brief_loops_traced_in_causal_order_have_their_polarity(model):
    """The loops `sdhealth run` prints: each chain followed in order by shortest paths."""
    from sdhealth.analysis.loops import trace_loop

    for name, (polarity, chain) in LOOPS.items():
        loop = trace_loop(model.cld(), chain)
        assert loop is not None and loop.polarity == polarity, (name, loop)


# --- numerics --------------------------------------------------------------------------------


def test_pysd_agrees_with_the_native_backend(model):
    columns = ["RTT waiting list", "Bed occupancy", "Handover hours lost", "Nurse FTE"]
    pysd = model.run(stop=2, return_columns=columns)
    native = model.run(stop=2, backend=BACKEND, return_columns=columns)
    np.testing.assert_allclose(native.to_numpy(), pysd.to_numpy(), rtol=1e-9)


def test_halving_dt_changes_key_outputs_under_one_percent(model, base):
    half = model.run(backend=BACKEND, dt=model.time.dt / 2, saveper=1, return_columns=KEY)
    change = (half - base).abs().max() / base.abs().max()  # relative to each output's scale
    assert (change < 0.01).all(), change[change >= 0.01]


@pytest.mark.parametrize("scenario", [None, "P2_bed_cut"])
def test_patients_are_conserved(model, scenario):
    """Patients on the list, in hospital and in care change only by the boundary flows.

    The bed cut is included because there the hard bed limit binds (admissions wait in ED).
    """
    stocks = [
        "RTT waiting list", "Deferred elective need", "Elective inpatients",
        "Ambulance handover queue", "ED patients awaiting a bed", "Emergency inpatients",
        "Medically fit awaiting simple discharge", "Medically fit awaiting supported discharge",
        "Social care packages in use",
    ]  # fmt: skip
    inflows = [
        "Referrals", "Need deferred", "Ambulance conveyances", "Decisions to admit",
        "Direct emergency admission requests", "Readmissions", "Community package starts",
    ]  # fmt: skip
    outflows = [
        "Non admitted clock stops", "Day case admissions", "Removals from the list",
        "Deferred need lost", "Elective discharges", "Handovers", "Direct discharges",
        "Simple discharges", "Package ends",
    ]  # fmt: skip
    dt = model.time.dt
    path = None if scenario is None else SCENARIOS / f"{scenario}.yaml"
    df = model.run(
        backend=BACKEND, scenario=path, saveper=dt, return_columns=stocks + inflows + outflows
    )
    total = df[stocks].sum(axis=1).to_numpy()
    net = (df[inflows].sum(axis=1) - df[outflows].sum(axis=1)).to_numpy()
    predicted = total[0] + np.concatenate([[0.0], np.cumsum(net[:-1] * dt)])
    np.testing.assert_allclose(total, predicted, rtol=1e-9)


# --- calibration (2023-2024; month 0 = January 2023) -----------------------------------------


def test_occupancy_is_92_to_95_percent(base):
    occupancy = base["Bed occupancy"].loc[0:24]
    assert occupancy.between(0.92, 0.95).all()


def test_medically_fit_patients_about_13000_with_a_mean_delay_about_1_3_days(base):
    assert base["Medically fit patients awaiting discharge"].loc[0:24].between(12_000, 14_000).all()
    assert base["Mean discharge delay"].loc[0:24].between(1.1, 1.6).all()


def test_rtt_list_peaks_at_7_7_to_7_8m_in_late_2023_then_eases(base):
    waiting = base["RTT waiting list"]
    peak_time = waiting.loc[0:24].idxmax()
    assert 6 <= peak_time <= 12  # H2 2023
    assert 7.65e6 <= waiting.loc[peak_time] <= 7.85e6
    assert waiting.loc[13:20].between(7.45e6, 7.75e6).all()  # 7.58m Jan 2024 .. 7.64m Aug 2024
    assert waiting.loc[20] < waiting.loc[peak_time]
    assert base["Share waiting under 18 weeks"].loc[12:20].between(0.55, 0.65).all()  # 57.6-58.3%


def test_handover_hours_lost_about_2m_a_year_and_falling_from_winter_2022_23(base):
    hours = base["Handover hours lost"]
    year_2023 = hours.loc[0:11].sum()
    assert 1.5e6 <= year_2023 <= 2.2e6
    assert year_2023 < 12 * hours.loc[0]


def test_twelve_hour_waits_from_decision_to_admit_are_rcem_scale(base):
    waits = base["Twelve hour waits from decision to admit"].loc[0:24]
    assert waits.between(25_000, 50_000).all()  # 410k in 2022/23; 44.6k Oct 2023; 36.8k Jul 2024


def test_nurse_workforce_grows_about_6_percent_and_leaving_eases(base):
    nurses = base["Nurse FTE"]
    assert nurses.loc[14] == pytest.approx(366_438, rel=0.02)  # March 2024
    assert 0.04 <= nurses.loc[12] / nurses.loc[0] - 1 <= 0.08
    leaving = base["Nurse leaver rate"]
    assert leaving.loc[0] == pytest.approx(0.115, abs=0.002)
    assert leaving.loc[24] < leaving.loc[0]
    assert base["Sickness absence"].loc[0] == pytest.approx(0.056, abs=0.002)


def test_social_care_vacancies_about_10_percent_and_falling(base):
    vacancies = base["Care vacancy rate"]
    assert vacancies.loc[0:3].between(0.094, 0.106).all()
    assert vacancies.loc[12] < vacancies.loc[0]


# --- policy experiments ----------------------------------------------------------------------


def _relative(runs, base, scenario, column, time):
    return runs[scenario][column].loc[time] / base[column].loc[time] - 1


def test_p1_beds_leave_delayed_discharges_unchanged_packages_reduce_them(runs, base):
    beds, packages = "P1_extra_beds", "P1_care_packages"
    assert abs(_relative(runs, base, beds, "Medically fit patients awaiting discharge", 36)) < 0.03
    assert runs[beds]["Bed occupancy"].loc[13] < base["Bed occupancy"].loc[13] - 0.02
    assert runs[beds]["Elective overnight admissions"].loc[24] > 1.1 * base[
        "Elective overnight admissions"
    ].loc[24]  # fmt: skip
    assert (
        -0.10
        < _relative(runs, base, packages, "Medically fit patients awaiting discharge", 36)
        < -0.01
    )
    assert _relative(runs, base, packages, "Handover hours lost", 36) < 0
    assert runs[packages]["Bed occupancy"].loc[36] < base["Bed occupancy"].loc[36]


@pytest.mark.parametrize("scenario", [None, *sorted(p.stem for p in SCENARIOS.glob("P*.yaml"))])
def test_occupancy_never_exceeds_one(model, scenario):
    """Admissions are limited by the free beds, so occupied beds stay within the planned beds.

    Occupancy (occupied / open beds) is at most 1 by definition -- a bed is not closed under
    its patient -- so the test that has teeth is on the beds over plan: outside the days just
    after a step cut of planned beds, admissions never take more beds than the plan has.
    """
    path = None if scenario is None else SCENARIOS / f"{scenario}.yaml"
    columns = ["Bed occupancy", "Beds over plan", "Occupied beds", "Beds planned"]
    run = model.run(backend=BACKEND, scenario=path, saveper=model.time.dt, return_columns=columns)
    assert run["Bed occupancy"].max() <= 1 + 1e-12
    over = run.index[run["Occupied beds"] > run["Beds planned"] * (1 + 1e-9)]
    assert len(over) == 0 or over.max() - over.min() < 0.25  # a step cut clears within a week
    assert (scenario == "P2_bed_cut") == (len(over) > 0)  # only the bed cut steps beds down


def test_p2_bed_cut_fills_every_bed_by_2030_and_the_rest_boards_in_ed(model):
    columns = [
        "Bed occupancy", "Beds over plan", "ED patients awaiting a bed",
        "Elective overnight admissions", "Emergency admissions", "Bed admission capacity",
    ]  # fmt: skip
    cut = model.run(backend=BACKEND, scenario=SCENARIOS / "P2_bed_cut.yaml", return_columns=columns)
    assert cut["Beds over plan"].loc[12] > 1000  # beds close only as their patients leave ...
    assert cut["Beds over plan"].loc[13] == 0  # ... within days
    late = cut.loc[90:]
    assert (late["Bed occupancy"] > 0.9999).all()  # full: admissions are held to the free beds
    np.testing.assert_allclose(late["Emergency admissions"], late["Bed admission capacity"])
    assert (late["Elective overnight admissions"] < 1).all()  # emergencies take every bed
    assert cut["ED patients awaiting a bed"].loc[96] > 5 * cut["ED patients awaiting a bed"].loc[24]


def test_p2_bed_cut_cancels_electives_sharply_more_than_it_delays_emergencies(runs, base):
    cut = runs["P2_bed_cut"]
    elective_fall = 1 - cut["Elective overnight admissions"].loc[18] / base[
        "Elective overnight admissions"
    ].loc[18]  # fmt: skip
    wait_rise = cut["Time to admit"].loc[18] / base["Time to admit"].loc[18] - 1
    assert elective_fall > 0.3  # Lane et al. 2000: cancellations rise sharply
    assert wait_rise < elective_fall  # emergencies take priority
    assert cut["RTT waiting list"].loc[36] > base["RTT waiting list"].loc[36]


def test_p3_admission_avoidance_cuts_emergency_occupancy_about_1pp_a_year(runs, base):
    avoided = runs["P3_admission_avoidance"]
    drop = base["Emergency bed occupancy"].loc[72] - avoided["Emergency bed occupancy"].loc[72]
    assert 0.5 <= drop * 100 / 5 <= 1.8  # percentage points a year over five years
    assert avoided["Bed occupancy"].loc[72] < base["Bed occupancy"].loc[72]


def test_p4_ten_percent_more_care_capacity_cuts_social_care_delays_6_to_9_percent(runs, base):
    change = _relative(
        runs, base, "P4_care_capacity", "Delayed discharges awaiting social care", 36
    )
    assert -0.12 <= change <= -0.03  # Gaughan et al. 2015: -6 to -9%


def test_p4_zero_delayed_discharges_needs_ever_more_capacity(runs, base):
    ramp = runs["P4_zero_delayed_discharges"]
    capacity = np.array([0.5, 1.0, 1.5, 2.0, 2.5])
    times = 12 + capacity / 3.0 * 84
    delays = ramp["Delayed discharges awaiting social care"].reindex(times, method="nearest")
    saved_per_capacity = -np.diff(delays.to_numpy()) / np.diff(capacity)
    assert (saved_per_capacity > 0).all()
    assert (np.diff(saved_per_capacity) < 0).all()  # each patient saved costs more capacity
    assert delays.iloc[-1] > 0.25 * base["Delayed discharges awaiting social care"].loc[96]


def test_p5_overtime_helps_first_then_burnout_erodes_it_retention_lasts(runs, base):
    surge, retain = runs["P5_overtime_surge"], runs["P5_retention"]
    gap = base["RTT waiting list"] - surge["RTT waiting list"]
    assert gap.loc[18] > 0  # list falls at first
    assert 18 <= gap.idxmax() <= 30  # the gain peaks 6-18 months in (brief) ...
    assert gap.loc[60] < 0  # ... then the list rebounds above the base (Homer 1985)
    assert surge["Staff fatigue"].loc[36] > base["Staff fatigue"].loc[36] + 0.2
    assert surge["Staff fatigue"].loc[96] > surge["Staff fatigue"].loc[36]  # burnout compounds
    assert 0.14 <= surge["Nurse leaver rate"].loc[96] <= 0.17  # brief: 15-17%/yr at high fatigue
    assert surge["Nurse FTE"].loc[60] < base["Nurse FTE"].loc[60]
    assert surge["RTT waiting list"].loc[18] < retain["RTT waiting list"].loc[18]  # faster start
    assert retain["Nurse FTE"].loc[96] > base["Nurse FTE"].loc[96]
    assert retain["RTT waiting list"].loc[96] < base["RTT waiting list"].loc[96]  # sustained


def test_p5_retention_overtakes_the_overtime_surge_by_2030(runs, base):
    surge, retain = runs["P5_overtime_surge"], runs["P5_retention"]
    better = retain["RTT waiting list"] < surge["RTT waiting list"]
    crossover = better[better & ~better.shift(fill_value=False)].index.max()  # last crossing
    assert 24 <= crossover <= 84  # overtime first, retention from 2025-2029 onwards
    assert better.loc[crossover:].all()
    assert retain["Staff fatigue"].loc[96] < base["Staff fatigue"].loc[96]  # retention compounds
    assert retain["RTT waiting list"].loc[96] < surge["RTT waiting list"].loc[96]


def test_p6_missing_demand_returning_drives_the_list_toward_7_to_8m_and_beyond(runs):
    low = runs["P6_covid_low_return"]["RTT waiting list"].loc[0:60]
    high = runs["P6_covid_high_return"]["RTT waiting list"].loc[0:60]
    assert low.loc[12] < low.loc[0]  # referrals collapse during the shock
    assert 7.5e6 <= low.max() <= 8.0e6  # Howlett & Wood: toward 7.5-8m (observed peak 7.77m)
    assert 24 <= low.idxmax() <= 48  # observed peak Sep 2023 (month 43)
    assert high.max() > low.max() + 1.5e6  # 75% return at 90% capacity: far higher
    share = runs["P6_covid_high_return"]["Share waiting under 18 weeks"]
    assert share.loc[0:60].min() < 0.6


def test_p6_worst_case_heads_toward_13m_by_autumn_2022(runs):
    """Howlett & Wood (2022): 75% of missed referrals return, capacity 90% of pre-pandemic.

    Their projection: 13.6m (95% interval 12.4-15.6m) by autumn 2022; by summer 2023 42.2%
    (37.4-46.2%) under 18 weeks, 1.6m (0.8-3.1m) over 52 weeks and 29.0% (21.3-36.8%) of
    patients leaving the list untreated. The brief asks for the list "toward ~13m"; the band
    here is 13m +-20%. The model sits low in it (about 11.9m, 12.6m by 2025): its removals
    grow with the list at once, where patient-level reneging starts only as the returning
    patients' waits lengthen (docs/models/nhs_england.md, P6).
    """
    worst = runs["P6_covid_high_return"]
    waiting = worst["RTT waiting list"]
    assert waiting.loc[12] < waiting.loc[0]  # the shock first shrinks the list
    assert 10.4e6 <= waiting.loc[31:33].max() <= 15.6e6  # Sep-Nov 2022
    assert waiting.loc[0:60].max() >= 12.4e6  # within their interval, if later than autumn 2022
    summer_2023 = slice(40, 42)
    assert worst["Share waiting under 18 weeks"].loc[summer_2023].max() < 0.5  # from 83%
    assert worst["Waiting over 52 weeks"].loc[summer_2023].between(0.8e6, 3.1e6).all()
    assert worst["Share leaving the list untreated"].loc[summer_2023].between(0.213, 0.368).all()


def test_wait_bands_track_the_observed_2023_2024_shares(base):
    """The ageing chain keeps the list's mix of waits where NHS England reported it."""
    assert base["Share waiting under 18 weeks"].loc[12:20].between(0.57, 0.59).all()
    over_a_year = base["Waiting over 52 weeks"]
    assert over_a_year.loc[0:12].between(0.3e6, 0.45e6).all()  # about 370,000-400,000 in 2023
    assert over_a_year.loc[24] < over_a_year.loc[0]  # long-wait targets bring it down


def test_p6_more_returning_demand_means_a_longer_list_and_longer_waits(model, runs):
    """Howlett & Wood's four return scenarios (the shipped sweep spec) at 90% capacity."""
    from sdhealth.experiments.specs import load_sweep_spec

    spec = load_sweep_spec(MODELS / "nhs_england" / "sweeps" / "p6_missing_demand_return.yaml")
    result = spec.run(model, progress=False)
    shares = result["Share of deferred need returning"].to_numpy()
    assert list(shares) == [0, 0.25, 0.5, 0.75]
    peak = result["RTT waiting list"].sel(statistic="peak").to_numpy()
    summer_2023 = result["Share waiting under 18 weeks"].sel(statistic="mean[40,42]").to_numpy()
    assert (np.diff(peak) > 0).all()  # every extra quarter returning lengthens the list
    assert (np.diff(summer_2023) < 0).all()  # ... and the waits
    worst = runs["P6_covid_high_return"]["RTT waiting list"]
    assert peak[-1] == pytest.approx(worst.loc[:60].max())  # the 75% row is the scenario
