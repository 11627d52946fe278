"""The ``cxsim`` command, run as a user runs it (a subprocess): bad input is one clear line.

Every bad-input case is run for ``validate`` (a subprocess each, started together so the suite
pays the interpreter start-up once per core) and for ``run`` (in-process through click's
CliRunner; a few also as subprocesses).
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner

from simulation import load_results
from simulation.cli import main

from .conftest import BASELINE, CXSIM, ROOT

TEXT = BASELINE.read_text(encoding="utf-8")


def edit(old: str, new: str) -> str:
    assert TEXT.count(old) == 1, old
    return TEXT.replace(old, new)


# name: (file text or None for a missing file, extra arguments, fragments the line must hold)
BAD_INPUT = {
    "toml_syntax": (edit("horizon = 156", "horizon = = 156"), [],
                    ["invalid TOML", "line 5", "column"]),
    "unknown_key": (edit("horizon = 156", "horizon = 156\nhorizn = 3"), [],
                    ["horizn", "unknown key"]),
    "out_of_range": (edit("quality = 0.62", "quality = 1.62"), [],
                     ["touchpoints.help_centre.quality", "less than or equal to 1", "1.62"]),
    "transition_row_sum": (edit("onboarding_call = { app_use = 1.0 }",
                                "onboarding_call = { app_use = 0.9 }"), [],
                           ["journey.transitions.onboarding_call", "must sum to 1", "0.9"]),
    "unknown_touchpoint": (edit("help_centre = { app_use = 1.0 }",
                                "help_centre = { app_usee = 1.0 }"), [],
                           ["journey.transitions.help_centre.app_usee", "unknown touchpoint",
                            "known: signup, onboarding_call"]),
    "missing_file": (None, [], ["no such file"]),
    "segment_shares": (edit("share = 0.15", "share = 0.25"), [],
                       ["segments", "shares must sum to 1", "1.1"]),
    "set_unknown_field": (TEXT, ["--set", "desk.base_capacityy=5"],
                          ["desk.base_capacityy", "unknown key"]),
    "set_out_of_range": (TEXT, ["--set", "desk.fcr=1.5"],
                         ["desk.fcr", "less than or equal to 1", "1.5"]),
    "nan_in_file": (edit("quality = 0.62", "quality = nan"), [],
                    ["touchpoints.help_centre.quality", "finite number", "nan"]),
    "inf_in_file": (edit("budget = 2000.0     #", "budget = inf     #"), [],
                    ["strategy.budget", "finite number", "inf"]),
    "set_nan": (TEXT, ["--set", "churn.base=nan"], ["churn.base", "finite number"]),
    "set_inf": (TEXT, ["--set", "touchpoints.billing.variability=inf"],
                ["touchpoints.billing.variability", "finite number"]),
    "set_far_out_of_range": (TEXT, ["--set", "desk.base_capacity=100000001"],
                             ["desk.base_capacity", "less than or equal to 100000000"]),
    "set_float_shown_short": (TEXT, ["--set", "desk.fcr*=2.4"],
                              ["desk.fcr", "less than or equal to 1", "(got 1.8)"]),
    "long_value": (edit('description = "', 'description = "' + "x" * 1_000_000), [],
                   ["description", "at most 1000 characters", "(1,000,0"]),
    "deeply_nested": ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", [],
                      ["invalid TOML", "nested too deeply"]),
}


def expected_start(case: str, path: Path) -> str:
    """A problem in a value --set gave is the override's; anything else is the file's."""
    extra = BAD_INPUT[case][1]
    return f"--set {extra[1]}: " if extra[:1] == ["--set"] else f"{path}: "

#: a --set path into a list that has no such item: the line names the override, not the file
BAD_SET_ITEM = ["--set", "touchpoints.nope.quality=1"]
BAD_SET_FRAGMENTS = ["--set touchpoints.nope.quality=1", "no item 'nope'",
                     "allowed: an index 0 to 7", "signup"]


def cxsim(*args, cwd=None):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([CXSIM, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=600)


#: unknown options, an option of another command, a missing argument
BAD_COMMAND_LINES = [["run", "baseline", "--bogus"], ["validate", "baseline", "--seeds", "3"],
                     ["--no-such-flag"], ["run"]]
#: the bad-input cases also run as a subprocess for ``run`` (all run in-process too)
RUN_IN_SUBPROCESS = ("toml_syntax", "missing_file", "set_unknown_field")


def bad_input_jobs(folder: Path) -> dict:
    """(command, case) -> (scenario path or None, cxsim arguments)."""
    jobs = {}
    for name, (text, extra, _) in BAD_INPUT.items():
        path = folder / f"{name}.toml"
        if text is not None:
            path.write_text(text, encoding="utf-8")
        jobs[("validate", name)] = (path, ["validate", path, *extra])
        jobs[("run", name)] = (path, ["run", path, *extra, "--seeds", "2",
                                      "--out", folder / f"out-{name}"])
    jobs[("validate", "set_list_item")] = (None, ["validate", BASELINE, *BAD_SET_ITEM])
    jobs[("run", "set_list_item")] = (None, ["run", BASELINE, *BAD_SET_ITEM, "--seeds", "2",
                                             "--out", folder / "out-set_list_item"])
    return jobs


class Outcome(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def in_process(args) -> Outcome:
    """The same command through click's CliRunner (exit code, stdout and stderr apart)."""
    result = CliRunner().invoke(main, [str(a) for a in args], prog_name="cxsim")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    """Every bad-input case: ``validate`` as a subprocess (started concurrently), ``run``
    in-process, and ``run`` as a subprocess for a few cases (keys ``("run-process", case)``)."""
    folder = tmp_path_factory.mktemp("bad")
    jobs = bad_input_jobs(folder)
    processes = {key: args for key, (_, args) in jobs.items() if key[0] == "validate"}
    processes |= {("run-process", case): jobs[("run", case)][1] for case in RUN_IN_SUBPROCESS}
    processes |= {("command-line", i): args for i, args in enumerate(BAD_COMMAND_LINES)}
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {key: pool.submit(cxsim, *args) for key, args in processes.items()}
        results = {key: future.result() for key, future in futures.items()}
    for key, (_, args) in jobs.items():
        if key[0] == "run":
            results[key] = in_process(args)
    paths = {case: path for (_, case), (path, _) in jobs.items()}
    return folder, paths, results


