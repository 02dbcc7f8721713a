"""theory.rules: one definition of a learning rule -> drift, second moment, moment map, LaTeX.

The derived expectations are checked against the hand-derived theory they replace (LMS,
perceptron SL/RL), against textbook closed forms (Oja, Hebb with decay, BCM, sign-error LMS),
and the new table entries and quadrature derivatives against mpmath quadrature.
"""

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.compile import compile_expressions, compile_scalar
from numerics.rules import (
    average_impl,
    compiled_rule,
    exact_moment_trajectory,
    moment_trajectory,
    quadrature_modules,
)
from theory.latex import LatexModel, render
from theory.lms import lms_drift, lms_second_moment, lms_symbols
from theory.perceptron import drift_vector, lam
from theory.rule_expectation import (
    E_phi_n2,
    E_u2_Phi,
    E_u2_Phi2,
    average_function,
    gaussian_average,
    table_expect,
)
from theory.rule_library import (
    bcm_rule,
    hebbian_decay_rule,
    lms_rule,
    oja_rule,
    perceptron_rule,
    sign_lms_closed_form,
    sign_lms_rule,
)
from theory.rules import (
    Choice,
    Component,
    LearningRule,
    Mixture,
    Normal,
    RuleError,
    derive,
    exact_moment_map,
    rule_latex_model,
)

finite = dict(allow_nan=False, allow_infinity=False)


def _num(expr, subs):
    return float(sp.N(expr.subs(subs), 30))


# ------------------------------------------------------------- the table extended to u^2


@settings(max_examples=25)
@given(st.floats(-2.5, 2.5, **finite), st.floats(0.05, 2.5, **finite))
def test_u2_table_entries_match_quadrature(a, b):
    A, B = sp.symbols("A B", real=True)

    def quad(f):
        return float(mpmath.quad(lambda u: f(u) * mpmath.npdf(u), [-mpmath.inf, 0, mpmath.inf]))

    P = lambda u: mpmath.ncdf(a + b * u)  # noqa: E731
    vals = {A: a, B: b}
    assert _num(E_u2_Phi(A, B), vals) == pytest.approx(quad(lambda u: u**2 * P(u)), rel=1e-10)
    assert _num(E_u2_Phi2(A, B), vals) == pytest.approx(quad(lambda u: u**2 * P(u) ** 2),
                                                        rel=1e-10)
    assert _num(E_phi_n2(A, B), vals) == pytest.approx(
        quad(lambda u: mpmath.npdf(a + b * u) ** 2), rel=1e-10)


def test_table_expect_refuses_what_it_cannot_do():
    u = sp.Symbol("u", real=True)
    with pytest.raises(ValueError, match="no table entry"):
        table_expect(u**3 * sp.erf(1 + u), u)
    with pytest.raises(ValueError, match="no table entry"):
        table_expect(sp.erf(1 + u) ** 3, u)
    assert table_expect(u**2, u) == 1


# ------------------------------------------------------------- quadrature functions

_t = sp.Symbol("t", real=True)
SIGN = average_function(sp.sign(_t), _t)
TANH = average_function(sp.tanh(_t), _t)


@settings(max_examples=20)
@given(st.integers(0, 3), st.floats(-1.5, 1.5, **finite), st.floats(0.2, 2.0, **finite),
       st.sampled_from(["sign", "tanh"]))
def test_quadrature_function_derivatives_are_the_score_identities(j, m, s, which):
    """Q^(j) = E[He_j(u) H(m + s u)]/s^j: d/dm Q^(j) = Q^(j+1) and d/ds Q^(j) = s Q^(j+2)
    (fdiff, from the Gaussian density) equal central differences of the quadrature, for a
    smooth and a discontinuous H."""
    cls = SIGN if which == "sign" else TANH
    M, S = sp.symbols("M S", positive=True)
    f = cls(j, M, S)
    val = average_impl(cls, 24)
    h = 1e-5
    dm = (val(j, m + h, s) - val(j, m - h, s)) / (2 * h)
    ds = (val(j, m, s + h) - val(j, m, s - h)) / (2 * h)
    for d, ref in ((sp.diff(f, M), dm), (sp.diff(f, S), ds)):
        fn = compile_scalar(d, [M, S], modules=quadrature_modules(d, 24))
        assert float(fn(m, s)) == pytest.approx(float(ref), abs=1e-7, rel=1e-6)


