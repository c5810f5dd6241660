"""Regenerate the generated parts of ``docs/discharge_delay_cld.md`` and its picture.

Run from anywhere (paths are found from this file)::

    python docs/build_cld_example.py

It reads ``models/discharge_delay_cld.yaml``, draws the diagram to
``docs/img/discharge_delay_cld.png``, compiles it, runs the base case and a 10% cut in
social-care capacity on the PySD backend, and rewrites the text between the
``<!-- BEGIN name -->`` / ``<!-- END name -->`` markers of the page (``loops`` and
``results``); the hand-written text around them is left alone. Files are written atomically.
``tests/models/test_discharge_delay_cld.py`` checks that the committed page is up to date.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

import sdhealth as sd
from sdhealth.analysis.loops import Loop
from sdhealth.io.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
DIAGRAM = ROOT / "models" / "discharge_delay_cld.yaml"
PAGE = ROOT / "docs" / "discharge_delay_cld.md"
PICTURE = ROOT / "docs" / "img" / "discharge_delay_cld.png"

#: The experiment shown on the page: social-care capacity cut by this fraction.
CAPACITY_CUT = 0.10
#: The variables of the results table, in the order of the causal chain.
SHOWN = (
    "Social care capacity",
    "Supported discharges",
    "Medically fit patients awaiting discharge",
    "Bed occupancy",
    "Emergency admissions",
    "ED patients awaiting a bed",
    "Ambulance hours lost to handover delays",
    "Staff pressure",
    "Staff burnout",
    "Nurse leavers",
    "Nurse staff",
)
#: Seed of the picture's spring layout (chosen for a readable picture).
LAYOUT_SEED = 58

_SIGN = {1: "+", -1: "\u2212", 0: "?"}
_ARROW = " \u2192 "


def loops_markdown(loops: Sequence[Loop]) -> str:
    """A Markdown table of loops: id, polarity, length, delay, stocks and the loop itself."""
    lines = [
        "| id | polarity | links | delayed | stocks | loop |",
        "|----|----------|-------|---------|--------|------|",
    ]
    for loop in loops:
        lines.append(
            f"| {loop.id} | {_SIGN[loop.polarity]} | {loop.length} | "
            f"{'yes' if loop.has_delay else ''} | {', '.join(loop.stocks)} | "
            f"{_ARROW.join((*loop.variables, loop.variables[0]))} |"
        )
    return "\n".join(lines)


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def references_markdown(cld: sd.CausalLoopDiagram) -> str:
    """A Markdown table of the nodes: kind, reference value, units and source."""
    lines = [
        "| variable | kind | reference | units | source |",
        "|----------|------|----------:|-------|--------|",
    ]
    for node in cld.nodes:
        reference = "" if node.reference is None else _number(node.reference)
        source = " ".join(str(cld.graph.nodes[node.name].get("source", "")).split())
        lines.append(f"| {node.name} | {node.kind.value} | {reference} | {node.units} | {source} |")
    return "\n".join(lines)


def results_markdown(base: pd.DataFrame, cut: pd.DataFrame, columns: Sequence[str]) -> str:
    """A Markdown table: each variable at the start, and at the end of both runs."""
    end = base.index[-1]
    lines = [
        f"| variable | month 0 | month {end:g}, base | month {end:g}, capacity cut | change |",
        "|----------|--------:|-----------:|-------------:|-------:|",
    ]
    for name in columns:
        start, last, after = base[name].iloc[0], base[name].iloc[-1], cut[name].iloc[-1]
        change = after / last - 1
        lines.append(
            f"| {name} | {_number(start)} | {_number(last)} | {_number(after)} | {change:+.1%} |"
        )
    return "\n".join(lines)


def experiment(model: sd.Model) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The base run and the run with social-care capacity cut by :data:`CAPACITY_CUT`."""
    capacity = model.constants["Social care capacity"]
    base = model.run()
    cut = model.run(params={"Social care capacity": capacity * (1 - CAPACITY_CUT)})
    return base, cut


def replace_section(page: str, name: str, content: str) -> str:
    """``page`` with the text between the markers of section ``name`` replaced."""
    pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", flags=re.DOTALL)
    if not pattern.search(page):
        raise ValueError(f"{PAGE.name} has no <!-- BEGIN {name} --> ... <!-- END {name} -->")
    return pattern.sub(lambda match: match.group(1) + content + "\n" + match.group(2), page)


def generated_sections() -> dict[str, str]:
    """The generated sections of the page, by marker name."""
    cld = sd.CausalLoopDiagram.from_yaml(DIAGRAM)
    base, cut = experiment(cld.compile())
    return {
        "references": references_markdown(cld),
        "loops": loops_markdown(cld.loops()),
        "results": results_markdown(base, cut, SHOWN),
    }


def main(argv: Sequence[str] = ()) -> int:
    """Draw the picture and rewrite the page's generated sections."""
    cld = sd.CausalLoopDiagram.from_yaml(DIAGRAM)
    PICTURE.parent.mkdir(parents=True, exist_ok=True)
    from sdhealth.cld.render import draw

    draw(cld, PICTURE, seed=LAYOUT_SEED)
    page = PAGE.read_text(encoding="utf-8")
    for name, content in generated_sections().items():
        page = replace_section(page, name, content)
    write_text_atomic(PAGE, page)
    print(f"wrote {PAGE.relative_to(ROOT)} and {PICTURE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
