"""Parameter studies: study files, designs, the resumable store, executors, checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from simulation.checks import evaluate
from simulation.results import ResultsError, load_results
from simulation.scenario import ScenarioError
from simulation.store import StudyStore, plan_chunks
from simulation.study import load_study
from simulation.sweep import run_study

ROOT = Path(__file__).resolve().parent.parent
CXSIM = str(Path(sys.executable).parent / "cxsim")
BASELINE = ROOT / "scenarios" / "baseline.toml"


def write_study(folder: Path, body: str, name: str = "study.toml") -> Path:
    path = folder / name
    path.write_text(f'scenario = "{BASELINE}"\noverrides = ["cohort=120", "horizon=30"]\n' + body)
    return path


SMALL = """
seeds = 8
root_seed = 11
chunk_runs = 8
outputs = ["cohort_retention", "profit"]
[[parameters]]
path = "strategy.name"
values = ["none", "reactive", "proactive"]
"""


def test_grid_points_and_labels(tmp_path):
    loaded = load_study(write_study(tmp_path, SMALL))
    assert loaded.labels == ["strategy.name=none", "strategy.name=reactive",
                             "strategy.name=proactive"]
    assert [v.strategy.name for v in (loaded.variant(i) for i in range(3))] == \
        ["none", "reactive", "proactive"]


@pytest.mark.parametrize("kind, expected", [("lhs", 7), ("sobol", 8 * (2 + 2)), ("morris", 3 * 3)])
def test_sampled_designs_stay_in_range(tmp_path, kind, expected):
    body = f"""
