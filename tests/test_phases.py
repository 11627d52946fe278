"""Strategies over time (issue 16): phases, ramps, revenue-share budgets and triggers.

Exact where the model guarantees it: a single phase from week 0 is the static strategy bit
for bit, a later phase changes nothing before it starts, a trigger that never fires changes
nothing, a ramp of 0 weeks is an abrupt switch; hysteresis is checked on a hand-built series
through the rule itself, and both engines agree with phases and triggers that fire.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from simulation import layout as L
from simulation import rules, simulate
from simulation.compiled import compile_scenario, spend_plan
from simulation.scenario import ScenarioError, apply_overrides, load_scenario

from .conftest import BASELINE, assert_frames_identical, by_run

TINY = ["cohort=200", "horizon=30", "start.burn_in_weeks=12"]
ALL = ["seed", *L.STEP_COLUMNS]
GLIDE = 'strategy.phases=[{start=0, name="reactive"}, {start=10, name="proactive"}]'
BACKLOG = ('strategy.triggers=[{observe="backlog", enter=3, leave=1, share=0.5, '
           'levers={capacity=0.7, staff=0.3}}]')


@pytest.fixture(scope="module")
def tiny():
    return load_scenario(BASELINE, TINY)


def run(scenario, overrides, seeds=(0, 1, 2), engine="batch"):
    return by_run(simulate(apply_overrides(scenario, overrides), seeds=list(seeds),
                           root_seed=7, engine=engine).steps)


# ------------------------------------------------------------------------------- phases

ENGINES = [("batch", (0, 1, 2)), ("mesa", (0,))]


@pytest.mark.parametrize("engine, seeds", ENGINES)
def test_a_single_phase_from_week_0_is_the_static_strategy_bit_for_bit(tiny, engine, seeds):
    static = run(tiny, ["strategy.name=proactive", "strategy.budget=1500"], seeds, engine)
    phased = run(tiny, ['strategy.phases=[{start=0, name="proactive", budget=1500}]'], seeds,
                 engine)
    assert_frames_identical(static, phased, ALL)


def test_a_later_phase_changes_no_row_before_it_starts(tiny):
    reactive = run(tiny, ["strategy.name=reactive"])
    glide = run(tiny, [GLIDE])
    before = glide["step"] < 10
    assert_frames_identical(reactive[before], glide[before], ALL)
    assert (glide.loc[~before, "phase"] == 1).all() and (glide.loc[before, "phase"] == 0).all()
    assert not glide.loc[~before, "satisfaction"].equals(reactive.loc[~before, "satisfaction"])
    # a second phase at the horizon's week: every row before it is the first phase's run
    at_horizon = run(tiny, ['strategy.phases=[{start=0, name="reactive"}, '
                            '{start=30, name="proactive"}]'])
    assert_frames_identical(reactive[reactive["step"] < 30], at_horizon[at_horizon["step"] < 30],
                            ALL)


def test_a_ramp_of_0_weeks_is_an_abrupt_switch(tiny):
    abrupt = run(tiny, [GLIDE])
    ramp0 = run(tiny, ['strategy.phases=[{start=0, name="reactive"}, '
                       '{start=10, ramp=0, name="proactive"}]'])
    assert_frames_identical(abrupt, ramp0, ALL)


def test_a_ramp_blends_the_spend_linearly(tiny):
    sc = apply_overrides(tiny, ['strategy.phases=[{start=0, name="reactive", budget=1000}, '
                                '{start=10, ramp=3, name="proactive", budget=3000}]'])
    plan = spend_plan(sc)
    reactive = plan[9, :L.PL_PHASE].copy()
    proactive = plan[13, :L.PL_PHASE].copy()
    assert reactive[:L.N_LEVERS].sum() == pytest.approx(1000.0)
    assert proactive[:L.N_LEVERS].sum() == pytest.approx(3000.0)
    for j, weight in enumerate((0.25, 0.5, 0.75)):
        np.testing.assert_allclose(plan[10 + j, :L.PL_PHASE],
                                   (1 - weight) * reactive + weight * proactive, rtol=1e-12)
    assert list(plan[8:15, L.PL_PHASE]) == [0, 0, 1, 1, 1, 1, 1]
    steps = run(tiny, ['strategy.phases=[{start=0, name="reactive", budget=1000}, '
                       '{start=10, ramp=3, name="proactive", budget=3000}]'], seeds=[0])
    np.testing.assert_allclose(steps["spend"].to_numpy()[8:15],
                               [1000, 1000, 1500, 2000, 2500, 3000, 3000], rtol=1e-12)


def test_a_revenue_share_budget_spends_its_share_of_last_weeks_revenue(tiny):
    steps = run(tiny, ['strategy.phases=[{start=0, name="balanced"}, '
                       '{start=5, name="proactive", revenue_share=0.08}]'], seeds=[3])
    later = steps["step"] >= 5
    np.testing.assert_allclose(steps.loc[later, "spend"].to_numpy(),
                               0.08 * steps["revenue"].shift(1)[later].to_numpy(), rtol=1e-12)
    assert (steps.loc[(steps["step"] >= 1) & ~later, "spend"] == 2000.0).all()


def test_week_1_spends_its_share_of_the_revenue_of_the_week_before_it(tiny):
    """A launch's week 1 sees week 0; a warm start's week 1 sees the burn-in's last week,
    whose row is not reported: week 0's revenue without that week's newcomers, who join
    after the week's bookkeeping (a week's row counts revenue before its arrivals)."""
    share = ['strategy.phases=[{start=0, name="proactive", revenue_share=0.08}]']
    launch = run(tiny, [*share, "start.mode=launch"], seeds=[3])
    week = launch.set_index("step")
    assert week.loc[1, "spend"] == pytest.approx(0.08 * week.loc[0, "revenue"], rel=1e-12)

    warm = simulate(apply_overrides(tiny, share), seeds=[3], root_seed=7, events=True)
    week = warm.steps.set_index("step")
    value = {s.name: s.weekly_value for s in tiny.segments}
    newcomers = warm.events[warm.events["join_step"] == 0]
    assert len(newcomers) > 0
    last_burn_in_revenue = week.loc[0, "revenue"] - newcomers["segment"].map(value).sum()
    assert week.loc[1, "spend"] == pytest.approx(0.08 * last_burn_in_revenue, rel=1e-12)


# ----------------------------------------------------------------------------- triggers

def _company_after(series, observable, above, enter, leave, window=4):
    """Feed the rule a hand-built weekly series of one observable; the trigger's state
    each week after seeing the week before."""
    table = np.zeros((L.MAX_TRIGGERS, L.N_TG))
    table[0, [L.TG_USED, L.TG_OBSERVE, L.TG_ABOVE, L.TG_ENTER, L.TG_LEAVE, L.TG_SHARE,
              L.TG_WINDOW]] = [1, observable, 1.0 if above else 0.0, enter, leave, 0.5, window]
    column = {L.OB_BACKLOG: L.O_BACKLOG, L.OB_NPS: L.O_NPS}.get(observable)
    if column is None:  # the churn rate: value = (churned, active after the week)
        weeks = [{L.O_CHURNED: churned, L.O_ACTIVE: active} for churned, active in series]
    else:
        weeks = [{column: value} for value in series]
    return _trigger_states(table, weeks)


def _trigger_states(table, weeks):
    """The triggers' states (bit k: trigger k) week by week, each week's row given as
    {output column: value}."""
    company, row, states = np.zeros(L.N_COMPANY), np.zeros(L.N_OUT), []
    for week in weeks:
        for column, value in week.items():
            row[column] = value
        rules.observe_week(company, row)
        company[L.TRIGGERS] = rules.next_triggers(company, table)
        states.append(int(company[L.TRIGGERS]))
    return states


def test_hysteresis_enters_above_one_level_and_leaves_below_another():
    backlog = [0, 10, 11, 8, 6, 5, 4, 7, 10.5, 3]
    assert _company_after(backlog, L.OB_BACKLOG, True, 10, 5) == [0, 0, 1, 1, 1, 1, 0, 0, 1, 0]
    nps = [20, 0, -1, -5, 9, 10.5, 0, -2]  # below: enters under 0, leaves over 10
    assert _company_after(nps, L.OB_NPS, False, 0, 10) == [0, 0, 1, 1, 1, 0, 0, 1]


def test_a_trigger_sees_last_weeks_value_of_each_observable():
    """observe_week keeps each observable of the week's row where ``observed`` reads it."""
    company, row = np.zeros(L.N_COMPANY), np.zeros(L.N_OUT)
    columns = {L.OB_BACKLOG: L.O_BACKLOG, L.OB_WAIT: L.O_WAIT, L.OB_BURNOUT: L.O_BURNOUT,
               L.OB_CONTACTS: L.O_CONTACTS, L.OB_NPS: L.O_NPS}
    assert set(columns) | {L.OB_CHURN_RATE} == set(range(len(L.OBSERVABLES)))
    for week in range(3):
        for observable, column in columns.items():
            row[column] = 10.0 * week + observable + 1.5  # every value distinct
        rules.observe_week(company, row)
        for observable, column in columns.items():
            seen = rules.observed(company, observable, 1)
            assert seen == row[column], L.OBSERVABLES[observable]


