r"""Integration loops of the Hodgkin–Huxley population: a **template**, never imported directly.

:mod:`numerics.hh_kernel` writes a module made of the cell functions generated from SymPy
(:func:`numerics.hh_codegen.numba_cell_source`: ``rhs``, ``ab``), five compile-time flags
and this file's code below the marker line, stores it in the kernel cache under a name
that is the hash of its text, and imports it; numba compiles each loop on first use and
caches the machine code on disk (``cache=True``), so later processes load it.

Flags (module-level constants, so numba removes the dead branches): ``METHOD`` (0 RK4,
1 exponential Euler) for :func:`block_independent`; ``NOISE``, ``INPUTS``, ``RECORD`` (what
the step reads and writes); ``OUTPUT`` (False: the synapse variable s is not integrated).
:func:`block_coupled` takes the method as an argument and honours every feature at run time.

:func:`block_independent` advances ``LANES`` cells together (time outer, cells inner: LLVM
turns the step into SIMD instructions, which the generated cell functions allow because
their ``exp`` is :func:`numerics.fast_exp.exp`, plain arithmetic, not a library call).

Semantics (both loops, and the NumPy twin in :mod:`numerics.hh`): the current of cell ``i``
in network ``b`` is held over step ``k``; spikes are upward crossings of ``thr`` with linear
interpolation of the time, re-armed below ``rearm``; the loss integral is the trapezoid rule
over steps in ``[loss_k0, loss_k1)``; a step leaving ``|V| < V_DIVERGED`` stops the loop
and reports (flag, network, cell, step, V) in ``err``.
"""

import math

import numba
import numpy as np

V_DIVERGED = 1000.0
RK4 = 0
EXPEULER = 1

# ---- generated part: replaced by numerics.hh_kernel (cell functions and flags) ----
from numerics._hh_generated import INPUTS, METHOD, NOISE, OUTPUT, RECORD, ab, exp, rhs  # noqa: E402,E501

# ---- end of the generated part ----


@numba.njit(inline="always", cache=True)
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

@numba.njit(inline="always", cache=True)
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

@numba.njit(inline="always", cache=True)
def relax(y, a, b, dt):
    y_inf = a / b
    return y_inf + (y - y_inf) * exp(-b * dt)

@numba.njit(inline="always", cache=True)
def expeuler_step(V, m, h, n, s, I, dt):
    c = ab(V, m, h, n, s, I)
    return (relax(V, c[0], c[5], dt), relax(m, c[1], c[6], dt), relax(h, c[2], c[7], dt),
            relax(n, c[3], c[8], dt), relax(s, c[4], c[9], dt))

@numba.njit(inline="always", cache=True)
def expeuler_step_no_output(V, m, h, n, s, I, dt):
    c = ab(V, m, h, n, s, I)
    return (relax(V, c[0], c[5], dt), relax(m, c[1], c[6], dt), relax(h, c[2], c[7], dt),
            relax(n, c[3], c[8], dt), s)


@numba.njit(inline="always", cache=True)
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

#: cells advanced together by :func:`block_independent` (four AVX-512 vectors of doubles)
LANES = 32


