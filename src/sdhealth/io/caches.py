"""Where sdhealth keeps its caches, and the cache of models as read from their files.

:func:`cache_root` is the folder every cache lives under (the backends', the analyses', this
module's). :func:`remembered_model` keeps each model :func:`sdhealth.io.read_model` reads in
``<cache>/models/<key>.pickle``, so a fresh process that reads an unchanged file skips the
parse and the IR build (a 1000-stock chain: 0.9 s read, 0.15 s remembered; the NHS model:
0.15 s, 0.02 s). The key is the SHA-256 of

- the source digest :func:`sdhealth.io.read_model` computes (the file's resolved path, its
  bytes and the reader: a moved, edited or otherwise read file is another model), and
- the source text of the installed sdhealth package (:func:`code_version`), so another
  version never answers from this one's files.

A file that reads other files while it is read (Vensim's ``GET ... SUBSCRIPT`` ranges, and to
be safe any ``GET DIRECT/XLS/DATA/123/VDF`` call) is never remembered: the key does not see
those files. The IR is frozen data of sympy expressions; a pickle of it is read back inside
``sympy.evaluate(False)``: the arguments stored are already in sympy's canonical form, so
rebuilding them unevaluated gives equal expressions, three to six times faster than sympy
re-evaluating every node (``tests/io/test_model_cache.py`` compares the models and their
runs). The warnings reading the file gave are kept with it and given again. Files are
written atomically; an unreadable one is read again from the model file and
replaced. The folder is kept under :data:`MAX_BYTES`, least recently written first.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import re
import warnings
from collections.abc import Callable
from pathlib import Path

from sdhealth.io.atomic import write_with
from sdhealth.ir.model import Model

__all__ = ["MAX_BYTES", "cache_root", "code_version", "prune", "remembered_model"]

#: The most the ``models`` cache folder may hold (bytes).
MAX_BYTES = 200_000_000

_PACKAGE = Path(__file__).resolve().parents[1]

#: Functions that read other files while a Vensim model (or a YAML model's Vensim text) is read.
_READS_FILES = re.compile(rb"(?i)\bGET[\s_]+(DIRECT|XLS|DATA|123|VDF)")


def cache_root() -> Path:
    """The folder for sdhealth's caches (each user keeps a subfolder: ``pysd``, ``native``).

    ``$SDHEALTH_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/sdhealth``, else
    ``~/.cache/sdhealth``; read at each call so tests and users can redirect it.
    """
    if os.environ.get("SDHEALTH_CACHE_DIR"):
        return Path(os.environ["SDHEALTH_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "sdhealth"
    return Path.home() / ".cache" / "sdhealth"


@functools.cache
def code_version() -> bytes:
    """A digest of sdhealth's own source files (read once per process, a few milliseconds)."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(_PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.digest()


def prune(folder: Path, limit: int) -> None:
    """Delete the oldest ``.pickle`` files of ``folder`` until it holds at most ``limit`` bytes."""
    files = []
    for path in folder.glob("*.pickle"):
        try:
            status = path.stat()
        except OSError:  # removed meanwhile by another process
            continue
        files.append((status.st_mtime, status.st_size, path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files, key=lambda item: item[0]):
        if total <= limit:
            return
        path.unlink(missing_ok=True)
        total -= size


def _file(source_digest: str) -> Path:
    digest = hashlib.sha256(code_version())
    digest.update(source_digest.encode())
    return cache_root() / "models" / f"{digest.hexdigest()}.pickle"


def remembered_model(path: Path, source_digest: str, read: Callable[[], Model]) -> Model:
    """``read()``, or the model an earlier process read from the same file (see above).

    ``source_digest`` is the file's digest taken before reading (empty: not remembered); the
    caller checks it again after ``read()`` and passes only a model read from those bytes.
    Anything that stops the cache from working only means the file is read.
    """
    if not source_digest or _reads_files(path):
        return read()
    file = _file(source_digest)
    try:
        data = file.read_bytes()
    except OSError:
        data = b""
    if data:
        stored = _unpickled(data)
        if (
            isinstance(stored, tuple)
            and len(stored) == 2
            and isinstance(stored[0], Model)
            and stored[0].source_digest == source_digest
        ):
            _warn_again(stored[1])
            return stored[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = read()
    said = [(w.category, str(w.message)) for w in caught]
    _warn_again(said)
    if model.source_digest == source_digest:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            pickled = pickle.dumps((model, said), protocol=5)
            write_with(file, lambda target: target.write_bytes(pickled))
            prune(file.parent, MAX_BYTES)
        except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
            pass
    return model


def _warn_again(said: list[tuple[type[Warning], str]]) -> None:
    """The warnings reading the file gave (a diagram compiled into a model...), given again
    to a caller who reads it from the cache: a remembered model says what a read one says."""
    for category, message in said:
        warnings.warn(message, category, stacklevel=4)


def _reads_files(path: Path) -> bool:
    try:
        return _READS_FILES.search(path.read_bytes()) is not None
    except OSError:
        return True


def _unpickled(data: bytes) -> object:
    import sympy

    try:
        with sympy.evaluate(False):  # the stored arguments are canonical already
            return pickle.loads(data)  # noqa: S301 (the user's own cache folder)
    except Exception:  # unreadable (truncated, another Python, another sympy): read again
        return None
