"""Goodness of fit of a simulated series to observed data, as SD practitioners report it.

Sterman (1984, "Appropriate summary statistics for evaluating the historical fit of system
dynamics models", Dynamica 10(2)) recommends reporting, beside the size of the error (RMSE,
MAPE), where the error comes from. The mean squared error splits exactly into three parts:

    MSE = (mean(S) - mean(A))**2 + (sd(S) - sd(A))**2 + 2 (1 - r) sd(S) sd(A)

with ``S`` the simulated and ``A`` the actual (observed) values, ``sd`` the population standard
deviation and ``r`` their correlation. Divided by the MSE these are the Theil inequality
statistics ``U_M`` (bias), ``U_S`` (unequal variation) and ``U_C`` (unequal covariation), which
sum to 1. A good fit has a small MSE mostly in ``U_C`` (point-by-point noise the model is not
meant to follow); a large ``U_M`` or ``U_S`` points to a systematic error.

``R^2`` here is Sterman's: the squared correlation between simulated and observed values
(the share of the data's variation the model tracks), not ``1 - SSE/SST``.

>>> fit = fit_statistics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
>>> round(fit.rmse, 4), round(fit.theil_um + fit.theil_us + fit.theil_uc, 12)
(0.5774, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["FitStatistics", "fit_statistics"]


@dataclass(frozen=True)
class FitStatistics:
    """Goodness of fit of one series (see the module docstring).

    Attributes
    ----------
    points : int
        Observations compared (missing ones left out).
    rmse : float
        Root mean squared error, in the series' units.
    mape : float
        Mean absolute percentage error as a fraction (0.02 = 2%), over observations not zero;
        NaN when every observation is zero.
    r_squared : float
        Squared correlation of simulated and observed values; NaN when either is constant.
    theil_um, theil_us, theil_uc : float
        Shares of the MSE from bias, unequal variation and unequal covariation (sum 1);
        NaN when the fit is exact.
    """

    points: int
    rmse: float
    mape: float
    r_squared: float
    theil_um: float
    theil_us: float
    theil_uc: float


def fit_statistics(simulated: ArrayLike, observed: ArrayLike) -> FitStatistics:
    """Compare ``simulated`` with ``observed`` (same length; NaN observations are left out).

    Raises
    ------
    ValueError
        The sequences differ in length or no observation is left.
    """
    sim = np.asarray(simulated, dtype=float)
    obs = np.asarray(observed, dtype=float)
    if sim.shape != obs.shape:
        raise ValueError(f"simulated {sim.shape} and observed {obs.shape} differ in shape")
    keep = np.isfinite(obs)
    sim, obs = sim[keep], obs[keep]
    if sim.size == 0:
        raise ValueError("no observations to compare")
    error = sim - obs
    mse = float(np.mean(error**2))
    nonzero = obs != 0
    mape = float(np.mean(np.abs(error[nonzero] / obs[nonzero]))) if nonzero.any() else math.nan
    sd_sim, sd_obs = float(sim.std()), float(obs.std())
    r = math.nan
    if sd_sim > 0 and sd_obs > 0:
        r = float(np.mean((sim - sim.mean()) * (obs - obs.mean())) / (sd_sim * sd_obs))
    um = us = uc = math.nan
    if mse > 0:
        um = float(sim.mean() - obs.mean()) ** 2 / mse
        us = (sd_sim - sd_obs) ** 2 / mse
        # with one side constant sd_sim * sd_obs is 0, so the covariation term is 0
        uc = 0.0 if math.isnan(r) else 2.0 * (1.0 - r) * sd_sim * sd_obs / mse
    return FitStatistics(
        points=int(sim.size),
        rmse=math.sqrt(mse),
        mape=mape,
        r_squared=r * r if not math.isnan(r) else math.nan,
        theil_um=um,
        theil_us=us,
        theil_uc=uc,
    )
