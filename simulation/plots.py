"""Figures for people. Plot functions take results and a matplotlib ``ax``; they never run a model."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from . import layout as L  # noqa: E402
from .results import (OUTPUT_RANGE, Results, cumulative_profit, mean_interval,  # noqa: E402
                      step_bands)

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
    "trigger_share": "runs with a trigger active (share of seeds)",
}


def curves(res) -> tuple:
    """(per-step table with a ``variant`` column, variant labels in order) of run/compare
    results or of a study (whose points become the variants)."""
    if isinstance(res, Results):
        return res.steps, res.labels
    points = res.points.set_index("point")
    varied = [c for c in points.columns if c != "label"]
    names = res.point_labels()
    if len(varied) == 1:  # the value alone; the reference point keeps its label
        names = points[varied[0]].astype(str).reindex(names.index).fillna(names)
    return res.steps.assign(variant=res.steps["point"].map(names)), list(names)


def _n_seeds(steps) -> int:
    return int(steps.groupby("variant")["seed"].nunique().min())


def plot_over_time(res, column: str, ax, kind: str = "ci") -> bool:
    """Mean of ``column`` per week for each variant, with a band (CI or spread). Returns
    whether any band is wide enough to be seen (a hundredth of the y axis as it stands)."""
    steps, labels = curves(res)
    if column == "cumulative_profit":
        steps = steps.assign(cumulative_profit=cumulative_profit(steps))
    if column == "trigger_share":
        steps = steps.assign(trigger_share=(steps["triggers"] > 0).astype(float))
    if column in L.WEEKLY_FLOW_COLUMNS or column == "trigger_share":
        steps = steps[steps["step"] > 0]  # row 0 is the start: no week's flows to draw
    bands = step_bands(steps, column, kind)
    widest = 0.0
    for label in labels:
        b = bands[bands["variant"] == label]
        line, = ax.step(b["step"], b["mean"], where="post", label=f"{label} (mean)")
        ax.fill_between(b["step"], b["low"], b["high"], step="post", alpha=0.25,
                        color=line.get_color())
        widest = max(widest, float((b["high"] - b["low"]).max()))
        _mark_phase_switches(ax, steps[steps["variant"] == label], label, line.get_color())
    ax.set_xlabel("week")
    ax.set_ylabel(PANELS.get(column, column))
    ax.grid(alpha=0.3)
    if column == "cumulative_profit":
        money_axis(ax)
    low, high = ax.get_ylim()
    return widest > 0.01 * (high - low)


def _mark_phase_switches(ax, steps, label: str, color) -> None:
    """A dotted vertical line at each week a variant's strategy enters a new phase (the
    phases are the same in every seed)."""
    if "phase" not in steps.columns or steps.empty:
        return
    one = steps[steps["seed"] == steps["seed"].iloc[0]].sort_values("step")
    phase = one["phase"].to_numpy()
    weeks = one["step"].to_numpy()[np.flatnonzero(phase[1:] != phase[:-1]) + 1]
    for k, week in enumerate(weeks):
        ax.axvline(week, color=color, linestyle=":", linewidth=1.2,
                   label=f"{label}: new phase" if k == 0 else None)


def _legend_entries(ax, band_visible: bool, kind: str):
    """The lines of ``ax``, and one entry for the shading only when a band can be seen."""
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    if band_visible:
        handles.append(Patch(color="grey", alpha=0.25))
        labels.append(f"shaded: {BAND_LABEL[kind]}")
    return handles, labels


def _band_words(band_visible: bool, kind: str) -> str:
    return (f"band = {BAND_LABEL[kind]}" if band_visible
            else f"{BAND_LABEL[kind]} narrower than the lines")


def money_axis(ax, axis: str = "y") -> None:
    """Ticks as 3.26M, 120k: no offset text (``1e6``) to collide with the axis label."""
    from matplotlib.ticker import FuncFormatter

    getattr(ax, f"{axis}axis").set_major_formatter(FuncFormatter(lambda value, _: _short(value)))


def retention_figure(res, kind: str = "ci"):
    """Retention curves of the customers active at week 0, one per variant, with bands."""
    steps, labels = curves(res)
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    ax.set_ylim(0, 1.02)
    visible = plot_over_time(res, "cohort_retention", ax, kind)
    ax.set_title(_wrapped(f"Retention of the customers active at week 0: {' vs '.join(labels)}")
                 + f"\n({_n_seeds(steps)} seeds each; {_band_words(visible, kind)})")
    ax.legend(*_legend_entries(ax, visible, kind), fontsize=8, ncol=2, loc="lower left")
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.1, top=0.88)
    return fig


def _wrapped(title: str, width: int = 95) -> str:
    """A long title (many variants) on several lines instead of cut at the figure's edge."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width))


def _panel_columns(steps) -> list[str]:
    """The outcome panels the per-step table can fill."""
    columns = [c for c in ("nps", "satisfaction", "trust", "effort", "contacts",
                           "cumulative_profit")
               if (c if c != "cumulative_profit" else "profit") in steps.columns]
    if "triggers" in steps.columns and (steps["triggers"] > 0).any():
        columns.append("trigger_share")
    return columns


