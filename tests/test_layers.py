"""Imports point one way: ``ir`` <- ``io`` <- ``compile`` <- ``backends`` <- ``experiments`` /
``analysis`` / ``cld`` / ``report`` <- ``model.py`` (the facade) <- ``cli``.

The import graph of ``src/sdhealth`` is built from the source with ``ast`` (every import:
module level, inside functions, under ``TYPE_CHECKING``). Two rules: no import cycle, and no
import of a higher layer. A failure names the file and line of each import at fault.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sdhealth"

#: The layer of each top-level module or package of sdhealth (higher imports lower).
RANK = {
    "errors": 0, "version": 0, "tuning": 0, "ir": 0, "io": 1, "compile": 2, "backends": 3,
    "experiments": 4, "analysis": 4, "cld": 4, "report": 4,
    "model": 5, "benchmarks": 5, "__init__": 6, "workbench": 6, "cli": 7, "__main__": 8,
}  # fmt: skip


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


def test_no_import_cycle(graph):
    cycles = [frozenset(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    messages = []
    for cycle in cycles:
        loop = nx.find_cycle(graph.subgraph(cycle))
        messages.append("; ".join(_where(graph, a, b) for a, b in loop))
    assert not messages, "import cycle(s):\n" + "\n".join(messages)


def test_no_import_of_a_higher_layer(graph):
    upward = sorted((a, b) for a, b in graph.edges if _layer(b) > _layer(a))
    assert not upward, "imports of a higher layer:\n" + "\n".join(_where(graph, *e) for e in upward)


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


PLOTS = ("sdhealth.report.plots", "sdhealth.report.experiment_plots",
         "sdhealth.report.calibration_plots", "sdhealth.report.sweep_plots")  # fmt: skip


def test_plots_take_results_and_import_nothing_of_what_they_draw(graph):
    """A result's ``.plot()`` calls a plot function that takes the result: the plot modules
    import no experiment, analysis or diagram module, so the arrow only goes one way."""
    drawn = ("sdhealth.experiments", "sdhealth.analysis", "sdhealth.cld")
    wrong = sorted((a, b) for a in PLOTS for b in graph.successors(a) if b.startswith(drawn))
    assert not wrong, "\n".join(_where(graph, a, b) for a, b in wrong)


def test_only_the_compile_layer_expands_stateful_builtins() -> None:
    """Backends and analyses of a run receive compile.compiled.CompiledModel; none expands
    delays and smooths itself (issue 27)."""
    callers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "expand_stateful(" in path.read_text(encoding="utf-8") and path.parent.name != "compile"
    )
    assert callers == [], f"call compile_model(model).expanded instead: {callers}"
