"""Derivations of theory/deep_linear.py: mode ODEs, dsolve solutions, t(u), asymptotics, flows."""

import mpmath as mp
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from sympy.codegen.cfunctions import expm1

from theory import deep_linear as th
from theory.catalog import get_model

S = th.SYMBOLS


@pytest.mark.parametrize("depth", range(1, 7))
def test_mode_ode_from_loss(depth):
    """The chain-rule derivation (not a literal) gives D u^(2-2/D) (s - u) at every depth."""
    expected = depth * S.u ** (2 - sp.Rational(2, depth)) * (S.s - S.u)
    derived = th.mode_ode_from_loss(depth)
    assert sp.simplify(derived - expected) == 0
    assert derived == expected  # structurally the form the numerics lambdify
    # and it is the rate of the product u = c^D under the per-layer flow c' = c^(D-1)(s - c^D)
    c = th.LAYER
    chain = sp.diff(c**depth, c) * th.layer_rate(depth)
    assert sp.simplify(chain - derived.subs(S.u, c**depth)) == 0


def test_named_cases_of_the_mode_ode():
    assert sp.expand(th.rate(1) - (S.s - S.u)) == 0  # shallow
    assert sp.expand(th.rate(2) - 2 * S.u * (S.s - S.u)) == 0  # one hidden layer


@pytest.mark.parametrize("depth", [1, 2])
def test_dsolve_gives_seed_equations(depth):
    """dsolve's own solution (SymPy's form) equals the seed's eq. (5) / (4); the seed's form
    solves the ODE with u(0) = u0; the overflow-free form is the same function."""
    raw = th.mode_solution_dsolve(depth)
    ode = th.mode_ode(depth)
    u = sp.Function("u")(S.t)
    seed = th.seed_eq5() if depth == 1 else th.seed_eq4()
    assert sp.simplify(raw - seed) == 0
    assert sp.checkodesol(ode, sp.Eq(u, seed))[0]
    assert sp.simplify(seed.subs(S.t, 0) - S.u0) == 0
    for below in (False, True):
        stable = th.mode_solution_stable(depth, start_below=below).replace(
            lambda e: isinstance(e, expm1), lambda e: sp.exp(e.args[0]) - 1)
        assert sp.simplify(stable - seed) == 0
    # a wrong closed form (the other depth's) does not solve this ODE
    other = th.seed_eq4() if depth == 1 else th.seed_eq5()
    assert not sp.checkodesol(ode, sp.Eq(u, other))[0]


def test_seed_equation_4_is_not_eq_5():
    assert sp.simplify(th.seed_eq4() - th.seed_eq5()) != 0


def test_depth_three_has_no_closed_form_u_of_t():
    with pytest.raises(ValueError, match="depth"):
        th.mode_solution(3)


@pytest.mark.parametrize("depth", range(1, 7))
@given(x=st.floats(0.01, 0.99))
def test_antiderivative_below(depth, x):
    T = th.antiderivative(depth)
    p = 2 - sp.Rational(2, depth)
    dT = sp.diff(T, S.x).subs(S.x, sp.Float(x, 30))
    assert abs(complex(sp.N(dT, 25)) - float(1 / (x**p * (1 - x)))) < 1e-10 * abs(
        float(1 / (x**p * (1 - x))))


@pytest.mark.parametrize("depth", range(1, 7))
def test_antiderivative_above(depth):
    T = th.antiderivative(depth, above=True)
    for x in (1.1, 2.0, 7.5):
        p = 2 - 2 / depth
        d = complex(sp.N(sp.diff(T, S.x).subs(S.x, x), 25))
        assert abs(d - 1 / (x**p * (1 - x))) < 1e-12 * abs(1 / (x**p * (1 - x)))


@pytest.mark.parametrize("depth", range(3, 9))
@given(x=st.one_of(st.floats(1e-6, 1 - 1e-9), st.floats(1 + 1e-9, 1e3)))
def test_elementary_antiderivative_is_an_antiderivative(depth, x):
    T = th.antiderivative_elementary(depth)
    xr = sp.Float(x, 40)
    d = complex(sp.N(sp.diff(T, S.x).subs(S.x, xr), 30))
    want = complex(sp.N(th.integrand(depth).subs(S.x, xr), 30))
    assert abs(d.imag) < 1e-25 and abs(d.real - want.real) <= 1e-20 * abs(want.real)


@pytest.mark.parametrize("depth", range(3, 9))
def test_elementary_and_hypergeometric_forms_differ_by_a_constant(depth):
    """Below s both forms are antiderivatives of the same integrand on (0, 1), so they differ
    by one constant; above s likewise on (1, inf).  Evaluated with mpmath's 2F1."""
    T = th.antiderivative_elementary(depth)
    for above, xs in ((False, ("0.01", "0.3", "0.9", "0.999999")),
                      (True, ("1.000001", "1.5", "4", "100"))):
        H = th.antiderivative(depth, above)
        diffs = [complex(sp.N((T - H).subs(S.x, sp.Float(v, 40)), 30)).real for v in xs]
        assert max(diffs) - min(diffs) < 1e-20