@numba.njit(cache=True, error_model="numpy")
def block_independent(dt, k0, K, V, M, H, Nn, S, armed, counts, p_index, g_index,
                      current, W_in, x, sigma, noise, thr, rearm, loss_k0, loss_k1,
                      loss_acc, ev_b, ev_i, ev_t, ev_n, rec_every, rec_V, rec_s, err):
    """Cells in groups of up to ``LANES`` (the ``B x N`` cells in row order); within a group,
    time outer and cells inner, so the step compiles to SIMD code over the cells.  Spikes
    and divergence are flagged in the vector loop and resolved cell by cell only at a step
    that has one (rare), in cell order."""
    B, N = V.shape
    C = B * N
    n_in = x.shape[1]
    inv_sqrt_dt = 1.0 / math.sqrt(dt)
    L = LANES
    v = np.empty(L)
    m = np.empty(L)
    h = np.empty(L)
    n = np.empty(L)
    s = np.empty(L)
    vn = np.empty(L)
    mn = np.empty(L)
    hn = np.empty(L)
    nn = np.empty(L)
    sn = np.empty(L)
    acc = np.empty(L)
    base = np.empty(L)
    sig = np.empty(L)
    arm = np.empty(L, np.bool_)
    cb = np.empty(L, np.int64)
    ci = np.empty(L, np.int64)
    drive = np.zeros((K if (NOISE or INPUTS) else 1, L))  # input and noise current per step
    for c0 in range(0, C, L):
        nl = min(L, C - c0)
        for l in range(nl):
            b = (c0 + l) // N
            i = c0 + l - b * N
            p = p_index[b]
            g = g_index[b]
            cb[l] = b
            ci[l] = i
            v[l], m[l], h[l], n[l], s[l] = V[b, i], M[b, i], H[b, i], Nn[b, i], S[b, i]
            arm[l] = armed[b, i]
            acc[l] = loss_acc[b, i]
            base[l] = current[p, i]
            sig[l] = sigma[p, i] * inv_sqrt_dt
            if NOISE or INPUTS:
                for kk in range(K):
                    d = 0.0
                    if INPUTS:
                        for j in range(n_in):
                            d += W_in[p, i, j] * x[kk, j]
                    if NOISE:
                        d += sig[l] * noise[g, i, kk]
                    drive[kk, l] = d
        for kk in range(K):
            k = k0 + kk
            flagged = 0
            for l in range(nl):  # the vector loop
                I = base[l]
                if NOISE or INPUTS:
                    I += drive[kk, l]
                a0, a1, a2, a3, a4 = STEP(v[l], m[l], h[l], n[l], s[l], I, dt)
                vn[l] = a0
                mn[l] = a1
                hn[l] = a2
                nn[l] = a3
                sn[l] = a4
                flagged += (arm[l] & (v[l] < thr) & (a0 >= thr)) | (not (abs(a0) < V_DIVERGED))
                arm[l] = arm[l] | (a0 < rearm)  # re-arming (a crossing keeps it: a0 >= thr)
            if OUTPUT and loss_k0 <= k < loss_k1:
                for l in range(nl):
                    acc[l] += 0.5 * dt * (s[l] + sn[l])
            if flagged:
                for l in range(nl):
                    if not (abs(vn[l]) < V_DIVERGED):
                        err[0] = 1.0
                        err[1] = cb[l]
                        err[2] = ci[l]
                        err[3] = k
                        err[4] = vn[l]
                        return
                    if arm[l] and v[l] < thr <= vn[l]:
                        arm[l] = after_step(cb[l], ci[l], k, dt, v[l], vn[l], True, counts,
                                            thr, rearm, ev_b, ev_i, ev_t, ev_n)
            for l in range(nl):
                v[l] = vn[l]
                m[l] = mn[l]
                h[l] = hn[l]
                n[l] = nn[l]
                s[l] = sn[l]
            if RECORD and (k + 1) % rec_every == 0:
                r = (k + 1) // rec_every
                for l in range(nl):
                    rec_V[r, cb[l], ci[l]] = v[l]
                    rec_s[r, cb[l], ci[l]] = s[l]
        for l in range(nl):
            b = cb[l]
            i = ci[l]
            V[b, i], M[b, i], H[b, i], Nn[b, i], S[b, i] = v[l], m[l], h[l], n[l], s[l]
            armed[b, i] = arm[l]
            loss_acc[b, i] = acc[l]


@numba.njit(inline="always", cache=True, error_model="numpy")
def synaptic(y, W, i, nl, syn):
    r"""``syn[l]`` = :math:`\sum_j W_{ij} s_j` of cell ``i`` in each of ``nl`` networks (lanes:
    the last axis of ``y`` (5, N, L) and ``W`` (N, N, L))."""
    for l in range(nl):
        syn[l] = 0.0
    for j in range(y.shape[1]):
        for l in range(nl):
            syn[l] += W[i, j, l] * y[4, j, l]


@numba.njit(inline="always", cache=True, error_model="numpy")
def derivs(y, I_ext, W, nl, syn, out):
    r"""Right-hand sides of ``nl`` networks (lanes, last axis) of ``N`` coupled cells: the
    synaptic current :math:`\sum_j W_{ij} s_j` of each lane's own weights, then the cells."""
    N = y.shape[1]
    for i in range(N):
        synaptic(y, W, i, nl, syn)
        for l in range(nl):  # the vector loop
            d = rhs(y[0, i, l], y[1, i, l], y[2, i, l], y[3, i, l], y[4, i, l],
                    I_ext[i, l] + syn[l])
            out[0, i, l] = d[0]
            out[1, i, l] = d[1]
            out[2, i, l] = d[2]
            out[3, i, l] = d[3]
            out[4, i, l] = d[4]


