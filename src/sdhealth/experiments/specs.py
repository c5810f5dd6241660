"""Sweep spec files: a parameter sweep written down in YAML, read strictly.

The format (every key optional except one of ``parameters``, ``table``, ``scenarios``)::

    sweep: Beds versus social care                # a name (default: the file's name)
    description: ...
    model: NHS England                            # the model it was written for (a note)
    parameters:                                   # a grid: every combination, first slowest
      G&A beds: [95000, 100000, 105000]           #   a list of values
      Care capacity expansion: {from: 0, to: 0.1, steps: 5}   # evenly spaced, ends included
    table: runs.csv                               # or: one run per row (columns = parameters)
    scenarios:                                    # each scenario is run with every grid row
      - ../scenarios/P1_extra_beds.yaml
      - ../scenarios/P4_care_capacity.yaml
    outputs: [RTT waiting list, Bed occupancy]    # default: every variable
    summary: [final, peak, time_of_peak, {mean: [24, 60]}]   # default: full time series
    start: 0                                      # start, stop, dt, saveper: the model's
    stop: 60                                      # clock unless given
    method: euler                                 # euler, rk2 or rk4

Paths (``table``, ``scenarios``) are relative to the spec file. ``parameters`` and ``table``
exclude each other. Summaries are the names of
:data:`~sdhealth.experiments.summaries.STATISTICS`, or ``{name: [start, end]}`` for a window.

Format errors (unknown keys, wrong types, an empty list or range, values that are not
numbers, an unknown summary) are :class:`~sdhealth.errors.ModelSyntaxError` at
``file:line:col``. Names the model lacks are found by :meth:`SweepSpec.validate`, reported
where they are written, with the nearest names -- all before any run starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sdhealth.errors import ModelError, ModelSyntaxError, UnknownNameError
from sdhealth.experiments.scenarios import Scenario, load_scenario
from sdhealth.experiments.spec_fields import INTEGRATION_METHODS, read_clock, read_integration
from sdhealth.experiments.summaries import Summary
from sdhealth.io.yaml_documents import read_yaml_mapping
from sdhealth.io.yaml_nodes import Document, Slot, describe, is_number
from sdhealth.ir.model import SourceLocation

__all__ = ["SweepSpec", "load_sweep_spec", "METHODS"]

_TOP_KEYS = (
    "sweep", "description", "model", "parameters", "table", "scenarios", "outputs", "summary",
    "start", "stop", "dt", "saveper", "method",
)  # fmt: skip
_RANGE_KEYS = ("from", "to", "steps")
METHODS = INTEGRATION_METHODS


@dataclass(frozen=True, eq=False)
class SweepSpec:
    """A sweep read from a spec file (see the module docstring); run it with :meth:`run`."""

    name: str
    description: str = ""
    grid: dict[str, tuple[float, ...]] | None = None
    table: pd.DataFrame | None = None
    scenarios: tuple[Scenario, ...] = ()
    outputs: tuple[str, ...] | None = None
    summary: tuple[Summary, ...] | None = None
    clock: dict[str, float] = field(default_factory=dict)
    method: str | None = None
    path: str | None = None
    locations: dict[str, SourceLocation] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        """How many runs the sweep makes."""
        rows = 1
        if self.grid is not None:
            rows = int(np.prod([len(values) for values in self.grid.values()]))
        elif self.table is not None:
            rows = len(self.table)
        return rows * max(1, len(self.scenarios))

    def validate(self, model: Any) -> None:
        """Raise if a parameter or output is not in ``model`` (``sdhealth.Model`` or IR model).

        The message starts with the spec's ``file:line:col`` where the name is written.
        """
        from sdhealth.experiments.policies import constant_named

        ir = getattr(model, "ir", model)
        names = list(self.grid or ())
        if self.table is not None:
            names += [str(column) for column in self.table.columns]
        for name in names:
            self._located(name, lambda n: constant_named(ir, n))
        for name in self.outputs or ():
            self._located(name, lambda n: _output_named(ir, n), f"output {name}")
        for scenario in self.scenarios:
            scenario.validate(ir)

    def _located(self, name: str, check: Any, where_key: str | None = None) -> None:
        try:
            check(name)
        except ModelError as exc:
            where = self.locations.get(where_key or name)
            prefix = "" if where is None else f"{where.path}:{where.line}:{where.column}: "
            error = UnknownNameError if isinstance(exc, UnknownNameError) else ModelError
            raise error(f"{prefix}{exc}") from None

    def run(self, model: Any, *, progress: bool | None = None, executor: Any = None) -> Any:
        """Run the sweep on ``model`` (a :class:`sdhealth.Model`) and return its ``Dataset``."""
        self.validate(model)
        spec: Any = self.table if self.table is not None else self.grid
        return model.sweep(
            spec, scenarios=list(self.scenarios) or None, return_columns=self.outputs,
            summary=self.summary, method=self.method, progress=progress, executor=executor,
            **self.clock,
        )  # fmt: skip


def _output_named(model: Any, name: str) -> None:
    if name not in model:
        raise UnknownNameError.of(name, model.names, role="output")


def load_sweep_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read a sweep spec file (format in the module docstring).

    Raises
    ------
    ModelSyntaxError
        With ``file:line:col`` for every format error.
    """
    document, root = read_yaml_mapping(path, "sweep spec")
    return _SpecReader(document, Path(path).parent).read(root, Path(path).stem)


