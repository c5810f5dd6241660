"""The public SDXorg test suite, shared by the suite tests of the PySD and native backends.

Also :func:`yaml_round_trip`: each imported model written as YAML and read back (the
comparison :func:`describe_model` defines), and :func:`xmile_round_trip`: written as XMILE,
read back and run natively, in the same pass.

Owns where the suite is (``$SDHEALTH_TEST_MODELS/tests``), which models it holds, how Vensim's
canonical output is read and compared, and :func:`suite_outcomes`: every model imported once
with ``sd.load`` and run on both backends, in a process pool, once per process. Translation
through PySD costs about a second per model and the suite has ~200 models, so the PySD and the
native suite tests share this one pass (the native run adds a few hundredths of a second).
"""

from __future__ import annotations

import functools
import io
import os
import re
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sympy

__all__ = [
    "SUITE",
    "RTOL",
    "ATOL",
    "PARITY_RTOL",
    "PARITY_ATOL",
    "VENSIM",
    "XMILE",
    "Outcome",
    "suite_models",
    "normalise",
    "canonical_output",
    "compare",
    "compare_backends",
    "check_model",
    "suite_outcomes",
    "describe_model",
    "yaml_round_trip",
    "xmile_round_trip",
    "check_with_pysd",
]

ROOT = Path(__file__).resolve().parents[1]
_DEFAULT = ROOT.parent / "shared" / "test-models"
SUITE = Path(os.environ.get("SDHEALTH_TEST_MODELS", _DEFAULT)) / "tests"

#: Tolerance against Vensim's canonical output.
RTOL, ATOL = 1e-3, 1e-6
#: Tolerance between the native and the PySD backend (issue 5, point 3).
PARITY_RTOL, PARITY_ATOL = 1e-9, 1e-12
_CONTROL = {"final time", "initial time", "time step", "saveper"}
VENSIM = (".mdl",)
XMILE = (".xmile", ".xml", ".stmx")


@dataclass(frozen=True)
class Outcome:
    """What happened to one suite model: ``None`` means passed / agreed, else the reason.

    ``parity`` is ``None`` also when one of the backends did not run the model (there is
    nothing to compare); ``both_ran`` tells the cases apart.
    """

    pysd: str | None
    native: str | None
    parity: str | None
    both_ran: bool
    yaml: str | None = "not imported"  # the YAML round trip: None if it kept the model
    xmile: str | None = "not imported"  # the XMILE round trip: None if it ran the same
    remembered: str | None = "not imported"  # from the model cache: None if equal, same run


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


def _decoded(data: bytes) -> str:
    """A canonical output's text: UTF-8, else Vensim's Windows code page (Latin-1 names)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def canonical_output(folder: Path) -> pd.DataFrame:
    """Vensim's canonical output for the model in ``folder``: index time, constants filled."""
    csv = folder / "output.csv"
    path, sep = (csv, ",") if csv.is_file() else (folder / "output.tab", "\t")
    text = _decoded(path.read_bytes())  # some files end lines in CR
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
            excess = np.abs(got[valid] - expected[valid]) - ATOL - RTOL * np.abs(expected[valid])
            worst = int(np.nanargmax(np.where(np.isnan(got[valid]), np.inf, excess)))
            problems.append(
                f"{column!r}: got {float(got[valid][worst])!r}, "
                f"expected {float(expected[valid][worst])!r}"
            )
    return problems


def compare_backends(native: pd.DataFrame, pysd: pd.DataFrame) -> list[str]:
    """Differences between two runs of one model beyond :data:`PARITY_RTOL` (empty if none)."""
    if list(native.columns) != list(pysd.columns):
        extra = sorted(set(native.columns) ^ set(pysd.columns))
        return [f"columns differ: {extra[:3]!r}" if extra else "columns in another order"]
    if not np.array_equal(native.index.to_numpy(float), pysd.index.to_numpy(float)):
        return [f"times differ: {len(native.index)} rows against {len(pysd.index)}"]
    problems = []
    for column in native.columns:
        ours, theirs = native[column].to_numpy(float), pysd[column].to_numpy(float)
        if not np.allclose(ours, theirs, rtol=PARITY_RTOL, atol=PARITY_ATOL, equal_nan=True):
            worst = int(np.nanargmax(np.abs(ours - theirs)))
            problems.append(
                f"{column!r}: native {float(ours[worst])!r}, pysd {float(theirs[worst])!r}"
            )
    return problems


