"""The batch engine: many independent runs in parallel, customer state as arrays.

One group of runs per ``prange`` iteration, so each run is computed by one thread from start
to end and its numbers cannot depend on the thread count. A group is one run, or several runs
of one seed whose variants differ only in what they spend from week 1 on (strategies
compared from a warm start): they reach week 0 in the same state, so their burn-in is
simulated once and each goes on from a copy of it. Each run writes only its own rows of
per-step aggregates; customer arrays live and die inside the group, so memory grows with
runs x steps, not with customers x steps.

A run keeps the list of its active customers (``ids``, ascending): the week's rules loop
over it, so churned customers cost nothing and no loop branches on who is still active.
``rules.decide`` drops leavers from it in place (keeping the order) and newcomers are
appended, so it stays ascending and every sum adds up in the same order as in the Mesa
engine. Speed notes (measured, see ``benchmarks/``): no array is passed into inlined code
in a per-customer loop (each such call cost an atomic reference-count pair), and every
kernel uses ``error_model="numpy"`` (no division-by-zero checks).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from . import layout as L
from . import rng, rules
from .compiled import Stacked
from .diagnostics import Buffers, Diagnostics


@njit(cache=True, error_model="numpy")
def _start_run(key, seg, par):
    """A run's state at step 0: its starting customers admitted (``rules.admit_starting``).
    The state is (fs, ist, ids, queue, work, company, tally, burn_in_row, spend), the number
    of customers admitted and the number active."""
    cohort = int(par[L.P_COHORT])
    capacity = cohort + cohort // 2 + 64
    fs = np.zeros((L.N_FLOAT_STATE, capacity))
    ist = np.zeros((L.N_INT_STATE, capacity), dtype=np.int64)
    ids = np.empty(capacity, dtype=np.int64)      # the active customers, ascending
    queue = np.empty(capacity, dtype=np.int64)
    work = np.empty((L.N_WORK, capacity))     # live_week's working rows
    company = np.zeros(L.N_COMPANY)
    tally = np.zeros(L.N_TALLY)
    burn_in_row = np.zeros(L.N_OUT)           # the burn-in weeks' rows, not kept
    spend = np.zeros(L.N_LEVERS)              # this week's spend per lever
    n = rules.admit_starting(fs, ist, key, seg, par)
    active = _enlist(ids, 0, 0, n)
    return (fs, ist, ids, queue, work, company, tally, burn_in_row, spend), n, active


@njit(cache=True, error_model="numpy")
def _branch(state):
    """A private copy of a run's state, to go on from it under another strategy."""
    fs, ist, ids, queue, work, company, tally, burn_in_row, spend = state
    return (fs.copy(), ist.copy(), ids.copy(), np.empty_like(queue), np.empty_like(work),
            company.copy(), tally.copy(), burn_in_row.copy(), spend.copy())


@njit(cache=True, error_model="numpy")
def _weeks(state, n, active, first, last, key, tp, cum_transitions, move_guide, schedule, seg,
           par, levers, plan, triggers, burn_in_spend, out, segments, episodes, decisions,
           diag):
    """Internal steps ``first`` .. ``last`` of a run, in MODEL.md's order; ``out`` is
    (horizon + 1, N_OUT).

    A warm start first simulates ``P_BURN_IN`` weeks under the burn-in's own spend (internal
    steps 1 .. P_BURN_IN, their rows not kept); week w is internal step P_BURN_IN + w, and
    spends ``plan[w]`` as the ``triggers`` move it (``rules.weekly_spend``). Diagnostics:
    ``segments`` (horizon + 1, segments, N_SEGMENT_OUT), ``episodes``, ``decisions`` and
    ``diag`` (the recorder's state, see ``rules.new_row``), or None for all four: numba then
    compiles the run, and every rule it calls, without the recording code.
    Returns (state, customers admitted, active, agent-steps, of them in the burn-in).
    """
    fs, ist, ids, queue, work, company, tally, burn_in_row, spend = state
    burn_in = int(par[L.P_BURN_IN])
    agent_steps = burn_in_steps = 0
    for step in range(first, last + 1):
        if step > 0:
            rules.update_levers(company, levers, rules.weekly_spend(
                step, par, plan, triggers, burn_in_spend, company, spend))  # 1. spending
            tally[:] = 0.0
            agent_steps += active
            burn_in_steps += active if step <= burn_in else 0
            rules.live_week(ids, active, fs, ist, step, key, tp, cum_transitions, move_guide,
                            schedule, seg, par, company, tally, work, episodes,
                            diag)                                         # 2-5. each customer
            rules.serve_desk(ids, active, fs, ist, step, key, seg, par, company, tally,
                             queue, episodes, diag)                       # 6. the desk
            active = rules.decide(ids, active, fs, ist, step, key, tp, seg, par, tally,
                                  queue, episodes, decisions, diag)       # 7. decisions
            if diag is not None:
                rules.close_week(diag)
            week = step - burn_in
            row = out[week] if week > 0 else burn_in_row
            promoters, detractors = rules.summarize_week(ids, active, fs, ist, step, seg,
                                                         par, company, tally, row)  # 9.
            n_new, referred = rules.arrivals(key, step, promoters, detractors,
                                             par)                         # 8. word of mouth
            if n + n_new > fs.shape[1]:
                fs, ist, ids, queue, work = _grow(fs, ist, ids, 2 * (n + n_new))
            rules.admit(fs, ist, n, n_new, step, key, seg, par, referred)
            stayed = active
            active = _enlist(ids, active, n, n_new)
            if segments is not None and week > 0:
                rules.summarize_segments(ids, stayed, n_new, fs, ist, seg, par,
                                         segments[week])
            n += n_new
            rules.record_arrivals(row, n_new)
            rules.observe_week(company, row)  # what next week's budget and triggers see
        if step == burn_in:  # week 0: the customers active now are the cohort
            if segments is None:
                rules.open_horizon(ids, active, fs, ist, step, seg, par, company, tally,
                                   out[0], None, None)
            else:
                rules.open_horizon(ids, active, fs, ist, step, seg, par, company, tally,
                                   out[0], segments[0], diag)
    state = (fs, ist, ids, queue, work, company, tally, burn_in_row, spend)
    return state, n, active, agent_steps, burn_in_steps


