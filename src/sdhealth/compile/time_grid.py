"""The times of a run and the rows it saves, as PySD's clock makes them.

Every backend and every experiment that lays out results by time uses these, so a run's
reported times are the same whichever engine made them.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["time_grid", "saving_rows", "RELATIVE_PRECISION"]

#: Times closer than ``dt * RELATIVE_PRECISION`` are the same time (PySD's ``Time.rprec``).
RELATIVE_PRECISION = 1e-5


@functools.lru_cache(maxsize=64)
def time_grid(
    start: float, stop: float, dt: float, saveper: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(times, save_rows, saved_times)`` of a run, as PySD's clock makes them.

    ``times`` are every evaluation time; ``save_rows[k]`` is the output row of ``times[k]``
    or -1; ``saved_times`` are the reported (rounded) times of the rows.

    >>> times, rows, saved = time_grid(0.0, 1.0, 0.25, 0.5)
    >>> times.tolist(), rows.tolist(), saved.tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [0, -1, 1, -1, 2], [0.0, 0.5, 1.0])
    """
    precision = dt * RELATIVE_PRECISION
    count = int((stop - start) / dt) + 3
    steps = np.full(count, dt)
    steps[0] = start
    candidates = np.add.accumulate(steps)  # sequential sums: PySD's t = t + dt
    beyond = np.flatnonzero(candidates + precision >= stop)
    times = candidates[: int(beyond[0]) + 1] if beyond.size else candidates
    rows = np.full(times.size, -1, dtype=np.int64)
    row = 0
    for k, t in enumerate(times.tolist()):
        delay = t - start
        if delay % saveper < precision or -delay % saveper < precision:
            rows[k] = row
            row += 1
    decimals = -int(np.log10(precision))
    saved = np.round(times[rows >= 0], decimals)
    times.setflags(write=False)
    rows.setflags(write=False)
    saved.setflags(write=False)
    return times, rows, saved


def saving_rows(times: np.ndarray, clocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(save_rows, saved_times)`` of a run whose clock changes: PySD's rule at each time.

    ``clocks[k]`` is ``[TIME STEP, INITIAL TIME, FINAL TIME, SAVEPER]`` at ``times[k]``; the
    start is ``times[0]``. As :func:`time_grid`, with the time step and the saving period of
    each time.

    >>> times = np.array([0.0, 1.0, 2.0, 2.5, 3.0])
    >>> clocks = np.array([[1, 0, 3, 1]] * 2 + [[0.5, 0, 3, 1]] * 3)
    >>> rows, saved = saving_rows(times, clocks)
    >>> rows.tolist(), saved.tolist()
    ([0, 1, 2, -1, 3], [0.0, 1.0, 2.0, 3.0])
    """
    rows = np.full(times.size, -1, dtype=np.int64)
    saved: list[float] = []
    start = float(times[0])
    for k, (t, clock) in enumerate(zip(times.tolist(), clocks.tolist(), strict=True)):
        precision, saveper = clock[0] * RELATIVE_PRECISION, clock[3]
        delay = t - start
        if delay % saveper < precision or -delay % saveper < precision:
            rows[k] = len(saved)
            saved.append(float(np.round(t, -int(np.log10(precision)))))
    return rows, np.array(saved)
