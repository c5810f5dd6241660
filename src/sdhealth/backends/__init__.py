"""Backends: one contract (:mod:`sdhealth.backends.base`) and a registry keyed by name.

Importing this package registers the built-in backends (``"pysd"``). A backend takes an IR
model, a run specification and parameter values, and returns arrays; it knows nothing of
YAML or of the user-facing :class:`sdhealth.Model`.
"""

from sdhealth.backends import pysd as _pysd  # noqa: F401  (registers "pysd")
from sdhealth.backends.base import Backend, RunResult, RunSpec, get_backend, register_backend

__all__ = ["Backend", "RunResult", "RunSpec", "get_backend", "register_backend"]
