"""Causal-loop diagrams: signed graphs of variables, derived from models or written by hand.

- :mod:`sdhealth.cld.diagram` -- :class:`CausalLoopDiagram` and :func:`causal_graph`;
- :mod:`sdhealth.cld.derivatives` -- the sign of a link from the equations (sympy derivatives);
- :mod:`sdhealth.cld.operating_point` -- a model's values at its initial time;
- :mod:`sdhealth.cld.yaml_io` -- the hand-written CLD format (``docs/cld-format.md``);
- :mod:`sdhealth.cld.compile` -- a diagram compiled into stock-and-flow equations, from
  :mod:`sdhealth.cld.compile_plan` (each node's part and the checks before building) and
  :mod:`sdhealth.cld.links` (link settings: elasticity, effect curve, delay; generated names);
- :mod:`sdhealth.cld.render` -- Graphviz DOT text and PNG/SVG pictures.

Feedback loops are found by :mod:`sdhealth.analysis.loops` (``cld.loops()``).
"""

from sdhealth.cld.diagram import CausalLoopDiagram, Link, Node, NodeKind, causal_graph

__all__ = ["CausalLoopDiagram", "Link", "Node", "NodeKind", "causal_graph"]