def test_the_rolling_churn_rate_is_the_share_of_the_exposed_that_left():
    # (churned, active after the week): exposed each week = active the week before
    weeks = [(0, 100), (2, 100), (3, 100), (1, 100), (0, 100), (0, 100), (0, 100)]
    # window 2: rates 0, 2/100 (week 0 had no one exposed; 0.02 is not above 0.02), 5/200,
    # 4/200 (not below 0.006: stays), 1/200 (leaves), 0, 0
    states = _company_after(weeks, L.OB_CHURN_RATE, True, 0.02, 0.006, window=2)
    assert states == [0, 0, 1, 1, 0, 0, 0]


def test_the_rolling_churn_rate_sums_its_window_and_is_0_with_no_one_exposed():
    """rules.observed over the ring, exactly: the sums of the last ``window`` weeks, a
    window with no one exposed gives 0 (not 0/0), one exposed customer counts whole, and
    the ring wraps after MAX_WINDOW weeks."""
    company, row = np.zeros(L.N_COMPANY), np.zeros(L.N_OUT)
    churned = [0, 0, 1, 3, 0, 5, 2]       # customers who left in each week
    active = [0, 1, 7, 40, 40, 90, 90]    # active after it: exposed the week after
    for week in range(L.MAX_WINDOW + len(churned)):  # the last weeks past the ring's end
        k = week - L.MAX_WINDOW
        row[L.O_CHURNED], row[L.O_ACTIVE] = (churned[k], active[k]) if k >= 0 else (0, 0)
        rules.observe_week(company, row)
        if k == 1:  # exposed: 0 then 0 (the week before the series had no one active)
            assert rules.observed(company, L.OB_CHURN_RATE, 2) == 0.0
        if k == 2:  # one exposed, who left
            assert rules.observed(company, L.OB_CHURN_RATE, 1) == 1.0
    exposed = [0, 0, 1, 7, 40, 40, 90]
    for window in (1, 2, 3, 5, 7):
        expected = sum(churned[-window:]) / sum(exposed[-window:])
        assert rules.observed(company, L.OB_CHURN_RATE, window) == expected, window


