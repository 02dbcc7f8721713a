r"""Tangent-linear (forward-mode) integration loop of HH networks: a **template**, never
imported directly.

:mod:`numerics.hh_tangent` writes a module made of the cell functions generated from SymPy
(``rhs`` of :func:`numerics.hh_codegen.numba_cell_source` and ``jac``, the Jacobian and the
current column of :func:`theory.hh.jacobian` / :func:`theory.hh.current_derivative`) and
this file's code below the marker line, stores it in the kernel cache under the hash of its
text and imports it; numba compiles :func:`tangent_block` on first use and caches it on disk.

The loop advances ``B`` networks (shared weights ``W``, own currents; in groups of ``LANES``
with the networks on the last axis of every work array, so the stages compile to SIMD code
over networks: 1.4x faster than one network at a time and bit-identical to it) by RK4 exactly as
:func:`numerics.hh.simulate` does (the input current held over the step, the synaptic
current recomputed at every stage) and, alongside, the **derivative of the RK4 map**: for a
sparse set of entries ``e = (neuron i, direction p)`` the tangent
:math:`T_e = \partial y_i/\partial\theta_p` (5 numbers) obeys, at every stage,

.. math:: \delta k_e = J_i\,T_e + f_{I,i}\Big(\sum_j W_{ij}T_{(j,p),s}
          + \frac{\partial I_i}{\partial\theta_p}\Big),

with :math:`\partial I_i/\partial W_{ab} = [i = a]\,s_b` and :math:`\partial I_i/\partial
c_a = [i = a]` (a constant current), and the same RK4 combination as the state.  The result
is the exact derivative of the simulated (discrete-time) loss, not an approximation of it.
"""

import math

import numba
import numpy as np

V_DIVERGED = 1000.0

# ---- generated part: replaced by numerics.hh_tangent (cell functions) ----
from numerics._hh_tangent_generated import jac, rhs  # noqa: E402

# ---- end of the generated part ----


#: networks advanced together by :func:`tangent_block` (SIMD over networks)
LANES = 32


@numba.njit(inline="always", cache=True, error_model="numpy")
def _stage(ys, Ts, I_ext, w_ptr, w_idx, w_val, need_jac, ent_neuron, ent_dir, dir_kind,
           dir_a, dir_b, cpl_ptr, cpl_src, cpl_w, k, dk, Jb, fIb, nl, syn, dI):
    """One RK4 stage of ``nl`` networks (the lanes: last axis of every array)."""
    N = ys.shape[1]
    for i in range(N):
        for l in range(nl):
            syn[l] = 0.0
        for c in range(w_ptr[i], w_ptr[i + 1]):
            for l in range(nl):
                syn[l] += w_val[c] * ys[4, w_idx[c], l]
        for l in range(nl):  # the vector loops
            I = I_ext[i, l] + syn[l]
            d = rhs(ys[0, i, l], ys[1, i, l], ys[2, i, l], ys[3, i, l], ys[4, i, l], I)
            k[0, i, l] = d[0]
            k[1, i, l] = d[1]
            k[2, i, l] = d[2]
            k[3, i, l] = d[3]
            k[4, i, l] = d[4]
        if need_jac[i]:
            for l in range(nl):
                I = I_ext[i, l] + syn[l]
                jj = jac(ys[0, i, l], ys[1, i, l], ys[2, i, l], ys[3, i, l], ys[4, i, l], I)
                for r in range(25):
                    Jb[i, r, l] = jj[r]
                for r in range(5):
                    fIb[i, r, l] = jj[25 + r]
    E = ent_neuron.shape[0]
    for e in range(E):
        i = ent_neuron[e]
        p = ent_dir[e]
        for l in range(nl):
            dI[l] = 0.0
        for c in range(cpl_ptr[e], cpl_ptr[e + 1]):
            for l in range(nl):
                dI[l] += cpl_w[c] * Ts[cpl_src[c], 4, l]
        if dir_a[p] == i:
            if dir_kind[p] == 0:
                for l in range(nl):
                    dI[l] += ys[4, dir_b[p], l]
            else:
                for l in range(nl):
                    dI[l] += 1.0
        for r in range(5):
            for l in range(nl):
                acc = fIb[i, r, l] * dI[l]
                for c in range(5):
                    acc += Jb[i, 5 * r + c, l] * Ts[e, c, l]
                dk[e, r, l] = acc


@numba.njit(inline="always", cache=True, error_model="numpy")
def _combine(out, base, scale, inc, nl):
    """``out = base + scale * inc`` over the lanes."""
    for a in range(out.shape[0]):
        for r in range(out.shape[1]):
            for l in range(nl):
                out[a, r, l] = base[a, r, l] + scale * inc[a, r, l]


