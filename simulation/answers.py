"""What results say, in numbers and plain words: the comparison table, which strategy or
point does best, how sure that is, and what it rests on. Reports and the terminal summaries
of ``sweep`` use these, so a figure in one place is the figure in the other.
"""

from __future__ import annotations

import math

import pandas as pd

from .decision_metrics import decision_table
from .numbers import interval, narrowing_words, number
from .results import INTERVAL_METHOD, OUTPUT_RANGE, Results, StudyResults, compare_runs, \
    mean_interval
from .scenario import LEVERS, Scenario

#: how outputs are named in sentences
OUTPUT_WORDS = {"cohort_retention": "retention of the customers active at week 0",
                "profit_total": "total profit", "nps": "NPS", "clv": "CLV per customer",
                "satisfaction": "satisfaction", "trust": "trust", "effort": "effort",
                "contacts": "desk contacts per week"}

#: the outputs an answer is given for, in order
ANSWERED = ("cohort_retention", "profit_total")


def labelled_runs(res: Results | StudyResults) -> tuple[pd.DataFrame, list[str], str]:
    """(runs with a ``variant`` column, labels in order, the reference label).

    For a study the variants are its points; the reference is its reference strategy's
    point when it has one, else its first point. For run/compare it is the first strategy.
    """
    if isinstance(res, Results):
        return res.summary(), res.labels, res.labels[0]
    labels = res.point_labels()
    runs = res.runs.assign(variant=res.runs["point"].map(labels))
    reference = res.reference["label"] if res.reference is not None else labels.iloc[0]
    return runs, list(labels), reference


def comparison(res: Results | StudyResults, outputs) -> tuple[pd.DataFrame, str]:
    """Per variant and output: mean and CI, and the paired difference to the reference."""
    runs, _, reference = labelled_runs(res)
    outputs = [o for o in outputs if o in runs.columns]
    return compare_runs(runs, outputs, reference), reference


def best_lines(res: Results | StudyResults, outputs=ANSWERED) -> list[str]:
    """For each output: which variant does best, by how much over the runner-up (paired),
    and how that compares with the reference. One sentence each."""
    runs, labels, reference = labelled_runs(res)
    lines = []
    for output in outputs:
        if output not in runs.columns or len(labels) < 2:
            continue
        by_seed = runs.pivot_table(index="seed", columns="variant", values=output)
        means = by_seed.mean().reindex(labels).dropna()
        order = means.sort_values(ascending=False).index
        best, second = order[0], order[1]
        m, lo, hi = mean_interval(by_seed[best].to_numpy(), bounds=OUTPUT_RANGE.get(output))
        gap = (by_seed[best] - by_seed[second]).dropna().to_numpy()
        g, g_lo, g_hi = mean_interval(gap)
        text = f"Highest {OUTPUT_WORDS.get(output, output)}: {best}, {interval(m, lo, hi)}; "
        if g_lo == g_hi == 0:
            text += f"tied with {second} in every seed."
        else:
            sure = ("clearly ahead: the interval of the difference excludes zero" if g_lo > 0
                    else "not clearly ahead: the interval of the difference includes zero")
            text += f"ahead of {second} by {interval(g, g_lo, g_hi, signed=True)}, {sure}."
        if reference not in (best, second):
            d = (by_seed[best] - by_seed[reference]).dropna().to_numpy()
            d_m, d_lo, d_hi = mean_interval(d)
            text += f" Against {reference}: {interval(d_m, d_lo, d_hi, signed=True)}."
        worse = [label for label in labels if label != reference and label in by_seed
                 and mean_interval((by_seed[label] - by_seed[reference]).dropna()
                                   .to_numpy())[2] < 0]
        if worse:
            named = "; ".join(worse) if len(worse) <= 8 else f"{len(worse)} of {len(labels) - 1}"
            text += (f" Lower than {reference}, with the whole interval of the paired "
                     f"difference below zero: {named}.")
        lines.append(text)
    return lines


def difference_table(table: pd.DataFrame, reference: str, means: bool = True) -> pd.DataFrame:
    """The comparison as text: one row per variant and output (with its mean, unless
    ``means`` is false), numbers as the CLI prints them, and what pairing did to each
    difference's interval."""
    rows = []
    for row in table.itertuples():
        item = {"variant": row.variant, "output": row.output}
        if means:
            item["mean [95% CI]"] = interval(row.mean, row.ci_low, row.ci_high)
        if row.variant != reference and "diff" in table:
            item[f"difference to {reference} [95% CI, paired]"] = interval(
                row.diff, row.diff_low, row.diff_high, signed=True)
            item["pairing"] = narrowing_words(row.narrowing)
        rows.append(item)
    return pd.DataFrame(rows).fillna("")


