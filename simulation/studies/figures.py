"""Figures of robust studies, for people: regret per policy, the win map, PRIM's box.

Each takes the tables a robust folder holds (or what discovery found) and returns a figure;
none runs a model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import plots  # (also selects the Agg backend before pyplot is imported)
from .discover import Discovery
from .metrics import best_policy, regret
from .robust_file import Objective

import matplotlib.pyplot as plt  # noqa: E402

#: outputs as titles name them, and with their unit as axes do
SHORT = {"cohort_retention": "retention", "profit_total": "total profit", "nps": "NPS",
         "clv": "CLV"}
UNITS = {"cohort_retention": "share of the customers active at week 0", "profit_total": "currency",
         "nps": "points", "clv": "currency per customer"}
MONEY = {"profit_total", "clv", "cost_total", "revenue", "cost", "profit"}


def _name(output: str) -> str:
    return SHORT.get(output, output.replace("_", " "))


def _axis(output: str) -> str:
    return f"{_name(output)} ({UNITS[output]})" if output in UNITS else _name(output)


def regret_figure(outcomes: pd.DataFrame, objective: Objective, policies: list[str]):
    """Per policy, the distribution over worlds of its regret: how much worse it does than
    the best policy of each world (0 where it is best)."""
    regrets = regret(outcomes, objective)
    fig, ax = plt.subplots(figsize=(8.5, 4.4), layout="constrained")
    data = [regrets[outcomes["policy"] == p].to_numpy() for p in policies]
    ax.boxplot(data, whis=(5, 95), showmeans=True, showfliers=False,
               tick_labels=policies,
               meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "k"})
    rng = np.random.default_rng(0)
    for i, values in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.18, 0.18, len(values)), values, s=6, alpha=0.35,
                   color="tab:blue", label="one world" if i == 1 else None)
    worse = "lower" if objective.sense == "max" else "higher"
    ax.set_ylabel(f"regret in {_axis(objective.output)}\n(best policy's mean − this one's)")
    ax.set_xlabel("policy")
    ax.set_title(f"How much each policy loses against the best one of each world "
                 f"({outcomes['world'].nunique()} worlds; {worse} {_name(objective.output)} is "
                 "worse)\nbox: 25–75% of worlds, line: median, whiskers: 5–95%, diamond: mean",
                 fontsize=10)
    if objective.output in MONEY:
        plots.money_axis(ax)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def win_map_figure(worlds: pd.DataFrame, outcomes: pd.DataFrame, objective: Objective,
                   x: str, y: str):
    """Every world placed by two uncertainties, coloured by the policy that is best there
    (grey: several policies statistically tied)."""
    best = best_policy(outcomes, objective)
    frame = worlds.set_index("world").loc[best.index]
    fig, ax = plt.subplots(figsize=(7, 5.8), layout="constrained")
    names = [p for p in dict.fromkeys(outcomes["policy"]) if (best == p).any()]
    colours = dict(zip(names, plt.get_cmap("tab10").colors))
    for name in names + (["tie"] if (best == "tie").any() else []):
        inside = best == name
        ax.scatter(frame.loc[inside, x], frame.loc[inside, y], s=22,
                   color=colours.get(name, "0.7"),
                   label=f"{name} best ({inside.sum()} worlds)" if name != "tie"
                   else f"tied within 95% intervals ({inside.sum()} worlds)")
    ax.set_xlabel(f"{x} (uncertainty)")
    ax.set_ylabel(f"{y} (uncertainty)")
    ax.set_title(f"Which policy keeps the best {_name(objective.output)} in each world\n"
                 "over the two uncertainties that decide it most", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    return fig


def discovery_figure(found: Discovery):
    """PRIM's trade-off (coverage against density along the peeling, the chosen box
    marked) and the chosen box's limits within each uncertainty's range."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 4.6), layout="constrained")
    t = found.trajectory
    if t is not None:
        points = left.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis", s=18)
        fig.colorbar(points, ax=left, label="uncertainties restricted")
        left.scatter([t.loc[found.chosen, "coverage"]], [t.loc[found.chosen, "density"]],
                     s=120, facecolors="none", edgecolors="red", label="box chosen")
        left.legend(fontsize=8, loc="lower left")
    left.set_xlabel("coverage (share of the worlds where it holds that are in the box)")
    left.set_ylabel("density (share of the box's worlds where it holds)")
    left.set_title("PRIM peeling: coverage against density", fontsize=10)
    left.set_xlim(0, 1.02)
    left.set_ylim(0, 1.02)
    rows = [r for r in found.box if "low" in r]
    for i, row in enumerate(rows):
        low, high = found.ranges[row["uncertainty"]]
        span = (high - low) or 1.0
        right.barh(i, 1.0, color="0.9", edgecolor="0.6")
        right.barh(i, (row["high"] - row["low"]) / span, left=(row["low"] - low) / span,
                   color="tab:red", alpha=0.7, label="box" if i == 0 else None)
        right.text(1.02, i,
                   f"{row['low']:.3g} – {row['high']:.3g}  (of {low:.3g} – {high:.3g})",
                   va="center", fontsize=8)
    right.set_yticks(range(len(rows)), [r["uncertainty"] for r in rows])
    right.set_xlim(0, 1.9)
    right.set_xticks([0, 0.5, 1], ["low end", "middle", "high end"])
    right.set_xlabel("position within the uncertainty's sampled range")
    right.set_title(f"The {found.method.upper()} box: coverage {found.coverage:.0%}, density "
                    f"{found.density:.0%}", fontsize=10)
    if rows:
        right.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Where {found.condition} (holds in {found.holds} of {found.worlds} worlds)",
                 fontsize=11)
    return fig
