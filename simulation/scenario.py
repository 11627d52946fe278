"""The scenario: a validated description of one company, its customers and its strategy.

A scenario file is TOML. Loading validates it into typed objects that reject unknown keys,
NaN and infinities, range-check every number and cross-check every name, so a mistake
surfaces as one line ``file: field.path: what is allowed`` instead of a strange result later.
Every problem is reported at once: the checks that tie fields together run even when a field
is wrong. Every default and every bound below is documented, with its reason, in
``docs/model.md``.
"""

from __future__ import annotations

import copy
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .layout import MAX_TRIGGERS, MAX_WINDOW, OBSERVABLES
from .rng import MAX_STEP


LEVERS = ("capacity", "training", "recovery", "staff",
          "reliability", "consistency", "outreach", "self_service", "relationship",
          "frontline")
REACTIVE_LEVERS = LEVERS[:4]
PROACTIVE_LEVERS = LEVERS[4:9]
SERVICE_LEVERS = LEVERS[9:]  # serving well at every touchpoint people deliver
CHANNELS = ("digital", "human", "physical")
NAMED_STRATEGIES = ("none", "reactive", "proactive", "balanced", "service")

#: the longest horizon (100 years): well inside the weeks the random streams can tell apart
MAX_HORIZON = 5200
#: the largest starting cohort (memory: about 100 bytes of state per customer and run)
MAX_COHORT = 10_000_000
#: the largest company-wide amount of money a week (budget, fixed cost, a lever's scale):
#: a run's totals (x 5,200 weeks) then stay below 2**53, where a float still counts units
MAX_MONEY = 1e12
#: the largest amount per customer (weekly value, cost of a contact): the largest cohort's
#: weekly revenue is then at most MAX_MONEY
MAX_PER_CUSTOMER = MAX_MONEY / MAX_COHORT
#: a weight on the churn log-odds: at 20 a 0-1 quantity moves the odds by e**20, from
#: certainty of staying to certainty of leaving
MAX_LOG_ODDS = 20.0
#: the largest effort increment (effort units, per event or week): ten times the largest
#: default one; a single episode costs about 2
MAX_EFFORT = 10.0
#: the largest salience (weight of a moment in memory), ten times the reference moment
MAX_SALIENCE = 10.0
#: the longest names and texts a scenario holds (names label figures and tables)
MAX_NAME = 100
MAX_TEXT = 1000
#: the spend, as a share of the starting weekly revenue, above which loading warns
SPEND_WARNING_SHARE = 0.25
#: the longest burn-in of a warm start; burn-in and horizon together stay inside the streams
MAX_BURN_IN = 5200
assert MAX_HORIZON + MAX_BURN_IN <= MAX_STEP


def Bounded(low: float, high: float, *, low_open: bool = False):
    """A finite float in [low, high] (or (low, high] with ``low_open``)."""
    return Annotated[float, Field(gt=low, le=high) if low_open else Field(ge=low, le=high)]


Unit = Bounded(0.0, 1.0)
Money = Bounded(0.0, MAX_MONEY)
PerCustomer = Bounded(0.0, MAX_PER_CUSTOMER)
Effort = Bounded(0.0, MAX_EFFORT)
Salience = Bounded(0.0, MAX_SALIENCE)
LogOddsWeight = Bounded(0.0, MAX_LOG_ODDS)
LogOdds = Bounded(-MAX_LOG_ODDS, MAX_LOG_ODDS)
Depreciation = Bounded(0.0, 1.0, low_open=True)
#: a lever's scale, or the cost of a slot: at least a cent, so a budget buys a bounded effect
LeverScale = Bounded(0.01, MAX_MONEY)
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]


