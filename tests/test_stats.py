"""Steady-state statistics: MSER truncation, batch-means coverage, stationarity test."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import lfilter

from numerics.stats import (
    batch_means,
    cramer_von_mises_cdf,
    heidelberger_welch,
    mser,
    spectral_density_at_zero,
    steady_state,
)


def ar1_ramp(rng, n=4000, phi=0.8, amp=5.0, tau=100.0, mu=1.0):
    """mu + amp exp(-t/tau) + AR(1) with unit stationary variance (started stationary)."""
    e = rng.standard_normal(n) * np.sqrt(1 - phi**2)
    e[0] = rng.standard_normal()
    u = lfilter([1.0], [1.0, -phi], e)
    return mu + amp * np.exp(-np.arange(n) / tau) + u


def test_mser5_truncates_the_known_transient():
    rng = np.random.default_rng(0)
    d = np.array([mser(ar1_ramp(rng), batch=5).index for _ in range(100)])
    # the ramp (5 sd at t = 0, time constant 100) is cut where it has decayed to ~1 sd
    assert 100 <= np.median(d) <= 300
    assert np.all(d >= 30) and np.all(d <= 600)
    # without a transient almost nothing is cut
    d0 = np.array([mser(ar1_ramp(rng, amp=0.0)).index for _ in range(100)])
    assert np.median(d0) < 100


def test_batch_means_interval_covers_the_stationary_mean_at_its_level():
    """300 series with a known transient and stationary mean 1: the 95% interval (after
    MSER-5 truncation) covers 1 in a fraction within 3 binomial standard errors of 0.95."""
    rng = np.random.default_rng(1)
    covered = judged = 0
    for _ in range(300):
        s = steady_state(ar1_ramp(rng))
        if not s.stationary:  # the stationarity test's own false rejections (rare)
            continue
        judged += 1
        lo, hi = s.ci.interval
        covered += lo <= 1.0 <= hi
    assert judged >= 0.95 * 300
    se = np.sqrt(0.95 * 0.05 / judged)
    assert abs(covered / judged - 0.95) <= 3 * se, covered / judged


def test_without_truncation_the_ramp_biases_the_interval():
    """The control: batch means over the whole series (the transient kept) miss the mean."""
    rng = np.random.default_rng(2)
    covered = sum(
        (lambda c: c.interval[0] <= 1.0 <= c.interval[1])(batch_means(ar1_ramp(rng, n=1000)))
        for _ in range(200))
    assert covered / 200 < 0.8


def test_stationarity_test_rejects_rarely_on_stationary_series_and_catches_drift():
    rng = np.random.default_rng(3)
    rej = sum(not heidelberger_welch(ar1_ramp(rng, amp=0.0)).stationary for _ in range(200))
    assert rej / 200 <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 200)
    drift = 0
    for _ in range(100):
        x = ar1_ramp(rng, amp=0.0) * 0.6 + np.linspace(0, 3, 4000)
        s = steady_state(x)
        drift += not s.stationary
        if not s.stationary:
            assert s.mean is None and "not stationary" in s.reason
    assert drift >= 90


def test_too_short_run_says_so():
    rng = np.random.default_rng(4)
    s = steady_state(ar1_ramp(rng, n=60, tau=5.0))
    assert not s.stationary and s.mean is None
    assert "too short" in s.reason or "not stationary" in s.reason


def test_cramer_von_mises_distribution_known_quantiles():
    # Anderson & Darling (1952): 90%, 95%, 99% points of the Brownian-bridge W^2
    np.testing.assert_allclose(cramer_von_mises_cdf([0.347, 0.461, 0.743]), [0.90, 0.95, 0.99],
                               atol=2e-3)
    x = np.linspace(0.01, 3, 200)
    c = cramer_von_mises_cdf(x)
    assert np.all(np.diff(c) >= 0) and c[0] < 1e-4 and c[-1] > 0.9999


def test_spectral_density_at_zero_of_ar1():
    rng = np.random.default_rng(5)
    phi = 0.7
    u = lfilter([1.0], [1.0, -phi], rng.standard_normal(200_000))
    assert spectral_density_at_zero(u) == pytest.approx(1 / (1 - phi) ** 2, rel=0.05)


@settings(max_examples=30)
@given(seed=st.integers(0, 10_000), a=st.floats(0.1, 100), b=st.floats(-100, 100))
def test_mser_and_batch_means_are_affine_equivariant(seed, a, b):
    x = ar1_ramp(np.random.default_rng(seed), n=500, tau=30.0)
    t1, t2 = mser(x), mser(a * x + b)
    assert t1.index == t2.index
    b1, b2 = batch_means(x), batch_means(a * x + b)
    assert b2.mean == pytest.approx(a * b1.mean + b, rel=1e-9, abs=1e-9)
    assert b2.half_width == pytest.approx(a * b1.half_width, rel=1e-9)


def test_constant_series_has_zero_width():
    c = batch_means(np.full(100, 2.5))
    assert c.mean == 2.5 and c.half_width == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        mser(np.array([1.0, np.nan] * 20))
    with pytest.raises(ValueError, match="1-D"):
        batch_means(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="n_batches"):
        batch_means(np.zeros(10), n_batches=1)
    with pytest.raises(ValueError, match="at least"):
        heidelberger_welch(np.zeros(5))
