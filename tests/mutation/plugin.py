"""The pytest plugin of the mutation run (``-p tests.mutation.plugin``).

The rules run as plain Python (``NUMBA_DISABLE_JIT=1``): a mutant then costs seconds, not a
recompile of every kernel. Everything but one helper of ``mathfn`` runs unchanged as Python
and gives the same numbers bit for bit (the reference tables pass both ways); this plugin
supplies that helper's twin. It does nothing when the compiler is on.
"""

from __future__ import annotations

import struct

import numba


def _double_from_bits(bits):
    """Plain-Python twin of ``mathfn._double_from_bits`` (an intrinsic only compiled code
    can call): the float64 whose bits are the int64 ``bits``."""
    return struct.unpack("<d", struct.pack("<q", int(bits)))[0]


def pytest_configure(config):
    if not numba.config.DISABLE_JIT:
        return
    from simulation import mathfn

    mathfn._double_from_bits = _double_from_bits
    # uint64 arithmetic in rng wraps on purpose; numpy scalars warn about it
    config.addinivalue_line("filterwarnings", "ignore:overflow encountered:RuntimeWarning")

