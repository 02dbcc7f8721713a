r"""First-order finite-learning-rate theory of the SL / RL perceptron (seed 002), evaluated.

The general equations (:mod:`theory.finite_lr`) for the perceptron on classes
:math:`N(\pm\mu, \Sigma)`, :math:`\Sigma = USU^\top + \sigma_\perp^2(I - UU^\top)`, reduced by
symmetry to a frame :math:`U` of :math:`K` columns plus :math:`N - K` equivalent orthogonal
directions (:mod:`theory.perceptron_finite_lr`): the state is

* the flow :math:`\bar w` and the mean shift :math:`\delta` in frame coordinates (K each),
* :math:`\Gamma`, the :math:`K\times K` frame block of the :math:`O(\eta)` covariance, and
  :math:`\gamma_\perp`, its value on each orthogonal direction,

so that :math:`E[w_n] = U(\bar w + \eta\delta) + O(\eta^2)` at :math:`t = \eta n`.  One
evaluation of the right-hand side costs O(K^2) plus a quadrature, independent of N.

Assembly (no formula is retyped): the drift, :math:`\tfrac12\sum\Gamma_{kl}\partial_k\partial_l
F` and :math:`J\Gamma + \Gamma J^\top` come from :mod:`numerics.perceptron` (lambdified class
functions :math:`g_{1,2}^y(a, c)` and their derivatives); :math:`Jv` from the same derivatives
(:math:`J v = -\lambda v + \tfrac12\sum_y[\mu_y\nabla g_1\cdot v + k g_2\Sigma v + k p\nabla g_2
\cdot v]`, :math:`\nabla g\cdot v = k g_a\mu_y\cdot v + 2k^2g_c\,p\cdot v`); the update
covariance from the lambdified noise factors :math:`N_y, N_y', N_y''`
(:func:`theory.perceptron_finite_lr.noise_factor_derivatives`) averaged over
:math:`s\sim N(\mu_y\cdot w, w^\top\Sigma w)` by the trapezoid rule on the nodes that
:func:`numerics.perceptron.mean_drift_sigmoid` uses (1001 nodes on [-10, 10]).

Only the erf sigmoid (the theory's closed forms) is supported.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from numerics.checks import as_nonnegative, as_positive, as_vector
from numerics.compile import compile_expressions
from numerics.integrate import DivergenceError, integrate
from numerics.perceptron import _K, _U, _WU, _drift, _g, _model, _moment_rhs, alignment
from numerics.threads import single_thread_blas
from theory.perceptron import check_rule
from theory.perceptron_finite_lr import BASELINES, noise_factor_derivatives

__all__ = ["FrameProblem", "FirstOrderPerceptron", "first_order_perceptron",
           "update_covariance", "first_order_rhs", "alignment_correction",
           "first_order_protocol"]


@dataclass(frozen=True)
class FrameProblem:
    """Frame coordinates of the symmetric task: class means ``mu_pos``/``mu_neg`` (K,), noise
    ``S`` (K, K) in the frame, ``sigma_perp`` (standard deviation) on the ``n_perp = N - K``
    orthogonal directions, weight decay ``lam``, RL ``baseline``."""

    rule: str
    mu_pos: np.ndarray
    mu_neg: np.ndarray
    S: np.ndarray
    sigma_perp: float
    n_perp: int
    lam: float = 0.0
    baseline: str = "expected"

    @property
    def K(self) -> int:
        return self.mu_pos.size

    @classmethod
    def from_reduced(cls, red) -> FrameProblem:
        """The problem simulated by a :class:`numerics.sim.perceptron.ReducedPerceptronRule`
        (erf sigmoid only)."""
        if red.sigmoid != "erf":
            raise ValueError(f"the finite-learning-rate theory uses the erf sigmoid's closed "
                             f"forms; the simulator uses {red.sigmoid!r}")
        return cls(red.rule, red._m_pos.copy(), red._m_neg.copy(), red.S.copy(),
                   float(red.sigma_perp), int(red.n - red.K), float(red.lam), red.baseline)

    def with_means(self, mu_pos, mu_neg=None) -> FrameProblem:
        mu_pos = as_vector(mu_pos, "mu_pos", self.K)
        mu_neg = -mu_pos if mu_neg is None else as_vector(mu_neg, "mu_neg", self.K)
        return FrameProblem(self.rule, mu_pos, mu_neg, self.S, self.sigma_perp, self.n_perp,
                            self.lam, self.baseline)

    def check(self) -> FrameProblem:
        check_rule(self.rule)
        if self.baseline not in BASELINES:
            raise ValueError(f"baseline must be one of {BASELINES}, got {self.baseline!r}")
        as_nonnegative(self.sigma_perp, "sigma_perp")
        as_nonnegative(self.lam, "lam")
        if int(self.n_perp) != self.n_perp or self.n_perp < 0:
            raise ValueError(f"n_perp must be an integer >= 0, got {self.n_perp!r}")
        return self


@lru_cache(maxsize=8)
def _noise_fns(rule: str, baseline: str):
    s, exprs = noise_factor_derivatives(rule, "erf", baseline)
    return compile_expressions(exprs, [s])


def _frame_model(prob: FrameProblem):
    return _model(prob.rule, prob.mu_pos, prob.S, prob.mu_neg, None, prob.lam)


def _noise_moments(prob: FrameProblem, m: np.ndarray):
    """Per class ``(E[N], E[N'], E[N''])`` over s ~ N(mu_y.m, m^T S m) (trapezoid in u)."""
    f = _noise_fns(prob.rule, prob.baseline)
    sd = float(np.sqrt(max(m @ prob.S @ m, 0.0)))
    out = []
    for k, mu in enumerate((prob.mu_pos, prob.mu_neg)):
        s = float(mu @ m) + sd * _U
        vals = f.func(s)
        e = [float(_WU @ np.broadcast_to(np.asarray(vals[3 * k + j], dtype=float), s.shape))
             for j in range(3)]
        out.append(e)
    return out


def update_covariance(prob: FrameProblem, m) -> tuple[np.ndarray, float]:
    r"""``(Sigma_frame, var_perp)``: the covariance of one update direction at weights ``m``
    (frame coordinates) in the frame (K, K), and its variance along each orthogonal direction
    (:mod:`theory.perceptron_finite_lr`)."""
    prob.check()
    m = as_vector(m, "m", prob.K)
    model = _frame_model(prob)
    p = prob.S @ m
    Ftil = _drift(model, m) + prob.lam * m
    moms = _noise_moments(prob, m)
    Sig = np.zeros((prob.K, prob.K))
    e0_sum = 0.0
    for (e0, e1, e2), mu in zip(moms, (prob.mu_pos, prob.mu_neg)):
        Sig += 0.5 * (e0 * (prob.S + np.outer(mu, mu)) + e1 * (np.outer(mu, p) + np.outer(p, mu))
                      + e2 * np.outer(p, p))
        e0_sum += e0
    Sig -= np.outer(Ftil, Ftil)
    return 0.5 * (Sig + Sig.T), 0.5 * e0_sum * prob.sigma_perp**2


def _scalars(prob: FrameProblem, m):
    """Per class: (mu_y, p, [g1, g1a, g1c, g1aa, g1ac, g1cc, g2, ...])."""
    p = prob.S @ m
    out = []
    for y, mu in ((1, prob.mu_pos), (-1, prob.mu_neg)):
        f, _ = _g(prob.rule, y, 2)
        a = _K * float(mu @ m)
        c = _K**2 * float(m @ p)
        out.append((mu, p, f(a, c)))
    return out


def _jvp(prob: FrameProblem, sc, v: np.ndarray) -> np.ndarray:
    """J v (module docstring)."""
    out = -prob.lam * v
    Sv = prob.S @ v
    for mu, p, g in sc:
        g1a, g1c, g2, g2a, g2c = g[1], g[2], g[6], g[7], g[8]
        mv, pv = float(mu @ v), float(p @ v)
        dg1 = _K * g1a * mv + 2 * _K**2 * g1c * pv
        dg2 = _K * g2a * mv + 2 * _K**2 * g2c * pv
        out = out + 0.5 * (mu * dg1 + _K * g2 * Sv + _K * p * dg2)
    return out


def first_order_rhs(prob: FrameProblem, state: np.ndarray) -> np.ndarray:
    """d/dt of the state ``[flow (K), delta (K), Gamma (K*K, row-major), gamma_perp]``."""
    K = prob.K
    m, d = state[:K], state[K:2 * K]
    G = state[2 * K:2 * K + K * K].reshape(K, K)
    gp = state[-1]
    model = _frame_model(prob)
    F = _drift(model, m)
    dm, dG = _moment_rhs(model, m, G, 0.5)
    hess = dm - F  # 1/2 sum Gamma_kl d_k d_l F (frame block)
    sc = _scalars(prob, m)
    orth = np.zeros(K)
    j_perp = -prob.lam
    for mu, p, g in sc:
        orth += mu * g[2] + _K * p * g[8]
        j_perp += 0.5 * _K * g[6] * prob.sigma_perp**2
    orth *= 0.5 * prob.n_perp * gp * _K**2 * prob.sigma_perp**2
    dd = _jvp(prob, sc, d) - 0.5 * _jvp(prob, sc, F) + hess + orth
    Sig, var_perp = update_covariance(prob, m)
    out = np.empty_like(state)
    out[:K] = F
    out[K:2 * K] = dd
    out[2 * K:2 * K + K * K] = (dG + Sig).ravel()
    out[-1] = 2 * j_perp * gp + var_perp
    return out


@dataclass(frozen=True)
class FirstOrderPerceptron:
    r"""Flow, mean shift and covariance coefficients at times ``t``: ``flow``, ``delta`` (T, K),
    ``Gamma`` (T, K, K), ``gamma_perp`` (T,); frame coordinates."""

    t: np.ndarray
    flow: np.ndarray
    delta: np.ndarray
    Gamma: np.ndarray
    gamma_perp: np.ndarray
    n_perp: int

    def mean(self, eta: float) -> np.ndarray:
        """Frame coordinates of E[w] to first order at learning rate ``eta``."""
        return self.flow + as_positive(eta, "eta") * self.delta

    def norm2(self, eta: float) -> np.ndarray:
        r""":math:`E|w|^2 = |\bar w|^2 + \eta(2\bar w\cdot\delta + \operatorname{tr}\Gamma +
        (N-K)\gamma_\perp)` to first order."""
        eta = as_positive(eta, "eta")
        tr = np.trace(self.Gamma, axis1=1, axis2=2) + self.n_perp * self.gamma_perp
        return np.sum(self.flow**2, axis=1) + eta * (2 * np.sum(self.flow * self.delta, 1) + tr)

    def state(self, i: int = -1) -> np.ndarray:
        """The integration state at record ``i`` (to continue a protocol)."""
        return np.concatenate([self.flow[i], self.delta[i], self.Gamma[i].ravel(),
                               [self.gamma_perp[i]]])

    def to_dict(self) -> dict:
        return {"t": self.t.tolist(), "flow": self.flow.tolist(), "delta": self.delta.tolist(),
                "Gamma": self.Gamma.tolist(), "gamma_perp": self.gamma_perp.tolist(),
                "n_perp": self.n_perp}


def _unpack(prob: FrameProblem, t: np.ndarray, Y: np.ndarray) -> FirstOrderPerceptron:
    K = prob.K
    return FirstOrderPerceptron(
        t=t, flow=Y[:K].T.copy(), delta=Y[K:2 * K].T.copy(),
        Gamma=Y[2 * K:2 * K + K * K].T.reshape(-1, K, K).copy(), gamma_perp=Y[-1].copy(),
        n_perp=prob.n_perp)


def first_order_perceptron(prob: FrameProblem, w0, t_eval, *, state0=None, rtol: float = 1e-9,
                           atol: float = 1e-12, method: str = "DOP853") -> FirstOrderPerceptron:
    r"""Integrate the first-order system from the deterministic start ``w0`` (frame
    coordinates; :math:`\delta = 0`, :math:`\Gamma = 0`), or from ``state0`` (a
    :meth:`FirstOrderPerceptron.state`, to continue after a change of task), and return it at
    ``t_eval`` (increasing, >= 0, relative to the start)."""
    prob.check()
    K = prob.K
    t = np.asarray(t_eval, dtype=float).ravel()
    if t.size == 0 or not np.all(np.isfinite(t)) or t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError("t_eval must be a non-empty, strictly increasing array of times >= 0")
    if state0 is None:
        w0 = as_vector(w0, "w0", K)
        y0 = np.concatenate([w0, np.zeros(K + K * K + 1)])
    else:
        y0 = as_vector(state0, "state0", 2 * K + K * K + 1)
    if t[-1] == 0:
        return _unpack(prob, t, np.repeat(y0[:, None], t.size, axis=1))
    names = ([f"w{i}" for i in range(K)] + [f"delta{i}" for i in range(K)]
             + [f"Gamma{i}_{j}" for i in range(K) for j in range(K)] + ["gamma_perp"])
    with single_thread_blas():
        try:
            traj = integrate(lambda tt, y: first_order_rhs(prob, y), (0.0, float(t[-1])), y0,
                             t_eval=t, method=method, rtol=rtol, atol=atol, state_names=names)
        except DivergenceError as err:
            raise DivergenceError(f"first-order perceptron theory: {err}", err.t,
                                  err.component) from None
    return _unpack(prob, t, traj.y)


def alignment_correction(direction, flow, delta) -> tuple[np.ndarray, np.ndarray]:
    r"""``(A, dA)``: the alignment :math:`A = \hat d\cdot\bar w/|\bar w|` of the flow with
    ``direction`` and its :math:`O(\eta)` coefficient :math:`\nabla A\cdot\delta =
    (\hat d - A\,\bar w/|\bar w|)\cdot\delta/|\bar w|` (the alignment of the *mean* weight
    depends on the mean only), row-wise for (T, K) arrays."""
    d = np.asarray(direction, dtype=float)
    dhat = d / np.linalg.norm(d)
    flow = np.atleast_2d(flow)
    delta = np.atleast_2d(delta)
    r = np.linalg.norm(flow, axis=1)
    A = alignment(d, flow)
    grad = (dhat[None, :] - A[:, None] * flow / r[:, None]) / r[:, None]
    return A, np.sum(grad * delta, axis=1)


def first_order_protocol(probs, durations, w0, points_per_task: int = 2, **kw):
    """Run the first-order system through a sequence of tasks (``probs[k]`` for
    ``durations[k]``), carrying the state across task changes.  Returns a list with one
    :class:`FirstOrderPerceptron` per task (times relative to the task's start,
    ``points_per_task`` equally spaced records including both ends)."""
    if len(probs) != len(durations):
        raise ValueError(f"probs ({len(probs)}) and durations ({len(durations)}) must have the "
                         "same length")
    out, state = [], None
    for prob, T in zip(probs, durations):
        T = as_positive(T, "duration")
        fo = first_order_perceptron(prob, w0, np.linspace(0.0, T, points_per_task),
                                    state0=state, **kw)
        out.append(fo)
        state = fo.state(-1)
    return out
