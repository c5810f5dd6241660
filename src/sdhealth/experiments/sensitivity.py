"""Sensitivity analysis: one-at-a-time swings (tornado) and global indices through SALib.

Three methods, one interface (:data:`SENSITIVITY_METHODS`): ``method(model, parameters,
output, statistic, ...)`` -> a result with a ``table`` (``DataFrame``, one row per parameter,
most influential first) and ``plot()``.

- :func:`oat` -- one at a time: every parameter at its low and its high value, the others at
  their base values; the table has the output at both ends and the ``swing`` between them.
- :func:`sobol` -- variance-based global indices (SALib's Sobol' sequence sampling and
  ``SALib.analyze.sobol``): first-order ``S1`` (the share of the output's variance each
  parameter explains alone) and total ``ST`` (including interactions), with bootstrap
  confidence intervals; optionally second-order ``S2``. Costs ``samples x (D + 2)`` runs
  (``samples x (2D + 2)`` with second order) for ``D`` parameters.
- :func:`morris` -- elementary-effects screening (``SALib.analyze.morris``): ``mu_star``
  (overall influence), ``sigma`` (non-linearity and interactions), ``mu`` and a confidence
  interval for ``mu_star``. Costs ``trajectories x (D + 1)`` runs.

``parameters`` maps constant names to a ``(low, high)`` range or to a
:class:`~sdhealth.experiments.distributions.Distribution`. SALib samples the unit hypercube;
each coordinate is mapped to its parameter through
:meth:`~sdhealth.experiments.distributions.Distribution.from_unit` (linear for a range,
by quantile for a distribution, whose unbounded ends are cut at 2.5%). Elementary effects are
per unit of that scale: the output change when a parameter crosses its whole range.

The scalar output of each run is ``statistic`` of the ``output`` variable: any summary of
:mod:`sdhealth.experiments.summaries` -- ``"final"``, ``"peak"``, ``"mean"``,
``"time_of_peak"``, ... or ``(name, start, end)`` for a window. Every method builds its whole
design first and runs it as ONE batch through :meth:`sdhealth.Model.sweep` with that summary,
so only one number per run is kept. All arguments are checked before any run starts.
Interrupting (Ctrl-C) a method raises ``KeyboardInterrupt``: a partial design has no indices.

``result.plot()`` draws with :mod:`sdhealth.report.experiment_plots`, imported only when
called: the charts take plain tables, so ``report`` needs nothing from here and the results
never need matplotlib (the same convenience as ``DataFrame.plot``).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from sdhealth.backends.base import RUN_OPTION_NAMES
from sdhealth.errors import ModelError, SdhealthError
from sdhealth.experiments.distributions import Distribution, Seed, Uniform, random_generator
from sdhealth.experiments.montecarlo import scenario_inputs, with_fixed
from sdhealth.experiments.policies import constant_named
from sdhealth.experiments.progress import labelled
from sdhealth.experiments.summaries import Summary, parse_summaries
from sdhealth.io.results import RESULT_WRITERS, write_results

if TYPE_CHECKING:
    from sdhealth.experiments.runnable import RunnableModel

__all__ = [
    "SENSITIVITY_METHODS",
    "SensitivityResult",
    "OATResult",
    "SobolResult",
    "MorrisResult",
    "oat",
    "sobol",
    "morris",
    "parameter_distributions",
    "check_table_path",
    "IncompleteAnalysis",
]

ParameterRange = tuple[float, float] | Distribution
StatisticSpec = str | Summary | tuple[str, float, float]

#: Options every method passes on to :meth:`sdhealth.Model.sweep` (with their meaning there):
#: the run settings of :class:`~sdhealth.backends.base.RunOptions` and the scenario inputs.
RUN_OPTIONS = (RUN_OPTION_NAMES - {"return_columns"}) | {"policies", "scenario"}


def parameter_distributions(parameters: Mapping[str, ParameterRange]) -> dict[str, Distribution]:
    """Each parameter as a distribution: a ``(low, high)`` range becomes a uniform one.

    >>> parameter_distributions({"a": (1, 3)})["a"].describe()
    'uniform(low=1, high=3)'

    Raises
    ------
    ModelError
        No parameters, or a range that is not two increasing numbers.
    """
    if not parameters:
        raise ModelError("a sensitivity analysis needs at least one parameter")
    chosen: dict[str, Distribution] = {}
    for name, spec in parameters.items():
        if isinstance(spec, Distribution):
            chosen[name] = spec
            continue
        if isinstance(spec, str) or not hasattr(spec, "__len__") or len(spec) != 2:
            raise ModelError(
                f"parameter {name!r}: give a (low, high) range or a distribution, got {spec!r}"
            )
        try:
            chosen[name] = Uniform(*spec)
        except ModelError as exc:
            message = str(exc).replace("uniform distribution: ", "")
            raise ModelError(f"parameter {name!r}: range {message}") from None
    return chosen


def check_table_path(path: str | os.PathLike[str]) -> str:
    """The suffix of ``path`` if :meth:`SensitivityResult.save` can write it, else an error."""
    suffix = Path(path).suffix.lower()
    if suffix not in RESULT_WRITERS:
        known = ", ".join(sorted(RESULT_WRITERS))
        raise SdhealthError(f"{path}: cannot write a sensitivity table as {suffix!r} ({known})")
    return suffix


def _statistic_label(statistic: StatisticSpec) -> str:
    parsed = parse_summaries([statistic])
    assert parsed is not None
    return parsed[0].label


def _scalar_runs(
    model: RunnableModel,
    table: pd.DataFrame,
    output: str,
    statistic: StatisticSpec,
    options: Mapping[str, Any],
    analysis: str,
) -> np.ndarray:
    """``statistic`` of ``output`` in every run of ``table``, run as one batch.

    The progress bar is labelled ``analysis``. Ctrl-C raises :class:`IncompleteAnalysis`: the
    indices need every run, so the runs that finished make no result.
    """
    unknown = sorted(set(options) - RUN_OPTIONS)
    if unknown:
        raise TypeError(f"unexpected keyword argument {unknown[0]!r}")
    if output in table.columns:
        raise ModelError(f"{output!r} is a parameter of the analysis, not an output")
    fixed, policies = scenario_inputs(options.get("scenario"), model, options.get("policies", ()))
    settings = {k: v for k, v in options.items() if k not in ("scenario", "policies")}
    spec = model.run_spec(return_columns=[output], **settings)
    try:
        with labelled(analysis):
            dataset = model.sweep(
                with_fixed(table, fixed), policies, summary=[statistic], run_spec=spec
            )
    except KeyboardInterrupt:  # not even one chunk of runs had finished
        raise IncompleteAnalysis(analysis, 0, len(table)) from None
    if dataset.attrs.get("interrupted"):
        raise IncompleteAnalysis(analysis, dataset.sizes["run"], len(table))
    values = dataset[output].isel(statistic=0).to_numpy()
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = table.iloc[int(bad[0])].to_dict()
        raise ModelError(f"{output!r} is not a finite number in the run with {row}")
    return values


class IncompleteAnalysis(KeyboardInterrupt):
    """A sensitivity analysis stopped by Ctrl-C: its indices need every run, so no result."""

    def __init__(self, analysis: str, finished: int, requested: int) -> None:
        super().__init__(
            f"interrupted after {finished} of {requested} runs: the {analysis} analysis needs "
            "every run, so there is no result (fewer samples or levels make it shorter)"
        )
        self.finished, self.requested = finished, requested


def _check_whole(name: str, value: Any, smallest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < smallest:
        raise ModelError(f"{name} must be a whole number of at least {smallest}, got {value!r}")
    return int(value)


def _check_confidence(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ModelError(f"confidence must be between 0 and 1, got {confidence!r}")
    return float(confidence)


@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """A sensitivity table (one row per parameter, most influential first) and its context.

    Attributes
    ----------
    table
        The method's measures, index ``parameter``.
    output, statistic
        What was measured: ``statistic`` (a summary label such as ``"final"``) of ``output``.
    design
        The parameter values of every run (one row per run, in run order).
    values
        The measured statistic of every run.
    """

    table: pd.DataFrame
    output: str
    statistic: str
    design: pd.DataFrame
    values: np.ndarray

    #: The method's name in :data:`SENSITIVITY_METHODS`.
    method: ClassVar[str] = ""
    #: The chart of :mod:`sdhealth.report.experiment_plots` that draws the table.
    chart: ClassVar[str] = ""

    @property
    def runs(self) -> int:
        """How many runs the analysis took."""
        return int(len(self.values))

    @property
    def label(self) -> str:
        """What was measured, e.g. ``"final RTT waiting list"``."""
        return f"{self.statistic} {self.output}"

    def plot(self, ax: Any = None) -> Any:
        """The method's chart of :attr:`table` (drawn into ``ax`` if given); returns the Axes."""
        from sdhealth.report import experiment_plots

        return getattr(experiment_plots, self.chart)(self.table, ax, output=self.label)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :attr:`table` to ``.csv`` or ``.parquet`` atomically."""
        check_table_path(path)
        write_results(self.table, path)


@dataclass(frozen=True, eq=False)
class OATResult(SensitivityResult):
    """One-at-a-time swings: columns ``low``, ``high``, ``base`` (parameter values),
    ``output_low``, ``output_high``, ``output_base`` and ``swing`` (``|output_high -
    output_low|``); the chart is a tornado."""

    method: ClassVar[str] = "oat"
    chart: ClassVar[str] = "plot_tornado"


@dataclass(frozen=True, eq=False)
class SobolResult(SensitivityResult):
    """Sobol indices: columns ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (half-widths of the
    confidence intervals); :attr:`second_order` is the ``S2`` matrix when asked for. The
    chart shows bars of S1 and ST with their intervals."""

    second_order: pd.DataFrame | None = None
    method: ClassVar[str] = "sobol"
    chart: ClassVar[str] = "plot_sobol"


@dataclass(frozen=True, eq=False)
class MorrisResult(SensitivityResult):
    """Morris screening: columns ``mu``, ``mu_star``, ``sigma``, ``mu_star_conf``; the chart
    plots ``mu_star`` against ``sigma``."""

    method: ClassVar[str] = "morris"
    chart: ClassVar[str] = "plot_morris"


def oat(
    model: RunnableModel,
    parameters: Mapping[str, ParameterRange],
    output: str,
    statistic: StatisticSpec = "final",
    **options: Any,
) -> OATResult:
    """One-at-a-time sensitivity: each parameter at its low and high value, the rest at base.

    Runs ``1 + 2 x len(parameters)`` sets in one batch: the base run (every parameter at the
    model's value, or the scenario's) and, per parameter, its low and its high value. A
    distribution's low and high are its :meth:`~.Distribution.bounds`.

    Parameters
    ----------
    model
        A loaded :class:`sdhealth.Model`.
    parameters
        Constant name -> ``(low, high)`` or a distribution.
    output, statistic
        The variable and the per-run statistic measured (see the module docstring).
    **options
        ``policies``, ``scenario``, ``start``, ``stop``, ``dt``, ``saveper``, ``method``,
        ``backend``, ``progress``, ``executor``: as for :func:`~.montecarlo.monte_carlo`.

    Returns
    -------
    OATResult
        Sorted by ``swing``, the widest first.
    """
    dists = parameter_distributions(parameters)
    label = _statistic_label(statistic)
    fixed, _ = scenario_inputs(options.get("scenario"), model, ())
    names = list(dists)
    base = np.array([fixed.get(n, constant_named(model.ir, n).value) for n in names], float)
    bounds = np.array([dists[n].bounds() for n in names])
    design = np.tile(base, (1 + 2 * len(names), 1))
    for i in range(len(names)):
        design[1 + 2 * i, i], design[2 + 2 * i, i] = bounds[i]
    frame = pd.DataFrame(design, columns=names)
    values = _scalar_runs(model, frame, output, statistic, options, "one at a time")
    table = pd.DataFrame(
        {
            "low": bounds[:, 0],
            "high": bounds[:, 1],
            "base": base,
            "output_low": values[1::2],
            "output_high": values[2::2],
            "output_base": values[0],
        },
        index=pd.Index(names, name="parameter"),
    )
    table["swing"] = (table["output_high"] - table["output_low"]).abs()
    table = table.sort_values("swing", ascending=False, kind="stable")
    return OATResult(table, output, label, frame, values)


def _unit_problem(dists: Mapping[str, Distribution]) -> dict[str, Any]:
    return {"num_vars": len(dists), "names": list(dists), "bounds": [[0.0, 1.0]] * len(dists)}


def _design(dists: Mapping[str, Distribution], unit: np.ndarray) -> pd.DataFrame:
    columns = {name: dist.from_unit(unit[:, j]) for j, (name, dist) in enumerate(dists.items())}
    return pd.DataFrame(columns)


def _salib_seeds(seed: Seed) -> tuple[int, int]:
    """Seeds for SALib's sampler and its bootstrap, both from ``seed``."""
    rng = random_generator(seed)
    sample_seed, analyse_seed = rng.integers(0, 2**31 - 1, size=2)
    return int(sample_seed), int(analyse_seed)


