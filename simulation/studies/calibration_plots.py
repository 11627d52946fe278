"""Figures of a calibration: the fit before and after, the posterior's parameter pairs, the
search's history. Each takes the tables of a calibration folder; none runs a model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..plots import PANELS, plt


def _axis_label(output: str) -> str:
    return PANELS.get(output, output.replace("_", " "))


def fit_figure(forecast: pd.DataFrame, manifest: dict):
    """Per observed series: the observations against the base scenario's band (before) and
    the posterior predictive band (after), by week."""
    names = list(dict.fromkeys(forecast["series"]))
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 3.6 * len(names)), dpi=110,
                             squeeze=False)
    seeds = manifest["calibration"]["seeds"]
    holdout = manifest.get("holdout_after")
    for ax, name in zip(axes[:, 0], names):
        rows = forecast[forecast["series"] == name]
        week = rows["week"]
        ax.fill_between(week, rows["before_low"], rows["before_high"], color="0.6", alpha=0.3,
                        label=f"before: base scenario, 5–95% of {seeds} seeds")
        ax.plot(week, rows["before_mean"], color="0.4", lw=1, ls="--",
                label="before: mean over seeds")
        ax.fill_between(week, rows["low"], rows["high"], color="tab:blue", alpha=0.25,
                        label="after: posterior predictive 90% band")
        ax.plot(week, rows["mean"], color="tab:blue", lw=1.5, label="after: predictive mean")
        seen = rows[rows["observed"].notna()]
        used, held = seen[seen["fitted"]], seen[~seen["fitted"]]
        ax.plot(used["week"], used["observed"], "o", ms=3, color="black",
                label="observed (fitted)")
        if len(held):
            ax.plot(held["week"], held["observed"], "o", ms=3, mfc="none", color="tab:red",
                    label="observed (held out)")
        if holdout is not None:
            ax.axvline(holdout, color="tab:red", lw=0.8, ls=":",
                       label=f"fitted up to week {holdout}")
        ax.set_xlabel("week")
        ax.set_ylabel(_axis_label(rows["output"].iloc[0]))
        ax.set_title(f"{name}: observed against the model before and after calibration",
                     fontsize=10)
        ax.legend(fontsize=7, loc="best", framealpha=0.6)
    fig.tight_layout()
    return fig


def pairs_figure(posterior: pd.DataFrame, manifest: dict):
    """The posterior draws of every pair of fitted parameters (dot area ∝ weight), each
    parameter's weighted histogram on the diagonal with its 90% credible interval."""
    intervals = manifest["posterior"]["intervals"]
    paths = list(intervals)
    d = len(paths)
    size = max(3.0, 9.0 / d)
    fig, axes = plt.subplots(d, d, figsize=(size * d, size * d), dpi=100, squeeze=False)
    w = posterior["weight"].to_numpy()
    area = 300 * w / w.max()
    for i, yi in enumerate(paths):
        for j, xj in enumerate(paths):
            ax = axes[i, j]
            if i == j:
                ax.hist(posterior[xj], bins=20, weights=w, color="tab:blue", alpha=0.6)
                iv = intervals[xj]
                ax.axvspan(iv["low"], iv["high"], color="tab:orange", alpha=0.2,
                           label="90% credible interval")
                ax.set_ylabel("posterior weight")
                ax.legend(fontsize=7)
            elif i > j:
                ax.scatter(posterior[xj], posterior[yi], s=area, alpha=0.5, color="tab:blue")
                ax.set_ylabel(yi)
            else:
                ax.axis("off")
                continue
            ax.set_xlabel(xj)
            ranges = {p["path"]: (p["low"], p["high"])
                      for p in manifest["calibration"]["parameters"]}
            ax.set_xlim(*ranges[xj])
            if i > j:
                ax.set_ylim(*ranges[yi])
    ess = manifest["posterior"]["effective_sample_size"]
    fig.suptitle(f"Posterior draws over the prior ranges ({len(posterior)} draws, "
                 f"effective sample size {ess:.0f}; dot area ∝ weight)")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


def search_figure(trials: pd.DataFrame):
    """Log-likelihood of every search trial, the best so far, and the posterior draws."""
    fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
    search = trials[trials["phase"] == "search"]
    draws = trials[trials["phase"] == "posterior"]
    order = np.arange(len(search))
    ax.plot(order, search["loglik"], "o", ms=3, color="tab:blue", label="search trial")
    ax.plot(order, np.maximum.accumulate(search["loglik"].to_numpy()), color="tab:blue",
            label="best so far")
    ax.plot(len(search) + np.arange(len(draws)), draws["loglik"], "o", ms=3,
            color="tab:orange", label="posterior draw")
    finite = trials["loglik"][np.isfinite(trials["loglik"])]
    if len(finite):  # the worst trials would flatten the interesting part
        ax.set_ylim(max(finite.min(), finite.quantile(0.1) - 3 * finite.std()),
                    finite.max() + 0.05 * (abs(finite.max()) + 1))
    ax.set_xlabel("evaluation (search trials, then posterior draws)")
    ax.set_ylabel("log-likelihood of the observations")
    ax.set_title("Search history: how well each evaluated point fits the data")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def calibration_figures(tables: dict, manifest: dict):
    """(name, figure) of every figure of a calibration folder."""
    return [("fit", fit_figure(tables["forecast"], manifest)),
            ("parameters", pairs_figure(tables["posterior"], manifest)),
            ("search", search_figure(tables["trials"]))]
