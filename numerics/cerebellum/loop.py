r"""Plant, feedback controller and their sampled closed loop (seed 000).

**Plant** (any stable, strictly proper SISO linear system): :math:`\dot x_p = A x_p + B u`,
:math:`y = C x_p`.  Default (the authors' public code, ``default.jl``): four states,

.. math:: A = \begin{pmatrix}0&1&0&0\\-2&-2&1&0\\0&0&0&1\\0&0&-2&-2\end{pmatrix},\quad
          B = (0, 1, 0, 1)^\top,\quad y = x_1,

two damped oscillators (poles :math:`-1\pm i`), the second driving the first.

**Controller** (any SISO linear system on :math:`e_c = r - y`): :math:`\dot x_c = A_c x_c +
B_c e_c`, :math:`u_c = C_c x_c + D_c e_c`.  :func:`pid_controller` builds
:math:`u_c = k_p e_c + k_i\int e_c + k_d\,\frac{s}{1+\tau_d s} e_c`.  Default: the authors'
``PID_controller`` with gains (P, I, D, RC) = (0.1, 0.1, 0.1, 0.1), whose integral branch
integrates :math:`I e_c` and multiplies by :math:`I` again and whose derivative branch is
:math:`D\,s/(s + RC)`; in the form above that is :math:`k_p = 0.1`, :math:`k_i = 0.01`,
:math:`k_d = D/RC = 1`, :math:`\tau_d = 1/RC = 10` s.

**Closed loop.** The plant input is :math:`u = u_c + z` with :math:`z = w\cdot h` the
cerebellar output.  With :math:`X = (x_p, x_c)`,
:math:`\dot X = F X + g_r r + g_z z`, :math:`y = H X`.  Time is sampled every ``dt`` and
:math:`r` and :math:`z` are held constant over each sample (zero-order hold), so the
sampled loop is *exactly*

.. math:: X_{n+1} = \Phi X_n + \Gamma_r r_n + \Gamma_z z_n,\qquad
          \Phi = e^{F\,dt},\ \Gamma = \int_0^{dt} e^{Fs}ds\,g,

computed with one matrix exponential of the augmented matrix (Van Loan).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from numerics.checks import as_nonnegative, as_positive

__all__ = ["LinearPlant", "Controller", "pid_controller", "default_plant",
           "default_controller", "SampledLoop", "sampled_loop", "lti_response"]


def _matrix(value, name: str, shape=None) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


@dataclass(frozen=True)
class LinearPlant:
    """Continuous SISO plant ``dx/dt = A x + B u``, ``y = C x`` (strictly proper)."""

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray

    def __post_init__(self):
        A = np.atleast_2d(_matrix(self.A, "plant A"))
        n = A.shape[0]
        if A.shape != (n, n):
            raise ValueError(f"plant A must be square, got shape {A.shape}")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "B", _matrix(np.ravel(self.B), "plant B", (n,)))
        object.__setattr__(self, "C", _matrix(np.ravel(self.C), "plant C", (n,)))
        ev = np.linalg.eigvals(A)
        if np.max(ev.real) >= 0:
            raise ValueError(f"plant must be stable: its A has an eigenvalue with real part "
                             f"{np.max(ev.real):.4g} >= 0 (need all < 0)")

    @property
    def n_states(self) -> int:
        return int(self.A.shape[0])

    def to_dict(self) -> dict:
        return {"A": self.A.tolist(), "B": self.B.tolist(), "C": self.C.tolist()}


@dataclass(frozen=True)
class Controller:
    """Continuous SISO controller on ``e = r - y``: ``dx/dt = A x + B e``, ``u = C x + D e``."""

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: float
    name: str = "controller"

    def __post_init__(self):
        A = np.atleast_2d(_matrix(self.A, "controller A"))
        n = A.shape[0]
        if A.size == 0:
            A = np.zeros((0, 0))
            n = 0
        if A.shape != (n, n):
            raise ValueError(f"controller A must be square, got shape {A.shape}")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "B", _matrix(np.ravel(self.B), "controller B", (n,)))
        object.__setattr__(self, "C", _matrix(np.ravel(self.C), "controller C", (n,)))
        object.__setattr__(self, "D", float(_matrix(self.D, "controller D")))
        if n:
            ev = np.linalg.eigvals(A)
            if np.max(ev.real) > 1e-12:
                raise ValueError(f"controller must not be unstable on its own: its A has an "
                                 f"eigenvalue with real part {np.max(ev.real):.4g} > 0 (an "
                                 "integrator, real part 0, is allowed)")

    @property
    def n_states(self) -> int:
        return int(self.A.shape[0])

    def to_dict(self) -> dict:
        return {"A": self.A.tolist(), "B": self.B.tolist(), "C": self.C.tolist(), "D": self.D,
                "name": self.name}


def pid_controller(kp: float, ki: float, kd: float, tau_d: float) -> Controller:
    r"""PID :math:`u = k_p e + k_i\int e + k_d\,s/(1+\tau_d s)\,e` as a state-space controller.

    States: the integral :math:`\int e` and the derivative filter :math:`x_f`,
    :math:`\dot x_f = (e - x_f)/\tau_d`, whose output is :math:`k_d(e - x_f)/\tau_d`.
    ``ki = 0`` or ``kd = 0`` drop the corresponding state (PD, PI, P).
    """
    kp = as_nonnegative(kp, "kp")
    ki = as_nonnegative(ki, "ki")
    kd = as_nonnegative(kd, "kd")
    tau_d = as_positive(tau_d, "tau_d")
    A, B, C = [], [], []
    D = kp
    if ki > 0:
        A.append(0.0)
        B.append(1.0)
        C.append(ki)
    if kd > 0:
        A.append(-1.0 / tau_d)
        B.append(1.0 / tau_d)
        C.append(-kd / tau_d)
        D += kd / tau_d
    return Controller(np.diag(A) if A else np.zeros((0, 0)), np.array(B), np.array(C), D,
                      name=f"PID(kp={kp:g}, ki={ki:g}, kd={kd:g}, tau_d={tau_d:g})")


def default_plant() -> LinearPlant:
    """The seed's plant (authors' ``default.jl``), see the module docstring."""
    A = np.array([[0, 1, 0, 0], [-2, -2, 1, 0], [0, 0, 0, 1], [0, 0, -2, -2]], dtype=float)
    return LinearPlant(A, np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 0.0]))


def default_controller() -> Controller:
    """The authors' PID with gains (P, I, D, RC) = (0.1, 0.1, 0.1, 0.1), see module doc."""
    P, I, D, RC = 0.1, 0.1, 0.1, 0.1
    return pid_controller(kp=P, ki=I * I, kd=D / RC, tau_d=1.0 / RC)


