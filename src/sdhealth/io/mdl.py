"""Reading Vensim ``.mdl`` files: a front end, then :mod:`sdhealth.io.abstract`.

``read_mdl(path)`` reads the file with sdhealth's own front end
(:func:`sdhealth.io.mdl_parser.parse_mdl`, linear time) into PySD's AbstractModel and converts
that into the IR. ``read_mdl(path, front_end="pysd")`` uses PySD's :class:`VensimFile`
(parsimonious grammars) instead, the reference the own front end is tested against. A syntax
error is reported as a :class:`~sdhealth.errors.ModelSyntaxError` with the file's line and
column (PySD's parser reports positions within one equation, which are mapped back onto the
file's text).

PySD collapses the whitespace of the whole file, so multi-line documentation would arrive as
one line; :func:`sdhealth.io.mdl_text.documentation_by_key` reads it from the file as written
and :func:`read_mdl` keeps that text wherever it says the same as PySD's.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

from sdhealth.errors import ModelError, ModelSyntaxError, SdhealthError
from sdhealth.io.abstract import (
    TRANSLATION_FAILURES,
    UnreadableElement,
    abstract_to_model,
    describe_failure,
    failing_element,
)
from sdhealth.io.expressions import parse_equation
from sdhealth.io.front_ends import check_front_end
from sdhealth.io.mdl_parser import parse_mdl
from sdhealth.io.mdl_text import (
    definition_position,
    definition_positions,
    documentation_by_key,
    metadata_of,
    normalise_whitespace,
)
from sdhealth.io.syntax import from_pysd
from sdhealth.io.yaml_documents import decode_text
from sdhealth.ir.model import (
    DeclaredLink,
    Equation,
    Model,
    Report,
    Sector,
    SourceLocation,
    Stock,
    Variable,
)
from sdhealth.ir.vensim import split_source

__all__ = ["read_mdl", "read_mdl_text", "restore_metadata"]


def _syntax_error(error: Any, text: str, path: Path) -> ModelSyntaxError:
    """The parser's error located in the whole file (its text is one equation or the file)."""
    start = text.find(error.text) if error.text else -1
    offset = max(start, 0) + error.pos
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    snippet = error.text[error.pos : error.pos + 20].split("\n")[0].strip()
    where = f" near {snippet!r}" if snippet else ""
    return ModelSyntaxError(f"Vensim syntax error{where}", str(path), line, column)


def _raw_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


#: A first-line encoding comment naming an encoding other than UTF-8 (``{windows-1252}``).
_OTHER_ENCODING = re.compile(rb"\A\s*\{(?!\s*utf-?8\s*\})[\w .-]+\}", re.IGNORECASE)


def _check_utf8(path: Path) -> str:
    """The file's text; a file that does not declare another encoding must be UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelSyntaxError(
            f"cannot read the model file ({error.strerror})", str(path)
        ) from None
    if _OTHER_ENCODING.match(data):
        return data.decode("utf-8", errors="replace")
    return decode_text(data, str(path), "model")


#: Where the sketch starts. Vensim writes three backslashes; some files (the test suite's
#: ``teacup_3quotes.mdl``) have fewer, which PySD reads as trailing text it ignores.
_SKETCH = re.compile(r"\\+---///")
_HARMLESS_TAIL = re.compile(r"(?:\s|:END OF MACRO:|\{[^}]*\})*", re.IGNORECASE)


def _check_complete(text: str, path: Path) -> None:
    """A file whose last equation has no closing ``|`` is truncated: PySD would drop it.

    Only the text after the last ``|`` and before the sketch is looked at, so quotes and
    comments in the equations (balanced or not) do not matter.
    """
    equations = _SKETCH.split(text, 1)[0]
    end = equations.rfind("|") + 1
    if _HARMLESS_TAIL.fullmatch(equations, end):
        return
    start = end + len(equations[end:]) - len(equations[end:].lstrip())
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    raise ModelSyntaxError(
        "the file ends inside an equation (no closing '|'); is it truncated?",
        str(path),
        line,
        column,
    )


def _translation_error(error: BaseException, text: str, path: Path) -> ModelSyntaxError:
    """PySD's failure to translate the file, at the variable it was translating."""
    name = error.variable if isinstance(error, UnreadableElement) else failing_element(error)
    message = (
        str(error)
        if isinstance(error, UnreadableElement)
        else (
            f"cannot read {name!r}: {describe_failure(error)}"
            if name
            else f"PySD cannot translate the model: {describe_failure(error)}"
        )
    )
    position = definition_position(text, name) if name else None
    line, column = position if position else (None, None)
    return ModelSyntaxError(message, str(path), line, column)


