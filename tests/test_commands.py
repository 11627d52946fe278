"""Every ``cxsim`` command does its job (test_cli.py covers bad input), on small runs:
``scenarios``, ``compare`` and its narrowing factor, ``run --engine mesa``, ``plot``,
``report``, ``sweep --workers``, ``bench``, ``benchmarks/bench.py --quick``, and the commands
of ``make demo`` writing every file the README promises."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from simulation import layout as L
from simulation import load_results
from simulation.cli import main
from simulation.numbers import narrowing_words
from simulation.scenario import bundled_scenarios

from .conftest import CXSIM, FLOAT_COLUMNS, ROOT, SCENARIOS
from .test_study import SMALL, _store_frames, write_study

SMALL_RUN = ["--set", "cohort=150", "--steps", "30"]


def cli(*args) -> str:
    """Run ``cxsim args`` in-process; returns stdout, fails on a non-zero exit."""
    result = CliRunner().invoke(main, [str(a) for a in args], prog_name="cxsim")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.stdout


def process(*args, timeout=600) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """``cxsim compare`` of three strategies on 8 seeds: (printed table, results folder)."""
    out = tmp_path_factory.mktemp("compare") / "cmp"
    text = cli("compare", "baseline", *SMALL_RUN, "--strategies", "none,reactive,proactive",
               "--seeds", "8", "--out", out)
    return text, out


def test_scenarios_lists_every_bundled_file_with_its_kind_and_description():
    lines = cli("scenarios").splitlines()
    files = sorted(p.stem for p in SCENARIOS.glob("*.toml"))
    assert [line.split()[0] for line in lines] == files
    for line, (name, kind, description) in zip(lines, bundled_scenarios()):
        assert line.split()[:2] == [name, kind] and line.rstrip().endswith(description)
    kinds = dict(line.split()[:2] for line in lines)
    assert kinds["baseline"] == "scenario" and kinds["headline"] == "study"


def test_compare_prints_each_difference_and_the_narrowing_pairing_gives(compared):
    """The printed factor is the unpaired (Welch) half-width over the paired one, computed
    here from the saved runs with scipy."""
    text, out = compared
    runs = load_results(out).summary().set_index(["variant", "seed"])
    names = {"retention": "cohort_retention", "profit (total)": "profit_total",
             "contacts/week": "contacts", "CLV/customer": "clv"}
    variant, checked = None, 0
    for line in text.splitlines():
        if line.strip() in ("none", "reactive", "proactive"):
            variant = line.strip()
        found = re.match(r"\s+(.+?)\s{2,}.*vs none: .*\((pairing .*)\)$", line)
        if not found:
            continue
        output = names.get(found.group(1), found.group(1))
        mine, ref = runs.loc[variant, output], runs.loc["none", output]
        diff = (mine - ref).to_numpy()
        paired_half = stats.t.ppf(0.975, len(diff) - 1) * stats.sem(diff)
        welch = stats.ttest_ind(mine, ref, equal_var=False).confidence_interval(0.95)
        factor = (welch.high - welch.low) / 2 / paired_half
        assert found.group(2) == narrowing_words(factor), (variant, output, factor)
        checked += 1
    assert checked >= 8  # two strategies against none, several outputs each
    assert f"results: {out}" in text


def test_run_on_the_mesa_engine_equals_the_batch_engine(tmp_path):
    for engine in ("mesa", "batch"):
        summary = json.loads(cli("run", "baseline", "--set", "cohort=100", "--steps", "12",
                                 "--seeds", "2", "--engine", engine, "--json",
                                 "--out", tmp_path / engine))
        assert summary["engine"] == engine and summary["seeds"] == 2
    mesa, batch = (load_results(tmp_path / e).steps for e in ("mesa", "batch"))
    assert load_results(tmp_path / "mesa").manifest["engine"] == "mesa"
    for column in L.INTEGER_COLUMNS:
        np.testing.assert_array_equal(mesa[column], batch[column], err_msg=column)
    for column in FLOAT_COLUMNS:
        np.testing.assert_allclose(mesa[column], batch[column], rtol=0, atol=1e-9,
                                   err_msg=column)


def test_plot_redraws_a_compare_folder_in_the_format_asked(compared):
    _, out = compared
    written = cli("plot", out, "--format", "svg", "--band", "spread").split()
    assert written == [str(out / "retention.svg"), str(out / "outcomes.svg")]
    for path in written:
        assert open(path).read().lstrip().startswith("<?xml")
    assert cli("plot", out, "--kind", "retention").split() == [str(out / "retention.png")]


def test_plot_refuses_a_kind_the_folder_does_not_have(compared):
    result = CliRunner().invoke(main, ["plot", str(compared[1]), "--kind", "study"])
    assert result.exit_code == 2 and "not a study" in result.stderr


def test_report_is_self_contained_html_or_markdown_beside_its_figures(compared):
    _, out = compared
    html_path = cli("report", out).strip()
    assert html_path == str(out / "report.html")
    html = open(html_path, encoding="utf-8").read()
    assert "data:image/png;base64," in html and 'src="retention' not in html
    for name in ("none", "reactive", "proactive"):
        assert name in html
    md_path = cli("report", out, "--format", "md").strip()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", open(md_path, encoding="utf-8").read())
    assert links and all((out / link).is_file() for link in links)


def test_sweep_on_two_local_workers_equals_the_sweep_in_process(tmp_path):
    study = write_study(tmp_path, SMALL)
    cli("sweep", study, "--out", tmp_path / "inproc")
    process(CXSIM, "sweep", study, "--workers", "2", "--out", tmp_path / "dask")
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["executor"] == "dask" and manifest["workers"] == 2
    for mine, ref in zip(_store_frames(tmp_path / "dask"), _store_frames(tmp_path / "inproc")):
        pd.testing.assert_frame_equal(mine, ref)


def test_bench_command_reports_both_engines_and_their_ratio():
    lines = cli("bench", "--seeds", "2", "--mesa-seeds", "1").splitlines()
    assert len(lines) == 3
    assert "batch" in lines[0] and "mesa" in lines[1].lower()
    rates = [float(re.search(r"([0-9.,]+) M agent-steps/s", line).group(1).replace(",", ""))
             for line in lines[:2]]
    ratio = float(re.search(r"batch / mesa: ([0-9,]+)x", lines[2]).group(1).replace(",", ""))
    assert ratio == pytest.approx(rates[0] / rates[1], rel=0.05, abs=1)


TINY_BENCH = """
[targets]
rate = 1
mesa_ratio = 1
memory_mb = 100000
cli_run_seconds = 600
[quick]
scenario = "baseline"
seeds = 2
repeats = 1
mesa = { seeds = 1, cohort = 50, horizon = 4 }
scale_customers = { customers = [100, 200], weeks = 4, work = 2e3 }
scale_weeks = { weeks = [4, 8], customers = 100, work = 2e3 }
scale_seeds = { seeds = [1, 2], customers = 100, weeks = 4 }
memory_seeds = 2
compile = false
cli_run_seeds = 2
"""


def test_bench_script_quick_runs_every_section_and_checks_the_targets(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_BENCH)
    done = process(sys.executable, ROOT / "benchmarks" / "bench.py", "--quick", "--config",
                   config, "--json", tmp_path / "report.json")
    report = json.loads((tmp_path / "report.json").read_text())
    for section in ("batch_all_threads", "mesa", "scale_customers", "scale_weeks",
                    "scale_seeds", "memory", "cli_run", "shared_burn_in"):
        assert section in report, section
    assert report["shared_burn_in"]["identical"] is True
    assert len(report["scale_customers"]) == 2 and report["memory"]["seeds"] == 2
    assert "compile: skipped" in done.stdout
    assert done.stdout.count("     met  ") == 4  # four generous targets, all met


def demo_commands(out) -> list[list[str]]:
    """The commands of the Makefile's ``demo`` target, with 3 seeds per study point."""
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    commands = []
    for line in recipe.group(1).splitlines():
        line = line.strip()
        if line.startswith("@"):
            continue  # the closing echo
        line = line.replace("$(BIN)/cxsim", CXSIM).replace("$(DEMO)", str(out))
        args = shlex.split(re.sub(r" --seeds \d+", "", line))
        if args[1] == "sweep":
            args += ["--seeds", "3"]
        commands.append(args)
    return commands


