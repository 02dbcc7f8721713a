r"""Learning-rate bounds of Raman, Rotondo & O'Leary (PNAS 2019), evaluated numerically.

Every formula here is lambdified from :mod:`theory.learning_bounds` (never retyped):

* :func:`expected_k`: :math:`\langle k\rangle = \frac{G}{F}\gamma_1 - \frac{T}{2F}
  [\gamma_1^2\kappa + (\gamma_2^2/N + \gamma_3^2/T)\operatorname{tr}H]` (paper eq. 6), and
  :func:`variance_k` its variance over the random directions;
* :func:`expected_difficulty`, :func:`learning_threshold`: the learning condition
  :math:`\langle k\rangle > 0 \iff \bar G_F < \gamma_1/(T\langle|\dot w|^2\rangle)` (paper eq. 7);
* :func:`expected_k_embedded`, :func:`optimal_size`: :math:`\langle k\rangle(N)` of an exactly
  embedded linear student (:math:`\kappa` fixed, :math:`\operatorname{tr}H\propto c_2`) and
  its maximiser :math:`N^* = \frac{a}{1-a}T\gamma_2^2/\gamma_3^2`; ``variant="slides"`` and
  :func:`optimal_size_slides` give the seed slides' :math:`\kappa\propto c_2` assumption;
* :func:`expected_k_fitted`, :func:`optimal_size_fitted`: the same with measured power laws
  for :math:`G, \kappa, \operatorname{tr}H` (sigmoid students);
* :func:`mean_field_stationary`: the mean-field stationary loss of an embedded linear student.

Arguments broadcast as NumPy arrays.  Bad input raises ``ValueError`` (or ``TypeError`` for
non-numbers) naming the parameter and its allowed range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq

from numerics.compile import compile_scalar
from theory.learning_bounds import (
    SYMBOLS,
    fitted_size_theory,
    size_scaling,
    three_component,
)
from theory.learning_bounds import mean_field_stationary as _mean_field_theory
from theory.sphere_moments import INVARIANTS

__all__ = [
    "expected_k", "variance_k", "expected_wdot_norm2", "expected_difficulty",
    "learning_threshold", "expected_k_embedded", "optimal_size", "optimal_size_slides",
    "feasible_optimal_size", "expected_k_fitted", "optimal_size_fitted", "MeanFieldState",
    "mean_field_stationary",
]

S = SYMBOLS
_STATE = [S.N, S.gamma1, S.gamma2, S.gamma3, S.T, S.F, S.G, S.kappa, S.tau]


@lru_cache(maxsize=1)
def _compiled() -> dict:
    tc = three_component()
    ex = size_scaling("exact")
    sl = size_scaling("slides")
    ft = fitted_size_theory()
    mf = _mean_field_theory()
    emb_args = [S.N, S.N0, S.gamma1, S.gamma2, S.gamma3, S.T, S.F, S.G, S.kappa0, S.tau0, S.a]
    fit_args = [S.N, S.N0, S.gamma1, S.gamma2, S.gamma3, S.T, S.F, ft.G0, S.kappa0, S.tau0,
                *ft.exponents]
    return {
        "mean_k": compile_scalar(tc.mean_k, _STATE),
        "var_k": compile_scalar(tc.var_k, _STATE + [S.theta, INVARIANTS.eta]),
        "mean_w2": compile_scalar(tc.mean_w2, [S.N, S.gamma1, S.gamma2, S.gamma3, S.T]),
        "difficulty": compile_scalar(tc.difficulty,
                                     [S.N, S.gamma1, S.gamma2, S.gamma3, S.T, S.G, S.kappa,
                                      S.tau]),
        "threshold": compile_scalar(tc.threshold, [S.N, S.gamma1, S.gamma2, S.gamma3, S.T]),
        "k_emb": compile_scalar(ex.k_of_N, emb_args),
        "k_emb_slides": compile_scalar(sl.k_of_N, emb_args),
        "N_star": compile_scalar(ex.N_star, [S.gamma2, S.gamma3, S.T, S.a]),
        "N_star_slides": compile_scalar(sl.N_star, [S.gamma1, S.gamma2, S.gamma3, S.T,
                                                    S.kappa0, S.tau0, S.a]),
        "k_fit": compile_scalar(ft.k_of_N, fit_args),
        "dk_fit": compile_scalar(ft.dk_dN, fit_args),
        "s_mode": compile_scalar(mf.s_mode, [mf.lam, mf.eps, mf.rows, mf.sigma2]),
        "sigma2": compile_scalar(mf.noise_per_weight, [S.N, S.gamma2, S.gamma3, S.T]),
    }


# ----------------------------------------------------------------------------- input checks

def _array(value, name: str) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number or array of real numbers, "
                        f"got {value!r}") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return a


def _nonneg(value, name: str) -> np.ndarray:
    a = _array(value, name)
    if np.any(a < 0):
        raise ValueError(f"{name} must be in [0, inf), got {value!r}")
    return a


def _positive(value, name: str) -> np.ndarray:
    a = _array(value, name)
    if np.any(a <= 0):
        raise ValueError(f"{name} must be in (0, inf), got {value!r}")
    return a


def _exponent(value, name: str = "input_exponent") -> float:
    try:
        a = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number in (0, 1), got {value!r}") from None
    if not (0.0 < a < 1.0):
        raise ValueError(f"{name} must be in (0, 1) (inputs grow as c1 = (N/N0)^a, outputs as "
                         f"c2 = (N/N0)^(1-a)), got {value!r}")
    return a


def _gammas(gamma1, gamma2, gamma3):
    return _nonneg(gamma1, "gamma1"), _nonneg(gamma2, "gamma2"), _nonneg(gamma3, "gamma3")


def _curvatures(curv_grad, trace_hess, allow_negative: bool, trace_name="trace_hess"):
    if allow_negative:
        return _array(curv_grad, "curv_grad"), _array(trace_hess, trace_name)
    k = _array(curv_grad, "curv_grad")
    t = _array(trace_hess, trace_name)
    if np.any(k < 0):
        raise ValueError(f"curv_grad (g_hat^T H g_hat) must be in [0, inf) for a locally convex "
                         f"loss, got {curv_grad!r}; pass allow_negative_curvature=True at a "
                         "saddle or non-convex point")
    if np.any(t < 0):
        raise ValueError(f"{trace_name} (tr H) must be in [0, inf) for a locally convex loss, "
                         f"got {trace_hess!r}; pass allow_negative_curvature=True at a saddle "
                         "or non-convex point")
    return k, t


def _cycle_args(gamma1, gamma2, gamma3, T, loss, grad_norm, curv_grad, trace_hess, *,
                allow_negative: bool = False, grad_name: str = "grad_norm",
                trace_name: str = "trace_hess"):
    """The checked rule (gamma1, gamma2, gamma3, T) and loss state (F, G, kappa, tr H) shared by
    the <k> functions, checked in that order: ``(g1, g2, g3, T, F, G, kappa, trH)``."""
    g1, g2, g3 = _gammas(gamma1, gamma2, gamma3)
    T = _positive(T, "T")
    F = _positive(loss, "loss")
    G = _nonneg(grad_norm, grad_name)
    kap, tr = _curvatures(curv_grad, trace_hess, allow_negative, trace_name)
    return g1, g2, g3, T, F, G, kap, tr


def _out(x):
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x


# ----------------------------------------------------------------------------- one network

def expected_k(N, gamma1, gamma2, gamma3, T, loss, grad_norm, curv_grad, trace_hess, *,
               allow_negative_curvature: bool = False):
    r"""Expected one-cycle learning rate :math:`\langle k\rangle` (paper eq. 6).

    .. math:: \langle k\rangle = \frac{G}{F}\gamma_1 - \frac{T}{2F}\Big[\gamma_1^2\kappa
              + \Big(\frac{\gamma_2^2}{N} + \frac{\gamma_3^2}{T}\Big)\operatorname{tr}H\Big]

    for a network of ``N`` weights with loss ``loss`` (F > 0), gradient norm ``grad_norm``
    (G), gradient-projected curvature ``curv_grad`` (:math:`\kappa = \hat g^\top H\hat g`, not
    divided by anything) and Hessian trace ``trace_hess``, under
    :math:`\dot w = -\gamma_1\hat g + \gamma_2\hat n_2 + \gamma_3\sqrt{N/T}\hat n_3` with
    independent uniform unit vectors :math:`\hat n_2, \hat n_3`.  Exact for quadratic loss.
    """
    N = _positive(N, "N")
    g1, g2, g3, T, F, G, kap, tr = _cycle_args(gamma1, gamma2, gamma3, T, loss, grad_norm,
                                               curv_grad, trace_hess,
                                               allow_negative=allow_negative_curvature)
    return _out(_compiled()["mean_k"](N, g1, g2, g3, T, F, G, kap, tr))


def variance_k(N, gamma1, gamma2, gamma3, T, loss, grad_norm, curv_grad, trace_hess,
               trace_hess_sq, curv_grad_sq, *, allow_negative_curvature: bool = False):
    r"""Variance of the one-cycle k over the random directions (exact for quadratic loss).

    Needs also :math:`\theta = \operatorname{tr}H^2` (``trace_hess_sq``) and
    :math:`\eta = \hat g^\top H^2\hat g = |H\hat g|^2` (``curv_grad_sq``); derived in
    :func:`theory.learning_bounds.three_component` with the isotropic sphere moments.
    """
    N = _positive(N, "N")
    g1, g2, g3, T, F, G, kap, tr = _cycle_args(gamma1, gamma2, gamma3, T, loss, grad_norm,
                                               curv_grad, trace_hess,
                                               allow_negative=allow_negative_curvature)
    th = _nonneg(trace_hess_sq, "trace_hess_sq")
    eta = _nonneg(curv_grad_sq, "curv_grad_sq")
    v = _compiled()["var_k"](N, g1, g2, g3, T, F, G, kap, tr, th, eta)
    return _out(np.maximum(v, 0.0))


def expected_wdot_norm2(N, gamma1, gamma2, gamma3, T):
    r""":math:`\langle|\dot w|^2\rangle = \gamma_1^2 + \gamma_2^2 + \gamma_3^2 N/T`."""
    N = _positive(N, "N")
    g1, g2, g3 = _gammas(gamma1, gamma2, gamma3)
    return _out(_compiled()["mean_w2"](N, g1, g2, g3, _positive(T, "T")))


def expected_difficulty(N, gamma1, gamma2, gamma3, T, grad_norm, curv_grad, trace_hess, *,
                        allow_negative_curvature: bool = False):
    r"""Expected local task difficulty
    :math:`\bar G_F = \langle\dot w^\top H\dot w\rangle/(2G\langle|\dot w|^2\rangle)`."""
    N = _positive(N, "N")
    g1, g2, g3 = _gammas(gamma1, gamma2, gamma3)
    if np.any((g1 == 0) & (g2 == 0) & (g3 == 0)):
        raise ValueError("gamma1, gamma2 and gamma3 must not all be 0 (no weight change, so no "
                         "direction whose difficulty could be measured)")
    G = _positive(grad_norm, "grad_norm")
    kap, tr = _curvatures(curv_grad, trace_hess, allow_negative_curvature)
    return _out(_compiled()["difficulty"](N, g1, g2, g3, _positive(T, "T"), G, kap, tr))


def learning_threshold(N, gamma1, gamma2, gamma3, T):
    r"""The difficulty at which learning stops: :math:`\gamma_1/(T\langle|\dot w|^2\rangle)`;
    :math:`\langle k\rangle > 0` iff :func:`expected_difficulty` is below it (paper eq. 7)."""
    N = _positive(N, "N")
    g1, g2, g3 = _gammas(gamma1, gamma2, gamma3)
    if np.any((g1 == 0) & (g2 == 0) & (g3 == 0)):
        raise ValueError("gamma1, gamma2 and gamma3 must not all be 0 (no weight change)")
    return _out(_compiled()["threshold"](N, g1, g2, g3, _positive(T, "T")))


# ----------------------------------------------------------------------------- network size

def expected_k_embedded(N, N0, gamma1, gamma2, gamma3, T, loss, grad_norm, curv_grad,
                        trace_hess0, input_exponent=0.5, *, variant: str = "exact"):
    r""":math:`\langle k\rangle` of the exactly embedded linear student of size ``N``.

    The base network (``N0`` weights) is in the state given by ``loss``, ``grad_norm``,
    ``curv_grad`` and ``trace_hess0``; inputs grow as :math:`c_1 = (N/N_0)^a`, outputs as
    :math:`c_2 = (N/N_0)^{1-a}` (``a = input_exponent``).  The embedding keeps F, G and
    :math:`\kappa` and multiplies :math:`\operatorname{tr}H` by :math:`c_2` (derived in
    :func:`theory.learning_bounds.verify_embedding`).  ``variant="slides"`` uses the seed
    slides' assumption :math:`\kappa\propto c_2` instead.
    """
    if variant not in ("exact", "slides"):
        raise ValueError(f"variant must be 'exact' or 'slides', got {variant!r}")
    N = _positive(N, "N")
    N0 = _positive(N0, "N0")
    g1, g2, g3, T, F, G, kap, tr = _cycle_args(gamma1, gamma2, gamma3, T, loss, grad_norm,
                                               curv_grad, trace_hess0, trace_name="trace_hess0")
    a = _exponent(input_exponent)
    f = _compiled()["k_emb" if variant == "exact" else "k_emb_slides"]
    return _out(f(N, N0, g1, g2, g3, T, F, G, kap, tr, a))


def _scalar_gammas(gamma1, gamma2, gamma3, T):
    vals = []
    for v, name in ((gamma1, "gamma1"), (gamma2, "gamma2"), (gamma3, "gamma3")):
        a = _nonneg(v, name)
        if a.ndim:
            raise ValueError(f"{name} must be a scalar, got shape {a.shape}")
        vals.append(float(a))
    t = _positive(T, "T")
    if t.ndim:
        raise ValueError(f"T must be a scalar, got shape {t.shape}")
    return (*vals, float(t))


def optimal_size(gamma1, gamma2, gamma3, T, input_exponent=0.5) -> float:
    r"""The maximiser over N > 0 of :func:`expected_k_embedded`.

    :math:`N^* = \frac{a}{1-a}\,T\gamma_2^2/\gamma_3^2` (independent of :math:`\gamma_1`, the
    task and the base size).  Returns ``math.inf`` where :math:`\langle k\rangle` increases
    with N for ever (:math:`\gamma_3 = 0 < \gamma_2`), ``0.0`` where it decreases everywhere
    (:math:`\gamma_2 = 0 < \gamma_3`) and ``math.nan`` where it does not depend on N at all
    (:math:`\gamma_2 = \gamma_3 = 0`: every size is optimal).
    """
    g1, g2, g3, T = _scalar_gammas(gamma1, gamma2, gamma3, T)
    a = _exponent(input_exponent)
    st = size_scaling("exact")
    if g2 == 0 and g3 == 0:
        return math.nan
    if g3 == 0:
        assert st.sign_gamma3_zero == 1
        return math.inf
    if g2 == 0:
        assert st.sign_gamma2_zero == -1
        return 0.0
    return float(_compiled()["N_star"](g2, g3, T, a))


def optimal_size_slides(gamma1, gamma2, gamma3, T, curv_grad0, trace_hess0,
                        input_exponent=0.5) -> float:
    r"""The maximiser of the slides' variant (:math:`\kappa\propto c_2`):
    :math:`\frac{a}{1-a}\,T\gamma_2^2/(\gamma_3^2 + T\gamma_1^2\kappa_0/\operatorname{tr}H_0)`.
    ``math.inf`` if the denominator vanishes, ``0.0`` if :math:`\gamma_2 = 0`."""
    g1, g2, g3, T = _scalar_gammas(gamma1, gamma2, gamma3, T)
    kap, tr = _curvatures(curv_grad0, trace_hess0, False, "trace_hess0")
    tr = _positive(tr, "trace_hess0")
    a = _exponent(input_exponent)
    den = g3**2 + T * g1**2 * float(kap) / float(tr)
    if g2 == 0 and den == 0:
        return math.nan
    if den == 0:
        return math.inf
    if g2 == 0:
        return 0.0
    return float(_compiled()["N_star_slides"](g1, g2, g3, T, float(kap), float(tr), a))


def feasible_optimal_size(gamma1, gamma2, gamma3, T, N0, input_exponent=0.5) -> float:
    r"""Best size reachable by embedding a base network of ``N0`` weights:
    :math:`\max(N^*, N_0)` (an embedding only grows; below :math:`N^*` <k> rises with N)."""
    N0 = float(_positive(N0, "N0"))
    ns = optimal_size(gamma1, gamma2, gamma3, T, input_exponent)
    if math.isnan(ns):
        return N0
    return max(ns, N0)


# ----------------------------------------------------------------------------- fitted scalings

def expected_k_fitted(N, N0, gamma1, gamma2, gamma3, T, loss, grad_norm0, curv_grad0,
                      trace_hess0, exponents):
    r""":math:`\langle k\rangle(N)` with :math:`X(N) = X_0(N/N_0)^{p_X}` for
    :math:`X = G, \kappa, \operatorname{tr}H` (``exponents = (p_G, p_kappa, p_tau)``, e.g.
    fitted to sigmoid students enlarged by zero-initialised units) and F fixed."""
    N = _positive(N, "N")
    N0 = _positive(N0, "N0")
    g1, g2, g3, T, F, G0, kap, tr = _cycle_args(gamma1, gamma2, gamma3, T, loss, grad_norm0,
                                                curv_grad0, trace_hess0, grad_name="grad_norm0",
                                                trace_name="trace_hess0")
    p = [float(_array(e, f"exponents[{i}]")) for i, e in enumerate(exponents)]
    if len(p) != 3:
        raise ValueError(f"exponents must be (p_G, p_kappa, p_tau), got {exponents!r}")
    return _out(_compiled()["k_fit"](N, N0, g1, g2, g3, T, F, G0, kap, tr, *p))


def optimal_size_fitted(N0, gamma1, gamma2, gamma3, T, loss, grad_norm0, curv_grad0,
                        trace_hess0, exponents, N_range=(1e-3, 1e9)) -> float:
    r"""The maximiser of :func:`expected_k_fitted` over ``N_range`` (relative to nothing:
    absolute sizes).  The stationarity equation :math:`d\langle k\rangle/dN = 0` is derived
    symbolically (:func:`theory.learning_bounds.fitted_size_theory`) and solved by Brent's
    method on a log grid; returns the range's end if <k> is monotone there."""
    g1, g2, g3, T = _scalar_gammas(gamma1, gamma2, gamma3, T)
    lo, hi = (float(x) for x in N_range)
    if not (0 < lo < hi):
        raise ValueError(f"N_range must satisfy 0 < lo < hi, got {N_range!r}")
    N0 = float(_positive(N0, "N0"))
    args = (N0, g1, g2, g3, T, float(_positive(loss, "loss")),
            float(_nonneg(grad_norm0, "grad_norm0")))
    kap, tr = _curvatures(curv_grad0, trace_hess0, False, "trace_hess0")
    p = [float(e) for e in exponents]
    dk = _compiled()["dk_fit"]
    kf = _compiled()["k_fit"]
    grid = np.geomspace(lo, hi, 400)
    vals = kf(grid, *args, float(kap), float(tr), *p)
    i = int(np.argmax(vals))
    if i == 0:
        return lo
    if i == grid.size - 1:
        return hi

    def f(logn):
        return float(dk(math.exp(logn), *args, float(kap), float(tr), *p))

    return math.exp(brentq(f, math.log(grid[i - 1]), math.log(grid[i + 1]), xtol=1e-12))


