r"""Small artificial networks for the gradient-estimator experiments (seed 003, "Real
Application: MNIST": linear classifier and ANN).

* :class:`LinearClassifier`: :math:`o = W[x; 1]`, ``K`` outputs;
* :class:`SigmoidNetwork`: one hidden layer, :math:`h = \varsigma(W_1[x; 1])`,
  :math:`o = \varsigma(W_2[h; 1])`, :math:`\varsigma(u) = 1/(1 + e^{-u})` (the seed's "ANN":
  sigmoid after the hidden and the output layer).

Loss (seed 003: "we use MSE loss"): :math:`L = \frac1n\sum_n \tfrac12|o_n - t_n|^2` with
one-hot targets :math:`t_n`.  Both classes evaluate ``B`` parameter vectors at once
(``losses(thetas (B, d)) -> (B,)``, the batched loss of :mod:`numerics.estimators`), give
the exact gradient by back-propagation (``gradient``), and implement the node-perturbation
interface (:class:`numerics.estimators.NodeModel`): the nodes are the pre-activations of
every layer, one set per example, and :math:`\nabla_{W_l}L = \frac1n\sum_n
\frac{\partial L_n}{\partial a_{l,n}}[x_{l-1,n}; 1]^\top` (seed 003, "Optimizing Methods").

``trained`` (optional) restricts the parameters that the estimators see to one layer
(``"output"``): the seed fits its regression to the output layer alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from numerics.checks import as_int

__all__ = ["LinearClassifier", "SigmoidNetwork", "one_hot"]


def one_hot(y, K: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= K:
        raise ValueError(f"labels must be integers in [0, {K})")
    T = np.zeros((y.size, K))
    T[np.arange(y.size), y] = 1.0
    return T


def _sig(u):
    return 0.5 * (1.0 + np.tanh(0.5 * u))


def _check_data(X, y, n_in, K):
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"X must have shape (n, {n_in}), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf")
    T = one_hot(y, K)
    if T.shape[0] != X.shape[0]:
        raise ValueError(f"need one label per row of X: {X.shape[0]} rows, {T.shape[0]} labels")
    return np.concatenate([X, np.ones((X.shape[0], 1))], axis=1), T


@dataclass(frozen=True)
class LinearClassifier:
    """``K`` linear outputs of ``n_in`` inputs (plus bias) on the data ``(X, y)``."""

    X: np.ndarray
    y: np.ndarray
    K: int
    _Xb: np.ndarray = field(init=False, repr=False)
    _T: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        as_int(self.K, "K", 2)
        Xb, T = _check_data(self.X, self.y, np.shape(self.X)[-1], self.K)
        object.__setattr__(self, "_Xb", Xb)
        object.__setattr__(self, "_T", T)

    @property
    def dim(self) -> int:
        return self.K * self._Xb.shape[1]

    @property
    def node_shape(self) -> tuple[int, int]:
        return (self._Xb.shape[0], self.K)

    def _W(self, thetas):
        th = np.atleast_2d(np.asarray(thetas, dtype=float))
        if th.shape[-1] != self.dim:
            raise ValueError(f"theta must have {self.dim} entries, got shape {th.shape}")
        return th.reshape(th.shape[0], self.K, self._Xb.shape[1])

    def outputs(self, thetas) -> np.ndarray:
        return np.matmul(self._Xb, self._W(thetas).transpose(0, 2, 1))  # (B, n, K) by BLAS

    def losses(self, thetas) -> np.ndarray:
        return 0.5 * np.sum((self.outputs(thetas) - self._T) ** 2, axis=2).mean(axis=1)

    __call__ = losses

    def gradient(self, theta) -> np.ndarray:
        err = self.outputs(theta)[0] - self._T  # dL_n/do_n
        return (err.T @ self._Xb / self._Xb.shape[0]).ravel()

    def node_losses(self, theta, xi) -> np.ndarray:
        o = self.outputs(theta)[0][None] + np.asarray(xi, dtype=float)
        return 0.5 * np.sum((o - self._T) ** 2, axis=2)

    def node_pullback(self, theta, g_nodes) -> np.ndarray:
        return (np.asarray(g_nodes).T @ self._Xb / self._Xb.shape[0]).ravel()

    def accuracy(self, theta) -> float:
        return float(np.mean(np.argmax(self.outputs(theta)[0], axis=1) == self.y))


@dataclass(frozen=True)
class SigmoidNetwork:
    """One hidden layer of ``hidden`` sigmoid units, ``K`` sigmoid outputs, on ``(X, y)``.

    ``theta = [W1 (hidden, n_in + 1), W2 (K, hidden + 1)]`` flattened; with
    ``trained="output"`` the estimators see only ``W2`` and ``W1`` is held at ``fixed``
    (then ``theta`` is ``W2`` alone)."""

    X: np.ndarray
    y: np.ndarray
    K: int
    hidden: int
    trained: str = "all"
    fixed: np.ndarray | None = None
    _Xb: np.ndarray = field(init=False, repr=False)
    _T: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        as_int(self.K, "K", 2)
        as_int(self.hidden, "hidden", 1)
        if self.trained not in ("all", "output"):
            raise ValueError(f"trained must be 'all' or 'output', got {self.trained!r}")
        Xb, T = _check_data(self.X, self.y, np.shape(self.X)[-1], self.K)
        object.__setattr__(self, "_Xb", Xb)
        object.__setattr__(self, "_T", T)
        if self.trained == "output":
            if self.fixed is None or np.shape(self.fixed) != (self.n1,):
                raise ValueError(f"trained='output' needs fixed = the {self.n1} hidden-layer "
                                 "parameters")

    @property
    def n1(self) -> int:
        return self.hidden * self._Xb.shape[1]

    @property
    def n2(self) -> int:
        return self.K * (self.hidden + 1)

    @property
    def dim(self) -> int:
        return self.n2 if self.trained == "output" else self.n1 + self.n2

    @property
    def node_shape(self) -> tuple[int, int]:
        return (self._Xb.shape[0], self.K if self.trained == "output" else self.hidden + self.K)

    def full(self, thetas) -> np.ndarray:
        """``(B, n1 + n2)`` full parameter vectors."""
        th = np.atleast_2d(np.asarray(thetas, dtype=float))
        if th.shape[-1] != self.dim:
            raise ValueError(f"theta must have {self.dim} entries, got shape {th.shape}")
        if self.trained == "output":
            return np.concatenate([np.broadcast_to(self.fixed, (th.shape[0], self.n1)), th],
                                  axis=1)
        return th

    def initial(self, seed=0, scale: float = 1.0) -> np.ndarray:
        """Random parameters (all of them): N(0, scale^2 / fan-in) weights, zero biases."""
        rng = np.random.default_rng(seed)
        n_in = self._Xb.shape[1]
        W1 = rng.standard_normal((self.hidden, n_in)) * scale / np.sqrt(n_in)
        W1[:, -1] = 0.0
        W2 = rng.standard_normal((self.K, self.hidden + 1)) * scale / np.sqrt(self.hidden + 1)
        W2[:, -1] = 0.0
        return np.concatenate([W1.ravel(), W2.ravel()])

    def _hidden(self, W1, xi=None):
        a1 = np.einsum("bji,ni->bnj", W1, self._Xb)
        if xi is not None and self.trained == "all":
            a1 = a1 + xi[..., :self.hidden]
        return np.concatenate([_sig(a1), np.ones(a1.shape[:-1] + (1,))], axis=-1)

    def _forward(self, thetas, xi=None):
        th = np.atleast_2d(np.asarray(thetas, dtype=float))
        if th.shape[-1] != self.dim:
            raise ValueError(f"theta must have {self.dim} entries, got shape {th.shape}")
        B = th.shape[0]
        if self.trained == "output":  # the hidden layer is fixed: computed once
            W1 = np.asarray(self.fixed, dtype=float).reshape(1, self.hidden, -1)
            h0 = self._hidden(W1)[0]
            h = np.broadcast_to(h0, (B, self._Xb.shape[0], self.hidden + 1))
            W2 = th.reshape(B, self.K, self.hidden + 1)
            a2 = np.matmul(h0, W2.transpose(0, 2, 1))  # (B, n, K) by BLAS
        else:
            W1 = th[:, :self.n1].reshape(B, self.hidden, -1)
            h = self._hidden(W1, xi)
            W2 = th[:, self.n1:].reshape(B, self.K, self.hidden + 1)
            a2 = np.matmul(h, W2.transpose(0, 2, 1))
        if xi is not None:
            a2 = a2 + xi[..., -self.K:]
        return h, a2, _sig(a2), W2

    def outputs(self, thetas) -> np.ndarray:
        return self._forward(thetas)[2]

    def losses(self, thetas) -> np.ndarray:
        return 0.5 * np.sum((self.outputs(thetas) - self._T) ** 2, axis=2).mean(axis=1)

    __call__ = losses

    def gradient(self, theta) -> np.ndarray:
        h, _, o, W2 = self._forward(theta)
        h, o, W2 = h[0], o[0], W2[0]
        n = self._Xb.shape[0]
        d2 = (o - self._T) * o * (1 - o)  # dL_n/da2
        g2 = d2.T @ h / n
        if self.trained == "output":
            return g2.ravel()
        d1 = (d2 @ W2[:, :-1]) * h[:, :-1] * (1 - h[:, :-1])
        g1 = d1.T @ self._Xb / n
        return np.concatenate([g1.ravel(), g2.ravel()])

    def node_losses(self, theta, xi) -> np.ndarray:
        o = self._forward(np.broadcast_to(np.asarray(theta, float), (len(xi), self.dim)),
                          np.asarray(xi, dtype=float))[2]
        return 0.5 * np.sum((o - self._T) ** 2, axis=2)

    def node_pullback(self, theta, g_nodes) -> np.ndarray:
        h = self._forward(theta)[0][0]
        g = np.asarray(g_nodes, dtype=float)
        n = self._Xb.shape[0]
        g2 = g[:, -self.K:].T @ h / n
        if self.trained == "output":
            return g2.ravel()
        g1 = g[:, :self.hidden].T @ self._Xb / n
        return np.concatenate([g1.ravel(), g2.ravel()])

    def accuracy(self, theta) -> float:
        return float(np.mean(np.argmax(self.outputs(theta)[0], axis=1) == self.y))
