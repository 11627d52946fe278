"""Calibration: search the parameters with Optuna, then draw their posterior.

1. **Search** (Optuna's TPE sampler). Every trial runs the scenario at the trial's values
   for the calibration's seeds on the batch engine (the same seeds in every trial: common
   random numbers make the likelihood surface smooth) and scores the mean curves with the
   likelihood (``likelihood.loglik``). Trials are kept in ``search.journal`` in the results
   folder, so a calibration that was killed resumes where it stopped.
2. **Posterior** by adaptive, defensive importance sampling. The prior is uniform (or
   log-uniform) on each range. Draws come in rounds; each round's proposal mixes the prior
   (a fifth) with a normal in the unit cube of the ranges, fitted in round 0 to the search's
   best trials and later to the weighted draws so far. Each draw is run like a trial and
   weighted by prior x likelihood / (the rounds' proposals mixed). The prior part bounds
   every weight, so the estimate is consistent whatever the search found, and a parameter
   the data do not inform comes back with its prior. The effective sample size of the
   weights says how much the draws are worth. Evaluated draws are kept in the same journal,
   so this phase resumes too.

The forecast (``forecast``) and the folder (``store``) are separate modules.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..simulate import simulate
from ..study import _scale
from .calibration_file import FittedParameter, LoadedCalibration
from .likelihood import loglik, simulated_outputs
from .observed import Series

SEARCH_STUDY = "search"
POSTERIOR_STUDY = "posterior"
#: the share of every round's draws taken from the prior: it bounds every weight at
#: 1 / PRIOR_SHARE times the likelihood ratio, whatever the normal part misses
PRIOR_SHARE = 0.2
#: the draws come in this many rounds, each proposal fitted to the draws before it
ROUNDS = 3
#: round 0's normal: fitted to this share of the search's best trials, covariance widened
TOP_SHARE = 0.2
WIDEN = 2.0
#: later rounds: the weighted draws' covariance widened by this factor
ROUND_WIDEN = 1.5
#: the smallest standard deviation of a proposal's normal, in units of a parameter's range
MIN_SD = 0.01
#: keys of the random streams this module draws from (under the root seed)
_SAMPLER_KEY, _DRAWS_KEY = 1, 2


def evaluate(scenario, seeds: int, root_seed: int, outputs: list[str]) -> dict[str, np.ndarray]:
    """Each output's value per seed and week (seeds x weeks+1) of one scenario on the batch
    engine; a pure function of its arguments (it runs on a Dask worker as well as here)."""
    steps = simulate(scenario, seeds=seeds, root_seed=root_seed).steps
    return {o: steps[o].to_numpy(dtype=float).reshape(seeds, -1) for o in outputs}


def means_of(curves: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {o: c.mean(axis=0) for o, c in curves.items()}


# ---------------------------------------------------------------- the prior's unit cube

def to_unit(p: FittedParameter, value: float) -> float:
    if p.distribution == "loguniform":
        return (math.log(value) - math.log(p.low)) / (math.log(p.high) - math.log(p.low))
    return (value - p.low) / (p.high - p.low)


def from_unit(parameters, u: np.ndarray) -> dict[str, float]:
    return {p.path: _scale(p, float(x)) for p, x in zip(parameters, u)}


def distributions(parameters) -> dict:
    from optuna.distributions import FloatDistribution

    return {p.path: FloatDistribution(p.low, p.high, log=p.distribution == "loguniform")
            for p in parameters}


def random_stream(root_seed: int, key: int, *more: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(root_seed, spawn_key=(key, *more)))


# ---------------------------------------------------------------------------- storage

def open_storage(journal_path):
    """Optuna's journal file storage (optuna >= 4 names the file backend
    ``JournalFileBackend``; 3.x called it ``JournalFileStorage``)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return JournalStorage(JournalFileBackend(str(journal_path)))


def _study(storage, name: str):
    import optuna

    return optuna.create_study(study_name=name, storage=storage, direction="maximize",
                               load_if_exists=True)


