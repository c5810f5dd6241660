"""Declared link polarities checked against the equations (sdhealth.analysis.polarity)."""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from sdhealth.analysis.checks import blocking_issues, check_model
from sdhealth.analysis.loops import find_loops
from sdhealth.analysis.polarity import check_polarity, sign_ranges
from sdhealth.backends import base as backends
from sdhealth.backends.base import RunResult
from sdhealth.cld import CausalLoopDiagram, causal_graph
from sdhealth.cld.yaml_io import cld_from_yaml_text
from sdhealth.errors import BackendError, Severity
from sdhealth.io.yaml import load_yaml, model_from_yaml_text
from sdhealth.ir.model import (
    Constant,
    DeclaredLink,
    Equation,
    Flow,
    Model,
    SourceLocation,
    Stock,
    TimeSpec,
    symbol,
)

MODELS = Path(__file__).resolve().parents[2] / "models"


def load(body: str, clock: str = "{stop: 20, dt: 0.25, saveper: 1}") -> Model:
    text = f"model: M\ntime: {clock}\n" + textwrap.dedent(body)
    return model_from_yaml_text(text, path="m.yaml")


def messages(issues) -> list[str]:
    return [issue.message for issue in issues]


@pytest.fixture
def no_run(monkeypatch):
    """Any attempt to run a model fails the test."""

    def refuse(name):
        raise AssertionError(f"a run was started (backend {name!r})")

    monkeypatch.setattr(backends, "get_backend", refuse)


class FakeBackend:
    """Returns prescribed columns on the model's save grid and counts its runs."""

    def __init__(self, columns: dict[str, Callable[[np.ndarray], np.ndarray]]) -> None:
        self.columns = columns
        self.runs: list[tuple[str, ...]] = []

    def run(self, model, spec, params):
        self.runs.append(spec.return_columns)
        times = np.arange(spec.start, spec.stop + spec.save_every / 2, spec.save_every)
        names = [model[key].name for key in spec.return_columns]
        values = np.column_stack([self.columns[name](times) for name in names])
        return RunResult(times, values, tuple(names))


@pytest.fixture
def fake_run(monkeypatch):
    def install(**columns):
        backend = FakeBackend({name.replace("_", " "): f for name, f in columns.items()})
        monkeypatch.setattr(backends, "get_backend", lambda name: backend)
        return backend

    return install


DRAIN = """\
stocks:
  Level: {initial: 100, outflows: [Drain], non_negative: true}
flows:
  Drain:
    equation: Level / Drain time
    links: {Level: "+", Drain time: %s}
constants:
  Drain time: 4
"""


# ------------------------------------------------------------------ agreement and errors


def test_correct_declarations_give_no_issue(no_run):
    assert check_polarity(load(DRAIN % '"-"')) == []


def test_a_wrong_declaration_is_an_error_at_its_line_and_column(no_run):
    (issue,) = check_polarity(load(DRAIN % '"+"'))
    assert issue.severity is Severity.ERROR and issue.code == "polarity"
    assert issue.message == "link 'Drain time' -> 'Drain' is declared + but the equation gives -"
    assert (issue.path, issue.line, issue.column, issue.variable) == ("m.yaml", 8, 25, "Drain")
    assert str(issue).startswith("m.yaml:8:25: link 'Drain time' -> 'Drain'")


def test_links_into_stocks_follow_the_flow_lists(no_run):
    level = Stock(
        name="Level",
        initial=Equation.of(1),
        inflows=("Fill",),
        outflows=("Drain",),
        declared_links=(DeclaredLink("Fill", 1), DeclaredLink("drain", 1)),
    )
    model = Model(
        "m",
        variables=(
            level,
            Flow(name="Fill", equation=Equation.of(1)),
            Flow(name="Drain", equation=Equation(symbol("Level") / 2)),
        ),
    )
    assert messages(check_polarity(model)) == [
        "link 'Drain' -> 'Level' is declared + but the equation gives -"
    ]


