"""The model's rules, written once and compiled by numba; both engines call these.

Read top to bottom, this module is MODEL.md: first the small rules (appraisal, mood,
expectation, satisfaction, trust, churn probability, lever stocks, burnout, likelihood to
recommend), then the parts of a week that use them (``live_week`` for one customer,
``serve_desk`` for the company, ``decide``), then bookkeeping (``join``, ``summarize_step``).

Customer state is held as arrays (see ``layout``), parameters too. Every random draw is
keyed by (run key, customer, step, purpose) through ``rng``, so no rule depends on the order
in which customers are visited.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import layout as L
from . import rng

# ----------------------------------------------------------------------- small rules


@njit(cache=True, inline="always")
def clip(x, lo, hi):
    return lo if x < lo else (hi if x > hi else x)


@njit(cache=True, inline="always")
def lever_effect(stock, scale, ceiling):
    """Diminishing returns: the effect approaches ``ceiling`` as the stock grows."""
    return ceiling * (1.0 - np.exp(-stock / scale))


@njit(cache=True, inline="always")
def appraisal(performance, expectation, mood, kappa, gamma, loss_aversion):
    """Expectation-disconfirmation with mood congruence and loss aversion.

    Returns (disconfirmation d, valence v in (-1, 1)).
    """
    d = performance - expectation
    a = d + kappa * mood
    if a < 0.0:
        a *= loss_aversion
    return d, np.tanh(gamma * a)


@njit(cache=True, inline="always")
def next_mood(mood, valence, persistence, shock):
    return clip(persistence * mood + (1.0 - persistence) * valence + shock, -1.0, 1.0)


@njit(cache=True, inline="always")
def next_satisfaction(satisfaction, valence, rate):
    """Satisfaction moves towards the valence (mapped to [0, 1]) at ``rate`` = alpha x salience."""
    return satisfaction + min(rate, 1.0) * ((valence + 1.0) * 0.5 - satisfaction)


@njit(cache=True, inline="always")
def next_expectation(expectation, performance, rate, drift):
    """Expectations adapt to what is delivered and creep up with market standards."""
    return clip(expectation + rate * (performance - expectation) + drift, 0.0, 1.0)


@njit(cache=True, inline="always")
def next_trust(trust, disconfirmation, gain, loss, tolerance, breach):
    """Trust grows slowly while promises are kept and falls sharply on a breach."""
    if disconfirmation >= -tolerance:
        return trust + gain * (1.0 - trust)
    if disconfirmation < -breach:
        return trust - loss * trust
    return trust


@njit(cache=True, inline="always")
def evaluated_satisfaction(satisfaction, worst, last, count, peak_weight, end_weight):
    """Peak-end rule: the remembered cycle mixes the attitude with its worst and last moments."""
    if count == 0:
        return satisfaction
    return ((1.0 - peak_weight - end_weight) * satisfaction
            + peak_weight * (worst + 1.0) * 0.5 + end_weight * (last + 1.0) * 0.5)


@njit(cache=True, inline="always")
def competitor_pull(step, growth):
    """Competitors' attraction: 1 at the start, growing by ``growth`` per year."""
    return 1.0 + growth * step / 52.0


@njit(cache=True, inline="always")
def churn_probability(s_eval, trust, effort, issue_open, competitor, bias, effort_weight, par):
    z = (par[L.P_C0] + bias - par[L.P_CS] * s_eval - par[L.P_CTAU] * trust
         + par[L.P_CEFFORT] * effort_weight * effort + par[L.P_CISSUE] * issue_open
         + par[L.P_CCOMP] * competitor)
    return 1.0 / (1.0 + np.exp(-z))


@njit(cache=True, inline="always")
def likelihood_to_recommend(satisfaction, trust, mood, par):
    """The 0-10 answer to "would you recommend us?"."""
    score = (par[L.P_LTR_S] * satisfaction + par[L.P_LTR_TRUST] * trust
             + par[L.P_LTR_MOOD] * (mood + 1.0) * 0.5)
    return min(10, int(np.floor(11.0 * clip(score, 0.0, 1.0))))


