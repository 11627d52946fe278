"""Reproducible, order-free random numbers.

Every draw is a pure function of (run key, customer, step, purpose): a counter-based
generator built from the SplitMix64 finaliser. No draw consumes state, so the numbers a
customer meets do not depend on which engine runs them, how many threads share the work,
in what order customers are stepped, or whether another customer has already churned.
That is what makes the two engines identical and what gives strategy comparisons common
random numbers for free.

Company-level draws (arrivals) use ``COMPANY`` as their customer number.

The counter packs (customer, step, purpose) into disjoint bit fields of one 64-bit word:
purpose in bits 0-15, step in bits 16-31, customer in bits 32-63. Within those ranges the
map is injective, and the hash of the counter is a bijection, so no two draws of one run
coincide. Scenarios are validated to stay inside the ranges (``scenario.MAX_HORIZON``,
``MAX_CUSTOMERS`` here, checked again by the batch engine as customers arrive).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_TO_UNIT_32 = 1.0 / 4294967296.0  # 2**-32

# Bit fields of the counter (see the module docstring).
N_PURPOSE_BITS = 16
N_STEP_BITS = 16
N_CUSTOMER_BITS = 32
#: steps a run may reach: the step field's range
MAX_STEP = 2**N_STEP_BITS - 1
#: customers a run may ever admit (ids 0 .. MAX_CUSTOMERS - 1); the desk's queue packs ids
#: in 30 bits (``rules._QUEUE_ID_BITS``), which binds before the counter's 32
MAX_CUSTOMERS = 2**30
#: the customer number used for company-level draws (never a real customer id)
COMPANY = 2**N_CUSTOMER_BITS - 1

# Draw purposes: one per random decision in the model. A purpose's draws never collide
# with another's. Numbers are part of the reproducibility contract: do not renumber.
NURTURE_AND_MOVE = 1  # one draw, two 32-bit uniforms: the check-in and the move
# 2 was the move's own draw before it shared one with the check-in
FAILURE = 3
CATCH = 4
SEVERITY = 5
PERFORMANCE_AND_MOOD = 6  # one draw, two normals: performance noise and the mood shock
SELF_SERVICE_TRY = 7
SELF_SERVICE_OK = 8
VOICE = 9
QUEUE_KEY = 10
RESOLUTION = 11
ABANDON = 12
CHURN = 13
SILENT_CHURN = 14
SEGMENT = 15
REFERRED = 16
ARRIVALS = 17
# 18 is taken: ARRIVALS + 1 keys the arrivals' normal approximation
DIAGNOSTIC_SAMPLE = 19  # which customers diagnostics record; no rule of the model uses it
# model v2's purposes: 31 and 30 (its customers), 20 (the warm start)
FADE = 31  # a silent (lived-with) issue fades or is worked around this week
CHURN_PROPENSITY = 30  # the customer's churn propensity, one normal drawn when they join
TENURE = 20  # a warm start: where in the scheduled visits' cycle a starting customer is
# Normals may take extra draws keyed purpose + 32 + 64 k; purposes stay below 32. The slow
# path's attempt k stays below 2**N_PURPOSE_BITS / 64 = 1024 unless ~1,000 successive
# rejections happen, each with probability about 0.01: never, in any run that can be made.


@njit(cache=True, error_model="numpy", inline="always")
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, error_model="numpy", inline="always")
def bits(key, customer, step, purpose):
    """64 random bits for one (run key, customer, step, purpose)."""
    counter = ((np.uint64(customer) << np.uint64(N_PURPOSE_BITS + N_STEP_BITS))
               | (np.uint64(step) << np.uint64(N_PURPOSE_BITS)) | np.uint64(purpose))
    # disjoint fields: injective for purpose, step < 2**16 and customer < 2**32; the key
    # shifts the whole sequence
    return _mix(_mix(np.uint64(key) + counter * _GOLDEN))


@njit(cache=True, error_model="numpy", inline="always")
def uniform(key, customer, step, purpose):
    """A float in [0, 1) with 53 random bits."""
    return float(bits(key, customer, step, purpose) >> np.uint64(11)) * _TO_UNIT


@njit(cache=True, error_model="numpy", inline="always")
def uniform_pair(key, customer, step, purpose):
    """Two floats in [0, 1) with 32 random bits each, from the halves of one draw: for two
    decisions every customer takes every week, where a hash saved is time saved."""
    b = bits(key, customer, step, purpose)
    return (float(b >> np.uint64(32)) * _TO_UNIT_32,
            float(b & np.uint64(0xFFFFFFFF)) * _TO_UNIT_32)


# Marsaglia & Tsang's ziggurat (2000) on 32-bit halves of one hash: two normals for the
# price of one draw, and no transcendental function on the fast path (about 99% of draws).
# The rare slow path takes further draws keyed by an attempt number, so it stays
# counter-based. Tables are built once here and frozen into the compiled code.
def _ziggurat_tables():
    m1 = 2147483648.0
    dn = tn = 3.442619855899
    vn = 9.91256303526217e-3
    kn = np.zeros(128, dtype=np.int64)
    wn = np.zeros(128)
    fn = np.zeros(128)
    q = vn / np.exp(-0.5 * dn * dn)
    kn[0] = int((dn / q) * m1)
    kn[1] = 0
    wn[0] = q / m1
    wn[127] = dn / m1
    fn[0] = 1.0
    fn[127] = np.exp(-0.5 * dn * dn)
    for i in range(126, 0, -1):
        dn = np.sqrt(-2.0 * np.log(vn / dn + np.exp(-0.5 * dn * dn)))
        kn[i + 1] = int((dn / tn) * m1)
        tn = dn
        fn[i] = np.exp(-0.5 * dn * dn)
        wn[i] = dn / m1
    return kn, wn, fn


_KN, _WN, _FN = _ziggurat_tables()
_ZIG_R = 3.442620


@njit(cache=True, error_model="numpy", inline="always")
def _ziggurat_fast(hz):
    """One normal from a signed 32-bit integer ``hz`` if it falls in the ziggurat's core
    (about 99% do), else NaN: the slow path's extra draws are taken apart, so that a loop of
    these compiles to vector instructions."""
    iz = hz & 127
    return hz * _WN[iz] if abs(hz) < _KN[iz] else np.nan


@njit(cache=True, error_model="numpy")
def _ziggurat_slow(hz, key, customer, step, purpose):
    """The ziggurat's rejection steps for an ``hz`` outside its core."""
    attempt = 1
    while True:
        iz = hz & 127
        x = hz * _WN[iz]
        if iz == 0:  # the tail beyond R
            while True:
                xt = -np.log(_unit(key, customer, step, purpose + 64 * attempt)) / _ZIG_R
                y = -np.log(_unit(key, customer, step, purpose + 64 * (attempt + 1)))
                attempt += 2
                if y + y >= xt * xt:
                    return _ZIG_R + xt if hz > 0 else -_ZIG_R - xt
        u = _unit(key, customer, step, purpose + 64 * attempt)
        attempt += 1
        if _FN[iz] + u * (_FN[iz - 1] - _FN[iz]) < np.exp(-0.5 * x * x):
            return x
        hz = _signed32(bits(key, customer, step, purpose + 64 * attempt))
        attempt += 1
        iz = hz & 127
        if abs(hz) < _KN[iz]:
            return hz * _WN[iz]


