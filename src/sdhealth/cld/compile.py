"""Compilation of a causal-loop diagram into a stock-and-flow model (the IR).

:func:`compile_diagram` turns a :class:`~sdhealth.cld.CausalLoopDiagram` whose nodes have
kinds and reference values into an :class:`sdhealth.ir.Model`
(``sd.CausalLoopDiagram.compile()`` wraps it in a runnable :class:`sdhealth.Model`). Each
node becomes one variable of its kind, by these rules:

- a **stock** integrates its flows: a link ``flow -> stock`` with polarity ``+`` makes the
  flow an inflow, ``-`` an outflow. It starts at the node's ``initial`` value (default: its
  reference value). A stock that is an input of a standard formulation is declared
  ``non_negative`` (a ratio to its reference raised to a power has no meaning below zero);
- a **constant** is a :class:`~sdhealth.ir.Constant` holding its reference value;
- a **flow** or **auxiliary** with an ``equation`` keeps it (it must read exactly the nodes
  linked into it); one without gets the *standard formulation*

  .. math:: y = y_{ref} \\prod_i e_i, \\qquad
            e_i = (x_i / x_{i,ref})^{p_i \\varepsilon_i} \\ \\text{or}\\ f_i(x_i / x_{i,ref})

  -- its reference value times one *effect* per input: a power law of the input relative to
  its reference, whose exponent is the link's polarity ``p`` (+1/-1) times its elasticity
  (positive, default 1), or, when the link has a ``lookup``, that monotone curve of the same
  ratio (a generated :class:`~sdhealth.ir.Lookup` named ``"Effect of X on Y"``). For a
  delay-marked link the input is replaced by ``SMOOTH(x, d)`` (``delay_order`` 1, the
  default) or ``SMOOTH3(x, d)`` (order 3): an information delay whose time ``d`` is a
  generated constant ``"Delay time of X on Y"`` in the model's time unit. A flow or
  auxiliary without inputs stays at its reference value.

The reference values the formulations use are generated constants named ``"Reference X"``,
with the node's units and sector, so a modeller sees and can change them (``params=``). Every
generated variable has a ``doc`` saying how it was formulated. When every node sits at its
reference value the effects are all 1, so a diagram whose references balance each stock's
inflows and outflows starts in equilibrium.

Standard formulations multiply effects, so they need *positive* reference values (of the
node and of each input); with them every effect moves its node in the direction of the
link's polarity, which is what makes the signs come out right. After building, the sign of
every link into a flow or auxiliary is recomputed from the equations
(:func:`sdhealth.cld.derivatives.model_link_signs`) and compared with the declared polarity
and delay mark, so an explicit equation that contradicts its links is an error too. Loop
polarities follow from link polarities, so the compiled model has the diagram's loops.

Everything missing or inconsistent is reported at once: one :class:`~sdhealth.errors.ModelError`
whose message lists what each node needs (``cannot compile 'X': 'Beds' (stock) has no flows;
'Discharges' (flow) needs a reference value; ...``) and whose ``issues`` hold one
:class:`~sdhealth.errors.Issue` per problem. Loops without a stock and without a delayed link
(algebraic loops) are reported the same way.

The clock comes from the diagram (the ``time`` section of the YAML format, held in
``cld.graph.graph["time"]``; see :func:`diagram_clock`) or from ``time=``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy

from sdhealth.cld.compile_plan import (
    Input,
    Part,
    Problems,
    check_plan,
    numeric_equation,
    plan,
    reference_value,
)
from sdhealth.cld.derivatives import model_link_signs
from sdhealth.cld.diagram import CausalLoopDiagram, NodeKind
from sdhealth.cld.links import (
    DEFAULT_ELASTICITY,
    DELAY_ORDERS,
    FORMULATED,
    SETTING_KEYS,
    LinkSettings,
    delay_time_name,
    effect_curve_problem,
    effect_name,
    link_settings,
    reference_name,
)
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    DeclaredLink,
    Equation,
    Flow,
    Lookup,
    Model,
    Sector,
    Stock,
    TimeSpec,
    Variable,
    symbol,
)
from sdhealth.ir.names import canonical
from sdhealth.ir.vensim import expr_to_vensim, number_to_vensim, quote_name

__all__ = [
    "DEFAULT_ELASTICITY",
    "DELAY_ORDERS",
    "LinkSettings",
    "compile_diagram",
    "diagram_clock",
    "link_settings",
    "SETTING_KEYS",
    "effect_curve_problem",
    "reference_name",
    "effect_name",
    "delay_time_name",
]


_SMOOTH_OF_ORDER = {1: fn.SMOOTH, 3: fn.SMOOTH3}
_ORDER_WORD = {1: "first", 3: "third"}
_SIGN = {1: "+", -1: "-", 0: "?"}


def diagram_clock(cld: CausalLoopDiagram) -> TimeSpec | None:
    """The diagram's clock (its YAML ``time`` section), or None if it has none."""
    clock = cld.graph.graph.get("time")
    return clock if isinstance(clock, TimeSpec) else None


