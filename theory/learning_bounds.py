r"""Fundamental bounds on learning (Raman, Rotondo & O'Leary, PNAS 116:10537, 2019).

Everything below is derived by SymPy in this module; nothing is typed from the paper.

**1. The learning rate of one cycle.**  Weights :math:`w` receive error feedback at
:math:`t = 0` and none until :math:`t = T`; with the cycle's weight velocity
:math:`\dot w = (w(T) - w(0))/T` the learning rate :math:`k` is defined by
:math:`F[w(T)] = (1 - kT)\,F[w(0)]` (paper eq. 2).  Taylor expansion of
:math:`F(w + T\dot w)` gives (paper eq. 3)

.. math:: k = -\frac{1}{F}\Big[\nabla F\cdot\dot w + \frac{T}{2}\,\dot w^\top H\dot w\Big]
          + O(T^2),

exact when :math:`F` is quadratic, and in normalised form, with
:math:`G = |\nabla F|`, :math:`\hat g = \nabla F/G`, :math:`\hat w = \dot w/|\dot w|` and the
*local task difficulty* :math:`G_F(\hat w) = \hat w^\top H\hat w / (2G)` (paper eq. 4),

.. math:: k = -\frac{G}{F}\Big[\hat g\cdot\dot w + T\,|\dot w|^2\,G_F(\hat w)\Big].

**2. Three plasticity components** (paper eq. 5): task-relevant plasticity along the
negative gradient, task-irrelevant plasticity and synaptic noise along independent,
uniformly random unit vectors :math:`\hat n_2, \hat n_3`,

.. math:: \dot w = -\gamma_1\hat g + \gamma_2\hat n_2 + \gamma_3\sqrt{N/T}\,\hat n_3 .

With the isotropic moments of :mod:`theory.sphere_moments` the expectation over the
random directions is (paper eq. 6; the slides of the seed garble the first term)

.. math:: \langle k\rangle = \frac{G}{F}\gamma_1 - \frac{T}{2F}\Big[\gamma_1^2\kappa
          + \Big(\frac{\gamma_2^2}{N} + \frac{\gamma_3^2}{T}\Big)\tau\Big],\qquad
          \kappa = \hat g^\top H\hat g,\ \tau = \operatorname{tr}H,

:math:`\langle|\dot w|^2\rangle = \gamma_1^2 + \gamma_2^2 + \gamma_3^2 N/T`, and the variance
of :math:`k` over the directions (needed to judge simulations; it also involves
:math:`\theta = \operatorname{tr}H^2` and :math:`\eta = \hat g^\top H^2\hat g`).  Both are
exact for quadratic :math:`F`.  With the expected local task difficulty
:math:`\bar G_F = \langle\dot w^\top H\dot w\rangle / (2G\langle|\dot w|^2\rangle)` the
**learning condition** is

.. math:: \langle k\rangle > 0 \iff \bar G_F < \frac{\gamma_1}{T\,\langle|\dot w|^2\rangle}.

**3. Enlarging a linear network exactly.**  The linear student :math:`y = Wx`
(:math:`o\times i`, :math:`F = \tfrac12\langle|y^* - Wx|^2\rangle` over a fixed input sample,
input second moment :math:`\Sigma`) is embedded in a student with :math:`c_1 i` inputs
:math:`x' = Bx` and :math:`c_2 o` outputs whose targets are :math:`Dy^*`
(:math:`B^\top B = I`, :math:`D^\top D = I`; this is how the authors' public code
``raman_etal_2018/pieces_new_resub.py`` builds its larger linear networks), started at
:math:`W' = DWB^\top`, so that :math:`W = D^\top W'B` and both compute the same function.
Its Hessian is :math:`H' = (B\Sigma B^\top)\otimes I_{c_2o}` and its gradient
:math:`\nabla F' = D\,\nabla F\,B^\top`, hence (:func:`verify_embedding` checks it
symbolically)

.. math:: F' = F,\quad G' = G,\quad \kappa' = \kappa,\quad \operatorname{tr}H' = c_2
          \operatorname{tr}H,\qquad N' = c_1c_2\,io .

The gradient-projected curvature does **not** grow: the gradient lies in the image of the
embedding, on which :math:`H'` acts as :math:`H`.  The slides instead assume that "the
gradient projects equally onto Hessian eigenvectors", :math:`\kappa'\propto c_2`
(:func:`size_scaling` with ``variant="slides"``).  Growing inputs as
:math:`c_1 = (N/N_0)^a` and outputs as :math:`c_2 = (N/N_0)^{1-a}`,

.. math:: \langle k\rangle(N) = \frac{G}{F}\gamma_1 - \frac{T}{2F}\Big[\gamma_1^2\kappa
          + \Big(\frac{\gamma_2^2}{N} + \frac{\gamma_3^2}{T}\Big)\Big(\frac{N}{N_0}\Big)^{1-a}
          \tau_0\Big],

maximised at

.. math:: N^* = \frac{a}{1-a}\,\frac{T\gamma_2^2}{\gamma_3^2}
          \quad\Big(= \frac{T\gamma_2^2}{\gamma_3^2}\ \text{for}\ a = \tfrac12\Big),

independent of :math:`\gamma_1`, of the task and of the base size; the second derivative
there is negative (a maximum).  No interior optimum: :math:`\gamma_2 = 0` (``<k>`` falls
with N everywhere, :math:`N^* \to 0`), :math:`\gamma_3 = 0` (``<k>`` rises for ever,
:math:`N^*\to\infty`), and :math:`N^* < N_0` (an embedding can only grow, so the base
network is best).  The slides' variant gives
:math:`N^*_{\text{slides}} = \frac{a}{1-a}\,T\gamma_2^2/(\gamma_3^2 + T\gamma_1^2\kappa_0/\tau_0)`.

**4. Fitted scalings.**  For sigmoid students enlarged by zero-initialised hidden units
the function is unchanged (:math:`F` fixed) but :math:`G`, :math:`\kappa`,
:math:`\operatorname{tr}H` grow; with measured power laws
:math:`X(N) = X_0 (N/N_0)^{p_X}` the same :math:`\langle k\rangle(N)` gives a stationarity
equation (:func:`fitted_size_theory`) whose root is :math:`N^*` (the exponents are fitted,
the rest is derived).

**5. Stationary state of an embedded linear student** (mean-field, used to draw the
steady-state loss): per eigenmode :math:`j` of :math:`\Sigma` (eigenvalue :math:`\lambda_j`,
squared error :math:`s_j` summed over the :math:`c_2o` output rows), the exact one-cycle
drift of :math:`s_j` given the state is
:math:`-2\epsilon\lambda_js_j + \epsilon^2\lambda_j^2s_j + c_2o\sigma^2` with
:math:`\epsilon = \gamma_1T/G` and per-weight noise variance
:math:`\sigma^2 = T^2\gamma_2^2/N + T\gamma_3^2`; setting it to zero with :math:`G` replaced by
its stationary value gives :math:`s_j` and a closure for :math:`G` (:func:`mean_field_stationary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from theory.latex import Equation, LatexModel, Rel, Sym, Tex, positive_form, register_latex
from theory.sphere_moments import (
    FIXED,
    INVARIANTS,
    Poly,
    bilinear,
    sphere_expectation,
    vector,
)

__all__ = [
    "SYMBOLS", "Symbols", "CycleRate", "cycle_rate", "ThreeComponent", "three_component",
    "verify_embedding", "EmbeddingScaling", "embedding_scaling", "SizeTheory", "size_scaling",
    "FittedSizeTheory", "fitted_size_theory", "MeanField", "mean_field_stationary",
    "stationarity_polynomial", "learning_bounds_latex",
]


@dataclass(frozen=True)
class Symbols:
    """Symbols of the learning-bound theory."""

    T: sp.Symbol  # cycle length (time between error feedback)
    F: sp.Symbol  # loss at the start of the cycle
    G: sp.Symbol  # gradient norm |grad F|
    gamma1: sp.Symbol  # task-relevant plasticity (along -grad)
    gamma2: sp.Symbol  # task-irrelevant plasticity (random direction)
    gamma3: sp.Symbol  # synaptic noise (random direction, scaled by sqrt(N/T))
    N: sp.Symbol  # number of weights
    kappa: sp.Symbol  # g_hat.H.g_hat
    tau: sp.Symbol  # tr H
    theta: sp.Symbol  # tr H^2
    eta: sp.Symbol  # g_hat.H^2.g_hat
    GF: sp.Symbol  # local task difficulty
    N0: sp.Symbol  # base network size
    a: sp.Symbol  # input exponent: c1 = (N/N0)^a
    kappa0: sp.Symbol
    tau0: sp.Symbol


SYMBOLS = Symbols(
    T=sp.Symbol("T", positive=True),
    F=sp.Symbol("F", positive=True),
    G=sp.Symbol("G", positive=True),
    gamma1=sp.Symbol("gamma_1", nonnegative=True),
    gamma2=sp.Symbol("gamma_2", nonnegative=True),
    gamma3=sp.Symbol("gamma_3", nonnegative=True),
    N=INVARIANTS.N,
    kappa=INVARIANTS.kappa,
    tau=INVARIANTS.tau,
    theta=INVARIANTS.theta,
    eta=INVARIANTS.eta,
    GF=sp.Symbol("G_F", real=True),
    N0=sp.Symbol("N_0", positive=True),
    a=sp.Symbol("a", positive=True),
    kappa0=sp.Symbol("kappa_0", nonnegative=True),
    tau0=sp.Symbol("tau_0", positive=True),
)


# --------------------------------------------------------------------------------------
# 1. k over one cycle
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CycleRate:
    r"""The learning rate of one cycle.

    ``exact_taylor``: :math:`k` solved from :math:`(1-kT)F = F(w+T\dot w)` with the
    Taylor series of :math:`F` along the line to third order (``p, q, c`` are the first,
    second and third directional derivatives); ``second_order``: the :math:`O(T)` truncation
    :math:`-(p + Tq/2)/F`; ``normalised``: the same in :math:`G`, :math:`\hat g\cdot\dot w`
    (``gw``), :math:`|\dot w|^2` (``w2``) and :math:`G_F`; ``quadratic_residual``: exact k of
    a quadratic loss in dimension 3 minus the second-order formula (identically 0).
    """

    p: sp.Symbol
    q: sp.Symbol
    c: sp.Symbol
    gw: sp.Symbol
    w2: sp.Symbol
    exact_taylor: sp.Expr
    second_order: sp.Expr
    normalised: sp.Expr
    quadratic_residual: sp.Expr


@lru_cache(maxsize=1)
def cycle_rate() -> CycleRate:
    """Derive k over one cycle (paper eqs. 2-4)."""
    S = SYMBOLS
    k, s = sp.symbols("k s", real=True)
    p, q, c = sp.symbols("p q c", real=True)
    phi = sp.Function("phi")  # F along the line w(0) + s * wdot
    taylor = sum(phi(s).diff(s, m).subs(s, 0) * S.T**m / sp.factorial(m) for m in range(4))
    taylor = taylor.subs({phi(s).diff(s, 3).subs(s, 0): c, phi(s).diff(s, 2).subs(s, 0): q,
                          phi(s).diff(s).subs(s, 0): p, phi(0): S.F})
    k_exact = sp.solve(sp.Eq((1 - k * S.T) * S.F, taylor), k)[0]
    k2 = sp.expand(sp.series(k_exact, S.T, 0, 2).removeO())
    # normalised form: p = G (g_hat . wdot), q = |wdot|^2 * 2 G * G_F
    gw, w2 = sp.symbols("gw w2", real=True)
    normalised = sp.factor(k2.subs({p: S.G * gw, q: w2 * 2 * S.G * S.GF}))
    # exactness for a quadratic loss: F(w) = F0 + g.(w-w0) + (w-w0)^T H (w-w0)/2 in dim 3
    g = sp.Matrix(sp.symbols("g0:3", real=True))
    wd = sp.Matrix(sp.symbols("v0:3", real=True))
    H = sp.Matrix(3, 3, lambda i, j: sp.Symbol(f"H_{min(i, j)}{max(i, j)}", real=True))
    step = S.T * wd
    F_end = S.F + (g.T * step)[0] + (step.T * H * step)[0] / 2
    k_quad = sp.solve(sp.Eq((1 - k * S.T) * S.F, F_end), k)[0]
    resid = sp.simplify(k_quad - k2.subs({p: (g.T * wd)[0], q: (wd.T * H * wd)[0]}))
    return CycleRate(p=p, q=q, c=c, gw=gw, w2=w2, exact_taylor=sp.expand(k_exact),
                     second_order=k2, normalised=normalised, quadratic_residual=resid)


# --------------------------------------------------------------------------------------
# 2. three components: mean and variance of k over random directions
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ThreeComponent:
    r"""Moments of the one-cycle k over the random directions :math:`\hat n_2, \hat n_3`.

    ``mean_k``, ``var_k``: exact for quadratic F (second-order formula otherwise);
    ``var_L``, ``cov_LQ``, ``var_Q``: the pieces of
    :math:`F^2\operatorname{Var}k = G^2\operatorname{Var}L + GT\operatorname{Cov}(L, Q)
    + \tfrac{T^2}{4}\operatorname{Var}Q` with :math:`L = \hat g\cdot\dot w`,
    :math:`Q = \dot w^\top H\dot w`;
    ``mean_w2`` :math:`\langle|\dot w|^2\rangle`, ``var_w2`` its variance;
    ``mean_curv`` :math:`\langle\dot w^\top H\dot w\rangle`;
    ``difficulty`` the expected local task difficulty :math:`\bar G_F`;
    ``threshold`` :math:`\gamma_1/(T\langle|\dot w|^2\rangle)`, the value of
    :math:`\bar G_F` at which :math:`\langle k\rangle = 0`; ``mean_k_normalised``
    :math:`\langle k\rangle` written with :math:`\bar G_F` (symbol ``G_F``).
    """

    mean_k: sp.Expr
    var_k: sp.Expr
    var_L: sp.Expr
    cov_LQ: sp.Expr
    var_Q: sp.Expr
    mean_w2: sp.Expr
    var_w2: sp.Expr
    mean_curv: sp.Expr
    difficulty: sp.Expr
    threshold: sp.Expr
    mean_k_normalised: sp.Expr


def wdot_form() -> dict[str, sp.Expr]:
    r""":math:`\dot w = -\gamma_1\hat g + \gamma_2\hat n_2 + \gamma_3\sqrt{N/T}\,\hat n_3`."""
    S = SYMBOLS
    return {FIXED: -S.gamma1, "n2": S.gamma2, "n3": S.gamma3 * sp.sqrt(S.N / S.T)}


@lru_cache(maxsize=1)
def three_component() -> ThreeComponent:
    """Derive <k>, Var k, <|wdot|^2> and the learning condition (paper eqs. 5-7)."""
    S = SYMBOLS
    wd = wdot_form()
    L = bilinear(vector(FIXED), wd, 0)  # g_hat . wdot
    Q = bilinear(wd, wd, 1)  # wdot^T H wdot
    W2 = bilinear(wd, wd, 0)  # |wdot|^2
    X: Poly = L * S.G + Q * (S.T / 2)  # -F k
    rnd = ("n2", "n3")

    def E(P):
        return sphere_expectation(P, rnd)

    mean_X = E(X)
    var_X = sp.factor(sp.expand(E(X * X) - mean_X**2))
    eL, eQ = E(L), E(Q)
    var_L = sp.factor(sp.expand(E(L * L) - eL**2))
    cov_LQ = sp.factor(sp.expand(E(L * Q) - eL * eQ))
    var_Q = sp.expand(E(Q * Q) - eQ**2)
    # one term per product of gammas, each coefficient factored (presentation; same value)
    g1, g2, g3 = S.gamma1, S.gamma2, S.gamma3
    parts = sp.collect(var_Q, [g2**4, g3**4, g1**2 * g2**2, g1**2 * g3**2, g2**2 * g3**2],
                       evaluate=False)
    var_Q = sp.Add(*[m * sp.factor(c) for m, c in parts.items()])
    if sp.simplify(S.G**2 * var_L + S.G * S.T * cov_LQ + S.T**2 / 4 * var_Q - var_X) != 0:
        raise ArithmeticError("Var k does not split into Var L, Cov(L, Q) and Var Q")
    mean_k = sp.expand(-mean_X / S.F)
    var_k = sp.factor(var_X / S.F**2)
    mean_w2 = sp.expand(E(W2))
    var_w2 = sp.factor(sp.expand(E(W2 * W2) - mean_w2**2))
    mean_curv = sp.expand(E(Q))
    difficulty = mean_curv / (2 * S.G * mean_w2)
    # learning condition: solve <k> = 0 for the difficulty, after writing <k> with it
    k_norm = sp.expand(mean_k.subs(S.kappa, sp.solve(
        sp.Eq(S.GF, difficulty), S.kappa)[0]))
    threshold = sp.solve(sp.Eq(k_norm, 0), S.GF)[0]
    return ThreeComponent(mean_k=mean_k, var_k=var_k, var_L=var_L, cov_LQ=cov_LQ, var_Q=var_Q,
                          mean_w2=mean_w2, var_w2=var_w2,
                          mean_curv=mean_curv, difficulty=difficulty,
                          threshold=sp.simplify(threshold), mean_k_normalised=k_norm)


# --------------------------------------------------------------------------------------
# 3. exact embedding of a linear student-teacher network
# --------------------------------------------------------------------------------------

def verify_embedding(i: int = 2, o: int = 1, c1: int = 2, c2: int = 2,
                     samples: int = 2) -> dict[str, sp.Expr]:
    r"""Symbolic check of the embedding invariants in explicit dimensions.

    Builds the base loss :math:`F(W) = \frac1{2P}\sum_\mu|y^*_\mu - Wx_\mu|^2` and the
    embedded one :math:`F'(W') = \frac1{2P}\sum_\mu|Dy^*_\mu - W'Bx_\mu|^2` with fully
    symbolic :math:`W, x_\mu, y^*_\mu` and the canonical :math:`B = [I; 0]`,
    :math:`D = [I; 0]` (any other B, D with orthonormal columns differ from these by
    rotations of the larger input and output spaces, which leave norms, traces and
    quadratic forms unchanged).  Returns the differences ``F' - F``, ``G'^2 - G^2``,
    ``g'Hg' - gHg`` (so :math:`\kappa' = \kappa`) and ``trH' - c2 trH`` at
    :math:`W' = DWB^\top` (all identically zero), plus ``N'/N``.
    """
    if min(i, o, c1, c2, samples) < 1:
        raise ValueError("i, o, c1, c2 and samples must be positive integers")
    W = sp.Matrix(o, i, lambda r, c: sp.Symbol(f"W_{r}{c}", real=True))
    X = sp.Matrix(i, samples, lambda r, c: sp.Symbol(f"x_{r}{c}", real=True))
    Y = sp.Matrix(o, samples, lambda r, c: sp.Symbol(f"y_{r}{c}", real=True))
    Ib, Ob = c1 * i, c2 * o
    B = sp.zeros(Ib, i)
    B[:i, :i] = sp.eye(i)
    D = sp.zeros(Ob, o)
    D[:o, :o] = sp.eye(o)
    Wp = sp.Matrix(Ob, Ib, lambda r, c: sp.Symbol(f"V_{r}{c}", real=True))

    def loss(Wm, Xm, Ym):
        R = Ym - Wm * Xm
        return sum(e**2 for e in R) / (2 * samples)

    def grad_hess(f, variables):
        g = sp.Matrix([sp.diff(f, v) for v in variables])
        H = sp.hessian(f, variables)
        return g, H

    wv = list(W)
    vv = list(Wp)
    F0 = loss(W, X, Y)
    F1 = loss(Wp, B * X, D * Y)
    g0, H0 = grad_hess(F0, wv)
    g1, H1 = grad_hess(F1, vv)
    emb = dict(zip(vv, list(D * W * B.T)))
    g1e = g1.subs(emb)
    return {
        "loss": sp.expand(F1.subs(emb) - F0),
        "grad_norm2": sp.expand((g1e.T * g1e)[0] - (g0.T * g0)[0]),
        "curvature_numerator": sp.expand((g1e.T * H1 * g1e)[0] - (g0.T * H0 * g0)[0]),
        "trace": sp.expand(H1.trace() - c2 * H0.trace()),
        "size_ratio": sp.Rational(len(vv), len(wv)),
    }


@dataclass(frozen=True)
class EmbeddingScaling:
    """How F, G, kappa and tr H scale under the exact embedding (factors on the base values)."""

    c1: sp.Expr
    c2: sp.Expr
    loss: sp.Expr
    grad_norm: sp.Expr
    curv_grad: sp.Expr
    trace_hess: sp.Expr


def embedding_scaling(variant: str = "exact") -> EmbeddingScaling:
    r"""Scale factors in :math:`N` for inputs grown as :math:`c_1 = (N/N_0)^a`.

    ``variant="exact"``: the derived embedding (:func:`verify_embedding`), :math:`\kappa`
    fixed; ``variant="slides"``: the seed slides' assumption :math:`\kappa\propto c_2`.
    """
    S = SYMBOLS
    if variant not in ("exact", "slides"):
        raise ValueError(f"variant must be 'exact' or 'slides', got {variant!r}")
    c1 = (S.N / S.N0) ** S.a
    c2 = (S.N / S.N0) ** (1 - S.a)
    return EmbeddingScaling(c1=c1, c2=c2, loss=sp.S.One, grad_norm=sp.S.One,
                            curv_grad=sp.S.One if variant == "exact" else c2, trace_hess=c2)


#: the input exponent written as a = 1/(1+b) with b > 0, so that 0 < a < 1 is known to SymPy
_B = sp.Symbol("b", positive=True)


def _sign_everywhere(expr) -> int:
    """+1 / -1 if ``expr`` has that sign for every N > 0 and 0 < a < 1 (else 0)."""
    e = sp.simplify(sp.factor(expr.subs(SYMBOLS.a, 1 / (1 + _B))))
    if e.is_positive:
        return 1
    if e.is_negative:
        return -1
    return 0


@dataclass(frozen=True)
class SizeTheory:
    r""":math:`\langle k\rangle(N)` of the embedded student and its optimum.

    ``k_of_N``; ``dk_dN``; ``N_star`` (the root of ``dk_dN`` over N > 0);
    ``second_derivative`` at ``N_star`` and ``maximum`` (True: SymPy proved it negative for
    all positive parameters and 0 < a < 1); ``sign_gamma2_zero`` / ``sign_gamma3_zero``: the
    sign of ``dk_dN`` for every N when that gamma vanishes (-1: <k> falls everywhere, so
    :math:`N^*\to 0`; +1: it rises for ever, :math:`N^*\to\infty`).
    """

    variant: str
    k_of_N: sp.Expr
    dk_dN: sp.Expr
    N_star: sp.Expr
    second_derivative: sp.Expr
    maximum: bool
    sign_gamma2_zero: int
    sign_gamma3_zero: int


@lru_cache(maxsize=2)
def size_scaling(variant: str = "exact") -> SizeTheory:
    r"""Derive :math:`\langle k\rangle(N)`, :math:`N^*` and its second-order condition."""
    S = SYMBOLS
    sc = embedding_scaling(variant)
    tc = three_component()
    k_N = tc.mean_k.subs({S.kappa: S.kappa0 * sc.curv_grad, S.tau: S.tau0 * sc.trace_hess,
                          S.G: S.G * sc.grad_norm, S.F: S.F * sc.loss})
    k_N = sp.powsimp(sp.expand(k_N), force=True)
    dk = sp.simplify(sp.diff(k_N, S.N))
    # dk/dN = N^(-a-1) * (linear in N) up to positive factors: solve the linear part
    lin = sp.simplify(sp.expand(dk * S.N ** (S.a + 1) * S.N0 ** (1 - S.a)))
    sols = [s for s in sp.solve(sp.Eq(lin, 0), S.N) if s != 0]
    if len(sols) != 1:
        raise ArithmeticError(f"expected one stationary size, got {sols}")
    N_star = sp.factor(sols[0])
    d2 = sp.simplify(sp.diff(k_N, S.N, 2).subs(S.N, N_star))
    positive_gammas = {S.gamma1: sp.Symbol("g1", positive=True),
                       S.gamma2: sp.Symbol("g2", positive=True),
                       S.gamma3: sp.Symbol("g3", positive=True),
                       S.kappa0: sp.Symbol("k0", positive=True)}
    maximum = _sign_everywhere(d2.subs(positive_gammas)) == -1
    g2z = _sign_everywhere(sp.expand(dk.subs(S.gamma2, 0)).subs(positive_gammas))
    g3z = _sign_everywhere(sp.expand(dk.subs(S.gamma3, 0)).subs(positive_gammas))
    return SizeTheory(variant=variant, k_of_N=k_N, dk_dN=dk, N_star=N_star,
                      second_derivative=d2, maximum=maximum, sign_gamma2_zero=g2z,
                      sign_gamma3_zero=g3z)


def stationarity_polynomial(exponent_grad, exponent_curv, exponent_trace):
    r"""For rational scaling exponents: the polynomial in :math:`u = (N/N_0)^{1/q}` whose
    positive roots are the stationary sizes of :math:`\langle k\rangle(N)` (with
    :math:`G, \kappa, \operatorname{tr}H \propto N^{p}`, F fixed), solved by SymPy.

    Returns ``(poly, u, q)``: :math:`N = N_0 u^q`.
    """
    S = SYMBOLS
    ps = [sp.Rational(p) for p in (exponent_grad, exponent_curv, exponent_trace)]
    ft = fitted_size_theory()
    q = sp.ilcm(*[p.q for p in ps])
    u = sp.Symbol("u", positive=True)
    expr = ft.dk_dN.subs(dict(zip(ft.exponents, ps)))
    expr = sp.expand(expr.subs(S.N, S.N0 * u**q) * S.N0 * u**q)  # N * dk/dN
    # clear negative powers of u
    low = min((t.as_coeff_exponent(u)[1] for t in sp.Add.make_args(expr)), default=0)
    poly = sp.expand(expr * u ** (-low)) if low < 0 else expr
    return sp.Poly(poly, u), u, q


@dataclass(frozen=True)
class FittedSizeTheory:
    r""":math:`\langle k\rangle(N)` with power-law scalings of G, kappa and tr H (F fixed).

    ``exponents`` are the symbols :math:`p_G, p_\kappa, p_\tau` (fitted to measurements);
    ``G0`` is the base gradient norm (the base curvature and trace are ``SYMBOLS.kappa0`` and
    ``SYMBOLS.tau0``); ``k_of_N`` and ``dk_dN`` are derived from :func:`three_component`.
    """

    exponents: tuple[sp.Symbol, sp.Symbol, sp.Symbol]
    G0: sp.Symbol
    k_of_N: sp.Expr
    dk_dN: sp.Expr


@lru_cache(maxsize=1)
def fitted_size_theory() -> FittedSizeTheory:
    """<k>(N) with G = G0 (N/N0)^pG, kappa = kappa0 (N/N0)^pk, tr H = tau0 (N/N0)^pt."""
    S = SYMBOLS
    pG, pk, pt = sp.symbols("p_G p_kappa p_tau", real=True)
    G0 = sp.Symbol("G_0", positive=True)
    r = S.N / S.N0
    k_N = three_component().mean_k.subs({S.G: G0 * r**pG, S.kappa: S.kappa0 * r**pk,
                                         S.tau: S.tau0 * r**pt})
    return FittedSizeTheory(exponents=(pG, pk, pt), G0=G0, k_of_N=sp.expand(k_N),
                            dk_dN=sp.expand(sp.diff(k_N, S.N)))


# --------------------------------------------------------------------------------------
# 5. mean-field stationary state of the embedded linear student
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MeanField:
    r"""Per-mode stationary balance of an embedded linear student.

    ``drift``: exact expected one-cycle change of :math:`s_j` given the state;
    ``s_mode``: its root in :math:`s_j` at fixed :math:`\epsilon = \gamma_1 T/G`;
    ``noise_per_weight``: :math:`\sigma^2`; ``rows``: :math:`c_2 o` (symbol ``R``).
    The closure :math:`G^2 = \sum_j\lambda_j^2 s_j`, :math:`F = \frac12\sum_j\lambda_j s_j`
    is a sum over the spectrum and is solved numerically.
    """

    lam: sp.Symbol
    s: sp.Symbol
    eps: sp.Symbol
    rows: sp.Symbol
    sigma2: sp.Symbol
    drift: sp.Expr
    s_mode: sp.Expr
    noise_per_weight: sp.Expr


@lru_cache(maxsize=1)
def mean_field_stationary() -> MeanField:
    r"""Derive the per-mode drift from the cycle update and solve the stationary balance.

    One column :math:`e` (length R = rows) of the error in the eigenbasis of
    :math:`\Sigma` moves by :math:`-\epsilon\lambda e + \xi` with :math:`\xi` the projected
    noise, :math:`E[\xi] = 0`, :math:`E|\xi|^2 = R\sigma^2` (the noise is uncorrelated with
    the gradient step given the state), so
    :math:`E\,\Delta|e|^2 = |(1-\epsilon\lambda)e|^2 - |e|^2 + R\sigma^2`.
    """
    S = SYMBOLS
    lam, s, eps, R, sig2 = sp.symbols("lambda s epsilon R sigma2", positive=True)
    # per-weight noise variance of one cycle: T^2 (gamma2^2 |n2_i|^2 + gamma3^2 (N/T) |n3_i|^2)
    # with E|n_i|^2 = 1/N for one coordinate of a uniform unit vector
    wd = wdot_form()
    per_weight = S.T**2 * sum(wd[v] ** 2 for v in ("n2", "n3")) / S.N
    drift = sp.expand((1 - eps * lam) ** 2 * s - s) + R * sig2
    s_mode = sp.solve(sp.Eq(drift, 0), s)[0]
    return MeanField(lam=lam, s=s, eps=eps, rows=R, sigma2=sig2, drift=drift,
                     s_mode=sp.factor(s_mode), noise_per_weight=sp.expand(per_weight))


# --------------------------------------------------------------------------------------
# LaTeX
# --------------------------------------------------------------------------------------

def _ratio_form(N_star: sp.Expr) -> sp.Expr:
    """N* as a/(1-a) times the rest (the factor SymPy writes as -a/(a-1)); presentation only."""
    a = SYMBOLS.a
    rest = sp.simplify(N_star * (1 - a) / a)
    return sp.Mul(a / (1 - a), rest, evaluate=False)


_GBAR = sp.Symbol("Gbar_F", real=True)


def _learning_bounds_model() -> LatexModel:
    S = SYMBOLS
    cr = cycle_rate()
    tc = three_component()
    k = Tex("k", ("k",))
    mk = Tex(r"\langle k\rangle", ("k",))
    eqs = [
        Equation("Learning rate of one cycle, $F[w(T)] = (1 - kT)\\,F[w(0)]$ (paper eq. 2), "
                 "from the Taylor series of $F$ along $w(0) + s\\,\\dot w$:",
                 Rel(k, cr.exact_taylor)),
        Equation("To second order in $T$ (exact for a quadratic loss; paper eq. 3), and in "
                 "normalised form (paper eq. 4):",
                 [Rel(k, cr.second_order, note=Tex(r"+\,O(T^2)", ("T",))),
                  Rel(k, cr.normalised)]),
        Equation("Three plasticity components (paper eq. 5), "
                 "$\\hat n_2, \\hat n_3$ independent uniform unit vectors:",
                 Rel(Tex(r"\dot w", ("wdot",)),
                     Tex(r"-\gamma_1\hat g + \gamma_2\hat n_2 + \gamma_3\sqrt{N/T}\,\hat n_3",
                         ("gamma_1", "gamma_2", "gamma_3", "N", "T", "ghat", "n_2", "n_3")))),
        Equation("Mean over the random directions (paper eq. 6; isotropic sphere moments):",
                 Rel(mk, tc.mean_k)),
        Equation("Its variance, $F^2\\operatorname{Var}k = G^2 V_L + GT\\,C_{LQ} + "
                 "\\frac{T^2}{4}V_Q$, with the moments of $L = \\hat g\\cdot\\dot w$ and "
                 "$Q = \\dot w^\\top H\\dot w$:",
                 [Rel(Tex("V_L", ("V_L",)), tc.var_L),
                  Rel(Tex("C_{LQ}", ("C_LQ",)), tc.cov_LQ),
                  Rel(Tex("V_Q", ("V_Q",)), tc.var_Q)]),
        Equation("Size of the weight change:",
                 [Rel(Tex(r"\langle|\dot w|^2\rangle", ("wdot",)), tc.mean_w2),
                  Rel(Tex(r"\operatorname{Var}|\dot w|^2", ("wdot",)), tc.var_w2)]),
        Equation("Learning condition (paper eq. 7), with the expected local task difficulty "
                 "$\\bar G_F$:",
                 [Rel(Tex(r"\bar G_F", ("Gbar_F",)), tc.difficulty),
                  Rel(mk, tc.mean_k_normalised.subs(S.GF, _GBAR)),
                  Rel(Tex(r"\langle k\rangle > 0 \Leftrightarrow \bar G_F", ("k", "Gbar_F")),
                      tc.threshold, rel="<")]),
        Equation("Exact embedding $W = D^\\top W'B$ of a linear student ($B$, $D$ with "
                 "orthonormal columns; the larger student sees $Bx$ and targets $Dy^*$), grown "
                 "as $c_1 = (N/N_0)^a$, $c_2 = (N/N_0)^{1-a}$; checked symbolically "
                 "(verify_embedding):",
                 Tex(r"F' = F,\quad G' = G,\quad \kappa' = \kappa,\quad "
                     r"\operatorname{tr}H' = c_2\operatorname{tr}H,\quad N = c_1c_2\,io",
                     ("F", "G", "kappa", "H", "c_1", "c_2", "N", "i", "o"))),
    ]
    for variant, label in (("exact", "Exact embedding ($\\kappa$ fixed):"),
                           ("slides", "The slides' variant ($\\kappa \\propto c_2$):")):
        st = size_scaling(variant)
        lines = [Rel(Tex(r"\langle k\rangle(N)", ("k", "N")), st.k_of_N),
                 Rel(Tex("N^*", ("N",)), _ratio_form(st.N_star))]
        if variant == "exact":
            lines.append(Rel(Tex(r"\frac{d^2\langle k\rangle}{dN^2}(N^*)", ("k", "N")),
                             sp.powsimp(st.second_derivative.subs(
                                 st.N_star, sp.Symbol("N_star", positive=True)), force=True),
                             note=Tex(r"< 0", ())))
        eqs.append(Equation(label + " (SymPy proves the second derivative at $N^*$ negative "
                            "for all positive parameters and $0 < a < 1$)", lines))
    st = size_scaling("exact")
    assert st.sign_gamma2_zero == -1 and st.sign_gamma3_zero == 1
    eqs.append(Equation(
        "No interior optimum: $\\gamma_2 = 0$ ($\\langle k\\rangle$ falls for every $N$), "
        "$\\gamma_3 = 0$ (it rises for ever); an embedding only grows, so the reachable "
        "optimum is",
        Rel(Tex(r"N^*_{\mathrm{reachable}}", ("N",)), Tex(r"\max(N^*, N_0)", ("N", "N_0")))))
    ft = fitted_size_theory()
    eqs.append(Equation(
        "Fitted power laws $G, \\kappa, \\operatorname{tr}H \\propto (N/N_0)^{p}$ (sigmoid "
        "students, $F$ fixed): the exponents are measured, the rest is derived:",
        [Rel(Tex(r"\langle k\rangle(N)", ("k", "N")), ft.k_of_N),
         Rel(Tex(r"N\,\frac{d\langle k\rangle}{dN}", ("k", "N")),
             sp.powsimp(sp.expand(ft.dk_dN * S.N), force=True))]))
    mf = mean_field_stationary()
    lam_j, s_j = sp.Symbol("lambda_j", positive=True), sp.Symbol("s_j", positive=True)
    eqs.append(Equation(
        "Mean-field stationary state of the embedded linear student, per eigenmode $j$ of "
        "the input second moment ($G^2 = \\sum_j \\lambda_j^2 s_j$, "
        "$F = \\frac{1}{2}\\sum_j \\lambda_j s_j$):",
        [Rel(Tex(r"E[\Delta s_j]", ("s_j",)), mf.drift.subs({mf.lam: lam_j, mf.s: s_j})),
         Rel(s_j, positive_form(mf.s_mode.subs(mf.lam, lam_j))),
         Rel(mf.sigma2, mf.noise_per_weight),
         Rel(mf.eps, S.gamma1 * S.T / S.G)]))
    symbols = [
        Sym("k", "k", "the learning rate of the cycle"),
        Sym("T", "T", "the cycle length (time between error feedback)"),
        Sym("F", "F", "the loss at the start of the cycle"),
        Sym("G", "G", r"$= |\nabla F|$, the gradient norm"),
        Sym("p", "p", r"$= \nabla F\cdot\dot w$"),
        Sym("q", "q", r"$= \dot w^\top H\dot w$"),
        Sym("c", "c", "the third directional derivative of $F$ along $\\dot w$"),
        Sym("gw", r"\hat g\cdot\dot w", "the projection of the weight velocity on the unit "
            "gradient"),
        Sym("w2", r"|\dot w|^2", "the squared weight velocity"),
        Sym("G_F", "G_F", r"$= \hat w^\top H\hat w/(2G)$, the local task difficulty of the "
            r"direction $\hat w = \dot w/|\dot w|$"),
        Sym("wdot", r"\dot w", "$= (w(T) - w(0))/T$, the weight velocity of the cycle"),
        Sym("ghat", r"\hat g", r"$= \nabla F/G$"),
        Sym("n_2", r"\hat n_2", "the task-irrelevant direction"),
        Sym("n_3", r"\hat n_3", "the synaptic-noise direction"),
        Sym("gamma_1", r"\gamma_1", "the task-relevant plasticity"),
        Sym("gamma_2", r"\gamma_2", "the task-irrelevant plasticity"),
        Sym("gamma_3", r"\gamma_3", "the synaptic noise"),
        Sym("N", "N", "the number of weights"),
        Sym("H", "H", "the Hessian of $F$ at $w(0)$"),
        Sym("kappa", r"\kappa", r"$= \hat g^\top H\hat g$"),
        Sym("tau", r"\tau", r"$= \operatorname{tr}H$"),
        Sym("theta", r"\theta", r"$= \operatorname{tr}H^2$"),
        Sym("eta", r"\eta", r"$= \hat g^\top H^2\hat g$"),
        Sym("V_L", "V_L", r"$= \operatorname{Var}(\hat g\cdot\dot w)$"),
        Sym("C_LQ", "C_{LQ}", r"$= \operatorname{Cov}(\hat g\cdot\dot w, "
            r"\dot w^\top H\dot w)$"),
        Sym("V_Q", "V_Q", r"$= \operatorname{Var}(\dot w^\top H\dot w)$"),
        Sym("Gbar_F", r"\bar G_F", r"$= \langle\dot w^\top H\dot w\rangle/"
            r"(2G\langle|\dot w|^2\rangle)$, the expected local task difficulty"),
        Sym("c_1", "c_1", "the factor by which the inputs grow"),
        Sym("c_2", "c_2", "the factor by which the outputs grow"),
        Sym("i", "i", "the base network's number of inputs"),
        Sym("o", "o", "the base network's number of outputs"),
        Sym("N_0", "N_0", "the base network's number of weights"),
        Sym("a", "a", "the input exponent, $c_1 = (N/N_0)^a$"),
        Sym("kappa_0", r"\kappa_0", "$\\kappa$ of the base network"),
        Sym("tau_0", r"\tau_0", r"$\operatorname{tr}H$ of the base network"),
        Sym("N_star", "N^*", "the optimal size"),
        Sym("G_0", "G_0", "the base network's gradient norm"),
        Sym("p_G", "p_G", "the fitted exponent of $G$"),
        Sym("p_kappa", r"p_\kappa", "the fitted exponent of $\\kappa$"),
        Sym("p_tau", r"p_\tau", r"the fitted exponent of $\operatorname{tr}H$"),
        Sym("s_j", "s_j", "the squared error of mode $j$ summed over the output rows"),
        Sym("lambda_j", r"\lambda_j", "the eigenvalue of mode $j$"),
        Sym("R", "R", "$= c_2 o$, the number of output rows"),
        Sym("sigma2", r"\sigma^2", "the noise variance per weight and cycle"),
        Sym("epsilon", r"\epsilon", "the step per unit gradient"),
    ]
    return LatexModel(
        title="Fundamental bounds on learning",
        summary=r"Weights move by $T\dot w$ each cycle; the learning rate $k$ of the cycle, its "
                "mean and variance under three plasticity components, the learning condition, "
                "the exact embedding of a linear student in a larger one and the optimal "
                "network size, all derived by SymPy.",
        source="Raman, Rotondo and O'Leary, Fundamental bounds on learning performance in "
               "neural circuits, PNAS 116:10537 (2019), eqs. 2-7; the embedding follows the "
               "authors' public code (raman_etal_2018)",
        equations=eqs, symbols=symbols)


@register_latex("learning-bounds", "fundamental bounds on learning (Raman, Rotondo & O'Leary "
                "2019): one-cycle learning rate k, its mean and variance over three plasticity "
                "components, the learning condition, exact embedding and the optimal size N*")
def learning_bounds_latex() -> LatexModel:
    """The learning-bound derivations for ``learndyn latex learning-bounds``."""
    return _learning_bounds_model()
