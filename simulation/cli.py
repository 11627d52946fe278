"""The ``cxsim`` command: parse, call the API, print. No model logic lives here."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import click

from .numbers import interval, narrowing_words, number
from .results import HEADLINE, Results
from .scenario import (MAX_HORIZON, Scenario, ScenarioError, bundled_scenarios, load_scenario,
                       resolve_path, spend_warning)
from .store import ResultsError
from .study import MAX_ROOT_SEED, MAX_SEEDS

EXIT_BAD_INPUT = 2


class OneLineErrors(click.Group):
    """Usage errors as one line (``cxsim run: error: ...``), exit code 2, no traceback."""

    def main(self, args=None, prog_name=None, **kwargs):
        try:
            return super().main(args=args, prog_name=prog_name, standalone_mode=False, **kwargs)
        except click.exceptions.Abort:
            click.echo("cxsim: interrupted", err=True)
            sys.exit(130)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "cxsim"
            click.echo(f"{where}: error: {exc.format_message()}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except (ScenarioError, ResultsError) as exc:
            for line in getattr(exc, "problems", [str(exc)]):
                click.echo(line, err=True)
            sys.exit(EXIT_BAD_INPUT)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"cxsim: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:  # a path that cannot be read or written
            path = getattr(exc, "filename2", None) or exc.filename  # os.replace: the target
            where = f"{path}: " if path else ""
            click.echo(f"cxsim: error: {where}{exc.strerror or exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except (MemoryError, OverflowError) as exc:  # a scenario too large to run here
            click.echo(f"cxsim: error: too large to run here: {str(exc)[:300] or 'out of memory'}",
                       err=True)
            sys.exit(EXIT_BAD_INPUT)


def console() -> None:
    """The ``cxsim`` program. A refused input leaves at once, without the interpreter's
    teardown: the error is told, every file is written whole or not at all and every
    cluster closed on the way here, and the teardown can abort the process while pyarrow's
    reader threads wind down (apache/arrow#34314), turning exit code 2 into a crash."""
    try:
        main()
    except SystemExit as exc:
        if exc.code == EXIT_BAD_INPUT:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_BAD_INPUT)
        raise


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cxsim")
def main():
    """cxsim: reactive customer service vs proactive customer experience design, in numbers."""


# ----------------------------------------------------------------------- shared options

def scenario_options(func):
    func = click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
                        help="Override a scenario field, e.g. --set desk.base_capacity=60.")(func)
    func = click.option("--steps", type=click.IntRange(1, MAX_HORIZON), default=None,
                        help="Weeks to simulate (overrides the scenario's horizon).")(func)
    func = click.option("--scale-company", is_flag=True,
                        help="When --set changes the cohort, scale the company with it (desk, "
                             "budget, lever scales, arrivals, fixed cost).")(func)
    return func


def run_options(func):
    func = click.option("--seed", "root_seed", type=click.IntRange(0, MAX_ROOT_SEED), default=0,
                        show_default=True, help="Root seed; runs are its children 0..N-1.")(func)
    func = click.option("--engine", type=click.Choice(["batch", "mesa"]), default="batch",
                        show_default=True, help="Batch (numba) or Mesa engine.")(func)
    func = click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Results folder (default: results/<scenario>-<command>-<time>).")(func)
    func = click.option("--json", "as_json", is_flag=True,
                        help="Print the summary as JSON on stdout.")(func)
    return func


def diagnostics_options(func):
    func = click.option("--diagnostics-max-rows", "diagnostics_max_rows", type=click.IntRange(1),
                        default=None, metavar="N",
                        help="With --diagnostics: rows kept per run in each table "
                             "(default 250,000); rows beyond are dropped and counted.")(func)
    func = click.option("--diagnostics-sample", "diagnostics_sample",
                        type=click.FloatRange(0, 1, min_open=True), default=None,
                        metavar="SHARE",
                        help="With --diagnostics: share of customers recorded (default 1).")(func)
    func = click.option("--diagnostics", is_flag=True,
                        help="Also record issue episodes, decisions and per-segment weekly "
                             "columns (read them with `cxsim diagnose`).")(func)
    return func


def _diagnostics(on: bool, sample, max_rows):
    from .diagnostics import Diagnostics

    if not on:
        if sample is not None or max_rows is not None:
            raise click.UsageError("--diagnostics-sample/--diagnostics-max-rows need "
                                   "--diagnostics")
        return None
    defaults = Diagnostics()
    return Diagnostics(sample=defaults.sample if sample is None else sample,
                       max_rows=defaults.max_rows if max_rows is None else max_rows)


def _load(scenario: str, overrides, steps, scale_company: bool = False) -> Scenario:
    extra = list(overrides) + ([f"horizon={steps}"] if steps else [])
    return load_scenario(resolve_path(scenario), extra, scale_company=scale_company)


def _warn(sc: Scenario) -> None:
    """Warnings about a valid but doubtful scenario (a budget out of proportion), on stderr."""
    warning = spend_warning(sc)
    if warning:
        click.echo(warning, err=True)


def _company(sc: Scenario) -> str:
    """Which company a run used: as the file gives it, or scaled with the cohort."""
    amounts = (f"desk {sc.desk.base_capacity:,} contacts a week, budget "
               f"{sc.strategy.budget:,.0f} a week, {sc.acquisition.base_rate:g} organic "
               "arrivals a week")
    if sc.company_sized_for is None:
        return f"company as written ({amounts}) for {sc.cohort:,} customers"
    return (f"company scaled with the cohort from {sc.company_sized_for:,} to {sc.cohort:,} "
            f"customers ({amounts})")


