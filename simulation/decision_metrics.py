"""What a finance team asks of a strategy, measured against a reference strategy.

Each run of a strategy is paired with the reference's run of the same seed (common random
numbers), week by week:

- ``incremental_profit``: the cumulative profit over the horizon minus the reference's;
- ``incremental_npv``: the same weekly differences discounted at the scenario's
  ``economics.annual_discount_rate`` (week w divided by (1 + weekly rate)^w);
- ``incremental_spend``: lever spend minus the reference's;
- ``return_on_spend``: (Δ revenue − Δ other cost) / Δ spend, other cost being the desk's
  contacts and the fixed cost: what each unit of extra spend brings back (1: it pays for
  itself; 0: nothing); undefined (NaN) when the spend is the same;
- ``payback_week``: the first week from which the cumulative incremental profit stays at or
  above 0 (0: never below it; NaN: below it at the horizon).

Week 0 is the starting state, not a week lived: it adds nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .results import mean_interval

#: the per-run decision metrics, in the order tables show them
METRICS = ("incremental_profit", "incremental_npv", "incremental_spend", "return_on_spend",
           "payback_week")


def payback_week(cumulative: np.ndarray) -> float:
    """The first week w with ``cumulative[w:] >= 0`` (``cumulative[0]`` is week 0); NaN
    when the last week is below 0."""
    below = np.flatnonzero(np.asarray(cumulative) < 0)
    if below.size == 0:
        return 0.0
    last = int(below[-1])
    return float(last + 1) if last + 1 < len(cumulative) else float("nan")


def paired_runs(runs: pd.DataFrame, reference, by: str = "variant",
                steps: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (``by``, seed) of every arm but the reference: the metrics above, from
    the per-run totals (``results.run_summary``) of the seeds both ran; the payback week
    needs the weekly ``profit`` of ``steps`` (NaN without them)."""
    if reference not in set(runs[by]):
        raise ValueError(f"the reference strategy {reference!r} was not run "
                         f"(arms: {', '.join(map(str, runs[by].unique()))})")
    totals = ["profit_total", "profit_npv", "revenue_total", "cost_total", "spend_total"]
    base = runs[runs[by] == reference].set_index("seed")[totals]
    rows = []
    for arm, group in runs[runs[by] != reference].groupby(by, sort=False):
        group = group.set_index("seed")
        common = group.index.intersection(base.index).sort_values()
        diff = group.loc[common, totals] - base.loc[common]
        spend = diff["spend_total"]
        other_cost = diff["cost_total"] - spend
        frame = pd.DataFrame({
            by: arm, "seed": common,
            "incremental_profit": diff["profit_total"].to_numpy(),
            "incremental_npv": diff["profit_npv"].to_numpy(),
            "incremental_spend": spend.to_numpy(),
            "return_on_spend": ((diff["revenue_total"] - other_cost)
                                / spend.where(spend != 0)).to_numpy(),
            "payback_week": np.nan})
        if steps is not None:
            cumulative = incremental_cumulative(steps, arm, reference, by)
            frame["payback_week"] = [payback_week(cumulative[seed].to_numpy())
                                     for seed in common]
        rows.append(frame)
    columns = [by, "seed", *METRICS]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


def incremental_cumulative(steps: pd.DataFrame, arm, reference, by: str = "variant"
                           ) -> pd.DataFrame:
    """Weeks x seeds: the cumulative incremental profit from week 0 (which adds nothing)."""
    def weekly(label):
        one = steps[steps[by] == label]
        return one.pivot(index="step", columns="seed", values="profit").sort_index()

    mine, base = weekly(arm), weekly(reference)
    seeds = mine.columns.intersection(base.columns)
    diff = mine[seeds] - base[seeds]
    diff.loc[diff.index == 0] = 0.0
    return diff.cumsum()


def decision_table(runs: pd.DataFrame, reference, by: str = "variant",
                   steps: pd.DataFrame | None = None, level: float = 0.95) -> pd.DataFrame:
    """Per arm (the reference left out): each metric's mean over seeds with its
    confidence interval; with ``steps``, the week the mean cumulative incremental profit
    pays back (``payback_week``) and the share of seeds paid back by the horizon
    (``paid_back_share``)."""
    paired = paired_runs(runs, reference, by, steps)
    rows = []
    for arm, group in paired.groupby(by, sort=False):
        row = {by: arm, "reference": reference, "seeds": len(group)}
        for metric in METRICS[:-1]:
            values = group[metric].dropna().to_numpy()
            mean, lo, hi = mean_interval(values, level) if len(values) else (np.nan,) * 3
            row |= {metric: mean, f"{metric}_low": lo, f"{metric}_high": hi}
        if steps is not None:
            mean_curve = incremental_cumulative(steps, arm, reference, by).mean(axis=1)
            row["payback_week"] = payback_week(mean_curve.to_numpy())
            row["paid_back_share"] = float(group["payback_week"].notna().mean())
        rows.append(row)
    return pd.DataFrame(rows)
