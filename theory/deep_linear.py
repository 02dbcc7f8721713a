r"""Learning dynamics of deep linear networks (seed 001; Saxe, McClelland & Ganguli 2014).

Network :math:`\hat y = W_D\cdots W_1 x` of ``depth`` :math:`D` weight matrices, trained by
gradient flow on the mean squared error

.. math:: \mathcal L = \tfrac12\operatorname{tr}\Sigma^y - \operatorname{tr}(W\Sigma^{xy})
          + \tfrac12\operatorname{tr}(W\Sigma^x W^\top),\qquad W = W_D\cdots W_1,

with time constant :math:`\tau` (:math:`\tau = 1/\eta`, seed 001 Exercise 1.2).  Derived here:

* the full-matrix gradient flow (seed eqs. (1)-(3)), for any depth,
  :math:`\tau\dot W_l = (W_D\cdots W_{l+1})^\top(\Sigma^{yx} - W\Sigma^x)(W_{l-1}\cdots W_1)^\top`,
  checked entry by entry against :func:`sympy.diff` of the loss (:func:`gradient_flow_check`);
* the mode ODE of a decoupled, balanced initialisation (every layer :math:`c` on mode
  :math:`\alpha`, :math:`u = c^D`): :math:`\tau\dot u = D\,u^{2-2/D}(s-u)`, derived from the
  per-mode loss :math:`\tfrac12(s - c_1\cdots c_D)^2` (:func:`mode_ode`); depth 1 is the
  shallow network (:math:`\tau\dot b = s-b`), depth 2 one hidden layer
  (:math:`\tau\dot a = 2a(s-a)`);
* ``dsolve`` solutions of the depth-1 and depth-2 ODEs, verified by ``checkodesol`` and
  shown equal to seed eqs. (5) and (4) (:func:`mode_solution`);
* for any depth the time to reach :math:`u` from :math:`u_0` in closed form
  (:func:`time_to_strength`): with :math:`x = u/s`, :math:`p = 2 - 2/D`,

  .. math:: t = \frac{\tau}{D\,s^{p}}\,[T_D(x) - T_D(x_0)],\qquad
            T_D(x) = \int \frac{dx}{x^{p}(1-x)} =
            \frac{x^{1-p}}{1-p}\,{}_2F_1(1, 1-p; 2-p; x)\quad (D\ge3,\ x<1),

  :math:`T_D(x) = \tfrac{x^{-p}}{p}\,{}_2F_1(1, p; 1+p; 1/x)` for :math:`x > 1`,
  :math:`T_1 = -\ln|1-x|`, :math:`T_2 = \ln|x/(1-x)|` (a logarithm for one hidden layer);
* small-:math:`u_0` asymptotics of the learning time (:func:`learning_time_asymptotic`):
  :math:`t \simeq \tau\ln(s/(s-u_f))` (D = 1), :math:`\tfrac{\tau}{2s}\ln(1/u_0)` (D = 2),
  :math:`\tfrac{\tau}{(D-2)s}\,u_0^{-(1-2/D)}` (D >= 3).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import lru_cache

import mpmath
import sympy as sp
from sympy.codegen.cfunctions import expm1

from theory.latex import Equation, LatexModel, Rel, Sym, Tex, register_latex

__all__ = [
    "ModeSymbols", "SYMBOLS", "check_depth", "mode_ode", "mode_ode_from_loss", "mode_solution",
    "mode_solution_dsolve",
    "mode_solution_stable", "antiderivative_elementary", "layer_rate", "LAYER", "integrand",
    "time_scale", "online_sgd_time_constant",
    "seed_eq4", "seed_eq5", "antiderivative", "antiderivative_far_above", "EXPLICIT_MAX_DEPTH",
    "time_to_strength", "learning_time",
    "learning_time_asymptotic", "rate", "gradient_flow", "gradient_flow_check", "loss",
]


@dataclass(frozen=True)
class ModeSymbols:
    """Symbols of the mode dynamics: time, time constant, target singular value, strengths."""

    t: sp.Symbol
    tau: sp.Symbol
    s: sp.Symbol
    u: sp.Symbol
    u0: sp.Symbol
    uf: sp.Symbol
    x: sp.Symbol


SYMBOLS = ModeSymbols(*sp.symbols("t tau s u u0 u_f x", positive=True))
#: per-layer strength of a balanced decoupled mode (u = c^D)
LAYER = sp.Symbol("c", positive=True)


def check_depth(depth) -> int:
    """``depth`` (number of weight matrices) as an int >= 1, else ValueError/TypeError."""
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral):
        raise TypeError(f"depth must be an integer >= 1, got {depth!r}")
    if depth < 1:
        raise ValueError(f"depth must be an integer >= 1 (1 = shallow), got {depth}")
    return int(depth)


def rate(depth: int) -> sp.Expr:
    r"""Right-hand side of :math:`\tau\dot u`: :math:`D\,u^{2-2/D}(s-u)`.

    Derived by :func:`mode_ode_from_loss`."""
    return mode_ode_from_loss(check_depth(depth))


@lru_cache(maxsize=16)
def mode_ode_from_loss(depth: int) -> sp.Expr:
    r"""Derive :math:`\tau\dot u` for a balanced decoupled mode of a depth-``depth`` network.

    Per mode the loss is :math:`\tfrac12(s - c_1\cdots c_D)^2`; gradient flow gives
    :math:`\tau\dot c_l = -\partial\mathcal L/\partial c_l`; with all :math:`c_l = c` and
    :math:`u = c^D` the chain rule gives :math:`\tau\dot u = \sum_l (\prod_{k\ne l}c_k)\tau\dot c_l
    = D c^{2D-2}(s - c^D) = D u^{2-2/D}(s-u)`.  Returned as an expression in ``u, s``.
    """
    depth = check_depth(depth)
    S = SYMBOLS
    cs = sp.symbols(f"c1:{depth + 1}", positive=True)
    prod = sp.Mul(*cs)
    L = (S.s - prod) ** 2 / 2
    tau_cdot = [-sp.diff(L, ci) for ci in cs]
    tau_udot = sum(sp.diff(prod, ci) * d for ci, d in zip(cs, tau_cdot))
    c = sp.Symbol("c", positive=True)
    balanced = sp.expand(tau_udot.subs({ci: c for ci in cs}))
    in_u = sp.powsimp(sp.expand(balanced.subs(c, S.u ** sp.Rational(1, depth))), force=True)
    if in_u.has(c, *cs):
        raise ArithmeticError(f"mode ODE derivation left layer variables at depth {depth}: "
                              f"{in_u}")
    return sp.factor_terms(in_u)  # the derived expression itself (tests compare it to the form)


@lru_cache(maxsize=16)
def layer_rate(depth: int) -> sp.Expr:
    r"""Right-hand side of :math:`\tau\dot c` for one layer of a balanced decoupled mode,
    :math:`-\partial\mathcal L/\partial c_l` at :math:`c_1 = \dots = c_D = c`:
    :math:`c^{D-1}(s - c^D)`, an expression in ``c, s`` (``c`` = :data:`LAYER`).

    Forward Euler on the weight matrices from a decoupled initialisation steps exactly
    this map per layer, :math:`c \leftarrow c + (\Delta t/\tau)\,c^{D-1}(s-c^D)`."""
    depth = check_depth(depth)
    S = SYMBOLS
    cs = sp.symbols(f"c1:{depth + 1}", positive=True)
    L = (S.s - sp.Mul(*cs)) ** 2 / 2
    return sp.expand(-sp.diff(L, cs[0]).subs({ci: LAYER for ci in cs}))


def mode_ode(depth: int) -> sp.Eq:
    r""":math:`\tau\,du/dt = D u^{2-2/D}(s-u)` as a SymPy ODE in the function ``u(t)``."""
    S = SYMBOLS
    uf = sp.Function("u")(S.t)
    return sp.Eq(S.tau * uf.diff(S.t), rate(depth).subs(S.u, uf))


def seed_eq5() -> sp.Expr:
    r"""Seed 001 eq. (5): :math:`b(t) = s(1-e^{-t/\tau}) + b^0 e^{-t/\tau}` (shallow)."""
    S = SYMBOLS
    return S.s * (1 - sp.exp(-S.t / S.tau)) + S.u0 * sp.exp(-S.t / S.tau)


def seed_eq4() -> sp.Expr:
    r"""Seed 001 eq. (4): :math:`a(t) = s e^{2st/\tau}/(e^{2st/\tau} - 1 + s/a^0)` (one hidden)."""
    S = SYMBOLS
    e = sp.exp(2 * S.s * S.t / S.tau)
    return S.s * e / (e - 1 + S.s / S.u0)


@lru_cache(maxsize=4)
def mode_solution(depth: int) -> sp.Expr:
    r"""``dsolve`` of the mode ODE, :math:`u(0)=u_0`, depth 1 or 2, checked by ``checkodesol``.

    The result is returned in the seed's form (eq. (5) for depth 1, eq. (4) for depth 2) after
    SymPy proves it equal to the ``dsolve`` output.  Other depths have no elementary
    :math:`u(t)`; use :func:`time_to_strength` and invert numerically.
    """
    depth = check_depth(depth)
    if depth > 2:
        raise ValueError(f"depth must be 1 or 2 for a closed-form u(t), got {depth}; "
                         "use time_to_strength and invert it numerically")
    sol = mode_solution_dsolve(depth)
    seed_form = seed_eq5() if depth == 1 else seed_eq4()
    if sp.simplify(sol - seed_form) != 0:
        raise ArithmeticError(f"dsolve solution differs from the seed's form at depth {depth}")
    return seed_form


@lru_cache(maxsize=4)
def mode_solution_dsolve(depth: int) -> sp.Expr:
    r"""The right-hand side ``dsolve`` returns for the mode ODE with :math:`u(0)=u_0` (depth 1
    or 2), in SymPy's own form, after ``checkodesol`` accepted it.  :func:`mode_solution`
    returns the seed's form once SymPy proves the two equal."""
    depth = check_depth(depth)
    if depth > 2:
        raise ValueError(f"depth must be 1 or 2 for a closed-form u(t), got {depth}; "
                         "use time_to_strength and invert it numerically")
    S = SYMBOLS
    ode = mode_ode(depth)
    uf = sp.Function("u")(S.t)
    sol = sp.dsolve(ode, uf, ics={uf.subs(S.t, 0): S.u0})
    ok, residual = sp.checkodesol(ode, sol)
    if not ok:
        raise ArithmeticError(f"checkodesol rejected the depth-{depth} solution: {residual}")
    return sol.rhs


