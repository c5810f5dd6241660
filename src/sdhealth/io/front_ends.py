"""The readers of Vensim and XMILE files a user can choose: ``sd.load(path, front_end=...)``.

``"sdhealth"`` is sdhealth's own reader (:mod:`sdhealth.io.mdl_parser` and
:mod:`sdhealth.io.xmile_parser`, the default);
``"pysd"`` is PySD's translator, the reference both are tested against. A module of its own so
the command line can list them without importing either.
"""

from __future__ import annotations

__all__ = ["FRONT_ENDS", "check_front_end"]

FRONT_ENDS = ("sdhealth", "pysd")


def check_front_end(front_end: str) -> None:
    """Raise ``ValueError`` unless ``front_end`` is one of :data:`FRONT_ENDS`."""
    if front_end not in FRONT_ENDS:
        raise ValueError(f"front_end must be one of {FRONT_ENDS}, not {front_end!r}")
