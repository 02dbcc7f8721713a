r"""Exact mean and covariance of online learning in the cerebellar task (seed 000).

**The rule** (:class:`OnlineRule`; the authors' public code, ``LMSTrain`` with
``deltaTe = 1``, ``deltaTr = 0.5``, ``deltaTh = 0.1`` and updates every second): every
:math:`\Delta t` (update :math:`j` at :math:`t_{j+1} = (j+1)\Delta t`),

.. math:: w_{j+1} = w_j - \gamma\,(\bar e_j\,\tilde h_j + \kappa w_j) + \xi_j ,

where :math:`\bar e_j` is the mean of the sampled error :math:`e_n = y_n - r_n` over the
window :math:`[t_{j+1} - T_e, t_{j+1} - T_r)`, :math:`\tilde h_j = h(t_{j+1} - T_h)`, and
:math:`\kappa \ge 0` an optional weight decay (not in the authors' rule; it gives the
directions in which the granule activity hardly varies a finite relaxation time, without it
the steady state lies out of reach — see :func:`stationary_moments`).  The convention is
the authors': no factor 2, error :math:`y - r`.  Learning-rule noise :math:`\xi_j`:
``"none"``, ``"additive"`` (:math:`N(0, \sigma^2 I/N)`), ``"step"`` (additive with
:math:`\sigma = \gamma/\rho`, the authors' ``GaussianNoise(mu/SNR)``, which draws a vector of
norm :math:`\gamma/\mathrm{SNR}` in a random direction: the same covariance) or
``"proportional"`` to the update's
size, :math:`\xi_j = (\gamma|\bar e_j\tilde h_j|/\rho)\,\nu_j`, :math:`\nu_j\sim N(0, I/N)`
(signal-to-noise ratio :math:`\rho`).

**Exactness.** Over update interval :math:`j` the weights are frozen, so with the loop state
:math:`x_j` at the start of the interval (:mod:`theory.cerebellum`)

.. math:: x_{j+1} = \Phi^M x_j + B_j w_j + a_j,\qquad
          \bar e_j = \alpha^\top x_j + g_j^\top w_j + \beta_j ,

with :math:`M = \Delta t/dt` samples per interval and :math:`a_j, B_j, g_j, \beta_j,
\tilde h_j` fixed by the reference (:class:`UpdateMaps`).  The joint state :math:`s = (x, w)`
obeys :math:`s_{j+1} = A_js_j + b_j + (0, \xi_j)`; its mean and covariance propagate
exactly (:func:`propagate_moments`), the expected task loss is
:math:`E[L(w_j)] = L(m_j) + \operatorname{tr}(RC_j)`, and since the reference repeats every
:math:`K = T/\Delta t` updates the moments reach a periodic steady state
(:func:`stationary_moments`, discrete Lyapunov equation).  Every formula is lambdified from
:mod:`theory.cerebellum`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import scipy.linalg
import sympy as sp

from numerics.cerebellum.task import CerebellarTask
from numerics.checks import as_int, as_nonnegative, as_positive
from numerics.integrate import DivergenceError

__all__ = ["OnlineRule", "UpdateMaps", "update_maps", "MomentTrajectory", "propagate_moments",
           "StationaryMoments", "stationary_moments", "NotMeanSquareStable",
           "mean_square_radius", "max_stable_gamma", "SmallGammaStationary",
           "small_gamma_stationary", "static_learning_speed", "dynamic_learning_speed",
           "DynamicSpeedExpansion", "dynamic_speed_expansion", "task_loss_moments",
           "learning_geometry", "expansion_scaling_law"]

NOISE_KINDS = ("none", "additive", "step", "proportional")


class NotMeanSquareStable(ValueError):
    """The learning step is beyond the mean-square stability of the online rule."""


@dataclass(frozen=True)
class OnlineRule:
    r"""The LMS-like online rule (module docstring); times in seconds.

    ``gamma`` learning step; ``noise`` one of ``"none"``, ``"additive"`` (``noise_std`` =
    :math:`\sigma`, :math:`E|\xi|^2 = \sigma^2`), ``"step"`` (:math:`\sigma = \gamma/\rho`,
    ``snr`` = :math:`\rho`), ``"proportional"`` (:math:`|\xi|\propto|\Delta w|/\rho`);
    ``decay`` :math:`\kappa`; ``update_interval_s`` :math:`\Delta t`; ``error_window_s`` =
    :math:`(T_e, T_r)`; ``activity_lag_s`` :math:`T_h`.
    """

    gamma: float
    noise: str = "proportional"
    snr: float = 3.0
    noise_std: float = 0.0
    decay: float = 0.0
    update_interval_s: float = 1.0
    error_window_s: tuple[float, float] = (1.0, 0.5)
    activity_lag_s: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "gamma", as_positive(self.gamma, "gamma"))
        if self.noise not in NOISE_KINDS:
            raise ValueError(f"noise must be one of {NOISE_KINDS}, got {self.noise!r}")
        object.__setattr__(self, "snr", as_positive(self.snr, "snr"))
        object.__setattr__(self, "noise_std", as_nonnegative(self.noise_std, "noise_std"))
        object.__setattr__(self, "decay", as_nonnegative(self.decay, "decay"))
        object.__setattr__(self, "update_interval_s",
                           as_positive(self.update_interval_s, "update_interval_s"))
        te, tr = (float(v) for v in self.error_window_s)
        if not (0 <= tr < te <= self.update_interval_s):
            raise ValueError(f"error_window_s = (T_e, T_r) must satisfy 0 <= T_r < T_e <= "
                             f"update_interval_s = {self.update_interval_s:g}, got ({te}, {tr})")
        object.__setattr__(self, "error_window_s", (te, tr))
        lag = as_nonnegative(self.activity_lag_s, "activity_lag_s")
        object.__setattr__(self, "activity_lag_s", lag)
        if self.gamma * self.decay >= 1:
            raise ValueError(f"gamma * decay must be < 1 (the decay alone would overshoot), "
                             f"got {self.gamma * self.decay:g}")

    def with_gamma(self, gamma: float) -> OnlineRule:
        """The same rule with another learning step (and, for additive noise, the same
        ``noise_std``)."""
        from dataclasses import replace

        return replace(self, gamma=gamma)

    @property
    def timing(self) -> tuple:
        return (self.update_interval_s, self.error_window_s, self.activity_lag_s)

    def to_dict(self) -> dict:
        return {"gamma": self.gamma, "noise": self.noise, "snr": self.snr,
                "noise_std": self.noise_std, "decay": self.decay,
                "update_interval_s": self.update_interval_s,
                "error_window_s": list(self.error_window_s),
                "activity_lag_s": self.activity_lag_s}


def _steps(value: float, dt: float, name: str, allow_zero: bool = False) -> int:
    k = value / dt
    if abs(k - round(k)) > 1e-9 * max(1.0, k) or (round(k) < 1 and not allow_zero):
        raise ValueError(f"{name} = {value:g} s must be a multiple of the task's dt = {dt:g} s")
    return int(round(k))


@dataclass(frozen=True)
class UpdateMaps:
    r"""Per-update quantities of one period (K updates), fixed by reference and timing.

    ``Phi_M`` :math:`=\Phi^M`; ``a`` (K, n_x); ``B`` (K, n_x, N); ``alpha`` (n_x);
    ``beta`` (K,); ``g`` (K, N); ``h`` (K, N) = :math:`\tilde h_j`; ``M`` samples per update,
    ``window`` the sample offsets (within an interval) the error is averaged over,
    ``lag`` the sample offset of :math:`\tilde h` before the update.
    """

    Phi_M: np.ndarray
    a: np.ndarray
    B: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    g: np.ndarray
    h: np.ndarray
    M: int
    window: tuple[int, int]
    lag: int

    @property
    def K(self) -> int:
        return int(self.a.shape[0])

    @property
    def n_x(self) -> int:
        return int(self.Phi_M.shape[0])

    @property
    def N(self) -> int:
        return int(self.g.shape[1])


_MAPS_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def update_maps(task: CerebellarTask, rule: OnlineRule) -> UpdateMaps:
    """Build :class:`UpdateMaps` for ``task`` and the timing of ``rule`` (cached per task,
    for as long as the task lives)."""
    per_task = _MAPS_CACHE.setdefault(task, {})
    hit = per_task.get(rule.timing)
    if hit is not None:
        return hit
    dt = task.dt
    M = _steps(rule.update_interval_s, dt, "update_interval_s")
    if task.n_samples % M:
        raise ValueError(f"duration_s = {task.duration_s:g} s must be a multiple of "
                         f"update_interval_s = {rule.update_interval_s:g} s")
    te, tr = rule.error_window_s
    w0 = M - _steps(te, dt, "error_window_s[0]")
    w1 = M - _steps(tr, dt, "error_window_s[1]", allow_zero=True)
    lag = _steps(rule.activity_lag_s, dt, "activity_lag_s", allow_zero=True)
    K = task.n_samples // M
    L = task.loop
    nx = L.n_states
    pw = np.empty((M + 1, nx, nx))
    pw[0] = np.eye(nx)
    for i in range(1, M + 1):
        pw[i] = L.Phi @ pw[i - 1]
    Sr = np.einsum("ijk,k->ij", pw[M - 1::-1][:M], L.Gamma_r)  # Phi^{M-1-i} Gamma_r
    Sz = np.einsum("ijk,k->ij", pw[M - 1::-1][:M], L.Gamma_z)
    r_b = task.r.reshape(K, M)
    h_b = task.h.reshape(K, M, -1)
    a = np.einsum("ix,ki->kx", Sr, r_b)
    B = np.einsum("ix,kin->kxn", Sz, h_b)
    win = np.arange(w0, w1)
    alpha = np.mean(np.einsum("j,mjk->mk", L.H, pw[win]), axis=0)
    # kappa_i = mean over m in window, m > i, of H Phi^{m-1-i} Gamma
    imp_r = np.einsum("j,ijk,k->i", L.H, pw[:M], L.Gamma_r)
    imp_z = np.einsum("j,ijk,k->i", L.H, pw[:M], L.Gamma_z)
    kr = np.zeros(M)
    kz = np.zeros(M)
    for m in win:
        kr[:m] += imp_r[m - 1::-1] if m > 0 else 0.0
        kz[:m] += imp_z[m - 1::-1] if m > 0 else 0.0
    kr /= win.size
    kz /= win.size
    beta = r_b @ kr - r_b[:, win].mean(axis=1)
    g = np.einsum("i,kin->kn", kz, h_b)
    idx = (np.arange(1, K + 1) * M - lag) % task.n_samples
    maps = UpdateMaps(Phi_M=pw[M], a=a, B=B, alpha=alpha, beta=beta, g=g, h=task.h[idx], M=M,
                      window=(int(w0), int(w1)), lag=lag)
    per_task[rule.timing] = maps
    return maps


# ---- lambdified theory ---------------------------------------------------------------------

@lru_cache(maxsize=1)
def _compiled():
    from theory import cerebellum as th

    t = th.transition_symbols()
    S = th.SYMBOLS
    (xn, wn), (a, bw) = th.transition(t)
    lin = sp.lambdify([t.Phi, t.B, t.alpha, t.g, t.h, S.gamma, S.kappa, t.X, t.W], [xn, wn],
                      modules="numpy", cse=True)
    off = sp.lambdify([t.h, t.beta, S.gamma], bw, modules="numpy", cse=True)
    q_prop = sp.lambdify([t.alpha, t.g, t.beta, t.h, t.m_x, t.m_w, t.P_xx, t.P_xw, t.P_ww,
                          S.gamma, S.snr, S.N], th.noise_variance("proportional", t),
                         modules="numpy", cse=True)
    q_add = sp.lambdify([S.sigma2, S.N], th.noise_variance("additive", t), modules="numpy")
    q_step = sp.lambdify([S.gamma, S.snr, S.N], th.noise_variance("step", t), modules="numpy")
    ebar = sp.lambdify([t.alpha, t.g, t.beta, t.X, t.W], th.window_error(t.X, t.W, t),
                       modules="numpy", cse=True)
    A0, A1, b0, b1 = th.perturbation_recursion(t)
    pert = sp.lambdify([t.Phi, t.B, t.alpha, t.g, t.h, S.kappa, t.X, t.W],
                       [A0[0], A0[1], A1[1]], modules="numpy", cse=True)
    pert_b1 = sp.lambdify([t.h, t.beta], b1[1], modules="numpy", cse=True)
    st = th.static_learning_speed()
    static = sp.lambdify([st.gamma, st.grad_proj, st.hess_proj, st.noise_coeff, st.noise_var0,
                          st.L0], [st.speed, st.gamma_opt, st.speed_max], modules="numpy")
    dyn = th.dynamic_learning_speed()
    dyn_speed = sp.lambdify([S.gamma, dyn.a1, dyn.a2, dyn.noise, dyn.n, dyn.L0],
                            [dyn.speed, dyn.gamma_opt], modules="numpy")
    return {"lin": lin, "off": off, "q_prop": q_prop, "q_add": q_add, "q_step": q_step,
            "ebar": ebar,
            "pert": pert, "pert_b1": pert_b1, "static": static, "dyn": dyn_speed}


def _apply(maps: UpdateMaps, k: int, rule: OnlineRule, Z: np.ndarray) -> np.ndarray:
    """Columns of ``A_k Z`` (Z: (n_x + N, m))."""
    nx = maps.n_x
    xn, wn = _compiled()["lin"](maps.Phi_M, maps.B[k], maps.alpha[:, None], maps.g[k][:, None],
                                maps.h[k][:, None], rule.gamma, rule.decay, Z[:nx], Z[nx:])
    return np.concatenate([np.asarray(xn), np.asarray(wn)], axis=0)


def _offset(maps: UpdateMaps, k: int, rule: OnlineRule) -> np.ndarray:
    bw = _compiled()["off"](maps.h[k][:, None], maps.beta[k], rule.gamma)
    return np.concatenate([maps.a[k], np.asarray(bw)[:, 0]])


def _noise_q(maps: UpdateMaps, k: int, rule: OnlineRule, m: np.ndarray, P: np.ndarray) -> float:
    """Per-component variance of the noise added at update k, given the state's moments."""
    if rule.noise == "none":
        return 0.0
    N = maps.N
    if rule.noise == "additive":
        return float(_compiled()["q_add"](rule.noise_std ** 2, N))
    if rule.noise == "step":
        return float(_compiled()["q_step"](rule.gamma, rule.snr, N))
    nx = maps.n_x
    q = _compiled()["q_prop"](maps.alpha[:, None], maps.g[k][:, None], maps.beta[k],
                              maps.h[k][:, None], m[:nx, None], m[nx:, None], P[:nx, :nx],
                              P[:nx, nx:], P[nx:, nx:], rule.gamma, rule.snr, N)
    return float(np.asarray(q).reshape(-1)[0])


