"""Monte Carlo experiments: sample uncertain parameters, run them all, summarise as percentiles.

:func:`monte_carlo` draws one parameter set per run from the given distributions (see
:mod:`sdhealth.experiments.distributions`), runs every set as one batch through
:meth:`sdhealth.Model.sweep` (one kernel call per chunk on the native backend, or Dask
chunks with ``executor=``), and returns a :class:`MonteCarloResult`: the ``Dataset`` of the
requested outputs (dims ``run``, ``time``; the sampled parameters as coordinates on ``run``),
the samples as a ``DataFrame``, and percentile bands for fan charts.

Sampling (``sampling=``) is a registry (:data:`SAMPLERS`):

- ``"random"``: independent draws from each distribution, in the order given;
- ``"lhs"``: a Latin hypercube (scipy.stats.qmc) mapped through each distribution's
  quantile function -- every run falls in a different stratum of every parameter, so
  percentiles settle with fewer runs.

The same ``seed`` with the same distributions, runs and sampling gives the same samples and
hence the same results. Memory: only ``outputs`` are kept (``runs x times x outputs`` values).
Everything (names, distributions, outputs, clock) is checked before any run starts.

:meth:`MonteCarloResult.plot` draws a fan chart with :mod:`sdhealth.report.experiment_plots`
(imported when called: plotting is a convenience on top of the results, which never need it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import qmc

from sdhealth.backends.base import RUN_OPTION_NAMES, RunOptions
from sdhealth.errors import ModelError, SdhealthError
from sdhealth.experiments.batch import ExperimentError
from sdhealth.experiments.distributions import Distribution, Seed, random_generator
from sdhealth.experiments.policies import Policy
from sdhealth.experiments.progress import labelled
from sdhealth.experiments.scenarios import Scenario, load_scenario
from sdhealth.io.results import RESULT_WRITERS, save_dataset, write_results

if TYPE_CHECKING:
    from sdhealth.experiments.runnable import RunnableModel

__all__ = [
    "DEFAULT_PERCENTILES",
    "SAMPLERS",
    "MonteCarloResult",
    "monte_carlo",
    "draw_samples",
    "scenario_inputs",
    "with_fixed",
    "default_outputs",
    "check_results_path",
]

#: The percentile bands of a fan chart: 5-95, 25-75 and the median.
DEFAULT_PERCENTILES: tuple[float, ...] = (5, 25, 50, 75, 95)

#: Sampler name -> ``(distributions, runs, generator) -> values[run, parameter]``.
Sampler = Callable[[Sequence[Distribution], int, np.random.Generator], np.ndarray]

# Latin hypercube points are kept this far inside (0, 1) so that no quantile is infinite.
_UNIT_MARGIN = 1e-12


def _random(dists: Sequence[Distribution], runs: int, rng: np.random.Generator) -> np.ndarray:
    return np.column_stack([dist.sample(runs, rng) for dist in dists])


def _latin_hypercube(
    dists: Sequence[Distribution], runs: int, rng: np.random.Generator
) -> np.ndarray:
    unit = qmc.LatinHypercube(d=len(dists), rng=rng).random(runs)
    unit = np.clip(unit, _UNIT_MARGIN, 1 - _UNIT_MARGIN)
    return np.column_stack([dist.ppf(unit[:, j]) for j, dist in enumerate(dists)])


SAMPLERS: Mapping[str, Sampler] = {"random": _random, "lhs": _latin_hypercube}


def draw_samples(
    distributions: Mapping[str, Distribution],
    runs: int,
    seed: Seed = None,
    sampling: str = "random",
) -> pd.DataFrame:
    """One row of parameter values per run, one column per distribution (in the given order).

    >>> from sdhealth.experiments.distributions import Uniform
    >>> frame = draw_samples({"a": Uniform(0, 1), "b": Uniform(5, 6)}, 4, seed=7, sampling="lhs")
    >>> sorted((frame["a"] * 4).astype(int).tolist())   # one draw in each quarter
    [0, 1, 2, 3]

    Raises
    ------
    ModelError
        No distributions, a value that is not a :class:`Distribution`, ``runs < 1``, an
        unknown ``sampling`` or a bad seed.
    """
    _check_distributions(distributions)
    if isinstance(runs, bool) or not isinstance(runs, int | np.integer) or runs < 1:
        raise ModelError(f"runs must be a positive whole number, got {runs!r}")
    sampler = SAMPLERS.get(sampling)
    if sampler is None:
        raise ModelError(f"unknown sampling {sampling!r}; use one of {', '.join(SAMPLERS)}")
    values = sampler(list(distributions.values()), int(runs), random_generator(seed))
    return pd.DataFrame(values, columns=list(distributions), index=pd.RangeIndex(runs, name="run"))


def _check_distributions(distributions: Mapping[str, Distribution]) -> None:
    if not distributions:
        raise ModelError("a Monte Carlo experiment needs at least one parameter distribution")
    for name, dist in distributions.items():
        if not isinstance(dist, Distribution):
            raise ModelError(
                f"parameter {name!r}: expected a distribution (e.g. sdhealth.Normal(mean, sd)), "
                f"got {dist!r}"
            )


def scenario_inputs(
    scenario: Scenario | str | os.PathLike[str] | None,
    model: RunnableModel,
    policies: Sequence[Policy],
) -> tuple[dict[str, float], tuple[Policy, ...]]:
    """A scenario's fixed parameter values and its policies followed by ``policies``."""
    if scenario is None:
        return {}, tuple(policies)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario.validate(model.ir)
    return scenario.param_values, (*scenario.policies, *policies)