def test_lookups_min_max_and_zidz_are_proven_without_a_run(no_run):
    model = load(
        """\
        stocks:
          Queue: {initial: 10, inflows: [Arrivals], outflows: [Served], non_negative: true}
        flows:
          Arrivals:
            equation: Demand * Crowding effect(Queue / Capacity)
            links: {Demand: "+", Queue: "-", Capacity: "+"}
          Served:
            equation: MIN(Queue / Minimum wait, MAX(0, Capacity - Busy))
            links: {Queue: "+", Capacity: "+", Busy: "-", Minimum wait: "-"}
        auxiliaries:
          Busy:
            equation: ZIDZ(Queue, Capacity) * 3
            links: {Queue: "+", Capacity: "-"}
          Demand: 5 * (1 + STEP(0.5, 4))
        constants:
          Capacity: 8
          Minimum wait: 0.5
        lookups:
          Crowding effect: [[0, 1], [1, 0.6], [2, 0]]
        """
    )
    assert check_polarity(model) == []


def test_a_contradiction_inside_a_lookup_is_found(no_run):
    model = load(
        """\
        auxiliaries:
          Effect:
            equation: WITH LOOKUP(Pressure, ([(0,0)-(2,2)], (0, 2), (1, 1), (2, 0.5)))
            links: {Pressure: "+"}
          Pressure: {equation: Time / 10, limits: [0, null]}
        """
    )
    assert messages(check_polarity(model)) == [
        "link 'Pressure' -> 'Effect' is declared + but the equation gives -"
    ]


# ---------------------------------------------------------------- state-dependent signs


LOGISTIC = """\
stocks:
  Level: {initial: 1, inflows: [Growth], non_negative: true}
flows:
  Growth:
    equation: Rate * (Target - Level) * Level
    links: {Level: "+", Target: "+", Rate: "-"}
constants:
  Rate: 0.01
  Target: 100
"""


def test_a_sign_that_changes_during_a_run_is_mixed_with_its_times(monkeypatch):
    real = backends.get_backend
    runs = []
    monkeypatch.setattr(backends, "get_backend", lambda name: runs.append(name) or real(name))
    model = load(LOGISTIC, clock="{stop: 20, dt: 0.015625, saveper: 0.5}")
    mixed, wrong = check_polarity(model)
    assert runs == ["native"]  # one run (native by default) for both links
    assert mixed.severity is Severity.WARNING and (mixed.line, mixed.column) == (8, 13)
    found = re.fullmatch(
        r"link 'Level' -> 'Growth' is declared \+ but the equation gives "
        r"mixed: \+ from 0 to ([0-9.]+), - from \1 to 20",
        mixed.message,
    )
    assert found is not None, mixed.message
    # d Growth / d Level = Rate * (Target - 2 Level) changes sign when Level = Target / 2,
    # at t = ln(99) / (Rate * Target) for the logistic curve from Level = 1
    assert float(found.group(1)) == pytest.approx(math.log(99), abs=0.05)
    assert wrong.severity is Severity.ERROR
    assert wrong.message == (
        "link 'Rate' -> 'Growth' is declared - but the equation gives + throughout the run"
    )


def test_a_sign_switched_by_time_needs_no_run(no_run):
    model = load(
        """\
        stocks:
          Level: {initial: 1, inflows: [Flow], non_negative: true}
        flows:
          Flow:
            equation: IF THEN ELSE(Time < 15, Level, -Level)
            links: {Level: "+"}
        """
    )
    (issue,) = check_polarity(model)
    assert issue.severity is Severity.WARNING
    assert issue.message == (
        "link 'Level' -> 'Flow' is declared + but the equation gives "
        "mixed: + from 0 to 14.5, - from 14.5 to 20"
    )


def test_derivatives_are_evaluated_with_the_run_s_values(fake_run):
    model = load(
        """\
        stocks:
          Level: {initial: 0.5, inflows: [Flow]}
        flows:
          Flow:
            equation: Hump(Level) + Level * Level
            links: {Level: "+"}
        lookups:
          Hump: [[0, 0], [1, 5], [2, 0]]
        """
    )
    # Level = -2 + t/5 at t = 0, 1, ... 20. d Flow / d Level = slope of Hump + 2 Level, the
    # slope being 0 below Level 0 (held end), 5 on [0, 1) and -5 from 1 (the segment to the
    # right of a point): -0.4 at t = 9, 5 at t = 10, 6.6 at t = 14, -3 at t = 15, -1 at t = 20.
    # The ranges meet where straight lines between those saved values cross 0: at
    # 9 + 0.4/5.4 = 9.074 and 14 + 6.6/9.6 = 14.6875.
    backend = fake_run(Level=lambda t: -2 + t / 5)
    (issue,) = check_polarity(model)
    assert backend.runs == [("level",)]
    assert issue.message == (
        "link 'Level' -> 'Flow' is declared + but the equation gives "
        "mixed: - from 0 to 9.074, + from 9.074 to 14.688, - from 14.688 to 20"
    )