def test_two_triggers_keep_their_own_states_and_move_their_own_shares():
    """Trigger k's state is bit k: a second trigger keeps its hysteresis whatever the
    first does; with both active, every lever keeps 1 - (share 0 + share 1) of its spend
    and each trigger's share of the budget goes to its own levers."""
    table = np.zeros((L.MAX_TRIGGERS, L.N_TG))
    for k, (enter, leave) in enumerate([(1e9, 0.0), (10.0, 5.0)]):
        table[k, [L.TG_USED, L.TG_OBSERVE, L.TG_ABOVE, L.TG_ENTER, L.TG_LEAVE, L.TG_SHARE,
                  L.TG_WINDOW]] = [1, L.OB_BACKLOG, 1.0, enter, leave, 0.5, 4]
    # trigger 1 enters above 10, leaves below 5; trigger 0 never enters
    backlog = [{L.O_BACKLOG: b} for b in (0, 11, 8, 6, 4, 7)]
    assert _trigger_states(table, backlog) == [0, 2, 2, 2, 0, 0]
    table[0, [L.TG_ENTER, L.TG_LEAVE]] = 5.0, 1.0  # now both are active at once
    backlog = [{L.O_BACKLOG: b} for b in (0, 11, 8, 6, 4, 0)]
    assert _trigger_states(table, backlog) == [0, 3, 3, 3, 1, 0]

    table[0, L.TG_SHARE], table[1, L.TG_SHARE] = 0.25, 0.5
    table[0, L.TG_LEVERS + 2], table[1, L.TG_LEVERS + 5] = 1.0, 1.0
    spend = np.arange(1.0, L.N_LEVERS + 1.0) * 100.0
    expected = spend * 0.25
    expected[2] += 0.25 * 1000.0
    expected[5] += 0.5 * 1000.0
    rules.move_budget(spend, 1000.0, table, 0b11)
    np.testing.assert_array_equal(spend, expected)
    spend = np.arange(1.0, L.N_LEVERS + 1.0) * 100.0  # trigger 1 alone: 0 keeps its share
    expected = spend * 0.5
    expected[5] += 0.5 * 1000.0
    rules.move_budget(spend, 1000.0, table, 0b10)
    np.testing.assert_array_equal(spend, expected)


@pytest.mark.parametrize("engine, seeds", ENGINES)
def test_a_trigger_that_never_fires_is_its_base_strategy(tiny, engine, seeds):
    base = run(tiny, [GLIDE], seeds, engine)
    never = run(tiny, [GLIDE, BACKLOG.replace("enter=3, leave=1", "enter=1e6, leave=0")],
                seeds, engine)
    assert_frames_identical(base, never, ALL)


