"""Study files: a base scenario, parameters to vary, a design, seeds and expectations.

A design turns the parameters into *points* (one scenario variant each); every point is run
for the same seeds, so points are compared on common random numbers. Samplers come from
SALib (Sobol/Saltelli, Morris) and scipy (Latin hypercube); none is written here.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .scenario import (MAX_COHORT, MAX_HORIZON, MAX_NAME, MAX_TEXT, Scenario, ScenarioError,
                       apply_overrides, format_validation_error, load_scenario, read_toml,
                       resolve_path, with_company_scaled)

OUTPUT_DEFAULT = ("cohort_retention", "nps", "satisfaction", "trust", "effort", "contacts",
                  "profit")


#: the most seeds per point, runs per chunk and points a study may have
MAX_SEEDS = 1_000_000
MAX_POINTS = 1_000_000
#: design seeds feed numpy/scipy/SALib generators, which take 32-bit seeds
MAX_DESIGN_SEED = 2**32 - 1
#: root seeds feed numpy's SeedSequence; 128 bits is more entropy than any run needs
MAX_ROOT_SEED = 2**128 - 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Value = float | int | Annotated[str, Field(max_length=MAX_TEXT)] | bool


class Parameter(_Strict):
    """One varied input: a scenario path with values (grid) or a range (samplers), or a
    named choice between bundles of overrides (``choices``), e.g. whole populations.

    A path ending in ``*`` multiplies (``touchpoints.*.failure_rate*`` scales every rate).
    """

    path: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    values: Annotated[list[Value], Field(max_length=MAX_POINTS)] | None = None
    choices: dict[Annotated[str, Field(max_length=MAX_NAME)], list[str]] | None = None
    low: float | None = None
    high: float | None = None
    distribution: Literal["uniform", "loguniform"] = "uniform"
    integer: bool = False

    @model_validator(mode="after")
    def _values_or_range(self):
        if self.choices is not None:
            if self.values is not None or self.low is not None:
                raise ValueError("choices stand alone: no values, low or high beside them")
            if not self.choices:
                raise ValueError("choices must not be empty")
            return self
        has_range = self.low is not None and self.high is not None
        if self.values is None and not has_range:
            raise ValueError("give values = [...] or low and high")
        if self.values is not None and len(self.values) == 0:
            raise ValueError("values must not be empty")
        if has_range and not self.low < self.high:
            raise ValueError("low must be below high")
        if self.distribution == "loguniform" and has_range and self.low <= 0:
            raise ValueError("loguniform needs low > 0")
        return self

    def grid_values(self) -> list:
        return list(self.choices) if self.choices is not None else list(self.values)

    def overrides(self, value) -> list[str]:
        """The --set lines that put this parameter at ``value``."""
        if self.choices is not None:
            return list(self.choices[value])
        return [f"{self.path}={_toml_value(value)}"]


class Design(_Strict):
    kind: Literal["grid", "lhs", "sobol", "morris"] = "grid"
    samples: Annotated[int, Field(ge=1, le=MAX_POINTS)] = 16
    seed: Annotated[int, Field(ge=0, le=MAX_DESIGN_SEED)] = 0
    levels: Annotated[int, Field(ge=2, le=1000)] = 4  # Morris grid levels


class Expectation(_Strict):
    name: Annotated[str, Field(max_length=MAX_TEXT)]
    output: Annotated[str, Field(max_length=MAX_NAME)]
    step: Annotated[int, Field(ge=0, le=MAX_HORIZON)] | None = None
    where: dict[str, Value] = {}
    minus: dict[str, Value] | None = None
    op: Literal[">", "<", "=="] = ">"
    value: float = 0.0
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    tolerance: Annotated[float, Field(ge=0.0)] = 0.0


class Study(_Strict):
    description: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    # a strategy every point is compared with, run as one more point
    reference: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    scenario: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    overrides: list[str] = []
    seeds: Annotated[int, Field(ge=1, le=MAX_SEEDS)] = 100
    # the first run index: a study that adds seeds to earlier ones (robust studies' adaptive
    # rounds) starts where they stopped, so its runs are new runs, not repeats
    first_seed: Annotated[int, Field(ge=0, le=MAX_SEEDS)] = 0
    root_seed: Annotated[int, Field(ge=0, le=MAX_ROOT_SEED)] = 0
    outputs: list[str] = list(OUTPUT_DEFAULT)
    chunk_runs: Annotated[int, Field(ge=1, le=MAX_SEEDS)] = 500
    # scale the company-wide amounts with the cohort (as --scale-company does), in the
    # overrides and at every point that varies the cohort
    scale_company: bool = False
    design: Design = Design()
    parameters: Annotated[list[Parameter], Field(min_length=1)]
    expectations: list[Expectation] = []

    @model_validator(mode="after")
    def _design_fits(self):
        if self.design.kind == "grid":
            missing = [p.path for p in self.parameters if p.values is None and p.choices is None]
            if missing:
                raise ValueError(f"parameters: a grid needs values for {', '.join(missing)}")
            size = math.prod(len(p.grid_values()) for p in self.parameters)
            if size > MAX_POINTS:
                raise ValueError(f"parameters: the grid has {size:,} points (at most "
                                 f"{MAX_POINTS:,})")
        else:
            missing = [p.path for p in self.parameters if p.low is None or p.high is None]
            if missing:
                raise ValueError(f"parameters: a {self.design.kind} design needs low and high "
                                 f"for {', '.join(missing)}")
        return self


class LoadedStudy:
    """A validated study with its base scenario and its points.

    The design's points come first; a study with a ``reference`` strategy has one more
    point at the end, ``{}`` (no varied parameter: the base scenario with that strategy).
    """

    def __init__(self, study: Study, source: str, base: Scenario):
        self.study = study
        self.source = source
        self.base = base
        self.points = design_points(study) + ([{}] if study.reference else [])

    @property
    def seeds(self) -> list[int]:
        """The run indices every point runs."""
        return list(range(self.study.first_seed, self.study.first_seed + self.study.seeds))

    @property
    def design_size(self) -> int:
        """The number of the design's points (the reference point is not one of them)."""
        return len(self.points) - (1 if self.study.reference else 0)

    @property
    def labels(self) -> list[str]:
        return [point_label(p) if p else reference_label(self.study.reference)
                for p in self.points]

    def variant(self, index: int) -> Scenario:
        return point_variant(self.base, self.study.parameters, self.points[index],
                             self.study.reference, f"{self.source}: point {index}",
                             self.study.scale_company)

    def fingerprint(self) -> str:
        return study_fingerprint(self.study, self.base)


