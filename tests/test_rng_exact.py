"""The random streams, checked value by value where test_rng checks distributions.

A statistical test cannot tell two draws with the same distribution apart, but the model's
numbers depend on which one is taken: these tests recompute draws from their definition
(Poisson by inversion of one uniform below a mean of 500 and by the rounded normal
approximation on its own normal above it, uniforms from the top bits of one hash, the
ziggurat's core ending strictly below its bound).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from scipy import stats

from simulation import rng

KEY = np.uint64(0xC0FFEE)


@pytest.mark.parametrize("mean", [0.3, 4.0, 37.5, 120.0, 500.0])
def test_poisson_up_to_500_inverts_the_cdf_at_its_own_uniform(mean):
    """k is the smallest count whose cdf exceeds the uniform u (up to rounding, 1e-12)."""
    for step in range(1, 301):
        k = rng.poisson(KEY, step, mean)
        u = rng.uniform(KEY, rng.COMPANY, step, rng.ARRIVALS)
        assert stats.poisson.cdf(k - 1, mean) - 1e-12 <= u < stats.poisson.cdf(k, mean) + 1e-12


@pytest.mark.parametrize("mean", [500.5, 800.0, 2500.0])
def test_poisson_above_500_rounds_the_normal_approximation_on_its_own_draw(mean):
    for step in range(1, 301):
        z = rng.normal_pair(KEY, rng.COMPANY, step, rng.ARRIVALS + 1)[0]
        assert rng.poisson(KEY, step, mean) == max(0, math.floor(mean + math.sqrt(mean) * z
                                                                  + 0.5))


def test_uniforms_are_the_top_bits_of_one_hash():
    for customer, step, purpose in ((0, 0, 1), (5, 17, rng.CHURN), (2**30 - 1, 5200, 17)):
        b = int(rng.bits(KEY, customer, step, purpose))
        assert rng.uniform(KEY, customer, step, purpose) == (b >> 11) * 2.0**-53
        assert rng.uniform_pair(KEY, customer, step, purpose) == \
            ((b >> 32) * 2.0**-32, (b & 0xFFFFFFFF) * 2.0**-32)


def test_the_ziggurat_core_ends_strictly_below_its_bound():
    """A 32-bit draw exactly at its layer's bound goes to the slow path (NaN here); one
    step inside it is the layer's scaled value."""
    layers = [iz for iz in range(2, 128) if rng._KN[iz] & 127 == iz or -rng._KN[iz] & 127 == iz]
    assert layers  # a draw can sit exactly on the bound for these layers
    for iz in layers:
        hz = int(rng._KN[iz]) if rng._KN[iz] & 127 == iz else -int(rng._KN[iz])
        assert math.isnan(rng._ziggurat_fast(hz))
        inside = hz - 128 if hz > 0 else hz + 128
        assert rng._ziggurat_fast(inside) == inside * rng._WN[iz]


def digest(values, dtype) -> str:
    return hashlib.sha256(np.asarray(values, dtype=dtype).tobytes()).hexdigest()[:16]


def test_normals_and_poisson_counts_equal_their_pinned_digests():
    """80,000 normals (about 800 on the ziggurat's slow path, 45 in its tail) and 2,000
    Poisson counts at five means, pinned by the SHA-256 of their bytes: any change to any
    value fails, including one that keeps every distribution (the tail's acceptance draw
    taken from another key, say). Like the reference tables, a change to these digests is a
    deliberate commit that says why."""
    normals = [rng.normal_pair(KEY, c, s, rng.PERFORMANCE_AND_MOOD)
               for c in range(2000) for s in range(20)]
    assert (np.abs(normals) > rng._ZIG_R).sum() == 45
    assert digest(normals, np.float64) == "77ae6833796fa537"
    counts = [rng.poisson(KEY, s, mean) for mean in (0.7, 6.0, 45.0, 499.0, 800.0)
              for s in range(1, 401)]
    assert digest(counts, np.int64) == "ae8c2f134a1126ab"
