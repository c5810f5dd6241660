"""Reading XMILE models (``.xmile``, ``.xml``, ``.stmx``): file -> AbstractModel -> IR.

``read_xmile(path)`` reads the file with sdhealth's own reader (:mod:`sdhealth.io.xmile_parser`)
or, with ``front_end="pysd"``, with PySD's :class:`XmileFile`; both give PySD's AbstractModel,
which :func:`sdhealth.io.abstract.abstract_to_model` converts into the IR.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from lxml import etree

from sdhealth.errors import ModelError, ModelSyntaxError
from sdhealth.io.abstract import (
    TRANSLATION_FAILURES,
    UnreadableElement,
    abstract_to_model,
    describe_failure,
    failing_element,
)
from sdhealth.io.front_ends import check_front_end
from sdhealth.io.mdl import restore_metadata
from sdhealth.io.syntax import from_pysd
from sdhealth.io.xmile_parser import parse_xmile
from sdhealth.io.xmile_scan import ensure_model_content, scan_caveats
from sdhealth.io.xmile_writer import METADATA_NAMESPACE
from sdhealth.ir.model import Model
from sdhealth.ir.names import canonical

__all__ = ["read_xmile"]


def _parsed(path: Path, front_end: str = "sdhealth") -> tuple[Any, Any]:
    """The file's AbstractModel and its XML root (PySD's translator recovers from bad XML)."""
    check_front_end(front_end)
    if front_end == "sdhealth":
        return parse_xmile(path)
    with warnings.catch_warnings():  # PySD's imports and translator raise deprecation warnings
        warnings.simplefilter("ignore")
        from parsimonious.exceptions import ParseError, VisitationError
        from pysd.translators.xmile.xmile_file import XmileFile

        try:
            xmile = XmileFile(path)
            xmile.parse()
            return from_pysd(xmile.get_abstract_model()), xmile.xmile_root
        except etree.XMLSyntaxError as error:
            line = error.position[0] if error.position else None
            raise ModelSyntaxError(f"XML syntax error: {error.msg}", str(path), line) from None
        except ParseError as error:
            raise ModelSyntaxError(f"XMILE equation syntax error: {error}", str(path)) from None
        except (VisitationError, *TRANSLATION_FAILURES) as error:
            raise _translation_error(error, path) from None


def _translation_error(error: BaseException, path: Path) -> ModelSyntaxError:
    """PySD's (or the conversion's) failure on one variable of the file, naming it."""
    name = error.variable if isinstance(error, UnreadableElement) else failing_element(error)
    if isinstance(error, UnreadableElement):
        return ModelSyntaxError(str(error), str(path))
    subject = f"cannot read {name!r}" if name else "PySD cannot translate the model"
    return ModelSyntaxError(f"{subject}: {describe_failure(error)}", str(path))


def read_xmile(path: Path, front_end: str = "sdhealth") -> Model:
    """Read an XMILE model into the IR (see :func:`sdhealth.io.mdl.read_mdl` for errors).

    ``front_end`` is ``"sdhealth"`` (sdhealth's own reader, the default) or ``"pysd"`` (PySD's
    translator).

    A file with no model the translator could read is an error, and the constructs whose
    Stella semantics sdhealth does not yet honour become the model's ``caveats``
    (:mod:`sdhealth.io.xmile_scan`).
    """
    path = Path(path)
    abstract, root = _parsed(path, front_end)
    model = _converted(abstract, path, _CLOCK_NAMES if front_end == "pysd" else None)
    internal = {canonical(name) for name in getattr(abstract, "internal", ())}
    if internal:  # what the reader added (a leaking conveyor's pipeline)
        variables = tuple(
            replace(v, internal=True) if v.key in internal else v for v in model.variables
        )
        model = replace(model, variables=variables)
    ensure_model_content(root, path, len(model.variables))
    model = _restored(model, root)
    method = _integration_method(root, path)
    if method != model.time.method:
        model = replace(model, time=replace(model.time, method=method))
    namespaced = front_end == "sdhealth" and any(
        isinstance(e.tag, str) and e.tag.rsplit("}", 1)[-1] == "module" for e in root.iter()
    )  # sdhealth's reader gives each <module> its namespace; without one it merges, as PySD
    caveats = scan_caveats(
        root, path, merged_modules=not namespaced, stella_stocks=front_end == "sdhealth"
    )
    return replace(model, caveats=caveats) if caveats else model


#: ``<sim_specs method=...>`` (XMILE 4.1.1, case-insensitive) -> sdhealth's method.
_METHODS = {"euler": "euler", "rk2": "rk2", "rk4": "rk4"}


def _integration_method(root: Any, path: Path) -> str:
    """The integration method the file's ``<sim_specs>`` asks for (Euler where it names none);
    one sdhealth does not have (XMILE's ``RK45``, ``Gear``) is refused at its line, since
    another method's numbers would pass for the file's."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.rsplit("}", 1)[-1] == "sim_specs":
            written = element.get("method", "Euler")
            method = _METHODS.get(written.strip().lower())
            if method is None:
                raise ModelSyntaxError(
                    f'<sim_specs method="{written}">: sdhealth integrates with Euler, RK2 or '
                    "RK4; choose one of them in the file",
                    str(path), element.sourceline,
                )  # fmt: skip
            return method
    return "euler"


def _restored(model: Model, root: Any) -> Model:
    """``model`` with what sdhealth's XMILE writer kept in its extension element, if any
    (:mod:`sdhealth.io.xmile_writer`): sectors, report, flags, texts, the save interval."""
    found = root.find(f"{{{METADATA_NAMESPACE}}}metadata")
    if found is None or not found.text:
        return model
    try:
        metadata = json.loads(found.text)
    except ValueError:
        return model  # edited into something else: the equations are still the model
    if not isinstance(metadata, dict):
        return model
    _mark_unedited(metadata, root)
    model = restore_metadata(model, metadata)
    saveper = metadata.get("saveper")
    if isinstance(saveper, int | float) and not isinstance(saveper, bool) and saveper > 0:
        model = replace(model, time=replace(model.time, saveper=float(saveper)))
    return model


def _mark_unedited(metadata: dict[str, Any], root: Any) -> None:
    """Mark the variables whose ``<eqn>`` is still the text sdhealth's writer wrote: their
    modeller's texts (in Vensim's syntax) are then the equations, even where XMILE spells
    them otherwise (``PULSE(s, w)`` written as the ``IF`` that computes it)."""
    variables = metadata.get("variables")
    if not isinstance(variables, dict):
        return
    equations = {
        str(node.get("name")): node.findtext(f"{{{node.tag.partition('}')[0][1:]}}}eqn")
        for node in root.iter()
        if isinstance(node.tag, str) and node.get("name") is not None
    }
    for name, found in variables.items():
        if isinstance(found, dict) and "written" in found:
            found["unedited"] = equations.get(name) == found["written"]


#: XMILE's names of the clock, which PySD's XMILE translator leaves as plain names.
_CLOCK_NAMES = {"dt": "time_step", "starttime": "initial_time", "stoptime": "final_time"}


def _converted(abstract: Any, path: Path, clock_names: dict[str, str] | None = None) -> Model:
    try:
        return abstract_to_model(abstract, path.stem, path, clock_names)
    except UnreadableElement as error:
        raise _translation_error(error, path) from None
    except ModelError as error:
        raise ModelError(f"{path}: {error}") from None
    except TRANSLATION_FAILURES as error:
        raise _translation_error(error, path) from None
