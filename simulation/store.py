"""Results folders: the one place that writes them, reads them and checks what it reads.

Three kinds of folder, told apart by ``kind`` in ``manifest.json`` (the third,
``cxsim-calibration``, is written by ``cxsim calibrate``: see "calibration folders" below)::

    cxsim-results (run, compare)       cxsim-study (sweep)
      manifest.json                      manifest.json
      steps.parquet                      points.parquet
      runs.parquet                       chunks/runs-00003.parquet    (chunk 3, per run)
      events.parquet (when asked)        chunks/steps-00003.parquet   (chunk 3, per step)

The manifest records what every data file must hold: its columns and their types, its number
of rows, and the SHA-256 of its bytes. Every read checks a file against its record, so a
damaged file, or one copied from another folder, is an error naming it (never a silent wrong
answer), and a manifest from another folder is refused because the files do not match it.

Every file is written under a temporary name and renamed, so it appears whole or not at all,
with the permissions the umask gives. A study's manifest lists, when the study starts, how
many rows each chunk must hold; when a chunk's two files are written, their records are added
and the manifest is rewritten. A chunk without records is unfinished: it is never read, and
``--resume`` computes it. A recorded chunk whose files no longer match is damaged: reading
refuses it, naming the file, and ``--resume`` computes it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from .manifest import FORMAT, build_manifest
from .scenario import Scenario
from .study import LoadedStudy, Study, study_fingerprint

RESULTS_KIND = "cxsim-results"
STUDY_KIND = "cxsim-study"
CALIBRATION_KIND = "cxsim-calibration"
MANIFEST = "manifest.json"
POINTS = "points.parquet"


class ResultsError(Exception):
    """A results folder that cannot be read (missing, damaged or not cxsim's)."""


# ------------------------------------------------------------------------- writing files

def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _publish(tmp: Path, path: Path) -> None:
    try:
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: Path, text: str) -> None:
    """Write a text file whole or not at all."""
    tmp = _temporary(path)
    try:
        with open(tmp, "x", encoding="utf-8") as fh:  # a new file: the umask sets its mode
            fh.write(text)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _publish(tmp, path)


def write_table(frame: pd.DataFrame, path: Path) -> dict:
    """Write a Parquet file whole or not at all; returns its record for the manifest."""
    tmp = _temporary(path)
    try:
        frame.to_parquet(tmp, index=False)
        record = _record_of(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _publish(tmp, path)
    return record


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _schema(path: Path) -> tuple[dict[str, str], int]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path)
    return ({field.name: str(field.type) for field in meta.schema_arrow},
            meta.metadata.num_rows)


def _record_of(path: Path) -> dict:
    columns, rows = _schema(path)
    return {"columns": columns, "rows": rows, "sha256": _sha256(path)}


# ------------------------------------------------------------------------- reading files

