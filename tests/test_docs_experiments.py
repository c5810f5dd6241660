"""The examples of docs/montecarlo-sensitivity.md run and print what the page says."""

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
