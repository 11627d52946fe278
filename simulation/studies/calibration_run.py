"""One calibration from start to folder: read the data, search, draw the posterior,
forecast, and hand the tables to ``store``. ``cxsim calibrate`` calls ``run_calibration``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .. import store
from ..executors import InProcess
from ..manifest import build_manifest
from ..scenario import MAX_HORIZON, ScenarioError
from .calibrate import (POSTERIOR_STUDY, Budget, complete_trials, random_stream,
                        credible_intervals, effective_sample_size, evaluate,
                        importance_weights, means_of, open_storage, resample, run_posterior,
                        run_search)
from .calibration_file import LoadedCalibration
from .forecast import (forecast_table, holdout_errors, observed_values, pooled,
                       reported_output)
from .likelihood import loglik, simulated_outputs
from .observed import Series, data_digest, read_observed

_FORECAST_KEY = 3
#: an importance sample worth fewer draws than this gets a warning
LOW_ESS = 20


def fitted_series(series: list[Series], holdout_after: int | None) -> list[Series]:
    """The observations the fit uses (up to ``holdout_after``); one line if none are left
    or, with a holdout, none are held out."""
    if holdout_after is None:
        return series
    fitted = [s.until(holdout_after) for s in series]
    fitted = [s for s in fitted if len(s.weeks)]
    if not fitted:
        raise ScenarioError([f"--holdout-after {holdout_after}: no observation at or before "
                             "that week is left to fit"])
    if all(s.weeks.max() <= holdout_after for s in series):
        raise ScenarioError([f"--holdout-after {holdout_after}: no observation after that "
                             "week to hold out"])
    return fitted


def run_calibration(loaded: LoadedCalibration, folder: Path, *,
                    holdout_after: int | None = None, forecast_to: int | None = None,
                    resume: bool = False, executor=None, batch: int = 1,
                    progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Calibrate into ``folder``; returns its manifest. ``progress(phase, done, total)``
    is told as trials, draws and forecast runs finish."""
    started = time.perf_counter()
    cal = loaded.calibration
    series = read_observed(loaded)
    fitted = fitted_series(series, holdout_after)
    last_observed = max(int(s.weeks.max()) for s in series)
    forecast_to = forecast_to or max(loaded.base.horizon, last_observed)
    if not last_observed <= forecast_to <= MAX_HORIZON:
        raise ScenarioError([f"--forecast-to {forecast_to}: must be from the last observed "
                             f"week ({last_observed}) to {MAX_HORIZON}"])
    budget = Budget(trials=cal.trials, seeds=cal.seeds, draws=cal.posterior_draws,
                    root_seed=cal.root_seed,
                    horizon=max(int(s.weeks.max()) for s in fitted))
    plan = {"fingerprint": loaded.fingerprint(data_digest(loaded) + f"|{holdout_after}"),
            "calibration_file": str(loaded.source), "holdout_after": holdout_after}
    store.start_calibration_folder(folder, plan, resume)
    storage = open_storage(Path(folder) / store.SEARCH_JOURNAL)
    executor = executor or InProcess()
    params = list(cal.parameters)

    def told(phase: str, total: int):
        count = [0]

        def advance(n: int):
            count[0] += n
            if progress is not None:
                progress(phase, count[0], total)
        return advance

    search = run_search(loaded, fitted, storage, budget, executor, batch,
                        told("search", budget.trials))
    units, values, logliks, log_q = run_posterior(
        loaded, fitted, storage, budget, executor, batch, told("posterior", budget.draws),
        name=f"{POSTERIOR_STUDY}-{budget.trials}")
    weights = importance_weights(logliks, log_q)
    copies = resample(weights, cal.forecast_draws, random_stream(cal.root_seed, _FORECAST_KEY))

    # the forecast: the picked draws, and the base scenario ("before"), to forecast_to
    outputs = sorted({reported_output(s) for s in series})
    picked = [int(j) for j in np.flatnonzero(copies)]
    advance = told("forecast", len(picked) + 2)
    tasks = [(j, (loaded.variant(values[j], forecast_to), cal.seeds, cal.root_seed, outputs))
             for j in picked]
    curves = {}
    for j, result in executor.imap(evaluate, tasks):
        curves[j] = result
        advance(1)
    before = evaluate(loaded.variant({}, forecast_to), cal.seeds, cal.root_seed,
                      sorted(set(outputs) | set(simulated_outputs(fitted))))
    advance(1)
    forecast = forecast_table(series, pooled(curves, copies), before, holdout_after)

    # the best point evaluated (a search trial or a posterior draw), run over every week
    # observed, fitted and held out
    trials = complete_trials(search)[:budget.trials]
    candidates = [(t.value, dict(t.params)) for t in trials] + list(zip(logliks, values))
    best_loglik, best_values = max(candidates, key=lambda c: c[0])
    best_curves = evaluate(loaded.variant(best_values, last_observed), cal.seeds,
                           cal.root_seed, outputs)
    advance(1)
    fit = _fit_table(series, means_of(before), means_of(best_curves), holdout_after)
    best_scenario = loaded.variant(best_values)

    intervals = credible_intervals(values, weights, params)
    ess = effective_sample_size(weights)
    tables = {
        "posterior": pd.DataFrame({"draw": np.arange(len(values)),
                                   **{p.path: [v[p.path] for v in values] for p in params},
                                   "loglik": logliks, "log_proposal": log_q, "weight": weights,
                                   "forecast_copies": copies}),
        "forecast": forecast,
        "fit": fit,
        "trials": _trials_table(trials, values, logliks, params),
    }
    manifest = build_manifest(
        variants=[loaded.base, best_scenario], labels=["before", "best"],
        seeds=list(range(cal.seeds)), root_seed=cal.root_seed, engine="batch",
        agent_steps=None, elapsed=time.perf_counter() - started,
        kind=store.CALIBRATION_KIND, calibration=cal.model_dump(mode="json"),
        calibration_file=str(loaded.source), fingerprint=plan["fingerprint"],
        fit_weeks=budget.horizon, holdout_after=holdout_after, forecast_to=forecast_to,
        posterior={"method": "defensive importance sampling (docs/calibration.md)",
                   "draws": budget.draws, "effective_sample_size": ess,
                   "intervals": intervals, "level": 0.9},
        loglik={"before": loglik(fitted, means_of(before)), "best": float(best_loglik)},
        best=best_values,
        holdout=holdout_errors(forecast, holdout_after) if holdout_after is not None else None,
        executor=executor.describe())
    return store.write_calibration_folder(folder, tables, _best_toml(best_scenario, loaded,
                                                                     best_loglik), manifest)