@njit(cache=True, error_model="numpy", inline="always")
def _unit(key, customer, step, purpose):
    """A float in (0, 1): never 0, so its log is finite."""
    return (float(bits(key, customer, step, purpose) >> np.uint64(11)) + 0.5) * _TO_UNIT


@njit(cache=True, error_model="numpy", inline="always")
def _signed32(b):
    return np.int64(b & np.uint64(0xFFFFFFFF)) - 2147483648


@njit(cache=True, error_model="numpy", inline="always")
def normal_pair(key, customer, step, purpose):
    """Two independent standard normals from one draw (purpose must be below 32)."""
    z1, z2 = normal_pair_fast(bits(key, customer, step, purpose))
    return complete_normal_pair(z1, z2, key, customer, step, purpose)


@njit(cache=True, error_model="numpy", inline="always")
def normal_pair_fast(b):
    """The fast path of ``normal_pair`` on its draw ``b``: each normal, or NaN where
    ``complete_normal_pair`` must finish it."""
    return _ziggurat_fast(_signed32(b >> np.uint64(32))), _ziggurat_fast(_signed32(b))


@njit(cache=True, error_model="numpy", inline="always")
def complete_normal_pair(z1, z2, key, customer, step, purpose):
    """Finish the normals ``normal_pair_fast`` left as NaN (its draw is taken again)."""
    if z1 != z1 or z2 != z2:
        b = bits(key, customer, step, purpose)
        if z1 != z1:
            z1 = _ziggurat_slow(_signed32(b >> np.uint64(32)), key, customer, step, purpose)
        if z2 != z2:
            z2 = _ziggurat_slow(_signed32(b), key, customer, step, purpose + 32)
    return z1, z2


