r"""Finite-learning-rate theory of an online rule: the :math:`O(\eta)` corrections, derived.

Every flow in learndyn is the :math:`\eta\to0` limit of an online rule
:math:`w_{n+1} = w_n + \eta f(w_n, \xi_n)` at fixed time :math:`t = \eta n`.  With the
drift :math:`F(w) = \langle f\rangle`, its Jacobian :math:`J = \partial F/\partial w` and the
update covariance :math:`\Sigma(w) = \langle ff^\top\rangle - FF^\top` (everything the moment
engine :func:`theory.moments.derive_moments` takes), this module derives the corrections.

**Modified equation.**  Match the first two moments of one update,
:math:`E[\Delta w] = \eta F`, :math:`E[\Delta w\Delta w^\top] = \eta^2(FF^\top + \Sigma)`, with
those of an SDE :math:`dW = b\,dt + \sqrt{\eta}\,\sigma\,dB` over a time :math:`\eta`:
:math:`E[\Delta W] = \eta b + \tfrac{\eta^2}{2}(\partial b)\,b + O(\eta^3)` gives

.. math:: b = F - \frac{\eta}{2}\,J F, \qquad \sigma\sigma^\top = \Sigma,

the stochastic modified equation of Li, Tai & E (ICML 2017; JMLR 2019), a weak
approximation of order 2 (for a gradient rule :math:`F = -\nabla L` the drift is
:math:`-\nabla(L + \tfrac{\eta}{4}|\nabla L|^2)`, their second-order SME).

**Moments to first order in** :math:`\eta`.  From a deterministic start the SDE's covariance
is :math:`O(\eta)`; writing :math:`\langle w\rangle = \bar w + \eta\,\delta + O(\eta^2)`,
:math:`\operatorname{Cov}(w) = \eta\,\Gamma + O(\eta^2)` and expanding the drift to second order
in :math:`w - \langle w\rangle` (the second-order term of the moment equations, Schmid &
Murray eqs. (10)-(11), with the :math:`\eta\Sigma` diffusion of the engine's
``finite_lr=True``):

.. math::

    \dot{\bar w} = F(\bar w), \qquad
    \dot\delta = J\delta - \tfrac12 JF + \tfrac12\textstyle\sum_{kl}\Gamma_{kl}\,
        \partial_k\partial_l F, \qquad
    \dot\Gamma = J\Gamma + \Gamma J^\top + \Sigma(\bar w),

all evaluated on :math:`\bar w(t)`, with :math:`\delta(0) = 0`, :math:`\Gamma(0) = 0`.  The
:math:`-\tfrac12 JF` term is the discretisation (the deterministic Euler map's own bias);
the :math:`\Gamma` term is the fluctuations feeding back through the drift's curvature.
An observable :math:`g(w)` then has
:math:`E[g(w_n)] = g(\bar w) + \eta\,[\nabla g\cdot\delta + \tfrac12\sum_{kl}\Gamma_{kl}
\partial_k\partial_l g] + O(\eta^2)` (:meth:`FiniteLrSystem.observable_correction`).

**Stationary state** (:func:`stationary_expansion`), at a fixed point :math:`F(w^*) = 0` with
stable :math:`J`: expanding the *exact* stationarity conditions of the chain,
:math:`E[F(w)] = 0` and :math:`E[(u + \eta f)^{\otimes k}] = E[u^{\otimes k}]` for
:math:`u = w - w^*`, order by order (:math:`E[u] = \eta\delta_1 + \eta^2\delta_2`,
:math:`E[uu^\top] = \eta K_1 + \eta^2 K_2`, :math:`E[u^{\otimes 3}] = \eta^2 T_2`,
:math:`E[u^{\otimes 4}] = \eta^2\,3\,\mathrm{sym}(K_1\otimes K_1)`):

.. math::

    JK_1 + K_1J^\top + \Sigma^* = 0, \qquad J\delta_1 + \tfrac12 H{:}K_1 = 0,

and at the next order a linear equation for :math:`T_2` (it needs the third moment
:math:`\langle f^{\otimes3}\rangle(w^*)` of the update), then :math:`K_2` and
:math:`\delta_2` (:class:`StationaryExpansion` documents each).  These are the
:math:`O(\eta)` and :math:`O(\eta^2)` Taylor coefficients of the stationary moments; for LMS
and for the discrete Ornstein–Uhlenbeck process tests check them against the series of the
exact discrete-time fixed points (Feuer & Weinstein 1985 for LMS).

Everything here is SymPy (small explicit :math:`n`); :mod:`numerics.finite_lr` lambdifies
and integrates it.  N-dimensional models with symmetry (the perceptron) assemble the same
equations through scalars (:mod:`numerics.perceptron_finite_lr`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from theory.latex import Equation, LatexModel, Rel, Sym, Tex, register_latex
from theory.moments import MomentSystem, _as_column, covariance_symbols

__all__ = [
    "ETA", "delta_symbols", "FiniteLrSystem", "derive_finite_lr", "from_moment_system",
    "modified_drift", "StationaryExpansion", "stationary_expansion", "ou_system",
    "mode_map_half_time", "ModeMapHalfTime",
]

ETA = sp.Symbol("eta", positive=True)


def delta_symbols(n: int, name: str = "delta") -> tuple[sp.Symbol, ...]:
    r"""The first-order mean-shift symbols :math:`\delta_0..\delta_{n-1}`."""
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    return tuple(sp.Symbol(f"{name}_{i}", real=True) for i in range(n))


def _hessian_contraction(F: sp.Matrix, w: sp.Matrix, G: sp.Matrix) -> sp.ImmutableMatrix:
    """:math:`\\sum_{kl} G_{kl}\\partial_k\\partial_l F_i` for each i."""
    n = len(w)
    out = []
    for i in range(F.shape[0]):
        H = sp.hessian(F[i, 0], w)
        out.append(sum(G[k, l] * H[k, l] for k in range(n) for l in range(n)))
    return sp.ImmutableMatrix(len(out), 1, out)


def modified_drift(drift, weights, eta: sp.Symbol = ETA) -> sp.ImmutableMatrix:
    r"""The drift :math:`F - \tfrac{\eta}{2}JF` of the stochastic modified equation
    (Li, Tai & E 2017/2019), derived by differentiating ``drift`` in ``weights``."""
    w = sp.Matrix(weights)
    F = _as_column(drift, len(w), "drift")
    J = F.jacobian(w)
    return sp.ImmutableMatrix(F - eta / 2 * J * F)


@dataclass(frozen=True)
class FiniteLrSystem:
    r"""First-order finite-learning-rate equations of an online rule (module docstring).

    State, in the order of :attr:`state_symbols`: the flow :math:`\bar w` (the weight
    symbols), the mean shift :math:`\delta` (``delta_i``) and the covariance coefficient
    :math:`\Gamma` (``Gamma_i_j``, upper triangle row-major); ``E[w] = w + eta delta`` and
    ``Cov(w) = eta Gamma`` to first order.
    """

    name: str
    weights: tuple[sp.Symbol, ...]
    params: tuple[sp.Symbol, ...]
    eta: sp.Symbol
    drift: sp.ImmutableMatrix
    jacobian: sp.ImmutableMatrix
    update_cov: sp.ImmutableMatrix
    modified_drift: sp.ImmutableMatrix
    delta: tuple[sp.Symbol, ...]
    Gamma: sp.ImmutableMatrix
    delta_rhs: sp.ImmutableMatrix
    gamma_rhs: sp.ImmutableMatrix
    discretisation: sp.ImmutableMatrix
    fluctuation: sp.ImmutableMatrix

    @property
    def n(self) -> int:
        return len(self.weights)

    @property
    def state_symbols(self) -> tuple[sp.Symbol, ...]:
        """``w_0..w_{n-1}``, ``delta_0..delta_{n-1}``, ``Gamma_i_j`` (i <= j, row-major)."""
        n = self.n
        g = [self.Gamma[i, j] for i in range(n) for j in range(i, n)]
        return tuple(self.weights) + tuple(self.delta) + tuple(g)

    @property
    def state_rhs(self) -> tuple[sp.Expr, ...]:
        """Right-hand sides in the order of :attr:`state_symbols`."""
        n = self.n
        g = [self.gamma_rhs[i, j] for i in range(n) for j in range(i, n)]
        return (tuple(self.drift[i, 0] for i in range(n))
                + tuple(self.delta_rhs[i, 0] for i in range(n)) + tuple(g))

    @property
    def second_moment(self) -> sp.ImmutableMatrix:
        r""":math:`\langle ff^\top\rangle = \Sigma + FF^\top`."""
        return sp.ImmutableMatrix(self.update_cov + self.drift * self.drift.T)

    def observable_correction(self, g) -> sp.Expr:
        r"""The :math:`O(\eta)` coefficient of :math:`E[g(w)]`:
        :math:`\nabla g\cdot\delta + \tfrac12\sum_{kl}\Gamma_{kl}\partial_k\partial_l g`
        (``g`` an expression in the weights; evaluated on the flow)."""
        g = sp.sympify(g)
        w = sp.Matrix(self.weights)
        grad = sp.Matrix([sp.diff(g, x) for x in self.weights])
        H = sp.hessian(g, w)
        n = self.n
        return (sum(grad[i] * self.delta[i] for i in range(n))
                + sp.Rational(1, 2) * sum(self.Gamma[k, l] * H[k, l]
                                          for k in range(n) for l in range(n)))

    def moment_system(self, correction=sp.Rational(1, 2)) -> MomentSystem:
        """The engine's moment equations (seed 002 eqs. (10)-(11)) of the *modified* drift with
        the :math:`\\eta\\Sigma` diffusion term: the resummed form of the same approximation
        (equal to this system to first order in eta)."""
        from theory.moments import derive_moments

        sm = self.update_cov + self.modified_drift * self.modified_drift.T
        return derive_moments(self.modified_drift, self.weights, sm, correction=correction,
                              finite_lr=True, eta=self.eta, name=f"{self.name} (modified)")


def derive_finite_lr(drift, weights, second_moment=None, *, update_cov=None,
                     eta: sp.Symbol | None = None, name: str = "online rule") -> FiniteLrSystem:
    r"""Derive the first-order finite-learning-rate system of ``w <- w + eta f``.

    ``drift``: :math:`\langle f\rangle(w)` (column, ``n`` rows); ``weights``: the ``n`` weight
    symbols; give either ``second_moment`` :math:`\langle ff^\top\rangle(w)` (as the moment
    engine takes it) or ``update_cov`` :math:`\Sigma(w)` (``n x n``).
    """
    weights = tuple(weights)
    if not weights or not all(isinstance(x, sp.Symbol) for x in weights):
        raise TypeError("weights must be a non-empty sequence of sympy Symbols")
    if len(set(weights)) != len(weights):
        raise ValueError("weights must be distinct symbols")
    n = len(weights)
    F = _as_column(drift, n, "drift")
    if (second_moment is None) == (update_cov is None):
        raise ValueError("give exactly one of second_moment <f f^T> and update_cov Sigma")
    if update_cov is None:
        M2 = sp.Matrix(second_moment)
        if M2.shape != (n, n):
            raise ValueError(f"second_moment must be {n}x{n}, got {M2.shape}")
        S = (M2 - F * F.T).applyfunc(sp.expand)
    else:
        S = sp.Matrix(update_cov)
        if S.shape != (n, n):
            raise ValueError(f"update_cov must be {n}x{n}, got {S.shape}")
    if (S - S.T).applyfunc(sp.simplify) != sp.zeros(n, n):
        raise ValueError("the update covariance must be symmetric")
    eta = ETA if eta is None else eta
    w = sp.Matrix(weights)
    d = delta_symbols(n)
    G = covariance_symbols(n, "Gamma")
    clash = (set(d) | set(G.free_symbols)) & (F.free_symbols | S.free_symbols | {eta})
    if clash:
        raise ValueError(f"symbols {sorted(map(str, clash))} clash with delta_i / Gamma_i_j")
    J = F.jacobian(w)
    disc = -sp.Rational(1, 2) * J * F
    fluct = sp.Rational(1, 2) * _hessian_contraction(F, w, G)
    delta_rhs = J * sp.Matrix(d) + disc + fluct
    gam = J * G + G * J.T + S
    gamma_rhs = sp.ImmutableMatrix(n, n, lambda i, j: gam[min(i, j), max(i, j)])
    free = set(F.free_symbols) | set(S.free_symbols)
    params = tuple(sorted(free - set(weights), key=lambda s: s.name))
    return FiniteLrSystem(
        name=name, weights=weights, params=params, eta=eta, drift=F,
        jacobian=sp.ImmutableMatrix(J), update_cov=sp.ImmutableMatrix(S),
        modified_drift=sp.ImmutableMatrix(F - eta / 2 * J * F), delta=d, Gamma=G,
        delta_rhs=sp.ImmutableMatrix(delta_rhs), gamma_rhs=gamma_rhs,
        discretisation=sp.ImmutableMatrix(disc), fluctuation=sp.ImmutableMatrix(fluct))


def from_moment_system(system: MomentSystem) -> FiniteLrSystem:
    """The finite-learning-rate system of a rule given to the moment engine (it must carry
    its second moment ``<f f^T>``)."""
    if system.second_moment is None:
        raise ValueError(f"moment system {system.name!r} has no second moment <f f^T>; derive "
                         "it with second_moment=... to get the finite-learning-rate theory")
    return derive_finite_lr(system.drift, system.weights, system.second_moment,
                            eta=system.eta, name=system.name)


# ------------------------------------------------------------------------------ stationary


def _grad_tensor(exprs, w, order: int) -> dict:
    """All partial derivatives of the entries of ``exprs`` (a dict index -> expr) up to
    ``order``: ``{(idx, (k, l, ...)): expr}`` with sorted derivative indices."""
    out = {}
    for idx, e in exprs.items():
        out[(idx, ())] = e
        frontier = {(): e}
        for _ in range(order):
            nxt = {}
            for ks, ex in frontier.items():
                for k in range(len(w)):
                    key = tuple(sorted(ks + (k,)))
                    if key not in nxt:
                        nxt[key] = sp.diff(ex, w[k])
            out.update({(idx, ks): ex for ks, ex in nxt.items()})
            frontier = nxt
    return out


def _sym_key(*idx) -> tuple:
    return tuple(sorted(idx))


@dataclass(frozen=True)
class StationaryExpansion:
    r"""Stationary moments of the chain at a fixed point, as series in :math:`\eta`.

    With :math:`u = w - w^*`: :math:`E[u] = \eta\,\delta_1 + \eta^2\delta_2`,
    :math:`E[uu^\top] = \eta K_1 + \eta^2 K_2`, :math:`E[u^{\otimes3}] = \eta^2 T_2` (only
    ``order=2`` fills ``K2``, ``T2``, ``delta2``).  Equations (indices summed; :math:`H_{ikl} =
    \partial_k\partial_lF_i`, :math:`F^{(3)}, F^{(4)}` the higher derivatives,
    :math:`M_2 = \langle ff^\top\rangle`, :math:`M_3 = \langle f^{\otimes3}\rangle`, all at
    :math:`w^*`, :math:`Q_{iklm} = K_{1,ik}K_{1,lm} + K_{1,il}K_{1,km} + K_{1,im}K_{1,kl}`):

    * :math:`JK_1 + K_1J^\top + \Sigma^* = 0`; :math:`J\delta_1 + \tfrac12 H{:}K_1 = 0`;
    * :math:`\sum_{\text{3 placements}}\big[J_{kl}T_{ijl} + \tfrac12 H_{klm}Q_{ijlm}\big]
      + \sum_{\text{3 placements}}\big[\Sigma^*_{jk}\delta_{1,i} + \partial_lM_{2,jk}K_{1,il}\big]
      + M_{3,ijk} = 0` (the third moment of :math:`u + \eta f` equals that of :math:`u`);
    * :math:`A + A^\top + \partial_kM_2\,\delta_{1,k}
      + \tfrac12\partial_k\partial_lM_2\,K_{1,kl} = 0`,
      :math:`A_{ij} = J_{jk}K_{2,ik} + \tfrac12H_{jkl}T_{ikl} + \tfrac16F^{(3)}_{jklm}Q_{iklm}`;
    * :math:`J\delta_2 + \tfrac12H{:}K_2 + \tfrac16F^{(3)}{:}T_2 + \tfrac1{24}F^{(4)}{:}Q = 0`.
    """

    name: str
    weights: tuple[sp.Symbol, ...]
    point: dict
    eta: sp.Symbol
    order: int
    J: sp.ImmutableMatrix
    K1: sp.ImmutableMatrix
    delta1: sp.ImmutableMatrix
    K2: sp.ImmutableMatrix | None = None
    T2: dict | None = None
    delta2: sp.ImmutableMatrix | None = None

    @property
    def n(self) -> int:
        return len(self.weights)

    def mean(self) -> sp.ImmutableMatrix:
        r""":math:`E[w] = w^* + \eta\delta_1\,(+\,\eta^2\delta_2)`."""
        w = sp.Matrix([self.point[x] for x in self.weights])
        out = w + self.eta * self.delta1
        if self.delta2 is not None:
            out += self.eta**2 * self.delta2
        return sp.ImmutableMatrix(out)

    def second_moment(self) -> sp.ImmutableMatrix:
        r""":math:`E[(w-w^*)(w-w^*)^\top] = \eta K_1\,(+\,\eta^2K_2)`."""
        out = self.eta * self.K1
        if self.K2 is not None:
            out = out + self.eta**2 * self.K2
        return sp.ImmutableMatrix(out)

    def covariance(self) -> sp.ImmutableMatrix:
        r""":math:`\operatorname{Cov}(w) = \eta K_1\,(+\,\eta^2(K_2 - \delta_1\delta_1^\top))`."""
        out = self.second_moment()
        if self.K2 is not None:
            out = out - self.eta**2 * self.delta1 * self.delta1.T
        return sp.ImmutableMatrix(out)

    def expectation(self, g) -> sp.Expr:
        r"""Stationary :math:`E[g(w)]` to :math:`O(\eta^{\text{order}})` (Taylor expansion of
        ``g`` about :math:`w^*` with the moments above; Gaussian fourth moment at leading
        order)."""
        g = sp.sympify(g)
        w = list(self.weights)
        n = self.n
        pt = self.point
        D = _grad_tensor({0: g}, w, 2 * self.order)

        def d(*ks):
            return D[(0, tuple(sorted(ks)))].subs(pt)

        out = g.subs(pt)
        out += self.eta * sum(d(k) * self.delta1[k] for k in range(n))
        out += self.eta / 2 * sum(d(k, l) * self.K1[k, l] for k in range(n) for l in range(n))
        if self.order >= 2:
            K1 = self.K1
            out += self.eta**2 * sum(d(k) * self.delta2[k] for k in range(n))
            out += self.eta**2 / 2 * sum(d(k, l) * self.K2[k, l]
                                         for k in range(n) for l in range(n))
            out += self.eta**2 / 6 * sum(d(k, l, m) * self.T2[_sym_key(k, l, m)]
                                         for k, l, m in itertools.product(range(n), repeat=3))
            out += self.eta**2 / 24 * sum(
                d(k, l, m, p) * (K1[k, l] * K1[m, p] + K1[k, m] * K1[l, p] + K1[k, p] * K1[l, m])
                for k, l, m, p in itertools.product(range(n), repeat=4))
        return sp.expand(out)


def _solve_linear(eqs, unknowns, what: str, simplify: bool) -> dict:
    sol = sp.linsolve([sp.expand(e) for e in eqs], list(unknowns))
    if not sol:
        raise ArithmeticError(f"no solution for {what} (is the Jacobian at the fixed point "
                              "stable?)")
    (values,) = sol
    if any(v.free_symbols & set(unknowns) for v in values):
        raise ArithmeticError(f"{what} is not unique (the Jacobian has eigenvalues summing "
                              "to zero)")
    f = sp.simplify if simplify else sp.factor
    return {u: f(v) for u, v in zip(unknowns, values)}


def stationary_expansion(system: FiniteLrSystem, point: dict, *, order: int = 1,
                         third_moment=None, simplify: bool = True) -> StationaryExpansion:
    r"""Stationary moments at the fixed point ``point`` (``{weight: value}``) to
    :math:`O(\eta^{\text{order}})`, ``order`` 1 or 2 (:class:`StationaryExpansion`).

    ``third_moment`` (``order=2`` only): :math:`\langle f_if_jf_k\rangle` at :math:`w^*`, as a
    function ``(i, j, k) -> expr`` or a nested sequence / SymPy Array (``n x n x n``); it may
    hold the weights (they are set to ``point``).  ``ValueError`` if ``point`` is not a fixed
    point of the drift.
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    w = list(system.weights)
    n = len(w)
    if set(point) != set(w):
        raise ValueError(f"point must give a value for each weight {[str(x) for x in w]}")
    F = system.drift
    F_star = F.subs(point).applyfunc(sp.simplify)
    if F_star != sp.zeros(n, 1):
        raise ValueError(f"point is not a fixed point of the drift: F(w*) = {list(F_star)}")
    if order == 2 and third_moment is None:
        raise ValueError("order=2 needs third_moment <f_i f_j f_k> at the fixed point")
    DF = _grad_tensor({i: F[i, 0] for i in range(n)}, w, 4 if order == 2 else 2)

    def dF(i, *ks):
        return DF[(i, tuple(sorted(ks)))].subs(point)

    J = sp.ImmutableMatrix(n, n, lambda i, k: sp.simplify(dF(i, k)))
    S = system.update_cov.subs(point)
    # K1: Lyapunov equation
    K1s = covariance_symbols(n, "K1")
    eqs = J * K1s + K1s * J.T + S
    sol = _solve_linear([eqs[i, j] for i in range(n) for j in range(i, n)],
                        sorted(K1s.free_symbols, key=str), "K1 (Lyapunov)", simplify)
    K1 = sp.ImmutableMatrix(K1s.subs(sol))
    Hk = [[[dF(i, k, l) for l in range(n)] for k in range(n)] for i in range(n)]
    h = sp.Matrix([sum(Hk[i][k][l] * K1[k, l] for k in range(n) for l in range(n)) / 2
                   for i in range(n)])
    d1 = sp.ImmutableMatrix((-J.inv() * h).applyfunc(sp.simplify if simplify else sp.factor))
    if order == 1:
        return StationaryExpansion(system.name, tuple(w), dict(point), system.eta, 1, J, K1, d1)

    def Q(i, k, l, m):
        return K1[i, k] * K1[l, m] + K1[i, l] * K1[k, m] + K1[i, m] * K1[k, l]

    M2 = system.second_moment
    DM = _grad_tensor({(i, j): M2[i, j] for i in range(n) for j in range(n)}, w, 2)

    def dM(i, j, *ks):
        return DM[((i, j), tuple(sorted(ks)))].subs(point)

    if callable(third_moment):
        M3 = {(i, j, k): sp.sympify(third_moment(i, j, k)).subs(point)
              for i, j, k in itertools.product(range(n), repeat=3)}
    else:
        arr = sp.Array(third_moment)
        if arr.shape != (n, n, n):
            raise ValueError(f"third_moment must be {n}x{n}x{n}, got shape {arr.shape}")
        M3 = {(i, j, k): sp.sympify(arr[i, j, k]).subs(point)
              for i, j, k in itertools.product(range(n), repeat=3)}
    # T2: symmetric third moment, from the stationarity of E[u^{(x)3}]
    keys3 = sorted({_sym_key(*ix) for ix in itertools.product(range(n), repeat=3)})
    Tsym = {k: sp.Symbol("T_" + "_".join(map(str, k)), real=True) for k in keys3}

    def T(*ix):
        return Tsym[_sym_key(*ix)]

    def A3(a, b, c):  # E[u_a u_b F_c] / eta^2
        return (sum(dF(c, l) * T(a, b, l) for l in range(n))
                + sp.Rational(1, 2) * sum(dF(c, l, m) * Q(a, b, l, m)
                                          for l in range(n) for m in range(n)))

    def B3(a, b, c):  # E[u_a M2_bc] / eta^2
        return S[b, c] * d1[a] + sum(dM(b, c, l) * K1[a, l] for l in range(n))

    eqs3 = []
    for i, j, k in keys3:
        eqs3.append(A3(j, k, i) + A3(i, k, j) + A3(i, j, k)
                    + B3(k, i, j) + B3(j, i, k) + B3(i, j, k) + M3[(i, j, k)])
    solT = _solve_linear(eqs3, list(Tsym.values()), "T2 (third moment)", simplify)
    T2 = {k: solT[s] for k, s in Tsym.items()}
    # K2
    K2s = covariance_symbols(n, "K2")

    def A2(i, j):  # O(eta^2) part of E[u_i F_j] / eta^2
        return (sum(dF(j, k) * K2s[i, k] for k in range(n))
                + sp.Rational(1, 2) * sum(dF(j, k, l) * T2[_sym_key(i, k, l)]
                                          for k in range(n) for l in range(n))
                + sp.Rational(1, 6) * sum(dF(j, k, l, m) * Q(i, k, l, m)
                                          for k, l, m in itertools.product(range(n), repeat=3)))

    eqs2 = []
    for i in range(n):
        for j in range(i, n):
            e = A2(i, j) + A2(j, i) + sum(dM(i, j, k) * d1[k] for k in range(n))
            e += sp.Rational(1, 2) * sum(dM(i, j, k, l) * K1[k, l]
                                         for k in range(n) for l in range(n))
            eqs2.append(e)
    solK = _solve_linear(eqs2, sorted(K2s.free_symbols, key=str), "K2", simplify)
    K2 = sp.ImmutableMatrix(K2s.subs(solK))
    rhs = sp.Matrix([
        sp.Rational(1, 2) * sum(dF(i, k, l) * K2[k, l] for k in range(n) for l in range(n))
        + sp.Rational(1, 6) * sum(dF(i, k, l, m) * T2[_sym_key(k, l, m)]
                                  for k, l, m in itertools.product(range(n), repeat=3))
        + sp.Rational(1, 24) * sum(dF(i, k, l, m, p) * Q(k, l, m, p)
                                   for k, l, m, p in itertools.product(range(n), repeat=4))
        for i in range(n)])
    d2 = sp.ImmutableMatrix((-J.inv() * rhs).applyfunc(sp.simplify if simplify else sp.factor))
    return StationaryExpansion(system.name, tuple(w), dict(point), system.eta, 2, J, K1, d1,
                               K2, T2, d2)


