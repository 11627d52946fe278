"""The model's rules, written once and compiled by numba; both engines call these.

Read top to bottom, this module is MODEL.md: first the small rules (appraisal, mood,
expectation, satisfaction, trust, churn probability, lever stocks, burnout, likelihood to
recommend), then the parts of a week that use them (``live_week`` for the customers,
``serve_desk`` for the company, ``decide``), then bookkeeping (``join``, ``summarize_step``,
``record_events``) and the optional diagnostic records (``open_episode`` ...
``summarize_segments``).

Customer state is held as arrays (see ``layout``), parameters too. Every random draw is
keyed by (run key, customer, step, purpose) through ``rng``, so no rule depends on the order
in which customers are visited.

The parts of a week take a group of customers: ``ids[:count]``, the active customers'
columns in ascending order (the batch engine passes all of them, a Mesa agent its own one).
How this is written is set by speed, not by the model:

- the small rules take and return plain numbers; the loops over customers read a
  customer's state into local variables, apply the rules, and write it back. An array
  passed into an inlined function costs an atomic reference-count pair per call, which in a
  loop over customers cost more than the rule itself;
- parameters the rules need are read once per call of a group rule, into numbers or tuples;
- counts are kept in local integers and added to ``tally`` once per group;
- ``error_model="numpy"`` everywhere: divisions are guarded by the model itself, so numba's
  division-by-zero checks are dead weight;
- a customer's week is split into passes over the group (``live_week``): the draws and
  the appraisal run as loops of vector instructions over contiguous working rows, and the
  two scalar passes between them are short enough for the processor to overlap customers;
- no branch on what differs unpredictably from customer to customer when the other side
  can be computed cheaply: in a warm start the scheduled visits and decisions of
  customers with spread tenures fall in no pattern, and a mispredicted branch costs more
  than the work it skips (``visit``'s move, ``decide``'s passes);
- ``exp``, ``tanh`` and the logistic function come from ``mathfn``, which compiles them
  inline (a library call cannot be vectorised and makes a loop spill its registers).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import layout as L
from . import mathfn, rng

# ----------------------------------------------------------------------- small rules


@njit(cache=True, error_model="numpy", inline="always")
def clip(x, lo, hi):
    return lo if x < lo else (hi if x > hi else x)


@njit(cache=True, error_model="numpy", inline="always")
def lever_effect(stock, scale, ceiling):
    """Diminishing returns: the effect approaches ``ceiling`` as the stock grows."""
    return ceiling * (1.0 - mathfn.exp(-stock / scale))


@njit(cache=True, error_model="numpy", inline="always")
def appraisal(performance, expectation, mood, kappa, gamma, loss_aversion):
    """Expectation-disconfirmation with mood congruence and loss aversion.

    Returns (disconfirmation d, valence v in (-1, 1)).
    """
    d = performance - expectation
    a = d + kappa * mood
    a = a * loss_aversion if a < 0.0 else a
    return d, mathfn.tanh(gamma * a)


@njit(cache=True, error_model="numpy", inline="always")
def next_mood(mood, valence, persistence, shock):
    return clip(persistence * mood + (1.0 - persistence) * valence + shock, -1.0, 1.0)


@njit(cache=True, error_model="numpy", inline="always")
def next_satisfaction(satisfaction, valence, rate):
    """Satisfaction moves towards the valence (mapped to [0, 1]) at ``rate`` = alpha x salience."""
    return satisfaction + min(rate, 1.0) * ((valence + 1.0) * 0.5 - satisfaction)


@njit(cache=True, error_model="numpy", inline="always")
def next_expectation(expectation, performance, rate, drift):
    """Expectations adapt to what is delivered and creep up with market standards."""
    return clip(expectation + rate * (performance - expectation) + drift, 0.0, 1.0)


@njit(cache=True, error_model="numpy", inline="always")
def next_trust(trust, disconfirmation, gain, loss, tolerance, breach):
    """Trust grows slowly while promises are kept and falls sharply on a breach."""
    kept = trust + gain * (1.0 - trust)
    broken = trust - loss * trust
    return kept if disconfirmation >= -tolerance else (
        broken if disconfirmation < -breach else trust)


@njit(cache=True, error_model="numpy", inline="always")
def evaluated_satisfaction(satisfaction, worst, last, count, peak_weight, end_weight):
    """Peak-end rule: the remembered cycle mixes the attitude with its worst and last moments."""
    if count == 0:
        return satisfaction
    return ((1.0 - peak_weight - end_weight) * satisfaction
            + peak_weight * (worst + 1.0) * 0.5 + end_weight * (last + 1.0) * 0.5)


@njit(cache=True, error_model="numpy", inline="always")
def competitor_pull(week, growth):
    """Competitors' attraction: 1 at week 0, growing by ``growth`` per year (less before
    week 0, in a warm start's burn-in, but never below 0: no competitor at all)."""
    return max(0.0, 1.0 + growth * week / 52.0)


@njit(cache=True, error_model="numpy", inline="always")
def voice_probability(propensity, severity, effort, severity_weight, effort_weight):
    """The chance a customer voices a new issue (once per issue): the segment's propensity
    for a trivial issue with no effort spent, its odds multiplied by
    exp(severity_weight x severity + effort_weight x effort)."""
    odds = propensity * mathfn.exp(severity_weight * severity + effort_weight * effort)
    return odds / (1.0 - propensity + odds)


@njit(cache=True, error_model="numpy", inline="always")
def churn_probability(s_eval, trust, effort, issue_open, competitor, bias, effort_weight, par):
    z = (par[L.P_C0] + bias - par[L.P_CS] * s_eval - par[L.P_CTAU] * trust
         + par[L.P_CEFFORT] * effort_weight * effort + par[L.P_CISSUE] * issue_open
         + par[L.P_CCOMP] * competitor)
    return mathfn.logistic(z)


@njit(cache=True, error_model="numpy", inline="always")
def recommendation(satisfaction, trust, mood, par):
    """The answer to "would you recommend us?" before it is rounded down to 0-10: a number
    in [0, 11]. Promoters (9-10) are those with at least 9, detractors (0-6) those below 7."""
    score = (par[L.P_LTR_S] * satisfaction + par[L.P_LTR_TRUST] * trust
             + par[L.P_LTR_MOOD] * (mood + 1.0) * 0.5)
    return 11.0 * clip(score, 0.0, 1.0)