def _step(maps, k, rule, m, P):
    """One exact update of mean and covariance (k = phase within the period)."""
    q = _noise_q(maps, k, rule, m, P) if P is not None else 0.0
    m_new = _apply(maps, k, rule, m[:, None])[:, 0] + _offset(maps, k, rule)
    if P is None:
        return m_new, None
    Y = _apply(maps, k, rule, P)  # A P
    P_new = _apply(maps, k, rule, Y.T)  # A (A P)^T = A P A^T
    P_new = 0.5 * (P_new + P_new.T)
    if q:
        nx = maps.n_x
        P_new[nx:, nx:] += q * np.eye(maps.N)
    return m_new, P_new


def task_loss_moments(task: CerebellarTask, mean_w: np.ndarray, cov_w: np.ndarray | None):
    """``(E[L], L(mean), tr(R C))`` for weights of given mean and covariance."""
    Lm = task.task_loss(mean_w)
    tr = 0.0 if cov_w is None else float(np.einsum("ij,ji->", task.R, cov_w))
    return Lm + tr, Lm, tr


@dataclass(frozen=True)
class MomentTrajectory:
    r"""Exact moments after each update ``j = 0..n`` (``updates``): ``expected_loss``
    :math:`E[L(w_j)]`, ``loss_of_mean`` :math:`L(m_j)`, ``trace_term``
    :math:`\operatorname{tr}(RC_j)`, ``mean_w`` (n+1, N) and the final joint ``mean`` and
    ``cov`` of :math:`s = (x, w)`."""

    updates: np.ndarray
    expected_loss: np.ndarray
    loss_of_mean: np.ndarray
    trace_term: np.ndarray
    mean_w: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    rule: OnlineRule

    def to_dict(self) -> dict:
        return {"updates": self.updates.tolist(), "expected_loss": self.expected_loss.tolist(),
                "loss_of_mean": self.loss_of_mean.tolist(),
                "trace_term": self.trace_term.tolist(), "rule": self.rule.to_dict()}


