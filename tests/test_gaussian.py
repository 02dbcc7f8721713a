"""The Gaussian identity table (theory.gaussian) against mpmath quadrature."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.special
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.compile import compile_scalar
from theory.gaussian import (
    RULES,
    E_Phi,
    E_Phi2,
    E_phi_n,
    E_Phi_phi_n,
    E_u_Phi,
    E_u_Phi2,
    Phi,
    expect,
    owens_t,
    phi_n,
    stein,
)
from theory.serialize import dumps, loads

a_s, b_s = sp.symbols("a b", real=True)
u_s = sp.Symbol("u", real=True)
A = st.floats(-3.0, 3.0)
B = st.floats(-2.5, 2.5)


def _quad(fn):
    """E[fn(u)], u ~ N(0, 1), by mpmath quadrature at 30 digits."""
    with mpmath.workdps(20):
        val = mpmath.quad(lambda u: fn(u) * mpmath.npdf(u), [-mpmath.inf, -3, 0, 3, mpmath.inf])
    return float(val)


def _num(expr, a, b):
    return float(sp.N(expr.subs({a_s: a, b_s: b}), 20))


CASES = [
    (E_Phi, lambda a, b: lambda u: mpmath.ncdf(a + b * u)),
    (E_phi_n, lambda a, b: lambda u: mpmath.npdf(a + b * u)),
    (E_Phi_phi_n, lambda a, b: lambda u: mpmath.ncdf(a + b * u) * mpmath.npdf(a + b * u)),
    (E_Phi2, lambda a, b: lambda u: mpmath.ncdf(a + b * u) ** 2),
    (E_u_Phi, lambda a, b: lambda u: u * mpmath.ncdf(a + b * u)),
    (E_u_Phi2, lambda a, b: lambda u: u * mpmath.ncdf(a + b * u) ** 2),
]


@pytest.mark.parametrize("rule,integrand", CASES, ids=[c[0].__name__ for c in CASES])
@settings(max_examples=15)
@given(a=A, b=B)
def test_rule_matches_quadrature(rule, integrand, a, b):
    expr = rule(a_s, b_s)
    assert _num(expr, a, b) == pytest.approx(_quad(integrand(a, b)), rel=1e-9, abs=1e-12)


def test_rules_in_closed_form():
    """The Stein-derived entries equal Owen's printed forms (symbolically)."""
    s = sp.sqrt(1 + b_s**2)
    h = a_s / s
    assert sp.simplify(E_u_Phi(a_s, b_s) - b_s * phi_n(h) / s) == 0
    target = 2 * b_s * phi_n(h) / s * Phi(h / sp.sqrt(1 + 2 * b_s**2))
    diff = (E_u_Phi2(a_s, b_s) - target).subs(b_s, sp.Rational(7, 10))
    assert sp.simplify(diff) == 0
    # b = 0: E[Phi(a)^2] = Phi(a)^2 needs T(a, 1) = Phi(a)(1 - Phi(a))/2
    for a in (-1.3, 0.2, 2.0):
        assert _num(E_Phi2(a_s, b_s), a, 0.0) == pytest.approx(float(mpmath.ncdf(a)) ** 2)


@settings(max_examples=10)
@given(a=A, b=B)
def test_stein_lemma(a, b):
    """E[u g(u)] = E[g'(u)] for a smooth g (checked by quadrature on both sides)."""
    g = sp.sin(a + b * u_s) * sp.exp(-u_s**2 / 8)
    lhs = _quad(sp.lambdify(u_s, u_s * g, "mpmath"))
    rhs = _quad(sp.lambdify(u_s, stein(g, u_s), "mpmath"))
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-12)


