"""Scenario discovery: in which worlds does a condition hold, told by the uncertainties.

A condition compares terms ``policy.output`` (the policy's mean of that output in a world) and
numbers with ``>``, ``<``, ``>=``, ``<=``, combined with ``and`` and ``or`` (``and`` binds
first; brackets group). Three views of the worlds where it holds:

- **PRIM** (EMA Workbench's ``ema_workbench.analysis.prim``): a box of uncertainty ranges,
  peeled until the condition holds in at least ``threshold`` of the worlds inside (density)
  while keeping as many of the worlds where it holds as it can (coverage). The chosen box is
  the one on the peeling trajectory that best balances the two (the highest harmonic mean of
  coverage and density) among those that reach the threshold: the box of highest coverage
  at the threshold would reach past the true boundary until a fifth of its worlds are wrong. A
  restriction whose quasi-p value (Bryant and Lempert's one-sided binomial test) is above
  ``SIGNIFICANCE`` is dropped (least significant first) unless the box would then fall below
  the threshold density (or its own, if lower), so an uncertainty that does not matter does
  not enter the box while one the box rests on stays, however few worlds test it.
- **CART** (scikit-learn's decision tree): the leaf chosen as PRIM's box is (highest
  harmonic mean of coverage and density among those that reach the threshold, else highest
  density), as a box.
- **scores**: how much each uncertainty decides the condition: its share of a random
  forest's impurity decrease. ``baseline`` is what chance gives: the 95th percentile of that
  uncertainty's score over forests fitted to the condition shuffled across worlds; a score
  not above its baseline is no evidence that the uncertainty matters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: a box restriction is kept when its quasi-p value is at most this
SIGNIFICANCE = 0.05
#: the density a box must reach
THRESHOLD = 0.8
PERMUTATIONS = 20
#: below this many worlds where the condition holds, the words call a box a hint
FEW_WORLDS = 20
TREES = 100


class ConditionError(ValueError):
    """A condition that cannot be read or names a policy or output the study lacks."""


# ------------------------------------------------------------------------- conditions

_TOKEN = re.compile(r"\s*(?:(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
                    r"|(?P<term>[A-Za-z_]\w*\.[A-Za-z_]\w*)"
                    r"|(?P<word>and|or)\b|(?P<op>>=|<=|>|<)|(?P<bracket>[()]))")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ConditionError(f"cannot read {text[position:].strip()[:30]!r} (terms are "
                                 "policy.output, numbers, > < >= <=, and, or, brackets)")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def parse_condition(text: str, policies: list[str], outputs: list[str]):
    """The condition as a function of the wide outcomes table (one row per world, columns
    ``policy.output``) to a boolean array; ConditionError names what is wrong."""
    tokens = _tokens(text)
    if not tokens:
        raise ConditionError("empty condition")
    position = 0

    def peek():
        return tokens[position] if position < len(tokens) else (None, None)

    def take(kind=None, value=None):
        nonlocal position
        got = peek()
        if got[0] is None or (kind and got[0] != kind) or (value and got[1] != value):
            wanted = value or {"op": "a comparison (> < >= <=)", "bracket": "a bracket"}.get(
                kind, kind or "more")
            raise ConditionError(f"expected {wanted} after "
                                 f"{' '.join(t for _, t in tokens[:position]) or 'the start'}")
        position += 1
        return got

    def operand():
        kind, value = take()
        if kind == "number":
            return lambda table: float(value)
        if kind == "term":
            policy, output = value.split(".")
            if policy not in policies:
                raise ConditionError(f"{value}: unknown policy {policy!r} (policies: "
                                     f"{', '.join(policies)})")
            if output not in outputs:
                raise ConditionError(f"{value}: output {output!r} is not kept (kept: "
                                     f"{', '.join(outputs)})")
            return lambda table: table[value].to_numpy()
        raise ConditionError(f"expected policy.output or a number, got {value!r}")

    def comparison():
        if peek() == ("bracket", "("):
            take("bracket", "(")
            inner = disjunction()
            take("bracket", ")")
            return inner
        left = operand()
        op = take("op")[1]
        right = operand()
        compare = {">": np.greater, "<": np.less, ">=": np.greater_equal,
                   "<=": np.less_equal}[op]
        return lambda table: compare(left(table), right(table))

    def conjunction():
        parts = [comparison()]
        while peek() == ("word", "and"):
            take()
            parts.append(comparison())
        return lambda table: np.logical_and.reduce([p(table) for p in parts])

    def disjunction():
        parts = [conjunction()]
        while peek() == ("word", "or"):
            take()
            parts.append(conjunction())
        return lambda table: np.logical_or.reduce([p(table) for p in parts])

    condition = disjunction()
    if position != len(tokens):
        raise ConditionError(f"unexpected {tokens[position][1]!r} after "
                             f"{' '.join(t for _, t in tokens[:position])}")
    return lambda table: np.broadcast_to(np.asarray(condition(table), dtype=bool),
                                         (len(table),)).copy()


def wide_outcomes(outcomes: pd.DataFrame, outputs: list[str]) -> pd.DataFrame:
    """One row per world; a column ``policy.output`` for every policy and kept output."""
    wide = outcomes.pivot(index="world", columns="policy", values=outputs)
    wide.columns = [f"{policy}.{output}" for output, policy in wide.columns]
    return wide.sort_index()


# ------------------------------------------------------------------------------ boxes

@dataclass
class Discovery:
    """What explains the worlds where a condition holds."""

    condition: str
    method: str
    holds: int                 # worlds where the condition holds
    worlds: int
    box: list[dict]            # {"uncertainty", "low", "high"} of the restricted ones
    coverage: float
    density: float
    scores: dict[str, float]
    baseline: dict[str, float]
    threshold: float = THRESHOLD             # the density a box had to reach
    trajectory: pd.DataFrame | None = None   # PRIM: coverage, density, restricted per step
    chosen: int | None = None                # PRIM: the chosen step of the trajectory
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"condition": self.condition, "method": self.method, "box": self.box,
                "coverage": self.coverage, "density": self.density, "scores": self.scores,
                "baseline": self.baseline, "holds": self.holds, "worlds": self.worlds}


def uncertainty_table(worlds: pd.DataFrame) -> pd.DataFrame:
    """The uncertainty columns as PRIM and the trees take them (texts as categories)."""
    x = worlds.drop(columns="world").reset_index(drop=True)
    for column in x.columns:
        if x[column].dtype == object or x[column].dtype == bool:
            x[column] = x[column].astype(str).astype("category")
        elif np.issubdtype(x[column].dtype, np.integer):
            x[column] = x[column].astype(np.int64)
        else:
            x[column] = x[column].astype(np.float64)
    return x


def _preference(coverage: float, density: float, threshold: float) -> tuple:
    """Boxes that reach the threshold density first, by the harmonic mean of coverage and
    density; then the others, by density."""
    if density >= threshold:
        return (1, 2 * coverage * density / (coverage + density))
    return (0, density)


def prim_box(x: pd.DataFrame, y: np.ndarray, threshold: float = THRESHOLD):
    """(box rows, coverage, density, trajectory, chosen step) from EMA Workbench's PRIM."""
    import logging
    import warnings

    with warnings.catch_warnings():  # its package warns about optional evaluators we never use
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

    logging.getLogger("EMA").setLevel(logging.WARNING)
    with warnings.catch_warnings():  # pandas warns about its pasting of integer columns
        warnings.simplefilter("ignore", FutureWarning)
        box = prim.Prim(x, y.astype(int), threshold=threshold).find_box()
    trajectory = box.peeling_trajectory[["coverage", "density", "res_dim"]].copy()
    keys = [_preference(c, d, threshold) for c, d in zip(trajectory["coverage"],
                                                         trajectory["density"])]
    chosen = int(trajectory.index[max(range(len(keys)), key=keys.__getitem__)])
    box.select(chosen)
    needed = min(threshold, float(box.density))
    doubtful = {name: min(p for p in pair if p >= 0) for name, pair in box.qp[chosen].items()
                if any(p >= 0 for p in pair)}
    current = chosen
    for name in sorted(doubtful, key=lambda n: -doubtful[n]):
        if doubtful[name] <= SIGNIFICANCE:
            break
        box.drop_restriction(name)  # appends the wider box to the trajectory and selects it
        if box.density < needed:  # the restriction carries the box: keep it
            box.select(current)
        else:
            current = len(box.peeling_trajectory) - 1
    limits = box.box_lim
    initial = box.box_lims[0]
    rows = []
    for name in x.columns:
        if not limits[name].equals(initial[name]):
            low, high = limits[name].iloc[0], limits[name].iloc[1]
            if isinstance(low, set):  # a categorical uncertainty: the categories kept
                rows.append({"uncertainty": name, "values": sorted(map(str, low))})
            else:
                rows.append({"uncertainty": name, "low": float(low), "high": float(high)})
    return rows, float(box.coverage), float(box.density), trajectory, chosen


