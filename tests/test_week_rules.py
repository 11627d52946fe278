"""The parts of a week (simulation.rules), each called on customers built by hand.

Engine identity cannot catch a wrong rule (both engines run the same rules), so each part
of a week is checked here against what it must do and what it must never do: the desk serves
exactly its capacity, oldest first, ties in a random but reproducible order; effort decays
every week for those who stay; customers decide only at decision touchpoints and leave
silently only under an open issue and high effort; a new issue gets one response (perhaps
self-service, then voice or silence) and an issue lived with is never voiced later but fades;
every decision takes its own draw.

"Its own draw" is checked exactly: a test recomputes a decision from the stream the model
says it uses (``rng.uniform(key, customer, step, purpose)``) and requires the same outcome
for every customer, so a rule that reads another purpose's draw, or one draw for two
decisions, fails. Where the model is random the tests are statistical, over thousands of
customers, with the tolerance stated (z below ``Z``: a false alarm about once in 10^5).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from simulation import layout as L
from simulation import load_scenario, rng, rules
from simulation.compiled import compile_scenario, move_guide

from .conftest import BASELINE

KEY = np.uint64(0x5EED_CAFE_F00D)
OTHER_KEY = np.uint64(0xBAD_D00D)
STEP = 30
Z = 4.5  # statistical checks fail beyond 4.5 standard errors


@pytest.fixture(scope="module")
def model():
    """The baseline's compiled arrays (each test takes copies to change)."""
    return compile_scenario(load_scenario(BASELINE))


def parameters(model, **values):
    """A copy of the baseline's scalar parameters with some slots (``P_...`` names) set."""
    par = model.par.copy()
    for name, value in values.items():
        par[getattr(L, name)] = value
    return par


def customers(n, tp_index=2, segment=0):
    """``n`` active customers at one touchpoint, no open issue, nothing queued."""
    fs = np.zeros((L.N_FLOAT_STATE, n))
    fs[L.EXPECTATION] = 0.55
    fs[L.SATISFACTION] = 0.7
    fs[L.TRUST] = 0.6
    fs[L.WORST] = 1.0
    ist = np.zeros((L.N_INT_STATE, n), dtype=np.int64)
    ist[L.ACTIVE] = 1
    ist[L.TOUCHPOINT] = tp_index
    ist[L.SEGMENT] = segment
    ist[L.CHURN_STEP] = -1
    ist[L.QUEUED_SINCE] = -1
    return SimpleNamespace(n=n, fs=fs, ist=ist, ids=np.arange(n, dtype=np.int64),
                           company=np.zeros(L.N_COMPANY), tally=np.zeros(L.N_TALLY),
                           work=np.zeros((L.N_WORK, n)), queue=np.zeros(n, dtype=np.int64))


def uniforms(purpose, ids, key=KEY, step=STEP):
    return np.array([rng.uniform(key, int(i), step, purpose) for i in ids])


def within(observed, n, p):
    """An observed count agrees with Binomial(n, p) within ``Z`` standard errors."""
    sd = math.sqrt(n * p * (1.0 - p))
    return abs(observed - n * p) <= Z * sd + 1e-9


def within_each(observed, chances):
    """An observed count of independent events with these chances agrees with its mean
    within ``Z`` standard errors."""
    chances = np.asarray(chances, dtype=float)
    sd = math.sqrt((chances * (1.0 - chances)).sum())
    return abs(observed - chances.sum()) <= Z * sd + 1e-9


def decided(draws, chances):
    """Which ``draw < chance`` decisions come out yes, for chances recomputed here from the
    documented formulas (numpy's exp, not the model's inlined one): no draw may lie so close
    to its chance that a last-digit difference could decide it."""
    assert np.min(np.abs(draws - chances)) > 1e-12
    return draws < chances


def documented_voice(propensity, severity, effort, severity_weight, effort_weight):
    """docs/model.md 3.3.6: the propensity's odds times exp(w_sev x severity + w_eff x effort)."""
    odds = propensity * np.exp(severity_weight * severity + effort_weight * effort)
    return odds / (1.0 - propensity + odds)


# ------------------------------------------------------------------------------ the desk

def serve(c, model, par, key=KEY, step=STEP, seg=None):
    rules.serve_desk(c.ids, c.n, c.fs, c.ist, step, key,
                     model.seg if seg is None else seg, par, c.company, c.tally, c.queue,
                     None, None)  # no diagnostic records


def desk_par(model, capacity, fcr=0.0, **values):
    """A desk of ``capacity`` slots that resolves with probability ``fcr`` (no severity)."""
    return parameters(model, P_BASE_CAPACITY=capacity, P_FCR=fcr, P_FCR_MAX=fcr, **values)


def queued(n, since):
    c = customers(n)
    c.ist[L.ISSUE_OPEN] = 1
    c.ist[L.QUEUED_SINCE] = since
    return c


def served_mask(c, since, step=STEP):
    """Who the desk took this week: its unresolved customers call again next week
    (queued since step + 1), the resolved ones leave the queue with the issue closed."""
    again = c.ist[L.QUEUED_SINCE] == step + 1
    resolved = (c.ist[L.QUEUED_SINCE] == -1) & (c.ist[L.ISSUE_OPEN] == 0)
    assert np.all(again | resolved | (c.ist[L.QUEUED_SINCE] == since))
    return again | resolved


def segments(model, **rows):
    seg = model.seg.copy()
    for name, value in rows.items():
        seg[getattr(L, name)] = value
    return seg


@pytest.mark.parametrize("capacity, waiting", [(4, 10), (7, 8), (1, 5), (0, 6), (5, 5), (9, 3)])
def test_the_desk_serves_exactly_its_capacity_or_the_whole_queue(model, capacity, waiting):
    since = np.arange(waiting, dtype=np.int64) % 3 + 20
    c = queued(waiting, since)
    seg = segments(model, SEG_ABANDON=0.0)
    serve(c, model, desk_par(model, capacity), seg=seg)
    served = served_mask(c, since)
    assert served.sum() == min(capacity, waiting)
    assert c.tally[L.T_SERVED] == min(capacity, waiting)
    assert c.tally[L.T_CONTACTS] == min(capacity, waiting)  # fcr 0: all call again
    assert c.tally[L.T_WAIT_SUM] == (STEP - since[served]).sum()


def test_capacity_bought_by_the_capacity_lever_counts_too(model):
    c = queued(10, 20)
    c.company[L.EFFECT + L.CAPACITY] = 3.0
    serve(c, model, desk_par(model, 2), seg=segments(model, SEG_ABANDON=0.0))
    assert served_mask(c, 20).sum() == 5


def test_the_desk_serves_the_oldest_first(model):
    rng_ = np.random.default_rng(1)
    since = rng_.permutation(np.arange(5, 25)).astype(np.int64)  # 20 distinct weeks
    c = queued(20, since)
    serve(c, model, desk_par(model, 6), seg=segments(model, SEG_ABANDON=0.0))
    served = served_mask(c, since)
    assert set(np.flatnonzero(served)) == set(np.argsort(since)[:6])


def tie_order(c, since, key, step=STEP):
    """The queue order the model promises: oldest first, then the random tie key, then id."""
    tie = [int(rng.bits(key, int(i), step, rng.QUEUE_KEY)) >> (64 - 20) for i in c.ids]
    return sorted(c.ids, key=lambda i: (since[i], tie[i], i))


def test_ties_are_broken_by_the_queue_key_stream_reproducibly(model):
    since = np.full(40, 12, dtype=np.int64)
    since[30:] = 11  # ten older customers go first whatever their draws
    picked = []
    for key in (KEY, OTHER_KEY, KEY):
        c = queued(40, since)
        serve(c, model, desk_par(model, 15), key=key, seg=segments(model, SEG_ABANDON=0.0))
        served = set(np.flatnonzero(served_mask(c, since)))
        assert set(range(30, 40)) <= served
        assert served == set(tie_order(c, since, key)[:15])
        picked.append(served)
    assert picked[0] == picked[2]  # the same key serves the same customers
    assert picked[0] != picked[1]  # another key breaks the ties another way


def test_ties_favour_no_customer_number(model):
    """Over 400 keys, each of 40 tied customers is served a quarter of the time: the
    lower ids are not served first (tolerance: Z standard errors on the half's count)."""
    count = np.zeros(40)
    keys = rng.run_keys(3, range(400))
    seg = segments(model, SEG_ABANDON=0.0)
    for key in keys:
        c = queued(40, 7)
        serve(c, model, desk_par(model, 10), key=key, seg=seg)
        count += served_mask(c, 7)
    trials = 400 * 20
    assert within(count[:20].sum(), trials, 0.25)
    assert within(count[20:].sum(), trials, 0.25)


def test_only_customers_the_desk_could_not_serve_give_up_and_their_issue_stays_open(model):
    since = np.arange(8, dtype=np.int64) + 10
    c = queued(8, since)
    par = desk_par(model, 3, P_WAIT_EFFORT=0.125, P_CONTACT_EFFORT=0.5)
    serve(c, model, par, seg=segments(model, SEG_ABANDON=1.0))
    assert np.array_equal(c.ist[L.QUEUED_SINCE, :3], np.full(3, STEP + 1))  # served: again
    assert np.all(c.ist[L.QUEUED_SINCE, 3:] == -1)  # every unserved one gives up ...
    assert np.all(c.ist[L.ISSUE_OPEN] == 1)  # ... into silence: the issue stays open
    assert np.array_equal(c.ist[L.ISSUE_SILENT], [0] * 3 + [1] * 5)  # and is lived with
    assert np.array_equal(c.fs[L.EFFORT], [0.5] * 3 + [0.125] * 5)
    eager = segments(model, SEG_SELF_SERVICE=[1.0] * 3, SEG_VOICE=[1.0] * 3)
    respond(c, model, eager, parameters(model, P_FADE_RATE=0.0, P_SILENT_EFFORT=2.0,
                                        P_KB_BASE=1.0), step=STEP + 1)  # next week:
    assert np.array_equal(c.ist[L.QUEUED_SINCE], [STEP + 1] * 3 + [-1] * 5)  # never again
    assert np.array_equal(c.fs[L.EFFORT], [0.5] * 3 + [2.125] * 5)  # the silent cost
    assert c.tally[L.T_SELF_SERVED] == 0 and np.all(c.ist[L.ISSUE_OPEN] == 1)


