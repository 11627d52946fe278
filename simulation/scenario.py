"""The scenario: a validated description of one company, its customers and its strategy.

A scenario file is TOML. Loading validates it into typed objects that reject unknown keys,
range-check every number and cross-check every name, so a mistake surfaces as one line
``file: field.path: what is allowed`` instead of a strange result later.
Every default below is documented, with its reason, in ``docs/model.md``.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
#: the longest burn-in of a warm start; burn-in and horizon together stay inside the streams
MAX_BURN_IN = 5200
assert MAX_HORIZON + MAX_BURN_IN <= MAX_STEP

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
NonNeg = Annotated[float, Field(ge=0.0)]
Pos = Annotated[float, Field(gt=0.0)]


class ScenarioError(Exception):
    """A scenario (or study) that cannot be used; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Touchpoint(Strict):
    name: str
    stage: str = "use"
    channel: Literal["digital", "human", "physical"] = "digital"
    quality: Unit = 0.7
    variability: NonNeg = 0.1
    failure_rate: Unit = 0.05
    complexity: Unit = 0.3
    salience: NonNeg = 1.0
    decision: bool = False


class Scheduled(Strict):
    touchpoint: str
    every: Annotated[int, Field(ge=1)]


class Journey(Strict):
    entry: str
    transitions: dict[str, dict[str, Unit]]
    scheduled: list[Scheduled] = []


class Segment(Strict):
    name: str
    share: Unit
    weekly_value: NonNeg = 10.0
    self_service: Unit = 0.5
    voice: Unit = 0.4
    abandon: Unit = 0.2
    expectation: Unit = 0.65
    trust: Unit = 0.5
    satisfaction: Unit = 0.6
    churn_bias: float = 0.0
    effort_weight: NonNeg = 1.0


class Psychology(Strict):
    mood_congruence: NonNeg = 0.3
    appraisal_gain: Pos = 2.5
    loss_aversion: Annotated[float, Field(ge=1.0)] = 2.0
    mood_persistence: Unit = 0.7
    mood_shock: NonNeg = 0.15
    satisfaction_rate: Unit = 0.08
    expectation_rate: Unit = 0.005
    expectation_drift: Annotated[float, Field(ge=0.0, le=0.05)] = 0.0002
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
    self_service_effort: NonNeg = 0.2
    failed_self_service_effort: NonNeg = 0.8
    contact_effort: NonNeg = 0.5
    wait_effort: NonNeg = 0.6
    silent_effort: NonNeg = 0.4
    silent_mood_hit: Unit = 0.1
    effort_decay: Unit = 0.15


class Desk(Strict):
    base_capacity: Annotated[int, Field(ge=0)] = 90
    cost_per_contact: NonNeg = 6.0
    fcr: Unit = 0.75
    fcr_max: Unit = 0.95
    recovery_quality: Unit = 0.6
    recovery_max: Unit = 0.95
    recovery_salience: NonNeg = 2.0
    burnout_rate: Unit = 0.08
    burnout_heal: Unit = 0.1
    burnout_penalty: Unit = 0.5


class Frontline(Strict):
    """Which touchpoints frontline service reaches: human ones fully, physical ones by the
    share people deliver (``physical_reach``), digital ones not at all."""

    physical_reach: Unit = 0.5


class Lever(Strict):
    """A spending stock: S <- (1 - depreciation) S + spend; effect = ceiling (1 - exp(-S/scale))."""

    depreciation: Annotated[float, Field(gt=0.0, le=1.0)]
    scale: Pos
    ceiling: Unit


class CapacityLever(Strict):
    """Desk capacity is linear in spend: one extra weekly contact slot per ``cost_per_slot``."""

    depreciation: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    cost_per_slot: Pos = 12.0


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


def _check_allocation_total(allocation: dict[str, float], where: str) -> None:
    total = sum(allocation.values())
    if total > 1.0 + 1e-9:
        raise ValueError(f"{where} shares must sum to at most 1 (they sum to {total:g})")


