"""Python API edges: each bad input a clear error naming the parameter, each extreme input a
correct answer (exact="no", learning_curve memory, stability_bound scale, mode_strength at
extreme s, mode_learning_time at large depth, integrate y0/args)."""

from __future__ import annotations

import time

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics import deep_linear as dl
from numerics import lms
from numerics.checks import as_bool
from numerics.compile import compile_rhs
from numerics.integrate import integrate
from theory import deep_linear as th
from theory.moments import derive_moments

R3 = np.diag([1.0, 2.0, 3.0])


# ------------------------------------------------------------------------- exact must be bool


@pytest.mark.parametrize("value", ["no", "False", 0, 1, None, np.array([True])])
def test_exact_must_be_a_bool(value):
    with pytest.raises(TypeError, match="exact must be True or False"):
        lms.stationary_excess_loss(R3, 0.1, 1.0, exact=value)
    with pytest.raises(TypeError, match="exact must be True or False"):
        lms.stationary_mode_variance(R3, 0.1, 1.0, exact=value)


def test_exact_bools_still_work_and_differ():
    exact = lms.stationary_excess_loss(R3, 0.1, 1.0, exact=True)
    small = lms.stationary_excess_loss(R3, 0.1, 1.0, exact=np.bool_(False))
    assert exact > small > 0
    assert as_bool(np.True_, "x") is True


# --------------------------------------------------------------------- learning_curve memory


def test_learning_curve_refuses_a_huge_curve_with_the_bytes_it_needs():
    with pytest.raises(ValueError) as info:
        lms.learning_curve(R3, 0.1, 1.0, np.ones(3), np.zeros(3), 10**9)
    msg = str(info.value)
    assert "steps=1000000000" in msg and "8000000008 bytes" in msg and "max_bytes" in msg


def test_learning_curve_limit_is_configurable():
    w0, wo = np.ones(3), np.zeros(3)
    with pytest.raises(ValueError, match="808 bytes"):
        lms.learning_curve(R3, 0.1, 1.0, w0, wo, 100, max_bytes=800)
    curve = lms.learning_curve(R3, 0.1, 1.0, w0, wo, 100, max_bytes=808)
    assert curve.shape == (101,) and curve[-1] < curve[0]
    with pytest.raises(TypeError, match="max_bytes"):
        lms.learning_curve(R3, 0.1, 1.0, w0, wo, 100, max_bytes=1e9)


# ------------------------------------------------------------------ stability bound, any scale


@settings(max_examples=60, deadline=None)
@given(log_c=st.floats(-250, 250), eigs=st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=6),
       seed=st.integers(0, 2**16))
def test_stability_bound_scales_as_one_over_c(log_c, eigs, seed):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(len(eigs), len(eigs))))
    R = (Q * np.asarray(eigs)) @ Q.T
    R = 0.5 * (R + R.T)
    c = 10.0**log_c
    b1 = lms.stability_bound(R)
    bc = lms.stability_bound(c * R)
    assert bc > 0 and np.isfinite(bc)
    assert abs(bc * c / b1 - 1) < 1e-12


@pytest.mark.parametrize("c", [1e-300, 1e-200, 1e-12, 1.0, 1e12, 1e200, 1e300])
def test_stability_bound_at_extreme_scales(c):
    b = lms.stability_bound(R3)
    assert lms.stability_bound(c * R3) * c == pytest.approx(b, rel=1e-13)
    # the bound is the root of A(gamma) = 1: slightly inside it is stable, outside not
    lms.stationary_excess_loss(c * R3, 0.999 * b / c, 1.0)
    with pytest.raises(ValueError, match="gamma"):
        lms.stationary_excess_loss(c * R3, 1.001 * b / c, 1.0)


def test_stability_bound_known_value():
    # one eigenvalue lambda: A = g / (2 (1 - g)) = 1 at g = 2/3, i.e. gamma = 2 / (3 lambda)
    for lam in (1e-250, 1.0, 1e250):
        assert lms.stability_bound(np.array([[lam]])) * lam == pytest.approx(2 / 3, rel=1e-14)


# ------------------------------------------------------------------ integrate: y0 and args


@pytest.fixture(scope="module")
def cubic_rhs():
    w, a = sp.symbols("w a", real=True)
    system = derive_moments(sp.Matrix([-a * w**3]), [w])
    return compile_rhs(system)[0]


