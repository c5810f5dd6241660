"""Causal-loop diagrams: signed graphs of variables, derived from models or written by hand.

- :mod:`sdhealth.cld.diagram` -- :class:`CausalLoopDiagram` and :func:`causal_graph`;
- :mod:`sdhealth.cld.forms` -- SD builtins rewritten into sympy maths (surrogates, exact forms);
- :mod:`sdhealth.cld.derivatives` -- the sign of a link from the equations (sympy derivatives);
- :mod:`sdhealth.cld.operating_point` -- a model's values at its initial time;
- :mod:`sdhealth.cld.yaml_io` -- the hand-written CLD format (``docs/cld-format.md``);
- :mod:`sdhealth.cld.compile` -- a diagram compiled into stock-and-flow equations, from
  :mod:`sdhealth.cld.compile_plan` (each node's part and the checks before building) and
  :mod:`sdhealth.cld.links` (link settings: elasticity, effect curve, delay; generated names);
- :mod:`sdhealth.cld.render` -- Graphviz DOT text and PNG/SVG pictures.

Feedback loops are found by :func:`sdhealth.analysis.loops.find_loops`. The diagram here is data;
:class:`sdhealth.CausalLoopDiagram` (the facade) adds ``loops()``, ``compile()``, ``draw()`` ...
"""

from dataclasses import replace

from sdhealth.cld.diagram import CausalLoopDiagram, Link, Node, NodeKind, causal_graph
from sdhealth.io.document_readers import DOCUMENT_READERS
from sdhealth.ir.model import Model

__all__ = ["CausalLoopDiagram", "Link", "Node", "NodeKind", "causal_graph"]


def _compiled_diagram_file(text: str, path: str | None) -> Model:
    """A model file that holds a causal-loop diagram: compiled into a stock-and-flow model.

    Warns with :class:`sdhealth.io.yaml.CompiledDiagramWarning`: the equations come from the
    compiler's formulation templates, not from the file.
    """
    import warnings

    from sdhealth.cld.compile import compile_diagram
    from sdhealth.cld.yaml_io import cld_from_yaml_text
    from sdhealth.io.yaml import CompiledDiagramWarning

    diagram = cld_from_yaml_text(text, path=path)
    where = f"{path}: " if path else ""
    warnings.warn(
        f"{where}a causal-loop diagram ('diagram: {diagram.name}'), compiled into a "
        "stock-and-flow model (as sdhealth.CausalLoopDiagram.from_yaml(path).compile() does)",
        CompiledDiagramWarning,
        stacklevel=4,
    )
    return replace(compile_diagram(diagram), path=path)


DOCUMENT_READERS["diagram"] = _compiled_diagram_file