@settings(max_examples=15)
@given(h=st.floats(-4, 4), a=st.floats(-3, 3))
def test_owens_t_evalf_lambdify_and_derivatives(h, a):
    H, Aa = sp.symbols("H A", real=True)
    ref = float(scipy.special.owens_t(h, a))
    assert float(owens_t(sp.Float(h), sp.Float(a)).evalf(25)) == pytest.approx(ref, abs=1e-14)
    f = compile_scalar(owens_t(H, Aa), [H, Aa])
    assert f(h, a) == pytest.approx(ref, abs=1e-15)
    with mpmath.workdps(20):
        def T(x, y):
            return mpmath.quad(lambda t: mpmath.exp(-x**2 * (1 + t**2) / 2) / (1 + t**2),
                               [0, y]) / (2 * mpmath.pi)
        dh = float(mpmath.diff(lambda x: T(x, a), h))
        da = float(mpmath.diff(lambda y: T(h, y), a))
    sub = {H: h, Aa: a}
    assert float(sp.diff(owens_t(H, Aa), H).subs(sub).evalf(25)) == pytest.approx(dh, abs=1e-12)
    assert float(sp.diff(owens_t(H, Aa), Aa).subs(sub).evalf(25)) == pytest.approx(da, abs=1e-12)


def test_owens_t_special_values_serialize_and_latex():
    H, Aa = sp.symbols("H A", real=True)
    assert owens_t(H, 0) == 0
    assert owens_t(0, Aa) == sp.atan(Aa) / (2 * sp.pi)
    assert owens_t(-H, Aa) == owens_t(H, Aa)
    expr = 3 * owens_t(H**2, Aa) + 1
    assert loads(dumps(expr)) == expr
    assert "T\\left(" in sp.latex(owens_t(H, Aa))
    f = compile_scalar(owens_t(H, Aa), [H, Aa])
    np.testing.assert_allclose(f(np.array([0.1, 1.0]), np.array([0.5, 2.0])),
                               scipy.special.owens_t([0.1, 1.0], [0.5, 2.0]))


@settings(max_examples=10)
@given(a=A, b=B, c0=st.floats(-2, 2), c1=st.floats(-2, 2))
def test_expect_applies_the_table(a, b, c0, c1):
    """expect() of a general degree-(1, 2) polynomial in (u, Phi(a+bu)) vs quadrature."""
    P = Phi(a_s + b_s * u_s)
    expr = c0 + c1 * u_s * P - 2 * P**2 + u_s * (1 - P) ** 2 + 3 * u_s
    val = _num(expect(expr, u_s), a, b)

    def integrand(u):
        p = mpmath.ncdf(a + b * u)
        return c0 + c1 * u * p - 2 * p**2 + u * (1 - p) ** 2 + 3 * u

    assert val == pytest.approx(_quad(integrand), rel=1e-9, abs=1e-11)


def test_expect_rejects_unsupported_terms():
    P = Phi(a_s + b_s * u_s)
    with pytest.raises(ValueError, match="no rule"):
        expect(u_s**2 * P, u_s)
    with pytest.raises(ValueError, match="one erf argument"):
        expect(P * Phi(u_s), u_s)
    with pytest.raises(ValueError, match="linear in u"):
        expect(sp.erf(u_s**2), u_s)
    assert set(RULES) == {(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)}


# ------------------------------------------------------------- Owen's T over the whole plane


def _owens_t_reference(h: float, a: float, dps: int = 40):
    """Independent high-precision T(h, a): the defining integral, [0, min(a, 40/h)] cut into
    24 equal pieces (beyond 40/h the integrand is e^{-800} of its peak), no identities."""
    with mpmath.workdps(dps):
        hm, am = abs(mpmath.mpf(h)), abs(mpmath.mpf(a))
        if am == 0:
            return mpmath.mpf(0)
        top = min(am, 40 / hm) if hm > 0 else am
        pts = list(mpmath.linspace(0, top, 25)) + ([am] if top < am else [])
        val = mpmath.quad(lambda x: mpmath.exp(-hm**2 * x**2 / 2) / (1 + x**2), pts)
        return mpmath.sign(a) * mpmath.exp(-hm**2 / 2) * val / (2 * mpmath.pi)


