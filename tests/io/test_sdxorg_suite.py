# ruff: noqa: E501  (the measured failure messages in KNOWN_FAILURES are long)
"""The public SDXorg test suite: every Vensim and XMILE model, imported, run on PySD, compared.

Each model under ``$SDHEALTH_TEST_MODELS/tests`` is loaded with ``sd.load`` (PySD's translator
-> AbstractModel -> IR), run on the PySD backend from the IR (IR -> Vensim text -> PySD), and
every column of Vensim's canonical output (``output.csv`` / ``output.tab``) is compared with
``rtol=1e-3, atol=1e-6``. Constants Vensim writes only in the first row are filled down.

Models are imported and run in a process pool once per session (two workers): translation
through PySD costs about a second per model and the suite has ~200 models. Known failures are
listed in :data:`KNOWN_FAILURES` with their reason and marked ``xfail(strict=True)``, so a
model that starts passing must be taken off the list.
"""

from __future__ import annotations

import io
import os
import re
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
_DEFAULT = ROOT.parent / "shared" / "test-models"
SUITE = Path(os.environ.get("SDHEALTH_TEST_MODELS", _DEFAULT)) / "tests"

RTOL, ATOL = 1e-3, 1e-6
_CONTROL = {"final time", "initial time", "time step", "saveper"}
_VENSIM = (".mdl",)
_XMILE = (".xmile", ".xml", ".stmx")

