"""Finite-learning-rate theory (theory.finite_lr) against exact discrete-time results.

* LMS: the O(eta) and O(eta^2) Taylor coefficients of the exact stationary second moments and
  excess loss (the fixed point of the exact recursion, Feuer & Weinstein 1985) equal the
  derived stationary expansion, symbolically;
* discrete Ornstein-Uhlenbeck: the exact mean and covariance after n = t/eta steps, expanded
  in eta at fixed t, have O(eta) coefficients that solve the derived delta and Gamma ODEs
  (symbolic substitution), and the exact stationary covariance's series equals K1, K2;
* a nonlinear scalar rule: the exact distribution of the chain (transfer operator on a grid)
  against the first-order flow and the order-2 stationary expansion;
* identities: the gradient-rule form of the modified drift, symmetry and limits.
"""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.finite_lr import first_order_flow, stationary_values
from theory.finite_lr import (
    derive_finite_lr,
    from_moment_system,
    lms_stationary_expansion,
    modified_drift,
    ou_system,
    stationary_expansion,
)
from theory.lms import (
    exact_second_moment_map,
    lms_drift,
    lms_moment_system,
    lms_second_moment,
    lms_symbols,
    lms_update,
    modal_theory,
)
from theory.moments import derive_moments
from theory.wick import gaussian_expectation

eta = sp.Symbol("eta", positive=True)


def _series(e, x, order):
    return sp.series(e, x, 0, order + 1).removeO()


# ------------------------------------------------------------------------------------ LMS


def test_lms_stationary_loss_series_equals_derived_corrections():
    """Exact s^2 A/(1-A) (modal theory, R = diag(lambda0, lambda1)) vs tr(R K1), tr(R K2)."""
    mt = modal_theory()
    ex = lms_stationary_expansion()
    sym = lms_symbols(2, diagonal=True)
    lam = [sym.R[0, 0], sym.R[1, 1]]
    A = sum(li * mt.alpha.subs({mt.lam: li}) for li in lam)
    exact = mt.closure.subs({mt.A: A})
    ser = sp.expand(_series(exact, mt.gamma, 2))
    R = sp.Matrix(sym.R)
    c1 = sp.expand((R * ex.K1).trace())
    c2 = sp.expand((R * ex.K2).trace())
    assert sp.simplify(ser.coeff(mt.gamma, 1) - c1) == 0
    assert sp.simplify(ser.coeff(mt.gamma, 2) - c2) == 0
    assert sp.simplify(ser.coeff(mt.gamma, 0)) == 0
    # and through the general observable formula
    v = sp.Matrix(sym.w) - sp.Matrix(sym.w_o)
    loss = sp.expand((v.T * R * v)[0, 0])
    assert sp.simplify(ex.expectation(loss) - ser) == 0
    # the LMS stationary mean has no correction at either order (linear drift)
    assert ex.delta1 == sp.zeros(2, 1) and ex.delta2 == sp.zeros(2, 1)


def test_lms_general_R_exact_fixed_point_series():
    """n = 2, symbolic non-diagonal R: the exact recursion's fixed point K*(gamma) has
    the Taylor coefficients K1, K2 (third moment of the update by Isserlis)."""
    n = 2
    sym = lms_symbols(n)
    K, Kn = exact_second_moment_map(n)
    unk = sorted(K.free_symbols, key=str)
    sol = sp.solve([Kn[i, j] - K[i, j] for i in range(n) for j in range(i, n)], unk, dict=True)
    assert len(sol) == 1
    exact = K.subs(sol[0]).applyfunc(lambda e: _series(e, sym.gamma, 2))
    system = from_moment_system(lms_moment_system(n))
    pt = dict(zip(sym.w, sym.w_o))
    fs = lms_update(sym).subs(pt)
    ex = stationary_expansion(
        system, pt, order=2, third_moment=lambda i, j, k: gaussian_expectation(
            sp.expand(fs[i] * fs[j] * fs[k]), list(sym.x) + [sym.xi], sym.input_cov))
    assert (exact - ex.second_moment()).applyfunc(sp.simplify) == sp.zeros(n, n)
    assert ex.K1 == sp.ImmutableMatrix(sp.eye(n) * sym.s2 / 2)