@numba.njit(cache=True, error_model="numpy")
def block_coupled(method, dt, k0, K, V, M, H, Nn, S, armed, counts, p_index, g_index,
                  current, W, W_in, x, sigma, noise, thr, rearm, loss_k0, loss_k1,
                  loss_acc, ev_b, ev_i, ev_t, ev_n, rec_every, rec_V, rec_s, err):
    """Networks in groups of up to ``LANES`` (the lanes, innermost axis of every work array),
    time outer; within a step the cells of all lanes advance together (SIMD over networks),
    the synaptic current recomputed at every RK4 stage (exact RK4 of the coupled system)."""
    B, N = V.shape
    n_in = x.shape[1]
    has_noise = noise.shape[0] > 0
    inv_sqrt_dt = 1.0 / math.sqrt(dt)
    L = LANES
    y = np.empty((5, N, L))
    yt = np.empty((5, N, L))
    d1 = np.empty((5, N, L))
    d2 = np.empty((5, N, L))
    d3 = np.empty((5, N, L))
    d4 = np.empty((5, N, L))
    I_ext = np.empty((N, L))
    base = np.empty((N, L))
    sig = np.empty((N, L))
    Wl = np.empty((N, N, L))
    Win = np.empty((N, max(n_in, 1), L))
    syn = np.empty(L)
    arm = np.empty((N, L), np.bool_)
    acc = np.empty((N, L))
    lane_p = np.empty(L, np.int64)
    lane_g = np.empty(L, np.int64)
    for b0 in range(0, B, L):
        nl = min(L, B - b0)
        for l in range(nl):
            b = b0 + l
            p = p_index[b]
            lane_p[l] = p
            lane_g[l] = g_index[b]
            for i in range(N):
                y[0, i, l], y[1, i, l], y[2, i, l], y[3, i, l], y[4, i, l] = (
                    V[b, i], M[b, i], H[b, i], Nn[b, i], S[b, i])
                arm[i, l] = armed[b, i]
                acc[i, l] = loss_acc[b, i]
                base[i, l] = current[p, i]
                sig[i, l] = sigma[p, i] * inv_sqrt_dt
                for j in range(N):
                    Wl[i, j, l] = W[p, i, j]
                for j in range(n_in):
                    Win[i, j, l] = W_in[p, i, j]
        for kk in range(K):
            k = k0 + kk
            for i in range(N):
                for l in range(nl):
                    I_ext[i, l] = base[i, l]
                for j in range(n_in):
                    for l in range(nl):
                        I_ext[i, l] += Win[i, j, l] * x[kk, j]
                if has_noise:
                    for l in range(nl):
                        I_ext[i, l] += sig[i, l] * noise[lane_g[l], kk, i]
            if method == RK4:
                derivs(y, I_ext, Wl, nl, syn, d1)
                for c in range(5):
                    for i in range(N):
                        for l in range(nl):
                            yt[c, i, l] = y[c, i, l] + 0.5 * dt * d1[c, i, l]
                derivs(yt, I_ext, Wl, nl, syn, d2)
                for c in range(5):
                    for i in range(N):
                        for l in range(nl):
                            yt[c, i, l] = y[c, i, l] + 0.5 * dt * d2[c, i, l]
                derivs(yt, I_ext, Wl, nl, syn, d3)
                for c in range(5):
                    for i in range(N):
                        for l in range(nl):
                            yt[c, i, l] = y[c, i, l] + dt * d3[c, i, l]
                derivs(yt, I_ext, Wl, nl, syn, d4)
                for c in range(5):
                    for i in range(N):
                        for l in range(nl):
                            yt[c, i, l] = y[c, i, l] + dt / 6.0 * (
                                d1[c, i, l] + 2.0 * d2[c, i, l] + 2.0 * d3[c, i, l]
                                + d4[c, i, l])
            else:
                for i in range(N):
                    synaptic(y, Wl, i, nl, syn)
                    for l in range(nl):
                        yn = expeuler_step(y[0, i, l], y[1, i, l], y[2, i, l], y[3, i, l],
                                           y[4, i, l], I_ext[i, l] + syn[l], dt)
                        yt[0, i, l] = yn[0]
                        yt[1, i, l] = yn[1]
                        yt[2, i, l] = yn[2]
                        yt[3, i, l] = yn[3]
                        yt[4, i, l] = yn[4]
            flagged = 0
            for i in range(N):
                for l in range(nl):
                    v0 = y[0, i, l]
                    v1 = yt[0, i, l]
                    flagged += ((arm[i, l] & (v0 < thr) & (v1 >= thr))
                                | (not (abs(v1) < V_DIVERGED)))
                    arm[i, l] = arm[i, l] | (v1 < rearm)  # a crossing keeps it: v1 >= thr
                    if loss_k0 <= k < loss_k1:
                        acc[i, l] += 0.5 * dt * (y[4, i, l] + yt[4, i, l])
            if flagged:
                for l in range(nl):
                    for i in range(N):
                        v0 = y[0, i, l]
                        v1 = yt[0, i, l]
                        if arm[i, l] and v0 < thr <= v1:
                            arm[i, l] = after_step(b0 + l, i, k, dt, v0, v1, True, counts,
                                                   thr, rearm, ev_b, ev_i, ev_t, ev_n)
                        if not (abs(v1) < V_DIVERGED):
                            err[0] = 1.0
                            err[1] = b0 + l
                            err[2] = i
                            err[3] = k
                            err[4] = v1
                            return
            for c in range(5):
                for i in range(N):
                    for l in range(nl):
                        y[c, i, l] = yt[c, i, l]
            if rec_every > 0 and (k + 1) % rec_every == 0:
                r = (k + 1) // rec_every
                for l in range(nl):
                    for i in range(N):
                        rec_V[r, b0 + l, i] = y[0, i, l]
                        rec_s[r, b0 + l, i] = y[4, i, l]
        for l in range(nl):
            b = b0 + l
            for i in range(N):
                V[b, i], M[b, i], H[b, i], Nn[b, i], S[b, i] = (
                    y[0, i, l], y[1, i, l], y[2, i, l], y[3, i, l], y[4, i, l])
                armed[b, i] = arm[i, l]
                loss_acc[b, i] = acc[i, l]


if METHOD == RK4:
    STEP = rk4_step if OUTPUT else rk4_step_no_output
else:
    STEP = expeuler_step if OUTPUT else expeuler_step_no_output
