"""The calibration file: which scenario, which observed data, which parameters to fit.

A calibration file is TOML (every key in ``docs/calibration.md``)::

    scenario = "baseline.toml"          # the base scenario (beside this file, or bundled)
    set = ["horizon=156"]               # overrides applied to it first
    seeds = 100                         # runs averaged in every trial
    trials = 200                        # the search's budget
    posterior_draws = 200               # draws of the importance sampler
    root_seed = 0

    [[observed]]
    file = "retention.csv"              # CSV or Parquet: a week column and output columns
    [observed.columns.retention]        # a column of the file ...
    output = "cohort_retention"         # ... is this cxsim output
    likelihood = "binomial"             # binomial | beta-binomial | normal
    customers = 2000                    # binomial: the customers the share is of

    [[parameters]]
    path = "churn.base"                 # any numeric scenario field, as --set writes it
    low = -2.0
    high = 0.0

Validation reuses the scenario's and the study's machinery, so every problem is one line
naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from ..scenario import (MAX_HORIZON, MAX_NAME, MAX_TEXT, Scenario, ScenarioError,
                        apply_overrides, format_validation_error, load_scenario, read_toml)
from ..study import MAX_ROOT_SEED, MAX_SEEDS, Parameter, _Strict, apply_point, base_scenario_path

#: outputs whose binomial likelihood is that of a cohort's survivors (a share of it, or
#: the count still active), taken as leavers between observations out of those at risk
SURVIVAL_OUTPUTS = ("cohort_retention", "cohort_active")
#: the most trials and posterior draws a calibration may ask for
MAX_TRIALS = 100_000

Likelihood = Literal["binomial", "beta-binomial", "normal"]


class Column(_Strict):
    """How one observed column is compared with the simulation."""

    output: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
    likelihood: Likelihood
    #: binomial, beta-binomial: the number of customers the share (or count) is of
    customers: Annotated[int, Field(ge=1)] | None = None
    #: beta-binomial: the intra-class correlation rho in (0, 1) (extra-binomial spread)
    overdispersion: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    #: normal: the standard deviation of an observation around the simulated mean
    sd: Annotated[float, Field(gt=0.0)] | None = None
    weight: Annotated[float, Field(gt=0.0, le=1000.0)] = 1.0

    @model_validator(mode="after")
    def _likelihood_needs(self):
        if self.likelihood in ("binomial", "beta-binomial"):
            if self.output not in SURVIVAL_OUTPUTS:
                raise ValueError(f"likelihood {self.likelihood} is for the cohort's survivors "
                                 f"({', '.join(SURVIVAL_OUTPUTS)}); use normal with sd for "
                                 f"{self.output}")
            if self.customers is None:
                raise ValueError(f"likelihood {self.likelihood} needs customers (the size of "
                                 "the observed cohort)")
            if self.sd is not None:
                raise ValueError(f"sd belongs to the normal likelihood, not {self.likelihood}")
        if self.likelihood == "beta-binomial" and self.overdispersion is None:
            raise ValueError("likelihood beta-binomial needs overdispersion (rho in (0, 1))")
        if self.likelihood != "beta-binomial" and self.overdispersion is not None:
            raise ValueError("overdispersion belongs to the beta-binomial likelihood")
        if self.likelihood == "normal":
            if self.sd is None:
                raise ValueError("likelihood normal needs sd (the spread of an observation)")
            if self.customers is not None:
                raise ValueError("customers belongs to the binomial likelihoods")
        return self


class ObservedFile(_Strict):
    """A file of observations: ``weekly`` (a week column and output columns) or
    ``customers`` (one row per customer: join and leave weeks; gives the retention curve)."""

    file: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    kind: Literal["weekly", "customers"] = "weekly"
    week_column: Annotated[str, Field(min_length=1, max_length=MAX_NAME)] = "week"
    columns: dict[Annotated[str, Field(min_length=1, max_length=MAX_NAME)], Column] = {}
    #: customers: the last week the data covers (default: the largest week in the file)
    through: Annotated[int, Field(ge=1, le=MAX_HORIZON)] | None = None
    #: customers: how the retention curve is compared (binomial over the cohort by default)
    likelihood: Likelihood = "binomial"
    overdispersion: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    weight: Annotated[float, Field(gt=0.0, le=1000.0)] = 1.0

    @model_validator(mode="after")
    def _kind_fits(self):
        if self.kind == "weekly" and not self.columns:
            raise ValueError("columns: name at least one column and the output it is")
        if self.kind == "customers" and self.columns:
            raise ValueError("columns: a customers file has join_week and leave_week columns, "
                             "not output columns")
        if self.kind == "customers" and self.likelihood == "normal":
            raise ValueError("likelihood: a customers file gives a survival curve "
                             "(binomial or beta-binomial)")
        return self


class FittedParameter(Parameter):
    """A parameter to fit: a scenario path and its prior range (uniform or log-uniform)."""

    @model_validator(mode="after")
    def _a_range(self):
        if self.values is not None or self.choices is not None or self.integer:
            raise ValueError("a fitted parameter takes low, high and distribution only")
        if self.low is None or self.high is None:
            raise ValueError("give low and high (the prior range)")
        return self


class Calibration(_Strict):
    description: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    scenario: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    set: list[Annotated[str, Field(max_length=MAX_TEXT)]] = []
    seeds: Annotated[int, Field(ge=1, le=MAX_SEEDS)] = 100
    trials: Annotated[int, Field(ge=1, le=MAX_TRIALS)] = 200
    posterior_draws: Annotated[int, Field(ge=10, le=MAX_TRIALS)] = 200
    forecast_draws: Annotated[int, Field(ge=1, le=10_000)] = 50
    root_seed: Annotated[int, Field(ge=0, le=MAX_ROOT_SEED)] = 0
    observed: Annotated[list[ObservedFile], Field(min_length=1)]
    parameters: Annotated[list[FittedParameter], Field(min_length=1)]

    @model_validator(mode="after")
    def _distinct_paths(self):
        paths = [p.path for p in self.parameters]
        if len(set(paths)) != len(paths):
            raise ValueError("parameters: each path may be fitted once")
        return self


class LoadedCalibration:
    """A validated calibration file with its base scenario (the file's overrides applied)."""

    def __init__(self, calibration: Calibration, source: Path, base: Scenario):
        self.calibration = calibration
        self.source = source
        self.base = base

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.calibration.parameters]

    def data_path(self, observed: ObservedFile) -> Path:
        path = Path(observed.file)
        return path if path.is_absolute() else self.source.parent / path

    def variant(self, values: dict, horizon: int | None = None) -> Scenario:
        """The base scenario with fitted values (``{}``: none) and, if given, another
        horizon (a run's weeks do not depend on how many follow them)."""
        fitted = [p for p in self.calibration.parameters if p.path in values]
        lines = [line for p in fitted for line in p.overrides(values[p.path])]
        if horizon is not None:
            lines.append(f"horizon={horizon}")
        return apply_overrides(self.base, lines, f"{self.source}: parameters")

    def fingerprint(self, data_digest: str) -> str:
        """Identifies the work for --resume: the file without its budgets (trials may be
        raised), the base scenario and the observed data."""
        payload = {"calibration": self.calibration.model_dump(
                       mode="json", exclude={"trials", "description", "forecast_draws"}),
                   "base": self.base.model_dump(mode="json", exclude_none=True),
                   "data": data_digest}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def load_calibration(path: str | Path, *, trials: int | None = None,
                     seeds: int | None = None) -> LoadedCalibration:
    """Read and validate a calibration file and its base scenario (ScenarioError, one line a
    problem); ``trials`` and ``seeds`` replace the file's. Every fitted path must exist in
    the scenario and every value of its range must give a valid scenario at its ends."""
    path = Path(path)
    data = read_toml(path)
    if trials is not None:
        data["trials"] = trials
    if seeds is not None:
        data["seeds"] = seeds
    try:
        calibration = Calibration.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(str(path), err, data)) from None
    scenario_path = base_scenario_path(path, calibration.scenario)
    base = load_scenario(scenario_path, calibration.set, origin=f"{path}: set:")
    loaded = LoadedCalibration(calibration, path, base)
    for i, parameter in enumerate(calibration.parameters):
        for end in ("low", "high"):
            value = getattr(parameter, end)
            try:
                apply_point(base, [parameter], {parameter.path: value}, "")
            except ScenarioError as err:
                reason = err.problems[0].split(": ", 1)[-1]
                raise ScenarioError([f"{path}: parameters.{i}.path: {parameter.path} at "
                                     f"{end} = {value:g} does not give a valid scenario: "
                                     f"{reason}"]) from None
    return loaded
