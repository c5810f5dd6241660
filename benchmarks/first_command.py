"""A new user's first command, as a whole process: what issue 28 asks to make quick.

The README's main command, ``sdhealth run models/nhs_england.yaml --out ... --plot ...``, is
timed as a new process with empty caches (sdhealth's compiled models and numba's compiled
kernel, as on a fresh machine) and with warm ones; beside it, in the same run, PySD reading and
running the same model printed as Vensim text in a new process (its whole first command), and
pysimlin's where it is installed. Each figure is the best of ``repeat`` processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sdhealth.benchmarks import Row
from sdhealth.benchmarks.suite import HAS_SIMLIN

__all__ = [
    "first_command_rows",
    "edit_to_result_rows",
    "mdl_load_rows",
    "xmile_load_rows",
    "workbench_rows",
]

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "nhs_england.yaml"

_PYSD = "import sys, pysd; pysd.read_vensim(sys.argv[1]).run()"
_SIMLIN = "import sys, simlin\nwith simlin.load(sys.argv[1]).simulate() as s:\n    s.run_to_end()\n"


#: A new process reading a ``.mdl`` file: prints the seconds of the load and of the first run.
_SD_LOAD = """
import sys, time
import sdhealth as sd
begin = time.perf_counter()
model = sd.load(sys.argv[1], front_end=sys.argv[2])
loaded = time.perf_counter()
if sys.argv[3] == "run":
    model.run()
print(loaded - begin, time.perf_counter() - loaded)
"""
_SIMLIN_LOAD = """
import sys, time
import simlin
begin = time.perf_counter()
project = simlin.load(sys.argv[1])
loaded = time.perf_counter()
with project.simulate() as sim:
    sim.run_to_end()
