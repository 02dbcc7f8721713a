r"""Online linear regression (LMS), derived from its update rule.

Model (the linear readout of seed 000, and the textbook LMS filter):

* inputs :math:`x \sim N(0, R)`, teacher :math:`y = w_o\cdot x + \xi`,
  :math:`\xi \sim N(0, s^2)` independent of :math:`x`;
* update :math:`w \leftarrow w + \gamma\,(y - w\cdot x)\,x`.

**Convention.** This is the Widrow–Hoff form *without* the factor 2
(some texts write :math:`w \leftarrow w + 2\mu e x`; set :math:`\gamma = 2\mu`).
The learning rate is :math:`\gamma` and continuous time is :math:`t = \gamma n`.

Everything below is derived by SymPy from the rule with the Isserlis theorem
(:mod:`theory.wick`), never typed:

* drift :math:`\langle f\rangle = R(w_o - w)` and second moment
  :math:`\langle ff^\top\rangle = 2Rvv^\top R + (v^\top R v)R + s^2 R`, :math:`v = w_o - w`;
* the moment ODEs from the Kramers–Moyal engine (:mod:`theory.moments`) with the
  :math:`O(\gamma)` diffusion term; their stationary covariance is
  :math:`C = \tfrac{\gamma s^2}{2} I` and the small-:math:`\gamma` excess loss
  :math:`\tfrac{\gamma s^2}{2}\operatorname{tr}R`;
* the **exact** discrete-time recursion of :math:`K = E[(w-w_o)(w-w_o)^\top]`,

  .. math:: K' = K - \gamma(RK + KR) + \gamma^2\,(2RKR + \operatorname{tr}(RK)R) + \gamma^2 s^2 R,

  which uses :math:`E[xx^\top K xx^\top] = 2RKR + \operatorname{tr}(RK)R` for real Gaussian
  data; in the eigenbasis of :math:`R` its diagonal closes (modal form, below), and its
  fixed point gives the exact stationary excess loss
  :math:`\mathcal{E} = s^2 A/(1-A)`, :math:`A = \sum_i \gamma\lambda_i / (2(1-\gamma\lambda_i))`
  (Feuer & Weinstein 1985; Horowitz & Senne 1981), stable iff
  :math:`\gamma\lambda_{\max} < 1` and :math:`A < 1`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from theory.catalog import register_model
from theory.moments import MomentSystem, derive_moments
from theory.wick import gaussian_expectation

__all__ = [
    "LmsSymbols", "lms_symbols", "lms_update", "lms_drift", "lms_second_moment",
    "lms_moment_system", "exact_second_moment_map", "fourth_moment_identity",
    "ModalTheory", "modal_theory", "stationary_covariance_small_lr",
]

gamma = sp.Symbol("gamma", positive=True)
noise_var = sp.Symbol("s2", nonnegative=True)


@dataclass(frozen=True)
class LmsSymbols:
    """Symbols of the n-dimensional LMS model."""

    n: int
    x: tuple[sp.Symbol, ...]
    xi: sp.Symbol
    w: tuple[sp.Symbol, ...]
    w_o: tuple[sp.Symbol, ...]
    R: sp.ImmutableMatrix
    gamma: sp.Symbol
    s2: sp.Symbol

    @property
    def input_cov(self) -> sp.Matrix:
        """Covariance of the Gaussian vector (x, xi): block-diag(R, s2)."""
        n = self.n
        M = sp.zeros(n + 1, n + 1)
        M[:n, :n] = self.R
        M[n, n] = self.s2
        return M


@lru_cache(maxsize=16)
def lms_symbols(n: int, diagonal: bool = False) -> LmsSymbols:
    """Symbols for dimension ``n``; ``diagonal=True`` makes R = diag(lambda_i) (eigenbasis)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    x = sp.symbols(f"x0:{n}", real=True)
    w = sp.symbols(f"w0:{n}", real=True)
    w_o = sp.symbols(f"wo0:{n}", real=True)
    if diagonal:
        lam = sp.symbols(f"lambda0:{n}", positive=True)
        R = sp.ImmutableMatrix(sp.diag(*lam))
    else:
        R = sp.ImmutableMatrix(
            n, n, lambda i, j: sp.Symbol(f"R_{min(i, j)}_{max(i, j)}", real=True))
    return LmsSymbols(n, x, sp.Symbol("xi", real=True), w, w_o, R, gamma, noise_var)


