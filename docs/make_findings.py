"""Regenerate docs/findings.md and docs/figures/ from the bundled studies (``make findings``).

Every number on the findings page is computed here from a fresh run of a study in
``scenarios/``; the prose around the numbers is in ``findings_template.md``, whose
``{{name}}`` placeholders this script fills. ``--seeds-scale 0.1`` runs every study with a
tenth of its seeds for a quick look (the page then says so).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from simulation import plots, results
from simulation.diagnose import QUARTILES
from simulation.results import load_results, mean_interval, welch_half_width
from simulation.study import load_study
from simulation.sweep import run_study

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FIGURES = DOCS / "figures"
STORE = ROOT / "results" / "findings"


# ----------------------------------------------------------------------------- helpers

def run(name: str, scale: float, reuse: bool):
    """Run study ``scenarios/<name>.toml`` (or reuse a finished store) and load it."""
    path = ROOT / "scenarios" / f"{name}.toml"
    full = load_study(path)
    seeds = max(20, int(round(full.study.seeds * scale)))
    loaded = load_study(path, seeds=seeds)
    folder = STORE / name
    if folder.exists() and not reuse:
        shutil.rmtree(folder)
    started = time.perf_counter()
    if not folder.exists():
        run_study(loaded, folder)
        print(f"{name}: {len(loaded.points)} points x {seeds} seeds in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    return loaded, load_results(folder)


def ci_text(values, digits: int = 3, pct: bool = False, signed: bool = False) -> str:
    mean, low, high = mean_interval(np.asarray(values, dtype=float))
    fmt = (lambda v: f"{100 * v:{'+' if signed else ''}.{max(digits - 2, 1)}f}%") if pct else \
        (lambda v: _num(v, digits, signed))
    return f"{fmt(mean)} [{fmt(low)}, {fmt(high)}]"


def _num(v: float, digits: int, signed: bool) -> str:
    sign = "+" if signed else ""
    if abs(v) >= 1e6:
        return f"{v / 1e6:{sign}.{digits}g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:{sign}.{digits}g}k"
    return f"{v:{sign}.{digits}g}"


def values(res, point: int, output: str, step: int | None = None) -> pd.Series:
    if step is None:
        frame = res.runs[res.runs["point"] == point]
    else:
        frame = res.steps[(res.steps["point"] == point) & (res.steps["step"] == step)]
    return frame.set_index("seed")[output]


def cumulative_profit(res, point: int, step: int) -> pd.Series:
    """Profit of weeks 1..step, per seed (the rule of ``results.cumulative_profit``)."""
    frame = res.steps[res.steps["point"] == point]
    running = results.cumulative_profit(frame, by=("seed",))
    at_step = frame["step"] == step
    return pd.Series(running[at_step].to_numpy(), index=frame.loc[at_step, "seed"])


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
    common = a.index.intersection(b.index)
    return (a.loc[common] - b.loc[common]).to_numpy(dtype=float)


def table(rows: list[dict]) -> str:
    return pd.DataFrame(rows).to_markdown(index=False)


def save(fig, name: str) -> str:
    plots.save(fig, FIGURES / f"{name}.png")
    return f"figures/{name}.png"


def best_mix(res, fixed: dict, output: str, step: int | None = None,
             cumulative: bool = False) -> tuple[float, str]:
    """The mix with the highest mean ``output`` among points matching ``fixed``."""
    pts = res.points
    mask = pd.Series(True, index=pts.index)
    for column, value in fixed.items():
        mask &= pts[column].astype(str) == str(value)
    best, best_mean, best_point = None, -np.inf, None
    for _, row in pts[mask].iterrows():
        p = int(row["point"])
        v = cumulative_profit(res, p, step) if cumulative else values(res, p, output, step)
        if v.mean() > best_mean:
            best, best_mean, best_point = float(row["strategy.mix"]), v.mean(), p
    v = cumulative_profit(res, best_point, step) if cumulative else values(res, best_point, output, step)
    return best, ci_text(v)


# --------------------------------------------------------------------------- sections

def headline(scale, reuse, out: dict) -> None:
    loaded, res = run("headline", scale, reuse)
    out["headline_seeds"] = str(loaded.study.seeds)
    out["headline_retention_figure"] = save(plots.retention_figure(res), "headline_retention")
    out["headline_outcomes_figure"] = save(plots.panels_figure(res), "headline_outcomes")
    names = ["none", "reactive", "proactive", "balanced"]
    points = {n: point_of(res, **{"strategy.name": n}) for n in names}
    rows = []
    for n in names:
        p = points[n]
        rows.append({"strategy": n,
                     "retention wk 52": ci_text(values(res, p, "cohort_retention", 52)),
                     "retention wk 156": ci_text(values(res, p, "cohort_retention", 156)),
                     "NPS wk 156": ci_text(values(res, p, "nps", 156), 2),
                     "profit, 3 years": ci_text(values(res, p, "profit_total")),
                     "CLV / customer": ci_text(values(res, p, "clv"))})
    out["headline_table"] = table(rows)
    react, proact = points["reactive"], points["proactive"]
    diff_rows = []
    for week in (4, 8, 13, 26, 39, 52, 78, 104, 156):
        d_ret = paired(values(res, proact, "cohort_retention", week),
                       values(res, react, "cohort_retention", week))
        d_profit = paired(cumulative_profit(res, proact, week),
                          cumulative_profit(res, react, week))
        diff_rows.append({"week": week,
                          "retention, proactive − reactive": ci_text(d_ret, 3, signed=True),
                          "cumulative profit, proactive − reactive": ci_text(d_profit, 3,
                                                                             signed=True)})
    out["headline_differences"] = table(diff_rows)
    crossing = _stays_ahead_from(
        lambda week: paired(values(res, proact, "cohort_retention", week),
                            values(res, react, "cohort_retention", week)), res)
    profit_crossing = _stays_ahead_from(
        lambda week: paired(cumulative_profit(res, proact, week),
                            cumulative_profit(res, react, week)), res)
    out["crossing_retention"] = str(crossing) if crossing else "never within the horizon"
    out["crossing_profit"] = str(profit_crossing) if profit_crossing else "never within the horizon"
    d_none = paired(values(res, react, "cohort_retention", 26),
                    values(res, points["none"], "cohort_retention", 26))
    out["reactive_vs_none_26"] = ci_text(d_none, 3, signed=True)
    paired_ci = mean_interval(paired(values(res, proact, "cohort_retention"),
                                     values(res, react, "cohort_retention")))
    welch = welch_half_width(values(res, proact, "cohort_retention").to_numpy(),
                              values(res, react, "cohort_retention").to_numpy(), 0.95)
    out["pairing_narrowing"] = f"{welch / ((paired_ci[2] - paired_ci[1]) / 2):.1f}"


def _stays_ahead_from(difference, res) -> int | None:
    """The first week from which the difference's CI stays above 0 to the horizon."""
    horizon = int(res.steps["step"].max())
    first = None
    for week in range(horizon, 0, -1):
        if mean_interval(difference(week))[1] <= 0:
            break
        first = week
    return first


