"""LMS theory: derived from the rule, checked against textbook closed forms and Monte Carlo."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.lms import learning_curve, stability_bound, stationary_excess_loss
from numerics.sim.ensemble import simulate_ensemble
from numerics.sim.lms import LmsRule
from theory.lms import (
    exact_second_moment_map,
    fourth_moment_identity,
    lms_drift,
    lms_second_moment,
    lms_symbols,
    modal_theory,
    stationary_covariance_small_lr,
)
from validate.compare import compare


def test_drift_and_second_moment_are_derived_correctly():
    s = lms_symbols(3)
    R = sp.Matrix(s.R)
    v = sp.Matrix(s.w_o) - sp.Matrix(s.w)
    assert (lms_drift(s) - R * v).applyfunc(sp.expand) == sp.zeros(3, 1)
    want = 2 * R * v * v.T * R + (v.T * R * v)[0, 0] * R + s.s2 * R
    assert (lms_second_moment(s) - want).applyfunc(sp.expand) == sp.zeros(3, 3)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_gaussian_fourth_moment_identity(n):
    lhs, rhs = fourth_moment_identity(n)
    assert (lhs - rhs).applyfunc(sp.expand) == sp.zeros(n, n)


def test_exact_map_is_the_matrix_recursion():
    n = 2
    s = lms_symbols(n)
    K, Kn = exact_second_moment_map(n)
    R = sp.Matrix(s.R)
    g = s.gamma
    want = K - g * (R * K + K * R) + g**2 * (2 * R * K * R + (R * K).trace() * R) + g**2 * s.s2 * R
    assert (Kn - want).applyfunc(sp.expand) == sp.zeros(n, n)


def test_engine_stationary_covariance_and_modal_results():
    s = lms_symbols(2)
    C = stationary_covariance_small_lr(2)
    assert sp.simplify(C - s.gamma * s.s2 / 2 * sp.eye(2)) == sp.zeros(2, 2)
    mt = modal_theory()
    lam, g = mt.lam, mt.gamma
    assert sp.simplify(mt.alpha - g / (2 * (1 - g * lam))) == 0
    assert sp.simplify(mt.closure - mt.s2 * mt.A / (1 - mt.A)) == 0


def _textbook_excess(lam, mu, s2):
    # Feuer & Weinstein (1985) / Haykin, for the 2-mu convention w += 2 mu e x, Gaussian data:
    # excess MSE = s2 * sum(mu l/(1-2 mu l)) / (1 - sum(mu l/(1-2 mu l)))
    a = np.sum(mu * lam / (1 - 2 * mu * lam))
    with np.errstate(divide="ignore"):
        return s2 * a / (1 - a)


@given(seed=st.integers(0, 10**6), n=st.integers(1, 12), frac=st.floats(0.01, 0.95),
       s2=st.floats(0.01, 3.0))
def test_stationary_excess_matches_textbook_with_factor_two_convention(seed, n, frac, s2):
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.1, 3.0, n)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    R = (Q * lam) @ Q.T
    gamma = frac * stability_bound(R)
    exact = stationary_excess_loss(R, gamma, s2)
    assert exact == pytest.approx(_textbook_excess(lam, gamma / 2, s2), rel=1e-9)
    # using the other convention by mistake would be off by a factor ~2 at small gamma
    assert abs(_textbook_excess(lam, gamma, s2) - exact) > 0.5 * exact
    small = stationary_excess_loss(R, gamma, s2, exact=False)
    assert small == pytest.approx(gamma * s2 * lam.sum() / 2, rel=1e-12)
    assert small <= exact


@given(seed=st.integers(0, 10**6), n=st.integers(1, 6), frac=st.floats(0.05, 0.9))
def test_learning_curve_converges_to_stationary_value(seed, n, frac):
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.5, 2.0, n)
    R = np.diag(lam)
    gamma = frac * stability_bound(R)
    steps = int(60 / (gamma * lam.min()))
    lc = learning_curve(R, gamma, 0.3, np.zeros(n), rng.standard_normal(n), steps)
    assert lc[-1] == pytest.approx(stationary_excess_loss(R, gamma, 0.3), rel=1e-6)


def test_small_gamma_limit():
    R = np.diag([0.3, 1.0, 2.5])
    ratios = [stationary_excess_loss(R, g, 0.5) / stationary_excess_loss(R, g, 0.5, exact=False)
              for g in (1e-2, 1e-3, 1e-4)]
    assert ratios[0] > ratios[1] > ratios[2] > 1.0
    assert ratios[2] - 1 < 1e-3


@settings(max_examples=8)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 3), frac=st.floats(0.1, 0.8),
       s2=st.floats(0.05, 1.0))
def test_exact_recursion_equals_monte_carlo(seed, n, frac, s2):
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n, n))
    R = G @ G.T + 0.2 * np.eye(n)
    w_o = rng.standard_normal(n)
    w0 = rng.standard_normal(n)
    gamma = frac * stability_bound(R)
    steps = 6
    rule = LmsRule(R, w_o, gamma, s2)
    ens = simulate_ensemble(rule, w0, steps, replicas=20000, seed=seed,
                            record_steps=np.arange(steps + 1), observable=rule.excess_loss)
    theory = learning_curve(R, gamma, s2, w0, w_o, steps)
    c = compare("mc", theory[1:], ens.mean[1:, 0], ens.sem[1:, 0])
    assert c.passed, c.summary()
    assert ens.mean[0, 0] == pytest.approx(theory[0])
    bad = compare("2x", 2 * theory[1:], ens.mean[1:, 0], ens.sem[1:, 0])
    assert not bad.passed


@pytest.mark.parametrize("call, match", [
    (lambda: stationary_excess_loss(np.eye(2), -0.1, 1.0), "gamma"),
    (lambda: stationary_excess_loss(np.eye(2), 0.9, 1.0), "gamma must be in .*stable"),
    (lambda: stationary_excess_loss(np.array([[1.0, 2.0], [2.0, 1.0]]), 0.1, 1.0),
     "R must be positive semidefinite"),
    (lambda: stationary_excess_loss(np.array([[1.0, 0.5], [0.0, 1.0]]), 0.1, 1.0), "symmetric"),
    (lambda: stationary_excess_loss(np.array([[np.nan, 0], [0, 1.0]]), 0.1, 1.0), "NaN"),
    (lambda: stationary_excess_loss(np.eye(2), 0.1, -1.0), "noise_var"),
    (lambda: stationary_excess_loss(np.ones((2, 3)), 0.1, 1.0), "square"),
    (lambda: learning_curve(np.eye(2), 0.1, 1.0, np.zeros(3), np.zeros(2), 5), "w0"),
    (lambda: learning_curve(np.eye(2), 0.1, 1.0, np.zeros(2), [np.nan, 0], 5), "w_o"),
    (lambda: learning_curve(np.eye(2), 0.1, 1.0, np.zeros(2), np.zeros(2), -1), "steps"),
])
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
