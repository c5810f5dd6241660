"""The ``report:`` section of a model file: key indicators, interval and named loops."""

from __future__ import annotations

import pytest

from sdhealth.errors import ModelSyntaxError
from sdhealth.io.yaml import model_from_yaml_text, model_to_yaml_text
from sdhealth.ir.model import Report

BASE = """\
model: Decay
time: {stop: 24, dt: 1}
stocks:
  Level: {initial: 100, outflows: [Drain]}
flows:
  Drain: Level / Drain time
constants:
  Drain time: 4
"""


def test_report_is_read_with_display_names():
    model = model_from_yaml_text(
        BASE + "report:\n  indicators: [level, Drain]\n  every: 6\n"
        "  loops:\n    B1 Draining: [LEVEL, drain]\n"
    )
    assert model.report == Report(
        indicators=("Level", "Drain"), every=6.0, loops=(("B1 Draining", ("Level", "Drain")),)
    )


def test_report_round_trips_through_yaml():
    model = model_from_yaml_text(
        BASE + "report:\n  indicators: [Level]\n  every: 6\n"
        "  loops:\n    B1 Draining: [Level, Drain]\n"
    )
    again = model_from_yaml_text(model_to_yaml_text(model))
    assert again.report == model.report


def test_no_report_means_the_default():
    assert model_from_yaml_text(BASE).report == Report()
    assert "report" not in model_to_yaml_text(model_from_yaml_text(BASE))


@pytest.mark.parametrize(
    "section, line, col, message",
    [
        (
            "report:\n  indicators: [Levle]\n",
            10,
            16,
            "unknown indicator 'Levle' (did you mean 'Level'?)",
        ),
        ("report:\n  every: 0\n", 10, 10, "'every' must be positive"),
        ("report:\n  evry: 3\n", 10, 3, "unknown key 'evry' in 'report' (did you mean 'every'?)"),
        ("report:\n  indicators: Level\n", 10, 15, "'indicators' must be a list of variable names"),
        ("report:\n  loops:\n    B1: [Level, Drane]\n", 11, 17, "unknown variable 'Drane'"),
    ],
)
def test_report_errors_point_at_the_value(section, line, col, message):
    with pytest.raises(ModelSyntaxError) as info:
        model_from_yaml_text(BASE + section, path="m.yaml")
    assert message in info.value.message
    assert (info.value.line, info.value.column) == (line, col)
