"""The user-facing model: :func:`load`, :func:`check` and :class:`Model` with ``run()``.

:class:`Model` is a thin, immutable handle around an :class:`sdhealth.ir.Model` (the data)
that wires the stages together: checks -> parameter and policy application -> a backend run ->
a pandas DataFrame with the modellers' names. It sits on top of the import graph (like the CLI):
it may use ``io``, ``analysis``, ``experiments`` and ``backends``; none of them imports it.

>>> import sdhealth as sd
>>> model = sd.load("models/teacup.yaml")               # doctest: +SKIP
>>> model.run(params={"Room Temperature": 20}).iloc[-1]  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sdhealth.analysis.checks import blocking_issues, caveat_issue, check_model
from sdhealth.analysis.loops import DEFAULT_MAX_LOOPS, Loop, LoopSet, find_loops
from sdhealth.analysis.stored import remembered
from sdhealth.backends.base import RunSpec
from sdhealth.cld import diagram as cld_diagram
from sdhealth.cld.compile import compile_diagram
from sdhealth.cld.render import draw, to_dot
from sdhealth.cld.yaml_io import dump_cld, load_cld
from sdhealth.errors import (
    ApproximationWarning,
    Issue,
    ModelError,
    ModelSyntaxError,
    SdhealthError,
    Severity,
    UnknownNameError,
)
from sdhealth.experiments import batch as batch_runs
from sdhealth.experiments import runner
from sdhealth.experiments.policies import Policy
from sdhealth.experiments.scenarios import Scenario
from sdhealth.experiments.summaries import SummarySpec
from sdhealth.io import read_model
from sdhealth.ir import model as irm
from sdhealth.tuning import collection_paused

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["Model", "CausalLoopDiagram", "load", "check"]

PathLike = str | os.PathLike[str]


class Model:
    """A loaded model, ready to check and run. It never changes: runs take their own copies.

    Parameters
    ----------
    ir_model : sdhealth.ir.Model
        The model as data (see :mod:`sdhealth.ir`).
    approximate : bool
        Run a model whose file holds constructs sdhealth does not yet compute as their tool
        does (its ``caveats``: Stella conveyors, queues, ovens, non-negative stocks with
        several outflows, colliding module names) as an approximation, with an
        :class:`~sdhealth.errors.ApproximationWarning`. By default such a model is refused
        by every run, naming each construct (``sd.check`` lists them as warnings).
    """

    def __init__(self, ir_model: irm.Model, *, approximate: bool = False) -> None:
        self._ir = ir_model
        self._approximate = approximate
        if approximate and ir_model.caveats:
            named = "; ".join(c.detail for c in ir_model.caveats)
            warnings.warn(
                f"{ir_model.path or ir_model.name}: run as an approximation, with numbers that "
                f"may differ from the original tool's: {named}",
                ApproximationWarning,
                stacklevel=2,
            )

    @property
    def ir(self) -> irm.Model:
        """The underlying IR (frozen)."""
        return self._ir

    def with_ir(self, ir_model: irm.Model) -> Model:
        """A model with this one's settings (``approximate``) over another IR."""
        return Model(ir_model, approximate=self._approximate)

    @property
    def name(self) -> str:
        return self._ir.name

    @property
    def path(self) -> str | None:
        return self._ir.path

    @property
    def time(self) -> irm.TimeSpec:
        return self._ir.time

    @property
    def stocks(self) -> tuple[str, ...]:
        """Names of the modeller's stocks, in model order."""
        return tuple(s.name for s in self._ir.stocks if not s.internal)

    @property
    def constants(self) -> dict[str, float]:
        """Parameter names and their base values."""
        return {c.name: c.value for c in self._ir.of_type(irm.Constant)}  # type: ignore[attr-defined]

    def __getitem__(self, name: str) -> irm.Variable:
        """The variable called ``name`` (names ignore case, spaces and underscores).

        Raises :class:`~sdhealth.errors.UnknownNameError` (a ``KeyError``) with the closest
        names when there is none.
        """
        if name not in self._ir:
            raise UnknownNameError.of(name, self._ir.names, role="variable")
        return self._ir[name]

    def __contains__(self, name: object) -> bool:
        return name in self._ir

    def __repr__(self) -> str:
        kinds = {
            "stocks": irm.Stock,
            "flows": irm.Flow,
            "auxiliaries": irm.Auxiliary,
            "constants": irm.Constant,
            "lookups": irm.Lookup,
        }
        counts = ", ".join(f"{len(self._ir.of_type(k))} {label}" for label, k in kinds.items())
        return f"<sdhealth.Model {self.name!r}: {counts}>"

    def check(self) -> list[Issue]:
        """Every finding of the model checks (errors and warnings); see :func:`check`."""
        return list(self._checked)

    @functools.cached_property
    def _checked(self) -> tuple[Issue, ...]:
        return remembered("checks", self._ir, lambda: tuple(check_model(self._ir)))

    @functools.cached_property
    def _blocking(self) -> tuple[Issue, ...]:
        # The model's own clock may be too large to run (a ``run-size`` error of check) and
        # still run with another stop or dt: each run measures its own clock
        # (experiments.runner.ensure_fits).
        with collection_paused():
            found = remembered("blocking", self._ir, lambda: tuple(blocking_issues(self._ir)))
        blocking = tuple(i for i in found if i.code != "run-size")
        if self._approximate:
            return blocking
        refused = tuple(caveat_issue(self._ir, c, Severity.ERROR) for c in self._ir.caveats)
        return blocking + refused

    def run(
        self,
        params: Mapping[str, Any] | pd.DataFrame | None = None,
        policies: Sequence[Policy] = (),
        *,
        scenario: Scenario | PathLike | None = None,
        start: float | None = None,
        stop: float | None = None,
        dt: float | None = None,
        saveper: float | None = None,
        return_columns: Iterable[str] | None = None,
        method: str | None = None,
        backend: str | None = None,
        strict: bool = False,
        spec: RunSpec | None = None,
    ) -> Any:
        """Simulate once and return the results, indexed by time, one column per variable.

        Parameters
        ----------
        params : mapping of constant name to value, or a batch, optional
            Values for this run only; the model keeps its own. A ``DataFrame`` (one row per
            run) or a mapping with arrays (one value per run) runs every parameter set in one
            kernel call and returns an ``xarray.Dataset`` (see :meth:`sweep`).
        policies : sequence of policies
            Timed changes made with :func:`sdhealth.step`, :func:`~sdhealth.ramp`,
            :func:`~sdhealth.pulse` or :func:`~sdhealth.table`.
        scenario : Scenario or path, optional
            A scenario file (or :func:`sdhealth.load_scenario` result): its params and
            policies apply first; ``params`` and ``policies`` given here come on top.
        start, stop, dt, saveper : float, optional
            Override the model's clock for this run.
        return_columns : iterable of names, optional
            Only these variables (default: every stock, flow, auxiliary and constant).
        method : {"euler", "rk2", "rk4"}, optional
            Integration method (the PySD backend is Euler-only); default the one the model
            file asks for (XMILE's ``<sim_specs method=...>``, YAML's ``time: method:``),
            else Euler.
        backend : str, optional
            Registered backend name: ``"native"`` (compiled) or ``"pysd"`` (the reference).
            By default the native backend runs the model; a model it cannot compile (a few
            Vensim functions, e.g. ``VECTOR ELM MAP`` or an ``INVERT MATRIX`` above 4 x 4)
            runs on PySD instead, with a ``UserWarning`` naming the reason. Naming a backend
            never falls back.
        strict : bool
            Make a value outside a variable's declared ``limits`` an error: by default it is a
            :class:`~sdhealth.errors.LimitsWarning` naming the variable, the first time and
            value, and the limits (checked at every saved time; :mod:`sdhealth.compile.limits`).
        spec : RunSpec, optional
            All run settings as one object (:meth:`run_spec`), instead of ``start`` ...
            ``backend``.

        Returns
        -------
        pandas.DataFrame or xarray.Dataset
            Index ``time`` (floats in the model's time unit), columns named as in the model;
            for a batch of parameter sets, a ``Dataset`` with dims ``run`` and ``time``.

        Raises
        ------
        ModelError
            The model has errors (first one shown, all in ``.issues``), or a parameter,
            policy target or column is unknown.
        SimulationError
            A numerical failure (NaN, overflow, a non-negative stock below zero), naming
            the variable, the time and the ``file:line`` of its equation; with ``strict``, a
            value outside its limits.
        RunSettingsError, RunSizeError
            Clock settings no run can have, or a run needing more time steps or result memory
            than allowed (10 million steps, 2 GB by default; ``SDHEALTH_MAX_STEPS``,
            ``SDHEALTH_MAX_RESULT_BYTES``; see :mod:`sdhealth.compile.run_size`) -- before
            anything runs.
        """
        if self._blocking:
            raise ModelError.from_issues(self._blocking)
        settings = dict(start=start, stop=stop, dt=dt, saveper=saveper, method=method,
                        return_columns=return_columns, backend=backend)  # fmt: skip
        spec = self._one_spec(spec, settings)
        params, policies = runner.with_scenario(self._ir, scenario, params, policies)
        if batch_runs.is_batch(params):
            return runner.run_batch_of_sets(self._ir, spec, params, policies)  # type: ignore[arg-type]
        return runner.run_once(self._ir, spec, params, policies, strict=strict)  # type: ignore[arg-type]

    def run_spec(self, **settings: Any) -> RunSpec:
        """The :class:`~sdhealth.backends.base.RunSpec` of a run with these settings.

        ``start``, ``stop``, ``dt``, ``saveper``, ``method``, ``return_columns`` (names),
        ``backend``, ``progress`` and ``executor``, as for :meth:`run` and :meth:`sweep`; the
        model's clock where not given. Experiments pass one spec around instead of the
        keywords.

        >>> import sdhealth as sd
        >>> teacup = sd.load("models/teacup.yaml")                      # doctest: +SKIP
        >>> teacup.run(spec=teacup.run_spec(stop=10, method="rk4"))     # doctest: +SKIP
        """
        return runner.run_spec(self._ir, **settings)

    def _one_spec(self, spec: RunSpec | None, settings: Mapping[str, Any]) -> RunSpec:
        given = {k: v for k, v in settings.items() if v is not None}
        if spec is None:
            return runner.run_spec(self._ir, **settings)
        if given:
            raise ModelError(
                f"give run settings either as spec= or as keywords, not both ({', '.join(given)})"
            )
        return spec

    def sweep(
        self,
        spec: Mapping[str, Sequence[float]] | pd.DataFrame | Sequence[Scenario | PathLike] | None,
        policies: Sequence[Policy] = (),
        *,
        scenarios: Sequence[Scenario | PathLike] | None = None,
        return_columns: Iterable[str] | None = None,
        summary: SummarySpec | None = None,
        start: float | None = None,
        stop: float | None = None,
        dt: float | None = None,
        saveper: float | None = None,
        method: str | None = None,
        backend: str = "native",
        progress: bool | None = None,
        executor: Any = None,
        run_spec: RunSpec | None = None,
    ) -> xr.Dataset:
        """Run many parameter sets at once and return an ``xarray.Dataset``.

        Parameters
        ----------
        spec
            A dict of lists (a grid: every combination, the first name varying slowest), a
            ``DataFrame`` (a table: one row per run), or a list of scenarios
            (:class:`~sdhealth.experiments.scenarios.Scenario` objects or scenario files: one
            run each); see :mod:`sdhealth.experiments.sweeps`.
        policies
            Timed policies applied to every run.
        scenarios
            Scenarios combined with the grid or table of ``spec``: every scenario with every
            row (scenario slowest); the ``Dataset`` gets a ``scenario`` coordinate on ``run``.
        return_columns
            Only these variables.
        summary
            Keep per-run statistics instead of time series: names such as ``"final"``,
            ``"peak"``, ``"time_of_peak"``, windows such as ``("mean", 24, 60)``, or
            :class:`~sdhealth.experiments.summaries.Summary` objects; dims become ``run`` and
            ``statistic``. Memory then stays bounded for very many runs.
        start, stop, dt, saveper, method, backend
            As for :meth:`run`.
        progress
            A progress bar over runs on standard error (``None``: only on a terminal).
        executor
            A ``dask.distributed.Client``: chunks of runs run on its workers and come back as
            the same ``Dataset``, bit for bit (see :mod:`sdhealth.experiments.distributed`).
        run_spec
            All run settings as one object (:meth:`run_spec`), instead of ``start`` ...
            ``executor`` (``return_columns`` included).

        Returns
        -------
        xarray.Dataset
            Dims ``run`` and ``time`` (or ``statistic``), one data variable per returned
            variable, each swept parameter as a coordinate on ``run``.
            ``attrs["runs_requested"]`` is the number of runs asked for. Ctrl-C stops the
            sweep cleanly: the runs finished so far come back, with ``attrs["interrupted"]``
            set to 1 (0 otherwise).

        Raises
        ------
        UnknownNameError, ModelError
            A bad spec (unknown parameter, with did-you-mean; empty values; non-numbers; an
            unknown summary) -- always before any run starts.
        SimulationError
            A failed run, naming the variable, the time and the run.
        """
        if self._blocking:
            raise ModelError.from_issues(self._blocking)
        settings = dict(start=start, stop=stop, dt=dt, saveper=saveper, method=method,
                        return_columns=return_columns, backend=backend, progress=progress,
                        executor=executor)  # fmt: skip
        if backend == "native":
            settings["backend"] = None  # the default, so that run_spec= may stand alone
        one = self._one_spec(run_spec, settings)
        return runner.sweep(self._ir, one, spec, policies, scenarios=scenarios, summary=summary)

    def cld(self) -> CausalLoopDiagram:
        """The model's causal-loop diagram, derived from its equations (signed links)."""
        return self._cld

    @functools.cached_property
    def _cld(self) -> CausalLoopDiagram:
        return remembered("cld", self._ir, lambda: CausalLoopDiagram.from_model(self._ir))

    def loops(self, *, through: str | None = None, max_loops: int = 10_000) -> LoopSet:
        """The model's feedback loops with polarity (R/B) and stable ids; see ``cld().loops``."""
        if through is None and max_loops == DEFAULT_MAX_LOOPS:  # the usual question: on disk
            return remembered("loops", self._ir, lambda: self._cld.loops())
        return self._cld.loops(through=through, max_loops=max_loops)

    def to_mdl(self, path: PathLike) -> None:
        """Write the model as a Vensim ``.mdl`` file with a laid-out diagram (atomically)."""
        from sdhealth.io.mdl_sketch import write_mdl

        write_mdl(self._ir, path)

    def to_yaml(self, path: PathLike) -> None:
        """Write the model as sdhealth YAML (atomically)."""
        from sdhealth.io.yaml import dump_yaml

        dump_yaml(self._ir, path)

    def to_xmile(self, path: PathLike) -> None:
        """Write the model as an XMILE 1.0 file (``.xmile``, ``.stmx``) for Stella, PySD and
        sdhealth (atomically; :mod:`sdhealth.io.xmile_writer`)."""
        from sdhealth.io.xmile_writer import write_xmile

        write_xmile(self._ir, path)


