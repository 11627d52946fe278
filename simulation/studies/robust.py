"""Running a robust study: every world x every policy on the same seeds, resumably.

The folder is a study folder (``cxsim sweep``'s store) whose manifest also records the robust
study; it holds, once the run is complete, ``worlds.parquet`` (one row per world: ``world``,
one column per fitted path of a posterior and one per uncertainty) and ``outcomes.parquet``
(one row per world and policy: the mean of every kept output over the world's seeds at the
horizon, its 95% interval, and for every objective the paired gap to the world's best
policy). With ``[adaptive]``, later rounds add blocks of seeds to the worlds whose two best
policies are not yet told apart; round k > 0 is a study folder of its own under ``rounds/``.
Each round's work depends only on the rounds before it, so a killed run continued with
``resume`` writes the same files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ..executors import InProcess
from ..results import OUTPUT_RANGE, mean_interval
from ..store import MANIFEST, STUDY_KIND, ResultsError, StudyStore, read_manifest
from ..sweep import run_study
from .robust_file import LoadedRobust, Objective, RobustStudy

WORLDS = "worlds.parquet"
OUTCOMES = "outcomes.parquet"
ROUNDS = "rounds"
LEVEL = 0.95


def round_folder(folder: Path, index: int) -> Path:
    return folder if index == 0 else folder / ROUNDS / f"{index:03d}"


class _Open:
    """An executor already opened by the caller: rounds use it without opening it again."""

    def __init__(self, executor):
        self.executor = executor

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap(self, fn, tasks, counter=None):
        return self.executor.imap(fn, tasks, counter)

    def describe(self) -> dict:
        return self.executor.describe()


def run_robust(loaded: LoadedRobust, folder: str | Path, *, executor=None,
               resume: bool = False, progress=None) -> dict:
    """Run (or continue) a robust study into ``folder``; returns a report: rounds, runs
    done, ``runs_fixed`` (the runs of every world at ``adaptive.max_seeds``), chunks
    computed and skipped, seconds and agent-steps simulated (this call's share), and damaged
    chunks computed again."""
    folder = Path(folder)
    robust = loaded.robust
    executor = executor or InProcess()
    if resume:
        _check_same_study(folder, loaded)
    worlds = list(range(robust.design.worlds))
    first_seed, seeds = 0, robust.seeds
    report = {"rounds": 0, "runs": 0, "computed": 0, "skipped": 0, "seconds": 0.0,
              "agent_steps": 0, "damaged": []}
    frames = []
    with executor:  # opened once: a Dask cluster serves every round
        opened = _Open(executor)
        while worlds:
            index = report["rounds"]
            study = loaded.round_study(worlds, first_seed, seeds)
            where = round_folder(folder, index)
            continuing = resume and (where / MANIFEST).is_file()
            if index > 0 and not continuing and where.exists():
                shutil.rmtree(where)  # killed before its manifest was written: no result
            provenance = ({"robust": {"study": robust.model_dump(mode="json"),
                                      "fingerprint": loaded.fingerprint(),
                                      "source": loaded.source}}
                          if index == 0 else {"robust_round": index})
            done = run_study(study, where, executor=opened, resume=continuing,
                             progress=progress, provenance=provenance)
            for key in ("computed", "skipped", "seconds", "agent_steps"):
                report[key] += done[key]
            report["damaged"] += done["damaged"]
            frames.append(_tagged_runs(StudyStore(where).read_runs(), study.points,
                                       robust.kept_outputs))
            report["rounds"] += 1
            if robust.adaptive is None:
                break
            runs = pd.concat(frames, ignore_index=True)
            counts = runs.groupby("world")["seed"].nunique()
            first_seed += seeds
            seeds = min(robust.adaptive.block, robust.adaptive.max_seeds - first_seed)
            worlds = [] if seeds <= 0 else [
                w for w in unresolved_worlds(runs, robust) if counts[w] == first_seed]
    runs = pd.concat(frames, ignore_index=True)
    report["runs"] = len(runs)
    max_seeds = robust.adaptive.max_seeds if robust.adaptive else robust.seeds
    report["runs_fixed"] = robust.design.worlds * len(robust.policies) * max_seeds
    outcomes = outcomes_table(runs, [p.name for p in robust.policies], robust.kept_outputs,
                              robust.objectives)
    store = StudyStore(folder)
    store.record_table(WORLDS, loaded.worlds)
    store.record_table(OUTCOMES, outcomes)
    return report


def _check_same_study(folder: Path, loaded: LoadedRobust) -> None:
    manifest = read_manifest(folder, kinds=(STUDY_KIND,))
    recorded = (manifest.get("robust") or {}).get("fingerprint")
    if recorded != loaded.fingerprint():
        raise ResultsError(f"{folder / MANIFEST}: robust.fingerprint: this folder holds a "
                           "different robust study (scenario, uncertainties, posterior, "
                           "policies, design or seeds changed); resume needs the same study")


def _tagged_runs(runs: pd.DataFrame, points: list[dict], outputs: list[str]) -> pd.DataFrame:
    """A round's runs with the world (an integer) and policy of each point."""
    world = np.array([int(p["world"]) for p in points])
    policy = np.array([p["policy"] for p in points], dtype=object)
    point = runs["point"].to_numpy()
    return pd.DataFrame({"world": world[point], "policy": policy[point],
                         "seed": runs["seed"].to_numpy(), **{o: runs[o] for o in outputs}})


def _signed(values, objective: Objective):
    """Values turned so that more is better."""
    return values if objective.sense == "max" else -values


def unresolved_worlds(runs: pd.DataFrame, robust: RobustStudy) -> list[int]:
    """Worlds whose two best policies on the first objective are not yet told apart: the
    interval of their paired difference (at ``adaptive.confidence``) holds 0 and is wider
    than ``adaptive.tolerance`` on each side."""
    adaptive, objective = robust.adaptive, robust.objectives[0]
    if len(robust.policies) < 2:
        return []
    unresolved = []
    for world, group in runs.groupby("world", sort=True):
        table = group.pivot(index="seed", columns="policy", values=objective.output)
        table = _signed(table, objective)
        first, second = table.mean().sort_values(ascending=False).index[:2]
        _, low, high = mean_interval((table[first] - table[second]).to_numpy(),
                                     adaptive.confidence)
        if low <= 0 <= high and (high - low) / 2 > adaptive.tolerance:
            unresolved.append(int(world))
    return unresolved


def outcomes_table(runs: pd.DataFrame, policies: list[str], outputs: list[str],
                   objectives: list[Objective], level: float = LEVEL) -> pd.DataFrame:
    """One row per world and policy: ``seeds``; for every output its mean over the seeds
    with its interval (``<output>_low``, ``<output>_high``); for every objective the gap to
    the world's best policy by mean (``<output>_gap``: how much worse, 0 for the best) with
    the interval of the paired difference (``<output>_gap_low``, ``<output>_gap_high``)."""
    rows = []
    for world, group in runs.groupby("world", sort=True):
        by_policy = {p: g.set_index("seed").sort_index() for p, g in group.groupby("policy")}
        best = {}
        for objective in objectives:
            means = {p: _signed(by_policy[p][objective.output].mean(), objective)
                     for p in policies}
            best[objective.output] = max(policies, key=lambda p: means[p])  # first of equals
        for policy in policies:
            own = by_policy[policy]
            row = {"world": int(world), "policy": policy, "seeds": len(own)}
            for output in outputs:
                mean, low, high = mean_interval(own[output].to_numpy(), level,
                                                OUTPUT_RANGE.get(output))
                row |= {output: mean, f"{output}_low": low, f"{output}_high": high}
            for objective in objectives:
                leader = by_policy[best[objective.output]][objective.output]
                gap = _signed(leader - own[objective.output], objective).to_numpy()
                mean, low, high = mean_interval(gap, level)
                name = objective.output
                row |= {f"{name}_gap": mean, f"{name}_gap_low": low, f"{name}_gap_high": high}
            rows.append(row)
    return pd.DataFrame(rows)


def read_robust(folder: str | Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """(robust study as recorded, worlds, outcomes) of a finished robust folder, checked."""
    folder = Path(folder)
    store = StudyStore(folder)
    manifest = store.manifest()
    robust = manifest.get("robust")
    if not isinstance(robust, dict) or not isinstance(robust.get("study"), dict):
        raise ResultsError(f"{folder / MANIFEST}: robust: missing; not a robust study folder "
                           "(cxsim robust writes one)")
    try:
        study = RobustStudy.model_validate(robust["study"])
    except (ValidationError, RecursionError):
        raise ResultsError(f"{folder / MANIFEST}: robust.study: not a valid robust study; a "
                           "damaged or foreign manifest") from None
    worlds = store.read_recorded(WORLDS)
    outcomes = store.read_recorded(OUTCOMES)
    return {"study": study, "source": robust.get("source", "")}, worlds, outcomes
