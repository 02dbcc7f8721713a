r"""Exact :math:`\eta\to0` moments of a Gaussian initial ensemble, by quadrature over flows.

As :math:`\eta\to0` at fixed time every replica of an online rule follows the deterministic
mean flow :math:`\dot w = \langle f\rangle(w)` from its own start.  For an initial ensemble
:math:`w_0\sim N(m_0, c_0 I)` the mean and covariance at time t are then integrals over
:math:`w_0` of the flow map; the moment ODEs of seed 002 (eqs. (10)-(11)) approximate them
by a second-order closure whose error grows like :math:`c_0^2`.  This module computes the
integrals themselves, so that the closure's error can be measured and a simulation can be
compared with a theory that has none.

Perceptron, isotropic noise (:math:`\Sigma = \sigma^2 I`): the drift
:math:`\mu g_1(a, b) + \sigma^2 w\,g_2(a,b) - \lambda w` keeps every component of
:math:`w` orthogonal to :math:`\mu` on its own ray, so a replica is described by three
coordinates: :math:`p = \hat\mu\cdot w`, :math:`x_2` along the orthogonal part of
:math:`m_0`, and :math:`x_3\ge0` the norm of the rest, whose direction never changes and
averages out.  With :math:`p_0\sim N(\hat\mu\cdot m_0, c_0)`,
:math:`x_{2,0}\sim N(|m_{0\perp}|, c_0)`, :math:`x_{3,0}^2\sim c_0\chi^2_{N-2}`:

.. math:: \operatorname{tr}\operatorname{Cov}(w_t) = \operatorname{Var}(p_t)
          + \operatorname{Var}(x_{2,t}) + E[x_{3,t}^2],

evaluated with Gauss-Hermite nodes in :math:`p_0, x_{2,0}` and generalised Gauss-Laguerre
nodes in :math:`x_{3,0}^2/(2c_0)\sim\mathrm{Gamma}((N-2)/2)`, every node's flow integrated
in three dimensions with the lambdified drift (:func:`numerics.perceptron.mean_drift`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import roots_genlaguerre

from numerics.checks import as_nonnegative, as_positive, as_vector
from numerics.integrate import integrate
from numerics.perceptron import mean_drift

__all__ = ["FlowEnsemble", "isotropic_flow_ensemble"]


@dataclass(frozen=True)
class FlowEnsemble:
    r"""Exact :math:`\eta\to0` ensemble moments: times ``t``, ``mean_par``
    (:math:`\hat\mu\cdot E[w]`), ``trace_cov`` (:math:`\operatorname{tr}\operatorname{Cov}(w)`),
    and the number of quadrature nodes used."""

    t: np.ndarray
    mean_par: np.ndarray
    trace_cov: np.ndarray
    nodes: int

    def to_dict(self) -> dict:
        return {"t": self.t.tolist(), "mean_par": self.mean_par.tolist(),
                "trace_cov": self.trace_cov.tolist(), "nodes": self.nodes}


def isotropic_flow_ensemble(rule: str, mu, sigma2: float, m0, c0: float, t_eval,
                            lam: float = 0.0, *, hermite_nodes: int = 16,
                            laguerre_nodes: int = 10, rtol: float = 1e-9,
                            atol: float = 1e-12) -> FlowEnsemble:
    r"""Mean and :math:`\operatorname{tr}\operatorname{Cov}` at ``t_eval`` of the deterministic
    perceptron flows (seed 002 eqs. (15)/(20)) from :math:`w_0\sim N(m_0, c_0 I_N)`, classes
    :math:`N(\pm\mu, \sigma^2 I)`; see the module docstring.  ``rule`` is ``"sl"`` or
    ``"rl"``; ``mu`` and ``m0`` are N-vectors (N >= 2)."""
    mu = as_vector(mu, "mu")
    n = mu.size
    if n < 2:
        raise ValueError(f"mu must have dimension N >= 2, got {n}")
    m0 = as_vector(m0, "m0", n)
    mu_norm = float(np.linalg.norm(mu))
    if mu_norm == 0:
        raise ValueError("mu must be non-zero")
    sigma2 = as_nonnegative(sigma2, "sigma2")
    c0 = as_positive(c0, "c0")
    t_eval = np.asarray(t_eval, dtype=float)
    if t_eval.ndim != 1 or t_eval.size < 1 or t_eval[0] < 0 or np.any(np.diff(t_eval) <= 0):
        raise ValueError("t_eval must be an increasing 1-D array of times >= 0")
    e1 = mu / mu_norm
    p_mean = float(e1 @ m0)
    perp = float(np.linalg.norm(m0 - p_mean * e1))

    xh, wh = np.polynomial.hermite_e.hermegauss(hermite_nodes)
    wh = wh / wh.sum()
    if n > 2:
        yl, wl = roots_genlaguerre(laguerre_nodes, (n - 2) / 2 - 1)
        wl = wl / wl.sum()
        x3 = np.sqrt(2 * c0 * yl)
    else:
        x3, wl = np.zeros(1), np.ones(1)
    P, X2, X3 = np.meshgrid(p_mean + np.sqrt(c0) * xh, perp + np.sqrt(c0) * xh, x3,
                            indexing="ij")
    weights = np.einsum("i,j,k->ijk", wh, wh, wl).ravel()
    starts = np.stack([P.ravel(), X2.ravel(), X3.ravel()], axis=1)
    R = starts.shape[0]
    mu3 = np.array([mu_norm, 0.0, 0.0])

    def rhs(_, y):
        return mean_drift(rule, y.reshape(R, 3), mu3, sigma2, lam).ravel()

    if t_eval[-1] > 0:
        traj = integrate(rhs, (0.0, float(t_eval[-1])), starts.ravel(), t_eval=t_eval,
                         method="RK45", rtol=rtol, atol=atol)
        ys = traj.y.T.reshape(t_eval.size, R, 3)
    else:
        ys = starts[None]
    mean = np.einsum("r,trk->tk", weights, ys)
    var = np.einsum("r,trk->tk", weights, ys**2) - mean**2
    trace = var[:, 0] + var[:, 1] + np.einsum("r,tr->t", weights, ys[:, :, 2] ** 2)
    return FlowEnsemble(t_eval, mean[:, 0], trace, int(R))