class ScenarioError(Exception):
    """A scenario (or study) that cannot be used; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Touchpoint(Strict):
    name: Name
    stage: Annotated[str, Field(max_length=MAX_NAME)] = "use"
    channel: Literal["digital", "human", "physical"] = "digital"
    quality: Unit = 0.7
    variability: Unit = 0.1
    failure_rate: Unit = 0.05
    complexity: Unit = 0.3
    salience: Salience = 1.0
    decision: bool = False


class Scheduled(Strict):
    touchpoint: Name
    every: Annotated[int, Field(ge=1, le=MAX_HORIZON)]


class Journey(Strict):
    entry: Name
    transitions: dict[Name, dict[Name, Unit]]
    scheduled: list[Scheduled] = []


class Segment(Strict):
    name: Name
    share: Unit
    weekly_value: PerCustomer = 10.0
    self_service: Unit = 0.5
    voice: Unit = 0.4
    abandon: Unit = 0.2
    expectation: Unit = 0.65
    trust: Unit = 0.5
    satisfaction: Unit = 0.6
    churn_bias: LogOdds = 0.0
    effort_weight: Bounded(0.0, 10.0) = 1.0
    churn_spread: Bounded(0.0, 5.0) = 1.0


class Psychology(Strict):
    mood_congruence: Unit = 0.3
    appraisal_gain: Bounded(0.0, 20.0, low_open=True) = 2.5
    loss_aversion: Bounded(1.0, 10.0) = 2.0
    mood_persistence: Unit = 0.7
    mood_shock: Unit = 0.15
    satisfaction_rate: Unit = 0.08
    expectation_rate: Unit = 0.005
    expectation_drift: Bounded(0.0, 0.05) = 0.0002
    trust_gain: Unit = 0.03
    trust_loss: Unit = 0.25
    trust_tolerance: Unit = 0.15
    trust_breach: Unit = 0.3
    failure_penalty: Unit = 0.4
    caught_trust_gain: Unit = 0.02
    nurture_trust_gain: Unit = 0.03
    nurture_mood_gain: Unit = 0.15


class Issues(Strict):
    knowledge_base: Unit = 0.35
    self_service_effort: Effort = 0.2
    failed_self_service_effort: Effort = 0.8
    contact_effort: Effort = 0.5
    wait_effort: Effort = 0.6
    silent_effort: Effort = 0.4
    silent_mood_hit: Unit = 0.1
    effort_decay: Unit = 0.15
    voice_severity: Bounded(0.0, 10.0) = 1.0
    voice_effort: Bounded(0.0, 10.0) = 0.5
    fade_rate: Unit = 0.1


class Desk(Strict):
    base_capacity: Annotated[int, Field(ge=0, le=10 * MAX_COHORT)] = 90
    cost_per_contact: PerCustomer = 6.0
    fcr: Unit = 0.75
    fcr_max: Unit = 0.95
    recovery_quality: Unit = 0.6
    recovery_max: Unit = 0.95
    recovery_salience: Salience = 2.0
    burnout_rate: Unit = 0.08
    burnout_heal: Unit = 0.1
    burnout_penalty: Unit = 0.5


class Frontline(Strict):
    """Which touchpoints frontline service reaches: human ones fully, physical ones by the
    share people deliver (``physical_reach``), digital ones not at all."""

    physical_reach: Unit = 0.5


class Lever(Strict):
    """A spending stock: S <- (1 - depreciation) S + spend; effect = ceiling (1 - exp(-S/scale))."""

    depreciation: Depreciation
    scale: LeverScale
    ceiling: Unit


class CapacityLever(Strict):
    """Desk capacity is linear in spend: one extra weekly contact slot per ``cost_per_slot``."""

    depreciation: Depreciation = 1.0
    cost_per_slot: LeverScale = 12.0


class Levers(Strict):
    capacity: CapacityLever = CapacityLever()
    training: Lever = Lever(depreciation=1.0, scale=300.0, ceiling=1.0)
    recovery: Lever = Lever(depreciation=1.0, scale=250.0, ceiling=1.0)
    staff: Lever = Lever(depreciation=1.0, scale=250.0, ceiling=1.0)
    reliability: Lever = Lever(depreciation=0.01, scale=30000.0, ceiling=0.7)
    consistency: Lever = Lever(depreciation=0.01, scale=20000.0, ceiling=0.6)
    outreach: Lever = Lever(depreciation=0.02, scale=15000.0, ceiling=0.6)
    self_service: Lever = Lever(depreciation=0.01, scale=20000.0, ceiling=0.5)
    relationship: Lever = Lever(depreciation=0.05, scale=8000.0, ceiling=0.15)
    frontline: Lever = Lever(depreciation=1.0, scale=400.0, ceiling=0.5)

    @model_validator(mode="before")
    @classmethod
    def _fill_from_defaults(cls, data):
        """A lever given in part keeps its own defaults for the rest."""
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        for name, given in data.items():
            field = cls.model_fields.get(name)
            if field is not None and isinstance(given, dict):
                filled[name] = field.default.model_dump() | given
        return filled


Allocation = dict[Literal[LEVERS], Unit]  # type: ignore[valid-type]


class Camps(Strict):
    """The camps' allocations of a budget; ``mix`` blends between reactive and proactive;
    the service camp (the named strategy ``service``) serves well everywhere people work."""

    reactive: Allocation = {"capacity": 0.4, "training": 0.25, "recovery": 0.15, "staff": 0.2}
    proactive: Allocation = {"reliability": 0.3, "consistency": 0.15, "outreach": 0.15,
                             "self_service": 0.25, "relationship": 0.15}
    service: Allocation = {"frontline": 0.4, "staff": 0.2, "training": 0.15, "recovery": 0.1,
                           "capacity": 0.15}


Week = Annotated[int, Field(ge=0, le=MAX_HORIZON)]


class Phase(Strict):
    """A stretch of the horizon from week ``start`` on: its own strategy (exactly one of
    name, mix or allocation) and budget (``budget`` a week, or ``revenue_share`` of last
    week's revenue; neither: the strategy's budget). ``ramp``: weeks over which the spend
    moves linearly from the previous phase's."""

    start: Week
    ramp: Week = 0
    budget: Money | None = None
    revenue_share: Unit | None = None
    name: Name | None = None
    mix: Unit | None = None
    allocation: Allocation | None = None


#: the observables a trigger may watch (``layout.OBSERVABLES``), with the range of each
OBSERVABLE_RANGE = {"backlog": (0.0, 10.0 * MAX_COHORT), "wait": (0.0, float(MAX_HORIZON)),
                    "burnout": (0.0, 1.0), "contacts": (0.0, 10.0 * MAX_COHORT),
                    "nps": (-100.0, 100.0), "churn_rate": (0.0, 1.0)}
assert set(OBSERVABLE_RANGE) == set(OBSERVABLES)


class Trigger(Strict):
    """While what the company observed last week is past ``enter`` (``when`` above or
    below it), and until it comes back past ``leave``, ``share`` of the week's budget moves
    to ``levers`` (shares summing to 1)."""

    observe: Literal[OBSERVABLES]  # type: ignore[valid-type]
    when: Literal["above", "below"] = "above"
    enter: Bounded(-10.0 * MAX_COHORT, 10.0 * MAX_COHORT)
    leave: Bounded(-10.0 * MAX_COHORT, 10.0 * MAX_COHORT)
    share: Unit
    levers: Allocation
    window: Annotated[int, Field(ge=1, le=MAX_WINDOW)] = 4


