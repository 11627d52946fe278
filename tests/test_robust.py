"""Robust studies: worlds, runs on common seeds, regret and best share, scenario discovery."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation.results import mean_interval
from simulation.scenario import ScenarioError, load_scenario
from simulation.simulate import simulate
from simulation.store import ResultsError, StudyStore
from simulation.studies.discover import ConditionError, discover, parse_condition
from simulation.studies.calibration_file import load_calibration
from simulation.studies.calibration_run import run_calibration
from simulation.studies.metrics import robustness
from simulation.studies.posterior_worlds import posterior_worlds
from simulation.studies.robust import read_robust, round_folder, run_robust
from simulation.studies.robust_file import load_robust

from .test_calibrate import calibration_file, observed_history

ROOT = Path(__file__).resolve().parent.parent
CXSIM = str(Path(sys.executable).parent / "cxsim")
BASELINE = ROOT / "scenarios" / "baseline.toml"
BASE_OVERRIDES = ["cohort=150", "horizon=16"]

THREE_POLICIES = """
[[policies]]
name = "reactive"
strategy = "reactive"
[[policies]]
name = "proactive"
strategy = "proactive"
[[policies]]
name = "half"
mix = 0.5
[[policies]]
name = "none"
strategy = "none"
"""

UNCERTAINTIES = """
[[uncertainties]]
name = "churn_base"
factor = true
paths = ["churn.base"]
low = 0.5
high = 2.0
[[uncertainties]]
name = "failures"
factor = true
paths = ["touchpoints.*.failure_rate"]
low = 0.5
high = 2.0
distribution = "loguniform"
[[uncertainties]]
name = "base_capacity"
path = "desk.base_capacity"
low = 2
high = 12
integer = true
[[uncertainties]]
name = "loss_aversion"
path = "psychology.loss_aversion"
choices = [1.5, 2.0, 3.0]
"""


def write(folder: Path, body: str, name: str = "robust.toml",
          overrides=tuple(BASE_OVERRIDES)) -> Path:
    path = folder / name
    path.write_text(f'scenario = "{BASELINE}"\noverrides = {json.dumps(list(overrides))}\n'
                    + body)
    return path


SMALL = """
seeds = 5
root_seed = 7
chunk_runs = 30
[design]
kind = "lhs"
worlds = 10
seed = 3
[[objectives]]
output = "cohort_retention"
threshold = 0.93
[[objectives]]
output = "contacts"
sense = "min"
threshold = 4.0
[[objectives]]
output = "profit_total"
threshold = 0.0
""" + UNCERTAINTIES + THREE_POLICIES


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("robust")
    study = write(folder, SMALL)
    loaded = load_robust(study)
    report = run_robust(loaded, folder / "out")
    return study, loaded, folder / "out", report


# ----------------------------------------------------------------------------- worlds

def test_latin_hypercube_puts_one_world_in_every_stratum_of_every_range(tmp_path):
    loaded = load_robust(write(tmp_path, SMALL))
    worlds = loaded.worlds
    assert list(worlds.columns) == ["world", "churn_base", "failures", "base_capacity",
                                    "loss_aversion"]
    strata = np.floor((worlds["churn_base"] - 0.5) / 1.5 * 10).astype(int)
    assert sorted(strata) == list(range(10))
    log_strata = np.floor(np.log(worlds["failures"] / 0.5) / np.log(4.0) * 10).astype(int)
    assert sorted(log_strata) == list(range(10))
    assert set(worlds["base_capacity"]) <= set(range(2, 13))
    assert worlds["base_capacity"].dtype == np.int64
    assert set(worlds["loss_aversion"]) <= {1.5, 2.0, 3.0}


def world_runs_from_cxsim_run(out, world, policy, lines, seeds, tmp_path):
    """A robust study's runs of one world and policy (from its store in ``out``), and what
    ``cxsim run`` gives for the base scenario with the world's ``--set`` lines, same seeds."""
    args = [CXSIM, "run", str(BASELINE), "--seeds", str(seeds), "--seed", "7", "--strategy",
            policy, "--out", str(tmp_path / "run"), "--json"]
    for line in BASE_OVERRIDES + lines:
        args += ["--set", line]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    alone = pd.read_parquet(tmp_path / "run" / "runs.parquet").drop(columns="variant")
    store = StudyStore(out)
    index = store.manifest()["points"].index({"world": str(world), "policy": policy})
    runs = store.read_runs()
    return runs[runs["point"] == index].drop(columns="point").reset_index(drop=True), alone


