"""Shared fixtures: paths, a small scenario, and helpers to compare result tables."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation import layout as L
from simulation import load_scenario
from simulation.compiled import compile_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"
CXSIM = str(Path(sys.executable).parent / "cxsim")

#: per-step columns that are about customers (not the company's spending)
CUSTOMER_COLUMNS = [c for c in L.STEP_COLUMNS if c not in ("cost", "profit", "spend")]
FLOAT_COLUMNS = [c for c in L.STEP_COLUMNS if c not in L.INTEGER_COLUMNS]


@pytest.fixture(scope="session")
def baseline():
    """The bundled baseline scenario, as shipped."""
    return load_scenario(BASELINE)


@pytest.fixture(scope="session")
def small():
    """The baseline at a size that runs in a blink: 300 customers, 80 weeks after a
    26-week burn-in."""
    return load_scenario(BASELINE, ["cohort=300", "horizon=80", "start.burn_in_weeks=26"])


@pytest.fixture(scope="session")
def par(baseline):
    """The baseline's scalar parameter vector, as the jitted rules read it."""
    return compile_scenario(baseline).par


@pytest.fixture(scope="session")
def lever_table(baseline):
    """The baseline's (N_LV, N_LEVERS) lever table."""
    return compile_scenario(baseline).levers


def by_run(steps: pd.DataFrame) -> pd.DataFrame:
    """A steps table in (seed, step) order without the variant label, for comparing arms."""
    return steps.drop(columns=["variant"]).sort_values(["seed", "step"]).reset_index(drop=True)


def assert_frames_identical(a: pd.DataFrame, b: pd.DataFrame, columns) -> None:
    """Exactly equal values (bit for bit) in ``columns``."""
    for column in columns:
        x, y = a[column].to_numpy(), b[column].to_numpy()
        assert x.shape == y.shape, column
        mismatch = np.flatnonzero(x != y)
        assert mismatch.size == 0, (f"{column} differs at {mismatch.size} rows, first at row "
                                    f"{mismatch[0]}: {x[mismatch[0]]!r} vs {y[mismatch[0]]!r}")
