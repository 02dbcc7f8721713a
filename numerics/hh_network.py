r"""A Hodgkin–Huxley network classifier trained with gradient estimators (seed 003, "Real
Application: MNIST", BNN cases 1 and 2).

**Network.**  Input :math:`x\in[0,1]^{n_{in}}` (pixels) drives ``n_hidden`` HH neurons with
constant currents :math:`I^h = A\,[x; 1]` (a fixed random projection ``input_weights``,
uA/cm^2); the hidden neurons drive ``n_out`` HH output neurons through current-based
synapses, :math:`I^o_k(t) = b_k + \sum_j W_{kj}\,s_j(t)` (:mod:`numerics.hh`, :mod:`theory.hh`).
The trained parameters are :math:`\theta = (W, b)` (``n_out x n_hidden`` weights and
``n_out`` bias currents).  Each neuron gets additive current noise ``noise`` (one frozen
realisation per evaluation, shared by every network of that evaluation: common random
numbers).

**Readout and loss.**  The output of neuron :math:`k` is its mean synaptic gating over the
window, :math:`r_k = \frac1\tau\int_0^\tau s_k\,dt \in [0, 1]`; the class scores are
:math:`\beta r_k` and the loss is the softmax cross-entropy averaged over the examples,
:math:`L = -\frac1n\sum_n \log\operatorname{softmax}(\beta r_n)_{y_n}`; the prediction is
:math:`\arg\max_k r_k`.

**Evaluation.**  :meth:`HHClassifier.losses` evaluates ``B`` parameter vectors on ``n``
examples as **one** batched simulation of ``B x n`` networks (what every perturbation
estimator of :mod:`numerics.estimators` asks for); :meth:`HHClassifier.gradient` is the
exact pathwise gradient for the same noise realisation (:mod:`numerics.hh_tangent`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics.checks import as_int, as_nonnegative, as_positive
from numerics.hh import simulate
from numerics.hh_tangent import TangentResult, tangent_simulate

__all__ = ["HHClassifier", "random_input_weights", "softmax_cross_entropy"]


def softmax_cross_entropy(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-example cross-entropy of ``scores`` (..., n, K) for labels ``y`` (n,), and its
    gradient w.r.t. the scores (softmax minus one-hot)."""
    z = scores - scores.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    n = y.size
    ce = -np.take_along_axis(logp, np.broadcast_to(y[:, None], logp.shape[:-1] + (1,)),
                             axis=-1)[..., 0]
    grad = np.exp(logp)
    grad[..., np.arange(n), y] -= 1.0
    return ce, grad


def random_input_weights(n_in: int, n_hidden: int, seed=0, *, mean_current: float = 12.0,
                         spread: float = 6.0, typical_input: float = 0.49) -> np.ndarray:
    """A fixed random projection ``(n_hidden, n_in + 1)``: Gaussian weights scaled so that the
    hidden currents have standard deviation about ``spread`` for inputs of size
    ``typical_input``, plus a bias column ``mean_current`` (uA/cm^2)."""
    n_in = as_int(n_in, "n_in", 1)
    n_hidden = as_int(n_hidden, "n_hidden", 1)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n_hidden, n_in)) * spread / (typical_input * np.sqrt(n_in))
    return np.concatenate([A, np.full((n_hidden, 1), float(mean_current))], axis=1)


