"""Calibration (cxsim calibrate): observed data, likelihoods, search and posterior, forecast,
best.toml, resume, bad input, and strategies compared in posterior worlds.

Observed data are made by cxsim itself from known values (a seed of another root seed than
the calibration's), so nothing here pins the model's numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation import load_scenario, simulate
from simulation.store import SEARCH_JOURNAL, read_calibration_folder
from simulation.studies.calibrate import open_storage, weighted_quantile
from simulation.studies.calibration_file import load_calibration
from simulation.studies.calibration_run import run_calibration
from simulation.studies.forecast import BAND
from simulation.studies.likelihood import series_loglik
from simulation.studies.observed import read_observed

ROOT = Path(__file__).resolve().parent.parent
CXSIM = str(Path(sys.executable).parent / "cxsim")
BASELINE = ROOT / "scenarios" / "baseline.toml"
#: the small company every test fits: 1,000 customers over 52 weeks, the company scaled
BASE_SET = ["start.mode=launch", "cohort=1000", "horizon=52", "desk.base_capacity=25", "strategy.budget=1000",
            "acquisition.base_rate=2"]
TRUTH = {"churn.base": -0.6, "churn.satisfaction": 5.0}
#: economics.annual_discount_rate changes no per-week output: an inert parameter. The
#: satisfaction weight stays at its true value: on a retention curve alone it trades off
#: with the intercept (fitting both, their posterior correlation measured 0.99, and neither
#: marginal narrows), so the recovery test fits the intercept the data do determine.
PARAMETERS = """
[[parameters]]
path = "churn.base"
low = -2.5
high = 0.5
[[parameters]]
path = "economics.annual_discount_rate"
low = 0.0
high = 0.5
"""


def observed_history(folder: Path, truth=TRUTH, root_seed: int = 77) -> pd.DataFrame:
    """One run of the small company at ``truth``: weekly retention and contacts."""
    sc = load_scenario(BASELINE, BASE_SET + [f"{k}={v}" for k, v in truth.items()])
    steps = simulate(sc, seeds=[0], root_seed=root_seed).steps
    weeks = steps[steps["step"] > 0]
    frame = pd.DataFrame({"week": weeks["step"].to_numpy(),
                          "retention": weeks["cohort_retention"].to_numpy(),
                          "contacts": weeks["contacts"].to_numpy()})
    frame.to_csv(folder / "observed.csv", index=False)
    return frame


def calibration_file(folder: Path, body: str = "", parameters: str = PARAMETERS,
                     columns: str | None = None, budget: str | None = None) -> Path:
    columns = columns if columns is not None else """
[observed.columns.retention]
output = "cohort_retention"
likelihood = "binomial"
customers = 1000
"""
    budget = budget or "seeds = 8\ntrials = 24\nposterior_draws = 120\nforecast_draws = 12\n"
    path = folder / "calibration.toml"
    path.write_text(f'scenario = "{BASELINE}"\nset = {json.dumps(BASE_SET)}\n{budget}'
                    f'root_seed = 3\n{body}\n[[observed]]\nfile = "observed.csv"\n{columns}'
                    f"{parameters}")
    return path


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """One small calibration, fitted to weeks 1-40 and held out after."""
    folder = tmp_path_factory.mktemp("calibration")
    observed_history(folder)
    loaded = load_calibration(calibration_file(folder))
    out = folder / "out"
    run_calibration(loaded, out, holdout_after=40, forecast_to=60)
    manifest, tables = read_calibration_folder(out)
    return loaded, out, manifest, tables


# ------------------------------------------------------------------------ observed data

def test_customers_file_gives_the_simulated_cohort_curve(tmp_path):
    """Per-customer join and leave weeks give exactly the cohort the simulation counted."""
    sc = load_scenario(BASELINE, ["cohort=200", "horizon=30"])
    res = simulate(sc, seeds=[0], root_seed=5, events=True)
    ev = res.events
    pd.DataFrame({"join_week": ev["join_step"],
                  "leave_week": ev["churn_step"].where(ev["churned"])}) \
        .to_csv(tmp_path / "observed.csv", index=False)
    path = tmp_path / "calibration.toml"
    path.write_text(f'scenario = "{BASELINE}"\nset = ["cohort=200", "horizon=30"]\n'
                    '[[observed]]\nfile = "observed.csv"\nkind = "customers"\nthrough = 30\n'
                    '[[parameters]]\npath = "churn.base"\nlow = -2\nhigh = 0\n')
    (series,) = read_observed(load_calibration(path))
    assert (ev["join_step"] < 0).any()  # a going concern: the cohort has joined before week 0
    steps = res.steps[res.steps["step"] > 0]
    assert series.column.customers == res.steps["cohort_active"].iloc[0]
    assert np.array_equal(series.weeks, steps["step"].to_numpy())
    assert np.array_equal(series.values, steps["cohort_active"].to_numpy())


def test_binomial_likelihood_is_the_multinomial_of_leaving_intervals(tmp_path):
    """The product of conditional binomials equals the multinomial likelihood of the weeks in
    which the cohort's customers left (up to the constant left out)."""
    observed_history(tmp_path)
    (series,) = read_observed(load_calibration(calibration_file(tmp_path)))
    rng = np.random.default_rng(0)
    survival = np.sort(rng.uniform(0.5, 1.0, len(series.weeks)))[::-1]
    n = series.column.customers
    k = np.round(series.values * n)
    s = np.concatenate([[1.0], survival])
    left = np.concatenate([[n], k])[:-1] - k
    multinomial = np.sum(left * np.log(s[:-1] - s[1:])) + k[-1] * np.log(s[-1])
    assert series_loglik(series, survival) == pytest.approx(multinomial, rel=1e-12)
    # the beta-binomial tends to it as the overdispersion vanishes
    near = series.column.model_copy(update={"likelihood": "beta-binomial",
                                            "overdispersion": 1e-9})
    beta = series_loglik(type(series)(series.name, series.output, near, series.weeks,
                                      series.values), survival)
    assert beta == pytest.approx(multinomial, rel=1e-4)


