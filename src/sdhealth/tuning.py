"""Process-level tuning of the load and compile paths.

Reading a model of thousands of equations allocates hundreds of thousands of small objects
(syntax trees, sympy expressions, name keys) that all stay alive until the model is built;
Python's cyclic garbage collector walks them again and again meanwhile and finds nothing to
free (about 10% of a cold load of the 1,000-stock chain). :func:`collection_paused` holds the
collector off for such a stretch; reference counting still frees everything that is not in a
cycle, and the collector runs as usual afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collection_paused"]


@contextmanager
def collection_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector inside the block (nested blocks are fine; it
    is enabled again only by the block that disabled it).

    >>> import gc
    >>> with collection_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
