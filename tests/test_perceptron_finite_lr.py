"""The perceptron's first-order finite-learning-rate theory: each assembled piece against an
independent route (symbolic engine, full-N moment equations, finite differences, Monte Carlo
of the update rule)."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.compile import compile_expressions
from numerics.perceptron import _model, _moment_rhs, mean_drift
from numerics.perceptron_finite_lr import (
    FrameProblem,
    alignment_correction,
    first_order_perceptron,
    first_order_protocol,
    first_order_rhs,
    update_covariance,
)
from numerics.sim.perceptron import ReducedPerceptronRule, sigmoid, update_factor
from theory.finite_lr import derive_finite_lr
from theory.perceptron import drift_vector
from theory.perceptron_finite_lr import noise_factor, noise_factor_derivatives


def _prob(rule, K=2, sigma=1.3, n_perp=5, lam=0.2, baseline="expected", sigma_par=None):
    mu = np.zeros(K)
    mu[0] = 1.0
    S = sigma**2 * np.eye(K)
    if sigma_par is not None:
        S[0, 0] = sigma_par**2
    return FrameProblem(rule, mu, -mu, S, sigma, n_perp, lam, baseline)


@settings(max_examples=30)
@given(s=st.floats(-6, 6), y=st.sampled_from([1, -1]), rule=st.sampled_from(["sl", "rl"]),
       baseline=st.sampled_from(["expected", "none"]))
def test_noise_factor_is_the_mean_square_of_the_simulated_update_factor(s, y, rule, baseline):
    """E over yhat of G^2 from the simulator's update_factor (yhat = +1 iff u < phi(s))."""
    p = float(sigmoid("erf", s))
    g_up = update_factor(rule, s, y, 0.0, baseline=baseline)  # yhat = +1 (u < p unless p = 0)
    g_dn = update_factor(rule, s, y, np.nextafter(1.0, 0.0), baseline=baseline)  # yhat = -1
    if rule == "sl":
        want = float(g_up) ** 2
    else:
        want = p * float(g_up) ** 2 + (1 - p) * float(g_dn) ** 2
    sym = sp.Symbol("s", real=True)
    got = float(noise_factor(rule, y, sym, baseline=baseline).subs(sym, s).evalf(30))
    assert got == pytest.approx(want, rel=1e-10, abs=1e-14)


def test_noise_factor_derivatives_are_derivatives():
    s, ex = noise_factor_derivatives("rl")
    assert sp.simplify(sp.diff(ex[0], s) - ex[1]) == 0
    assert sp.simplify(sp.diff(ex[1], s) - ex[2]) == 0


@pytest.mark.parametrize("rule,baseline", [("sl", "expected"), ("rl", "expected"),
                                           ("rl", "none")])
