"""Seed 002's smaller claims, checked against learndyn's derivation.

* eq. (25): the anisotropy coefficient h_an is negative for SL everywhere, but for RL it
  changes sign with the alignment (the paper claims a slowdown at leading order for both);
* lambda = sigma = 0: |<w>| diverges but the alignment with mu still tends to 1;
* eq. (44): the limits of its two bracket terms, and that the bracket is the derived SL
  fixed-point function (up to a positive factor);
* local stability of the fixed point from the eigenvalues of the derived Jacobian.
"""

import numpy as np
import pytest
import sympy as sp

from numerics.compile import compile_scalar
from numerics.perceptron import alignment, fixed_point_eigenvalues, mean_drift, mean_flow
from theory.perceptron import anisotropy_coefficient, fixed_point_function


def _h_an(rule):
    rf, _, _, h = anisotropy_coefficient(rule)
    return compile_scalar(h, [rf.P, rf.W, rf.M2])


def test_eq25_rl_anisotropy_coefficient_changes_sign_with_the_alignment():
    """At |w| = |mu| = 1: RL's O(eps) coefficient is +0.62 at alignment 0.1 (noise along mu
    *speeds up* RL there) and -0.088 at 0.7; SL's is negative at both (eq. (25)'s claim)."""
    rl, sl = _h_an("rl"), _h_an("sl")
    assert rl(0.1, 1.0, 1.0) == pytest.approx(0.6219, abs=5e-4)
    assert rl(0.7, 1.0, 1.0) == pytest.approx(-0.0876, abs=5e-4)
    A = np.linspace(0.02, 0.98, 49)
    vals = rl(A, 1.0, 1.0)
    crossings = np.flatnonzero(np.diff(np.sign(vals)))
    assert crossings.size == 1 and 0.3 < A[crossings[0]] < 0.5  # one sign change, near 0.4
    assert np.all(sl(A, 1.0, 1.0) < 0)


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_alignment_tends_to_one_without_noise_or_weight_decay(rule):
    """lambda = sigma = 0: the drift is along mu only, so w(t) = w0 + c(t) mu with c -> inf:
    |<w>| diverges (slowly) and the alignment rises monotonically to 1 (seed 002, end of the
    fixed-point analysis; Ji & Telgarsky 2020)."""
    t = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
    fl = mean_flow(rule, [1.0, 0.0], np.zeros((2, 2)), [-0.2, 0.5], t)
    A = alignment([1.0, 0.0], fl.y.T)
    assert np.all(np.diff(A) > 0)
    assert A[-1] > 0.99
    assert np.all(np.diff(np.linalg.norm(fl.y, axis=0)[1:]) > 0)
    np.testing.assert_allclose(fl.y[1], 0.5, rtol=1e-9)  # the orthogonal part is untouched


def test_eq44_bracket_is_the_derived_fixed_point_function_and_its_limits():
    r"""Seed eq. (44) at lambda = 0, |mu| = 1: 0 = e^{-x}[F_1(r) - F_2(r)] with
    x = r^2 pi/(16 + 2 pi sigma^2 r^2),
    F_1 = e^{x} erfc(r sqrt(pi)/sqrt(16 + 2 pi sigma^2 r^2))/2,
    F_2 = sigma^2 r / (4 sqrt(1 + sigma^2 r^2 pi/8)).
    Claims: F_1(0) = 1/2, F_1 decreases to e^{1/(2 s^2)} erfc(1/(sqrt2 s))/2
    = (s - s^3 + O(s^5))/sqrt(2 pi); F_2(0) = 0, F_2 increases to s/sqrt(2 pi) > lim F_1."""
    r = sp.Symbol("r", positive=True)
    s = sp.Symbol("s", positive=True)
    x = r**2 * sp.pi / (16 + 2 * sp.pi * s**2 * r**2)
    F1 = sp.exp(x) * sp.erfc(r * sp.sqrt(sp.pi) / sp.sqrt(16 + 2 * sp.pi * s**2 * r**2)) / 2
    F2 = s**2 * r / (4 * sp.sqrt(1 + s**2 * r**2 * sp.pi / 8))
    (rr, s2, lam, M2), R = fixed_point_function("sl")
    R0 = R.subs({rr: r, s2: s**2, lam: 0, M2: 1})
    # the derived radial drift R(r) = w.<f>/r equals e^{-x}(F_1 - F_2) (same root)
    f_R = sp.lambdify([r, s], R0, "mpmath")
    f_44 = sp.lambdify([r, s], sp.exp(-x) * (F1 - F2), "mpmath")
    for rv, sv in ((0.3, 0.5), (2.0, 0.5), (7.0, 0.2), (1.0, 2.0)):
        assert float(f_R(rv, sv)) == pytest.approx(float(f_44(rv, sv)), rel=1e-12)
    assert sp.limit(F1, r, 0) == sp.Rational(1, 2)
    assert sp.limit(F2, r, 0) == 0
    lim1 = sp.exp(1 / (2 * s**2)) * sp.erfc(1 / (sp.sqrt(2) * s)) / 2
    lim2 = s / sp.sqrt(2 * sp.pi)
    assert sp.simplify(sp.limit(F2, r, sp.oo) - lim2) == 0
    f1, l1 = sp.lambdify([r, s], F1, "mpmath"), sp.lambdify([s], lim1, "mpmath")
    for sv in (0.2, 0.5, 1.0, 3.0):
        assert float(f1(1e7, sv)) == pytest.approx(float(l1(sv)), rel=1e-6)
        assert float(l1(sv)) < sv / np.sqrt(2 * np.pi)  # lim F_1 < lim F_2: one crossing
        grid = np.geomspace(1e-3, 1e3, 200)
        assert np.all(np.diff([float(f1(g, sv)) for g in grid]) < 0)  # F_1 decreasing
    ser = sp.series(sp.sqrt(2 * sp.pi) * lim1.rewrite(sp.erfc), s, 0, 5).removeO()
    assert sp.expand(ser - (s - s**3)) == 0


@pytest.mark.parametrize("rule, sigma, lam", [
    ("sl", 0.2, 0.0), ("sl", 0.5, 0.0), ("sl", 2.0, 0.0), ("sl", 0.0, 0.1), ("sl", 1.0, 1.0),
    ("rl", 0.0, 0.3), ("rl", 0.5, 0.3), ("rl", 2.0, 1.0)])
def test_fixed_point_is_locally_stable(rule, sigma, lam):
    """Both eigenvalues of the derived Jacobian at |w*| are negative (along mu and across);
    they equal central differences of the lambdified drift."""
    r, along, across = fixed_point_eigenvalues(rule, sigma, lam)
    assert along < 0 and across < 0
    h = 1e-6 * max(1.0, r)
    S = sigma**2 * np.eye(2)
    fd = [(mean_drift(rule, [r, 0.0] + h * e, [1.0, 0.0], S, lam)
           - mean_drift(rule, [r, 0.0] - h * e, [1.0, 0.0], S, lam)) / (2 * h) for e in np.eye(2)]
    assert fd[0][0] == pytest.approx(along, rel=1e-5)
    assert fd[1][1] == pytest.approx(across, rel=1e-5)
