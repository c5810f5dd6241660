"""Loop dominance: which feedback loops drive a model's behaviour when (Loops That Matter).

:func:`loop_dominance` runs a model and scores each of its feedback loops at every time step
by the *Loops That Matter* method (Schoenberg, Davidsen & Eberlein 2020, System Dynamics
Review 36(2); the flow-to-stock score as corrected by Schoenberg, Hayward & Eberlein 2023, SDR
39(2)):

- the **link score** of ``x -> z`` (``z`` a flow or auxiliary, ``z = f(x, y, ...)``) is
  ``|Δx z / Δz| · sign(Δx z / Δx)``, where ``Δz`` is the change of ``z`` over one time step
  and ``Δx z = f(x(t), y(t - dt), ...) - f(x(t - dt), y(t - dt), ...)`` the part of it due
  to ``x`` alone; it is 0 when ``x`` or ``z`` does not change;
- the score of a flow into (out of) a stock is ``+|Δflow / Δnet|`` (``-|...|``), ``net`` the
  stock's net flow: the change of the flow relative to the stock's acceleration, which does
  not depend on how the flows are split or aggregated;
- a **loop score** is the product of the link scores around the loop (its sign is the loop's
  polarity at that time), and the **relative loop score** divides it by the sum of the
  absolute scores of every loop in its *cycle partition* (the stocks its loops connect), so
  relative scores lie in [-1, 1] and say what share of the change of the partition's stocks
  each loop explains. A loop alone on its stocks scores +1 (reinforcing) or -1 (balancing).

Stateful builtins (delays, smooths, trends) are first expanded into their internal stocks: the
run scored is that of the ``expanded`` model of
:func:`~sdhealth.compile.compiled.compile_model`, the one the native backend compiles; a link
the diagram draws through one (``x -> y`` with ``y = SMOOTH(x, d)``) scores as the product of
the link scores along the internal path (the scores obey the chain rule), summed over parallel
paths. Equations are
evaluated with :mod:`sdhealth.cld.forms` (lookups by interpolation, never
``eval``). A link into a variable without such a form (``DELAY FIXED``, external data) scores
NaN, and so does every loop through it; subscripted models are not supported yet.

Scores are computed on the run's own time step (saved every ``dt``); near a shift of
dominance (an inflection point of a stock) raw loop scores become very large, which is why the
relative scores are the ones to read.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

from sdhealth.analysis.loops import DEFAULT_MAX_LOOPS, Loop, find_named_loops
from sdhealth.cld.diagram import causal_graph
from sdhealth.cld.forms import FormBuilder, UnsupportedForm, numeric_function
from sdhealth.compile.compiled import compile_model
from sdhealth.errors import ModelError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Model as IRModel
from sdhealth.ir.model import Stock
from sdhealth.ir.names import canonical

if TYPE_CHECKING:
    from sdhealth.experiments.runnable import RunnableModel

__all__ = ["LoopDominance", "loop_dominance", "describe_loop", "DOMINANT_SHARE"]

#: The share of the change a set of loops must explain to be dominant (the LTM definition).
DOMINANT_SHARE = 0.5

#: Longest internal path a stateful builtin puts between an input and its output.
_INTERNAL_PATH_CUTOFF = 40


@dataclass(frozen=True, eq=False)
class LoopDominance:
    """Loop scores of one run (see the module docstring).

    ``scores`` and ``relative`` have one column per loop id and one row per time step;
    ``links`` one column per link (``"x -> y"``) of the loops. ``partition`` gives each loop's
    cycle partition (loops in different partitions do not share stocks); ``names`` the loop ids
    of the model's named loops (its ``report: loops:``) -> their names.
    """

    model_name: str
    loops: tuple[Loop, ...]
    scores: pd.DataFrame
    relative: pd.DataFrame
    links: pd.DataFrame
    partition: Mapping[str, int]
    names: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def loop(self, loop_id: str) -> Loop:
        """The loop called ``loop_id``."""
        found = self._by_id.get(loop_id)
        if found is None:
            raise ModelError(f"no loop {loop_id!r} was scored")
        return found

    @functools.cached_property
    def _by_id(self) -> dict[str, Loop]:
        return {loop.id: loop for loop in self.loops}

    def describe(self, loop_id: str) -> str:
        """The loop's name in the model's ``report: loops:``, else :func:`describe_loop`."""
        return self.names.get(loop_id) or describe_loop(self.loop(loop_id))

    def mean_share(self, start: float | None = None, end: float | None = None) -> pd.Series:
        """Each loop's mean relative score over ``[start, end]`` (signed), largest |share| first."""
        shares = self.relative.loc[start:end].mean()  # the first step (no change yet) is NaN
        return shares.reindex(shares.abs().sort_values(ascending=False).index)

    def dominant(self, start: float | None = None, end: float | None = None) -> list[str]:
        """The fewest loops whose mean |relative score| over the period reaches one half.

        The mean is of the absolute relative scores, so a loop that pushes one way and then
        the other counts for all it explains.

        Loops That Matter calls a set of loops dominant when it explains at least 50% of the
        change of the stocks over the period; this is the smallest such set, strongest first.
        """
        magnitudes = self.relative.loc[start:end].abs().mean()  # a loop's share at each moment
        shares = magnitudes.sort_values(ascending=False)
        chosen, total = [], 0.0
        for loop_id, share in shares.items():
            if total >= DOMINANT_SHARE or not share > 0:
                break
            chosen.append(str(loop_id))
            total += float(share)
        return chosen

    def table(self, every: float, *, top: int = 3) -> pd.DataFrame:
        """For each period of length ``every``: its strongest loops and their mean shares."""
        times = self.relative.index.to_numpy()
        rows = []
        for begin in np.arange(times[0], times[-1], every):
            end = min(begin + every, times[-1])
            shares = self.mean_share(begin, end).head(top)
            for rank, (loop_id, share) in enumerate(shares.items(), start=1):
                loop = self.loop(str(loop_id))
                rows.append(
                    (begin, end, rank, loop_id, loop.kind, float(share),
                     self.describe(str(loop_id)), loop.path)
                )  # fmt: skip
        columns = ["from", "to", "rank", "loop", "kind", "mean share", "description", "path"]
        return pd.DataFrame(rows, columns=columns)

    def plot(self, *, top: int = 6, title: str | None = None, time_units: str = "") -> Any:
        """Relative loop scores over time of the ``top`` loops with the largest mean share."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure

        chosen = list(self.mean_share().index[:top])
        figure = Figure(figsize=(9, 4.8), layout="constrained")
        axes = figure.subplots()
        for loop_id in chosen:
            label = f"{loop_id} ({self.loop(str(loop_id)).kind}): {self.describe(str(loop_id))}"
            axes.plot(self.relative.index, self.relative[loop_id], linewidth=1.5, label=label)
        axes.axhline(0, color="0.5", linewidth=0.8)
        axes.set_ylim(-1.05, 1.05)
        axes.set_ylabel("relative loop score")
        axes.set_xlabel(f"time ({time_units})" if time_units else "time")
        axes.grid(alpha=0.3)
        if chosen:
            figure.legend(loc="outside lower center", fontsize=7, ncols=1)
        figure.suptitle(title or f"{self.model_name}: loop dominance (Loops That Matter)")
        return figure

    def save_plot(self, path: str | os.PathLike[str], **options: Any) -> None:
        """:meth:`plot`, written to ``path`` (PNG, SVG, PDF by suffix) atomically."""
        from sdhealth.report.experiment_plots import save_figure

        save_figure(self.plot(**options), path)


def describe_loop(loop: Loop, limit: int = 70) -> str:
    """The loop's path if short, else the stocks it runs through (paths of long loops blur)."""
    path = loop.path
    if len(path) <= limit:
        return path
    return f"{loop.length} links through " + ", ".join(loop.stocks or loop.variables[:3])