# ------------------------------------------------------------------------ reference models


@lru_cache(maxsize=8)
def ou_system(n: int = 1) -> tuple[FiniteLrSystem, sp.ImmutableMatrix, sp.ImmutableMatrix,
                                   sp.ImmutableMatrix]:
    r"""The discrete Ornstein–Uhlenbeck rule :math:`f = -A(w - b) + \xi`,
    :math:`\xi\sim N(0, S)` independent of :math:`w`: drift :math:`-A(w-b)`, update covariance
    :math:`S` (symbols ``A_i_j``, ``b_i``, ``S_i_j``).  Returns ``(system, A, b, S)``."""
    A = sp.ImmutableMatrix(n, n, lambda i, j: sp.Symbol(f"A_{i}_{j}", real=True))
    S = covariance_symbols(n, "S")
    b = sp.ImmutableMatrix(n, 1, lambda i, j: sp.Symbol(f"b_{i}", real=True))
    w = sp.symbols(f"w0:{n}", real=True)
    F = -A * (sp.Matrix(w) - b)
    return (derive_finite_lr(F, w, update_cov=S, name=f"discrete Ornstein-Uhlenbeck (n={n})"),
            A, b, S)


@dataclass(frozen=True)
class ModeMapHalfTime:
    r"""Small-step expansion of the time a one-dimensional map
    :math:`c_{n+1} = c_n + h\,g(c_n)` takes from :math:`c_0` to :math:`c_1`, in units where
    the flow is :math:`\dot c = g(c)`:
    :math:`n h = T_0 + h\,T_1 + O(h^2)` with :math:`T_0 = \int_{c_0}^{c_1}dc/g` and, from the
    modified equation :math:`\dot c = g - \tfrac h2 g'g`,
    :math:`T_1 = \tfrac12\int_{c_0}^{c_1} g'/g\,dc = \tfrac12\ln\frac{g(c_1)}{g(c_0)}`."""

    c: sp.Symbol
    c0: sp.Symbol
    c1: sp.Symbol
    h: sp.Symbol
    g: sp.Expr
    modified: sp.Expr
    T1: sp.Expr


