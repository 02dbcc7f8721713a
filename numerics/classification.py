r"""Accuracy of a linear classifier :math:`\operatorname{sign}(w\cdot x)`: empirical on data,
and predicted for Gaussian classes (derived in :mod:`theory.classification`; seed 002 Fig. 5)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from numerics.checks import as_covariance, as_in_closed_range, as_vector
from numerics.compile import compile_expressions
from theory.classification import two_class_accuracy

__all__ = ["empirical_accuracy", "gaussian_accuracy"]


def empirical_accuracy(w, X, y):
    """Fraction of rows of ``X`` with ``sign(w.x) == y``; ``w`` (N,) -> float, (B, N) -> (B,)."""
    w = np.asarray(w, dtype=float)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if w.ndim == 1:
        return float(np.mean(np.where(X @ w > 0, 1.0, -1.0) == y))
    pred = np.where(X @ w.T > 0, 1.0, -1.0)  # (n, B)
    return np.mean(pred == y[:, None], axis=0)


@lru_cache(maxsize=1)
def _acc():
    symbols, expr = two_class_accuracy()
    return compile_expressions([expr], list(symbols))


def gaussian_accuracy(w, mu_pos, Sigma_pos, mu_neg, Sigma_neg, p_pos: float = 0.5) -> np.ndarray:
    r"""Expected accuracy for :math:`x\,|\,{+}1 \sim N(\mu_+,\Sigma_+)`,
    :math:`x\,|\,{-}1\sim N(\mu_-,\Sigma_-)`, prior ``p_pos``: theory.classification.
    ``w`` may be (N,) or (T, N); returns a scalar or (T,) respectively.

    ``ValueError`` for mismatched shapes (``mu_*`` length N, ``Sigma_*`` N x N, PSD), NaN/inf
    entries, or ``p_pos`` outside [0, 1]; ``TypeError`` for a non-numeric ``p_pos``."""
    w = np.asarray(w, dtype=float)
    if w.ndim not in (1, 2) or w.shape[-1] == 0:
        raise ValueError(f"w must have shape (N,) or (T, N), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("w contains NaN or inf")
    n = w.shape[-1]
    mu_pos = as_vector(mu_pos, "mu_pos", n)
    mu_neg = as_vector(mu_neg, "mu_neg", n)
    S_pos = as_covariance(Sigma_pos, "Sigma_pos")
    S_neg = as_covariance(Sigma_neg, "Sigma_neg")
    for name, S in (("Sigma_pos", S_pos), ("Sigma_neg", S_neg)):
        if S.shape != (n, n):
            raise ValueError(f"{name} must be {n}x{n} to match w (dimension mismatch), "
                             f"got {S.shape}")
    p = as_in_closed_range(p_pos, "p_pos", 0.0, 1.0)
    single = w.ndim == 1
    w = np.atleast_2d(w)
    mp, mn = w @ mu_pos, w @ mu_neg
    vp = np.einsum("ti,ij,tj->t", w, S_pos, w)
    vn = np.einsum("ti,ij,tj->t", w, S_neg, w)
    tiny = 1e-300
    f = _acc()
    out = np.array([f(a, max(b, tiny), c, max(d, tiny), p)[0]
                    for a, b, c, d in zip(mp, vp, mn, vn)])
    return out[0] if single else out