# ------------------------------------------------------------------------- building


def _number(value: float) -> sympy.Number:
    return sympy.Integer(int(value)) if float(value).is_integer() else sympy.Float(value)


def _joined(*paragraphs: str) -> str:
    return "\n\n".join(p.strip() for p in paragraphs if p.strip())


@dataclass
class _Builder:
    """Builds the variables of one diagram (the plan has been checked)."""

    cld: CausalLoopDiagram
    parts: Mapping[str, Part]
    clock: TimeSpec
    references: dict[str, None] = field(default_factory=dict)  # nodes needing "Reference X"
    names: dict[str, str] = field(default_factory=dict)  # key -> name, for printing

    def __post_init__(self) -> None:
        for part in self.parts.values():
            if part.standard:
                self.references[part.name] = None
                self.references.update((link.source, None) for link in part.inputs)
        self.names = {canonical(name): name for name in self._all_names()}

    @property
    def origin(self) -> str:
        name = f" {self.cld.name!r}" if self.cld.name else ""
        return f"compiled from the causal-loop diagram{name}"

    def variables(self) -> tuple[Variable, ...]:
        built: list[Variable] = []
        for part in self.parts.values():
            built.append(self._variable(part))
            if part.name in self.references:
                built.append(self._reference_constant(part))
            if part.standard:
                built.extend(self._link_helpers(part))
        return tuple(built)

    def _common(self, part: Part) -> dict[str, Any]:
        return {"name": part.name, "units": part.units, "sector": part.sector}

    def _variable(self, part: Part) -> Variable:
        if part.kind is NodeKind.STOCK:
            return self._stock(part)
        if part.kind is NodeKind.CONSTANT:
            value = numeric_equation(part)
            value = part.reference if value is None else value
            assert value is not None  # checked
            doc = _joined(part.doc, f"Constant ({self.origin}).")
            return Constant(**self._common(part), value=float(value), doc=doc, source=part.source)
        kind = Flow if part.kind is NodeKind.FLOW else Auxiliary
        if part.equation is not None:
            doc = _joined(part.doc, f"Equation written in the diagram ({self.origin}).")
            equation = part.equation
        else:
            equation, how = self._standard(part)
            doc = _joined(part.doc, how)
        declared = tuple(DeclaredLink(link.source, link.polarity) for link in part.inputs)
        return kind(
            **self._common(part),
            equation=equation,
            doc=doc,
            source=part.source,
            declared_links=declared,
        )

    def _stock(self, part: Part) -> Stock:
        flows = [
            (link.source, link.polarity)
            for link in part.inputs
            if self.parts[link.source].kind is NodeKind.FLOW
        ]
        inflows = tuple(name for name, polarity in flows if polarity > 0)
        outflows = tuple(name for name, polarity in flows if polarity < 0)
        start = part.reference if part.initial is None else part.initial
        assert start is not None
        origin = "the diagram's initial value" if part.initial is not None else "its reference"
        change = _balance(inflows, outflows)
        how = f"Stock ({self.origin}): changes by {change}; starts at {start:g} ({origin})."
        return Stock(
            **self._common(part),
            initial=Equation.of(_number(start)),
            inflows=inflows,
            outflows=outflows,
            non_negative=part.name in self._formulation_inputs(),
            doc=_joined(part.doc, how),
            source=part.source,
        )

    def _formulation_inputs(self) -> set[str]:
        return {
            link.source for part in self.parts.values() if part.standard for link in part.inputs
        }

    def _standard(self, part: Part) -> tuple[Equation, str]:
        """The standard formulation of a flow or auxiliary, and the doc that explains it.

        The text is written factor by factor (reference first, effects in link order), which
        reads better than sympy's canonical order of the same product.
        """
        scale = symbol(reference_name(part.name))
        factors: list[sympy.Expr] = [scale]
        texts = [self._text(scale)]
        effects: list[str] = []
        for link in part.inputs:
            factor, text, effect = self._effect(part, link)
            factors.append(factor)
            texts.append(text)
            effects.append(effect)
        head = f"Standard formulation ({self.origin}): {reference_name(part.name)}"
        equation = Equation(sympy.Mul(*factors), text=" * ".join(texts))
        if not effects:
            return equation, f"{head}; it has no inputs, so it stays at its reference value."
        how = (
            f"{head} times the effect of each input relative to its reference value: "
            f"{'; '.join(effects)}."
        )
        return equation, how

    def _effect(self, part: Part, link: Input) -> tuple[sympy.Expr, str, str]:
        """One effect: its expression, its text and a description for the doc."""
        value: sympy.Expr = symbol(link.source)
        what = repr(link.source)
        if link.delay:
            order, delay_time = link.settings.delay_order, link.settings.delay_time
            smooth = _SMOOTH_OF_ORDER[order]
            value = smooth(value, symbol(delay_time_name(link.source, part.name)))
            what += (
                f" smoothed over {delay_time:g} {self.clock.units} "
                f"({_ORDER_WORD[order]}-order information delay, {smooth.__name__})"
            )
        reference = symbol(reference_name(link.source))
        ratio = value / reference
        ratio_text = f"{self._text(value)} / {self._text(reference)}"
        sign = _SIGN[link.polarity]
        if link.settings.lookup is not None:
            table = effect_name(link.source, part.name)
            text = f"{quote_name(table)}({ratio_text})"
            return fn.LOOKUP(symbol(table), ratio), text, f"{what} through {table!r} ({sign})"
        exponent = _number(link.polarity * link.settings.elasticity)
        text = f"({ratio_text})" + ("" if exponent == 1 else f"^{number_to_vensim(exponent)}")
        described = f"{what} as a power law with exponent {float(exponent):g} ({sign})"
        return ratio**exponent, text, described

    def _text(self, expr: sympy.Basic) -> str:
        return expr_to_vensim(expr, lambda key: self.names.get(key, key))

    def _all_names(self) -> Iterable[str]:
        yield from self.parts
        yield from (reference_name(name) for name in self.references)
        for part in self.parts.values():
            for link in part.inputs:
                yield effect_name(link.source, part.name)
                yield delay_time_name(link.source, part.name)

    def _reference_constant(self, part: Part) -> Constant:
        value = reference_value(part)
        assert value is not None
        roles = []
        if part.standard:
            roles.append(f"the value of {part.name} when its inputs are at their reference values")
        readers = [p.name for p in self.parts.values() if p.standard and part.name in p.sources]
        if readers:
            roles.append(
                f"the value the effects of {part.name} on {', '.join(readers)} are measured from"
            )
        doc = (
            f"Reference value of {part.name} ({self.origin}): {'; and '.join(roles)}. Change it "
            "to move that operating point."
        )
        source = part.source or f"reference value in the causal-loop diagram {self.cld.name!r}"
        return Constant(**self._common(part) | {"name": reference_name(part.name)},
                        value=value, doc=doc, source=source)  # fmt: skip

    def _link_helpers(self, part: Part) -> list[Variable]:
        helpers: list[Variable] = []
        for link in part.inputs:
            if link.settings.lookup is not None:
                helpers.append(self._effect_lookup(part, link))
            if link.delay:
                helpers.append(self._delay_constant(part, link))
        return helpers

    def _effect_lookup(self, part: Part, link: Input) -> Lookup:
        assert link.settings.lookup is not None
        xs, ys = zip(*link.settings.lookup, strict=True)
        doc = (
            f"Effect of {link.source} on {part.name} ({self.origin}): a multiplier on "
            f"{part.name} as a function of {link.source} relative to its reference value "
            f"(1 at the reference; polarity {_SIGN[link.polarity]})."
        )
        return Lookup(
            name=effect_name(link.source, part.name), xs=tuple(xs), ys=tuple(ys),
            units="dmnl", sector=part.sector, doc=doc, source=f"link {link.source!r} -> "
            f"{part.name!r} of the causal-loop diagram {self.cld.name!r}",
        )  # fmt: skip

    def _delay_constant(self, part: Part, link: Input) -> Constant:
        assert link.settings.delay_time is not None
        order = _ORDER_WORD[link.settings.delay_order]
        doc = (
            f"Delay time of the information link {link.source} -> {part.name} ({self.origin}): "
            f"{part.name} responds to {link.source} through a {order}-order smooth over this time."
        )
        return Constant(
            name=delay_time_name(link.source, part.name), value=link.settings.delay_time,
            units=self.clock.units, sector=part.sector, doc=doc,
            source=f"link {link.source!r} -> {part.name!r} of the causal-loop diagram "
            f"{self.cld.name!r}",
        )  # fmt: skip