def _check_varies(values: np.ndarray, output: str, label: str) -> None:
    if np.ptp(values) == 0:
        raise ModelError(f"{label} {output} is {values[0]:g} in every run: no parameter changes it")


def sobol(
    model: RunnableModel,
    parameters: Mapping[str, ParameterRange],
    output: str,
    statistic: StatisticSpec = "final",
    *,
    samples: int = 1024,
    second_order: bool = False,
    seed: Seed = None,
    confidence: float = 0.95,
    resamples: int = 100,
    **options: Any,
) -> SobolResult:
    """Sobol' variance-based sensitivity indices (SALib) of ``statistic`` of ``output``.

    Parameters
    ----------
    samples
        The base sample size ``N`` of Saltelli's scheme, a power of two; the batch has
        ``N x (D + 2)`` runs (``N x (2D + 2)`` with ``second_order``).
    second_order
        Also estimate the pairwise indices ``S2`` (``result.second_order``).
    seed
        Makes the Sobol' sequence scrambling and the bootstrap reproducible.
    confidence, resamples
        The confidence level and bootstrap size of the intervals (``*_conf`` columns).
    model, parameters, output, statistic, **options
        As for :func:`oat`.
    """
    from SALib.analyze import sobol as sobol_analysis
    from SALib.sample import sobol as sobol_sampling

    dists = parameter_distributions(parameters)
    label = _statistic_label(statistic)
    samples = _check_whole("samples", samples, 2)
    if samples & (samples - 1):
        nearest = 2 ** round(math.log2(samples))
        raise ModelError(f"samples must be a power of two for Sobol' indices (e.g. {nearest})")
    conf = _check_confidence(confidence)
    resamples = _check_whole("resamples", resamples, 2)
    sample_seed, analyse_seed = _salib_seeds(seed)
    problem = _unit_problem(dists)
    unit = sobol_sampling.sample(problem, samples, calc_second_order=second_order, seed=sample_seed)
    design = _design(dists, unit)
    values = _scalar_runs(model, design, output, statistic, options, "sobol")
    _check_varies(values, output, label)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        indices = sobol_analysis.analyze(
            problem, values, calc_second_order=second_order, num_resamples=resamples,
            conf_level=conf, seed=analyse_seed,
        )  # fmt: skip
    names = pd.Index(list(dists), name="parameter")
    table = pd.DataFrame(
        {key: indices[key] for key in ("S1", "S1_conf", "ST", "ST_conf")}, index=names
    ).sort_values("ST", ascending=False, kind="stable")
    pairs = None
    if second_order:
        pairs = pd.DataFrame(indices["S2"], index=names, columns=list(dists))
    return SobolResult(table, output, label, design, values, second_order=pairs)


