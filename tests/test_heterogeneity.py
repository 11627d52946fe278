"""Customers differ within a segment: the least loyal leave first, so a cohort's retention
rate rises with tenure (statistical, with the tolerance stated in the test)."""

from __future__ import annotations

import numpy as np

from simulation import simulate
from simulation.scenario import apply_overrides

#: a steady world: no failures, no competitor growth, no expectation drift, no spending, and
#: no newcomers, so any change in the monthly churn rate comes from who is left
STEADY = ["cohort=3000", "horizon=104", "touchpoints.*.failure_rate=0",
          "churn.competitor_growth=0", "psychology.expectation_drift=0", "strategy.budget=0",
          "acquisition.base_rate=0", "acquisition.referral_rate=0"]


def _monthly_churn(scenario, spread):
    sc = apply_overrides(scenario, STEADY + [f"segments.*.churn_spread={spread}"])
    steps = simulate(sc, seeds=range(4)).steps
    active = steps.groupby("step")["cohort_active"].sum().to_numpy()
    months = active[::4]
    return 1.0 - months[1:] / months[:-1]


def test_a_spread_of_propensities_makes_the_monthly_churn_rate_fall_with_tenure(small):
    same = _monthly_churn(small, 0.0)
    spread = _monthly_churn(small, 1.5)
    early, late = slice(1, 7), slice(-6, None)  # months 2-7 and the last six months
    # with identical customers the churn rate drifts only with attitudes; with a spread the
    # survivors are the loyal ones: the late-to-early ratio is at least a fifth lower
    ratio_same = same[late].mean() / same[early].mean()
    ratio_spread = spread[late].mean() / spread[early].mean()
    assert ratio_spread < 0.8 * ratio_same, (ratio_same, ratio_spread)
    assert np.all(spread > 0.0)
