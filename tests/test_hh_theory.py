"""theory.hh: the HH model's derived expressions (rates, singularities, Jacobian, forms)."""

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import hh as th
from theory.catalog import get_model

SUBS = th.DEFAULT_CONSTANTS.subs()


def _textbook_mp(name, v):
    """HH's rate formulas in 50-digit arithmetic (mpmath), the reference."""
    mp.mp.dps = 50
    v = mp.mpf(v)
    e = mp.e
    forms = {
        "alpha_m": lambda: mp.mpf("0.1") * (v + 40) / (1 - e ** (-(v + 40) / 10)),
        "beta_m": lambda: 4 * e ** (-(v + 65) / 18),
        "alpha_h": lambda: mp.mpf("0.07") * e ** (-(v + 65) / 20),
        "beta_h": lambda: 1 / (1 + e ** (-(v + 35) / 10)),
        "alpha_n": lambda: mp.mpf("0.01") * (v + 55) / (1 - e ** (-(v + 55) / 10)),
        "beta_n": lambda: mp.mpf("0.125") * e ** (-(v + 65) / 80),
    }
    return forms[name]()


@pytest.fixture(scope="module")
def rate_fns():
    return {k: sp.lambdify([th.V], e, "mpmath") for k, e in th.rates().items()}


@settings(max_examples=60)
@given(v=st.one_of(st.floats(-120, 80), st.floats(-40.6, -39.4), st.floats(-55.6, -54.4),
                   st.sampled_from([-40.0, -55.0, -40.5, -39.5, -55.5, -54.5,
                                    -40 + 1e-12, -55 - 1e-9])))
def test_rates_match_hodgkin_huxley_formulas_everywhere(rate_fns, v):
    """Exact-singularity rates == HH's formulas (high precision), including at and near the
    removable singularities V = -40, -55 mV and at the Taylor window's edges."""
    for name, f in rate_fns.items():
        if (name == "alpha_m" and v == -40.0) or (name == "alpha_n" and v == -55.0):
            continue  # 0/0 in the textbook form: checked by the limit test
        ref = _textbook_mp(name, v)
        got = float(f(v))
        assert got == pytest.approx(float(ref), rel=1e-13, abs=1e-300), (name, v)


def test_removable_singularities_have_the_limits_and_exact_values():
    lims = th.singular_limits()
    assert lims["alpha_m"] == (-40, 1)
    assert lims["alpha_n"] == (-55, sp.Rational(1, 10))
    r = th.rates()
    assert r["alpha_m"].subs(th.V, -40) == 1
    assert r["alpha_n"].subs(th.V, -55) == sp.Rational(1, 10)
    # the textbook form really is 0/0 there
    assert th.textbook_rates()["alpha_m"].subs(th.V, -40).has(sp.nan) or \
        th.textbook_rates()["alpha_m"].subs(th.V, -40) is sp.nan


def test_taylor_polynomial_is_the_bernoulli_series():
    u = sp.Symbol("u")
    B = th.bernoulli_ratio(u).args[0][0]
    poly = sp.Poly(B, u)
    for k in range(th.TAYLOR_DEGREE + 1):
        want = sp.Rational(-1, 2) if k == 1 else sp.bernoulli(k) / sp.factorial(k)
        assert poly.coeff_monomial(u**k) == want


def _alpha_mp(name, v):
    """alpha_m, alpha_n as scale * B(u) with B(u) = u / expm1(u) (B(0) = 1), in mpmath."""
    c, scale = (40, 1) if name == "alpha_m" else (55, mp.mpf("0.1"))
    u = -(mp.mpf(v) + c) / 10
    return scale * (u / mp.expm1(u) if u != 0 else mp.mpf(1))


@pytest.mark.parametrize("name, v0", [("alpha_m", -40), ("alpha_n", -55)])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_derivatives_are_exact_through_the_singularity(name, v0, order):
    """d^k alpha/dV^k of the Piecewise equals mpmath's derivative of the analytic function,
    at the singular point and on both sides of the Taylor window edge (|u| = 1/20)."""
    mp.mp.dps = 50
    d = sp.lambdify([th.V], sp.diff(th.rates()[name], th.V, order), "mpmath")
    for dv in (0.0, 0.3, 0.49999, 0.50001, -0.50001, 0.7, 3.0):
        v = v0 + dv
        ref = mp.diff(lambda x: _alpha_mp(name, x), mp.mpf(v), order, h=mp.mpf("1e-15"))
        assert float(d(v)) == pytest.approx(float(ref), rel=1e-9, abs=1e-14), (v, order)


def test_rest_is_minus_65_mV_with_HH_leak_reversal():
    """HH chose E_L so that the ionic current vanishes at rest: I_inf(-65) ~ 0."""
    I_inf = sp.lambdify([th.V], th.steady_state_current().subs(SUBS))
    assert abs(I_inf(-65.0)) < 0.01  # uA/cm^2; E_L = -54.387 is given to 3 decimals
    root = sp.nsolve(th.steady_state_current().subs(SUBS), th.V, -65)
    assert float(root) == pytest.approx(-65.0, abs=0.01)