@pytest.mark.timeout(600)
def test_make_demo_writes_every_file_the_readme_lists(tmp_path):
    out = tmp_path / "demo"
    commands = demo_commands(out)
    assert [c[1] for c in commands] == ["sweep", "report", "sweep", "report"]
    for command in commands:
        process(*command)
    readme = (ROOT / "README.md").read_text()
    folders = re.findall(r"`results/demo-<time>/(\w+)/`|`\.\.\./(\w+)/`", readme)
    assert sorted(a or b for a, b in folders) == ["frontier", "headline"]
    figures = re.search(r"figures \(([^)]*)\)", readme).group(1)
    promised = re.findall(r"`(\w+\.\w+)`", figures) + ["manifest.json", "report.html"]
    assert {"retention.png", "outcomes.png", "frontier.png"} <= set(promised)
    written = {p.name for folder in ("headline", "frontier") for p in (out / folder).iterdir()}
    for name in promised:
        assert name in written, name
    for folder in ("headline", "frontier"):  # the Parquet tables: per run and per week
        assert list((out / folder / "chunks").glob("runs-*.parquet"))
        assert list((out / folder / "chunks").glob("steps-*.parquet"))
        assert (out / folder / "report.html").is_file()
        assert (out / folder / "manifest.json").is_file()
