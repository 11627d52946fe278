"""The optimiser: search strategies for a goal, then name a winner that survives fresh seeds.

An optimisation file names a base scenario, a goal (cumulative profit, retention at the
horizon, or a weighted sum of per-run outputs), the named strategies to beat, and the search
space: the budget's split over the levers (on the simplex), optionally a second phase (its own
split, the switch week and the ramp) and a trigger (levels, share moved and where it goes).

Optuna's TPE sampler proposes candidates; each is simulated on the same seeds (common random
numbers), a batch of candidates per parallel call, and the study lives in the results folder
(Optuna's journal file), so a killed run resumes where it stopped. The named strategies'
splits are the first candidates. The best candidates of the search were chosen on its seeds
and look better there than they are (the winner's curse): the ``finalists`` are re-run on
fresh seeds, which pick the winner, and the winner and the named strategies are run once more
on seeds neither saw, which give the reported interval and the paired differences.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..decision_metrics import decision_table
from ..layout import OBSERVABLES
from ..results import mean_interval
from ..scenario import (LEVERS, MAX_HORIZON, MAX_TEXT, NAMED_STRATEGIES, OBSERVABLE_RANGE,
                        Scenario, ScenarioError, format_validation_error, load_scenario,
                        read_toml)
from ..study import MAX_ROOT_SEED, MAX_SEEDS, base_scenario_path

#: the goals an optimisation may name: what is maximised, per run
GOALS = ("profit", "retention", "weighted")
#: the outputs a goal reads from the per-run table
GOAL_OUTPUT = {"profit": "profit_total", "retention": "cohort_retention"}
MAX_TRIALS = 100_000
#: the smallest value a simplex coordinate's draw takes (its share is then near 1)
_FLOOR = 1e-9
JOURNAL = "optuna.journal"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Range(_Strict):
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low <= self.high:
            raise ValueError(f"low must be at most high (got {self.low:g} > {self.high:g})")
        return self


class WeekRange(_Strict):
    low: Annotated[int, Field(ge=0, le=MAX_HORIZON)]
    high: Annotated[int, Field(ge=0, le=MAX_HORIZON)]

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low <= self.high:
            raise ValueError(f"low must be at most high (got {self.low} > {self.high})")
        return self


Lever = Literal[LEVERS]  # type: ignore[valid-type]


class PhaseSearch(_Strict):
    """A second phase from ``switch_week`` on, ramped over ``ramp`` weeks, with its own split."""

    switch_week: WeekRange
    ramp: WeekRange = WeekRange(low=0, high=0)


class TriggerSearch(_Strict):
    """A trigger on ``observe``: its enter level, the gap back to its leave level, the share
    it moves and that share's split over ``levers``."""

    observe: Literal[OBSERVABLES]  # type: ignore[valid-type]
    when: Literal["above", "below"] = "above"
    enter: Range
    gap: Range
    share: Range
    levers: Annotated[list[Lever], Field(min_length=1)]
    window: Annotated[int, Field(ge=1, le=52)] = 4


class Search(_Strict):
    levers: Annotated[list[Lever], Field(min_length=1)] = list(LEVERS)
    phased: PhaseSearch | None = None
    trigger: TriggerSearch | None = None


class Goal(_Strict):
    kind: Literal["profit", "retention", "weighted"] = "profit"
    #: per-run output -> weight, for ``weighted`` (e.g. profit_total and cohort_retention)
    weights: dict[Annotated[str, Field(max_length=100)], float] = {}