def _parsed(path: Path, front_end: str = "sdhealth", text: str | None = None) -> Any:
    check_front_end(front_end)
    if text is None:
        text = _check_utf8(path)
    _check_complete(text, path)
    if front_end == "sdhealth":
        return parse_mdl(text, path)
    with warnings.catch_warnings():  # PySD's imports and translator raise deprecation warnings
        warnings.simplefilter("ignore")
        from parsimonious.exceptions import ParseError, VisitationError
        from pysd.translators.vensim.vensim_file import VensimFile

        try:
            vensim = VensimFile(path)
        except (UnicodeDecodeError, ValueError) as error:
            raise ModelError(f"{path}: cannot read the Vensim file: {error}") from None
        try:
            vensim.parse()
            return from_pysd(vensim.get_abstract_model())
        except ParseError as error:
            raise _syntax_error(error, _raw_text(path), path) from None
        except (VisitationError, *TRANSLATION_FAILURES) as error:
            raise _translation_error(error, text, path) from None


def _converted(abstract: Any, path: Path, text: str) -> Model:
    """:func:`abstract_to_model`, with a failure on odd input located in the file.

    A :class:`ModelError` (a construct the IR cannot hold) is passed on as it is: the caller
    says which file it is about, once.
    """
    try:
        return abstract_to_model(abstract, path.stem, path)
    except UnreadableElement as error:
        raise _translation_error(error, text, path) from None
    except ModelError:
        raise
    except TRANSLATION_FAILURES as error:
        raise _translation_error(error, text, path) from None


def _with_documentation(variable: Variable, written: str) -> Variable:
    """``variable`` with the documentation as written, if it says what PySD read."""
    doc, source = split_source(written)
    same = normalise_whitespace(doc) == normalise_whitespace(variable.doc) and (
        normalise_whitespace(source) == normalise_whitespace(variable.source)
    )
    return dataclasses.replace(variable, doc=doc, source=source) if same else variable


def _restore_documentation(model: Model, text: str) -> Model:
    """The model with each multi-line documentation given back its line breaks."""
    written = documentation_by_key(text)
    if not written:
        return model
    variables = tuple(
        _with_documentation(v, written[v.key]) if v.key in written else v for v in model.variables
    )
    return dataclasses.replace(model, variables=variables)


def _restored_variable(variable: Variable, found: dict[str, Any]) -> Variable:
    """``variable`` with what the metadata keeps of it (texts only where they say the same)."""
    changes: dict[str, Any] = {}
    if isinstance(found.get("sector"), str):
        changes["sector"] = found["sector"]
    for key in ("doc", "units"):
        if isinstance(found.get(key), str):
            changes[key] = found[key]
    for flag in ("non_negative", "internal"):
        if found.get(flag) is True and hasattr(variable, flag):
            changes[flag] = True
    if isinstance(variable, Stock):
        for key in ("inflows", "outflows"):
            listed = found.get(key)
            if isinstance(listed, list) and sorted(listed) == sorted(getattr(variable, key)):
                changes[key] = tuple(listed)
    links = found.get("links")
    if isinstance(links, list) and all(isinstance(x, list) and len(x) == 2 for x in links):
        changes["declared_links"] = tuple(DeclaredLink(str(a), int(b)) for a, b in links)
    texts = found.get("texts") if isinstance(found.get("texts"), dict) else {}
    for key, text in texts.items():
        equation = getattr(variable, key, None)
        if isinstance(equation, Equation) and isinstance(text, str):
            written = _parsed_text(text, equation, trusted=found.get("unedited") is True)
            if written is not None:
                changes[key] = written
    return dataclasses.replace(variable, **changes) if changes else variable


def _parsed_text(text: str, equation: Equation, trusted: bool = False) -> Equation | None:
    """The modeller's ``text`` as an equation, if it says what ``equation`` (PySD's) says, or
    if the file shows the equation as sdhealth wrote it (``trusted``: XMILE spells some
    Vensim functions as the expression they compute)."""
    try:
        written = parse_equation(text)
    except SdhealthError:
        return None
    return (
        dataclasses.replace(written, location=equation.location)
        if trusted or written.expr == equation.expr
        else None
    )