def morris(
    model: RunnableModel,
    parameters: Mapping[str, ParameterRange],
    output: str,
    statistic: StatisticSpec = "final",
    *,
    trajectories: int = 20,
    levels: int = 4,
    seed: Seed = None,
    confidence: float = 0.95,
    resamples: int = 100,
    **options: Any,
) -> MorrisResult:
    """Morris elementary-effects screening (SALib) of ``statistic`` of ``output``.

    Parameters
    ----------
    trajectories
        How many one-at-a-time paths through the ``levels``-point grid; the batch has
        ``trajectories x (D + 1)`` runs.
    levels
        Grid points per parameter (an even number; 4 is usual).
    seed, confidence, resamples
        As for :func:`sobol` (the interval is that of ``mu_star``).
    model, parameters, output, statistic, **options
        As for :func:`oat`.
    """
    from SALib.analyze import morris as morris_analysis
    from SALib.sample import morris as morris_sampling

    dists = parameter_distributions(parameters)
    label = _statistic_label(statistic)
    trajectories = _check_whole("trajectories", trajectories, 2)
    levels = _check_whole("levels", levels, 2)
    if levels % 2:
        raise ModelError(f"levels must be an even number for Morris screening, got {levels}")
    conf = _check_confidence(confidence)
    resamples = _check_whole("resamples", resamples, 2)
    sample_seed, analyse_seed = _salib_seeds(seed)
    problem = _unit_problem(dists)
    unit = morris_sampling.sample(problem, trajectories, num_levels=levels, seed=sample_seed)
    design = _design(dists, unit)
    values = _scalar_runs(model, design, output, statistic, options, "morris")
    indices = morris_analysis.analyze(
        problem, unit, values, num_resamples=resamples, conf_level=conf, num_levels=levels,
        seed=analyse_seed,
    )  # fmt: skip
    table = pd.DataFrame(
        {
            key: np.asarray(indices[key], float)
            for key in ("mu", "mu_star", "sigma", "mu_star_conf")
        },
        index=pd.Index(list(dists), name="parameter"),
    ).sort_values("mu_star", ascending=False, kind="stable")
    return MorrisResult(table, output, label, design, values)


#: Method name (as in spec files) -> function.
SENSITIVITY_METHODS: Mapping[str, Callable[..., SensitivityResult]] = {
    "oat": oat,
    "sobol": sobol,
    "morris": morris,
}
