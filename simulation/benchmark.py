"""Throughput measurements shared by ``cxsim bench`` and ``benchmarks/``."""

from __future__ import annotations

import time

import numba

from .scenario import Scenario, load_scenario, resolve_path
from .simulate import simulate


def measure(scenario: Scenario, seeds: int, engine: str = "batch",
            threads: int | None = None) -> dict:
    """Run once (after a warm-up for compilation) and report agent-steps per second.

    Agent-steps count the weeks of customers who were active (churned customers cost
    almost nothing and are not counted); ``nominal`` counts cohort x horizon x seeds.
    """
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        simulate(scenario.model_copy(update={"horizon": 2, "cohort": 10}), seeds=1,
                 engine=engine)  # compile (or load the cache) outside the timing
        started = time.perf_counter()
        results = simulate(scenario, seeds=seeds, engine=engine)
        elapsed = time.perf_counter() - started
    finally:
        numba.set_num_threads(previous)
    steps = results.manifest["agent_steps"]
    return {"engine": engine, "threads": threads or previous, "seeds": seeds,
            "customers": scenario.cohort, "weeks": scenario.horizon, "seconds": elapsed,
            "agent_steps": steps, "rate": steps / elapsed,
            "nominal_rate": scenario.cohort * scenario.horizon * seeds / elapsed}


def describe(m: dict) -> str:
    return (f"{m['engine']:>5} {m['threads']} thread(s): {m['seeds']:>5} seeds x "
            f"{m['customers']:,} customers x {m['weeks']} weeks in {m['seconds']:7.2f} s = "
            f"{m['rate'] / 1e6:8.3f} M agent-steps/s (nominal {m['nominal_rate'] / 1e6:.3f} M/s)")


def quick_benchmark(seeds: int = 200, mesa_seeds: int = 1):
    baseline = load_scenario(resolve_path("baseline"))
    batch = measure(baseline, seeds)
    yield describe(batch)
    mesa = measure(baseline.model_copy(update={"cohort": 500, "horizon": 52}), mesa_seeds,
                   engine="mesa")
    yield describe(mesa)
    yield f"batch / mesa: {batch['rate'] / mesa['rate']:,.0f}x"