def _out_folder(out: Path | None, scenario: str, command: str) -> Path:
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("results") / f"{Path(scenario).stem}-{command}-{stamp}"
    for existing in (out, *out.parents):  # the nearest folder that exists must take it
        if existing.exists() or existing.is_symlink():
            if not existing.is_dir():
                raise click.UsageError(f"--out {out}: {existing} is not a folder")
            if not os.access(existing, os.W_OK | os.X_OK):
                raise click.UsageError(f"--out {out}: {existing} is not writable")
            break
    if out.is_dir() and any(out.iterdir()):
        raise click.UsageError(f"--out {out}: folder exists and is not empty; "
                               "choose a new folder (results are never overwritten)")
    return out


def _progress(total_runs: int, description: str):
    """A rich progress bar on stderr (runs done, rate, time left), silent when stderr is not
    a terminal. Returns the bar and a function that advances it by a number of runs."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)
    from rich.text import Text

    class RunRate(ProgressColumn):
        def render(self, task):
            return Text(f"{task.speed:,.0f} runs/s" if task.speed else "")

    console = Console(stderr=True)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("runs"), RunRate(), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=console,
                        disable=not console.is_terminal, transient=True)
    task = progress.add_task(description, total=total_runs)
    return progress, lambda done: progress.advance(task, done)


def _simulate(variants, seeds, root_seed, engine, events=False, diagnostics=None):
    from .simulate import simulate

    progress, advance = _progress(len(variants) * seeds, f"simulating ({engine})")
    with progress:
        return simulate(variants, seeds=seeds, root_seed=root_seed, engine=engine,
                        events=events, diagnostics=diagnostics, progress=advance)


def _summary_json(results: Results) -> dict:
    table = results.compare(HEADLINE)
    out = {"engine": results.manifest["engine"], "root_seed": results.manifest["root_seed"],
           "seeds": results.steps["seed"].nunique(), "variants": {}}
    for label, group in table.groupby("variant", sort=False):
        out["variants"][label] = {
            row.output: {k: float(getattr(row, k)) for k in ("mean", "ci_low", "ci_high")
                         if k in row._fields}
            | ({"diff": float(row.diff), "diff_low": float(row.diff_low),
                "diff_high": float(row.diff_high)} if label != results.labels[0] else {})
            for row in group.itertuples()}
    if len(results.labels) > 1:
        from .answers import decision_metrics

        table, reference = decision_metrics(results)
        out["decision_metrics"] = {"reference": reference, "variants": {
            row["variant"]: {k: (None if v != v else float(v)) for k, v in row.items()
                             if k not in ("variant", "reference")}
            for row in table.to_dict("records")}}
    return out


def _print_table(results: Results, with_differences: bool) -> None:
    table = results.compare(HEADLINE)
    n = results.steps["seed"].nunique()
    horizon = int(results.steps["step"].max())
    click.echo(f"{n} seeds, horizon {horizon} weeks, engine {results.manifest['engine']}; "
               "mean [95% CI over seeds] at the horizon"
               + ("; with so few seeds the intervals are rough" if n < 10 else ""))
    names = {"cohort_retention": "retention", "profit_total": "profit (total)",
             "contacts": "contacts/week", "clv": "CLV/customer"}
    for label, group in table.groupby("variant", sort=False):
        click.echo(f"\n  {label}")
        for row in group.itertuples():
            text = f"    {names.get(row.output, row.output):<16} {number(row.mean):>12} " \
                   f"[{number(row.ci_low)}, {number(row.ci_high)}]"
            if with_differences and label != results.labels[0]:
                text += (f"   vs {results.labels[0]}: "
                         f"{interval(row.diff, row.diff_low, row.diff_high, signed=True)} "
                         f"({narrowing_words(row.narrowing)})")
            click.echo(text)
    if with_differences:
        _print_decisions(results)


def _print_decisions(results: Results) -> None:
    from .answers import decision_metrics, decision_words

    table, reference = decision_metrics(results)
    weeks = int(results.steps["step"].max())
    click.echo(f"\n  decision metrics against {reference}, over the {weeks} weeks (paired by "
               "seed; return on spend = (extra revenue - extra other cost) / extra spend):")
    for row in decision_words(table).to_dict("records"):
        strategy = row.pop("strategy")
        click.echo(f"\n  {strategy}")
        for name, value in row.items():
            click.echo(f"    {name:<26} {value}")


def _tell(results: Results, folder: Path, as_json: bool, with_differences: bool,
          company: str) -> None:
    """The summary on stdout: a readable table, or JSON."""
    if as_json:
        click.echo(json.dumps(_summary_json(results) | {"company": company,
                                                         "results": str(folder)}, indent=2))
    else:
        _print_table(results, with_differences)
        click.echo(f"\n{company}\nresults: {folder}")


def _write(results: Results, folder: Path) -> None:
    """The results folder with the figures `cxsim plot` draws: retention and outcomes."""
    from . import plots

    results.save(folder)
    plots.save(plots.retention_figure(results), folder / "retention.png")
    plots.save(plots.panels_figure(results), folder / "outcomes.png")


# ---------------------------------------------------------------------------- commands

@main.command()
def scenarios():
    """List the bundled scenarios with their one-line description."""
    for name, kind, description in bundled_scenarios():
        click.echo(f"{name:<24} {kind:<9} {description}")


@main.command()
@click.argument("scenario")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE")
@click.option("--scale-company", is_flag=True,
              help="When --set changes the cohort, scale the company with it.")
def validate(scenario, overrides, scale_company):
    """Check a scenario or study file: prints OK, or one line per problem (exit 2)."""
    from .scenario import is_calibration, is_optimisation, is_study, read_toml
    from .studies.robust_file import is_robust_study

    path = resolve_path(scenario)
    data = read_toml(path)
    if is_robust_study(data):
        from .studies.robust_file import load_robust

        loaded = load_robust(path)
        r = loaded.robust
        click.echo(f"OK: {path} (robust study: {r.design.worlds} worlds x {len(r.policies)} "
                   f"policies x {r.seeds} seeds, {len(r.uncertainties)} uncertainties, "
                   f"{r.design.kind} design{', adaptive seeds' if r.adaptive else ''}"
                   + (f", worlds drawn from the posterior of {r.design.posterior}"
                      if r.design.posterior else "") + ")")
        return
    if is_calibration(data):
        from .studies.calibration_file import load_calibration
        from .studies.observed import read_observed

        loaded = load_calibration(path)
        series = read_observed(loaded)
        click.echo(f"OK: {path} (calibration: {len(loaded.paths)} parameters, "
                   f"{sum(len(s.weeks) for s in series)} observations in {len(series)} "
                   f"series, {loaded.calibration.trials} trials x "
                   f"{loaded.calibration.seeds} seeds)")
        return
    if is_optimisation(data):
        from .studies.optimise import load_optimisation

        spec = load_optimisation(path).spec
        click.echo(f"OK: {path} (optimisation: {spec.trials} candidates x {spec.seeds} seeds, "
                   f"goal {spec.goal.kind}, {len(spec.search.levers)} levers"
                   f"{', phased' if spec.search.phased else ''}"
                   f"{', a trigger' if spec.search.trigger else ''})")
        return
    if is_study(data):
        from .study import load_study

        loaded = load_study(path)
        click.echo(f"OK: {path} (study: {len(loaded.points)} points x {loaded.study.seeds} "
                   f"seeds, {loaded.study.design.kind} design, "
                   f"{len(loaded.study.expectations)} expectations)")
        return
    sc = _load(scenario, overrides, None, scale_company)
    _warn(sc)
    click.echo(f"OK: {path} ({len(sc.touchpoints)} touchpoints, "
               f"{len(sc.segments)} segments, {sc.horizon} weeks, strategy {sc.strategy.label}; "
               f"{_company(sc)})")


@main.command()
@click.argument("scenario")
@scenario_options
@run_options
@click.option("--seeds", type=click.IntRange(1, MAX_SEEDS), default=None,
              help="Number of runs (default: 200 on batch, 3 on mesa).")
@click.option("--strategy", default=None, help="Replace the strategy: a name or mix=0..1.")
@click.option("--events", is_flag=True, help="Also keep per-customer join and churn steps.")
@diagnostics_options
def run(scenario, overrides, steps, scale_company, root_seed, engine, out, as_json, seeds,
        strategy, events, diagnostics, diagnostics_sample, diagnostics_max_rows):
    """Simulate one scenario and write a results folder."""
    options = _diagnostics(diagnostics, diagnostics_sample, diagnostics_max_rows)
    sc = _load(scenario, overrides, steps, scale_company)
    if strategy:
        sc = sc.with_strategy(strategy, source="--strategy")
    folder = _out_folder(out, scenario, "run")
    seeds = seeds or (200 if engine == "batch" else 3)
    _warn(sc)
    results = _simulate([sc], seeds, root_seed, engine, events, options)
    _write(results, folder)
    _tell(results, folder, as_json, with_differences=False, company=_company(sc))


@main.command()
@click.argument("scenario")
@scenario_options
@run_options
@click.option("--strategies", default="none,reactive,proactive,balanced", show_default=True,
              help="Comma-separated strategies (names, mix=0..1, or scenario: the scenario's "
                   "own, phases and triggers included); the first is the reference.")
@click.option("--seeds", type=click.IntRange(2, MAX_SEEDS), default=None,
              help="Seeds (default 1000; with --posterior, seeds in each world, default 50).")
@click.option("--posterior", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A `cxsim calibrate` folder: compare in worlds drawn from its posterior.")
@click.option("--draws", type=click.IntRange(2, 10_000), default=20, show_default=True,
              help="With --posterior: the number of worlds (posterior draws).")
@diagnostics_options
def compare(scenario, overrides, steps, scale_company, root_seed, engine, out, as_json,
            strategies, seeds, posterior, draws, diagnostics, diagnostics_sample,
            diagnostics_max_rows):
    """Compare strategies at equal budget, seed by seed (common random numbers); with
    --posterior, in worlds drawn from a calibration's posterior."""
    options = _diagnostics(diagnostics, diagnostics_sample, diagnostics_max_rows)
    sc = _load(scenario, overrides, steps, scale_company)
    names = [s.strip() for s in strategies.split(",") if s.strip()]
    if len(names) < 2:
        raise click.UsageError("--strategies: give at least two, separated by commas")
    variants = [sc if name == "scenario" else sc.with_strategy(name, source="--strategies")
                for name in names]
    folder = _out_folder(out, scenario, "compare")
    _warn(sc)
    if posterior is not None:
        if options is not None:
            raise click.UsageError("--diagnostics: not with --posterior")
        _compare_in_worlds(sc, names, posterior, draws, seeds or 50, root_seed, engine,
                           folder, as_json)
        return
    seeds = seeds or 1000
    results = _simulate(variants, seeds, root_seed, engine, diagnostics=options)
    _write(results, folder)
    _tell(results, folder, as_json, with_differences=True, company=_company(sc))


