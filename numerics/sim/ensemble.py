r"""Ensembles of independent replicas of an online learning rule, advanced as arrays.

Each replica ``r`` owns a random stream ``Generator(PCG64(SeedSequence(seed).spawn(R)[r]))``.
Random numbers are drawn per replica in blocks of steps and the update is applied to
all replicas at once (shape ``(R, dim)``), so there is no Python loop over replicas
in the update, and a replica's trajectory does not depend on how many other
replicas run with it, on the block size, or on the executor.

Standard errors are between-replica: replicas are independent, so the standard
error of a mean over replicas is ``std / sqrt(R)``.  The per-replica time average
over a window (``average_from``) gives independent samples of a stationary average,
whose spread again yields an honest standard error (no autocorrelated samples are
treated as independent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from numerics.checks import as_int, as_seed_sequence, seed_entropy
from numerics.integrate import DivergenceError
from numerics.progress import progress_bar

__all__ = ["OnlineRule", "Ensemble", "TimeAverage", "simulate_ensemble", "replica_generators"]


class OnlineRule:
    """An online update ``w <- w + lr * f(w, noise)`` for many replicas at once.

    Subclasses set ``dim`` (weights per replica), ``noise_dim`` (random numbers per
    replica per step) and ``lr`` (so that time is ``lr * step``), and implement
    :meth:`step`.  :meth:`draw` gives standard normals unless overridden.
    """

    dim: int
    noise_dim: int
    lr: float = 1.0

    def draw(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        """Random numbers for ``steps`` consecutive steps of one replica: ``(steps, noise_dim)``."""
        return rng.standard_normal((steps, self.noise_dim))

    def step(self, w: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Advance all replicas ``w`` (R, dim) by one update, given ``noise`` (R, noise_dim)."""
        raise NotImplementedError

    def advance(self, w: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Advance all replicas by ``len(noise)`` updates, ``noise`` (n, R, noise_dim): the
        steps one after the other.  A rule with a compiled loop overrides this (same
        result to rounding); :func:`simulate_ensemble` calls it between recorded steps."""
        for z in noise:
            w = self.step(w, z)
        return w


@dataclass(frozen=True)
class TimeAverage:
    """Per-replica time averages of the observables over steps ``[start, stop)``."""

    start: int
    stop: int
    per_replica: np.ndarray  # (R, k)
    mean: np.ndarray  # (k,)
    sem: np.ndarray  # (k,) between-replica standard error

    def to_dict(self) -> dict:
        return {"start": self.start, "stop": self.stop, "mean": self.mean.tolist(),
                "sem": self.sem.tolist()}


@dataclass(frozen=True)
class Ensemble:
    """Statistics over replicas of recorded observables.

    ``steps`` (m,) update counts; ``times`` (m,) = lr * steps; ``mean``, ``sem`` (m, k);
    ``cov`` (m, k, k) between-replica covariance; ``samples`` (m, R, k) if kept.
    """

    steps: np.ndarray
    times: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    cov: np.ndarray
    replicas: int
    seed_entropy: int | tuple[int, ...]
    names: tuple[str, ...]
    samples: np.ndarray | None = None
    time_average: TimeAverage | None = None

    def to_dict(self) -> dict:
        return {"steps": self.steps.tolist(), "times": self.times.tolist(),
                "mean": self.mean.tolist(), "sem": self.sem.tolist(),
                "replicas": self.replicas, "seed_entropy": self.seed_entropy,
                "names": list(self.names),
                "time_average": None if self.time_average is None
                else self.time_average.to_dict()}


def replica_generators(seed, replicas: int) -> list[np.random.Generator]:
    """One independent generator per replica, from ``SeedSequence(seed).spawn(replicas)``."""
    ss = as_seed_sequence(seed)
    return [np.random.Generator(np.random.PCG64(c)) for c in ss.spawn(replicas)]


def _stats(values: np.ndarray):
    R = values.shape[0]
    mean = values.mean(axis=0)
    if R > 1:
        dev = values - mean
        cov = dev.T @ dev / (R - 1)
        sem = np.sqrt(np.diag(cov) / R)
    else:
        cov = np.zeros((values.shape[1], values.shape[1]))
        sem = np.full(values.shape[1], np.nan)
    return mean, sem, cov


def simulate_ensemble(
    rule: OnlineRule,
    w0,
    steps: int,
    *,
    replicas: int,
    seed=0,
    record_steps=None,
    observable: Callable[[np.ndarray], np.ndarray] | None = None,
    names=None,
    average_from: int | None = None,
    keep_samples: bool = False,
    block: int | None = None,
    progress: bool | None = None,
) -> Ensemble:
    """Run ``replicas`` independent copies of ``rule`` for ``steps`` updates.

    Parameters
    ----------
    w0:
        Initial weights: ``(dim,)`` shared by all replicas, ``(replicas, dim)``, or a
        callable ``w0(rng) -> (dim,)`` drawing each replica's start from its own stream.
    record_steps:
        Update counts (0..steps) at which ``observable`` is recorded (default: 0 and steps).
    observable:
        ``f(w) -> (R, k)`` or ``(R,)`` evaluated on all replicas at once (default: ``w``).
    average_from:
        If given, also average the observable over every step in ``[average_from, steps]``
        for each replica (stationary averages with independent-replica errors).
    """
    steps = as_int(steps, "steps", 0)
    replicas = as_int(replicas, "replicas", 1)
    gens = replica_generators(seed, replicas)
    ss_entropy = seed_entropy(seed)
    dim = rule.dim
    if callable(w0):
        w = np.stack([np.asarray(w0(g), dtype=float) for g in gens])
    else:
        w0 = np.asarray(w0, dtype=float)
        if w0.shape == (dim,):
            w = np.tile(w0, (replicas, 1))
        elif w0.shape == (replicas, dim):
            w = w0.copy()
        else:
            raise ValueError(f"w0 must have shape ({dim},) or ({replicas}, {dim}), got {w0.shape}")
    if w.shape != (replicas, dim) or not np.all(np.isfinite(w)):
        raise ValueError(f"initial weights must be finite with shape ({replicas}, {dim})")
    if record_steps is None:
        record_steps = np.array([0, steps])
    record_steps = np.unique(np.asarray(record_steps, dtype=np.int64))
    if record_steps.size and (record_steps[0] < 0 or record_steps[-1] > steps):
        raise ValueError(f"record_steps must lie in [0, {steps}]")
    if average_from is not None:
        average_from = as_int(average_from, "average_from", 0)
        if average_from > steps:
            raise ValueError(f"average_from must be <= steps={steps}, got {average_from}")
    obs = observable if observable is not None else (lambda v: v)

    def measure(v):
        o = np.asarray(obs(v), dtype=float)
        return o.reshape(replicas, -1)

    k = measure(w).shape[1]
    names = tuple(names) if names is not None else tuple(f"o{i}" for i in range(k))
    m = record_steps.size
    means = np.empty((m, k))
    sems = np.empty((m, k))
    covs = np.empty((m, k, k))
    samples = np.empty((m, replicas, k)) if keep_samples else None
    acc = np.zeros((replicas, k)) if average_from is not None else None

    if block is None:
        block = int(max(1, min(4096, 4_000_000 // max(1, replicas * rule.noise_dim))))
    buf = np.empty((block, replicas, rule.noise_dim))
    rec_i = 0

    def record(step_no, v):
        nonlocal rec_i
        while rec_i < m and record_steps[rec_i] == step_no:
            vals = measure(v)
            means[rec_i], sems[rec_i], covs[rec_i] = _stats(vals)
            if samples is not None:
                samples[rec_i] = vals
            rec_i += 1

    record(0, w)
    if acc is not None and average_from == 0:
        acc += measure(w)
    bar = progress_bar(total=steps, desc=f"ensemble x{replicas}", unit="step",
                       disable=None if progress is None else not progress)
    done = 0
    try:
        while done < steps:
            b = min(block, steps - done)
            for r, g in enumerate(gens):
                buf[:b, r, :] = rule.draw(g, b)
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked below
                s = 0
                while s < b:
                    # advance to the next step that is recorded or time-averaged, at once
                    n_now = done + s
                    if acc is not None and n_now + 1 >= average_from:
                        seg = 1
                    else:
                        stop = done + b
                        if rec_i < m:
                            stop = min(stop, int(record_steps[rec_i]))
                        if acc is not None:
                            stop = min(stop, average_from)
                        seg = max(1, stop - n_now)
                    w = rule.advance(w, buf[s:s + seg])
                    s += seg
                    n_now = done + s
                    if rec_i < m and record_steps[rec_i] == n_now:
                        record(n_now, w)
                    if acc is not None and n_now >= average_from:
                        acc += measure(w)
            done += b
            bad = ~np.all(np.isfinite(w), axis=1)
            if bad.any():
                r = int(np.flatnonzero(bad)[0])
                raise DivergenceError(
                    f"simulation diverged before step {done} (t = {rule.lr * done:.6g}) in replica "
                    f"{r}: weights became NaN/inf; the learning rate is likely beyond the "
                    "stability bound", rule.lr * done, r)
            bar.update(b)
    finally:
        bar.close()
    ta = None
    if acc is not None:
        per = acc / (steps - average_from + 1)
        mean, sem, _ = _stats(per)
        ta = TimeAverage(start=average_from, stop=steps + 1, per_replica=per, mean=mean, sem=sem)
    return Ensemble(steps=record_steps, times=rule.lr * record_steps.astype(float), mean=means,
                    sem=sems, cov=covs, replicas=replicas, seed_entropy=ss_entropy,
                    names=names, samples=samples, time_average=ta)
