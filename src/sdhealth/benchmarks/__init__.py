"""The benchmark suite shipped with sdhealth (``sdhealth bench``), usable from any install.

:mod:`.chain` builds the generated chain model, :mod:`.suite` measures every engine on it
(:func:`benchmark`), :mod:`.table` renders the results (:func:`render`). The repository's
``benchmarks/run_benchmarks.py`` adds the shipped models for the full suite.
"""

from .chain import chain_model
from .suite import Row, benchmark
from .table import machine_note, render

__all__ = ["chain_model", "benchmark", "render", "machine_note", "Row"]
