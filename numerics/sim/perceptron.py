r"""Online SL and RL perceptron learners (seed 002), replicas advanced as arrays.

Update rules (Schmid & Murray, seed 002), :math:`w \leftarrow w + \eta f(w)`, time
:math:`t = \eta\times` updates:

* SL, eq. (12), online logistic regression:
  :math:`f = (\tilde y - \phi(w\cdot x))\,x - \lambda w`, :math:`\tilde y = (y+1)/2`;
* RL, eq. (13), REINFORCE with reward baseline:
  :math:`f = \hat y\,\delta\,\phi(-\hat y\, w\cdot x)\,x - \lambda w`, with the output
  :math:`\hat y = \pm1` sampled from :math:`\pi(\hat y) = \phi(\hat y\,w\cdot x)` and the reward
  prediction error :math:`\delta = y\hat y - \langle y\hat y\rangle`.

Both are :math:`f = G\,x - \lambda w` with a scalar :math:`G` (:func:`update_factor`).  The
baseline :math:`\langle y\hat y\rangle` is read as the expected reward of the current policy
for the presented input, :math:`\langle y\hat y\rangle_{\hat y} = y(2\phi(w\cdot x) - 1)`
(``baseline="expected"``, default); ``baseline="none"`` drops it.  The baseline cancels in the
mean drift (see :mod:`theory.perceptron`) and only changes the update noise.

Sigmoids: ``"erf"``, :math:`\phi(z) = \tfrac12(1+\operatorname{erf}(\sqrt\pi z/4)) =
\Phi(\sqrt{\pi/8}\,z)` (the theory's, exact as :math:`\eta\to0`) and ``"logistic"``,
:math:`\phi(z) = 1/(1+e^{-z})` (the paper's simulations).

Simulators (all :class:`numerics.sim.ensemble.OnlineRule`, run with
:func:`numerics.sim.ensemble.simulate_ensemble`):

* :class:`PerceptronRule`: full N-dimensional weights, inputs from the Gaussian mixture
  :math:`x\,|\,y \sim N(\mu_y, \Sigma_y)`, :math:`p(y = \pm1) = 1/2`;
* :class:`DataPerceptronRule`: inputs drawn uniformly, with replacement, from a data set;
* :class:`ReducedPerceptronRule`: the exact reduced chain for noise covariances
  :math:`\Sigma = U S U^\top + \sigma_\perp^2 (I - UU^\top)` (isotropic, or anisotropic only
  inside a small frame :math:`U`), cost per replica-step independent of N.

:func:`train_on_dataset` runs epochs of shuffled SGD on a data set (one shuffle per replica).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, ndtr

from numerics.checks import as_covariance, as_int, as_nonnegative, as_positive, as_vector
from numerics.sim.ensemble import OnlineRule, replica_generators

__all__ = [
    "SIGMOIDS", "BASELINES", "BACKENDS", "sigmoid", "update_factor", "PerceptronRule",
    "DataPerceptronRule", "ReducedPerceptronRule", "orthonormal_frame", "DatasetTraining",
    "train_on_dataset",
]

SIGMOIDS = ("erf", "logistic")
BASELINES = ("expected", "none")
#: ``numba``: the compiled loop of :mod:`numerics.sim.perceptron_kernel` between recorded
#: steps; ``numpy``: one array update per step (the reference; equal to rounding)
BACKENDS = ("numba", "numpy")
_K = float(np.sqrt(np.pi / 8.0))


def _check_rule(rule: str) -> str:
    if not isinstance(rule, str) or rule.lower() not in ("sl", "rl"):
        raise ValueError(f"rule must be 'sl' (supervised) or 'rl' (REINFORCE), got {rule!r}")
    return rule.lower()


def _check_choice(value, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value.lower()


def sigmoid(name: str, z) -> np.ndarray:
    r"""The output nonlinearity: ``"erf"`` :math:`\Phi(\sqrt{\pi/8}z)` or ``"logistic"``."""
    name = _check_choice(name, "sigmoid", SIGMOIDS)
    z = np.asarray(z, dtype=float)
    return ndtr(_K * z) if name == "erf" else expit(z)


def update_factor(rule: str, s, y, u, sigmoid_name: str = "erf",
                  baseline: str = "expected") -> np.ndarray:
    r"""The scalar :math:`G` of :math:`f = G x - \lambda w` (seed 002 eqs. (12), (13)).

    ``s = w.x``, ``y = +-1`` the label, ``u`` uniform(0, 1) numbers that sample the RL output
    :math:`\hat y = +1` iff :math:`u < \phi(s)` (ignored for SL).
    SL: :math:`G = (y+1)/2 - \phi(s)`.  RL: :math:`G = \hat y\,(y\hat y - B)\,\phi(-\hat y s)`,
    :math:`B = y(2\phi(s)-1)` (``baseline="expected"``) or 0 (``"none"``).
    """
    rule = _check_rule(rule)
    baseline = _check_choice(baseline, "baseline", BASELINES)
    p = sigmoid(sigmoid_name, s)
    return _factor(rule, p, np.asarray(y, dtype=float), np.asarray(u), baseline == "expected")


def _factor(rule: str, p: np.ndarray, y: np.ndarray, u: np.ndarray, expected: bool):
    """:func:`update_factor` given the sigmoid value ``p = phi(s)`` (no argument checks)."""
    if rule == "sl":
        return 0.5 * (y + 1.0) - p
    up = u < p
    yhat = np.where(up, 1.0, -1.0)
    other = np.where(up, 1.0 - p, p)  # phi(-yhat s), phi symmetric: phi(-z) = 1 - phi(z)
    delta = y * yhat - y * (2.0 * p - 1.0) if expected else y * yhat
    return yhat * delta * other


def _sqrt_psd(S: np.ndarray) -> np.ndarray:
    lam, Q = np.linalg.eigh(S)
    return (Q * np.sqrt(np.clip(lam, 0.0, None))) @ Q.T


def _isotropic_sd(S: np.ndarray) -> float | None:
    d = float(S[0, 0])
    return float(np.sqrt(d)) if np.array_equal(S, d * np.eye(S.shape[0])) else None


class _PerceptronBase(OnlineRule):
    def _init_common(self, rule, lr, lam, sigmoid_name, baseline):
        self.rule = _check_rule(rule)
        self.lr = as_positive(lr, "lr")
        self.lam = as_nonnegative(lam, "lam")
        self.sigmoid = _check_choice(sigmoid_name, "sigmoid", SIGMOIDS)
        self.baseline = _check_choice(baseline, "baseline", BASELINES)
        if self.lr * self.lam >= 2.0:
            raise ValueError(f"lr * lam must be < 2 for a stable weight decay, got "
                             f"{self.lr * self.lam}")
        self._decay = 1.0 - self.lr * self.lam
        self._expected = self.baseline == "expected"
        self._phi = (lambda z: ndtr(_K * z)) if self.sigmoid == "erf" else expit

    def _G(self, s, y, u):
        return _factor(self.rule, self._phi(s), y, u, self._expected)


class PerceptronRule(_PerceptronBase):
    r"""SL / RL perceptron on Gaussian-mixture inputs (seed 002 eqs. (12), (13)).

    ``x | y=+1 ~ N(mu_pos, Sigma_pos)``, ``x | y=-1 ~ N(mu_neg, Sigma_neg)`` (defaults
    ``-mu_pos``, ``Sigma_pos``), ``p(y) = 1/2``.  Per replica-step noise: one uniform for the
    label, N standard normals for the input, one uniform for the RL output.
    """

    def __init__(self, rule: str, mu_pos, Sigma_pos, *, lr: float, mu_neg=None, Sigma_neg=None,
                 lam: float = 0.0, sigmoid: str = "erf", baseline: str = "expected"):
        self._init_common(rule, lr, lam, sigmoid, baseline)
        self.mu_pos = as_vector(mu_pos, "mu_pos")
        n = self.mu_pos.size
        self.mu_neg = -self.mu_pos if mu_neg is None else as_vector(mu_neg, "mu_neg", n)
        self.Sigma_pos = as_covariance(Sigma_pos, "Sigma_pos")
        if self.Sigma_pos.shape != (n, n):
            raise ValueError(f"Sigma_pos must be {n}x{n} to match mu_pos (dimension mismatch), "
                             f"got {self.Sigma_pos.shape}")
        if Sigma_neg is None:
            self.Sigma_neg = self.Sigma_pos
        else:
            self.Sigma_neg = as_covariance(Sigma_neg, "Sigma_neg")
            if self.Sigma_neg.shape != (n, n):
                raise ValueError(f"Sigma_neg must be {n}x{n} (dimension mismatch), got "
                                 f"{self.Sigma_neg.shape}")
        self.dim = n
        self.noise_dim = n + 2
        self._shared = Sigma_neg is None or np.array_equal(self.Sigma_neg, self.Sigma_pos)
        self._symmetric = np.array_equal(self.mu_neg, -self.mu_pos)
        self._sd_pos = _isotropic_sd(self.Sigma_pos)
        self._sd_neg = _isotropic_sd(self.Sigma_neg)
        self._L_pos = None if self._sd_pos is not None else _sqrt_psd(self.Sigma_pos)
        self._L_neg = None if self._sd_neg is not None else _sqrt_psd(self.Sigma_neg)

    def draw(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        out = np.empty((steps, self.noise_dim))
        out[:, 0] = rng.random(steps)
        out[:, 1:-1] = rng.standard_normal((steps, self.dim))
        out[:, -1] = rng.random(steps)
        return out

    def _noise(self, z: np.ndarray, sd, L) -> np.ndarray:
        return sd * z if sd is not None else z @ L

    def inputs(self, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels (R,) and inputs (R, N) encoded by one step's ``noise`` (R, N + 2)."""
        y = np.where(noise[:, 0] < 0.5, 1.0, -1.0)
        z = noise[:, 1:-1]
        if self._shared:
            x = self._noise(z, self._sd_pos, self._L_pos)
        else:
            x = np.where(y[:, None] > 0, self._noise(z, self._sd_pos, self._L_pos),
                         self._noise(z, self._sd_neg, self._L_neg))
        if self._symmetric:
            x += y[:, None] * self.mu_pos
        else:
            x += np.where(y[:, None] > 0, self.mu_pos, self.mu_neg)
        return y, x

    def step(self, w: np.ndarray, noise: np.ndarray) -> np.ndarray:
        y, x = self.inputs(noise)
        s = np.einsum("ri,ri->r", w, x)
        g = self.lr * self._G(s, y, noise[:, -1])
        if self._decay != 1.0:
            w *= self._decay
        w += g[:, None] * x
        return w


