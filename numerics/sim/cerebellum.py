r"""Stochastic simulation of online learning in the cerebellar task, many runs at once.

Implements the rule of :mod:`numerics.cerebellum.moments` sample by sample, without any of
its per-update maps: the sampled loop :math:`X_{n+1} = \Phi X_n + \Gamma_r r_n +
\Gamma_z\,w\cdot h_n` is stepped every ``dt``, the error :math:`e_n = HX_n - r_n` is averaged
over the window before each update, and every :math:`\Delta t` the weights change by
:math:`-\gamma(\bar e\tilde h + \kappa w) + \xi`.

Every combination of tasks (expansions of one seed, whose granule layers nest), rules
(learning steps, noise) and replicas is one row of the state arrays ``X`` (rows, n_x) and
``W`` (rows, N_max), advanced together; smaller layers are zero-padded (their padding never
moves: the update is proportional to :math:`\tilde h` restricted to the layer, and the noise
is drawn for the layer's own units).  Row ``(c, r)`` (configuration c, replica r) draws its
initial state and its noise from ``SeedSequence(seed).spawn(C)[c].spawn(R)[r]``, so its
trajectory does not depend on which other rows run with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from numerics.cerebellum.moments import OnlineRule
from numerics.cerebellum.task import CerebellarTask
from numerics.checks import as_int, as_seed_sequence, seed_entropy
from numerics.integrate import DivergenceError
from numerics.progress import progress_bar
from numerics.stats import replica_sem

__all__ = ["LearningConfig", "OnlineLearningEnsemble", "simulate_online_learning"]


@dataclass(frozen=True)
class LearningConfig:
    """One simulated configuration: index of its task, its rule, its start (mean, cov)."""

    task_index: int
    q: int
    rule: OnlineRule

    def to_dict(self) -> dict:
        return {"task_index": self.task_index, "q": self.q, "rule": self.rule.to_dict()}


@dataclass(frozen=True)
class OnlineLearningEnsemble:
    """Task loss of every replica at the recorded updates.

    ``losses`` (C, R, m) for C configurations, R replicas, m recorded updates ``updates``;
    ``mean``/``sem`` (C, m) over replicas (standard error from independent replicas);
    ``final_w`` (C, R, N_max) the weights after the last update.
    """

    configs: tuple[LearningConfig, ...]
    updates: np.ndarray
    losses: np.ndarray
    final_w: np.ndarray
    replicas: int
    seed_entropy: int | tuple[int, ...]

    @property
    def mean(self) -> np.ndarray:
        return self.losses.mean(axis=1)

    @property
    def sem(self) -> np.ndarray:
        return replica_sem(self.losses, axis=1)

    def time_average(self, start: int, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-replica averages of the loss over recorded updates in ``[start, stop]``,
        then their mean and standard error over replicas: ``(mean (C,), sem (C,))``."""
        stop = int(self.updates[-1]) if stop is None else stop
        sel = (self.updates >= start) & (self.updates <= stop)
        if not sel.any():
            raise ValueError(f"no recorded update in [{start}, {stop}]")
        per = self.losses[:, :, sel].mean(axis=2)
        return per.mean(axis=1), replica_sem(per, axis=1)

    def to_dict(self) -> dict:
        return {"configs": [c.to_dict() for c in self.configs],
                "updates": self.updates.tolist(), "mean": self.mean.tolist(),
                "sem": self.sem.tolist(), "replicas": self.replicas,
                "seed_entropy": self.seed_entropy}


def _check_nested(tasks: Sequence[CerebellarTask]) -> CerebellarTask:
    big = max(tasks, key=lambda t: t.n_weights)
    for t in tasks:
        N = t.n_weights
        same = (t.dt == big.dt and t.n_samples == big.n_samples
                and np.array_equal(t.r, big.r) and np.array_equal(t.loop.Phi, big.loop.Phi)
                and np.array_equal(t.h, big.h[:, :N]))
        if not same:
            raise ValueError("tasks must be expansions of one task (same seed, reference, loop "
                             "and dt; nested granule layers) to be simulated together")
    return big


def _factor(cov: np.ndarray) -> np.ndarray:
    ev, V = np.linalg.eigh(0.5 * (cov + cov.T))
    if ev.min() < -1e-9 * max(ev.max(), 1e-300):
        raise ValueError(f"start covariance must be positive semidefinite (smallest eigenvalue "
                         f"{ev.min():.3g})")
    return V * np.sqrt(np.clip(ev, 0, None))