def test_waiting_customers_give_up_on_their_own_stream_at_their_segments_rate(model):
    n = 3000
    c = queued(n, 4)
    c.ist[L.SEGMENT] = np.arange(n) % 3
    abandon = np.array([0.1, 0.35, 0.8])
    serve(c, model, desk_par(model, 0), seg=segments(model, SEG_ABANDON=abandon))
    gave_up = c.ist[L.QUEUED_SINCE] == -1
    expected = uniforms(rng.ABANDON, c.ids) < abandon[c.ist[L.SEGMENT]]
    assert np.array_equal(gave_up, expected)
    for s in range(3):
        assert within(gave_up[c.ist[L.SEGMENT] == s].sum(), n // 3, abandon[s])


def test_a_resolved_contact_closes_the_issue_and_is_appraised_as_a_recovery(model):
    c = queued(6, 25)
    c.fs[L.MOOD] = np.linspace(-0.6, 0.4, 6)
    c.fs[L.EXPECTATION] = np.linspace(0.3, 0.8, 6)
    c.fs[L.WORST] = np.linspace(-0.9, 0.2, 6)
    c.ist[L.CYCLE_COUNT] = 3
    c.company[L.EFFECT + L.RECOVERY] = 0.4
    c.company[L.BURNOUT] = 0.25
    par = desk_par(model, 10, fcr=1.0, P_BURNOUT_PENALTY=0.0)
    before = c.fs.copy()
    serve(c, model, par)
    assert np.all(c.ist[L.ISSUE_OPEN] == 0) and np.all(c.ist[L.QUEUED_SINCE] == -1)
    assert np.all(c.ist[L.CYCLE_COUNT] == 4)
    assert c.tally[L.T_RESOLVED] == 6 and c.tally[L.T_CONTACTS] == 0
    recovery = rules.recovery_quality(c.company, par)
    psy = rules.psychology(par)
    for i in range(6):
        want = rules.learn(before[L.MOOD, i], before[L.EXPECTATION, i],
                           before[L.SATISFACTION, i], before[L.TRUST, i], before[L.WORST, i],
                           recovery, par[L.P_RECOVERY_SALIENCE], 0.0, psy)
        got = tuple(c.fs[row, i] for row in (L.MOOD, L.EXPECTATION, L.SATISFACTION, L.TRUST,
                                               L.WORST, L.LAST))
        assert got == want
        assert c.fs[L.EFFORT, i] == before[L.EFFORT, i]  # a resolution costs no effort


def test_resolution_follows_its_own_stream_and_its_probability(model):
    n = 4000
    c = queued(n, 9)
    c.fs[L.SEVERITY] = np.linspace(0.0, 1.0, n)
    c.company[L.BURNOUT] = 0.5
    c.company[L.EFFECT + L.TRAINING] = 0.5
    par = parameters(model, P_BASE_CAPACITY=n, P_FCR=0.5, P_FCR_MAX=0.9,
                     P_BURNOUT_PENALTY=0.4)
    serve(c, model, par)
    resolved = c.ist[L.ISSUE_OPEN] == 0
    fcr = 0.5 + (0.9 - 0.5) * 0.5
    chance = fcr * (1.0 - 0.5 * c.fs[L.SEVERITY]) * (1.0 - 0.4 * 0.5)
    assert np.array_equal(resolved, uniforms(rng.RESOLUTION, c.ids) < chance)
    assert within(resolved.sum(), n, chance.mean())
    assert c.tally[L.T_RESOLVED] == resolved.sum()
    assert c.tally[L.T_CONTACTS] == n - resolved.sum()  # the rest call again


@pytest.mark.parametrize("waiting, capacity", [(8, 4), (30, 4), (5, 0)])
def test_burnout_grows_only_while_the_queue_is_longer_than_the_desk(model, waiting, capacity):
    c = queued(waiting, 3)
    c.company[L.BURNOUT] = 0.2
    par = desk_par(model, capacity, P_BURNOUT_RATE=0.1, P_BURNOUT_HEAL=0.05)
    serve(c, model, par)
    pressure = 1.0 if capacity == 0 else min(1.0, waiting / capacity - 1.0)
    assert c.company[L.BURNOUT] == 0.2 + 0.1 * pressure * (1.0 - 0.2)


@pytest.mark.parametrize("waiting", [0, 3, 4])
def test_burnout_heals_when_the_desk_keeps_up(model, waiting):
    c = queued(max(waiting, 1), 3)
    c.ist[L.QUEUED_SINCE, waiting:] = -1
    c.company[L.BURNOUT] = 0.2
    c.company[L.EFFECT + L.STAFF] = 0.5
    serve(c, model, desk_par(model, 4, P_BURNOUT_RATE=0.1, P_BURNOUT_HEAL=0.05))
    assert c.company[L.BURNOUT] == 0.2 - min(1.0, 0.05 * 1.5) * 0.2


def test_customers_not_in_the_queue_are_left_alone(model):
    c = queued(12, 5)
    c.ist[L.QUEUED_SINCE, ::2] = -1
    before_f, before_i = c.fs.copy(), c.ist.copy()
    serve(c, model, desk_par(model, 1, fcr=1.0), seg=segments(model, SEG_ABANDON=1.0))
    assert np.array_equal(c.fs[:, ::2], before_f[:, ::2])
    assert np.array_equal(c.ist[:, ::2], before_i[:, ::2])


# ------------------------------------------------------------------------- decisions

def decide(c, model, par, tp=None, key=KEY, step=STEP, seg=None):
    return rules.decide(c.ids, c.n, c.fs, c.ist, step, key, model.tp if tp is None else tp,
                        model.seg if seg is None else seg, par, c.tally, c.queue, None, None,
                        None)


def decision_points(model):
    decision = np.flatnonzero(model.tp[L.TP_DECISION] > 0.0)
    plain = np.flatnonzero(model.tp[L.TP_DECISION] == 0.0)
    assert decision.size and plain.size
    return decision, plain


def test_effort_decays_every_week_for_everyone_who_stays(model):
    decision, plain = decision_points(model)
    n = 200
    c = customers(n)
    c.ist[L.TOUCHPOINT] = np.where(np.arange(n) % 2 == 0, decision[0], plain[0])
    c.fs[L.EFFORT] = np.linspace(0.0, 6.0, n)
    c.ist[L.ISSUE_OPEN, ::3] = 1
    before = c.fs[L.EFFORT].copy()
    par = parameters(model, P_EFFORT_DECAY=0.15, P_C0=-60.0, P_SILENT_RATE=0.0)
    assert decide(c, model, par) == n
    assert np.array_equal(c.fs[L.EFFORT], before * (1.0 - 0.15))


def test_nobody_leaves_between_decision_touchpoints_without_an_open_issue(model):
    _, plain = decision_points(model)
    c = customers(300)
    c.ist[L.TOUCHPOINT] = plain[np.arange(300) % plain.size]
    c.fs[L.EFFORT] = 50.0
    c.fs[L.SATISFACTION] = 0.0
    c.fs[L.TRUST] = 0.0
    par = parameters(model, P_C0=60.0, P_SILENT_RATE=1.0)  # certain churn at a decision
    memory = c.fs[[L.WORST, L.LAST]].copy(), c.ist[L.CYCLE_COUNT].copy()
    assert decide(c, model, par) == 300
    assert c.tally[L.T_CHURNED] == 0 and np.all(c.ist[L.ACTIVE] == 1)
    assert np.array_equal(c.fs[[L.WORST, L.LAST]], memory[0])  # no decision, no reset
    assert np.array_equal(c.ist[L.CYCLE_COUNT], memory[1])


@pytest.mark.parametrize("base, leaving", [(60.0, 300), (-60.0, 0)])
def test_at_a_decision_touchpoint_the_churn_probability_decides(model, base, leaving):
    decision, _ = decision_points(model)
    c = customers(300, tp_index=decision[-1])
    assert decide(c, model, parameters(model, P_C0=base)) == 300 - leaving
    assert c.tally[L.T_CHURNED] == leaving


def test_a_decision_resets_the_cycles_memory_of_those_who_stay(model):
    decision, _ = decision_points(model)
    c = customers(50, tp_index=decision[0])
    c.fs[L.WORST] = -0.7
    c.fs[L.LAST] = 0.3
    c.ist[L.CYCLE_COUNT] = 5
    assert decide(c, model, parameters(model, P_C0=-60.0)) == 50
    assert np.all(c.fs[L.WORST] == 1.0) and np.all(c.fs[L.LAST] == 0.0)
    assert np.all(c.ist[L.CYCLE_COUNT] == 0)


def test_churn_at_a_decision_takes_the_churn_stream_and_the_peak_end_probability(model):
    """docs/model.md 3.3.11-3.3.12, recomputed here: z = c0 + bias_seg + eta - c_s s_eval
    - c_tau tau + c_eps w_eps,seg eps + c_i I + c_c pull(t), with the customer's own
    propensity eta and t counted in weeks from week 0 (negative in a burn-in)."""
    decision, _ = decision_points(model)
    n = 3000
    c = customers(n, tp_index=decision[0])
    spread = np.random.default_rng(7)
    c.ist[L.SEGMENT] = np.arange(n) % 3
    c.fs[L.SATISFACTION] = spread.uniform(0.2, 0.9, n)
    c.fs[L.TRUST] = spread.uniform(0.2, 0.9, n)
    c.fs[L.EFFORT] = spread.uniform(0.0, 3.0, n)
    c.fs[L.WORST] = spread.uniform(-1.0, 0.5, n)
    c.fs[L.LAST] = spread.uniform(-0.5, 1.0, n)
    c.fs[L.CHURN_PROPENSITY] = spread.normal(0.0, 1.5, n)  # each customer's own
    c.ist[L.CYCLE_COUNT] = np.arange(n) % 4  # some with no experience since the last one
    c.ist[L.ISSUE_OPEN] = np.arange(n) % 5 == 0
    par = parameters(model, P_C0=2.5, P_BURN_IN=50.0, P_COMP_GROWTH=0.6)
    state = c.fs.copy(), c.ist.copy()
    decide(c, model, par)
    fs, ist = state
    seg = model.seg[:, ist[L.SEGMENT]]
    w_peak, w_end = par[L.P_PEAK_W], par[L.P_END_W]
    s_eval = np.where(ist[L.CYCLE_COUNT] == 0, fs[L.SATISFACTION],
                      (1.0 - w_peak - w_end) * fs[L.SATISFACTION]
                      + w_peak * (fs[L.WORST] + 1.0) / 2 + w_end * (fs[L.LAST] + 1.0) / 2)
    pull = 1.0 + 0.6 * (STEP - 50) / 52.0  # week -20: competitors weaker than at week 0
    z_without_own = (par[L.P_C0] + seg[L.SEG_CHURN_BIAS] - par[L.P_CS] * s_eval
                     - par[L.P_CTAU] * fs[L.TRUST]
                     + par[L.P_CEFFORT] * seg[L.SEG_EFFORT_WEIGHT] * fs[L.EFFORT]
                     + par[L.P_CISSUE] * ist[L.ISSUE_OPEN] + par[L.P_CCOMP] * pull)
    p = 1.0 / (1.0 + np.exp(-(z_without_own + fs[L.CHURN_PROPENSITY])))
    draws = uniforms(rng.CHURN, range(n))
    left = c.ist[L.ACTIVE] == 0
    assert np.array_equal(left, decided(draws, p))
    assert c.tally[L.T_CHURNED] == left.sum()
    assert within_each(left.sum(), p)
    assert 0.1 < p.mean() < 0.9  # the check above is informative, and so is the propensity:
    without_own = decided(draws, 1.0 / (1.0 + np.exp(-z_without_own)))
    assert (left != without_own).sum() > 100  # ignoring it would decide many otherwise


def test_silent_exit_needs_an_open_issue_and_effort_above_the_threshold(model):
    _, plain = decision_points(model)
    c = customers(6, tp_index=plain[0])
    c.ist[L.ISSUE_OPEN] = [1, 1, 1, 0, 0, 1]
    c.fs[L.EFFORT] = [4.5, 4.0, 3.9, 9.0, 4.5, 100.0]
    par = parameters(model, P_SILENT_THRESHOLD=4.0, P_SILENT_RATE=1.0)
    assert decide(c, model, par) == 4
    assert list(c.ist[L.ACTIVE]) == [0, 1, 1, 1, 1, 0]


def test_silent_exit_takes_its_own_stream_at_its_rate(model):
    _, plain = decision_points(model)
    n = 4000
    c = customers(n, tp_index=plain[0])
    c.ist[L.ISSUE_OPEN] = 1
    c.fs[L.EFFORT] = 5.0
    decide(c, model, parameters(model, P_SILENT_THRESHOLD=4.0, P_SILENT_RATE=0.3))
    left = c.ist[L.ACTIVE] == 0
    assert np.array_equal(left, uniforms(rng.SILENT_CHURN, range(n)) < 0.3)
    assert within(left.sum(), n, 0.3)


def test_leavers_are_marked_and_dropped_from_the_active_list_which_keeps_its_order(model):
    decision, plain = decision_points(model)
    n = 40
    c = customers(100 + n)
    c.ids = np.arange(100, 100 + n, dtype=np.int64)  # a group drawn from a larger run
    c.ist[L.TOUCHPOINT] = plain[0]
    leaving = np.array([3, 4, 17, 18, 19, 39]) + 100
    c.ist[L.TOUCHPOINT, leaving] = decision[0]
    c.ist[L.QUEUED_SINCE, leaving] = 28
    c.ist[L.ISSUE_OPEN, leaving] = 1
    c.fs[L.EFFORT, leaving] = 2.0
    par = parameters(model, P_C0=60.0, P_SILENT_RATE=0.0)
    stay = rules.decide(c.ids, n, c.fs, c.ist, STEP, KEY, model.tp, model.seg, par, c.tally,
                        c.queue, None, None, None)
    assert stay == n - leaving.size
    assert list(c.ids[:stay]) == [i for i in range(100, 100 + n) if i not in leaving]
    assert np.all(c.ist[L.ACTIVE, leaving] == 0)
    assert np.all(c.ist[L.CHURN_STEP, leaving] == STEP)
    assert np.all(c.ist[L.QUEUED_SINCE, leaving] == -1)  # nobody waits for a leaver
    assert c.tally[L.T_CHURNED] == leaving.size
    stayers = c.ids[:stay]
    assert np.all(c.ist[L.ACTIVE, stayers] == 1) and np.all(c.ist[L.CHURN_STEP, stayers] == -1)


# ------------------------------------------------------------- a customer's week, steps 2-5

def week(c, model, par, company=None, key=KEY, step=STEP, tp=None, seg=None,
         schedule=None):
    """weekly_draws and visit for the group ``c``."""
    tp = model.tp if tp is None else tp
    rules.weekly_draws(c.ids, c.n, step, key, c.work)
    rules.visit(c.ids, c.n, c.fs, c.ist, step, key, tp, model.cum_transitions,
                model.move_guide, model.schedule if schedule is None else schedule, par,
                c.company if company is None else company, c.tally, c.work, None, None)


def test_the_weekly_draws_are_each_purposes_own_draws(model):
    c = customers(500)
    c.ids = np.arange(1000, 1500, dtype=np.int64)
    rules.weekly_draws(c.ids, c.n, STEP, KEY, c.work)
    for a, i in enumerate(c.ids):
        i = int(i)
        assert (c.work[L.W_NURTURE_DRAW, a], c.work[L.W_MOVE_DRAW, a]) == \
            rng.uniform_pair(KEY, i, STEP, rng.NURTURE_AND_MOVE)
        assert c.work[L.W_FAILURE_DRAW, a] == rng.uniform(KEY, i, STEP, rng.FAILURE)
        z = rng.normal_pair(KEY, i, STEP, rng.PERFORMANCE_AND_MOOD)
        fast = (c.work[L.W_Z_PERFORMANCE, a], c.work[L.W_Z_MOOD, a])
        for got, want in zip(fast, z):
            assert got == want or math.isnan(got)  # NaN: visit finishes the slow path


def test_newcomers_go_to_the_entry_and_scheduled_visits_come_first(model):
    par = model.par
    c = customers(3)
    c.ist[L.TOUCHPOINT] = [-1, 2, 2]
    c.ist[L.JOIN_STEP] = [STEP - 1, STEP - 4, STEP - 5]  # tenure 1, 4 (billing), 5
    week(c, model, par)
    assert c.ist[L.TOUCHPOINT, 0] == int(par[L.P_ENTRY])
    assert c.ist[L.TOUCHPOINT, 1] == model.schedule[4] >= 0
    assert model.schedule[5] < 0


def test_moves_follow_the_journeys_transition_chain_on_the_move_draw(model):
    n = 3000
    c = customers(n)
    here = np.arange(n) % model.tp.shape[1]
    c.ist[L.TOUCHPOINT] = here
    c.ist[L.JOIN_STEP] = STEP - 5  # no visit is due at tenure 5
    week(c, model, model.par)
    for a in range(n):
        u = rng.uniform_pair(KEY, a, STEP, rng.NURTURE_AND_MOVE)[1]
        bounds = model.cum_transitions[here[a], :-1]
        assert c.ist[L.TOUCHPOINT, a] == np.searchsorted(bounds, u, side="right")
    app_use = here == 2  # from app_use: 60% stay, 15% + 15% + 10% elsewhere
    assert within((c.ist[L.TOUCHPOINT, app_use] == 2).sum(), app_use.sum(), 0.6)


def test_a_check_in_comes_with_the_relationship_levers_chance_on_its_own_draw(model):
    n = 2000
    c = customers(n)
    c.fs[L.MOOD] = 0.95
    c.ist[L.JOIN_STEP] = STEP - 5
    c.company[L.EFFECT + L.RELATIONSHIP] = 0.3
    par = parameters(model, P_NURTURE_TRUST=0.1, P_NURTURE_MOOD=0.1)
    tp = model.tp.copy()
    tp[L.TP_FAILURE] = 0.0
    week(c, model, par, tp=tp)
    first = np.array([rng.uniform_pair(KEY, i, STEP, rng.NURTURE_AND_MOVE)[0]
                      for i in range(n)])  # the pair's first half; the move takes the second
    checked = first < 0.3
    want_trust = np.where(checked, 0.6 + 0.1 * (1.0 - 0.6), 0.6)
    assert np.array_equal(c.work[L.W_TRUST], want_trust)
    assert np.array_equal(c.work[L.W_MOOD], np.where(checked, 1.0, 0.95))
    assert within(checked.sum(), n, 0.3)


def test_what_a_touchpoint_delivers_without_a_failure(model):
    n = 1000
    c = customers(n)
    c.ist[L.JOIN_STEP] = STEP - 5
    c.ist[L.TOUCHPOINT] = 2
    c.company[L.EFFECT + L.CONSISTENCY] = 0.4
    tp = model.tp.copy()
    tp[L.TP_FAILURE] = 0.0
    par = model.par
    week(c, model, par, tp=tp)
    for a in range(n):
        k = c.ist[L.TOUCHPOINT, a]
        z_perf, z_mood = rng.normal_pair(KEY, a, STEP, rng.PERFORMANCE_AND_MOOD)
        sigma = tp[L.TP_VARIABILITY, k] * (1.0 - 0.4)
        assert c.work[L.W_PERFORMANCE, a] == rules.clip(tp[L.TP_QUALITY, k] + sigma * z_perf,
                                                        0.0, 1.0)
        assert c.work[L.W_SHOCK, a] == par[L.P_SHOCK] * z_mood
        assert c.work[L.W_SALIENCE, a] == tp[L.TP_SALIENCE, k]
    assert np.all(c.ist[L.ISSUE_OPEN] == 0) and c.tally[L.T_CAUGHT] == 0


def failing(model, rate=1.0):
    tp = model.tp.copy()
    tp[L.TP_FAILURE] = rate
    return tp


def test_a_failure_opens_an_issue_on_the_failure_draw_with_its_severity(model):
    n = 3000
    c = customers(n)
    c.ist[L.JOIN_STEP] = STEP - 5
    c.ist[L.ISSUE_SILENT] = 1  # left from an issue that ended: a new issue starts unanswered
    c.company[L.EFFECT + L.RELIABILITY] = 0.5
    tp = failing(model, 0.4)
    week(c, model, model.par, tp=tp)
    fails = uniforms(rng.FAILURE, range(n)) < 0.4 * 0.5
    assert np.array_equal(c.ist[L.ISSUE_OPEN] == 1, fails)
    assert within(fails.sum(), n, 0.2)
    assert np.array_equal(c.work[L.W_FAILED], fails.astype(float))
    assert c.tally[L.T_FAILURES] == fails.sum()  # each opened a new issue: a problem
    severity = uniforms(rng.SEVERITY, range(n))
    assert np.array_equal(c.fs[L.SEVERITY], np.where(fails, severity, 0.0))
    k = c.ist[L.TOUCHPOINT]
    assert np.array_equal(c.fs[L.ISSUE_COMPLEXITY], np.where(fails, tp[L.TP_COMPLEXITY, k], 0.0))
    assert np.array_equal(c.ist[L.ISSUE_SILENT], np.where(fails, 0, 1))  # a new issue
    assert np.all(c.ist[L.QUEUED_SINCE] == -1)  # not voiced yet: that is open_issues' step
    penalty = model.par[L.P_FAIL_PENALTY] * (0.5 + 0.5 * severity)
    base = np.array([rules.clip(tp[L.TP_QUALITY, k[a]] + tp[L.TP_VARIABILITY, k[a]]
                                * rng.normal_pair(KEY, a, STEP, rng.PERFORMANCE_AND_MOOD)[0],
                                0.0, 1.0) for a in range(n)])
    assert np.array_equal(c.work[L.W_PERFORMANCE],
                          np.where(fails, np.clip(base - penalty, 0.0, 1.0), base))


def test_a_second_failure_worsens_the_open_issue(model):
    """Voiced (queued) or lived with (silent), the open issue stays the same issue: worse,
    but no new problem, no fresh response and no change to where it stands."""
    n = 400
    c = customers(n)
    c.ist[L.JOIN_STEP] = STEP - 5
    c.ist[L.ISSUE_OPEN] = 1
    voiced = np.arange(n) % 2 == 0
    c.ist[L.QUEUED_SINCE] = np.where(voiced, 20, -1)
    c.ist[L.ISSUE_SILENT] = np.where(voiced, 0, 1)
    c.fs[L.SEVERITY] = 0.5
    c.fs[L.ISSUE_COMPLEXITY] = 0.35
    tp = failing(model)
    week(c, model, model.par, tp=tp)
    severity = uniforms(rng.SEVERITY, range(n))
    assert np.array_equal(c.fs[L.SEVERITY], np.maximum(0.5, severity))
    assert np.array_equal(c.fs[L.ISSUE_COMPLEXITY],
                          np.maximum(0.35, tp[L.TP_COMPLEXITY, c.ist[L.TOUCHPOINT]]))
    assert np.all(c.ist[L.ISSUE_OPEN] == 1)
    assert np.array_equal(c.ist[L.ISSUE_SILENT], np.where(voiced, 0, 1))  # lived with still
    assert np.array_equal(c.ist[L.QUEUED_SINCE], np.where(voiced, 20, -1))  # still queued
    assert np.all(c.work[L.W_FAILED] == 1.0)  # every visit failed ...
    assert c.tally[L.T_FAILURES] == 0  # ... but no new problem occurred


def test_frontline_service_lifts_the_touchpoints_people_deliver(model):
    """docs/model.md 3.3.4: the lift = staffed share x frontline effect x (1 - b_pen B)
    closes that share of the gap to perfect quality and of the spread; a digital
    touchpoint (staffed 0) is exactly as designed."""
    n = 600
    c = customers(n)
    c.ist[L.JOIN_STEP] = STEP - 5
    c.ist[L.TOUCHPOINT] = 2
    c.company[L.EFFECT + L.FRONTLINE] = 0.5
    c.company[L.EFFECT + L.CONSISTENCY] = 0.2
    c.company[L.BURNOUT] = 0.25
    tp = failing(model, 0.0)
    tp[L.TP_STAFFED] = np.where(np.arange(tp.shape[1]) % 2 == 0, 0.0,
                                np.linspace(0.25, 1.0, tp.shape[1]))
    par = parameters(model, P_BURNOUT_PENALTY=0.4)
    week(c, model, par, tp=tp)
    k = c.ist[L.TOUCHPOINT]
    assert len(set(k)) >= 3  # customers reached touchpoints of several staffed shares
    lift = tp[L.TP_STAFFED, k] * 0.5 * (1.0 - 0.4 * 0.25)
    z = np.array([rng.normal_pair(KEY, a, STEP, rng.PERFORMANCE_AND_MOOD)[0] for a in range(n)])
    quality = tp[L.TP_QUALITY, k]
    want = np.clip(quality + lift * (1.0 - quality)
                   + tp[L.TP_VARIABILITY, k] * (1.0 - 0.2) * (1.0 - lift) * z, 0.0, 1.0)
    assert np.allclose(c.work[L.W_PERFORMANCE], want, rtol=0.0, atol=1e-15)
    digital = tp[L.TP_STAFFED, k] == 0.0
    assert digital.any() and (~digital).any()
    designed = np.clip(quality + tp[L.TP_VARIABILITY, k] * (1.0 - 0.2) * z, 0.0, 1.0)
    assert np.array_equal(c.work[L.W_PERFORMANCE, digital], designed[digital])


def test_outreach_catches_failures_on_its_own_draw_and_buys_trust(model):
    n = 3000
    c = customers(n)
    c.ist[L.JOIN_STEP] = STEP - 5
    c.company[L.EFFECT + L.OUTREACH] = 0.45
    par = parameters(model, P_CAUGHT_TRUST=0.2)
    week(c, model, par, tp=failing(model))
    caught = uniforms(rng.CATCH, range(n)) < 0.45
    assert np.array_equal(c.ist[L.ISSUE_OPEN] == 0, caught)
    assert c.tally[L.T_CAUGHT] == caught.sum()
    assert within(caught.sum(), n, 0.45)
    assert np.array_equal(c.work[L.W_TRUST], np.where(caught, 0.6 + 0.2 * 0.4, 0.6))


def test_the_appraisal_is_learn_on_what_the_visit_handed_over(model):
    n = 300
    c = customers(n)
    c.ist[L.JOIN_STEP] = STEP - 5
    c.fs[L.MOOD] = np.linspace(-0.8, 0.8, n)
    week(c, model, model.par, tp=failing(model, 0.3))
    before = c.work.copy()
    rules.appraise(c.work, n, model.par)
    psy = rules.psychology(model.par)
    for a in range(n):
        want = rules.learn(*(before[row, a] for row in (
            L.W_MOOD, L.W_EXPECTATION, L.W_SATISFACTION, L.W_TRUST, L.W_WORST,
            L.W_PERFORMANCE, L.W_SALIENCE, L.W_SHOCK)), psy)
        assert tuple(c.work[row, a] for row in (L.W_MOOD, L.W_EXPECTATION, L.W_SATISFACTION,
                                                L.W_TRUST, L.W_WORST, L.W_LAST)) == want


def issue_customers(n, silent=0, complexity=0.25, severity=0.0, effort=0.0):
    """``n`` customers with an open issue (new, or ``silent``: lived with), not queued,
    their appraisal already done (in ``work``)."""
    c = customers(n)
    c.ist[L.SEGMENT] = np.arange(n) % 3
    c.ist[L.ISSUE_OPEN] = 1
    c.ist[L.ISSUE_SILENT] = silent
    c.fs[L.ISSUE_COMPLEXITY] = complexity
    c.fs[L.SEVERITY] = severity
    c.fs[L.EFFORT] = effort
    c.work[L.W_MOOD] = 0.5
    c.work[L.W_EXPECTATION] = 0.4
    c.work[L.W_SATISFACTION] = 0.3
    c.work[L.W_TRUST] = 0.2
    c.work[L.W_WORST] = -0.1
    c.work[L.W_LAST] = 0.1
    return c


def respond(c, model, seg, par=None, step=STEP):
    """open_issues for the group ``c`` in week ``step``."""
    rules.open_issues(c.ids, c.n, c.fs, c.ist, step, KEY, seg, model.par if par is None else par,
                      c.company, c.tally, c.work, None, None)


def issue_week(model, n, seg, par=None, company=None, silent=0, complexity=0.25,
               severity=0.0, effort=0.0):
    """open_issues for ``n`` customers with an open issue (see ``issue_customers``)."""
    c = issue_customers(n, silent, complexity, severity, effort)
    if company is not None:
        c.company[:] = company
    respond(c, model, seg, par)
    return c


def test_open_issues_writes_the_appraisal_back_and_counts_the_experience(model):
    c = customers(30)
    c.ist[L.CYCLE_COUNT] = np.arange(30) % 4  # appraisals since the last decision
    c.work[[L.W_MOOD, L.W_EXPECTATION, L.W_SATISFACTION, L.W_TRUST, L.W_WORST, L.W_LAST]] = \
        np.array([[0.5], [0.4], [0.3], [0.2], [-0.1], [0.1]])
    rules.open_issues(c.ids, 30, c.fs, c.ist, STEP, KEY, model.seg, model.par, c.company,
                      c.tally, c.work, None, None)
    for row, w in ((L.MOOD, L.W_MOOD), (L.EXPECTATION, L.W_EXPECTATION),
                   (L.SATISFACTION, L.W_SATISFACTION), (L.TRUST, L.W_TRUST),
                   (L.WORST, L.W_WORST), (L.LAST, L.W_LAST)):
        assert np.all(c.fs[row] == c.work[w, 0])
    assert np.array_equal(c.ist[L.CYCLE_COUNT], np.arange(30) % 4 + 1)


def test_each_issue_step_takes_its_own_draw(model):
    """A new issue's one response, recomputed here from docs/model.md 3.3.6: the
    self-service try, its success, and the voice decision at the odds form's chance (with
    the effort after a failed try): three draws, each of its own purpose."""
    n = 3000
    voice = np.array([0.2, 0.4, 0.6])
    seg = segments(model, SEG_SELF_SERVICE=[0.5, 0.5, 0.5], SEG_VOICE=voice)
    company = np.zeros(L.N_COMPANY)
    company[L.EFFECT + L.SELF_SERVICE] = 0.3
    par = parameters(model, P_KB_BASE=0.4, P_SS_EFFORT=0.25, P_SS_FAIL_EFFORT=0.5,
                     P_CONTACT_EFFORT=1.0, P_SILENT_EFFORT=2.0, P_SILENT_MOOD=0.125,
                     P_VOICE_SEVERITY=1.5, P_VOICE_EFFORT=0.8)
    spread = np.random.default_rng(11)
    severity = spread.uniform(0.0, 1.0, n)
    effort = spread.uniform(0.0, 2.0, n)
    c = issue_week(model, n, seg, par, company, complexity=0.25, severity=severity,
                   effort=effort)
    ids = range(n)
    tries = uniforms(rng.SELF_SERVICE_TRY, ids) < 0.5
    chance = min(1.0, 0.4 + 0.3) * (1.0 - 0.25)  # knowledge base x (1 - complexity)
    works = tries & (uniforms(rng.SELF_SERVICE_OK, ids) < chance)
    effort_before_voice = effort + np.where(works, 0.25, 0.0) + np.where(tries & ~works, 0.5, 0.0)
    p_voice = documented_voice(voice[c.ist[L.SEGMENT]], severity, effort_before_voice, 1.5, 0.8)
    voice_draws = uniforms(rng.VOICE, ids)
    calls = ~works & decided(voice_draws, p_voice)
    silent = ~works & ~calls
    assert np.array_equal(c.ist[L.ISSUE_OPEN] == 0, works)
    assert np.array_equal(c.ist[L.ISSUE_SILENT] == 1, silent)
    assert np.array_equal(c.ist[L.QUEUED_SINCE], np.where(calls, STEP, -1))
    assert np.array_equal(c.fs[L.EFFORT], effort_before_voice + np.where(calls, 1.0, 0.0)
                          + np.where(silent, 2.0, 0.0))
    assert np.array_equal(c.fs[L.MOOD], np.where(silent, 0.5 - 0.125, 0.5))
    assert c.tally[L.T_SELF_SERVED] == works.sum() and c.tally[L.T_CONTACTS] == calls.sum()
    # independent draws: trying, succeeding once tried and voicing are uncorrelated
    assert within(tries.sum(), n, 0.5)
    assert within(works.sum(), tries.sum(), chance)
    assert within_each(calls.sum(), p_voice[~works])
    # informative: severity and effort move many decisions off the segment's propensity
    assert (calls != (~works & (voice_draws < voice[c.ist[L.SEGMENT]]))).sum() > 100


def test_the_three_issue_decisions_are_independent(model):
    """With every chance at one half (no severity or effort weight on voice), the paths of
    (try, succeed, voice) come out in the product shares. Each path leaves its own effort:
    0.25 solved; 0.5 + 1 or 0.5 + 2 tried in vain, then voiced or lived with; 1 or 2
    not tried."""
    n = 8000
    seg = segments(model, SEG_SELF_SERVICE=[0.5] * 3, SEG_VOICE=[0.5] * 3)
    par = parameters(model, P_KB_BASE=0.5, P_VOICE_SEVERITY=0.0, P_VOICE_EFFORT=0.0,
                     P_SS_EFFORT=0.25, P_SS_FAIL_EFFORT=0.5, P_CONTACT_EFFORT=1.0,
                     P_SILENT_EFFORT=2.0)
    c = issue_week(model, n, seg, par, complexity=0.0, severity=0.7)
    effort = c.fs[L.EFFORT]
    solved = c.ist[L.ISSUE_OPEN] == 0
    called = c.ist[L.QUEUED_SINCE] == STEP
    silent = c.ist[L.ISSUE_SILENT] == 1
    paths = {0.25: solved & ~called & ~silent, 1.5: called & ~silent, 2.5: silent & ~called,
             1.0: called & ~silent, 2.0: silent & ~called}
    for value, path in paths.items():
        assert np.all(path[effort == value]), value
    assert np.isin(effort, list(paths)).all()
    assert within((effort == 0.25).sum(), n, 0.25)
    assert within((effort == 1.5).sum(), n, 0.125)
    assert within((effort == 2.5).sum(), n, 0.125)
    assert within((effort == 1.0).sum(), n, 0.25)
    assert within((effort == 2.0).sum(), n, 0.25)


def test_an_issue_gets_one_response_and_queued_customers_wait(model):
    """An issue lived with is never tried at self-service or voiced again, even by a
    customer certain to do both for a new one; it fades on its own draw (``FADE``) and
    weighs on effort and mood only while it stays open. A queued customer waits for the
    desk: nothing happens to them here."""
    n = 3000
    seg = segments(model, SEG_SELF_SERVICE=[1.0] * 3, SEG_VOICE=[1.0] * 3)
    par = parameters(model, P_KB_BASE=1.0, P_SS_EFFORT=0.25, P_SS_FAIL_EFFORT=0.5,
                     P_SILENT_EFFORT=2.0, P_SILENT_MOOD=0.125, P_FADE_RATE=0.3)
    c = issue_week(model, n, seg, par, silent=1, complexity=0.0)
    faded = uniforms(rng.FADE, range(n)) < 0.3
    assert np.array_equal(c.ist[L.ISSUE_OPEN] == 0, faded)
    assert np.array_equal(c.ist[L.ISSUE_SILENT], np.where(faded, 0, 1))
    assert np.all(c.ist[L.QUEUED_SINCE] == -1)
    assert c.tally[L.T_CONTACTS] == 0 and c.tally[L.T_SELF_SERVED] == 0
    assert np.array_equal(c.fs[L.EFFORT], np.where(faded, 0.0, 2.0))
    assert np.array_equal(c.fs[L.MOOD], np.where(faded, 0.5, 0.5 - 0.125))
    assert within(faded.sum(), n, 0.3)

    c = customers(50)
    c.ist[L.ISSUE_OPEN] = 1
    c.ist[L.QUEUED_SINCE] = 12
    before_i = c.ist.copy()
    respond(c, model, seg, parameters(model, P_FADE_RATE=1.0, P_SILENT_EFFORT=2.0))
    assert np.all(c.fs[L.EFFORT] == 0.0)
    before_i[L.CYCLE_COUNT] += 1
    assert np.array_equal(c.ist, before_i)
    assert c.tally[L.T_CONTACTS] == 0 and c.tally[L.T_SELF_SERVED] == 0


def test_the_voice_decision_is_taken_once_and_a_lived_with_issue_fades_on_its_own(model):
    """Week by week: an issue not voiced when new is lived with; in later weeks the
    customer never voices it (though now certain to voice a new one), each week it fades
    with the fade rate on that week's ``FADE`` draw (never in the week it opened), and
    until then it costs the silent effort and mood; once faded it costs nothing."""
    n, weeks, fade = 2000, 8, 0.2
    par = parameters(model, P_SILENT_EFFORT=0.75, P_SILENT_MOOD=0.125, P_FADE_RATE=fade,
                     P_KB_BASE=1.0)
    c = issue_customers(n, complexity=0.0)
    respond(c, model, segments(model, SEG_SELF_SERVICE=[0.0] * 3, SEG_VOICE=[0.0] * 3), par)
    assert np.all(c.ist[L.ISSUE_OPEN] == 1) and np.all(c.ist[L.ISSUE_SILENT] == 1)
    assert np.all(c.fs[L.EFFORT] == 0.75) and np.all(c.fs[L.MOOD] == 0.5 - 0.125)
    eager = segments(model, SEG_SELF_SERVICE=[1.0] * 3, SEG_VOICE=[1.0] * 3)
    still_open = np.ones(n, dtype=bool)
    effort = np.full(n, 0.75)
    for step in range(STEP + 1, STEP + 1 + weeks):
        fades = still_open & (uniforms(rng.FADE, range(n), step=step) < fade)
        respond(c, model, eager, par, step=step)
        assert within(fades.sum(), still_open.sum(), fade)
        still_open &= ~fades
        effort = effort + np.where(still_open, 0.75, 0.0)
        assert np.array_equal(c.ist[L.ISSUE_OPEN] == 1, still_open), step
        assert np.array_equal(c.ist[L.ISSUE_SILENT] == 1, still_open), step
        assert np.array_equal(c.fs[L.EFFORT], effort), step
        assert np.array_equal(c.fs[L.MOOD], np.where(still_open, 0.5 - 0.125, 0.5)), step
    assert np.all(c.ist[L.QUEUED_SINCE] == -1)  # never voiced, never self-served
    assert c.tally[L.T_CONTACTS] == 0 and c.tally[L.T_SELF_SERVED] == 0
    assert 0 < still_open.sum() < n  # some faded, some still open: both were checked


def test_voice_probability_has_the_documented_odds_form(model):
    """docs/model.md 3.3.6: the propensity is the chance for a trivial issue with no
    effort spent; severity and effort multiply its odds by exp(w_sev sev + w_eff eff)."""
    for propensity in (0.05, 0.3, 0.5, 0.9):
        logit = math.log(propensity / (1.0 - propensity))
        for w_sev, w_eff in ((1.0, 0.5), (0.0, 0.0), (2.5, 0.1)):
            assert abs(rules.voice_probability(propensity, 0.0, 0.0, w_sev, w_eff)
                       - propensity) <= 1e-16
            chances = []
            for severity, effort in ((0.0, 0.0), (0.3, 0.0), (0.3, 1.7), (1.0, 1.7), (1.0, 6.0)):
                p = rules.voice_probability(propensity, severity, effort, w_sev, w_eff)
                assert math.log(p / (1.0 - p)) - logit == pytest.approx(
                    w_sev * severity + w_eff * effort, abs=1e-12)
                assert p == pytest.approx(
                    documented_voice(propensity, severity, effort, w_sev, w_eff), rel=1e-14)
                chances.append(p)
            if w_sev > 0.0:  # a worse issue, more effort spent: more likely voiced
                assert all(a < b for a, b in zip(chances, chances[1:]))
            else:  # no weights: the propensity whatever the issue
                assert all(abs(p - propensity) <= 1e-16 for p in chances)
    for severity, effort in ((0.0, 0.0), (1.0, 40.0)):  # the ends stay where they are
        assert rules.voice_probability(0.0, severity, effort, 1.0, 0.5) == 0.0
        assert rules.voice_probability(1.0, severity, effort, 1.0, 0.5) == 1.0


def test_customers_without_an_issue_only_take_their_appraisal(model):
    c = customers(100)
    c.work[L.W_MOOD] = -0.25
    rules.open_issues(c.ids, 100, c.fs, c.ist, STEP, KEY, model.seg, model.par, c.company,
                      c.tally, c.work, None, None)
    assert np.all(c.fs[L.EFFORT] == 0.0) and np.all(c.fs[L.MOOD] == -0.25)
    assert np.all(c.ist[L.QUEUED_SINCE] == -1) and not c.tally.any()


def test_silence_cannot_push_mood_below_minus_one(model):
    seg = segments(model, SEG_SELF_SERVICE=[0.0] * 3, SEG_VOICE=[0.0] * 3)
    c = customers(10)
    c.ist[L.ISSUE_OPEN] = 1
    c.work[L.W_MOOD] = -0.95
    rules.open_issues(c.ids, 10, c.fs, c.ist, STEP, KEY, seg,
                      parameters(model, P_SILENT_MOOD=0.2), c.company, c.tally, c.work,
                      None, None)
    assert np.all(c.fs[L.MOOD] == -1.0)


# --------------------------------------------------------------------- arrivals, joining

def test_arrivals_take_the_companys_poisson_draw_at_the_word_of_mouth_rate(model):
    par = parameters(model, P_ARRIVAL_BASE=4.0, P_REFERRAL=0.01, P_DETRACTOR=0.005)
    for step in range(1, 60):
        promoters, detractors = 50 * step, 30 * step
        n_new, share = rules.arrivals(KEY, step, promoters, detractors, par)
        referrals = 0.01 * promoters
        rate = max(0.0, 4.0 + referrals - 0.005 * detractors)
        assert n_new == rng.poisson(KEY, step, rate)
        assert share == referrals / (4.0 + referrals)


def test_arrivals_have_the_poisson_mean_and_never_a_negative_rate(model):
    par = parameters(model, P_ARRIVAL_BASE=6.0, P_REFERRAL=0.02, P_DETRACTOR=0.01)
    counts = np.array([rules.arrivals(KEY, s, 100, 50, par)[0] for s in range(1, 3001)])
    rate = 6.0 + 2.0 - 0.5
    assert abs(counts.mean() - rate) <= Z * math.sqrt(rate / counts.size)
    crowd = [rules.arrivals(KEY, s, 0, 10_000, par) for s in range(1, 200)]
    assert all(n == 0 and share == 0.0 for n, share in crowd)  # detractors cannot take back
    alone = parameters(model, P_ARRIVAL_BASE=0.0, P_REFERRAL=0.02)
    assert rules.arrivals(KEY, 5, 100, 0, alone)[1] == 1.0  # all newcomers are referred
    assert rules.arrivals(KEY, 5, 0, 0, alone) == (0, 0.0)


def test_newcomers_join_fresh_with_a_segment_and_referral_from_their_own_draws(model):
    n, first, step = 3000, 40, 17
    fs = np.full((L.N_FLOAT_STATE, first + n), 9.0)
    ist = np.full((L.N_INT_STATE, first + n), 9, dtype=np.int64)
    par = parameters(model, P_REF_TRUST=0.5, P_REF_EXPECTATION=0.45)
    seg = segments(model, SEG_CHURN_SPREAD=[0.5, 1.0, 2.0])
    rules.admit(fs, ist, first, n, step, KEY, seg, par, 0.35)
    assert np.all(fs[:, :first] == 9.0) and np.all(ist[:, :first] == 9)  # others untouched
    ids = range(first, first + n)
    u = uniforms(rng.SEGMENT, ids, step=step)
    segment = np.searchsorted(seg[L.SEG_CUM_SHARE], u, side="right")
    referred = uniforms(rng.REFERRED, ids, step=step) < 0.35
    new_i, new_f = ist[:, first:], fs[:, first:]
    assert np.array_equal(new_i[L.SEGMENT], segment)
    assert np.array_equal(new_i[L.REFERRED], referred)
    for row, value in ((L.ACTIVE, 1), (L.TOUCHPOINT, -1), (L.JOIN_STEP, step),
                       (L.CHURN_STEP, -1), (L.ISSUE_OPEN, 0), (L.ISSUE_SILENT, 0),
                       (L.QUEUED_SINCE, -1), (L.CYCLE_COUNT, 0), (L.EPISODE, -1),
                       (L.CYCLE_EVENTS, 0)):
        assert np.all(new_i[row] == value), row
    for row, value in ((L.MOOD, 0.0), (L.EFFORT, 0.0), (L.SEVERITY, 0.0),
                       (L.ISSUE_COMPLEXITY, 0.0), (L.WORST, 1.0), (L.LAST, 0.0)):
        assert np.all(new_f[row] == value), row
    boost = referred.astype(float)
    assert np.array_equal(new_f[L.TRUST], np.minimum(1.0, seg[L.SEG_TRUST, segment] + boost * 0.5))
    assert np.array_equal(new_f[L.EXPECTATION],
                          np.minimum(1.0, seg[L.SEG_EXPECTATION, segment] + boost * 0.45))
    assert np.array_equal(new_f[L.SATISFACTION], seg[L.SEG_SATISFACTION, segment])
    shares = np.diff(np.concatenate([[0.0], seg[L.SEG_CUM_SHARE]]))
    for s, share in enumerate(shares):
        assert within((segment == s).sum(), n, share)
    assert within(referred.sum(), n, 0.35)
    assert (new_f[L.TRUST] == 1.0).any()  # the caps are reached: trust 0.65 + 0.5, and
    assert (new_f[L.EXPECTATION] == 1.0).any()  # expectation 0.58 or 0.6 + 0.45


def test_a_newcomers_churn_propensity_is_their_own_normal_times_the_segments_spread(model):
    """docs/model.md 3.1: eta = sigma_seg x z, z one standard normal of the customer's own
    stream (``CHURN_PROPENSITY``, keyed by the join step), independent of the segment's
    draw; sigma = 0 gives every customer of the segment eta = 0."""
    n, first, step = 4000, 10, 23
    spread = np.array([0.5, 0.0, 2.0])
    seg = segments(model, SEG_CHURN_SPREAD=spread)
    fs = np.zeros((L.N_FLOAT_STATE, first + n))
    ist = np.zeros((L.N_INT_STATE, first + n), dtype=np.int64)
    rules.admit(fs, ist, first, n, step, KEY, seg, model.par, 0.2)
    ids = range(first, first + n)
    z = np.array([rng.normal_pair(KEY, i, step, rng.CHURN_PROPENSITY)[0] for i in ids])
    segment = ist[L.SEGMENT, first:]
    eta = fs[L.CHURN_PROPENSITY, first:]
    assert np.array_equal(eta, spread[segment] * z)
    assert np.all(eta[segment == 1] == 0.0) and (segment == 1).any()
    assert abs(z.mean()) <= Z / math.sqrt(n)  # z is standard normal ...
    assert abs(z.var() - 1.0) <= Z * math.sqrt(2.0 / n)
    u = uniforms(rng.SEGMENT, ids, step=step)  # ... and uncorrelated with the segment's draw
    assert abs(np.corrcoef(z, u)[0, 1]) <= Z / math.sqrt(n)
    again = np.zeros_like(fs), np.zeros_like(ist)  # another week: other customers' draws
    rules.admit(*again, first, n, step + 1, KEY, seg, model.par, 0.2)
    assert not np.array_equal(again[0][L.CHURN_PROPENSITY, first:], eta)


@pytest.mark.parametrize("tenure_spread", [0.0, 52.0])
def test_the_starting_customers_join_at_step_0_with_tenures_from_their_own_draw(
        model, tenure_spread):
    """A warm start spreads the starting customers over ``tenure_spread`` weeks of tenure
    (join step -floor(U(TENURE) x spread), drawn at step 0); a launch (spread 0) has them
    all new at step 0. Everything else is an ordinary join at step 0."""
    n = 2000
    par = parameters(model, P_COHORT=n, P_TENURE_SPREAD=tenure_spread)
    seg = segments(model, SEG_CHURN_SPREAD=[0.5, 1.0, 2.0])
    fs = np.zeros((L.N_FLOAT_STATE, n + 5))
    ist = np.zeros((L.N_INT_STATE, n + 5), dtype=np.int64)
    assert rules.admit_starting(fs, ist, KEY, seg, par) == n
    assert np.all(ist[:, n:] == 0) and np.all(fs[:, n:] == 0.0)  # room left alone
    plain_f = np.zeros((L.N_FLOAT_STATE, n))
    plain_i = np.zeros((L.N_INT_STATE, n), dtype=np.int64)
    rules.admit(plain_f, plain_i, 0, n, 0, KEY, seg, par, 0.0)
    assert np.array_equal(fs[:, :n], plain_f)
    tenure = np.floor(uniforms(rng.TENURE, range(n), step=0) * tenure_spread).astype(np.int64)
    assert np.array_equal(ist[L.JOIN_STEP, :n], -tenure)
    others = [row for row in range(L.N_INT_STATE) if row != L.JOIN_STEP]
    assert np.array_equal(ist[others, :n], plain_i[others])
    if tenure_spread:
        assert tenure.min() == 0 and tenure.max() == 51
        mean, sd = 25.5, math.sqrt((52**2 - 1) / 12.0)  # uniform on 0 .. 51
        assert abs(tenure.mean() - mean) <= Z * sd / math.sqrt(n)


def test_the_burn_in_spends_its_strategy_up_to_week_0_and_then_the_one_evaluated(model):
    spend, burn_in_spend = np.full(L.N_LEVERS, 3.0), np.full(L.N_LEVERS, 7.0)
    plan = np.zeros((201, L.N_PLAN))  # the strategy evaluated: 3 a lever, every week
    plan[:, L.PL_FIXED:L.PL_FIXED + L.N_LEVERS] = spend
    triggers = np.zeros((L.MAX_TRIGGERS, L.N_TG))  # none

    def week(step, par):
        company, out = np.zeros(L.N_COMPANY), np.zeros(L.N_LEVERS)
        rules.weekly_spend(step, par, plan, triggers, burn_in_spend, company, out)
        return out, company[L.PHASE]

    par = parameters(model, P_BURN_IN=20.0)
    for step, want, phase in ((1, burn_in_spend, -1), (19, burn_in_spend, -1),
                              (20, burn_in_spend, -1), (21, spend, 0), (200, spend, 0)):
        got, got_phase = week(step, par)
        assert np.array_equal(got, want) and got_phase == phase, step
    launch = parameters(model, P_BURN_IN=0.0)
    assert all(np.array_equal(week(step, launch)[0], spend) for step in (1, 2, 50))


# ------------------------------------------------------------------------- bookkeeping

def test_a_weeks_summary_row(model):
    n = 7
    c = customers(n + 3)
    c.ids = np.array([0, 2, 3, 5, 6, 8, 9], dtype=np.int64)  # a group of the active ones
    f, i = c.fs, c.ist
    f[L.SATISFACTION] = [0.95, 0.5, 0.9, 0.3, 0.6, 0.7, 0.98, 0.4, 0.75, 0.1]  # 0.7 counts
    f[L.TRUST] = [0.95, 0.3, 0.9, 0.2, 0.7, 0.5, 0.97, 0.6, 0.8, 0.2]
    f[L.MOOD] = [0.9, -0.5, 0.8, -0.9, 0.1, 0.0, 1.0, 0.3, 0.5, -1.0]
    f[L.EFFORT] = np.arange(n + 3) * 0.5
    i[L.SEGMENT] = np.arange(n + 3) % 3
    i[L.JOIN_STEP] = [0, -30, 3, 0, -2, 5, 0, 9, 4, 7]  # a warm start: some before step 0
    i[L.QUEUED_SINCE] = [-1, 3, 2, -1, -1, 5, -1, 1, 1, -1]
    c.company[L.SPEND] = 250.0
    c.company[L.BURNOUT] = 0.125
    c.company[L.COHORT_SIZE] = 8  # active at week 0 (not the starting cohort, P_COHORT)
    c.company[L.PHASE], c.company[L.TRIGGERS] = 1.0, 5.0  # the second phase; triggers 0, 2
    c.tally[:] = 0
    c.tally[[L.T_CAUGHT, L.T_SELF_SERVED, L.T_CONTACTS, L.T_SERVED, L.T_RESOLVED,
             L.T_WAIT_SUM, L.T_CHURNED, L.T_FAILURES]] = [2, 3, 11, 4, 3, 10, 5, 13]
    par = parameters(model, P_COHORT=2000.0, P_BURN_IN=4.0, P_COST_PER_CONTACT=6.0,
                     P_FIXED_COST=100.0)
    row = np.zeros(L.N_OUT)
    promoters, detractors = rules.summarize_step(c.ids, n, f, i, STEP, model.seg, par,
                                                 c.company, c.tally, row)
    ids = c.ids
    answers = [rules.recommendation(f[L.SATISFACTION, a], f[L.TRUST, a], f[L.MOOD, a], par)
               for a in ids]
    assert promoters == sum(x >= 9.0 for x in answers) and promoters > 0
    assert detractors == sum(x < 7.0 for x in answers) and detractors > 0
    value = model.seg[L.SEG_VALUE, i[L.SEGMENT, ids]]
    cohort = i[L.JOIN_STEP, ids] <= 4  # joined by week 0 (internal step 4)
    assert 0 < cohort.sum() < n
    want = {L.O_STEP: STEP - 4, L.O_ACTIVE: n, L.O_COHORT_ACTIVE: cohort.sum(),
            L.O_RETENTION: cohort.sum() / 8.0, L.O_ARRIVALS: 0, L.O_CHURNED: 5,
            L.O_NPS: 100.0 * (promoters - detractors) / n,
            L.O_CSAT: (f[L.SATISFACTION, ids] >= 0.7).sum() / n,
            L.O_CONTACTS: 11, L.O_SERVED: 4, L.O_BACKLOG: (i[L.QUEUED_SINCE, ids] >= 0).sum(),
            L.O_WAIT: 10 / 4, L.O_RESOLUTION: 3 / 4, L.O_CAUGHT: 2, L.O_SELF_SERVED: 3,
            L.O_BURNOUT: 0.125, L.O_REVENUE: value.sum(),
            L.O_COST: 250.0 + 4 * 6.0 + 100.0, L.O_PROFIT: value.sum() - 374.0,
            L.O_COHORT_REVENUE: value[cohort].sum(), L.O_FAILURES: 13, L.O_SPEND: 250.0,
            L.O_PHASE: 1, L.O_TRIGGERS: 5}
    assert set(want) | {L.O_MOOD, L.O_EXPECTATION, L.O_SATISFACTION, L.O_TRUST,
                        L.O_EFFORT} == set(range(L.N_OUT))  # every column is checked
    for column, expected in want.items():
        assert row[column] == pytest.approx(expected, rel=1e-15, abs=1e-15), \
            L.STEP_COLUMNS[column]
    for column, state in ((L.O_MOOD, L.MOOD), (L.O_EXPECTATION, L.EXPECTATION),
                          (L.O_SATISFACTION, L.SATISFACTION), (L.O_TRUST, L.TRUST),
                          (L.O_EFFORT, L.EFFORT)):
        assert row[column] == pytest.approx(f[state, ids].mean(), rel=1e-14, abs=1e-15), \
            L.STEP_COLUMNS[column]
    rules.record_arrivals(row, 6)
    assert row[L.O_ARRIVALS] == 6 and row[L.O_ACTIVE] == n + 6


def test_an_empty_week_summary_divides_by_nothing(model):
    c = customers(1)
    row = np.full(L.N_OUT, 7.0)
    assert rules.summarize_step(c.ids, 0, c.fs, c.ist, STEP, model.seg, model.par, c.company,
                                c.tally, row) == (0, 0)
    assert row[L.O_ACTIVE] == 0 and row[L.O_NPS] == 0.0 and row[L.O_WAIT] == 0.0
    assert row[L.O_RESOLUTION] == 0.0 and row[L.O_MOOD] == 0.0


def test_a_burn_in_week_shows_the_company_what_the_whole_row_would(model):
    """A burn-in week's row is never reported: ``summarize_week`` writes only the columns
    the company observes. What ``observe_week`` takes from it (next week's budget and
    triggers) must be what it would take from the whole row, bit for bit: a column it read
    that the burn-in's summary left unwritten (NaN here) would show."""
    n, burn_in = 40, 20
    c = customers(n)
    c.ids = np.arange(0, n, 2, dtype=np.int64)  # a group: every other customer is active
    spread = np.linspace(0.0, 1.0, n)
    c.fs[L.SATISFACTION], c.fs[L.TRUST] = spread, spread ** 0.5
    c.fs[L.MOOD] = 2.0 * spread - 1.0
    c.ist[L.SEGMENT] = np.arange(n) % model.seg.shape[1]
    c.ist[L.QUEUED_SINCE] = np.where(np.arange(n) % 3 == 0, 7, -1)
    c.company[L.BURNOUT] = 0.3
    c.tally[:] = np.arange(1, L.N_TALLY + 1)
    par = parameters(model, P_BURN_IN=float(burn_in))
    seen = []
    for step, summarize in ((burn_in - 5, rules.summarize_step),
                            (burn_in - 5, rules.summarize_week),
                            (burn_in + 5, rules.summarize_week)):
        row, company = np.full(L.N_OUT, np.nan), c.company.copy()
        word_of_mouth = summarize(c.ids, n // 2, c.fs, c.ist, step, model.seg, par, company,
                                  c.tally, row)
        rules.record_arrivals(row, 3)
        rules.observe_week(company, row)
        seen.append((word_of_mouth, company, row))
    (whole, burn_in_week, reported) = seen
    assert whole[0] == burn_in_week[0] and whole[0][0] > 0 and whole[0][1] > 0
    assert np.array_equal(whole[1], burn_in_week[1])  # what the company sees, NaN-free
    assert not np.isnan(whole[1]).any()
    assert np.isnan(burn_in_week[2]).sum() > L.N_OUT // 2  # the rest is not computed
    assert not np.isnan(reported[2]).any()  # a reported week's row is whole


def test_week_0_opens_the_horizon_with_the_customers_active_now_as_the_cohort(model):
    """docs/model.md 3.1: the customers active after the burn-in's last step (its newcomers
    included) are the cohort; week 0's row is their state with no flows and no spend;
    later rows count the cohort's retention against them."""
    burn_in = 12
    c = customers(9)
    c.ids = np.array([1, 2, 4, 5, 7, 8], dtype=np.int64)
    c.ist[L.JOIN_STEP] = [0, -40, 0, 3, 9, 12, 0, -5, 12]  # 8: joined in week 0's step
    c.company[L.SPEND] = 250.0
    c.company[L.BURNOUT] = 0.25
    c.tally[:] = np.arange(1, L.N_TALLY + 1)  # the burn-in week's flows
    par = parameters(model, P_BURN_IN=float(burn_in), P_COHORT=2000.0, P_FIXED_COST=100.0,
                     P_COST_PER_CONTACT=6.0)
    row = np.full(L.N_OUT, 7.0)
    rules.open_horizon(c.ids, 6, c.fs, c.ist, burn_in, model.seg, par, c.company, c.tally,
                       row, None, None)
    assert c.company[L.COHORT_SIZE] == 6 and c.company[L.SPEND] == 0.0
    assert not c.tally.any()
    assert row[L.O_SPEND] == 0.0 and row[L.O_PHASE] == 0 and row[L.O_TRIGGERS] == 0
    assert row[L.O_STEP] == 0 and row[L.O_ACTIVE] == 6 and row[L.O_COHORT_ACTIVE] == 6
    assert row[L.O_RETENTION] == 1.0
    for column in (L.O_ARRIVALS, L.O_CHURNED, L.O_CONTACTS, L.O_SERVED, L.O_CAUGHT,
                   L.O_SELF_SERVED, L.O_FAILURES, L.O_WAIT, L.O_RESOLUTION):
        assert row[column] == 0, L.STEP_COLUMNS[column]
    assert row[L.O_COST] == 100.0 and row[L.O_BURNOUT] == 0.25
    later = np.zeros(L.N_OUT)  # week 5: two of the cohort left, a newcomer joined
    c.ids = np.array([1, 4, 5, 6, 8], dtype=np.int64)
    c.ist[L.JOIN_STEP, 6] = burn_in + 3
    rules.summarize_step(c.ids, 5, c.fs, c.ist, burn_in + 5, model.seg, par, c.company,
                         c.tally, later)
    assert later[L.O_STEP] == 5 and later[L.O_COHORT_ACTIVE] == 4
    assert later[L.O_RETENTION] == 4 / 6


@pytest.mark.parametrize("burn_in", [0, 10])
def test_events_record_each_customers_join_churn_segment_and_referral(model, burn_in):
    """Join and churn in weeks from week 0 (internal step ``burn_in``): negative before
    it; a customer who has not left has STILL_ACTIVE, which no week can be."""
    ist = np.zeros((L.N_INT_STATE, 5), dtype=np.int64)
    ist[L.JOIN_STEP] = [-20, 0, 3, 10, 14]
    ist[L.CHURN_STEP] = [-1, 7, -1, 18, -1]
    ist[L.SEGMENT] = [2, 1, 0, 1, 2]
    ist[L.REFERRED] = [0, 0, 1, 1, 0]
    par = parameters(model, P_BURN_IN=float(burn_in))
    events = np.full((4, L.N_EVENT), -5, dtype=np.int64)  # room for four of the five
    rules.record_events(ist, 5, par, events)
    still = L.STILL_ACTIVE
    assert still < -rng.MAX_STEP
    assert np.array_equal(events[:, L.EV_JOIN], np.array([-20, 0, 3, 10]) - burn_in)
    assert np.array_equal(events[:, L.EV_CHURN], [still, 7 - burn_in, still, 18 - burn_in])
    assert np.array_equal(events[:, L.EV_SEGMENT], [2, 1, 0, 1])
    assert np.array_equal(events[:, L.EV_REFERRED], [0, 0, 1, 1])
    roomy = np.full((7, L.N_EVENT), -5, dtype=np.int64)
    rules.record_events(ist, 5, par, roomy)
    assert np.array_equal(roomy[:4], events) and np.all(roomy[5:] == -5)
    assert roomy[4, L.EV_JOIN] == 14 - burn_in and roomy[4, L.EV_CHURN] == still


# ------------------------------------------------- a decision at the edge of its chance

def at_or_above(u, above):
    """The chance that exactly equals the draw ``u``, or the next float above it."""
    return float(np.nextafter(u, 2.0)) if above else float(u)


@pytest.mark.parametrize("above", [False, True], ids=["chance == draw", "chance one ulp above"])
def test_a_draw_decides_yes_only_when_it_is_below_the_chance(model, above):
    """Every random decision is ``draw < chance``: at a chance equal to the draw the event
    does not happen, one float above it it does. Checked for each decision whose chance a
    test can set to a given number."""
    happens = above
    _, plain = decision_points(model)

    c = queued(1, 5)
    u = rng.uniform(KEY, 0, STEP, rng.ABANDON)
    serve(c, model, desk_par(model, 0), seg=segments(model, SEG_ABANDON=at_or_above(u, above)))
    assert (c.ist[L.QUEUED_SINCE, 0] == -1) == happens, "abandon"

    c = queued(1, 5)
    u = rng.uniform(KEY, 0, STEP, rng.RESOLUTION)
    serve(c, model, desk_par(model, 1, fcr=at_or_above(u, above), P_BURNOUT_PENALTY=0.0))
    assert (c.ist[L.ISSUE_OPEN, 0] == 0) == happens, "resolution"

    c = customers(1, tp_index=plain[0])
    c.ist[L.ISSUE_OPEN] = 1
    c.fs[L.EFFORT] = 9.0
    u = rng.uniform(KEY, 0, STEP, rng.SILENT_CHURN)
    decide(c, model, parameters(model, P_SILENT_THRESHOLD=4.0,
                                P_SILENT_RATE=at_or_above(u, above)))
    assert (c.ist[L.ACTIVE, 0] == 0) == happens, "silent exit"

    u = rng.uniform(KEY, 0, STEP, rng.SELF_SERVICE_TRY)
    seg = segments(model, SEG_SELF_SERVICE=at_or_above(u, above), SEG_VOICE=0.0)
    c = issue_week(model, 1, seg, parameters(model, P_KB_BASE=0.0, P_SS_FAIL_EFFORT=0.5,
                                             P_SILENT_EFFORT=0.0))
    assert (c.fs[L.EFFORT, 0] == 0.5) == happens, "self-service try"  # a try in vain

    u = rng.uniform(KEY, 0, STEP, rng.SELF_SERVICE_OK)
    seg = segments(model, SEG_SELF_SERVICE=1.0, SEG_VOICE=0.0)
    c = issue_week(model, 1, seg, parameters(model, P_KB_BASE=at_or_above(u, above)),
                   complexity=0.0)
    assert (c.ist[L.ISSUE_OPEN, 0] == 0) == happens, "self-service success"

    u = rng.uniform(KEY, 0, STEP, rng.VOICE)
    chance = at_or_above(u, above)  # for a trivial issue, no effort spent: the propensity
    assert rules.voice_probability(chance, 0.0, 0.0, 1.0, 0.5) == chance
    seg = segments(model, SEG_SELF_SERVICE=0.0, SEG_VOICE=chance)
    c = issue_week(model, 1, seg, parameters(model, P_VOICE_SEVERITY=1.0, P_VOICE_EFFORT=0.5))
    assert (c.ist[L.QUEUED_SINCE, 0] == STEP) == happens, "voice"
    assert (c.ist[L.ISSUE_SILENT, 0] == 0) == happens, "lived with"

    u = rng.uniform(KEY, 0, STEP, rng.FADE)
    seg = segments(model, SEG_SELF_SERVICE=0.0, SEG_VOICE=0.0)
    c = issue_week(model, 1, seg, parameters(model, P_FADE_RATE=at_or_above(u, above)),
                   silent=1)
    assert (c.ist[L.ISSUE_OPEN, 0] == 0) == happens, "fade"

    nurture_u, _ = rng.uniform_pair(KEY, 0, STEP, rng.NURTURE_AND_MOVE)
    c = customers(1)
    c.ist[L.JOIN_STEP] = STEP - 5
    c.company[L.EFFECT + L.RELATIONSHIP] = at_or_above(nurture_u, above)
    week(c, model, parameters(model, P_NURTURE_TRUST=0.5), tp=failing(model, 0.0))
    assert (c.work[L.W_TRUST, 0] > 0.6) == happens, "check-in"

    u = rng.uniform(KEY, 0, STEP, rng.FAILURE)
    c = customers(1)
    c.ist[L.JOIN_STEP] = STEP - 5
    week(c, model, model.par, tp=failing(model, at_or_above(u, above)))
    assert (c.ist[L.ISSUE_OPEN, 0] == 1) == happens, "failure"

    u = rng.uniform(KEY, 0, STEP, rng.CATCH)
    c = customers(1)
    c.ist[L.JOIN_STEP] = STEP - 5
    c.company[L.EFFECT + L.OUTREACH] = at_or_above(u, above)
    week(c, model, model.par, tp=failing(model))
    assert (c.tally[L.T_CAUGHT] == 1) == happens, "catch"

    u = rng.uniform(KEY, 0, STEP, rng.REFERRED)
    fs = np.zeros((L.N_FLOAT_STATE, 1))
    ist = np.zeros((L.N_INT_STATE, 1), dtype=np.int64)
    rules.admit(fs, ist, 0, 1, STEP, KEY, model.seg, model.par, at_or_above(u, above))
    assert (ist[L.REFERRED, 0] == 1) == happens, "referred"

    u = rng.uniform(KEY, 0, STEP, rng.SEGMENT)
    seg = model.seg.copy()
    seg[L.SEG_CUM_SHARE, 0] = at_or_above(u, above)
    rules.admit(fs, ist, 0, 1, STEP, KEY, seg, model.par, 0.0)
    assert (ist[L.SEGMENT, 0] == 0) == happens, "first segment"


@pytest.mark.parametrize("above", [False, True], ids=["bound == draw", "bound one ulp above"])
def test_a_move_passes_a_bound_its_draw_reaches(model, above):
    """The next touchpoint is the number of cumulative bounds the move draw has reached
    (u >= bound), so a bound equal to the draw is passed."""
    u = rng.uniform_pair(KEY, 0, STEP, rng.NURTURE_AND_MOVE)[1]
    cum = model.cum_transitions.copy()
    cum[2] = 1.0
    cum[2, 0] = at_or_above(u, above)  # from app_use: signup below the draw, else the rest
    c = customers(1)
    c.ist[L.JOIN_STEP] = STEP - 5
    rules.weekly_draws(c.ids, 1, STEP, KEY, c.work)
    rules.visit(c.ids, 1, c.fs, c.ist, STEP, KEY, model.tp, cum, move_guide(cum),
                model.schedule, model.par, c.company, c.tally, c.work, None, None)
    assert c.ist[L.TOUCHPOINT, 0] == (0 if above else 1)


def test_a_visit_may_be_scheduled_at_the_first_touchpoint(model):
    schedule = model.schedule.copy()
    schedule[5] = 0
    c = customers(20)
    c.ist[L.JOIN_STEP] = STEP - 5
    week(c, model, model.par, schedule=schedule)
    assert np.all(c.ist[L.TOUCHPOINT] == 0)


def test_the_queue_key_packs_week_tie_and_id_in_that_order():
    for since, i, key in ((0, 0, KEY), (3, 12345, KEY), (4095, 2**30 - 1, OTHER_KEY)):
        tie = int(rng.bits(key, i, STEP, rng.QUEUE_KEY)) >> 44
        assert rules._queue_key(np.int64(since), key, i, STEP) == (since << 50) | (tie << 30) | i


def test_each_part_of_a_week_adds_to_the_tallies_it_is_given(model):
    """The Mesa engine calls the parts of a week once per customer, so the week's counts
    must add up over calls: each part adds its counts to the tally, never overwrites it."""
    def counts(run, prefill):
        c = customers(60)
        c.ist[L.JOIN_STEP] = STEP - 5
        c.ist[L.SEGMENT] = np.arange(60) % 3
        c.ist[L.ISSUE_OPEN, ::2] = 1
        c.ist[L.QUEUED_SINCE, ::4] = 20
        c.fs[L.EFFORT] = 5.0
        c.company[L.EFFECT + L.OUTREACH] = 0.5
        c.tally[:] = prefill
        run(c)
        return c.tally

    par = parameters(model, P_BASE_CAPACITY=5, P_SILENT_THRESHOLD=4.0, P_SILENT_RATE=0.5)
    seg = segments(model, SEG_SELF_SERVICE=[0.5] * 3, SEG_VOICE=[0.5] * 3, SEG_ABANDON=0.5)
    tp = failing(model, 0.5)
    parts = {
        "visit": lambda c: week(c, model, par, tp=tp),
        "open_issues": lambda c: rules.open_issues(c.ids, c.n, c.fs, c.ist, STEP, KEY, seg,
                                                  par, c.company, c.tally, c.work, None, None),
        "serve_desk": lambda c: serve(c, model, par, seg=seg),
        "decide": lambda c: decide(c, model, par, tp=tp),
    }
    prefill = np.arange(1, L.N_TALLY + 1) * 1000.0
    for name, run in parts.items():
        alone = counts(run, 0.0)
        assert alone.any(), name  # the part counts something here
        assert np.array_equal(counts(run, prefill), prefill + alone), name


def test_the_knowledge_base_never_solves_more_than_all_it_could(model):
    """Its reach is capped at 1 before the issue's complexity takes its share."""
    n = 2000
    seg = segments(model, SEG_SELF_SERVICE=[1.0] * 3, SEG_VOICE=[0.0] * 3)
    company = np.zeros(L.N_COMPANY)
    company[L.EFFECT + L.SELF_SERVICE] = 0.5
    c = issue_week(model, n, seg, parameters(model, P_KB_BASE=0.9), company, complexity=0.5)
    solved = c.ist[L.ISSUE_OPEN] == 0
    assert np.array_equal(solved, uniforms(rng.SELF_SERVICE_OK, range(n)) < 1.0 * 0.5)


def test_promoters_from_exactly_9_and_detractors_below_exactly_7(model):
    """With the answer 11 x satisfaction: 9/11 promotes, 7/11 is passive, just below
    detracts."""
    s_nine, s_seven = 9.0 / 11.0, 7.0 / 11.0
    par = parameters(model, P_LTR_S=1.0, P_LTR_TRUST=0.0, P_LTR_MOOD=0.0)
    assert 11.0 * s_nine == 9.0 and 11.0 * s_seven == 7.0  # the edges are exact numbers
    c = customers(3)
    c.fs[L.SATISFACTION] = [s_nine, s_seven, np.nextafter(s_seven, 0.0)]
    row = np.zeros(L.N_OUT)
    assert rules.summarize_step(c.ids, 3, c.fs, c.ist, STEP, model.seg, par, c.company,
                                c.tally, row) == (1, 1)


def test_a_move_can_lead_to_the_last_touchpoint(model):
    """The search over the cumulative bounds reaches the last column (the bundled journeys
    never move there by chance: it is the scheduled renewal). The last bound below the
    draw lies inside the draw's guide cell, so the search itself must step over it."""
    u = rng.uniform_pair(KEY, 0, STEP, rng.NURTURE_AND_MOVE)[1]
    cell_start = np.floor(u * L.MOVE_GUIDE_CELLS) / L.MOVE_GUIDE_CELLS
    last = model.tp.shape[1] - 1
    cum = model.cum_transitions.copy()
    cum[2] = 1.0
    cum[2, :last - 1] = 0.0
    cum[2, last - 1] = (cell_start + u) / 2.0  # above the cell's start, below the draw
    c = customers(1)
    c.ist[L.JOIN_STEP] = STEP - 5
    rules.weekly_draws(c.ids, 1, STEP, KEY, c.work)
    rules.visit(c.ids, 1, c.fs, c.ist, STEP, KEY, model.tp, cum, move_guide(cum),
                model.schedule, model.par, c.company, c.tally, c.work, None, None)
    assert move_guide(cum)[2, int(u * L.MOVE_GUIDE_CELLS)] == last - 1
    assert c.ist[L.TOUCHPOINT, 0] == last


def test_a_summary_of_one_customer_is_that_customer(model):
    c = customers(1)
    c.fs[L.MOOD] = -0.375
    c.fs[L.EFFORT] = 2.5
    c.tally[L.T_SERVED], c.tally[L.T_WAIT_SUM], c.tally[L.T_RESOLVED] = 1, 3, 1
    row = np.zeros(L.N_OUT)
    rules.summarize_step(c.ids, 1, c.fs, c.ist, STEP, model.seg, model.par, c.company,
                         c.tally, row)
    assert (row[L.O_MOOD], row[L.O_EFFORT], row[L.O_TRUST]) == (-0.375, 2.5, 0.6)
    assert (row[L.O_WAIT], row[L.O_RESOLUTION]) == (3.0, 1.0)  # one contact served
