"""Where a week of the batch engine spends its time: nanoseconds per active customer for each
pass of the week, on the state of a real run.

    .venv/bin/python benchmarks/passes.py                  # the baseline, week 52
    .venv/bin/python benchmarks/passes.py --scenario my_launch.toml --week 10

One run is simulated with the engine's own code (``batch._start_run`` and ``batch._weeks``:
the warm start's burn-in, then the weeks up to ``--week``). From that state the next week's
passes run ``--reps`` times, the state restored before each repetition, each pass timed by
the processor's time-stamp counter (x86-64 only) and converted to seconds by the wall clock
of the whole call. The fastest of ``--repeats`` such calls is reported. One thread.

Rates on a shared machine vary from minute to minute: compare passes within one run, and an
optimisation by running this before and after it, alternately.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic

from simulation import layout as L
from simulation import load_scenario, rng, rules
from simulation.batch import _start_run, _weeks
from simulation.compiled import compile_scenario
from simulation.scenario import ScenarioError, resolve_path

PASSES = ("weekly_draws", "visit", "appraise", "open_issues", "serve_desk", "decide",
          "summarize_week")


@intrinsic
def _ticks(typingctx):
    """The processor's time-stamp counter (x86-64 ``rdtsc``): a pass's time inside compiled
    code, where no Python clock can be read."""
    def codegen(context, builder, signature, args):
        counter = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(64), []), "llvm.readcyclecounter")
        return builder.call(counter, [])
    return types.int64(), codegen


@njit(cache=True, error_model="numpy")
def _timed_week(reps, saved, state, active, step, key, tp, cum_transitions, move_guide,
                schedule, seg, par):
    """The next week's passes, ``reps`` times, each time from the ``saved`` state; returns
    the counter ticks each pass took in all, and the ticks of the whole call."""
    started = _ticks()
    fs0, ist0, ids0, company0 = saved
    fs, ist, ids, queue, work, company, tally = state
    row = np.zeros(L.N_OUT)
    episodes = decisions = diag = None  # as a run without diagnostics
    ticks = np.zeros(len(PASSES), dtype=np.int64)
    for _ in range(reps):
        fs[:, :] = fs0
        ist[:, :] = ist0
        ids[:] = ids0
        company[:] = company0
        tally[:] = 0.0
        t0 = _ticks()
        rules.weekly_draws(ids, active, step, key, work)
        t1 = _ticks()
        rules.visit(ids, active, fs, ist, step, key, tp, cum_transitions, move_guide,
                    schedule, par, company, tally, work, episodes, diag)
        t2 = _ticks()
        rules.appraise(work, active, par)
        t3 = _ticks()
        rules.open_issues(ids, active, fs, ist, step, key, seg, par, company, tally, work,
                          episodes, diag)
        t4 = _ticks()
        rules.serve_desk(ids, active, fs, ist, step, key, seg, par, company, tally, queue,
                         episodes, diag)
        t5 = _ticks()
        stay = rules.decide(ids, active, fs, ist, step, key, tp, seg, par, tally, queue,
                            episodes, decisions, diag)
        t6 = _ticks()
        rules.summarize_week(ids, stay, fs, ist, step, seg, par, company, tally, row)
        t7 = _ticks()
        for k, (a, b) in enumerate(((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5),
                                    (t5, t6), (t6, t7))):
            ticks[k] += b - a
    return ticks, _ticks() - started


def week_ahead(sc, week: int, seed: int = 0):
    """One run of ``sc`` simulated to the end of ``week``: the arguments of ``_timed_week``
    after ``reps`` (the saved state, a copy to work on, the active customers, the next
    week's step, the run key and the compiled scenario) and the customers admitted."""
    if not 0 <= week < sc.horizon:
        raise ValueError(f"--week: must be in 0 .. {sc.horizon - 1} (the horizon is "
                         f"{sc.horizon} weeks; got {week})")
    c = compile_scenario(sc)
    key = rng.run_keys(0, [seed])[0]
    burn_in = sc.burn_in_weeks()
    state, n, active = _start_run(key, c.seg, c.par)
    out = np.zeros((sc.horizon + 1, L.N_OUT))
    state, n, active, _, _ = _weeks(state, n, active, 0, burn_in + week, key, c.tp,
                                    c.cum_transitions, c.move_guide, c.schedule, c.seg, c.par,
                                    c.levers, c.plan, c.triggers, c.burn_in_spend, out, None,
                                    None, None, None)
    fs, ist, ids, queue, work, company, tally, _, _ = state
    saved = (fs.copy(), ist.copy(), ids.copy(), company.copy())
    timed = (fs, ist, ids, queue, work, company, tally)
    args = (saved, timed, active, burn_in + week + 1, key, c.tp, c.cum_transitions,
            c.move_guide, c.schedule, c.seg, c.par)
    return args, n


def measure(scenario_path: str, week: int, reps: int, repeats: int, seed: int = 0) -> dict:
    """Seconds per active customer of each pass of week ``week + 1`` of one run."""
    args, n = week_ahead(load_scenario(resolve_path(scenario_path)), week, seed)
    active = args[2]
    _timed_week(1, *args)  # compile, or load the cache
    best = None
    for _ in range(repeats):
        began = time.perf_counter()
        ticks, whole = _timed_week(reps, *args)
        seconds_per_tick = (time.perf_counter() - began) / whole
        if best is None or ticks.sum() < best[0].sum():
            best = ticks, seconds_per_tick
    ticks, seconds_per_tick = best
    per_customer = {name: ticks[k] * seconds_per_tick / reps / active
                    for k, name in enumerate(PASSES)}
    return {"scenario": scenario_path, "week": week, "customers": n, "active": active,
            "per_customer": per_customer}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--week", type=int, default=52,
                        help="the state after this week of the horizon (default 52)")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if platform.machine().lower() not in ("x86_64", "amd64"):
        print("passes.py: the passes are timed by the x86-64 time-stamp counter; this "
              f"machine is {platform.machine()}", file=sys.stderr)
        return 2
    if args.reps < 1 or args.repeats < 1:
        print("passes.py: --reps and --repeats must be at least 1", file=sys.stderr)
        return 2
    try:
        m = measure(args.scenario, args.week, args.reps, args.repeats)
    except (ScenarioError, ValueError) as error:
        print(str(error), file=sys.stderr)
        return 2
    print(f"{m['scenario']}, week {m['week'] + 1} from the state after week {m['week']}: "
          f"{m['customers']:,} customers admitted, {m['active']:,} active; one thread, "
          f"the fastest of {args.repeats} x {args.reps} repetitions")
    total = sum(m["per_customer"].values())
    for name, seconds in m["per_customer"].items():
        print(f"  {name:>15}: {seconds * 1e9:6.2f} ns per active customer "
              f"({100 * seconds / total:4.1f}%)")
    print(f"  {'the week':>15}: {total * 1e9:6.2f} ns per active customer "
          f"(= {1e-6 / total:.1f} M agent-steps/s on one thread, the passes alone with "
          "their state in cache)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
