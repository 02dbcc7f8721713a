r"""Exact spread of the LMS excess loss over learners, from the fourth-moment recursion.

Everything is evaluated from :func:`theory.lms_fluctuations.fourth_moment_map` and
:func:`theory.lms.modal_theory` (lambdified, never retyped), in the eigenbasis of R, at
O(n^2) per update:

* :func:`excess_loss_statistics` — for a learner started at ``w0``: the exact mean and
  variance of its excess loss :math:`\mathcal{E}_k = v_k^\top R v_k` after every update, and,
  for a window of updates ``[start, stop]``, the exact mean and variance of its time average
  :math:`\bar{\mathcal{E}} = \frac{1}{W}\sum_{k=\mathrm{start}}^{\mathrm{stop}}\mathcal{E}_k`.
  The lag covariances come from the affine diagonal map :math:`k' = Ak + b` of
  :mod:`theory.lms`: :math:`\operatorname{Cov}(\mathcal{E}_k, \mathcal{E}_{k+d}) =
  \lambda^\top A^d g_k`, :math:`g_k = E[v_k^{\odot 2}\mathcal{E}_k] - k_k E[\mathcal{E}_k]`;
* :func:`fourth_moment_stability_bound` — the largest learning rate at which
  :math:`\operatorname{Var}\mathcal{E}` stays bounded (the spectral radius of the
  homogeneous fourth-moment map reaches 1); above it a single learner's excess loss has
  infinite variance, so no standard error over learners exists.

These are the standard errors of the ``lms`` experiment: the sample standard deviation of a
few hundred heavy-tailed excess losses underestimates the spread exactly when the sample
mean is low, which made mean/SEM fail far more often than its nominal level.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq

from numerics.checks import as_covariance, as_int, as_nonnegative, as_positive, as_vector
from numerics.compile import compile_scalar
from numerics.lms import _check_gamma, modal_step, stability_bound
from theory.lms_fluctuations import fourth_moment_map

__all__ = ["ExcessLossStatistics", "fourth_moment_step", "excess_loss_statistics",
           "fourth_moment_spectral_radius", "fourth_moment_stability_bound", "MAX_STEPS"]

#: refuse longer recursions (each step is O(n^2) work in Python-driven NumPy)
MAX_STEPS = 5_000_000


@lru_cache(maxsize=1)
def _coefficients():
    fm = fourth_moment_map()
    args = [fm.li, fm.lj, fm.gamma]
    off = {k: compile_scalar(v, args) for k, v in fm.off_coeffs.items()}
    diag = {k: compile_scalar(v, args) for k, v in fm.diag_coeffs.items()}
    return off, diag


@dataclass(frozen=True)
class _Coeffs:
    vi4: np.ndarray
    vj4: np.ndarray
    vi2vj2: np.ndarray
    vi2T: np.ndarray
    vj2T: np.ndarray
    T2: np.ndarray
    d_vi4: np.ndarray
    d_vi2T: np.ndarray
    d_T2: np.ndarray


def _coeff_arrays(lam: np.ndarray, gamma: float) -> _Coeffs:
    off, diag = _coefficients()
    li, lj = lam[:, None], lam[None, :]

    def grid(f):
        return np.broadcast_to(np.asarray(f(li, lj, gamma), dtype=float),
                               (lam.size, lam.size)).copy()

    def line(f):
        return np.broadcast_to(np.asarray(f(lam, lam, gamma), dtype=float), lam.shape).copy()

    return _Coeffs(grid(off["vi4"]), grid(off["vj4"]), grid(off["vi2vj2"]), grid(off["vi2T"]),
                   grid(off["vj2T"]), grid(off["T2"]), line(diag["vi4"]), line(diag["vi2T"]),
                   line(diag["T2"]))


def _step(m: np.ndarray, k: np.ndarray, lam: np.ndarray, c: _Coeffs, s2: float) -> np.ndarray:
    ml = m @ lam
    lml = float(lam @ ml)
    lk = float(lam @ k)
    md = np.diag(m)
    li, lj = lam[:, None], lam[None, :]
    e_vi2T = ml[:, None] - li * md[:, None] - lj * m + s2 * k[:, None]
    e_vj2T = e_vi2T.T
    e_T2 = (lml - 2 * li * ml[:, None] - 2 * lj * ml[None, :] + li**2 * md[:, None]
            + lj**2 * md[None, :] + 2 * li * lj * m
            + 2 * s2 * (lk - li * k[:, None] - lj * k[None, :]) + s2**2)
    new = (c.vi4 * md[:, None] + c.vj4 * md[None, :] + c.vi2vj2 * m + c.vi2T * e_vi2T
           + c.vj2T * e_vj2T + c.T2 * e_T2)
    e_vi2Ti = ml - lam * md + s2 * k
    e_Ti2 = lml - 2 * lam * ml + lam**2 * md + 2 * s2 * (lk - lam * k) + s2**2
    np.fill_diagonal(new, c.d_vi4 * md + c.d_vi2T * e_vi2Ti + c.d_T2 * e_Ti2)
    return new


def fourth_moment_step(m, k, lam, gamma: float, noise_var: float) -> np.ndarray:
    r"""One exact update of :math:`m_{ij} = E[v_i^2 v_j^2]` given :math:`k_i = E[v_i^2]`
    (eigenbasis of R with eigenvalues ``lam``); see :mod:`theory.lms_fluctuations`."""
    lam = np.asarray(lam, dtype=float)
    m = np.asarray(m, dtype=float)
    k = np.asarray(k, dtype=float)
    n = lam.size
    if m.shape != (n, n) or k.shape != (n,):
        raise ValueError(f"m must be ({n}, {n}) and k ({n},) for {n} eigenvalues, got "
                         f"{m.shape} and {k.shape}")
    return _step(m, k, lam, _coeff_arrays(lam, float(gamma)), float(noise_var))


def _affine_diag_map(lam: np.ndarray, gamma: float, s2: float):
    """``A, b`` with ``modal_step(k) = A k + b`` (read off the lambdified exact map)."""
    n = lam.size
    b = np.asarray(modal_step(np.zeros(n), lam, 0.0, gamma, s2), dtype=float)
    A = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        A[:, j] = np.asarray(modal_step(e, lam, lam[j], gamma, s2), dtype=float) - b
    return A, b


@dataclass(frozen=True)
class ExcessLossStatistics:
    """Exact statistics of one LMS learner's excess loss (module docstring).

    ``mean[k]``, ``var[k]`` after k updates (k = 0..steps); ``window`` = (start, stop)
    inclusive, with ``window_mean`` and ``window_var`` the mean and variance of the time
    average over it (None without a window).
    """

    mean: np.ndarray
    var: np.ndarray
    window: tuple[int, int] | None = None
    window_mean: float | None = None
    window_var: float | None = None

    def sem(self, replicas: int) -> np.ndarray:
        """Standard error of a mean over ``replicas`` independent learners, per step."""
        return np.sqrt(np.maximum(self.var, 0.0) / replicas)

    def window_sem(self, replicas: int) -> float:
        """Standard error of the mean time average over ``replicas`` learners."""
        if self.window_var is None:
            raise ValueError("no window was given")
        return float(np.sqrt(max(self.window_var, 0.0) / replicas))


def excess_loss_statistics(R, gamma: float, noise_var: float, w0, w_o, steps: int, *,
                           window: tuple[int, int] | None = None) -> ExcessLossStatistics:
    """Exact mean and variance of the excess loss of an LMS learner started at ``w0``.

    Same model and convention as :func:`numerics.lms.learning_curve` (``w <- w + gamma
    (y - w.x) x``).  ``window=(start, stop)`` (0 <= start <= stop <= steps) adds the exact
    mean and variance of the learner's time-averaged excess loss over updates start..stop.
    """
    R = as_covariance(R, "R")
    n = R.shape[0]
    w0 = as_vector(w0, "w0", n)
    w_o = as_vector(w_o, "w_o", n)
    steps = as_int(steps, "steps", 0)
    if steps > MAX_STEPS:
        raise ValueError(f"steps must be <= {MAX_STEPS}, got {steps}")
    lam, Q = np.linalg.eigh(R)
    lam = np.clip(lam, 0.0, None)
    gamma = _check_gamma(gamma, lam)
    s2 = as_nonnegative(noise_var, "noise_var")
    if window is not None:
        start, stop = (as_int(window[0], "window start", 0), as_int(window[1], "window stop", 0))
        if not start <= stop <= steps:
            raise ValueError(f"window must satisfy 0 <= start <= stop <= steps={steps}, got "
                             f"({start}, {stop})")
    coeffs = _coeff_arrays(lam, gamma)
    v0 = Q.T @ (w0 - w_o)
    k = v0**2
    m = np.outer(k, k)
    mean = np.empty(steps + 1)
    var = np.empty(steps + 1)
    acc_mean = acc_var = 0.0
    if window is not None:
        A, _ = _affine_diag_map(lam, gamma, s2)
        mu, U = np.linalg.eigh(0.5 * (A + A.T))
        ell = U.T @ lam
    for i in range(steps + 1):
        L = float(lam @ k)
        mean[i] = L
        var[i] = float(lam @ m @ lam) - L * L
        if window is not None and start <= i <= stop:
            acc_mean += L
            acc_var += var[i]
            g = m @ lam - k * L  # Cov(v_i^2, E_k)
            d = stop - i
            if d:
                geom = mu * (1 - mu**d) / (1 - mu)
                acc_var += 2 * float(ell @ (geom * (U.T @ g)))
        if i < steps:
            m = _step(m, k, lam, coeffs, s2)
            k = np.asarray(modal_step(k, lam, L, gamma, s2), dtype=float)
    if window is None:
        return ExcessLossStatistics(mean, var)
    W = stop - start + 1
    return ExcessLossStatistics(mean, var, (start, stop), acc_mean / W, acc_var / W**2)


def _homogeneous_radius(lam: np.ndarray, gamma: float) -> float:
    """Spectral radius of the homogeneous (s = 0) map on the n(n+1)/2 even fourth moments:
    dense for small n, ARPACK with an O(n^2) matrix-free product otherwise."""
    n = lam.size
    c = _coeff_arrays(lam, gamma)
    iu = np.triu_indices(n)
    zero = np.zeros(n)

    def apply(x):
        e = np.zeros((n, n))
        e[iu] = np.ravel(x)
        e = e + np.triu(e, 1).T
        return _step(e, zero, lam, c, 0.0)[iu]

    size = iu[0].size
    if size <= 600:
        M = np.array([apply(col) for col in np.eye(size)]).T
        return float(np.max(np.abs(np.linalg.eigvals(M))))
    from scipy.sparse.linalg import LinearOperator, eigs

    op = LinearOperator((size, size), matvec=apply, dtype=float)
    val = eigs(op, k=1, which="LM", return_eigenvectors=False, v0=np.ones(size), tol=1e-10)
    return float(np.abs(val[0]))


def fourth_moment_spectral_radius(R, gamma: float) -> float:
    """Spectral radius of the homogeneous fourth-moment map at learning rate ``gamma``
    (< 1: the variance of the excess loss stays bounded)."""
    R = as_covariance(R, "R")
    lam = np.clip(np.linalg.eigvalsh(R), 0.0, None)
    lam = lam[lam > 0]
    if lam.size == 0:
        raise ValueError("R must have a positive eigenvalue")
    return _homogeneous_radius(lam, as_positive(gamma, "gamma"))


def fourth_moment_stability_bound(R) -> float:
    r"""Largest :math:`\gamma` at which :math:`E[v_i^2 v_j^2]` (so the variance of the excess
    loss) stays bounded: the root of :math:`\rho(\gamma) = 1`, where :math:`\rho` is the
    spectral radius of the homogeneous fourth-moment map.  Always below
    :func:`numerics.lms.stability_bound`; n = 1: :math:`\gamma\lambda = 0.3843`, the root of
    :math:`105u^3 - 60u^2 + 18u - 4`."""
    R = as_covariance(R, "R")
    lam = np.clip(np.linalg.eigvalsh(R), 0.0, None)
    lam = lam[lam > 0]
    if lam.size == 0:
        raise ValueError("R must have a positive eigenvalue")
    ms = stability_bound(np.diag(lam))
    hi = ms * (1 - 1e-9)
    if _homogeneous_radius(lam, hi) < 1.0:
        return ms
    return float(brentq(lambda g: _homogeneous_radius(lam, g) - 1.0, 1e-6 * ms, hi,
                        xtol=1e-14 * ms, rtol=1e-12))
