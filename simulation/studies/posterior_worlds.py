"""Posterior draws as worlds: strategies compared where the calibrated parameters are
uncertain, so a difference carries the data's uncertainty as well as the seeds'.

Each world is one posterior draw (picked by systematic resampling of the weights); every
strategy runs in every world for the same seeds. Per world, the seeds give the mean and its
confidence interval (the randomness of the simulated customers); across worlds, the spread
of those means is what the data leave uncertain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ..results import _t_quantile
from ..scenario import Scenario
from ..store import MANIFEST, ResultsError, read_calibration_folder
from ..study import apply_point
from .calibrate import resample
from .calibration_file import FittedParameter

_WORLDS_KEY = 4
#: the central share of worlds the data's interval covers
DATA_LEVEL = 0.9
#: the level of the seeds' confidence interval within a world
SEED_LEVEL = 0.95


def posterior_worlds(folder: Path, count: int, root_seed: int = 0) -> tuple[list[dict], list]:
    """``count`` posterior draws of a calibration folder (resampled by weight), and the
    fitted parameters they set."""
    posterior, params, _ = read_posterior(folder)
    return resampled(posterior, params, count, root_seed), params


def read_posterior(folder: Path) -> tuple[pd.DataFrame, list[FittedParameter], str]:
    """A calibration folder's posterior table (checked against its manifest), the fitted
    parameters it has a column of each, and the table's sha256 (what identifies the
    posterior, wherever the folder is); ResultsError naming the file if any is amiss."""
    manifest, tables = read_calibration_folder(folder)
    posterior = tables["posterior"]
    try:
        params = [FittedParameter.model_validate(p)
                  for p in manifest["calibration"]["parameters"]]
    except (KeyError, TypeError, ValidationError):
        params = []
    if not params or any(p.path not in posterior.columns for p in params):
        raise ResultsError(f"{Path(folder) / MANIFEST}: calibration.parameters: not the "
                           "posterior table's fitted paths; a damaged or foreign manifest")
    return posterior, params, manifest["files"]["posterior.parquet"]["sha256"]


def resampled(posterior: pd.DataFrame, params, count: int, root_seed: int) -> list[dict]:
    """``count`` rows of the posterior picked by systematic resampling of the weights (a
    draw of weight w is picked about ``w * count`` times), as {fitted path: value}."""
    rng = np.random.default_rng(np.random.SeedSequence(root_seed, spawn_key=(_WORLDS_KEY,)))
    copies = resample(posterior["weight"].to_numpy(), count, rng)
    rows = np.repeat(np.arange(len(posterior)), copies)
    return [{p.path: float(posterior[p.path].iloc[r]) for p in params} for r in rows]


def world_variants(scenario: Scenario, strategies: list[str], worlds: list[dict], params,
                   source: str) -> tuple[list[Scenario], list[str]]:
    """Every strategy in every world, labelled ``strategy @ world i``."""
    variants, labels = [], []
    for i, world in enumerate(worlds):
        placed = apply_point(scenario, params, world, source)
        for name in strategies:
            variants.append(placed.with_strategy(name, source="--strategies"))
            labels.append(f"{name} @ world {i}")
    return variants, labels


def compare_in_worlds(runs: pd.DataFrame, strategies: list[str], n_worlds: int,
                      outputs) -> pd.DataFrame:
    """Per strategy and output: the mean over worlds, the data's 90% interval (of the
    world means), the seeds' 95% CI half-width (the average within a world); for strategies
    after the first, the same of the paired difference to it, and in how many worlds it is
    above."""
    tail = (1 - DATA_LEVEL) / 2
    rows = []
    for name in strategies:
        for output in outputs:
            means, halves, diffs, diff_halves = [], [], [], []
            for i in range(n_worlds):
                mine = runs[runs["variant"] == f"{name} @ world {i}"].set_index("seed")[output]
                means.append(mine.mean())
                halves.append(_half(mine.to_numpy()))
                if name != strategies[0]:
                    ref = runs[runs["variant"] == f"{strategies[0]} @ world {i}"] \
                        .set_index("seed")[output]
                    d = (mine - ref.reindex(mine.index)).to_numpy()
                    diffs.append(d.mean())
                    diff_halves.append(_half(d))
            row = {"strategy": name, "output": output, "mean": float(np.mean(means)),
                   "data_low": float(np.quantile(means, tail)),
                   "data_high": float(np.quantile(means, 1 - tail)),
                   "seeds_half_width": float(np.mean(halves))}
            if diffs:
                row |= {"diff": float(np.mean(diffs)),
                        "diff_data_low": float(np.quantile(diffs, tail)),
                        "diff_data_high": float(np.quantile(diffs, 1 - tail)),
                        "diff_seeds_half_width": float(np.mean(diff_halves)),
                        "worlds_above": int(np.sum(np.array(diffs) > 0))}
            rows.append(row)
    return pd.DataFrame(rows)


def _half(values: np.ndarray) -> float:
    if len(values) < 2:
        return 0.0
    return float(_t_quantile(SEED_LEVEL, len(values) - 1) * values.std(ddof=1)
                 / np.sqrt(len(values)))
