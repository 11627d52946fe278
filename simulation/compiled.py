"""A validated scenario turned into the plain arrays the jitted rules read.

``compile_scenario`` does it for one scenario; ``stack`` puts several variants of one
journey (different strategies, mixes or parameters) side by side so that a whole sweep is a
single parallel call.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import layout as L
from .scenario import LEVERS, Scenario


class Compiled(NamedTuple):
    tp: np.ndarray               # (N_TP, touchpoints)
    cum_transitions: np.ndarray  # (touchpoints, touchpoints), cumulative rows
    move_guide: np.ndarray       # (touchpoints, MOVE_GUIDE_CELLS) int: see move_guide()
    schedule: np.ndarray         # (steps + 1,) int: touchpoint due at each tenure, or -1
    seg: np.ndarray              # (N_SEG, segments)
    par: np.ndarray              # (N_PAR,)
    levers: np.ndarray           # (N_LV, N_LEVERS)
    plan: np.ndarray             # (horizon + 1, N_PLAN): each week's spend before triggers
    triggers: np.ndarray         # (MAX_TRIGGERS, N_TG): the strategy's triggers
    burn_in_spend: np.ndarray    # (N_LEVERS,) weekly spend per lever in a warm start's burn-in


def compile_scenario(sc: Scenario) -> Compiled:
    names = [t.name for t in sc.touchpoints]
    index = {name: k for k, name in enumerate(names)}
    K = len(names)

    tp = np.zeros((L.N_TP, K))
    for k, t in enumerate(sc.touchpoints):
        tp[L.TP_QUALITY, k] = t.quality
        tp[L.TP_VARIABILITY, k] = t.variability
        tp[L.TP_FAILURE, k] = t.failure_rate
        tp[L.TP_COMPLEXITY, k] = t.complexity
        tp[L.TP_SALIENCE, k] = t.salience
        tp[L.TP_DECISION, k] = float(t.decision)
        tp[L.TP_STAFFED, k] = {"human": 1.0, "physical": sc.frontline.physical_reach,
                               "digital": 0.0}[t.channel]

    trans = np.zeros((K, K))
    for src, row in sc.journey.transitions.items():
        for dst, prob in row.items():
            trans[index[src], index[dst]] += prob
    cum = np.cumsum(trans, axis=1)
    cum[:, -1] = np.maximum(cum[:, -1], 1.0)  # rounding never strands a customer

    # tenures reach burn-in + horizon, plus the starting customers' spread (a warm start)
    tenures = sc.burn_in_weeks() + sc.horizon + sc.tenure_spread_weeks()
    schedule = np.full(tenures + 1, -1, dtype=np.int64)
    for visit in sorted(sc.journey.scheduled, key=lambda v: v.every):  # longer periods win
        schedule[visit.every::visit.every] = index[visit.touchpoint]

    S = len(sc.segments)
    seg = np.zeros((L.N_SEG, S))
    seg[L.SEG_CUM_SHARE] = np.cumsum([s.share for s in sc.segments])
    seg[L.SEG_CUM_SHARE, -1] = 1.0
    for j, s in enumerate(sc.segments):
        seg[L.SEG_VALUE, j] = s.weekly_value
        seg[L.SEG_SELF_SERVICE, j] = s.self_service
        seg[L.SEG_VOICE, j] = s.voice
        seg[L.SEG_ABANDON, j] = s.abandon
        seg[L.SEG_EXPECTATION, j] = s.expectation
        seg[L.SEG_TRUST, j] = s.trust
        seg[L.SEG_SATISFACTION, j] = s.satisfaction
        seg[L.SEG_CHURN_BIAS, j] = s.churn_bias
        seg[L.SEG_EFFORT_WEIGHT, j] = s.effort_weight
        seg[L.SEG_CHURN_SPREAD, j] = s.churn_spread

    ps, iss, desk, ch, acq = sc.psychology, sc.issues, sc.desk, sc.churn, sc.acquisition
    par = np.zeros(L.N_PAR)
    values = {
        L.P_KAPPA: ps.mood_congruence, L.P_GAMMA: ps.appraisal_gain,
        L.P_LAMBDA: ps.loss_aversion, L.P_RHO: ps.mood_persistence, L.P_SHOCK: ps.mood_shock,
        L.P_ALPHA: ps.satisfaction_rate, L.P_BETA: ps.expectation_rate,
        L.P_DELTA: ps.expectation_drift, L.P_TRUST_GAIN: ps.trust_gain,
        L.P_TRUST_LOSS: ps.trust_loss, L.P_TRUST_TOL: ps.trust_tolerance,
        L.P_TRUST_BREACH: ps.trust_breach, L.P_FAIL_PENALTY: ps.failure_penalty,
        L.P_CAUGHT_TRUST: ps.caught_trust_gain, L.P_NURTURE_TRUST: ps.nurture_trust_gain,
        L.P_NURTURE_MOOD: ps.nurture_mood_gain,
        L.P_SS_EFFORT: iss.self_service_effort, L.P_SS_FAIL_EFFORT: iss.failed_self_service_effort,
        L.P_CONTACT_EFFORT: iss.contact_effort, L.P_WAIT_EFFORT: iss.wait_effort,
        L.P_SILENT_EFFORT: iss.silent_effort, L.P_SILENT_MOOD: iss.silent_mood_hit,
        L.P_EFFORT_DECAY: iss.effort_decay, L.P_KB_BASE: iss.knowledge_base,
        L.P_BASE_CAPACITY: desk.base_capacity, L.P_COST_PER_CONTACT: desk.cost_per_contact,
        L.P_FCR: desk.fcr, L.P_FCR_MAX: desk.fcr_max, L.P_RECOVERY: desk.recovery_quality,
        L.P_RECOVERY_MAX: desk.recovery_max, L.P_RECOVERY_SALIENCE: desk.recovery_salience,
        L.P_BURNOUT_RATE: desk.burnout_rate, L.P_BURNOUT_HEAL: desk.burnout_heal,
        L.P_BURNOUT_PENALTY: desk.burnout_penalty,
        L.P_C0: ch.base, L.P_CS: ch.satisfaction, L.P_CTAU: ch.trust, L.P_CEFFORT: ch.effort,
        L.P_CISSUE: ch.issue, L.P_CCOMP: ch.competitor, L.P_COMP_GROWTH: ch.competitor_growth,
        L.P_PEAK_W: ch.peak_weight, L.P_END_W: ch.end_weight,
        L.P_SILENT_THRESHOLD: ch.silent_effort, L.P_SILENT_RATE: ch.silent_rate,
        L.P_ARRIVAL_BASE: acq.base_rate, L.P_REFERRAL: acq.referral_rate,
        L.P_DETRACTOR: acq.detractor_rate, L.P_REF_TRUST: acq.referral_trust_boost,
        L.P_REF_EXPECTATION: acq.referral_expectation_boost,
        L.P_LTR_S: sc.word_of_mouth.satisfaction, L.P_LTR_TRUST: sc.word_of_mouth.trust,
        L.P_LTR_MOOD: sc.word_of_mouth.mood,
        L.P_BURN_IN: sc.burn_in_weeks(), L.P_TENURE_SPREAD: sc.tenure_spread_weeks(),
        L.P_FIXED_COST: sc.economics.fixed_cost,
        L.P_WEEKLY_DISCOUNT: (1.0 + sc.economics.annual_discount_rate) ** (1.0 / 52.0) - 1.0,
        L.P_ENTRY: index[sc.journey.entry], L.P_COHORT: sc.cohort, L.P_HORIZON: sc.horizon,
        L.P_VOICE_SEVERITY: iss.voice_severity, L.P_VOICE_EFFORT: iss.voice_effort,
        L.P_FADE_RATE: iss.fade_rate,
    }
    assert len(values) == L.N_PAR, "every scalar parameter has a slot"
    for slot, value in values.items():
        par[slot] = value

    levers = np.zeros((L.N_LV, L.N_LEVERS))
    for lever_index, name in enumerate(LEVERS):
        spec = getattr(sc.levers, name)
        levers[L.LV_DEPRECIATION, lever_index] = spec.depreciation
        if name == "capacity":
            levers[L.LV_SCALE, lever_index] = spec.cost_per_slot
        else:
            levers[L.LV_SCALE, lever_index] = spec.scale
            levers[L.LV_CEILING, lever_index] = spec.ceiling

    return Compiled(tp, cum, move_guide(cum), schedule, seg, par, levers, spend_plan(sc),
                    trigger_table(sc), weekly_spend(sc, sc.start.strategy))


def spend_plan(sc: Scenario) -> np.ndarray:
    """Week by week, the spend per lever the strategy's phases plan (``layout.PL_*``): a
    fixed amount and a share of last week's revenue per lever, and the phase. In a ramp's
    week j (0, 1, ...) of r, the new phase weighs (j + 1) / (r + 1) and the one before
    it the rest; a strategy without phases is one phase from week 0."""
    plan = np.zeros((sc.horizon + 1, L.N_PLAN))
    phases = sc.phases()
    rows = [_phase_row(sc, phase) for phase in phases]
    for k, phase in enumerate(phases):
        end = phases[k + 1].start if k + 1 < len(phases) else sc.horizon + 1
        plan[phase.start:end, :L.PL_PHASE] = rows[k]
        plan[phase.start:end, L.PL_PHASE] = k
        for j in range(min(phase.ramp, end - phase.start)):
            weight = (j + 1) / (phase.ramp + 1)
            plan[phase.start + j, :L.PL_PHASE] = (1.0 - weight) * rows[k - 1] + weight * rows[k]
    return plan


def _phase_row(sc: Scenario, phase) -> np.ndarray:
    """A phase's (fixed amount, revenue share) per lever, as the plan's row holds them."""
    allocation = np.array([sc.allocation(phase)[name] for name in LEVERS])
    row = np.zeros(L.PL_PHASE)
    if phase.name == "none":
        return row
    if phase.revenue_share is not None:
        row[L.PL_SHARE:L.PL_SHARE + L.N_LEVERS] = phase.revenue_share * allocation
    else:
        budget = sc.strategy.budget if phase.budget is None else phase.budget
        row[L.PL_FIXED:L.PL_FIXED + L.N_LEVERS] = budget * allocation
    return row


def trigger_table(sc: Scenario) -> np.ndarray:
    """The strategy's triggers as ``rules.next_triggers`` reads them (unused rows: 0)."""
    table = np.zeros((L.MAX_TRIGGERS, L.N_TG))
    for k, trigger in enumerate(sc.strategy.triggers):
        table[k, L.TG_USED] = 1.0
        table[k, L.TG_OBSERVE] = L.OBSERVABLES.index(trigger.observe)
        table[k, L.TG_ABOVE] = 1.0 if trigger.when == "above" else 0.0
        table[k, L.TG_ENTER] = trigger.enter
        table[k, L.TG_LEAVE] = trigger.leave
        table[k, L.TG_SHARE] = trigger.share
        table[k, L.TG_WINDOW] = trigger.window
        for lever, share in trigger.levers.items():
            table[k, L.TG_LEVERS + LEVERS.index(lever)] = share
    return table


