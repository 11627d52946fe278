"""Issue 13's company-side mechanisms: frontline service and the warm start.

Exact metamorphic checks where the model guarantees them (frontline spend 0 changes nothing;
a warm start changes no rule; every strategy starts week 0 from the same state), one
statistical check where it does not (the retention staircase), and the schema's limits.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulation import layout as L
from simulation import rules, simulate
from simulation.compiled import compile_scenario, stack
from simulation.scenario import ScenarioError, apply_overrides, load_scenario

from .conftest import BASELINE, CUSTOMER_COLUMNS, assert_frames_identical, by_run

TINY = ["cohort=200", "horizon=40", "start.burn_in_weeks=30"]
COHORT_COLUMNS = ("step", "cohort_active", "cohort_retention", "cohort_revenue")


def run(scenario, overrides, seeds=4, **kwargs):
    return simulate(apply_overrides(scenario, overrides), seeds=seeds, root_seed=5, **kwargs)


@pytest.fixture(scope="module")
def tiny():
    return load_scenario(BASELINE, TINY)


# ------------------------------------------------------------------------ frontline service

def test_frontline_spend_zero_leaves_every_trajectory_unchanged(tiny):
    """With no frontline spend, nothing about frontline service matters: its lever, its
    reach and the channels may be anything."""
    base = run(tiny, ["strategy.name=service", "camps.service.frontline=0"])
    changed = run(tiny, ["strategy.name=service", "camps.service.frontline=0",
                         "levers.frontline.ceiling=1", "levers.frontline.scale=1",
                         "frontline.physical_reach=1", "touchpoints.*.channel=human"])
    assert_frames_identical(by_run(base.steps), by_run(changed.steps),
                            list(L.STEP_COLUMNS))


def test_frontline_spend_reaches_only_touchpoints_people_deliver(tiny):
    """An all-digital journey: frontline spend costs money and changes nothing else; the
    same spend on a journey with human touchpoints changes the customers (the control)."""
    digital = ["touchpoints.*.channel=digital"]
    spent = ["strategy.allocation={frontline = 0.5}"]
    unspent = ["strategy.allocation={frontline = 0.0}"]
    a = by_run(run(tiny, digital + spent).steps)
    b = by_run(run(tiny, digital + unspent).steps)
    assert_frames_identical(a, b, CUSTOMER_COLUMNS)
    weeks = a["step"] >= 1  # week 0 is a state: no spend
    assert (a["cost"] - b["cost"])[weeks].eq(1000.0).all()
    assert (a["cost"] == b["cost"])[~weeks].all()
    control = by_run(run(tiny, spent).steps)
    assert (control["satisfaction"] != b["satisfaction"]).any()


def test_frontline_raises_satisfaction_where_people_serve(tiny):
    """Paired over 12 seeds (common random numbers): the whole budget on frontline service
    raises mean satisfaction at the horizon against no spend, in every seed."""
    spent = by_run(run(tiny, ["strategy.allocation={frontline = 1.0}"], seeds=12).steps)
    none = by_run(run(tiny, ["strategy.name=none"], seeds=12).steps)
    last = spent["step"] == spent["step"].max()
    assert (spent.loc[last, "satisfaction"].to_numpy()
            > none.loc[last, "satisfaction"].to_numpy()).all()


def test_burnout_erodes_the_frontline_lift(par):
    company = np.zeros(L.N_COMPANY)
    company[L.EFFECT + L.FRONTLINE] = 0.4
    assert rules.frontline_lift(company, par) == 0.4
    company[L.BURNOUT] = 0.5
    assert rules.frontline_lift(company, par) == pytest.approx(
        0.4 * (1.0 - par[L.P_BURNOUT_PENALTY] * 0.5), abs=1e-15)


def test_the_service_strategy_spends_the_service_camp(baseline):
    sc = baseline.with_strategy("service")
    assert sc.allocation() == {lever: baseline.camps.service.get(lever, 0.0)
                               for lever in sc.allocation()}
    assert sc.allocation()["frontline"] > 0.0
    assert baseline.with_strategy("proactive").allocation()["frontline"] == 0.0


# ------------------------------------------------------------------------------ warm start

def test_warm_start_changes_no_rule(tiny):
    """With the burn-in strategy equal to the evaluated one, no tenure spread and no
    competitor growth, week w of a warm run is step B + w of a launch run of B + H weeks,
    exactly (the cohort columns aside: they follow the customers active at week 0)."""
    same = ["strategy.name=reactive", "start.strategy.name=reactive",
            "start.strategy.budget=2000", "churn.competitor_growth=0"]
    warm = run(tiny, same + ["start.tenure_spread_weeks=0"])
    launch = run(tiny, same + ["start.mode=launch", "horizon=70"])
    a = by_run(warm.steps).query("step >= 1").reset_index(drop=True)
    b = by_run(launch.steps).query("step >= 31").reset_index(drop=True)
    columns = [c for c in L.STEP_COLUMNS if c not in COHORT_COLUMNS]
    assert_frames_identical(a, b, columns)
    assert (a["step"] + 30 == b["step"]).all()


def test_every_strategy_starts_week_0_from_the_same_state(tiny):
    """The burn-in runs under its own stated strategy: week 0 is the same for all."""
    rows = [by_run(run(tiny, [f"strategy.name={name}"]).steps).query("step == 0")
            .reset_index(drop=True) for name in ("none", "proactive", "service")]
    for other in rows[1:]:
        assert_frames_identical(rows[0], other, list(L.STEP_COLUMNS))
    week0 = rows[0]
    assert (week0["cohort_retention"] == 1.0).all()
    assert (week0["cohort_active"] == week0["active"]).all()


def test_the_burn_in_strategy_matters(tiny):
    """The control for the test above: another past gives another week 0."""
    a = by_run(run(tiny, ["start.strategy.name=reactive"]).steps).query("step == 0")
    b = by_run(run(tiny, ["start.strategy.name=none"]).steps).query("step == 0")
    assert (a["satisfaction"].to_numpy() != b["satisfaction"].to_numpy()).any()


def test_no_failures_no_issue_episodes_in_a_warm_start(tiny):
    res = run(tiny, ["touchpoints.*.failure_rate=0"], diagnostics=True)
    assert len(res.episodes) == 0
    assert (res.steps[["contacts", "served", "caught", "self_served", "backlog"]] == 0).all().all()
    assert len(res.decisions) > 0 and (res.decisions["week"] >= 1).all()


def test_a_warm_start_has_no_retention_staircase():
    """A launch's cohort decides in the same weeks (tenure 4, 8, ...): nearly all its
    leavers leave in weeks divisible by 4. Spread tenures leave about a quarter there
    (uniform: 1/4); the bound 0.45 is far from both."""
    sc = load_scenario(BASELINE, ["cohort=400", "horizon=52", "start.burn_in_weeks=52"])

    def share_in_billing_weeks(scenario):
        steps = simulate(scenario, seeds=6, root_seed=3).steps
        lost = -steps.groupby("seed")["cohort_active"].diff().fillna(0.0)
        billing = steps["step"] % 4 == 0
        return lost[billing].sum() / lost.sum()

    assert share_in_billing_weeks(apply_overrides(sc, ["start.mode=launch"])) > 0.85
    assert share_in_billing_weeks(sc) < 0.45


def test_events_count_weeks_from_week_0(tiny):
    res = run(tiny, [], seeds=2, events=True)
    ev = res.events
    active0 = by_run(res.steps).query("step == 0")["active"].sum()
    at_week0 = (ev["join_step"] <= 0) & (~ev["churned"] | (ev["churn_step"] > 0))
    assert at_week0.sum() == active0
    assert (ev["join_step"] < 0).any() and (ev.loc[ev["churned"], "churn_step"] < 0).any()


# ----------------------------------------------------------------------------------- schema

@pytest.mark.parametrize("override, field", [
    ("start.mode=cold", "start.mode"),
    ("start.burn_in_weeks=0", "start.burn_in_weeks"),
    ("start.burn_in_weeks=5201", "start.burn_in_weeks"),
    ("start.tenure_spread_weeks=-1", "start.tenure_spread_weeks"),
    ("start.strategy.name=nonsense", "start.strategy.name"),
    ("levers.frontline.ceiling=1.5", "levers.frontline.ceiling"),
    ("frontline.physical_reach=nan", "frontline.physical_reach"),
    ("camps.service.frontline=0.9", "camps"),
])
def test_bad_start_and_frontline_values_are_refused(override, field):
    with pytest.raises(ScenarioError) as err:
        load_scenario(BASELINE, [override])
    assert len(err.value.problems) == 1 and field in err.value.problems[0]


def test_variants_of_one_batch_share_the_start(tiny):
    other = apply_overrides(tiny, ["start.burn_in_weeks=31"])
    with pytest.raises(ValueError, match="burn-in"):
        stack([compile_scenario(tiny), compile_scenario(other)])


def test_a_cohort_of_one_is_retained_whole_until_it_leaves():
    """Retention is the share of the customers active at week 0 still there: with one
    customer it is 1 until that customer leaves, then 0."""
    res = simulate(load_scenario(BASELINE, ["start.mode=launch", "cohort=1", "horizon=60",
                                            "churn.base=2"]),
                   seeds=range(6))
    steps = res.steps
    assert (steps.loc[steps["step"] == 0, "cohort_retention"] == 1.0).all()
    np.testing.assert_array_equal(steps["cohort_retention"], steps["cohort_active"])
    assert set(steps["cohort_retention"]) == {0.0, 1.0}  # some seeds lose their customer


def test_a_warm_start_that_leaves_nobody_at_week_0_retains_nobody():
    """A burn-in that every customer leaves (certain churn, no newcomers) hands week 0 an
    empty cohort: its retention is 0 every week, never a division by zero or a full one."""
    sc = load_scenario(BASELINE, ["churn.base=20", "acquisition.base_rate=0",
                                  "acquisition.referral_rate=0", "cohort=50", "horizon=20",
                                  "start.burn_in_weeks=60"])
    steps = simulate(sc, seeds=range(3)).steps
    assert (steps["active"] == 0).all()
    assert (steps["cohort_retention"] == 0.0).all()