class Strategy(Strict):
    """What the company spends: exactly one of name, mix, allocation or phases (checked by
    ``cross_field_problems``), and the triggers that move part of it while they hold."""

    budget: Money = 2000.0
    name: Name | None = None
    mix: Unit | None = None
    allocation: Allocation | None = None
    phases: Annotated[list[Phase], Field(min_length=1, max_length=MAX_HORIZON + 1)] | None = None
    triggers: Annotated[list[Trigger], Field(max_length=MAX_TRIGGERS)] = []

    @property
    def label(self) -> str:
        if self.name is not None:
            base = self.name
        elif self.mix is not None:
            base = f"mix={self.mix:g}"
        elif self.phases is not None:
            base = "phased"
        else:
            base = "custom"
        return base + ("+triggers" if self.triggers else "")


class Churn(Strict):
    base: LogOdds = -0.8
    satisfaction: LogOddsWeight = 5.0
    trust: LogOddsWeight = 2.5
    effort: LogOddsWeight = 0.35
    issue: LogOddsWeight = 1.0
    competitor: LogOddsWeight = 0.5
    competitor_growth: Bounded(0.0, 1.0) = 0.2
    peak_weight: Unit = 0.25
    end_weight: Unit = 0.25
    silent_effort: Bounded(0.0, 100.0) = 4.0
    silent_rate: Unit = 0.05


class Acquisition(Strict):
    base_rate: Bounded(0.0, 100_000.0) = 4.0
    referral_rate: Unit = 0.004
    detractor_rate: Unit = 0.002
    referral_trust_boost: Unit = 0.1
    referral_expectation_boost: Unit = 0.05


class WordOfMouth(Strict):
    """Weights of satisfaction, trust and mood in the likelihood to recommend (sum to 1)."""

    satisfaction: Unit = 0.5
    trust: Unit = 0.3
    mood: Unit = 0.2


class Start(Strict):
    """How a run begins. ``launch``: every customer new at week 0. ``warm``: a going
    concern: ``burn_in_weeks`` weeks are simulated first under the stated ``strategy`` (the
    company's past, the same for every strategy compared), starting from customers whose
    place in the scheduled visits' cycle is spread over ``tenure_spread_weeks``."""

    mode: Literal["launch", "warm"] = "launch"
    burn_in_weeks: Annotated[int, Field(ge=1, le=MAX_BURN_IN)] = 104
    tenure_spread_weeks: Annotated[int, Field(ge=0, le=MAX_HORIZON)] = 52
    strategy: Strategy = Strategy(name="reactive", budget=2000.0)


class Economics(Strict):
    fixed_cost: Money = 0.0
    annual_discount_rate: Unit = 0.08


class Scenario(Strict):
    description: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    horizon: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = 156
    cohort: Annotated[int, Field(ge=1, le=MAX_COHORT)] = 2000
    #: set by ``with_company_scaled``: the cohort the company-wide amounts were written for
    company_sized_for: Annotated[int, Field(ge=1, le=MAX_COHORT)] | None = None
    touchpoints: Annotated[list[Touchpoint], Field(min_length=1)]
    journey: Journey
    segments: Annotated[list[Segment], Field(min_length=1)]
    psychology: Psychology = Psychology()
    issues: Issues = Issues()
    desk: Desk = Desk()
    levers: Levers = Levers()
    camps: Camps = Camps()
    allocations: dict[Name, Allocation] = {}
    strategy: Strategy = Strategy(name="balanced")
    churn: Churn = Churn()
    acquisition: Acquisition = Acquisition()
    word_of_mouth: WordOfMouth = WordOfMouth()
    economics: Economics = Economics()
    frontline: Frontline = Frontline()
    start: Start = Start()

    @model_validator(mode="after")
    def _cross_checks(self):
        problems = cross_field_problems(self.model_dump())
        if problems:
            raise ValueError("\n".join(f"{where}: {what}" for where, what in problems))
        return self

    def allocation(self, strategy: Strategy | None = None) -> dict[str, float]:
        """The share of the budget each lever receives, resolved from the strategy (or the
        one given, e.g. the warm start's)."""
        st = self.strategy if strategy is None else strategy
        if st.allocation is not None:
            return {lever: st.allocation.get(lever, 0.0) for lever in LEVERS}
        if st.name == "none":
            return {lever: 0.0 for lever in LEVERS}
        if st.name in self.allocations:
            return {lever: self.allocations[st.name].get(lever, 0.0) for lever in LEVERS}
        if st.name == "service":
            return {lever: self.camps.service.get(lever, 0.0) for lever in LEVERS}
        mix = {"reactive": 0.0, "proactive": 1.0, "balanced": 0.5}.get(st.name, st.mix)
        return {lever: (1.0 - mix) * self.camps.reactive.get(lever, 0.0)
                + mix * self.camps.proactive.get(lever, 0.0) for lever in LEVERS}

    def budget(self, strategy: Strategy | None = None) -> float:
        st = self.strategy if strategy is None else strategy
        return 0.0 if st.name == "none" else st.budget

    def phases(self) -> list[Phase]:
        """The strategy as phases: a strategy without them is one phase from week 0."""
        st = self.strategy
        if st.phases is not None:
            return list(st.phases)
        return [Phase(start=0, budget=st.budget, name=st.name, mix=st.mix,
                      allocation=st.allocation)]

    def burn_in_weeks(self) -> int:
        """Weeks simulated before week 0: a warm start's burn-in, none at a launch."""
        return self.start.burn_in_weeks if self.start.mode == "warm" else 0

    def tenure_spread_weeks(self) -> int:
        """Weeks over which the starting customers' tenures are spread (0 at a launch)."""
        return self.start.tenure_spread_weeks if self.start.mode == "warm" else 0

    def starting_revenue(self) -> float:
        """The expected weekly revenue of the starting cohort."""
        return self.cohort * sum(s.share * s.weekly_value for s in self.segments)

    def with_strategy(self, strategy: str, source: str = "strategy") -> "Scenario":
        """This scenario with another strategy: a name, ``mix=0.3`` or a bare number as a mix.
        A problem is reported under ``source`` and the strategy."""
        return apply_overrides(self, strategy_overrides(strategy),
                               f"{source} {_shown(strategy, quote=False)}")