def _fit_table(series: list[Series], before: dict, best: dict,
               holdout_after: int | None) -> pd.DataFrame:
    """At every observed week: the observation, the base scenario's mean and the best
    point's mean (the seeds' average), and whether the fit used it."""
    frames = []
    for s in series:
        output = reported_output(s)
        frames.append(pd.DataFrame({
            "series": s.name, "output": output, "week": s.weeks,
            "observed": observed_values(s),
            "fitted": np.ones(len(s.weeks), bool) if holdout_after is None
            else s.weeks <= holdout_after,
            "before": before[output][s.weeks], "best": best[output][s.weeks]}))
    return pd.concat(frames, ignore_index=True)


def _trials_table(trials, values, logliks, params) -> pd.DataFrame:
    """Every evaluated point in order: the search's trials, then the posterior's draws."""
    rows = [{"phase": "search", "number": t.number, "loglik": t.value,
             **{p.path: t.params[p.path] for p in params}} for t in trials]
    rows += [{"phase": "posterior", "number": j, "loglik": float(l),
              **{p.path: v[p.path] for p in params}}
             for j, (v, l) in enumerate(zip(values, logliks))]
    return pd.DataFrame(rows)


def _best_toml(scenario, loaded: LoadedCalibration, best_loglik: float) -> str:
    import tomli_w

    head = (f"# The best point of `cxsim calibrate {loaded.source}` (log-likelihood "
            f"{best_loglik:.6g}):\n# the base scenario with its overrides and the fitted "
            "values, complete; run it with cxsim run, compare or sweep.\n")
    return head + tomli_w.dumps(scenario.model_dump(mode="json", exclude_none=True))