@pytest.mark.parametrize("y0,args,match", [
    ([1.0, 0.1, 0.3], ([1.0],), r"y0 has 3 entries but the right-hand side has 2 states "
                                r"\(w, C_0_0\)"),
    ([1.0], ([1.0],), r"y0 has 1 entry but the right-hand side has 2 states"),
    ([1.0, 0.1], ([1.0, 2.0],), r"args\[0\] has 2 values but the right-hand side has 1 "
                                r"parameter \(a\)"),
    ([1.0, 0.1], (), r"args must be \(p,\) with p the values of the 1 parameter \(a\), "
                     r"got 0 arguments"),
    ([1.0, 0.1], ([1.0], [2.0]), r"got 2 arguments"),
])
def test_integrate_names_states_and_parameters(cubic_rhs, y0, args, match):
    with pytest.raises(ValueError, match=match):
        integrate(cubic_rhs, (0.0, 1.0), y0, args=args)


def test_integrate_accepts_a_scalar_single_parameter(cubic_rhs):
    a = integrate(cubic_rhs, (0.0, 1.0), [1.0, 0.1], args=(2.0,))
    b = integrate(cubic_rhs, (0.0, 1.0), [1.0, 0.1], args=([2.0],))
    assert np.array_equal(a.y, b.y)
    with pytest.raises(TypeError, match=r"parameters \(a\)"):
        integrate(cubic_rhs, (0.0, 1.0), [1.0, 0.1], args=(["x"],))


def test_integrate_checks_any_rhs_at_the_start():
    def f(t, y, k):
        return [-k * y[0], y[1]]

    with pytest.raises(ValueError, match=r"rhs returns shape \(2,\) for y0 of shape \(3,\)"):
        integrate(f, (0.0, 1.0), [1.0, 2.0, 3.0], args=(1.0,))
    with pytest.raises(ValueError, match="fails at the start.*1 entry given"):
        integrate(f, (0.0, 1.0), [1.0], args=(1.0,))
    with pytest.raises(TypeError, match="fails at the start.*0 arguments given"):
        integrate(f, (0.0, 1.0), [1.0, 2.0])


# ------------------------------------------------- mode_strength at extreme target values s


def _small_s_limit(t, tau, a0, depth):
    """As s -> 0 the mode ODE is tau du/dt = -D u^(p+1): u = (a0^-p + p D t / tau)^(-1/p)."""
    p = 2 - 2 / depth
    return (a0 ** -p + p * depth * t / tau) ** (-1 / p)


def test_mode_strength_tiny_s_from_the_issue():
    # was inf: 1 + (s/a0 - 1) e^{-2st/tau} cancels to 0 at s = 1e-300
    assert float(dl.mode_strength(1.0, 1e-300, 1.0, 1.0)) == pytest.approx(1 / 3, rel=1e-14)


@pytest.mark.parametrize("depth", [2, 3, 4, 6])
@pytest.mark.parametrize("s", [1e-300, 1e-200, 1e-60, 1e-25])
def test_mode_strength_small_s_matches_the_limit_flow(depth, s):
    t = np.array([0.0, 0.01, 0.3, 2.0, 50.0])
    for a0 in (0.1, 1.0, 30.0):
        got = dl.mode_strength(t, s, 1.7, a0, depth)
        want = _small_s_limit(t, 1.7, a0, depth)
        np.testing.assert_allclose(got, want, rtol=1e-12)


@settings(max_examples=80, deadline=None)
@given(depth=st.integers(1, 6), log_c=st.floats(-120, 120), s=st.floats(0.2, 5.0),
       log_ratio=st.floats(-6, 6).filter(lambda v: abs(v) > 1e-3), tau=st.floats(0.1, 10.0),
       t=st.floats(0.0, 30.0))
