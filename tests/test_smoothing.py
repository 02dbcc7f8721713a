"""Mollifiers and Gaussian smoothing: theory.smoothing (closed forms) and numerics.smoothing."""

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.smoothing import (
    bump,
    bump_constant,
    gaussian_smoothed_mc,
    kernel_weights,
    mollify,
    mollify_nd,
)
from theory import smoothing as ts
from validate.compare import compare


def test_k1_meijer_g_equals_the_bessel_form_and_quadrature():
    with mp.workdps(40):
        a = sp.N(ts.normalisation_constant(1), 35)
        b = sp.N(ts.k1_bessel(), 35)
        assert abs(a - b) < sp.Float("1e-30")
        quad = mp.quad(lambda t: mp.exp(1 / (t**2 - 1)), [-1, 0, 1])
        assert abs(float(1 / quad) - float(b)) < 1e-14


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_radial_substitution_and_numerical_kn(n):
    f_r, f_u = ts.radial_integrand(n)
    r, u = sorted(f_r.free_symbols, key=str)[0], sorted(f_u.free_symbols, key=str)[0]
    with mp.workdps(25):
        a = mp.quad(sp.lambdify(r, f_r, "mpmath"), [0, 0.5, 1])
        b = mp.quad(sp.lambdify(u, f_u, "mpmath"), [0, 1, mp.inf])
        assert abs(a - b) < 1e-12 * abs(a)  # lambdify prints some constants as doubles
    assert bump_constant(n) == pytest.approx(float(sp.N(ts.normalisation_constant(n), 20)),
                                             rel=1e-13)


@pytest.mark.parametrize("n", [2, 3])
def test_kn_by_monte_carlo(n):
    """The normalised n-D bump integrates to 1 over the cube [-1, 1]^n (Monte Carlo, 3 SE);
    a k_n off by 2 fails."""
    rng = np.random.default_rng(n)
    pts = rng.uniform(-1, 1, (400_000, n))
    vals = bump(pts, 1.0, n=n) * 2.0**n
    mean, se = vals.mean(), vals.std(ddof=1) / np.sqrt(vals.size)
    assert compare("int phi", 1.0, mean, se, bound=3.0).passed
    assert not compare("int phi with k_n doubled", 1.0, 2 * mean, 2 * se, bound=3.0).passed


def test_bump_matches_theory_and_is_smooth_with_compact_support():
    k1 = float(sp.N(ts.normalisation_constant(1), 20))
    f = sp.lambdify(ts.x, k1 * ts.bump(ts.x, 1, normalised=False), "numpy")
    xs = np.linspace(-1.2, 1.2, 241)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        want = np.where(np.abs(xs) < 1, f(np.clip(xs, -0.9999999, 0.9999999)), 0.0)
    assert np.allclose(bump(xs), want, rtol=1e-12, atol=1e-300)
    assert np.all(bump(np.array([1.0, -1.0, 1.5])) == 0)
    assert bump(np.array([0.0]), width=0.5)[0] == pytest.approx(2 * bump_constant(1) / np.e)


def _hermite_expectation(coeffs, theta, sigma, deg=40):
    z, w = np.polynomial.hermite_e.hermegauss(deg)
    w = w / np.sqrt(2 * np.pi)
    return np.sum(w * np.polyval(coeffs[::-1], theta + sigma * z))


@settings(max_examples=40)
@given(coeffs=st.lists(st.floats(-3, 3), min_size=1, max_size=7), theta=st.floats(-2, 2),
       sigma=st.floats(0.01, 2))
def test_gaussian_smoothed_polynomial_matches_quadrature(coeffs, theta, sigma):
    t = sp.Symbol("theta", real=True)
    loss = sum(c * t**k for k, c in enumerate(coeffs))
    smooth = ts.gaussian_smoothed(sp.sympify(loss), t)
    got = float(smooth.subs({t: theta, ts.sigma: sigma}))
    want = _hermite_expectation(np.array(coeffs), theta, sigma)
    assert got == pytest.approx(want, rel=1e-10, abs=1e-10)


@settings(max_examples=15)
@given(c=st.lists(st.integers(-3, 3), min_size=6, max_size=6))
def test_score_function_identity_in_two_dimensions(c):
    a, b = sp.symbols("a b", real=True)
    loss = c[0] * a**3 * b + c[1] * b**4 + c[2] * a**2 + c[3] * a * b + c[4] * b + c[5]
    smooth = ts.gaussian_smoothed(loss, [a, b])
    score = ts.score_function_gradient(loss, [a, b])
    grad = sp.Matrix([sp.diff(smooth, a), sp.diff(smooth, b)])
    assert (score - grad).applyfunc(sp.expand) == sp.zeros(2, 1)
    assert smooth.subs(ts.sigma, 0) == sp.expand(loss)


