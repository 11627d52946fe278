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


def use_source_keyed_cache() -> None:
    """Point numba's cache at ``__pycache__/numba-<hash>`` (or the user's cache folder)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return  # the user chose a folder
    package = Path(__file__).resolve().parent
    key = _source_hash(package)
    for base in (package / "__pycache__",
                 Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cxsim"):
        folder = base / f"numba-{key}"
        if _writable(folder):
            numba.config.CACHE_DIR = str(folder)
            _remove_stale(base, folder)
            return


def _remove_stale(base: Path, current: Path) -> None:
    """Caches of earlier source versions are never read again; free their space."""
    import shutil

    for old in base.glob("numba-*"):
        if old != current:
            shutil.rmtree(old, ignore_errors=True)
