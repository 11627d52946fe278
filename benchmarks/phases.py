"""Per-phase micro-benchmark of the batch engine's week: ns per active customer.

Runs one baseline run up to week ``--week`` to get a realistic state, then times each
phase of the week (live_week, serve_desk, decide, summarize) on that state, restoring the
state before every repetition.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit

from simulation import layout as L
from simulation import load_scenario, rng, rules
from simulation.compiled import compile_scenario


@njit
def _advance(key, tp, cum, guide, schedule, seg, par, levers, spend, weeks, capacity):
    """State of one run after ``weeks`` weeks (the batch kernel's loop, cut short)."""
    cohort = int(par[L.P_COHORT])
    fs = np.zeros((L.N_FLOAT_STATE, capacity))
    ist = np.zeros((L.N_INT_STATE, capacity), dtype=np.int64)
    ids = np.empty(capacity, dtype=np.int64)
    queue = np.empty(capacity, dtype=np.int64)
    work = np.empty((L.N_WORK, capacity))
    company = np.zeros(L.N_COMPANY)
    tally = np.zeros(L.N_TALLY)
    row = np.zeros(L.N_OUT)
    episodes = decisions = diag = None  # a run without diagnostics
    rules.admit(fs, ist, 0, cohort, 0, key, seg, par, 0.0)
    n = active = cohort
    ids[:cohort] = np.arange(cohort)
    for step in range(1, weeks + 1):
        rules.update_levers(company, levers, spend)
        tally[:] = 0.0
        rules.live_week(ids, active, fs, ist, step, key, tp, cum, guide, schedule, seg, par,
                        company, tally, work, episodes, diag)
        rules.serve_desk(ids, active, fs, ist, step, key, seg, par, company, tally, queue,
                         episodes, diag)
        active = rules.decide(ids, active, fs, ist, step, key, tp, seg, par, tally, queue,
                              episodes, decisions, diag)
        promoters, detractors = rules.summarize_step(ids, active, fs, ist, step, seg, par,
                                                     company, tally, row)
        n_new, referred = rules.arrivals(key, step, promoters, detractors, par)
        n_new = min(n_new, capacity - n)
        rules.admit(fs, ist, n, n_new, step, key, seg, par, referred)
        for j in range(n_new):
            ids[active + j] = n + j
        active += n_new
        n += n_new
    return fs, ist, ids, queue, work, company, n, active


@njit
def _phase(which, reps, fs0, ist0, ids0, fs, ist, ids, queue, work, active, step, key, tp, cum,
           guide, schedule, seg, par, company, tally, row):
    total = 0
    episodes = decisions = diag = None  # timed as a run without diagnostics
    for rep in range(reps):
        fs[:, :] = fs0
        ist[:, :] = ist0
        ids[:] = ids0
        tally[:] = 0.0
        if which == 1:
            rules.live_week(ids, active, fs, ist, step, key, tp, cum, guide, schedule, seg,
                            par, company, tally, work, episodes, diag)
        elif which == 2:
            rules.serve_desk(ids, active, fs, ist, step, key, seg, par, company, tally, queue,
                             episodes, diag)
        elif which == 3:
            total += rules.decide(ids, active, fs, ist, step, key, tp, seg, par, tally,
                                  queue, episodes, decisions, diag)
        elif which == 4:
            total += rules.summarize_step(ids, active, fs, ist, step, seg, par, company, tally,
                                          row)[0]
    return total


PHASES = {1: "live_week", 2: "serve_desk", 3: "decide", 4: "summarize"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--week", type=int, default=60)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--cohort", type=int, default=2000)
    args = parser.parse_args()
    sc = load_scenario("scenarios/baseline.toml", [f"cohort={args.cohort}"])
    c = compile_scenario(sc)
    key = rng.run_keys(0, [0])[0]
    capacity = 2 * args.cohort + 64
    fs0, ist0, ids0, queue, work, company, n, active = _advance(key, *c, args.week, capacity)
    tally = np.zeros(L.N_TALLY)
    row = np.zeros(L.N_OUT)
    print(f"week {args.week}: {n} customers, {active} active")
    results = {}
    for step_kind, step in (("week after a decision", args.week + 1),
                            ("decision week", 4 * ((args.week + 4) // 4))):
        print(f"-- {step_kind} (step {step})")
        for which in (0, *PHASES):
            fs, ist, ids = fs0.copy(), ist0.copy(), ids0.copy()
            args_ = (fs0, ist0, ids0, fs, ist, ids, queue, work, active, step, key, c.tp,
                     c.cum_transitions, c.move_guide, c.schedule, c.seg, c.par,
                     company.copy(), tally, row)
            _phase(which, 2, *args_)
            best = np.inf
            for _ in range(3):
                t = time.perf_counter()
                _phase(which, args.reps, *args_)
                best = min(best, time.perf_counter() - t)
            results[which] = best
            if which == 0:
                continue
            ns = (best - results[0]) / args.reps / active * 1e9
            print(f"{PHASES[which]:>13}: {ns:6.1f} ns per active customer")


if __name__ == "__main__":
    main()