seeds = 2
[design]
kind = "{kind}"
samples = {8 if kind == "sobol" else 7 if kind == "lhs" else 3}
[[parameters]]
path = "strategy.mix"
low = 0.2
high = 0.6
[[parameters]]
path = "desk.base_capacity"
low = 40
high = 120
integer = true
"""
    loaded = load_study(write_study(tmp_path, body))
    assert len(loaded.points) == expected
    for p in loaded.points:
        assert 0.2 <= p["strategy.mix"] <= 0.6
        assert isinstance(p["desk.base_capacity"], int) and 40 <= p["desk.base_capacity"] <= 120


@pytest.mark.parametrize("body, fragment", [
    (SMALL.replace("seeds = 8", "seeds = 8\nunknown = 1"), "unknown: unknown key"),
    (SMALL.replace('path = "strategy.name"', 'path = "strategy.nme"'), "strategy.nme"),
    (SMALL.replace('"proactive"]', '"sideways"]'), "strategy.name"),
    (SMALL + '[[expectations]]\nname = "x"\noutput = "happiness"\n', "expectations.0.output"),
])
def test_bad_study_is_one_clear_line(tmp_path, body, fragment):
    path = write_study(tmp_path, body)
    with pytest.raises(ScenarioError) as info:
        load_study(path)
    assert len(info.value.problems) == 1
    assert str(path) in info.value.problems[0] and fragment in info.value.problems[0]
    result = subprocess.run([CXSIM, "sweep", str(path), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_chunks_cover_every_run_once():
    for n_points, n_seeds, size in [(11, 1000, 500), (7, 3, 10), (1, 5, 2), (40, 10, 25)]:
        chunks = plan_chunks(n_points, list(range(n_seeds)), size)
        covered = [(p, s) for c in chunks for p in c.points for s in c.seeds]
        assert sorted(covered) == [(p, s) for p in range(n_points) for s in range(n_seeds)]


def _store_frames(folder):
    _, runs, steps, _ = StudyStore(folder).read()
    return runs, steps


def test_in_process_sweep_matches_direct_simulation(tmp_path):
    from simulation import simulate

    loaded = load_study(write_study(tmp_path, SMALL))
    run_study(loaded, tmp_path / "out")
    runs, _ = _store_frames(tmp_path / "out")
    direct = simulate(loaded.variant(2), seeds=8, root_seed=11).summary()
    mine = runs[runs["point"] == 2].reset_index(drop=True)
    pd.testing.assert_series_equal(mine["cohort_retention"], direct["cohort_retention"],
                                   check_names=False)
    assert list(mine["seed"]) == list(range(8))


def test_local_cluster_gives_identical_results(tmp_path):
    from simulation.executors import DaskExecutor

    loaded = load_study(write_study(tmp_path, SMALL))
    run_study(loaded, tmp_path / "inproc")
    reference = _store_frames(tmp_path / "inproc")
    # one worker here; two through `cxsim sweep --workers 2` in test_commands.py
    calls = []
    run_study(loaded, tmp_path / "local1", executor=DaskExecutor("local:1"),
              progress=calls.append)
    for mine, ref in zip(_store_frames(tmp_path / "local1"), reference):
        pd.testing.assert_frame_equal(mine, ref)
    assert sum(calls) == len(loaded.points) * loaded.study.seeds  # every run counted once


def test_hand_started_scheduler_and_workers_give_identical_results(tmp_path):
    """A scheduler on a port it picks itself (its address read from its scheduler file) and
    two workers started by hand; the sweep starts once both workers have joined."""
    from distributed import Client

    scheduler_file = tmp_path / "scheduler.json"
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    quiet = dict(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(scheduler_file)], **quiet)]
    try:
        with Client(scheduler_file=str(scheduler_file), timeout="120s") as client:
            address = client.scheduler.address
            for _ in range(2):
                procs.append(subprocess.Popen([str(bin_dir / "dask"), "worker", address,
                                               "--nthreads", "1", "--no-dashboard"], **quiet))
            client.wait_for_workers(2, timeout=180)
        study = write_study(tmp_path, SMALL)
        subprocess.run([CXSIM, "sweep", str(study), "--out", str(tmp_path / "inproc")],
                       check=True, capture_output=True)
        result = subprocess.run([CXSIM, "sweep", str(study), "--scheduler", address,
                                 "--out", str(tmp_path / "remote")], capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        manifest = json.loads((tmp_path / "remote" / "manifest.json").read_text())
        assert manifest["executor"] == "dask" and manifest["workers"] == 2
        for mine, ref in zip(_store_frames(tmp_path / "remote"),
                             _store_frames(tmp_path / "inproc")):
            pd.testing.assert_frame_equal(mine, ref)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


# 5 points x 80 seeds in chunks of 4 runs: 100 chunks, long enough that a sweep killed after
# its third chunk cannot have finished even if this process is descheduled for a while.
KILLABLE_SEEDS = 80
KILLABLE = f"""
seeds = {KILLABLE_SEEDS}
root_seed = 5
chunk_runs = 4
outputs = ["cohort_retention"]
[[parameters]]
path = "strategy.mix"
values = [0.0, 0.25, 0.5, 0.75, 1.0]
"""


def _chunk_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "chunks").glob("*.parquet"))}


def _start_sweep(study: Path, out: Path):
    """The sweep as a terminal user runs it: Ctrl-C (SIGINT) at its default, even when this
    suite runs in a background job, whose children inherit SIGINT ignored."""
    return subprocess.Popen([CXSIM, "sweep", str(study), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_chunks(out: Path, count: int, proc, limit: float = 240.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        if StudyStore(out).finished() >= count:  # recorded in the manifest
            return
        if proc.poll() is not None:
            pytest.fail(f"sweep ended early: {proc.stderr.read()}")
        time.sleep(0.05)
    pytest.fail("sweep made no progress")


def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    study = write_study(tmp_path, KILLABLE)
    loaded = load_study(study)
    total = len(plan_chunks(len(loaded.points), list(range(KILLABLE_SEEDS)), 4))
    run_study(loaded, tmp_path / "whole")

    out = tmp_path / "killed"
    proc = _start_sweep(study, out)
    _wait_for_chunks(out, 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _chunk_files(out)
    done_before = len([n for n in before if n.startswith("runs-")])
    assert 3 <= done_before < total
    # whatever is readable is whole: the store reads only finished chunks
    _store_frames(out)

    report = run_study(loaded, out, resume=True)
    assert report["computed"] == total - done_before  # no finished chunk computed twice
    after = _chunk_files(out)
    assert all(after[name] == data for name, data in before.items())  # kept chunks untouched
    assert not list((out / "chunks").glob(".*"))  # no temporary debris
    for mine, ref in zip(_store_frames(out), _store_frames(tmp_path / "whole")):
        pd.testing.assert_frame_equal(mine, ref)


def test_ctrl_c_stops_cleanly_and_keeps_finished_chunks(tmp_path):
    study = write_study(tmp_path, KILLABLE)
    out = tmp_path / "interrupted"
    proc = _start_sweep(study, out)
    _wait_for_chunks(out, 2, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in err and "--resume" in err
    runs, _ = _store_frames(out)
    assert len(runs) >= 2 * 4 and len(runs) % 4 == 0
    resumed = subprocess.run([CXSIM, "sweep", str(study), "--out", str(out), "--resume"],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    runs, _ = _store_frames(out)
    assert len(runs) == 5 * KILLABLE_SEEDS


def test_resume_refuses_a_different_study(tmp_path):
    loaded = load_study(write_study(tmp_path, SMALL))
    run_study(loaded, tmp_path / "out")
    other = load_study(write_study(tmp_path, SMALL.replace("seeds = 8", "seeds = 9"), "b.toml"))
    with pytest.raises(ResultsError, match="different study"):
        run_study(other, tmp_path / "out", resume=True)


@pytest.mark.parametrize("damage", ["garbage", "foreign", "chunk"])
def test_corrupt_or_foreign_folder_is_one_line_and_untouched(tmp_path, damage):
    loaded = load_study(write_study(tmp_path, SMALL))
    folder = tmp_path / "out"
    run_study(loaded, folder)
    if damage == "garbage":
        (folder / "manifest.json").write_text("{not json")
    elif damage == "foreign":
        (folder / "manifest.json").write_text(json.dumps({"kind": "something-else"}))
    else:
        next((folder / "chunks").glob("steps-*.parquet")).write_bytes(b"PAR1 broken")
    snapshot = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(ResultsError):
        load_results(folder)
    result = subprocess.run([CXSIM, "check", str(folder)], capture_output=True, text=True)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert str(folder) in result.stderr
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == snapshot


EXPECT = SMALL.replace('"proactive"]', '"proactive"]\n[[parameters]]\npath = "strategy.budget"\n'
                       'values = [0.0, 2000.0]') + """
