"""Likelihood components: how probable the observations are if the simulation's mean is true.

Each observed series contributes its log-likelihood times its weight; the calibration's is
their sum. The simulated side is the mean over the trial's seeds at the observed weeks.

- **binomial** (survivors of a cohort of N customers, ``cohort_retention`` as a share or
  ``cohort_active`` as a count): the observations are taken as leavers between consecutive
  observed weeks out of those still there, each leaving with the simulated conditional
  probability ``1 - S(t_j) / S(t_{j-1})``. This is the exact likelihood of the leaving
  intervals of N independent customers, so weekly observations of one cohort count as the
  information they hold (not 156 independent binomials of the same customers).
- **beta-binomial**: the same with extra spread between customers of one company (intra-class
  correlation ``overdispersion``), for data noisier than independent customers.
- **normal**: ``observed ~ Normal(simulated mean, sd)`` with the stated ``sd``, for rates and
  counts such as NPS, CSAT or contacts.

Constants that do not depend on the parameters (binomial coefficients) are left out.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln

from .observed import Series

#: simulated probabilities are kept this far from 0 and 1 (a curve that predicts no leaver
#: where some left is very unlikely, not impossible)
EPS = 1e-9


def survivors(series: Series) -> np.ndarray:
    """The observed number of the cohort still there at each observed week."""
    n = series.column.customers
    counts = series.values * n if series.output == "cohort_retention" else series.values
    return np.round(counts)


def _leavers(series: Series, survival: np.ndarray):
    """(at risk, leavers, conditional leaving probability) per observed interval."""
    at_risk_weeks = np.concatenate([[series.column.customers], survivors(series)])
    s = np.concatenate([[1.0], survival])
    hazard = 1.0 - s[1:] / np.maximum(s[:-1], EPS)
    hazard = np.clip(hazard, EPS, 1.0 - EPS)
    at_risk = at_risk_weeks[:-1]
    left = at_risk - at_risk_weeks[1:]
    return at_risk, left, hazard


def series_loglik(series: Series, simulated: np.ndarray) -> float:
    """Log-likelihood of one series given the simulated mean at its weeks (for survival
    series: the simulated retention, a share of the starting cohort)."""
    kind = series.column.likelihood
    if kind == "normal":
        z = (series.values - simulated) / series.column.sd
        return float(-0.5 * np.sum(z * z))
    n, d, h = _leavers(series, simulated)
    if kind == "binomial":
        return float(np.sum(d * np.log(h) + (n - d) * np.log1p(-h)))
    rho = series.column.overdispersion
    a, b = h * (1 - rho) / rho, (1 - h) * (1 - rho) / rho
    return float(np.sum(betaln(d + a, n - d + b) - betaln(a, b)))


def simulated_at(series: Series, means: dict[str, np.ndarray]) -> np.ndarray:
    """The simulated mean a series is compared with, at its weeks. ``means`` holds each
    output's mean over seeds by week (index = week)."""
    output = "cohort_retention" if series.column.likelihood != "normal" \
        and series.output in ("cohort_retention", "cohort_active") else series.output
    return means[output][series.weeks]


def loglik(series: list[Series], means: dict[str, np.ndarray]) -> float:
    """The weighted sum of every series' log-likelihood."""
    return float(sum(s.column.weight * series_loglik(s, simulated_at(s, means))
                     for s in series))


def simulated_outputs(series: list[Series]) -> list[str]:
    """The simulation outputs the likelihood reads."""
    return sorted({"cohort_retention" if s.column.likelihood != "normal" else s.output
                   for s in series} | {s.output for s in series})
