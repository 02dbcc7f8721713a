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

cost one :math:`\Sigma C` product per evaluation; no :math:`N^3` tensor is ever built:
with :math:`\nabla a = k\mu`, :math:`\nabla c = 2k^2\Sigma w`, :math:`p = \Sigma w`,

.. math:: \sum_{kl}C_{kl}\partial_k\partial_l(\mu g_1 + k p g_2)
          = \mu\,Q[g_1] + k\,(2\Sigma C\nabla g_2 + p\,Q[g_2]),

:math:`Q[g] = g_{aa}\nabla a^\top C\nabla a + 2g_{ac}\nabla a^\top C\nabla c +
g_{cc}\nabla c^\top C\nabla c + 2k^2 g_c\operatorname{tr}(\Sigma C)`, and
:math:`JC = \mu(C\nabla g_1)^\top + k g_2\,\Sigma C + k\,p\,(C\nabla g_2)^\top` per class.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq

from numerics.checks import as_covariance, as_nonnegative, as_positive, as_vector
from numerics.compile import compile_expressions, compile_scalar
from numerics.integrate import Trajectory, integrate
from theory.perceptron import (
    K,
    check_rule,
    fixed_point_function,
    reduced_flow,
    scalar_derivatives,
)

__all__ = [
    "mean_drift", "mean_drift_two_class", "mean_flow", "alignment", "alignment_time",
    "moment_flow", "MomentFlow", "asymptotic_norm", "reduced_rates", "anisotropic_covariance",
]

_K = float(K)


@lru_cache(maxsize=8)
def _g(rule: str, y: int, order: int):
    """Compiled ``(a, c) -> [g1, g1_a, g1_c, (..2nd..), g2, g2_a, g2_c, (..2nd..)]`` for class y."""
    (a, c), exprs = scalar_derivatives(rule, order)
    per = 3 if order == 1 else 6
    block = exprs[:2 * per] if y == 1 else exprs[2 * per:]
    return compile_expressions(block, [a, c]), per


def _single_thread_blas():
    """Limit BLAS to one thread while integrating (threadpoolctl, when installed).

    The right-hand sides do many small BLAS calls; on a loaded machine OpenBLAS's threads
    spin against each other and the wall time grows ~10x (measured at N = 500).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its default threading
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _eval(f, a, c) -> np.ndarray:
    """Evaluate a compiled (a, c) function; batched a, c give shape (n_out, *batch)."""
    if np.ndim(a) == 0 and np.ndim(c) == 0:
        return f(a, c)
    a, c = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(c, dtype=float))
    out = f.func(a, c)  # the raw lambdified function broadcasts over arrays
    return np.stack([np.broadcast_to(np.asarray(o, dtype=float), a.shape) for o in out])


@dataclass(frozen=True)
class _Class:
    mu: np.ndarray
    Sigma: np.ndarray
    iso: float | None  # Sigma = iso * I when not None

    def times(self, v: np.ndarray) -> np.ndarray:
        """Sigma @ v along the last axis (v is (N,) or (..., N)) or Sigma @ matrix for 2-D C."""
        if self.iso is not None:
            return self.iso * v
        return v @ self.Sigma  # Sigma symmetric


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
    if np.ndim(Sigma) == 2 and np.shape(Sigma)[0] > _LARGE:
        S = _as_large_covariance(Sigma, sigma_name)
    else:
        S = as_covariance(Sigma, sigma_name)
    if S.shape[0] != mu.size:
        raise ValueError(f"{sigma_name} must be {mu.size}x{mu.size} to match {mu_name} "
                         f"(dimension mismatch), got {S.shape}")
    diag = np.diagonal(S)
    is_diag = np.count_nonzero(S) == np.count_nonzero(diag)
    iso = float(diag[0]) if is_diag and np.all(diag == diag[0]) else None
    return _Class(mu, S, iso)


@dataclass(frozen=True)
class _Model:
    rule: str
    pos: _Class
    neg: _Class
    lam: float

    @property
    def n(self) -> int:
        return self.pos.mu.size


def _model(rule, mu_pos, Sigma_pos, mu_neg, Sigma_neg, lam) -> _Model:
    rule = check_rule(rule)
    pos = _make_class(mu_pos, Sigma_pos, None, "mu_pos", "Sigma_pos")
    if mu_neg is None:
        mu_neg = -pos.mu
    if Sigma_neg is None:
        neg = _Class(as_vector(mu_neg, "mu_neg", pos.mu.size), pos.Sigma, pos.iso)
    else:
        neg = _make_class(mu_neg, Sigma_neg, pos.mu.size, "mu_neg", "Sigma_neg")
    return _Model(rule, pos, neg, as_nonnegative(lam, "lam"))


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
        if p is None or cl.Sigma is not model.pos.Sigma:
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
    probability 1/2.  ``rule`` is ``"sl"`` or ``"rl"``; ``w`` may be (N,) or (..., N)."""
    model = _model(rule, mu, Sigma, None, None, lam)
    return _drift(model, _check_w(w, model.n))