class Optimisation(_Strict):
    description: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    scenario: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    overrides: list[str] = []
    goal: Goal = Goal()
    search: Search = Search()
    compare: Annotated[list[str], Field(min_length=1)] = list(NAMED_STRATEGIES)
    reference: str = "none"
    trials: Annotated[int, Field(ge=1, le=MAX_TRIALS)] = 200
    batch: Annotated[int, Field(ge=1, le=1000)] = 8
    seeds: Annotated[int, Field(ge=2, le=MAX_SEEDS)] = 100
    finalists: Annotated[int, Field(ge=1, le=100)] = 5
    fresh_seeds: Annotated[int, Field(ge=2, le=MAX_SEEDS)] = 100
    confirm_seeds: Annotated[int, Field(ge=2, le=MAX_SEEDS)] = 200
    root_seed: Annotated[int, Field(ge=0, le=MAX_ROOT_SEED)] = 0
    sampler_seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0


class Loaded:
    """A validated optimisation with its base scenario."""

    def __init__(self, spec: Optimisation, source: str, base: Scenario):
        self.spec, self.source, self.base = spec, source, base

    def fingerprint(self) -> str:
        """Identifies the search: a resumed one must match (more trials may be asked)."""
        payload = {"spec": self.spec.model_dump(mode="json", exclude={"trials", "description"}),
                   "base": self.base.model_dump(mode="json", exclude_none=True)}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def load_optimisation(path: str | Path, *, trials: int | None = None,
                      seeds: int | None = None, overrides: Sequence[str] = (),
                      settings: dict | None = None) -> Loaded:
    """Read and validate an optimisation file and its base scenario (ScenarioError: one
    line per problem). ``trials`` and ``seeds`` (the search's) and ``settings`` (any
    top-level keys) replace the file's; ``overrides`` (``--set`` strings) apply to the base
    scenario after the file's own."""
    path = Path(path)
    data = read_toml(path) | dict(settings or {})
    if trials is not None:
        data["trials"] = trials
    if seeds is not None:
        data["seeds"] = seeds
    if overrides:
        data["overrides"] = [*data.get("overrides", []), *overrides]
    try:
        spec = Optimisation.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(str(path), err, data)) from None
    scenario_path = base_scenario_path(path, spec.scenario)
    base = load_scenario(scenario_path, spec.overrides, origin=f"{path}: overrides:")
    problems = _spec_problems(spec, base, str(path))
    if problems:
        raise ScenarioError(problems)
    return Loaded(spec, str(path), base)


def _spec_problems(spec: Optimisation, base: Scenario, source: str) -> list[str]:
    from ..study import run_outputs

    problems = []
    for name in [*spec.compare, spec.reference]:
        try:
            base.with_strategy(name)
        except ScenarioError as err:
            problems.append(f"{source}: compare: {name!r} is not a strategy: {err.problems[0]}")
    if spec.reference not in spec.compare:
        problems.append(f"{source}: reference: {spec.reference!r} must be one of compare "
                        f"({', '.join(spec.compare)})")
    if spec.goal.kind == "weighted":
        if not spec.goal.weights:
            problems.append(f"{source}: goal.weights: a weighted goal needs weights "
                            "(output = weight)")
        unknown = sorted(set(spec.goal.weights) - run_outputs())
        if unknown:
            problems.append(f"{source}: goal.weights: unknown outputs {', '.join(unknown)} "
                            f"(allowed: any per-run output, e.g. profit_total, cohort_retention)")
    elif spec.goal.weights:
        problems.append(f"{source}: goal.weights: only a weighted goal has weights")
    phased = spec.search.phased
    if phased is not None and phased.switch_week.high + phased.ramp.high >= base.horizon:
        problems.append(f"{source}: search.phased: the switch week and its ramp must end "
                        f"before the horizon ({base.horizon} weeks; got up to week "
                        f"{phased.switch_week.high} + {phased.ramp.high})")
    if phased is not None and phased.switch_week.low < 1:
        problems.append(f"{source}: search.phased.switch_week.low: the second phase starts at "
                        "week 1 or later")
    trigger = spec.search.trigger
    if trigger is not None:
        low, high = OBSERVABLE_RANGE[trigger.observe]
        for name, rng in (("enter", trigger.enter), ("gap", trigger.gap)):
            span = (low, high) if name == "enter" else (0.0, high - low)
            if not (span[0] <= rng.low and rng.high <= span[1]):
                problems.append(f"{source}: search.trigger.{name}: must lie in "
                                f"[{span[0]:g}, {span[1]:g}] for {trigger.observe}")
        if not (0.0 <= trigger.share.low and trigger.share.high <= 1.0):
            problems.append(f"{source}: search.trigger.share: must lie in [0, 1]")
    return problems