def _initial(task, maps, x0, w0, cov0):
    nx, N = maps.n_x, maps.N
    x0 = np.zeros(nx) if x0 is None else np.asarray(x0, dtype=float)
    w0 = np.zeros(N) if w0 is None else np.asarray(w0, dtype=float)
    if x0.shape != (nx,) or not np.all(np.isfinite(x0)):
        raise ValueError(f"x0 must be a finite vector of length n_states = {nx}")
    if w0.shape != (N,) or not np.all(np.isfinite(w0)):
        raise ValueError(f"w0 must be a finite vector of length n_weights = {N}")
    m = np.concatenate([x0, w0])
    if cov0 is None:
        P = np.zeros((nx + N, nx + N))
    else:
        P = np.asarray(cov0, dtype=float)
        if P.shape == (N, N):
            full = np.zeros((nx + N, nx + N))
            full[nx:, nx:] = P
            P = full
        if P.shape != (nx + N, nx + N) or not np.all(np.isfinite(P)):
            raise ValueError(f"cov0 must be a finite (N, N) or (n_states + N, n_states + N) "
                             f"matrix, N = {N}, n_states = {nx}")
        P = 0.5 * (P + P.T)
    return m, P


def propagate_moments(task: CerebellarTask, rule: OnlineRule, n_updates: int, *, w0=None,
                      x0=None, cov0=None, phase: int = 0) -> MomentTrajectory:
    r"""Exact mean and covariance of :math:`(x, w)` over ``n_updates`` updates.

    Starts from mean ``(x0, w0)`` (default 0: the loop at rest) and covariance ``cov0`` (of
    ``w`` alone, (N, N), or of the joint state; default 0) at update-phase ``phase`` of the
    periodic reference.  Raises :class:`~numerics.integrate.DivergenceError` if the moments
    blow up (learning step beyond mean-square stability, see :func:`max_stable_gamma`).
    """
    if not isinstance(rule, OnlineRule):
        raise TypeError(f"rule must be an OnlineRule, got {type(rule).__name__}")
    n_updates = as_int(n_updates, "n_updates", 0)
    maps = update_maps(task, rule)
    m, P = _initial(task, maps, x0, w0, cov0)
    nx = maps.n_x
    el, lm, tt = (np.empty(n_updates + 1) for _ in range(3))
    mw = np.empty((n_updates + 1, maps.N))
    scale0 = None
    for j in range(n_updates + 1):
        el[j], lm[j], tt[j] = task_loss_moments(task, m[nx:], P[nx:, nx:])
        mw[j] = m[nx:]
        if scale0 is None:
            scale0 = max(el[0], 1e-300)
        if not np.isfinite(el[j]) or el[j] > 1e12 * scale0:
            raise DivergenceError(
                f"exact moments diverged at update {j} (t = {j * rule.update_interval_s:g} s): "
                f"expected task loss {el[j]:.3g}; gamma = {rule.gamma:g} is beyond the "
                "mean-square stability of the online rule", j * rule.update_interval_s)
        if j < n_updates:
            m, P = _step(maps, (phase + j) % maps.K, rule, m, P)
    return MomentTrajectory(np.arange(n_updates + 1), el, lm, tt, mw, m, P, rule)


