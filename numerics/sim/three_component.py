r"""Ensembles of networks learning by three-component plasticity, cycle after cycle.

Each cycle of length :math:`T` (Raman, Rotondo & O'Leary 2019, eq. 5) moves the weights by
:math:`T\dot w` with

.. math:: \dot w = -\gamma_1\hat g + \gamma_2\hat n_2 + \gamma_3\sqrt{N/T}\,\hat n_3,

:math:`\hat g` the unit gradient at the start of the cycle, :math:`\hat n_3` a fresh uniform
unit vector (synaptic noise) and :math:`\hat n_2` the task-irrelevant direction: fresh each
cycle, or with ``persistence = p`` the renormalised mixture
:math:`\hat n_2 \leftarrow \mathrm{normalise}((1-p)\,\hat u + p\,\hat n_2)` of a fresh uniform
unit vector :math:`\hat u` and the previous direction (the authors' public code,
``raman_etal_2018/pieces_new_resub.py``, uses :math:`p = 0.1`).  The measured learning rate
of the cycle is :math:`k = -(F[w + T\dot w] - F[w])/(TF[w])` (paper eq. 2), from two loss
evaluations; no prediction is made here.

**Exact shortcuts, same distribution.**  (i) With fresh directions, the random part
:math:`a = \gamma_2\hat n_2 + \gamma_3 s\hat n_3` (:math:`s = \sqrt{N/T}`) is isotropic, so
its direction is a uniform unit vector independent of its norm,
:math:`|a|^2 = \gamma_2^2 + \gamma_3^2s^2 + 2\gamma_2\gamma_3 s\,c` with
:math:`c = \hat n_2\cdot\hat n_3 \sim 2\,\mathrm{Beta}(\tfrac{N-1}2, \tfrac{N-1}2) - 1`: one
random unit vector per cycle instead of two (``literal=True`` draws both, as the rule is
written).  (ii) When the loss depends only on :math:`m < N` coordinates (the reduced linear
student), a uniform unit vector is :math:`z/|z|` with only the :math:`m` relevant Gaussian
coordinates drawn and :math:`|z_\perp|^2\sim\chi^2_{N-m}` for the rest; with persistence the
irrelevant part is tracked by its norm and by the Gaussian component of each new draw along
it (the remainder is again :math:`\chi^2`).  Runs advance as arrays; each run has its own
random streams (children of ``SeedSequence(seed).spawn(runs)``), filled in blocks of
cycles, so a run's trajectory depends neither on how many runs are simulated with it nor on
the block size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics.checks import as_int, as_seed_sequence, seed_entropy
from numerics.integrate import DivergenceError
from numerics.progress import progress_bar
from numerics.sim.students import exact_trace, hutchinson_trace
from numerics.stats import replica_sem

__all__ = ["Plasticity", "CycleEnsemble", "DrawSample", "simulate_cycles", "sample_k",
           "BLOCK_ELEMENTS"]

#: random numbers drawn ahead per refill (all runs together); the results do not depend on it
BLOCK_ELEMENTS = 2_000_000


def _nonneg(v, name):
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {v!r}") from None
    if not np.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be in [0, inf), got {v!r}")
    return x


@dataclass(frozen=True)
class Plasticity:
    """Three-component plasticity: magnitudes gamma1..3, cycle length T, persistence p."""

    gamma1: float
    gamma2: float
    gamma3: float
    T: float
    persistence: float = 0.0

    def __post_init__(self):
        for name in ("gamma1", "gamma2", "gamma3"):
            object.__setattr__(self, name, _nonneg(getattr(self, name), name))
        T = _nonneg(self.T, "T")
        if T == 0:
            raise ValueError(f"T must be in (0, inf), got {self.T!r}")
        object.__setattr__(self, "T", T)
        p = _nonneg(self.persistence, "persistence")
        if p >= 1:
            raise ValueError(f"persistence must be in [0, 1), got {self.persistence!r}")
        object.__setattr__(self, "persistence", p)

    def to_dict(self) -> dict:
        return {"gamma1": self.gamma1, "gamma2": self.gamma2, "gamma3": self.gamma3,
                "T": self.T, "persistence": self.persistence}


@dataclass(frozen=True)
class CycleEnsemble:
    r"""Runs of three-component learning.

    ``loss`` (cycles + 1, runs) at the start of every cycle and at the end; ``k`` (cycles,
    runs) measured per cycle.  At ``record_cycles`` (m,) the state at the start of that cycle
    and the realised weight change are recorded, each (m, runs): ``grad_norm`` G,
    ``curv_grad`` :math:`\kappa = \hat g^\top H\hat g`, ``trace_hess`` (exact, or Hutchinson
    with standard error ``trace_se``), ``wdot_norm2`` :math:`|\dot w|^2`, ``curv_wdot``
    :math:`\dot w^\top H\dot w` and ``k_second_order``
    :math:`-(G\,\hat g\cdot\dot w + \tfrac T2\dot w^\top H\dot w)/F`.
    """

    N: int
    relevant_dim: int
    plasticity: Plasticity
    runs: int
    cycles: int
    seed_entropy: int | tuple[int, ...]
    loss: np.ndarray
    k: np.ndarray
    record_cycles: np.ndarray
    grad_norm: np.ndarray
    curv_grad: np.ndarray
    trace_hess: np.ndarray
    trace_se: np.ndarray
    wdot_norm2: np.ndarray
    curv_wdot: np.ndarray
    k_second_order: np.ndarray

    @property
    def record_loss(self) -> np.ndarray:
        """Loss at the start of each recorded cycle (m, runs)."""
        return self.loss[self.record_cycles]

    @property
    def difficulty(self) -> np.ndarray:
        r"""Realised local task difficulty :math:`G_F = \dot w^\top H\dot w/(2G|\dot w|^2)`."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.curv_wdot / (2 * self.grad_norm * self.wdot_norm2)

    def to_dict(self) -> dict:
        return {"N": self.N, "relevant_dim": self.relevant_dim,
                "plasticity": self.plasticity.to_dict(), "runs": self.runs,
                "cycles": self.cycles, "seed_entropy": self.seed_entropy,
                "loss_mean": self.loss.mean(1).tolist(),
                "loss_sem": replica_sem(self.loss).tolist(),
                "k_mean": self.k.mean(1).tolist(), "k_sem": replica_sem(self.k).tolist(),
                "record_cycles": self.record_cycles.tolist()}


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products in one pass (each row's value independent of the others)."""
    return np.einsum("ij,ij->i", a, b)


class _Directions:
    """Random parts of the weight change for all runs (relevant coordinates + bookkeeping).

    Each run draws from three streams of its own (Gaussian vectors; scalar Gaussians or the
    beta variates; chi-square variates), each consumed strictly in cycle order; they are
    filled in blocks of cycles, so a run's numbers depend neither on the block size nor on
    the other runs.
    """

    def __init__(self, N: int, m: int, plast: Plasticity, streams, literal: bool):
        self.N, self.m, self.p = N, m, plast
        self.streams = streams  # per run: (vectors, scalars, chi-square/beta)
        self.R = R = len(streams)
        self.s = np.sqrt(N / plast.T)
        self.df = N - m
        self.literal = literal or plast.persistence > 0
        nv = 2 if self.literal else 1
        self.block = int(max(1, min(256, BLOCK_ELEMENTS // max(1, R * m * nv))))
        self.vec = np.empty((R, self.block, nv, m))
        self.sca = np.zeros((R, self.block, 2))
        self.chi = np.zeros((R, self.block, 2))
        self.pos = self.block
        if self.literal:
            # initial task-irrelevant direction: a fresh uniform unit vector
            z = np.empty((R, m))
            chi = np.zeros(R)
            for r, (gv, _gs, gc) in enumerate(streams):
                gv.standard_normal(out=z[r])
                if self.df > 0:
                    chi[r] = gc.chisquare(self.df)
            zz = np.sqrt((z * z).sum(1) + chi)
            self.n2 = z / zz[:, None]
            self.r2 = np.sqrt(chi) / zz

    def _refill(self):
        b, df = self.block, self.df
        for r, (gv, gs, gc) in enumerate(self.streams):
            gv.standard_normal(out=self.vec[r])
            if self.literal:
                if df > 0:
                    gs.standard_normal(out=self.sca[r])
                    if df > 1:
                        self.chi[r] = gc.chisquare(df - 1, size=(b, 2))
            else:
                if df > 0:
                    self.chi[r, :, 0] = gc.chisquare(df, size=b)
                # n2.n3 from its own stream (the scalar stream is unused on this path)
                if self.N > 1:
                    self.chi[r, :, 1] = 2 * gs.beta(0.5 * (self.N - 1), 0.5 * (self.N - 1),
                                                    size=b) - 1
                else:
                    self.chi[r, :, 1] = np.where(gs.random(b) < 0.5, 1.0, -1.0)
        self.pos = 0

    def draw(self):
        """Returns (a_rel (R, m), |a_irr|^2 (R,)) for one cycle."""
        if self.pos == self.block:
            self._refill()
        t = self.pos
        self.pos += 1
        p = self.p
        g2, g3, s = np.float64(p.gamma2), np.float64(p.gamma3), np.float64(self.s)
        if not self.literal:
            z = self.vec[:, t, 0]
            chi, c = self.chi[:, t, 0], self.chi[:, t, 1]
            rho2 = np.maximum(g2**2 + (g3 * s) ** 2 + 2 * g2 * g3 * s * c, 0.0)
            zz = _rowdot(z, z) + chi
            a = z * (np.sqrt(rho2 / zz))[:, None]
            return a, rho2 * chi / zz
        # literal rule: persistent task-irrelevant direction and fresh synaptic noise
        q = p.persistence
        z2, z3 = self.vec[:, t, 0], self.vec[:, t, 1]
        zeta, xi = self.sca[:, t, 0], self.sca[:, t, 1]
        rest2, rest3 = self.chi[:, t, 0], self.chi[:, t, 1]
        n2, r2 = self.n2, self.r2
        Zn = np.sqrt((z2 * z2).sum(1) + zeta**2 + rest2)
        u_irr2 = (zeta**2 + rest2) / Zn**2
        a_rel = (1 - q) * z2 / Zn[:, None] + q * n2
        a_irr2 = (1 - q) ** 2 * u_irr2 + q**2 * r2**2 + 2 * q * (1 - q) * zeta * r2 / Zn
        norm = np.sqrt((a_rel * a_rel).sum(1) + a_irr2)
        self.n2 = n2 = a_rel / norm[:, None]
        self.r2 = r2 = np.sqrt(np.maximum(a_irr2, 0.0)) / norm
        Z3 = np.sqrt((z3 * z3).sum(1) + xi**2 + rest3)
        n3_rel = z3 / Z3[:, None]
        n3_irr2 = (xi**2 + rest3) / Z3**2
        a = g2 * n2 + g3 * s * n3_rel
        a_irr = g2**2 * r2**2 + (g3 * s) ** 2 * n3_irr2 + 2 * g2 * g3 * s * xi * r2 / Z3
        return a, np.maximum(a_irr, 0.0)


class _Chunked:
    """Evaluate a model's batched methods in chunks of runs (``model.batch_hint`` per call),
    which keeps the intermediate arrays of wide networks in cache; results are identical."""

    def __init__(self, model):
        self.model = model
        self.size = int(getattr(model, "batch_hint", 1 << 30))

    def __getattr__(self, name):
        return getattr(self.model, name)

    def _apply(self, fn, w, *rest):
        R = w.shape[0]
        if R <= self.size:
            return fn(w, *rest)
        parts = [fn(w[s:s + self.size], *(r[s:s + self.size] for r in rest))
                 for s in range(0, R, self.size)]
        return np.concatenate(parts, axis=0)

    def loss(self, w):
        return self._apply(self.model.loss, w)

    def grad(self, w):
        return self._apply(self.model.grad, w)

    def hvp(self, w, v):
        return self._apply(self.model.hvp, w, v)


def _trace(model, w, trace, probes, probe_gens):
    R = w.shape[0]
    if trace == "none":
        return np.full(R, np.nan), np.full(R, np.nan)
    if trace == "model":
        return np.full(R, float(model.trace_hess(w))), np.zeros(R)
    if trace == "exact":
        return exact_trace(model, w), np.zeros(R)
    if trace == "hutchinson":
        return hutchinson_trace(model, w, probes, probe_gens)
    raise ValueError(f"trace must be 'model', 'exact', 'hutchinson' or 'none', got {trace!r}")


def simulate_cycles(model, w0, cycles: int, plasticity: Plasticity, *, runs: int, seed=0,
                    record_cycles=None, trace: str | None = None, probes: int = 16,
                    literal: bool = False, progress: bool | None = None) -> CycleEnsemble:
    """Run ``runs`` independent networks through ``cycles`` three-component cycles.

    ``model`` provides ``dim`` (N), ``relevant_dim`` (m), batched ``loss``, ``grad`` and
    ``hvp``; ``w0`` is ``(m,)`` shared or ``(runs, m)``.  At ``record_cycles`` the state
    quantities of :class:`CycleEnsemble` are recorded; ``trace`` is how tr H is obtained
    there: ``"model"`` (the model's own ``trace_hess``; default when it has one), ``"exact"``
    (m Hessian-vector products per run) or ``"hutchinson"`` (``probes`` Rademacher probes per
    run, from a separate random stream) or ``"none"`` (not recorded).
    """
    runs = as_int(runs, "runs", 1)
    ss = as_seed_sequence(seed)
    return _run(model, w0, cycles, plasticity, ss.spawn(runs), seed_entropy(ss),
                record_cycles, trace, probes, literal, progress)


def _run(model, w0, cycles, plasticity, children, entropy, record_cycles, trace, probes,
         literal, progress) -> CycleEnsemble:
    if not isinstance(plasticity, Plasticity):
        raise TypeError("plasticity must be a Plasticity")
    cycles = as_int(cycles, "cycles", 1)
    runs = len(children)
    N, m = int(model.dim), int(model.relevant_dim)
    model = _Chunked(model)
    # per run: vectors, scalars, chi-square/beta, Hutchinson probes
    kids = [c.spawn(4) for c in children]
    streams = [tuple(np.random.Generator(np.random.PCG64(k)) for k in ks[:3]) for ks in kids]
    w = np.asarray(w0, dtype=float)
    if w.shape == (m,):
        w = np.tile(w, (runs, 1))
    elif w.shape != (runs, m):
        raise ValueError(f"w0 must have shape ({m},) or ({runs}, {m}), got {w.shape}")
    w = w.copy()
    rec = np.unique(np.asarray([] if record_cycles is None else record_cycles, dtype=np.int64))
    if rec.size and (rec[0] < 0 or rec[-1] >= cycles):
        raise ValueError(f"record_cycles must lie in [0, {cycles - 1}]")
    if trace is None:
        trace = "model" if hasattr(model, "trace_hess") else "hutchinson"
    probe_gens = [np.random.Generator(np.random.PCG64(ks[3])) for ks in kids] \
        if (trace == "hutchinson" and rec.size) else None
    dirs = _Directions(N, m, plasticity, streams, literal)
    g1, T = plasticity.gamma1, plasticity.T

    loss = np.empty((cycles + 1, runs))
    ks = np.empty((cycles, runs))
    out = {name: np.full((rec.size, runs), np.nan) for name in
           ("grad_norm", "curv_grad", "trace_hess", "trace_se", "wdot_norm2", "curv_wdot",
            "k_second_order")}
    F = model.loss(w)
    loss[0] = F
    ri = 0
    bar = progress_bar(total=cycles, desc=f"cycles x{runs}", unit="cycle",
                       disable=None if progress is None else not progress)
    try:
        for t in range(cycles):
            g = model.grad(w)
            G = np.sqrt(_rowdot(g, g))
            inv = np.divide(1.0, G, out=np.zeros_like(G), where=G > 0)
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked below
                a, a_irr2 = dirs.draw()
                # wd = a - gamma1 g_hat, w_new = w + T wd, with few passes over (runs, m)
                wd = a
                wd -= (g1 * inv)[:, None] * g
                w_new = T * wd
                w_new += w
                F_new = model.loss(w_new)
            if not np.all(np.isfinite(F_new)):
                r = int(np.flatnonzero(~np.isfinite(F_new))[0])
                raise DivergenceError(f"three-component simulation diverged in cycle {t} (run "
                                      f"{r}): the loss became NaN/inf; T * |wdot| is too large "
                                      "for this network", float(t * T), r)
            with np.errstate(divide="ignore", invalid="ignore"):
                ks[t] = -(F_new - F) / (T * F)
            if ri < rec.size and rec[ri] == t:
                ghat = g * inv[:, None]
                Hg = model.hvp(w, ghat)
                Hw = model.hvp(w, wd)
                out["grad_norm"][ri] = G
                out["curv_grad"][ri] = (ghat * Hg).sum(1)
                tr, se = _trace(model, w, trace, probes, probe_gens)
                out["trace_hess"][ri], out["trace_se"][ri] = tr, se
                out["wdot_norm2"][ri] = (wd * wd).sum(1) + a_irr2
                cw = (wd * Hw).sum(1)
                out["curv_wdot"][ri] = cw
                with np.errstate(divide="ignore", invalid="ignore"):
                    out["k_second_order"][ri] = -((g * wd).sum(1) + 0.5 * T * cw) / F
                ri += 1
            w, F = w_new, F_new
            loss[t + 1] = F
            bar.update(1)
    finally:
        bar.close()
    return CycleEnsemble(N=N, relevant_dim=m, plasticity=plasticity, runs=runs, cycles=cycles,
                         seed_entropy=entropy, loss=loss, k=ks, record_cycles=rec,
                         **out)


@dataclass(frozen=True)
class DrawSample:
    """Many independent one-cycle weight changes from one fixed state.

    ``k`` (draws,) measured; ``k_second_order`` (draws,); state: ``loss``, ``grad_norm``,
    ``curv_grad`` (kappa), ``trace_hess``, ``trace_hess_sq`` (tr H^2, if the model gives it,
    else NaN) and ``curv_grad_sq`` (eta = |H g_hat|^2).
    """

    k: np.ndarray
    k_second_order: np.ndarray
    loss: float
    grad_norm: float
    curv_grad: float
    trace_hess: float
    trace_hess_sq: float
    curv_grad_sq: float

    def to_dict(self) -> dict:
        return {"draws": int(self.k.size), "k_mean": float(self.k.mean()),
                "k_sem": float(replica_sem(self.k)), "loss": self.loss, "grad_norm": self.grad_norm,
                "curv_grad": self.curv_grad, "trace_hess": self.trace_hess,
                "trace_hess_sq": self.trace_hess_sq, "curv_grad_sq": self.curv_grad_sq}


def sample_k(model, w, plasticity: Plasticity, draws: int, *, seed=0, chunk: int | None = None,
             literal: bool = False, max_hessian_dim: int = 2000) -> DrawSample:
    r"""``draws`` independent cycles from the single state ``w`` (one cycle per draw).

    The state's :math:`\operatorname{tr}H^2` comes from the model (linear students) or from the
    full Hessian built by Hessian-vector products when ``m <= max_hessian_dim`` (else NaN).

    Draw ``d`` uses ``SeedSequence(seed).spawn(draws)[d]``, so results do not depend on
    ``chunk`` (the number of draws advanced together, chosen to bound memory).
    """
    if plasticity.persistence:
        raise ValueError("sample_k draws fresh directions; persistence must be 0")
    draws = as_int(draws, "draws", 2)
    m = int(model.relevant_dim)
    w = np.asarray(w, dtype=float).reshape(1, m)
    if chunk is None:
        chunk = int(max(1, min(draws, 4_000_000 // max(m, 1))))
    children = as_seed_sequence(seed).spawn(draws)
    ks, k2 = np.empty(draws), np.empty(draws)
    for s in range(0, draws, chunk):
        kids = children[s:s + chunk]
        ens = _run(model, w[0], 1, plasticity, kids, 0, [0], "none", 16, literal, False)
        ks[s:s + len(kids)] = ens.k[0]
        k2[s:s + len(kids)] = ens.k_second_order[0]
    g = model.grad(w)
    G = float(np.linalg.norm(g))
    ghat = g / G if G > 0 else g
    Hg = model.hvp(w, ghat)
    tr = float(model.trace_hess(w)) if hasattr(model, "trace_hess") else float(
        exact_trace(model, w)[0])
    if hasattr(model, "trace_hess_sq"):
        tr2 = float(model.trace_hess_sq())
    elif m <= max_hessian_dim:
        H = np.concatenate([model.hvp(np.broadcast_to(w, (len(b), m)), np.eye(m)[b])
                            for b in np.array_split(np.arange(m), max(1, m // 256))])
        tr2 = float(np.sum(H * H))
    else:
        tr2 = float("nan")
    return DrawSample(k=ks, k_second_order=k2, loss=float(model.loss(w)[0]), grad_norm=G,
                      curv_grad=float((ghat * Hg).sum()), trace_hess=tr, trace_hess_sq=tr2,
                      curv_grad_sq=float((Hg * Hg).sum()))