@lru_cache(maxsize=8)
def mode_solution_stable(depth: int, start_below: bool = False) -> sp.Expr:
    r"""Overflow- and cancellation-free forms of eqs. (5)/(4), proven equal to
    :func:`mode_solution` by SymPy.

    Depth 1: :math:`s + (u_0 - s)e^{-t/\tau}`.  Depth 2, with :math:`z = 2st/\tau` and
    :math:`\operatorname{expm1}(z) = e^z - 1`:
    :math:`s/\big((s/u_0)\,e^{-z} - \operatorname{expm1}(-z)\big)` (for :math:`u_0 \ge s`), or
    with ``start_below=True`` :math:`u_0/\big(e^{-z} - (u_0/s)\operatorname{expm1}(-z)\big)`
    (for :math:`u_0 < s`): the ratio that appears is at most 1, and
    :math:`1 - e^{-z}` is never formed by a subtraction that cancels when :math:`z` is tiny
    (the seed's form :math:`1 + (s/u_0 - 1)e^{-z}` returns :math:`s/0 = \infty` at
    :math:`s = 10^{-300}`, :math:`u_0 = 1`)."""
    depth = check_depth(depth)
    S = SYMBOLS
    z = 2 * S.s * S.t / S.tau
    if depth == 1:
        stable = S.s + (S.u0 - S.s) * sp.exp(-S.t / S.tau)
    elif depth == 2 and start_below:
        stable = S.u0 / (sp.exp(-z) - S.u0 / S.s * expm1(-z))
    elif depth == 2:
        stable = S.s / (S.s / S.u0 * sp.exp(-z) - expm1(-z))
    else:
        raise ValueError(f"depth must be 1 or 2 for a closed-form u(t), got {depth}")
    as_exp = stable.replace(lambda e: isinstance(e, expm1), lambda e: sp.exp(e.args[0]) - 1)
    if sp.simplify(as_exp - mode_solution(depth)) != 0:
        raise ArithmeticError(f"stable form differs from the dsolve solution at depth {depth}")
    return stable


