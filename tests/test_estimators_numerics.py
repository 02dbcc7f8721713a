"""numerics.estimators: the estimators against the closed forms (Monte Carlo), bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numerics.estimators as ne
from numerics.estimators import (
    METHODS,
    estimate,
    estimator_mse,
    expected_learning_curve,
    perturbation_recursion,
    regression_mse,
    simulate_student_teacher,
)
from validate.compare import compare


def _quadratic(d, seed, L0=1.0, linear=False):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(d)
    A = rng.standard_normal((d, d)) / np.sqrt(d)
    H = None if linear else A + A.T

    def loss(th):
        out = L0 + th @ g
        return out if H is None else out + 0.5 * np.einsum("bi,ij,bj->b", th, H, th)

    return loss, g, H


def _mc_mse(method, loss, d, S, sigma, g, replicas, seed):
    est = estimate(method, loss, np.zeros(d), S, sigma, seed=seed, replicas=replicas).grad
    e = np.sum((est - g) ** 2, axis=1)
    return e.mean(), e.std(ddof=1) / np.sqrt(replicas)


@settings(max_examples=12)
@given(d=st.integers(1, 12), S=st.integers(1, 12), log_sigma=st.floats(-2, 0.5),
       variant=st.sampled_from(ne.SCORE_VARIANTS), linear=st.booleans(),
       seed=st.integers(0, 1000))
def test_estimator_mse_matches_monte_carlo_of_the_estimators(d, S, log_sigma, variant, linear,
                                                            seed):
    sigma = 10.0**log_sigma
    loss, g, H = _quadratic(d, seed, L0=0.7, linear=linear)
    mean, sem = _mc_mse(f"score-{variant}", loss, d, S, sigma, g, 4000, seed + 1)
    theory = estimator_mse(variant, g, sigma, S, loss0=0.7, hessian=H)
    # 12 examples: |z| < 4.0 each keeps the family-wise false-failure rate below 0.1%
    assert abs(mean - theory) < 4.0 * sem, (mean, sem, theory)


def test_estimator_mse_wrong_by_two_is_detected():
    d, S, sigma = 6, 5, 0.3
    loss, g, H = _quadratic(d, 3)
    for variant in ne.SCORE_VARIANTS:
        mean, sem = _mc_mse(f"score-{variant}", loss, d, S, sigma, g, 4000, 4)
        theory = estimator_mse(variant, g, sigma, S, loss0=1.0, hessian=H)
        assert compare("mse", theory, mean, sem, bound=4.0).passed
        assert not compare("mse x2", 2 * theory, mean, sem, bound=4.0).passed
        assert not compare("mse /2", theory / 2, mean, sem, bound=4.0).passed


def test_antithetic_error_does_not_depend_on_sigma_on_a_quadratic():
    d = 5
    loss, g, H = _quadratic(d, 7)
    vals = [estimator_mse("antithetic", g, s, 4, 3.0, H) for s in (1e-3, 1.0, 100.0)]
    assert np.allclose(vals, vals[0])
    # and the estimator itself: the curvature cancels exactly in each antithetic pair
    a = estimate("score-antithetic", loss, np.zeros(d), 3, 1e-3, seed=1).grad
    b = estimate("score-antithetic", loss, np.zeros(d), 3, 1e2, seed=1).grad
    assert np.allclose(a, b)


def test_unbiased_estimators_on_a_quadratic():
    d = 4
    loss, g, H = _quadratic(d, 11)
    for m in ("score-plain", "score-baseline", "score-antithetic", "weight-perturbation"):
        est = estimate(m, loss, np.zeros(d), 8, 0.5, seed=2, replicas=20000).grad
        sem = est.std(axis=0, ddof=1) / np.sqrt(est.shape[0])
        assert compare(m, g, est.mean(axis=0), sem).passed


def test_regression_linear_loss_projection_and_exactness():
    d = 6
    loss, g, _ = _quadratic(d, 5, linear=True)
    for S in (2, 4, d):
        est = estimate("regression", loss, np.zeros(d), S, 0.7, seed=S, replicas=8000).grad
        e = np.sum((est - g) ** 2, axis=1)
        th = regression_mse(g, S)
        assert abs(e.mean() - th["mse_linear"]) < 4 * e.std(ddof=1) / np.sqrt(e.size)
        sem = est.std(axis=0, ddof=1) / np.sqrt(est.shape[0])
        assert compare("E[g_hat] = (r/d) g", th["mean_factor"] * g, est.mean(axis=0), sem).passed
    for S in (d + 1, 3 * d):  # full rank: the slope of a linear loss is recovered exactly
        est = estimate("regression", loss, np.zeros(d), S, 0.7, seed=1).grad
        assert np.allclose(est, g, rtol=1e-9, atol=1e-12)
        assert regression_mse(g, S)["mse_linear"] == 0.0


def test_regression_quadratic_leading_term_at_large_S():
    d, sigma = 4, 0.5
    loss, g, H = _quadratic(d, 2)
    S = 200
    mean, sem = _mc_mse("regression", loss, d, S, sigma, g, 4000, 9)
    lead = regression_mse(g, S, sigma, H)["mse_curvature_leading"]
    # O(d/S) = 2% corrections are smaller than 4 standard errors here (sem ~ 2.3%)
    assert abs(mean - lead) < 4 * sem + 0.02 * lead


def test_finite_difference_and_local_regression_exact_on_quadratics():
    d = 5
    loss, g, H = _quadratic(d, 13)
    theta = np.linspace(-1, 1, d)
    want = g + H @ theta
    for m, S in (("finite-difference", 1), ("local-regression", 4)):
        got = estimate(m, loss, theta, S, 0.3, seed=0)
        assert np.allclose(got.grad, want, atol=1e-10)
        assert got.evaluations == (2 * d if m == "finite-difference" else 2 * S * d)


def test_one_batched_loss_call_per_estimate():
    calls = []
    loss, g, _ = _quadratic(3, 1)

    def counting(th):
        calls.append(th.shape[0])
        return loss(th)

    for m in METHODS:
        if m in ("node-perturbation", "pathwise"):
            continue
        calls.clear()
        out = estimate(m, counting, np.zeros(3), 5, 0.1, seed=0)
        assert len(calls) == 1
        assert calls[0] == out.evaluations


def test_node_perturbation_on_a_linear_network():
    from numerics.small_nets import LinearClassifier

    rng = np.random.default_rng(0)
    X = rng.random((30, 5))
    y = rng.integers(0, 3, 30)
    net = LinearClassifier(X, y, 3)
    th = rng.standard_normal(net.dim) * 0.1
    g = net.gradient(th)
    est = estimate("node-perturbation", net, th, 16, 1e-4, seed=1, replicas=400).grad
    sem = est.std(axis=0, ddof=1) / np.sqrt(est.shape[0])
    assert compare("node perturbation unbiased", g, est.mean(axis=0), sem).passed
    with pytest.raises(TypeError, match="NodeModel"):
        estimate("node-perturbation", lambda t: t.sum(1), th, 4, 0.1)


def test_pathwise_uses_the_models_gradient():
    class Model:
        def __call__(self, th):
            return np.sum(th**2, axis=1)

        def gradient(self, th):
            return 2 * th

    out = estimate("pathwise", Model(), np.array([1.0, -2.0]), 1, 1.0)
    assert np.allclose(out.grad, [2.0, -4.0]) and out.evaluations == 1
    with pytest.raises(TypeError, match="gradient"):
        estimate("pathwise", lambda t: t.sum(1), np.zeros(2), 1, 1.0)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("kw, err, match", [
    ({"S": 0}, ValueError, "S"), ({"S": 2.5}, TypeError, "S"), ({"sigma": 0.0}, ValueError,
                                                                "sigma"),
    ({"sigma": -1.0}, ValueError, "sigma"), ({"hessian": np.ones((2, 3))}, ValueError,
                                             "hessian"),
    ({"hessian": np.array([[1.0, 2.0], [0.0, 1.0]])}, ValueError, "symmetric"),
    ({"hessian": np.eye(3)}, ValueError, "hessian"), ({"grad": [1.0, np.nan]}, ValueError,
                                                      "grad"),
    ({"variant": "fancy"}, ValueError, "variant"), ({"loss0": np.inf}, ValueError, "loss0"),
])
def test_estimator_mse_bad_input(kw, err, match):
    args = {"variant": "plain", "grad": [1.0, 2.0], "sigma": 0.1, "S": 3, "loss0": 0.0,
            "hessian": None}
    args.update(kw)
    with pytest.raises(err, match=match):
        estimator_mse(**args)


def test_estimate_bad_input():
    loss, _, _ = _quadratic(2, 0)
    with pytest.raises(ValueError, match="method"):
        estimate("magic", loss, np.zeros(2), 2, 0.1)
    with pytest.raises(ValueError, match="S"):
        estimate("regression", loss, np.zeros(2), 0, 0.1)
    with pytest.raises(ValueError, match="sigma"):
        estimate("regression", loss, np.zeros(2), 2, -0.1)
    with pytest.raises(ValueError, match="theta"):
        estimate("regression", loss, np.zeros((2, 2, 2)), 2, 0.1)
    with pytest.raises(ValueError, match="losses"):
        estimate("regression", lambda t: np.zeros(3), np.zeros(2), 2, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        estimate("regression", lambda t: np.full(t.shape[0], np.nan), np.zeros(2), 2, 0.1)


# ----------------------------------------------------------------------------- Werfel-Xie-Seung


@pytest.mark.parametrize("rule", ["gd", "node", "weight"])
def test_student_teacher_simulation_follows_the_recursion(rule):
    M, N, sigma = 2, 3, 0.2
    eta = ne.optimal_rate(rule, M, N)
    steps = 60
    rec = np.arange(0, steps + 1, 10)
    run = simulate_student_teacher(rule, eta, M, N, sigma, steps, replicas=3000, seed=1,
                                   record=rec)
    D0 = np.random.default_rng(12345).standard_normal((M, N)) / np.sqrt(N)
    theory = expected_learning_curve(rule, eta, M, N, sigma, float(np.sum(D0**2)), steps)[rec]
    c = compare(rule, theory[1:], run.mean[1:], run.sem[1:])
    assert c.passed, c.summary()
    # a recursion factor off by a factor 2 in the eta^2 term would be seen
    a, b = perturbation_recursion(rule, eta, M, N, sigma)
    wrong = 0.5 * float(np.sum(D0**2)) * (1 - 2 * eta + 2 * (a - 1 + 2 * eta)) ** rec[1:]
    assert not compare(rule, wrong, run.mean[1:], run.sem[1:]).passed


def test_student_teacher_bad_input():
    with pytest.raises(ValueError, match="rule"):
        perturbation_recursion("hebb", 0.1, 2, 2)
    with pytest.raises(ValueError, match="eta"):
        perturbation_recursion("gd", -0.1, 2, 2)
    with pytest.raises(ValueError, match="sigma"):
        simulate_student_teacher("node", 0.01, 2, 2, 0.0, 10, 4)
    with pytest.raises(FloatingPointError, match="diverged"):
        simulate_student_teacher("gd", 50.0, 2, 50, 0.0, 400, 4)