# ---- periodic steady state -----------------------------------------------------------------

def _monodromy(maps: UpdateMaps, rule: OnlineRule):
    n = maps.n_x + maps.N
    Z = np.eye(n)
    b = np.zeros(n)
    for k in range(maps.K):
        Z = _apply(maps, k, rule, Z)
        b = _apply(maps, k, rule, b[:, None])[:, 0] + _offset(maps, k, rule)
    return Z, b


def _radius(A: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(A))))


#: stability margin: a mode closer than this to |lambda| = 1 (per period) is "not stable"
_MARGIN = 1e-10


def _propagate_period(maps, rule, m0, P0):
    m, P = m0, P0
    for k in range(maps.K):
        m, P = _step(maps, k, rule, m, P)
    return m, P


def _period_noise(maps, rule, m0, P0):
    r"""Noise accumulated over one period, :math:`\bar Q = P_K - \bar A P_0\bar A^\top`,
    propagated separately from the part that started in :math:`P_0` (no cancellation)."""
    nx, N = maps.n_x, maps.N
    m, S = m0, P0
    J = np.zeros_like(P0)
    for k in range(maps.K):
        q = _noise_q(maps, k, rule, m, S + J)
        m = _apply(maps, k, rule, m[:, None])[:, 0] + _offset(maps, k, rule)
        S = _apply(maps, k, rule, _apply(maps, k, rule, S).T)
        J = _apply(maps, k, rule, _apply(maps, k, rule, J).T)
        S = 0.5 * (S + S.T)
        J = 0.5 * (J + J.T)
        J[nx:, nx:] += q * np.eye(N)
    return J


