"""Equations folded over lines by a YAML writer load as written (issue 12, point 2)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import sdhealth as sd
from sdhealth.io.yaml import model_from_yaml_text, model_to_yaml_text
from sdhealth.ir.model import Model

MODELS = sorted(Path(__file__).parents[2].joinpath("models").glob("*.yaml"))


def _equations(model: Model) -> dict[tuple[str, int], tuple[object, str]]:
    """Every equation by (variable, index): its expression and its words."""
    return {
        (v.name, index): (e.expr, " ".join((e.text or "").split()))
        for v in model.variables
        for index, e in enumerate(v.equations())
    }


def _ruamel_resaved(path: Path) -> str:
    yaml = YAML()  # round-trip mode, default width (80 columns)
    stream = io.StringIO()
    yaml.dump(yaml.load(path.read_text(encoding="utf-8")), stream)
    return stream.getvalue()


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_models_resaved_by_ruamel_load_with_the_same_equations(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a causal-loop diagram is compiled, with a warning
        original = sd.load(path).ir
        resaved = model_from_yaml_text(_ruamel_resaved(path), path=str(path))
    assert resaved.names == original.names
    assert _equations(resaved) == _equations(original)
    assert [v.declared_links for v in resaved.variables] == [
        v.declared_links for v in original.variables
    ]


def test_some_shipped_models_really_are_folded_by_ruamel():
    folded = [p for p in MODELS if "\n      " in _ruamel_resaved(p).replace("\n      -", "")]
    assert len(folded) >= 6  # otherwise the round trip above tests nothing


def test_a_name_folded_over_two_lines_reads_as_one_name_located_exactly():
    text = (
        "model: M\ntime: {stop: 10, dt: 1}\nauxiliaries:\n"
        "  A:\n    equation: Surge size * PULSE(Surge start, Surge\n      duration)\n"
        "    links: {Surge size: +, Surge\n      duration: +}\n"
        "constants:\n  Surge size: 1\n  Surge start: 2\n  Surge duration: 3\n"
    )
    model = model_from_yaml_text(text, path="m.yaml")
    equation = model["A"].equation
    assert equation.free_keys == {"surge size", "surge start", "surge duration"}
    assert [link.source for link in model["A"].declared_links] == ["Surge size", "Surge duration"]
    where = equation.location_of("surge duration")
    assert (where.line, where.column) == (5, 47)  # the 'Surge' that begins the name


def _long_model() -> Model:
    """A model with names over 60 characters and an equation over 200, read from YAML."""
    long_name = "Patients waiting more than fifty two weeks for elective treatment in England"
    names = [f"{long_name} {i}" for i in range(6)]
    text = " + ".join(f"{n} * (1 + {n} / {names[0]})" for n in names)
    assert len(text) > 200
    links = ", ".join(f"{n}: +" for n in names[1:])
    return model_from_yaml_text(
        "model: Long\ntime: {stop: 1, dt: 1}\n"
        f"stocks:\n  {long_name}: {{initial: 3, inflows: [{long_name} in]}}\n"
        f"flows:\n  {long_name} in: {{equation: {text}, links: {{{links}}}}}\n"
        "constants:\n" + "".join(f"  {n}: {i + 1}\n" for i, n in enumerate(names))
    )


@pytest.mark.parametrize("width", [80, 4096])
def test_what_the_writer_writes_loads_back_unchanged_whatever_the_width(width, monkeypatch):
    from sdhealth.io import yaml_writer

    model = _long_model()
    original = yaml_writer._yaml_writer

    def narrow() -> YAML:
        yaml = original()
        if width != 4096:
            yaml.width = width
        return yaml

    monkeypatch.setattr(yaml_writer, "_yaml_writer", narrow)
    again = model_from_yaml_text(model_to_yaml_text(model))
    assert again.names == model.names
    assert _equations(again) == _equations(model)
    if width == 4096:  # the writer as it is: not a character changes
        assert [v.equations()[0].text for v in again.variables if v.equations()] == [
            v.equations()[0].text for v in model.variables if v.equations()
        ]
        assert [v.declared_links for v in again.variables] == [
            v.declared_links for v in model.variables
        ]


def test_the_writer_never_wraps_a_line():
    text = model_to_yaml_text(_long_model())
    assert max(len(line) for line in text.splitlines()) > 400


def test_text_read_from_a_folded_equation_is_written_back_the_same():
    resaved = _ruamel_resaved(MODELS[[p.name for p in MODELS].index("homer_burnout.yaml")])
    model = model_from_yaml_text(resaved)
    again = model_from_yaml_text(model_to_yaml_text(model))
    assert _equations(again) == _equations(model)
    assert [v.equations()[0].text for v in again.variables if v.equations()] == [
        v.equations()[0].text for v in model.variables if v.equations()
    ]