@njit(cache=True, error_model="numpy")
def _enlist(ids, active, first, n_new):
    """Newcomers ``first`` .. ``first + n_new - 1`` join the end of the active list."""
    for j in range(n_new):
        ids[active + j] = first + j
    return active + n_new


@njit(cache=True, error_model="numpy")
def _grow(fs, ist, ids, capacity):
    """Room for more newcomers (rare: amortised doubling)."""
    fs2 = np.zeros((fs.shape[0], capacity))
    ist2 = np.zeros((ist.shape[0], capacity), dtype=np.int64)
    ids2 = np.empty(capacity, dtype=np.int64)
    fs2[:, :fs.shape[1]] = fs
    ist2[:, :ist.shape[1]] = ist
    ids2[:ids.shape[0]] = ids
    return fs2, ist2, ids2, np.empty(capacity, dtype=np.int64), np.empty((L.N_WORK, capacity))


@njit(cache=True, error_model="numpy")
def simulate_group(keys, variant, first, stop, tp, cum_transitions, move_guide, schedule, seg,
                   par, levers, plan, triggers, burn_in_spend, out, events, segments, episodes,
                   decisions, diag, agent_steps, burn_in_steps, customers):
    """Runs ``first`` .. ``stop - 1``: one key, and variants that differ only in what they
    spend from week 1 on (``plan`` and ``triggers``), so they reach week 0 in the same state.
    Their start and burn-in are simulated once; each run goes on from its own copy of that
    state. The shared agent-steps are counted once, on the group's first run. Diagnostics
    (``diag`` not None) record per run: their groups hold one run each."""
    v = variant[first]
    key = keys[first]
    # The group works on private copies: every rule call updates the reference count of
    # the arrays it is given, and on arrays shared between threads those atomic updates
    # contend (measured: about 4% of the two-thread rate).
    tp_v, cum_v, guide_v = tp[v].copy(), cum_transitions[v].copy(), move_guide[v].copy()
    schedule_v, seg_v, par_v, levers_v = (schedule[v].copy(), seg[v].copy(), par[v].copy(),
                                          levers[v].copy())
    burn_in_spend_v = burn_in_spend[v].copy()
    burn_in = int(par_v[L.P_BURN_IN])
    last = burn_in + int(par_v[L.P_HORIZON])
    week_0 = np.zeros((out.shape[1], out.shape[2]))
    state, n, active = _start_run(key, seg_v, par_v)
    start = (key, tp_v, cum_v, guide_v, schedule_v, seg_v, par_v, levers_v, plan[v].copy(),
             triggers[v].copy(), burn_in_spend_v, week_0)
    state, n, active, shared, shared_burn_in = _weeks(
        state, n, active, 0, burn_in, *start, *_records(segments, episodes, decisions, diag,
                                                        first))
    for r in range(first, stop):
        w = variant[r]
        run_state = state if r == stop - 1 else _branch(state)
        run_out = week_0.copy()
        rest = (key, tp_v, cum_v, guide_v, schedule_v, seg_v, par_v, levers_v, plan[w].copy(),
                triggers[w].copy(), burn_in_spend_v, run_out)
        run_state, run_n, _, steps, _ = _weeks(
            run_state, n, active, burn_in + 1, last, *rest,
            *_records(segments, episodes, decisions, diag, r))
        rules.record_events(run_state[1], run_n, par_v, events[r])
        out[r] = run_out
        agent_steps[r] = steps + (shared if r == first else 0)
        burn_in_steps[r] = shared_burn_in if r == first else 0
        customers[r] = run_n


