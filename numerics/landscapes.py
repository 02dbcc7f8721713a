r"""Loss landscapes of Hodgkin–Huxley networks and descent on sampled landscapes (seed 003).

**Task** (seed 003, "Most Simple Case"): turn the neuron(s) off, i.e. minimise the mean
output over a window,

.. math:: L = \frac{1}{\tau}\int_{t_0}^{t_0+\tau} a(t)\,dt,

with two outputs: the synaptic gating :math:`a = s` (:mod:`theory.hh`; ``loss``), continuous
in the spike times, and the spike train :math:`a = \sum_k\delta(t - t_k)` (``rate``, in Hz:
the count in the window over :math:`\tau`), integer-valued in the count.

* :func:`scan_single_neuron`: one neuron driven by :math:`I = w\,x_{in}` for a grid of
  weights ``w`` (one simulation: the grid is the batch axis), noiseless or with ``trials``
  noisy trials sharing their noise across weights (common random numbers);
* :func:`scan_complete_graph`: the complete graph on ``n`` neurons with self-connections,
  :math:`W = w\,\mathbf 1\mathbf 1^\top + \Delta` (a fixed random perturbation :math:`\Delta`),
  every neuron driven by a bias current — seed 003's "multi-function" landscape;
* :func:`scan_direction`: the loss along :math:`\theta_0 + \alpha d` for any network built by a
  callable; :func:`scan_grid`: over a grid of two parameters (one simulation of all grid
  points; smooth it with :func:`numerics.smoothing.mollify_nd`);
* :func:`local_slope`: the seed's fix for jagged curves, the least-squares slope over
  ``neighbors`` grid points on each side, with its standard error;
* :func:`grid_descent`: gradient descent on a sampled curve as in the seed (step
  :math:`w \leftarrow w - \eta_k \hat g`, rounded to the nearest grid point) with a stated
  learning-rate schedule :math:`\eta_k = \eta_0 g^k` and the gradient from centred finite
  differences, the local regression slope, or the derivative of the mollified curve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from numerics.checks import as_int, as_nonnegative, as_positive
from numerics.hh import complete_graph, simulate
from numerics.stats import replica_sem

__all__ = ["LandscapeScan", "scan_single_neuron", "scan_complete_graph", "scan_direction",
           "scan_grid", "local_slope", "DescentPath", "grid_descent", "GRADIENTS"]

GRADIENTS = ("finite-difference", "regression", "mollified")


@dataclass(frozen=True)
class LandscapeScan:
    """Losses along a scan: ``x`` (P,) scan coordinate; ``loss`` (P, R) synaptic-output loss;
    ``rate`` (P, R) spike-count loss (Hz); ``counts`` (P, R) spikes in the window."""

    x: np.ndarray
    loss: np.ndarray
    rate: np.ndarray
    counts: np.ndarray
    tau_ms: float
    noise: float

    @property
    def mean_loss(self) -> np.ndarray:
        return self.loss.mean(axis=1)

    @property
    def sem_loss(self) -> np.ndarray:
        return replica_sem(self.loss, axis=1, single=0.0)

    def to_dict(self) -> dict:
        return {"x": self.x.tolist(), "loss": self.loss.tolist(), "rate": self.rate.tolist(),
                "counts": self.counts.tolist(), "tau_ms": self.tau_ms, "noise": self.noise}


def _window_counts(res, t0: float, t1: float) -> np.ndarray:
    P, R, N = res.shape
    sp = res.spikes
    sel = (sp["time"] >= t0) & (sp["time"] < t1)
    out = np.zeros((P, R, N), dtype=np.int64)
    np.add.at(out, (sp["param"][sel], sp["trial"][sel], sp["neuron"][sel]), 1)
    return out


def _scan(x, res, tau, noise) -> LandscapeScan:
    t0, t1 = res.loss_window
    counts = _window_counts(res, t0, t1)
    c = counts[:, :, res.output_neurons].mean(axis=2)  # the same neurons as the loss
    return LandscapeScan(np.asarray(x, dtype=float), res.loss, c / (tau / 1000.0), c, tau, noise)


def scan_single_neuron(w, *, input_current: float = 100.0, tau_ms: float = 1000.0,
                       transient_ms: float = 0.0, trials: int = 1, noise: float = 0.0,
                       seed=0, dt_ms: float = 0.01, backend: str = "numba") -> LandscapeScan:
    """Losses of one neuron with input ``w * input_current`` (uA/cm^2) for each weight in
    ``w``; the window is ``[transient_ms, transient_ms + tau_ms)``."""
    w = np.atleast_1d(np.asarray(w, dtype=float))
    tau = as_positive(tau_ms, "tau_ms")
    t0 = as_nonnegative(transient_ms, "transient_ms")
    res = simulate((w * float(input_current))[:, None], duration_ms=t0 + tau, dt_ms=dt_ms,
                   noise=noise, trials=trials, seed=seed, loss_window=(t0, t0 + tau),
                   backend=backend, progress=False)
    return _scan(w, res, tau, float(noise))


def scan_complete_graph(w, *, n: int = 1, bias: float = 10.0, perturbation: float = 0.0,
                        tau_ms: float = 1000.0, trials: int = 1, noise: float = 0.0, seed=0,
                        instance_seed: int = 1, dt_ms: float = 0.01) -> LandscapeScan:
    """Losses of the complete graph on ``n`` neurons (self-connections included) with all
    weights ``w + perturbation * Delta_ij`` (Delta ~ N(0,1) fixed by ``instance_seed``), each
    neuron driven by ``bias``; the loss averages all neurons."""
    w = np.atleast_1d(np.asarray(w, dtype=float))
    n = as_int(n, "n", 1)
    delta = np.random.default_rng(instance_seed).standard_normal((n, n))
    W = w[:, None, None] * complete_graph(n, 1.0)[None] + float(perturbation) * delta[None]
    tau = as_positive(tau_ms, "tau_ms")
    res = simulate(np.full((w.size, n), float(bias)), weights=W, duration_ms=tau, dt_ms=dt_ms,
                   noise=noise, trials=trials, seed=seed, progress=False)
    return _scan(w, res, tau, float(noise))


def scan_direction(build: Callable[[np.ndarray], dict], theta0, direction, alphas, *,
                   tau_ms: float = 1000.0, trials: int = 1, noise: float = 0.0, seed=0,
                   dt_ms: float = 0.01) -> LandscapeScan:
    r"""Losses at :math:`\theta_0 + \alpha d` for ``alphas``: ``build(thetas)`` maps the
    (P, d) parameter vectors to :func:`numerics.hh.simulate` keyword arguments (``current``,
    ``weights``, ...) with a leading axis P, so all P networks run as one simulation."""
    theta0 = np.asarray(theta0, dtype=float)
    d = np.asarray(direction, dtype=float)
    if d.shape != theta0.shape:
        raise ValueError(f"direction must have the shape of theta0 {theta0.shape}, got {d.shape}")
    a = np.atleast_1d(np.asarray(alphas, dtype=float))
    thetas = theta0[None] + a[:, None] * d[None]
    tau = as_positive(tau_ms, "tau_ms")
    res = simulate(duration_ms=tau, dt_ms=dt_ms, noise=noise, trials=trials, seed=seed,
                   progress=False, **build(thetas))
    return _scan(a, res, tau, float(noise))


def scan_grid(build: Callable[[np.ndarray], dict], a, b, *, tau_ms: float = 1000.0,
              trials: int = 1, noise: float = 0.0, seed=0, dt_ms: float = 0.01):
    """Losses over the grid ``a x b`` of two parameters: ``build`` maps the (P, 2) parameter
    pairs to :func:`numerics.hh.simulate` keyword arguments.  Returns ``(loss, rate)`` with
    shapes ``(len(a), len(b), trials)``."""
    a = np.atleast_1d(np.asarray(a, dtype=float))
    b = np.atleast_1d(np.asarray(b, dtype=float))
    A, Bg = np.meshgrid(a, b, indexing="ij")
    thetas = np.stack([A.ravel(), Bg.ravel()], axis=1)
    tau = as_positive(tau_ms, "tau_ms")
    res = simulate(duration_ms=tau, dt_ms=dt_ms, noise=noise, trials=trials, seed=seed,
                   progress=False, **build(thetas))
    sc = _scan(np.arange(thetas.shape[0]), res, tau, float(noise))
    shape = (a.size, b.size, sc.loss.shape[1])
    return sc.loss.reshape(shape), sc.rate.reshape(shape)


def local_slope(x, y, index: int, neighbors: int) -> tuple[float, float]:
    """Least-squares slope of ``y`` on ``x`` over ``index - neighbors .. index + neighbors``
    (clipped to the data) and its standard error (residual-based)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    k = as_int(neighbors, "neighbors", 1)
    lo, hi = max(0, index - k), min(x.size, index + k + 1)
    xs, ys = x[lo:hi], y[lo:hi]
    if xs.size < 3:
        raise ValueError("local_slope needs at least 3 points in the window")
    xc = xs - xs.mean()
    sxx = float(np.sum(xc**2))
    slope = float(np.sum(xc * (ys - ys.mean())) / sxx)
    resid = ys - ys.mean() - slope * xc
    se = float(np.sqrt(np.sum(resid**2) / (xs.size - 2) / sxx))
    return slope, se