@njit(cache=True, inline="always")
def next_burnout(burnout, demand, capacity, rate, heal, staff_effect):
    """Burnout grows while demand exceeds capacity, heals otherwise; staff spend helps both."""
    if demand > capacity:
        pressure = 1.0 if capacity == 0 else min(1.0, demand / capacity - 1.0)
        return burnout + rate * pressure * (1.0 - staff_effect) * (1.0 - burnout)
    return burnout - min(1.0, heal * (1.0 + staff_effect)) * burnout


@njit(cache=True, inline="always")
def update_levers(company, levers, spend):
    """One week of spending: every stock depreciates, then receives its spend."""
    total = 0.0
    for lever in range(L.N_LEVERS):
        stock = (1.0 - levers[L.LV_DEPRECIATION, lever]) * company[L.STOCK + lever] + spend[lever]
        company[L.STOCK + lever] = stock
        total += spend[lever]
        if lever == L.CAPACITY:
            company[L.EFFECT + lever] = np.floor(stock / levers[L.LV_SCALE, lever] + 1e-9)
        else:
            company[L.EFFECT + lever] = lever_effect(stock, levers[L.LV_SCALE, lever],
                                                     levers[L.LV_CEILING, lever])
    company[L.SPEND] = total


@njit(cache=True, inline="always")
def first_contact_resolution(company, par):
    return par[L.P_FCR] + (par[L.P_FCR_MAX] - par[L.P_FCR]) * company[L.EFFECT + L.TRAINING]


@njit(cache=True, inline="always")
def recovery_quality(company, par):
    return (par[L.P_RECOVERY] + (par[L.P_RECOVERY_MAX] - par[L.P_RECOVERY])
            * company[L.EFFECT + L.RECOVERY])


@njit(cache=True, inline="always")
def desk_capacity(company, par):
    return int(par[L.P_BASE_CAPACITY] + company[L.EFFECT + L.CAPACITY])


# ------------------------------------------------------------ one customer's week


@njit(cache=True, inline="always")
def learn(fs, ist, i, performance, salience, shock, par):
    """Appraise one experience and update mood, satisfaction, expectation, trust, memory."""
    d, v = appraisal(performance, fs[L.EXPECTATION, i], fs[L.MOOD, i],
                     par[L.P_KAPPA], par[L.P_GAMMA], par[L.P_LAMBDA])
    fs[L.MOOD, i] = next_mood(fs[L.MOOD, i], v, par[L.P_RHO], shock)
    fs[L.SATISFACTION, i] = next_satisfaction(fs[L.SATISFACTION, i], v, par[L.P_ALPHA] * salience)
    fs[L.EXPECTATION, i] = next_expectation(fs[L.EXPECTATION, i], performance,
                                            par[L.P_BETA], par[L.P_DELTA])
    fs[L.TRUST, i] = next_trust(fs[L.TRUST, i], d, par[L.P_TRUST_GAIN], par[L.P_TRUST_LOSS],
                                par[L.P_TRUST_TOL], par[L.P_TRUST_BREACH])
    fs[L.WORST, i] = min(fs[L.WORST, i], v)
    fs[L.LAST, i] = v
    ist[L.CYCLE_COUNT, i] += 1


@njit(cache=True, inline="always")
def nurture(fs, i, step, key, company, par):
    """A proactive check-in, with the probability the relationship lever buys."""
    chance = company[L.EFFECT + L.RELATIONSHIP]
    if chance > 0.0 and rng.uniform(key, i, step, rng.NURTURE) < chance:
        fs[L.TRUST, i] += par[L.P_NURTURE_TRUST] * (1.0 - fs[L.TRUST, i])
        fs[L.MOOD, i] = min(1.0, fs[L.MOOD, i] + par[L.P_NURTURE_MOOD])


