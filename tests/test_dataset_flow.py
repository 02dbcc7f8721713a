"""The data-averaged mean flow (numerics.perceptron.dataset_mean_drift/flow): the eta -> 0
limit of online SGD on a finite data set, checked against the simulator's first step and,
for Gaussian data, against the two-class theory of seed 002 (eqs. (15), (20))."""

from __future__ import annotations

import numpy as np
import pytest

from numerics.perceptron import dataset_mean_drift, dataset_mean_flow, mean_drift_two_class
from numerics.sim.perceptron import train_on_dataset


def _gaussian_data(n, rng, mu_pos, mu_neg, s=1.0):
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    X = np.where(y[:, None] > 0, mu_pos, mu_neg) + s * rng.standard_normal((n, mu_pos.size))
    return X, y


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_drift_is_the_expected_first_sgd_step(rule):
    """E[w_1 - w_0] = lr * <f>(w_0) exactly when the first sample is drawn uniformly."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5, 3))
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0])
    w0 = np.array([0.3, -0.2, 0.5])
    lr, R = 0.1, 40000
    sim = train_on_dataset(rule, X, y, w0, lr=lr, epochs=1, replicas=R, seed=11, sigmoid="erf",
                           record_steps=[0, 1])
    step = (sim.weights[1] - sim.weights[0]) / lr  # (R, 3)
    mean, se = step.mean(0), step.std(0, ddof=1) / np.sqrt(R)
    drift = dataset_mean_drift(rule, w0, X, y)
    z = (mean - drift) / se
    assert np.all(np.abs(z) < 3.4), z  # Sidak 99% over 3 components
    assert np.any(np.abs((mean - 2 * drift) / se) > 3.4)  # a doubled drift is detected


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_gaussian_data_reproduce_the_two_class_theory(rule):
    rng = np.random.default_rng(5)
    mu_pos, mu_neg = np.array([1.0, 0.5, 0.0]), np.array([-0.5, 0.0, 0.8])
    X, y = _gaussian_data(200_000, rng, mu_pos, mu_neg)
    w = np.array([0.4, -0.3, 0.2])
    batches = np.array([dataset_mean_drift(rule, w, Xb, yb)
                        for Xb, yb in zip(np.array_split(X, 40), np.array_split(y, 40))])
    mean, se = batches.mean(0), batches.std(0, ddof=1) / np.sqrt(len(batches))
    theory = mean_drift_two_class(rule, w, mu_pos, np.eye(3), mu_neg, np.eye(3))
    z = (mean - theory) / se
    assert np.all(np.abs(z) < 3.9), z  # Student t (39 dof), Sidak 99% over 3 components
    assert np.any(np.abs((mean - 2 * theory) / se) > 3.9)


def test_flow_with_decay_and_bad_input():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 2))
    y = np.sign(X[:, 0] + 0.1)
    traj = dataset_mean_flow("sl", X, y, np.zeros(2), [0.0, 1.0, 2.0], lam=0.5)
    assert traj.y.shape == (2, 3) and np.all(np.isfinite(traj.y))
    # a fixed point of the flow has zero drift
    far = dataset_mean_flow("sl", X, y, np.zeros(2), [200.0], lam=0.5).y[:, -1]
    assert np.allclose(dataset_mean_drift("sl", far, X, y, lam=0.5), 0, atol=1e-7)
    with pytest.raises(ValueError, match="y must hold labels"):
        dataset_mean_flow("sl", X, np.abs(y) * 2, np.zeros(2), [1.0])
    with pytest.raises(ValueError, match="X must be"):
        dataset_mean_flow("sl", X[0], y, np.zeros(2), [1.0])


def test_bias_corrected_alignment_of_a_noisy_mean():
    """The second-order correction removes the Jensen bias of the plug-in alignment of a
    mean of few replicas in many dimensions (Monte Carlo over 4000 draws of the mean)."""
    from validate.experiments.perceptron import alignment_of_mean

    rng = np.random.default_rng(1)
    d, R = 40, 10
    mu = np.zeros(d)
    mu[0] = 1.0
    m = np.full(d, 0.05)
    m[0] = 0.6
    L = rng.standard_normal((d, d)) * 0.0075
    C = L @ L.T + 0.0005 * np.eye(d)
    truth = m[0] / np.linalg.norm(m)
    means = m + rng.multivariate_normal(np.zeros(d), C / R, size=4000)
    covs = np.broadcast_to(C, (4000, d, d))
    plain, se = alignment_of_mean(means, covs, R, mu)
    fixed, _ = alignment_of_mean(means, covs, R, mu, bias_correct=True)
    err = se.mean() / np.sqrt(4000)
    assert abs(plain.mean() - truth) > 6 * err  # the bias is real and large here
    assert abs(fixed.mean() - truth) < 4 * err
