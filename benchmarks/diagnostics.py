"""What diagnostics cost: the batch engine with them off, on for every customer, on for a
sample, and (with ``--before``) the package as it was before they existed, side by side.

    .venv/bin/python benchmarks/diagnostics.py
    git archive 3ab254c simulation | tar -x -C /tmp/cxsim-before   # the package before
    .venv/bin/python benchmarks/diagnostics.py --before /tmp/cxsim-before

Every configuration runs in a fresh process (a warm-up first, so compiling is not timed),
the configurations take turns for ``--rounds`` rounds, and the fastest time of each is
reported: the machine is shared, and the fastest run is the one least disturbed. A time is
the whole ``simulate`` call, building the record tables included; agent-steps are active
customer-weeks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TREE = HERE.parent

_PROBE = """
import json, time
import simulation
from simulation import load_scenario, simulate
from simulation.scenario import resolve_path
options = {options!r}
kwargs = {{}}
if options is not None:
    from simulation.diagnostics import Diagnostics
    kwargs["diagnostics"] = Diagnostics(**options)
sc = load_scenario(resolve_path({scenario!r}))
simulate(sc.model_copy(update={{"horizon": 2, "cohort": 10}}), seeds=1, **kwargs)
started = time.perf_counter()
res = simulate(sc, seeds={seeds}, **kwargs)
seconds = time.perf_counter() - started
rows = sum(len(t) for t in (getattr(res, "episodes", None), getattr(res, "decisions", None))
           if t is not None)
print(json.dumps({{"seconds": seconds, "agent_steps": res.manifest["agent_steps"],
                  "rows": rows, "package": simulation.__file__}}))
"""

CONFIGS = {
    "diagnostics off": None,
    "on, every customer": {"sample": 1.0},
    "on, 10% of customers": {"sample": 0.1},
}


def _measure(tree: Path, options, scenario: str, seeds: int) -> dict:
    code = _PROBE.format(options=options, scenario=scenario, seeds=seeds)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=tree, check=True)
    m = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(m["package"]).is_relative_to(tree), f"measured {m['package']}, not {tree}"
    return m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, default=None,
                        help="a source tree of the package without diagnostics")
    args = parser.parse_args()
    configs = [(name, TREE, options) for name, options in CONFIGS.items()]
    if args.before is not None:
        if not (args.before / "simulation" / "rules.py").is_file():
            print(f"diagnostics.py: error: --before {args.before}: no simulation/rules.py "
                  "there", file=sys.stderr)
            raise SystemExit(2)
        configs.insert(0, ("before diagnostics existed", args.before.resolve(), None))
    best: dict[str, dict] = {}
    for round_ in range(args.rounds):
        for name, tree, options in configs:
            m = _measure(tree, options, args.scenario, args.seeds)
            if name not in best or m["seconds"] < best[name]["seconds"]:
                best[name] = m
            print(f"round {round_ + 1}: {name:<28} {m['seconds']:7.2f} s", flush=True)
    reference = best["diagnostics off"]["seconds"]
    print(f"\n{args.scenario}, {args.seeds} seeds, fastest of {args.rounds} rounds:")
    for name, _, _ in configs:
        m = best[name]
        print(f"  {name:<28} {m['seconds']:7.2f} s  {m['agent_steps'] / m['seconds'] / 1e6:6.1f} "
              f"M agent-steps/s  {m['seconds'] / reference:5.2f}x off  "
              f"{m['rows'] / args.seeds:>9,.0f} rows per run")


if __name__ == "__main__":
    main()
