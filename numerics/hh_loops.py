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


@numba.njit(inline="always", cache=True)
def derivs(y, I_ext, W, p, out):
    N = y.shape[1]
    for i in range(N):
        syn = 0.0
        for j in range(N):
            syn += W[p, i, j] * y[4, j]
        d = rhs(y[0, i], y[1, i], y[2, i], y[3, i], y[4, i], I_ext[i] + syn)
        for c in range(5):
            out[c, i] = d[c]

@numba.njit(cache=True)
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


if METHOD == RK4:
    STEP = rk4_step if OUTPUT else rk4_step_no_output
else:
    STEP = expeuler_step if OUTPUT else expeuler_step_no_output
