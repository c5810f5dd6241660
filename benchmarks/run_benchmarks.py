"""Speed of sdhealth against PySD and pysimlin (where installed): same run, same models.

Usage::

    python benchmarks/run_benchmarks.py [--quick] [--out benchmarks/results.md]

The measuring code ships with the package (:mod:`sdhealth.benchmarks`, also behind ``sdhealth
bench``); this script adds the repository's shipped models (``models/``) to the full suite and
writes the table and the raw figures (``results.json``). Models: the generated chain of N
stocks (N = 10, 100, 1000; ``--quick``: 10 and 100, no shipped models) and the shipped models,
and a new user's first command (the README's ``sdhealth run`` of the NHS model as a whole
process, with an empty and a warm cache, beside PySD's own; ``first_command.py``). Every ratio
in the table is measured in the same process, in the same run of this script.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from first_command import (  # noqa: E402
    edit_to_result_rows,
    first_command_rows,
    mdl_load_rows,
    workbench_rows,
    xmile_load_rows,
)

import sdhealth as sd  # noqa: E402
from models import shipped_models  # noqa: E402
from sdhealth.benchmarks import benchmark, machine_note, render  # noqa: E402
from sdhealth.io.atomic import write_text_atomic  # noqa: E402

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small models and batches only")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.md")))
    args = parser.parse_args(argv)
    before = machine_note()
    extra = [] if args.quick else [(s, sd.load(p).ir) for s, p in shipped_models().items()]
    rows = benchmark(args.quick, models=extra)
    rows += first_command_rows(repeat=1 if args.quick else 3)
    rows += edit_to_result_rows()
    rows += workbench_rows()
    rows += mdl_load_rows((100,) if args.quick else (1000,), repeat=1 if args.quick else 3)
    rows += xmile_load_rows((100,) if args.quick else (1000,), repeat=1 if args.quick else 3)
    notes = [f"at start: {before}", f"at end: {machine_note()}"]
    text = render(rows, notes)
    raw = Path(args.out).with_suffix(".json")
    write_text_atomic(raw, json.dumps({"notes": notes, "rows": [asdict(r) for r in rows]}))
    write_text_atomic(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
