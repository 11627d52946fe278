"""Robustness of each policy over the worlds, from ``outcomes.parquet`` alone.

For an objective (an output and whether more or less is better):

- **regret** in a world: the best policy's mean there minus this policy's (turned so that it
  is never negative; 0 for the best). Summarised by its mean, 90th percentile and maximum
  over the worlds.
- **best share**: the share of worlds where the policy is best, a statistical tie counted as
  shared: the policies whose paired gap to the world's best has an interval that reaches 0
  (``<output>_gap_low <= 0``, the best itself included) split that world equally.
- **satisficing**: with a threshold, the share of worlds where the policy's mean meets it
  (at least the threshold when more is better, at most when less is).

The spread across worlds (5-95% of the world means) comes from the assumptions; the
``seed_half_width`` (mean half-width of the worlds' 95% intervals) is what the seeds add.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .robust_file import Objective

COLUMNS = ["policy", "output", "sense", "worlds", "mean", "p5", "p95", "seed_half_width",
           "regret_mean", "regret_p90", "regret_max", "best_share", "threshold", "satisficing"]


def regret(outcomes: pd.DataFrame, objective: Objective) -> pd.Series:
    """Per row (world and policy): the world's best mean minus this mean, turned so that
    more regret is always worse."""
    sign = 1.0 if objective.sense == "max" else -1.0
    signed = sign * outcomes[objective.output]
    return signed.groupby(outcomes["world"]).transform("max") - signed


def best_shares(outcomes: pd.DataFrame, objective: Objective) -> pd.Series:
    """Per policy: the share of worlds where it is best, ties shared equally."""
    tied = outcomes[f"{objective.output}_gap_low"] <= 0
    credit = tied / tied.groupby(outcomes["world"]).transform("sum")
    worlds = outcomes["world"].nunique()
    return credit.groupby(outcomes["policy"], sort=False).sum() / worlds


def satisficing(outcomes: pd.DataFrame, objective: Objective) -> pd.Series:
    """Per policy: the share of worlds where its mean meets the objective's threshold."""
    values = outcomes[objective.output]
    meets = values >= objective.threshold if objective.sense == "max" \
        else values <= objective.threshold
    return meets.groupby(outcomes["policy"], sort=False).mean()


def robustness(outcomes: pd.DataFrame, objectives: list[Objective]) -> pd.DataFrame:
    """One row per objective and policy (in the order policies appear): the columns of
    ``COLUMNS``; ``satisficing`` is NaN without a threshold."""
    rows = []
    for objective in objectives:
        name = objective.output
        regrets = regret(outcomes, objective)
        shares = best_shares(outcomes, objective)
        meets = satisficing(outcomes, objective) if objective.threshold is not None else None
        for policy, group in outcomes.groupby("policy", sort=False):
            values = group[name].to_numpy()
            own_regret = regrets[group.index].to_numpy()
            rows.append({
                "policy": policy, "output": name, "sense": objective.sense,
                "worlds": len(group), "mean": values.mean(),
                "p5": np.percentile(values, 5), "p95": np.percentile(values, 95),
                "seed_half_width": ((group[f"{name}_high"] - group[f"{name}_low"]) / 2).mean(),
                "regret_mean": own_regret.mean(), "regret_p90": np.percentile(own_regret, 90),
                "regret_max": own_regret.max(), "best_share": shares[policy],
                "threshold": objective.threshold,
                "satisficing": meets[policy] if meets is not None else np.nan})
    return pd.DataFrame(rows, columns=COLUMNS)


def best_policy(outcomes: pd.DataFrame, objective: Objective) -> pd.Series:
    """Per world: the policy that is best, or ``tie`` when several are statistically tied."""
    tied = outcomes[outcomes[f"{objective.output}_gap_low"] <= 0]
    winners = tied.groupby("world")["policy"].agg(list)
    return winners.map(lambda names: names[0] if len(names) == 1 else "tie")