def lms_update(sym: LmsSymbols) -> sp.Matrix:
    r"""The random update :math:`f = (y - w\cdot x)\,x` with :math:`y = w_o\cdot x + \xi`."""
    x = sp.Matrix(sym.x)
    y = (sp.Matrix(sym.w_o).T * x)[0, 0] + sym.xi
    e = y - (sp.Matrix(sym.w).T * x)[0, 0]
    return e * x


def _expect(expr, sym: LmsSymbols):
    return gaussian_expectation(expr, list(sym.x) + [sym.xi], sym.input_cov)


def lms_drift(sym: LmsSymbols) -> sp.Matrix:
    r""":math:`\langle f\rangle(w)`, derived by Isserlis; equals :math:`R(w_o - w)`."""
    return _expect(lms_update(sym), sym)


def lms_second_moment(sym: LmsSymbols) -> sp.Matrix:
    r""":math:`\langle f f^\top\rangle(w)`, derived by Isserlis."""
    f = lms_update(sym)
    return _expect(f * f.T, sym)


def lms_moment_system(
    n: int = 2, *, finite_lr: bool = True, diagonal: bool = False
) -> MomentSystem:
    """Moment ODEs of LMS from the Kramers–Moyal engine (learning rate symbol = gamma)."""
    sym = lms_symbols(n, diagonal)
    return derive_moments(lms_drift(sym), sym.w, lms_second_moment(sym), finite_lr=finite_lr,
                          eta=sym.gamma, name=f"LMS (n={n})")


def stationary_covariance_small_lr(n: int = 2, diagonal: bool = False) -> sp.Matrix:
    r"""Stationary covariance of the moment ODEs: :math:`\langle w\rangle = w_o`, :math:`dC/dt = 0`.

    Solved by SymPy from the engine's equations; the answer is
    :math:`\tfrac{\gamma s^2}{2} I` for any positive-definite R.
    """
    sym = lms_symbols(n, diagonal)
    system = lms_moment_system(n, diagonal=diagonal)
    at_target = dict(zip(sym.w, sym.w_o))
    mean = system.mean_rhs.subs(at_target)
    if sp.simplify(mean) != sp.zeros(n, 1):
        raise ArithmeticError("LMS mean flow does not vanish at w = w_o")
    C = system.covariance
    unknowns = sorted(C.free_symbols, key=lambda s: s.name)
    eqs = [e for e in system.cov_rhs.subs(at_target)]
    sol = sp.solve(eqs, unknowns, dict=True)
    if len(sol) != 1:
        raise ArithmeticError("stationary covariance is not unique")
    return sp.simplify(C.subs(sol[0]))


def fourth_moment_identity(n: int = 2) -> tuple[sp.Matrix, sp.Matrix]:
    r"""Both sides of :math:`E[xx^\top Kxx^\top] = 2RKR + \operatorname{tr}(RK)R` at dimension n.

    The left side is computed by Isserlis for a general symmetric K; tests check equality.
    """
    sym = lms_symbols(n)
    K = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"K_{min(i, j)}_{max(i, j)}", real=True))
    x = sp.Matrix(sym.x)
    lhs = _expect(x * x.T * K * x * x.T, sym)
    R = sp.Matrix(sym.R)
    rhs = (2 * R * K * R + (R * K).trace() * R).applyfunc(sp.expand)
    return lhs, rhs


def exact_second_moment_map(n: int = 2, diagonal: bool = False) -> tuple[sp.Matrix, sp.Matrix]:
    r"""Exact one-step map :math:`K \mapsto K'` of :math:`K = E[uu^\top]`, :math:`u = w - w_o`.

    Derived from the rule: :math:`u' = u + \gamma f` with f written in u, the expectation
    over (x, xi) taken by Isserlis, and every monomial :math:`u_i u_j` replaced by
    :math:`K_{ij}` (u is independent of the fresh input).  Returns ``(K, K')``.
    """
    sym = lms_symbols(n, diagonal)
    u = sp.symbols(f"u0:{n}", real=True)
    subs_w = {w: wo + ui for w, wo, ui in zip(sym.w, sym.w_o, u)}
    u_new = sp.Matrix(u) + sym.gamma * lms_update(sym).subs(subs_w)
    second = _expect((u_new * u_new.T).applyfunc(sp.expand), sym)
    K = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"K_{min(i, j)}_{max(i, j)}", real=True))
    repl = {}
    for i in range(n):
        for j in range(i, n):
            repl[u[i] * u[j]] = K[i, j]

    def to_K(e):
        poly = sp.Poly(sp.expand(e), *u)
        out = sp.S.Zero
        for exps, coeff in poly.terms():
            deg = sum(exps)
            if deg == 0:
                out += coeff
            elif deg == 2:
                idx = [i for i, k in enumerate(exps) for _ in range(k)]
                out += coeff * K[idx[0], idx[1]]
            else:
                raise ArithmeticError(f"unexpected u-degree {deg} in the second-moment map")
        return sp.expand(out)

    return K, second.applyfunc(to_K)


