"""Expectations of a study, evaluated on its results: claims a CI run can enforce.

An expectation compares an output (at the horizon, or at a given week) of the points that
match ``where``, optionally minus the matching ``minus`` point with the same other parameter
values, seed by seed. ``>``/``<`` must hold for the whole confidence interval of the mean;
``==`` must hold exactly (within ``tolerance``) for every seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .results import mean_interval
from .study import Expectation


@dataclass
class Verdict:
    expectation: Expectation
    subject: str
    estimate: float
    low: float
    high: float
    passed: bool

    def line(self) -> str:
        e = self.expectation
        status = "PASS" if self.passed else "FAIL"
        if e.op == "==":
            claim = f"max |difference| {self.high:.3g} <= {e.tolerance:g} (every seed)"
        else:
            claim = (f"{self.estimate:+.4g} [{self.low:+.4g}, {self.high:+.4g}] {e.op} {e.value:g} "
                     f"({e.confidence:.0%} CI)")
        return f"{status}  {e.name}: {self.subject}: {claim}"


def _matches(points: pd.DataFrame, condition: dict) -> pd.Series:
    mask = pd.Series(True, index=points.index)
    for path, value in condition.items():
        column = points[path]
        mask &= (column.astype(str) == str(value)) if isinstance(value, str) else \
            np.isclose(pd.to_numeric(column, errors="coerce"), float(value))
    return mask


def _values(e: Expectation, runs: pd.DataFrame, steps: pd.DataFrame, point: int) -> pd.Series:
    if e.step is None:
        frame = runs[runs["point"] == point]
    else:
        frame = steps[(steps["point"] == point) & (steps["step"] == e.step)]
    return frame.set_index("seed")[e.output]


def evaluate(expectations: list[Expectation], points: pd.DataFrame, runs: pd.DataFrame,
             steps: pd.DataFrame) -> list[Verdict]:
    verdicts = []
    varied = [c for c in points.columns if c not in ("point", "label")]
    for e in expectations:
        subjects = points[_matches(points, e.where)]
        if e.minus is not None:
            subjects = subjects[~_matches(subjects, e.minus)]
        if subjects.empty:
            raise ValueError(f"expectation {e.name!r}: no point matches where={e.where}")
        for _, subject in subjects.iterrows():
            values = _values(e, runs, steps, int(subject["point"]))
            label = subject["label"]
            if e.minus is not None:
                others = {c: subject[c] for c in varied if c not in e.minus}
                reference = points[_matches(points, e.minus) & _matches(points, others)]
                if len(reference) != 1:
                    raise ValueError(f"expectation {e.name!r}: {len(reference)} points match "
                                     f"minus={e.minus} for {label}; need exactly one")
                ref_values = _values(e, runs, steps, int(reference["point"].iloc[0]))
                common = values.index.intersection(ref_values.index)
                values = values.loc[common] - ref_values.loc[common]
                label = _difference_label(subject, reference.iloc[0], varied)
            where = f"{e.output}" + (f" at week {e.step}" if e.step is not None else " at horizon")
            verdicts.append(_judge(e, f"{where}, {label}", values.to_numpy(dtype=float)))
    return verdicts


def _difference_label(subject, reference, varied: list[str]) -> str:
    """``[shared=1] a=x minus a=y``: only what differs is named on each side."""
    differ = [c for c in varied if str(subject[c]) != str(reference[c])]
    shared = [f"{c}={subject[c]}" for c in varied if c not in differ]
    text = (", ".join(f"{c}={subject[c]}" for c in differ) + " minus "
            + ", ".join(f"{c}={reference[c]}" for c in differ))
    return (f"[{', '.join(shared)}] " if shared else "") + text


def _judge(e: Expectation, subject: str, values: np.ndarray) -> Verdict:
    if e.op == "==":
        worst = float(np.max(np.abs(values - e.value))) if len(values) else np.inf
        return Verdict(e, subject, float(np.mean(values)), 0.0, worst, worst <= e.tolerance)
    mean, low, high = mean_interval(values, e.confidence)
    passed = low > e.value if e.op == ">" else high < e.value
    return Verdict(e, subject, mean, low, high, passed)