def study_fingerprint(study: Study, base: Scenario) -> str:
    """Identifies the work: a resumed study must have the same fingerprint, and a study
    folder's manifest the fingerprint of the study and base scenario it records."""
    exclude = {"expectations", "description"} | ({"reference"} if study.reference is None
                                                  else set()) \
        | ({"first_seed"} if study.first_seed == 0 else set())
    payload = {"study": study.model_dump(mode="json", exclude=exclude),
               "base": base.model_dump(mode="json", exclude_none=True)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def point_label(point: dict) -> str:
    return ", ".join(f"{path}={_fmt(value)}" for path, value in point.items())


def _fmt(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def reference_label(strategy: str) -> str:
    return f"{strategy} (reference)"


def point_variant(base: Scenario, parameters: list[Parameter], point: dict,
                  reference: str | None, source: str, scale_company: bool = False) -> Scenario:
    """The scenario of one point; the empty point is the reference strategy."""
    if not point:
        return base.with_strategy(reference)
    return apply_point(base, parameters, point, source, scale_company)


def apply_point(base: Scenario, parameters: list[Parameter], point: dict,
                source: str, scale_company: bool = False) -> Scenario:
    """The base scenario with the point's values. With ``scale_company``, a point that
    varies the cohort first gets the company scaled to it (``with_company_scaled``); the
    point's other values then apply on top, so a value the point sets stays as given."""
    lines = [line for p in parameters for line in p.overrides(point[p.path])]
    cohort = point.get("cohort")
    if scale_company and isinstance(cohort, int) and 1 <= cohort <= MAX_COHORT:
        base = with_company_scaled(base, cohort)
    return apply_overrides(base, lines, source)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


# -------------------------------------------------------------------------- designs

def unit_sample(study: Study) -> np.ndarray:
    """Samples in the unit hypercube for lhs, sobol and morris designs."""
    d = study.design
    problem = {"num_vars": len(study.parameters), "names": [p.path for p in study.parameters],
               "bounds": [[0.0, 1.0]] * len(study.parameters)}
    if d.kind == "lhs":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=len(study.parameters), rng=d.seed).random(d.samples)
    if d.kind == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, d.samples, calc_second_order=False, seed=d.seed)
    from SALib.sample import morris

    return morris.sample(problem, d.samples, num_levels=d.levels, seed=d.seed)


def scale_unit(u: float, low: float, high: float, distribution: str = "uniform",
               integer: bool = False):
    """A value in [low, high] from u in [0, 1]: uniformly, or uniformly in its logarithm."""
    if distribution == "loguniform":
        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    else:
        value = low + u * (high - low)
    return int(round(value)) if integer else float(value)


def _scale(p: Parameter, u: float):
    return scale_unit(u, p.low, p.high, p.distribution, p.integer)


def design_points(study: Study) -> list[dict]:
    if study.design.kind == "grid":
        return [dict(zip((p.path for p in study.parameters), combo))
                for combo in itertools.product(*(p.grid_values() for p in study.parameters))]
    return [{p.path: _scale(p, u) for p, u in zip(study.parameters, row)}
            for row in unit_sample(study)]


