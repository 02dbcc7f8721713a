"""Theory of learning bounds (Raman, Rotondo & O'Leary 2019): derivations and identities."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.learning_bounds import (
    SYMBOLS,
    cycle_rate,
    fitted_size_theory,
    mean_field_stationary,
    size_scaling,
    stationarity_polynomial,
    three_component,
    verify_embedding,
)
from theory.sphere_moments import FIXED, INVARIANTS, Poly, bilinear, sphere_expectation, vector
from theory.wick import gaussian_expectation

S = SYMBOLS
small_int = st.integers(min_value=-3, max_value=3)


# ----------------------------------------------------------------------------- sphere moments

def _gaussian_check(poly: Poly, H: sp.Matrix, degrees: dict[str, int]):
    """E over unit vectors = E over Gaussians / E|z|^(2m) (n = z/|z| independent of |z|)."""
    n = H.shape[0]
    zs = {r: sp.Matrix(sp.symbols(f"{r}_0:{n}", real=True)) for r in degrees}
    g = sp.zeros(n, 1)
    g[0] = 1
    vecs = dict(zs, **{FIXED: g})
    expr = sp.S.Zero
    for factors, coeff in poly.terms.items():
        term = coeff
        for a, k, b in factors:
            term *= (vecs[a].T * H**k * vecs[b])[0]
        expr += term
    variables = [v for r in degrees for v in zs[r]]
    gauss = gaussian_expectation(sp.expand(expr), variables, sp.eye(len(variables)))
    norm = sp.S.One
    for _r, m2 in degrees.items():
        for j in range(m2 // 2):
            norm *= n + 2 * j
    inv = INVARIANTS
    values = {inv.N: n, inv.tau: H.trace(), inv.theta: (H * H).trace(),
              inv.kappa: H[0, 0], inv.eta: (H * H)[0, 0]}
    engine = sphere_expectation(poly, list(degrees)).subs(values)
    return sp.simplify(gauss / norm - engine)


@settings(max_examples=30)
@given(st.lists(small_int, min_size=6, max_size=6))
def test_sphere_engine_equals_gaussian_moments_over_norm(entries):
    a, b, c, d, e, f = entries
    H = sp.Matrix([[a, b, c], [b, d, e], [c, e, f]])
    n2, n3, g = vector("n2"), vector("n3"), vector(FIXED)
    cases = [
        (bilinear(n2, n2) ** 2, {"n2": 4}),
        (bilinear(g, n2) * bilinear(n2, g), {"n2": 2}),
        (bilinear(g, n2, 0) * bilinear(g, n2, 1), {"n2": 2}),
        (bilinear(n2, n3) ** 2, {"n2": 2, "n3": 2}),
        (bilinear(n2, n2) * bilinear(g, n2, 0) ** 2, {"n2": 4}),
        (bilinear(n2, n2) * bilinear(n3, n3), {"n2": 2, "n3": 2}),
    ]
    for poly, deg in cases:
        assert _gaussian_check(poly, H, deg) == 0


def test_sphere_engine_odd_moments_vanish_and_known_values():
    n2, g = vector("n2"), vector(FIXED)
    inv = INVARIANTS
    assert sphere_expectation(bilinear(g, n2), ["n2"]) == 0
    assert sphere_expectation(bilinear(n2, n2) * bilinear(g, n2), ["n2"]) == 0
    assert sp.simplify(sphere_expectation(bilinear(n2, n2), ["n2"]) - inv.tau / inv.N) == 0
    q2 = sphere_expectation(bilinear(n2, n2) ** 2, ["n2"])
    assert sp.simplify(q2 - (inv.tau**2 + 2 * inv.theta) / (inv.N * (inv.N + 2))) == 0
    with pytest.raises(ValueError, match="fixed vector"):
        sphere_expectation(bilinear(g, n2), [FIXED])
    with pytest.raises(ValueError, match="neither random"):
        sphere_expectation(bilinear(vector("x"), n2), ["n2"])


# ----------------------------------------------------------------------------- one cycle

def test_cycle_rate_is_exact_for_quadratic_loss_and_matches_series():
    cr = cycle_rate()
    assert cr.quadratic_residual == 0
    assert sp.simplify(cr.second_order - (-(cr.p + S.T * cr.q / 2) / S.F)) == 0
    # the normalised form is the same expression in G, g.wdot, |wdot|^2 and G_F
    back = cr.normalised.subs({cr.gw: cr.p / S.G, S.GF: cr.q / (2 * S.G * cr.w2)})
    assert sp.simplify(back - cr.second_order) == 0


@given(st.floats(0.05, 2.0), st.floats(-1.0, 1.0), st.floats(0.1, 3.0))
def test_cycle_rate_truncation_error_is_second_order_for_a_non_quadratic_loss(x0, v, scale):
    """F(x) = scale * (1 + x^2)^(3/2) along a line: k_exact - k_second_order = O(T^2)."""
    cr = cycle_rate()
    f = lambda x: scale * (1 + x * x) ** 1.5  # noqa: E731
    fp = lambda x: scale * 3 * x * (1 + x * x) ** 0.5  # noqa: E731
    fpp = lambda x: scale * 3 * ((1 + x * x) ** 0.5 + x * x / (1 + x * x) ** 0.5)  # noqa: E731
    k2 = sp.lambdify([S.F, cr.p, cr.q, S.T], cr.second_order)
    errs = []
    for T in (1e-2, 5e-3):
        k_exact = -(f(x0 + T * v) - f(x0)) / (T * f(x0))
        errs.append(abs(k_exact - k2(f(x0), fp(x0) * v, fpp(x0) * v * v, T)))
    assert errs[1] <= errs[0] / 3.5 + 1e-12  # ~ 1/4 for an O(T^2) error


# ----------------------------------------------------------------------------- three components

def test_mean_k_and_learning_condition():
    tc = three_component()
    expected = S.G * S.gamma1 / S.F - S.T / (2 * S.F) * (
        S.gamma1**2 * S.kappa + (S.gamma2**2 / S.N + S.gamma3**2 / S.T) * S.tau)
    assert sp.simplify(tc.mean_k - expected) == 0
    assert sp.simplify(tc.mean_w2 - (S.gamma1**2 + S.gamma2**2 + S.gamma3**2 * S.N / S.T)) == 0
    assert sp.simplify(tc.threshold - S.gamma1 / (S.T * tc.mean_w2)) == 0
    # <k> decreases with the difficulty: positive below the threshold, negative above
    slope = sp.diff(tc.mean_k_normalised, S.GF)
    assert sp.simplify(slope + S.G * S.T * tc.mean_w2 / S.F) == 0
    # the normalised form is <k> itself
    back = tc.mean_k_normalised.subs(S.GF, tc.difficulty)
    assert sp.simplify(back - tc.mean_k) == 0


def _random_state(rng, n):
    A = rng.standard_normal((n, n))
    H = A @ A.T / n
    g = rng.standard_normal(n)
    return H, g / np.linalg.norm(g)


def test_variance_limits():
    tc = three_component()
    # without random components the weight change is deterministic
    assert sp.simplify(tc.var_k.subs({S.gamma2: 0, S.gamma3: 0})) == 0
    assert sp.simplify(tc.var_w2.subs({S.gamma2: 0, S.gamma3: 0})) == 0
    # H = 0: k is linear in the directions, Var = G^2 (gamma2^2/N + gamma3^2/T) / F^2
    v0 = tc.var_k.subs({S.tau: 0, S.theta: 0, S.kappa: 0, INVARIANTS.eta: 0})
    assert sp.simplify(v0 - S.G**2 * (S.gamma2**2 / S.N + S.gamma3**2 / S.T) / S.F**2) == 0


@given(st.integers(2, 8), st.integers(0, 10_000), st.floats(0.0, 2.0), st.floats(0.0, 2.0),
       st.floats(0.0, 2.0), st.floats(0.05, 5.0))
def test_variance_is_nonnegative_for_psd_hessians(n, seed, g1, g2, g3, T):
    rng = np.random.default_rng(seed)
    H, g = _random_state(rng, n)
    tc = three_component()
    f = sp.lambdify([S.N, S.gamma1, S.gamma2, S.gamma3, S.T, S.F, S.G, S.kappa, S.tau,
                     S.theta, INVARIANTS.eta], tc.var_k)
    v = f(n, g1, g2, g3, T, 1.0, 0.7, g @ H @ g, np.trace(H), np.trace(H @ H), g @ H @ H @ g)
    assert v >= -1e-12 * (1 + abs(v))


def test_mean_and_variance_against_monte_carlo():
    """Draw unit vectors: sample mean and variance of the exact (quadratic) k agree with the
    derived expressions within 4.5 standard errors (fixed seed)."""
    rng = np.random.default_rng(3)
    n, M = 12, 200_000
    H, ghat = _random_state(rng, n)
    G, F, T, g1, g2, g3 = 0.8, 1.3, 0.7, 0.4, 0.9, 0.3
    z2 = rng.standard_normal((M, n))
    z3 = rng.standard_normal((M, n))
    n2 = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
    n3 = z3 / np.linalg.norm(z3, axis=1, keepdims=True)
    wd = -g1 * ghat + g2 * n2 + g3 * np.sqrt(n / T) * n3
    k = -(G * wd @ ghat + T / 2 * np.einsum("mi,ij,mj->m", wd, H, wd)) / F
    tc = three_component()
    args = [S.N, S.gamma1, S.gamma2, S.gamma3, S.T, S.F, S.G, S.kappa, S.tau, S.theta,
            INVARIANTS.eta]
    vals = (n, g1, g2, g3, T, F, G, ghat @ H @ ghat, np.trace(H), np.trace(H @ H),
            ghat @ H @ H @ ghat)
    mean_th = float(sp.lambdify(args, tc.mean_k)(*vals))
    var_th = float(sp.lambdify(args, tc.var_k)(*vals))
    se_mean = k.std(ddof=1) / np.sqrt(M)
    dev = k - k.mean()
    se_var = np.sqrt(np.var(dev**2, ddof=1) / M)
    assert abs(k.mean() - mean_th) < 4.5 * se_mean
    assert abs(k.var(ddof=1) - var_th) < 4.5 * se_var
    w2 = (wd * wd).sum(1)
    w2_th = float(sp.lambdify(args, tc.mean_w2)(*vals))
    assert abs(w2.mean() - w2_th) < 4.5 * w2.std(ddof=1) / np.sqrt(M)


# ----------------------------------------------------------------------------- embedding, N*

@pytest.mark.parametrize("dims", [(2, 1, 2, 2, 2), (1, 2, 3, 1, 2), (2, 2, 1, 2, 3)])
def test_exact_embedding_invariants(dims):
    i, o, c1, c2, P = dims
    out = verify_embedding(i, o, c1, c2, P)
    assert out["loss"] == 0 and out["grad_norm2"] == 0
    assert out["curvature_numerator"] == 0  # so kappa' = kappa: it does NOT grow with c2
    assert out["trace"] == 0  # tr H' = c2 tr H
    assert out["size_ratio"] == c1 * c2


def test_optimal_size_closed_forms():
    ex = size_scaling("exact")
    assert sp.simplify(ex.N_star - S.a / (1 - S.a) * S.T * S.gamma2**2 / S.gamma3**2) == 0
    assert ex.maximum
    assert ex.sign_gamma2_zero == -1 and ex.sign_gamma3_zero == 1
    sl = size_scaling("slides")
    target = S.a / (1 - S.a) * S.T * S.gamma2**2 * S.tau0 / (
        S.gamma3**2 * S.tau0 + S.T * S.gamma1**2 * S.kappa0)
    assert sp.simplify(sl.N_star - target) == 0
    assert sl.maximum and sl.sign_gamma2_zero == -1 and sl.sign_gamma3_zero == 0
    with pytest.raises(ValueError, match="variant"):
        size_scaling("paper")


@given(st.floats(0.05, 0.95), st.floats(0.1, 2.0), st.floats(0.01, 1.0), st.floats(0.1, 5.0),
       st.floats(0.0, 1.0))
def test_k_of_N_is_maximal_at_N_star(a, g2, g3, T, g1):
    ex = size_scaling("exact")
    vals = {S.a: a, S.gamma1: g1, S.gamma2: g2, S.gamma3: g3, S.T: T, S.F: 1.0, S.G: 1.0,
            S.kappa0: 0.5, S.tau0: 3.0, S.N0: 1.0}
    f = sp.lambdify(S.N, ex.k_of_N.subs(vals))
    Ns = float(ex.N_star.subs(vals))
    assert f(Ns) >= f(Ns * 1.01) and f(Ns) >= f(Ns / 1.01)


def test_stationarity_polynomial_recovers_the_exact_embedding_optimum():
    # exact embedding with a = 1/2: G, kappa fixed, tr H ~ N^(1/2)
    poly, u, q = stationarity_polynomial(0, 0, sp.Rational(1, 2))
    vals = {S.gamma1: 0.3, S.gamma2: 1.0, S.gamma3: 0.05, S.T: 2.0, S.F: 1.0,
            fitted_size_theory().G0: 1.0, S.kappa0: 1.0, S.tau0: 1.0, S.N0: 10.0}
    roots = [r for r in sp.Poly(poly.as_expr().subs(vals), u).real_roots() if r > 0]
    assert len(roots) == 1
    N = 10.0 * float(roots[0]) ** q
    assert N == pytest.approx(2.0 * 1.0 / 0.05**2, rel=1e-9)


def test_mean_field_mode_balance():
    mf = mean_field_stationary()
    assert sp.simplify(mf.drift.subs(mf.s, mf.s_mode)) == 0
    assert sp.simplify(mf.noise_per_weight - (S.T**2 * S.gamma2**2 / S.N
                                              + S.T * S.gamma3**2)) == 0


def test_latex_command_prints_the_derivation(capsys):
    from validate.cli import main

    assert main(["latex", "learning-bounds"]) == 0
    out = capsys.readouterr().out
    for piece in (r"\langle k\rangle", r"N^* &= \frac{a}{1 - a}", r"\operatorname{Var}k",
                  "slides' variant", r"\kappa' = \kappa", r"V_Q &="):
        assert piece in out
