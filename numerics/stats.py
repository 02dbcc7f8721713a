r"""Steady state of a simulated series, measured: transient truncation, confidence interval
of the stationary mean, and a stationarity test that can say "not stationary".

Seed 000's simulations took the mean of the last few updates as the "steady state" of runs
that had not got there.  This module makes the measurement explicit:

* :func:`mser` — the Marginal Standard Error Rule (White 1997; MSER-5: White, Cobb & Spratt
  2000): truncate the first :math:`d` observations where
  :math:`d^* = \arg\min_{d\le n/2} \frac{1}{(n-d)^2}\sum_{i>d}(x_i - \bar x_{d})^2`, the
  squared standard error of the remaining mean if the remainder were uncorrelated; MSER-5
  applies it to the means of consecutive batches of 5.
* :func:`batch_means` — non-overlapping batch means (Law & Kelton, *Simulation Modeling and
  Analysis*, §9.5.3): with :math:`b` batch means :math:`\bar y_k` the confidence interval of
  the mean is :math:`\bar y \pm t_{b-1,1-\alpha/2}\, s_b/\sqrt b`; the lag-1 correlation of the
  batch means is reported (it should be near 0).
* :func:`heidelberger_welch` — Heidelberger & Welch (1983): Schruben's Cramér–von Mises test
  of the scaled cumulative-sum bridge
  :math:`B(t) = (S_{\lfloor nt\rfloor} - \lfloor nt\rfloor\bar x)/\sqrt{n\,S(0)}`, with the
  spectral density at zero :math:`S(0)` from an autoregressive fit to the second half;
  the first 10%, 20%, ... of the series are discarded until the test passes, and if it
  fails with half the series gone, the series is **not stationary**.  The Brownian-bridge
  Cramér–von Mises distribution is the series of Anderson & Darling (1952).
* :func:`steady_state` — all three: MSER-5 truncation, the stationarity test on what is left,
  then the batch-means interval; a run too short or still drifting returns
  ``stationary=False`` and the reason, not a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gamma as gamma_fn
from scipy.special import kv
from scipy.stats import t as student_t

__all__ = ["Truncation", "mser", "BatchMeans", "batch_means", "spectral_density_at_zero",
           "cramer_von_mises_cdf", "HeidelbergerWelch", "heidelberger_welch", "SteadyState",
           "steady_state", "replica_sem", "jackknife_log_variance"]


def replica_sem(x, axis: int = -1, *, single: float = np.nan) -> np.ndarray:
    r"""Standard error of the mean over independent replicas along ``axis``:
    :math:`s/\sqrt n` with the unbiased (``ddof=1``) sample standard deviation :math:`s` of
    the :math:`n` replicas; with fewer than two replicas there is no estimate and every entry
    is ``single`` (NaN unless given)."""
    x = np.asarray(x, dtype=float)
    n = x.shape[axis]
    return x.std(axis=axis, ddof=1) / np.sqrt(n) if n > 1 else np.full(
        np.delete(x.shape, axis), single)


def jackknife_log_variance(x, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Jackknife estimate of :math:`\log\sigma^2` from the sample variance along ``axis``, and
    its standard error (Miller 1968, *Jackknifing variances*, Ann. Math. Statist. 39:567).

    With :math:`n` observations, :math:`\ell = \log s^2` and the leave-one-out
    :math:`\ell_{(i)} = \log s^2_{(i)}`,
    :math:`s^2_{(i)} = \bigl((n-1)s^2 - \tfrac{n}{n-1}(x_i-\bar x)^2\bigr)/(n-2)`:

    .. math:: \hat\ell_J = n\ell - (n-1)\bar\ell_{(\cdot)},\qquad
              \mathrm{SE}^2 = \tfrac{n-1}{n}\sum_i(\ell_{(i)}-\bar\ell_{(\cdot)})^2 .

    The plain :math:`\log s^2` is biased low by :math:`\approx\mathrm{Var}(s^2)/2\sigma^4 =
    (\kappa - \frac{n-3}{n-1})/2n` (:math:`\kappa` the kurtosis; :math:`1/(n-1)` for
    Gaussian data), a sizeable fraction of its standard error
    :math:`\sqrt{(\kappa-1)/n}` when the data are heavy-tailed; the delta-method standard
    error from the sample kurtosis is too small at small :math:`n` as well.  The jackknife
    removes the :math:`O(1/n)` bias and its standard error tracks the spread (tests check
    both on Gaussian and Laplace samples)."""
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        raise ValueError("x must have at least one dimension")
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    if n < 3:
        raise ValueError(f"need at least 3 observations along axis {axis}, got {n}")
    if not np.all(np.isfinite(a)):
        raise ValueError("x contains NaN or inf")
    v = a.var(axis=0, ddof=1)
    if np.any(v <= 0):
        raise ValueError("x has zero variance along the axis: log variance undefined")
    dev2 = (a - a.mean(axis=0)) ** 2
    loo = ((n - 1) * v - n / (n - 1) * dev2) / (n - 2)
    ell = np.log(np.maximum(loo, np.finfo(float).tiny))
    ell_bar = ell.mean(axis=0)
    est = n * np.log(v) - (n - 1) * ell_bar
    se = np.sqrt((n - 1) / n * np.sum((ell - ell_bar) ** 2, axis=0))
    return est, se