def _splitting_rate(maps, rule, Abar, iters: int = 25) -> float:
    """Spectral radius of P -> Lyap(Abar, N(P)), N(P) the proportional noise injected over one
    period by a zero-mean state of covariance P (power iteration; < 1 iff mean-square stable
    given rho(Abar) < 1).  Accurate to 0.1% near 1; below 0.8 only to ~5%, which cannot
    change the verdict."""
    n = maps.n_x + maps.N
    P = np.eye(n)
    zero = np.zeros(n)
    rate = 0.0
    # homogeneous proportional part: beta = 0 offsets, zero mean
    hom = UpdateMaps(maps.Phi_M, np.zeros_like(maps.a), maps.B, maps.alpha,
                     np.zeros_like(maps.beta), maps.g, maps.h, maps.M, maps.window, maps.lag)
    for it in range(iters):
        Q = _period_noise(hom, rule, zero, P)
        Pn = scipy.linalg.solve_discrete_lyapunov(Abar, Q)
        nrm = np.linalg.norm(Pn)
        if not np.isfinite(nrm) or nrm == 0:
            return 0.0 if nrm == 0 else np.inf
        new_rate = nrm / np.linalg.norm(P)
        P = Pn / nrm
        # converged, or far enough from 1 that the stability verdict cannot change
        if it >= 3 and (abs(new_rate - rate) < 1e-3 * new_rate or new_rate > 1.05
                        or (new_rate < 0.8 and abs(new_rate - rate) < 0.05 * new_rate)):
            return float(new_rate)
        rate = new_rate
    return float(rate)


def mean_square_radius(task: CerebellarTask, rule: OnlineRule) -> float:
    r"""A number below 1 iff the online rule is mean-square stable (per period).

    :math:`\rho(\bar A)` for no or additive noise; for proportional noise the larger of
    :math:`\rho(\bar A)` and the spectral radius of the regular splitting
    :math:`P\mapsto\mathrm{Lyap}(\bar A, \mathcal N(P))` (:func:`theory.cerebellum.
    stationary_equations`).
    """
    maps = update_maps(task, rule)
    Abar, _ = _monodromy(maps, rule)
    rad = _radius(Abar)
    if rule.noise != "proportional" or rad >= 1 - _MARGIN:
        return rad
    return max(rad, _splitting_rate(maps, rule, Abar))


def max_stable_gamma(task: CerebellarTask, rule: OnlineRule, *, rtol: float = 1e-3,
                     upper: float = 100.0) -> float:
    """Largest learning step for which ``rule`` (its other settings kept) is mean-square
    stable on ``task``, by bisection on :func:`mean_square_radius` (relative tolerance
    ``rtol``)."""
    lo, hi = 0.0, None
    g = min(rule.gamma, upper)
    # bracket
    for _ in range(60):
        if mean_square_radius(task, rule.with_gamma(g)) < 1 - _MARGIN:
            lo = g
            g *= 2
            if g > upper:
                return upper
        else:
            hi = g
            break
    if hi is None:
        return lo
    if lo == 0.0:
        lo_try = hi
        for _ in range(60):
            lo_try /= 2
            if mean_square_radius(task, rule.with_gamma(lo_try)) < 1 - _MARGIN:
                lo = lo_try
                break
        else:
            raise NotMeanSquareStable(
                f"no learning step gamma > {lo_try:.3g} is mean-square stable: the slowest "
                "mode does not decay (use decay > 0)")
    while hi - lo > rtol * lo:
        mid = 0.5 * (lo + hi)
        if mean_square_radius(task, rule.with_gamma(mid)) < 1 - _MARGIN:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class StationaryMoments:
    r"""The periodic steady state: joint ``mean`` and ``cov`` at phase 0 (start of the
    trajectory), ``phase_loss`` (K,) :math:`E[L(w_j)]` over one period, its average
    ``loss`` :math:`\xi` (the steady-state loss), ``loss_of_mean`` (K,), ``radius`` the
    mean-square spectral radius per period, ``iterations`` of the proportional-noise fixed
    point (0 otherwise)."""

    mean: np.ndarray
    cov: np.ndarray
    phase_loss: np.ndarray
    loss_of_mean: np.ndarray
    loss: float
    radius: float
    iterations: int
    rule: OnlineRule = field(repr=False)

    n_x: int = 0

    @property
    def mean_w(self) -> np.ndarray:
        return self.mean[self.n_x:]

    @property
    def cov_w(self) -> np.ndarray:
        return self.cov[self.n_x:, self.n_x:]

    def to_dict(self) -> dict:
        return {"loss": self.loss, "radius": self.radius, "iterations": self.iterations,
                "phase_loss": self.phase_loss.tolist(), "rule": self.rule.to_dict()}