class Camps(Strict):
    """The camps' allocations of a budget; ``mix`` blends between reactive and proactive;
    the service camp (the named strategy ``service``) serves well everywhere people work."""

    reactive: Allocation = {"capacity": 0.4, "training": 0.25, "recovery": 0.15, "staff": 0.2}
    proactive: Allocation = {"reliability": 0.3, "consistency": 0.15, "outreach": 0.15,
                             "self_service": 0.25, "relationship": 0.15}
    service: Allocation = {"frontline": 0.4, "staff": 0.2, "training": 0.15, "recovery": 0.1,
                           "capacity": 0.15}

    @model_validator(mode="after")
    def _totals(self):
        _check_allocation_total(self.reactive, "reactive")
        _check_allocation_total(self.proactive, "proactive")
        _check_allocation_total(self.service, "service")
        return self


class Strategy(Strict):
    budget: NonNeg = 2000.0
    name: str | None = None
    mix: Unit | None = None
    allocation: Allocation | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("name", "mix", "allocation") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of name (none|reactive|proactive|balanced|"
                             "service or "
                             "a name from [allocations]), "
                             f"mix (0 to 1) or allocation (got {', '.join(given) or 'none'})")
        if self.allocation is not None:
            _check_allocation_total(self.allocation, "allocation")
        return self

    @property
    def label(self) -> str:
        if self.name is not None:
            return self.name
        if self.mix is not None:
            return f"mix={self.mix:g}"
        return "custom"


class Churn(Strict):
    base: float = -0.8
    satisfaction: NonNeg = 5.0
    trust: NonNeg = 2.5
    effort: NonNeg = 0.35
    issue: NonNeg = 1.0
    competitor: NonNeg = 0.5
    competitor_growth: NonNeg = 0.2
    peak_weight: Unit = 0.25
    end_weight: Unit = 0.25
    silent_effort: NonNeg = 4.0
    silent_rate: Unit = 0.05

    @model_validator(mode="after")
    def _weights(self):
        if self.peak_weight + self.end_weight > 1.0 + 1e-9:
            raise ValueError("peak_weight + end_weight must be at most 1")
        return self


class Acquisition(Strict):
    base_rate: NonNeg = 4.0
    referral_rate: NonNeg = 0.004
    detractor_rate: NonNeg = 0.002
    referral_trust_boost: Unit = 0.1
    referral_expectation_boost: Unit = 0.05


class WordOfMouth(Strict):
    """Weights of satisfaction, trust and mood in the likelihood to recommend (sum to 1)."""

    satisfaction: Unit = 0.5
    trust: Unit = 0.3
    mood: Unit = 0.2

    @model_validator(mode="after")
    def _sum(self):
        total = self.satisfaction + self.trust + self.mood
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"weights must sum to 1 (they sum to {total:g})")
        return self


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
    fixed_cost: NonNeg = 0.0
    annual_discount_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.08


