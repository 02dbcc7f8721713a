r"""Mean flow and moment ODEs of the SL / RL nonlinear perceptron (seed 002), N-dimensional.

Model (Schmid & Murray, seed 002): inputs :math:`x\sim N(\mu_y, \Sigma_y)`, :math:`y=\pm1` with
probability 1/2; by default the -1 class is :math:`N(-\mu, \Sigma)`.  Rules ``"sl"`` (online
logistic regression with the erf sigmoid, eq. (12)) and ``"rl"`` (REINFORCE with reward
baseline, eq. (13); the baseline cancels in the drift, see :mod:`theory.perceptron`).
Continuous time :math:`t = \eta\times` updates.

The drift is (derived in :mod:`theory.perceptron`, eqs. (15) and (20))

.. math:: \langle f\rangle(w) = \tfrac12\sum_{y}\big[\mu_y g_1^y(a_y,c_y)
          + k\,\Sigma_y w\,g_2^y(a_y,c_y)\big] - \lambda w,\quad
          a_y = k\mu_y\cdot w,\; c_y = k^2 w^\top\Sigma_y w,\; k=\sqrt{\pi/8}.

:math:`g_{1,2}^y` and their first and second derivatives in :math:`(a, c)` are lambdified
from the theory (never retyped).  Everything N-dimensional is assembled from them with
matrix-vector products, so the mean flow costs O(N^2) per evaluation (O(N) for isotropic
:math:`\Sigma`) and the moment ODEs (seed eqs. (10)-(11))

.. math:: \dot m = \langle f\rangle(m) + c_2\sum_{kl}C_{kl}\partial_k\partial_l\langle f\rangle(m),
          \qquad \dot C = JC + CJ^\top

cost one :math:`\Sigma C` product per evaluation (an O(N^2) scaling for isotropic or diagonal
:math:`\Sigma`; ``Sigma`` may also be passed as a scalar variance, :math:`\Sigma` = ``Sigma`` I);
no :math:`N^3` tensor is ever built:
with :math:`\nabla a = k\mu`, :math:`\nabla c = 2k^2\Sigma w`, :math:`p = \Sigma w`,

.. math:: \sum_{kl}C_{kl}\partial_k\partial_l(\mu g_1 + k p g_2)
          = \mu\,Q[g_1] + k\,(2\Sigma C\nabla g_2 + p\,Q[g_2]),

:math:`Q[g] = g_{aa}\nabla a^\top C\nabla a + 2g_{ac}\nabla a^\top C\nabla c +
g_{cc}\nabla c^\top C\nabla c + 2k^2 g_c\operatorname{tr}(\Sigma C)`, and
:math:`JC = \mu(C\nabla g_1)^\top + k g_2\,\Sigma C + k\,p\,(C\nabla g_2)^\top` per class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import sympy as sp
from scipy.integrate import DOP853, RK23, RK45
from scipy.linalg.blas import dgemm as _dgemm
from scipy.optimize import brentq

from numerics.checks import as_covariance, as_nonnegative, as_positive, as_vector
from numerics.compile import compile_expressions, compile_scalar
from numerics.integrate import DivergenceError, Trajectory, integrate
from numerics.threads import single_thread_blas
from theory.perceptron import (
    SIGMOIDS,
    K,
    check_rule,
    class_update_factor,
    fixed_point_function,
    fixed_point_jacobian,
    reduced_flow,
    scalar_derivatives,
)

__all__ = [
    "mean_drift", "mean_drift_two_class", "mean_flow", "alignment", "alignment_time",
    "moment_flow", "MomentFlow", "asymptotic_norm", "reduced_rates", "anisotropic_covariance",
    "fixed_point_eigenvalues", "mean_drift_sigmoid", "mean_flow_sigmoid", "dataset_mean_drift",
    "dataset_mean_flow",
]

_K = float(K)
_EXPLICIT = {"RK45": RK45, "RK23": RK23, "DOP853": DOP853}  # moment_flow's solvers
_BLOWUP = 1e12  # |state| beyond which an integration is reported as diverging


@lru_cache(maxsize=8)
def _g(rule: str, y: int, order: int):
    """Compiled ``(a, c) -> [g1, g1_a, g1_c, (..2nd..), g2, g2_a, g2_c, (..2nd..)]`` for class y."""
    (a, c), exprs = scalar_derivatives(rule, order)
    per = 3 if order == 1 else 6
    block = exprs[:2 * per] if y == 1 else exprs[2 * per:]
    return compile_expressions(block, [a, c]), per


def _single_thread_blas():
    """Limit BLAS to one thread while integrating (:func:`numerics.threads.single_thread_blas`).

    The right-hand sides do many small BLAS calls; on a loaded machine OpenBLAS's threads
    spin against each other and the wall time grows ~10x (measured at N = 500).
    """
    return single_thread_blas()


def _eval(f, a, c) -> np.ndarray:
    """Evaluate a compiled (a, c) function; batched a, c give shape (n_out, *batch)."""
    if np.ndim(a) == 0 and np.ndim(c) == 0:
        return f(a, c)
    a, c = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(c, dtype=float))
    out = f.func(a, c)  # the raw lambdified function broadcasts over arrays
    return np.stack([np.broadcast_to(np.asarray(o, dtype=float), a.shape) for o in out])


@dataclass(frozen=True)
class _Class:
    """One class's mean and covariance.  ``iso`` (Sigma = iso I) and ``diag`` (Sigma =
    diag(diag)) select O(N) matrix-vector and O(N^2) matrix products; ``Sigma`` is ``None``
    when the user passed a scalar variance (no dense N x N matrix is ever built then)."""

    mu: np.ndarray
    Sigma: np.ndarray | None
    iso: float | None  # Sigma = iso * I when not None
    diag: np.ndarray | None = None  # Sigma = diag(diag) when not None (and iso is None)

    def times(self, v: np.ndarray) -> np.ndarray:
        """Sigma @ v along the last axis (v is (N,) or a batch (..., N))."""
        if self.iso is not None:
            return self.iso * v
        if self.diag is not None:
            return self.diag * v
        return v @ self.Sigma  # Sigma symmetric

    def times_matrix(self, C: np.ndarray) -> np.ndarray:
        """Sigma @ C for an N x N matrix C: O(N^2) for isotropic or diagonal Sigma."""
        if self.iso is not None:
            return self.iso * C
        if self.diag is not None:
            return self.diag[:, None] * C
        return self.Sigma @ C

    def trace_times(self, C: np.ndarray) -> float:
        """tr(Sigma C) in O(N) (isotropic, diagonal) or O(N^2) (general)."""
        if self.iso is not None:
            return self.iso * float(np.trace(C))
        if self.diag is not None:
            return float(self.diag @ np.diagonal(C))
        return float(np.vdot(self.Sigma, C))


_LARGE = 512  # above this N, check positive semidefiniteness by Cholesky, not eigvalsh


def _as_large_covariance(Sigma, name: str, rtol: float = 1e-10) -> np.ndarray:
    """PSD check for large N at a fraction of eigvalsh's cost, same tolerance as
    :func:`numerics.checks.as_covariance`: S + rtol*scale*N*I must admit a Cholesky factor."""
    S = np.asarray(Sigma, dtype=float)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {S.shape}")
    if not np.isfinite(S).all():
        raise ValueError(f"{name} contains NaN or inf")
    scale = max(float(np.abs(S).max()), 1e-300)
    diag = np.diagonal(S)
    if np.count_nonzero(S) == np.count_nonzero(diag):  # diagonal: O(N) check
        if np.min(diag) < -rtol * scale * S.shape[0]:
            raise ValueError(f"{name} must be positive semidefinite "
                             f"(smallest eigenvalue {np.min(diag):.3g})")
        return S
    asym = float(np.abs(S - S.T).max())
    if asym > rtol * scale:
        raise ValueError(f"{name} must be symmetric (max |{name} - {name}^T| = {asym:.3g})")
    if asym > 0:
        S = 0.5 * (S + S.T)
    try:
        with _single_thread_blas():
            np.linalg.cholesky(S + rtol * scale * S.shape[0] * np.eye(S.shape[0]))
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be positive semidefinite (Cholesky failed)") from None
    return S


def _make_class(mu, Sigma, n: int | None, mu_name: str, sigma_name: str) -> _Class:
    mu = as_vector(mu, mu_name, n)
    if np.ndim(Sigma) == 0:  # a scalar variance: Sigma = Sigma * I, never built densely
        var = as_nonnegative(Sigma, sigma_name)
        return _Class(mu, None, var)
    if np.ndim(Sigma) == 2 and np.shape(Sigma)[0] > _LARGE:
        S = _as_large_covariance(Sigma, sigma_name)
    else:
        S = as_covariance(Sigma, sigma_name)
    if S.shape[0] != mu.size:
        raise ValueError(f"{sigma_name} must be {mu.size}x{mu.size} to match {mu_name} "
                         f"(dimension mismatch), got {S.shape}")
    diag = np.diagonal(S)
    if np.count_nonzero(S) != np.count_nonzero(diag):
        return _Class(mu, S, None)
    if np.all(diag == diag[0]):
        return _Class(mu, S, float(diag[0]))
    return _Class(mu, S, None, diag.copy())


@dataclass(frozen=True)
class _Model:
    rule: str
    pos: _Class
    neg: _Class
    lam: float
    shared: bool = False  # neg uses pos's covariance (Sigma_neg not given)

    @property
    def n(self) -> int:
        return self.pos.mu.size


def _model(rule, mu_pos, Sigma_pos, mu_neg, Sigma_neg, lam, *,
           names: tuple[str, str] = ("mu_pos", "Sigma_pos")) -> _Model:
    """``names``: what the caller called the +1 class's mean and covariance (``("mu",
    "Sigma")`` for the symmetric-task API), so that error messages name the user's argument."""
    rule = check_rule(rule)
    pos = _make_class(mu_pos, Sigma_pos, None, *names)
    if mu_neg is None:
        mu_neg = -pos.mu
    if Sigma_neg is None:
        neg = _Class(as_vector(mu_neg, "mu_neg", pos.mu.size), pos.Sigma, pos.iso, pos.diag)
    else:
        neg = _make_class(mu_neg, Sigma_neg, pos.mu.size, "mu_neg", "Sigma_neg")
    return _Model(rule, pos, neg, as_nonnegative(lam, "lam"), Sigma_neg is None)


