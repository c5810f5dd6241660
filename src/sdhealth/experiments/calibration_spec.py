"""Calibration spec files: a calibration written down in YAML, read strictly.

Calibration specs for ``sdhealth calibrate`` are YAML (:func:`read_calibration_spec`)::

    calibration: NHS England 2023-2024        # a name (optional)
    data: data/observed.csv                   # relative to this file
    time_column: date                         # optional
    start_date: 2023-01-01                    # date of model time 0, when the times are dates
    parameters:                               # name: [low, high] or {initial, low, high}
      Removal fraction: [0.025, 0.04]
      Time to admit at low occupancy: {initial: 1.7, low: 1, high: 3}
    series:                                   # data column: variable, or {variable, weight}
      rtt_waiting_list: RTT waiting list
      occupancy: {variable: Bed occupancy, weight: 2}
    method: trf                               # or dogbox
    max_evaluations: 60
    stop: 24                                  # optional run settings: start, stop, dt

Every format error is reported at ``file:line:col`` before any run; names the model lacks are
found by :meth:`CalibrationSpec.validate`, where they are written. The fitting itself is
:func:`sdhealth.experiments.calibration.calibrate`.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sdhealth.errors import ModelError, UnknownNameError, format_location
from sdhealth.experiments.calibration import METHODS, calibrate, fit_parameter
from sdhealth.experiments.calibration_result import CalibrationResult
from sdhealth.experiments.spec_fields import read_clock
from sdhealth.io.yaml_documents import parse_yaml_mapping, read_text_file
from sdhealth.io.yaml_nodes import Document, Slot, describe, is_number
from sdhealth.ir.model import SourceLocation

if TYPE_CHECKING:
    from sdhealth.experiments.runnable import RunnableModel

__all__ = ["CalibrationSpec", "read_calibration_spec"]

#: The run settings a calibration spec may give (saveper follows the data's dates).
_RUN_KEYS = ("start", "stop", "dt")
_SPEC_KEYS = (
    "calibration", "description", "data", "time_column", "start_date", "parameters", "series",
    "method", "max_evaluations", *_RUN_KEYS,
)  # fmt: skip


@dataclass(frozen=True)
class CalibrationSpec:
    """A calibration read from YAML (see the module docstring), ready for :meth:`calibrate`.

    ``parameters`` and ``series`` are in the form :func:`calibrate` takes; ``locations`` say
    where each parameter and variable name was written, for errors.
    """

    name: str
    data: Path
    parameters: Mapping[str, Any]
    series: Mapping[str, Any]
    start_date: str | None = None
    time_column: str | None = None
    method: str = "trf"
    max_evaluations: int = 100
    run: Mapping[str, float] = field(default_factory=dict)
    path: str | None = None
    locations: Mapping[str, SourceLocation] = field(default_factory=dict, compare=False)

    def _located(self, key: str, exc: ModelError) -> ModelError:
        where = self.locations.get(key)
        prefix = ""
        if where is not None:
            prefix = format_location(where.path, where.line, where.column) + ": "
        error = UnknownNameError if isinstance(exc, UnknownNameError) else ModelError
        return error(f"{prefix}{exc}")

    def validate(self, model: RunnableModel) -> None:
        """Raise on a parameter or variable the model lacks, at the spec's ``file:line:col``."""
        for name, bounds in self.parameters.items():
            try:
                fit_parameter(model, name, bounds)
            except ModelError as exc:
                raise self._located(f"parameters/{name}", exc) from None
        for column, target in self.series.items():
            variable = target if isinstance(target, str) else target["variable"]
            if variable not in model.ir:
                unknown = UnknownNameError.of(variable, model.ir.names, role="model variable")
                raise self._located(f"series/{column}", unknown) from None

    def calibrate(self, model: RunnableModel, *, progress: bool | None = None) -> CalibrationResult:
        """Check the spec against ``model`` and run :func:`calibrate`."""
        self.validate(model)
        return calibrate(
            model,
            self.data,
            self.parameters,
            self.series,
            start_date=self.start_date,
            time_column=self.time_column,
            method=self.method,
            max_evaluations=self.max_evaluations,
            progress=progress,
            start=self.run.get("start"),
            stop=self.run.get("stop"),
            dt=self.run.get("dt"),
        )


def read_calibration_spec(path: str | os.PathLike[str]) -> CalibrationSpec:
    """Read a calibration spec (YAML); every format error is reported at ``file:line:col``."""
    text = read_text_file(path, "calibration spec")
    document = Document.of(text, str(path))
    root = parse_yaml_mapping(text, document, "calibration spec")
    return _SpecReader(document, Path(path)).read(root)