def _check_dataset(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"X must be a 2-D array (samples, features), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf")
    y = np.asarray(y, dtype=float).ravel()
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have one label per row of X ({X.shape[0]}), got {y.shape}")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("y must contain labels -1 and +1 only")
    return X, y


class DataPerceptronRule(_PerceptronBase):
    r"""SL / RL perceptron on inputs drawn uniformly with replacement from a data set
    ``X`` (n, N) with labels ``y`` in {-1, +1} (online learning from the empirical
    distribution; seed 002 eqs. (12), (13))."""

    def __init__(self, rule: str, X, y, *, lr: float, lam: float = 0.0, sigmoid: str = "erf",
                 baseline: str = "expected"):
        self._init_common(rule, lr, lam, sigmoid, baseline)
        self.X, self.y = _check_dataset(X, y)
        self.dim = self.X.shape[1]
        self.noise_dim = 2

    def draw(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        out = np.empty((steps, 2))
        out[:, 0] = rng.integers(0, self.X.shape[0], steps)
        out[:, 1] = rng.random(steps)
        return out

    def step(self, w: np.ndarray, noise: np.ndarray) -> np.ndarray:
        idx = noise[:, 0].astype(np.intp)
        x = self.X[idx]
        s = np.einsum("ri,ri->r", w, x)
        g = self.lr * self._G(s, self.y[idx], noise[:, 1])
        if self._decay != 1.0:
            w *= self._decay
        w += g[:, None] * x
        return w


def orthonormal_frame(*vectors, dim: int | None = None, tol: float = 1e-10) -> np.ndarray:
    """An orthonormal basis (N, K) of the span of ``vectors`` (Gram-Schmidt in the given
    order; vectors already in the span are skipped)."""
    cols: list[np.ndarray] = []
    for i, v in enumerate(vectors):
        v = as_vector(v, f"vectors[{i}]", dim)
        dim = v.size
        r = v.copy()
        for _ in range(2):  # re-orthogonalise once for accuracy
            for c in cols:
                r -= (c @ r) * c
        nrm = np.linalg.norm(r)
        if nrm > tol * max(1.0, np.linalg.norm(v)):
            cols.append(r / nrm)
    if not cols:
        raise ValueError("the frame vectors span nothing (all zero)")
    return np.stack(cols, axis=1)


class ReducedPerceptronRule(_PerceptronBase):
    r"""Exact reduced simulator for noise :math:`\Sigma = U S U^\top + \sigma_\perp^2(I-UU^\top)`.

    :math:`U` (N, K) is an orthonormal frame containing both class means (and, for the mean
    of the ensemble to stay in the frame, the initial weights).  Write
    :math:`w = Uc + q\,e` with :math:`e \perp U`, :math:`|e| = 1`, :math:`q \ge 0`.  An input is
    :math:`x = \mu_y + \xi`; in the frame :math:`x_U = U^\top\mu_y + S^{1/2} z_U`, along
    :math:`e` it is :math:`x_e = \sigma_\perp z_e`, and the rest has squared norm
    :math:`\sigma_\perp^2\chi^2_{N-K-1}`, all independent.  The update
    :math:`w' = (1-\eta\lambda)w + \eta G x` with :math:`G(w\cdot x)`,
    :math:`w\cdot x = c\cdot x_U + q x_e`, gives

    .. math:: c' = (1-\eta\lambda)c + \eta G x_U, \qquad
              q'^2 = ((1-\eta\lambda)q + \eta G x_e)^2 + (\eta G)^2\sigma_\perp^2\chi^2_{N-K-1},

    a closed Markov chain in :math:`(c, q)` (the distribution of the orthogonal noise is
    rotation invariant, so the new direction :math:`e'` does not matter).  The state per
    replica is ``(c_1..c_K, q)``; cost per replica-step O(K), independent of N.  By the same
    invariance :math:`\langle w\rangle = U\langle c\rangle` whenever the initial out-of-frame
    part is zero (or rotation invariant).

    Construct with :meth:`isotropic`, or directly with frame coordinates.
    """

    def __init__(self, rule: str, dim: int, frame, mu_pos, *, lr: float, sigma_perp: float,
                 mu_neg=None, S=None, lam: float = 0.0, sigmoid: str = "erf",
                 baseline: str = "expected", backend: str = "numba"):
        self._init_common(rule, lr, lam, sigmoid, baseline)
        self.backend = _check_choice(backend, "backend", BACKENDS)
        self.n = as_int(dim, "dim", 1)
        U = np.asarray(frame, dtype=float)
        if U.ndim != 2 or U.shape[0] != self.n or U.shape[1] > self.n - 1:
            raise ValueError(f"frame must have shape ({self.n}, K) with K <= dim - 1, got "
                             f"{U.shape}")
        if not np.allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-9):
            raise ValueError("frame columns must be orthonormal")
        self.frame = U
        self.K = U.shape[1]
        mu_pos = as_vector(mu_pos, "mu_pos", self.n)
        mu_neg = -mu_pos if mu_neg is None else as_vector(mu_neg, "mu_neg", self.n)
        for name, m in (("mu_pos", mu_pos), ("mu_neg", mu_neg)):
            if np.linalg.norm(m - U @ (U.T @ m)) > 1e-9 * max(1.0, np.linalg.norm(m)):
                raise ValueError(f"{name} must lie in the span of the frame")
        self.mu_pos, self.mu_neg = mu_pos, mu_neg
        self._m_pos, self._m_neg = U.T @ mu_pos, U.T @ mu_neg
        self.sigma_perp = as_nonnegative(sigma_perp, "sigma_perp")
        S = self.sigma_perp**2 * np.eye(self.K) if S is None else as_covariance(S, "S")
        if S.shape != (self.K, self.K):
            raise ValueError(f"S must be {self.K}x{self.K} (the frame size), got {S.shape}")
        self.S = S
        self._LS = _sqrt_psd(S)
        self._iso = _isotropic_sd(S)
        self._symmetric = np.array_equal(self._m_neg, -self._m_pos)
        self.dof = self.n - self.K - 1
        self.dim = self.K + 1
        self.noise_dim = self.K + 4

    @classmethod
    def isotropic(cls, rule: str, mu, sigma: float, *, lr: float, extra=(), lam: float = 0.0,
                  sigma_par: float | None = None, sigmoid: str = "erf",
                  baseline: str = "expected", mu_neg=None,
                  backend: str = "numba") -> ReducedPerceptronRule:
        r"""Classes :math:`N(\pm\mu, \Sigma)` with :math:`\Sigma = \sigma^2 I` (or
        :math:`\sigma_\parallel^2 nn^\top + \sigma^2(I-nn^\top)`, :math:`n = \mu/|\mu|`, when
        ``sigma_par`` is given: seed 002 Fig. 3B).  ``extra`` vectors (e.g. the initial
        weights, other task means) join the frame."""
        mu = as_vector(mu, "mu")
        if not np.any(mu):
            raise ValueError("mu must be non-zero")
        U = orthonormal_frame(mu, *extra, dim=mu.size)
        sigma = as_nonnegative(sigma, "sigma")
        S = sigma**2 * np.eye(U.shape[1])
        if sigma_par is not None:
            n = U.T @ (mu / np.linalg.norm(mu))
            S = S + (as_nonnegative(sigma_par, "sigma_par")**2 - sigma**2) * np.outer(n, n)
        return cls(rule, mu.size, U, mu, lr=lr, sigma_perp=sigma, mu_neg=mu_neg, S=S, lam=lam,
                   sigmoid=sigmoid, baseline=baseline, backend=backend)

    def with_means(self, mu_pos, mu_neg=None) -> ReducedPerceptronRule:
        """The same rule and frame with new class means (e.g. the next task)."""
        return ReducedPerceptronRule(self.rule, self.n, self.frame, mu_pos, lr=self.lr,
                                     sigma_perp=self.sigma_perp, mu_neg=mu_neg, S=self.S,
                                     lam=self.lam, sigmoid=self.sigmoid, baseline=self.baseline,
                                     backend=self.backend)

    # -- state conversions -------------------------------------------------------------
    def reduce(self, w) -> np.ndarray:
        """Reduced state ``(c, q)`` of full weights ``w`` (N,) or (R, N)."""
        w = np.asarray(w, dtype=float)
        if w.shape[-1] != self.n:
            raise ValueError(f"w must have last dimension {self.n}, got {w.shape}")
        c = w @ self.frame
        q = np.linalg.norm(w - c @ self.frame.T, axis=-1)
        return np.concatenate([c, np.asarray(q)[..., None]], axis=-1)

    def coordinates(self, v) -> np.ndarray:
        """Frame coordinates ``U^T v`` of a vector in the span of the frame."""
        return as_vector(v, "v", self.n) @ self.frame

    def project(self, state: np.ndarray, v) -> np.ndarray:
        """:math:`v\\cdot w` per replica for ``v`` in the frame's span."""
        return state[..., : self.K] @ self.coordinates(v)

    def norm2(self, state: np.ndarray) -> np.ndarray:
        """:math:`|w|^2 = |c|^2 + q^2` per replica."""
        return np.sum(state**2, axis=-1)

    def mean_weights(self, state: np.ndarray) -> np.ndarray:
        """:math:`U\\langle c\\rangle`: the replica mean of w (out-of-frame mean is zero)."""
        return state[..., : self.K].mean(axis=-2) @ self.frame.T

    # -- the chain -----------------------------------------------------------------------
    def draw(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        K = self.K
        out = np.empty((steps, self.noise_dim))
        out[:, 0] = rng.random(steps)
        out[:, 1:K + 2] = rng.standard_normal((steps, K + 1))
        out[:, K + 2] = rng.chisquare(self.dof, steps) if self.dof > 0 else 0.0
        out[:, K + 3] = rng.random(steps)
        return out

    def step(self, w: np.ndarray, noise: np.ndarray) -> np.ndarray:
        K = self.K
        z = np.ascontiguousarray(noise.T)  # (K + 4, R): contiguous rows
        y = np.where(z[0] < 0.5, 1.0, -1.0)
        xU = self._LS @ z[1:K + 1] if self._iso is None else self._iso * z[1:K + 1]  # (K, R)
        if self._symmetric:
            xU += self._m_pos[:, None] * y
        else:
            xU += np.where(y > 0, self._m_pos[:, None], self._m_neg[:, None])
        xe = self.sigma_perp * z[K + 1]
        c = w[:, :K]
        q = w[:, K]
        s = np.einsum("rk,kr->r", c, xU) + q * xe
        g = self.lr * self._G(s, y, z[K + 3])
        qn = self._decay * q + g * xe
        if self._decay != 1.0:
            c *= self._decay
        c += (g * xU).T
        w[:, K] = np.sqrt(qn * qn + (g * self.sigma_perp) ** 2 * z[K + 2])
        return w

    def advance(self, w: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """``len(noise)`` updates: the compiled loop (``backend="numba"``) or :meth:`step`
        after :meth:`step` (``"numpy"``); equal to rounding."""
        if self.backend == "numpy" or w.dtype != np.float64 or not w.flags.c_contiguous:
            return super().advance(w, noise)
        from numerics.sim.perceptron_kernel import advance_reduced_chain

        return advance_reduced_chain(w, noise, m_pos=self._m_pos, m_neg=self._m_neg,
                                     LS=self._LS, iso=self._iso, sigma_perp=self.sigma_perp,
                                     lr=self.lr, decay=self._decay, rule=self.rule,
                                     sigmoid=self.sigmoid, expected=self._expected,
                                     symmetric=self._symmetric)


# ------------------------------------------------------------------ SGD epochs on data


@dataclass(frozen=True)
class DatasetTraining:
    """Weights of ``replicas`` shuffled-SGD runs at ``steps`` (times = lr * steps)."""

    steps: np.ndarray
    times: np.ndarray
    weights: np.ndarray  # (m, R, N)
    replicas: int

    def to_dict(self) -> dict:
        return {"steps": self.steps.tolist(), "times": self.times.tolist(),
                "replicas": self.replicas, "dim": int(self.weights.shape[-1])}


def train_on_dataset(rule: str, X, y, w0, *, lr: float, epochs: int, replicas: int,
                     seed=0, lam: float = 0.0, sigmoid: str = "logistic",
                     baseline: str = "expected", record_steps=None) -> DatasetTraining:
    r"""Online SGD (SL eq. (12) / RL eq. (13) of seed 002) on the data set ``(X, y)`` for
    ``epochs`` passes, each replica visiting the samples in its own random order every epoch
    (replica r: generator from ``SeedSequence(seed).spawn(replicas)[r]``).  Replicas advance as
    arrays.  Returns the weights at ``record_steps`` (default: 0 and the end)."""
    X, y = _check_dataset(X, y)
    base = _PerceptronBase()
    base._init_common(rule, lr, lam, sigmoid, baseline)
    epochs = as_int(epochs, "epochs", 1)
    replicas = as_int(replicas, "replicas", 1)
    n, dim = X.shape
    w = np.tile(as_vector(w0, "w0", dim), (replicas, 1))
    total = epochs * n
    rec = np.array([0, total]) if record_steps is None else np.unique(
        np.asarray(record_steps, dtype=np.int64))
    if rec[0] < 0 or rec[-1] > total:
        raise ValueError(f"record_steps must lie in [0, {total}]")
    gens = replica_generators(seed, replicas)
    out = np.empty((rec.size, replicas, dim))
    ri = 0
    while ri < rec.size and rec[ri] == 0:
        out[ri] = w
        ri += 1
    rows = np.arange(replicas)
    for ep in range(epochs):
        order = np.stack([g.permutation(n) for g in gens])  # (R, n)
        pol = np.stack([g.random(n) for g in gens])
        for j in range(n):
            idx = order[:, j]
            x = X[idx]
            s = np.einsum("ri,ri->r", w, x)
            g = base.lr * base._G(s, y[idx], pol[rows, j])
            if base._decay != 1.0:
                w *= base._decay
            w += g[:, None] * x
            k = ep * n + j + 1
            while ri < rec.size and rec[ri] == k:
                out[ri] = w
                ri += 1
        if not np.all(np.isfinite(w)):
            raise FloatingPointError(f"SGD diverged in epoch {ep} (lr = {lr})")
    return DatasetTraining(steps=rec, times=base.lr * rec.astype(float), weights=out,
                           replicas=replicas)
