"""Loops That Matter: scores with analytic answers, invariances, delays and the NHS model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd
from sdhealth.analysis.dominance import loop_dominance
from sdhealth.errors import ModelError

MODELS = Path(__file__).resolve().parents[2] / "models"

LOGISTIC = """\
model: Logistic growth
time: {start: 0, stop: 40, dt: 0.125}
stocks:
  Population: {initial: 10, inflows: [Births], outflows: [Deaths]}
flows:
  Births: Growth rate * Population
  Deaths: Growth rate * Population * Population / Capacity
constants:
  Growth rate: 0.3
  Capacity: 1000
"""


def _load(tmp_path: Path, text: str, name: str = "m.yaml") -> sd.Model:
    path = tmp_path / name
    path.write_text(text)
    return sd.load(path)


@pytest.fixture
def logistic(tmp_path) -> sd.Model:
    return _load(tmp_path, LOGISTIC)


def _by_kind(result, kind: str) -> str:
    [loop_id] = [loop.id for loop in result.loops if loop.kind == kind]
    return loop_id


def test_an_isolated_loop_scores_minus_one(models_dir) -> None:
    result = loop_dominance(sd.load(models_dir / "teacup.yaml"))
    assert [loop.id for loop in result.loops] == ["B1"]
    np.testing.assert_allclose(result.relative["B1"].iloc[1:], -1.0)
    assert np.isnan(result.relative["B1"].iloc[0])  # nothing has changed at the first time


def test_logistic_growth_shifts_from_the_reinforcing_to_the_balancing_loop(logistic) -> None:
    """Births rP (R) against deaths rP^2/K (B): the R loop's share is exactly
    1 / (1 + (P(t) + P(t - dt)) / K), so dominance shifts where P passes K / 2."""
    result = loop_dominance(logistic)
    growth, limit = _by_kind(result, "R"), _by_kind(result, "B")
    population = logistic.run(saveper=0.125)["Population"].to_numpy()
    expected = 1 / (1 + (population[1:] + population[:-1]) / 1000)
    np.testing.assert_allclose(result.relative[growth].to_numpy()[1:], expected, rtol=1e-9)
    np.testing.assert_allclose(
        result.relative[limit].to_numpy()[1:], expected - 1, rtol=1e-9, atol=1e-12
    )
    half = result.relative.index[np.argmax(population > 500)]
    assert result.dominant(0, half - 1) == [growth]
    assert result.dominant(half + 1, 40) == [limit]


def test_scores_obey_the_chain_rule_and_ignore_how_flows_are_split(tmp_path, logistic) -> None:
    """An extra auxiliary on a loop, or one net flow instead of two, changes no loop score."""
    split = loop_dominance(logistic)
    chained_text = LOGISTIC.replace(
        "Births: Growth rate * Population", "Births: Growth rate * Counted population"
    )
    chained = loop_dominance(
        _load(tmp_path, chained_text + "auxiliaries:\n  Counted population: Population\n", "c.yaml")
    )
    net = loop_dominance(_load(tmp_path, """\
model: Logistic growth, one net flow
time: {start: 0, stop: 40, dt: 0.125}
stocks:
  Population: {initial: 10, inflows: [Net growth], outflows: []}
flows:
  Net growth: Births - Deaths
auxiliaries:
  Births: Growth rate * Population
  Deaths: Growth rate * Population * Population / Capacity
constants:
  Growth rate: 0.3
  Capacity: 1000
""", "net.yaml"))  # fmt: skip
    for other in (chained, net):
        for kind in ("R", "B"):
            np.testing.assert_allclose(
                other.scores[_by_kind(other, kind)].to_numpy()[1:],
                split.scores[_by_kind(split, kind)].to_numpy()[1:],
                rtol=1e-9,
            )


SMOOTHED = """\
model: Goal seeking through a perception delay
time: {start: 0, stop: 30, dt: 0.0625}
stocks:
  Level: {initial: 0, inflows: [Adjustment], outflows: []}
flows:
  Adjustment: (Goal - Perceived level) / Adjustment time
auxiliaries:
  Perceived level: SMOOTH(Level, Perception time)
constants:
  Goal: 100
  Adjustment time: 4
  Perception time: 2
"""


def test_a_link_through_a_smooth_scores_as_the_explicit_stock_would(tmp_path) -> None:
    hidden = loop_dominance(_load(tmp_path, SMOOTHED, "smooth.yaml"))
    explicit = loop_dominance(_load(tmp_path, SMOOTHED.replace(
        "auxiliaries:\n  Perceived level: SMOOTH(Level, Perception time)\n",
        "  Perceiving: (Level - Perceived level) / Perception time\n",
    ).replace(
        "stocks:\n",
        "stocks:\n  Perceived level: {initial: Level, inflows: [Perceiving], outflows: []}\n",
    ), "explicit.yaml"))  # fmt: skip
    [main] = [loop for loop in hidden.loops if "Level" in loop.variables]
    [same] = [loop for loop in explicit.loops if {"Level", "Adjustment"} <= set(loop.variables)]
    assert main.kind == same.kind == "B"
    np.testing.assert_allclose(
        hidden.scores[main.id].to_numpy()[2:], explicit.scores[same.id].to_numpy()[2:], rtol=1e-9
    )
    assert hidden.links["Level -> Perceived level"].notna().all()


def test_the_nhs_model_scores_every_loop_and_names_the_briefs(models_dir) -> None:
    model = sd.load(models_dir / "nhs_england.yaml")
    result = loop_dominance(model, stop=24)
    assert len(result.loops) == len(model.loops())
    assert not result.scores.iloc[1:].isna().any().any()  # every link has a numeric form
    assert ((result.relative.abs() <= 1 + 1e-12) | result.relative.isna()).all().all()
    totals = result.relative.iloc[1:].abs().sum(axis=1)
    np.testing.assert_allclose(totals[totals > 0], 1.0)  # one cycle partition
    assert set(result.names.values()) >= {"B1 Elective throttling", "R3 Burnout and attrition"}
    table = result.table(12)
    assert list(table["from"].unique()) == [0.0, 12.0]
    assert (table.groupby("from")["rank"].max() == 3).all()


def test_subscripted_models_and_foreign_loops_are_refused(tmp_path, models_dir) -> None:
    arrayed = _load(tmp_path, """\
model: Arrayed
time: {start: 0, stop: 2, dt: 1}
subscripts:
  Region: [North, South]
stocks:
  Level:
    dims: [Region]
    definitions: ["Level[Region] = INTEG(Inflow[Region], 1)"]
flows:
  Inflow:
    dims: [Region]
    definitions: ["Inflow[Region] = Level[Region] * 0.1"]
""", "arrayed.yaml")  # fmt: skip
    with pytest.raises(ModelError, match="without subscripts"):
        loop_dominance(arrayed)
    sir = sd.load(models_dir / "sir.yaml")
    teacup_loops = sd.load(models_dir / "teacup.yaml").loops()
    with pytest.raises(ModelError, match="is not a link of"):
        loop_dominance(sir, teacup_loops)