# ---------------------------------------------------------------------------- computing


def loop_dominance(
    model: RunnableModel,
    loops: Sequence[Loop] | None = None,
    *,
    params: Mapping[str, float] | None = None,
    scenario: Any = None,
    policies: Sequence[Any] = (),
    start: float | None = None,
    stop: float | None = None,
    dt: float | None = None,
    backend: str | None = None,
    max_loops: int = DEFAULT_MAX_LOOPS,
) -> LoopDominance:
    """Score the feedback loops of one run of ``model`` (see the module docstring).

    Parameters
    ----------
    model
        A loaded model without subscripts.
    loops
        The loops to score (default: ``model.loops(max_loops=max_loops)``; if that search is
        truncated, relative scores are relative to the loops found).
    params, scenario, policies, start, stop, dt, backend
        As for :meth:`sdhealth.Model.run`; the run is saved at every time step.

    Raises
    ------
    ModelError
        A subscripted model, or loops that are not loops of the model.

    Examples
    --------
    >>> import sdhealth as sd
    >>> from sdhealth.io.yaml import model_from_yaml_text
    >>> cooling = model_from_yaml_text(
    ...     "model: Cooling\\ntime: {start: 0, stop: 10, dt: 1}\\n"
    ...     "stocks:\\n  T: {initial: 90, inflows: [], outflows: [Loss]}\\n"
    ...     "flows:\\n  Loss: (T - 20) / 5\\n"
    ... )
    >>> result = loop_dominance(sd.Model(cooling))
    >>> [loop.path for loop in result.loops], float(result.relative["B1"].iloc[-1])
    (['Loss -> T -> Loss'], -1.0)
    """
    ir = model.ir
    if ir.is_arrayed:
        raise ModelError("loop dominance needs a model without subscripts (not supported yet)")
    chosen = tuple(loops if loops is not None else model.loops(max_loops=max_loops))
    expanded_ir = compile_model(ir).expanded
    internal = {v.name for v in expanded_ir.variables if v.internal}
    visible = _visible(expanded_ir)
    runner = model.with_ir(visible)
    step = dt if dt is not None else ir.time.dt
    frame = runner.run(
        params=params, scenario=scenario, policies=policies, start=start, stop=stop, dt=step,
        saveper=step, backend=backend,
    )  # fmt: skip
    values = {canonical(str(c)): frame[c].to_numpy(dtype=float) for c in frame.columns}
    times = frame.index.to_numpy(dtype=float)
    values[fn.TIME.name] = times
    for clock, value in (
        (fn.TIME_STEP, step), (fn.SAVEPER, step),
        (fn.INITIAL_TIME, times[0]), (fn.FINAL_TIME, times[-1]),
    ):  # fmt: skip
        values[clock.name] = np.full(times.shape, float(value))
    scorer = _LinkScorer(visible, values, internal)
    expanded = causal_graph(visible).graph
    original = model.cld().graph
    link_scores: dict[tuple[str, str], np.ndarray] = {}
    for loop in chosen:
        for u, v, _ in loop.links:
            if (u, v) not in link_scores:
                if not original.has_edge(u, v):
                    raise ModelError(f"{u!r} -> {v!r} is not a link of {model.name!r}")
                link_scores[(u, v)] = _original_link_score(expanded, scorer, u, v)
    index = frame.index
    scores = pd.DataFrame({loop.id: _product(link_scores, loop) for loop in chosen}, index=index)
    scores.iloc[0] = np.nan  # nothing has changed yet at the first time
    partition = _partitions(original, chosen)
    relative = _relative(scores, partition)
    links = pd.DataFrame({f"{u} -> {v}": s for (u, v), s in link_scores.items()}, index=index)
    names = _named(model, chosen)
    return LoopDominance(model.name, chosen, scores, relative, links, partition, names)