def test_quadrature_evalf_is_mpmath_and_matches_the_numpy_rule():
    ref = 2 * float(mpmath.npdf(0.3 / 1.2)) / 1.2  # E[u sign(m + s u)]/s = 2 phi(m/s)/s
    assert float(SIGN(1, sp.Float(0.3), sp.Float(1.2)).evalf(20)) == pytest.approx(ref, rel=1e-14)
    assert float(average_impl(SIGN, 12)(1, 0.3, 1.2)) == pytest.approx(ref, rel=1e-13)
    for j in (0, 1, 2, 3):
        got = float(average_impl(TANH, 12)(j, 0.4, 0.8))
        want = float(TANH(j, sp.Float(0.4), sp.Float(0.8)).evalf(20))
        assert got == pytest.approx(want, rel=1e-12, abs=1e-14)
    # a smooth integrand's average is E[H^(j)(m + s u)]: finite at s = 0
    assert float(average_impl(TANH, 12)(1, 0.4, 0.0)) == pytest.approx(1 / np.cosh(0.4) ** 2)


def test_quadrature_functions_are_one_class_per_integrand_and_know_their_kinks():
    assert average_function(sp.sign(_t), _t) is SIGN
    assert SIGN.kink_points == (0,)
    assert TANH.kink_points == ()
    k = average_function(sp.Heaviside(2 * _t - 1) * _t, _t).kink_points
    assert k == (sp.Rational(1, 2),)


# ------------------------------------------------------------- re-expressed rules


@pytest.mark.parametrize("n", [1, 2, 3, 5])  # 5: 16 symbols, kept in the forms' covariances
def test_lms_rule_derives_exactly_the_lms_theory(n):
    d = derive(lms_rule(n))
    s = lms_symbols(n)
    assert d.paths == {"drift": "wick", "second_moment": "wick"}
    assert (d.drift - lms_drift(s)).applyfunc(sp.expand) == sp.zeros(n, 1)
    assert (d.second_moment - lms_second_moment(s)).applyfunc(sp.expand) == sp.zeros(n, n)


def test_lms_exact_moment_map_is_the_lms_exact_recursion():
    """The generic exact map of an affine rule, shifted to u = w - w_o, is theory.lms's K map."""
    from theory.lms import exact_second_moment_map

    n = 2
    mm = exact_moment_map(lms_rule(n))
    s = lms_symbols(n)
    K, Kn = exact_second_moment_map(n)
    m = mm.state[:n]
    Ksym = mm.state[n:]
    # second moments of w from those of u = w - w_o at zero mean error: E[ww^T] = K + wo wo^T
    sub = {m[i]: s.w_o[i] for i in range(n)}
    k = 0
    for i in range(n):
        for j in range(i, n):
            sub[Ksym[k]] = K[i, j] + s.w_o[i] * s.w_o[j]
            k += 1
    k = 0
    for i in range(n):
        for j in range(i, n):
            new = mm.next_state[n + k].xreplace(sub)
            expect = Kn[i, j] + s.w_o[i] * s.w_o[j]
            assert sp.expand(new - expect) == 0
            k += 1


@settings(max_examples=8)
@given(st.lists(st.floats(-1.5, 1.5, **finite), min_size=2, max_size=2),
       st.lists(st.floats(-1, 1, **finite), min_size=2, max_size=2),
       st.floats(0, 0.5, **finite), st.sampled_from(["sl", "rl"]))
def test_perceptron_rules_derive_the_seed_drifts(w, mu, lam_v, kind):
    """Seed 002 eqs. (15) and (20) (theory.perceptron.drift_vector, derived by hand from the
    Gaussian table) equal the drift derived from the one definition, at hypothesis-drawn points."""
    rule = perceptron_rule(kind, 2, numeric_sigma=True)
    d = derive(rule)
    assert d.paths["drift"] == "gaussian-table"
    mus = sp.symbols("mu0:2", real=True)
    S = sp.eye(2) / 4
    ref = drift_vector(kind, rule.weights, mus, S, [-x for x in mus], S, lam)
    sub = {**dict(zip(rule.weights, w)), **dict(zip(mus, mu)), lam: lam_v}
    got = [_num(e, sub) for e in d.drift]
    want = [_num(e, sub) for e in ref]
    assert got == pytest.approx(want, rel=1e-12, abs=1e-14)