[[expectations]]
name = "zero budget: every strategy equals none"
output = "cohort_retention"
where = { "strategy.budget" = 0.0 }
minus = { "strategy.name" = "none" }
op = "=="
[[expectations]]
name = "spending beats not spending"
output = "profit_total"
where = { "strategy.name" = "proactive", "strategy.budget" = 2000.0 }
minus = { "strategy.name" = "none" }
op = ">"
value = 1e12
"""


def test_check_passes_exact_claims_and_fails_false_ones(tmp_path):
    loaded = load_study(write_study(tmp_path, EXPECT))
    run_study(loaded, tmp_path / "out")
    res = load_results(tmp_path / "out")
    verdicts = evaluate(loaded.study.expectations, res.points, res.runs, res.steps)
    exact = [v for v in verdicts if v.expectation.op == "=="]
    assert len(exact) == 2 and all(v.passed for v in exact)
    false_claim = [v for v in verdicts if v.expectation.op == ">"]
    assert len(false_claim) == 1 and not false_claim[0].passed
    result = subprocess.run([CXSIM, "check", str(tmp_path / "out")], capture_output=True,
                            text=True)
    assert result.returncode == 1
    assert "2 passed, 1 failed" in result.stdout


SENSITIVITY = """
seeds = 3
chunk_runs = 400
[design]
kind = "{kind}"
samples = {samples}
[[parameters]]
path = "strategy.mix"
low = 0.0
high = 1.0
[[parameters]]
path = "economics.fixed_cost"
low = 0.0
high = 5000.0
"""


@pytest.mark.parametrize("kind, samples, index", [("sobol", 8, "ST"), ("morris", 4, "mu_star")])
def test_sensitivity_finds_exactly_no_effect_where_there_is_none(tmp_path, kind, samples, index):
    """Fixed cost changes no customer's trajectory, so with common random numbers its
    indices for retention are exactly 0, while the mix matters; for profit both matter."""
    from simulation.sensitivity import analyse

    loaded = load_study(write_study(tmp_path, SENSITIVITY.format(kind=kind, samples=samples)))
    run_study(loaded, tmp_path / "out")
    res = load_results(tmp_path / "out")
    table = analyse(loaded, res.runs, ["cohort_retention", "profit_total"]).set_index(
        ["output", "parameter"])
    assert table.loc[("cohort_retention", "economics.fixed_cost"), index] == 0.0
    assert table.loc[("cohort_retention", "strategy.mix"), index] > 0.0
    assert table.loc[("profit_total", "economics.fixed_cost"), index] > 0.0
    result = subprocess.run([CXSIM, "sensitivity", str(tmp_path / "study.toml"), "--out",
                             str(tmp_path / "cli"), "--outputs", "cohort_retention"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli" / "sensitivity.png").is_file()
    assert (tmp_path / "cli" / "sensitivity.csv").is_file()


# ---------------------------------------------------------- bad values and damaged folders

@pytest.mark.parametrize("values, fragment", [
    ("[0.2, nan]", "parameters.0.values"), ("[inf]", "parameters.0.values"),
    ("[0.2, 1e400]", "parameters.0.values")])
def test_nan_and_inf_in_a_studys_values_are_refused_and_nothing_is_written(tmp_path, values,
                                                                           fragment):
    body = SMALL.replace('path = "strategy.name"\nvalues = ["none", "reactive", "proactive"]',
                         f'path = "strategy.mix"\nvalues = {values}')
    path = write_study(tmp_path, body)
    with pytest.raises(ScenarioError) as info:
        load_study(path)
    assert any(fragment in p and "finite number" in p for p in info.value.problems), \
        info.value.problems
    result = subprocess.run([CXSIM, "sweep", str(path), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def _cli(*args):
    """A cxsim command in this process (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from simulation.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args], prog_name="cxsim")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def finished_study(tmp_path):
    loaded = load_study(write_study(tmp_path, SMALL))
    run_study(loaded, tmp_path / "out")
    return loaded, tmp_path / "out"