@numba.njit(cache=True, error_model="numpy")
def tangent_block(dt, k0, K, Y, T, current, sigma, noise, g_index, w_ptr, w_idx, w_val,
                  need_jac, ent_neuron, ent_dir, dir_kind, dir_a, dir_b, cpl_ptr, cpl_src,
                  cpl_w, thr, rearm, armed, counts, loss_k0, loss_k1, acc_s, acc_T, max_T,
                  err):
    """Advance ``Y`` (5, B, N) and ``T`` (B, E, 5) by ``K`` RK4 steps from step ``k0``;
    networks in groups of up to ``LANES``, each group's work arrays with the networks on
    their last axis, so every stage compiles to SIMD code over networks."""
    _, B, N = Y.shape
    E = ent_neuron.shape[0]
    has_noise = noise.shape[0] > 0
    inv_sqrt_dt = 1.0 / math.sqrt(dt)
    L = LANES
    y = np.empty((5, N, L))
    ys = np.empty((5, N, L))
    ynew = np.empty((5, N, L))
    k1 = np.empty((5, N, L))
    k2 = np.empty((5, N, L))
    k3 = np.empty((5, N, L))
    k4 = np.empty((5, N, L))
    Tb = np.empty((E, 5, L))
    Ts = np.empty((E, 5, L))
    Tnew = np.empty((E, 5, L))
    d1 = np.empty((E, 5, L))
    d2 = np.empty((E, 5, L))
    d3 = np.empty((E, 5, L))
    d4 = np.empty((E, 5, L))
    Jb = np.zeros((N, 25, L))
    fIb = np.zeros((N, 5, L))
    I_ext = np.empty((N, L))
    syn = np.empty(L)
    dI = np.empty(L)
    arm = np.empty((N, L), np.bool_)
    cnt = np.empty((N, L), np.int64)
    a_s = np.empty((N, L))
    a_T = np.empty((E, L))
    mT = np.empty(L)
    lane_g = np.empty(L, np.int64)
    half = 0.5 * dt
    c6 = dt / 6.0
    for b0 in range(0, B, L):
        nl = min(L, B - b0)
        for l in range(nl):
            b = b0 + l
            lane_g[l] = g_index[b]
            mT[l] = max_T[b]
            for i in range(N):
                for r in range(5):
                    y[r, i, l] = Y[r, b, i]
                arm[i, l] = armed[b, i]
                cnt[i, l] = counts[b, i]
                a_s[i, l] = acc_s[b, i]
            for e in range(E):
                for r in range(5):
                    Tb[e, r, l] = T[b, e, r]
                a_T[e, l] = acc_T[b, e]
        for kk in range(K):
            kstep = k0 + kk
            for i in range(N):
                for l in range(nl):
                    I = current[b0 + l, i]
                    if has_noise:
                        I += sigma[i] * inv_sqrt_dt * noise[lane_g[l], kk, i]
                    I_ext[i, l] = I
            _stage(y, Tb, I_ext, w_ptr, w_idx, w_val, need_jac, ent_neuron, ent_dir, dir_kind,
                   dir_a, dir_b, cpl_ptr, cpl_src, cpl_w, k1, d1, Jb, fIb, nl, syn, dI)
            _combine(ys, y, half, k1, nl)
            _combine(Ts, Tb, half, d1, nl)
            _stage(ys, Ts, I_ext, w_ptr, w_idx, w_val, need_jac, ent_neuron, ent_dir, dir_kind,
                   dir_a, dir_b, cpl_ptr, cpl_src, cpl_w, k2, d2, Jb, fIb, nl, syn, dI)
            _combine(ys, y, half, k2, nl)
            _combine(Ts, Tb, half, d2, nl)
            _stage(ys, Ts, I_ext, w_ptr, w_idx, w_val, need_jac, ent_neuron, ent_dir, dir_kind,
                   dir_a, dir_b, cpl_ptr, cpl_src, cpl_w, k3, d3, Jb, fIb, nl, syn, dI)
            _combine(ys, y, dt, k3, nl)
            _combine(Ts, Tb, dt, d3, nl)
            _stage(ys, Ts, I_ext, w_ptr, w_idx, w_val, need_jac, ent_neuron, ent_dir, dir_kind,
                   dir_a, dir_b, cpl_ptr, cpl_src, cpl_w, k4, d4, Jb, fIb, nl, syn, dI)
            for r in range(5):
                for i in range(N):
                    for l in range(nl):
                        ynew[r, i, l] = y[r, i, l] + c6 * (k1[r, i, l] + 2.0 * k2[r, i, l]
                                                           + 2.0 * k3[r, i, l] + k4[r, i, l])
            for e in range(E):
                for r in range(5):
                    for l in range(nl):
                        Tnew[e, r, l] = Tb[e, r, l] + c6 * (d1[e, r, l] + 2.0 * d2[e, r, l]
                                                            + 2.0 * d3[e, r, l] + d4[e, r, l])
            in_window = loss_k0 <= kstep < loss_k1
            bad = 0
            for i in range(N):
                for l in range(nl):
                    if in_window:
                        a_s[i, l] += half * (y[4, i, l] + ynew[4, i, l])
                    v = y[0, i, l]
                    vn = ynew[0, i, l]
                    up = arm[i, l] & (v < thr) & (vn >= thr)
                    cnt[i, l] += up
                    arm[i, l] = (not up) & (arm[i, l] | (vn < rearm))
                    bad += not (abs(vn) < V_DIVERGED)
            if bad:
                for l in range(nl):
                    for i in range(N):
                        if not (abs(ynew[0, i, l]) < V_DIVERGED):
                            err[0] = 1.0
                            err[1] = b0 + l
                            err[2] = i
                            err[3] = kstep
                            err[4] = ynew[0, i, l]
                            return
            for e in range(E):
                for l in range(nl):
                    if in_window:
                        a_T[e, l] += half * (Tb[e, 4, l] + Tnew[e, 4, l])
                for r in range(5):
                    for l in range(nl):
                        a = abs(Tnew[e, r, l])
                        if a > mT[l]:
                            mT[l] = a
            for r in range(5):
                for i in range(N):
                    for l in range(nl):
                        y[r, i, l] = ynew[r, i, l]
            for e in range(E):
                for r in range(5):
                    for l in range(nl):
                        Tb[e, r, l] = Tnew[e, r, l]
        for l in range(nl):
            b = b0 + l
            max_T[b] = mT[l]
            for i in range(N):
                for r in range(5):
                    Y[r, b, i] = y[r, i, l]
                armed[b, i] = arm[i, l]
                counts[b, i] = cnt[i, l]
                acc_s[b, i] = a_s[i, l]
            for e in range(E):
                for r in range(5):
                    T[b, e, r] = Tb[e, r, l]
                acc_T[b, e] = a_T[e, l]
