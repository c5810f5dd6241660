"""Reading and writing models: one module per format, found through a suffix registry.

``read_model(path)`` picks the reader by the file's suffix. Formats register themselves in
:data:`READERS`; the I/O layer builds IR models and knows nothing of backends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from sdhealth.errors import SdhealthError
from sdhealth.io.caches import remembered_model
from sdhealth.io.front_ends import check_front_end
from sdhealth.ir.model import Model
from sdhealth.tuning import collection_paused

__all__ = ["READERS", "read_model"]


def _read_yaml(path: Path) -> Model:
    from sdhealth.io.yaml import load_yaml

    return load_yaml(path)


def _read_mdl(path: Path, front_end: str = "sdhealth") -> Model:
    from sdhealth.io.mdl import read_mdl

    return read_mdl(path, front_end)


def _read_xmile(path: Path, front_end: str = "sdhealth") -> Model:
    from sdhealth.io.xmile import read_xmile

    return read_xmile(path, front_end)


#: File suffix (lower case) -> reader returning an IR model.
READERS: dict[str, Callable[[Path], Model]] = {
    ".yaml": _read_yaml,
    ".yml": _read_yaml,
    ".mdl": _read_mdl,
    ".xmile": _read_xmile,
    ".xml": _read_xmile,
    ".stmx": _read_xmile,
}
#: The formats whose reader can be chosen (``front_end="pysd"``: PySD's translator).
_CHOOSE_FRONT_END: dict[str, Callable[[Path, str], Model]] = {
    ".mdl": _read_mdl, ".xmile": _read_xmile, ".xml": _read_xmile, ".stmx": _read_xmile,
}  # fmt: skip


def read_model(path: Path, front_end: str = "sdhealth") -> Model:
    """Read the model at ``path`` with the reader registered for its suffix.

    ``front_end="pysd"`` reads a Vensim ``.mdl`` file with PySD's translator instead of
    sdhealth's own reader (see :func:`sdhealth.io.mdl.read_mdl`).
    """
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        known = ", ".join(sorted(READERS))
        raise SdhealthError(f"{path}: unknown model format {path.suffix!r} (expected {known})")
    if not path.is_file():
        raise SdhealthError(f"{path}: no such model file")
    check_front_end(front_end)
    suffix = path.suffix.lower()
    if front_end != "sdhealth" and suffix not in _CHOOSE_FRONT_END:
        raise SdhealthError(
            f"{path}: front_end={front_end!r} applies to Vensim and XMILE files "
            f"({', '.join(_CHOOSE_FRONT_END)})"
        )
    before = _source_digest(path, front_end)

    def read() -> Model:
        with collection_paused():
            if front_end != "sdhealth":
                model = _CHOOSE_FRONT_END[suffix](path, front_end)
            else:
                model = reader(path)
        if before and before == _source_digest(path, front_end):  # not rewritten while read
            object.__setattr__(model, "source_digest", before)
        return model

    return remembered_model(path, before, read)  # an unchanged file: as read before


def _source_digest(path: Path, front_end: str) -> str:
    """SHA-256 of the file's resolved path, bytes and reader ("" if it cannot be read)."""
    try:
        data = path.read_bytes()
        where = str(path.resolve())
    except OSError:
        return ""
    digest = hashlib.sha256(b"sdhealth-source-1\0")
    digest.update(f"{front_end}\0{where}\0".encode())
    digest.update(data)
    return digest.hexdigest()
