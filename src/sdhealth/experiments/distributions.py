"""Parameter distributions for Monte Carlo and sensitivity experiments.

Each distribution is a frozen dataclass whose arguments are checked when it is made, so a bad
one (``sd <= 0``, ``low >= high``, a mode outside ``[low, high]``, a beta shape ``<= 0``) is a
:class:`~sdhealth.errors.ModelError` long before any run starts. Sampling and the quantile
function (``ppf``) are scipy.stats's; a seed (an ``int`` or a ``numpy.random.Generator``) makes
samples reproducible.

Distributions also map points of the unit hypercube (SALib's Sobol and Morris samples, Latin
hypercube samples) to parameter values through their quantile function:

- :meth:`Distribution.ppf` maps probabilities ``q`` in ``(0, 1)`` to values (Monte Carlo);
- :meth:`Distribution.bounds` is the finite range a sensitivity method explores: the support
  where it is bounded, else cut at a small tail probability (2.5% by default), and
  :meth:`Distribution.from_unit` spreads ``u`` in ``[0, 1]`` over that range by quantile.
  For a uniform distribution this is the plain linear map ``low + u * (high - low)``.

:data:`DISTRIBUTIONS` maps the names used in spec files (``uniform``, ``normal``,
``truncated_normal``, ``triangular``, ``lognormal``, ``beta``) to the classes.

>>> dist = Normal(mean=0.115, sd=0.01)
>>> sample = dist.sample(20_000, seed=1)
>>> round(float(sample.mean()), 3), round(float(sample.std()), 3)
(0.115, 0.01)
>>> Uniform(2.0, 4.0).from_unit([0.0, 0.5, 1.0]).tolist()
[2.0, 3.0, 4.0]
>>> Normal(mean=1.0, sd=-1.0)
Traceback (most recent call last):
    ...
sdhealth.errors.ModelError: normal distribution: 'sd' must be positive, got -1
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar

import numpy as np
from scipy import stats

from sdhealth.errors import ModelError

__all__ = [
    "Distribution",
    "Uniform",
    "Normal",
    "TruncatedNormal",
    "Triangular",
    "LogNormal",
    "Beta",
    "DISTRIBUTIONS",
    "DEFAULT_TAIL",
    "Seed",
    "make_distribution",
    "random_generator",
]

#: Tail probability at which an unbounded end of a distribution is cut for sensitivity ranges.
DEFAULT_TAIL = 0.025

Seed = int | np.random.Generator | None


def random_generator(seed: Seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed, a Generator (used as is) or ``None``.

    Raises
    ------
    ModelError
        ``seed`` is not a non-negative integer, a Generator or ``None``.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
    ):
        raise ModelError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(seed)


def _number(kind: str, name: str, value: Any, *, allow_infinite: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ModelError(f"{kind} distribution: {name!r} must be a number, got {value!r}")
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not allow_infinite):
        raise ModelError(f"{kind} distribution: {name!r} must be a finite number, got {value!r}")
    return number


@dataclass(frozen=True)
class Distribution(ABC):
    """A parameter distribution: validated arguments, scipy's sampling and quantiles."""

    #: The name used in spec files (``normal: {mean: ..., sd: ...}``).
    kind: ClassVar[str] = ""
    #: Arguments that may be infinite (open ends).
    _infinite_allowed: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for field in fields(self):
            value = _number(
                self.kind,
                field.name,
                getattr(self, field.name),
                allow_infinite=field.name in self._infinite_allowed,
            )
            object.__setattr__(self, field.name, value)
        self._validate()

    @abstractmethod
    def _validate(self) -> None:
        """Raise :class:`ModelError` if the arguments do not make a distribution."""

    @abstractmethod
    def frozen(self) -> Any:
        """The scipy.stats frozen distribution."""

    def _fail(self, message: str) -> ModelError:
        return ModelError(f"{self.kind} distribution: {message}")

    def _positive(self, *names: str) -> None:
        for name in names:
            value = getattr(self, name)
            if not value > 0:
                raise self._fail(f"{name!r} must be positive, got {value:g}")

    def _ordered(self, low: str = "low", high: str = "high") -> None:
        lo, hi = getattr(self, low), getattr(self, high)
        if not lo < hi:
            raise self._fail(f"{low!r} ({lo:g}) must be below {high!r} ({hi:g})")

    @property
    def arguments(self) -> dict[str, float]:
        """The arguments by name, e.g. ``{"mean": 0.1, "sd": 0.01}``."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def describe(self) -> str:
        """A one-line description, e.g. ``normal(mean=0.115, sd=0.01)``."""
        shown = ", ".join(f"{name}={value:g}" for name, value in self.arguments.items())
        return f"{self.kind}({shown})"

    def moments(self) -> tuple[float, float]:
        """The mean and the standard deviation."""
        frozen = self.frozen()
        return float(frozen.mean()), float(frozen.std())

    @property
    def support(self) -> tuple[float, float]:
        """The smallest and largest possible values (may be infinite)."""
        low, high = self.frozen().support()
        return float(low), float(high)

    def sample(self, size: int, seed: Seed = None) -> np.ndarray:
        """``size`` independent draws; the same int seed gives the same draws."""
        return np.asarray(
            self.frozen().rvs(size=size, random_state=random_generator(seed)), dtype=float
        )

    def ppf(self, q: Any) -> np.ndarray:
        """The quantile function (inverse CDF) at probabilities ``q``."""
        return np.asarray(self.frozen().ppf(np.asarray(q, dtype=float)), dtype=float)

    def bounds(self, tail: float = DEFAULT_TAIL) -> tuple[float, float]:
        """The finite range sensitivity methods explore (see the module docstring)."""
        low_q, high_q = self._quantile_range(tail)
        low, high = self.ppf([low_q, high_q])
        return float(low), float(high)

    def from_unit(self, u: Any, tail: float = DEFAULT_TAIL) -> np.ndarray:
        """Map ``u`` in ``[0, 1]`` over :meth:`bounds` by quantile (SALib's unit samples)."""
        low_q, high_q = self._quantile_range(tail)
        unit = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        return self.ppf(low_q + unit * (high_q - low_q))

    def _quantile_range(self, tail: float) -> tuple[float, float]:
        if not 0 < tail < 0.5:
            raise ModelError(f"tail probability must be in (0, 0.5), got {tail!r}")
        low, high = self.support
        return (0.0 if math.isfinite(low) else tail), (1.0 if math.isfinite(high) else 1 - tail)


@dataclass(frozen=True)
class Uniform(Distribution):
    """Every value in ``[low, high]`` equally likely."""

    low: float
    high: float
    kind: ClassVar[str] = "uniform"

    def _validate(self) -> None:
        self._ordered()

    def frozen(self) -> Any:
        return stats.uniform(loc=self.low, scale=self.high - self.low)


@dataclass(frozen=True)
class Normal(Distribution):
    """The normal (Gaussian) distribution with ``mean`` and standard deviation ``sd``."""

    mean: float
    sd: float
    kind: ClassVar[str] = "normal"

    def _validate(self) -> None:
        self._positive("sd")

    def frozen(self) -> Any:
        return stats.norm(loc=self.mean, scale=self.sd)


@dataclass(frozen=True)
class TruncatedNormal(Distribution):
    """A normal distribution (``mean``, ``sd`` before truncation) cut to ``[low, high]``.

    ``low`` or ``high`` may be infinite (``-inf``/``inf``) for a one-sided cut, e.g. a
    normal that cannot go below zero.
    """

    mean: float
    sd: float
    low: float
    high: float
    kind: ClassVar[str] = "truncated_normal"
    _infinite_allowed: ClassVar[tuple[str, ...]] = ("low", "high")

    def _validate(self) -> None:
        self._positive("sd")
        self._ordered()

    def frozen(self) -> Any:
        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        return stats.truncnorm(a, b, loc=self.mean, scale=self.sd)


@dataclass(frozen=True)
class Triangular(Distribution):
    """The triangular distribution on ``[low, high]`` with its peak at ``mode``."""

    low: float
    mode: float
    high: float
    kind: ClassVar[str] = "triangular"

    def _validate(self) -> None:
        self._ordered()
        if not self.low <= self.mode <= self.high:
            raise self._fail(
                f"'mode' ({self.mode:g}) must lie in [low, high] = [{self.low:g}, {self.high:g}]"
            )

    def frozen(self) -> Any:
        width = self.high - self.low
        return stats.triang((self.mode - self.low) / width, loc=self.low, scale=width)


@dataclass(frozen=True)
class LogNormal(Distribution):
    """The log-normal distribution: ``log(X)`` is normal with mean ``mu`` and sd ``sigma``.

    Use :meth:`from_mean_sd` to give the mean and standard deviation of ``X`` itself.
    """

    mu: float
    sigma: float
    kind: ClassVar[str] = "lognormal"

    def _validate(self) -> None:
        self._positive("sigma")

    def frozen(self) -> Any:
        return stats.lognorm(s=self.sigma, scale=math.exp(self.mu))

    @classmethod
    def from_mean_sd(cls, mean: float, sd: float) -> LogNormal:
        """The log-normal whose values have this ``mean`` (> 0) and ``sd`` (> 0).

        >>> dist = LogNormal.from_mean_sd(2.0, 0.5)
        >>> [round(value, 12) for value in dist.moments()]
        [2.0, 0.5]
        """
        mean = _number(cls.kind, "mean", mean)
        sd = _number(cls.kind, "sd", sd)
        if not mean > 0:
            raise ModelError(f"{cls.kind} distribution: 'mean' must be positive, got {mean:g}")
        if not sd > 0:
            raise ModelError(f"{cls.kind} distribution: 'sd' must be positive, got {sd:g}")
        sigma2 = math.log1p((sd / mean) ** 2)
        return cls(mu=math.log(mean) - sigma2 / 2, sigma=math.sqrt(sigma2))


@dataclass(frozen=True)
class Beta(Distribution):
    """The beta distribution with shapes ``a`` and ``b``, scaled to ``[low, high]``."""

    a: float
    b: float
    low: float = 0.0
    high: float = 1.0
    kind: ClassVar[str] = "beta"

    def _validate(self) -> None:
        self._positive("a", "b")
        self._ordered()

    def frozen(self) -> Any:
        return stats.beta(self.a, self.b, loc=self.low, scale=self.high - self.low)


#: Spec-file name -> distribution class.
DISTRIBUTIONS: Mapping[str, type[Distribution]] = {
    cls.kind: cls for cls in (Uniform, Normal, TruncatedNormal, Triangular, LogNormal, Beta)
}


def make_distribution(kind: str, arguments: Mapping[str, Any]) -> Distribution:
    """The distribution ``kind`` (a name in :data:`DISTRIBUTIONS`) with these arguments.

    A log-normal takes either ``mu`` and ``sigma`` or ``mean`` and ``sd``.

    >>> make_distribution("triangular", {"low": 0, "mode": 1, "high": 4}).describe()
    'triangular(low=0, mode=1, high=4)'

    Raises
    ------
    ModelError
        Unknown kind, missing or unknown arguments, or invalid values.
    """
    cls = DISTRIBUTIONS.get(kind)
    if cls is None:
        raise ModelError(f"unknown distribution {kind!r}; use one of {', '.join(DISTRIBUTIONS)}")
    if cls is LogNormal and {"mean", "sd"} <= set(arguments):
        return _call(LogNormal.from_mean_sd, kind, ("mean", "sd"), (), arguments)
    names = [f.name for f in fields(cls)]
    required = tuple(f.name for f in fields(cls) if f.default is MISSING)
    return _call(cls, kind, required, tuple(n for n in names if n not in required), arguments)


def _call(
    factory: Any,
    kind: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    arguments: Mapping[str, Any],
) -> Distribution:
    unknown = [name for name in arguments if name not in required + optional]
    if unknown:
        raise ModelError(
            f"{kind} distribution: unknown argument {unknown[0]!r} "
            f"(it takes {', '.join(required + optional)})"
        )
    missing = [name for name in required if name not in arguments]
    if missing:
        raise ModelError(f"{kind} distribution: missing argument {missing[0]!r}")
    return factory(**arguments)  # type: ignore[no-any-return]
