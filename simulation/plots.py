"""Figures for people. Plot functions take results and a matplotlib ``ax``; they never run a model."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .results import Results, step_bands  # noqa: E402

BAND_LABEL = {"ci": "95% CI of the mean", "spread": "10–90% of seeds"}

#: per-step outputs a time panel can show, with their axis labels
PANELS = {
    "cohort_retention": "share of starting cohort still active",
    "nps": "NPS (% promoters − % detractors)",
    "satisfaction": "mean satisfaction (0–1)",
    "trust": "mean trust (0–1)",
    "effort": "mean accumulated effort",
    "contacts": "desk contacts per week",
    "cumulative_profit": "cumulative profit (currency)",
}


def _n_seeds(results: Results) -> int:
    return int(results.steps.groupby("variant")["seed"].nunique().min())


def plot_over_time(results: Results, column: str, ax, kind: str = "ci") -> None:
    """Mean of ``column`` per week for each variant, with a band (CI or spread)."""
    steps = results.steps
    if column == "cumulative_profit":
        steps = steps.assign(cumulative_profit=steps.groupby(["variant", "seed"])["profit"].cumsum())
    bands = step_bands(steps, column, kind)
    for label in results.labels:
        b = bands[bands["variant"] == label]
        line, = ax.step(b["step"], b["mean"], where="post", label=f"{label} (mean)")
        ax.fill_between(b["step"], b["low"], b["high"], step="post", alpha=0.25,
                        color=line.get_color(), label=f"{label}: {BAND_LABEL[kind]}")
    ax.set_xlabel("week")
    ax.set_ylabel(PANELS.get(column, column))
    ax.grid(alpha=0.3)


def retention_figure(results: Results, kind: str = "ci"):
    """Retention curves of the starting cohort, one per variant, with bands."""
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    plot_over_time(results, "cohort_retention", ax, kind)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Retention of the starting cohort: {' vs '.join(results.labels)}\n"
                 f"({_n_seeds(results)} seeds per strategy; band = {BAND_LABEL[kind]})")
    ax.legend(fontsize=8, ncol=2, loc="lower left")
    fig.tight_layout()
    return fig


def panels_figure(results: Results, kind: str = "ci"):
    """NPS, satisfaction, trust, effort, contacts and cumulative profit over time."""
    columns = ["nps", "satisfaction", "trust", "effort", "contacts", "cumulative_profit"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), dpi=100)
    for ax, column in zip(axes.flat, columns):
        plot_over_time(results, column, ax, kind)
        ax.set_title(PANELS[column].split(" (")[0])
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=9)
    fig.suptitle(f"Customer outcomes over time: {' vs '.join(results.labels)} "
                 f"({_n_seeds(results)} seeds; band = {BAND_LABEL[kind]})")
    fig.tight_layout(rect=(0, 0.08, 1, 0.96))
    return fig


def save(fig, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
