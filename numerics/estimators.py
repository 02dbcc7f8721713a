r"""Gradient estimators behind one interface, and their closed-form errors (seed 003).

**Interface.**  ``estimate(method, loss, theta, S, sigma, seed)`` returns a
:class:`GradientEstimate` (the estimate and the number of loss evaluations it used).  ``loss``
is *batched*: it takes parameter vectors ``(B, d)`` and returns ``(B,)`` losses, so an
estimator asks for all its perturbed points in **one call** (for the Hodgkin–Huxley network
that is one simulation of all perturbed networks, :mod:`numerics.hh_network`).  With
``replicas=R`` the call returns ``R`` independent estimates ``(R, d)`` from one batched call
(Monte Carlo of the estimator's error).  Methods (:data:`METHODS`):

* ``"finite-difference"``: centred differences :math:`(L(\theta+\sigma e_i) - L(\theta-\sigma
  e_i))/(2\sigma)` along every coordinate (2d evaluations; ``S`` is not used);
* ``"local-regression"``: per coordinate, the least-squares slope over the ``2S`` points
  :math:`\theta + (j\sigma/S)e_i`, :math:`j = \pm1..\pm S` (the seed's fix for jagged curves,
  "Gradient Descent on This Landscape"; 2Sd evaluations; ``S = 1`` is finite differences);
* ``"score-plain"``, ``"score-baseline"``, ``"score-antithetic"``: the Gaussian-smoothing
  ("log-likelihood trick") estimators of :mod:`theory.estimators` (S, S + 1, 2S evaluations);
* ``"regression"``: least-squares fit :math:`L(\theta+\sigma\varepsilon_s) \approx c +
  b^\top\sigma\varepsilon_s` with intercept, :math:`\hat g = b`; for :math:`S \le d` the
  minimum-norm solution (pseudo-inverse), the seed's "regression method" (S evaluations);
  ``"regression-baseline"`` regresses :math:`L(\theta+\delta) - L(\theta)` without intercept
  (S + 1);
* ``"weight-perturbation"``: Werfel, Xie & Seung's weight perturbation,
  :math:`\hat g = \frac{1}{S\sigma}\sum_s[L(\theta+\sigma\varepsilon_s) - L(\theta)]
  \varepsilon_s` (the baseline score function; S + 1);
* ``"node-perturbation"``: perturb the *pre-activations* instead of the weights (seed 003,
  "Optimizing Methods to Make Them Viable": :math:`\nabla_{W}L = \frac{\partial L}{\partial a}
  x^\top`), for a model with the :class:`NodeModel` interface;
* ``"pathwise"``: the model's exact gradient (``loss.gradient(theta)``; for the HH network
  the tangent-linear equations, :mod:`numerics.hh_tangent`).

**Closed forms** (lambdified from :mod:`theory.estimators`, never retyped):
:func:`estimator_mse` (score-function variants), :func:`regression_mse`,
:func:`perturbation_recursion` / :func:`expected_learning_curve` (Werfel–Xie–Seung), and the
student-teacher simulation :func:`simulate_student_teacher` that those curves predict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Protocol, runtime_checkable

import numpy as np
import sympy as sp

from numerics.checks import as_int, as_positive, as_seed_sequence, as_vector
from theory import estimators as te

__all__ = ["METHODS", "SCORE_VARIANTS", "GradientEstimate", "NodeModel", "estimate",
           "estimator_mse", "regression_mse", "perturbation_recursion",
           "expected_learning_curve", "optimal_rate", "StudentTeacherRun",
           "simulate_student_teacher", "check_hessian", "evaluations",
           "quadratic_training_curve"]

SCORE_VARIANTS = te.VARIANTS
METHODS = ("finite-difference", "local-regression", "score-plain", "score-baseline",
           "score-antithetic", "regression", "regression-baseline", "weight-perturbation",
           "node-perturbation", "pathwise")


_RANDOM_METHODS = ("score-plain", "score-baseline", "score-antithetic", "regression",
                   "regression-baseline", "weight-perturbation")


@dataclass(frozen=True)
class GradientEstimate:
    """A gradient estimate: ``grad`` (d,) or (R, d) for R replicas; ``evaluations``: loss
    evaluations per estimate (for the HH network, simulated networks)."""

    method: str
    grad: np.ndarray
    evaluations: int
    S: int
    sigma: float

    def to_dict(self) -> dict:
        return {"method": self.method, "grad": np.asarray(self.grad).tolist(),
                "evaluations": self.evaluations, "S": self.S, "sigma": self.sigma}


@runtime_checkable
class NodeModel(Protocol):
    """A network whose pre-activations ("nodes") can be perturbed (node perturbation).

    ``node_shape``: ``(n_examples, n_nodes)``; ``node_losses(theta, xi)`` with ``xi`` of shape
    ``(B, n_examples, n_nodes)`` returns the per-example losses ``(B, n_examples)`` of the
    network whose pre-activations are shifted by ``xi`` (``xi = 0``: the network itself);
    ``node_pullback(theta, g_nodes)`` maps :math:`\\partial L/\\partial a` of shape
    ``(n_examples, n_nodes)`` to the parameter gradient ``(d,)`` (e.g.
    :math:`\\sum_n \\partial L/\\partial a_n\\, x_n^\\top`), the loss being the mean of the
    per-example losses."""

    node_shape: tuple[int, int]

    def node_losses(self, theta: np.ndarray, xi: np.ndarray) -> np.ndarray: ...

    def node_pullback(self, theta: np.ndarray, g_nodes: np.ndarray) -> np.ndarray: ...


# ----------------------------------------------------------------------------- checks

def _check_S(S) -> int:
    if isinstance(S, bool) or not isinstance(S, (int, np.integer)):
        raise TypeError(f"S (the number of perturbations) must be an integer >= 1, got {S!r}")
    if S < 1:
        raise ValueError(f"S (the number of perturbations) must be >= 1, got {S}")
    return int(S)


def _check_sigma(sigma) -> float:
    return as_positive(sigma, "sigma")


def check_hessian(hessian, d: int, rtol: float = 1e-10) -> np.ndarray:
    """A finite, square, symmetric ``(d, d)`` matrix (ValueError naming ``hessian``)."""
    H = np.asarray(hessian, dtype=float)
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"hessian must be a square (d, d) matrix, got shape {H.shape}")
    if H.shape[0] != d:
        raise ValueError(f"hessian must be ({d}, {d}) to match grad (d = {d}), got {H.shape}")
    if not np.all(np.isfinite(H)):
        raise ValueError("hessian contains NaN or inf")
    scale = max(float(np.max(np.abs(H))), 1e-300) if H.size else 1.0
    if not np.allclose(H, H.T, rtol=0, atol=rtol * scale):
        raise ValueError(f"hessian must be symmetric (max |H - H^T| = "
                         f"{np.max(np.abs(H - H.T)):.3g})")
    return 0.5 * (H + H.T)


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(as_seed_sequence(seed))


def _call(loss, points: np.ndarray) -> np.ndarray:
    vals = np.asarray(loss(points), dtype=float)
    if vals.shape != (points.shape[0],):
        raise ValueError(f"loss must map a batch of {points.shape[0]} parameter vectors "
                         f"(shape {points.shape}) to {points.shape[0]} losses, got shape "
                         f"{vals.shape}")
    if not np.all(np.isfinite(vals)):
        raise ValueError("loss returned NaN or inf at a perturbed point")
    return vals


# ----------------------------------------------------------------------------- estimators

def evaluations(method: str, S: int, d: int) -> int:
    """Loss evaluations one estimate of ``method`` uses with ``S`` perturbations in ``d``
    dimensions."""
    return {"finite-difference": 2 * d, "local-regression": 2 * S * d, "score-plain": S,
            "score-baseline": S + 1, "score-antithetic": 2 * S, "regression": S,
            "regression-baseline": S + 1, "weight-perturbation": S + 1,
            "node-perturbation": S + 1, "pathwise": 1}[method]


def _score(vals, base, eps, sigma, variant):
    """(R, S) losses, (R,) baseline, (R, S, d) directions -> (R, d)."""
    if variant == "plain":
        c = vals
    elif variant == "baseline":
        c = vals - base[:, None]
    else:
        S = eps.shape[1]
        c = 0.5 * (vals[:, :S] - vals[:, S:])
    return np.einsum("rs,rsd->rd", c, eps) / (eps.shape[1] * sigma)


def _regression(vals, eps, sigma, base=None):
    """Least squares of losses on the perturbations sigma*eps (min-norm for S <= d)."""
    X = sigma * eps  # (R, S, d)
    if base is None:
        # intercept: project both sides on the complement of the constant vector, with an
        # orthonormal basis U (S, S-1) of it; the min-norm slope is pinv(U^T X) U^T y
        S, d = X.shape[1:]
        if S - 1 <= d:
            U = _centring_basis(S)
            X = np.matmul(U.T, X)
            y = vals @ U
        else:  # full column rank after centring: plain least squares on centred data
            X = X - X.mean(axis=1, keepdims=True)
            y = vals - vals.mean(axis=1, keepdims=True)
    else:
        y = vals - base[:, None]
    return _min_norm_lstsq(X, y)


@cache
def _centring_basis(S: int) -> np.ndarray:
    """Orthonormal basis ``(S, S - 1)`` of the vectors orthogonal to ``(1, ..., 1)``."""
    q, _ = np.linalg.qr(np.concatenate([np.ones((S, 1)), np.eye(S)[:, :S - 1]], axis=1))
    return q[:, 1:]


def _min_norm_lstsq(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``pinv(X) y`` for a batch of full-rank (almost surely: Gaussian) designs ``X (R, m, d)``
    by batched QR, cheaper than an SVD per replica and as stable: for m <= d,
    ``X^T = QR`` and the min-norm solution is ``Q R^-T y``; for m > d, ``X = QR`` and the
    least-squares solution is ``R^-1 Q^T y``."""
    R, m, d = X.shape
    if m == 0:
        return np.zeros((R, d))
    if m <= d:
        Q, Rt = np.linalg.qr(X.transpose(0, 2, 1))  # (R, d, m), (R, m, m)
        z = np.linalg.solve(Rt.transpose(0, 2, 1), y[..., None])[..., 0]
        return np.einsum("rdm,rm->rd", Q, z)
    Q, Rt = np.linalg.qr(X)  # (R, m, d), (R, d, d)
    return np.linalg.solve(Rt, np.einsum("rmd,rm->rd", Q, y)[..., None])[..., 0]