# ------------------------------------------------------------------- the calibration

def test_recovers_the_known_values(calibrated):
    """The fitted parameter comes back near its true value (within three posterior standard
    deviations) with an interval narrower than its prior's."""
    loaded, out, manifest, tables = calibrated
    post = tables["posterior"]
    w = post["weight"].to_numpy()
    iv = manifest["posterior"]["intervals"]["churn.base"]
    mean = np.sum(w * post["churn.base"])
    sd = np.sqrt(np.sum(w * (post["churn.base"] - mean) ** 2))
    assert abs(mean - TRUTH["churn.base"]) < 3 * sd
    assert iv["high"] - iv["low"] < 0.5 * (iv["prior_high"] - iv["prior_low"])
    assert manifest["loglik"]["best"] >= manifest["loglik"]["before"]


def test_inert_parameter_keeps_its_prior(calibrated):
    """A parameter that changes no observed output gets back (about) its prior's 90% range,
    not a spurious narrow interval."""
    _, _, manifest, tables = calibrated
    iv = manifest["posterior"]["intervals"]["economics.annual_discount_rate"]
    prior_width = iv["prior_high"] - iv["prior_low"]
    assert iv["high"] - iv["low"] > 0.75 * prior_width
    assert manifest["posterior"]["effective_sample_size"] > 10


def test_weighted_quantile_of_equal_weights_is_the_sample_quantile():
    x = np.arange(101.0)
    assert weighted_quantile(x, np.ones(101), 0.05) == pytest.approx(np.quantile(x, 0.05),
                                                                      abs=0.51)
    assert weighted_quantile(x, np.ones(101), 0.5) == 50.0