@dataclass(frozen=True)
class DescentPath:
    """A descent on a sampled curve: visited grid indices and weights, losses, gradients."""

    method: str
    index: np.ndarray
    w: np.ndarray
    loss: np.ndarray
    grad: np.ndarray
    lr: np.ndarray

    @property
    def settled(self) -> bool:
        """The last 10 steps visit at most two grid points (converged, or stuck jumping
        between two values as in the seed); compare ``loss[-1]`` with the target to tell."""
        return bool(np.unique(self.index[-10:]).size <= 2)

    def to_dict(self) -> dict:
        return {"method": self.method, "w": self.w.tolist(), "loss": self.loss.tolist(),
                "grad": self.grad.tolist(), "lr": self.lr.tolist(), "settled": self.settled}


def grid_descent(w, loss, start: float, *, method: str = "finite-difference",
                 lr: float = 0.1, growth: float = 1.0, steps: int = 100, neighbors: int = 10,
                 smoothed_slope=None) -> DescentPath:
    r"""Gradient descent on a sampled curve (seed 003): ``lr_k = lr * growth**k``.

    Gradients: ``"finite-difference"`` :math:`(L_{i+1}-L_{i-1})/(2\Delta w)`;
    ``"regression"``: :func:`local_slope` over ``neighbors`` points per side;
    ``"mollified"``: ``smoothed_slope[i]`` (the derivative of the mollified curve, e.g.
    :func:`numerics.smoothing.mollify` with ``derivative=True``; NaN near the edges stops).
    The new weight is rounded to the nearest grid point and clipped to the grid."""
    w = np.asarray(w, dtype=float)
    loss = np.asarray(loss, dtype=float)
    if method not in GRADIENTS:
        raise ValueError(f"method must be one of {GRADIENTS}, got {method!r}")
    if method == "mollified" and smoothed_slope is None:
        raise ValueError("method='mollified' needs smoothed_slope (the mollified derivative)")
    steps = as_int(steps, "steps", 1)
    as_positive(lr, "lr")
    as_positive(growth, "growth")
    dw = float(np.mean(np.diff(w)))
    i = int(np.argmin(np.abs(w - start)))
    idx, grads, lrs = [i], [], []
    for k in range(steps):
        if method == "finite-difference":
            j0, j1 = max(i - 1, 0), min(i + 1, w.size - 1)
            g = (loss[j1] - loss[j0]) / ((j1 - j0) * dw)
        elif method == "regression":
            g = local_slope(w, loss, i, neighbors)[0]
        else:
            g = float(smoothed_slope[i])
        if not np.isfinite(g):
            break
        eta = lr * growth**k
        i = int(np.clip(np.rint((w[i] - eta * g - w[0]) / dw), 0, w.size - 1))
        idx.append(i)
        grads.append(g)
        lrs.append(eta)
    idx_a = np.asarray(idx)
    return DescentPath(method, idx_a, w[idx_a], loss[idx_a], np.asarray(grads), np.asarray(lrs))
