"""Reports, summaries and exports say what the results hold, in the words and numbers the
terminal uses; intervals stay in range; progress moves without changing results."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pytest

from simulation import load_scenario, simulate
from simulation.answers import labelled_runs
from simulation.numbers import interval, narrowing_words, number
from simulation.report import write_report
from simulation.results import OUTPUT_RANGE, compare_runs, load_results, mean_interval
from simulation.scenario import ScenarioError
from simulation.sensitivity import _doubt
from simulation.study import Design, Expectation, Parameter, Study, load_study
from simulation.sweep import run_study

ROOT = Path(__file__).resolve().parent.parent
CXSIM = str(Path(sys.executable).parent / "cxsim")
BASELINE = ROOT / "scenarios" / "baseline.toml"

#: a study whose description claims more seeds than a quick sweep runs
STUDY = f"""
description = "Frontier at two budgets, 1,000 seeds"
scenario = "{BASELINE}"
overrides = ["cohort=120", "horizon=30"]
seeds = 200
root_seed = 5
reference = "none"
outputs = ["cohort_retention", "nps", "contacts", "profit"]
[[parameters]]
path = "strategy.budget"
values = [500.0, 1000.0]
[[parameters]]
path = "strategy.mix"
values = [0.0, 1.0]
"""


def cxsim(*args):
    return subprocess.run([CXSIM, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, COLUMNS="200"), timeout=600)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The study swept with --seeds 10: (folder, sweep's stdout)."""
    folder = tmp_path_factory.mktemp("study")
    (folder / "study.toml").write_text(STUDY)
    proc = cxsim("sweep", folder / "study.toml", "--seeds", 10, "--out", folder / "out")
    assert proc.returncode == 0, proc.stderr
    return folder / "out", proc.stdout


@pytest.fixture(scope="module")
def report_text(swept):
    proc = cxsim("report", swept[0])
    assert proc.returncode == 0, proc.stderr
    text = (swept[0] / "report.html").read_text()
    return html.unescape(re.sub(r'src="data:image/png;base64,[^"]*"', "", text))


# ------------------------------------------------------------------------------ reports

def test_report_states_the_seeds_that_were_run_not_the_description(report_text):
    assert "10 seeds" in report_text
    assert "1,000 seeds" not in report_text and "200 seeds" not in report_text
    assert "5 points (the design's 4 and the reference strategy none) x 10 seeds = 50 runs" \
        in report_text


def test_report_lists_the_values_run_and_leaves_swept_parameters_out_of_the_key_ones(
        report_text):
    key = report_text.split("Key parameters of the base scenario")[1].split("</table>")[0]
    assert "strategy.budget" not in key  # swept: its base value (2,000) was never run
    assert "<td>30</td>" in key and "30.00" not in key  # the horizon, as an integer
    varied = report_text.split("Varied parameters (the values run)")[1].split("</table>")[0]
    assert "<td>500, 1,000</td>" in varied and "<td>0, 1</td>" in varied


def test_report_prints_money_as_the_terminal_does(swept, report_text):
    res = load_results(swept[0])
    profit = res.runs[res.runs["point"] == 0]["profit_total"].to_numpy()
    m, lo, hi = mean_interval(profit)
    assert interval(m, lo, hi) in report_text
    assert re.search(r"\d,\d{3},?\d* \[", report_text)
    assert "e+0" not in report_text


def test_study_report_has_paired_differences_to_the_reference(swept, report_text):
    res = load_results(swept[0])
    runs, _, reference = labelled_runs(res)
    assert reference == "none (reference)"
    table = compare_runs(runs, ["cohort_retention"], reference)
    row = table[table["variant"] == "strategy.budget=1000, strategy.mix=1"].iloc[0]
    assert f"Paired differences to {reference}" in report_text
    assert interval(row["diff"], row["diff_low"], row["diff_high"], signed=True) in report_text
    assert narrowing_words(row["narrowing"]) in report_text