def stationary_moments(task: CerebellarTask, rule: OnlineRule, *, tol: float = 1e-11,
                       max_iter: int = 400) -> StationaryMoments:
    r"""Exact periodic steady state of the moments (:func:`theory.cerebellum.
    stationary_equations`): :math:`\bar m = (I - \bar A)^{-1}\bar b` and the discrete
    Lyapunov equation :math:`\bar P = \bar A\bar P\bar A^\top + \bar Q`, iterated to its fixed
    point when the noise is proportional to the update.

    Raises :class:`NotMeanSquareStable` (a ``ValueError``) if ``rule.gamma`` is beyond
    mean-square stability, or if the slowest mode is so slow that no steady state is in reach
    (spectral radius within 1e-10 of 1 per period: without decay, the directions in which the
    granule activity hardly varies relax over astronomically many updates).
    """
    maps = update_maps(task, rule)
    nx, N, K = maps.n_x, maps.N, maps.K
    Abar, bbar = _monodromy(maps, rule)
    rad = _radius(Abar)
    if rad >= 1 - _MARGIN:
        slow = "" if rad >= 1 else f" (slowest mode relaxes over ~{1 / (1 - rad):.3g} periods)"
        if rule.decay == 0 and rad < 1 + 1e-3:
            slow += ("; without decay the directions in which the granule activity hardly "
                     "varies never settle (the LMS-like rule may even drift along them): use "
                     "decay > 0")
        raise NotMeanSquareStable(
            f"gamma = {rule.gamma:g} gives no steady state: the monodromy of the mean has "
            f"spectral radius {rad:.12g} >= 1 - {_MARGIN:g}{slow}; see max_stable_gamma")
    n = nx + N
    mbar = np.linalg.solve(np.eye(n) - Abar, bbar)
    P0 = np.zeros((n, n))
    iterations = 0
    if rule.noise == "none":
        Pbar = P0
    elif rule.noise in ("additive", "step"):
        Pbar = scipy.linalg.solve_discrete_lyapunov(Abar, _period_noise(maps, rule, mbar, P0))
    else:
        Pbar = P0
        steps = []
        for iterations in range(1, max_iter + 1):  # noqa: B007
            Q = _period_noise(maps, rule, mbar, Pbar)
            Pn = scipy.linalg.solve_discrete_lyapunov(Abar, Q)
            steps.append(np.linalg.norm(Pn - Pbar))
            Pbar = Pn
            if steps[-1] <= tol * np.linalg.norm(Pbar):
                break
            # the iteration is a power iteration of the regular splitting: its step ratio
            # tends to that operator's spectral radius, >= 1 iff not mean-square stable
            if iterations >= 8 and steps[-1] >= 0.999 * steps[-2] >= 0.999**2 * steps[-3]:
                raise NotMeanSquareStable(
                    f"gamma = {rule.gamma:g} is beyond mean-square stability with noise "
                    f"proportional to the update (snr = {rule.snr:g}): the second moments grow"
                    " without bound; see max_stable_gamma")
        else:
            raise NotMeanSquareStable(
                f"the proportional-noise steady state did not converge in {max_iter} "
                f"iterations at gamma = {rule.gamma:g}: too close to the mean-square "
                "stability bound")
    Pbar = 0.5 * (Pbar + Pbar.T)
    # one period from the steady state: phase-resolved expected loss
    m, P = mbar, Pbar
    phase, lm = np.empty(K), np.empty(K)
    for k in range(K):
        phase[k], lm[k], _ = task_loss_moments(task, m[nx:], P[nx:, nx:])
        m, P = _step(maps, k, rule, m, P)
    if not np.allclose(m, mbar, rtol=1e-6, atol=1e-9 * max(1.0, np.abs(mbar).max())):
        raise ArithmeticError("periodic steady state not reproduced after one period "
                              "(ill-conditioned monodromy)")
    return StationaryMoments(mean=mbar, cov=Pbar, phase_loss=phase, loss_of_mean=lm,
                             loss=float(phase.mean()), radius=rad, iterations=iterations,
                             rule=rule, n_x=nx)


# ---- small-gamma steady state: fixed point of the averaged rule ----------------------------

@dataclass(frozen=True)
class SmallGammaStationary:
    r""":math:`\gamma\to0` steady state (:func:`theory.cerebellum.small_gamma_stationary`).

    ``w_fix`` the fixed point of the averaged LMS-like rule, ``loss_fix`` :math:`L(w_\mathrm
    {fix})`, ``bias`` :math:`L(w_\mathrm{fix}) - L_{\min}` (the rule's fixed point is not
    :math:`w^*`), ``cov`` the leading-order weight covariance (continuous Lyapunov), ``trace``
    :math:`\operatorname{tr}(RC)`, ``loss`` :math:`\xi\approx L(w_\mathrm{fix}) +
    \operatorname{tr}(RC)`; ``M_bar``, ``c_bar`` the averaged rule per period."""

    w_fix: np.ndarray
    loss_fix: float
    bias: float
    cov: np.ndarray
    trace: float
    loss: float
    M_bar: np.ndarray
    c_bar: np.ndarray

    def to_dict(self) -> dict:
        return {"loss_fix": self.loss_fix, "bias": self.bias, "trace": self.trace,
                "loss": self.loss}


def _frozen_periodic_errors(maps: UpdateMaps):
    r"""Window errors in the loop's periodic regime with frozen weights:
    :math:`\bar e_j = \hat g_j^\top w + \hat e_j`; returns ``(g_hat (K, N), e_hat (K,))``."""
    c = _compiled()
    nx, N, K = maps.n_x, maps.N, maps.K
    W = np.concatenate([np.eye(N), np.zeros((N, 1))], axis=1)  # unit weights + offset column
    off = np.zeros((1, N + 1))
    off[0, N] = 1.0

    def advance(X, k):
        xn, _, _ = c["pert"](maps.Phi_M, maps.B[k], maps.alpha[:, None], maps.g[k][:, None],
                             maps.h[k][:, None], 0.0, X, W)  # A0: gamma = 0, w frozen
        return np.asarray(xn) + maps.a[k][:, None] * off

    X = np.zeros((nx, N + 1))
    for k in range(K):
        X = advance(X, k)
    X = np.linalg.solve(np.eye(nx) - np.linalg.matrix_power(maps.Phi_M, K), X)
    E = np.empty((K, N + 1))
    for k in range(K):
        E[k] = np.asarray(c["ebar"](maps.alpha[:, None], maps.g[k][:, None], maps.beta[k],
                                    X, W)).reshape(-1)
        E[k, :N] -= maps.beta[k]  # beta enters through the offset column only
        X = advance(X, k)
    return E[:, :N], E[:, N]


