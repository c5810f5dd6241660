"""Spec files for Monte Carlo and sensitivity experiments (YAML), read strictly.

A Monte Carlo spec (:class:`MonteCarloSpec`)::

    montecarlo: Nurse workforce uncertainty       # a name (default: the file's name)
    description: ...
    distributions:                                # constant -> {kind: {arguments}}
      Nurse leaver rate when rested: {normal: {mean: 0.095, sd: 0.01}}
      Course completion share: {beta: {a: 16, b: 4}}
    runs: 1000
    seed: 2023                                    # reproducible samples
    sampling: lhs                                 # or random (the default)
    outputs: [Nurse FTE, RTT waiting list]        # default: the model's report indicators
    percentiles: [5, 25, 50, 75, 95]              # bands of the fan chart and tables
    stop: 60                                      # start, stop, dt, saveper; integration: rk4
    scenario: ../scenarios/P5_retention.yaml      # optional, relative to this file

A sensitivity spec (:class:`SensitivitySpec`)::

    sensitivity: Drivers of the waiting list
    method: oat                                   # oat, sobol or morris
    parameters:                                   # a range, or a distribution
      Removal fraction: {low: 0.024, high: 0.04}
      Elective demand growth: {triangular: {low: 0.02, mode: 0.032, high: 0.045}}
    output: RTT waiting list
    statistic: final                              # final, peak, mean, time_of_peak, ...
    window: [24, 60]                              # optional: the statistic over this window
    samples: 256                                  # sobol: base sample (2^k); morris: trajectories
    levels: 4                                     # morris grid levels
    second_order: false                           # sobol S2
    seed: 1
    confidence: 0.95

The distributions are those of :data:`~sdhealth.experiments.distributions.DISTRIBUTIONS`
(``uniform``, ``normal``, ``truncated_normal``, ``triangular``, ``lognormal``, ``beta``).
Every format error -- unknown keys, wrong types, invalid distribution arguments -- is a
:class:`~sdhealth.errors.ModelSyntaxError` at ``file:line:col``; names the model lacks are
reported where they are written by ``validate(model)``, which ``run`` calls before any run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sdhealth.errors import ModelError, UnknownNameError, format_location
from sdhealth.experiments.distributions import Distribution, Uniform, make_distribution
from sdhealth.experiments.montecarlo import (
    DEFAULT_PERCENTILES,
    SAMPLERS,
    MonteCarloResult,
    monte_carlo,
)
from sdhealth.experiments.policies import constant_named
from sdhealth.experiments.sensitivity import SENSITIVITY_METHODS, SensitivityResult
from sdhealth.experiments.spec_fields import CLOCK_KEYS, read_clock, read_integration
from sdhealth.experiments.summaries import parse_summaries
from sdhealth.io.yaml_documents import read_yaml_mapping
from sdhealth.io.yaml_nodes import Document, Slot, describe, is_number
from sdhealth.ir.model import SourceLocation

if TYPE_CHECKING:
    from sdhealth.experiments.runnable import RunnableModel

__all__ = ["MonteCarloSpec", "SensitivitySpec", "read_montecarlo_spec", "read_sensitivity_spec"]

#: Run settings every spec may give: numbers for the clock, text for the integration method.
_RUN_KEYS = (*CLOCK_KEYS, "integration", "scenario")
_MONTECARLO_KEYS = (
    "montecarlo", "description", "distributions", "runs", "seed", "sampling", "outputs",
    "percentiles", *_RUN_KEYS,
)  # fmt: skip
_SENSITIVITY_KEYS = (
    "sensitivity", "description", "method", "parameters", "output", "statistic", "window",
    "samples", "levels", "second_order", "seed", "confidence", *_RUN_KEYS,
)  # fmt: skip


@dataclass(frozen=True)
class _Located:
    """Where each name of a spec was written, for errors found against a model."""

    locations: Mapping[str, SourceLocation] = field(default_factory=dict, compare=False)

    def _error(self, key: str, exc: ModelError) -> ModelError:
        where = self.locations.get(key)
        prefix = format_location(where.path, where.line, where.column) + ": " if where else ""
        kind = UnknownNameError if isinstance(exc, UnknownNameError) else ModelError
        return kind(f"{prefix}{exc}")

    def _check_constants(self, model: RunnableModel, names: Any) -> None:
        for name in names:
            try:
                constant_named(model.ir, name, role="parameter")
            except ModelError as exc:
                raise self._error(f"parameter/{name}", exc) from None

    def _check_variables(self, model: RunnableModel, names: Any) -> None:
        for name in names:
            if name not in model.ir:
                exc = UnknownNameError.of(name, model.ir.names, role="output variable")
                raise self._error(f"output/{name}", exc) from None


@dataclass(frozen=True)
class MonteCarloSpec(_Located):
    """A Monte Carlo experiment read from YAML (see the module docstring)."""

    name: str = ""
    distributions: Mapping[str, Distribution] = field(default_factory=dict)
    runs: int = 1000
    seed: int | None = None
    sampling: str = "random"
    outputs: tuple[str, ...] | None = None
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    run_options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    path: str | None = None

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> MonteCarloSpec:
        """Read a Monte Carlo spec file; format errors are reported at ``file:line:col``."""
        return read_montecarlo_spec(path)

    def validate(self, model: RunnableModel) -> None:
        """Raise, at the spec's ``file:line:col``, on a name ``model`` lacks."""
        self._check_constants(model, self.distributions)
        self._check_variables(model, self.outputs or ())

    def run(
        self, model: RunnableModel, *, progress: bool | None = None, executor: Any = None
    ) -> MonteCarloResult:
        """Check the spec against ``model``, then run :func:`~.montecarlo.monte_carlo`."""
        self.validate(model)
        return monte_carlo(
            model,
            self.distributions,
            self.runs,
            seed=self.seed,
            outputs=self.outputs,
            sampling=self.sampling,
            progress=progress,
            executor=executor,
            **self.run_options,
        )