def test_report_says_what_the_strategies_are_the_answer_and_what_it_rests_on(report_text):
    for heading in ("What was run", "The strategies", "The answer", "What it rests on"):
        assert f"<h2>{heading}</h2>" in report_text
    assert "capacity 40%" in report_text and "reliability 30%" in report_text
    assert "spends the budget of its point (strategy.budget is varied)" in report_text
    assert "Highest retention of the customers active at week 0:" in report_text
    assert "measure only the randomness of the simulated customers" in report_text
    # spending less is more profitable over 30 weeks: every point earns less than none
    profit = report_text.split("Highest total profit: ")[1].split("</li>")[0]
    assert profit.startswith("none (reference),")
    assert profit.endswith("difference below zero: strategy.budget=500, strategy.mix=0; "
                           "strategy.budget=500, strategy.mix=1; strategy.budget=1000, "
                           "strategy.mix=0; strategy.budget=1000, strategy.mix=1.")
    assert "say nothing about whether the model's assumptions" in report_text


def test_compare_report_and_few_seed_warning(tmp_path):
    sc = load_scenario(BASELINE, ["cohort=100", "horizon=12"])
    res = simulate([sc.with_strategy(s) for s in ("none", "proactive")], seeds=3)
    res.save(tmp_path)
    text = write_report(res, tmp_path / "report.md").read_text()
    assert "3 seeds each" in text and "With only 3 seeds the intervals are rough" in text
    assert "| horizon               | 12      |" in text
    assert "difference to none [95% CI, paired]" in text


def test_sweep_ends_with_a_summary_of_the_results(swept):
    folder, stdout = swept
    res = load_results(folder)
    assert "5 points x 10 seeds" in stdout
    best = res.runs.groupby("point")["profit_total"].mean().idxmax()
    label = res.point_labels()[best]
    assert f"Highest total profit: {label}," in stdout
    assert stdout.strip().splitlines()[-1].startswith(f"results: {folder}")


# ---------------------------------------------------------------------------- wording

@pytest.mark.parametrize("factor, words", [
    (1.0, "pairing did not narrow the interval"), (1.04, "pairing did not narrow the interval"),
    (2.04, "pairing made the interval 2.0 times narrower"),
    (0.5, "pairing made the interval 2.0 times wider"),
    (np.inf, "the same difference in every seed")])
def test_pairing_words_are_true_for_the_factor(factor, words):
    assert narrowing_words(factor) == words


@pytest.mark.parametrize("value, text", [(156.0, "156"), (3340082.4, "3,340,082"),
                                         (0.72345, "0.723"), (-0.0412, "-0.0412")])
def test_numbers_print_as_people_read_them(value, text):
    assert number(value) == text


