"""A variable that reads its own elements (``x[South] = x[North] + 1``) is no algebraic loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd

HEADER = """{UTF-8}
Region: North, South, East
	~
	~		|
"""

CLOCK = """
INITIAL TIME = 0
	~	Month
	~		|

FINAL TIME = 2
	~	Month
	~		|

TIME STEP = 1
	~	Month
	~		|

SAVEPER = TIME STEP
	~	Month
	~		|
"""

CHAIN = """
x[North] = 1 + STEP(1, 1) + STEP(1, 2)
	~	people
	~		|

x[South] = x[North] + 1
	~	people
	~		|

x[East] = x[South] * 2
	~	people
	~		|
"""

LOOP = """
x[North] = x[East] + 1
	~	people
	~		|

x[South] = 2
	~	people
	~		|

x[East] = x[North] * 2
	~	people
	~		|
"""


def _load(tmp_path: Path, body: str) -> sd.Model:
    path = tmp_path / "elements.mdl"
    path.write_text(HEADER + body + CLOCK)
    return sd.load(path)


def test_element_references_are_not_a_loop_and_run_natively(tmp_path: Path) -> None:
    model = _load(tmp_path, CHAIN)
    assert model.check() == []
    results = model.run()
    np.testing.assert_allclose(results["x[East]"], [4.0, 6.0, 8.0])
    with pytest.raises(sd.BackendError, match="reads its own elements"):
        model.run(backend="pysd")


def test_a_loop_between_elements_is_still_an_algebraic_loop(tmp_path: Path) -> None:
    model = _load(tmp_path, LOOP)
    codes = [issue.code for issue in model.check()]
    assert codes == ["algebraic-loop"]
    with pytest.raises(sd.ModelError, match="algebraic loop"):
        model.run()