def strategy_overrides(strategy: str) -> list[str]:
    """The --set lines that put a strategy (a name, ``mix=0.3`` or a bare number) in place."""
    text = strategy.strip()
    if text.startswith("mix="):
        text = text[4:]
    try:
        return [f"strategy.mix={float(text)!r}"]
    except ValueError:
        return [f"strategy.name={json.dumps(text)}"]


# ------------------------------------------------------------------ cross-field checks

def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _default(model: type[BaseModel], name: str):
    return model.model_fields[name].default


def _allocation_problem(allocation, where: str) -> list[tuple[str, str]]:
    if not isinstance(allocation, dict) or not all(map(_number, allocation.values())):
        return []  # a malformed allocation is a field error
    total = sum(allocation.values())
    if total > 1.0 + 1e-9:
        return [(where, f"shares must sum to at most 1 (they sum to {total:g})")]
    return []


def _is_name(value) -> bool:
    """A name that passes its field check (else the field error is the whole story)."""
    return isinstance(value, str) and 1 <= len(value) <= MAX_NAME


def _names(items) -> list[str] | None:
    """The names of a list's items, or None when any item lacks a usable name."""
    if not isinstance(items, list):
        return None
    names = [item.get("name") if isinstance(item, dict) else None for item in items]
    return names if all(map(_is_name, names)) else None


def _unique(names: list[str] | None, where: str, what: str) -> list[tuple[str, str]]:
    if names is None:
        return []
    repeated = sorted({n for n in names if names.count(n) > 1})
    return [(where, f"{what} names must be unique ({', '.join(map(_shown, repeated))} "
                    "repeated)")] if repeated else []


def _journey_problems(journey, names: list[str]) -> list[tuple[str, str]]:
    problems, known = [], set(names)
    listed = f"known: {_shown_list(names)}"
    entry = journey.get("entry")
    if _is_name(entry) and entry not in known:
        problems.append(("journey.entry", f"unknown touchpoint {_shown(entry)} ({listed})"))
    transitions = journey.get("transitions")
    if isinstance(transitions, dict):
        for src, row in transitions.items():
            if _is_name(src) and src not in known:
                problems.append((f"journey.transitions.{src}",
                                 f"unknown touchpoint ({listed})"))
            if not isinstance(row, dict):
                continue
            for dst in row:
                if _is_name(dst) and dst not in known:
                    problems.append((f"journey.transitions.{src}."
                                     f"{dst}",
                                     f"unknown touchpoint ({listed})"))
            if all(map(_number, row.values())):
                total = sum(row.values())
                if not math.isclose(total, 1.0, abs_tol=1e-9):
                    problems.append((f"journey.transitions.{src}",
                                     f"probabilities must sum to 1 (they sum to {total:g})"))
        missing = [n for n in names if n not in transitions]
        if missing:
            problems.append(("journey.transitions", "every touchpoint needs a row; missing "
                             + _shown_list(missing)))
    scheduled = journey.get("scheduled")
    for i, visit in enumerate(scheduled if isinstance(scheduled, list) else []):
        target = visit.get("touchpoint") if isinstance(visit, dict) else None
        if _is_name(target) and target not in known:
            problems.append((f"journey.scheduled.{i}.touchpoint",
                             f"unknown touchpoint {_shown(target)} ({listed})"))
    return problems


def _strategy_problems(strategy, allocations, where: str = "strategy",
                       kinds=("name", "mix", "allocation")) -> list[tuple[str, str]]:
    given = [k for k in kinds if strategy.get(k) is not None]
    if len(given) != 1:
        phases = ", phases (a list of [[strategy.phases]])" if "phases" in kinds else ""
        return [(where, f"give exactly one of name ({'|'.join(NAMED_STRATEGIES)} or a "
                 f"name from [allocations]), mix (0 to 1), allocation{phases} "
                 f"(got {', '.join(given) or 'none'})")]
    problems = _allocation_problem(strategy.get("allocation"), f"{where}.allocation")
    name = strategy.get("name")
    named = list(NAMED_STRATEGIES) + (list(allocations) if isinstance(allocations, dict) else [])
    if _is_name(name) and name not in named:
        problems.append((f"{where}.name", f"unknown strategy {_shown(name)} "
                                          f"(allowed: {_shown_list(named)})"))
    return problems