class CausalLoopDiagram(cld_diagram.CausalLoopDiagram):
    """A causal-loop diagram with the functions that take one as methods.

    The data is :class:`sdhealth.cld.CausalLoopDiagram` (a signed networkx graph; see
    :mod:`sdhealth.cld.diagram`); this facade adds reading and writing the hand-written YAML
    format, finding loops, compiling to a runnable :class:`Model` and drawing, each a call of
    the function named in its docstring. :meth:`Model.cld` and :meth:`from_yaml` return it;
    :meth:`adopt` wraps a diagram that a function of :mod:`sdhealth.cld` returned.

    >>> import sdhealth as sd
    >>> cld = sd.CausalLoopDiagram.from_yaml("models/discharge_delay_cld.yaml")  # doctest: +SKIP
    >>> cld.loops()[0].id, cld.compile().run().shape                             # doctest: +SKIP
    """

    @classmethod
    def from_yaml(cls, path: PathLike) -> CausalLoopDiagram:
        """Read a hand-written diagram (:func:`sdhealth.cld.yaml_io.load_cld`)."""
        return cls.adopt(load_cld(path))

    def to_yaml(self, path: PathLike) -> None:
        """Write the diagram as YAML, atomically (:func:`sdhealth.cld.yaml_io.dump_cld`)."""
        dump_cld(self, path)

    def loops(
        self,
        *,
        through: str | None = None,
        max_loops: int | None = None,
        max_length: int | None = None,
    ) -> LoopSet:
        """The feedback loops (:func:`sdhealth.analysis.loops.find_loops`)."""
        limit = DEFAULT_MAX_LOOPS if max_loops is None else max_loops
        return find_loops(self, through=through, max_loops=limit, max_length=max_length)

    def compile(self, *, time: irm.TimeSpec | None = None) -> Model:
        """A runnable stock-and-flow model (:func:`sdhealth.cld.compile.compile_diagram`).

        ``time`` overrides the diagram's clock; ``.ir`` of the result is the compiled IR.
        """
        return Model(compile_diagram(self, time=time))

    def to_dot(self, *, loops: tuple[Loop, ...] | None = None) -> str:
        """Graphviz DOT text (:func:`sdhealth.cld.render.to_dot`)."""
        return to_dot(self, loops=loops)

    def draw(self, path: PathLike, *, loops: tuple[Loop, ...] | None = None) -> None:
        """Draw the diagram to a PNG, SVG or PDF file (:func:`sdhealth.cld.render.draw`)."""
        draw(self, path, loops=loops)