def with_fixed(samples: pd.DataFrame, fixed: Mapping[str, float]) -> pd.DataFrame:
    """``samples`` plus a constant column for each fixed value not sampled."""
    extra = {name: value for name, value in fixed.items() if name not in samples.columns}
    return samples.assign(**extra) if extra else samples


def default_outputs(model: RunnableModel) -> tuple[str, ...]:
    """The model's report indicators, else its stocks."""
    return tuple(model.ir.report.indicators) or model.stocks


def monte_carlo(
    model: RunnableModel,
    distributions: Mapping[str, Distribution],
    runs: int = 1000,
    *,
    seed: Seed = None,
    outputs: Iterable[str] | None = None,
    sampling: str = "random",
    policies: Sequence[Policy] = (),
    scenario: Scenario | str | os.PathLike[str] | None = None,
    **options: Unpack[RunOptions],
) -> MonteCarloResult:
    """Run ``model`` with ``runs`` parameter sets drawn from ``distributions``.

    Parameters
    ----------
    model
        A loaded :class:`sdhealth.Model`.
    distributions
        Constant name -> :class:`~sdhealth.experiments.distributions.Distribution`.
    runs
        How many parameter sets to draw and run.
    seed
        An int (reproducible) or a ``numpy.random.Generator``; ``None`` draws fresh entropy.
    outputs
        The variables to keep (default: the model's report indicators, else its stocks).
    sampling
        ``"random"`` or ``"lhs"`` (Latin hypercube); see :data:`SAMPLERS`.
    policies, scenario
        As for :meth:`sdhealth.Model.run`; a scenario's parameter values are used for every
        run, except those the distributions sample.
    **options
        Run settings (:class:`~sdhealth.backends.base.RunOptions`): ``start``, ``stop``,
        ``dt``, ``saveper``, ``method``, ``backend``, ``progress`` (a bar; ``None``: only on
        a terminal) and ``executor`` (a ``dask.distributed.Client`` to run chunks of runs
        on), as for :meth:`sdhealth.Model.sweep`.

    Returns
    -------
    MonteCarloResult
        After Ctrl-C, the runs that finished (``result.interrupted`` is true).

    Raises
    ------
    ModelError, UnknownNameError
        A bad distribution, parameter, output, scenario or clock -- before any run.
    SimulationError
        A run failed numerically (naming the variable, time and run) before any finished.
    ExperimentError
        A run failed after others finished: ``.partial`` is the ``MonteCarloResult`` of
        the finished runs.
    """
    unknown = sorted(set(options) - (RUN_OPTION_NAMES - {"return_columns"}))
    if unknown:
        raise TypeError(f"monte_carlo() got an unexpected keyword argument {unknown[0]!r}")
    samples = draw_samples(distributions, runs, seed, sampling)
    fixed, all_policies = scenario_inputs(scenario, model, policies)
    chosen = _outputs(model, outputs, samples.columns)
    spec = model.run_spec(return_columns=chosen, **options)
    try:
        with labelled("monte carlo"):
            dataset = model.sweep(with_fixed(samples, fixed), all_policies, run_spec=spec)
    except ExperimentError as failed:  # the finished runs, as a result of their own
        partial = _result(failed.partial, samples, distributions, sampling, seed)
        raise ExperimentError(str(failed), partial, failed.runs, failed.cause) from failed
    return _result(dataset, samples, distributions, sampling, seed)