def simulate_online_learning(
    tasks: CerebellarTask | Sequence[CerebellarTask],
    rules: OnlineRule | Sequence[OnlineRule],
    n_updates: int,
    *,
    replicas: int,
    seed=0,
    start: Callable | Sequence | None = None,
    record_updates=None,
    phase: int = 0,
    configs: Sequence[tuple[int, OnlineRule]] | None = None,
    progress: bool | None = None,
) -> OnlineLearningEnsemble:
    """Simulate ``replicas`` runs of every (task, rule) combination for ``n_updates`` updates.

    Parameters
    ----------
    tasks, rules:
        One or several; configurations are all pairs, tasks outermost.  The rules must
        share their timing (update interval, windows).
    start:
        ``None`` (loop at rest, w = 0); a callable ``start(task, rule) -> (mean, cov)``; or a
        sequence of ``(mean, cov)`` per configuration.  ``mean`` is the joint (x, w) of
        length ``n_states + N`` or ``w`` alone (loop at rest); ``cov`` (same size, or None)
        makes each replica start from its own Gaussian draw.
    record_updates:
        Update counts (0..n_updates) at which the task loss is recorded (default: all).
    phase:
        Update index within the periodic reference at which learning starts.
    configs:
        Explicit ``(task index, rule)`` pairs instead of all pairs of ``tasks`` x ``rules``
        (``rules`` is then ignored).
    """
    tasks = [tasks] if isinstance(tasks, CerebellarTask) else list(tasks)
    if configs is not None:
        configs = [(int(i), r) for i, r in configs]
        if any(not 0 <= i < len(tasks) for i, _ in configs):
            raise ValueError(f"configs task indices must lie in [0, {len(tasks)})")
        rules = [r for _, r in configs]
    rules = [rules] if isinstance(rules, OnlineRule) else list(rules)
    if not tasks or not rules:
        raise ValueError("need at least one task and one rule")
    for r in rules:
        if not isinstance(r, OnlineRule):
            raise TypeError(f"rules must be OnlineRule, got {type(r).__name__}")
        if r.timing != rules[0].timing:
            raise ValueError("all rules must share update_interval_s, error_window_s and "
                             "activity_lag_s")
    n_updates = as_int(n_updates, "n_updates", 0)
    R = as_int(replicas, "replicas", 1)
    phase = as_int(phase, "phase", 0)
    big = _check_nested(tasks)
    from numerics.cerebellum.moments import update_maps

    maps = update_maps(big, rules[0])  # validates the timing against dt
    M, (w0s, w1s), lag = maps.M, maps.window, maps.lag
    loop = big.loop
    nx, Nmax, nT = loop.n_states, big.n_weights, big.n_samples
    if configs is None:
        configs = [(i, r) for i in range(len(tasks)) for r in rules]
    configs = tuple(LearningConfig(i, tasks[i].q, r) for i, r in configs)
    C = len(configs)
    rows = C * R
    if record_updates is None:
        record_updates = np.arange(n_updates + 1)
    record_updates = np.unique(np.asarray(record_updates, dtype=np.int64))
    if record_updates.size and (record_updates[0] < 0 or record_updates[-1] > n_updates):
        raise ValueError(f"record_updates must lie in [0, {n_updates}]")

    # per-row parameters
    Nrow = np.repeat([tasks[c.task_index].n_weights for c in configs], R)
    gamma = np.repeat([c.rule.gamma for c in configs], R)
    decay = np.repeat([c.rule.decay for c in configs], R)
    kind = np.repeat([c.rule.noise for c in configs], R)
    snr = np.repeat([c.rule.snr for c in configs], R)
    sigma = np.repeat([c.rule.noise_std for c in configs], R)
    mask = (np.arange(Nmax)[None, :] < Nrow[:, None]).astype(float)
    ss = as_seed_sequence(seed)
    gens = [[np.random.Generator(np.random.PCG64(s)) for s in cs.spawn(R)]
            for cs in ss.spawn(C)]

    # initial states
    X = np.zeros((rows, nx))
    W = np.zeros((rows, Nmax))
    for ci, cfg in enumerate(configs):
        task = tasks[cfg.task_index]
        N = task.n_weights
        if start is None:
            continue
        spec = start(task, cfg.rule) if callable(start) else start[ci]
        mean, cov = spec
        mean = np.asarray(mean, dtype=float)
        if mean.shape == (N,):
            mean = np.concatenate([np.zeros(nx), mean])
            if cov is not None:
                cov_full = np.zeros((nx + N, nx + N))
                cov_full[nx:, nx:] = np.asarray(cov, dtype=float)
                cov = cov_full
        if mean.shape != (nx + N,) or not np.all(np.isfinite(mean)):
            raise ValueError(f"start mean for configuration {ci} must be finite with length "
                             f"{N} (w) or {nx + N} (x, w)")
        sl = slice(ci * R, (ci + 1) * R)
        if cov is None:
            X[sl] = mean[:nx]
            W[sl, :N] = mean[nx:]
        else:
            cov = np.asarray(cov, dtype=float)
            if cov.shape != (nx + N, nx + N):
                raise ValueError(f"start cov for configuration {ci} must be ({nx + N}, "
                                 f"{nx + N})")
            Lf = _factor(cov)
            draws = np.stack([g.standard_normal(nx + N) for g in gens[ci]])
            s0 = mean + draws @ Lf.T
            X[sl] = s0[:, :nx]
            W[sl, :N] = s0[:, nx:]

    noisy = kind != "none"
    task_rows = [np.flatnonzero(np.repeat([c.task_index for c in configs], R) == i)
                 for i in range(len(tasks))]
    losses = np.empty((C, R, record_updates.size))
    rec_i = 0

    def record(j):
        nonlocal rec_i
        while rec_i < record_updates.size and record_updates[rec_i] == j:
            for i, t in enumerate(tasks):
                rr = task_rows[i]
                vals = t.task_loss(W[rr, :t.n_weights])
                losses.reshape(rows, -1)[rr, rec_i] = vals
            rec_i += 1

    record(0)
    Phi_T, Gr, Gz, H = loop.Phi.T, loop.Gamma_r, loop.Gamma_z, loop.H
    h, r = big.h, big.r
    win = w1s - w0s
    block = int(max(1, min(n_updates, 2_000_000 // max(1, rows * Nmax))))
    buf = np.zeros((rows, block, Nmax))
    inv_sqrt_N = 1.0 / np.sqrt(Nrow)
    bar = progress_bar(total=n_updates, desc=f"cerebellum x{rows}", unit="update",
                       disable=None if progress is None else not progress)
    acc = np.zeros(rows)
    try:
        for j in range(n_updates):
            b = j % block
            if b == 0 and noisy.any():
                nb = min(block, n_updates - j)
                for ci, cfg in enumerate(configs):
                    if cfg.rule.noise == "none":
                        continue
                    N = tasks[cfg.task_index].n_weights
                    for ri, g in enumerate(gens[ci]):
                        buf[ci * R + ri, :nb, :N] = g.standard_normal((nb, N))
            base = (phase + j) * M
            acc[:] = 0.0
            with np.errstate(over="ignore", invalid="ignore"):
                for o in range(M):
                    p = (base + o) % nT
                    if w0s <= o < w1s:
                        acc += X @ H - r[p]
                    z = W @ h[p]
                    X = X @ Phi_T + Gr * r[p] + np.outer(z, Gz)
                ebar = acc / win
                htil = h[(base + M - lag) % nT]
                delta = (gamma * ebar)[:, None] * htil[None, :] * mask
                W = W - delta - (gamma * decay)[:, None] * W
                if noisy.any():
                    scale = np.where(kind == "additive", sigma, 0.0)
                    scale = np.where(kind == "step", gamma / snr, scale)
                    scale = np.where(kind == "proportional",
                                     np.linalg.norm(delta, axis=1) / snr, scale)
                    W = W + (scale * inv_sqrt_N)[:, None] * buf[:, b, :]
            if not (np.all(np.isfinite(W)) and np.all(np.isfinite(X))):
                bad = int(np.flatnonzero(~np.all(np.isfinite(W), axis=1))[0]) \
                    if not np.all(np.isfinite(W)) else 0
                cfg = configs[bad // R]
                raise DivergenceError(
                    f"simulation diverged at update {j + 1} (t = "
                    f"{(j + 1) * cfg.rule.update_interval_s:g} s) for q = {cfg.q}, gamma = "
                    f"{cfg.rule.gamma:g}: weights became NaN/inf; gamma is beyond the "
                    "mean-square stability of the online rule (see max_stable_gamma)",
                    (j + 1) * cfg.rule.update_interval_s, bad)
            record(j + 1)
            bar.update(1)
    finally:
        bar.close()
    return OnlineLearningEnsemble(configs=configs, updates=record_updates, losses=losses,
                                  final_w=W.reshape(C, R, Nmax), replicas=R,
                                  seed_entropy=seed_entropy(ss))