@dataclass(frozen=True)
class ModalTheory:
    r"""Per-eigenmode LMS theory in the eigenbasis of R (λ: eigenvalue, k: diagonal of K).

    * ``step``: :math:`k' = F(k, \lambda, S)` with :math:`S = \sum_j \lambda_j k_j`
      (the excess loss), the exact discrete map;
    * ``alpha``: stationary :math:`k^*/(S^* + s^2)` per mode, so that
      :math:`S^* = s^2 A/(1-A)` with :math:`A = \sum_i \lambda_i\alpha_i` (``closure``);
    * ``small_lr_cov``: the stationary per-mode variance of the moment ODEs (engine).
    """

    lam: sp.Symbol
    k: sp.Symbol
    S: sp.Symbol
    A: sp.Symbol
    gamma: sp.Symbol
    s2: sp.Symbol
    step: sp.Expr
    alpha: sp.Expr
    closure: sp.Expr
    small_lr_cov: sp.Expr


@lru_cache(maxsize=1)
def modal_theory() -> ModalTheory:
    """Derive the modal form from the n=3 diagonal exact map and the engine's stationary state.

    The (0,0) entry of the exact map is rewritten with ``S = sum_j lambda_j K_jj``; the
    derivation checks that no other mode's variable survives, i.e. that the modal map
    closes.
    """
    n = 3
    sym = lms_symbols(n, diagonal=True)
    K, Kn = exact_second_moment_map(n, diagonal=True)
    lam = sp.Symbol("lambda", positive=True)
    k = sp.Symbol("k", nonnegative=True)
    S = sp.Symbol("S", nonnegative=True)
    A = sp.Symbol("A", positive=True)
    lams = [sym.R[i, i] for i in range(n)]
    e = Kn[0, 0].subs(K[1, 1], (S - lams[0] * K[0, 0] - lams[2] * K[2, 2]) / lams[1])
    e = sp.expand(e).subs({lams[0]: lam, K[0, 0]: k})
    e = sp.collect(sp.expand(e), [k, S])
    leftover = e.free_symbols - {lam, k, S, sym.gamma, sym.s2}
    if leftover:
        raise ArithmeticError(f"modal LMS map does not close: depends on {leftover}")
    k_star = sp.solve(sp.Eq(k, e), k)[0]
    alpha = sp.factor(sp.simplify(k_star / (S + sym.s2)))
    if alpha.has(S):
        raise ArithmeticError("stationary modal variance is not proportional to S + s2")
    S_star = sp.solve(sp.Eq(S, A * (S + sym.s2)), S)[0]
    c = stationary_covariance_small_lr(2, diagonal=True)
    small = sp.simplify(c[0, 0])
    return ModalTheory(lam=lam, k=k, S=S, A=A, gamma=sym.gamma, s2=sym.s2, step=e,
                       alpha=alpha, closure=sp.simplify(S_star), small_lr_cov=small)


@register_model("lms", "online linear regression / LMS: moment ODEs and exact discrete recursion")
def lms_latex() -> str:
    """LaTeX of the LMS derivation: moment system (n = 2), exact map and modal results."""
    system = lms_moment_system(2)
    mt = modal_theory()
    K, Kn = exact_second_moment_map(2)
    out = [
        r"% LMS: w <- w + gamma (y - w.x) x,  x ~ N(0,R),  y = w_o.x + xi,  xi ~ N(0, s2)",
        r"% drift <f>(w) and moment ODEs (Kramers-Moyal engine, n = 2, finite learning rate)",
        r"\langle f\rangle = " + sp.latex(system.drift),
        system.latex(),
        r"% exact second-moment map K -> K' (n = 2)",
        r"K' = " + sp.latex(Kn),
        r"% modal form in the eigenbasis of R, S = \sum_j \lambda_j k_j",
        r"k' = " + sp.latex(mt.step),
        r"k^* = (S^*+s^2)\," + sp.latex(mt.alpha) + r",\qquad S^* = " + sp.latex(mt.closure),
        r"% small-learning-rate stationary variance per mode (moment ODEs)",
        r"c^* = " + sp.latex(mt.small_lr_cov),
    ]
    return "\n".join(out)