def mode_map_half_time(g, c: sp.Symbol) -> ModeMapHalfTime:
    r"""Derive :class:`ModeMapHalfTime` for the rate ``g(c)`` (an expression in ``c``): the
    modified drift by :func:`modified_drift`, its first-order term checked to be
    :math:`-\tfrac h2 g'g`, and :math:`T_1` from :math:`\ln g`, checked to be an
    antiderivative of :math:`g'/g`."""
    h = sp.Symbol("h", positive=True)
    c0, c1 = sp.symbols("c_0 c_1", positive=True)
    g = sp.sympify(g)
    mod = modified_drift(sp.Matrix([g]), [c], h)[0, 0]
    corr = sp.expand(-(mod - g) * 2 / h)  # g' g
    if sp.simplify(corr - sp.diff(g, c) * g) != 0:
        raise ArithmeticError("modified drift of the mode map is not g - (h/2) g' g")
    # time to go from c0 to c1: int dc / (g - h/2 g' g) = int dc/g + h/2 int g'/g dc + O(h^2)
    integrand = sp.cancel(corr / g**2)
    anti = sp.log(g)  # the antiderivative of g'/g, checked (sympy.integrate picks a branch
    if sp.simplify(sp.diff(anti, c) - integrand) != 0:  # with a negative argument here)
        raise ArithmeticError("log g is not an antiderivative of g'/g")
    T1 = sp.log(g.subs(c, c1) / g.subs(c, c0)) / 2
    return ModeMapHalfTime(c, c0, c1, h, g, mod, T1)