def _phase_problems(phases, allocations, horizon) -> list[tuple[str, str]]:
    """Each phase is a strategy; the first starts at week 0 without a ramp; starts rise and
    a ramp ends by the next start; no phase starts after the horizon."""
    if not isinstance(phases, list):
        return []
    if not isinstance(horizon, int) or isinstance(horizon, bool):
        horizon = _default(Scenario, "horizon")
    problems, ramp_end = [], None
    for i, phase in enumerate(phases):
        if not isinstance(phase, dict):
            continue
        where = f"strategy.phases.{i}"
        problems += _strategy_problems(phase, allocations, where)
        if phase.get("budget") is not None and phase.get("revenue_share") is not None:
            problems.append((where, "give budget (a week) or revenue_share (of last week's "
                                    "revenue), not both"))
        start, ramp = phase.get("start"), phase.get("ramp", 0)
        if not (_number(start) and _number(ramp)):
            continue
        if i == 0 and (start != 0 or ramp != 0):
            problems.append((f"{where}.start", "the first phase starts at week 0 with no ramp "
                             f"(got start {_shown(start)}, ramp {_shown(ramp)})"))
        if start > horizon:
            problems.append((f"{where}.start", f"starts after the horizon (week {start}; the "
                             f"horizon is {horizon} weeks)"))
        if ramp_end is not None and start < ramp_end:
            problems.append((f"{where}.start", f"overlaps the phase before it (starts must "
                             f"rise, each after the previous phase's ramp: week {ramp_end} "
                             f"or later; got {_shown(start)})"))
        ramp_end = start + ramp + 1
    return problems


def _trigger_problems(triggers) -> list[tuple[str, str]]:
    """Levels inside the observable's range and in the order hysteresis needs; each trigger
    splits its share over levers summing to 1; the shares moved at once are at most 1."""
    if not isinstance(triggers, list):
        return []
    problems, shares = [], []
    for i, trigger in enumerate(triggers):
        if not isinstance(trigger, dict):
            continue
        where = f"strategy.triggers.{i}"
        observable, when = trigger.get("observe"), trigger.get("when", "above")
        enter, leave = trigger.get("enter"), trigger.get("leave")
        if observable in OBSERVABLE_RANGE and _number(enter) and _number(leave):
            low, high = OBSERVABLE_RANGE[observable]
            for name, level in (("enter", enter), ("leave", leave)):
                if not low <= level <= high:
                    problems.append((f"{where}.{name}", f"{observable} lies in [{low:g}, "
                                     f"{high:g}] (got {_shown(level)})"))
            if when == "above" and leave > enter:
                problems.append((where, f"a trigger entered above {_shown(enter)} must "
                                 f"leave at or below it (leave {_shown(leave)} > enter)"))
            if when == "below" and leave < enter:
                problems.append((where, f"a trigger entered below {_shown(enter)} must "
                                 f"leave at or above it (leave {_shown(leave)} < enter)"))
        levers = trigger.get("levers")
        if isinstance(levers, dict) and all(map(_number, levers.values())):
            total = sum(levers.values())
            if not math.isclose(total, 1.0, abs_tol=1e-9):
                problems.append((f"{where}.levers", f"shares must sum to 1 (they sum to "
                                                    f"{total:g})"))
        if _number(trigger.get("share")):
            shares.append(trigger["share"])
    if sum(shares) > 1.0 + 1e-9:
        problems.append(("strategy.triggers", f"the shares moved must sum to at most 1 "
                                              f"(they sum to {sum(shares):g})"))
    return problems


def cross_field_problems(data) -> list[tuple[str, str]]:
    """(field path, what is wrong) for every rule that ties several fields together.

    Runs on a validated scenario and also on raw data whose fields have errors (pydantic
    skips a model's checks when one of its fields is wrong), so that every independent
    problem is reported at once. A part too malformed to check is left to the field errors.
    """
    if not isinstance(data, dict):
        return []
    problems = []
    tp_names = _names(data.get("touchpoints"))
    problems += _unique(tp_names, "touchpoints", "touchpoint")
    journey = data.get("journey")
    if isinstance(journey, dict) and tp_names:
        problems += _journey_problems(journey, tp_names)
    allocations = data.get("allocations")
    if isinstance(allocations, dict):
        for name, allocation in allocations.items():
            problems += _allocation_problem(allocation, f"allocations.{name}")
    camps = data.get("camps")
    if isinstance(camps, dict):
        for camp in ("reactive", "proactive", "service"):
            problems += _allocation_problem(camps.get(camp), f"camps.{camp}")
    strategy = data.get("strategy")
    if isinstance(strategy, dict):
        problems += _strategy_problems(strategy, allocations,
                                       kinds=("name", "mix", "allocation", "phases"))
        problems += _phase_problems(strategy.get("phases"), allocations, data.get("horizon"))
        problems += _trigger_problems(strategy.get("triggers"))
    start = data.get("start")
    if isinstance(start, dict) and isinstance(start.get("strategy"), dict):
        problems += _strategy_problems(start["strategy"], allocations, "start.strategy")
        for fixed in ("phases", "triggers"):
            if start["strategy"].get(fixed):
                problems.append((f"start.strategy.{fixed}", "the burn-in keeps one fixed "
                                 "strategy: no phases or triggers (they belong to [strategy])"))
    segments = data.get("segments")
    problems += _unique(_names(segments), "segments", "segment")
    if isinstance(segments, list) and segments and all(
            isinstance(s, dict) and _number(s.get("share")) for s in segments):
        total = sum(s["share"] for s in segments)
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            problems.append(("segments", f"shares must sum to 1 (they sum to {total:g})"))
    churn = data.get("churn", {})
    if isinstance(churn, dict):
        weights = [churn.get(k, _default(Churn, k)) for k in ("peak_weight", "end_weight")]
        if all(map(_number, weights)) and sum(weights) > 1.0 + 1e-9:
            problems.append(("churn", "peak_weight + end_weight must be at most 1 "
                                      f"(they sum to {sum(weights):g})"))
    wom = data.get("word_of_mouth", {})
    if isinstance(wom, dict):
        weights = [wom.get(k, _default(WordOfMouth, k)) for k in ("satisfaction", "trust", "mood")]
        if all(map(_number, weights)) and not math.isclose(sum(weights), 1.0, abs_tol=1e-9):
            problems.append(("word_of_mouth", f"weights must sum to 1 (they sum to "
                                              f"{sum(weights):g})"))
    return problems