def complete_trials(study) -> list:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _fail_abandoned(study) -> None:
    """Trials left running by a killed process are marked failed (never counted)."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)


# ----------------------------------------------------------------------------- search

@dataclass
class Budget:
    trials: int
    seeds: int
    draws: int
    root_seed: int
    horizon: int          # the weeks each trial simulates (the last fitted observation)


def run_search(loaded: LoadedCalibration, series: list[Series], storage, budget: Budget,
               executor, batch: int = 1, progress: Callable[[int], None] | None = None):
    """Run trials until ``budget.trials`` are complete; returns the Optuna study.

    The sampler's seed is derived from the root seed and the trials already complete, so a
    calibration run in one go, or resumed at the same point, proposes the same trials."""
    from optuna.samplers import TPESampler

    study = _study(storage, SEARCH_STUDY)
    _fail_abandoned(study)
    params = list(loaded.calibration.parameters)
    dists = distributions(params)
    outputs = simulated_outputs(series)
    done = len(complete_trials(study))
    if progress is not None and done:
        progress(min(done, budget.trials))
    while done < budget.trials:
        seed = int(random_stream(budget.root_seed, _SAMPLER_KEY, done).integers(2**31))
        study.sampler = TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                   n_startup_trials=min(10, max(1, budget.trials // 4)))
        asked = [study.ask(dists) for _ in range(min(batch, budget.trials - done))]
        tasks = [(t.number, (loaded.variant(t.params, budget.horizon), budget.seeds,
                             budget.root_seed, outputs)) for t in asked]
        for number, curves in executor.imap(evaluate, tasks):
            study.tell(number, loglik(series, means_of(curves)))
            done += 1
            if progress is not None:
                progress(1)
    return study


# -------------------------------------------------------------------------- posterior

@dataclass(frozen=True)
class Proposal:
    """A share PRIOR_SHARE of the prior (the unit cube), the rest a normal truncated to it."""

    mean: np.ndarray
    cov: np.ndarray
    inside: float         # the normal's probability of falling in the cube

    def as_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "cov": self.cov.tolist(), "inside": self.inside}

    @classmethod
    def from_dict(cls, d: dict) -> "Proposal":
        return cls(np.array(d["mean"]), np.array(d["cov"]), float(d["inside"]))

    @classmethod
    def fitted(cls, u: np.ndarray, weights: np.ndarray, widen: float,
               rng: np.random.Generator) -> "Proposal":
        """The normal of weighted points of the cube, its covariance widened and floored
        (a floor keeps it from collapsing on one point)."""
        d = u.shape[1]
        mean = np.average(u, axis=0, weights=weights)
        centred = u - mean
        cov = (weights[:, None] * centred).T @ centred / weights.sum()
        cov = cov * widen + np.eye(d) * MIN_SD ** 2
        sample = rng.multivariate_normal(mean, cov, size=200_000)
        inside = float(np.mean(np.all((sample >= 0) & (sample <= 1), axis=1)))
        return cls(mean, cov, max(inside, 1e-6))

    def density(self, u: np.ndarray) -> np.ndarray:
        from scipy.stats import multivariate_normal

        normal = multivariate_normal(self.mean, self.cov).pdf(u).reshape(len(u))
        return PRIOR_SHARE + (1 - PRIOR_SHARE) * normal / self.inside

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        out = rng.random((n, len(self.mean)))
        from_normal = np.flatnonzero(rng.random(n) >= PRIOR_SHARE)
        filled = 0
        while filled < len(from_normal):
            batch = rng.multivariate_normal(self.mean, self.cov, size=4 * len(from_normal))
            batch = batch[np.all((batch >= 0) & (batch <= 1), axis=1)]
            take = batch[:len(from_normal) - filled]
            out[from_normal[filled:filled + len(take)]] = take
            filled += len(take)
        return out


def _first_proposal(trials, params, rng) -> Proposal:
    """Round 0: the normal of the search's best trials, widened (the posterior may be wider
    than the best few trials)."""
    ranked = sorted(trials, key=lambda t: t.value, reverse=True)
    top = ranked[:max(2 * len(params) + 2, int(TOP_SHARE * len(ranked)))]
    u = np.array([[to_unit(p, t.params[p.path]) for p in params] for t in top])
    return Proposal.fitted(u, np.ones(len(u)), WIDEN, rng)


def mixture_log_density(proposals: list[Proposal], sizes: list[int], u: np.ndarray) -> np.ndarray:
    """log of the rounds' proposals mixed in proportion to their draws (the balance
    heuristic of multiple importance sampling: every draw is weighted against all of them)."""
    total = sum(sizes)
    return np.log(sum(n / total * q.density(u) for q, n in zip(proposals, sizes)))


def run_posterior(loaded: LoadedCalibration, series: list[Series], storage, budget: Budget,
                  executor, batch: int = 1, progress: Callable[[int], None] | None = None,
                  name: str = POSTERIOR_STUDY):
    """Evaluate the importance sampler's draws in ROUNDS (resuming any already evaluated);
    returns (unit draws, values per draw, log-likelihoods, log proposal densities).

    Round 0 draws around the search's best trials; each later round's normal is fitted to
    the weighted draws so far, so the draws close in on the posterior. The weights use the
    mixture of every round's proposal. Each round's proposal is kept in the journal
    (``name``: one study per trial budget), so a resumed calibration draws the same points."""
    import optuna

    params = list(loaded.calibration.parameters)
    search = _study(storage, SEARCH_STUDY)
    study = _study(storage, name)
    _fail_abandoned(study)
    dists = distributions(params)
    outputs = simulated_outputs(series)
    done = {t.user_attrs["draw"]: t.value for t in complete_trials(study)}
    if progress is not None and done:
        progress(len(done))
    sizes = [len(r) for r in np.array_split(np.arange(budget.draws), ROUNDS)]
    proposals, units, logliks = [], np.zeros((0, len(params))), np.zeros(0)
    for r, size in enumerate(sizes):
        key = f"proposal-{r}"
        if key not in study.user_attrs:
            rng = random_stream(budget.root_seed, _DRAWS_KEY, 0, r)
            if r == 0:
                proposal = _first_proposal(complete_trials(search)[:budget.trials], params, rng)
            else:
                weights = importance_weights(logliks, mixture_log_density(
                    proposals, sizes[:r], units))
                proposal = Proposal.fitted(units, weights, ROUND_WIDEN, rng)
            study.set_user_attr(key, proposal.as_dict())
        proposals.append(Proposal.from_dict(study.user_attrs[key]))
        drawn = proposals[-1].sample(size, random_stream(budget.root_seed, _DRAWS_KEY, 1, r))
        first = len(units)
        values = [from_unit(params, u) for u in drawn]
        found = np.array([done.get(first + i, np.nan) for i in range(size)])
        todo = [i for i in range(size) if np.isnan(found[i])]
        for start in range(0, len(todo), batch):
            tasks = [(i, (loaded.variant(values[i], budget.horizon), budget.seeds,
                          budget.root_seed, outputs)) for i in todo[start:start + batch]]
            for i, curves in executor.imap(evaluate, tasks):
                found[i] = loglik(series, means_of(curves))
                study.add_trial(optuna.trial.create_trial(
                    params=values[i], distributions=dists, value=float(found[i]),
                    user_attrs={"draw": first + i}))
                if progress is not None:
                    progress(1)
        units = np.vstack([units, drawn])
        logliks = np.concatenate([logliks, found])
    values = [from_unit(params, u) for u in units]
    return units, values, logliks, mixture_log_density(proposals, sizes, units)


def importance_weights(logliks: np.ndarray, log_proposal: np.ndarray) -> np.ndarray:
    """Normalised weights prior x likelihood / proposal (the prior is 1 on the cube)."""
    log_w = logliks - log_proposal
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def effective_sample_size(weights: np.ndarray) -> float:
    return float(1.0 / np.sum(weights ** 2))


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-quantile of a weighted sample (the inverse of its weighted step CDF, the mid
    point of each step)."""
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cdf, v))


def credible_intervals(values: list[dict], weights: np.ndarray, params,
                       level: float = 0.9) -> dict[str, dict]:
    """Per fitted path: weighted mean, median and the central ``level`` interval, with the
    prior's own central interval beside it (what "no information" would give)."""
    tail = (1 - level) / 2
    out = {}
    for p in params:
        x = np.array([v[p.path] for v in values])
        out[p.path] = {"mean": float(np.sum(weights * x)),
                       "median": weighted_quantile(x, weights, 0.5),
                       "low": weighted_quantile(x, weights, tail),
                       "high": weighted_quantile(x, weights, 1 - tail),
                       "prior_low": _scale(p, tail), "prior_high": _scale(p, 1 - tail)}
    return out


def resample(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling: how many copies of each draw among ``n``."""
    positions = (rng.random() + np.arange(n)) / n
    index = np.searchsorted(np.cumsum(weights), positions, side="right")
    return np.bincount(np.minimum(index, len(weights) - 1), minlength=len(weights))