@main.command()
@click.option("--seeds", type=click.IntRange(1, MAX_SEEDS), default=200, show_default=True)
@click.option("--mesa-seeds", type=click.IntRange(1, 1000), default=1, show_default=True)
def bench(seeds, mesa_seeds):
    """A short benchmark: batch vs Mesa agent-steps per second on the baseline."""
    from .benchmark import quick_benchmark

    for line in quick_benchmark(seeds=seeds, mesa_seeds=mesa_seeds):
        click.echo(line)



@main.command()
@click.argument("scenario", default="baseline")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True,
              help="Port of the page on this machine.")
@click.option("--host", default="localhost", show_default=True,
              help="Address to listen on (0.0.0.0 to share it on the network).")
def dashboard(scenario, port, host):
    """Watch one run live in the browser (a Mesa SolaraViz page): controls, journey map,
    live plots, and bands of many seeds from the batch engine."""
    path = resolve_path(scenario)
    load_scenario(path)  # a bad scenario is told in one line, before any server starts
    if importlib.util.find_spec("solara") is None:
        raise click.ClickException("the dashboard needs its extra: "
                                   "pip install 'cxsim[dashboard]'")
    env = dict(os.environ, CXSIM_DASHBOARD_SCENARIO=str(path.resolve()))
    command = [sys.executable, "-m", "solara", "run", "simulation.dashboard.app",
               "--port", str(port), "--host", host, "--no-open", "--production"]
    click.echo(f"cxsim dashboard: http://{host}:{port}/ (Ctrl-C stops it)")
    server = subprocess.Popen(command, env=env)
    try:
        sys.exit(server.wait())
    except KeyboardInterrupt:
        server.send_signal(signal.SIGINT)  # (a Ctrl-C in the terminal has reached it too)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        raise