@dataclass
class _SpecReader:
    document: Document
    folder: Path
    locations: dict[str, SourceLocation] = field(default_factory=dict)

    def read(self, root: CommentedMap, default_name: str) -> SweepSpec:
        doc = self.document
        doc.check_keys(root, _TOP_KEYS, "a sweep spec")
        if "parameters" in root and "table" in root:
            raise doc.error(
                "give either 'parameters' (a grid) or 'table' (a CSV of runs), not both",
                Slot(root, "table").key_position,
            )
        if not any(root.get(key) is not None for key in ("parameters", "table", "scenarios")):
            raise doc.error("a sweep spec needs 'parameters', 'table' or 'scenarios'", (0, 0))
        return SweepSpec(
            name=doc.text_field(root, "sweep", "'sweep'", default=default_name),
            description=doc.text_field(root, "description", "'description'"),
            grid=self._grid(root),
            table=self._table(root),
            scenarios=self._scenarios(root),
            outputs=self._outputs(root),
            summary=self._summary(root),
            clock=read_clock(self.document, root),
            method=read_integration(self.document, root, "method"),
            path=doc.path,
            locations=self.locations,
        )

    # -- parameters ---------------------------------------------------------------------

    def _grid(self, root: CommentedMap) -> dict[str, tuple[float, ...]] | None:
        if "parameters" not in root:
            return None
        grid = self.document.mapping(Slot(root, "parameters"), "'parameters'")
        if not grid:
            raise self.document.error(
                "'parameters' is empty: give at least one", Slot(root, "parameters").key_position
            )
        values = {}
        for name in grid:
            slot = Slot(grid, name)
            self.locations[str(name)] = self.document.location(slot.key_position)
            values[str(name)] = self._values(slot)
        return values

    def _values(self, slot: Slot) -> tuple[float, ...]:
        doc, value = self.document, slot.value
        if isinstance(value, CommentedMap):
            return self._range(slot)
        if not isinstance(value, CommentedSeq):
            raise doc.error(
                f"parameter {slot.key!r} needs a list of values or {{from, to, steps}}, "
                f"got {describe(value)}",
                slot.value_position,
            )
        if not value:
            raise doc.error(
                f"parameter {slot.key!r} has an empty list of values", slot.key_position
            )
        for index, item in enumerate(value):
            if not is_number(item):
                raise doc.error(
                    f"parameter {slot.key!r}: values must be numbers, got {describe(item)}",
                    Slot(value, index).value_position,
                )
        return tuple(float(item) for item in value)

    def _range(self, slot: Slot) -> tuple[float, ...]:
        doc, fields = self.document, slot.value
        owner = f"the range of {slot.key!r}"
        doc.check_keys(fields, _RANGE_KEYS, owner)
        at = slot.key_position
        low = doc.number(fields, "from", owner=owner, owner_position=at)
        high = doc.number(fields, "to", owner=owner, owner_position=at)
        steps = doc.number(fields, "steps", owner=owner, owner_position=at)
        if steps != int(steps) or steps < 1:
            raise doc.value_error(
                fields, "steps", f"'steps' must be a whole number of at least 1, got {steps:g}"
            )
        if steps > 1 and low == high:
            raise doc.value_error(
                fields, "to", f"the range of {slot.key!r} is empty: 'from' equals 'to'"
            )
        return tuple(np.linspace(low, high, int(steps)).tolist())

    def _table(self, root: CommentedMap) -> pd.DataFrame | None:
        if "table" not in root:
            return None
        slot = Slot(root, "table")
        text = self.document.text_field(root, "table", "'table'")
        path = self.folder / text
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise self.document.error(
                f"cannot read the table {text!r}: {exc}", slot.value_position
            ) from None
        if frame.empty:
            raise self.document.error(f"the table {text!r} has no runs", slot.value_position)
        for column in frame.columns:
            self.locations[str(column)] = SourceLocation(str(path), 1, None)
            if frame[column].dtype.kind not in "iuf" or not np.isfinite(frame[column]).all():
                raise ModelSyntaxError(
                    f"column {column!r} of the table must hold numbers in every row", str(path), 1
                )
        return frame

    def _scenarios(self, root: CommentedMap) -> tuple[Scenario, ...]:
        if root.get("scenarios") is None:
            return ()
        items = root["scenarios"]
        slot = Slot(root, "scenarios")
        if not isinstance(items, CommentedSeq) or not items:
            raise self.document.error(
                f"'scenarios' must be a list of scenario files, got {describe(items)}",
                slot.value_position,
            )
        loaded = []
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise self.document.error(
                    f"a scenario is a file name, got {describe(item)}",
                    Slot(items, index).value_position,
                )
            loaded.append(load_scenario(self.folder / item))
        return tuple(loaded)

    # -- what to keep and how to run ----------------------------------------------------

    def _list(self, root: CommentedMap, key: str, what: str) -> list[tuple[Any, Any]]:
        """The items of a list under ``key`` (one text is a list of one) with their positions."""
        slot = Slot(root, key)
        items = slot.value
        if isinstance(items, str):
            return [(items, slot.value_position)]
        if not isinstance(items, CommentedSeq) or not items:
            raise self.document.error(
                f"'{key}' must be a list of {what}, got {describe(items)}", slot.value_position
            )
        return [(item, Slot(items, i).value_position) for i, item in enumerate(items)]

    def _outputs(self, root: CommentedMap) -> tuple[str, ...] | None:
        if root.get("outputs") is None:
            return None
        names = []
        for item, position in self._list(root, "outputs", "variable names"):
            if not isinstance(item, str):
                raise self.document.error(
                    f"an output is a variable name, got {describe(item)}", position
                )
            self.locations[f"output {item}"] = self.document.location(position)
            names.append(str(item))
        return tuple(names)

    def _summary(self, root: CommentedMap) -> tuple[Summary, ...] | None:
        if root.get("summary") is None:
            return None
        summaries: list[Summary] = []
        for item, position in self._list(root, "summary", "statistics"):
            try:
                summary = self._one_summary(item)
            except ModelError as exc:
                raise self.document.error(str(exc), position) from None
            if summary.label in (s.label for s in summaries):
                raise self.document.error(
                    f"summary {summary.label!r} is asked for more than once", position
                )
            summaries.append(summary)
        return tuple(summaries)

    @staticmethod
    def _one_summary(item: Any) -> Summary:
        if isinstance(item, str):
            return Summary(item)
        if isinstance(item, CommentedMap) and len(item) == 1:
            ((name, window),) = item.items()
            if (
                isinstance(window, CommentedSeq) and len(window) == 2
                and all(is_number(x) for x in window)
            ):  # fmt: skip
                return Summary(str(name), float(window[0]), float(window[1]))
        raise ModelError(
            f"a summary is a statistic name or {{name: [start, end]}}, got {describe(item)}"
        )