def weekly_spend(sc: Scenario, strategy=None) -> np.ndarray:
    """Spend per lever and week under the scenario's strategy (or the one given)."""
    allocation = sc.allocation(strategy)
    budget = sc.budget(strategy)
    return np.array([budget * allocation[name] for name in LEVERS])


def move_guide(cum: np.ndarray) -> np.ndarray:
    """Where to start the search for the next touchpoint (Chen & Asau's guide table).

    ``rules.visit`` moves a customer at ``here`` with a uniform u to the number of bounds
    ``cum[here, :-1]`` that u passes. Cell g of the guide holds that number for
    u = g / MOVE_GUIDE_CELLS, so the search for any u in the cell starts there and almost
    always stops at once: the same touchpoint as a search from 0, found in one step.
    """
    bounds = cum[:, :-1]
    cells = np.arange(L.MOVE_GUIDE_CELLS) / L.MOVE_GUIDE_CELLS
    return (cells[None, :, None] >= bounds[:, None, :]).sum(axis=2).astype(np.int64)


class Stacked(NamedTuple):
    """Variants of one journey, stacked on a leading axis (all arrays contiguous)."""

    tp: np.ndarray
    cum_transitions: np.ndarray
    move_guide: np.ndarray
    schedule: np.ndarray
    seg: np.ndarray
    par: np.ndarray
    levers: np.ndarray
    plan: np.ndarray
    triggers: np.ndarray
    burn_in_spend: np.ndarray


def stack(variants: list[Compiled]) -> Stacked:
    if len({v.par[L.P_BURN_IN] for v in variants}) != 1:
        raise ValueError("variants in one batch must share the start (burn-in weeks)")
    shapes = {tuple(a.shape for a in v) for v in variants}
    if len(shapes) != 1:
        raise ValueError("variants in one batch must share the journey's shape "
                         "(touchpoints, segments and scheduled visits)")
    if len({v.par[L.P_HORIZON] for v in variants}) != 1:
        raise ValueError("variants in one batch must share the horizon")
    return Stacked(*(np.ascontiguousarray(np.stack(field)) for field in zip(*variants)))
