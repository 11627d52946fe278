"""What a robust folder says: the robustness table in lines, and its figures written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..numbers import number
from .discover import Discovery, uncertainty_table, uncertainty_scores
from .metrics import best_policy, robustness
from .robust_file import RobustStudy


def _share(x: float) -> str:
    return "-" if pd.isna(x) else f"{x:.0%}"


def _worlds_spread(study: RobustStudy) -> str:
    """What makes the worlds differ: the data (posterior draws), the assumptions
    (uncertainties), or both."""
    data = ["the data's uncertainty (posterior draws)"] if study.design.posterior else []
    return " and ".join(data + (["the assumptions"] if study.uncertainties else []))


def robustness_lines(outcomes: pd.DataFrame, study: RobustStudy) -> list[str]:
    """Per objective, one line per policy: mean and 5-95% over worlds (the spread of the
    data's uncertainty or the assumptions), the mean 95% half-width over seeds (the
    simulation's), regret, best share, satisficing."""
    table = robustness(outcomes, study.objectives)
    worlds = outcomes["world"].nunique()
    seeds = outcomes["seeds"]
    lines = [f"{worlds} worlds x {outcomes['policy'].nunique()} policies, "
             f"{seeds.min()}{'' if seeds.min() == seeds.max() else f' to {seeds.max()}'} "
             "seeds per world (the same seeds for every policy)"]
    if study.design.posterior:
        lines.append(f"each world is a draw of the posterior of {study.design.posterior} "
                     "(what the observed data leave uncertain)"
                     + (" with the uncertainties sampled on top" if study.uncertainties
                        else ""))
    for objective in study.objectives:
        rows = table[table["output"] == objective.output]
        better = "higher" if objective.sense == "max" else "lower"
        meets = "" if objective.threshold is None else \
            f"{'>=' if objective.sense == 'max' else '<='} {number(objective.threshold)}"
        lines += ["", f"{objective.output} ({better} is better): mean and 5-95% range over "
                      f"worlds (spread from {_worlds_spread(study)}), ±seeds: mean 95% "
                      "half-width over seeds in a world (spread from the simulation)",
                  f"  {'policy':<14}{'mean':>10} {'5%-95% of worlds':>22} {'±seeds':>9} "
                  f"{'regret mean':>12} {'p90':>9} {'max':>9} {'best in':>8}"
                  + (f" {'meets ' + meets:>14}" if meets else "")]
        for row in rows.itertuples():
            lines.append(
                f"  {row.policy:<14}{number(row.mean):>10} "
                f"{'[' + number(row.p5) + ', ' + number(row.p95) + ']':>22} "
                f"{number(row.seed_half_width):>9} {number(row.regret_mean):>12} "
                f"{number(row.regret_p90):>9} {number(row.regret_max):>9} "
                f"{_share(row.best_share):>8}"
                + (f" {_share(row.satisficing):>14}" if meets else ""))
    lines += ["", "best in: share of worlds where the policy is best, worlds where policies are "
                  "tied within the 95% interval of their paired difference shared equally"]
    return lines


def write_robust_figures(folder: Path, study: RobustStudy, worlds: pd.DataFrame,
                         outcomes: pd.DataFrame) -> list[Path]:
    """regret-<output>.png per objective, and win-map.png over the two uncertainties (or
    fitted paths) that decide most which policy is best on the first objective (with two or
    more)."""
    from .. import plots
    from .figures import regret_figure, win_map_figure

    policies = [p.name for p in study.policies]
    written = [plots.save(regret_figure(outcomes, o, policies), folder / f"regret-{o.output}.png")
               for o in study.objectives]
    objective = study.objectives[0]
    if len(worlds.columns) - 1 >= 2 and len(policies) >= 2:  # beside the world column
        best = best_policy(outcomes, objective)
        x = uncertainty_table(worlds.set_index("world").loc[best.index].reset_index())
        scores, _ = uncertainty_scores(x, best.to_numpy(), permutations=0)
        top = sorted(scores, key=lambda name: -scores[name])[:2]
        written.append(plots.save(win_map_figure(worlds, outcomes, objective, *top),
                                  folder / "win-map.png"))
    return written


def write_discovery_figure(folder: Path, found: Discovery) -> Path:
    from .. import plots
    from .figures import discovery_figure

    return plots.save(discovery_figure(found), folder / f"discover-{found.method}.png")
