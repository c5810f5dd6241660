"""Progress bars for long experiments (sweeps, Monte Carlo, sensitivity, calibration).

One place decides how progress is shown, so every experiment behaves the same:

- ``progress=None`` (the default everywhere) shows a bar only when standard error is a terminal
  -- a script writing to a log file or a test run stays quiet;
- ``progress=True`` always shows it (the CLI passes this), ``progress=False`` never does.

The bar is :mod:`tqdm`'s: it shows the number done, the rate and the time left, and goes to
standard error, never standard output (results may be piped there). Experiments call
:meth:`Progress.update` after each finished chunk of runs or iteration.

>>> with progress_bar(3, "runs", enabled=False) as bar:
...     bar.update(2)
...     bar.update(1)
...     bar.done
3

An experiment built on a sweep names its bar with :func:`labelled` (the sweep's bar then reads
"monte carlo" or "sobol", not "sweep"):

>>> with labelled("monte carlo"):
...     progress_bar(3, "sweep", enabled=False).desc
'monte carlo'
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Any

__all__ = ["Progress", "labelled", "progress_bar", "show_progress"]

_LABEL: ContextVar[str | None] = ContextVar("sdhealth_progress_label", default=None)


@contextmanager
def labelled(label: str) -> Iterator[None]:
    """Bars opened inside this block are labelled ``label`` (the experiment being run)."""
    token = _LABEL.set(label)
    try:
        yield
    finally:
        _LABEL.reset(token)


def show_progress(progress: bool | None) -> bool:
    """Whether to draw a bar: ``progress`` if given, else whether stderr is a terminal."""
    if progress is not None:
        return bool(progress)
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """A count of finished work with an optional tqdm bar; a context manager.

    Parameters
    ----------
    total
        How much work there is (runs, iterations), or ``None`` when unknown (calibration).
    desc
        The label in front of the bar, e.g. ``"sweep"``.
    unit
        What one step is, e.g. ``"run"``.
    enabled
        See :func:`show_progress`.
    """

    def __init__(
        self, total: int | None, desc: str, unit: str = "run", enabled: bool | None = None
    ) -> None:
        self.total = total
        self.desc = desc
        self.done = 0
        self._bar: Any = None
        if show_progress(enabled):
            from tqdm.auto import tqdm  # imported when a bar is shown (0.06 s)

            self._bar = tqdm(
                total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True
            )

    def update(self, n: int = 1) -> None:
        """Record ``n`` more finished steps."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)

    def note(self, text: str) -> None:
        """Show ``text`` after the bar (e.g. the current best fit); no-op without a bar."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        """Finish the bar (idempotent)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def progress_bar(
    total: int | None, desc: str, unit: str = "run", enabled: bool | None = None
) -> Progress:
    """A :class:`Progress` for ``total`` steps, labelled by :func:`labelled` if inside one."""
    return Progress(total, _LABEL.get() or desc, unit, enabled)