def _named(model: RunnableModel, loops: Sequence[Loop]) -> dict[str, str]:
    """The ids of the model's named loops (``report: loops:``) among ``loops`` -> names."""
    found = find_named_loops(model.cld(), model.ir.report.loops, loops)
    return {loop.id: name for name, loop in found if loop is not None and loop.id}


def _visible(model: IRModel) -> IRModel:
    """The expanded model with its internal variables made ordinary (so runs return them).

    Declared link polarities are dropped: they name the links of the unexpanded equations
    (``Bed occupancy -> Bed pressure`` where the expansion reads a smoothing stage instead).
    """
    variables = []
    for variable in model.variables:
        changes: dict[str, Any] = {}
        if variable.internal:
            changes["internal"] = False
        if getattr(variable, "declared_links", ()):
            changes["declared_links"] = ()
        variables.append(dataclasses.replace(variable, **changes) if changes else variable)
    return dataclasses.replace(model, variables=tuple(variables))


def _product(link_scores: Mapping[tuple[str, str], np.ndarray], loop: Loop) -> np.ndarray:
    score = np.ones_like(next(iter(link_scores.values())))
    for u, v, _ in loop.links:
        score = score * link_scores[(u, v)]
    return score


def _partitions(graph: nx.DiGraph, loops: Sequence[Loop]) -> dict[str, int]:
    """Each loop's strongly connected component of the diagram (its cycle partition)."""
    component: dict[str, int] = {}
    for number, nodes in enumerate(nx.strongly_connected_components(graph)):
        for node in nodes:
            component[node] = number
    return {loop.id: component[loop.variables[0]] for loop in loops}