def _balance(inflows: Sequence[str], outflows: Sequence[str]) -> str:
    """``"In1 + In2 - Out1"`` (``"-Out"`` for a stock that only drains)."""
    text = " + ".join(inflows)
    if outflows:
        text = (f"{text} - " if text else "-") + " - ".join(outflows)
    return text


def _sectors(parts: Mapping[str, Part]) -> tuple[Sector, ...]:
    names = dict.fromkeys(part.sector for part in parts.values() if part.sector)
    return tuple(Sector(name) for name in names if name is not None)


# ------------------------------------------------------------------------- verifying


def _disagreements(cld: CausalLoopDiagram, model: Model) -> Problems:
    """Links into flows and auxiliaries whose recomputed sign or delay differs from the diagram."""
    found = Problems()
    signs = model_link_signs(model)
    for link in cld.links:
        if cld.graph.nodes[link.target]["kind"] not in FORMULATED:
            continue
        derived = signs.get(canonical(link.target), {}).get(canonical(link.source))
        where = f"link {link.source!r} -> {link.target!r}"
        if derived is None:
            found.add("cld-polarity", f"{where}: the equation does not read it", link.target)
        elif derived.polarity != link.polarity:
            found.add(
                "cld-polarity",
                f"{where} is declared {link.sign!r}, but the equation of {link.target!r} makes "
                f"it {_SIGN[derived.polarity]!r}",
                link.target,
            )
        elif derived.delay != link.delay:
            marked = "is marked delayed, but" if link.delay else "is not marked delayed, but"
            reads = "reads it directly" if link.delay else "reads it through a delay"
            found.add(
                "cld-polarity",
                f"{where} {marked} the equation of {link.target!r} {reads}",
                link.target,
            )
    return found