def test_lms_first_order_system_matches_engine_diffusion():
    """Gamma's equation is the engine's finite_lr covariance equation divided by eta."""
    sym = lms_symbols(2)
    fl = derive_finite_lr(lms_drift(sym), sym.w, lms_second_moment(sym), eta=sym.gamma)
    eng = derive_moments(lms_drift(sym), sym.w, lms_second_moment(sym), finite_lr=True,
                         eta=sym.gamma)
    sub = {eng.covariance[i, j]: sym.gamma * fl.Gamma[i, j] for i in range(2) for j in range(2)}
    diff = (eng.cov_rhs.subs(sub) - sym.gamma * fl.gamma_rhs).applyfunc(sp.expand)
    assert diff == sp.zeros(2, 2)


# --------------------------------------------------------------------------- discrete OU


def test_ou_scalar_exact_moments_solve_the_first_order_equations():
    """w' = w + eta(-a(w - b) + xi), Var xi = q: exact E[w_n], Var(w_n) at n = t/eta."""
    system, A, b, S = ou_system(1)
    a, bb, q = A[0, 0], b[0, 0], S[0, 0]
    t, w0 = sp.symbols("t w_init", positive=True)
    B = 1 - eta * a
    power = sp.exp(t / eta * sp.log(B))  # B^n at n = t/eta
    mean = bb + power * (w0 - bb)
    var = eta**2 * q * (1 - power**2) / (1 - B**2)
    m_ser = sp.expand(_series(mean, eta, 1))
    v_ser = sp.expand(_series(var, eta, 1))
    flow = m_ser.coeff(eta, 0)
    d = m_ser.coeff(eta, 1)
    G = v_ser.coeff(eta, 1)
    assert sp.simplify(v_ser.coeff(eta, 0)) == 0
    x = system.weights[0]
    sub = {x: flow, system.delta[0]: d, system.Gamma[0, 0]: G}
    assert sp.simplify(sp.diff(flow, t) - system.drift[0, 0].subs(sub)) == 0
    assert sp.simplify(sp.diff(d, t) - system.delta_rhs[0, 0].subs(sub)) == 0
    assert sp.simplify(sp.diff(G, t) - system.gamma_rhs[0, 0].subs(sub)) == 0
    assert sp.simplify(d.subs(t, 0)) == 0 and sp.simplify(G.subs(t, 0)) == 0


def test_ou_matrix_exact_moments_solve_the_first_order_equations():
    """n = 2, A with distinct eigenvalues 2 and 1 (rational), general symbolic S and b."""
    system, Asym, bsym, Ssym = ou_system(2)
    A = sp.Matrix([[2, 1], [0, 1]])
    P, D = A.diagonalize()
    t = sp.Symbol("t", positive=True)
    Bn = P * sp.diag(*[sp.exp(t / eta * sp.log(1 - eta * D[i, i])) for i in range(2)]) * P.inv()
    w0 = sp.Matrix(sp.symbols("p0:2", real=True))
    b = sp.Matrix(bsym)
    mean = b + Bn * (w0 - b)
    # exact covariance: K_n = Kinf - B^n Kinf B^n^T with Kinf = B Kinf B^T + eta^2 S
    Bm = sp.eye(2) - eta * A
    Ki = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"k_{min(i, j)}_{max(i, j)}"))
    sol = sp.solve(list(Ki - Bm * Ki * Bm.T - eta**2 * sp.Matrix(Ssym)), list(Ki.free_symbols),
                   dict=True)[0]
    Kinf = Ki.subs(sol)
    cov = Kinf - Bn * Kinf * Bn.T
    m_ser = mean.applyfunc(lambda e: sp.expand(_series(e, eta, 1)))
    c_ser = cov.applyfunc(lambda e: sp.expand(_series(e, eta, 1)))
    flow = m_ser.applyfunc(lambda e: e.coeff(eta, 0))
    d = m_ser.applyfunc(lambda e: e.coeff(eta, 1))
    G = c_ser.applyfunc(lambda e: e.coeff(eta, 1))
    sub = {Asym[i, j]: A[i, j] for i in range(2) for j in range(2)}
    sub.update({x: flow[i] for i, x in enumerate(system.weights)})
    sub.update({x: d[i] for i, x in enumerate(system.delta)})
    sub.update({system.Gamma[i, j]: G[i, j] for i in range(2) for j in range(2)})
    for i in range(2):
        assert sp.simplify(sp.diff(d[i], t) - system.delta_rhs[i, 0].subs(sub)) == 0
        for j in range(2):
            assert sp.simplify(sp.diff(G[i, j], t) - system.gamma_rhs[i, j].subs(sub)) == 0
    assert d.subs(t, 0).applyfunc(sp.simplify) == sp.zeros(2, 1)