# ---------------------------------------------------------------------- candidates

def simplex(draws: Sequence[float]) -> np.ndarray:
    """Uniform draws in (0, 1] to shares summing to 1: -log(u) normalised (a flat Dirichlet
    when the draws are uniform); all draws 1 (no information) split evenly."""
    weights = -np.log(np.clip(np.asarray(draws, dtype=float), _FLOOR, 1.0))
    total = weights.sum()
    return weights / total if total > 0 else np.full(len(weights), 1.0 / len(weights))


def draws_for(shares: Sequence[float]) -> list[float]:
    """The draws that ``simplex`` maps to ``shares`` (summing to 1): exp(-share)."""
    return [math.exp(-s) for s in shares]


def _suggest_split(trial, prefix: str, levers: Sequence[str]) -> dict[str, float]:
    draws = [trial.suggest_float(f"{prefix}.{lever}", _FLOOR, 1.0) for lever in levers]
    return dict(zip(levers, simplex(draws).tolist()))


def candidate_strategy(trial, search: Search, budget: float) -> dict:
    """The strategy table (as in a scenario) Optuna's ``trial`` proposes."""
    split = _suggest_split(trial, "a", search.levers)
    if search.phased is None:
        strategy = {"budget": budget, "allocation": split}
    else:
        p = search.phased
        later = _suggest_split(trial, "b", search.levers)
        switch = trial.suggest_int("switch_week", p.switch_week.low, p.switch_week.high)
        ramp = trial.suggest_int("ramp", p.ramp.low, p.ramp.high)
        strategy = {"budget": budget, "phases": [
            {"start": 0, "allocation": split},
            {"start": switch, "ramp": ramp, "allocation": later}]}
    t = search.trigger
    if t is not None:
        enter = trial.suggest_float("trigger.enter", t.enter.low, t.enter.high)
        gap = trial.suggest_float("trigger.gap", t.gap.low, t.gap.high)
        low, high = OBSERVABLE_RANGE[t.observe]
        leave = max(low, enter - gap) if t.when == "above" else min(high, enter + gap)
        strategy["triggers"] = [{
            "observe": t.observe, "when": t.when, "enter": enter, "leave": leave,
            "window": t.window, "share": trial.suggest_float("trigger.share", t.share.low,
                                                             t.share.high),
            "levers": _suggest_split(trial, "t", t.levers)}]
    return strategy


def named_starts(loaded: Loaded) -> list[dict]:
    """Optuna parameters that put each named strategy's split (when the searched levers hold
    it) into the first phase, and the second: the search starts from the named camps."""
    search, base = loaded.spec.search, loaded.base
    starts = []
    for name in loaded.spec.compare:
        scenario = base.with_strategy(name)
        if scenario.budget() == 0:
            continue
        allocation = scenario.allocation()
        if any(share > 0 for lever, share in allocation.items() if lever not in search.levers) \
                or not math.isclose(sum(allocation.values()), 1.0, abs_tol=1e-9):
            continue
        draws = draws_for([allocation[lever] for lever in search.levers])
        params = {f"a.{lever}": d for lever, d in zip(search.levers, draws)}
        if search.phased is not None:
            params |= {f"b.{lever}": d for lever, d in zip(search.levers, draws)}
        starts.append(params)
    return starts


def with_strategy_table(base: Scenario, strategy: dict) -> Scenario:
    data = base.model_dump(mode="json", exclude_none=True)
    data["strategy"] = strategy
    return Scenario.model_validate(data)


