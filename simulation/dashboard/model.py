"""The dashboard's controls and the model they build.

SolaraViz builds its model as ``model_cls(**controls)``, so each control is a keyword of
``LiveJourneyModel``; it turns them into the JourneyModel keywords and ``overrides`` that a
scenario understands.
"""

from __future__ import annotations

from ..mesa_engine import JourneyModel
from ..scenario import NAMED_STRATEGIES, Scenario

#: the strategy control's value that uses the mix slider
MIX = "mix"
#: the strategy control's value that keeps a scenario's own allocation
AS_WRITTEN = "as in scenario"


class LiveJourneyModel(JourneyModel):
    """A JourneyModel built from the dashboard's controls (agent reporters off: the page
    draws aggregates, and collecting 2,000 customers a week would halve its speed)."""

    def __init__(self, scenario: Scenario | str = "baseline", strategy: str = "balanced",
                 mix: float = 0.5, budget: float = 2000.0, failure_scale: float = 1.0,
                 desk_capacity: int | None = None, cohort: int | None = None, seed: int = 0):
        overrides = {}
        if failure_scale != 1.0:
            overrides["touchpoints.*.failure_rate*"] = float(failure_scale)
        if desk_capacity is not None:
            overrides["desk.base_capacity"] = int(desk_capacity)
        named = None if strategy in (MIX, AS_WRITTEN) else strategy
        super().__init__(scenario, seed=int(seed), strategy=named,
                         mix=float(mix) if strategy == MIX else None, budget=float(budget),
                         cohort=cohort, overrides=overrides, customer_reporters=False)
        self.controls = {"strategy": strategy, "mix": mix, "budget": budget,
                         "failure_scale": failure_scale, "desk_capacity": desk_capacity,
                         "cohort": cohort, "seed": seed}


def strategy_choices(scenario: Scenario) -> list[str]:
    choices = list(NAMED_STRATEGIES) + list(scenario.allocations) + [MIX]
    if scenario.strategy.allocation is not None:
        choices.append(AS_WRITTEN)
    return choices


def initial_strategy(scenario: Scenario) -> str:
    st = scenario.strategy
    if st.name is not None:
        return st.name
    return MIX if st.mix is not None else AS_WRITTEN


def controls(scenario: Scenario) -> dict:
    """SolaraViz's ``model_params``: the controls, starting at the scenario's own values."""
    most_failing = max(t.failure_rate for t in scenario.touchpoints)
    failure_max = 3.0 if most_failing <= 0 else min(3.0, round(1.0 / most_failing, 1))
    budget = scenario.strategy.budget
    capacity = scenario.desk.base_capacity
    return {
        "scenario": scenario,
        "strategy": {"type": "Select", "label": "Strategy", "value": initial_strategy(scenario),
                     "values": strategy_choices(scenario)},
        "mix": {"type": "SliderFloat", "label": "Mix (0 reactive – 1 proactive), for 'mix'",
                "value": scenario.strategy.mix if scenario.strategy.mix is not None else 0.5,
                "min": 0.0, "max": 1.0, "step": 0.05},
        "budget": {"type": "SliderInt", "label": "Budget per week", "value": int(budget),
                   "min": 0, "max": max(10_000, int(3 * budget)), "step": 100},
        "failure_scale": {"type": "SliderFloat", "label": "Failure-rate multiplier",
                          "value": 1.0, "min": 0.0, "max": failure_max, "step": 0.1},
        "desk_capacity": {"type": "SliderInt", "label": "Desk base capacity (contacts/week)",
                          "value": capacity, "min": 0, "max": max(300, 3 * capacity),
                          "step": 5},
        "cohort": {"type": "SliderInt", "label": "Cohort size (customers)",
                   "value": scenario.cohort, "min": 100,
                   "max": max(5000, scenario.cohort), "step": 100},
        "seed": {"type": "SliderInt", "label": "Seed (run index)", "value": 0, "min": 0,
                 "max": 999, "step": 1},
    }


def initial_values(params: dict) -> dict:
    """The keywords the controls start at (what SolaraViz passes on its first reset)."""
    return {name: (spec["value"] if isinstance(spec, dict) and "type" in spec else spec)
            for name, spec in params.items()}
