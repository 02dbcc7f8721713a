"""lambdified right-hand sides equal SymPy evalf at random points."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from numerics.compile import compile_expressions, compile_rhs, compile_scalar
from theory.lms import lms_moment_system

floats = st.floats(-2.0, 2.0, allow_nan=False)


@given(st.lists(floats, min_size=16, max_size=16))
def test_lms_moment_rhs_equals_evalf(values):
    s = lms_moment_system(2)
    rhs, state, params = compile_rhs(s)
    y = np.array(values[: len(state)])
    p = np.abs(np.array(values[len(state): len(state) + len(params)])) + 0.1
    got = rhs(0.0, y, p)
    subs = dict(zip(state, y)) | dict(zip(params, p))
    want = np.array([float(e.evalf(30, subs=subs)) for e in s.state_rhs])
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)


@given(floats, floats)
def test_special_functions_equal_evalf(u, v):
    a, b = sp.symbols("a b", real=True)
    exprs = [sp.erf(a * b) * sp.exp(-(a**2)), sp.sqrt(1 + b**2) * sp.erfc(a), sp.tanh(a - b)]
    f = compile_expressions(exprs, [(a, b)])
    got = f([u, v])
    want = [float(e.evalf(30, subs={a: u, b: v})) for e in exprs]
    assert np.allclose(got, want, rtol=1e-12, atol=1e-14)


def test_batch_evaluation_and_docstring():
    s = lms_moment_system(2)
    rhs, state, params = compile_rhs(s)
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((len(state), 7))
    P = np.abs(rng.standard_normal(len(params))) + 0.1
    batch = rhs(0.0, Y, P)
    assert batch.shape == (len(state), 7)
    for k in range(7):
        assert np.allclose(batch[:, k], rhs(0.0, Y[:, k], P))
    assert "w0" in rhs.__doc__ and "C_0_1" in rhs.__doc__


def test_missing_symbol_is_an_error():
    a, b = sp.symbols("a b")
    with pytest.raises(ValueError, match="b"):
        compile_expressions([a + b], [(a,)])
    with pytest.raises(ValueError, match="b"):
        compile_scalar(a * b, [a])
