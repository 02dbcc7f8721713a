r"""Accuracy of a linear classifier :math:`\operatorname{sign}(w\cdot x)`: empirical on data,
and predicted for Gaussian classes (derived in :mod:`theory.classification`; seed 002 Fig. 5)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

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
    ``w`` may be (N,) or (T, N); returns a scalar or (T,)."""
    w = np.atleast_2d(np.asarray(w, dtype=float))
    mp, mn = w @ np.asarray(mu_pos, dtype=float), w @ np.asarray(mu_neg, dtype=float)
    vp = np.einsum("ti,ij,tj->t", w, np.asarray(Sigma_pos, dtype=float), w)
    vn = np.einsum("ti,ij,tj->t", w, np.asarray(Sigma_neg, dtype=float), w)
    tiny = 1e-300
    f = _acc()
    out = np.array([f(a, max(b, tiny), c, max(d, tiny), p_pos)[0]
                    for a, b, c, d in zip(mp, vp, mn, vn)])
    return out if out.size > 1 else out[0]