@lru_cache(maxsize=16)
def antiderivative(depth: int, above: bool = False) -> sp.Expr:
    r"""Closed form of :math:`T_D(x) = \int dx/(x^{p}(1-x))`, :math:`p = 2-2/D`, in ``x = u/s``.

    ``above=False`` is the branch :math:`0<x<1` (learning from below), ``above=True`` the
    branch :math:`x>1`.  Depth 1 and 2 are logarithms; depth >= 3 Gauss hypergeometric
    functions (series :math:`1/(1-x) = \sum_k x^k`, resp. :math:`-\sum_k x^{-k-1}`, integrated
    term by term).  The derivative is checked to equal the integrand.
    """
    depth = check_depth(depth)
    x = SYMBOLS.x
    p = 2 - sp.Rational(2, depth)
    if depth == 1:
        T = -sp.log(x - 1) if above else -sp.log(1 - x)
    elif depth == 2:
        T = sp.log(x / (x - 1)) if above else sp.log(x / (1 - x))
    elif above:
        T = x ** (-p) / p * sp.hyper([1, p], [1 + p], 1 / x)
    else:
        T = x ** (1 - p) / (1 - p) * sp.hyper([1, 1 - p], [2 - p], x)
    probe = sp.Rational(3, 7) if not above else sp.Rational(7, 3)
    check = (sp.diff(T, x) - integrand(depth)).subs(x, probe)
    if abs(complex(sp.N(check, 30))) > 1e-25:
        raise ArithmeticError(f"antiderivative check failed at depth {depth}")
    return T