@njit(cache=True, error_model="numpy", inline="always")
def promoter_or_detractor(satisfaction, trust, mood, par):
    """(promoter, detractor) for NPS: an answer of 9-10, or of 0-6. The unrounded answer is
    compared (at least 9, below 7): the same as rounding it down first, without the cost of
    a float-to-int conversion."""
    answer = recommendation(satisfaction, trust, mood, par)
    return answer >= 9.0, answer < 7.0


@njit(cache=True, error_model="numpy", inline="always")
def likelihood_to_recommend(satisfaction, trust, mood, par):
    """The 0-10 answer to "would you recommend us?"."""
    return min(10, int(recommendation(satisfaction, trust, mood, par)))  # int(): floor of x >= 0


@njit(cache=True, error_model="numpy", inline="always")
def next_burnout(burnout, demand, capacity, rate, heal, staff_effect):
    """Burnout grows while demand exceeds capacity, heals otherwise; staff spend helps both."""
    if demand > capacity:
        pressure = 1.0 if capacity == 0 else min(1.0, demand / capacity - 1.0)
        return burnout + rate * pressure * (1.0 - staff_effect) * (1.0 - burnout)
    return burnout - min(1.0, heal * (1.0 + staff_effect)) * burnout


@njit(cache=True, error_model="numpy", inline="always")
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


@njit(cache=True, error_model="numpy", inline="always")
def first_contact_resolution(company, par):
    return par[L.P_FCR] + (par[L.P_FCR_MAX] - par[L.P_FCR]) * company[L.EFFECT + L.TRAINING]


@njit(cache=True, error_model="numpy", inline="always")
def recovery_quality(company, par):
    return (par[L.P_RECOVERY] + (par[L.P_RECOVERY_MAX] - par[L.P_RECOVERY])
            * company[L.EFFECT + L.RECOVERY])


@njit(cache=True, error_model="numpy", inline="always")
def frontline_lift(company, par):
    """What frontline service buys at the touchpoints people deliver: the share of the gap
    to perfect quality it closes and of the variability it removes. Burnout of the same
    people erodes it as it erodes the desk's work (``desk.burnout_penalty``)."""
    return company[L.EFFECT + L.FRONTLINE] * (1.0 - par[L.P_BURNOUT_PENALTY]
                                              * company[L.BURNOUT])


@njit(cache=True, error_model="numpy", inline="always")
def desk_capacity(company, par):
    return int(par[L.P_BASE_CAPACITY] + company[L.EFFECT + L.CAPACITY])


# ------------------------------------------------------------ one customer's week

_JIT = dict(cache=True, error_model="numpy")


@njit(cache=True, error_model="numpy", inline="always")
def psychology(par):
    """The appraisal parameters, read once per group: (kappa, gamma, lambda, rho, alpha,
    beta, delta, trust gain, trust loss, trust tolerance, trust breach)."""
    return (par[L.P_KAPPA], par[L.P_GAMMA], par[L.P_LAMBDA], par[L.P_RHO], par[L.P_ALPHA],
            par[L.P_BETA], par[L.P_DELTA], par[L.P_TRUST_GAIN], par[L.P_TRUST_LOSS],
            par[L.P_TRUST_TOL], par[L.P_TRUST_BREACH])


@njit(cache=True, error_model="numpy", inline="always")
def learn(mood, expectation, satisfaction, trust, worst, performance, salience, shock, psy):
    """Appraise one experience.

    Returns the new (mood, expectation, satisfaction, trust, worst valence, last valence).
    """
    kappa, gamma, loss_aversion, rho, alpha, beta, delta, gain, loss, tolerance, breach = psy
    d, v = appraisal(performance, expectation, mood, kappa, gamma, loss_aversion)
    return (next_mood(mood, v, rho, shock),
            next_expectation(expectation, performance, beta, delta),
            next_satisfaction(satisfaction, v, alpha * salience),
            next_trust(trust, d, gain, loss, tolerance, breach),
            min(worst, v), v)


@njit(cache=True, error_model="numpy", inline="always")
def nurture(trust, mood, checked_in, trust_gain, mood_gain):
    """A proactive check-in (``checked_in`` is 0 or 1): a small gain in trust and mood."""
    return (trust + checked_in * trust_gain * (1.0 - trust),
            min(1.0, mood + checked_in * mood_gain))


@njit(**_JIT)
def live_week(ids, count, fs, ist, step, key, tp, cum_transitions, move_guide, schedule, seg,
              par, company, tally, work, episodes, diag):
    """Steps 2-5 of a week for the active customers ``ids[:count]``.

    Nurture, move, experience the touchpoint, deal with any open issue: four passes over
    the group, handing each customer's numbers on in ``work`` (``layout.N_WORK`` rows, at
    least ``count`` columns). Customers do not interact in these steps, so the passes give
    the numbers one loop would; they are faster because the draws and the appraisal
    compile to vector instructions and the other two loops are short enough for the
    processor to overlap customers. ``episodes`` and ``diag`` are the diagnostic records
    (None: none are kept).
    """
    weekly_draws(ids, count, step, key, work)
    visit(ids, count, fs, ist, step, key, tp, cum_transitions, move_guide, schedule, par,
          company, tally, work, episodes, diag)
    appraise(work, count, par)
    open_issues(ids, count, fs, ist, step, key, seg, par, company, tally, work, episodes, diag)


@njit(**_JIT)
def weekly_draws(ids, count, step, key, work):
    """The draws every customer takes every week (nurture, move, failure, performance and
    mood noise), in one loop of vector instructions."""
    for a in range(count):
        i = ids[a]
        work[L.W_NURTURE_DRAW, a], work[L.W_MOVE_DRAW, a] = rng.uniform_pair(
            key, i, step, rng.NURTURE_AND_MOVE)
        work[L.W_FAILURE_DRAW, a] = rng.uniform(key, i, step, rng.FAILURE)
        work[L.W_Z_PERFORMANCE, a], work[L.W_Z_MOOD, a] = rng.normal_pair_fast(
            rng.bits(key, i, step, rng.PERFORMANCE_AND_MOOD))


