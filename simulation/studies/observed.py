"""Observed data: what a company measured, read and checked into one table of observations.

Two kinds of file, CSV or Parquet (by extension):

- ``weekly``: a week column and one column per measured output, at any set of weeks
  (weekly, monthly, yearly). Week 0 is the start of the simulation.
- ``customers``: one row per customer, ``join_week`` and ``leave_week`` (empty while the
  customer stays). The customers who joined in week 0 are the cohort; its retention curve
  at week t is the share of them whose ``leave_week`` is empty or later than t (a customer
  who leaves in week t is gone at week t, as in the simulation's events).

Every problem is one line naming the data file and the column.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..layout import STEP_COLUMNS
from ..results import OUTPUT_RANGE
from ..scenario import ScenarioError
from .calibration_file import Column, LoadedCalibration, ObservedFile

#: outputs a column may be: the simulation's weekly outputs
OBSERVABLE = tuple(c for c in STEP_COLUMNS if c != "step")


@dataclass(frozen=True)
class Series:
    """One observed output at its weeks, and how it is compared with the simulation."""

    name: str            # "file: column", for tables and messages
    output: str
    column: Column
    weeks: np.ndarray    # increasing, distinct, >= 1 (week 0 is the known start)
    values: np.ndarray

    def until(self, week: int | None) -> "Series":
        """The observations up to ``week`` (all of them when None)."""
        if week is None:
            return self
        keep = self.weeks <= week
        return Series(self.name, self.output, self.column, self.weeks[keep], self.values[keep])


def _read_frame(path: Path, where: str) -> pd.DataFrame:
    if not path.is_file():
        raise ScenarioError([f"{where}: no such file {path}"])
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except Exception as exc:  # pandas and pyarrow raise many types for unreadable files
        raise ScenarioError([f"{path}: unreadable ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:120] if str(exc) else ''})"]) from None
    raise ScenarioError([f"{where}: {path.name}: expected a .csv or .parquet file"])


def _numbers(frame: pd.DataFrame, column: str, path: Path, allow_missing: bool = False
             ) -> np.ndarray:
    """A column as floats: present, numeric, finite (NaN only where ``allow_missing``)."""
    if column not in frame.columns:
        present = ", ".join(map(str, frame.columns[:12]))
        raise ScenarioError([f"{path}: column {column!r}: missing (the file has: {present})"])
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if allow_missing:
        bad &= frame[column].notna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise ScenarioError([f"{path}: column {column!r}: row {row + 1}: "
                             f"{_shown(frame[column].iloc[row])} is not a finite number"])
    return values


def _shown(value) -> str:
    return "NaN (empty)" if isinstance(value, float) and math.isnan(value) else repr(value)


def _weeks(values: np.ndarray, path: Path, column: str, horizon: int) -> np.ndarray:
    if (values != np.round(values)).any() or (values < 0).any():
        row = int(np.argmax((values != np.round(values)) | (values < 0)))
        raise ScenarioError([f"{path}: column {column!r}: row {row + 1}: {values[row]:g} is "
                             "not a week (a whole number from 0)"])
    weeks = values.astype(np.int64)
    if (weeks > horizon).any():
        raise ScenarioError([f"{path}: column {column!r}: week {weeks.max()} is beyond the "
                             f"scenario's horizon ({horizon} weeks; add \"horizon=...\" to "
                             "set in the calibration file)"])
    if len(np.unique(weeks)) != len(weeks):
        dup = int(pd.Series(weeks)[pd.Series(weeks).duplicated()].iloc[0])
        raise ScenarioError([f"{path}: column {column!r}: week {dup} appears twice"])
    return weeks


def _check_values(series: Series, path: Path, field: str) -> None:
    low, high = OUTPUT_RANGE.get(series.output, (None, None))
    col = series.column
    if col.likelihood != "normal" and series.output == "cohort_active":
        high = col.customers
    outside = np.zeros(len(series.values), bool)
    if low is not None:
        outside |= series.values < low
    if high is not None:
        outside |= series.values > high
    if outside.any():
        i = int(np.argmax(outside))
        allowed = f"[{low:g}, {high:g}]" if high is not None else f"at least {low:g}"
        raise ScenarioError([f"{path}: column {field!r}: week {series.weeks[i]}: "
                             f"{series.values[i]:g} is outside {allowed} ({series.output})"])
    if col.likelihood != "normal" and (np.diff(series.values) > 0).any():
        i = int(np.argmax(np.diff(series.values) > 0)) + 1
        raise ScenarioError([f"{path}: column {field!r}: week {series.weeks[i]}: the cohort "
                             f"grows ({series.values[i - 1]:g} to {series.values[i]:g}); a "
                             "cohort's survivors can only fall"])


def _weekly(entry: ObservedFile, index: int, loaded: LoadedCalibration) -> list[Series]:
    where = f"{loaded.source}: observed.{index}.file"
    path = loaded.data_path(entry)
    frame = _read_frame(path, where)
    horizon = loaded.base.horizon
    out = []
    for field, column in entry.columns.items():
        if column.output not in OBSERVABLE:
            raise ScenarioError([f"{loaded.source}: observed.{index}.columns.{field}.output: "
                                 f"unknown output {column.output!r} (allowed: "
                                 f"{', '.join(OBSERVABLE)})"])
        weeks = _weeks(_numbers(frame, entry.week_column, path), path, entry.week_column,
                       horizon)
        values = _numbers(frame, field, path)
        order = np.argsort(weeks)
        weeks, values = weeks[order], values[order]
        if column.output in ("cohort_retention", "cohort_active"):  # week 0 is known: all
            keep = weeks > 0
            weeks, values = weeks[keep], values[keep]
        series = Series(f"{path.name}: {field}", column.output, column, weeks, values)
        _check_values(series, path, field)
        out.append(series)
    return out


def _customers(entry: ObservedFile, index: int, loaded: LoadedCalibration) -> list[Series]:
    """The retention curve of the customers active at week 0, week by week, from
    per-customer join and leave weeks (weeks before week 0 are negative)."""
    where = f"{loaded.source}: observed.{index}.file"
    path = loaded.data_path(entry)
    frame = _read_frame(path, where)
    horizon = loaded.base.horizon
    join = _numbers(frame, "join_week", path)
    leave = _numbers(frame, "leave_week", path, allow_missing=True)
    for name, values in (("join_week", join), ("leave_week", leave[np.isfinite(leave)])):
        if (values != np.round(values)).any():
            raise ScenarioError([f"{path}: column {name!r}: weeks are whole numbers (negative "
                                 "before week 0)"])
    early = np.isfinite(leave) & (leave < join)
    if early.any():
        row = int(np.argmax(early))
        raise ScenarioError([f"{path}: column 'leave_week': row {row + 1}: leaves "
                             f"(week {leave[row]:g}) before joining (week {join[row]:g})"])
    # the cohort is the customers active at week 0: all new in a launch; in a going concern
    # (a warm start) also those who joined before it and had not left by then
    cohort = leave[(join <= 0) & ~(leave <= 0)]
    if len(cohort) == 0:
        raise ScenarioError([f"{path}: column 'join_week': no customer active at week 0 "
                             "(the cohort whose retention is fitted)"])
    last = entry.through or int(np.nanmax(np.concatenate([join, leave])))
    if last > horizon:
        raise ScenarioError([f"{path}: column 'leave_week': the data runs to week {last}, "
                             f"beyond the scenario's horizon ({horizon} weeks; add "
                             "\"horizon=...\" to set in the calibration file)"])
    if last < 1:
        raise ScenarioError([f"{loaded.source}: observed.{index}.through: the data must "
                             "cover at least week 1"])
    weeks = np.arange(1, last + 1)
    stays = np.where(np.isfinite(cohort), cohort, np.inf)
    active = (stays[None, :] > weeks[:, None]).sum(axis=1).astype(float)
    column = Column(output="cohort_active", likelihood=entry.likelihood,
                    customers=len(cohort), overdispersion=entry.overdispersion,
                    weight=entry.weight)
    return [Series(f"{path.name}: cohort", "cohort_active", column, weeks, active)]


def read_observed(loaded: LoadedCalibration) -> list[Series]:
    """Every observed series of a calibration, checked (ScenarioError, one line)."""
    series = []
    for i, entry in enumerate(loaded.calibration.observed):
        read = _customers if entry.kind == "customers" else _weekly
        series += read(entry, i, loaded)
    for s in series:
        if len(s.weeks) == 0:
            raise ScenarioError([f"{s.name}: no observation after week 0"])
    return series


def data_digest(loaded: LoadedCalibration) -> str:
    """SHA-256 over the observed files' bytes, in the calibration's order."""
    digest = hashlib.sha256()
    for entry in loaded.calibration.observed:
        digest.update(loaded.data_path(entry).read_bytes())
    return digest.hexdigest()
