"""Python API edges: each bad input a clear error naming the parameter, each extreme input a
correct answer (issue: exact="no", learning_curve memory, stability_bound scale,
integrate y0/args; deep-linear mode edges are in test_deep_linear_numerics.py)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics import lms
from numerics.checks import as_bool
from numerics.compile import compile_rhs
from numerics.integrate import integrate
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
