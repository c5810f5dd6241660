"""The command line on 200 bad model files: exit status 2 and one line, never a traceback.

The files are mutants of the small shipped models (made deterministically by the operators
of :mod:`mutations`), kept only when ``sd.check`` reports an error for them. ``main`` runs
in-process, in one forked child per file (with the check); one subprocess smoke test checks
``python -m sdhealth`` itself.
"""

from __future__ import annotations

import functools
import io
import itertools
import random
import subprocess
import sys
from pathlib import Path

import pytest
from harness import TALLY, Outcome, classify, classify_here
from mutations import OPERATORS, mutate, sources

import sdhealth as sd
from sdhealth.cli import main

FILES = 200
SECONDS = 10.0
SMALL = 5_000  # characters: teacup, sir and elective recovery load and check in milliseconds


CHECK_SECONDS = 2.0


def _bad_files(folder: Path) -> list[tuple[str, Path, str, Outcome, Outcome]]:
    """``FILES`` mutants of the small models that ``sd.check`` finds errors in, each with the
    outcome of ``sdhealth check`` and ``sdhealth run`` on it.

    One forked child per mutant checks it and, if it is bad, runs both commands on it (a fork
    of the test process costs more than a small model's check and run together).
    """
    small = [s for s in sources() if len(s.text) < SMALL and s.kind == "yaml"]
    rng, found = random.Random(12), []
    for number in itertools.count():
        if len(found) == FILES or number > 20 * FILES:
            break
        source, operator = rng.choice(small), rng.choice(sorted(OPERATORS))
        mutant = mutate(source, operator, rng.randrange(2**32))
        if mutant is None:
            continue
        path = folder / f"bad{number}{mutant.suffix}"
        path.write_bytes(mutant.data)
        examined = classify(functools.partial(_examine, path), CHECK_SECONDS + 2 * SECONDS)
        if examined.failed:  # the child itself hung or died: both commands failed
            found.append((operator, path, f"{source.path.name}: {mutant.description}",
                          examined, examined))  # fmt: skip
        elif examined.result is not None:
            found.append((operator, path, f"{source.path.name}: {mutant.description}",
                          *examined.result))  # fmt: skip
    return found


def _examine(path: Path) -> tuple[Outcome, Outcome] | None:
    """In the child: ``None`` if the file is not bad, else the outcomes of the two commands."""
    if not _is_bad(path):
        return None
    check = cli_outcome(["check", str(path)], quiet_stdout=False)
    run = cli_outcome(["run", str(path), "--stop", "1", "--no-loops"], quiet_stdout=True)
    return check, run


def _is_bad(path: Path) -> bool:
    """``sd.check`` finds an error that stops a run, or crashes (the CLI must still answer).

    Polarity errors are left out: one found by following a base run does not stop
    ``model.run()`` (docs/yaml-format.md), so ``sdhealth run`` may rightly succeed. So are
    ``run-size`` errors: they belong to the model's own clock, which ``run --stop 1``
    replaces (``stop: 1e308`` runs to 1 and exits 0, as it should). A file ``sd.check``
    hangs on is left out too: the model fuzz tests report those, and each would cost the CLI
    test its deadline twice.
    """
    outcome = classify_here(lambda: sd.check(path), CHECK_SECONDS)
    if outcome.label == "FAIL:CaseTimeout":
        return False
    issues = outcome.result or ()
    clock_or_polarity = {"polarity", "run-size"}
    return outcome.failed or any(i.is_error and i.code not in clock_or_polarity for i in issues)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> list:
    return _bad_files(tmp_path_factory.mktemp("bad-models"))


def _main(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)``: its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    return main(argv, out=out, err=err), out.getvalue(), err.getvalue()


def cli_outcome(argv: list[str], *, quiet_stdout: bool) -> Outcome:
    """Run ``main(argv)`` (here, in the examining child): exit 2, at most one line on stderr
    (exactly one if ``quiet_stdout``)."""
    outcome = classify_here(lambda: _main(argv), SECONDS)
    if outcome.failed:
        return outcome
    code, out, err = outcome.result
    lines = [line for line in err.split("\n") if line.strip()]
    where = f"cli main({' '.join(argv[:1])})"
    if "Traceback" in out + err:
        return Outcome("FAIL:traceback", (out + err)[-300:], where)
    if code != 2:
        return Outcome(f"FAIL:exit-{code}", f"exit status {code}, stderr {err!r}", where)
    if len(lines) > 1 or (quiet_stdout and len(lines) != 1):
        return Outcome("FAIL:stderr-lines", f"{len(lines)} lines on stderr: {lines[:3]}", where)
    return Outcome("error:exit-2")


def test_cli_exits_2_with_one_line_on_bad_files(bad_files):
    assert len(bad_files) == FILES, f"only {len(bad_files)} bad files could be made"
    for operator, _path, reproducer, check, run in bad_files:
        TALLY.record("cli", f"check/{operator}", check, reproducer)
        TALLY.record("cli", f"run/{operator}", run, reproducer)
    TALLY.assert_clean("cli")


def test_python_m_sdhealth_reports_a_bad_file_in_one_line(bad_files):
    path = bad_files[0][1]
    done = subprocess.run(
        [sys.executable, "-m", "sdhealth", "run", str(path), "--stop", "1", "--no-loops"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