def _reason(error: Exception) -> str:
    last = traceback.format_exception_only(type(error), error)[-1].strip()
    return f"{type(error).__name__}: {last[:300]}"


def _run(model: object, backend: str) -> tuple[pd.DataFrame | None, str | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.run(backend=backend), None  # type: ignore[attr-defined]
    except Exception as error:  # every failure becomes a reason to report
        return None, _reason(error)


def _verdict(result: pd.DataFrame | None, error: str | None, canon: pd.DataFrame) -> str | None:
    if result is None:
        return error
    return "; ".join(compare(result, canon)[:3]) or None


def _floats(expr: Any) -> Any:
    """``expr`` with every number a float (Vensim text does not tell 1 from 1.0)."""
    if expr is None:
        return None
    numbers = expr.atoms(sympy.Number, sympy.NumberSymbol)  # pi is written as 3.14159...
    return expr.xreplace({n: sympy.Float(float(n)) for n in numbers})


def _definitions(variable: Any) -> tuple[Any, ...]:
    return tuple(
        (
            d.subscripts,
            d.excepts,
            _floats(d.equation.expr) if d.equation else None,
            _floats(d.initial.expr) if d.initial else None,
            d.points,
            d.data,
        )
        for d in variable.definitions
    )


def _own(variable: Any) -> tuple[Any, ...]:
    """What a variable's kind holds besides its definitions."""
    from sdhealth.ir.model import Constant, Lookup, Stock

    if isinstance(variable, Stock):
        return (_floats(variable.initial.expr), variable.inflows, variable.outflows)
    if isinstance(variable, Constant):
        return (variable.value,)
    if isinstance(variable, Lookup):
        return (variable.xs, variable.ys, variable.extrapolation)
    return (_floats(variable.equation.expr),)


def describe_model(model: Any) -> dict[str, Any]:
    """What a round trip through a model format must keep, as comparable values.

    Everything but equation texts and source locations (which a written file changes) and
    the ``internal`` mark of import-made variables (a written file shows them).
    """
    time = model.time
    equations = tuple((s, _floats(e.expr)) for s, e in time.equations)
    described: dict[str, Any] = {
        "@subscripts": model.subscripts,
        "@time": (time.start, time.stop, time.dt, time.saveper, time.units, equations),
    }
    for v in model.variables:
        described[v.key] = (
            type(v).__name__,
            v.name,
            v.units,
            v.doc,
            v.source,
            v.limits,
            v.dims,
            _definitions(v),
            _own(v),
        )
    return described


def yaml_round_trip(model: Any, path: Path) -> str | None:
    """How ``model`` changes when written as YAML and read back (``None``: it does not)."""
    from sdhealth.io.yaml import model_from_yaml_text, model_to_yaml_text

    try:
        text = model_to_yaml_text(model)
        again = model_from_yaml_text(text, path=str(path.with_suffix(".yaml")))
    except Exception as error:
        return _reason(error)
    before, after = describe_model(model), describe_model(again)
    changed = [key for key in {**before, **after} if before.get(key) != after.get(key)]
    if not changed:
        return None
    key = changed[0]
    return f"{key!r} changed: {str(before.get(key))[:150]} -> {str(after.get(key))[:150]}"


def xmile_round_trip(model: Any, native: pd.DataFrame | None, path: Path) -> str | None:
    """How the native run of ``model`` changes when it is written as XMILE and read back by
    sdhealth's XMILE reader: ``None`` if it does not, ``"refused: ..."`` if the writer says
    XMILE cannot hold the model (a located error), else what differs or failed."""
    import tempfile

    import sdhealth as sd
    from sdhealth.io.xmile import read_xmile
    from sdhealth.io.xmile_writer import write_xmile
    from sdhealth.ir.vensim import UnwritableExpression

    if native is None:
        return "not run natively"
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"{path.stem}.xmile"
        try:
            write_xmile(model.ir, target)
        except UnwritableExpression as error:
            return f"refused: {error}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                back = sd.Model(read_xmile(target))
        except Exception as error:  # every failure becomes a reason to report
            return f"read back: {_reason(error)}"
        again, failure = _run(back, "native")
    if again is None:
        return f"read back, then: {failure}"
    if list(again.columns) != list(native.columns):
        return f"columns changed: {sorted(set(native.columns) ^ set(again.columns))[:3]}"
    return "; ".join(compare_backends(native, again)[:3]) or None


def remembered_round_trip(model: Any, native: pd.DataFrame | None) -> str | None:
    """How ``model`` changes when pickled and read back as the model cache reads it
    (:mod:`sdhealth.io.caches`, unevaluated sympy): ``None`` if equal and run the same."""
    import pickle

    import sdhealth as sd
    from sdhealth.io.caches import _unpickled

    again = _unpickled(pickle.dumps(model.ir, protocol=5))
    if again != model.ir:
        return "not equal after the cache's unpickling"
    if native is None:
        return None
    result, failure = _run(sd.Model(again), "native")
    if result is None:
        return f"failed from the cache: {failure}"
    if not np.array_equal(result.to_numpy(), native.to_numpy(), equal_nan=True):
        return "runs differently from the cache"
    return None


#: XMILE files whose ``<sim_specs>`` say RK4 while their canonical output is Vensim's Euler
#: run of the ``.mdl`` they were translated from: run with Euler to compare (sdhealth honours
#: the file's method; the four without stocks give the same numbers either way).
EULER_REFERENCES = frozenset(
    f"{name}/test_{name}.xmile"
    for name in ("arithmetics_exp", "min_max_1arg", "rounding", "subscripted_trig",
                 "zeroled_decimals")
)  # fmt: skip


def check_model(relative: str) -> Outcome:
    """Import one model, run it on both backends and compare (see :class:`Outcome`)."""
    import sdhealth as sd

    path = SUITE / relative
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = sd.load(path)
    except Exception as error:
        reason = _reason(error)
        return Outcome(reason, reason, None, both_ran=False)
    if relative in EULER_REFERENCES:
        model = sd.Model(replace(model.ir, time=replace(model.ir.time, method="euler")))
    yaml = yaml_round_trip(model.ir, path)
    pysd, pysd_error = _run(model, "pysd")
    native, native_error = _run(model, "native")
    canon = canonical_output(path.parent)
    parity, both_ran = None, pysd is not None and native is not None
    if pysd is not None and native is not None:
        parity = "; ".join(compare_backends(native, pysd)[:3]) or None
    return Outcome(
        _verdict(pysd, pysd_error, canon),
        _verdict(native, native_error, canon),
        parity,
        both_ran,
        yaml,
        xmile_round_trip(model, native, path),
        remembered_round_trip(model, native),
    )


@functools.cache
def suite_outcomes() -> dict[str, Outcome]:
    """Every suite model checked once per process, two at a time."""
    models = suite_models(VENSIM) + suite_models(XMILE)
    with ProcessPoolExecutor(max_workers=2) as pool:
        return dict(zip(models, pool.map(check_model, models, chunksize=4), strict=True))


def check_with_pysd(relative: str) -> str | None:
    """PySD run directly on the suite model (no sdhealth): ``None`` if it matches Vensim.

    The reference count of the issue ("at least as many passes as PySD itself"), compared the
    same way as :func:`check_model`. The model's folder is copied first: PySD writes its
    translation next to the model. Run ``python tests/sdxorg.py`` for both counts.
    """
    import shutil
    import tempfile

    import pysd

    source = SUITE / relative
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "model"
        shutil.copytree(source.parent, copy)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                read = pysd.read_vensim if source.suffix.lower() == ".mdl" else pysd.read_xmile
                result = read(str(copy / source.name)).run(flatten_output=True)
        except Exception as error:
            return _reason(error)
    return "; ".join(compare(result, canonical_output(source.parent))[:3]) or None


def _counts(results: dict[str, str | None]) -> str:
    vensim = [r for r in results if Path(r).suffix.lower() in VENSIM]
    xmile = [r for r in results if r not in vensim]
    passed = sum(results[r] is None for r in vensim), sum(results[r] is None for r in xmile)
    return f"{passed[0]} of {len(vensim)} .mdl, {passed[1]} of {len(xmile)} XMILE"


if __name__ == "__main__":
    models = suite_models(VENSIM) + suite_models(XMILE)
    with ProcessPoolExecutor(max_workers=2) as pool:
        direct = dict(zip(models, pool.map(check_with_pysd, models, chunksize=4), strict=True))
    ours = {relative: outcome.pysd for relative, outcome in suite_outcomes().items()}
    print(f"sdhealth (PySD backend): {_counts(ours)}")
    print(f"PySD directly:           {_counts(direct)}")
    for relative in models:
        if (ours[relative] is None) != (direct[relative] is None):
            print(f"  differ: {relative}: sdhealth {ours[relative]!r}, PySD {direct[relative]!r}")
