"""Running a study into its result store, chunk by chunk, resumably."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from .executors import InProcess, RunCounter
from .scenario import Scenario
from .store import StudyStore, plan_chunks
from .study import LoadedStudy, Parameter, point_variant


def run_chunk(base: dict, parameters: list[dict], points: list[dict],
              point_indices: tuple[int, ...], seeds: tuple[int, ...], root_seed: int,
              outputs: list[str], reference: str | None = None, scale_company: bool = False,
              progress=None):
    """Simulate one chunk; plain arguments in, (runs, steps, agent-steps) out (safe to ship
    to workers). ``progress(runs)`` is called as runs finish."""
    from .simulate import simulate

    scenario = Scenario.model_validate(base)
    params = [Parameter.model_validate(p) for p in parameters]
    variants = [point_variant(scenario, params, points[i], reference, f"point {i}",
                              scale_company) for i in point_indices]
    labels = [str(i) for i in point_indices]
    try:
        results = [simulate(variants, seeds=list(seeds), root_seed=root_seed, labels=labels,
                            progress=progress)]
    except ValueError:  # points that change the journey's shape cannot share one batch
        results = [simulate(v, seeds=list(seeds), root_seed=root_seed, labels=[label],
                            progress=progress)
                   for v, label in zip(variants, labels)]
    runs = pd.concat([r.summary() for r in results], ignore_index=True)
    steps = pd.concat([r.steps[["variant", "seed", "step", *outputs]] for r in results],
                      ignore_index=True)
    for frame in (runs, steps):
        frame.insert(0, "point", frame.pop("variant").astype(int))
    return runs, steps, sum(r.manifest["agent_steps"] for r in results)


def run_study(loaded: LoadedStudy, folder: str | Path, *, executor=None, resume: bool = False,
              progress=None) -> dict:
    """Compute every unfinished chunk of the study into ``folder``. Returns a small report
    (chunks computed and skipped, seconds, agent-steps simulated).

    ``progress(runs)`` is called as runs finish, every few seconds wherever the chunks run
    (simulate sizes its batches to take a few seconds each). On resume, chunks that are unfinished, or whose files no
    longer match the manifest (``damaged`` in the report, one line each), are computed again.
    """
    executor = executor or InProcess()
    study = loaded.study
    store = StudyStore(folder)
    chunks = plan_chunks(len(loaded.points), list(range(study.seeds)), study.chunk_runs)
    damaged = store.open_for_resume(loaded, chunks) if resume else []
    todo = [c for c in chunks if not (resume and store.done(c))]
    base = loaded.base.model_dump(mode="json", exclude_none=True)
    started = time.perf_counter()
    with executor:
        if not resume:
            store.create(loaded, chunks, **executor.describe())
        parameters = [p.model_dump(mode="json") for p in study.parameters]
        tasks = [(c.index, (base, parameters, loaded.points, c.points, c.seeds,
                            study.root_seed, list(study.outputs), study.reference,
                            study.scale_company))
                 for c in todo]
        counter = RunCounter(progress) if progress is not None else None
        agent_steps = 0
        for index, (runs, steps, chunk_agent_steps) in executor.imap(run_chunk, tasks,
                                                                     counter):
            chunk = chunks[index]
            store.write(chunk, runs, steps)
            agent_steps += chunk_agent_steps
            if counter is not None:
                counter.update(index, chunk.runs)  # reports still on their way count once
    return {"chunks": len(chunks), "computed": len(todo), "skipped": len(chunks) - len(todo),
            "seconds": time.perf_counter() - started, "agent_steps": agent_steps,
            "damaged": damaged}
