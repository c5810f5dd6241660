"""Budgets of the fuzz suite, and the outcome table printed at the end of the session.

- CI (default): fixed seeds (``derandomize``), no example database, a small number of cases;
  the whole folder runs in well under a minute.
- Long: ``pytest tests/fuzz --fuzz-long`` or ``SDHEALTH_FUZZ_LONG=1`` runs 10,000+ cases,
  randomised with a seed that is printed (``SDHEALTH_FUZZ_SEED=<n>`` replays it).

``SDHEALTH_FUZZ_REPORT=counts.json`` also writes the counts and the failures as JSON.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from harness import TALLY
from hypothesis import HealthCheck, given, seed, settings


@dataclass(frozen=True)
class Budget:
    """How many cases each fuzz test runs, and hypothesis's settings for them."""

    long: bool
    seed: int | None

    def given(self, ci: int, long: int, *strategies: Any) -> Callable[[Callable], Callable]:
        """``@given(*strategies)`` with ``ci`` cases (fixed seed) or ``long`` cases (seeded)."""

        def decorate(function: Callable) -> Callable:
            configured = settings(
                max_examples=long if self.long else ci,
                derandomize=not self.long,
                database=None,
                deadline=None,  # the harness's own per-case deadline interrupts hangs
                suppress_health_check=list(HealthCheck),
            )(given(*strategies)(function))
            return seed(self.seed)(configured) if self.long else configured

        return decorate


def _long_mode(config: pytest.Config) -> bool:
    return bool(config.getoption("--fuzz-long", False)) or os.environ.get(
        "SDHEALTH_FUZZ_LONG", ""
    ) not in ("", "0")


def _seed() -> int:
    return int(os.environ.get("SDHEALTH_FUZZ_SEED") or random.SystemRandom().randrange(2**32))


_SEED = _seed()


@pytest.fixture(scope="session")
def budget(request: pytest.FixtureRequest) -> Budget:
    long = _long_mode(request.config)
    return Budget(long, _SEED if long else None)


def pytest_report_header(config: pytest.Config) -> str:
    if _long_mode(config):
        return f"sdhealth fuzz: long mode, SDHEALTH_FUZZ_SEED={_SEED}"
    return "sdhealth fuzz: CI budget (fixed seeds)"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not TALLY.counts:
        return
    mode = f"long, SDHEALTH_FUZZ_SEED={_SEED}" if _long_mode(config) else "CI, fixed seeds"
    terminalreporter.section(f"sdhealth fuzz outcomes ({mode})")
    terminalreporter.write_line(TALLY.table())
    for failure in TALLY.failures.values():
        terminalreporter.write_line(failure.render())
    report = os.environ.get("SDHEALTH_FUZZ_REPORT")
    if report:
        data = {"mode": mode, **TALLY.as_json()}
        with open(report, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=1)