def test_a_failed_run_is_a_warning_not_an_exception(monkeypatch):
    def broken(name):
        raise BackendError("engine on fire")

    monkeypatch.setattr(backends, "get_backend", broken)
    (issue,) = check_polarity(load(LOGISTIC.replace(', Target: "+", Rate: "-"', "")))
    assert issue.severity is Severity.WARNING
    assert issue.message == (
        "link 'Level' -> 'Growth' is declared +; its sign depends on the state, but the run "
        "to check it failed: engine on fire"
    )


def test_without_simulation_state_dependent_links_are_not_compared(no_run):
    assert check_polarity(load(LOGISTIC), simulate=False) == []


# ----------------------------------------------------------------- links with no sign


def test_links_that_only_pick_a_branch_or_set_a_delay_time_are_warnings(no_run):
    model = load(
        """\
        auxiliaries:
          Alarm:
            equation: IF THEN ELSE(Pressure > 5, 1, 2)
            links: {Pressure: "+"}
          Perceived:
            equation: SMOOTH(Pressure, Delay)
            links: {Pressure: "+", Delay: "-"}
          Baseline:
            equation: INITIAL(Pressure) * 2
            links: {Pressure: "+"}
          Pressure: Time
        constants:
          Delay: 3
        """
    )
    issues = check_polarity(model)
    assert [(i.severity, i.line) for i in issues] == [
        (Severity.WARNING, 6),
        (Severity.WARNING, 9),
        (Severity.ERROR, 12),
    ]
    assert messages(issues) == [
        "link 'Pressure' -> 'Alarm' is declared + but the equation gives 0 "
        "(the link has no effect)",
        "link 'Delay' -> 'Perceived' is declared - but 'Delay' is only a delay time or order "
        "in 'Perceived', whose effect's sign depends on the state; it is not checked",
        "declared link 'Pressure' -> 'Baseline' has no counterpart in the equations",
    ]


# -------------------------------------------------------------- a declared diagram


def test_a_declared_diagram_is_checked_against_the_model(no_run):
    model = load(DRAIN % '"-"')
    diagram = cld_from_yaml_text(
        textwrap.dedent(
            """\
            diagram: Drain
            nodes:
              Level: stock
              Drain: flow
              Drain time: constant
              Inspector: auxiliary
            links:
              - {from: Level, to: Drain, polarity: "+"}
              - {from: Drain, to: Level, polarity: "+"}
              - {from: Drain time, to: Drain, polarity: "-"}
              - {from: Drain time, to: Level, polarity: "-"}
              - {from: Inspector, to: Drain, polarity: "-"}
              - {from: Level, to: Drain time, polarity: "?", derived: true}
            """
        )
    )
    issues = check_polarity(model, diagram)
    assert messages(issues) == [
        "link 'Drain' -> 'Level' is declared + but the equation gives -",
        "declared link 'Drain time' -> 'Level' has no counterpart in the equations",
        "declared link 'Inspector' -> 'Drain' has no counterpart in the equations "
        "('Inspector' is not a variable of the model)",
    ]
    assert all(i.severity is Severity.ERROR for i in issues)
    assert [i.variable for i in issues] == ["Level", "Level", "Drain"]


def test_a_diagram_declaring_every_derived_link_agrees_with_its_model(no_run):
    model = load_yaml(MODELS / "sir.yaml")
    derived = causal_graph(model).to_networkx()
    nx.set_edge_attributes(derived, True, "declared")
    diagram = CausalLoopDiagram(derived)
    assert len(diagram.links) == 11
    assert check_polarity(model, diagram) == []


