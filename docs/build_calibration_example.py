"""Regenerate the NHS worked example of ``docs/calibration.md``: its figure and its table.

Run from anywhere (paths are found from this file)::

    python docs/build_calibration_example.py

It calibrates ``models/nhs_england.yaml`` with
``models/nhs_england/experiments/calibrate_2023_2024.yaml`` (about ten seconds), draws the fit
to ``docs/img/nhs_england_calibration.png`` and rewrites the text between the
``<!-- BEGIN nhs-summary -->`` / ``<!-- END nhs-summary -->`` markers of the page with the
result's summary; the hand-written text around them is left alone. Files are written
atomically.
"""

from __future__ import annotations

import re
from pathlib import Path

import sdhealth as sd
from sdhealth.experiments.calibration_spec import read_calibration_spec
from sdhealth.io.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "nhs_england.yaml"
SPEC = ROOT / "models" / "nhs_england" / "experiments" / "calibrate_2023_2024.yaml"
PAGE = ROOT / "docs" / "calibration.md"
FIGURE = ROOT / "docs" / "img" / "nhs_england_calibration.png"
MARKER = "nhs-summary"


def replace_section(page: str, name: str, body: str) -> str:
    """``page`` with the text between the ``name`` markers replaced by ``body``."""
    pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.DOTALL)
    if not pattern.search(page):
        raise ValueError(f"{PAGE} has no {name!r} markers")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), page)


def main() -> None:
    result = read_calibration_spec(SPEC).calibrate(sd.load(MODEL), progress=False)
    result.plot(FIGURE)
    page = PAGE.read_text(encoding="utf-8")
    write_text_atomic(PAGE, replace_section(page, MARKER, f"```text\n{result.summary()}\n```\n"))


if __name__ == "__main__":
    main()
