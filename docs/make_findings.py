"""Regenerate docs/findings.md and docs/figures/ from the bundled studies (``make findings``).

Every number and every comparison on the findings page is computed here from a fresh run of a
study in ``scenarios/``: ``findings_template.md`` holds the headings, the mechanisms and the
``{{name}}`` placeholders, and one function per section (``SECTIONS``) runs its study and
returns the placeholders' text. Comparisons are worded by ``findings_wording.compare``, which
reads the interval ("higher", "lower", or "not distinguishable ... the interval spans zero").

``--seeds-scale 0.1`` runs every study with a tenth of its seeds for a quick look, ``--seeds``
and ``--set`` (scenario overrides applied to every study) make the small runs the tests use;
the page then says so.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from findings_wording import (Interval, by_value, compare, interval, listing, number,  # noqa: E402
                              ratio, seeds_differ, span, trend, week_ranges)
from simulation import load_scenario, plots, results, simulate  # noqa: E402
from simulation.diagnose import QUARTILES  # noqa: E402
from simulation.results import compare_runs, load_results  # noqa: E402
from simulation.store import ResultsError  # noqa: E402
from simulation.study import load_study  # noqa: E402
from simulation.sweep import run_study  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@dataclass
class Context:
    """Where studies run and figures go, and how many seeds each study gets."""

    out: Path = DOCS
    store: Path = ROOT / "results" / "findings"
    scale: float = 1.0
    seeds: int | None = None
    overrides: list[str] = field(default_factory=list)
    reuse: bool = False

    def run(self, name: str):
        """Run study ``scenarios/<name>.toml`` (or reuse its finished store) and load it."""
        path = ROOT / "scenarios" / f"{name}.toml"
        seeds = self.seeds or max(20, int(round(load_study(path).study.seeds * self.scale)))
        loaded = load_study(path, seeds=seeds, overrides=self.overrides)
        folder = self.store / name
        started = time.perf_counter()
        if self.reusable(folder, lambda: run_study(loaded, folder, resume=True)):
            return load_results(folder)
        run_study(loaded, folder)
        print(f"{name}: {len(loaded.points)} points x {seeds} seeds in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
        return load_results(folder)

    def reusable(self, folder: Path, resume) -> bool:
        """With ``--reuse``, whether ``folder`` holds this very study (``resume`` checks its
        fingerprint and completes it); otherwise, or when it holds another study (a scenario,
        the model's parameters or the seeds changed), the folder is removed."""
        if folder.exists() and self.reuse:
            try:
                resume()
                return True
            except ResultsError:
                pass
        if folder.exists():
            shutil.rmtree(folder)
        return False

    def figure(self, fig, name: str) -> str:
        """Save a figure beside the page; returns its link."""
        (self.out / "figures").mkdir(parents=True, exist_ok=True)
        plots.save(fig, self.out / "figures" / f"{name}.png")
        return f"figures/{name}.png"


# ----------------------------------------------------------------- reading a study's results

def seeds_of(res) -> str:
    return str(res.runs["seed"].nunique())


def horizon_of(res) -> int:
    return int(res.steps["step"].max())


def values(res, point: int, output: str, step: int | None = None) -> pd.Series:
    """One value per seed: at the horizon, or at ``step`` for a kept per-step output."""
    if step is None:
        frame = res.runs[res.runs["point"] == point]
    else:
        frame = res.steps[(res.steps["point"] == point) & (res.steps["step"] == step)]
    return frame.set_index("seed")[output]


def weekly(res, point: int, output: str) -> pd.DataFrame:
    """(seed × week) table of a kept per-step output; 'profit_cumulative' sums weeks 1..w."""
    frame = res.steps[res.steps["point"] == point]
    if output == "profit_cumulative":
        frame = frame.assign(profit_cumulative=results.cumulative_profit(frame, by=("seed",)))
    return frame.pivot(index="seed", columns="step", values=output)


def cumulative_profit(res, point: int, step: int) -> pd.Series:
    """Profit of weeks 1..step, per seed (the rule of ``results.cumulative_profit``)."""
    return weekly(res, point, "profit_cumulative")[step]


def point_of(res, **params) -> int:
    """The one point whose parameters equal ``params`` (keys are parameter paths)."""
    mask = pd.Series(True, index=res.points.index)
    for column, value in params.items():
        mask &= res.points[column].astype(str) == str(value)
    found = res.points.loc[mask, "point"]
    if len(found) != 1:
        raise KeyError(f"{len(found)} points match {params}")
    return int(found.iloc[0])


def paired(a: pd.Series, b: pd.Series) -> np.ndarray:
    """a − b seed by seed (common random numbers)."""
    common = a.index.intersection(b.index)
    return (a.loc[common] - b.loc[common]).to_numpy(dtype=float)


def table(rows: list[dict]) -> str:
    return pd.DataFrame(rows).to_markdown(index=False)


@dataclass
class Best:
    """The mix with the highest mean, and its lead over the next best (paired by seed)."""

    mix: float
    mean: float
    text: str
    runner_up: float
    lead: np.ndarray


def best_mix(res, fixed: dict, output: str, step: int | None = None,
             cumulative: bool = False) -> Best:
    """The best ``strategy.mix`` among the points matching ``fixed``."""
    pts = res.points
    mask = pd.Series(True, index=pts.index)
    for column, value in fixed.items():
        mask &= pts[column].astype(str) == str(value)
    per_mix = {}
    for _, row in pts[mask].iterrows():
        p = int(row["point"])
        per_mix[float(row["strategy.mix"])] = (cumulative_profit(res, p, step) if cumulative
                                               else values(res, p, output, step))
    ranked = sorted(per_mix, key=lambda m: per_mix[m].mean(), reverse=True)
    first, second = ranked[0], ranked[1]
    return Best(first, float(per_mix[first].mean()), interval(per_mix[first]), second,
                paired(per_mix[first], per_mix[second]))


def lead_text(best: Best) -> str:
    return f"mix {best.mix:g} {compare(best.lead, f'mix {best.runner_up:g}')}"


def best_table(res, row_param: str, row_title: str) -> tuple[str, list[tuple]]:
    """Best mix for retention and for profit in each row, with its lead over the next best."""
    rows, found = [], []
    for value in res.points[row_param].drop_duplicates():
        r = best_mix(res, {row_param: value}, "cohort_retention")
        p = best_mix(res, {row_param: value}, "profit_total")
        rows.append({row_title: value, "best mix for retention": f"{r.mix:g}",
                     "its retention": r.text,
                     "lead over the next best (paired)":
                         f"{Interval.of(r.lead).text(signed=True)} over {r.runner_up:g}",
                     "best mix for profit": f"{p.mix:g}", "its profit": p.text})
        found.append((value, r, p))
    return table(rows), found


def best_sentence(found, unit: str) -> str:
    """'The best mix for retention is 1 at x 0.5 and 1; 0.5 at x 2. ...', with how
    many of the best mixes are distinguishable from the next best."""
    ret = by_value([(v, r.mix) for v, r, _ in found], unit)
    prof = by_value([(v, p.mix) for v, _, p in found], unit)
    clear = sum(Interval.of(r.lead).sign > 0 for _, r, _ in found)
    return (f"The best mix for retention is {ret}. The best mix for profit is {prof}. In {clear} of "
            f"{len(found)} rows the best mix's retention is distinguishable from the next best's "
            "(the lead's interval lies above zero).")


def grid_figures(ctx: Context, res, key: str) -> dict[str, str]:
    varied = [c for c in res.points.columns if c not in ("point", "label")]
    return {f"{key}_figure": ctx.figure(plots.heatmap_figure(res, varied, "cohort_retention"),
                                        f"{key}_retention"),
            f"{key}_profit_figure": ctx.figure(plots.heatmap_figure(res, varied, "profit_total"),
                                               f"{key}_profit")}


def strategy_points(res, names, **fixed) -> dict[str, int]:
    return {n: point_of(res, **fixed, **{"strategy.name": n}) for n in names}


# ------------------------------------------------------------------------------- sections

HEADLINE_OUTPUTS = ["cohort_retention", "nps", "satisfaction", "trust", "effort", "contacts",
                    "profit_total", "clv"]


def headline(ctx: Context) -> dict[str, str]:
    """Section 1: none, reactive, proactive and balanced at equal budget."""
    res = ctx.run("headline")
    horizon = horizon_of(res)
    out = {"headline_seeds": seeds_of(res),
           "headline_retention_figure": ctx.figure(plots.retention_figure(res),
                                                   "headline_retention"),
           "headline_outcomes_figure": ctx.figure(plots.panels_figure(res), "headline_outcomes")}
    names = ["none", "reactive", "proactive", "balanced"]
    pts = strategy_points(res, names)
    out["headline_table"] = table([
        {"strategy": n,
         "retention wk 52": interval(values(res, p, "cohort_retention", 52)),
         f"retention wk {horizon}": interval(values(res, p, "cohort_retention")),
         f"NPS wk {horizon}": interval(values(res, p, "nps"), 2),
         "profit, whole horizon": interval(values(res, p, "profit_total")),
         "CLV / customer": interval(values(res, p, "clv"))} for n, p in pts.items()])

    react, proact, none = pts["reactive"], pts["proactive"], pts["none"]
    d_ret = weekly(res, proact, "cohort_retention") - weekly(res, react, "cohort_retention")
    d_profit = (weekly(res, proact, "profit_cumulative")
                - weekly(res, react, "profit_cumulative"))
    weeks = [w for w in (4, 8, 13, 26, 39, 52, 78, 104, 156) if w <= horizon]
    out["headline_differences"] = table([
        {"week": w, "retention, proactive − reactive": Interval.of(d_ret[w]).text(signed=True),
         "cumulative profit, proactive − reactive": Interval.of(d_profit[w]).text(signed=True)}
        for w in weeks])

    ret_iv = {w: Interval.of(d_ret[w]) for w in range(1, horizon + 1)}
    profit_iv = {w: Interval.of(d_profit[w]) for w in range(1, horizon + 1)}
    out["headline_early"] = " ".join([
        _reactive_ahead(ret_iv, "retention", "of the cohort"),
        _reactive_ahead(profit_iv, "cumulative profit", "in currency")])
    out["reactive_vs_none_26"] = compare(
        paired(values(res, react, "cohort_retention", 26),
               values(res, none, "cohort_retention", 26)), "that of `none`")
    out["crossing"] = (f"Proactive design is ahead in retention for good {_for_good(ret_iv)} and "
                       f"in cumulative profit {_for_good(profit_iv)}")
    gaps = [ret_iv[w] for w in (52, 104, 156) if w <= horizon]
    out["headline_gap"] = (
        "The retention gap, proactive minus reactive, is "
        + listing(f"{g.text(signed=True)} at week {w}" for w, g in zip((52, 104, 156), gaps))
        + f" (its mean {trend([g.mean for g in gaps])} from year to year)")

    runs = res.runs.assign(variant=res.runs["point"].map({p: n for n, p in pts.items()}))
    by_none = compare_runs(runs, HEADLINE_OUTPUTS, "none").dropna(subset=["narrowing"])
    narrowing = by_none.pivot(index="output", columns="variant", values="narrowing")
    out["narrowing_table"] = narrowing.loc[HEADLINE_OUTPUTS, names[1:]].map(
        lambda v: f"{v:.2g}").rename_axis(None, axis=1).reset_index().to_markdown(index=False)
    out["narrowing_range"] = span(narrowing.to_numpy().ravel(), 2)
    vs_react = compare_runs(runs[runs["variant"].isin(["reactive", "proactive"])],
                            ["cohort_retention"], "reactive").dropna(subset=["narrowing"])
    out["pairing_narrowing"] = f"{vs_react['narrowing'].iloc[0]:.2g}"

    others = [n for n in names if n != "none"]
    r52 = {n: values(res, p, "cohort_retention", 52).mean() for n, p in pts.items()}
    r_end = {n: values(res, p, "cohort_retention").mean() for n, p in pts.items()}
    burnout = weekly(res, none, "burnout").mean()
    out["none_course"] = (
        f"`none` keeps {number(r52['none'])} of the cohort at week 52 (the others "
        f"{span(r52[n] for n in others)}) and {number(r_end['none'])} at week {horizon} (the "
        f"others {span(r_end[n] for n in others)}); the mean burnout of its unfunded desk is "
        + listing(f"{number(burnout[w])} at week {w}" for w in (52, 104, 156) if w <= horizon))
    half = {n: Interval.of(values(res, p, "cohort_retention")).half_width for n, p in pts.items()}
    widest = max(half, key=half.get)
    out["widest"] = (
        f"The widest interval of week-{horizon} retention is that of `{widest}` (half-width "
        f"{number(half[widest])}, against {span(half[n] for n in names if n != widest)} for the "
        "others)" + (": in some seeds the desk tips over early, in others late."
                     if widest == "none" else "."))
    contacts = {n: weekly(res, p, "contacts").loc[:, 1:].mean(axis=1) for n, p in pts.items()}
    end_burnout = {n: values(res, p, "burnout").mean() for n, p in pts.items()}
    out["headline_contacts"] = (
        "mean weekly contacts over the horizon are "
        + listing(f"{interval(contacts[n])} under `{n}`" for n in ("proactive", "reactive", "none"))
        + f" (under proactive design {contacts['proactive'].mean() / contacts['reactive'].mean():.2g}"
        " times as many as under reactive service),"
        f" and the desk's burnout at week {horizon} is {number(end_burnout['proactive'])} under "
        f"proactive design, {number(end_burnout['reactive'])} under reactive service and "
        f"{number(end_burnout['none'])} under `none`")
    return out


def _reactive_ahead(ivs: dict[int, Interval], what: str, unit: str) -> str:
    """In which weeks reactive leads proactive (the difference's interval below zero)."""
    weeks = [w for w, iv in ivs.items() if iv.sign < 0]
    if not weeks:
        return f"Reactive service is ahead of proactive design in {what} in no week."
    lead = max(-ivs[w].mean for w in weeks)
    return (f"Reactive service is ahead of proactive design in {what} in weeks "
            f"{week_ranges(weeks)} (by at most {number(lead)} {unit}).")


def _for_good(ivs: dict[int, Interval]) -> str:
    """'from week w' from which the difference's interval stays above zero to the horizon."""
    first = None
    for week in sorted(ivs, reverse=True):
        if ivs[week].sign <= 0:
            break
        first = week
    return f"from week {first}" if first else "at no week up to the horizon"


def frontier(ctx: Context) -> dict[str, str]:
    """Section 2: the reactive–proactive frontier at the baseline."""
    res = ctx.run("mix_sweep")
    out = {"frontier_seeds": seeds_of(res),
           "frontier_figure": ctx.figure(plots.frontier_figure(res, "strategy.mix"), "frontier")}
    r = best_mix(res, {}, "cohort_retention")
    p = best_mix(res, {}, "profit_total")
    out["frontier_best"] = (
        f"the best mix for retention is {r.mix:g} (retention {r.text}; {lead_text(r)}) and for "
        f"profit {p.mix:g} (profit {p.text})")
    ret = {m: values(res, point_of(res, **{"strategy.mix": m}), "cohort_retention")
           for m in (0.0, 0.5, 1.0)}
    mixes = sorted(res.points["strategy.mix"].astype(float))
    means = [values(res, point_of(res, **{"strategy.mix": m}), "cohort_retention").mean()
             for m in mixes]
    out["frontier_shape"] = (
        f"Mean retention {trend(means)} from mix 0 to mix 1. Mix 0.5's retention "
        f"{compare(paired(ret[0.5], ret[0.0]), 'that of mix 0')}, and mix 1's "
        f"{compare(paired(ret[1.0], ret[0.5]), 'that of mix 0.5')}.")
    return out


def budget(ctx: Context) -> dict[str, str]:
    """Section 2, budget: the best mix at four budgets."""
    res = ctx.run("budget_mix_grid")
    out = {"budget_seeds": seeds_of(res), **grid_figures(ctx, res, "budget")}
    out["budget_table"], found = best_table(res, "strategy.budget", "weekly budget")
    means = res.runs.groupby("point")[["cohort_retention", "profit_total"]].mean()
    cells = res.points.join(means, on="point")
    peaks = []
    for _, group in cells.groupby("strategy.mix"):
        peaks.append((group.loc[group["cohort_retention"].idxmax(), "strategy.budget"],
                      group.loc[group["profit_total"].idxmax(), "strategy.budget"]))
    lower = sum(p < r for r, p in peaks)
    out["budget_shape"] = (
        "The best retention (the retention column, one row per budget) "
        f"{trend([r.mean for _, r, _ in found])} as the budget grows. Over the "
        f"{len(peaks)} mixes, retention peaks at a budget of "
        f"{listing(f'{r:g}' for r in sorted({r for r, _ in peaks}))} and profit at "
        f"{listing(f'{p:g}' for p in sorted({p for _, p in peaks}))}; the profit-maximising "
        "budget is lower "
        f"than the retention-maximising one at {lower} of {len(peaks)} mixes.")
    return out


def horizon(ctx: Context) -> dict[str, str]:
    """Section 2, horizon: the best mix read at weeks 13 to 260 of the same runs."""
    res = ctx.run("mix_by_horizon")
    seeds = seeds_of(res)
    out = {"horizon_seeds": seeds}
    weeks = [w for w in (13, 26, 52, 104, 156, 260) if w <= horizon_of(res)]
    rows, best_r, best_p = [], [], []
    mixes = sorted(res.points["strategy.mix"].astype(float))
    mix_points = [point_of(res, **{"strategy.mix": m}) for m in mixes]
    fig, axes = plots.plt.subplots(1, 2, figsize=(13, 5), dpi=100)
    for week in weeks:
        r = best_mix(res, {}, "cohort_retention", week)
        p = best_mix(res, {}, "profit", week, cumulative=True)
        best_r.append((week, r.mix))
        best_p.append((week, p.mix))
        rows.append({"week": week, "best mix for retention": f"{r.mix:g}", "its retention": r.text,
                     "best mix for cumulative profit": f"{p.mix:g}",
                     "its cumulative profit": p.text})
        ret = [values(res, q, "cohort_retention", week).mean() for q in mix_points]
        prof = [cumulative_profit(res, q, week).mean() for q in mix_points]
        axes[0].plot(mixes, np.array(ret) - ret[0], marker="o", label=f"week {week}")
        axes[1].plot(mixes, np.array(prof) - prof[0], marker="o", label=f"week {week}")
    axes[0].set_ylabel("retention minus that of mix 0 (share of cohort)")
    axes[1].set_ylabel("cumulative profit minus that of mix 0 (currency)")
    for ax in axes:
        ax.set_xlabel("strategy.mix (0 = all reactive, 1 = all proactive)")
        ax.axhline(0, color="grey", lw=0.8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    plots.money_axis(axes[1])
    fig.suptitle("Gain over all-reactive by mix, read at different horizons "
                 f"(means of {seeds} paired seeds)")
    fig.tight_layout()
    out["horizon_figure"] = ctx.figure(fig, "mix_by_horizon")
    out["horizon_table"] = table(rows)
    first, last = best_r[0][1], best_r[-1][1]
    out["horizon_shape"] = (
        f"The best mix for retention is {by_value(best_r, 'week')}. The best mix for cumulative "
        f"profit is {by_value(best_p, 'week')}. "
        + (f"A manager judged on the next quarter (best mix {first:g}) and one judged on the "
           f"last week shown (best mix {last:g}) choose differently."
           if first != last else "The best mix is the same at the shortest and the longest "
                                 "horizon."))
    return out


def failure(ctx: Context) -> dict[str, str]:
    """Section 2, failure rates: the best mix when the journey fails more or less often."""
    res = ctx.run("mix_by_failure")
    out = {"failure_seeds": seeds_of(res), **grid_figures(ctx, res, "failure")}
    out["failure_table"], found = best_table(res, "touchpoints.*.failure_rate*", "failure rates x")
    below = [(v, r) for v, r, _ in found if r.mix < 1]

    def burnout(value, mix) -> str:
        point = point_of(res, **{"touchpoints.*.failure_rate*": value, "strategy.mix": mix})
        return number(values(res, point, "burnout").mean())

    out["failure_shape"] = best_sentence(found, "failure rates ×") + " " + (
        f"Pure design is not the best mix at failure rates × {listing(f'{v:g}' for v, _ in below)}"
        ": when the journey fails often, part of the budget is better spent repairing failures. "
        "The desk's burnout at the horizon is "
        + listing(f"{burnout(v, 1.0)} under pure design against {burnout(v, r.mix)} under mix "
                  f"{r.mix:g} at × {v:g}" for v, r in below) + "." if below else
        "Pure design is the best mix for retention at every failure rate studied.")
    return out


def complexity(ctx: Context) -> dict[str, str]:
    """Section 2, issue complexity."""
    res = ctx.run("mix_by_complexity")
    out = {"complexity_seeds": seeds_of(res), **grid_figures(ctx, res, "complexity")}
    out["complexity_table"], found = best_table(res, "touchpoints.*.complexity*", "complexity x")
    out["complexity_shape"] = (
        best_sentence(found, "complexity ×") + " Across complexities the best retention spans "
        f"{span(r.mean for _, r, _ in found)}.")
    return out


def self_service(ctx: Context) -> dict[str, str]:
    """Section 3: knowledge base against guided service."""
    res = ctx.run("self_service_vs_guided")
    out = {"selfservice_seeds": seeds_of(res), **grid_figures(ctx, res, "selfservice")}
    out["selfservice_table"], found = best_table(res, "touchpoints.*.complexity*", "complexity x")
    extremes = [v for v, r, _ in found if r.mix in (0.0, 1.0)]
    spreads = []
    for value, _, _ in found:
        cells = res.points[res.points["touchpoints.*.complexity*"] == value]["point"]
        means = [values(res, int(p), "cohort_retention").mean() for p in cells]
        spreads.append(max(means) - min(means))
    out["selfservice_shape"] = (
        best_sentence(found, "complexity ×") + " "
        + ("Neither extreme (all knowledge base or all guided service) is best at any complexity. "
           if not extremes else
           f"An extreme is best at complexity × {listing(f'{v:g}' for v in extremes)}. ")
        + f"As complexity rises the best share of self-service "
        f"{trend([r.mix for _, r, _ in found])}; between the best and the "
        f"worst mix retention differs by {span(spreads)} of the cohort.")
    return out


def personas(ctx: Context) -> dict[str, str]:
    """Section 4: one persona per population."""
    res = ctx.run("personas")
    out = {"personas_seeds": seeds_of(res), **grid_figures(ctx, res, "personas")}
    out["personas_table"], found = best_table(res, "population", "population")
    same = len({r.mix for _, r, _ in found}) == 1
    design_gain = []
    for value, _, _ in found:
        pure = {m: values(res, point_of(res, population=value, **{"strategy.mix": m}),
                          "cohort_retention") for m in (0.0, 1.0)}
        design_gain.append(f"for `{value}` it {compare(paired(pure[1.0], pure[0.0]), 'mix 0')}")
    out["personas_shape"] = (
        best_sentence(found, "") + (" In this model one allocation serves every population."
                                    if same else " The best allocation depends on the population.")
        + " Mix 1's retention, paired by seed: " + "; ".join(design_gain) + ".")
    return out


def service_first(ctx: Context) -> dict[str, str]:
    """Section 5: the service camp (serving well everywhere) against the two camps."""
    res = ctx.run("service_first")
    names = ["none", "reactive", "service", "proactive", "balanced"]
    out = {"servicefirst_seeds": seeds_of(res), **grid_figures(ctx, res, "servicefirst"),
           "servicefirst_table": strategies_table(
               res, "strategy.budget", names, {"cohort_retention": "retention at the horizon",
                                               "trust": "trust", "profit_total": "profit"},
               "proactive")}
    sentences = []
    for b in res.points["strategy.budget"].drop_duplicates():
        pts = strategy_points(res, names, **{"strategy.budget": b})
        ret = {n: values(res, p, "cohort_retention") for n, p in pts.items()}
        sentences.append(
            f"At a budget of {b:g} a week, the retention of `service` "
            + listing(compare(paired(ret["service"], ret[o]), f"that of `{o}`")
                      for o in ("none", "reactive", "proactive"))
            + f"; `balanced` {compare(paired(ret['balanced'], ret['proactive']), '`proactive`')}.")
    out["servicefirst_shape"] = " ".join(sentences)
    return out


def strategies_table(res, row_param: str, names: list[str], outputs: dict[str, str],
                     reference: str) -> str:
    """Strategies by a row parameter: each output's interval and the paired retention
    difference to ``reference``."""
    rows = []
    for value in res.points[row_param].drop_duplicates():
        pts = strategy_points(res, names, **{row_param: value})
        ref = values(res, pts[reference], "cohort_retention")
        for n, p in pts.items():
            row = {row_param: value, "strategy": n}
            row.update({title: interval(values(res, p, o)) for o, title in outputs.items()})
            row[f"retention − {reference} (paired)"] = "(reference)" if n == reference else \
                Interval.of(paired(values(res, p, "cohort_retention"), ref)).text(signed=True)
            rows.append(row)
    return table(rows)


def trust(ctx: Context) -> dict[str, str]:
    """Section 6: consistency and contact for trust, trust for renewal."""
    res = ctx.run("trust_consistency")
    names = ["none", "consistency_and_contact", "reliability_only"]
    out = {"trust_seeds": seeds_of(res), **grid_figures(ctx, res, "trust"),
           "trust_table": strategies_table(
               res, "trust_weight", names, {"trust": "trust at the horizon",
                                            "cohort_retention": "retention at the horizon"},
               "none")}
    weights = list(res.points["trust_weight"].drop_duplicates())
    trust_text, worse, reliability_gain = [], [], []
    for w in weights:
        pts = strategy_points(res, names, trust_weight=w)
        tr = {n: values(res, p, "trust") for n, p in pts.items()}
        ret = {n: values(res, p, "cohort_retention") for n, p in pts.items()}
        trust_text.append(
            f"at trust weight {w}, the trust of consistency and contact "
            f"{compare(paired(tr['consistency_and_contact'], tr['none']), 'that of `none`')} and "
            f"that of reliability only "
            f"{compare(paired(tr['reliability_only'], tr['consistency_and_contact']), 'that of consistency and contact')}")
        diff = paired(ret["consistency_and_contact"], ret["none"])
        worse.append((w, diff))
        reliability_gain.append(Interval.of(paired(ret["reliability_only"], ret["none"])).mean)
    building = "; ".join(trust_text)
    out["trust_building"] = building[0].upper() + building[1:] + "."
    out["trust_reliability"] = (
        f"Reliability's retention lead over `none` is {span(reliability_gain)} of the cohort "
        "across the trust weights")
    worse_text = "; ".join(f"at trust weight {w} it {compare(d, 'that of `none`')}"
                           for w, d in worse)
    lower = [w for w, d in worse if Interval.of(d).sign < 0]
    out["trust_worse"] = (
        "Retention under consistency and contact, paired with `none`: " + worse_text + ". The "
        f"mean difference {trend([Interval.of(d).mean for _, d in worse])} as the trust weight "
        "rises.")
    default = "2.5" if "2.5" in [str(w) for w in weights] else weights[len(weights) // 2]
    pts = strategy_points(res, names, trust_weight=default)
    week = min(78, horizon_of(res))
    cc, no = pts["consistency_and_contact"], pts["none"]
    nps52 = (values(res, cc, "nps", 52).mean(), values(res, no, "nps", 52).mean())
    burn = (values(res, cc, "burnout", week), values(res, no, "burnout", week))
    backlog = (values(res, cc, "backlog", week).mean(), values(res, no, "backlog", week).mean())
    active = (values(res, cc, "active").mean(), values(res, no, "active").mean())
    desk = (f"At the default trust weight ({default}): NPS at week 52 under consistency and "
            f"contact against `none` is {ratio(*nps52)}; at week {week} the desk's burnout under "
            f"consistency and contact, {number(burn[0].mean())} on average, "
            f"{compare(paired(*burn), f'that under `none`, {number(burn[1].mean())} on average')}"
            f", and its backlog is {ratio(*backlog)}; active customers at the horizon (cohort "
            f"and newcomers) number {ratio(*active)}.")
    if lower:
        out["trust_surprise"] = (
            "**The surprise.** At trust weight " + listing(str(w) for w in lower) + ", spending "
            "everything on consistency and contact leaves the cohort *worse* off than spending "
            "nothing (the intervals lie below zero). " + desk + " The mechanism is the desk "
            "(section 1, mechanism 2): happier customers recommend more, the customer base "
            "grows faster, and an unfunded desk tips over sooner; the starting cohort then "
            "meets an overloaded desk, unresolved issues and no recoveries, and leaves. A "
            "company that invests in delight must also invest in the capacity its own success "
            "will need.")
    else:
        out["trust_surprise"] = ("Consistency and contact leave retention no lower than doing "
                                 "nothing at every trust weight. " + desk)
    return out


def effort(ctx: Context) -> dict[str, str]:
    """Section 7: effort's weight in churn against recovery quality."""
    res = ctx.run("effort_and_recovery")
    out = {"effort_seeds": seeds_of(res), **grid_figures(ctx, res, "effort")}
    efforts = list(res.points["churn.effort"].drop_duplicates())
    qualities = list(res.points["desk.recovery_quality"].drop_duplicates())
    ret = {(e, q): values(res, point_of(res, **{"churn.effort": e, "desk.recovery_quality": q}),
                          "cohort_retention") for e in efforts for q in qualities}
    out["effort_table"] = table([
        {"effort weight in churn": e,
         **{f"retention, recovery {q}": interval(ret[e, q]) for q in qualities}}
        for e in efforts])
    lo_e, hi_e, lo_q, hi_q = efforts[0], efforts[-1], qualities[0], qualities[-1]
    effort_cost = [Interval.of(paired(ret[lo_e, q], ret[hi_e, q])) for q in qualities]
    recovery_gain = [Interval.of(paired(ret[e, hi_q], ret[e, lo_q])) for e in efforts]
    out["effort_shape"] = (
        f"Moving effort's weight in the renewal decision from {lo_e:g} to {hi_e:g} costs "
        f"{span(iv.mean for iv in effort_cost)} of the cohort (the cost's interval lies above "
        f"zero at {sum(iv.sign > 0 for iv in effort_cost)} of {len(qualities)} recovery "
        f"qualities). From a poor ({lo_q:g}) to an excellent ({hi_q:g}) recovery adds "
        f"{span(iv.mean for iv in recovery_gain)} of the cohort (above zero at "
        f"{sum(iv.sign > 0 for iv in recovery_gain)} of {len(efforts)} effort weights); the gain "
        f"{trend([iv.mean for iv in recovery_gain])} as effort weighs more.")
    return out


def overload(ctx: Context) -> dict[str, str]:
    """Section 7: a desk that is outgrown, and two ways to spend 300 a week on it."""
    res = ctx.run("desk_overload")
    names = ["none", "capacity_only", "capacity_and_staff"]
    out = {"overload_seeds": seeds_of(res), **grid_figures(ctx, res, "overload"),
           "overload_table": strategies_table(
               res, "desk.base_capacity", names,
               {"cohort_retention": "retention at the horizon", "burnout": "burnout at the horizon",
                "backlog": "backlog at the horizon"}, "none")}
    sentences, kept = [], []
    for c in res.points["desk.base_capacity"].drop_duplicates():
        pts = strategy_points(res, names, **{"desk.base_capacity": c})
        ret = {n: values(res, p, "cohort_retention") for n, p in pts.items()}
        burn = {n: values(res, p, "burnout") for n, p in pts.items()}
        kept.append(f"{number(ret['none'].mean())} at base capacity {c}")
        sentences.append(
            f"at base capacity {c}, the retention of capacity and staff care "
            f"{compare(paired(ret['capacity_and_staff'], ret['capacity_only']), 'that of capacity only')}"
            f"; {seeds_differ(ret['capacity_and_staff'], ret['capacity_only'])}, and burnout at "
            f"the horizon is {number(burn['capacity_and_staff'].mean())} against "
            f"{number(burn['capacity_only'].mean())}")
    out["overload_none"] = ("Under `none` the share of the cohort kept at the horizon is "
                            + listing(kept))
    out["overload_staff"] = ("At the same 300 a week, moving 40% from capacity to staff care: "
                             + "; ".join(sentences) + ".")
    return out


def baseline_figures(ctx: Context) -> dict[str, str]:
    """The baseline under `none`: the figures docs/model.md quotes for its calibration."""
    seeds = ctx.seeds or max(20, int(round(200 * ctx.scale)))
    scenario = load_scenario(ROOT / "scenarios" / "baseline.toml", ctx.overrides)
    steps = simulate([scenario.with_strategy("none")], seeds=seeds).steps
    by_week = steps.pivot(index="seed", columns="step", values="cohort_retention")
    horizon = int(steps["step"].max())

    def monthly_churn(start: int, end: int) -> np.ndarray:
        """Average monthly cohort churn between two weeks (13 four-week months a year)."""
        months = (end - start) / 4
        return 1 - (by_week[end] / by_week[start]) ** (1 / months)

    years = [(52 * y, 52 * (y + 1)) for y in range(3) if 52 * (y + 1) <= horizon]
    contacts = steps[(steps["step"] >= 5) & (steps["step"] <= min(52, horizon))]
    weekly_contacts = contacts.groupby("step")["contacts"].mean()
    burnout = steps.groupby("step")["burnout"].mean()
    expectation = steps.groupby("step")["expectation"].mean()
    rows = [("seeds (root seed 0)", str(seeds)),
            (f"cohort retention at week {horizon}", interval(by_week[horizon])),
            ("cohort churn in the first month (weeks 0–4)", interval(1 - by_week[4] / by_week[0]))]
    rows += [(f"average monthly cohort churn in year {i + 1}", interval(monthly_churn(a, b)))
             for i, (a, b) in enumerate(years)]
    rows += [("contacts a week, weeks 5–52: mean (lowest–highest weekly mean)",
              f"{number(weekly_contacts.mean())} ({number(weekly_contacts.min())}–"
              f"{number(weekly_contacts.max())})")]
    rows += [(f"desk burnout at week {w}", number(burnout[w])) for w in (104, 156) if w <= horizon]
    rows += [(f"mean expectation, week 0 → week {horizon}",
              f"{number(expectation[0])} → {number(expectation[horizon])}")]
    return {"baseline_table": pd.DataFrame(rows, columns=["figure", "value"])
            .to_markdown(index=False)}


#: One function per section, in page order; each returns its placeholders' text.
def fill(template: str, values_: dict) -> str:
    """Fill ``{{name}}`` placeholders; a missing one is an error, not a blank."""
    missing = set(re.findall(r"{{(\w+)}}", template)) - set(values_)
    if missing:
        raise KeyError(f"findings template needs: {', '.join(sorted(missing))}")
    return re.sub(r"{{(\w+)}}", lambda m: values_[m.group(1)], template)


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds-scale", type=float, default=1.0)
    parser.add_argument("--seeds", type=int, help="seeds for every study (overrides the scale)")
    parser.add_argument("--set", action="append", default=[], dest="overrides",
                        help="scenario override applied to every study, e.g. cohort=300")
    parser.add_argument("--out", type=Path, default=DOCS, help="folder of findings.md and figures/")
    parser.add_argument("--store", type=Path, default=ROOT / "results" / "findings")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse finished study folders in the store")
    parser.add_argument("--only-diagnostics", action="store_true",
                        help="regenerate section 8 (the customers against CX research) alone, "
                             "in place in the existing findings.md")
    args = parser.parse_args(argv)
    ctx = Context(out=args.out, store=args.store, scale=args.seeds_scale, seeds=args.seeds,
                  overrides=args.overrides, reuse=args.reuse)
    started = time.perf_counter()
    out: dict[str, str] = {}
    page = args.out / "findings.md"
    if args.only_diagnostics:
        text = page.read_text(encoding="utf-8")
        page.write_text(replace_section(text, cx_research(ctx)["cx_research"]), encoding="utf-8")
        return page
    for stale in (ctx.out / "figures").glob("*.png"):  # every figure is drawn again
        stale.unlink()
    for section in SECTIONS:
        out.update(section(ctx))
    quick = [f"{ctx.seeds} seeds per study" if ctx.seeds else
             f"{ctx.scale:g} of each study's seeds" if ctx.scale != 1.0 else "",
             f"the overrides {', '.join(ctx.overrides)}" if ctx.overrides else ""]
    quick = [q for q in quick if q]
    out["scale_note"] = ("" if not quick else
                         f"\n> **Quick pass:** generated with {' and '.join(quick)}; the numbers "
                         "are not those of `make findings`.\n")
    template = (DOCS / "findings_template.md").read_text(encoding="utf-8")
    page.write_text(fill(template, out), encoding="utf-8")
    print(f"wrote {page} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return page


# ------------------------------------------------------- how sure is the verdict (robust)

ROBUST_STUDY = "robust_headline"
#: worlds of a quick pass (``--seeds``): enough for every policy to meet varied worlds
QUICK_WORLDS = 24
#: conditions whose worlds the section explains, with the words that say them
ROBUST_CONDITIONS = (
    ("reactive.cohort_retention > proactive.cohort_retention",
     "reactive service keeps more customers than proactive design"),
    ("balanced.cohort_retention > proactive.cohort_retention",
     "the balanced mix keeps more customers than proactive design"),
    ("none.profit_total > proactive.profit_total",
     "spending nothing makes more profit than proactive design"),
)


def robust_verdict(ctx: Context) -> dict[str, str]:
    """The opening section: the headline strategies over the worlds of the uncertain
    judgements (``cxsim robust``), their regret, best shares and where the answer flips."""
    from simulation.studies.discover import ConditionError, box_words, discover
    from simulation.studies.metrics import robustness
    from simulation.studies.robust import read_robust, run_robust
    from simulation.studies.robust_file import load_robust
    from simulation.studies.tell import write_robust_figures

    path = ROOT / "scenarios" / f"{ROBUST_STUDY}.toml"
    full = load_robust(path).robust
    worlds = QUICK_WORLDS if ctx.seeds else max(QUICK_WORLDS,
                                                int(round(full.design.worlds * ctx.scale)))
    loaded = load_robust(path, worlds=worlds, seeds=ctx.seeds, adaptive=ctx.seeds is None,
                         overrides=ctx.overrides)
    folder = ctx.store / ROBUST_STUDY
    if not ctx.reusable(folder, lambda: run_robust(loaded, folder, resume=True)):
        started = time.perf_counter()
        report = run_robust(loaded, folder)
        print(f"{ROBUST_STUDY}: {worlds} worlds, {report['runs']:,} runs in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    info, worlds_table, outcomes = read_robust(folder)
    study = info["study"]
    table_ = robustness(outcomes, study.objectives)
    names = {"cohort_retention": "retention wk 156", "profit_total": "profit, whole horizon"}
    rows = []
    for row in table_.itertuples():
        rows.append({"outcome": names.get(row.output, row.output), "strategy": row.policy,
                     "mean [5%, 95% of worlds]": f"{number(row.mean)} [{number(row.p5)}, "
                                                 f"{number(row.p95)}]",
                     "± over seeds": number(row.seed_half_width),
                     "regret: mean / p90 / max": f"{number(row.regret_mean)} / "
                                                 f"{number(row.regret_p90)} / "
                                                 f"{number(row.regret_max)}",
                     "best in": f"{row.best_share:.0%}",
                     "meets threshold": "" if pd.isna(row.satisficing)
                     else f"{row.satisficing:.0%} (≥ {number(row.threshold)})"})
    retention = table_[table_["output"] == "cohort_retention"].set_index("policy")
    spread = (retention["p95"] - retention["p5"]).median()
    seeds_half = retention["seed_half_width"].median()
    leader = retention["best_share"].idxmax()
    flips = []
    for condition, words in ROBUST_CONDITIONS:
        try:
            found = discover(worlds_table, outcomes, condition,
                             [p.name for p in study.policies], study.kept_outputs)
        except ConditionError as exc:
            flips.append(f"- Whether {words}: {exc}.")
            continue
        decides = [n for n, v in sorted(found.scores.items(), key=lambda i: -i[1])
                   if v > found.baseline[n]]
        flips.append(f"- Whether {words}: {box_words(found)}. Uncertainties that decide it "
                     f"above chance: {', '.join(decides) or 'none'}.")
    (ctx.out / "figures").mkdir(parents=True, exist_ok=True)
    for source in write_robust_figures(folder, study, worlds_table, outcomes):
        shutil.copyfile(source, ctx.out / "figures" / f"robust_{source.name}")
    seeds = outcomes["seeds"]
    return {
        "robust_worlds": str(outcomes["world"].nunique()),
        "robust_seeds": (f"{seeds.min()}" if seeds.min() == seeds.max()
                         else f"{seeds.min()} to {seeds.max()}"),
        "robust_uncertainties": str(len(study.uncertainties)),
        "robust_table": table(rows),
        "robust_regret_figure": "figures/robust_regret-cohort_retention.png",
        "robust_winmap_figure": "figures/robust_win-map.png",
        "robust_leader": leader,
        "robust_leader_share": f"{retention.loc[leader, 'best_share']:.0%}",
        "robust_spread": number(spread),
        "robust_seed_half": number(seeds_half),
        "robust_flips": "\n".join(flips),
    }


# ------------------------------------- section 8: the customers against CX research

DIAGNOSE_SEEDS = 200     # seeds of the baseline run that `cxsim diagnose` reads
DIAGNOSE_SAMPLE = 0.25   # share of customers recorded (about 24,000 rows per run)
SECTION_BEGIN, SECTION_END = "<!-- section 8: begin -->", "<!-- section 8: end -->"


def cx_research(ctx: Context) -> dict[str, str]:
    """Section 8, rendered from ``findings_diagnostics_template.md``: ``cxsim diagnose`` on
    a baseline run (the commands below, run as a user would), beside published research."""
    folder = ctx.store / "diagnose_baseline"
    seeds = ctx.seeds or max(20, int(round(DIAGNOSE_SEEDS * ctx.scale)))
    cxsim = str(Path(sys.executable).with_name("cxsim"))
    run_args = ["run", "baseline", "--seeds", str(seeds), "--diagnostics",
                "--diagnostics-sample", str(DIAGNOSE_SAMPLE)]
    for override in ctx.overrides:
        run_args += ["--set", override]
    if folder.exists() and not ctx.reuse:
        shutil.rmtree(folder)
    if not folder.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([cxsim, *run_args, "--out", str(folder)], check=True,
                       capture_output=True, cwd=ROOT)
    report = json.loads(subprocess.run([cxsim, "diagnose", str(folder), "--json"], check=True,
                                       capture_output=True, text=True, cwd=ROOT).stdout)
    label, entry = next(iter(report["variants"].items()))
    fig = entry["all"]
    pct = lambda v: _interval_text(v, pct=True)  # noqa: E731
    num = lambda v: _interval_text(v, pct=False)  # noqa: E731
    churn = fig["churn_by_effort_quartile"]
    lowest, highest = churn["quartiles"][QUARTILES[0]], churn["quartiles"][QUARTILES[-1]]
    out = {
        "diag_commands": f"cxsim {' '.join(run_args)} --out RESULTS; cxsim diagnose RESULTS",
        "diag_seeds": str(report["seeds"]), "diag_sample": f"{DIAGNOSE_SAMPLE:.0%}",
        "diag_strategy": label,
        "diag_problems_never": pct(fig["problems_never_at_desk"]),
        "diag_customers_never": pct(fig["customers_never_at_desk"]),
        "diag_faded": pct(fig["problem_endings"]["faded"]),
        "diag_left_with": pct(fig["problem_endings"]["left"]),
        "diag_desk_end": pct(fig["problem_endings"]["desk"]),
        "diag_self_end": pct(fig["problem_endings"]["self_service"]),
        "diag_effort_table": table([
            {"effort quartile": q, "effort range": f"{lo:.2f} to {hi:.2f}",
             "churn per decision": pct(v)}
            for (q, v), (lo, hi) in zip(churn["quartiles"].items(), churn["effort_ranges"])]),
        "diag_s_before": num(fig["satisfaction_before_failure"]),
        "diag_s_after": num(fig["satisfaction_after_recovery"]),
        "diag_recovery_change": _interval_text(fig["recovery_change"], signed=True),
        "diag_renew_recovery": pct(fig["renewal_after_recovery"]),
        "diag_renew_no_failure": pct(fig["renewal_without_failure"]),
        "diag_renew_gap": _interval_text(fig["recovery_renewal_gap"], pct=True, signed=True),
        "diag_satisfied_defectors": pct(fig["satisfied_defectors"]),
        "diag_contact_or": num(fig["desk_contact_odds_ratio"]),
        "diag_contact_or_mean": f"{fig['desk_contact_odds_ratio']['mean']:.1f}",
        "diag_effort_ratio": f"{highest['mean'] / lowest['mean']:.1f}",
        "diag_recovery_verdict": _verdict(fig["recovery_change"],
                                          ("below", "no different from", "above")),
        "diag_renew_verdict": _verdict(fig["recovery_renewal_gap"],
                                       ("less often than", "as often as", "more often than")),
        "diag_segment_table": table([
            {"segment": name,
             "problems never at the desk": pct(f["problems_never_at_desk"]),
             "customers never at the desk": pct(f["customers_never_at_desk"]),
             "satisfaction change after recovery":
                 _interval_text(f["recovery_change"], signed=True),
             "satisfied defectors": pct(f["satisfied_defectors"]),
             "desk contact odds ratio": num(f["desk_contact_odds_ratio"])}
            for name, f in entry["segments"].items()]),
    }
    template = (DOCS / "findings_diagnostics_template.md").read_text(encoding="utf-8")
    return {"cx_research": f"{SECTION_BEGIN}\n{fill(template, out)}{SECTION_END}\n"}


def _verdict(v: dict, words: tuple[str, str, str]) -> str:
    """The first word if the interval lies below 0, the last if above, else the middle."""
    return words[1 + Interval(v["mean"], v["ci_low"], v["ci_high"]).sign]


def _interval_text(v: dict, pct: bool = False, signed: bool = False) -> str:
    """A ``cxsim diagnose`` figure as 'mean [low, high]'."""
    if v["mean"] is None:
        return "n/a"
    sign = "+" if signed else ""
    fmt = (lambda x: f"{100 * x:{sign}.1f}%") if pct else (lambda x: f"{x:{sign}.3g}")
    return f"{fmt(v['mean'])} [{fmt(v['ci_low'])}, {fmt(v['ci_high'])}]"


def replace_section(page: str, section: str) -> str:
    """The page with section 8 (between its markers) replaced, or appended if absent."""
    if SECTION_BEGIN in page and SECTION_END in page:
        head, rest = page.split(SECTION_BEGIN, 1)
        return head.rstrip("\n") + "\n" + section + rest.split(SECTION_END, 1)[1].lstrip("\n")
    return page.rstrip("\n") + "\n" + section


#: the page's sections, in its order; each returns the placeholders it fills
PATHS = ["reactive", "proactive", "glide to proactive", "glide to reactive",
         "proactive + trigger"]


def best_path(ctx: Context) -> dict[str, str]:
    """Section 9: glide paths and a backlog trigger against the pure camps at one and three
    years, and the optimiser's split beside the named camps."""
    res = ctx.run("glide_path")
    horizon = horizon_of(res)
    pts = {n: point_of(res, strategy=n) for n in PATHS}
    retention = {(n, w): values(res, p, "cohort_retention", step=w)
                 for n, p in pts.items() for w in (52, horizon)}
    profit = {(n, w): cumulative_profit(res, p, w) for n, p in pts.items() for w in (52, horizon)}
    rows = []
    for n, p in pts.items():
        rows.append({"strategy": n,
                     "retention, week 52": interval(retention[n, 52]),
                     f"retention, week {horizon}": interval(retention[n, horizon]),
                     "profit to week 52": interval(profit[n, 52]),
                     f"profit to week {horizon}": interval(profit[n, horizon])})
    sentences = []
    for n in PATHS[2:]:
        for w, when in ((52, "one year"), (horizon, f"{horizon} weeks")):
            sentences.append(
                f"At {when}, the retention of `{n}` "
                + listing(compare(paired(retention[n, w], retention[o, w]), f"`{o}`'s")
                          for o in ("reactive", "proactive"))
                + "; its profit "
                + compare(paired(profit[n, w], profit["proactive", w]), "that of `proactive`")
                + ".")
    from simulation.answers import decision_metrics, decision_words

    decisions, _ = decision_metrics(res)
    out = {"bestpath_seeds": seeds_of(res), "bestpath_table": table(rows),
           "bestpath_shape": " ".join(sentences),
           "bestpath_decisions": decision_words(decisions).to_markdown(index=False),
           "bestpath_figure": ctx.figure(plots.retention_figure(res), "bestpath_retention"),
           "bestpath_outcomes_figure": ctx.figure(plots.panels_figure(res),
                                                  "bestpath_outcomes")}
    return out | optimiser_section(ctx)


def optimiser_section(ctx: Context) -> dict[str, str]:
    """The optimiser's split of the baseline's budget for cumulative profit, confirmed on
    fresh seeds, beside the named camps."""
    from simulation.studies.optimise import load_optimisation, optimise

    path = ROOT / "scenarios" / "optimise" / "allocation.toml"
    spec = load_optimisation(path).spec
    if ctx.seeds:
        settings = {"trials": 8, "seeds": ctx.seeds, "fresh_seeds": ctx.seeds,
                    "confirm_seeds": ctx.seeds, "finalists": 2}
    else:
        settings = {key: max(2, int(round(getattr(spec, key) * ctx.scale)))
                    for key in ("trials", "seeds", "fresh_seeds", "confirm_seeds")}
    loaded = load_optimisation(path, overrides=ctx.overrides, settings=settings)
    folder = ctx.store / "optimise_allocation"
    if folder.exists() and not ctx.reuse:
        shutil.rmtree(folder)
    summary = (json.loads((folder / "optimisation.json").read_text(encoding="utf-8"))
               if ctx.reuse and (folder / "trials.csv").is_file() else optimise(loaded, folder))
    confirm = summary["confirmation"]
    rows = [{"strategy": arm, "cumulative profit": number_interval(g),
             "optimised − strategy (paired)": "" if arm == "optimised" else number_interval(
                 confirm["optimised_minus"][arm], "diff", signed=True)}
            for arm, g in confirm["goal"].items()]
    split = summary["winner"]["strategy"]["allocation"]
    shares = ", ".join(f"{lever.replace('_', ' ')} {share:.2f}" for lever, share in
                       sorted(split.items(), key=lambda x: -x[1]) if share >= 0.01)
    spending = [a for a, shares in summary["named_allocations"].items()
                if sum(shares.values()) > 0]  # the split is searched at the scenario's budget
    best_named = max(spending, key=lambda a: confirm["goal"][a]["mean"])
    diff = confirm["optimised_minus"][best_named]
    verdict = ("above" if diff["diff_low"] > 0 else "below" if diff["diff_high"] < 0
               else "not distinguishable from")
    return {"optimiser_settings": (f"{loaded.spec.trials} candidates x {loaded.spec.seeds} "
                                   f"seeds; the {loaded.spec.finalists} best re-run on "
                                   f"{loaded.spec.fresh_seeds} fresh seeds; the winner judged "
                                   f"on {loaded.spec.confirm_seeds} more"),
            "optimiser_table": table(rows), "optimiser_split": shares,
            "optimiser_verdict": (f"On the confirmation seeds the optimised split is {verdict} "
                                  f"the best named strategy that spends the same budget, "
                                  f"`{best_named}` (difference "
                                  f"{number_interval(diff, 'diff', signed=True)})"),
            "optimiser_figure": ctx.figure(plots.allocation_figure(summary),
                                           "optimiser_allocation")}


def number_interval(values: dict, key: str = "mean", signed: bool = False) -> str:
    """'mean [low, high]' of a summary's entry (``key``, ``key_low``, ``key_high``)."""
    low, high = ("ci_low", "ci_high") if key == "mean" else (f"{key}_low", f"{key}_high")
    return Interval(values[key], values[low], values[high]).text(signed=signed)


SECTIONS = (robust_verdict, headline, frontier, budget, horizon, failure, complexity,
            self_service, personas, service_first, trust, effort, overload, best_path,
            baseline_figures, cx_research)


if __name__ == "__main__":
    main()
