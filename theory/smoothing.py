r"""Mollifiers and Gaussian smoothing of loss functions (seed 003, "Mollification").

**Bump mollifier** on :math:`\mathbb R^n` (seed 003's canonical mollifier):

.. math:: \phi(x) = k_n\, e^{1/(|x|^2 - 1)}\ (|x| < 1),\qquad 0\ (|x|\ge 1),\qquad
          \phi_c(x) = c^{-n}\phi(x/c),

smooth, compactly supported, :math:`\int\phi = 1`, :math:`\phi_c \to \delta` as
:math:`c\to0`.  **Normalisation.** In polar coordinates and with :math:`u = r^2/(1-r^2)`
(so :math:`1/(1-r^2) = 1 + u`),

.. math:: \int_{\mathbb R^n} e^{1/(|x|^2-1)}dx = S_{n-1}\int_0^1 r^{n-1}e^{-1/(1-r^2)}dr
          = \frac{\pi^{n/2}}{\Gamma(n/2)}\,e^{-1}\,I_n,\qquad
          I_n = \int_0^\infty e^{-u}\,u^{n/2-1}(1+u)^{-n/2-1}\,du,

:math:`S_{n-1} = 2\pi^{n/2}/\Gamma(n/2)`.  :math:`I_n = \Gamma(n/2)\,U(n/2, 0, 1)` (Tricomi's
confluent hypergeometric function, DLMF 13.4.4); SymPy evaluates :math:`I_n` as a Meijer G
function (:func:`normalisation_integral`), so
:math:`k_n = \Gamma(n/2)\,e\,/(\pi^{n/2} I_n)` exactly.  In one dimension
:math:`U(3/2, 2, 1)` reduces to Bessel functions (DLMF 13.6.10 and 13.3.22):

.. math:: k_1 = \frac{e^{1/2}}{K_1(1/2) - K_0(1/2)} \approx 2.252283620...

(:func:`k1_bessel`; the tests check it against the Meijer-G value to 30 digits and against
quadrature; :mod:`numerics.smoothing` computes :math:`k_n` by radial quadrature and checks it
against this closed form and Monte Carlo).

**Gaussian smoothing** (seed 003, "Computing Gradient of Mollified Loss"): for
:math:`\varepsilon\sim N(0, I_d)`,

.. math:: L_\sigma(\theta) = E[L(\theta + \sigma\varepsilon)],\qquad
          \nabla L_\sigma(\theta) = \frac{1}{\sigma}E[L(\theta+\sigma\varepsilon)\,\varepsilon]

(the second is the score-function / log-likelihood identity, Stein's lemma).  For a
polynomial loss both are closed forms obtained by the Isserlis theorem
(:func:`gaussian_smoothed`, :func:`score_function_gradient`); e.g. in 1-D
:math:`E[(\theta+\sigma\varepsilon)^k] = \sum_{j\ \mathrm{even}}\binom{k}{j}(j-1)!!\,
\sigma^j\theta^{k-j}`.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from theory.latex import Equation, LatexModel, Rel, Sym, Tex, register_latex
from theory.wick import gaussian_expectation

__all__ = ["x", "sigma", "bump", "radial_integrand", "normalisation_integral",
           "normalisation_constant", "k1_bessel", "gaussian_smoothed",
           "score_function_gradient", "gaussian_kernel"]

x = sp.Symbol("x", real=True)
sigma = sp.Symbol("sigma", positive=True)
_u = sp.Symbol("u", positive=True)
_r = sp.Symbol("r", positive=True)


def bump(var: sp.Expr = x, n: int = 1, normalised: bool = True) -> sp.Expr:
    r""":math:`k_n e^{1/(v^2-1)}` for :math:`|v| < 1`, else 0 (``var`` is :math:`|x|` or x)."""
    core = sp.Piecewise((sp.exp(1 / (var**2 - 1)), var**2 < 1), (0, True))
    return normalisation_constant(n) * core if normalised else core


def radial_integrand(n: int) -> tuple[sp.Expr, sp.Expr]:
    r"""``(f_r, f_u)``: :math:`r^{n-1}e^{-1/(1-r^2)}` on (0, 1) and, after
    :math:`u = r^2/(1-r^2)`, :math:`\tfrac12 e^{-1}e^{-u}u^{n/2-1}(1+u)^{-n/2-1}` on
    :math:`(0, \infty)`; the substitution is carried out by SymPy (checked by the tests)."""
    n = _dimension(n)
    f_r = _r ** (n - 1) * sp.exp(-1 / (1 - _r**2))
    r_of_u = sp.sqrt(_u / (1 + _u))
    f_u = sp.simplify(f_r.subs(_r, r_of_u) * sp.diff(r_of_u, _u))
    return f_r, f_u


@lru_cache(maxsize=16)
def normalisation_integral(n: int) -> sp.Expr:
    r""":math:`I_n = \int_0^\infty e^{-u}u^{n/2-1}(1+u)^{-n/2-1}du` by ``sympy.integrate``
    (a Meijer G function; exact, evaluable to any precision)."""
    n = _dimension(n)
    a = sp.Rational(n, 2)
    value = sp.integrate(sp.exp(-_u) * _u ** (a - 1) * (1 + _u) ** (-a - 1), (_u, 0, sp.oo))
    if value.has(sp.Integral):
        raise ArithmeticError(f"SymPy could not evaluate I_{n}")
    return value


@lru_cache(maxsize=16)
def normalisation_constant(n: int) -> sp.Expr:
    r""":math:`k_n = \Gamma(n/2)\,e\,/(\pi^{n/2} I_n)`: one over the bump's integral."""
    n = _dimension(n)
    return sp.gamma(sp.Rational(n, 2)) * sp.E / (sp.pi ** sp.Rational(n, 2)
                                                  * normalisation_integral(n))