@njit(cache=True, error_model="numpy", inline="always")
def poisson(key, step, mean):
    """A Poisson count for one company-level event per step.

    Inversion by sequential search over the CDF from a single uniform: exact, one draw,
    and a larger mean never gives fewer arrivals for the same draw (monotone coupling of
    paired runs). Means above 500 use the normal approximation with continuity correction,
    which acquisition never reaches in a plausible scenario.
    """
    if mean <= 0.0:
        return 0
    u = uniform(key, COMPANY, step, ARRIVALS)
    if mean > 500.0:
        z = normal_pair(key, COMPANY, step, ARRIVALS + 1)[0]
        return max(0, int(np.floor(mean + np.sqrt(mean) * z + 0.5)))
    # Start the search at the mode to keep it short and numerically safe (no exp(-mean) underflow).
    mode = int(np.floor(mean))
    log_pmf_mode = mode * np.log(mean) - mean - _log_factorial(mode)
    pmf_mode = np.exp(log_pmf_mode)
    cdf_below_mode = _cdf_below(mode, mean, pmf_mode)
    if u < cdf_below_mode:
        k = mode
        pmf = pmf_mode
        cdf = cdf_below_mode
        while k > 0:
            pmf = pmf * k / mean
            k -= 1
            cdf -= pmf
            if u >= cdf:
                return k
        return 0
    k = mode
    pmf = pmf_mode
    cdf = cdf_below_mode + pmf_mode
    while u >= cdf and k < 100000:
        k += 1
        pmf = pmf * mean / k
        cdf += pmf
    return k


@njit(cache=True, error_model="numpy", inline="always")
def _log_factorial(n):
    acc = 0.0
    for i in range(2, n + 1):
        acc += np.log(i)
    return acc


@njit(cache=True, error_model="numpy", inline="always")
def _cdf_below(mode, mean, pmf_mode):
    """P(X < mode), summed downward from the mode."""
    acc = 0.0
    pmf = pmf_mode
    for k in range(mode, 0, -1):
        pmf = pmf * k / mean
        acc += pmf
    return acc


def check_customer_range(customers: int) -> None:
    """Refuse a run that admitted more customers than the streams keep apart. Reaching it
    would take hundreds of GB of customer state; the check makes the limit a contract."""
    if customers > MAX_CUSTOMERS:
        raise OverflowError(f"a run admitted {customers:,} customers; the random streams "
                            f"keep customers apart up to {MAX_CUSTOMERS:,}")


def run_keys(root_seed: int, seeds) -> np.ndarray:
    """The 64-bit key of each run: child ``seed`` of the root seed's SeedSequence.

    A run's key depends only on (root seed, its own index), so run 7 is the same run
    whether it is simulated alone or inside a batch of a thousand.
    """
    return np.array(
        [np.random.SeedSequence(root_seed, spawn_key=(int(s),)).generate_state(1, np.uint64)[0]
         for s in seeds],
        dtype=np.uint64,
    )