def test_update_covariance_against_monte_carlo(rule, baseline):
    """Covariance of f = G x - lam w over 400k sampled (y, x, yhat) at a fixed w (N = 4:
    frame of 2 plus 2 orthogonal directions), within 5 Monte Carlo standard errors."""
    prob = _prob(rule, n_perp=2, sigma=0.9, sigma_par=1.4, lam=0.3, baseline=baseline)
    m = np.array([0.7, -1.1])
    Sig, var_perp = update_covariance(prob, m)
    rng = np.random.default_rng(7)
    n = 400_000
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    sd = np.array([1.4, 0.9, 0.9, 0.9])
    x = rng.standard_normal((n, 4)) * sd
    x[:, 0] += y
    w = np.array([0.7, -1.1, 0.0, 0.0])
    G = update_factor(rule, x @ w, y, rng.random(n), baseline=baseline)
    f = G[:, None] * x - 0.3 * w
    fc = f - f.mean(0)
    cov = fc.T @ fc / (n - 1)
    prods = fc[:, :, None] * fc[:, None, :]
    se = prods.reshape(n, -1).std(0).reshape(4, 4) / np.sqrt(n)
    assert np.all(np.abs(cov[:2, :2] - Sig) < 5 * se[:2, :2] + 1e-12)
    for k in (2, 3):
        assert abs(cov[k, k] - var_perp) < 5 * se[k, k]
    assert np.all(np.abs(cov[:2, 2:]) < 5 * se[:2, 2:])  # frame and orthogonal uncorrelated


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_frame_curvature_term_equals_full_N_moment_equations(rule):
    """1/2 sum C_kl d_k d_l F with C = blockdiag(Gamma, gamma_perp I_{N-K}) in N = K + 5
    dimensions (numerics.perceptron._moment_rhs) equals the frame assembly (Gamma block +
    (N - K) gamma_perp times the orthogonal curvature)."""
    prob = _prob(rule, n_perp=5)
    K = prob.K
    rng = np.random.default_rng(3)
    m = np.array([0.4, 0.9])
    L = rng.standard_normal((K, K))
    Gam = L @ L.T
    gp = 0.37
    state = np.concatenate([m, np.zeros(K), Gam.ravel(), [gp]])
    # the delta equation at delta = 0 without its -1/2 J F part: compare with F removed
    out = first_order_rhs(prob, state)
    N = K + prob.n_perp
    mu_full = np.zeros(N)
    mu_full[0] = 1.0
    model = _model(rule, mu_full, prob.sigma_perp**2 * np.eye(N), None, None, prob.lam)
    C = np.zeros((N, N))
    C[:K, :K] = Gam
    C[K:, K:] = gp * np.eye(prob.n_perp)
    w = np.concatenate([m, np.zeros(prob.n_perp)])
    dm, dC = _moment_rhs(model, w, C, 0.5)
    F = mean_drift(rule, w, mu_full, prob.sigma_perp**2 * np.eye(N), prob.lam)
    # J F by central differences of the drift
    h = 1e-6
    JF = (mean_drift(rule, w + h * F, mu_full, prob.sigma_perp**2, prob.lam)
          - mean_drift(rule, w - h * F, mu_full, prob.sigma_perp**2, prob.lam)) / (2 * h)
    want = (dm - F)[:K] - 0.5 * JF[:K]
    assert np.allclose(out[K:2 * K], want, rtol=1e-6, atol=1e-8)
    Sig, var_perp = update_covariance(prob, m)
    assert np.allclose(out[2 * K:2 * K + K * K].reshape(K, K), dC[:K, :K] + Sig, atol=1e-12)
    assert out[-1] == pytest.approx(dC[K, K] + var_perp, rel=1e-10)
    assert np.allclose((dm - F)[K:], 0, atol=1e-12)  # the shift stays in the frame


def test_delta_equation_equals_symbolic_engine_in_three_dimensions():
    """RL, N = 3 (frame of 2 + 1 orthogonal direction): the delta right-hand side (drift
    parts) equals theory.finite_lr's symbolic system for the 3-dimensional drift."""
    w = sp.symbols("w0:3", real=True)
    mu = sp.Matrix([1, 0, 0])
    S = sp.Rational(9, 4) * sp.eye(3)
    lam = sp.Rational(1, 10)
    F = drift_vector("rl", w, mu, S, -mu, S, lam)
    system = derive_finite_lr(F, w, update_cov=sp.zeros(3, 3))
    gam = sorted(system.Gamma.free_symbols, key=str)
    f = compile_expressions(list(system.delta_rhs), [list(w), list(system.delta), gam])
    prob = _prob("rl", sigma=1.5, n_perp=1, lam=0.1)
    m, d = np.array([0.3, 1.2]), np.array([-0.5, 0.8])
    Gam = np.array([[0.6, -0.2], [-0.2, 0.9]])
    gp = 0.45
    out = first_order_rhs(prob, np.concatenate([m, d, Gam.ravel(), [gp]]))
    full = np.zeros((3, 3))
    full[:2, :2], full[2, 2] = Gam, gp
    vals = {str(s): full[int(str(s).split("_")[1]), int(str(s).split("_")[2])] for s in gam}
    sym = f([*m, 0.0], [*d, 0.0], [vals[str(s)] for s in gam])
    assert np.allclose(out[2:4], sym[:2], rtol=1e-9, atol=1e-12)
    assert abs(sym[2]) < 1e-12