def test_perceptron_paths_sl_table_rl_second_moment_by_quadrature():
    assert derive(perceptron_rule("sl", 2, True)).paths == {
        "drift": "gaussian-table", "second_moment": "gaussian-table"}
    # REINFORCE's squared update holds powers of phi above 2: no table entry
    assert derive(perceptron_rule("rl", 2, True)).paths == {
        "drift": "gaussian-table", "second_moment": "quadrature"}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sl", "rl"])
def test_perceptron_drift_with_symbolic_covariance(kind):
    rule = perceptron_rule(kind, 2)
    d = derive(rule)
    mus = sp.symbols("mu0:2", real=True)
    S = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"Sigma_{min(i, j)}_{max(i, j)}", real=True))
    ref = drift_vector(kind, rule.weights, mus, S, [-x for x in mus], S, lam)
    sub = {rule.weights[0]: 0.3, rule.weights[1]: -0.7, mus[0]: 1.0, mus[1]: 0.4, lam: 0.1,
           S[0, 0]: 0.5, S[0, 1]: 0.1, S[1, 1]: 0.3}
    assert [_num(e, sub) for e in d.drift] == pytest.approx([_num(e, sub) for e in ref],
                                                            rel=1e-12)


# ------------------------------------------------------------- gallery closed forms


def _sigma_syms():
    return sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"Sigma_{min(i, j)}_{max(i, j)}", real=True))


def test_oja_drift_is_sigma_w_minus_quadratic_form_times_w():
    r = oja_rule()
    w = sp.Matrix(r.weights)
    S = _sigma_syms()
    want = S * w - (w.T * S * w)[0, 0] * w
    assert (derive(r).drift - want).applyfunc(sp.expand) == sp.zeros(2, 1)


def test_hebb_decay_drift_is_linear():
    r = hebbian_decay_rule()
    w = sp.Matrix(r.weights)
    alpha = sp.Symbol("alpha", positive=True)
    assert (derive(r).drift - (_sigma_syms() - alpha * sp.eye(2)) * w).applyfunc(sp.expand) \
        == sp.zeros(2, 1)


def test_hebb_exact_moment_map_is_the_textbook_recursion():
    """K' = B K B^T + eta^2 (Sigma K Sigma + tr(Sigma K) Sigma), B = I + eta (Sigma - alpha I)."""
    r = hebbian_decay_rule()
    mm = exact_moment_map(r)
    S = _sigma_syms()
    alpha, eta = sp.Symbol("alpha", positive=True), r.eta
    K = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"K_{min(i, j)}_{max(i, j)}", real=True))
    B = sp.eye(2) + eta * (S - alpha * sp.eye(2))
    want = B * K * B.T + eta**2 * (S * K * S + (S * K).trace() * S)
    got = mm.next_state[2:]
    assert [sp.expand(g - want[i, j]) for g, (i, j) in zip(got, [(0, 0), (0, 1), (1, 1)])] \
        == [0, 0, 0]


def test_bcm_noise_free_drift_and_selective_fixed_point():
    r = bcm_rule()
    d = derive(r)
    w0, w1, theta = r.weights
    a = sp.symbols("a0:2", real=True)
    b = sp.symbols("b0:2", real=True)
    s2, tau = sp.Symbol("sigma2", positive=True), sp.Symbol("tau", positive=True)
    drift = d.drift.subs(s2, 0)
    ya, yb = w0 * a[0] + w1 * a[1], w0 * b[0] + w1 * b[1]
    want_w = [(ya * (ya - theta) * a[i] + yb * (yb - theta) * b[i]) / 2 for i in range(2)]
    want_t = ((ya**2 + yb**2) / 2 - theta) / tau
    assert [sp.expand(drift[i] - e) for i, e in enumerate(want_w + [want_t])] == [0, 0, 0]
    # the selective fixed point: y_a = 1/p = 2, y_b = 0, theta = 2 (Intrator & Cooper 1992)
    vals = {a[0]: 1, a[1]: sp.Rational(3, 10), b[0]: sp.Rational(1, 5), b[1]: 1,
            tau: sp.Rational(1, 2)}
    sol = sp.solve([ya - 2, yb], [w0, w1])
    at = {**{k: v.subs(vals) for k, v in sol.items()}, theta: 2}
    assert [sp.simplify(e.subs(vals).subs(at)) for e in drift] == [0, 0, 0]