def restore_metadata(model: Model, metadata: dict[str, Any]) -> Model:
    """``model`` (read from a ``.mdl`` file) with what sdhealth's ``.sdhealth`` group kept.

    The group (:func:`sdhealth.ir.vensim.model_metadata`) holds the model's name,
    description, sectors and report, and each variable's sector, flags, declared links,
    flow order and equation texts. Entries about variables the file no longer has are
    ignored, so a model edited in Vensim after conversion still reads.
    """
    if not metadata:
        return model
    found = metadata.get("variables") if isinstance(metadata.get("variables"), dict) else {}
    variables = tuple(
        _restored_variable(v, found[v.name]) if isinstance(found.get(v.name), dict) else v
        for v in model.variables
    )
    order = metadata.get("order")
    if isinstance(order, list) and sorted(map(str, order)) == sorted(v.name for v in variables):
        position = {name: index for index, name in enumerate(order)}
        variables = tuple(sorted(variables, key=lambda v: position[v.name]))
    changes: dict[str, Any] = {"variables": variables}
    if isinstance(metadata.get("model"), str) and metadata["model"].strip():
        changes["name"] = metadata["model"]
    if isinstance(metadata.get("description"), str):
        changes["doc"] = metadata["description"]
    sectors = metadata.get("sectors")
    if isinstance(sectors, list):
        changes["sectors"] = tuple(Sector(str(n), str(d)) for n, d in sectors)
    restored = dataclasses.replace(model, **changes)
    return dataclasses.replace(restored, report=_report(metadata.get("report"), restored))


def _report(fields: Any, model: Model) -> Report:
    """The report settings kept in the metadata (names the model no longer has dropped)."""
    if not isinstance(fields, dict):
        return model.report
    indicators = tuple(n for n in fields.get("indicators") or () if n in model)
    loops = tuple(
        (str(name), tuple(v for v in members if v in model))
        for name, members in fields.get("loops") or ()
    )
    every = fields.get("every")
    return Report(indicators, float(every) if isinstance(every, int | float) else None, loops)


def read_mdl(path: Path, front_end: str = "sdhealth") -> Model:
    """Read a Vensim ``.mdl`` model into the IR.

    ``front_end`` is ``"sdhealth"`` (sdhealth's own reader, the default) or ``"pysd"``
    (PySD's translator: slower, the reference both are tested against).

    Raises
    ------
    ModelSyntaxError
        Malformed text, with the file's path, line and column.
    ModelError
        A construct the IR cannot hold (named with the variable).
    """
    path = Path(path)
    abstract = _parsed(path, front_end)
    text = _raw_text(path)
    try:
        model = _converted(abstract, path, text)
    except ModelError as error:
        raise ModelError(f"{path}: {error}") from None
    model = restore_metadata(_restore_documentation(model, text), metadata_of(text))
    return _with_locations(model, text, path)


def _with_locations(model: Model, text: str, path: Path) -> Model:
    """Each variable located at its definition in the file (PySD's translation keeps no
    lines), so that checks and run-time errors name ``file:line:col`` as for YAML models."""
    positions = definition_positions(text)
    where = str(path)
    variables = tuple(
        dataclasses.replace(v, location=SourceLocation(where, *positions[v.key]))
        if v.location is None and v.key in positions
        else v
        for v in model.variables
    )
    return dataclasses.replace(model, variables=variables)


def read_mdl_text(text: str, path: Path, front_end: str = "sdhealth") -> Model:
    """Read Vensim model text into the IR as if it were the file ``path``.

    ``path`` need not exist: it names the model (its stem) and the folder external data files
    are found in. Other front-ends use this to have PySD read equations they hold as Vensim
    text (the YAML format's subscripted definitions).

    Raises
    ------
    ModelSyntaxError
        Malformed text, at a line and column of ``text``.
    ModelError
        A construct the IR cannot hold (named with the variable).
    """
    path = Path(path)
    if front_end == "sdhealth":
        return _converted(_parsed(path, front_end, text), path, text)
    with tempfile.TemporaryDirectory(prefix="sdhealth-") as folder:
        written = Path(folder) / "model.mdl"
        written.write_text(text, encoding="utf-8")
        try:
            abstract = _parsed(written, front_end)
            model = _converted(abstract, path, text)
        except ModelSyntaxError as error:
            raise ModelSyntaxError(error.message, str(path), error.line, error.column) from None
        except ModelError as error:
            raise ModelError(str(error).replace(str(written), str(path))) from None
    return model