# ---------------------------------------------------------------------------------- LaTeX


def _general_equations() -> list[Equation]:
    return [
        Equation("Online rule, its drift and update covariance:",
                 [Rel(Tex(r"w_{n+1}", ("w",)), Tex(r"w_n + \eta\, f(w_n, \xi_n)",
                                                   ("w", "eta", "f", "xi"))),
                  Rel(Tex(r"F(w)", ("F", "w")), Tex(r"\langle f\rangle", ("f",))),
                  Rel(Tex(r"\Sigma(w)", ("Sigma", "w")),
                      Tex(r"\langle ff^\top\rangle - FF^\top", ("f", "F")))]),
        Equation("Stochastic modified equation (Li, Tai and E 2017, 2019; weak order 2):",
                 Rel(Tex("dW", ("W",)), Tex(r"\left(F - \frac{\eta}{2}JF\right)dt + "
                                            r"\sqrt{\eta\,\Sigma}\;dB",
                                            ("F", "eta", "J", "Sigma", "B")))),
        Equation(r"First order in $\eta$ at fixed $t = \eta n$: "
                 r"$\langle w\rangle = \bar w + \eta\,\delta$, "
                 r"$\mathrm{Cov}(w) = \eta\,\Gamma$, all on the flow $\bar w(t)$:",
                 [Rel(Tex(r"\frac{d\bar w}{dt}", ("wbar", "t")), Tex(r"F(\bar w)", ("F",))),
                  Rel(Tex(r"\frac{d\delta}{dt}", ("delta", "t")),
                      Tex(r"J\delta - \frac{1}{2}JF + \frac{1}{2}\sum_{kl}\Gamma_{kl}\,"
                          r"\partial_k\partial_l F", ("J", "delta", "F", "Gamma"))),
                  Rel(Tex(r"\frac{d\Gamma}{dt}", ("Gamma", "t")),
                      Tex(r"J\Gamma + \Gamma J^\top + \Sigma(\bar w)", ("J", "Gamma", "Sigma"))),
                  Rel(Tex(r"\partial_\eta E[g(w)]\,|_{\eta=0}", ("g", "eta")),
                      Tex(r"\nabla g\cdot\delta + \frac{1}{2}\sum_{kl}\Gamma_{kl}\,"
                          r"\partial_k\partial_l g", ("g", "delta", "Gamma")))]),
        Equation(r"Stationary state at $F(w^*) = 0$, $u = w - w^*$, "
                 r"$E[u] = \eta\delta_1 + \eta^2\delta_2$, "
                 r"$E[uu^\top] = \eta K_1 + \eta^2K_2$:",
                 [Rel(Tex(r"0", ()), Tex(r"JK_1 + K_1J^\top + \Sigma(w^*)",
                                         ("J", "K", "Sigma"))),
                  Rel(Tex(r"\delta_1", ("delta",)),
                      Tex(r"-\frac{1}{2}J^{-1}\sum_{kl}K_{1,kl}\,\partial_k\partial_l F",
                          ("J", "K", "F")))]),
    ]