def test_a_worlds_run_equals_cxsim_run_of_the_base_scenario_with_its_values(small_run,
                                                                              tmp_path):
    study, loaded, out, _ = small_run
    world, policy = 6, "proactive"
    lines = loaded.world_overrides(world)
    assert lines[0].startswith("churn.base*=") and lines[2].startswith("desk.base_capacity=")
    mine, alone = world_runs_from_cxsim_run(out, world, policy, lines, 5, tmp_path)
    pd.testing.assert_frame_equal(mine, alone[mine.columns], check_exact=True)
    # and the same through the API, from the scenario the world names
    direct = simulate(loaded.world_scenario(world, policy), seeds=5, root_seed=7).summary()
    pd.testing.assert_frame_equal(mine, direct.drop(columns="variant")[mine.columns],
                                  check_exact=True)


# --------------------------------------------------------------------------- metrics

def test_outcomes_hold_each_worlds_means_and_paired_gaps(small_run):
    _, loaded, out, _ = small_run
    _, _, outcomes = read_robust(out)
    runs = StudyStore(out).read_runs()
    points = pd.DataFrame(StudyStore(out).manifest()["points"])
    runs["world"] = points["world"].astype(int).to_numpy()[runs["point"]]
    runs["policy"] = points["policy"].to_numpy()[runs["point"]]
    row = outcomes[(outcomes["world"] == 4) & (outcomes["policy"] == "half")].iloc[0]
    mine = runs[(runs["world"] == 4) & (runs["policy"] == "half")].sort_values("seed")
    assert row["seeds"] == 5
    assert row["contacts"] == pytest.approx(mine["contacts"].mean(), abs=1e-12)
    world = runs[runs["world"] == 4]
    means = world.groupby("policy")["contacts"].mean()
    best = means.idxmin()  # fewer contacts is better
    diff = (mine["contacts"].to_numpy()
            - world[world["policy"] == best].sort_values("seed")["contacts"].to_numpy())
    expected = mean_interval(diff, 0.95)
    assert (row["contacts_gap"], row["contacts_gap_low"], row["contacts_gap_high"]) == \
        pytest.approx(expected, abs=1e-12)


def test_regret_best_share_and_satisficing_match_a_hand_count_from_outcomes_parquet(small_run):
    _, loaded, out, _ = small_run
    outcomes = pd.read_parquet(out / "outcomes.parquet")
    table = robustness(outcomes, loaded.robust.objectives).set_index(["output", "policy"])
    policies = ["reactive", "proactive", "half", "none"]
    worlds = sorted(set(outcomes["world"]))
    saw_tie = saw_alone = False
    for output, sign, threshold in (("cohort_retention", 1, 0.93), ("contacts", -1, 4.0),
                                    ("profit_total", 1, 0.0)):
        regrets = {p: [] for p in policies}
        credit = dict.fromkeys(policies, 0.0)
        meets = dict.fromkeys(policies, 0)
        for w in worlds:
            rows = {r.policy: r for r in outcomes[outcomes["world"] == w].itertuples()}
            best = max(sign * getattr(rows[p], output) for p in policies)
            tied = [p for p in policies if getattr(rows[p], f"{output}_gap_low") <= 0]
            saw_tie |= len(tied) > 1
            saw_alone |= len(tied) == 1
            for p in policies:
                value = getattr(rows[p], output)
                regrets[p].append(best - sign * value)
                credit[p] += (p in tied) / len(tied)
                meets[p] += value >= threshold if sign == 1 else value <= threshold
        for p in policies:
            row = table.loc[(output, p)]
            assert row["regret_mean"] == pytest.approx(np.mean(regrets[p]), abs=1e-12)
            assert row["regret_p90"] == pytest.approx(np.percentile(regrets[p], 90), abs=1e-12)
            assert row["regret_max"] == pytest.approx(max(regrets[p]), abs=1e-12)
            assert row["best_share"] == pytest.approx(credit[p] / len(worlds), abs=1e-12)
            assert row["satisficing"] == pytest.approx(meets[p] / len(worlds), abs=1e-12)
        assert sum(table.loc[(output, p), "best_share"] for p in policies) == \
            pytest.approx(1.0, abs=1e-12)
    assert saw_tie and saw_alone  # both kinds of world were counted


