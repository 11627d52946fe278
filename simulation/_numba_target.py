"""Let numba fill whole AVX-512 registers on processors that have them.

LLVM tunes code for AVX-512 processors to prefer 256-bit vectors (older ones lowered their
clock for 512-bit instructions). The vectorised passes of a customer's week, the
counter-based draws with their 64-bit multiplications above all, run faster at full width:
on the reference machine (a 2-core Xeon, Emerald Rapids) the customer passes of a week took
about 21 ns per customer instead of 24. The numbers do not change: the width decides how
many customers one instruction handles, not the arithmetic (``tests/test_engines.py``
checks that results are bit-identical with plain SSE2 code). A user's own
``NUMBA_CPU_NAME`` or ``NUMBA_CPU_FEATURES`` is left alone.
"""

from __future__ import annotations

import os
import sys

FULL_WIDTH = "-prefer-256-bit"


def prefer_full_width_vectors() -> None:
    """Set ``NUMBA_CPU_FEATURES`` to the host's features without the 256-bit preference.

    Call it before numba compiles anything: numba rereads its settings when a ``NUMBA_``
    variable changes, so the variable is set (and reread at once if numba is already
    imported) before any other numba setting is made in code.
    """
    if os.environ.get("NUMBA_CPU_FEATURES") or os.environ.get("NUMBA_CPU_NAME"):
        return
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features().flatten()
    if "+avx512f" not in features.split(","):
        return
    os.environ["NUMBA_CPU_FEATURES"] = f"{features},{FULL_WIDTH}"
    if "numba" in sys.modules:
        sys.modules["numba"].config.reload_config()