def cart_box(x: pd.DataFrame, y: np.ndarray, threshold: float = THRESHOLD):
    """(box rows, coverage, density) of the best leaf of a shallow decision tree."""
    from sklearn.tree import DecisionTreeClassifier

    codes = _codes(x)
    tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=max(5, len(x) // 20),
                                  random_state=0).fit(codes, y)
    leaves = tree.apply(codes)
    best, best_key = None, None
    for leaf in np.unique(leaves):
        inside = leaves == leaf
        key = _preference(y[inside].sum() / max(y.sum(), 1), y[inside].mean(), threshold)
        if best_key is None or key > best_key:
            best, best_key = leaf, key
    bounds = {name: [-np.inf, np.inf] for name in x.columns}
    t = tree.tree_
    path = tree.decision_path(codes[leaves == best][:1]).indices
    for node in path[:-1]:
        name = x.columns[t.feature[node]]
        go_left = codes.iloc[np.flatnonzero(leaves == best)[0], t.feature[node]] \
            <= t.threshold[node]
        if go_left:
            bounds[name][1] = min(bounds[name][1], t.threshold[node])
        else:
            bounds[name][0] = max(bounds[name][0], t.threshold[node])
    inside = leaves == best
    rows = [{"uncertainty": name, "low": float(max(low, codes[name].min())),
             "high": float(min(high, codes[name].max()))}
            for name, (low, high) in bounds.items() if np.isfinite(low) or np.isfinite(high)]
    return rows, float(y[inside].sum() / max(y.sum(), 1)), float(y[inside].mean())


