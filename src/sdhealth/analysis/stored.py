"""Analyses of a model's structure remembered on disk, so a model loaded again skips them.

A model's checks and its feedback loops depend on its IR alone, and they took most of a warm
``sdhealth run`` of the NHS model (checks 0.7 s and loops 1.0 s of sympy and graph search, for
a 1.5 ms run). :func:`remembered` keeps each result in
``<cache>/analysis/<kind>-<key>.pickle`` (``<cache>`` as in
:func:`sdhealth.backends.base.cache_root`), where the key is the SHA-256 of

- the IR model's content: pickled without the pickler's memo (``Pickler.fast``) and with each
  sympy expression written as its ``srepr``. A plain pickle of the IR is no key: it writes
  shared objects once (the same model built twice gave other bytes, as sympy's cache shares
  more objects the second time) and it carries what instances cache (a model's pickle doubled
  in size once its checks had run). Dataclasses are written as their fields alone. The key
  keeps every float exactly (``srepr`` of a Float is exact) and is the same in every process
  (measured);
  A model exactly as :func:`sdhealth.io.read_model` read it is keyed by its
  ``source_digest`` instead (its file's path, bytes and reader: the same model), which costs
  a hash of the file rather than a walk of every expression (0.3 s for a 1000-stock chain);
- the source text of the installed sdhealth package, so a changed analysis never answers
  from an older version's results (an editable install included).

A model that reads external files (``GET DIRECT ...``, data variables) is never remembered:
its checks may depend on those files, which the key does not see. Files are written
atomically; one that cannot be read (truncated, from another Python) is computed again and
replaced. Set ``SDHEALTH_CACHE_DIR`` to move or isolate the cache. The folder is kept under
:data:`MAX_BYTES` (the NHS model's loop set is 4.7 MB, and ``run --watch`` writes one per
saved version): after each write the files least recently written go first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sympy

from sdhealth.compile.external_data import reads_external_files
from sdhealth.io.atomic import write_with
from sdhealth.io.caches import cache_root, code_version, prune
from sdhealth.ir.model import Model

__all__ = ["MAX_BYTES", "remembered"]

#: The most the ``analysis`` cache folder may hold (bytes).
MAX_BYTES = 200_000_000

T = TypeVar("T")


class _ContentPickler(pickle.Pickler):
    """Pickles content only: sympy expressions as their ``srepr`` text (exact, and free of
    sympy's caches), dataclasses as their fields (not the values cached on an instance)."""

    def reducer_override(self, obj: object) -> Any:
        if isinstance(obj, sympy.Basic):
            return str, (sympy.srepr(obj),)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            fields = tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))
            return tuple, ((type(obj).__qualname__, *fields),)
        return NotImplemented


def _content(model: Model) -> bytes:
    """The model's content as bytes: equal models give equal bytes, in any process."""
    stream = io.BytesIO()
    pickler = _ContentPickler(stream, protocol=5)
    pickler.fast = True  # no memo: a shared object is written where it is used
    pickler.dump(model)
    return stream.getvalue()


def _file(kind: str, model: Model) -> Path:
    digest = hashlib.sha256(code_version())
    digest.update(kind.encode())
    if model.source_digest:  # the model exactly as read from its file
        digest.update(b"source\0" + model.source_digest.encode())
    else:
        digest.update(b"content\0" + _content(model))
    return cache_root() / "analysis" / f"{kind}-{digest.hexdigest()}.pickle"


def remembered(kind: str, model: Model, compute: Callable[[], T]) -> T:
    """``compute()``, or its result for the same ``model`` from an earlier process.

    ``kind`` names the analysis (one file per kind and model). Anything that stops the cache
    from working (an unwritable folder, a model that cannot be pickled) only means the
    result is computed.
    """
    if reads_external_files(model):
        return compute()
    try:
        path = _file(kind, model)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError, ValueError):
        return compute()
    try:
        with path.open("rb") as stream:
            return pickle.load(stream)  # noqa: S301 (the user's own cache folder)
    except FileNotFoundError:
        pass
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
        pass  # unreadable: computed again and replaced below
    result = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_with(path, lambda target: target.write_bytes(pickle.dumps(result, protocol=5)))
        prune(path.parent, MAX_BYTES)
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        pass
    return result