def test_elementary_antiderivative_rejects_shallow_depths():
    with pytest.raises(ValueError, match="depth"):
        th.antiderivative_elementary(2)


@pytest.mark.parametrize("depth", range(3, 7))
def test_learning_time_elementary_equals_hypergeometric(depth):
    vals = {S.s: sp.Rational(3, 2), S.tau: sp.Rational(5, 2), S.u0: sp.Rational(1, 100),
            S.uf: sp.Rational(3, 4)}
    a = complex(sp.N(th.learning_time(depth).subs(vals), 30)).real
    b = complex(sp.N(th.learning_time(depth, elementary=True).subs(vals), 30)).real
    assert abs(a - b) < 1e-25 * abs(a)


@pytest.mark.parametrize("depth", range(1, 7))
def test_learning_time_is_the_integral_of_dt_du(depth):
    vals = {S.s: sp.Rational(3, 2), S.tau: sp.Rational(5, 2), S.u0: sp.Rational(1, 100),
            S.uf: sp.Rational(3, 4)}
    closed = complex(sp.N(th.learning_time(depth).subs(vals), 30)).real
    p = 2 - mp.mpf(2) / depth
    quad = mp.quad(lambda u: mp.mpf(5) / 2 / (depth * u**p * (mp.mpf(3) / 2 - u)),
                   [mp.mpf(1) / 100, mp.mpf(3) / 4])
    assert abs(closed - float(quad)) < 1e-12 * float(quad)


@pytest.mark.parametrize("depth", range(2, 7))
def test_small_u0_asymptotics(depth):
    vals = {S.s: 2, S.tau: 3, S.uf: 1}
    full = th.learning_time(depth).subs(vals)
    asym = th.learning_time_asymptotic(depth).subs(vals)
    r1 = complex(sp.N((full / asym).subs(S.u0, sp.Float("1e-12", 40)), 30)).real
    r2 = complex(sp.N((full / asym).subs(S.u0, sp.Float("1e-24", 40)), 30)).real
    assert abs(r2 - 1) < abs(r1 - 1) or abs(r2 - 1) < 1e-6
    assert abs(r2 - 1) < 0.05


def test_asymptotic_closed_forms():
    assert sp.simplify(th.learning_time_asymptotic(2) - S.tau * sp.log(1 / S.u0) / (2 * S.s)) == 0
    for D in range(3, 7):
        expected = S.tau / ((D - 2) * S.s) * S.u0 ** (sp.Rational(2, D) - 1)
        assert sp.simplify(th.learning_time_asymptotic(D) - expected) == 0
    diff = th.learning_time_asymptotic(1) - S.tau * sp.log(S.s / (S.s - S.uf))
    assert sp.simplify(sp.expand_log(diff, force=True)) == 0


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_gradient_flow_is_minus_the_loss_gradient(depth):
    assert th.gradient_flow_check(depth)


def test_gradient_flow_check_rejects_a_wrong_flow(monkeypatch):
    real = th.gradient_flow
    monkeypatch.setattr(th, "gradient_flow",
                        lambda *a, **k: [2 * f for f in real(*a, **k)])
    assert not th.gradient_flow_check(2)


def test_gradient_flow_depth_one_and_two_match_seed():
    W1 = sp.MatrixSymbol("W1", 3, 2)
    W2 = sp.MatrixSymbol("W2", 4, 3)
    Syx = sp.MatrixSymbol("S", 4, 2)
    Sx = sp.MatrixSymbol("X", 2, 2)
    f1, f2 = th.gradient_flow([W1, W2], Syx, Sx)
    assert sp.simplify((f1 - W2.T * (Syx - W2 * W1 * Sx)).as_explicit()) == sp.zeros(3, 2)
    assert sp.simplify((f2 - (Syx - W2 * W1 * Sx) * W1.T).as_explicit()) == sp.zeros(4, 3)
    W = sp.MatrixSymbol("W", 4, 2)
    (f,) = th.gradient_flow([W], Syx, Sx)
    assert sp.simplify((f - (Syx - W * Sx)).as_explicit()) == sp.zeros(4, 2)


def test_bad_depth():
    with pytest.raises(ValueError, match="depth"):
        th.rate(0)
    with pytest.raises(TypeError, match="depth"):
        th.rate(2.5)


def test_latex_catalog():
    text = get_model("deep-linear").latex()
    for piece in (r"\tau", "hyper", r"e^{", r"\log"):
        assert piece in text or piece.replace("hyper", "F") in text
    # the mode equations and both dsolve solutions (seed eqs. (4), (5)) are printed
    assert r"\tau \frac{du}{dt} &= D\,u^{2-2/D}\,(s-u)" in text
    names = {th.SYMBOLS.u0: "u_0"}
    for sol, name in ((th.mode_solution(1), "b(t) &= "), (th.mode_solution(2), "a(t) &= ")):
        assert name + sp.latex(sol, symbol_names=names) in text
