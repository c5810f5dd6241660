"""The NHS England model's Vensim export: up to date, and the same model when read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import sdhealth as sd

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_exported_mdl_is_up_to_date(tmp_path):
    fresh = tmp_path / "nhs_england.mdl"
    sd.load(MODELS / "nhs_england.yaml").to_mdl(fresh)
    assert fresh.read_text() == (MODELS / "nhs_england.mdl").read_text(), (
        "regenerate with: sdhealth convert models/nhs_england.yaml models/nhs_england.mdl"
    )


def test_mdl_reads_back_as_the_same_model():
    yaml_model = sd.load(MODELS / "nhs_england.yaml")
    mdl_model = sd.load(MODELS / "nhs_england.mdl")
    assert sorted(yaml_model.ir.names) == sorted(mdl_model.ir.names)
    a, b = yaml_model.run(stop=24), mdl_model.run(stop=24)
    assert set(a.columns) == set(b.columns)
    np.testing.assert_allclose(b[a.columns].to_numpy(), a.to_numpy(), rtol=1e-9, atol=1e-9)
