"""Optional per-customer diagnostics: the options, the record buffers, the tables.

With diagnostics on, a run also records (``rules``: ``open_episode`` ... ``summarize_segments``,
the same calls on both engines):

- one row per **issue episode** (``episodes`` table): from the failure that opens an issue to
  how it ended;
- one row per **decision** at a decision touchpoint and per **silent exit** (``decisions``);
- per **segment and week**: active, arrivals, cohort active, cohort retention, NPS and revenue,
  as columns ``<column>:<segment>`` of the per-week table.

Rows are kept for a sampled share of the customers (a hash of run key and id picks them, so
both engines keep the same ones) and up to ``max_rows`` per run and table; a table that
would overflow drops the whole week it overflows in and every row after it, and the rows
dropped are counted in the manifest. ``docs/outputs.md`` defines every column.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from . import layout as L

#: per-segment columns of the per-week table (``<column>:<segment>``)
SEGMENT_COLUMNS = ("active", "arrivals", "cohort_active", "cohort_retention", "nps", "revenue")


@dataclass(frozen=True)
class Diagnostics:
    """What a run records. ``sample``: share of customers whose episodes and decisions are
    kept, in (0, 1]; ``max_rows``: rows kept per run in each of the two tables."""

    sample: float = 1.0
    max_rows: int = 250_000

    def __post_init__(self):
        if not (isinstance(self.sample, (int, float)) and 0.0 < self.sample <= 1.0):
            raise ValueError(f"diagnostics sample must be in (0, 1] (got {self.sample!r})")
        if not (isinstance(self.max_rows, (int, np.integer)) and self.max_rows >= 1):
            raise ValueError(f"diagnostics max_rows must be a whole number >= 1 "
                             f"(got {self.max_rows!r})")

    def as_dict(self) -> dict:
        return asdict(self)

    def bytes_per_run(self) -> int:
        """Memory the two record tables of one run take while it runs."""
        return 8 * self.max_rows * (L.N_EPISODE + L.N_DECISION)


class Buffers:
    """The arrays a batch of ``runs`` runs records into."""

    def __init__(self, runs: int, horizon: int, segments: int, options: Diagnostics):
        rows = options.max_rows
        self.segments = np.zeros((runs, horizon + 1, segments, L.N_SEGMENT_OUT))
        self.episodes = np.zeros((runs, rows, L.N_EPISODE))
        self.decisions = np.zeros((runs, rows, L.N_DECISION))
        self.diag = np.zeros((runs, L.N_DIAG))
        self.diag[:, L.DG_SAMPLE] = options.sample

    def run(self, r: int) -> "RunRecords":
        """Run r's records, trimmed to the rows it kept (views: the rows a run did not
        fill were never touched, so they take no memory)."""
        d = self.diag[r]
        return RunRecords(
            segments=self.segments[r],
            episodes=self.episodes[r, :int(d[L.DG_EPISODES + L.DG_ROWS])],
            decisions=self.decisions[r, :int(d[L.DG_DECISIONS + L.DG_ROWS])],
            dropped_episodes=int(d[L.DG_EPISODES + L.DG_DROPPED]),
            dropped_decisions=int(d[L.DG_DECISIONS + L.DG_DROPPED]))


@dataclass
class RunRecords:
    """One run's diagnostics, as either engine produced them."""

    segments: np.ndarray   # (horizon + 1, segments, N_SEGMENT_OUT)
    episodes: np.ndarray   # (rows, N_EPISODE), any row order
    decisions: np.ndarray  # (rows, N_DECISION), any row order
    dropped_episodes: int
    dropped_decisions: int


# --------------------------------------------------------------------------- tables
# Built from numpy columns sorted first (the batch engine's rows are in order already; the
# Mesa engine visits customers in random order), with categorical text columns: a table of
# millions of rows is then built in one pass.

def _categorical(codes: np.ndarray, names) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int64), categories=list(names))