def small_gamma_stationary(task: CerebellarTask, rule: OnlineRule) -> SmallGammaStationary:
    r"""The :math:`\gamma\to0` steady state: :math:`w_\mathrm{fix} = -(\bar M + K\kappa I)^{-1}
    \bar c` and :math:`(\bar M + K\kappa I)C + C(\cdot)^\top = \bar Q/\gamma`.

    Raises :class:`NotMeanSquareStable` if the averaged rule is unstable (an eigenvalue of
    :math:`\bar M + K\kappa I` with real part <= 0: the LMS-like rule, which correlates the
    error with :math:`\tilde h` rather than with the loop-filtered activity, then drifts
    away along some direction; a larger ``decay`` cures it).
    """
    maps = update_maps(task, rule)
    N, K = maps.N, maps.K
    g_hat, e_hat = _frozen_periodic_errors(maps)
    M_bar = maps.h.T @ g_hat
    c_bar = maps.h.T @ e_hat
    Mk = M_bar + K * rule.decay * np.eye(N)
    ev = np.linalg.eigvals(Mk)
    if np.min(ev.real) <= 0:
        raise NotMeanSquareStable(
            f"the averaged LMS-like rule is unstable at small gamma (an eigenvalue of M + "
            f"K*decay*I has real part {np.min(ev.real):.3g} <= 0); increase decay")
    w_fix = -np.linalg.solve(Mk, c_bar)
    e_fix = g_hat @ w_fix + e_hat
    if rule.noise == "none":
        q_per = 0.0
    elif rule.noise == "additive":
        q_per = K * rule.noise_std**2 / N / rule.gamma
    elif rule.noise == "step":
        q_per = K * rule.gamma / (rule.snr**2 * N)
    else:
        q_per = rule.gamma * float(np.sum(np.sum(maps.h**2, axis=1) * e_fix**2)) / (
            N * rule.snr**2)
    C = scipy.linalg.solve_continuous_lyapunov(Mk, q_per * np.eye(N)) if q_per else \
        np.zeros((N, N))
    C = 0.5 * (C + C.T)
    loss_fix = task.task_loss(w_fix)
    tr = float(np.einsum("ij,ji->", task.R, C))
    return SmallGammaStationary(w_fix=w_fix, loss_fix=loss_fix, bias=loss_fix - task.L_min,
                                cov=C, trace=tr, loss=loss_fix + tr, M_bar=M_bar, c_bar=c_bar)


# ---- learning speed ----------------------------------------------------------------------

def _start(task, rule, w0, x0):
    maps = update_maps(task, rule)
    m, _ = _initial(task, maps, x0, w0, None)
    return maps, m[:maps.n_x], m[maps.n_x:]


def static_learning_speed(task: CerebellarTask, rule: OnlineRule, w0, x0=None) -> dict:
    r"""Exact one-update learning speed :math:`\nu_s = (L(w_0) - E[L(w_1)])/L(w_0)` at
    ``rule.gamma``, the static optimal step :math:`\gamma_s^*` and :math:`\nu_s(\gamma_s^*)`
    (:func:`theory.cerebellum.static_learning_speed`; first update of a trajectory that
    starts with the loop in state ``x0``, default at rest)."""
    maps, x0, w0 = _start(task, rule, w0, x0)
    c = _compiled()
    e0 = float(np.asarray(c["ebar"](maps.alpha[:, None], maps.g[0][:, None], maps.beta[0],
                                    x0[:, None], w0[:, None])).reshape(-1)[0])
    h = maps.h[0]
    d = -(e0 * h + rule.decay * w0)
    grad = task.task_loss_gradient(w0)
    Fd = task.loss_form.F @ d
    trR = float(np.trace(task.R))
    N = maps.N
    q2 = q0 = 0.0
    if rule.noise == "proportional":
        q2 = trR * float(h @ h) * e0**2 / (N * rule.snr**2)
    elif rule.noise == "step":
        q2 = trR / (N * rule.snr**2)
    elif rule.noise == "additive":
        q0 = trR * rule.noise_std**2 / N
    L0 = task.task_loss(w0)
    speed, g_opt, s_max = c["static"](rule.gamma, float(d @ grad), float(Fd @ Fd), q2, q0, L0)
    return {"speed": float(speed), "gamma_opt": float(g_opt), "speed_max": float(s_max),
            "grad_proj": float(d @ grad), "hess_proj": float(Fd @ Fd), "L0": L0}


def dynamic_learning_speed(task: CerebellarTask, rule: OnlineRule, w0, n_updates: int,
                           x0=None) -> float:
    r"""Exact dynamic learning speed :math:`\nu_d = (L(w_0) - E[L(w_n)])/(nL(w_0))` over the
    first ``n_updates`` updates (exact moments)."""
    n = as_int(n_updates, "n_updates", 1)
    tr = propagate_moments(task, rule, n, w0=w0, x0=x0)
    return float((tr.expected_loss[0] - tr.expected_loss[-1]) / (n * tr.expected_loss[0]))


@dataclass(frozen=True)
class DynamicSpeedExpansion:
    r""":math:`\nu_d(\gamma) = -(\gamma\ell_1 + \gamma^2\ell_2 + Q)/(nL_0) + O(\gamma^3)`
    (:func:`theory.cerebellum.dynamic_learning_speed`); ``ell2`` includes the noise that
    scales with :math:`\gamma^2`, ``noise`` the part that does not (additive)."""

    ell1: float
    ell2: float
    noise: float
    n: int
    L0: float

    def speed(self, gamma) -> np.ndarray:
        out = _compiled()["dyn"](np.asarray(gamma, dtype=float), self.ell1, self.ell2,
                                 self.noise, self.n, self.L0)[0]
        return np.asarray(out, dtype=float)

    @property
    def gamma_opt(self) -> float:
        return float(_compiled()["dyn"](1.0, self.ell1, self.ell2, self.noise, self.n,
                                        self.L0)[1])

    def to_dict(self) -> dict:
        return {"ell1": self.ell1, "ell2": self.ell2, "noise": self.noise, "n": self.n,
                "L0": self.L0, "gamma_opt": self.gamma_opt}


