"""Summarise mutation runs: the score and every mutant not killed, with its diff.

    python tests/mutation/summary.py FOLDER...   (folders written by tests/mutation/run.sh)

Killed counts mutants a test failed on, and timeouts (a mutant that loops for ever is caught
by the runner's time limit); skipped ones (compiler options, see mutmut_config.py) are
counted apart and left out of the score.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

MUTMUT = str(Path(sys.executable).parent / "mutmut")
CAUGHT = ("ok_killed", "bad_timeout")


def mutants(folder: Path):
    with sqlite3.connect(folder / ".mutmut-cache") as db:
        return db.execute(
            "select m.id, m.status, f.filename, l.line_number + 1, l.line from Mutant m "
            "join Line l on m.line = l.id join SourceFile f on l.sourcefile = f.id "
            "order by f.filename, l.line_number, m.id").fetchall()


def main(folders: list[str]) -> None:
    total = Counter()
    for name in folders:
        folder = Path(name)
        rows = mutants(folder)
        counts = Counter(status for _, status, *_ in rows)
        total += counts
        times = [(folder / f).read_text().strip() if (folder / f).exists() else "?"
                 for f in ("started", "finished")]
        print(f"{folder}: {dict(counts)}  (run {times[0]} .. {times[1]})")
        for mutant_id, status, filename, line_number, line in rows:
            if status in CAUGHT or status in ("skipped", "untested"):
                continue
            diff = subprocess.run([MUTMUT, "show", str(mutant_id)], cwd=folder,
                                  capture_output=True, text=True).stdout
            changed = [d for d in diff.splitlines() if d[:1] in "+-" and d[:3] not in "+++---"]
            print(f"  {status} #{mutant_id} {filename}:{line_number}: {' / '.join(changed)}")
    tested = sum(total.values()) - total["skipped"] - total["untested"]
    caught = sum(total[s] for s in CAUGHT)
    print(f"killed {caught} of {tested} tested mutants ({100.0 * caught / max(tested, 1):.1f}%); "
          f"{total['skipped']} skipped, {total['untested']} not yet tested")


if __name__ == "__main__":
    main(sys.argv[1:])
