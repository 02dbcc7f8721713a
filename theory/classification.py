r"""Accuracy of a linear classifier on Gaussian classes (seed 002, Fig. 5 and appendix).

For inputs :math:`x\sim N(\mu,\Sigma)` the score :math:`s = w\cdot x` is
:math:`N(m, v)` with :math:`m = \mu\cdot w`, :math:`v = w^\top\Sigma w`.  The probability that
the perceptron's decision :math:`\operatorname{sign}(s)` is :math:`+1` is derived here by
integrating the normal density over the half-line :math:`s > 0`
(seed 002, "MNIST details": integrate the class Gaussians over the half-spaces bounded by
:math:`w(t)`):

.. math:: P(s > 0) = \tfrac12\operatorname{erfc}\!\Big(-\frac{m}{\sqrt{2v}}\Big) = \Phi(m/\sqrt v).

The expected accuracy on classes :math:`N(\mu_\pm,\Sigma_\pm)` with prior :math:`p_+` is
:math:`p_+ P_+(s>0) + (1-p_+) P_-(s<0)`.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = ["positive_decision_probability", "two_class_accuracy"]

_s = sp.Symbol("s", real=True)


@lru_cache(maxsize=1)
def positive_decision_probability() -> tuple[tuple[sp.Symbol, sp.Symbol], sp.Expr]:
    r"""``((m, v), P)`` with :math:`P = \int_0^\infty N(s; m, v)\,ds` (derived by SymPy)."""
    m = sp.Symbol("m", real=True)
    v = sp.Symbol("v", positive=True)
    density = sp.exp(-(_s - m) ** 2 / (2 * v)) / sp.sqrt(2 * sp.pi * v)
    P = sp.simplify(sp.integrate(density, (_s, 0, sp.oo)))
    if P.has(sp.Integral):
        raise AssertionError("the half-line Gaussian integral did not evaluate")
    return (m, v), P


@lru_cache(maxsize=1)
def two_class_accuracy() -> tuple[tuple[sp.Symbol, ...], sp.Expr]:
    r"""``((m_pos, v_pos, m_neg, v_neg, p_pos), A)``: expected accuracy of
    :math:`\operatorname{sign}(w\cdot x)` with :math:`m_\pm = \mu_\pm\cdot w`,
    :math:`v_\pm = w^\top\Sigma_\pm w` and prior :math:`p_+` of the +1 class."""
    (m, v), P = positive_decision_probability()
    mp, mn = sp.symbols("m_pos m_neg", real=True)
    vp, vn = sp.symbols("v_pos v_neg", positive=True)
    pp = sp.Symbol("p_pos", positive=True)
    # the -1 class is correct when s < 0, i.e. when -s (mean -m, same variance) is > 0
    acc = pp * P.subs({m: mp, v: vp}) + (1 - pp) * P.subs({m: -mn, v: vn})
    return (mp, vp, mn, vn, pp), acc
