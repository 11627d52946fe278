"""The inlined elementary functions (simulation.mathfn) against the C library's."""

from __future__ import annotations

import numpy as np
from numba import njit

from simulation import mathfn


@njit
def _apply(which, xs):
    out = np.empty_like(xs)
    for n in range(xs.size):
        x = xs[n]
        out[n] = mathfn.exp(x) if which == 0 else (
            mathfn.tanh(x) if which == 1 else mathfn.logistic(x))
    return out


def _arguments(low, high, n=200_000):
    xs = np.random.default_rng(7).uniform(low, high, n)
    # the ends, zero, and the points where the table index wraps around
    special = [low, high, 0.0, -0.0, np.log(2.0), -np.log(2.0), 1e-300, -1e-300]
    return np.concatenate([xs, np.array(special)])


def test_exp_is_within_two_ulp_of_the_library_over_its_whole_range():
    for low, high in ((mathfn.LOWEST, mathfn.HIGHEST), (-5.0, 5.0), (-0.01, 0.01)):
        xs = _arguments(low, high)
        relative = np.abs(_apply(0, xs) / np.exp(xs) - 1.0)
        assert relative.max() <= 4.5e-16, (low, high, xs[relative.argmax()])


def test_exp_of_zero_is_one_and_it_is_monotone():
    assert _apply(0, np.array([0.0]))[0] == 1.0
    xs = np.sort(_arguments(-30.0, 30.0))
    assert np.all(np.diff(_apply(0, xs)) >= 0.0)


def test_exp_clamps_arguments_outside_its_range_to_finite_values():
    out = _apply(0, np.array([-1e4, mathfn.LOWEST, mathfn.HIGHEST, 1e4]))
    assert np.all(np.isfinite(out)) and np.all(out > 0.0)
    assert out[0] == out[1] and out[2] == out[3]


def test_tanh_and_logistic_match_the_library():
    xs = _arguments(-40.0, 40.0)
    assert np.abs(_apply(1, xs) - np.tanh(xs)).max() <= 4.5e-16
    logistic = 1.0 / (1.0 + np.exp(-xs))
    assert np.abs(_apply(2, xs) - logistic).max() <= 4.5e-16
    assert np.all(np.abs(_apply(1, xs)) <= 1.0)