@njit(**_JIT)
def visit(ids, count, fs, ist, step, key, tp, cum_transitions, move_guide, schedule, par,
          company, tally, work, episodes, diag):
    """Steps 2-4: nurture, move, and what the touchpoint delivers; a failure that is not
    caught opens (or worsens) an issue. Fills in what the appraisal needs."""
    nurture_chance = company[L.EFFECT + L.RELATIONSHIP]
    nurture_trust, nurture_mood = par[L.P_NURTURE_TRUST], par[L.P_NURTURE_MOOD]
    inconsistency = 1.0 - company[L.EFFECT + L.CONSISTENCY]
    frontline = frontline_lift(company, par)
    unreliability = 1.0 - company[L.EFFECT + L.RELIABILITY]
    catch = company[L.EFFECT + L.OUTREACH]
    shock = par[L.P_SHOCK]
    entry = int(par[L.P_ENTRY])
    last_column = cum_transitions.shape[1] - 1
    caught = failures = 0
    for a in range(count):
        i = ids[a]

        # 2. nurture: a check-in with the probability the relationship lever buys
        checked_in = work[L.W_NURTURE_DRAW, a] < nurture_chance
        trust, mood = nurture(fs[L.TRUST, i], fs[L.MOOD, i], checked_in, nurture_trust,
                              nurture_mood)

        # 3. move: entry first, a visit due at this tenure, else the journey's chain
        # (the chain's move is found for everyone, then taken or not without a branch: with
        # tenures spread, who has a scheduled visit this week cannot be predicted)
        here = ist[L.TOUCHPOINT, i]
        due = schedule[step - ist[L.JOIN_STEP, i]]
        row = max(here, 0)
        u = work[L.W_MOVE_DRAW, a]  # the chain's k = the number of bounds u passes:
        k = move_guide[row, int(u * L.MOVE_GUIDE_CELLS)]  # all below u's cell, and
        while k < last_column and u >= cum_transitions[row, k]:  # any within it
            k += 1
        k = due if due >= 0 else k
        k = entry if here < 0 else k
        ist[L.TOUCHPOINT, i] = k

        # 4. experience: it works, fails and is caught, or fails and opens an issue
        z_performance, z_mood = rng.complete_normal_pair(
            work[L.W_Z_PERFORMANCE, a], work[L.W_Z_MOOD, a], key, i, step,
            rng.PERFORMANCE_AND_MOOD)
        lift = tp[L.TP_STAFFED, k] * frontline  # people serving well (0: the design alone)
        quality = tp[L.TP_QUALITY, k]
        sigma = tp[L.TP_VARIABILITY, k] * inconsistency * (1.0 - lift)
        performance = clip(quality + lift * (1.0 - quality) + sigma * z_performance, 0.0, 1.0)
        failed = work[L.W_FAILURE_DRAW, a] < tp[L.TP_FAILURE, k] * unreliability
        work[L.W_FAILED, a] = failed
        if failed:
            if catch > 0.0 and rng.uniform(key, i, step, rng.CATCH) < catch:
                caught += 1
                trust += par[L.P_CAUGHT_TRUST] * (1.0 - trust)
            else:
                severity = rng.uniform(key, i, step, rng.SEVERITY)
                performance = clip(performance - par[L.P_FAIL_PENALTY] * (0.5 + 0.5 * severity),
                                   0.0, 1.0)
                complexity = tp[L.TP_COMPLEXITY, k]
                if ist[L.ISSUE_OPEN, i] == 1:  # a second failure makes the open issue worse
                    fs[L.SEVERITY, i] = max(fs[L.SEVERITY, i], severity)
                    fs[L.ISSUE_COMPLEXITY, i] = max(fs[L.ISSUE_COMPLEXITY, i], complexity)
                    if diag is not None:
                        worsen_episode(episodes, ist, fs, i)
                else:
                    failures += 1
                    ist[L.ISSUE_OPEN, i] = 1
                    ist[L.ISSUE_SILENT, i] = 0
                    fs[L.SEVERITY, i] = severity
                    fs[L.ISSUE_COMPLEXITY, i] = complexity
                    if diag is not None:
                        open_episode(episodes, diag, fs, ist, i, step, key, k)
        work[L.W_MOOD, a] = mood
        work[L.W_EXPECTATION, a] = fs[L.EXPECTATION, i]
        work[L.W_SATISFACTION, a] = fs[L.SATISFACTION, i]
        work[L.W_TRUST, a] = trust
        work[L.W_WORST, a] = fs[L.WORST, i]
        work[L.W_PERFORMANCE, a] = performance
        work[L.W_SALIENCE, a] = tp[L.TP_SALIENCE, k]
        work[L.W_SHOCK, a] = shock * z_mood
    tally[L.T_CAUGHT] += caught
    tally[L.T_FAILURES] += failures


@njit(**_JIT)
def appraise(work, count, par):
    """Step 4, continued: each customer appraises what the touchpoint delivered."""
    psy = psychology(par)
    for a in range(count):
        (work[L.W_MOOD, a], work[L.W_EXPECTATION, a], work[L.W_SATISFACTION, a],
         work[L.W_TRUST, a], work[L.W_WORST, a], work[L.W_LAST, a]) = learn(
            work[L.W_MOOD, a], work[L.W_EXPECTATION, a], work[L.W_SATISFACTION, a],
            work[L.W_TRUST, a], work[L.W_WORST, a], work[L.W_PERFORMANCE, a],
            work[L.W_SALIENCE, a], work[L.W_SHOCK, a], psy)


