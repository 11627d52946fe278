"""``simulate``: run a scenario (or several variants of it) for many seeds on either engine."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence

import numpy as np

from . import layout as L
from . import rng
from .compiled import Compiled, compile_scenario, stack
from .diagnostics import Diagnostics
from .results import Results
from .scenario import Scenario

ENGINES = ("batch", "mesa")


def _seed_list(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError("seeds must be at least 1")
        return list(range(int(seeds)))
    seeds = [int(s) for s in seeds]
    if not seeds or min(seeds) < 0:
        raise ValueError("seeds must be a non-empty list of non-negative integers")
    return seeds


def _check_memory(runs: int, horizon: int) -> None:
    """Refuse, before starting, a simulation whose per-week table cannot fit in this
    machine's memory (it is held whole: the engine's array, then the table made from it)."""
    needed = 2 * runs * (horizon + 1) * L.N_OUT * 8
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if needed > total:
        raise MemoryError(f"{runs:,} runs x {horizon + 1:,} weeks need about "
                          f"{needed / 2**30:,.0f} GiB for the per-week table, more than this "
                          f"machine's {total / 2**30:,.0f} GiB; use fewer seeds or weeks, or a "
                          "study (cxsim sweep), which keeps one chunk at a time")


def simulate(scenario: Scenario | Sequence[Scenario], seeds: int | Iterable[int] = 100, *,
             root_seed: int = 0, engine: str = "batch", labels: Sequence[str] | None = None,
             events: bool = False, diagnostics: Diagnostics | bool | None = None,
             progress=None) -> Results:
    """Run every scenario variant for every seed; return per-step results.

    ``scenario`` may be one scenario or a list of variants of one journey (strategies,
    mixes, parameter points); run i of every variant uses the same random numbers (common
    random numbers), so variants are compared seed by seed. ``seeds`` is a count or a list
    of run indices under ``root_seed``. ``events=True`` also keeps per-customer join and
    churn steps. ``diagnostics`` (``True`` or a ``Diagnostics``: sample and row cap) also
    keeps the issue episodes, the decisions and per-segment weekly columns. ``progress(done_runs)``
    is called as runs finish (batch: about every second).
    """
    variants = [scenario] if isinstance(scenario, Scenario) else list(scenario)
    if labels is None:
        labels = [v.strategy.label for v in variants]
    if len(labels) != len(variants):
        raise ValueError("one label per variant")
    seed_list = _seed_list(seeds)
    _check_memory(len(variants) * len(seed_list), max(v.horizon for v in variants))
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    if diagnostics is True:
        diagnostics = Diagnostics()
    diagnostics = diagnostics or None
    started = time.perf_counter()
    run = _run_batch if engine == "batch" else _run_mesa
    out, ev, records, agent_steps = run(variants, seed_list, root_seed, events, diagnostics,
                                        progress)
    elapsed = time.perf_counter() - started
    return Results.from_arrays(out, ev, variants=variants, labels=list(labels),
                               seeds=seed_list, root_seed=root_seed, engine=engine,
                               agent_steps=int(agent_steps), elapsed=elapsed,
                               records=records, diagnostics=diagnostics)


#: memory the diagnostic record tables of one chunk of runs may take
_RECORD_BYTES_PER_CHUNK = 256 * 2**20


def start_classes(compiled: Sequence[Compiled]) -> list[int]:
    """A class per variant: variants that differ only in what they spend from week 1 on (the
    plan and triggers: strategies compared from one start) share a class, and for one seed
    reach week 0 in the same state. Everything else a run reads is compared byte for byte."""
    classes, seen = [], {}
    for c in compiled:
        start = tuple((a.shape, a.tobytes()) for name, a in zip(Compiled._fields, c)
                      if name not in ("plan", "triggers"))
        classes.append(seen.setdefault(start, len(seen)))
    return classes


def _start_groups(classes: list[int], n_seeds: int) -> list[np.ndarray]:
    """The runs (variant-major: run = variant x seeds + seed) that share a start, one group
    per class and seed, each in variant order."""
    variants_of: dict[int, list[int]] = {}
    for v, c in enumerate(classes):
        variants_of.setdefault(c, []).append(v)
    return [np.array([v * n_seeds + s for v in members])
            for members in variants_of.values() for s in range(n_seeds)]


def _run_batch(variants, seed_list, root_seed, events, diagnostics, progress,
               seconds_per_chunk=1.0, max_chunk=256):
    """Runs in chunks of whole start groups (``_start_groups``: a burn-in is simulated once
    for the strategies that share it), sized to take about ``seconds_per_chunk`` each (so a
    progress bar moves every second or so) in a multiple of the threads (so that none waits
    for another's last group), at most ``max_chunk`` groups (fewer when diagnostic records
    would outgrow their memory; with diagnostics every run is a group of its own). Every run
    depends only on its own key and variant, so the numbers do not depend on how the runs
    are grouped or chunked."""
    import numba

    from .batch import run_batch

    compiled = [compile_scenario(v) for v in variants]
    stacked = stack(compiled)
    seed_keys = rng.run_keys(root_seed, seed_list)
    n_seeds = len(seed_list)
    runs = len(variants) * n_seeds
    variant = np.repeat(np.arange(len(variants)), n_seeds)
    keys = np.tile(seed_keys, len(variants))
    classes = list(range(len(variants))) if diagnostics else start_classes(compiled)
    groups = _start_groups(classes, n_seeds)
    capacity = max(v.cohort for v in variants) * 2 if events else 0
    out = np.empty((runs, variants[0].horizon + 1, L.N_OUT))  # variants share the horizon
    if diagnostics is not None:
        max_chunk = max(1, min(max_chunk,
                               _RECORD_BYTES_PER_CHUNK // diagnostics.bytes_per_run()))
    evs, records, steps = [None] * runs, [None] * runs, 0
    threads = numba.get_num_threads()
    start, size = 0, min(max_chunk, threads)
    while start < len(groups):
        stop = min(len(groups), start + size)
        chunk = groups[start:stop]
        rows = np.concatenate(chunk)
        group_start = np.concatenate([[0], np.cumsum([len(g) for g in chunk])])
        began = time.perf_counter()
        while True:  # with events: until every run's customers fit (rarely a second pass)
            batch = run_batch(stacked, keys[rows], variant[rows], group_start=group_start,
                              events_per_run=capacity, diagnostics=diagnostics)
            customers = batch.customers
            if not events or customers.max() <= capacity:
                break
            capacity = int(customers.max())
        out[rows] = batch.out
        for j, r in enumerate(rows):
            if events:
                evs[r] = batch.events[j, :customers[j]]
            if diagnostics is not None:
                records[r] = batch.records.run(j)
        steps += int(batch.agent_steps.sum())
        if progress is not None:
            progress(len(rows))
        rate = (stop - start) / max(time.perf_counter() - began, 1e-6)
        size = int(min(max_chunk, max(1, min(rate * seconds_per_chunk, 4 * size))))
        size = min(max_chunk, max(threads, size - size % threads))  # as many for each thread
        start = stop
    return out, (evs if events else None), (records if diagnostics else None), steps


def _run_mesa(variants, seed_list, root_seed, events, diagnostics, progress):
    from .mesa_engine import JourneyModel

    outs, evs, records, steps = [], [], [], 0
    for v in variants:
        for seed in seed_list:
            model = JourneyModel(v, seed=seed, root_seed=root_seed, diagnostics=diagnostics)
            steps += model.burn_in_agent_steps
            for _ in range(v.horizon):  # weeks 1..horizon (the call after only stops it)
                steps += len(model.agents)
                model.step()
            frame = model.datacollector.get_model_vars_dataframe()
            out = np.zeros((len(frame), L.N_OUT))
            out[:, L.O_STEP] = np.arange(len(frame))
            for col, name in enumerate(L.STEP_COLUMNS):
                if name != "step":
                    out[:, col] = frame[name].to_numpy()
            outs.append(out)
            if events:
                evs.append(model.events())
            if diagnostics is not None:
                records.append(model.records.run(0))
            if progress is not None:
                progress(1)
    return np.stack(outs), (evs if events else None), (records if diagnostics else None), steps
