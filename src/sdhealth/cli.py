"""The ``sdhealth`` command line: thin wrappers over the public API.

``main(argv) -> int`` never calls ``sys.exit`` and is tested in-process. Only this module
prints. A user error (bad file, unknown name, failed run) is one line on stderr and exit
status 2 -- never a traceback. ``sdhealth check`` exits 2 when the model has errors.

Output files (``--out``, ``--plot``, ``convert``'s target) are checked before any work is done:
a suffix the command cannot write is refused, naming those it can; a folder that does not
exist is refused too unless ``--mkdir`` is given (then it is created, and the command says so),
so that a mistyped path never leaves folders behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pandas as pd

from sdhealth import __version__
from sdhealth.errors import SdhealthError
from sdhealth.io.front_ends import FRONT_ENDS
from sdhealth.model import Model, check, load
from sdhealth.report.summary import dominance_rows, format_value, indicator_table

if TYPE_CHECKING:
    from sdhealth.analysis.loops import LoopSet

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_USER_ERROR, EXIT_INTERRUPTED = 0, 2, 130


class _UsageError(SdhealthError):
    """Bad command-line arguments (argparse's own errors become this)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message}")


def _param(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise _UsageError(f"--param expects NAME=VALUE, got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise _UsageError(f"--param {name.strip()!r}: {value!r} is not a number") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sdhealth",
        description="System-dynamics models of health and care systems: check and run them.",
    )
    parser.add_argument("--version", action="version", version=f"sdhealth {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="simulate a model and summarise the results")
    run.add_argument("model", help="model file (.yaml)")
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a constant for this run (repeatable)",
    )
    run.add_argument("--scenario", metavar="FILE", help="apply a scenario file (params, policies)")
    run.add_argument("--out", metavar="FILE", help="write results (.csv or .parquet)")
    run.add_argument("--plot", metavar="FILE", help="write a plot of the stocks (.png/.svg)")
    run.add_argument("--stop", type=float, help="final time (default: the model's)")
    run.add_argument("--dt", type=float, help="time step (default: the model's)")
    run.add_argument(
        "--method",
        choices=("euler", "rk2", "rk4"),
        help="integration method (default: the model's, else euler)",
    )
    run.add_argument(
        "--backend",
        choices=("native", "pysd"),
        help="simulation backend (default: native, the compiled one; pysd is the reference)",
    )
    run.add_argument("--no-loops", action="store_true", help="do not list feedback loops")
    run.add_argument(
        "--watch",
        action="store_true",
        help="run again whenever the model or scenario file is saved (Ctrl-C stops)",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="a value outside a variable's declared limits is an error, not a warning",
    )
    run.set_defaults(handler=_run)

    chk = commands.add_parser("check", help="check a model for errors and warnings")
    chk.add_argument("model", help="model file (.yaml)")
    chk.set_defaults(handler=_check)
    loops = commands.add_parser("loops", help="list a model's feedback loops with polarity")
    loops.add_argument("model", help="model file (.yaml)")
    loops.add_argument("--through", metavar="NAME", help="only loops through this variable")
    loops.add_argument(
        "--max-loops",
        type=int,
        default=10_000,
        metavar="N",
        help="stop the search after N loops (default 10000)",
    )
    loops.add_argument("--plot", metavar="FILE", help="draw the causal-loop diagram (.png/.svg)")
    loops.set_defaults(handler=_loops)

    dominance = commands.add_parser(
        "dominance", help="which feedback loops drive the behaviour when (Loops That Matter)"
    )
    dominance.add_argument("model", help="model file (.yaml, .mdl, ...) without subscripts")
    dominance.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    dominance.add_argument("--scenario", metavar="FILE", help="scenario file (.yaml)")
    dominance.add_argument("--stop", type=float, metavar="T", help="final time")
    dominance.add_argument(
        "--every", type=float, metavar="T", help="length of the periods of the table"
    )
    dominance.add_argument("--top", type=int, default=3, metavar="N", help="loops per period")
    dominance.add_argument(
        "--out",
        metavar="FILE",
        help="write the relative scores of the 100 strongest loops over time (.csv/.parquet)",
    )
    dominance.add_argument("--plot", metavar="FILE", help="relative loop scores (.png/.svg)")
    dominance.set_defaults(handler=_dominance)

    report = commands.add_parser(
        "report", help="write an HTML report: checks, indicators, parameters, loops, dominance"
    )
    report.add_argument("model", help="model file (.yaml, .mdl, ...)")
    report.add_argument("--out", required=True, metavar="FILE.html", help="the report to write")
    report.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    report.add_argument("--scenario", metavar="FILE", help="scenario file (.yaml)")
    report.add_argument(
        "--no-dominance", action="store_true", help="leave out the loop dominance section"
    )
    report.set_defaults(handler=_report)

    convert = commands.add_parser("convert", help="convert a model between .yaml, .mdl and .xmile")
    convert.add_argument("source", help="model file (.yaml, .mdl, .xmile, .stmx)")
    convert.add_argument("target", help="file to write (.yaml, .mdl, .xmile or .stmx)")
    convert.set_defaults(handler=_convert)

    compare = commands.add_parser(
        "compare",
        help="compare a run with another tool's export (Stella .csv/.xlsx, Vensim .tab)",
    )
    compare.add_argument(
        "run", help="results of 'sdhealth run --out' (.csv, .parquet) or a model to run"
    )
    compare.add_argument("reference", help="the other tool's run (.csv, .xlsx, .tab, .tsv)")
    compare.add_argument("--scenario", metavar="FILE", help="scenario of the run (a model)")
    compare.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance (1e-3)")
    compare.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance (1e-6)")
    compare.set_defaults(handler=_compare)

    bench = commands.add_parser("bench", help="time the backends (quick: small models)")
    bench.add_argument("--full", action="store_true", help="chains up to 1000 stocks (minutes)")
    bench.add_argument("--sizes", type=int, nargs="+", metavar="N", help="chain sizes to time")
    bench.add_argument("--batches", type=int, nargs="+", metavar="RUNS", help="batch sizes")
    bench.add_argument("--out", metavar="FILE", help="write the results table (.md)")
    bench.set_defaults(handler=_bench)

    serve = commands.add_parser(
        "serve", help="open a model in the browser workbench: sliders, runs and scenarios"
    )
    serve.add_argument("model", help="model file (.yaml, .mdl, .xmile, .stmx)")
    serve.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="FILE",
        help="a scenario to offer (repeatable; default: the YAML files of <model>/scenarios/)",
    )
    serve.add_argument(
        "--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0: any free one)"
    )
    serve.add_argument(
        "--save-to",
        metavar="FOLDER",
        help="where saved scenarios go (default: the scenarios folder beside the model)",
    )
    serve.set_defaults(handler=_serve)
    _add_calibrate(commands)
    _add_sweep(commands)
    _add_uncertainty(commands)
    for name in _RUNNING_COMMANDS:
        commands.choices[name].add_argument(
            "--approximate",
            action="store_true",
            help="run a model with constructs sdhealth does not yet compute as their tool "
            "does (Stella conveyors, queues, ...) as an approximation, with a warning",
        )
    for command in commands.choices.values():
        if any(action.dest in ("model", "source", "run") for action in command._actions):
            command.add_argument(
                "--front-end",
                choices=FRONT_ENDS,
                default="sdhealth",
                help="reader of .mdl and XMILE files: sdhealth's own (default) or PySD's",
            )
        if any(action.dest in _OUTPUT_OPTIONS for action in command._actions):
            command.add_argument(
                "--mkdir", action="store_true", help="create missing folders of the output files"
            )
    return parser


#: The commands that run the model they are given (and so take ``--approximate``).
_RUNNING_COMMANDS = (
    "run", "dominance", "report", "sweep", "calibrate", "montecarlo", "sensitivity", "compare"
)  # fmt: skip


def _load(args: argparse.Namespace) -> Model:
    """The command's model, run as an approximation if ``--approximate`` says so."""
    return load(args.model, approximate=getattr(args, "approximate", False),
                front_end=args.front_end)  # fmt: skip


# --------------------------------------------------------------------------- output files

#: The options that name a file a command writes.
_OUTPUT_OPTIONS = ("out", "plot", "target")


def _one_of(what: str, suffixes: Sequence[str]) -> Callable[[str], object]:
    """A check that a path ends in one of ``suffixes`` (case-insensitive)."""

    def check_suffix(path: str) -> None:
        suffix = Path(path).suffix.lower()
        if suffix not in suffixes:
            written = repr(suffix) if suffix else "a file without suffix"
            raise _UsageError(
                f"{path}: cannot write {what} as {written} (use one of {', '.join(suffixes)})"
            )

    return check_suffix


def _suffix_check(command: str, option: str) -> Callable[[str], object] | None:
    """How to check the suffix of the file ``--option`` of ``command`` names, before any work."""
    from sdhealth.io.results import DATASET_WRITERS, RESULT_WRITERS

    if option == "plot":
        if command == "loops":
            from sdhealth.cld.render import DRAWING_FORMATS

            return _one_of("a diagram", [f".{kind}" for kind in DRAWING_FORMATS])
        from sdhealth.report.plots import check_figure_path

        return check_figure_path
    if command == "montecarlo":
        from sdhealth.experiments.montecarlo import check_results_path

        return check_results_path
    if command == "sensitivity":
        from sdhealth.experiments.sensitivity import check_table_path

        return check_table_path
    return {
        "run": _one_of("results", sorted(RESULT_WRITERS)),
        "dominance": _one_of("loop scores", sorted(RESULT_WRITERS)),
        "sweep": _one_of("sweep results", sorted(DATASET_WRITERS)),
        "calibrate": _one_of("fitted values", [".yaml", ".yml", ".csv"]),
        "report": _one_of("a report", [".html", ".htm"]),
        "convert": _one_of("a model", sorted(_WRITERS)),
        "bench": _one_of("the benchmark table", [".md", ".txt"]),
    }.get(command)


def _check_outputs(args: argparse.Namespace, out: TextIO) -> None:
    """Refuse, before any work, an output file the command could not write.

    Every file an option names must have a suffix its writer knows (``--plot out.xyz`` names
    the formats it can write) and a folder that exists. A missing folder is refused rather
    than created, so that a mistyped path does not leave folders behind; ``--mkdir`` creates
    it (and says so).
    """
    for option in _OUTPUT_OPTIONS:
        path = getattr(args, option, None)
        if not path:
            continue
        check = _suffix_check(args.command, option)
        if check is not None:
            check(path)
        folder = Path(path).parent
        if folder.is_dir():
            continue
        if folder.exists():
            raise _UsageError(f"{path}: {folder} is not a folder")
        if not getattr(args, "mkdir", False):
            raise _UsageError(
                f"{path}: the folder {folder} does not exist (create it, or add --mkdir)"
            )
        folder.mkdir(parents=True, exist_ok=True)
        print(f"created the folder {folder}", file=out)


def _bench(args: argparse.Namespace, out: TextIO) -> int:
    from sdhealth.benchmarks import benchmark, machine_note, render

    if any(n < 1 for n in (*(args.sizes or ()), *(args.batches or ()))):
        raise _UsageError("bench: chain sizes and batch sizes must be at least 1")
    note = machine_note()
    rows = benchmark(not args.full, sizes=args.sizes, batches=args.batches)
    text = render(rows, [f"at start: {note}", f"at end: {machine_note()}"])
    if args.out:
        from sdhealth.io.atomic import write_text_atomic

        write_text_atomic(args.out, text)
    print(text, file=out)
    return EXIT_OK


_WRITERS = {
    ".mdl": Model.to_mdl,
    ".yaml": Model.to_yaml,
    ".yml": Model.to_yaml,
    ".xmile": Model.to_xmile,
    ".stmx": Model.to_xmile,
    ".xml": Model.to_xmile,
}


def _convert(args: argparse.Namespace, out: TextIO) -> int:
    writer = _WRITERS[Path(args.target).suffix.lower()]  # the suffix is checked up front
    writer(load(args.source, front_end=args.front_end), args.target)
    print(f"{args.source} -> {args.target}", file=out)
    return EXIT_OK


#: Files ``compare`` runs rather than reads.
_MODEL_SUFFIXES = (".yaml", ".yml", ".mdl", ".xmile", ".stmx", ".xml")
#: The status of ``compare`` when the runs differ (as ``diff`` has it).
EXIT_DIFFERENT = 1


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    """``serve``: the workbench on 127.0.0.1 until Ctrl-C; prints its address, opens nothing."""
    import socket

    import uvicorn

    from sdhealth.workbench import Workbench, create_app

    if not Path(args.model).is_file():
        raise SdhealthError(f"{args.model}: no such model file")
    if not 0 <= args.port <= 65535:
        raise SdhealthError(f"cannot listen on 127.0.0.1:{args.port}: ports run from 0 to 65535")
    bench = Workbench.open(args.model, tuple(args.scenario), args.save_to)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", args.port))
    except OSError as error:
        listener.close()
        raise SdhealthError(f"cannot listen on 127.0.0.1:{args.port}: {error.strerror}") from None
    listener.listen()  # connections wait from now on, even before the server takes them
    port = listener.getsockname()[1]
    errors = sum(issue.is_error for issue in bench.issues)
    state = f" ({errors} error{'s' * (errors != 1)} listed)" if errors else ""
    print(f"sdhealth workbench for {args.model}{state}: http://127.0.0.1:{port}/", file=out)
    print("Ctrl-C stops it", file=out, flush=True)
    config = uvicorn.Config(create_app(bench), log_level="warning")
    try:
        uvicorn.Server(config).run(sockets=[listener])
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
    return 0


def _compare(args: argparse.Namespace, out: TextIO) -> int:
    """``compare RUN REFERENCE``: status 0 when they agree, 1 when they differ, 2 on errors."""
    from sdhealth.report.comparison import compare_runs, read_reference

    reference = read_reference(args.reference)
    source = Path(args.run)
    if source.suffix.lower() in _MODEL_SUFFIXES:
        model = load(source, approximate=args.approximate, front_end=args.front_end)
        run = model.run(scenario=args.scenario)
    elif args.scenario:
        raise _UsageError("--scenario goes with a model to run, not with a results file")
    else:
        run = _read_results(source)
    result = compare_runs(run, reference, rtol=args.rtol, atol=args.atol)
    print("\n".join(result.lines()), file=out)
    return EXIT_OK if result.same else EXIT_DIFFERENT


def _read_results(path: Path) -> pd.DataFrame:
    """A results table ``sdhealth run --out`` wrote (time first)."""
    if not path.is_file():
        raise SdhealthError(f"{path}: no such results file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, index_col=0)
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
        return frame.set_index(frame.columns[0]) if "time" in frame.columns[:1] else frame
    raise SdhealthError(
        f"{path}: cannot read a run from {suffix or 'a file without suffix'!r} (use a model, "
        ".csv or .parquet)"
    )


def _loops(args: argparse.Namespace, out: TextIO) -> int:
    from sdhealth.analysis.loops import loop_table

    model = _load(args)
    if args.max_loops < 1:
        raise _UsageError("--max-loops must be at least 1")
    found = model.loops(through=args.through, max_loops=args.max_loops)
    print(f"{model.name}: {len(found)} feedback loop{'s' * (len(found) != 1)}", file=out)
    print(loop_table(found), file=out)
    if model.ir.report.loops and args.through is None:
        print("\nthe model's named loops (report: loops):", file=out)
        print(_named_loop_table(model, found), file=out)
    if args.plot:
        model.cld().draw(args.plot, loops=tuple(found))
        print(f"diagram written to {args.plot}", file=out)
    return EXIT_OK


def _dominance(args: argparse.Namespace, out: TextIO) -> int:
    from sdhealth.analysis.dominance import loop_dominance
    from sdhealth.io.results import write_results

    if args.top < 1:
        raise _UsageError("--top must be at least 1")
    if args.every is not None and not args.every > 0:
        raise _UsageError("--every must be positive")
    model = _load(args)
    params = dict(_param(p) for p in args.param)
    result = loop_dominance(model, params=params, scenario=args.scenario, stop=args.stop)
    if not result.loops:
        print(f"{model.name}: no feedback loops, so no loop dominance (nothing written)", file=out)
        return EXIT_OK
    print(f"{model.name}: {len(result.loops)} loops scored (Loops That Matter)", file=out)
    header, rows = dominance_rows(model, result, every=args.every, top=args.top)
    print(_table(header, rows, text_last=True), file=out)
    dominant = result.dominant()
    print(f"\ndominant over the whole run (>= 50% of the change): {', '.join(dominant)}", file=out)
    if args.out:
        strongest = list(result.mean_share().index[:OUT_LOOPS])
        write_results(result.relative[strongest], args.out)
        print(f"relative scores of {len(strongest)} loops written to {args.out}", file=out)
    if args.plot:
        result.save_plot(args.plot, time_units=model.time.units)
        print(f"plot written to {args.plot}", file=out)
    return EXIT_OK


#: How many loops (the strongest) ``sdhealth dominance --out`` writes.
OUT_LOOPS = 100


def _report(args: argparse.Namespace, out: TextIO) -> int:
    from sdhealth.report.html_report import write_report

    model = _load(args)
    params = dict(_param(p) for p in args.param)
    write_report(
        model, args.out, params=params, scenario=args.scenario, dominance=not args.no_dominance
    )
    print(f"report written to {args.out}", file=out)
    return EXIT_OK


def _table(header: list[str], rows: list[list[str]], *, text_last: bool = False) -> str:
    """Columns padded to width: the first left-aligned, the others right-aligned (numbers),
    and the last left-aligned too if ``text_last`` (a description, not padded)."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    last = len(header) - 1
    lines = [header, *rows]
    return "\n".join(
        "  ".join(
            cell if text_last and i == last else cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def _summary(model: Model, results: pd.DataFrame, out: TextIO) -> None:
    """Key indicators (the model's ``report``, else its stocks) at report times."""
    clock = model.time
    times = results.index
    print(
        f"{model.name}: simulated {times[0]:g} to {times[-1]:g} {clock.units} "
        f"({len(times)} saved points)",
        file=out,
    )
    table = indicator_table(model, results)
    if table.empty:
        return
    rows = [[str(name), *table.loc[name]] for name in table.index]
    title = "key indicators" if model.ir.report.indicators else "stocks"
    print(f"\n{title}:", file=out)
    print(_table(["", *table.columns], rows), file=out)


def _named_loop_table(model: Model, loops: LoopSet) -> str:
    """The model's ``report: loops:``, each traced through the diagram, with polarity and id."""
    from sdhealth.analysis.loops import find_named_loops

    rows = []
    for name, loop in find_named_loops(model.cld(), model.ir.report.loops, loops):
        if loop is None:
            rows.append([name, "not found", "", ""])
        else:
            sign = {1: "+", -1: "-"}.get(loop.polarity, "?")
            rows.append([name, f"{loop.kind} ({sign})", str(loop.length), loop.id or "-"])
    return _table(["named loop", "polarity", "length", "id"], rows)


def _loop_summary(model: Model, out: TextIO, shown: int = 8) -> None:
    """The model's named loops (``report: loops:``), else its shortest loops."""
    from sdhealth.analysis.loops import loop_table

    loops = model.loops()
    reinforcing = sum(loop.polarity > 0 for loop in loops)
    balancing = sum(loop.polarity < 0 for loop in loops)
    more = "+" if loops.truncated else ""
    print(
        f"\nfeedback loops: {len(loops)}{more} ({reinforcing} reinforcing, {balancing} balancing)",
        file=out,
    )
    if model.ir.report.loops:
        print(_named_loop_table(model, loops), file=out)
    elif loops:
        shortest = sorted(loops, key=lambda loop: (loop.length, loop.id))[:shown]
        print(loop_table(shortest), file=out)
        if len(loops) > shown:
            print(
                f"... the {shown} shortest of {len(loops)}{more}; "
                f"'sdhealth loops {model.path}' lists them all",
                file=out,
            )


def _run(args: argparse.Namespace, out: TextIO) -> int:
    if not args.watch:
        return _run_once(args, out)
    return _watch(args, out)


#: How often ``run --watch`` looks at the files (seconds; ``SDHEALTH_WATCH_INTERVAL``).
WATCH_INTERVAL = 0.25


def _stamps(paths: Sequence[str]) -> tuple[tuple[int, int] | None, ...]:
    """What changes when a file is saved: its modification time and size (None: missing)."""
    stamps = []
    for path in paths:
        try:
            status = os.stat(path)
        except OSError:
            stamps.append(None)
        else:
            stamps.append((status.st_mtime_ns, status.st_size))
    return tuple(stamps)


def _watch(args: argparse.Namespace, out: TextIO) -> int:
    """``run --watch``: run, then run again after every save of the model or scenario file.

    A run that fails (a syntax error while the file is half edited, a failed simulation)
    prints its one-line error and the watch goes on; Ctrl-C ends it with status 0.
    """
    interval = float(os.environ.get("SDHEALTH_WATCH_INTERVAL", WATCH_INTERVAL))
    watched = [p for p in (args.model, args.scenario) if p]
    try:
        while True:
            seen = _stamps(watched)
            try:
                _run_once(args, out)
            except SdhealthError as exc:
                print(f"{exc}", file=out)
            print(f"\nwatching {', '.join(watched)} (Ctrl-C stops)", file=out, flush=True)
            while _stamps(watched) == seen:
                time.sleep(interval)
            print(f"\n--- {', '.join(watched)} changed: running again", file=out)
    except KeyboardInterrupt:
        print("\nstopped watching", file=out)
        return EXIT_OK


def _run_once(args: argparse.Namespace, out: TextIO) -> int:
    from sdhealth.io.results import write_results
    from sdhealth.report.plots import save_run_plot

    model = _load(args)
    params = dict(_param(p) for p in args.param)
    backend = {"backend": args.backend} if args.backend else {}
    results = model.run(
        params=params,
        scenario=args.scenario,
        stop=args.stop,
        dt=args.dt,
        method=args.method,
        strict=args.strict,
        **backend,
    )
    _summary(model, results, out)
    if not args.no_loops:
        _loop_summary(model, out)
    if args.out:
        write_results(results, args.out)
        print(f"\nresults written to {args.out}", file=out)
    if args.plot:
        wanted = model.ir.report.indicators or model.stocks
        columns = [s for s in wanted if s in results.columns] or None
        save_run_plot(results, args.plot, columns, title=model.name, time_units=model.time.units)
        print(f"plot written to {args.plot}", file=out)
    return EXIT_OK


def _check(args: argparse.Namespace, out: TextIO) -> int:
    issues = check(args.model, front_end=args.front_end)
    for issue in issues:
        print(issue, file=out)
    if len(issues) == 1 and issues[0].code in ("syntax", "file"):
        return EXIT_USER_ERROR  # the file could not be read: that one line says it all
    errors = sum(issue.is_error for issue in issues)
    warnings = len(issues) - errors
    if not issues:
        print(f"{args.model}: no problems found", file=out)
    else:
        print(
            f"{args.model}: {errors} error{'s' * (errors != 1)}, "
            f"{warnings} warning{'s' * (warnings != 1)}",
            file=out,
        )
    return EXIT_USER_ERROR if errors else EXIT_OK


def _experiment_command(
    commands: argparse._SubParsersAction,
    name: str,
    summary: str,
    *,
    spec: str,
    out: str,
    plot: str,
    handler: Callable[[argparse.Namespace, TextIO], int],
) -> argparse.ArgumentParser:
    """``sdhealth NAME MODEL SPEC [--out FILE] [--plot FILE] [--no-progress]``: the shape of
    every experiment command (sweep, calibrate, montecarlo, sensitivity)."""
    command = commands.add_parser(name, help=summary)
    command.add_argument("model", help="model file (.yaml)")
    command.add_argument("spec", help=spec)
    command.add_argument("--out", metavar="FILE", help=out)
    command.add_argument("--plot", metavar="FILE", help=plot)
    command.add_argument("--no-progress", action="store_true", help="no progress bar")
    command.set_defaults(handler=handler)
    return command


def _add_sweep(commands: argparse._SubParsersAction) -> None:
    sweep = _experiment_command(
        commands, "sweep", "run a parameter sweep (grid, table, scenarios) from a YAML spec",
        spec="sweep spec (.yaml): parameters, outputs, summary",
        out="write the results (.nc, .parquet, .csv)",
        plot="plot the results (.png/.svg/.pdf)", handler=_sweep,
    )  # fmt: skip
    sweep.add_argument("--dask", metavar="ADDRESS", help="run on a Dask scheduler (tcp://...)")


def _sweep(args: argparse.Namespace, out: TextIO) -> int:
    from sdhealth.experiments.batch import ExperimentError
    from sdhealth.experiments.specs import load_sweep_spec
    from sdhealth.io.results import save_dataset
    from sdhealth.report.sweep_plots import save_sweep_plot

    model = _load(args)
    spec = load_sweep_spec(args.spec)
    spec.validate(model)
    client = None
    if args.dask:
        from sdhealth.experiments.distributed import connect

        client = connect(args.dask)
    try:
        dataset = spec.run(model, progress=not args.no_progress, executor=client)
    except ExperimentError as failed:  # keep the finished runs, then report the failure
        if args.out:
            save_dataset(failed.partial, args.out)
            done = failed.partial.sizes["run"]
            print(f"the {done} finished runs written to {args.out}", file=out)
        raise
    finally:
        if client is not None:
            client.close()
    done, asked = dataset.sizes["run"], dataset.attrs["runs_requested"]
    shape = " x ".join(f"{size} {dim}" for dim, size in dataset.sizes.items())
    print(f"{spec.name}: {done} of {asked} runs of {model.name} ({shape})", file=out)
    if dataset.attrs["interrupted"]:
        print("interrupted: the results hold the runs that finished", file=out)
    if args.out:
        save_dataset(dataset, args.out)
        print(f"results written to {args.out}", file=out)
    if args.plot:
        save_sweep_plot(dataset, args.plot, title=spec.name, time_units=model.time.units)
        print(f"plot written to {args.plot}", file=out)
    return EXIT_INTERRUPTED if dataset.attrs["interrupted"] else EXIT_OK


def _add_calibrate(commands: argparse._SubParsersAction) -> None:
    _experiment_command(
        commands, "calibrate", "fit constants to observed data (least squares) from a YAML spec",
        spec="calibration spec (.yaml): data, parameters, series",
        out="write the fitted values: scenario .yaml or table .csv",
        plot="plot fit vs data (.png/.svg/.pdf)", handler=_calibrate,
    )  # fmt: skip


def _calibrate(args: argparse.Namespace, out: TextIO) -> int:
    from sdhealth.experiments.calibration import write_fitted
    from sdhealth.experiments.calibration_spec import read_calibration_spec

    model = _load(args)
    result = read_calibration_spec(args.spec).calibrate(model, progress=not args.no_progress)
    print(result.summary(), file=out)
    if args.out:
        write_fitted(result, args.out)
        print(f"\nfitted values written to {args.out}", file=out)
    if args.plot:
        result.plot(args.plot)
        print(f"plot written to {args.plot}", file=out)
    return EXIT_INTERRUPTED if result.interrupted else EXIT_OK


def _add_uncertainty(commands: argparse._SubParsersAction) -> None:
    _experiment_command(
        commands, "montecarlo", "run under parameter uncertainty (Monte Carlo) from a YAML spec",
        spec="Monte Carlo spec (.yaml): distributions, runs, seed",
        out="write every run (.nc) or the percentiles (.csv/.parquet)",
        plot="fan charts (.png/.svg/.pdf)", handler=_montecarlo,
    )  # fmt: skip
    _experiment_command(
        commands, "sensitivity", "one-at-a-time, Sobol or Morris sensitivity from a YAML spec",
        spec="sensitivity spec (.yaml): method, parameters, output",
        out="write the table (.csv/.parquet)",
        plot="tornado, Sobol bars or Morris chart (.png/.svg/.pdf)", handler=_sensitivity,
    )  # fmt: skip


def _montecarlo(args: argparse.Namespace, out: TextIO) -> int:
    from sdhealth.experiments.batch import ExperimentError
    from sdhealth.experiments.experiment_specs import read_montecarlo_spec
    from sdhealth.report.experiment_plots import save_figure

    model = _load(args)
    spec = read_montecarlo_spec(args.spec)
    try:
        result = spec.run(model, progress=not args.no_progress)
    except ExperimentError as failed:  # keep the finished runs, then report the failure
        if args.out:
            failed.partial.save(args.out, levels=spec.percentiles)
            print(f"the {failed.partial.runs} finished runs written to {args.out}", file=out)
        raise
    stopped = " (interrupted: the finished runs are kept)" if result.interrupted else ""
    print(f"{spec.name}: {result.runs} runs of {model.name}{stopped}", file=out)
    table = result.percentiles_at(levels=spec.percentiles)
    print(table.to_string(float_format=format_value), file=out)
    if args.out:
        result.save(args.out, levels=spec.percentiles)
        print(f"\nresults written to {args.out}", file=out)
    if args.plot:
        figure = result.plot_all(
            levels=spec.percentiles, title=spec.name, time_units=model.time.units
        )
        save_figure(figure, args.plot)
        print(f"plot written to {args.plot}", file=out)
    return EXIT_INTERRUPTED if result.interrupted else EXIT_OK


def _sensitivity(args: argparse.Namespace, out: TextIO) -> int:
    from sdhealth.experiments.experiment_specs import read_sensitivity_spec
    from sdhealth.report.experiment_plots import save_figure

    model = _load(args)
    spec = read_sensitivity_spec(args.spec)
    result = spec.run(model, progress=not args.no_progress)
    print(f"{spec.name}: {spec.method} of {result.label} ({result.runs} runs)", file=out)
    print(result.table.to_string(float_format="{:.4g}".format), file=out)
    if args.out:
        result.save(args.out)
        print(f"\ntable written to {args.out}", file=out)
    if args.plot:
        save_figure(result.plot(), args.plot)
        print(f"plot written to {args.plot}", file=out)
    return EXIT_OK


def _one_line_warning(err: TextIO) -> Callable[..., None]:
    """sdhealth's own warnings as one line on stderr (``warning: ...``), not Python's two."""
    from sdhealth.errors import SdhealthWarning

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if issubclass(category, SdhealthWarning):
            print(f"warning: {message}", file=err)
        else:
            shown(message, category, filename, lineno, file, line)

    return show


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        _check_outputs(args, out)
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(err)
            return int(args.handler(args, out))
    except SdhealthError as exc:
        print(f"{exc}", file=err)
        return EXIT_USER_ERROR
    except OSError as exc:
        print(f"sdhealth: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=err)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as exc:
        print(f"sdhealth: {str(exc) or 'interrupted'}", file=err)
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
