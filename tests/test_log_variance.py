"""Jackknife log variance (Miller 1968): bias, standard error, equivariance, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.stats import jackknife_log_variance

REPEATS = 20_000


def _draws(kind: str, n: int, seed: int) -> tuple[np.ndarray, float]:
    """(n, REPEATS) samples and their true log variance."""
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        return rng.standard_normal((n, REPEATS)), 0.0
    return rng.laplace(size=(n, REPEATS)), float(np.log(2.0))  # kurtosis 6


@pytest.mark.parametrize("kind,n", [("gauss", 40), ("laplace", 80)])
def test_jackknife_removes_the_log_bias_that_the_plain_estimate_has(kind, n):
    x, truth = _draws(kind, n, 1)
    est, se = jackknife_log_variance(x)
    spread = est.std() / np.sqrt(REPEATS)  # standard error of the mean over the repeats
    assert abs(est.mean() - truth) < 4 * spread
    # the plain log s^2 is biased low by ~ Var(s^2)/(2 sigma^4): many standard errors here
    plain = np.log(x.var(axis=0, ddof=1))
    assert plain.mean() - truth < -8 * spread


@pytest.mark.parametrize("kind,n", [("gauss", 20), ("gauss", 40), ("laplace", 80)])
def test_jackknife_standard_error_tracks_the_spread(kind, n):
    x, _ = _draws(kind, n, 2)
    est, se = jackknife_log_variance(x)
    ratio = np.sqrt(np.mean(se**2)) / est.std()
    # 20,000 repeats: the ratio is known to ~1%; a factor-2 error in either is far outside
    assert 0.95 < ratio < 1.08


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(3, 30), a=st.floats(1e-3, 1e3),
       b=st.floats(-1e3, 1e3), sign=st.sampled_from([-1.0, 1.0]))
def test_affine_equivariance_and_leave_one_out_formula(seed, n, a, b, sign):
    x = np.random.default_rng(seed).standard_normal(n)
    est, se = jackknife_log_variance(x)
    est2, se2 = jackknife_log_variance(sign * a * x + b)
    assert est2 == pytest.approx(est + 2 * np.log(a), abs=1e-7)
    assert se2 == pytest.approx(se, rel=1e-6, abs=1e-9)
    # the closed-form leave-one-out variances agree with deleting each point
    loo = np.log([np.delete(x, i).var(ddof=1) for i in range(n)])
    ref = n * np.log(x.var(ddof=1)) - (n - 1) * loo.mean()
    ref_se = np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2))
    assert est == pytest.approx(ref, rel=1e-9, abs=1e-9)
    assert se == pytest.approx(ref_se, rel=1e-7, abs=1e-12)


def test_axis_and_shape():
    x = np.random.default_rng(3).standard_normal((5, 30))
    est, se = jackknife_log_variance(x, axis=1)
    assert est.shape == se.shape == (5,)
    est0, _ = jackknife_log_variance(x.T)
    np.testing.assert_allclose(est, est0)


def test_bad_input():
    with pytest.raises(ValueError, match="at least 3"):
        jackknife_log_variance(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="NaN"):
        jackknife_log_variance(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="zero variance"):
        jackknife_log_variance(np.ones(10))
