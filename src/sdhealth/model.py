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
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sdhealth.analysis.checks import blocking_issues, caveat_issue, check_model
from sdhealth.analysis.loops import DEFAULT_MAX_LOOPS, Loop, LoopSet, find_loops
from sdhealth.backends.base import RunSpec, run_with_fallback
from sdhealth.cld import diagram as cld_diagram
from sdhealth.cld.compile import compile_diagram
from sdhealth.cld.render import draw, to_dot
from sdhealth.cld.yaml_io import dump_cld, load_cld
from sdhealth.compile.limits import enforce_limits, located
from sdhealth.compile.run_size import ensure_run_fits, measure_run, output_width
from sdhealth.errors import (
    ApproximationWarning,
    Issue,
    ModelError,
    ModelSyntaxError,
    SdhealthError,
    Severity,
    SimulationError,
    UnknownNameError,
)
from sdhealth.experiments import batch as batch_runs
from sdhealth.experiments.policies import Policy, apply_policies, constant_named
from sdhealth.experiments.scenarios import Scenario, load_scenario
from sdhealth.experiments.summaries import SummarySpec, parse_summaries
from sdhealth.experiments.sweeps import as_scenarios, is_scenario_list, plan_sweep
from sdhealth.io import read_model
from sdhealth.ir import model as irm

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
        return tuple(check_model(self._ir))

    @functools.cached_property
    def _blocking(self) -> tuple[Issue, ...]:
        # The model's own clock may be too large to run (a ``run-size`` error of check) and
        # still run with another stop or dt: each run measures its own clock (_ensure_fits).
        blocking = tuple(i for i in blocking_issues(self._ir) if i.code != "run-size")
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
        method: str = "euler",
        backend: str | None = None,
        strict: bool = False,
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
        method : {"euler", "rk2", "rk4"}
            Integration method (the PySD backend is Euler-only).
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
        if scenario is not None:
            if not isinstance(scenario, Scenario):
                scenario = load_scenario(scenario)
            scenario.validate(self._ir)
            params = {**scenario.param_values, **(params if params is not None else {})}
            policies = (*scenario.policies, *policies)
        if batch_runs.is_batch(params):
            spec = self._run_spec(start, stop, dt, saveper, method, return_columns)
            return self._run_sets(params, policies, spec, backend or "native")  # type: ignore[arg-type]
        base_values = self._resolve_params(params or {})  # type: ignore[arg-type]
        run_model = self._ir
        if policies:
            targets = {
                constant_named(run_model, p.target, role="policy target").key for p in policies
            }
            run_model = apply_policies(run_model, policies, base_values)
            base_values = {k: v for k, v in base_values.items() if k not in targets}
        spec = self._run_spec(start, stop, dt, saveper, method, return_columns)
        self._ensure_fits(spec)
        return self._run_checked(run_model, spec, base_values, backend, strict)

    def _run_checked(
        self,
        run_model: irm.Model,
        spec: RunSpec,
        values: Mapping[str, float],
        backend: str | None,
        strict: bool,
    ) -> pd.DataFrame:
        """One run, with every variable that has limits checked against them (returned or
        not: those not asked for are run too and dropped afterwards)."""
        limited = [
            v.key for v in self._ir.variables
            if v.limits != (None, None) and not isinstance(v, irm.Lookup)
        ]  # fmt: skip
        extra: tuple[str, ...] = ()
        if spec.return_columns is not None:
            extra = tuple(k for k in limited if k not in spec.return_columns)
            spec = replace(spec, return_columns=spec.return_columns + extra)
        try:
            result = run_with_fallback(run_model, spec, values, backend)
        except SimulationError as exc:
            raise located(run_model, exc) from exc.__cause__
        enforce_limits(self._ir, result.times, result.values, result.columns, strict=strict)
        frame = result.to_frame()
        if extra:
            dropped = {self._ir[k].name for k in extra}
            keep = [c for c in frame.columns if c.split("[", 1)[0] not in dropped]
            frame = frame.loc[:, keep]
        return frame

    def _ensure_fits(self, spec: RunSpec, runs: int = 1, statistics: int | None = None) -> None:
        """Refuse (RunSizeError) a run or batch beyond the run-size limits, before it runs."""
        size = measure_run(
            spec.start, spec.stop, spec.dt, spec.saveper,
            columns=output_width(self._ir, spec.return_columns), runs=runs, statistics=statistics,
        )  # fmt: skip
        ensure_run_fits(size)

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
        method: str = "euler",
        backend: str = "native",
        progress: bool | None = None,
        executor: Any = None,
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
        if is_scenario_list(spec):
            if scenarios is not None:
                raise ModelError("give scenarios either as the spec or as scenarios=, not both")
            spec, scenarios = None, spec  # type: ignore[assignment]
        loaded = as_scenarios(scenarios, self._ir) if scenarios is not None else None
        run_spec = self._run_spec(start, stop, dt, saveper, method, return_columns)
        summaries = parse_summaries(summary)
        statistics = None if summaries is None else len(summaries)
        if isinstance(spec, Mapping):  # a grid: measure it before building its table
            grid_runs = max(1, len(loaded) if loaded is not None else 1)
            for values in spec.values():
                grid_runs *= len(values) if hasattr(values, "__len__") else 1
            self._ensure_fits(run_spec, grid_runs, statistics)
        plan = plan_sweep(self._ir, spec, loaded, policies)  # type: ignore[arg-type]
        self._ensure_fits(run_spec, plan.sets.runs, statistics)
        return batch_runs.run_groups(
            plan.groups,
            run_spec,
            plan.sets,
            labels=plan.labels,
            summary=summary,
            backend=backend,
            progress=progress,
            executor=executor,
        )

    def _run_sets(
        self,
        params: Mapping[str, Any] | pd.DataFrame,
        policies: Sequence[Policy],
        spec: RunSpec,
        backend: str,
    ) -> xr.Dataset:
        if self._blocking:
            raise ModelError.from_issues(self._blocking)
        sets = batch_runs.parameter_sets(self._ir, params)
        self._ensure_fits(spec, sets.runs)
        run_model, sets = batch_runs.apply_policies_to_sets(self._ir, sets, policies)
        return batch_runs.run_parameter_sets(run_model, spec, sets, backend=backend)

    def _resolve_params(self, params: Mapping[str, float]) -> dict[str, float]:
        values: dict[str, float] = {}
        for name, value in params.items():
            constant = constant_named(self._ir, name)
            try:
                values[constant.key] = float(value)
            except (TypeError, ValueError):
                raise ModelError(f"parameter {name!r} must be a number, got {value!r}") from None
        return values

    def _run_spec(
        self,
        start: float | None,
        stop: float | None,
        dt: float | None,
        saveper: float | None,
        method: str,
        return_columns: Iterable[str] | None,
    ) -> RunSpec:
        clock = self._ir.time
        try:
            clock = replace(
                clock,
                start=clock.start if start is None else float(start),
                stop=clock.stop if stop is None else float(stop),
                dt=clock.dt if dt is None else float(dt),
                saveper=(clock.saveper if dt is None else None)
                if saveper is None
                else float(saveper),
            )
        except ValueError as exc:
            raise ModelError(f"invalid run time settings: {exc}") from None
        keys = None
        if return_columns is not None:
            keys = tuple(self._column_key(name) for name in return_columns)
        return RunSpec(
            start=clock.start,
            stop=clock.stop,
            dt=clock.dt,
            saveper=clock.save_every,
            method=method,
            return_columns=keys,
        )

    def _column_key(self, name: str) -> str:
        if name not in self._ir:
            raise UnknownNameError.of(name, self._ir.names, role="column")
        return self._ir[name].key

    def cld(self) -> CausalLoopDiagram:
        """The model's causal-loop diagram, derived from its equations (signed links)."""
        return self._cld

    @functools.cached_property
    def _cld(self) -> CausalLoopDiagram:
        return CausalLoopDiagram.from_model(self._ir)

    def loops(self, *, through: str | None = None, max_loops: int = 10_000) -> LoopSet:
        """The model's feedback loops with polarity (R/B) and stable ids; see ``cld().loops``."""
        return self._cld.loops(through=through, max_loops=max_loops)

    def to_mdl(self, path: PathLike) -> None:
        """Write the model as a Vensim ``.mdl`` file with a laid-out diagram (atomically)."""
        from sdhealth.io.mdl_sketch import write_mdl

        write_mdl(self._ir, path)

    def to_yaml(self, path: PathLike) -> None:
        """Write the model as sdhealth YAML (atomically)."""
        from sdhealth.io.yaml import dump_yaml

        dump_yaml(self._ir, path)


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


def load(path: PathLike, *, approximate: bool = False) -> Model:
    """Read a model file (``.yaml``/``.yml``, ``.mdl``, ``.xmile``/``.stmx``) into a
    :class:`Model`.

    ``approximate=True`` runs a model with constructs sdhealth does not yet honour (see
    :class:`Model`) as an approximation instead of refusing it.

    Raises
    ------
    ModelSyntaxError
        With ``path:line:col`` for malformed files and equations.
    SdhealthError
        For a missing file or an unknown format.
    """
    return Model(read_model(Path(path)), approximate=approximate)


def check(model: PathLike | Model | irm.Model) -> list[Issue]:
    """Check a model (a path, a :class:`Model` or an IR model) and return every finding.

    A file that does not parse gives one ``syntax`` issue instead of raising, so this can
    be used as a linter over many files.
    """
    if isinstance(model, Model):
        return model.check()
    if isinstance(model, irm.Model):
        return list(check_model(model))
    try:
        loaded = load(model)
    except ModelSyntaxError as exc:
        return [Issue(Severity.ERROR, "syntax", exc.message, exc.path, exc.line, exc.column)]
    except SdhealthError as exc:  # its message names the file already
        return [Issue(Severity.ERROR, "file", str(exc))]
    return loaded.check()