def test_steady_state_current_is_increasing_so_the_equilibrium_is_unique():
    dI = sp.lambdify([th.V], sp.diff(th.steady_state_current().subs(SUBS), th.V), "numpy")
    v = np.linspace(-150, 80, 4001)
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.all(dI(v) > 0)


@pytest.fixture(scope="module")
def mp_cell():
    f = sp.lambdify([*th.CELL_STATE, th.I], list(th.cell_rhs().subs(SUBS)), "mpmath")
    J = sp.lambdify(list(th.CELL_STATE), th.jacobian(True).subs(SUBS), "mpmath")
    return f, J


@settings(max_examples=12)
@given(v=st.floats(-90, 50), m=st.floats(0, 1), h=st.floats(0, 1), n=st.floats(0, 1),
       s=st.floats(0, 1), i_app=st.floats(-20, 200))
def test_jacobian_matches_finite_differences(mp_cell, v, m, h, n, s, i_app):
    mp.mp.dps = 40
    f, J = mp_cell
    y = [mp.mpf(x) for x in (v, m, h, n, s)]
    Jv = J(*y)
    for j in range(5):
        def fj(x, j=j):
            yy = list(y)
            yy[j] = x
            return f(*yy, mp.mpf(i_app))
        col = [mp.diff(lambda x, i=i, fj=fj: fj(x)[i], y[j]) for i in range(5)]
        for i in range(5):
            assert float(Jv[i, j]) == pytest.approx(float(col[i]), rel=1e-10, abs=1e-12)


def test_derivative_tensors_are_symmetric_and_consistent():
    """B and C are the symmetric second/third derivatives: check at a random state."""
    B, C = th.derivative_tensors()
    f = th.neuron_rhs()
    rng = np.random.default_rng(1)
    point = dict(zip(th.STATE, (-58.3, *rng.uniform(0.1, 0.9, 3)))) | SUBS
    Bn = np.array([[[float(e.subs(point)) for e in r] for r in mat] for mat in B])
    Cn = np.array(sp.lambdify(list(th.STATE), [[[[e.subs(SUBS) for e in r3] for r3 in r2]
                                                for r2 in r1] for r1 in C])(
        *[point[x] for x in th.STATE]))
    assert np.allclose(Bn, Bn.transpose(0, 2, 1))
    for perm in [(0, 2, 1, 3), (0, 3, 2, 1), (0, 1, 3, 2)]:
        assert np.allclose(Cn, Cn.transpose(perm))
    assert Bn[1, 0, 1] == pytest.approx(float(sp.diff(f[1], th.V, th.m).subs(point)))
    # third derivative of the V equation in m (m^3 term): -6 gNa h (V - ENa) / C
    want = -6 * 120 * point[th.h] * (point[th.V] - 50)
    assert Cn[0, 1, 1, 1] == pytest.approx(want)


@pytest.fixture(scope="module")
def ab_fns():
    args = [*th.CELL_STATE, th.I]
    ab = [(sp.lambdify(args, a.subs(SUBS)), sp.lambdify(args, b.subs(SUBS)))
          for a, b in th.exponential_euler_form(True)]
    f = sp.lambdify(args, list(th.cell_rhs().subs(SUBS)))
    return ab, f


@settings(max_examples=30)
@given(v=st.floats(-90, 50), m=st.floats(0, 1), h=st.floats(0, 1), n=st.floats(0, 1),
       s=st.floats(0, 1), i_app=st.floats(-20, 200))
def test_exponential_euler_form_reproduces_the_rhs(ab_fns, v, m, h, n, s, i_app):
    ab, f = ab_fns
    y = (v, m, h, n, s)
    for j, (a, b) in enumerate(ab):
        assert th.CELL_STATE[j] not in th.exponential_euler_form(True)[j][1].free_symbols
        aj, bj = a(*y, i_app), b(*y, i_app)
        assert aj - bj * y[j] == pytest.approx(f(*y, i_app)[j], rel=1e-12, abs=1e-10)
        assert bj > 0  # every variable relaxes: the scheme is stable


def test_temperature_factor():
    assert th.temperature_factor(6.3) == 1
    assert th.temperature_factor(sp.Rational(163, 10)) == 3
    assert float(th.temperature_factor(16.3)) == pytest.approx(3.0)
    assert th.HHConstants(temperature=16.3).phi == pytest.approx(3.0)


def test_latex_is_registered_and_names_the_pieces():
    text = get_model("hh").latex()
    for piece in (r"\alpha_{m}", r"\beta_{n}", r"\lim_{V\to -40}", "J_{11} ", r"\frac{ds}{dt}",
                  "E_{L}"):
        assert piece in text
