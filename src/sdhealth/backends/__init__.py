"""Backends: one contract (:mod:`sdhealth.backends.base`) and a registry keyed by name.

The built-in backends (``"native"``, ``"pysd"``) are imported by :func:`get_backend` on first
use, so importing this package loads neither numba nor PySD. A backend takes an IR
model, a run specification and parameter values, and returns arrays; it knows nothing of
YAML or of the user-facing :class:`sdhealth.Model`.
"""

from sdhealth.backends.base import Backend, RunResult, RunSpec, get_backend, register_backend

__all__ = ["Backend", "RunResult", "RunSpec", "get_backend", "register_backend"]