def _table(records: list[RunRecords], table: str, width: int, variants, labels, seeds,
           time_column: int, customer_column: int) -> tuple[np.ndarray, dict, np.ndarray]:
    """The rows of all runs in (run, time, customer) order, and the run columns."""
    parts = [getattr(r, table) for r in records]
    flat = np.concatenate(parts) if parts else np.zeros((0, width))
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    run_of = np.repeat(np.arange(len(parts)), sizes)
    key = ((run_of << 40) | (flat[:, time_column].astype(np.int64) << 30)
           | flat[:, customer_column].astype(np.int64))
    if len(key) > 1 and not (key[1:] > key[:-1]).all():
        order = np.argsort(key, kind="stable")
        flat, run_of = flat[order], run_of[order]
    n_seeds = len(seeds)
    columns = {"variant": np.asarray(labels, dtype=object)[run_of // n_seeds],
               "seed": np.asarray(seeds, dtype=np.int64)[run_of % n_seeds],
               "customer": flat[:, customer_column].astype(np.int64)}
    return flat, columns, run_of


def _burn_in(variants, run_of: np.ndarray, seeds) -> np.ndarray:
    """Per row, its run's burn-in weeks: the records hold internal steps (week + burn-in)."""
    return np.array([v.burn_in_weeks() for v in variants], dtype=np.int64)[run_of // len(seeds)]


def _reported(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The rows that reach into the reported weeks: a warm start's burn-in is recorded too
    (an issue may straddle week 0), but only what ends after week 0 is reported."""
    return frame if keep.all() else frame[keep].reset_index(drop=True)


def episodes_frame(records: list[RunRecords], labels, seeds, variants) -> pd.DataFrame:
    """One row per issue episode, in (variant, seed, opened, customer) order."""
    flat, columns, run_of = _table(records, "episodes", L.N_EPISODE, variants, labels, seeds,
                                   L.EP_OPENED, L.EP_CUSTOMER)
    horizon = np.array([v.horizon for v in variants])[run_of // len(seeds)]
    burn_in = _burn_in(variants, run_of, seeds)
    still_open = flat[:, L.EP_OUTCOME] == L.OUTCOME_OPEN
    closed = np.where(still_open, horizon,
                      flat[:, L.EP_CLOSED].astype(np.int64) - burn_in).astype(np.int64)
    opened = flat[:, L.EP_OPENED].astype(np.int64) - burn_in
    contacts = flat[:, L.EP_CONTACTS].astype(np.int64)
    frame = pd.DataFrame(copy=False, data=columns | {
        "segment": _categorical(flat[:, L.EP_SEGMENT], [s.name for s in variants[0].segments]),
        "opened": opened,
        "touchpoint": _categorical(flat[:, L.EP_TOUCHPOINT],
                                   [t.name for t in variants[0].touchpoints]),
        "severity": flat[:, L.EP_SEVERITY],
        "voiced": contacts > 0,
        "outcome": _categorical(flat[:, L.EP_OUTCOME], L.OUTCOME_NAMES),
        "closed": closed,
        "weeks_open": closed - opened,
        "desk_contacts": contacts,
        "served": flat[:, L.EP_SERVED].astype(np.int64),
        "gave_up": flat[:, L.EP_GAVE_UP].astype(np.int64),
        "satisfaction_before": flat[:, L.EP_S_BEFORE],
        "satisfaction_after": flat[:, L.EP_S_AFTER],
    })
    return _reported(frame, still_open | (closed >= 1))


def decisions_frame(records: list[RunRecords], labels, seeds, variants) -> pd.DataFrame:
    """One row per decision and per silent exit, in (variant, seed, week, customer) order."""
    flat, columns, run_of = _table(records, "decisions", L.N_DECISION, variants, labels,
                                   seeds, L.DC_WEEK, L.DC_CUSTOMER)
    cycle = flat[:, L.DC_CYCLE].astype(np.int64)
    frame = pd.DataFrame(copy=False, data=columns | {
        "segment": _categorical(flat[:, L.DC_SEGMENT], [s.name for s in variants[0].segments]),
        "week": flat[:, L.DC_WEEK].astype(np.int64) - _burn_in(variants, run_of, seeds),
        "kind": _categorical(flat[:, L.DC_KIND], L.KIND_NAMES),
        "satisfaction": flat[:, L.DC_SATISFACTION],
        "trust": flat[:, L.DC_TRUST],
        "effort": flat[:, L.DC_EFFORT],
        "peak_end": flat[:, L.DC_PEAK_END],
        "churn_probability": flat[:, L.DC_PROBABILITY],
        "left": flat[:, L.DC_LEFT] == 1.0,
        "failure_in_cycle": (cycle & L.CY_FAILURE) > 0,
        "contact_in_cycle": (cycle & L.CY_CONTACT) > 0,
        "recovery_in_cycle": (cycle & L.CY_RECOVERY) > 0,
    })
    return _reported(frame, frame["week"].to_numpy() >= 1)


def segment_columns(records: list[RunRecords], variants) -> pd.DataFrame:
    """The per-segment weekly columns, one row per (run, step) in the steps table's order."""
    names = [s.name for s in variants[0].segments]  # variants of one batch share them
    block = np.stack([r.segments for r in records])  # (runs, steps, segments, N_SEGMENT_OUT)
    runs, steps = block.shape[:2]
    columns = {}
    for j, name in enumerate(names):
        b = block[:, :, j, :]
        served = b[..., L.SG_ACTIVE] - b[..., L.SG_ARRIVALS]  # the week's n_t of the segment
        starting = b[:, :1, L.SG_COHORT_ACTIVE]
        values = {
            "active": b[..., L.SG_ACTIVE],
            "arrivals": b[..., L.SG_ARRIVALS],
            "cohort_active": b[..., L.SG_COHORT_ACTIVE],
            "cohort_retention": np.divide(b[..., L.SG_COHORT_ACTIVE], starting,
                                          out=np.zeros((runs, steps)), where=starting > 0),
            "nps": np.divide(100.0 * (b[..., L.SG_PROMOTERS] - b[..., L.SG_DETRACTORS]), served,
                             out=np.zeros((runs, steps)), where=served > 0),
            "revenue": b[..., L.SG_REVENUE],
        }
        for column in SEGMENT_COLUMNS:
            flat = values[column].reshape(runs * steps)
            columns[f"{column}:{name}"] = (flat.astype(np.int64)
                                           if column in L.INTEGER_COLUMNS else flat)
    return pd.DataFrame(columns)


def dropped_summary(records: list[RunRecords], labels, seeds) -> dict:
    """Rows dropped (by the row cap), in total and per run that dropped any."""
    n_seeds = len(seeds)
    per_run = [{"variant": labels[r // n_seeds], "seed": int(seeds[r % n_seeds]),
                "episodes": rec.dropped_episodes, "decisions": rec.dropped_decisions}
               for r, rec in enumerate(records)
               if rec.dropped_episodes or rec.dropped_decisions]
    return {"episodes": sum(r.dropped_episodes for r in records),
            "decisions": sum(r.dropped_decisions for r in records),
            "runs": per_run}