# ----------------------------------------------------------------------------- mean field

@dataclass(frozen=True)
class MeanFieldState:
    """Mean-field stationary state: loss F, gradient norm G, per-mode squared errors s."""

    loss: float
    grad_norm: float
    modes: np.ndarray

    def to_dict(self) -> dict:
        return {"loss": self.loss, "grad_norm": self.grad_norm, "modes": self.modes.tolist()}


def mean_field_stationary(eigenvalues, rows: float, N, gamma1, gamma2, gamma3, T
                          ) -> MeanFieldState:
    r"""Mean-field stationary state of an embedded linear student.

    ``eigenvalues``: the spectrum :math:`\lambda_j` of the input second moment
    :math:`\Sigma` (one column mode each), ``rows``: the number of output rows
    :math:`c_2 o` (non-integer values stand for the continuous size model), ``N``: all
    weights.  Per mode the stationary balance derived in
    :func:`theory.learning_bounds.mean_field_stationary` gives
    :math:`s_j = R\sigma^2/(\epsilon\lambda_j(2-\epsilon\lambda_j))` at
    :math:`\epsilon = \gamma_1T/G`; the closure :math:`G^2 = \sum_j\lambda_j^2 s_j` is solved
    for :math:`G > \gamma_1T\lambda_{\max}/2` by Brent's method, and
    :math:`F = \tfrac12\sum_j\lambda_j s_j`.  Mean-field: fluctuations of G are neglected.
    """
    lam = _positive(eigenvalues, "eigenvalues").ravel()
    if isinstance(rows, bool) or not isinstance(rows, (int, float, np.integer, np.floating)) \
            or not rows > 0:
        raise ValueError(f"rows must be a positive number (c2 * o output rows), got {rows!r}")
    g1, g2, g3, T = _scalar_gammas(gamma1, gamma2, gamma3, T)
    if g1 <= 0:
        raise ValueError("gamma1 must be in (0, inf) for a stationary state to exist")
    N = float(_positive(N, "N"))
    c = _compiled()
    sig2 = float(c["sigma2"](N, g2, g3, T))
    if sig2 == 0:
        return MeanFieldState(0.0, 0.0, np.zeros_like(lam))
    s_mode = c["s_mode"]

    def closure(G):
        eps = g1 * T / G
        s = s_mode(lam, eps, rows, sig2)
        return G - math.sqrt(float(np.sum(lam**2 * s)))

    G_lo = g1 * T * lam.max() / 2 * (1 + 1e-12)
    G_hi = max(2 * G_lo, 1.0)
    while closure(G_hi) < 0:
        G_hi *= 2
        if G_hi > 1e300:
            raise ArithmeticError("mean-field closure has no root")
    G = brentq(closure, G_lo, G_hi, xtol=1e-14, rtol=1e-13)
    s = s_mode(lam, g1 * T / G, rows, sig2)
    return MeanFieldState(float(0.5 * np.sum(lam * s)), float(G), np.asarray(s, dtype=float))
