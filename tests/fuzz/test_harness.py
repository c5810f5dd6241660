"""The harness itself can fail: each kind of bad outcome is recognised (else the fuzz tests
could pass while bugs exist), and no case can block the suite."""

from __future__ import annotations

import os
import signal
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from harness import Tally, classify, shrink_text

from sdhealth.errors import ModelError


def _raise(exc: BaseException):
    def call():
        raise exc

    return call


def _nan_frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, float("nan")]})


#: Made here, not in the case: xarray's first use takes longer than the cases' deadline.
NAN_DATASET = xr.Dataset({"x": (("run", "time"), np.array([[1.0, np.inf]]))})


def _warned_nan_frame() -> pd.DataFrame:
    warnings.warn("x became NaN at time 3", UserWarning, stacklevel=1)
    return _nan_frame()


def _unrelated_warning_nan_frame() -> pd.DataFrame:
    warnings.warn("running it with the PySD backend instead", UserWarning, stacklevel=1)
    return _nan_frame()


def _stuck_in_c_code() -> None:
    """A hang the alarm cannot interrupt (as in C code): SIGALRM is blocked."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(30)


def _segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _allocate_too_much() -> bytes:
    return bytes(64 * 2**30)


@pytest.mark.parametrize(
    ("call", "label"),
    [
        (lambda: 1, "ok"),
        (_raise(ModelError("bad")), "error:ModelError"),
        (_raise(KeyError("k")), "FAIL:KeyError"),
        (_raise(RecursionError()), "FAIL:RecursionError"),
        (_raise(SystemExit(1)), "FAIL:SystemExit"),
        (_allocate_too_much, "FAIL:MemoryError"),
        (lambda: time.sleep(5), "FAIL:CaseTimeout"),
        (_segfault, "FAIL:crash"),
        (_nan_frame, "FAIL:silent-nan"),
        (lambda: NAN_DATASET, "FAIL:silent-nan"),
        (_unrelated_warning_nan_frame, "FAIL:silent-nan"),
        (_warned_nan_frame, "ok:nan-warned"),
    ],
)
def test_outcomes_are_classified(call, label):
    assert classify(call, 0.2, run_result=True).label == label


def test_a_hard_hang_is_killed_in_time_and_says_where_it_was_stuck():
    start = time.monotonic()
    outcome = classify(_stuck_in_c_code, 0.2)
    assert time.monotonic() - start < 5
    assert outcome.label == "FAIL:hard-hang"
    assert "_stuck_in_c_code" in outcome.where


def test_a_result_comes_back_from_the_child():
    assert classify(lambda: {"exit": 2}, 1).result == {"exit": 2}


def test_a_failure_fails_the_suite_with_its_reproducer():
    tally = Tally()
    tally.record("demo", "op", classify(_raise(ValueError("boom")), 1), "x = x")
    tally.record("demo", "op", classify(lambda: 1, 1), "fine")
    with pytest.raises(AssertionError, match=r"(?s)FAIL:ValueError.*boom.*reproducer: x = x"):
        tally.assert_clean("demo")
    assert "FAIL:ValueError 1" in tally.table()


def test_shrink_keeps_the_failure():
    assert shrink_text("aaaa(bbbb", lambda text: "(" in text) == "("
