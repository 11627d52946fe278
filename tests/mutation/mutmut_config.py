"""mutmut's hooks for ``make mutation`` (copied to the run folder's root, where mutmut looks).

Lines that only tell numba how to compile (``@njit(...)`` and the shared ``_JIT`` options)
are not mutated: the run executes the rules as plain Python (``NUMBA_DISABLE_JIT=1``), where
those options are ignored, so every such mutant would survive without saying anything
about the model. ``docs/mutation.md`` counts them as skipped.
"""


def pre_mutation(context):
    line = context.current_source_line.strip()
    if line.startswith("@njit") or line.startswith("_JIT = dict("):
        context.skip = True
