"""The counter-based random numbers (simulation.rng): distributions and independence.

Statistical checks use fixed keys, so they are deterministic; each states its tolerance.
A correct generator fails a KS test at p < 1e-3 one time in a thousand keys; the keys here
were not chosen to pass.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulation import rng

KEY = rng.run_keys(12345, [0])[0]  # a numpy uint64, as the engines pass it
N = 200_000


def uniforms(key, n, step=3, purpose=rng.FAILURE):
    return np.array([rng.uniform(key, i, step, purpose) for i in range(n)])


def normals(key, n, step=5, purpose=rng.PERFORMANCE_AND_MOOD):
    return np.array([rng.normal_pair(key, i, step, purpose) for i in range(n)])


@pytest.fixture(scope="module")
def u():
    return uniforms(KEY, N)


@pytest.fixture(scope="module")
def z():
    return normals(KEY, N // 2)


def test_uniform_lies_in_0_1(u):
    assert u.min() >= 0.0 and u.max() < 1.0
    assert u.min() < 1e-4 and u.max() > 1 - 1e-4  # and covers it


def test_uniform_passes_ks_and_moments(u):
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / N)
    assert abs(u.var() - 1 / 12) < 0.002
    counts = np.histogram(u, bins=100, range=(0, 1))[0]
    assert stats.chisquare(counts).pvalue > 1e-3


def test_uniform_along_steps_and_purposes_is_uniform_too():
    along_steps = np.array([rng.uniform(KEY, 17, s, rng.CHURN) for s in range(50_000)])
    along_purposes = np.array([rng.uniform(KEY, c, 9, p) for c in range(2_000)
                               for p in range(1, 18)])
    assert stats.kstest(along_steps, "uniform").pvalue > 1e-3
    assert stats.kstest(along_purposes, "uniform").pvalue > 1e-3


def test_successive_uniforms_are_uncorrelated(u):
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / np.sqrt(N)
    steps = uniforms(KEY, N // 4, step=4)
    assert abs(np.corrcoef(u[:N // 4], steps)[0, 1]) < 5 / np.sqrt(N // 4)


def test_uniform_pair_is_two_independent_uniforms_on_a_2_to_the_minus_32_grid():
    pairs = np.array([rng.uniform_pair(KEY, i, 7, rng.NURTURE_AND_MOVE)
                      for i in range(N // 2)])
    first, second = pairs[:, 0], pairs[:, 1]
    for half in (first, second):
        assert half.min() >= 0.0 and half.max() < 1.0
        assert stats.kstest(half, "uniform").pvalue > 1e-3
        assert np.array_equal(half * 2.0**32, np.floor(half * 2.0**32))
    assert abs(np.corrcoef(first, second)[0, 1]) < 5 / np.sqrt(N // 2)
    grid = np.histogram2d(first, second, bins=10, range=((0, 1), (0, 1)))[0]
    assert stats.chisquare(grid.ravel()).pvalue > 1e-3


def test_normal_pair_is_two_independent_standard_normals(z):
    n = len(z)
    for column in (0, 1):
        x = z[:, column]
        assert np.isfinite(x).all()
        assert abs(x.mean()) < 5 / np.sqrt(n)
        assert abs(x.std() - 1.0) < 5 * np.sqrt(0.5 / n)
        assert stats.kstest(x, "norm").pvalue > 1e-3
        assert abs(stats.skew(x)) < 0.05 and abs(stats.kurtosis(x)) < 0.1
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 5 / np.sqrt(n)


def test_normal_tails_are_right(z):
    x = z.ravel()
    # P(|Z| > 3) = 0.0027; the ziggurat's tail (beyond 3.44) must be reached too
    assert abs(np.mean(np.abs(x) > 3.0) - 0.0027) < 5 * np.sqrt(0.0027 / len(x))
    assert np.abs(x).max() > 3.5


def test_draws_differ_by_purpose_customer_step_and_key():
    keys = [KEY, rng.run_keys(12345, [1])[0], rng.run_keys(999, [0])[0]]
    draws = [rng.bits(k, c, s, p) for k in keys for c in range(40) for s in range(40)
             for p in range(1, 18)]
    assert len(set(draws)) == len(draws)  # 81,600 draws, no two alike
    # swapping customer and step, or step and purpose, gives another draw
    assert rng.uniform(KEY, 3, 5, 7) != rng.uniform(KEY, 5, 3, 7)
    assert rng.uniform(KEY, 3, 5, 7) != rng.uniform(KEY, 3, 7, 5)


def _edges(limit):
    """Values at both ends of ``range(limit)`` and at every power of two inside it, where a
    field that spills into its neighbour would first collide."""
    values = {0, 1, 2, limit - 2, limit - 1}
    bit = 1
    while bit < limit:
        values |= {bit - 1, bit}
        bit <<= 1
    return sorted(v for v in values if 0 <= v < limit)


def test_counter_is_injective_at_the_edges_of_every_field():
    from simulation.scenario import MAX_HORIZON

    customers = _edges(rng.MAX_CUSTOMERS) + [rng.COMPANY]
    steps = _edges(MAX_HORIZON + 1)
    purposes = _edges(2**rng.N_PURPOSE_BITS)
    draws = [rng.bits(KEY, c, s, p) for c in customers for s in steps for p in purposes]
    assert len(set(draws)) == len(draws)  # about 85,000 draws at the edges, no two alike


def test_week_256_does_not_replay_another_customers_draws():
    # the old counter xor-ed step << 16 into customer << 24: step 256 was customer 1
    for purpose in range(1, 18):
        assert rng.bits(KEY, 1, 0, purpose) != rng.bits(KEY, 0, 256, purpose)
        assert rng.bits(KEY, 7, 3, purpose) != rng.bits(KEY, 6, 3 + 256, purpose)


def test_the_validated_ranges_fit_the_counter_fields():
    from simulation.rules import _QUEUE_ID_BITS
    from simulation.scenario import MAX_HORIZON, Scenario

    assert MAX_HORIZON <= rng.MAX_STEP < 2**rng.N_STEP_BITS
    assert rng.MAX_CUSTOMERS <= 2**_QUEUE_ID_BITS < rng.COMPANY < 2**rng.N_CUSTOMER_BITS
    assert rng.N_PURPOSE_BITS + rng.N_STEP_BITS + rng.N_CUSTOMER_BITS == 64
    fields = Scenario.model_fields
    assert max(m.le for m in fields["horizon"].metadata if hasattr(m, "le")) == MAX_HORIZON
    cohort_max = max(m.le for m in fields["cohort"].metadata if hasattr(m, "le"))
    assert cohort_max < rng.MAX_CUSTOMERS


def test_a_run_past_the_customer_range_is_refused():
    rng.check_customer_range(rng.MAX_CUSTOMERS)
    with pytest.raises(OverflowError, match="random streams"):
        rng.check_customer_range(rng.MAX_CUSTOMERS + 1)


def test_company_draws_are_not_any_customers_draws():
    company = {rng.bits(KEY, rng.COMPANY, s, rng.ARRIVALS) for s in range(500)}
    customers = {rng.bits(KEY, c, s, p) for c in range(200) for s in range(500)
                 for p in (rng.ARRIVALS,)}
    assert not company & customers


def poissons(mean, n=20_000, keys=(KEY,)):
    return np.array([rng.poisson(k, s, mean) for k in keys for s in range(n)])


def test_poisson_with_mean_zero_or_less_is_zero():
    assert not poissons(0.0, 2_000).any()
    assert not poissons(-3.0, 200).any()


@pytest.mark.parametrize("mean", [0.05, 0.5, 4.0, 30.0, 120.0, 499.0, 800.0, 5000.0])
def test_poisson_mean_and_variance(mean):
    n = 20_000
    x = poissons(mean, n)
    assert x.min() >= 0
    assert x.dtype.kind == "i"
    # tolerances: 5 standard errors of the sample mean and of the sample variance
    assert abs(x.mean() - mean) < 5 * np.sqrt(mean / n)
    var_se = np.sqrt((mean + 2 * mean ** 2) / n)
    assert abs(x.var(ddof=1) - mean) < 5 * var_se


@pytest.mark.parametrize("mean", [0.5, 4.0, 30.0])
def test_poisson_distribution_fits(mean):
    x = poissons(mean, 20_000)
    top = int(stats.poisson.ppf(0.999, mean))
    observed = np.bincount(np.minimum(x, top + 1), minlength=top + 2)
    expected = np.append(stats.poisson.pmf(np.arange(top + 1), mean),
                         stats.poisson.sf(top, mean)) * len(x)
    keep = expected >= 5  # pool sparse cells into the last kept one
    observed = np.append(observed[keep][:-1], observed[~keep].sum() + observed[keep][-1])
    expected = np.append(expected[keep][:-1], expected[~keep].sum() + expected[keep][-1])
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_poisson_is_monotone_in_its_mean_for_the_same_draw():
    """Paired runs: a larger arrival rate never gives fewer arrivals the same week."""
    means = [0.0, 0.3, 1.0, 3.9, 4.0, 4.1, 10.0, 55.5, 200.0, 499.0]
    for step in range(400):
        counts = [rng.poisson(KEY, step, m) for m in means]
        assert counts == sorted(counts), (step, counts)


def test_run_keys_depend_only_on_root_and_index():
    for root in (0, 7, 2026):
        alone = rng.run_keys(root, [7])
        batch = rng.run_keys(root, range(10))
        assert alone.dtype == np.uint64 and alone[0] == batch[7]
        assert rng.run_keys(root, [3, 7])[1] == batch[7]
        assert len(set(batch.tolist())) == 10
    assert rng.run_keys(0, [7])[0] != rng.run_keys(1, [7])[0]