def estimate(method: str, loss, theta, S: int, sigma: float, seed=0, *,
             replicas: int | None = None) -> GradientEstimate:
    """Estimate :math:`\\nabla L(\\theta)` with ``method`` (module docstring).

    ``loss``: batched ``(B, d) -> (B,)``, or a :class:`NodeModel` for
    ``"node-perturbation"``, or an object with ``gradient(theta)`` for ``"pathwise"``;
    ``S`` >= 1 perturbations; ``sigma`` > 0 their size (the spacing for finite differences,
    the half-width for the local regression); ``seed``: int, SeedSequence or Generator.
    ``replicas=R`` returns ``R`` independent estimates ``(R, d)`` from one batched call;
    a ``(R, d)`` ``theta`` (random-perturbation methods) returns one estimate at each of the
    ``R`` points, also from one batched call (R learners trained side by side).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    S = _check_S(S)
    sigma = _check_sigma(sigma)
    R = 1 if replicas is None else as_int(replicas, "replicas", 1)
    many = np.ndim(theta) == 2
    if many:  # R points, one estimate at each (training R replicas in one batched call)
        if method not in _RANDOM_METHODS:
            raise ValueError(f"a (R, d) theta needs a random-perturbation method "
                             f"{_RANDOM_METHODS}, got {method!r}")
        thetas = np.asarray(theta, dtype=float)
        if thetas.shape[0] < 1 or thetas.shape[1] < 1 or not np.all(np.isfinite(thetas)):
            raise ValueError(f"theta must be a finite (R, d) array, got shape {thetas.shape}")
        if replicas is not None and R != thetas.shape[0]:
            raise ValueError(f"replicas={R} disagrees with theta's {thetas.shape[0]} rows")
        R = thetas.shape[0]
        theta = thetas[0]
    else:
        theta = as_vector(theta, "theta")
        thetas = theta[None]
    d = theta.size
    rng = _rng(seed)
    if method == "pathwise":
        if not hasattr(loss, "gradient"):
            raise TypeError("method 'pathwise' needs a model with a gradient(theta) method")
        g = np.asarray(loss.gradient(theta), dtype=float)
        grad = np.broadcast_to(g, (R, d)).copy()
    elif method == "node-perturbation":
        grad = _node_perturbation(loss, theta, S, sigma, rng, R)
    elif method in ("finite-difference", "local-regression"):
        k = 1 if method == "finite-difference" else S
        j = np.concatenate([-np.arange(k, 0, -1), np.arange(1, k + 1)]) * (sigma / k)  # (2k,)
        pts = theta + j[:, None, None] * np.eye(d)[None]  # (2k, d, d): offset j along e_i
        vals = _call(loss, pts.reshape(-1, d)).reshape(2 * k, d)
        g = (j[:, None] * vals).sum(axis=0) / np.sum(j**2)  # symmetric design: centred slope
        grad = np.broadcast_to(g, (R, d)).copy()  # deterministic
    else:
        anti = method == "score-antithetic"
        eps = rng.standard_normal((R, S, d))
        dirs = np.concatenate([eps, -eps], axis=1) if anti else eps
        pts = thetas[:, None, :] + sigma * dirs
        need_base = method in ("score-baseline", "regression-baseline", "weight-perturbation")
        flat = pts.reshape(-1, d)
        nb = thetas.shape[0] if need_base else 0
        if need_base:
            flat = np.concatenate([flat, thetas])
        vals_all = _call(loss, flat)
        base = np.broadcast_to(vals_all[flat.shape[0] - nb:], (R,)) if need_base else None
        vals = vals_all[:flat.shape[0] - nb].reshape(R, -1)
        if method.startswith("regression"):
            grad = _regression(vals, eps, sigma, base)
        else:
            variant = {"score-plain": "plain", "score-baseline": "baseline",
                       "weight-perturbation": "baseline", "score-antithetic": "antithetic"}[method]
            grad = _score(vals, base, eps, sigma, variant)
    out = grad[0] if (replicas is None and not many) else grad
    return GradientEstimate(method, out, evaluations(method, S, d), S, sigma)


def _node_perturbation(model, theta, S, sigma, rng, R):
    if not isinstance(model, NodeModel):
        raise TypeError("method 'node-perturbation' needs a NodeModel (node_shape, "
                        "node_losses, node_pullback)")
    n_ex, n_nodes = model.node_shape
    xi = sigma * rng.standard_normal((R, S, n_ex, n_nodes))
    batch = np.concatenate([xi.reshape(R * S, n_ex, n_nodes), np.zeros((1, n_ex, n_nodes))])
    L = np.asarray(model.node_losses(theta, batch), dtype=float)
    if L.shape != (R * S + 1, n_ex):
        raise ValueError(f"node_losses must return shape {(R * S + 1, n_ex)}, got {L.shape}")
    dL = L[:-1].reshape(R, S, n_ex) - L[-1]
    g_nodes = np.einsum("rse,rsen->ren", dL, xi) / (S * sigma**2)  # per-example, per-node
    return np.stack([np.asarray(model.node_pullback(theta, g_nodes[r]), dtype=float)
                     for r in range(R)])


# ----------------------------------------------------------------------------- closed forms

_MSE_ARGS = (te.S, te.sigma, te.d, te.L0, te.g2, te.trH, te.trH2)


@cache
def _mse_function(variant: str) -> Callable:
    return sp.lambdify(_MSE_ARGS, te.score_mse(variant), modules="numpy", cse=True)


def _invariants(grad, hessian):
    g = as_vector(grad, "grad")
    if g.size < 1:
        raise ValueError("grad must have at least one component")
    if hessian is None:
        return g, 0.0, 0.0
    H = check_hessian(hessian, g.size)
    return g, float(np.trace(H)), float(np.sum(H * H))


def estimator_mse(variant: str, grad, sigma: float, S: int, loss0: float = 0.0,
                  hessian=None) -> float:
    r"""Exact :math:`E|\hat g - \nabla L(\theta)|^2` of the score-function estimator
    ``variant`` (``"plain"``, ``"baseline"``, ``"antithetic"``) with ``S`` independent
    directions of size ``sigma`` on the local model
    :math:`L(\theta+\delta) = L_0 + g^\top\delta + \tfrac12\delta^\top H\delta` (``loss0`` =
    :math:`L_0`, ``grad`` = g, ``hessian`` = H, None for a linear loss), lambdified from
    :func:`theory.estimators.score_mse`::

        plain:      [d L0^2/sigma^2 + (d+1)|g|^2 + (d+2) L0 tr H
                     + sigma^2 (d+4)((tr H)^2 + 2 tr H^2)/4] / S
        baseline:   [(d+1)|g|^2 + sigma^2 (d+4)((tr H)^2 + 2 tr H^2)/4] / S
        antithetic: (d+1)|g|^2 / S
    """
    if variant not in SCORE_VARIANTS:
        raise ValueError(f"variant must be one of {SCORE_VARIANTS}, got {variant!r}")
    S = _check_S(S)
    sigma = _check_sigma(sigma)
    try:
        L0 = float(loss0)
    except (TypeError, ValueError):
        raise TypeError(f"loss0 must be a real number, got {loss0!r}") from None
    if not np.isfinite(L0):
        raise ValueError(f"loss0 must be finite, got {loss0}")
    g, trH, trH2 = _invariants(grad, hessian)
    return float(_mse_function(variant)(S, sigma, g.size, L0, float(g @ g), trH, trH2))


@cache
def _regression_functions(intercept: bool):
    lin = te.regression_linear(intercept)
    f_lin = sp.lambdify((te.S, te.d, te.g2), lin["mse"], modules="numpy")
    f_mean = sp.lambdify((te.S, te.d), lin["mean_factor"], modules="numpy")
    f_quad = sp.lambdify((te.S, te.sigma, te.d, te.trH2, te.trH),
                         te.regression_quadratic_leading(intercept), modules="numpy")
    return f_lin, f_mean, f_quad


def regression_mse(grad, S: int, sigma: float = 1.0, hessian=None, *,
                   intercept: bool = True) -> dict:
    r"""The regression estimator's error (:func:`theory.estimators.regression_linear`,
    :func:`theory.estimators.regression_quadratic_leading`).

    Returns ``{"mean_factor": r/d, "mse_linear": |g|^2 (1 - r/d)}`` (exact for a linear loss,
    any S; :math:`E[\hat g] = (r/d) g`) and, when ``hessian`` is given and
    ``S > d + 1``, ``"mse_curvature_leading"``: the :math:`O(1/S)` leading term of the
    curvature's contribution (corrections :math:`O(1/S^2)`).
    """
    S = _check_S(S)
    sigma = _check_sigma(sigma)
    g, trH, trH2 = _invariants(grad, hessian)
    f_lin, f_mean, f_quad = _regression_functions(bool(intercept))
    out = {"mean_factor": float(f_mean(S, g.size)),
           "mse_linear": float(f_lin(S, g.size, float(g @ g)))}
    if hessian is not None and S > g.size + 1:
        out["mse_curvature_leading"] = float(f_quad(S, sigma, g.size, trH2, trH))
    return out


@cache
def _recursion_functions(rule: str):
    a, b = te.learning_recursion(rule)
    args = (te.eta, te.M, te.N, te.sigma)
    return (sp.lambdify(args, a, modules="numpy"), sp.lambdify(args, b, modules="numpy"),
            sp.lambdify((te.M, te.N), te.optimal_rate(rule), modules="numpy"))


def _rule(rule: str) -> str:
    if rule not in te.RULES:
        raise ValueError(f"rule must be one of {te.RULES}, got {rule!r}")
    return rule


def perturbation_recursion(rule: str, eta: float, M: int, N: int, sigma: float = 0.0
                           ) -> tuple[float, float]:
    r"""``(a, b)``: :math:`E|D_{t+1}|^2 = a E|D_t|^2 + b` for ``rule`` in ``("gd", "node",
    "weight")`` (Werfel, Xie & Seung 2005; :func:`theory.estimators.learning_recursion`)."""
    f_a, f_b, _ = _recursion_functions(_rule(rule))
    eta = as_positive(eta, "eta")
    M = as_int(M, "M", 1)
    N = as_int(N, "N", 1)
    s = float(sigma)
    if not (np.isfinite(s) and s >= 0):
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    return float(f_a(eta, M, N, s)), float(f_b(eta, M, N, s))


def optimal_rate(rule: str, M: int, N: int) -> float:
    """:math:`\\eta^*` that minimises the contraction factor of ``rule``."""
    return float(_recursion_functions(_rule(rule))[2](as_int(M, "M", 1), as_int(N, "N", 1)))


def expected_learning_curve(rule: str, eta: float, M: int, N: int, sigma: float,
                            D0_sq: float, steps: int) -> np.ndarray:
    r"""Expected generalisation error :math:`E_g(t) = \tfrac12 E|D_t|^2`, ``t = 0..steps``,
    from the exact recursion (:func:`perturbation_recursion`)."""
    a, b = perturbation_recursion(rule, eta, M, N, sigma)
    steps = as_int(steps, "steps", 0)
    out = np.empty(steps + 1)
    v = float(D0_sq)
    for t in range(steps + 1):
        out[t] = 0.5 * v
        v = a * v + b
    return out


_TRAIN_ARGS = (te.p_v, te.lam, te.G2, te.eta, te.S, te.sigma, te.trH, te.trH2)


@cache
def _training_function(variant: str) -> Callable:
    return sp.lambdify(_TRAIN_ARGS, te.training_recursion(variant), modules="numpy", cse=True)


def quadratic_training_curve(variant: str, eigenvalues, p0, eta: float, S: int, sigma: float,
                             steps: int) -> np.ndarray:
    r"""Expected excess loss :math:`E[L(\theta_t)] - L^*`, ``t = 0..steps``, of
    :math:`\theta_{t+1} = \theta_t - \eta\hat g` on a quadratic loss with Hessian eigenvalues
    ``eigenvalues`` (:math:`\lambda_j \ge 0`) and initial squared components ``p0`` of
    :math:`\theta_0 - \theta^*` along the eigenvectors, for ``variant`` ``"exact"`` (the
    gradient), ``"baseline"`` (weight perturbation, S + 1 evaluations per step) or
    ``"antithetic"`` (S pairs): the exact recursion
    :func:`theory.estimators.training_recursion` (lambdified),
    :math:`E[L_t] - L^* = \tfrac12\sum_j\lambda_j p_{j,t}`."""
    if variant not in te.TRAIN_VARIANTS:
        raise ValueError(f"variant must be one of {te.TRAIN_VARIANTS}, got {variant!r}")
    lam = as_vector(eigenvalues, "eigenvalues")
    p = as_vector(p0, "p0").copy()
    if lam.shape != p.shape:
        raise ValueError(f"eigenvalues {lam.shape} and p0 {p.shape} must have the same shape")
    if np.any(lam < 0) or np.any(p < 0):
        raise ValueError("eigenvalues and p0 must be >= 0 (a convex quadratic, squares)")
    eta = as_positive(eta, "eta")
    S = _check_S(S)
    sigma = _check_sigma(sigma)
    steps = as_int(steps, "steps", 0)
    f = _training_function(variant)
    trH, trH2 = float(lam.sum()), float(np.sum(lam**2))
    out = np.empty(steps + 1)
    for t in range(steps + 1):
        out[t] = 0.5 * float(lam @ p)
        if not np.isfinite(out[t]):
            raise FloatingPointError(f"the expected loss diverges at step {t} (eta={eta:g} "
                                     "too large for this estimator)")
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported above
            p = np.broadcast_to(f(p, lam, float(np.sum(lam**2 * p)), eta, S, sigma, trH,
                                  trH2), p.shape).copy()
    return out


@dataclass(frozen=True)
class StudentTeacherRun:
    """Replicas of online learning in a linear student-teacher network: ``times`` (T,),
    ``error`` (R, T) generalisation error :math:`\\tfrac12|W - W^*|_F^2` per replica."""

    rule: str
    eta: float
    sigma: float
    M: int
    N: int
    times: np.ndarray
    error: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.error.mean(axis=0)

    @property
    def sem(self) -> np.ndarray:
        return self.error.std(axis=0, ddof=1) / np.sqrt(self.error.shape[0])

    def to_dict(self) -> dict:
        return {"rule": self.rule, "eta": self.eta, "sigma": self.sigma, "M": self.M,
                "N": self.N, "times": self.times.tolist(), "mean": self.mean.tolist(),
                "sem": self.sem.tolist(), "replicas": int(self.error.shape[0])}


def simulate_student_teacher(rule: str, eta: float, M: int, N: int, sigma: float, steps: int,
                             replicas: int, seed=0, record=None, D0=None) -> StudentTeacherRun:
    r"""Online learning of :math:`y = Wx` from a teacher :math:`W^* = 0` (the error depends on
    :math:`D = W - W^*` only), one example :math:`x\sim N(0, I_N)` per step, ``replicas``
    learners advanced together as arrays.  The update rules act on the *measured* error
    :math:`E = \tfrac12|Dx|^2` exactly as Werfel, Xie & Seung (2005) define them
    (:mod:`theory.estimators`): GD uses :math:`\partial E/\partial W`; node perturbation
    measures :math:`E(y+\xi) - E(y)`; weight perturbation :math:`E(W+\Psi) - E(W)`.
    ``D0`` (M, N): the initial error (default: i.i.d. N(0, 1/N) entries, the same for every
    replica); ``record``: steps at which the error is stored (default all)."""
    _rule(rule)
    eta = as_positive(eta, "eta")
    M, N = as_int(M, "M", 1), as_int(N, "N", 1)
    steps = as_int(steps, "steps", 1)
    R = as_int(replicas, "replicas", 2)
    s = float(sigma)
    if rule != "gd" and not (np.isfinite(s) and s > 0):
        raise ValueError(f"sigma must be > 0 for perturbation rules, got {sigma}")
    rng = _rng(seed)
    if D0 is None:
        D0 = np.random.default_rng(12345).standard_normal((M, N)) / np.sqrt(N)
    D0 = np.asarray(D0, dtype=float)
    if D0.shape != (M, N):
        raise ValueError(f"D0 must have shape ({M}, {N}), got {D0.shape}")
    rec = np.arange(steps + 1) if record is None else np.unique(np.asarray(record, dtype=int))
    if rec.min() < 0 or rec.max() > steps:
        raise ValueError(f"record must be steps in [0, {steps}]")
    D = np.broadcast_to(D0, (R, M, N)).copy()
    out = np.empty((R, rec.size))
    k = 0
    for t in range(steps + 1):
        if k < rec.size and rec[k] == t:
            out[:, k] = 0.5 * np.einsum("rmn,rmn->r", D, D)
            k += 1
        if t == steps:
            break
        x = rng.standard_normal((R, N))
        with np.errstate(over="ignore", invalid="ignore"):
            D = _student_step(rule, D, x, eta, s, rng)
        if not np.all(np.isfinite(D)):
            raise FloatingPointError(f"{rule} learning diverged at step {t + 1} (eta = {eta:g} "
                                     "above the stability limit 2/c of the recursion?)")
    return StudentTeacherRun(rule, eta, s, M, N, rec.astype(float), out)


def _student_step(rule, D, x, eta, s, rng):
    """One online update of the student error D (R, M, N) on inputs x (R, N)."""
    R, M, N = D.shape
    e = np.einsum("rmn,rn->rm", D, x)  # output error y - y*
    if rule == "gd":
        dW = -eta * e[:, :, None] * x[:, None, :]
    elif rule == "node":
        xi = s * rng.standard_normal((R, M))
        dE = 0.5 * np.sum((e + xi) ** 2, axis=1) - 0.5 * np.sum(e**2, axis=1)
        dW = -(eta / s**2) * dE[:, None, None] * xi[:, :, None] * x[:, None, :]
    else:
        psi = s * rng.standard_normal((R, M, N))
        e_p = e + np.einsum("rmn,rn->rm", psi, x)
        dE = 0.5 * np.sum(e_p**2, axis=1) - 0.5 * np.sum(e**2, axis=1)
        dW = -(eta / s**2) * dE[:, None, None] * psi
    return D + dW