def load(path: PathLike, *, approximate: bool = False, front_end: str = "sdhealth") -> Model:
    """Read a model file (``.yaml``/``.yml``, ``.mdl``, ``.xmile``/``.stmx``) into a
    :class:`Model`.

    ``front_end="pysd"`` reads a Vensim or XMILE file with PySD's translator (the reference)
    instead of sdhealth's own, faster reader; both give the same model.

    ``approximate=True`` runs a model with constructs sdhealth does not yet honour (see
    :class:`Model`) as an approximation instead of refusing it.

    Raises
    ------
    ModelSyntaxError
        With ``path:line:col`` for malformed files and equations.
    SdhealthError
        For a missing file or an unknown format.
    """
    return Model(read_model(Path(path), front_end), approximate=approximate)


def check(model: PathLike | Model | irm.Model, *, front_end: str = "sdhealth") -> list[Issue]:
    """Check a model (a path, a :class:`Model` or an IR model) and return every finding.

    A file that does not parse gives one ``syntax`` issue instead of raising, so this can
    be used as a linter over many files. ``front_end`` is as for :func:`load`.
    """
    if isinstance(model, Model):
        return model.check()
    if isinstance(model, irm.Model):
        return list(check_model(model))
    try:
        loaded = load(model, front_end=front_end)
    except ModelSyntaxError as exc:
        return [Issue(Severity.ERROR, "syntax", exc.message, exc.path, exc.line, exc.column)]
    except SdhealthError as exc:  # its message names the file already
        return [Issue(Severity.ERROR, "file", str(exc))]
    return loaded.check()