def k1_bessel() -> sp.Expr:
    r""":math:`k_1 = e^{1/2}/(K_1(1/2) - K_0(1/2))`."""
    half = sp.Rational(1, 2)
    return sp.exp(half) / (sp.besselk(1, half) - sp.besselk(0, half))


def gaussian_kernel(var: sp.Expr = x, width: sp.Expr = sigma) -> sp.Expr:
    """The N(0, width^2) density, the Gaussian (non-compact) smoothing kernel."""
    return sp.exp(-var**2 / (2 * width**2)) / (sp.sqrt(2 * sp.pi) * width)


def _eps(d: int):
    return sp.symbols(f"epsilon0:{d}", real=True)


def gaussian_smoothed(loss: sp.Expr, theta, width: sp.Expr = sigma) -> sp.Expr:
    r""":math:`L_\sigma(\theta) = E[L(\theta + \sigma\varepsilon)]` for a polynomial ``loss`` in
    the symbols ``theta`` (Isserlis, :func:`theory.wick.gaussian_expectation`)."""
    theta = list(theta) if isinstance(theta, (list, tuple)) else [theta]
    eps = _eps(len(theta))
    shifted = sp.expand(loss.subs({t: t + width * e for t, e in zip(theta, eps)},
                                  simultaneous=True))
    return sp.expand(gaussian_expectation(shifted, eps, sp.eye(len(theta))))


def score_function_gradient(loss: sp.Expr, theta, width: sp.Expr = sigma) -> sp.Matrix:
    r""":math:`\tfrac1\sigma E[L(\theta+\sigma\varepsilon)\,\varepsilon]` (the log-likelihood
    trick's expectation) for a polynomial loss; equals :math:`\nabla L_\sigma` (tests)."""
    theta = list(theta) if isinstance(theta, (list, tuple)) else [theta]
    eps = _eps(len(theta))
    shifted = sp.expand(loss.subs({t: t + width * e for t, e in zip(theta, eps)},
                                  simultaneous=True))
    return sp.Matrix([sp.expand(gaussian_expectation(shifted * e, eps, sp.eye(len(theta)))
                                / width) for e in eps])


def _dimension(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (the dimension) must be an integer >= 1, got {n!r}")
    return n


@register_latex("smoothing", "bump mollifier (k_n exact) and Gaussian smoothing of losses")
def smoothing_latex() -> LatexModel:
    """The mollifier and Gaussian smoothing as a :class:`theory.latex.LatexModel`."""
    t = sp.Symbol("theta", real=True)
    a = sp.symbols("a_0:4", real=True)
    quartic = a[0] + a[1] * t + a[2] * t**2 + a[3] * t**4
    k_n, I_n, n_sym = sp.symbols("k_n I_n n", positive=True)
    inside = bump(x, 1, normalised=False).args[0][0]
    k1 = k1_bessel()
    return LatexModel(
        title="Mollifiers and Gaussian smoothing",
        summary=(r"The bump mollifier of seed 003 and Gaussian smoothing "
                 r"$L_\sigma(\theta) = E[L(\theta + \sigma\varepsilon)]$, "
                 r"$\varepsilon \sim N(0, 1)$, of a polynomial loss by the Isserlis theorem."),
        equations=[
            Equation("bump mollifier on $|x| < 1$ (zero outside), scaled "
                     r"$\phi_c(x) = c^{-n}\phi(x/c)$",
                     Rel(Tex(r"\phi(x)", ("x",)), k_n * inside)),
            Equation("its normalisation (polar coordinates, $u = r^2/(1 - r^2)$)", [
                Rel(k_n, sp.gamma(n_sym / 2) * sp.E / (sp.pi ** (n_sym / 2) * I_n)),
                Rel(I_n, Tex(r"\int_0^\infty e^{-u} u^{n/2-1} (1+u)^{-n/2-1} du"
                             r" = \Gamma(n/2)\, U(n/2, 0, 1)", ("u", "n", "U"))),
            ]),
            Equation("in one dimension (DLMF 13.6.10, 13.3.22), checked against SymPy's "
                     "Meijer G value to 30 digits",
                     Rel(Tex("k_1", ("k_n",)), k1,
                         note=Tex(rf"\approx {float(sp.N(k1, 15)):.12f}"))),
            Equation("Gaussian smoothing of a quartic loss (Isserlis)", [
                Rel(Tex(r"L(\theta)", ("theta",)), quartic),
                Rel(Tex(r"L_\sigma(\theta)", ("sigma", "theta")), gaussian_smoothed(quartic, t)),
            ]),
            Equation("its gradient by the score-function identity, equal to "
                     r"$\nabla L_\sigma$",
                     Rel(Tex(r"\frac{1}{\sigma} E[L(\theta + \sigma\varepsilon)\varepsilon]",
                             ("sigma", "theta", "epsilon")),
                         score_function_gradient(quartic, t)[0])),
        ],
        symbols=[
            Sym("x", "x", "the point, $|x|$ its norm in $n$ dimensions"),
            Sym("k_n", "k_n", r"the normalisation, $\int \phi = 1$"),
            Sym("n", "n", "the dimension"),
            Sym("I_n", "I_n", "the radial integral"),
            Sym("u", "u", "the radial variable after substitution"),
            Sym("U", "U", "Tricomi's confluent hypergeometric function (DLMF 13.2.6)"),
            Sym("theta", r"\theta", "the parameter"),
            Sym(r"a_(\d)", "a_{#1}", "a coefficient of the loss", generic="a_j"),
            Sym("sigma", r"\sigma", "the smoothing width"),
            Sym("epsilon", r"\varepsilon", "a standard normal variable"),
        ],
    )
