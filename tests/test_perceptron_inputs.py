"""Bad input to the perceptron numerics (numerics.perceptron, numerics.classification): a clear
ValueError/TypeError naming the parameter the user passed and the allowed range; and the
documented ``inf`` of alignment_time when the flow's alignment levels off below the threshold
(seed 002, Fig. 3: time to 80% alignment)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import root
from scipy.special import ndtr

from numerics.classification import gaussian_accuracy
from numerics.perceptron import (
    alignment,
    alignment_time,
    anisotropic_covariance,
    asymptotic_norm,
    mean_drift,
    mean_drift_two_class,
    mean_flow,
    moment_flow,
    reduced_rates,
)

MU = np.array([0.6, 0.8, 0.0])
W0 = np.array([0.1, -0.2, 0.3])


# ------------------------------------------------------------------ alignment_time


def test_alignment_time_rejects_zero_mu():
    for mu in (np.zeros(3), [0.0, 0.0, 0.0]):
        with pytest.raises(ValueError, match=r"mu must be non-zero.*undefined"):
            alignment_time("sl", mu, np.eye(3), W0)
    with pytest.raises(ValueError, match="mu must be non-zero"):
        alignment(np.zeros(3), W0)
    # the flow itself is defined for mu = 0 (only the alignment is not)
    assert mean_flow("sl", np.zeros(3), np.eye(3), W0, [1.0]).y.shape == (3, 1)
    mf = moment_flow("sl", np.zeros(3), np.eye(3), W0, 0.1 * np.eye(3), [0.0, 1.0])
    assert np.isnan(mf.alignment).all() and np.isfinite(mf.trace_cov).all()


@pytest.mark.parametrize("bad", ["abc", None, [0.5, 0.6], object()])
def test_alignment_time_non_numeric_threshold(bad):
    with pytest.raises((TypeError, ValueError), match=r"threshold.*\(0, 1\)"):
        alignment_time("sl", MU, np.eye(3), W0, threshold=bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, 1.0, -0.5])
def test_alignment_time_threshold_out_of_range(bad):
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\)"):
        alignment_time("sl", MU, np.eye(3), W0, threshold=bad)


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_alignment_levels_off_below_threshold_returns_inf(rule):
    """mu = (1, 1)/sqrt2 is not an eigenvector of Sigma = diag(1, 0.01): the fixed point solves
    (lam I - k G2 Sigma) w* = G1 mu, i.e. leans towards Sigma^{-1} mu, and its alignment
    (~0.77 here, from a root solve of the drift, independent of the flow) stays below 0.8.
    From w0 = (0, 30) (alignment 0.707, beyond |w*|) the flow approaches w* from below without
    overshooting, so the 80% threshold is never reached: inf, even with a generous t_max."""
    mu = np.array([1.0, 1.0]) / np.sqrt(2.0)
    S = np.diag([1.0, 0.01])
    lam, w0, t_max = 0.003, np.array([0.0, 30.0]), 3000.0
    sol = root(lambda w: mean_drift(rule, w, mu, S, lam), [0.5, 5.0], tol=1e-14)
    w_star = sol.x
    assert np.abs(mean_drift(rule, w_star, mu, S, lam)).max() < 1e-12
    a_star = float(alignment(mu, w_star))
    assert 0.74 < a_star < 0.79
    # at lam = 0 the fixed-point direction would be Sigma^{-1} mu, alignment 0.71: less still
    assert float(alignment(mu, np.linalg.solve(S, mu))) < a_star
    # the mean flow levels off at a_star (reaching w*), never above it
    t = np.linspace(0.0, t_max, 3001)
    traj = mean_flow(rule, mu, S, w0, t, lam=lam)
    al = alignment(mu, traj.y.T)
    np.testing.assert_allclose(traj.y[:, -1], w_star, rtol=1e-6)
    assert al.max() < a_star + 1e-6 < 0.8
    assert alignment_time(rule, mu, S, w0, lam=lam, threshold=0.8, t_max=t_max) == math.inf
    # a threshold below the plateau is reached, at the time the flow says
    thr = a_star - 0.03
    t_hit = alignment_time(rule, mu, S, w0, lam=lam, threshold=thr, t_max=t_max)
    assert 0 < t_hit < t_max
    hit = mean_flow(rule, mu, S, w0, [t_hit], lam=lam).y[:, -1]
    assert float(alignment(mu, hit)) == pytest.approx(thr, abs=1e-6)


# ------------------------------------------------------------------ parameter names


def test_errors_name_the_users_sigma_not_the_internal_one():
    bad = -np.eye(3)
    for call in (lambda: mean_drift("sl", W0, MU, bad),
                 lambda: mean_flow("sl", MU, bad, W0, [1.0]),
                 lambda: alignment_time("sl", MU, bad, W0),
                 lambda: moment_flow("sl", MU, bad, W0, np.eye(3), [1.0])):
        with pytest.raises(ValueError, match="positive semidefinite") as err:
            call()
        assert str(err.value).startswith("Sigma ") and "Sigma_pos" not in str(err.value)
    with pytest.raises(ValueError, match=r"Sigma must be 3x3 to match mu") as err:
        mean_drift("sl", W0, MU, np.eye(2))
    assert "Sigma_pos" not in str(err.value)
    with pytest.raises(ValueError, match=r"^mu contains NaN"):
        mean_flow("sl", [np.nan, 0, 1], np.eye(3), W0, [1.0])
    # the two-class API keeps its own names
    with pytest.raises(ValueError, match=r"^Sigma_pos must be positive semidefinite"):
        mean_drift_two_class("sl", W0, MU, bad, -MU, np.eye(3))
    with pytest.raises(ValueError, match=r"^Sigma_neg must be positive semidefinite"):
        mean_drift_two_class("sl", W0, MU, np.eye(3), -MU, bad)


def test_scalar_sigma_is_a_variance_times_identity():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(4, 3))
    for rule in ("sl", "rl"):
        np.testing.assert_allclose(mean_drift(rule, W, MU, 0.7, lam=0.1),
                                   mean_drift(rule, W, MU, 0.7 * np.eye(3), lam=0.1), rtol=1e-14)
        a = moment_flow(rule, MU, 0.7, W0, 0.05 * np.eye(3), [0.0, 1.0, 2.0], lam=0.1)
        b = moment_flow(rule, MU, 0.7 * np.eye(3), W0, 0.05 * np.eye(3), [0.0, 1.0, 2.0], lam=0.1)
        np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12)
        np.testing.assert_allclose(a.cov, b.cov, rtol=1e-12, atol=1e-15)
    for bad, err in ((-0.5, ValueError), (np.nan, ValueError), (np.inf, ValueError)):
        with pytest.raises(err, match=r"^Sigma must be in \[0, inf\)"):
            mean_drift("sl", W0, MU, bad)
    with pytest.raises(TypeError, match="^Sigma must be a real number"):
        mean_drift("sl", W0, MU, "abc")


def test_moment_flow_bad_method_and_tolerances():
    with pytest.raises(ValueError, match="method must be one of"):
        moment_flow("sl", MU, np.eye(3), W0, np.eye(3), [1.0], method="BDF")
    with pytest.raises(ValueError, match="rtol"):
        moment_flow("sl", MU, np.eye(3), W0, np.eye(3), [1.0], rtol=0.0)
    with pytest.raises(ValueError, match="correction"):
        moment_flow("sl", MU, np.eye(3), W0, np.eye(3), [1.0], correction=np.nan)


# ------------------------------------------------------------------ scalar parameters


@pytest.mark.parametrize("name", ["sigma_par", "sigma_perp", "mu_norm", "lam"])
def test_reduced_rates_rejects_nan_and_non_numeric(name):
    with pytest.raises(ValueError, match=rf"^{name} must be in"):
        reduced_rates("sl", 0.5, 1.0, **{name: float("nan")})
    with pytest.raises(TypeError, match=rf"^{name} must be a real number"):
        reduced_rates("sl", 0.5, 1.0, **{name: "abc"})


def test_reduced_rates_rejects_nan_state():
    with pytest.raises(ValueError, match="^P contains NaN"):
        reduced_rates("rl", [0.5, np.nan], 1.0)
    with pytest.raises(ValueError, match="^W contains NaN"):
        reduced_rates("rl", 0.5, np.nan)
    with pytest.raises(ValueError, match="Cauchy-Schwarz"):
        reduced_rates("rl", 2.0, 1.0)


def test_other_scalar_parameters():
    with pytest.raises(ValueError, match=r"^sigma must be in \[0, inf\)"):
        asymptotic_norm("sl", float("nan"), 0.1)
    with pytest.raises(ValueError, match=r"^lam must be in \[0, inf\)"):
        asymptotic_norm("sl", 1.0, float("nan"))
    with pytest.raises(ValueError, match=r"^epsilon must be in \[-1, 1\]"):
        anisotropic_covariance(MU, float("nan"))
    with pytest.raises(TypeError, match=r"^epsilon must be a real number in \[-1, 1\]"):
        anisotropic_covariance(MU, "abc")
    with pytest.raises(ValueError, match="^mu must be non-zero"):
        anisotropic_covariance(np.zeros(3), 0.5)


# ------------------------------------------------------------------ gaussian_accuracy


def _classes(n=3):
    rng = np.random.default_rng(2)
    A, B = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    return rng.normal(size=n), A @ A.T / n, rng.normal(size=n), B @ B.T / n


def test_gaussian_accuracy_shapes_and_prior_endpoints():
    mp, Sp, mn, Sn = _classes()
    w = np.array([0.5, -1.0, 0.3])
    acc = gaussian_accuracy(w, mp, Sp, mn, Sn, 0.3)
    assert np.ndim(acc) == 0 and 0 < acc < 1
    one = gaussian_accuracy(w[None, :], mp, Sp, mn, Sn, 0.3)
    assert one.shape == (1,) and one[0] == pytest.approx(acc, rel=1e-14)
    # the prior's endpoints are allowed: the accuracy on one class alone
    assert gaussian_accuracy(w, mp, Sp, mn, Sn, 1.0) == pytest.approx(
        ndtr(w @ mp / np.sqrt(w @ Sp @ w)), rel=1e-12)
    assert gaussian_accuracy(w, mp, Sp, mn, Sn, 0) == pytest.approx(
        ndtr(-(w @ mn) / np.sqrt(w @ Sn @ w)), rel=1e-12)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), float("inf")])
def test_gaussian_accuracy_rejects_prior_outside_unit_interval(p):
    mp, Sp, mn, Sn = _classes()
    with pytest.raises(ValueError, match=r"^p_pos must be in \[0, 1\]"):
        gaussian_accuracy(np.ones(3), mp, Sp, mn, Sn, p)
    with pytest.raises(TypeError, match=r"^p_pos must be a real number in \[0, 1\]"):
        gaussian_accuracy(np.ones(3), mp, Sp, mn, Sn, "abc")


def test_gaussian_accuracy_rejects_bad_shapes():
    mp, Sp, mn, Sn = _classes()
    w = np.ones(3)
    cases = [
        ((np.ones((2, 2, 3)), mp, Sp, mn, Sn), r"^w must have shape \(N,\) or \(T, N\)"),
        ((np.array([1.0, np.nan, 0.0]), mp, Sp, mn, Sn), "^w contains NaN"),
        ((w, mp[:2], Sp, mn, Sn), "^mu_pos must have length 3"),
        ((w, mp, Sp, np.ones((3, 1)), Sn), "^mu_neg must be a 1-D vector"),
        ((w, mp, Sp[:2, :2], mn, Sn), r"^Sigma_pos must be 3x3 to match w"),
        ((w, mp, Sp, mn, np.ones((3, 2))), "^Sigma_neg must be a square matrix"),
        ((w, mp, -Sp, mn, Sn), "^Sigma_pos must be positive semidefinite"),
        ((w, mp, Sp, mn, Sn + np.triu(np.ones((3, 3)), 1)), "^Sigma_neg must be symmetric"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            gaussian_accuracy(*args)
