"""``learndyn validate estimators-*``: pass with the exact theory, fail with a doubled one;
the training recursion against Monte Carlo of the estimators that it describes."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import validate.experiments.estimators as ex
import validate.experiments.estimators_training as ext
from numerics.estimators import estimate, quadratic_training_curve
from theory import estimators as te
from validate.registry import RunConfig, run_experiment

SMALL = {
    "estimators-mse": {"dim": 4, "S_values": "1,4,16", "sigmas": "0.1,1", "replicas": 2000,
                       "reg_large_S": 8, "hidden": 4, "classes": "0,1", "examples": 40,
                       "net_S": "4,16", "net_replicas": 300},
    "estimators-learning-curves": {"M": 2, "N": 4, "replicas": 200, "points": 6,
                                   "rate_factors": "0.5,1.5", "N_values": "4,8"},
    "estimators-training": {"classes": "0,1", "train": 100, "steps": 40, "replicas": 100,
                            "points": 5, "hidden": 4, "net_steps": 5},
}


def _doubled(fn):
    def wrapped(*args, **kwargs):
        return 2 * np.asarray(fn(*args, **kwargs))
    return wrapped


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_runs_pass(name):
    res = run_experiment(name, RunConfig(quick=True, seed=1, figures=False, params=SMALL[name]))
    assert res.passed, [c.summary() for c in res.comparisons]


def test_doubled_mse_fails_the_mse_experiment(monkeypatch):
    monkeypatch.setattr(ex, "estimator_mse", _doubled(ex.estimator_mse))
    res = run_experiment("estimators-mse", RunConfig(quick=True, seed=1, figures=False,
                                                     params=SMALL["estimators-mse"]))
    score = [c for c in res.comparisons if "MSE vs" in c.name]
    assert score and all(not c.passed for c in score)


def test_doubled_learning_curve_fails_the_learning_curve_experiment(monkeypatch):
    monkeypatch.setattr(ex, "expected_learning_curve", _doubled(ex.expected_learning_curve))
    res = run_experiment("estimators-learning-curves", RunConfig(
        quick=True, seed=1, figures=False, params=SMALL["estimators-learning-curves"]))
    curves = [c for c in res.comparisons if "learning curve" in c.name]
    assert curves and all(not c.passed for c in curves)


def test_doubled_training_curve_fails_the_training_experiment(monkeypatch):
    monkeypatch.setattr(ext, "quadratic_training_curve", _doubled(ext.quadratic_training_curve))
    res = run_experiment("estimators-training", RunConfig(
        quick=True, seed=1, figures=False, params=SMALL["estimators-training"]))
    assert res.comparisons and all(not c.passed for c in res.comparisons)


@pytest.mark.parametrize("variant", ["baseline", "antithetic"])
@settings(max_examples=10, deadline=None)
@given(lams=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=5),
       gvs=st.lists(st.floats(-2.0, 2.0), min_size=5, max_size=5))
def test_direction_variances_sum_to_the_mse(variant, lams, gvs):
    """Summed over an orthonormal eigenbasis, the per-direction variances give S x MSE."""
    var = te.score_direction_variance(variant)
    gv = sp.Symbol("gv", real=True)
    lams = [sp.Rational(x).limit_denominator(1000) for x in lams]
    gvs = [sp.Rational(x).limit_denominator(1000) for x in gvs[:len(lams)]]
    g2 = sum(x**2 for x in gvs)
    vals = {te.d: len(lams), te.trH: sum(lams), te.trH2: sum(x**2 for x in lams), te.g2: g2,
            te.sigma: sp.Rational(3, 7)}
    total = sum(var.subs({te.lam: lam, gv: g}).subs(vals) for lam, g in zip(lams, gvs))
    mse = te.score_mse(variant).subs({te.S: 1, te.L0: 0}).subs(vals)
    assert sp.simplify(total - mse) == 0


def test_training_recursion_of_exact_descent_is_deterministic():
    assert te.training_recursion("exact") == (1 - te.eta * te.lam) ** 2 * te.p_v
    assert not te.training_recursion("antithetic").has(te.sigma)


@pytest.mark.parametrize("variant,method", [("baseline", "weight-perturbation"),
                                            ("antithetic", "score-antithetic")])
def test_training_curve_matches_monte_carlo(variant, method):
    rng = np.random.default_rng(0)
    d, R, T, S, sig = 5, 20000, 6, 2, 0.6
    A = rng.standard_normal((d, d))
    H = A @ A.T / d
    lam, Q = np.linalg.eigh(H)
    th0 = rng.standard_normal(d)

    def loss(th):
        return 0.5 * np.einsum("bi,ij,bj->b", th, H, th)

    eta = 0.3 / lam.max()
    th = np.tile(th0, (R, 1))
    seeds = np.random.SeedSequence(2).spawn(T)
    for t in range(T):
        th = th - eta * estimate(method, loss, th, S, sig, seed=seeds[t]).grad
    L = loss(th)
    theory = quadratic_training_curve(variant, lam, (Q.T @ th0) ** 2, eta, S, sig, T)[-1]
    z = (L.mean() - theory) / (L.std(ddof=1) / np.sqrt(R))
    assert abs(z) < 3.3
    assert abs((L.mean() - 2 * theory) / (L.std(ddof=1) / np.sqrt(R))) > 10


def test_training_curve_bad_input():
    with pytest.raises(ValueError, match="variant"):
        quadratic_training_curve("plain", [1.0], [1.0], 0.1, 1, 0.1, 3)
    with pytest.raises(ValueError, match="same shape"):
        quadratic_training_curve("exact", [1.0, 2.0], [1.0], 0.1, 1, 0.1, 3)
    with pytest.raises(ValueError, match=">= 0"):
        quadratic_training_curve("exact", [-1.0], [1.0], 0.1, 1, 0.1, 3)
    with pytest.raises(ValueError, match="S"):
        quadratic_training_curve("antithetic", [1.0], [1.0], 0.1, 0, 0.1, 3)
    with pytest.raises(FloatingPointError, match="diverges"):
        quadratic_training_curve("antithetic", [1.0], [1.0], 1e3, 1, 0.1, 400)


def test_estimate_at_many_points():
    def loss(th):
        return np.sum(th**2, axis=1)

    pts = np.arange(6.0).reshape(3, 2)
    est = estimate("score-antithetic", loss, pts, 50, 0.1, seed=0).grad
    assert est.shape == (3, 2)
    np.testing.assert_allclose(est.mean(axis=0), 2 * pts.mean(axis=0), rtol=0.5)
    with pytest.raises(ValueError, match="random-perturbation"):
        estimate("finite-difference", loss, pts, 1, 0.1)
    with pytest.raises(ValueError, match="replicas"):
        estimate("score-plain", loss, pts, 2, 0.1, replicas=5)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_default_runs_pass(name):
    """Full (default) settings at seed 0, as the gallery runs them (about 1-2 min each)."""
    res = run_experiment(name, RunConfig(quick=False, seed=0, figures=False))
    assert res.passed, [c.summary() for c in res.comparisons]
