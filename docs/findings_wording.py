"""How the findings page words numbers and comparisons, so that no sentence says more than its data.

Every comparison on the page goes through :func:`compare`, which looks at the 95% interval of
the paired differences: "higher than" only when the whole interval is above zero, "lower than"
only when it is below, and "not distinguishable from ... (the interval spans zero)" otherwise.
Counts ("12 of 300 seeds differ"), spans ("0.1 to 0.2") and trends ("rises at every
step") are computed here too. ``tests/test_findings.py`` checks the page's sentences against
these rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.results import mean_interval


def number(value: float, digits: int = 3, signed: bool = False) -> str:
    """A short decimal: 3 significant digits (whole numbers from 100 on), tens of thousands as
    k and millions as M."""
    sign = "+" if signed else ""
    if abs(value) >= 1e6:
        return f"{value / 1e6:{sign}.{digits}g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:{sign}.{digits}g}k"
    if abs(value) >= 100:
        return f"{value:{sign},.0f}"
    return f"{value:{sign}.{digits}g}"


def parse_number(text: str) -> float:
    """The inverse of :func:`number` (up to its rounding)."""
    text = text.replace("−", "-").replace(",", "")
    scale = {"k": 1e3, "M": 1e6}.get(text[-1], 1.0)
    return float(text[:-1] if scale != 1.0 else text) * scale


@dataclass(frozen=True)
class Interval:
    """A mean over seeds with its 95% t interval."""

    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values) -> "Interval":
        return cls(*mean_interval(np.asarray(values, dtype=float)))

    @property
    def sign(self) -> int:
        """+1 if the interval lies above zero, -1 if below, 0 if it contains zero."""
        return 1 if self.low > 0 else -1 if self.high < 0 else 0

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def text(self, digits: int = 3, signed: bool = False) -> str:
        return (f"{number(self.mean, digits, signed)} "
                f"[{number(self.low, digits, signed)}, {number(self.high, digits, signed)}]")


def interval(values, digits: int = 3) -> str:
    """'mean [low, high]' of ``values``."""
    return Interval.of(values).text(digits)


def compare(differences, other: str, digits: int = 3) -> str:
    """A predicate for 'X ...' given the paired differences X − other, worded by its interval.

    The numbers in brackets are the mean difference and its 95% interval. A difference that is
    exactly zero in every seed is said so: no interval is needed.
    """
    differences = np.asarray(differences, dtype=float)
    if differences.size and np.all(differences == 0):
        return f"equals {other} in every seed"
    iv = Interval.of(differences)
    if iv.sign > 0:
        return f"is higher than {other} (by {iv.text(digits, signed=True)})"
    if iv.sign < 0:
        return f"is lower than {other} (by {iv.text(digits, signed=True)})"
    return (f"is not distinguishable from {other} (difference {iv.text(digits, signed=True)}; "
            "the interval spans zero)")


def seeds_differ(a, b) -> str:
    """'N of M seeds differ': in how many paired seeds the two values are not exactly equal."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return f"{int(np.count_nonzero(a != b))} of {a.size} seeds differ"


def ratio(a: float, b: float) -> str:
    """'a against b (r times)' for two means."""
    times = f"{a / b:.2g} times" if b != 0 else "b is zero"
    return f"{number(a)} against {number(b)} ({times})"


def span(values, digits: int = 3, signed: bool = False) -> str:
    """'lowest to highest' of some numbers ('x' when they are all equal)."""
    values = [float(v) for v in values]
    low, high = min(values), max(values)
    if number(low, digits, signed) == number(high, digits, signed):
        return number(low, digits, signed)
    return f"{number(low, digits, signed)} to {number(high, digits, signed)}"


def trend(values) -> str:
    """How a sequence moves: 'rises at every step', 'falls at every step', or neither."""
    steps = np.diff(np.asarray(values, dtype=float))
    if steps.size and np.all(steps > 0):
        return "rises at every step"
    if steps.size and np.all(steps < 0):
        return "falls at every step"
    if steps.size and np.all(steps >= 0):
        return "never falls"
    if steps.size and np.all(steps <= 0):
        return "never rises"
    return "rises and falls"


def listing(items) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def week_ranges(weeks) -> str:
    """Sorted week numbers as ranges: [1, 2, 3, 7] -> '1–3 and 7'."""
    weeks = sorted(int(w) for w in weeks)
    runs: list[list[int]] = []
    for w in weeks:
        if runs and w == runs[-1][1] + 1:
            runs[-1][1] = w
        else:
            runs.append([w, w])
    return listing(f"{a}" if a == b else f"{a}–{b}" for a, b in runs)


def by_value(pairs, unit: str) -> str:
    """'1 at x 0.5 and 1; 0.5 at x 2' for (row value, result) pairs, grouping rows that agree
    (with no unit: '1 for a and b')."""
    groups: dict[str, list[str]] = {}
    for row, result in pairs:
        groups.setdefault(f"{result:g}" if isinstance(result, float) else str(result),
                          []).append(f"{row:g}" if isinstance(row, float) else str(row))
    where = f"at {unit} " if unit else "for "
    return "; ".join(f"{result} {where}{listing(rows)}" for result, rows in groups.items())