def _codes(x: pd.DataFrame) -> pd.DataFrame:
    """Categories as their codes (the trees split numbers)."""
    return x.apply(lambda c: c.cat.codes if isinstance(c.dtype, pd.CategoricalDtype) else c)


def uncertainty_scores(x: pd.DataFrame, y: np.ndarray, seed: int = 0,
                       permutations: int = PERMUTATIONS) -> tuple[dict, dict]:
    """(score, chance baseline) per uncertainty: random-forest impurity shares, and the 95th
    percentile of each over forests fitted to ``y`` shuffled across worlds."""
    from sklearn.ensemble import RandomForestClassifier

    codes = _codes(x)

    def shares(labels):
        if len(np.unique(labels)) < 2:
            return np.zeros(codes.shape[1])
        forest = RandomForestClassifier(n_estimators=TREES, min_samples_leaf=3,
                                        random_state=seed, n_jobs=1).fit(codes, labels)
        return forest.feature_importances_

    rng = np.random.default_rng(seed)
    observed = shares(y)
    shuffled = np.array([shares(rng.permutation(y)) for _ in range(permutations)])
    baseline = np.percentile(shuffled, 95, axis=0) if permutations \
        else np.full(codes.shape[1], np.nan)
    names = list(x.columns)
    return ({n: float(s) for n, s in zip(names, observed)},
            {n: float(b) for n, b in zip(names, baseline)})


def discover(worlds: pd.DataFrame, outcomes: pd.DataFrame, condition: str, policies: list[str],
             outputs: list[str], method: str = "prim",
             threshold: float = THRESHOLD) -> Discovery:
    """Explain the worlds where ``condition`` holds by the uncertainties (``method`` prim or
    cart); ConditionError when the condition cannot be read or holds in no world or every
    world (nothing to explain)."""
    wide = wide_outcomes(outcomes, outputs)
    holds = parse_condition(condition, policies, outputs)(wide)
    x = uncertainty_table(worlds.set_index("world").loc[wide.index].reset_index())
    if holds.all() or not holds.any():
        raise ConditionError(f"the condition holds in {'every' if holds.all() else 'no'} world "
                             f"of {len(holds)}; nothing to explain")
    scores, baseline = uncertainty_scores(x, holds)
    trajectory = chosen = None
    if method == "prim":
        box, coverage, density, trajectory, chosen = prim_box(x, holds, threshold)
    elif method == "cart":
        box, coverage, density = cart_box(x, holds, threshold)
    else:
        raise ConditionError(f"unknown method {method!r} (prim or cart)")
    ranges = {c: (float(x[c].min()), float(x[c].max())) for c in x.columns
              if not isinstance(x[c].dtype, pd.CategoricalDtype)}
    return Discovery(condition=condition, method=method, holds=int(holds.sum()),
                     worlds=len(holds), box=box, coverage=coverage, density=density,
                     scores=scores, baseline=baseline, threshold=threshold,
                     trajectory=trajectory, chosen=chosen, ranges=ranges)


def box_words(found: Discovery) -> str:
    """The box in a sentence: where the condition holds, and how well the box tells it."""
    parts = []
    for row in found.box:
        name = row["uncertainty"]
        if "values" in row:
            parts.append(f"{name} is one of {', '.join(row['values'])}")
            continue
        full_low, full_high = found.ranges.get(name, (-np.inf, np.inf))
        above, below = row["low"] > full_low, row["high"] < full_high
        if above and below:
            parts.append(f"{row['low']:.3g} < {name} < {row['high']:.3g}")
        elif above:
            parts.append(f"{name} > {row['low']:.3g}")
        elif below:
            parts.append(f"{name} < {row['high']:.3g}")
    said = f"{found.condition} holds in {found.holds} of {found.worlds} worlds"
    if not parts:
        return (f"{said}; no range of the uncertainties narrows them down (no box reaches "
                f"{found.threshold:.0%} density with restrictions that pass the significance "
                "test)")
    reached = "" if found.density >= found.threshold else (
        " (no box whose restrictions pass the significance test reaches the "
        f"{found.threshold:.0%} density asked for)")
    if found.holds < FEW_WORLDS:
        reached += (f"; from only {found.holds} such worlds, a box is a hint to look "
                    "closer, not a finding")
    return (f"{said}; it holds when {' and '.join(parts)}: {found.coverage:.0%} of such worlds "
            f"are in the box (coverage), and it holds in {found.density:.0%} of the worlds in "
            f"the box (density){reached}")