def _compare_in_worlds(sc, names, posterior, draws, seeds, root_seed, engine, folder,
                       as_json):
    from .studies.posterior_worlds import (DATA_LEVEL, compare_in_worlds, posterior_worlds,
                                 world_variants)

    worlds, params = posterior_worlds(posterior, draws)
    variants, labels = world_variants(sc, names, worlds, params, f"--posterior {posterior}")
    progress, advance = _progress(len(variants) * seeds, f"simulating ({engine})")
    from .simulate import simulate

    with progress:
        results = simulate(variants, seeds=seeds, root_seed=root_seed, engine=engine,
                           labels=labels, progress=advance)
    results.manifest["posterior"] = {"folder": str(posterior), "worlds": worlds}
    results.save(folder)
    table = compare_in_worlds(results.summary(), names, len(worlds), HEADLINE)
    if as_json:
        click.echo(json.dumps({"worlds": len(worlds), "seeds": seeds, "results": str(folder),
                               "table": table.to_dict(orient="records")}, indent=2))
        return
    click.echo(f"{len(worlds)} worlds drawn from the posterior of {posterior} x {seeds} seeds "
               f"each, horizon {sc.horizon} weeks. data: {DATA_LEVEL:.0%} interval of the "
               "world means (what the observed data leave uncertain); seeds: ± the 95% CI "
               "half-width of a world's mean (the simulated customers' randomness)")
    for name, group in table.groupby("strategy", sort=False):
        click.echo(f"\n  {name}")
        for row in group.itertuples():
            text = (f"    {row.output:<16} {number(row.mean):>10}  data "
                    f"[{number(row.data_low)}, {number(row.data_high)}]  seeds "
                    f"±{number(row.seeds_half_width)}")
            if name != names[0]:
                text += (f"   vs {names[0]}: {number(row.diff)} data "
                         f"[{number(row.diff_data_low)}, {number(row.diff_data_high)}] seeds "
                         f"±{number(row.diff_seeds_half_width)}; above in "
                         f"{int(row.worlds_above)} of {len(worlds)} worlds")
            click.echo(text)
    click.echo(f"\nresults: {folder}")


# ------------------------------------------------------------------------------ studies

@main.command()
@click.argument("study_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seeds", type=click.IntRange(1, MAX_SEEDS), default=None,
              help="Seeds per point (overrides the study).")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Start a local Dask cluster of N single-threaded workers.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler: tcp://HOST:PORT of a running cluster, or local:N.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Study folder (default: results/<study>-sweep-<time>).")
