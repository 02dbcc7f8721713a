"""theory.wick.expect_forms (Isserlis on forms, symbolic d) and theory.estimators."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import estimators as te
from theory.wick import expect_forms, expect_polynomial, gaussian_expectation

# ----------------------------------------------------------------------------- expect_forms


def _explicit(forms, dim, vecs, mats):
    """The same expectation with explicit variables and theory.wick.gaussian_expectation."""
    eps = sp.symbols(f"e0:{dim}", real=True)
    e = sp.Matrix(eps)
    expr = sp.S.One
    for f in forms:
        if f[0] == "lin":
            expr *= (vecs[f[1]].T * e)[0, 0]
        else:
            M = sp.eye(dim)
            for name in f[1]:
                M = M * mats[name]
            expr *= (e.T * M * e)[0, 0]
    return gaussian_expectation(expr, eps, sp.eye(dim))


def _invariants(dim, vecs, mats):
    def inv(key):
        if key[0] == "trace":
            M = sp.eye(dim)
            for name in key[1]:
                M = M * mats[name]
            return M.trace()
        _, a, word, b = key
        M = sp.eye(dim)
        for name in word:
            M = M * mats[name]
        return (vecs[a].T * M * vecs[b])[0, 0]
    return inv


_FORM = st.one_of(st.tuples(st.just("lin"), st.sampled_from(["a", "b"])),
                  st.tuples(st.just("quad"),
                            st.lists(st.sampled_from(["A", "B"]), max_size=2).map(tuple)))


@settings(max_examples=25)
@given(forms=st.lists(_FORM, min_size=1, max_size=4), dim=st.integers(1, 3),
       seed=st.integers(0, 10_000))
def test_expect_forms_equals_explicit_isserlis(forms, dim, seed):
    rng = np.random.default_rng(seed)

    def sym(n):
        a = rng.integers(-3, 4, (n, n))
        return sp.Matrix(a + a.T)

    vecs = {k: sp.Matrix(rng.integers(-3, 4, dim)) for k in "ab"}
    mats = {k: sym(dim) for k in "AB"}
    got = expect_forms(forms, dim, _invariants(dim, vecs, mats))
    want = _explicit(forms, dim, vecs, mats)
    assert sp.simplify(got - want) == 0


def test_expect_forms_known_moments():
    d = sp.Symbol("d")
    # E[|e|^4] = d(d+2), E[(e^T H e)^2] = (tr H)^2 + 2 tr H^2, odd moments vanish
    assert sp.expand(expect_forms([("quad", ()), ("quad", ())], d) - d * (d + 2)) == 0
    got = expect_forms([("quad", ("H",)), ("quad", ("H",))], d)
    assert sp.expand(got - sp.Symbol("tr_H")**2 - 2 * sp.Symbol("tr_HH")) == 0
    assert expect_forms([("lin", "g"), ("quad", ("H",))], d) == 0
    with pytest.raises(ValueError, match="form"):
        expect_forms([("cubic", "x")], d)


def test_expect_polynomial_treats_other_symbols_as_constants():
    d, c = sp.symbols("d c")
    z2 = sp.Symbol("z2")
    assert sp.expand(expect_polynomial(c * z2**2 + 3, {z2: ("quad", ())}, d)
                     - (c * d * (d + 2) + 3)) == 0


# ----------------------------------------------------------------------------- score function


@pytest.mark.parametrize("variant", te.VARIANTS)
def test_score_estimators_unbiased_on_the_quadratic_model(variant):
    assert te.score_bias(variant) == 0


def test_score_mse_closed_forms():
    d, S, s, L0, g2, tH, tH2 = te.d, te.S, te.sigma, te.L0, te.g2, te.trH, te.trH2
    curv = s**2 * (d + 4) * (tH**2 + 2 * tH2) / 4
    want = {"plain": (L0**2 * d / s**2 + (d + 1) * g2 + (d + 2) * L0 * tH + curv) / S,
            "baseline": ((d + 1) * g2 + curv) / S,
            "antithetic": (d + 1) * g2 / S}
    for v, w in want.items():
        assert sp.simplify(te.score_mse(v) - w) == 0


def test_antithetic_error_is_independent_of_sigma_loss_and_curvature():
    mse = te.score_mse("antithetic")
    for x in (te.sigma, te.L0, te.trH, te.trH2):
        assert sp.diff(mse, x) == 0


@settings(max_examples=30)
@given(dim=st.integers(1, 50), S=st.integers(1, 100), sigma=st.floats(0.01, 10),
       L0=st.floats(-5, 5), g2=st.floats(0, 10), trH=st.floats(-5, 5), x=st.floats(0, 1))
def test_variants_are_ordered_and_positive(dim, S, sigma, L0, g2, trH, x):
    # tr H^2 >= (tr H)^2 / d (Cauchy-Schwarz on the eigenvalues)
    trH2 = trH**2 / dim + x
    vals = {v: float(te.score_mse(v).subs({te.d: dim, te.S: S, te.sigma: sigma, te.L0: L0,
                                           te.g2: g2, te.trH: trH, te.trH2: trH2}))
            for v in te.VARIANTS}
    assert vals["antithetic"] <= vals["baseline"] * (1 + 1e-12) + 1e-300
    assert vals["baseline"] >= 0
    # plain minus baseline = (d L0^2/sigma^2 + (d+2) L0 tr H)/S, minimised over L0 it is
    # -(d+2)^2 sigma^2 (tr H)^2 / (4 d S): plain can beat baseline only by that much
    lower = -(dim + 2)**2 * sigma**2 * trH**2 / (4 * dim * S)
    assert vals["plain"] - vals["baseline"] >= lower - 1e-9 * (1 + abs(lower))


def test_evaluations():
    assert te.evaluations("plain") == te.S
    assert te.evaluations("baseline") == te.S + 1
    assert te.evaluations("antithetic") == 2 * te.S
    with pytest.raises(ValueError, match="variant"):
        te.score_mse("best")


# ----------------------------------------------------------------------------- regression


def test_regression_linear_projection_factor():
    lin = te.regression_linear(True)
    at = {te.d: 10, te.g2: 2.0}
    assert lin["mse"].subs({**at, te.S: 1}) == 2.0  # one point: no slope at all
    assert lin["mse"].subs({**at, te.S: 6}) == pytest.approx(2.0 * (1 - 5 / 10))
    assert lin["mse"].subs({**at, te.S: 11}) == 0
    assert lin["mse"].subs({**at, te.S: 50}) == 0
    no_int = te.regression_linear(False)
    assert no_int["mse"].subs({**at, te.S: 5}) == pytest.approx(2.0 * 0.5)


@pytest.mark.parametrize("d_val", [1, 3])
def test_regression_projection_expectation_by_monte_carlo(d_val):
    """E[P] = (r/d) I for the projector on the span of r Gaussian directions."""
    rng = np.random.default_rng(1)
    for r in range(1, d_val + 1):
        A = rng.standard_normal((20000, r, d_val))
        P = np.linalg.pinv(A) @ A
        assert np.allclose(P.mean(axis=0), r / d_val * np.eye(d_val), atol=0.02)


def test_regression_quadratic_leading_terms():
    d, S, s, tH2 = te.d, te.S, te.sigma, te.trH2
    assert sp.simplify(te.regression_quadratic_leading(True) - s**2 * (d + 4) * tH2 / (2 * S)) == 0
    # without intercept it equals the baseline score function's curvature term
    base_curv = te.score_mse("baseline") - (d + 1) * te.g2 / S
    assert sp.simplify(te.regression_quadratic_leading(False) - base_curv) == 0


# ----------------------------------------------------------------------------- Werfel-Xie-Seung


def test_learning_recursions_closed_forms():
    eta, M, N, s = te.eta, te.M, te.N, te.sigma
    a, b = te.learning_recursion("gd")
    assert sp.expand(a - (1 - 2 * eta + eta**2 * (N + 2))) == 0 and b == 0
    a, b = te.learning_recursion("node")
    assert sp.expand(a - (1 - 2 * eta + eta**2 * (M + 2) * (N + 2))) == 0
    assert sp.expand(b - eta**2 * s**2 * N * M * (M + 2) * (M + 4) / 4) == 0
    a, b = te.learning_recursion("weight")
    assert sp.expand(a - (1 - 2 * eta + eta**2 * (M * N + 2) * (N + 2))) == 0
    assert sp.expand(b - eta**2 * s**2 * N * (N + 2) * M * (M + 2) * (M * N + 4) / 4) == 0


@settings(max_examples=20)
@given(M=st.integers(1, 30), N=st.integers(1, 30))
def test_learning_time_ratios(M, N):
    """NP is slower than GD by about M, WP slower than NP by about N (Werfel et al.)."""
    t = {r: float(te.learning_time(r).subs({te.M: M, te.N: N})) for r in te.RULES}
    assert t["node"] / t["gd"] == pytest.approx(M + 2)
    assert t["weight"] / t["node"] == pytest.approx((M * N + 2) / (M + 2))
    for r in te.RULES:
        eta_star = te.optimal_rate(r).subs({te.M: M, te.N: N})
        a = te.learning_recursion(r)[0].subs({te.M: M, te.N: N})
        # the optimal rate minimises a, and a(eta*) = 1 - 1/tau
        assert float(sp.diff(a, te.eta).subs(te.eta, eta_star)) == pytest.approx(0, abs=1e-12)
        assert float(a.subs(te.eta, eta_star)) == pytest.approx(1 - 1 / t[r])


def test_gd_recursion_by_explicit_isserlis_small_dims():
    """Independent check of the GD factor with explicit variables (M = 1, N = 2)."""
    x = sp.symbols("x0:2", real=True)
    D = sp.symbols("D0:2", real=True)
    eta = te.eta
    e = sum(Di * xi for Di, xi in zip(D, x))
    Dn = [Di - eta * e * xi for Di, xi in zip(D, x)]
    got = gaussian_expectation(sum(v**2 for v in Dn), x, sp.eye(2))
    a, _ = te.learning_recursion("gd")
    assert sp.expand(got - a.subs(te.N, 2) * sum(v**2 for v in D)) == 0


def test_node_perturbation_by_explicit_isserlis_small_dims():
    """M = 2 outputs, N = 1 input: E over (x, z) with explicit variables."""
    z = sp.symbols("z0:2", real=True)
    x = sp.Symbol("x", real=True)
    D = sp.symbols("D0:2", real=True)
    eta, s = te.eta, te.sigma
    e = [Di * x for Di in D]
    c = -eta * (sum(ei * zi for ei, zi in zip(e, z)) + s / 2 * sum(zi**2 for zi in z))
    Dn = [Di + c * zi * x for Di, zi in zip(D, z)]
    got = gaussian_expectation(sum(v**2 for v in Dn), [*z, x], sp.eye(3))
    a, b = te.learning_recursion("node")
    want = a.subs({te.M: 2, te.N: 1}) * sum(v**2 for v in D) + b.subs({te.M: 2, te.N: 1})
    assert sp.expand(got - want) == 0


def test_weight_perturbation_by_explicit_isserlis_small_dims():
    """M = 1 output, N = 2 inputs: E over (x, Z) with explicit variables."""
    Z = sp.symbols("Z0:2", real=True)
    x = sp.symbols("x0:2", real=True)
    D = sp.symbols("D0:2", real=True)
    eta, s = te.eta, te.sigma
    e = sum(Di * xi for Di, xi in zip(D, x))
    Zx = sum(Zi * xi for Zi, xi in zip(Z, x))
    c = -eta * (e * Zx + s / 2 * Zx**2)  # dW = -(eta/sigma^2) dE sigma Z
    Dn = [Di + c * Zi for Di, Zi in zip(D, Z)]
    got = gaussian_expectation(sum(v**2 for v in Dn), [*Z, *x], sp.eye(4))
    a, b = te.learning_recursion("weight")
    want = a.subs({te.M: 1, te.N: 2}) * sum(v**2 for v in D) + b.subs({te.M: 1, te.N: 2})
    assert sp.expand(got - want) == 0


def test_stationary_error_and_rule_check():
    st_np = te.stationary_error("node")
    assert sp.simplify(st_np - te.learning_recursion("node")[1]
                       / (1 - te.learning_recursion("node")[0])) == 0
    with pytest.raises(ValueError, match="rule"):
        te.learning_recursion("hebb")


def test_latex_renders_every_symbol():
    from theory.latex import document, model_spec, render

    model = model_spec("estimators")
    text = render(model)
    assert "antithetic" in text and r"\eta^*" in text
    assert r"\begin{document}" in document(model)


def test_sixth_moment_of_the_norm():
    d = sp.Symbol("d")
    got = expect_forms([("quad", ())] * 3, d)
    assert sp.expand(got - d * (d + 2) * (d + 4)) == 0
