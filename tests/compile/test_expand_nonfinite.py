"""Stateful builtins with arguments that have no finite real value (fuzz findings, issue 12):
a clean ``ModelError`` naming the variable and its ``file:line``, never a sympy TypeError or
an OverflowError -- from ``check``, from ``run`` and from the expansion itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sympy

import sdhealth as sd
from sdhealth.compile.expand import MAX_ORDER, constant_order, expand_stateful
from sdhealth.errors import ModelError

MODELS = Path(__file__).resolve().parents[2] / "models"

#: (model, line to change, mutated line): the fuzzer's cases and their relatives.
MUTATIONS = [
    ("sir.yaml", "initial: Initial Infectious",
     "initial: DELAY N(MODULO(1, 0), Recovered, Infection Rate, 1e308 * 1e308)"),
    ("sir.yaml", "initial: Initial Infectious",
     "initial: DELAY N(1, Recovered, Infection Rate, 1e308)"),
    ("elective_recovery.yaml", "initial: Initial waiting list",
     "initial: DELAY3(Treatments, 0 ^ -1)"),
    ("elective_recovery.yaml", "initial: Initial waiting list",
     "initial: DELAY3(Referrals, 0 ^ -1)"),
    ("elective_recovery.yaml", "initial: Initial waiting list",
     "initial: SMOOTH N(Referrals, 1/0, 1, 3)"),
]  # fmt: skip


def _mutated(folder: Path, index: int) -> Path:
    name, old, new = MUTATIONS[index]
    text = (MODELS / name).read_text()
    assert old in text
    path = folder / name
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("index", range(len(MUTATIONS)))
def test_check_and_run_give_located_errors(tmp_path, index):
    path = _mutated(tmp_path, index)
    errors = [i for i in sd.check(path) if i.is_error]
    assert errors and all(i.path == str(path) and i.line is not None for i in errors)
    with pytest.raises(ModelError) as error:
        sd.load(path).run()
    assert str(error.value).startswith(f"{path}:")


@pytest.mark.parametrize("index", range(len(MUTATIONS)))
def test_expansion_itself_names_the_variable_and_line(tmp_path, index):
    path = _mutated(tmp_path, index)
    model = sd.load(path).ir
    try:
        expand_stateful(model)
    except ModelError as error:
        issue = error.issues[0]
        assert issue.path == str(path) and issue.line is not None
        assert issue.variable in {"Infectious", "Waiting list"}


@pytest.mark.parametrize(
    ("order", "text"),
    [
        (sympy.Float(1e308) * sympy.Float(1e308), "1.00e+616 (no finite real value)"),
        (sympy.zoo, "no finite real value"),
        (sympy.nan, "no finite real value"),
        (sympy.Float(1e308), f"more than the {MAX_ORDER:,} stages allowed"),
        (sympy.I, "it is 1j"),
    ],
)
def test_constant_order_refuses_non_finite_and_huge_orders(order, text):
    with pytest.raises(ValueError, match=re.escape(text)):
        constant_order(order, {})