@click.option("--resume", is_flag=True, help="Continue an interrupted sweep in --out.")
def sweep(study_file, seeds, workers, scheduler, out, resume):
    """Run a parameter study into a resumable result store."""
    from .executors import make_executor
    from .study import load_study

    loaded = load_study(resolve_path(study_file), seeds=seeds)
    if resume and out is None:
        raise click.UsageError("--resume needs --out (the folder to continue)")
    folder = out if resume else _out_folder(out, str(study_file), "sweep")
    report = _run_sweep(loaded, folder, make_executor(scheduler, workers), resume)
    for line in report["damaged"]:
        click.echo(line, err=True)
    click.echo(f"{report['computed']} chunk(s) computed, {report['skipped']} already done, "
               f"{report['seconds']:.1f} s")
    _write_study_figures(folder)
    _tell_study(folder)


@main.command()
@click.argument("study_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--trials", type=click.IntRange(1, 100_000), default=None,
              help="Candidates to try in all (overrides the file; a resumed search may ask more).")
@click.option("--seeds", type=click.IntRange(2, MAX_SEEDS), default=None,
              help="Seeds per candidate in the search (overrides the file).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (default: results/<file>-optimise-<time>).")
@click.option("--resume", is_flag=True, help="Continue an interrupted search in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def optimise(study_file, trials, seeds, out, resume, as_json):
    """Search strategies for the file's goal; name a winner confirmed on fresh seeds."""
    from . import plots
    from .studies.optimise import load_optimisation
    from .studies.optimise import optimise as run_optimisation

    loaded = load_optimisation(resolve_path(study_file), trials=trials, seeds=seeds)
    if resume and out is None:
        raise click.UsageError("--resume needs --out (the folder to continue)")
    folder = out if resume else _out_folder(out, str(study_file), "optimise")
    spec = loaded.spec
    progress, advance = _progress(spec.trials * spec.seeds,
                                  f"{spec.trials} candidates x {spec.seeds} seeds")
    with progress:
        summary = run_optimisation(loaded, folder, resume=resume,
                                   progress=lambda n: advance(n * spec.seeds))
    plots.save(plots.allocation_figure(summary), folder / "allocation.png")
    if as_json:
        click.echo(json.dumps(summary | {"results": str(folder)}, indent=2))
        return
    _print_optimisation(summary)
    click.echo(f"results: {folder}")


def _print_optimisation(summary: dict) -> None:
    goal = summary["goal"]["kind"]
    confirm = summary["confirmation"]
    first, last = summary["seeds"]["confirm"]
    click.echo(f"{summary['trials']} candidates; goal: {goal}; the winner (trial "
               f"{summary['winner']['trial']}) was picked on fresh seeds and is judged on "
               f"seeds {first}-{last}, which the search never saw (mean [95% CI])")
    for arm, g in confirm["goal"].items():
        text = f"  {arm:<12} {interval(g['mean'], g['ci_low'], g['ci_high'])}"
        if arm != "optimised":
            d = confirm["optimised_minus"][arm]
            text += f"   optimised - {arm}: " \
                    f"{interval(d['diff'], d['diff_low'], d['diff_high'], signed=True)}"
        click.echo(text)
    strategy = summary["winner"]["strategy"]
    for k, phase in enumerate(strategy.get("phases") or [strategy]):
        when = f" from week {phase['start']} (ramp {phase.get('ramp', 0)})" if "start" in phase \
            else ""
        shares = ", ".join(f"{lever} {share:.2f}" for lever, share in
                           sorted(phase["allocation"].items(), key=lambda x: -x[1])
                           if share >= 0.005)
        click.echo(f"  winner's split{when}: {shares}")
    for t in strategy.get("triggers", []):
        click.echo(f"  trigger: {t['observe']} {t['when']} {number(t['enter'])} (leave at "
                   f"{number(t['leave'])}) moves {t['share']:.0%} to "
                   + ", ".join(f"{k} {v:.2f}" for k, v in t["levers"].items()))


def _tell_study(folder: Path) -> None:
    """A short summary of a study's results: its size, the best points, where to look."""
    from .answers import best_lines
    from .results import load_results

    res = load_results(folder)
    seeds = int(res.runs.groupby("point")["seed"].nunique().min())
    click.echo(f"{len(res.point_labels())} points x {seeds} seeds; "
               "mean [95% CI over seeds] at the horizon")
    for line in best_lines(res):
        click.echo(f"  {line}")
    click.echo(f"results: {folder} (cxsim report {folder} for the full tables and figures)")


def _run_sweep(loaded, folder, executor, resume):
    from .store import StudyStore, plan_chunks
    from .sweep import run_study

    study = loaded.study
    chunks = plan_chunks(len(loaded.points), loaded.seeds, study.chunk_runs)
    progress, advance = _progress(len(loaded.points) * study.seeds,
                                  f"{len(loaded.points)} points x {study.seeds} seeds")
    try:
        with progress:
            return run_study(loaded, folder, executor=executor, resume=resume,
                             progress=advance)
    except KeyboardInterrupt:
        done = StudyStore(folder).finished()
        click.echo(f"interrupted: {done} of {len(chunks)} chunks kept in {folder}; "
                   f"continue with: cxsim sweep {loaded.source} --out {folder} --resume", err=True)
        sys.exit(130)


def _write_study_figures(folder: Path) -> None:
    from . import plots
    from .results import load_results

    res = load_results(folder)
    for name, fig in plots.study_figures(res):
        plots.save(fig, folder / f"{name}.png")


@main.command()
@click.argument("calibration_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (default: results/<file>-calibrate-<time>).")
@click.option("--trials", type=click.IntRange(1, 100_000), default=None,
              help="Search trials (overrides the file's trials).")
@click.option("--seeds", type=click.IntRange(1, MAX_SEEDS), default=None,
              help="Seeds averaged in every trial (overrides the file's seeds).")
@click.option("--holdout-after", type=click.IntRange(0, MAX_HORIZON), default=None,
              metavar="WEEK", help="Fit the observations up to WEEK; report the forecast's "
                                   "error on the rest.")
@click.option("--forecast-to", type=click.IntRange(1, MAX_HORIZON), default=None,
              metavar="WEEK", help="Project the observed outputs to WEEK (default: the "
                                   "scenario's horizon or the last observed week).")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Evaluate N trials at once on a local Dask cluster of N workers.")
@click.option("--resume", is_flag=True, help="Continue an interrupted calibration in --out.")
def calibrate(calibration_file, out, trials, seeds, holdout_after, forecast_to, workers,
              resume):
    """Fit scenario parameters to observed data (Optuna search, then a posterior by
    importance sampling), with a forecast and figures."""
    from .executors import make_executor
    from .studies.calibration_file import load_calibration
    from .studies.calibration_run import LOW_ESS, run_calibration

    loaded = load_calibration(calibration_file, trials=trials, seeds=seeds)
    if resume and out is None:
        raise click.UsageError("--resume needs --out (the folder to continue)")
    folder = out if resume else _out_folder(out, str(calibration_file), "calibrate")
    cal = loaded.calibration
    progress, advance = _phase_progress()
    try:
        with progress, make_executor(None, workers) as executor:
            manifest = run_calibration(loaded, folder, holdout_after=holdout_after,
                                       forecast_to=forecast_to, resume=resume,
                                       executor=executor, batch=workers or 1,
                                       progress=advance)
    except KeyboardInterrupt:
        click.echo(f"interrupted: the trials and draws done are kept in {folder}; continue "
                   f"with: cxsim calibrate {calibration_file} --out {folder} --resume",
                   err=True)
        sys.exit(130)
    _write_calibration_figures(folder)
    post = manifest["posterior"]
    click.echo(f"search: {cal.trials} trials x {cal.seeds} seeds; posterior: {post['draws']} "
               f"draws by importance sampling, effective sample size "
               f"{post['effective_sample_size']:.0f}")
    if post["effective_sample_size"] < LOW_ESS:
        click.echo(f"warning: an effective sample size under {LOW_ESS} makes the intervals "
                   "rough; raise posterior_draws (or trials, which centre the draws)", err=True)
    click.echo(f"log-likelihood of the observations: before {manifest['loglik']['before']:.1f}"
               f", best {manifest['loglik']['best']:.1f}")
    click.echo(f"  {'parameter':<32} {'best':>10} {'mean':>10}   90% credible interval"
               "   (prior's 90%)")
    for path, iv in post["intervals"].items():
        wide = (iv["high"] - iv["low"]) >= 0.8 * (iv["prior_high"] - iv["prior_low"])
        click.echo(f"  {path:<32} {number(manifest['best'][path]):>10} {number(iv['mean']):>10}"
                   f"   [{number(iv['low'])}, {number(iv['high'])}]   "
                   f"([{number(iv['prior_low'])}, {number(iv['prior_high'])}])"
                   + ("  the data say little about it" if wide else ""))
    for h in manifest["holdout"] or []:
        click.echo(f"held out after week {holdout_after}: {h['series']}: mean absolute error "
                   f"{number(h['mean_abs_error'])} (base scenario {number(h['before_mean_abs_error'])}"
                   f"), {h['inside_band']:.0%} of {h['observations']} observations inside the "
                   "90% band")
    click.echo(f"results: {folder} (best.toml, posterior.parquet, forecast.parquet, fit.png, "
               "parameters.png, search.png)")


def _phase_progress():
    """A progress bar that follows the calibration's phases (search, posterior, forecast)."""
    progress, _ = _progress(1, "calibrating")
    task = progress.tasks[0].id

    def advance(phase: str, done: int, total: int):
        progress.update(task, description=phase, completed=done, total=total)
    return progress, advance


def _write_calibration_figures(folder: Path) -> None:
    from .plots import save
    from .store import read_calibration_folder
    from .studies.calibration_plots import calibration_figures

    manifest, tables = read_calibration_folder(folder)
    for name, fig in calibration_figures(tables, manifest):
        save(fig, folder / f"{name}.png")


@main.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--seeds", type=click.IntRange(1, MAX_SEEDS), default=None,
              help="Seeds per point when running a study file.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None)
def check(target, seeds, out):
    """Evaluate a study's expectations (running it first if TARGET is a study file).

    Exit 0 when every expectation holds, 1 when one fails, 2 for bad input.
    """
    from .checks import evaluate
    from .executors import InProcess
    from .results import StudyResults, load_results
    from .study import LoadedStudy, Study, load_study

    if target.is_dir():
        res = load_results(target)
        if not isinstance(res, StudyResults):
            raise ResultsError(f"{target}: not a study folder (expectations live in studies)")
        expectations = Study.model_validate(res.manifest["study"]).expectations
    else:
        loaded: LoadedStudy = load_study(resolve_path(target), seeds=seeds)
        if not loaded.study.expectations:
            raise click.UsageError(f"{target}: the study has no expectations to check")
        folder = _out_folder(out, str(target), "check")
        _run_sweep(loaded, folder, InProcess(), resume=False)
        res = load_results(folder)
        expectations = loaded.study.expectations
        click.echo(f"results: {folder}")
    if not expectations:
        raise click.UsageError(f"{target}: the study has no expectations to check")
    try:
        verdicts = evaluate(expectations, res.points, res.runs, res.steps)
    except ValueError as exc:  # an expectation no point of the study matches
        raise click.UsageError(f"{target}: {exc}") from None
    for verdict in verdicts:
        click.echo(verdict.line())
    failed = sum(not v.passed for v in verdicts)
    click.echo(f"{len(verdicts) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("study_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seeds", type=click.IntRange(1, MAX_SEEDS), default=None)
@click.option("--outputs", default="cohort_retention,profit_total,nps", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--workers", type=click.IntRange(1, 256), default=None)
@click.option("--scheduler", default=None, metavar="ADDRESS")
def sensitivity(study_file, seeds, outputs, out, workers, scheduler):
    """Sobol or Morris sensitivity indices (SALib) of a study's outputs, with a bar chart."""
    from . import plots
    from .executors import make_executor
    from .results import load_results
    from .sensitivity import analyse
    from .study import load_study, run_outputs

    loaded = load_study(resolve_path(study_file), seeds=seeds)
    if loaded.study.design.kind not in ("sobol", "morris"):
        raise click.UsageError(f"{study_file}: design.kind must be sobol or morris for "
                               f"sensitivity (it is {loaded.study.design.kind})")
    names = [o.strip() for o in outputs.split(",") if o.strip()]
    unknown = [o for o in names if o not in run_outputs()]
    if unknown or not names:
        raise click.UsageError(f"--outputs: unknown {', '.join(unknown) or '(none given)'} "
                               f"(allowed: {', '.join(sorted(run_outputs()))})")
    folder = _out_folder(out, str(study_file), "sensitivity")
    _run_sweep(loaded, folder, make_executor(scheduler, workers), resume=False)
    res = load_results(folder)
    table = analyse(loaded, res.runs, names)
    table.to_csv(folder / "sensitivity.csv", index=False)
    plots.save(plots.sensitivity_figure(table, loaded.study.design.kind),
               folder / "sensitivity.png")
    with _pandas_wide():
        click.echo(table.round(4).to_string(index=False))
    doubtful = table[table["warning"].astype(bool)]
    if not doubtful.empty:
        click.echo(f"warning: {len(doubtful)} of {len(table)} indices come from a sample too "
                   "small to trust (see the warning column); raise design.samples")
    click.echo(f"results: {folder}")


def _pandas_wide():
    import pandas as pd

    return pd.option_context("display.width", 160, "display.max_columns", 20)


# --------------------------------------------------------------- robust decisions

@main.command()
@click.argument("study_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (default: results/<study>-robust-<time>).")
@click.option("--worlds", type=click.IntRange(1, 100_000), default=None,
              help="Worlds to sample (overrides design.worlds).")
@click.option("--posterior", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A `cxsim calibrate` folder: each world is a draw of its posterior "
                   "(overrides design.posterior).")
@click.option("--seeds", type=click.IntRange(1, MAX_SEEDS), default=None,
              help="Seeds per world and policy (overrides seeds; with [adaptive], the first "
                   "round's).")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Start a local Dask cluster of N single-threaded workers.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler: tcp://HOST:PORT of a running cluster, or local:N.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
def robust(study_file, out, worlds, posterior, seeds, workers, scheduler, resume):
    """Run every policy in every sampled world (with --posterior, every posterior draw) on
    the same seeds; print each policy's outcomes, regret, best share and satisficing over
    the worlds."""
    from .executors import make_executor
    from .studies.robust import read_robust
    from .studies.robust_file import load_robust
    from .studies.tell import robustness_lines, write_robust_figures

    loaded = load_robust(resolve_path(study_file), worlds=worlds, seeds=seeds,
                         posterior=None if posterior is None else str(posterior.absolute()))
    if resume and out is None:
        raise click.UsageError("--resume needs --out (the folder to continue)")
    folder = out if resume else _out_folder(out, str(study_file), "robust")
    report = _run_robust(loaded, folder, make_executor(scheduler, workers), resume)
    for line in report["damaged"]:
        click.echo(line, err=True)
    saved = report["runs_fixed"] - report["runs"]
    click.echo(f"{report['runs']:,} runs in {report['rounds']} round(s), "
               f"{report['computed']} chunk(s) computed, {report['skipped']} already done, "
               f"{report['seconds']:.1f} s"
               + (f"; adaptive seeds saved {saved:,} of {report['runs_fixed']:,} runs"
                  if loaded.robust.adaptive else ""))
    info, worlds_table, outcomes = read_robust(folder)
    for line in robustness_lines(outcomes, info["study"]):
        click.echo(line)
    write_robust_figures(folder, info["study"], worlds_table, outcomes)
    click.echo(f"results: {folder} (worlds.parquet, outcomes.parquet, regret and win-map "
               f"figures; cxsim discover {folder} --where ... explains a condition)")


def _run_robust(loaded, folder, executor, resume):
    from .store import StudyStore
    from .studies.robust import run_robust

    r = loaded.robust
    most = r.design.worlds * len(r.policies) * (r.adaptive.max_seeds if r.adaptive else r.seeds)
    progress, advance = _progress(most, f"{r.design.worlds} worlds x {len(r.policies)} "
                                        "policies")
    try:
        with progress:
            return run_robust(loaded, folder, executor=executor, resume=resume,
                              progress=advance)
    except KeyboardInterrupt:
        done = StudyStore(folder).finished()
        click.echo(f"interrupted: {done} chunk(s) of the first round kept in {folder}; "
                   f"continue with: cxsim robust {loaded.source} --out {folder} --resume",
                   err=True)
        sys.exit(130)


@main.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--where", "condition", required=True, metavar="CONDITION",
              help='e.g. "reactive.cohort_retention > proactive.cohort_retention": terms '
                   "policy.output and numbers, > < >= <=, and, or, brackets.")
@click.option("--method", type=click.Choice(["prim", "cart"]), default="prim",
              show_default=True, help="PRIM (EMA Workbench) or a decision tree (CART).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=0.8,
              show_default=True, help="Density the box must reach.")
@click.option("--json", "as_json", is_flag=True, help="Print the box as JSON on stdout.")
def discover(results_dir, condition, method, threshold, as_json):
    """Scenario discovery: the worlds of a robust folder where CONDITION holds, explained by
    the uncertainties (a box, and how much each uncertainty decides it)."""
    from .studies.discover import ConditionError, box_words
    from .studies.discover import discover as find
    from .studies.robust import read_robust
    from .studies.tell import write_discovery_figure

    info, worlds, outcomes = read_robust(results_dir)
    study = info["study"]
    try:
        found = find(worlds, outcomes, condition, [p.name for p in study.policies],
                     study.kept_outputs, method=method, threshold=threshold)
    except ConditionError as exc:
        raise click.UsageError(f"--where: {exc}") from None
    figure = write_discovery_figure(results_dir, found)
    if as_json:
        click.echo(json.dumps(found.as_json(), indent=2))
        return
    click.echo(box_words(found))
    click.echo("how much each uncertainty decides it (random-forest share; chance: 95th "
               "percentile over shuffled conditions):")
    for name, score in sorted(found.scores.items(), key=lambda item: -item[1]):
        verdict = "above chance" if score > found.baseline[name] else "not above chance"
        click.echo(f"  {name:<24} {score:.3f}  (chance {found.baseline[name]:.3f}: {verdict})")
    click.echo(f"figure: {figure}")


# ------------------------------------------------------------------- figures and reports

@main.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(["all", "retention", "outcomes", "study"]),
              default="all", show_default=True,
              help="retention curves, outcome panels (run/compare), or the study's figures.")
@click.option("--band", type=click.Choice(["ci", "spread"]), default="ci", show_default=True,
              help="Bands: 95% CI of the mean, or the 10-90% spread across seeds.")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png",
              show_default=True)