@dataclass(frozen=True)
class SensitivitySpec(_Located):
    """A sensitivity analysis read from YAML (see the module docstring)."""

    name: str = ""
    method: str = "oat"
    parameters: Mapping[str, Distribution] = field(default_factory=dict)
    output: str = ""
    statistic: Any = "final"
    options: Mapping[str, Any] = field(default_factory=dict)
    run_options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    path: str | None = None

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> SensitivitySpec:
        """Read a sensitivity spec file; format errors are reported at ``file:line:col``."""
        return read_sensitivity_spec(path)

    def validate(self, model: RunnableModel) -> None:
        """Raise, at the spec's ``file:line:col``, on a name ``model`` lacks."""
        self._check_constants(model, self.parameters)
        self._check_variables(model, [self.output])

    def run(
        self, model: RunnableModel, *, progress: bool | None = None, executor: Any = None
    ) -> SensitivityResult:
        """Check the spec against ``model``, then run the method as one batch."""
        self.validate(model)
        analyse = SENSITIVITY_METHODS[self.method]
        return analyse(
            model,
            self.parameters,
            self.output,
            self.statistic,
            progress=progress,
            executor=executor,
            **self.options,
            **self.run_options,
        )


def read_montecarlo_spec(path: str | os.PathLike[str]) -> MonteCarloSpec:
    """Read a Monte Carlo spec (see the module docstring)."""
    document, root = read_yaml_mapping(path, "Monte Carlo spec")
    return _MonteCarloReader(document, Path(path)).read(root)


def read_sensitivity_spec(path: str | os.PathLike[str]) -> SensitivitySpec:
    """Read a sensitivity spec (see the module docstring)."""
    document, root = read_yaml_mapping(path, "sensitivity spec")
    return _SensitivityReader(document, Path(path)).read(root)


def _is_number_or_infinity(value: object) -> bool:
    """A YAML number, ``.inf`` and ``-.inf`` included (open ends of a truncated normal)."""
    return is_number(value) or (isinstance(value, float) and math.isinf(value))