@njit(cache=True, inline="always")
def move(ist, i, step, key, cum_transitions, schedule, par):
    """Next touchpoint: entry first, a visit due at this tenure, else the journey's chain."""
    here = ist[L.TOUCHPOINT, i]
    if here < 0:
        ist[L.TOUCHPOINT, i] = int(par[L.P_ENTRY])
        return
    due = schedule[step - ist[L.JOIN_STEP, i]]
    if due >= 0:
        ist[L.TOUCHPOINT, i] = due
        return
    u = rng.uniform(key, i, step, rng.MOVE)
    nxt = 0
    for j in range(cum_transitions.shape[1] - 1):  # branch-free: count the bounds u passed
        nxt += u >= cum_transitions[here, j]
    ist[L.TOUCHPOINT, i] = nxt


@njit(cache=True, inline="always")
def open_issue(fs, ist, i, severity, complexity):
    if ist[L.ISSUE_OPEN, i] == 1:  # a second failure makes the open issue worse, not a new one
        fs[L.SEVERITY, i] = max(fs[L.SEVERITY, i], severity)
        fs[L.ISSUE_COMPLEXITY, i] = max(fs[L.ISSUE_COMPLEXITY, i], complexity)
        return
    ist[L.ISSUE_OPEN, i] = 1
    ist[L.SELF_SERVICE_TRIED, i] = 0
    fs[L.SEVERITY, i] = severity
    fs[L.ISSUE_COMPLEXITY, i] = complexity


@njit(cache=True, inline="always")
def close_issue(ist, i):
    ist[L.ISSUE_OPEN, i] = 0
    ist[L.QUEUED_SINCE, i] = -1


@njit(cache=True, inline="always")
def experience(fs, ist, i, step, key, tp, par, company, tally):
    """The touchpoint visit: it works, fails and is caught, or fails and opens an issue."""
    k = ist[L.TOUCHPOINT, i]
    z_performance, z_mood = rng.normal_pair(key, i, step, rng.PERFORMANCE_AND_MOOD)
    sigma = tp[L.TP_VARIABILITY, k] * (1.0 - company[L.EFFECT + L.CONSISTENCY])
    performance = clip(tp[L.TP_QUALITY, k] + sigma * z_performance, 0.0, 1.0)
    failure_rate = tp[L.TP_FAILURE, k] * (1.0 - company[L.EFFECT + L.RELIABILITY])
    if rng.uniform(key, i, step, rng.FAILURE) < failure_rate:
        catch = company[L.EFFECT + L.OUTREACH]
        if catch > 0.0 and rng.uniform(key, i, step, rng.CATCH) < catch:
            tally[L.T_CAUGHT] += 1
            fs[L.TRUST, i] += par[L.P_CAUGHT_TRUST] * (1.0 - fs[L.TRUST, i])
        else:
            severity = rng.uniform(key, i, step, rng.SEVERITY)
            performance = clip(performance - par[L.P_FAIL_PENALTY] * (0.5 + 0.5 * severity),
                               0.0, 1.0)
            open_issue(fs, ist, i, severity, tp[L.TP_COMPLEXITY, k])
    learn(fs, ist, i, performance, tp[L.TP_SALIENCE, k], par[L.P_SHOCK] * z_mood, par)


@njit(cache=True, inline="always")
def handle_issue(fs, ist, i, step, key, seg, par, company, tally):
    """An open issue: try self-service once, then call the desk or suffer in silence."""
    if ist[L.ISSUE_OPEN, i] == 0 or ist[L.QUEUED_SINCE, i] >= 0:
        return
    s = ist[L.SEGMENT, i]
    if ist[L.SELF_SERVICE_TRIED, i] == 0 and \
            rng.uniform(key, i, step, rng.SELF_SERVICE_TRY) < seg[L.SEG_SELF_SERVICE, s]:
        ist[L.SELF_SERVICE_TRIED, i] = 1
        knowledge_base = min(1.0, par[L.P_KB_BASE] + company[L.EFFECT + L.SELF_SERVICE])
        if rng.uniform(key, i, step, rng.SELF_SERVICE_OK) < \
                knowledge_base * (1.0 - fs[L.ISSUE_COMPLEXITY, i]):
            close_issue(ist, i)
            fs[L.EFFORT, i] += par[L.P_SS_EFFORT]
            tally[L.T_SELF_SERVED] += 1
            return
        fs[L.EFFORT, i] += par[L.P_SS_FAIL_EFFORT]
    if rng.uniform(key, i, step, rng.VOICE) < seg[L.SEG_VOICE, s]:
        ist[L.QUEUED_SINCE, i] = step
        fs[L.EFFORT, i] += par[L.P_CONTACT_EFFORT]
        tally[L.T_CONTACTS] += 1
    else:  # most unhappy customers never complain
        fs[L.EFFORT, i] += par[L.P_SILENT_EFFORT]
        fs[L.MOOD, i] = max(-1.0, fs[L.MOOD, i] - par[L.P_SILENT_MOOD])