@njit(cache=True, error_model="numpy")
def _records(segments, episodes, decisions, diag, r):
    """Run r's diagnostic record arrays, or four Nones when diagnostics are off (decided at
    compile time: numba compiles the runs without the recording code)."""
    if diag is None:
        return None, None, None, None
    return segments[r], episodes[r], decisions[r], diag[r]


@njit(cache=True, parallel=True, error_model="numpy")
def simulate_batch(keys, variant, group_start, tp, cum_transitions, move_guide, schedule, seg,
                   par, levers, plan, triggers, burn_in_spend, out, events, segments, episodes,
                   decisions, diag, agent_steps, burn_in_steps, customers):
    """Run r uses key ``keys[r]`` and parameter variant ``variant[r]``; writes ``out[r]``.
    Group g is runs ``group_start[g]`` .. ``group_start[g + 1] - 1`` (``simulate_group``),
    one group per ``prange`` iteration."""
    for g in prange(group_start.shape[0] - 1):
        simulate_group(keys, variant, group_start[g], group_start[g + 1], tp, cum_transitions,
                       move_guide, schedule, seg, par, levers, plan, triggers, burn_in_spend,
                       out, events, segments, episodes, decisions, diag, agent_steps,
                       burn_in_steps, customers)


class BatchOutput(NamedTuple):
    out: np.ndarray          # (runs, horizon + 1, N_OUT)
    events: np.ndarray       # (runs, events_per_run, N_EVENT)
    agent_steps: np.ndarray  # (runs,) customer-weeks simulated, burn-in included (a
    #                          group's shared burn-in on its first run only)
    burn_in_steps: np.ndarray  # (runs,) of them, those in a warm start's burn-in
    customers: np.ndarray    # (runs,) customers each run admitted
    records: Buffers | None  # the diagnostic records (None when off)


def run_batch(stacked: Stacked, keys: np.ndarray, variant: np.ndarray, *,
              group_start: np.ndarray | None = None, events_per_run: int = 0,
              out: np.ndarray | None = None,
              diagnostics: Diagnostics | None = None) -> BatchOutput:
    """Simulate ``len(keys)`` runs.

    ``group_start`` (groups + 1 ascending offsets, from 0 to the runs) puts runs that share
    a key and everything up to week 0 into groups whose burn-in is simulated once (see
    ``simulate_group``; the caller vouches for the sharing, ``simulate`` works it out); by
    default every run is a group of its own. ``out`` is (runs, horizon + 1, N_OUT) float64,
    written in place when given; ``events`` is (runs, events_per_run, N_EVENT) int64 with -1
    in rows no customer filled; with ``diagnostics`` the runs also record into ``records``
    (``Buffers.run(r)``; None without), and every group must be one run.
    """
    runs = len(keys)
    if group_start is None:
        group_start = np.arange(runs + 1)
    group_start = np.ascontiguousarray(group_start, dtype=np.int64)
    if group_start[0] != 0 or group_start[-1] != runs or np.any(np.diff(group_start) < 1):
        raise ValueError("group_start must rise from 0 to the number of runs")
    if diagnostics and len(group_start) != runs + 1:
        raise ValueError("diagnostics record run by run: every group must be one run")
    horizon = int(stacked.par[0, L.P_HORIZON])
    if out is None:
        out = np.zeros((runs, horizon + 1, L.N_OUT))
    events = np.full((runs, events_per_run, L.N_EVENT), -1, dtype=np.int64)
    records = Buffers(runs, horizon, stacked.seg.shape[2], diagnostics) if diagnostics else None
    arrays = ((records.segments, records.episodes, records.decisions, records.diag)
              if records else (None, None, None, None))
    agent_steps = np.zeros(runs, dtype=np.int64)
    burn_in_steps = np.zeros(runs, dtype=np.int64)
    customers = np.zeros(runs, dtype=np.int64)
    simulate_batch(np.ascontiguousarray(keys, dtype=np.uint64),
                   np.ascontiguousarray(variant, dtype=np.int64), group_start, *stacked,
                   out, events, *arrays, agent_steps, burn_in_steps, customers)
    rng.check_customer_range(int(customers.max(initial=0)))
    return BatchOutput(out, events, agent_steps, burn_in_steps, customers, records)
