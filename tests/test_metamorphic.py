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
    """Arms share every draw: before any spending matters (step 0) they are identical."""
    runs = arms(small, ["none", "reactive", "proactive"])
    first = {label: run[run["step"] == 0] for label, run in runs.items()}
    assert_frames_identical(first["reactive"], first["none"], CUSTOMER_COLUMNS)
    assert_frames_identical(first["proactive"], first["none"], CUSTOMER_COLUMNS)
