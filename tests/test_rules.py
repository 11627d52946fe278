"""The model's rules one by one (simulation.rules): bounds, directions and shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulation import layout as L
from simulation import rules

# psychology defaults of the baseline, named as in MODEL.md
KAPPA, GAMMA, LAMBDA = 0.3, 2.5, 2.0
UNIT = np.linspace(0.0, 1.0, 21)
SIGNED = np.linspace(-1.0, 1.0, 21)


# ------------------------------------------------------------------------- appraisal

def valence(performance, expectation, mood, kappa=KAPPA, gamma=GAMMA, loss_aversion=LAMBDA):
    return rules.appraisal(performance, expectation, mood, kappa, gamma, loss_aversion)[1]


def test_appraisal_disconfirmation_is_performance_minus_expectation():
    for p in UNIT:
        for e in UNIT:
            d, v = rules.appraisal(p, e, 0.3, KAPPA, GAMMA, LAMBDA)
            assert d == pytest.approx(p - e, abs=1e-15)
            assert -1.0 <= v <= 1.0


def test_better_performance_never_lowers_valence():
    performance = np.linspace(0.0, 1.0, 101)
    for e in UNIT:
        for m in SIGNED:
            v = np.array([valence(p, e, m) for p in performance])
            assert np.all(np.diff(v) >= 0.0), (e, m)
            assert v[-1] > v[0], (e, m)  # and somewhere it raises it


def test_higher_expectation_never_raises_valence_and_better_mood_never_lowers_it():
    grid = np.linspace(0.0, 1.0, 51)
    moods = np.linspace(-1.0, 1.0, 51)
    for p in UNIT:
        by_expectation = np.array([valence(p, e, 0.0) for e in grid])
        assert np.all(np.diff(by_expectation) <= 0.0)
        by_mood = np.array([valence(p, 0.6, m) for m in moods])
        assert np.all(np.diff(by_mood) >= 0.0)
        assert by_mood[-1] > by_mood[0]  # mood congruence: kappa > 0 colours the appraisal


@pytest.mark.parametrize("loss_aversion", [1.5, 2.0, 3.0])
def test_a_loss_weighs_more_than_an_equal_gain(loss_aversion):
    for e in (0.3, 0.5, 0.7):
        for x in (0.01, 0.05, 0.1, 0.2, 0.3):
            gain = valence(e + x, e, 0.0, loss_aversion=loss_aversion)
            loss = valence(e - x, e, 0.0, loss_aversion=loss_aversion)
            assert gain > 0.0 > loss
            assert abs(loss) > gain


def test_without_loss_aversion_gains_and_losses_are_symmetric():
    for x in (0.05, 0.2):
        assert valence(0.5 + x, 0.5, 0.0, loss_aversion=1.0) == \
            pytest.approx(-valence(0.5 - x, 0.5, 0.0, loss_aversion=1.0), abs=1e-12)


# --------------------------------------------------------------- mood, satisfaction, ...

def test_mood_stays_in_bounds_even_under_extreme_shocks():
    for m in SIGNED:
        for v in SIGNED:
            for shock in (-5.0, -0.5, 0.0, 0.5, 5.0):
                for rho in (0.0, 0.7, 1.0):
                    assert -1.0 <= rules.next_mood(m, v, rho, shock) <= 1.0


def test_mood_moves_towards_the_valence():
    assert rules.next_mood(0.0, 1.0, 0.7, 0.0) == pytest.approx(0.3)
    assert rules.next_mood(0.0, -1.0, 0.7, 0.0) == pytest.approx(-0.3)
    assert rules.next_mood(0.5, 0.5, 0.7, 0.0) == pytest.approx(0.5)


def test_satisfaction_stays_in_unit_interval_and_moves_towards_the_valence():
    for s in UNIT:
        for v in SIGNED:
            for rate in (0.0, 0.08, 0.5, 1.0, 4.0):  # rate = alpha x salience may exceed 1
                new = rules.next_satisfaction(s, v, rate)
                assert 0.0 <= new <= 1.0
                target = (v + 1.0) / 2.0
                assert abs(new - target) <= abs(s - target) + 1e-15  # never overshoots
    assert rules.next_satisfaction(0.5, 1.0, 0.1) > 0.5
    assert rules.next_satisfaction(0.5, -1.0, 0.1) < 0.5


def test_expectation_stays_in_unit_interval_adapts_and_drifts_up():
    for e in UNIT:
        for p in UNIT:
            for drift in (0.0, 0.0002, 0.05):
                assert 0.0 <= rules.next_expectation(e, p, 0.3, drift) <= 1.0
    assert rules.next_expectation(0.5, 0.9, 0.1, 0.0) > 0.5
    assert rules.next_expectation(0.5, 0.1, 0.1, 0.0) < 0.5
    assert rules.next_expectation(0.5, 0.5, 0.1, 0.01) > 0.5  # market standards rise


# ----------------------------------------------------------------------------- trust


def next_trust(trust, d, gain=0.03, loss=0.25, tolerance=0.15, breach=0.3):
    return rules.next_trust(trust, d, gain, loss, tolerance, breach)


def test_trust_stays_in_unit_interval():
    for t in UNIT:
        for d in np.linspace(-1.0, 1.0, 41):
            for gain, loss in ((0.0, 0.0), (0.03, 0.25), (1.0, 1.0)):
                assert 0.0 <= next_trust(t, d, gain, loss) <= 1.0


def test_trust_rises_on_kept_promises_and_falls_on_a_breach():
    for t in np.linspace(0.05, 0.95, 19):
        for d in (0.3, 0.0, -0.1):  # delivered, or short by less than the tolerance
            assert next_trust(t, d) > t
        assert next_trust(t, -0.2) == t  # a disappointment, not a breach
        assert next_trust(t, -0.5) < t   # a breach


def test_trust_falls_sharply_and_is_slow_to_rebuild():
    t = 0.6
    for _ in range(10):
        drop = t - next_trust(t, -0.5)
        rise = next_trust(t, 0.0) - t
        assert drop > 3 * rise
    trust = next_trust(t, -0.5)
    for weeks in range(1, 1001):  # bounded: a rule that never rebuilds fails instead of hanging
        trust = next_trust(trust, 0.0)
        if trust >= t:
            break
    assert trust >= t, "trust never came back within 1,000 kept promises"
    assert weeks > 5  # one breach undoes many weeks of kept promises


# -------------------------------------------------------------------------- peak-end

def test_peak_end_evaluation_without_experiences_is_the_attitude():
    assert rules.evaluated_satisfaction(0.63, -1.0, -1.0, 0, 0.25, 0.25) == 0.63


def test_peak_end_evaluation_weighs_the_worst_and_the_last_moment():
    s = 0.7
    # neutral worst and last moments (valence 0 maps to 0.5)
    base = rules.evaluated_satisfaction(s, 0.0, 0.0, 3, 0.25, 0.25)
    assert base == pytest.approx(0.5 * s + 0.25 * 0.5 + 0.25 * 0.5)
    worse_peak = rules.evaluated_satisfaction(s, -0.9, 0.0, 3, 0.25, 0.25)
    better_end = rules.evaluated_satisfaction(s, 0.0, 0.8, 3, 0.25, 0.25)
    assert worse_peak < base < better_end
    # weights zero: the attitude alone
    assert rules.evaluated_satisfaction(s, -1.0, -1.0, 3, 0.0, 0.0) == pytest.approx(s)
    for worst in SIGNED:
        for last in SIGNED:
            for sat in UNIT:
                assert 0.0 <= rules.evaluated_satisfaction(sat, worst, last, 2, 0.3, 0.4) <= 1.0


def test_a_good_end_redeems_a_bad_peak_only_partly():
    bad_then_good = rules.evaluated_satisfaction(0.6, -1.0, 1.0, 4, 0.25, 0.25)
    good_throughout = rules.evaluated_satisfaction(0.6, 1.0, 1.0, 4, 0.25, 0.25)
    assert bad_then_good < good_throughout


# ---------------------------------------------------------------------------- churn

def churn_p(par, s=0.6, trust=0.6, effort=0.5, issue=0, competitor=1.0, bias=0.0, weight=1.0):
    return rules.churn_probability(s, trust, effort, issue, competitor, bias, weight, par)


def test_churn_probability_is_strictly_inside_0_1(par):
    for s in UNIT:
        for t in UNIT:
            for effort in (0.0, 2.0, 10.0):
                for issue in (0, 1):
                    p = churn_p(par, s, t, effort, issue, competitor=1.6, bias=0.2)
                    assert 0.0 < p < 1.0


def test_churn_probability_falls_with_satisfaction_and_trust_and_rises_with_effort(par):
    grid = np.linspace(0.0, 1.0, 41)
    assert np.all(np.diff([churn_p(par, s=s) for s in grid]) < 0.0)
    assert np.all(np.diff([churn_p(par, trust=t) for t in grid]) < 0.0)
    assert np.all(np.diff([churn_p(par, effort=e) for e in np.linspace(0, 10, 41)]) > 0.0)
    assert churn_p(par, issue=1) > churn_p(par, issue=0)
    assert churn_p(par, competitor=2.0) > churn_p(par, competitor=1.0)
    assert churn_p(par, bias=0.5) > churn_p(par, bias=-0.5)
    assert churn_p(par, effort=3.0, weight=1.5) > churn_p(par, effort=3.0, weight=1.0)


def test_churn_probability_is_a_logistic_of_the_drivers(par):
    z = (par[L.P_C0] - par[L.P_CS] * 0.6 - par[L.P_CTAU] * 0.6 + par[L.P_CEFFORT] * 0.5
         + par[L.P_CCOMP] * 1.0)
    assert churn_p(par) == pytest.approx(1.0 / (1.0 + math.exp(-z)), rel=1e-12)


def test_competitor_pull_grows_over_the_years():
    assert rules.competitor_pull(0, 0.2) == pytest.approx(1.0)
    assert rules.competitor_pull(52, 0.2) == pytest.approx(1.2)
    assert rules.competitor_pull(104, 0.0) == pytest.approx(1.0)


def test_competitor_pull_before_week_0_falls_to_no_competitor_at_most():
    assert rules.competitor_pull(-52, 0.2) == pytest.approx(0.8)
    assert rules.competitor_pull(-52, 1.0) == 0.0
    assert rules.competitor_pull(-5200, 1.0) == 0.0  # a long burn-in: never negative


# --------------------------------------------------------------- likelihood to recommend

def test_likelihood_to_recommend_is_an_integer_0_to_10_and_monotone(par):
    scores = np.empty((len(UNIT), len(UNIT), len(SIGNED)), dtype=np.int64)
    for a, s in enumerate(UNIT):
        for b, t in enumerate(UNIT):
            for c, m in enumerate(SIGNED):
                value = rules.likelihood_to_recommend(s, t, m, par)
                assert isinstance(value, (int, np.integer))
                scores[a, b, c] = value
    assert scores.min() == 0 and scores.max() == 10
    assert rules.likelihood_to_recommend(1.0, 1.0, 1.0, par) == 10
    assert rules.likelihood_to_recommend(0.0, 0.0, -1.0, par) == 0
    for axis in range(3):
        assert np.all(np.diff(scores, axis=axis) >= 0)


def test_promoters_and_detractors_from_the_unrounded_answer_match_the_0_to_10_scale(par):
    """promoter_or_detractor (both summaries' one rule) compares the unrounded answer (>= 9,
    < 7); that must be the same as rounding down to 0-10 first (9-10 promote, 0-6 detract),
    including at the boundaries."""
    rng_ = np.random.default_rng(7)
    states = list(zip(rng_.uniform(0, 1, 20_000), rng_.uniform(0, 1, 20_000),
                      rng_.uniform(-1, 1, 20_000)))
    for level in (7.0, 9.0):  # satisfaction putting the answer at (or next to) a boundary
        for t, m in ((0.3, -0.2), (0.8, 0.5), (0.0, 0.0)):
            exact = (level / 11.0 - par[L.P_LTR_TRUST] * t
                     - par[L.P_LTR_MOOD] * (m + 1.0) * 0.5) / par[L.P_LTR_S]
            states += [(s, t, m) for s in np.nextafter(exact, [-1, 2, exact])]
    seen = set()
    for s, t, m in states:
        answer = rules.recommendation(s, t, m, par)
        ltr = rules.likelihood_to_recommend(s, t, m, par)
        assert 0.0 <= answer <= 11.0
        promoter, detractor = rules.promoter_or_detractor(s, t, m, par)
        assert promoter == (ltr >= 9) and detractor == (ltr <= 6), (s, t, m)
        seen.add(ltr)
    assert {0, 6, 7, 8, 9, 10} <= seen


# --------------------------------------------------------------------------- burnout

def test_burnout_grows_under_excess_demand_and_heals_otherwise():
    rate, heal = 0.08, 0.1
    for b in np.linspace(0.0, 0.95, 20):
        grown = rules.next_burnout(b, 150, 100, rate, heal, 0.0)
        assert b < grown <= 1.0
        if b > 0.0:
            healed = rules.next_burnout(b, 80, 100, rate, heal, 0.0)
            assert 0.0 <= healed < b
            assert rules.next_burnout(b, 100, 100, rate, heal, 0.0) < b  # demand = capacity
    assert rules.next_burnout(0.0, 50, 100, rate, heal, 0.0) == 0.0
    # the more the excess, the faster it grows (up to double demand)
    assert rules.next_burnout(0.2, 120, 100, rate, heal, 0.0) < \
        rules.next_burnout(0.2, 180, 100, rate, heal, 0.0)
    # a desk without capacity facing demand burns at full pressure
    assert rules.next_burnout(0.2, 5, 0, rate, heal, 0.0) == \
        pytest.approx(rules.next_burnout(0.2, 400, 100, rate, heal, 0.0))


def test_burnout_stays_in_unit_interval_over_long_stretches():
    b = 0.0
    for week in range(500):
        demand = 300 if (week // 50) % 2 == 0 else 10
        b = rules.next_burnout(b, demand, 100, 1.0, 1.0, 0.0)
        assert 0.0 <= b <= 1.0


def test_staff_spend_slows_burnout_and_speeds_healing():
    assert rules.next_burnout(0.3, 150, 100, 0.08, 0.1, 0.5) < \
        rules.next_burnout(0.3, 150, 100, 0.08, 0.1, 0.0)
    assert rules.next_burnout(0.3, 50, 100, 0.08, 0.1, 0.5) < \
        rules.next_burnout(0.3, 50, 100, 0.08, 0.1, 0.0)


# ---------------------------------------------------------------------------- levers

def spend_for(lever: int, amount: float) -> np.ndarray:
    spend = np.zeros(L.N_LEVERS)
    spend[lever] = amount
    return spend


def run_levers(levers, spends) -> np.ndarray:
    """Company state after each week of ``spends``; returns (weeks, N_COMPANY)."""
    company = np.zeros(L.N_COMPANY)
    history = []
    for spend in spends:
        rules.update_levers(company, levers, spend)
        history.append(company.copy())
    return np.array(history)


def test_lever_effect_has_diminishing_returns_up_to_its_ceiling():
    stocks = np.linspace(0.0, 200_000.0, 201)
    effects = np.array([rules.lever_effect(s, 20_000.0, 0.6) for s in stocks])
    assert effects[0] == 0.0
    assert np.all(np.diff(effects) > 0.0)
    assert np.all(np.diff(effects, 2) < 0.0)
    assert effects.max() < 0.6 and effects[-1] > 0.59


@pytest.mark.parametrize("name", ["training", "recovery", "staff", "capacity"])
def test_a_reactive_lever_has_no_effect_the_week_after_spending_stops(lever_table, name):
    lever = {"capacity": L.CAPACITY, "training": L.TRAINING, "recovery": L.RECOVERY,
             "staff": L.STAFF}[name]
    assert lever_table[L.LV_DEPRECIATION, lever] == 1.0
    weeks = [spend_for(lever, 500.0)] * 30 + [spend_for(lever, 0.0)] * 3
    history = run_levers(lever_table, weeks)
    assert history[29, L.EFFECT + lever] > 0.0             # working while paid for
    assert history[0, L.EFFECT + lever] == history[29, L.EFFECT + lever]  # a flow: no build-up
    assert np.all(history[30:, L.STOCK + lever] == 0.0)
    assert np.all(history[30:, L.EFFECT + lever] == 0.0)


def test_capacity_buys_one_slot_per_cost_per_slot(lever_table):
    cost = lever_table[L.LV_SCALE, L.CAPACITY]
    for slots in (0, 1, 7, 66):
        history = run_levers(lever_table, [spend_for(L.CAPACITY, slots * cost)])
        assert history[0, L.EFFECT + L.CAPACITY] == slots
    history = run_levers(lever_table, [spend_for(L.CAPACITY, 2.5 * cost)])
    assert history[0, L.EFFECT + L.CAPACITY] == 2  # whole slots only


@pytest.mark.parametrize("name, lever", [("reliability", L.RELIABILITY),
                                         ("consistency", L.CONSISTENCY),
                                         ("outreach", L.OUTREACH),
                                         ("self_service", L.SELF_SERVICE),
                                         ("relationship", L.RELATIONSHIP)])
def test_a_proactive_lever_keeps_most_of_its_effect_long_after_spending_stops(
        lever_table, name, lever):
    dep = lever_table[L.LV_DEPRECIATION, lever]
    assert 0.0 < dep <= 0.05
    paid, after = 104, 52
    weeks = [spend_for(lever, 600.0)] * paid + [spend_for(lever, 0.0)] * after
    history = run_levers(lever_table, weeks)
    stock = history[:, L.STOCK + lever]
    effect = history[:, L.EFFECT + lever]
    # while paid for, the stock builds up: S_t = (1 - dep) S_{t-1} + spend
    assert np.all(np.diff(stock[:paid]) > 0.0)
    np.testing.assert_allclose(stock[1:paid], (1 - dep) * stock[:paid - 1] + 600.0, rtol=1e-12)
    # after spending stops, the stock multiplies by exactly (1 - dep) each week
    at_stop = stock[paid - 1]
    for k in range(1, after + 1):
        assert stock[paid - 1 + k] == pytest.approx(at_stop * (1.0 - dep) ** k, rel=1e-12)
    # ... and the effect decays with it, slowly: most of it is still there after 8 weeks
    assert np.all(np.diff(effect[paid - 1:]) < 0.0)
    assert effect[paid - 1 + 8] > 0.6 * effect[paid - 1]
    if dep <= 0.02:
        assert effect[paid - 1 + 26] > 0.6 * effect[paid - 1]  # half a year later


def test_update_levers_records_the_week_total_spend(lever_table):
    spend = np.arange(1.0, L.N_LEVERS + 1.0) * 10.0
    history = run_levers(lever_table, [spend, spend * 0.0])
    assert history[0, L.SPEND] == pytest.approx(spend.sum())
    assert history[1, L.SPEND] == 0.0


# ------------------------------------------------------------------------------ moves

def test_the_move_guide_starts_each_search_at_or_below_the_touchpoint_a_full_count_gives():
    """rules.visit moves to the number of bounds u passes, searching up from the guide's
    cell: the guide must never overshoot, and is exact at the start of each cell."""
    from simulation.compiled import move_guide

    rs = np.random.default_rng(3)
    probabilities = rs.dirichlet(np.full(8, 0.4), size=8)
    probabilities[2] = [0, 0, 0.5, 0, 0.5, 0, 0, 0]  # zero-probability moves: repeated bounds
    cum = np.cumsum(probabilities, axis=1)
    cum[:, -1] = 1.0
    guide = move_guide(cum)
    cell_starts = np.arange(L.MOVE_GUIDE_CELLS) / L.MOVE_GUIDE_CELLS
    u = np.concatenate([rs.random(20_000), cell_starts, cum[:, :-1].ravel()])
    u = u[u < 1.0]
    for here in range(8):
        full = np.searchsorted(cum[here, :-1], u, side="right")  # bounds <= u
        start = guide[here, (u * L.MOVE_GUIDE_CELLS).astype(int)]
        assert np.all(start <= full)
        assert np.mean(start == full) > 0.95  # the search almost always stops at once
        at_start = np.searchsorted(cum[here, :-1], cell_starts, side="right")
        assert np.array_equal(guide[here], at_start)


# ------------------------------------------------------------------- voice and propensity

def test_voice_probability_is_the_trivial_issue_propensity_raised_by_severity_and_effort():
    for propensity in (0.05, 0.3, 0.7):
        assert rules.voice_probability(propensity, 0.0, 0.0, 1.0, 0.5) == pytest.approx(
            propensity, rel=1e-12)
        by_severity = [rules.voice_probability(propensity, s, 0.0, 1.0, 0.5) for s in UNIT]
        by_effort = [rules.voice_probability(propensity, 0.5, e, 1.0, 0.5)
                     for e in np.linspace(0.0, 5.0, 21)]
        assert np.all(np.diff(by_severity) > 0.0) and np.all(np.diff(by_effort) > 0.0)
        # the weights multiply the odds: log-odds rise by w_sev * severity + w_eff * effort
        p = rules.voice_probability(propensity, 0.6, 1.2, 1.0, 0.5)
        odds = propensity / (1 - propensity) * math.exp(0.6 + 0.6)
        assert p == pytest.approx(odds / (1 + odds), rel=1e-12)
    # a segment that never (always) voices never (always) does, whatever the issue
    for severity, effort in ((0.0, 0.0), (1.0, 10.0)):
        assert rules.voice_probability(0.0, severity, effort, 1.0, 0.5) == 0.0
        assert rules.voice_probability(1.0, severity, effort, 1.0, 0.5) == 1.0


def _joined(baseline_compiled, spread, n=20_000, key=np.uint64(12345)):
    seg = baseline_compiled.seg.copy()
    seg[L.SEG_CHURN_SPREAD] = spread
    fs = np.zeros((L.N_FLOAT_STATE, n))
    ist = np.zeros((L.N_INT_STATE, n), dtype=np.int64)
    for i in range(n):
        rules.join(fs, ist, i, 0, key, seg, baseline_compiled.par, False)
    return fs[L.CHURN_PROPENSITY], ist[L.SEGMENT]


def test_each_customer_draws_a_churn_propensity_with_the_segments_spread(baseline):
    from simulation.compiled import compile_scenario

    compiled = compile_scenario(baseline)
    unit, segments = _joined(compiled, 1.0)
    # a standard normal: mean within 4 standard errors of 0, sd within 3%
    assert abs(unit.mean()) < 4 / math.sqrt(len(unit))
    assert unit.std() == pytest.approx(1.0, rel=0.03)
    # the spread scales the same draw; the segment's own draw is untouched by it
    wide, same_segments = _joined(compiled, 2.5)
    np.testing.assert_array_equal(wide, 2.5 * unit)
    np.testing.assert_array_equal(same_segments, segments)
    none, _ = _joined(compiled, 0.0)
    assert (none == 0.0).all()
    # independent of the segment: each segment's propensities have the same distribution
    for s in range(compiled.seg.shape[1]):
        mine = unit[segments == s]
        assert abs(mine.mean()) < 4 / math.sqrt(len(mine))
