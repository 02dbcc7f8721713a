"""Moment engine (seed 002 eqs. (10)-(11)) against Ornstein-Uhlenbeck and other closed forms."""

import json

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from numerics.compile import compile_rhs
from numerics.integrate import integrate
from theory.moments import MomentSystem, covariance_symbols, derive_moments

w, m, a, q = sp.symbols("w m a q", real=True)
eta = sp.Symbol("eta", positive=True)


def ou_system():
    # update f = -a (w - m) + xi, E[xi] = 0, E[xi^2] = q  ->  <f> = -a(w-m), <f^2> = <f>^2 + q
    drift = sp.Matrix([-a * (w - m)])
    second = sp.Matrix([a**2 * (w - m) ** 2 + q])
    return derive_moments(drift, [w], second, finite_lr=True, eta=eta)


def test_ou_equations_symbolic():
    s = ou_system()
    C = s.covariance[0, 0]
    assert sp.simplify(s.mean_rhs[0, 0] - (-a * (w - m))) == 0
    assert sp.simplify(s.cov_rhs[0, 0] - (-2 * a * C + eta * q)) == 0


@given(
    a_=st.floats(0.1, 3.0), q_=st.floats(0.0, 2.0), eta_=st.floats(1e-3, 0.5),
    w0=st.floats(-3, 3), c0=st.floats(0, 2), t1=st.floats(0.1, 5.0),
)
def test_ou_moments_match_closed_form(a_, q_, eta_, w0, c0, t1):
    s = ou_system()
    rhs, state, params = compile_rhs(s)
    values = {"a": a_, "eta": eta_, "m": 0.7, "q": q_}
    p = [values[str(sym)] for sym in params]
    rtol = 1e-9
    traj = integrate(rhs, (0, t1), [w0, c0], args=(p,), t_eval=[t1], rtol=rtol, atol=1e-12)
    mean = 0.7 + (w0 - 0.7) * np.exp(-a_ * t1)
    var = c0 * np.exp(-2 * a_ * t1) + eta_ * q_ / (2 * a_) * (1 - np.exp(-2 * a_ * t1))
    assert traj.y[0, -1] == pytest.approx(mean, rel=1e3 * rtol, abs=1e-9)
    assert traj.y[1, -1] == pytest.approx(var, rel=1e3 * rtol, abs=1e-9)


def _random_stable(rng, n):
    M = rng.standard_normal((n, n))
    return M - (np.max(np.linalg.eigvals(M).real) + 0.2) * np.eye(n)


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 3))
def test_covariance_stays_symmetric_psd(seed, n):
    rng = np.random.default_rng(seed)
    ws = sp.symbols(f"w0:{n}", real=True)
    A = sp.Matrix(_random_stable(rng, n).round(3))
    B = rng.standard_normal((n, n)).round(3)
    Q = sp.Matrix(B @ B.T)
    drift = A * sp.Matrix(ws)
    second = drift * drift.T + Q
    s = derive_moments(drift, ws, second, finite_lr=True, eta=eta)
    rhs, state, params = compile_rhs(s)
    G = rng.standard_normal((n, n))
    C0 = G @ G.T
    y0 = np.concatenate([rng.standard_normal(n), C0[np.triu_indices(n)]])
    traj = integrate(rhs, (0, 3.0), y0, args=([0.3],), t_eval=np.linspace(0, 3, 13))
    iu = np.triu_indices(n)
    for k in range(traj.t.size):
        C = np.zeros((n, n))
        C[iu] = traj.y[n:, k]
        C = C + np.triu(C, 1).T
        assert np.allclose(C, C.T)
        assert np.linalg.eigvalsh(C)[0] >= -1e-8 * max(1.0, np.abs(C).max())
    # symbolic symmetry of dC/dt
    assert s.cov_rhs == s.cov_rhs.T


def test_second_order_correction_and_factor():
    x = sp.Symbol("x", real=True)
    f = sp.Matrix([-(x**3)])
    half = derive_moments(f, [x])
    one = derive_moments(f, [x], correction=1)
    C = half.covariance[0, 0]
    # d<x>/dt = -<x>^3 + c * C * (-6 <x>)
    assert sp.expand(half.mean_rhs[0, 0] - (-(x**3) - 3 * C * x)) == 0
    assert sp.expand(one.mean_rhs[0, 0] - (-(x**3) - 6 * C * x)) == 0


def test_cubic_mean_matches_exact_gaussian_moment_closure():
    # For Gaussian w, E[-w^3] = -(m^3 + 3 m C) exactly: the c = 1/2 engine reproduces it.
    x = sp.Symbol("x", real=True)
    s = derive_moments(sp.Matrix([-(x**3)]), [x])
    mm, CC = 0.4, 0.3
    val = float(s.mean_rhs[0, 0].subs({x: mm, s.covariance[0, 0]: CC}))
    rng = np.random.default_rng(0)
    sample = rng.normal(mm, np.sqrt(CC), 2_000_000)
    mc = -np.mean(sample**3)
    se = np.std(sample**3) / np.sqrt(sample.size)
    assert abs(val - mc) < 4 * se
    assert abs(2 * val - mc) > 10 * se  # a factor 2 error would be seen


def test_latex_and_save_load(tmp_path):
    s = ou_system()
    tex = s.latex()
    assert tex.startswith("\\begin{align*}") and tex.endswith("\\end{align*}")
    assert "\\frac{d\\langle w\\rangle}{dt}" in tex
    path = tmp_path / "ou.json"
    s.save(path)
    back = MomentSystem.load(path)
    assert back == s
    assert json.loads(path.read_text())["finite_lr"] is True


def test_bad_input():
    x, y = sp.symbols("x y")
    with pytest.raises(ValueError, match="rows"):
        derive_moments(sp.Matrix([x, y]), [x])
    with pytest.raises(TypeError, match="weights"):
        derive_moments(sp.Matrix([x]), ["x"])
    with pytest.raises(ValueError, match="second_moment"):
        derive_moments(sp.Matrix([x]), [x], finite_lr=True)
    with pytest.raises(ValueError, match="second_moment must be"):
        derive_moments(sp.Matrix([x]), [x], sp.eye(2), finite_lr=True)
    with pytest.raises(ValueError, match="n must be"):
        covariance_symbols(0)
