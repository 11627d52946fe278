"""Coverage of the calibration's 90% credible intervals (issue 15's acceptance: at least
80% of the true values covered over at least 20 recoveries).

Each recovery makes an observed history with cxsim from known values (one run of its own
root seed, which the calibration never uses), calibrates three parameters to it, and checks
whether each 90% interval holds its true value. Two designs of observation:

- ``weekly``: the cohort's retention every week;
- ``yearly``: the retention at the end of each year, and the desk contacts of one week in
  four (normal, with the spread of a week's contacts measured over seeds at the truth).

    .venv/bin/python benchmarks/calibration_coverage.py                 # 20 of each
    .venv/bin/python benchmarks/calibration_coverage.py --recoveries 5  # a quick look

The company is the baseline scaled to 1,000 customers over two years, so that 40 recoveries
take minutes, not hours; the budget per recovery is in BUDGET.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from simulation import load_scenario, simulate
from simulation.studies.calibration_file import load_calibration
from simulation.studies.calibration_run import run_calibration

TREE = Path(__file__).resolve().parent.parent
BASELINE = TREE / "scenarios" / "baseline.toml"
SET = ["start.mode=launch", "cohort=1000", "horizon=104", "desk.base_capacity=25", "strategy.budget=1000",
       "acquisition.base_rate=2"]
TRUTH = {"churn.base": -0.8, "churn.trust": 2.5, "touchpoints.*.failure_rate*": 1.0}
PRIORS = {"churn.base": (-2.0, 0.5, "uniform"), "churn.trust": (0.5, 6.0, "uniform"),
          "touchpoints.*.failure_rate*": (0.4, 2.5, "loguniform")}
BUDGET = "seeds = 30\ntrials = 50\nposterior_draws = 150\nforecast_draws = 10\n"


def _parameters() -> str:
    return "".join(f'[[parameters]]\npath = "{path}"\nlow = {lo}\nhigh = {hi}\n'
                   f'distribution = "{dist}"\n' for path, (lo, hi, dist) in PRIORS.items())


def _observed(folder: Path, design: str, seed: int, contacts_sd: float) -> str:
    sc = load_scenario(BASELINE, SET + [f"{k}={v}" for k, v in TRUTH.items()])
    steps = simulate(sc, seeds=[0], root_seed=10_000 + seed).steps
    weeks = steps[steps["step"] > 0]
    if design == "weekly":
        pd.DataFrame({"week": weeks["step"], "retention": weeks["cohort_retention"]}) \
            .to_csv(folder / "retention.csv", index=False)
        return ('[[observed]]\nfile = "retention.csv"\n[observed.columns.retention]\n'
                'output = "cohort_retention"\nlikelihood = "binomial"\ncustomers = 1000\n')
    yearly = weeks[weeks["step"] % 52 == 0]
    pd.DataFrame({"week": yearly["step"], "retention": yearly["cohort_retention"]}) \
        .to_csv(folder / "retention.csv", index=False)
    monthly = weeks[weeks["step"] % 4 == 0]
    pd.DataFrame({"week": monthly["step"], "contacts": monthly["contacts"]}) \
        .to_csv(folder / "contacts.csv", index=False)
    return ('[[observed]]\nfile = "retention.csv"\n[observed.columns.retention]\n'
            'output = "cohort_retention"\nlikelihood = "binomial"\ncustomers = 1000\n'
            '[[observed]]\nfile = "contacts.csv"\n[observed.columns.contacts]\n'
            f'output = "contacts"\nlikelihood = "normal"\nsd = {contacts_sd:.3f}\n')


def contacts_spread() -> float:
    """The standard deviation of one week's contacts over seeds at the truth, averaged over
    the weeks observed."""
    sc = load_scenario(BASELINE, SET + [f"{k}={v}" for k, v in TRUTH.items()])
    steps = simulate(sc, seeds=100, root_seed=999).steps
    monthly = steps[(steps["step"] > 0) & (steps["step"] % 4 == 0)]
    return float(monthly.groupby("step")["contacts"].std().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recoveries", type=int, default=20)
    parser.add_argument("--designs", default="weekly,yearly")
    parser.add_argument("--out", type=Path, default=None, help="CSV of every interval")
    args = parser.parse_args()
    sd = contacts_spread()
    rows = []
    started = time.perf_counter()
    for design in args.designs.split(","):
        for i in range(args.recoveries):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                observed = _observed(folder, design, i, sd)
                path = folder / "calibration.toml"
                path.write_text(f'scenario = "{BASELINE}"\nset = {json.dumps(SET)}\n{BUDGET}'
                                f"root_seed = 0\n{observed}{_parameters()}")
                manifest = run_calibration(load_calibration(path), folder / "out")
            post = manifest["posterior"]
            for name, iv in post["intervals"].items():
                rows.append({"design": design, "recovery": i, "parameter": name,
                             "truth": TRUTH[name], "low": iv["low"], "high": iv["high"],
                             "covered": iv["low"] <= TRUTH[name] <= iv["high"],
                             "width_share_of_prior": (iv["high"] - iv["low"])
                             / (iv["prior_high"] - iv["prior_low"]),
                             "ess": post["effective_sample_size"]})
            covered = sum(r["covered"] for r in rows[-len(TRUTH):])
            print(f"{design} {i}: covered {covered} of {len(TRUTH)}, effective sample size "
                  f"{post['effective_sample_size']:.0f}, {time.perf_counter() - started:.0f} s",
                  flush=True)
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)
    print(f"\ncontacts sd used by the yearly design: {sd:.2f}")
    summary = table.groupby(["design", "parameter"]).agg(
        coverage=("covered", "mean"), recoveries=("covered", "size"),
        width=("width_share_of_prior", "median"), ess=("ess", "median"))
    print(summary.to_string())
    for design, group in table.groupby("design"):
        print(f"{design}: {group['covered'].mean():.0%} of {len(group)} intervals cover the "
              "truth (target: at least 80%)")
    print(f"all: {table['covered'].mean():.0%} of {len(table)}; "
          f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
