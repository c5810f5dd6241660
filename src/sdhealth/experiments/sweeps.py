"""What a sweep runs: grids, tables and scenario files turned into groups of parameter sets.

:func:`plan_sweep` is the planning half of :meth:`sdhealth.Model.sweep` (the running half is
:func:`sdhealth.experiments.batch.run_groups`). A sweep is

- a **grid** -- a dict of lists, every combination (:func:`~.batch.full_factorial`, the first
  name varying slowest) -- or a **table** -- a ``DataFrame``, one row per run;
- or a list of **scenarios** (:class:`~sdhealth.experiments.scenarios.Scenario` objects or
  scenario files), one run each;
- or both: every scenario with every row of the grid or table (scenario slowest), the grid's
  values on top of the scenario's.

Runs that share their policies share one compiled model (a :class:`~.batch.RunGroup`); each
scenario with policies is its own group. The ``Dataset`` gets a ``scenario`` coordinate on
``run`` (the scenario names) when scenarios are given, and every parameter that any run sets
as a coordinate -- runs that do not set it show the model's value. A policy's target is not a
coordinate (it changes over time); it stays a data variable.

Everything is checked here, before any run starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sdhealth.errors import ModelError
from sdhealth.experiments.batch import (
    ParameterSets,
    RunGroup,
    apply_policies_to_sets,
    full_factorial,
    parameter_sets,
)
from sdhealth.experiments.policies import Policy, constant_named
from sdhealth.experiments.scenarios import Scenario, load_scenario
from sdhealth.ir.model import Model

__all__ = ["SweepPlan", "plan_sweep", "as_scenarios", "is_scenario_list"]

ScenarioLike = Scenario | str | os.PathLike[str]


@dataclass(frozen=True, eq=False)
class SweepPlan:
    """Groups of runs, the parameter coordinates of every run and extra ``run`` labels."""

    groups: tuple[RunGroup, ...]
    sets: ParameterSets
    labels: Mapping[str, np.ndarray]


def is_scenario_list(spec: object) -> bool:
    """Whether ``spec`` is a list of scenarios (objects or paths), not a grid or a table.

    >>> is_scenario_list(["a.yaml"]), is_scenario_list({"a": [1]})
    (True, False)
    """
    if isinstance(spec, (str, os.PathLike, Scenario)):
        return True
    return (
        isinstance(spec, (list, tuple))
        and len(spec) > 0
        and all(isinstance(item, (str, os.PathLike, Scenario)) for item in spec)
    )


def as_scenarios(items: ScenarioLike | Sequence[ScenarioLike], model: Model) -> list[Scenario]:
    """Load (where given as paths) and validate scenarios against ``model``."""
    if isinstance(items, (str, os.PathLike, Scenario)):
        items = [items]
    scenarios = [s if isinstance(s, Scenario) else load_scenario(s) for s in items]
    if not scenarios:
        raise ModelError("a scenario sweep needs at least one scenario")
    for scenario in scenarios:
        scenario.validate(model)
    return scenarios


def _grid(spec: Mapping[str, Sequence[float]] | pd.DataFrame | None) -> pd.DataFrame | None:
    if spec is None or isinstance(spec, pd.DataFrame):
        return spec
    if isinstance(spec, Mapping):
        return full_factorial(spec)
    raise ModelError(
        "a sweep is a dict of lists (a grid), a DataFrame (a table) or a list of scenarios, "
        f"got {type(spec).__name__}"
    )


def plan_sweep(
    model: Model,
    spec: Mapping[str, Sequence[float]] | pd.DataFrame | None,
    scenarios: Sequence[Scenario] | None = None,
    policies: Sequence[Policy] = (),
) -> SweepPlan:
    """The groups of runs of a sweep (see the module docstring).

    Raises
    ------
    UnknownNameError, ModelError
        Unknown or non-constant parameters, empty or non-numeric values, a policy target that
        is swept over different values.
    """
    grid = _grid(spec)
    if not scenarios:
        if grid is None:
            raise ModelError("a sweep needs a grid, a table or scenarios")
        sets = parameter_sets(model, grid)
        run_model, remaining = apply_policies_to_sets(model, sets, policies)
        group = RunGroup(run_model, remaining.keys, remaining.values, np.arange(sets.runs))
        return SweepPlan((group,), remaining, {})
    rows = 1 if grid is None else len(grid)
    if grid is not None:
        parameter_sets(model, grid)  # checks the grid's names and numbers
    sets = _scenario_sets(model, grid, scenarios)
    groups, targets = [], set()
    for number, scenario in enumerate(scenarios):
        runs = np.arange(number * rows, (number + 1) * rows)
        subset = ParameterSets(sets.names, sets.keys, sets.values[runs])
        run_model, remaining = apply_policies_to_sets(
            model, subset, (*scenario.policies, *policies)
        )
        targets |= set(sets.keys) - set(remaining.keys)
        groups.append(RunGroup(run_model, remaining.keys, remaining.values, runs))
    keep = [i for i, key in enumerate(sets.keys) if key not in targets]
    coordinates = ParameterSets(
        tuple(sets.names[i] for i in keep),
        tuple(sets.keys[i] for i in keep),
        sets.values[:, keep],
    )
    names = np.repeat(np.array([s.name for s in scenarios], dtype=object), rows)
    return SweepPlan(tuple(groups), coordinates, {"scenario": names})


def _scenario_sets(
    model: Model, grid: pd.DataFrame | None, scenarios: Sequence[Scenario]
) -> ParameterSets:
    """Every run's values of every parameter any scenario or the grid sets (scenario slowest)."""
    constants: dict[str, Any] = {}
    for scenario in scenarios:
        for name in scenario.param_values:
            constant = constant_named(model, name)
            constants.setdefault(constant.key, constant)
    for name in grid.columns if grid is not None else ():
        constant = constant_named(model, str(name))
        constants.setdefault(constant.key, constant)
    keys = list(constants)
    rows = 1 if grid is None else len(grid)
    grid_columns = {} if grid is None else {str(n): grid[n].to_numpy(dtype=float) for n in grid}
    blocks = []
    for scenario in scenarios:
        block = np.tile([float(constants[k].value) for k in keys], (rows, 1))
        for name, value in scenario.param_values.items():
            block[:, keys.index(constant_named(model, name).key)] = value
        for name, column in grid_columns.items():
            block[:, keys.index(constant_named(model, name).key)] = column
        blocks.append(block)
    values = np.vstack(blocks) if keys else np.empty((rows * len(scenarios), 0))
    return ParameterSets(tuple(constants[k].name for k in keys), tuple(keys), values)