def test_adaptive_seeds_stop_where_the_two_best_are_told_apart(tmp_path):
    body = SMALL.replace("seeds = 5", "seeds = 4") + """
[adaptive]
block = 4
max_seeds = 12
"""
    loaded = load_robust(write(tmp_path, body))
    report = run_robust(loaded, tmp_path / "out")
    _, _, outcomes = read_robust(tmp_path / "out")
    seeds = outcomes.groupby("world")["seeds"].first()
    assert set(seeds) <= {4, 8, 12} and report["rounds"] == (seeds.max() - 4) // 4 + 1
    assert report["runs"] == 4 * seeds.sum() < report["runs_fixed"] == 10 * 4 * 12
    for world, count in seeds.items():
        rows = outcomes[outcomes["world"] == world].sort_values("cohort_retention_gap")
        second = rows.iloc[1]  # the second best against the best
        # told apart, or the same in every seed (no seeds can tell them apart)
        resolved = second["cohort_retention_gap_low"] > 0 or \
            second["cohort_retention_gap_high"] == second["cohort_retention_gap_low"] == 0
        if count < 12:
            assert resolved, f"world {world} stopped at {count} seeds unresolved"
    assert (round_folder(tmp_path / "out", 1) / "manifest.json").is_file()


# -------------------------------------------------------------------------- discovery

FLIP = """
seeds = 24
root_seed = 5
chunk_runs = 400
outputs = ["cohort_retention"]
[design]
kind = "lhs"
worlds = 60
seed = 2
[[objectives]]
output = "cohort_retention"
[[uncertainties]]
name = "churn_base"
factor = true
paths = ["churn.base"]
low = 0.3
high = 2.5
[[uncertainties]]
name = "discount"
path = "economics.annual_discount_rate"
low = 0.0
high = 0.3
[[policies]]
name = "reactive"
strategy = "reactive"
"""


@pytest.fixture(scope="module")
def flip_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flip")
    loaded = load_robust(write(folder, FLIP, overrides=["cohort=150", "horizon=40"]))
    run_robust(loaded, folder / "out")
    return loaded, folder / "out"


def _retention(loaded, factor: float) -> float:
    """Mean retention of the policy at a churn factor, on the study's seeds."""
    scenario = load_scenario(BASELINE, ["cohort=150", "horizon=40", f"churn.base*={factor!r}",
                                        'strategy.name="reactive"'])
    return float(simulate(scenario, seeds=24, root_seed=5).summary()["cohort_retention"].mean())