def plot(results_dir, kind, band, fmt):
    """Draw the figures of a results folder (written into it)."""
    from . import plots
    from .results import StudyResults, load_results

    res = load_results(results_dir)
    written = []
    if isinstance(res, StudyResults):
        if kind in ("retention", "outcomes"):
            raise click.UsageError(f"--kind {kind}: a study folder has study figures only")
        for name, fig in plots.study_figures(res):
            written.append(plots.save(fig, results_dir / f"{name}.{fmt}"))
    else:
        if kind == "study":
            raise click.UsageError("--kind study: this is a run/compare folder, not a study")
        if kind in ("all", "retention"):
            written.append(plots.save(plots.retention_figure(res, band),
                                      results_dir / f"retention.{fmt}"))
        if kind in ("all", "outcomes"):
            written.append(plots.save(plots.panels_figure(res, band),
                                      results_dir / f"outcomes.{fmt}"))
    for path in written:
        click.echo(str(path))


@main.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html",
              show_default=True, help="HTML embeds its figures; Markdown links PNGs beside it.")
def report(results_dir, fmt):
    """Write one report of a results folder: question, parameters, tables, figures."""
    from .report import write_report
    from .results import load_results

    path = write_report(load_results(results_dir), results_dir / f"report.{fmt}")
    click.echo(str(path))