def panels_figure(res, kind: str = "ci"):
    """NPS, satisfaction, trust, effort, contacts and cumulative profit over time (those of
    them the results keep)."""
    steps, labels = curves(res)
    columns = _panel_columns(steps)
    rows = (len(columns) + 2) // 3
    fig, axes = plt.subplots(rows, 3, figsize=(15, 4.25 * rows + 0.5), dpi=100, squeeze=False)
    visible = False
    for ax, column in zip(axes.flat, columns):
        visible |= plot_over_time(res, column, ax, kind)
        ax.set_title(PANELS[column].split(" (")[0])
    for ax in list(axes.flat)[len(columns):]:
        ax.set_visible(False)
    handles, legend_labels = _legend_entries(axes.flat[0], visible, kind)
    fig.legend(handles, legend_labels, loc="lower center", ncol=min(4, len(legend_labels)),
               fontsize=9)
    fig.suptitle(_wrapped(f"Customer outcomes over time: {' vs '.join(labels)} "
                          f"({_n_seeds(steps)} seeds each; {_band_words(visible, kind)})", 150))
    fig.tight_layout(rect=(0, 0.1 if rows > 1 else 0.18, 1, 0.96))
    return fig


def save(fig, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------ studies

def plot_frontier(points, runs, parameter: str, output: str, ax, reference=None) -> None:
    """Output at the horizon against one numeric parameter, with 95% CIs, best point marked
    (and said to lie at the edge of the range studied when it does); the study's reference
    strategy (``reference``: its row of point index and label), when given, is a horizontal
    line with its interval."""
    rows = [(p, *mean_interval(g[output].to_numpy(), bounds=OUTPUT_RANGE.get(output)))
            for p, g in runs[runs["point"].isin(points["point"])].groupby("point")]
    values = points.set_index("point")[parameter].astype(float)
    x = np.array([values[p] for p, *_ in rows], dtype=float)
    mean, low, high = (np.array(column, dtype=float) for column in list(zip(*rows))[1:])
    n_seeds = runs["seed"].nunique()
    ax.errorbar(x, mean, yerr=[mean - low, high - mean], marker="o", capsize=3,
                label=f"mean, 95% CI ({n_seeds} seeds)")
    if reference is not None:
        ref = runs[runs["point"] == reference["point"]][output].to_numpy()
        r_mean, r_low, r_high = mean_interval(ref, bounds=OUTPUT_RANGE.get(output))
        ax.axhline(r_mean, color="black", linestyle="--", linewidth=1,
                   label=f"{reference['label']}: mean, 95% CI band")
        ax.axhspan(r_low, r_high, color="black", alpha=0.12)
    best = int(np.argmax(mean))
    ax.scatter([x[best]], [mean[best]], s=160, facecolors="none", edgecolors="red", zorder=5,
               label=f"best {parameter} studied: {x[best]:g}" + _edge_note(x, best, parameter))
    ax.set_xlabel(parameter + (" (0 = all reactive, 1 = all proactive)"
                               if parameter == "strategy.mix" else ""))
    ax.set_ylabel(AXIS.get(output, output))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if output in ("profit_total", "clv"):
        money_axis(ax)


def _edge_note(x: np.ndarray, best: int, parameter: str) -> str:
    """Said of a best point at an end of the values studied."""
    if len(x) < 2 or x[best] not in (x.min(), x.max()):
        return ""
    if parameter == "strategy.mix":
        return " (an end of the possible range)"
    return " (edge of the range studied: the best may lie beyond)"


AXIS = {"cohort_retention": "share of week-0 customers active at the horizon",
        "profit_total": "cumulative profit over the horizon (currency)",
        "nps": "NPS at the horizon", "clv": "CLV per starting customer (currency)",
        "satisfaction": "mean satisfaction at the horizon (0–1)"}


def frontier_figure(res, parameter: str):
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), dpi=100)
    for ax, output in zip(axes, ("cohort_retention", "profit_total")):
        plot_frontier(res.points, res.runs, parameter, output, ax, res.reference)
        ax.set_title(AXIS[output].split(" (")[0])
    horizon = int(res.steps["step"].max())
    name = "Reactive–proactive frontier" if parameter == "strategy.mix" else f"Effect of {parameter}"
    budget = "" if parameter == "strategy.budget" else " at equal budget"
    fig.suptitle(f"{name}: outcomes at week {horizon}{budget}")
    fig.tight_layout()
    return fig


#: parameters that choose the strategy: a heatmap over one of them shows its effect
STRATEGY_PATHS = ("strategy.mix", "strategy.name")


