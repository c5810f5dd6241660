"""Writing XMILE 1.0 files (Stella, PySD, sdhealth's own reader) from the IR.

``sdhealth convert MODEL out.xmile`` (or ``.stmx``) and :meth:`sdhealth.Model.to_xmile` write::

    <xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
      <header> vendor, product, name </header>
      <sim_specs method="Euler" time_units="month"> start, stop, dt </sim_specs>
      <dimensions> one <dim> per subscript range, its <elem>s </dimensions>
      <model><variables>
        <stock> eqn (the initial value), inflow..., outflow... </stock>
        <flow>, <aux> (constants too), <gf> (lookups: xpts, ypts) ...
      </variables></model>
      <sdhealth:metadata xmlns:sdhealth="..."> JSON: what XMILE cannot hold </sdhealth:metadata>
    </xmile>

Equations are printed by :mod:`sdhealth.ir.xmile`. Variables keep their names, units and
documentation (its last line holds the ``source``, as in ``.mdl`` files); an arrayed variable
has ``<dimensions>`` and either one apply-to-all equation or one ``<element>`` per element.

What XMILE has no place for (sectors, the report, declared link polarities, the equation texts
as the modeller wrote them, sdhealth's ``non_negative`` check, a save interval other than
``dt``) goes into one extension element in sdhealth's namespace, as JSON
(:func:`sdhealth.ir.vensim.model_metadata`). Other tools ignore it (XMILE lets vendors add
elements in their own namespace); sdhealth's reader puts it back. sdhealth's ``non_negative``
is a check that fails a run, not Stella's ``<non_negative/>`` (which limits outflows), so it
is kept there and not written as XMILE's flag.

A variable XMILE cannot express (a data variable, an expression with no XMILE spelling) is an
:class:`~sdhealth.ir.vensim.UnwritableExpression` naming it; nothing is written then.
"""

from __future__ import annotations

import itertools
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import sympy
from sympy.core.symbol import Str

from sdhealth.io.atomic import write_text_atomic
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Data,
    Definition,
    Equation,
    Extrapolation,
    Flow,
    Lookup,
    Model,
    Stock,
    Variable,
)
from sdhealth.ir.names import canonical
from sdhealth.ir.vensim import SOURCE_PREFIX, UnwritableExpression, model_metadata, number_to_vensim
from sdhealth.ir.xmile import XmilePrinter, xmile_name
from sdhealth.version import __version__

__all__ = ["METADATA_NAMESPACE", "XMILE_NAMESPACE", "model_to_xmile", "write_xmile"]

XMILE_NAMESPACE = "http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"
#: The namespace of the element that keeps what XMILE has no place for.
METADATA_NAMESPACE = "https://sdhealth.readthedocs.io/xmile/1"
_CLOCK_SETTINGS = (("start", "initial time"), ("stop", "final time"), ("dt", "time step"))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _points(values: Sequence[float]) -> str:
    return ",".join(number_to_vensim(v) for v in values)


