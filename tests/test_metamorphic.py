"""Exact metamorphic relations: changes that must not change any customer's trajectory."""

from __future__ import annotations

import pytest

from simulation import layout as L
from simulation import simulate
from simulation.scenario import apply_overrides

from .conftest import CUSTOMER_COLUMNS, assert_frames_identical, by_run

SEEDS = range(10)
NO_FAILURES = ["touchpoints.*.failure_rate=0"]


def arms(scenario, strategies, seeds=SEEDS):
    res = simulate([scenario.with_strategy(s) for s in strategies], seeds=seeds, root_seed=5)
    return {label: by_run(res.steps[res.steps["variant"] == label])
            for label in res.labels}


def test_without_failures_reactive_levers_change_no_customer(small):
    sc = apply_overrides(small, NO_FAILURES)
    runs = arms(sc, ["none", "reactive", "mix=0"])
    none = runs["none"]
    assert none["contacts"].sum() == 0 and none["served"].sum() == 0  # the desk is idle
    assert none["failures"].sum() == 0 and none["self_served"].sum() == 0  # no issue at all
    for label in ("reactive", "mix=0"):
        assert_frames_identical(runs[label], none, CUSTOMER_COLUMNS)
        # the spend is real: the company pays for a desk nobody needs
        paid = none["step"] > 0
        assert (runs[label]["cost"][paid] > none["cost"][paid]).all()
        assert (runs[label]["profit"][paid] < none["profit"][paid]).all()


def test_with_failures_the_reactive_levers_do_change_customers(small):
    """The relation above is not vacuous: with failures, the same levers matter."""
    runs = arms(small, ["none", "reactive"])
    assert runs["none"]["contacts"].sum() > 0
    differs = [c for c in CUSTOMER_COLUMNS if (runs["none"][c] != runs["reactive"][c]).any()]
    assert {"satisfaction", "trust", "served"} <= set(differs)


@pytest.mark.parametrize("strategy", ["reactive", "proactive", "balanced", "mix=0.3"])
def test_with_no_budget_every_strategy_is_none(small, strategy):
    sc = apply_overrides(small, ["strategy.budget=0"])
    runs = arms(sc, ["none", strategy])
    assert_frames_identical(runs[strategy], runs["none"], L.STEP_COLUMNS)


def test_with_a_budget_strategies_differ(small):
    runs = arms(small, ["none", "proactive"])
    assert (runs["none"]["satisfaction"] != runs["proactive"]["satisfaction"]).any()


def test_common_random_numbers_until_histories_diverge(small):
    """Arms share every draw, so a customer whose history the strategy has not changed leaves
    in the same week in both arms. With independent streams (another root seed for one arm)
    almost none would; with shared ones almost all do, though the strategy changes some."""
    def fates(strategy, root_seed):
        events = simulate(small.with_strategy(strategy), seeds=SEEDS, root_seed=root_seed,
                          events=True).events
        at_week_0 = (events["join_step"] <= 0) & (~events["churned"] | (events["churn_step"] > 0))
        return events[at_week_0].set_index(["seed", "customer"])  # the week-0 customers

    none_arm = fates("none", 5)
    for root_seed, shared in ((5, True), (6, False)):
        reactive = fates("reactive", root_seed)
        if shared:  # the burn-in is the company's past: the same customers at week 0
            assert reactive.index.equals(none_arm.index)
        none, reactive = none_arm.align(reactive, join="inner", axis=0)
        both = none["churned"] & reactive["churned"]
        same_week = (none.loc[both, "churn_step"] == reactive.loc[both, "churn_step"]).mean()
        same_fate = ((none["churned"] == reactive["churned"])
                     & (none["churn_step"] == reactive["churn_step"])).mean()
        if shared:
            assert both.sum() > 100
            assert same_week > 0.9   # measured 0.99
            assert same_fate < 1.0   # the strategy does change some customers' histories
        else:
            assert same_week < 0.2   # measured 0.0: the check can tell the difference


def test_without_failures_there_are_no_issue_episodes(small):
    sc = apply_overrides(small, NO_FAILURES + ["horizon=30"])
    res = simulate([sc.with_strategy(s) for s in ("none", "proactive")], seeds=range(3),
                   diagnostics=True)
    assert len(res.episodes) == 0
    decided = res.decisions[res.decisions["kind"] == "decision"]
    assert len(decided) > 0 and not decided[["failure_in_cycle", "contact_in_cycle",
                                             "recovery_in_cycle"]].to_numpy().any()
    assert (res.decisions["kind"] == "decision").all()  # no silent exit without an issue


def test_with_failures_problems_are_voiced_or_lived_with_and_counted_in_failures(small):
    """The relation above is not vacuous, and the company hears of a part of its failures."""
    res = simulate(small.with_strategy("none"), seeds=range(3), diagnostics=True)
    ep = res.episodes
    assert (ep["opened"] <= 0).any()  # a warm start: some issues reach back into the burn-in
    assert (ep["opened"] > 0).sum() == res.steps["failures"].sum() > 0
    never_voiced = (ep["desk_contacts"] == 0).mean()
    assert 0.0 < never_voiced < 1.0
    assert (ep["outcome"] == "faded").any()
