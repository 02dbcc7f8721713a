r"""The cerebellar tracking task and its exact quadratic task loss (seed 000).

:class:`CerebellarTask` assembles reference (:mod:`.reference`), granule layer
(:mod:`.granule`) and the sampled closed loop of plant and controller (:mod:`.loop`) on the
time grid :math:`t_n = n\,dt`, :math:`n = 0..n_T-1`, :math:`n_T = T/dt`.  With frozen readout
weights :math:`w` the loop, started at rest, runs

.. math:: X_{n+1} = \Phi X_n + \Gamma_r r_n + \Gamma_z\, w\cdot h_n,\qquad e_n = HX_n - r_n,

and the **task loss** is the mean squared tracking error over the trajectory (seed 000:
"the mse loss over the whole 400 s trajectory if the weights were frozen"),
:math:`L(w) = \frac1{n_T}\sum_n e_n^2`.  Everything is linear in :math:`w`, so
:math:`e = e_0 + G w` with :math:`e_0` the error without the network and :math:`G` the granule
activities filtered by the loop, and (:mod:`theory.cerebellum`)

.. math:: L(w) = (w-w^*)^\top R\,(w-w^*) + L_{\min} = L_\perp + |c + Fw|^2 ,

:math:`R = G^\top G/n_T`.  :class:`CerebellarTask` computes :math:`G` once (a blocked
convolution), takes its QR factorisation :math:`G = Q_GR_G`, and keeps :math:`F = R_G/\sqrt
{n_T}`, :math:`c = Q_G^\top e_0/\sqrt{n_T}` and :math:`L_\perp = |e_0 - Q_GQ_G^\top e_0|^2/n_T`;
every later evaluation of the loss costs O(N^2), and :math:`w^*` is one triangular
least-squares solve: no pre-training (which took the seed's authors hours) is needed.
:meth:`CerebellarTask.simulate_task_loss` re-simulates the loop sample by sample instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import scipy.linalg
import sympy as sp

from numerics.cerebellum.granule import GranuleLayer, granule_layer
from numerics.cerebellum.loop import (
    Controller,
    LinearPlant,
    SampledLoop,
    default_controller,
    default_plant,
    lti_response,
    sampled_loop,
)
from numerics.cerebellum.reference import as_reference
from numerics.checks import as_int, as_positive, as_seed_sequence

__all__ = ["CerebellarTask", "TaskLossForm"]


@lru_cache(maxsize=1)
def _compiled_loss():
    """Lambdified factor residual c + F W (column-wise) from :mod:`theory.cerebellum`."""
    from theory.cerebellum import SYMBOLS, task_loss_residual, task_loss_symbols

    s = task_loss_symbols()
    k = sp.Symbol("k", integer=True, positive=True)
    W = sp.MatrixSymbol("W", SYMBOLS.N, k)
    C1 = sp.MatrixSymbol("c", SYMBOLS.N, 1)
    resid = task_loss_residual(W, s.F, C1)
    return sp.lambdify([s.F, C1, W], resid, modules="numpy", cse=True)


def _multiple(value: float, unit: float, name: str, unit_name: str) -> int:
    k = value / unit
    if abs(k - round(k)) > 1e-9 * max(1.0, abs(k)) or round(k) < 1:
        raise ValueError(f"{name} = {value:g} s must be a positive multiple of {unit_name} = "
                         f"{unit:g} s")
    return int(round(k))


@dataclass(frozen=True)
class TaskLossForm:
    r"""The exact quadratic form of the task loss: ``R``, ``w_star``, ``L_min`` and the
    factored form ``F``, ``c``, ``L_perp`` (:math:`L(w) = L_\perp + |c + Fw|^2`)."""

    R: np.ndarray
    w_star: np.ndarray
    L_min: float
    F: np.ndarray
    c: np.ndarray
    L_perp: float

    def to_dict(self) -> dict:
        return {"w_star": self.w_star.tolist(), "L_min": self.L_min, "L_perp": self.L_perp}


class CerebellarTask:
    r"""Reference, granule layer of expansion ``q`` (``N = 10 q`` cells), plant and controller.

    Parameters
    ----------
    q:
        Expansion of the granule layer (integer >= 1): ``n_weights = n_mossy * q``.
    seed:
        Draws the reference and the granule layer (int or ``SeedSequence``); tasks with the
        same seed share the reference and nest their granule layers.
    duration_s:
        Trajectory length T (400 s default, as in the seed); the reference is T-periodic.
    dt:
        Sample (hold) time of the loop, default 0.05 s.
    reference:
        ``"sines"`` (default), ``"fourier"``, a :class:`~.reference.FourierReference`, or a
        callable ``r(t)`` (read T-periodically).
    plant, controller:
        Default: the seed's plant and PID (:mod:`.loop`); the closed loop must be stable.
    n_mossy, k, lookahead_s, bias_scale:
        Granule layer (:mod:`.granule`).
    """

    def __init__(self, q: int, seed=0, duration_s: float = 400.0, *, dt: float = 0.05,
                 reference="sines", plant: LinearPlant | None = None,
                 controller: Controller | None = None, n_mossy: int = 10, k: int = 4,
                 lookahead_s: float = 2.0, bias_scale: float = 0.5):
        if isinstance(q, bool) or not isinstance(q, (int, np.integer)):
            raise TypeError(f"q (the expansion) must be an integer >= 1, got {q!r}")
        if q < 1:
            raise ValueError(f"q (the expansion) must be an integer >= 1, got {q}")
        self.q = int(q)
        self.seed = seed
        ss = as_seed_sequence(seed)
        ref_ss, layer_ss = ss.spawn(2)
        self.duration_s = as_positive(duration_s, "duration_s")
        self.dt = as_positive(dt, "dt")
        self.n_samples = _multiple(self.duration_s, self.dt, "duration_s", "dt")
        self.reference = as_reference(reference, self.duration_s, ref_ss)
        self.plant = default_plant() if plant is None else plant
        self.controller = default_controller() if controller is None else controller
        self.loop: SampledLoop = sampled_loop(self.plant, self.controller, self.dt)
        n_mossy = as_int(n_mossy, "n_mossy", 1)
        self.layer: GranuleLayer = granule_layer(n_mossy * self.q, layer_ss, n_mossy=n_mossy,
                                                 k=k, lookahead_s=lookahead_s,
                                                 bias_scale=bias_scale)
        self.times = np.arange(self.n_samples) * self.dt
        self.r = np.asarray(self.reference(self.times), dtype=float)
        self.mossy = self.layer.mossy(self.reference, self.times)
        if not (np.all(np.isfinite(self.r)) and np.all(np.isfinite(self.mossy))):
            raise ValueError("reference must be finite on [0, duration_s + lookahead_s]")
        self.h = self.layer.activity(self.mossy)  # (n_T, N)

    # ---- sizes -----------------------------------------------------------------------
    @property
    def n_weights(self) -> int:
        """Number of plastic readout weights N (= granule cells)."""
        return self.layer.n_units

    @property
    def n_states(self) -> int:
        """States of the closed loop (plant + controller)."""
        return self.loop.n_states

    def __repr__(self) -> str:
        return (f"CerebellarTask(q={self.q}, seed={self.seed!r}, duration_s={self.duration_s:g},"
                f" dt={self.dt:g}, reference={self.reference.kind!r}, N={self.n_weights})")

    # ---- the exact quadratic form ------------------------------------------------------
    @cached_property
    def error_without_network(self) -> np.ndarray:
        """:math:`e_0`: the tracking error with ``w = 0`` (feedback control alone)."""
        L = self.loop
        return lti_response(L.Phi, L.Gamma_r, L.H, self.r) - self.r

    @cached_property
    def filtered_activity(self) -> np.ndarray:
        """:math:`G`: each granule cell's activity passed through the closed loop (n_T, N)."""
        L = self.loop
        return lti_response(L.Phi, L.Gamma_z, L.H, self.h)

    @cached_property
    def loss_form(self) -> TaskLossForm:
        """The exact quadratic form (QR of G; see module docstring)."""
        G = self.filtered_activity
        e0 = self.error_without_network
        n = self.n_samples
        Q, RG = np.linalg.qr(G, mode="reduced")
        c_full = Q.T @ e0
        resid = e0 - Q @ c_full
        L_perp = float(resid @ resid) / n
        F = RG / np.sqrt(n)
        c = c_full / np.sqrt(n)
        # w*: least squares F w = -c (minimum norm where F is numerically singular)
        w_star = scipy.linalg.lstsq(F, -c, lapack_driver="gelsd")[0]
        r = c + F @ w_star
        L_min = L_perp + float(r @ r)
        return TaskLossForm(R=F.T @ F, w_star=w_star, L_min=L_min, F=F, c=c, L_perp=L_perp)

    @property
    def R(self) -> np.ndarray:
        """Hessian/2 of the task loss, :math:`R = G^\\top G/n_T`."""
        return self.loss_form.R

    @property
    def L_min(self) -> float:
        """The smallest task loss, :math:`L(w^*)`."""
        return self.loss_form.L_min

    def optimal_weights(self) -> np.ndarray:
        """:math:`w^*`, the weights of least task loss (minimum-norm least-squares solution)."""
        return self.loss_form.w_star.copy()

    def _as_weights(self, w) -> np.ndarray:
        a = np.asarray(w, dtype=float)
        if a.shape[-1:] != (self.n_weights,):
            raise ValueError(f"w must have last dimension n_weights = {self.n_weights}, got "
                             f"shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError("w contains NaN or inf")
        return a

    def task_loss(self, w) -> np.ndarray | float:
        r"""Exact task loss :math:`L(w) = L_\perp + |c + Fw|^2` (O(N^2) per weight vector).

        ``w`` is ``(N,)`` or a batch ``(..., N)``; returns a float or an array ``(...)``.
        """
        a = self._as_weights(w)
        form = self.loss_form
        W = a.reshape(-1, self.n_weights).T  # (N, batch)
        rho = _compiled_loss()(form.F, form.c[:, None], W)
        out = form.L_perp + np.einsum("ij,ij->j", rho, rho)
        return float(out[0]) if a.ndim == 1 else out.reshape(a.shape[:-1])

    def task_loss_gradient(self, w) -> np.ndarray:
        r""":math:`\nabla L(w) = 2R(w - w^*) = 2F^\top(c + Fw)`."""
        a = self._as_weights(w)
        form = self.loss_form
        W = a.reshape(-1, self.n_weights).T
        rho = _compiled_loss()(form.F, form.c[:, None], W)
        g = 2 * form.F.T @ rho
        return g[:, 0] if a.ndim == 1 else g.T.reshape(a.shape)

    def simulate_task_loss(self, w) -> float:
        """Task loss by direct re-simulation: step the sampled loop with ``w`` frozen from rest
        over the whole trajectory and average the squared error (no quadratic form)."""
        w = self._as_weights(w)
        if w.ndim != 1:
            raise ValueError(f"simulate_task_loss takes one weight vector (N,), got {w.shape}")
        L = self.loop
        z = self.h @ w
        X = np.zeros(L.n_states)
        Phi, Gr, Gz, H = L.Phi, L.Gamma_r, L.Gamma_z, L.H
        total = 0.0
        for n in range(self.n_samples):
            e = H @ X - self.r[n]
            total += e * e
            X = Phi @ X + Gr * self.r[n] + Gz * z[n]
        return float(total / self.n_samples)

    def trajectory(self, w) -> dict:
        """Output ``y``, reference ``r`` and network output ``z`` with ``w`` frozen (arrays)."""
        w = self._as_weights(w)
        e = self.error_without_network + self.filtered_activity @ w
        return {"t": self.times, "r": self.r, "y": e + self.r, "z": self.h @ w}