def _result(
    dataset: xr.Dataset,
    samples: pd.DataFrame,
    distributions: Mapping[str, Distribution],
    sampling: str,
    seed: Any,
) -> MonteCarloResult:
    """The result of the runs in ``dataset`` (every run, or those that finished)."""
    finished = dataset["run"].to_numpy()
    dataset = _outputs_only(dataset, samples.columns)
    dataset.attrs.update(
        sampling=sampling,
        distributions=json.dumps({name: d.describe() for name, d in distributions.items()}),
    )
    if isinstance(seed, int | np.integer):
        dataset.attrs["seed"] = int(seed)
    return MonteCarloResult(dataset, samples.loc[finished], dict(distributions), sampling)


def _outputs(
    model: RunnableModel, outputs: Iterable[str] | None, sampled: Iterable[str]
) -> list[str]:
    chosen = list(dict.fromkeys(outputs)) if outputs is not None else list(default_outputs(model))
    if not chosen:
        raise ModelError("a Monte Carlo experiment needs at least one output variable")
    inputs = set(sampled)
    for name in chosen:
        if name in inputs:
            raise ModelError(
                f"{name!r} is a sampled parameter, not an output; its values are in the "
                "result's samples"
            )
    return chosen


def _outputs_only(dataset: xr.Dataset, sampled: Iterable[str]) -> xr.Dataset:
    """``dataset`` with only the sampled parameters as coordinates on ``run``.

    A scenario's fixed values are coordinates of the sweep too (constant over the runs); they
    are dropped here, since the result's samples and the scenario say what they were.
    """
    keep = set(sampled)
    fixed = [
        name
        for name, coord in dataset.coords.items()
        if coord.dims == ("run",) and name != "run" and name not in keep
    ]
    return dataset.drop_vars(fixed)


