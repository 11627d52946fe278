"""The reference runs: small scenarios x a few seeds whose per-week tables are stored.

Each case is the baseline scenario with a few overrides, chosen so that together they
reach every part of a week: A is a desk far too small for its failures under the reactive
strategy (capacity binds, customers wait and give up, staff burn out); B spends the full
default budget on the balanced strategy, so its proactive levers catch failures and check
in on customers; C spends nothing over 280 weeks, past week 256 where customer draws once
replayed each other's (see ``rng``), so that fix stays pinned. The quickest case comes
first: the mutation run (``make mutation``) stops at the first failure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simulation import layout as L
from simulation import load_scenario, simulate

HERE = Path(__file__).resolve().parent
BASELINE = HERE.parent.parent / "scenarios" / "baseline.toml"
ROOT_SEED = 11

#: name -> (overrides of the baseline, seeds)
CASES = {
    "reactive_overloaded": (["cohort=60", "horizon=52", "strategy.name=reactive",
                             "strategy.budget=60", "desk.base_capacity=2",
                             "touchpoints.*.failure_rate*=3", "acquisition.base_rate=1.5"],
                            [0, 1, 2]),
    "balanced_small": (["cohort=60", "horizon=52",
                        "acquisition.base_rate=1.5"], [0, 1, 2]),
    "none_past_week_256": (["cohort=20", "horizon=280", "strategy.name=none",
                            "acquisition.base_rate=0.25"], [0, 1]),
}


def path_of(case: str) -> Path:
    return HERE / f"{case}.csv"


def run_case(case: str, engine: str = "batch", seeds=None) -> pd.DataFrame:
    """The case's per-week table (of all its seeds, or of ``seeds``): seed, then every
    per-week output column."""
    overrides, all_seeds = CASES[case]
    steps = simulate(load_scenario(BASELINE, overrides), seeds=seeds or all_seeds,
                     root_seed=ROOT_SEED, engine=engine).steps
    return steps[["seed", *L.STEP_COLUMNS]].reset_index(drop=True)


def to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Lossless text: integers as they are, floats as ``float.hex`` (bit for bit)."""
    text = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column].to_numpy()
        text[column] = ([float(x).hex() for x in values] if values.dtype.kind == "f"
                        else values)
    return text


def read_reference(case: str) -> pd.DataFrame:
    """The stored table, floats restored exactly from their hex form."""
    text = pd.read_csv(path_of(case), dtype=str)
    frame = pd.DataFrame(index=text.index)
    for column in text.columns:
        values = text[column]
        frame[column] = (np.array([float.fromhex(x) for x in values])
                         if values.str.contains("0x").any() else values.astype(np.int64))
    return frame
