r"""LMS rule for the ensemble simulator: ``w <- w + gamma (y - w.x) x`` (no factor 2).

Inputs ``x = L z`` with ``L L^T = R`` (symmetric square root, so singular R works),
teacher ``y = w_o.x + sqrt(s2) xi``; ``z`` and ``xi`` standard normal.
"""

from __future__ import annotations

import numpy as np

from numerics.checks import as_covariance, as_nonnegative, as_positive, as_vector
from numerics.sim.ensemble import OnlineRule

__all__ = ["LmsRule"]


class LmsRule(OnlineRule):
    """Online LMS on Gaussian inputs; ``excess_loss(w)`` = (w-w_o)^T R (w-w_o) per replica."""

    def __init__(self, R, w_o, gamma: float, noise_var: float):
        self.R = as_covariance(R, "R")
        self.dim = self.R.shape[0]
        self.w_o = as_vector(w_o, "w_o", self.dim)
        self.lr = as_positive(gamma, "gamma")
        self.noise_var = as_nonnegative(noise_var, "noise_var")
        lam, Q = np.linalg.eigh(self.R)
        self._sqrtR = (Q * np.sqrt(np.clip(lam, 0, None))) @ Q.T
        self._noise_sd = np.sqrt(self.noise_var)
        self.noise_dim = self.dim + 1

    def step(self, w: np.ndarray, noise: np.ndarray) -> np.ndarray:
        x = noise[:, : self.dim] @ self._sqrtR
        err = (x @ self.w_o + self._noise_sd * noise[:, self.dim]) - np.einsum("ri,ri->r", w, x)
        w += self.lr * err[:, None] * x
        return w

    def excess_loss(self, w: np.ndarray) -> np.ndarray:
        u = (w - self.w_o) @ self._sqrtR
        return np.einsum("ri,ri->r", u, u)
