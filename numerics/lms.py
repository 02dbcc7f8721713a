r"""Exact and small-learning-rate LMS theory, evaluated from the derived expressions.

Convention: :math:`w \leftarrow w + \gamma (y - w\cdot x) x` (no factor 2), inputs
:math:`x\sim N(0,R)`, :math:`y = w_o\cdot x + \xi`, :math:`\xi\sim N(0,s^2)`; see
:mod:`theory.lms`.  The excess loss is :math:`\mathcal{E} = E[(w-w_o)^\top R (w-w_o)]`
(the mean-squared error minus :math:`s^2`).

All formulas are lambdified from :func:`theory.lms.modal_theory`; they work in the
eigenbasis of R, so the cost per update of :func:`learning_curve` is O(n), not O(n^2).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.optimize import brentq

from numerics.checks import as_covariance, as_int, as_nonnegative, as_positive, as_vector
from numerics.compile import compile_scalar
from theory.lms import modal_theory

__all__ = ["stationary_excess_loss", "learning_curve", "stability_bound",
           "modal_step", "stationary_mode_variance"]


@lru_cache(maxsize=1)
def _compiled():
    mt = modal_theory()
    step = compile_scalar(mt.step, [mt.k, mt.lam, mt.S, mt.gamma, mt.s2])
    alpha = compile_scalar(mt.alpha, [mt.lam, mt.gamma])
    closure = compile_scalar(mt.closure, [mt.A, mt.s2])
    small = compile_scalar(mt.small_lr_cov, [mt.lam, mt.gamma, mt.s2])
    return step, alpha, closure, small


def modal_step(k, lam, S, gamma, noise_var):
    """One exact update of the per-mode second moments (lambdified from the theory)."""
    return _compiled()[0](k, lam, S, gamma, noise_var)


def _eigenvalues(R) -> np.ndarray:
    R = as_covariance(R, "R")
    return np.clip(np.linalg.eigvalsh(R), 0.0, None)


def _A(lam: np.ndarray, gamma: float) -> float:
    return float(np.sum(lam * _compiled()[1](lam, gamma)))


def stability_bound(R) -> float:
    r"""Largest :math:`\gamma` for which LMS is mean-square stable on inputs with covariance R.

    Stable iff :math:`\gamma\lambda_{\max} < 1` and :math:`A(\gamma) < 1` (module docstring);
    :math:`A` increases with :math:`\gamma`, so the bound is its root below
    :math:`1/\lambda_{\max}`.
    """
    lam = _eigenvalues(R)
    lmax = float(lam.max())
    if lmax <= 0:
        raise ValueError("R must have a positive eigenvalue")
    hi = (1.0 / lmax) * (1 - 1e-12)
    if _A(lam, hi) < 1.0:
        return 1.0 / lmax
    return float(brentq(lambda g: _A(lam, g) - 1.0, 0.0, hi, xtol=1e-15, rtol=1e-14))


def _check_gamma(gamma, lam: np.ndarray) -> float:
    bound = stability_bound(np.diag(lam))
    try:
        return as_positive(gamma, "gamma", upper=bound)
    except ValueError as err:
        raise ValueError(f"{err}: LMS is mean-square stable only for 0 < gamma < {bound:.6g} "
                         "on these inputs (gamma*lambda_max < 1 and A(gamma) < 1)") from None


def stationary_mode_variance(R, gamma, noise_var, exact: bool = True) -> np.ndarray:
    """Stationary diagonal of E[(w-w_o)(w-w_o)^T] in the eigenbasis of R (ascending eigenvalues)."""
    lam = _eigenvalues(R)
    gamma = _check_gamma(gamma, lam)
    s2 = as_nonnegative(noise_var, "noise_var")
    _, alpha, closure, small = _compiled()
    if not exact:
        return np.broadcast_to(small(lam, gamma, s2), lam.shape).astype(float)
    S = float(closure(_A(lam, gamma), s2))
    return alpha(lam, gamma) * (S + s2)


def stationary_excess_loss(R, gamma, noise_var, exact: bool = True) -> float:
    r"""Stationary excess mean-squared error :math:`E[(w-w_o)^\top R (w-w_o)]` of LMS.

    ``exact=True``: the fixed point of the exact discrete recursion,
    :math:`s^2 A/(1-A)`, :math:`A = \sum_i \gamma\lambda_i/(2(1-\gamma\lambda_i))`.
    ``exact=False``: the small-:math:`\gamma` moment-ODE result
    :math:`\gamma s^2 \operatorname{tr}R/2`.
    Raises ``ValueError`` if ``gamma`` is outside (0, :func:`stability_bound`).
    """
    lam = _eigenvalues(R)
    return float(np.sum(lam * stationary_mode_variance(np.diag(lam), gamma, noise_var, exact)))


def learning_curve(R, gamma, noise_var, w0, w_o, steps) -> np.ndarray:
    """Exact expected excess MSE after each of ``steps`` updates.

    Returns ``steps + 1`` values; entry 0 is the start.

    Iterates the exact diagonal map in the eigenbasis of R from K_0 = (w0-w_o)(w0-w_o)^T.
    """
    R = as_covariance(R, "R")
    n = R.shape[0]
    w0 = as_vector(w0, "w0", n)
    w_o = as_vector(w_o, "w_o", n)
    steps = as_int(steps, "steps", 0)
    lam, Q = np.linalg.eigh(R)
    lam = np.clip(lam, 0.0, None)
    gamma = _check_gamma(gamma, lam)
    s2 = as_nonnegative(noise_var, "noise_var")
    step = _compiled()[0]
    k = (Q.T @ (w0 - w_o)) ** 2
    out = np.empty(steps + 1)
    S = float(lam @ k)
    out[0] = S
    for i in range(steps):
        k = step(k, lam, S, gamma, s2)
        S = float(lam @ k)
        out[i + 1] = S
    return out