def _refused_by_every_reader(folder: Path, fragment: str) -> None:
    snapshot = _snapshot(folder)
    with pytest.raises(ResultsError, match=fragment):
        load_results(folder)
    for command in ("check", "plot", "report"):
        code, out, err = _cli(command, folder)
        assert code == 2 and out == "", (command, out, err)
        assert len(err.splitlines()) == 1 and fragment in err, (command, err)
    assert _snapshot(folder) == snapshot  # nothing changed


def test_a_chunk_of_the_right_name_but_another_schema_is_refused_naming_it(finished_study):
    loaded, folder = finished_study
    chunk = folder / "chunks" / "runs-00001.parquet"
    pd.DataFrame({"point": [1], "seed": [0], "cohort_retention": [0.5]}).to_parquet(chunk)
    _refused_by_every_reader(folder, str(chunk))


def test_a_chunk_from_another_study_of_the_same_shape_is_refused(tmp_path, finished_study):
    loaded, folder = finished_study
    other = load_study(write_study(tmp_path, SMALL.replace("root_seed = 11", "root_seed = 12"),
                                   "other.toml"))
    run_study(other, tmp_path / "other")
    chunk = folder / "chunks" / "steps-00002.parquet"
    chunk.write_bytes((tmp_path / "other" / "chunks" / "steps-00002.parquet").read_bytes())
    _refused_by_every_reader(folder, f"{chunk}: content differs")


