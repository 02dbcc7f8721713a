import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theory.serialize import dumps, loads

x, y = sp.symbols("x y", real=True)
atoms = st.sampled_from([x, y, sp.Integer(2), sp.Rational(1, 3), sp.pi, sp.Float(0.125)])


@st.composite
def expressions(draw, depth=3):
    if depth == 0:
        return draw(atoms)
    op = draw(st.sampled_from(["add", "mul", "pow", "erf", "exp", "atom"]))
    a = draw(expressions(depth - 1))
    if op == "atom":
        return a
    if op in ("erf", "exp"):
        return getattr(sp, op)(a)
    b = draw(expressions(depth - 1))
    if op == "add":
        return a + b
    if op == "mul":
        return a * b
    return a ** draw(st.integers(-2, 3))


@given(expressions())
def test_round_trip(expr):
    assert loads(dumps(expr)) == expr


def test_matrix_and_function_round_trip():
    f = sp.Function("f")
    M = sp.ImmutableMatrix([[f(x) + sp.sqrt(2) * y, sp.erf(x) / 2]])
    assert loads(dumps(M)) == M


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')",
    "Symbol('x').__class__",
    "open('/etc/passwd')",
    "Add(*[Symbol('x')])",
    "(lambda: 1)()",
])
def test_malicious_text_is_refused(text):
    with pytest.raises(ValueError):
        loads(text)
