"""The posterior predictive: the observed outputs projected forward from posterior draws.

The draws picked by systematic resampling of the posterior (``copies`` of each) are each run
to the forecast's horizon for the calibration's seeds. Every run is one possible history of
the company, so the pooled runs (a draw counted as often as it was picked) give the
predictive mean and its 90% band: the data's uncertainty about the parameters and the
randomness of one company's customers together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calibration_file import SURVIVAL_OUTPUTS
from .observed import Series

#: the band of the forecast: central 90% of the pooled runs
BAND = (0.05, 0.95)


def reported_output(s: Series) -> str:
    """The output a series is shown as: a cohort's survivors as the retention share."""
    return "cohort_retention" if s.column.likelihood != "normal" \
        and s.output in SURVIVAL_OUTPUTS else s.output


def observed_values(s: Series) -> np.ndarray:
    """A series' observations in the units of ``reported_output``."""
    if reported_output(s) == "cohort_retention" and s.output == "cohort_active":
        return s.values / s.column.customers
    return s.values


def pooled(curves: dict[int, dict[str, np.ndarray]], copies: np.ndarray) -> dict[str, np.ndarray]:
    """Every run of every picked draw, a draw repeated as often as it was picked:
    (runs, weeks+1) per output."""
    picked = sorted(curves)
    outputs = curves[picked[0]]
    return {o: np.concatenate([np.repeat(curves[j][o], copies[j], axis=0) for j in picked])
            for o in outputs}


def band_of(runs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and the BAND quantiles over runs, per week."""
    low, high = np.quantile(runs, BAND, axis=0)
    return runs.mean(axis=0), low, high


def forecast_table(series: list[Series], predictive: dict[str, np.ndarray],
                   before: dict[str, np.ndarray], fitted_until: int | None) -> pd.DataFrame:
    """One row per observed series and week 0..horizon: the predictive mean and band, the
    base scenario's ("before") mean and band over seeds, the observation where there is one
    and whether the fit used it."""
    frames = []
    for s in series:
        output = reported_output(s)
        mean, low, high = band_of(predictive[output])
        b_mean, b_low, b_high = band_of(before[output])
        weeks = np.arange(len(mean))
        observed = np.full(len(weeks), np.nan)
        observed[s.weeks] = observed_values(s)
        fitted = np.zeros(len(weeks), bool)
        fitted[s.weeks] = True if fitted_until is None else s.weeks <= fitted_until
        frames.append(pd.DataFrame({
            "series": s.name, "output": output, "week": weeks, "mean": mean, "low": low,
            "high": high, "observed": observed, "fitted": fitted, "before_mean": b_mean,
            "before_low": b_low, "before_high": b_high}))
    return pd.concat(frames, ignore_index=True)


def holdout_errors(table: pd.DataFrame, after: int) -> list[dict]:
    """Per series: the error of the predictive mean on the observations after ``after``
    (not used by the fit), and the share of them inside the 90% band."""
    out = []
    held = table[(table["week"] > after) & table["observed"].notna()]
    for name, rows in held.groupby("series", sort=False):
        error = rows["mean"] - rows["observed"]
        before = rows["before_mean"] - rows["observed"]
        inside = (rows["observed"] >= rows["low"]) & (rows["observed"] <= rows["high"])
        out.append({"series": name, "output": rows["output"].iloc[0],
                    "observations": int(len(rows)),
                    "mean_abs_error": float(error.abs().mean()),
                    "rmse": float(np.sqrt((error ** 2).mean())),
                    "inside_band": float(inside.mean()),
                    "before_mean_abs_error": float(before.abs().mean())})
    return out
