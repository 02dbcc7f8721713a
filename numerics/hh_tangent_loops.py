r"""Tangent-linear (forward-mode) integration loop of HH networks: a **template**, never
imported directly.

:mod:`numerics.hh_tangent` writes a module made of the cell functions generated from SymPy
(``rhs`` of :func:`numerics.hh_codegen.numba_cell_source` and ``jac``, the Jacobian and the
current column of :func:`theory.hh.jacobian` / :func:`theory.hh.current_derivative`) and
this file's code below the marker line, stores it in the kernel cache under the hash of its
text and imports it; numba compiles :func:`tangent_block` on first use and caches it on disk.

The loop advances ``B`` networks (shared weights ``W``, own currents) by RK4 exactly as
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


@numba.njit(cache=True)
def _stage(ys, Ts, I_ext, w_ptr, w_idx, w_val, need_jac, ent_neuron, ent_dir, dir_kind,
           dir_a, dir_b, cpl_ptr, cpl_src, cpl_w, k, dk, Jb, fIb):
    N = ys.shape[1]
    for i in range(N):
        syn = 0.0
        for c in range(w_ptr[i], w_ptr[i + 1]):
            syn += w_val[c] * ys[4, w_idx[c]]
        I = I_ext[i] + syn
        d = rhs(ys[0, i], ys[1, i], ys[2, i], ys[3, i], ys[4, i], I)
        for r in range(5):
            k[r, i] = d[r]
        if need_jac[i]:
            jj = jac(ys[0, i], ys[1, i], ys[2, i], ys[3, i], ys[4, i], I)
            for r in range(25):
                Jb[i, r] = jj[r]
            for r in range(5):
                fIb[i, r] = jj[25 + r]
    E = ent_neuron.shape[0]
    for e in range(E):
        i = ent_neuron[e]
        p = ent_dir[e]
        dI = 0.0
        for c in range(cpl_ptr[e], cpl_ptr[e + 1]):
            dI += cpl_w[c] * Ts[cpl_src[c], 4]
        if dir_a[p] == i:
            if dir_kind[p] == 0:
                dI += ys[4, dir_b[p]]
            else:
                dI += 1.0
        for r in range(5):
            acc = fIb[i, r] * dI
            for c in range(5):
                acc += Jb[i, 5 * r + c] * Ts[e, c]
            dk[e, r] = acc


@numba.njit(cache=True)
def tangent_block(dt, k0, K, Y, T, current, sigma, noise, g_index, w_ptr, w_idx, w_val,
                  need_jac, ent_neuron, ent_dir, dir_kind, dir_a, dir_b, cpl_ptr, cpl_src,
                  cpl_w, thr, rearm, armed, counts, loss_k0, loss_k1, acc_s, acc_T, max_T,
                  err):
    """Advance ``Y`` (5, B, N) and ``T`` (B, E, 5) by ``K`` RK4 steps from step ``k0``."""
    _, B, N = Y.shape
    E = ent_neuron.shape[0]
    has_noise = noise.shape[0] > 0
    inv_sqrt_dt = 1.0 / math.sqrt(dt)
    y = np.empty((5, N))
    ys = np.empty((5, N))
    ynew = np.empty((5, N))
    k1 = np.empty((5, N))
    k2 = np.empty((5, N))
    k3 = np.empty((5, N))
    k4 = np.empty((5, N))
    Tb = np.empty((E, 5))
    Ts = np.empty((E, 5))
    Tnew = np.empty((E, 5))
    d1 = np.empty((E, 5))
    d2 = np.empty((E, 5))
    d3 = np.empty((E, 5))
    d4 = np.empty((E, 5))
    Jb = np.zeros((N, 25))
    fIb = np.zeros((N, 5))
    I_ext = np.empty(N)
    half = 0.5 * dt
    for b in range(B):
        g = g_index[b]
        for i in range(N):
            for r in range(5):
                y[r, i] = Y[r, b, i]
        for e in range(E):
            for r in range(5):
                Tb[e, r] = T[b, e, r]
        for kk in range(K):
            kstep = k0 + kk
            for i in range(N):
                I = current[b, i]
                if has_noise:
                    I += sigma[i] * inv_sqrt_dt * noise[g, kk, i]
                I_ext[i] = I
            _stage(y, Tb, I_ext, w_ptr, w_idx, w_val, need_jac, ent_neuron, ent_dir, dir_kind,
                   dir_a, dir_b, cpl_ptr, cpl_src, cpl_w, k1, d1, Jb, fIb)
            for r in range(5):
                for i in range(N):
                    ys[r, i] = y[r, i] + half * k1[r, i]
            for e in range(E):
                for r in range(5):
                    Ts[e, r] = Tb[e, r] + half * d1[e, r]
            _stage(ys, Ts, I_ext, w_ptr, w_idx, w_val, need_jac, ent_neuron, ent_dir, dir_kind,
                   dir_a, dir_b, cpl_ptr, cpl_src, cpl_w, k2, d2, Jb, fIb)
            for r in range(5):
                for i in range(N):
                    ys[r, i] = y[r, i] + half * k2[r, i]
            for e in range(E):
                for r in range(5):
                    Ts[e, r] = Tb[e, r] + half * d2[e, r]
            _stage(ys, Ts, I_ext, w_ptr, w_idx, w_val, need_jac, ent_neuron, ent_dir, dir_kind,
                   dir_a, dir_b, cpl_ptr, cpl_src, cpl_w, k3, d3, Jb, fIb)
            for r in range(5):
                for i in range(N):
                    ys[r, i] = y[r, i] + dt * k3[r, i]
            for e in range(E):
                for r in range(5):
                    Ts[e, r] = Tb[e, r] + dt * d3[e, r]
            _stage(ys, Ts, I_ext, w_ptr, w_idx, w_val, need_jac, ent_neuron, ent_dir, dir_kind,
                   dir_a, dir_b, cpl_ptr, cpl_src, cpl_w, k4, d4, Jb, fIb)
            c6 = dt / 6.0
            for r in range(5):
                for i in range(N):
                    ynew[r, i] = y[r, i] + c6 * (k1[r, i] + 2.0 * k2[r, i] + 2.0 * k3[r, i]
                                                 + k4[r, i])
            for e in range(E):
                for r in range(5):
                    Tnew[e, r] = Tb[e, r] + c6 * (d1[e, r] + 2.0 * d2[e, r] + 2.0 * d3[e, r]
                                                  + d4[e, r])
            in_window = loss_k0 <= kstep < loss_k1
            for i in range(N):
                if in_window:
                    acc_s[b, i] += half * (y[4, i] + ynew[4, i])
                v, vn = y[0, i], ynew[0, i]
                if armed[b, i] and v < thr <= vn:
                    counts[b, i] += 1
                    armed[b, i] = False
                elif (not armed[b, i]) and vn < rearm:
                    armed[b, i] = True
                if not (abs(vn) < V_DIVERGED):
                    err[0] = 1.0
                    err[1] = b
                    err[2] = i
                    err[3] = kstep
                    err[4] = vn
                    return
            for e in range(E):
                if in_window:
                    acc_T[b, e] += half * (Tb[e, 4] + Tnew[e, 4])
                for r in range(5):
                    a = abs(Tnew[e, r])
                    if a > max_T[b]:
                        max_T[b] = a
            for r in range(5):
                for i in range(N):
                    y[r, i] = ynew[r, i]
            for e in range(E):
                for r in range(5):
                    Tb[e, r] = Tnew[e, r]
        for i in range(N):
            for r in range(5):
                Y[r, b, i] = y[r, i]
        for e in range(E):
            for r in range(5):
                T[b, e, r] = Tb[e, r]
