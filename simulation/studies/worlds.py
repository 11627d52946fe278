"""Worlds: points of the uncertainty space, sampled by Latin hypercube or Sobol (scipy).

A sample is a pure function of the design (kind, number of worlds, seed), so the same file
gives the same worlds on any machine.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def unit_sample(kind: str, n: int, dimensions: int, seed: int) -> np.ndarray:
    """``n`` points in the unit hypercube: a Latin hypercube (every uncertainty's range cut
    into ``n`` strata, one world in each) or a scrambled Sobol sequence (most even in all
    dimensions together when ``n`` is a power of two)."""
    from scipy.stats import qmc

    if kind == "lhs":
        return qmc.LatinHypercube(d=dimensions, rng=seed).random(n)
    if kind == "sobol":
        with warnings.catch_warnings():  # n need not be a power of two here
            warnings.filterwarnings("ignore", message=".*balance properties.*")
            return qmc.Sobol(d=dimensions, scramble=True, rng=seed).random(n)
    raise ValueError(f"unknown design kind {kind!r} (lhs or sobol)")


def sample_worlds(uncertainties, kind: str, n: int, seed: int) -> pd.DataFrame:
    """One row per world: ``world`` (0..n-1) and one column per uncertainty, by its name,
    holding the value that world gives it (``uncertainty.value(u)``)."""
    frame = pd.DataFrame({"world": np.arange(n, dtype=np.int64)})
    if not uncertainties:  # worlds that are posterior draws alone
        return frame
    u = unit_sample(kind, n, len(uncertainties), seed)
    for j, uncertainty in enumerate(uncertainties):
        frame[uncertainty.name] = [uncertainty.value(float(x)) for x in u[:, j]]
    return frame
