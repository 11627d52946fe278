"""Throughput measurements shared by ``cxsim bench`` and ``benchmarks/``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba

from .scenario import Scenario, load_scenario, resolve_path
from .simulate import simulate


def measure(scenario: Scenario, seeds: int, engine: str = "batch",
            threads: int | None = None, repeats: int = 1) -> dict:
    """Run once (after a warm-up for compilation) and report agent-steps per second.

    Agent-steps count the weeks of customers who were active (churned customers cost
    almost nothing and are not counted), a warm start's burn-in weeks included (they are
    simulated like any other); ``reported_rate`` counts only the reported weeks 1 .. horizon;
    ``nominal`` counts cohort x horizon x seeds.
    With ``repeats`` > 1 the fastest of that many runs is reported (the others are noise
    from whatever else the machine is doing).
    """
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        simulate(scenario.model_copy(update={"horizon": 2, "cohort": 10}), seeds=1,
                 engine=engine)  # compile (or load the cache) outside the timing
        elapsed = float("inf")
        for _ in range(max(1, repeats)):
            started = time.perf_counter()
            results = simulate(scenario, seeds=seeds, engine=engine)
            elapsed = min(elapsed, time.perf_counter() - started)
    finally:
        numba.set_num_threads(previous)
    steps = results.manifest["agent_steps"]
    table = results.steps  # week w's agent-steps: the customers active after week w - 1
    reported = int(table.loc[table["step"] < scenario.horizon, "active"].sum())
    return {"engine": engine, "threads": threads or previous, "seeds": seeds,
            "customers": scenario.cohort, "weeks": scenario.horizon,
            "burn_in_weeks": scenario.burn_in_weeks(), "seconds": elapsed,
            "agent_steps": steps, "rate": steps / elapsed,
            "reported_rate": reported / elapsed,
            "nominal_rate": scenario.cohort * scenario.horizon * seeds / elapsed}


def describe(m: dict) -> str:
    where = "1 process" if m["engine"] == "mesa" else f"{m['threads']} thread(s)"
    return (f"{m['engine']:>5} {where}: {m['seeds']:>5} seeds x "
            f"{m['customers']:,} customers x {m['weeks']} weeks (+{m['burn_in_weeks']} burn-in) "
            f"in {m['seconds']:7.2f} s = {m['rate'] / 1e6:8.3f} M agent-steps/s, burn-in "
            f"included ({m['reported_rate'] / 1e6:.3f} M/s counting reported weeks only; "
            f"nominal {m['nominal_rate'] / 1e6:.3f} M/s)")


def quick_benchmark(seeds: int = 200, mesa_seeds: int = 1):
    baseline = load_scenario(resolve_path("baseline"))
    batch = measure(baseline, seeds)
    yield describe(batch)
    mesa = measure(baseline.model_copy(update={"cohort": 500, "horizon": 52}), mesa_seeds,
                   engine="mesa")
    yield describe(mesa)
    yield f"batch / mesa: {batch['rate'] / mesa['rate']:,.0f}x"


def _python_json(code: str, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


_MEMORY_PROBE = """
import json
from simulation import load_scenario, simulate
from simulation.benchmark import measure, memory_status
from simulation.scenario import resolve_path
sc = load_scenario(resolve_path({scenario!r})).model_copy(update={update!r})
simulate(sc.model_copy(update={{"horizon": 2, "cohort": 10}}), seeds=1)
before = memory_status()
m = measure(sc, {seeds}, threads={threads})
after = memory_status()
m["rss_before_mib"] = before["VmRSS"]
m["rss_peak_before_mib"] = before["VmHWM"]
m["rss_peak_mib"] = after["VmHWM"]
print(json.dumps(m))
"""


def memory_status() -> dict:
    """This process's resident set size now (``VmRSS``) and at its peak (``VmHWM``), MiB."""
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":")
                status[name] = int(value.split()[0]) / 1024
    return status


def peak_memory(scenario: str = "baseline", seeds: int = 1000, threads: int | None = None,
                **update) -> dict:
    """Run one batch benchmark in a fresh process and report its resident set size.

    Returns ``measure``'s dict plus ``rss_before_mib`` (after imports and the warm-up
    run), ``rss_peak_before_mib`` (the peak until then: compiling can be the peak) and
    ``rss_peak_mib`` (the peak of the whole process, run included).
    """
    return _python_json(_MEMORY_PROBE.format(scenario=scenario, update=update, seeds=seeds,
                                             threads=threads))


_COMPILE_PROBE = """
import json, time
started = time.perf_counter()
from simulation import load_scenario, simulate
from simulation.scenario import resolve_path
imported = time.perf_counter()
sc = load_scenario(resolve_path("baseline")).model_copy(update={"horizon": 2, "cohort": 10})
simulate(sc, seeds=1)
print(json.dumps({"import": imported - started, "first_run": time.perf_counter() - imported}))
"""


def compile_times() -> dict:
    """Seconds to import and run a first tiny batch simulation in a fresh process: ``cold``
    with an empty numba cache folder (everything compiles), ``cached`` in a second process
    that reuses that folder."""
    with tempfile.TemporaryDirectory(prefix="cxsim-numba-") as folder:
        env = {"NUMBA_CACHE_DIR": folder}
        cold = _python_json(_COMPILE_PROBE, env)
        cached = _python_json(_COMPILE_PROBE, env)
    return {"cold": cold, "cached": cached}


def cli_run_seconds(scenario: str = "baseline", seeds: int = 20) -> dict:
    """Wall time of ``cxsim run SCENARIO --seeds N`` as a user sees it: a new process that
    starts Python, imports, loads the kernels from the numba cache, simulates and writes its
    results folder. The first run fills the cache if it is empty; the second is timed."""
    command = [str(Path(sys.executable).with_name("cxsim")), "run",
               str(resolve_path(scenario)), "--seeds", str(seeds)]
    seconds = []
    with tempfile.TemporaryDirectory(prefix="cxsim-run-") as folder:
        for attempt in range(2):
            started = time.perf_counter()
            subprocess.run([*command, "--out", os.path.join(folder, str(attempt))],
                           capture_output=True, check=True)
            seconds.append(time.perf_counter() - started)
    shown = ["cxsim", "run", os.path.relpath(command[2]), *command[3:]]
    return {"command": " ".join(shown), "first_seconds": seconds[0],
            "second_seconds": seconds[1]}
