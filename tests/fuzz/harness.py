"""The fuzz harness: a per-case deadline, the outcome of a case, and the session's tally.

Every fuzz case is a call that must either return or raise an
:class:`~sdhealth.errors.SdhealthError`. :func:`classify` runs it in a forked child process
under two deadlines and says what happened:

- a soft one in the child (``setitimer``): a hang in Python code -- sympy, the loaders, the
  checks -- is interrupted and reported with the frame it hung in;
- a hard one in the parent: a child that does not answer (stuck in C code, which no signal
  handler can interrupt, or in a deadlock) is killed, and the frame it was stuck in comes from
  ``faulthandler``. A child that dies (a segfault, ``os._exit``) is reported too, and its
  address space is capped so that a runaway allocation raises ``MemoryError`` instead of
  bringing the machine down. Nothing a case does can block or kill the suite.

The child inherits the parent's warm state (imports, compiled kernels) through ``fork``.
Outcomes:

- ``ok`` -- the call returned (``ok:nan-warned``: a run whose NaN/inf a warning reported);
- ``error:<Class>`` -- a clean, typed sdhealth error;
- ``FAIL:<Type>`` -- anything else: another exception, a timeout (``CaseTimeout`` or
  ``hard-hang``), a dead child (``crash``), or a run whose results hold NaN/inf without a
  warning about them (``silent-nan``).

Cases never raise inside hypothesis: :class:`Tally` records each one (per suite and operator)
so that a long run counts every outcome instead of stopping at the first bug, and the test
fails at its end with one entry per distinct failure class -- the smallest reproducer seen,
the operator, the exception type and message, and where it was raised.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import re
import resource
import select
import signal
import tempfile
import time
import traceback
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from sdhealth.errors import SdhealthError

#: Address space a case may add to the parent's before allocations fail with MemoryError.
MEMORY_HEADROOM = 8 * 2**30
#: Seconds the parent waits beyond the soft deadline before it kills a child that hangs.
GRACE = 1.5


class CaseTimeout(BaseException):  # noqa: N818 -- not an Exception: library code can't swallow it
    """A case that did not finish within its deadline."""


@contextmanager
def deadline(seconds: float):
    """Raise :class:`CaseTimeout` in the main thread if the block runs longer than ``seconds``.

    The alarm repeats every quarter second until the block ends: an exception raised while
    Python runs a callback that ignores it (a ``gc`` callback, a ``__del__``) is lost, and the
    next alarm then interrupts the hang.
    """

    def expire(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"no answer within {seconds:g} s (a hang)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.25)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Outcome:
    """What one case gave: ``label`` is ``ok[:nan-warned]``, ``error:<Class>`` or ``FAIL:<Type>``.

    ``result`` is what the call returned (sent back from the child; ``None`` if it could not
    be pickled).
    """

    label: str
    message: str = ""
    where: str = ""
    result: Any = field(default=None, compare=False, repr=False)

    @property
    def failed(self) -> bool:
        return self.label.startswith("FAIL:")


def _short(filename: str) -> str:
    return filename.split("/src/")[-1].split("site-packages/")[-1]


def _ours(filename: str) -> bool:
    return "sdhealth" in filename and "/tests/" not in filename


def _raised_at(exc: BaseException) -> str:
    """``file:line in function`` of the innermost frame of ``exc`` inside sdhealth (or last)."""
    frames = traceback.extract_tb(exc.__traceback__)
    frame = ([f for f in frames if _ours(f.filename)] or frames or [None])[-1]
    return "" if frame is None else f"{_short(frame.filename)}:{frame.lineno} in {frame.name}"


_FAULTHANDLER_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<name>\S+)')


def _stuck_at(dump: str) -> str:
    """The innermost sdhealth frame (or the innermost one) of a ``faulthandler`` dump."""
    frames = list(_FAULTHANDLER_FRAME.finditer(dump))  # innermost first
    frame = next((f for f in frames if _ours(f["file"])), frames[0] if frames else None)
    return "" if frame is None else f"{_short(frame['file'])}:{frame['line']} in {frame['name']}"


def _non_finite(result: Any) -> bool:
    """Whether a run result (a DataFrame, or an xarray Dataset of runs) holds NaN or infinity."""
    import numpy as np

    if hasattr(result, "data_vars"):  # xarray.Dataset
        arrays = [v.values for v in result.data_vars.values()]
    elif hasattr(result, "select_dtypes"):  # pandas.DataFrame
        arrays = [result.select_dtypes("number").to_numpy(dtype=float)]
    else:
        return False
    numeric = [a for a in arrays if np.issubdtype(a.dtype, np.number)]
    return not all(np.isfinite(a).all() for a in numeric)


#: What a warning must say to excuse NaN/inf in the results (a PySD fallback note does not).
_ABOUT_NUMBERS = re.compile(r"nan|inf|finite|overflow|divi|invalid value|zero", re.IGNORECASE)


def _warns_about_numbers(caught: list[warnings.WarningMessage]) -> bool:
    return any(
        issubclass(w.category, RuntimeWarning) or _ABOUT_NUMBERS.search(str(w.message))
        for w in caught
    )


def classify_here(call: Callable[[], Any], seconds: float, run_result: bool = False) -> Outcome:
    """:func:`classify` in the current process, with the soft deadline only (for several
    steps of one case inside a forked child)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with deadline(seconds):
                result = call()
        except SdhealthError as exc:
            return Outcome(f"error:{type(exc).__name__}", str(exc), _raised_at(exc))
        except BaseException as exc:  # anything else, even SystemExit, in the child
            message = f"{type(exc).__name__}: {exc}"[:300]
            return Outcome(f"FAIL:{type(exc).__name__}", message, _raised_at(exc))
    if run_result and _non_finite(result):
        if not _warns_about_numbers(caught):
            return Outcome("FAIL:silent-nan", "the results hold NaN/inf and no warning says so")
        return Outcome("ok:nan-warned", result=result)
    return Outcome("ok", result=result)