@pytest.mark.parametrize("method", ["prim", "cart"])
def test_discovery_finds_a_known_flip_point_and_leaves_out_an_inert_uncertainty(flip_run,
                                                                                method):
    loaded, out = flip_run
    threshold = _retention(loaded, 1.2)
    low, high = 0.3, 2.5  # bisection for the factor where retention crosses the threshold
    for _ in range(12):
        middle = (low + high) / 2
        low, high = (middle, high) if _retention(loaded, middle) < threshold else (low, middle)
    flip = (low + high) / 2
    info, worlds, outcomes = read_robust(out)
    found = discover(worlds, outcomes, f"reactive.cohort_retention < {threshold!r}",
                     ["reactive"], info["study"].kept_outputs, method=method)
    restricted = {row["uncertainty"]: row for row in found.box}
    assert set(restricted) == {"churn_base"}  # the discount rate changes no trajectory
    assert abs(restricted["churn_base"]["high"] - flip) <= 0.1 * flip
    assert found.scores["discount"] <= found.baseline["discount"]
    assert found.scores["churn_base"] > found.baseline["churn_base"]


def test_conditions_combine_comparisons_with_and_or_and_brackets():
    table = pd.DataFrame({"a.x": [1.0, 2.0, 3.0, 4.0], "b.x": [4.0, 3.0, 2.0, 1.0]})
    check = lambda text: list(parse_condition(text, ["a", "b"], ["x"])(table))  # noqa: E731
    assert check("a.x > b.x") == [False, False, True, True]
    assert check("a.x >= 2 and b.x >= 2") == [False, True, True, False]
    assert check("a.x < 2 or b.x < 2 and a.x > 3.5") == [True, False, False, True]
    assert check("(a.x < 2 or b.x < 2) and a.x > 3.5") == [False, False, False, True]
    for bad, fragment in (("c.x > 1", "unknown policy 'c'"), ("a.y > 1", "output 'y'"),
                          ("a.x >", "expected more"), ("a.x = 1", "cannot read"),
                          ("a.x > 1 b.x", "unexpected")):
        with pytest.raises(ConditionError, match=fragment):
            check(bad)


# -------------------------------------------------------------------------- resume

KILLABLE = """
seeds = 4
root_seed = 1
chunk_runs = 4
[design]
worlds = 12
[adaptive]
block = 4
max_seeds = 8
""" + UNCERTAINTIES + THREE_POLICIES.split('[[policies]]\nname = "half"')[0]


def _data_files(folder: Path) -> dict[str, bytes]:
    names = ["worlds.parquet", "outcomes.parquet", "points.parquet"]
    files = {name: (folder / name).read_bytes() for name in names}
    for path in sorted(folder.rglob("chunks/*.parquet")):
        files[str(path.relative_to(folder))] = path.read_bytes()
    return files