@dataclass(frozen=True)
class SampledLoop:
    """The exact zero-order-hold sampling of the closed loop (module docstring)."""

    dt: float
    F: np.ndarray
    Phi: np.ndarray
    Gamma_r: np.ndarray
    Gamma_z: np.ndarray
    H: np.ndarray

    @property
    def n_states(self) -> int:
        return int(self.Phi.shape[0])


def sampled_loop(plant: LinearPlant, controller: Controller, dt: float) -> SampledLoop:
    """Close the loop ``u = u_c(r - y) + z`` and sample it exactly with hold time ``dt``.

    Raises ``ValueError`` naming plant and controller if the closed loop is not stable
    (an eigenvalue of F with real part >= 0).
    """
    if not isinstance(plant, LinearPlant):
        raise TypeError(f"plant must be a LinearPlant, got {type(plant).__name__}")
    if not isinstance(controller, Controller):
        raise TypeError(f"controller must be a Controller, got {type(controller).__name__}")
    dt = as_positive(dt, "dt")
    npl, nc = plant.n_states, controller.n_states
    n = npl + nc
    F = np.zeros((n, n))
    F[:npl, :npl] = plant.A - controller.D * np.outer(plant.B, plant.C)
    F[:npl, npl:] = np.outer(plant.B, controller.C)
    F[npl:, :npl] = -np.outer(controller.B, plant.C)
    F[npl:, npl:] = controller.A
    g_r = np.concatenate([controller.D * plant.B, controller.B])
    g_z = np.concatenate([plant.B, np.zeros(nc)])
    H = np.concatenate([plant.C, np.zeros(nc)])
    ev = np.linalg.eigvals(F)
    if np.max(ev.real) >= 0:
        raise ValueError(
            f"the closed loop of plant and controller ({controller.name}) is unstable: an "
            f"eigenvalue of its matrix has real part {np.max(ev.real):.4g} >= 0; choose a "
            "stable plant and controller gains that stabilise it")
    aug = np.zeros((n + 2, n + 2))
    aug[:n, :n] = F
    aug[:n, n] = g_r
    aug[:n, n + 1] = g_z
    E = scipy.linalg.expm(aug * dt)
    return SampledLoop(dt=dt, F=F, Phi=E[:n, :n], Gamma_r=E[:n, n], Gamma_z=E[:n, n + 1], H=H)


def lti_response(Phi: np.ndarray, Gamma: np.ndarray, H: np.ndarray, u: np.ndarray,
                 *, block: int = 64) -> np.ndarray:
    r"""Outputs :math:`y_n = H X_n` of :math:`X_{n+1} = \Phi X_n + \Gamma u_n`, :math:`X_0 = 0`,
    for every column of ``u`` (shape ``(n_steps,)`` or ``(n_steps, m)``) at once.

    Processed in blocks of ``block`` samples: within a block the output is the convolution
    of the inputs with the impulse response :math:`H\Phi^{i}\Gamma` (a Toeplitz matrix
    product) plus the free response :math:`H\Phi^i X` of the state carried in; cost
    O(n_steps * block * m), all in BLAS.
    """
    u = np.asarray(u, dtype=float)
    squeeze = u.ndim == 1
    U = u[:, None] if squeeze else u
    n_steps, m = U.shape
    nx = Phi.shape[0]
    L = int(min(block, max(n_steps, 1)))
    # powers Phi^i, i = 0..L
    pw = np.empty((L + 1, nx, nx))
    pw[0] = np.eye(nx)
    for i in range(1, L + 1):
        pw[i] = Phi @ pw[i - 1]
    imp = np.einsum("j,ijk,k->i", H, pw[:L], Gamma)  # H Phi^i Gamma
    free = np.einsum("j,ijk->ik", H, pw[:L])  # H Phi^i  (L, nx)
    # Toeplitz: y[i] gets imp[i-1-l] u[l] for l < i
    T = np.zeros((L, L))
    for i in range(1, L):
        T[i, :i] = imp[i - 1::-1]
    # state after a full block: X' = Phi^L X + sum_l Phi^{L-1-l} Gamma u_l
    S = np.einsum("ijk,k->ij", pw[L - 1::-1][:L], Gamma)  # (L, nx): Phi^{L-1-l} Gamma
    out = np.empty((n_steps, m))
    X = np.zeros((nx, m))
    for start in range(0, n_steps, L):
        stop = min(start + L, n_steps)
        b = stop - start
        Ub = U[start:stop]
        out[start:stop] = free[:b] @ X + T[:b, :b] @ Ub
        if b == L:
            X = pw[L] @ X + S.T @ Ub
    return out[:, 0] if squeeze else out