@njit(**_JIT)
def open_issues(ids, count, fs, ist, step, key, seg, par, company, tally, work, episodes,
                diag):
    """Step 5: the appraisal's results are written back; then the customer deals with an
    open issue that is not at the desk.

    A new issue gets the customer's one response: perhaps a try at self-service, and if
    that does not solve it, the decision to voice it (join the desk's queue) or to live
    with it. An issue lived with (never voiced, or given up at the desk) costs effort and
    mood every week it stays open, until it fades or is worked around (``fade_rate`` a
    week) or the customer leaves; it is never voiced later.
    """
    knowledge_base = min(1.0, par[L.P_KB_BASE] + company[L.EFFECT + L.SELF_SERVICE])
    severity_weight, effort_weight = par[L.P_VOICE_SEVERITY], par[L.P_VOICE_EFFORT]
    fade_rate = par[L.P_FADE_RATE]
    self_served = contacts = 0
    for a in range(count):
        i = ids[a]
        mood = work[L.W_MOOD, a]
        fs[L.EXPECTATION, i] = work[L.W_EXPECTATION, a]
        fs[L.SATISFACTION, i] = work[L.W_SATISFACTION, a]
        fs[L.TRUST, i] = work[L.W_TRUST, a]
        fs[L.WORST, i] = work[L.W_WORST, a]
        fs[L.LAST, i] = work[L.W_LAST, a]
        ist[L.CYCLE_COUNT, i] += 1
        if ist[L.ISSUE_OPEN, i] == 1 and ist[L.QUEUED_SINCE, i] < 0:
            silent = ist[L.ISSUE_SILENT, i] == 1
            if not silent:  # a new issue (opened this week): the customer's one response
                s = ist[L.SEGMENT, i]
                if rng.uniform(key, i, step, rng.SELF_SERVICE_TRY) < seg[L.SEG_SELF_SERVICE, s]:
                    if rng.uniform(key, i, step, rng.SELF_SERVICE_OK) < \
                            knowledge_base * (1.0 - fs[L.ISSUE_COMPLEXITY, i]):
                        ist[L.ISSUE_OPEN, i] = 0
                        fs[L.EFFORT, i] += par[L.P_SS_EFFORT]
                        self_served += 1
                        if diag is not None:
                            close_episode(episodes, ist, fs, i, step, L.OUTCOME_SELF_SERVICE)
                    else:
                        fs[L.EFFORT, i] += par[L.P_SS_FAIL_EFFORT]
                if ist[L.ISSUE_OPEN, i] == 1:
                    voice = voice_probability(seg[L.SEG_VOICE, s], fs[L.SEVERITY, i],
                                              fs[L.EFFORT, i], severity_weight, effort_weight)
                    if rng.uniform(key, i, step, rng.VOICE) < voice:
                        ist[L.QUEUED_SINCE, i] = step
                        fs[L.EFFORT, i] += par[L.P_CONTACT_EFFORT]
                        contacts += 1
                        if diag is not None:
                            note_contact(episodes, ist, i)
                    else:  # most unhappy customers never complain
                        ist[L.ISSUE_SILENT, i] = 1
                        silent = True
            elif rng.uniform(key, i, step, rng.FADE) < fade_rate:  # faded or worked around
                ist[L.ISSUE_OPEN, i] = 0
                ist[L.ISSUE_SILENT, i] = 0
                silent = False
                if diag is not None:
                    close_episode(episodes, ist, fs, i, step, L.OUTCOME_FADED)
            if silent:  # lived with: it weighs on effort and mood while it stays open
                fs[L.EFFORT, i] += par[L.P_SILENT_EFFORT]
                mood = max(-1.0, mood - par[L.P_SILENT_MOOD])
        fs[L.MOOD, i] = mood
    tally[L.T_SELF_SERVED] += self_served
    tally[L.T_CONTACTS] += contacts


# ------------------------------------------------------------------ the service desk

_QUEUE_ID_BITS = 30  # customer ids below 2**30 = rng.MAX_CUSTOMERS
_QUEUE_KEY_BITS = 20


@njit(cache=True, error_model="numpy", inline="always")
def _queue_key(since, key, i, step):
    """Oldest first; ties broken by a random key (then by id, for the rare equal keys)."""
    tie = np.int64(rng.bits(key, i, step, rng.QUEUE_KEY) >> np.uint64(64 - _QUEUE_KEY_BITS))
    return (since << (_QUEUE_KEY_BITS + _QUEUE_ID_BITS)) | (tie << _QUEUE_ID_BITS) | i


@njit(**_JIT)
def serve_desk(ids, count, fs, ist, step, key, seg, par, company, tally, queue, episodes,
               diag):
    """Step 6: serve the queue oldest first up to capacity; the rest wait or give up.

    ``ids[:count]`` are the active customers; ``queue`` has room for all of them.
    ``episodes`` and ``diag``: the diagnostic records, as in ``live_week``.
    """
    waiting = 0
    for a in range(count):  # branch-free: keep the queued customers' ids
        i = ids[a]
        queue[waiting] = i
        waiting += ist[L.QUEUED_SINCE, i] >= 0
    for r in range(waiting):
        i = queue[r]
        queue[r] = _queue_key(ist[L.QUEUED_SINCE, i], key, i, step)
    queue[:waiting].sort()
    capacity = desk_capacity(company, par)
    burnout = company[L.BURNOUT]
    quality_loss = 1.0 - par[L.P_BURNOUT_PENALTY] * burnout
    fcr = first_contact_resolution(company, par)
    recovery = recovery_quality(company, par) * quality_loss
    salience = par[L.P_RECOVERY_SALIENCE]
    psy = psychology(par)
    id_mask = (np.int64(1) << _QUEUE_ID_BITS) - 1
    served = resolved = contacts = wait_sum = 0
    for r in range(waiting):
        i = queue[r] & id_mask
        if r < capacity:
            served += 1
            wait_sum += step - ist[L.QUEUED_SINCE, i]
            resolve = fcr * (1.0 - 0.5 * fs[L.SEVERITY, i]) * quality_loss
            if diag is not None:
                count_in_episode(episodes, ist, i, L.EP_SERVED)
            if rng.uniform(key, i, step, rng.RESOLUTION) < resolve:
                resolved += 1
                ist[L.ISSUE_OPEN, i] = 0
                ist[L.QUEUED_SINCE, i] = -1
                (fs[L.MOOD, i], fs[L.EXPECTATION, i], fs[L.SATISFACTION, i], fs[L.TRUST, i],
                 fs[L.WORST, i], fs[L.LAST, i]) = learn(
                    fs[L.MOOD, i], fs[L.EXPECTATION, i], fs[L.SATISFACTION, i],
                    fs[L.TRUST, i], fs[L.WORST, i], recovery, salience, 0.0, psy)
                ist[L.CYCLE_COUNT, i] += 1
                if diag is not None:
                    ist[L.CYCLE_EVENTS, i] |= L.CY_RECOVERY
                    close_episode(episodes, ist, fs, i, step, L.OUTCOME_DESK)
            else:  # unresolved: the customer calls again next week
                ist[L.QUEUED_SINCE, i] = step + 1
                fs[L.EFFORT, i] += par[L.P_CONTACT_EFFORT]
                contacts += 1
                if diag is not None:
                    note_contact(episodes, ist, i)
        else:
            fs[L.EFFORT, i] += par[L.P_WAIT_EFFORT]
            if rng.uniform(key, i, step, rng.ABANDON) < seg[L.SEG_ABANDON, ist[L.SEGMENT, i]]:
                ist[L.QUEUED_SINCE, i] = -1  # gives up: the issue is lived with from now
                ist[L.ISSUE_SILENT, i] = 1
                if diag is not None:
                    count_in_episode(episodes, ist, i, L.EP_GAVE_UP)
    tally[L.T_SERVED] += served
    tally[L.T_RESOLVED] += resolved
    tally[L.T_CONTACTS] += contacts
    tally[L.T_WAIT_SUM] += wait_sum
    company[L.BURNOUT] = next_burnout(burnout, waiting, capacity, par[L.P_BURNOUT_RATE],
                                      par[L.P_BURNOUT_HEAL], company[L.EFFECT + L.STAFF])