def test_a_manifest_from_another_study_is_refused(tmp_path, finished_study):
    loaded, folder = finished_study
    other = load_study(write_study(tmp_path, SMALL.replace("root_seed = 11", "root_seed = 12"),
                                   "other.toml"))
    run_study(other, tmp_path / "other")
    (folder / "manifest.json").write_bytes((tmp_path / "other" / "manifest.json").read_bytes())
    _refused_by_every_reader(folder, "content differs")
    with pytest.raises(ResultsError, match="different study"):
        run_study(loaded, folder, resume=True)
    # a manifest of the wrong kind, or edited so that its study no longer matches
    (folder / "manifest.json").write_bytes((tmp_path / "other" / "manifest.json").read_bytes())
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["study"]["seeds"] = 9
    (folder / "manifest.json").write_text(json.dumps(manifest))
    _refused_by_every_reader(folder, "fingerprint")


def test_resume_computes_a_damaged_chunk_again(finished_study):
    loaded, folder = finished_study
    before = load_results(folder)
    chunk = folder / "chunks" / "runs-00001.parquet"
    pd.DataFrame({"point": [1], "seed": [0]}).to_parquet(chunk)
    report = run_study(loaded, folder, resume=True)
    assert report["computed"] == 1 and report["skipped"] == report["chunks"] - 1
    assert len(report["damaged"]) == 1 and str(chunk) in report["damaged"][0]
    after = load_results(folder)
    pd.testing.assert_frame_equal(after.runs, before.runs)
    pd.testing.assert_frame_equal(after.steps, before.steps)


def test_files_follow_the_umask(tmp_path):
    from simulation import load_scenario, simulate

    small = load_scenario(BASELINE, ["cohort=50", "horizon=5"])
    for umask, mode in ((0o022, 0o644), (0o077, 0o600)):
        previous = os.umask(umask)
        try:
            simulate(small, seeds=2).save(tmp_path / f"run-{umask:o}")
            run_study(load_study(write_study(tmp_path, SMALL)), tmp_path / f"study-{umask:o}")
        finally:
            os.umask(previous)
        for folder in (tmp_path / f"run-{umask:o}", tmp_path / f"study-{umask:o}"):
            files = [p for p in folder.rglob("*") if p.is_file()]
            assert len(files) >= 3
            assert {p.stat().st_mode & 0o777 for p in files} == {mode}, folder


def test_scale_company_scales_the_base_and_every_point_that_varies_the_cohort(tmp_path):
    """With ``scale_company`` each point meets the company sized for its customers, exactly
    as ``with_company_scaled`` builds it; without it the amounts stay as written."""
    from simulation.scenario import load_scenario, with_company_scaled

    body = """
seeds = 2
[[parameters]]
path = "cohort"
values = [60, 240]
[[parameters]]
path = "desk.fcr"
values = [0.5]
"""
    file_base = load_scenario(BASELINE)
    scaled = load_study(write_study(tmp_path, "scale_company = true\n" + body, "s.toml"))
    plain = load_study(write_study(tmp_path, body, "p.toml"))
    assert scaled.base == with_company_scaled(file_base, 120).model_copy(
        update={"horizon": 30})
    assert plain.base.strategy.budget == file_base.strategy.budget
    for i, cohort in enumerate((60, 240)):
        expected = load_scenario(BASELINE, ["horizon=30"], scale_company=True)
        expected = with_company_scaled(with_company_scaled(expected, 120), cohort)
        variant = scaled.variant(i)
        assert variant.strategy.budget == expected.strategy.budget \
            == file_base.strategy.budget * cohort / file_base.cohort
        assert variant.desk.base_capacity == expected.desk.base_capacity
        assert variant.desk.fcr == 0.5  # the point's own value applies on top
        assert plain.variant(i).strategy.budget == file_base.strategy.budget
    assert scaled.fingerprint() != plain.fingerprint()