def compile_diagram(cld: CausalLoopDiagram, *, time: TimeSpec | None = None) -> Model:
    """A stock-and-flow model (IR) from a causal-loop diagram (see the module docstring).

    Parameters
    ----------
    cld
        The diagram: nodes with kinds and reference values, signed links (with optional
        ``elasticity``, ``lookup``, ``delay_time`` and ``delay_order`` attributes).
    time
        The clock; by default the diagram's own (:func:`diagram_clock`).

    Raises
    ------
    ModelError
        Anything missing or inconsistent, all listed in one message (``issues`` holds each),
        or compiled equations whose link signs differ from the declared ones.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> g.add_node("Patients", kind="stock", reference=100)
    >>> g.add_node("Discharges", kind="flow", reference=10)
    >>> g.add_edge("Patients", "Discharges", polarity=1)
    >>> g.add_edge("Discharges", "Patients", polarity=-1)
    >>> model = compile_diagram(CausalLoopDiagram(g, name="Ward"), time=TimeSpec(stop=12))
    >>> model["Discharges"].equation.text
    'Reference Discharges * (Patients / Reference Patients)'
    >>> model["Patients"].outflows, model["Reference Patients"].value
    (('Discharges',), 100.0)
    """
    clock = diagram_clock(cld) if time is None else time
    parts = plan(cld)
    check_plan(cld, parts, clock).raise_if_any(cld)
    assert clock is not None
    builder = _Builder(cld, parts, clock)
    doc = _joined(cld.doc, f"Stock-and-flow model {builder.origin}.")
    model = Model(
        name=cld.name or "Compiled diagram",
        time=clock,
        variables=builder.variables(),
        sectors=_sectors(parts),
        doc=doc,
    )
    _disagreements(cld, model).raise_if_any(cld)
    return model