def dynamic_speed_expansion(task: CerebellarTask, rule: OnlineRule, w0, n_updates: int,
                            x0=None) -> DynamicSpeedExpansion:
    r"""Second-order small-:math:`\gamma` expansion of the dynamic learning speed, from the
    perturbation recursion :math:`s^{(0)}, s^{(1)}, s^{(2)}`
    (:func:`theory.cerebellum.perturbation_recursion`) over ``n_updates`` updates."""
    n = as_int(n_updates, "n_updates", 1)
    maps, x0, w0 = _start(task, rule, w0, x0)
    c = _compiled()
    nx, N = maps.n_x, maps.N
    S = np.zeros((nx + N, 3))
    S[:nx, 0] = x0
    S[nx:, 0] = w0
    trR = float(np.trace(task.R))
    noise_g2 = 0.0
    for j in range(n):
        k = j % maps.K
        args = (maps.Phi_M, maps.B[k], maps.alpha[:, None], maps.g[k][:, None],
                maps.h[k][:, None], rule.decay)
        a0x, a0w, a1w = c["pert"](*args, S[:nx], S[nx:])
        a0x, a0w, a1w = np.asarray(a0x), np.asarray(a0w), np.asarray(a1w)
        if rule.noise == "proportional":
            e0 = float(np.asarray(c["ebar"](maps.alpha[:, None], maps.g[k][:, None],
                                            maps.beta[k], S[:nx, :1], S[nx:, :1]))[0, 0])
            noise_g2 += float(maps.h[k] @ maps.h[k]) * e0**2 / (N * rule.snr**2)
        new = np.zeros_like(S)
        new[:nx] = a0x
        new[nx:] = a0w
        new[:nx, 0] += maps.a[k]  # b0
        new[nx:, 1] += a1w[:, 0] + np.asarray(c["pert_b1"](maps.h[k][:, None],
                                                           maps.beta[k]))[:, 0]  # A1 s0 + b1
        new[nx:, 2] += a1w[:, 1]  # A1 s1
        S = new
    w1, w2 = S[nx:, 1], S[nx:, 2]
    grad = task.task_loss_gradient(w0)
    Fw1 = task.loss_form.F @ w1
    ell1 = float(w1 @ grad)
    ell2 = float(Fw1 @ Fw1 + w2 @ grad)
    const = 0.0
    if rule.noise == "step":
        ell2 += n * trR / (N * rule.snr**2)
    elif rule.noise == "proportional":
        ell2 += trR * noise_g2
    elif rule.noise == "additive":
        const = n * trR * rule.noise_std**2 / N
    return DynamicSpeedExpansion(ell1=ell1, ell2=ell2, noise=const, n=n,
                                 L0=task.task_loss(w0))


# ---- geometry of the first update and the expansion scaling --------------------------------

def learning_geometry(task: CerebellarTask, rule: OnlineRule, w0, x0=None) -> dict:
    r"""The quantities of Raman, Rotondo & O'Leary's trade-off at the first update
    (:func:`theory.cerebellum.expansion_scaling`), with :math:`H = 2R` the task loss's Hessian:
    ``grad_norm`` :math:`|\nabla L(w_0)|`, ``gamma_o`` the cosine between the LMS-like update
    direction :math:`\hat d` and :math:`-\nabla L`, ``hess_proj`` :math:`\hat d^\top H\hat d`,
    ``trH_N`` :math:`\operatorname{tr}H/N`, and ``update_norm`` :math:`|d|` per unit
    :math:`\gamma`."""
    maps, x0, w0 = _start(task, rule, w0, x0)
    c = _compiled()
    e0 = float(np.asarray(c["ebar"](maps.alpha[:, None], maps.g[0][:, None], maps.beta[0],
                                    x0[:, None], w0[:, None])).reshape(-1)[0])
    d = -(e0 * maps.h[0] + rule.decay * w0)
    grad = task.task_loss_gradient(w0)
    dn = float(np.linalg.norm(d))
    dh = d / dn
    Fd = task.loss_form.F @ dh
    return {"grad_norm": float(np.linalg.norm(grad)),
            "gamma_o": float(-(dh @ grad) / np.linalg.norm(grad)),
            "hess_proj": float(2 * Fd @ Fd), "trH_N": float(2 * np.trace(task.R) / maps.N),
            "update_norm": dn}


@lru_cache(maxsize=1)
def _scaling_compiled():
    from theory.cerebellum import SYMBOLS, expansion_scaling

    sc = expansion_scaling()
    args = [sc.q, SYMBOLS.gamma, *sc.symbols]
    return (sp.lambdify(args, sc.speed, modules="numpy"),
            sp.lambdify(args, sc.steady, modules="numpy"),
            sp.lambdify(args, sc.gamma_opt, modules="numpy"))


def expansion_scaling_law(q, gamma, *, gamma_o, grad_norm, hess_proj, trH_N, eta, L_ss,
                          exponent) -> dict:
    r"""Evaluate the seed's scaling forms (:func:`theory.cerebellum.expansion_scaling`):
    learning speed :math:`\nu(q)`, steady state :math:`\xi(q)` and the speed-optimal step
    :math:`\gamma^*(q)`, given the q = 1 quantities and the Hessian-projection exponent
    :math:`\varrho` (``exponent``)."""
    sp_, st_, go_ = _scaling_compiled()
    a = (np.asarray(q, dtype=float), np.asarray(gamma, dtype=float), gamma_o, grad_norm,
         hess_proj, trH_N, eta, L_ss, exponent)
    return {"speed": sp_(*a), "steady": st_(*a), "gamma_opt": go_(*a)}
