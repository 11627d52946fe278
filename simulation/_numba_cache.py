"""Keep numba's on-disk cache in a folder named after the jitted sources.

numba checks only the timestamp of the file that defines a cached function, but our kernels
inline the rules from other modules; an edit to ``rules.py`` would otherwise leave a stale
compiled kernel in use. Keying the cache folder by a hash of every jitted source file makes
any edit start a fresh cache, and a second process with unchanged sources reuses it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

_JITTED_SOURCES = ("layout.py", "mathfn.py", "rng.py", "rules.py", "batch.py")


def _source_hash(package: Path) -> str:
    digest = hashlib.sha256()
    for name in _JITTED_SOURCES:
        digest.update((package / name).read_bytes())
    digest.update(numba.__version__.encode())
    return digest.hexdigest()[:16]


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".probe"
        probe.write_text("")
        probe.unlink()
        return True
    except OSError:
        return False


def use_source_keyed_cache(package: Path | None = None) -> Path | None:
    """Point numba's cache at ``numba-<hash>`` inside the first writable base folder: the
    user's ``NUMBA_CACHE_DIR`` if set, else ``__pycache__`` beside the sources, else the user's
    cache folder. Returns the folder (None if none is writable: numba then caches nowhere).

    A folder the user chose is keyed too (numba alone would serve a kernel compiled from older
    rules), but other versions' caches in it are left alone: it may be shared.
    """
    package = package or Path(__file__).resolve().parent
    key = _source_hash(package)
    chosen = os.environ.get("NUMBA_CACHE_DIR")
    bases = [Path(chosen)] if chosen else [
        package / "__pycache__",
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cxsim"]
    for base in bases:
        folder = base / f"numba-{key}"
        if _writable(folder):
            numba.config.CACHE_DIR = str(folder)
            if not chosen:
                _remove_stale(base, folder)
            return folder
    return None


def _remove_stale(base: Path, current: Path) -> None:
    """Caches of earlier source versions are never read again; free their space."""
    import shutil

    for old in base.glob("numba-*"):
        if old != current:
            shutil.rmtree(old, ignore_errors=True)
