r"""Exact pathwise gradients of Hodgkin–Huxley network losses: the tangent-linear equations.

For a network of :mod:`theory.hh` cells (state :math:`y_i = (V, m, h, n, s)_i`, input current
:math:`I_i = c_i + \sum_j W_{ij}s_j + \sigma\xi_i`), the sensitivity
:math:`T = \partial y/\partial\theta` of the trajectory to a parameter :math:`\theta` (a
synaptic weight :math:`W_{ab}` or a constant current :math:`c_a`) obeys the variational
equations

.. math:: \dot T_i = J(y_i, I_i)\,T_i + f_I(y_i, I_i)\Big(\sum_j W_{ij}T_{j,s}
          + \frac{\partial I_i}{\partial\theta}\Big),

with :math:`J` the cell Jacobian (:func:`theory.hh.jacobian`, with the synapse) and
:math:`f_I = \partial f/\partial I` (:func:`theory.hh.current_derivative`), both derived by
SymPy and lambdified here.  :func:`tangent_simulate` integrates the network with the same
RK4 scheme, noise stream and loss quadrature as :func:`numerics.hh.simulate` and, alongside,
the derivative of every RK4 stage, so its result is the *exact* derivative of the simulated
loss :math:`\frac1\tau\int s\,dt` (what automatic differentiation through the solver would
give; seed 003's "autodiff"), for a fixed noise realisation.

**Cost.**  Forward mode: one 5-vector per (neuron, parameter) pair that the parameter can
reach through the synapses (the entries are pruned by reachability in the weight graph:
in a feed-forward network a weight onto an output neuron moves that neuron only).

**What it shows** (seed 003, "Real Application", cases 1 and 2): over a short window the
tangent stays moderate and the pathwise gradient is usable; over long windows spikes that
a small change shifts or creates make :math:`T` grow (the ``max_tangent`` diagnostic) and
the pathwise gradient of one noisy trial becomes heavy-tailed: it no longer says where the
(smoothed) loss goes down.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from numerics.checks import as_int, as_seed_sequence
from numerics.hh import _block_noise, _check_dt, _loss_window_steps, _steps
from numerics.hh_codegen import numba_cell_source, share_exponentials
from numerics.hh_kernel import load_kernel_module, split_template
from numerics.hh_stability import rest_state
from numerics.integrate import DivergenceError
from theory import hh as th

__all__ = ["TangentResult", "tangent_simulate", "tangent_source", "jacobian_source"]

_BEGIN = "# ---- generated part: replaced by numerics.hh_tangent"


def _numeric(e: sp.Expr) -> sp.Expr:
    return e.xreplace({r: sp.Float(r, 17) for r in e.atoms(sp.Rational) if not r.is_Integer})


@lru_cache(maxsize=8)
def jacobian_source(constants: th.HHConstants = th.DEFAULT_CONSTANTS) -> str:
    """Source of ``jac(V, m, h, n, s, I)`` -> the 25 entries of the cell Jacobian (row-major)
    then the 5 entries of :math:`\\partial f/\\partial I`, lambdified (``math``, cse) from
    :func:`theory.hh.jacobian` and :func:`theory.hh.current_derivative` with the constants
    substituted and the exponentials shared (:func:`numerics.hh_codegen.share_exponentials`)."""
    subs = constants.subs()
    J = th.jacobian(with_synapse=True).subs(subs)
    fI = th.current_derivative().subs(subs)
    exprs = [J[r, c] for r in range(5) for c in range(5)] + [fI[r] for r in range(5)]
    new, bases = share_exponentials(exprs, th.V, prefix="p")
    # every entry a float (numba needs a homogeneous tuple: no integer 0 or 1)
    new = [sp.Float(e, 17) if e.is_Number else _numeric(e) for e in new]
    qs = [q for q, _ in bases]
    f = sp.lambdify((*th.CELL_STATE, th.I, *qs), tuple(new), modules="math", cse=True)
    body = inspect.getsource(f).replace("def _lambdifygenerated(", "def _jac_q(", 1)
    fb = sp.lambdify([th.V], tuple(e for _, e in bases), modules="math")
    bsrc = inspect.getsource(fb).replace("def _lambdifygenerated(", "def _jac_bases(", 1)
    names = ", ".join(str(q) for q in qs)
    return ('@numba.njit(inline="always", cache=True)\n' + body + "\n\n"
            '@numba.njit(inline="always", cache=True)\n' + bsrc + "\n\n"
            '@numba.njit(inline="always", cache=True)\n'
            "def jac(V, m, h, n, s, I):\n"
            f"    {names}{',' if len(qs) == 1 else ''} = _jac_bases(V)\n"
            f"    return _jac_q(V, m, h, n, s, I, {names})\n")


def tangent_source(constants: th.HHConstants = th.DEFAULT_CONSTANTS) -> str:
    """The text of the tangent kernel module (generated cell functions + the loop template
    :mod:`numerics.hh_tangent_loops`)."""
    head, loops = split_template("hh_tangent_loops.py", _BEGIN)
    return (head + "# ---- generated cell functions ----\n" + numba_cell_source(constants)
            + "\n\n" + jacobian_source(constants) + "\n" + loops)


@lru_cache(maxsize=8)
def _module(constants: th.HHConstants):
    return load_kernel_module(tangent_source(constants), "hh_tangent")


@dataclass(frozen=True)
class TangentResult:
    """Outputs and their exact derivatives for ``B`` networks of ``N`` neurons.

    ``output_integral`` (B, N): :math:`\\int a\\,dt` over ``loss_window``;
    ``d_output_integral`` (B, N, n_dirs): its derivative w.r.t. each direction;
    ``spike_counts`` (B, N); ``max_tangent`` (B,): the largest :math:`|\\partial y/\\partial
    \\theta|` entry met during the run; ``final_state`` (5, B, N)."""

    directions: tuple
    output_integral: np.ndarray
    d_output_integral: np.ndarray
    spike_counts: np.ndarray
    max_tangent: np.ndarray
    loss_window: tuple[float, float]
    final_state: np.ndarray

    @property
    def tau_ms(self) -> float:
        return self.loss_window[1] - self.loss_window[0]

    def to_dict(self) -> dict:
        return {"directions": [list(d) for d in self.directions],
                "output_integral": self.output_integral.tolist(),
                "d_output_integral": self.d_output_integral.tolist(),
                "spike_counts": self.spike_counts.tolist(),
                "max_tangent": self.max_tangent.tolist(), "loss_window": list(self.loss_window)}


def _directions(directions, N: int):
    kind, a, b = [], [], []
    for d in directions:
        if not isinstance(d, (tuple, list)) or not d:
            raise ValueError(f"a direction is ('weight', i, j) or ('current', i), got {d!r}")
        if d[0] == "weight" and len(d) == 3:
            i, j = int(d[1]), int(d[2])
            if not (0 <= i < N and 0 <= j < N):
                raise ValueError(f"direction {d!r}: neuron indices must be in [0, {N})")
            kind.append(0)
            a.append(i)
            b.append(j)
        elif d[0] == "current" and len(d) == 2:
            i = int(d[1])
            if not 0 <= i < N:
                raise ValueError(f"direction {d!r}: neuron index must be in [0, {N})")
            kind.append(1)
            a.append(i)
            b.append(-1)
        else:
            raise ValueError(f"a direction is ('weight', i, j) or ('current', i), got {d!r}")
    return np.array(kind, np.int64), np.array(a, np.int64), np.array(b, np.int64)


def _entries(dir_a: np.ndarray, W: np.ndarray):
    """(neuron, direction) pairs reachable from each direction's target through W."""
    N = W.shape[0]
    reach = []
    for p, a in enumerate(dir_a):
        seen = {int(a)}
        stack = [int(a)]
        while stack:
            j = stack.pop()
            for i in np.flatnonzero(W[:, j]):
                if int(i) not in seen:
                    seen.add(int(i))
                    stack.append(int(i))
        reach.extend((i, p) for i in sorted(seen))
    ent_neuron = np.array([r[0] for r in reach], np.int64)
    ent_dir = np.array([r[1] for r in reach], np.int64)
    index = {r: e for e, r in enumerate(reach)}
    ptr, src, wv = [0], [], []
    for i, p in reach:
        for j in np.flatnonzero(W[i]):
            e = index.get((int(j), p))
            if e is not None:
                src.append(e)
                wv.append(W[i, j])
        ptr.append(len(src))
    need = np.zeros(N, dtype=np.bool_)
    need[ent_neuron] = True
    return (ent_neuron, ent_dir, np.array(ptr, np.int64), np.array(src, np.int64),
            np.array(wv, float), need)