def test_an_active_trigger_moves_its_share_and_follows_last_weeks_backlog(tiny):
    steps = run(tiny, ["strategy.name=proactive", BACKLOG])
    assert steps["triggers"].isin([0, 1]).all() and steps["triggers"].sum() > 0
    for _, one in steps.groupby("seed"):
        backlog, active = one["backlog"].to_numpy(), one["triggers"].to_numpy()
        state = 0  # enters above 3, leaves below 1
        for week in range(1, len(one)):
            state = int(backlog[week - 1] >= 1) if state else int(backlog[week - 1] > 3)
            assert active[week] == state, week
    np.testing.assert_allclose(steps.loc[steps["step"] > 0, "spend"], 2000.0, rtol=1e-12)
    compiled = compile_scenario(apply_overrides(tiny, ["strategy.name=proactive", BACKLOG]))
    company, spend = np.zeros(L.N_COMPANY), np.zeros(L.N_LEVERS)
    company[L.SEEN + L.OB_BACKLOG] = 4.0
    rules.weekly_spend(int(compiled.par[L.P_BURN_IN]) + 1, compiled.par, compiled.plan,
                       compiled.triggers, compiled.burn_in_spend, company, spend)
    base = compiled.plan[1, :L.N_LEVERS]
    moved = 0.5 * 2000.0 * np.array([0.7, 0, 0, 0.3, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(spend, 0.5 * base + moved, rtol=1e-12)


def test_engines_agree_with_phases_ramps_revenue_shares_and_triggers(tiny):
    overrides = ["cohort=120", 'strategy.phases=[{start=0, name="reactive"}, '
                 '{start=8, ramp=4, name="proactive", revenue_share=0.1}]', BACKLOG]
    batch = run(tiny, overrides, seeds=[0, 1])
    mesa = run(tiny, overrides, seeds=[0, 1], engine="mesa")
    assert batch["triggers"].sum() > 0 and batch["phase"].max() == 1
    assert_frames_identical(batch, mesa, ["seed", *L.INTEGER_COLUMNS])
    for column in L.STEP_COLUMNS:
        np.testing.assert_allclose(mesa[column], batch[column], rtol=1e-9, atol=1e-12,
                                   err_msg=column)


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize("override, expected", [
    ('strategy.phases=[{start=0, name="reactive"}, {start=31, name="proactive"}]',
     r"strategy\.phases\.1\.start: starts after the horizon \(week 31; the horizon is 30"),
    ('strategy.phases=[{start=0, name="reactive"}, {start=10, ramp=5, name="proactive"}, '
     '{start=12, name="none"}]', r"strategy\.phases\.2\.start: overlaps the phase before it"),
    ('strategy.phases=[{start=3, name="reactive"}]',
     r"strategy\.phases\.0\.start: the first phase starts at week 0"),
    ('strategy.phases=[{start=0, name="reactive", budget=5, revenue_share=0.1}]',
     r"strategy\.phases\.0: give budget .* or revenue_share"),
    ('strategy.phases=[{start=0, mix=0.5, name="reactive"}]',
     r"strategy\.phases\.0: give exactly one of name"),
    ('strategy.triggers=[{observe="queue", enter=3, leave=1, share=0.5, levers={staff=1}}]',
     r"strategy\.triggers\.0\.observe: .*'backlog'"),
    ('strategy.triggers=[{observe="backlog", enter=3, leave=5, share=0.5, levers={staff=1}}]',
     r"strategy\.triggers\.0: a trigger entered above 3 must leave at or below it"),
    ('strategy.triggers=[{observe="nps", when="below", enter=3, leave=1, share=0.5, '
     'levers={staff=1}}]', r"strategy\.triggers\.0: a trigger entered below 3 must leave at"),
    ('strategy.triggers=[{observe="burnout", enter=2, leave=0.5, share=0.5, levers={staff=1}}]',
     r"strategy\.triggers\.0\.enter: burnout lies in \[0, 1\]"),
    ('strategy.triggers=[{observe="backlog", enter=3, leave=1, share=0.5, levers={staff=0.5}}]',
     r"strategy\.triggers\.0\.levers: shares must sum to 1"),
    ('strategy.triggers=[{observe="backlog", enter=nan, leave=1, share=0.5, levers={staff=1}}]',
     r"strategy\.triggers\.0\.enter: Input should be a finite number"),
    ('start.strategy.phases=[{start=0, name="reactive"}]',
     r"start\.strategy\.phases: the burn-in keeps one fixed strategy"),
])
def test_phases_and_triggers_are_validated_with_one_line_errors(tiny, override, expected):
    with pytest.raises(ScenarioError) as err:
        apply_overrides(tiny, [override], source="--set")
    assert any(re.search(expected, line) for line in err.value.problems), \
        err.value.problems
    assert all("\n" not in line for line in err.value.problems)


def test_a_named_strategy_given_later_replaces_phases_and_triggers(tiny):
    phased = apply_overrides(tiny, [GLIDE, BACKLOG])
    assert phased.strategy.label == "phased+triggers"
    named = phased.with_strategy("reactive")
    assert named.strategy.phases is None and named.strategy.triggers == []
