"""What experiments, analyses and reports ask of a model that runs: :class:`RunnableModel`.

The model users hold is the facade :class:`sdhealth.Model`, which sits above this layer in the
import graph (it wires experiments, analyses and backends together). The functions here and in
:mod:`sdhealth.analysis` and :mod:`sdhealth.report` take it, but name its type as this
structural ``Protocol`` instead of importing it: they depend on the shape of a runnable model,
not on the facade's module (``tests/test_layers.py`` keeps it so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from sdhealth.analysis.loops import LoopSet
    from sdhealth.backends.base import RunSpec
    from sdhealth.cld.diagram import CausalLoopDiagram
    from sdhealth.errors import Issue
    from sdhealth.ir.model import Model as IRModel
    from sdhealth.ir.model import TimeSpec

__all__ = ["RunnableModel"]


class RunnableModel(Protocol):
    """A loaded model that can be run, swept and checked (what :class:`sdhealth.Model` is).

    ``run`` and ``sweep`` take the keywords of :meth:`sdhealth.Model.run` and
    :meth:`sdhealth.Model.sweep`.
    """

    @property
    def ir(self) -> IRModel: ...

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> str | None: ...

    @property
    def time(self) -> TimeSpec: ...

    @property
    def stocks(self) -> tuple[str, ...]: ...

    @property
    def constants(self) -> dict[str, float]: ...

    def run(self, *args: Any, **kwargs: Any) -> pd.DataFrame: ...

    def sweep(self, *args: Any, **kwargs: Any) -> xr.Dataset: ...

    def run_spec(self, **settings: Any) -> RunSpec: ...

    def check(self) -> list[Issue]: ...

    def cld(self) -> CausalLoopDiagram: ...

    def loops(self, *, through: str | None = None, max_loops: int = ...) -> LoopSet: ...

    def with_ir(self, ir_model: IRModel) -> RunnableModel:
        """A model of the same kind and settings over another IR (e.g. an expanded copy)."""
        ...