# ---------------------------------------------------------------- reporting problems

#: the most characters of a value an error line shows
SHOWN_CHARS = 60


def _shown(value, quote: bool = True, limit: int = SHOWN_CHARS) -> str:
    """A value as an error line shows it: floats rounded to 12 digits (``0.1 * 3`` is 0.3,
    not 0.30000000000000004), long values cut short."""
    if isinstance(value, float):
        text = f"{value:.12g}"
    elif isinstance(value, str) and not quote:
        text = value
    else:
        text = repr(value)
    if len(text) > limit:
        text = f"{text[:limit - 20]}... ({len(text):,} characters)"
    return text


def _where(path: str) -> str:
    """A field path as an error line shows it (room for two names of the longest kind)."""
    return _shown(path, quote=False, limit=2 * MAX_NAME + 60)


def _shown_list(names) -> str:
    shown = ", ".join(_shown(n, quote=False) for n in list(names)[:20])
    return shown + (f" and {len(names) - 20} more" if len(names) > 20 else "")


def _location(loc: tuple, data=None) -> str:
    """A dotted path; list items that have a name are called by it (as ``--set`` does)."""
    parts, node = [], data
    for p in loc:
        if isinstance(p, str) and (p == "[key]" or p.startswith(("function-", "literal[",
                                                                  "dict[", "list["))):
            continue
        named = isinstance(p, int) and isinstance(node, list) and p < len(node) \
            and isinstance(node[p], dict) and isinstance(node[p].get("name"), str)
        parts.append(node[p]["name"] if named else str(p))
        if isinstance(node, list) and isinstance(p, int) and p < len(node):
            node = node[p]
        elif isinstance(node, dict):
            node = node.get(p)
        else:
            node = None
    return ".".join(parts)


def _field_problems(err: ValidationError, data=None) -> list[tuple[str, str]]:
    """(field path, what is allowed) of every error pydantic found."""
    problems = []
    for e in err.errors():
        where = _location(e["loc"], data)
        msg = e["msg"]
        if msg.startswith("Value error, "):
            # a cross-field check: one "path: message" line per problem
            for line in msg[len("Value error, "):].splitlines():
                m = re.match(r"^([\w.*-]+): (.*)$", line)
                problems.append((m.group(1), m.group(2)) if m and not where else (where, line))
            continue
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not part of the schema)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "finite_number":
            msg = "Input should be a finite number"
        elif e["type"] == "int_parsing_size":
            msg = "Input should be a whole number in the field's range (this one is far too large)"
        if "input" in e and not isinstance(e["input"], (dict, list)) \
                and e["type"] not in ("extra_forbidden", "missing"):
            msg = f"{msg} (got {_shown(e['input'])})"
        problems.append((where, msg))
    return problems


def format_validation_error(source: str, err: ValidationError, data=None) -> list[str]:
    """One line per problem: ``source: field.path: what is allowed (got value)``."""
    return [f"{source}: {_where(where) if where else '(top level)'}: {msg}"
            for where, msg in _field_problems(err, data)]


def _blamed(where: str, source: str, blame: list[tuple[str, list[str]]]) -> str:
    """The override that set ``where`` (or a table holding it, or a field inside it), the
    last one winning; else ``source``, the file."""
    for label, paths in reversed(blame):
        for path in paths:
            if where and (where == path or where.startswith(path + ".")
                          or path.startswith(where + ".")):
                return label
    return source


def scenario_problems(data, source: str, blame=()) -> list[str]:
    """Every problem of scenario data, one line each (empty when it is valid)."""
    try:
        Scenario.model_validate(data)
        return []
    except ValidationError as err:
        problems = _field_problems(err, data)
        checked_whole = any(e["loc"] == () and e["type"] == "value_error" for e in err.errors())
    except RecursionError:
        return [f"{source}: nested too deeply to be a scenario"]
    if not checked_whole:
        problems += [p for p in cross_field_problems(data) if p not in problems]
    return [f"{_blamed(where, source, list(blame))}: "
            f"{_where(where) if where else '(top level)'}: {msg}"
            for where, msg in problems]


def scenario_from_data(data: dict, source: str = "<scenario>", blame=()) -> Scenario:
    """Validate scenario data; ``blame`` lists (label, paths set) of the overrides applied,
    so that a problem in a value an override set is reported under the override."""
    problems = scenario_problems(data, source, blame)
    if problems:
        raise ScenarioError(problems)
    return Scenario.model_validate(data)


# ---------------------------------------------------------------- loading and overrides

#: the deepest nesting of tables and lists a scenario or study file may have (they need 4)
MAX_DEPTH = 16


def _too_deep(value) -> bool:
    """Whether tables and lists nest deeper than MAX_DEPTH (walked without recursion)."""
    todo = [(value, 0)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, (dict, list)):
            if depth >= MAX_DEPTH:
                return True
            todo.extend((child, depth + 1)
                        for child in (node.values() if isinstance(node, dict) else node))
    return False


