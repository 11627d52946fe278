"""Correctness guard for engine optimisations.

1. The Mesa and batch engines give the same steps for the same scenario and seeds
   (integer columns equal, float columns within 1e-9 relative).
2. The batch engine's ``out`` is bit-identical on 1 and on all threads.
3. Optionally (``--save FILE`` / ``--against FILE``) the batch output for a fixed
   configuration is saved or compared bit for bit with a saved reference.
"""

from __future__ import annotations

import argparse
import sys

import numba
import numpy as np

from simulation import load_scenario, simulate
from simulation import layout as L


def engines_agree(overrides=("cohort=200", "horizon=60"), seeds=(0, 1, 2)) -> bool:
    sc = load_scenario("scenarios/baseline.toml", list(overrides))
    mesa = simulate(sc, seeds=list(seeds), engine="mesa").steps
    batch = simulate(sc, seeds=list(seeds), engine="batch").steps
    ok = True
    for col in L.STEP_COLUMNS:
        a, b = mesa[col].to_numpy(), batch[col].to_numpy()
        if col in L.INTEGER_COLUMNS:
            good = np.array_equal(a, b)
        else:
            good = np.allclose(a, b, rtol=1e-9, atol=1e-12)
        if not good:
            ok = False
            print(f"  MISMATCH {col}: max abs diff {np.max(np.abs(a - b))}")
    print(f"engines agree ({', '.join(overrides)}; seeds {list(seeds)}): {ok}")
    return ok


def batch_out(sc, seeds):
    return simulate(sc, seeds=seeds, engine="batch").steps


def threads_agree(seeds=16) -> bool:
    sc = load_scenario("scenarios/baseline.toml", ["cohort=500", "horizon=104"])
    full = numba.get_num_threads()
    numba.set_num_threads(1)
    one = batch_out(sc, seeds)
    numba.set_num_threads(full)
    many = batch_out(sc, seeds)
    ok = one.equals(many)
    print(f"1 vs {full} threads bit-identical: {ok}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--save", help="save the reference batch output (npz)")
    parser.add_argument("--against", help="compare with a saved reference output (npz)")
    args = parser.parse_args()
    ok = engines_agree()
    ok &= engines_agree(("cohort=300", "horizon=160", "strategy.name=proactive"), (5, 6))
    ok &= threads_agree()
    if args.save or args.against:
        sc = load_scenario("scenarios/baseline.toml", ["cohort=1000"])
        steps = batch_out(sc, 8)
        values = steps[list(L.STEP_COLUMNS)].to_numpy(dtype=float)
        if args.save:
            np.savez(args.save, values=values)
            print(f"saved reference to {args.save}")
        if args.against:
            ref = np.load(args.against)["values"]
            same = np.array_equal(ref, values)
            print(f"batch output identical to {args.against}: {same}")
            if not same:
                diff = np.abs(ref - values)
                cols = [L.STEP_COLUMNS[c] for c in np.unique(np.nonzero(diff)[1])]
                print(f"  differing columns: {cols}")
            ok &= same
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