def strategy_words(scenario: dict, budget_varied: bool = False) -> list[str]:
    """What the strategies are, from the scenario's own camps and budget (or, when a study
    varies the budget, without claiming one)."""
    sc = Scenario.model_validate(scenario)

    def shares(camp: dict) -> str:
        return ", ".join(f"{lever.replace('_', ' ')} {camp[lever]:.0%}" for lever in LEVERS
                         if camp.get(lever, 0) > 0)

    budget = ("the budget of its point (strategy.budget is varied)" if budget_varied
              else f"the same budget, {number(sc.strategy.budget)} a week,")
    return [
        f"Every strategy spends {budget} on the {len(LEVERS)} levers, except none, which "
        "spends nothing.",
        f"reactive: the reactive camp's allocation, all on service after a problem "
        f"({shares(sc.camps.reactive)}).",
        f"proactive: the proactive camp's allocation, all on designing problems out "
        f"({shares(sc.camps.proactive)}).",
        f"service: the service camp's allocation, serving well wherever people work "
        f"({shares(sc.camps.service)}).",
        "mix=x (strategy.mix = x): a share 1 − x of the budget follows the reactive "
        "allocation and x the proactive one; balanced is mix 0.5.",
        f"The base scenario's strategy (where nothing else is said): {sc.strategy.label}"
        + (f" ({over_time_words(sc)})." if sc.strategy.phases or sc.strategy.triggers else "."),
    ]


def over_time_words(sc: Scenario) -> str:
    """A phased or triggered strategy in words: each phase from its week, then each trigger."""
    parts = []
    for phase in sc.phases() if sc.strategy.phases else []:
        what = phase.name or (f"mix={phase.mix:g}" if phase.mix is not None else "an allocation")
        budget = (f"{phase.revenue_share:.1%} of last week's revenue"
                  if phase.revenue_share is not None else
                  f"{number(sc.strategy.budget if phase.budget is None else phase.budget)} a week")
        ramp = f", ramped over {phase.ramp} weeks" if phase.ramp else ""
        parts.append(f"{what} from week {phase.start}{ramp}, spending {budget}")
    for t in sc.strategy.triggers:
        parts.append(f"while last week's {t.observe} is {t.when} {number(t.enter)} (until it "
                     f"passes {number(t.leave)}), {t.share:.0%} of the budget moves to "
                     + ", ".join(f"{lever.replace('_', ' ')} {share:.0%}"
                                 for lever, share in t.levers.items()))
    return "; ".join(parts)


def rests_on(res: Results | StudyResults, seeds: int) -> list[str]:
    """What the numbers rest on, and what their intervals do and do not measure."""
    scenario = res.manifest["scenarios"][0]
    lines = [
        f"{seeds} seeds per {'strategy' if isinstance(res, Results) else 'point'}; "
        f"{number(scenario['cohort'])} starting customers followed for "
        f"{scenario['horizon']} weeks; every strategy or point meets the same customers, "
        "mood shocks and failures seed by seed (common random numbers), so differences "
        "are paired.",
        f"Intervals: {INTERVAL_METHOD}. They measure only the randomness of the "
        "simulated customers (which seeds were run); they say nothing about whether the "
        "model's assumptions and parameter values are right. How far an answer depends on "
        "those is what parameter studies test: cxsim sweep and cxsim sensitivity over the "
        "parameters in doubt (see docs/studies.md).",
    ]
    if seeds < 10:
        lines.append(f"With only {seeds} seeds the intervals are rough; run more seeds "
                     "before reading much into them.")
    return lines


def varied_table(res: StudyResults) -> pd.DataFrame:
    """The study's varied parameters with the values actually run."""
    study = res.manifest["study"]
    rows = []
    design = res.points.drop(columns=["point", "label"])
    for parameter in study["parameters"]:
        path = parameter["path"]
        values = design[path].dropna() if path in design else pd.Series(dtype=object)
        if parameter.get("choices"):
            ran = ", ".join(dict.fromkeys(values.astype(str)))
        elif study["design"]["kind"] == "grid":
            ran = ", ".join(number(v) for v in dict.fromkeys(values))
        else:
            ran = (f"{len(values)} values from {number(values.min())} to "
                   f"{number(values.max())} ({study['design']['kind']} design)")
        rows.append({"parameter": path, "values run": ran})
    if study.get("reference"):
        rows.append({"parameter": "reference", "values run": f"strategy {study['reference']} "
                     "(the base scenario with that strategy, one more point)"})
    return pd.DataFrame(rows)



def decision_metrics(res: Results | StudyResults) -> tuple[pd.DataFrame, str]:
    """The decision metrics of every variant against the reference (``decision_metrics``),
    with the payback week when the weekly profit was kept."""
    runs, _, reference = labelled_runs(res)
    steps = res.steps
    if "profit" not in steps.columns:
        steps = None
    elif isinstance(res, StudyResults):
        steps = steps.assign(variant=steps["point"].map(res.point_labels()))
    return decision_table(runs, reference, steps=steps), reference


def decision_words(table: pd.DataFrame) -> pd.DataFrame:
    """The decision metrics as a report's table: mean [95% CI over seeds]."""
    rows = []
    for row in table.itertuples():
        words = {"strategy": row.variant,
                 "incremental profit": interval(row.incremental_profit, row.incremental_profit_low,
                                                row.incremental_profit_high, signed=True),
                 "incremental NPV": interval(row.incremental_npv, row.incremental_npv_low,
                                             row.incremental_npv_high, signed=True),
                 "extra CX spend": number(row.incremental_spend),
                 "return on the extra spend": interval(row.return_on_spend,
                                                       row.return_on_spend_low,
                                                       row.return_on_spend_high)}
        if "payback_week" in table.columns:
            paid = math.isfinite(row.payback_week)
            words["payback week (mean)"] = number(row.payback_week) if paid \
                else "not by the horizon"
            words["seeds paid back"] = f"{row.paid_back_share:.0%}"
        rows.append(words)
    return pd.DataFrame(rows)
