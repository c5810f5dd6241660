"""Reading Vensim ``.mdl`` files: PySD's Vensim translator, then :mod:`sdhealth.io.abstract`.

``read_mdl(path)`` parses the file with PySD's :class:`VensimFile` (sections, elements and
equation grammars) and converts its AbstractModel into the IR. A syntax error is reported as a
:class:`~sdhealth.errors.ModelSyntaxError` with the file's line and column: PySD's parser
reports positions within one equation, which are mapped back onto the file's text.

PySD collapses the whitespace of the whole file, so multi-line documentation would arrive as
one line; :func:`sdhealth.io.mdl_text.documentation_by_key` reads it from the file as written
and :func:`read_mdl` keeps that text wherever it says the same as PySD's.
"""

from __future__ import annotations

import dataclasses
import tempfile
import warnings
from pathlib import Path
from typing import Any

from parsimonious.exceptions import ParseError

from sdhealth.errors import ModelError, ModelSyntaxError
from sdhealth.io.abstract import abstract_to_model
from sdhealth.io.mdl_text import documentation_by_key, normalise_whitespace
from sdhealth.ir.model import Model, Variable
from sdhealth.ir.vensim import split_source

with warnings.catch_warnings():  # PySD's own imports raise deprecation warnings
    warnings.simplefilter("ignore")
    from pysd.translators.vensim.vensim_file import VensimFile

__all__ = ["read_mdl", "read_mdl_text"]


def _syntax_error(error: ParseError, text: str, path: Path) -> ModelSyntaxError:
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


def _parsed(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            vensim = VensimFile(path)
        except (UnicodeDecodeError, ValueError) as error:
            raise ModelError(f"{path}: cannot read the Vensim file: {error}") from None
        try:
            vensim.parse()
            return vensim.get_abstract_model()
        except ParseError as error:
            raise _syntax_error(error, _raw_text(path), path) from None
        except (ValueError, KeyError, IndexError, AttributeError, TypeError) as error:
            raise ModelError(f"{path}: PySD could not parse the model: {error}") from None


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


def read_mdl(path: Path) -> Model:
    """Read a Vensim ``.mdl`` model into the IR.

    Raises
    ------
    ModelSyntaxError
        Malformed text, with the file's path, line and column.
    ModelError
        A construct the IR cannot hold (named with the variable).
    """
    path = Path(path)
    abstract = _parsed(path)
    try:
        model = abstract_to_model(abstract, path.stem, path)
    except ModelError as error:
        raise ModelError(f"{path}: {error}") from None
    return _restore_documentation(model, _raw_text(path))


def read_mdl_text(text: str, path: Path) -> Model:
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
    with tempfile.TemporaryDirectory(prefix="sdhealth-") as folder:
        written = Path(folder) / "model.mdl"
        written.write_text(text, encoding="utf-8")
        try:
            abstract = _parsed(written)
        except ModelSyntaxError as error:
            raise ModelSyntaxError(error.message, str(path), error.line, error.column) from None
        except ModelError as error:
            raise ModelError(str(error).replace(str(written), str(path))) from None
    return abstract_to_model(abstract, path.stem, path)
