"""The customer-journey model on Mesa.

One ``step`` is one week in MODEL.md's order: levers, each customer's week (in random
order: the rules are order-free), the service desk, each customer's decision, word of mouth
and arrivals, then data collection.
"""

from __future__ import annotations

from pathlib import Path

import mesa
import networkx as nx
import numpy as np
from mesa.discrete_space import Network

from .. import layout as L
from .. import rng, rules
from ..compiled import compile_scenario
from ..diagnostics import Buffers, Diagnostics
from ..scenario import Scenario, load_scenario
from .agents import Customer


def _reporter(column: int):
    return lambda model: model.row[column]


class JourneyModel(mesa.Model):
    """Customers moving over a journey of touchpoints, served by one company.

    ``scenario`` is a Scenario or a path to a scenario file; ``seed`` is the run's index
    under ``root_seed`` (the same pair gives the same run in the batch engine).
    ``strategy`` optionally replaces the scenario's strategy (a name or a mix);
    ``diagnostics`` records the per-customer diagnostics into ``records`` (a one-run
    ``simulation.diagnostics.Buffers``).
    """

    def __init__(self, scenario: Scenario | str | Path, seed: int = 0, root_seed: int = 0,
                 strategy: str | None = None, diagnostics: Diagnostics | None = None):
        key = rng.run_keys(root_seed, [seed])[0]
        super().__init__(seed=int(key % np.uint64(2**31)))  # Mesa's own rng only shuffles
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        if strategy is not None:
            scenario = scenario.with_strategy(strategy)
        self.scenario = scenario
        self.seed_index = seed
        self.key = key
        self.compiled = compile_scenario(scenario)
        self.horizon = scenario.horizon

        journey = nx.DiGraph()
        names = [t.name for t in scenario.touchpoints]
        journey.add_nodes_from(range(len(names)))
        for src, row in scenario.journey.transitions.items():
            for dst, prob in row.items():
                if prob > 0:
                    journey.add_edge(names.index(src), names.index(dst))
        self.space = Network(journey, random=self.random)
        self.touchpoint_cells = [self.space._cells[k] for k in range(len(names))]

        capacity = scenario.cohort + scenario.cohort // 2 + 64
        self.fs = np.zeros((L.N_FLOAT_STATE, capacity))
        self.ist = np.zeros((L.N_INT_STATE, capacity), dtype=np.int64)
        self.queue = np.empty(capacity, dtype=np.int64)
        self.work = np.empty((L.N_WORK, 1))  # live_week's working rows, for one customer
        self.company = np.zeros(L.N_COMPANY)
        self.tally = np.zeros(L.N_TALLY)
        self.row = np.zeros(L.N_OUT)
        self.records = (Buffers(1, scenario.horizon, len(scenario.segments), diagnostics)
                        if diagnostics else None)
        self.segments, self.episodes, self.decisions, self.diag = (
            (self.records.segments[0], self.records.episodes[0], self.records.decisions[0],
             self.records.diag[0]) if self.records else (None, None, None, None))

        self.datacollector = mesa.DataCollector(
            model_reporters={name: _reporter(col) for col, name in enumerate(L.STEP_COLUMNS)
                             if name != "step"},
            # named apart from the model's means: mesa.batch_run merges both into one row
            agent_reporters={"customer_mood": "mood", "customer_satisfaction": "satisfaction",
                             "customer_trust": "trust", "customer_effort": "effort",
                             "touchpoint": "touchpoint"},
        )
        self.burn_in = scenario.burn_in_weeks()
        self.internal_step = 0  # week w is internal step burn_in + w (see rules.weekly_spend)
        self.burn_in_agent_steps = 0
        self.n_customers = rules.admit_starting(self.fs, self.ist, self.key, self.compiled.seg,
                                                self.compiled.par)
        for index in range(self.n_customers):
            Customer(self, index)
        for step in range(1, self.burn_in + 1):  # a warm start's weeks before week 0
            self.burn_in_agent_steps += len(self.agents)
            self._week(step)
        ids = self.active_ids()
        c = self.compiled
        rules.open_horizon(ids, len(ids), self.fs, self.ist, self.burn_in, c.seg, c.par,
                           self.company, self.tally, self.row,
                           None if self.segments is None else self.segments[0], self.diag)
        self.datacollector.collect(self)

    def _admit(self, step: int, count: int, referred_share: float) -> None:
        first = self.n_customers
        rng.check_customer_range(first + count)
        if first + count > self.fs.shape[1]:
            self._grow(2 * (first + count))
        rules.admit(self.fs, self.ist, first, count, step, self.key, self.compiled.seg,
                    self.compiled.par, referred_share)
        for index in range(first, first + count):
            Customer(self, index)
        self.n_customers += count

    def _grow(self, capacity: int) -> None:
        fs = np.zeros((L.N_FLOAT_STATE, capacity))
        ist = np.zeros((L.N_INT_STATE, capacity), dtype=np.int64)
        fs[:, :self.fs.shape[1]] = self.fs
        ist[:, :self.ist.shape[1]] = self.ist
        self.fs, self.ist = fs, ist
        self.queue = np.empty(capacity, dtype=np.int64)

    def step(self) -> None:
        self._week(self.burn_in + self.steps)
        self.datacollector.collect(self)
        if self.steps >= self.horizon:
            self.running = False

    def _week(self, step: int) -> None:
        """One week at internal ``step`` (a burn-in week, or week ``step - burn_in``)."""
        c = self.compiled
        self.internal_step = step
        week = step - self.burn_in
        rules.update_levers(self.company, c.levers,
                            rules.weekly_spend(step, c.par, c.spend, c.burn_in_spend))
        self.tally[:] = 0.0
        self.agents.shuffle_do("live_week")
        ids = self.active_ids()
        rules.serve_desk(ids, len(ids), self.fs, self.ist, step, self.key, c.seg, c.par,
                         self.company, self.tally, self.queue, self.episodes, self.diag)
        self.agents.shuffle_do("decide")
        if self.diag is not None:
            rules.close_week(self.episodes, self.ist, self.diag)
        ids = self.active_ids()
        promoters, detractors = rules.summarize_step(ids, len(ids), self.fs, self.ist, step,
                                                     c.seg, c.par, self.company, self.tally,
                                                     self.row)
        n_new, referred_share = rules.arrivals(self.key, step, promoters, detractors, c.par)
        self._admit(step, n_new, referred_share)
        if week > 0:
            self._summarize_segments(week, n_new)
        rules.record_arrivals(self.row, n_new)

    def _summarize_segments(self, week: int, n_new: int) -> None:
        """The week's per-segment block, when diagnostics are recorded."""
        if self.segments is not None:
            ids = self.active_ids()  # ascending: the newcomers, just admitted, come last
            rules.summarize_segments(ids, len(ids) - n_new, n_new, self.fs, self.ist,
                                     self.compiled.seg, self.compiled.par, self.segments[week])

    def active_ids(self) -> np.ndarray:
        """The active customers' ids in ascending order: the group the company-wide rules
        (the desk, the weekly summary) run over."""
        return np.flatnonzero(self.ist[L.ACTIVE, :self.n_customers]).astype(np.int64)

    def events(self) -> np.ndarray:
        """Per customer: the columns of ``rules.record_events``."""
        events = np.empty((self.n_customers, L.N_EVENT), dtype=np.int64)
        rules.record_events(self.ist, self.n_customers, self.compiled.par, events)
        return events
