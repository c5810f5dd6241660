"""Reading Vensim ``.mdl`` files: PySD's Vensim translator, then :mod:`sdhealth.io.abstract`.

``read_mdl(path)`` parses the file with PySD's :class:`VensimFile` (sections, elements and
equation grammars) and converts its AbstractModel into the IR. A syntax error is reported as a
:class:`~sdhealth.errors.ModelSyntaxError` with the file's line and column: PySD's parser
reports positions within one equation, which are mapped back onto the file's text.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from parsimonious.exceptions import ParseError

from sdhealth.errors import ModelError, ModelSyntaxError
from sdhealth.io.abstract import abstract_to_model
from sdhealth.ir.model import Model

with warnings.catch_warnings():  # PySD's own imports raise deprecation warnings
    warnings.simplefilter("ignore")
    from pysd.translators.vensim.vensim_file import VensimFile

__all__ = ["read_mdl"]


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
        return abstract_to_model(abstract, path.stem, path)
    except ModelError as error:
        raise ModelError(f"{path}: {error}") from None
