"""ALLOCATE BY PRIORITY on the native backend (compile/allocation.py) against PySD's.

The closed form is compared with PySD's own ``_allocate_by_priority_1d`` on random vectors,
and whole models using the function are run on both backends, which must agree to 1e-9.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy
from pysd.py_backend.allocation import _allocate_by_priority_1d

import sdhealth as sd
from sdhealth.compile.allocation import allocate_by_priority

_MODEL = """{{UTF-8}}
dim: a, b, c, d ~~|
request[dim] = {requests} ~~|
priority[dim] = {priorities} ~~|
width = {width} ~~|
allocation[dim] = ALLOCATE BY PRIORITY(request[dim], priority[dim], ELMCOUNT(dim), width, {supply})
~~|
total allocated = SUM(allocation[dim!]) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 16 ~~|
TIME STEP = 0.25 ~~|
SAVEPER = TIME STEP ~~|
"""


def _evaluator(n: int):
    """The closed form for ``n`` elements as a numpy function of (requests, priorities, w, s)."""
    requests = sympy.symbols(f"r0:{n}")
    priorities = sympy.symbols(f"p0:{n}")
    width, supply = sympy.symbols("w s")
    exprs = [allocate_by_priority(requests, priorities, width, supply, i) for i in range(n)]
    function = sympy.lambdify([*requests, *priorities, width, supply], exprs, "numpy")

    def evaluate(r, p, w, s) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):  # numpy evaluates every branch
            values = np.asarray([*r, *p, w, s], dtype=float)  # numpy floats: x / 0 is inf
            return np.array(function(*values), dtype=float)

    return evaluate


def test_closed_form_matches_pysd_on_random_vectors() -> None:
    rng = np.random.default_rng(7)
    evaluate = _evaluator(4)
    worst = 0.0
    for trial in range(200):
        requests = rng.choice([0.0, 1.0, 2.5, 4.0], 4) if trial % 2 else rng.uniform(0, 10, 4)
        priorities = rng.integers(0, 3, 4).astype(float) if trial % 3 == 0 else rng.normal(0, 4, 4)
        width = float(rng.choice([0.05, 0.5, 1.0, 3.0, 100.0]))
        supply = float(rng.uniform(0, 1.2) * requests.sum())
        ours = evaluate(requests, priorities, width, supply)
        theirs = _allocate_by_priority_1d(requests.copy(), priorities.copy(), width, supply)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
        worst = max(worst, float(np.max(np.abs(ours - theirs))))
    assert worst < 1e-12


def test_closed_form_cases_by_hand() -> None:
    evaluate = _evaluator(4)
    requests, priorities = [3.0, 6.0, 2.5, 2.0], [10.0, 9.0, 7.0, 2.0]
    # PySD's docstring example: the second target starts once the first has received 1, then
    # the two share the rest 3:6
    np.testing.assert_allclose(evaluate(requests, priorities, 3.0, 2.0), [4 / 3, 2 / 3, 0, 0])
    assert list(evaluate(requests, priorities, 3.0, 0.0)) == [0, 0, 0, 0]
    assert list(evaluate(requests, priorities, 3.0, 13.5)) == requests
    assert list(evaluate(requests, priorities, 3.0, 50.0)) == requests
    # ties share in proportion to the requests; a gap wider than the width waits its turn
    np.testing.assert_allclose(evaluate([2, 6, 1, 1], [5, 5, 1, 1], 1.0, 4.0), [1, 3, 0, 0])
    np.testing.assert_allclose(evaluate([2, 6, 1, 1], [5, 5, 1, 1], 1.0, 9.0), [2, 6, 0.5, 0.5])
    assert np.isnan(evaluate(requests, priorities, 0.0, 2.0)).all()
    assert np.isnan(evaluate([-1.0, 6.0, 2.5, 2.0], priorities, 3.0, 2.0)).all()


_CONDITIONAL = "IF THEN ELSE(Time > 8, Time, Time / 2)"


@pytest.mark.parametrize(
    ("requests", "priorities", "width", "supply"),
    [
        ("3, 6, 2.5, 2", "10, 9, 7, 2", 3, "Time"),  # supply crosses the total 13.5 at 13.5
        ("2, 6, 0, 4", "5, 5, 5, 1", 0.01, "Time"),  # ties, a zero request, a narrow width
        ("4, 4, 4, 4", "1, 2, 3, 4", 100, "Time"),  # a width wider than every gap
        ("3, 6, 2.5, 2", "10, 9, 7, 2", 1, _CONDITIONAL),  # a conditional supply inline
    ],
    ids=["docs-example", "ties-narrow", "wide", "conditional-supply"],
)
def test_native_matches_pysd_on_a_model(
    tmp_path: Path, requests: str, priorities: str, width: float, supply: str
) -> None:
    path = tmp_path / "allocation.mdl"
    text = _MODEL.format(requests=requests, priorities=priorities, width=width, supply=supply)
    path.write_text(text)
    model = sd.load(path)
    native, pysd = model.run(backend="native"), model.run(backend="pysd")
    assert list(native.columns) == list(pysd.columns)
    np.testing.assert_allclose(native.to_numpy(float), pysd.to_numpy(float), rtol=1e-9, atol=1e-12)
    time = native.index.to_numpy(float)
    supplied = time if supply == "Time" else np.where(time > 8, time, time / 2)
    total = sum(float(x) for x in requests.split(","))
    np.testing.assert_allclose(native["total allocated"], np.minimum(supplied, total), atol=1e-12)