def heatmap_figure(res, parameters: list[str], output: str = "cohort_retention"):
    """Mean output at the horizon over a two-parameter grid.

    When one parameter chooses the strategy, the cells are coloured by the strategy's effect:
    the paired difference to the first strategy value in the same row (so the colour shows
    which strategy wins for each value of the other parameter, not how that parameter shifts
    every strategy); each cell prints the mean and the difference, the best in a row is boxed.
    """
    strategy = [p for p in parameters if p in STRATEGY_PATHS]
    rows_by, columns_by = parameters
    if strategy and strategy[0] != columns_by:
        rows_by, columns_by = columns_by, rows_by
    means = res.runs.groupby("point")[output].mean()
    table = res.points.assign(value=res.points["point"].map(means))
    grid = table.pivot_table(index=rows_by, columns=columns_by, values="value", sort=False)
    values = grid.to_numpy()
    fig, ax = plt.subplots(figsize=(9, 6), dpi=100)
    name = AXIS.get(output, output)
    n_seeds = res.runs["seed"].nunique()
    if strategy:
        first = grid.columns[0]
        effect = values - values[:, :1]
        limit = np.nanmax(np.abs(effect)) or 1.0
        image = ax.imshow(effect, origin="lower", aspect="auto", cmap="RdBu",
                          vmin=-limit, vmax=limit)
        for (r, c), v in np.ndenumerate(values):
            text = _short(v) if c == 0 else f"{_short(v)}\n({_signed_short(effect[r, c])})"
            ax.text(c, r, text, ha="center", va="center", fontsize=8,
                    color="white" if abs(effect[r, c]) > 0.6 * limit else "black")
        for r, best in enumerate(np.nanargmax(values, axis=1)):
            ax.add_patch(plt.Rectangle((best - 0.5, r - 0.5), 1, 1, fill=False,
                                       edgecolor="black", linewidth=2))
        fig.colorbar(image, ax=ax, label=f"difference to {columns_by} = {first} in the same "
                                         f"row\n({name.split(' (')[0]})")
        ax.set_title(f"Effect of {columns_by} on {name.split(' (')[0]}, by {rows_by}\n"
                     f"colour: difference to {columns_by} = {first} (mean of {n_seeds} paired "
                     f"seeds per cell); box: the best in each row")
    else:
        image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis")
        middle = np.nanmean([np.nanmin(values), np.nanmax(values)])
        for (r, c), v in np.ndenumerate(values):  # dark text on the bright cells
            ax.text(c, r, _short(v), ha="center", va="center", fontsize=9,
                    color="black" if v > middle else "white")
        fig.colorbar(image, ax=ax, label=name)
        ax.set_title(f"{name.split(' (')[0].capitalize()}\n"
                     f"by {rows_by} and {columns_by} (mean of {n_seeds} seeds per cell)")
    ax.set_xticks(range(len(grid.columns)), [f"{c}" for c in grid.columns])
    ax.set_yticks(range(len(grid.index)), [f"{i}" for i in grid.index])
    ax.set_xlabel(columns_by)
    ax.set_ylabel(rows_by)
    fig.tight_layout()
    return fig


def _signed_short(value: float) -> str:
    return ("+" if value > 0 else "") + _short(value)


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
    if len(res.point_labels()) <= 6 and "cohort_retention" in res.steps.columns:
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
            money_axis(ax, "x")
        doubtful = t["warning"].astype(bool).to_numpy() if "warning" in t else np.zeros(len(t))
        ax.set_yticks(y, [f"{name} (!)" if flag else name
                          for name, flag in zip(t["parameter"], doubtful)])
        ax.set_title(AXIS.get(output, output).split(" (")[0])
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    title = f"Sensitivity of outcomes to the varied parameters ({kind})"
    if "warning" in table and table["warning"].astype(bool).any():
        title += "\n(!) sample too small to trust this index: " + \
                 "; ".join(sorted(set(w for w in table["warning"] if w)))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def allocation_figure(summary: dict):
    """The optimiser's winning split of the budget beside the named strategies' (one bar
    group per lever; a phased winner shows each phase)."""
    from .scenario import LEVERS

    strategy = summary["winner"]["strategy"]
    phases = strategy.get("phases") or [strategy]
    bars = {(f"optimised, from week {p['start']}" if len(phases) > 1 else "optimised"):
            p["allocation"] for p in phases}
    bars |= {name: shares for name, shares in summary["named_allocations"].items()
             if sum(shares.values()) > 0}
    fig, ax = plt.subplots(figsize=(10, 4.5), constrained_layout=True)
    width = 0.8 / len(bars)
    x = np.arange(len(LEVERS))
    for k, (label, shares) in enumerate(bars.items()):
        ax.bar(x + (k - (len(bars) - 1) / 2) * width, [shares.get(lever, 0.0) for lever in LEVERS],
               width, label=label, hatch="//" if label.startswith("optimised") else None)
    ax.set_xticks(x, [lever.replace("_", " ") for lever in LEVERS], rotation=30, ha="right")
    ax.set_ylabel("share of the weekly budget")
    ax.set_title(f"The optimiser's split of the budget ({summary['goal']['kind']}) "
                 "beside the named strategies")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
