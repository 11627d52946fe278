"""Invariants that hold on every step of every run, whatever the strategy or stress."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation import layout as L
from simulation import simulate
from simulation.mesa_engine import JourneyModel
from simulation.scenario import apply_overrides

STRATEGIES = ("none", "reactive", "proactive", "balanced", "mix=0.3")
SEEDS = range(8)
#: failures four times as frequent and a small desk: backlog, waiting and burnout happen
STRESS = ["touchpoints.*.failure_rate*=4", "desk.base_capacity=10"]


@pytest.fixture(scope="module")
def runs(small):
    """(label, scenario, per-step table) for each strategy, normal and stressed."""
    stressed = apply_overrides(small, STRESS)
    variants = [small.with_strategy(s) for s in STRATEGIES] + \
        [stressed.with_strategy(s) for s in STRATEGIES]
    labels = list(STRATEGIES) + [f"stressed {s}" for s in STRATEGIES]
    res = simulate(variants, seeds=SEEDS, labels=labels, root_seed=3)
    return [(label, v, res.steps[res.steps["variant"] == label]) for label, v in
            zip(labels, variants)]


def each_run(runs):
    for label, scenario, steps in runs:
        for seed, run in steps.groupby("seed"):
            yield f"{label} seed {seed}", scenario, run.sort_values("step").reset_index(drop=True)


def test_one_row_per_step_and_no_nan(runs, small):
    for name, scenario, run in each_run(runs):
        assert run["step"].tolist() == list(range(small.horizon + 1)), name
        assert not run[list(L.STEP_COLUMNS)].isna().any().any(), name
        assert np.isfinite(run[list(L.STEP_COLUMNS)].to_numpy(dtype=float)).all(), name


def test_means_and_rates_stay_in_their_ranges(runs):
    for name, scenario, run in each_run(runs):
        assert run["mood"].between(-1, 1).all(), name
        for column in ("expectation", "satisfaction", "trust", "csat", "resolution_rate",
                       "burnout", "cohort_retention"):
            assert run[column].between(0, 1).all(), (name, column)
        assert run["nps"].between(-100, 100).all(), name
        assert (run["effort"] >= 0).all() and (run["wait"] >= 0).all(), name
        for column in L.INTEGER_COLUMNS:
            assert (run[column] >= 0).all(), (name, column)


def test_head_counts_add_up(runs):
    for name, scenario, run in each_run(runs):
        active, arrivals, churned = (run[c].to_numpy() for c in ("active", "arrivals", "churned"))
        cohort_active = run["cohort_active"].to_numpy()
        assert active[0] == cohort_active[0], name  # the cohort: the customers at week 0
        assert active[0] == scenario.cohort or scenario.burn_in_weeks() > 0, name
        assert arrivals[0] == 0 and churned[0] == 0, name
        np.testing.assert_array_equal(active[1:], active[:-1] + arrivals[1:] - churned[1:],
                                      err_msg=name)
        assert np.all(np.diff(cohort_active) <= 0), name
        assert np.all(-np.diff(cohort_active) <= churned[1:]), name  # cohort leavers churned
        assert np.all(churned[1:] <= active[:-1]), name
        assert np.all(cohort_active <= active), name


def test_desk_and_money_add_up(runs):
    for name, scenario, run in each_run(runs):
        assert (run["backlog"] <= run["active"]).all(), name
        assert (run["served"] <= run["contacts"] + run["backlog"].shift(fill_value=0)).all(), name
        values = [s.weekly_value for s in scenario.segments]
        # revenue is paid by the customers active before this week's newcomers
        payers = run["active"] - run["arrivals"]
        assert (run["revenue"] >= min(values) * payers - 1e-6).all(), name
        assert (run["revenue"] <= max(values) * payers + 1e-6).all(), name
        spend = scenario.budget() * sum(scenario.allocation().values())
        cost_per_contact = scenario.desk.cost_per_contact
        np.testing.assert_allclose(run["cost"][1:], spend + cost_per_contact * run["served"][1:]
                                   + scenario.economics.fixed_cost, rtol=1e-9, err_msg=name)


def test_the_stressed_runs_do_stress_the_desk(runs):
    stressed = pd.concat([steps for label, _, steps in runs if label.startswith("stressed")])
    calm = pd.concat([steps for label, _, steps in runs if not label.startswith("stressed")])
    assert stressed["burnout"].max() > 0.1 and stressed["backlog"].max() > 10
    assert stressed["wait"].max() > 0
    assert stressed["contacts"].mean() > 2 * calm["contacts"].mean()


def test_every_customer_stays_in_bounds_on_every_step(small):
    """Per customer, not only on average (the Mesa model exposes the state arrays)."""
    sc = apply_overrides(small, STRESS + ["horizon=60"]).with_strategy("mix=0.3")
    model = JourneyModel(sc, seed=2)
    seen_issue = False
    while model.running:
        model.step()
        n = model.n_customers
        fs, ist = model.fs[:, :n], model.ist[:, :n]
        active = ist[L.ACTIVE] == 1
        assert np.isfinite(fs).all()
        assert np.all((fs[L.MOOD] >= -1) & (fs[L.MOOD] <= 1))
        for row in (L.EXPECTATION, L.SATISFACTION, L.TRUST, L.SEVERITY, L.ISSUE_COMPLEXITY):
            assert np.all((fs[row] >= 0) & (fs[row] <= 1)), row
        assert np.all(fs[L.EFFORT] >= 0)
        assert np.all((fs[L.WORST] >= -1) & (fs[L.WORST] <= 1))
        newcomers = ist[L.JOIN_STEP] == model.internal_step  # first move next week
        assert np.all(ist[L.TOUCHPOINT, active & ~newcomers] >= 0)
        assert np.all(ist[L.TOUCHPOINT, newcomers] == -1)
        assert np.all(ist[L.TOUCHPOINT] < len(sc.touchpoints))
        assert np.all((ist[L.CHURN_STEP] == -1) == active)
        assert np.all(ist[L.QUEUED_SINCE, ~active] == -1)  # leavers are not in the queue
        assert np.all(ist[L.QUEUED_SINCE, ist[L.ISSUE_OPEN] == 0] == -1)  # no issue, no call
        assert len(model.agents) == active.sum()
        assert 0.0 <= model.company[L.BURNOUT] <= 1.0
        seen_issue |= bool(ist[L.ISSUE_OPEN, active].any())
    assert seen_issue