# -------------------------------------------------------------- integration in checks


def test_check_model_reports_polarity_and_can_leave_it_out(no_run):
    model = load(DRAIN % '"+"')
    assert [i.code for i in check_model(model)] == ["polarity"]
    assert check_model(model, polarity=False) == []
    assert [i.code for i in blocking_issues(model)] == ["polarity"]


def test_blocking_issues_never_runs_the_model(no_run):
    assert blocking_issues(load(LOGISTIC)) == []


def test_a_model_with_errors_is_not_run(no_run):
    model = load(LOGISTIC.replace("Rate * (Target", "Rat * (Target").replace(', Rate: "-"', ""))
    issues = check_model(model, units=False)
    assert [i.code for i in issues] == ["unknown-name", "unused"]


def test_the_shipped_models_declare_checked_links(no_run):
    hospital = load_yaml(MODELS / "hospital_flow.yaml")
    sir = load_yaml(MODELS / "sir.yaml")
    assert sum(len(v.declared_links) for v in hospital.variables) >= 6
    assert sum(len(v.declared_links) for v in sir.variables) >= 5
    assert check_polarity(hospital) == [] and check_polarity(sir) == []


def test_every_link_of_two_hospital_loops_is_declared():
    hospital = load_yaml(MODELS / "hospital_flow.yaml")
    declared = {
        (link.source, variable.name)
        for variable in hospital.variables
        for link in variable.declared_links
    }
    implied = {
        (flow, stock.name) for stock in hospital.stocks for flow in stock.inflows + stock.outflows
    }
    loops = find_loops(causal_graph(hospital))
    covered = [
        loop.id
        for loop in loops
        if all((source, target) in declared | implied for source, target, _ in loop.links)
    ]
    assert len(covered) >= 2, covered
    assert {"B6", "B9"} <= set(covered)  # occupancy throttling; commissioning of care


# --------------------------------------------------------------------- sign ranges


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2, 3, 4], [(1, 0, 3)]),
        ([0, 0, 0, 0], []),
        ([1, 0, 0, 1], [(1, 0, 3)]),
        ([1, 0, -1, -1], [(1, 0, 0), (-1, 2, 3)]),
        ([3, -1, np.nan, -1], [(1, 0, 0.75), (-1, 0.75, 3)]),
        ([1e-20, 1, 1, -1e-20], [(1, 1, 2)]),
    ],
)
def test_sign_ranges(values, expected):
    times = np.arange(4.0)
    assert sign_ranges(times, np.array(values, dtype=float)) == expected


def test_declared_links_ignore_their_location_in_equality():
    here = SourceLocation("a.yaml", 1, 2)
    assert DeclaredLink("X", 1, here) == DeclaredLink("X", 1)
    assert DeclaredLink("X", 1) != DeclaredLink("X", -1)
    assert hash(DeclaredLink("X", 1, here)) == hash(DeclaredLink("X", 1))


@pytest.mark.parametrize(("declared", "found"), [(-1, []), (1, ["gives -"])])
def test_constants_enter_at_their_values(no_run, declared, found):
    model = Model(
        "m",
        TimeSpec(0, 4, 1),
        (
            Stock(name="S", initial=Equation.of(1), outflows=("F",), non_negative=True),
            Flow(
                name="F",
                equation=Equation(symbol("S") * symbol("k")),
                declared_links=(DeclaredLink("S", declared),),
            ),
            Constant(name="k", value=-0.5),
        ),
    )
    assert [m[-len("gives -") :] for m in messages(check_polarity(model))] == found


# ------------------------------------------------------- numeric forms of the builtins


def test_pulse_follows_vensim_s_half_step_rule_without_a_run(no_run):
    model = load(
        """\
        stocks:
          Level: {initial: 1, inflows: [Flow], non_negative: true}
        flows:
          Flow:
            equation: Level * (1 - 2 * PULSE(5, 5))
            links: {Level: "+"}
        """
    )
    # on while 5 <= t + dt/2 < 10: at the saved times 5 ... 9
    assert messages(check_polarity(model)) == [
        "link 'Level' -> 'Flow' is declared + but the equation gives "
        "mixed: + from 0 to 4.5, - from 4.5 to 9.5, + from 9.5 to 20"
    ]


