"""The examples of the docs pages run and print what the pages say."""

from __future__ import annotations

import doctest
from pathlib import Path

import matplotlib

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "montecarlo-sensitivity.md"


def test_the_page_examples_run(monkeypatch) -> None:
    matplotlib.use("Agg")
    monkeypatch.chdir(ROOT)  # the examples load models/... relative to the repository
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failed, attempted = doctest.testfile(
        str(PAGE), module_relative=False, optionflags=flags, report=True, verbose=False
    )
    assert attempted >= 20
    assert failed == 0


def test_the_loop_dominance_page_examples_run(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failed, attempted = doctest.testfile(
        str(ROOT / "docs" / "loop-dominance.md"),
        module_relative=False, optionflags=flags, report=True, verbose=False,
    )  # fmt: skip
    assert attempted >= 6
    assert failed == 0
