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

from numerics.checks import (
    as_bool,
    as_covariance,
    as_int,
    as_nonnegative,
    as_positive,
    as_vector,
)
from numerics.compile import compile_scalar
from theory.lms import modal_theory

__all__ = ["stationary_excess_loss", "learning_curve", "stability_bound",
           "modal_step", "stationary_mode_variance", "MAX_CURVE_BYTES"]

#: default memory limit of :func:`learning_curve`'s output (8 bytes per step): 1 GiB, about
#: 134 million steps (some 40 minutes of the per-step loop); pass ``max_bytes`` to change it
MAX_CURVE_BYTES = 2**30


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
    :math:`1/\lambda_{\max}`.  :math:`A` depends on :math:`\gamma` and the eigenvalues only
    through :math:`\gamma\lambda_i`, so the root is found in units of :math:`\lambda_{\max}`
    (:math:`g = \gamma\lambda_{\max} \in (0, 1)`, relative tolerances): the bound scales
    exactly as :math:`1/c` when R is scaled by c, at any magnitude.
    """
    lam = _eigenvalues(R)
    lmax = float(lam.max())
    if not lmax > 0:
        raise ValueError("R must have a positive eigenvalue")
    unit = lam / lmax  # eigenvalues in units of the largest, in [0, 1]
    hi = 1.0 - 1e-12
    if _A(unit, hi) < 1.0:
        return 1.0 / lmax
    g = brentq(lambda x: _A(unit, x) - 1.0, 0.0, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps,
               maxiter=200)
    return float(g) / lmax


def _check_gamma(gamma, lam: np.ndarray) -> float:
    bound = stability_bound(np.diag(lam))
    try:
        return as_positive(gamma, "gamma", upper=bound)
    except ValueError as err:
        raise ValueError(f"{err}: LMS is mean-square stable only for 0 < gamma < {bound:.6g} "
                         "on these inputs (gamma*lambda_max < 1 and A(gamma) < 1)") from None


def stationary_mode_variance(R, gamma, noise_var, exact: bool = True) -> np.ndarray:
    """Stationary diagonal of E[(w-w_o)(w-w_o)^T] in the eigenbasis of R (ascending eigenvalues).

    ``exact`` must be a bool (``TypeError`` otherwise: a string such as ``"no"`` is truthy)."""
    exact = as_bool(exact, "exact")
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
    Raises ``ValueError`` if ``gamma`` is outside (0, :func:`stability_bound`), ``TypeError``
    if ``exact`` is not a bool.
    """
    exact = as_bool(exact, "exact")
    lam = _eigenvalues(R)
    return float(np.sum(lam * stationary_mode_variance(np.diag(lam), gamma, noise_var, exact)))


def learning_curve(R, gamma, noise_var, w0, w_o, steps, *,
                   max_bytes: int | None = None) -> np.ndarray:
    """Exact expected excess MSE after each of ``steps`` updates.

    Returns ``steps + 1`` values; entry 0 is the start.

    Iterates the exact diagonal map in the eigenbasis of R from K_0 = (w0-w_o)(w0-w_o)^T.
    The curve takes 8 bytes per step: more than ``max_bytes`` (default
    :data:`MAX_CURVE_BYTES`, 1 GiB) is refused before any work with a ``ValueError`` that
    says how many bytes it would need.
    """
    R = as_covariance(R, "R")
    n = R.shape[0]
    w0 = as_vector(w0, "w0", n)
    w_o = as_vector(w_o, "w_o", n)
    steps = as_int(steps, "steps", 0)
    limit = MAX_CURVE_BYTES if max_bytes is None else as_int(max_bytes, "max_bytes", 8)
    need = 8 * (steps + 1)
    if need > limit:
        raise ValueError(
            f"steps={steps} would need {need} bytes ({need / 2**30:.3g} GiB) for the learning "
            f"curve, above the limit max_bytes={limit} ({limit / 2**30:.3g} GiB); ask for fewer "
            "steps or pass a larger max_bytes (the loop also costs about 20 microseconds a step)")
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