def read_toml(path: str | Path) -> dict:
    """Parse a TOML file, turning every failure into a one-line ScenarioError."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError([f"{path}: no such file" if not path.exists()
                             else f"{path}: not a file"])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"{path}: invalid TOML: {exc}"]) from None
    except UnicodeDecodeError:
        raise ScenarioError([f"{path}: not a UTF-8 text file"]) from None
    except RecursionError:
        raise ScenarioError([f"{path}: invalid TOML: nested too deeply"]) from None
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    if _too_deep(data):
        raise ScenarioError([f"{path}: invalid TOML: nested too deeply (more than "
                             f"{MAX_DEPTH} levels)"])
    return data


def parse_override(text: str) -> tuple[list[str], str, object]:
    """``a.b.c=value`` (set) or ``a.b.c*=factor`` (multiply) to (path, operator, value).

    The value is read as TOML, else kept as text. ``*`` in the path stands for every item of
    a list: ``touchpoints.*.failure_rate*=2`` doubles every touchpoint's failure rate.
    """
    shown = f"--set {_shown(text, quote=False)}"
    if "=" not in text:
        raise ScenarioError([f"{shown}: expected dotted.path=value"])
    key, raw = text.split("=", 1)
    operator = "*=" if key.endswith("*") else "="
    path = key.strip().rstrip("*").strip().split(".")
    if not all(path):
        raise ScenarioError([f"{shown}: expected dotted.path=value or dotted.path*=factor "
                             "(* alone stands for every item of a list: a.*.b=value)"])
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    except RecursionError:
        raise ScenarioError([f"{shown}: the value is nested too deeply"]) from None
    if _too_deep(value):
        raise ScenarioError([f"{shown}: the value is nested too deeply (more than "
                             f"{MAX_DEPTH} levels)"])
    if operator == "*=" and (isinstance(value, bool) or not isinstance(value, (int, float))
                             or not math.isfinite(value)):
        raise ScenarioError([f"{shown}: *= needs a finite number"])
    return path, operator, value


def _label(items: list, index: int) -> str:
    item = items[index]
    named = isinstance(item, dict) and isinstance(item.get("name"), str)
    return item["name"] if named else str(index)


def _children(node, part: str, text: str, create: bool) -> list[tuple[object, str]]:
    if isinstance(node, list):
        indices = range(len(node)) if part == "*" else [_list_index(node, part, text)]
        return [(node[i], _label(node, i)) for i in indices]
    if not isinstance(node, dict):
        raise ScenarioError([f"--set {_shown(text, quote=False)}: {_shown(part, quote=False)} "
                             "is inside a value, not a table"])
    if part not in node:
        if not create:
            raise ScenarioError([f"--set {_shown(text, quote=False)}: no field "
                                 f"{_shown(part)} here (fields here: {_shown_list(node)})"])
        node[part] = {}
    return [(node[part], part)]


def _apply(node, path: list[str], operator: str, value, text: str) -> list[str]:
    """Apply one override to the data; returns the dotted paths it set (items by name)."""
    *parents, last = path
    nodes = [(node, [])]
    for part in parents:
        nodes = [(child, where + [label]) for n, where in nodes
                 for child, label in _children(n, part, text, operator == "=")]
    shown = f"--set {_shown(text, quote=False)}"
    touched = []
    for target, where in nodes:
        if isinstance(target, list):
            indices = range(len(target)) if last == "*" else [_list_index(target, last, text)]
            for index in indices:
                target[index] = _combine(target[index], operator, value, text)
                touched.append(".".join(where + [_label(target, index)]))
            continue
        if not isinstance(target, dict):
            raise ScenarioError([f"{shown}: {_shown('.'.join(parents), quote=False)} "
                                 "is not a table"])
        if parents[-1:] == ["strategy"] and last in ("name", "mix", "allocation", "phases"):
            for other in ("name", "mix", "allocation", "phases", "triggers"):
                target.pop(other, None)  # the strategy given last wins, whole
        if operator == "*=" and last not in target:
            raise ScenarioError([f"{shown}: no value to multiply at "
                                 f"{_shown('.'.join(path), quote=False)} "
                                 f"(fields here: {_shown_list(target)})"])
        target[last] = _combine(target.get(last), operator, value, text)
        touched.append(".".join(where + [last]))
    return touched


def _combine(old, operator: str, value, text: str):
    if operator == "=":
        return value
    if isinstance(old, bool) or not isinstance(old, (int, float)):
        raise ScenarioError([f"--set {_shown(text, quote=False)}: *= needs a number to "
                             f"multiply (found {_shown(old)})"])
    product = old * value
    return int(round(product)) if isinstance(old, int) and not isinstance(value, float) \
        else product


def _list_index(items: list, part: str, text: str) -> int:
    if part.isdigit() and int(part) < len(items):
        return int(part)
    for i, item in enumerate(items):  # list items may be addressed by their name
        if isinstance(item, dict) and item.get("name") == part:
            return i
    names = [item["name"] for item in items if isinstance(item, dict) and "name" in item]
    allowed = f"an index 0 to {len(items) - 1}" if items else "none (the list is empty)"
    if names:
        allowed += f", a name ({_shown_list(names)})"
    raise ScenarioError([f"--set {_shown(text, quote=False)}: no item {_shown(part)} in that "
                         f"list (allowed: {allowed} or * for every item)"])


def _overridden(data: dict, overrides: list[str], origin: str = "--set"):
    """The data with the overrides applied, and (label, paths set) of each override."""
    data = copy.deepcopy(data)
    blame = []
    for text in overrides:
        try:
            path, operator, value = parse_override(text)
            blame.append((f"{origin} {_shown(text, quote=False)}",
                          _apply(data, path, operator, value, text)))
        except ScenarioError as exc:  # its lines say "--set TEXT: ..."
            raise ScenarioError([origin + line[len("--set"):] for line in exc.problems]) \
                from None
    return data, blame


def apply_overrides(scenario: Scenario, overrides: list[str], source: str = "--set") -> Scenario:
    """The scenario with overrides applied; a problem is reported under ``source``."""
    data = scenario.model_dump(exclude_none=True)
    return scenario_from_data(_overridden(data, overrides)[0], source)


def load_scenario(path: str | Path, overrides: list[str] | None = None, *,
                  scale_company: bool = False, origin: str = "--set") -> Scenario:
    """Read, override and validate a scenario file (raises ScenarioError).

    Overrides apply to the scenario with its defaults filled in, so ``*=`` can scale a value
    the file leaves at its default; a file that is invalid on its own is overridden as written
    (an override may be what mends it). A problem in a value an override set is reported
    under that override (``origin`` and its text), the rest under the file.

    ``scale_company``: when the overrides change the cohort, first scale the company-wide
    amounts the file gives for its own cohort (``with_company_scaled``); overrides then
    apply on top, so a value set explicitly stays as given.
    """
    overrides = list(overrides or [])
    data = read_toml(path)
    if is_study(data):
        raise ScenarioError([f"{path}: this is a study file (it varies parameters); run it with "
                             "cxsim sweep (cxsim robust for uncertainties and policies), or "
                             "validate it with cxsim validate"])
    if is_calibration(data):
        raise ScenarioError([f"{path}: this is a calibration file (it fits parameters to "
                             "observed data); run it with cxsim calibrate, or validate it with "
                             "cxsim validate"])
    if is_optimisation(data):
        raise ScenarioError([f"{path}: this is an optimisation file (it searches strategies); "
                             "run it with cxsim optimise, or validate it with cxsim validate"])
    as_written = scenario_problems(data, str(path))
    if not as_written:
        data = Scenario.model_validate(data).model_dump(mode="json", exclude_none=True)
    if scale_company:
        if as_written:
            raise ScenarioError(as_written + [f"--scale-company: needs {path} to be valid "
                                              "on its own (it scales the file's company)"])
        cohort = _overridden(data, overrides, origin)[0].get("cohort")
        if isinstance(cohort, int) and not isinstance(cohort, bool) \
                and 1 <= cohort <= MAX_COHORT:
            scaled = with_company_scaled(Scenario.model_validate(data), cohort)
            data = scaled.model_dump(mode="json", exclude_none=True)
    data, blame = _overridden(data, overrides, origin)
    return scenario_from_data(data, str(path), blame)


#: company-wide amounts that ``with_company_scaled`` scales, besides the desk and the lever scales
_COMPANY_AMOUNTS = ("strategy.budget", "acquisition.base_rate", "economics.fixed_cost")


def with_company_scaled(scenario: Scenario, customers: int) -> Scenario:
    """The scenario for ``customers`` customers with every company-wide amount scaled in
    proportion (desk capacity, budget, the scales of the levers' stocks, organic arrivals,
    fixed cost), so that each customer meets the same company: what changing the number of
    customers should compare. (Left as they are, a small cohort gets a lavish company and a
    large one an overloaded desk.) The result records the cohort the amounts were written
    for in ``company_sized_for``."""
    f = customers / scenario.cohort
    updates = [f"cohort={customers}",
               f"desk.base_capacity={round(scenario.desk.base_capacity * f)}",
               f"company_sized_for={scenario.company_sized_for or scenario.cohort}"]
    updates += [f"{amount}*={f!r}" for amount in _COMPANY_AMOUNTS]
    updates += [f"levers.{name}.scale*={f!r}" for name, lever in scenario.levers
                if isinstance(lever, Lever)]
    return apply_overrides(scenario, updates, source="--scale-company")


def spend_warning(scenario: Scenario) -> str | None:
    """A warning when the weekly spend is a large share of the starting weekly revenue, as
    when the cohort was changed without the company (``with_company_scaled``)."""
    revenue, spend = scenario.starting_revenue(), scenario.budget()
    if spend <= SPEND_WARNING_SHARE * revenue:
        return None
    share = f"{spend / revenue:.0%} of" if revenue > 0 else "more than"
    return (f"warning: the budget ({spend:,.0f} a week) is {share} the starting weekly revenue "
            f"({revenue:,.0f} from {scenario.cohort:,} customers); if the company was sized "
            "for more customers, --scale-company scales it with the cohort")


# ------------------------------------------------------------------ bundled scenarios

BUNDLED = Path(__file__).resolve().parent.parent / "scenarios"


def resolve_path(name_or_path: str | Path) -> Path:
    """A file path as given, or the bundled scenario of that name (``baseline``)."""
    path = Path(name_or_path)
    if path.exists() or path.suffix:
        return path
    bundled = BUNDLED / f"{name_or_path}.toml"
    return bundled if bundled.is_file() else path


def is_study(data: dict) -> bool:
    """A study file names a base scenario and the parameters it varies (or, a robust study,
    its uncertainties and policies)."""
    return ("scenario" in data and not is_calibration(data) and not is_optimisation(data)
            and any(key in data for key in ("parameters", "uncertainties", "policies")))


def is_calibration(data: dict) -> bool:
    """A calibration file names a base scenario, observed data and parameters to fit."""
    return "scenario" in data and "observed" in data


def is_optimisation(data: dict) -> bool:
    """An optimisation file names a base scenario and a search space."""
    return "scenario" in data and "search" in data


def bundled_scenarios() -> list[tuple[str, str, str]]:
    """(name, kind, one-line description) of every bundled scenario and study file."""
    found = []
    for path in sorted(BUNDLED.glob("*.toml")):
        try:
            data = read_toml(path)
            kind = "study" if is_study(data) else "calibration" if is_calibration(data) \
                else "scenario"
            description = str(data.get("description", ""))
        except ScenarioError as exc:
            kind, description = "?", f"(unreadable: {exc.problems[0]})"
        found.append((path.stem, kind, description))
    return found
