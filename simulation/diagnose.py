"""``cxsim diagnose``: the model's customers against what customer-experience research reports.

Every figure is computed per run (seed) from the diagnostic tables (``simulation.diagnostics``)
and reported as the mean over seeds with its t confidence interval, for each variant, over
all customers and per segment. ``docs/outputs.md`` defines each figure; ``docs/findings.md``
sets the baseline's beside the published ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import layout as L
from .results import Results, ResultsError, mean_interval

#: satisfaction at or above this counts as satisfied (the csat threshold of the weekly table)
SATISFIED = 0.7
QUARTILES = ("Q1 (lowest effort)", "Q2", "Q3", "Q4 (highest effort)")

#: figure name -> what it measures (the order in which they are printed)
FIGURES = {
    "problems_never_at_desk": "share of issue episodes that never reached the desk",
    "customers_never_at_desk": "share of customers with a problem who never contacted the desk",
    "problem_endings": "share of issue episodes by how they ended",
    "churn_by_effort_quartile": "churn at decisions, by effort quartile",
    "satisfaction_before_failure": "satisfaction before a failure later recovered by the desk",
    "satisfaction_after_recovery": "satisfaction after that recovery",
    "recovery_change": "satisfaction after recovery minus before the failure",
    "renewal_after_recovery": "renewal at decisions with a desk recovery since the last one",
    "renewal_without_failure": "renewal at decisions with no issue since the last one",
    "recovery_renewal_gap": "renewal after a recovery minus renewal without a failure",
    "satisfied_defectors": f"share of defectors with satisfaction >= {SATISFIED} when they left",
    "desk_contact_odds_ratio": "odds of leaving vs staying at a decision: a desk contact "
                               "since the last decision vs none",
}


def require_diagnostics(results: Results, folder) -> None:
    if results.episodes is None or results.decisions is None:
        raise ResultsError(f"{folder}: no diagnostics recorded (episodes.parquet, "
                           "decisions.parquet); run with --diagnostics")


def diagnose(results: Results, level: float = 0.95) -> dict:
    """Every figure of ``FIGURES`` per variant, over all customers and per segment."""
    report = {"level": level, "seeds": int(results.steps["seed"].nunique()),
              "diagnostics": results.manifest.get("diagnostics", {}), "variants": {}}
    segments = report["diagnostics"].get("segments") or sorted(
        results.decisions["segment"].unique())
    for label in results.labels:
        episodes = results.episodes[results.episodes["variant"] == label]
        decisions = results.decisions[results.decisions["variant"] == label]
        seeds = np.sort(results.steps.loc[results.steps["variant"] == label, "seed"].unique())
        entry = {"all": _figures(episodes, decisions, seeds, level), "segments": {}}
        for name in segments:
            entry["segments"][name] = _figures(episodes[episodes["segment"] == name],
                                               decisions[decisions["segment"] == name],
                                               seeds, level)
        report["variants"][label] = entry
    horizon = results.segment_summary(level=level)
    for label, entry in report["variants"].items():
        mine = horizon[horizon["variant"] == label]
        entry["horizon_by_segment"] = {
            name: {row.output: {"mean": row.mean, "ci_low": row.ci_low, "ci_high": row.ci_high}
                   for row in group.itertuples()}
            for name, group in mine.groupby("segment", sort=False)}
    return report


def _interval(per_seed: pd.Series, level: float) -> dict:
    values = per_seed.dropna().to_numpy(dtype=float)
    if len(values) == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "seeds": 0}
    mean, lo, hi = mean_interval(values, level)
    return {"mean": mean, "ci_low": lo, "ci_high": hi, "seeds": len(values)}


def _per_seed(frame: pd.DataFrame, seeds, value) -> pd.Series:
    """``value(group)`` for each seed's rows; NaN for a seed with none."""
    if frame.empty:
        return pd.Series(np.nan, index=seeds)
    return frame.groupby("seed").apply(value, include_groups=False).reindex(seeds)