def test_first_order_flow_reproduces_the_mean_flow_and_covariance_limits():
    """The flow part equals numerics.perceptron.mean_flow; Gamma is symmetric PSD; at a
    fixed point (lam > 0) Gamma tends to the Lyapunov solution."""
    prob = _prob("sl", lam=1.0, sigma=0.5, n_perp=8)
    t = np.linspace(0, 30, 7)
    fo = first_order_perceptron(prob, [0.2, 0.3], t)
    from numerics.perceptron import mean_flow

    fl = mean_flow("sl", prob.mu_pos, prob.S, [0.2, 0.3], t, prob.lam)
    assert np.allclose(fo.flow, fl.y.T, rtol=1e-6, atol=1e-8)
    for G in fo.Gamma:
        assert np.allclose(G, G.T, atol=1e-10) and np.linalg.eigvalsh(G).min() > -1e-10
    assert np.all(fo.gamma_perp >= 0)
    # stationary: J G + G J^T + Sigma = 0 at the end
    out = first_order_rhs(prob, fo.state(-1))
    assert np.allclose(out[4:8], 0, atol=1e-7) and abs(out[-1]) < 1e-7


def test_alignment_correction_is_the_derivative():
    flow = np.array([[0.3, 0.8], [1.0, -0.2]])
    delta = np.array([[0.5, -1.0], [2.0, 0.3]])
    A, dA = alignment_correction([1.0, 0.0], flow, delta)
    h = 1e-7
    from numerics.perceptron import alignment

    num = (alignment([1.0, 0.0], flow + h * delta)
           - alignment([1.0, 0.0], flow - h * delta)) / (2 * h)
    assert np.allclose(dA, num, rtol=1e-6)


def test_protocol_carries_the_state():
    prob = _prob("rl", K=3, lam=1.0, n_perp=20)
    p2 = prob.with_means([0.0, 1.0, 0.0])
    parts = first_order_protocol([prob, p2], [0.5, 0.7], [0.1, 0.1, 0.1])
    whole = first_order_perceptron(prob, [0.1, 0.1, 0.1], [0.0, 0.5])
    assert np.allclose(parts[0].delta[-1], whole.delta[-1])
    assert np.allclose(parts[1].flow[0], parts[0].flow[-1])
    assert np.allclose(parts[1].gamma_perp[0], parts[0].gamma_perp[-1])


def test_from_reduced_and_bad_input():
    mu = np.zeros(10)
    mu[0] = 1.0
    red = ReducedPerceptronRule.isotropic("rl", mu, 2.0, lr=1e-3, extra=(np.eye(10)[1],))
    prob = FrameProblem.from_reduced(red)
    assert prob.K == 2 and prob.n_perp == 8 and prob.sigma_perp == 2.0
    logi = ReducedPerceptronRule.isotropic("rl", mu, 2.0, lr=1e-3, sigmoid="logistic")
    with pytest.raises(ValueError, match="erf"):
        FrameProblem.from_reduced(logi)
    with pytest.raises(ValueError, match="baseline"):
        update_covariance(_prob("rl", baseline="running"), [0.1, 0.2])
    with pytest.raises(ValueError, match="t_eval"):
        first_order_perceptron(prob, [0.1, 0.2], [1.0, 0.5])
    with pytest.raises(ValueError, match="w0"):
        first_order_perceptron(prob, [0.1, 0.2, 0.3], [0.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        first_order_protocol([prob], [1.0, 2.0], [0.1, 0.2])