def test_compare_never_prints_a_narrowing_of_one_or_less(tmp_path):
    proc = cxsim("compare", "baseline", "--set", "cohort=100", "--steps", 12, "--seeds", 4,
                 "--strategies", "none,reactive,proactive", "--out", tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert "with so few seeds the intervals are rough" in proc.stdout.splitlines()[0]
    factors = [float(f) for f in re.findall(r"([\d.]+) times narrower", proc.stdout)]
    assert all(f > 1.0 for f in factors)
    assert "x1.0" not in proc.stdout and "narrower)" not in proc.stdout.replace(
        "times narrower)", "")


def test_readme_makes_no_pairing_claim_the_commands_do_not_print():
    readme = (ROOT / "README.md").read_text()
    assert "1.5 to 4" not in readme
    assert "docs/studies.md" in readme and "cxsim export" in readme


# -------------------------------------------------------------------------- intervals

def test_few_seed_intervals_stay_within_the_possible_range():
    shares = np.array([0.93, 1.0])
    _, lo, hi = mean_interval(shares)
    assert hi > 1  # the plain t interval leaves the range ...
    m, lo, hi = mean_interval(shares, bounds=OUTPUT_RANGE["cohort_retention"])
    assert 0 < lo < m < hi < 1  # ... the bounded one does not
    counts = np.array([2.0, 40.0])
    m, lo, hi = mean_interval(counts, bounds=OUTPUT_RANGE["contacts"])
    assert 0 < lo < m < hi
    m, lo, hi = mean_interval(np.array([-90.0, 95.0, 99.0]), bounds=OUTPUT_RANGE["nps"])
    assert -100 < lo < m < hi < 100
    assert mean_interval(np.ones(5), bounds=(0.0, 1.0)) == (1.0, 1.0, 1.0)


def test_with_many_seeds_the_bounded_interval_is_the_t_interval():
    values = np.random.default_rng(1).normal(0.6, 0.05, 2000)
    _, t_lo, t_hi = mean_interval(values)
    _, lo, hi = mean_interval(values, bounds=(0.0, 1.0))
    assert lo == pytest.approx(t_lo, abs=1e-4) and hi == pytest.approx(t_hi, abs=1e-4)


def test_sobol_indices_from_too_small_a_sample_are_flagged():
    def sobol(s1, s1c, st, stc):
        return _doubt({"S1": s1, "S1_conf": s1c, "ST": st, "ST_conf": stc}, "sobol")

    assert "S1 > ST" in sobol(0.6, 0.05, 0.3, 0.1)
    assert "above 1" in sobol(1.7, 1.2, 1.3, 0.6)
    assert "CI of ST as wide as ST" in sobol(0.1, 0.02, 0.2, 0.3)
    assert sobol(0.3, 0.05, 0.35, 0.05) == "" and sobol(0.0, 0.0, 0.0, 0.0) == ""
    assert _doubt({"mu_star": 2.0, "mu_star_conf": 2.5}, "morris")
    assert _doubt({"mu_star": 2.0, "mu_star_conf": 0.5}, "morris") == ""


# ------------------------------------------------------------------------ study files

def test_unknown_key_in_a_study_file_names_the_allowed_keys(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(STUDY.replace("root_seed = 5", "root_seed = 5\nsheeds = 3"))
    with pytest.raises(ScenarioError) as info:
        load_study(path)
    line = info.value.problems[0]
    assert f"{path}: sheeds: unknown key in a study file" in line
    assert "allowed: " in line and "seeds" in line and "reference" in line
    assert "scenario schema" not in line
    path.write_text(STUDY + '[design]\nkind = "grid"\nsamplez = 3\n')
    line = pytest.raises(ScenarioError, load_study, path).value.problems[0]
    assert "design.samplez" in line and "allowed in design: kind, samples, seed, levels" in line


def test_a_bad_reference_strategy_is_one_line(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(STUDY.replace('reference = "none"', 'reference = "sideways"'))
    problems = pytest.raises(ScenarioError, load_study, path).value.problems
    assert len(problems) == 1 and f"{path}: reference: 'sideways'" in problems[0]


def test_the_reference_point_is_the_base_with_that_strategy(tmp_path, swept):
    res = load_results(swept[0])
    reference = int(res.reference["point"])
    direct = simulate(load_scenario(BASELINE, ["cohort=120", "horizon=30"]).with_strategy("none"),
                      seeds=10, root_seed=5).summary()
    mine = res.runs[res.runs["point"] == reference].reset_index(drop=True)
    np.testing.assert_array_equal(mine["profit_total"], direct["profit_total"])
    assert len(res.points) == 4 and reference == 4


def test_every_study_key_is_documented():
    text = (ROOT / "docs" / "studies.md").read_text()
    from simulation.studies.robust_file import (Adaptive, Objective, Policy, RobustStudy,
                                                Uncertainty, WorldsDesign)

    for model in (Study, Design, Parameter, Expectation, RobustStudy, WorldsDesign,
                  Uncertainty, Policy, Objective, Adaptive):
        for key in model.model_fields:
            assert f"`{key}`" in text, (model.__name__, key)


# ---------------------------------------------------------------------------- exports

def test_export_writes_spreadsheet_tables_with_parameters_in_every_row(swept, tmp_path):
    folder = swept[0]
    out = tmp_path / "csv"
    proc = cxsim("export", folder, "--format", "csv", "--out", out)
    assert proc.returncode == 0, proc.stderr
    res = load_results(folder)
    runs = pd.read_csv(out / "runs.csv")
    steps = pd.read_csv(out / "steps.csv")
    points = pd.read_csv(out / "points.csv")
    assert len(runs) == len(res.runs) == 5 * 10 and len(steps) == len(res.steps)
    first = runs[runs["point"] == 3].sort_values("seed")
    assert (first["strategy.budget"] == 1000.0).all() and (first["strategy.mix"] == 1.0).all()
    np.testing.assert_allclose(first["profit_total"],
                               res.runs[res.runs["point"] == 3].sort_values("seed")["profit_total"])
    assert first["point_label"].iloc[0] == "strategy.budget=1000, strategy.mix=1"
    assert {"strategy.budget", "strategy.mix", "seed", "step", "contacts"} <= set(steps.columns)
    means = res.runs.groupby("point")["cohort_retention"].mean()
    np.testing.assert_allclose(points.set_index("point")["cohort_retention"], means)
    again = cxsim("export", folder, "--out", out)
    assert again.returncode == 2 and "not empty" in again.stderr


def test_export_of_a_run_folder(tmp_path):
    run = tmp_path / "run"
    assert cxsim("run", "baseline", "--set", "cohort=60", "--steps", 8, "--seeds", 2,
                 "--out", run).returncode == 0
    assert {"retention.png", "outcomes.png"} <= {p.name for p in run.iterdir()}
    assert cxsim("export", run).returncode == 0
    assert len(pd.read_csv(run / "csv" / "runs.csv")) == 2
    assert len(pd.read_csv(run / "csv" / "steps.csv")) == 2 * 9


# --------------------------------------------------------------------------- progress

def test_results_do_not_depend_on_how_runs_are_chunked():
    from simulation.simulate import _run_batch

    sc = load_scenario(BASELINE, ["cohort=80", "horizon=15"])
    variants = [sc.with_strategy("reactive"), sc.with_strategy("proactive")]
    calls = []
    one_by_one, _, _, steps_a = _run_batch(variants, list(range(7)), 3, False, None, calls.append,
                                        seconds_per_chunk=0.0)
    together, _, _, steps_b = _run_batch(variants, list(range(7)), 3, False, None, None,
                                      max_chunk=1000, seconds_per_chunk=1e9)
    np.testing.assert_array_equal(one_by_one, together)
    assert steps_a == steps_b
    # the two strategies share a start, so a chunk holds whole pairs of runs (one seed's),
    # a pair per thread (the last chunk takes what is left), progress after each
    threads = numba.get_num_threads()
    assert calls == [2 * threads] * (7 // threads) + ([2 * (7 % threads)] if 7 % threads else [])


def test_the_run_counter_counts_each_run_once():
    from simulation.executors import RunCounter

    calls = []
    counter = RunCounter(calls.append)
    counter.update(0, 3)
    counter.update(1, 2)
    counter.update(0, 2)  # a late report: nothing new
    counter.update(0, 5)
    counter.update(0, 1)  # a retried chunk starts again from 0: nothing new until it passes 5
    counter.update(0, 6)
    assert calls == [3, 2, 2, 1] and counter.counted == {0: 6, 1: 2}


def _report_three_times(progress=None):
    for _ in range(3):
        progress(1)
    return "done"


def test_dask_workers_report_progress_within_a_task():
    """A task on a worker reports its runs as they finish (as events the client receives),
    not only when it ends: the counter sees the running totals 1, 2, 3 from the worker."""
    import time

    from simulation.executors import DaskExecutor, RunCounter

    class Recording(RunCounter):
        def update(self, chunk, done):
            seen.append((chunk, done))
            super().update(chunk, done)

    seen, calls = [], []
    with DaskExecutor("local:1") as executor:
        counter = Recording(calls.append)
        results = list(executor.imap(_report_three_times, [(7, ())], counter))
        assert results == [(7, "done")]
        deadline = time.monotonic() + 60  # events travel through the scheduler
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert seen == [(7, 1), (7, 2), (7, 3)] and calls == [1, 1, 1]


def test_an_in_process_sweep_reports_progress_within_a_chunk(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(STUDY)
    loaded = load_study(path, seeds=6)
    assert loaded.study.chunk_runs >= len(loaded.points) * 6  # one chunk only
    calls = []
    run_study(loaded, tmp_path / "out", progress=calls.append)
    assert sum(calls) == 30 and len(calls) > 1