def _series(x, name: str = "x", min_len: int = 2) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D series, got shape {a.shape}")
    if a.size < min_len:
        raise ValueError(f"{name} must have at least {min_len} observations, got {a.size}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


@dataclass(frozen=True)
class Truncation:
    """MSER result: discard ``index`` observations; ``statistic`` is the MSER curve over
    candidate truncation points (in batches); ``at_boundary`` is True when the minimum
    lies at the end of the search range (the transient may not be over)."""

    index: int
    batch: int
    statistic: np.ndarray
    n: int
    at_boundary: bool

    @property
    def n_kept(self) -> int:
        return self.n - self.index

    def to_dict(self) -> dict:
        return {"index": self.index, "batch": self.batch, "n": self.n,
                "at_boundary": self.at_boundary}


def mser(x, batch: int = 5, max_fraction: float = 0.5) -> Truncation:
    """MSER (``batch=1``) or MSER-``batch`` truncation point of the series ``x``.

    The search runs over the first ``max_fraction`` of the (batched) series.  Returns the
    number of original observations to discard.
    """
    a = _series(x, min_len=4)
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    if not (0 < max_fraction < 1):
        raise ValueError(f"max_fraction must be in (0, 1), got {max_fraction}")
    nb = a.size // batch
    if nb < 4:
        raise ValueError(f"need at least 4 batches of {batch}, got {nb}")
    y = a[:nb * batch].reshape(nb, batch).mean(axis=1)
    # suffix sums: for each d the mean and sum of squares of y[d:]
    rev = y[::-1]
    cnt = np.arange(1, nb + 1)
    s1 = np.cumsum(rev)[::-1]
    s2 = np.cumsum(rev * rev)[::-1]
    m = cnt[::-1]
    ss = s2 - s1 * s1 / m
    stat = np.maximum(ss, 0.0) / (m.astype(float) ** 2)
    dmax = int(np.floor(max_fraction * nb))
    cand = stat[:dmax + 1]
    d = int(np.argmin(cand))
    return Truncation(index=d * batch, batch=int(batch), statistic=cand, n=int(a.size),
                      at_boundary=d >= dmax - 1 and dmax > 1)


@dataclass(frozen=True)
class BatchMeans:
    """Batch-means estimate of a stationary mean: ``mean``, standard error ``sem``,
    ``half_width`` of the ``level`` confidence interval (Student t with ``n_batches - 1``
    degrees of freedom), and the lag-1 correlation of the batch means."""

    mean: float
    sem: float
    half_width: float
    level: float
    n_batches: int
    batch_size: int
    lag1: float

    @property
    def interval(self) -> tuple[float, float]:
        return self.mean - self.half_width, self.mean + self.half_width

    def to_dict(self) -> dict:
        return {"mean": self.mean, "sem": self.sem, "half_width": self.half_width,
                "level": self.level, "n_batches": self.n_batches,
                "batch_size": self.batch_size, "lag1": self.lag1}


def batch_means(x, n_batches: int = 20, level: float = 0.95) -> BatchMeans:
    """Non-overlapping batch means of ``x`` (leading remainder dropped so batches are equal)."""
    a = _series(x, min_len=2)
    if not isinstance(n_batches, (int, np.integer)) or n_batches < 2:
        raise ValueError(f"n_batches must be an integer >= 2, got {n_batches!r}")
    if not (0 < level < 1):
        raise ValueError(f"level must be in (0, 1), got {level}")
    size = a.size // n_batches
    if size < 1:
        raise ValueError(f"series of {a.size} observations is too short for {n_batches} "
                         "batches")
    y = a[a.size - size * n_batches:].reshape(n_batches, size).mean(axis=1)
    mean = float(y.mean())
    sd = float(y.std(ddof=1))
    sem = sd / np.sqrt(n_batches)
    half = float(student_t.ppf(0.5 + level / 2, n_batches - 1) * sem)
    dev = y - mean
    lag1 = float(dev[1:] @ dev[:-1] / (dev @ dev)) if dev @ dev > 0 else 0.0
    return BatchMeans(mean=mean, sem=sem, half_width=half, level=level,
                      n_batches=int(n_batches), batch_size=int(size), lag1=lag1)


def spectral_density_at_zero(x, max_order: int | None = None) -> float:
    r"""Spectral density at frequency 0 of a stationary series (``n * Var(mean)`` for large n),
    from an autoregressive fit (Yule–Walker, order by AIC up to ``max_order``):
    :math:`S(0) = \sigma^2_\epsilon/(1 - \sum_k\phi_k)^2`."""
    a = _series(x, min_len=4)
    n = a.size
    dev = a - a.mean()
    p_max = int(min(max_order if max_order is not None else 10 * np.log10(n), n // 4))
    p_max = max(p_max, 1)
    # autocovariances
    acov = np.array([dev[:n - k] @ dev[k:] / n for k in range(p_max + 1)])
    if acov[0] <= 0:
        return 0.0
    best = (np.inf, acov[0], np.zeros(0))
    for p in range(0, p_max + 1):
        if p == 0:
            sig2, phi = acov[0], np.zeros(0)
        else:
            Rm = np.array([[acov[abs(i - j)] for j in range(p)] for i in range(p)])
            try:
                phi = np.linalg.solve(Rm, acov[1:p + 1])
            except np.linalg.LinAlgError:
                break
            sig2 = acov[0] - phi @ acov[1:p + 1]
            if sig2 <= 0:
                break
        aic = n * np.log(sig2) + 2 * p
        if aic < best[0]:
            best = (aic, sig2, phi)
    _, sig2, phi = best
    denom = (1.0 - np.sum(phi)) ** 2
    return float(sig2 / max(denom, 1e-300))


def cramer_von_mises_cdf(x) -> np.ndarray:
    r"""CDF of the Cramér–von Mises statistic :math:`\int_0^1 B(t)^2dt` of a Brownian bridge
    (Anderson & Darling 1952, eq. for :math:`a_1(z)`):

    .. math:: P(W^2\le x) = \frac{1}{\pi^{3/2}\sqrt x}\sum_{k\ge0}
              \frac{\Gamma(k+\frac12)}{k!}\sqrt{4k+1}\;e^{-u_k}K_{1/4}(u_k),\qquad
              u_k = \frac{(4k+1)^2}{16x}.
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    out = np.zeros_like(x)
    pos = x > 0
    xp = x[pos]
    total = np.zeros_like(xp)
    for k in range(0, 12):
        u = (4 * k + 1) ** 2 / (16 * xp)
        term = (gamma_fn(k + 0.5) * np.sqrt(4 * k + 1) / (gamma_fn(k + 1) * np.pi ** 1.5
                                                           * np.sqrt(xp))
                * np.exp(-u) * kv(0.25, u))
        term = np.where(u > 700, 0.0, term)
        total += term
    out[pos] = total
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class HeidelbergerWelch:
    """Heidelberger–Welch stationarity test: ``stationary``; ``reason`` when not;
    ``discarded`` observations dropped from the start before the test passed; ``p_value``
    of the Cramér–von Mises statistic on the kept part; ``mean`` and ``half_width`` (95%,
    from the AR spectral density) of the kept part, ``precise`` whether
    ``half_width <= eps * |mean|``."""

    stationary: bool
    reason: str
    discarded: int
    p_value: float
    statistic: float
    mean: float
    half_width: float
    precise: bool

    def to_dict(self) -> dict:
        return {"stationary": self.stationary, "reason": self.reason,
                "discarded": self.discarded, "p_value": self.p_value,
                "statistic": self.statistic, "mean": self.mean,
                "half_width": self.half_width, "precise": self.precise}


def heidelberger_welch(x, alpha: float = 0.05, eps: float = 0.1,
                       step_fraction: float = 0.1) -> HeidelbergerWelch:
    """Heidelberger & Welch (1983) stationarity test of ``x`` at level ``alpha`` (module
    docstring); ``eps`` the relative half-width required by the precision part."""
    a = _series(x, min_len=20)
    if not (0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n = a.size
    S0 = spectral_density_at_zero(a[n // 2:])
    starts = np.arange(0, n // 2 + 1, max(1, int(round(step_fraction * n))))
    stat, p, kept = np.nan, 0.0, a
    start = 0
    passed = False
    for start in starts:
        y = a[start:]
        m = y.size
        if S0 <= 0:
            stat, p, passed, kept = 0.0, 1.0, True, y
            break
        B = np.cumsum(y) - y.mean() * np.arange(1, m + 1)
        stat = float(np.sum(B * B) / (m * S0) / m)
        p = float(1.0 - cramer_von_mises_cdf(stat)[0])
        kept = y
        if p > alpha:
            passed = True
            break
    mean = float(kept.mean())
    hw = float(1.96 * np.sqrt(spectral_density_at_zero(kept) / kept.size))
    precise = bool(hw <= eps * abs(mean))
    reason = "" if passed else (
        f"not stationary: the Cramér-von Mises test rejects stationarity (p = {p:.3g} < "
        f"{alpha:g}) even after discarding the first {start} of {n} observations (half)")
    return HeidelbergerWelch(stationary=passed, reason=reason, discarded=int(start),
                             p_value=p, statistic=float(stat), mean=mean, half_width=hw,
                             precise=precise)


@dataclass(frozen=True)
class SteadyState:
    """Steady-state estimate of a series: ``stationary`` and, if so, ``mean`` with the batch
    means interval ``ci``; otherwise ``mean`` is None and ``reason`` says why."""

    stationary: bool
    reason: str
    mean: float | None
    ci: BatchMeans | None
    truncation: Truncation
    test: HeidelbergerWelch | None

    def to_dict(self) -> dict:
        return {"stationary": self.stationary, "reason": self.reason, "mean": self.mean,
                "ci": None if self.ci is None else self.ci.to_dict(),
                "truncation": self.truncation.to_dict(),
                "test": None if self.test is None else self.test.to_dict()}


def steady_state(x, *, batch: int = 5, n_batches: int = 20, level: float = 0.95,
                 alpha: float = 0.05, rel_precision: float | None = None,
                 min_batch_size: int = 5) -> SteadyState:
    """MSER-``batch`` truncation, then the Heidelberger–Welch test on what is left, then a
    batch-means interval.  Not stationary (with the reason) when the MSER minimum sits at the
    end of its search range, when the test rejects, when fewer than ``n_batches`` batches of
    ``min_batch_size`` observations remain, or when the half-width exceeds
    ``rel_precision * |mean|``."""
    a = _series(x, min_len=4 * batch)
    tr = mser(a, batch=batch)
    if tr.at_boundary:
        return SteadyState(False, f"not stationary: the MSER-{batch} minimum lies at the end "
                           f"of its search range (observation {tr.index} of {a.size}): the "
                           "transient is not over", None, None, tr, None)
    tail = a[tr.index:]
    if tail.size < n_batches * min_batch_size or tail.size < 20:
        return SteadyState(False, f"too short: {tail.size} observations after truncating "
                           f"{tr.index}, need {max(n_batches * min_batch_size, 20)} for "
                           f"{n_batches} batches", None, None, tr, None)
    hw = heidelberger_welch(tail, alpha=alpha)
    if not hw.stationary:
        return SteadyState(False, hw.reason + f" (after MSER-{batch} truncated {tr.index})",
                           None, None, tr, hw)
    ci = batch_means(tail, n_batches=n_batches, level=level)
    if rel_precision is not None and ci.half_width > rel_precision * abs(ci.mean):
        return SteadyState(False, f"not precise enough: half-width {ci.half_width:.3g} > "
                           f"{rel_precision:g} x |mean| = {rel_precision * abs(ci.mean):.3g}",
                           None, ci, tr, hw)
    return SteadyState(True, "", ci.mean, ci, tr, hw)
