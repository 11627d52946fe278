"""exp, tanh and the logistic function, compiled inline into the loops over customers.

numba turns ``np.exp`` into a call to the C library. Inside a loop over customers that call
is the dearest thing in the week: beyond the function itself, every floating-point register
is caller-saved, so the loop spills and reloads its live state around each call (measured:
about 10 ns of a 56 ns customer-week for the single ``exp`` behind the appraisal's tanh).
This ``exp`` is plain arithmetic that the compiler inlines and schedules with the rest of
the loop: Tang's table method, e^x = 2^m * 2^(j/256) * e^r with |r| <= ln 2 / 512 and a
degree-4 polynomial for e^r. It agrees with the library's exp to within 2 ulp
(``tests/test_mathfn.py`` checks it over the whole range the model uses).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_TABLE_BITS = 8
_TABLE_SIZE = 1 << _TABLE_BITS
#: 2^(j/256), j = 0..255, correctly rounded
_POW2_FRACTION = np.exp2(np.arange(_TABLE_SIZE) / _TABLE_SIZE)
_SCALE = _TABLE_SIZE / math.log(2.0)
# ln 2 / 256 split in two (fdlibm's constants): the high part ends in zero bits, so k * high
# is exact, and the low part carries the rest of ln 2 to well beyond double precision
_LN2_BY_SIZE_HI = float.fromhex("0x1.62e42feep-1") / _TABLE_SIZE
_LN2_BY_SIZE_LO = float.fromhex("0x1.a39ef35793c76p-33") / _TABLE_SIZE
#: the range of arguments with a finite, normal result; outside it, the nearest end
LOWEST = -708.0
HIGHEST = 709.0


@intrinsic
def _double_from_bits(typingctx, bits):
    """Reinterpret an int64's bits as a float64 (how 2^m is built without a call)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@njit(cache=True, error_model="numpy", inline="always")
def exp(x):
    """e^x for x in [LOWEST, HIGHEST]; clamped to that range outside it."""
    x = LOWEST if x < LOWEST else (HIGHEST if x > HIGHEST else x)
    kf = np.floor(x * _SCALE + 0.5)
    k = np.int64(kf)
    r = (x - kf * _LN2_BY_SIZE_HI) - kf * _LN2_BY_SIZE_LO
    r2 = r * r  # Estrin's scheme: a short dependency chain
    p = (1.0 + r) + r2 * ((1.0 / 2.0 + r * (1.0 / 6.0)) + r2 * (1.0 / 24.0))
    two_to_m = _double_from_bits((np.int64(1023) + (k >> _TABLE_BITS)) << 52)
    return two_to_m * (_POW2_FRACTION[k & (_TABLE_SIZE - 1)] * p)


@njit(cache=True, error_model="numpy", inline="always")
def tanh(x):
    """The hyperbolic tangent from one exp: sign(x) (1 - e^(-2|x|)) / (1 + e^(-2|x|))."""
    e = exp(-2.0 * abs(x))
    return math.copysign((1.0 - e) / (1.0 + e), x)


@njit(cache=True, error_model="numpy", inline="always")
def logistic(z):
    """1 / (1 + e^(-z))."""
    return 1.0 / (1.0 + exp(-z))