@njit(cache=True, inline="always")
def live_week(fs, ist, i, step, key, tp, cum_transitions, schedule, seg, par, company, tally):
    """Steps 2-5 of a week for one active customer: nurture, move, experience, issues."""
    nurture(fs, i, step, key, company, par)
    move(ist, i, step, key, cum_transitions, schedule, par)
    experience(fs, ist, i, step, key, tp, par, company, tally)
    handle_issue(fs, ist, i, step, key, seg, par, company, tally)


# ------------------------------------------------------------------ the service desk

_QUEUE_ID_BITS = 30  # customer ids below 2**30
_QUEUE_KEY_BITS = 20


@njit(cache=True, inline="always")
def _queue_key(since, key, i, step):
    """Oldest first; ties broken by a random key (then by id, for the rare equal keys)."""
    tie = np.int64(rng.bits(key, i, step, rng.QUEUE_KEY) >> np.uint64(64 - _QUEUE_KEY_BITS))
    return (since << (_QUEUE_KEY_BITS + _QUEUE_ID_BITS)) | (tie << _QUEUE_ID_BITS) | i


@njit(cache=True, inline="always")
def serve_desk(fs, ist, n, step, key, seg, par, company, tally, queue):
    """Step 6: serve the queue oldest first up to capacity; the rest wait or give up."""
    waiting = 0
    for i in range(n):
        if ist[L.ACTIVE, i] == 1 and ist[L.QUEUED_SINCE, i] >= 0:
            queue[waiting] = _queue_key(ist[L.QUEUED_SINCE, i], key, i, step)
            waiting += 1
    queue[:waiting].sort()
    capacity = desk_capacity(company, par)
    burnout = company[L.BURNOUT]
    quality_loss = 1.0 - par[L.P_BURNOUT_PENALTY] * burnout
    fcr = first_contact_resolution(company, par)
    recovery = recovery_quality(company, par) * quality_loss
    id_mask = (np.int64(1) << _QUEUE_ID_BITS) - 1
    for r in range(waiting):
        i = queue[r] & id_mask
        if r < capacity:
            tally[L.T_SERVED] += 1
            tally[L.T_WAIT_SUM] += step - ist[L.QUEUED_SINCE, i]
            resolve = fcr * (1.0 - 0.5 * fs[L.SEVERITY, i]) * quality_loss
            if rng.uniform(key, i, step, rng.RESOLUTION) < resolve:
                tally[L.T_RESOLVED] += 1
                close_issue(ist, i)
                learn(fs, ist, i, recovery, par[L.P_RECOVERY_SALIENCE], 0.0, par)
            else:  # unresolved: the customer calls again next week
                ist[L.QUEUED_SINCE, i] = step + 1
                fs[L.EFFORT, i] += par[L.P_CONTACT_EFFORT]
                tally[L.T_CONTACTS] += 1
        else:
            fs[L.EFFORT, i] += par[L.P_WAIT_EFFORT]
            if rng.uniform(key, i, step, rng.ABANDON) < seg[L.SEG_ABANDON, ist[L.SEGMENT, i]]:
                ist[L.QUEUED_SINCE, i] = -1  # gives up into silence; the issue stays open
    tally[L.T_DEMAND] = waiting
    company[L.BURNOUT] = next_burnout(burnout, waiting, capacity, par[L.P_BURNOUT_RATE],
                                      par[L.P_BURNOUT_HEAL], company[L.EFFECT + L.STAFF])