# --------------------------------------------------------------------------- decision


@njit(**_JIT)
def decide(ids, count, fs, ist, step, key, tp, seg, par, tally, at_risk, episodes, decisions,
           diag):
    """Step 7 for the active customers ``ids[:count]``: renew or leave at a decision
    touchpoint; silent exit under a heavy open issue.

    Those who stay are kept in ``ids`` in their order; returns how many stay. ``at_risk``
    has room for ``count`` positions. The diagnostic records (None: none) get a row per
    decision and per silent exit.

    Three passes: the positions of those who may leave this week (at a decision
    touchpoint, or under an open issue heavy enough for a silent exit), found without a
    branch; their decisions, in order; then, again without a branch, effort decays for
    those who stay and the leavers are dropped from ``ids``. With tenures spread, who is at
    a decision touchpoint in a given week cannot be predicted, and one loop branching on
    it cost more than the three passes.
    """
    competitor = competitor_pull(step - par[L.P_BURN_IN], par[L.P_COMP_GROWTH])
    peak_weight, end_weight = par[L.P_PEAK_W], par[L.P_END_W]
    silent_threshold, silent_rate = par[L.P_SILENT_THRESHOLD], par[L.P_SILENT_RATE]
    keep_effort = 1.0 - par[L.P_EFFORT_DECAY]
    n_at_risk = 0
    for a in range(count):
        i = ids[a]
        at_risk[n_at_risk] = a
        n_at_risk += ((tp[L.TP_DECISION, ist[L.TOUCHPOINT, i]] > 0.0)
                      | ((ist[L.ISSUE_OPEN, i] == 1) & (fs[L.EFFORT, i] > silent_threshold)))
    churned = 0
    for r in range(n_at_risk):
        i = ids[at_risk[r]]
        s = ist[L.SEGMENT, i]
        if tp[L.TP_DECISION, ist[L.TOUCHPOINT, i]] > 0.0:
            s_eval = evaluated_satisfaction(fs[L.SATISFACTION, i], fs[L.WORST, i],
                                            fs[L.LAST, i], ist[L.CYCLE_COUNT, i],
                                            peak_weight, end_weight)
            p = churn_probability(s_eval, fs[L.TRUST, i], fs[L.EFFORT, i],
                                  ist[L.ISSUE_OPEN, i], competitor,
                                  seg[L.SEG_CHURN_BIAS, s] + fs[L.CHURN_PROPENSITY, i],
                                  seg[L.SEG_EFFORT_WEIGHT, s], par)
            leaves = rng.uniform(key, i, step, rng.CHURN) < p
            if diag is not None:
                record_decision(decisions, diag, fs, ist, i, step, key, L.KIND_DECISION,
                                s_eval, p, leaves)
            fs[L.WORST, i] = 1.0
            fs[L.LAST, i] = 0.0
            ist[L.CYCLE_COUNT, i] = 0
        else:
            leaves = rng.uniform(key, i, step, rng.SILENT_CHURN) < silent_rate
            if diag is not None:
                if leaves:
                    record_decision(decisions, diag, fs, ist, i, step, key,
                                    L.KIND_SILENT_EXIT, np.nan, silent_rate, leaves)
        if leaves:
            ist[L.ACTIVE, i] = 0
            ist[L.CHURN_STEP, i] = step
            ist[L.QUEUED_SINCE, i] = -1
            churned += 1
            if diag is not None:
                close_episode(episodes, ist, fs, i, step, L.OUTCOME_LEFT)
    stay = 0
    for a in range(count):
        i = ids[a]
        stays = ist[L.ACTIVE, i]
        fs[L.EFFORT, i] *= keep_effort if stays else 1.0  # x * 1.0 is x: leavers keep theirs
        ids[stay] = i
        stay += stays
    tally[L.T_CHURNED] += churned
    return stay


# --------------------------------------------------------------- arrivals and bookkeeping


@njit(cache=True, error_model="numpy", inline="always")
def join(fs, ist, i, step, key, seg, par, referred):
    """A customer joins: segment drawn by share; referred newcomers trust and expect more;
    their own churn propensity is a normal with the segment's spread (drawn apart from the
    segment, under its own purpose)."""
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
    ist[L.ISSUE_SILENT, i] = 0
    ist[L.QUEUED_SINCE, i] = -1
    ist[L.CYCLE_COUNT, i] = 0
    ist[L.REFERRED, i] = 1 if referred else 0
    ist[L.EPISODE, i] = -1
    ist[L.CYCLE_EVENTS, i] = 0
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
    fs[L.CHURN_PROPENSITY, i] = seg[L.SEG_CHURN_SPREAD, s] * rng.normal_pair(
        key, i, step, rng.CHURN_PROPENSITY)[0]


@njit(cache=True, error_model="numpy", inline="always")
def arrivals(key, step, promoters, detractors, par):
    """Step 8: (newcomers this week, share of them referred by promoters)."""
    referrals = par[L.P_REFERRAL] * promoters
    rate = max(0.0, par[L.P_ARRIVAL_BASE] + referrals - par[L.P_DETRACTOR] * detractors)
    n_new = rng.poisson(key, step, rate)
    organic_and_referred = par[L.P_ARRIVAL_BASE] + referrals
    share = referrals / organic_and_referred if organic_and_referred > 0.0 else 0.0
    return n_new, share


@njit(**_JIT)
def admit(fs, ist, first, n_new, step, key, seg, par, referred_share):
    """Customers ``first`` .. ``first + n_new - 1`` join this step."""
    for i in range(first, first + n_new):
        join(fs, ist, i, step, key, seg, par,
             rng.uniform(key, i, step, rng.REFERRED) < referred_share)


@njit(**_JIT)
def admit_starting(fs, ist, key, seg, par):
    """The customers of step 0. A warm start spreads where they are in the scheduled visits'
    cycle (billing day, renewal date) over ``P_TENURE_SPREAD`` weeks of tenure, so the
    cohort's monthly and yearly decisions do not all fall in the same weeks; a launch
    (spread 0) has everyone new at step 0."""
    cohort = int(par[L.P_COHORT])
    admit(fs, ist, 0, cohort, 0, key, seg, par, 0.0)
    spread = par[L.P_TENURE_SPREAD]
    if spread > 0.0:
        for i in range(cohort):
            ist[L.JOIN_STEP, i] = -int(rng.uniform(key, i, 0, rng.TENURE) * spread)
    return cohort


