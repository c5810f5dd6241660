"""Fields every experiment spec file shares: the run clock and the integration method.

Sweep, Monte Carlo, sensitivity and calibration specs (:mod:`~sdhealth.experiments.specs`,
:mod:`~sdhealth.experiments.experiment_specs`, :mod:`~sdhealth.experiments.calibration`) all
may override the model's clock (``start``, ``stop``, ``dt``, ``saveper``) and choose the
integration method; they read those keys here, so the rules and the messages are the same
in every kind of spec: numbers, ``dt`` and ``saveper`` positive, ``stop`` not before
``start``, each error at the value's ``file:line:col``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ruamel.yaml.comments import CommentedMap

from sdhealth.backends.base import METHODS
from sdhealth.io.yaml_nodes import Document

__all__ = ["CLOCK_KEYS", "INTEGRATION_METHODS", "read_clock", "read_integration"]

#: The clock settings a spec may give (each optional; the model's own clock otherwise).
CLOCK_KEYS = ("start", "stop", "dt", "saveper")
#: The integration methods the backends offer (:data:`sdhealth.backends.base.METHODS`).
INTEGRATION_METHODS = METHODS


def read_clock(
    document: Document, root: CommentedMap, keys: Sequence[str] = CLOCK_KEYS
) -> dict[str, float]:
    """The clock settings of ``root`` among ``keys``, checked.

    >>> from sdhealth.io.yaml_documents import parse_yaml_mapping
    >>> text = "stop: 60\\ndt: 0.25\\n"
    >>> doc = Document.of(text, "spec.yaml")
    >>> read_clock(doc, parse_yaml_mapping(text, doc, "spec"))
    {'stop': 60.0, 'dt': 0.25}
    >>> text = "start: 10\\nstop: 5\\n"
    >>> doc = Document.of(text, "spec.yaml")
    >>> read_clock(doc, parse_yaml_mapping(text, doc, "spec"))
    Traceback (most recent call last):
    ...
    sdhealth.errors.ModelSyntaxError: spec.yaml:2:7: 'stop' must not be before 'start'
    """
    clock: dict[str, float] = {}
    for key in keys:
        if root.get(key) is None:
            continue
        value = float(document.number(root, key, owner="the spec", owner_position=(0, 0)))
        if key in ("dt", "saveper") and not value > 0:
            raise document.value_error(root, key, f"'{key}' must be positive, got {value:g}")
        clock[key] = value
    if "start" in clock and "stop" in clock and clock["stop"] < clock["start"]:
        raise document.value_error(root, "stop", "'stop' must not be before 'start'")
    return clock


def read_integration(document: Document, root: CommentedMap, key: str) -> str | None:
    """The integration method under ``key`` (any case), or None where it is not given."""
    if root.get(key) is None:
        return None
    method = document.text_field(root, key, f"'{key}'").lower()
    if method not in INTEGRATION_METHODS:
        message = f"unknown method {method!r}; use one of {', '.join(INTEGRATION_METHODS)}"
        raise document.value_error(root, key, message)
    return method
