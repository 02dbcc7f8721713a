r"""Compiled (numba) integration loops for populations of Hodgkin–Huxley cells.

The cell functions are generated from the SymPy right-hand side by
:func:`numerics.hh_codegen.numba_cell` and inlined here; this module holds only the loops:
a step (RK4 or exponential Euler), spike detection, the loss integral and recording.  The
NumPy path in :mod:`numerics.hh` runs the same algorithm on arrays; the tests hold the two
equal.

Layout: ``B`` independent networks (parameter sets x trials, flattened) of ``N`` cells;
state arrays have shape ``(B, N)``.  Two loops:

* :func:`block_independent` (no recurrent synapses): one cell at a time, time innermost, the
  state in registers (the fast path; about 9e-8 s per cell-step on one core);
* :func:`block_coupled`: one network at a time, time outer, cells inner, the synaptic
  current :math:`\sum_j W_{ij}s_j` recomputed at every RK4 stage (exact RK4 of the coupled
  system).

Noise arrays: ``(G, N, K)`` for the independent loop (time contiguous: it runs over time
innermost) and ``(G, K, N)`` for the coupled loop; the same numbers either way (the caller
transposes).  Per step ``k`` the external current of cell ``i`` in network ``b``
(parameter set ``p``, noise stream ``g``) is held constant over the step (all RK4 stages):

.. math:: I_{b,i,k} = I^{ext}_{p,i} + \sum_j W^{in}_{p,i,j} x_{k,j}
          + \sigma_{p,i}\, z_{k,g,i}/\sqrt{dt},\qquad z \sim N(0,1).

Spikes: upward crossing of ``thr`` between two steps, time by linear interpolation; the cell
is re-armed only after V falls below ``rearm`` (the refractory rule).  The loss integral
accumulates the trapezoid :math:`\tfrac{dt}{2}(s_k + s_{k+1})` over steps in
``[loss_k0, loss_k1)``.  A step that leaves :math:`|V| < 10^3` mV (or gives NaN) stops the
loop and reports network, cell and step in ``err``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np

from numerics.hh_codegen import numba_cell
from theory.hh import DEFAULT_CONSTANTS, HHConstants

__all__ = ["RK4", "EXPEULER", "kernels", "Loops", "V_DIVERGED"]

RK4 = 0
EXPEULER = 1
#: |V| (mV) beyond which a simulation is declared diverged
V_DIVERGED = 1000.0


@lru_cache(maxsize=8)
def kernels(constants: HHConstants = DEFAULT_CONSTANTS):
    """Compile the loops for ``constants`` (first call of a process: a few seconds).

    Returns a :class:`Loops`.
    """
    rhs, ab = numba_cell(constants)

    @numba.njit(inline="always")
    def rk4_step(V, m, h, n, s, I, dt):
        half = 0.5 * dt
        d1 = rhs(V, m, h, n, s, I)
        d2 = rhs(V + half * d1[0], m + half * d1[1], h + half * d1[2], n + half * d1[3],
                 s + half * d1[4], I)
        d3 = rhs(V + half * d2[0], m + half * d2[1], h + half * d2[2], n + half * d2[3],
                 s + half * d2[4], I)
        d4 = rhs(V + dt * d3[0], m + dt * d3[1], h + dt * d3[2], n + dt * d3[3],
                 s + dt * d3[4], I)
        c = dt / 6.0
        return (V + c * (d1[0] + 2.0 * d2[0] + 2.0 * d3[0] + d4[0]),
                m + c * (d1[1] + 2.0 * d2[1] + 2.0 * d3[1] + d4[1]),
                h + c * (d1[2] + 2.0 * d2[2] + 2.0 * d3[2] + d4[2]),
                n + c * (d1[3] + 2.0 * d2[3] + 2.0 * d3[3] + d4[3]),
                s + c * (d1[4] + 2.0 * d2[4] + 2.0 * d3[4] + d4[4]))

    @numba.njit(inline="always")
    def rk4_step_no_output(V, m, h, n, s, I, dt):
        # the neuron alone (s is not integrated; LLVM drops its unused derivative)
        half = 0.5 * dt
        d1 = rhs(V, m, h, n, s, I)
        d2 = rhs(V + half * d1[0], m + half * d1[1], h + half * d1[2], n + half * d1[3], s, I)
        d3 = rhs(V + half * d2[0], m + half * d2[1], h + half * d2[2], n + half * d2[3], s, I)
        d4 = rhs(V + dt * d3[0], m + dt * d3[1], h + dt * d3[2], n + dt * d3[3], s, I)
        c = dt / 6.0
        return (V + c * (d1[0] + 2.0 * d2[0] + 2.0 * d3[0] + d4[0]),
                m + c * (d1[1] + 2.0 * d2[1] + 2.0 * d3[1] + d4[1]),
                h + c * (d1[2] + 2.0 * d2[2] + 2.0 * d3[2] + d4[2]),
                n + c * (d1[3] + 2.0 * d2[3] + 2.0 * d3[3] + d4[3]),
                s)

    @numba.njit(inline="always")
    def relax(y, a, b, dt):
        y_inf = a / b
        return y_inf + (y - y_inf) * math.exp(-b * dt)

    @numba.njit(inline="always")
    def expeuler_step(V, m, h, n, s, I, dt):
        c = ab(V, m, h, n, s, I)
        return (relax(V, c[0], c[5], dt), relax(m, c[1], c[6], dt), relax(h, c[2], c[7], dt),
                relax(n, c[3], c[8], dt), relax(s, c[4], c[9], dt))

    @numba.njit(inline="always")
    def expeuler_step_no_output(V, m, h, n, s, I, dt):
        c = ab(V, m, h, n, s, I)
        return (relax(V, c[0], c[5], dt), relax(m, c[1], c[6], dt), relax(h, c[2], c[7], dt),
                relax(n, c[3], c[8], dt), s)


    @numba.njit(inline="always")
    def after_step(b, i, k, dt, v, vn, armed, counts, thr, rearm, ev_b, ev_i, ev_t, ev_n):
        """Spike detection and re-arming; returns the new armed flag."""
        if armed and v < thr <= vn:
            counts[b, i] += 1
            j = ev_n[0]
            if j < ev_b.size:
                ev_b[j] = b
                ev_i[j] = i
                ev_t[j] = (k + (thr - v) / (vn - v)) * dt
            else:
                ev_n[1] = 1  # overflow: the caller enlarges the buffer and reruns the block
            ev_n[0] = j + 1
            return False
        if (not armed) and vn < rearm:
            return True
        return armed

    def make_independent(step, NOISE, INPUTS, RECORD, OUTPUT):
        # NOISE, INPUTS, RECORD are compile-time constants (closure variables): the loop for
        # the common case (no noise, constant inputs, nothing recorded) has no dead branches
        @numba.njit(cache=False)
        def block_independent(dt, k0, K, V, M, H, Nn, S, armed, counts, p_index, g_index,
                              current, W_in, x, sigma, noise, thr, rearm, loss_k0, loss_k1,
                              loss_acc, ev_b, ev_i, ev_t, ev_n, rec_every, rec_V, rec_s, err):
            B, N = V.shape
            n_in = x.shape[1]
            inv_sqrt_dt = 1.0 / math.sqrt(dt)
            for b in range(B):
                p = p_index[b]
                g = g_index[b]
                for i in range(N):
                    v, m, h, n, s = V[b, i], M[b, i], H[b, i], Nn[b, i], S[b, i]
                    arm = armed[b, i]
                    acc = loss_acc[b, i]
                    base = current[p, i]
                    sig = sigma[p, i] * inv_sqrt_dt
                    for kk in range(K):
                        k = k0 + kk
                        I = base
                        if INPUTS:
                            for j in range(n_in):
                                I += W_in[p, i, j] * x[kk, j]
                        if NOISE:
                            I += sig * noise[g, i, kk]
                        vn, mn, hn, nn, sn = step(v, m, h, n, s, I, dt)
                        if OUTPUT and loss_k0 <= k < loss_k1:
                            acc += 0.5 * dt * (s + sn)
                        arm = after_step(b, i, k, dt, v, vn, arm, counts, thr, rearm, ev_b, ev_i,
                                         ev_t, ev_n)
                        if not (abs(vn) < V_DIVERGED):
                            err[0] = 1.0
                            err[1] = b
                            err[2] = i
                            err[3] = k
                            err[4] = vn
                            return
                        v, m, h, n, s = vn, mn, hn, nn, sn
                        if RECORD and (k + 1) % rec_every == 0:
                            r = (k + 1) // rec_every
                            rec_V[r, b, i] = v
                            rec_s[r, b, i] = s
                    V[b, i], M[b, i], H[b, i], Nn[b, i], S[b, i] = v, m, h, n, s
                    armed[b, i] = arm
                    loss_acc[b, i] = acc

        return block_independent

    @numba.njit(inline="always")
    def derivs(y, I_ext, W, p, out):
        N = y.shape[1]
        for i in range(N):
            syn = 0.0
            for j in range(N):
                syn += W[p, i, j] * y[4, j]
            d = rhs(y[0, i], y[1, i], y[2, i], y[3, i], y[4, i], I_ext[i] + syn)
            for c in range(5):
                out[c, i] = d[c]

    @numba.njit(cache=False)
    def block_coupled(method, dt, k0, K, V, M, H, Nn, S, armed, counts, p_index, g_index,
                      current, W, W_in, x, sigma, noise, thr, rearm, loss_k0, loss_k1,
                      loss_acc, ev_b, ev_i, ev_t, ev_n, rec_every, rec_V, rec_s, err):
        B, N = V.shape
        n_in = x.shape[1]
        has_noise = noise.shape[0] > 0
        inv_sqrt_dt = 1.0 / math.sqrt(dt)
        y = np.empty((5, N))
        yt = np.empty((5, N))
        d1 = np.empty((5, N))
        d2 = np.empty((5, N))
        d3 = np.empty((5, N))
        d4 = np.empty((5, N))
        I_ext = np.empty(N)
        for b in range(B):
            p = p_index[b]
            g = g_index[b]
            for i in range(N):
                y[0, i], y[1, i], y[2, i], y[3, i], y[4, i] = (V[b, i], M[b, i], H[b, i],
                                                               Nn[b, i], S[b, i])
            for kk in range(K):
                k = k0 + kk
                for i in range(N):
                    I = current[p, i]
                    for j in range(n_in):
                        I += W_in[p, i, j] * x[kk, j]
                    if has_noise:
                        I += sigma[p, i] * inv_sqrt_dt * noise[g, kk, i]
                    I_ext[i] = I
                if method == RK4:
                    derivs(y, I_ext, W, p, d1)
                    for c in range(5):
                        for i in range(N):
                            yt[c, i] = y[c, i] + 0.5 * dt * d1[c, i]
                    derivs(yt, I_ext, W, p, d2)
                    for c in range(5):
                        for i in range(N):
                            yt[c, i] = y[c, i] + 0.5 * dt * d2[c, i]
                    derivs(yt, I_ext, W, p, d3)
                    for c in range(5):
                        for i in range(N):
                            yt[c, i] = y[c, i] + dt * d3[c, i]
                    derivs(yt, I_ext, W, p, d4)
                    for c in range(5):
                        for i in range(N):
                            yt[c, i] = y[c, i] + dt / 6.0 * (d1[c, i] + 2.0 * d2[c, i]
                                                              + 2.0 * d3[c, i] + d4[c, i])
                else:
                    for i in range(N):
                        syn = 0.0
                        for j in range(N):
                            syn += W[p, i, j] * y[4, j]
                        yn = expeuler_step(y[0, i], y[1, i], y[2, i], y[3, i], y[4, i],
                                           I_ext[i] + syn, dt)
                        for c in range(5):
                            yt[c, i] = yn[c]
                for i in range(N):
                    if loss_k0 <= k < loss_k1:
                        loss_acc[b, i] += 0.5 * dt * (y[4, i] + yt[4, i])
                    armed[b, i] = after_step(b, i, k, dt, y[0, i], yt[0, i], armed[b, i], counts,
                                             thr, rearm, ev_b, ev_i, ev_t, ev_n)
                    if not (abs(yt[0, i]) < V_DIVERGED):
                        err[0] = 1.0
                        err[1] = b
                        err[2] = i
                        err[3] = k
                        err[4] = yt[0, i]
                        return
                for c in range(5):
                    for i in range(N):
                        y[c, i] = yt[c, i]
                if rec_every > 0 and (k + 1) % rec_every == 0:
                    r = (k + 1) // rec_every
                    for i in range(N):
                        rec_V[r, b, i] = y[0, i]
                        rec_s[r, b, i] = y[4, i]
            for i in range(N):
                V[b, i], M[b, i], H[b, i], Nn[b, i], S[b, i] = (y[0, i], y[1, i], y[2, i],
                                                               y[3, i], y[4, i])

    return Loops(make_independent, {(RK4, True): rk4_step, (EXPEULER, True): expeuler_step,
                                    (RK4, False): rk4_step_no_output,
                                    (EXPEULER, False): expeuler_step_no_output}, block_coupled)


class Loops:
    """The compiled loops of one set of constants.

    ``independent(method, noise, inputs, record, output)`` is specialised (and compiled on
    first use) for each combination of the flags (``output=False``: the synapse variable s is
    not integrated, the neuron alone); ``coupled`` takes ``method`` as its first argument."""

    def __init__(self, make_independent, steps, coupled):
        self._make = make_independent
        self._steps = steps
        self._cache: dict = {}
        self.coupled = coupled

    def independent(self, method: int, noise: bool, inputs: bool, record: bool,
                    output: bool = True):
        key = (method, bool(noise), bool(inputs), bool(record), bool(output))
        if key not in self._cache:
            self._cache[key] = self._make(self._steps[method, key[4]], *key[1:])
        return self._cache[key]