@dataclass(frozen=True, eq=False)
class MonteCarloResult:
    """The runs of a Monte Carlo experiment and what was sampled.

    Attributes
    ----------
    dataset
        The outputs, dims ``(run, time)``; the sampled parameters are coordinates on ``run``.
    samples
        The parameter values of every run (index ``run``, one column per parameter).
    distributions
        What each parameter was drawn from.
    sampling
        ``"random"`` or ``"lhs"``.
    """

    dataset: xr.Dataset
    samples: pd.DataFrame
    distributions: Mapping[str, Distribution] = field(default_factory=dict)
    sampling: str = "random"

    @property
    def outputs(self) -> tuple[str, ...]:
        """The output variables, in the order asked for."""
        return tuple(str(name) for name in self.dataset.data_vars)

    @property
    def runs(self) -> int:
        """How many runs finished (fewer than asked for after an interruption)."""
        return int(self.dataset.sizes["run"])

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C stopped the experiment early (the finished runs are kept)."""
        return bool(self.dataset.attrs.get("interrupted", 0))

    def percentiles(
        self, levels: Sequence[float] = DEFAULT_PERCENTILES, variables: Iterable[str] | None = None
    ) -> xr.Dataset:
        """Percentiles over the runs at every time: a ``Dataset`` with dims ``(percentile, time)``.

        ``levels`` are percentages in ``[0, 100]`` (linear interpolation between runs).
        """
        chosen = self._variables(variables)
        quantiles = _levels(levels) / 100.0
        bands = self.dataset[chosen].quantile(quantiles, dim="run")
        return bands.rename({"quantile": "percentile"}).assign_coords(percentile=quantiles * 100)

    def percentile_table(
        self, levels: Sequence[float] = DEFAULT_PERCENTILES, variables: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """The percentiles as a table: index ``time``, a column ``"<variable> p<level>"`` each."""
        bands = self.percentiles(levels, variables)
        columns = {
            f"{name} p{level:g}": bands[name].sel(percentile=level).to_numpy()
            for name in bands.data_vars
            for level in bands["percentile"].to_numpy()
        }
        return pd.DataFrame(columns, index=pd.Index(bands["time"].to_numpy(), name="time"))

    def percentiles_at(
        self, time: float | None = None, levels: Sequence[float] = DEFAULT_PERCENTILES
    ) -> pd.DataFrame:
        """The percentiles at one saved time (default: the last): a row per output,
        a column ``"p<level>"`` per percentile."""
        bands = self.percentiles(levels)
        at = bands.isel(time=-1) if time is None else bands.sel(time=time, method="nearest")
        table = pd.DataFrame(
            {name: at[name].to_numpy() for name in at.data_vars},
            index=[f"p{level:g}" for level in at["percentile"].to_numpy()],
        ).T
        table.index.name = f"time {float(at['time']):g}"
        return table

    def plot(
        self,
        variable: str,
        ax: Any = None,
        *,
        levels: Sequence[float] = DEFAULT_PERCENTILES,
        time_units: str = "",
    ) -> Any:
        """A fan chart of ``variable`` (bands between symmetric percentiles); returns the Axes."""
        from sdhealth.report.experiment_plots import plot_fan

        self._variables([variable])
        return plot_fan(self.percentiles(levels, [variable]), variable, ax, time_units=time_units)

    def plot_all(
        self,
        variables: Iterable[str] | None = None,
        *,
        levels: Sequence[float] = DEFAULT_PERCENTILES,
        title: str | None = None,
        time_units: str = "",
    ) -> Any:
        """A figure with one fan chart per output (small multiples); returns the Figure."""
        from sdhealth.report.experiment_plots import plot_fans

        bands = self.percentiles(levels, variables)
        return plot_fans(bands, title=title, time_units=time_units)

    def save(
        self, path: str | os.PathLike[str], levels: Sequence[float] = DEFAULT_PERCENTILES
    ) -> None:
        """Write the results atomically, chosen by suffix.

        ``.nc``: the whole ``Dataset`` (every run; read it back with
        :func:`sdhealth.io.results.load_dataset`). ``.csv``/``.parquet``: the
        :meth:`percentile_table` at ``levels``.
        """
        target = Path(path)
        if check_results_path(target) == ".nc":
            save_dataset(self.dataset, target)
        else:
            write_results(self.percentile_table(levels), target)

    def _variables(self, variables: Iterable[str] | None) -> list[str]:
        if variables is None:
            return list(self.outputs)
        chosen = list(variables)
        unknown = [name for name in chosen if name not in self.dataset.data_vars]
        if unknown:
            raise ModelError(
                f"{unknown[0]!r} is not an output of this Monte Carlo experiment "
                f"(outputs: {', '.join(self.outputs)})"
            )
        return chosen


def check_results_path(path: str | os.PathLike[str]) -> str:
    """The suffix of ``path`` if :meth:`MonteCarloResult.save` can write it, else an error."""
    suffix = Path(path).suffix.lower()
    if suffix != ".nc" and suffix not in RESULT_WRITERS:
        known = ", ".join([".nc", *sorted(RESULT_WRITERS)])
        raise SdhealthError(f"{path}: cannot write Monte Carlo results as {suffix!r} ({known})")
    return suffix


def _levels(levels: Sequence[float]) -> np.ndarray:
    try:
        values = np.asarray([float(level) for level in levels])
    except (TypeError, ValueError):
        raise ModelError(f"percentiles must be numbers, got {levels!r}") from None
    if values.size == 0 or not np.all((values >= 0) & (values <= 100)):
        raise ModelError(f"percentiles must be between 0 and 100, got {list(levels)!r}")
    return np.unique(values)
