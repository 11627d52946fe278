"""Regenerate the stored reference tables (``make reference``).

The tables pin the model's numbers: ``tests/test_reference.py`` compares fresh runs with
them bit for bit. Regenerating them is a deliberate act. Commit the new tables on their
own, with a message that says which change to the model moved the numbers and why that
change is intended; a diff in these files that no such message explains is a regression.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.reference.cases import CASES, path_of, run_case, to_text  # noqa: E402


def main() -> None:
    for case in CASES:
        frame = run_case(case)
        to_text(frame).to_csv(path_of(case), index=False)
        print(f"{path_of(case).name}: {len(frame)} rows")


if __name__ == "__main__":
    main()
