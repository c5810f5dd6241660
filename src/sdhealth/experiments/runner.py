"""The run pipeline behind :meth:`sdhealth.Model.run` and :meth:`sdhealth.Model.sweep`.

The facade checks the model, builds one :class:`~sdhealth.backends.base.RunSpec` from the
user's keywords (:func:`run_spec`) and hands it here:

- :func:`run_once` -- a scenario's and the caller's parameters and policies applied, the run
  measured against the size limits, run on the spec's backend (or native with the PySD
  fallback), every variable with ``limits`` checked against them, a ``DataFrame`` back;
- :func:`run_batch_of_sets` -- many parameter sets given as a table or arrays, one
  ``Dataset``;
- :func:`sweep` -- a grid, table or scenario list planned and measured before any run, then
  run in chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sdhealth.backends.base import Method, RunSpec, run_with_fallback
from sdhealth.compile.limits import enforce_limits, located
from sdhealth.compile.run_size import ensure_run_fits, measure_run, output_width
from sdhealth.errors import ModelError, SimulationError, UnknownNameError
from sdhealth.experiments import batch as batch_runs
from sdhealth.experiments.policies import Policy, apply_policies, constant_named
from sdhealth.experiments.scenarios import Scenario, load_scenario
from sdhealth.experiments.summaries import SummarySpec, parse_summaries
from sdhealth.experiments.sweeps import as_scenarios, is_scenario_list, plan_sweep
from sdhealth.ir import model as irm

if TYPE_CHECKING:
    import os

    import pandas as pd
    import xarray as xr

__all__ = ["run_spec", "with_scenario", "run_once", "run_batch_of_sets", "sweep", "ensure_fits"]


def run_spec(
    model: irm.Model,
    *,
    start: float | None = None,
    stop: float | None = None,
    dt: float | None = None,
    saveper: float | None = None,
    method: Method | str | None = None,
    return_columns: Iterable[str] | None = None,
    backend: str | None = None,
    progress: bool | None = None,
    executor: Any = None,
) -> RunSpec:
    """The :class:`RunSpec` of a run of ``model``: its clock changed by the settings that are
    not ``None`` (a new ``dt`` without ``saveper`` saves every step), the columns named as
    the modeller wrote them (unknown ones raise, with did-you-mean)."""
    clock = model.time
    try:
        clock = replace(
            clock,
            start=clock.start if start is None else float(start),
            stop=clock.stop if stop is None else float(stop),
            dt=clock.dt if dt is None else float(dt),
            saveper=(clock.saveper if dt is None else None) if saveper is None else float(saveper),
        )
    except ValueError as exc:
        raise ModelError(f"invalid run time settings: {exc}") from None
    keys = None
    if return_columns is not None:
        keys = tuple(_column_key(model, name) for name in return_columns)
    return RunSpec(
        start=clock.start, stop=clock.stop, dt=clock.dt, saveper=clock.save_every,
        method=clock.method if method is None else method, return_columns=keys,
        backend=backend, progress=progress,
        executor=executor,
    )  # fmt: skip


def _column_key(model: irm.Model, name: str) -> str:
    if name not in model:
        raise UnknownNameError.of(name, model.names, role="column")
    return model[name].key


def ensure_fits(
    model: irm.Model, spec: RunSpec, runs: int = 1, statistics: int | None = None
) -> None:
    """Refuse (RunSizeError) a run or batch beyond the run-size limits, before it runs."""
    size = measure_run(
        spec.start, spec.stop, spec.dt, spec.saveper,
        columns=output_width(model, spec.return_columns), runs=runs, statistics=statistics,
    )  # fmt: skip
    ensure_run_fits(size)


def with_scenario(
    model: irm.Model,
    scenario: Scenario | str | os.PathLike[str] | None,
    params: Any,
    policies: Sequence[Policy],
) -> tuple[Any, tuple[Policy, ...]]:
    """``(params, policies)`` with a scenario's own first and the caller's on top."""
    if scenario is None:
        return params, tuple(policies)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario.validate(model)
    params = {**scenario.param_values, **(params if params is not None else {})}
    return params, (*scenario.policies, *policies)


def _resolve_params(model: irm.Model, params: Mapping[str, Any]) -> dict[str, float]:
    values: dict[str, float] = {}
    for name, value in params.items():
        constant = constant_named(model, name)
        try:
            values[constant.key] = float(value)
        except (TypeError, ValueError):
            raise ModelError(f"parameter {name!r} must be a number, got {value!r}") from None
    return values


def run_once(
    model: irm.Model,
    spec: RunSpec,
    params: Mapping[str, Any] | None = None,
    policies: Sequence[Policy] = (),
    *,
    strict: bool = False,
) -> pd.DataFrame:
    """One run of ``model`` as ``spec`` says (module docstring): a ``DataFrame`` by time."""
    values = _resolve_params(model, params or {})
    run_model = model
    if policies:
        targets = {constant_named(model, p.target, role="policy target").key for p in policies}
        run_model = apply_policies(model, policies, values)
        values = {k: v for k, v in values.items() if k not in targets}
    ensure_fits(model, spec)
    # Every variable with limits is checked against them, returned or not: those not asked
    # for are run too and dropped afterwards.
    limited = [
        v.key for v in model.variables
        if v.limits != (None, None) and not isinstance(v, irm.Lookup)
    ]  # fmt: skip
    extra: tuple[str, ...] = ()
    if spec.return_columns is not None:
        extra = tuple(k for k in limited if k not in spec.return_columns)
        spec = replace(spec, return_columns=spec.return_columns + extra)
    try:
        result = run_with_fallback(run_model, spec, values, spec.backend)
    except SimulationError as exc:
        raise located(run_model, exc) from exc.__cause__
    enforce_limits(model, result.times, result.values, result.columns, strict=strict)
    frame = result.to_frame()
    if extra:
        dropped = {model[k].name for k in extra}
        keep = [c for c in frame.columns if c.split("[", 1)[0] not in dropped]
        frame = frame.loc[:, keep]
    return frame


def run_batch_of_sets(
    model: irm.Model,
    spec: RunSpec,
    params: Mapping[str, Any] | pd.DataFrame,
    policies: Sequence[Policy] = (),
) -> xr.Dataset:
    """Many parameter sets (a table, or arrays of values) in one ``Dataset``."""
    sets = batch_runs.parameter_sets(model, params)
    ensure_fits(model, spec, sets.runs)
    run_model, sets = batch_runs.apply_policies_to_sets(model, sets, policies)
    return batch_runs.run_parameter_sets(run_model, spec, sets, backend=spec.backend or "native")


def sweep(
    model: irm.Model,
    spec: RunSpec,
    grid: Any,
    policies: Sequence[Policy] = (),
    *,
    scenarios: Sequence[Scenario | str | os.PathLike[str]] | None = None,
    summary: SummarySpec | None = None,
) -> xr.Dataset:
    """A sweep of ``model`` (see :meth:`sdhealth.Model.sweep`), planned and measured before
    any run."""
    if is_scenario_list(grid):
        if scenarios is not None:
            raise ModelError("give scenarios either as the spec or as scenarios=, not both")
        grid, scenarios = None, grid
    loaded = as_scenarios(scenarios, model) if scenarios is not None else None
    summaries = parse_summaries(summary)
    statistics = None if summaries is None else len(summaries)
    if isinstance(grid, Mapping):  # a grid: measure it before building its table
        grid_runs = max(1, len(loaded) if loaded is not None else 1)
        for values in grid.values():
            grid_runs *= len(values) if hasattr(values, "__len__") else 1
        ensure_fits(model, spec, grid_runs, statistics)
    plan = plan_sweep(model, grid, loaded, policies)
    ensure_fits(model, spec, plan.sets.runs, statistics)
    return batch_runs.run_groups(
        plan.groups, spec, plan.sets, labels=plan.labels, summary=summary,
        backend=spec.backend or "native", progress=spec.progress, executor=spec.executor,
    )  # fmt: skip
