"""Results of a simulation: the per-step table, per-run summaries, intervals, the result folder.

A results folder holds ``manifest.json`` (everything needed to reproduce it), ``steps.parquet``
(one row per variant, seed and step), ``runs.parquet`` (one row per variant and seed at the
horizon) and, when asked for, ``events.parquet`` (one row per customer) and the diagnostics
(``episodes.parquet``, ``decisions.parquet``, per-segment columns in ``steps.parquet``; see
``simulation.diagnostics``).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import layout as L
from .diagnostics import (Diagnostics, RunRecords, decisions_frame, dropped_summary,
                          episodes_frame, segment_columns)
from .manifest import build_manifest
from .scenario import Scenario

#: the outputs a summary table shows by default, in order
HEADLINE = ("cohort_retention", "nps", "satisfaction", "trust", "effort", "contacts",
            "profit_total", "clv")


class ResultsError(Exception):
    """A results folder that cannot be read (missing, corrupt or not cxsim's)."""


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
        """One row per (variant, seed): the horizon's outputs plus profit_total, roi, clv."""
        if self._runs is None:
            self._runs = run_summary(self.steps, self.manifest)
        return self._runs

    def compare(self, outputs=HEADLINE, baseline: str | None = None) -> pd.DataFrame:
        return compare_runs(self.summary(), outputs, baseline or self.labels[0])

    def bands(self, column: str, kind: str = "ci") -> pd.DataFrame:
        return step_bands(self.steps, column, kind)

    # ------------------------------------------------------------------------ storage
    def save(self, folder: str | Path) -> Path:
        """Write the results folder; each file appears whole or not at all."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_parquet(self.steps, folder / "steps.parquet")
        _atomic_parquet(self.summary(), folder / "runs.parquet")
        for name in ("events", "episodes", "decisions"):
            if getattr(self, name) is not None:
                _atomic_parquet(getattr(self, name), folder / f"{name}.parquet")
        _atomic_write(folder / "manifest.json", json.dumps(self.manifest, indent=2))
        return folder


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
    totals = grouped.agg(profit_total=("profit", "sum"), cost_total=("cost", "sum"))
    rate = weeks["variant"].map(weekly_discount).to_numpy()
    discounted = weeks["cohort_revenue"].to_numpy() / (1.0 + rate) ** weeks["step"].to_numpy()
    clv = (pd.Series(discounted, index=weeks.index).groupby([weeks["variant"], weeks["seed"]],
                                                             sort=False).sum())
    runs = last.join(totals)
    runs["roi"] = np.where(runs["cost_total"] > 0,
                           runs["profit_total"] / runs["cost_total"].where(runs["cost_total"] > 0),
                           0.0)
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


def mean_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and its t confidence interval (lo, hi); a single value has a zero-width interval."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = _t_quantile(level, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


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
            mean, lo, hi = mean_interval(group[output].to_numpy(), level)
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

    ``kind="ci"``: the t confidence interval of the mean at ``level``;
    ``kind="spread"``: the 10th to 90th percentile across seeds.
    """
    if kind not in ("ci", "spread"):
        raise ValueError("kind must be 'ci' or 'spread'")
    grouped = steps.groupby(["variant", "step"], sort=False)[column]
    frame = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    if kind == "ci":
        t = _t_quantile(level, np.maximum(frame["n"] - 1, 1))
        half = np.where(frame["n"] > 1, t * frame["sd"].fillna(0) / np.sqrt(frame["n"]), 0.0)
        frame["low"] = frame["mean"] - half
        frame["high"] = frame["mean"] + half
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


# ------------------------------------------------------------------------ folder I/O

def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


RESULTS_KIND = "cxsim-results"
STUDY_KIND = "cxsim-study"


def read_manifest(folder: Path, kinds=(RESULTS_KIND, STUDY_KIND)) -> dict:
    """The manifest of a cxsim results folder of one of ``kinds`` (else ResultsError)."""
    path = folder / "manifest.json"
    if not folder.is_dir():
        raise ResultsError(f"{folder}: no such results folder")
    if not path.is_file():
        raise ResultsError(f"{path}: missing; not a cxsim results folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: corrupt JSON ({exc.__class__.__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("kind") not in kinds:
        raise ResultsError(f"{path}: kind: expected {' or '.join(map(repr, kinds))}; "
                           "not a cxsim results folder of that kind")
    return manifest


@dataclass
class StudyResults:
    """A study's store read back: one row per point, per run, and per run and step."""

    points: pd.DataFrame
    runs: pd.DataFrame
    steps: pd.DataFrame
    manifest: dict


def load_results(folder: str | Path) -> Results | StudyResults:
    """Read a results folder written by ``cxsim run``/``compare`` (Results) or by
    ``cxsim sweep`` (StudyResults). Raises ResultsError for anything else."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest["kind"] == STUDY_KIND:
        from .store import StudyStore

        points, runs, steps, manifest = StudyStore(folder).read()
        return StudyResults(points=points, runs=runs, steps=steps, manifest=manifest)
    tables = {}
    for name in ("steps", "events", "episodes", "decisions"):
        path = folder / f"{name}.parquet"
        if name != "steps" and not path.is_file():
            tables[name] = None
            continue
        try:
            tables[name] = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise ResultsError(f"{path}: unreadable ({type(exc).__name__})") from None
    steps = tables.pop("steps")
    missing = [c for c in ("variant", "seed", *L.STEP_COLUMNS) if c not in steps.columns]
    if missing:
        raise ResultsError(f"{folder / 'steps.parquet'}: columns missing: {', '.join(missing)}")
    return Results(steps=steps, manifest=manifest, **tables)