def frontier(scale, reuse, out: dict) -> None:
    loaded, res = run("mix_sweep", scale, reuse)
    out["frontier_seeds"] = str(loaded.study.seeds)
    out["frontier_figure"] = save(plots.frontier_figure(res, "strategy.mix"), "frontier")
    best, text = best_mix(res, {}, "cohort_retention")
    out["frontier_best_retention"] = f"{best:g} (retention {text})"
    best, text = best_mix(res, {}, "profit_total")
    out["frontier_best_profit"] = f"{best:g} (profit {text})"
    ends = {m: point_of(res, **{"strategy.mix": m}) for m in (0.0, 0.5, 1.0)}
    out["frontier_half_vs_pure"] = ci_text(paired(values(res, ends[0.5], "cohort_retention"),
                                                  values(res, ends[1.0], "cohort_retention")),
                                           3, signed=True)


def horizon(scale, reuse, out: dict) -> None:
    loaded, res = run("mix_by_horizon", scale, reuse)
    out["horizon_seeds"] = str(loaded.study.seeds)
    weeks = (13, 26, 52, 104, 156, 260)
    rows = []
    fig, axes = plots.plt.subplots(1, 2, figsize=(13, 5), dpi=100)
    mixes = sorted(res.points["strategy.mix"].astype(float))
    for week in weeks:
        best_r, text_r = best_mix(res, {}, "cohort_retention", week)
        best_p, text_p = best_mix(res, {}, "profit", week, cumulative=True)
        rows.append({"week": week, "best mix for retention": f"{best_r:g}",
                     "its retention": text_r, "best mix for cumulative profit": f"{best_p:g}",
                     "its cumulative profit": text_p})
        ret = [values(res, point_of(res, **{"strategy.mix": m}), "cohort_retention", week).mean()
               for m in mixes]
        prof = [cumulative_profit(res, point_of(res, **{"strategy.mix": m}), week).mean()
                for m in mixes]
        base_r, base_p = ret[0], prof[0]
        axes[0].plot(mixes, np.array(ret) - base_r, marker="o", label=f"week {week}")
        axes[1].plot(mixes, np.array(prof) - base_p, marker="o", label=f"week {week}")
    axes[0].set_ylabel("retention minus that of mix 0 (share of cohort)")
    axes[1].set_ylabel("cumulative profit minus that of mix 0 (currency)")
    for ax in axes:
        ax.set_xlabel("strategy.mix (0 = all reactive, 1 = all proactive)")
        ax.axhline(0, color="grey", lw=0.8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    plots._money_axis(axes[1])
    fig.suptitle(f"Gain over all-reactive by mix, read at different horizons "
                 f"(means of {loaded.study.seeds} paired seeds)")
    fig.tight_layout()
    out["horizon_figure"] = save(fig, "mix_by_horizon")
    out["horizon_table"] = table(rows)


def grid_best(name: str, row_param: str, scale, reuse, out: dict, key: str,
              row_title: str) -> None:
    loaded, res = run(name, scale, reuse)
    out[f"{key}_seeds"] = str(loaded.study.seeds)
    rows = []
    for value in res.points[row_param].drop_duplicates():
        best_r, text_r = best_mix(res, {row_param: value}, "cohort_retention")
        best_p, text_p = best_mix(res, {row_param: value}, "profit_total")
        rows.append({row_title: value, "best mix for retention": f"{best_r:g}",
                     "its retention": text_r, "best mix for profit": f"{best_p:g}",
                     "its profit": text_p})
    out[f"{key}_table"] = table(rows)
    varied = [p.path for p in loaded.study.parameters]
    out[f"{key}_figure"] = save(plots.heatmap_figure(res, varied, "cohort_retention"),
                                f"{key}_retention")
    out[f"{key}_profit_figure"] = save(plots.heatmap_figure(res, varied, "profit_total"),
                                       f"{key}_profit")


def strategies_table(name: str, row_param: str, names: list[str], scale, reuse, out: dict,
                     key: str, outputs: dict[str, str], reference: str) -> None:
    loaded, res = run(name, scale, reuse)
    out[f"{key}_seeds"] = str(loaded.study.seeds)
    rows = []
    for value in res.points[row_param].drop_duplicates():
        ref = point_of(res, **{row_param: value, "strategy.name": reference})
        for n in names:
            p = point_of(res, **{row_param: value, "strategy.name": n})
            row = {row_param: value, "strategy": n}
            for output, title in outputs.items():
                row[title] = ci_text(values(res, p, output), 3)
            row[f"retention − {reference} (paired)"] = "(reference)" if n == reference else \
                ci_text(paired(values(res, p, "cohort_retention"),
                               values(res, ref, "cohort_retention")), 3, signed=True)
            rows.append(row)
    out[f"{key}_table"] = table(rows)
    varied = [p.path for p in loaded.study.parameters]
    out[f"{key}_figure"] = save(plots.heatmap_figure(res, varied, "cohort_retention"),
                                f"{key}_retention")


def fill(template: str, values_: dict) -> str:
    missing = set(re.findall(r"{{(\w+)}}", template)) - set(values_)
    if missing:
        raise KeyError(f"findings template needs: {', '.join(sorted(missing))}")
    return re.sub(r"{{(\w+)}}", lambda m: values_[m.group(1)], template)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds-scale", type=float, default=1.0)
    parser.add_argument("--reuse", action="store_true",
                        help="reuse finished study folders in results/findings/")
    parser.add_argument("--only-diagnostics", action="store_true",
                        help="regenerate section 8 (the customers against CX research) alone, "
                             "in place in the existing findings.md")
    args = parser.parse_args(argv)
    FIGURES.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    out: dict[str, str] = {}
    s, r = args.seeds_scale, args.reuse
    if args.only_diagnostics:
        page = (DOCS / "findings.md").read_text(encoding="utf-8")
        (DOCS / "findings.md").write_text(replace_section(page, diagnostics_section(s, r)),
                                          encoding="utf-8")
        return
    headline(s, r, out)
    frontier(s, r, out)
    horizon(s, r, out)
    grid_best("budget_mix_grid", "strategy.budget", s, r, out, "budget", "weekly budget")
    grid_best("mix_by_failure", "touchpoints.*.failure_rate*", s, r, out, "failure",
              "failure rates x")
    grid_best("mix_by_complexity", "touchpoints.*.complexity*", s, r, out, "complexity",
              "complexity x")
    grid_best("self_service_vs_guided", "touchpoints.*.complexity*", s, r, out, "selfservice",
              "complexity x")
    grid_best("personas", "population", s, r, out, "personas", "population")
    strategies_table("service_first", "strategy.budget",
                     ["none", "reactive", "service", "proactive", "balanced"], s, r, out,
                     "servicefirst", {"cohort_retention": "retention wk 156",
                                      "trust": "trust", "profit_total": "profit, 3 years"},
                     "proactive")
    strategies_table("trust_consistency", "trust_weight",
                     ["none", "consistency_and_contact", "reliability_only"], s, r, out,
                     "trust", {"trust": "trust wk 156", "cohort_retention": "retention wk 156"},
                     "none")
    strategies_table("desk_overload", "desk.base_capacity",
                     ["none", "capacity_only", "capacity_and_staff"], s, r, out, "overload",
                     {"cohort_retention": "retention wk 156", "burnout": "burnout wk 156",
                      "backlog": "backlog wk 156"}, "none")
    grid_effort(s, r, out)
    out["scale_note"] = ("" if s == 1.0 else
                         f"\n> **Quick pass:** generated with {s:g} of each study's seeds; "
                         "intervals are wider than those of `make findings`.\n")
    template = (DOCS / "findings_template.md").read_text(encoding="utf-8")
    (DOCS / "findings.md").write_text(fill(template, out) + diagnostics_section(s, r),
                                      encoding="utf-8")
    print(f"wrote {DOCS / 'findings.md'} in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)


def grid_effort(scale, reuse, out: dict) -> None:
    loaded, res = run("effort_and_recovery", scale, reuse)
    out["effort_seeds"] = str(loaded.study.seeds)
    rows = []
    for effort in res.points["churn.effort"].drop_duplicates():
        row = {"effort weight in churn": effort}
        for quality in res.points["desk.recovery_quality"].drop_duplicates():
            p = point_of(res, **{"churn.effort": effort, "desk.recovery_quality": quality})
            row[f"retention, recovery {quality}"] = ci_text(values(res, p, "cohort_retention"))
        rows.append(row)
    out["effort_table"] = table(rows)
    varied = [p.path for p in loaded.study.parameters]
    out["effort_figure"] = save(plots.heatmap_figure(res, varied, "cohort_retention"),
                                "effort_recovery_retention")


# ------------------------------------- section 8: the customers against CX research

DIAGNOSE_SEEDS = 200     # seeds of the baseline run that `cxsim diagnose` reads
DIAGNOSE_SAMPLE = 0.25   # share of customers recorded (about 24,000 rows per run)
SECTION_BEGIN, SECTION_END = "<!-- section 8: begin -->", "<!-- section 8: end -->"


def diagnostics_section(scale: float, reuse: bool) -> str:
    """Section 8, rendered from ``findings_diagnostics_template.md``: ``cxsim diagnose`` on
    a baseline run (the commands below, run as a user would), beside published research."""
    folder = STORE / "diagnose_baseline"
    seeds = max(20, int(round(DIAGNOSE_SEEDS * scale)))
    cxsim = str(Path(sys.executable).with_name("cxsim"))
    run_args = ["run", "baseline", "--seeds", str(seeds), "--diagnostics",
                "--diagnostics-sample", str(DIAGNOSE_SAMPLE)]
    if folder.exists() and not reuse:
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
    return f"\n{SECTION_BEGIN}\n{fill(template, out)}{SECTION_END}\n"


def _verdict(v: dict, words: tuple[str, str, str]) -> str:
    """The first word if the interval lies below 0, the last if above, else the middle."""
    return words[0] if v["ci_high"] < 0 else (words[2] if v["ci_low"] > 0 else words[1])


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


if __name__ == "__main__":
    main()