class Scenario(Strict):
    description: str = ""
    horizon: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = 156
    cohort: Annotated[int, Field(ge=1, le=10_000_000)] = 2000
    touchpoints: Annotated[list[Touchpoint], Field(min_length=1)]
    journey: Journey
    segments: Annotated[list[Segment], Field(min_length=1)]
    psychology: Psychology = Psychology()
    issues: Issues = Issues()
    desk: Desk = Desk()
    levers: Levers = Levers()
    camps: Camps = Camps()
    allocations: dict[str, Allocation] = {}
    strategy: Strategy = Strategy(name="balanced")
    churn: Churn = Churn()
    acquisition: Acquisition = Acquisition()
    word_of_mouth: WordOfMouth = WordOfMouth()
    economics: Economics = Economics()
    frontline: Frontline = Frontline()
    start: Start = Start()

    @model_validator(mode="after")
    def _cross_checks(self):
        names = [t.name for t in self.touchpoints]
        if len(set(names)) != len(names):
            raise ValueError("touchpoint names must be unique")
        known = set(names)
        j = self.journey
        if j.entry not in known:
            raise ValueError(f"journey.entry: unknown touchpoint {j.entry!r} "
                             f"(known: {', '.join(names)})")
        for src, row in j.transitions.items():
            if src not in known:
                raise ValueError(f"journey.transitions.{src}: unknown touchpoint "
                                 f"(known: {', '.join(names)})")
            for dst in row:
                if dst not in known:
                    raise ValueError(f"journey.transitions.{src}.{dst}: unknown touchpoint "
                                     f"(known: {', '.join(names)})")
            total = sum(row.values())
            if not math.isclose(total, 1.0, abs_tol=1e-9):
                raise ValueError(f"journey.transitions.{src}: probabilities must sum to 1 "
                                 f"(they sum to {total:g})")
        missing = [n for n in names if n not in j.transitions]
        if missing:
            raise ValueError(f"journey.transitions: every touchpoint needs a row; "
                             f"missing {', '.join(missing)}")
        for i, s in enumerate(j.scheduled):
            if s.touchpoint not in known:
                raise ValueError(f"journey.scheduled.{i}.touchpoint: unknown touchpoint "
                                 f"{s.touchpoint!r} (known: {', '.join(names)})")
        for name, allocation in self.allocations.items():
            _check_allocation_total(allocation, f"allocations.{name}:")
        named = list(NAMED_STRATEGIES) + list(self.allocations)
        for where, strategy in (("strategy", self.strategy),
                                ("start.strategy", self.start.strategy)):
            if strategy.name is not None and strategy.name not in named:
                raise ValueError(f"{where}.name: unknown strategy {strategy.name!r} "
                                 f"(allowed: {', '.join(named)})")
        seg_names = [s.name for s in self.segments]
        if len(set(seg_names)) != len(seg_names):
            raise ValueError("segment names must be unique")
        total = sum(s.share for s in self.segments)
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"segments: shares must sum to 1 (they sum to {total:g})")
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

    def burn_in_weeks(self) -> int:
        """Weeks simulated before week 0: a warm start's burn-in, none at a launch."""
        return self.start.burn_in_weeks if self.start.mode == "warm" else 0

    def tenure_spread_weeks(self) -> int:
        """Weeks over which the starting customers' tenures are spread (0 at a launch)."""
        return self.start.tenure_spread_weeks if self.start.mode == "warm" else 0

    def with_strategy(self, strategy: str) -> "Scenario":
        """This scenario with another strategy: a name, ``mix=0.3`` or a bare number as a mix."""
        return apply_overrides(self, _strategy_overrides(strategy))


def _strategy_overrides(strategy: str) -> list[str]:
    text = strategy.strip()
    if text.startswith("mix="):
        text = text[4:]
    try:
        return [f"strategy.mix={float(text)}"]
    except ValueError:
        return [f"strategy.name={text}"]


# ---------------------------------------------------------------- loading and overrides

def _location(loc: tuple, data=None) -> str:
    """A dotted path; list items that have a name are called by it (as ``--set`` does)."""
    parts, node = [], data
    for p in loc:
        if isinstance(p, str) and p.startswith(("function-", "literal[", "dict[", "list[")):
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


def format_validation_error(source: str, err: ValidationError, data=None) -> list[str]:
    """One line per problem: ``source: field.path: what is allowed (got value)``."""
    lines = []
    for e in err.errors():
        where = _location(e["loc"], data)
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
            # a cross-check names its own field as "path: message"
            m = re.match(r"^([\w.]+): (.*)$", msg)
            if m and not where:
                where, msg = m.group(1), m.group(2)
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not part of the scenario schema)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and not isinstance(e["input"], (dict, list)):
            msg = f"{msg} (got {e['input']!r})"
        lines.append(f"{source}: {where or '(top level)'}: {msg}")
    return lines


