"""Shared fixtures: paths to the model library and to the public SDXorg test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def shared_test_models() -> Path:
    """The SDXorg test-models checkout: ``$SDHEALTH_TEST_MODELS`` or ``../shared/test-models``."""
    return Path(os.environ.get("SDHEALTH_TEST_MODELS", ROOT.parent / "shared" / "test-models"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-long",
        action="store_true",
        help="run the fuzz suite (tests/fuzz) with its long, randomised budget",
    )


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS


@pytest.fixture(scope="session")
def test_models_dir() -> Path:
    path = shared_test_models()
    if not (path / "tests").is_dir():
        pytest.skip(f"SDXorg test-models not found at {path} (set SDHEALTH_TEST_MODELS)")
    return path / "tests"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep translation caches of the test run out of the user's home."""
    if "SDHEALTH_CACHE_DIR" not in os.environ:
        os.environ["SDHEALTH_CACHE_DIR"] = str(tmp_path_factory.mktemp("sdhealth-cache"))


@pytest.fixture
def ctrl_c_at_chunk(monkeypatch: pytest.MonkeyPatch):
    """``ctrl_c_at_chunk(n)``: the n-th chunk of runs of any sweep raises KeyboardInterrupt.

    Returns the list of chunks started so far (the n-th included), as Ctrl-C during a long
    experiment would leave them.
    """
    from sdhealth.experiments import batch

    def install(n: int) -> list:
        real, started = batch.run_chunk, []

        def run_or_interrupt(chunk):
            started.append(chunk)
            if len(started) == n:
                raise KeyboardInterrupt
            return real(chunk)

        monkeypatch.setattr(batch, "run_chunk", run_or_interrupt)
        return started

    return install
