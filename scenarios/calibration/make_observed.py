"""Makes the example's observed data with cxsim itself, from known values, so that anyone can
see how close `make calibrate-example` comes to them (python make_observed.py).

The "company" is the baseline scenario with three values changed, its 2,000 customers
acquired at week 0 (a launch, as a cohort's data are); its history is one run (one seed of
root seed 2026, which the calibration's seeds never use):

    churn.base = -1.1                       (the baseline's -0.8)
    churn.trust = 3.5                       (2.5)
    touchpoints.*.failure_rate *= 1.5       (every touchpoint fails half as often again)

retention.csv: the share of the 2,000 starting customers still there, every week for three
years. contacts.csv: the desk contacts of one week in four.
"""

from pathlib import Path

import pandas as pd

from simulation import load_scenario, simulate

HERE = Path(__file__).resolve().parent
TRUTH = ["churn.base=-1.1", "churn.trust=3.5", "touchpoints.*.failure_rate*=1.5"]

if __name__ == "__main__":
    scenario = load_scenario(HERE.parent / "baseline.toml", ["start.mode=launch", *TRUTH])
    steps = simulate(scenario, seeds=[0], root_seed=2026).steps
    weeks = steps[steps["step"] > 0]
    pd.DataFrame({"week": weeks["step"], "retention": weeks["cohort_retention"]}) \
        .to_csv(HERE / "retention.csv", index=False)
    monthly = weeks[weeks["step"] % 4 == 0]
    pd.DataFrame({"week": monthly["step"], "contacts": monthly["contacts"]}) \
        .to_csv(HERE / "contacts.csv", index=False)