_GENERAL_SYMBOLS = [
    Sym("eta", r"\eta", "the learning rate"),
    Sym("w", "w", "the weights"),
    Sym("f", "f", "the random update direction"),
    Sym("xi", r"\xi_n", "the randomness of update $n$ (inputs, labels, output noise)"),
    Sym("F", "F", "the drift (mean update)"),
    Sym("Sigma", r"\Sigma", "the covariance of one update direction"),
    Sym("W", "W", "the modified-equation process"),
    Sym("J", "J", r"$= \partial F/\partial w$, the Jacobian of the drift"),
    Sym("B", "B", "a standard Brownian motion"),
    Sym("wbar", r"\bar w", r"the $\eta \to 0$ flow"),
    Sym("t", "t", r"continuous time ($\eta$ times the number of updates)"),
    Sym("delta", r"\delta", r"the $O(\eta)$ shift of the mean (per unit $\eta$)"),
    Sym("Gamma", r"\Gamma", r"the $O(\eta)$ covariance of the weights (per unit $\eta$)"),
    Sym("g", "g", "an observable of the weights"),
    Sym("K", "K_1, K_2", r"the $O(\eta)$, $O(\eta^2)$ coefficients of the stationary "
        r"$E[uu^\top]$"),
]


def _lms_equations():
    """Derived instances for LMS (n = 2): the first-order system and the stationary
    coefficients of the excess loss."""
    from theory.lms import lms_drift, lms_second_moment, lms_symbols

    sym = lms_symbols(2, diagonal=True)
    sysm = derive_finite_lr(lms_drift(sym), sym.w, lms_second_moment(sym), eta=sym.gamma,
                            name="LMS")
    exp = lms_stationary_expansion()
    R = sp.Matrix(sym.R)
    loss1 = sp.factor((R * exp.K1).trace())
    loss2 = sp.factor((R * exp.K2).trace())
    t = sp.Symbol("t", positive=True)
    v = sp.symbols("v0:2", real=True)
    to_v = {x: wo - vi for x, wo, vi in zip(sym.w, sym.w_o, v)}
    lines = [Rel(sp.Derivative(sysm.delta[i], t), sp.expand(sysm.delta_rhs[i, 0].xreplace(to_v)))
             for i in range(2)]
    lines += [Rel(sp.Derivative(sysm.Gamma[i, j], t),
                  sp.collect(sp.expand(sysm.gamma_rhs[i, j].xreplace(to_v)), sym.s2))
              for i in range(2) for j in range(i, 2)]
    E = sp.Symbol("E_exc", nonnegative=True)
    return [
        Equation(r"LMS ($w \leftarrow w + \gamma(y - w\cdot x)x$, learning rate $\gamma$, "
                 r"$R = \mathrm{diag}(\lambda_0, \lambda_1)$), derived:", lines),
        Equation(r"Its stationary excess loss to $O(\gamma^2)$ (equal to the series of the exact "
                 r"$s^2A/(1-A)$, a test checks it):",
                 Rel(E, sym.gamma * loss1 + sym.gamma**2 * loss2)),
    ], [
        Sym("gamma", r"\gamma", "the LMS learning rate (here in the role of $\\eta$)"),
        Sym("s2", "s^2", "the variance of the teacher's output noise"),
        Sym(r"lambda(\d+)", r"\lambda_{#1}", "an eigenvalue of the input covariance $R$",
            generic=r"\lambda_i"),
        Sym(r"v(\d+)", "v_{#1}", r"$= w_{o,i} - \bar w_i$, the weight error of the flow",
            generic="v_i"),
        Sym(r"delta_(\d+)", r"\delta_{#1}", "a component of $\\delta$", generic=r"\delta_i"),
        Sym(r"Gamma_(\d+)_(\d+)", r"\Gamma_{#1#2}", "an entry of $\\Gamma$",
            generic=r"\Gamma_{ij}"),
        Sym("E_exc", r"\mathcal{E}", r"$= E[(w - w_o)^\top R\,(w - w_o)]$, the stationary "
            "excess loss"),
    ]