@dataclass(frozen=True)
class HHClassifier:
    """Two-layer HH classifier (module docstring).  ``window_ms``: simulated time = loss
    window; ``gain``: :math:`\\beta`; ``noise``: sigma (uA cm^-2 ms^1/2).

    Noise seeds: an ``int`` seed names one noise realisation, so repeated calls with the same
    int share their noise (common random numbers, as a finite-difference or perturbation
    estimate needs).  A ``numpy.random.SeedSequence`` is *spawned from* by every call and
    NumPy advances it, so passing the same object twice gives fresh noise each time; draw an
    int from it (``int(ss.generate_state(1)[0])``) to freeze the noise."""

    input_weights: np.ndarray
    n_out: int
    window_ms: float
    dt_ms: float = 0.05
    noise: float = 0.5
    gain: float = 20.0

    def __post_init__(self):
        A = np.asarray(self.input_weights, dtype=float)
        if A.ndim != 2 or A.shape[1] < 2 or not np.all(np.isfinite(A)):
            raise ValueError(f"input_weights must be a finite (n_hidden, n_in + 1) array, got "
                             f"shape {A.shape}")
        object.__setattr__(self, "input_weights", A)
        as_int(self.n_out, "n_out", 2)
        as_positive(self.window_ms, "window_ms")
        as_positive(self.dt_ms, "dt_ms")
        as_nonnegative(self.noise, "noise")
        as_positive(self.gain, "gain")

    @property
    def n_hidden(self) -> int:
        return self.input_weights.shape[0]

    @property
    def n_in(self) -> int:
        return self.input_weights.shape[1] - 1

    @property
    def n_neurons(self) -> int:
        return self.n_hidden + self.n_out

    @property
    def dim(self) -> int:
        """Number of trained parameters: ``n_out * n_hidden + n_out``."""
        return self.n_out * self.n_hidden + self.n_out

    def unpack(self, theta) -> tuple[np.ndarray, np.ndarray]:
        th = np.asarray(theta, dtype=float)
        if th.shape[-1] != self.dim:
            raise ValueError(f"theta must have {self.dim} entries (n_out x n_hidden weights + "
                             f"n_out biases), got shape {th.shape}")
        k = self.n_out * self.n_hidden
        return th[..., :k].reshape(th.shape[:-1] + (self.n_out, self.n_hidden)), th[..., k:]

    def initial(self, seed=0, *, weight_scale: float = 2.0, bias: float = 4.0) -> np.ndarray:
        """Random initial parameters: weights N(0, weight_scale^2), biases ``bias``."""
        rng = np.random.default_rng(seed)
        W = rng.standard_normal((self.n_out, self.n_hidden)) * weight_scale
        return np.concatenate([W.ravel(), np.full(self.n_out, float(bias))])

    def _inputs(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise ValueError(f"X must have shape (n, {self.n_in}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or inf")
        return np.concatenate([X, np.ones((X.shape[0], 1))], axis=1) @ self.input_weights.T

    def _labels(self, y, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must be ({n},) integer labels")
        if y.min() < 0 or y.max() >= self.n_out:
            raise ValueError(f"labels must be in [0, {self.n_out})")
        return y.astype(np.int64)

    def rates(self, thetas, X, seed=0) -> np.ndarray:
        """Outputs :math:`r` ``(B, n, n_out)`` of ``B`` parameter vectors on ``n`` examples:
        one simulation of ``B x n`` networks."""
        th = np.atleast_2d(np.asarray(thetas, dtype=float))
        W, b = self.unpack(th)
        Ih = self._inputs(X)
        B, n, nh, no = th.shape[0], Ih.shape[0], self.n_hidden, self.n_out
        N = nh + no
        cur = np.zeros((B, n, N))
        cur[:, :, :nh] = Ih[None]
        cur[:, :, nh:] = b[:, None, :]
        Wf = np.zeros((B, N, N))
        Wf[:, nh:, :nh] = W
        Wf = np.broadcast_to(Wf[:, None], (B, n, N, N)).reshape(B * n, N, N)
        res = simulate(cur.reshape(B * n, N), weights=Wf, duration_ms=self.window_ms,
                       dt_ms=self.dt_ms, noise=self.noise, seed=seed, progress=False)
        return (res.output_integral[:, 0, nh:] / self.window_ms).reshape(B, n, no)

    def losses(self, thetas, X, y, seed=0) -> np.ndarray:
        """Mean cross-entropy ``(B,)`` of ``B`` parameter vectors (one simulation)."""
        r = self.rates(thetas, X, seed)
        ce, _ = softmax_cross_entropy(self.gain * r, self._labels(y, r.shape[1]))
        return ce.mean(axis=-1)

    def loss_function(self, X, y, seed=0):
        """The batched loss ``(B, d) -> (B,)`` on ``(X, y)`` with noise ``seed`` (for
        :func:`numerics.estimators.estimate`), with ``gradient(theta)`` for ``"pathwise"``."""
        model = self

        class _Loss:
            def __call__(self, thetas):
                return model.losses(thetas, X, y, seed)

            def gradient(self, theta):
                return model.gradient(theta, X, y, seed)[1]

        return _Loss()

    def gradient(self, theta, X, y, seed=0) -> tuple[float, np.ndarray, TangentResult]:
        """Loss, exact pathwise gradient ``(d,)`` and the tangent run, for the noise
        realisation ``seed`` (:func:`numerics.hh_tangent.tangent_simulate`)."""
        W, b = self.unpack(np.asarray(theta, dtype=float))
        Ih = self._inputs(X)
        n, nh, no = Ih.shape[0], self.n_hidden, self.n_out
        y = self._labels(y, n)
        N = nh + no
        cur = np.zeros((n, N))
        cur[:, :nh] = Ih
        cur[:, nh:] = b
        Wf = np.zeros((N, N))
        Wf[nh:, :nh] = W
        dirs = [("weight", nh + k, j) for k in range(no) for j in range(nh)]
        dirs += [("current", nh + k) for k in range(no)]
        res = tangent_simulate(cur, Wf, dirs, duration_ms=self.window_ms, dt_ms=self.dt_ms,
                               noise=self.noise, seed=seed)
        r = res.output_integral[:, nh:] / self.window_ms  # (n, no)
        ce, dce = softmax_cross_entropy(self.gain * r, y)
        dr = res.d_output_integral[:, nh:, :] / self.window_ms  # (n, no, d)
        grad = self.gain * np.einsum("nk,nkp->p", dce, dr) / n
        return float(ce.mean()), grad, res

    def accuracy(self, theta, X, y, seed=0) -> float:
        """Fraction of examples whose largest output is the label's (ties, e.g. silent outputs,
        count as a random choice among the tied classes)."""
        r = self.rates(theta, X, seed)[0]
        y = self._labels(y, r.shape[0])
        top = r == r.max(axis=1, keepdims=True)
        return float(np.mean(top[np.arange(y.size), y] / top.sum(axis=1)))
