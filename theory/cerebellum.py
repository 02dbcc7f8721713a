r"""Online learning in a cerebellum-like circuit under feedback control (seed 000).

The circuit (numerics in :mod:`numerics.cerebellum`): a reference trajectory :math:`r(t)`
is seen by mossy fibres as lookahead samples :math:`r(t+\tau_i)`; an expanded granule layer
:math:`h(t) = \tanh(Z m(t) + b)` (:math:`N = 10q` units) drives a linear readout
:math:`z = w\cdot h`, which adds to the command of a feedback controller acting on
:math:`r - y`; the plant output :math:`y` should follow :math:`r`.  The readout learns online
with an LMS-like rule every :math:`\Delta t`:

.. math:: w_{j+1} = w_j - \gamma\,(\bar e_j\,\tilde h_j + \kappa w_j) + \xi_j ,

with :math:`\bar e_j` the output error :math:`y - r` averaged over a window before the update,
:math:`\tilde h_j` the granule activity shortly before the update, :math:`\kappa` an optional
weight decay and :math:`\xi_j` learning-rule noise (seed 000; the authors' public code,
``LMSTrain`` and ``GaussianNoise`` in CerebellarMotorLearning, trains this way).

Because :math:`h` depends only on the reference and plant and controller are linear, the
error with frozen weights is affine in :math:`w`, :math:`e = e_0 + G w`, so the *task loss*
(mean squared error over the trajectory) is an exact quadratic form; and the joint state
:math:`s = (x, w)` of plant, controller and weights obeys an exact affine recursion
:math:`s_{j+1} = A_j s_j + b_j + \xi_j`, whose mean and covariance propagate exactly.
This module derives, with SymPy:

1. the quadratic task loss (:func:`task_loss_quadratic`) and the factored form the numerics
   evaluate (:func:`task_loss_factored`), with :func:`quadratic_form_check` proving them
   equal to the direct mean squared error; the expected loss
   :math:`E[L(w)] = L(m) + \operatorname{tr}(RC)` (:func:`expected_loss`);
2. the one-update map of the joint state (:func:`transition`), and the covariance of the
   learning-rule noise, additive or proportional to the update's size
   (:func:`noise_variance`; with proportional noise the second moment still closes because
   the squared update is a quadratic form of the state);
3. learning speed: the exact one-update (static) speed, quadratic in :math:`\gamma`, and its
   optimum (:func:`static_learning_speed`); the dynamic speed over the first :math:`n`
   updates to second order in :math:`\gamma` from the perturbation recursion
   (:func:`perturbation_recursion`, :func:`dynamic_learning_speed`);
4. the periodic steady state (discrete Lyapunov equation, :func:`stationary_equations`),
   its small-:math:`\gamma` limit (the fixed point of the averaged LMS-like rule, which is
   not the task optimum :math:`w^*`, and the continuous Lyapunov equation), and the scaling
   with the expansion :math:`q` of Raman, Rotondo & O'Leary's learning-speed / steady-state
   trade-off (:func:`expansion_scaling`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from theory.latex import register_latex
from theory.wick import gaussian_expectation

__all__ = [
    "SYMBOLS", "TaskLossSymbols", "task_loss_symbols", "task_loss_direct", "task_loss_quadratic",
    "task_loss_residual", "task_loss_factored", "quadratic_form_check", "expected_loss",
    "expected_loss_check", "TransitionSymbols", "transition_symbols", "window_error",
    "transition", "transition_check", "noise_variance", "noise_variance_check",
    "static_learning_speed", "StaticSpeed", "perturbation_recursion", "dynamic_learning_speed",
    "DynamicSpeed", "stationary_equations", "small_gamma_stationary", "expansion_scaling",
    "ExpansionScaling", "cerebellum_latex",
]


@dataclass(frozen=True)
class _Scalars:
    gamma: sp.Symbol  # learning step
    kappa: sp.Symbol  # weight decay
    snr: sp.Symbol  # signal-to-noise ratio of proportional learning-rule noise
    sigma2: sp.Symbol  # variance (E|xi|^2) of additive learning-rule noise
    N: sp.Symbol  # number of weights (granule cells)
    n_x: sp.Symbol  # plant + controller states
    n_T: sp.Symbol  # samples in the task-loss trajectory


SYMBOLS = _Scalars(
    gamma=sp.Symbol("gamma", positive=True),
    kappa=sp.Symbol("kappa", nonnegative=True),
    snr=sp.Symbol("rho", positive=True),
    sigma2=sp.Symbol("sigma^2", nonnegative=True),
    N=sp.Symbol("N", integer=True, positive=True),
    n_x=sp.Symbol("n_x", integer=True, positive=True),
    n_T=sp.Symbol("n_T", integer=True, positive=True),
)


# ------------------------------------------------------------------------------------------
# 1. The task loss is an exact quadratic form
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskLossSymbols:
    r"""Matrix symbols of the task loss: samples :math:`e = e_0 + G w` (``n_T`` of them).

    ``R`` (N x N), ``w_star``, ``L_min``: the quadratic form; ``F`` (N x N, :math:`F^\top F =
    R`), ``c`` (N), ``L_perp``: the factored form (``F = R_G/\sqrt{n_T}``, ``c =
    Q_G^\top e_0/\sqrt{n_T}`` from the QR factorisation :math:`G = Q_G R_G`).
    """

    e0: sp.MatrixSymbol
    G: sp.MatrixSymbol
    w: sp.MatrixSymbol
    R: sp.MatrixSymbol
    w_star: sp.MatrixSymbol
    L_min: sp.Symbol
    F: sp.MatrixSymbol
    c: sp.MatrixSymbol
    L_perp: sp.Symbol
    m: sp.MatrixSymbol
    C: sp.MatrixSymbol


@lru_cache(maxsize=1)
def task_loss_symbols() -> TaskLossSymbols:
    """The symbols of :class:`TaskLossSymbols` with symbolic sizes ``N``, ``n_T``."""
    N, nT = SYMBOLS.N, SYMBOLS.n_T
    return TaskLossSymbols(
        e0=sp.MatrixSymbol("e_0", nT, 1), G=sp.MatrixSymbol("G", nT, N),
        w=sp.MatrixSymbol("w", N, 1), R=sp.MatrixSymbol("R", N, N),
        w_star=sp.MatrixSymbol("w^*", N, 1), L_min=sp.Symbol("L_min", nonnegative=True),
        F=sp.MatrixSymbol("F", N, N), c=sp.MatrixSymbol("c", N, 1),
        L_perp=sp.Symbol("L_perp", nonnegative=True),
        m=sp.MatrixSymbol("m", N, 1), C=sp.MatrixSymbol("C", N, N))


def task_loss_direct(e0=None, G=None, w=None, n_T=None):
    r"""Mean squared error with frozen weights, :math:`L(w) = |e_0 + Gw|^2/n_T` (seed 000:
    "the mse loss over the whole trajectory if the weights were frozen")."""
    s = task_loss_symbols()
    e0 = s.e0 if e0 is None else e0
    G = s.G if G is None else G
    w = s.w if w is None else w
    n_T = SYMBOLS.n_T if n_T is None else n_T
    e = e0 + G * w
    return (e.T * e) / n_T


def task_loss_quadratic(w=None, R=None, w_star=None, L_min=None):
    r""":math:`L(w) = (w - w^*)^\top R\,(w - w^*) + L_{\min}` with :math:`R = G^\top G/n_T`."""
    s = task_loss_symbols()
    w = s.w if w is None else w
    R = s.R if R is None else R
    w_star = s.w_star if w_star is None else w_star
    L_min = s.L_min if L_min is None else L_min
    d = w - w_star
    return d.T * R * d + L_min * sp.Identity(1) if isinstance(d, sp.MatrixExpr) else \
        (d.T * R * d)[0, 0] + L_min


def task_loss_residual(w=None, F=None, c=None):
    r"""The factor :math:`\rho(w) = c + F w` with :math:`L(w) = L_\perp + |\rho(w)|^2`.

    In this form no large number is ever formed: :math:`w^*` can be huge along directions
    in which the granule activity barely varies, and :math:`(w-w^*)^\top R (w-w^*)` then
    loses every digit to cancellation, while :math:`|c + Fw|^2` keeps them.
    """
    s = task_loss_symbols()
    w = s.w if w is None else w
    F = s.F if F is None else F
    c = s.c if c is None else c
    return c + F * w


def task_loss_factored(w=None, F=None, c=None, L_perp=None):
    r""":math:`L(w) = L_\perp + (c + Fw)^\top (c + Fw)`."""
    s = task_loss_symbols()
    rho = task_loss_residual(w, F, c)
    L_perp = s.L_perp if L_perp is None else L_perp
    if isinstance(rho, sp.MatrixExpr) and not isinstance(rho, sp.MatrixBase):
        return rho.T * rho + L_perp * sp.Identity(1)
    return (rho.T * rho)[0, 0] + L_perp


def quadratic_form_check(n_T: int = 4, N: int = 2, seed: int = 0) -> bool:
    r"""Prove the three forms of the task loss equal for explicit matrices.

    Random integer ``G`` (full column rank) and ``e0``, symbolic ``w``: with
    :math:`R = G^\top G/n_T`, :math:`w^* = -(G^\top G)^{-1}G^\top e_0` and
    :math:`L_{\min} = L(w^*)`, :func:`task_loss_quadratic` expands to the same polynomial
    in ``w`` as :func:`task_loss_direct`; with ``F`` the upper Cholesky factor of ``R``,
    :math:`c = F^{-\top}G^\top e_0/n_T` and :math:`L_\perp = |e_0|^2/n_T - |c|^2`,
    so does :func:`task_loss_factored` (exact rational/algebraic arithmetic).
    """
    rng = random.Random(seed)
    while True:
        G = sp.Matrix(n_T, N, lambda i, j: sp.Integer(rng.randint(-5, 5)))
        if G.rank() == N:
            break
    e0 = sp.Matrix(n_T, 1, lambda i, j: sp.Integer(rng.randint(-5, 5)))
    w = sp.Matrix(N, 1, lambda i, j: sp.Symbol(f"w_{i}", real=True))
    nT = sp.Integer(n_T)
    direct = sp.expand(task_loss_direct(e0, G, w, nT)[0, 0])
    R = G.T * G / nT
    w_star = -(G.T * G).inv() * G.T * e0
    L_min = task_loss_direct(e0, G, w_star, nT)[0, 0]
    quad = sp.expand(task_loss_quadratic(w, R, w_star, L_min))
    F = R.cholesky(hermitian=False).T  # upper triangular, F^T F = R
    c = (F.T).inv() * G.T * e0 / nT
    L_perp = (e0.T * e0)[0, 0] / nT - (c.T * c)[0, 0]
    fact = sp.expand(task_loss_factored(w, F, c, L_perp))
    return sp.simplify(direct - quad) == 0 and sp.simplify(direct - fact) == 0


def expected_loss(m=None, C=None, R=None, w_star=None, L_min=None):
    r""":math:`E[L(w)] = L(m) + \operatorname{tr}(RC)` for weights of mean ``m`` and
    covariance ``C`` (any distribution: the loss is quadratic)."""
    s = task_loss_symbols()
    m = s.m if m is None else m
    C = s.C if C is None else C
    R = s.R if R is None else R
    return task_loss_quadratic(m, R, w_star, L_min) + (sp.Trace(R * C) * sp.Identity(1)
                                                       if isinstance(m, sp.MatrixExpr)
                                                       and not isinstance(m, sp.MatrixBase)
                                                       else (R * C).trace())


def expected_loss_check(N: int = 2) -> bool:
    r"""Derive :math:`E[L(m+\delta)]` by Isserlis over :math:`\delta\sim N(0, C)` for explicit
    symbolic ``N``-dimensional ``m``, ``C``, ``R``, ``w*`` and compare with
    :func:`expected_loss` (only the first two moments enter, so this holds for any law)."""
    m = sp.Matrix(N, 1, lambda i, j: sp.Symbol(f"m_{i}", real=True))
    ws = sp.Matrix(N, 1, lambda i, j: sp.Symbol(f"v_{i}", real=True))
    d = sp.symbols(f"d0:{N}", real=True)
    R = sp.Matrix(N, N, lambda i, j: sp.Symbol(f"R_{min(i, j)}{max(i, j)}", real=True))
    C = sp.Matrix(N, N, lambda i, j: sp.Symbol(f"C_{min(i, j)}{max(i, j)}", real=True))
    L_min = sp.Symbol("L_min")
    w = m + sp.Matrix(d)
    lhs = gaussian_expectation(sp.expand(task_loss_quadratic(w, R, ws, L_min)), d, C)
    rhs = expected_loss(m, C, R, ws, L_min)
    return sp.expand(lhs - rhs) == 0


# ------------------------------------------------------------------------------------------
# 2. One update of the joint state (plant + controller state x, weights w)
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TransitionSymbols:
    r"""Per-update quantities (all fixed by the reference; the index j is implicit).

    Over update interval j the weights are frozen, so the closed loop advances
    :math:`x_{j+1} = \Phi x_j + B_j w_j + a_j` (``Phi`` = the sampled closed loop over
    :math:`\Delta t`), and the window-averaged error is
    :math:`\bar e_j = \alpha^\top x_j + g_j^\top w_j + \beta_j`; ``h`` is
    :math:`\tilde h_j`.  ``X`` (n_x x k), ``W`` (N x k) are k state columns at once;
    ``m_x``, ``m_w`` a mean, ``P_xx``, ``P_xw``, ``P_ww`` the blocks of a covariance.
    """

    Phi: sp.MatrixSymbol
    B: sp.MatrixSymbol
    a: sp.MatrixSymbol
    alpha: sp.MatrixSymbol
    g: sp.MatrixSymbol
    beta: sp.Symbol
    h: sp.MatrixSymbol
    X: sp.MatrixSymbol
    W: sp.MatrixSymbol
    m_x: sp.MatrixSymbol
    m_w: sp.MatrixSymbol
    P_xx: sp.MatrixSymbol
    P_xw: sp.MatrixSymbol
    P_ww: sp.MatrixSymbol


@lru_cache(maxsize=1)
def transition_symbols() -> TransitionSymbols:
    """The symbols of :class:`TransitionSymbols` with symbolic sizes ``n_x``, ``N``, ``k``."""
    nx, N = SYMBOLS.n_x, SYMBOLS.N
    k = sp.Symbol("k", integer=True, positive=True)
    M = sp.MatrixSymbol
    return TransitionSymbols(
        Phi=M("Phi", nx, nx), B=M("B", nx, N), a=M("a", nx, 1), alpha=M("alpha", nx, 1),
        g=M("g", N, 1), beta=sp.Symbol("beta", real=True), h=M("h", N, 1),
        X=M("X", nx, k), W=M("W", N, k), m_x=M("m_x", nx, 1), m_w=M("m_w", N, 1),
        P_xx=M("P_xx", nx, nx), P_xw=M("P_xw", nx, N), P_ww=M("P_ww", N, N))


def window_error(X=None, W=None, t: TransitionSymbols | None = None, with_offset: bool = True):
    r""":math:`\bar e = \alpha^\top x + g^\top w\,(+\,\beta)`: the error averaged over the
    window before an update, affine in the state at the start of the interval."""
    t = t or transition_symbols()
    X = t.X if X is None else X
    W = t.W if W is None else W
    e = t.alpha.T * X + t.g.T * W
    return e + t.beta * sp.Identity(1) if with_offset else e


def transition(t: TransitionSymbols | None = None):
    r"""The joint one-update map, from the rule, as ``(linear, offset)``:

    .. math:: \begin{pmatrix} x' \\ w'\end{pmatrix} =
       \underbrace{\begin{pmatrix} \Phi x + B w \\
       (1-\gamma\kappa) w - \gamma\,\tilde h\,(\alpha^\top x + g^\top w)\end{pmatrix}}_{A s}
       + \underbrace{\begin{pmatrix} a \\ -\gamma\beta\tilde h\end{pmatrix}}_{b}
       + \begin{pmatrix} 0\\ \xi\end{pmatrix}.

    ``linear`` acts column-wise on ``(X, W)`` (k columns), so the same expression gives
    the mean map :math:`m' = Am + b` (k = 1) and :math:`AP` for the covariance map
    :math:`P' = A P A^\top + Q` (k = n_x + N, applied twice).
    """
    t = t or transition_symbols()
    g, kap = SYMBOLS.gamma, SYMBOLS.kappa
    x_new = t.Phi * t.X + t.B * t.W
    w_new = (1 - g * kap) * t.W - g * t.h * window_error(t.X, t.W, t, with_offset=False)
    offset = (t.a, -g * t.beta * t.h)
    return (x_new, w_new), offset


def transition_check(n_x: int = 2, N: int = 2) -> bool:
    r"""The rule, written out with explicit symbolic matrices, minus :func:`transition`
    (linear part plus offset) expands to zero: :math:`w' = w - \gamma(\bar e\tilde h +
    \kappa w)`, :math:`x' = \Phi x + Bw + a`."""
    t = transition_symbols()
    sym = lambda name, r, c: sp.Matrix(r, c, lambda i, j: sp.Symbol(f"{name}_{i}{j}"))  # noqa
    subs = {t.Phi: sym("Phi", n_x, n_x), t.B: sym("B", n_x, N), t.a: sym("a", n_x, 1),
            t.alpha: sym("al", n_x, 1), t.g: sym("g", N, 1), t.h: sym("h", N, 1)}
    x = sym("x", n_x, 1)
    w = sym("w", N, 1)
    (xn, wn), (a, bw) = transition(t)
    k = sp.Symbol("k", integer=True, positive=True)
    rep = dict(subs)
    rep.update({sp.MatrixSymbol("X", SYMBOLS.n_x, k): x, sp.MatrixSymbol("W", SYMBOLS.N, k): w})

    def ev(e):
        return sp.Matrix(e.xreplace(rep).doit()) if isinstance(e, sp.MatrixExpr) else e

    ebar = (subs[t.alpha].T * x + subs[t.g].T * w)[0, 0] + t.beta
    g, kap = SYMBOLS.gamma, SYMBOLS.kappa
    w_rule = w - g * (ebar * subs[t.h] + kap * w)
    x_rule = subs[t.Phi] * x + subs[t.B] * w + subs[t.a]
    dw = (ev(wn) + ev(bw) - w_rule).applyfunc(sp.expand)
    dx = (ev(xn) + ev(a) - x_rule).applyfunc(sp.expand)
    return dw == sp.zeros(N, 1) and dx == sp.zeros(n_x, 1)


def noise_variance(kind: str, t: TransitionSymbols | None = None):
    r"""Per-component variance :math:`q` of the learning-rule noise, :math:`E[\xi\xi^\top] = qI_N`.

    * ``"additive"``: :math:`\xi\sim N(0, \sigma^2 I/N)`, :math:`q = \sigma^2/N`
      (:math:`E|\xi|^2 = \sigma^2`; the authors' code draws :math:`\xi` of norm
      :math:`\gamma/\mathrm{SNR}` along a random direction, which has the same covariance with
      :math:`\sigma = \gamma/\mathrm{SNR}`).
    * ``"step"``: additive with :math:`\sigma = \gamma/\rho`, noise proportional to the
      learning step (the authors' ``GaussianNoise(mu/SNR)``), :math:`q = \gamma^2/(\rho^2 N)`.
    * ``"proportional"``: :math:`\xi = (|\Delta w|/\rho)\,\nu`, :math:`\nu\sim N(0, I/N)`,
      with :math:`\Delta w = \gamma\bar e\tilde h` the LMS-like update, so
      :math:`E[\xi\xi^\top\mid s] = \gamma^2|\tilde h|^2\bar e^2/(N\rho^2)\,I` and, averaged over
      the state (mean :math:`m`, covariance :math:`P`),

      .. math:: q = \frac{\gamma^2|\tilde h|^2}{N\rho^2}\Big[(\alpha^\top m_x + g^\top m_w
                + \beta)^2 + v^\top P v\Big],\quad v = (\alpha, g),

      a quadratic form of the state's first two moments: the second-moment recursion closes.
    """
    t = t or transition_symbols()
    S = SYMBOLS
    if kind == "additive":
        return S.sigma2 / S.N
    if kind == "step":
        return S.gamma**2 / (S.snr**2 * S.N)
    if kind == "proportional":  # 1 x 1 matrix expressions (lambdify to matmuls)
        mean_e = t.alpha.T * t.m_x + t.g.T * t.m_w + t.beta * sp.Identity(1)
        var_e = (t.alpha.T * t.P_xx * t.alpha + 2 * t.alpha.T * t.P_xw * t.g
                 + t.g.T * t.P_ww * t.g)
        return S.gamma**2 / (S.N * S.snr**2) * (t.h.T * t.h) * (mean_e * mean_e + var_e)
    if kind == "none":
        return sp.S.Zero
    raise ValueError(f"noise kind must be 'none', 'additive', 'step' or 'proportional', got "
                     f"{kind!r}")


def noise_variance_check(n_x: int = 1, N: int = 2) -> bool:
    r"""Derive :math:`E[\xi_i\xi_k]` for proportional noise by Isserlis, over the Gaussian
    state deviation :math:`\delta s\sim N(0,P)` and :math:`\nu\sim N(0, I/N)`, for explicit
    symbolic matrices, and compare with :func:`noise_variance` (off-diagonal: 0)."""
    t = transition_symbols()
    S = SYMBOLS
    sym = lambda name, r, c: sp.Matrix(r, c, lambda i, j: sp.Symbol(f"{name}_{i}{j}"))  # noqa
    n = n_x + N
    P = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"P_{min(i, j)}{max(i, j)}", real=True))
    al, g, h = sym("al", n_x, 1), sym("g", N, 1), sym("h", N, 1)
    mx, mw = sym("mx", n_x, 1), sym("mw", N, 1)
    ds = sp.symbols(f"ds0:{n}", real=True)
    nu = sp.symbols(f"nu0:{N}", real=True)
    x = mx + sp.Matrix(ds[:n_x])
    w = mw + sp.Matrix(ds[n_x:])
    ebar = (al.T * x + g.T * w)[0, 0] + t.beta
    Nn = sp.Integer(N)
    # |Delta w|^2 / rho^2 = gamma^2 |h|^2 ebar^2 / rho^2; xi_i xi_k = that * nu_i nu_k
    cov = sp.zeros(n + N, n + N)
    cov[:n, :n] = P
    cov[n:, n:] = sp.eye(N) / Nn
    hh = (h.T * h)[0, 0]
    ok = True
    expected = noise_variance("proportional").xreplace({
        t.m_x: mx, t.m_w: mw, t.alpha: al, t.g: g, t.h: h,
        t.P_xx: P[:n_x, :n_x], t.P_xw: P[:n_x, n_x:], t.P_ww: P[n_x:, n_x:], S.N: Nn})
    expected = sp.expand(sp.Matrix(expected.doit())[0, 0])
    for i in range(N):
        for k in range(N):
            val = S.gamma**2 * hh * sp.expand(ebar**2) * nu[i] * nu[k] / S.snr**2
            e = gaussian_expectation(sp.expand(val), list(ds) + list(nu), cov)
            target = expected if i == k else 0
            ok &= sp.expand(e - target) == 0
    return bool(ok)


# ------------------------------------------------------------------------------------------
# 3. Learning speed: static (one update) and dynamic (first n updates)
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StaticSpeed:
    r"""Exact one-update learning speed :math:`\nu_s(\gamma) = c_1\gamma - c_2\gamma^2 - c_0`.

    ``speed`` in terms of the scalars ``grad_proj`` :math:`= 2\,d^\top R(w_0-w^*)`,
    ``hess_proj`` :math:`= d^\top R d`, ``noise_term`` (:math:`\operatorname{tr}R\cdot q`),
    with :math:`d` the update per unit :math:`\gamma` and :math:`L_0` the loss at the start;
    ``gamma_opt`` the step that maximises it ("one-shot" optimum), ``speed_max`` its value.
    """

    gamma: sp.Symbol
    grad_proj: sp.Symbol
    hess_proj: sp.Symbol
    noise_coeff: sp.Symbol
    noise_var0: sp.Symbol
    L0: sp.Symbol
    delta_loss: sp.Expr
    speed: sp.Expr
    gamma_opt: sp.Expr
    speed_max: sp.Expr


@lru_cache(maxsize=1)
def static_learning_speed() -> StaticSpeed:
    r"""Derive the static learning speed from the quadratic loss.

    One update :math:`w_1 = w_0 + \gamma d + \xi` with :math:`d = -(\bar e_0\tilde h_0 +
    \kappa w_0)` and noise of per-component variance :math:`q = \gamma^2 q_2 + q_0`
    (proportional noise: :math:`q_2 = |\tilde h|^2\bar e_0^2/(N\rho^2)`, :math:`q_0 = 0`;
    additive: :math:`q_2 = 0`, :math:`q_0 = \sigma^2/N`):

    .. math:: E[L(w_1)] - L(w_0) = \gamma\,2d^\top R(w_0-w^*) + \gamma^2 d^\top R d
              + q\operatorname{tr}R ,

    exact (the loss is quadratic).  The learning speed is the relative decrease
    :math:`\nu_s = (L(w_0) - E[L(w_1)])/L(w_0)` per update, as in the seed's static analysis
    (Raman, Rotondo & O'Leary 2019, eq. for the expected change of the task loss).
    """
    g = SYMBOLS.gamma
    gp = sp.Symbol("p_g", real=True)   # 2 d^T R (w0 - w*)
    hp = sp.Symbol("p_H", nonnegative=True)   # d^T R d
    q2 = sp.Symbol("q_2", nonnegative=True)  # proportional-noise coefficient times tr R
    q0 = sp.Symbol("q_0", nonnegative=True)  # additive-noise variance times tr R
    L0 = sp.Symbol("L_0", positive=True)
    dL = g * gp + g**2 * hp + g**2 * q2 + q0
    speed = sp.expand(-dL / L0)
    g_opt = sp.solve(sp.diff(speed, g), g)[0]
    return StaticSpeed(gamma=g, grad_proj=gp, hess_proj=hp, noise_coeff=q2, noise_var0=q0,
                       L0=L0, delta_loss=dL, speed=speed, gamma_opt=sp.simplify(g_opt),
                       speed_max=sp.simplify(speed.subs(g, g_opt)))


def perturbation_recursion(t: TransitionSymbols | None = None):
    r"""The recursion of the Taylor coefficients :math:`s = s^{(0)} + \gamma s^{(1)} +
    \gamma^2 s^{(2)} + O(\gamma^3)` of the mean state, from :func:`transition`:
    with :math:`A = A_0 + \gamma A_1` and :math:`b = b_0 + \gamma b_1` (SymPy splits the
    map by differentiating in :math:`\gamma`),

    .. math:: s^{(0)}_{j+1} = A_0 s^{(0)}_j + b_0,\quad
              s^{(1)}_{j+1} = A_0 s^{(1)}_j + A_1 s^{(0)}_j + b_1,\quad
              s^{(2)}_{j+1} = A_0 s^{(2)}_j + A_1 s^{(1)}_j .

    Returns ``(A0, A1, b0, b1)``, each a pair ``(x part, w part)`` of column-wise
    expressions in ``X``, ``W``.
    """
    t = t or transition_symbols()
    g = SYMBOLS.gamma
    (xn, wn), (a, bw) = transition(t)
    A1 = tuple(sp.diff(e, g).doit() for e in (xn, wn))
    A0 = tuple(e.subs(g, 0).doit() for e in (xn, wn))
    b1 = tuple(sp.diff(e, g).doit() for e in (a, bw))
    b0 = tuple(e.subs(g, 0).doit() for e in (a, bw))
    # the map is affine in gamma: no second derivative
    if any(sp.diff(e, g, 2) != sp.ZeroMatrix(*e.shape) and sp.diff(e, g, 2) != 0
           for e in (xn, wn, a, bw)):
        raise ArithmeticError("transition is not affine in gamma")
    return A0, A1, b0, b1


@dataclass(frozen=True)
class DynamicSpeed:
    r"""Second-order small-:math:`\gamma` dynamic learning speed over ``n`` updates.

    :math:`E[L(w_n)] = L_0 + \gamma\,\ell_1 + \gamma^2\ell_2 + \operatorname{tr}R\sum_j q_j +
    O(\gamma^3)` with ``ell1`` :math:`= 2 w^{(1)\top}R(w_0-w^*)`, ``ell2`` :math:`=
    w^{(1)\top}Rw^{(1)} + 2w^{(2)\top}R(w_0-w^*)`; ``speed`` :math:`\nu_d =
    (L_0 - E[L(w_n)])/(nL_0)`, ``gamma_opt`` its maximiser.
    """

    ell1: sp.Expr
    ell2: sp.Expr
    speed: sp.Expr
    gamma_opt: sp.Expr
    n: sp.Symbol
    L0: sp.Symbol
    a1: sp.Symbol
    a2: sp.Symbol
    noise: sp.Symbol


@lru_cache(maxsize=1)
def dynamic_learning_speed() -> DynamicSpeed:
    r"""Expand :math:`L(w_0 + \gamma w^{(1)} + \gamma^2 w^{(2)})` to second order in
    :math:`\gamma` (SymPy series of the quadratic loss) and form the dynamic speed."""
    s = task_loss_symbols()
    g = SYMBOLS.gamma
    N = SYMBOLS.N
    w0, w1, w2 = (sp.MatrixSymbol(f"w^({i})", N, 1) for i in range(3))
    L = task_loss_quadratic(w0 + g * w1 + g**2 * w2, s.R, s.w_star, s.L_min)
    expanded = sp.expand(L)  # 1x1 matrix expression, polynomial in gamma

    def coeff(order):
        e = expanded
        for _ in range(order):
            e = sp.diff(e, g)
        return (e.subs(g, 0) / sp.factorial(order))

    ell1 = coeff(1)
    ell2 = coeff(2)
    n = sp.Symbol("n", integer=True, positive=True)
    L0 = sp.Symbol("L_0", positive=True)
    a1, a2 = sp.Symbol("ell_1", real=True), sp.Symbol("ell_2", real=True)
    noise = sp.Symbol("Q_n", nonnegative=True)  # tr R sum_j q_j
    speed = -(g * a1 + g**2 * a2 + noise) / (n * L0)
    g_opt = sp.solve(sp.diff(speed, g), g)[0]
    return DynamicSpeed(ell1=ell1, ell2=ell2, speed=sp.expand(speed), gamma_opt=g_opt, n=n,
                        L0=L0, a1=a1, a2=a2, noise=noise)


# ------------------------------------------------------------------------------------------
# 4. Steady state
# ------------------------------------------------------------------------------------------

def stationary_equations():
    r"""Periodic steady state of the exact moment recursion over one period of ``K`` updates.

    With the monodromy :math:`\bar A = A_{K-1}\cdots A_0`, the accumulated offset
    :math:`\bar b` and the accumulated noise :math:`\bar Q`, the phase-0 stationary mean and
    covariance solve

    .. math:: \bar m = \bar A\bar m + \bar b,\qquad
              \bar P = \bar A\bar P\bar A^\top + \bar Q \quad(\text{discrete Lyapunov}),

    i.e. :math:`\operatorname{vec}\bar P = (I - \bar A\otimes\bar A)^{-1}\operatorname{vec}
    \bar Q`; both exist and are unique iff the spectral radius of :math:`\bar A` is below 1
    (mean-square stability with additive noise).  With proportional noise :math:`\bar Q`
    depends linearly on :math:`\bar P` (:func:`noise_variance`), and the solution is the
    fixed point of :math:`\bar P\mapsto \mathrm{Lyap}(\bar A, \bar Q(\bar P))`, which
    converges iff the whole second-moment map is stable (regular splitting of a positive
    map).  Returns the two equations ``(mean, covariance)`` as SymPy ``Eq`` of matrix
    symbols.
    """
    n = sp.Symbol("n_s", integer=True, positive=True)
    A = sp.MatrixSymbol("Abar", n, n)
    b = sp.MatrixSymbol("bbar", n, 1)
    Q = sp.MatrixSymbol("Qbar", n, n)
    m = sp.MatrixSymbol("mbar", n, 1)
    P = sp.MatrixSymbol("Pbar", n, n)
    return sp.Eq(m, A * m + b), sp.Eq(P, A * P * A.T + Q)


def small_gamma_stationary():
    r"""Small-:math:`\gamma` steady state of the LMS-like rule (averaging over one period).

    For :math:`\gamma\to0` the weights barely move within a period, the loop runs in its
    periodic regime with frozen :math:`w`, and :math:`\bar e_j = \hat g_j^\top w + \hat e_j`
    (:math:`\hat g_j` includes the loop's response to :math:`w`).  Per period the mean weight
    moves by :math:`-\gamma(\bar M w + \bar c + K\kappa w)` with
    :math:`\bar M = \sum_j \tilde h_j\hat g_j^\top`, :math:`\bar c = \sum_j\tilde h_j\hat e_j`,
    so the fixed point of the rule is

    .. math:: w_\mathrm{fix} = -(\bar M + K\kappa I)^{-1}\bar c ,

    which differs from the task optimum :math:`w^* = -R^{-1}G^\top e_0/n_T` (the rule uses
    :math:`\tilde h`, not the loop-filtered :math:`G`): the *fixed-point bias*
    :math:`L(w_\mathrm{fix}) - L_{\min} \ge 0`.  The covariance to leading order solves the
    continuous Lyapunov equation
    :math:`(\bar M + K\kappa I)C + C(\bar M + K\kappa I)^\top = \bar Q/\gamma`, with
    :math:`\bar Q` the noise per period, and the steady-state loss is
    :math:`\xi \approx L(w_\mathrm{fix}) + \operatorname{tr}(RC)`.  Returns
    ``(w_fix equation, Lyapunov equation, xi)`` in matrix symbols.
    """
    N = SYMBOLS.N
    s = task_loss_symbols()
    M = sp.MatrixSymbol("Mbar", N, N)
    c = sp.MatrixSymbol("cbar", N, 1)
    K = sp.Symbol("K", integer=True, positive=True)
    w = sp.MatrixSymbol("w_fix", N, 1)
    C = sp.MatrixSymbol("C", N, N)
    Q = sp.MatrixSymbol("Qbar", N, N)
    Mk = M + K * SYMBOLS.kappa * sp.Identity(N)
    fix = sp.Eq(Mk * w + c, sp.ZeroMatrix(N, 1))
    lyap = sp.Eq(Mk * C + C * Mk.T, Q / SYMBOLS.gamma)
    xi = task_loss_quadratic(w, s.R, s.w_star, s.L_min) + sp.Trace(s.R * C) * sp.Identity(1)
    return fix, lyap, xi


@dataclass(frozen=True)
class ExpansionScaling:
    r"""How learning speed and steady-state loss scale with the expansion :math:`q`.

    The seed's theoretical trade-off (Raman, Rotondo & O'Leary 2019; the authors'
    ``theoreticalCurves_normGradO.jl``): with the gradient norm growing as :math:`\sqrt q`,
    the Hessian projection of the learning direction as :math:`q^{\varrho}` and the
    learning-rule noise :math:`\eta` seeing :math:`\operatorname{tr}H/N` (constant in q),

    .. math:: \nu(q) = \gamma\gamma_o|\nabla L|\sqrt q - \tfrac12\gamma^2\gamma_o^2 h\,q^{\varrho}
              - \tfrac12\eta^2\,t_N,\qquad
              \xi(q) = \frac{\gamma\gamma_o^2 h\,q^{\varrho}}{2|\nabla L|\sqrt q}
              + \frac{\eta^2 t_N}{2\gamma|\nabla L|\sqrt q} + \frac{L_{ss}}{q}.
    """

    q: sp.Symbol
    speed: sp.Expr
    steady: sp.Expr
    gamma_opt: sp.Expr
    symbols: tuple


@lru_cache(maxsize=1)
def expansion_scaling() -> ExpansionScaling:
    """The scaling forms of :class:`ExpansionScaling` and the speed-optimal step."""
    q = sp.Symbol("q", positive=True)
    g = SYMBOLS.gamma
    go, grad, hp, tN, eta, Lss, vr = sp.symbols(
        "gamma_o g_L h_p t_N eta L_ss varrho", positive=True)
    speed = g * go * grad * sp.sqrt(q) - g**2 * go**2 * hp * q**vr / 2 - eta**2 * tN / 2
    steady = (g * go**2 * hp * q**vr / (2 * grad * sp.sqrt(q))
              + eta**2 * tN / (2 * g * grad * sp.sqrt(q)) + Lss / q)
    g_opt = sp.solve(sp.diff(speed, g), g)[0]
    return ExpansionScaling(q=q, speed=speed, steady=steady, gamma_opt=sp.simplify(g_opt),
                            symbols=(go, grad, hp, tN, eta, Lss, vr))


def _cerebellum_latex_model():
    """The derivations of this module for ``learndyn latex cerebellum``."""
    from theory.latex import Equation, LatexModel, Rel, Sym, Tex

    s = task_loss_symbols()
    t = transition_symbols()
    S = SYMBOLS
    x = sp.MatrixSymbol("x", S.n_x, 1)
    vec = {t.X: x, t.W: s.w}
    (xn, wn), (a, bw) = transition()
    st = static_learning_speed()
    dyn = dynamic_learning_speed()
    A0, A1, b0, b1 = perturbation_recursion()
    mean_eq, lyap_eq = stationary_equations()
    fix, clyap, xi = small_gamma_stationary()
    sc = expansion_scaling()
    q_prop = noise_variance("proportional")
    return LatexModel(
        title="Online learning in a cerebellum-like circuit under feedback control",
        summary=r"Mossy fibres carry lookahead samples of a reference $r(t)$; granule cells "
                r"$h = \tanh(Zm + b)$ drive a linear readout $z = w\cdot h$ added to a PID "
                r"command on $r - y$ of a linear plant.  Every $\Delta t$ the readout learns "
                r"$w \leftarrow w - \gamma(\bar e\,\tilde h + \kappa w) + \xi$ with the "
                r"error $y - r$ averaged over a window and $\tilde h$ the activity just before "
                r"the update.  With frozen weights the error is affine in $w$, so the task "
                r"loss is an exact quadratic form and the moments of learning propagate "
                r"exactly.",
        source="seed 000 (notes on the steady-state loss of online training) and the authors' "
               "public code (CerebellarMotorLearning); learning speed and its scaling with the "
               "expansion: Raman, Rotondo and O'Leary (2019)",
        equations=[
            Equation("Task loss with frozen weights, $e = e_0 + Gw$ over $n_T$ samples:",
                     [Rel(Tex("L(w)", ("w",)), task_loss_direct()),
                      Rel(Tex("", ()), task_loss_quadratic()),
                      Rel(Tex("", ()), task_loss_factored())]),
            Equation("Expected loss of weights with mean $m$ and covariance $C$:",
                     Rel(Tex("E[L(w)]", ("w",)), expected_loss())),
            Equation("One update of the joint state (loop state $x$, weights $w$):",
                     [Rel(Tex("x'", ("x",)), (xn + a).xreplace(vec)),
                      Rel(Tex("w'", ("w",)), sp.MatAdd(
                          (1 - S.gamma * S.kappa) * s.w,
                          -S.gamma * t.h * window_error(x, s.w, t), evaluate=False))]),
            Equation(r"Learning-rule noise $E[\xi\xi^\top] = qI_N$: size $\gamma/\rho$, or "
                     "proportional to the update (a quadratic form of the state's moments):",
                     [Rel(Tex(r"q_\mathrm{step}", ()), noise_variance("step")),
                      Rel(Tex(r"q_\mathrm{prop}", ()), q_prop)]),
            Equation("Static (one-update) learning speed, exactly quadratic in the step, "
                     "and its optimum:",
                     [Rel(Tex(r"\nu_s", ()), st.speed),
                      Rel(Tex(r"\gamma_s^*", ()), st.gamma_opt)]),
            Equation("Dynamic speed over the first $n$ updates, to second order in the step "
                     r"($s = s^{(0)} + \gamma s^{(1)} + \gamma^2 s^{(2)}$, "
                     r"$s^{(1)}_{j+1} = A_0s^{(1)}_j + A_1s^{(0)}_j + b_1$):",
                     [Rel(Tex(r"A_1 s", ()), A1[1].xreplace(vec)),
                      Rel(Tex(r"b_1", ()), b1[1]),
                      Rel(Tex(r"\ell_1", ()), dyn.ell1),
                      Rel(Tex(r"\ell_2", ()), dyn.ell2),
                      Rel(Tex(r"\nu_d", ()), dyn.speed),
                      Rel(Tex(r"\gamma_d^*", ()), dyn.gamma_opt)]),
            Equation("Periodic steady state over one period of the reference (discrete "
                     "Lyapunov equation):", [mean_eq, lyap_eq]),
            Equation("Small-step limit: fixed point of the averaged rule (not $w^*$: the "
                     "rule's bias) and continuous Lyapunov equation:",
                     [fix, clyap, Rel(Tex(r"\xi", ()), xi, r"\approx")]),
            Equation("Scaling with the expansion $q$ (Raman, Rotondo and O'Leary 2019):",
                     [Rel(Tex(r"\nu(q)", ("q",)), sc.speed),
                      Rel(Tex(r"\xi(q)", ("q",)), sc.steady),
                      Rel(Tex(r"\gamma^*(q)", ("q",)), sc.gamma_opt)]),
        ],
        symbols=[
            Sym("w", "w", "the readout weights (one per granule cell)"),
            Sym("x", "x", "the state of plant and controller at the start of an update "
                "interval"),
            Sym("e_0", "e_0", "the tracking errors $y - r$ at the samples, without the network"),
            Sym("G", "G", "the granule activities filtered by the closed loop (one column per "
                "cell)"),
            Sym("n_T", "n_T", "the number of samples of the trajectory"),
            Sym("R", "R", r"$= G^\top G/n_T$, half the Hessian of the task loss"),
            Sym("w^*", "{w^{*}}", "the weights of least task loss"),
            Sym("L_min", r"L_{\min}", "the least task loss"),
            Sym("F", "F", r"the factor $R_G/\sqrt{n_T}$ of the QR factorisation $G = Q_GR_G$"),
            Sym("c", "c", r"$= Q_G^\top e_0/\sqrt{n_T}$"),
            Sym("L_perp", r"L_\perp", "the part of the loss no weights can remove"),
            Sym("m", "m", "the mean of the weights"),
            Sym("C", "C", "the covariance of the weights"),
            Sym("Phi", r"\Phi", "the sampled closed loop over one update interval"),
            Sym("B", "B", "the loop's response over the interval to the weights"),
            Sym("a", "a", "the loop's response over the interval to the reference"),
            Sym("alpha", r"\alpha", "the window average of the loop's output map"),
            Sym("g", "g", "the window-averaged error per unit weight within the interval"),
            Sym("beta", r"\beta", "the window-averaged error without network or state"),
            Sym("h", r"\tilde h", "the granule activity just before the update"),
            Sym("gamma", r"\gamma", "the learning step"),
            Sym("kappa", r"\kappa", "the weight decay"),
            Sym("rho", r"\rho", "the signal-to-noise ratio of the learning-rule noise"),
            Sym("N", "N", "the number of granule cells ($10q$)"),
            Sym("m_x", "m_x", "the mean loop state"),
            Sym("m_w", "m_w", "the mean weights"),
            Sym("P_xx", "P_{xx}", "the covariance of the loop state"),
            Sym("P_xw", "P_{xw}", "the cross-covariance of loop state and weights"),
            Sym("P_ww", "P_{ww}", "the covariance of the weights"),
            Sym("p_g", "p_g", r"twice the projection $d^\top R(w_0 - w^*)$ of the update $d$ "
                "(per unit step) on the gradient"),
            Sym("p_H", "p_H", r"the curvature $d^\top R d$ along the update"),
            Sym("q_2", "q_2", r"the noise variance per unit $\gamma^2$ times $\operatorname{tr}R$"),
            Sym("q_0", "q_0", r"the step-independent noise variance times $\operatorname{tr}R$"),
            Sym("L_0", "L_0", "the task loss at the start"),
            Sym(r"w\^\((\d)\)", "{w^{(#1)}}", "the Taylor coefficients of the mean weights in "
                "the step", generic="w^{(i)}"),
            Sym("ell_1", r"\ell_1", "the first-order coefficient of the loss change"),
            Sym("ell_2", r"\ell_2", "the second-order coefficient (with the noise)"),
            Sym("Q_n", "Q_n", r"the step-independent noise term $\operatorname{tr}R\sum_j q_j$"),
            Sym("n", "n", "the number of updates"),
            Sym("Abar", r"\bar A", "the monodromy: the product of the update maps over a "
                "period"),
            Sym("bbar", r"\bar b", "the offset accumulated over a period"),
            Sym("Qbar", r"\bar Q", "the noise covariance accumulated over a period"),
            Sym("mbar", r"\bar m", "the stationary mean at the start of a period"),
            Sym("Pbar", r"\bar P", "the stationary covariance at the start of a period"),
            Sym("Mbar", r"\bar M", r"$= \sum_j\tilde h_j\hat g_j^\top$, the averaged rule's "
                "matrix"),
            Sym("cbar", r"\bar c", r"$= \sum_j\tilde h_j\hat e_j$"),
            Sym("K", "K", "the number of updates per period"),
            Sym("w_fix", r"w_\mathrm{fix}", "the fixed point of the averaged rule"),
            Sym("q", "q", "the expansion of the granule layer"),
            Sym("gamma_o", r"\gamma_o", "the cosine between the update and the negative "
                "gradient"),
            Sym("g_L", r"|\nabla L|", "the norm of the task-loss gradient (q = 1)"),
            Sym("h_p", "h_p", "the Hessian projection of the update direction (q = 1)"),
            Sym("t_N", "t_N", r"the mean curvature $\operatorname{tr}H/N$, $H = 2R$ the Hessian"),
            Sym("eta", r"\eta", "the size of the learning-rule noise"),
            Sym("L_ss", "L_{ss}", "the steady-state loss floor (q = 1)"),
            Sym("varrho", r"\varrho", "the exponent of the Hessian projection's growth with q"),
        ],
    )


@register_latex("cerebellum", "cerebellum-like expanded layer learning online under feedback "
                "control (seed 000): exact quadratic task loss, exact moment recursion, "
                "learning speed, steady state")
def cerebellum_latex():
    """LaTeX model of the derivations in this module (see :mod:`theory.latex`)."""
    return _cerebellum_latex_model()