def assert_one_clean_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("command, case",
                         [(command, case) for case in BAD_INPUT for command in ("validate", "run")]
                         + [("run-process", case) for case in RUN_IN_SUBPROCESS])
def test_bad_scenario_is_one_line_naming_file_field_and_what_is_allowed(bad_runs, command,
                                                                         case):
    folder, paths, results = bad_runs
    line = assert_one_clean_line(results[(command, case)])
    assert line.startswith(expected_start(case, paths[case])), line
    assert len(line) < 400, line  # long values are cut short
    for fragment in BAD_INPUT[case][2]:
        assert fragment in line, (fragment, line)
    assert not (folder / f"out-{case}").exists()  # nothing written


@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_set_path_is_one_line_saying_what_is_allowed(bad_runs, command):
    folder, _, results = bad_runs
    line = assert_one_clean_line(results[(command, "set_list_item")])
    for fragment in BAD_SET_FRAGMENTS:
        assert fragment in line, (fragment, line)
    assert not (folder / "out-set_list_item").exists()


@pytest.mark.parametrize("index", range(len(BAD_COMMAND_LINES)),
                         ids=[" ".join(args) for args in BAD_COMMAND_LINES])
def test_bad_command_line_is_one_line(bad_runs, index):
    line = assert_one_clean_line(bad_runs[2][("command-line", index)])
    assert line.startswith("cxsim") and "error" in line


def test_validate_baseline_says_ok():
    proc = cxsim("validate", "scenarios/baseline.toml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OK") and "baseline.toml" in proc.stdout
    assert proc.stderr == ""


def test_run_refuses_a_non_empty_out_folder_and_leaves_it_alone(tmp_path):
    out = tmp_path / "existing"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    (out / "steps.parquet").write_bytes(b"not really parquet")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    proc = cxsim("run", "baseline", "--set", "cohort=50", "--set", "horizon=10", "--seeds", "2",
                 "--out", out)
    line = assert_one_clean_line(proc)
    assert "--out" in line and str(out) in line and "not empty" in line
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before


def test_run_writes_a_results_folder_that_loads_back(tmp_path):
    out = tmp_path / "fresh"
    proc = cxsim("run", "baseline", "--set", "cohort=100", "--steps", "20", "--seeds", "3",
                 "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["seeds"] == 3 and summary["results"] == str(out)
    res = load_results(out)
    assert sorted(res.steps["seed"].unique()) == [0, 1, 2]
    assert res.steps["step"].max() == 20 and len(res.steps) == 3 * 21
    assert res.manifest["engine"] == "batch"
    assert {"manifest.json", "steps.parquet", "runs.parquet", "retention.png"} <= \
        {p.name for p in Path(out).iterdir()}
    means = summary["variants"]["balanced"]["cohort_retention"]
    assert means["mean"] == pytest.approx(res.summary()["cohort_retention"].mean())


@pytest.mark.parametrize("args, fragment", [
    (["--seeds", "1e23"], "--seeds"),
    (["--seeds", str(10**23)], "--seeds"),
    (["--seed", str(2**200)], "--seed"),
    (["--steps", "5201"], "--steps"),
    (["--strategy", "sideways"], "--strategy sideways: strategy.name: unknown strategy"),
])
def test_bad_run_options_are_one_line(tmp_path, args, fragment):
    out = tmp_path / "out"
    line = assert_one_clean_line(in_process(["run", "baseline", *args, "--out", out]))
    assert fragment in line
    assert not out.exists()


def test_out_below_a_regular_file_is_one_line_and_writes_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("precious")
    for out in (blocker, blocker / "below", blocker / "below" / "deeper"):
        line = assert_one_clean_line(in_process(["run", "baseline", "--set", "cohort=50",
                                                 "--steps", "5", "--seeds", "2", "--out", out]))
        assert "--out" in line and str(blocker) in line
        assert out == blocker or f"{blocker} is not a folder" in line
    assert blocker.read_text() == "precious"


def test_scale_company_is_applied_recorded_and_said(tmp_path):
    plain = in_process(["run", "baseline", "--set", "cohort=300", "--steps", "5", "--seeds", "2",
                        "--out", tmp_path / "plain"])
    assert plain.returncode == 0, plain.stderr
    assert "64% of the starting weekly revenue" in plain.stderr  # the warning
    assert "company as written (desk 90 contacts a week, budget 2,000 a week" in plain.stdout
    scaled = in_process(["run", "baseline", "--set", "cohort=300", "--scale-company",
                         "--steps", "5", "--seeds", "2", "--out", tmp_path / "scaled"])
    assert scaled.returncode == 0 and scaled.stderr == "", scaled.stderr
    assert ("company scaled with the cohort from 2,000 to 300 customers (desk 14 contacts a "
            "week, budget 300 a week") in scaled.stdout
    recorded = load_results(tmp_path / "scaled").manifest["scenarios"][0]
    assert recorded["company_sized_for"] == 2000 and recorded["desk"]["base_capacity"] == 14
    assert "company_sized_for" not in load_results(tmp_path / "plain").manifest["scenarios"][0]
