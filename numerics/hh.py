r"""Populations and networks of Hodgkin–Huxley neurons: simulation, spikes, outputs, losses.

The cell is :mod:`theory.hh` (squid axon, modern convention, 6.3 °C, plus a kinetic synapse
whose gating :math:`s\in[0,1]` is the neuron's output :math:`a(t)`); its right-hand side is
lambdified (:mod:`numerics.hh_codegen`), never retyped.

**Shapes.**  A simulation advances ``P`` parameter sets (weights, currents) x ``R`` noisy
trials x ``N`` neurons at once; results have shape ``(P, R, N)``.  The ``P x R`` networks
are independent; the ``N`` neurons of a network are coupled by ``weights``.

**Currents** (uA/cm^2) into neuron :math:`i` of parameter set :math:`p`, trial :math:`r`:

.. math:: I_i(t) = I^{ext}_{p,i} + \sum_j W_{p,ij}\,s_j(t) + \sum_m W^{in}_{p,im}\,x_m(t)
          + \sigma_{p,i}\,\xi_{r,i}(t),

:math:`W_{ij}` the synapse from :math:`j` to :math:`i` (current-based: a fully open synapse
injects :math:`W_{ij}`), :math:`x_m(t)` given input traces (e.g. filtered Poisson spike
trains, :func:`input_trace`), :math:`\xi` unit white noise.  With ``common_noise=True``
(default) trial ``r`` uses the same noise for every parameter set (common random numbers:
a landscape scan compares weights on identical noise); otherwise every network has its own.

**Networks** (:func:`chain`, :func:`feedforward`, :func:`complete_graph`; ``weights=None``
for independent neurons).  The complete graph includes self-connections (seed 003's
"multi-function" case).

**Integration** (``method``): classical RK4 (default; linear stability needs
``dt_ms <= ``:func:`numerics.hh_stability.rk4_dt_limit` ≈ 0.065 ms, checked) or exponential
Euler (each variable of :math:`\dot y = a - b y` advanced exactly with the others frozen,
:func:`theory.hh.exponential_euler_form`; first order, stable for any step, ``dt_ms <= 1``).

**Noise** (SDE scheme).  :math:`C_m dV = (\ldots)\,dt + \sigma\,dW`.  Over step :math:`k` the
noise enters as the constant current :math:`\sigma z_k/\sqrt{dt}`, :math:`z_k\sim N(0,1)`,
in every RK4 stage: the step adds exactly the Euler–Maruyama increment
:math:`\sigma\sqrt{dt}\,z_k/C_m` plus drift terms of higher order.  For additive noise
(Itô = Stratonovich) this converges with strong order 1 (Kloeden & Platen 1992, §10.2,
Euler–Maruyama for additive noise) and is RK4 when :math:`\sigma = 0`.  :math:`\sigma` has
units uA cm^-2 ms^1/2.  Noise streams: ``SeedSequence(seed).spawn(G)``, one per trial (or
per network), so a trial's noise does not depend on how many others run.

**Spikes**: upward crossing of ``threshold_mV`` (default 0 mV), time by linear interpolation;
a neuron is re-armed only after V falls below ``rearm_mV`` (default -20 mV; Brian2's
``refractory='v > -20*mV'`` convention).  **Loss**: over the window
:math:`[t_0, t_0 + \tau)`, :math:`L = \frac{1}{\tau}\int a(t)\,dt` averaged over the output
neurons (seed 003, "Most Simple Case"), integrated by the trapezoid rule on the step grid.

**Backends**: ``"numba"`` (compiled loops, :mod:`numerics.hh_kernel`) and ``"numpy"`` (the
same algorithm on arrays; slower, no compiler); tested equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from numerics.checks import as_int, as_positive, as_seed_sequence
from numerics.hh_codegen import numpy_cell
from numerics.hh_stability import rest_state, rk4_dt_limit
from numerics.integrate import DivergenceError
from numerics.progress import progress_bar
from theory.hh import DEFAULT_CONSTANTS, HHConstants

__all__ = ["HHResult", "simulate", "firing_rate", "firing_rates", "steady_rate", "chain",
           "feedforward", "complete_graph", "input_trace", "METHODS", "BACKENDS",
           "EXPEULER_DT_MAX"]

METHODS = ("rk4", "expeuler")
BACKENDS = ("numba", "numpy")
#: largest exponential-Euler step (ms): a spike lasts about 1 ms and must be resolved
EXPEULER_DT_MAX = 1.0
_V_DIVERGED = 1000.0


@dataclass(frozen=True)
class HHResult:
    """A simulation of ``P x R`` networks of ``N`` neurons (shape ``(P, R, N)``).

    ``spike_counts`` (P, R, N); ``spikes``: dict of event arrays ``param``, ``trial``,
    ``neuron``, ``time`` (ms), sorted by time; ``output_integral`` (P, R, N) =
    :math:`\\int a\\,dt` over ``loss_window`` (ms); ``loss`` (P, R) = its mean over
    ``output_neurons`` divided by the window length; ``final_state`` (5, P, R, N) =
    (V, m, h, n, s); ``t_record`` (T,), ``V`` and ``a`` (T, P, R, N) when recorded.
    """

    shape: tuple[int, int, int]
    dt_ms: float
    duration_ms: float
    method: str
    backend: str
    spike_counts: np.ndarray
    spikes: dict
    output_integral: np.ndarray
    loss: np.ndarray
    loss_window: tuple[float, float]
    output_neurons: np.ndarray
    final_state: np.ndarray
    t_record: np.ndarray | None = None
    V: np.ndarray | None = None
    a: np.ndarray | None = None

    @property
    def rates_hz(self) -> np.ndarray:
        """Mean rate over the whole run (Hz), (P, R, N)."""
        return self.spike_counts / (self.duration_ms / 1000.0)

    def spike_times(self, param: int = 0, trial: int = 0, neuron: int = 0) -> np.ndarray:
        """Spike times (ms) of one neuron."""
        sel = ((self.spikes["param"] == param) & (self.spikes["trial"] == trial)
               & (self.spikes["neuron"] == neuron))
        return self.spikes["time"][sel]

    def to_dict(self) -> dict:
        d = {"shape": list(self.shape), "dt_ms": self.dt_ms, "duration_ms": self.duration_ms,
             "method": self.method, "backend": self.backend,
             "spike_counts": self.spike_counts.tolist(), "loss": self.loss.tolist(),
             "loss_window": list(self.loss_window),
             "output_neurons": self.output_neurons.tolist(),
             "spikes": {k: v.tolist() for k, v in self.spikes.items()}}
        if self.t_record is not None:
            d["t_record"] = self.t_record.tolist()
        return d


# ----------------------------------------------------------------------------- networks

def chain(n: int, weight) -> np.ndarray:
    """Weights of a chain 0 -> 1 -> ... -> n-1: ``W[i+1, i] = weight[i]`` (scalar or n-1)."""
    n = as_int(n, "n", 1)
    w = np.broadcast_to(np.asarray(weight, dtype=float), (n - 1,)) if n > 1 else np.zeros(0)
    W = np.zeros((n, n))
    W[np.arange(1, n), np.arange(n - 1)] = w
    return W


def feedforward(sizes, weights) -> np.ndarray:
    """Weights of feed-forward layers ``sizes = (n_0, n_1, ...)``; ``weights[l]`` has shape
    ``(n_{l+1}, n_l)`` (layer l to l+1).  Neurons are numbered layer by layer."""
    sizes = [as_int(s, "sizes[i]", 1) for s in sizes]
    if len(weights) != len(sizes) - 1:
        raise ValueError(f"weights must hold {len(sizes) - 1} matrices for {len(sizes)} layers, "
                         f"got {len(weights)}")
    off = np.concatenate([[0], np.cumsum(sizes)])
    W = np.zeros((off[-1], off[-1]))
    for layer, w in enumerate(weights):
        w = np.asarray(w, dtype=float)
        want = (sizes[layer + 1], sizes[layer])
        if w.shape != want:
            raise ValueError(f"weights[{layer}] must have shape {want}, got {w.shape}")
        W[off[layer + 1]:off[layer + 2], off[layer]:off[layer + 1]] = w
    return W


def complete_graph(n: int, weight) -> np.ndarray:
    """All-to-all weights including self-connections: ``W[i, j] = weight`` (scalar or (n, n))."""
    n = as_int(n, "n", 1)
    return np.array(np.broadcast_to(np.asarray(weight, dtype=float), (n, n)))


def input_trace(rates_hz, duration_ms: float, dt_ms: float, seed, tau_ms: float = 1 / 0.19
                ) -> np.ndarray:
    r"""Exponentially filtered Poisson spike trains, ``(steps, M)``: :math:`x_m` jumps by 1 at
    each spike of a Poisson process of rate ``rates_hz[m]`` and decays with ``tau_ms``
    (default :math:`1/\beta_s`, the synapse's decay).  Use as ``inputs`` of :func:`simulate`."""
    rates = np.atleast_1d(np.asarray(rates_hz, dtype=float))
    if rates.ndim != 1 or np.any(~np.isfinite(rates)) or np.any(rates < 0):
        raise ValueError("rates_hz must be finite and >= 0")
    dt = as_positive(dt_ms, "dt_ms")
    tau = as_positive(tau_ms, "tau_ms")
    steps = _steps(duration_ms, dt)
    rng = np.random.default_rng(seed)
    kicks = rng.poisson(rates * dt / 1000.0, size=(steps, rates.size)).astype(float)
    decay = np.exp(-dt / tau)
    x = np.empty_like(kicks)
    acc = np.zeros(rates.size)
    for k in range(steps):
        acc = acc * decay + kicks[k]
        x[k] = acc
    return x


# ----------------------------------------------------------------------------- checks

def _steps(duration_ms, dt) -> int:
    duration = as_positive(duration_ms, "duration_ms")
    steps = int(round(duration / dt))
    if steps < 1 or abs(steps * dt - duration) > 1e-9 * duration:
        raise ValueError(f"duration_ms={duration} must be a positive multiple of dt_ms={dt}")
    return steps



def _loss_window_steps(loss_window, steps: int, dt: float) -> tuple[int, int]:
    """The step indices ``(k0, k1)`` of ``loss_window = (t0, t1)`` in ms (None: the whole
    run); ValueError unless ``0 <= t0 < t1 <= duration``."""
    t0, t1 = (0.0, steps * dt) if loss_window is None else map(float, loss_window)
    if not (0 <= t0 < t1 <= steps * dt + 1e-9):
        raise ValueError(f"loss_window must satisfy 0 <= t0 < t1 <= duration_ms, got "
                         f"{loss_window}")
    return int(round(t0 / dt)), int(round(t1 / dt))

def _check_dt(dt_ms, method: str, constants: HHConstants) -> float:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    dt = as_positive(dt_ms, "dt_ms")
    if method == "rk4":
        limit, info = rk4_dt_limit(constants)
        if dt > limit:
            raise ValueError(
                f"dt_ms={dt} is too large for RK4 stability: the HH Jacobian has an eigenvalue "
                f"{info['eigenvalue_re']:.1f}/ms (at V = {info['state'][0]:.1f} mV, during a "
                f"spike), and RK4 needs |R(lambda dt)| <= 1, i.e. dt_ms <= {limit:.4f}; use a "
                f"smaller dt_ms or method='expeuler'")
    elif dt > EXPEULER_DT_MAX:
        raise ValueError(f"dt_ms={dt} is too large: exponential Euler is stable for any step but "
                         f"cannot resolve a ~1 ms spike; use dt_ms <= {EXPEULER_DT_MAX}")
    return dt


def _leading(name: str, value, tail: tuple[int, ...]) -> np.ndarray:
    """``value`` as (P, *tail) with P >= 1 (a missing leading axis means P = 1)."""
    a = np.asarray(value, dtype=float)
    if a.shape == tail:
        a = a[None]
    if a.ndim != len(tail) + 1 or a.shape[1:] != tail:
        want = " or ".join(f"{s}" for s in (tail, ("P",) + tail))
        raise ValueError(f"{name} must have shape {want} for N = {tail[0]} neurons, "
                         f"got {np.shape(value)}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _neurons(current, weights, input_weights) -> int:
    if weights is not None:
        w = np.asarray(weights)
        if w.ndim in (2, 3) and w.shape[-1] == w.shape[-2]:
            return int(w.shape[-1])
        raise ValueError(f"weights must be a square (N, N) or (P, N, N) array, got shape "
                         f"{w.shape}")
    if input_weights is not None:
        return int(np.asarray(input_weights).shape[-2]) if np.ndim(input_weights) >= 2 else 1
    c = np.asarray(current)
    return int(c.shape[-1]) if c.ndim >= 1 else 1


def _block_noise(gens, K: int, N: int) -> np.ndarray:
    """The standard normals of one block of ``K`` steps: ``(G, K, N)``, row ``g`` drawn from
    ``gens[g]`` as one ``(K, N)`` array.  :func:`simulate` and
    :func:`numerics.hh_tangent.tangent_simulate` both draw this way, block by block, so equal
    seeds and block sizes give them the same noise."""
    z = np.empty((len(gens), K, N))
    for g, gen in enumerate(gens):
        z[g] = gen.standard_normal((K, N))
    return z


# ----------------------------------------------------------------------------- NumPy backend

def _numpy_block(cell, method, dt, k0, K, Y, armed, counts, p_index, g_index, current, W, W_in,
                 x, sigma, noise, thr, rearm, loss_k0, loss_k1, loss_acc, events, rec_every,
                 rec_V, rec_s, output=True):
    """The NumPy twin of :func:`numerics.hh_kernel` loops: same steps on (B, N) arrays."""
    cur = current[p_index]
    Wb = W[p_index] if W is not None else None
    Win = W_in[p_index] if W_in.shape[2] > 0 else None
    sig = sigma[p_index] / np.sqrt(dt)

    def syn(s):
        return np.einsum("bij,bj->bi", Wb, s) if Wb is not None else 0.0

    for kk in range(K):
        k = k0 + kk
        I = cur.copy()
        if Win is not None:
            I = I + np.einsum("bim,m->bi", Win, x[kk])
        if noise.shape[0] > 0:
            I = I + sig * noise[g_index, kk]
        V, m, h, n, s = Y
        if method == "rk4":
            d1 = cell.rhs(V, m, h, n, s, I + syn(s))
            y2 = [y + 0.5 * dt * d for y, d in zip(Y, d1)]
            d2 = cell.rhs(*y2, I + syn(y2[4]))
            y3 = [y + 0.5 * dt * d for y, d in zip(Y, d2)]
            d3 = cell.rhs(*y3, I + syn(y3[4]))
            y4 = [y + dt * d for y, d in zip(Y, d3)]
            d4 = cell.rhs(*y4, I + syn(y4[4]))
            new = [y + dt / 6.0 * (a + 2.0 * b + 2.0 * c + e)
                   for y, a, b, c, e in zip(Y, d1, d2, d3, d4)]
        else:
            c = cell.ab(V, m, h, n, s, I + syn(s))
            new = []
            for j, y in enumerate(Y):
                y_inf = c[j] / c[j + 5]
                new.append(y_inf + (y - y_inf) * np.exp(-c[j + 5] * dt))
        if not output:
            new[4] = s  # the synapse is not integrated
        Vn, sn = new[0], new[4]
        if output and loss_k0 <= k < loss_k1:
            loss_acc += 0.5 * dt * (s + sn)
        up = armed & (V < thr) & (Vn >= thr)
        if up.any():
            bb, ii = np.nonzero(up)
            counts[bb, ii] += 1
            events.append((bb, ii, (k + (thr - V[bb, ii]) / (Vn[bb, ii] - V[bb, ii])) * dt))
        armed[:] = np.where(up, False, armed | (~armed & (Vn < rearm)))
        bad = ~(np.abs(Vn) < _V_DIVERGED)
        if bad.any():
            b, i = np.argwhere(bad)[0]
            return (int(b), int(i), k, float(Vn[b, i]))
        for j in range(5):
            Y[j] = np.asarray(new[j], dtype=float)
        if rec_every > 0 and (k + 1) % rec_every == 0:
            r = (k + 1) // rec_every
            rec_V[r] = Y[0]
            rec_s[r] = Y[4]
    return None


# ----------------------------------------------------------------------------- simulate

def simulate(current=0.0, *, weights=None, input_weights=None, inputs=None,
             duration_ms: float = 1000.0, dt_ms: float = 0.01, method: str = "rk4",
             noise=0.0, trials: int = 1, seed=0, common_noise: bool = True,
             loss_window: tuple[float, float] | None = None, output_neurons=None,
             record: bool = False, record_every: int = 1, threshold_mV: float = 0.0,
             rearm_mV: float = -20.0, initial=None, backend: str = "numba", output: bool = True,
             constants: HHConstants = DEFAULT_CONSTANTS, block_steps: int | None = None,
             progress: bool | None = None) -> HHResult:
    """Simulate ``P x trials`` networks of ``N`` HH neurons from rest (module docstring).

    ``current``: (N,) or (P, N) external current (uA/cm^2); ``weights``: None, (N, N) or
    (P, N, N) (``W[i, j]``: synapse j -> i); ``input_weights``: (N, M) or (P, N, M) with
    ``inputs`` (steps, M) the input traces, step k using ``inputs[k]``; ``noise``: sigma,
    scalar, (N,) or (P, N) (uA cm^-2 ms^1/2); ``loss_window`` (t0, t1) in ms (default the
    whole run); ``output_neurons``: indices averaged in the loss (default all); ``initial``:
    (5,) or broadcastable to (5, P, R, N) (default: the rest state at I = 0); ``record``:
    keep V and a = s every ``record_every`` steps; ``output=False`` (neurons without
    recurrent weights only) skips the synapse variable s: the neuron alone, as other
    simulators integrate it; ``loss`` is then NaN.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not output and weights is not None:
        raise ValueError("output=False needs weights=None: synapses are driven by s")
    dt = _check_dt(dt_ms, method, constants)
    steps = _steps(duration_ms, dt)
    R = as_int(trials, "trials", 1)
    N = _neurons(current, weights, input_weights)
    cur = _leading("current", current if np.ndim(current) >= 1
                   else np.full(N, float(current)), (N,))
    W = None if weights is None else _leading("weights", weights, (N, N))
    if inputs is not None or input_weights is not None:
        if inputs is None or input_weights is None:
            raise ValueError("inputs and input_weights must be given together")
        x = np.asarray(inputs, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[0] < steps:
            raise ValueError(f"inputs must have shape (steps >= {steps}, M), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("inputs contains NaN or inf")
        W_in = _leading("input_weights", input_weights, (N, x.shape[1]))
    else:
        x = np.zeros((steps, 0))
        W_in = np.zeros((1, N, 0))
    sig_raw = np.asarray(noise, dtype=float)
    if np.any(~np.isfinite(sig_raw)) or np.any(sig_raw < 0):
        raise ValueError(f"noise must be finite and >= 0, got {noise!r}")
    sigma = _leading("noise", np.broadcast_to(sig_raw, sig_raw.shape[:-1] + (N,))
                     if sig_raw.ndim >= 1 else np.full(N, float(sig_raw)), (N,))
    Ps = {a.shape[0] for a in (cur, sigma, W_in) if a.shape[0] > 1}
    if W is not None and W.shape[0] > 1:
        Ps.add(W.shape[0])
    if len(Ps) > 1:
        raise ValueError(f"current, weights, input_weights and noise disagree on the number of "
                         f"parameter sets P: {sorted(Ps)}")
    P = Ps.pop() if Ps else 1
    cur = np.ascontiguousarray(np.broadcast_to(cur, (P, N)))
    sigma = np.ascontiguousarray(np.broadcast_to(sigma, (P, N)))
    W_in = np.ascontiguousarray(np.broadcast_to(W_in, (P,) + W_in.shape[1:]))
    if W is not None:
        W = np.ascontiguousarray(np.broadcast_to(W, (P, N, N)))
    thr = float(threshold_mV)
    rearm = float(rearm_mV)
    if not (np.isfinite(thr) and np.isfinite(rearm) and rearm < thr):
        raise ValueError(f"need finite rearm_mV < threshold_mV, got {rearm_mV}, {threshold_mV}")
    loss_k0, loss_k1 = _loss_window_steps(loss_window, steps, dt)
    out_idx = np.arange(N) if output_neurons is None else np.atleast_1d(
        np.asarray(output_neurons, dtype=int))
    if out_idx.size == 0 or out_idx.min() < 0 or out_idx.max() >= N:
        raise ValueError(f"output_neurons must be indices in [0, {N}), got {output_neurons!r}")

    B = P * R
    p_index = np.repeat(np.arange(P), R).astype(np.int64)
    has_noise = bool(np.any(sigma > 0))
    G = (R if common_noise else B) if has_noise else 0
    g_index = (np.tile(np.arange(R), P) if common_noise else np.arange(B)).astype(np.int64)
    gens = [np.random.Generator(np.random.PCG64(c))
            for c in as_seed_sequence(seed).spawn(G)] if has_noise else []

    y0 = rest_state(constants) if initial is None else np.asarray(initial, dtype=float)
    if y0.shape == (5,):
        y0 = y0[:, None, None, None]
    try:
        Y0 = np.broadcast_to(y0, (5, P, R, N)).reshape(5, B, N)
    except ValueError:
        raise ValueError(f"initial must have shape (5,) or broadcast to (5, {P}, {R}, {N}), "
                         f"got {np.shape(initial)}") from None
    if not np.all(np.isfinite(Y0)):
        raise ValueError("initial contains NaN or inf")
    Y = [np.array(Y0[j], dtype=float, order="C") for j in range(5)]
    armed = np.ones((B, N), dtype=bool)
    counts = np.zeros((B, N), dtype=np.int64)
    loss_acc = np.zeros((B, N))
    rec_every = as_int(record_every, "record_every", 1) if record else 0
    n_rec = steps // rec_every + 1 if record else 1
    rec_V = np.zeros((n_rec, B, N) if record else (1, 1, 1))
    rec_s = np.zeros_like(rec_V)
    if record:
        rec_V[0], rec_s[0] = Y[0], Y[4]

    if block_steps is None:
        per_step = max(G, 1) * N + x.shape[1]
        block_steps = int(min(steps, max(1, min(5000, 4_000_000 // per_step))))
    K = as_int(block_steps, "block_steps", 1)
    cell = numpy_cell(constants) if backend == "numpy" else None
    if backend == "numba":
        from numerics.hh_kernel import kernels

        loops = kernels(constants)
    cap = max(1024, B * N * (int(K * dt / 1.0) + 2))
    ev_b, ev_i, ev_t = [], [], []
    bar = progress_bar(total=steps, desc="HH simulation", unit="step",
                       disable=None if progress is None else not progress)
    k0 = 0
    while k0 < steps:
        Kb = min(K, steps - k0)
        z = _block_noise(gens, Kb, N) if has_noise else np.zeros((0, 1, N))
        xb = np.ascontiguousarray(x[k0:k0 + Kb])
        if backend == "numpy":
            events: list = []
            err = _numpy_block(cell, method, dt, k0, Kb, Y, armed, counts, p_index, g_index, cur,
                               W, W_in, xb, sigma, z, thr, rearm, loss_k0, loss_k1, loss_acc,
                               events, rec_every, rec_V, rec_s, output)
            for bb, ii, tt in events:
                ev_b.append(bb)
                ev_i.append(ii)
                ev_t.append(tt)
        else:
            snapshot = ([y.copy() for y in Y], armed.copy(), counts.copy(), loss_acc.copy())
            while True:
                eb = np.empty(cap, np.int64)
                ei = np.empty(cap, np.int64)
                et = np.empty(cap)
                ev_n = np.zeros(2, np.int64)
                e = np.zeros(5)
                meth = 0 if method == "rk4" else 1
                if W is None:
                    zt = np.ascontiguousarray(z.transpose(0, 2, 1))  # (G, N, K): time inner
                    loop = loops.independent(meth, has_noise, W_in.shape[2] > 0, rec_every > 0,
                                             output)
                    loop(dt, k0, Kb, *Y, armed, counts, p_index, g_index, cur, W_in, xb, sigma, zt,
                         thr, rearm, loss_k0, loss_k1, loss_acc, eb, ei, et, ev_n, rec_every,
                         rec_V, rec_s, e)
                else:
                    loops.coupled(meth, dt, k0, Kb, *Y, armed, counts, p_index, g_index, cur, W,
                                  W_in, xb, sigma, z, thr, rearm, loss_k0, loss_k1, loss_acc,
                                  eb, ei, et, ev_n, rec_every, rec_V, rec_s, e)
                if ev_n[1] == 0 or e[0] != 0:
                    break
                cap = 2 * int(ev_n[0])  # overflow: restore the block's start and rerun
                for y, y_old in zip(Y, snapshot[0]):
                    y[:] = y_old
                armed[:], counts[:], loss_acc[:] = snapshot[1], snapshot[2], snapshot[3]
            err = None if e[0] == 0 else (int(e[1]), int(e[2]), int(e[3]), float(e[4]))
            nev = int(ev_n[0])
            ev_b.append(eb[:nev])
            ev_i.append(ei[:nev])
            ev_t.append(et[:nev])
        if err is not None:
            bar.close()
            b, i, k, v = err
            raise DivergenceError(
                f"HH simulation diverged at t = {(k + 1) * dt:.4g} ms in neuron {i} of parameter "
                f"set {b // R}, trial {b % R}: V = {v:.4g} mV (|V| >= {_V_DIVERGED:g} or NaN); "
                f"the step dt_ms={dt} ({method}) is too large for the currents applied, or the "
                f"input drives the cell outside the model's range", t=(k + 1) * dt, component=i)
        k0 += Kb
        bar.update(Kb)
    bar.close()

    eb = np.concatenate(ev_b).astype(np.int64) if ev_b else np.zeros(0, np.int64)
    ei = np.concatenate(ev_i).astype(np.int64) if ev_i else np.zeros(0, np.int64)
    et = np.concatenate(ev_t).astype(float) if ev_t else np.zeros(0)
    order = np.lexsort((ei, eb, et))
    spikes = {"param": eb[order] // R, "trial": eb[order] % R, "neuron": ei[order],
              "time": et[order]}
    tau = (loss_k1 - loss_k0) * dt
    integral = loss_acc.reshape(P, R, N) if output else np.full((P, R, N), np.nan)
    loss = integral[:, :, out_idx].mean(axis=2) / tau
    final = np.stack(Y).reshape(5, P, R, N)
    t_rec = V_rec = a_rec = None
    if record:
        t_rec = np.arange(n_rec) * rec_every * dt
        V_rec = rec_V.reshape(n_rec, P, R, N)
        a_rec = rec_s.reshape(n_rec, P, R, N)
    return HHResult((P, R, N), dt, steps * dt, method, backend, counts.reshape(P, R, N), spikes,
                    integral, loss, (loss_k0 * dt, loss_k1 * dt), out_idx, final, t_rec, V_rec,
                    a_rec)


# ----------------------------------------------------------------------------- f-I

def steady_rate(times_ms: np.ndarray, duration_ms: float) -> float:
    """Steady firing rate (Hz) from spike times: over the spikes in the second half of the
    run, ``(k - 1) / (t_last - t_first)``; 0 when fewer than two spikes fall there (the
    neuron stopped firing: no sustained rate)."""
    t = np.asarray(times_ms, dtype=float)
    t = t[t >= 0.5 * duration_ms]
    if t.size < 2:
        return 0.0
    return float((t.size - 1) / (t[-1] - t[0]) * 1000.0)


def firing_rates(currents, duration_ms: float = 1000.0, dt_ms: float = 0.01,
                 method: str = "rk4", backend: str = "numba",
                 constants: HHConstants = DEFAULT_CONSTANTS) -> np.ndarray:
    """Steady firing rates (Hz) of single neurons for constant current steps (uA/cm^2) applied
    from rest, one neuron per current, all simulated together (:func:`steady_rate`)."""
    c = np.atleast_1d(np.asarray(currents, dtype=float))
    if c.ndim != 1:
        raise ValueError(f"currents must be a scalar or 1-D, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("current contains NaN or inf")
    res = simulate(c[:, None], duration_ms=duration_ms, dt_ms=dt_ms, method=method,
                   backend=backend, constants=constants, progress=False)
    T = res.duration_ms
    out = np.zeros(c.size)
    for p in range(c.size):
        out[p] = steady_rate(res.spike_times(p, 0, 0), T)
    return out


def firing_rate(current: float, duration_ms: float = 1000.0, dt_ms: float = 0.01) -> float:
    """The steady firing rate in Hz of one neuron for a constant current step (uA/cm^2) from
    rest (RK4, :func:`steady_rate` over the second half of ``duration_ms``)."""
    if isinstance(current, bool) or not np.isscalar(current):
        raise TypeError(f"current must be a real number (uA/cm^2), got {current!r}")
    cur = float(current)
    if not np.isfinite(cur):
        raise ValueError(f"current must be finite, got {current}")
    return float(_cached_rate(cur, float(duration_ms), float(dt_ms)))


@lru_cache(maxsize=4096)
def _cached_rate(current: float, duration_ms: float, dt_ms: float) -> float:
    return firing_rates([current], duration_ms, dt_ms)[0]

