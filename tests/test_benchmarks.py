"""The benchmark script's configuration handling and target summary, and the scaled
scenarios it measures (the timings themselves are not tests: see benchmarks/)."""

from __future__ import annotations

import importlib.util
import platform
import subprocess
import sys

import numpy as np
import pytest

from simulation import rules
from simulation.scenario import with_company_scaled

from .conftest import ROOT

BENCH = ROOT / "benchmarks" / "bench.py"


def bench_module():
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("text, message", [
    (None, "no such file or directory"),
    ("x =", "not valid TOML"),
    ("[full]\nscenario = 'baseline'\n", "[targets] needs rate, mesa_ratio, memory_mb"),
])
def test_a_bad_configuration_is_one_line_and_exit_2(tmp_path, text, message):
    config = tmp_path / "config.toml"
    if text is not None:
        config.write_text(text)
    done = subprocess.run([sys.executable, str(BENCH), "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr and str(config) in done.stderr
    assert done.stdout == ""


def test_the_summary_says_which_targets_are_met():
    report = {
        "batch_all_threads": {"rate": 56e6}, "mesa": {"rate": 0.2e6},
        "memory": {"rss_peak_mib": 300.0, "seeds": 1000},
        "cli_run": {"second_seconds": 3.2},
        "scale_customers": [{"rate": 30e6}, {"rate": 60e6}],
        "scale_weeks": [{"rate": 50e6}], "scale_seeds": [{"rate": 50e6}],
    }
    goals = {"rate": 50e6, "mesa_ratio": 300, "memory_mb": 1000, "cli_run_seconds": 3}
    lines = bench_module().targets(report, goals)
    verdicts = [line.split()[0] for line in lines[1:5]]
    assert verdicts == ["met", "MISSED", "met", "MISSED"]  # 280x Mesa; 3.2 s
    assert "56.0 M/s" in lines[1] and "280x" in lines[2] and "315 MB" in lines[3]
    assert "0.50" in lines[5]


def test_scaling_the_cohort_scales_the_company_with_it(baseline):
    big = with_company_scaled(baseline, 20_000)
    assert big.cohort == 20_000 and big.company_sized_for == baseline.cohort
    assert big.desk.base_capacity == 10 * baseline.desk.base_capacity
    assert big.strategy.budget == pytest.approx(10 * baseline.strategy.budget)
    assert big.acquisition.base_rate == pytest.approx(10 * baseline.acquisition.base_rate)
    assert big.levers.reliability.scale == pytest.approx(10 * baseline.levers.reliability.scale)
    assert big.levers.capacity == baseline.levers.capacity  # a slot costs the same
    # everything per customer is untouched
    assert big.touchpoints == baseline.touchpoints and big.churn == baseline.churn


def test_the_robust_benchmark_refuses_a_bad_study_in_one_line(tmp_path):
    study = tmp_path / "robust.toml"
    study.write_text('scenario = "baseline"\n[[policies]]\nname = "a b"\nstrategy = "none"\n')
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "robust.py"),
                           "--study", str(study)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and str(study) in done.stderr


PASSES = ROOT / "benchmarks" / "passes.py"
needs_time_stamp_counter = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="the passes are timed by the x86-64 time-stamp counter")


@needs_time_stamp_counter
def test_the_pass_profile_times_every_pass_of_the_engines_week():
    """It drives the engine's own functions, so it fails as soon as they change shape."""
    done = subprocess.run([sys.executable, str(PASSES), "--week", "3", "--reps", "3",
                           "--repeats", "1"], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "week 4 from the state after week 3" in lines[0]
    passes = {line.split(":")[0].strip(): float(line.split(":")[1].split()[0])
              for line in lines[1:]}
    assert list(passes) == ["weekly_draws", "visit", "appraise", "open_issues", "serve_desk",
                            "decide", "summarize_week", "the week"]
    assert all(ns > 0 for ns in passes.values())


@needs_time_stamp_counter
def test_the_pass_profile_times_the_engines_own_week(baseline):
    """The passes it times, one after another, leave the state the engine's week does
    (``live_week``, the desk, the decisions): a pass the engine gains or loses fails this."""
    spec = importlib.util.spec_from_file_location("passes", PASSES)
    passes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(passes)
    args, _ = passes.week_ahead(baseline, 20)
    (fs0, ist0, ids0, company0), timed, active, step, key, *compiled = args
    tp, cum_transitions, move_guide, schedule, seg, par = compiled
    fs, ist, ids, company = fs0.copy(), ist0.copy(), ids0.copy(), company0.copy()
    queue, work, tally = timed[3].copy(), timed[4].copy(), np.zeros_like(timed[6])
    rules.live_week(ids, active, fs, ist, step, key, tp, cum_transitions, move_guide,
                    schedule, seg, par, company, tally, work, None, None)
    rules.serve_desk(ids, active, fs, ist, step, key, seg, par, company, tally, queue, None,
                     None)
    stay = rules.decide(ids, active, fs, ist, step, key, tp, seg, par, tally, queue, None,
                        None, None)
    passes._timed_week(1, *args)  # leaves the timed copy in the state after the week
    assert stay < active  # somebody left: the decisions were taken
    np.testing.assert_array_equal(timed[0], fs)
    np.testing.assert_array_equal(timed[1], ist)
    np.testing.assert_array_equal(timed[2][:stay], ids[:stay])
    np.testing.assert_array_equal(timed[5], company)


@needs_time_stamp_counter
def test_the_pass_profile_refuses_a_week_past_the_horizon_in_one_line():
    done = subprocess.run([sys.executable, str(PASSES), "--week", "156"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "--week: must be in 0 .. 155 (the horizon is 156 weeks; got 156)\n"


def test_the_calibration_benchmark_refuses_an_option_out_of_range_in_one_line():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "calibrate.py"),
                           "--draws", "4"], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("calibrate.py: --draws: Input should be greater than or equal to "
                           "10 (got 4)\n")