def test_ramp_and_step_values_are_followed_in_time(no_run):
    model = load(
        """\
        stocks:
          Level: {initial: 1, inflows: [Flow], non_negative: true}
        flows:
          Flow:
            equation: (RAMP(Slope, 5, 10) - STEP(15, 12)) * Level
            links: {Level: "+"}
        constants:
          Slope: 2
        """
    )
    # d/dLevel: 0 up to 5, 2 (t - 5) to 10 (then 10), 10 - 15 from 12 on
    assert messages(check_polarity(model)) == [
        "link 'Level' -> 'Flow' is declared + but the equation gives "
        "mixed: + from 6 to 11.667, - from 11.667 to 20"
    ]


def test_zero_divisors_and_exact_zeros_are_no_sign(fake_run):
    model = load(
        """\
        stocks:
          Level: {initial: 1, inflows: [Flow], non_negative: true}
        flows:
          Flow:
            equation: XIDZ(Level, Gap, 7)
            links: {Level: "+", Gap: "-"}
        auxiliaries:
          Gap: Time - 10
        """
    )
    backend = fake_run(Level=lambda t: 1 + t, Gap=lambda t: t - 10)
    (issue,) = check_polarity(model)
    assert backend.runs == [("gap", "level")]  # one run serves both links
    # d/dLevel = 1/Gap, and 0 where XIDZ takes its fallback (Gap = 0 at t = 10);
    # d/dGap = -Level/Gap^2 < 0 wherever it is not 0: no issue
    assert issue.message == (
        "link 'Level' -> 'Flow' is declared + but the equation gives "
        "mixed: - from 0 to 9, + from 11 to 20"
    )


def test_the_run_uses_the_backend_asked_for(monkeypatch):
    asked = []
    backend = FakeBackend({"Level": lambda t: 1 + t})
    monkeypatch.setattr(backends, "get_backend", lambda name: asked.append(name) or backend)
    model = load(LOGISTIC.replace(', Target: "+", Rate: "-"', ""))
    # Level = 1 + t: d/dLevel = Rate * (Target - 2 Level) > 0 while Level < 50, all run long
    assert check_polarity(model, backend="native") == []
    assert asked == ["native"] and backend.runs == [("level",)]


def test_a_zero_divisor_constant_does_not_crash_the_polarity_check(tmp_path):
    """A constant set to 0 that divides (zoo for sympy) leaves the sign unknown: check
    reports the divisor, and the declared links, without a TypeError (found by the fuzz suite)."""
    import sdhealth as sd

    path = tmp_path / "m.yaml"
    path.write_text(
        "model: M\ntime: {stop: 4, dt: 1}\n"
        "stocks:\n  Waiting: {initial: 10, outflows: [Placed]}\n"
        "flows:\n  Placed:\n    equation: MIN(Waiting / Delay, Places / Delay)\n"
        "    links: {Waiting: +, Places: +}\n"
        "constants:\n  Delay: 0\n  Places: 5\n"
    )
    issues = sd.check(path)
    assert any(i.code == "divisor-zero" and i.variable == "Placed" for i in issues)


def test_a_model_loaded_again_gets_the_same_findings_from_the_remembered_signs(models_dir) -> None:
    """bounded_sign remembers sympy's answers per expression and the bounds of its symbols: a
    second load of the same file (new objects, equal expressions) gets the findings the first
    check gave, and the same expression under other bounds gets its own answer."""
    import sympy

    from sdhealth.cld.derivatives import bounded_sign, nonnegative_under

    first = check_model(load_yaml(models_dir / "nhs_england.yaml"))
    again = check_model(load_yaml(models_dir / "nhs_england.yaml"))
    assert [str(i) for i in again] == [str(i) for i in first]
    x = sympy.Symbol("x", real=True)
    positive = {x: sympy.Symbol("x", positive=True)}
    assert bounded_sign(2 * x, positive) == 1 and bounded_sign(2 * x, {}) is None
    assert bounded_sign(-x, positive) == -1 and bounded_sign(x - x, positive) == 0
    assert nonnegative_under(x**2 + x, positive) and not nonnegative_under(x - 1, positive)
