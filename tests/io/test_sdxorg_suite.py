# ruff: noqa: E501  (the measured failure messages in KNOWN_FAILURES are long)
"""The public SDXorg test suite: every Vensim and XMILE model, imported, run on PySD, compared.

Each model under ``$SDHEALTH_TEST_MODELS/tests`` is loaded with ``sd.load`` (PySD's translator
-> AbstractModel -> IR), run on the PySD backend from the IR (IR -> Vensim text -> PySD), and
every column of Vensim's canonical output (``output.csv`` / ``output.tab``) is compared with
``rtol=1e-3, atol=1e-6``. Constants Vensim writes only in the first row are filled down.

Models are imported and run in a process pool once per session (two workers, see
:func:`sdxorg.suite_outcomes`, shared with ``tests/backends/test_native_suite.py``): translation
through PySD costs about a second per model and the suite has ~200 models. Known failures are
listed in :data:`KNOWN_FAILURES` with their reason and marked ``xfail(strict=True)``, so a
model that starts passing must be taken off the list.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdxorg import VENSIM as _VENSIM
from sdxorg import XMILE as _XMILE
from sdxorg import compare, suite_models, suite_outcomes

#: Known failures (measured): model path relative to the suite -> the failure seen.
#: Measured 2026-11-22: 134 of 143 ``.mdl`` models pass, 71 of 107 XMILE; PySD 3.14.3 run
#: directly on the same files, compared the same way, passes the same 134 and 71 (``python
#: tests/sdxorg.py`` measures both and lists the models where they differ). 2026-12-07, with
#: sdhealth's own XMILE reader: 73 of 107 XMILE (LOOKUP of an aux's table, variables written
#: directly in <model>, <inflow> names as names; the two files that are not well-formed XML are
#: refused; rounding's Vensim-made reference truncates where XMILE's INT floors). The other
#: 31 are broken xmutil exports (listed with what is broken): 100 of 107 cannot be reached.
KNOWN_FAILURES: dict[str, str] = {
    "allocate_available/test_allocate_available.mdl": "PySD's ALLOCATE AVAILABLE differs from Vensim's by ~0.3% (PySD run directly fails the same way): 'allocation mixed[Boston,A,large]': got 1.3673678474945272, expected 1.37176; 'allocation mixed[Boston,B,large]': got 2.",
    "arguments/test_arguments.mdl": "'Outer Multiple Middle Multiple Inner Multiple': got 1.0209630556332623, expected 1.01367",
    "data_from_other_model/model_to_generate_data.mdl": "SimulationError: the run failed at time 0: could not broadcast input array from shape (3,2,1) into shape (3,2)",
    "data_from_other_model/test_data_from_other_model.mdl": "ModelError: cannot import 'var 0dim': a data variable without an equation (data given at run time) is not supported",
    "exp/test_exp.mdl": "Vensim's single-precision rounding near zero exceeds atol 1e-6 (PySD direct: same): 'StockA': got -1.0269562977782698e-15, expected -2.52e-06",
    "get_time_value/test_get_time_value.mdl": "NotImplementedError: 'relativeto=1' not implemented...",
    "lookups_with_expr/test_lookups_with_expr.mdl": "Vensim's rounded output (PySD direct: same): 'lookup expr': got 0.002104552171813656, expected 0.0021",
    "na/test_na.mdl": "SimulationError: 'variable' became not a number (NaN) at time 6",
    "subscripted_delays/test_subscripted_delays.mdl": "Vensim's single-precision cancellation near zero (PySD direct: same): 'Stock DelayN[Roxbury Russet,Lemon]': got -0.00020867224596599065, expected -0.000213981; 'Stock DelayN[Roxbury Russet,L",
    "active_initial/test_active_initial.stmx": "the export lost ACTIVE INITIAL: its stock starts from Value_A (0 at time 0), as Stella would run it; Vensim's output starts from 45",
    "active_initial/test_active_initial.xmile": "the export lost ACTIVE INITIAL: its stock starts from Value_A (0 at time 0), as Stella would run it; Vensim's output starts from 45",
    "exp/test_exp.stmx": "Vensim's single-precision rounding near zero exceeds atol 1e-6 (PySD direct: same): 'StockA': got -1.0269562977782698e-15, expected -2.52e-06",
    "exp/test_exp.xmile": "Vensim's single-precision rounding near zero exceeds atol 1e-6 (PySD direct: same): 'StockA': got -1.0269562977782698e-15, expected -2.52e-06",
    "logicals/test_logicals.stmx": "the export writes a postfix NOT (IF false_input not THEN ...), which is not XMILE: refused at its line and column",
    "non_negative_flows/test_non_negative_flows.xmile": "not well-formed XML (a <flow> without its closing tag): sdhealth's reader refuses it at line 45, as Stella would; PySD's recovering parser dropped the two stocks after the broken tag",
    "non_negative_flows/test_non_negative_flows_behavior.xmile": "not well-formed XML (a <flow> without its closing tag): sdhealth's reader refuses it at line 49, as Stella would; PySD's recovering parser dropped the two stocks after the broken tag",
    "rounding/test_rounding.xmile": "the canonical output is Vensim's (INTEGER truncates, MODULO has the sign of the dividend): 'test integer' INT(-9.9) is -9 there; XMILE's INT floors (X 3.5.1 fn 7): -10, and -10 MOD 3 is 2, not -1. The documentation wins",
    "macro_expression/test_macro_expression.stmx": "the export calls a macro (EXPRESSION MACRO(...)) but holds no <macro> definition: refused at the call's line and column",
    "macro_expression/test_macro_expression.xmile": "the export calls a macro (EXPRESSION MACRO(...)) but holds no <macro> definition: refused at the call's line and column",
    "macro_multi_expression/test_macro_multi_expression.stmx": "the export calls a macro (EXPRESSION MACRO(...)) but holds no <macro> definition: refused at the call's line and column",
    "macro_multi_expression/test_macro_multi_expression.xmile": "the export calls a macro (EXPRESSION MACRO(...)) but holds no <macro> definition: refused at the call's line and column",
    "macro_multi_macros/test_macro_multi_macros.stmx": "the export calls a macro (EXPRESSION MACRO(...)) but holds no <macro> definition: refused at the call's line and column",
    "macro_multi_macros/test_macro_multi_macros.xmile": "the export calls a macro (EXPRESSION MACRO(...)) but holds no <macro> definition: refused at the call's line and column",
    "macro_stock/test_macro_stock.stmx": "the export calls a macro (EXPRESSION MACRO(...)) but holds no <macro> definition: refused at the call's line and column",
    "macro_stock/test_macro_stock.xmile": "the export calls a macro (EXPRESSION MACRO(...)) but holds no <macro> definition: refused at the call's line and column",
    "smooth_and_stock/test_smooth_and_stock.stmx": "the export lost the variables Input, Smoothed Input and Smoothing Time that the Vensim output shows: missing columns",
    "smooth_and_stock/test_smooth_and_stock.xmile": "the export lost the variables Input, Smoothed Input and Smoothing Time that the Vensim output shows: missing columns",
    "subscript_1d_arrays/test_subscript_1d_arrays.stmx": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_1d_arrays/test_subscript_1d_arrays.xmile": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_constant_call/test_subscript_constant_call.stmx": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_constant_call/test_subscript_constant_call.xmile": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_mixed_assembly/test_subscript_mixed_assembly.stmx": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_mixed_assembly/test_subscript_mixed_assembly.xmile": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_multiples/test_multiple_subscripts.stmx": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_multiples/test_multiple_subscripts.xmile": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_subranges/test_subscript_subrange.stmx": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_subranges/test_subscript_subrange.xmile": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_subranges_equal/test_subscript_subrange_equal.stmx": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_subranges_equal/test_subscript_subrange_equal.xmile": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_updimensioning/test_subscript_updimensioning.stmx": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscript_updimensioning/test_subscript_updimensioning.xmile": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscripted_flows/test_subscripted_flows.stmx": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
    "subscripted_flows/test_subscripted_flows.xmile": "the export has ??? where Vensim's array constants were (an unreadable equation): refused at its line and column",
}


@pytest.fixture(scope="session")
def suite_results(test_models_dir: Path) -> dict[str, str | None]:
    """Every suite model checked once (the pass shared with the native suite test)."""
    return {relative: outcome.pysd for relative, outcome in suite_outcomes().items()}


def _cases(suffixes: tuple[str, ...]) -> list[object]:
    cases = []
    for relative in suite_models(suffixes):
        marks = []
        if relative in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[relative]))
        cases.append(pytest.param(relative, marks=marks, id=relative))
    return cases


def _assert_passes(relative: str, results: dict[str, str | None]) -> None:
    problem = results[relative]
    assert problem is None, f"{relative}: {problem}"


@pytest.mark.parametrize("relative", _cases(_VENSIM))
def test_vensim_model_matches_canonical_output(
    relative: str, suite_results: dict[str, str | None]
) -> None:
    _assert_passes(relative, suite_results)


@pytest.mark.parametrize("relative", _cases(_XMILE))
def test_xmile_model_matches_canonical_output(
    relative: str, suite_results: dict[str, str | None]
) -> None:
    _assert_passes(relative, suite_results)


def test_compare_detects_a_wrong_value() -> None:
    times = pd.Index([0.0, 1.0, 2.0])
    canon = pd.DataFrame({"Stock": [1.0, 2.0, 3.0], "Rate": [1.0, np.nan, np.nan]}, times)
    good = pd.DataFrame({"stock": [1.0, 2.0, 3.0], "rate": [1.0, 1.0, 1.0]}, times)
    assert compare(good, canon.ffill()) == []
    bad = good.assign(stock=[1.0, 2.0, 3.1])
    assert compare(bad, canon.ffill()) == ["'Stock': got 3.1, expected 3.0"]
    assert compare(good.drop(columns="rate"), canon) == ["missing column 'Rate'"]