def tangent_simulate(current, weights, directions, *, duration_ms: float, dt_ms: float = 0.05,
                     noise=0.0, seed=0, common_noise: bool = True,
                     loss_window: tuple[float, float] | None = None,
                     threshold_mV: float = 0.0, rearm_mV: float = -20.0,
                     constants: th.HHConstants = th.DEFAULT_CONSTANTS,
                     block_steps: int = 2000) -> TangentResult:
    """Simulate ``B`` networks (``current`` (B, N), shared ``weights`` (N, N), ``W[i, j]``:
    j -> i) from rest with RK4, and the exact derivatives of their output integrals w.r.t.
    ``directions`` (``("weight", i, j)`` or ``("current", i)``).

    Same scheme, noise (``noise``: sigma, scalar or (N,); stream ``SeedSequence(seed)``, one
    per network or shared with ``common_noise``, as :func:`numerics.hh.simulate` with
    ``trials=1``) and trapezoid quadrature over ``loss_window`` as :func:`numerics.hh.simulate`.
    """
    cur = np.asarray(current, dtype=float)
    if cur.ndim == 1:
        cur = cur[None]
    if cur.ndim != 2:
        raise ValueError(f"current must have shape (N,) or (B, N), got {np.shape(current)}")
    B, N = cur.shape
    if not np.all(np.isfinite(cur)):
        raise ValueError("current contains NaN or inf")
    W = np.asarray(weights, dtype=float)
    if W.shape != (N, N):
        raise ValueError(f"weights must have shape ({N}, {N}) (shared by the networks), got "
                         f"{W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("weights contains NaN or inf")
    dt = _check_dt(dt_ms, "rk4", constants)
    steps = _steps(duration_ms, dt)
    kind, da, db = _directions(list(directions), N)
    if kind.size == 0:
        raise ValueError("directions must name at least one parameter")
    ent_neuron, ent_dir, cpl_ptr, cpl_src, cpl_w, need = _entries(da, W)
    sig = np.asarray(noise, dtype=float)
    sig = np.full(N, float(sig)) if sig.ndim == 0 else sig
    if sig.shape != (N,) or np.any(~np.isfinite(sig)) or np.any(sig < 0):
        raise ValueError(f"noise must be a finite scalar or (N,) array >= 0, got {noise!r}")
    loss_k0, loss_k1 = _loss_window_steps(loss_window, steps, dt)
    has_noise = bool(np.any(sig > 0))
    G = (1 if common_noise else B) if has_noise else 0
    g_index = (np.zeros(B) if common_noise else np.arange(B)).astype(np.int64)
    gens = [np.random.Generator(np.random.PCG64(c)) for c in as_seed_sequence(seed).spawn(G)]
    # forward CSR of the weights
    w_ptr = np.zeros(N + 1, np.int64)
    w_idx, w_val = [], []
    for i in range(N):
        js = np.flatnonzero(W[i])
        w_idx.extend(js.tolist())
        w_val.extend(W[i, js].tolist())
        w_ptr[i + 1] = len(w_idx)
    w_idx = np.array(w_idx, np.int64)
    w_val = np.array(w_val, float)

    y0 = rest_state(constants)
    Y = np.ascontiguousarray(np.broadcast_to(y0[:, None, None], (5, B, N)))
    E = ent_neuron.size
    T = np.zeros((B, E, 5))
    armed = np.ones((B, N), dtype=np.bool_)
    counts = np.zeros((B, N), np.int64)
    acc_s = np.zeros((B, N))
    acc_T = np.zeros((B, E))
    max_T = np.zeros(B)
    err = np.zeros(5)
    mod = _module(constants)
    K = as_int(block_steps, "block_steps", 1)
    k0 = 0
    while k0 < steps:
        Kb = min(K, steps - k0)
        z = _block_noise(gens, Kb, N) if has_noise else np.zeros((0, 1, N))
        mod.tangent_block(dt, k0, Kb, Y, T, cur, sig, z, g_index, w_ptr, w_idx, w_val, need,
                          ent_neuron, ent_dir, kind, da, db, cpl_ptr, cpl_src, cpl_w,
                          float(threshold_mV), float(rearm_mV), armed, counts, loss_k0, loss_k1,
                          acc_s, acc_T, max_T, err)
        if err[0] != 0:
            b, i, k, v = int(err[1]), int(err[2]), int(err[3]), float(err[4])
            raise DivergenceError(
                f"HH tangent simulation diverged at t = {(k + 1) * dt:.4g} ms in neuron {i} of "
                f"network {b}: V = {v:.4g} mV; dt_ms={dt} is too large for the currents "
                "applied", t=(k + 1) * dt, component=i)
        k0 += Kb
    dI = np.zeros((B, N, kind.size))
    dI[:, ent_neuron, ent_dir] = acc_T
    return TangentResult(tuple(tuple(d) for d in directions), acc_s, dI, counts, max_T,
                         (loss_k0 * dt, loss_k1 * dt), Y)