# --------------------------------------------------------------------------- scoring

def goal_values(runs: pd.DataFrame, goal: Goal) -> pd.Series:
    """The goal per run (the per-run table's rows)."""
    if goal.kind == "weighted":
        return sum(weight * runs[output] for output, weight in goal.weights.items())
    return runs[GOAL_OUTPUT[goal.kind]]


def simulate_arms(arms: dict[str, Scenario], seeds: Sequence[int], root_seed: int):
    """Every arm on the same seeds (one parallel call when their journeys allow)."""
    from ..simulate import simulate

    return simulate(list(arms.values()), seeds=list(seeds), root_seed=root_seed,
                    labels=list(arms))


def _seeds(spec: Optimisation, stage: str) -> list[int]:
    """Search, selection and confirmation seeds: disjoint runs of one root seed."""
    first = {"search": 0, "fresh": spec.seeds, "confirm": spec.seeds + spec.fresh_seeds}[stage]
    size = {"search": spec.seeds, "fresh": spec.fresh_seeds,
            "confirm": spec.confirm_seeds}[stage]
    return list(range(first, first + size))


# --------------------------------------------------------------------------- the search

def open_study(loaded: Loaded, folder: Path, resume: bool):
    """The Optuna study stored in ``folder`` (a journal file): new, or resumed."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    stamp = folder / "optimisation.json"
    if resume:
        if not stamp.is_file():
            raise ScenarioError([f"{folder}: not an optimisation folder (no optimisation.json)"])
        try:
            recorded = json.loads(stamp.read_text(encoding="utf-8")).get("fingerprint")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            raise ScenarioError([f"{stamp}: damaged (not the JSON an optimisation "
                                 "writes)"]) from None
        if recorded != loaded.fingerprint():
            raise ScenarioError([f"{folder}: holds a different optimisation (the file or "
                                 "its scenario changed); start a new folder"])
    else:
        folder.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({"fingerprint": loaded.fingerprint(),
                                     "source": loaded.source}, indent=2), encoding="utf-8")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(folder / JOURNAL)))
    sampler = optuna.samplers.TPESampler(seed=loaded.spec.sampler_seed)
    return optuna.create_study(storage=storage, sampler=sampler, direction="maximize",
                               study_name="cxsim", load_if_exists=True)


def search(loaded: Loaded, study, progress: Callable[[int], None] | None = None) -> None:
    """Run trials until ``trials`` are complete, ``batch`` candidates per simulation call,
    every one on the search seeds."""
    from optuna.trial import TrialState

    spec, base = loaded.spec, loaded.base
    if not study.trials:
        for params in named_starts(loaded):
            study.enqueue_trial(params)
    seeds = _seeds(spec, "search")
    while (done := len(study.get_trials(states=(TrialState.COMPLETE,)))) < spec.trials:
        asked = [study.ask() for _ in range(min(spec.batch, spec.trials - done))]
        arms = {}
        for trial in asked:
            strategy = candidate_strategy(trial, spec.search, base.strategy.budget)
            trial.set_user_attr("strategy", strategy)
            arms[str(trial.number)] = with_strategy_table(base, strategy)
        runs = simulate_arms(arms, seeds, spec.root_seed).summary()
        scores = goal_values(runs, spec.goal).groupby(runs["variant"]).mean()
        for trial in asked:
            study.tell(trial, float(scores[str(trial.number)]))
        if progress is not None:
            progress(len(asked))


def finalists(study, count: int) -> list:
    """The best complete trials by their search score, one per distinct strategy."""
    from optuna.trial import TrialState

    ranked = sorted(study.get_trials(states=(TrialState.COMPLETE,)),
                    key=lambda t: t.value, reverse=True)
    chosen, seen = [], set()
    for trial in ranked:
        key = json.dumps(trial.user_attrs["strategy"], sort_keys=True)
        if key not in seen:
            seen.add(key)
            chosen.append(trial)
        if len(chosen) == count:
            break
    return chosen


def judge(loaded: Loaded, study) -> dict:
    """Name the winner: finalists re-run on fresh seeds (the best there wins), then the
    winner and the named strategies on confirmation seeds: the goal's interval, the paired
    differences with each named strategy, and the decision metrics against the reference."""
    spec, base = loaded.spec, loaded.base
    best = finalists(study, spec.finalists)
    arms = {f"trial {t.number}": with_strategy_table(base, t.user_attrs["strategy"])
            for t in best}
    fresh = simulate_arms(arms, _seeds(spec, "fresh"), spec.root_seed).summary()
    fresh_scores = goal_values(fresh, spec.goal).groupby(fresh["variant"]).mean()
    winner_label = str(fresh_scores.idxmax())
    winner = best[list(arms).index(winner_label)]

    named = {name: base.with_strategy(name) for name in spec.compare}
    confirm_arms = {"optimised": arms[winner_label], **named}
    confirmed = simulate_arms(confirm_arms, _seeds(spec, "confirm"), spec.root_seed)
    runs = confirmed.summary()
    values = goal_values(runs, spec.goal)
    by_seed = pd.DataFrame({"variant": runs["variant"], "seed": runs["seed"],
                            "goal": values}).pivot(index="seed", columns="variant",
                                                   values="goal")
    goal = {}
    for arm in confirm_arms:
        mean, lo, hi = mean_interval(by_seed[arm].to_numpy())
        goal[arm] = {"mean": mean, "ci_low": lo, "ci_high": hi}
    differences = {}
    for name in spec.compare:
        mean, lo, hi = mean_interval((by_seed["optimised"] - by_seed[name]).to_numpy())
        differences[name] = {"diff": mean, "diff_low": lo, "diff_high": hi}
    decisions = decision_table(runs, spec.reference, steps=confirmed.steps)
    return {
        "source": loaded.source, "fingerprint": loaded.fingerprint(),
        "goal": spec.goal.model_dump(),
        "trials": sum(t.state.name == "COMPLETE" for t in study.trials),
        "seeds": {stage: [s[0], s[-1]] for stage in ("search", "fresh", "confirm")
                  for s in [_seeds(spec, stage)]},
        "root_seed": spec.root_seed,
        "winner": {"trial": winner.number, "strategy": winner.user_attrs["strategy"],
                   "search_score": winner.value},
        "finalists": [{"trial": t.number, "search_score": t.value,
                       "fresh_score": float(fresh_scores[f"trial {t.number}"]),
                       "strategy": t.user_attrs["strategy"]} for t in best],
        "confirmation": {"goal": goal, "optimised_minus": differences,
                         "decision_metrics": json.loads(decisions.to_json(orient="records"))},
        "named_allocations": {name: base.with_strategy(name).allocation()
                              for name in spec.compare},
        "interval": "95% confidence interval of the mean over the confirmation seeds "
                    "(Student t); differences paired by seed",
    }


def trials_table(study) -> pd.DataFrame:
    """One row per trial: its number, state, search score and proposed strategy."""
    return pd.DataFrame([{"trial": t.number, "state": t.state.name, "score": t.value,
                          "strategy": json.dumps(t.user_attrs.get("strategy"))}
                         for t in study.trials])


def optimise(loaded: Loaded, folder: str | Path, *, resume: bool = False,
             progress: Callable[[int], None] | None = None) -> dict:
    """Search, judge and write the results folder: ``optuna.journal`` (the study: resumable),
    ``trials.csv`` and ``optimisation.json`` (the winner and the comparisons)."""
    folder = Path(folder)
    study = open_study(loaded, folder, resume)
    search(loaded, study, progress)
    summary = judge(loaded, study)
    trials_table(study).to_csv(folder / "trials.csv", index=False)
    (folder / "optimisation.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary
