"""The customer-journey model on Mesa.

One ``step`` is one week in MODEL.md's order: levers, each customer's week (in random
order: the rules are order-free), the service desk, each customer's decision, word of mouth
and arrivals, then data collection.

Built the way Mesa's tools expect: every argument is a keyword with a default (so
``mesa.batch_run`` and SolaraViz can build it), the common scenario fields are keywords of
their own (so ``batch_run`` sweeps them), a model built without a seed draws one, and the
week at the horizon is collected where ``batch_run`` reads it (see ``step``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import mesa
import networkx as nx
import numpy as np
from mesa.discrete_space import Network

from .. import layout as L
from .. import rng, rules
from ..compiled import compile_scenario
from ..diagnostics import Buffers, Diagnostics
from ..scenario import Scenario, apply_overrides, load_scenario, resolve_path
from .agents import Customer

#: the customer-level reporters; named apart from the model's means, which mesa.batch_run
#: merges into the same row
CUSTOMER_REPORTERS = {"customer_mood": "mood", "customer_satisfaction": "satisfaction",
                      "customer_trust": "trust", "customer_effort": "effort",
                      "touchpoint": "touchpoint"}


def _reporter(column: int):
    return lambda model: model.row[column]


def _toml_value(value) -> str:
    """A Python value as the TOML text an override (``path=value``) reads."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return repr(value.item() if isinstance(value, np.generic) else value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"overrides: cannot use a {type(value).__name__} as a scenario value")


def scenario_overrides(*, cohort=None, horizon=None, mix=None, budget=None,
                       overrides: Mapping | None = None) -> list[str]:
    """``JourneyModel``'s scenario keywords as ``--set`` overrides, in the order they apply:
    the ``overrides`` mapping first (``{"desk.base_capacity": 60}``; a path ending in ``*``
    multiplies: ``{"touchpoints.*.failure_rate*": 2}``), then the named fields."""
    texts = [f"{path}={_toml_value(value)}" for path, value in (overrides or {}).items()]
    if cohort is not None:
        texts.append(f"cohort={_toml_value(cohort)}")
    if horizon is not None:
        texts.append(f"horizon={_toml_value(horizon)}")
    if mix is not None:
        texts.append(f"strategy.mix={_toml_value(mix)}")
    if budget is not None:
        texts.append(f"strategy.budget={_toml_value(budget)}")
    return texts


def draw_seed() -> int:
    """A fresh run index for a model built without a seed (Mesa's convention: each such
    model is a new replicate); the model keeps it as ``seed_index`` so it can be rerun."""
    return int(np.random.SeedSequence().entropy % (2**31))