def test_gaussian_smoothing_monte_carlo_matches_closed_form():
    t = sp.Symbol("theta", real=True)
    loss = t**4 - 2 * t**2 + 0.5 * t
    exact = sp.lambdify([t, ts.sigma], ts.gaussian_smoothed(loss, t))
    f = sp.lambdify(t, loss)
    thetas = np.array([[-1.0], [0.0], [0.7], [1.5]])
    mc = gaussian_smoothed_mc(lambda P: f(P[:, 0]), thetas, 0.4, 20_000, seed=3)
    theory = exact(thetas[:, 0], 0.4)
    assert compare("L_sigma", theory, mc.mean, mc.sem).passed
    assert not compare("L_sigma doubled", 2 * theory, mc.mean, mc.sem).passed


def test_mollify_constants_lines_and_edges():
    dx, c = 0.01, 0.1
    x = np.arange(0, 1 + dx / 2, dx)
    for edge in ("valid", "renormalize", "reflect"):
        m = mollify(np.full_like(x, 3.0), dx, c, edge=edge)
        assert np.allclose(m[np.isfinite(m)], 3.0)
    m = mollify(2 * x + 1, dx, c)
    half = int(np.ceil(c / dx)) - 1  # weights at |j| = c/dx are exactly zero
    assert np.isnan(m[:half]).all() and np.isnan(m[-half:]).all()
    assert np.all(np.isfinite(m[half:-half]))
    assert np.allclose(m[half:-half], (2 * x + 1)[half:-half])
    d = mollify(2 * x + 1, dx, c, derivative=True)
    assert np.allclose(d[np.isfinite(d)], 2.0)
    # renormalised edge: the kernel-weighted mean of the samples inside the data
    r = mollify(x, dx, c, edge="renormalize")
    _, w = kernel_weights(dx, c)
    k = len(w) // 2
    inside = w[k:]  # offsets 0..k: samples x_0..x_k contribute to the first point
    assert r[0] == pytest.approx(np.sum(inside * x[:k + 1]) / inside.sum())
    # reflect: even extension about the end sample
    refl = mollify(x, dx, c, edge="reflect")
    assert refl[0] == pytest.approx(np.sum(w * np.abs(np.arange(-k, k + 1)) * dx))


def test_gaussian_kernel_second_moment_and_repetition():
    dx = 0.005
    x = np.arange(-2, 2 + dx / 2, dx)
    g = mollify(x**2, dx, 0.1, kind="gaussian")
    ok = np.isfinite(g)
    assert np.allclose(g[ok], x[ok] ** 2 + 0.01, atol=1e-7)
    twice = mollify(x**2, dx, 0.1, kind="gaussian", times=2)
    ok = np.isfinite(twice)
    assert np.allclose(twice[ok], x[ok] ** 2 + 0.02, atol=1e-7)  # variances add


def test_derivative_of_smoothed_curve_is_the_slope_of_the_smoothed_curve():
    rng = np.random.default_rng(0)
    dx = 0.002
    x = np.arange(0, 1, dx)
    y = np.sin(7 * x) + 0.1 * rng.standard_normal(x.size)
    s = mollify(y, dx, 0.05)
    d = mollify(y, dx, 0.05, derivative=True)
    fd = np.gradient(s, dx)
    ok = np.isfinite(d) & np.isfinite(fd)
    ok[1:] &= np.isfinite(s[:-1])
    ok[:-1] &= np.isfinite(s[1:])
    assert np.max(np.abs(d[ok] - fd[ok])) < 0.02 * np.max(np.abs(d[ok]))


def test_mollify_nd_on_a_plane_and_constant():
    h = 0.02
    xs = np.arange(0, 1, h)
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    z = 3 * X - 2 * Y + 1
    m = mollify_nd(z, h, 0.1)
    ok = np.isfinite(m)
    assert ok.sum() > 0.5 * z.size
    assert np.allclose(m[ok], z[ok], atol=1e-3)
    r = mollify_nd(np.ones_like(z), h, 0.1, edge="renormalize")
    assert np.allclose(r, 1.0)


@pytest.mark.parametrize("call, match", [
    (lambda: mollify(np.ones(50), 0.01, 0.015), "at least 2 grid steps"),
    (lambda: mollify(np.ones(50), 0.01, 0.1, edge="zero"), "edge must be one of"),
    (lambda: mollify(np.ones(50), 0.01, 0.1, kind="box"), "kind must be one of"),
    (lambda: mollify(np.array([1.0, np.nan, 2.0]), 0.01, 0.1), "y contains NaN"),
    (lambda: mollify(np.ones(50), -0.01, 0.1), "dx must be in"),
    (lambda: mollify(np.ones(50), 0.01, 0.1, derivative=True, edge="renormalize"),
     "not defined for derivative"),
    (lambda: gaussian_smoothed_mc(np.sum, [0.0], 0.0, 10, 0), "sigma must be in"),
    (lambda: bump_constant(0), "n must be >= 1"),
    (lambda: ts.normalisation_constant(0), "dimension"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
