"""The discharge-delay causal-loop diagram: it compiles faithfully, behaves plausibly, and its
documentation page is what ``docs/build_cld_example.py`` generates."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

import sdhealth as sd
from sdhealth.cld import NodeKind

ROOT = Path(__file__).resolve().parents[2]
DIAGRAM = ROOT / "models" / "discharge_delay_cld.yaml"
BACKLOG = "Medically fit patients awaiting discharge"
CHAIN = (
    BACKLOG,
    "Bed occupancy",
    "ED patients awaiting a bed",
    "Ambulance hours lost to handover delays",
)


def build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_cld_example", ROOT / "docs" / "build_cld_example.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cld() -> sd.CausalLoopDiagram:
    return sd.CausalLoopDiagram.from_yaml(DIAGRAM)


@pytest.fixture(scope="module")
def model(cld: sd.CausalLoopDiagram) -> sd.Model:
    return cld.compile()


@pytest.fixture(scope="module")
def runs(model: sd.Model) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The base run and a 10% cut in social-care capacity (the page's experiment)."""
    return build_script().experiment(model)


def test_every_node_is_documented_and_every_number_sourced(cld: sd.CausalLoopDiagram) -> None:
    assert len(cld.doc) > 500
    for node in cld.nodes:
        assert node.doc and node.units and node.reference is not None, node.name
        assert cld.graph.nodes[node.name].get("source"), node.name
    kinds = {node.kind for node in cld.nodes}
    assert kinds == {NodeKind.STOCK, NodeKind.FLOW, NodeKind.AUXILIARY, NodeKind.CONSTANT}


def test_the_file_round_trips_through_the_writer(cld: sd.CausalLoopDiagram, tmp_path) -> None:
    cld.to_yaml(tmp_path / "copy.yaml")
    again = sd.CausalLoopDiagram.from_yaml(tmp_path / "copy.yaml")
    assert again == cld
    assert again.graph.graph["time"] == cld.graph.graph["time"]
    assert list(again.graph.edges(data=True)) == list(cld.graph.edges(data=True))
    for name, data in cld.graph.nodes(data=True):
        assert again.graph.nodes[name]["source"] == data["source"]


def test_the_loops_include_the_burnout_spiral_and_the_discharge_loop(cld) -> None:
    loops = cld.loops()
    assert sorted(loop.kind for loop in loops).count("R") == 4
    assert sorted(loop.kind for loop in loops).count("B") == 8
    spiral = loops.by_id("R1")
    assert set(spiral.variables) == {
        "Nurse staff", "Staff pressure", "Burnout accumulation", "Staff burnout", "Nurse leavers",
    }  # fmt: skip
    assert spiral.has_delay
    assert any(set(loop.variables) == {BACKLOG, "Supported discharges"} for loop in loops)


def test_the_compiled_model_reproduces_the_diagram(cld, model) -> None:
    assert sd.check(model) == []
    derived = model.cld()
    for link in cld.links:
        found = derived.link(link.source, link.target)
        assert (found.polarity, found.delay) == (link.polarity, link.delay), link
    declared = [(lp.id, lp.polarity, lp.variables) for lp in cld.loops()]
    assert [(lp.id, lp.polarity, lp.variables) for lp in derived.loops()] == declared
    leavers = model["Nurse leavers"].equation.text
    assert "SMOOTH3(Staff burnout, Delay time of Staff burnout on Nurse leavers)" in leavers
    assert model["Delay time of Staff burnout on Nurse leavers"].value == 6.0


def test_the_base_run_starts_in_equilibrium_and_stays_plausible(model, runs) -> None:
    base, _ = runs
    assert list(base.index) == [float(month) for month in range(61)]
    assert np.isfinite(base.to_numpy()).all()
    assert (base[list(model.stocks)] > 0).all().all()
    first = base.iloc[0]
    assert first[BACKLOG] == 13000 and first["Bed occupancy"] == pytest.approx(0.93)
    for stock in ("Emergency inpatients", BACKLOG):
        assert base[stock].sub(first[stock]).abs().max() / first[stock] < 0.01
    # joiners outnumber leavers: the workforce grows, pressure and burnout ease
    assert base["Nurse staff"].is_monotonic_increasing
    assert base["Staff burnout"].iloc[-1] < 0.3
    assert 0.9 < base["Bed occupancy"].min() and base["Bed occupancy"].max() <= 0.93 + 1e-12


def test_a_social_care_capacity_cut_raises_delays_occupancy_and_handover_delays(runs) -> None:
    base, cut = runs
    for month in (12, 24, 60):
        for name in CHAIN:
            assert cut.loc[month, name] > base.loc[month, name], (name, month)
    backlog_rise = cut.loc[60, BACKLOG] / base.loc[60, BACKLOG] - 1
    assert 0.06 < backlog_rise < 0.10  # Gaughan et al. 2015: 6-9% for 10% of capacity
    occupancy_rise = cut.loc[60, "Bed occupancy"] - base.loc[60, "Bed occupancy"]
    assert 0.005 < occupancy_rise < 0.015
    assert cut.loc[60, "Staff burnout"] > base.loc[60, "Staff burnout"]
    assert cut.loc[60, "Nurse staff"] < base.loc[60, "Nurse staff"]
    assert (cut[list(CHAIN)] > 0).all().all()


def test_the_page_shows_what_the_build_script_generates(cld, runs) -> None:
    script = build_script()
    base, cut = runs
    page = (ROOT / "docs" / "discharge_delay_cld.md").read_text(encoding="utf-8")
    sections = {
        "loops": script.loops_markdown(cld.loops()),
        "results": script.results_markdown(base, cut, script.SHOWN),
        "references": script.references_markdown(cld),
    }
    for name, content in sections.items():
        assert f"<!-- BEGIN {name} -->\n{content}\n<!-- END {name} -->" in page, name
    picture = ROOT / "docs" / "img" / "discharge_delay_cld.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