def alignment(mu, w) -> np.ndarray:
    r""":math:`\mu\cdot w/(|\mu||w|)` along the last axis of ``w``; 0 where :math:`w = 0`."""
    mu = np.asarray(mu, dtype=float)
    w = np.asarray(w, dtype=float)
    nw = np.linalg.norm(w, axis=-1)
    dot = w @ mu
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(nw > 0, dot / (np.linalg.norm(mu) * np.where(nw > 0, nw, 1.0)), 0.0)
    return out


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
    ``mu_neg``/``Sigma_neg`` default to ``-mu``/``Sigma``.
    """
    model = _model(rule, mu, Sigma, mu_neg, Sigma_neg, lam)
    w0 = as_vector(w0, "w0", model.n)
    t_eval = _check_times(t_eval)

    def rhs(t, w):
        return _drift(model, w)

    t_end = float(t_eval[-1]) if t_eval[-1] > 0 else 1e-12
    with _single_thread_blas():
        return integrate(rhs, (0.0, t_end), w0, t_eval=t_eval if t_eval[-1] > 0 else None,
                         method=_method(model.n, method), rtol=rtol, atol=atol,
                         state_names=[f"w{i}" for i in range(model.n)])


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
    aligned beyond the threshold and ``math.inf`` if the threshold is not reached by ``t_max``
    (e.g. an unreachable threshold).  ``ValueError`` for ``threshold`` outside (0, 1),
    non-positive ``t_max``, a non-PSD ``Sigma`` or mismatched dimensions.
    """
    model = _model(rule, mu, Sigma, mu_neg, Sigma_neg, lam)
    w0 = as_vector(w0, "w0", model.n)
    thr = float(threshold)
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