_SYM = ("mu", "Sigma")  # argument names of the symmetric-task API


def _check_w(w, n: int, name: str = "w") -> np.ndarray:
    arr = np.asarray(w, dtype=float)
    if arr.ndim == 0 or arr.shape[-1] != n:
        raise ValueError(f"{name} must have last dimension {n} (the input dimension), "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _drift(model: _Model, w: np.ndarray) -> np.ndarray:
    out = -model.lam * w
    p = None
    for y, cl in ((1, model.pos), (-1, model.neg)):
        if p is None or not model.shared:
            p = cl.times(w)
        a = _K * (w @ cl.mu)
        c = _K**2 * np.sum(w * p, axis=-1)
        f, per = _g(model.rule, y, 1)
        vals = _eval(f, a, c)
        g1, g2 = vals[0], vals[per]
        out = out + 0.5 * (np.multiply.outer(g1, cl.mu) + _K * g2[..., None] * p
                           if np.ndim(g1) else g1 * cl.mu + _K * g2 * p)
    return out


def mean_drift_two_class(rule: str, w, mu_pos, Sigma_pos, mu_neg, Sigma_neg,
                         lam: float = 0.0) -> np.ndarray:
    r"""Expected update :math:`\langle f\rangle(w)` for general classes
    :math:`x\,|\,y{=}{+}1 \sim N(\mu_+,\Sigma_+)`, :math:`x\,|\,y{=}{-}1\sim N(\mu_-,\Sigma_-)`,
    :math:`p(y)=1/2` (seed 002 eqs. (15), (20)).  ``w`` may be (N,) or a batch (..., N)."""
    model = _model(rule, mu_pos, Sigma_pos, mu_neg, Sigma_neg, lam)
    return _drift(model, _check_w(w, model.n))


def mean_drift(rule: str, w, mu, Sigma, lam: float = 0.0) -> np.ndarray:
    r"""Expected update :math:`\langle f\rangle(w)` (seed 002 eqs. (15), (20)) for the
    symmetric task: +1 class :math:`N(\mu,\Sigma)`, -1 class :math:`N(-\mu,\Sigma)`, each with
    probability 1/2.  ``rule`` is ``"sl"`` or ``"rl"``; ``w`` may be (N,) or (..., N).
    ``Sigma`` is an N x N matrix or a scalar variance (:math:`\Sigma` = ``Sigma`` I)."""
    model = _model(rule, mu, Sigma, None, None, lam, names=_SYM)
    return _drift(model, _check_w(w, model.n))


def alignment(mu, w) -> np.ndarray:
    r""":math:`\mu\cdot w/(|\mu||w|)` along the last axis of ``w``; 0 where :math:`w = 0`.

    ``ValueError`` for :math:`\mu = 0` (the alignment is undefined)."""
    mu = np.asarray(mu, dtype=float)
    w = np.asarray(w, dtype=float)
    _check_direction(mu, "mu")
    nw = np.linalg.norm(w, axis=-1)
    dot = w @ mu
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(nw > 0, dot / (np.linalg.norm(mu) * np.where(nw > 0, nw, 1.0)), 0.0)
    return out


def _check_direction(mu: np.ndarray, name: str) -> None:
    if not np.any(mu):
        raise ValueError(f"{name} must be non-zero: the alignment mu.w/(|mu||w|) is undefined "
                         f"for {name} = 0")


def _method(n: int, method: str | None) -> str:
    # LSODA's stiff branch estimates an N x N Jacobian by finite differences; for large N
    # the (non-stiff) mean flow is cheaper with an explicit Runge-Kutta method.
    return method or ("LSODA" if n <= 64 else "RK45")


def mean_flow(rule: str, mu, Sigma, w0, t_eval, lam: float = 0.0, *, mu_neg=None,
              Sigma_neg=None, method: str | None = None, rtol: float = 1e-8,
              atol: float = 1e-10) -> Trajectory:
    r"""Integrate :math:`\dot w = \langle f\rangle(w)` (seed 002 eq. (14)) from ``w0``.

    Returns a :class:`numerics.integrate.Trajectory` with states ``w0..w{N-1}`` (rows of
    ``y``) at ``t_eval`` (increasing, starting at >= 0; the integration starts at t = 0).
    ``mu_neg``/``Sigma_neg`` default to ``-mu``/``Sigma``; a scalar ``Sigma`` (or
    ``Sigma_neg``) is a variance, :math:`\Sigma` = ``Sigma`` I.
    """
    model = _model(rule, mu, Sigma, mu_neg, Sigma_neg, lam, names=_SYM)
    w0 = as_vector(w0, "w0", model.n)
    t_eval = _check_times(t_eval)

    def rhs(t, w):
        return _drift(model, w)

    t_end = float(t_eval[-1]) if t_eval[-1] > 0 else 1e-12
    with _single_thread_blas():
        return integrate(rhs, (0.0, t_end), w0, t_eval=t_eval if t_eval[-1] > 0 else None,
                         method=_method(model.n, method), rtol=rtol, atol=atol,
                         state_names=[f"w{i}" for i in range(model.n)])


@lru_cache(maxsize=8)
def _factor_fns(rule: str, sigmoid_name: str):
    """Lambdified ``s -> [G_+, G_+', G_-, G_-']`` (theory.perceptron.class_update_factor)."""
    if sigmoid_name not in SIGMOIDS:
        raise ValueError(f"sigmoid must be one of {tuple(SIGMOIDS)}, got {sigmoid_name!r}")
    s = sp.Symbol("s", real=True)
    exprs = []
    for y in (1, -1):
        G = class_update_factor(rule, y, s, phi=SIGMOIDS[sigmoid_name])
        exprs += [G, sp.diff(G, s)]
    return compile_expressions(exprs, [s])


#: trapezoid nodes in u ~ N(0, 1) for the Gaussian expectations of mean_drift_sigmoid: the
#: integrands are analytic in a strip, so the trapezoid rule converges geometrically (error
#: ~ exp(-2 pi d / h), d = pi / sd(s) for the logistic): < 1e-12 up to sd(s) ~ 30
_U = np.linspace(-10.0, 10.0, 1001)
_WU = np.exp(-_U**2 / 2) * (_U[1] - _U[0]) / np.sqrt(2 * np.pi)


def mean_drift_sigmoid(rule: str, w, mu, sigma2: float, lam: float = 0.0,
                       sigmoid: str = "logistic") -> np.ndarray:
    r"""The drift :math:`\langle f\rangle(w)` (seed 002 eqs. (12)-(13)) for any sigmoid, by
    quadrature, for classes :math:`N(\pm\mu, \sigma^2 I)`.

    With :math:`s = w\cdot x \sim N(m_y, v)`, :math:`m_y = \mu_y\cdot w`,
    :math:`v = \sigma^2|w|^2`, the decomposition of :mod:`theory.perceptron` and Stein's lemma
    (:math:`E[G(s)(s-m)]/v = E[G'(s)]`) give

    .. math:: \langle f\rangle = \tfrac12\sum_y\big[\mu_y E[G_y(s)]
              + \sigma^2 w\,E[G_y'(s)]\big] - \lambda w,

    :math:`G_y` and :math:`G_y'` lambdified from the theory, the two expectations by the
    trapezoid rule in :math:`u = (s - m)/\sqrt v` (1001 nodes on [-10, 10]).  For the erf
    sigmoid this equals the closed form :func:`mean_drift` (a test checks it to 1e-12): the
    logistic's flow is the same equation (14) without the erf substitution."""
    fns = _factor_fns(check_rule(rule), sigmoid)
    w = np.asarray(w, dtype=float)
    mu = np.asarray(mu, dtype=float)
    sd = np.sqrt(float(sigma2)) * np.linalg.norm(w)
    out = -lam * w
    for k, y in enumerate((1.0, -1.0)):
        s = y * float(mu @ w) + sd * _U
        vals = fns.func(s)
        G, dG = (np.broadcast_to(np.asarray(v, dtype=float), s.shape)
                 for v in vals[2 * k:2 * k + 2])
        out = out + 0.5 * (y * mu * (_WU @ G) + sigma2 * w * (_WU @ dG))
    return out


def mean_flow_sigmoid(rule: str, mu, sigma2: float, w0, t_eval, lam: float = 0.0,
                      sigmoid: str = "logistic", rtol: float = 1e-9,
                      atol: float = 1e-11) -> Trajectory:
    r"""Integrate :math:`\dot w = \langle f\rangle(w)` with :func:`mean_drift_sigmoid`
    (isotropic classes :math:`N(\pm\mu, \sigma^2 I)`; e.g. the logistic sigmoid of seed 002's
    simulations).  Same conventions as :func:`mean_flow`."""
    mu = as_vector(mu, "mu")
    w0 = as_vector(w0, "w0", mu.size)
    sigma2 = as_nonnegative(sigma2, "sigma2")
    lam = as_nonnegative(lam, "lam")
    t_eval = _check_times(t_eval)

    def rhs(t, w):
        return mean_drift_sigmoid(rule, w, mu, sigma2, lam, sigmoid)

    t_end = float(t_eval[-1]) if t_eval[-1] > 0 else 1e-12
    return integrate(rhs, (0.0, t_end), w0, t_eval=t_eval if t_eval[-1] > 0 else None,
                     method="DOP853", rtol=rtol, atol=atol,
                     state_names=[f"w{i}" for i in range(mu.size)])


def dataset_mean_drift(rule: str, w, X, y, lam: float = 0.0,
                       sigmoid: str = "erf") -> np.ndarray:
    r"""The drift of online learning on a finite data set, sampled uniformly:
    :math:`\langle f\rangle(w) = \frac1n\sum_i G_{y_i}(w\cdot x_i)\,x_i - \lambda w`, with
    :math:`G_y` the expected update factor of seed 002 eqs. (12)-(13) for a label y (RL: the
    expectation over the policy's output), lambdified from
    :func:`theory.perceptron.class_update_factor`.  No model of the class distributions:
    this is the exact eta -> 0 limit of SGD on these data points (random reshuffling has the
    same limit)."""
    fns = _factor_fns(check_rule(rule), sigmoid)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.asarray(w, dtype=float)
    s = X @ w
    vals = fns.func(s)
    G = np.where(y > 0, np.broadcast_to(np.asarray(vals[0], dtype=float), s.shape),
                 np.broadcast_to(np.asarray(vals[2], dtype=float), s.shape))
    return G @ X / X.shape[0] - lam * w


def dataset_mean_flow(rule: str, X, y, w0, t_eval, lam: float = 0.0, sigmoid: str = "erf",
                      rtol: float = 1e-9, atol: float = 1e-11) -> Trajectory:
    """Integrate :func:`dataset_mean_drift` from ``w0`` (same conventions as :func:`mean_flow`;
    ``X`` (n, N) inputs, ``y`` (n,) labels +-1)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"X must be a non-empty (n, N) array, got shape {X.shape}")
    y = as_vector(y, "y", X.shape[0])
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("y must hold labels +1 and -1")
    w0 = as_vector(w0, "w0", X.shape[1])
    lam = as_nonnegative(lam, "lam")
    t_eval = _check_times(t_eval)

    def rhs(t, w):
        return dataset_mean_drift(rule, w, X, y, lam, sigmoid)

    t_end = float(t_eval[-1]) if t_eval[-1] > 0 else 1e-12
    with _single_thread_blas():
        return integrate(rhs, (0.0, t_end), w0, t_eval=t_eval if t_eval[-1] > 0 else None,
                         method="DOP853", rtol=rtol, atol=atol,
                         state_names=[f"w{i}" for i in range(X.shape[1])])


def _check_times(t_eval) -> np.ndarray:
    t = np.asarray(t_eval, dtype=float).ravel()
    if t.size == 0 or not np.all(np.isfinite(t)):
        raise ValueError("t_eval must be a non-empty array of finite times")
    if t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError("t_eval must be strictly increasing and start at t >= 0")
    return t


def alignment_time(rule: str, mu, Sigma, w0, lam: float = 0.0, threshold: float = 0.8,
                   t_max: float = 100.0, *, mu_neg=None, Sigma_neg=None,
                   method: str | None = None, rtol: float = 1e-8, atol: float = 1e-10) -> float:
    r"""First time at which the mean flow's alignment :math:`\mu\cdot w/(|\mu||w|)` reaches
    ``threshold`` (seed 002, Fig. 3: time to 80% alignment).

    Event-located (``solve_ivp`` events, direction +1).  Returns ``0.0`` if ``w0`` is already
    aligned beyond the threshold and ``math.inf`` if the threshold is not reached by ``t_max``:
    either ``t_max`` is too short, or the flow's alignment levels off below the threshold.
    The latter happens when :math:`\mu` is not an eigenvector of :math:`\Sigma`: the fixed
    point satisfies :math:`(\lambda I - kG_2\Sigma)\,w^* = G_1\mu` (symmetric task), i.e.
    :math:`w^*\propto\Sigma^{-1}\mu` at :math:`\lambda = 0`, whose alignment
    :math:`\mu^\top\Sigma^{-1}\mu/(|\mu||\Sigma^{-1}\mu|)` can be far below 1 for strong
    anisotropy (a large :math:`\lambda` pulls it back towards 1).
    ``Sigma`` may be an N x N matrix or a scalar variance (:math:`\Sigma` = ``Sigma`` I).
    ``ValueError`` for :math:`\mu = 0` (alignment undefined), ``threshold`` outside (0, 1),
    non-positive ``t_max``, a non-PSD ``Sigma`` or mismatched dimensions; ``TypeError`` for a
    non-numeric ``threshold``.
    """
    model = _model(rule, mu, Sigma, mu_neg, Sigma_neg, lam, names=_SYM)
    _check_direction(model.pos.mu, "mu")
    w0 = as_vector(w0, "w0", model.n)
    try:
        thr = float(threshold)
    except (TypeError, ValueError):
        raise TypeError(f"threshold must be a real number in (0, 1), got {threshold!r}") from None
    if not (0.0 < thr < 1.0):
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    t_max = as_positive(t_max, "t_max")
    mu_dir = model.pos.mu
    if float(alignment(mu_dir, w0)) >= thr:
        return 0.0

    def rhs(t, w):
        return _drift(model, w)

    def event(t, w):
        return float(alignment(mu_dir, w)) - thr

    event.terminal = True
    event.direction = 1.0
    with _single_thread_blas():
        traj = integrate(rhs, (0.0, t_max), w0, method=_method(model.n, method), rtol=rtol,
                         atol=atol, events=[event], t_eval=np.array([t_max]))
    hits = traj.stats.get("t_events", [[]])[0]
    return float(hits[0]) if hits else math.inf


# ------------------------------------------------------------------ moment equations


@dataclass(frozen=True)
class MomentFlow:
    r"""Solution of the moment ODEs (seed 002 eqs. (10)-(11)).

    ``mean`` (T, N); ``cov`` (T, N, N) or ``None`` when only the trace was kept;
    ``trace_cov`` (T,) :math:`\operatorname{tr}C(t)`; ``alignment`` (T,) of the mean with
    :math:`\mu_+`.
    """

    rule: str
    t: np.ndarray
    mean: np.ndarray
    cov: np.ndarray | None
    trace_cov: np.ndarray
    alignment: np.ndarray
    correction: float
    lam: float
    nfev: int
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "rule": self.rule, "t": self.t.tolist(), "mean": self.mean.tolist(),
            "cov": None if self.cov is None else self.cov.tolist(),
            "trace_cov": self.trace_cov.tolist(), "alignment": self.alignment.tolist(),
            "correction": self.correction, "lam": self.lam, "nfev": self.nfev,
        }


def _moment_rhs(model: _Model, m: np.ndarray, C: np.ndarray, correction: float,
                out: np.ndarray | None = None):
    """(dm/dt, dC/dt) at mean m and covariance C (matrix-vector assembly, module docstring).

    dC/dt = JC + (JC)^T is assembled as s*C + [sum_y k g2_y/2 Sigma_y C + transpose] + a
    rank-8 term.  For isotropic or diagonal Sigma one evaluation is O(N^2): one pass over C
    for the four products C mu_y, C p_y, one for the (row/column-scaled) copy of C and one
    BLAS gemm that adds the low-rank term in place.  A general Sigma adds one N x N x N
    product Sigma C per distinct Sigma.  With ``out`` (length N + N^2) the result is written
    there (dm first, then dC row-major) and views of it are returned.
    """
    n = m.size
    if out is None:
        out = np.empty(n + n * n)
    dm, dC = out[:n], out[n:].reshape(n, n)
    scal = -2.0 * model.lam  # coefficient of C in dC/dt
    row_scale = None  # sum_y (k g2_y / 2) diag_y, for diagonal (non-isotropic) Sigma
    g2_sum = 0.0
    dense = []  # (k g2_y / 2, class) whose Sigma_y C needs a dense product
    left, right = [], []  # the low-rank part of JC is sum_j left_j right_j^T
    classes = ((1, model.pos), (-1, model.neg))
    ps = [cl.times(m) for _, cl in classes]
    # C @ [mu_+, p_+, mu_-, p_-]: one pass over C (C symmetric: C @ v = v @ C)
    CV = C @ np.stack([model.pos.mu, ps[0], model.neg.mu, ps[1]], axis=1)
    acc = -model.lam * m
    for j, (y, cl) in enumerate(classes):
        f, _ = _g(model.rule, y, 2)
        p = ps[j]
        a = _K * (m @ cl.mu)
        c = _K**2 * (m @ p)
        (g1, g1a, g1c, g1aa, g1ac, g1cc, g2, g2a, g2c, g2aa, g2ac, g2cc) = f(a, c)
        Cmu, Cp = CV[:, 2 * j], CV[:, 2 * j + 1]
        aCa = _K**2 * (cl.mu @ Cmu)
        aCc = 2 * _K**3 * (cl.mu @ Cp)
        cCc = 4 * _K**4 * (p @ Cp)
        tr_SC = cl.trace_times(C)
        q1 = g1aa * aCa + 2 * g1ac * aCc + g1cc * cCc + 2 * _K**2 * g1c * tr_SC
        q2 = g2aa * aCa + 2 * g2ac * aCc + g2cc * cCc + 2 * _K**2 * g2c * tr_SC
        C_dg1 = _K * g1a * Cmu + 2 * _K**2 * g1c * Cp
        C_dg2 = _K * g2a * Cmu + 2 * _K**2 * g2c * Cp
        hess = cl.mu * q1 + _K * (2 * cl.times(C_dg2) + p * q2)
        acc = acc + 0.5 * (cl.mu * g1 + _K * g2 * p + correction * hess)
        left += [cl.mu, p]
        right += [0.5 * C_dg1, 0.5 * _K * C_dg2]
        if cl.iso is not None:
            scal += _K * g2 * cl.iso
        elif cl.diag is not None:
            rs = 0.5 * _K * g2 * cl.diag
            row_scale = rs if row_scale is None else row_scale + rs
        elif model.shared:
            g2_sum += g2
        else:
            dense.append((0.5 * _K * g2, cl))
    dm[:] = acc
    if model.shared and model.pos.iso is None and model.pos.diag is None:
        dense = [(0.5 * _K * g2_sum, model.pos)]
    if row_scale is None:
        np.multiply(C, scal, out=dC)
    else:  # (scal + r_i + r_j) C_ij, i.e. scal C + D C + C D for D = diag(r): O(N^2)
        for i in range(0, n, 256):  # row blocks keep the N x N temporaries small
            dC[i:i + 256] = C[i:i + 256] * (row_scale[i:i + 256, None] + row_scale + scal)
    # low rank: JC_lr + JC_lr^T = [L, R][R, L]^T, a rank-8 gemm added in place to dC.
    # BLAS is column-major: dC^T (an F-ordered view) += [R, L][L, R]^T.
    L, R = np.stack(left, axis=1), np.stack(right, axis=1)
    res = _dgemm(1.0, np.hstack([R, L]), np.hstack([L, R]), beta=1.0, c=dC.T, trans_b=1,
                 overwrite_c=1)
    if not np.shares_memory(res, dC):  # BLAS wrapper had to copy: store its result
        dC[...] = res.T
    for coef, cl in dense:
        sigma_c = coef * cl.times_matrix(C)
        dC += sigma_c
        dC += sigma_c.T
    return dm, dC


def moment_flow(rule: str, mu, Sigma, w0, C0, t_eval, lam: float = 0.0,
                correction: float = 0.5, mu_neg=None, Sigma_neg=None, *,
                full_covariance: bool | None = None, method: str = "RK45",
                rtol: float = 1e-6, atol: float = 1e-9) -> MomentFlow:
    r"""Integrate the moment ODEs (seed 002 eqs. (10)-(11)) for N-dimensional weights.

    ``w0`` is the initial mean, ``C0`` the initial covariance (PSD, N x N).  ``correction``
    is the coefficient of :math:`\sum_{kl}C_{kl}\partial_k\partial_l\langle f\rangle`: 1/2 is
    the Taylor coefficient; the seed's reference code used 1.  The state has N + N^2
    components; an explicit method (``RK45``, ``RK23`` or ``DOP853``) is used since an implicit
    one would need an (N + N^2)^2 Jacobian.  ``full_covariance`` (default: N <= 100) keeps C(t)
    at every ``t_eval`` (memory T N^2); otherwise only its trace is kept.  One solver steps
    over the whole range and each output time is read off the dense output of the step that
    covers it, so memory is a few states, O(N^2), however many output times there are.
    ``rtol``/``atol`` are per state component and the solver's error norm is an RMS over all
    N + N^2 components, so covariance entries far below ``atol`` are not resolved: at large N
    tr C is accurate to roughly ``atol`` x N^(1/2..1) in absolute terms (at N = 4096, C0 =
    (5/N) I, default tolerances: ~1e-6, i.e. 0.2% when tr C ~ 1e-2).  Pass a smaller ``atol``
    (about 1e-3 x the smallest tr C of interest / N) to follow tr C over more decades.
    A non-finite right-hand side or a state beyond 1e12 raises
    :class:`numerics.integrate.DivergenceError` (with the time and the component).

    ``Sigma`` may be an N x N matrix or a scalar variance (:math:`\Sigma` = ``Sigma`` I, no
    dense matrix built).  For isotropic or diagonal :math:`\Sigma` one right-hand-side
    evaluation costs O(N^2) (a few passes over C); a general :math:`\Sigma` adds one
    :math:`\Sigma C` product, O(N^3).  ``alignment`` is NaN when :math:`\mu = 0`.
    """
    model = _model(rule, mu, Sigma, mu_neg, Sigma_neg, lam, names=_SYM)
    n = model.n
    w0 = as_vector(w0, "w0", n)
    if np.shape(C0) != (n, n):
        raise ValueError(f"C0 must be {n}x{n} (dimension mismatch), got shape {np.shape(C0)}")
    C0 = _as_large_covariance(C0, "C0") if n > _LARGE else as_covariance(C0, "C0")
    corr = as_nonnegative(correction, "correction")
    t_eval = _check_times(t_eval)
    if full_covariance is None:
        full_covariance = n <= 100

    if method not in _EXPLICIT:
        raise ValueError(f"method must be one of {sorted(_EXPLICIT)} (explicit Runge-Kutta: an "
                         f"implicit method would need an (N + N^2)^2 Jacobian), got {method!r}")
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"rtol and atol must be positive, got rtol={rtol}, atol={atol}")

    def rhs(t, y):
        out = np.empty_like(y)
        _moment_rhs(model, y[:n], y[n:].reshape(n, n), corr, out)
        if not np.isfinite(out).all():
            k = int(np.flatnonzero(~np.isfinite(out))[0])
            where = f"mean component {k}" if k < n else f"C[{(k - n) // n}, {(k - n) % n}]"
            raise DivergenceError(f"moment ODE right-hand side is not finite at t={t:.6g} "
                                  f"({where}): the moments diverge or the parameters are "
                                  "outside the model's range", t, k)
        return out

    T = t_eval.size
    means = np.empty((T, n))
    traces = np.empty(T)
    covs = np.empty((T, n, n)) if full_covariance else None
    diag_idx = n + np.arange(n) * (n + 1)  # positions of C_ii in the state

    def store(i, y):
        means[i] = y[:n]
        traces[i] = y[diag_idx].sum()
        if covs is not None:
            covs[i] = y[n:].reshape(n, n)

    # One explicit Runge-Kutta solver stepped over the whole range; the state at each output
    # time is interpolated (dense output of the step that covers it) and reduced to the mean
    # and tr C (and C when kept) at once, so memory stays O(stages x (N + N^2)) whatever
    # len(t_eval) is and the step size is never reset between output times.
    y0 = np.concatenate([w0, C0.ravel()])
    i = 0
    while i < T and t_eval[i] == 0.0:
        store(i, y0)
        i += 1
    nfev = 0
    if i < T:
        with _single_thread_blas():
            solver = _EXPLICIT[method](rhs, 0.0, y0, float(t_eval[-1]), rtol=rtol, atol=atol)
            while i < T:
                solver.step()
                if solver.status == "failed":
                    raise DivergenceError(f"moment ODE integration failed at t={solver.t:.6g}: "
                                          f"{solver.message}", float(solver.t))
                big = float(np.max(np.abs(solver.y)))
                if big > _BLOWUP:
                    raise DivergenceError(f"moments exceeded |y| = {_BLOWUP:g} by t="
                                          f"{solver.t:.6g}: the flow diverges", float(solver.t))
                j = int(np.searchsorted(t_eval, solver.t, side="right"))
                if j > i:
                    interp = solver.dense_output() if t_eval[i] < solver.t else None
                    for k in range(i, j):
                        store(k, solver.y if t_eval[k] == solver.t else interp(t_eval[k]))
                    del interp
                    i = j
            nfev = int(solver.nfev)
    return MomentFlow(rule=model.rule, t=t_eval, mean=means, cov=covs, trace_cov=traces,
                      alignment=(alignment(model.pos.mu, means) if np.any(model.pos.mu)
                                 else np.full(T, np.nan)), correction=corr,
                      lam=model.lam, nfev=nfev)


# ------------------------------------------------------------------ reduced scalar flows


@lru_cache(maxsize=4)
def _reduced(rule: str):
    rf = reduced_flow(rule)
    return compile_expressions([rf.dP, rf.dW], list(rf.symbols))


def reduced_rates(rule: str, P, W, mu_norm: float = 1.0, sigma_par: float = 1.0,
                  sigma_perp: float | None = None, lam: float = 0.0):
    r"""``(dP/dt, dW/dt)`` of :math:`P=\mu\cdot w`, :math:`W=|w|^2` for :math:`\mu_\pm=\pm\mu`
    and :math:`\Sigma = \sigma_\parallel^2 nn^\top + \sigma_\perp^2(I-nn^\top)` (isotropic when
    ``sigma_perp`` is None): seed 002 eqs. (18)-(19), (22)-(23).  ``sigma_*`` are standard
    deviations.  Broadcasts over arrays ``P``, ``W`` (requires :math:`P^2 \le |\mu|^2 W`)."""
    rule = check_rule(rule)
    m = as_positive(mu_norm, "mu_norm")
    sp_ = as_nonnegative(sigma_par, "sigma_par")
    sq = sp_ if sigma_perp is None else as_nonnegative(sigma_perp, "sigma_perp")
    lam = as_nonnegative(lam, "lam")
    P = np.asarray(P, dtype=float)
    W = np.asarray(W, dtype=float)
    for name, v in (("P", P), ("W", W)):
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} contains NaN or inf")
    if np.any(W <= 0) or np.any(P**2 > m**2 * W * (1 + 1e-12)):
        raise ValueError("need W = |w|^2 > 0 and P^2 <= |mu|^2 W (Cauchy-Schwarz)")
    out = _reduced(rule)(P, W, m**2, sp_**2, sq**2, lam)
    return out[0], out[1]


@lru_cache(maxsize=4)
def _fixed_point_fn(rule: str):
    (r, s2, lam, M2), R = fixed_point_function(rule)
    return compile_scalar(R, [r, s2, lam, M2])


def asymptotic_norm(rule: str, sigma: float, lam: float, mu_norm: float = 1.0) -> float:
    r""":math:`|w^*|`, the fixed point of the isotropic mean flow (:math:`\Sigma=\sigma^2 I`,
    :math:`\mu_\pm=\pm\mu`), aligned with :math:`\mu`: the root in r of seed 002 eq. (43)
    (generalised to :math:`\lambda>0`, :math:`|\mu|\ne1`, and to RL via eqs. (22)-(23)).

    SL requires ``lam > 0`` or ``sigma > 0``.  RL requires ``lam > 0``: at ``lam = 0`` the RL
    radial drift stays positive for every r (it decays like :math:`r^{-3}`; the two
    :math:`O(1/r)` terms cancel), so :math:`|w|` grows without bound even for
    ``sigma > 0``, contrary to the seed's claim for RL.  These cases raise ``ValueError``.
    """
    rule = check_rule(rule)
    sigma = as_nonnegative(sigma, "sigma")
    lam = as_nonnegative(lam, "lam")
    m = as_positive(mu_norm, "mu_norm")
    if sigma == 0 and lam == 0:
        raise ValueError("asymptotic_norm needs lam > 0 or sigma > 0: with neither, |w| "
                         "grows without bound (seed 002, fixed-point analysis)")
    if rule == "rl" and lam == 0:
        raise ValueError("asymptotic_norm for 'rl' needs lam > 0: without weight decay the "
                         "REINFORCE radial drift is positive for every |w| (no fixed point)")
    f = _fixed_point_fn(rule)

    def R(r):
        return float(f(r, sigma**2, lam, m**2))

    lo = 1e-12
    if R(lo) <= 0:
        raise ValueError(f"no positive fixed point: the radial drift is not positive near 0 "
                         f"(R(0+) = {R(lo):.3g})")
    hi = 1.0
    while R(hi) > 0:
        hi *= 2.0
        if hi > 1e12:
            raise ValueError("no fixed point below |w| = 1e12 (the flow diverges)")
    return float(brentq(R, lo, hi, xtol=1e-14, rtol=1e-13))


@lru_cache(maxsize=4)
def _fixed_point_jac(rule: str):
    (r, s2, lam), J = fixed_point_jacobian(rule)
    return compile_expressions([J[0, 0], J[1, 1]], [r, s2, lam])


def fixed_point_eigenvalues(rule: str, sigma: float, lam: float) -> tuple[float, float, float]:
    r"""``(|w*|, along, across)``: the isotropic fixed point (:func:`asymptotic_norm`,
    :math:`|\mu| = 1`) and the eigenvalues of the drift's Jacobian there, along :math:`\mu`
    and across it (multiplicity N - 1), lambdified from
    :func:`theory.perceptron.fixed_point_jacobian`.  Both negative: locally stable."""
    r = asymptotic_norm(rule, sigma, lam)
    along, across = _fixed_point_jac(check_rule(rule))(r, float(sigma) ** 2, float(lam))
    return r, float(along), float(across)


def anisotropic_covariance(mu, epsilon: float, total: float = 1.0) -> np.ndarray:
    r""":math:`\Sigma = (1+\epsilon)\,nn^\top + (1-\epsilon)(I-nn^\top)` times ``total``,
    :math:`n=\mu/|\mu|` (seed 002 Fig. 3B-C: noise variance :math:`\sigma_\parallel^2 = 1+\epsilon`
    along :math:`\mu`, :math:`\sigma_\perp^2 = 1-\epsilon` orthogonal); ``epsilon`` in [-1, 1]."""
    mu = as_vector(mu, "mu")
    nrm = np.linalg.norm(mu)
    if nrm == 0:
        raise ValueError("mu must be non-zero (it defines the direction n = mu/|mu|)")
    try:
        eps = float(epsilon)
    except (TypeError, ValueError):
        raise TypeError(f"epsilon must be a real number in [-1, 1], got {epsilon!r}") from None
    if not (-1.0 <= eps <= 1.0):
        raise ValueError(f"epsilon must be in [-1, 1], got {epsilon}")
    tot = as_positive(total, "total")
    n = mu / nrm
    return tot * ((1 - eps) * np.eye(mu.size) + 2 * eps * np.outer(n, n))
