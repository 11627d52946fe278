"""Per-customer events: the cohort retention curve is the Kaplan-Meier estimate."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from simulation import load_scenario, simulate
from simulation.scenario import resolve_path


@pytest.mark.parametrize("engine", ["batch", "mesa"])
def test_retention_equals_kaplan_meier_of_the_cohort(engine):
    sc = load_scenario(resolve_path("baseline"), ["start.mode=launch", "cohort=300", "horizon=60"])
    res = simulate(sc, seeds=[4], engine=engine, events=True)
    events = res.events
    cohort = events[events["join_step"] == 0]
    assert len(cohort) == 300
    newcomers = events[events["join_step"] > 0]
    assert len(newcomers) == res.steps["arrivals"].sum()
    # censoring happens only at the horizon, so KM equals the empirical survival exactly
    assert (cohort.loc[~cohort["churned"], "churn_step"] == 60).all()
    km = KaplanMeierFitter().fit(cohort["churn_step"], event_observed=cohort["churned"])
    weeks = res.steps["step"].to_numpy()
    survival = km.survival_function_at_times(weeks).to_numpy()
    np.testing.assert_allclose(res.steps["cohort_retention"].to_numpy(), survival, rtol=0,
                               atol=1e-12)


def test_events_are_identical_on_both_engines():
    sc = load_scenario(resolve_path("baseline"), ["start.mode=launch", "cohort=120", "horizon=40"])
    batch = simulate(sc, seeds=[1, 2], events=True).events
    mesa = simulate(sc, seeds=[1, 2], engine="mesa", events=True).events
    assert batch.reset_index(drop=True).equals(mesa.reset_index(drop=True))


def test_only_newcomers_can_be_referred_and_referral_follows_promoters():
    sc = load_scenario(resolve_path("baseline"), ["start.mode=launch", "cohort=300", "horizon=60"])
    events = simulate(sc, seeds=[0, 1, 2], events=True).events
    assert not events.loc[events["join_step"] == 0, "referred"].any()
    newcomers = events[events["join_step"] > 0]
    assert newcomers["referred"].any()
    no_referrals = load_scenario(resolve_path("baseline"),
                                 ["cohort=300", "horizon=60", "acquisition.referral_rate=0"])
    assert not simulate(no_referrals, seeds=[0, 1, 2], events=True).events["referred"].any()


def test_every_customer_is_recorded_when_arrivals_outgrow_the_first_guess():
    """Room for events is first guessed at twice the cohort; a run with more customers than
    that is run again with room for all, and nothing else about the runs changes."""
    sc = load_scenario(resolve_path("baseline"), ["start.mode=launch", "cohort=5", "horizon=30",
                                                 "acquisition.base_rate=2"])
    with_events = simulate(sc, seeds=range(6), events=True)
    events, steps = with_events.events, with_events.steps
    for seed, arrivals in steps.groupby("seed")["arrivals"].sum().items():
        assert arrivals > 5  # more than the guessed room of 10 customers
        assert (events["seed"] == seed).sum() == 5 + arrivals
    assert steps.equals(simulate(sc, seeds=range(6)).steps)
