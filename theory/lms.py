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

from theory.latex import Equation, LatexModel, Rel, Sym, Tex, positive_form, register_latex
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


def _lms_latex_model() -> LatexModel:
    """The LMS derivation for ``learndyn latex lms``: drift, moment ODEs (n = 2), exact map
    (n = 2), modal form and stationary state."""
    n = 2
    sym = lms_symbols(n)
    system = lms_moment_system(n)
    mt = modal_theory()
    K, Kn = exact_second_moment_map(n)
    t = sp.Symbol("t", positive=True)
    v = sp.symbols(f"v0:{n}", real=True)
    # mean weight error v = w_o - <w>: the moment equations in v are much shorter
    to_v = {w: wo - vi for w, wo, vi in zip(sym.w, sym.w_o, v)}
    drift = [sp.collect(sp.expand(sym.R.row(i).dot(sp.Matrix(sym.w_o) - sp.Matrix(sym.w))),
                        list(sym.R.free_symbols)) for i in range(n)]
    if any(sp.expand(d - system.drift[i, 0]) != 0 for i, d in enumerate(drift)):
        raise ArithmeticError("LMS drift is not R (w_o - w)")
    mean = [Rel(Tex(rf"\frac{{d\langle w_{{{i}}}\rangle}}{{dt}}", (f"w{i}", "t")),
                sp.expand(system.mean_rhs[i, 0].xreplace(to_v))) for i in range(n)]
    cov = [Rel(sp.Derivative(system.covariance[i, j], t),
               sp.expand(system.cov_rhs[i, j].xreplace(to_v)))
           for i in range(n) for j in range(i, n)]
    kmap = [Rel(Tex(f"K'_{{{i}{j}}}", (f"K_{i}_{j}",)), sp.expand(Kn[i, j]))
            for i in range(n) for j in range(i, n)]
    S_star = sp.Symbol("S_star", nonnegative=True)
    k_star = positive_form(mt.alpha * (S_star + mt.s2))
    if sp.simplify(k_star - mt.alpha * (S_star + mt.s2)) != 0:
        raise ArithmeticError("positive_form changed the value of k*")
    return LatexModel(
        title="Online linear regression (LMS)",
        summary=r"Update $w \leftarrow w + \gamma\,(y - w\cdot x)\,x$ (Widrow--Hoff without the "
                r"factor 2) on inputs $x \sim N(0, R)$ with teacher $y = w_o\cdot x + \xi$, "
                r"$\xi \sim N(0, s^2)$; continuous time $t = \gamma \times$ updates. "
                "Every expression below is derived by SymPy from the rule (Isserlis theorem, "
                "Kramers--Moyal moment engine), shown for $n = 2$ weights.",
        source="the exact recursion and its fixed point: Feuer and Weinstein (1985), "
               "Horowitz and Senne (1981); moment equations: Schmid and Murray, eqs. (10)-(11)",
        equations=[
            Equation("Drift of the update (expectation over $x$ and $\\xi$):",
                     [Rel(Tex(rf"\langle f_{{{i}}}\rangle", ("f",)), d)
                      for i, d in enumerate(drift)]),
            Equation("Moment equations of the ensemble, with the $O(\\gamma)$ diffusion term:",
                     mean + cov),
            Equation("Exact one-step map of the second moments of the weight error "
                     "$w - w_o$:", kmap),
            Equation("Modal form in the eigenbasis of $R$ (one mode with eigenvalue "
                     "$\\lambda$; the map closes through $S$):",
                     Rel(Tex("k'", ("k",)), mt.step)),
            Equation("Stationary state of the exact map (stable iff "
                     "$\\gamma\\lambda_{\\max} < 1$ and $A < 1$):",
                     [Rel(Tex("k^*", ("k",)), k_star),
                      Rel(S_star, positive_form(mt.closure))]),
            Equation("Small-learning-rate limit: stationary variance per mode of the moment "
                     "equations,", Rel(Tex("c^*", ("c",)), mt.small_lr_cov)),
        ],
        symbols=[
            Sym("gamma", r"\gamma", "the learning rate"),
            Sym("s2", "s^2", "the variance of the output noise $\\xi$"),
            Sym("f", "f", r"the update direction $(y - w\cdot x)\,x$"),
            Sym(r"w(\d+)", "w_{#1}", "the weights", generic="w_i"),
            Sym(r"wo(\d+)", "w_{o,#1}", "the teacher's weights", generic="w_{o,i}"),
            Sym(r"R_(\d+)_(\d+)", "R_{#1#2}", "the input covariance $E[x_ix_j]$",
                generic="R_{ij}"),
            Sym("t", "t", "continuous time ($\\gamma$ times the number of updates)"),
            Sym(r"v(\d+)", "v_{#1}", r"$= w_{o,i} - \langle w_i\rangle$, the mean weight error",
                generic="v_i"),
            Sym(r"C_(\d+)_(\d+)", "C_{#1#2}", "the covariance of the weights over the ensemble "
                "of learners", generic="C_{ij}"),
            Sym(r"K_(\d+)_(\d+)", "K_{#1#2}", "$= E[(w - w_o)_i(w - w_o)_j]$ before an "
                "update ($K'$ after it)", generic="K_{ij}"),
            Sym("k", "k", "the second moment of the weight error along the mode (a diagonal "
                "entry of $K$ in the eigenbasis; $k'$ after an update, $k^*$ stationary)"),
            Sym("lambda", r"\lambda", "the eigenvalue of $R$ of that mode"),
            Sym("S", "S", r"$= \sum_j \lambda_j k_j$, the excess loss "
                r"$E[(w - w_o)^\top R\,(w - w_o)]$"),
            Sym("S_star", "S^*", "the stationary excess loss"),
            Sym("A", "A", r"$= \sum_i \gamma\lambda_i / (2(1 - \gamma\lambda_i))$"),
            Sym("c", "c", "the stationary variance of one mode as $\\gamma \\to 0$"),
        ],
    )


@register_latex("lms", "online linear regression / LMS: moment ODEs and exact discrete recursion")
def lms_latex() -> LatexModel:
    """LaTeX of the LMS derivation: moment system (n = 2), exact map and modal results."""
    return _lms_latex_model()