@main.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the tables (default: RESULTS_DIR/csv; must be new or empty).")
def export(results_dir, fmt, out):
    """Tables for spreadsheets: one row per run (runs.csv), per run and week (steps.csv)
    and, for a study, per point (points.csv); varied parameters in every row."""
    from .export import write_csv
    from .results import load_results

    res = load_results(results_dir)
    out = out or results_dir / fmt
    if out.exists() and any(out.iterdir()):
        raise click.UsageError(f"--out {out}: folder exists and is not empty; "
                               "choose a new folder (exports are never overwritten)")
    for path in write_csv(res, out):
        click.echo(str(path))


@main.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON on stdout.")
def diagnose(results_dir, as_json):
    """The model's customers against CX research: silent problems, effort and churn,
    recovery, satisfied defectors, desk contacts (95% intervals over seeds, per segment)."""
    from .diagnose import diagnose as compute
    from .diagnose import format_report, require_diagnostics
    from .results import StudyResults, load_results

    res = load_results(results_dir)
    if isinstance(res, StudyResults):
        raise ResultsError(f"{results_dir}: a study folder; diagnose reads a `cxsim run` or "
                           "`cxsim compare` folder recorded with --diagnostics")
    require_diagnostics(res, results_dir)
    report = compute(res)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for line in format_report(report):
            click.echo(line)
