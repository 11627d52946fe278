"""Batch-engine benchmark: throughput, thread and size scaling, memory, compile time.

    .venv/bin/python benchmarks/bench.py            # the acceptance benchmark (~6 minutes)
    .venv/bin/python benchmarks/bench.py --quick    # a short version (~1 minute)

Configurations live in ``benchmarks/config.toml``. Every rate is agent-steps per second,
an agent-step being one active customer-week. Measurements use ``simulation.benchmark``
(the helpers behind ``cxsim bench``): each is timed after a warm-up that compiles or loads
the kernels, so compilation is reported on its own (cold: empty numba cache; cached: a
second process reusing it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from pathlib import Path

import numba

from simulation import load_scenario
from simulation.benchmark import cli_run_seconds, compile_times, describe, measure, peak_memory
from simulation.scenario import resolve_path, with_company_scaled

HERE = Path(__file__).resolve().parent


def _rate(m: dict) -> str:
    return f"{m['rate'] / 1e6:8.2f} M/s"


def _scaling(title: str, rows: list[tuple[str, dict]]) -> list[str]:
    lines = [title]
    base = rows[0][1]["rate"]
    for label, m in rows:
        lines.append(f"  {label:>34}: {_rate(m)}  ({m['rate'] / base:4.2f}x the first row; "
                     f"{m['seconds']:6.2f} s)")
    return lines


def run(cfg: dict, threads: int, compile_check: bool, log=print) -> dict:
    scenario = load_scenario(resolve_path(cfg["scenario"]))
    repeats = cfg.get("repeats", 1)
    report: dict = {"threads_available": threads, "config": cfg}
    log(f"batch engine, {cfg['scenario']}: {scenario.cohort:,} customers x "
        f"{scenario.horizon} weeks x {cfg['seeds']:,} seeds")

    one = measure(scenario, cfg["seeds"], threads=1, repeats=repeats)
    log("  " + describe(one))
    full = measure(scenario, cfg["seeds"], threads=threads, repeats=repeats)
    log("  " + describe(full))
    log(f"  {threads} threads / 1 thread: {full['rate'] / one['rate']:.2f}x")
    report["batch_1_thread"], report["batch_all_threads"] = one, full
    report["over_time"] = over_time(cfg, full, threads, repeats, log)
    report["shared_burn_in"] = shared_burn_in(cfg, threads, repeats, log)

    mc = cfg["mesa"]
    smaller = {k: mc[k] for k in ("cohort", "horizon") if k in mc}
    mesa = measure(scenario.model_copy(update=smaller), mc["seeds"], engine="mesa")
    log(f"Mesa engine (same scenario{', smaller' if smaller else ''}):")
    log("  " + describe(mesa))
    log(f"  batch ({threads} threads) / Mesa: {full['rate'] / mesa['rate']:,.0f}x; "
        f"batch (1 thread) / Mesa: {one['rate'] / mesa['rate']:,.0f}x")
    report["mesa"] = mesa

    sc_c = cfg["scale_customers"]
    rows = []
    for customers in sc_c["customers"]:
        seeds = max(1, round(sc_c["work"] / (customers * sc_c["weeks"])))
        sc = with_company_scaled(scenario, customers).model_copy(update={"horizon": sc_c["weeks"]})
        rows.append((f"{customers:>7,} customers x {seeds:>5} seeds",
                     measure(sc, seeds, repeats=repeats)))
    for line in _scaling(f"scaling with customers ({sc_c['weeks']} weeks, {threads} threads; "
                         "desk, budget, lever scales and arrivals scaled with the cohort):",
                         rows):
        log(line)
    report["scale_customers"] = [m for _, m in rows]

    sc_w = cfg["scale_weeks"]
    rows = []
    for weeks in sc_w["weeks"]:
        seeds = max(1, round(sc_w["work"] / (sc_w["customers"] * weeks)))
        sc = scenario.model_copy(update={"cohort": sc_w["customers"], "horizon": weeks})
        rows.append((f"{weeks:>4} weeks x {seeds:>5} seeds",
                     measure(sc, seeds, repeats=repeats)))
    for line in _scaling(f"scaling with weeks ({sc_w['customers']:,} customers, "
                         f"{threads} threads):", rows):
        log(line)
    report["scale_weeks"] = [m for _, m in rows]

    sc_s = cfg["scale_seeds"]
    rows = []
    sc = scenario.model_copy(update={"cohort": sc_s["customers"], "horizon": sc_s["weeks"]})
    for seeds in sc_s["seeds"]:
        m = full if (seeds == cfg["seeds"] and sc_s["customers"] == scenario.cohort
                     and sc_s["weeks"] == scenario.horizon) else measure(sc, seeds, repeats=repeats)
        rows.append((f"{seeds:>6,} seeds", m))
    for line in _scaling(f"scaling with seeds ({sc_s['customers']:,} customers x "
                         f"{sc_s['weeks']} weeks, {threads} threads):", rows):
        log(line)
    report["scale_seeds"] = [m for _, m in rows]

    mem = peak_memory(cfg["scenario"], cfg["memory_seeds"])
    log(f"peak memory (fresh process, {cfg['memory_seeds']:,} seeds): "
        f"{mem['rss_peak_mib']:,.0f} MiB resident at peak; "
        f"{mem['rss_before_mib']:,.0f} MiB after imports and warm-up (peak until then "
        f"{mem['rss_peak_before_mib']:,.0f} MiB), so the run itself added at most "
        f"{mem['rss_peak_mib'] - mem['rss_before_mib']:,.0f} MiB "
        f"(rate in that process {_rate(mem).strip()})")
    report["memory"] = mem

    if cfg.get("study"):
        report["study"] = study_prediction(cfg["study"], full, log)

    run_time = cli_run_seconds(cfg["scenario"], cfg["cli_run_seeds"])
    log(f"`{run_time['command']}` in a new process: {run_time['second_seconds']:.2f} s "
        f"(the run before it, which may have filled the cache: "
        f"{run_time['first_seconds']:.2f} s)")
    report["cli_run"] = run_time

    if compile_check:
        times = compile_times()
        cold, cached = times["cold"], times["cached"]
        log(f"compile: cold {cold['first_run']:.1f} s (empty numba cache; import "
            f"{cold['import']:.1f} s), cached {cached['first_run']:.2f} s "
            f"(import {cached['import']:.1f} s)")
        report["compile"] = times
    else:
        log("compile: skipped (--compile to include the cold/cached comparison)")
    return report


#: a strategy over time that changes every week's work: a glide path from reactive to
#: proactive (switch at week 26, ramped over 26 weeks) and a trigger on the desk's backlog
OVER_TIME = ['strategy.phases=[{start=0, name="reactive"}, '
             '{start=26, ramp=26, name="proactive"}]',
             'strategy.triggers=[{observe="backlog", enter=15, leave=8, share=0.4, '
             'levers={capacity=0.7, staff=0.3}}]']


def over_time(cfg: dict, static: dict, threads: int, repeats: int, log=print) -> dict:
    """The same runs with phases and a trigger (evaluated once a week per run, never per
    customer): their rate beside the static strategy's."""
    scenario = load_scenario(resolve_path(cfg["scenario"]), OVER_TIME)
    m = measure(scenario, cfg["seeds"], threads=threads, repeats=repeats)
    log(f"  with phases and a backlog trigger: {_rate(m)} ({m['rate'] / static['rate']:.2f}x "
        f"the static strategy's rate; {m['seconds']:.2f} s)")
    return m


