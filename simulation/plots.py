"""Figures for people. Plot functions take results and a matplotlib ``ax``; they never run a model."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .results import Results, cumulative_profit, step_bands  # noqa: E402

BAND_LABEL = {"ci": "95% CI of the mean", "spread": "10–90% of seeds"}

#: per-step outputs a time panel can show, with their axis labels
PANELS = {
    "cohort_retention": "share of week-0 customers still active",
    "nps": "NPS (% promoters − % detractors)",
    "satisfaction": "mean satisfaction (0–1)",
    "trust": "mean trust (0–1)",
    "effort": "mean accumulated effort",
    "contacts": "desk contacts per week",
    "cumulative_profit": "cumulative profit (currency)",
}


def curves(res) -> tuple:
    """(per-step table with a ``variant`` column, variant labels in order) of run/compare
    results or of a study (whose points become the variants)."""
    if isinstance(res, Results):
        return res.steps, res.labels
    points = res.points.set_index("point")
    varied = [c for c in points.columns if c != "label"]
    names = points[varied[0]].astype(str) if len(varied) == 1 else points["label"]
    return res.steps.assign(variant=res.steps["point"].map(names)), list(names)


def _n_seeds(steps) -> int:
    return int(steps.groupby("variant")["seed"].nunique().min())


def plot_over_time(res, column: str, ax, kind: str = "ci") -> None:
    """Mean of ``column`` per week for each variant, with a band (CI or spread)."""
    steps, labels = curves(res)
    if column == "cumulative_profit":
        steps = steps.assign(cumulative_profit=cumulative_profit(steps))
    bands = step_bands(steps, column, kind)
    for label in labels:
        b = bands[bands["variant"] == label]
        line, = ax.step(b["step"], b["mean"], where="post", label=f"{label} (mean)")
        ax.fill_between(b["step"], b["low"], b["high"], step="post", alpha=0.25,
                        color=line.get_color(), label=f"{label}: {BAND_LABEL[kind]}")
    ax.set_xlabel("week")
    ax.set_ylabel(PANELS.get(column, column))
    ax.grid(alpha=0.3)
    if column == "cumulative_profit":
        _money_axis(ax)


def _money_axis(ax) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _short(value)))


def retention_figure(res, kind: str = "ci"):
    """Retention curves of the customers active at week 0, one per variant, with bands."""
    steps, labels = curves(res)
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    plot_over_time(res, "cohort_retention", ax, kind)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Retention of the customers active at week 0: {' vs '.join(labels)}\n"
                 f"({_n_seeds(steps)} seeds each; band = {BAND_LABEL[kind]})")
    ax.legend(fontsize=8, ncol=2, loc="lower left")
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.1, top=0.88)
    return fig


def _panel_columns(steps) -> list[str]:
    """The outcome panels the per-step table can fill."""
    return [c for c in ("nps", "satisfaction", "trust", "effort", "contacts", "cumulative_profit")
            if (c if c != "cumulative_profit" else "profit") in steps.columns]


def panels_figure(res, kind: str = "ci"):
    """NPS, satisfaction, trust, effort, contacts and cumulative profit over time (those of
    them the results keep)."""
    steps, labels = curves(res)
    columns = _panel_columns(steps)
    rows = (len(columns) + 2) // 3
    fig, axes = plt.subplots(rows, 3, figsize=(15, 4.25 * rows + 0.5), dpi=100, squeeze=False)
    for ax, column in zip(axes.flat, columns):
        plot_over_time(res, column, ax, kind)
        ax.set_title(PANELS[column].split(" (")[0])
    for ax in list(axes.flat)[len(columns):]:
        ax.set_visible(False)
    handles, legend_labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, legend_labels, loc="lower center", ncol=min(4, len(legend_labels)),
               fontsize=9)
    fig.suptitle(f"Customer outcomes over time: {' vs '.join(labels)} "
                 f"({_n_seeds(steps)} seeds each; band = {BAND_LABEL[kind]})")
    fig.tight_layout(rect=(0, 0.1 if rows > 1 else 0.18, 1, 0.96))
    return fig


def save(fig, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------ studies

def _point_means(runs, output: str):
    from .results import mean_interval

    rows = []
    for point, group in runs.groupby("point"):
        mean, low, high = mean_interval(group[output].to_numpy())
        rows.append((point, mean, low, high))
    return rows


def plot_frontier(points, runs, parameter: str, output: str, ax) -> None:
    """Output at the horizon against one numeric parameter, with 95% CIs, best point marked."""
    values = points.set_index("point")[parameter].astype(float)
    rows = _point_means(runs, output)
    x = np.array([values[p] for p, *_ in rows], dtype=float)
    mean, low, high = (np.array(column, dtype=float) for column in list(zip(*rows))[1:])
    low, high = mean - low, high - mean
    ax.errorbar(x, mean, yerr=[low, high], marker="o", capsize=3,
                label=f"mean, 95% CI ({runs['seed'].nunique()} seeds)")
    best = int(np.argmax(mean))
    ax.scatter([x[best]], [mean[best]], s=160, facecolors="none", edgecolors="red", zorder=5,
               label=f"best: {parameter} = {x[best]:g}")
    ax.set_xlabel(parameter + (" (0 = all reactive, 1 = all proactive)"
                               if parameter == "strategy.mix" else ""))
    ax.set_ylabel(AXIS.get(output, output))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if output in ("profit_total", "clv"):
        _money_axis(ax)


AXIS = {"cohort_retention": "share of week-0 customers active at the horizon",
        "profit_total": "cumulative profit over the horizon (currency)",
        "nps": "NPS at the horizon", "clv": "CLV per starting customer (currency)",
        "satisfaction": "mean satisfaction at the horizon (0–1)"}


def frontier_figure(res, parameter: str):
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), dpi=100)
    for ax, output in zip(axes, ("cohort_retention", "profit_total")):
        plot_frontier(res.points, res.runs, parameter, output, ax)
        ax.set_title(AXIS[output].split(" (")[0])
    horizon = int(res.steps["step"].max())
    name = "Reactive–proactive frontier" if parameter == "strategy.mix" else f"Effect of {parameter}"
    fig.suptitle(f"{name}: outcomes at week {horizon} at equal budget")
    fig.tight_layout()
    return fig


def heatmap_figure(res, parameters: list[str], output: str = "cohort_retention"):
    """Mean output at the horizon over a two-parameter grid."""
    means = res.runs.groupby("point")[output].mean()
    table = res.points.assign(value=res.points["point"].map(means))
    grid = table.pivot_table(index=parameters[0], columns=parameters[1], values="value")
    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    image = ax.imshow(grid.to_numpy(), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(grid.columns)), [f"{c}" for c in grid.columns])
    ax.set_yticks(range(len(grid.index)), [f"{i}" for i in grid.index])
    ax.set_xlabel(parameters[1])
    ax.set_ylabel(parameters[0])
    middle = np.nanmean([np.nanmin(grid.to_numpy()), np.nanmax(grid.to_numpy())])
    for (r, c), v in np.ndenumerate(grid.to_numpy()):  # dark text on the bright cells
        ax.text(c, r, _short(v), ha="center", va="center", fontsize=9,
                color="black" if v > middle else "white")
    fig.colorbar(image, ax=ax, label=AXIS.get(output, output))
    ax.set_title(f"{AXIS.get(output, output).split(' (')[0].capitalize()}\n"
                 f"by {parameters[0]} and {parameters[1]} "
                 f"(mean of {res.runs['seed'].nunique()} seeds per cell)")
    fig.tight_layout()
    return fig


def _short(value: float) -> str:
    """3260000 -> 3.26M; 0.7234 -> 0.723: cell labels that fit."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def study_figures(res):
    """The figures that suit a study's design: a frontier for one numeric parameter, a
    heatmap for a two-parameter grid."""
    varied = [c for c in res.points.columns if c not in ("point", "label")]
    numeric = [c for c in varied if _is_numeric(res.points[c])]
    figures = []
    if len(res.points) <= 6 and "cohort_retention" in res.steps.columns:
        figures.append(("retention", retention_figure(res)))
        if _panel_columns(res.steps):
            figures.append(("outcomes", panels_figure(res)))
    if len(varied) == 1 and numeric:
        figures.append(("frontier", frontier_figure(res, varied[0])))
    if len(varied) == 2 and res.manifest["study"]["design"]["kind"] == "grid":
        figures.append(("heatmap_retention", heatmap_figure(res, varied, "cohort_retention")))
        figures.append(("heatmap_profit", heatmap_figure(res, varied, "profit_total")))
    return figures


