"""A customer as a Mesa agent.

The customer's state lives in the model's arrays so that the very same jitted rules the
batch engine runs (``simulation.rules``) update it; the properties below give it names.
The agent sits in the cell of the touchpoint it is visiting.
"""

from __future__ import annotations

import numpy as np
from mesa.discrete_space import CellAgent

from .. import layout as L
from .. import rules


def _float_state(row: int, doc: str) -> property:
    return property(lambda self: float(self.model.fs[row, self.index]), doc=doc)


def _int_state(row: int, doc: str) -> property:
    return property(lambda self: int(self.model.ist[row, self.index]), doc=doc)


class Customer(CellAgent):
    """One customer of the company: joins, lives weeks of touchpoints, may leave."""

    mood = _float_state(L.MOOD, "short-term affect in [-1, 1]")
    expectation = _float_state(L.EXPECTATION, "performance expected, in [0, 1]")
    satisfaction = _float_state(L.SATISFACTION, "cumulative attitude, in [0, 1]")
    trust = _float_state(L.TRUST, "belief that promises are kept, in [0, 1]")
    effort = _float_state(L.EFFORT, "accumulated effort, >= 0")
    touchpoint = _int_state(L.TOUCHPOINT, "index of the touchpoint visited this week")
    segment = _int_state(L.SEGMENT, "index of the customer's segment")
    join_step = _int_state(L.JOIN_STEP, "week the customer joined")
    issue_open = _int_state(L.ISSUE_OPEN, "1 while an issue is open")
    issue_silent = _int_state(L.ISSUE_SILENT, "1 while the open issue is lived with in silence")
    churn_propensity = _float_state(L.CHURN_PROPENSITY,
                                    "the customer's own shift of the churn log-odds")

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index  # the customer's id: its column in the state arrays
        # the rules take a group of customers as an array of ids: this agent's group is itself
        self.ids = np.array([index], dtype=np.int64)

    @property
    def active(self) -> bool:
        return bool(self.model.ist[L.ACTIVE, self.index])

    def live_week(self) -> None:
        """Nurture, move, experience the touchpoint, deal with any open issue."""
        m = self.model
        c = m.compiled
        rules.live_week(self.ids, 1, m.fs, m.ist, m.internal_step, m.key, c.tp, c.cum_transitions,
                        c.move_guide, c.schedule, c.seg, c.par, m.company, m.tally, m.work,
                        m.episodes, m.diag)
        k = self.touchpoint
        if self.cell is not m.touchpoint_cells[k]:  # moving is costly in a crowded cell
            self.cell = m.touchpoint_cells[k]
        m.failures[k] += m.work[L.W_FAILED, 0] > 0.0  # for the journey map

    def decide(self) -> None:
        """Renew or leave; a customer who leaves is removed from the model."""
        m = self.model
        c = m.compiled
        stays = rules.decide(self.ids, 1, m.fs, m.ist, m.internal_step, m.key, c.tp, c.seg, c.par,
                             m.tally, m.queue, m.episodes, m.decisions, m.diag)
        if not stays:
            self.remove()