@dataclass
class _SpecReader:
    document: Document
    path: Path
    locations: dict[str, SourceLocation] = field(default_factory=dict)

    def read(self, root: CommentedMap) -> CalibrationSpec:
        doc = self.document
        doc.check_keys(root, _SPEC_KEYS, "a calibration spec")
        for key in ("data", "parameters", "series"):
            if root.get(key) is None:
                raise doc.error(f"a calibration spec needs {key!r}", (0, 0))
        run = read_clock(doc, root, _RUN_KEYS)
        return CalibrationSpec(
            name=doc.text_field(root, "calibration", "'calibration'", default=self.path.stem),
            data=self.path.parent / doc.text_field(root, "data", "'data'"),
            parameters=self._parameters(root),
            series=self._series(root),
            start_date=self._start_date(root),
            time_column=doc.text_field(root, "time_column", "'time_column'") or None,
            method=self._method(root),
            max_evaluations=self._max_evaluations(root),
            run=run,
            path=str(self.path),
            locations=self.locations,
        )

    def _start_date(self, root: CommentedMap) -> str | None:
        value = root.get("start_date")
        if value is None:
            return None
        if isinstance(value, datetime.date):
            return value.isoformat()[:10]
        text = self.document.text_field(root, "start_date", "'start_date'")
        try:
            pd.Timestamp(text)
        except ValueError:
            message = f"'start_date' must be a date (YYYY-MM-DD), got {text!r}"
            raise self.document.value_error(root, "start_date", message) from None
        return text

    def _method(self, root: CommentedMap) -> str:
        method = self.document.text_field(root, "method", "'method'", default="trf")
        if method not in METHODS:
            message = f"'method' must be {' or '.join(METHODS)}, got {method!r}"
            raise self.document.value_error(root, "method", message)
        return method

    def _max_evaluations(self, root: CommentedMap) -> int:
        value = root.get("max_evaluations", 100)
        if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            message = f"'max_evaluations' must be a positive whole number, got {describe(value)}"
            raise self.document.value_error(root, "max_evaluations", message)
        return int(value)

    def _parameters(self, root: CommentedMap) -> dict[str, Any]:
        doc = self.document
        fields = doc.mapping(Slot(root, "parameters"), "'parameters'")
        parameters: dict[str, Any] = {}
        for name in fields:
            slot = Slot(fields, name)
            self.locations[f"parameters/{name}"] = doc.location(slot.key_position)
            value = slot.value
            if isinstance(value, CommentedSeq) and len(value) == 2 and all(map(is_number, value)):
                parameters[str(name)] = (float(value[0]), float(value[1]))
            elif isinstance(value, CommentedMap):
                doc.check_keys(value, ("initial", "low", "high"), f"parameter {name!r}")
                for key in ("low", "high"):
                    doc.required(value, key, slot, "parameter")
                parameters[str(name)] = {
                    key: doc.number(value, key, owner=f"parameter {name!r}", owner_position=(0, 0))
                    for key in value
                }
            else:
                raise doc.error(
                    f"parameter {name!r} needs [low, high] or {{initial, low, high}}, "
                    f"got {describe(value)}",
                    slot.value_position,
                )
        return parameters

    def _series(self, root: CommentedMap) -> dict[str, Any]:
        doc = self.document
        fields = doc.mapping(Slot(root, "series"), "'series'")
        series: dict[str, Any] = {}
        for column in fields:
            slot = Slot(fields, column)
            self.locations[f"series/{column}"] = doc.location(slot.value_position)
            value = slot.value
            if isinstance(value, str):
                series[str(column)] = str(value)
            elif isinstance(value, CommentedMap):
                doc.check_keys(value, ("variable", "weight"), f"series {column!r}")
                doc.required(value, "variable", slot, "series")
                weight = doc.number(value, "weight", owner="", owner_position=(0, 0), default=1.0)
                if not weight > 0:
                    raise doc.value_error(
                        value, "weight", f"'weight' must be positive, got {weight:g}"
                    )
                variable = doc.text_field(value, "variable", "'variable'")
                series[str(column)] = {"variable": variable, "weight": weight}
            else:
                raise doc.error(
                    f"series {column!r} needs a model variable or {{variable, weight}}, "
                    f"got {describe(value)}",
                    slot.value_position,
                )
        return series
