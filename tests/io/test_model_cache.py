"""A model read again from an unchanged file comes from the model cache (issue 28, point 5:
"a fresh process reuses the on-disk cache"), equal to the model read from the file and
running the same; anything else about the file means it is read again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd
from sdhealth.io import caches
from sdxorg import VENSIM, XMILE, suite_models, suite_outcomes

MODELS = Path(__file__).parents[2] / "models"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SDHEALTH_CACHE_DIR", str(folder))
    return folder / "models"


def _load(path: Path) -> sd.Model:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sd.load(path)


def _reads(monkeypatch) -> list[Path]:
    """Paths the model readers are asked to read from now on."""
    from sdhealth import io

    calls: list[Path] = []
    for suffix, reader in list(io.READERS.items()):

        def counting(path, *args, _reader=reader):
            calls.append(path)
            return _reader(path, *args)

        monkeypatch.setitem(io.READERS, suffix, counting)
    return calls


SHIPPED = [
    *sorted(p for p in MODELS.glob("*.yaml") if not p.read_text().startswith("diagram:")),
    MODELS / "nhs_england.mdl",
]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_model_read_again_comes_from_the_cache(path, cache, monkeypatch):
    first = _load(path)
    assert len(list(cache.glob("*.pickle"))) == 1
    reads = _reads(monkeypatch)
    again = _load(path)
    assert reads == []  # not parsed again
    assert again.ir == first.ir and again.ir.source_digest == first.ir.source_digest
    np.testing.assert_array_equal(again.run().to_numpy(), first.run().to_numpy())


def test_an_edited_file_is_read_again(cache, tmp_path, monkeypatch):
    model = tmp_path / "teacup.yaml"
    shutil.copy(MODELS / "teacup.yaml", model)
    before = _load(model)
    text = model.read_text()
    model.write_text(text.replace("value: 70", "value: 75"))
    reads = _reads(monkeypatch)
    after = _load(model)
    assert reads == [model]
    assert after.ir != before.ir
    assert len(list(cache.glob("*.pickle"))) == 2


def test_a_moved_file_is_another_model(cache, tmp_path, monkeypatch):
    """Locations in errors name the file: a copy elsewhere is read from its own place."""
    first, second = tmp_path / "a" / "teacup.yaml", tmp_path / "b" / "teacup.yaml"
    for target in (first, second):
        target.parent.mkdir()
        shutil.copy(MODELS / "teacup.yaml", target)
    _load(first)
    reads = _reads(monkeypatch)
    moved = _load(second)
    assert reads == [second]
    assert all(v.location is None or v.location.path == str(second) for v in moved.ir.variables)


def test_a_damaged_cache_file_is_read_again_and_replaced(cache, monkeypatch):
    first = _load(MODELS / "sir.yaml")
    (stored,) = cache.glob("*.pickle")
    stored.write_bytes(b"not a pickle")
    reads = _reads(monkeypatch)
    again = _load(MODELS / "sir.yaml")
    assert reads == [MODELS / "sir.yaml"] and again.ir == first.ir
    assert stored.read_bytes() != b"not a pickle"


def test_a_model_that_reads_other_files_is_never_remembered(cache, tmp_path):
    model = tmp_path / "m.mdl"
    model.write_text(
        '{UTF-8}\nx = GET DIRECT CONSTANTS("data.csv", ",", "B2") ~~|\n'
        "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"
    )
    (tmp_path / "data.csv").write_text("a,1\nb,2\n")
    try:
        _load(model)
    except Exception:  # whether or not it reads: what matters is that nothing is stored
        pass
    assert not cache.exists() or not list(cache.glob("*.pickle"))


def test_another_process_reads_the_model_from_the_cache(cache, tmp_path):
    script = (
        "import sdhealth as sd, sdhealth.io as io\n"
        "io.READERS['.yaml'] = lambda *a: (_ for _ in ()).throw(AssertionError('parsed'))\n"
        f"print(sd.load({str(MODELS / 'hospital_flow.yaml')!r}).run().iloc[-1].sum())\n"
    )
    expected = _load(MODELS / "hospital_flow.yaml").run().iloc[-1].sum()
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert float(done.stdout) == pytest.approx(expected, rel=1e-12)


def _suite_cases() -> list[object]:
    return [pytest.param(r, id=r) for r in suite_models(VENSIM) + suite_models(XMILE)]


@pytest.mark.parametrize("relative", _suite_cases())
def test_every_suite_model_survives_the_cache(relative, test_models_dir):
    """The cache's unevaluated unpickling gives equal models that run the same, on every
    SDXorg model sdhealth reads (checked in the suite's shared pass)."""
    outcome = suite_outcomes()[relative]
    if outcome.remembered == "not imported":
        pytest.skip(f"does not import: {outcome.pysd}")
    assert outcome.remembered is None, outcome.remembered


def test_the_cache_folder_is_kept_under_its_limit(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    for index in range(5):
        (folder / f"{index}.pickle").write_bytes(b"x" * 100)
        os.utime(folder / f"{index}.pickle", (1000 + index, 1000 + index))
    caches.prune(folder, 250)
    assert sorted(p.name for p in folder.glob("*.pickle")) == ["3.pickle", "4.pickle"]


def test_a_model_from_the_cache_gives_the_warnings_its_reading_gave(cache):
    path = MODELS / "discharge_delay_cld.yaml"
    for _ in range(2):  # read, then remembered: the same warning both times
        with pytest.warns(Warning, match="causal-loop diagram"):
            sd.load(path)
    assert len(list(cache.glob("*.pickle"))) == 1
