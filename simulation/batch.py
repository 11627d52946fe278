"""The batch engine: many independent runs in parallel, customer state as arrays.

One run per ``prange`` iteration, so each run is computed by one thread from start to end
and its numbers cannot depend on the thread count. Each run writes only its own rows of
per-step aggregates; customer arrays live and die inside the run, so memory grows with
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
def simulate_run(key, tp, cum_transitions, move_guide, schedule, seg, par, levers, plan,
                 triggers, burn_in_spend, out, events, segments, episodes, decisions, diag):
    """One run, week by week, in MODEL.md's order. ``out`` is (horizon + 1, N_OUT).

    A warm start first simulates ``P_BURN_IN`` weeks under the burn-in's own spend (internal
    steps 1 .. P_BURN_IN, their rows not kept); week w is internal step P_BURN_IN + w, and
    spends ``plan[w]`` as the ``triggers`` move it (``rules.weekly_spend``).
    ``events`` (customers x N_EVENT, see ``rules.record_events``) is filled when it has
    rows; pass a (0, N_EVENT) array to skip per-customer output. Diagnostics: ``segments``
    (horizon + 1, segments, N_SEGMENT_OUT), ``episodes``, ``decisions`` and ``diag`` (the
    recorder's state, see ``rules.new_row``), or None for all four: numba then compiles
    this run, and every rule it calls, without the recording code.
    Returns (agent-steps simulated, of them in the burn-in, customers admitted).
    """
    cohort = int(par[L.P_COHORT])
    burn_in = int(par[L.P_BURN_IN])
    last = burn_in + int(par[L.P_HORIZON])
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
    agent_steps = burn_in_steps = 0
    for step in range(0, last + 1):
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
                                  episodes, decisions, diag)              # 7. decisions
            if diag is not None:
                rules.close_week(episodes, ist, diag)
            week = step - burn_in
            row = out[week] if week > 0 else burn_in_row
            promoters, detractors = rules.summarize_step(ids, active, fs, ist, step, seg,
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
    rules.record_events(ist, n, par, events)
    return agent_steps, burn_in_steps, n


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


@njit(cache=True, parallel=True, error_model="numpy")
def simulate_batch(keys, variant, tp, cum_transitions, move_guide, schedule, seg, par, levers,
                   plan, triggers, burn_in_spend, out, events, segments, episodes, decisions, diag,
                   agent_steps, burn_in_steps, customers):
    """Run r uses key ``keys[r]`` and parameter variant ``variant[r]``; writes ``out[r]``."""
    for r in prange(keys.shape[0]):
        v = variant[r]
        # The run works on private copies: every rule call updates the reference count of
        # the arrays it is given, and on arrays shared between threads those atomic updates
        # contend (measured: about 4% of the two-thread rate).
        run_out = np.zeros((out.shape[1], out.shape[2]))
        journey = (keys[r], tp[v].copy(), cum_transitions[v].copy(), move_guide[v].copy(),
                   schedule[v].copy(), seg[v].copy(), par[v].copy(), levers[v].copy(),
                   plan[v].copy(), triggers[v].copy(), burn_in_spend[v].copy(), run_out,
                   events[r])
        if diag is None:  # decided at compile time: two kernels, one without recording
            agent_steps[r], burn_in_steps[r], customers[r] = simulate_run(
                *journey, None, None, None, None)
        else:
            agent_steps[r], burn_in_steps[r], customers[r] = simulate_run(
                *journey, segments[r], episodes[r], decisions[r], diag[r])
        out[r] = run_out


class BatchOutput(NamedTuple):
    out: np.ndarray          # (runs, horizon + 1, N_OUT)
    events: np.ndarray       # (runs, events_per_run, N_EVENT)
    agent_steps: np.ndarray  # (runs,) customer-weeks simulated, burn-in included
    burn_in_steps: np.ndarray  # (runs,) of them, those in a warm start's burn-in
    customers: np.ndarray    # (runs,) customers each run admitted
    records: Buffers | None  # the diagnostic records (None when off)


def run_batch(stacked: Stacked, keys: np.ndarray, variant: np.ndarray, *,
              events_per_run: int = 0, out: np.ndarray | None = None,
              diagnostics: Diagnostics | None = None) -> BatchOutput:
    """Simulate ``len(keys)`` runs.

    ``out`` is (runs, horizon + 1, N_OUT) float64, written in place when given (a caller
    running a batch in chunks passes its rows of one array: no copies to join them);
    ``events`` is (runs, events_per_run, N_EVENT) int64 with -1 in rows no customer filled;
    with ``diagnostics`` the runs also record into ``records`` (``Buffers.run(r)``; None
    without).
    """
    runs = len(keys)
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
                   np.ascontiguousarray(variant, dtype=np.int64), *stacked,
                   out, events, *arrays, agent_steps, burn_in_steps, customers)
    rng.check_customer_range(int(customers.max(initial=0)))
    return BatchOutput(out, events, agent_steps, burn_in_steps, customers, records)