STRATEGIES = ("none", "reactive", "proactive", "balanced")


def shared_burn_in(cfg: dict, threads: int, repeats: int, log=print) -> dict:
    """The four named strategies on the same seeds (a quarter of the headline's each): in one
    call, where each seed's burn-in is simulated once and shared, beside one call per
    strategy, where each simulates it; the numbers must be the same."""
    import time

    from simulation import simulate

    scenario = load_scenario(resolve_path(cfg["scenario"]))
    variants = [scenario.with_strategy(s) for s in STRATEGIES]
    seeds = max(1, cfg["seeds"] // len(variants))
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        together = apart = float("inf")
        for _ in range(max(1, repeats)):
            started = time.perf_counter()
            shared = simulate(variants, seeds=seeds, labels=list(STRATEGIES))
            together = min(together, time.perf_counter() - started)
            started = time.perf_counter()
            alone = [simulate(v, seeds=seeds) for v in variants]
            apart = min(apart, time.perf_counter() - started)
    finally:
        numba.set_num_threads(previous)
    same = all(shared.steps[shared.steps["variant"] == name].drop(columns="variant")
               .reset_index(drop=True).equals(one.steps.drop(columns="variant"))
               for name, one in zip(STRATEGIES, alone))
    log(f"comparing {len(variants)} strategies x {seeds:,} seeds from one warm start: "
        f"{together:.2f} s with the burn-in shared, {apart:.2f} s one strategy at a time "
        f"({apart / together:.2f}x; the same numbers: {'yes' if same else 'NO'})")
    return {"seeds": seeds, "strategies": len(variants), "shared_seconds": together,
            "apart_seconds": apart, "identical": same}


def targets(report: dict, goals: dict) -> list[str]:
    """The issue's acceptance targets against this run's measurements, one line each."""
    mem_mb = report["memory"]["rss_peak_mib"] * 1.048576
    rows = [
        (f"batch rate, all threads >= {goals['rate'] / 1e6:.0f} M agent-steps/s",
         f"{report['batch_all_threads']['rate'] / 1e6:.1f} M/s",
         report["batch_all_threads"]["rate"] >= goals["rate"]),
        (f"batch (all threads) / Mesa >= {goals['mesa_ratio']:,}x",
         f"{report['batch_all_threads']['rate'] / report['mesa']['rate']:,.0f}x",
         report["batch_all_threads"]["rate"] / report["mesa"]["rate"] >= goals["mesa_ratio"]),
        (f"peak memory, {report['memory']['seeds']:,} seeds < {goals['memory_mb']:,} MB",
         f"{mem_mb:,.0f} MB", mem_mb < goals["memory_mb"]),
        (f"second `cxsim run` < {goals['cli_run_seconds']} s",
         f"{report['cli_run']['second_seconds']:.2f} s",
         report["cli_run"]["second_seconds"] < goals["cli_run_seconds"]),
    ]
    lines = ["targets:"]
    lines += [f"  {'met' if ok else 'MISSED':>6}  {what}: {value}" for what, value, ok in rows]
    for name in ("scale_customers", "scale_weeks", "scale_seeds"):
        rates = [m["rate"] for m in report[name]]
        lines.append(f"    info  {name.replace('_', ' with ')}: slowest row / fastest row "
                     f"{min(rates) / max(rates):.2f} (1.00 = perfectly linear time)")
    return lines


def study_prediction(name: str, measured: dict, log=print) -> dict:
    """Run a bundled study in-process and compare its time with the throughput prediction:
    its agent-steps divided by the batch rate measured above."""
    import tempfile

    from simulation.study import load_study
    from simulation.sweep import run_study

    loaded = load_study(resolve_path(name))
    with tempfile.TemporaryDirectory() as folder:
        report = run_study(loaded, Path(folder) / "store")
    predicted = report["agent_steps"] / measured["rate"]
    log(f"study {name} in-process: {len(loaded.points)} points x {loaded.study.seeds:,} seeds, "
        f"{report['agent_steps'] / 1e9:.2f} G agent-steps in {report['seconds']:.0f} s; "
        f"predicted from the batch rate {predicted:.0f} s "
        f"(actual / predicted {report['seconds'] / predicted:.2f})")
    return {"seconds": report["seconds"], "predicted_seconds": predicted,
            "agent_steps": report["agent_steps"]}


REQUIRED = {"targets": ("rate", "mesa_ratio", "memory_mb", "cli_run_seconds"),
            "section": ("scenario", "seeds", "mesa", "scale_customers", "scale_weeks",
                        "scale_seeds", "memory_seeds", "cli_run_seeds")}


def load_config(path: str, section: str) -> dict:
    """The configuration file, or a one-line error (exit 2) naming what is wrong."""
    def fail(message: str):
        print(f"bench.py: error: {path}: {message}", file=sys.stderr)
        raise SystemExit(2)

    try:
        with open(path, "rb") as f:
            config = tomllib.load(f)
    except OSError as error:
        fail(error.strerror.lower())
    except tomllib.TOMLDecodeError as error:
        fail(f"not valid TOML ({error})")
    for table, keys in (("targets", REQUIRED["targets"]), (section, REQUIRED["section"])):
        missing = [key for key in keys if key not in config.get(table, {})]
        if missing:
            fail(f"[{table}] needs {', '.join(missing)}")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short version")
    parser.add_argument("--config", default=str(HERE / "config.toml"))
    parser.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS,
                        help="'all threads' (default: every numba thread)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="include the cold vs cached compile comparison")
    parser.add_argument("--json", help="also write the measurements to this file")
    args = parser.parse_args()
    config = load_config(args.config, "quick" if args.quick else "full")
    cfg = config["quick" if args.quick else "full"]
    compile_check = cfg.get("compile", True) if args.compile is None else args.compile
    print(f"machine: {os.cpu_count()} CPUs, numba {numba.__version__}, "
          f"threading layer {numba.config.THREADING_LAYER}")
    report = run(cfg, args.threads, compile_check)
    for line in targets(report, config["targets"]):
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