#: Known failures (measured): model path relative to the suite -> the failure seen.
KNOWN_FAILURES: dict[str, str] = {
    "active_initial_circular/test_active_initial_circular.mdl": "ModelError: circular initial values: active initial variable -> smooth variable -> active initial variable",
    "allocate_available/test_allocate_available.mdl": "'allocation mixed[Boston,A,large]': got 7.688280379537144, expected 7.69591; 'allocation mixed[Boston,B,large]': got 5.244179629974388, expected 5.250",
    "arguments/test_arguments.mdl": "'Outer Multiple Middle Multiple Inner Multiple': got 1.0209630556332623, expected 1.01367",
    "conditional_subscripts/test_conditional_subscripts.mdl": "ModelError: cannot import 'Vector2': a reference to unknown name 'b' is not supported",
    "control_vars/test_control_vars.mdl": "ModelError: cannot import 'INITIAL TIME': a clock setting that is not a number is not supported",
    "data_from_other_model/model_to_generate_data.mdl": "SimulationError: the run failed at time 0: could not broadcast input array from shape (3,2,1) into shape (3,2)",
    "data_from_other_model/test_data_from_other_model.mdl": "ModelError: cannot import 'var 0dim': a data variable without an equation (data given at run time) is not supported",
    "dynamic_final_time/test_dynamic_final_time.mdl": "ModelError: cannot import 'FINAL TIME': a clock setting that is not a number is not supported",
    "except_multiple/test_except_multiple.mdl": "BackendError: PySD could not translate the model: Rule 'entry' matched in its entirety, but it didn't consume all the text. The non-matching portion o",
    "exp/test_exp.mdl": "'StockA': got -0.9000000000000009, expected -0.900003",
    "get_constants_incomplete_subscript/test_get_constants_incomplete_subscript.mdl": "SimulationError: 'var only women[a,male]' became not finite at time 0",
    "get_subscript_3d_arrays_xls/test_get_subscript_3d_arrays_xls.mdl": "ModelError: cannot import subscript range 'Third Dimension Subscript': ranges read from external files (GET ... SUBSCRIPT) are not supported",
    "get_time_value/test_get_time_value.mdl": "NotImplementedError: 'relativeto=1' not implemented...",
    "lookups_with_expr/test_lookups_with_expr.mdl": "'lookup expr': got 5.96089795005321, expected 5.96092",
    "na/test_na.mdl": "SimulationError: 'variable' became not a number (NaN) at time 6",
    "odd_number_quotes/teacup_3quotes.mdl": "ValueError: Vensim has no literal for the number inf",
    "partial_range_definitions/test_partial_range_definitions.mdl": "SimulationError: 'data[B]' became not finite at time 0",
    "smaller_range/test_smaller_range.mdl": "SimulationError: 'my var[B]' became not finite at time 0",
    "subscripted_delays/test_subscripted_delays.mdl": "'Stock DelayN[Roxbury Russet,Lemon]': got -17.4930477142334, expected -17.493; 'Stock DelayN[Roxbury Russet,Lime]': got -17.4930477142334, expected -1",
    "unicode_characters/unicode_test_model.mdl": "missing column 'this is a french variable with � � �'; missing column 'this is a german variable with � � �'; missing column 'this is a spanish variab",
    "active_initial/test_active_initial.stmx": "'Stock A': got 0.0, expected 45.0",
    "active_initial/test_active_initial.xmile": "'Stock A': got 0.0, expected 45.0",
    "comparisons/comparisons.stmx": "missing column 'eq'; missing column 'gt'; missing column 'gte'",
    "eval_order/eval_order.stmx": "missing column 'auxiliary'",
    "exp/test_exp.stmx": "'StockA': got -0.9000000000000009, expected -0.900003",
    "exp/test_exp.xmile": "'StockA': got -0.9000000000000009, expected -0.900003",
    "logicals/test_logicals.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'logic_oper' didn't match at 'not THEN 1 ELSE 0 )' (line 1, column 18).",
    "lookups/test_lookups.stmx": "VisitationError: TypeError: LookupsStructure.__init__() missing 3 required positional arguments: 'x_limits', 'y_limits', and 'type'\n\nParse tree:\n<Node",
    "lookups/test_lookups_no-indirect.stmx": "missing column 'accumulation'; missing column 'lookup function call'; missing column 'rate'",
    "macro_expression/test_macro_expression.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' matched in its entirety, but it didn't consume all the text. The non-matching portion ",
    "macro_expression/test_macro_expression.xmile": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' matched in its entirety, but it didn't consume all the text. The non-matching portion ",
    "macro_multi_expression/test_macro_multi_expression.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' matched in its entirety, but it didn't consume all the text. The non-matching portion ",
    "macro_multi_expression/test_macro_multi_expression.xmile": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' matched in its entirety, but it didn't consume all the text. The non-matching portion ",
    "macro_multi_macros/test_macro_multi_macros.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' matched in its entirety, but it didn't consume all the text. The non-matching portion ",
    "macro_multi_macros/test_macro_multi_macros.xmile": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' matched in its entirety, but it didn't consume all the text. The non-matching portion ",
    "macro_stock/test_macro_stock.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' matched in its entirety, but it didn't consume all the text. The non-matching portion ",
    "macro_stock/test_macro_stock.xmile": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' matched in its entirety, but it didn't consume all the text. The non-matching portion ",
    "smooth_and_stock/test_smooth_and_stock.stmx": "missing column 'Input'; missing column 'Smoothed Input'; missing column 'Smoothing Time'",
    "smooth_and_stock/test_smooth_and_stock.xmile": "missing column 'Input'; missing column 'Smoothed Input'; missing column 'Smoothing Time'",
    "special_characters_xmile/test_special_variable_names.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' matched in its entirety, but it didn't consume all the text. The non-matching portion ",
    "subscript_1d_arrays/test_subscript_1d_arrays.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_1d_arrays/test_subscript_1d_arrays.xmile": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_constant_call/test_subscript_constant_call.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_constant_call/test_subscript_constant_call.xmile": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_mixed_assembly/test_subscript_mixed_assembly.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_mixed_assembly/test_subscript_mixed_assembly.xmile": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_multiples/test_multiple_subscripts.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_multiples/test_multiple_subscripts.xmile": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_subranges/test_subscript_subrange.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_subranges/test_subscript_subrange.xmile": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_subranges_equal/test_subscript_subrange_equal.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_subranges_equal/test_subscript_subrange_equal.xmile": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_updimensioning/test_subscript_updimensioning.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscript_updimensioning/test_subscript_updimensioning.xmile": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscripted_flows/test_subscripted_flows.stmx": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
    "subscripted_flows/test_subscripted_flows.xmile": "ModelSyntaxError: XMILE equation syntax error: Rule 'expr_type' didn't match at '???' (line 1, column 1).",
}