def test_ou_stationary_expansion_matches_exact_discrete_lyapunov():
    """Exact stationary covariance of the discrete OU chain, n = 1 symbolic and n = 2 with a
    rational A: Taylor coefficients = K1, K2 (third moment of Gaussian noise: zero)."""
    system, A, b, S = ou_system(1)
    pt = {system.weights[0]: b[0, 0]}
    ex = stationary_expansion(system, pt, order=2, third_moment=lambda i, j, k: 0)
    a, q = A[0, 0], S[0, 0]
    exact = eta**2 * q / (1 - (1 - eta * a) ** 2)
    ser = sp.expand(_series(exact, eta, 2))
    assert sp.simplify(ser - ex.second_moment()[0, 0]) == 0
    assert ex.delta1[0] == 0 and ex.delta2[0] == 0
    system2, A2, b2, S2 = ou_system(2)
    vals = {A2[0, 0]: 2, A2[0, 1]: 1, A2[1, 0]: sp.Rational(1, 2), A2[1, 1]: 3}
    sys_num = derive_finite_lr(system2.drift.subs(vals), system2.weights,
                               update_cov=system2.update_cov)
    pt = {w: b2[i, 0] for i, w in enumerate(system2.weights)}
    ex2 = stationary_expansion(sys_num, pt, order=2, third_moment=lambda i, j, k: 0)
    Am = sp.Matrix(2, 2, lambda i, j: vals[A2[i, j]])
    Bm = sp.eye(2) - eta * Am
    Ki = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"k_{min(i, j)}_{max(i, j)}"))
    sol = sp.solve(list(Ki - Bm * Ki * Bm.T - eta**2 * sp.Matrix(S2)), list(Ki.free_symbols),
                   dict=True)[0]
    exact2 = Ki.subs(sol).applyfunc(lambda e: _series(e, eta, 2))
    assert (exact2 - ex2.second_moment()).applyfunc(sp.simplify) == sp.zeros(2, 2)


# ------------------------------------------------------------------- a nonlinear scalar rule

_w = sp.Symbol("w", real=True)
_u = _w - sp.Rational(1, 2)
# one stable fixed point at w = 1/2, asymmetric about it (so the mean shifts), confining
_F = -sp.sin(_u) - sp.Rational(3, 5) * _u**2 - sp.Rational(3, 10) * _u**3
_NOISE = 0.8  # update f = F(w) + NOISE * standard normal


def _chain_grid(e, lo, hi, m):
    """Transfer matrix of w' = w + e (F(w) + NOISE xi) on a grid (rows: from)."""
    x = np.linspace(lo, hi, m)
    Fn = sp.lambdify(_w, _F)(x)
    sd = e * _NOISE
    mu = x + e * Fn
    P = np.exp(-0.5 * ((x[None, :] - mu[:, None]) / sd) ** 2)
    P /= P.sum(axis=1, keepdims=True)
    return x, P