@dataclass
class _Reader:
    """What both spec readers share: typed values, distributions, run settings, locations."""

    document: Document
    path: Path
    locations: dict[str, SourceLocation] = field(default_factory=dict)

    def whole(self, root: CommentedMap, key: str, default: int | None, smallest: int) -> Any:
        value = root.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
            message = (
                f"{key!r} must be a whole number of at least {smallest}, got {describe(value)}"
            )
            raise self.document.value_error(root, key, message)
        return int(value)

    def number(self, root: CommentedMap, key: str) -> float | None:
        value = self.document.number(
            root, key, owner="the spec", owner_position=(0, 0), default=None
        )
        return None if value is None else float(value)

    def choice(self, root: CommentedMap, key: str, choices: Any, default: str) -> str:
        value = self.document.text_field(root, key, f"{key!r}", default=default)
        if value not in choices:
            message = f"{key!r} must be one of {', '.join(choices)}, got {value!r}"
            raise self.document.value_error(root, key, message)
        return value

    def names(self, root: CommentedMap, key: str, what: str) -> tuple[str, ...]:
        """A name or a list of names; each remembered as ``what/<name>`` for later errors."""
        value = root[key]
        items = [Slot(root, key)] if isinstance(value, str) else None
        if isinstance(value, CommentedSeq):
            items = [Slot(value, index) for index in range(len(value))]
        if not items or not all(isinstance(slot.value, str) for slot in items):
            message = f"{key!r} must be a variable name or a list of them, got {describe(value)}"
            raise self.document.value_error(root, key, message)
        for slot in items:
            self.locations.setdefault(
                f"{what}/{slot.value}", self.document.location(slot.value_position)
            )
        return tuple(str(slot.value) for slot in items)

    def distribution(self, fields: CommentedMap, name: str) -> Distribution:
        """``{kind: {arguments}}`` (or ``{low:, high:}`` where a range is allowed)."""
        doc = self.document
        slot = Slot(fields, name)
        self.locations[f"parameter/{name}"] = doc.location(slot.key_position)
        spec = slot.value
        if isinstance(spec, CommentedMap) and set(spec) == {"low", "high"}:
            return self._built(slot, lambda: Uniform(spec["low"], spec["high"]))
        if not isinstance(spec, CommentedMap) or len(spec) != 1:
            raise doc.error(
                f"parameter {name!r}: give one distribution, e.g. "
                f"'{{normal: {{mean: 1, sd: 0.1}}}}', got {describe(spec)}",
                slot.value_position,
            )
        (kind,) = spec
        arguments = doc.mapping(Slot(spec, kind), f"the {kind} distribution of {name!r}")
        for key in arguments:
            if not _is_number_or_infinity(arguments[key]):
                message = f"{key!r} must be a number, got {describe(arguments[key])}"
                raise doc.value_error(arguments, key, message)
        return self._built(slot, lambda: make_distribution(str(kind), dict(arguments)))

    def _built(self, slot: Slot, make: Any) -> Distribution:
        try:
            return make()  # type: ignore[no-any-return]
        except ModelError as exc:
            raise self.document.error(
                f"parameter {slot.key!r}: {exc}", slot.value_position
            ) from None

    def distributions(self, root: CommentedMap, key: str) -> dict[str, Distribution]:
        if root.get(key) is None:
            raise self.document.error(f"the spec needs {key!r}", (0, 0))
        fields = self.document.mapping(Slot(root, key), f"{key!r}")
        if not fields:
            raise self.document.value_error(root, key, f"{key!r} names no parameters")
        return {str(name): self.distribution(fields, name) for name in fields}

    def run_options(self, root: CommentedMap) -> dict[str, Any]:
        options: dict[str, Any] = dict(read_clock(self.document, root))
        method = read_integration(self.document, root, "integration")
        if method is not None:
            options["method"] = method
        if root.get("scenario") is not None:
            scenario = self.document.text_field(root, "scenario", "'scenario'")
            options["scenario"] = self.path.parent / scenario
        return options

    def seed(self, root: CommentedMap) -> int | None:
        return self.whole(root, "seed", None, 0)  # type: ignore[no-any-return]


