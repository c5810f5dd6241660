"""The link settings of a causal-loop diagram: how a link enters a standard formulation.

A link of a :class:`~sdhealth.cld.CausalLoopDiagram` may carry ``elasticity``, ``lookup``
(an effect curve), ``delay_time`` and ``delay_order`` (see :mod:`sdhealth.cld.compile` for the
formulations they make). :func:`link_settings` reads them into a :class:`LinkSettings`;
:func:`effect_curve_problem` and the checks here say what is wrong with them, in the words
the diagram's author used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from sdhealth.cld.diagram import NodeKind
from sdhealth.cld.forms import lookup_direction

__all__ = [
    "FORMULATED",
    "delay_time_name",
    "effect_name",
    "reference_name",
    "DEFAULT_ELASTICITY",
    "DELAY_ORDERS",
    "LinkSettings",
    "SETTING_KEYS",
    "effect_curve_problem",
    "link_settings",
]

_SIGN = {1: "+", -1: "-", 0: "?"}

#: The elasticity of a link that does not state one.
DEFAULT_ELASTICITY = 1.0
#: Orders of the information delays a delay-marked link can have (SMOOTH, SMOOTH3).
DELAY_ORDERS = (1, 3)


@dataclass(frozen=True)
class LinkSettings:
    """How a link enters a standard formulation (the link attributes of the YAML format).

    ``elasticity`` is the power law's exponent size (its sign is the polarity); ``lookup``
    the ``(x, y)`` points of an effect curve of the input relative to its reference, used
    instead of the power law; ``delay_time`` and ``delay_order`` the information delay of a
    delay-marked link.
    """

    elasticity: float = DEFAULT_ELASTICITY
    lookup: tuple[tuple[float, float], ...] | None = None
    delay_time: float | None = None
    delay_order: int = 1


#: The link attributes that make up :class:`LinkSettings`.
SETTING_KEYS = ("elasticity", "lookup", "delay_time", "delay_order")


def is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def positive_number(value: object) -> TypeGuard[float]:
    return is_number(value) and value > 0


def effect_curve_problem(points: Sequence[Sequence[float]], polarity: int) -> str | None:
    """What is wrong with an effect curve for a link of this polarity, or None.

    An effect curve needs at least two ``(x, y)`` points with x strictly increasing, must be
    monotone in the direction of the polarity (never falling for ``+``, never rising for
    ``-``, and not flat) and must pass through ``(1, 1)``: an input at its reference value
    has no effect.

    >>> effect_curve_problem([(0, 0), (1, 1), (2, 1.5)], +1) is None
    True
    >>> effect_curve_problem([(0, 0), (1, 1), (2, 1.5)], -1)
    "the curve rises, but the link's polarity is '-': it must never rise"
    >>> effect_curve_problem([(0, 2), (2, 0)], -1) is None
    True
    """
    if len(points) < 2:
        return "an effect curve needs at least two [x, y] points"
    xs = np.array([float(x) for x, _ in points])
    ys = np.array([float(y) for _, y in points])
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        return "an effect curve's points must be finite numbers"
    if not (np.diff(xs) > 0).all():
        return "the x-values of an effect curve must increase strictly"
    direction = lookup_direction(ys.tolist())
    if direction != polarity:
        if direction == 0:
            shape = "is flat" if np.ptp(ys) == 0 else "rises and falls"
        else:
            shape = "rises" if direction > 0 else "falls"
        rule = "never fall" if polarity > 0 else "never rise"
        return f"the curve {shape}, but the link's polarity is {_SIGN[polarity]!r}: it must {rule}"
    at_reference = float(np.interp(1.0, xs, ys))
    if abs(at_reference - 1.0) > 1e-9:
        return (
            f"an effect curve must pass through (1, 1) -- an input at its reference value has "
            f"no effect -- but it gives {at_reference:g} at x = 1"
        )
    return None


def settings_problems(data: Mapping[str, Any], polarity: int, delay: bool) -> list[str]:
    problems: list[str] = []
    elasticity = data.get("elasticity")
    if elasticity is not None and not positive_number(elasticity):
        problems.append(f"elasticity must be a positive number, got {elasticity!r}")
    lookup = data.get("lookup")
    if lookup is not None:
        if elasticity is not None:
            problems.append("give either an elasticity or a lookup, not both")
        if not _is_points(lookup):
            problems.append(f"lookup must be a list of [x, y] number pairs, got {lookup!r}")
        else:
            curve = effect_curve_problem(lookup, polarity) if polarity else None
            problems.extend([curve] if curve else [])
    delay_time, order = data.get("delay_time"), data.get("delay_order")
    if (delay_time is not None or order is not None) and not delay:
        problems.append("delay_time and delay_order need the link to be marked delayed")
    if delay_time is not None and not positive_number(delay_time):
        problems.append(f"delay_time must be a positive number, got {delay_time!r}")
    if order is not None and (isinstance(order, bool) or order not in DELAY_ORDERS):
        problems.append(f"delay_order must be 1 or 3, got {order!r}")
    return problems


def _is_points(value: object) -> TypeGuard[Sequence[Sequence[float]]]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return False
    return all(
        isinstance(point, Sequence)
        and not isinstance(point, str)
        and len(point) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
        for point in value
    )


def link_settings(data: Mapping[str, Any]) -> LinkSettings:
    """The :class:`LinkSettings` of a link's attributes, defaults filled in.

    Invalid values also give the defaults: compilation reports them before it builds.

    >>> link_settings({"elasticity": 0.5, "delay_time": 3})
    LinkSettings(elasticity=0.5, lookup=None, delay_time=3.0, delay_order=1)
    """
    elasticity, lookup = data.get("elasticity"), data.get("lookup")
    delay_time, order = data.get("delay_time"), data.get("delay_order")
    return LinkSettings(
        elasticity=float(elasticity) if positive_number(elasticity) else DEFAULT_ELASTICITY,
        lookup=tuple((float(x), float(y)) for x, y in lookup) if _is_points(lookup) else None,
        delay_time=float(delay_time) if positive_number(delay_time) else None,
        delay_order=order if order in DELAY_ORDERS and not isinstance(order, bool) else 1,
    )


def has_settings(data: Mapping[str, Any]) -> bool:
    return any(data.get(key) is not None for key in SETTING_KEYS)


#: The node kinds that get a formulation (an equation) of their own.
FORMULATED = (NodeKind.FLOW, NodeKind.AUXILIARY)


def reference_name(node: str) -> str:
    """The name of the generated constant holding ``node``'s reference value."""
    return f"Reference {node}"


def effect_name(source: str, target: str) -> str:
    """The name of the generated lookup of a link's effect curve."""
    return f"Effect of {source} on {target}"


def delay_time_name(source: str, target: str) -> str:
    """The name of the generated constant holding a delayed link's delay time."""
    return f"Delay time of {source} on {target}"
