"""Scenario files: parameter overrides and timed policies kept beside a model, in YAML.

A scenario is data -- what to change -- and is applied by ``Model.run(scenario=...)`` or
``sdhealth run MODEL --scenario FILE``. The format::

    scenario: P2 Ten per cent bed cut           # name (required)
    description: Cut G&A beds by 10% from month 12.
    params:                                     # constants for the whole run
      Elective demand growth: 0.02
    policies:                                   # timed changes, applied in order
      - step:  {target: G&A beds, by: -10000, at: 12}
      - ramp:  {target: Social care packages, by: 5000, start: 12, end: 36}
      - pulse: {target: Referrals, by: 200000, start: 3, width: 2}
      - table: {target: Nurse FTE target, points: [[0, 366000], [60, 400000]],
                interpolate: linear}             # or step

Reading is strict (unknown keys, wrong types: ``file:line:col``). Names are checked against a
model by :meth:`Scenario.validate`: an unknown parameter is an error naming it, where it is
written, and the nearest model names.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sdhealth.errors import ModelError, SdhealthError, UnknownNameError
from sdhealth.experiments.policies import Policy, constant_named, pulse, ramp, step, table
from sdhealth.io.yaml_documents import read_yaml_mapping
from sdhealth.io.yaml_nodes import Document, Slot, describe, is_number
from sdhealth.ir.model import Model, SourceLocation

__all__ = ["Scenario", "load_scenario"]

_TOP_KEYS = ("scenario", "description", "model", "params", "policies")

#: Policy kind -> (builder, required keys, optional keys).
_POLICY_KINDS: dict[str, tuple[Callable[..., Policy], tuple[str, ...], tuple[str, ...]]] = {
    "step": (step, ("target", "at"), ("to", "by")),
    "ramp": (ramp, ("target", "start", "end"), ("to", "by")),
    "pulse": (pulse, ("target", "start", "width", "by"), ()),
    "table": (table, ("target", "points"), ("interpolate",)),
}


@dataclass(frozen=True)
class Scenario:
    """Parameter values and policies for one run, with where each was written."""

    name: str
    description: str = ""
    params: tuple[tuple[str, float], ...] = ()
    policies: tuple[Policy, ...] = ()
    path: str | None = None
    model: str | None = None
    locations: dict[str, SourceLocation] = field(default_factory=dict, compare=False)

    @property
    def param_values(self) -> dict[str, float]:
        return dict(self.params)

    def validate(self, model: Model) -> None:
        """Raise if a parameter or policy target is not a constant of ``model``.

        The error starts with the scenario file's ``path:line:col`` of the offending name.
        """
        names = [name for name, _ in self.params] + [p.target for p in self.policies]
        for name in names:
            try:
                constant_named(model, name, role="parameter")
            except ModelError as exc:
                where = self.locations.get(name)
                prefix = ""
                if where is not None:
                    prefix = (
                        ":".join(
                            str(p) for p in (where.path, where.line, where.column) if p is not None
                        )
                        + ": "
                    )
                message = f"{prefix}scenario {self.name!r}: {exc}"
                error = UnknownNameError if isinstance(exc, UnknownNameError) else ModelError
                raise error(message) from None


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read a scenario file (see the module docs for the format)."""
    document, root = read_yaml_mapping(path, "scenario")
    return _ScenarioReader(document).read(root)


@dataclass
class _ScenarioReader:
    document: Document
    locations: dict[str, SourceLocation] = field(default_factory=dict)

    def read(self, root: CommentedMap) -> Scenario:
        doc = self.document
        doc.check_keys(root, _TOP_KEYS, "a scenario file")
        if root.get("scenario") is None:
            raise doc.error("a scenario file needs a 'scenario' name", (0, 0))
        return Scenario(
            name=doc.text_field(root, "scenario", "'scenario'"),
            description=doc.text_field(root, "description", "'description'"),
            params=self._params(root),
            policies=self._policies(root),
            path=doc.path,
            model=doc.text_field(root, "model", "'model'") or None,
            locations=self.locations,
        )

    def _params(self, root: CommentedMap) -> tuple[tuple[str, float], ...]:
        if root.get("params") is None:
            return ()
        params = self.document.mapping(Slot(root, "params"), "'params'")
        values = []
        for name in params:
            slot = Slot(params, name)
            if not is_number(slot.value):
                raise self.document.error(
                    f"parameter {name!r} must be a number, got {describe(slot.value)}",
                    slot.value_position,
                )
            self.locations[str(name)] = self.document.location(slot.key_position)
            values.append((str(name), float(slot.value)))
        return tuple(values)

    def _policies(self, root: CommentedMap) -> tuple[Policy, ...]:
        if root.get("policies") is None:
            return ()
        items = root["policies"]
        if not isinstance(items, CommentedSeq):
            raise self.document.error(
                f"'policies' must be a list, got {describe(items)}",
                Slot(root, "policies").value_position,
            )
        return tuple(self._policy(Slot(items, index)) for index in range(len(items)))

    def _policy(self, slot: Slot) -> Policy:
        doc = self.document
        item = slot.value
        if not isinstance(item, CommentedMap) or len(item) != 1:
            raise doc.error(
                "each policy is one of step/ramp/pulse/table with its settings, "
                f"e.g. '- step: {{target: Beds, by: 500, at: 12}}', got {describe(item)}",
                slot.value_position,
            )
        (kind,) = item
        if kind not in _POLICY_KINDS:
            doc.check_keys(item, tuple(_POLICY_KINDS), "a policy")
        builder, required, optional = _POLICY_KINDS[kind]
        fields = doc.mapping(Slot(item, kind), f"the {kind} policy")
        doc.check_keys(fields, required + optional, f"a {kind} policy")
        for key in required:
            doc.required(fields, key, Slot(item, kind), f"{kind} policy")
        arguments = {key: self._policy_value(fields, key) for key in fields}
        target = arguments.pop("target")
        self.locations.setdefault(target, doc.location(Slot(fields, "target").value_position))
        try:
            if kind == "table":
                return builder(target, arguments.pop("points"), **arguments)
            return builder(target, **arguments)
        except (ValueError, SdhealthError) as exc:
            raise doc.error(f"{kind} policy for {target!r}: {exc}", slot.value_position) from None

    def _policy_value(self, fields: CommentedMap, key: str) -> Any:
        doc = self.document
        value = fields[key]
        if key in ("target", "interpolate"):
            return doc.text_field(fields, key, f"{key!r}")
        if key == "points":
            if not isinstance(value, CommentedSeq) or not all(
                isinstance(p, CommentedSeq) and len(p) == 2 and all(map(is_number, p))
                for p in value
            ):
                raise doc.value_error(
                    fields,
                    key,
                    "'points' must be a list of [time, value] "
                    f"pairs of numbers, got {describe(value)}",
                )
            return [(float(t), float(v)) for t, v in value]
        if not is_number(value):
            raise doc.value_error(fields, key, f"{key!r} must be a number, got {describe(value)}")
        return float(value)