def suite_models(suffixes: tuple[str, ...]) -> list[str]:
    """Paths (relative to the suite) of the models with these suffixes that have an output."""
    if not SUITE.is_dir():
        return []
    found = []
    for path in sorted(SUITE.rglob("*")):
        if path.suffix.lower() not in suffixes or not path.is_file():
            continue
        folder = path.parent
        if (folder / "output.csv").is_file() or (folder / "output.tab").is_file():
            found.append(str(path.relative_to(SUITE)))
    return found


def normalise(column: str) -> str:
    """A column name compared loosely: case, quotes, spaces and underscores do not matter.

    >>> normalise('"Stock A[Entry 1, Column 1]"') == normalise("stock_a[entry 1,column 1]")
    True
    """
    text = column.strip().strip('"').replace('"', "").lower()
    text = re.sub(r"[\s_]+", " ", text)
    return re.sub(r"\s*([\[\],])\s*", r"\1", text).strip()


def canonical_output(folder: Path) -> pd.DataFrame:
    """Vensim's canonical output for the model in ``folder``: index time, constants filled."""
    csv = folder / "output.csv"
    path, sep = (csv, ",") if csv.is_file() else (folder / "output.tab", "\t")
    text = path.read_bytes().decode("utf-8", errors="replace")  # some files end lines in CR
    frame = pd.read_csv(io.StringIO("\n".join(text.splitlines())), sep=sep, index_col=0)
    frame.index = pd.to_numeric(frame.index, errors="coerce")
    frame = frame[frame.index.notna()]
    frame = frame.apply(pd.to_numeric, errors="coerce")
    return frame.ffill()


def compare(result: pd.DataFrame, canon: pd.DataFrame) -> list[str]:
    """Differences between a run and the canonical output (empty when they agree)."""
    ours = {normalise(c): result[c] for c in result.columns}
    problems = []
    times = result.index.to_numpy(dtype=float)
    for column in canon.columns:
        key = normalise(str(column))
        if key in _CONTROL or key.startswith("unnamed"):
            continue
        if key not in ours:
            problems.append(f"missing column {column!r}")
            continue
        wanted = canon[column]
        rows = np.searchsorted(times, wanted.index.to_numpy(dtype=float))
        rows = np.clip(rows, 0, len(times) - 1)
        if not np.allclose(times[rows], wanted.index, rtol=0, atol=1e-9):
            problems.append(f"times differ for {column!r}")
            continue
        got = ours[key].to_numpy(dtype=float)[rows]
        expected = wanted.to_numpy(dtype=float)
        valid = ~np.isnan(expected)
        if not np.allclose(got[valid], expected[valid], rtol=RTOL, atol=ATOL, equal_nan=True):
            worst = int(np.nanargmax(np.abs(got[valid] - expected[valid])))
            problems.append(
                f"{column!r}: got {float(got[valid][worst])!r}, "
                f"expected {float(expected[valid][worst])!r}"
            )
    return problems


def check_model(relative: str) -> str | None:
    """Import, run and compare one model; ``None`` if it passes, else the reason."""
    import sdhealth as sd

    path = SUITE / relative
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = sd.load(path)
            result = model.run(backend="pysd")
    except Exception as error:  # every failure becomes a reason to report
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        return f"{type(error).__name__}: {last[:300]}"
    problems = compare(result, canonical_output(path.parent))
    return "; ".join(problems[:3]) or None


@pytest.fixture(scope="session")
def suite_results(test_models_dir: Path) -> dict[str, str | None]:
    """Every suite model checked once, two at a time."""
    models = suite_models(_VENSIM) + suite_models(_XMILE)
    with ProcessPoolExecutor(max_workers=2) as pool:
        return dict(zip(models, pool.map(check_model, models, chunksize=4), strict=True))


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