def read_toml(path: str | Path) -> dict:
    """Parse a TOML file, turning every failure into a one-line ScenarioError."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError([f"{path}: no such file"])
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"{path}: invalid TOML: {exc}"]) from None
    except UnicodeDecodeError:
        raise ScenarioError([f"{path}: not a UTF-8 text file"]) from None


def parse_override(text: str) -> tuple[list[str], str, object]:
    """``a.b.c=value`` (set) or ``a.b.c*=factor`` (multiply) to (path, operator, value).

    The value is read as TOML, else kept as text. ``*`` in the path stands for every item of
    a list: ``touchpoints.*.failure_rate*=2`` doubles every touchpoint's failure rate.
    """
    if "=" not in text:
        raise ScenarioError([f"--set {text}: expected dotted.path=value"])
    key, raw = text.split("=", 1)
    operator = "*=" if key.endswith("*") else "="
    path = key.strip().rstrip("*").strip().split(".")
    if not all(path):
        raise ScenarioError([f"--set {text}: expected dotted.path=value"])
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    if operator == "*=" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ScenarioError([f"--set {text}: *= needs a number"])
    return path, operator, value


def _children(node, part: str, text: str, create: bool) -> list:
    if isinstance(node, list):
        return list(node) if part == "*" else [node[_list_index(node, part, text)]]
    if not isinstance(node, dict):
        raise ScenarioError([f"--set {text}: {part} is inside a value, not a table"])
    if part not in node:
        if not create:
            raise ScenarioError([f"--set {text}: no field {part!r} here "
                                 f"(fields here: {', '.join(map(str, node)) or 'none'})"])
        node[part] = {}
    return [node[part]]


def _apply(node, path: list[str], operator: str, value, text: str) -> None:
    *parents, last = path
    nodes = [node]
    for part in parents:
        nodes = [child for n in nodes for child in _children(n, part, text, operator == "=")]
    for target in nodes:
        if isinstance(target, list):
            indices = range(len(target)) if last == "*" else [_list_index(target, last, text)]
            for index in indices:
                target[index] = _combine(target[index], operator, value, text)
            continue
        if not isinstance(target, dict):
            raise ScenarioError([f"--set {text}: {'.'.join(parents)} is not a table"])
        if parents[-1:] == ["strategy"] and last in ("name", "mix", "allocation"):
            for other in ("name", "mix", "allocation"):
                target.pop(other, None)  # the strategy given last wins
        if operator == "*=" and last not in target:
            raise ScenarioError([f"--set {text}: no value to multiply at {'.'.join(path)} "
                                 f"(fields here: {', '.join(map(str, target)) or 'none'})"])
        target[last] = _combine(target.get(last), operator, value, text)


def _combine(old, operator: str, value, text: str):
    if operator == "=":
        return value
    if isinstance(old, bool) or not isinstance(old, (int, float)):
        raise ScenarioError([f"--set {text}: *= needs a number to multiply (found {old!r})"])
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
        allowed += f", a name ({', '.join(map(str, names))})"
    raise ScenarioError([f"--set {text}: no item {part!r} in that list (allowed: {allowed} "
                         "or * for every item)"])


def apply_overrides_to_data(data: dict, overrides: list[str]) -> dict:
    data = copy.deepcopy(data)
    for text in overrides:
        path, operator, value = parse_override(text)
        _apply(data, path, operator, value, text)
    return data


def scenario_from_data(data: dict, source: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(source, err, data)) from None


def apply_overrides(scenario: Scenario, overrides: list[str], source: str = "--set") -> Scenario:
    data = scenario.model_dump(exclude_none=True)
    return scenario_from_data(apply_overrides_to_data(data, overrides), source)


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Read, override and validate a scenario file (raises ScenarioError).

    Overrides apply to the scenario with its defaults filled in, so ``*=`` can scale a value
    the file leaves at its default; a file that is invalid on its own is overridden as written
    (an override may be what mends it).
    """
    data = read_toml(path)
    if is_study(data):
        raise ScenarioError([f"{path}: this is a study file (it varies parameters); run it with "
                             "cxsim sweep, or validate it with cxsim validate"])
    if overrides:
        try:
            data = Scenario.model_validate(data).model_dump(mode="json", exclude_none=True)
        except ValidationError:
            pass
    return scenario_from_data(apply_overrides_to_data(data, list(overrides or [])), str(path))


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
    """A study file names a base scenario and the parameters it varies."""
    return "scenario" in data and "parameters" in data


def bundled_scenarios() -> list[tuple[str, str, str]]:
    """(name, kind, one-line description) of every bundled scenario and study file."""
    found = []
    for path in sorted(BUNDLED.glob("*.toml")):
        try:
            data = read_toml(path)
            kind = "study" if is_study(data) else "scenario"
            description = str(data.get("description", ""))
        except ScenarioError as exc:
            kind, description = "?", f"(unreadable: {exc.problems[0]})"
        found.append((path.stem, kind, description))
    return found