@settings(max_examples=10)
@given(st.lists(st.floats(-2, 2, **finite), min_size=2, max_size=2))
def test_sign_lms_quadrature_drift_equals_the_closed_form(w):
    """The quadrature path (sign has no table entry) against Price's/Bussgang's closed form,
    within the stated quadrature error."""
    r = sign_lms_rule()
    d = derive(r)
    assert d.paths == {"drift": "quadrature", "second_moment": "quadrature"}
    c = compiled_rule(d)
    fn = compile_expressions(sign_lms_closed_form(), [r.weights, r.param_symbols])
    p = np.array([c.values[s] for s in r.param_symbols])
    ref = np.asarray(fn(np.array(w), p)).ravel()
    err = c.quadrature_error(np.array(w))
    assert err < 1e-12
    assert c.drift(np.array(w)) == pytest.approx(ref, abs=1e-12)
    R = np.array([[1.0, 0.4], [0.4, 0.5]])
    assert c.second_moment(np.array(w)) == pytest.approx(R, abs=1e-12)


# ------------------------------------------------------------- moment map


def test_moment_map_is_exact_for_rules_affine_in_w():
    for rule, w0, vals in ((hebbian_decay_rule(), [0.5, -0.8], None),
                           (lms_rule(2), [0.3, 0.1], {"R_0_0": 1, "R_0_1": 0.3, "R_1_1": 0.5,
                                                      "wo0": 1, "wo1": -1, "s2": 0.2})):
        c = compiled_rule(derive(rule), vals)
        tr = moment_trajectory(c, w0, 0.01, 300, record_steps=[100, 300])
        ex = exact_moment_trajectory(rule, vals, w0, 0.01, 300, record_steps=[100, 300])
        assert tr.mean == pytest.approx(ex.mean, rel=1e-11, abs=1e-13)
        assert tr.cov == pytest.approx(ex.cov, rel=1e-9, abs=1e-15)


def test_moment_map_reduces_to_the_engine_ode_as_eta_goes_to_zero():
    """(map - identity)/eta -> the right-hand side of eqs. (10)-(11) (finite_lr) at eta = 0."""
    d = derive(oja_rule())
    mm = d.moment_map()
    system = d.moments()
    eta = mm.eta
    for new, old, rhs in zip(mm.next_state, mm.state, system.state_rhs):
        lim = sp.limit(sp.expand((new - old) / eta), eta, 0)
        assert sp.expand(lim - rhs.subs(eta, 0)) == 0


# ------------------------------------------------------------- bad input, named


def test_unknown_symbol_in_the_update_is_named():
    w, x, q = sp.Symbol("w"), sp.Symbol("x"), sp.Symbol("q")
    with pytest.raises(RuleError, match=r"uses q, which is neither a weight \(w\), a random "
                                        r"variable \(x\) nor a declared parameter"):
        LearningRule("bad", [w], [q * x], Normal(x))


def test_learning_rate_in_the_update_and_duplicate_symbols_are_refused():
    w, x = sp.Symbol("w"), sp.Symbol("x")
    eta = sp.Symbol("eta", positive=True)
    with pytest.raises(RuleError, match="must not contain the learning rate"):
        LearningRule("bad", [w], [eta * x], Normal(x))
    with pytest.raises(RuleError, match="declared twice"):
        LearningRule("bad", [w], [x], Normal(x), params={x: 1.0})


def test_non_psd_covariance_is_named():
    x = sp.symbols("x0:2")
    with pytest.raises(RuleError, match=r"covariance of \(x0, x1\) must be positive "
                                        "semidefinite"):
        Normal(x, cov=[[1, 2], [2, 1]])
    with pytest.raises(RuleError, match="symmetric"):
        Normal(x, cov=[[1, 0.5], [0.2, 1]])


def test_distribution_may_use_parameters_only():
    w, x = sp.Symbol("w"), sp.Symbol("x")
    with pytest.raises(RuleError, match="uses w, which is not a declared parameter"):
        LearningRule("bad", [w], [x], Normal(x, cov=w**2 + 1))


def test_probabilities_must_sum_to_one():
    x, y, c = sp.Symbol("x"), sp.Symbol("y"), sp.Symbol("c")
    with pytest.raises(RuleError, match="must sum to 1"):
        Mixture([x], [Component(0.5, 0, 1, 1), Component(0.4, 1, 1, -1)], label=y)
    with pytest.raises(RuleError, match="must sum to 1"):
        Choice(c, (1, -1), (sp.Rational(1, 3), sp.Rational(1, 3)))


