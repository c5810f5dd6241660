"""Goodness-of-fit statistics (Sterman 1984): sizes of error and the Theil decomposition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sdhealth.experiments.goodness_of_fit import fit_statistics


def test_hand_computed_example():
    fit = fit_statistics([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])
    # errors 1, 2, 3 -> MSE 14/3; bias (4 - 2)^2 = 4; sd 1.633 vs 0.8165 -> (0.8165)^2 = 2/3
    assert fit.points == 3
    assert fit.rmse == pytest.approx(math.sqrt(14 / 3))
    assert fit.mape == pytest.approx(1.0)
    assert fit.r_squared == pytest.approx(1.0)
    assert fit.theil_um == pytest.approx(4 / (14 / 3))
    assert fit.theil_us == pytest.approx((2 / 3) / (14 / 3))
    assert fit.theil_uc == pytest.approx(0.0, abs=1e-12)


def test_theil_shares_sum_to_one_and_pure_noise_is_covariation():
    rng = np.random.default_rng(3)
    noise = rng.standard_normal(500)
    observed = 100 + noise - noise.mean()
    simulated = np.full(500, 100.0)  # right mean, no variation
    fit = fit_statistics(simulated, observed)
    assert fit.theil_um + fit.theil_us + fit.theil_uc == pytest.approx(1.0)
    assert fit.theil_um == pytest.approx(0.0, abs=1e-12)
    assert fit.theil_us == pytest.approx(1.0)  # all error from the missing variation
    assert math.isnan(fit.r_squared)

    shuffled = rng.permutation(observed)  # same mean and sd, uncorrelated
    fit = fit_statistics(shuffled, observed)
    assert fit.theil_uc > 0.99
    assert fit.theil_um + fit.theil_us + fit.theil_uc == pytest.approx(1.0)


def test_missing_observations_are_left_out_and_zero_ones_skip_mape():
    fit = fit_statistics([1.0, 5.0, 2.0, 3.0], [0.0, float("nan"), 2.0, 2.0])
    assert fit.points == 3
    assert fit.mape == pytest.approx((0 + 0.5) / 2)
    assert fit.rmse == pytest.approx(math.sqrt(2 / 3))


def test_exact_fit_and_bad_input():
    exact = fit_statistics([1.0, 2.0], [1.0, 2.0])
    assert exact.rmse == 0 and math.isnan(exact.theil_um)
    with pytest.raises(ValueError, match="shape"):
        fit_statistics([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="no observations"):
        fit_statistics([1.0], [float("nan")])