# --------------------------------------------------------------------------- decision


@njit(cache=True, inline="always")
def decide(fs, ist, i, step, key, tp, seg, par, tally):
    """Step 7: renew or leave at a decision touchpoint; silent exit under a heavy open issue."""
    s = ist[L.SEGMENT, i]
    leaves = False
    if tp[L.TP_DECISION, ist[L.TOUCHPOINT, i]] > 0.0:
        s_eval = evaluated_satisfaction(fs[L.SATISFACTION, i], fs[L.WORST, i], fs[L.LAST, i],
                                        ist[L.CYCLE_COUNT, i], par[L.P_PEAK_W], par[L.P_END_W])
        p = churn_probability(s_eval, fs[L.TRUST, i], fs[L.EFFORT, i], ist[L.ISSUE_OPEN, i],
                              competitor_pull(step, par[L.P_COMP_GROWTH]),
                              seg[L.SEG_CHURN_BIAS, s], seg[L.SEG_EFFORT_WEIGHT, s], par)
        leaves = rng.uniform(key, i, step, rng.CHURN) < p
        fs[L.WORST, i] = 1.0
        fs[L.LAST, i] = 0.0
        ist[L.CYCLE_COUNT, i] = 0
    elif ist[L.ISSUE_OPEN, i] == 1 and fs[L.EFFORT, i] > par[L.P_SILENT_THRESHOLD]:
        leaves = rng.uniform(key, i, step, rng.SILENT_CHURN) < par[L.P_SILENT_RATE]
    if leaves:
        ist[L.ACTIVE, i] = 0
        ist[L.CHURN_STEP, i] = step
        ist[L.QUEUED_SINCE, i] = -1
        tally[L.T_CHURNED] += 1
    else:
        fs[L.EFFORT, i] *= 1.0 - par[L.P_EFFORT_DECAY]


# --------------------------------------------------------------- arrivals and bookkeeping


@njit(cache=True, inline="always")
def join(fs, ist, i, step, key, seg, par, referred):
    """A customer joins: segment drawn by share; referred newcomers trust and expect more."""
    u = rng.uniform(key, i, step, rng.SEGMENT)
    s = seg.shape[1] - 1
    for j in range(seg.shape[1]):
        if u < seg[L.SEG_CUM_SHARE, j]:
            s = j
            break
    ist[L.ACTIVE, i] = 1
    ist[L.TOUCHPOINT, i] = -1
    ist[L.SEGMENT, i] = s
    ist[L.JOIN_STEP, i] = step
    ist[L.CHURN_STEP, i] = -1
    ist[L.ISSUE_OPEN, i] = 0
    ist[L.SELF_SERVICE_TRIED, i] = 0
    ist[L.QUEUED_SINCE, i] = -1
    ist[L.CYCLE_COUNT, i] = 0
    ist[L.REFERRED, i] = 1 if referred else 0
    boost = 1.0 if referred else 0.0
    fs[L.MOOD, i] = 0.0
    fs[L.EXPECTATION, i] = min(1.0, seg[L.SEG_EXPECTATION, s] + boost * par[L.P_REF_EXPECTATION])
    fs[L.SATISFACTION, i] = seg[L.SEG_SATISFACTION, s]
    fs[L.TRUST, i] = min(1.0, seg[L.SEG_TRUST, s] + boost * par[L.P_REF_TRUST])
    fs[L.EFFORT, i] = 0.0
    fs[L.SEVERITY, i] = 0.0
    fs[L.ISSUE_COMPLEXITY, i] = 0.0
    fs[L.WORST, i] = 1.0
    fs[L.LAST, i] = 0.0


@njit(cache=True, inline="always")
def arrivals(key, step, promoters, detractors, par):
    """Step 8: (newcomers this week, share of them referred by promoters)."""
    referrals = par[L.P_REFERRAL] * promoters
    rate = max(0.0, par[L.P_ARRIVAL_BASE] + referrals - par[L.P_DETRACTOR] * detractors)
    n_new = rng.poisson(key, step, rate)
    organic_and_referred = par[L.P_ARRIVAL_BASE] + referrals
    share = referrals / organic_and_referred if organic_and_referred > 0.0 else 0.0
    return n_new, share


