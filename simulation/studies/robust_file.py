"""Robust study files: the judgements we are unsure of, the strategies a manager could pick.

A robust study names a base scenario, its ``[[uncertainties]]`` (each a range or a set of
choices for a judgement parameter, or a factor that multiplies several together), its
``[[policies]]`` (the strategies compared), the ``[[objectives]]`` they are judged on, and a
``[design]`` that samples *worlds*: one value of every uncertainty each. With ``[design]
posterior`` (a ``cxsim calibrate`` folder), each world is also one draw of that posterior, so
the worlds carry what the company's data leave uncertain. Every world runs every policy on the
same seeds (common random numbers).

A round of runs is an ordinary study (``simulation.study``): two choice parameters, ``world``
and ``policy``, whose choices are the ``--set`` lines of each world and each policy. So a
world's run is the base scenario with that world's ``--set`` lines and the policy's strategy,
and the store, executors and resume of ``cxsim sweep`` serve robust studies unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..scenario import (MAX_NAME, MAX_TEXT, LEVERS, Scenario, ScenarioError, apply_overrides,
                        format_validation_error, load_scenario, read_toml, strategy_overrides)
from ..store import ResultsError
from ..study import (MAX_DESIGN_SEED, MAX_ROOT_SEED, MAX_SEEDS, LoadedStudy, Study,
                     base_scenario_path, run_outputs, scale_unit, without_unknown_keys)
from .posterior_worlds import read_posterior, resampled
from .worlds import sample_worlds

#: names of uncertainties and policies: words, so that a condition such as
#: ``reactive.cohort_retention > proactive.cohort_retention`` reads without quoting
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: names that are columns of the tables or words of a condition
RESERVED_NAMES = ("world", "policy", "seeds", "and", "or")
MAX_WORLDS = 100_000

Identifier = Annotated[str, Field(pattern=NAME_PATTERN, max_length=MAX_NAME)]
Path_ = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Choice = float | int | Annotated[str, Field(max_length=MAX_TEXT)]

OUTPUTS_DEFAULT = ("cohort_retention", "nps", "satisfaction", "trust", "effort", "contacts",
                   "profit_total", "clv")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Uncertainty(_Strict):
    """A judgement we are unsure of: one field over ``low``-``high`` or ``choices``, or a
    ``factor`` in ``low``-``high`` that multiplies every field in ``paths``."""

    name: Identifier
    path: Path_ | None = None
    factor: bool = False
    paths: Annotated[list[Path_], Field(min_length=1)] | None = None
    low: float | None = None
    high: float | None = None
    distribution: Literal["uniform", "loguniform"] = "uniform"
    integer: bool = False
    choices: Annotated[list[Choice], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_form(self):
        if self.name in RESERVED_NAMES:
            raise ValueError(f"name {self.name!r} is reserved ({', '.join(RESERVED_NAMES)})")
        if self.factor:
            if self.paths is None or self.path is not None or self.choices is not None:
                raise ValueError("a factor multiplies paths = [...]: give paths, low and high "
                                 "(no path or choices)")
            if self.integer:
                raise ValueError("a factor is a real number: no integer")
        elif self.path is None or self.paths is not None:
            raise ValueError("give path (with low and high, or choices), or factor = true "
                             "with paths")
        if self.choices is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("choices stand alone: no low or high beside them")
            if len({isinstance(c, str) for c in self.choices}) > 1:
                raise ValueError("choices must be all numbers or all texts")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give low and high (or choices)")
        if not self.low < self.high:
            raise ValueError("low must be below high")
        if (self.distribution == "loguniform" or self.factor) and self.low <= 0:
            raise ValueError("a factor or a loguniform range needs low > 0")
        return self

    def value(self, u: float):
        """The value at ``u`` in [0, 1]: the range scaled, or a choice by its share."""
        if self.choices is not None:
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        return scale_unit(u, self.low, self.high, self.distribution, self.integer)

    def extremes(self) -> list:
        return list(self.choices) if self.choices is not None else [self.low, self.high]

    def overrides(self, value) -> list[str]:
        """The --set lines that put this uncertainty at ``value``."""
        if self.factor:
            return [f"{path}*={float(value)!r}" for path in self.paths]
        return [f"{self.path}={_toml_value(value)}"]


def _plain(value):
    """A table's value as Python's own number or text (numpy's print differently)."""
    return value.item() if hasattr(value, "item") else value


def _toml_value(value) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


class Policy(_Strict):
    """A strategy a manager could choose: a ``strategy`` (a name such as ``reactive`` or a
    name from the scenario's ``[allocations]``), a ``mix`` or an ``allocation``."""

    name: Identifier
    strategy: Annotated[str, Field(min_length=1, max_length=MAX_NAME)] | None = None
    mix: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    allocation: dict[Annotated[str, Field(max_length=MAX_NAME)],
                     Annotated[float, Field(ge=0.0, le=1.0)]] | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        if self.name in RESERVED_NAMES:
            raise ValueError(f"name {self.name!r} is reserved ({', '.join(RESERVED_NAMES)})")
        given = [k for k in ("strategy", "mix", "allocation") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of strategy, mix or allocation "
                             f"(got {', '.join(given) or 'none'})")
        return self

    def overrides(self) -> list[str]:
        if self.strategy is not None:
            return strategy_overrides(self.strategy)
        if self.mix is not None:
            return [f"strategy.mix={self.mix!r}"]
        shares = ", ".join(f"{lever} = {share!r}" for lever, share in self.allocation.items())
        return [f"strategy.allocation={{{shares}}}"]


class Objective(_Strict):
    """An output policies are judged on: regret, best share and, with a threshold, the
    share of worlds where the policy is good enough (satisficing)."""

    output: Annotated[str, Field(max_length=MAX_NAME)]
    sense: Literal["max", "min"] = "max"
    threshold: float | None = None


class WorldsDesign(_Strict):
    kind: Literal["lhs", "sobol"] = "lhs"
    worlds: Annotated[int, Field(ge=1, le=MAX_WORLDS)] = 100
    seed: Annotated[int, Field(ge=0, le=MAX_DESIGN_SEED)] = 0
    #: a ``cxsim calibrate`` folder (beside the study file, or absolute): each world is one
    #: draw of its posterior, picked by weight
    posterior: Path_ | None = None


class Adaptive(_Strict):
    """Seeds added in blocks to each world until the two best policies are told apart."""

    block: Annotated[int, Field(ge=1, le=MAX_SEEDS)] = 10
    max_seeds: Annotated[int, Field(ge=1, le=MAX_SEEDS)] = 200
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    tolerance: Annotated[float, Field(ge=0.0)] = 0.0


class RobustStudy(_Strict):
    description: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    scenario: Path_
    overrides: list[Annotated[str, Field(max_length=MAX_TEXT)]] = []
    seeds: Annotated[int, Field(ge=1, le=MAX_SEEDS)] = 50
    root_seed: Annotated[int, Field(ge=0, le=MAX_ROOT_SEED)] = 0
    outputs: list[Annotated[str, Field(max_length=MAX_NAME)]] = list(OUTPUTS_DEFAULT)
    chunk_runs: Annotated[int, Field(ge=1, le=MAX_SEEDS)] = 500
    design: WorldsDesign = WorldsDesign()
    uncertainties: list[Uncertainty] = []
    policies: Annotated[list[Policy], Field(min_length=1)]
    objectives: Annotated[list[Objective], Field(min_length=1)] = [
        Objective(output="cohort_retention"), Objective(output="profit_total")]
    adaptive: Adaptive | None = None

    @model_validator(mode="after")
    def _names_unique(self):
        if not self.uncertainties and self.design.posterior is None:
            raise ValueError("uncertainties: give [[uncertainties]], or design.posterior (a "
                             "calibration folder whose posterior draws are the worlds), or both")
        for section, names in (("uncertainties", [u.name for u in self.uncertainties]),
                               ("policies", [p.name for p in self.policies])):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{section}: names must be unique ({', '.join(repeated)} "
                                 "repeated)")
        objectives = [o.output for o in self.objectives]
        if len(set(objectives)) != len(objectives):
            raise ValueError("objectives: each output at most once")
        if self.adaptive is not None and self.adaptive.max_seeds < self.seeds:
            raise ValueError(f"adaptive.max_seeds: at least seeds ({self.seeds})")
        return self

    @property
    def kept_outputs(self) -> list[str]:
        """The outputs outcomes.parquet holds: ``outputs`` and every objective's."""
        kept = list(dict.fromkeys(self.outputs))
        return kept + [o.output for o in self.objectives if o.output not in kept]


@dataclass(frozen=True)
class PosteriorDraws:
    """The posterior draws a study's worlds take (``design.posterior``): one per world."""

    parameters: list           # the calibration's FittedParameter, one column each
    draws: list[dict]          # per world, {fitted path: value}
    sha256: str                # of posterior.parquet: the posterior, wherever its folder is


class LoadedRobust:
    """A validated robust study with its base scenario and its worlds: the uncertainties
    sampled and, with ``design.posterior``, one posterior draw each. ``worlds`` has a column
    per fitted path (named by the path) and per uncertainty (by its name)."""

    def __init__(self, robust: RobustStudy, source: str, base: Scenario,
                 posterior: PosteriorDraws | None = None):
        self.robust = robust
        self.source = source
        self.base = base
        self.posterior = posterior
        self.fitted = posterior.parameters if posterior else []
        self.worlds = sample_worlds(robust.uncertainties, robust.design.kind,
                                    robust.design.worlds, robust.design.seed)
        for i, p in enumerate(self.fitted):
            self.worlds.insert(1 + i, p.path, [draw[p.path] for draw in posterior.draws])

    def world_overrides(self, world: int) -> list[str]:
        """The world's --set lines: the posterior draw's (as the calibration sets them),
        then the uncertainties'."""
        row = self.worlds.iloc[world]
        return [line for p in self.fitted for line in p.overrides(_plain(row[p.path]))] + \
            [line for u in self.robust.uncertainties
             for line in u.overrides(_plain(row[u.name]))]

    def world_scenario(self, world: int, policy: str) -> Scenario:
        """The scenario one world and policy run: what ``cxsim run --set`` of the world's
        lines and the policy's strategy gives."""
        lines = self.world_overrides(world) + self.policy(policy).overrides()
        return apply_overrides(self.base, lines, f"{self.source}: world {world}")

    def policy(self, name: str) -> Policy:
        return next(p for p in self.robust.policies if p.name == name)

    def round_study(self, worlds: Sequence[int], first_seed: int, seeds: int) -> LoadedStudy:
        """The ordinary study that runs ``worlds`` x every policy on seeds
        ``first_seed .. first_seed + seeds - 1``."""
        r = self.robust
        # chunks of whole worlds (every policy of a world: they share the burn-in per seed)
        world_runs = seeds * len(r.policies)
        chunk_runs = (max(1, r.chunk_runs // world_runs) * world_runs
                      if seeds < r.chunk_runs else r.chunk_runs)
        study = Study.model_validate({
            "description": f"robust study {Path(self.source).name}",
            "scenario": r.scenario, "overrides": list(r.overrides), "seeds": seeds,
            "first_seed": first_seed, "root_seed": r.root_seed, "outputs": [],
            "chunk_runs": chunk_runs, "design": {"kind": "grid"},
            "parameters": [
                {"path": "world", "choices": {str(w): self.world_overrides(w) for w in worlds}},
                {"path": "policy", "choices": {p.name: p.overrides() for p in r.policies}}]})
        return LoadedStudy(study, self.source, self.base)

    def fingerprint(self) -> str:
        """Identifies the work (a resumed robust study must have the same one): a posterior
        by its table's sha256, not by where its folder is."""
        payload = {"robust": self.robust.model_dump(
                       mode="json", exclude={"description": True, "design": {"posterior"}}),
                   "base": self.base.model_dump(mode="json", exclude_none=True)}
        if self.posterior is not None:
            payload["posterior"] = self.posterior.sha256
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- loading

def is_robust_study(data: dict) -> bool:
    return "scenario" in data and ("uncertainties" in data or "policies" in data)


def load_robust(path: str | Path, *, worlds: int | None = None, seeds: int | None = None,
                adaptive: bool = True, overrides: Sequence[str] = (),
                posterior: str | None = None) -> LoadedRobust:
    """Read and validate a robust study file, its base scenario, its posterior draws, every
    uncertainty at its ends and every policy (ScenarioError, one line per problem naming
    file and field). ``worlds``, ``posterior`` and ``seeds`` replace the file's
    ``design.worlds``, ``design.posterior`` and ``seeds``; ``adaptive=False`` drops
    ``[adaptive]`` and gives every world its ``max_seeds`` (or ``seeds`` when given);
    ``overrides`` (``--set`` lines) apply to the base scenario after the file's own."""
    path = Path(path)
    data = read_toml(path)
    if not adaptive and isinstance(data.get("adaptive"), dict):
        data["seeds"] = data.pop("adaptive").get("max_seeds", Adaptive().max_seeds)
    if overrides:
        data["overrides"] = [*data.get("overrides", []), *overrides]
    for key, value in (("worlds", worlds), ("posterior", posterior)):
        design = data.get("design", {})
        if value is not None and isinstance(design, dict):
            data["design"] = {**design, key: value}
    if seeds is not None:
        data["seeds"] = seeds
    data, problems = without_unknown_keys(
        data, str(path), RobustStudy, tables={"design": WorldsDesign, "adaptive": Adaptive},
        lists={"uncertainties": Uncertainty, "policies": Policy, "objectives": Objective})
    try:
        robust = RobustStudy.model_validate(data)
    except ValidationError as err:
        problems += format_validation_error(str(path), err, data)
    if problems:
        raise ScenarioError(problems)
    base = load_scenario(base_scenario_path(path, robust.scenario), list(robust.overrides),
                         origin=f"{path}: overrides:")
    _check_outputs(robust, str(path))
    draws = _posterior_draws(path, robust, base) if robust.design.posterior else None
    for i, u in enumerate(robust.uncertainties):
        for value in u.extremes():
            _check_applies(base, u.overrides(value), f"{path}: uncertainties.{i} ({u.name})")
    for i, p in enumerate(robust.policies):
        try:
            apply_overrides(base, p.overrides(), f"{path}: policies.{i} ({p.name})")
        except ScenarioError as err:
            raise ScenarioError([f"{err.problems[0]} (a strategy is none, reactive, proactive, "
                                 "balanced or a name from the scenario's [allocations]; an "
                                 f"allocation's levers: {', '.join(LEVERS)})"]) from None
    return LoadedRobust(robust, str(path), base, draws)


def _posterior_draws(path: Path, robust: RobustStudy, base: Scenario) -> PosteriorDraws:
    """``design.worlds`` draws of the posterior in ``design.posterior`` (keyed by
    ``design.seed``, like the uncertainties' sample), checked: the folder is a complete
    calibration, no uncertainty varies (or is named as) a fitted path, and every fitted path
    takes its smallest and largest drawn value in the base scenario."""
    where = f"{path}: design.posterior"
    try:
        table, params, sha256 = read_posterior(path.parent / robust.design.posterior)
    except ResultsError as err:
        raise ScenarioError([f"{where}: {err}"]) from None
    fitted = {p.path for p in params}
    for i, u in enumerate(robust.uncertainties):
        clash = sorted(fitted & {u.name, *(u.paths or [u.path])})
        if clash:
            raise ScenarioError([f"{path}: uncertainties.{i} ({u.name}): {clash[0]} is a "
                                 "fitted path of design.posterior (every world takes it from "
                                 "a posterior draw); leave it to the posterior"])
    draws = resampled(table, params, robust.design.worlds, robust.design.seed)
    for p in params:
        values = [draw[p.path] for draw in draws]
        for value in (min(values), max(values)):
            _check_applies(base, p.overrides(value), f"{where} ({p.path})")
    return PosteriorDraws(params, draws, sha256)


def _check_applies(base: Scenario, lines: list[str], origin: str) -> None:
    """That ``lines`` apply to the base scenario; every problem told under ``origin`` (a
    path the scenario has not is told as ``--set ...`` by the overrides alone)."""
    try:
        apply_overrides(base, lines, origin)
    except ScenarioError as err:
        raise ScenarioError([line if line.startswith(origin) else f"{origin}: {line}"
                             for line in err.problems]) from None


def _check_outputs(robust: RobustStudy, source: str) -> None:
    known = run_outputs()
    for field, names in (("outputs", robust.outputs),
                         ("objectives", [o.output for o in robust.objectives])):
        for i, name in enumerate(names):
            if name not in known:
                where = f"{field}.{i}" + (".output" if field == "objectives" else "")
                raise ScenarioError([f"{source}: {where}: unknown output {name!r} "
                                     f"(allowed: {', '.join(sorted(known))})"])
