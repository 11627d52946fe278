"""Summarise mutation runs: the score and every mutant not killed, with its diff.

    python tests/mutation/summary.py FOLDER...   (folders written by tests/mutation/run.sh)

Folders that share a file's mutants between them (``MUTATION_LINES``) are merged: a mutant
counts once, with the status of the folder that tested it. Killed counts mutants a test
failed on (mutmut's "suspicious" among them: a test failed, more slowly than the baseline
run took, as on a busy machine) and timeouts (a mutant that loops for ever is caught by the
time limit); skipped ones (compiler options, see mutmut_config.py) are counted apart and
left out of the score.
"""

from __future__ import annotations

import sqlite3
import sys
from collections import Counter
from pathlib import Path

from mutmut import Context, RelativeMutationID, mutate
from mutmut_config import compiler_option

ROOT = Path(__file__).resolve().parents[2]
CAUGHT = ("ok_killed", "ok_suspicious", "bad_timeout")
NOT_RUN = ("skipped", "untested")


def mutants(folder: Path):
    """(file, line number, line, index) -> (status, mutant id) for one folder's run."""
    # read-only: a running mutmut owns the cache (``mutmut show`` would rewrite its line
    # table from the source file, which holds a mutant while a test runs)
    with sqlite3.connect(f"file:{folder / '.mutmut-cache'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "select f.filename, l.line_number + 1, l.line, m.\"index\", m.status, m.id "
            "from Mutant m join Line l on m.line = l.id join SourceFile f on l.sourcefile = f.id"
        ).fetchall()
    return {row[:4]: (row[4], row[5]) for row in rows}


def merged(folders: list[Path]):
    """Each mutant once: the folder that tested it wins; untested beats skipped."""
    rank = {"skipped": 0, "untested": 1}
    result = {}
    for folder in folders:
        for key, (status, mutant_id) in mutants(folder).items():
            if key not in result or rank.get(status, 2) > rank.get(result[key][0], 2):
                result[key] = (status, mutant_id, folder)
    return result


def mutated_source(filename: str, line_number: int, line: str, index: int) -> str:
    """The file with the mutant, made again from the source in the working tree."""
    source = (ROOT / filename).read_text()
    mutation = RelativeMutationID(line=line, index=index, line_number=line_number - 1,
                                  filename=filename)
    return mutate(Context(source=source, mutation_id=mutation, filename=filename))[0]


def main(names: list[str]) -> None:
    folders = [Path(name) for name in names]
    for folder in folders:
        times = [(folder / f).read_text().strip() if (folder / f).exists() else "?"
                 for f in ("started", "finished")]
        print(f"{folder}: run {times[0]} .. {times[1]}")
    result = merged(folders)
    # a part stopped early leaves the compiler options past its lines untested, not skipped
    result = {key: ("skipped", *rest) if compiler_option(key[2]) else (status, *rest)
              for key, (status, *rest) in result.items()}
    counts = Counter(status for status, _, _ in result.values())
    for (filename, line_number, line, index), (status, mutant_id, folder) in sorted(
            result.items()):
        if status not in CAUGHT and status not in NOT_RUN:
            mutant = mutated_source(filename, line_number, line, index)
            print(f"  {status} {filename}:{line_number} ({folder.name} #{mutant_id}):\n"
                  f"    - {line.strip()}\n    + {mutant.splitlines()[line_number - 1].strip()}")
    tested = sum(counts.values()) - counts["skipped"] - counts["untested"]
    caught = sum(counts[s] for s in CAUGHT)
    print(f"{dict(counts)}")
    print(f"killed {caught} of {tested} tested mutants ({100.0 * caught / max(tested, 1):.1f}%); "
          f"{counts['skipped']} skipped, {counts['untested']} not yet tested")


if __name__ == "__main__":
    main(sys.argv[1:])
