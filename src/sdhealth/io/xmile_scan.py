"""What an XMILE file holds that sdhealth reads only in part: checked on the XML itself.

PySD's translator, which reads XMILE for sdhealth today, reads a file it does not understand as
an empty model and runs Stella's special stocks as plain ones. Both give numbers that differ from
Stella's with no word. This module looks at the XML before and beside that translation:

- :func:`ensure_model_content` refuses a file whose variables were not read at all: no
  ``<xmile>`` root, no ``<model>``, no ``<variables>``, or variables in an XML namespace the
  translator does not read (an old or foreign one), naming which, with the line.
- :func:`scan_caveats` lists the constructs whose Stella semantics sdhealth does not yet
  honour (see ``shared/xmile-semantics.md``): a non-negative stock with more than one outflow
  (Stella limits its outflows in priority order, sdhealth would clamp the stock), conveyors,
  queues and ovens (run as plain stocks), and module variables whose names collide once the
  modules are flattened into one namespace. Each is a
  :class:`~sdhealth.ir.model.Caveat` on the model: ``check`` warns about it and a run refuses it
  unless the user accepts an approximation (``docs/running.md``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from sdhealth.errors import ModelSyntaxError
from sdhealth.ir.model import Caveat, SourceLocation, canonical

__all__ = ["XMILE_NAMESPACES", "ensure_model_content", "plain_conveyor", "scan_caveats"]

#: The namespaces whose elements the translator reads: XMILE 1.0 (OASIS), the pre-standard
#: one that the SDXorg tests use, and none at all.
XMILE_NAMESPACES = (
    "http://docs.oasis-open.org/xmile/ns/XMILE/v1.0",
    "http://www.systemdynamics.org/XMILE",
)
_VARIABLE_TAGS = frozenset({"stock", "flow", "aux", "gf", "group", "module"})
#: Stock kinds Stella computes in its own way, and what they are called in a message.
_SPECIAL_STOCKS = {"conveyor": "a conveyor", "queue": "a queue", "oven": "an oven"}


def _local(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _namespace(element: Any) -> str:
    tag = element.tag
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _children(element: Any, name: str) -> list[Any]:
    return [child for child in element if _local(child) == name]


def plain_conveyor(stock: Any, flows: dict[str, Any]) -> bool:
    """Whether ``stock`` is a conveyor sdhealth computes as Stella does (xmile-semantics.md
    section 2): a continuous belt with a constant transit time (``<len>`` a number or the
    name of a constant: an aux whose equation is a number), a main
    outflow and leaks of constant fractions over the whole belt (linear ones adding up to at
    most 1: above, Stella serves them in order, later ones getting less), no sampling or
    arrest, one initial value, and inflows that land at the entry (no ``isee:spreadflow``); a
    capacity and an inflow limit may be given. ``flows`` maps the name (:func:`_flow_key`) of
    each flow and aux of the stock's model to its element.
    """
    belts = _children(stock, "conveyor")
    if len(belts) != 1:
        return False
    belt = belts[0]
    lengths = _children(belt, "len")
    length = constant_value(lengths[0].text, flows) if len(lengths) == 1 else None
    if length is None or length <= 0:
        return False
    options = {"sample", "arrest"}
    if any(_local(child) in options for child in belt):
        return False
    if str(belt.get("discrete", "false")).lower() == "true":
        return False
    outflows = _children(stock, "outflow")
    if not outflows or len(_children(stock, "eqn")) != 1:
        return False
    if "," in (_children(stock, "eqn")[0].text or ""):  # amounts leaving per time unit
        amounts = belt_amounts(stock)
        if amounts is None or len(amounts) != length or len(outflows) > 1:
            return False  # a list that is truncated or filled, or on a leaking belt
        if _children(stock, "dimensions"):
            return False
    for kind in ("inflow", "outflow"):
        for link in _children(stock, kind):
            flow = flows.get(_flow_key(link.text))
            if (
                flow is None
                or (kind == "inflow" or link is outflows[0])
                and _children(flow, "leak")
            ):
                return False
            if any("spreadflow" in str(key) for key in flow.attrib) or any(
                "distrib" in _local(child) for child in flow
            ):
                return False
    total = 0.0
    for outflow in outflows[1:]:  # leaks: each a constant fraction over the whole belt
        leak = flows[_flow_key(outflow.text)]
        fraction = leak_fraction(leak, flows)
        if fraction is None or _children(leak, "leak_integers"):
            return False
        zone = (leak.get("leak_start", "0"), leak.get("leak_end", "1"))
        if tuple(_number(z) for z in zone) != (0.0, 1.0):
            return False
        total += fraction
    exponential = str(belt.get("exponential_leak", "false")).lower() == "true"
    return exponential or total <= 1


def belt_amounts(stock: Any) -> list[float] | None:
    """A conveyor's initial value written as a list (``1,2,3,4``: the amounts leaving in each
    successive time unit, xmile-semantics.md 2.3), or None where it is not a list of
    numbers."""
    equations = _children(stock, "eqn")
    text = (equations[0].text or "") if equations else ""
    if "," not in text:
        return None
    values = [_number(part) for part in text.split(",")]
    return None if any(v is None for v in values) else values  # type: ignore[return-value]


def leak_text(flow: Any) -> tuple[str, Any]:
    """A leak flow's fraction as written, with the element holding it: XMILE's
    ``<leak>fraction</leak>``, or, as Stella writes it, a bare ``<leak/>`` with the fraction
    in the flow's ``<eqn>``."""
    marks = _children(flow, "leak")
    if marks and (marks[0].text or "").strip():
        return (marks[0].text or "").strip(), marks[0]
    equations = _children(flow, "eqn")
    return ((equations[0].text or "").strip(), equations[0]) if equations else ("", flow)