@njit(**_JIT)
def weekly_spend(step, par, plan, triggers, burn_in_spend, company, spend):
    """Step 1's spend per lever, written into ``spend`` (and returned).

    In a warm start's burn-in (steps up to ``P_BURN_IN``) the burn-in's own fixed strategy.
    In week w of the horizon, the plan's row w (the phase's fixed amounts plus its share of
    last week's revenue), then the triggers: each active one moves its share of the week's
    budget to its own levers. Sets the company's phase and active triggers for the week's
    row. Company-level, once a week: nothing here runs per customer.
    """
    burn_in = par[L.P_BURN_IN]
    if step <= burn_in:
        company[L.PHASE] = -1.0
        company[L.TRIGGERS] = 0.0
        spend[:] = burn_in_spend
        return spend
    week = int(step - burn_in)
    revenue = company[L.SEEN_REVENUE]
    budget = 0.0
    for lever in range(L.N_LEVERS):
        amount = plan[week, L.PL_FIXED + lever] + plan[week, L.PL_SHARE + lever] * revenue
        spend[lever] = amount
        budget += amount
    company[L.PHASE] = plan[week, L.PL_PHASE]
    active = next_triggers(company, triggers)
    company[L.TRIGGERS] = active
    if active > 0:
        move_budget(spend, budget, triggers, active)
    return spend


@njit(**_JIT)
def observed(company, observable, window):
    """What the company saw of ``observable`` (``layout.OB_*``) last week; the churn rate is
    the share of the customers exposed that left, over the last ``window`` weeks."""
    if observable != L.OB_CHURN_RATE:
        return company[L.SEEN + observable]
    position = int(company[L.RING_POS])
    churned = exposed = 0.0
    for back in range(1, window + 1):
        slot = (position - back) % L.MAX_WINDOW
        churned += company[L.RING_CHURNED + slot]
        exposed += company[L.RING_EXPOSED + slot]
    return churned / exposed if exposed > 0.0 else 0.0


@njit(**_JIT)
def next_triggers(company, triggers):
    """This week's active triggers (bit k: trigger k) from last week's and what the company
    saw, with hysteresis: a trigger enters when its observable passes the enter level (above
    it, or below it) and stays active until it passes the leave level the other way."""
    before = int(company[L.TRIGGERS])
    active = 0
    for k in range(triggers.shape[0]):
        if triggers[k, L.TG_USED] == 0.0:
            continue
        value = observed(company, int(triggers[k, L.TG_OBSERVE]), int(triggers[k, L.TG_WINDOW]))
        sign = 1.0 if triggers[k, L.TG_ABOVE] > 0.0 else -1.0  # "below": mirror the levels
        if (before >> k) & 1:
            on = not sign * value < sign * triggers[k, L.TG_LEAVE]
        else:
            on = sign * value > sign * triggers[k, L.TG_ENTER]
        active |= (1 << k) if on else 0
    return active


@njit(**_JIT)
def move_budget(spend, budget, triggers, active):
    """The active triggers' shares of ``budget`` leave every lever in proportion and go to
    each trigger's own levers."""
    moved = 0.0
    for k in range(triggers.shape[0]):
        if (active >> k) & 1:
            moved += triggers[k, L.TG_SHARE]
    for lever in range(L.N_LEVERS):
        amount = spend[lever] * (1.0 - moved)
        for k in range(triggers.shape[0]):
            if (active >> k) & 1:
                amount += triggers[k, L.TG_SHARE] * budget * triggers[k, L.TG_LEVERS + lever]
        spend[lever] = amount


@njit(**_JIT)
def observe_week(company, row):
    """The end of a week: what the company sees of its row, read by next week's budget (a
    share of revenue) and triggers. The ring keeps each week's churned customers and those
    exposed (active at its start) for the rolling churn rate."""
    company[L.SEEN + L.OB_BACKLOG] = row[L.O_BACKLOG]
    company[L.SEEN + L.OB_WAIT] = row[L.O_WAIT]
    company[L.SEEN + L.OB_BURNOUT] = row[L.O_BURNOUT]
    company[L.SEEN + L.OB_CONTACTS] = row[L.O_CONTACTS]
    company[L.SEEN + L.OB_NPS] = row[L.O_NPS]
    company[L.SEEN_REVENUE] = row[L.O_REVENUE]
    position = int(company[L.RING_POS])
    company[L.RING_CHURNED + position] = row[L.O_CHURNED]
    company[L.RING_EXPOSED + position] = company[L.SEEN_ACTIVE]
    company[L.RING_POS] = (position + 1) % L.MAX_WINDOW
    company[L.SEEN_ACTIVE] = row[L.O_ACTIVE]


@njit(**_JIT)
def open_horizon(ids, count, fs, ist, step, seg, par, company, tally, row, block, diag):
    """Week 0 (internal step ``P_BURN_IN``): the customers ``ids[:count]`` active now are the
    cohort the retention curve follows; week 0's row is their state (no week's flows or
    spend, as at a launch). ``block`` and ``diag``: diagnostics (None: none). The records
    of a burn-in are kept (an issue may straddle week 0); ``simulation.diagnostics`` keeps
    those that reach into the reported weeks."""
    company[L.COHORT_SIZE] = count
    company[L.SPEND] = 0.0
    company[L.PHASE] = 0.0
    company[L.TRIGGERS] = 0.0
    tally[:] = 0.0
    summarize_step(ids, count, fs, ist, step, seg, par, company, tally, row)
    if step == 0:  # a launch: week 1 sees week 0 (a warm start saw its burn-in's last week)
        observe_week(company, row)
    if diag is not None:
        summarize_segments(ids, count, 0, fs, ist, seg, par, block)


@njit(cache=True, error_model="numpy", inline="always")
def _customer_totals(ids, count, fs, ist, seg, par):
    """One pass over the active customers ``ids[:count]`` (ascending, so sums add up in one
    order): the counts and sums a week's row is made of. Inlined, so a caller that uses only
    some of them compiles without the rest."""
    last_start_step = par[L.P_BURN_IN]  # the cohort: customers who joined by week 0
    cohort_active = promoters = detractors = satisfied = backlog = 0
    mood = expectation = satisfaction = trust = effort = 0.0
    revenue = cohort_revenue = 0.0
    for a in range(count):
        i = ids[a]
        value = seg[L.SEG_VALUE, ist[L.SEGMENT, i]]
        revenue += value
        in_cohort = ist[L.JOIN_STEP, i] <= last_start_step
        cohort_active += in_cohort
        cohort_revenue += value if in_cohort else 0.0
        s, t, m = fs[L.SATISFACTION, i], fs[L.TRUST, i], fs[L.MOOD, i]
        mood += m
        expectation += fs[L.EXPECTATION, i]
        satisfaction += s
        trust += t
        effort += fs[L.EFFORT, i]
        satisfied += s >= 0.7
        promoter, detractor = promoter_or_detractor(s, t, m, par)
        promoters += promoter
        detractors += detractor
        backlog += ist[L.QUEUED_SINCE, i] >= 0
    return (promoters, detractors, backlog, revenue, cohort_active, cohort_revenue, satisfied,
            mood, expectation, satisfaction, trust, effort)