def test_kill_then_resume_writes_the_same_files_as_an_uninterrupted_run(tmp_path):
    study = write(tmp_path, KILLABLE)
    run_robust(load_robust(study), tmp_path / "whole")
    out = tmp_path / "killed"
    proc = subprocess.Popen([CXSIM, "robust", str(study), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while StudyStore(out).finished() < 2:
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, "no progress"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "outcomes.parquet").exists()
    resumed = subprocess.run([CXSIM, "robust", str(study), "--out", str(out), "--resume"],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "already done" in resumed.stdout
    whole, mine = _data_files(tmp_path / "whole"), _data_files(out)
    assert mine.keys() == whole.keys() and len(mine) > 3
    assert all(mine[name] == whole[name] for name in whole)


def test_a_local_dask_cluster_writes_the_same_tables(small_run, tmp_path):
    from simulation.executors import DaskExecutor

    _, loaded, out, _ = small_run
    run_robust(loaded, tmp_path / "dask", executor=DaskExecutor("local:2"))
    for name in ("worlds.parquet", "outcomes.parquet"):
        assert (tmp_path / "dask" / name).read_bytes() == (out / name).read_bytes()


def test_resume_refuses_another_robust_study(small_run, tmp_path):
    study, _, out, _ = small_run
    other = load_robust(write(tmp_path, SMALL.replace("worlds = 10", "worlds = 11")))
    with pytest.raises(ResultsError, match="different robust study"):
        run_robust(other, out, resume=True)


# ------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("body, fragment", [
    (SMALL.replace('name = "failures"', 'name = "failures"\nspread = 2'),
     "uncertainties.1.spread: unknown key"),
    (SMALL.replace('path = "desk.base_capacity"', 'path = "desk.capacity"'),
     "uncertainties.2 (base_capacity): desk.capacity: unknown key"),
    (SMALL.replace("low = 2\nhigh = 12", "low = 12\nhigh = 2"),
     "uncertainties.base_capacity: low must be below high"),
    (SMALL.replace('mix = 0.5', 'mix = 0.5\nstrategy = "reactive"'),
     "policies.half: give exactly one of strategy, mix or allocation"),
    (SMALL.replace('strategy = "proactive"', 'strategy = "lavish"'),
     "policies.1 (proactive): strategy.name: unknown strategy 'lavish'"),
    (SMALL.replace('sense = "min"', 'sense = "min"\n').replace('output = "contacts"',
                                                                  'output = "calls"'),
     "objectives.1.output: unknown output 'calls'"),
    (SMALL.replace("worlds = 10", "worlds = nan"), "design.worlds"),
    (SMALL.replace('name = "half"', 'name = "reactive"'), "policies: names must be unique"),
    (SMALL.replace('name = "half"', 'name = "half mix"'),
     "policies.half mix.name: String should match pattern"),
])
def test_bad_robust_study_is_one_line_naming_file_and_field_exit_2(tmp_path, body, fragment):
    study = write(tmp_path, body)
    with pytest.raises(ScenarioError) as err:
        load_robust(study)
    assert any(fragment in line and str(study) in line for line in err.value.problems), \
        err.value.problems
    done = subprocess.run([CXSIM, "robust", str(study), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and fragment in done.stderr
    assert not (tmp_path / "out").exists()


def test_discover_errors_are_one_line_exit_2_and_the_box_prints_as_json(small_run, tmp_path):
    _, _, out, _ = small_run
    for where, fragment in (("lavish.cohort_retention > 0", "--where: lavish.cohort_retention: "
                                                            "unknown policy"),
                            ("reactive.cohort_retention > 2", "holds in no world")):
        done = subprocess.run([CXSIM, "discover", str(out), "--where", where],
                              capture_output=True, text=True)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
        assert fragment in done.stderr, done.stderr
    (tmp_path / "plain").mkdir()
    done = subprocess.run([CXSIM, "discover", str(tmp_path / "plain"), "--where", "a.b > 1"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "manifest.json: missing" in done.stderr
    median = float(pd.read_parquet(out / "outcomes.parquet").query("policy == 'reactive'")
                   ["cohort_retention"].median())
    done = subprocess.run([CXSIM, "discover", str(out), "--where",
                           f"reactive.cohort_retention < {median}", "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert {"box", "coverage", "density", "scores"} <= set(answer)
    assert set(answer["scores"]) == {"churn_base", "failures", "base_capacity", "loss_aversion"}
    assert all({"uncertainty", "low", "high"} <= set(row) for row in answer["box"])
    assert 0 < answer["coverage"] <= 1 and 0 < answer["density"] <= 1


def test_a_damaged_outcomes_table_is_one_line_naming_it_and_left_as_it_is(small_run, tmp_path):
    _, _, out, _ = small_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    damaged = copy / "outcomes.parquet"
    damaged.write_bytes(damaged.read_bytes()[:-40] + bytes(40))
    before = damaged.read_bytes()
    done = subprocess.run([CXSIM, "discover", str(copy), "--where",
                           "reactive.cohort_retention > 0.5"], capture_output=True, text=True)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert str(damaged) in done.stderr and "Traceback" not in done.stderr
    assert damaged.read_bytes() == before


# --------------------------------------------------------------------- posterior worlds

#: what the tiny calibration fits: a path every scenario has, and one of a named segment
#: (a base scenario without that segment cannot take it)
FITTED = """
[[parameters]]
path = "churn.base"
low = -2.5
high = 0.5
[[parameters]]
path = "segments.premium.churn_bias"
low = -0.5
high = 0.5
"""
#: a small observed cohort flattens the likelihood, so the posterior keeps several draws
FEW_CUSTOMERS = """
[observed.columns.retention]
output = "cohort_retention"
likelihood = "binomial"
customers = 30
"""
TINY_BUDGET = "seeds = 2\ntrials = 4\nposterior_draws = 10\nforecast_draws = 2\n"

POSTERIOR = """
seeds = 3
root_seed = 7
[design]
worlds = 12
seed = 5
posterior = "cal"
[[uncertainties]]
name = "loss_aversion"
path = "psychology.loss_aversion"
choices = [1.5, 2.0, 3.0]
[[policies]]
name = "reactive"
strategy = "reactive"
[[policies]]
name = "none"
strategy = "none"
"""


def tiny_calibration(folder: Path, budget: str = TINY_BUDGET) -> Path:
    """A calibration folder, ``folder/cal``, made in a few seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    observed_history(folder)
    path = calibration_file(folder, parameters=FITTED, columns=FEW_CUSTOMERS, budget=budget)
    run_calibration(load_calibration(path), folder / "cal")
    return folder / "cal"


@pytest.fixture(scope="module")
def posterior_run(tmp_path_factory):
    """``cxsim robust`` of a study whose worlds are draws of a calibration's posterior (the
    folder beside the study file) with an uncertainty sampled on top."""
    folder = tmp_path_factory.mktemp("posterior")
    cal = tiny_calibration(folder)
    study = write(folder, POSTERIOR)
    done = subprocess.run([CXSIM, "robust", str(study), "--out", str(folder / "out")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return study, cal, folder / "out", done.stdout


def test_posterior_worlds_are_weighted_draws_and_a_worlds_run_equals_cxsim_run(posterior_run,
                                                                             tmp_path):
    study, cal, out, _ = posterior_run
    worlds = pd.read_parquet(out / "worlds.parquet")
    fitted = ["churn.base", "segments.premium.churn_bias"]
    assert list(worlds.columns) == ["world", *fitted, "loss_aversion"]
    draws, _ = posterior_worlds(cal, 12, root_seed=5)  # keyed by design.seed
    assert worlds[fitted].to_dict(orient="records") == draws
    # systematic resampling: a posterior row of weight w is the draw of floor or ceil of
    # 12 w worlds
    posterior = pd.read_parquet(cal / "posterior.parquet")
    copies = worlds.merge(posterior, on=fitted, how="right").groupby("draw")["world"].count()
    share = posterior.set_index("draw")["weight"] * 12
    assert (copies >= np.floor(share)).all() and (copies <= np.ceil(share)).all()
    assert copies.sum() == 12 and (copies > 0).sum() >= 3

    loaded = load_robust(study)
    world, policy = 3, "reactive"
    lines = loaded.world_overrides(world)
    assert lines[:2] == [f"{path}={float(worlds.loc[world, path])!r}" for path in fitted]
    assert lines[2].startswith("psychology.loss_aversion=")
    mine, alone = world_runs_from_cxsim_run(out, world, policy, lines, 3, tmp_path)
    pd.testing.assert_frame_equal(mine, alone[mine.columns], check_exact=True)


def test_robust_says_the_worlds_are_posterior_draws_and_discover_reads_the_fitted_paths(
        posterior_run):
    _, _, out, stdout = posterior_run
    assert ("each world is a draw of the posterior of cal (what the observed data leave "
            "uncertain) with the uncertainties sampled on top") in stdout
    assert ("worlds (spread from the data's uncertainty (posterior draws) and the "
            "assumptions), ±seeds") in stdout
    median = float(pd.read_parquet(out / "outcomes.parquet").query("policy == 'reactive'")
                   ["cohort_retention"].median())
    done = subprocess.run([CXSIM, "discover", str(out), "--where",
                           f"reactive.cohort_retention < {median}", "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert set(answer["scores"]) == {"churn.base", "segments.premium.churn_bias",
                                     "loss_aversion"}


def test_posterior_option_is_the_design_key_and_resume_knows_a_posterior_by_its_table(
        posterior_run, tmp_path):
    study, cal, out, _ = posterior_run
    moved = tmp_path / "moved"
    shutil.copytree(cal, moved)
    plain = write(tmp_path, POSTERIOR.replace('posterior = "cal"\n', ""))
    done = subprocess.run([CXSIM, "robust", str(plain), "--posterior", str(moved), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in ("worlds.parquet", "outcomes.parquet"):
        assert (tmp_path / "out" / name).read_bytes() == (out / name).read_bytes()
    # the same posterior elsewhere is the same study; another posterior is not
    assert load_robust(plain, posterior=str(moved)).fingerprint() == \
        load_robust(study).fingerprint()
    other = tiny_calibration(tmp_path / "other", TINY_BUDGET.replace("trials = 4", "trials = 5"))
    with pytest.raises(ResultsError, match="different robust study"):
        run_robust(load_robust(plain, posterior=str(other)), out, resume=True)
    ok = subprocess.run([CXSIM, "validate", str(study)], capture_output=True, text=True)
    assert ok.returncode == 0 and "worlds drawn from the posterior of cal" in ok.stdout


def _damaged_copy(folder: Path, cal: Path) -> str:
    copy = folder / "damaged"
    shutil.copytree(cal, copy)
    table = copy / "posterior.parquet"
    table.write_bytes(table.read_bytes()[:-40] + bytes(40))
    return str(copy)


def _without_premium(folder: Path) -> Path:
    """The baseline with its premium segment renamed: no segments.premium to set."""
    path = folder / "no-premium.toml"
    path.write_text(BASELINE.read_text().replace('name = "premium"', 'name = "vip"'))
    return path


def _posterior_at(text: str, folder: str | Path) -> str:
    return text.replace('posterior = "cal"', f"posterior = {json.dumps(str(folder))}")


@pytest.mark.parametrize("edit, fragment", [
    (lambda text, folder, cal: _posterior_at(text, folder / "nowhere"),
     "nowhere: no such results folder"),
    (lambda text, folder, cal: _posterior_at(text, _damaged_copy(folder, cal)),
     "damaged/posterior.parquet: not a readable Parquet file"),
    (lambda text, folder, cal: _posterior_at(text, cal).replace(
        str(BASELINE), str(_without_premium(folder))),
     "design.posterior (segments.premium.churn_bias): --set segments.premium.churn_bias="),
    (lambda text, folder, cal: _posterior_at(text, cal).replace(
        'name = "loss_aversion"\npath = "psychology.loss_aversion"',
        'name = "churn"\npath = "churn.base"'),
     "uncertainties.0 (churn): churn.base is a fitted path of design.posterior"),
    (lambda text, folder, cal: text.replace('posterior = "cal"\n', "").replace(
        '[[uncertainties]]\nname = "loss_aversion"\npath = "psychology.loss_aversion"\n'
        "choices = [1.5, 2.0, 3.0]\n", ""),
     "uncertainties: give [[uncertainties]], or design.posterior"),
])
def test_a_bad_posterior_is_one_line_naming_file_and_field_exit_2(posterior_run, tmp_path,
                                                                   edit, fragment):
    """A missing or damaged calibration folder, a fitted path the base scenario has not, an
    uncertainty on a fitted path, no worlds at all: told before anything is written."""
    _, cal, _, _ = posterior_run
    study = write(tmp_path, POSTERIOR)
    study.write_text(edit(study.read_text(), tmp_path, cal))
    with pytest.raises(ScenarioError) as err:
        load_robust(study)
    [line] = err.value.problems
    assert line.startswith(f"{study}: ") and fragment in line, line
    done = subprocess.run([CXSIM, "robust", str(study), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == line
    assert not (tmp_path / "out").exists()