class _Writer:
    def __init__(self, model: Model) -> None:
        self.model = model
        extrapolating = {
            v.key
            for v in model.variables
            if isinstance(v, Lookup) and v.extrapolation is Extrapolation.LINEAR
        }
        self.printer = XmilePrinter(self.name_of, frozenset(extrapolating))
        self.ranges = {canonical(s.name): s.elements for s in model.subscripts}
        self.printer.dims_of = {v.key: v.dims for v in model.variables if v.dims}
        self.printer.elements_of = self.ranges

        self.nets: dict[str, Flow] = {}
        self.initials: dict[str, Auxiliary] = {}
        self.written: dict[str, str | None] = {}  # a scalar variable's <eqn> as written
        self.helpers: list[Auxiliary] = []
        self.written_helpers: list[Auxiliary] = []
        self.taken = {v.key for v in model.variables}

    def unique(self, name: str) -> str:
        """``name``, or ``name 2``, ``name 3``... : one no variable has yet."""
        found, number = name, 1
        while canonical(found) in self.taken:
            number += 1
            found = f"{name} {number}"
        self.taken.add(canonical(found))
        return found

    def name_of(self, key: str) -> str:
        return self.model[key].name if key in self.model else key

    def text(self, equation: Equation) -> str:
        return self.printer.render(equation.expr)

    def document(self) -> ET.Element:
        model = self.model
        self.refuse_what_xmile_lacks()
        root = ET.Element("xmile", {"version": "1.0", "xmlns": XMILE_NAMESPACE})
        header = _sub(root, "header")
        _sub(header, "vendor", "sdhealth")
        _sub(header, "product", "sdhealth", version=__version__, lang="en")
        _sub(header, "name", model.name)
        self.sim_specs(root)
        if model.subscripts:
            dimensions = _sub(root, "dimensions")
            for subscript in model.subscripts:
                dim = _sub(dimensions, "dim", name=subscript.name)
                for element in subscript.elements:
                    _sub(dim, "elem", name=element)
        body = _sub(root, "model")
        variables = _sub(body, "variables")
        nets = self.net_flows()
        queue = [*model.variables, *nets.values(), *self.initials.values()]
        while queue:  # helpers lifted out of equations join the end of the queue
            variable = queue.pop(0)
            try:
                self.variable(variables, variable)
            except UnwritableExpression as error:
                raise error.naming(variable) from None
            except ValueError as error:
                reason = f"needs what XMILE lacks: {error}"
                raise UnwritableExpression(reason, language="XMILE").naming(variable) from None
            queue.extend(self.helpers[len(self.written_helpers) :])
            self.written_helpers = list(self.helpers)
        metadata = model_metadata(model)
        metadata["saveper"] = model.time.saveper
        for name, text in self.written.items():  # the reader trusts texts of unedited eqns
            if "texts" in metadata["variables"].get(name, {}):
                metadata["variables"][name]["written"] = text
        for made in (*nets.values(), *self.initials.values(), *self.helpers):
            metadata["order"].append(made.name)
            metadata["variables"][made.name] = {"internal": True}
        extension = ET.SubElement(root, f"{{{METADATA_NAMESPACE}}}metadata")
        extension.text = json.dumps(metadata, ensure_ascii=False, indent=1)
        return root

    def net_flows(self) -> dict[str, Flow]:
        """A flow for each arrayed stock whose rates are equations, not flows: XMILE's stocks
        name their flows. The flow is internal (hidden from results, as the reader's own net
        flows are) and named ``<stock> net flow``."""
        nets: dict[str, Flow] = {}
        for stock in self.model.stocks:
            if stock.definitions and not self.whole(stock):
                self.initials[stock.key] = self.initial_of(stock)
            if stock.inflows or stock.outflows or not stock.definitions:
                continue
            name = self.unique(f"{stock.name} net flow")
            definitions = tuple(
                Definition(d.subscripts, equation=d.equation, excepts=d.excepts)
                for d in stock.definitions
            )
            if any(d.equation is None for d in definitions):
                raise UnwritableExpression("has an element without a rate").naming(stock)
            nets[stock.key] = Flow(
                name=name, dims=stock.dims, definitions=definitions,
                equation=definitions[0].equation, internal=True,
            )  # fmt: skip
        self.nets = nets
        return nets

    def refuse_what_xmile_lacks(self) -> None:
        """XMILE's clock is three numbers; it has no subscript mappings."""
        where = self.model.path or self.model.name
        if self.model.time.equations:
            settings = ", ".join(setting.upper() for setting, _ in self.model.time.equations)
            raise UnwritableExpression(
                f"computes its clock ({settings}), which XMILE's <sim_specs> holds as numbers",
                where, language="XMILE",
            )  # fmt: skip
        for variable in self.model.variables:
            if len(set(map(canonical, variable.dims))) < len(variable.dims):
                raise UnwritableExpression(
                    f"is arrayed over {', '.join(variable.dims)}: XMILE names each dimension of "
                    "an array once", variable.name, language="XMILE",
                )  # fmt: skip
            if "\\n" in variable.name:
                raise UnwritableExpression(
                    "has '\\n' in its name, which XMILE reads as a line break",
                    variable.name, language="XMILE",
                )  # fmt: skip
        for subscript in self.model.subscripts:
            if subscript.mappings:
                raise UnwritableExpression(
                    f"maps subscript range {subscript.name!r} to {', '.join(subscript.mappings)}"
                    ", which XMILE has no mappings for", where, language="XMILE",
                )  # fmt: skip

    def whole(self, variable: Variable) -> bool:
        """Whether ``variable`` has one apply-to-all equation over its dimensions."""
        definitions = variable.definitions
        return (
            len(definitions) == 1
            and not definitions[0].excepts
            and tuple(map(canonical, definitions[0].subscripts))
            == tuple(map(canonical, variable.dims))
        )

    def initial_of(self, stock: Stock) -> Auxiliary:
        """An internal auxiliary with the initial values of an arrayed stock defined element
        by element (the stock's ``<eqn>`` names it: every XMILE reader reads an apply-to-all
        stock, not all read ``<element>``s of one)."""
        definitions = tuple(
            Definition(d.subscripts, equation=d.initial, excepts=d.excepts)
            for d in stock.definitions
        )
        if any(d.equation is None for d in definitions):
            raise UnwritableExpression("has an element without an initial value").naming(stock)
        return Auxiliary(
            name=self.unique(f"{stock.name} initial"), dims=stock.dims, definitions=definitions,
            equation=definitions[0].equation, internal=True,
        )  # fmt: skip

    def sim_specs(self, root: ET.Element) -> None:
        time = self.model.time
        method = {"euler": "Euler", "rk2": "RK2", "rk4": "RK4"}[time.method]
        specs = _sub(root, "sim_specs", method=method, time_units=time.units or "")
        for tag, setting in _CLOCK_SETTINGS:
            equation = time.equation(setting)
            value = {"start": time.start, "stop": time.stop, "dt": time.dt}[tag]
            _sub(specs, tag, self.text(equation) if equation else number_to_vensim(value))

    def variable(self, parent: ET.Element, variable: Variable) -> None:
        if isinstance(variable, Data):
            raise ValueError("XMILE has no data variables (values read from a file over time)")
        if isinstance(variable, Lookup) and not variable.definitions:
            node = _sub(parent, "gf", name=variable.name)
            node.set("type", "extrapolate" if variable.extrapolation is Extrapolation.LINEAR
                     else "continuous")  # fmt: skip
            self.described(node, variable)
            _sub(node, "xpts", _points(variable.xs))
            _sub(node, "ypts", _points(variable.ys))
            return
        tag = "stock" if isinstance(variable, Stock) else "aux"
        tag = "flow" if isinstance(variable, Flow) else tag
        node = _sub(parent, tag, name=variable.name)
        self.described(node, variable)
        if variable.dims:
            dims = _sub(node, "dimensions")
            for dim in variable.dims:
                _sub(dims, "dim", name=dim)
        if isinstance(variable, Stock) and variable.key in self.initials:
            dims = ", ".join(xmile_name(d) for d in variable.dims)
            _sub(node, "eqn", f"{xmile_name(self.initials[variable.key].name)}[{dims}]")
        elif variable.definitions:
            self.elements(node, variable)
        elif isinstance(variable, Stock):
            self.written[variable.name] = _sub(node, "eqn", self.text(variable.initial)).text
        elif isinstance(variable, Constant):
            _sub(node, "eqn", number_to_vensim(variable.value))
        elif isinstance(variable, (Flow, Auxiliary)):
            self.equation(node, variable, variable.equation)
        else:
            raise ValueError(f"cannot write a {type(variable).__name__} as XMILE")
        if isinstance(variable, Stock) and variable.key in self.nets:
            _sub(node, "inflow", xmile_name(self.nets[variable.key].name))
        if isinstance(variable, Stock):
            for flow in variable.inflows:
                _sub(node, "inflow", xmile_name(self.name_of(canonical(flow))))
            for flow in variable.outflows:
                _sub(node, "outflow", xmile_name(self.name_of(canonical(flow))))

    def equation(self, node: ET.Element, variable: Variable, equation: Equation) -> None:
        self.written[variable.name] = self.eqn(node, variable, equation.expr)

    def eqn(self, node: ET.Element, variable: Variable, expr: sympy.Basic) -> str:
        """``<eqn>`` (returned); Vensim's ``WITH LOOKUP(x, table)`` is XMILE's variable (or
        element) with its own graphical function: ``<eqn>x</eqn><gf>table</gf>``, and one
        inside an expression becomes such a variable of its own (internal, ``<name> lookup``).
        """
        if not isinstance(expr, fn.WITH_LOOKUP):
            text = self.printer.render(self.lifted(variable, expr))
            _sub(node, "eqn", text)
            return text
        x, xs, ys = expr.args
        text = self.printer.render(self.lifted(variable, x))
        _sub(node, "eqn", text)
        gf = _sub(node, "gf", type="continuous")
        _sub(gf, "xpts", _points([float(v) for v in xs]))
        _sub(gf, "ypts", _points([float(v) for v in ys]))
        return text

    def lifted(self, variable: Variable, expr: sympy.Basic) -> sympy.Basic:
        """``expr`` with each ``WITH LOOKUP`` in it replaced by a helper variable's name."""
        inner = [e for e in sympy.preorder_traversal(expr) if isinstance(e, fn.WITH_LOOKUP)]
        if not inner:
            return expr
        if variable.dims:
            raise ValueError("XMILE has no WITH LOOKUP inside an arrayed equation")
        replaced = {}
        for found in dict.fromkeys(inner):
            helper = Auxiliary(
                name=self.unique(f"{variable.name} lookup"), equation=Equation(found), internal=True
            )
            self.helpers.append(helper)
            replaced[found] = helper.symbol
        return expr.xreplace(replaced)

    def described(self, node: ET.Element, variable: Variable) -> None:
        doc = variable.doc.strip()
        if variable.source:
            doc = f"{doc}\n{SOURCE_PREFIX}{' '.join(variable.source.split())}".strip()
        if doc:
            _sub(node, "doc", doc)
        if variable.units:
            _sub(node, "units", variable.units)

    def elements(self, node: ET.Element, variable: Variable) -> None:
        """One apply-to-all equation, or one ``<element>`` per element of the variable."""
        definitions = variable.definitions
        if self.whole(variable):
            self.eqn(node, variable, self.definition_expr(variable, definitions[0]))
            return
        written: dict[tuple[str, ...], ET.Element] = {}
        for definition in definitions:
            excepted = {e for ex in definition.excepts for e in self.expanded(ex)}
            for element in self.expanded(definition.subscripts):
                if element in excepted:
                    continue
                if element in written:
                    node.remove(written[element])
                child = ET.Element("element", {"subscript": ", ".join(element)})
                self.eqn(child, variable, self.definition_expr(variable, definition, element))
                node.append(child)
                written[element] = child

    def expanded(self, subscripts: Sequence[str]) -> list[tuple[str, ...]]:
        """The element tuples a definition's subscripts (elements or ranges) stand for."""
        choices = [self.ranges.get(canonical(s), (s,)) for s in subscripts]
        return list(itertools.product(*choices))

    def definition_expr(
        self, variable: Variable, definition: Definition, element: tuple[str, ...] = ()
    ) -> sympy.Basic:
        """The equation of a definition; for one ``element`` of it, a subscript naming the
        variable's dimension (or the definition's range) there is that element: Vensim's
        ``x[region]`` in ``y[region]``'s equation is ``x[north]`` in ``y[north]``'s."""
        if definition.points is not None or definition.data is not None:
            raise ValueError("XMILE has no arrayed graphical functions or data here")
        chosen = definition.initial if isinstance(variable, Stock) else definition.equation
        if chosen is None:
            raise ValueError("an element has no equation")
        expr = chosen.expr
        if element:
            current = {}
            for names in (variable.dims, definition.subscripts):
                for name, value in zip(names, element, strict=False):
                    current[canonical(name)] = value
            expr = expr.replace(
                lambda e: isinstance(e, fn.SUBSCRIPT),
                lambda e: fn.SUBSCRIPT(
                    e.args[0],
                    *(Str(current.get(canonical(a.name), a.name)) for a in e.args[1:]),
                ),
            )
        return expr


def model_to_xmile(model: Model) -> str:
    """The XMILE 1.0 text of ``model`` (see the module docstring).

    Examples
    --------
    >>> import sympy
    >>> m = Model("m", variables=(
    ...     Stock(name="Waiting list", initial=Equation.of(10), outflows=("Treated",)),
    ...     Flow(name="Treated", equation=Equation(sympy.Symbol("waiting list") / 4)),
    ... ))
    >>> text = model_to_xmile(m)
    >>> "<outflow>Treated</outflow>" in text, "<eqn>waiting_list/4</eqn>" in text.replace(
    ...     "Waiting_list", "waiting_list")
    (True, True)
    """
    ET.register_namespace("sdhealth", METADATA_NAMESPACE)
    root = _Writer(model).document()
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_xmile(model: Model, path: str | os.PathLike[str]) -> None:
    """Write ``model`` as an XMILE file, atomically (nothing is written if it cannot be)."""
    write_text_atomic(path, model_to_xmile(model))