@lru_cache(maxsize=1)
def lms_stationary_expansion() -> StationaryExpansion:
    r"""The order-2 stationary expansion of LMS with :math:`R = \mathrm{diag}(\lambda_0,
    \lambda_1)` (third moment of the update by Isserlis: zero at :math:`w_o`)."""
    from theory.lms import lms_drift, lms_second_moment, lms_symbols, lms_update
    from theory.wick import gaussian_expectation

    sym = lms_symbols(2, diagonal=True)
    sysm = derive_finite_lr(lms_drift(sym), sym.w, lms_second_moment(sym), eta=sym.gamma,
                            name="LMS")
    f = lms_update(sym)
    point = dict(zip(sym.w, sym.w_o))
    f_star = f.subs(point)

    def m3(i, j, k):
        return gaussian_expectation(sp.expand(f_star[i] * f_star[j] * f_star[k]),
                                    list(sym.x) + [sym.xi], sym.input_cov)

    return stationary_expansion(sysm, point, order=2, third_moment=m3)


@register_latex("finite-lr", "finite learning rate: stochastic modified equation, O(eta) mean "
                "shift and covariance, stationary O(eta) and O(eta^2) coefficients (LMS)")
def finite_lr_latex() -> LatexModel:
    eqs = _general_equations()
    lms_eqs, lms_syms = _lms_equations()
    return LatexModel(
        title="Finite learning rate: first-order corrections",
        summary=r"For any online rule $w \leftarrow w + \eta f$ the $\eta \to 0$ flow is "
                r"corrected at $O(\eta)$ by the discretisation ($-\frac{1}{2}JF$) and by the "
                r"fluctuations ($\eta\Sigma$, fed back through the curvature of the drift). "
                "The general equations, then the instance SymPy derives for LMS.",
        source="Li, Tai and E (2017, 2019), stochastic modified equations; Schmid and Murray, "
               "eqs. (10)-(11); Feuer and Weinstein (1985) for the exact LMS fixed point",
        equations=eqs + lms_eqs,
        symbols=_GENERAL_SYMBOLS + lms_syms,
    )
