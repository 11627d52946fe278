"""mutmut's hooks for ``make mutation`` (copied to the run folder's root, where mutmut looks).

Lines that only tell numba how to compile (``@njit(...)`` and the shared ``_JIT`` options)
are not mutated: the run executes the rules as plain Python (``NUMBA_DISABLE_JIT=1``), where
those options are ignored, so every such mutant would survive without saying anything
about the model. ``docs/mutation.md`` counts them as skipped.

``MUTATION_LINES=first:stop`` in the environment restricts a run to the mutants on lines
first .. stop - 1 (counted from 1), so that one file's mutants can be shared between
processes; ``tests/mutation/summary.py`` merges their folders.
"""

import os


def _lines():
    first, stop = os.environ.get("MUTATION_LINES", "1:1000000").split(":")
    return int(first), int(stop)


def compiler_option(line: str) -> bool:
    """Whether a source line only tells numba how to compile (its mutants are skipped)."""
    line = line.strip()
    return line.startswith("@njit") or line.startswith("_JIT = dict(")


def pre_mutation(context):
    first, stop = _lines()
    if compiler_option(context.current_source_line):
        context.skip = True
    elif not first <= context.current_line_index + 1 < stop:
        context.skip = True
