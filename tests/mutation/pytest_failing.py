"""pytest for the mutation run: exit code 1 whenever the tests do not all pass.

mutmut 2 counts only exit code 1 as "a test failed". A mutant that breaks the package on
import (a module constant set to None, an assertion at import that no longer holds) stops
pytest before any test runs, with exit code 2 or 4, and mutmut would call it a survivor.
Any failure to pass is a kill here; mutmut's first run, without a mutant, must pass, so a
broken command cannot kill every mutant.
"""

import sys

import pytest

if __name__ == "__main__":
    sys.exit(0 if pytest.main(sys.argv[1:]) == 0 else 1)