def test_mode_strength_is_scale_covariant(depth, log_c, s, log_ratio, tau, t):
    """u -> c u, s -> c s, tau -> tau c^p leaves the mode ODE unchanged: the answer scales."""
    if depth == 1 and log_ratio < 0:
        log_ratio = -log_ratio  # (depth 1 is linear; any a0 works, both branches tested)
    a0 = s * 10.0**log_ratio
    c = 10.0**log_c
    p = 2 - 2 / depth
    base = float(dl.mode_strength(t, s, tau, a0, depth))
    scaled = float(dl.mode_strength(t, c * s, tau * c**p, c * a0, depth))
    assert scaled / c == pytest.approx(base, rel=1e-9)


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_mode_strength_refuses_an_unresolvable_ratio(depth):
    with pytest.raises(ValueError, match="a0/s must be >= "):
        dl.mode_strength(1.0, 1e20, 1.0, 1e-301, depth)


@pytest.mark.parametrize("depth", [3, 4, 7])
def test_far_above_learning_time(depth):
    p = 2 - 2 / depth
    # s -> 0: the closed limit
    got = dl.mode_learning_time(1e-200, 2.0, 10.0, 1.0, depth)
    assert got == pytest.approx(2.0 / (p * depth) * (1.0 - 10.0**-p), rel=1e-12)
    # a mode far above s (a0/s = 1e6) decaying to 3 s: against 30-digit quadrature
    with mpmath.workdps(30):
        ref = 2.0 / depth * mpmath.quad(lambda x: 1 / (x**p * (1 - x)), [1e6, 1e3, 30, 3])
    assert dl.mode_learning_time(1.0, 2.0, 1e6, 3.0, depth) == pytest.approx(float(ref),
                                                                              rel=1e-12)
    # and mode_strength inverts it across the switch at 2 s
    t = dl.mode_learning_time(1.0, 2.0, 1e6, 1.5, depth)
    assert float(dl.mode_strength(t, 1.0, 2.0, 1e6, depth)) == pytest.approx(1.5, rel=1e-10)


# ---------------------------------------------------------------- learning time at any depth


def test_learning_time_at_depth_1000_is_fast_and_right():
    start = time.perf_counter()
    got = dl.mode_learning_time(1.0, 1.0, 0.01, 0.5, depth=1000)
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0, f"depth 1000 took {elapsed:.1f} s (was 51 s)"
    with mpmath.workdps(30):
        p = 2 - mpmath.mpf(2) / 1000
        ref = mpmath.quad(lambda x: 1 / (x**p * (1 - x)), [0.01, 0.1, 0.5]) / 1000
    assert got == pytest.approx(float(ref), rel=1e-11)
    # close to s and above s too
    with mpmath.workdps(30):
        near = mpmath.quad(lambda x: 1 / (x**p * (1 - x)), [0.5, 0.9, 0.999, 1 - 1e-9]) / 1000
        above = mpmath.quad(lambda x: 1 / (x**p * (1 - x)), [1.9, 1.1, 1 + 1e-9]) / 1000
    assert dl.mode_learning_time(1.0, 1.0, 0.5, 1 - 1e-9, 1000) == pytest.approx(float(near),
                                                                                  rel=1e-9)
    assert dl.mode_learning_time(1.0, 1.0, 1.9, 1 + 1e-9, 1000) == pytest.approx(float(above),
                                                                                  rel=1e-9)
    t = dl.mode_learning_time(1.0, 1.0, 0.01, 0.9, 1000)
    assert float(dl.mode_strength(t, 1.0, 1.0, 0.01, 1000)) == pytest.approx(0.9, rel=1e-11)


def test_closed_form_refuses_absurd_depths_with_the_reason():
    with pytest.raises(ValueError, match=r"depth must be <= 10000 .* in proportion to D"):
        dl.mode_learning_time(1.0, 1.0, 0.01, 0.5, depth=10_001)
    with pytest.raises(ValueError, match="depth must be <= 10000"):
        dl.mode_strength(1.0, 1.0, 1.0, 0.01, depth=10**6)


@pytest.mark.parametrize("depth", [5, 8, 13])
def test_summed_and_explicit_root_of_unity_forms_agree(depth):
    x = th.SYMBOLS.x
    a = sp.lambdify([x], th.antiderivative_elementary(depth, summed=True), "mpmath")
    b = sp.lambdify([x], th.antiderivative_elementary(depth, summed=False), "mpmath")
    with mpmath.workdps(30):
        for v in ("0.001", "0.5", "0.999", "1.001", "3", "1000"):
            assert abs(a(mpmath.mpf(v)) - b(mpmath.mpf(v))) < mpmath.mpf(10) ** -25