def leak_fraction(flow: Any, elements: dict[str, Any] | None = None) -> float | None:
    """A leak flow's fraction when it is constant (:func:`constant_value`), else None."""
    value = constant_value(leak_text(flow)[0], elements or {})
    return value if value is not None and value >= 0 else None


def constant_value(text: str | None, elements: dict[str, Any]) -> float | None:
    """The value of ``text`` when it is a number, or the name of an aux of ``elements`` (by
    :func:`_flow_key`) whose equation is a number and which has no dimensions or graphical
    function: what stays the same through a run. Else None."""
    value = _number(text)
    if value is not None:
        return value
    element = elements.get(_flow_key(text))
    if element is None or _local(element) != "aux":
        return None
    if _children(element, "dimensions") or _children(element, "gf"):
        return None
    equations = _children(element, "eqn")
    return _number(equations[0].text) if len(equations) == 1 else None


def _number(text: str | None) -> float | None:
    try:
        return float((text or "").strip())
    except ValueError:
        return None


def _flow_key(text: str | None) -> str:
    return " ".join((text or "").replace("_", " ").split()).lower()


def _models(root: Any) -> list[Any]:
    return [element for element in root if _local(element) == "model"]


def ensure_model_content(root: Any, path: Path, read_variables: int) -> None:
    """Raise :class:`ModelSyntaxError` if the XML holds no model the translator could read.

    ``read_variables`` is how many variables the translation gave; a file with variables in
    its ``<model>`` that gave none was read in a namespace the translator ignores.
    """
    where = str(path)
    if _local(root) != "xmile":
        raise ModelSyntaxError(
            f"not an XMILE file: the root element is <{_local(root)}>, not <xmile>",
            where, root.sourceline,
        )  # fmt: skip
    models = _models(root)
    if not models:
        raise ModelSyntaxError(
            "the XMILE file has no <model> (nothing to read or run)", where, root.sourceline
        )
    declared = [
        element
        for model in models
        for variables in _children(model, "variables")
        for element in variables
        if _local(element) in _VARIABLE_TAGS
    ]
    if read_variables > 0:
        return
    if not any(_children(model, "variables") for model in models):
        raise ModelSyntaxError(
            "the XMILE <model> has no <variables> (nothing to read or run)",
            where, models[0].sourceline,
        )  # fmt: skip
    namespace = _namespace(root)
    if declared and namespace and namespace not in XMILE_NAMESPACES:
        raise ModelSyntaxError(
            f"the XMILE namespace {namespace!r} is not one sdhealth reads "
            f"(use {XMILE_NAMESPACES[0]!r}): none of its {len(declared)} variables were read",
            where, root.sourceline,
        )  # fmt: skip
    if declared:
        raise ModelSyntaxError(
            f"none of the {len(declared)} variables of the XMILE <model> could be read",
            where, declared[0].sourceline,
        )  # fmt: skip
    raise ModelSyntaxError(
        "the XMILE <model> defines no variables (nothing to read or run)",
        where, models[0].sourceline,
    )  # fmt: skip


