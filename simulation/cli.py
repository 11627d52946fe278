"""The ``cxsim`` command: parse, call the API, print. No model logic lives here."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from .results import HEADLINE, Results, ResultsError
from .scenario import ScenarioError, bundled_scenarios, load_scenario, resolve_path

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


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cxsim")
def main():
    """cxsim: reactive customer service vs proactive customer experience design, in numbers."""


# ----------------------------------------------------------------------- shared options

def scenario_options(func):
    func = click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
                        help="Override a scenario field, e.g. --set desk.base_capacity=60.")(func)
    func = click.option("--steps", type=click.IntRange(1, 5200), default=None,
                        help="Weeks to simulate (overrides the scenario's horizon).")(func)
    return func


def run_options(func):
    func = click.option("--seed", "root_seed", type=click.IntRange(0), default=0,
                        show_default=True, help="Root seed; runs are its children 0..N-1.")(func)
    func = click.option("--engine", type=click.Choice(["batch", "mesa"]), default="batch",
                        show_default=True, help="Batch (numba) or Mesa engine.")(func)
    func = click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Results folder (default: results/<scenario>-<command>-<time>).")(func)
    func = click.option("--json", "as_json", is_flag=True,
                        help="Print the summary as JSON on stdout.")(func)
    return func


def _load(scenario: str, overrides, steps):
    extra = list(overrides) + ([f"horizon={steps}"] if steps else [])
    return load_scenario(resolve_path(scenario), extra)


def _out_folder(out: Path | None, scenario: str, command: str) -> Path:
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("results") / f"{Path(scenario).stem}-{command}-{stamp}"
    if out.exists() and any(out.iterdir()):
        raise click.UsageError(f"--out {out}: folder exists and is not empty; "
                               "choose a new folder (results are never overwritten)")
    return out


def _progress(total_runs: int, description: str):
    """A rich progress bar on stderr, silent when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    console = Console(stderr=True)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("runs"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console, disable=not console.is_terminal, transient=True)
    task = progress.add_task(description, total=total_runs)
    return progress, lambda done: progress.advance(task, done)


def _simulate(variants, seeds, root_seed, engine, events=False):
    from .simulate import simulate

    progress, advance = _progress(len(variants) * seeds, f"simulating ({engine})")
    with progress:
        return simulate(variants, seeds=seeds, root_seed=root_seed, engine=engine,
                        events=events, progress=advance)


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
    return out


def _print_table(results: Results, with_differences: bool) -> None:
    table = results.compare(HEADLINE)
    n = results.steps["seed"].nunique()
    horizon = int(results.steps["step"].max())
    click.echo(f"{n} seeds, horizon {horizon} weeks, engine {results.manifest['engine']}; "
               "mean [95% CI] at the horizon")
    names = {"cohort_retention": "retention", "profit_total": "profit (total)",
             "contacts": "contacts/week", "clv": "CLV/customer"}
    for label, group in table.groupby("variant", sort=False):
        click.echo(f"\n  {label}")
        for row in group.itertuples():
            text = f"    {names.get(row.output, row.output):<16} {_fmt(row.mean):>12} " \
                   f"[{_fmt(row.ci_low)}, {_fmt(row.ci_high)}]"
            if with_differences and label != results.labels[0]:
                text += (f"   vs {results.labels[0]}: {_fmt(row.diff, signed=True)} "
                         f"[{_fmt(row.diff_low, signed=True)}, {_fmt(row.diff_high, signed=True)}]"
                         f" (pairing x{row.narrowing:.1f} narrower)")
            click.echo(text)


def _fmt(x: float, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"{x:{sign},.0f}" if abs(x) >= 1000 else f"{x:{sign}.3g}"


def _write(results: Results, folder: Path) -> None:
    from . import plots

    results.save(folder)
    plots.save(plots.retention_figure(results), folder / "retention.png")
    plots.save(plots.panels_figure(results), folder / "outcomes.png")


# ---------------------------------------------------------------------------- commands

@main.command()
def scenarios():
    """List the bundled scenarios with their one-line description."""
    for name, description in bundled_scenarios():
        click.echo(f"{name:<28} {description}")


@main.command()
@click.argument("scenario")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE")
def validate(scenario, overrides):
    """Check a scenario file: prints OK, or one line per problem (exit 2)."""
    sc = load_scenario(resolve_path(scenario), list(overrides))
    click.echo(f"OK: {resolve_path(scenario)} ({len(sc.touchpoints)} touchpoints, "
               f"{len(sc.segments)} segments, {sc.horizon} weeks, strategy {sc.strategy.label})")


@main.command()
@click.argument("scenario")
@scenario_options
@run_options
@click.option("--seeds", type=click.IntRange(1), default=None,
              help="Number of runs (default: 200 on batch, 3 on mesa).")
@click.option("--strategy", default=None, help="Replace the strategy: a name or mix=0..1.")
@click.option("--events", is_flag=True, help="Also keep per-customer join and churn steps.")
def run(scenario, overrides, steps, root_seed, engine, out, as_json, seeds, strategy, events):
    """Simulate one scenario and write a results folder."""
    sc = _load(scenario, overrides, steps)
    if strategy:
        sc = sc.with_strategy(strategy)
    folder = _out_folder(out, scenario, "run")
    seeds = seeds or (200 if engine == "batch" else 3)
    results = _simulate([sc], seeds, root_seed, engine, events)
    _write(results, folder)
    if as_json:
        click.echo(json.dumps(_summary_json(results) | {"results": str(folder)}, indent=2))
    else:
        _print_table(results, with_differences=False)
        click.echo(f"\nresults: {folder}")


@main.command()
@click.argument("scenario")
@scenario_options
@run_options
@click.option("--strategies", default="none,reactive,proactive,balanced", show_default=True,
              help="Comma-separated strategies (names or mix=0..1); the first is the reference.")
@click.option("--seeds", type=click.IntRange(2), default=1000, show_default=True)
def compare(scenario, overrides, steps, root_seed, engine, out, as_json, strategies, seeds):
    """Compare strategies at equal budget, seed by seed (common random numbers)."""
    sc = _load(scenario, overrides, steps)
    names = [s.strip() for s in strategies.split(",") if s.strip()]
    if len(names) < 2:
        raise click.UsageError("--strategies: give at least two, separated by commas")
    variants = [sc.with_strategy(name) for name in names]
    folder = _out_folder(out, scenario, "compare")
    results = _simulate(variants, seeds, root_seed, engine)
    _write(results, folder)
    if as_json:
        click.echo(json.dumps(_summary_json(results) | {"results": str(folder)}, indent=2))
    else:
        _print_table(results, with_differences=True)
        click.echo(f"\nresults: {folder}")


@main.command()
@click.option("--seeds", type=click.IntRange(1), default=200, show_default=True)
@click.option("--mesa-seeds", type=click.IntRange(1), default=1, show_default=True)
def bench(seeds, mesa_seeds):
    """A short benchmark: batch vs Mesa agent-steps per second on the baseline."""
    from .benchmark import quick_benchmark

    for line in quick_benchmark(seeds=seeds, mesa_seeds=mesa_seeds):
        click.echo(line)
