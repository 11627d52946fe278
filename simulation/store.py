"""The result store of a study: one folder, a manifest, and atomically written chunks.

Layout::

    manifest.json                 resolved study, points, seeds, provenance
    points.parquet                one row per point: its index, label and parameter values
    chunks/runs-00003.parquet     one row per run at the horizon (chunk 3)
    chunks/steps-00003.parquet    per-step values of the kept outputs (chunk 3)

A chunk's two files are written to temporary names and renamed, steps first; a chunk counts
as done only when its runs file exists. A killed sweep leaves at most temporary files, which
are never read and are removed on resume.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .manifest import build_manifest
from .results import (STUDY_KIND, ResultsError, _atomic_parquet, _atomic_write,
                      read_manifest)
from .study import LoadedStudy



@dataclass(frozen=True)
class Chunk:
    index: int
    points: tuple[int, ...]
    seeds: tuple[int, ...]

    @property
    def runs(self) -> int:
        return len(self.points) * len(self.seeds)


def plan_chunks(n_points: int, seeds: list[int], chunk_runs: int) -> list[Chunk]:
    """Split points x seeds into chunks of about ``chunk_runs`` runs.

    With many seeds a chunk is one point and a block of seeds; with few seeds a chunk is
    several points with all their seeds (run together as one parallel batch).
    """
    chunks = []
    if len(seeds) >= chunk_runs:
        for p in range(n_points):
            for start in range(0, len(seeds), chunk_runs):
                chunks.append(Chunk(len(chunks), (p,), tuple(seeds[start:start + chunk_runs])))
    else:
        per_chunk = max(1, chunk_runs // len(seeds))
        for start in range(0, n_points, per_chunk):
            chunks.append(Chunk(len(chunks), tuple(range(start, min(n_points, start + per_chunk))),
                                tuple(seeds)))
    return chunks


class StudyStore:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.chunks_dir = self.folder / "chunks"

    # ------------------------------------------------------------------ create / open
    def create(self, loaded: LoadedStudy, chunks: list[Chunk], **provenance) -> None:
        if self.folder.exists() and any(self.folder.iterdir()):
            raise ResultsError(f"{self.folder}: folder exists and is not empty; use --resume "
                               "to continue it or choose a new --out")
        self.chunks_dir.mkdir(parents=True, exist_ok=True)
        points = pd.DataFrame([{"point": i, "label": loaded.labels[i],
                                **{k: str(v) if isinstance(v, str) else v for k, v in p.items()}}
                               for i, p in enumerate(loaded.points)])
        _atomic_parquet(points, self.folder / "points.parquet")
        manifest = build_manifest(
            variants=[loaded.base], labels=["base"], seeds=list(range(loaded.study.seeds)),
            root_seed=loaded.study.root_seed, engine="batch", agent_steps=0, elapsed=0.0,
            study=loaded.study.model_dump(mode="json"), study_file=loaded.source,
            fingerprint=loaded.fingerprint(), points=loaded.points, chunks=len(chunks),
            kind=STUDY_KIND, **provenance)
        _atomic_write(self.folder / "manifest.json", json.dumps(manifest, indent=2))

    def manifest(self) -> dict:
        return read_manifest(self.folder, kinds=(STUDY_KIND,))

    def open_for_resume(self, loaded: LoadedStudy) -> None:
        manifest = self.manifest()
        if manifest.get("fingerprint") != loaded.fingerprint():
            raise ResultsError(f"{self.folder / 'manifest.json'}: fingerprint: this folder holds "
                               "a different study (scenario, parameters, design or seeds "
                               "changed); resume needs the same study")
        for leftover in self.chunks_dir.glob(".*.tmp"):
            leftover.unlink()  # debris of a killed writer; never a result

    # ------------------------------------------------------------------------ chunks
    def _runs_path(self, index: int) -> Path:
        return self.chunks_dir / f"runs-{index:05d}.parquet"

    def _steps_path(self, index: int) -> Path:
        return self.chunks_dir / f"steps-{index:05d}.parquet"

    def done(self, chunk: Chunk) -> bool:
        return self._runs_path(chunk.index).is_file() and self._steps_path(chunk.index).is_file()

    def write(self, chunk: Chunk, runs: pd.DataFrame, steps: pd.DataFrame) -> None:
        _atomic_parquet(steps, self._steps_path(chunk.index))
        _atomic_parquet(runs, self._runs_path(chunk.index))

    # ----------------------------------------------------------------------- reading
    def read(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
        """(points, runs, steps, manifest) of every finished chunk."""
        manifest = self.manifest()
        try:
            points = pd.read_parquet(self.folder / "points.parquet")
            runs = [pd.read_parquet(p) for p in sorted(self.chunks_dir.glob("runs-*.parquet"))]
            steps = [pd.read_parquet(self._steps_path(int(p.stem.split("-")[1])))
                     for p in sorted(self.chunks_dir.glob("runs-*.parquet"))]
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise ResultsError(f"{self.folder}: unreadable chunk or points file "
                               f"({exc.__class__.__name__}); the folder is damaged") from None
        if not runs:
            raise ResultsError(f"{self.folder}: no finished chunks yet")
        runs_frame = pd.concat(runs, ignore_index=True).sort_values(["point", "seed"])
        steps_frame = pd.concat(steps, ignore_index=True).sort_values(["point", "seed", "step"])
        return points, runs_frame.reset_index(drop=True), steps_frame.reset_index(drop=True), \
            manifest
