"""Every model file shipped in ``models/`` loads and checks (issue 12, point 2).

``models/<name>/`` folders hold scenarios, sweeps, experiments and data for a model, not
models, so only the files directly in ``models/`` are models. A causal-loop diagram among
them is recognised by its content and compiled, with a warning.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest

import sdhealth as sd
from sdhealth.cli import main

MODELS = Path(__file__).parents[2] / "models"
SHIPPED = sorted(p for p in MODELS.iterdir() if p.suffix in {".yaml", ".mdl"})


def test_the_shipped_models_are_found():
    assert {"discharge_delay_cld.yaml", "nhs_england.yaml", "nhs_england.mdl"} <= {
        p.name for p in SHIPPED
    }


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_model_loads_and_checks(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sd.load(path)
        issues = sd.check(path)
        status = main(["check", str(path)], out=io.StringIO(), err=io.StringIO())
    assert model.ir.variables
    assert not [i for i in issues if i.is_error]
    assert status in (0, 1)
    if status == 1:  # warnings only
        assert issues and not any(i.is_error for i in issues)


def test_a_causal_loop_diagram_file_loads_compiled_with_a_warning():
    with pytest.warns(Warning, match="causal-loop diagram"):
        model = sd.load(MODELS / "discharge_delay_cld.yaml")
    assert len(model.run(stop=2)) > 1