def _name(element: Any) -> str:
    return str(element.get("name", "")).replace("\\n", " ").replace("\n", " ").strip()


def _non_negative_default(root: Any, model: Any) -> bool:
    """Whether stocks are non-negative unless they opt out (``<behavior>`` of file or model)."""
    default = False
    for holder in (root, model):
        for behavior in _children(holder, "behavior"):
            for stock in _children(behavior, "stock"):
                if _children(stock, "non_negative"):
                    default = True
            if _children(behavior, "non_negative"):
                default = True
    return default


def _is_non_negative(stock: Any, default: bool) -> bool:
    for flag in _children(stock, "non_negative"):
        text = (flag.text or "").strip().lower()
        return text != "false"
    return default


def scan_caveats(
    root: Any, path: Path, *, merged_modules: bool = True, stella_stocks: bool = False
) -> tuple[Caveat, ...]:
    """The half-understood constructs of an XMILE file, in file order (see module doc).

    ``merged_modules`` says the reader put every module's variables in one namespace (PySD's
    translator does; sdhealth's own reader gives each module its own), which makes the names
    they share collide. ``stella_stocks`` says the reader computes plain conveyors
    (:func:`plain_conveyor`) and limits the outflows of non-negative stocks in priority order
    as Stella does (sdhealth's own reader does; PySD's runs conveyors as plain stocks and only
    keeps a non-negative stock at zero).
    """
    caveats: list[Caveat] = []
    owners: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    models = _models(root)
    for model in models:
        default = _non_negative_default(root, model)
        module = str(model.get("name", "")) or None
        flows = {
            _flow_key(_name(e)): e
            for variables in _children(model, "variables")
            for e in variables
            if _local(e) in ("flow", "aux")
        }
        for variables in _children(model, "variables"):
            for element in variables:
                kind = _local(element)
                if kind not in _VARIABLE_TAGS - {"group", "module"}:
                    continue
                name = _name(element)
                owners[canonical(name)].append((module or "the main model", element))
                if kind != "stock":
                    continue
                at = SourceLocation(str(path), element.sourceline)
                special = [s for s in _SPECIAL_STOCKS if _children(element, s)]
                if stella_stocks and special == ["conveyor"]:
                    if plain_conveyor(element, flows):  # sdhealth's reader computes it
                        special = []
                for construct in special:
                    caveats.append(
                        Caveat(name, construct, f"{name!r} is {_SPECIAL_STOCKS[construct]}, "
                               "run as a plain stock", at)
                    )  # fmt: skip
                outflows = _children(element, "outflow")
                several = len(outflows) > 1 and not stella_stocks
                if not special and several and _is_non_negative(element, default):
                    caveats.append(
                        Caveat(
                            name, "non-negative stock",
                            f"{name!r} is a non-negative stock with {len(outflows)} outflows, "
                            "which Stella limits one by one in priority order",
                            at,
                        )
                    )  # fmt: skip
    if merged_modules and len(models) > 1:
        for owned in owners.values():
            modules = sorted({module for module, _ in owned})
            if len(modules) > 1:
                name, element = _name(owned[0][1]), owned[0][1]
                caveats.append(
                    Caveat(
                        name, "module",
                        f"{name!r} is defined in {len(modules)} modules ({', '.join(modules)}), "
                        "which are merged into one namespace",
                        SourceLocation(str(path), element.sourceline),
                    )
                )  # fmt: skip
    return tuple(caveats)
