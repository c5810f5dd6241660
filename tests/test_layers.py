"""Imports point one way: ``ir`` <- ``io`` <- ``compile`` <- ``backends`` <- ``experiments`` /
``analysis`` / ``cld`` / ``report`` <- ``model.py`` (the facade) <- ``cli``.

The import graph of ``src/sdhealth`` is built from the source with ``ast`` (every import:
module level, inside functions, under ``TYPE_CHECKING``). Two rules, each a ratchet while
issue 26 is being landed: no import cycle and no import of a higher layer, except the ones
listed below as still to be removed. A new cycle or upward import fails, naming both files; a
listed one that has gone fails too, so that the list only ever shrinks (delete its line).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sdhealth"

#: The layer of each top-level module or package of sdhealth (higher imports lower).
RANK = {
    "errors": 0, "ir": 0, "io": 1, "compile": 2, "backends": 3,
    "experiments": 4, "analysis": 4, "cld": 4, "report": 4,
    "model": 5, "benchmarks": 5, "__init__": 6, "cli": 7, "__main__": 8,
}  # fmt: skip

#: Import cycles still to be broken (issue 26): each a set of modules.
KNOWN_CYCLES: list[frozenset[str]] = []

#: Imports of a higher layer still to be removed (issue 26): (importer, imported).
KNOWN_UPWARD: set[tuple[str, str]] = {
    ("sdhealth.analysis.dominance", "sdhealth.model"),
    ("sdhealth.experiments.calibration", "sdhealth.model"),
    ("sdhealth.experiments.calibration_result", "sdhealth.model"),
    ("sdhealth.experiments.calibration_spec", "sdhealth.model"),
    ("sdhealth.experiments.experiment_specs", "sdhealth.model"),
    ("sdhealth.experiments.montecarlo", "sdhealth.model"),
    ("sdhealth.experiments.sensitivity", "sdhealth.model"),
    ("sdhealth.report.html_report", "sdhealth"),
    ("sdhealth.report.html_report", "sdhealth.model"),
    ("sdhealth.report.summary", "sdhealth.model"),
}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = SRC) -> nx.DiGraph:
    """Modules of the package as nodes, an edge ``a -> b`` (with ``path`` and ``line``) for
    every import of ``b`` in ``a``. ``from pkg import mod`` counts as importing ``pkg.mod``."""
    files = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                named = [f"{base}.{alias.name}" for alias in node.names]
                targets = [t for t in named if t in files]
                if len(targets) < len(named):
                    targets.append(base)
            else:
                continue
            for target in targets:
                if target in files and target != module and not graph.has_edge(module, target):
                    graph.add_edge(module, target, path=path, line=node.lineno)
    return graph


def _layer(module: str) -> int:
    parts = module.split(".")
    return RANK[parts[1] if len(parts) > 1 else "__init__"]


def _where(graph: nx.DiGraph, a: str, b: str) -> str:
    edge = graph.edges[a, b]
    return f"{edge['path'].relative_to(SRC.parents[1])}:{edge['line']} imports {b}"


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    return import_graph()


def test_every_module_has_a_layer(graph):
    unranked = sorted(m for m in graph if (m.split(".") + ["__init__"])[1] not in RANK)
    assert not unranked, f"give these a layer in RANK: {unranked}"


def test_no_new_import_cycle(graph):
    cycles = [frozenset(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    new = [c for c in cycles if c not in KNOWN_CYCLES]
    messages = []
    for cycle in new:
        loop = nx.find_cycle(graph.subgraph(cycle))
        messages.append("; ".join(_where(graph, a, b) for a, b in loop))
    assert not messages, "import cycle(s):\n" + "\n".join(messages)
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in cycles]
    assert not gone, f"these cycles are broken or changed: update KNOWN_CYCLES: {gone}"


def test_no_new_import_of_a_higher_layer(graph):
    upward = {(a, b) for a, b in graph.edges if _layer(b) > _layer(a)}
    new = sorted(upward - KNOWN_UPWARD)
    assert not new, "imports of a higher layer:\n" + "\n".join(_where(graph, a, b) for a, b in new)
    gone = sorted(KNOWN_UPWARD - upward)
    assert not gone, f"these upward imports are gone: delete them from KNOWN_UPWARD: {gone}"


def test_the_graph_sees_lazy_and_type_checking_imports(tmp_path):
    package = tmp_path / "sdhealth"
    (package / "ir").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "ir" / "__init__.py").write_text("")
    (package / "model.py").write_text("")
    (package / "ir" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sdhealth import model\n"
        "def f():\n    from . import b\n"
    )
    (package / "ir" / "b.py").write_text("import sdhealth.ir.a\n")
    found = import_graph(package)
    assert found.has_edge("sdhealth.ir.a", "sdhealth.model")
    assert found.has_edge("sdhealth.ir.a", "sdhealth.ir.b")
    assert found.has_edge("sdhealth.ir.b", "sdhealth.ir.a")