print(loaded - begin, time.perf_counter() - loaded)
"""


def _timings(arguments: list[str], environment: dict[str, str]) -> tuple[float, float]:
    """The two figures a timing script prints (load, run), measured inside its process."""
    done = subprocess.run(arguments, env=environment, check=True, capture_output=True,
                          cwd=ROOT, text=True)  # fmt: skip
    load, run = done.stdout.split()[-2:]
    return float(load), float(run)


def mdl_load_rows(sizes: tuple[int, ...] = (1000,), repeat: int = 3) -> list[Row]:
    """The chain as a Vensim ``.mdl`` file: see :func:`model_file_rows`."""
    return model_file_rows(".mdl", sizes, repeat)


def xmile_load_rows(sizes: tuple[int, ...] = (1000,), repeat: int = 3) -> list[Row]:
    """The chain as an XMILE file (3,004 variables at size 1000): see :func:`model_file_rows`."""
    return model_file_rows(".xmile", sizes, repeat)


def model_file_rows(suffix: str, sizes: tuple[int, ...], repeat: int) -> list[Row]:
    """A cold ``sd.load`` of the generated chain written as ``suffix`` plus its first run, and
    the load again in a new process that finds the model cache (``io/caches.py``).

    Each cold attempt is a new process with sdhealth's caches empty (numba's kernel, compiled
    once per installation, as after any first use); the figures are measured inside it, after
    the imports. Beside it, in the same run: the load through PySD's translator
    (``front_end="pysd"``) and pysimlin's load and first run of the same file.
    """
    from sdhealth.benchmarks.chain import chain_model
    from sdhealth.io.xmile_writer import model_to_xmile
    from sdhealth.ir.vensim import model_to_vensim

    kind = suffix.lstrip(".")
    write = model_to_vensim if suffix == ".mdl" else model_to_xmile
    rows = []
    for size in sizes:
        name = f"chain {size}"
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            source = folder / f"chain{size}{suffix}"
            source.write_text(write(chain_model(size)), encoding="utf-8")
            ours, theirs, again = [], [], []
            for attempt in range(repeat):
                fresh = {**os.environ, "SDHEALTH_CACHE_DIR": str(folder / f"cache-{attempt}")}
                ours.append(_timings([sys.executable, "-c", _SD_LOAD, str(source), "sdhealth",
                                      "run"], fresh))  # fmt: skip
                again.append(_timings([sys.executable, "-c", _SD_LOAD, str(source), "sdhealth",
                                       "run"], fresh))  # fmt: skip
                theirs.append(_timings([sys.executable, "-c", _SD_LOAD, str(source), "pysd",
                                        "load"], fresh))  # fmt: skip
            best = min(ours, key=sum)
            rows.append(Row(name, "sdhealth", f"load .{kind} + first run (cold)", sum(best),
                            f"new process, model caches empty: load {best[0]:.2f} s, run "
                            f"{best[1]:.2f} s"))  # fmt: skip
            rows.append(Row(name, "sdhealth", f"load .{kind} (cold)", min(t[0] for t in ours)))
            warm = min(again, key=sum)
            rows.append(Row(name, "sdhealth", f"load .{kind} + first run (model cache)", sum(warm),
                            f"new process, the file read before: load {warm[0]:.2f} s, run "
                            f"{warm[1]:.2f} s"))  # fmt: skip
            rows.append(Row(name, "PySD", f"load .{kind} through PySD's translator (cold)",
                            min(t[0] for t in theirs), "sd.load(front_end='pysd')"))  # fmt: skip
            if HAS_SIMLIN:
                try:
                    simlin = [_timings([sys.executable, "-c", _SIMLIN_LOAD, str(source)],
                                       dict(os.environ)) for _ in range(repeat)]  # fmt: skip
                    rows.append(Row(name, "pysimlin", f"load .{kind} + first run (cold)",
                                    min(sum(t) for t in simlin), "new process"))  # fmt: skip
                except subprocess.CalledProcessError as error:
                    rows.append(Row(name, "pysimlin", "failed", float("nan"),
                                    (error.stderr or "")[-60:]))  # fmt: skip
    return rows


def _process(arguments: list[str], environment: dict[str, str]) -> float:
    begin = time.perf_counter()
    subprocess.run(arguments, env=environment, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - begin


def first_command_rows(repeat: int = 3) -> list[Row]:
    """Rows for the README command (empty and warm cache) and PySD's and pysimlin's own."""
    import sdhealth as sd

    name = "nhs_england (README command)"
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        command = [sys.executable, "-m", "sdhealth", "run", str(MODEL),
                   "--out", str(folder / "out.csv"), "--plot", str(folder / "out.png")]  # fmt: skip
        empty = []
        for attempt in range(repeat):
            fresh = {"SDHEALTH_CACHE_DIR": str(folder / f"cache-{attempt}"),
                     "NUMBA_CACHE_DIR": str(folder / f"numba-{attempt}")}  # fmt: skip
            empty.append(_process(command, {**os.environ, **fresh}))
        warm_env = {**os.environ, "SDHEALTH_CACHE_DIR": str(folder / "cache-0"),
                    "NUMBA_CACHE_DIR": str(folder / "numba-0")}  # fmt: skip
        warm = [_process(command, warm_env) for _ in range(repeat)]
        rows.append(Row(name, "sdhealth", "first command (empty cache)", min(empty),
                        "whole process: import, load, check, loops, run, CSV, PNG"))  # fmt: skip
        rows.append(Row(name, "sdhealth", "first command (warm cache)", min(warm)))
        mdl = folder / "nhs_england.mdl"
        sd.load(MODEL).to_mdl(mdl)
        pysd_times = [_process([sys.executable, "-c", _PYSD, str(mdl)], dict(os.environ))
                      for _ in range(repeat)]  # fmt: skip
        rows.append(Row(name, "PySD", "first command (read_vensim + run)", min(pysd_times),
                        "whole process, the model printed as .mdl"))  # fmt: skip
        if HAS_SIMLIN:
            try:
                simlin_times = [_process([sys.executable, "-c", _SIMLIN, str(mdl)],
                                         dict(os.environ)) for _ in range(repeat)]  # fmt: skip
                rows.append(Row(name, "pysimlin", "first command (load + run)",
                                min(simlin_times)))  # fmt: skip
            except subprocess.CalledProcessError as error:
                rows.append(Row(name, "pysimlin", "failed", float("nan"),
                                (error.stderr or b"").decode()[-60:]))  # fmt: skip
    return rows


def edit_to_result_rows(repeat: int = 3) -> list[Row]:
    """Edit one constant of the NHS model's file and load and run it again, in one process
    (the model was loaded and run once before, as in an editor session or ``run --watch``)."""
    import sdhealth as sd

    text = MODEL.read_text(encoding="utf-8")
    marker = "value: 0.92"  # the target bed occupancy
    if marker not in text:
        return [Row("nhs_england", "sdhealth", "edit to result", float("nan"), "no marker")]
    sd.load(MODEL).run()
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        edited = Path(scratch) / "nhs_england.yaml"
        for attempt in range(repeat):
            edited.write_text(text.replace(marker, f"value: 0.9{attempt}", 1), encoding="utf-8")
            begin = time.perf_counter()
            sd.load(edited).run()
            times.append(time.perf_counter() - begin)
    rows = [Row("nhs_england", "sdhealth", "edit one constant, load and run again",
                min(times), "same process, after a first load and run")]  # fmt: skip
    return rows + _edited_mdl_rows(sd.load(MODEL), repeat)


def _edited_mdl_rows(model: Any, repeat: int) -> list[Row]:
    """The same edit in the model printed as Vensim text, for sdhealth, PySD and pysimlin in
    turn: each loads and runs the first file, then each edited file is loaded and run again in
    the same process (PySD translates every file anew; the text changes)."""
    from dataclasses import replace

    target = "Target occupancy for elective scheduling"
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        files = []
        for attempt in range(repeat + 1):
            variables = tuple(
                replace(v, value=0.90 + attempt / 100) if v.name == target else v
                for v in model.ir.variables
            )
            path = Path(scratch) / f"nhs_england_{attempt}.mdl"
            model.with_ir(replace(model.ir, variables=variables)).to_mdl(path)
            files.append(path)
        engines: dict[str, Any] = {"sdhealth": _sdhealth_mdl_run, "PySD": _pysd_mdl_run}
        if HAS_SIMLIN:
            engines["pysimlin"] = _simlin_mdl_run
        for engine, run in engines.items():
            try:
                run(files[0])
                times = []
                for path in files[1:]:
                    begin = time.perf_counter()
                    run(path)
                    times.append(time.perf_counter() - begin)
                rows.append(Row("nhs_england (.mdl)", engine,
                                "edit one constant, load and run again", min(times),
                                "same process, after a first load and run"))  # fmt: skip
            except Exception as error:  # another engine's failure is a row, not a crash
                rows.append(Row("nhs_england (.mdl)", engine, "failed", float("nan"),
                                str(error)[-60:]))  # fmt: skip
    return rows


def _sdhealth_mdl_run(path: Path) -> None:
    import sdhealth as sd

    sd.load(path).run()


def _pysd_mdl_run(path: Path) -> None:
    import warnings

    import pysd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pysd.read_vensim(str(path)).run()


def _simlin_mdl_run(path: Path) -> None:
    import simlin

    with simlin.load(str(path)).simulate() as sim:
        sim.run_to_end()


def workbench_rows(repeat: int = 20) -> list[Row]:
    """A slider move in ``sdhealth serve``: ``POST /api/run`` of the NHS model with one constant
    changed, three variables back, the base run beside them (through the HTTP client, after
    the workbench has loaded the compiled kernel)."""
    from starlette.testclient import TestClient

    from sdhealth.workbench import Workbench, create_app

    bench = Workbench.open(MODEL)
    bench.warm()
    client = TestClient(create_app(bench), base_url="http://127.0.0.1:8765")
    target = "Target occupancy for elective scheduling"
    body = {"params": {target: 0.85}, "variables": ["RTT waiting list", "Bed occupancy"]}
    client.post("/api/run", json=body)
    times = []
    for attempt in range(repeat):
        body["params"][target] = 0.80 + attempt * 0.005
        begin = time.perf_counter()
        client.post("/api/run", json=body).raise_for_status()
        times.append(time.perf_counter() - begin)
    times.sort()
    median = times[len(times) // 2]
    figure = "workbench: a slider move, request to answer"
    return [Row("nhs_england", "sdhealth", figure, median, f"median of {repeat}; asked: <= 0.1 s")]