class _MonteCarloReader(_Reader):
    def read(self, root: CommentedMap) -> MonteCarloSpec:
        doc = self.document
        doc.check_keys(root, _MONTECARLO_KEYS, "a Monte Carlo spec")
        return MonteCarloSpec(
            name=doc.text_field(root, "montecarlo", "'montecarlo'", default=self.path.stem),
            description=doc.text_field(root, "description", "'description'"),
            distributions=self.distributions(root, "distributions"),
            runs=self.whole(root, "runs", 1000, 1),
            seed=self.seed(root),
            sampling=self.choice(root, "sampling", tuple(SAMPLERS), "random"),
            outputs=self.names(root, "outputs", "output") if root.get("outputs") else None,
            percentiles=self._percentiles(root),
            run_options=self.run_options(root),
            path=str(self.path),
            locations=self.locations,
        )

    def _percentiles(self, root: CommentedMap) -> tuple[float, ...]:
        value = root.get("percentiles")
        if value is None:
            return DEFAULT_PERCENTILES
        if not (
            isinstance(value, CommentedSeq)
            and value
            and all(is_number(v) and 0 <= v <= 100 for v in value)
        ):
            message = (
                f"'percentiles' must be a list of numbers from 0 to 100, got {describe(value)}"
            )
            raise self.document.value_error(root, "percentiles", message)
        return tuple(float(v) for v in value)


class _SensitivityReader(_Reader):
    def read(self, root: CommentedMap) -> SensitivitySpec:
        doc = self.document
        doc.check_keys(root, _SENSITIVITY_KEYS, "a sensitivity spec")
        method = self.choice(root, "method", tuple(SENSITIVITY_METHODS), "oat")
        if root.get("output") is None:
            raise doc.error("a sensitivity spec needs an 'output' variable", (0, 0))
        output = doc.text_field(root, "output", "'output'")
        self.locations[f"output/{output}"] = doc.location(Slot(root, "output").value_position)
        return SensitivitySpec(
            name=doc.text_field(root, "sensitivity", "'sensitivity'", default=self.path.stem),
            description=doc.text_field(root, "description", "'description'"),
            method=method,
            parameters=self.distributions(root, "parameters"),
            output=output,
            statistic=self._statistic(root),
            options=self._method_options(root, method),
            run_options=self.run_options(root),
            path=str(self.path),
            locations=self.locations,
        )

    def _statistic(self, root: CommentedMap) -> Any:
        doc = self.document
        name = doc.text_field(root, "statistic", "'statistic'", default="final")
        if root.get("window") is None:
            statistic: Any = name
        else:
            window = root["window"]
            if not (
                isinstance(window, CommentedSeq)
                and len(window) == 2
                and all(map(is_number, window))
            ):
                message = f"'window' must be [start, end], got {describe(window)}"
                raise doc.value_error(root, "window", message)
            statistic = (name, float(window[0]), float(window[1]))
        try:
            parse_summaries([statistic])
        except ModelError as exc:
            key = "statistic" if "statistic" in root else "window"
            raise doc.value_error(root, key, str(exc)) from None
        return statistic

    def _method_options(self, root: CommentedMap, method: str) -> dict[str, Any]:
        """``samples``, ``levels``, ``second_order``, ``seed``, ``confidence`` for the method."""
        doc = self.document
        allowed = {
            "oat": (),
            "sobol": ("samples", "second_order", "seed", "confidence"),
            "morris": ("samples", "levels", "seed", "confidence"),
        }[method]
        for key in ("samples", "levels", "second_order", "seed", "confidence"):
            if root.get(key) is not None and key not in allowed:
                message = f"{key!r} does not apply to the {method} method"
                raise doc.error(message, Slot(root, key).key_position)
        options: dict[str, Any] = {}
        if root.get("samples") is not None:
            samples = self.whole(root, "samples", None, 2)
            if method == "sobol" and samples & (samples - 1):
                message = f"'samples' must be a power of two for Sobol' indices, got {samples}"
                raise doc.value_error(root, "samples", message)
            options["samples" if method == "sobol" else "trajectories"] = samples
        if root.get("levels") is not None:
            options["levels"] = self.whole(root, "levels", None, 2)
            if options["levels"] % 2:
                raise doc.value_error(root, "levels", "'levels' must be an even number")
        if root.get("second_order") is not None:
            options["second_order"] = doc.boolean(root, "second_order")
        if root.get("seed") is not None:
            options["seed"] = self.seed(root)
        if root.get("confidence") is not None:
            options["confidence"] = self.number(root, "confidence")
            if not 0 < options["confidence"] < 1:
                message = "'confidence' must be between 0 and 1 (e.g. 0.95)"
                raise doc.value_error(root, "confidence", message)
        return options