def integrand(depth: int) -> sp.Expr:
    r""":math:`dT_D/dx = 1/(x^{p}(1-x))`, :math:`p = 2-2/D`: the mode ODE separated,
    :math:`dt = \tfrac{\tau}{D s^{p}}\,dx/(x^{p}(1-x))` with :math:`x = u/s`."""
    depth = check_depth(depth)
    x = SYMBOLS.x
    return 1 / (x ** (2 - sp.Rational(2, depth)) * (1 - x))


def time_scale(depth: int) -> sp.Expr:
    r""":math:`\tau/(D s^{2-2/D})`, the factor between :math:`T_D(x)` and time."""
    depth = check_depth(depth)
    S = SYMBOLS
    return S.tau / (depth * S.s ** (2 - sp.Rational(2, depth)))


@lru_cache(maxsize=16)
def antiderivative_far_above(depth: int) -> sp.Expr:
    r""":math:`H_D(u) = \frac{u^{-p}}{p}\,{}_2F_1(1, p; 1+p; s/u)`, :math:`p = 2 - 2/D`, with
    :math:`t = \frac{\tau}{D}[H_D(u) - H_D(u_0)]` on the branch :math:`u > s` (decay from
    above).

    It is the above-branch :func:`antiderivative` times the time scale,
    :math:`\tfrac{\tau}{Ds^p}T_D(u/s) = \tfrac{\tau}{D}H_D(u)` (checked here), written so
    that :math:`s` enters only through :math:`s/u < 1`: far above :math:`s` (where
    :math:`T_D(x) \approx x^{-p}/p` is tiny and the root-of-unity form cancels), and at any
    magnitude of :math:`s` (no :math:`s^{-p}` that over- or underflows).  As :math:`s\to 0`
    it gives :math:`u = (u_0^{-p} + pDt/\tau)^{-1/p}`, the flow :math:`\tau\dot u = -Du^{p+1}`.
    Depth >= 3.
    """
    depth = check_depth(depth)
    if depth < 3:
        raise ValueError(f"depth must be >= 3 for the hypergeometric far-above form, got {depth}")
    S = SYMBOLS
    p = 2 - sp.Rational(2, depth)
    H = S.u ** (-p) / p * sp.hyper([1, p], [1 + p], S.s / S.u)
    T = antiderivative(depth, above=True).subs(S.x, S.u / S.s)
    if sp.simplify(time_scale(depth) * T - S.tau / depth * H) != 0:
        raise ArithmeticError(f"far-above form differs from the antiderivative at depth {depth}")
    return H


#: above this depth :func:`antiderivative_elementary` keeps its sums over the roots of unity
#: as SymPy ``Sum`` objects (constant size, built in milliseconds) instead of writing out
#: D/2 terms (symbolic cost grows like D^2: 25 s at D = 200)
EXPLICIT_MAX_DEPTH = 12


