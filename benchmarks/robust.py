"""Robust-study benchmark: a bundled robust study with and without adaptive seeds.

    .venv/bin/python benchmarks/robust.py              # the target: 500 worlds x 4 policies
                                                       # x 50 seeds (10-25 min a variant)
    .venv/bin/python benchmarks/robust.py --worlds 40  # scaled down, extrapolated
    .venv/bin/python benchmarks/robust.py --workers 2  # on a local Dask cluster

Both variants run the same worlds and policies at the baseline's size, side by side in one
process: **fixed** gives every world ``max_seeds`` seeds; **adaptive** starts with the study's
``seeds`` and adds blocks where the two best policies are not yet told apart. With fewer worlds
than the study's, each variant's time is also extrapolated to the study's worlds in proportion
(the share of worlds that need more seeds is estimated from the sample). The target (issue 14):
500 worlds x 4 policies x 50 seeds in under 15 minutes on 2 cores.

The batch engine's own rate on the base scenario is measured before and after, side by side:
a variant's rate over the engine's is what the study machinery (world scenarios, chunks,
files, rounds) keeps of it, and the extrapolation to a machine with the cores to itself
divides by that share of ``--alone-rate`` (the README's 56 M agent-steps/s on 2 threads).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from simulation.benchmark import measure as engine_rate
from simulation.executors import make_executor
from simulation.scenario import ScenarioError
from simulation.studies.robust import run_robust
from simulation.studies.robust_file import load_robust

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 15 * 60


def measure(loaded, out: Path, executor_args) -> dict:
    started = time.perf_counter()
    report = run_robust(loaded, out, executor=make_executor(*executor_args))
    seconds = time.perf_counter() - started
    return {"worlds": loaded.robust.design.worlds, "policies": len(loaded.robust.policies),
            "runs": report["runs"], "runs_fixed": report["runs_fixed"],
            "rounds": report["rounds"], "seconds": seconds,
            "agent_steps_per_second": report["agent_steps"] / seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=ROOT / "scenarios" / "robust_headline.toml")
    parser.add_argument("--worlds", type=int, default=None,
                        help="worlds to run (default: the study's); times are extrapolated")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--scheduler", default=None)
    parser.add_argument("--only", choices=["fixed", "adaptive"], default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument("--alone-rate", type=float, default=56e6,
                        help="the engine's agent-steps/s with the cores to itself")
    args = parser.parse_args(argv)
    try:
        full_worlds = load_robust(args.study).robust.design.worlds
    except ScenarioError as err:
        print(err.problems[0], file=sys.stderr)
        return 2
    base = load_robust(args.study).base.with_strategy("balanced")
    engine = [engine_rate(base, seeds=100)["rate"]]
    print(f"  engine: {engine[0] / 1e6:.1f} M agent-steps/s on the base scenario now",
          flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in ("fixed", "adaptive"):
            if args.only not in (None, name):
                continue
            loaded = load_robust(args.study, worlds=args.worlds, adaptive=name == "adaptive")
            m = measure(loaded, tmp / name, (args.scheduler, args.workers))
            m["extrapolated_seconds"] = m["seconds"] * full_worlds / m["worlds"]
            engine.append(engine_rate(base, seeds=100)["rate"])
            share = m["agent_steps_per_second"] / (sum(engine[-2:]) / 2)
            m["share_of_engine_rate"] = share
            m["alone_seconds"] = m["extrapolated_seconds"] * m["agent_steps_per_second"] / (
                share * args.alone_rate)
            results[name] = m
            print(f"{name:>8}: {m['worlds']} worlds x {m['policies']} policies, "
                  f"{m['runs']:,} runs ({m['runs'] / m['runs_fixed']:.0%} of "
                  f"{m['runs_fixed']:,}) in {m['rounds']} round(s): {m['seconds']:.1f} s, "
                  f"{m['agent_steps_per_second'] / 1e6:.1f} M agent-steps/s; at "
                  f"{full_worlds} worlds: {m['extrapolated_seconds'] / 60:.1f} min "
                  f"({'within' if m['extrapolated_seconds'] < TARGET_SECONDS else 'over'} "
                  f"the {TARGET_SECONDS // 60}-minute target at this load); "
                  f"{share:.0%} of the engine's rate, so {m['alone_seconds'] / 60:.1f} min "
                  f"with the cores to itself at {args.alone_rate / 1e6:.0f} M/s", flush=True)
            print(f"  engine: {engine[-1] / 1e6:.1f} M agent-steps/s on the base scenario now",
                  flush=True)
    results["engine_rates"] = engine
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
