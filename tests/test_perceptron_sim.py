"""Online SL / RL perceptron simulators (seed 002 eqs. (12), (13)) against the derived drift.

* one update's mean increment / eta equals ``numerics.perceptron.mean_drift`` (z-test over the
  N components with a Sidak bound), and a factor-2-wrong drift is rejected;
* the exact reduced chain for isotropic / frame-anisotropic inputs reproduces the full
  simulator's statistics (means and variances of mu.w, a second frame coordinate, |w|^2);
* the RL baseline cancels in the average over the sampled output;
* bad parameters raise errors naming the parameter.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numerics.perceptron import mean_drift, mean_drift_two_class
from numerics.sim.ensemble import simulate_ensemble
from numerics.sim.perceptron import (
    DataPerceptronRule,
    PerceptronRule,
    ReducedPerceptronRule,
    orthonormal_frame,
    sigmoid,
    train_on_dataset,
    update_factor,
)
from validate.compare import compare

N = 5
LR = 1e-3


def _problem(seed=1):
    rng = np.random.default_rng(seed)
    mu = 0.7 * rng.standard_normal(N)
    A = rng.standard_normal((N, N))
    S = A @ A.T / N + 0.2 * np.eye(N)
    mun = 0.5 * rng.standard_normal(N)
    B = rng.standard_normal((N, N))
    Sn = B @ B.T / N + 0.1 * np.eye(N)
    w0 = rng.standard_normal(N)
    return mu, S, mun, Sn, w0


def _one_step(rule, w0, replicas=20000, seed=3):
    return simulate_ensemble(rule, w0, 1, replicas=replicas, seed=seed,
                             observable=lambda w: (w - w0) / rule.lr)


@pytest.mark.parametrize("name", ["sl", "rl"])
@pytest.mark.parametrize("two_class", [False, True])
def test_one_step_drift_matches_theory(name, two_class):
    mu, S, mun, Sn, w0 = _problem()
    lam = 0.3
    if two_class:
        rule = PerceptronRule(name, mu, S, mu_neg=mun, Sigma_neg=Sn, lr=LR, lam=lam)
        theory = mean_drift_two_class(name, w0, mu, S, mun, Sn, lam=lam)
    else:
        rule = PerceptronRule(name, mu, S, lr=LR, lam=lam)
        theory = mean_drift(name, w0, mu, S, lam=lam)
    ens = _one_step(rule, w0)
    good = compare("one-step drift", theory, ens.mean[1], ens.sem[1])
    assert good.passed, good.summary()
    wrong = compare("2x drift", 2 * theory, ens.mean[1], ens.sem[1])
    assert not wrong.passed and wrong.max_abs_z > 10 * wrong.bound


def test_one_step_drift_isotropic_fast_path_and_no_baseline():
    mu, _, _, _, w0 = _problem(2)
    S = 0.49 * np.eye(N)
    for baseline in ("expected", "none"):
        rule = PerceptronRule("rl", mu, S, lr=LR, baseline=baseline)
        ens = _one_step(rule, w0, seed=7)
        c = compare("iso", mean_drift("rl", w0, mu, S), ens.mean[1], ens.sem[1])
        assert c.passed, c.summary()


@given(s=st.floats(-30, 30), y=st.sampled_from([-1.0, 1.0]),
       sig=st.sampled_from(["erf", "logistic"]), base=st.sampled_from(["expected", "none"]))
def test_rl_factor_averages_to_policy_gradient(s, y, sig, base):
    """E_yhat[G] = 2 y phi(s) phi(-s) for any baseline (the baseline cancels)."""
    p = float(sigmoid(sig, s))
    g_up = float(update_factor("rl", s, y, 0.0, sig, base))  # u=0 < p: yhat = +1
    g_dn = float(update_factor("rl", s, y, 1.0, sig, base))  # u=1 >= p: yhat = -1
    assert p * g_up + (1 - p) * g_dn == pytest.approx(2 * y * p * (1 - p), abs=1e-12)


def test_sigmoids():
    z = np.linspace(-5, 5, 11)
    from scipy.special import erf
    assert np.allclose(sigmoid("erf", z), 0.5 * (1 + erf(np.sqrt(np.pi) * z / 4)))
    assert np.allclose(sigmoid("logistic", z), 1 / (1 + np.exp(-z)))
    assert np.allclose(update_factor("sl", z, 1.0, 0.0), 1 - sigmoid("erf", z))
    assert np.allclose(update_factor("sl", z, -1.0, 0.0), -sigmoid("erf", z))


def _stats(values):
    return np.concatenate([values, (values - values.mean(0)) ** 2], axis=1)


@pytest.mark.parametrize("name,sigma_par", [("sl", None), ("rl", None), ("sl", 0.5)])
def test_reduced_matches_full(name, sigma_par):
    """Means and variances of (mu.w, e2.w, |w|^2) after 150 steps agree (Sidak over 6)."""
    n, sigma, lr, lam, steps, R = 30, 0.8, 0.02, 0.1, 150, 3000
    mu = np.zeros(n)
    mu[0] = 1.2
    w0 = np.zeros(n)
    w0[:2] = (0.3, 0.6)
    e2 = np.eye(n)[1]
    if sigma_par is None:
        Sigma = sigma**2 * np.eye(n)
    else:
        nn = mu / np.linalg.norm(mu)
        Sigma = sigma**2 * np.eye(n) + (sigma_par**2 - sigma**2) * np.outer(nn, nn)
    full = PerceptronRule(name, mu, Sigma, lr=lr, lam=lam)
    red = ReducedPerceptronRule.isotropic(name, mu, sigma, sigma_par=sigma_par, lr=lr,
                                          extra=(w0,), lam=lam)
    ef = simulate_ensemble(full, w0, steps, replicas=R, seed=11, keep_samples=True,
                           observable=lambda w: np.stack([w @ mu, w @ e2, (w * w).sum(1)], 1))
    er = simulate_ensemble(red, red.reduce(w0), steps, replicas=R, seed=12, keep_samples=True,
                           observable=lambda s: np.stack([red.project(s, mu), red.project(s, e2),
                                                          red.norm2(s)], 1))
    a, b = _stats(ef.samples[-1]), _stats(er.samples[-1])
    diff = a.mean(0) - b.mean(0)
    se = np.sqrt(a.var(0, ddof=1) / R + b.var(0, ddof=1) / R)
    c = compare("reduced vs full", np.zeros(6), diff, se)
    assert c.passed, c.summary()
    # the comparison has power: a 10% change of the noise level is detected
    red2 = ReducedPerceptronRule.isotropic(name, mu, 1.1 * sigma, sigma_par=sigma_par, lr=lr,
                                           extra=(w0,), lam=lam)
    er2 = simulate_ensemble(red2, red2.reduce(w0), steps, replicas=R, seed=12, keep_samples=True,
                            observable=lambda s: np.stack([red2.project(s, mu),
                                                           red2.project(s, e2), red2.norm2(s)], 1))
    b2 = _stats(er2.samples[-1])
    c2 = compare("reduced(1.1 sigma) vs full", np.zeros(6), a.mean(0) - b2.mean(0),
                 np.sqrt(a.var(0, ddof=1) / R + b2.var(0, ddof=1) / R))
    assert not c2.passed


def test_reduced_state_conversions_and_invariants():
    mu = np.array([1.0, 0, 0, 0, 0, 0])
    w0 = np.array([0.2, -0.5, 0.1, 0.0, 0.3, 0.0])
    red = ReducedPerceptronRule.isotropic("sl", mu, 1.0, lr=0.05)
    st0 = red.reduce(w0)
    assert st0.shape == (2,)
    assert st0[0] == pytest.approx(0.2)
    assert red.norm2(st0) == pytest.approx(w0 @ w0)
    ens = simulate_ensemble(red, st0, 50, replicas=20, seed=0, keep_samples=True)
    assert np.all(ens.samples[..., 1] >= 0)
    # dimension exactly K + 1: no chi-square part
    tight = ReducedPerceptronRule.isotropic("rl", mu[:2], 0.5, lr=0.05)
    assert tight.dof == 0
    simulate_ensemble(tight, tight.reduce(np.array([0.1, 0.2])), 20, replicas=4, seed=0)
    U = orthonormal_frame(mu, w0, 2 * w0)
    assert U.shape == (6, 2) and np.allclose(U.T @ U, np.eye(2))


def test_zero_noise_reduced_is_deterministic_sl():
    mu = np.array([1.0, 0, 0])
    red = ReducedPerceptronRule.isotropic("sl", mu, 0.0, lr=0.1, extra=(np.array([0, 1.0, 0]),))
    ens = simulate_ensemble(red, red.reduce(np.array([0.1, 0.4, 0])), 30, replicas=5, seed=0,
                            keep_samples=True)
    assert np.allclose(ens.samples[-1], ens.samples[-1][0])  # y = +-1 give the same update


def test_data_rule_one_step_drift():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 3))
    y = np.where(rng.random(40) < 0.5, 1.0, -1.0)
    w0 = np.array([0.3, -0.2, 0.5])
    rule = DataPerceptronRule("sl", X, y, lr=LR, lam=0.2, sigmoid="logistic")
    ens = _one_step(rule, w0)
    exact = np.mean(update_factor("sl", X @ w0, y, 0.0, "logistic")[:, None] * X, 0) - 0.2 * w0
    c = compare("data drift", exact, ens.mean[1], ens.sem[1])
    assert c.passed, c.summary()
    assert not compare("2x", 2 * exact, ens.mean[1], ens.sem[1]).passed


def test_train_on_dataset_epochs_and_reproducibility():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((12, 2))
    y = np.sign(X[:, 0] + 0.1)
    a = train_on_dataset("sl", X, y, np.zeros(2), lr=0.1, epochs=3, replicas=4, seed=9,
                         record_steps=[0, 12, 36])
    b = train_on_dataset("sl", X, y, np.zeros(2), lr=0.1, epochs=3, replicas=4, seed=9,
                         record_steps=[0, 12, 36])
    assert np.array_equal(a.weights, b.weights)
    assert a.weights.shape == (3, 4, 2)
    assert np.allclose(a.times, [0, 1.2, 3.6])
    # replica 0 by hand: same permutation stream
    from numerics.sim.ensemble import replica_generators

    g = replica_generators(9, 4)[0]
    w = np.zeros(2)
    for _ in range(3):
        order = g.permutation(12)
        g.random(12)
        for i in order:
            w = w + 0.1 * (0.5 * (y[i] + 1) - sigmoid("logistic", X[i] @ w)) * X[i]
    assert np.allclose(a.weights[-1, 0], w)


@pytest.mark.parametrize("kwargs,match", [
    (dict(rule="xl"), "rule"),
    (dict(sigmoid="tanh"), "sigmoid"),
    (dict(baseline="mean"), "baseline"),
    (dict(lr=-1.0), "lr"),
    (dict(lam=-0.1), "lam"),
    (dict(lr=1.0, lam=3.0), "lr \\* lam"),
    (dict(Sigma_pos=-np.eye(3)), "Sigma_pos"),
    (dict(Sigma_pos=np.eye(2)), "Sigma_pos"),
    (dict(mu_neg=np.zeros(2)), "mu_neg"),
])
def test_bad_parameters(kwargs, match):
    args = dict(rule="sl", mu_pos=np.ones(3), Sigma_pos=np.eye(3), lr=0.1)
    args.update(kwargs)
    rule = args.pop("rule")
    mu_pos = args.pop("mu_pos")
    Sigma_pos = args.pop("Sigma_pos")
    with pytest.raises((ValueError, TypeError), match=match):
        PerceptronRule(rule, mu_pos, Sigma_pos, **args)


def test_bad_reduced_and_data_parameters():
    mu = np.array([1.0, 0, 0])
    U = orthonormal_frame(np.array([0, 1.0, 0]))
    with pytest.raises(ValueError, match="span of the frame"):
        ReducedPerceptronRule("sl", 3, U, mu, lr=0.1, sigma_perp=1.0)
    with pytest.raises(ValueError, match="mu must be non-zero"):
        ReducedPerceptronRule.isotropic("sl", np.zeros(3), 1.0, lr=0.1)
    with pytest.raises(ValueError, match="labels"):
        DataPerceptronRule("sl", np.ones((3, 2)), [0, 1, 1], lr=0.1)
    with pytest.raises(ValueError, match="one label per row"):
        DataPerceptronRule("sl", np.ones((3, 2)), [1, 1], lr=0.1)


# ------------------------------------------------- the RL update itself, at a fixed output


@given(s=st.floats(-8, 8), y=st.sampled_from([-1.0, 1.0]),
       sig=st.sampled_from(["erf", "logistic"]))
def test_rl_factor_at_fixed_output_with_and_without_baseline(s, y, sig):
    r"""At a fixed sampled output :math:`\hat y` (u = 0 gives +1, u = 1 gives -1) the RL
    factor is :math:`\hat y(y\hat y - B)\phi(-\hat y s)` with the expected-reward baseline
    :math:`B = y(2\phi(s) - 1)`: :math:`G = 2y(1-p)^2` for :math:`\hat y = +1` and
    :math:`2y p^2` for :math:`\hat y = -1` (:math:`p = \phi(s)`); without a baseline
    :math:`y(1-p)` and :math:`y p`.  (The mean over :math:`\hat y` cannot tell them apart.)"""
    p = float(sigmoid(sig, s))
    up, dn = update_factor("rl", s, y, 0.0, sig), update_factor("rl", s, y, 1.0, sig)
    assert float(up) == pytest.approx(2 * y * (1 - p) ** 2, abs=1e-14)
    assert float(dn) == pytest.approx(2 * y * p**2, abs=1e-14)
    up0 = update_factor("rl", s, y, 0.0, sig, "none")
    dn0 = update_factor("rl", s, y, 1.0, sig, "none")
    assert float(up0) == pytest.approx(y * (1 - p), abs=1e-14)
    assert float(dn0) == pytest.approx(y * p, abs=1e-14)


@pytest.mark.parametrize("baseline", ["expected", "none"])
def test_rl_simulators_apply_the_baseline_they_are_given(baseline):
    """One step of each simulator with its noise written by hand equals
    ``w + lr (G x - lam w)`` with the ``update_factor`` of that baseline."""
    mu, S, _, _, w0 = _problem(4)
    lr, lam = 0.05, 0.3
    rule = PerceptronRule("rl", mu, S, lr=lr, lam=lam, baseline=baseline)
    rng = np.random.default_rng(0)
    # labels from u < 1/2: 0.45 -> +1, 0.55 -> -1 (a shifted threshold would flip one)
    noise = np.column_stack([[0.45, 0.55, 0.2], rng.standard_normal((3, N)), [0.0, 1.0, 0.3]])
    y, x = rule.inputs(noise)
    np.testing.assert_array_equal(y, [1.0, -1.0, 1.0])
    from scipy.linalg import sqrtm

    np.testing.assert_allclose(x, noise[:, 1:-1] @ np.real(sqrtm(S)) + y[:, None] * mu,
                               rtol=1e-10, atol=1e-12)
    w = np.tile(w0, (3, 1))
    G = update_factor("rl", x @ w0, y, noise[:, -1], "erf", baseline)
    expect = w0 + lr * (G[:, None] * x - lam * w0)
    np.testing.assert_allclose(rule.step(w.copy(), noise), expect, rtol=1e-12, atol=1e-14)
    X = rng.standard_normal((4, N))
    labels = np.array([1.0, -1.0, -1.0, 1.0])
    data = DataPerceptronRule("rl", X, labels, lr=lr, lam=lam, baseline=baseline)
    dnoise = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.5]])
    idx = dnoise[:, 0].astype(int)
    G = update_factor("rl", X[idx] @ w0, labels[idx], dnoise[:, 1], "erf", baseline)
    np.testing.assert_allclose(data.step(w.copy(), dnoise),
                               w0 + lr * (G[:, None] * X[idx] - lam * w0), rtol=1e-12)
    # the reduced chain: frame (mu, w0), state (c, q = 0); its step in the frame
    red = ReducedPerceptronRule.isotropic("rl", mu, 0.6, lr=lr, lam=lam, extra=(w0,),
                                          baseline=baseline)
    K = red.K
    rnoise = np.column_stack([[0.45, 0.55], rng.standard_normal((2, K + 1)), [3.0, 2.0],
                              [0.0, 1.0]])
    st0 = np.tile(red.reduce(w0), (2, 1))
    yr = np.array([1.0, -1.0])  # u = 0.45, 0.55
    xU = 0.6 * rnoise[:, 1:K + 1] + yr[:, None] * red.coordinates(mu)
    xe = 0.6 * rnoise[:, K + 1]
    G = update_factor("rl", xU @ red.coordinates(w0), yr, rnoise[:, -1], "erf", baseline)
    new = red.step(st0.copy(), rnoise)
    np.testing.assert_allclose(new[:, :K], (1 - lr * lam) * red.coordinates(w0)
                               + lr * G[:, None] * xU, rtol=1e-12)
    np.testing.assert_allclose(new[:, K], np.sqrt((lr * G * xe) ** 2
                                                  + (lr * G * 0.6) ** 2 * rnoise[:, K + 2]),
                               rtol=1e-12)
