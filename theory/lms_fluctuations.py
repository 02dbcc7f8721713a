r"""Exact fluctuations of online LMS: the fourth-moment recursion of the weight error.

The LMS learning curve :math:`E[\mathcal{E}_k]`, :math:`\mathcal{E} = v^\top R v`,
:math:`v = w - w_o`, closes on the diagonal :math:`k_i = E[v_i^2]` in the eigenbasis of R
(:mod:`theory.lms`).  Judging a simulation of it needs the *spread* of
:math:`\mathcal{E}_k` over learners, :math:`\operatorname{Var}\mathcal{E}_k =
\sum_{ij}\lambda_i\lambda_j m_{ij} - (\sum_i \lambda_i k_i)^2` with
:math:`m_{ij} = E[v_i^2 v_j^2]`.  Near the mean-square stability bound the excess loss of
a single learner is heavy-tailed (the product of random matrices :math:`I-\gamma xx^\top`
gives a power-law tail), so the sample standard deviation of a few hundred learners is a
poor estimate of it; this module derives :math:`m_{ij}` exactly.

Derivation (SymPy, from the rule, by Isserlis).  With :math:`x_k = \sqrt{\lambda_k} z_k`,
the update is :math:`v_i' = v_i + \gamma x_i(\xi - x\cdot v)`.  Because the map is
equivariant under :math:`(v_k, z_k) \to (-v_k, -z_k)`,
:math:`E[v_i'^2 v_j'^2 \mid v]` contains only even powers of every :math:`v_k`; all modes
other than i, j and the teacher noise enter through one scalar,

.. math:: T_{ij} = \sum_{k\ne i,j} \lambda_k v_k^2 + s^2 ,

so that (:func:`fourth_moment_map`, derived at n = 4 and checked to close)

.. math::
   E[v_i'^2 v_j'^2\mid v] = a(\lambda_i,\lambda_j) v_i^4 + a(\lambda_j,\lambda_i) v_j^4
      + c(\lambda_i,\lambda_j) v_i^2 v_j^2 + b(\lambda_i,\lambda_j) v_i^2 T_{ij}
      + b(\lambda_j,\lambda_i) v_j^2 T_{ij} + 3\gamma^4\lambda_i\lambda_j T_{ij}^2 ,

   E[v_i'^4\mid v] = d(\lambda_i) v_i^4 + 6\gamma^2\lambda_i e(\lambda_i) v_i^2 T_i
      + 9\gamma^4\lambda_i^2 T_i^2, \qquad T_i = \sum_{k\ne i}\lambda_k v_k^2 + s^2,

with :math:`a = \gamma^2\lambda_i\lambda_j(15\gamma^2\lambda_i^2 - 6\gamma\lambda_i + 1)`,
:math:`d(\lambda) = E(1-\gamma\lambda z^2)^4 = 1 - 4u + 18u^2 - 60u^3 + 105u^4`
(:math:`u = \gamma\lambda`), and so on (printed by ``learndyn latex lms-fluctuations``).
Taking expectations turns the right sides into linear combinations of :math:`m_{ij}` and
:math:`k_i`: the recursion of the even fourth moments is closed and exact, O(n^2) per
update.  Its homogeneous part (s = 0) decides whether :math:`\operatorname{Var}\mathcal{E}`
stays finite: the *fourth-moment stability bound* lies below the mean-square bound
(n = 1: :math:`\gamma\lambda < 0.384` against :math:`2/3`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from theory.latex import Equation, LatexModel, Rel, Sym, Tex, register_latex
from theory.lms import lms_symbols, lms_update
from theory.wick import gaussian_expectation

__all__ = ["FourthMomentMap", "fourth_moment_map"]


@dataclass(frozen=True)
class FourthMomentMap:
    r"""One exact LMS update of the even fourth moments (module docstring).

    ``off_diagonal``: :math:`E[v_i'^2 v_j'^2\mid v]` as a polynomial in ``vi, vj, T``
    (T = :math:`T_{ij}`) with eigenvalues ``li, lj``; ``diagonal``: :math:`E[v_i'^4\mid v]`
    in ``vi, T`` (T = :math:`T_i`).  ``off_coeffs`` and ``diag_coeffs`` map the monomials
    (``"vi4", "vj4", "vi2vj2", "vi2T", "vj2T", "T2"``; ``"vi4", "vi2T", "T2"``) to their
    coefficients, functions of ``li, lj, gamma``.
    """

    vi: sp.Symbol
    vj: sp.Symbol
    T: sp.Symbol
    li: sp.Symbol
    lj: sp.Symbol
    gamma: sp.Symbol
    off_diagonal: sp.Expr
    diagonal: sp.Expr
    off_coeffs: dict
    diag_coeffs: dict


def _conditional_moment(n: int, powers: dict[int, int]) -> tuple[sp.Expr, object, tuple]:
    """E[prod_i v_i'^{p_i} | v] at dimension n, diagonal R, by Isserlis over (x, xi)."""
    sym = lms_symbols(n, diagonal=True)
    v = sp.symbols(f"v0:{n}", real=True)
    subs_w = {w: wo + vi for w, wo, vi in zip(sym.w, sym.w_o, v)}
    v_new = [v[i] + sym.gamma * lms_update(sym)[i].subs(subs_w) for i in range(n)]
    expr = sp.Integer(1)
    for i, p in powers.items():
        expr *= v_new[i] ** p
    cov = sym.input_cov
    return gaussian_expectation(sp.expand(expr), list(sym.x) + [sym.xi], cov), sym, v


def _fold_into_T(expr, sym, v, keep: list[int], T: sp.Symbol):
    """Rewrite with T = sum_{k not in keep} lambda_k v_k^2 + s2; check nothing else is left."""
    n = len(v)
    rest = [k for k in range(n) if k not in keep]
    lam = [sym.R[k, k] for k in range(n)]
    # eliminate the first "rest" mode's square through T
    k0 = rest[0]
    other = sum(lam[k] * v[k] ** 2 for k in rest[1:]) + sym.s2
    e = sp.expand(expr).subs(v[k0] ** 2, (T - other) / lam[k0])
    e = sp.expand(e)
    leftover = (e.free_symbols & ({v[k] for k in rest} | {lam[k] for k in rest} | {sym.s2}))
    if leftover:
        raise ArithmeticError(f"the fourth-moment map does not close through T: {leftover}")
    return e


@lru_cache(maxsize=1)
def fourth_moment_map() -> FourthMomentMap:
    """Derive the exact even fourth-moment map (module docstring) and check its closure."""
    T = sp.Symbol("T", nonnegative=True)
    off, sym, v = _conditional_moment(4, {0: 2, 1: 2})
    off = _fold_into_T(off, sym, v, [0, 1], T)
    diag, sym3, v3 = _conditional_moment(3, {0: 4})
    diag = _fold_into_T(diag, sym3, v3, [0], T)
    vi, vj = sp.symbols("v_i v_j", real=True)
    li, lj = sp.symbols("lambda_i lambda_j", positive=True)
    g = sym.gamma
    off = sp.expand(off.subs({v[0]: vi, v[1]: vj, sym.R[0, 0]: li, sym.R[1, 1]: lj}))
    diag = sp.expand(diag.subs({v3[0]: vi, sym3.R[0, 0]: li}))
    poly = sp.Poly(off, vi, vj, T)
    names = {(4, 0, 0): "vi4", (0, 4, 0): "vj4", (2, 2, 0): "vi2vj2", (2, 0, 1): "vi2T",
             (0, 2, 1): "vj2T", (0, 0, 2): "T2"}
    off_coeffs = {}
    for mon, c in poly.terms():
        if mon not in names:
            raise ArithmeticError(f"unexpected monomial {mon} in E[v_i'^2 v_j'^2 | v]")
        off_coeffs[names[mon]] = sp.factor(c)
    dpoly = sp.Poly(diag, vi, T)
    dnames = {(4, 0): "vi4", (2, 1): "vi2T", (0, 2): "T2"}
    diag_coeffs = {}
    for mon, c in dpoly.terms():
        if mon not in dnames:
            raise ArithmeticError(f"unexpected monomial {mon} in E[v_i'^4 | v]")
        diag_coeffs[dnames[mon]] = sp.factor(c)
    return FourthMomentMap(vi=vi, vj=vj, T=T, li=li, lj=lj, gamma=g, off_diagonal=off,
                           diagonal=diag, off_coeffs=off_coeffs, diag_coeffs=diag_coeffs)


@register_latex("lms-fluctuations", "online LMS: exact fourth-moment recursion (the spread of "
                "the excess loss over learners) and its stability")
def fourth_moment_latex() -> LatexModel:
    """The exact even fourth-moment map for ``learndyn latex lms-fluctuations``."""
    fm = fourth_moment_map()
    mono = {"vi4": fm.vi**4, "vj4": fm.vj**4, "vi2vj2": fm.vi**2 * fm.vj**2,
            "vi2T": fm.vi**2 * fm.T, "vj2T": fm.vj**2 * fm.T, "T2": fm.T**2}

    def terms(coeffs):  # factored coefficients; the one that does not factor, expanded
        parts = []
        for k, c in coeffs.items():
            f = sp.factor(c)
            parts += (list(sp.expand(c * mono[k]).args) if isinstance(f, sp.Add)
                      else [sp.Mul(f, mono[k], evaluate=False)])
        return sp.Add(*parts, evaluate=False)

    off = Rel(Tex(r"E[v_i'^2 v_j'^2 \mid v]", ("v_i", "v_j")), terms(fm.off_coeffs))
    diag = Rel(Tex(r"E[v_i'^4 \mid v]", ("v_i",)), terms(fm.diag_coeffs))
    return LatexModel(
        title="Exact fluctuations of online LMS (fourth moments)",
        summary=r"Update $w \leftarrow w + \gamma\,(y - w\cdot x)\,x$ on $x \sim N(0, R)$, "
                r"$y = w_o\cdot x + \xi$, $\xi\sim N(0, s^2)$; weight error $v = w - w_o$ in "
                r"the eigenbasis of $R$.  Derived by SymPy from the rule (Isserlis theorem at "
                r"$n = 4$ and $n = 3$); all other modes and the output noise enter through "
                r"one scalar $T$, so the recursion of $m_{ij} = E[v_i^2v_j^2]$ closes, and "
                r"$\operatorname{Var}[v^\top R v] = \sum_{ij}\lambda_i\lambda_j m_{ij} - "
                r"(\sum_i \lambda_i E[v_i^2])^2$.",
        source="derived here; the mean-square recursion it extends: Feuer and Weinstein (1985)",
        equations=[
            Equation(r"Two different modes $i \ne j$, with "
                     r"$T = \sum_{k\ne i,j}\lambda_k v_k^2 + s^2$:", off),
            Equation(r"One mode, with $T = \sum_{k\ne i}\lambda_k v_k^2 + s^2$:", diag),
        ],
        symbols=[
            Sym("gamma", r"\gamma", "the learning rate"),
            Sym("v_i", "v_i", "the weight error along eigenvector $i$ of $R$ before an update "
                "($v_i'$ after it)"),
            Sym("v_j", "v_j", "the weight error along eigenvector $j$"),
            Sym("lambda_i", r"\lambda_i", "the eigenvalue of $R$ of mode $i$"),
            Sym("lambda_j", r"\lambda_j", "the eigenvalue of mode $j$"),
            Sym("T", "T", r"the variance of the rest of the error signal $\xi - x\cdot v$ "
                "given $v$: the other modes weighted by their eigenvalues, plus $s^2$"),
        ],
    )
