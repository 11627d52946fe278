"""Provenance: what a result was computed from, so that it can be computed again."""

from __future__ import annotations

import datetime as _dt
import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path

#: the manifest's layout version; 2 records every data file (columns, rows, sha256)
FORMAT = 2

PACKAGES = ("cxsim", "numpy", "numba", "mesa", "pandas", "pyarrow", "pydantic", "scipy")


@functools.cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    """Looked up once per process: a study writes a manifest per chunk (reading package
    metadata costs tens of milliseconds each time)."""
    versions = []
    for name in PACKAGES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return tuple(versions)


def package_versions() -> dict[str, str]:
    return dict(_installed_versions())


@functools.cache
def git_commit() -> str | None:
    """The commit of the source tree the package runs from, if it is a git checkout: looked
    up once per process, as the code running is the code imported."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def build_manifest(*, variants, labels, seeds, root_seed, engine, agent_steps, elapsed,
                   kind: str = "cxsim-results", **extra) -> dict:
    import numba

    seeds = list(seeds)
    contiguous = seeds == list(range(seeds[0], seeds[0] + len(seeds))) if seeds else False
    return {
        "kind": kind,
        "format": FORMAT,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "engine": engine,
        "root_seed": root_seed,
        "seeds": {"first": seeds[0], "count": len(seeds)} if contiguous else seeds,
        "labels": list(labels),
        "scenarios": [v.model_dump(mode="json", exclude_none=True) for v in variants],
        "threads": numba.get_num_threads(),
        "agent_steps": agent_steps,
        "elapsed_seconds": round(elapsed, 3),
        "versions": package_versions(),
        "python": platform.python_version(),
        "git_commit": git_commit(),
        **extra,
    }


def seed_list(manifest: dict) -> list[int]:
    seeds = manifest["seeds"]
    if isinstance(seeds, dict):
        return list(range(seeds["first"], seeds["first"] + seeds["count"]))
    return list(seeds)
