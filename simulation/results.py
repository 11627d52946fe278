"""Results of a simulation: the per-step table, per-run summaries, intervals, the result folder.

A results folder holds ``manifest.json`` (everything needed to reproduce it), ``steps.parquet``
(one row per variant, seed and step), ``runs.parquet`` (one row per variant and seed at the
horizon) and, when asked for, ``events.parquet`` (one row per customer) and the diagnostics
(``episodes.parquet``, ``decisions.parquet``, per-segment columns in ``steps.parquet``; see
``simulation.diagnostics``). ``store`` writes and reads the folders; this module turns what it
reads into results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import layout as L
from .diagnostics import (Diagnostics, RunRecords, decisions_frame, dropped_summary,
                          episodes_frame, segment_columns)
from .manifest import build_manifest
from .scenario import Scenario
from .store import (STUDY_KIND, ResultsError, StudyStore, folder_kind, read_results_folder,
                    write_results_folder)

#: the outputs a summary table shows by default, in order
HEADLINE = ("cohort_retention", "nps", "satisfaction", "trust", "effort", "contacts",
            "profit_total", "clv")


@dataclass
class Results:
    steps: pd.DataFrame
    manifest: dict
    events: pd.DataFrame | None = None
    episodes: pd.DataFrame | None = None
    decisions: pd.DataFrame | None = None
    _runs: pd.DataFrame | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, out, ev, *, variants: list[Scenario], labels, seeds, root_seed,
                    engine, agent_steps, elapsed, records: list[RunRecords] | None = None,
                    diagnostics: Diagnostics | None = None) -> "Results":
        steps = steps_frame(out, labels, seeds)
        events = _events_frame(ev, labels, seeds, variants) if ev is not None else None
        extra, episodes, decisions = {}, None, None
        if records is not None:
            steps = pd.concat([steps, segment_columns(records, variants)], axis=1)
            episodes = episodes_frame(records, labels, seeds, variants)
            decisions = decisions_frame(records, labels, seeds, variants)
            extra["diagnostics"] = diagnostics.as_dict() | {
                "segments": [s.name for s in variants[0].segments],
                "dropped": dropped_summary(records, labels, seeds)}
        manifest = build_manifest(variants=variants, labels=labels, seeds=seeds,
                                  root_seed=root_seed, engine=engine,
                                  agent_steps=agent_steps, elapsed=elapsed, **extra)
        return cls(steps=steps, manifest=manifest, events=events, episodes=episodes,
                   decisions=decisions)

    # ---------------------------------------------------------------------- summaries
    @property
    def labels(self) -> list[str]:
        return list(self.manifest["labels"])

    def summary(self) -> pd.DataFrame:
        """One row per (variant, seed): the horizon's outputs plus the run's totals
        (profit_total, profit_npv, cost_total, spend_total, revenue_total, profit_per_cost,
        clv)."""
        if self._runs is None:
            self._runs = run_summary(self.steps, self.manifest)
        return self._runs

    def compare(self, outputs=HEADLINE, baseline: str | None = None) -> pd.DataFrame:
        return compare_runs(self.summary(), outputs, baseline or self.labels[0])

    def segment_summary(self, outputs=("cohort_retention", "nps", "revenue"),
                        level: float = 0.95) -> pd.DataFrame:
        """Per variant, segment and output: the horizon's mean over seeds with its CI, from
        the per-segment columns a run with diagnostics records (else an empty table)."""
        names = self.manifest.get("diagnostics", {}).get("segments", [])
        last = self.steps.groupby(["variant", "seed"], sort=False).tail(1)
        rows = []
        for label, group in last.groupby("variant", sort=False):
            for name in names:
                for output in outputs:
                    mean, lo, hi = mean_interval(group[f"{output}:{name}"].to_numpy(), level)
                    rows.append({"variant": label, "segment": name, "output": output,
                                 "mean": mean, "ci_low": lo, "ci_high": hi})
        return pd.DataFrame(rows, columns=["variant", "segment", "output", "mean", "ci_low",
                                           "ci_high"])

    def bands(self, column: str, kind: str = "ci") -> pd.DataFrame:
        return step_bands(self.steps, column, kind)

    # ------------------------------------------------------------------------ storage
    def save(self, folder: str | Path) -> Path:
        """Write the results folder; each file appears whole or not at all, and the manifest
        records what each holds."""
        self.manifest = write_results_folder(
            Path(folder), {"steps": self.steps, "runs": self.summary(), "events": self.events,
                           "episodes": self.episodes, "decisions": self.decisions},
            self.manifest)
        return Path(folder)


def steps_frame(out: np.ndarray, labels, seeds) -> pd.DataFrame:
    """(runs, steps, columns) array to the long per-step table of MODEL.md."""
    runs, n_steps, _ = out.shape
    frame = pd.DataFrame(out.reshape(runs * n_steps, L.N_OUT), columns=list(L.STEP_COLUMNS))
    n_seeds = len(seeds)
    frame.insert(0, "seed", np.repeat(np.tile(np.asarray(seeds), runs // n_seeds), n_steps))
    frame.insert(0, "variant", np.repeat(np.repeat(np.asarray(labels, dtype=object), n_seeds),
                                         n_steps))
    for name in L.INTEGER_COLUMNS:
        frame[name] = frame[name].astype(np.int64)
    return frame


def run_summary(steps: pd.DataFrame, manifest: dict) -> pd.DataFrame:
    """Horizon values per run, plus totals that need the whole trajectory."""
    weekly_discount = {label: (1.0 + sc["economics"]["annual_discount_rate"]) ** (1 / 52) - 1
                       for label, sc in zip(manifest["labels"], manifest["scenarios"])}
    cohort = {label: sc["cohort"] for label, sc in zip(manifest["labels"], manifest["scenarios"])}
    last = steps.groupby(["variant", "seed"], sort=False).tail(1).set_index(["variant", "seed"])
    weeks = steps[steps["step"] > 0]  # row 0 is the starting state, not a week lived
    grouped = weeks.groupby(["variant", "seed"], sort=False)
    totals = grouped.agg(profit_total=("profit", "sum"), cost_total=("cost", "sum"),
                         spend_total=("spend", "sum"), revenue_total=("revenue", "sum"))
    discount = (1.0 + weeks["variant"].map(weekly_discount).to_numpy()) ** weeks["step"].to_numpy()
    by_run = [weeks["variant"], weeks["seed"]]
    clv = pd.Series(weeks["cohort_revenue"].to_numpy() / discount,
                    index=weeks.index).groupby(by_run, sort=False).sum()
    npv = pd.Series(weeks["profit"].to_numpy() / discount,
                    index=weeks.index).groupby(by_run, sort=False).sum()
    runs = last.join(totals)
    runs["profit_npv"] = npv
    # the whole business's profit per unit of its whole cost (not a return on the CX spend:
    # that needs a reference strategy, see decision_metrics)
    runs["profit_per_cost"] = np.where(
        runs["cost_total"] > 0,
        runs["profit_total"] / runs["cost_total"].where(runs["cost_total"] > 0), 0.0)
    runs["clv"] = clv / runs.index.get_level_values("variant").map(cohort).to_numpy()
    return runs.reset_index()


def cumulative_profit(steps: pd.DataFrame, by=("variant", "seed")) -> pd.Series:
    """Profit summed over the weeks lived so far (row 0, the starting state, adds nothing)."""
    weekly = steps["profit"].where(steps["step"] > 0, 0.0)
    return weekly.groupby([steps[c] for c in by]).cumsum()


def _t_quantile(level, dof):
    """Two-sided Student t quantile (scipy.special: far quicker to import than scipy.stats)."""
    from scipy.special import stdtrit

    return stdtrit(dof, 0.5 + level / 2)


#: the range each output can take: (low, high), None where it is unbounded on that side.
#: Intervals of these outputs are computed so that they stay inside it (see mean_interval).
_UNIT = (0.0, 1.0)
_NON_NEGATIVE = (0.0, None)
OUTPUT_RANGE = {
    "cohort_retention": _UNIT, "satisfaction": _UNIT, "trust": _UNIT, "expectation": _UNIT,
    "csat": _UNIT, "resolution_rate": _UNIT, "burnout": _UNIT, "mood": (-1.0, 1.0),
    "nps": (-100.0, 100.0), "trigger_share": _UNIT,
    **{name: _NON_NEGATIVE for name in ("active", "cohort_active", "arrivals", "churned",
                                        "effort", "contacts", "served", "backlog", "wait",
                                        "caught", "self_served", "revenue", "cost",
                                        "cohort_revenue", "cost_total", "clv",
                                        "spend", "spend_total", "revenue_total")},
}

#: how the intervals are computed, for reports and the terminal
INTERVAL_METHOD = ("95% confidence interval of the mean over seeds (Student t; for outputs "
                   "with a bounded range, such as shares, NPS and counts, computed on the "
                   "logit or log scale so that it stays within the possible range)")


def mean_interval(values: np.ndarray, level: float = 0.95,
                  bounds: tuple[float | None, float | None] | None = None
                  ) -> tuple[float, float, float]:
    """Mean and its confidence interval (lo, hi) over independent runs.

    Without ``bounds``: the Student t interval. With ``bounds`` (the output's possible
    range): the t interval of the mean on the logit scale (both bounds) or log scale (one
    bound), by the delta method, mapped back, so that few seeds cannot give a share above
    1 or a negative count; with many seeds it is the plain t interval. A single value, or
    values that are all equal, have a zero-width interval.
    """
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = _t_quantile(level, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    if half == 0 or bounds is None:
        return mean, mean - half, mean + half
    return (mean, *_bounded(mean, half, bounds))


def _bounded(mean: float, half: float, bounds) -> tuple[float, float]:
    """The interval mean ± half carried to the scale that respects ``bounds`` and back."""
    low, high = bounds
    if low is not None and high is not None:
        width = high - low
        p = (mean - low) / width
        if not 0 < p < 1:  # at a bound every value is that bound: nothing varies
            return mean, mean
        z = np.log(p / (1 - p))
        dz = half / width / (p * (1 - p))
        lo, hi = (low + width / (1 + np.exp(-(z + s * dz))) for s in (-1, 1))
        return float(lo), float(hi)
    if low is not None:
        shift = mean - low
        if shift <= 0:
            return mean, mean
        factor = np.exp(half / shift)
        return float(low + shift / factor), float(low + shift * factor)
    if high is not None:
        shift = high - mean
        if shift <= 0:
            return mean, mean
        factor = np.exp(half / shift)
        return float(high - shift * factor), float(high - shift / factor)
    return mean - half, mean + half


def compare_runs(runs: pd.DataFrame, outputs, baseline: str, level: float = 0.95) -> pd.DataFrame:
    """Per variant and output: mean with CI, and the paired difference to ``baseline``.

    Runs with the same seed meet the same random numbers, so differences are taken seed by
    seed (paired). ``narrowing`` is how many times narrower the paired interval is than the
    interval from treating the two samples as independent (Welch).
    """
    rows = []
    base = runs[runs["variant"] == baseline].set_index("seed")
    for label, group in runs.groupby("variant", sort=False):
        group = group.set_index("seed")
        for output in outputs:
            mean, lo, hi = mean_interval(group[output].to_numpy(), level,
                                         OUTPUT_RANGE.get(output))
            row = {"variant": label, "output": output, "mean": mean, "ci_low": lo, "ci_high": hi}
            if label != baseline:
                common = group.index.intersection(base.index)
                diff = group.loc[common, output].to_numpy() - base.loc[common, output].to_numpy()
                d_mean, d_lo, d_hi = mean_interval(diff, level)
                unpaired = welch_half_width(group[output].to_numpy(), base[output].to_numpy(),
                                             level)
                paired_half = (d_hi - d_lo) / 2
                row.update(diff=d_mean, diff_low=d_lo, diff_high=d_hi,
                           unpaired_half_width=unpaired,
                           narrowing=unpaired / paired_half if paired_half > 0 else np.inf)
            rows.append(row)
    return pd.DataFrame(rows)


def welch_half_width(a: np.ndarray, b: np.ndarray, level: float) -> float:
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    if se == 0:
        return 0.0
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return float(_t_quantile(level, dof) * se)


def step_bands(steps: pd.DataFrame, column: str, kind: str = "ci",
               level: float = 0.95) -> pd.DataFrame:
    """Per variant and step: the mean and a band.

    ``kind="ci"``: the confidence interval of the mean at ``level`` (as mean_interval,
    within the output's possible range);
    ``kind="spread"``: the 10th to 90th percentile across seeds.
    """
    if kind not in ("ci", "spread"):
        raise ValueError("kind must be 'ci' or 'spread'")
    grouped = steps.groupby(["variant", "step"], sort=False)[column]
    frame = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    if kind == "ci":
        t = _t_quantile(level, np.maximum(frame["n"] - 1, 1))
        half = np.where(frame["n"] > 1, t * frame["sd"].fillna(0) / np.sqrt(frame["n"]), 0.0)
        bounds = OUTPUT_RANGE.get(column)
        ends = [(m - h, m + h) if bounds is None or h == 0 else _bounded(m, h, bounds)
                for m, h in zip(frame["mean"].to_numpy(), half)]
        frame["low"] = [lo for lo, _ in ends]
        frame["high"] = [hi for _, hi in ends]
    else:
        q = grouped.quantile([0.1, 0.9]).unstack()
        frame["low"] = q[0.1].to_numpy()
        frame["high"] = q[0.9].to_numpy()
    return frame[["variant", "step", "mean", "low", "high"]]


def _events_frame(ev: list[np.ndarray], labels, seeds, variants) -> pd.DataFrame:
    """Per customer: join week, churn week (or censored at the horizon), segment name,
    whether a promoter referred them.

    ``ev`` holds one (customers, N_EVENT) array per run (``rules.record_events``).
    """
    n_seeds = len(seeds)
    sizes = np.array([len(e) for e in ev])
    flat = np.concatenate(ev) if ev else np.zeros((0, L.N_EVENT), dtype=np.int64)
    run_of = np.repeat(np.arange(len(ev)), sizes)
    variant_index = run_of // n_seeds
    segment = np.empty(len(flat), dtype=object)
    for vi, variant in enumerate(variants):
        mask = variant_index == vi
        names = np.array([s.name for s in variant.segments], dtype=object)
        segment[mask] = names[flat[mask, L.EV_SEGMENT]]
    horizon = np.array([v.horizon for v in variants])[variant_index]
    churned = flat[:, L.EV_CHURN] != L.STILL_ACTIVE
    return pd.DataFrame({
        "variant": np.asarray(labels, dtype=object)[variant_index],
        "seed": np.asarray(seeds)[run_of % n_seeds],
        "customer": np.concatenate([np.arange(n) for n in sizes]) if len(sizes) else [],
        "join_step": flat[:, L.EV_JOIN],
        "churn_step": np.where(churned, flat[:, L.EV_CHURN], horizon),
        "churned": churned,
        "segment": segment,
        "referred": flat[:, L.EV_REFERRED] == 1,
    })


@dataclass
class StudyResults:
    """A study's store read back: one row per point, per run, and per run and step.

    ``points`` are the design's points. A study with a reference strategy has one more
    point, ``reference`` (its row: point index and label, no parameter values); its runs
    are in ``runs`` and ``steps`` like any other point's.
    """

    points: pd.DataFrame
    runs: pd.DataFrame
    steps: pd.DataFrame
    manifest: dict
    reference: pd.Series | None = None

    def point_labels(self) -> pd.Series:
        """Every point's label by point index, the reference's included."""
        labels = self.points.set_index("point")["label"]
        if self.reference is not None:
            labels = pd.concat([labels, pd.Series({self.reference["point"]:
                                                   self.reference["label"]})])
        return labels


def load_results(folder: str | Path) -> Results | StudyResults:
    """Read a results folder written by ``cxsim run``/``compare`` (Results) or by
    ``cxsim sweep`` (StudyResults). Raises ResultsError for anything else."""
    folder = Path(folder)
    if folder_kind(folder) == STUDY_KIND:
        points, runs, steps, manifest = StudyStore(folder).read()
        reference = None
        if (manifest.get("study") or {}).get("reference"):
            reference = points.iloc[-1][["point", "label"]]
            points = points.iloc[:-1]
        return StudyResults(points=points, runs=runs, steps=steps, manifest=manifest,
                            reference=reference)
    manifest, tables = read_results_folder(folder)
    missing = [c for c in ("variant", "seed", *L.STEP_COLUMNS) if c not in tables["steps"]]
    if missing:
        raise ResultsError(f"{folder / 'steps.parquet'}: columns missing: {', '.join(missing)}")
    tables.pop("runs")
    return Results(manifest=manifest, **tables)
