"""Mean flow, alignment time and moment ODEs of the SL/RL perceptron (numerics.perceptron)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from numerics.perceptron import (
    alignment,
    alignment_time,
    anisotropic_covariance,
    asymptotic_norm,
    mean_drift,
    mean_drift_two_class,
    mean_flow,
    moment_flow,
)


def _task(n=4, seed=0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=n)
    mu /= np.linalg.norm(mu)
    A = rng.normal(size=(n, n))
    return rng, mu, A @ A.T / n


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_batch_drift_matches_single(rule):
    rng, mu, S = _task()
    W = rng.normal(size=(3, 4))
    batch = mean_drift(rule, W, mu, S, lam=0.2)
    for i in range(3):
        np.testing.assert_allclose(batch[i], mean_drift(rule, W[i], mu, S, lam=0.2), rtol=1e-12)
    two = mean_drift_two_class(rule, W[0], mu, S, -mu, S, lam=0.2)
    np.testing.assert_allclose(two, batch[0], rtol=1e-12)


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_mean_flow_reaches_alignment_at_alignment_time(rule):
    rng, mu, S = _task()
    w0 = 0.1 * rng.normal(size=4)
    t_hit = alignment_time(rule, mu, S, w0, threshold=0.8)
    assert 0 < t_hit < 100
    traj = mean_flow(rule, mu, S, w0, [t_hit])
    assert alignment(mu, traj.y[:, -1]) == pytest.approx(0.8, abs=1e-6)


def test_alignment_time_errors_and_inf():
    rng, mu, S = _task()
    w0 = 0.1 * rng.normal(size=4)
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            alignment_time("sl", mu, S, w0, threshold=bad)
    with pytest.raises(ValueError, match="positive semidefinite"):
        alignment_time("sl", mu, -np.eye(4), w0)
    with pytest.raises(ValueError, match="dimension"):
        alignment_time("sl", mu, np.eye(3), w0)
    with pytest.raises(ValueError, match="w0"):
        alignment_time("sl", mu, S, np.ones(5))
    with pytest.raises(ValueError, match="rule"):
        alignment_time("sgd", mu, S, w0)
    # an alignment of 0.999999 is not reached by t_max = 1: documented inf, not an error
    assert alignment_time("sl", mu, 4 * np.eye(4), w0, threshold=0.999999, t_max=1.0) == math.inf


def test_asymptotic_norm_errors():
    with pytest.raises(ValueError, match="lam > 0 or sigma > 0"):
        asymptotic_norm("sl", 0.0, 0.0)
    with pytest.raises(ValueError, match="lam > 0"):
        asymptotic_norm("rl", 1.0, 0.0)
    assert asymptotic_norm("sl", 1.0, 0.0) > 0


def test_moment_flow_shapes():
    rng, mu, S = _task()
    mf = moment_flow("sl", mu, S, rng.normal(size=4), 0.1 * np.eye(4), [0.0, 1.0, 2.0], lam=0.1)
    assert mf.mean.shape == (3, 4) and mf.cov.shape == (3, 4, 4) and mf.trace_cov.shape == (3,)
    assert mf.trace_cov[0] == pytest.approx(0.4)
    assert np.all(np.diff(mf.trace_cov) < 0)
    assert anisotropic_covariance(mu, 0.5).shape == (4, 4)