@lru_cache(maxsize=16)
def antiderivative_elementary(depth: int, summed: bool | None = None) -> sp.Expr:
    r"""Elementary closed form of :math:`T_D(x) = \int dx/(x^{p}(1-x))` valid on both
    branches (:math:`0<x<1` and :math:`x>1`), equal to :func:`antiderivative` up to a constant.

    With :math:`y = x^{1/D}` the integrand becomes the rational function
    :math:`D\,y^{1-D}/(1-y^D) = D\,y^{1-D} + D\,y/(1-y^D)`, and partial fractions over the
    roots of unity :math:`\omega_k = e^{2\pi i k/D}` give
    :math:`\int D y\,dy/(1-y^D) = -\sum_k \omega_k^2\ln(\omega_k - y)` (:math:`D \ge 2`).
    Pairing conjugate roots (:math:`\theta_k = 2\pi k/D`):

    .. math:: T_D = \frac{D\,y^{2-D}}{2-D} - \ln|1-y| - [D\text{ even}]\ln(1+y)
              - \sum_{0<k<D/2}\Big[\cos 2\theta_k\,\ln(1 - 2y\cos\theta_k + y^2)
              - 2\sin 2\theta_k\,\operatorname{atan2}(\sin\theta_k, \cos\theta_k - y)\Big],

    with :math:`\ln|1-y| = \ln|1-x| - \ln\sum_{j<D} y^j` so that the singular term is
    evaluated from :math:`1-x` itself.  Unlike SciPy's Gauss function at
    :math:`c = a + b` (the logarithmic case of :func:`antiderivative`), it stays accurate up
    to :math:`x \to 1` and above it.  Depth >= 3 only (depth 1, 2 are logarithms already);
    the derivative is checked to equal :func:`integrand` at points on both branches.

    ``summed`` (default: ``depth >`` :data:`EXPLICIT_MAX_DEPTH`) keeps the two sums as SymPy
    ``Sum`` objects over :math:`j` and :math:`k`, so that any depth costs the same to build
    (lambdify them without common-subexpression elimination, which would hoist the summation
    index out of its sum); a test checks both forms agree.
    """
    depth = check_depth(depth)
    if depth < 3:
        raise ValueError(f"depth must be >= 3 for the root-of-unity form, got {depth}; "
                         "depth 1 and 2 are logarithms (antiderivative)")
    if summed is None:
        summed = depth > EXPLICIT_MAX_DEPTH
    x = SYMBOLS.x
    D = depth
    y = x ** sp.Rational(1, D)

    def pair(theta):
        return (-sp.cos(2 * theta) * sp.log(1 - 2 * y * sp.cos(theta) + y**2)
                + 2 * sp.sin(2 * theta) * sp.atan2(sp.sin(theta), sp.cos(theta) - y))

    T = sp.Rational(D, 2 - D) * y ** (2 - D) - sp.log(sp.Abs(1 - x))
    if summed:
        j = sp.Symbol("j", integer=True, nonnegative=True)
        k = sp.Symbol("k", integer=True, positive=True)
        T += sp.log(sp.Sum(y**j, (j, 0, D - 1)))
        T += sp.Sum(pair(2 * sp.pi * k / D), (k, 1, (D - 1) // 2))
    else:
        T += sp.log(sp.Add(*[y**j for j in range(D)]))
        for k in range(1, (D + 1) // 2):
            T += pair(2 * sp.pi * k / D)
    if D % 2 == 0:
        T += -sp.log(1 + y)
    # the derivative at points on both branches, in 30-digit mpmath arithmetic
    check = sp.lambdify([x], sp.diff(T, x) - integrand(D), "mpmath")
    with mpmath.workdps(30):
        for probe in ("3/7", "99/100", "101/100", "7/3"):
            v = mpmath.mpf(sp.Rational(probe).p) / sp.Rational(probe).q
            scale = abs(1 / (v ** (2 - mpmath.mpf(2) / D) * (1 - v)))
            if abs(check(v)) > 1e-22 * scale:
                raise ArithmeticError(f"elementary antiderivative check failed at depth {D}")
    return T


def time_to_strength(depth: int, above: bool = False, *, elementary: bool = False) -> sp.Expr:
    r"""Time for a mode to grow from :math:`u_0` to :math:`u`:
    :math:`t(u) = \tfrac{\tau}{D s^{p}}[T_D(u/s) - T_D(u_0/s)]` (from the mode ODE by
    separation of variables, :math:`dt = \tau\,du/(D u^{p}(s-u))`).

    ``elementary=True`` (depth >= 3) uses :func:`antiderivative_elementary`, one expression
    for both branches, instead of the hypergeometric :func:`antiderivative`."""
    depth = check_depth(depth)
    S = SYMBOLS
    if elementary and depth >= 3:
        T = antiderivative_elementary(depth)
    else:
        T = antiderivative(depth, above)
    return time_scale(depth) * (T.subs(SYMBOLS.x, S.u / S.s) - T.subs(SYMBOLS.x, S.u0 / S.s))


def learning_time(depth: int, above: bool = False, *, elementary: bool = False) -> sp.Expr:
    r"""Learning time from :math:`u_0` to :math:`u_f`: :func:`time_to_strength` at :math:`u=u_f`."""
    S = SYMBOLS
    return time_to_strength(depth, above, elementary=elementary).subs(S.u, S.uf)


@lru_cache(maxsize=16)
def learning_time_asymptotic(depth: int) -> sp.Expr:
    r"""Leading small-:math:`u_0` behaviour of :func:`learning_time` (from below).

    Derived by keeping the leading term of :math:`T_D(u_0/s)` as :math:`u_0 \to 0`
    (the hypergeometric series starts at 1): :math:`\tau\ln(s/(s-u_f))` for D = 1,
    :math:`\tfrac{\tau}{2s}\ln(1/u_0)` for D = 2, :math:`\tfrac{\tau}{(D-2)s}u_0^{2/D-1}`
    for D >= 3 (diverging: deeper networks wait longer for a small mode).
    """
    depth = check_depth(depth)
    S = SYMBOLS
    full = learning_time(depth)
    if depth == 1:
        return sp.simplify(full.subs(S.u0, 0))
    if depth == 2:
        lead = sp.limit(full / sp.log(1 / S.u0), S.u0, 0)
        return sp.simplify(lead) * sp.log(1 / S.u0)
    p = 2 - sp.Rational(2, depth)
    T0 = antiderivative(depth).subs(SYMBOLS.x, S.u0 / S.s)
    lead_T0 = T0.replace(lambda e: isinstance(e, sp.hyper), lambda e: sp.S.One)
    return sp.simplify(-S.tau / (depth * S.s**p) * lead_T0)


def online_sgd_time_constant() -> sp.Expr:
    r""":math:`\tau` in epochs of online SGD on one-hot items (seed 001 Exercise 2).

    Per item the loss is :math:`\tfrac1N\lVert y - W x\rVert^2` (mean over the :math:`N`
    outputs), so one step is :math:`\Delta W = \tfrac{2\eta}{N}(y - Wx)x^\top`.  Summed
    over the :math:`P` items of one epoch (weights nearly constant for small :math:`\eta`),
    with one-hot :math:`x` (:math:`\sum_\mu x x^\top = I`) and
    :math:`\sum_\mu y x^\top = Y^\top`: :math:`\Delta W_{\text{epoch}} =
    \tfrac{2\eta}{N}(Y^\top - W)`, i.e. the gradient flow
    :math:`\tau\,dW/dt = \Sigma^{yx} - W\Sigma^x` with :math:`\Sigma^{yx} = Y^\top`,
    :math:`\Sigma^x = I`, :math:`t` in epochs and :math:`\tau = N/(2\eta)`.  The same
    scaling holds for every layer of a deep network (each layer's step carries the same
    :math:`2\eta/N`).  Returned in the symbols ``eta`` (learning rate) and ``N``."""
    eta, n_out = sp.symbols("eta N", positive=True)
    return n_out / (2 * eta)


# ----------------------------------------------------------------------------------------
# full-matrix gradient flow
# ----------------------------------------------------------------------------------------

def _chain(mats):
    out = None
    for m in mats:  # mats listed as W_l ... in application order (W_1 first)
        out = m if out is None else m * out
    return out


def loss(weights, Syx, Sx, Sy_trace=0):
    r"""Mean squared error of :math:`W = W_D\cdots W_1` (``weights`` = [W_1, ..., W_D]):
    :math:`\tfrac12\operatorname{tr}\Sigma^y - \operatorname{tr}(W\Sigma^{yx\top})
    + \tfrac12\operatorname{tr}(W\Sigma^x W^\top)`."""
    W = _chain(weights)
    return (sp.Rational(1, 2) * Sy_trace - (W * Syx.T).trace()
            + sp.Rational(1, 2) * (W * Sx * W.T).trace())


def gradient_flow(weights, Syx, Sx, tau=None):
    r"""Right-hand sides :math:`\tau\dot W_l` (:math:`\dot W_l` if ``tau`` given), seed (1)-(3):

    .. math:: \tau\dot W_l = (W_D\cdots W_{l+1})^\top(\Sigma^{yx} - W\Sigma^x)
              (W_{l-1}\cdots W_1)^\top .

    ``weights`` may be explicit matrices or :class:`sympy.MatrixSymbol` s (then the result
    is a matrix expression, lambdified by :mod:`numerics.deep_linear` into matmuls).
    Depth 1 gives eq. (3), depth 2 eqs. (1)-(2).
    """
    D = len(weights)
    W = _chain(weights)
    err = Syx - W * Sx
    out = []
    for l in range(D):
        term = err
        above = weights[l + 1:]
        below = weights[:l]
        if above:
            term = _chain(above).T * term
        if below:
            term = term * _chain(below).T
        out.append(term if tau is None else term / tau)
    return out


def gradient_flow_check(depth: int, dims=None, *, points: int = 2, seed: int = 0) -> bool:
    r"""Check :func:`gradient_flow` against ``sympy.diff`` of :func:`loss`, entry by entry.

    Explicit symbolic matrices of small sizes ``dims`` (n_in, hidden..., n_out).  For every
    entry the symbolic derivative :math:`-\partial\mathcal L/\partial (W_l)_{ij}` minus the
    formula's entry is a polynomial; it is evaluated exactly (rational arithmetic) at
    ``points`` random integer points (Schwartz-Zippel identity test), and at depth <= 2
    also expanded to zero symbolically.  Returns True when all vanish.
    """
    import random

    depth = check_depth(depth)
    if dims is None:
        dims = [2] + [2 + (k % 2) for k in range(depth - 1)] + [3]
    if len(dims) != depth + 1:
        raise ValueError(f"dims must have depth + 1 = {depth + 1} entries, got {len(dims)}")
    weights = [sp.Matrix(dims[l + 1], dims[l], lambda i, j, l=l: sp.Symbol(f"w{l}_{i}_{j}"))
               for l in range(depth)]
    Syx = sp.Matrix(dims[-1], dims[0], lambda i, j: sp.Symbol(f"syx_{i}_{j}"))
    Sx = sp.Matrix(dims[0], dims[0], lambda i, j: sp.Symbol(f"sx_{min(i, j)}_{max(i, j)}"))
    L = loss(weights, Syx, Sx)
    flows = gradient_flow(weights, Syx, Sx)
    free = sorted(L.free_symbols, key=lambda v: v.name)
    rng = random.Random(seed)
    subs_list = [{v: sp.Integer(rng.randint(-9, 9)) for v in free} for _ in range(points)]
    for Wl, Fl in zip(weights, flows):
        for i in range(Wl.rows):
            for j in range(Wl.cols):
                diff = -sp.diff(L, Wl[i, j]) - Fl[i, j]
                if any(diff.xreplace(sub) != 0 for sub in subs_list):
                    return False
                if depth <= 2 and sp.expand(diff) != 0:
                    return False
    return True


def matrix_symbols(depth: int):
    """MatrixSymbols ``(weights, Syx, Sx, tau)`` with symbolic sizes for the depth-D flow."""
    depth = check_depth(depth)
    n = sp.symbols(f"n0:{depth + 1}", integer=True, positive=True)
    weights = [sp.MatrixSymbol(f"W{l + 1}", n[l + 1], n[l]) for l in range(depth)]
    Syx = sp.MatrixSymbol("Sigma_yx", n[-1], n[0])
    Sx = sp.MatrixSymbol("Sigma_x", n[0], n[0])
    return weights, Syx, Sx, SYMBOLS.tau


__all__ += ["matrix_symbols"]


@register_latex("deep-linear", "deep linear networks (seed 001): mode ODEs, dsolve solutions, "
                "learning times at any depth, full-matrix gradient flow")
def deep_linear_latex() -> LatexModel:
    """LaTeX: flows, mode ODEs, their solutions (seed eqs. (4), (5)), t(u) for any depth."""
    weights, Syx, Sx, tau = matrix_symbols(2)
    flows = [Rel(Tex(rf"\tau \frac{{dW_{l + 1}}}{{dt}}", ("tau", f"W{l + 1}", "t")), rhs)
             for l, rhs in enumerate(gradient_flow(weights, Syx, Sx))]
    general = Rel(Tex(r"\tau \frac{dW_l}{dt}", ("tau", "W1", "t")),
                  Tex(r"(W_D\cdots W_{l+1})^\top(\Sigma^{yx} - W\Sigma^x)(W_{l-1}\cdots W_1)^\top",
                      ("D", "W1", "Sigma_yx", "W", "Sigma_x")))
    dudt = Tex(r"\tau \frac{du}{dt}", ("tau", "u", "t"))
    modes = [Rel(dudt, rate(D), note=Tex(rf"(D = {D})", ("D",))) for D in (1, 2, 3)]
    modes.append(Rel(dudt, Tex(r"D\,u^{2-2/D}\,(s-u)", ("D", "u", "s")),
                     note=Tex(r"(\text{any } D)", ("D",))))
    times = [Rel(Tex("t(u)", ("t", "u")), time_to_strength(D), note=Tex(rf"(D = {D})", ("D",)))
             for D in (2, 3, 4)]
    asym = [Rel(Tex(rf"t_{{D={D}}}", ("t", "D")), learning_time_asymptotic(D), r"\simeq")
            for D in (1, 2, 3, 4)]
    return LatexModel(
        title="Deep linear networks (Saxe, McClelland and Ganguli 2014)",
        summary=r"A network $\hat y = W_D\cdots W_1 x$ trained by gradient flow on the mean "
                r"squared error $\mathcal{L} = \frac{1}{2}\operatorname{tr}\Sigma^y - "
                r"\operatorname{tr}(W\Sigma^{xy}) + \frac{1}{2}\operatorname{tr}(W\Sigma^x "
                r"W^\top)$, $W = W_D\cdots W_1$. The flows are derived by differentiating the loss "
                "(checked entry by entry), the mode equations from the per-mode loss of a "
                "balanced decoupled initialisation, their solutions by dsolve (checked by "
                "checkodesol) and the learning times by separation of variables.",
        source="seed 001 (Saxe et al. exercises), eqs. (1)-(5)",
        equations=[
            Equation("Full-matrix gradient flow, one hidden layer ($D = 2$) and any depth:",
                     flows + [general]),
            Equation("Strength $u$ of one mode of a balanced decoupled initialisation:", modes),
            Equation("Solutions by dsolve: shallow network (seed eq. (5)) and one hidden "
                     "layer (seed eq. (4)),",
                     [Rel(Tex("b(t)", ("b", "t")), mode_solution(1)),
                      Rel(Tex("a(t)", ("a", "t")), mode_solution(2))]),
            Equation("Time to reach $u$ from $u_0$ (separation of variables; "
                     "${}_2F_1$ is Gauss's hypergeometric function):", times),
            Equation("The elementary antiderivative behind $t(u)$ at $D = 3$ (both branches, "
                     "$x = u/s$):", Rel(Tex("T_3(x)", ("x",)), antiderivative_elementary(3))),
            Equation("Small-$u_0$ asymptotics of the learning time from $u_0$ to $u_f$:", asym),
        ],
        symbols=[
            Sym("tau", r"\tau", r"the time constant (one over the learning rate)"),
            Sym(r"W(\d+)", "W_{#1}", "the weight matrix of layer $l$", generic="W_l"),
            Sym("t", "t", "time"),
            Sym("Sigma_yx", r"\Sigma^{yx}", "the input-output covariance $E[yx^\\top]$"),
            Sym("Sigma_x", r"\Sigma^{x}", "the input covariance $E[xx^\\top]$"),
            Sym("D", "D", "the depth (number of weight matrices)"),
            Sym("W", "W", r"$= W_D\cdots W_1$, the network's input-output map"),
            Sym("u", "u", "the strength of a mode (its singular value in $W$)"),
            Sym("s", "s", "the target singular value of that mode (of $\\Sigma^{yx}$)"),
            Sym("b", "b", "the mode strength of the shallow network"),
            Sym("a", "a", "the mode strength of the network with one hidden layer"),
            Sym("u0", "u_0", "the initial strength"),
            Sym("x", "x", r"$= u/s$"),
            Sym("u_f", "u_f", "the final strength"),
        ],
    )