def _moment_rhs(model: _Model, m: np.ndarray, C: np.ndarray, correction: float):
    """(dm/dt, dC/dt) at mean m and covariance C (matrix-vector assembly, module docstring).

    dC/dt = JC + (JC)^T is assembled as s*C + [sum_y k g2_y/2 Sigma_y C + transpose] + a
    rank-8 term, each N x N array touched once.
    """
    dm = -model.lam * m
    scal = -2.0 * model.lam  # coefficient of C in dC/dt
    shared = model.pos.Sigma is model.neg.Sigma
    sigma_c = None  # sum_y (k g2_y / 2) Sigma_y C, for non-isotropic Sigma
    g2_sum = 0.0
    left, right = [], []  # the low-rank part of JC is sum_j left_j right_j^T
    for y, cl in ((1, model.pos), (-1, model.neg)):
        f, _ = _g(model.rule, y, 2)
        p = cl.times(m)
        a = _K * (m @ cl.mu)
        c = _K**2 * (m @ p)
        (g1, g1a, g1c, g1aa, g1ac, g1cc, g2, g2a, g2c, g2aa, g2ac, g2cc) = f(a, c)
        Cmu = C @ cl.mu
        Cp = C @ p
        aCa = _K**2 * (cl.mu @ Cmu)
        aCc = 2 * _K**3 * (cl.mu @ Cp)
        cCc = 4 * _K**4 * (p @ Cp)
        tr_SC = cl.iso * np.trace(C) if cl.iso is not None else float(np.vdot(cl.Sigma, C))
        q1 = g1aa * aCa + 2 * g1ac * aCc + g1cc * cCc + 2 * _K**2 * g1c * tr_SC
        q2 = g2aa * aCa + 2 * g2ac * aCc + g2cc * cCc + 2 * _K**2 * g2c * tr_SC
        C_dg1 = _K * g1a * Cmu + 2 * _K**2 * g1c * Cp
        C_dg2 = _K * g2a * Cmu + 2 * _K**2 * g2c * Cp
        hess = cl.mu * q1 + _K * (2 * cl.times(C_dg2) + p * q2)
        dm = dm + 0.5 * (cl.mu * g1 + _K * g2 * p + correction * hess)
        left += [cl.mu, p]
        right += [0.5 * C_dg1, 0.5 * _K * C_dg2]
        if cl.iso is not None:
            scal += _K * g2 * cl.iso
        elif shared:
            g2_sum += g2
        else:
            term = 0.5 * _K * g2 * (cl.Sigma @ C)
            sigma_c = term if sigma_c is None else sigma_c + term
    if shared and model.pos.iso is None:
        sigma_c = (0.5 * _K * g2_sum) * (model.pos.Sigma @ C)
    # low rank: JC_lr + JC_lr^T = [L, R][R, L]^T (a rank-8 gemm; the integrators run it with
    # single-threaded BLAS, see _single_thread_blas).
    L, R = np.stack(left, axis=1), np.stack(right, axis=1)
    dC = np.hstack([L, R]) @ np.hstack([R, L]).T
    dC += scal * C
    if sigma_c is not None:
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
    components; an explicit method (``RK45``) is used since an implicit one would need an
    (N + N^2)^2 Jacobian.  ``full_covariance`` (default: N <= 100) keeps C(t) at every
    ``t_eval`` (memory T N^2); otherwise only its trace is kept.  Integration runs in chunks of
    output times so that at most ~64 MB of states are held at once.
    """
    model = _model(rule, mu, Sigma, mu_neg, Sigma_neg, lam)
    n = model.n
    w0 = as_vector(w0, "w0", n)
    C0 = as_covariance(C0, "C0")
    if C0.shape != (n, n):
        raise ValueError(f"C0 must be {n}x{n} (dimension mismatch), got {C0.shape}")
    corr = as_nonnegative(correction, "correction")
    t_eval = _check_times(t_eval)
    if full_covariance is None:
        full_covariance = n <= 100

    def rhs(t, y):
        m = y[:n]
        C = y[n:].reshape(n, n)
        dm, dC = _moment_rhs(model, m, C, corr)
        return np.concatenate([dm, dC.ravel()])

    y0 = np.concatenate([w0, C0.ravel()])
    T = t_eval.size
    means = np.empty((T, n))
    traces = np.empty(T)
    covs = np.empty((T, n, n)) if full_covariance else None
    # One solve_ivp call per chunk of output times, so that the stored states
    # (chunk x (N + N^2) floats) stay below ~64 MB whatever N and len(t_eval) are.
    chunk = max(1, int(8e6 // y0.size))
    nfev = 0
    t_prev, y_prev = 0.0, y0
    i = 0
    while i < T:
        if t_eval[i] == t_prev:
            ys, i_next = y_prev[:, None], i + 1
        else:
            i_next = min(T, i + chunk)
            with _single_thread_blas():
                traj = integrate(rhs, (t_prev, float(t_eval[i_next - 1])), y_prev,
                                 t_eval=t_eval[i:i_next], method=method, rtol=rtol, atol=atol)
            nfev += traj.nfev
            ys = traj.y
            y_prev, t_prev = ys[:, -1], float(t_eval[i_next - 1])
        means[i:i_next] = ys[:n].T
        cv = ys[n:].T.reshape(-1, n, n)
        traces[i:i_next] = np.trace(cv, axis1=1, axis2=2)
        if covs is not None:
            covs[i:i_next] = cv
        i = i_next
    return MomentFlow(rule=model.rule, t=t_eval, mean=means, cov=covs, trace_cov=traces,
                      alignment=alignment(model.pos.mu, means), correction=corr,
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


def anisotropic_covariance(mu, epsilon: float, total: float = 1.0) -> np.ndarray:
    r""":math:`\Sigma = (1+\epsilon)\,nn^\top + (1-\epsilon)(I-nn^\top)` times ``total``,
    :math:`n=\mu/|\mu|` (seed 002 Fig. 3B-C: noise variance :math:`\sigma_\parallel^2 = 1+\epsilon`
    along :math:`\mu`, :math:`\sigma_\perp^2 = 1-\epsilon` orthogonal); ``epsilon`` in [-1, 1]."""
    mu = as_vector(mu, "mu")
    nrm = np.linalg.norm(mu)
    if nrm == 0:
        raise ValueError("mu must be non-zero")
    eps = float(epsilon)
    if not (-1.0 <= eps <= 1.0):
        raise ValueError(f"epsilon must be in [-1, 1], got {epsilon}")
    tot = as_positive(total, "total")
    n = mu / nrm
    return tot * ((1 - eps) * np.eye(mu.size) + 2 * eps * np.outer(n, n))