def test_two_independent_linear_forms_are_refused_by_name():
    x = sp.symbols("x0:2", real=True)
    with pytest.raises(ValueError, match="two independent linear combinations"):
        gaussian_average(sp.tanh(x[0]) * sp.tanh(x[1]), x, sp.zeros(2, 1), sp.eye(2))
    with pytest.raises(ValueError, match="not linear in them"):
        gaussian_average(sp.tanh(x[0] ** 2), x, sp.zeros(2, 1), sp.eye(2))


def test_multiples_of_one_linear_form_count_as_one():
    x = sp.symbols("x0:2", real=True)
    e, path = gaussian_average(sp.tanh(x[0] + x[1]) * sp.sign(2 * x[0] + 2 * x[1]), x,
                               sp.zeros(2, 1), sp.eye(2))
    assert path == "quadrature"
    ref = mpmath.quad(lambda u: abs(mpmath.tanh(mpmath.sqrt(2) * u)) * mpmath.npdf(u),
                      [-mpmath.inf, 0, mpmath.inf])
    assert float(e.evalf(20)) == pytest.approx(float(ref), rel=1e-12)


# ------------------------------------------------------------- LaTeX


def test_a_user_rule_prints_as_latex_with_every_symbol_defined():
    w = sp.symbols("w0:2", real=True)
    x = sp.symbols("x0:2", real=True)
    k = sp.Symbol("k", positive=True)
    y = w[0] * x[0] + w[1] * x[1]
    r = LearningRule("tanh-hebb", w, [sp.tanh(y) * xi - k * wi for xi, wi in zip(x, w)],
                     Normal(x, cov=[[1, 0.2], [0.2, 0.5]]), {k: 0.5})
    d = derive(r)
    assert d.paths["drift"] == "quadrature"
    model = rule_latex_model(d)
    assert isinstance(model, LatexModel)
    tex = render(model)
    assert r"\mathcal{Q}" in tex and "where" in tex and r"\tanh" in tex


def test_latex_names_quadrature_arguments_without_changing_the_expressions():
    """The printed drift and second moment (quadrature arguments named sigma_{s,k}, the
    coefficients collected and factored so that lines break) equal the derived ones."""
    from theory.rules import _name_quadrature_arguments

    d = derive(sign_lms_rule())
    exprs = list(d.drift) + [d.second_moment[i, j] for i in range(2) for j in range(i, 2)]
    shown, sub, lines = _name_quadrature_arguments(exprs, d.averages)
    assert len(lines) == 1 and str(lines[0].lhs) == "ssd_1**2"
    back = {named: orig for orig, named in sub.items()}
    for got, want in zip(shown, exprs):
        assert sp.expand(got.xreplace(back) - want) == 0
    assert all(len(e.atoms(sp.Pow)) == 0 or all(p.exp != sp.Rational(1, 2)
                                                 for p in e.atoms(sp.Pow)) for e in shown)


@settings(max_examples=25, deadline=None, database=None)
@given(st.lists(st.integers(-2, 2), min_size=10, max_size=10),
       st.lists(st.integers(0, 2), min_size=2, max_size=2),
       st.lists(st.integers(-1, 1), min_size=5, max_size=5))
def test_isserlis_over_linear_forms_equals_isserlis_over_the_variables(coef, powers, mu):
    """E[l0^p0 l1^p1 (l0 + x4) x3], l_k = w_k + a_k.x for x ~ N(mu, S) in 5 dimensions with a
    symbolic S: the reduction to the forms' means and covariances (at most 4 forms) equals
    Isserlis over the 5 variables (expanded)."""
    from theory.rule_expectation import _by_linear_forms
    from theory.wick import gaussian_expectation

    x = sp.symbols("x0:5", real=True)
    w = sp.symbols("w0:2", real=True)
    S = sp.Matrix(5, 5, lambda i, j: sp.Symbol(f"S_{min(i, j)}_{max(i, j)}"))
    forms = [w[k] + sum(coef[5 * k + i] * x[i] for i in range(5)) for k in range(2)]
    expr = sp.Mul(*[f**p for f, p in zip(forms, powers)]) * (forms[0] + x[4]) * x[3]
    got = _by_linear_forms(expr, list(x), sp.Matrix(mu), S)
    assert got is not None
    z = sp.symbols("z0:5")
    want = gaussian_expectation(expr.xreplace({x[i]: mu[i] + z[i] for i in range(5)}), z, S)
    assert sp.expand(got - want) == 0
