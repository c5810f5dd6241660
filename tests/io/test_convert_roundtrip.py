"""``sdhealth convert`` yaml -> mdl -> yaml loses nothing (issue 12, point 1).

The ``.mdl`` file keeps what Vensim has no place for (the model's name and description,
sectors, report, exact equation texts ...) in a ``.sdhealth`` group that Vensim and PySD
read as a heading and otherwise ignore.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest

import sdhealth as sd
from sdhealth.cli import main
from sdhealth.io.mdl_text import metadata_of
from sdhealth.ir.model import Model

MODELS = Path(__file__).parents[2] / "models"
STOCK_AND_FLOW = sorted(  # a causal-loop diagram names a "diagram:", not a "model:"
    p for p in MODELS.glob("*.yaml") if not p.read_text(encoding="utf-8").startswith("diagram:")
)


def _convert(source: Path, target: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["convert", str(source), str(target)], out=io.StringIO()) == 0


def _summary(model: Model) -> dict[str, object]:
    """What a lossless round trip keeps, in comparable form."""
    return {
        "name": model.name,
        "doc": model.doc,
        "sectors": model.sectors,
        "report": model.report,
        "names": model.names,
        "kinds": [type(v).__name__ for v in model.variables],
        "texts": {
            v.name: [" ".join((e.text or str(e.expr)).split()) for e in v.equations()]
            for v in model.variables
        },
        "units": {v.name: v.units for v in model.variables},
        "docs": {v.name: v.doc for v in model.variables},
        "sector of": {v.name: v.sector for v in model.variables},
        "links": {v.name: v.declared_links for v in model.variables},
        "time": model.time,
    }


@pytest.mark.parametrize("path", STOCK_AND_FLOW, ids=lambda p: p.name)
def test_yaml_to_mdl_to_yaml_keeps_everything(path, tmp_path):
    mdl, back = tmp_path / f"{path.stem}.mdl", tmp_path / f"{path.stem}.yaml"
    _convert(path, mdl)
    _convert(mdl, back)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original, again = sd.load(path).ir, sd.load(back).ir
    assert _summary(again) == _summary(original)


def test_the_mdl_file_holds_the_metadata_group(tmp_path):
    mdl = tmp_path / "teacup.mdl"
    _convert(MODELS / "teacup.yaml", mdl)
    metadata = metadata_of(mdl.read_text(encoding="utf-8"))
    assert metadata["model"] == sd.load(MODELS / "teacup.yaml").ir.name


def test_pysd_ignores_the_metadata_group(tmp_path):
    mdl = tmp_path / "teacup.mdl"
    _convert(MODELS / "teacup.yaml", mdl)
    model = sd.load(mdl)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_pysd = model.run(backend="pysd")
        native = sd.load(MODELS / "teacup.yaml").run(backend="native")
    assert list(by_pysd.columns) == list(native.columns)
    assert by_pysd.to_numpy() == pytest.approx(native.to_numpy(), rel=1e-9)


def test_pysd_reads_the_written_file_itself(tmp_path):
    """PySD's own translator, not sdhealth's reader, sees the group only as a heading."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pysd

        mdl = tmp_path / "teacup.mdl"
        _convert(MODELS / "teacup.yaml", mdl)
        result = pysd.read_vensim(str(mdl)).run()
    assert len(result) > 1


def test_a_metadata_group_edited_into_nonsense_is_ignored(tmp_path):
    mdl = tmp_path / "teacup.mdl"
    _convert(MODELS / "teacup.yaml", mdl)
    text = mdl.read_text(encoding="utf-8")
    start = text.index(".sdhealth")
    broken = text[:start] + text[start:].replace('"model"', "model", 1)
    mdl.write_text(broken, encoding="utf-8")
    assert metadata_of(broken) == {}
    assert sd.load(mdl).ir.name == "teacup"