# ---------------------------------------------------------------------------- loading

def load_study(path: str | Path, *, seeds: int | None = None,
               overrides: Sequence[str] = ()) -> LoadedStudy:
    """Read and validate a study file, its base scenario and every point (ScenarioError).

    ``seeds`` replaces the study's seed count; ``overrides`` (``--set`` strings) are applied to
    the base scenario after the study's own.
    """
    path = Path(path)
    data = read_toml(path)
    if seeds is not None:
        data["seeds"] = seeds
    if overrides:
        data["overrides"] = [*data.get("overrides", []), *overrides]
    data, problems = without_unknown_keys(
        data, str(path), Study, tables={"design": Design},
        lists={"parameters": Parameter, "expectations": Expectation})
    try:
        study = Study.model_validate(data)
    except ValidationError as err:
        problems += format_validation_error(str(path), err)
    if problems:
        raise ScenarioError(problems)
    base = load_scenario(base_scenario_path(path, study.scenario), study.overrides,
                         origin=f"{path}: overrides:", scale_company=study.scale_company)
    loaded = LoadedStudy(study, str(path), base)
    for i, parameter in enumerate(study.parameters):  # every path must exist in the scenario
        apply_point(base, [parameter], loaded.points[0],
                    f"{path}: parameters.{i} ({parameter.path})", study.scale_company)
    if study.reference is not None:
        try:
            base.with_strategy(study.reference)
        except ScenarioError as err:
            raise ScenarioError([f"{path}: reference: {study.reference!r} is not a strategy "
                                 "(a name such as none, reactive, proactive, balanced, or "
                                 f"mix=0..1): {err.problems[0]}"]) from None
    for i in range(len(loaded.points)):
        loaded.variant(i)
    _check_expectations(loaded, str(path))
    return loaded


def base_scenario_path(study_path: Path, scenario: str) -> Path:
    """A study's base scenario: a path beside the study file, else as given or bundled."""
    scenario_path = Path(scenario)
    if not scenario_path.is_absolute():
        beside = study_path.parent / scenario_path
        scenario_path = beside if beside.is_file() else resolve_path(scenario)
    return scenario_path


def without_unknown_keys(data: dict, source: str, model: type[BaseModel], *,
                         tables: dict[str, type[BaseModel]] = {},
                         lists: dict[str, type[BaseModel]] = {}) -> tuple[dict, list[str]]:
    """The data of a study file without the keys its ``model`` cannot hold (at the top, in
    its ``tables`` and in the items of its ``lists``), and one line for each of them naming
    the keys allowed where it stands."""
    problems = []

    def known(node, model, where: str):
        if not isinstance(node, dict):
            return node
        allowed = list(model.model_fields)
        for key in node:
            if key not in allowed:
                problems.append(f"{source}: {where}{key}: unknown key in a study file (allowed"
                                f"{' in ' + where.rstrip('.') if where else ''}: "
                                f"{', '.join(allowed)}; see docs/studies.md)")
        return {k: v for k, v in node.items() if k in allowed}

    data = known(data, model, "")
    for section, inner in tables.items():
        if section in data:
            data[section] = known(data[section], inner, f"{section}.")
    for section, inner in lists.items():
        if isinstance(data.get(section), list):
            data[section] = [known(item, inner, f"{section}.{i}.")
                             for i, item in enumerate(data[section])]
    return data, problems


def run_outputs() -> set[str]:
    """The outputs a study's runs table holds (the horizon's values and the run's totals)."""
    from .layout import RUN_TOTALS, STEP_COLUMNS

    return set(STEP_COLUMNS) | set(RUN_TOTALS)


def _check_expectations(loaded: LoadedStudy, source: str) -> None:
    from .layout import STEP_COLUMNS

    known_outputs = run_outputs()
    paths = {p.path for p in loaded.study.parameters}
    for i, e in enumerate(loaded.study.expectations):
        where = f"{source}: expectations.{i}"
        if e.output not in known_outputs:
            raise ScenarioError([f"{where}.output: unknown output {e.output!r} "
                                 f"(allowed: {', '.join(sorted(known_outputs))})"])
        if e.step is not None and e.output not in STEP_COLUMNS:
            raise ScenarioError([f"{where}.step: only per-step outputs take a step"])
        if e.step is not None and e.output not in loaded.study.outputs:
            raise ScenarioError([f"{where}.step: output {e.output!r} must be listed in "
                                 "outputs to be kept per step"])
        for key in list(e.where) + list(e.minus or {}):
            if key not in paths:
                raise ScenarioError([f"{where}: {key!r} is not a varied parameter "
                                     f"(varied: {', '.join(sorted(paths))})"])
        if e.op == "==" and e.minus is None:
            raise ScenarioError([f"{where}.op: '==' compares two points; give minus"])
