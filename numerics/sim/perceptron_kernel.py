r"""Compiled (numba) loop of the exact reduced perceptron chain (:class:`ReducedPerceptronRule`).

One call applies ``n`` consecutive updates to every replica (time outer, replicas inner: the
noise block is read in memory order), instead of ``n`` NumPy passes over small ``(R, K)``
arrays: with the seed-002 settings (R = 50..200 replicas, a frame of K = 2..13 directions)
the Python cost of one NumPy step (~35 us) dwarfs its arithmetic (~R K ns).  Measured (K = 12,
R = 100, 20,000 steps): the updates take 0.09 s compiled against ~1.1 s as NumPy steps; drawing
the random numbers (~0.45 s, common to both) then dominates, 2.3-2.8x overall
(``tests/benchmarks/test_bench_perceptron_sim.py``).

Per replica and step, with the random numbers ``z = (u_y, z_1..z_K, z_e, chi2, u_out)``
drawn by :meth:`ReducedPerceptronRule.draw` (seed 002 eqs. (12), (13); see
:mod:`numerics.sim.perceptron` for the chain):

.. math:: y = \pm1\ (u_y < \tfrac12),\quad x_U = S^{1/2}z_U + m_y,\quad x_e = \sigma_\perp z_e,
          \quad s = c\cdot x_U + q x_e,

.. math:: c' = (1-\eta\lambda)c + \eta G x_U,\qquad
          q' = \sqrt{((1-\eta\lambda)q + \eta G x_e)^2 + (\eta G\sigma_\perp)^2\chi^2},

with :math:`G` of :func:`numerics.sim.perceptron.update_factor`.  The sigmoids follow
SciPy's formulas (``ndtr`` as in Cephes: :math:`\tfrac12 + \tfrac12\operatorname{erf}` near 0,
:math:`\operatorname{erfc}` in the tails; ``expit`` as :math:`1/(1+e^{-z})`), so the loop
agrees with the NumPy step to rounding (tests: 1e-12 over thousands of steps).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["advance_reduced_chain"]

_K = math.sqrt(math.pi / 8.0)
_SQRTH = math.sqrt(0.5)


@numba.njit(inline="always", cache=True)
def _phi(s: float, logistic: bool) -> float:
    if logistic:
        return 1.0 / (1.0 + math.exp(-s))
    x = _K * s * _SQRTH
    z = abs(x)
    if z < _SQRTH:
        return 0.5 + 0.5 * math.erf(x)
    y = 0.5 * math.erfc(z)
    return 1.0 - y if x > 0 else y


@numba.njit(cache=True)
def _advance(state, noise, m_pos, m_neg, LS, iso, sigma_perp, lr, decay, rl, logistic,
             expected, symmetric):
    n, R = noise.shape[0], noise.shape[1]
    K = state.shape[1] - 1
    xU = np.empty(K)
    for t in range(n):  # time outer: the noise block is read in memory order
        for r in range(R):
            z = noise[t, r]
            q = state[r, K]
            y = 1.0 if z[0] < 0.5 else -1.0
            for k in range(K):
                if iso >= 0.0:
                    v = iso * z[1 + k]
                else:
                    v = 0.0
                    for j in range(K):
                        v += LS[k, j] * z[1 + j]
                if symmetric:
                    v += m_pos[k] * y
                else:
                    v += m_pos[k] if y > 0 else m_neg[k]
                xU[k] = v
            xe = sigma_perp * z[K + 1]
            s = 0.0
            for k in range(K):
                s += state[r, k] * xU[k]
            s += q * xe
            p = _phi(s, logistic)
            if rl:
                up = z[K + 3] < p
                yhat = 1.0 if up else -1.0
                other = 1.0 - p if up else p
                delta = y * yhat - y * (2.0 * p - 1.0) if expected else y * yhat
                G = yhat * delta * other
            else:
                G = 0.5 * (y + 1.0) - p
            g = lr * G
            qn = decay * q + g * xe
            for k in range(K):
                state[r, k] = decay * state[r, k] + g * xU[k]
            gs = g * sigma_perp
            state[r, K] = math.sqrt(qn * qn + gs * gs * z[K + 2])


def advance_reduced_chain(state: np.ndarray, noise: np.ndarray, *, m_pos: np.ndarray,
                          m_neg: np.ndarray, LS: np.ndarray, iso: float | None,
                          sigma_perp: float, lr: float, decay: float, rule: str,
                          sigmoid: str, expected: bool, symmetric: bool) -> np.ndarray:
    """Apply ``noise.shape[0]`` updates to ``state`` (R, K + 1) in place and return it.

    ``noise``: (n, R, K + 4) as drawn for the chain; ``iso``: the isotropic noise SD inside
    the frame, or None for the full square root ``LS`` of S."""
    _advance(state, np.ascontiguousarray(noise, dtype=float), m_pos, m_neg, LS,
             -1.0 if iso is None else float(iso), float(sigma_perp), float(lr),
             float(decay), rule == "rl", sigmoid == "logistic", bool(expected),
             bool(symmetric))
    return state