@njit(cache=True, inline="always")
def admit(fs, ist, first, n_new, step, key, seg, par, referred_share):
    """Customers ``first`` .. ``first + n_new - 1`` join this step."""
    for i in range(first, first + n_new):
        join(fs, ist, i, step, key, seg, par,
             rng.uniform(key, i, step, rng.REFERRED) < referred_share)


@njit(cache=True, inline="always")
def summarize_step(fs, ist, n, step, seg, par, company, tally, row):
    """Steps 8-9 bookkeeping: one row of MODEL.md's per-step outputs (before arrivals).

    Returns (promoters, detractors) for word of mouth.
    """
    active = 0
    cohort_active = 0
    promoters = 0
    detractors = 0
    satisfied = 0
    backlog = 0
    mood = expectation = satisfaction = trust = effort = 0.0
    revenue = cohort_revenue = 0.0
    for i in range(n):
        if ist[L.ACTIVE, i] == 0:
            continue
        active += 1
        value = seg[L.SEG_VALUE, ist[L.SEGMENT, i]]
        revenue += value
        if ist[L.JOIN_STEP, i] == 0:
            cohort_active += 1
            cohort_revenue += value
        mood += fs[L.MOOD, i]
        expectation += fs[L.EXPECTATION, i]
        satisfaction += fs[L.SATISFACTION, i]
        trust += fs[L.TRUST, i]
        effort += fs[L.EFFORT, i]
        if fs[L.SATISFACTION, i] >= 0.7:
            satisfied += 1
        ltr = likelihood_to_recommend(fs[L.SATISFACTION, i], fs[L.TRUST, i], fs[L.MOOD, i], par)
        if ltr >= 9:
            promoters += 1
        elif ltr <= 6:
            detractors += 1
        if ist[L.QUEUED_SINCE, i] >= 0:
            backlog += 1
    per = 1.0 / active if active > 0 else 0.0
    served = tally[L.T_SERVED]
    cost = company[L.SPEND] + served * par[L.P_COST_PER_CONTACT] + par[L.P_FIXED_COST]
    row[L.O_STEP] = step
    row[L.O_ACTIVE] = active
    row[L.O_COHORT_ACTIVE] = cohort_active
    row[L.O_RETENTION] = cohort_active / par[L.P_COHORT]
    row[L.O_ARRIVALS] = 0
    row[L.O_CHURNED] = tally[L.T_CHURNED]
    row[L.O_MOOD] = mood * per
    row[L.O_EXPECTATION] = expectation * per
    row[L.O_SATISFACTION] = satisfaction * per
    row[L.O_TRUST] = trust * per
    row[L.O_EFFORT] = effort * per
    row[L.O_NPS] = 100.0 * (promoters - detractors) * per
    row[L.O_CSAT] = satisfied * per
    row[L.O_CONTACTS] = tally[L.T_CONTACTS]
    row[L.O_SERVED] = served
    row[L.O_BACKLOG] = backlog
    row[L.O_WAIT] = tally[L.T_WAIT_SUM] / served if served > 0 else 0.0
    row[L.O_RESOLUTION] = tally[L.T_RESOLVED] / served if served > 0 else 0.0
    row[L.O_CAUGHT] = tally[L.T_CAUGHT]
    row[L.O_SELF_SERVED] = tally[L.T_SELF_SERVED]
    row[L.O_BURNOUT] = company[L.BURNOUT]
    row[L.O_REVENUE] = revenue
    row[L.O_COST] = cost
    row[L.O_PROFIT] = revenue - cost
    row[L.O_COHORT_REVENUE] = cohort_revenue
    return promoters, detractors


@njit(cache=True, inline="always")
def record_arrivals(row, n_new):
    """Newcomers count as active from the week they join (they pay from the next week)."""
    row[L.O_ARRIVALS] = n_new
    row[L.O_ACTIVE] += n_new