def test_nonlinear_rule_first_order_flow_vs_exact_chain():
    """E[w_n] of the exact chain (transfer operator on a fine grid) at t = 1.5 for eta and eta/2:
    the Richardson estimate of the O(eta) coefficient (4 b(eta/2) - b(eta))/eta equals delta(t),
    and the variance / eta equals Gamma(t)."""
    system = derive_finite_lr(sp.Matrix([_F]), [_w], update_cov=sp.Matrix([_NOISE**2]))
    t1, w0 = 1.5, -0.6
    fl = first_order_flow(system, [w0], [0.0, t1])
    est_b, est_v = [], []
    for e in (0.02, 0.01):
        n = int(round(t1 / e))
        x, P = _chain_grid(e, -1.5, 1.2, 2200)
        # first step exactly from the point mass at w0
        mu1 = w0 + e * float(sp.lambdify(_w, _F)(w0))
        p = np.exp(-0.5 * ((x - mu1) / (e * _NOISE)) ** 2)
        p /= p.sum()
        for _ in range(n - 1):
            p = p @ P
        m = float(p @ x)
        est_b.append(m - fl.flow[-1, 0])
        est_v.append(float(p @ (x - m) ** 2))
    d_est = (4 * est_b[1] - est_b[0]) / 0.02
    g_est = 2 * est_v[1] / 0.01 - est_v[0] / 0.02  # Var/eta = Gamma + O(eta): Richardson
    assert d_est == pytest.approx(fl.delta[-1, 0], rel=2e-3, abs=1e-4)
    assert g_est == pytest.approx(fl.Gamma[-1, 0, 0], rel=2e-3)
    # a theory without the correction (delta = 0) is far off at eta = 0.02
    assert abs(est_b[0]) > 20 * abs(est_b[0] - 0.02 * fl.delta[-1, 0])


def test_nonlinear_rule_stationary_expansion_vs_exact_chain():
    """Stationary mean and variance of the exact chain (leading eigenvector of the grid
    transfer operator) at three learning rates: the mean shift is eta delta1 + eta^2 delta2
    and the variance eta K1 + eta^2 (K2 - delta1^2), to O(eta^3)."""
    system = derive_finite_lr(sp.Matrix([_F]), [_w], update_cov=sp.Matrix([_NOISE**2]))
    ex = stationary_expansion(system, {_w: sp.Rational(1, 2)}, order=2,
                              third_moment=lambda i, j, k: 0)
    v = stationary_values(ex)
    etas = np.array([0.04, 0.02, 0.01])
    shift, var = [], []
    for e in etas:
        x, P = _chain_grid(e, -0.6, 1.6, 1600)
        # stationary distribution: p (P - I) = 0 with sum(p) = 1 (one equation replaced)
        M = P.T - np.eye(x.size)
        M[-1] = 1.0
        rhs = np.zeros(x.size)
        rhs[-1] = 1.0
        p = np.linalg.solve(M, rhs)
        m = float(p @ x)
        shift.append(m - 0.5)
        var.append(float(p @ (x - m) ** 2))
    shift, var = np.array(shift), np.array(var)
    pred_shift = etas * v["delta1"][0] + etas**2 * v["delta2"][0]
    pred_var = etas * v["K1"][0, 0] + etas**2 * (v["K2"][0, 0] - v["delta1"][0] ** 2)
    # the O(eta^3) rest shrinks 8x per halving: check the error is O(eta^3)
    err_s = np.abs(shift - pred_shift)
    err_v = np.abs(var - pred_var)
    assert np.all(err_s < 3 * etas**3) and np.all(err_v < 3 * etas**3)
    # and the O(eta^2) terms matter: first order alone is off by much more at eta = 0.04
    assert abs(shift[0] - etas[0] * v["delta1"][0]) > 10 * err_s[0]


# -------------------------------------------------------------------------- identities


@settings(max_examples=15)
@given(c=st.lists(st.integers(-3, 3), min_size=6, max_size=6))
def test_modified_drift_of_gradient_rule_is_gradient_of_modified_loss(c):
    """F = -grad L  =>  F - eta/2 J F = -grad(L + eta/4 |grad L|^2) (Li, Tai & E)."""
    x, y = sp.symbols("x y", real=True)
    L = c[0] * x**2 + c[1] * y**2 + c[2] * x * y + c[3] * x**3 + c[4] * sp.sin(y) + c[5] * x**2 * y
    grad = sp.Matrix([sp.diff(L, x), sp.diff(L, y)])
    mod = modified_drift(-grad, [x, y])
    L2 = L + eta / 4 * (grad.T * grad)[0, 0]
    target = -sp.Matrix([sp.diff(L2, x), sp.diff(L2, y)])
    assert (mod - target).applyfunc(sp.simplify) == sp.zeros(2, 1)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1))
