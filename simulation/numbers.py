"""Numbers as people read them, one style for the terminal, the reports and the exports.

Large values get thousands separators and no decimals (``3,340,082``), small ones three
significant digits (``0.723``); integers print as integers (``156``, not ``156.00``).
"""

from __future__ import annotations

import math


def number(x, signed: bool = False) -> str:
    """One value: ``3,340,082``, ``+0.0412``, ``156``, ``nan``."""
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return str(x)
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    sign = "+" if signed else ""
    if abs(x) >= 1000 or (x == int(x) and abs(x) < 1e15):
        return f"{x:{sign},.0f}"
    return f"{x:{sign}.3g}"


def interval(mean, low, high, signed: bool = False) -> str:
    """``mean [low, high]`` in the style of :func:`number`."""
    return f"{number(mean, signed)} [{number(low, signed)}, {number(high, signed)}]"


def narrowing_words(factor: float) -> str:
    """What pairing did to a difference's interval, in words that are true for ``factor``
    (the unpaired half-width over the paired one)."""
    if not math.isfinite(factor):
        return "the same difference in every seed"
    if factor >= 1.05:
        return f"pairing made the interval {factor:.1f} times narrower"
    if factor > 1 / 1.05:
        return "pairing did not narrow the interval"
    return f"pairing made the interval {1 / factor:.1f} times wider"
