"""numerics.learning_bounds: the public API, its identities and its input checks."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from numerics.learning_bounds import (
    expected_difficulty,
    expected_k,
    expected_k_embedded,
    expected_k_fitted,
    expected_wdot_norm2,
    feasible_optimal_size,
    learning_threshold,
    mean_field_stationary,
    optimal_size,
    optimal_size_fitted,
    optimal_size_slides,
    variance_k,
)

pos = st.floats(0.01, 10.0)
gam = st.floats(0.0, 2.0)
expo = st.floats(0.05, 0.95)


@given(st.floats(1.0, 1e5), gam, gam, gam, pos, pos, pos, pos, pos)
def test_expected_k_is_the_normalised_form_and_its_sign_is_the_learning_condition(
        N, g1, g2, g3, T, F, G, kappa, tau):
    k = expected_k(N, g1, g2, g3, T, F, G, kappa, tau)
    w2 = expected_wdot_norm2(N, g1, g2, g3, T)
    assert w2 == pytest.approx(g1**2 + g2**2 + g3**2 * N / T)
    if w2 > 0:
        d = expected_difficulty(N, g1, g2, g3, T, G, kappa, tau)
        thr = learning_threshold(N, g1, g2, g3, T)
        # <k> = (G/F) (gamma1 - T <|wdot|^2> G_F) and learning iff G_F < threshold
        assert k == pytest.approx(G / F * (g1 - T * w2 * d), rel=1e-9, abs=1e-12)
        if abs(d - thr) > 1e-9 * thr:
            assert (k > 0) == (d < thr)


@given(st.floats(1.0, 1e4), st.floats(1.0, 100.0), gam, gam, gam, pos, pos, pos, pos, pos, expo)
def test_embedded_equals_expected_k_with_scaled_trace(N, ratio, g1, g2, g3, T, F, G, kappa, tau0,
                                                      a):
    N0 = N / ratio
    c2 = ratio ** (1 - a)
    k_emb = expected_k_embedded(N, N0, g1, g2, g3, T, F, G, kappa, tau0, a)
    assert k_emb == pytest.approx(expected_k(N, g1, g2, g3, T, F, G, kappa, c2 * tau0),
                                  rel=1e-9, abs=1e-12)
    k_sl = expected_k_embedded(N, N0, g1, g2, g3, T, F, G, kappa, tau0, a, variant="slides")
    assert k_sl == pytest.approx(expected_k(N, g1, g2, g3, T, F, G, c2 * kappa, c2 * tau0),
                                 rel=1e-9, abs=1e-12)
    assert expected_k_embedded(N0, N0, g1, g2, g3, T, F, G, kappa, tau0, a) == pytest.approx(
        expected_k(N0, g1, g2, g3, T, F, G, kappa, tau0), rel=1e-9, abs=1e-12)


def _numerical_argmax(f):
    """Arg-max of a vectorised f over N in [e^-40, e^40]: log grid, then Brent refinement."""
    logs = np.linspace(-40, 40, 4001)
    vals = f(np.exp(logs))
    i = int(np.argmax(vals))
    if i in (0, logs.size - 1):
        return None
    res = minimize_scalar(lambda x: -float(f(math.exp(x))),
                          bracket=(logs[i - 1], logs[i], logs[i + 1]), tol=1e-12)
    return math.exp(res.x)


@given(st.floats(0.0, 1.0), st.floats(0.05, 2.0), st.floats(0.01, 1.0), st.floats(0.1, 5.0),
       expo, st.floats(1.0, 100.0))
def test_optimal_size_is_the_numerical_argmax(g1, g2, g3, T, a, N0):
    ns = optimal_size(g1, g2, g3, T, a)

    def f(N):
        return expected_k_embedded(N, N0, g1, g2, g3, T, 2.0, 1.5, 0.7, 4.0, a)

    num = _numerical_argmax(f)
    assert num is not None
    assert num == pytest.approx(ns, rel=1e-4)
    assert feasible_optimal_size(g1, g2, g3, T, N0, a) == pytest.approx(max(ns, N0))


@given(st.floats(0.01, 1.0), st.floats(0.05, 2.0), st.floats(0.01, 1.0), st.floats(0.1, 5.0),
       expo, pos, pos)
def test_slides_optimum_is_the_argmax_of_the_slides_variant(g1, g2, g3, T, a, kappa0, tau0):
    ns = optimal_size_slides(g1, g2, g3, T, kappa0, tau0, a)

    def f(N):
        return expected_k_embedded(N, 10.0, g1, g2, g3, T, 2.0, 1.5, kappa0, tau0, a,
                                   variant="slides")

    num = _numerical_argmax(f)
    assert num == pytest.approx(ns, rel=1e-4)
    assert ns <= optimal_size(g1, g2, g3, T, a) * (1 + 1e-12)  # curvature growth only hurts


def test_optimal_size_cases_without_interior_optimum():
    assert optimal_size(0.1, 1.0, 0.0, 1.0) == math.inf
    assert optimal_size(0.1, 0.0, 0.03, 1.0) == 0.0
    assert math.isnan(optimal_size(0.1, 0.0, 0.0, 1.0))
    N = np.geomspace(1, 1e6, 50)
    up = expected_k_embedded(N, 1.0, 0.1, 1.0, 0.0, 1.0, 2.0, 1.0, 0.5, 3.0)
    down = expected_k_embedded(N, 1.0, 0.1, 0.0, 0.03, 1.0, 2.0, 1.0, 0.5, 3.0)
    assert np.all(np.diff(up) > 0) and np.all(np.diff(down) < 0)
    # N* below the base size: the base network is the best reachable size
    assert optimal_size(0.1, 1.0, 1.0, 1.0) == pytest.approx(1.0)
    assert feasible_optimal_size(0.1, 1.0, 1.0, 1.0, 50.0) == 50.0
    assert feasible_optimal_size(0.1, 0.0, 0.0, 1.0, 50.0) == 50.0


def test_n_star_formula_and_its_dependence():
    assert optimal_size(0.3, 1.0, 0.03, 2.0) == pytest.approx(2.0 / 0.03**2)
    assert optimal_size(0.3, 1.0, 0.03, 2.0, 0.25) == pytest.approx(2.0 / 0.03**2 / 3)
    # independent of gamma1
    assert optimal_size(0.01, 1.0, 0.03, 2.0) == optimal_size(0.9, 1.0, 0.03, 2.0)


@given(expo, st.floats(0.05, 2.0), st.floats(0.01, 1.0), st.floats(0.1, 5.0))
def test_fitted_theory_with_embedding_exponents_reproduces_n_star(a, g2, g3, T):
    ns = optimal_size(0.2, g2, g3, T, a)
    if not (1e-2 < ns < 1e8):
        return
    got = optimal_size_fitted(7.0, 0.2, g2, g3, T, 2.0, 1.5, 0.7, 4.0, (0.0, 0.0, 1 - a),
                              N_range=(1e-3, 1e9))
    assert got == pytest.approx(ns, rel=1e-6)
    N = np.geomspace(1, 1e4, 7)
    assert np.allclose(expected_k_fitted(N, 7.0, 0.2, g2, g3, T, 2.0, 1.5, 0.7, 4.0,
                                         (0.0, 0.0, 1 - a)),
                       expected_k_embedded(N, 7.0, 0.2, g2, g3, T, 2.0, 1.5, 0.7, 4.0, a))


def test_arrays_broadcast():
    N = np.array([10.0, 100.0, 1000.0])
    k = expected_k(N, 0.1, 1.0, 0.05, 1.0, 2.0, 1.0, 0.5, 30.0)
    assert k.shape == (3,)
    assert k[1] == expected_k(100.0, 0.1, 1.0, 0.05, 1.0, 2.0, 1.0, 0.5, 30.0)


def test_variance_k_limits():
    v = variance_k(50, 0.3, 0.0, 0.0, 1.0, 2.0, 1.0, 0.5, 30.0, 40.0, 0.3)
    assert v == 0.0
    v0 = variance_k(50, 0.3, 0.5, 0.1, 2.0, 2.0, 1.2, 0.0, 0.0, 0.0, 0.0)
    assert v0 == pytest.approx(1.2**2 * (0.5**2 / 50 + 0.1**2 / 2.0) / 4.0)


BAD = [
    (dict(N=0), "N must be in \\(0, inf\\)"),
    (dict(N=-5), "N must be"),
    (dict(gamma1=-0.1), "gamma1 must be in \\[0, inf\\)"),
    (dict(gamma2=-1), "gamma2"),
    (dict(gamma3=-1), "gamma3"),
    (dict(T=0), "T must be in \\(0, inf\\)"),
    (dict(loss=0), "loss must be"),
    (dict(grad_norm=-1), "grad_norm"),
    (dict(curv_grad=-0.5), "curv_grad"),
    (dict(trace_hess=-2), "trace_hess"),
    (dict(N=float("nan")), "N must be finite"),
]


@pytest.mark.parametrize("change,msg", BAD)
def test_expected_k_rejects_bad_input(change, msg):
    args = dict(N=100, gamma1=0.1, gamma2=1.0, gamma3=0.05, T=1.0, loss=2.0, grad_norm=1.0,
                curv_grad=0.5, trace_hess=30.0)
    args.update(change)
    with pytest.raises(ValueError, match=msg):
        expected_k(**args)


def test_negative_curvature_allowed_only_when_asked():
    with pytest.raises(ValueError, match="allow_negative_curvature"):
        expected_k(100, 0.1, 1.0, 0.05, 1.0, 2.0, 1.0, -0.5, 30.0)
    k = expected_k(100, 0.1, 1.0, 0.05, 1.0, 2.0, 1.0, -0.5, 30.0, allow_negative_curvature=True)
    assert k > expected_k(100, 0.1, 1.0, 0.05, 1.0, 2.0, 1.0, 0.5, 30.0)


def test_other_bad_input():
    with pytest.raises(TypeError, match="gamma1 must be a real number"):
        expected_k(100, "fast", 1.0, 0.05, 1.0, 2.0, 1.0, 0.5, 30.0)
    for a in (0.0, 1.0, -0.2, 1.5):
        with pytest.raises(ValueError, match="input_exponent must be in \\(0, 1\\)"):
            optimal_size(0.1, 1.0, 0.05, 1.0, a)
        with pytest.raises(ValueError, match="input_exponent"):
            expected_k_embedded(100, 10, 0.1, 1.0, 0.05, 1.0, 2.0, 1.0, 0.5, 3.0, a)
    with pytest.raises(ValueError, match="N0"):
        expected_k_embedded(100, 0, 0.1, 1.0, 0.05, 1.0, 2.0, 1.0, 0.5, 3.0)
    with pytest.raises(ValueError, match="trace_hess0"):
        expected_k_embedded(100, 10, 0.1, 1.0, 0.05, 1.0, 2.0, 1.0, 0.5, -3.0)
    with pytest.raises(ValueError, match="gamma2 must be in"):
        optimal_size(0.1, -1.0, 0.05, 1.0)
    with pytest.raises(ValueError, match="T must be in"):
        optimal_size(0.1, 1.0, 0.05, -1.0)
    with pytest.raises(ValueError, match="variant"):
        expected_k_embedded(100, 10, 0.1, 1.0, 0.05, 1.0, 2.0, 1.0, 0.5, 3.0, variant="paper")
    with pytest.raises(ValueError, match="not all be 0"):
        learning_threshold(10, 0, 0, 0, 1.0)
    with pytest.raises(ValueError, match="rows"):
        mean_field_stationary([1.0, 2.0], 0, 100, 0.1, 1.0, 0.05, 1.0)
    with pytest.raises(ValueError, match="gamma1 must be in \\(0, inf\\)"):
        mean_field_stationary([1.0, 2.0], 3, 100, 0.0, 1.0, 0.05, 1.0)


@given(st.floats(0.02, 0.2), st.floats(0.3, 2.0), st.floats(0.01, 0.1), st.floats(0.5, 2.0))
def test_mean_field_closure_and_minimum_at_n_star(g1, g2, g3, T):
    lam = np.linspace(0.5, 1.5, 6)
    N0, o = 30.0, 5

    def state(N):
        c2 = math.sqrt(N / N0)  # a = 1/2
        return mean_field_stationary(lam, c2 * o, N, g1, g2, g3, T)

    s = state(300.0)
    assert s.grad_norm == pytest.approx(math.sqrt(np.sum(lam**2 * s.modes)), rel=1e-10)
    assert s.loss == pytest.approx(0.5 * np.sum(lam * s.modes), rel=1e-12)
    ns = optimal_size(g1, g2, g3, T)
    res = minimize_scalar(lambda x: state(math.exp(x)).loss, bracket=(
        math.log(ns) - 1, math.log(ns), math.log(ns) + 1), tol=1e-10)
    assert math.exp(res.x) == pytest.approx(ns, rel=1e-3)
