"""Test again every mutant a run left alive, against the tests as they are now.

    python tests/mutation/recheck.py FOLDER...   (folders written by tests/mutation/run.sh)

A run keeps the tests it started with; tests written since may kill its survivors. Each
survivor is written into a scratch copy of the package and its current tests and put to
the same test command as a run (``run.sh --runner``); the first failing test is reported,
or "survives".
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from summary import CAUGHT, NOT_RUN, ROOT, merged, mutated_source

RUN = ROOT / "tests" / "mutation" / "run.sh"


def scratch_copy() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="cxsim-recheck-"))
    for part in ("simulation", "scenarios", "tests"):
        shutil.copytree(ROOT / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def verdict(folder: Path, filename: str, source: str) -> str:
    (folder / filename).write_text(source)
    runner = subprocess.run([str(RUN), "--runner", filename], capture_output=True, text=True,
                            check=True).stdout.split()
    env = dict(os.environ, PYTHONPATH=str(folder), NUMBA_DISABLE_JIT="1",
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    done = subprocess.run(runner, cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode == 0:
        return "survives"
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", done.stdout, re.MULTILINE)
    return f"killed by {failed[0] if failed else 'an error importing the package'}"


def main(names: list[str]) -> None:
    folder = scratch_copy()
    try:
        for (filename, line_number, line, index), (status, mutant_id, run) in sorted(
                merged([Path(name) for name in names]).items()):
            if status in CAUGHT or status in NOT_RUN:
                continue
            original = (ROOT / filename).read_text()
            mutant = mutated_source(filename, line_number, line, index)
            try:
                result = verdict(folder, filename, mutant)
            finally:
                (folder / filename).write_text(original)
            print(f"{filename}:{line_number} ({run.name} #{mutant_id}) "
                  f"{mutant.splitlines()[line_number - 1].strip()!r}: {result}", flush=True)
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main(sys.argv[1:])