def test_owens_t_evalf_at_large_h_equals_half_the_normal_tail():
    """T(15, 7) = Phi(-15)/2 (Q(105) and T(105, 1/7) are below 1e-2000 of it); the old
    unsplit quadrature was 5% off here."""
    val = owens_t(sp.Integer(15), sp.Integer(7)).evalf(30)
    with mpmath.workdps(40):
        ref = mpmath.erfc(15 / mpmath.sqrt(2)) / 4  # Phi(-15)/2 (ncdf loses digits there)
        assert abs(mpmath.mpf(val) / ref - 1) < 1e-12
        assert abs(mpmath.mpf(val) / ref - 1) < mpmath.mpf(10) ** -28  # to its precision


@settings(max_examples=12)
@given(h=st.floats(-40, 40), a=st.floats(-60, 60),
       scale=st.sampled_from([(1, 1), (0.05, 1), (1, 0.02), (0.01, 50)]))
def test_owens_t_evalf_to_its_working_precision_over_the_plane(h, a, scale):
    """evalf(30) against an independent 40-digit quadrature, relative error < 1e-25,
    including tiny values (h up to 40: T down to 1e-350) and a from 0 to 3000."""
    h, a = h * scale[0], a * scale[1]
    val = owens_t(sp.Float(h, 30), sp.Float(a, 30)).evalf(30)
    ref = _owens_t_reference(h, a)
    with mpmath.workdps(40):
        if ref == 0:
            assert mpmath.mpf(val) == 0
        else:
            assert abs(mpmath.mpf(val) / ref - 1) < mpmath.mpf(10) ** -25, (h, a, val, ref)


@settings(max_examples=25)
@given(h=st.floats(-40, 40), a=st.floats(-60, 60))
def test_owens_t_evalf_agrees_with_scipy_where_scipy_is_accurate(h, a):
    """SciPy's owens_t (double precision) is within ~2e-13 relative wherever its value does
    not underflow (|T| > 1e-280) and |a| >= 1e-3; evalf agrees with it to 1e-12 there.  (For
    small |a| SciPy is accurate only in absolute terms: T(5, 1e-22) = 5.93e-29 exactly to
    first order, a e^{-h^2/2}/(2 pi); SciPy returns 2.1e-30.)"""
    from hypothesis import assume

    assume(abs(a) >= 1e-3)
    val = float(owens_t(sp.Float(h, 20), sp.Float(a, 20)).evalf(20))
    ref = float(scipy.special.owens_t(h, a))
    if abs(val) > 1e-280:
        assert ref == pytest.approx(val, rel=1e-12, abs=0)
    else:
        assert abs(ref) < 1e-270


@settings(max_examples=6)
@given(h=st.floats(0.01, 20), a=st.floats(0.05, 20))
def test_owens_t_reflection_identity(h, a):
    """T(h, a) + T(ah, 1/a) = Q(h)/2 + Q(ah)/2 - Q(h) Q(ah), Q = 1 - Phi (Owen 1956), from the
    reference quadrature alone."""
    with mpmath.workdps(40):
        hm, am = mpmath.mpf(h), mpmath.mpf(a)
        q_h, q_ah = (mpmath.erfc(x / mpmath.sqrt(2)) / 2 for x in (hm, am * hm))
        lhs = _owens_t_reference(hm, am) + _owens_t_reference(am * hm, 1 / am)
        rhs = q_h / 2 + q_ah / 2 - q_h * q_ah
        assert abs(lhs / rhs - 1) < mpmath.mpf(10) ** -25


def test_owens_t_evalf_is_accurate_at_tiny_a_where_scipy_is_not():
    """T(h, a) = a e^{-h^2/2}/(2 pi) (1 + O(a^2)) for tiny a: evalf keeps the relative accuracy
    (SciPy's double-precision owens_t is off by 96% at T(5, 1e-22))."""
    val = owens_t(sp.Integer(5), sp.Float("1e-22", 30)).evalf(25)
    with mpmath.workdps(30):
        ref = mpmath.mpf("1e-22") * mpmath.exp(-mpmath.mpf(25) / 2) / (2 * mpmath.pi)
        assert abs(mpmath.mpf(val) / ref - 1) < 1e-20