def _figures(episodes: pd.DataFrame, decisions: pd.DataFrame, seeds, level: float) -> dict:
    ci = lambda per_seed: _interval(per_seed, level)  # noqa: E731
    out = {}
    out["problems_never_at_desk"] = ci(_per_seed(
        episodes, seeds, lambda g: (g["desk_contacts"] == 0).mean()))
    out["customers_never_at_desk"] = ci(_per_seed(
        episodes, seeds, lambda g: (g.groupby("customer")["desk_contacts"].sum() == 0).mean()))
    out["problem_endings"] = {
        ending: ci(_per_seed(episodes, seeds, lambda g, e=ending: (g["outcome"] == e).mean()))
        for ending in L.OUTCOME_NAMES}

    decided = decisions[decisions["kind"] == "decision"]
    # equal-count quartiles by rank: effort is exactly 0 at many decisions, so the ties are
    # split in the table's (week, customer) order
    quartile = (pd.Series(np.minimum(4 * np.arange(len(decided)) // max(len(decided), 1), 3),
                          index=decided["effort"].sort_values(kind="stable").index)
                .reindex(decided.index))
    out["churn_by_effort_quartile"] = {
        "effort_ranges": [[float(decided.loc[quartile == q, "effort"].min()),
                           float(decided.loc[quartile == q, "effort"].max())]
                          if (quartile == q).any() else [None, None] for q in range(4)],
        "quartiles": {name: ci(_per_seed(decided[quartile == q], seeds,
                                         lambda g: g["left"].mean()))
                      for q, name in enumerate(QUARTILES)}}

    recovered = episodes[episodes["outcome"] == "desk"]
    out["satisfaction_before_failure"] = ci(_per_seed(
        recovered, seeds, lambda g: g["satisfaction_before"].mean()))
    out["satisfaction_after_recovery"] = ci(_per_seed(
        recovered, seeds, lambda g: g["satisfaction_after"].mean()))
    out["recovery_change"] = ci(_per_seed(
        recovered, seeds, lambda g: (g["satisfaction_after"] - g["satisfaction_before"]).mean()))

    after_recovery = _per_seed(decided[decided["recovery_in_cycle"]], seeds,
                               lambda g: 1.0 - g["left"].mean())
    without_failure = _per_seed(decided[~decided["failure_in_cycle"]], seeds,
                                lambda g: 1.0 - g["left"].mean())
    out["renewal_after_recovery"] = ci(after_recovery)
    out["renewal_without_failure"] = ci(without_failure)
    out["recovery_renewal_gap"] = ci(after_recovery - without_failure)

    out["satisfied_defectors"] = ci(_per_seed(
        decisions[decisions["left"]], seeds, lambda g: (g["satisfaction"] >= SATISFIED).mean()))
    out["desk_contact_odds_ratio"] = _odds_ratio(decided, seeds, level)
    return out


def _odds_ratio(decided: pd.DataFrame, seeds, level: float) -> dict:
    """Per seed, the log odds ratio of leaving (with a desk contact since the last decision
    vs without), each cell + 0.5 (Haldane) so a seed with an empty cell still counts; the
    interval of the mean log odds ratio over seeds, exponentiated."""
    def log_or(g):
        contact = g["contact_in_cycle"]
        a = (g["left"] & contact).sum() + 0.5
        b = (~g["left"] & contact).sum() + 0.5
        c = (g["left"] & ~contact).sum() + 0.5
        d = (~g["left"] & ~contact).sum() + 0.5
        return np.log(a * d / (b * c)) if contact.any() else np.nan

    interval = _interval(_per_seed(decided, seeds, log_or), level)
    return {k: (float(np.exp(v)) if k != "seeds" and v is not None else v)
            for k, v in interval.items()}


# --------------------------------------------------------------------------- printing

def format_report(report: dict) -> list[str]:
    """The report as lines of text: one block per variant, all customers then segments."""
    d = report["diagnostics"]
    lines = [f"{report['seeds']} seeds; mean over seeds [{report['level']:.0%} CI]; "
             f"customers sampled: {d.get('sample', 1.0):g}"]
    dropped = d.get("dropped", {})
    if dropped.get("episodes") or dropped.get("decisions"):
        lines.append(f"WARNING: the row cap dropped {dropped['episodes']:,} episodes and "
                     f"{dropped['decisions']:,} decisions (see manifest.json)")
    for label, entry in report["variants"].items():
        lines.append(f"\n{label}")
        lines += _block(entry["all"], "  ")
        for name, figures in entry["segments"].items():
            lines.append(f"  segment {name}")
            at_horizon = entry["horizon_by_segment"].get(name, {})
            if at_horizon:
                lines.append("    at the horizon: " + ", ".join(
                    f"{output.replace('cohort_', '')} {_fmt(v)}"
                    for output, v in at_horizon.items()))
            lines += _block(figures, "    ")
    return lines


def _fmt(value: dict) -> str:
    if value["mean"] is None:
        return "n/a (no such rows)"
    digits = 0 if abs(value["mean"]) >= 100 else (1 if abs(value["mean"]) >= 10 else 3)
    return (f"{value['mean']:.{digits}f} [{value['ci_low']:.{digits}f}, "
            f"{value['ci_high']:.{digits}f}]")


def _block(figures: dict, indent: str) -> list[str]:
    lines = []
    for name, what in FIGURES.items():
        value = figures[name]
        if name == "problem_endings":
            lines.append(f"{indent}{what}:")
            lines += [f"{indent}  {e:<20} {_fmt(v)}" for e, v in value.items()]
        elif name == "churn_by_effort_quartile":
            lines.append(f"{indent}{what}:")
            for (q, v), (lo, hi) in zip(value["quartiles"].items(), value["effort_ranges"]):
                effort = "" if lo is None else f"  (effort {lo:.2f} to {hi:.2f})"
                lines.append(f"{indent}  {q:<20} {_fmt(v)}{effort}")
        else:
            lines.append(f"{indent}{what}: {_fmt(value)}")
    return lines