@njit(cache=True, error_model="numpy", inline="always")
def _write_observed(row, active, promoters, detractors, backlog, revenue, company, tally):
    """The columns of a week's row that the company observes (``observe_week``). Returns
    what averages over the ``active`` customers are scaled by (0 with no one active)."""
    per = 1.0 / active if active > 0 else 0.0
    served = tally[L.T_SERVED]
    row[L.O_ACTIVE] = active
    row[L.O_CHURNED] = tally[L.T_CHURNED]
    row[L.O_NPS] = 100.0 * (promoters - detractors) * per
    row[L.O_CONTACTS] = tally[L.T_CONTACTS]
    row[L.O_BACKLOG] = backlog
    row[L.O_WAIT] = tally[L.T_WAIT_SUM] / served if served > 0 else 0.0
    row[L.O_BURNOUT] = company[L.BURNOUT]
    row[L.O_REVENUE] = revenue
    return per


@njit(**_JIT)
def summarize_step(ids, count, fs, ist, step, seg, par, company, tally, row):
    """Steps 8-9 bookkeeping: one row of MODEL.md's per-step outputs (before arrivals),
    over the active customers ``ids[:count]``.

    Returns (promoters, detractors) for word of mouth.
    """
    (promoters, detractors, backlog, revenue, cohort_active, cohort_revenue, satisfied,
     mood, expectation, satisfaction, trust, effort) = _customer_totals(ids, count, fs, ist,
                                                                         seg, par)
    per = _write_observed(row, count, promoters, detractors, backlog, revenue, company, tally)
    served = tally[L.T_SERVED]
    cost = company[L.SPEND] + served * par[L.P_COST_PER_CONTACT] + par[L.P_FIXED_COST]
    last_start_step = par[L.P_BURN_IN]  # week 0's internal step
    row[L.O_STEP] = step - last_start_step
    row[L.O_COHORT_ACTIVE] = cohort_active
    size = company[L.COHORT_SIZE]  # 0 in a burn-in, whose rows are not reported
    row[L.O_RETENTION] = cohort_active / size if size > 0 else 0.0
    row[L.O_ARRIVALS] = 0
    row[L.O_MOOD] = mood * per
    row[L.O_EXPECTATION] = expectation * per
    row[L.O_SATISFACTION] = satisfaction * per
    row[L.O_TRUST] = trust * per
    row[L.O_EFFORT] = effort * per
    row[L.O_CSAT] = satisfied * per
    row[L.O_SERVED] = served
    row[L.O_RESOLUTION] = tally[L.T_RESOLVED] / served if served > 0 else 0.0
    row[L.O_CAUGHT] = tally[L.T_CAUGHT]
    row[L.O_SELF_SERVED] = tally[L.T_SELF_SERVED]
    row[L.O_COST] = cost
    row[L.O_PROFIT] = revenue - cost
    row[L.O_COHORT_REVENUE] = cohort_revenue
    row[L.O_FAILURES] = tally[L.T_FAILURES]
    row[L.O_SPEND] = company[L.SPEND]
    row[L.O_PHASE] = company[L.PHASE]
    row[L.O_TRIGGERS] = company[L.TRIGGERS]
    return promoters, detractors


@njit(**_JIT)
def summarize_burn_in_week(ids, count, fs, ist, seg, par, company, tally, row):
    """``summarize_step`` for a week of a warm start's burn-in, whose row is not reported:
    only the columns the company observes (``observe_week``: next week's budget and
    triggers) are written, and the sums nothing reads are not computed (a burn-in is 40% of
    the baseline's customer-weeks). Returns (promoters, detractors) for word of mouth."""
    promoters, detractors, backlog, revenue = _customer_totals(ids, count, fs, ist, seg,
                                                               par)[:4]
    _write_observed(row, count, promoters, detractors, backlog, revenue, company, tally)
    return promoters, detractors


@njit(**_JIT)
def summarize_week(ids, count, fs, ist, step, seg, par, company, tally, row):
    """Step 9 of a week at internal ``step``: a reported week's whole row
    (``summarize_step``), a burn-in week's observed columns (``summarize_burn_in_week``).
    Returns (promoters, detractors) for word of mouth."""
    if step <= par[L.P_BURN_IN]:
        return summarize_burn_in_week(ids, count, fs, ist, seg, par, company, tally, row)
    return summarize_step(ids, count, fs, ist, step, seg, par, company, tally, row)


@njit(**_JIT)
def record_events(ist, n, par, events):
    """Per customer (up to the rows ``events`` has): join week, churn week (STILL_ACTIVE
    while active), segment, referred (0 or 1). Weeks count from week 0: a warm start's
    customers joined and may have left before it (negative weeks)."""
    burn_in = int(par[L.P_BURN_IN])
    for i in range(min(n, events.shape[0])):
        events[i, L.EV_JOIN] = ist[L.JOIN_STEP, i] - burn_in
        churn = ist[L.CHURN_STEP, i]
        events[i, L.EV_CHURN] = churn - burn_in if churn >= 0 else L.STILL_ACTIVE
        events[i, L.EV_SEGMENT] = ist[L.SEGMENT, i]
        events[i, L.EV_REFERRED] = ist[L.REFERRED, i]


@njit(cache=True, error_model="numpy", inline="always")
def record_arrivals(row, n_new):
    """Newcomers count as active from the week they join (they pay from the next week)."""
    row[L.O_ARRIVALS] = n_new
    row[L.O_ACTIVE] += n_new


# ------------------------------------------------ diagnostics: optional per-customer records
# A run that records diagnostics passes ``diag`` (layout.N_DIAG numbers: the recorder's
# state) and tables with room for their rows; a run that does not passes None for all of
# them. Every ``if diag is not None`` above is then decided when numba compiles the rule
# (it prunes branches on arguments typed None), so a run without diagnostics runs the very
# machine code it would without this section.
# Rows are kept for a sampled share of the customers (``sampled``). A table that would
# overflow drops the whole week in which it does and every row after it (``close_week``),
# so that which rows are kept cannot depend on the order in which customers are visited.


