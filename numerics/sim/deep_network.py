r"""Variable-depth feed-forward networks trained by online SGD on the MSE (seed 001, Exercise 2).

Network (no biases, as in the deep-linear theory): :math:`h_0 = x`,
:math:`a_l = W_l h_{l-1}`, :math:`h_l = \phi(a_l)` for the hidden layers
(:math:`\phi` = identity or ReLU), :math:`\hat y = W_D h_{D-1}` (no output nonlinearity;
with ``activation="relu_all"`` also :math:`\hat y = \mathrm{ReLU}(W_D h_{D-1})`, which cannot
produce the negative targets of DiffuseTree data).
Loss per item, as ``torch.nn.MSELoss()`` (mean over output units):
:math:`\ell = \tfrac{1}{n_{out}}\lVert\hat y - y\rVert^2`.

Hand-derived gradients (backpropagation, checked against finite differences in the tests):

.. math:: \delta_D = \tfrac{2}{n_{out}}(\hat y - y),\quad
          \partial\ell/\partial W_l = \delta_l h_{l-1}^\top,\quad
          \delta_{l-1} = (W_l^\top\delta_l)\odot\phi'(a_{l-1}).

Online SGD: one item per step, :math:`W_l \leftarrow W_l - \eta\,\partial\ell/\partial W_l`,
items in a fresh random order every epoch.  Averaged over the items this is gradient
descent on :math:`\tfrac{1}{n_{out}}[\ldots]`, i.e. the full-matrix flow of
:mod:`theory.deep_linear` with :math:`\tau = n_{out}/(2\eta)` updates and
:math:`\Sigma^x = X^\top X/P`, :math:`\Sigma^{yx} = Y^\top X/P` (P items).

:class:`DeepNetwork` trains one network; :class:`BatchedDeepNetwork` trains ``R`` networks
with independent initialisations and item orders at once (weights shaped ``(R, out, in)``,
one batched matmul per layer per step, no Python loop over replicas).  Replica ``r`` uses
the random stream ``SeedSequence(seed).spawn(R)[r]`` for its initialisation and its item
order, so a replica trains identically alone (``DeepNetwork(seed=child)``) or in a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import dger as _dger

from numerics.checks import as_positive, as_seed_sequence
from numerics.progress import progress_bar
from numerics.threads import single_thread_blas

__all__ = ["ACTIVATIONS", "layer_sizes", "init_weights", "DeepNetwork", "BatchedDeepNetwork",
           "TrainingRecord", "as_seed_sequence"]

#: ``relu``: ReLU after every hidden layer, linear readout; ``relu_all``: ReLU after every
#: linear layer including the output (seed 001 Exercise 2.4 read literally)
ACTIVATIONS = ("linear", "relu", "relu_all")


def layer_sizes(n_in: int, hidden_units: Sequence[int], n_out: int) -> tuple[int, ...]:
    """``(n_in, *hidden_units, n_out)`` after checking every size is a positive integer."""
    sizes = [n_in, *list(hidden_units), n_out]
    names = ["n_in"] + [f"hidden_units[{i}]" for i in range(len(sizes) - 2)] + ["n_out"]
    for name, v in zip(names, sizes):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return tuple(int(v) for v in sizes)


def _check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return activation


def init_weights(sizes: Sequence[int], rng: np.random.Generator, init_std: float | None = None
                 ) -> list[np.ndarray]:
    """Gaussian weights ``W_l ~ N(0, std^2)``, shape ``(sizes[l+1], sizes[l])``.

    ``init_std=None`` uses :math:`1/\\sqrt{\\text{fan-in}}` (the variance-preserving scale).
    """
    out = []
    for l in range(len(sizes) - 1):
        std = 1.0 / np.sqrt(sizes[l]) if init_std is None else init_std
        out.append(std * rng.standard_normal((sizes[l + 1], sizes[l])))
    return out


@dataclass(frozen=True)
class TrainingRecord:
    """What a training run recorded after each epoch.

    ``epochs`` (E,), ``loss`` mean item loss per epoch (E,) or (E, R); ``outputs`` the network
    outputs on the recording inputs after each epoch, (E, n_items, n_out) or
    (E, R, n_items, n_out).  Epoch 0 is the state before training.
    """

    epochs: np.ndarray
    loss: np.ndarray
    outputs: np.ndarray

    def to_dict(self) -> dict:
        return {"epochs": self.epochs.tolist(), "loss": self.loss.tolist(),
                "outputs": self.outputs.tolist()}


def _check_record(record_inputs, record_every, X) -> np.ndarray:
    """The inputs whose outputs are recorded (default X), and a valid ``record_every``."""
    if isinstance(record_every, bool) or not isinstance(record_every, (int, np.integer)) \
            or record_every < 1:
        raise ValueError(f"record_every must be a positive integer, got {record_every!r}")
    if record_inputs is None:
        return X
    R_in = np.asarray(record_inputs, dtype=float)
    if R_in.ndim != 2 or R_in.shape[1] != X.shape[1]:
        raise ValueError(f"record_inputs must have shape (items, {X.shape[1]}), got "
                         f"{R_in.shape}")
    if not np.all(np.isfinite(R_in)):
        raise ValueError("record_inputs must be finite")
    return R_in


def _check_data(X, Y, n_in, n_out):
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"X must have shape (items, {n_in}), got {X.shape}")
    if Y.ndim != 2 or Y.shape != (X.shape[0], n_out):
        raise ValueError(f"Y must have shape ({X.shape[0]}, {n_out}), got {Y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise ValueError("X and Y must be finite")
    return X, Y


def _given_weights(weights, sizes, lead: tuple[int, ...] = ()) -> list[np.ndarray]:
    """User-given weights as float copies, layer ``l`` checked to have shape
    ``(*lead, sizes[l + 1], sizes[l])`` and finite entries."""
    out = [np.array(w, dtype=float) for w in weights]
    for l, w in enumerate(out):
        shape = (*lead, sizes[l + 1], sizes[l])
        if w.shape != shape:
            raise ValueError(f"weights[{l}] must have shape {shape}, got {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"weights[{l}] must be finite (no NaN or inf)")
    return out


def _check_training(X, Y, sizes, lr, epochs, record_inputs, record_every):
    """The checked arguments of a ``train`` call: ``(X, Y, lr, R_in)`` with ``R_in`` the
    inputs whose outputs are recorded (``epochs`` and ``record_every`` are only checked)."""
    X, Y = _check_data(X, Y, sizes[0], sizes[-1])
    lr = as_positive(lr, "lr")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    R_in = _check_record(record_inputs, record_every, X)
    return X, Y, lr, R_in


class _Recorder:
    """Collects a :class:`TrainingRecord` during ``train``: the outputs on ``R_in`` (from
    ``forward``) and the loss ``loss_of(outputs)``, at epoch 0 (on creation), every
    ``record_every`` epochs and after the last one."""

    def __init__(self, forward, R_in, loss_of, epochs, record_every):
        self._forward, self._R_in, self._loss_of = forward, R_in, loss_of
        self._epochs, self._every = epochs, record_every
        self.epochs, self.loss, self.outputs = [], [], []
        self.record(0)

    def record(self, e) -> None:
        out = self._forward(self._R_in)
        self.epochs.append(e)
        self.outputs.append(out)
        self.loss.append(self._loss_of(out))

    def epoch_done(self, e, output_weights: np.ndarray, lr: float) -> None:
        """After epoch ``e``: stop if the weights diverged, record if due."""
        if not np.all(np.isfinite(output_weights)):
            raise FloatingPointError(f"SGD diverged in epoch {e} (lr = {lr})")
        if e % self._every == 0 or e == self._epochs:
            self.record(e)

    def result(self) -> TrainingRecord:
        return TrainingRecord(np.array(self.epochs), np.array(self.loss), np.array(self.outputs))


def _rank1_update(W: np.ndarray, d: np.ndarray, h: np.ndarray) -> None:
    r""":math:`W \leftarrow W - d h^\top` in place: BLAS ``dger`` on :math:`W^\top` (the
    Fortran-ordered view of a C-ordered W), no outer-product temporary (about 4x faster than
    ``W -= np.outer(d, h)`` for a 128 x 128 layer).  Falls back to NumPy for other layouts."""
    if W.dtype == np.float64 and W.flags.c_contiguous and W.ndim == 2:
        out = _dger(-1.0, h, d, a=W.T, overwrite_a=True)
        if np.shares_memory(out, W):
            return
        W[...] = out.T  # not reached for a C-contiguous float64 W; kept for safety
        return
    W -= np.multiply.outer(d, h)


class DeepNetwork:
    """One network; ``weights[l]`` has shape ``(sizes[l+1], sizes[l])``."""

    def __init__(self, n_in: int, hidden_units: Sequence[int], n_out: int, *,
                 activation: str = "linear", seed=0, init_std: float | None = None,
                 weights: Sequence[np.ndarray] | None = None):
        self.sizes = layer_sizes(n_in, hidden_units, n_out)
        self.activation = _check_activation(activation)
        ss = as_seed_sequence(seed)
        init_ss, order_ss = ss.spawn(2)
        self.order_rng = np.random.default_rng(order_ss)
        if weights is None:
            if init_std is not None:
                as_positive(init_std, "init_std")
            self.weights = init_weights(self.sizes, np.random.default_rng(init_ss), init_std)
        else:
            self.weights = _given_weights(weights, self.sizes)

    @property
    def depth(self) -> int:
        return len(self.weights)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Outputs for inputs ``x`` of shape (n_in,) or (batch, n_in)."""
        h = np.asarray(x, dtype=float).T
        for l, W in enumerate(self.weights):
            h = W @ h
            if self._relu_after(l):
                h = np.maximum(h, 0.0)
        return h.T

    def _relu_after(self, l: int) -> bool:
        return self.activation == "relu_all" or (self.activation == "relu"
                                                 and l < self.depth - 1)

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """Mean over items of :math:`\\lVert\\hat y - y\\rVert^2/n_{out}`."""
        e = self.forward(x) - np.asarray(y, dtype=float)
        return float(np.mean(e**2))

    def gradients(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        """Backpropagated :math:`\\partial\\ell/\\partial W_l` for one item (x, y)."""
        relu = self.activation != "linear"
        hs = [np.asarray(x, dtype=float)]
        for l, W in enumerate(self.weights):
            a = W @ hs[-1]
            hs.append(np.maximum(a, 0.0) if self._relu_after(l) else a)
        delta = (2.0 / self.sizes[-1]) * (hs[-1] - y)
        if self.activation == "relu_all":
            delta = delta * (hs[-1] > 0)
        grads = [None] * self.depth
        for l in range(self.depth - 1, -1, -1):
            grads[l] = np.outer(delta, hs[l])
            if l > 0:
                delta = self.weights[l].T @ delta
                if relu:
                    delta = delta * (hs[l] > 0)
        return grads

    def sgd_step(self, x: np.ndarray, y: np.ndarray, lr: float) -> None:
        """One online SGD update on item (x, y)."""
        relu = self.activation != "linear"
        out_relu = self.activation == "relu_all"
        Ws = self.weights
        D = len(Ws)
        hs = [x]
        h = x
        for l in range(D):
            h = Ws[l] @ h
            if relu and (l < D - 1 or out_relu):
                h = np.maximum(h, 0.0)
            hs.append(h)
        delta = (2.0 * lr / self.sizes[-1]) * (h - y)  # lr folded into delta
        if out_relu:
            delta = delta * (h > 0)
        for l in range(D - 1, -1, -1):
            W = Ws[l]
            back = W.T @ delta if l > 0 else None
            _rank1_update(W, delta, hs[l])
            if l > 0:
                delta = back * (hs[l] > 0) if relu else back

    def train(self, X, Y, *, epochs: int, lr: float, record_inputs=None, record_every: int = 1,
              progress: bool | None = None) -> TrainingRecord:
        """Online SGD for ``epochs`` epochs (items reshuffled each epoch).

        After every ``record_every`` epochs the outputs on ``record_inputs`` (default X) and the
        mean loss over the data are recorded.
        """
        X, Y, lr, R_in = _check_training(X, Y, self.sizes, lr, epochs, record_inputs,
                                         record_every)

        def loss_of(out):
            return float(np.mean((out - Y) ** 2)) if record_inputs is None else self.loss(X, Y)

        rec = _Recorder(self.forward, R_in, loss_of, epochs, record_every)
        P = X.shape[0]
        Xc = np.ascontiguousarray(X)
        Yc = np.ascontiguousarray(Y)
        quiet = None if progress else True
        # per-item BLAS calls are small: extra threads only spin
        with progress_bar(epochs, "SGD epochs", "epoch", disable=quiet) as bar, \
                single_thread_blas():
            for e in range(1, epochs + 1):
                for i in self.order_rng.permutation(P):
                    self.sgd_step(Xc[i], Yc[i], lr)
                rec.epoch_done(e, self.weights[-1], lr)
                bar.update(1)
        return rec.result()


class BatchedDeepNetwork:
    """``replicas`` independent networks trained at once; ``weights[l]`` is ``(R, out, in)``.

    Replica ``r`` takes the seed ``SeedSequence(seed).spawn(R)[r]`` and initialises exactly
    as ``DeepNetwork(..., seed=that child)``; its item order comes from the same child, so
    both classes produce the same trajectories (tests check this).
    """

    def __init__(self, n_in: int, hidden_units: Sequence[int], n_out: int, *, replicas: int,
                 activation: str = "linear", seed=0, init_std: float | None = None,
                 weights: Sequence[np.ndarray] | None = None):
        if isinstance(replicas, bool) or not isinstance(replicas, (int, np.integer)) \
                or replicas < 1:
            raise ValueError(f"replicas must be a positive integer, got {replicas!r}")
        self.replicas = int(replicas)
        self.sizes = layer_sizes(n_in, hidden_units, n_out)
        self.activation = _check_activation(activation)
        children = as_seed_sequence(seed).spawn(self.replicas)
        pairs = [c.spawn(2) for c in children]
        self.order_rngs = [np.random.default_rng(p[1]) for p in pairs]
        if weights is None:
            if init_std is not None:
                as_positive(init_std, "init_std")
            per = [init_weights(self.sizes, np.random.default_rng(p[0]), init_std) for p in pairs]
            self.weights = [np.stack([w[l] for w in per]) for l in range(len(self.sizes) - 1)]
        else:
            self.weights = _given_weights(weights, self.sizes, (self.replicas,))

    @property
    def depth(self) -> int:
        return len(self.weights)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Outputs ``(R, batch, n_out)`` for shared inputs ``x`` of shape (batch, n_in)."""
        h = np.asarray(x, dtype=float)
        h = np.broadcast_to(h, (self.replicas,) + h.shape)
        for l, W in enumerate(self.weights):
            h = h @ W.transpose(0, 2, 1)
            if self.activation == "relu_all" or (self.activation == "relu"
                                                 and l < self.depth - 1):
                h = np.maximum(h, 0.0)
        return h

    def loss(self, X, Y) -> np.ndarray:
        """Per-replica mean item loss, shape (R,)."""
        e = self.forward(X) - np.asarray(Y, dtype=float)[None]
        return np.mean(e**2, axis=(1, 2))

    def sgd_step(self, x: np.ndarray, y: np.ndarray, lr: float) -> None:
        """One online SGD update of every replica; ``x`` (R, n_in), ``y`` (R, n_out)."""
        self.sgd_steps(x[:, None], y[:, None], lr)

    def sgd_steps(self, xs: np.ndarray, ys: np.ndarray, lr: float) -> None:
        r"""``K`` consecutive online SGD updates of every replica; ``xs`` (R, K, n_in).

        Same arithmetic as K calls of the one-step rule, organised for speed: within the
        block each layer is kept as :math:`W = W_0 - \sum_k \delta_k h_k^\top` (the rank-1
        SGD updates are deferred), so a step costs matrix-vector products with :math:`W_0`
        plus :math:`O(K)` corrections, and the K updates are applied at the end with one
        batched matrix product per layer (no per-step pass over the weights).
        """
        xs = np.asarray(xs, dtype=float)
        ys = np.asarray(ys, dtype=float)
        if xs.ndim != 3 or xs.shape[0] != self.replicas or xs.shape[2] != self.sizes[0]:
            raise ValueError(f"xs must have shape ({self.replicas}, K, {self.sizes[0]}), got "
                             f"{xs.shape}")
        if ys.shape != xs.shape[:2] + (self.sizes[-1],):
            raise ValueError(f"ys must have shape {xs.shape[:2] + (self.sizes[-1],)}, got "
                             f"{ys.shape}")
        relu = self.activation != "linear"
        out_relu = self.activation == "relu_all"
        Ws = self.weights
        D = len(Ws)
        R, K = xs.shape[0], xs.shape[1]
        scale = 2.0 * lr / self.sizes[-1]
        dbuf = [np.empty((R, W.shape[1], K)) for W in Ws]  # deltas, one column per step
        hbuf = [np.empty((R, W.shape[2], K)) for W in Ws]  # layer inputs, one column per step
        WT = [W.transpose(0, 2, 1) for W in Ws]
        for k in range(K):
            h = xs[:, k, :, None]
            hs = []
            for l in range(D):
                hs.append(h)
                a = Ws[l] @ h
                if k:
                    a -= dbuf[l][:, :, :k] @ (h.transpose(0, 2, 1) @ hbuf[l][:, :, :k]
                                               ).transpose(0, 2, 1)
                h = np.maximum(a, 0.0) if relu and (l < D - 1 or out_relu) else a
            delta = scale * (h - ys[:, k, :, None])  # (R, out, 1), lr folded in
            if out_relu:
                delta = delta * (h > 0)
            for l in range(D - 1, -1, -1):
                dbuf[l][:, :, k] = delta[:, :, 0]
                hbuf[l][:, :, k] = hs[l][:, :, 0]
                if l > 0:
                    back = WT[l] @ delta
                    if k:
                        back -= hbuf[l][:, :, :k] @ (delta.transpose(0, 2, 1)
                                                     @ dbuf[l][:, :, :k]).transpose(0, 2, 1)
                    delta = back * (hs[l] > 0) if relu else back
        for l in range(D):
            Ws[l] -= dbuf[l] @ hbuf[l].transpose(0, 2, 1)

    def train(self, X, Y, *, epochs: int, lr: float, record_inputs=None, record_every: int = 1,
              progress: bool | None = None) -> TrainingRecord:
        """Online SGD of all replicas, each with its own item order per epoch."""
        X, Y, lr, R_in = _check_training(X, Y, self.sizes, lr, epochs, record_inputs,
                                         record_every)

        def loss_of(out):
            return (np.mean((out - Y[None]) ** 2, axis=(1, 2)) if record_inputs is None
                    else self.loss(X, Y))

        rec = _Recorder(self.forward, R_in, loss_of, epochs, record_every)
        P = X.shape[0]
        with progress_bar(epochs, "SGD epochs", "epoch", disable=None if progress else True) as bar:
            for e in range(1, epochs + 1):
                order = np.stack([rng.permutation(P) for rng in self.order_rngs])  # (R, P)
                self.sgd_steps(X[order], Y[order], lr)  # one epoch = one block of P steps
                rec.epoch_done(e, self.weights[-1], lr)
                bar.update(1)
        return rec.result()