def _relative(scores: pd.DataFrame, partition: Mapping[str, int]) -> pd.DataFrame:
    """Each loop's score over the sum of |scores| of its partition (0 where all are 0; NaN
    where a score of the partition is NaN, as at the first time)."""
    values = scores.to_numpy()
    relative = np.full(values.shape, np.nan)
    numbers = np.array([partition[str(loop_id)] for loop_id in scores.columns])
    for number in np.unique(numbers):
        members = numbers == number
        block = values[:, members]
        total = np.abs(block).sum(axis=1)  # NaN if any score is NaN
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(total[:, None] > 0, block / total[:, None], 0.0)
        relative[:, members] = np.where(np.isnan(total)[:, None], np.nan, shares)
    return pd.DataFrame(relative, index=scores.index, columns=scores.columns)


def _original_link_score(expanded: nx.DiGraph, scorer: _LinkScorer, u: str, v: str) -> np.ndarray:
    """A diagram link's score: the sum over paths through internal variables of their products."""
    sub = expanded.subgraph(scorer.internal | {u, v})
    total = np.zeros(scorer.size)
    found = False
    for path in nx.all_simple_paths(sub, u, v, cutoff=_INTERNAL_PATH_CUTOFF):
        found = True
        product = np.ones(scorer.size)
        for a, b in itertools.pairwise(path):
            product = product * scorer.score(a, b)
        total = total + product
    if not found:
        return np.full(scorer.size, np.nan)
    return total


class _LinkScorer:
    """Link scores of the expanded model's links, computed from one run's values."""

    def __init__(
        self, model: IRModel, values: Mapping[str, np.ndarray], internal: set[str]
    ) -> None:
        self.model = model
        self.values = values
        self.size = len(values[fn.TIME.name])
        self.builder = FormBuilder(model)
        self.internal = frozenset(internal)
        self._functions: dict[str, tuple[Any, list[str]] | None] = {}
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def score(self, source: str, target: str) -> np.ndarray:
        if (source, target) not in self._cache:
            variable = self.model[target]
            if isinstance(variable, Stock):
                result = self._flow_to_stock(source, variable)
            else:
                result = self._instantaneous(source, target)
            self._cache[(source, target)] = result
        return self._cache[(source, target)]

    def _series(self, name: str) -> np.ndarray:
        return self.values.get(canonical(name), np.full(self.size, np.nan))

    def _flow_to_stock(self, flow: str, stock: Stock) -> np.ndarray:
        sign = 1.0 if flow in stock.inflows else -1.0
        net = np.zeros(self.size)
        for name in stock.inflows:
            net = net + self._series(name)
        for name in stock.outflows:
            net = net - self._series(name)
        change = _delta(self._series(flow))
        return sign * _ratio(np.abs(change), np.abs(_delta(net)))

    def _function(self, target: str) -> tuple[Any, list[str]] | None:
        if target not in self._functions:
            equation = getattr(self.model[target], "equation", None)  # data has none
            try:
                form = None if equation is None else self.builder.derivative_form(equation.expr)
            except UnsupportedForm:
                form = None
            self._functions[target] = None if form is None else numeric_function(form)
        return self._functions[target]

    def _instantaneous(self, source: str, target: str) -> np.ndarray:
        compiled = self._function(target)
        if compiled is None:
            return np.full(self.size, np.nan)
        function, keys = compiled
        if any(key not in self.values for key in keys):
            return np.full(self.size, np.nan)
        now = [self.values[key] for key in keys]
        before = [_lagged(series) for series in now]
        key = canonical(source)
        mixed = [now[i] if k == key else before[i] for i, k in enumerate(keys)]
        with np.errstate(all="ignore"):
            at_now = _evaluate(function, now, self.size)
            at_before = _evaluate(function, before, self.size)
            partial = _evaluate(function, mixed, self.size) - at_before
        change = at_now - at_before
        source_change = _delta(self._series(source))
        magnitude = _ratio(np.abs(partial), np.abs(change))
        sign = np.sign(partial) * np.sign(source_change)
        return np.where(source_change == 0, 0.0, magnitude * sign)


def _evaluate(function: Any, arguments: Sequence[np.ndarray], size: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(function(*arguments), dtype=float), (size,))


def _lagged(series: np.ndarray) -> np.ndarray:
    """The series one step earlier (the first value repeats: no change at the start)."""
    return np.concatenate(([series[0]], series[:-1]))


def _delta(series: np.ndarray) -> np.ndarray:
    return series - _lagged(series)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, 0 where the denominator is 0."""
    with np.errstate(all="ignore"):
        out = np.where(
            denominator != 0, numerator / np.where(denominator != 0, denominator, 1), 0.0
        )
    return out