def _is_numeric(column) -> bool:
    import pandas as pd

    return pd.to_numeric(column, errors="coerce").notna().all()


def sensitivity_figure(table, kind: str):
    """Bar chart of sensitivity indices per output, with confidence intervals."""
    outputs = list(dict.fromkeys(table["output"]))
    fig, axes = plt.subplots(1, len(outputs), figsize=(5.5 * len(outputs), 4.8), dpi=100,
                             squeeze=False)
    for ax, output in zip(axes[0], outputs):
        t = table[table["output"] == output]
        y = np.arange(len(t))
        if kind == "sobol":
            ax.barh(y - 0.2, t["S1"], 0.4, xerr=t["S1_conf"], label="first order S1")
            ax.barh(y + 0.2, t["ST"], 0.4, xerr=t["ST_conf"], label="total ST")
            ax.set_xlabel("Sobol index (share of output variance), 95% CI")
        else:
            ax.barh(y, t["mu_star"], 0.6, xerr=t["mu_star_conf"], label="μ* (mean |effect|)")
            ax.set_xlabel("Morris μ* (output units per unit range), 95% CI")
        ax.set_yticks(y, t["parameter"])
        ax.set_title(AXIS.get(output, output).split(" (")[0])
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(f"Sensitivity of outcomes to the varied parameters ({kind})")
    fig.tight_layout()
    return fig