def test_best_toml_run_reproduces_the_fitted_curve(calibrated, tmp_path):
    """`cxsim run best.toml` with the calibration's seeds gives the best curve of fit.parquet."""
    loaded, out, manifest, tables = calibrated
    cal = loaded.calibration
    result = subprocess.run([CXSIM, "run", str(out / "best.toml"), "--seeds", str(cal.seeds),
                             "--seed", str(cal.root_seed), "--out", str(tmp_path / "run"),
                             "--json"], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    steps = pd.read_parquet(tmp_path / "run" / "steps.parquet")
    curve = steps.groupby("step")["cohort_retention"].mean()
    fit = tables["fit"]
    assert len(fit) == 52
    np.testing.assert_allclose(curve.loc[fit["week"]].to_numpy(), fit["best"], rtol=0,
                               atol=1e-12)
    best = load_scenario(out / "best.toml")
    assert best.churn.base == manifest["best"]["churn.base"]


def test_forecast_is_simulate_on_the_posterior_draws(calibrated):
    """forecast.parquet: the pooled runs of the resampled posterior draws, as simulate gives
    them, to --forecast-to; observations marked fitted up to the holdout week."""
    loaded, out, manifest, tables = calibrated
    cal = loaded.calibration
    post = tables["posterior"]
    picked = post[post["forecast_copies"] > 0]
    assert picked["forecast_copies"].sum() == cal.forecast_draws
    runs = []
    for _, row in picked.iterrows():
        values = {p.path: float(row[p.path]) for p in cal.parameters}
        steps = simulate(loaded.variant(values, 60), seeds=cal.seeds,
                         root_seed=cal.root_seed).steps
        curves = steps["cohort_retention"].to_numpy().reshape(cal.seeds, 61)
        runs.append(np.repeat(curves, int(row["forecast_copies"]), axis=0))
    runs = np.concatenate(runs)
    forecast = tables["forecast"]
    assert list(forecast["week"]) == list(range(61))
    np.testing.assert_allclose(forecast["mean"], runs.mean(axis=0), rtol=0, atol=1e-12)
    low, high = np.quantile(runs, BAND, axis=0)
    np.testing.assert_allclose(forecast["low"], low, rtol=0, atol=1e-12)
    np.testing.assert_allclose(forecast["high"], high, rtol=0, atol=1e-12)
    seen = forecast[forecast["observed"].notna()]
    assert seen["fitted"].tolist() == [w <= 40 for w in seen["week"]]
    (holdout,) = manifest["holdout"]
    assert holdout["observations"] == 12
    held = seen[~seen["fitted"]]
    assert holdout["mean_abs_error"] == pytest.approx((held["mean"] - held["observed"]).abs()
                                                      .mean(), rel=1e-12)


def test_resume_continues_without_losing_trials(tmp_path):
    """A calibration killed during its search keeps every finished trial; --resume runs
    the rest and the folder ends with the full budget, the kept trials unchanged."""
    observed_history(tmp_path)
    path = calibration_file(tmp_path, budget="seeds = 30\ntrials = 30\nposterior_draws = 20\n"
                                             "forecast_draws = 4\n")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([CXSIM, "calibrate", str(path), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    kept = []
    deadline = time.time() + 200
    try:
        while time.time() < deadline and len(kept) < 5:
            time.sleep(0.5)
            if (out / SEARCH_JOURNAL).exists():
                kept = _finished(out)
        assert len(kept) >= 5, "the search never got going"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert not (out / "manifest.json").exists()
    kept = _finished(out)
    assert 5 <= len(kept) < 30
    result = subprocess.run([CXSIM, "calibrate", str(path), "--out", str(out), "--resume"],
                            capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stderr
    trials = read_calibration_folder(out)[1]["trials"]
    search = trials[trials["phase"] == "search"].set_index("number")
    assert len(search) == 30
    for number, value in kept:
        assert search.loc[number, "loglik"] == value


def _finished(folder: Path) -> list[tuple[int, float]]:
    import optuna
    from optuna.trial import TrialState

    study = optuna.load_study(study_name="search", storage=open_storage(folder / SEARCH_JOURNAL))
    return [(t.number, t.value) for t in study.get_trials(states=(TrialState.COMPLETE,))]


def test_resume_refuses_another_calibration(calibrated, tmp_path):
    loaded, out, _, _ = calibrated
    other = tmp_path / "other"
    other.mkdir()
    observed_history(other, root_seed=78)  # other data
    path = calibration_file(other)
    result = subprocess.run([CXSIM, "calibrate", str(path), "--out", str(out), "--resume"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "fingerprint" in result.stderr and "Traceback" not in result.stderr


def test_workers_give_what_the_same_batches_give_in_process(tmp_path):
    """``--workers 2`` evaluates two trials (or draws) at a time on a local Dask cluster:
    every table, best.toml and the best values and intervals are, to the bit, those of the
    same calibration evaluated in process in batches of two. (In batches of one the search
    takes another path: TPE proposes one point at a time, each from a sampler seeded by the
    trials finished before it.)"""
    observed_history(tmp_path)
    path = calibration_file(tmp_path, budget="seeds = 2\ntrials = 6\nposterior_draws = 10\n"
                                             "forecast_draws = 3\n")
    result = subprocess.run([CXSIM, "calibrate", str(path), "--out", str(tmp_path / "dask"),
                             "--workers", "2"], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    here = run_calibration(load_calibration(path), tmp_path / "here", batch=2)
    there = read_calibration_folder(tmp_path / "dask")[0]
    assert there["executor"]["executor"] == "dask" and there["executor"]["workers"] == 2
    for name in ("posterior.parquet", "trials.parquet", "forecast.parquet", "fit.parquet",
                 "best.toml"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()
    for key in ("best", "posterior", "loglik"):
        assert there[key] == here[key], key


# ---------------------------------------------------------------------------- bad input

def _bad(tmp_path: Path, frame_edit=None, **file_args) -> Path:
    frame = observed_history(tmp_path)
    if frame_edit is not None:
        frame_edit(frame).to_csv(tmp_path / "observed.csv", index=False)
    return calibration_file(tmp_path, **file_args)


def _nan(frame):
    frame.loc[5, "retention"] = np.nan
    return frame


def _outside(frame):
    frame.loc[5, "retention"] = 1.2
    return frame


def _beyond(frame):
    frame.loc[len(frame)] = {"week": 80, "retention": 0.5, "contacts": 3}
    return frame


@pytest.mark.parametrize("case, make, expected", [
    ("missing column", lambda p: _bad(p, lambda f: f.drop(columns="retention")),
     ["observed.csv", "'retention'", "missing"]),
    ("weeks beyond the horizon", lambda p: _bad(p, _beyond),
     ["observed.csv", "'week'", "beyond the scenario's horizon"]),
    ("empty range", lambda p: _bad(p, parameters='[[parameters]]\npath = "churn.base"\n'
                                                 'low = 0.5\nhigh = 0.5\n'),
     ["calibration.toml", "parameters.0", "low must be below high"]),
    ("path that does not exist", lambda p: _bad(p, parameters='[[parameters]]\npath = '
                                                             '"churn.bsae"\nlow = 0\nhigh = 1\n'),
     ["calibration.toml", "parameters.0.path", "churn.bsae"]),
    ("share outside [0, 1]", lambda p: _bad(p, _outside),
     ["observed.csv", "'retention'", "outside [0, 1]"]),
    ("NaN", lambda p: _bad(p, _nan), ["observed.csv", "'retention'", "row 6", "not a finite"]),
    ("unknown output", lambda p: _bad(p, columns='[observed.columns.retention]\noutput = "rtn"'
                                                 '\nlikelihood = "normal"\nsd = 1\n'),
     ["calibration.toml", "observed.0.columns.retention.output", "unknown output"]),
    ("missing data file", lambda p: (_bad(p), (p / "observed.csv").unlink())[0],
     ["calibration.toml", "observed.0.file", "no such file"]),
])
def test_bad_input_is_one_line_exit_2(tmp_path, case, make, expected):
    path = make(tmp_path)
    out = tmp_path / "out"
    result = subprocess.run([CXSIM, "calibrate", str(path), "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, (case, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, (case, lines)
    for word in expected:
        assert word in lines[0], (case, lines[0])
    assert not out.exists()


# --------------------------------------------------------------------- posterior worlds

def test_compare_in_posterior_worlds_says_which_spread_is_which(calibrated, tmp_path):
    loaded, out, _, _ = calibrated
    result = subprocess.run([CXSIM, "compare", str(out / "best.toml"), "--posterior", str(out),
                             "--draws", "3", "--seeds", "4", "--strategies", "none,reactive",
                             "--out", str(tmp_path / "cmp"), "--json"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["worlds"] == 3 and report["seeds"] == 4
    rows = pd.DataFrame(report["table"])
    reactive = rows[(rows["strategy"] == "reactive") & (rows["output"] == "cohort_retention")]
    runs = pd.read_parquet(tmp_path / "cmp" / "runs.parquet")
    assert set(runs["variant"]) == {f"{s} @ world {i}" for s in ("none", "reactive")
                                    for i in range(3)}
    per_world = runs.pivot_table(index="seed", columns="variant", values="cohort_retention")
    diffs = [(per_world[f"reactive @ world {i}"] - per_world[f"none @ world {i}"]).mean()
             for i in range(3)]
    assert reactive["diff"].iloc[0] == pytest.approx(np.mean(diffs), abs=1e-12)
    text = subprocess.run([CXSIM, "compare", str(out / "best.toml"), "--posterior", str(out),
                           "--draws", "2", "--seeds", "3", "--strategies", "none,reactive",
                           "--out", str(tmp_path / "cmp2")], capture_output=True, text=True,
                          timeout=240).stdout
    assert "what the observed data leave uncertain" in text
    assert "the simulated customers' randomness" in text


def test_validate_reads_a_calibration_file_and_run_refuses_it():
    example = ROOT / "scenarios" / "calibration" / "example.toml"
    ok = subprocess.run([CXSIM, "validate", str(example)], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0 and "calibration: 3 parameters" in ok.stdout, ok.stderr
    refused = subprocess.run([CXSIM, "run", str(example)], capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode == 2 and "cxsim calibrate" in refused.stderr


@pytest.mark.parametrize("args, expected", [
    (["--holdout-after", "0"], "--holdout-after 0: no observation at or before"),
    (["--holdout-after", "52"], "--holdout-after 52: no observation after"),
    (["--forecast-to", "30"], "--forecast-to 30: must be from the last observed week (52)"),
])
def test_holdout_and_forecast_weeks_are_checked_before_anything_runs(tmp_path, args,
                                                                     expected):
    path = _bad(tmp_path)
    out = tmp_path / "out"
    result = subprocess.run([CXSIM, "calibrate", str(path), "--out", str(out), *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert expected in result.stderr
    assert not out.exists()