def test_first_order_covariance_symmetric_psd_and_tends_to_lyapunov(seed):
    """For a random stable linear drift with a constant noise covariance, Gamma(t) is
    symmetric PSD at every time and tends to the stationary K1."""
    rng = np.random.default_rng(seed)
    n = 2
    M = rng.standard_normal((n, n))
    A = M - (np.max(np.linalg.eigvals(M).real) + 0.5) * np.eye(n)
    L = rng.standard_normal((n, n))
    S = L @ L.T + 0.1 * np.eye(n)
    ws = sp.symbols("w0:2", real=True)
    F = sp.Matrix(np.round(A, 3)) * sp.Matrix(ws)
    Ss = sp.Matrix(np.round(S, 3))
    system = derive_finite_lr(F, ws, update_cov=Ss)
    fl = first_order_flow(system, [1.0, -1.0], np.linspace(0, 40, 9))
    for G in fl.Gamma:
        assert np.allclose(G, G.T)
        assert np.linalg.eigvalsh(G).min() > -1e-10
    ex = stationary_expansion(system, {ws[0]: 0, ws[1]: 0}, order=1)
    K1 = np.array(ex.K1.evalf().tolist(), dtype=float)
    assert np.allclose(fl.Gamma[-1], K1, rtol=1e-6, atol=1e-8)


def test_zero_noise_rule_has_no_fluctuation_term():
    """Sigma = 0: Gamma stays 0 and delta is the Euler map's own bias, which for a linear
    drift a(b - w) is -(a^2 t/2) e^{-a t} (w0 - b) (the series of (1 - eta a)^(t/eta))."""
    a_, b_ = 1.3, 0.4
    w = sp.Symbol("w", real=True)
    system = derive_finite_lr(sp.Matrix([a_ * (b_ - w)]), [w], update_cov=sp.zeros(1, 1))
    t = np.linspace(0, 3, 7)
    fl = first_order_flow(system, [2.0], t)
    assert np.allclose(fl.Gamma, 0)
    assert np.allclose(fl.delta[:, 0], -(a_**2 * t / 2) * np.exp(-a_ * t) * (2.0 - b_),
                       rtol=1e-7, atol=1e-10)


def test_bad_input():
    w = sp.Symbol("w", real=True)
    with pytest.raises(ValueError, match="exactly one"):
        derive_finite_lr(sp.Matrix([-w]), [w])
    with pytest.raises(TypeError, match="Symbols"):
        derive_finite_lr(sp.Matrix([-w]), ["w"], update_cov=sp.Matrix([1]))
    with pytest.raises(ValueError, match="rows"):
        derive_finite_lr(sp.Matrix([-w, w]), [w], update_cov=sp.Matrix([1]))
    system = derive_finite_lr(sp.Matrix([-w]), [w], update_cov=sp.Matrix([1]))
    with pytest.raises(ValueError, match="not a fixed point"):
        stationary_expansion(system, {w: 1})
    with pytest.raises(ValueError, match="third_moment"):
        stationary_expansion(system, {w: 0}, order=2)
    with pytest.raises(ValueError, match="order"):
        stationary_expansion(system, {w: 0}, order=3)
    with pytest.raises(ValueError, match="no second moment"):
        from_moment_system(derive_moments(sp.Matrix([-w]), [w]))
    with pytest.raises(ValueError, match="missing"):
        first_order_flow(derive_finite_lr(sp.Matrix([-sp.Symbol("a") * w]), [w],
                                          update_cov=sp.Matrix([1])), [0.0], [0, 1])
    with pytest.raises(ValueError, match="w0"):
        first_order_flow(system, [0.0, 1.0], [0, 1])
    with pytest.raises(ValueError, match="t_eval"):
        first_order_flow(system, [0.0], [1, 0])