def _child(call: Callable[[], Any], seconds: float, run_result: bool, answer: int) -> None:
    """The forked child: cap memory, run the case, pickle its outcome to ``answer``, exit."""
    try:
        with open("/proc/self/statm") as stream:
            used = int(stream.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (used + MEMORY_HEADROOM, resource.RLIM_INFINITY))
        outcome = classify_here(call, seconds, run_result)
        try:
            data = pickle.dumps(outcome)
        except Exception:
            data = pickle.dumps(replace(outcome, result=None))
        with os.fdopen(answer, "wb") as stream:
            stream.write(data)
    finally:
        os._exit(0)


def _read_until(fd: int, end: float) -> tuple[bytes, bool]:
    """Everything written to ``fd`` until EOF or the time ``end``; and whether EOF came."""
    chunks = []
    while (left := end - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
    return b"".join(chunks), False


def classify(call: Callable[[], Any], seconds: float, *, run_result: bool = False) -> Outcome:
    """Run ``call`` in a forked child under a deadline and say what happened (see module doc).

    With ``run_result``, a returned result that holds NaN/inf must come with a warning about
    the numbers (a ``RuntimeWarning``, or one whose text speaks of NaN, infinity, overflow or
    division).
    """
    read, write = os.pipe()
    with tempfile.TemporaryFile() as dump:
        pid = os.fork()
        if pid == 0:
            os.close(read)
            faulthandler.disable()  # a crash is reported by the parent, without a dump
            faulthandler.dump_traceback_later(seconds + GRACE / 2, file=dump)
            _child(call, seconds, run_result, write)
        os.close(write)
        finished = False
        try:
            data, finished = _read_until(read, time.monotonic() + seconds + GRACE)
        finally:  # a child that hangs, or a Ctrl-C in the parent: the child must not outlive it
            os.close(read)
            if not finished:
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if not finished:
            dump.seek(0)
            return Outcome(
                "FAIL:hard-hang",
                f"no answer within {seconds + GRACE:g} s, and the alarm could not interrupt it "
                "(stuck in C code or a deadlock): killed",
                _stuck_at(dump.read().decode(errors="replace")),
            )
    if data:
        return pickle.loads(data)
    if os.WIFSIGNALED(status):
        died = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    else:
        died = f"exit status {os.WEXITSTATUS(status)}"
    return Outcome("FAIL:crash", f"the case's process died ({died}) without an answer")


def _clip(text: str, size: int = 500) -> str:
    return text if len(text) <= size else f"{text[:size]}... ({len(text)} characters in all)"


@dataclass
class Failure:
    """One distinct failure class and the smallest reproducer seen for it."""

    suite: str
    operator: str
    outcome: Outcome
    reproducer: str
    count: int = 1

    def render(self) -> str:
        return (
            f"[{self.suite} / {self.operator}] {self.outcome.label} x{self.count}\n"
            f"    {self.outcome.message}\n"
            f"    raised at: {self.outcome.where or '?'}\n"
            f"    reproducer: {_clip(self.reproducer)}"
        )


@dataclass
class Tally:
    """Outcome counts per (suite, operator) and the distinct failures of the session."""

    counts: dict[tuple[str, str], Counter] = field(default_factory=lambda: defaultdict(Counter))
    failures: dict[tuple[str, str, str, str], Failure] = field(default_factory=dict)

    def record(self, suite: str, operator: str, outcome: Outcome, reproducer: str) -> None:
        self.counts[suite, operator][outcome.label] += 1
        if not outcome.failed:
            return
        key = (suite, operator, outcome.label, outcome.where)
        known = self.failures.get(key)
        if known is None:
            self.failures[key] = Failure(suite, operator, outcome, reproducer)
            return
        known.count += 1
        if len(reproducer) < len(known.reproducer):
            known.reproducer, known.outcome = reproducer, outcome

    def is_new(self, suite: str, operator: str, outcome: Outcome) -> bool:
        """Whether ``outcome`` is a failure class not seen before (worth shrinking)."""
        key = (suite, operator, outcome.label, outcome.where)
        return outcome.failed and key not in self.failures

    def assert_clean(self, suite: str, operator: str | None = None) -> None:
        """Fail the calling test with every distinct failure class of ``suite`` (of
        ``operator`` and its sub-operators ``operator/...``, if given)."""

        def mine(s: str, o: str) -> bool:
            return s == suite and (
                operator is None or o == operator or o.startswith(f"{operator}/")
            )

        found = [f for f in self.failures.values() if mine(f.suite, f.operator)]
        cases = sum(sum(c.values()) for (s, o), c in self.counts.items() if mine(s, o))
        assert cases > 0, f"{suite}/{operator}: no fuzz case ran"
        if found:
            listing = "\n".join(f.render() for f in found)
            raise AssertionError(
                f"{suite}: {len(found)} distinct failure class(es) in {cases} cases\n{listing}"
            )

    def table(self) -> str:
        """The outcome counts, one row per suite and operator."""
        width = max((len(f"{s} {o}") for s, o in self.counts), default=0)
        rows = []
        for (suite, operator), counter in sorted(self.counts.items()):
            cells = ", ".join(f"{label} {n}" for label, n in counter.most_common())
            rows.append(f"{f'{suite} {operator}':<{width}} {sum(counter.values()):>6}  {cells}")
        total = sum(sum(c.values()) for c in self.counts.values())
        return "\n".join([*rows, f"{'total':<{width}} {total:>6}"])

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": {f"{s}/{o}": dict(c) for (s, o), c in sorted(self.counts.items())},
            "failures": [
                {
                    "suite": f.suite,
                    "operator": f.operator,
                    "outcome": f.outcome.label,
                    "message": f.outcome.message,
                    "where": f.outcome.where,
                    "reproducer": f.reproducer,
                    "count": f.count,
                }
                for f in self.failures.values()
            ],
        }


#: The one tally of the test session (read by ``conftest.pytest_terminal_summary``).
TALLY = Tally()


def shrink_text(text: str, still_fails: Callable[[str], bool], seconds: float = 3.0) -> str:
    """A smaller ``text`` for which ``still_fails`` holds: greedy deletion of chunks.

    Cheap delta debugging for reproducers of parser failures: chunks of halving size are
    removed while the failure (same class) persists, for at most ``seconds``.
    """
    size, end = max(1, len(text) // 2), time.monotonic() + seconds
    while size >= 1 and time.monotonic() < end:
        start = 0
        while start < len(text) and time.monotonic() < end:
            candidate = text[:start] + text[start + size :]
            if candidate != text and still_fails(candidate):
                text = candidate
            else:
                start += size
        size //= 2
    return text
