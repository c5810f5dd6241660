"""Analyses remembered on disk (analysis/stored.py): same answers, computed once per model."""

from __future__ import annotations

from pathlib import Path

import pytest

import sdhealth as sd
from sdhealth.analysis import stored
from sdhealth.analysis.stored import remembered
from sdhealth.ir import Constant, Equation, Model, Stock

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SDHEALTH_CACHE_DIR", str(folder))
    return folder


def _model(rate: float) -> Model:
    return Model(
        "m",
        variables=(
            Stock(name="Level", initial=Equation.of(10)),
            Constant(name="Rate", value=rate),
        ),
    )


def test_a_result_is_computed_once_per_model(cache: Path) -> None:
    calls: list[float] = []

    def compute(rate: float) -> dict[str, float]:
        calls.append(rate)
        return {"twice": 2 * rate}

    assert remembered("demo", _model(0.5), lambda: compute(0.5)) == {"twice": 1.0}
    assert remembered("demo", _model(0.5), lambda: compute(0.5)) == {"twice": 1.0}
    assert calls == [0.5]  # the second answer came from the file
    assert remembered("demo", _model(0.25), lambda: compute(0.25)) == {"twice": 0.5}
    assert calls == [0.5, 0.25]  # another model, another file
    assert len(list((cache / "analysis").glob("demo-*.pickle"))) == 2


def test_an_unreadable_file_is_computed_again_and_replaced(cache: Path) -> None:
    remembered("demo", _model(1.0), lambda: 1)
    [path] = (cache / "analysis").glob("demo-*.pickle")
    path.write_bytes(b"not a pickle")
    assert remembered("demo", _model(1.0), lambda: 2) == 2
    assert remembered("demo", _model(1.0), lambda: 3) == 2


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("SDHEALTH_CACHE_DIR", str(blocker))
    assert remembered("demo", _model(1.0), lambda: 4) == 4


def test_changed_code_does_not_answer_from_an_older_version(cache: Path, monkeypatch) -> None:
    remembered("demo", _model(1.0), lambda: "old")
    monkeypatch.setattr(stored, "code_version", lambda: b"another version")
    assert remembered("demo", _model(1.0), lambda: "new") == "new"


def test_a_model_loaded_again_gets_its_checks_and_loops_from_disk(cache: Path, monkeypatch):
    path = ROOT / "models" / "nhs_england.yaml"
    first = sd.load(path)
    loops, issues, blocking = first.loops(), first.check(), first._blocking

    def fail(*args, **kwargs):
        raise AssertionError("computed again")

    import sdhealth.model as facade

    monkeypatch.setattr(facade, "check_model", fail)
    monkeypatch.setattr(facade, "blocking_issues", fail)
    monkeypatch.setattr(facade.CausalLoopDiagram, "from_model", fail)
    again = sd.load(path)
    assert [(loop.id, loop.polarity, loop.variables) for loop in again.loops()] == [
        (loop.id, loop.polarity, loop.variables) for loop in loops
    ]
    assert again.check() == issues and again._blocking == blocking
    assert len(again.loops(through="Nurse FTE")) < len(loops)  # other questions: computed


def test_a_model_that_reads_files_is_never_remembered(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.mdl"
    (tmp_path / "inputs.csv").write_text("x,1\n")
    path.write_text(
        "{UTF-8}\nk = GET DIRECT CONSTANTS('inputs.csv', ',', 'B1') ~ ~ |\n"
        "INITIAL TIME = 0 ~ ~ |\nFINAL TIME = 1 ~ ~ |\nTIME STEP = 1 ~ ~ |\n"
        "SAVEPER = 1 ~ ~ |\n",
        encoding="utf-8",
    )
    model = sd.load(path).ir
    calls: list[int] = []
    for _ in range(2):
        remembered("demo", model, lambda: calls.append(1))
    assert calls == [1, 1]
    assert not (cache / "analysis").exists()


def test_the_folder_is_kept_under_its_size_limit(cache: Path, monkeypatch) -> None:
    import os

    monkeypatch.setattr(stored, "MAX_BYTES", 25_000)
    for rate in range(6):
        remembered("demo", _model(float(rate)), lambda: b"x" * 10_000)
        [newest] = sorted((cache / "analysis").glob("*.pickle"), key=os.path.getmtime)[-1:]
        os.utime(newest, (rate, rate))  # written in this order, a second apart
    kept = sorted((cache / "analysis").glob("*.pickle"))
    assert len(kept) == 2  # two of about 10 kB each fit under 25 kB
    assert remembered("demo", _model(5.0), lambda: b"recomputed") == b"x" * 10_000  # newest
    assert remembered("demo", _model(0.0), lambda: b"recomputed") == b"recomputed"  # pruned


def test_a_model_as_read_is_keyed_by_its_file_not_by_a_walk_of_it(
    cache: Path, tmp_path: Path, monkeypatch
) -> None:
    import dataclasses

    source = (ROOT / "models" / "teacup.yaml").read_text()
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(source)
    second.write_text(source)
    model = sd.load(first).ir
    assert len(model.source_digest) == 64
    assert sd.load(first).ir.source_digest == model.source_digest  # same file, same digest
    assert sd.load(second).ir.source_digest != model.source_digest  # its path is in messages
    changed = dataclasses.replace(model, name="changed")
    assert changed.source_digest == ""  # a derived model is keyed by its content
    walked: list[int] = []
    content = stored._content
    monkeypatch.setattr(stored, "_content", lambda m: walked.append(1) or content(m))
    assert remembered("demo", model, lambda: 1) == 1
    assert remembered("demo", sd.load(first).ir, lambda: 2) == 1
    assert walked == []  # the file's digest stood for the content
    assert remembered("demo", changed, lambda: 3) == 3 and walked == [1]
    first.write_text(source.replace("value: 10\n", "value: 11\n"))
    edited = sd.load(first).ir
    assert edited.source_digest != model.source_digest
    assert remembered("demo", edited, lambda: 4) == 4