@njit(**_JIT)
def sampled(key, i, diag):
    """Whether customer i's rows are recorded: a share ``diag[DG_SAMPLE]`` of the customers,
    chosen by a hash of the run key and the id (the same customers on both engines)."""
    share = diag[L.DG_SAMPLE]
    return share >= 1.0 or rng.uniform(key, i, 0, rng.DIAGNOSTIC_SAMPLE) < share


@njit(**_JIT)
def new_row(table, diag, offset):
    """The next free row of ``table`` (its state at ``diag[offset:]``), or -1 when the
    table is full or overflowed earlier; a row refused is counted as dropped."""
    if diag[offset + L.DG_FULL] > 0.0:
        diag[offset + L.DG_DROPPED] += 1.0
        return -1
    row = int(diag[offset + L.DG_ROWS])
    if row >= table.shape[0]:
        diag[offset + L.DG_FULL] = 1.0
        diag[offset + L.DG_DROPPED] += 1.0
        return -1
    diag[offset + L.DG_ROWS] = row + 1.0
    return row


@njit(**_JIT)
def open_episode(episodes, diag, fs, ist, i, step, key, touchpoint):
    """A failure opens customer i's issue: a new episode row (if i is sampled)."""
    ist[L.CYCLE_EVENTS, i] |= L.CY_FAILURE
    row = new_row(episodes, diag, L.DG_EPISODES) if sampled(key, i, diag) else -1
    ist[L.EPISODE, i] = row
    if row >= 0:
        e = episodes[row]
        e[:] = 0.0
        e[L.EP_CUSTOMER] = i
        e[L.EP_SEGMENT] = ist[L.SEGMENT, i]
        e[L.EP_OPENED] = step
        e[L.EP_TOUCHPOINT] = touchpoint
        e[L.EP_SEVERITY] = fs[L.SEVERITY, i]
        e[L.EP_OUTCOME] = L.OUTCOME_OPEN  # EP_CLOSED stays 0 until it ends
        e[L.EP_S_BEFORE] = fs[L.SATISFACTION, i]  # before this week's appraisal
        e[L.EP_S_AFTER] = np.nan


@njit(**_JIT)
def worsen_episode(episodes, ist, fs, i):
    """A second failure while the issue is open: the episode's severity is the issue's."""
    row = ist[L.EPISODE, i]
    if row >= 0:
        episodes[row, L.EP_SEVERITY] = fs[L.SEVERITY, i]


@njit(**_JIT)
def note_contact(episodes, ist, i):
    """A desk contact (first voice or repeat): counted in the customer's open episode."""
    ist[L.CYCLE_EVENTS, i] |= L.CY_CONTACT
    count_in_episode(episodes, ist, i, L.EP_CONTACTS)


@njit(**_JIT)
def count_in_episode(episodes, ist, i, column):
    row = ist[L.EPISODE, i]
    if row >= 0:
        episodes[row, column] += 1.0


@njit(**_JIT)
def close_episode(episodes, ist, fs, i, step, outcome):
    """Customer i's issue ends (``outcome``): the week and satisfaction after it."""
    row = ist[L.EPISODE, i]
    if row >= 0:
        episodes[row, L.EP_OUTCOME] = outcome
        episodes[row, L.EP_CLOSED] = step
        episodes[row, L.EP_S_AFTER] = fs[L.SATISFACTION, i]
        ist[L.EPISODE, i] = -1


@njit(**_JIT)
def record_decision(decisions, diag, fs, ist, i, step, key, kind, s_eval, p, leaves):
    """A decision (or silent exit) of customer i: the state it was taken in and what
    happened since the last one; the cycle's events reset."""
    events = ist[L.CYCLE_EVENTS, i]
    if kind == L.KIND_DECISION:
        ist[L.CYCLE_EVENTS, i] = 0
    row = new_row(decisions, diag, L.DG_DECISIONS) if sampled(key, i, diag) else -1
    if row >= 0:
        d = decisions[row]
        d[L.DC_CUSTOMER] = i
        d[L.DC_SEGMENT] = ist[L.SEGMENT, i]
        d[L.DC_WEEK] = step
        d[L.DC_KIND] = kind
        d[L.DC_SATISFACTION] = fs[L.SATISFACTION, i]
        d[L.DC_TRUST] = fs[L.TRUST, i]
        d[L.DC_EFFORT] = fs[L.EFFORT, i]
        d[L.DC_PEAK_END] = s_eval
        d[L.DC_PROBABILITY] = p
        d[L.DC_LEFT] = 1.0 if leaves else 0.0
        d[L.DC_CYCLE] = events


@njit(**_JIT)
def close_week(diag):
    """After the decisions: a table that overflowed this week drops the week's rows (and
    keeps none after it), so the rows kept do not depend on the order of the week. A
    customer may still point at a dropped episode row; what is written there is never
    reported, as no row is handed out again."""
    for offset in (L.DG_EPISODES, L.DG_DECISIONS):
        if diag[offset + L.DG_FULL] == 1.0:
            start, rows = int(diag[offset + L.DG_WEEK_START]), int(diag[offset + L.DG_ROWS])
            diag[offset + L.DG_DROPPED] += rows - start
            diag[offset + L.DG_ROWS] = start
            diag[offset + L.DG_FULL] = 2.0
        diag[offset + L.DG_WEEK_START] = diag[offset + L.DG_ROWS]


@njit(**_JIT)
def summarize_segments(ids, count, n_new, fs, ist, seg, par, block):
    """Per segment, the week's (segments, N_SEGMENT_OUT) block: the counts and sums behind
    ``summarize_step``'s active, arrivals, cohort_active, nps and revenue, over the n_t
    customers ``ids[:count]`` and the newcomers ``ids[count:count + n_new]``."""
    block[:, :] = 0.0
    for a in range(count + n_new):
        i = ids[a]
        s = ist[L.SEGMENT, i]
        block[s, L.SG_ACTIVE] += 1.0
        if a >= count:
            block[s, L.SG_ARRIVALS] += 1.0
            continue
        block[s, L.SG_COHORT_ACTIVE] += 1.0 if ist[L.JOIN_STEP, i] <= par[L.P_BURN_IN] else 0.0
        promoter, detractor = promoter_or_detractor(fs[L.SATISFACTION, i], fs[L.TRUST, i],
                                                    fs[L.MOOD, i], par)
        block[s, L.SG_PROMOTERS] += promoter
        block[s, L.SG_DETRACTORS] += detractor
        block[s, L.SG_REVENUE] += seg[L.SEG_VALUE, s]
