"""Parameter distributions: validated arguments, moments, seeds, quantiles and unit maps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sdhealth.errors import ModelError
from sdhealth.experiments.distributions import (
    DISTRIBUTIONS,
    Beta,
    LogNormal,
    Normal,
    Triangular,
    TruncatedNormal,
    Uniform,
    make_distribution,
    random_generator,
)

N = 40_000

# (distribution, mean, standard deviation) -- the moments from the textbook formulas
CASES = [
    (Uniform(2.0, 6.0), 4.0, 4.0 / math.sqrt(12)),
    (Normal(0.115, 0.01), 0.115, 0.01),
    (Triangular(1.0, 2.0, 6.0), 3.0, math.sqrt((1 + 4 + 36 - 2 - 6 - 12) / 18)),
    (LogNormal(0.5, 0.25), math.exp(0.5 + 0.25**2 / 2), None),
    (Beta(2.0, 6.0, 10.0, 20.0), 10 + 10 * 2 / 8, 10 * math.sqrt(2 * 6 / (8**2 * 9))),
    # symmetric truncation keeps the mean; sd of N(0,1) cut at +-1 is 0.5377
    (TruncatedNormal(5.0, 2.0, 3.0, 7.0), 5.0, 2.0 * 0.53956),
]


@pytest.mark.parametrize(("dist", "mean", "sd"), CASES, ids=lambda c: getattr(c, "kind", ""))
def test_sample_moments_match_the_distribution(dist, mean, sd) -> None:
    sample = dist.sample(N, seed=12345)
    exact_mean, exact_sd = dist.moments()
    assert exact_mean == pytest.approx(mean, rel=1e-3)
    if sd is not None:
        assert exact_sd == pytest.approx(sd, rel=1e-3)
    # the sample mean lies within 4 standard errors of the mean
    assert abs(sample.mean() - mean) < 4 * exact_sd / math.sqrt(N)
    assert sample.std() == pytest.approx(exact_sd, rel=0.03)
    low, high = dist.support
    assert sample.min() >= low and sample.max() <= high


def test_lognormal_from_mean_and_sd() -> None:
    dist = LogNormal.from_mean_sd(6.0, 1.5)
    sample = dist.sample(N, seed=3)
    assert sample.mean() == pytest.approx(6.0, abs=4 * 1.5 / math.sqrt(N))
    assert sample.std() == pytest.approx(1.5, rel=0.03)
    assert make_distribution("lognormal", {"mean": 6.0, "sd": 1.5}) == dist


def test_same_seed_same_sample_and_generators_continue() -> None:
    dist = Normal(0.0, 1.0)
    np.testing.assert_array_equal(dist.sample(50, seed=9), dist.sample(50, seed=9))
    assert not np.array_equal(dist.sample(50, seed=9), dist.sample(50, seed=10))
    rng = random_generator(9)
    first, second = dist.sample(25, rng), dist.sample(25, rng)
    np.testing.assert_array_equal(np.concatenate([first, second]), dist.sample(50, seed=9))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Normal(1.0, 0.0), "'sd' must be positive, got 0"),
        (lambda: Normal(1.0, -1.0), "'sd' must be positive, got -1"),
        (lambda: Uniform(2.0, 2.0), "'low' (2) must be below 'high' (2)"),
        (lambda: Uniform(3.0, 1.0), "'low' (3) must be below 'high' (1)"),
        (lambda: Triangular(0.0, 2.0, 1.0), "'mode' (2) must lie in [low, high] = [0, 1]"),
        (lambda: Triangular(0.0, -0.5, 1.0), "'mode' (-0.5) must lie in"),
        (lambda: Beta(0.0, 1.0), "'a' must be positive, got 0"),
        (lambda: Beta(1.0, -2.0), "'b' must be positive, got -2"),
        (lambda: Beta(1.0, 1.0, 1.0, 0.0), "'low' (1) must be below 'high' (0)"),
        (lambda: LogNormal(0.0, 0.0), "'sigma' must be positive"),
        (lambda: LogNormal.from_mean_sd(-1.0, 1.0), "'mean' must be positive"),
        (lambda: TruncatedNormal(0.0, 1.0, 1.0, -1.0), "'low' (1) must be below 'high' (-1)"),
        (lambda: Normal(float("nan"), 1.0), "'mean' must be a finite number"),
        (lambda: Uniform(0.0, float("inf")), "'high' must be a finite number"),
        (lambda: Normal("a", 1.0), "'mean' must be a number, got 'a'"),
        (lambda: Normal(True, 1.0), "'mean' must be a number, got True"),
    ],
)
def test_invalid_arguments_are_clear_errors(make, message) -> None:
    with pytest.raises(ModelError) as caught:
        make()
    assert message in str(caught.value)


def test_one_sided_and_far_tail_truncations_work() -> None:
    dist = TruncatedNormal(0.1, 0.1, 0.0, math.inf)
    assert dist.support == (0.0, math.inf)
    assert dist.sample(1000, seed=1).min() >= 0.0
    # 50 to 60 sd above the mean: tiny mass, but scipy's truncnorm samples it in log space
    tail = TruncatedNormal(0.0, 1.0, 50.0, 60.0).sample(1000, seed=1)
    assert 50.0 <= tail.min() and tail.max() < 50.2


def test_make_distribution_checks_names_and_arguments() -> None:
    assert set(DISTRIBUTIONS) == {
        "uniform",
        "normal",
        "truncated_normal",
        "triangular",
        "lognormal",
        "beta",
    }
    assert make_distribution("beta", {"a": 2, "b": 3}) == Beta(2.0, 3.0, 0.0, 1.0)
    with pytest.raises(ModelError, match="unknown distribution 'gamma'"):
        make_distribution("gamma", {})
    with pytest.raises(ModelError, match="unknown argument 'stdev'"):
        make_distribution("normal", {"mean": 1, "stdev": 2})
    with pytest.raises(ModelError, match="missing argument 'sd'"):
        make_distribution("normal", {"mean": 1})


def test_ppf_inverts_the_cdf_and_bounds_follow_the_support() -> None:
    dist = Normal(10.0, 2.0)
    np.testing.assert_allclose(dist.ppf([0.025, 0.5, 0.975]), [10 - 3.919928, 10, 13.919928])
    assert dist.bounds() == pytest.approx((10 - 1.959964 * 2, 10 + 1.959964 * 2))
    # bounded distributions keep their whole support
    assert Triangular(1.0, 2.0, 6.0).bounds() == (1.0, 6.0)
    assert Beta(2.0, 2.0, 5.0, 9.0).bounds() == (5.0, 9.0)
    # a one-sided truncation is cut only on its open side
    low, high = TruncatedNormal(0.0, 1.0, 0.0, math.inf).bounds()
    assert low == 0.0 and high == pytest.approx(2.2414, abs=1e-4)


def test_from_unit_maps_by_quantile() -> None:
    np.testing.assert_allclose(Uniform(2.0, 4.0).from_unit([0, 0.25, 1]), [2.0, 2.5, 4.0])
    dist = Normal(0.0, 1.0)
    np.testing.assert_allclose(dist.from_unit([0.0, 0.5, 1.0]), [-1.959964, 0.0, 1.959964])
    with pytest.raises(ModelError, match="tail probability"):
        dist.bounds(tail=0.7)


def test_seed_must_be_a_whole_number() -> None:
    with pytest.raises(ModelError, match="seed must be a non-negative integer"):
        random_generator(1.5)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="seed must be a non-negative integer"):
        random_generator(-3)