class JourneyModel(mesa.Model):
    """Customers moving over a journey of touchpoints, served by one company.

    ``scenario`` is a Scenario, a path to a scenario file or a bundled scenario's name.
    ``seed`` is the run's index under ``root_seed``: the same pair gives the same run in the
    batch engine (``simulate(scenario, seeds=[seed], root_seed=root_seed)``); without a seed
    the model draws one. ``strategy`` replaces the scenario's strategy (a name, ``mix=0.3``);
    ``cohort``, ``horizon``, ``mix`` and ``budget`` replace those fields, and ``overrides``
    maps any other dotted path to its value, as ``--set`` does. ``customer_reporters=False``
    collects the model's weekly outputs only (``batch_run`` then gives one row per week
    instead of one per customer and week). ``diagnostics`` records the per-customer
    diagnostics into ``records`` (a one-run ``simulation.diagnostics.Buffers``).
    """

    def __init__(self, scenario: Scenario | str | Path = "baseline", seed: int | None = None,
                 root_seed: int = 0, strategy: str | None = None, *,
                 cohort: int | None = None, horizon: int | None = None,
                 mix: float | None = None, budget: float | None = None,
                 overrides: Mapping | None = None, customer_reporters: bool = True,
                 diagnostics: Diagnostics | None = None):
        seed = draw_seed() if seed is None else int(seed)
        key = rng.run_keys(root_seed, [seed])[0]
        super().__init__(seed=int(key % np.uint64(2**31)))  # Mesa's own rng only shuffles
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(resolve_path(scenario))
        if strategy is not None and mix is not None:
            raise ValueError(f"give strategy or mix, not both (got strategy={strategy!r}, "
                             f"mix={mix!r})")
        if strategy is not None:
            scenario = scenario.with_strategy(strategy)
        changes = scenario_overrides(cohort=cohort, horizon=horizon, mix=mix, budget=budget,
                                     overrides=overrides)
        if changes:
            scenario = apply_overrides(scenario, changes, source="JourneyModel")
        self.scenario = scenario
        self.seed_index = seed
        self.root_seed = root_seed
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
        self.spend = np.zeros(L.N_LEVERS)  # this week's spend per lever
        self.tally = np.zeros(L.N_TALLY)
        self.row = np.zeros(L.N_OUT)
        #: per touchpoint: how many of this week's visits failed (caught or not)
        self.failures = np.zeros(len(names), dtype=np.int64)
        self.records = (Buffers(1, scenario.horizon, len(scenario.segments), diagnostics)
                        if diagnostics else None)
        self.segments, self.episodes, self.decisions, self.diag = (
            (self.records.segments[0], self.records.episodes[0], self.records.decisions[0],
             self.records.diag[0]) if self.records else (None, None, None, None))

        model_reporters = {name: _reporter(col) for col, name in enumerate(L.STEP_COLUMNS)
                           if name != "step"}
        model_reporters["seed"] = "seed_index"  # a drawn seed shows in batch_run's rows
        self.datacollector = mesa.DataCollector(
            model_reporters=model_reporters,
            agent_reporters=CUSTOMER_REPORTERS if customer_reporters else None,
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
        """One week; the call after the horizon's week only stops the model.

        Week ``w``'s outputs are the DataCollector's row ``w`` (row 0: the customers at week
        0, before the first week). ``mesa.batch_run`` reads rows ``0 .. model.steps - 1``, so
        the model stays ``running`` through its final week and stops on the next call: a run
        to the horizon H is H weeks, H + 1 rows, and ``batch_run``'s last row is week H.
        """
        week = self.steps
        if week > self.horizon:
            self.running = False
            return
        self._week(self.burn_in + week)
        self.datacollector.collect(self)

    def _week(self, step: int) -> None:
        """One week at internal ``step`` (a burn-in week, or week ``step - burn_in``)."""
        c = self.compiled
        self.internal_step = step
        week = step - self.burn_in
        rules.update_levers(self.company, c.levers, rules.weekly_spend(
            step, c.par, c.plan, c.triggers, c.burn_in_spend, self.company, self.spend))
        self.tally[:] = 0.0
        self.failures[:] = 0
        self.agents.shuffle_do("live_week")
        ids = self.active_ids()
        rules.serve_desk(ids, len(ids), self.fs, self.ist, step, self.key, c.seg, c.par,
                         self.company, self.tally, self.queue, self.episodes, self.diag)
        self.agents.shuffle_do("decide")
        if self.diag is not None:
            rules.close_week(self.diag)
        ids = self.active_ids()
        promoters, detractors = rules.summarize_week(ids, len(ids), self.fs, self.ist, step,
                                                     c.seg, c.par, self.company, self.tally,
                                                     self.row)
        n_new, referred_share = rules.arrivals(self.key, step, promoters, detractors, c.par)
        self._admit(step, n_new, referred_share)
        if week > 0:
            self._summarize_segments(week, n_new)
        rules.record_arrivals(self.row, n_new)
        rules.observe_week(self.company, self.row)

    @property
    def week(self) -> int:
        """The last week simulated (0 before the first step)."""
        return min(self.steps, self.horizon)

    def customers_at(self) -> np.ndarray:
        """Per touchpoint: the active customers visiting it this week."""
        ids = self.active_ids()
        where = self.ist[L.TOUCHPOINT, ids]
        return np.bincount(where[where >= 0], minlength=len(self.touchpoint_cells))

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