def read_table(path: Path, record: dict) -> pd.DataFrame:
    """A Parquet file that holds exactly what its manifest record says (else ResultsError)."""
    if not path.is_file():
        raise ResultsError(f"{path}: missing (the manifest lists it); the folder is damaged")
    try:
        columns, rows = _schema(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise ResultsError(f"{path}: not a readable Parquet file ({type(exc).__name__}); "
                           "the folder is damaged") from None
    if columns != record["columns"]:
        raise ResultsError(f"{path}: columns {_listed(columns)} differ from the manifest's "
                           f"{_listed(record['columns'])}; a damaged or foreign file")
    if rows != record["rows"]:
        raise ResultsError(f"{path}: {rows:,} rows where the manifest records "
                           f"{record['rows']:,}; a damaged or foreign file")
    if _sha256(path) != record["sha256"]:
        raise ResultsError(f"{path}: content differs from the manifest's record (sha256); "
                           "a damaged or foreign file")
    try:
        return pd.read_parquet(path)
    except Exception as exc:
        raise ResultsError(f"{path}: unreadable ({type(exc).__name__})") from None


def _listed(columns: dict) -> str:
    names = list(columns)
    return "(" + ", ".join(names[:6]) + (f", ... {len(names)} in all" if len(names) > 6
                                           else "") + ")"


def read_manifest(folder: Path, kinds=(RESULTS_KIND, STUDY_KIND)) -> dict:
    """The checked manifest of a cxsim results folder of one of ``kinds`` (else ResultsError)."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not folder.is_dir():
        raise ResultsError(f"{folder}: no such results folder")
    if not path.is_file():
        raise ResultsError(f"{path}: missing; not a cxsim results folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ResultsError(f"{path}: corrupt JSON ({exc.__class__.__name__})") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(manifest, dict) or manifest.get("kind") not in kinds:
        raise ResultsError(f"{path}: kind: expected {' or '.join(map(repr, kinds))}; "
                           "not a cxsim results folder of that kind")
    if manifest.get("format") != FORMAT:
        raise ResultsError(f"{path}: format: {_short(manifest.get('format'))} (this cxsim "
                           f"reads format {FORMAT}; compute the results again)")
    _check_manifest(path, manifest)
    return manifest


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:30] + "..."


def _check_manifest(path: Path, m: dict) -> None:
    """The fields every reader relies on, with their types; a scenario or study inside must
    validate, and a study's fingerprint must be that of its study and base scenario."""
    def fail(field: str, allowed: str):
        raise ResultsError(f"{path}: {field}: {allowed}; a damaged or foreign manifest")

    for field, kind in (("engine", str), ("root_seed", int), ("labels", list),
                        ("scenarios", list), ("versions", dict), ("files", dict)):
        if not isinstance(m.get(field), kind) or isinstance(m.get(field), bool):
            fail(field, f"expected a {kind.__name__}")
    seeds = m.get("seeds")
    if not (isinstance(seeds, list) and all(isinstance(s, int) for s in seeds)) and not (
            isinstance(seeds, dict) and isinstance(seeds.get("first"), int)
            and isinstance(seeds.get("count"), int)):
        fail("seeds", "expected a list of run indices or {first, count}")
    if not m["labels"] or len(m["labels"]) != len(m["scenarios"]):
        fail("labels", "expected one label per scenario")
    try:
        scenarios = [Scenario.model_validate(s) for s in m["scenarios"]]
    except (ValidationError, RecursionError):
        fail("scenarios", "not valid scenarios")
    for name, record in m["files"].items():
        if not _is_record(record):
            fail(f"files.{_short(name)}", "expected columns, rows and sha256")
    if m["kind"] in (RESULTS_KIND, CALIBRATION_KIND):
        needed = ("steps.parquet", "runs.parquet") if m["kind"] == RESULTS_KIND \
            else tuple(filename for _, filename in CALIBRATION_TABLES)
        for name in needed:
            if name not in m["files"]:
                fail("files", f"expected a record of {name}")
        return
    if POINTS not in m["files"]:
        fail("files", f"expected a record of {POINTS}")
    try:
        study = Study.model_validate(m.get("study"))
    except (ValidationError, RecursionError):
        fail("study", "not a valid study")
    if m.get("fingerprint") != study_fingerprint(study, scenarios[0]):
        fail("fingerprint", "does not match the study and scenario it records")
    chunks = m.get("chunks")
    if not isinstance(chunks, list) or not all(
            isinstance(c, dict) and isinstance(c.get("rows"), dict) for c in chunks):
        fail("chunks", "expected one entry per chunk with its rows")
    for i, chunk in enumerate(chunks):
        files = chunk.get("files")
        if files is not None and not (isinstance(files, dict) and all(
                _is_record(files.get(kind)) for kind in ("runs", "steps"))):
            fail(f"chunks.{i}.files", "expected records of runs and steps")


def _is_record(record) -> bool:
    return isinstance(record, dict) and isinstance(record.get("columns"), dict) \
        and isinstance(record.get("rows"), int) and isinstance(record.get("sha256"), str)


def folder_kind(folder: Path) -> str:
    """RESULTS_KIND or STUDY_KIND of a checked results folder."""
    return read_manifest(folder)["kind"]


# ----------------------------------------------------------------- run/compare folders

#: the tables of a run/compare folder: (name, file, required)
RESULT_TABLES = (("steps", "steps.parquet", True), ("runs", "runs.parquet", True),
                 ("events", "events.parquet", False), ("episodes", "episodes.parquet", False),
                 ("decisions", "decisions.parquet", False))


def write_results_folder(folder: Path, tables: dict[str, pd.DataFrame | None],
                         manifest: dict) -> dict:
    """Write a run/compare folder (tables first, the manifest with their records last).
    Returns the manifest as written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, filename, _ in RESULT_TABLES:
        if tables.get(name) is not None:
            files[filename] = write_table(tables[name], folder / filename)
    manifest = {**manifest, "files": files}
    write_text(folder / MANIFEST, json.dumps(manifest, indent=2))
    return manifest


def read_results_folder(folder: Path) -> tuple[dict, dict[str, pd.DataFrame | None]]:
    """(manifest, tables) of a run/compare folder, every table checked against its record."""
    folder = Path(folder)
    manifest = read_manifest(folder, kinds=(RESULTS_KIND,))
    tables = {}
    for name, filename, _ in RESULT_TABLES:
        record = manifest["files"].get(filename)
        tables[name] = read_table(folder / filename, record) if record is not None else None
    return manifest, tables


# ------------------------------------------------------------------------- study folders

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

    With many seeds a chunk is a block of seeds for every point (up to ``chunk_runs``
    points), so that points which differ only in their strategy simulate their shared
    burn-in once per seed (``simulate``); with few seeds a chunk is several points with all
    their seeds (run together as one parallel batch).
    """
    chunks = []
    if len(seeds) >= chunk_runs:
        per_chunk = min(n_points, chunk_runs)
        block = max(1, chunk_runs // per_chunk)
        for first in range(0, n_points, per_chunk):
            points = tuple(range(first, min(n_points, first + per_chunk)))
            for start in range(0, len(seeds), block):
                chunks.append(Chunk(len(chunks), points, tuple(seeds[start:start + block])))
    else:
        per_chunk = max(1, chunk_runs // len(seeds))
        for start in range(0, n_points, per_chunk):
            chunks.append(Chunk(len(chunks), tuple(range(start, min(n_points, start + per_chunk))),
                                tuple(seeds)))
    return chunks


def _planned(loaded: LoadedStudy, chunks: list[Chunk]) -> list[dict]:
    """Each chunk as the manifest plans it: its first and last point and seed, and the rows
    its runs and steps files must hold."""
    horizons = [loaded.variant(i).horizon for i in range(len(loaded.points))]
    return [{"points": [c.points[0], c.points[-1]], "seeds": [c.seeds[0], c.seeds[-1]],
             "rows": {"runs": c.runs,
                      "steps": sum(len(c.seeds) * (horizons[p] + 1) for p in c.points)}}
            for c in chunks]


class StudyStore:
    """A study's folder: created once, filled chunk by chunk, read back checked."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.chunks_dir = self.folder / "chunks"
        self._manifest: dict | None = None

    # ------------------------------------------------------------------ create / open
    def create(self, loaded: LoadedStudy, chunks: list[Chunk], **provenance) -> None:
        if self.folder.exists() and any(self.folder.iterdir()):
            raise ResultsError(f"{self.folder}: folder exists and is not empty; use --resume "
                               "to continue it or choose a new --out")
        self.chunks_dir.mkdir(parents=True, exist_ok=True)
        points = pd.DataFrame([{"point": i, "label": loaded.labels[i],
                                **{k: str(v) if isinstance(v, str) else v for k, v in p.items()}}
                               for i, p in enumerate(loaded.points)])
        points_record = write_table(points, self.folder / POINTS)
        planned = _planned(loaded, chunks)
        manifest = build_manifest(
            variants=[loaded.base], labels=["base"], seeds=loaded.seeds,
            root_seed=loaded.study.root_seed, engine="batch", agent_steps=0, elapsed=0.0,
            study=loaded.study.model_dump(mode="json"), study_file=loaded.source,
            fingerprint=loaded.fingerprint(), points=loaded.points, chunks=planned,
            files={POINTS: points_record}, kind=STUDY_KIND, **provenance)
        self._save_manifest(manifest)

    def manifest(self) -> dict:
        if self._manifest is None:
            self._manifest = read_manifest(self.folder, kinds=(STUDY_KIND,))
        return self._manifest

    def _save_manifest(self, manifest: dict) -> None:
        write_text(self.folder / MANIFEST, json.dumps(manifest, indent=2))
        self._manifest = manifest

    def open_for_resume(self, loaded: LoadedStudy, chunks: list[Chunk]) -> list[str]:
        """Check the folder holds this study; forget the records of damaged chunks so they
        are computed again. Returns one line per damaged chunk."""
        manifest = self.manifest()
        if manifest.get("fingerprint") != loaded.fingerprint():
            raise ResultsError(f"{self.folder / MANIFEST}: fingerprint: this folder holds "
                               "a different study (scenario, parameters, design or seeds "
                               "changed); resume needs the same study")
        if [{k: c.get(k) for k in ("points", "seeds", "rows")}
                for c in manifest["chunks"]] != _planned(loaded, chunks):
            raise ResultsError(f"{self.folder / MANIFEST}: chunks: planned otherwise than this "
                               "version of cxsim plans the study (another version, or a "
                               "damaged manifest); compute it again in a new folder")
        self._verify_points(manifest)
        self.chunks_dir.mkdir(exist_ok=True)
        for leftover in self.chunks_dir.glob(".*.tmp"):
            leftover.unlink()  # debris of a killed writer; never a result
        damaged = []
        for chunk in chunks:
            if manifest["chunks"][chunk.index].get("files") is None:
                continue
            try:
                self._read_chunk(chunk.index)
            except ResultsError as exc:
                damaged.append(f"{exc}: computing chunk {chunk.index} again")
                manifest["chunks"][chunk.index].pop("files")
        if damaged:
            self._save_manifest(manifest)
        return damaged

    # ------------------------------------------------------------------------ chunks
    def _path(self, kind: str, index: int) -> Path:
        return self.chunks_dir / f"{kind}-{index:05d}.parquet"

    def finished(self) -> int:
        """How many chunks are recorded as written (0 while the folder has no manifest)."""
        try:
            manifest = read_manifest(self.folder, kinds=(STUDY_KIND,))
        except ResultsError:
            return 0
        return sum(c.get("files") is not None for c in manifest["chunks"])

    def done(self, chunk: Chunk) -> bool:
        return self.manifest()["chunks"][chunk.index].get("files") is not None

    def write(self, chunk: Chunk, runs: pd.DataFrame, steps: pd.DataFrame) -> None:
        """Write a chunk's two files, then record them in the manifest."""
        manifest = self.manifest()
        entry = manifest["chunks"][chunk.index]
        for kind, frame in (("runs", runs), ("steps", steps)):
            if len(frame) != entry["rows"][kind]:
                raise ValueError(f"chunk {chunk.index}: {len(frame)} {kind} rows, "
                                 f"planned {entry['rows'][kind]}")
        entry["files"] = {"steps": write_table(steps, self._path("steps", chunk.index)),
                          "runs": write_table(runs, self._path("runs", chunk.index))}
        self._save_manifest(manifest)

    def _read_chunk(self, index: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        entry = self.manifest()["chunks"][index]
        frames = []
        for kind in ("runs", "steps"):
            path, record = self._path(kind, index), entry["files"][kind]
            if record["rows"] != entry["rows"].get(kind):
                raise ResultsError(f"{self.folder / MANIFEST}: chunks.{index}: the record of "
                                   f"{path.name} does not match the plan; a damaged manifest")
            frames.append(read_table(path, record))
        return frames[0], frames[1]

    def _verify_points(self, manifest: dict) -> pd.DataFrame:
        points = read_table(self.folder / POINTS, manifest["files"][POINTS])
        if len(points) != len(manifest.get("points") or []):
            raise ResultsError(f"{self.folder / POINTS}: {len(points)} points where the "
                               "manifest lists another number; a damaged or foreign file")
        return points

    # ---------------------------------------------------------- tables of a layer above
    def record_table(self, name: str, frame: pd.DataFrame) -> None:
        """Write a table a layer above derives from the chunks (``worlds.parquet``) into the
        folder and record it in the manifest, so that reading it is checked like a chunk."""
        manifest = self.manifest()
        manifest["files"][name] = write_table(frame, self.folder / name)
        self._save_manifest(manifest)

    def read_recorded(self, name: str) -> pd.DataFrame:
        """A table written by ``record_table``, checked against its record."""
        record = self.manifest()["files"].get(name)
        if record is None:
            raise ResultsError(f"{self.folder / name}: not recorded in the manifest; the "
                               "run did not finish (continue it with --resume)")
        return read_table(self.folder / name, record)

    # ----------------------------------------------------------------------- reading
    def read_runs(self) -> pd.DataFrame:
        """The per-run rows of every finished chunk (each file checked), by point and seed;
        the per-step files are not read."""
        manifest = self.manifest()
        finished = [i for i, c in enumerate(manifest["chunks"]) if c.get("files") is not None]
        if not finished:
            raise ResultsError(f"{self.folder}: no finished chunks yet")
        runs = []
        for i in finished:
            path, record = self._path("runs", i), manifest["chunks"][i]["files"]["runs"]
            runs.append(read_table(path, record))
        return pd.concat(runs, ignore_index=True).sort_values(["point", "seed"]) \
            .reset_index(drop=True)

    def read(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
        """(points, runs, steps, manifest) of every finished chunk, each file checked."""
        manifest = self.manifest()
        points = self._verify_points(manifest)
        finished = [i for i, c in enumerate(manifest["chunks"]) if c.get("files") is not None]
        if not finished:
            raise ResultsError(f"{self.folder}: no finished chunks yet")
        runs, steps = zip(*(self._read_chunk(i) for i in finished))
        runs_frame = pd.concat(runs, ignore_index=True).sort_values(["point", "seed"])
        steps_frame = pd.concat(steps, ignore_index=True).sort_values(["point", "seed", "step"])
        return points, runs_frame.reset_index(drop=True), steps_frame.reset_index(drop=True), \
            manifest


# ------------------------------------------------------------------- calibration folders
#
#   manifest.json       written last, when the calibration is complete
#   calibration.json    the plan, written first: what --resume must find unchanged
#   search.journal      Optuna's journal of every trial and posterior draw (appended to)
#   best.toml           the scenario with the best values found (its sha256 in the manifest)
#   posterior.parquet, forecast.parquet, fit.parquet, trials.parquet

CALIBRATION_PLAN = "calibration.json"
SEARCH_JOURNAL = "search.journal"
BEST_SCENARIO = "best.toml"
#: the tables of a calibration folder: (name, file)
CALIBRATION_TABLES = (("posterior", "posterior.parquet"), ("forecast", "forecast.parquet"),
                      ("fit", "fit.parquet"), ("trials", "trials.parquet"))


def start_calibration_folder(folder: Path, plan: dict, resume: bool) -> None:
    """Create a calibration's folder with its plan, or (``resume``) check that the folder
    holds the same calibration: the plan's fingerprint covers the calibration file (its
    trial budget aside), the base scenario, the observed data and the held-out weeks."""
    folder = Path(folder)
    path = folder / CALIBRATION_PLAN
    if not resume:
        if folder.exists() and any(folder.iterdir()):
            raise ResultsError(f"{folder}: folder exists and is not empty; use --resume to "
                               "continue it or choose a new --out")
        folder.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(plan, indent=2))
        return
    if not path.is_file():
        raise ResultsError(f"{path}: missing; not a calibration folder to resume")
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: corrupt JSON ({exc.__class__.__name__}); a damaged "
                           "folder") from None
    if not isinstance(found, dict) or found.get("fingerprint") != plan["fingerprint"]:
        raise ResultsError(f"{path}: fingerprint: this folder holds a different calibration "
                           "(file, scenario, observed data, seeds or --holdout-after changed); "
                           "resume needs the same one")


def write_calibration_folder(folder: Path, tables: dict[str, pd.DataFrame], best_toml: str,
                             manifest: dict) -> dict:
    """Write a calibration's results (tables and best.toml first, the manifest with their
    records last). Returns the manifest as written."""
    folder = Path(folder)
    files = {filename: write_table(tables[name], folder / filename)
             for name, filename in CALIBRATION_TABLES}
    write_text(folder / BEST_SCENARIO, best_toml)
    manifest = {**manifest, "files": files,
                "best_scenario": {"file": BEST_SCENARIO,
                                  "sha256": _sha256(folder / BEST_SCENARIO)}}
    write_text(folder / MANIFEST, json.dumps(manifest, indent=2))
    return manifest


def read_calibration_folder(folder: Path) -> tuple[dict, dict[str, pd.DataFrame]]:
    """(manifest, tables) of a complete calibration folder, every table checked."""
    folder = Path(folder)
    manifest = read_manifest(folder, kinds=(CALIBRATION_KIND,))
    tables = {name: read_table(folder / filename, manifest["files"][filename])
              for name, filename in CALIBRATION_TABLES}
    return manifest, tables
